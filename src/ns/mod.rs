//! The namespace table of a process tree: one entry per distinct
//! namespace, as CRIU's `collect_namespaces()` builds its `ns_ids` list.

pub mod enter;
pub mod pidns;

use std::collections::HashMap;
use std::io;

use crate::error::{Error, Result};
use crate::log::Logger;
use crate::pstree::{ProcRoot, ProcessTree, TaskState};

/// A namespace kind. The numeric value is the kind's `CLONE_NEW*` flag,
/// which C callers already know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum NsKind {
    Pid = libc::CLONE_NEWPID as u32,
    Net = libc::CLONE_NEWNET as u32,
    Ipc = libc::CLONE_NEWIPC as u32,
    Uts = libc::CLONE_NEWUTS as u32,
    Mnt = libc::CLONE_NEWNS as u32,
    User = libc::CLONE_NEWUSER as u32,
    Cgroup = libc::CLONE_NEWCGROUP as u32,
    Time = 0x80, // CLONE_NEWTIME
}

impl NsKind {
    /// In the order CRIU 4.2's `dump_task_ns_ids()` asks for them (time
    /// before mnt), which is the order ids are handed out, so our ids match
    /// CRIU's image names.
    pub const ALL: [NsKind; 8] = [
        NsKind::Pid,
        NsKind::Net,
        NsKind::Ipc,
        NsKind::Uts,
        NsKind::Time,
        NsKind::Mnt,
        NsKind::User,
        NsKind::Cgroup,
    ];

    /// Kinds of which a task of the tree may have a namespace of its own
    /// below the root's (CRIU's `CLONE_SUBNS`); any other kind is refused
    /// as nested.
    pub fn may_nest(self) -> bool {
        matches!(self, NsKind::Mnt | NsKind::Net)
    }

    /// The name of the link in `/proc/PID/ns/`, also the prefix of its target.
    pub fn name(self) -> &'static str {
        self.c_name().to_str().expect("kind names are ASCII")
    }

    /// The same name NUL-terminated, for C callers.
    pub fn c_name(self) -> &'static std::ffi::CStr {
        match self {
            NsKind::Pid => c"pid",
            NsKind::Net => c"net",
            NsKind::Ipc => c"ipc",
            NsKind::Uts => c"uts",
            NsKind::Mnt => c"mnt",
            NsKind::User => c"user",
            NsKind::Cgroup => c"cgroup",
            NsKind::Time => c"time",
        }
    }

    pub fn clone_flag(self) -> u32 {
        self as u32
    }

    pub fn from_clone_flag(flag: u32) -> Option<NsKind> {
        NsKind::ALL.into_iter().find(|k| k.clone_flag() == flag)
    }
}

/// Whose namespace it is, as CRIU's `enum ns_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum NsType {
    /// The caller's own namespace (CRIU's NS_CRIU).
    Own = 1,
    /// The tree root's, when it differs from the caller's (NS_ROOT).
    Root = 2,
    /// Any other namespace of a task of the tree (NS_OTHER).
    Other = 3,
}

impl NsType {
    pub fn name(self) -> &'static str {
        self.c_name().to_str().expect("type names are ASCII")
    }

    /// The same name NUL-terminated, for C callers.
    pub fn c_name(self) -> &'static std::ffi::CStr {
        match self {
            NsType::Own => c"own",
            NsType::Root => c"root",
            NsType::Other => c"other",
        }
    }

    pub fn from_u32(v: u32) -> Option<NsType> {
        [NsType::Own, NsType::Root, NsType::Other].into_iter().find(|t| *t as u32 == v)
    }
}

/// One distinct namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsEntry {
    /// Small sequential id, from 1, the N of CRIU's image names.
    pub id: u32,
    pub kind: NsKind,
    /// The kernel's id: the inode of `/proc/PID/ns/KIND`.
    pub kid: u64,
    /// A task through which the namespace is reached (the first seen in it;
    /// the caller's pid for its own).
    pub pid: i32,
    pub ns_type: NsType,
}

/// The namespace ids of one task, by kind (`None`: zombie or kind absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskNamespaces {
    pub pid: i32,
    pub ids: HashMap<NsKind, u32>,
}

