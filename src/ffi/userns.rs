//! User namespaces: dump, maps, image read-back.

use std::ffi::c_int;

use super::{criurs_ctx, with_ctx, with_ctx_out};
use crate::error::Error;
use crate::userns::{Extent, IdMapKind};

/// Which id map: uid_map.
pub const CRIURS_UID_MAP: u32 = 0;
/// Which id map: gid_map.
pub const CRIURS_GID_MAP: u32 = 1;

/// One line of uid_map or gid_map. A plain value.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct criurs_id_extent {
    /// First id inside the namespace.
    pub first: u32,
    /// First id in the parent namespace.
    pub lower_first: u32,
    /// Number of ids in the range.
    pub count: u32,
}

impl From<&Extent> for criurs_id_extent {
    fn from(e: &Extent) -> Self {
        criurs_id_extent { first: e.first, lower_first: e.lower_first, count: e.count }
    }
}

fn map_kind(which: u32) -> Result<IdMapKind, Error> {
    match which {
        CRIURS_UID_MAP => Ok(IdMapKind::Uid),
        CRIURS_GID_MAP => Ok(IdMapKind::Gid),
        _ => Err(Error::invalid(format!("{which} is neither CRIURS_UID_MAP nor CRIURS_GID_MAP"))),
    }
}

/// CRIU's dump_user_ns(): reads the uid and gid maps of `pid`, checks in
/// a short-lived child process that the namespace can be entered as its
/// root (the caller's credentials and namespaces never change), and
/// writes `userns-<ns_id>.img` into the context's images directory. After
/// criurs_collect_namespaces, `ns_id` must be a user namespace holding
/// `pid`. On failure no image is left behind. Returns 0, -EINVAL (bad
/// argument, no images directory), -ESRCH (no such pid, or it exited),
/// -EBADMSG (malformed map), or the errno of the failed step.
#[no_mangle]
pub extern "C" fn criurs_dump_user_ns(ctx: *mut criurs_ctx, pid: i32, ns_id: u32) -> c_int {
    with_ctx(ctx, |ctx| ctx.dump_user_ns(pid, ns_id))
}

/// Reads `userns-<ns_id>.img` from the images directory into the context
/// (replacing the maps known for `ns_id`), for the accessors below.
#[no_mangle]
pub extern "C" fn criurs_userns_load_image(ctx: *mut criurs_ctx, ns_id: u32) -> c_int {
    with_ctx(ctx, |ctx| ctx.load_user_ns_image(ns_id).map(|_| ()))
}

/// Writes the number of extents of one map (`which`: CRIURS_UID_MAP or
/// CRIURS_GID_MAP) of user namespace `ns_id` to `*out`. -ENOENT when the
/// context has no maps for `ns_id`.
#[no_mangle]
pub extern "C" fn criurs_userns_extent_count(ctx: *const criurs_ctx, ns_id: u32, which: u32, out: *mut usize) -> c_int {
    with_ctx_out(ctx, out, |ctx| Ok(ctx.user_maps(ns_id)?.map(map_kind(which)?).len()))
}

/// Copies extent `index` of one map of user namespace `ns_id` to `*out`.
/// -ENOENT past the end.
#[no_mangle]
pub extern "C" fn criurs_userns_extent_get(
    ctx: *const criurs_ctx,
    ns_id: u32,
    which: u32,
    index: usize,
    out: *mut criurs_id_extent,
) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let kind = map_kind(which)?;
        let map = ctx.user_maps(ns_id)?.map(kind);
        let e = map.get(index).ok_or_else(|| {
            Error::new(libc::ENOENT, format!("{} index {index} is past the end ({})", kind.file_name(), map.len()))
        })?;
        Ok(e.into())
    })
}
