//! C entry points of the holders room: which (pid, fd) hold each socket.

use std::ffi::c_int;

use super::{criurs_ctx, with_ctx, with_ctx_out};
use crate::error::Error;
use crate::holders::Scope;

/// criurs_collect_socket_holders: the tasks of the collected tree.
pub const CRIURS_HOLDERS_TREE: u32 = 0;
/// criurs_collect_socket_holders: every process in /proc, as ss -p.
pub const CRIURS_HOLDERS_ALL: u32 = 1;

/// One open file that refers to a socket. `comm` (the process's
/// /proc/PID/comm, without newline, not NUL-terminated: bytes the process
/// chose, escape them before printing) points into the context and stays
/// valid until the next criurs_collect_socket_holders, the next
/// criurs_collect_namespaces, or criurs_ctx_free.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct criurs_socket_holder {
    pub pid: i32,
    pub fd: i32,
    pub comm: *const u8,
    pub comm_len: usize,
}

/// Reads which (pid, fd) hold each socket from the /proc/PID/fd links
/// (`socket:[INO]`), as ss -p does; `scope` is CRIURS_HOLDERS_TREE (the
/// live tasks of the tree of the last criurs_collect_namespaces: a task
/// whose files may not be read fails the call, -EACCES, naming it) or
/// CRIURS_HOLDERS_ALL (every process; those that may not be read are
/// counted by criurs_socket_holders_unreadable). A process that exits
/// meanwhile is left out. Replaces the previous scan (its comm pointers
/// become invalid). 0 or -errno: -ENODATA before
/// criurs_collect_namespaces, -EINVAL for another scope.
#[no_mangle]
pub extern "C" fn criurs_collect_socket_holders(ctx: *mut criurs_ctx, scope: u32) -> c_int {
    with_ctx(ctx, |ctx| {
        let scope = match scope {
            CRIURS_HOLDERS_TREE => Scope::Tree,
            CRIURS_HOLDERS_ALL => Scope::All,
            other => return Err(Error::invalid(format!("holder scope {other} is neither CRIURS_HOLDERS_TREE nor CRIURS_HOLDERS_ALL"))),
        };
        ctx.collect_socket_holders(scope).map(|_| ())
    })
}

/// Writes the number of holders of socket `ino` to `*out` (0 when no
/// scanned process holds it). -ENODATA before criurs_collect_socket_holders.
#[no_mangle]
pub extern "C" fn criurs_socket_holders_count(ctx: *const criurs_ctx, ino: u64, out: *mut usize) -> c_int {
    with_ctx_out(ctx, out, |ctx| Ok(ctx.socket_holders()?.get(ino).len()))
}

/// Copies holder number `index` (0 <= index < count) of socket `ino` to
/// `*out`, in scan order (by pid, then fd). -ENOENT past the end.
#[no_mangle]
pub extern "C" fn criurs_socket_holders_get(ctx: *const criurs_ctx, ino: u64, index: usize, out: *mut criurs_socket_holder) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let holders = ctx.socket_holders()?.get(ino);
        let h = holders
            .get(index)
            .ok_or_else(|| Error::new(libc::ENOENT, format!("socket {ino} has {} holders, not {}", holders.len(), index + 1)))?;
        Ok(criurs_socket_holder { pid: h.pid, fd: h.fd, comm: h.comm.as_ptr(), comm_len: h.comm.len() })
    })
}

/// Writes to `*out` how many processes a CRIURS_HOLDERS_ALL scan could not
/// read (no permission; always 0 after a CRIURS_HOLDERS_TREE scan), so a
/// partial answer is known as one. -ENODATA before a scan.
#[no_mangle]
pub extern "C" fn criurs_socket_holders_unreadable(ctx: *const criurs_ctx, out: *mut usize) -> c_int {
    with_ctx_out(ctx, out, |ctx| Ok(ctx.socket_holders()?.unreadable().len()))
}
