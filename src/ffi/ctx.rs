//! Context lifetime, errors, version, logging and the images directory.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use super::{c_bytes, criurs_ctx, guarded, with_ctx, Out};
use crate::error::Error;
use crate::log::{Level, Sink};
use crate::Context;

/// Receives one log line: `level` is CRIU's (0 message, 1 error,
/// 2 warning, 3 info, 4 debug); `line` is NUL-terminated, without a
/// newline, and valid only during the call. May be called from worker
/// threads of the library, so it must be thread-safe. It runs while the
/// call that logs holds the context: a call on the same context from
/// inside it returns -EDEADLK at once (criurs_ctx_free is ignored there),
/// whichever thread it runs on; criurs_ctx_last_error and calls on other
/// contexts are allowed.
pub type criurs_log_fn = Option<unsafe extern "C" fn(user_data: *mut c_void, level: u32, line: *const c_char)>;

/// Log levels (CRIU's).
pub const CRIURS_LOG_MSG: u32 = 0;
pub const CRIURS_LOG_ERROR: u32 = 1;
pub const CRIURS_LOG_WARN: u32 = 2;
pub const CRIURS_LOG_INFO: u32 = 3;
pub const CRIURS_LOG_DEBUG: u32 = 4;

/// Makes a context for the process tree rooted at `pid`.
///
/// On success writes a new context to `*out` and returns 0; the caller
/// frees it with `criurs_ctx_free`. Returns -EINVAL for `pid` <= 0, a
/// thread id that is not a process, or a NULL `out`; -ESRCH when no such
/// process exists. `*out` is written only on success. The context holds
/// the process by a pidfd, not by its number: once it has exited, every
/// call that reads the live tree (collect, read or dump namespaces) gives
/// -ESRCH, even when the number was given to another process. What was
/// collected stays readable, and calls that work through the namespace
/// fds a collection holds (sockets, net configuration) still work.
#[no_mangle]
pub extern "C" fn criurs_ctx_new(pid: i32, out: *mut *mut criurs_ctx) -> c_int {
    guarded(|| {
        let out = Out::new(out, "out")?;
        let ctx = Context::new(pid)?;
        out.write(Box::into_raw(Box::new(criurs_ctx::new(ctx))));
        Ok(())
    })
}

/// Frees a context and everything it collected. NULL is accepted and
/// ignored, and so is a call from the context's own log callback (the
/// call that logs is still using it). No pointer obtained from the
/// context may be used afterwards.
#[no_mangle]
pub extern "C" fn criurs_ctx_free(ctx: *mut criurs_ctx) {
    // SAFETY: a non-NULL ctx came from criurs_ctx_new and is live.
    match unsafe { ctx.as_ref() } {
        None => return,
        Some(handle) if handle.in_own_log_callback() => return,
        Some(handle) => handle.forget(),
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: a non-NULL ctx came from Box::into_raw in criurs_ctx_new
        // and is freed once, by this call.
        drop(unsafe { Box::from_raw(ctx) });
    }));
}

/// The sentence describing the calling thread's last failure on `ctx`:
/// what failed (pid, path, namespace, line) and why. Empty when nothing
/// failed yet in this thread; a fixed text for a NULL context. Each
/// thread has its own: a call from another thread never changes or frees
/// it. Owned by the library; valid in the calling thread until its next
/// failing call on `ctx`, until it has failed on 64 other contexts since,
/// or until `ctx` is freed. To keep it longer, copy it
/// (criurs_ctx_last_error_copy).
#[no_mangle]
pub extern "C" fn criurs_ctx_last_error(ctx: *const criurs_ctx) -> *const c_char {
    // SAFETY: a non-NULL ctx is live per the contract.
    match unsafe { ctx.as_ref() } {
        // The pointer stays valid after the borrow ends: the CString lives
        // in this thread's table until this thread replaces or drops it.
        Some(handle) => handle.with_last_error(|text| text.as_ptr()),
        None => c"criurs_ctx_last_error: context is NULL".as_ptr(),
    }
}

/// Copies the sentence criurs_ctx_last_error(ctx) returns into `buf`
/// (`len` bytes, always NUL-terminated when `len` > 0, cut short when it
/// does not fit), as snprintf does. Returns the sentence's full length
/// without the NUL (a result >= `len` means it was cut), or -EINVAL for a
/// NULL context, or a NULL `buf` with `len` > 0. `buf` may be NULL when
/// `len` is 0, to learn the length.
#[no_mangle]
pub extern "C" fn criurs_ctx_last_error_copy(ctx: *const criurs_ctx, buf: *mut c_char, len: usize) -> c_int {
    // SAFETY: a non-NULL ctx is live per the contract.
    let Some(handle) = (unsafe { ctx.as_ref() }) else { return -libc::EINVAL };
    if buf.is_null() && len > 0 {
        return -libc::EINVAL;
    }
    handle.with_last_error(|text| {
        let bytes = text.to_bytes();
        if len > 0 {
            let n = bytes.len().min(len - 1);
            // SAFETY: buf is non-NULL and, per the contract, valid for
            // `len` bytes; n + 1 <= len.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), n);
                *buf.add(n) = 0;
            }
        }
        c_int::try_from(bytes.len()).unwrap_or(c_int::MAX)
    })
}

