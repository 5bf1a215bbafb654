//! Peer groups, masters, bind groups and external mounts across all the
//! collected mount namespaces: CRIU's `resolve_external_mounts`,
//! `resolve_shared_mounts` and `mnt_is_external`, with hash maps instead
//! of CRIU's pairwise list scans.

use std::borrow::Cow;
use std::collections::HashMap;

use super::fstype::FsType;
use super::tree::{show, MountNamespace, MountRef};
use super::MountConfig;
use crate::error::{Error, Result};
use crate::log::Logger;

/// Mounts of one superblock mounted several times (CRIU's `mnt_bind`).
#[derive(Debug, Clone, Default)]
pub struct BindGroup {
    pub members: Vec<MountRef>,
    /// A member mounts the filesystem's root ("/").
    pub has_fsroot: bool,
    /// Members that are a namespace's root mount.
    pub ns_roots: Vec<MountRef>,
    /// Members marked external.
    pub externals: Vec<MountRef>,
}

/// Sharing across namespaces.
#[derive(Debug, Clone, Default)]
pub struct Sharing {
    /// Peer group id → members, in CRIU's list order.
    pub peer_groups: HashMap<u32, Vec<MountRef>>,
    /// Peer groups holding an external mount.
    pub external_peer_groups: HashMap<u32, ()>,
    pub bind_groups: Vec<BindGroup>,
}

/// CRIU's list order: namespaces in walk order, each one's mountinfo
/// reversed.
pub(crate) fn criu_order(namespaces: &[MountNamespace]) -> impl Iterator<Item = MountRef> + '_ {
    namespaces.iter().enumerate().flat_map(|(ns, n)| (0..n.len()).rev().map(move |index| MountRef { ns, index }))
}

/// CRIU's `try_resolve_ext_mount` for every mount but namespace roots:
/// `mnt[PATH]:KEY` marks the mount at PATH external with KEY;
/// `dev[MAJ/MIN]:VAL` turns an unsupported filesystem on that device into
/// an "auto" mount of source `dev[VAL]`.
pub fn resolve_external_mounts(namespaces: &mut [MountNamespace], config: &MountConfig, log: &Logger) {
    if config.external_mounts.is_empty() && config.external_devices.is_empty() {
        return;
    }
    for ns in namespaces.iter_mut() {
        let root = ns.root_index();
        for (i, m) in ns.mounts.iter_mut().enumerate() {
            if i == root || m.is_ns_root() {
                continue;
            }
            if let Some(key) = config.external_mounts.get(&m.mountpoint) {
                log.info("mnt", format_args!("found {} mapping for {} mountpoint", show(key), show(&m.mountpoint)));
                m.ext_key = Some(key.clone());
                continue;
            }
            if m.fstype == FsType::Unsupported {
                if let Some(val) = config.external_devices.get(&(m.major, m.minor)) {
                    let mut source = b"dev[".to_vec();
                    source.extend_from_slice(val);
                    source.push(b']');
                    m.source = source;
                    m.fstype = FsType::Auto;
                }
            }
        }
    }
}

/// What makes two mounts the same superblock (CRIU's `mounts_sb_equal`).
#[derive(Hash, PartialEq, Eq)]
struct SbKey<'a> {
    fstype: u32,
    btrfs: bool,
    dev: u32,
    source: &'a [u8],
    options: Cow<'a, [u8]>,
    cgroup_root: Option<&'a [u8]>,
}

/// btrfs prints `subvol=` inconsistently for bind mounts: CRIU compares
/// the options without it.
fn without_subvol(options: &[u8]) -> Cow<'_, [u8]> {
    let Some(at) = options.windows(7).position(|w| w == b"subvol=") else { return Cow::Borrowed(options) };
    let mut out = options[..at].to_vec();
    if let Some(comma) = options[at..].iter().position(|&b| b == b',') {
        out.extend_from_slice(&options[at + comma..]);
    }
    Cow::Owned(out)
}

