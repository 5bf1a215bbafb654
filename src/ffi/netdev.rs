//! C entry points of the netdev room: a network namespace's links,
//! addresses, routes and rules, and CRIU's dump of it (dump_net_ns).

use std::ffi::c_int;

use super::{criurs_ctx, with_ctx, with_ctx_out};
use crate::error::{Error, Result};
use crate::netdev::{Address, LinkEntry, NetConfig, Plan, Route, Rule};
use crate::Context;

/// What a dump does with a link (criurs_net_link.plan).
pub const CRIURS_NET_PLAN_DUMP: u32 = 1;
/// Left out, as CRIU leaves it (the fallback tunnels gre0, gretap0, sit0).
pub const CRIURS_NET_PLAN_SKIP: u32 = 2;
/// CRIU 4.2 cannot dump it: criurs_dump_net_ns refuses the namespace.
pub const CRIURS_NET_PLAN_REFUSE: u32 = 3;

/// CRIU's device types (netdev.proto nd_type; criurs_net_link.device_type).
pub const CRIURS_ND_LOOPBACK: u32 = 1;
pub const CRIURS_ND_VETH: u32 = 2;
pub const CRIURS_ND_TUN: u32 = 3;
pub const CRIURS_ND_EXTLINK: u32 = 4;
pub const CRIURS_ND_VENET: u32 = 5;
pub const CRIURS_ND_BRIDGE: u32 = 6;
pub const CRIURS_ND_MACVLAN: u32 = 7;
pub const CRIURS_ND_SIT: u32 = 8;

/// One link of a network namespace (RTM_NEWLINK) and what a dump makes
/// of it. Pointers point into the context and stay valid until the next
/// criurs_collect_net_config or criurs_dump_net_ns on the same namespace,
/// the next criurs_collect_namespaces, or criurs_ctx_free; do not free
/// them. A pointer is NULL when its length is 0. Names and kinds are the
/// target's bytes: not NUL-terminated, not necessarily text.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct criurs_net_link {
    pub ifindex: u32,
    /// ARPHRD_* (1 ether, 772 loopback, ...).
    pub hw_type: u16,
    /// IFF_* flags.
    pub flags: u32,
    pub name: *const u8,
    pub name_len: usize,
    pub mtu: u32,
    pub has_mtu: bool,
    /// Link-layer address (IFLA_ADDRESS).
    pub address: *const u8,
    pub address_len: usize,
    /// IFLA_MASTER: the bridge (or bond) it is enslaved to.
    pub master: u32,
    pub has_master: bool,
    /// IFLA_LINK: the link under this one (a veth's peer).
    pub link: u32,
    pub has_link: bool,
    /// IFLA_LINK_NETNSID: the id, in this namespace, of the namespace
    /// `link` is in.
    pub link_netnsid: i32,
    pub has_link_netnsid: bool,
    /// IF_OPER_* (0 when not reported).
    pub operstate: u8,
    /// IFLA_INFO_KIND ("veth", "bridge", ...).
    pub kind: *const u8,
    pub kind_len: usize,
    /// CRIURS_NET_PLAN_*.
    pub plan: u32,
    /// CRIURS_ND_* when plan is CRIURS_NET_PLAN_DUMP, else 0.
    pub device_type: u32,
    /// Why it is skipped or refused (CRIU's words), as text; NULL for DUMP.
    pub reason: *const u8,
    pub reason_len: usize,
    /// CRIU's peer_ifindex: IFLA_LINK, else the link's own index.
    pub peer_ifindex: u32,
    /// CRIU's id of the namespace of the peer (has_peer_nsid false: the
    /// peer is outside the tree).
    pub peer_nsid: u32,
    pub has_peer_nsid: bool,
}

/// One address (RTM_NEWADDR). Pointers as in criurs_net_link; addresses
/// are the kernel's bytes (4 for IPv4, 16 for IPv6).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct criurs_net_addr {
    /// AF_INET, AF_INET6, ...
    pub family: u8,
    pub prefixlen: u8,
    /// RT_SCOPE_* (0 global, 253 link, 254 host).
    pub scope: u8,
    /// IFA_F_* (all 32 bits when the kernel sends IFA_FLAGS).
    pub flags: u32,
    pub ifindex: u32,
    /// IFA_ADDRESS (the peer of a point-to-point address).
    pub address: *const u8,
    pub address_len: usize,
    /// IFA_LOCAL (the address itself, for IPv4).
    pub local: *const u8,
    pub local_len: usize,
    pub broadcast: *const u8,
    pub broadcast_len: usize,
    pub label: *const u8,
    pub label_len: usize,
    /// Seconds; 0xffffffff is forever.
    pub valid_lft: u32,
    pub preferred_lft: u32,
    pub has_lifetimes: bool,
}

