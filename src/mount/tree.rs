//! One mount namespace: its mounts in mount order and the tree built from
//! mount ids (CRIU's `mnt_build_ids_tree`), with maps keyed by mount id so
//! every lookup is O(1).

use foldhash::{HashMap, HashMapExt};

use super::mountinfo::MountRecord;
use crate::error::{Error, Result};
use crate::ns::NsType;

/// A mount in any of the collected namespaces: (namespace index in
/// collection order, mount index in that namespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MountRef {
    pub ns: usize,
    pub index: usize,
}

/// The mounts of one namespace.
#[derive(Debug, Clone)]
pub struct MountNamespace {
    /// Small id of the namespace (the N of mountpoints-N.img).
    pub ns_id: u32,
    /// Kernel id (inode of /proc/PID/ns/mnt).
    pub kid: u64,
    /// The task whose mountinfo was read.
    pub pid: i32,
    pub ns_type: NsType,
    pub(crate) mounts: Vec<MountRecord>,
    by_id: IdIndex,
    parent: Vec<Option<usize>>,
    /// Children of each mount in mount (mountinfo) order, flattened: the
    /// children of mount i are child_list[child_start[i]..child_start[i+1]].
    child_start: Vec<usize>,
    child_list: Vec<usize>,
    root: usize,
    /// Master of each mount once sharing is resolved (may be in another
    /// namespace).
    pub(crate) master: Vec<Option<MountRef>>,
    /// Bind group (mounts of the same superblock, CRIU's `mnt_bind`).
    pub(crate) bind_group: Vec<usize>,
    /// How the table was read (mountinfo for records built by hand).
    pub(crate) reader: super::Reader,
}

/// Mount id → index. The kernel hands out ids densely, so a table
/// spanning few more ids than it has mounts is a plain vector (no
/// hashing); a sparse one (ids chosen far apart) is a map.
#[derive(Debug, Clone)]
enum IdIndex {
    Dense { base: u32, slots: Vec<u32> },
    Sparse(HashMap<u32, usize>),
}

impl IdIndex {
    const EMPTY: u32 = u32::MAX;

    fn for_ids(ids: impl Iterator<Item = u32> + Clone) -> IdIndex {
        let n = ids.clone().count();
        let (lo, hi) = ids.fold((u32::MAX, 0), |(lo, hi), id| (lo.min(id), hi.max(id)));
        let span = if n == 0 { 0 } else { (hi - lo) as usize + 1 };
        if span <= 4 * n + 64 {
            IdIndex::Dense { base: lo.min(hi), slots: vec![Self::EMPTY; span] }
        } else {
            IdIndex::Sparse(HashMap::with_capacity(n))
        }
    }

    fn get(&self, id: u32) -> Option<usize> {
        match self {
            IdIndex::Dense { base, slots } => {
                let slot = *slots.get(id.checked_sub(*base)? as usize)?;
                (slot != Self::EMPTY).then_some(slot as usize)
            }
            IdIndex::Sparse(map) => map.get(&id).copied(),
        }
    }

    /// Records `id` at `index`; the caller has checked it is new.
    fn insert(&mut self, id: u32, index: usize) {
        match self {
            IdIndex::Dense { base, slots } => {
                if let Some(slot) = id.checked_sub(*base).and_then(|at| slots.get_mut(at as usize)) {
                    // Tables are far below 4G mounts (the kernel's limit
                    // is 100,000 a namespace by default).
                    *slot = u32::try_from(index).unwrap_or(Self::EMPTY);
                }
            }
            IdIndex::Sparse(map) => {
                map.insert(id, index);
            }
        }
    }
}

pub(crate) fn show(path: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(path))
}