/// A short description of a code returned by this library (0 or
/// -errno). The string is static.
#[no_mangle]
pub extern "C" fn criurs_strerror(code: c_int) -> *const c_char {
    let text: &'static CStr = match -code {
        0 => c"success",
        libc::EINVAL => c"invalid argument",
        libc::ESRCH => c"no such process",
        libc::ENOENT => c"no such file, namespace or entry",
        libc::EACCES => c"permission denied",
        libc::EPERM => c"operation not permitted",
        libc::ENODATA => c"nothing collected yet",
        libc::EBADMSG => c"malformed data",
        libc::ENOTDIR => c"not a directory",
        libc::EROFS => c"read-only file system",
        libc::ENOSPC => c"no space left on device",
        libc::ENOMEM => c"out of memory",
        libc::ERANGE => c"value out of range",
        libc::EEXIST => c"already exists",
        libc::ENOTSUP => c"not supported",
        libc::EMSGSIZE => c"message too long",
        libc::EPROTO => c"protocol error",
        libc::ECHILD => c"child process failed",
        libc::EAGAIN => c"resource temporarily unavailable",
        libc::EDEADLK => c"call from the context's own log callback",
        libc::ENOTRECOVERABLE => c"internal error",
        libc::EIO => c"input/output error",
        _ => c"unknown error",
    };
    text.as_ptr()
}

/// The library version, "MAJOR.MINOR.PATCH". Static.
#[no_mangle]
pub extern "C" fn criurs_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The caller's callback and its argument; C promises both may be used
/// from any thread (see `criurs_log_fn`).
struct CLogSink {
    func: unsafe extern "C" fn(*mut c_void, u32, *const c_char),
    user_data: *mut c_void,
    /// The context's serial: calls on it from the callback are refused.
    serial: u64,
}
impl CLogSink {
    fn deliver(&self, level: Level, line: &str) {
        let line = super::to_cstring(line);
        let _inside = super::LogCallbackGuard::enter(self.serial);
        // SAFETY: the caller gave a valid callback; the line lives for the
        // duration of the call.
        unsafe { (self.func)(self.user_data, level as u32, line.as_ptr()) }
    }
}

// SAFETY: the header requires the callback and user_data to be thread-safe.
unsafe impl Send for CLogSink {}
// SAFETY: as above.
unsafe impl Sync for CLogSink {}

/// Routes the context's log to `fn` (with `user_data` passed back) for
/// lines at `max_level` or more important. `fn` NULL silences the context
/// (the default). Returns -EINVAL for a NULL context or a level above 4.
#[no_mangle]
pub extern "C" fn criurs_ctx_set_log(
    ctx: *mut criurs_ctx,
    func: criurs_log_fn,
    user_data: *mut c_void,
    max_level: u32,
) -> c_int {
    // SAFETY: a non-NULL ctx is live per the contract (with_ctx refuses NULL).
    let serial = unsafe { ctx.as_ref() }.map_or(0, |h| h.serial);
    with_ctx(ctx, |ctx| {
        let level = Level::from_u32(max_level).ok_or_else(|| Error::invalid(format!("log level {max_level} is not 0..4")))?;
        ctx.set_log_level(level);
        let sink: Option<Sink> = func.map(|func| {
            let c = CLogSink { func, user_data, serial };
            Arc::new(move |level: Level, line: &str| c.deliver(level, line)) as Sink
        });
        ctx.set_log_sink(sink);
        Ok(())
    })
}

/// Sets the directory the dump functions write images into, by path
/// (opened now; later renames of the path do not redirect images).
/// Returns -EINVAL for NULL, or the errno of opening it.
#[no_mangle]
pub extern "C" fn criurs_ctx_set_images_dir(ctx: *mut criurs_ctx, path: *const c_char) -> c_int {
    with_ctx(ctx, |ctx| {
        // SAFETY: path is NULL or a NUL-terminated string per the contract.
        let bytes = unsafe { c_bytes(path, "path") }?;
        ctx.set_images_dir(Path::new(std::ffi::OsStr::from_bytes(bytes)))
    })
}

/// Sets the images directory from an open directory fd, which is
/// duplicated: the caller keeps ownership of `dirfd`.
#[no_mangle]
pub extern "C" fn criurs_ctx_set_images_dir_fd(ctx: *mut criurs_ctx, dirfd: c_int) -> c_int {
    with_ctx(ctx, |ctx| {
        if dirfd < 0 {
            return Err(Error::invalid(format!("images directory fd {dirfd} is negative")));
        }
        // SAFETY: the fd is only borrowed for this call, and fstat/dup on a
        // closed or foreign number fail cleanly with EBADF.
        let fd = unsafe { BorrowedFd::borrow_raw(dirfd) };
        ctx.set_images_dir_fd(fd)
    })
}