/// Builds peer groups, masters and bind groups; returns the mounts whose
/// master is nowhere in the dump and which are not external (CRIU refuses
/// those when validating).
pub fn resolve_shared_mounts(namespaces: &mut [MountNamespace], root_master_id: u32) -> Result<(Sharing, Vec<MountRef>)> {
    let order: Vec<MountRef> = criu_order(namespaces).collect();
    let mut sharing = Sharing::default();
    // The root mount's master is already there on restore: CRIU writes -1.
    if root_master_id != 0 {
        for ns in namespaces.iter_mut() {
            for m in ns.mounts.iter_mut().filter(|m| m.master_id == root_master_id) {
                m.master_id = u32::MAX;
            }
        }
    }
    for &r in &order {
        let m = &namespaces[r.ns].mounts[r.index];
        if m.shared_id != 0 {
            sharing.peer_groups.entry(m.shared_id).or_default().push(r);
            if m.ext_key.is_some() {
                sharing.external_peer_groups.insert(m.shared_id, ());
            }
        }
    }
    // Bind groups, keyed by superblock identity.
    let mut group_ids: Vec<(MountRef, usize)> = Vec::with_capacity(order.len());
    {
        let mut groups: HashMap<SbKey<'_>, usize> = HashMap::with_capacity(order.len());
        for &r in &order {
            let ns = &namespaces[r.ns];
            let m = &ns.mounts[r.index];
            let btrfs = FsType::is_btrfs(&m.fsname) && m.fstype == FsType::Unsupported;
            let cgroup = matches!(m.fstype, FsType::Cgroup | FsType::Cgroup2);
            let key = SbKey {
                fstype: m.fstype.code(),
                btrfs,
                dev: m.root_dev,
                source: &m.source,
                options: if btrfs { without_subvol(&m.options) } else { Cow::Borrowed(&m.options[..]) },
                cgroup_root: if cgroup { m.cgroup_root.as_deref() } else { None },
            };
            let next = sharing.bind_groups.len();
            let g = *groups.entry(key).or_insert(next);
            if g == next {
                sharing.bind_groups.push(BindGroup::default());
            }
            let group = &mut sharing.bind_groups[g];
            group.members.push(r);
            group.has_fsroot |= m.fsroot_mounted();
            if ns.parent_index(r.index).is_none() {
                group.ns_roots.push(r);
            }
            if m.ext_key.is_some() {
                group.externals.push(r);
            }
            group_ids.push((r, g));
        }
    }
    for (r, g) in group_ids {
        namespaces[r.ns].bind_group[r.index] = g;
    }
    // Masters: the first mount, in CRIU's order, of the master peer group.
    let mut unreachable = Vec::new();
    for &r in &order {
        let master_id = namespaces[r.ns].mounts[r.index].master_id;
        if master_id == 0 || master_id as i32 <= 0 {
            continue;
        }
        let master = sharing.peer_groups.get(&master_id).and_then(|g| g.iter().copied().find(|&t| t != r));
        namespaces[r.ns].master[r.index] = master;
        if master.is_none() && namespaces[r.ns].parent_index(r.index).is_some() {
            unreachable.push(r);
        }
    }
    let unreachable = unreachable.into_iter().filter(|&r| !is_external(namespaces, &sharing, r)).collect();
    Ok((sharing, unreachable))
}

fn is_subpath(path: &[u8], sub: &[u8]) -> bool {
    if sub == b"/" {
        return path.first() == Some(&b'/');
    }
    path.starts_with(sub) && (path.len() == sub.len() || path[sub.len()] == b'/')
}

/// CRIU's `mnt_is_external`: the mount, a peer, or a bind of it from a
/// wider root is external; or the same holds for its master, and so on up
/// the chain of masters.
pub fn is_external(namespaces: &[MountNamespace], sharing: &Sharing, start: MountRef) -> bool {
    let mut cur = Some(start);
    let mut steps = 0;
    let limit: usize = namespaces.iter().map(|n| n.len()).sum();
    while let Some(r) = cur {
        let ns = &namespaces[r.ns];
        let m = &ns.mounts[r.index];
        if m.ext_key.is_some() {
            return true;
        }
        if m.shared_id != 0 && sharing.external_peer_groups.contains_key(&m.shared_id) {
            return true;
        }
        if m.master_id == 0 || m.master_id == u32::MAX {
            if let Some(g) = sharing.bind_groups.get(ns.bind_group[r.index]) {
                let wider = g.externals.iter().any(|t| {
                    *t != r && is_subpath(&m.root, &namespaces[t.ns].mounts[t.index].root)
                });
                if wider {
                    return true;
                }
            }
        }
        steps += 1;
        if steps > limit {
            return false; // a master loop (impossible in a kernel's output)
        }
        cur = ns.master_of(r.index);
    }
    false
}

pub(crate) fn unreachable_error(namespaces: &[MountNamespace], r: MountRef) -> Error {
    let m = &namespaces[r.ns].mounts[r.index];
    Error::new(
        libc::EXDEV,
        format!(
            "mount {} at {} in mount namespace {} (master_id {}, shared_id {}) has unreachable sharing: its master peer group is in no dumped namespace and the mount is not external (CRIU: try --enable-external-masters)",
            m.mnt_id,
            show(&m.mountpoint),
            namespaces[r.ns].ns_id,
            m.master_id,
            m.shared_id
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subpaths_and_subvol_stripping() {
        assert!(is_subpath(b"/a/b", b"/a"));
        assert!(is_subpath(b"/a", b"/a"));
        assert!(!is_subpath(b"/ab", b"/a"));
        assert!(is_subpath(b"/ab", b"/"));
        assert_eq!(&*without_subvol(b"ssd,subvol=/x,space_cache"), b"ssd,,space_cache");
        assert_eq!(&*without_subvol(b"ssd,subvol=/x"), b"ssd,");
        assert_eq!(&*without_subvol(b"ssd"), b"ssd");
    }
}
