//! rtnetlink (NETLINK_ROUTE) dumps on the same layer as sock_diag: the
//! fixed headers (linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h,
//! linux/fib_rules.h) as named fields, and the dumps CRIU's
//! `dump_net_ns` makes as one list. Each header starts with its address
//! family, so one function builds every request.
//!
//! Adding a dump (RTM_GETNEIGH with ndmsg, ...) is one entry in [`ALL`]
//! (plus its header's layout).

use super::bytes::{U16, U32, U8};
use super::{DumpKind, Protocol, Request};

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_GETADDR: u16 = 22;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_GETROUTE: u16 = 26;
pub const RTM_NEWRULE: u16 = 32;
pub const RTM_GETRULE: u16 = 34;
pub const RTM_NEWNSID: u16 = 88;
pub const RTM_GETNSID: u16 = 90;

/// The main routing table (RT_TABLE_MAIN), the one `ip route save` keeps.
pub const RT_TABLE_MAIN: u32 = 254;
/// RTA_TABLE: a route's table as a u32 (rtm_table holds only 8 bits).
pub const RTA_TABLE: u16 = 15;
/// NETNSA_NSID (an i32, -1 for none) and NETNSA_FD (a namespace fd of
/// the sender) of RTM_GETNSID / RTM_NEWNSID.
pub const NETNSA_NSID: u16 = 1;
pub const NETNSA_FD: u16 = 3;

/// `struct rtgenmsg` (linux/rtnetlink.h): just a family; attributes
/// follow it aligned, at 4.
pub mod rtgenmsg {
    use super::U8;
    pub const LEN: usize = 1;
    pub const RTGEN_FAMILY: U8 = U8(0);
}

/// `struct ifinfomsg` (linux/rtnetlink.h): one link.
pub mod ifinfomsg {
    use super::{U16, U32, U8};
    pub const LEN: usize = 16;
    pub const IFI_FAMILY: U8 = U8(0);
    /// ARPHRD_* (772: loopback, 1: ether).
    pub const IFI_TYPE: U16 = U16(2);
    pub const IFI_INDEX: U32 = U32(4);
    /// IFF_* flags.
    pub const IFI_FLAGS: U32 = U32(8);
    pub const IFI_CHANGE: U32 = U32(12);
}

/// `struct ifaddrmsg` (linux/if_addr.h): one address.
pub mod ifaddrmsg {
    use super::{U32, U8};
    pub const LEN: usize = 8;
    pub const IFA_FAMILY: U8 = U8(0);
    pub const IFA_PREFIXLEN: U8 = U8(1);
    pub const IFA_FLAGS: U8 = U8(2);
    pub const IFA_SCOPE: U8 = U8(3);
    pub const IFA_INDEX: U32 = U32(4);
}

/// `struct rtmsg` (linux/rtnetlink.h): one route.
pub mod rtmsg {
    use super::{U32, U8};
    pub const LEN: usize = 12;
    pub const RTM_FAMILY: U8 = U8(0);
    pub const RTM_DST_LEN: U8 = U8(1);
    pub const RTM_SRC_LEN: U8 = U8(2);
    pub const RTM_TOS: U8 = U8(3);
    pub const RTM_TABLE: U8 = U8(4);
    pub const RTM_PROTOCOL: U8 = U8(5);
    pub const RTM_SCOPE: U8 = U8(6);
    pub const RTM_TYPE: U8 = U8(7);
    pub const RTM_FLAGS: U32 = U32(8);
}

/// `struct fib_rule_hdr` (linux/fib_rules.h): one rule.
pub mod fib_rule_hdr {
    use super::{U32, U8};
    pub const LEN: usize = 12;
    pub const FAMILY: U8 = U8(0);
    pub const DST_LEN: U8 = U8(1);
    pub const SRC_LEN: U8 = U8(2);
    pub const TOS: U8 = U8(3);
    pub const TABLE: U8 = U8(4);
    pub const ACTION: U8 = U8(7);
    pub const FLAGS: U32 = U32(8);
}

const fn dump(name: &'static str, request_type: u16, reply_type: u16, header_name: &'static str, reply_header: usize) -> DumpKind {
    DumpKind { name, protocol: Protocol::ROUTE, request_type, reply_type, header_name, reply_header }
}

pub const LINKS: DumpKind = dump("link", RTM_GETLINK, RTM_NEWLINK, "ifinfomsg", ifinfomsg::LEN);
pub const ADDRESSES: DumpKind = dump("addr", RTM_GETADDR, RTM_NEWADDR, "ifaddrmsg", ifaddrmsg::LEN);
pub const ROUTES: DumpKind = dump("route", RTM_GETROUTE, RTM_NEWROUTE, "rtmsg", rtmsg::LEN);
pub const RULES: DumpKind = dump("rule", RTM_GETRULE, RTM_NEWRULE, "fib_rule_hdr", fib_rule_hdr::LEN);
/// The id another namespace has in this one: a query, not a dump.
pub const NSID: DumpKind = dump("nsid", RTM_GETNSID, RTM_NEWNSID, "rtgenmsg", rtgenmsg::LEN);

/// Every rtnetlink request criurs knows. Each reply header is also the
/// request's body, zeroed but for its family.
pub const ALL: [DumpKind; 5] = [LINKS, ADDRESSES, ROUTES, RULES, NSID];

/// A dump request of `kind` (an entry of [`ALL`]) for address family
/// `family` (AF_UNSPEC: all; AF_INET/AF_INET6 for routes, rules and
/// addresses of one family; AF_PACKET for links as CRIU asks).
pub fn request(kind: DumpKind, family: u8) -> Request {
    kind.request(header(kind, family))
}

/// The request body of `kind`: its header, zeroed but for the family
/// (every header of the list starts with its family byte).
fn header(kind: DumpKind, family: u8) -> Vec<u8> {
    let mut body = vec![0u8; kind.reply_header];
    U8(0).set(&mut body, family);
    body
}

/// The route dump `ip route save` sends (`ip -6 route save` for
/// AF_INET6): routes of `family` in table `table`, named by RTA_TABLE so
/// that a kernel checking strictly filters them itself.
pub fn routes_of_table(family: u8, table: u32) -> Request {
    let mut body = header(ROUTES, family);
    super::attr::push(&mut body, RTA_TABLE, &table.to_ne_bytes());
    ROUTES.request(body)
}

/// RTM_GETNSID for the namespace open as `ns` (the kernel looks the fd
/// up in the sender's fd table, so the request must be sent by this
/// process while `ns` is open): the id it has in the namespace of the
/// socket, if any.
pub fn nsid_of(ns: std::os::fd::BorrowedFd<'_>) -> Request {
    use std::os::fd::AsRawFd;
    let mut body = header(NSID, libc::AF_UNSPEC as u8);
    super::attr::push(&mut body, NETNSA_FD, &ns.as_raw_fd().to_ne_bytes());
    NSID.query(body)
}
