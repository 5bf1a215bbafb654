//! C entry points of the namespace images: ids, uts, time and ipc.

use std::ffi::c_int;

use super::{criurs_ctx, with_ctx, with_ctx_out, Out};
use crate::error::Error;
use crate::nsimg::ids::TaskIds;
use crate::nsimg::ipc::{IpcDesc, IpcNamespace};
use crate::ns::NsKind;
use crate::Context;

/// CRIU 4.2's dump_namespaces() plus each task's ids: writes into the
/// images directory ids-PID.img for every live task, utsns-N.img,
/// timens-N.img (timens-0.img with the caller's clocks when the root
/// shares the caller's time namespace), ipcns-var/shm/msg/sem-N.img and
/// for each shm segment pagemap-shmem-ID.img and pages-K.img, and for
/// each of the tree's net namespaces what criurs_dump_net_ns writes, as
/// CRIU names and fills them. Needs criurs_collect_namespaces first. Nothing
/// of the caller moves: uts and ipc are read by a short-lived thread
/// inside the namespace, nothing is consumed (messages are copied with
/// MSG_COPY). Refuses what CRIU refuses (-EOPNOTSUPP with CRIU's reason:
/// nested namespaces, shared address space or fs struct, a SysV segment
/// mapped outside an ipc namespace of the tree, a link CRIU cannot dump,
/// ...) before writing; on
/// any failure no image of this call is left. Afterwards the accessors
/// below give what was written. Returns 0, -EINVAL (no images directory),
/// -ENODATA (not collected), -ESRCH (a namespace's task exited: collect
/// again), -EAGAIN (an ipc namespace kept changing), or the errno of the
/// failed step.
#[no_mangle]
pub extern "C" fn criurs_dump_namespaces(ctx: *mut criurs_ctx) -> c_int {
    with_ctx(ctx, |ctx| ctx.dump_namespaces().map(|_| ()))
}

/// Reads what criurs_dump_namespaces would write, into the context only
/// (no images directory needed, no refusal applied), for the accessors.
#[no_mangle]
pub extern "C" fn criurs_read_namespaces(ctx: *mut criurs_ctx) -> c_int {
    with_ctx(ctx, |ctx| ctx.read_namespaces().map(|_| ()))
}

/// One task's ids-PID.img. A plain value. A namespace id is 0 when the
/// kernel has no namespaces of that kind.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct criurs_task_ids {
    /// The pid as the caller sees it.
    pub pid: i32,
    /// The pid in the root's pid namespace (the PID of ids-PID.img).
    pub vpid: i32,
    /// CRIU's kcmp ids: address space, fd table, fs struct, signal
    /// handlers (the caller's own are 1, the tree's start at 2).
    pub vm_id: u32,
    pub files_id: u32,
    pub fs_id: u32,
    pub sighand_id: u32,
    pub pid_ns_id: u32,
    pub net_ns_id: u32,
    pub ipc_ns_id: u32,
    pub uts_ns_id: u32,
    pub mnt_ns_id: u32,
    pub user_ns_id: u32,
    pub cgroup_ns_id: u32,
    pub time_ns_id: u32,
}

impl From<&TaskIds> for criurs_task_ids {
    fn from(t: &TaskIds) -> Self {
        let ns = |k| t.ns_id(k).unwrap_or(0);
        criurs_task_ids {
            pid: t.pid,
            vpid: t.vpid,
            vm_id: t.vm_id,
            files_id: t.files_id,
            fs_id: t.fs_id,
            sighand_id: t.sighand_id,
            pid_ns_id: ns(NsKind::Pid),
            net_ns_id: ns(NsKind::Net),
            ipc_ns_id: ns(NsKind::Ipc),
            uts_ns_id: ns(NsKind::Uts),
            mnt_ns_id: ns(NsKind::Mnt),
            user_ns_id: ns(NsKind::User),
            cgroup_ns_id: ns(NsKind::Cgroup),
            time_ns_id: ns(NsKind::Time),
        }
    }
}

/// Writes the number of tasks with ids (the live tasks of the tree, as of
/// the last read or dump; 0 before one) to `*out`.
#[no_mangle]
pub extern "C" fn criurs_task_ids_count(ctx: *const criurs_ctx, out: *mut usize) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        Ok(ctx.namespace_images()?.ids.len())
    })
}

