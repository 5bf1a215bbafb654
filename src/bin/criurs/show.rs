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
use criurs::{Context, Error, NsKind, Result};

/// One part of `show`'s output, in printing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Namespaces,
    Userns,
    Mounts,
    Sockets,
}

impl Section {
    /// Every section, in the order they print.
    pub const ALL: [Section; 4] = [Section::Namespaces, Section::Userns, Section::Mounts, Section::Sockets];

    /// The `--NAME` flag and the JSON key.
    pub fn name(self) -> &'static str {
        match self {
            Section::Namespaces => "namespaces",
            Section::Userns => "userns",
            Section::Mounts => "mounts",
            Section::Sockets => "sockets",
        }
    }

    fn help(self) -> &'static str {
        match self {
            Section::Namespaces => "Show the namespace table (CRIU's ids, kernel ids, types)",
            Section::Userns => "Show the uid/gid maps of user namespaces",
            Section::Mounts => "Show mount trees, one per collected mount namespace (like findmnt)",
            Section::Sockets => "Show sockets, one table per network namespace (like ss -a)",
        }
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
}

impl Filter {
    /// From the flags. Naming families but no section shows sockets only,
    /// as `ss -x` does.
    pub fn new(sections: &Sections, ns: Vec<u32>, families: Vec<Family>) -> Filter {
        let sections = if !sections.named().is_empty() {
            sections.named().to_vec()
        } else if !families.is_empty() {
            vec![Section::Sockets]
        } else {
            Section::ALL.to_vec()
        };
        Filter { sections, ns, families }
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
}

/// Collects what the filter shows: the namespace table (with user and
/// mount namespaces), then the sockets of the selected net namespaces.
pub fn collect(ctx: &mut Context, filter: &Filter) -> Result<()> {
    ctx.collect_namespaces(false)?;
    filter.check(ctx)?;
    for id in filter.socket_namespaces(ctx)? {
        ctx.collect_sockets(id)?;
    }
    Ok(())
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
    fn families_alone_mean_sockets() {
        let f = Filter::new(&Sections::default(), vec![], vec![Family::Tcp]);
        assert_eq!(f.sections().collect::<Vec<_>>(), vec![Section::Sockets]);
        let f = Filter::new(&Sections(vec![Section::Sockets, Section::Namespaces]), vec![], vec![]);
        assert_eq!(f.sections().collect::<Vec<_>>(), vec![Section::Namespaces, Section::Sockets], "printing order");
        let f = Filter::new(&Sections::default(), vec![3], vec![]);
        assert_eq!(f.sections().count(), Section::ALL.len());
        assert!(f.ns(3) && !f.ns(4));
    }
}
