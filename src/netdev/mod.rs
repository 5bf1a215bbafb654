//! A network namespace's configuration, as CRIU 4.2's `dump_net_ns`
//! records it, over netlink from our own code (no `ip`, no libnftables)
//! and without moving the caller.
//!
//! A short-lived thread enters the namespace, makes its netlink sockets
//! there (so they stay bound to it), opens `/proc/sys/net` there (whose
//! files show the opener's namespace) and does all the reading:
//!
//! 1. links (RTM_GETLINK, AF_PACKET as CRIU asks), each parsed and given
//!    CRIU's [`Plan`]: a device type, left out, or refused;
//! 2. the ids this namespace has for every other net namespace of the
//!    tree (RTM_GETNSID by namespace fd), after the link dump, which is
//!    what makes the kernel allocate them for veth peers;
//! 3. the `ip addr save`, `ip route save`, `ip -6 route save` and `ip rule
//!    save` streams: the same requests iproute2 sends (strict checking,
//!    table main for routes, AF_INET for rules), the kernel's messages
//!    kept whole, and `ip route save`'s own filter;
//! 4. (for a dump) the sysctls: `conf4`/`conf6` of each dumped link, of
//!    `all` and `default`, unix and ipv4 namespace sysctls;
//! 5. (for a dump) netfilter: see [`netfilter`].
//!
//! [`NetConfig::images`] turns the result into CRIU's images: netdev-N,
//! netns-N, ifaddr-N, route-N, route6-N, rule-N, nftables-N, and
//! netns-ct-N / netns-exp-N when conntrack has entries. A namespace
//! declared external (`--external net[INO]:KEY`) gets only its key and
//! its conntrack entries, as in CRIU.

pub mod image;
pub mod link;
pub mod netfilter;
pub mod route;
pub mod stream;
pub mod sysctl;

#[cfg(test)]
mod tests;

use std::os::fd::{BorrowedFd, OwnedFd};

use crate::error::{Error, Result};
use crate::netlink::route::{nsid_of, request, routes_of_table, ADDRESSES, LINKS, NETNSA_NSID, NSID, RT_TABLE_MAIN, RULES};
use crate::netlink::{NlMsg, NlSocket, Protocol, UnknownAttrs, NLM_F_DUMP_INTR};
use crate::ns::enter::run_in_namespace;
use crate::ns::NsKind;

pub use link::{DeviceType, Link, Plan};
pub use netfilter::Netfilter;
pub use route::{Address, Route, Rule};
pub use stream::Stream;
pub use sysctl::{Confs, NsSysctls, Sysctl};

/// A name or other target-chosen bytes for a person to read: printable
/// ASCII as is, every other byte (and `\`) as `\xHH`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_graphic() && b != b'\\' || b == b' ' {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// One link with what a dump makes of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEntry {
    pub link: Link,
    pub plan: Plan,
    /// IFLA_LINK, else the link's own index (CRIU's `peer_ifindex`).
    pub peer_ifindex: u32,
    /// CRIU's id of the namespace the peer is in: this one when the
    /// kernel names no other, the tree's namespace with that nsid, or
    /// None when the peer is outside the tree.
    pub peer_nsid: Option<u32>,
    /// Its conf4/conf6 sysctls (read for a dump, for dumped links).
    pub confs: Option<Confs>,
}

/// Another net namespace of the tree and the id this namespace has for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetnsId {
    /// CRIU's id of that namespace.
    pub target_ns_id: u32,
    /// Its nsid here.
    pub nsid: i32,
}