/// Copies the ids of task `index` (tree order) to `*out`. -ENOENT past the end.
#[no_mangle]
pub extern "C" fn criurs_task_ids_get(ctx: *const criurs_ctx, index: usize, out: *mut criurs_task_ids) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let ids = &ctx.namespace_images()?.ids;
        let t = ids
            .get(index)
            .ok_or_else(|| Error::new(libc::ENOENT, format!("task ids index {index} is past the end ({})", ids.len())))?;
        Ok(t.into())
    })
}

/// A uts namespace's names: pointer plus length (not NUL-terminated),
/// owned by the context, valid until the next read, dump or collection
/// on it or criurs_ctx_free. An empty name is NULL with length 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct criurs_uts {
    pub nodename: *const u8,
    pub nodename_len: usize,
    pub domainname: *const u8,
    pub domainname_len: usize,
}

fn bytes(b: &[u8]) -> (*const u8, usize) {
    if b.is_empty() {
        (std::ptr::null(), 0)
    } else {
        (b.as_ptr(), b.len())
    }
}

/// Copies what utsns-`ns_id`.img holds to `*out`. -ENOENT when the last
/// read or dump has no such uts namespace (CRIU dumps only the tree's own).
#[no_mangle]
pub extern "C" fn criurs_uts_get(ctx: *const criurs_ctx, ns_id: u32, out: *mut criurs_uts) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let u = ctx.namespace_images()?.uts(ns_id)?;
        let (nodename, nodename_len) = bytes(&u.nodename);
        let (domainname, domainname_len) = bytes(&u.domainname);
        Ok(criurs_uts { nodename, nodename_len, domainname, domainname_len })
    })
}

/// A clock value: `nsec` is below 1000000000.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct criurs_timespec {
    pub sec: u64,
    pub nsec: u32,
}

/// What timens-N.img holds: a time namespace's clocks at dump time.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct criurs_timens {
    pub monotonic: criurs_timespec,
    pub boottime: criurs_timespec,
}

/// Copies the clocks of timens-`id`.img to `*out`: `id` a time namespace
/// of the tree, or 0 for the caller's own clocks (written when the root
/// shares the caller's time namespace). -ENOENT when there is none.
#[no_mangle]
pub extern "C" fn criurs_timens_get(ctx: *const criurs_ctx, id: u32, out: *mut criurs_timens) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let c = ctx.namespace_images()?.time(id)?;
        let ts = |t: crate::nsimg::time::Timespec| criurs_timespec { sec: t.sec, nsec: t.nsec };
        Ok(criurs_timens { monotonic: ts(c.monotonic), boottime: ts(c.boottime) })
    })
}

/// The ipc sysctls of ipcns-var-N.img. A plain value. The five mq values
/// are 0 when the kernel has no fs.mqueue sysctls (`mqueue` false); a
/// next id is absent (has_... false) while the kernel's is -1.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct criurs_ipc_var {
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
    pub mqueue: bool,
    pub mq_queues_max: u32,
    pub mq_msg_max: u32,
    pub mq_msgsize_max: u32,
    pub mq_msg_default: u32,
    pub mq_msgsize_default: u32,
    pub has_msg_next_id: bool,
    pub msg_next_id: u32,
    pub has_sem_next_id: bool,
    pub sem_next_id: u32,
    pub has_shm_next_id: bool,
    pub shm_next_id: u32,
}

fn ipc(ctx: &Context, ns_id: u32) -> crate::Result<&IpcNamespace> {
    ctx.namespace_images()?.ipc(ns_id)
}

