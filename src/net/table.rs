//! The sockets of one network namespace, keyed by inode (CRIU's
//! `lookup_socket`), iterated in a stable order: the order the requests
//! were sent (unix, tcp4, udp4, udplite4, tcp6, udp6, udplite6, raw,
//! ping, packet, netlink), and within one the kernel's dump order.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::error::Error;

use super::record::Socket;

/// A multiplicative hash for socket inodes: kernel ids need no SipHash,
/// and a 120,000-socket table is built in well under a millisecond.
#[derive(Debug, Default, Clone, Copy)]
pub struct InoHasher(u64);

impl Hasher for InoHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.0 = (v as u64 ^ 0x5bd1_e995).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type InoMap = HashMap<u32, u32, BuildHasherDefault<InoHasher>>;

/// What became of one dump request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FamilyState {
    /// Collected; this many sockets.
    Collected(usize),
    /// The kernel has no diag module for it (ENOENT): a warning, as in CRIU.
    Unsupported,
    /// Failed in the caller's own namespace, where CRIU logs and goes on;
    /// a socket that needs the missing data fails later.
    Failed(Error),
}

/// The outcome of one request ("unix", "tcp4", ..., "icmp6").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyStatus {
    pub name: &'static str,
    pub state: FamilyState,
}

/// The sockets of one network namespace.
#[derive(Debug, Default)]
pub struct SocketTable {
    sockets: Vec<Socket>,
    index: InoMap,
    families: Vec<FamilyStatus>,
    duplicates: usize,
}

impl SocketTable {
    /// Builds the table from per-request batches, in order. Inode 0
    /// (orphaned TCP sockets) is listed but not indexed; a repeated inode
    /// (a socket seen twice while the kernel's tables changed under the
    /// dump) is listed once.
    pub fn from_batches(batches: Vec<Vec<Socket>>, families: Vec<FamilyStatus>) -> SocketTable {
        let total: usize = batches.iter().map(Vec::len).sum();
        let mut index = InoMap::with_capacity_and_hasher(total, Default::default());
        let mut sockets: Vec<Socket> = Vec::new();
        let mut duplicates = 0;
        for batch in batches {
            if sockets.is_empty() {
                // The largest batch (unix) moves in without a copy.
                sockets = batch;
                sockets.reserve_exact(total - sockets.len());
                let mut seen_dup = false;
                for (i, s) in sockets.iter().enumerate() {
                    if s.ino != 0 && index.insert(s.ino, i as u32).is_some() {
                        seen_dup = true;
                    }
                }
                if seen_dup {
                    // Rare: rebuild keeping first occurrences only.
                    let all = std::mem::take(&mut sockets);
                    index.clear();
                    for s in all {
                        if s.ino != 0 && index.contains_key(&s.ino) {
                            duplicates += 1;
                            continue;
                        }
                        if s.ino != 0 {
                            index.insert(s.ino, sockets.len() as u32);
                        }
                        sockets.push(s);
                    }
                }
                continue;
            }
            for s in batch {
                if s.ino != 0 {
                    if index.contains_key(&s.ino) {
                        duplicates += 1;
                        continue;
                    }
                    index.insert(s.ino, sockets.len() as u32);
                }
                sockets.push(s);
            }
        }
        SocketTable { sockets, index, families, duplicates }
    }

    /// CRIU's `lookup_socket(ino)`.
    pub fn lookup(&self, ino: u32) -> Option<&Socket> {
        self.index.get(&ino).map(|&i| &self.sockets[i as usize])
    }

    /// Position of `ino` in iteration order.
    pub fn position(&self, ino: u32) -> Option<usize> {
        self.index.get(&ino).map(|&i| i as usize)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Socket> {
        self.sockets.iter()
    }

    pub fn as_slice(&self) -> &[Socket] {
        &self.sockets
    }

    pub fn get(&self, index: usize) -> Option<&Socket> {
        self.sockets.get(index)
    }

    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    /// What each request gave (CRIU's collect bits, with reasons).
    pub fn families(&self) -> &[FamilyStatus] {
        &self.families
    }

    /// Whether a request ("unix", "tcp6", "packet", ...) was collected.
    pub fn collected(&self, name: &str) -> bool {
        self.families.iter().any(|f| f.name == name && matches!(f.state, FamilyState::Collected(_)))
    }

    /// Sockets reported twice by the kernel and listed once.
    pub fn duplicates(&self) -> usize {
        self.duplicates
    }

    /// Bytes the table holds: records, their heap parts and the index
    /// (an estimate of the hash map from its capacity).
    pub fn memory_bytes(&self) -> usize {
        let records = self.sockets.capacity() * std::mem::size_of::<Socket>();
        let heap: usize = self.sockets.iter().map(Socket::heap_bytes).sum();
        let index = self.index.capacity() * (std::mem::size_of::<(u32, u32)>() + 1);
        records + heap + index
    }

    /// Bytes of names (excluded from the per-socket memory target).
    pub fn name_bytes(&self) -> usize {
        self.sockets.iter().filter_map(Socket::unix).map(|u| u.name.len()).sum()
    }
}

impl<'a> IntoIterator for &'a SocketTable {
    type Item = &'a Socket;
    type IntoIter = std::slice::Iter<'a, Socket>;
    fn into_iter(self) -> Self::IntoIter {
        self.sockets.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::record::{Detail, Socket, UnixDetail, AF_UNIX};

    fn sk(ino: u32) -> Socket {
        Socket { ino, family: AF_UNIX, type_: 1, state: 1, detail: Detail::Unix(UnixDetail { peer: ino + 1, ..Default::default() }) }
    }

    #[test]
    fn keeps_batch_order_indexes_nonzero_inodes_and_drops_repeats() {
        let fam = vec![FamilyStatus { name: "unix", state: FamilyState::Collected(3) }, FamilyStatus { name: "tcp4", state: FamilyState::Unsupported }];
        let t = SocketTable::from_batches(vec![vec![sk(5), sk(0), sk(3)], vec![sk(9), sk(5), sk(0)]], fam);
        let order: Vec<u32> = t.iter().map(|s| s.ino).collect();
        assert_eq!(order, vec![5, 0, 3, 9, 0]);
        assert_eq!(t.duplicates(), 1);
        assert_eq!(t.lookup(9).unwrap().unix().unwrap().peer, 10);
        assert_eq!(t.position(3), Some(2));
        assert!(t.lookup(0).is_none() && t.lookup(4).is_none());
        assert!(t.collected("unix") && !t.collected("tcp4"));
        // a repeat inside the first batch keeps the first occurrence
        let t = SocketTable::from_batches(vec![vec![sk(1), sk(2), sk(1)]], vec![]);
        assert_eq!(t.iter().map(|s| s.ino).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!((t.position(2), t.duplicates()), (Some(1), 1));
        assert!(std::mem::size_of::<Socket>() <= 112, "record size {}", std::mem::size_of::<Socket>());
    }
}