/// What was read from one network namespace.
#[derive(Debug, Clone, Default)]
pub struct NetConfig {
    pub ns_id: u32,
    pub kid: u64,
    /// `--external net[INO]:KEY`: nothing but the key (and conntrack) is
    /// recorded.
    pub external_key: Option<Vec<u8>>,
    /// Whether sysctls and netfilter were read (a dump's collection).
    pub for_dump: bool,
    /// In the kernel's order (by ifindex).
    pub links: Vec<LinkEntry>,
    /// Every address (`ip addr save` keeps them all).
    pub addresses: Vec<Address>,
    /// Routes of table main, IPv4 then IPv6: what route-N and route6-N hold.
    pub routes: Vec<Route>,
    /// IPv4 rules (`ip rule save` is IPv4 only).
    pub rules: Vec<Rule>,
    pub ifaddr: Option<Stream>,
    pub route4: Option<Stream>,
    /// None when the kernel has no IPv6 (CRIU writes no route6-N then).
    pub route6: Option<Stream>,
    /// None when the rule dump failed (CRIU warns and writes none).
    pub rule: Option<Stream>,
    /// In CRIU's order (its list is built by prepending).
    pub nsids: Vec<NetnsId>,
    pub sysctls: Option<NsSysctls>,
    pub netfilter: Option<Netfilter>,
    /// Attributes met but not read, over every dump.
    pub unknown: UnknownAttrs,
    /// Things CRIU warns about (a veth peer outside the tree, no rule
    /// support): the caller logs them.
    pub warnings: Vec<String>,
}

impl NetConfig {
    /// The link with index `ifindex`.
    pub fn link(&self, ifindex: u32) -> Option<&LinkEntry> {
        self.links.iter().find(|l| l.link.ifindex == ifindex)
    }

    /// The first refusal of a dump of this namespace, if any.
    pub fn refusal(&self) -> Option<Error> {
        if self.external_key.is_some() {
            return None;
        }
        self.links.iter().find_map(|l| match &l.plan {
            Plan::Refuse(reason) => Some(link::refusal(self.ns_id, &l.link, reason)),
            _ => None,
        })
    }
}

/// The namespace to read and its place in the tree.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub ns_id: u32,
    pub kid: u64,
    /// Keeps the namespace reachable; the thread joins it.
    pub ns_fd: &'a OwnedFd,
}

/// What a collection is for and what it knows of the rest of the tree.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// Read sysctls and netfilter too.
    pub for_dump: bool,
    /// The tree's net namespaces in CRIU's walk order, with an fd each,
    /// for the nsids.
    pub peers: &'a [(u32, BorrowedFd<'a>)],
    /// `--external net[INO]:KEY` for this namespace.
    pub external_key: Option<&'a [u8]>,
    /// The gid map of the root's user namespace when it is not the
    /// caller's (ping_group_range is mapped into it).
    pub gid_map: Option<&'a [crate::userns::Extent]>,
}

/// Reads one network namespace (see the module's steps).
pub fn collect(target: Target<'_>, opts: Options<'_>) -> Result<NetConfig> {
    let what = format!("net namespace {}", target.ns_id);
    let mut config = NetConfig { ns_id: target.ns_id, kid: target.kid, for_dump: opts.for_dump, ..Default::default() };
    if let Some(key) = opts.external_key {
        config.external_key = Some(key.to_vec());
        if opts.for_dump {
            config.netfilter = Some(
                run_in_namespace(target.ns_fd, NsKind::Net, netfilter::Netfilter::conntrack_only).map_err(|e| e.context(&what))?,
            );
        }
        return Ok(config);
    }
    run_in_namespace(target.ns_fd, NsKind::Net, || read_inside(&mut config, &opts)).map_err(|e| e.context(&what))?;
    Ok(config)
}

