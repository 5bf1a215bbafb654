//! Netfilter state of a namespace, and what criurs does with it.
//!
//! - **nftables.** CRIU 4.2 (built with libnftables) writes nftables-N.img
//!   as the text of nft's `list ruleset`. criurs does not run nft and
//!   does not reimplement its printer, so it asks the kernel itself
//!   (NETLINK_NETFILTER, NFT_MSG_GETTABLE for every family): with no
//!   table there is no ruleset, and the image is what nft prints for
//!   none — empty, as CRIU's is. With any table, the dump is refused
//!   with the tables named: criurs will not claim a ruleset it cannot
//!   write. A kernel without nf_tables has no ruleset either.
//! - **iptables.** CRIU runs `iptables-save`/`ip6tables-save` (the legacy
//!   binaries, when it is built with nftables support) and writes
//!   iptables-N/ip6tables-N from their text; with no legacy binary it
//!   writes neither. criurs reads which legacy (x_tables) tables the
//!   namespace has (`/proc/net/ip_tables_names`, `ip6_tables_names`,
//!   from inside it): none, and it writes no image (as CRIU without the
//!   binaries); any, and the dump is refused: their rules would be lost.
//! - **conntrack.** CRIU dumps the conntrack entries and expectations
//!   (NFNL_SUBSYS_CTNETLINK(_EXP)) as raw messages into netns-ct-N.img
//!   and netns-exp-N.img, created only when there is an entry. criurs
//!   does the same, through the same netlink layer.

use crate::error::{Error, Result};
use crate::netlink::netfilter::{request, CONNTRACK, CONNTRACK_EXPECT, NFTA_TABLE_NAME, NFT_TABLES};
use crate::netlink::{NlSocket, Protocol};

/// An nftables table: its family (NFPROTO_*) and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftTable {
    pub family: u8,
    pub name: Vec<u8>,
}

/// Legacy iptables tables loaded in the namespace, by file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LegacyTables {
    /// /proc/net/ip_tables_names
    pub ipv4: Vec<Vec<u8>>,
    /// /proc/net/ip6_tables_names
    pub ipv6: Vec<Vec<u8>>,
}

/// What netfilter holds in one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Netfilter {
    /// None: the kernel has no nf_tables (no ruleset can exist).
    pub nft_tables: Option<Vec<NftTable>>,
    pub legacy: LegacyTables,
    /// Conntrack entries, each message whole, back to back.
    pub conntrack: Vec<u8>,
    pub conntrack_count: usize,
    pub expectations: Vec<u8>,
    pub expectation_count: usize,
}

impl Netfilter {
    /// Reads it all; runs on the thread inside the namespace.
    pub fn read() -> Result<Netfilter> {
        let mut sock = NlSocket::new(Protocol::NETFILTER)?;
        let mut nf = Netfilter { nft_tables: nft_tables(&mut sock)?, legacy: legacy_tables()?, ..Default::default() };
        nf.read_conntrack(&mut sock)?;
        Ok(nf)
    }

    /// Only conntrack (a namespace declared external).
    pub fn conntrack_only() -> Result<Netfilter> {
        let mut sock = NlSocket::new(Protocol::NETFILTER)?;
        let mut nf = Netfilter::default();
        nf.read_conntrack(&mut sock)?;
        Ok(nf)
    }

    fn read_conntrack(&mut self, sock: &mut NlSocket) -> Result<()> {
        let (mut ct, mut n) = (Vec::new(), 0);
        sock.dump_messages(&request(CONNTRACK), &mut |m| {
            ct.extend_from_slice(m.raw);
            n += 1;
            Ok(())
        })
        .map_err(|e| e.context("dump conntrack entries (CRIU's dump_nf_ct)"))?;
        let (mut exp, mut k) = (Vec::new(), 0);
        sock.dump_messages(&request(CONNTRACK_EXPECT), &mut |m| {
            exp.extend_from_slice(m.raw);
            k += 1;
            Ok(())
        })
        .map_err(|e| e.context("dump conntrack expectations (CRIU's dump_nf_ct)"))?;
        (self.conntrack, self.conntrack_count, self.expectations, self.expectation_count) = (ct, n, exp, k);
        Ok(())
    }

    /// Why criurs cannot dump this namespace's netfilter state, if it cannot.
    pub fn refusal(&self, ns_id: u32) -> Option<Error> {
        if let Some(tables) = self.nft_tables.as_ref().filter(|t| !t.is_empty()) {
            let names: Vec<String> = tables.iter().map(|t| format!("{} {}", family_name(t.family), crate::netdev::escape(&t.name))).collect();
            return Some(Error::new(
                libc::EOPNOTSUPP,
                format!(
                    "net namespace {ns_id} has an nftables ruleset (tables: {}): CRIU writes it as nft's text, which criurs does not produce; flush it or dump with CRIU",
                    names.join(", ")
                ),
            ));
        }
        let legacy: Vec<String> = self.legacy.ipv4.iter().map(|t| format!("ip {}", crate::netdev::escape(t)))
            .chain(self.legacy.ipv6.iter().map(|t| format!("ip6 {}", crate::netdev::escape(t))))
            .collect();
        if !legacy.is_empty() {
            return Some(Error::new(
                libc::EOPNOTSUPP,
                format!(
                    "net namespace {ns_id} has legacy iptables tables ({}): CRIU saves them with iptables-save, whose text criurs does not produce",
                    legacy.join(", ")
                ),
            ));
        }
        None
    }
}

/// NFPROTO_* as nft names them.
pub fn family_name(family: u8) -> &'static str {
    match family {
        1 => "inet",
        2 => "ip",
        3 => "arp",
        5 => "netdev",
        7 => "bridge",
        10 => "ip6",
        _ => "unknown",
    }
}

fn nft_tables(sock: &mut NlSocket) -> Result<Option<Vec<NftTable>>> {
    let mut tables = Vec::new();
    let result = sock.dump(&request(NFT_TABLES), &mut |p| {
        tables.push(parse_nft_table(p)?);
        Ok(())
    });
    match result {
        Ok(()) => Ok(Some(tables)),
        // nfnetlink answers a well-formed request with EINVAL (older
        // kernels) or EOPNOTSUPP when it has no nf_tables subsystem.
        Err(e) if matches!(e.errno(), libc::EINVAL | libc::EOPNOTSUPP | libc::EPROTONOSUPPORT) => Ok(None),
        Err(e) => Err(e.context("list nftables tables")),
    }
}

/// One NFT_MSG_NEWTABLE reply's payload.
pub fn parse_nft_table(payload: &[u8]) -> Result<NftTable> {
    let (h, attrs) = NFT_TABLES.split(payload)?;
    let family = crate::netlink::netfilter::nfgenmsg::NFGEN_FAMILY.get(h);
    let mut name = Vec::new();
    for a in attrs {
        let a = a?;
        if a.kind == NFTA_TABLE_NAME {
            name = a.cstr().to_vec();
        }
    }
    Ok(NftTable { family, name })
}

/// The legacy tables named in /proc/thread-self/net/ip{,6}_tables_names
/// (this thread's namespace); a missing file means no x_tables at all.
fn legacy_tables() -> Result<LegacyTables> {
    let read = |file: &str| -> Result<Vec<Vec<u8>>> {
        let path = format!("/proc/thread-self/net/{file}");
        match std::fs::read(&path) {
            Ok(text) => Ok(text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Error::io(&e, format!("read {path}"))),
        }
    };
    Ok(LegacyTables { ipv4: read("ip_tables_names")?, ipv6: read("ip6_tables_names")? })
}
