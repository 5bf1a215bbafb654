//! C entry points of the check room: run the rules, walk the findings.

use std::ffi::{c_char, c_int, CString};

use super::{criurs_ctx, with_ctx_out, Out};
use crate::check::{Finding, Object, Options, Report};
use crate::error::{Error, Result};

/// criurs_check flags: the dump would pass --ext-unix-sk.
pub const CRIURS_CHECK_EXT_UNIX_SK: u32 = 1;
/// The dump would pass --tcp-established.
pub const CRIURS_CHECK_TCP_ESTABLISHED: u32 = 2;
/// The dump would pass --skip-in-flight.
pub const CRIURS_CHECK_SKIP_IN_FLIGHT: u32 = 4;
/// The dump would pass --enable-external-masters.
pub const CRIURS_CHECK_ENABLE_EXTERNAL_MASTERS: u32 = 8;

/// criurs_finding.severity: a dump goes through; something is lost.
pub const CRIURS_SEVERITY_WARNING: u32 = 1;
/// A dump goes through with the option in criurs_finding.option.
pub const CRIURS_SEVERITY_NEEDS_OPTION: u32 = 2;
/// No option of CRIU 4.2 gets past it.
pub const CRIURS_SEVERITY_BLOCKS: u32 = 3;

/// criurs_finding.object_kind values.
pub const CRIURS_OBJECT_CALLER: u32 = 0;
pub const CRIURS_OBJECT_TASK: u32 = 1;
pub const CRIURS_OBJECT_NAMESPACE: u32 = 2;
pub const CRIURS_OBJECT_MOUNT: u32 = 3;
pub const CRIURS_OBJECT_SOCKET: u32 = 4;
pub const CRIURS_OBJECT_FILE: u32 = 5;
pub const CRIURS_OBJECT_FAMILY: u32 = 6;

/// The findings of one criurs_check, walked with criurs_check_next and
/// freed with criurs_check_free. Independent of the context: it stays
/// valid after the context is freed.
pub struct criurs_check_iter {
    report: Report,
    /// NUL-terminated copies of each finding's bytes, in finding order:
    /// code, criu_message, criu_source, option, fix, path, holder comm.
    texts: Vec<[CString; 7]>,
    next: usize,
}

/// One finding. Strings are NUL-terminated and also carry their length
/// (paths and names are the target's bytes); they point into the
/// iterator and stay valid until criurs_check_free. Fields that do not
/// apply to the object are 0 (pointers: an empty string; `option`: NULL
/// when no option answers it).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct criurs_finding {
    /// Stable rule name, e.g. "unix-peer-outside-tree".
    pub code: *const c_char,
    /// CRIURS_SEVERITY_*.
    pub severity: u32,
    /// CRIURS_OBJECT_*.
    pub object_kind: u32,
    /// Task (and fd) of the object: the holder of a socket, the task of a file.
    pub pid: i32,
    pub fd: i32,
    /// Namespace id (CRIU's) of a namespace, mount, socket or family.
    pub ns_id: u32,
    /// CLONE_NEW* kind of a namespace object.
    pub ns_kind: u32,
    /// Kernel id (inode) of a namespace object.
    pub kid: u64,
    pub mnt_id: u32,
    /// Socket inode, and its peer's (0: none or not relevant).
    pub ino: u32,
    pub peer_ino: u32,
    /// First holder of the peer outside the tree (as ss -p finds it), 0 if none.
    pub peer_pid: i32,
    pub peer_fd: i32,
    /// Mount point, file path, or family name.
    pub path: *const c_char,
    pub path_len: usize,
    /// comm of the holder (socket) or empty.
    pub comm: *const c_char,
    /// CRIU 4.2's own error line (empty when CRIU prints none).
    pub criu_message: *const c_char,
    pub criu_message_len: usize,
    /// `criu/FILE.c:function` where CRIU says it.
    pub criu_source: *const c_char,
    /// The exact option that answers it, or NULL.
    pub option: *const c_char,
    pub option_len: usize,
    /// What to do, in a sentence.
    pub fix: *const c_char,
    pub fix_len: usize,
}

