//! The namespace images of CRIU 4.2's `dump_namespaces()` and the per-task
//! ids CRIU writes beside them: `ids-PID.img` for every live task,
//! `utsns-N.img`, `timens-N.img` (or `timens-0.img` with the caller's
//! clocks when the root shares the caller's time namespace) and the ipc
//! images `ipcns-var/shm/msg/sem-N.img` with the shm contents in
//! `pagemap-shmem-ID.img` + `pages-K.img`. The net arm (CRIU's
//! `dump_net_ns`) is the netdev room's: this walk lists the net
//! namespaces ([`NsImages::net`]) and the context adds their images.
//!
//! Everything is read first ([`read_namespaces`]), into plain values the
//! context keeps for `show` and the C accessors; then encoded
//! ([`NsImages::images`]) and staged by the context in one image batch,
//! written all or nothing.
//! Work inside a namespace runs on a short-lived thread (uts, ipc); the
//! time namespace's clocks come from its offsets (see `time`), so the
//! caller never moves.

pub mod ids;
pub mod ipc;
pub mod pages;
pub mod time;
pub mod uts;

mod ipc_sys;

#[cfg(test)]
mod live_tests;

use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};

use crate::error::{Error, Result};
use crate::external::Externals;
use crate::image::{self, IMG_COMMON_MAGIC};
use crate::log::Logger;
use crate::ns::{enter::open_ns, NsEntry, NsKind, NsTable, NsType};
use crate::pstree::{ProcRoot, ProcessTree};
use crate::userns::IdMaps;

/// One image file, encoded, under its final name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What `dump_namespaces` read: per task and per namespace, as plain values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NsImages {
    /// One per live task, in tree order (CRIU's ids-PID.img).
    pub ids: Vec<ids::TaskIds>,
    /// By uts namespace id.
    pub uts: BTreeMap<u32, uts::Uts>,
    /// By the N of timens-N.img: a time namespace id, or 0 for the
    /// caller's clocks (the root shares the caller's time namespace).
    pub time: BTreeMap<u32, time::Clocks>,
    /// By ipc namespace id.
    pub ipc: BTreeMap<u32, ipc::IpcNamespace>,
    /// The net namespaces the walk visits, in its order: their images
    /// (CRIU's `dump_net_ns`) come from the netdev room, which the
    /// context runs for each.
    pub net: Vec<u32>,
}

/// CRIU's `dump_namespaces(root, root_ns_mask)` plus the `dump_time_ns(0)`
/// of `cr_dump_tasks` and the ids of each task (`get_task_ids`), read
/// without writing anything. `root_user` is the uid/gid map of the root's
/// user namespace when it is not the caller's (ipc owners are recorded as
/// that namespace sees them, as CRIU's `userns_uid`). `for_dump` applies
/// CRIU's refusals of shared kernel objects (see `ids::task_ids`).
pub fn read_namespaces(
    proc: &ProcRoot,
    tree: &ProcessTree,
    table: &NsTable,
    root_user: Option<&IdMaps>,
    for_dump: bool,
    log: &Logger,
) -> Result<NsImages> {
    let kcmp = ids::SysKcmp::new(proc);
    let mut out = NsImages { ids: ids::task_ids(proc, tree, table, &kcmp, for_dump, log)?, ..Default::default() };
    // CRIU meets a task's mapping of the caller's SysV segments while it
    // dumps the task's memory: after the kcmp ids, before the namespaces.
    if for_dump && !table.root_differs(NsKind::Ipc) {
        pages::check_sysv_maps(proc, tree)?;
    }
    // CRIU's dump_namespaces only runs when the root has a namespace of
    // its own (root_ns_mask); it then visits its list of namespaces, which
    // is newest first, skipping the caller's own and the kinds dumped
    // elsewhere.
    let root_mask = NsKind::ALL.iter().any(|&k| table.root_differs(k));
    let mut next_pages_id = None;
    if root_mask {
        for ns in table.entries().iter().rev().filter(|ns| ns.ns_type != NsType::Own) {
            match ns.kind {
                // No data (pid), dumped by their own rooms (mnt, user), or
                // by cgroup code CRIU runs elsewhere.
                NsKind::Pid | NsKind::Mnt | NsKind::User | NsKind::Cgroup => {}
                NsKind::Uts => {
                    log.info("nsimg", format_args!("Dump UTS namespace {} via {}", ns.id, ns.pid));
                    out.uts.insert(ns.id, uts::read(proc, ns)?);
                }
                NsKind::Time => {
                    log.info("nsimg", format_args!("Dump TIME namespace {} via {}", ns.id, ns.pid));
                    out.time.insert(ns.id, time::read(proc, Some(ns))?);
                }
                NsKind::Ipc => {
                    log.info("nsimg", format_args!("Dump IPC namespace {} via {}", ns.id, ns.pid));
                    let owners = match (table.root_differs(NsKind::User), root_user) {
                        (false, _) => None,
                        (true, Some(maps)) => Some(maps),
                        (true, None) => {
                            return Err(Error::invalid("the root's user namespace maps are needed to record ipc owners"))
                        }
                    };
                    let mut ipc = ipc::read(proc, ns, owners, log)?;
                    if !ipc.shm.is_empty() {
                        let first = match next_pages_id {
                            Some(id) => id,
                            None => pages::first_pages_id(proc, tree, log)?,
                        };
                        ipc.assign_pages_ids(first);
                        next_pages_id = Some(first + ipc.shm.len() as u32);
                    }
                    out.ipc.insert(ns.id, ipc);
                }
                // CRIU's dump_net_ns (netns-N.img, netdev-N.img and the
                // rtnetlink streams) belongs to the netdev room: the
                // context reads it for each namespace listed here.
                NsKind::Net => {
                    log.info("nsimg", format_args!("Dump NET namespace info {} via {}", ns.id, ns.pid));
                    out.net.push(ns.id);
                }
            }
        }
    }
    if !table.root_differs(NsKind::Time) {
        out.time.insert(0, time::read(proc, None)?);
    }
    Ok(out)
}

