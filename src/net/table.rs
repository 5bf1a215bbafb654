//! The sockets of one network namespace, keyed by inode (CRIU's
//! `lookup_socket`), iterated in a stable order: the order of the
//! sources in [`super::plan::PLAN`], and within one the kernel's dump
//! order.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::error::Error;
use crate::netlink::UnknownAttrs;

use super::plan::Source;

use super::record::{Detail, Socket, TCP_ESTABLISHED, TCP_LISTEN};

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
    /// The kernel has no diag module for it (ENOENT): a warning for
    /// raw_diag and the /proc tables, and for every family when the
    /// sockets are collected to be shown; a dump of the namespace fails
    /// instead, as CRIU's.
    Unsupported,
    /// Failed in the caller's own namespace, where CRIU logs and goes on;
    /// a socket that needs the missing data fails later.
    Failed(Error),
}

/// The outcome of one source of the plan ("unix", "tcp4", ...,
/// "proc-icmp6").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyStatus {
    pub name: &'static str,
    pub source: Source,
    pub state: FamilyState,
    /// Attributes of its replies that were met but not read.
    pub unknown: UnknownAttrs,
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

/// The most sockets a table reserves room for ahead (some 200 MiB): a
/// count from the namespace is a hint, not a promise.
pub const MAX_RESERVED: usize = 2 << 20;

/// Builds a table socket by socket, in order, indexing as it goes, so the
/// index of the big unix dump is built while the kernel still dumps.
/// Inode 0 (orphaned TCP sockets) is listed but not indexed; a repeated
/// inode (a socket seen twice while the kernel's tables changed under the
/// dump) is listed once.
#[derive(Debug, Default)]
pub struct TableBuilder {
    sockets: Vec<Socket>,
    index: InoMap,
    duplicates: usize,
    /// Inodes left out: the sockets criurs itself made in the namespace.
    excluded: Vec<u32>,
}

impl TableBuilder {
    pub fn excluding(inodes: Vec<u32>) -> TableBuilder {
        TableBuilder { excluded: inodes, ..Default::default() }
    }

    /// As [`excluding`](Self::excluding), with room for `capacity`
    /// sockets (at most [`MAX_RESERVED`]; the table grows past it as
    /// needed): the records and the index are not regrown and rehashed
    /// while the dump arrives.
    pub fn with_capacity(inodes: Vec<u32>, capacity: usize) -> TableBuilder {
        let capacity = capacity.min(MAX_RESERVED);
        TableBuilder {
            sockets: Vec::with_capacity(capacity),
            index: InoMap::with_capacity_and_hasher(capacity, Default::default()),
            excluded: inodes,
            ..Default::default()
        }
    }

    /// Adds one socket unless its inode is excluded or already listed;
    /// returns whether it was added.
    pub fn push(&mut self, socket: Socket) -> bool {
        if socket.ino != 0 {
            if self.excluded.contains(&socket.ino) {
                return false;
            }
            match self.index.entry(socket.ino) {
                std::collections::hash_map::Entry::Occupied(_) => {
                    self.duplicates += 1;
                    return false;
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(self.sockets.len() as u32);
                }
            }
        }
        self.sockets.push(socket);
        true
    }

    /// Adds a batch; returns how many were added.
    pub fn extend(&mut self, batch: Vec<Socket>) -> usize {
        self.sockets.reserve(batch.len());
        batch.into_iter().map(|s| self.push(s) as usize).sum()
    }

    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    pub fn finish(mut self, families: Vec<FamilyStatus>) -> SocketTable {
        self.sockets.shrink_to_fit();
        resolve_in_flight(&mut self.sockets);
        SocketTable { sockets: self.sockets, index: self.index, families, duplicates: self.duplicates }
    }
}

