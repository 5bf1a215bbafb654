//! Bind groups, external mounts, peer groups and masters across all the
//! collected mount namespaces, in CRIU 4.2's order: `search_bindmounts`
//! (bind groups, on the mounts as parsed), `resolve_external_mounts` /
//! `try_resolve_ext_mount` (externals), then `resolve_shared_mounts`
//! (peers and masters). CRIU's `mnt_bind_pick` questions
//! (`mnt_is_external_bind`, `mnt_is_root_bind`,
//! `can_receive_master_from_external`, `can_receive_master_from_root`)
//! are answered from per-group indexes keyed by root, walking up a
//! mount's root path instead of scanning CRIU's lists pairwise.

use std::borrow::Cow;
use foldhash::{HashMap, HashMapExt};

use super::fstype::FsType;
use super::mountinfo::MountRecord;
use super::tree::{show, MountNamespace, MountRef};
use super::MountConfig;
use crate::error::Error;
use crate::log::Logger;
use crate::ns::NsType;

/// The ext_key CRIU writes for a mount resolved by a `dev[MAJ/MIN]:VAL`
/// external (its EXTERNAL_DEV_MOUNT).
pub const EXTERNAL_DEV_KEY: &[u8] = b"CRIU:EXTERNAL_DEV";

/// Mounts of one superblock mounted several times (CRIU's `mnt_bind`).
#[derive(Debug, Clone, Default)]
pub struct BindGroup {
    pub members: Vec<MountRef>,
    /// A member mounts the filesystem's root ("/").
    pub has_fsroot: bool,
    /// Members without a parent (namespace roots).
    pub ns_roots: Vec<MountRef>,
    /// Members marked external (`mnt[]` or `dev[]`).
    pub externals: Vec<MountRef>,
}

/// What CRIU's bind-group questions look for, for the members of one
/// group with one root.
#[derive(Debug, Clone, Default)]
struct Marks {
    /// A member is external (any kind).
    external: bool,
    /// master_id of members that are `mnt[]` externals (not `dev[]`).
    nodev_external_masters: Vec<u32>,
    /// A member is a "/" of the tree root's mount namespace (CRIU's
    /// `rst_mnt_is_root`).
    root_mount: bool,
    /// master_id of those members.
    root_mount_masters: Vec<u32>,
}

/// Sharing across namespaces.
#[derive(Debug, Clone, Default)]
pub struct Sharing {
    /// Peer group id → members, in CRIU's list order.
    pub peer_groups: HashMap<u32, Vec<MountRef>>,
    pub bind_groups: Vec<BindGroup>,
    /// Bind group → root → marks, only for groups holding an external or
    /// a root mount.
    marks: HashMap<usize, HashMap<Vec<u8>, Marks>>,
}

/// CRIU's list order: namespaces in walk order, each one's mountinfo
/// reversed.
pub(crate) fn criu_order(namespaces: &[MountNamespace]) -> impl Iterator<Item = MountRef> + '_ {
    namespaces.iter().enumerate().flat_map(|(ns, n)| (0..n.len()).rev().map(move |index| MountRef { ns, index }))
}

/// CRIU 4.2's steps after the trees are built, on every collected
/// namespace: bind groups, externals, peers and masters. `root_ns_id` is
/// the tree root's mount namespace (CRIU's `root_item->ids->mnt_ns_id`).
/// Returns the mounts whose master CRIU cannot reach (it refuses them
/// when validating, see `unreachable_error`).
pub fn resolve(
    namespaces: &mut [MountNamespace],
    config: &MountConfig,
    root_ns_id: Option<u32>,
    log: &Logger,
) -> (Sharing, Vec<MountRef>) {
    let mut sharing = Sharing { bind_groups: search_bindmounts(namespaces), ..Default::default() };
    resolve_external_mounts(namespaces, &mut sharing, config, log);
    sharing.index_marks(namespaces, root_ns_id);
    let unreachable = resolve_shared_mounts(namespaces, &mut sharing);
    (sharing, unreachable)
}

