//! A mount table read with listmount(2) and statmount(2) (Linux 6.8+;
//! a namespace other than the caller's by its id, 6.11+), turned into
//! exactly the records the mountinfo parser makes of the same table.
//!
//! Why: for each slave mount, mountinfo searches its master's whole peer
//! group for a `propagate_from` member visible from the reader's root,
//! so a namespace of N slaves of a group with N members elsewhere costs
//! O(N²) to print. statmount gives the same fields without that search
//! (we never ask for `STATMOUNT_PROPAGATE_FROM`, which CRIU ignores): its
//! records carry `propagate_from` 0.
//!
//! When the result is the same: statmount names mount points relative to
//! a root of its own (the caller's root in the caller's namespace, else
//! the namespace's root mount), mountinfo relative to the *task's* root.
//! [`read`] refuses ([`Refusal`]) unless the task's root is that root,
//! checked with statx before and after the read; it also refuses where
//! the kernel lacks the calls or the caller the right, and a table whose
//! mounts keep vanishing mid-read. The caller then reads mountinfo.
//!
//! The kernel text mountinfo prints, rebuilt from statmount's values
//! (Linux 6.18's `show_mountinfo`, `show_mnt_opts`, `show_sb_opts`,
//! `show_type`): per-mount options from `mnt_attr`; super options as
//! "ro"/"rw" from sb_flags, then `sync`, `dirsync`, `mand`, `lazytime`,
//! then the security and filesystem options statmount gives as
//! `mnt_opts`; the type as `type.subtype` escaped as mountinfo escapes
//! it. statmount gives root, mount point and source unescaped: they are
//! the records' decoded fields as they are, and CRIU's spelling comes from
//! the escaped form mountinfo would print. statmount's sb_flags lack
//! SB_MANDLOCK (`mand`), read per superblock instead (see `add_mand`);
//! a source with a '#' is refused, because a filesystem that prints its
//! own device name may print it escaped or not.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use super::mountinfo::{self, MountRecord, ParseRules, Slab, TextBuilder};
use super::fstype::FsType;
use super::flags;
use crate::error::{Error, Result};

/// listmount(2) and statmount(2): the same numbers on every architecture
/// with the generic syscall table (and x86).
const SYSCALLS: Option<(libc::c_long, libc::c_long)> = if cfg!(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "riscv64",
    target_arch = "powerpc64",
    target_arch = "s390x",
    target_arch = "loongarch64"
)) {
    Some((457, 458))
} else {
    None
};

// include/uapi/linux/mount.h (Linux 6.18), written out here: installed
// headers may predate it.
/// `struct mnt_id_req` with `mnt_ns_id` (MNT_ID_REQ_SIZE_VER1).
#[repr(C)]
struct MntIdReq {
    size: u32,
    spare: u32,
    mnt_id: u64,
    param: u64,
    mnt_ns_id: u64,
}
const LSMT_ROOT: u64 = u64::MAX;
const STATMOUNT_SB_BASIC: u64 = 0x1;
const STATMOUNT_MNT_BASIC: u64 = 0x2;
const STATMOUNT_MNT_ROOT: u64 = 0x8;
const STATMOUNT_MNT_POINT: u64 = 0x10;
const STATMOUNT_FS_TYPE: u64 = 0x20;
const STATMOUNT_MNT_OPTS: u64 = 0x80;
const STATMOUNT_FS_SUBTYPE: u64 = 0x100;
const STATMOUNT_SB_SOURCE: u64 = 0x200;
const WANTED: u64 = STATMOUNT_SB_BASIC
    | STATMOUNT_MNT_BASIC
    | STATMOUNT_MNT_ROOT
    | STATMOUNT_MNT_POINT
    | STATMOUNT_FS_TYPE
    | STATMOUNT_MNT_OPTS
    | STATMOUNT_FS_SUBTYPE
    | STATMOUNT_SB_SOURCE;
/// What a record cannot do without (the others may be absent: no
/// options, no subtype, no source).
const REQUIRED: u64 = STATMOUNT_SB_BASIC | STATMOUNT_MNT_BASIC | STATMOUNT_MNT_ROOT | STATMOUNT_MNT_POINT | STATMOUNT_FS_TYPE;

