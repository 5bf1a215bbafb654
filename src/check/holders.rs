//! What the tree holds: its open files (who holds each socket, over every
//! process, is the holders room's, as `ss -p`), who else lives in its
//! namespaces, and the few questions only an fd answers, asked through a
//! `pidfd_getfd` duplicate (the task is not stopped, nothing is changed).

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::{Error, Result};
use crate::pstree::{ProcRoot, ProcessTree};

/// One open fd of a task of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFile {
    pub pid: i32,
    pub fd: i32,
    /// The link's target (`socket:[INO]`, a path, `pipe:[INO]`, ...).
    pub target: Vec<u8>,
    /// `mnt_id:` of its fdinfo, for files on a path.
    pub mnt_id: Option<u32>,
}

impl OpenFile {
    pub fn socket(&self) -> Option<u64> {
        crate::holders::socket_inode(&self.target)
    }
}

/// The open files of every live task of the tree, in tree then fd order.
/// A task that exits meanwhile is left out.
pub fn tree_files(proc: &ProcRoot, tree: &ProcessTree) -> Result<Vec<OpenFile>> {
    let mut out = Vec::new();
    for task in &tree.tasks {
        // criurs itself, when the tree holds it (a check of its own shell).
        if task.pid == std::process::id() as i32 {
            continue;
        }
        let fds = match read_fds(proc, task.pid) {
            Ok(fds) => fds,
            Err(e) if e.errno() == libc::ESRCH => continue,
            Err(e) => return Err(e),
        };
        for (fd, target) in fds {
            let mnt_id = if target.first() == Some(&b'/') { read_mnt_id(proc, task.pid, fd) } else { None };
            out.push(OpenFile { pid: task.pid, fd, target, mnt_id });
        }
    }
    Ok(out)
}

/// The fds of `pid` with their link targets, by fd number. ESRCH when the
/// task is gone.
fn read_fds(proc: &ProcRoot, pid: i32) -> Result<Vec<(i32, Vec<u8>)>> {
    use std::os::unix::ffi::OsStrExt;
    let dir = proc.pid_path(pid, "fd");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH) => {
            return Err(Error::new(libc::ESRCH, format!("pid {pid} is gone")))
        }
        Err(e) => return Err(Error::io(&e, format!("read {}", dir.display()))),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        // An fd closed between the listing and the readlink is no fd.
        if let Ok(target) = std::fs::read_link(entry.path()) {
            out.push((fd, target.as_os_str().as_bytes().to_vec()));
        }
    }
    out.sort_by_key(|(fd, _)| *fd);
    Ok(out)
}

/// PPid of `/proc/PID/status`.
fn parent_of(proc: &ProcRoot, pid: i32) -> Option<i32> {
    let text = std::fs::read_to_string(proc.pid_path(pid, "status")).ok()?;
    text.lines().find_map(|l| l.strip_prefix("PPid:")).and_then(|v| v.trim().parse().ok())
}

fn read_mnt_id(proc: &ProcRoot, pid: i32, fd: i32) -> Option<u32> {
    let text = std::fs::read(proc.pid_path(pid, &format!("fdinfo/{fd}"))).ok()?;
    let line = text.split(|&b| b == b'\n').find_map(|l| l.strip_prefix(b"mnt_id:"))?;
    std::str::from_utf8(line).ok()?.trim().parse().ok()
}

/// What only an fd tells. `None`: the fd could not be reached (the task
/// exited, closed it, or refuses ptrace access).
pub trait Probe {
    /// `getsockopt(SOL_UDP, UDP_CORK)`.
    fn udp_corked(&self, pid: i32, fd: i32) -> Option<bool>;
    /// `poll(POLLIN)` with no wait: data waits to be read.
    fn has_data(&self, pid: i32, fd: i32) -> Option<bool>;
    /// `getsockopt(SOL_SOCKET, SO_DOMAIN)`.
    fn domain(&self, pid: i32, fd: i32) -> Option<i32>;
}

/// Asks the live task's fd, through a duplicate from `pidfd_getfd`.
#[derive(Debug, Default)]
pub struct LiveProbe;