/// One route of table main (RTM_NEWROUTE), as route-N/route6-N hold it.
/// `dst_len`/`src_len` are prefix lengths in bits; `dst_bytes`/`src_bytes`
/// the lengths of the address bytes. Pointers as in criurs_net_link.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct criurs_net_route {
    pub family: u8,
    pub dst_len: u8,
    pub src_len: u8,
    pub tos: u8,
    pub table: u32,
    /// RTPROT_* (2 kernel, 3 boot, 4 static).
    pub protocol: u8,
    pub scope: u8,
    /// RTN_* (1 unicast, 2 local, ...).
    pub type_: u8,
    /// RTM_F_*.
    pub flags: u32,
    pub dst: *const u8,
    pub dst_bytes: usize,
    pub src: *const u8,
    pub src_bytes: usize,
    pub gateway: *const u8,
    pub gateway_len: usize,
    pub prefsrc: *const u8,
    pub prefsrc_len: usize,
    pub oif: u32,
    pub has_oif: bool,
    pub iif: u32,
    pub has_iif: bool,
    /// The metric.
    pub priority: u32,
    pub has_priority: bool,
    /// RTA_PREF (IPv6 router preference).
    pub pref: u8,
    pub has_pref: bool,
    /// Next hops of a multipath route (0: a single path).
    pub nexthops: usize,
}

/// One IPv4 rule (RTM_NEWRULE), as rule-N holds it. Lengths and
/// pointers as in criurs_net_route.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct criurs_net_rule {
    pub family: u8,
    pub dst_len: u8,
    pub src_len: u8,
    pub tos: u8,
    pub table: u32,
    /// FR_ACT_* (1 to table, 2 goto, ...).
    pub action: u8,
    pub flags: u32,
    pub priority: u32,
    pub has_priority: bool,
    pub src: *const u8,
    pub src_bytes: usize,
    pub dst: *const u8,
    pub dst_bytes: usize,
    pub iifname: *const u8,
    pub iifname_len: usize,
    pub oifname: *const u8,
    pub oifname_len: usize,
    pub fwmark: u32,
    pub has_fwmark: bool,
    pub fwmask: u32,
    pub has_fwmask: bool,
}

fn bytes(b: Option<&[u8]>) -> (*const u8, usize) {
    match b {
        Some(b) if !b.is_empty() => (b.as_ptr(), b.len()),
        _ => (std::ptr::null(), 0),
    }
}

fn link_info(e: &LinkEntry) -> criurs_net_link {
    let l = &e.link;
    let (name, name_len) = bytes(l.name.as_deref());
    let (address, address_len) = bytes(l.address.as_deref());
    let (kind, kind_len) = bytes(l.kind.as_deref());
    let (plan, device_type, reason) = match &e.plan {
        Plan::Dump(t) => (CRIURS_NET_PLAN_DUMP, *t as u32, None),
        Plan::Skip(r) => (CRIURS_NET_PLAN_SKIP, 0, Some(r.as_bytes())),
        Plan::Refuse(r) => (CRIURS_NET_PLAN_REFUSE, 0, Some(r.as_bytes())),
    };
    let (reason, reason_len) = bytes(reason);
    criurs_net_link {
        ifindex: l.ifindex,
        hw_type: l.hw_type,
        flags: l.flags,
        name,
        name_len,
        mtu: l.mtu.unwrap_or(0),
        has_mtu: l.mtu.is_some(),
        address,
        address_len,
        master: l.master.unwrap_or(0),
        has_master: l.master.is_some(),
        link: l.link.unwrap_or(0),
        has_link: l.link.is_some(),
        link_netnsid: l.link_netnsid.unwrap_or(-1),
        has_link_netnsid: l.link_netnsid.is_some(),
        operstate: l.operstate.unwrap_or(0),
        kind,
        kind_len,
        plan,
        device_type,
        reason,
        reason_len,
        peer_ifindex: e.peer_ifindex,
        peer_nsid: e.peer_nsid.unwrap_or(0),
        has_peer_nsid: e.peer_nsid.is_some(),
    }
}

