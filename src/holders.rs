//! Who holds each socket: the (pid, fd) pairs whose `/proc/PID/fd/FD`
//! link reads `socket:[INO]`, as `ss -p` finds them.
//!
//! One `readlinkat` per open file of each process scanned, one read of
//! its `comm`: linear in the fds. Nothing is frozen, so a process or an fd
//! that goes away during the scan is left out (it holds nothing any more);
//! a process whose fds may not be read is an error naming it when the
//! caller asked for it by pid ([`scan_pids`]), and is listed among
//! [`HolderMap::unreadable`] when every process was asked for
//! ([`scan_all`]), so a partial answer always says it is partial.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::error::{Error, Result};
use crate::pstree::ProcRoot;

/// One open file that refers to a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: i32,
    pub fd: i32,
    /// `/proc/PID/comm` without its newline: bytes the process chose.
    pub comm: Box<[u8]>,
}

/// Which processes a holder scan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The tasks of the collected tree (what a dump holds).
    Tree,
    /// Every process in /proc, as `ss -p`: a socket of the tree's
    /// namespaces may be held from outside the tree.
    All,
}

/// Socket inode → every (pid, fd) holding it, in scan order (pids as
/// asked, or ascending for [`scan_all`]; fds as the kernel lists them).
#[derive(Debug, Default, Clone)]
pub struct HolderMap {
    sockets: Vec<(u64, Vec<Holder>)>,
    index: HashMap<u64, usize>,
    processes: usize,
    unreadable: Vec<(i32, Error)>,
}

impl HolderMap {
    /// The holders of socket `ino`; empty when no scanned process has it.
    pub fn get(&self, ino: u64) -> &[Holder] {
        self.index.get(&ino).map_or(&[], |&i| &self.sockets[i].1)
    }

    /// Sockets with at least one holder.
    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    /// Every socket and its holders, in the order first seen.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (u64, &[Holder])> + '_ {
        self.sockets.iter().map(|(ino, h)| (*ino, &h[..]))
    }

    /// Processes whose fds were read.
    pub fn processes(&self) -> usize {
        self.processes
    }

    /// Processes [`scan_all`] could not read (no permission), with why.
    pub fn unreadable(&self) -> &[(i32, Error)] {
        &self.unreadable
    }

    fn add(&mut self, ino: u64, holder: Holder) {
        let at = *self.index.entry(ino).or_insert_with(|| {
            self.sockets.push((ino, Vec::new()));
            self.sockets.len() - 1
        });
        self.sockets[at].1.push(holder);
    }
}

/// Scans only these processes (a dump's tree), on the system's /proc.
pub fn scan_pids(pids: &[i32]) -> Result<HolderMap> {
    scan_pids_in(&ProcRoot::default(), pids)
}

/// Scans every process in /proc, as `ss -p`.
pub fn scan_all() -> Result<HolderMap> {
    scan_all_in(&ProcRoot::default())
}

/// [`scan_pids`] on the procfs at `proc`.
pub fn scan_pids_in(proc: &ProcRoot, pids: &[i32]) -> Result<HolderMap> {
    let mut map = HolderMap::default();
    for &pid in pids {
        if pid <= 0 {
            return Err(Error::invalid(format!("pid {pid} is not a process id")));
        }
        // Read or gone: either is an answer; a refusal is not.
        scan_process(proc, pid, &mut map)?;
    }
    Ok(map)
}

/// [`scan_all`] on the procfs at `proc`.
pub fn scan_all_in(proc: &ProcRoot) -> Result<HolderMap> {
    let root = proc.root();
    let entries = std::fs::read_dir(root).map_err(|e| Error::io(&e, format!("list {}", root.display())))?;
    let mut pids = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&e, format!("list {}", root.display())))?;
        if let Some(pid) = std::str::from_utf8(entry.file_name().as_bytes()).ok().and_then(|n| n.parse::<i32>().ok()) {
            if pid > 0 {
                pids.push(pid);
            }
        }
    }
    pids.sort_unstable();
    let mut map = HolderMap::default();
    for pid in pids {
        match scan_process(proc, pid, &mut map) {
            Ok(_) => {}
            Err(e) if is_permission(e.errno()) => map.unreadable.push((pid, e)),
            Err(e) => return Err(e),
        }
    }
    Ok(map)
}