/// Byte offsets in `struct statmount`; strings are offsets into `str[]`,
/// which starts after the fixed part.
mod sm {
    pub const SIZE: usize = 0;
    pub const MNT_OPTS: usize = 4;
    pub const MASK: usize = 8;
    pub const SB_DEV_MAJOR: usize = 16;
    pub const SB_DEV_MINOR: usize = 20;
    pub const SB_FLAGS: usize = 32;
    pub const FS_TYPE: usize = 36;
    pub const MNT_ID: usize = 40;
    pub const MNT_PARENT_ID: usize = 48;
    pub const MNT_ID_OLD: usize = 56;
    pub const MNT_PARENT_ID_OLD: usize = 60;
    pub const MNT_ATTR: usize = 64;
    pub const MNT_PROPAGATION: usize = 72;
    pub const MNT_PEER_GROUP: usize = 80;
    pub const MNT_MASTER: usize = 88;
    pub const MNT_ROOT: usize = 104;
    pub const MNT_POINT: usize = 108;
    pub const FS_SUBTYPE: usize = 120;
    pub const SB_SOURCE: usize = 124;
    /// `str[]`: after 40 fixed fields and `__spare2[43]`.
    pub const STR: usize = 512;
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;
const MOUNT_ATTR_ATIME: u64 = 0x70;
const MOUNT_ATTR_RELATIME: u64 = 0x0;
const MOUNT_ATTR_NOATIME: u64 = 0x10;
const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
const MOUNT_ATTR_IDMAP: u64 = 0x100000;
const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x200000;

const SB_RDONLY: u32 = 1;
const SB_SYNCHRONOUS: u32 = 16;
const SB_DIRSYNC: u32 = 128;
const SB_LAZYTIME: u32 = 1 << 25;

/// Why the table was not read with statmount: the caller reads mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A statmount read that did not give a table: refused (read mountinfo
/// instead) or failed (bad data: an error like mountinfo's).
#[derive(Debug)]
pub enum Outcome {
    Refused(Refusal),
    Failed(Error),
}

fn refuse<T>(why: impl Into<String>) -> std::result::Result<T, Outcome> {
    Err(Outcome::Refused(Refusal(why.into())))
}

/// How often a read that met a vanished mount is made again before
/// giving up on statmount.
const ATTEMPTS: usize = 3;

/// Reads the mount table of `pid`'s mount namespace (procfs at
/// `/proc`) with listmount and statmount.
pub fn read(pid: i32, rules: &ParseRules) -> std::result::Result<Vec<MountRecord>, Outcome> {
    let Some((statmount_nr, listmount_nr)) = SYSCALLS else { return refuse("no statmount(2) on this architecture") };
    let proc = Path::new("/proc").join(pid.to_string());
    let ns_id = match mnt_ns_id(&proc.join("ns/mnt")).map_err(Outcome::Failed)? {
        Ok(id) => id,
        Err(e) => return refuse(format!("the kernel does not tell mount namespace ids ({e})")),
    };
    let own = matches!(mnt_ns_id(Path::new("/proc/self/ns/mnt")).map_err(Outcome::Failed)?, Ok(id) if id == ns_id);
    let calls = Calls { statmount_nr, listmount_nr, ns_id };
    for attempt in 1..=ATTEMPTS {
        let before = task_root(&proc, own).map_err(Outcome::Failed)?;
        match read_once(&calls, rules) {
            Ok(Some((mut records, uniques, root_unique))) => {
                let after = task_root(&proc, own).map_err(Outcome::Failed)?;
                match (before, after) {
                    (Root::Caller, Root::Caller) => {}
                    (Root::MountRoot(a), Root::MountRoot(b)) if a == b && a == root_unique => {}
                    (Root::Other(why), _) | (_, Root::Other(why)) => return refuse(why),
                    _ => return refuse(format!("pid {pid}'s root is not the root mount statmount names paths from")),
                }
                add_mand(&proc, &mut records, &uniques, rules)?;
                return Ok(records);
            }
            // A mount went away between listmount and its statmount.
            Ok(None) if attempt < ATTEMPTS => continue,
            Ok(None) => return refuse(format!("mounts of pid {pid}'s namespace kept vanishing during {ATTEMPTS} reads")),
            Err(e) => return Err(e),
        }
    }
    unreachable!("the loop returns")
}

/// The id of the mount namespace file at `path`: the outer error if it
/// cannot be opened, the inner one if the kernel does not tell
/// (NS_GET_MNTNS_ID, Linux 6.8+).
fn mnt_ns_id(path: &Path) -> Result<std::result::Result<u64, std::io::Error>> {
    let ns = open(path)?;
    let mut id = 0u64;
    // SAFETY: NS_GET_MNTNS_ID writes one u64 through the pointer, which
    // points at a live u64; the fd is an open namespace file.
    if unsafe { libc::ioctl(ns.as_raw_fd(), libc::NS_GET_MNTNS_ID, &mut id as *mut u64) } != 0 {
        return Ok(Err(std::io::Error::last_os_error()));
    }
    Ok(Ok(id))
}

fn open(path: &Path) -> Result<OwnedFd> {
    std::fs::File::open(path).map(OwnedFd::from).map_err(|e| Error::io(&e, format!("open {}", path.display())))
}

struct Calls {
    statmount_nr: libc::c_long,
    listmount_nr: libc::c_long,
    ns_id: u64,
}

impl Calls {
    fn req(&self, mnt_id: u64, param: u64) -> MntIdReq {
        MntIdReq { size: std::mem::size_of::<MntIdReq>() as u32, spare: 0, mnt_id, param, mnt_ns_id: self.ns_id }
    }

