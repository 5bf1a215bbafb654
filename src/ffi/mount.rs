//! C entry points of the mount room.

use std::ffi::{c_char, c_int};

use super::{c_bytes, criurs_ctx, with_ctx, with_ctx_out};
use crate::error::Error;
use crate::mount::{MountNamespace, MountRecord};

/// One mount of a collected mount namespace. Byte fields are pointer plus
/// length (not NUL-terminated; any byte but NUL may appear), owned by the
/// context and valid until the next collection on it or criurs_ctx_free.
/// An absent optional field is NULL with length 0. Root, mount point and
/// source have every mountinfo escape decoded (a newline is a newline);
/// mountpoints-N.img keeps CRIU 4.2's spelling of them (`\012` as four
/// bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct criurs_mnt_info {
    /// Kernel mount id and parent mount id.
    pub mnt_id: u32,
    pub parent_mnt_id: u32,
    pub major: u32,
    pub minor: u32,
    /// major << 20 | minor, as CRIU's image writes it.
    pub root_dev: u32,
    /// CRIU's fstype code (5 = tmpfs, 0 = unsupported, 16 = auto, ...).
    pub fstype: u32,
    /// MS_* of the mount, with MS_SHARED/MS_SLAVE/MS_UNBINDABLE.
    pub flags: u32,
    /// MS_RDONLY/MS_SYNCHRONOUS/MS_DIRSYNC/MS_MANDLOCK of the superblock.
    pub sb_flags: u32,
    /// Peer group, 0 if not shared.
    pub shared_id: u32,
    /// Master peer group (master:N), 0 if none; the image carries it as
    /// is (CRIU 4.2 keeps the root mount's own master too).
    pub master_id: u32,
    /// The same as master_id (kept for callers of version 1.0, when the
    /// image wrote UINT32_MAX for the root mount's own master).
    pub kernel_master_id: u32,
    /// propagate_from:N, 0 if absent. CRIU ignores it; a table read with
    /// statmount (a namespace of slaves, where mountinfo's search for it
    /// costs time quadratic in the mounts) carries 0.
    pub propagate_from: u32,
    /// The root had a deleted marker (stripped from `root`).
    pub deleted: bool,
    /// Marked external (then `ext_key` is set).
    pub external: bool,
    /// 1-based line in mountinfo.
    pub line: usize,
    /// Index of the parent in this namespace; SIZE_MAX for the root.
    pub parent_index: usize,
    /// Number of children (see criurs_mnt_child).
    pub n_children: usize,
    pub root: *const u8,
    pub root_len: usize,
    /// As the namespace sees it.
    pub mountpoint: *const u8,
    pub mountpoint_len: usize,
    pub source: *const u8,
    pub source_len: usize,
    /// Super options other than sb_flags (CRIU's `options`).
    pub options: *const u8,
    pub options_len: usize,
    /// Kernel filesystem type with subtype ("fuse.sshfs").
    pub fsname: *const u8,
    pub fsname_len: usize,
    pub ext_key: *const u8,
    pub ext_key_len: usize,
    /// Field 6 and field 11 of mountinfo as printed.
    pub mount_options: *const u8,
    pub mount_options_len: usize,
    pub super_options: *const u8,
    pub super_options_len: usize,
}

fn bytes(b: &[u8]) -> (*const u8, usize) {
    if b.is_empty() {
        (std::ptr::null(), 0)
    } else {
        (b.as_ptr(), b.len())
    }
}

fn info(ns: &MountNamespace, index: usize, m: &MountRecord) -> criurs_mnt_info {
    let (root, root_len) = bytes(&m.root());
    let (mountpoint, mountpoint_len) = bytes(&m.mountpoint());
    let (source, source_len) = bytes(&m.source());
    let (options, options_len) = bytes(&m.options());
    let (fsname, fsname_len) = bytes(&m.fsname());
    let (ext_key, ext_key_len) = m.ext_key.as_deref().map(bytes).unwrap_or((std::ptr::null(), 0));
    let (mount_options, mount_options_len) = bytes(&m.mount_options());
    let (super_options, super_options_len) = bytes(&m.super_options());
    criurs_mnt_info {
        mnt_id: m.mnt_id,
        parent_mnt_id: m.parent_mnt_id,
        major: m.major,
        minor: m.minor,
        root_dev: m.root_dev,
        fstype: m.fstype.code(),
        flags: m.flags,
        sb_flags: m.sb_flags,
        shared_id: m.shared_id,
        master_id: m.master_id,
        kernel_master_id: m.master_id,
        propagate_from: m.propagate_from,
        deleted: m.deleted,
        external: m.ext_key.is_some(),
        line: m.line,
        parent_index: ns.parent_index(index).unwrap_or(usize::MAX),
        n_children: ns.children(index).len(),
        root,
        root_len,
        mountpoint,
        mountpoint_len,
        source,
        source_len,
        options,
        options_len,
        fsname,
        fsname_len,
        ext_key,
        ext_key_len,
        mount_options,
        mount_options_len,
        super_options,
        super_options_len,
    }
}

