//! Links: one RTM_NEWLINK reply parsed into a [`Link`], and CRIU 4.2's
//! decision of what to do with it (`dump_one_link` and the per-kind
//! dumpers of criu/net.c): dump it as one of its device types, leave it
//! out (the fallback tunnels every namespace gets), or refuse the dump.

use crate::error::{Error, Result};
use crate::netlink::route::{ifinfomsg, LINKS};
use crate::netlink::UnknownAttrs;

/// IFLA_* attributes read (linux/if_link.h).
pub mod ifla {
    pub const ADDRESS: u16 = 1;
    pub const BROADCAST: u16 = 2;
    pub const IFNAME: u16 = 3;
    pub const MTU: u16 = 4;
    pub const LINK: u16 = 5;
    pub const MASTER: u16 = 10;
    pub const OPERSTATE: u16 = 16;
    pub const LINKINFO: u16 = 18;
    pub const LINK_NETNSID: u16 = 37;
    /// Inside IFLA_LINKINFO.
    pub const INFO_KIND: u16 = 1;
    pub const INFO_DATA: u16 = 2;
    /// Inside a macvlan's IFLA_INFO_DATA.
    pub const MACVLAN_MODE: u16 = 1;
    pub const MACVLAN_FLAGS: u16 = 2;
}

/// IFLA_IPTUN_* inside a sit tunnel's IFLA_INFO_DATA.
pub mod iptun {
    pub const LINK: u16 = 1;
    pub const LOCAL: u16 = 2;
    pub const REMOTE: u16 = 3;
    pub const TTL: u16 = 4;
    pub const TOS: u16 = 5;
    pub const FLAGS: u16 = 8;
    pub const PROTO: u16 = 9;
    pub const PMTUDISC: u16 = 10;
    pub const RD_PREFIX: u16 = 11;
    pub const RD_RELAY_PREFIX: u16 = 12;
    pub const RD_PREFIXLEN: u16 = 13;
    pub const RD_RELAY_PREFIXLEN: u16 = 14;
    pub const ENCAP_TYPE: u16 = 15;
    pub const ENCAP_FLAGS: u16 = 16;
    pub const ENCAP_SPORT: u16 = 17;
    pub const ENCAP_DPORT: u16 = 18;
}

/// ARPHRD_* link types CRIU tells apart (linux/if_arp.h).
pub mod arphrd {
    pub const ETHER: u16 = 1;
    pub const LOOPBACK: u16 = 772;
    pub const SIT: u16 = 776;
    pub const IPGRE: u16 = 778;
    pub const VOID: u16 = 0xffff;
    pub const NONE: u16 = 0xfffe;
}

/// A macvlan's mode and flags (IFLA_INFO_DATA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MacvlanInfo {
    pub mode: Option<u32>,
    pub flags: Option<u16>,
}

/// A sit tunnel's parameters (IFLA_INFO_DATA), as CRIU reads them: the
/// raw attribute values, addresses as u32 words in network order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SitInfo {
    pub link: Option<u32>,
    pub local: Option<u32>,
    pub remote: Option<u32>,
    pub ttl: Option<u8>,
    pub tos: Option<u8>,
    pub flags: Option<u16>,
    pub proto: Option<u8>,
    pub pmtudisc: Option<u8>,
    pub encap_type: Option<u16>,
    pub encap_flags: Option<u16>,
    pub encap_sport: Option<u16>,
    pub encap_dport: Option<u16>,
    pub rd_prefix: Option<[u32; 4]>,
    pub rd_prefixlen: Option<u16>,
    pub relay_prefix: Option<u32>,
    pub relay_prefixlen: Option<u16>,
}

