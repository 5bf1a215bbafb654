//! Addresses, routes and rules: RTM_NEWADDR, RTM_NEWROUTE and
//! RTM_NEWRULE replies parsed into typed values (what `criurs show` and
//! the Rust API give), and the filter `ip route save` applies to the
//! routes it writes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::Result;
use crate::netlink::route::{fib_rule_hdr, ifaddrmsg, rtmsg, ADDRESSES, ROUTES, RT_TABLE_MAIN, RULES};
use crate::netlink::UnknownAttrs;

/// IFA_* (linux/if_addr.h).
pub mod ifa {
    pub const ADDRESS: u16 = 1;
    pub const LOCAL: u16 = 2;
    pub const LABEL: u16 = 3;
    pub const BROADCAST: u16 = 4;
    pub const CACHEINFO: u16 = 6;
    pub const FLAGS: u16 = 8;
}

/// RTA_* (linux/rtnetlink.h).
pub mod rta {
    pub const DST: u16 = 1;
    pub const SRC: u16 = 2;
    pub const IIF: u16 = 3;
    pub const OIF: u16 = 4;
    pub const GATEWAY: u16 = 5;
    pub const PRIORITY: u16 = 6;
    pub const PREFSRC: u16 = 7;
    pub const MULTIPATH: u16 = 9;
    pub const TABLE: u16 = 15;
    pub const PREF: u16 = 20;
}

/// FRA_* (linux/fib_rules.h).
pub mod fra {
    pub const DST: u16 = 1;
    pub const SRC: u16 = 2;
    pub const IIFNAME: u16 = 3;
    pub const GOTO: u16 = 4;
    pub const PRIORITY: u16 = 6;
    pub const FWMARK: u16 = 10;
    pub const TABLE: u16 = 15;
    pub const FWMASK: u16 = 16;
    pub const OIFNAME: u16 = 17;
}

/// RTM_F_CLONED: a cached route (an exception), which `ip route save`
/// leaves out.
pub const RTM_F_CLONED: u32 = 0x200;
/// RTN_LOCAL.
pub const RTN_LOCAL: u8 = 2;
/// RTN_UNICAST.
pub const RTN_UNICAST: u8 = 1;

/// An address attribute as an IP address when it has the length of one.
pub fn ip(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))),
        16 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(bytes);
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

/// One address of a link (RTM_NEWADDR). Addresses are kept as the
/// kernel's bytes: families other than IPv4/IPv6 have other lengths.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    pub family: u8,
    pub prefixlen: u8,
    /// IFA_F_* (IFA_FLAGS when present: it has all 32 bits).
    pub flags: u32,
    pub scope: u8,
    pub ifindex: u32,
    pub address: Option<Vec<u8>>,
    pub local: Option<Vec<u8>>,
    pub broadcast: Option<Vec<u8>>,
    pub label: Option<Vec<u8>>,
    /// From IFA_CACHEINFO: seconds (u32::MAX: forever).
    pub preferred_lft: Option<u32>,
    pub valid_lft: Option<u32>,
}

impl Address {
    /// The address as `ip addr` shows it: IFA_LOCAL, else IFA_ADDRESS.
    pub fn ip(&self) -> Option<IpAddr> {
        self.local.as_deref().or(self.address.as_deref()).and_then(ip)
    }

    /// The peer of a point-to-point address (IFA_ADDRESS differs from IFA_LOCAL).
    pub fn peer(&self) -> Option<IpAddr> {
        match (&self.local, &self.address) {
            (Some(l), Some(a)) if l != a => ip(a),
            _ => None,
        }
    }
}

