//! The SysV ipc syscalls behind `ipc::IpcSys`, for a thread that joined
//! the ipc namespace. Each unsafe call passes buffers sized for what the
//! kernel writes; nothing here consumes a message or changes a value.

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;

use nix::errno::Errno;
use nix::unistd::{lseek, Whence};

use crate::error::{Error, Result};
use crate::pstree::ProcRoot;

use super::ipc::{DataRun, IpcKind, IpcSys, Message, RawPerm, Stat};
use super::pages;

// Commands glibc's headers have and the libc crate lacks (linux/shm.h).
const SHM_STAT: libc::c_int = 13;
const SHM_INFO: libc::c_int = 14;
/// msgrcv: copy the message at an index without taking it (linux/msg.h).
const MSG_COPY: libc::c_int = 0o40000;
/// Where shmget's huge-page size bits sit (SHM_HUGE_SHIFT).
const SHM_HUGE_SHIFT: u32 = 26;
const HUGETLBFS_MAGIC: i64 = 0x9584_58f6;

/// The kernel's `struct shm_info`, what shmctl(SHM_INFO) writes.
#[repr(C)]
#[derive(Default)]
struct ShmInfo {
    used_ids: libc::c_int,
    shm_tot: libc::c_ulong,
    shm_rss: libc::c_ulong,
    shm_swp: libc::c_ulong,
    swap_attempts: libc::c_ulong,
    swap_successes: libc::c_ulong,
}

/// The live namespace of the calling thread.
#[derive(Debug)]
pub(crate) struct LiveIpc<'a> {
    proc: &'a ProcRoot,
}

impl<'a> LiveIpc<'a> {
    pub(crate) fn new(proc: &'a ProcRoot) -> Self {
        LiveIpc { proc }
    }
}

fn perm(p: &libc::ipc_perm) -> RawPerm {
    RawPerm { key: p.__key, uid: p.uid, gid: p.gid, cuid: p.cuid, cgid: p.cgid, mode: p.mode as u32 }
}

fn zeroed<T: Default>() -> T {
    T::default()
}

/// A -1 return: None for EINVAL (an unused index), else the error.
fn stat_result<T>(ret: libc::c_int, value: impl FnOnce() -> T, what: impl FnOnce() -> String) -> Result<Option<T>> {
    if ret >= 0 {
        return Ok(Some(value()));
    }
    match Errno::last() {
        Errno::EINVAL => Ok(None),
        e => Err(Error::sys(e, what())),
    }
}

