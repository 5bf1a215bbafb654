//! NETLINK_NETFILTER dumps on the same layer: nftables tables (to tell
//! whether a namespace has a ruleset at all) and conntrack entries and
//! expectations (what CRIU's `dump_nf_ct` writes). A netfilter message
//! type is its subsystem in the high byte and the message in the low
//! one; every request and reply starts with `struct nfgenmsg`.
//!
//! Adding a dump is one entry in [`ALL`].

use super::bytes::{Be16, U8};
use super::{DumpKind, Protocol, Request};

/// `struct nfgenmsg` (linux/netfilter/nfnetlink.h).
pub mod nfgenmsg {
    use super::{Be16, U8};
    pub const LEN: usize = 4;
    pub const NFGEN_FAMILY: U8 = U8(0);
    pub const VERSION: U8 = U8(1);
    /// Resource id (an nftables generation), network byte order.
    pub const RES_ID: Be16 = Be16(2);
}

/// NFNL_SUBSYS_CTNETLINK, NFNL_SUBSYS_CTNETLINK_EXP, NFNL_SUBSYS_NFTABLES.
pub const SUBSYS_CTNETLINK: u16 = 1;
pub const SUBSYS_CTNETLINK_EXP: u16 = 2;
pub const SUBSYS_NFTABLES: u16 = 10;
/// IPCTNL_MSG_CT_NEW / _GET (and the same numbers for expectations).
pub const MSG_CT_NEW: u16 = 0;
pub const MSG_CT_GET: u16 = 1;
/// NFT_MSG_NEWTABLE / NFT_MSG_GETTABLE.
pub const MSG_NFT_NEWTABLE: u16 = 0;
pub const MSG_NFT_GETTABLE: u16 = 1;
/// NFTA_TABLE_NAME: a table's name (a NUL-terminated string).
pub const NFTA_TABLE_NAME: u16 = 1;

const fn msg_type(subsys: u16, msg: u16) -> u16 {
    (subsys << 8) | msg
}

const fn dump(name: &'static str, subsys: u16, get: u16, new: u16) -> DumpKind {
    DumpKind {
        name,
        protocol: Protocol::NETFILTER,
        request_type: msg_type(subsys, get),
        reply_type: msg_type(subsys, new),
        header_name: "nfgenmsg",
        reply_header: nfgenmsg::LEN,
    }
}

pub const NFT_TABLES: DumpKind = dump("nftables table", SUBSYS_NFTABLES, MSG_NFT_GETTABLE, MSG_NFT_NEWTABLE);
pub const CONNTRACK: DumpKind = dump("conntrack", SUBSYS_CTNETLINK, MSG_CT_GET, MSG_CT_NEW);
pub const CONNTRACK_EXPECT: DumpKind = dump("conntrack expectation", SUBSYS_CTNETLINK_EXP, MSG_CT_GET, MSG_CT_NEW);

/// Every netfilter dump criurs knows.
pub const ALL: [DumpKind; 3] = [NFT_TABLES, CONNTRACK, CONNTRACK_EXPECT];

/// A dump of `kind` for every family (NFPROTO_UNSPEC), as CRIU and nft
/// ask.
pub fn request(kind: DumpKind) -> Request {
    kind.request(vec![0u8; nfgenmsg::LEN])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netfilter_dumps_are_one_list() {
        let got: Vec<(&str, u16, u16)> = ALL.iter().map(|k| (k.name, k.request_type, k.reply_type)).collect();
        assert_eq!(got, vec![("nftables table", 0x0a01, 0x0a00), ("conntrack", 0x0101, 0x0100), ("conntrack expectation", 0x0201, 0x0200)]);
        let r = request(CONNTRACK).encode(3);
        assert_eq!(r.len(), 16 + 4);
        assert_eq!(&r[4..6], &0x0101u16.to_ne_bytes());
        assert_eq!(&r[16..], &[0, 0, 0, 0]);
    }
}