    /// Every mount id of the namespace reachable from statmount's root,
    /// in the kernel's order (mountinfo's).
    fn listmount(&self) -> std::result::Result<Vec<u64>, Outcome> {
        let mut ids: Vec<u64> = Vec::with_capacity(4096);
        let mut last = 0u64;
        loop {
            let req = self.req(LSMT_ROOT, last);
            let room = ids.capacity() - ids.len();
            // SAFETY: listmount writes at most `room` u64s at the pointer,
            // which is the spare capacity of `ids`; `req` lives across the
            // call and has the size it says.
            let n = unsafe { libc::syscall(self.listmount_nr, &req as *const MntIdReq, ids.as_mut_ptr().add(ids.len()), room, 0u32) };
            if n < 0 {
                return Err(classify(std::io::Error::last_os_error(), "listmount"));
            }
            let n = n as usize;
            // SAFETY: the kernel initialized n ≤ room elements.
            unsafe { ids.set_len(ids.len() + n.min(room)) };
            if n < room {
                return Ok(ids);
            }
            last = *ids.last().unwrap_or(&0);
            ids.reserve(ids.capacity());
        }
    }

    /// One mount's statmount into `buf` (grown until it fits); `None`
    /// when the mount is gone.
    fn statmount(&self, id: u64, buf: &mut Vec<u64>) -> std::result::Result<Option<()>, Outcome> {
        loop {
            let req = self.req(id, WANTED);
            let bytes = buf.len() * 8;
            // SAFETY: statmount writes at most `bytes` bytes at the
            // pointer, the start of `buf` (u64s, so aligned for the
            // struct); `req` lives across the call.
            let rc = unsafe { libc::syscall(self.statmount_nr, &req as *const MntIdReq, buf.as_mut_ptr(), bytes, 0u32) };
            if rc == 0 {
                return Ok(Some(()));
            }
            let err = std::io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EOVERFLOW) if buf.len() < (64 << 20) / 8 => {
                    let len = buf.len() * 2;
                    buf.resize(len, 0);
                }
                Some(libc::ENOENT) => return Ok(None),
                _ => return Err(classify(err, "statmount")),
            }
        }
    }
}

/// The kernel lacks the call, or it is not ours to make: read
/// mountinfo. Anything else is an error.
fn classify(err: std::io::Error, call: &str) -> Outcome {
    match err.raw_os_error() {
        Some(libc::ENOSYS | libc::EINVAL | libc::EPERM | libc::EACCES | libc::EOPNOTSUPP | libc::E2BIG | libc::EOVERFLOW) => {
            Outcome::Refused(Refusal(format!("{call}: {err}")))
        }
        Some(libc::ENOENT) => Outcome::Refused(Refusal(format!("{call}: the namespace is gone or empty ({err})"))),
        _ => Outcome::Failed(Error::io(&err, format!("{call} of a mount table"))),
    }
}

/// The task's root, as statmount's paths need it.
#[derive(Debug, PartialEq, Eq)]
enum Root {
    /// The caller's own root (the task shares the caller's namespace).
    Caller,
    /// The root directory of the mount with this unique id.
    MountRoot(u64),
    /// Neither: why.
    Other(String),
}

fn statx(path: &Path) -> Result<libc::statx> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::invalid(format!("{} has a NUL", path.display())))?;
    statx_at(libc::AT_FDCWD, &c, 0).map_err(|e| Error::io(&e, format!("statx {}", path.display())))
}

/// The mount an open fd is on (its unique id).
fn statx_fd(fd: &OwnedFd) -> Result<libc::statx> {
    statx_at(fd.as_raw_fd(), c"", libc::AT_EMPTY_PATH).map_err(|e| Error::io(&e, "statx of a mount point"))
}