fn addr_info(a: &Address) -> criurs_net_addr {
    let (address, address_len) = bytes(a.address.as_deref());
    let (local, local_len) = bytes(a.local.as_deref());
    let (broadcast, broadcast_len) = bytes(a.broadcast.as_deref());
    let (label, label_len) = bytes(a.label.as_deref());
    criurs_net_addr {
        family: a.family,
        prefixlen: a.prefixlen,
        scope: a.scope,
        flags: a.flags,
        ifindex: a.ifindex,
        address,
        address_len,
        local,
        local_len,
        broadcast,
        broadcast_len,
        label,
        label_len,
        valid_lft: a.valid_lft.unwrap_or(0),
        preferred_lft: a.preferred_lft.unwrap_or(0),
        has_lifetimes: a.valid_lft.is_some(),
    }
}

fn route_info(r: &Route) -> criurs_net_route {
    let (dst, dst_bytes) = bytes(r.dst.as_deref());
    let (src, src_bytes) = bytes(r.src.as_deref());
    let (gateway, gateway_len) = bytes(r.gateway.as_deref());
    let (prefsrc, prefsrc_len) = bytes(r.prefsrc.as_deref());
    criurs_net_route {
        family: r.family,
        dst_len: r.dst_len,
        src_len: r.src_len,
        tos: r.tos,
        table: r.table,
        protocol: r.protocol,
        scope: r.scope,
        type_: r.rtype,
        flags: r.flags,
        dst,
        dst_bytes,
        src,
        src_bytes,
        gateway,
        gateway_len,
        prefsrc,
        prefsrc_len,
        oif: r.oif.unwrap_or(0),
        has_oif: r.oif.is_some(),
        iif: r.iif.unwrap_or(0),
        has_iif: r.iif.is_some(),
        priority: r.priority.unwrap_or(0),
        has_priority: r.priority.is_some(),
        pref: r.pref.unwrap_or(0),
        has_pref: r.pref.is_some(),
        nexthops: r.nexthops,
    }
}

fn rule_info(r: &Rule) -> criurs_net_rule {
    let (src, src_bytes) = bytes(r.src.as_deref());
    let (dst, dst_bytes) = bytes(r.dst.as_deref());
    let (iifname, iifname_len) = bytes(r.iifname.as_deref());
    let (oifname, oifname_len) = bytes(r.oifname.as_deref());
    criurs_net_rule {
        family: r.family,
        dst_len: r.dst_len,
        src_len: r.src_len,
        tos: r.tos,
        table: r.table,
        action: r.action,
        flags: r.flags,
        priority: r.priority.unwrap_or(0),
        has_priority: r.priority.is_some(),
        src,
        src_bytes,
        dst,
        dst_bytes,
        iifname,
        iifname_len,
        oifname,
        oifname_len,
        fwmark: r.fwmark.unwrap_or(0),
        has_fwmark: r.fwmark.is_some(),
        fwmask: r.fwmask.unwrap_or(0),
        has_fwmask: r.fwmask.is_some(),
    }
}

fn nth<'a, T>(list: &'a [T], index: usize, what: &str) -> Result<&'a T> {
    list.get(index).ok_or_else(|| Error::new(libc::ENOENT, format!("{what} index {index} is past the end ({})", list.len())))
}

fn config(ctx: &Context, ns_id: u32) -> Result<&NetConfig> {
    ctx.net_config(ns_id)
}

/// Reads the links, addresses, routes (table main) and IPv4 rules of the
/// network namespace `ns_id` (a net namespace of the table) from inside
/// it, by a short-lived thread; the calling thread never changes
/// namespace. Links CRIU cannot dump are listed (plan
/// CRIURS_NET_PLAN_REFUSE), not refused. Replaces what was read of that
/// namespace before (earlier pointers into it become invalid). Returns 0
/// or -errno: -ENODATA before criurs_collect_namespaces, -ENOENT no such
/// namespace, -EINVAL not a net namespace, or the kernel's errno.
#[no_mangle]
pub extern "C" fn criurs_collect_net_config(ctx: *mut criurs_ctx, ns_id: u32) -> c_int {
    with_ctx(ctx, |ctx| ctx.collect_net_config(ns_id).map(drop))
}