pub fn parse_address(payload: &[u8], unknown: &mut UnknownAttrs) -> Result<Address> {
    let (h, attrs) = ADDRESSES.split(payload)?;
    let mut a = Address {
        family: ifaddrmsg::IFA_FAMILY.get(h),
        prefixlen: ifaddrmsg::IFA_PREFIXLEN.get(h),
        flags: ifaddrmsg::IFA_FLAGS.get(h) as u32,
        scope: ifaddrmsg::IFA_SCOPE.get(h),
        ifindex: ifaddrmsg::IFA_INDEX.get(h),
        ..Default::default()
    };
    for attr in attrs {
        let attr = attr?;
        match attr.kind {
            ifa::ADDRESS => a.address = Some(attr.payload.to_vec()),
            ifa::LOCAL => a.local = Some(attr.payload.to_vec()),
            ifa::BROADCAST => a.broadcast = Some(attr.payload.to_vec()),
            ifa::LABEL => a.label = Some(attr.cstr().to_vec()),
            ifa::FLAGS => a.flags = attr.u32("IFA_FLAGS")?,
            ifa::CACHEINFO => {
                // struct ifa_cacheinfo: ifa_prefered, ifa_valid, cstamp, tstamp
                let c = attr.layout("IFA_CACHEINFO", 16)?;
                a.preferred_lft = Some(crate::netlink::bytes::U32(0).get(c));
                a.valid_lft = Some(crate::netlink::bytes::U32(4).get(c));
            }
            k => unknown.note(k),
        }
    }
    Ok(a)
}

/// One route (RTM_NEWROUTE).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Route {
    pub family: u8,
    pub dst_len: u8,
    pub src_len: u8,
    pub tos: u8,
    /// RTA_TABLE when present (it holds all 32 bits), else `rtm_table`.
    pub table: u32,
    /// RTPROT_* (2: kernel, 3: boot, 4: static).
    pub protocol: u8,
    /// RT_SCOPE_* (0: universe, 253: link, 254: host).
    pub scope: u8,
    /// RTN_* (1: unicast, 2: local, 3: broadcast, ...).
    pub rtype: u8,
    /// RTM_F_*.
    pub flags: u32,
    pub dst: Option<Vec<u8>>,
    pub src: Option<Vec<u8>>,
    pub gateway: Option<Vec<u8>>,
    pub prefsrc: Option<Vec<u8>>,
    pub oif: Option<u32>,
    pub iif: Option<u32>,
    pub priority: Option<u32>,
    /// RTA_PREF (IPv6 router preference).
    pub pref: Option<u8>,
    /// Number of next hops in RTA_MULTIPATH (0 without it).
    pub nexthops: usize,
}

pub fn parse_route(payload: &[u8], unknown: &mut UnknownAttrs) -> Result<Route> {
    let (h, attrs) = ROUTES.split(payload)?;
    let mut r = Route {
        family: rtmsg::RTM_FAMILY.get(h),
        dst_len: rtmsg::RTM_DST_LEN.get(h),
        src_len: rtmsg::RTM_SRC_LEN.get(h),
        tos: rtmsg::RTM_TOS.get(h),
        table: rtmsg::RTM_TABLE.get(h) as u32,
        protocol: rtmsg::RTM_PROTOCOL.get(h),
        scope: rtmsg::RTM_SCOPE.get(h),
        rtype: rtmsg::RTM_TYPE.get(h),
        flags: rtmsg::RTM_FLAGS.get(h),
        ..Default::default()
    };
    for a in attrs {
        let a = a?;
        match a.kind {
            rta::DST => r.dst = Some(a.payload.to_vec()),
            rta::SRC => r.src = Some(a.payload.to_vec()),
            rta::GATEWAY => r.gateway = Some(a.payload.to_vec()),
            rta::PREFSRC => r.prefsrc = Some(a.payload.to_vec()),
            rta::OIF => r.oif = Some(a.u32("RTA_OIF")?),
            rta::IIF => r.iif = Some(a.u32("RTA_IIF")?),
            rta::PRIORITY => r.priority = Some(a.u32("RTA_PRIORITY")?),
            rta::TABLE => r.table = a.u32("RTA_TABLE")?,
            rta::PREF => r.pref = Some(a.u8("RTA_PREF")?),
            rta::MULTIPATH => r.nexthops = count_nexthops(a.payload)?,
            k => unknown.note(k),
        }
    }
    Ok(r)
}