/// Copies the sysctls of ipc namespace `ns_id` to `*out`. -ENOENT when
/// the last read or dump has no such ipc namespace.
#[no_mangle]
pub extern "C" fn criurs_ipc_var_get(ctx: *const criurs_ctx, ns_id: u32, out: *mut criurs_ipc_var) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let v = &ipc(ctx, ns_id)?.var;
        let value = criurs_ipc_var {
            sem_ctls: v.sem_ctls,
            msg_ctlmax: v.msg_ctlmax,
            msg_ctlmnb: v.msg_ctlmnb,
            msg_ctlmni: v.msg_ctlmni,
            auto_msgmni: v.auto_msgmni,
            shm_ctlmax: v.shm_ctlmax,
            shm_ctlall: v.shm_ctlall,
            shm_ctlmni: v.shm_ctlmni,
            shm_rmid_forced: v.shm_rmid_forced,
            mqueue: v.mqueue,
            mq_queues_max: v.mq_queues_max,
            mq_msg_max: v.mq_msg_max,
            mq_msgsize_max: v.mq_msgsize_max,
            mq_msg_default: v.mq_msg_default,
            mq_msgsize_default: v.mq_msgsize_default,
            has_msg_next_id: v.msg_next_id.is_some(),
            msg_next_id: v.msg_next_id.unwrap_or(0),
            has_sem_next_id: v.sem_next_id.is_some(),
            sem_next_id: v.sem_next_id.unwrap_or(0),
            has_shm_next_id: v.shm_next_id.is_some(),
            shm_next_id: v.shm_next_id.unwrap_or(0),
        };
        Ok(value)
    })
}

/// Owner, creator and mode of a SysV object, as CRIU records them (ids
/// as the root's user namespace sees them; UINT32_MAX when unmapped).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct criurs_ipc_desc {
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    /// Permission bits plus SHM_DEST (01000) / SHM_LOCKED (02000).
    pub mode: u32,
    /// The object's ipc id.
    pub id: i32,
}

impl From<IpcDesc> for criurs_ipc_desc {
    fn from(d: IpcDesc) -> Self {
        criurs_ipc_desc { key: d.key, uid: d.uid, gid: d.gid, cuid: d.cuid, cgid: d.cgid, mode: d.mode, id: d.id }
    }
}

/// One shm segment of ipcns-shm-N.img. A plain value; its contents come
/// from criurs_ipc_shm_read.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct criurs_ipc_shm {
    pub desc: criurs_ipc_desc,
    /// Bytes.
    pub size: u64,
    /// SHM_HUGETLB with the page size bits, for a huge-page segment.
    pub has_hugetlb_flag: bool,
    pub hugetlb_flag: u32,
    /// The K of the pages-K.img holding the stored pages.
    pub pages_id: u32,
    /// Pages stored (the kernel's holes are not).
    pub stored_pages: u64,
}

/// Which of the three object lists a count is asked of.
fn count(ctx: &Context, ns_id: u32, which: fn(&IpcNamespace) -> usize) -> crate::Result<usize> {
    Ok(which(ipc(ctx, ns_id)?))
}

fn past_end(what: &str, index: usize, len: usize) -> Error {
    Error::new(libc::ENOENT, format!("{what} index {index} is past the end ({len})"))
}

/// Writes the number of shm segments of ipc namespace `ns_id` to `*out`.
#[no_mangle]
pub extern "C" fn criurs_ipc_shm_count(ctx: *const criurs_ctx, ns_id: u32, out: *mut usize) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let n = count(ctx, ns_id, |i| i.shm.len())?;
        Ok(n)
    })
}

/// Copies segment `index` of ipc namespace `ns_id` to `*out`. -ENOENT past the end.
#[no_mangle]
pub extern "C" fn criurs_ipc_shm_get(ctx: *const criurs_ctx, ns_id: u32, index: usize, out: *mut criurs_ipc_shm) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let ns = ipc(ctx, ns_id)?;
        let s = ns.shm.get(index).ok_or_else(|| past_end("shm segment", index, ns.shm.len()))?;
        let value = criurs_ipc_shm {
            desc: s.desc.into(),
            size: s.size,
            has_hugetlb_flag: s.hugetlb_flag.is_some(),
            hugetlb_flag: s.hugetlb_flag.unwrap_or(0),
            pages_id: s.pages_id,
            stored_pages: s.stored_pages(ns.page_size),
        };
        Ok(value)
    })
}

