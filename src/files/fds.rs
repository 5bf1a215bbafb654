//! A task's socket fds from /proc/PID/fd, and each one's
//! /proc/PID/fdinfo/FD (position, open flags, mount id).

use crate::error::{Error, Result};
use crate::pstree::{task_gone, ProcRoot};

/// One socket fd of a task, as /proc named it when it was listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketFd {
    pub fd: i32,
    /// The inode in `socket:[INO]`.
    pub ino: u32,
}

/// The fields of an fdinfo file CRIU's `parse_fdinfo` reads for every fd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FdInfo {
    pub pos: u64,
    /// The open flags, O_CLOEXEC included (the kernel adds it from the fd).
    pub flags: u32,
    pub mnt_id: i32,
}

impl FdInfo {
    /// The file's flags as CRIU keeps them: O_CLOEXEC belongs to the fd.
    pub fn file_flags(&self) -> u32 {
        self.flags & !(libc::O_CLOEXEC as u32)
    }

    /// The fd's flags (FdinfoEntry.flags): FD_CLOEXEC.
    pub fn fd_flags(&self) -> u32 {
        if self.flags & libc::O_CLOEXEC as u32 != 0 {
            libc::FD_CLOEXEC as u32
        } else {
            0
        }
    }
}

/// The socket fds of `pid` in ascending order. A task that exits while
/// it is listed is -ESRCH; an fd closed meanwhile is skipped (it was
/// not there when the listing ended).
///
/// "Exits" is [`task_gone`]'s: a zombie or a task with PF_EXITING still
/// has its /proc directory, but its fds are dropped (or being dropped)
/// with its files, so a listing of it may be empty or cut short: it is
/// gone for the dump, not a task that closed its fds.
pub fn socket_fds(proc: &ProcRoot, pid: i32) -> Result<Vec<SocketFd>> {
    let dir = proc.pid_path(pid, "fd");
    // Opening or reading the listing of a task that exits meanwhile.
    let listing_error = |e: std::io::Error| match e.raw_os_error() {
        Some(libc::ENOENT | libc::ESRCH) => Error::new(libc::ESRCH, format!("pid {pid} exited during the socket dump ({} is gone)", dir.display())),
        _ => Error::io(&e, format!("list {}", dir.display())),
    };
    let entries = std::fs::read_dir(&dir).map_err(listing_error)?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(listing_error)?;
        let name = entry.file_name();
        let Some(fd) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
            return Err(Error::malformed(format!("{}: entry {:?} is not an fd number", dir.display(), name)));
        };
        let target = match std::fs::read_link(entry.path()) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if task_gone(proc, pid) {
                    return Err(exited(pid));
                }
                continue;
            }
            Err(e) => return Err(Error::io(&e, format!("readlink {}", entry.path().display()))),
        };
        if let Some(ino) = socket_inode(std::os::unix::ffi::OsStrExt::as_bytes(target.as_os_str())) {
            out.push(SocketFd { fd, ino });
        }
    }
    // An exit while the listing ran may have cut it short without an
    // error; a task still alive now had every fd it holds listed.
    if task_gone(proc, pid) {
        return Err(exited(pid));
    }
    out.sort_by_key(|s| s.fd);
    Ok(out)
}

fn exited(pid: i32) -> Error {
    Error::new(libc::ESRCH, format!("pid {pid} exited during the socket dump"))
}

/// `socket:[INO]` → INO.
pub fn socket_inode(link: &[u8]) -> Option<u32> {
    let inner = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(inner).ok()?.parse().ok()
}

/// Reads /proc/PID/fdinfo/FD.
pub fn fdinfo(proc: &ProcRoot, pid: i32, fd: i32) -> Result<FdInfo> {
    let path = proc.pid_path(pid, &format!("fdinfo/{fd}"));
    let text = std::fs::read(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH) {
            if task_gone(proc, pid) {
                exited(pid)
            } else {
                Error::new(libc::EBADF, format!("pid {pid} closed fd {fd} during the socket dump"))
            }
        } else {
            Error::io(&e, format!("read {}", path.display()))
        }
    })?;
    parse_fdinfo(&text).map_err(|what| Error::malformed(format!("{}: {what}", path.display())))
}

/// The pos, flags and mnt_id lines of an fdinfo text.
pub fn parse_fdinfo(text: &[u8]) -> std::result::Result<FdInfo, String> {
    let mut info = FdInfo { mnt_id: -1, ..Default::default() };
    let (mut pos, mut flags) = (false, false);
    for line in text.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let (key, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        let value = std::str::from_utf8(value).map_err(|_| format!("line {:?} is not text", String::from_utf8_lossy(line)))?;
        let bad = || format!("bad {} value {value:?}", String::from_utf8_lossy(key));
        match key {
            b"pos" => {
                info.pos = value.parse().map_err(|_| bad())?;
                pos = true;
            }
            b"flags" => {
                info.flags = u32::from_str_radix(value, 8).map_err(|_| bad())?;
                flags = true;
            }
            b"mnt_id" => info.mnt_id = value.parse().map_err(|_| bad())?,
            _ => {}
        }
    }
    if !pos || !flags {
        return Err("no pos or flags line".into());
    }
    Ok(info)
}
