//! `ids-PID.img`: CRIU's `TaskKobjIdsEntry` for each live task — the small
//! ids of its address space, fd table, fs struct and signal handlers
//! (CRIU's `dump_task_kobj_ids`), and of its namespaces (the table's).
//!
//! CRIU hands out the kernel-object ids with one generator per kind,
//! comparing each task's object with kcmp(2) against those seen before;
//! `prepare_inventory` runs it for CRIU's own process first, so the
//! caller takes id 1 of every kind and the tree's tasks start at 2. We do
//! the same, with the caller's process in CRIU's place. kcmp orders the
//! kernel objects, so each lookup is a binary search: n log n calls.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use crate::error::{Error, Result};
use crate::image::pb;
use crate::log::Logger;
use crate::ns::{NsKind, NsTable};
use crate::pstree::{self, ProcRoot, ProcessTree, TaskState};

use super::{Image, ImageBuf};

/// CRIU's IDS_MAGIC.
pub const IDS_MAGIC: u32 = 0x5443_2030;

pub fn image_name(vpid: i32) -> String {
    format!("ids-{vpid}.img")
}

/// The kernel objects kcmp(2) compares, by CRIU's `KCMP_*` number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum KcmpKind {
    Vm = 1,
    Files = 2,
    Fs = 3,
    Sighand = 4,
}

impl KcmpKind {
    /// CRIU's word for it in "Can't make %s id for %d".
    fn criu_word(self) -> &'static str {
        match self {
            KcmpKind::Vm => "VM",
            KcmpKind::Files => "FILES",
            KcmpKind::Fs => "FS",
            // CRIU's message says IO for the sighand id.
            KcmpKind::Sighand => "IO",
        }
    }

    fn criu_name(self) -> &'static str {
        match self {
            KcmpKind::Vm => "VM",
            KcmpKind::Files => "FILES",
            KcmpKind::Fs => "FS",
            KcmpKind::Sighand => "SIGHAND",
        }
    }

    fn what(self) -> &'static str {
        match self {
            KcmpKind::Vm => "address space (CLONE_VM without CLONE_THREAD)",
            KcmpKind::Files => "fd table (CLONE_FILES), and not with its parent",
            KcmpKind::Fs => "fs struct (CLONE_FS)",
            KcmpKind::Sighand => "signal handlers (CLONE_SIGHAND)",
        }
    }
}

/// kcmp(2) and the liveness check behind its ESRCH; fakes in tests.
pub trait Kcmp {
    /// How the `kind` object of `pid1` orders against that of `pid2`:
    /// `Equal` when they share it.
    fn kcmp(&self, pid1: i32, pid2: i32, kind: KcmpKind) -> Result<Ordering>;
    /// Whether `pid` has exited (told apart from a real kcmp failure).
    fn gone(&self, pid: i32) -> bool;
}

/// The real kcmp(2).
#[derive(Debug)]
pub struct SysKcmp<'a> {
    proc: &'a ProcRoot,
}

impl<'a> SysKcmp<'a> {
    pub fn new(proc: &'a ProcRoot) -> Self {
        SysKcmp { proc }
    }
}

impl Kcmp for SysKcmp<'_> {
    fn kcmp(&self, pid1: i32, pid2: i32, kind: KcmpKind) -> Result<Ordering> {
        // SAFETY: kcmp takes two pids, a type and two unused indexes by
        // value; it reads no memory of ours.
        let ret = unsafe { libc::syscall(libc::SYS_kcmp, pid1, pid2, kind as i32, 0u64, 0u64) };
        match ret {
            0 => Ok(Ordering::Equal),
            1 => Ok(Ordering::Less),
            2 => Ok(Ordering::Greater),
            -1 => Err(Error::sys(nix::errno::Errno::last(), format!("kcmp({pid1}, {pid2}, KCMP_{})", kind.criu_name()))),
            other => Err(Error::new(libc::ENOTSUP, format!("kcmp({pid1}, {pid2}) gave no order ({other})"))),
        }
    }

    fn gone(&self, pid: i32) -> bool {
        !matches!(pstree::task_state(self.proc, pid), Ok(TaskState::Alive))
    }
}

