//! The namespace table against what CRIU 4.2 did with the same trees:
//! each fixture case records the kernel's view (`ns.txt`, `tasks.txt`)
//! beside CRIU's ids (`ids-N.json`) or its refusal (`dump.log`). A fake
//! procfs is built from the view, and our ids and refusals must be CRIU's.

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use crate::log::Logger;
use crate::ns::{NsKind, NsTable};
use crate::pstree::tests::{fake_task, temp_dir};
use crate::pstree::{collect_tree, ProcRoot};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/criu-4.2")
}

/// One case: where it is, the fake procfs made from it, the root's pid and
/// each task's innermost pid (CRIU names ids-N.img by it).
struct Case {
    dir: PathBuf,
    proc_dir: PathBuf,
    root: i32,
    inner_pid: BTreeMap<i32, i32>,
}

impl Case {
    fn load(rel: &str) -> Case {
        let dir = fixtures().join(rel);
        let proc_dir = temp_dir(&format!("nsfix-{}", rel.replace('/', "-")));
        let ns_txt = std::fs::read_to_string(dir.join("ns.txt")).unwrap();
        let mut root = 0;
        for line in ns_txt.lines().filter(|l| !l.starts_with('#')) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (role, pid, link, target) = (f[0], f[1], f[4], f[5]);
            let who = if role == "dumping-shell" { "thread-self".to_string() } else { pid.to_string() };
            if role == "root" {
                root = pid.parse().unwrap();
            }
            let ns_dir = proc_dir.join(&who).join("ns");
            std::fs::create_dir_all(&ns_dir).unwrap();
            symlink(target, ns_dir.join(link)).unwrap();
        }
        // tasks.txt: "PID ppid=P sid=S nspid= HOST ... INNER comm=..."
        let tasks = std::fs::read_to_string(dir.join("tasks.txt")).unwrap();
        let mut parent_of = BTreeMap::new();
        let mut inner_pid = BTreeMap::new();
        for line in tasks.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let pid: i32 = words[0].parse().unwrap();
            let ppid: i32 = words[1].strip_prefix("ppid=").unwrap().parse().unwrap();
            let nspid: Vec<i32> =
                words.iter().skip_while(|w| **w != "nspid=").skip(1).take_while(|w| !w.contains('=')).map(|w| w.parse().unwrap()).collect();
            parent_of.insert(pid, ppid);
            inner_pid.insert(pid, *nspid.last().unwrap());
        }
        for (&pid, &inner) in &inner_pid {
            let children: Vec<i32> = parent_of.iter().filter(|(_, &p)| p == pid).map(|(&c, _)| c).collect();
            fake_task(&proc_dir, pid, 'S', &children);
            std::fs::write(proc_dir.join(pid.to_string()).join("status"), format!("Name:\tx\nNSpid:\t{pid}\t{inner}\n")).unwrap();
        }
        assert!(root > 0, "{rel}: ns.txt names no root");
        Case { dir, proc_dir, root, inner_pid }
    }

    fn table(&self) -> NsTable {
        let proc = ProcRoot::new(&self.proc_dir);
        let log = Logger::default();
        let tree = collect_tree(&proc, self.root, &log).unwrap();
        NsTable::build(&proc, &tree, &log).unwrap()
    }

    /// CRIU's refusal line from namespaces.c, without its prefix.
    fn criu_ns_refusal(&self) -> Option<String> {
        let log = std::fs::read_to_string(self.dir.join("dump.log")).ok()?;
        log.lines().find_map(|l| l.split_once("Error (criu/namespaces.c:460): ").map(|(_, m)| m.to_string()))
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.proc_dir);
    }
}

const FIELDS: [(&str, NsKind); 8] = [
    ("pid_ns_id", NsKind::Pid),
    ("net_ns_id", NsKind::Net),
    ("ipc_ns_id", NsKind::Ipc),
    ("uts_ns_id", NsKind::Uts),
    ("time_ns_id", NsKind::Time),
    ("mnt_ns_id", NsKind::Mnt),
    ("user_ns_id", NsKind::User),
    ("cgroup_ns_id", NsKind::Cgroup),
];

/// `"name": 12` out of crit's pretty JSON.
fn json_number(json: &str, name: &str) -> Option<u32> {
    let at = json.find(&format!("\"{name}\":"))? + name.len() + 3;
    json[at..].trim_start().split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

#[test]
fn every_fixture_task_gets_criu_namespace_ids() {
    let mut compared = 0;
    for rel in ["walk-netns", "walk-netns-mntns", "rslave-root", "escaped-paths/no-newline", "mnt-externals/tmpfs-external", "root-not-pid1/plain"] {
        let case = Case::load(rel);
        let table = case.table();
        assert!(table.refusals().is_empty(), "{rel}: CRIU dumped these ids");
        for task in table.tasks() {
            let inner = case.inner_pid[&task.pid];
            let json = std::fs::read_to_string(case.dir.join(format!("ids-{inner}.json")))
                .unwrap_or_else(|e| panic!("{rel}: ids-{inner}.json: {e}"));
            for (field, kind) in FIELDS {
                assert_eq!(Some(task.ids[&kind]), json_number(&json, field), "{rel}: task {} {field}", task.pid);
            }
            compared += 1;
        }
        // What CRIU's walk collects: the tree's namespaces newest first.
        let nets: Vec<u32> = table.walk(NsKind::Net).iter().map(|n| n.id).collect();
        if rel.starts_with("walk-netns") {
            assert_eq!(nets.last(), Some(&2), "{rel}: the caller's own net namespace last: {nets:?}");
            assert_eq!(nets.len(), 2, "{rel}");
        }
    }
    assert!(compared >= 8, "{compared} tasks compared");
}

#[test]
fn refusals_are_criu_s_first_refusal_word_for_word() {
    for rel in ["nested-uts", "nested-pid", "nested-ipc", "nested-time/nested", "nested-time/for-children", "multi-obstacle/all"] {
        let case = Case::load(rel);
        let expected = case.criu_ns_refusal().unwrap_or_else(|| panic!("{rel}: no refusal in dump.log"));
        let table = case.table();
        let first = table.refusals().first().unwrap_or_else(|| panic!("{rel}: no refusal, CRIU said {expected:?}"));
        assert_eq!(first.criu_message(), expected, "{rel}");
    }
}

#[test]
fn a_root_that_is_not_init_is_refused_unless_its_pid_namespace_is_external() {
    let case = Case::load("root-not-pid1/plain");
    let table = case.table();
    let proc = ProcRoot::new(&case.proc_dir);
    let mut externals = crate::external::Externals::default();
    let e = super::pidns::check_root_is_init(&proc, &table, case.root, &externals).unwrap_err();
    let log = std::fs::read_to_string(case.dir.join("dump.log")).unwrap();
    assert!(log.contains("Can't dump a pid namespace without the process init"));
    assert!(e.message().starts_with("Can't dump a pid namespace without the process init"), "{e}");
    let kid = table.root_ns(NsKind::Pid).unwrap().kid;
    externals.pid_ns.insert(kid, b"fxpid".to_vec());
    super::pidns::check_root_is_init(&proc, &table, case.root, &externals).unwrap();
    // CRIU wrote pidns-9.img for the declared namespace; so do we.
    assert_eq!(super::pidns::external_pid_namespaces(&table, &externals), vec![(9, &b"fxpid"[..])]);
}
