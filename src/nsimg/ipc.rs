//! The ipc namespace images of CRIU's `dump_ipc_ns`: `ipcns-var-N.img`
//! (its sysctls), `ipcns-shm-N.img` (segments; contents in
//! `pagemap-shmem-ID.img` + `pages-K.img`, see `pages`), `ipcns-msg-N.img`
//! (queues, each followed by its messages) and `ipcns-sem-N.img`
//! (semaphore sets, each followed by its values).
//!
//! Everything is read by a short-lived thread inside the namespace and
//! nothing is consumed: segments are attached read-only and read through
//! their file, messages are copied with `MSG_COPY` (as CRIU does), sets
//! read with `GETALL`. The tree is not frozen, so a queue that changes
//! while it is read, or objects that come and go between the count and
//! the walk, make the step start again (a few times, then -EAGAIN with
//! CRIU's reason).

use crate::error::{Error, Result};
use crate::image::pb;
use crate::log::Logger;
use crate::ns::{enter::run_in_namespace, NsEntry, NsKind};
use crate::pstree::ProcRoot;
use crate::userns::IdMaps;

pub use super::pages::DataRun;
use super::{pages, Image, ImageBuf, ImageReader};

/// CRIU's IPC_VAR_MAGIC.
pub const IPC_VAR_MAGIC: u32 = 0x5311_5007;
/// CRIU's IPCNS_SHM_MAGIC.
pub const IPCNS_SHM_MAGIC: u32 = 0x4628_3044;
/// CRIU's IPCNS_MSG_MAGIC.
pub const IPCNS_MSG_MAGIC: u32 = 0x5545_3737;
/// CRIU's IPCNS_SEM_MAGIC.
pub const IPCNS_SEM_MAGIC: u32 = 0x5957_3019;

/// The largest message CRIU 4.2's restore accepts (its MSGMAX).
pub const CRIU_RESTORE_MSGMAX: usize = 8192;

/// How often a step that met a changing namespace is tried.
const ATTEMPTS: usize = 4;

pub fn var_name(ns_id: u32) -> String {
    format!("ipcns-var-{ns_id}.img")
}
pub fn shm_name(ns_id: u32) -> String {
    format!("ipcns-shm-{ns_id}.img")
}
pub fn msg_name(ns_id: u32) -> String {
    format!("ipcns-msg-{ns_id}.img")
}
pub fn sem_name(ns_id: u32) -> String {
    format!("ipcns-sem-{ns_id}.img")
}

/// Owner, creator and mode of one object, as CRIU records them: ids as
/// the root's user namespace sees them (u32::MAX when unmapped there).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IpcDesc {
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    /// Permission bits plus the kernel's state bits (SHM_DEST, SHM_LOCKED).
    pub mode: u32,
    /// The object's ipc id.
    pub id: i32,
}

impl IpcDesc {
    fn to_pb(self) -> pb::IpcDescEntry {
        pb::IpcDescEntry {
            key: self.key as u32,
            uid: self.uid,
            gid: self.gid,
            cuid: self.cuid,
            cgid: self.cgid,
            mode: self.mode,
            id: self.id as u32,
        }
    }

    fn from_pb(d: &pb::IpcDescEntry) -> IpcDesc {
        IpcDesc { key: d.key as i32, uid: d.uid, gid: d.gid, cuid: d.cuid, cgid: d.cgid, mode: d.mode, id: d.id as i32 }
    }
}

/// The namespace's ipc sysctls, every one CRIU records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpcVar {
    /// kernel.sem: semmsl, semmns, semopm, semmni.
    pub sem_ctls: [u32; 4],
    pub msg_ctlmax: u32,
    pub msg_ctlmnb: u32,
    pub msg_ctlmni: u32,
    pub auto_msgmni: u32,
    pub shm_ctlmax: u64,
    pub shm_ctlall: u64,
    pub shm_ctlmni: u32,
    pub shm_rmid_forced: u32,
    /// Whether the kernel has fs.mqueue sysctls; without them CRIU leaves
    /// the five mq values 0.
    pub mqueue: bool,
    pub mq_queues_max: u32,
    pub mq_msg_max: u32,
    pub mq_msgsize_max: u32,
    pub mq_msg_default: u32,
    pub mq_msgsize_default: u32,
    /// kernel.*_next_id; `None` while the kernel's is -1 (unset).
    pub msg_next_id: Option<u32>,
    pub sem_next_id: Option<u32>,
    pub shm_next_id: Option<u32>,
}

