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

/// The table's index, inode to position: open addressing with linear
/// probing over one `u64` a slot (inode in the high half, position in
/// the low; [`FREE`] is no socket's), at most 7/8 full (as hashbrown's
/// maps; a batch's inserts sweep the slots in order, so the longer
/// probes of a full table stay within a cache line or two).
/// The dump comes in the kernel's hash order, so each insert lands on a
/// random slot of an index larger than the caches: one cache line a
/// socket here, where a map with separate control bytes and slots
/// touches two (measured: ~10% of a 100,000-socket collection's CPU).
#[derive(Debug, Default, Clone)]
struct InoIndex {
    slots: Vec<u64>,
    len: usize,
}

/// A free slot: position u32::MAX is never a socket's (a table holds
/// fewer). Not 0, so that the slots are written when made: zeroed
/// memory (`vec![0; n]`, calloc) is mapped to the shared zero page by
/// the first probe's read, and the first insert's write then copies it
/// and flushes the stale entry from the TLB of every CPU running this
/// process, an interrupt to the receiving thread's core per 4 KiB page
/// of the index (measured: ~10% of a 100,000-socket collection's CPU).
const FREE: u64 = u64::MAX;

/// The slots for `n` inodes: a power of two, at most 7/8 full.
fn slots_for(n: usize) -> usize {
    (n + n / 7 + 1).next_power_of_two().max(16)
}

fn free_slots(n: usize) -> Vec<u64> {
    vec![FREE; n]
}

impl InoIndex {
    fn with_capacity(n: usize) -> InoIndex {
        let mut index = InoIndex::default();
        if n > 0 {
            index.slots = free_slots(slots_for(n));
        }
        index
    }

    #[inline]
    fn home(&self, ino: u32) -> usize {
        // Fibonacci hashing: the top bits of the product pick the slot.
        let bits = self.slots.len().trailing_zeros();
        ((ino as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
    }

    /// The position of `ino`, or where it would go (a free slot).
    #[inline]
    fn find(&self, ino: u32) -> (usize, Option<u32>) {
        let mask = self.slots.len() - 1;
        let mut at = self.home(ino);
        loop {
            let slot = self.slots[at];
            if slot == FREE {
                return (at, None);
            }
            if (slot >> 32) as u32 == ino {
                return (at, Some(slot as u32));
            }
            at = (at + 1) & mask;
        }
    }

    fn get(&self, ino: u32) -> Option<u32> {
        if ino == 0 || self.slots.is_empty() {
            return None;
        }
        self.find(ino).1
    }

    /// Adds `ino` at `pos` unless it is there already; returns whether
    /// it was added. `ino` is not 0, `pos` not u32::MAX.
    #[inline]
    fn insert(&mut self, ino: u32, pos: u32) -> bool {
        if slots_for(self.len + 1) > self.slots.len() {
            self.grow();
        }
        match self.find(ino) {
            (_, Some(_)) => false,
            (at, None) => {
                self.slots[at] = (ino as u64) << 32 | pos as u64;
                self.len += 1;
                true
            }
        }
    }

    /// Grows (rehashing) so that `more` inserts fit without growing.
    fn reserve(&mut self, more: usize) {
        while slots_for(self.len + more) > self.slots.len() {
            self.grow();
        }
    }

    /// Orders `keys` (inode high, position low) by their home slot,
    /// stably: inserted in that order, a batch sweeps the index from
    /// one end to the other instead of hitting it at random, and of
    /// two equal inodes the earlier position still goes in first. A
    /// radix sort, 11 bits a pass; `scratch` is its second buffer.
    fn sort_by_home(&self, keys: &mut Vec<u64>, scratch: &mut Vec<u64>) {
        const WIDTH: u32 = 11;
        let bits = self.slots.len().trailing_zeros();
        let mut counts = vec![0usize; 1 << WIDTH];
        let mut shift = 0;
        while shift < bits {
            let digit = |key: u64| (self.home((key >> 32) as u32) >> shift) & ((1 << WIDTH) - 1);
            counts.iter_mut().for_each(|c| *c = 0);
            for &key in keys.iter() {
                counts[digit(key)] += 1;
            }
            let mut at = 0;
            for c in counts.iter_mut() {
                (*c, at) = (at, at + *c);
            }
            scratch.clear();
            scratch.resize(keys.len(), 0);
            for &key in keys.iter() {
                let d = digit(key);
                scratch[counts[d]] = key;
                counts[d] += 1;
            }
            std::mem::swap(keys, scratch);
            shift += WIDTH;
        }
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, free_slots(size));
        for slot in old.into_iter().filter(|&s| s != FREE) {
            let (at, _) = self.find((slot >> 32) as u32);
            self.slots[at] = slot;
        }
    }

    fn bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<u64>()
    }
}

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
    index: InoIndex,
    families: Vec<FamilyStatus>,
    duplicates: usize,
}