/// CRIU's `try_resolve_ext_mount` for every mount but namespace roots and
/// mounts on "/":
/// - `mnt[PATH]:KEY` marks the mount at PATH external with KEY, in the
///   tree root's own mount namespace only (NS_ROOT: elsewhere the same
///   path may hold another mount);
/// - `dev[MAJ/MIN]:VAL` turns a mount of an unsupported filesystem's root
///   on that device, in any namespace, into an "auto" mount of source
///   `dev[VAL]`, external with key "CRIU:EXTERNAL_DEV". Its bind mounts
///   keep their values; they are external binds of it.
fn resolve_external_mounts(namespaces: &mut [MountNamespace], sharing: &mut Sharing, config: &MountConfig, log: &Logger) {
    if config.external_mounts.is_empty() && config.external_devices.is_empty() {
        return;
    }
    for (ns_index, ns) in namespaces.iter_mut().enumerate() {
        let by_path = ns.ns_type == NsType::Root && !config.external_mounts.is_empty();
        for i in 0..ns.mounts.len() {
            if ns.parent_index(i).is_none() || ns.mounts[i].is_ns_root() {
                continue;
            }
            let m = &mut ns.mounts[i];
            let key = if by_path {
                config.external_mounts.get(m.mountpoint()).or_else(|| config.external_mounts.get(m.image_mountpoint()))
            } else {
                None
            };
            if let Some(key) = key {
                log.info("mnt", format_args!("found {} mapping for {} mountpoint", show(key), show(&m.mountpoint())));
                m.ext_key = Some(key.clone());
            } else if m.fstype == FsType::Unsupported && m.fsroot_mounted() {
                let Some(val) = config.external_devices.get(&(m.major, m.minor)) else { continue };
                log.info("mnt", format_args!("found {} dev-mapping for {}({}) mountpoint", show(val), show(&m.mountpoint()), m.mnt_id));
                let mut source = b"dev[".to_vec();
                source.extend_from_slice(val);
                source.push(b']');
                m.set_source(&source);
                m.fstype = FsType::Auto;
                m.ext_key = Some(EXTERNAL_DEV_KEY.to_vec());
            } else {
                continue;
            }
            let g = ns.bind_group[i];
            sharing.bind_groups[g].externals.push(MountRef { ns: ns_index, index: i });
        }
    }
}

/// What makes two mounts the same superblock (CRIU's `mounts_sb_equal`
/// before any mount is external).
#[derive(Hash, PartialEq, Eq, Clone)]
struct SbKey<'a> {
    fstype: u32,
    btrfs: bool,
    dev: u32,
    source: &'a [u8],
    options: Cow<'a, [u8]>,
    cgroup_root: Option<&'a [u8]>,
    /// btrfs options without `subvol=`: CRIU's `btrfs_sb_equal` finds such
    /// a mount equal to no other.
    alone: Option<MountRef>,
}

/// btrfs prints `subvol=` inconsistently for bind mounts: CRIU compares
/// the options without it.
fn without_subvol(options: &[u8]) -> Option<Cow<'_, [u8]>> {
    let at = options.windows(7).position(|w| w == b"subvol=")?;
    let mut out = options[..at].to_vec();
    if let Some(comma) = options[at..].iter().position(|&b| b == b',') {
        out.extend_from_slice(&options[at + comma..]);
    }
    Some(Cow::Owned(out))
}

/// CRIU 4.2's `mounts_sb_equal` once externals are resolved: the same
/// device, and then, unless one of them is external (whose source and
/// type an external may have rewritten), the same source and type; then
/// the type's own comparison (btrfs without `subvol=`, cgroups by their
/// original root too) or the same options.
pub(crate) fn sb_equal(a: &MountRecord, b: &MountRecord) -> bool {
    if a.root_dev != b.root_dev {
        return false;
    }
    let btrfs = |m: &MountRecord| FsType::is_btrfs(&m.fsname()) && m.fstype == FsType::Unsupported;
    let cgroup = |m: &MountRecord| matches!(m.fstype, FsType::Cgroup | FsType::Cgroup2);
    let own_rule = if a.ext_key.is_none() && b.ext_key.is_none() {
        if a.source() != b.source() || a.fstype != b.fstype || btrfs(a) != btrfs(b) {
            return false;
        }
        Some(a).filter(|m| btrfs(m) || cgroup(m))
    } else {
        [a, b].into_iter().find(|m| btrfs(m) || cgroup(m))
    };
    match own_rule {
        Some(m) if btrfs(m) => match (without_subvol(&a.options()), without_subvol(&b.options())) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
        Some(_) => {
            let roots_differ = matches!((&a.cgroup_root, &b.cgroup_root), (Some(x), Some(y)) if x != y);
            !roots_differ && a.options() == b.options()
        }
        None => a.options() == b.options(),
    }
}

