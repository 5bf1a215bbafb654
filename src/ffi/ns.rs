//! Namespace discovery and the namespace table.

use std::ffi::{c_char, c_int};

use super::{criurs_ctx, with_ctx, with_ctx_out};
use crate::error::Error;
use crate::ns::{NsEntry, NsKind, NsType};

/// Namespace kinds: each is the kind's CLONE_NEW* flag.
pub const CRIURS_NS_TIME: u32 = 0x80;
pub const CRIURS_NS_MNT: u32 = 0x0002_0000;
pub const CRIURS_NS_CGROUP: u32 = 0x0200_0000;
pub const CRIURS_NS_UTS: u32 = 0x0400_0000;
pub const CRIURS_NS_IPC: u32 = 0x0800_0000;
pub const CRIURS_NS_USER: u32 = 0x1000_0000;
pub const CRIURS_NS_PID: u32 = 0x2000_0000;
pub const CRIURS_NS_NET: u32 = 0x4000_0000;

/// Namespace types (CRIU's NS_CRIU, NS_ROOT, NS_OTHER).
pub const CRIURS_NS_TYPE_OWN: u32 = 1;
pub const CRIURS_NS_TYPE_ROOT: u32 = 2;
pub const CRIURS_NS_TYPE_OTHER: u32 = 3;

/// One namespace of the table. A plain value: copy it freely.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct criurs_ns_info {
    /// Small id, from 1: the N of CRIU's image names (mountpoints-N.img).
    pub id: u32,
    /// One of CRIURS_NS_*.
    pub kind: u32,
    /// The kernel's id: the inode of /proc/PID/ns/KIND.
    pub kid: u64,
    /// A process through which the namespace is reached.
    pub pid: i32,
    /// One of CRIURS_NS_TYPE_*.
    pub type_: u32,
}

impl From<&NsEntry> for criurs_ns_info {
    fn from(e: &NsEntry) -> Self {
        criurs_ns_info { id: e.id, kind: e.kind.clone_flag(), kid: e.kid, pid: e.pid, type_: e.ns_type as u32 }
    }
}

/// CRIU's collect_namespaces(): walks the tree from the context's pid
/// (the root and all descendants), builds the namespace table, then runs
/// the user, mount and net collectors. With `for_dump`, images are
/// written into the images directory as CRIU's dump would. On failure
/// the context keeps nothing from this call. The tree is not frozen: a
/// descendant that exits while it is read is left out (the walk starts
/// again without it). Returns 0 or -errno (-ESRCH: the root exited, or
/// its pid now names another process; -EAGAIN: descendants kept exiting
/// under 16 walks in a row; -EACCES/-EPERM: not allowed to inspect a
/// task).
#[no_mangle]
pub extern "C" fn criurs_collect_namespaces(ctx: *mut criurs_ctx, for_dump: bool) -> c_int {
    with_ctx(ctx, |ctx| ctx.collect_namespaces(for_dump))
}

/// The whole dump criurs does for the tree, as one transaction, in CRIU
/// 4.2's order: criurs_collect_namespaces(ctx, true) (userns-N.img,
/// pidns-N.img), every mount namespace CRIU writes (mountpoints-N.img),
/// then what criurs_dump_namespaces writes, then what
/// criurs_dump_sockets(ctx, 0) writes. Every image is staged and
/// named only when all are written: on failure no image of this call is
/// left under its final name, and the context keeps no collection.
/// Needs an images directory. Returns 0 or -errno as the steps do
/// (-EINVAL: no images directory).
#[no_mangle]
pub extern "C" fn criurs_dump(ctx: *mut criurs_ctx) -> c_int {
    with_ctx(ctx, |ctx| ctx.dump().map(|_| ()))
}

/// Writes the number of namespaces in the table to `*out`.
/// -ENODATA before a successful criurs_collect_namespaces.
#[no_mangle]
pub extern "C" fn criurs_ns_count(ctx: *const criurs_ctx, out: *mut usize) -> c_int {
    with_ctx_out(ctx, out, |ctx| Ok(ctx.namespaces()?.len()))
}

/// Copies the namespace at `index` (0 <= index < count) to `*out`.
/// -ENOENT past the end.
#[no_mangle]
pub extern "C" fn criurs_ns_get(ctx: *const criurs_ctx, index: usize, out: *mut criurs_ns_info) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let table = ctx.namespaces()?;
        let entry = table
            .get(index)
            .ok_or_else(|| Error::new(libc::ENOENT, format!("namespace index {index} is past the end ({})", table.len())))?;
        Ok(entry.into())
    })
}

/// Finds a namespace by kind (CRIURS_NS_*) and kernel id; -ENOENT when
/// the tree has none such, -EINVAL for an unknown kind.
#[no_mangle]
pub extern "C" fn criurs_ns_find(ctx: *const criurs_ctx, kind: u32, kid: u64, out: *mut criurs_ns_info) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let k = NsKind::from_clone_flag(kind).ok_or_else(|| Error::invalid(format!("{kind:#x} is not a namespace kind")))?;
        let entry = ctx
            .namespaces()?
            .find(k, kid)
            .ok_or_else(|| Error::new(libc::ENOENT, format!("no {} namespace with kernel id {kid} in the tree", k.name())))?;
        Ok(entry.into())
    })
}

/// The name of a kind ("net", "mnt", ...), or "unknown". Static.
#[no_mangle]
pub extern "C" fn criurs_ns_kind_name(kind: u32) -> *const c_char {
    NsKind::from_clone_flag(kind).map_or(c"unknown", NsKind::c_name).as_ptr()
}

/// The name of a type ("own", "root", "other"), or "unknown". Static.
#[no_mangle]
pub extern "C" fn criurs_ns_type_name(type_: u32) -> *const c_char {
    NsType::from_u32(type_).map_or(c"unknown", NsType::c_name).as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_constants_are_the_clone_flags() {
        for (c, k) in [
            (CRIURS_NS_TIME, NsKind::Time),
            (CRIURS_NS_MNT, NsKind::Mnt),
            (CRIURS_NS_CGROUP, NsKind::Cgroup),
            (CRIURS_NS_UTS, NsKind::Uts),
            (CRIURS_NS_IPC, NsKind::Ipc),
            (CRIURS_NS_USER, NsKind::User),
            (CRIURS_NS_PID, NsKind::Pid),
            (CRIURS_NS_NET, NsKind::Net),
        ] {
            assert_eq!(c, k.clone_flag());
        }
    }

    #[test]
    fn type_constants_and_names_match_the_rust_types() {
        for (c, t, name) in
            [(CRIURS_NS_TYPE_OWN, NsType::Own, "own"), (CRIURS_NS_TYPE_ROOT, NsType::Root, "root"), (CRIURS_NS_TYPE_OTHER, NsType::Other, "other")]
        {
            assert_eq!((c, NsType::from_u32(c)), (t as u32, Some(t)));
            // SAFETY: the function returns a static NUL-terminated string.
            assert_eq!(unsafe { std::ffi::CStr::from_ptr(criurs_ns_type_name(c)) }.to_str(), Ok(name));
        }
        assert!(NsType::from_u32(0).is_none());
        // SAFETY: as above.
        assert_eq!(unsafe { std::ffi::CStr::from_ptr(criurs_ns_kind_name(CRIURS_NS_USER)) }.to_str(), Ok("user"));
        assert_eq!(unsafe { std::ffi::CStr::from_ptr(criurs_ns_kind_name(7)) }.to_str(), Ok("unknown"));
    }
}
