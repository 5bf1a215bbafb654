//! What `criurs show` prints, shared by the tables (`text`) and the JSON
//! (`json`): the sections, the filters (namespace ids, socket families)
//! and the names of socket kinds. Neither view knows the other; both know
//! this module.
//!
//! A new section (uts, ipc, time, net devices...) is one variant of
//! [`Section`] with its row in [`Section::ALL`]; the compiler then asks
//! for its table in `text.rs` and its records in `json.rs`, and the
//! `--NAME` flag comes from the row.

use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches};
use criurs::mount::MountRecord;
use criurs::net::{self, Detail, Socket};
use criurs::netdev::{self, LinkEntry, NetConfig, Route};
use criurs::{Context, Error, NsKind, Result};

/// One part of `show`'s output, in printing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Namespaces,
    Userns,
    Mounts,
    Links,
    Addresses,
    Routes,
    Sockets,
    Uts,
    Time,
    Ipc,
}

impl Section {
    /// Every section, in the order they print.
    pub const ALL: [Section; 10] = [
        Section::Namespaces,
        Section::Userns,
        Section::Mounts,
        Section::Links,
        Section::Addresses,
        Section::Routes,
        Section::Sockets,
        Section::Uts,
        Section::Time,
        Section::Ipc,
    ];

    /// The `--NAME` flag and the JSON key.
    pub fn name(self) -> &'static str {
        match self {
            Section::Namespaces => "namespaces",
            Section::Userns => "userns",
            Section::Mounts => "mounts",
            Section::Links => "links",
            Section::Addresses => "addresses",
            Section::Routes => "routes",
            Section::Sockets => "sockets",
            Section::Uts => "uts",
            Section::Time => "time",
            Section::Ipc => "ipc",
        }
    }

    fn help(self) -> &'static str {
        match self {
            Section::Namespaces => "Show the namespace table (CRIU's ids, kernel ids, types)",
            Section::Userns => "Show the uid/gid maps of user namespaces",
            Section::Mounts => "Show mount trees, one per collected mount namespace (like findmnt)",
            Section::Links => "Show network links and what a dump makes of each, per network namespace (like ip -br link)",
            Section::Addresses => "Show addresses of network links, per network namespace (like ip -br addr)",
            Section::Routes => "Show routes of table main, per network namespace (like ip route; ip -6 route)",
            Section::Sockets => "Show sockets, one table per network namespace (like ss -a)",
            Section::Uts => "Show host and domain names of the tree's uts namespaces (utsns-N.img)",
            Section::Time => "Show the clocks of the tree's time namespaces (timens-N.img; 0: the caller's)",
            Section::Ipc => "Show SysV ipc of the tree's ipc namespaces: sysctls, segments, queues, semaphores (ipcns-*-N.img)",
        }
    }

    /// Read with the namespace images (`Context::read_namespaces`).
    pub fn is_namespace_image(self) -> bool {
        matches!(self, Section::Uts | Section::Time | Section::Ipc)
    }

    /// Read from a network namespace's configuration (rtnetlink).
    pub fn is_net_config(self) -> bool {
        matches!(self, Section::Links | Section::Addresses | Section::Routes)
    }
}

/// The section flags: none given means every section.
#[derive(Debug, Clone, Default)]
pub struct Sections(Vec<Section>);

impl Sections {
    pub fn named(&self) -> &[Section] {
        &self.0
    }
}

impl Args for Sections {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        Section::ALL.iter().fold(cmd, |cmd, s| {
            cmd.arg(Arg::new(s.name()).long(s.name()).help(s.help()).action(ArgAction::SetTrue).help_heading("Sections"))
        })
    }
    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for Sections {
    fn from_arg_matches(m: &ArgMatches) -> std::result::Result<Self, clap::Error> {
        Ok(Sections(Section::ALL.into_iter().filter(|s| m.get_flag(s.name())).collect()))
    }
    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> std::result::Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

/// What a socket is, as `ss` names it (its Netid column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    UnixStream,
    UnixDgram,
    UnixSeqpacket,
    Tcp,
    Udp,
    UdpLite,
    Raw,
    Ping,
    PacketRaw,
    PacketDgram,
    Netlink,
    Other,
}