/// All namespaces of a tree plus the caller's own.
#[derive(Debug, Clone, Default)]
pub struct NsTable {
    entries: Vec<NsEntry>,
    by_kid: HashMap<(NsKind, u64), usize>,
    /// Kinds for which the root's namespace differs from the caller's
    /// (CRIU's `root_ns_mask`).
    root_mask: u32,
    tasks: Vec<TaskNamespaces>,
    refusals: Vec<NsRefusal>,
}

/// Parses a link target such as `net:[4026531840]`.
pub fn parse_ns_link(kind: NsKind, target: &[u8]) -> Option<u64> {
    let rest = target.strip_prefix(kind.name().as_bytes())?.strip_prefix(b":[")?;
    let digits = rest.strip_suffix(b"]")?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Reads the kernel id of one namespace link; `Ok(None)` if the link is
/// missing (kernel without that kind, or the task is gone).
pub fn read_ns_kid(proc: &ProcRoot, rel: &str, kind: NsKind) -> Result<Option<u64>> {
    read_link_kid(proc, rel, kind.name(), kind)
}

/// The kernel id behind `/proc/<rel>/ns/<link>`, a link whose target is a
/// namespace of `kind` (`time_for_children` points at a time namespace).
fn read_link_kid(proc: &ProcRoot, rel: &str, link: &str, kind: NsKind) -> Result<Option<u64>> {
    let path = proc.path(&format!("{rel}/ns/{link}"));
    match std::fs::read_link(&path) {
        Ok(target) => {
            use std::os::unix::ffi::OsStrExt;
            let bytes = target.as_os_str().as_bytes();
            parse_ns_link(kind, bytes).map(Some).ok_or_else(|| {
                Error::malformed(format!("{}: unexpected link target {:?}", path.display(), String::from_utf8_lossy(bytes)))
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH) => Ok(None),
        Err(e) => Err(Error::io(&e, format!("cannot inspect namespaces: readlink {}", path.display()))),
    }
}

/// The link naming the time namespace a task's next children are born in.
const TIME_FOR_CHILDREN: &str = "time_for_children";

/// A layout of namespaces CRIU 4.2 refuses to dump (`generate_ns_id` and
/// `dump_task_ns_ids` in criu/namespaces.c). Collection for inspection
/// keeps them in the table; collection for a dump fails on the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NsRefusal {
    /// A task below the root lives in a namespace of a kind that may not
    /// nest (all but mnt and net) that neither the root nor the caller
    /// lives in.
    Nested { pid: i32, kind: NsKind, kid: u64 },
    /// A task whose `time_for_children` is not its own time namespace:
    /// its next children would be born in a nested one. `seen` tells
    /// whether that namespace was met before (CRIU then fails comparing
    /// ids in `dump_task_ns_ids`, else already in `generate_ns_id`).
    NestedTimeForChildren { pid: i32, time: u64, for_children: u64, seen: bool },
}

impl NsRefusal {
    pub fn pid(&self) -> i32 {
        match *self {
            NsRefusal::Nested { pid, .. } | NsRefusal::NestedTimeForChildren { pid, .. } => pid,
        }
    }

    pub fn kind(&self) -> NsKind {
        match *self {
            NsRefusal::Nested { kind, .. } => kind,
            NsRefusal::NestedTimeForChildren { .. } => NsKind::Time,
        }
    }

    /// CRIU 4.2's own words for it, as its dump.log prints them (the
    /// name of the namespace link CRIU was looking at).
    pub fn criu_message(&self) -> String {
        let link = match *self {
            NsRefusal::NestedTimeForChildren { seen: false, .. } => "time_for_children",
            _ => self.kind().name(),
        };
        format!("Can't dump nested {link} namespace for {}", self.pid())
    }

    /// The error a dump of this tree fails with.
    pub fn to_error(&self) -> Error {
        let detail = match *self {
            NsRefusal::Nested { kid, .. } => format!("{}:[{kid}] is neither the root's nor the caller's", self.kind().name()),
            NsRefusal::NestedTimeForChildren { time, for_children, .. } => {
                format!("its time_for_children time:[{for_children}] is not its time namespace time:[{time}]")
            }
        };
        Error::new(libc::EOPNOTSUPP, format!("{} ({detail}; CRIU nests only mnt and net namespaces)", self.criu_message()))
    }
}

impl NsTable {
    /// Builds the table as CRIU's `prepare_inventory` and
    /// `collect_pstree_ids` do: the caller's own namespaces first, then
    /// each task's in tree order, each task's kinds in CRIU's order. Ids
    /// CRIU would refuse (nested namespaces) are still handed out, after
    /// the refusal is recorded in `refusals`.
    pub fn build(proc: &ProcRoot, tree: &ProcessTree, log: &Logger) -> Result<NsTable> {
        let mut table = NsTable::default();
        let own_pid = std::process::id() as i32;
        let mut supported = Vec::new();
        for kind in NsKind::ALL {
            match read_ns_kid(proc, "thread-self", kind)? {
                Some(kid) => {
                    table.insert(kind, kid, own_pid, NsType::Own);
                    supported.push(kind);
                }
                None => log.debug("ns", format_args!("this kernel has no {} namespaces", kind.name())),
            }
        }
        if supported.contains(&NsKind::Time) {
            let for_children = read_link_kid(proc, "thread-self", TIME_FOR_CHILDREN, NsKind::Time)?;
            let time = table.entries.iter().find(|e| e.kind == NsKind::Time).map(|e| e.kid);
            if let (Some(time), Some(for_children)) = (time, for_children) {
                table.check_time_for_children(log, own_pid, time, for_children);
            }
        }
        let root_pid = tree.root().pid;
        for task in &tree.tasks {
            if task.state == TaskState::Zombie {
                // A zombie has no namespaces left; CRIU restores it in its parent's.
                table.tasks.push(TaskNamespaces { pid: task.pid, ids: HashMap::new() });
                continue;
            }
            // Read every link first so a task that exits half-way adds nothing.
            let rel = task.pid.to_string();
            let mut kids = Vec::with_capacity(supported.len());
            for &kind in &supported {
                match read_ns_kid(proc, &rel, kind) {
                    Ok(Some(kid)) => kids.push((kind, kid)),
                    Ok(None) => break,
                    // An exiting task's links answer EACCES before they vanish.
                    Err(e) if matches!(e.errno(), libc::EACCES | libc::EPERM) && crate::pstree::task_gone(proc, task.pid) => break,
                    Err(e) => return Err(e.context(format!("pid {}", task.pid))),
                }
            }
            let for_children = if kids.len() == supported.len() && supported.contains(&NsKind::Time) {
                match read_link_kid(proc, &rel, TIME_FOR_CHILDREN, NsKind::Time) {
                    Ok(Some(kid)) => Some(kid),
                    Ok(None) => {
                        kids.pop();
                        None
                    }
                    Err(e) if matches!(e.errno(), libc::EACCES | libc::EPERM) && crate::pstree::task_gone(proc, task.pid) => {
                        kids.pop();
                        None
                    }
                    Err(e) => return Err(e.context(format!("pid {}", task.pid))),
                }
            } else {
                None
            };
            if kids.len() < supported.len() {
                if task.pid == root_pid {
                    return Err(Error::new(libc::ESRCH, format!("pid {} exited while its namespaces were read", task.pid)));
                }
                log.info("ns", format_args!("task {} exited while its namespaces were read; left out", task.pid));
                continue;
            }
            let mut ids = HashMap::new();
            for (kind, kid) in kids {
                let idx = match table.by_kid.get(&(kind, kid)) {
                    Some(&idx) => idx,
                    None => {
                        let ns_type = if task.pid == root_pid { NsType::Root } else { NsType::Other };
                        if ns_type == NsType::Root {
                            table.root_mask |= kind.clone_flag();
                        } else if !kind.may_nest() {
                            table.refuse(log, NsRefusal::Nested { pid: task.pid, kind, kid });
                        }
                        table.insert(kind, kid, task.pid, ns_type)
                    }
                };
                ids.insert(kind, table.entries[idx].id);
                // CRIU looks at time_for_children right after time.
                if let (NsKind::Time, Some(for_children)) = (kind, for_children) {
                    table.check_time_for_children(log, task.pid, kid, for_children);
                }
            }
            table.tasks.push(TaskNamespaces { pid: task.pid, ids });
        }
        Ok(table)
    }

    /// CRIU's check after a task's time namespace: its children's must be
    /// the same one.
    fn check_time_for_children(&mut self, log: &Logger, pid: i32, time: u64, for_children: u64) {
        if time != for_children {
            let seen = self.by_kid.contains_key(&(NsKind::Time, for_children));
            self.refuse(log, NsRefusal::NestedTimeForChildren { pid, time, for_children, seen });
        }
    }

    fn refuse(&mut self, log: &Logger, refusal: NsRefusal) {
        log.warn("ns", format_args!("{}", refusal.criu_message()));
        self.refusals.push(refusal);
    }

    /// What CRIU 4.2 would refuse in this tree's namespaces, in the order
    /// it would meet them. Empty for a tree CRIU dumps.
    pub fn refusals(&self) -> &[NsRefusal] {
        &self.refusals
    }

    fn insert(&mut self, kind: NsKind, kid: u64, pid: i32, ns_type: NsType) -> usize {
        let idx = self.entries.len();
        self.entries.push(NsEntry { id: idx as u32 + 1, kind, kid, pid, ns_type });
        self.by_kid.insert((kind, kid), idx);
        idx
    }

    pub fn entries(&self) -> &[NsEntry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, index: usize) -> Option<&NsEntry> {
        self.entries.get(index)
    }

    /// By kind and kernel id (CRIU's `lookup_ns_by_kid`).
    pub fn find(&self, kind: NsKind, kid: u64) -> Option<&NsEntry> {
        self.by_kid.get(&(kind, kid)).map(|&i| &self.entries[i])
    }

    /// By the small id (CRIU's `lookup_ns_by_id`).
    pub fn by_id(&self, id: u32) -> Option<&NsEntry> {
        id.checked_sub(1).and_then(|i| self.entries.get(i as usize))
    }

    /// Whether the tree root lives in a namespace of `kind` other than
    /// the caller's.
    pub fn root_differs(&self, kind: NsKind) -> bool {
        self.root_mask & kind.clone_flag() != 0
    }

    /// The namespace of `kind` the tree root lives in.
    pub fn root_ns(&self, kind: NsKind) -> Option<&NsEntry> {
        let root = self.tasks.first()?;
        root.ids.get(&kind).and_then(|&id| self.by_id(id))
    }

    pub fn tasks(&self) -> &[TaskNamespaces] {
        &self.tasks
    }

    /// The namespaces of one kind to collect, in CRIU 4.2's
    /// `walk_namespaces()` order: CRIU prepends each new namespace to its
    /// list, so the tree's namespaces come newest first, and the caller's
    /// own (the oldest) last — visited only when the root's namespace of
    /// that kind is the caller's.
    pub fn walk(&self, kind: NsKind) -> Vec<&NsEntry> {
        let mut out: Vec<&NsEntry> =
            self.entries.iter().rev().filter(|e| e.kind == kind && e.ns_type != NsType::Own).collect();
        if !self.root_differs(kind) {
            out.extend(self.entries.iter().find(|e| e.kind == kind && e.ns_type == NsType::Own));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fake_ns, fake_task, temp_dir};
    use std::os::unix::fs::symlink;
    use crate::pstree::{collect_tree, ProcRoot};

    #[test]
    fn parses_link_targets_strictly() {
        assert_eq!(parse_ns_link(NsKind::Net, b"net:[4026531840]"), Some(4026531840));
        assert_eq!(parse_ns_link(NsKind::Net, b"mnt:[4026531840]"), None);
        assert_eq!(parse_ns_link(NsKind::Net, b"net:[]"), None);
        assert_eq!(parse_ns_link(NsKind::Net, b"net:[12a]"), None);
        assert_eq!(parse_ns_link(NsKind::Net, b"net:[99999999999999999999999]"), None);
    }

    #[test]
    fn table_orders_ids_like_criu_and_types_entries() {
        let d = temp_dir("nstable");
        let own = [(NsKind::Pid, 1), (NsKind::Net, 2), (NsKind::Mnt, 5), (NsKind::User, 6)];
        fake_ns(&d, "thread-self", &own);
        fake_task(&d, 100, 'S', &[101, 102]);
        fake_task(&d, 101, 'S', &[]);
        fake_task(&d, 102, 'Z', &[]);
        // The root has its own pid, net, mnt and user namespaces.
        fake_ns(&d, "100", &[(NsKind::Pid, 11), (NsKind::Net, 12), (NsKind::Mnt, 15), (NsKind::User, 16)]);
        // The child shares the root's, except for a net namespace of its own.
        fake_ns(&d, "101", &[(NsKind::Pid, 11), (NsKind::Net, 22), (NsKind::Mnt, 15), (NsKind::User, 16)]);
        let proc = ProcRoot::new(&d);
        let log = Logger::default();
        let tree = collect_tree(&proc, 100, &log).unwrap();
        let t = NsTable::build(&proc, &tree, &log).unwrap();
        let got: Vec<(u32, NsKind, u64, i32, NsType)> =
            t.entries().iter().map(|e| (e.id, e.kind, e.kid, e.pid, e.ns_type)).collect();
        let me = std::process::id() as i32;
        assert_eq!(
            got,
            vec![
                (1, NsKind::Pid, 1, me, NsType::Own),
                (2, NsKind::Net, 2, me, NsType::Own),
                (3, NsKind::Mnt, 5, me, NsType::Own),
                (4, NsKind::User, 6, me, NsType::Own),
                (5, NsKind::Pid, 11, 100, NsType::Root),
                (6, NsKind::Net, 12, 100, NsType::Root),
                (7, NsKind::Mnt, 15, 100, NsType::Root),
                (8, NsKind::User, 16, 100, NsType::Root),
                (9, NsKind::Net, 22, 101, NsType::Other),
            ]
        );
        assert_eq!(t.find(NsKind::Net, 22).unwrap().id, 9);
        assert_eq!(t.by_id(7).unwrap().kid, 15);
        assert!(t.by_id(0).is_none());
        assert_eq!(t.root_ns(NsKind::Mnt).unwrap().id, 7);
        let walked: Vec<u32> = t.walk(NsKind::Net).iter().map(|e| e.id).collect();
        assert_eq!(walked, vec![9, 6], "newest first, own net ns skipped: the root's differs");
        assert!(t.refusals().is_empty(), "a child may have a net namespace of its own");
        assert!(t.tasks()[2].ids.is_empty(), "zombie has no namespaces");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn walk_visits_only_own_when_root_shares_it() {
        let d = temp_dir("nswalk");
        fake_ns(&d, "thread-self", &[(NsKind::Net, 2)]);
        fake_task(&d, 200, 'S', &[201]);
        fake_task(&d, 201, 'S', &[]);
        fake_ns(&d, "200", &[(NsKind::Net, 2)]);
        fake_ns(&d, "201", &[(NsKind::Net, 30)]);
        let proc = ProcRoot::new(&d);
        let log = Logger::default();
        let tree = collect_tree(&proc, 200, &log).unwrap();
        let t = NsTable::build(&proc, &tree, &log).unwrap();
        let walked: Vec<(u32, NsType)> = t.walk(NsKind::Net).iter().map(|e| (e.id, e.ns_type)).collect();
        assert_eq!(
            walked,
            vec![(2, NsType::Other), (1, NsType::Own)],
            "CRIU's list is built by prepending: the child's namespace comes before its own"
        );
        assert_eq!(t.len(), 2);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn time_comes_before_mnt_as_in_criu_4_2() {
        let d = temp_dir("nstime");
        let all = |base: u64| -> Vec<(NsKind, u64)> { NsKind::ALL.iter().enumerate().map(|(i, &k)| (k, base + i as u64)).collect() };
        fake_ns(&d, "thread-self", &all(100));
        symlink("time:[104]", d.join("thread-self/ns/time_for_children")).unwrap();
        fake_task(&d, 400, 'S', &[]);
        // The root: new pid, net, ipc, uts, time and mnt namespaces; the
        // caller's user and cgroup namespaces (the ns-sockets fixture).
        let mut root = all(200);
        root[6].1 = 106;
        root[7].1 = 107;
        fake_ns(&d, "400", &root);
        symlink("time:[204]", d.join("400/ns/time_for_children")).unwrap();
        let proc = ProcRoot::new(&d);
        let log = Logger::default();
        let tree = collect_tree(&proc, 400, &log).unwrap();
        let t = NsTable::build(&proc, &tree, &log).unwrap();
        let ids: Vec<(u32, &str)> = t.entries().iter().map(|e| (e.id, e.kind.name())).collect();
        assert_eq!(
            ids,
            vec![
                (1, "pid"), (2, "net"), (3, "ipc"), (4, "uts"), (5, "time"), (6, "mnt"), (7, "user"), (8, "cgroup"),
                (9, "pid"), (10, "net"), (11, "ipc"), (12, "uts"), (13, "time"), (14, "mnt"),
            ],
            "the ids of ../ns-sockets/ids-1.json: mnt 14, time 13"
        );
        let task = &t.tasks()[0];
        assert_eq!((task.ids[&NsKind::Mnt], task.ids[&NsKind::Time], task.ids[&NsKind::User]), (14, 13, 7));
        assert!(t.refusals().is_empty());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn nested_namespaces_other_than_mnt_and_net_are_refusals() {
        let d = temp_dir("nsnested");
        fake_ns(&d, "thread-self", &[(NsKind::Pid, 1), (NsKind::Uts, 4), (NsKind::Time, 5), (NsKind::Mnt, 6)]);
        symlink("time:[5]", d.join("thread-self/ns/time_for_children")).unwrap();
        fake_task(&d, 500, 'S', &[501, 502]);
        fake_task(&d, 501, 'S', &[]);
        fake_task(&d, 502, 'S', &[]);
        fake_ns(&d, "500", &[(NsKind::Pid, 11), (NsKind::Uts, 14), (NsKind::Time, 5), (NsKind::Mnt, 16)]);
        symlink("time:[5]", d.join("500/ns/time_for_children")).unwrap();
        // 501: its own uts and mnt namespaces, and its children's time
        // namespace is a new one.
        fake_ns(&d, "501", &[(NsKind::Pid, 11), (NsKind::Uts, 24), (NsKind::Time, 5), (NsKind::Mnt, 26)]);
        symlink("time:[25]", d.join("501/ns/time_for_children")).unwrap();
        // 502: back in the caller's uts namespace, which CRIU knows.
        fake_ns(&d, "502", &[(NsKind::Pid, 11), (NsKind::Uts, 4), (NsKind::Time, 5), (NsKind::Mnt, 16)]);
        symlink("time:[5]", d.join("502/ns/time_for_children")).unwrap();
        let proc = ProcRoot::new(&d);
        let log = Logger::default();
        let tree = collect_tree(&proc, 500, &log).unwrap();
        let t = NsTable::build(&proc, &tree, &log).unwrap();
        assert_eq!(
            t.refusals(),
            &[
                NsRefusal::Nested { pid: 501, kind: NsKind::Uts, kid: 24 },
                NsRefusal::NestedTimeForChildren { pid: 501, time: 5, for_children: 25, seen: false },
            ]
        );
        assert_eq!(t.refusals()[0].criu_message(), "Can't dump nested uts namespace for 501");
        // As CRIU 4.2 prints it (tests/fixtures/criu-4.2/nested-time/for-children).
        assert_eq!(t.refusals()[1].criu_message(), "Can't dump nested time_for_children namespace for 501");
        let seen = NsRefusal::NestedTimeForChildren { pid: 7, time: 5, for_children: 6, seen: true };
        assert_eq!(seen.criu_message(), "Can't dump nested time namespace for 7");
        assert_eq!(t.refusals()[0].to_error().errno(), libc::EOPNOTSUPP);
        assert!(t.find(NsKind::Mnt, 26).is_some(), "a nested mnt namespace is fine");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn root_losing_links_mid_walk_is_an_error_and_a_child_is_left_out() {
        let d = temp_dir("nsgone");
        fake_ns(&d, "thread-self", &[(NsKind::Net, 2)]);
        fake_task(&d, 300, 'S', &[]);
        fake_task(&d, 310, 'S', &[311]);
        fake_task(&d, 311, 'S', &[]);
        fake_ns(&d, "310", &[(NsKind::Net, 40)]);
        let proc = ProcRoot::new(&d);
        let log = Logger::default();
        let tree = collect_tree(&proc, 310, &log).unwrap();
        let t = NsTable::build(&proc, &tree, &log).unwrap();
        assert_eq!(t.tasks().iter().map(|t| t.pid).collect::<Vec<_>>(), vec![310]);
        assert_eq!(t.len(), 2);
        let proc = ProcRoot::new(&d);
        let log = Logger::default();
        let tree = collect_tree(&proc, 300, &log).unwrap();
        let e = NsTable::build(&proc, &tree, &log).unwrap_err();
        assert_eq!(e.errno(), libc::ESRCH);
        assert!(e.message().contains("pid 300"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}

#[cfg(test)]
pub(crate) mod live_tests;
#[cfg(test)]
mod fixture_tests;