fn c_text(bytes: &[u8]) -> CString {
    CString::new(bytes.iter().map(|&b| if b == 0 { b'@' } else { b }).collect::<Vec<u8>>()).unwrap_or_default()
}

fn texts(f: &Finding) -> [CString; 7] {
    let (path, comm): (&[u8], &[u8]) = match &f.object {
        Object::Mount { path, .. } | Object::File { path, .. } => (path, b""),
        Object::Family { name, .. } => (name.as_bytes(), b""),
        Object::Socket { holder: Some(h), .. } => (b"", &h.comm),
        _ => (b"", b""),
    };
    [
        c_text(f.code.as_bytes()),
        c_text(&f.criu_message),
        c_text(f.criu_source.as_bytes()),
        c_text(f.option.as_deref().unwrap_or_default()),
        c_text(&f.fix),
        c_text(path),
        c_text(comm),
    ]
}

fn flags_to_options(flags: u32) -> Result<Options> {
    let known = CRIURS_CHECK_EXT_UNIX_SK | CRIURS_CHECK_TCP_ESTABLISHED | CRIURS_CHECK_SKIP_IN_FLIGHT | CRIURS_CHECK_ENABLE_EXTERNAL_MASTERS;
    if flags & !known != 0 {
        return Err(Error::invalid(format!("unknown criurs_check flags {:#x}", flags & !known)));
    }
    Ok(Options {
        ext_unix_sk: flags & CRIURS_CHECK_EXT_UNIX_SK != 0,
        tcp_established: flags & CRIURS_CHECK_TCP_ESTABLISHED != 0,
        skip_in_flight: flags & CRIURS_CHECK_SKIP_IN_FLIGHT != 0,
        enable_external_masters: flags & CRIURS_CHECK_ENABLE_EXTERNAL_MASTERS != 0,
    })
}

/// What in the context's tree would stop CRIU 4.2's dump with the options
/// in `flags` (CRIURS_CHECK_*) and the externals added with
/// criurs_ctx_add_external: every obstacle, most serious first. Read only
/// (collects the namespaces again, replacing the context's collection).
/// Writes a new iterator to `*out`; free it with criurs_check_free.
/// Returns 0, -EINVAL (NULL, unknown flag), or the errno of the failed
/// collection.
#[no_mangle]
pub extern "C" fn criurs_check(ctx: *mut criurs_ctx, flags: u32, out: *mut *mut criurs_check_iter) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let report = ctx.check(&flags_to_options(flags)?)?;
        let texts = report.findings.iter().map(texts).collect();
        Ok(Box::into_raw(Box::new(criurs_check_iter { report, texts, next: 0 })))
    })
}

