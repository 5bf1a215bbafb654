//! Working inside another namespace without moving the caller: a
//! short-lived thread enters it, does the work and exits. The caller's
//! threads never change namespace, failing calls included.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};

use nix::sched::{setns, unshare, CloneFlags};

use super::NsKind;
use crate::error::{Error, Result};
use crate::pstree::ProcRoot;

/// Opens `/proc/PID/ns/KIND`; the fd keeps the namespace alive even if
/// the task exits afterwards.
pub fn open_ns(proc: &ProcRoot, pid: i32, kind: NsKind) -> Result<OwnedFd> {
    let path = proc.pid_path(pid, &format!("ns/{}", kind.name()));
    File::open(&path)
        .map(OwnedFd::from)
        .map_err(|e| Error::io(&e, format!("open {} of pid {pid}", path.display())))
}

/// Runs `work` on a new thread that has joined the namespace `ns_fd` (of
/// `kind`) and returns its result. User namespaces are refused: the kernel
/// refuses `setns` into one for any multi-threaded process, so that work
/// belongs in a child process.
pub fn run_in_namespace<R, F>(ns_fd: &OwnedFd, kind: NsKind, work: F) -> Result<R>
where
    R: Send,
    F: FnOnce() -> Result<R> + Send,
{
    if kind == NsKind::User || kind == NsKind::Pid || kind == NsKind::Time {
        return Err(Error::invalid(format!(
            "a thread cannot usefully enter a {} namespace; use a child process",
            kind.name()
        )));
    }
    let flag = CloneFlags::from_bits_retain(kind.clone_flag() as libc::c_int);
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name(format!("criurs-{}ns", kind.name()))
            .spawn_scoped(scope, move || {
                if kind == NsKind::Mnt {
                    // setns(CLONE_NEWNS) needs an fs_struct of our own.
                    unshare(CloneFlags::CLONE_FS).map_err(|e| Error::sys(e, "unshare(CLONE_FS) in worker thread"))?;
                }
                setns(ns_fd.as_fd(), flag).map_err(|e| Error::sys(e, format!("setns into {} namespace", kind.name())))?;
                work()
            })
            .map_err(|e| Error::io(&e, "start a worker thread"))?;
        handle
            .join()
            .unwrap_or_else(|_| Err(Error::new(libc::EFAULT, "worker thread panicked")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own_net() -> std::path::PathBuf {
        std::fs::read_link("/proc/thread-self/ns/net").unwrap()
    }

    #[test]
    fn worker_joins_own_netns_and_caller_stays_put() {
        crate::needs_root!();
        let before = own_net();
        let fd = open_ns(&ProcRoot::default(), std::process::id() as i32, NsKind::Net).unwrap();
        let seen = run_in_namespace(&fd, NsKind::Net, || Ok(own_net())).unwrap();
        assert_eq!(seen, before);
        assert_eq!(own_net(), before);
    }

    #[test]
    fn user_namespaces_are_refused_for_threads() {
        let fd = open_ns(&ProcRoot::default(), std::process::id() as i32, NsKind::User).unwrap();
        let e = run_in_namespace(&fd, NsKind::User, || Ok(())).unwrap_err();
        assert_eq!(e.errno(), libc::EINVAL);
    }

    #[test]
    fn missing_pid_is_named() {
        let e = open_ns(&ProcRoot::default(), i32::MAX, NsKind::Net).unwrap_err();
        assert_eq!(e.errno(), libc::ENOENT);
        assert!(e.message().contains(&i32::MAX.to_string()));
    }
}