impl IpcVar {
    pub fn to_entry(&self) -> pb::IpcVarEntry {
        pb::IpcVarEntry {
            sem_ctls: self.sem_ctls.to_vec(),
            msg_ctlmax: self.msg_ctlmax,
            msg_ctlmnb: self.msg_ctlmnb,
            msg_ctlmni: self.msg_ctlmni,
            auto_msgmni: self.auto_msgmni,
            shm_ctlmax: self.shm_ctlmax,
            shm_ctlall: self.shm_ctlall,
            shm_ctlmni: self.shm_ctlmni,
            shm_rmid_forced: self.shm_rmid_forced,
            mq_queues_max: self.mq_queues_max,
            mq_msg_max: self.mq_msg_max,
            mq_msgsize_max: self.mq_msgsize_max,
            // CRIU always marks these two present.
            mq_msg_default: Some(self.mq_msg_default),
            mq_msgsize_default: Some(self.mq_msgsize_default),
            msg_next_id: self.msg_next_id,
            sem_next_id: self.sem_next_id,
            shm_next_id: self.shm_next_id,
        }
    }
}

/// One shm segment and the pages CRIU stores of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShmSegment {
    pub desc: IpcDesc,
    pub size: u64,
    /// SHM_HUGETLB and the page size bits, for a huge-page segment.
    pub hugetlb_flag: Option<u32>,
    /// The stored pages (holes left out), in order.
    pub data: Vec<DataRun>,
    /// The K of the pages-K.img holding `data`.
    pub pages_id: u32,
}

impl ShmSegment {
    /// The segment's contents: `size` bytes, zero where nothing is stored.
    pub fn contents(&self, page: usize) -> Vec<u8> {
        let mut out = vec![0u8; usize::try_from(self.size).unwrap_or(usize::MAX)];
        self.read_at(page, 0, &mut out);
        out
    }

    /// How many pages are stored (holes are not).
    pub fn stored_pages(&self, page: usize) -> u64 {
        self.data.iter().map(|r| (r.bytes.len() / page.max(1)) as u64).sum()
    }

    /// Copies the contents from byte `offset` into `buf` (zeros where
    /// nothing is stored); returns how many bytes there were, short at the
    /// segment's end.
    pub fn read_at(&self, page: usize, offset: u64, buf: &mut [u8]) -> usize {
        let end = self.size.min(offset.saturating_add(buf.len() as u64));
        if offset >= end {
            return 0;
        }
        let n = (end - offset) as usize;
        buf[..n].fill(0);
        for run in &self.data {
            let start = run.first_page.saturating_mul(page as u64);
            let stop = start.saturating_add(run.bytes.len() as u64);
            let (from, to) = (start.max(offset), stop.min(end));
            if from < to {
                let src = &run.bytes[(from - start) as usize..(to - start) as usize];
                buf[(from - offset) as usize..(to - offset) as usize].copy_from_slice(src);
            }
        }
        n
    }
}

/// One queued message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    pub mtype: i64,
    pub data: Vec<u8>,
}

/// One message queue with its messages in queue order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MsgQueue {
    pub desc: IpcDesc,
    pub qbytes: u64,
    pub messages: Vec<Message>,
}

/// One semaphore set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SemSet {
    pub desc: IpcDesc,
    pub values: Vec<u16>,
}

/// Everything CRIU dumps of one ipc namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpcNamespace {
    pub var: IpcVar,
    pub shm: Vec<ShmSegment>,
    pub msg: Vec<MsgQueue>,
    pub sem: Vec<SemSet>,
    /// The page size the shm runs are counted in.
    pub page_size: usize,
}

impl IpcNamespace {
    /// Numbers the segments' pages images from `first`, in order.
    pub fn assign_pages_ids(&mut self, first: u32) {
        for (n, s) in self.shm.iter_mut().enumerate() {
            s.pages_id = first + n as u32;
        }
    }

    /// The four ipc images, then each segment's pagemap and pages.
    pub fn images(&self, ns_id: u32) -> Vec<Image> {
        let mut var = ImageBuf::new(IPC_VAR_MAGIC);
        var.entry(&self.var.to_entry());
        let mut shm = ImageBuf::new(IPCNS_SHM_MAGIC);
        for s in &self.shm {
            shm.entry(&pb::IpcShmEntry {
                desc: s.desc.to_pb(),
                size: s.size,
                in_pagemaps: Some(true),
                hugetlb_flag: s.hugetlb_flag,
            });
        }
        let mut msg = ImageBuf::new(IPCNS_MSG_MAGIC);
        for q in &self.msg {
            msg.entry(&pb::IpcMsgEntry { desc: q.desc.to_pb(), qbytes: q.qbytes as u32, qnum: q.messages.len() as u32 });
            for m in &q.messages {
                msg.entry(&pb::IpcMsg { mtype: m.mtype as u64, msize: m.data.len() as u32 });
                msg.padded(&m.data);
            }
        }
        let mut sem = ImageBuf::new(IPCNS_SEM_MAGIC);
        for s in &self.sem {
            sem.entry(&pb::IpcSemEntry { desc: s.desc.to_pb(), nsems: s.values.len() as u32 });
            let bytes: Vec<u8> = s.values.iter().flat_map(|v| v.to_ne_bytes()).collect();
            sem.padded(&bytes);
        }
        let mut out = vec![
            Image { name: var_name(ns_id), bytes: var.finish() },
            Image { name: shm_name(ns_id), bytes: shm.finish() },
            Image { name: msg_name(ns_id), bytes: msg.finish() },
            Image { name: sem_name(ns_id), bytes: sem.finish() },
        ];
        for s in &self.shm {
            out.extend(pages::images(s.desc.id, s.pages_id, &s.data, self.page_size));
        }
        out
    }
}