impl SocketKind {
    pub fn of(sk: &Socket) -> SocketKind {
        let ty = sk.type_ as i32;
        match &sk.detail {
            Detail::Unix(_) => match ty {
                libc::SOCK_STREAM => SocketKind::UnixStream,
                libc::SOCK_DGRAM => SocketKind::UnixDgram,
                libc::SOCK_SEQPACKET => SocketKind::UnixSeqpacket,
                _ => SocketKind::Other,
            },
            // A raw socket may be opened for ICMP: its type says raw, not ping.
            Detail::Inet(_) if ty == libc::SOCK_RAW => SocketKind::Raw,
            Detail::Inet(i) => match i.proto as i32 {
                libc::IPPROTO_TCP => SocketKind::Tcp,
                libc::IPPROTO_UDP => SocketKind::Udp,
                libc::IPPROTO_UDPLITE => SocketKind::UdpLite,
                libc::IPPROTO_ICMP | libc::IPPROTO_ICMPV6 => SocketKind::Ping,
                _ => SocketKind::Raw,
            },
            Detail::Packet(_) if ty == libc::SOCK_DGRAM => SocketKind::PacketDgram,
            Detail::Packet(_) => SocketKind::PacketRaw,
            Detail::Netlink(_) => SocketKind::Netlink,
        }
    }

    /// ss's Netid column.
    pub fn netid(self) -> &'static str {
        match self {
            SocketKind::UnixStream => "u_str",
            SocketKind::UnixDgram => "u_dgr",
            SocketKind::UnixSeqpacket => "u_seq",
            SocketKind::Tcp => "tcp",
            SocketKind::Udp => "udp",
            SocketKind::UdpLite => "udplite",
            SocketKind::Raw => "raw",
            SocketKind::Ping => "ping",
            SocketKind::PacketRaw => "p_raw",
            SocketKind::PacketDgram => "p_dgr",
            SocketKind::Netlink => "nl",
            SocketKind::Other => "???",
        }
    }
}

/// `--family`: the names `ss -f` and `ss -A` take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Family {
    /// Unix sockets of every type (ss -x).
    Unix,
    #[value(name = "unix_stream", alias = "unix-stream")]
    UnixStream,
    #[value(name = "unix_dgram", alias = "unix-dgram")]
    UnixDgram,
    #[value(name = "unix_seqpacket", alias = "unix-seqpacket")]
    UnixSeqpacket,
    /// IPv4 sockets of every protocol (ss -4).
    Inet,
    /// IPv6 sockets of every protocol (ss -6).
    Inet6,
    /// TCP over IPv4 and IPv6 (ss -t).
    Tcp,
    /// UDP over IPv4 and IPv6 (ss -u).
    Udp,
    Udplite,
    /// Raw IP sockets (ss -w).
    Raw,
    /// ICMP echo ("ping") sockets.
    Ping,
    /// Packet sockets of every type (ss -0).
    #[value(alias = "link")]
    Packet,
    #[value(name = "packet_raw", alias = "packet-raw")]
    PacketRaw,
    #[value(name = "packet_dgram", alias = "packet-dgram")]
    PacketDgram,
    /// Netlink sockets.
    Netlink,
}

impl Family {
    pub fn matches(self, sk: &Socket) -> bool {
        let kind = SocketKind::of(sk);
        match self {
            Family::Unix => sk.family == net::AF_UNIX,
            Family::UnixStream => kind == SocketKind::UnixStream,
            Family::UnixDgram => kind == SocketKind::UnixDgram,
            Family::UnixSeqpacket => kind == SocketKind::UnixSeqpacket,
            Family::Inet => sk.family == net::AF_INET,
            Family::Inet6 => sk.family == net::AF_INET6,
            Family::Tcp => kind == SocketKind::Tcp,
            Family::Udp => kind == SocketKind::Udp,
            Family::Udplite => kind == SocketKind::UdpLite,
            Family::Raw => kind == SocketKind::Raw,
            Family::Ping => kind == SocketKind::Ping,
            Family::Packet => sk.family == net::AF_PACKET,
            Family::PacketRaw => kind == SocketKind::PacketRaw,
            Family::PacketDgram => kind == SocketKind::PacketDgram,
            Family::Netlink => kind == SocketKind::Netlink,
        }
    }
}