/// Everything that runs on the thread inside the namespace.
fn read_inside(config: &mut NetConfig, opts: &Options<'_>) -> Result<()> {
    let mut sock = NlSocket::new(Protocol::ROUTE)?;
    sock.set_strict_check()?;
    let mut unknown = UnknownAttrs::default();

    // 1. Links.
    let links = consistent("link", &mut unknown, |u, intr| {
        let mut links = Vec::new();
        sock.dump_messages(&request(LINKS, libc::AF_PACKET as u8), &mut |m| {
            *intr |= m.flags & NLM_F_DUMP_INTR != 0;
            links.push(link::parse_link(m.payload, u)?);
            Ok(())
        })
        .map_err(|e| e.context("dump links"))?;
        Ok(links)
    })?;

    // 2. Namespace ids, after the link dump (CRIU's list_links first).
    let mut nsids = Vec::new();
    for &(target_ns_id, fd) in opts.peers {
        if let Some(nsid) = query_nsid(&mut sock, fd).map_err(|e| e.context(format!("ask the id of net namespace {target_ns_id}")))? {
            nsids.push(NetnsId { target_ns_id, nsid });
        }
    }
    // CRIU prepends each found id to its list.
    nsids.reverse();

    for l in links {
        let plan = link::plan(&l);
        let peer_ifindex = l.link.unwrap_or(l.ifindex);
        let peer_nsid = match l.link_netnsid {
            None | Some(-1) => Some(config.ns_id),
            Some(id) => nsids.iter().find(|n| n.nsid == id).map(|n| n.target_ns_id),
        };
        if peer_nsid.is_none() && plan.device_type().is_some() {
            config.warnings.push(format!("The {} veth is in an external netns", l.display_name()));
        }
        config.links.push(LinkEntry { link: l, plan, peer_ifindex, peer_nsid, confs: None });
    }
    config.nsids = nsids;

    // 3. The ip-save streams.
    let (addresses, ifaddr) = consistent("address", &mut unknown, |u, intr| {
        let (mut list, mut s) = (Vec::new(), Stream::new(stream::IFADDR_MAGIC));
        sock.dump_messages(&request(ADDRESSES, libc::AF_UNSPEC as u8), &mut |m| {
            *intr |= m.flags & NLM_F_DUMP_INTR != 0;
            list.push(route::parse_address(m.payload, u)?);
            s.push(m.raw);
            Ok(())
        })
        .map_err(|e| e.context("dump addresses"))?;
        Ok((list, s))
    })?;
    (config.addresses, config.ifaddr) = (addresses, Some(ifaddr));

    let sysctl_dir = sysctl::NetSysctlDir::open()?;
    let (mut routes, route4) = consistent("IPv4 route", &mut unknown, |u, intr| save_routes(&mut sock, libc::AF_INET as u8, None, u, intr))?;
    config.route4 = Some(route4);
    if sysctl_dir.has_ipv6() {
        let v6 = Some(libc::AF_INET6 as u8);
        let (r6, route6) = consistent("IPv6 route", &mut unknown, |u, intr| save_routes(&mut sock, libc::AF_INET6 as u8, v6, u, intr))?;
        routes.extend(r6);
        config.route6 = Some(route6);
    }
    config.routes = routes;

    let rules = consistent("rule", &mut unknown, |u, intr| {
        let (mut list, mut s) = (Vec::new(), Stream::new(stream::RULE_MAGIC));
        let result = sock.dump_messages(&request(RULES, libc::AF_INET as u8), &mut |m| {
            *intr |= m.flags & NLM_F_DUMP_INTR != 0;
            list.push(route::parse_rule(m.payload, u)?);
            s.push(m.raw);
            Ok(())
        });
        match result {
            Ok(()) => Ok(Ok((list, s))),
            // A malformed reply is ours to refuse; the kernel's refusal is
            // what `ip rule save` failing means to CRIU: a warning, no image.
            Err(e) if e.errno() == libc::EBADMSG => Err(e.context("dump rules")),
            Err(e) => Ok(Err(e)),
        }
    })?;
    match rules {
        Ok((list, s)) => (config.rules, config.rule) = (list, Some(s)),
        Err(e) => config.warnings.push(format!("ip rule save would fail ({e}): no rule image")),
    }
    config.unknown = unknown;
    if !opts.for_dump {
        return Ok(());
    }

    // 4. Sysctls: 72 files a dumped link, read as CRIU reads them.
    read_link_confs(&sysctl_dir, &mut config.links)?;
    config.sysctls = Some(sysctl_dir.namespace(opts.gid_map)?);

    // 5. Netfilter.
    config.netfilter = Some(netfilter::Netfilter::read()?);
    Ok(())
}

