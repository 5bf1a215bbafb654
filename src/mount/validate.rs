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
/// - a shared mount sees the same children as a wider (or equal) peer of
///   its group, where they are visible to it (CRIU's `validate_shared`);
/// - two children of one parent on the same mount point (possible only
///   through propagation, which CRIU cannot order on restore);
/// - external mounts (and binds/peers/slaves of them) are accepted as is;
/// - a mount of a filesystem's root must be of a type CRIU can mount;
/// - a bind mount of a subdirectory needs, in its superblock's bind
///   group, a mount of the filesystem root (or a namespace root whose
///   root is a prefix of its own) to bind from.
pub fn validate_mounts(namespaces: &[MountNamespace], sharing: &Sharing) -> Result<()> {
    let mut seen: HashMap<&[u8], usize> = HashMap::new();
    let peers_by_root = PeersByRoot::new(namespaces, sharing);
    for r in criu_order(namespaces) {
        let ns = &namespaces[r.ns];
        let m = &ns.mounts[r.index];
        if ns.parent_index(r.index).is_none() || m.is_ns_root() {
            continue;
        }
        if m.shared_id != 0 {
            validate_shared(namespaces, &peers_by_root, r)?;
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

/// The members of each peer group by their root, so a wider peer is found
/// by walking up a mount's root path instead of scanning the group.
struct PeersByRoot<'a> {
    map: HashMap<(u32, &'a [u8]), Vec<MountRef>>,
}

impl<'a> PeersByRoot<'a> {
    fn new(namespaces: &'a [MountNamespace], sharing: &Sharing) -> Self {
        let mut map: HashMap<(u32, &'a [u8]), Vec<MountRef>> = HashMap::new();
        for (&group, members) in &sharing.peer_groups {
            for &p in members {
                let entry = map.entry((group, namespaces[p.ns].mounts[p.index].root.as_slice())).or_default();
                // Two are enough: one of them is not the mount asking.
                if entry.len() < 2 {
                    entry.push(p);
                }
            }
        }
        PeersByRoot { map }
    }

    /// A peer of `r` whose root is `r`'s root or an ancestor of it (CRIU's
    /// `find_widest_shared`: "wider or equal"), the nearest one first.
    fn wider_peer(&self, namespaces: &[MountNamespace], r: MountRef) -> Option<MountRef> {
        let m = &namespaces[r.ns].mounts[r.index];
        let mut root: &[u8] = &m.root;
        loop {
            if let Some(found) = self.map.get(&(m.shared_id, root)) {
                if let Some(&p) = found.iter().find(|&&p| p != r) {
                    return Some(p);
                }
            }
            if root == b"/" || root.is_empty() {
                return None;
            }
            root = match root.iter().rposition(|&b| b == b'/') {
                Some(0) => b"/",
                Some(cut) => &root[..cut],
                None => return None,
            };
        }
    }
}

/// `path` relative to `base` ("" when equal, "/x/y" below it), if `path`
/// is `base` or lies under it. The root "/" is a prefix of every path.
fn below<'p>(path: &'p [u8], base: &[u8]) -> Option<&'p [u8]> {
    if base == b"/" {
        return Some(if path == b"/" { b"" } else { path });
    }
    let rest = path.strip_prefix(base)?;
    (rest.is_empty() || rest[0] == b'/').then_some(rest)
}

/// Two mounts of the same superblock, mounted from the same root (CRIU's
/// `mounts_equal`).
fn mounts_equal(a: &super::mountinfo::MountRecord, b: &super::mountinfo::MountRecord) -> bool {
    a.fstype == b.fstype && a.options == b.options && a.root_dev == b.root_dev && a.source == b.source && a.root == b.root
}

/// CRIU's `validate_shared`: every child of the wider peer `t` that is
/// visible inside `m`'s root must be mounted at the same place in `m`,
/// the same way, and `m` must have no other children; otherwise restore
/// could not recreate the group by propagation.
fn validate_shared(namespaces: &[MountNamespace], peers: &PeersByRoot<'_>, r: MountRef) -> Result<()> {
    let Some(tr) = peers.wider_peer(namespaces, r) else {
        return Ok(()); // the widest of its group: the others compare to it
    };
    let (m_ns, t_ns) = (&namespaces[r.ns], &namespaces[tr.ns]);
    let (m, t) = (&m_ns.mounts[r.index], &t_ns.mounts[tr.index]);
    let m_root_below_t = below(&m.root, &t.root).unwrap_or(b"");
    let mut unmatched: HashMap<&[u8], usize> =
        m_ns.children(r.index).iter().map(|&c| (m_ns.mounts[c].mountpoint.as_slice(), c)).collect();
    let differ = |why: String| {
        Error::new(
            libc::EXDEV,
            format!("{} and {} are peers with different sets of mounts: {why}", describe(namespaces, r), describe(namespaces, tr)),
        )
    };
    for &c in t_ns.children(tr.index) {
        let ct = &t_ns.mounts[c];
        if ct.is_ns_root() {
            continue;
        }
        let Some(in_t) = below(&ct.mountpoint, &t.mountpoint) else { continue };
        let Some(in_m) = below(in_t, m_root_below_t) else { continue }; // not visible in m
        let want: Vec<u8> = if m.mountpoint == b"/" {
            if in_m.is_empty() { b"/".to_vec() } else { in_m.to_vec() }
        } else {
            [m.mountpoint.as_slice(), in_m].concat()
        };
        match unmatched.remove(want.as_slice()) {
            Some(cm) if mounts_equal(&m_ns.mounts[cm], ct) => {}
            Some(cm) => {
                return Err(differ(format!(
                    "mount {} at {} is not the same mount as {} at {}",
                    m_ns.mounts[cm].mnt_id,
                    show(&want),
                    ct.mnt_id,
                    show(&ct.mountpoint)
                )))
            }
            None => return Err(differ(format!("nothing is mounted at {} as {} is at {}", show(&want), ct.mnt_id, show(&ct.mountpoint)))),
        }
    }
    if let Some((mp, &cm)) = unmatched.iter().next() {
        return Err(differ(format!("mount {} at {} has no counterpart", m_ns.mounts[cm].mnt_id, show(mp))));
    }
    Ok(())
}