/// The address family's name in JSON.
pub fn family_name(family: u8) -> &'static str {
    match family {
        net::AF_UNIX => "unix",
        net::AF_INET => "inet",
        net::AF_INET6 => "inet6",
        net::AF_PACKET => "packet",
        net::AF_NETLINK => "netlink",
        _ => "unknown",
    }
}

/// The socket type's name in JSON.
pub fn type_name(type_: u8) -> &'static str {
    match type_ as i32 {
        libc::SOCK_STREAM => "stream",
        libc::SOCK_DGRAM => "dgram",
        libc::SOCK_RAW => "raw",
        libc::SOCK_SEQPACKET => "seqpacket",
        libc::SOCK_RDM => "rdm",
        _ => "unknown",
    }
}

/// The state column: TCP-style names where the family has them.
pub fn state_name(sk: &Socket) -> &'static str {
    match sk.family {
        net::AF_UNIX | net::AF_INET | net::AF_INET6 => net::state_name(sk.state),
        _ => "UNCONN",
    }
}

/// findmnt's PROPAGATION column.
pub fn propagation(m: &MountRecord) -> String {
    let mut parts = Vec::new();
    if m.shared_id != 0 {
        parts.push(format!("shared:{}", m.shared_id));
    }
    if m.master_id != 0 {
        parts.push(format!("master:{}", m.master_id));
    }
    if m.flags & libc::MS_UNBINDABLE as u32 != 0 {
        parts.push("unbindable".into());
    }
    if parts.is_empty() {
        "private".into()
    } else {
        parts.join(",")
    }
}

/// What to show: sections, namespaces, socket families.
#[derive(Debug, Clone)]
pub struct Filter {
    sections: Vec<Section>,
    ns: Vec<u32>,
    families: Vec<Family>,
    processes: bool,
}

impl Filter {
    /// From the flags. Naming families but no section shows sockets only,
    /// as `ss -x` does.
    pub fn new(sections: &Sections, ns: Vec<u32>, families: Vec<Family>, processes: bool) -> Filter {
        let sections = if !sections.named().is_empty() {
            sections.named().to_vec()
        } else if !families.is_empty() {
            vec![Section::Sockets]
        } else {
            Section::ALL.to_vec()
        };
        Filter { sections, ns, families, processes }
    }

    /// `-p`: each socket's holders, when sockets are shown.
    pub fn holders(&self) -> bool {
        self.processes && self.shows(Section::Sockets)
    }

    /// The selected sections, in printing order.
    pub fn sections(&self) -> impl Iterator<Item = Section> + '_ {
        Section::ALL.into_iter().filter(|s| self.sections.contains(s))
    }

    pub fn shows(&self, section: Section) -> bool {
        self.sections.contains(&section)
    }

    /// Namespace `id` passes `--ns`.
    pub fn ns(&self, id: u32) -> bool {
        self.ns.is_empty() || self.ns.contains(&id)
    }

    /// The socket passes `--family`.
    pub fn socket(&self, sk: &Socket) -> bool {
        self.families.is_empty() || self.families.iter().any(|f| f.matches(sk))
    }

    /// Every `--ns` id must name a namespace of the tree.
    pub fn check(&self, ctx: &Context) -> Result<()> {
        let table = ctx.namespaces()?;
        for &id in &self.ns {
            if table.by_id(id).is_none() {
                return Err(Error::new(
                    libc::ENOENT,
                    format!("--ns {id}: no namespace with that id in the tree of pid {} (see criurs show --namespaces)", ctx.root_pid()),
                ));
            }
        }
        Ok(())
    }

    /// The network namespaces whose sockets will be shown (in walk order).
    pub fn socket_namespaces(&self, ctx: &Context) -> Result<Vec<u32>> {
        if !self.shows(Section::Sockets) {
            return Ok(Vec::new());
        }
        Ok(ctx.namespaces()?.walk(NsKind::Net).iter().map(|n| n.id).filter(|&id| self.ns(id)).collect())
    }

    /// The network namespaces whose links, addresses or routes will be
    /// shown (in walk order).
    pub fn net_config_namespaces(&self, ctx: &Context) -> Result<Vec<u32>> {
        if !self.sections.iter().any(|s| s.is_net_config()) {
            return Ok(Vec::new());
        }
        Ok(ctx.namespaces()?.walk(NsKind::Net).iter().map(|n| n.id).filter(|&id| self.ns(id)).collect())
    }
}

