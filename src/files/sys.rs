//! The calls the socket dump makes on another task's socket, from outside
//! it: pidfd_open + pidfd_getfd for a duplicate of the open file, then
//! getsockopt, fcntl, ioctl and a peeking recvmsg on that duplicate.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

use crate::error::{Error, Result};

/// A pidfd of one task of the tree, for pidfd_getfd.
#[derive(Debug)]
pub struct TaskHandle {
    pub pid: i32,
    pidfd: OwnedFd,
}

impl TaskHandle {
    pub fn open(pid: i32) -> Result<TaskHandle> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or
        // -1; no memory is passed.
        let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if ret < 0 {
            let errno = Errno::last();
            return Err(match errno {
                Errno::ESRCH => Error::new(libc::ESRCH, format!("pid {pid} exited during the socket dump")),
                Errno::ENOSYS => Error::new(
                    libc::ENOSYS,
                    format!("pidfd_open(pid {pid}): the kernel has no pidfd_open (Linux 5.3 or later needed) or seccomp forbids it"),
                ),
                e => Error::sys(e, format!("pidfd_open(pid {pid})")),
            });
        }
        // SAFETY: a non-negative return is a new fd that nothing else owns.
        Ok(TaskHandle { pid, pidfd: unsafe { OwnedFd::from_raw_fd(ret as RawFd) } })
    }

    /// A duplicate of the task's fd `fd` (the same open file), in our
    /// process; the caller closes it as soon as it has read it.
    pub fn get_fd(&self, fd: i32) -> Result<OwnedFd> {
        let pid = self.pid;
        // SAFETY: pidfd_getfd takes a pidfd we own, a target fd number and
        // flags; it returns a new fd or -1 and touches no memory of ours.
        let ret = unsafe { libc::syscall(libc::SYS_pidfd_getfd, self.pidfd.as_raw_fd(), fd, 0) };
        if ret < 0 {
            let errno = Errno::last();
            return Err(match errno {
                Errno::EBADF => Error::new(libc::EBADF, format!("pid {pid} closed fd {fd} during the socket dump")),
                Errno::ESRCH => Error::new(libc::ESRCH, format!("pid {pid} exited during the socket dump")),
                Errno::EPERM => Error::new(
                    libc::EPERM,
                    format!(
                        "pidfd_getfd(pid {pid}, fd {fd}): not permitted: it needs PTRACE_MODE_ATTACH_REALCREDS over the task \
                         (CAP_SYS_PTRACE in its user namespace, or the same uid with kernel.yama.ptrace_scope 0 or 1 \
                         for a descendant; an LSM may refuse it too)"
                    ),
                ),
                Errno::ENOSYS => Error::new(
                    libc::ENOSYS,
                    format!("pidfd_getfd(pid {pid}, fd {fd}): the kernel has no pidfd_getfd (Linux 5.6 or later needed) or seccomp forbids it"),
                ),
                e => Error::sys(e, format!("pidfd_getfd(pid {pid}, fd {fd})")),
            });
        }
        // SAFETY: a non-negative return is a new fd that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
    }
}

/// getsockopt of a fixed-size value; like CRIU's `do_dump_opt`, a length
/// other than the value's is an error.
pub fn getsockopt<T: Copy + Default>(fd: BorrowedFd<'_>, level: i32, name: i32) -> std::result::Result<T, Errno> {
    let mut val = T::default();
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `val` is a plain value of `len` bytes that lives across the
    // call; the kernel writes at most `len` bytes and updates `len`.
    let ret = unsafe { libc::getsockopt(fd.as_raw_fd(), level, name, (&mut val as *mut T).cast(), &mut len) };
    if ret < 0 {
        return Err(Errno::last());
    }
    if len as usize != std::mem::size_of::<T>() {
        return Err(Errno::EMSGSIZE);
    }
    Ok(val)
}

/// getsockopt into a byte buffer; returns the length the kernel gave.
pub fn getsockopt_bytes(fd: BorrowedFd<'_>, level: i32, name: i32, buf: &mut [u8]) -> std::result::Result<usize, Errno> {
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: `buf` is writable for `len` bytes for the whole call.
    let ret = unsafe { libc::getsockopt(fd.as_raw_fd(), level, name, buf.as_mut_ptr().cast(), &mut len) };
    if ret < 0 {
        return Err(Errno::last());
    }
    Ok(len as usize)
}