fn statx_at(dir: std::os::fd::RawFd, path: &std::ffi::CStr, flags: libc::c_int) -> std::io::Result<libc::statx> {
    // SAFETY: statx only writes the struct it is given, a zeroed
    // libc::statx (plain integers).
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: as above; `path` is NUL-terminated and outlives the call,
    // `dir` is AT_FDCWD or an fd the caller holds open.
    let rc = unsafe { libc::statx(dir, path.as_ptr(), flags, libc::STATX_INO | libc::STATX_MNT_ID_UNIQUE, &mut st) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(st)
}

/// Where `pid`'s root is: for a task of the caller's namespace, whether
/// it is the caller's root; else whether it is the root directory of a
/// mount with nothing above it (its `..` is itself: the path walk stops
/// there, as at a namespace's root mount; a directory inside a mount, or
/// a mount on a directory, has a parent), and which mount.
fn task_root(proc: &Path, own: bool) -> Result<Root> {
    let same = |a: &libc::statx, b: &libc::statx| {
        a.stx_mnt_id == b.stx_mnt_id && a.stx_ino == b.stx_ino && (a.stx_dev_major, a.stx_dev_minor) == (b.stx_dev_major, b.stx_dev_minor)
    };
    let root = statx(&proc.join("root"))?;
    if root.stx_mask & libc::STATX_MNT_ID_UNIQUE == 0 {
        return Ok(Root::Other("the kernel gives no unique mount ids (statx)".into()));
    }
    if own {
        let mine = statx(Path::new("/"))?;
        return Ok(if same(&mine, &root) { Root::Caller } else { Root::Other("the task's root is not the caller's".into()) });
    }
    let up = statx(&proc.join("root/.."))?;
    if !same(&up, &root) {
        return Ok(Root::Other("the task's root has a parent directory (a chroot below the namespace's root)".into()));
    }
    Ok(Root::MountRoot(root.stx_mnt_id))
}

/// A pass: the records, their unique ids, and the unique id of the
/// mount at "/" without a parent in the table.
type Pass = (Vec<MountRecord>, Vec<u64>, u64);

/// One pass; `None` if a mount vanished meanwhile.
fn read_once(calls: &Calls, rules: &ParseRules) -> std::result::Result<Option<Pass>, Outcome> {
    let ids = calls.listmount()?;
    let mut buf = vec![0u64; 512];
    let mut records = Vec::with_capacity(ids.len());
    let mut slab = Slab::default();
    let mut scratch = Scratch::default();
    let mut root = None;
    let listed: foldhash::HashSet<u64> = ids.iter().copied().collect();
    for (i, &id) in ids.iter().enumerate() {
        if calls.statmount(id, &mut buf)?.is_none() {
            return Ok(None);
        }
        let raw = Raw::of(&buf, id)?;
        if raw.source.contains(&b'#') {
            return refuse(format!("mount {} has a source with '#', which mountinfo prints escaped or not by filesystem", raw.id));
        }
        if !listed.contains(&raw.parent_unique) && raw.mnt_point == b"/" {
            if root.is_some() {
                return refuse("two mounts at \"/\" without a parent in the table");
            }
            root = Some(raw.unique);
        }
        let record = raw.record(i + 1, rules, slab.bytes(), &mut scratch).map_err(Outcome::Failed)?;
        records.push(record);
        if slab.full() {
            slab.freeze(&mut records);
        }
    }
    slab.freeze(&mut records);
    match root {
        Some(root) => Ok(Some((records, ids, root))),
        None => refuse("no mount at \"/\" without a parent in the table"),
    }
}

/// One statmount reply's fields.
struct Raw<'a> {
    unique: u64,
    parent_unique: u64,
    id: u32,
    parent_id: u32,
    major: u32,
    minor: u32,
    sb_flags: u32,
    attr: u64,
    propagation: u64,
    peer_group: u32,
    master: u32,
    root: &'a [u8],
    mnt_point: &'a [u8],
    fs_type: &'a [u8],
    subtype: Option<&'a [u8]>,
    source: &'a [u8],
    opts: &'a [u8],
}

