//! `criurs show --json`: one document, field names as in CRIU's images so
//! that readers of `crit` output read ours.
//!
//! Streamed: each record is a small borrowed view serialized straight into
//! the output as the collected state is walked; no document is built in
//! memory (100,000 sockets cost the output buffer, not a tree of values).
//! The layout is one record per line:
//!
//! ```text
//! {
//!   "namespaces": [
//!     {"kind":"pid","id":1,...},
//!     ...
//!   ],
//!   "sockets": []
//! }
//! ```

use std::io::{self, Write};

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use criurs::mount::MountRecord;
use criurs::net::{self, Detail, Socket};
use criurs::netdev::{Address, LinkEntry, NetConfig, Route};
use criurs::userns::{Extent, IdMaps};
use criurs::{Context, NsEntry};

use crate::show::{self, family_name, propagation, type_name, Filter, Section};
use crate::Failure;

pub fn print(ctx: &Context, filter: &Filter, out: &mut impl Write) -> Result<(), Failure> {
    // Everything that can fail is looked up before the first byte goes out.
    let table = ctx.namespaces()?;
    let mounts = if filter.shows(Section::Mounts) { ctx.mount_namespaces()?.namespaces() } else { &[] };
    let mut sockets = Vec::new();
    for id in filter.socket_namespaces(ctx)? {
        sockets.push((id, ctx.sockets(id)?));
    }
    let holders = if filter.holders() { Some(ctx.socket_holders()?) } else { None };
    let mut nets = Vec::new();
    for id in filter.net_config_namespaces(ctx)? {
        nets.push(ctx.net_config(id)?);
    }
    let images = if filter.sections().any(|s| s.is_namespace_image()) { Some(ctx.namespace_images()?) } else { None };

    let mut ser = serde_json::Serializer::with_formatter(&mut *out, Lines::default());
    let mut doc = ser.serialize_map(None).map_err(io::Error::from)?;
    for section in filter.sections() {
        let key = section.name();
        let written = match section {
            Section::Namespaces => {
                doc.serialize_entry(key, &Seq(|| table.entries().iter().filter(|e| filter.ns(e.id)).map(NsView)))
            }
            Section::Userns => doc.serialize_entry(
                key,
                &Seq(|| {
                    ctx.user_namespaces()
                        .iter()
                        .filter(|(id, _)| filter.ns(**id))
                        .map(|(&ns_id, maps)| UsernsView { ns_id, maps })
                }),
            ),
            Section::Mounts => doc.serialize_entry(
                key,
                &Seq(|| {
                    mounts
                        .iter()
                        .filter(|ns| filter.ns(ns.ns_id))
                        .flat_map(|ns| ns.mounts().iter().map(move |m| MountView { ns_id: ns.ns_id, m }))
                }),
            ),
            Section::Links => {
                doc.serialize_entry(key, &Seq(|| nets.iter().flat_map(|&cfg| cfg.links.iter().map(move |l| LinkView { cfg, l }))))
            }
            Section::Addresses => doc.serialize_entry(
                key,
                &Seq(|| nets.iter().flat_map(|&cfg| cfg.addresses.iter().map(move |a| AddrView { cfg, a }))),
            ),
            Section::Routes => {
                doc.serialize_entry(key, &Seq(|| nets.iter().flat_map(|&cfg| cfg.routes.iter().map(move |r| RouteView { cfg, r }))))
            }
            Section::Sockets => doc.serialize_entry(
                key,
                &Seq(|| {
                    sockets.iter().flat_map(|&(ns_id, t)| {
                        t.iter().filter(|sk| filter.socket(sk)).map(move |sk| SocketView { ns_id, sk, holders })
                    })
                }),
            ),
            Section::Uts => doc.serialize_entry(
                key,
                &Seq(|| images.into_iter().flat_map(|i| i.uts.iter()).filter(|(id, _)| filter.ns(**id)).map(|(&ns_id, u)| UtsView { ns_id, u })),
            ),
            Section::Time => doc.serialize_entry(
                key,
                &Seq(|| images.into_iter().flat_map(|i| i.time.iter()).filter(|(id, _)| filter.ns(**id)).map(|(&id, c)| TimeView { id, c })),
            ),
            Section::Ipc => doc.serialize_entry(
                key,
                &Seq(|| images.into_iter().flat_map(|i| i.ipc.iter()).filter(|(id, _)| filter.ns(**id)).map(|(&ns_id, ipc)| IpcView { ns_id, ipc })),
            ),
        };
        written.map_err(io::Error::from)?;
    }
    doc.end().map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// A sequence serialized from a fresh iterator, element by element.
struct Seq<F>(F);

impl<F, I> Serialize for Seq<F>
where
    F: Fn() -> I,
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((self.0)())
    }
}

