//! Processes by handle, not by number. A pid is only a number: once its
//! process is reaped the kernel may give it to another, and a host's
//! SIGCHLD handler may reap a child of ours before we wait for it. So the
//! tree root is held by a pidfd ([`PidHandle`]: gone is -ESRCH, never
//! another process's data), and the short-lived children criurs runs are
//! made with `clone3(CLONE_PIDFD)` and exit signal 0 ([`Child`]): no
//! SIGCHLD is sent for them, `waitpid(-1, ...)` without `__WALL` does not
//! see them, SIG_IGN does not auto-reap them, and they are waited for
//! through their pidfd.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::{Error, Result};

/// A live process held by a pidfd; where the kernel (or valgrind) has no
/// pidfd_open, by its pid and start time instead.
#[derive(Debug)]
pub struct PidHandle {
    pid: i32,
    fd: Option<OwnedFd>,
    start_time: u64,
}

impl PidHandle {
    /// `pidfd_open(pid, 0)`: -ESRCH when there is no such process, -EINVAL
    /// when `pid` names a thread that is not a process.
    pub fn open(pid: i32) -> Result<PidHandle> {
        crate::pstree::check_pid(pid)?;
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        let fd = if fd >= 0 {
            // SAFETY: the fd was just returned by the kernel and is owned by nobody else.
            Some(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
        } else {
            match nix::errno::Errno::last() {
                nix::errno::Errno::ENOSYS => None,
                nix::errno::Errno::ESRCH => return Err(Error::new(libc::ESRCH, format!("pid {pid} does not exist"))),
                nix::errno::Errno::EINVAL => return Err(Error::invalid(format!("pid {pid} is a thread, not a process"))),
                e => return Err(Error::sys(e, format!("pidfd_open of pid {pid}"))),
            }
        };
        // Read after the pidfd is open: the process it names is this one.
        let start_time = start_time(pid).ok_or_else(|| Error::new(libc::ESRCH, format!("pid {pid} does not exist")))?;
        Ok(PidHandle { pid, fd, start_time })
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Whether the process has exited (zombie, reaped, or its number
    /// given to another process): its pidfd polls readable.
    pub fn exited(&self) -> bool {
        let Some(fd) = &self.fd else { return start_time(self.pid) != Some(self.start_time) };
        let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd, timeout 0 (never blocks).
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        n != 0 && (n < 0 || pfd.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0)
    }

    /// -ESRCH once the process is gone: its pid may now be another's.
    pub fn check(&self) -> Result<()> {
        if self.exited() {
            return Err(Error::new(
                libc::ESRCH,
                format!("pid {} exited (the number may now belong to another process)", self.pid),
            ));
        }
        Ok(())
    }
}

/// The start time (field 22 of `/proc/PID/stat`, in clock ticks since
/// boot): with the pid, it names one process for the system's lifetime.
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let field = stat[close + 1..].split(|b| b.is_ascii_whitespace()).filter(|w| !w.is_empty()).nth(19)?;
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// A child process made by [`fork_child`], waited for through its pidfd.
#[derive(Debug)]
pub struct Child {
    pid: i32,
    pidfd: OwnedFd,
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Forks a child that runs `body` (which ends with `_exit`), with exit signal
/// 0 and a pidfd: a host's SIGCHLD handling cannot reap it or be woken by
/// it. Falls back to `clone(CLONE_PIDFD)` where clone3 is missing (old
/// kernels, valgrind).
///
/// # Safety
/// As for `fork` in a multi-threaded process: `body` may only make
/// async-signal-safe calls (no allocation, no locks) on data prepared
/// before the call, and must end with `_exit`.
pub unsafe fn fork_child<F: FnOnce()>(body: F) -> Result<Child> {
    let mut pidfd: libc::c_int = -1;
    let args = CloneArgs {
        flags: libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        exit_signal: 0,
        ..Default::default()
    };
    // SAFETY: clone3 with no CLONE_VM copies the process as fork does; the
    // args struct and the pidfd slot live across the call.
    let mut pid = unsafe { libc::syscall(libc::SYS_clone3, &args as *const CloneArgs, std::mem::size_of::<CloneArgs>()) };
    if pid < 0 && nix::errno::Errno::last() == nix::errno::Errno::ENOSYS {
        // SAFETY: clone(flags = CLONE_PIDFD, exit signal 0, no new stack)
        // is a fork; the kernel writes the pidfd into `pidfd`.
        pid = unsafe {
            libc::syscall(libc::SYS_clone, libc::CLONE_PIDFD as libc::c_ulong, 0usize, &mut pidfd as *mut libc::c_int, 0usize, 0usize)
        };
    }
    if pid < 0 {
        return Err(Error::sys(nix::errno::Errno::last(), "clone a child process"));
    }
    if pid == 0 {
        body();
        // SAFETY: in the child; `body` should not return, and if it does
        // the child must not run the parent's code.
        unsafe { libc::_exit(127) }
    }
    // SAFETY: the kernel wrote a new fd we alone own.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    Ok(Child { pid: pid as i32, pidfd })
}

impl Child {
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Waits for the child to end and reaps it: `waitid(P_PIDFD)`.
    pub fn wait(self) -> Result<Exit> {
        loop {
            // SAFETY: siginfo_t is plain data; zeroed is a valid value.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: a valid pidfd and a siginfo_t to fill.
            let rc = unsafe {
                libc::waitid(libc::P_PIDFD, self.pidfd.as_raw_fd() as libc::id_t, &mut info, libc::WEXITED | libc::__WALL)
            };
            if rc < 0 {
                let errno = nix::errno::Errno::last();
                if errno == nix::errno::Errno::EINTR {
                    continue;
                }
                return Err(Error::sys(errno, format!("wait for child process {}", self.pid)));
            }
            // SAFETY: waitid filled a CLD_* siginfo, where si_status is valid.
            let status = unsafe { info.si_status() };
            return Ok(if info.si_code == libc::CLD_EXITED { Exit::Code(status) } else { Exit::Signal(status) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_waited_for_through_its_pidfd() {
        // SAFETY: the body only calls _exit.
        let child = unsafe { fork_child(|| libc::_exit(7)) }.unwrap();
        assert!(child.pid() > 0);
        assert_eq!(child.wait().unwrap(), Exit::Code(7));
        // SAFETY: as above, with a signal to itself by raw syscalls (the
        // C library's idea of our thread id is the parent's after clone3).
        let child = unsafe {
            fork_child(|| {
                libc::syscall(libc::SYS_kill, libc::syscall(libc::SYS_getpid), libc::SIGKILL);
                libc::_exit(0)
            })
        }
        .unwrap();
        assert_eq!(child.wait().unwrap(), Exit::Signal(libc::SIGKILL));
    }

    #[test]
    fn a_pid_handle_sees_its_process_exit() {
        let me = PidHandle::open(std::process::id() as i32).unwrap();
        assert!(me.check().is_ok());
        // SAFETY: the body only calls pause and _exit.
        let child = unsafe {
            fork_child(|| {
                libc::pause();
                libc::_exit(0)
            })
        }
        .unwrap();
        let handle = PidHandle::open(child.pid()).unwrap();
        assert!(!handle.exited());
        // SAFETY: signalling our own child by its pid, not yet reaped.
        unsafe { libc::kill(child.pid(), libc::SIGKILL) };
        let pid = child.pid();
        assert_eq!(child.wait().unwrap(), Exit::Signal(libc::SIGKILL));
        assert!(handle.exited());
        let e = handle.check().unwrap_err();
        assert_eq!(e.errno(), libc::ESRCH);
        assert!(e.message().contains(&pid.to_string()), "{e}");
        assert_eq!(PidHandle::open(i32::MAX).unwrap_err().errno(), libc::ESRCH);
        assert!(start_time(std::process::id() as i32).is_some_and(|t| t > 0));
        assert_eq!(PidHandle::open(0).unwrap_err().errno(), libc::EINVAL);
    }
}