impl MountNamespace {
    /// Builds the tree. Refuses, naming the mount, what CRIU refuses: a
    /// mount whose parent is missing, a namespace without a root ("/"
    /// without a parent); and also a duplicate mount id or a parent cycle,
    /// which would make the tree unwalkable.
    pub fn build(ns_id: u32, kid: u64, pid: i32, ns_type: NsType, mounts: Vec<MountRecord>) -> Result<MountNamespace> {
        let n = mounts.len();
        let mut by_id = IdIndex::for_ids(mounts.iter().map(|m| m.mnt_id));
        for (i, m) in mounts.iter().enumerate() {
            if let Some(first) = by_id.get(m.mnt_id) {
                let first: &MountRecord = &mounts[first];
                return Err(Error::malformed(format!(
                    "mount id {} appears twice (lines {} and {})",
                    m.mnt_id, first.line, m.line
                )));
            }
            by_id.insert(m.mnt_id, i);
        }
        let mut parent = vec![None; n];
        let mut root = None;
        // CRIU walks its list, which is mountinfo reversed: the first
        // parentless "/" in that order is the root.
        for i in (0..n).rev() {
            let m = &mounts[i];
            let p = if m.mnt_id != m.parent_mnt_id { by_id.get(m.parent_mnt_id) } else { None };
            match p {
                Some(p) => parent[i] = Some(p),
                None if root.is_none() && m.is_ns_root() => root = Some(i),
                None => {
                    return Err(Error::malformed(format!(
                        "mount {} at {} (line {}) has no parent: mount {} is not in the namespace",
                        m.mnt_id,
                        show(&m.mountpoint()),
                        m.line,
                        m.parent_mnt_id
                    )))
                }
            }
        }
        let root = root.ok_or_else(|| {
            Error::malformed(format!("no root mount: none of the {n} mounts is a \"/\" without a parent"))
        })?;
        // Counting sort by parent keeps each child list in mount order.
        let mut child_start = vec![0usize; n + 1];
        for p in parent.iter().flatten() {
            child_start[p + 1] += 1;
        }
        for i in 0..n {
            child_start[i + 1] += child_start[i];
        }
        let mut fill = child_start.clone();
        let mut child_list = vec![0usize; parent.iter().flatten().count()];
        for (i, p) in parent.iter().enumerate() {
            if let Some(p) = p {
                child_list[fill[*p]] = i;
                fill[*p] += 1;
            }
        }
        let ns = MountNamespace {
            ns_id,
            kid,
            pid,
            ns_type,
            mounts,
            by_id,
            parent,
            child_start,
            child_list,
            root,
            master: vec![None; n],
            bind_group: vec![usize::MAX; n],
            reader: super::Reader::Mountinfo,
        };
        ns.check_reachable()?;
        Ok(ns)
    }

    /// Every mount must hang below the root; one that does not sits on a
    /// parent cycle.
    fn check_reachable(&self) -> Result<()> {
        let mut seen = vec![false; self.mounts.len()];
        let mut stack = vec![self.root];
        seen[self.root] = true;
        let mut count = 1;
        while let Some(i) = stack.pop() {
            for &c in self.children(i) {
                if !seen[c] {
                    seen[c] = true;
                    count += 1;
                    stack.push(c);
                }
            }
        }
        if count == self.mounts.len() {
            return Ok(());
        }
        let i = seen.iter().position(|s| !s).unwrap_or(0);
        let m = &self.mounts[i];
        Err(Error::malformed(format!(
            "mount {} at {} (line {}) is not reachable from the root mount {}: its parent chain ({} -> ...) loops",
            m.mnt_id,
            show(&m.mountpoint()),
            m.line,
            self.mounts[self.root].mnt_id,
            m.parent_mnt_id
        )))
    }

    /// The reader the table was read with: [`super::Reader::Mountinfo`]
    /// or [`super::Reader::Statmount`].
    pub fn reader(&self) -> super::Reader {
        self.reader
    }

    /// Mounts in mount order (mountinfo order).
    pub fn mounts(&self) -> &[MountRecord] {
        &self.mounts
    }

    pub fn len(&self) -> usize {
        self.mounts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.mounts.is_empty()
    }

    pub fn get(&self, index: usize) -> Option<&MountRecord> {
        self.mounts.get(index)
    }

    /// Index of the namespace's root mount.
    pub fn root_index(&self) -> usize {
        self.root
    }

    pub fn root(&self) -> &MountRecord {
        &self.mounts[self.root]
    }

    /// Index of the parent mount; `None` for the root.
    pub fn parent_index(&self, index: usize) -> Option<usize> {
        self.parent.get(index).copied().flatten()
    }

    /// Indices of the children, in mount order.
    pub fn children(&self, index: usize) -> &[usize] {
        match (self.child_start.get(index), self.child_start.get(index + 1)) {
            (Some(&a), Some(&b)) => &self.child_list[a..b],
            _ => &[],
        }
    }

    /// Index of the mount with kernel mount id `mnt_id`.
    pub fn index_of(&self, mnt_id: u32) -> Option<usize> {
        self.by_id.get(mnt_id)
    }

    pub fn by_mnt_id(&self, mnt_id: u32) -> Option<&MountRecord> {
        self.index_of(mnt_id).map(|i| &self.mounts[i])
    }

    /// The master mount of `index` (a mount of the peer group it receives
    /// from), once sharing is resolved.
    pub fn master_of(&self, index: usize) -> Option<MountRef> {
        self.master.get(index).copied().flatten()
    }