impl SocketTable {
    /// CRIU's `lookup_socket(ino)`.
    pub fn lookup(&self, ino: u32) -> Option<&Socket> {
        self.index.get(ino).map(|i| &self.sockets[i as usize])
    }

    /// Position of `ino` in iteration order.
    pub fn position(&self, ino: u32) -> Option<usize> {
        self.index.get(ino).map(|i| i as usize)
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
        let index = self.index.bytes();
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
    index: InoIndex,
    duplicates: usize,
    /// Inodes left out: the sockets criurs itself made in the namespace.
    excluded: Vec<u32>,
    /// Sockets listed but not yet indexed (inode high, position low):
    /// indexed a chunk at a time, in slot order (see `flush`).
    pending: Vec<u64>,
    scratch: Vec<u64>,
    /// A unix listener with waiting connections was listed: only then
    /// can `finish` have in-flight connections to resolve.
    icons: bool,
}

/// Sockets listed before their inodes are indexed as one sweep: the
/// index stays cache-sized per sweep's working set, and the last chunk
/// of a dump costs little after the kernel's end.
const CHUNK: usize = 16 * 1024;

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
            index: InoIndex::with_capacity(capacity),
            excluded: inodes,
            ..Default::default()
        }
    }

    /// Adds one socket unless its inode is excluded or already listed;
    /// returns whether it was added.
    pub fn push(&mut self, socket: Socket) -> bool {
        self.flush();
        if socket.ino != 0 {
            if self.excluded.contains(&socket.ino) {
                return false;
            }
            if !self.index.insert(socket.ino, self.sockets.len() as u32) {
                self.duplicates += 1;
                return false;
            }
        }
        self.icons |= has_icons(&socket);
        self.sockets.push(socket);
        true
    }

    /// Lists one socket unless its inode is excluded, and indexes it
    /// later, with a chunk of others: a repeated inode is then taken out
    /// again (the first listing stays). What [`flush`](Self::flush),
    /// `extend`, `push` and `finish` see is settled.
    pub(crate) fn push_deferred(&mut self, socket: Socket) {
        if socket.ino != 0 {
            if self.excluded.contains(&socket.ino) {
                return;
            }
            self.pending.push((socket.ino as u64) << 32 | self.sockets.len() as u64);
        }
        self.icons |= has_icons(&socket);
        self.sockets.push(socket);
        if self.pending.len() >= CHUNK {
            self.flush();
        }
    }

    /// Indexes the sockets listed by `push_deferred`, in slot order; the
    /// repeats among them (a socket the kernel reported twice while its
    /// tables changed) leave the list, and the index is then rebuilt, as
    /// positions moved (rare).
    pub(crate) fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut pending = std::mem::take(&mut self.pending);
        let mut scratch = std::mem::take(&mut self.scratch);
        self.index.reserve(pending.len());
        self.index.sort_by_home(&mut pending, &mut scratch);
        let mut repeats: Vec<usize> = Vec::new();
        for &key in &pending {
            if !self.index.insert((key >> 32) as u32, key as u32) {
                repeats.push(key as u32 as usize);
            }
        }
        if !repeats.is_empty() {
            self.duplicates += repeats.len();
            repeats.sort_unstable();
            let mut at = 0;
            let mut next = repeats.iter().peekable();
            self.sockets.retain(|_| {
                let keep = next.peek().is_none_or(|&&r| r != at);
                if !keep {
                    next.next();
                }
                at += 1;
                keep
            });
            let mut index = InoIndex::with_capacity(self.sockets.len());
            for (pos, s) in self.sockets.iter().enumerate().filter(|(_, s)| s.ino != 0) {
                index.insert(s.ino, pos as u32);
            }
            self.index = index;
        }
        pending.clear();
        self.pending = pending;
        self.scratch = scratch;
    }

    /// Adds a batch; returns how many were added.
    pub fn extend(&mut self, batch: Vec<Socket>) -> usize {
        self.flush();
        let before = self.sockets.len();
        self.sockets.reserve(batch.len());
        for s in batch {
            self.push_deferred(s);
        }
        self.flush();
        self.sockets.len() - before
    }

    /// The sockets listed (settled ones: see `push_deferred`).
    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    pub fn finish(mut self, families: Vec<FamilyStatus>) -> SocketTable {
        self.flush();
        self.sockets.shrink_to_fit();
        if self.icons {
            resolve_in_flight(&mut self.sockets);
        }
        SocketTable { sockets: self.sockets, index: self.index, families, duplicates: self.duplicates }
    }
}