/// Copies up to `len` bytes of segment `index`'s contents, from byte
/// `offset`, into `buf` (zeros where the kernel had a hole), and writes
/// how many were copied to `*copied`: fewer than `len` at the segment's
/// end, 0 at or past it. `buf` may be NULL only when `len` is 0; the
/// caller owns it.
#[no_mangle]
pub extern "C" fn criurs_ipc_shm_read(
    ctx: *const criurs_ctx,
    ns_id: u32,
    index: usize,
    offset: u64,
    buf: *mut u8,
    len: usize,
    copied: *mut usize,
) -> c_int {
    with_ctx(ctx, |ctx| {
        let copied = Out::new(copied, "copied")?;
        if buf.is_null() && len > 0 {
            return Err(Error::invalid("buf is NULL"));
        }
        let ns = ipc(ctx, ns_id)?;
        let s = ns.shm.get(index).ok_or_else(|| past_end("shm segment", index, ns.shm.len()))?;
        let n = if len == 0 {
            0
        } else {
            // SAFETY: buf is non-NULL and valid for `len` writable bytes per
            // the contract, and not aliased by anything of the context.
            let out = unsafe { std::slice::from_raw_parts_mut(buf, len) };
            s.read_at(ns.page_size, offset, out)
        };
        copied.write(n);
        Ok(())
    })
}

/// One message queue of ipcns-msg-N.img. A plain value.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct criurs_ipc_msq {
    pub desc: criurs_ipc_desc,
    pub qbytes: u64,
    /// Number of messages (see criurs_ipc_msg_get).
    pub qnum: usize,
}

/// One message: `data` is owned by the context (valid until the next
/// read, dump or collection, or criurs_ctx_free); NULL when `len` is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct criurs_ipc_msg {
    pub mtype: i64,
    pub data: *const u8,
    pub len: usize,
}

/// Writes the number of message queues of ipc namespace `ns_id` to `*out`.
#[no_mangle]
pub extern "C" fn criurs_ipc_msq_count(ctx: *const criurs_ctx, ns_id: u32, out: *mut usize) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let n = count(ctx, ns_id, |i| i.msg.len())?;
        Ok(n)
    })
}

/// Copies queue `index` of ipc namespace `ns_id` to `*out`. -ENOENT past the end.
#[no_mangle]
pub extern "C" fn criurs_ipc_msq_get(ctx: *const criurs_ctx, ns_id: u32, index: usize, out: *mut criurs_ipc_msq) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let ns = ipc(ctx, ns_id)?;
        let q = ns.msg.get(index).ok_or_else(|| past_end("message queue", index, ns.msg.len()))?;
        Ok(criurs_ipc_msq { desc: q.desc.into(), qbytes: q.qbytes, qnum: q.messages.len() })
    })
}

/// Copies message `msg` (queue order) of queue `queue` of ipc namespace
/// `ns_id` to `*out`. -ENOENT past the end of either.
#[no_mangle]
pub extern "C" fn criurs_ipc_msg_get(
    ctx: *const criurs_ctx,
    ns_id: u32,
    queue: usize,
    msg: usize,
    out: *mut criurs_ipc_msg,
) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let ns = ipc(ctx, ns_id)?;
        let q = ns.msg.get(queue).ok_or_else(|| past_end("message queue", queue, ns.msg.len()))?;
        let m = q.messages.get(msg).ok_or_else(|| past_end("message", msg, q.messages.len()))?;
        let (data, len) = bytes(&m.data);
        Ok(criurs_ipc_msg { mtype: m.mtype, data, len })
    })
}

/// One semaphore set of ipcns-sem-N.img: `values` (one per semaphore)
/// is owned by the context like message data.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct criurs_ipc_sem {
    pub desc: criurs_ipc_desc,
    pub nsems: usize,
    pub values: *const u16,
}

/// Writes the number of semaphore sets of ipc namespace `ns_id` to `*out`.
#[no_mangle]
pub extern "C" fn criurs_ipc_sem_count(ctx: *const criurs_ctx, ns_id: u32, out: *mut usize) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let n = count(ctx, ns_id, |i| i.sem.len())?;
        Ok(n)
    })
}

/// Copies set `index` of ipc namespace `ns_id` to `*out`. -ENOENT past the end.
#[no_mangle]
pub extern "C" fn criurs_ipc_sem_get(ctx: *const criurs_ctx, ns_id: u32, index: usize, out: *mut criurs_ipc_sem) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let ns = ipc(ctx, ns_id)?;
        let s = ns.sem.get(index).ok_or_else(|| past_end("semaphore set", index, ns.sem.len()))?;
        let values = if s.values.is_empty() { std::ptr::null() } else { s.values.as_ptr() };
        Ok(criurs_ipc_sem { desc: s.desc.into(), nsems: s.values.len(), values })
    })
}
