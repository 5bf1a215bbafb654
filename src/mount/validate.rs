//! CRIU 4.2's `validate_mounts(info, for_dump)`: what a dump of these
//! mount namespaces could not restore. Each refusal names the mount and
//! the reason.
//!
//! CRIU 4.2 no longer checks that the peers of a shared group carry the
//! same children (`validate_shared` went in 3.11: restore copes with
//! non-uniform sharing), nor asks a mount to be external through its
//! peers or masters (the old `mnt_is_external`): only binds count. What
//! remains of the peers' children is CRIU's assertion that copies
//! propagated between peers are one mount (it aborts otherwise), here a
//! refusal.

use foldhash::{HashMap, HashMapExt};

use super::fstype::FsType;
use super::mountinfo::MountRecord;
use super::sharing::{criu_order, sb_equal, Sharing};
use super::tree::{show, MountNamespace, MountRef};
use crate::error::{Error, Result};

fn describe(namespaces: &[MountNamespace], r: MountRef) -> String {
    let m = &namespaces[r.ns].mounts[r.index];
    format!("mount {} at {} in mount namespace {}", m.mnt_id, show(&m.mountpoint()), namespaces[r.ns].ns_id)
}

/// Checks every mount of every collected namespace, namespace roots
/// included, in CRIU's order:
/// - no two children of one mount on the same mount point (possible only
///   through propagation, which CRIU cannot order on restore;
///   `validate_children_collision`);
/// - a mount that is external or bound from an external mount of a wider
///   or equal root (`mnt_is_external_bind`), or bound from a "/" of the
///   root's mount namespace (`mnt_is_root_bind`), is accepted as is;
/// - a mount of a filesystem's root must be of a type CRIU can mount;
/// - a bind mount of a subdirectory needs, in its superblock's bind
///   group, a mount of the filesystem root, or a namespace root whose
///   root is a (byte) prefix of its own, to bind from
///   (`find_fsroot_mount_for`; CRIU would ask its plugins next: there are
///   none here).
pub fn validate_mounts(namespaces: &[MountNamespace], sharing: &Sharing) -> Result<()> {
    match refusals(namespaces, sharing).first() {
        Some(refusal) => Err(refusal.to_error(namespaces)),
        None => Ok(()),
    }
}

/// One mount `validate_mounts` refuses, typed, so that `check` lists
/// every one where a dump stops at the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountRefusal {
    /// Two children of `parent` on one mount point
    /// (mount.c:validate_children_collision).
    ChildrenCollision { parent: MountRef, first: MountRef, second: MountRef },
    /// A filesystem root of a type CRIU cannot mount, not external
    /// (mount.c:validate_mounts, "FS mnt ... unsupported").
    Unsupported(MountRef),
    /// A bind of a subdirectory with nothing to bind it from
    /// (mount.c:validate_mounts, "doesn't have a proper root mount").
    NoProperRoot(MountRef),
    /// Propagated copies that are different mounts
    /// (mount.c:resolve_shared_mounts, a BUG_ON).
    PropagationMismatch { first: MountRef, second: MountRef, shared_id: u32 },
}

/// CRIU's `ns_mountpoint` of a mount: its mount point with a leading ".".
pub fn criu_mountpoint(m: &MountRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(m.mountpoint().len() + 1);
    out.push(b'.');
    out.extend_from_slice(&m.mountpoint());
    out
}

impl MountRefusal {
    /// The mount refused.
    pub fn mount(&self) -> MountRef {
        match *self {
            MountRefusal::ChildrenCollision { second, .. } => second,
            MountRefusal::Unsupported(r) | MountRefusal::NoProperRoot(r) => r,
            MountRefusal::PropagationMismatch { second, .. } => second,
        }
    }