/// Decodes ipcns-var-N.img.
pub fn decode_var(bytes: &[u8], what: &str) -> Result<pb::IpcVarEntry> {
    let mut r = ImageReader::new(bytes, IPC_VAR_MAGIC, what)?;
    let e = r.entry()?;
    if !r.at_end() {
        return Err(Error::malformed(format!("{what}: more than one entry")));
    }
    Ok(e)
}

/// Decodes ipcns-shm-N.img: (descriptor, size, hugetlb flag) per segment.
pub fn decode_shm(bytes: &[u8], what: &str) -> Result<Vec<(IpcDesc, u64, Option<u32>)>> {
    let mut r = ImageReader::new(bytes, IPCNS_SHM_MAGIC, what)?;
    let mut out = Vec::new();
    while !r.at_end() {
        let e: pb::IpcShmEntry = r.entry()?;
        if e.in_pagemaps != Some(true) {
            return Err(Error::malformed(format!("{what}: segment {} keeps its contents inline (not CRIU 4.2's format)", e.desc.id)));
        }
        out.push((IpcDesc::from_pb(&e.desc), e.size, e.hugetlb_flag));
    }
    Ok(out)
}

/// Decodes ipcns-msg-N.img with every message.
pub fn decode_msg(bytes: &[u8], what: &str) -> Result<Vec<MsgQueue>> {
    let mut r = ImageReader::new(bytes, IPCNS_MSG_MAGIC, what)?;
    let mut out = Vec::new();
    while !r.at_end() {
        let q: pb::IpcMsgEntry = r.entry()?;
        let mut messages = Vec::new();
        for _ in 0..q.qnum {
            let m: pb::IpcMsg = r.entry()?;
            messages.push(Message { mtype: m.mtype as i64, data: r.padded(m.msize as usize)?.to_vec() });
        }
        out.push(MsgQueue { desc: IpcDesc::from_pb(&q.desc), qbytes: q.qbytes as u64, messages });
    }
    Ok(out)
}

/// Decodes ipcns-sem-N.img with every value.
pub fn decode_sem(bytes: &[u8], what: &str) -> Result<Vec<SemSet>> {
    let mut r = ImageReader::new(bytes, IPCNS_SEM_MAGIC, what)?;
    let mut out = Vec::new();
    while !r.at_end() {
        let s: pb::IpcSemEntry = r.entry()?;
        let len = (s.nsems as usize).checked_mul(2).ok_or_else(|| Error::malformed(format!("{what}: {} semaphores", s.nsems)))?;
        let raw = r.padded(len)?;
        let values = raw.chunks_exact(2).map(|c| u16::from_ne_bytes([c[0], c[1]])).collect();
        out.push(SemSet { desc: IpcDesc::from_pb(&s.desc), values });
    }
    Ok(out)
}

// ---- reading ----

/// The three kinds of SysV objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IpcKind {
    Shm,
    Msg,
    Sem,
}

impl IpcKind {
    fn what(self) -> &'static str {
        match self {
            IpcKind::Shm => "shm segments",
            IpcKind::Msg => "message queues",
            IpcKind::Sem => "semaphore sets",
        }
    }
}

/// An object's ipc_perm as the kernel gives it to the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RawPerm {
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    pub mode: u32,
}

/// What *_STAT says of one object: its id, perm, and per kind a size
/// (shm bytes, msg qbytes, sem count).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Stat {
    pub id: i32,
    pub perm: RawPerm,
    pub size: u64,
    /// Queues only: number of messages, bytes queued, last send and
    /// receive times; a change in any means the queue moved.
    pub qnum: u64,
    pub cbytes: u64,
    pub stime: i64,
    pub rtime: i64,
}