/// CRIU's `search_bindmounts`: bind groups keyed by superblock identity,
/// on the values parsed (before externals change a source or type).
fn search_bindmounts(namespaces: &mut [MountNamespace]) -> Vec<BindGroup> {
    let order: Vec<MountRef> = criu_order(namespaces).collect();
    let mut bind_groups: Vec<BindGroup> = Vec::new();
    let mut group_ids: Vec<(MountRef, usize)> = Vec::with_capacity(order.len());
    {
        let mut groups: HashMap<SbKey<'_>, usize> = HashMap::with_capacity(order.len());
        let mut last: Option<(SbKey<'_>, usize)> = None;
        for &r in &order {
            let ns = &namespaces[r.ns];
            let m = &ns.mounts[r.index];
            let btrfs = FsType::is_btrfs(&m.fsname()) && m.fstype == FsType::Unsupported;
            let cgroup = matches!(m.fstype, FsType::Cgroup | FsType::Cgroup2);
            let (options, alone) = match btrfs.then(|| without_subvol(&m.options())) {
                Some(Some(stripped)) => (stripped, None),
                Some(None) => (Cow::Borrowed(&m.options()[..]), Some(r)),
                None => (Cow::Borrowed(&m.options()[..]), None),
            };
            let key = SbKey {
                fstype: m.fstype.code(),
                btrfs,
                dev: m.root_dev,
                source: &m.source(),
                options,
                cgroup_root: if cgroup { m.cgroup_root.as_deref() } else { None },
                alone,
            };
            let next = bind_groups.len();
            // Neighbours are mostly binds of one superblock: the key of
            // the mount before answers without hashing.
            let g = match &last {
                Some((k, g)) if *k == key => *g,
                _ => *groups.entry(key.clone()).or_insert(next),
            };
            last = Some((key, g));
            if g == next {
                bind_groups.push(BindGroup::default());
            }
            let group = &mut bind_groups[g];
            group.members.push(r);
            group.has_fsroot |= m.fsroot_mounted();
            if ns.parent_index(r.index).is_none() {
                group.ns_roots.push(r);
            }
            group_ids.push((r, g));
        }
    }
    for (r, g) in group_ids {
        namespaces[r.ns].bind_group[r.index] = g;
    }
    bind_groups
}

/// CRIU's `resolve_shared_mounts`: peer groups, and each slave's master,
/// the first mount in CRIU's order of its master peer group. A slave whose
/// master group is in no collected namespace is still fine when a bind
/// of it (itself included) from a wider or equal root has the same
/// master and is a `mnt[]` external or a "/" of the root's namespace: the
/// master is then restored with that mount. The others are returned.
fn resolve_shared_mounts(namespaces: &mut [MountNamespace], sharing: &mut Sharing) -> Vec<MountRef> {
    let order: Vec<MountRef> = criu_order(namespaces).collect();
    for &r in &order {
        let m = &namespaces[r.ns].mounts[r.index];
        if m.shared_id != 0 {
            sharing.peer_groups.entry(m.shared_id).or_default().push(r);
        }
    }
    let mut unreachable = Vec::new();
    for &r in &order {
        let master_id = namespaces[r.ns].mounts[r.index].master_id;
        if master_id == 0 {
            continue;
        }
        let master = sharing.peer_groups.get(&master_id).and_then(|g| g.iter().copied().find(|&t| t != r));
        namespaces[r.ns].master[r.index] = master;
        if master.is_none() && !sharing.receives_master_from_outside(namespaces, r) {
            unreachable.push(r);
        }
    }
    unreachable
}

/// `path` and each of its ancestors, itself first, "/" last: the roots
/// CRIU's `is_sub_path(path, root)` accepts.
fn self_and_ancestors(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut next = Some(path);
    std::iter::from_fn(move || {
        let cur = next?;
        next = if cur == b"/" {
            None
        } else {
            let trimmed = cur.strip_suffix(b"/").unwrap_or(cur);
            match trimmed.iter().rposition(|&b| b == b'/') {
                Some(0) | None => Some(&b"/"[..]),
                Some(cut) => Some(&trimmed[..cut]),
            }
        };
        Some(cur)
    })
}

impl Sharing {
    /// Records, per bind group and root, the members CRIU's bind-group
    /// questions look for: externals, and the "/" mounts of the tree
    /// root's namespace.
    fn index_marks(&mut self, namespaces: &[MountNamespace], root_ns_id: Option<u32>) {
        let root_ns = root_ns_id.and_then(|id| namespaces.iter().position(|n| n.ns_id == id));
        let mut wanted: Vec<MountRef> = self.bind_groups.iter().flat_map(|g| g.externals.iter().copied()).collect();
        if let Some(ns) = root_ns {
            let n = &namespaces[ns];
            wanted.extend((0..n.len()).filter(|&i| n.mounts[i].is_ns_root()).map(|index| MountRef { ns, index }));
        }
        for r in wanted {
            let ns = &namespaces[r.ns];
            let m = &ns.mounts[r.index];
            let marks = self.marks.entry(ns.bind_group[r.index]).or_default().entry(m.root().to_vec()).or_default();
            if Some(r.ns) == root_ns && m.is_ns_root() {
                if !marks.root_mount_masters.contains(&m.master_id) {
                    marks.root_mount_masters.push(m.master_id);
                }
                marks.root_mount = true;
            }
            if let Some(key) = &m.ext_key {
                marks.external = true;
                if key != EXTERNAL_DEV_KEY && !marks.nodev_external_masters.contains(&m.master_id) {
                    marks.nodev_external_masters.push(m.master_id);
                }
            }
        }
    }

    /// Some member of `r`'s bind group (itself included) whose root is
    /// `r`'s root or an ancestor of it has marks `pick` accepts.
    fn pick(&self, namespaces: &[MountNamespace], r: MountRef, pick: impl Fn(&Marks) -> bool) -> bool {
        let ns = &namespaces[r.ns];
        let Some(by_root) = self.marks.get(&ns.bind_group[r.index]) else { return false };
        self_and_ancestors(&ns.mounts[r.index].root()).any(|root| by_root.get(root).is_some_and(&pick))
    }

    /// CRIU's `mnt_is_external_bind`: the mount, or a bind of it from a
    /// wider or equal root, is external.
    pub fn is_external_bind(&self, namespaces: &[MountNamespace], r: MountRef) -> bool {
        self.pick(namespaces, r, |m| m.external)
    }

    /// CRIU's `mnt_is_root_bind`: the mount, or a bind of it from a wider
    /// or equal root, is a "/" of the tree root's mount namespace.
    pub fn is_root_bind(&self, namespaces: &[MountNamespace], r: MountRef) -> bool {
        self.pick(namespaces, r, |m| m.root_mount)
    }

    /// CRIU's `can_receive_master_from_external` or
    /// `can_receive_master_from_root`.
    fn receives_master_from_outside(&self, namespaces: &[MountNamespace], r: MountRef) -> bool {
        let master_id = namespaces[r.ns].mounts[r.index].master_id;
        self.pick(namespaces, r, |m| m.nodev_external_masters.contains(&master_id) || m.root_mount_masters.contains(&master_id))
    }
}

/// CRIU 4.2's refusal of a slave whose master it cannot reach
/// ("has unreachable sharing. Try --enable-external-masters").
pub(crate) fn unreachable_error(namespaces: &[MountNamespace], r: MountRef) -> Error {
    let m = &namespaces[r.ns].mounts[r.index];
    Error::new(
        libc::EXDEV,
        format!(
            "mount {} at {} in mount namespace {} (master_id {}, shared_id {}) has unreachable sharing: no mount of peer group {} is in a collected namespace, and neither the mount nor a bind of it with the same master is a mnt[] external or the root mount; mark it external with --external mnt[PATH]:KEY (here mnt[{}]:KEY). CRIU 4.2 refuses it too, hinting \"Try --enable-external-masters\", an option only its external-mount autodetection reads",
            m.mnt_id,
            show(&m.mountpoint()),
            namespaces[r.ns].ns_id,
            m.master_id,
            m.shared_id,
            m.master_id,
            String::from_utf8_lossy(&m.mountpoint())
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_and_subvol_stripping() {
        let all = |p: &'static [u8]| self_and_ancestors(p).collect::<Vec<_>>();
        assert_eq!(all(b"/a/b"), vec![&b"/a/b"[..], b"/a", b"/"]);
        assert_eq!(all(b"/"), vec![&b"/"[..]]);
        assert_eq!(all(b"/ab"), vec![&b"/ab"[..], b"/"]);
        assert_eq!(all(b"rel/x"), vec![&b"rel/x"[..], b"rel", b"/"]);
        assert_eq!(without_subvol(b"ssd,subvol=/x,space_cache").as_deref(), Some(&b"ssd,,space_cache"[..]));
        assert_eq!(without_subvol(b"ssd,subvol=/x").as_deref(), Some(&b"ssd,"[..]));
        assert_eq!(without_subvol(b"ssd"), None);
    }
}