impl<'a> Raw<'a> {
    fn of(buf: &'a [u64], id: u64) -> std::result::Result<Raw<'a>, Outcome> {
        let bytes: &'a [u8] = as_bytes(buf);
        let u32_at = |at: usize| u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap_or_default());
        let u64_at = |at: usize| u64::from_ne_bytes(bytes[at..at + 8].try_into().unwrap_or_default());
        let bad = |why: String| Outcome::Failed(Error::malformed(format!("statmount of mount {id:#x}: {why}")));
        let size = (u32_at(sm::SIZE) as usize).min(bytes.len());
        let mask = u64_at(sm::MASK);
        if size < sm::STR || mask & REQUIRED != REQUIRED {
            return Err(Outcome::Refused(Refusal(format!(
                "statmount of mount {id:#x} gave fields {mask:#x} of {REQUIRED:#x} (size {size})"
            ))));
        }
        let strings = &bytes[sm::STR..size];
        let string = |field: usize, flag: u64| -> std::result::Result<Option<&'a [u8]>, Outcome> {
            if mask & flag == 0 {
                return Ok(None);
            }
            let at = u32_at(field) as usize;
            let rest = strings.get(at..).ok_or_else(|| bad(format!("string at {at} past the reply's {} bytes", strings.len())))?;
            let end = rest.iter().position(|&b| b == 0).ok_or_else(|| bad(format!("string at {at} is not terminated")))?;
            Ok(Some(&rest[..end]))
        };
        let group = |v: u64, what: &str| u32::try_from(v).map_err(|_| bad(format!("{what} {v} does not fit in 32 bits")));
        Ok(Raw {
            unique: u64_at(sm::MNT_ID),
            parent_unique: u64_at(sm::MNT_PARENT_ID),
            id: u32_at(sm::MNT_ID_OLD),
            parent_id: u32_at(sm::MNT_PARENT_ID_OLD),
            major: u32_at(sm::SB_DEV_MAJOR),
            minor: u32_at(sm::SB_DEV_MINOR),
            sb_flags: u32_at(sm::SB_FLAGS),
            attr: u64_at(sm::MNT_ATTR),
            propagation: u64_at(sm::MNT_PROPAGATION),
            peer_group: group(u64_at(sm::MNT_PEER_GROUP), "peer group")?,
            master: group(u64_at(sm::MNT_MASTER), "master")?,
            root: string(sm::MNT_ROOT, STATMOUNT_MNT_ROOT)?.unwrap_or_default(),
            mnt_point: string(sm::MNT_POINT, STATMOUNT_MNT_POINT)?.unwrap_or_default(),
            fs_type: string(sm::FS_TYPE, STATMOUNT_FS_TYPE)?.unwrap_or_default(),
            subtype: string(sm::FS_SUBTYPE, STATMOUNT_FS_SUBTYPE)?,
            source: string(sm::SB_SOURCE, STATMOUNT_SB_SOURCE)?.unwrap_or_default(),
            opts: string(sm::MNT_OPTS, STATMOUNT_MNT_OPTS)?.unwrap_or_default(),
        })
    }

    /// The record mountinfo's line `line` would have given, its text in
    /// `slab`.
    fn record(&self, line: usize, rules: &ParseRules, slab: &mut Vec<u8>, scratch: &mut Scratch) -> Result<MountRecord> {
        let what = |why: String| Error::malformed(format!("mount {} at {:?}: {why}", self.id, String::from_utf8_lossy(self.mnt_point)));
        if self.major >= 1 << 12 || self.minor >= 1 << 20 {
            return Err(what(format!("device {}:{} does not fit the kernel's 12:20-bit encoding", self.major, self.minor)));
        }
        if self.root.is_empty() || self.mnt_point.is_empty() {
            return Err(what("empty root or mount point".into()));
        }
        let Scratch { mount_options, fsname, super_options } = scratch;
        mount_options.clear();
        self.mount_options(mount_options);
        let mut flags = flags::mount_flags(mount_options).map_err(|e| what(e.message().to_string()))?;
        fsname.clear();
        escape(self.fs_type, MANGLED, fsname);
        if let Some(sub) = self.subtype {
            fsname.push(b'.');
            escape(sub, MANGLED, fsname);
        }
        super_options.clear();
        self.super_options(super_options);
        let mut text = TextBuilder::new(slab);
        let start = text.start();
        text.current().extend_from_slice(self.root);
        let deleted = mountinfo::strip_deleted_from(text.current(), start);
        text.end();
        text.push(self.mnt_point);
        text.push(mount_options);
        text.push(fsname);
        text.push(self.source);
        text.push(super_options);
        let sb_flags = flags::super_options_into(super_options, rules.ids.as_ref(), text.current());
        text.end();
        let (mut shared_id, mut master_id) = (0, 0);
        if self.propagation & flags::MS_SHARED as u64 != 0 {
            flags |= flags::MS_SHARED;
            shared_id = self.peer_group;
        }
        if self.propagation & flags::MS_SLAVE as u64 != 0 {
            flags |= flags::MS_SLAVE;
            master_id = self.master;
        }
        if self.propagation & flags::MS_UNBINDABLE as u64 != 0 {
            flags |= flags::MS_UNBINDABLE;
        }
        // CRIU spells the three paths from mountinfo's escaped text.
        let plain = |raw: &[u8], set: &[u8]| !raw.iter().any(|b| set.contains(b));
        let criu_spelling = if plain(self.root, PATH) && plain(self.mnt_point, PATH) && plain(self.source, MANGLED) {
            None
        } else {
            let esc = |raw: &[u8], set: &[u8]| {
                let mut out = Vec::with_capacity(raw.len() + 8);
                escape(raw, set, &mut out);
                out
            };
            mountinfo::CriuSpelling::of(&esc(self.root, PATH), &esc(self.mnt_point, PATH), &esc(self.source, MANGLED))
        };
        Ok(MountRecord {
            line,
            mnt_id: self.id,
            parent_mnt_id: self.parent_id,
            major: self.major,
            minor: self.minor,
            root_dev: (self.major << 20) | self.minor,
            deleted,
            flags,
            shared_id,
            master_id,
            propagate_from: 0,
            fstype: FsType::from_kernel_name(fsname, &rules.auto_fs),
            sb_flags,
            ext_key: None,
            internal_sharing: false,
            with_plugin: false,
            cgroup_root: None,
            criu_spelling,
            text: text.finish(),
        })
    }

    /// mountinfo's field 6 (`show_mnt_opts`).
    fn mount_options(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.attr & MOUNT_ATTR_RDONLY != 0 { b"ro" } else { b"rw" });
        let atime = self.attr & MOUNT_ATTR_ATIME;
        for (on, name) in [
            (self.attr & MOUNT_ATTR_NOSUID != 0, &b",nosuid"[..]),
            (self.attr & MOUNT_ATTR_NODEV != 0, b",nodev"),
            (self.attr & MOUNT_ATTR_NOEXEC != 0, b",noexec"),
            (atime == MOUNT_ATTR_NOATIME, b",noatime"),
            (self.attr & MOUNT_ATTR_NODIRATIME != 0, b",nodiratime"),
            (atime == MOUNT_ATTR_RELATIME, b",relatime"),
            (self.attr & MOUNT_ATTR_NOSYMFOLLOW != 0, b",nosymfollow"),
            (self.attr & MOUNT_ATTR_IDMAP != 0, b",idmapped"),
        ] {
            if on {
                out.extend_from_slice(name);
            }
        }
    }

    /// mountinfo's field 11 (`sb_rdonly`, `show_sb_opts`, then the
    /// options statmount gives without their leading comma).
    fn super_options(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.sb_flags & SB_RDONLY != 0 { b"ro" } else { b"rw" });
        for (bit, name) in [(SB_SYNCHRONOUS, &b",sync"[..]), (SB_DIRSYNC, b",dirsync"), (SB_LAZYTIME, b",lazytime")] {
            if self.sb_flags & bit != 0 {
                out.extend_from_slice(name);
            }
        }
        if !self.opts.is_empty() {
            out.push(b',');
            out.extend_from_slice(self.opts);
        }
    }
}