struct NsView<'a>(&'a NsEntry);

impl Serialize for NsView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("kind", e.kind.name())?;
        m.serialize_entry("id", &e.id)?;
        m.serialize_entry("kid", &e.kid)?;
        m.serialize_entry("type", e.ns_type.name())?;
        m.serialize_entry("pid", &e.pid)?;
        m.end()
    }
}

struct UsernsView<'a> {
    ns_id: u32,
    maps: &'a IdMaps,
}

impl Serialize for UsernsView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("ns_id", &self.ns_id)?;
        m.serialize_entry("uid_map", &Seq(|| self.maps.uid_map.iter().map(ExtentView)))?;
        m.serialize_entry("gid_map", &Seq(|| self.maps.gid_map.iter().map(ExtentView)))?;
        m.end()
    }
}

struct ExtentView<'a>(&'a Extent);

impl Serialize for ExtentView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("first", &self.0.first)?;
        m.serialize_entry("lower_first", &self.0.lower_first)?;
        m.serialize_entry("count", &self.0.count)?;
        m.end()
    }
}

/// Bytes under `key` as a string when they are UTF-8; otherwise the lossy
/// string, plus the exact bytes in hex under `hex_key` (`<key>_hex`).
fn bytes_entry<M: SerializeMap>(m: &mut M, key: &'static str, hex_key: &'static str, bytes: &[u8]) -> Result<(), M::Error> {
    match std::str::from_utf8(bytes) {
        Ok(s) => m.serialize_entry(key, s),
        Err(_) => {
            m.serialize_entry(key, &String::from_utf8_lossy(bytes))?;
            m.serialize_entry(hex_key, &Hex(bytes))
        }
    }
}

/// utsns-N.img's fields.
struct UtsView<'a> {
    ns_id: u32,
    u: &'a criurs::nsimg::uts::Uts,
}

impl Serialize for UtsView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("ns_id", &self.ns_id)?;
        bytes_entry(&mut m, "nodename", "nodename_hex", &self.u.nodename)?;
        bytes_entry(&mut m, "domainname", "domainname_hex", &self.u.domainname)?;
        m.end()
    }
}

/// timens-N.img's clocks, as crit names them.
struct TimeView<'a> {
    id: u32,
    c: &'a criurs::nsimg::time::Clocks,
}

impl Serialize for TimeView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("ns_id", &self.id)?;
        for (key, t) in [("monotonic", self.c.monotonic), ("boottime", self.c.boottime)] {
            m.serialize_entry(key, &Clock(t))?;
        }
        m.end()
    }
}

struct Clock(criurs::nsimg::time::Timespec);

impl Serialize for Clock {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("tv_sec", &self.0.sec)?;
        m.serialize_entry("tv_nsec", &self.0.nsec)?;
        m.end()
    }
}

/// An ipc namespace: ipcns-var's sysctls and each object's descriptor.
struct IpcView<'a> {
    ns_id: u32,
    ipc: &'a criurs::nsimg::ipc::IpcNamespace,
}

struct DescView<'a>(&'a criurs::nsimg::ipc::IpcDesc);

impl Serialize for DescView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.0;
        let mut m = s.serialize_map(Some(7))?;
        m.serialize_entry("key", &d.key)?;
        m.serialize_entry("uid", &d.uid)?;
        m.serialize_entry("gid", &d.gid)?;
        m.serialize_entry("cuid", &d.cuid)?;
        m.serialize_entry("cgid", &d.cgid)?;
        m.serialize_entry("mode", &d.mode)?;
        m.serialize_entry("id", &d.id)?;
        m.end()
    }
}