/// Collects what the filter shows: the namespace table (with user and
/// mount namespaces), then the configuration and sockets of the selected
/// net namespaces.
pub fn collect(ctx: &mut Context, filter: &Filter) -> Result<()> {
    ctx.collect_namespaces(false)?;
    filter.check(ctx)?;
    if filter.sections().any(|s| s.is_namespace_image()) {
        // Reads each net namespace's configuration too, as a dump does.
        ctx.read_namespaces()?;
    }
    for id in filter.net_config_namespaces(ctx)? {
        if ctx.net_config(id).is_err() {
            ctx.collect_net_config(id)?;
        }
    }
    for id in filter.socket_namespaces(ctx)? {
        // A look, as ss takes it: a missing diag module only warns.
        ctx.collect_sockets_for(id, net::Purpose::Show)?;
    }
    if filter.holders() {
        // As ss -p: every process, since a socket of the tree's namespaces
        // may be held from outside the tree. Those we may not read are said.
        let map = ctx.collect_socket_holders(criurs::holders::Scope::All)?;
        if let Some((pid, why)) = map.unreadable().first() {
            let more = map.unreadable().len() - 1;
            let others = if more > 0 { format!(" and {}", crate::count(more, "other")) } else { String::new() };
            eprintln!("criurs: warning: the open files of pid {pid}{others} could not be read, their sockets show no holder: {why}");
        }
    }
    Ok(())
}

// ---- network links, addresses and routes, as iproute2 names them ----

/// IF_OPER_* as `ip` prints it.
pub fn operstate_name(state: Option<u8>) -> &'static str {
    match state.unwrap_or(0) {
        1 => "NOTPRESENT",
        2 => "DOWN",
        3 => "LOWERLAYERDOWN",
        4 => "TESTING",
        5 => "DORMANT",
        6 => "UP",
        _ => "UNKNOWN",
    }
}