/// Copies the next finding to `*out`: 0, or -ENOENT after the last one
/// (then again from the first after criurs_check_rewind). -EINVAL on NULL.
#[no_mangle]
pub extern "C" fn criurs_check_next(it: *mut criurs_check_iter, out: *mut criurs_finding) -> c_int {
    super::guarded(|| {
        let out = Out::new(out, "out")?;
        // SAFETY: a non-NULL iterator came from criurs_check and is not freed.
        let it = unsafe { it.as_mut() }.ok_or_else(|| Error::invalid("iterator is NULL"))?;
        let Some(f) = it.report.findings.get(it.next) else {
            return Err(Error::new(libc::ENOENT, "no more findings"));
        };
        let t = &it.texts[it.next];
        let len = |i: usize| t[i].as_bytes().len();
        let (pid, fd, ns_id, ns_kind, kid, mnt_id, ino, peer_ino, peer) = match &f.object {
            Object::Caller => (0, 0, 0, 0, 0, 0, 0, 0, None),
            Object::Task { pid } => (*pid, 0, 0, 0, 0, 0, 0, 0, None),
            Object::Namespace { ns_id, kind, kid } => (0, 0, *ns_id, kind.clone_flag(), *kid, 0, 0, 0, None),
            Object::Mount { ns_id, mnt_id, .. } => (0, 0, *ns_id, 0, 0, *mnt_id, 0, 0, None),
            Object::Socket { ns_id, ino, holder, peer_ino, peer } => {
                let (pid, fd) = holder.as_ref().map_or((0, 0), |h| (h.pid, h.fd));
                (pid, fd, *ns_id, 0, 0, 0, *ino, *peer_ino, peer.first())
            }
            Object::File { pid, fd, .. } => (*pid, *fd, 0, 0, 0, 0, 0, 0, None),
            Object::Family { ns_id, .. } => (0, 0, *ns_id, 0, 0, 0, 0, 0, None),
        };
        out.write(criurs_finding {
            code: t[0].as_ptr(),
            severity: f.severity as u32,
            object_kind: object_kind(&f.object),
            pid,
            fd,
            ns_id,
            ns_kind,
            kid,
            mnt_id,
            ino,
            peer_ino,
            peer_pid: peer.map_or(0, |h| h.pid),
            peer_fd: peer.map_or(0, |h| h.fd),
            path: t[5].as_ptr(),
            path_len: len(5),
            comm: t[6].as_ptr(),
            criu_message: t[1].as_ptr(),
            criu_message_len: len(1),
            criu_source: t[2].as_ptr(),
            option: if f.option.is_some() { t[3].as_ptr() } else { std::ptr::null() },
            option_len: len(3),
            fix: t[4].as_ptr(),
            fix_len: len(4),
        });
        it.next += 1;
        Ok(())
    })
}

fn object_kind(o: &Object) -> u32 {
    match o {
        Object::Caller => CRIURS_OBJECT_CALLER,
        Object::Task { .. } => CRIURS_OBJECT_TASK,
        Object::Namespace { .. } => CRIURS_OBJECT_NAMESPACE,
        Object::Mount { .. } => CRIURS_OBJECT_MOUNT,
        Object::Socket { .. } => CRIURS_OBJECT_SOCKET,
        Object::File { .. } => CRIURS_OBJECT_FILE,
        Object::Family { .. } => CRIURS_OBJECT_FAMILY,
    }
}

/// Starts the walk again from the first finding. -EINVAL on NULL.
#[no_mangle]
pub extern "C" fn criurs_check_rewind(it: *mut criurs_check_iter) -> c_int {
    super::guarded(|| {
        // SAFETY: as in criurs_check_next.
        let it = unsafe { it.as_mut() }.ok_or_else(|| Error::invalid("iterator is NULL"))?;
        it.next = 0;
        Ok(())
    })
}

/// Writes the number of findings to `*out`.
#[no_mangle]
pub extern "C" fn criurs_check_count(it: *const criurs_check_iter, out: *mut usize) -> c_int {
    super::guarded(|| {
        let out = Out::new(out, "out")?;
        // SAFETY: as in criurs_check_next.
        let it = unsafe { it.as_ref() }.ok_or_else(|| Error::invalid("iterator is NULL"))?;
        out.write(it.report.findings.len());
        Ok(())
    })
}

/// The command's exit status for these findings: 0 dumpable with the
/// options given, 1 dumpable with the options the findings name, 2
/// blocked; -EINVAL on NULL.
#[no_mangle]
pub extern "C" fn criurs_check_verdict(it: *const criurs_check_iter) -> c_int {
    // SAFETY: as in criurs_check_next.
    match unsafe { it.as_ref() } {
        Some(it) => it.report.exit_code() as c_int,
        None => -libc::EINVAL,
    }
}

/// Frees an iterator from criurs_check (NULL is a no-op).
#[no_mangle]
pub extern "C" fn criurs_check_free(it: *mut criurs_check_iter) {
    if !it.is_null() {
        // SAFETY: it came from Box::into_raw in criurs_check and is freed once.
        drop(unsafe { Box::from_raw(it) });
    }
}