/// The conf4/conf6 sysctls of every dumped link, one thread: the files
/// cost a few microseconds each (a thousand veth pairs have 144,000),
/// and a second reader only slows both down (procfs's sysctl locks).
fn read_link_confs(dir: &sysctl::NetSysctlDir, links: &mut [LinkEntry]) -> Result<()> {
    for entry in links.iter_mut().filter(|e| e.plan.device_type().is_some()) {
        entry.confs = Some(dir.confs(entry.link.name.as_deref().unwrap_or_default())?);
    }
    Ok(())
}

/// How many times a dump the kernel marks interrupted (NLM_F_DUMP_INTR:
/// what it walked changed meanwhile, so replies may be missing or twice)
/// is made again before the collection gives up.
const DUMP_ATTEMPTS: usize = 5;

/// Runs `dump` (one whole dump into fresh values; it sets its flag when
/// a reply says the dump was interrupted) until a dump is not, with the
/// unread attributes of the kept one added to `unknown`. iproute2 only
/// warns about an interrupted dump; an image must not hold one.
fn consistent<T>(
    what: &str,
    unknown: &mut UnknownAttrs,
    mut dump: impl FnMut(&mut UnknownAttrs, &mut bool) -> Result<T>,
) -> Result<T> {
    for _ in 0..DUMP_ATTEMPTS {
        let (mut u, mut interrupted) = (UnknownAttrs::default(), false);
        let out = dump(&mut u, &mut interrupted)?;
        if !interrupted {
            unknown.add(&u);
            return Ok(out);
        }
    }
    Err(Error::new(libc::EAGAIN, format!("the {what} dump was interrupted by changes {DUMP_ATTEMPTS} times in a row")))
}

/// `ip route save` (`family` AF_INET, no filter family) or `ip -6 route
/// save` (AF_INET6): table main asked of the kernel, then iproute2's filter.
fn save_routes(sock: &mut NlSocket, family: u8, only: Option<u8>, unknown: &mut UnknownAttrs, intr: &mut bool) -> Result<(Vec<Route>, Stream)> {
    let (mut out, mut s) = (Vec::new(), Stream::new(stream::ROUTE_MAGIC));
    let mut filter = route::SaveFilter::new(only);
    let result = sock.dump_messages(&routes_of_table(family, RT_TABLE_MAIN), &mut |m: &NlMsg| {
        *intr |= m.flags & NLM_F_DUMP_INTR != 0;
        let r = route::parse_route(m.payload, unknown)?;
        if filter.keeps(&r) {
            out.push(r);
            s.push(m.raw);
        }
        Ok(())
    });
    match result {
        Ok(()) => Ok((out, s)),
        // iproute2 takes "no such table" for an empty table main.
        Err(e) if e.errno() == libc::ENOENT => Ok((out, s)),
        Err(e) => Err(e.context(if family == libc::AF_INET6 as u8 { "dump IPv6 routes" } else { "dump IPv4 routes" })),
    }
}

/// The nsid the socket's namespace has for the namespace `ns`, or None.
fn query_nsid(sock: &mut NlSocket, ns: BorrowedFd<'_>) -> Result<Option<i32>> {
    let mut id = None;
    sock.dump(&nsid_of(ns), &mut |p| {
        id = parse_nsid(p)?.or(id);
        Ok(())
    })?;
    let id = id.ok_or_else(|| Error::malformed("RTM_NEWNSID reply without NETNSA_NSID"))?;
    Ok(if id < 0 { None } else { Some(id) })
}

/// The NETNSA_NSID of one RTM_NEWNSID reply's payload, if it has one.
pub fn parse_nsid(payload: &[u8]) -> Result<Option<i32>> {
    let (_, attrs) = NSID.split(payload)?;
    let mut id = None;
    for a in attrs {
        let a = a?;
        if a.kind == NETNSA_NSID {
            id = Some(a.i32("NETNSA_NSID")?);
        }
    }
    Ok(id)
}