/// One task's ids-PID.img.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskIds {
    /// The pid as the caller sees it.
    pub pid: i32,
    /// The pid in the root's pid namespace: the PID of ids-PID.img.
    pub vpid: i32,
    pub vm_id: u32,
    pub files_id: u32,
    pub fs_id: u32,
    pub sighand_id: u32,
    /// Namespace ids by kind; a kind the kernel lacks is absent.
    pub ns: HashMap<NsKind, u32>,
}

impl TaskIds {
    pub fn ns_id(&self, kind: NsKind) -> Option<u32> {
        self.ns.get(&kind).copied()
    }

    pub fn to_entry(&self) -> pb::TaskKobjIdsEntry {
        pb::TaskKobjIdsEntry {
            vm_id: self.vm_id,
            files_id: self.files_id,
            fs_id: self.fs_id,
            sighand_id: self.sighand_id,
            pid_ns_id: self.ns_id(NsKind::Pid),
            net_ns_id: self.ns_id(NsKind::Net),
            ipc_ns_id: self.ns_id(NsKind::Ipc),
            uts_ns_id: self.ns_id(NsKind::Uts),
            mnt_ns_id: self.ns_id(NsKind::Mnt),
            user_ns_id: self.ns_id(NsKind::User),
            cgroup_ns_id: self.ns_id(NsKind::Cgroup),
            time_ns_id: self.ns_id(NsKind::Time),
        }
    }

    pub fn image(&self) -> Image {
        let mut b = ImageBuf::new(IDS_MAGIC);
        b.entry(&self.to_entry());
        Image { name: image_name(self.vpid), bytes: b.finish() }
    }
}

/// Decodes an ids image: exactly one entry.
pub fn decode(bytes: &[u8], what: &str) -> Result<pb::TaskKobjIdsEntry> {
    let mut r = super::ImageReader::new(bytes, IDS_MAGIC, what)?;
    let e = r.entry()?;
    if !r.at_end() {
        return Err(Error::malformed(format!("{what}: more than one entry")));
    }
    Ok(e)
}

/// One of CRIU's `kid_tree`s: the objects seen so far, in kcmp order,
/// each with its id; ids count up from 1 in order of first sight.
struct KidTree {
    kind: KcmpKind,
    sorted: Vec<(i32, u32)>,
    next: u32,
}

/// Why an id could not be made.
enum KidError {
    /// A task exited: the pass starts again without it.
    Gone(i32),
    Fatal(Error),
}

impl KidTree {
    fn new(kind: KcmpKind) -> Self {
        KidTree { kind, sorted: Vec::new(), next: 1 }
    }

    /// CRIU's `kid_generate_gen`: the id of `pid`'s object and whether it
    /// is new.
    fn generate(&mut self, k: &dyn Kcmp, pid: i32) -> std::result::Result<(u32, bool), KidError> {
        let (mut lo, mut hi) = (0, self.sorted.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let (seen, id) = self.sorted[mid];
            match k.kcmp(seen, pid, self.kind) {
                Ok(Ordering::Equal) => return Ok((id, false)),
                Ok(Ordering::Less) => lo = mid + 1,
                Ok(Ordering::Greater) => hi = mid,
                Err(e) if e.errno() == libc::ESRCH => {
                    return Err(KidError::Gone(if k.gone(pid) { pid } else { seen }));
                }
                Err(e) => return Err(KidError::Fatal(e)),
            }
        }
        let id = self.next;
        self.next += 1;
        self.sorted.insert(lo, (pid, id));
        Ok((id, true))
    }
}