/// The syscalls behind a read of one ipc namespace, made by a thread
/// inside it; fakes in tests.
pub(crate) trait IpcSys {
    /// `/proc/sys/NAME` as text; `None` when the file does not exist.
    fn sysctl(&self, name: &str) -> Result<Option<Vec<u8>>>;
    /// Whether `/proc/sys/fs/mqueue` can be searched (CRIU's check).
    fn has_mqueue(&self) -> bool;
    /// *_INFO: the highest index in use and how many objects there are.
    fn info(&self, kind: IpcKind) -> Result<(i32, i32)>;
    /// *_STAT of index `index`; `None` for an unused index (EINVAL).
    fn stat(&self, kind: IpcKind, index: i32) -> Result<Option<Stat>>;
    /// The stored pages of segment `id` of `size` bytes, and its
    /// hugetlb flag.
    fn shm_contents(&self, id: i32, size: u64, page: usize) -> Result<(Vec<DataRun>, Option<u32>)>;
    /// Message `n` of queue `id` (msgrcv MSG_COPY), at most `max` bytes.
    fn msg_copy(&self, id: i32, n: u64, max: usize) -> Result<Message>;
    /// GETALL of set `id`.
    fn sem_values(&self, id: i32, nsems: usize) -> Result<Vec<u16>>;
}

/// CRIU's `userns_uid`: an id of the caller's as the root's user
/// namespace sees it.
fn ns_id_of(map: &[crate::userns::Extent], id: u32) -> u32 {
    crate::userns::from_parent(map, id).unwrap_or(u32::MAX)
}

fn desc(id: i32, p: &RawPerm, owners: Option<&IdMaps>) -> IpcDesc {
    let (uid, gid, cuid, cgid) = match owners {
        Some(m) => (ns_id_of(&m.uid_map, p.uid), ns_id_of(&m.gid_map, p.gid), ns_id_of(&m.uid_map, p.cuid), ns_id_of(&m.gid_map, p.cgid)),
        None => (p.uid, p.gid, p.cuid, p.cgid),
    };
    IpcDesc { key: p.key, uid, gid, cuid, cgid, mode: p.mode, id }
}

/// Parses a sysctl's text: `n` whitespace-separated integers.
fn numbers(text: &[u8], name: &str, n: usize) -> Result<Vec<i128>> {
    let bad = |why: String| Error::malformed(format!("/proc/sys/{name}: {why}"));
    let words: Vec<&str> = std::str::from_utf8(text).map_err(|_| bad("not text".into()))?.split_ascii_whitespace().collect();
    if words.len() != n {
        return Err(bad(format!("{} values, expected {n}", words.len())));
    }
    words.iter().map(|w| w.parse::<i128>().map_err(|_| bad(format!("{w:?} is not a number")))).collect()
}

fn read_numbers(sys: &dyn IpcSys, name: &str, n: usize) -> Result<Vec<i128>> {
    let text = sys
        .sysctl(name)?
        .ok_or_else(|| Error::new(libc::ENOENT, format!("Can't open sysctl {name}: this kernel has no /proc/sys/{name}")))?;
    numbers(&text, name, n)
}

fn fit<T: TryFrom<i128>>(v: i128, name: &str) -> Result<T> {
    T::try_from(v).map_err(|_| Error::malformed(format!("/proc/sys/{name}: {v} is out of range")))
}

fn read_u32(sys: &dyn IpcSys, name: &str) -> Result<u32> {
    fit(read_numbers(sys, name, 1)?[0], name)
}

fn read_u64(sys: &dyn IpcSys, name: &str) -> Result<u64> {
    fit(read_numbers(sys, name, 1)?[0], name)
}

/// A next_id sysctl: -1 (the kernel's unset value) is left out, as CRIU
/// leaves it out (it cannot be written back).
fn read_next_id(sys: &dyn IpcSys, name: &str) -> Result<Option<u32>> {
    match read_numbers(sys, name, 1)?[0] {
        -1 => Ok(None),
        v => fit(v, name).map(Some),
    }
}