pub fn setsockopt_int(fd: BorrowedFd<'_>, level: i32, name: i32, val: i32) -> std::result::Result<(), Errno> {
    // SAFETY: the value is an int that lives across the call.
    let ret = unsafe {
        libc::setsockopt(fd.as_raw_fd(), level, name, (&val as *const i32).cast(), std::mem::size_of::<i32>() as libc::socklen_t)
    };
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// fcntl with an int argument (F_GETSIG, F_GETFL).
pub fn fcntl_int(fd: BorrowedFd<'_>, cmd: i32) -> std::result::Result<i32, Errno> {
    // SAFETY: these commands take no pointer.
    let ret = unsafe { libc::fcntl(fd.as_raw_fd(), cmd, 0) };
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// The kernel's struct f_owner_ex and fcntl numbers libc lacks.
#[repr(C)]
struct FOwnerEx {
    type_: i32,
    pid: i32,
}
const F_GETOWN_EX: i32 = 16;
pub const F_GETSIG: i32 = 11;

/// F_GETOWN_EX: (type, pid) of the file's owner, pid as our pid namespace sees it.
pub fn owner(fd: BorrowedFd<'_>) -> std::result::Result<(i32, i32), Errno> {
    let mut owner = FOwnerEx { type_: 0, pid: 0 };
    // SAFETY: F_GETOWN_EX writes one struct f_owner_ex we own.
    let ret = unsafe { libc::fcntl(fd.as_raw_fd(), F_GETOWN_EX, &mut owner as *mut FOwnerEx) };
    if ret < 0 {
        return Err(Errno::last());
    }
    Ok((owner.type_, owner.pid))
}

/// The kernel's F_GETOWNER_UIDS (CONFIG_CHECKPOINT_RESTORE): the owner's uid and euid.
const F_GETOWNER_UIDS: i32 = 17;

pub fn owner_uids(fd: BorrowedFd<'_>) -> std::result::Result<[u32; 2], Errno> {
    let mut uids = [0u32; 2];
    // SAFETY: F_GETOWNER_UIDS writes two u32 into the array we own.
    let ret = unsafe { libc::fcntl(fd.as_raw_fd(), F_GETOWNER_UIDS, uids.as_mut_ptr()) };
    if ret < 0 {
        return Err(Errno::last());
    }
    Ok(uids)
}

/// An ioctl that returns a new fd (SIOCGSKNS, SIOCUNIXFILE).
pub fn ioctl_fd(fd: BorrowedFd<'_>, request: u64) -> std::result::Result<OwnedFd, Errno> {
    // SAFETY: these requests take no argument and return a new fd or -1.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, 0) };
    if ret < 0 {
        return Err(Errno::last());
    }
    // SAFETY: a non-negative return is a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(ret) })
}

/// The socket's net namespace as an fd (SIOCGSKNS).
pub const SIOCGSKNS: u64 = 0x894C;
/// An O_PATH fd of a unix socket's bound file (SIOCUNIXFILE).
pub const SIOCUNIXFILE: u64 = 0x89E0;

/// Whether the socket has something to read now (CRIU's `fd_has_data`).
pub fn has_data(fd: BorrowedFd<'_>) -> std::result::Result<bool, Errno> {
    let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one pollfd we own, zero timeout.
    let ret = unsafe { libc::poll(&mut pfd, 1, 0) };
    if ret < 0 {
        return Err(Errno::last());
    }
    Ok(ret == 1 && pfd.revents & libc::POLLIN != 0)
}

/// poll for the given events with a zero timeout; the revents.
pub fn poll_now(fd: BorrowedFd<'_>, events: i16) -> std::result::Result<i16, Errno> {
    let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events, revents: 0 };
    // SAFETY: one pollfd we own, zero timeout.
    let ret = unsafe { libc::poll(&mut pfd, 1, 0) };
    if ret < 0 {
        return Err(Errno::last());
    }
    Ok(if ret == 1 { pfd.revents } else { 0 })
}

/// One peeked packet: its length, what control data came with it, and
/// whether it was truncated.
pub struct Peeked {
    pub len: usize,
    /// SCM_RIGHTS messages (the fds that arrived are closed at once).
    pub rights: usize,
    /// Control messages of any other kind.
    pub other_control: usize,
    pub truncated: bool,
}

/// recvmsg(MSG_PEEK | MSG_DONTWAIT) into `buf`, with room for control
/// messages. `None`: nothing more to read (or the peer shut down).
pub fn peek(fd: BorrowedFd<'_>, buf: &mut [u8]) -> std::result::Result<Option<Peeked>, Errno> {
    let mut cmsg = [0u64; 128];
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: an all-zero msghdr is valid; the pointers set below stay
    // valid for the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cmsg) as _;
    // SAFETY: msg points at our buffers, which outlive the call; the
    // kernel writes within the lengths given.
    let ret = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_PEEK | libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC) };
    if ret < 0 {
        let e = Errno::last();
        return if e == Errno::EAGAIN { Ok(None) } else { Err(e) };
    }
    if ret == 0 {
        return Ok(None);
    }
    let (rights, other_control) = walk_control(&msg);
    Ok(Some(Peeked { len: ret as usize, rights, other_control, truncated: msg.msg_flags & libc::MSG_TRUNC != 0 }))
}

/// Counts the control messages; closes the fds SCM_RIGHTS brought.
fn walk_control(msg: &libc::msghdr) -> (usize, usize) {
    let (mut rights, mut other) = (0, 0);
    // SAFETY: the CMSG_* macros walk the control buffer the kernel filled,
    // bounded by msg_controllen; SCM_RIGHTS data is an array of fds that
    // are now ours and closed here.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                rights += 1;
                let data = libc::CMSG_DATA(c) as *const i32;
                let n = ((*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / std::mem::size_of::<i32>();
                for i in 0..n {
                    libc::close(data.add(i).read_unaligned());
                }
            } else {
                other += 1;
            }
            c = libc::CMSG_NXTHDR(msg, c);
        }
    }
    (rights, other)
}
