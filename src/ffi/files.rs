//! C entry points of the socket images (files.img, fdinfo-N.img,
//! sk-queues.img).

use std::ffi::c_int;

use super::{criurs_ctx, with_ctx, with_ctx_out};
use crate::error::Error;
use crate::files::SocketOptions;

/// criurs_ctx_set_socket_options: CRIU's --ext-unix-sk (a unix socket
/// whose dgram peer is outside the tree is dumped with that peer as
/// external).
pub const CRIURS_SK_EXT_UNIX_SK: u32 = 1;
/// criurs_ctx_set_socket_options: CRIU's --skip-in-flight (a TCP
/// listener's connections not yet accepted are left out, not refused).
pub const CRIURS_SK_SKIP_IN_FLIGHT: u32 = 2;

/// Sets CRIU's socket dump options (CRIURS_SK_* bits) for the next
/// criurs_dump_sockets. Unknown bits give -EINVAL. (A unix socket of the
/// tree whose peer is outside is declared with criurs_ctx_add_external
/// and `unix[INO]`.)
#[no_mangle]
pub extern "C" fn criurs_ctx_set_socket_options(ctx: *mut criurs_ctx, flags: u32) -> c_int {
    with_ctx(ctx, |ctx| {
        if flags & !(CRIURS_SK_EXT_UNIX_SK | CRIURS_SK_SKIP_IN_FLIGHT) != 0 {
            return Err(Error::invalid(format!("socket options {flags:#x}: unknown bits")));
        }
        ctx.set_socket_options(SocketOptions {
            ext_unix_sk: flags & CRIURS_SK_EXT_UNIX_SK != 0,
            skip_in_flight: flags & CRIURS_SK_SKIP_IN_FLIGHT != 0,
        });
        Ok(())
    })
}

/// CRIU's dump_socket for every socket fd of the tree's tasks (pid 0), or
/// of the one task `pid`: writes into the images directory files.img (a
/// UNIXSK, INETSK, PACKETSK or NETLINKSK entry per socket, with its
/// options), sk-queues.img (unix sockets' queued packets, peeked, not
/// consumed) and each task's fdinfo-N.img (N: its fd table's id, as in
/// ids-PID.img; socket fds only), in one batch. Each socket is duplicated
/// with pidfd_getfd(2), read and closed; nothing of the tasks is stopped.
/// Needs criurs_collect_namespaces first (sockets are collected if the
/// collection did not). Returns 0; -EOPNOTSUPP with CRIU's reason, naming
/// pid, fd and socket inode, where CRIU refuses (an established TCP
/// connection, a unix peer outside the tree, an in-flight connection, a
/// corked UDP socket, a netlink socket with data, ...); -EPERM where
/// pidfd_getfd is not allowed (PTRACE_MODE_ATTACH) and -ENOSYS where the
/// kernel or seccomp lacks it; -ESRCH / -EBADF when a task exits or
/// closes a socket meanwhile; -EINVAL without an images directory. On any
/// failure no image of this call is left.
#[no_mangle]
pub extern "C" fn criurs_dump_sockets(ctx: *mut criurs_ctx, pid: i32) -> c_int {
    with_ctx(ctx, |ctx| {
        if pid < 0 {
            return Err(Error::invalid(format!("pid {pid} is negative")));
        }
        ctx.dump_sockets((pid != 0).then_some(pid)).map(drop)
    })
}

/// What the last criurs_dump_sockets wrote. A plain value.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct criurs_socket_dump {
    /// files.img entries (an external unix peer counts).
    pub files: usize,
    /// sk-queues.img packets, and their bytes.
    pub queued_packets: usize,
    pub queued_bytes: usize,
    /// fdinfo-N.img images written (one per fd table).
    pub fd_tables: usize,
}

/// Fills `*out` with what the last criurs_dump_sockets wrote; -ENODATA
/// before one.
#[no_mangle]
pub extern "C" fn criurs_socket_dump_info(ctx: *const criurs_ctx, out: *mut criurs_socket_dump) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let s = ctx.socket_images()?;
        Ok(criurs_socket_dump {
            files: s.files.len(),
            queued_packets: s.queues.len(),
            queued_bytes: s.queues.iter().map(|q| q.data.len()).sum(),
            fd_tables: s.fdinfo.len(),
        })
    })
}