    /// Mounts in the order CRIU writes them to mountpoints-N.img (its
    /// list is built by prepending each mountinfo line).
    pub fn image_order(&self) -> impl Iterator<Item = &MountRecord> {
        self.mounts.iter().rev()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mount::mountinfo::Text;

    fn rec(line: usize, id: u32, parent: u32, mp: &str) -> MountRecord {
        MountRecord { line, mnt_id: id, parent_mnt_id: parent, ..Default::default() }.with(Text::Mountpoint, mp.as_bytes()).with(Text::Root, b"/")
    }

    fn build(recs: Vec<MountRecord>) -> Result<MountNamespace> {
        MountNamespace::build(3, 4026531840, 1, NsType::Root, recs)
    }

    #[test]
    fn tree_links_parents_and_children_in_mount_order() {
        let ns = build(vec![rec(1, 10, 1, "/"), rec(2, 11, 10, "/a"), rec(3, 12, 11, "/a/b"), rec(4, 13, 10, "/c"), rec(5, 14, 14, "/d")])
            .map(|_| ())
            .unwrap_err();
        assert!(ns.message().contains("mount 14"), "a self-parented non-root is refused: {ns}");
        let ns = build(vec![rec(1, 10, 1, "/"), rec(2, 11, 10, "/a"), rec(3, 12, 11, "/a/b"), rec(4, 13, 10, "/c")]).unwrap();
        assert_eq!(ns.root().mnt_id, 10);
        assert_eq!(ns.children(0), &[1, 3]);
        assert_eq!(ns.children(1), &[2]);
        assert_eq!(ns.parent_index(2), Some(1));
        assert_eq!(ns.parent_index(0), None);
        assert_eq!(ns.index_of(13), Some(3));
        assert_eq!(ns.image_order().map(|m| m.mnt_id).collect::<Vec<_>>(), vec![13, 12, 11, 10]);
        assert!(ns.children(99).is_empty());
    }

    #[test]
    fn dense_and_sparse_ids_index_alike() {
        for ids in [vec![10u32, 11, 12, 14], vec![5, 1_000_000, 3, 4_000_000_000], vec![]] {
            let mut index = IdIndex::for_ids(ids.iter().copied());
            for (i, &id) in ids.iter().enumerate() {
                assert_eq!(index.get(id), None);
                index.insert(id, i);
            }
            for (i, &id) in ids.iter().enumerate() {
                assert_eq!(index.get(id), Some(i));
            }
            for absent in [0, 13, 15, 999_999, u32::MAX] {
                assert_eq!(index.get(absent), None, "{ids:?} {absent}");
            }
        }
        assert!(matches!(IdIndex::for_ids([10u32, 11, 12].into_iter()), IdIndex::Dense { .. }));
        assert!(matches!(IdIndex::for_ids([1u32, 1 << 30].into_iter()), IdIndex::Sparse(_)));
    }

    #[test]
    fn missing_parent_no_root_duplicates_and_cycles_are_refused() {
        let e = build(vec![rec(1, 10, 1, "/"), rec(2, 11, 99, "/a")]).unwrap_err();
        assert!(e.message().contains("mount 11 at \"/a\" (line 2) has no parent: mount 99"), "{e}");
        let e = build(vec![rec(1, 10, 1, "/x"), rec(2, 11, 10, "/x/a")]).unwrap_err();
        assert!(e.message().contains("mount 10 at \"/x\""), "{e}");
        let e = build(vec![rec(1, 11, 10, "/a")]).unwrap_err();
        assert!(e.message().contains("no parent"), "{e}");
        let e = build(vec![]).unwrap_err();
        assert!(e.message().contains("no root mount"), "{e}");
        let e = build(vec![rec(1, 10, 1, "/"), rec(2, 10, 1, "/b")]).unwrap_err();
        assert!(e.message().contains("mount id 10 appears twice (lines 1 and 2)"), "{e}");
        let e = build(vec![rec(1, 10, 1, "/"), rec(2, 11, 12, "/a"), rec(3, 12, 11, "/b")]).unwrap_err();
        assert!(e.message().contains("not reachable") && e.message().contains("loops"), "{e}");
        // Two parentless roots: CRIU keeps the last in mountinfo order and
        // refuses the other.
        let e = build(vec![rec(1, 10, 1, "/"), rec(2, 20, 2, "/")]).unwrap_err();
        assert!(e.message().contains("mount 10"), "{e}");
    }
}