impl IpcSys for LiveIpc<'_> {
    fn sysctl(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let path = self.proc.path(&format!("sys/{name}"));
        match std::fs::read(&path) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&e, format!("Can't open sysctl {name}"))),
        }
    }

    fn has_mqueue(&self) -> bool {
        nix::unistd::access(&self.proc.path("sys/fs/mqueue"), nix::unistd::AccessFlags::X_OK).is_ok()
    }

    fn info(&self, kind: IpcKind) -> Result<(i32, i32)> {
        let (ret, used) = match kind {
            IpcKind::Shm => {
                let mut info: ShmInfo = zeroed();
                // SAFETY: SHM_INFO writes a struct shm_info, which `info` is.
                let ret = unsafe { libc::shmctl(0, SHM_INFO, (&mut info as *mut ShmInfo).cast()) };
                (ret, info.used_ids)
            }
            IpcKind::Msg => {
                // SAFETY: an all-zero msginfo is a valid value of it.
                let mut info: libc::msginfo = unsafe { std::mem::zeroed() };
                // SAFETY: MSG_INFO writes a struct msginfo, which `info` is.
                let ret = unsafe { libc::msgctl(0, libc::MSG_INFO, (&mut info as *mut libc::msginfo).cast()) };
                (ret, info.msgpool)
            }
            IpcKind::Sem => {
                // SAFETY: an all-zero seminfo is a valid value of it.
                let mut info: libc::seminfo = unsafe { std::mem::zeroed() };
                // SAFETY: SEM_INFO writes a struct seminfo through the
                // union semun argument, passed as the pointer it holds.
                let ret = unsafe { libc::semctl(0, 0, libc::SEM_INFO, &mut info as *mut libc::seminfo) };
                (ret, info.semusz)
            }
        };
        if ret < 0 {
            return Err(Error::sys(Errno::last(), format!("{kind:?}_INFO").to_uppercase()));
        }
        Ok((ret, used))
    }

    fn stat(&self, kind: IpcKind, index: i32) -> Result<Option<Stat>> {
        let what = || format!("Failed to get stats for IPC {kind:?} index {index}");
        match kind {
            IpcKind::Shm => {
                // SAFETY: an all-zero shmid_ds is a valid value of it.
                let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
                // SAFETY: SHM_STAT writes a struct shmid_ds into `ds`.
                let ret = unsafe { libc::shmctl(index, SHM_STAT, &mut ds) };
                stat_result(ret, || Stat { id: ret, perm: perm(&ds.shm_perm), size: ds.shm_segsz as u64, ..Default::default() }, what)
            }
            IpcKind::Msg => {
                // SAFETY: an all-zero msqid_ds is a valid value of it.
                let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
                // SAFETY: MSG_STAT writes a struct msqid_ds into `ds`.
                let ret = unsafe { libc::msgctl(index, libc::MSG_STAT, &mut ds) };
                stat_result(
                    ret,
                    || Stat {
                        id: ret,
                        perm: perm(&ds.msg_perm),
                        size: ds.msg_qbytes as u64,
                        qnum: ds.msg_qnum as u64,
                        cbytes: ds.__msg_cbytes,
                        stime: ds.msg_stime,
                        rtime: ds.msg_rtime,
                    },
                    what,
                )
            }
            IpcKind::Sem => {
                // SAFETY: an all-zero semid_ds is a valid value of it.
                let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
                // SAFETY: SEM_STAT writes a struct semid_ds through the
                // union semun argument, passed as the pointer it holds.
                let ret = unsafe { libc::semctl(index, 0, libc::SEM_STAT, &mut ds as *mut libc::semid_ds) };
                stat_result(ret, || Stat { id: ret, perm: perm(&ds.sem_perm), size: ds.sem_nsems as u64, ..Default::default() }, what)
            }
        }
    }

    fn shm_contents(&self, id: i32, size: u64, page: usize) -> Result<(Vec<DataRun>, Option<u32>)> {
        let file = open_segment(self.proc, id)?;
        let st = nix::sys::statfs::fstatfs(file.as_fd()).map_err(|e| Error::sys(e, format!("fstatfs shm segment {id}")))?;
        let hugetlb_flag = (st.filesystem_type().0 as i64 == HUGETLBFS_MAGIC).then(|| {
            let huge = st.block_size() as u64;
            libc::SHM_HUGETLB as u32 | (huge.trailing_zeros() << SHM_HUGE_SHIFT)
        });
        let nr_pages = size.div_ceil(page as u64);
        let ps = page as i64;
        let runs = pages::stored_pages(nr_pages, |pfn| {
            let data = match lseek(file.as_fd(), pfn as i64 * ps, Whence::SeekData) {
                Ok(off) => off,
                Err(Errno::ENXIO) => return Ok(None),
                Err(e) => return Err(Error::sys(e, format!("lseek(SEEK_DATA) in shm segment {id}"))),
            };
            let hole = lseek(file.as_fd(), data, Whence::SeekHole).map_err(|e| Error::sys(e, format!("lseek(SEEK_HOLE) in shm segment {id}")))?;
            Ok(Some(((data / ps) as u64, (hole / ps) as u64)))
        })?;
        let mut out = Vec::with_capacity(runs.len());
        for (first, count) in runs {
            let len = usize::try_from(count).ok().and_then(|c| c.checked_mul(page)).ok_or_else(|| {
                Error::new(libc::ENOMEM, format!("shm segment {id}: {count} pages do not fit in memory"))
            })?;
            // A segment's stored pages are held in memory until written:
            // an allocation that cannot be had is an error, not an abort.
            let mut bytes = Vec::new();
            bytes.try_reserve_exact(len).map_err(|_| {
                Error::new(libc::ENOMEM, format!("shm segment {id}: no memory for {count} stored pages"))
            })?;
            bytes.resize(len, 0);
            let mut at = 0;
            while at < len {
                match file.read_at(&mut bytes[at..], first * page as u64 + at as u64) {
                    Ok(0) => break, // past the segment's end: the page's tail stays zero
                    Ok(n) => at += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(Error::io(&e, format!("read shm segment {id}"))),
                }
            }
            out.push(DataRun { first_page: first, bytes });
        }
        Ok((out, hugetlb_flag))
    }

    fn msg_copy(&self, id: i32, n: u64, max: usize) -> Result<Message> {
        let words = max.div_ceil(8) + 1;
        let mut buf = vec![0u64; words];
        let index = libc::c_long::try_from(n).map_err(|_| Error::invalid(format!("message index {n}")))?;
        // SAFETY: `buf` holds a long mtype followed by at least `max` bytes
        // of mtext, which bounds what msgrcv writes; MSG_COPY leaves the
        // message in its queue.
        let ret = unsafe { libc::msgrcv(id, buf.as_mut_ptr().cast(), max, index, libc::IPC_NOWAIT | MSG_COPY) };
        if ret < 0 {
            let e = Errno::last();
            let why = match e {
                Errno::E2BIG | Errno::EINVAL => format!(" (larger than kernel.msgmax {max}?)"),
                Errno::ENOSYS => " (the kernel lacks CONFIG_CHECKPOINT_RESTORE)".to_string(),
                _ => String::new(),
            };
            return Err(Error::sys(e, format!("Failed to copy IPC message (msgrcv MSG_COPY){why}")));
        }
        let bytes: Vec<u8> = buf[1..].iter().flat_map(|w| w.to_ne_bytes()).take(ret as usize).collect();
        Ok(Message { mtype: buf[0] as i64, data: bytes })
    }

    fn sem_values(&self, id: i32, nsems: usize) -> Result<Vec<u16>> {
        let mut values = vec![0u16; nsems.max(1)];
        // SAFETY: GETALL writes one unsigned short per semaphore of the set
        // (`nsems`, from SEM_STAT) into the array semun points to.
        let ret = unsafe { libc::semctl(id, 0, libc::GETALL, values.as_mut_ptr()) };
        if ret < 0 {
            return Err(Error::sys(Errno::last(), format!("Failed to get semaphore set {id} values")));
        }
        values.truncate(nsems);
        Ok(values)
    }
}