    /// CRIU 4.2's own error line for it (bytes: paths are the target's).
    pub fn criu_message(&self, namespaces: &[MountNamespace]) -> Vec<u8> {
        let get = |r: MountRef| &namespaces[r.ns].mounts[r.index];
        match *self {
            MountRefusal::ChildrenCollision { parent, first, second } => format!(
                "Mount {} has two children with same mountpoint: {} {}",
                get(parent).mnt_id,
                get(first).mnt_id,
                get(second).mnt_id
            )
            .into_bytes(),
            MountRefusal::Unsupported(r) => {
                let m = get(r);
                let mut out = b"FS mnt ".to_vec();
                out.extend_from_slice(&criu_mountpoint(m));
                out.extend_from_slice(format!(" dev {:#x} root ", m.root_dev).as_bytes());
                out.extend_from_slice(&m.root());
                out.extend_from_slice(format!(" unsupported id {}", m.mnt_id).as_bytes());
                out
            }
            MountRefusal::NoProperRoot(r) => {
                let m = get(r);
                let mut out = format!("{}:", m.mnt_id).into_bytes();
                out.extend_from_slice(&criu_mountpoint(m));
                out.extend_from_slice(b" doesn't have a proper root mount");
                out
            }
            MountRefusal::PropagationMismatch { .. } => {
                b"BUG at criu/mount.c (resolve_shared_mounts): propagated copies are not the same mount".to_vec()
            }
        }
    }

    /// The error a dump fails with.
    pub fn to_error(&self, namespaces: &[MountNamespace]) -> Error {
        let get = |r: MountRef| &namespaces[r.ns].mounts[r.index];
        match *self {
            MountRefusal::ChildrenCollision { parent, first, second } => Error::new(
                libc::EXDEV,
                format!(
                    "{} has two children with the same mount point {}: mounts {} and {}",
                    describe(namespaces, parent),
                    show(&get(second).mountpoint()),
                    get(first).mnt_id,
                    get(second).mnt_id
                ),
            ),
            MountRefusal::Unsupported(r) => {
                let m = get(r);
                Error::new(
                    libc::EOPNOTSUPP,
                    format!(
                        "{} (dev {:#x}, root {}): filesystem type {} is not supported and the mount is not external (--external mnt[PATH]:KEY, or dev[MAJ/MIN]:VAL for its device)",
                        describe(namespaces, r),
                        m.root_dev,
                        show(&m.root()),
                        show(&m.fsname())
                    ),
                )
            }
            MountRefusal::NoProperRoot(r) => {
                let m = get(r);
                Error::new(
                    libc::EOPNOTSUPP,
                    format!(
                        "{} (root {} of {} {}) doesn't have a proper root mount: no mount of that filesystem's root to bind it from, and it is not external",
                        describe(namespaces, r),
                        show(&m.root()),
                        show(&m.fsname()),
                        show(&m.source())
                    ),
                )
            }
            MountRefusal::PropagationMismatch { first, second, shared_id } => Error::new(
                libc::EXDEV,
                format!(
                    "{} and {} are propagated copies of one mount (children of peers of shared group {} at the same place) but are different mounts; CRIU 4.2 aborts on this (BUG_ON in resolve_shared_mounts)",
                    describe(namespaces, first),
                    describe(namespaces, second),
                    shared_id
                ),
            ),
        }
    }
}

/// Every refusal of `validate_mounts`, in CRIU's order; a mount has at
/// most one (the first of the rules it breaks).
pub fn refusals(namespaces: &[MountNamespace], sharing: &Sharing) -> Vec<MountRefusal> {
    let mut out = propagation_refusals(namespaces);
    let mut seen: std::collections::HashMap<u64, usize, HashedKey> = Default::default();
    let hasher = foldhash::fast::RandomState::default();
    for r in criu_order(namespaces) {
        let ns = &namespaces[r.ns];
        let m = &ns.mounts[r.index];
        let collision = first_collision(ns, ns.children(r.index), &mut seen, &hasher);
        if let Some((first, second)) = collision {
            out.push(MountRefusal::ChildrenCollision {
                parent: r,
                first: MountRef { ns: r.ns, index: first },
                second: MountRef { ns: r.ns, index: second },
            });
        }
        let collided = collision.is_some();
        if collided || sharing.is_external_bind(namespaces, r) || sharing.is_root_bind(namespaces, r) {
            continue;
        }
        if m.fsroot_mounted() {
            if m.fstype == FsType::Unsupported {
                out.push(MountRefusal::Unsupported(r));
            }
            continue;
        }
        let group = &sharing.bind_groups[ns.bind_group[r.index]];
        let bindable = group.has_fsroot
            || group.ns_roots.iter().any(|t| *t != r && m.root().starts_with(&namespaces[t.ns].mounts[t.index].root()));
        if !bindable {
            out.push(MountRefusal::NoProperRoot(r));
        }
    }
    out
}

