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

/// Runs `work(i)` for every namespace of `ns_fds` (of `kind`) and hands
/// each result, in order, to `take(i, result)` on the calling thread.
/// One helper thread enters the namespaces in turn (one thread for all
/// of them, not one each) and does the work of the next while the caller
/// takes the last: both cores are used, and at most one result waits. A
/// `None` entry is the caller's own namespace, worked on the calling
/// thread (no setns, so no privilege, as `run_in_namespace`'s callers do
/// there). An error from `take` stops the walk and is returned.
pub fn visit_in_turn<R, W, T>(ns_fds: &[Option<&OwnedFd>], kind: NsKind, work: W, mut take: T) -> Result<()>
where
    R: Send,
    W: Fn(usize) -> Result<R> + Sync,
    T: FnMut(usize, Result<R>) -> Result<()>,
{
    if kind == NsKind::User || kind == NsKind::Pid || kind == NsKind::Time {
        return Err(Error::invalid(format!("a thread cannot usefully enter a {} namespace; use a child process", kind.name())));
    }
    let flag = CloneFlags::from_bits_retain(kind.clone_flag() as libc::c_int);
    let foreign: Vec<(usize, &OwnedFd)> = ns_fds.iter().enumerate().filter_map(|(i, fd)| fd.map(|fd| (i, fd))).collect();
    let work = &work;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Result<R>)>(1);
        let helper = if foreign.is_empty() {
            drop(tx);
            None
        } else {
            let spawned = std::thread::Builder::new().name(format!("criurs-{}ns", kind.name())).spawn_scoped(scope, move || {
                if kind == NsKind::Mnt {
                    if let Err(e) = unshare(CloneFlags::CLONE_FS) {
                        let _ = tx.send((foreign[0].0, Err(Error::sys(e, "unshare(CLONE_FS) in worker thread"))));
                        return;
                    }
                }
                for (i, fd) in foreign {
                    let result = setns(fd.as_fd(), flag)
                        .map_err(|e| Error::sys(e, format!("setns into {} namespace", kind.name())))
                        .and_then(|()| work(i));
                    // A closed channel: the caller stopped at an error.
                    if tx.send((i, result)).is_err() {
                        return;
                    }
                }
            });
            Some(spawned.map_err(|e| Error::io(&e, "start a worker thread"))?)
        };
        let mut walk = || -> Result<()> {
            for (i, fd) in ns_fds.iter().enumerate() {
                let result = match fd {
                    None => work(i),
                    Some(_) => match rx.recv() {
                        Ok((j, result)) if j == i => result,
                        Ok((j, _)) => return Err(Error::new(libc::EFAULT, format!("namespace {j} came back when {i} was due"))),
                        Err(_) => return Err(Error::new(libc::EFAULT, "the namespace worker thread ended early")),
                    },
                };
                take(i, result)?;
            }
            Ok(())
        };
        let walked = walk();
        drop(rx);
        if let Some(helper) = helper {
            helper.join().map_err(|_| Error::new(libc::EFAULT, "worker thread panicked"))?;
        }
        walked
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
    fn one_thread_visits_the_namespaces_in_turn_and_results_come_in_order() {
        crate::needs_root!();
        let fd = open_ns(&ProcRoot::default(), std::process::id() as i32, NsKind::Net).unwrap();
        let before = own_net();
        let me = std::thread::current().id();
        let fds = [Some(&fd), None, Some(&fd), Some(&fd)];
        let mut got = Vec::new();
        visit_in_turn(&fds, NsKind::Net, |i| Ok((i, std::thread::current().id(), own_net())), |i, r| {
            got.push((i, r?));
            Ok(())
        })
        .unwrap();
        assert_eq!(got.iter().map(|(i, (j, _, _))| (*i, *j)).collect::<Vec<_>>(), vec![(0, 0), (1, 1), (2, 2), (3, 3)]);
        let threads: Vec<_> = got.iter().map(|(_, (_, t, _))| *t).collect();
        assert_eq!(threads[1], me, "the caller's own namespace is worked on the calling thread");
        assert!(threads[0] != me && threads[0] == threads[2] && threads[2] == threads[3], "one helper for all the others");
        assert!(got.iter().all(|(_, (_, _, net))| *net == before));
        assert_eq!(own_net(), before);
        // An error from the caller stops the walk; a failed work is handed over.
        let mut taken = 0;
        let e = visit_in_turn(&fds, NsKind::Net, |i| if i == 3 { Err(Error::invalid("work 3")) } else { Ok(i) }, |i, r| {
            taken += 1;
            r.and_then(|_| if i == 2 { Err(Error::new(libc::EIO, "stop at 2")) } else { Ok(()) })
        })
        .unwrap_err();
        assert_eq!((taken, e.errno()), (3, libc::EIO));
        let e = visit_in_turn(&fds, NsKind::Net, |i| if i == 3 { Err(Error::invalid("work 3")) } else { Ok(i) }, |_, r| r.map(|_| ())).unwrap_err();
        assert!(e.message().contains("work 3"), "{e}");
        assert_eq!(visit_in_turn(&fds, NsKind::User, |_| Ok(()), |_, r| r).unwrap_err().errno(), libc::EINVAL);
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