impl LiveProbe {
    fn dup(pid: i32, fd: i32) -> Option<OwnedFd> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
        let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if pidfd < 0 {
            return None;
        }
        // SAFETY: pidfd is a fresh fd we own.
        let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as i32) };
        // SAFETY: pidfd_getfd takes a pidfd, an fd number of that process and
        // flags; it returns a new fd of ours or -1.
        let dup = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
        if dup < 0 {
            return None;
        }
        // SAFETY: dup is a fresh fd we own.
        Some(unsafe { OwnedFd::from_raw_fd(dup as i32) })
    }

    fn int_option(fd: &OwnedFd, level: i32, name: i32) -> Option<i32> {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: value and len are valid for writes of the sizes given.
        let rc = unsafe { libc::getsockopt(fd.as_raw_fd(), level, name, (&mut value as *mut libc::c_int).cast(), &mut len) };
        (rc == 0).then_some(value)
    }
}

impl Probe for LiveProbe {
    fn udp_corked(&self, pid: i32, fd: i32) -> Option<bool> {
        let dup = Self::dup(pid, fd)?;
        Self::int_option(&dup, libc::SOL_UDP, libc::UDP_CORK).map(|v| v != 0)
    }

    fn has_data(&self, pid: i32, fd: i32) -> Option<bool> {
        let dup = Self::dup(pid, fd)?;
        let mut pfd = libc::pollfd { fd: dup.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd, no wait.
        let rc = unsafe { libc::poll(&mut pfd, 1, 0) };
        (rc >= 0).then_some(pfd.revents & libc::POLLIN != 0)
    }

    fn domain(&self, pid: i32, fd: i32) -> Option<i32> {
        let dup = Self::dup(pid, fd)?;
        Self::int_option(&dup, libc::SOL_SOCKET, libc::SO_DOMAIN)
    }
}

/// Who outside the tree lives in, or pins, one namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NsUsers {
    /// Processes outside the tree in it (first few, by pid).
    pub pids: Vec<i32>,
    /// Mount points (in the caller's mount namespace) of nsfs binds of it,
    /// as `ip netns add` makes.
    pub pins: Vec<Vec<u8>>,
}

/// How many outside users of a namespace are named.
const USERS_NAMED: usize = 8;

/// For each namespace `(kind, kid)` asked, the processes outside the tree
/// that live in it and the nsfs mounts of the caller that pin it.
pub fn ns_users_outside(
    proc: &ProcRoot,
    tree: &ProcessTree,
    wanted: &[(crate::ns::NsKind, u64)],
) -> Result<HashMap<(crate::ns::NsKind, u64), NsUsers>> {
    let mut out: HashMap<(crate::ns::NsKind, u64), NsUsers> = HashMap::new();
    if wanted.is_empty() {
        return Ok(out);
    }
    let mut in_tree: std::collections::HashSet<i32> = tree.tasks.iter().map(|t| t.pid).collect();
    // The root's ancestors (unshare --fork, a runtime's shim) made its
    // namespaces and go with the tree: they are no sharing to keep.
    let mut at = tree.root().pid;
    while let Some(parent) = parent_of(proc, at).filter(|&p| p > 1 && in_tree.insert(p)) {
        at = parent;
    }
    let own = std::process::id() as i32;
    let dir = proc.root();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(&e, format!("read {}", dir.display())))?;
    let mut pids: Vec<i32> =
        entries.flatten().filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok())).collect();
    pids.sort_unstable();
    for pid in pids {
        if in_tree.contains(&pid) || pid == own {
            continue;
        }
        for &(kind, kid) in wanted {
            if let Ok(Some(k)) = crate::ns::read_ns_kid(proc, &pid.to_string(), kind) {
                if k == kid {
                    let users = out.entry((kind, kid)).or_default();
                    if users.pids.len() < USERS_NAMED {
                        users.pids.push(pid);
                    }
                }
            }
        }
    }
    // nsfs binds: "ID PARENT MAJ:MIN ROOT MOUNTPOINT ... - nsfs ..." with ROOT kind:[INO].
    if let Ok(text) = std::fs::read(proc.path("thread-self/mountinfo")) {
        for line in text.split(|&b| b == b'\n') {
            let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
            let Some(dash) = fields.iter().position(|f| *f == b"-") else { continue };
            if fields.get(dash + 1) != Some(&&b"nsfs"[..]) || fields.len() < 5 {
                continue;
            }
            for &(kind, kid) in wanted {
                if crate::ns::parse_ns_link(kind, fields[3]) == Some(kid) {
                    let path = crate::mount::mountinfo::unescape(fields[4]);
                    out.entry((kind, kid)).or_default().pins.push(path);
                }
            }
        }
    }
    Ok(out)
}