/// CRIU's refusals for a dump of the tree's namespaces, checked before
/// anything is read or written: the table's (nested namespaces, a nested
/// time namespace for children) and `dump_namespaces`' rule that a root in
/// a pid namespace of its own is its init. (`check_sysvipc_map_dump`, a
/// task mapping a SysV segment of the caller's ipc namespace, is met by
/// `read_namespaces` for a dump, after the kcmp ids as in CRIU.)
pub fn check_dump(proc: &ProcRoot, table: &NsTable, root_pid: i32, externals: &Externals) -> Result<()> {
    if let Some(refusal) = table.refusals().first() {
        return Err(refusal.to_error());
    }
    crate::ns::pidns::check_root_is_init(proc, table, root_pid, externals)?;
    Ok(())
}

impl NsImages {
    /// Every image, encoded, in the order CRIU writes them.
    pub fn images(&self) -> Vec<Image> {
        let mut out: Vec<Image> = self.ids.iter().map(ids::TaskIds::image).collect();
        for (&id, u) in &self.uts {
            out.push(u.image(id));
        }
        for (&id, c) in &self.time {
            out.push(c.image(id));
        }
        for (&id, i) in &self.ipc {
            out.extend(i.images(id));
        }
        out
    }

    /// The uts namespace `ns_id` read by the last dump or read.
    pub fn uts(&self, ns_id: u32) -> Result<&uts::Uts> {
        self.uts.get(&ns_id).ok_or_else(|| not_read("uts", ns_id))
    }

    /// The clocks of timens-`id`.img (0: the caller's).
    pub fn time(&self, id: u32) -> Result<&time::Clocks> {
        self.time.get(&id).ok_or_else(|| not_read("time", id))
    }

    pub fn ipc(&self, ns_id: u32) -> Result<&ipc::IpcNamespace> {
        self.ipc.get(&ns_id).ok_or_else(|| not_read("ipc", ns_id))
    }

    /// The ids of task `pid` (the pid as the caller sees it).
    pub fn task(&self, pid: i32) -> Result<&ids::TaskIds> {
        self.ids
            .iter()
            .find(|t| t.pid == pid)
            .ok_or_else(|| Error::new(libc::ENOENT, format!("no ids for pid {pid}: not a live task of the dumped tree")))
    }
}

fn not_read(kind: &str, id: u32) -> Error {
    Error::new(
        libc::ENOENT,
        format!("no {kind} namespace {id} among the namespace images read (CRIU dumps only the tree's own, not the caller's)"),
    )
}

/// Opens the namespace `ns` through its pid and checks it is still that
/// namespace (the pid may have exited and been reused, or moved).
pub(crate) fn open_ns_checked(proc: &ProcRoot, ns: &NsEntry) -> Result<OwnedFd> {
    let fd = open_ns(proc, ns.pid, ns.kind).map_err(|e| gone_or(e, ns))?;
    let st = nix::sys::stat::fstat(fd.as_fd()).map_err(|e| Error::sys(e, format!("fstat {} namespace {}", ns.kind.name(), ns.id)))?;
    if st.st_ino != ns.kid {
        return Err(Error::new(
            libc::ESRCH,
            format!(
                "pid {} is no longer in {} namespace {} ({}:[{}]): collect again",
                ns.pid,
                ns.kind.name(),
                ns.id,
                ns.kind.name(),
                ns.kid
            ),
        ));
    }
    Ok(fd)
}

fn gone_or(e: Error, ns: &NsEntry) -> Error {
    if e.errno() == libc::ENOENT {
        Error::new(libc::ESRCH, format!("pid {} of {} namespace {} exited: {}", ns.pid, ns.kind.name(), ns.id, e.message()))
    } else {
        e
    }
}

/// An image being built: the two magic words, then protobuf entries (each
/// after its little-endian u32 length) and raw payloads, in order.
#[derive(Debug)]
pub(crate) struct ImageBuf(Vec<u8>);