/// CRIU's `dump_ipc_var`.
pub(crate) fn read_var(sys: &dyn IpcSys) -> Result<IpcVar> {
    let sem = read_numbers(sys, "kernel/sem", 4)?;
    let mut var = IpcVar {
        sem_ctls: [fit(sem[0], "kernel/sem")?, fit(sem[1], "kernel/sem")?, fit(sem[2], "kernel/sem")?, fit(sem[3], "kernel/sem")?],
        msg_ctlmax: read_u32(sys, "kernel/msgmax")?,
        msg_ctlmnb: read_u32(sys, "kernel/msgmnb")?,
        auto_msgmni: read_u32(sys, "kernel/auto_msgmni")?,
        msg_ctlmni: read_u32(sys, "kernel/msgmni")?,
        shm_ctlmax: read_u64(sys, "kernel/shmmax")?,
        shm_ctlall: read_u64(sys, "kernel/shmall")?,
        shm_ctlmni: read_u32(sys, "kernel/shmmni")?,
        shm_rmid_forced: read_u32(sys, "kernel/shm_rmid_forced")?,
        ..Default::default()
    };
    if sys.has_mqueue() {
        var.mqueue = true;
        var.mq_queues_max = read_u32(sys, "fs/mqueue/queues_max")?;
        var.mq_msg_max = read_u32(sys, "fs/mqueue/msg_max")?;
        var.mq_msgsize_max = read_u32(sys, "fs/mqueue/msgsize_max")?;
        var.mq_msg_default = read_u32(sys, "fs/mqueue/msg_default")?;
        var.mq_msgsize_default = read_u32(sys, "fs/mqueue/msgsize_default")?;
    }
    var.msg_next_id = read_next_id(sys, "kernel/msg_next_id")?;
    var.sem_next_id = read_next_id(sys, "kernel/sem_next_id")?;
    var.shm_next_id = read_next_id(sys, "kernel/shm_next_id")?;
    Ok(var)
}

/// Walks every index of one kind (CRIU's `for (i = 0; i <= maxid; i++)`)
/// and checks the count against *_INFO's; `one` reads the object at an
/// index and returns `None` when it changed under us. A pass that met a change is
/// made again.
fn walk<T>(sys: &dyn IpcSys, kind: IpcKind, mut one: impl FnMut(i32, Stat) -> Result<Option<T>>) -> Result<Vec<T>> {
    let mut last = (0, 0);
    for _ in 0..ATTEMPTS {
        let (maxid, used) = sys.info(kind)?;
        let mut out = Vec::new();
        let mut changed = false;
        for index in 0..=maxid.max(-1) {
            let Some(st) = sys.stat(kind, index)? else { continue };
            match one(index, st)? {
                Some(v) => out.push(v),
                None => {
                    changed = true;
                    break;
                }
            }
        }
        if !changed && out.len() == used.max(0) as usize {
            return Ok(out);
        }
        last = (used, out.len());
    }
    Err(Error::new(
        libc::EAGAIN,
        format!(
            "Failed to collect {} {} (only {} succeeded): the namespace kept changing while it was read",
            last.0,
            kind.what(),
            last.1
        ),
    ))
}

/// CRIU's `dump_ipc_data` over `sys`: sysctls, then segments, queues and
/// sets. `owners`: the root's user namespace maps when it has its own.
pub(crate) fn read_with(sys: &dyn IpcSys, owners: Option<&IdMaps>, page: usize, log: &Logger) -> Result<IpcNamespace> {
    let var = read_var(sys)?;
    let shm = walk(sys, IpcKind::Shm, |_, st| {
        let (data, hugetlb_flag) = sys.shm_contents(st.id, st.size, page)?;
        Ok(Some(ShmSegment { desc: desc(st.id, &st.perm, owners), size: st.size, hugetlb_flag, data, pages_id: 0 }))
    })?;
    let msgmax = var.msg_ctlmax as usize;
    let msg = walk(sys, IpcKind::Msg, |index, st| {
        let mut messages = Vec::with_capacity(st.qnum.min(1 << 16) as usize);
        for n in 0..st.qnum {
            match sys.msg_copy(st.id, n, msgmax) {
                Ok(m) => messages.push(m),
                // Taken by a receiver meanwhile.
                Err(e) if e.errno() == libc::ENOMSG => return Ok(None),
                Err(e) => return Err(e.context(format!("message {n} of queue {}", st.id))),
            }
        }
        // The same index must still hold the same, unmoved queue.
        match sys.stat(IpcKind::Msg, index)? {
            Some(again) if again == st => {}
            _ => return Ok(None),
        }
        for m in messages.iter().filter(|m| m.data.len() > CRIU_RESTORE_MSGMAX) {
            log.warn(
                "nsimg",
                format_args!(
                    "queue {}: a message of {} bytes: CRIU 4.2 restores messages of at most {CRIU_RESTORE_MSGMAX}",
                    st.id,
                    m.data.len()
                ),
            );
        }
        Ok(Some(MsgQueue { desc: desc(st.id, &st.perm, owners), qbytes: st.size, messages }))
    })?;
    let sem = walk(sys, IpcKind::Sem, |_, st| {
        let values = sys.sem_values(st.id, st.size as usize)?;
        Ok(Some(SemSet { desc: desc(st.id, &st.perm, owners), values }))
    })?;
    Ok(IpcNamespace { var, shm, msg, sem, page_size: page })
}