/// CRIU's `get_task_ids` for its own process, then for each task of the
/// tree: kernel-object ids by kcmp, namespace ids from the table, the pid
/// in the root's pid namespace. Zombies have none. A task that exits
/// meanwhile is left out (the pass is redone without it); the root
/// exiting is -ESRCH. With `for_dump`, CRIU's refusals: a task sharing
/// its address space, fs struct or signal handlers with another process,
/// or its fd table with any process but its parent; without, a shared
/// object simply gives the same id (for inspection).
pub fn task_ids(
    proc: &ProcRoot,
    tree: &ProcessTree,
    table: &NsTable,
    k: &dyn Kcmp,
    for_dump: bool,
    log: &Logger,
) -> Result<Vec<TaskIds>> {
    let root = tree.root().pid;
    let mut left_out = HashSet::new();
    loop {
        match one_pass(proc, tree, table, k, for_dump, &left_out) {
            Ok(ids) => return Ok(ids),
            Err(KidError::Gone(pid)) if pid == root => {
                return Err(Error::new(libc::ESRCH, format!("pid {pid} exited while its kcmp ids were made")))
            }
            Err(KidError::Gone(pid)) if pid != own_pid() && left_out.insert(pid) => {
                log.info("nsimg", format_args!("task {pid} exited while the kcmp ids were made; left out"));
            }
            Err(KidError::Gone(pid)) => {
                return Err(Error::new(libc::ESRCH, format!("kcmp: pid {pid} exited or cannot be compared")))
            }
            Err(KidError::Fatal(e)) => return Err(e),
        }
    }
}

fn own_pid() -> i32 {
    std::process::id() as i32
}

const KINDS: [KcmpKind; 4] = [KcmpKind::Vm, KcmpKind::Fs, KcmpKind::Files, KcmpKind::Sighand];

fn one_pass(
    proc: &ProcRoot,
    tree: &ProcessTree,
    table: &NsTable,
    k: &dyn Kcmp,
    for_dump: bool,
    left_out: &HashSet<i32>,
) -> std::result::Result<Vec<TaskIds>, KidError> {
    let mut trees = KINDS.map(KidTree::new);
    for t in trees.iter_mut() {
        t.generate(k, own_pid())?;
    }
    let parents: HashMap<i32, Option<i32>> = tree.tasks.iter().map(|t| (t.pid, t.parent)).collect();
    let root_level = ns_level(proc, tree.root().pid).map_err(KidError::Fatal)?;
    let mut files_of: HashMap<i32, u32> = HashMap::new();
    let mut out = Vec::new();
    for task in table.tasks() {
        // Zombies have no namespaces in the table and no ids image.
        if task.ids.is_empty() || left_out.contains(&task.pid) {
            continue;
        }
        let mut got = [0u32; 4];
        for (slot, t) in got.iter_mut().zip(trees.iter_mut()) {
            let (id, new) = t.generate(k, task.pid)?;
            let shared_with_parent = t.kind == KcmpKind::Files
                && parents.get(&task.pid).copied().flatten().and_then(|p| files_of.get(&p)) == Some(&id);
            if for_dump && !new && !shared_with_parent {
                return Err(KidError::Fatal(Error::new(
                    libc::EOPNOTSUPP,
                    format!(
                        "Can't make {} id for {}: it shares its {} with another process",
                        t.kind.criu_word(),
                        task.pid,
                        t.kind.what()
                    ),
                )));
            }
            *slot = id;
        }
        let [vm_id, fs_id, files_id, sighand_id] = got;
        files_of.insert(task.pid, files_id);
        let vpid = match vpid_at(proc, task.pid, root_level) {
            Ok(v) => v,
            Err(e) if e.errno() == libc::ESRCH => return Err(KidError::Gone(task.pid)),
            Err(e) => return Err(KidError::Fatal(e)),
        };
        out.push(TaskIds { pid: task.pid, vpid, vm_id, files_id, fs_id, sighand_id, ns: task.ids.clone() });
    }
    Ok(out)
}