impl ImageBuf {
    pub(crate) fn new(magic: u32) -> Self {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&IMG_COMMON_MAGIC.to_le_bytes());
        out.extend_from_slice(&magic.to_le_bytes());
        ImageBuf(out)
    }

    pub(crate) fn entry<M: prost::Message>(&mut self, entry: &M) {
        self.0.extend_from_slice(&(entry.encoded_len() as u32).to_le_bytes());
        entry.encode(&mut self.0).expect("Vec<u8> grows as needed, so encoding cannot run out of room");
    }

    /// Raw bytes padded with zeros to a multiple of 8, as CRIU's
    /// `write_img_buf` of a `round_up(len, sizeof(u64))` buffer.
    pub(crate) fn padded(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
        self.0.resize(self.0.len() + (8 - bytes.len() % 8) % 8, 0);
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.0
    }
}

/// Reads an image written as [`ImageBuf`] writes it; every length is
/// checked before it is used. `what` names the file in errors.
#[derive(Debug)]
pub(crate) struct ImageReader<'a> {
    bytes: &'a [u8],
    at: usize,
    what: &'a str,
}

impl<'a> ImageReader<'a> {
    pub(crate) fn new(bytes: &'a [u8], magic: u32, what: &'a str) -> Result<Self> {
        let word = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")));
        match (word(0), word(4)) {
            (Some(IMG_COMMON_MAGIC), Some(m)) if m == magic => Ok(ImageReader { bytes, at: 8, what }),
            (Some(c), Some(m)) => Err(Error::malformed(format!(
                "{what}: magic {c:#010x} {m:#010x}, expected {IMG_COMMON_MAGIC:#010x} {magic:#010x}"
            ))),
            _ => Err(Error::malformed(format!("{what}: {} bytes is too short for the image header", bytes.len()))),
        }
    }

    pub(crate) fn at_end(&self) -> bool {
        self.at == self.bytes.len()
    }

    pub(crate) fn entry<M: prost::Message + Default>(&mut self) -> Result<M> {
        let len = self.take(4, "entry length")?;
        let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
        if len > image::MAX_ENTRY_LEN {
            return Err(Error::malformed(format!("{}: at byte {}: length {len} exceeds the limit", self.what, self.at - 4)));
        }
        let at = self.at;
        let body = self.take(len, "entry")?;
        M::decode(body).map_err(|e| Error::malformed(format!("{}: entry at byte {at}: {e}", self.what)))
    }

    /// `len` raw bytes and their padding to 8.
    pub(crate) fn padded(&mut self, len: usize) -> Result<&'a [u8]> {
        let padded = len.checked_add(7).map(|l| l & !7).ok_or_else(|| Error::malformed(format!("{}: length {len} overflows", self.what)))?;
        Ok(&self.take(padded, "payload")?[..len])
    }

    fn take(&mut self, len: usize, what: &str) -> Result<&'a [u8]> {
        let end = self.at.checked_add(len).filter(|&e| e <= self.bytes.len()).ok_or_else(|| {
            Error::malformed(format!(
                "{}: {what} at byte {}: {len} bytes announced, {} present",
                self.what,
                self.at,
                self.bytes.len() - self.at
            ))
        })?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
}

#[cfg(test)]
pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/criu-4.2/ns-sockets").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::pb;

    #[test]
    fn image_buf_entries_match_the_image_module() {
        let e = pb::PidnsEntry { ext_key: Some(b"k".to_vec()) };
        let mut b = ImageBuf::new(0x1234_5678);
        b.entry(&e);
        b.entry(&e);
        assert_eq!(b.finish(), image::encode(0x1234_5678, &[e.clone(), e]));
    }

    #[test]
    fn padded_payloads_round_to_eight_and_read_back() {
        let mut b = ImageBuf::new(7);
        b.padded(b"abc");
        b.padded(b"12345678");
        b.padded(b"");
        let bytes = b.finish();
        assert_eq!(bytes.len(), 8 + 8 + 8);
        let mut r = ImageReader::new(&bytes, 7, "x.img").unwrap();
        assert_eq!(r.padded(3).unwrap(), b"abc");
        assert_eq!(r.padded(8).unwrap(), b"12345678");
        assert_eq!(r.padded(0).unwrap(), b"");
        assert!(r.at_end());
    }

    #[test]
    fn reader_refuses_bad_magic_truncation_and_huge_lengths() {
        let mut b = ImageBuf::new(7);
        b.entry(&pb::PidnsEntry { ext_key: Some(b"key".to_vec()) });
        let bytes = b.finish();
        assert!(ImageReader::new(&bytes, 8, "x.img").unwrap_err().message().contains("magic"));
        assert!(ImageReader::new(&bytes[..5], 7, "x.img").unwrap_err().message().contains("too short"));
        let cut = &bytes[..bytes.len() - 1];
        let e = ImageReader::new(cut, 7, "x.img").unwrap().entry::<pb::PidnsEntry>().unwrap_err();
        assert!(e.message().contains("announced"), "{e}");
        let mut huge = bytes[..8].to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        let e = ImageReader::new(&huge, 7, "x.img").unwrap().entry::<pb::PidnsEntry>().unwrap_err();
        assert!(e.message().contains("limit"), "{e}");
        let e = ImageReader::new(&bytes[..8], 7, "x.img").unwrap().padded(usize::MAX).unwrap_err();
        assert!(e.message().contains("overflows"), "{e}");
    }
}