/// Reads the ipc namespace `ns` from inside it.
pub fn read(proc: &ProcRoot, ns: &NsEntry, owners: Option<&IdMaps>, log: &Logger) -> Result<IpcNamespace> {
    let fd = super::open_ns_checked(proc, ns)?;
    let page = pages::page_size();
    run_in_namespace(&fd, NsKind::Ipc, || read_with(&super::ipc_sys::LiveIpc::new(proc), owners, page, log))
        .map_err(|e| e.context(format!("ipc namespace {}", ns.id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    fn fixture_desc(id: i32, mode: u32) -> IpcDesc {
        IpcDesc { key: 0, uid: 0, gid: 0, cuid: 0, cgid: 0, mode, id }
    }

    /// The ns-sockets fixture's namespace, as state.json describes it.
    fn fixture_ns() -> IpcNamespace {
        let pattern: Vec<u8> = (0..8192).map(|i| i as u8).collect();
        let mut ns = IpcNamespace {
            var: IpcVar {
                sem_ctls: [250, 32000, 32, 64],
                msg_ctlmax: 4096,
                msg_ctlmnb: 16384,
                msg_ctlmni: 32000,
                auto_msgmni: 0,
                shm_ctlmax: 16777216,
                shm_ctlall: 18446744073692774399,
                shm_ctlmni: 4096,
                shm_rmid_forced: 0,
                mqueue: true,
                mq_queues_max: 256,
                mq_msg_max: 10,
                mq_msgsize_max: 8192,
                mq_msg_default: 10,
                mq_msgsize_default: 8192,
                msg_next_id: None,
                sem_next_id: None,
                shm_next_id: None,
            },
            shm: vec![ShmSegment {
                desc: fixture_desc(0, 0o640),
                size: 8192,
                hugetlb_flag: None,
                data: vec![DataRun { first_page: 0, bytes: pattern }],
                pages_id: 0,
            }],
            msg: vec![MsgQueue {
                desc: fixture_desc(0, 0o600),
                qbytes: 16384,
                messages: vec![
                    Message { mtype: 1, data: b"first message".to_vec() },
                    Message { mtype: 2, data: b"second, longer message".to_vec() },
                ],
            }],
            sem: vec![SemSet { desc: fixture_desc(0, 0o600), values: vec![1, 2, 3] }],
            page_size: 4096,
        };
        ns.assign_pages_ids(2);
        ns
    }

    #[test]
    fn encodes_the_fixtures_ipc_images_byte_for_byte() {
        let ns = fixture_ns();
        let images = ns.images(11);
        let names: Vec<&str> = images.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            ["ipcns-var-11.img", "ipcns-shm-11.img", "ipcns-msg-11.img", "ipcns-sem-11.img", "pagemap-shmem-0.img", "pages-2.img"]
        );
        for img in &images[..5] {
            assert_eq!(img.bytes, super::super::fixture(&img.name), "{}", img.name);
        }
        assert_eq!(images[5].bytes, ns.shm[0].contents(4096));
    }

    #[test]
    fn decodes_the_fixtures_ipc_images() {
        let var = decode_var(&super::super::fixture("ipcns-var-11.img"), "v").unwrap();
        assert_eq!(var, fixture_ns().var.to_entry());
        let shm = decode_shm(&super::super::fixture("ipcns-shm-11.img"), "s").unwrap();
        assert_eq!(shm, vec![(fixture_desc(0, 0o640), 8192, None)]);
        assert_eq!(decode_msg(&super::super::fixture("ipcns-msg-11.img"), "m").unwrap(), fixture_ns().msg);
        assert_eq!(decode_sem(&super::super::fixture("ipcns-sem-11.img"), "s").unwrap(), fixture_ns().sem);
        let mut cut = super::super::fixture("ipcns-msg-11.img");
        cut.truncate(cut.len() - 9);
        assert_eq!(decode_msg(&cut, "m").unwrap_err().errno(), libc::EBADMSG);
    }

    /// Runs before a message copy: a racing sender or receiver.
    type Race = Box<dyn FnMut(&FakeIpc)>;

    /// A namespace in memory: sysctl files, and objects by index.
    #[derive(Default)]
    struct FakeIpc {
        sysctls: BTreeMap<&'static str, &'static str>,
        mqueue: bool,
        objects: RefCell<BTreeMap<(u8, i32), Stat>>,
        messages: RefCell<BTreeMap<i32, Vec<Message>>>,
        on_copy: RefCell<Option<Race>>,
        /// Lies about the count this many times.
        extra_count: RefCell<usize>,
    }

    fn k(kind: IpcKind) -> u8 {
        kind as u8
    }

    impl FakeIpc {
        fn fixture() -> FakeIpc {
            let sysctls = [
                ("kernel/sem", "250\t32000\t32\t64\n"),
                ("kernel/msgmax", "4096\n"),
                ("kernel/msgmnb", "16384\n"),
                ("kernel/auto_msgmni", "0\n"),
                ("kernel/msgmni", "32000\n"),
                ("kernel/shmmax", "16777216\n"),
                ("kernel/shmall", "18446744073692774399\n"),
                ("kernel/shmmni", "4096\n"),
                ("kernel/shm_rmid_forced", "0\n"),
                ("fs/mqueue/queues_max", "256\n"),
                ("fs/mqueue/msg_max", "10\n"),
                ("fs/mqueue/msgsize_max", "8192\n"),
                ("fs/mqueue/msg_default", "10\n"),
                ("fs/mqueue/msgsize_default", "8192\n"),
                ("kernel/msg_next_id", "-1\n"),
                ("kernel/sem_next_id", "-1\n"),
                ("kernel/shm_next_id", "-1\n"),
            ];
            let f = FakeIpc { sysctls: sysctls.into_iter().collect(), mqueue: true, ..Default::default() };
            let perm = |mode| RawPerm { mode, ..Default::default() };
            let mut o = f.objects.borrow_mut();
            o.insert((k(IpcKind::Shm), 0), Stat { id: 0, perm: perm(0o640), size: 8192, ..Default::default() });
            o.insert(
                (k(IpcKind::Msg), 0),
                Stat { id: 0, perm: perm(0o600), size: 16384, qnum: 2, cbytes: 35, stime: 100, ..Default::default() },
            );
            o.insert((k(IpcKind::Sem), 0), Stat { id: 0, perm: perm(0o600), size: 3, ..Default::default() });
            drop(o);
            f.messages.borrow_mut().insert(0, fixture_ns().msg[0].messages.clone());
            f
        }
    }

    impl IpcSys for FakeIpc {
        fn sysctl(&self, name: &str) -> Result<Option<Vec<u8>>> {
            Ok(self.sysctls.get(name).map(|t| t.as_bytes().to_vec()))
        }
        fn has_mqueue(&self) -> bool {
            self.mqueue
        }
        fn info(&self, kind: IpcKind) -> Result<(i32, i32)> {
            let o = self.objects.borrow();
            let of: Vec<i32> = o.keys().filter(|(kk, _)| *kk == k(kind)).map(|(_, i)| *i).collect();
            let mut extra = self.extra_count.borrow_mut();
            let lie = if *extra > 0 && kind == IpcKind::Sem {
                *extra -= 1;
                1
            } else {
                0
            };
            Ok((of.iter().copied().max().unwrap_or(-1), of.len() as i32 + lie))
        }
        fn stat(&self, kind: IpcKind, index: i32) -> Result<Option<Stat>> {
            Ok(self.objects.borrow().get(&(k(kind), index)).copied())
        }
        fn shm_contents(&self, _id: i32, size: u64, _page: usize) -> Result<(Vec<DataRun>, Option<u32>)> {
            Ok((vec![DataRun { first_page: 0, bytes: (0..size).map(|i| i as u8).collect() }], None))
        }
        fn msg_copy(&self, id: i32, n: u64, max: usize) -> Result<Message> {
            if let Some(f) = self.on_copy.borrow_mut().as_mut() {
                f(self);
            }
            let q = self.messages.borrow();
            let m = q[&id].get(n as usize).cloned().ok_or_else(|| Error::new(libc::ENOMSG, "no message"))?;
            if m.data.len() > max {
                return Err(Error::new(libc::E2BIG, "too big"));
            }
            Ok(m)
        }
        fn sem_values(&self, _id: i32, nsems: usize) -> Result<Vec<u16>> {
            Ok((1..=nsems as u16).collect())
        }
    }

    #[test]
    fn reads_the_fixtures_namespace_from_its_syscalls() {
        let f = FakeIpc::fixture();
        let mut ns = read_with(&f, None, 4096, &Logger::default()).unwrap();
        ns.assign_pages_ids(2);
        assert_eq!(ns, fixture_ns());
    }

    #[test]
    fn owners_are_recorded_as_the_root_user_namespace_sees_them() {
        let f = FakeIpc::fixture();
        f.objects.borrow_mut().get_mut(&(k(IpcKind::Sem), 0)).unwrap().perm =
            RawPerm { key: -5, uid: 100_000, gid: 100_007, cuid: 5, cgid: 100_000, mode: 0o600 };
        let ext = |first, lower_first, count| crate::userns::Extent { first, lower_first, count };
        let maps = IdMaps { uid_map: vec![ext(0, 100_000, 65536)], gid_map: vec![ext(0, 100_000, 65536)] };
        let ns = read_with(&f, Some(&maps), 4096, &Logger::default()).unwrap();
        let d = ns.sem[0].desc;
        assert_eq!((d.key, d.uid, d.gid, d.cuid, d.cgid), (-5, 0, 7, u32::MAX, 0));
        assert_eq!(d.to_pb().key, (-5i32) as u32);
    }

    #[test]
    fn a_queue_that_moves_while_read_is_read_again() {
        let f = FakeIpc::fixture();
        let mut raced = false;
        *f.on_copy.borrow_mut() = Some(Box::new(move |f: &FakeIpc| {
            if !raced {
                raced = true;
                // A sender adds a third message; the queue's stat moves on.
                f.messages.borrow_mut().get_mut(&0).unwrap().push(Message { mtype: 3, data: b"third".to_vec() });
                let mut o = f.objects.borrow_mut();
                let st = o.get_mut(&(k(IpcKind::Msg), 0)).unwrap();
                st.qnum = 3;
                st.stime = 101;
            }
        }));
        let ns = read_with(&f, None, 4096, &Logger::default()).unwrap();
        assert_eq!(ns.msg[0].messages.len(), 3, "read again after the change: {:?}", ns.msg[0].messages);
    }

    #[test]
    fn counts_that_never_agree_fail_with_criu_reason() {
        let f = FakeIpc::fixture();
        *f.extra_count.borrow_mut() = 1;
        assert_eq!(read_with(&f, None, 4096, &Logger::default()).unwrap().sem.len(), 1, "one bad count is retried");
        *f.extra_count.borrow_mut() = ATTEMPTS;
        let e = read_with(&f, None, 4096, &Logger::default()).unwrap_err();
        assert_eq!(e.errno(), libc::EAGAIN);
        assert!(e.message().starts_with("Failed to collect 2 semaphore sets (only 1 succeeded)"), "{e}");
    }

    #[test]
    fn sysctls_missing_or_malformed_are_named() {
        let mut f = FakeIpc::fixture();
        f.sysctls.remove("kernel/msg_next_id");
        let e = read_var(&f).unwrap_err();
        assert_eq!(e.errno(), libc::ENOENT);
        assert!(e.message().contains("Can't open sysctl kernel/msg_next_id"), "{e}");
        let mut f = FakeIpc::fixture();
        f.sysctls.insert("kernel/sem", "250 32000 32\n");
        assert!(read_var(&f).unwrap_err().message().contains("3 values, expected 4"));
        f.sysctls.insert("kernel/sem", "250 32000 32 -1\n");
        assert!(read_var(&f).unwrap_err().message().contains("out of range"));
        let mut f = FakeIpc::fixture();
        f.sysctls.insert("kernel/shm_next_id", "7\n");
        f.mqueue = false;
        let var = read_var(&f).unwrap();
        assert_eq!((var.shm_next_id, var.msg_next_id, var.mq_queues_max), (Some(7), None, 0));
        assert_eq!(var.to_entry().mq_msg_default, Some(0), "CRIU writes them even without mqueue");
    }

    #[test]
    fn a_message_above_msgmax_is_an_error_naming_it() {
        let f = FakeIpc::fixture();
        f.messages.borrow_mut().get_mut(&0).unwrap()[1].data = vec![7; 5000];
        let e = read_with(&f, None, 4096, &Logger::default()).unwrap_err();
        assert_eq!(e.errno(), libc::E2BIG);
        assert!(e.message().starts_with("message 1 of queue 0"), "{e}");
    }

    #[test]
    fn contents_fill_holes_with_zeros() {
        let s = ShmSegment {
            size: 3 * 4096 - 100,
            data: vec![DataRun { first_page: 1, bytes: vec![9; 8192] }],
            ..Default::default()
        };
        let c = s.contents(4096);
        assert_eq!(c.len(), 3 * 4096 - 100);
        assert!(c[..4096].iter().all(|&b| b == 0));
        assert!(c[4096..].iter().all(|&b| b == 9));
        let mut buf = [7u8; 10];
        assert_eq!(s.read_at(4096, 4090, &mut buf), 10);
        assert_eq!(buf, [0, 0, 0, 0, 0, 0, 9, 9, 9, 9]);
        assert_eq!(s.read_at(4096, s.size - 3, &mut buf), 3, "short at the end");
        assert_eq!(s.read_at(4096, s.size, &mut buf), 0);
        assert_eq!(s.read_at(4096, u64::MAX, &mut buf), 0);
    }
}