/// How many pid namespaces deep `pid` is, as the caller's procfs sees it.
fn ns_level(proc: &ProcRoot, pid: i32) -> Result<usize> {
    Ok(pstree::ns_pids(proc, pid)?.len())
}

/// The pid of `pid` in the pid namespace `level` deep (1: the caller's).
fn vpid_at(proc: &ProcRoot, pid: i32, level: usize) -> Result<i32> {
    let pids = pstree::ns_pids(proc, pid)?;
    pids.get(level - 1).copied().ok_or_else(|| {
        Error::malformed(format!("pid {pid}: NSpid {pids:?} has no pid at level {level} (the root's pid namespace)"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fake_pid, fake_task, temp_dir};
    use crate::pstree::Task;
    use std::cell::RefCell;

    /// Objects by (pid, kind): equal numbers are one shared object; the
    /// numbers order them, as kcmp orders kernel pointers.
    struct FakeKcmp {
        objects: HashMap<(i32, KcmpKind), u64>,
        calls: RefCell<usize>,
        gone: HashSet<i32>,
    }

    impl FakeKcmp {
        fn new() -> Self {
            FakeKcmp { objects: HashMap::new(), calls: RefCell::new(0), gone: HashSet::new() }
        }
        fn task(&mut self, pid: i32, vm: u64, files: u64, fs: u64, sighand: u64) {
            for (kind, v) in [(KcmpKind::Vm, vm), (KcmpKind::Files, files), (KcmpKind::Fs, fs), (KcmpKind::Sighand, sighand)] {
                self.objects.insert((pid, kind), v);
            }
        }
    }

    impl Kcmp for FakeKcmp {
        fn kcmp(&self, a: i32, b: i32, kind: KcmpKind) -> Result<Ordering> {
            *self.calls.borrow_mut() += 1;
            if self.gone.contains(&a) || self.gone.contains(&b) {
                return Err(Error::new(libc::ESRCH, "gone"));
            }
            let get = |p| self.objects.get(&(p, kind)).copied().ok_or_else(|| Error::new(libc::ESRCH, "unknown"));
            Ok(get(a)?.cmp(&get(b)?))
        }
        fn gone(&self, pid: i32) -> bool {
            self.gone.contains(&pid)
        }
    }

    fn fake_ns(root: &std::path::Path, who: &str, pid_kid: u64, net_kid: u64) {
        let dir = root.join(who).join("ns");
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink(format!("pid:[{pid_kid}]"), dir.join("pid")).unwrap();
        std::os::unix::fs::symlink(format!("net:[{net_kid}]"), dir.join("net")).unwrap();
    }

    /// A fake /proc with one status per task (NSpid: host pid, inner pid),
    /// the caller in pid and net namespaces 1 and 2, the tree's tasks all
    /// in new ones (ids 3 and 4). The tasks' pids are [`fake_pid`]s: the
    /// code under test also looks up the caller by its real pid.
    fn setup(tag: &str, tasks: &[(i32, Option<i32>, char)]) -> (std::path::PathBuf, ProcessTree, NsTable) {
        let d = temp_dir(tag);
        fake_ns(&d, "thread-self", 1, 2);
        for (n, &(pid, _, state)) in tasks.iter().enumerate() {
            fake_task(&d, pid, state, &[]);
            std::fs::write(d.join(format!("{pid}/status")), format!("Name:\tx\nNSpid:\t{pid}\t{}\n", n + 1)).unwrap();
            if state != 'Z' {
                fake_ns(&d, &pid.to_string(), 11, 12);
            }
        }
        let tree = ProcessTree {
            tasks: tasks
                .iter()
                .map(|&(pid, parent, s)| Task { pid, parent, state: if s == 'Z' { TaskState::Zombie } else { TaskState::Alive } })
                .collect(),
        };
        let table = NsTable::build(&ProcRoot::new(&d), &tree, &Logger::default()).unwrap();
        (d, tree, table)
    }

    fn own(k: &mut FakeKcmp) {
        k.task(own_pid(), 1_000_000, 1_000_000, 1_000_000, 1_000_000);
    }

    #[test]
    fn caller_takes_id_1_and_the_tree_counts_from_2_like_ids_1_img() {
        let root = fake_pid(4242);
        let (d, tree, table) = setup("ids-one", &[(root, None, 'S')]);
        let mut k = FakeKcmp::new();
        own(&mut k);
        k.task(root, 100, 900, 100, 100);
        let ids = task_ids(&ProcRoot::new(&d), &tree, &table, &k, true, &Logger::default()).unwrap();
        assert_eq!(ids.len(), 1);
        let t = &ids[0];
        assert_eq!((t.pid, t.vpid), (root, 1), "ids-1.img: the root is pid 1 of its pid namespace");
        assert_eq!((t.vm_id, t.files_id, t.fs_id, t.sighand_id), (2, 2, 2, 2));
        assert_eq!((t.to_entry().pid_ns_id, t.to_entry().net_ns_id), (Some(3), Some(4)));
        assert_eq!(t.to_entry().time_ns_id, None, "a kind the table lacks stays absent");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn shared_objects_share_ids_and_ids_follow_first_sight() {
        // The root; its child shares its fd table (allowed); a zombie; a
        // grandchild via the child, with its own everything.
        let [root, child, zombie, grandchild] = [10, 11, 12, 13].map(fake_pid);
        let (d, tree, table) =
            setup("ids-share", &[(root, None, 'S'), (child, Some(root), 'S'), (zombie, Some(root), 'Z'), (grandchild, Some(child), 'S')]);
        let mut k = FakeKcmp::new();
        own(&mut k);
        k.task(root, 300, 300, 300, 300);
        k.task(child, 100, 300, 100, 100);
        k.task(grandchild, 900, 50, 900, 900);
        let ids = task_ids(&ProcRoot::new(&d), &tree, &table, &k, true, &Logger::default()).unwrap();
        let got: Vec<(i32, u32, u32, u32, u32)> = ids.iter().map(|t| (t.pid, t.vm_id, t.files_id, t.fs_id, t.sighand_id)).collect();
        assert_eq!(got, vec![(root, 2, 2, 2, 2), (child, 3, 2, 3, 3), (grandchild, 4, 3, 4, 4)], "the zombie has no ids");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn sharing_refused_by_criu_is_refused_with_its_words() {
        for (kind, word) in [(KcmpKind::Vm, "VM"), (KcmpKind::Fs, "FS"), (KcmpKind::Sighand, "IO"), (KcmpKind::Files, "FILES")] {
            // A root, its child, and a grandchild sharing `kind` with the
            // root (not with its parent).
            let [root, child, grandchild] = [20, 21, 22].map(fake_pid);
            let (d, tree, table) = setup("ids-refuse", &[(root, None, 'S'), (child, Some(root), 'S'), (grandchild, Some(child), 'S')]);
            let mut k = FakeKcmp::new();
            own(&mut k);
            k.task(root, 10, 10, 10, 10);
            k.task(child, 20, 20, 20, 20);
            k.task(grandchild, 30, 30, 30, 30);
            k.objects.insert((grandchild, kind), 10);
            let e = task_ids(&ProcRoot::new(&d), &tree, &table, &k, true, &Logger::default()).unwrap_err();
            assert_eq!(e.errno(), libc::EOPNOTSUPP);
            assert!(e.message().starts_with(&format!("Can't make {word} id for {grandchild}")), "{e}");
            // For inspection the shared object just has the same id.
            let ids = task_ids(&ProcRoot::new(&d), &tree, &table, &k, false, &Logger::default()).unwrap();
            let t = &ids[2];
            let got = match kind {
                KcmpKind::Vm => t.vm_id,
                KcmpKind::Fs => t.fs_id,
                KcmpKind::Sighand => t.sighand_id,
                KcmpKind::Files => t.files_id,
            };
            assert_eq!(got, ids[0].vm_id, "{word} shared with the root");
            std::fs::remove_dir_all(&d).unwrap();
        }
    }

    #[test]
    fn a_child_that_exits_is_left_out_and_the_root_exiting_is_esrch() {
        let [root, leaver, stayer] = [30, 31, 32].map(fake_pid);
        let (d, tree, table) = setup("ids-gone", &[(root, None, 'S'), (leaver, Some(root), 'S'), (stayer, Some(root), 'S')]);
        let mut k = FakeKcmp::new();
        own(&mut k);
        k.task(root, 1, 1, 1, 1);
        k.task(stayer, 3, 3, 3, 3);
        k.gone.insert(leaver);
        let ids = task_ids(&ProcRoot::new(&d), &tree, &table, &k, true, &Logger::default()).unwrap();
        assert_eq!(ids.iter().map(|t| (t.pid, t.vm_id)).collect::<Vec<_>>(), vec![(root, 2), (stayer, 3)]);
        k.gone.insert(root);
        let e = task_ids(&ProcRoot::new(&d), &tree, &table, &k, true, &Logger::default()).unwrap_err();
        assert_eq!(e.errno(), libc::ESRCH);
        assert!(e.message().contains(&format!("pid {root}")), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn kcmp_calls_grow_as_n_log_n() {
        let base = fake_pid(1000);
        let tasks: Vec<(i32, Option<i32>, char)> = (0..1024).map(|i| (base + i, if i == 0 { None } else { Some(base) }, 'S')).collect();
        let (d, tree, table) = setup("ids-many", &tasks);
        let mut k = FakeKcmp::new();
        own(&mut k);
        for (i, t) in tasks.iter().enumerate() {
            // Scrambled kernel order.
            let v = (i as u64 * 7919) % 10007;
            k.task(t.0, v, v, v, v);
        }
        let ids = task_ids(&ProcRoot::new(&d), &tree, &table, &k, true, &Logger::default()).unwrap();
        assert_eq!(ids.last().unwrap().vm_id, 1025);
        assert!(*k.calls.borrow() < 4 * 1025 * 12, "{} kcmp calls", k.calls.borrow());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn encodes_ids_1_img_byte_for_byte() {
        let fixture = super::super::fixture("ids-1.img");
        let entry = decode(&fixture, "ids-1.img").unwrap();
        let ns: HashMap<NsKind, u32> = [
            (NsKind::Pid, 9),
            (NsKind::Net, 10),
            (NsKind::Ipc, 11),
            (NsKind::Uts, 12),
            (NsKind::Mnt, 14),
            (NsKind::User, 7),
            (NsKind::Cgroup, 8),
            (NsKind::Time, 13),
        ]
        .into();
        let t = TaskIds { pid: 777, vpid: 1, vm_id: 2, files_id: 2, fs_id: 2, sighand_id: 2, ns };
        assert_eq!(t.to_entry(), entry);
        let img = t.image();
        assert_eq!(img.name, "ids-1.img");
        assert_eq!(img.bytes, fixture);
    }

    #[test]
    fn real_kcmp_sees_our_threads_share_and_a_bad_pid_fails() {
        let proc = ProcRoot::default();
        let k = SysKcmp::new(&proc);
        let me = own_pid();
        assert_eq!(k.kcmp(me, me, KcmpKind::Vm).unwrap(), Ordering::Equal);
        let e = k.kcmp(me, i32::MAX, KcmpKind::Files).unwrap_err();
        assert_eq!(e.errno(), libc::ESRCH, "{e}");
        assert!(k.gone(i32::MAX));
        assert!(!k.gone(me));
    }
}