/// statmount's sb_flags leave out SB_MANDLOCK, which mountinfo prints as
/// `mand` (the kernel still records the option, though it has ignored it
/// since 5.15). It is read per superblock with fstatvfs, on a mount of it
/// opened through the task's root (no symlink followed, nothing outside
/// the root) and checked by its unique id to be that mount; superblocks
/// none of whose mounts a path reaches (overmounted) are read from
/// /proc/PID/mounts.
fn add_mand(proc: &Path, records: &mut [MountRecord], uniques: &[u64], rules: &ParseRules) -> std::result::Result<(), Outcome> {
    use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
    use std::os::unix::ffi::OsStrExt;
    use nix::sys::statvfs::{fstatvfs, FsFlags};
    const TRIES: usize = 8;
    let root = open(&proc.join("root")).map_err(Outcome::Failed)?;
    let how = || {
        OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_NO_MAGICLINKS)
    };
    // Up to TRIES mounts of each superblock, grouped in one pass.
    let mut candidates: foldhash::HashMap<u32, Vec<usize>> = Default::default();
    for (i, r) in records.iter().enumerate() {
        let mounts = candidates.entry(r.root_dev).or_default();
        if mounts.len() < TRIES {
            mounts.push(i);
        }
    }
    let mut checked: foldhash::HashMap<u32, bool> = Default::default();
    let mut hidden: foldhash::HashSet<u32> = Default::default();
    for (dev, mounts) in candidates {
        let mut mand = None;
        for j in mounts {
            let mp = records[j].mountpoint();
            let rel: &[u8] = if mp == b"/" { b"." } else { mp.strip_prefix(b"/").unwrap_or(mp) };
            let Ok(fd) = openat2(&root, std::ffi::OsStr::from_bytes(rel), how()) else { continue };
            let Ok(st) = statx_fd(&fd) else { continue };
            if st.stx_mnt_id != uniques[j] {
                continue;
            }
            if let Ok(vfs) = fstatvfs(&fd) {
                mand = Some(vfs.flags().contains(FsFlags::ST_MANDLOCK));
                break;
            }
        }
        match mand {
            Some(mand) => {
                checked.insert(dev, mand);
            }
            None => {
                hidden.insert(dev);
            }
        }
    }
    if !hidden.is_empty() {
        // Superblocks mounted only where no path reaches (overmounted):
        // /proc/PID/mounts prints their flags, linearly (it has no
        // propagation fields), in the same order as the table.
        mand_from_mounts(proc, records, &hidden, &mut checked)?;
    }
    for r in records.iter_mut().filter(|r| checked.get(&r.root_dev) == Some(&true)) {
        // show_sb_opts's order: sync, dirsync, mand, lazytime.
        let old = r.super_options().to_vec();
        let mut parts: Vec<&[u8]> = old.split(|&b| b == b',').collect();
        let at = 1 + parts[1..].iter().take_while(|p| matches!(**p, b"sync" | b"dirsync")).count();
        parts.insert(at, b"mand");
        let new = parts.join(&b","[..]);
        let mut options = Vec::new();
        r.sb_flags = flags::super_options_into(&new, rules.ids.as_ref(), &mut options);
        r.set_text(mountinfo::Text::SuperOptions, &new);
        r.set_text(mountinfo::Text::Options, &options);
    }
    Ok(())
}