impl Serialize for IpcView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Shm<'a>(&'a criurs::nsimg::ipc::ShmSegment);
        impl Serialize for Shm<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("desc", &DescView(&self.0.desc))?;
                m.serialize_entry("size", &self.0.size)?;
                m.end()
            }
        }
        struct Msq<'a>(&'a criurs::nsimg::ipc::MsgQueue);
        impl Serialize for Msq<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("desc", &DescView(&self.0.desc))?;
                m.serialize_entry("qbytes", &self.0.qbytes)?;
                m.serialize_entry("qnum", &self.0.messages.len())?;
                m.end()
            }
        }
        struct Sem<'a>(&'a criurs::nsimg::ipc::SemSet);
        impl Serialize for Sem<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("desc", &DescView(&self.0.desc))?;
                m.serialize_entry("nsems", &self.0.values.len())?;
                m.serialize_entry("values", &self.0.values)?;
                m.end()
            }
        }
        let (ipc, v) = (self.ipc, &self.ipc.var);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("ns_id", &self.ns_id)?;
        m.serialize_entry("sem_ctls", &v.sem_ctls)?;
        m.serialize_entry("msg_ctlmax", &v.msg_ctlmax)?;
        m.serialize_entry("msg_ctlmnb", &v.msg_ctlmnb)?;
        m.serialize_entry("msg_ctlmni", &v.msg_ctlmni)?;
        m.serialize_entry("shm_ctlmax", &v.shm_ctlmax)?;
        m.serialize_entry("shm_ctlall", &v.shm_ctlall)?;
        m.serialize_entry("shm_ctlmni", &v.shm_ctlmni)?;
        m.serialize_entry("shm", &Seq(|| ipc.shm.iter().map(Shm)))?;
        m.serialize_entry("msg", &Seq(|| ipc.msg.iter().map(Msq)))?;
        m.serialize_entry("sem", &Seq(|| ipc.sem.iter().map(Sem)))?;
        m.end()
    }
}

/// Lower-case hex of bytes, as one string.
struct Hex<'a>(&'a [u8]);

impl Serialize for Hex<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let hex: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&hex)
    }
}

/// MntEntry's fields under CRIU's names.
struct MountView<'a> {
    ns_id: u32,
    m: &'a MountRecord,
}

impl Serialize for MountView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.m;
        let mut o = s.serialize_map(None)?;
        o.serialize_entry("ns_id", &self.ns_id)?;
        o.serialize_entry("fstype", &m.fstype.code())?;
        o.serialize_entry("fstype_name", m.fstype.name())?;
        o.serialize_entry("mnt_id", &m.mnt_id)?;
        o.serialize_entry("root_dev", &format_args!("{}:{}", m.major, m.minor))?;
        o.serialize_entry("parent_mnt_id", &m.parent_mnt_id)?;
        o.serialize_entry("flags", &m.flags)?;
        bytes_entry(&mut o, "root", "root_hex", &m.root())?;
        bytes_entry(&mut o, "mountpoint", "mountpoint_hex", &m.mountpoint())?;
        bytes_entry(&mut o, "source", "source_hex", &m.source())?;
        bytes_entry(&mut o, "options", "options_hex", &m.options())?;
        o.serialize_entry("shared_id", &m.shared_id)?;
        o.serialize_entry("master_id", &m.master_id)?;
        bytes_entry(&mut o, "fsname", "fsname_hex", &m.fsname())?;
        o.serialize_entry("deleted", &m.deleted)?;
        o.serialize_entry("sb_flags", &m.sb_flags)?;
        if let Some(key) = &m.ext_key {
            o.serialize_entry("ext_mount", &true)?;
            bytes_entry(&mut o, "ext_key", "ext_key_hex", key)?;
        }
        o.serialize_entry("propagation", &propagation(m))?;
        o.end()
    }
}

/// One socket: the fields of CRIU's UnixSkEntry / InetSkEntry /
/// PacketSockEntry / NetlinkSkEntry where they have one. sock_diag's own
/// flags are `diag_flags`: `flags` is CRIU's word for a file's open flags.
struct SocketView<'a> {
    ns_id: u32,
    sk: &'a Socket,
    /// With `-p`: the scan whose holders of this socket are listed.
    holders: Option<&'a criurs::holders::HolderMap>,
}

