//! The C ABI: the only `extern "C"` code. Each export checks its pointers,
//! calls the safe API in `lib.rs`, maps the result to `0` / `-errno`, and
//! never lets a panic out. No logic lives here.
#![allow(non_camel_case_types)]

pub mod check;
pub mod ctx;
pub mod holders;
pub mod mount;
pub mod net;
pub mod netdev;
pub mod ns;
pub mod nsimg;
pub mod userns;

use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

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
    last_error: Mutex<CString>,
}

impl criurs_ctx {
    fn new(ctx: Context) -> Self {
        criurs_ctx { inner: Mutex::new(ctx), last_error: Mutex::new(CString::default()) }
    }

    fn remember(&self, err: &Error) {
        *self.last_error.lock() = to_cstring(err.message());
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
