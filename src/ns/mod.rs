//! The namespace table of a process tree: one entry per distinct
//! namespace, as CRIU's `collect_namespaces()` builds its `ns_ids` list.

pub mod enter;

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
    /// In the order CRIU's `dump_task_ns_ids()` asks for them, which is the
    /// order ids are handed out, so our ids match CRIU's image names.
    pub const ALL: [NsKind; 8] = [
        NsKind::Pid,
        NsKind::Net,
        NsKind::Ipc,
        NsKind::Uts,
        NsKind::Mnt,
        NsKind::User,
        NsKind::Cgroup,
        NsKind::Time,
    ];

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
    let path = proc.path(&format!("{rel}/ns/{}", kind.name()));
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

/// Whether a task has exited (or is exiting) by now.
fn task_is_gone(proc: &ProcRoot, pid: i32) -> bool {
    !matches!(crate::pstree::task_state(proc, pid), Ok(TaskState::Alive))
}

impl NsTable {
    /// Builds the table: the caller's own namespaces first (as CRIU does in
    /// `prepare_inventory`), then each task's in tree order.
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
                    Err(e) if matches!(e.errno(), libc::EACCES | libc::EPERM) && task_is_gone(proc, task.pid) => break,
                    Err(e) => return Err(e.context(format!("pid {}", task.pid))),
                }
            }
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
                        }
                        table.insert(kind, kid, task.pid, ns_type)
                    }
                };
                ids.insert(kind, table.entries[idx].id);
            }
            table.tasks.push(TaskNamespaces { pid: task.pid, ids });
        }
        Ok(table)
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

    /// The namespaces of one kind to collect, with CRIU's
    /// `walk_namespaces()` rule: the caller's own namespace is visited only
    /// when the root's namespace of that kind is not a different one, and
    /// then it is the only one visited.
    pub fn walk(&self, kind: NsKind) -> Vec<&NsEntry> {
        let mut out = Vec::new();
        for ns in self.entries.iter().filter(|e| e.kind == kind) {
            if ns.ns_type == NsType::Own {
                if self.root_differs(kind) {
                    continue;
                }
                out.push(ns);
                break;
            }
            out.push(ns);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fake_ns, fake_task, temp_dir};
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
        assert_eq!(walked, vec![6, 9], "own net ns skipped: the root's differs");
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
        assert_eq!(walked, vec![(1, NsType::Own)], "CRIU stops after its own namespace");
        assert_eq!(t.len(), 2);
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
