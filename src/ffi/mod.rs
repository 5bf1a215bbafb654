//! The C ABI: the only `extern "C"` code. Each export checks its pointers,
//! calls the safe API (the `Context`, in `context/`), maps the result to
//! `0` / `-errno`, and never lets a panic out. No logic lives here.
#![allow(non_camel_case_types)]

pub mod check;
pub mod ctx;
pub mod files;
pub mod holders;
pub mod mount;
pub mod net;
pub mod netdev;
pub mod ns;
pub mod nsimg;
pub mod userns;

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::Context;


/// Opaque handle for one process tree's collection. Made by
/// `criurs_ctx_new`, freed by `criurs_ctx_free`. Calls on one context are
/// serialized by a lock inside it, so it may be passed between threads;
/// pointers it hands out stay valid until the next call that collects
/// again on it, or until it is freed.
pub struct criurs_ctx {
    inner: Mutex<Context>,
    /// Names the context in the per-thread state below (an address could
    /// be reused by a later context).
    serial: u64,
}

static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

/// How many contexts' last errors one thread keeps (the least recently
/// failed is forgotten first).
const LAST_ERRORS_PER_THREAD: usize = 64;

thread_local! {
    /// This thread's last failure on each context, by serial, most recent
    /// last: what criurs_ctx_last_error hands out, so no other thread's
    /// call can free a sentence this thread is reading.
    static LAST_ERRORS: RefCell<Vec<(u64, CString)>> = const { RefCell::new(Vec::new()) };
    /// The contexts whose log callback this thread is running now.
    static IN_LOG_CALLBACK: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

impl criurs_ctx {
    fn new(ctx: Context) -> Self {
        criurs_ctx { inner: Mutex::new(ctx), serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed) }
    }

    fn remember(&self, err: &Error) {
        let text = to_cstring(err.message());
        let _ = LAST_ERRORS.try_with(|errors| {
            let mut errors = errors.borrow_mut();
            errors.retain(|(serial, _)| *serial != self.serial);
            if errors.len() == LAST_ERRORS_PER_THREAD {
                errors.remove(0);
            }
            errors.push((self.serial, text));
        });
    }

    /// Runs `f` on this thread's last error sentence for the context
    /// (empty when none).
    fn with_last_error<R>(&self, f: impl FnOnce(&CStr) -> R) -> R {
        let mut f = Some(f);
        let out = LAST_ERRORS.try_with(|errors| {
            let errors = errors.borrow();
            let text = errors.iter().find(|(serial, _)| *serial == self.serial).map_or(c"", |(_, t)| t.as_c_str());
            (f.take().expect("called once"))(text)
        });
        match out {
            Ok(r) => r,
            Err(_) => (f.take().expect("not called"))(c""),
        }
    }

    fn forget(&self) {
        let _ = LAST_ERRORS.try_with(|errors| errors.borrow_mut().retain(|(serial, _)| *serial != self.serial));
    }

    /// Whether this thread is inside this context's log callback, which
    /// runs while a call holds the context's lock.
    fn in_own_log_callback(&self) -> bool {
        IN_LOG_CALLBACK.try_with(|c| c.borrow().contains(&self.serial)).unwrap_or(false)
    }
}

/// Marks this thread as running context `serial`'s log callback until
/// dropped.
struct LogCallbackGuard(u64);

impl LogCallbackGuard {
    fn enter(serial: u64) -> Self {
        let _ = IN_LOG_CALLBACK.try_with(|c| c.borrow_mut().push(serial));
        LogCallbackGuard(serial)
    }
}

impl Drop for LogCallbackGuard {
    fn drop(&mut self) {
        let _ = IN_LOG_CALLBACK.try_with(|c| {
            let mut c = c.borrow_mut();
            if let Some(at) = c.iter().rposition(|&s| s == self.0) {
                c.remove(at);
            }
        });
    }
}

fn to_cstring(text: &str) -> CString {
    CString::new(text.replace('\0', "\\0")).unwrap_or_default()
}

fn panic_error(payload: Box<dyn std::any::Any + Send>) -> Error {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    Error::new(libc::ENOTRECOVERABLE, format!("internal error in criurs: {what}"))
}

/// Runs `f` with the context locked; a failure or panic becomes `-errno`
/// and the context's last error. NULL gives -EINVAL.
fn with_ctx<F>(ctx: *const criurs_ctx, f: F) -> c_int
where
    F: FnOnce(&mut Context) -> Result<()>,
{
    // SAFETY: a non-NULL ctx came from criurs_ctx_new and has not been
    // freed (the caller's side of the contract in the header).
    let Some(handle) = (unsafe { ctx.as_ref() }) else {
        return -libc::EINVAL;
    };
    if handle.in_own_log_callback() {
        // The call that logs holds the lock: waiting for it would never end.
        let e = Error::new(libc::EDEADLK, "a call on this context from its own log callback: the context is busy with the call that logs");
        handle.remember(&e);
        return -e.errno();
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| f(&mut handle.inner.lock())));
    match outcome.unwrap_or_else(|p| Err(panic_error(p))) {
        Ok(()) => 0,
        Err(e) => {
            handle.remember(&e);
            -e.errno()
        }
    }
}

/// Runs `f` outside any context (no sentence is kept): panics and errors
/// become `-errno`.
fn guarded<F>(f: F) -> c_int
where
    F: FnOnce() -> Result<()>,
{
    match catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err(panic_error(p))) {
        Ok(()) => 0,
        Err(e) => -e.errno(),
    }
}

/// Borrows a NUL-terminated C string as bytes, refusing NULL.
///
/// # Safety
/// A non-NULL `s` must point to a NUL-terminated string alive for `'a`.
unsafe fn c_bytes<'a>(s: *const c_char, what: &str) -> Result<&'a [u8]> {
    if s.is_null() {
        return Err(Error::invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    Ok(unsafe { CStr::from_ptr(s) }.to_bytes())
}

/// An out-parameter checked non-NULL before any work is done, written
/// once, on success: the one place the ABI's out-pointers are written.
pub(crate) struct Out<T> {
    ptr: *mut T,
}

impl<T> Out<T> {
    /// Refuses NULL (`what` names the parameter in the sentence).
    pub(crate) fn new(ptr: *mut T, what: &str) -> Result<Out<T>> {
        if ptr.is_null() {
            return Err(Error::invalid(format!("{what} is NULL")));
        }
        Ok(Out { ptr })
    }

    pub(crate) fn write(self, value: T) {
        // SAFETY: non-NULL (checked in `new`) and, per the header's
        // contract for every out-parameter, valid for a write of T.
        unsafe { self.ptr.write(value) }
    }
}

/// Runs `f` with the context locked and writes what it returns to
/// `*out`; `out` is checked before `f` runs and written only when it
/// succeeds. Errors and panics as [`with_ctx`].
fn with_ctx_out<T, F>(ctx: *const criurs_ctx, out: *mut T, f: F) -> c_int
where
    F: FnOnce(&mut Context) -> Result<T>,
{
    with_ctx(ctx, |ctx| {
        let out = Out::new(out, "out")?;
        out.write(f(ctx)?);
        Ok(())
    })
}