/// One holder of a socket: `{"pid":N,"fd":M,"comm":"..."}`.
struct HolderView<'a>(&'a criurs::holders::Holder);

impl Serialize for HolderView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_map(None)?;
        o.serialize_entry("pid", &self.0.pid)?;
        o.serialize_entry("fd", &self.0.fd)?;
        bytes_entry(&mut o, "comm", "comm_hex", &self.0.comm)?;
        o.end()
    }
}

impl Serialize for SocketView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let sk = self.sk;
        let mut o = s.serialize_map(None)?;
        o.serialize_entry("ns_id", &self.ns_id)?;
        o.serialize_entry("family", family_name(sk.family))?;
        o.serialize_entry("ino", &sk.ino)?;
        o.serialize_entry("type", type_name(sk.type_))?;
        o.serialize_entry("proto", &sk.protocol())?;
        o.serialize_entry("state", net::state_name(sk.state))?;
        match &sk.detail {
            Detail::Unix(u) => {
                bytes_entry(&mut o, "name", "name_hex", &u.name)?;
                o.serialize_entry("peer", &u.peer)?;
                o.serialize_entry("in_flight", &u.in_flight)?;
                o.serialize_entry("backlog", &u.backlog())?;
                o.serialize_entry("shutdown", &u.shutdown)?;
                o.serialize_entry("icons", &u.icons)?;
                o.serialize_entry("rqlen", &u.rqlen)?;
                o.serialize_entry("wqlen", &u.wqlen)?;
                o.serialize_entry("vfs_dev", &u.vfs_dev)?;
                o.serialize_entry("vfs_ino", &u.vfs_ino)?;
                if let Some(uid) = u.uid {
                    o.serialize_entry("uid", &uid)?;
                }
            }
            Detail::Inet(i) => {
                o.serialize_entry("src_addr", &[format_args!("{}", i.src_ip(sk.family))])?;
                o.serialize_entry("src_port", &i.src_port)?;
                o.serialize_entry("dst_addr", &[format_args!("{}", i.dst_ip(sk.family))])?;
                o.serialize_entry("dst_port", &i.dst_port)?;
                o.serialize_entry("backlog", &i.backlog())?;
                o.serialize_entry("shutdown", &i.shutdown)?;
                o.serialize_entry("ifindex", &i.ifindex)?;
                o.serialize_entry("rqlen", &i.rqlen)?;
                o.serialize_entry("wqlen", &i.wqlen)?;
                o.serialize_entry("uid", &i.uid)?;
            }
            Detail::Packet(p) => {
                o.serialize_entry("protocol", &p.protocol)?;
                if let Some(info) = &p.info {
                    o.serialize_entry("ifindex", &info.ifindex)?;
                    o.serialize_entry("version", &info.version)?;
                    o.serialize_entry("reserve", &info.reserve)?;
                    o.serialize_entry("copy_thresh", &info.copy_thresh)?;
                    o.serialize_entry("timestamp", &info.timestamp)?;
                    o.serialize_entry("diag_flags", &info.flags)?;
                }
                o.serialize_entry("mclist", &Seq(|| p.mclist.iter().map(McView)))?;
                if let Some(f) = p.fanout {
                    o.serialize_entry("fanout", &f)?;
                }
                if let Some(r) = &p.rx_ring {
                    o.serialize_entry("rx_ring", &RingView(r))?;
                }
                if let Some(r) = &p.tx_ring {
                    o.serialize_entry("tx_ring", &RingView(r))?;
                }
            }
            Detail::Netlink(n) => {
                o.serialize_entry("protocol", &n.protocol)?;
                o.serialize_entry("portid", &n.portid)?;
                o.serialize_entry("groups", &n.groups)?;
                o.serialize_entry("dst_portid", &n.dst_portid)?;
                o.serialize_entry("dst_group", &n.dst_group)?;
                if let Some(f) = n.flags {
                    o.serialize_entry("diag_flags", &f)?;
                }
            }
        }
        if let Some(map) = self.holders {
            o.serialize_entry("holders", &Seq(|| map.get(sk.ino as u64).iter().map(HolderView)))?;
        }
        o.end()
    }
}