fn has_icons(socket: &Socket) -> bool {
    matches!(&socket.detail, Detail::Unix(u) if !u.icons.is_empty())
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

    #[test]
    fn the_index_finds_every_inode_through_growth_and_collisions() {
        let mut index = InoIndex::default();
        assert_eq!(index.get(7), None, "an empty index");
        // Inodes as the kernel hands them out (runs), and far apart.
        let inos: Vec<u32> = (1..5000).chain((1..500).map(|i| i * 8_000_017)).chain([u32::MAX]).collect();
        for (pos, &ino) in inos.iter().enumerate() {
            assert!(index.insert(ino, pos as u32), "{ino}");
        }
        assert!(!index.insert(42, 9), "a repeat is refused");
        assert!(index.len * 8 <= index.slots.len() * 7);
        for (pos, &ino) in inos.iter().enumerate() {
            assert_eq!(index.get(ino), Some(pos as u32), "{ino}");
        }
        assert_eq!(index.get(42), Some(41), "the first position stays");
        assert_eq!((index.get(0), index.get(6000), index.get(8_000_018)), (None, None, None));
        let reserved = InoIndex::with_capacity(1000);
        assert_eq!(reserved.slots.len(), 2048);
        assert_eq!(InoIndex::with_capacity(100_008).slots.len(), 131_072, "~10 bytes a socket");
    }

    #[test]
    fn deferred_sockets_are_indexed_by_chunks_and_repeats_leave_in_order() {
        // More than two chunks; repeats inside a chunk, across chunks, of
        // an excluded inode, and orphans (inode 0) that are never indexed.
        let n = 2 * CHUNK as u32 + 500;
        let mut b = TableBuilder::with_capacity(vec![7], 100);
        let mut expect = Vec::new();
        for i in 1..=n {
            let ino = i.wrapping_mul(2_654_435_761) | 1;
            b.push_deferred(sk(ino));
            expect.push(ino);
            if i % 1000 == 0 {
                b.push_deferred(sk(0));
                expect.push(0);
            }
        }
        let first = expect[3];
        b.push_deferred(sk(first)); // a repeat of an inode flushed long ago
        b.push_deferred(sk(7)); // ours: never listed
        let late = expect[expect.len() - 2];
        b.push_deferred(sk(late)); // a repeat within the pending chunk
        b.flush();
        assert_eq!(b.len(), expect.len());
        assert_eq!(b.duplicates, 2);
        // A batch after the deferred part: exact counts, repeats refused.
        assert_eq!(b.extend(vec![sk(first), sk(12), sk(12)]), 1);
        expect.push(12);
        let t = b.finish(vec![]);
        assert_eq!(t.iter().map(|s| s.ino).collect::<Vec<_>>(), expect, "listing order, first occurrences");
        assert_eq!(t.duplicates(), 4);
        for (pos, &ino) in expect.iter().enumerate().filter(|(_, &i)| i != 0) {
            assert_eq!(t.position(ino), Some(pos), "{ino}");
        }
        assert!(t.lookup(7).is_none() && t.lookup(0).is_none());
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