/// `mand` of the superblocks `hidden` from /proc/PID/mounts, whose line i
/// is record i (checked by mount point).
fn mand_from_mounts(
    proc: &Path,
    records: &[MountRecord],
    hidden: &foldhash::HashSet<u32>,
    checked: &mut foldhash::HashMap<u32, bool>,
) -> std::result::Result<(), Outcome> {
    let path = proc.join("mounts");
    let text = std::fs::read(&path).map_err(|e| Outcome::Failed(Error::io(&e, format!("read {}", path.display()))))?;
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    if lines.len() != records.len() {
        return refuse(format!("{} has {} lines for {} mounts (the table changed)", path.display(), lines.len(), records.len()));
    }
    let mut escaped = Vec::new();
    for (line, r) in lines.iter().zip(records) {
        if !hidden.contains(&r.root_dev) {
            continue;
        }
        let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        escaped.clear();
        escape(r.mountpoint(), PATH, &mut escaped);
        if fields.len() != 6 || fields[1] != escaped.as_slice() {
            return refuse(format!("{} does not list mount {} where the table has it", path.display(), r.mnt_id));
        }
        let mand = fields[3].split(|&b| b == b',').any(|o| o == b"mand");
        checked.insert(r.root_dev, mand);
    }
    Ok(())
}

/// The bytes of a u64 buffer (no copy).
fn as_bytes(buf: &[u64]) -> &[u8] {
    // SAFETY: u8 has no alignment or validity requirements; the slice
    // covers exactly the memory of `buf`, borrowed for as long.
    unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), std::mem::size_of_val(buf)) }
}

/// What mountinfo escapes in root and mount point (`seq_dentry`,
/// `seq_path_root`), and in type and source (`mangle`).
const PATH: &[u8] = b" \t\n\\";
const MANGLED: &[u8] = b" \t\n\\#";

/// Per-record scratch of the text statmount does not give as mountinfo
/// prints it.
#[derive(Default)]
struct Scratch {
    mount_options: Vec<u8>,
    fsname: Vec<u8>,
    super_options: Vec<u8>,
}