fn past_end(what: &str, index: usize, len: usize) -> Error {
    Error::new(libc::ENOENT, format!("{what} {index} is past the end ({len})"))
}

/// Marks the mount at `path` (as the dumped namespace sees it, NUL-
/// terminated) external with `key`, like `--external mnt[PATH]:KEY`: as
/// in CRIU 4.2, only in the tree root's own mount namespace (none when
/// the root shares the caller's), and every mount on that path. Applies
/// from the next collection. Strings are copied.
#[no_mangle]
pub extern "C" fn criurs_ctx_add_external_mount(ctx: *mut criurs_ctx, path: *const c_char, key: *const c_char) -> c_int {
    with_ctx(ctx, |ctx| {
        // SAFETY: non-NULL strings are NUL-terminated per the contract.
        let (path, key) = unsafe { (c_bytes(path, "path")?, c_bytes(key, "key")?) };
        ctx.add_external_mount(path, key)
    })
}

/// Adds one `--external` spec as CRIU spells it: `mnt[PATH]:KEY` (see
/// criurs_ctx_add_external_mount), `dev[MAJ/MIN]:VAL` (a mount of the root
/// of an unsupported filesystem on that device, in any namespace, becomes
/// an "auto" mount of source `dev[VAL]` with ext_key "CRIU:EXTERNAL_DEV";
/// its binds follow it), `pid[INO]:KEY` (a pid namespace the caller
/// restores: its root need not be pid 1, and pidns-N.img carries KEY),
/// `net[INO]:KEY` or `unix[INO]`. -EINVAL for anything else. Applies from
/// the next collection.
#[no_mangle]
pub extern "C" fn criurs_ctx_add_external(ctx: *mut criurs_ctx, spec: *const c_char) -> c_int {
    with_ctx(ctx, |ctx| {
        // SAFETY: a non-NULL spec is NUL-terminated per the contract.
        let spec = unsafe { c_bytes(spec, "spec")? };
        ctx.add_external(spec)
    })
}

/// CRIU's `--skip-mnt PATH`: the mount is left out of for_dump collections.
#[no_mangle]
pub extern "C" fn criurs_ctx_add_skip_mount(ctx: *mut criurs_ctx, path: *const c_char) -> c_int {
    with_ctx(ctx, |ctx| {
        // SAFETY: a non-NULL path is NUL-terminated per the contract.
        let path = unsafe { c_bytes(path, "path")? };
        ctx.add_skip_mount(path)
    })
}

/// Writes mountpoints-<ns_id>.img (CRIU's format) into the images
/// directory. -ENOENT: no such collected mount namespace; -EINVAL: not a
/// mount namespace, or no images directory set.
#[no_mangle]
pub extern "C" fn criurs_dump_mnt_ns(ctx: *mut criurs_ctx, ns_id: u32) -> c_int {
    with_ctx(ctx, |ctx| ctx.dump_mnt_ns(ns_id))
}

/// Number of mounts of mount namespace `ns_id` (after skips).
#[no_mangle]
pub extern "C" fn criurs_mnt_count(ctx: *const criurs_ctx, ns_id: u32, out: *mut usize) -> c_int {
    with_ctx_out(ctx, out, |ctx| Ok(ctx.mount_namespace(ns_id)?.len()))
}

/// The mount at `index` (mount order = mountinfo order) of namespace
/// `ns_id`. -ENOENT past the end.
#[no_mangle]
pub extern "C" fn criurs_mnt_get(ctx: *const criurs_ctx, ns_id: u32, index: usize, out: *mut criurs_mnt_info) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let ns = ctx.mount_namespace(ns_id)?;
        let m = ns.get(index).ok_or_else(|| past_end("mount index", index, ns.len()))?;
        Ok(info(ns, index, m))
    })
}

/// Index of the namespace's root mount.
#[no_mangle]
pub extern "C" fn criurs_mnt_root(ctx: *const criurs_ctx, ns_id: u32, out: *mut usize) -> c_int {
    with_ctx_out(ctx, out, |ctx| Ok(ctx.mount_namespace(ns_id)?.root_index()))
}

/// Index of the `nth` child (mount order) of the mount at `index`.
/// -ENOENT when there are not that many.
#[no_mangle]
pub extern "C" fn criurs_mnt_child(ctx: *const criurs_ctx, ns_id: u32, index: usize, nth: usize, out: *mut usize) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let ns = ctx.mount_namespace(ns_id)?;
        if index >= ns.len() {
            return Err(past_end("mount index", index, ns.len()));
        }
        let kids = ns.children(index);
        let c = *kids.get(nth).ok_or_else(|| past_end("child", nth, kids.len()))?;
        Ok(c)
    })
}

/// Index of the mount with kernel id `mnt_id`; -ENOENT if none.
#[no_mangle]
pub extern "C" fn criurs_mnt_find(ctx: *const criurs_ctx, ns_id: u32, mnt_id: u32, out: *mut usize) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let ns = ctx.mount_namespace(ns_id)?;
        let i = ns
            .index_of(mnt_id)
            .ok_or_else(|| Error::new(libc::ENOENT, format!("no mount {mnt_id} in mount namespace {ns_id}")))?;
        Ok(i)
    })
}