/// One link of a network namespace, as RTM_NEWLINK describes it. Name,
/// kind and addresses are bytes: the target chooses them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Link {
    pub ifindex: u32,
    /// ARPHRD_* (`ifi_type`).
    pub hw_type: u16,
    /// IFF_* (`ifi_flags`).
    pub flags: u32,
    /// IFLA_IFNAME (None: the kernel sent no name).
    pub name: Option<Vec<u8>>,
    pub mtu: Option<u32>,
    pub address: Option<Vec<u8>>,
    pub broadcast: Option<Vec<u8>>,
    /// IFLA_LINK: the index of the link this one sits on (a veth's peer).
    pub link: Option<u32>,
    /// IFLA_LINK_NETNSID: the id, in this namespace, of the namespace
    /// `link` is in (absent: this one).
    pub link_netnsid: Option<i32>,
    pub master: Option<u32>,
    /// IF_OPER_* (IFLA_OPERSTATE).
    pub operstate: Option<u8>,
    /// IFLA_INFO_KIND ("veth", "bridge", ...).
    pub kind: Option<Vec<u8>>,
    pub macvlan: Option<MacvlanInfo>,
    pub sit: Option<SitInfo>,
}

impl Link {
    /// The name as text for messages and show: lossy, for people only.
    pub fn display_name(&self) -> String {
        match &self.name {
            Some(n) => crate::netdev::escape(n),
            None => format!("#{}", self.ifindex),
        }
    }

    pub fn kind_str(&self) -> Option<&[u8]> {
        self.kind.as_deref()
    }
}

/// Parses one RTM_NEWLINK payload; attributes not read are counted in
/// `unknown`. Every length is checked.
pub fn parse_link(payload: &[u8], unknown: &mut UnknownAttrs) -> Result<Link> {
    let (h, attrs) = LINKS.split(payload)?;
    let mut link = Link {
        ifindex: ifinfomsg::IFI_INDEX.get(h),
        hw_type: ifinfomsg::IFI_TYPE.get(h),
        flags: ifinfomsg::IFI_FLAGS.get(h),
        ..Default::default()
    };
    let mut info = None;
    for a in attrs {
        let a = a?;
        match a.kind {
            ifla::IFNAME => link.name = Some(a.cstr().to_vec()),
            ifla::MTU => link.mtu = Some(a.u32("IFLA_MTU")?),
            ifla::ADDRESS => link.address = Some(a.payload.to_vec()),
            ifla::BROADCAST => link.broadcast = Some(a.payload.to_vec()),
            ifla::LINK => link.link = Some(a.u32("IFLA_LINK")?),
            ifla::LINK_NETNSID => link.link_netnsid = Some(a.i32("IFLA_LINK_NETNSID")?),
            ifla::MASTER => link.master = Some(a.u32("IFLA_MASTER")?),
            ifla::OPERSTATE => link.operstate = Some(a.u8("IFLA_OPERSTATE")?),
            ifla::LINKINFO => info = Some(a.payload),
            k => unknown.note(k),
        }
    }
    if let Some(info) = info {
        parse_linkinfo(&mut link, info, unknown)?;
    }
    Ok(link)
}

fn parse_linkinfo(link: &mut Link, info: &[u8], unknown: &mut UnknownAttrs) -> Result<()> {
    let mut data = None;
    for a in crate::netlink::attributes(info) {
        let a = a?;
        match a.kind {
            ifla::INFO_KIND => link.kind = Some(a.cstr().to_vec()),
            ifla::INFO_DATA => data = Some(a.payload),
            k => unknown.note(k),
        }
    }
    let Some(data) = data else { return Ok(()) };
    match link.kind.as_deref() {
        Some(b"macvlan") => {
            let mut m = MacvlanInfo::default();
            for a in crate::netlink::attributes(data) {
                let a = a?;
                match a.kind {
                    ifla::MACVLAN_MODE => m.mode = Some(a.u32("IFLA_MACVLAN_MODE")?),
                    ifla::MACVLAN_FLAGS => m.flags = Some(a.u16("IFLA_MACVLAN_FLAGS")?),
                    k => unknown.note(k),
                }
            }
            link.macvlan = Some(m);
        }
        Some(b"sit") => link.sit = Some(parse_sit(data, unknown)?),
        _ => {}
    }
    Ok(())
}