/// The kernel's `seq_escape`: each byte of `set` as a backslash and
/// three octal digits.
fn escape(raw: &[u8], set: &[u8], out: &mut Vec<u8>) {
    for &b in raw {
        if set.contains(&b) {
            out.extend_from_slice(&[b'\\', b'0' + (b >> 6), b'0' + ((b >> 3) & 7), b'0' + (b & 7)]);
        } else {
            out.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_the_kernel_does() {
        let mut out = Vec::new();
        escape(b"a b\tc\nd\\e#f", b" \t\n\\#", &mut out);
        assert_eq!(out, br"a\040b\011c\012d\134e\043f");
        assert_eq!(mountinfo::unescape(&out), b"a b\tc\nd\\e#f");
    }

    /// The race of a mount unmounted between listmount and its
    /// statmount, made deterministic: an id listmount never gave reads
    /// as gone (the read is then made again), not as an error, while
    /// the listed ids read.
    #[test]
    fn a_mount_gone_before_its_statmount_reads_as_gone() {
        crate::needs_root!();
        let (statmount_nr, listmount_nr) = SYSCALLS.expect("this architecture has statmount");
        let ns_id = mnt_ns_id(Path::new("/proc/self/ns/mnt")).unwrap().expect("Linux 6.8+ tells mount namespace ids");
        let calls = Calls { statmount_nr, listmount_nr, ns_id };
        let Ok(ids) = calls.listmount() else { panic!("listmount of our own namespace") };
        let mut buf = vec![0u64; 512];
        assert!(matches!(calls.statmount(ids[0], &mut buf), Ok(Some(()))));
        let never_listed = ids.iter().max().unwrap() + (1 << 40);
        assert!(matches!(calls.statmount(never_listed, &mut buf), Ok(None)));
    }

    #[test]
    fn the_request_is_the_kernels_size() {
        assert_eq!(std::mem::size_of::<MntIdReq>(), 32);
    }

    use crate::mount::Reader;
    use crate::testing::NsShell;
    use crate::Context;

    /// The pid's root mount namespace read with `reader`.
    fn collect(pid: i32, reader: Reader) -> crate::error::Result<crate::mount::MountNamespace> {
        let mut ctx = Context::new(pid)?;
        ctx.set_mount_reader(reader);
        ctx.collect_namespaces(false)?;
        let id = ctx.namespaces()?.root_ns(crate::ns::NsKind::Mnt).map(|n| n.id).unwrap();
        Ok(ctx.mount_namespace(id)?.clone())
    }

    /// Both readers' records, every field (statmount's carry no
    /// propagate_from: mountinfo's must then have none either, or be
    /// the only difference).
    fn assert_same_records(pid: i32) -> (crate::mount::MountNamespace, crate::mount::MountNamespace) {
        let by_mountinfo = collect(pid, Reader::Mountinfo).unwrap();
        let by_statmount = collect(pid, Reader::Statmount).unwrap();
        assert_eq!((by_mountinfo.reader(), by_statmount.reader()), (Reader::Mountinfo, Reader::Statmount));
        assert_eq!(by_mountinfo.len(), by_statmount.len());
        for (a, b) in by_mountinfo.mounts().iter().zip(by_statmount.mounts()) {
            assert_eq!(b.propagate_from, 0);
            let a = MountRecord { propagate_from: 0, ..a.clone() };
            assert_eq!(&a, b, "mount {} at {:?}", a.mnt_id, String::from_utf8_lossy(a.mountpoint()));
            assert_eq!((a.image_root(), a.image_mountpoint(), a.image_source()), (b.image_root(), b.image_mountpoint(), b.image_source()));
        }
        (by_mountinfo, by_statmount)
    }

    /// Every kind of mount the collection meets, in a namespace copied
    /// from ours (so the host's table is compared too): tmpfs with super
    /// options, binds (of files too), shared peers, a slave, an
    /// unbindable, an overmount, per-mount flags, names with space, tab,
    /// backslash and newline, a deleted bind source, proc, and `mand`.
    #[test]
    fn live_both_readers_give_the_same_records() {
        crate::needs_root!();
        let script = r#"
mount -t tmpfs -o size=1m,mode=751 "fx sm" "$B"
cd "$B"
mkdir src sh1 sh2 sl unb over ro gone mand p
printf 'x' > file
: > f
mkdir "$(printf 'sp ace')" "$(printf 'ta	b')" "$(printf 'back\slash')" "$(printf 'new
line')"
for d in "sp ace" "$(printf 'ta	b')" "$(printf 'back\slash')" "$(printf 'new
line')"; do mount --bind src "$d"; done
mount -t tmpfs -o sync,dirsync,lazytime,nr_inodes=99 "sh\src" sh1
mount --make-shared sh1
mount --bind sh1 sh2
mount --bind sh1 sl
mount --make-slave sl
mount --bind src unb
mount --make-unbindable unb
mount -t tmpfs under over
mount -t tmpfs top over
mount --bind src ro
mount -o remount,bind,ro,nosuid,nodev,noexec,noatime ro
mkdir src/victim
mount --bind src/victim gone
rmdir src/victim
mount -t tmpfs -o mand mandatory mand 2>/dev/null
mount -t proc proc p
mount --bind file f
mount -o remount,bind,strictatime,nodiratime f
"#;
        let sh = NsShell::start("statmount-same", script);
        let (records, _) = assert_same_records(sh.pid());
        let shown = std::fs::read_to_string(format!("/proc/{}/mountinfo", sh.pid())).unwrap();
        for marker in [r"\012", r"\134", r"\011", r"\040", "//deleted", "master:", "shared:", "unbindable", "rw,mand", "lazytime", "nodiratime", " - proc "] {
            assert!(shown.contains(marker), "{marker} in {shown}");
        }
        assert!(records.mounts().iter().any(|m| m.deleted) && records.mounts().iter().any(|m| m.criu_spelling.is_some()));
    }

    /// A copy made slave of a namespace with a peer group of 200 binds:
    /// Auto reads it with statmount; a task chrooted below its
    /// namespace's root: statmount is refused (forced, an error naming
    /// why) and Auto reads mountinfo, with the records mountinfo gives.
    #[test]
    fn live_auto_takes_statmount_for_slaves_and_falls_back_under_a_chroot() {
        crate::needs_root!();
        let peers = r#"mount -t tmpfs peers "$1"; mount --make-shared "$1"; mkdir "$1/src"; for i in $(seq 200); do mkdir "$1/d$i"; mount --bind "$1/src" "$1/d$i"; done"#;
        let slaves = NsShell::spawn(
            "statmount-slaves",
            &["--mount", "--propagation", "private"],
            &format!("set -e; {peers}; unshare --mount --propagation unchanged sh -c 'mount --make-rslave \"$1\"; echo \"$$ ready\"; read x || true' sh \"$1\""),
        );
        let auto = collect(slaves.pid(), Reader::Auto).unwrap();
        assert_eq!(auto.reader(), Reader::Statmount);
        assert!(auto.mounts().iter().filter(|m| m.master_id != 0).count() > 200);
        assert_same_records(slaves.pid());

        let chrooted = NsShell::spawn(
            "statmount-chroot",
            &["--mount", "--propagation", "private"],
            &format!("set -e; {peers}; mkdir \"$1/r\"; mount --rbind / \"$1/r\"; unshare --mount --propagation unchanged sh -c 'mount --make-rslave \"$1\"; exec chroot \"$1/r\" sh -c \"echo \\$\\$ ready; read x || true\"' sh \"$1\""),
        );
        let e = collect(chrooted.pid(), Reader::Statmount).unwrap_err();
        assert_eq!(e.errno(), libc::EOPNOTSUPP, "{e}");
        assert!(e.message().contains("chroot"), "{e}");
        let auto = collect(chrooted.pid(), Reader::Auto).unwrap();
        assert_eq!(auto.reader(), Reader::Mountinfo);
        let by_mountinfo = collect(chrooted.pid(), Reader::Mountinfo).unwrap();
        assert_eq!(auto.mounts(), by_mountinfo.mounts());
        assert!(auto.mounts().iter().filter(|m| m.master_id != 0).count() > 200, "the chrooted table has the slaves");
    }
}