/// The first child (in mount order) whose mount point an earlier child
/// has, and that earlier child: the walk CRIU makes, remembering mount
/// points by a 64-bit hash (seeded per process) instead of by their
/// bytes; a hash shared by two different mount points sends the walk to
/// the exact map.
fn first_collision(ns: &MountNamespace, children: &[usize], seen: &mut std::collections::HashMap<u64, usize, HashedKey>, hasher: &foldhash::fast::RandomState) -> Option<(usize, usize)> {
    use std::hash::BuildHasher;
    if children.len() < 2 {
        return None;
    }
    seen.clear();
    seen.reserve(children.len());
    for &c in children {
        let mp = ns.mounts[c].mountpoint();
        match seen.entry(hasher.hash_one(mp)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(c);
            }
            std::collections::hash_map::Entry::Occupied(o) if ns.mounts[*o.get()].mountpoint() == mp => return Some((*o.get(), c)),
            std::collections::hash_map::Entry::Occupied(_) => return first_collision_exact(ns, children),
        }
    }
    None
}

fn first_collision_exact(ns: &MountNamespace, children: &[usize]) -> Option<(usize, usize)> {
    let mut seen: HashMap<&[u8], usize> = HashMap::with_capacity(children.len());
    for &c in children {
        if let Some(&first) = seen.get(ns.mounts[c].mountpoint()) {
            return Some((first, c));
        }
        seen.insert(ns.mounts[c].mountpoint(), c);
    }
    None
}

/// Keys that are hashes already: used as they are.
#[derive(Default, Clone, Copy)]
struct HashedKey;

impl std::hash::BuildHasher for HashedKey {
    type Hasher = HashedKeyHasher;
    fn build_hasher(&self) -> HashedKeyHasher {
        HashedKeyHasher(0)
    }
}

struct HashedKeyHasher(u64);

impl std::hash::Hasher for HashedKeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys reach here (write_u64); fold anything else in.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// CRIU's `root_path_from_parent`: where `m` sits inside the filesystem of
/// its parent (the parent's root joined with `m`'s mount point below the
/// parent's).
fn root_path_from_parent(parent: &MountRecord, m: &MountRecord) -> Vec<u8> {
    let rest = m.mountpoint().get(parent.mountpoint().len()..).unwrap_or(b"");
    let mut out = parent.root().to_vec();
    if !rest.is_empty() {
        match (out.last() == Some(&b'/'), rest[0] == b'/') {
            (true, true) => out.extend_from_slice(&rest[1..]),
            (false, false) => {
                out.push(b'/');
                out.extend_from_slice(rest);
            }
            _ => out.extend_from_slice(rest),
        }
    }
    out
}

/// The end of CRIU 4.2's `resolve_shared_mounts`: children of two peers
/// (parents in one shared group) at the same place of the group's
/// filesystem are one propagation group, and CRIU asserts they are the
/// same mount (`BUG_ON(!mounts_equal())`: the dump aborts). Each is
/// compared, as in CRIU, with the first of its place in CRIU's order.
fn propagation_refusals(namespaces: &[MountNamespace]) -> Vec<MountRefusal> {
    let mut out = Vec::new();
    let mut first: HashMap<(u32, Vec<u8>), (MountRef, MountRef)> = HashMap::new();
    for r in criu_order(namespaces) {
        let ns = &namespaces[r.ns];
        let Some(p) = ns.parent_index(r.index) else { continue };
        let (parent, m) = (&ns.mounts[p], &ns.mounts[r.index]);
        if parent.shared_id == 0 {
            continue;
        }
        let pr = MountRef { ns: r.ns, index: p };
        match first.entry((parent.shared_id, root_path_from_parent(parent, m))) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert((pr, r));
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                let (fp, fr) = *o.get();
                let f = &namespaces[fr.ns].mounts[fr.index];
                if fp != pr && !(sb_equal(f, m) && f.root() == m.root()) {
                    out.push(MountRefusal::PropagationMismatch { first: fr, second: r, shared_id: parent.shared_id });
                }
            }
        }
    }
    out
}
