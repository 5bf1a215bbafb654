//! CRIU's `validate_mounts`: what a dump of these mount namespaces could
//! not restore. Each refusal names the mount and the reason.

use std::collections::HashMap;

use super::fstype::FsType;
use super::sharing::{criu_order, is_external, Sharing};
use super::tree::{show, MountNamespace, MountRef};
use crate::error::{Error, Result};

fn describe(namespaces: &[MountNamespace], r: MountRef) -> String {
    let m = &namespaces[r.ns].mounts[r.index];
    format!("mount {} at {} in mount namespace {}", m.mnt_id, show(&m.mountpoint), namespaces[r.ns].ns_id)
}

/// Checks every mount but namespace roots, in CRIU's order:
/// - two children of one parent on the same mount point (possible only
///   through propagation, which CRIU cannot order on restore);
/// - external mounts (and binds/peers/slaves of them) are accepted as is;
/// - a mount of a filesystem's root must be of a type CRIU can mount;
/// - a bind mount of a subdirectory needs, in its superblock's bind
///   group, a mount of the filesystem root (or a namespace root whose
///   root is a prefix of its own) to bind from.
pub fn validate_mounts(namespaces: &[MountNamespace], sharing: &Sharing) -> Result<()> {
    let mut seen: HashMap<&[u8], usize> = HashMap::new();
    for r in criu_order(namespaces) {
        let ns = &namespaces[r.ns];
        let m = &ns.mounts[r.index];
        if ns.parent_index(r.index).is_none() || m.is_ns_root() {
            continue;
        }
        seen.clear();
        for &c in ns.children(r.index) {
            if let Some(&other) = seen.get(ns.mounts[c].mountpoint.as_slice()) {
                return Err(Error::new(
                    libc::EXDEV,
                    format!(
                        "{} has two children with the same mount point {}: mounts {} and {}",
                        describe(namespaces, r),
                        show(&ns.mounts[c].mountpoint),
                        ns.mounts[other].mnt_id,
                        ns.mounts[c].mnt_id
                    ),
                ));
            }
            seen.insert(&ns.mounts[c].mountpoint, c);
        }
        if is_external(namespaces, sharing, r) {
            continue;
        }
        if m.fsroot_mounted() {
            if m.fstype == FsType::Unsupported {
                return Err(Error::new(
                    libc::EOPNOTSUPP,
                    format!(
                        "{} (dev {:#x}, root {}): filesystem type {} is not supported and the mount is not external",
                        describe(namespaces, r),
                        m.root_dev,
                        show(&m.root),
                        show(&m.fsname)
                    ),
                ));
            }
            continue;
        }
        let group = &sharing.bind_groups[ns.bind_group[r.index]];
        let bindable = group.has_fsroot
            || group.ns_roots.iter().any(|t| *t != r && m.root.starts_with(&namespaces[t.ns].mounts[t.index].root));
        if !bindable {
            return Err(Error::new(
                libc::EOPNOTSUPP,
                format!(
                    "{} (root {} of {} {}) doesn't have a proper root mount: no mount of that filesystem's root to bind it from, and it is not external",
                    describe(namespaces, r),
                    show(&m.root),
                    show(&m.fsname),
                    show(&m.source)
                ),
            ));
        }
    }
    Ok(())
}