/// CRIU's in-flight rule (`dump_one_unix_fd` through the listeners'
/// icons): a connected stream or seqpacket socket without a peer inode
/// whose inode a listener lists among its waiting connections gets that
/// listener as `peer`, and is marked `in_flight`. One pass to index the
/// icons, one to resolve: linear in the sockets.
fn resolve_in_flight(sockets: &mut [Socket]) {
    let mut listener_of = InoMap::default();
    for s in sockets.iter() {
        if let (Detail::Unix(u), TCP_LISTEN) = (&s.detail, s.state) {
            for &icon in u.icons.iter().filter(|&&i| i != 0) {
                listener_of.insert(icon, s.ino);
            }
        }
    }
    if listener_of.is_empty() {
        return;
    }
    for s in sockets.iter_mut() {
        let connected_stream = s.state == TCP_ESTABLISHED && s.type_ != libc::SOCK_DGRAM as u8;
        if let Detail::Unix(u) = &mut s.detail {
            if connected_stream && u.peer == 0 {
                if let Some(&listener) = listener_of.get(&s.ino) {
                    u.peer = listener;
                    u.in_flight = true;
                }
            }
        }
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
    use crate::net::record::{UnixDetail, AF_UNIX};

    fn sk(ino: u32) -> Socket {
        Socket { ino, family: AF_UNIX, type_: 1, state: 1, detail: Detail::Unix(UnixDetail { peer: ino + 1, ..Default::default() }) }
    }

    /// The table of per-request batches, in order, as collection builds it.
    fn from_batches(batches: Vec<Vec<Socket>>, families: Vec<FamilyStatus>) -> SocketTable {
        let mut builder = TableBuilder::default();
        for batch in batches {
            builder.extend(batch);
        }
        builder.finish(families)
    }

    #[test]
    fn keeps_batch_order_indexes_nonzero_inodes_and_drops_repeats() {
        let status = |source: Source, state| FamilyStatus { name: source.name(), source, state, unknown: Default::default() };
        let tcp4 = crate::net::DiagRequest::Inet { family: crate::net::AF_INET, proto: crate::net::diag::IPPROTO_TCP };
        let fam = vec![status(Source::Diag(crate::net::DiagRequest::Unix), FamilyState::Collected(3)), status(Source::Diag(tcp4), FamilyState::Unsupported)];
        let t = from_batches(vec![vec![sk(5), sk(0), sk(3)], vec![sk(9), sk(5), sk(0)]], fam);
        let order: Vec<u32> = t.iter().map(|s| s.ino).collect();
        assert_eq!(order, vec![5, 0, 3, 9, 0]);
        assert_eq!(t.duplicates(), 1);
        assert_eq!(t.lookup(9).unwrap().unix().unwrap().peer, 10);
        assert_eq!(t.position(3), Some(2));
        assert!(t.lookup(0).is_none() && t.lookup(4).is_none());
        assert!(t.collected("unix") && !t.collected("tcp4"));
        // a repeat inside the first batch keeps the first occurrence
        let t = from_batches(vec![vec![sk(1), sk(2), sk(1)]], vec![]);
        assert_eq!(t.iter().map(|s| s.ino).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!((t.position(2), t.duplicates()), (Some(1), 1));
        assert!(std::mem::size_of::<Socket>() <= 112, "record size {}", std::mem::size_of::<Socket>());
        // excluded inodes (criurs's own sockets) are left out
        let mut b = TableBuilder::excluding(vec![2]);
        assert_eq!(b.extend(vec![sk(1), sk(2), sk(3), sk(3)]), 2);
        assert_eq!(b.finish(vec![]).iter().map(|s| s.ino).collect::<Vec<_>>(), vec![1, 3]);
    }

    fn unix(ino: u32, type_: i32, state: u8, peer: u32, icons: &[u32]) -> Socket {
        let detail = Detail::Unix(UnixDetail { peer, icons: icons.into(), ..Default::default() });
        Socket { ino, family: AF_UNIX, type_: type_ as u8, state, detail }
    }

    #[test]
    fn a_connection_never_accepted_has_the_listener_as_peer() {
        let (stream, dgram) = (libc::SOCK_STREAM, libc::SOCK_DGRAM);
        // The client sits before its listener in the dump, as it may.
        let t = from_batches(
            vec![vec![
                unix(21, stream, TCP_ESTABLISHED, 0, &[]),
                unix(10, stream, TCP_LISTEN, 0, &[21, 0, 22, 50]),
                unix(22, libc::SOCK_SEQPACKET, TCP_ESTABLISHED, 0, &[]),
                unix(30, stream, TCP_ESTABLISHED, 31, &[]),
                unix(40, stream, TCP_ESTABLISHED, 0, &[]),
                unix(50, dgram, TCP_ESTABLISHED, 0, &[]),
            ]],
            vec![],
        );
        let peer = |ino| t.lookup(ino).unwrap().unix().map(|u| (u.peer, u.in_flight)).unwrap();
        assert_eq!(peer(21), (10, true), "resolved through the listener's icons");
        assert_eq!(peer(22), (10, true));
        assert_eq!(peer(30), (31, false), "a connected socket keeps its peer");
        assert_eq!(peer(40), (0, false), "a dangling connection stays without peer");
        assert_eq!(peer(50), (0, false));
        assert_eq!(peer(10), (0, false));
    }
}