/// IFF_* as `ip` prints them between `<` and `>` (without the brackets):
/// NO-CARRIER for a link up without carrier, RUNNING never, other bits in
/// hex.
pub fn link_flags(flags: u32) -> String {
    const NAMES: [(u32, &str); 17] = [
        (0x8, "LOOPBACK"),
        (0x2, "BROADCAST"),
        (0x10, "POINTOPOINT"),
        (0x1000, "MULTICAST"),
        (0x80, "NOARP"),
        (0x200, "ALLMULTI"),
        (0x100, "PROMISC"),
        (0x400, "MASTER"),
        (0x800, "SLAVE"),
        (0x4, "DEBUG"),
        (0x8000, "DYNAMIC"),
        (0x4000, "AUTOMEDIA"),
        (0x2000, "PORTSEL"),
        (0x20, "NOTRAILERS"),
        (0x1, "UP"),
        (0x10000, "LOWER_UP"),
        (0x20000, "DORMANT"),
    ];
    let mut words = Vec::new();
    if flags & 0x1 != 0 && flags & 0x40 == 0 {
        words.push("NO-CARRIER".to_string());
    }
    let mut rest = flags & !0x40;
    for (bit, name) in NAMES.iter().chain(&[(0x40000, "ECHO")]) {
        if rest & bit != 0 {
            words.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        words.push(format!("{rest:x}"));
    }
    words.join(",")
}

/// A link-layer address as `ip` prints it: hex bytes joined by colons.
pub fn ll_addr(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// A link's name as `ip -br` prints it: `name@peer` for a link on
/// another (`@ifN` when that one is in another namespace). Bytes: the
/// caller escapes them.
pub fn brief_name(cfg: &NetConfig, l: &LinkEntry) -> Vec<u8> {
    let mut name = l.link.name.clone().unwrap_or_default();
    match l.link.link {
        None => {}
        Some(0) => name.extend_from_slice(b"@NONE"),
        Some(peer) => {
            name.push(b'@');
            match (l.link.link_netnsid, cfg.link(peer).and_then(|p| p.link.name.as_deref())) {
                (None, Some(peer_name)) => name.extend_from_slice(peer_name),
                _ => name.extend_from_slice(format!("if{peer}").as_bytes()),
            }
        }
    }
    name
}

/// The name of link `ifindex` of the namespace, as bytes (`ifN` when it
/// has none there, as `ip` prints it).
pub fn dev_name(cfg: &NetConfig, ifindex: u32) -> Vec<u8> {
    cfg.link(ifindex).and_then(|l| l.link.name.clone()).unwrap_or_else(|| format!("if{ifindex}").into_bytes())
}

/// What a dump makes of a link: "dump", "skip" or "refuse"; CRIU's device
/// type ("veth", ...) when dumped; the reason otherwise.
pub fn plan_words(l: &LinkEntry) -> (&'static str, Option<&'static str>, Option<&str>) {
    match &l.plan {
        netdev::Plan::Dump(t) => ("dump", Some(t.name()), None),
        netdev::Plan::Skip(r) => ("skip", None, Some(r)),
        netdev::Plan::Refuse(r) => ("refuse", None, Some(r.as_str())),
    }
}

/// The address family as `ip -j` names it.
pub fn inet_family(family: u8) -> &'static str {
    match family as i32 {
        libc::AF_INET => "inet",
        libc::AF_INET6 => "inet6",
        _ => "unknown",
    }
}

/// An address attribute as text: an IP address, else its bytes in hex.
pub fn ip_text(bytes: &[u8]) -> String {
    netdev::route::ip(bytes).map(|ip| ip.to_string()).unwrap_or_else(|| ll_addr(bytes))
}

/// RT_SCOPE_* as `ip` names it.
pub fn scope_name(scope: u8) -> String {
    match scope {
        0 => "global".into(),
        200 => "site".into(),
        253 => "link".into(),
        254 => "host".into(),
        255 => "nowhere".into(),
        n => n.to_string(),
    }
}

/// RTN_* as `ip` names it.
pub fn route_type_name(t: u8) -> String {
    const NAMES: [&str; 12] =
        ["none", "unicast", "local", "broadcast", "anycast", "multicast", "blackhole", "unreachable", "prohibit", "throw", "nat", "xresolve"];
    NAMES.get(t as usize).map(|n| n.to_string()).unwrap_or_else(|| t.to_string())
}

/// RTPROT_* as iproute2's default rt_protos names it.
pub fn route_proto_name(p: u8) -> String {
    let name = match p {
        0 => "unspec",
        1 => "redirect",
        2 => "kernel",
        3 => "boot",
        4 => "static",
        8 => "gated",
        9 => "ra",
        10 => "mrt",
        11 => "zebra",
        12 => "bird",
        13 => "dnrouted",
        14 => "xorp",
        15 => "ntk",
        16 => "dhcp",
        17 => "mrouted",
        18 => "keepalived",
        42 => "babel",
        99 => "openr",
        186 => "bgp",
        187 => "isis",
        188 => "ospf",
        189 => "rip",
        192 => "eigrp",
        _ => return p.to_string(),
    };
    name.into()
}

/// A routing table's name (iproute2's rt_tables: main, local, default).
pub fn table_name(t: u32) -> String {
    match t {
        253 => "default".into(),
        254 => "main".into(),
        255 => "local".into(),
        n => n.to_string(),
    }
}

/// RTA_PREF (an IPv6 router preference) as `ip` names it.
pub fn route_pref_name(p: u8) -> String {
    match p {
        0 => "medium".into(),
        1 => "high".into(),
        3 => "low".into(),
        n => n.to_string(),
    }
}

/// The next-hop and route flags `ip route` prints (dead, onlink, linkdown, ...).
pub fn route_flag_words(flags: u32) -> Vec<&'static str> {
    const WORDS: [(u32, &str); 8] = [
        (1, "dead"),
        (4, "onlink"),
        (2, "pervasive"),
        (8, "offload"),
        (64, "trap"),
        (0x100, "notify"),
        (16, "linkdown"),
        (32, "unresolved"),
    ];
    WORDS.iter().filter(|(bit, _)| flags & bit != 0).map(|(_, w)| *w).collect()
}