/// CRIU's dump_net_ns for `ns_id`: reads everything CRIU records (links
/// with their per-device sysctls, namespace sysctls and ids, the `ip ...
/// save` streams, netfilter) and writes, as one batch into the images
/// directory, netdev-N.img, ifaddr-N.img, route-N.img, route6-N.img (with
/// IPv6), rule-N.img, nftables-N.img, netns-N.img, and netns-ct-N.img /
/// netns-exp-N.img when conntrack has entries; for a namespace declared
/// external (criurs_ctx_add_external `net[INO]:KEY`), netns-N.img with
/// the key. Nothing is written on failure. Afterwards the accessors below
/// show what was dumped. Returns 0 or -errno: -EOPNOTSUPP for a link CRIU
/// 4.2 cannot dump, an nftables ruleset or legacy iptables tables (the
/// sentence names them); -EINVAL for the caller's own namespace (CRIU
/// dumps only the tree's) or without an images directory; as
/// criurs_collect_net_config otherwise.
#[no_mangle]
pub extern "C" fn criurs_dump_net_ns(ctx: *mut criurs_ctx, ns_id: u32) -> c_int {
    with_ctx(ctx, |ctx| ctx.dump_net_ns(ns_id).map(drop))
}

/// Writes the number of links read from `ns_id` to `*out`; -ENODATA when
/// the namespace was not read (criurs_collect_net_config).
#[no_mangle]
pub extern "C" fn criurs_net_link_count(ctx: *const criurs_ctx, ns_id: u32, out: *mut usize) -> c_int {
    with_ctx_out(ctx, out, |ctx| Ok(config(ctx, ns_id)?.links.len()))
}

/// Copies link number `index` (the kernel's order, by ifindex) to `*out`;
/// -ENOENT past the end.
#[no_mangle]
pub extern "C" fn criurs_net_link_get(ctx: *const criurs_ctx, ns_id: u32, index: usize, out: *mut criurs_net_link) -> c_int {
    with_ctx_out(ctx, out, |ctx| Ok(link_info(nth(&config(ctx, ns_id)?.links, index, "link")?)))
}

/// Writes the number of addresses read from `ns_id` to `*out`.
#[no_mangle]
pub extern "C" fn criurs_net_addr_count(ctx: *const criurs_ctx, ns_id: u32, out: *mut usize) -> c_int {
    with_ctx_out(ctx, out, |ctx| Ok(config(ctx, ns_id)?.addresses.len()))
}

/// Copies address number `index` (the kernel's order: IPv4, then IPv6)
/// to `*out`; -ENOENT past the end.
#[no_mangle]
pub extern "C" fn criurs_net_addr_get(ctx: *const criurs_ctx, ns_id: u32, index: usize, out: *mut criurs_net_addr) -> c_int {
    with_ctx_out(ctx, out, |ctx| Ok(addr_info(nth(&config(ctx, ns_id)?.addresses, index, "address")?)))
}

/// Writes the number of routes (table main, IPv4 and IPv6) to `*out`.
#[no_mangle]
pub extern "C" fn criurs_net_route_count(ctx: *const criurs_ctx, ns_id: u32, out: *mut usize) -> c_int {
    with_ctx_out(ctx, out, |ctx| Ok(config(ctx, ns_id)?.routes.len()))
}

/// Copies route number `index` (IPv4, then IPv6, the kernel's order) to
/// `*out`; -ENOENT past the end.
#[no_mangle]
pub extern "C" fn criurs_net_route_get(ctx: *const criurs_ctx, ns_id: u32, index: usize, out: *mut criurs_net_route) -> c_int {
    with_ctx_out(ctx, out, |ctx| Ok(route_info(nth(&config(ctx, ns_id)?.routes, index, "route")?)))
}

/// Writes the number of IPv4 rules to `*out`.
#[no_mangle]
pub extern "C" fn criurs_net_rule_count(ctx: *const criurs_ctx, ns_id: u32, out: *mut usize) -> c_int {
    with_ctx_out(ctx, out, |ctx| Ok(config(ctx, ns_id)?.rules.len()))
}

/// Copies rule number `index` (by priority) to `*out`; -ENOENT past the end.
#[no_mangle]
pub extern "C" fn criurs_net_rule_get(ctx: *const criurs_ctx, ns_id: u32, index: usize, out: *mut criurs_net_rule) -> c_int {
    with_ctx_out(ctx, out, |ctx| Ok(rule_info(nth(&config(ctx, ns_id)?.rules, index, "rule")?)))
}