enum Scan {
    Read,
    /// The process exited before or while it was read.
    Gone,
}

/// A failure that is the caller's lack of privilege over that process.
fn is_permission(errno: i32) -> bool {
    errno == libc::EACCES || errno == libc::EPERM
}

fn is_gone(errno: Errno) -> bool {
    matches!(errno, Errno::ENOENT | Errno::ESRCH)
}

fn denied(pid: i32, what: &str, e: Errno) -> Error {
    Error::sys(e, format!("read {what} of pid {pid}: criurs needs to be allowed to ptrace it (root, or CAP_SYS_PTRACE over its user namespace)"))
}

/// Reads one process: its comm, then each fd's link. Its holders go into
/// `map` only when the whole process was read.
fn scan_process(proc: &ProcRoot, pid: i32, map: &mut HolderMap) -> Result<Scan> {
    let comm_path = proc.pid_path(pid, "comm");
    let comm: Box<[u8]> = match std::fs::read(&comm_path) {
        Ok(mut c) => {
            if c.last() == Some(&b'\n') {
                c.pop();
            }
            c.into()
        }
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ESRCH)) => return Ok(Scan::Gone),
        Err(e) => return Err(Error::io(&e, format!("read {}", comm_path.display()))),
    };
    let fd_path = proc.pid_path(pid, "fd");
    let at = match nix::fcntl::open(&fd_path, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()) {
        Ok(d) => d,
        Err(e) if is_gone(e) => return Ok(Scan::Gone),
        Err(e) if matches!(e, Errno::EACCES | Errno::EPERM) => return Err(denied(pid, &fd_path.display().to_string(), e)),
        Err(e) => return Err(Error::sys(e, format!("open {}", fd_path.display()))),
    };
    // A second descriptor of the same directory to list it, while `at`
    // resolves each entry's link.
    let listing = at.try_clone().map_err(|e| Error::io(&e, format!("duplicate the descriptor of {}", fd_path.display())))?;
    let mut dir = match Dir::from_fd(listing) {
        Ok(d) => d,
        // fdopendir's fstat of a dead task's fd directory.
        Err(e) if is_gone(e) => return Ok(Scan::Gone),
        Err(e) => return Err(Error::sys(e, format!("list {}", fd_path.display()))),
    };
    let mut found: Vec<(u64, i32)> = Vec::new();
    for entry in dir.iter() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) if is_gone(e) => return Ok(Scan::Gone),
            Err(e) => return Err(Error::sys(e, format!("list {}", fd_path.display()))),
        };
        let name = entry.file_name().to_bytes();
        let Some(fd) = std::str::from_utf8(name).ok().and_then(|n| n.parse::<i32>().ok()) else { continue }; // . and ..
        match nix::fcntl::readlinkat(&at, entry.file_name()) {
            Ok(target) => {
                if let Some(ino) = socket_inode(target.as_bytes()) {
                    found.push((ino, fd));
                }
            }
            Err(e) if is_gone(e) => continue, // closed since it was listed
            Err(e) if matches!(e, Errno::EACCES | Errno::EPERM) => return Err(denied(pid, &format!("{}/{fd}", fd_path.display()), e)),
            Err(e) => return Err(Error::sys(e, format!("readlink {}/{fd}", fd_path.display()))),
        }
    }
    for (ino, fd) in found {
        map.add(ino, Holder { pid, fd, comm: comm.clone() });
    }
    map.processes += 1;
    Ok(Scan::Read)
}

/// The inode of a `socket:[INO]` link target, None for anything else.
pub fn socket_inode(target: &[u8]) -> Option<u64> {
    let digits = target.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests;