/// A route's destination as `ip route` prints it: `default`, an address
/// (a host route) or `address/length`.
pub fn route_dst(r: &Route) -> String {
    let host = if r.family == libc::AF_INET6 as u8 { 128 } else { 32 };
    match &r.dst {
        Some(d) if r.dst_len == host => ip_text(d),
        Some(d) => format!("{}/{}", ip_text(d), r.dst_len),
        None if r.dst_len != 0 => format!("0/{}", r.dst_len),
        None => "default".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(type_: i32) -> Socket {
        Socket { ino: 1, family: net::AF_UNIX, type_: type_ as u8, state: 7, detail: Detail::Unix(Default::default()) }
    }

    #[test]
    fn families_match_as_ss_names_them() {
        let stream = unix(libc::SOCK_STREAM);
        let dgram = unix(libc::SOCK_DGRAM);
        assert!(Family::Unix.matches(&stream) && Family::Unix.matches(&dgram));
        assert!(Family::UnixStream.matches(&stream) && !Family::UnixStream.matches(&dgram));
        assert!(!Family::Tcp.matches(&stream) && !Family::Inet.matches(&stream));
        assert_eq!(SocketKind::of(&dgram).netid(), "u_dgr");
    }

    #[test]
    fn link_and_route_words_are_iproute2s() {
        assert_eq!(link_flags(0x10049), "LOOPBACK,UP,LOWER_UP");
        assert_eq!(link_flags(0x11043), "BROADCAST,MULTICAST,UP,LOWER_UP");
        assert_eq!(link_flags(0x1003), "NO-CARRIER,BROADCAST,MULTICAST,UP");
        assert_eq!(link_flags(0x1002 | 0x8000_0000), "BROADCAST,MULTICAST,80000000");
        assert_eq!(ll_addr(&[2, 0, 0, 0xaa, 0xbb, 1]), "02:00:00:aa:bb:01");
        assert_eq!((operstate_name(Some(6)), operstate_name(None)), ("UP", "UNKNOWN"));
        let r = Route { family: libc::AF_INET as u8, dst_len: 16, dst: Some(vec![10, 200, 0, 0]), ..Default::default() };
        assert_eq!(route_dst(&r), "10.200.0.0/16");
        assert_eq!(route_dst(&Route { dst_len: 32, dst: Some(vec![10, 0, 0, 1]), ..r.clone() }), "10.0.0.1");
        assert_eq!(route_dst(&Route { dst_len: 0, dst: None, ..r }), "default");
        assert_eq!((route_proto_name(2), route_proto_name(250), scope_name(253), table_name(100)), ("kernel".into(), "250".into(), "link".into(), "100".into()));
        assert_eq!(route_flag_words(16 | 4), vec!["onlink", "linkdown"]);
    }

    #[test]
    fn families_alone_mean_sockets() {
        let f = Filter::new(&Sections::default(), vec![], vec![Family::Tcp], false);
        assert_eq!(f.sections().collect::<Vec<_>>(), vec![Section::Sockets]);
        let f = Filter::new(&Sections(vec![Section::Sockets, Section::Namespaces]), vec![], vec![], true);
        assert_eq!(f.sections().collect::<Vec<_>>(), vec![Section::Namespaces, Section::Sockets], "printing order");
        let f = Filter::new(&Sections::default(), vec![3], vec![], false);
        assert_eq!(f.sections().count(), Section::ALL.len());
        assert!(f.ns(3) && !f.ns(4));
    }
}