/// The segment's file: attach it read-only, open the mapping's
/// `/proc/self/map_files` entry (the shmem file behind it), detach.
fn open_segment(proc: &ProcRoot, id: i32) -> Result<File> {
    // SAFETY: a read-only attach at an address the kernel picks; we never
    // touch the mapping, only name it, and detach it below.
    let addr = unsafe { libc::shmat(id, std::ptr::null(), libc::SHM_RDONLY) };
    if addr as isize == -1 {
        return Err(Error::sys(Errno::last(), format!("Failed to attach IPC shared memory {id}")));
    }
    let opened = mapping_file(proc, addr as usize).map_err(|e| e.context(format!("shm segment {id}")));
    // SAFETY: `addr` is the attach made above, detached once.
    if unsafe { libc::shmdt(addr) } != 0 {
        return Err(Error::sys(Errno::last(), format!("Failed to detach IPC shared memory {id}")));
    }
    opened
}

/// Opens `/proc/self/map_files/START-END` of our mapping at `start`.
fn mapping_file(proc: &ProcRoot, start: usize) -> Result<File> {
    let maps_path = proc.path("self/maps");
    let maps = std::fs::read(&maps_path).map_err(|e| Error::io(&e, format!("read {}", maps_path.display())))?;
    let prefix = format!("{start:x}-");
    let range = maps
        .split(|&b| b == b'\n')
        .find(|l| l.starts_with(prefix.as_bytes()))
        .and_then(|l| l.split(|&b| b == b' ').next())
        .ok_or_else(|| Error::malformed(format!("{}: no mapping at {start:#x}", maps_path.display())))?;
    let path = proc.path(&format!("self/map_files/{}", String::from_utf8_lossy(range)));
    File::open(&path).map_err(|e| Error::io(&e, format!("open {}", path.display())))
}