/// One link: NetDeviceEntry's fields under CRIU's names (`type` is
/// CRIU's device type when a dump writes the link), then `ip -j link`'s
/// (`kind`, `operstate`, `flags` by name as `link_flags`) and what a dump
/// makes of it (`dump`: dump, skip or refuse; `reason`).
struct LinkView<'a> {
    cfg: &'a NetConfig,
    l: &'a LinkEntry,
}

impl Serialize for LinkView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (cfg, e, l) = (self.cfg, self.l, &self.l.link);
        let mut o = s.serialize_map(None)?;
        o.serialize_entry("ns_id", &cfg.ns_id)?;
        let (plan, device, reason) = show::plan_words(e);
        if let Some(t) = device {
            o.serialize_entry("type", t)?;
        }
        o.serialize_entry("ifindex", &l.ifindex)?;
        if let Some(mtu) = l.mtu {
            o.serialize_entry("mtu", &mtu)?;
        }
        o.serialize_entry("flags", &l.flags)?;
        bytes_entry(&mut o, "name", "name_hex", l.name.as_deref().unwrap_or_default())?;
        if let Some(a) = &l.address {
            o.serialize_entry("address", &show::ll_addr(a))?;
        }
        o.serialize_entry("peer_ifindex", &e.peer_ifindex)?;
        if let Some(n) = e.peer_nsid {
            o.serialize_entry("peer_nsid", &n)?;
        }
        if let Some(m) = l.master {
            o.serialize_entry("master", &m)?;
        }
        if let Some(k) = &l.kind {
            bytes_entry(&mut o, "kind", "kind_hex", k)?;
        }
        o.serialize_entry("link_type", &l.hw_type)?;
        o.serialize_entry("operstate", show::operstate_name(l.operstate))?;
        o.serialize_entry("link_flags", &show::link_flags(l.flags))?;
        if let Some(n) = l.link_netnsid {
            o.serialize_entry("link_netnsid", &n)?;
        }
        o.serialize_entry("dump", plan)?;
        if let Some(r) = reason {
            o.serialize_entry("reason", r)?;
        }
        o.end()
    }
}

/// One address under `ip -j addr`'s names.
struct AddrView<'a> {
    cfg: &'a NetConfig,
    a: &'a Address,
}

impl Serialize for AddrView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (cfg, a) = (self.cfg, self.a);
        let mut o = s.serialize_map(None)?;
        o.serialize_entry("ns_id", &cfg.ns_id)?;
        o.serialize_entry("ifindex", &a.ifindex)?;
        bytes_entry(&mut o, "ifname", "ifname_hex", &show::dev_name(cfg, a.ifindex))?;
        o.serialize_entry("family", show::inet_family(a.family))?;
        if let Some(l) = a.local.as_deref().or(a.address.as_deref()) {
            o.serialize_entry("local", &show::ip_text(l))?;
        }
        if let Some(p) = a.peer() {
            o.serialize_entry("address", &p.to_string())?;
        }
        o.serialize_entry("prefixlen", &a.prefixlen)?;
        if let Some(b) = &a.broadcast {
            o.serialize_entry("broadcast", &show::ip_text(b))?;
        }
        o.serialize_entry("scope", &show::scope_name(a.scope))?;
        if let Some(l) = &a.label {
            bytes_entry(&mut o, "label", "label_hex", l)?;
        }
        o.serialize_entry("flags", &a.flags)?;
        if let (Some(v), Some(p)) = (a.valid_lft, a.preferred_lft) {
            o.serialize_entry("valid_life_time", &v)?;
            o.serialize_entry("preferred_life_time", &p)?;
        }
        o.end()
    }
}

/// One route of table main under `ip -j route`'s names.
struct RouteView<'a> {
    cfg: &'a NetConfig,
    r: &'a Route,
}