/// Counts the `struct rtnexthop` records (len u16, flags, hops, ifindex)
/// of RTA_MULTIPATH, checking each length.
fn count_nexthops(mut p: &[u8]) -> Result<usize> {
    let mut n = 0;
    while !p.is_empty() {
        crate::netlink::bytes::need("rtnexthop", p, 8)?;
        let len = crate::netlink::bytes::U16(0).get(p) as usize;
        if len < 8 || len > p.len() {
            return Err(crate::error::Error::malformed(format!(
                "rtnexthop claims {len} bytes but {} remain in RTA_MULTIPATH",
                p.len()
            )));
        }
        n += 1;
        p = &p[crate::netlink::align(len).min(p.len())..];
    }
    Ok(n)
}

/// The routes `ip route save` (`ip -6 route save` for AF_INET6) writes,
/// from a dump of table main: not cached, of the dumped family, in table
/// main — and, for IPv6 while no other table was seen, not of type local.
/// A kernel that checks dumps strictly has already kept only table main;
/// an older one sends every table, and this filter keeps the same ones.
#[derive(Debug, Clone, Default)]
pub struct SaveFilter {
    family: Option<u8>,
    ip6_multiple_tables: bool,
}

impl SaveFilter {
    /// `ip route save` (no family: every reply of the AF_INET dump) or
    /// `ip -6 route save` (`Some(AF_INET6)`).
    pub fn new(family: Option<u8>) -> Self {
        SaveFilter { family, ip6_multiple_tables: false }
    }

    pub fn keeps(&mut self, r: &Route) -> bool {
        let v6 = r.family == libc::AF_INET6 as u8;
        if self.family.is_some_and(|f| f != r.family) {
            return false;
        }
        if v6 && r.table != RT_TABLE_MAIN {
            self.ip6_multiple_tables = true;
        }
        if r.flags & RTM_F_CLONED != 0 {
            return false;
        }
        if v6 && !self.ip6_multiple_tables {
            r.rtype != RTN_LOCAL
        } else {
            r.table == RT_TABLE_MAIN
        }
    }
}

/// One policy routing rule (RTM_NEWRULE).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rule {
    pub family: u8,
    pub dst_len: u8,
    pub src_len: u8,
    pub tos: u8,
    /// FRA_TABLE when present, else the header's table.
    pub table: u32,
    /// FR_ACT_* (1: to table, 2: goto, 3: nop, 6: blackhole, ...).
    pub action: u8,
    /// FIB_RULE_* (2: invert).
    pub flags: u32,
    pub priority: Option<u32>,
    pub src: Option<Vec<u8>>,
    pub dst: Option<Vec<u8>>,
    pub iifname: Option<Vec<u8>>,
    pub oifname: Option<Vec<u8>>,
    pub fwmark: Option<u32>,
    pub fwmask: Option<u32>,
    pub goto: Option<u32>,
}

pub fn parse_rule(payload: &[u8], unknown: &mut UnknownAttrs) -> Result<Rule> {
    let (h, attrs) = RULES.split(payload)?;
    let mut r = Rule {
        family: fib_rule_hdr::FAMILY.get(h),
        dst_len: fib_rule_hdr::DST_LEN.get(h),
        src_len: fib_rule_hdr::SRC_LEN.get(h),
        tos: fib_rule_hdr::TOS.get(h),
        table: fib_rule_hdr::TABLE.get(h) as u32,
        action: fib_rule_hdr::ACTION.get(h),
        flags: fib_rule_hdr::FLAGS.get(h),
        ..Default::default()
    };
    for a in attrs {
        let a = a?;
        match a.kind {
            fra::TABLE => r.table = a.u32("FRA_TABLE")?,
            fra::PRIORITY => r.priority = Some(a.u32("FRA_PRIORITY")?),
            fra::SRC => r.src = Some(a.payload.to_vec()),
            fra::DST => r.dst = Some(a.payload.to_vec()),
            fra::IIFNAME => r.iifname = Some(a.cstr().to_vec()),
            fra::OIFNAME => r.oifname = Some(a.cstr().to_vec()),
            fra::FWMARK => r.fwmark = Some(a.u32("FRA_FWMARK")?),
            fra::FWMASK => r.fwmask = Some(a.u32("FRA_FWMASK")?),
            fra::GOTO => r.goto = Some(a.u32("FRA_GOTO")?),
            k => unknown.note(k),
        }
    }
    Ok(r)
}