fn parse_sit(data: &[u8], unknown: &mut UnknownAttrs) -> Result<SitInfo> {
    let mut s = SitInfo::default();
    for a in crate::netlink::attributes(data) {
        let a = a?;
        match a.kind {
            iptun::LINK => s.link = Some(a.u32("IFLA_IPTUN_LINK")?),
            iptun::LOCAL => s.local = Some(a.u32("IFLA_IPTUN_LOCAL")?),
            iptun::REMOTE => s.remote = Some(a.u32("IFLA_IPTUN_REMOTE")?),
            iptun::TTL => s.ttl = Some(a.u8("IFLA_IPTUN_TTL")?),
            iptun::TOS => s.tos = Some(a.u8("IFLA_IPTUN_TOS")?),
            iptun::FLAGS => s.flags = Some(a.u16("IFLA_IPTUN_FLAGS")?),
            iptun::PROTO => s.proto = Some(a.u8("IFLA_IPTUN_PROTO")?),
            iptun::PMTUDISC => s.pmtudisc = Some(a.u8("IFLA_IPTUN_PMTUDISC")?),
            iptun::ENCAP_TYPE => s.encap_type = Some(a.u16("IFLA_IPTUN_ENCAP_TYPE")?),
            iptun::ENCAP_FLAGS => s.encap_flags = Some(a.u16("IFLA_IPTUN_ENCAP_FLAGS")?),
            iptun::ENCAP_SPORT => s.encap_sport = Some(a.u16("IFLA_IPTUN_ENCAP_SPORT")?),
            iptun::ENCAP_DPORT => s.encap_dport = Some(a.u16("IFLA_IPTUN_ENCAP_DPORT")?),
            iptun::RD_PREFIX => {
                let p = a.layout("IFLA_IPTUN_6RD_PREFIX", 16)?;
                let w = |i: usize| crate::netlink::bytes::U32(i * 4).get(p);
                s.rd_prefix = Some([w(0), w(1), w(2), w(3)]);
            }
            iptun::RD_PREFIXLEN => s.rd_prefixlen = Some(a.u16("IFLA_IPTUN_6RD_PREFIXLEN")?),
            iptun::RD_RELAY_PREFIX => s.relay_prefix = Some(a.u32("IFLA_IPTUN_6RD_RELAY_PREFIX")?),
            iptun::RD_RELAY_PREFIXLEN => s.relay_prefixlen = Some(a.u16("IFLA_IPTUN_6RD_RELAY_PREFIXLEN")?),
            k => unknown.note(k),
        }
    }
    Ok(s)
}

/// CRIU's device types (`nd_type` of netdev.proto).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceType {
    Loopback = 1,
    Veth = 2,
    Tun = 3,
    ExtLink = 4,
    Venet = 5,
    Bridge = 6,
    Macvlan = 7,
    Sit = 8,
}

impl DeviceType {
    pub fn name(self) -> &'static str {
        match self {
            DeviceType::Loopback => "loopback",
            DeviceType::Veth => "veth",
            DeviceType::Tun => "tun",
            DeviceType::ExtLink => "extlink",
            DeviceType::Venet => "venet",
            DeviceType::Bridge => "bridge",
            DeviceType::Macvlan => "macvlan",
            DeviceType::Sit => "sit",
        }
    }
}

/// What a dump does with one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Written to netdev-N.img as this type.
    Dump(DeviceType),
    /// Left out, as CRIU leaves it: a fallback tunnel device the kernel
    /// makes in every namespace once the tunnel module is loaded.
    Skip(&'static str),
    /// The namespace cannot be dumped: CRIU 4.2 fails here, for this
    /// reason (its own words where it has them).
    Refuse(String),
}

impl Plan {
    pub fn device_type(&self) -> Option<DeviceType> {
        match self {
            Plan::Dump(t) => Some(*t),
            _ => None,
        }
    }
}

