//! rtnetlink (NETLINK_ROUTE) dumps on the same layer as sock_diag: the
//! fixed headers (linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h,
//! linux/fib_rules.h) as named fields, and the dumps CRIU's
//! `dump_net_ns` makes as one list. Each header starts with its address
//! family, so one function builds every request.
//!
//! Adding a dump (RTM_GETNEIGH with ndmsg, RTM_GETNSID with rtgenmsg,
//! ...) is one entry in [`ALL`] (plus its header's layout).

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

/// Every rtnetlink dump criurs knows. Each reply header is also the
/// request's body, zeroed but for its family.
pub const ALL: [DumpKind; 4] = [LINKS, ADDRESSES, ROUTES, RULES];

/// A dump request of `kind` (an entry of [`ALL`]) for address family
/// `family` (AF_UNSPEC: all; AF_INET/AF_INET6 for routes, rules and
/// addresses of one family; AF_PACKET for links as CRIU asks).
pub fn request(kind: DumpKind, family: u8) -> Request {
    let mut body = vec![0u8; kind.reply_header];
    // Every header of the list starts with its family byte.
    U8(0).set(&mut body, family);
    kind.request(body)
}