impl Serialize for RouteView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (cfg, r) = (self.cfg, self.r);
        let mut o = s.serialize_map(None)?;
        o.serialize_entry("ns_id", &cfg.ns_id)?;
        o.serialize_entry("family", show::inet_family(r.family))?;
        o.serialize_entry("type", &show::route_type_name(r.rtype))?;
        o.serialize_entry("dst", &show::route_dst(r))?;
        if let Some(src) = &r.src {
            o.serialize_entry("src", &format!("{}/{}", show::ip_text(src), r.src_len))?;
        }
        if let Some(gw) = &r.gateway {
            o.serialize_entry("gateway", &show::ip_text(gw))?;
        }
        if let Some(oif) = r.oif {
            bytes_entry(&mut o, "dev", "dev_hex", &show::dev_name(cfg, oif))?;
        }
        o.serialize_entry("table", &show::table_name(r.table))?;
        o.serialize_entry("protocol", &show::route_proto_name(r.protocol))?;
        o.serialize_entry("scope", &show::scope_name(r.scope))?;
        if let Some(p) = &r.prefsrc {
            o.serialize_entry("prefsrc", &show::ip_text(p))?;
        }
        if let Some(m) = r.priority {
            o.serialize_entry("metric", &m)?;
        }
        o.serialize_entry("flags", &show::route_flag_words(r.flags))?;
        if let Some(p) = r.pref {
            o.serialize_entry("pref", &show::route_pref_name(p))?;
        }
        if r.nexthops > 0 {
            o.serialize_entry("nexthops", &r.nexthops)?;
        }
        o.end()
    }
}

struct McView<'a>(&'a net::PacketMclist);

impl Serialize for McView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut o = s.serialize_map(Some(4))?;
        o.serialize_entry("index", &self.0.index)?;
        o.serialize_entry("type", &self.0.type_)?;
        o.serialize_entry("addr", &Hex(&self.0.addr))?;
        o.serialize_entry("count", &self.0.count)?;
        o.end()
    }
}

struct RingView<'a>(&'a net::PacketRing);

impl Serialize for RingView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut o = s.serialize_map(Some(7))?;
        o.serialize_entry("block_size", &r.block_size)?;
        o.serialize_entry("block_nr", &r.block_nr)?;
        o.serialize_entry("frame_size", &r.frame_size)?;
        o.serialize_entry("frame_nr", &r.frame_nr)?;
        o.serialize_entry("retire_tmo", &r.retire_tmo)?;
        o.serialize_entry("sizeof_priv", &r.sizeof_priv)?;
        o.serialize_entry("features", &r.features)?;
        o.end()
    }
}

/// Compact JSON with a line per section key and a line per record: the
/// top object is depth 1, its section arrays depth 2, records below.
#[derive(Default)]
struct Lines {
    depth: usize,
    /// The section array being written has records.
    records: bool,
}

impl serde_json::ser::Formatter for Lines {
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        w.write_all(b"{")
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth -= 1;
        w.write_all(if self.depth == 0 { b"\n}" } else { b"}" })
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        if self.depth == 1 {
            w.write_all(b"\n  ")?;
        }
        Ok(())
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(if self.depth == 1 { b": " } else { b":" })
    }
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        if self.depth == 2 {
            self.records = false;
        }
        w.write_all(b"[")
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth -= 1;
        w.write_all(if self.depth == 1 && self.records { b"\n  ]" } else { b"]" })
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        if self.depth == 2 {
            self.records = true;
            w.write_all(b"\n    ")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_record_per_line() {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, Lines::default());
        let doc = serde_json::json!({"a": [{"x": [1, 2]}, {"y": "z"}], "b": []});
        doc.serialize(&mut ser).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "{\n  \"a\": [\n    {\"x\":[1,2]},\n    {\"y\":\"z\"}\n  ],\n  \"b\": []\n}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), doc);
    }

    #[test]
    fn bytes_that_are_not_utf8_keep_their_hex() {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::new(&mut out);
        let mut m = ser.serialize_map(None).unwrap();
        bytes_entry(&mut m, "name", "name_hex", b"a\xffb").unwrap();
        bytes_entry(&mut m, "path", "path_hex", b"/ok").unwrap();
        SerializeMap::end(m).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "{\"name\":\"a\u{fffd}b\",\"name_hex\":\"61ff62\",\"path\":\"/ok\"}");
    }
}