/// CRIU 4.2's `dump_one_link`: loopback by its hardware type; the rest by
/// hardware type and IFLA_INFO_KIND. Links CRIU dumps through plugins
/// only (DUMP_EXT_LINK) are refused: criurs has no plugins, and CRIU
/// without one refuses them the same way.
pub fn plan(link: &Link) -> Plan {
    let name = link.name.as_deref();
    if link.hw_type == arphrd::LOOPBACK {
        return checked(link, DeviceType::Loopback);
    }
    let Some(kind) = link.kind.as_deref() else {
        return unsupported(link, None);
    };
    let named = |n: &[u8]| name == Some(n);
    match link.hw_type {
        arphrd::ETHER => match kind {
            b"veth" => checked(link, DeviceType::Veth),
            b"tun" => tun(link),
            b"bridge" => checked(link, DeviceType::Bridge),
            b"gretap" if named(b"gretap0") => Plan::Skip("the gretap fallback device"),
            b"macvlan" => macvlan(link),
            _ => unsupported(link, Some(kind)),
        },
        arphrd::NONE => match kind {
            b"tun" => tun(link),
            _ => unsupported(link, Some(kind)),
        },
        arphrd::VOID => match kind {
            b"venet" => checked(link, DeviceType::Venet),
            _ => unsupported(link, Some(kind)),
        },
        arphrd::IPGRE => match kind {
            b"gre" if named(b"gre0") => Plan::Skip("the gre fallback device"),
            _ => unsupported(link, Some(kind)),
        },
        arphrd::SIT => {
            if kind != b"sit" {
                return Plan::Refuse(format!("SIT device with {} kind", crate::netdev::escape(kind)));
            }
            if named(b"sit0") {
                return Plan::Skip("the sit fallback device");
            }
            sit(link)
        }
        _ => unsupported(link, Some(kind)),
    }
}

/// CRIU's `dump_one_netdev` needs a name (and reads the MTU).
fn checked(link: &Link, t: DeviceType) -> Plan {
    if link.name.is_none() {
        return Plan::Refuse(format!("No name for link {}", link.ifindex));
    }
    if link.mtu.is_none() {
        return Plan::Refuse(format!("link {} has no IFLA_MTU", link.ifindex));
    }
    Plan::Dump(t)
}

fn unsupported(link: &Link, kind: Option<&[u8]>) -> Plan {
    let kind = kind.map(crate::netdev::escape).unwrap_or_else(|| "(null)".to_string());
    Plan::Refuse(format!("Unsupported link {} (type {} kind {kind})", link.ifindex, link.hw_type))
}

fn tun(link: &Link) -> Plan {
    // CRIU reads a tun's vnethdr and sndbuf from a tun file of the tree
    // (or attaches to a persistent one); both need the tree's open files.
    Plan::Refuse(format!(
        "tun link {} ({}): CRIU reads its queue settings from the tree's open tun files, which criurs does not dump yet",
        link.ifindex,
        link.display_name()
    ))
}

fn macvlan(link: &Link) -> Plan {
    match link.macvlan {
        None => Plan::Refuse("no data for macvlan".to_string()),
        Some(MacvlanInfo { mode: None, .. }) => Plan::Refuse(format!("macvlan mode required for {}", link.display_name())),
        Some(_) => checked(link, DeviceType::Macvlan),
    }
}

fn sit(link: &Link) -> Plan {
    let Some(s) = &link.sit else { return Plan::Refuse("no data for sit".to_string()) };
    if s.rd_prefixlen.is_some_and(|l| l != 0) {
        if s.rd_prefix.is_none() {
            return Plan::Refuse("No 6rd prefix for sit device".to_string());
        }
        match s.relay_prefixlen {
            None => return Plan::Refuse("No 6rd relay prefix length for sit device".to_string()),
            Some(l) if l != 0 && s.relay_prefix.is_none() => {
                return Plan::Refuse("No 6rd relay prefix for sit device".to_string())
            }
            _ => {}
        }
    }
    checked(link, DeviceType::Sit)
}

/// The refusal of a namespace's dump for a link `plan` refused.
pub fn refusal(ns_id: u32, link: &Link, reason: &str) -> Error {
    Error::new(
        libc::EOPNOTSUPP,
        format!("net namespace {ns_id}: link {} ({}): CRIU 4.2 cannot dump it: {reason}", link.ifindex, link.display_name()),
    )
}
