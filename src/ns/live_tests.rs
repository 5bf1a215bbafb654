//! CRIU 4.2's namespace rules on live trees made with `unshare`: the id
//! order with a time namespace, the walk that meets the tree's namespaces
//! before the caller's, and the layouts a dump refuses.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{ChildStdin, Command, Stdio};

use crate::ns::{NsKind, NsType};
use crate::Context;

/// A tree built by a shell script that is not our descendant (started
/// through `setsid -f`), so other tests collecting this process never
/// meet it. The script prints `NAME PID` lines and `ready`, then waits
/// for stdin to close; the processes it made end with it.
pub(crate) struct LiveTree {
    ctl: Option<ChildStdin>,
    pids: BTreeMap<String, i32>,
}

/// Shell words that print `NAME HOSTPID` from the shell running them: the
/// shell's own read of /proc/self names it by its pid in our namespace.
pub(crate) fn announce(name: &str) -> String {
    format!("read hostpid rest </proc/self/stat; echo {name} $hostpid")
}

impl LiveTree {
    pub(crate) fn start(script: &str, names: &[&str]) -> LiveTree {
        let mut setsid = Command::new("setsid")
            .args(["-f", "sh", "-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("setsid and unshare are installed (util-linux)");
        let ctl = setsid.stdin.take();
        let out = BufReader::new(setsid.stdout.take().unwrap());
        let _ = setsid.wait();
        let mut tree = LiveTree { ctl, pids: BTreeMap::new() };
        let mut ready = false;
        for line in out.lines() {
            let line = line.unwrap();
            match line.split_once(' ') {
                Some((name, pid)) => {
                    tree.pids.insert(name.to_string(), pid.trim().parse().expect("a pid"));
                }
                None if line == "ready" => ready = true,
                None => panic!("unexpected line from the tree script: {line:?}"),
            }
            if ready && names.iter().all(|n| tree.pids.contains_key(*n)) {
                return tree;
            }
        }
        panic!("the tree script ended before it was ready (run as root): {:?}", tree.pids);
    }

    pub(crate) fn pid(&self, name: &str) -> i32 {
        self.pids[name]
    }
}

impl Drop for LiveTree {
    fn drop(&mut self) {
        drop(self.ctl.take()); // EOF: the script's `read` returns and it ends its tree
        for pid in self.pids.values() {
            for _ in 0..500 {
                match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                    Ok(stat) if !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z') => {
                        std::thread::sleep(std::time::Duration::from_millis(10))
                    }
                    _ => break,
                }
            }
        }
    }
}

pub(crate) fn kid_of(pid: i32, link: &str) -> u64 {
    let target = std::fs::read_link(format!("/proc/{pid}/ns/{link}")).unwrap();
    let text = target.to_string_lossy().into_owned();
    text.split(['[', ']']).nth(1).unwrap().parse().unwrap()
}

#[test]
fn time_namespace_takes_its_id_before_mnt() {
    crate::needs_root!();
    let script = format!(
        "exec unshare --fork --pid --mount --net --uts --ipc --time --propagation private sh -c '{}; echo ready; read x'",
        announce("root")
    );
    let tree = LiveTree::start(&script, &["root"]);
    let root = tree.pid("root");
    let mut ctx = Context::new(root).unwrap();
    ctx.collect_namespaces(false).unwrap();
    let table = ctx.namespaces().unwrap();
    let task = &table.tasks()[0];
    assert_eq!(task.pid, root);
    let ids: Vec<(&str, u32)> = NsKind::ALL.iter().map(|k| (k.name(), task.ids[k])).collect();
    // CRIU 4.2's ids-1.json for the same layout (tests/fixtures/criu-4.2/ns-sockets).
    assert_eq!(
        ids,
        vec![("pid", 9), ("net", 10), ("ipc", 11), ("uts", 12), ("time", 13), ("mnt", 14), ("user", 7), ("cgroup", 8)]
    );
    assert_eq!(table.by_id(13).unwrap().kid, kid_of(root, "time"));
    assert_eq!(table.by_id(5).unwrap().ns_type, NsType::Own);
    assert!(table.refusals().is_empty());
    assert_eq!(ctx.mount_namespaces().unwrap().namespaces().iter().map(|m| m.ns_id).collect::<Vec<_>>(), vec![14]);
}

#[test]
fn walk_meets_the_childs_namespaces_before_the_callers() {
    crate::needs_root!();
    let script = format!(
        "unshare --net --mount --propagation private sh -c '{}; exec sleep 1000' & child=$!\n{}; echo ready; read x; kill $child",
        announce("child"),
        announce("root")
    );
    let tree = LiveTree::start(&script, &["root", "child"]);
    let mut ctx = Context::new(tree.pid("root")).unwrap();
    ctx.collect_namespaces(false).unwrap();
    let table = ctx.namespaces().unwrap();
    let child_net = table.find(NsKind::Net, kid_of(tree.pid("child"), "net")).unwrap().id;
    let child_mnt = table.find(NsKind::Mnt, kid_of(tree.pid("child"), "mnt")).unwrap().id;
    let own_net = table.walk(NsKind::Net).last().unwrap().id;
    assert_eq!(table.by_id(own_net).unwrap().ns_type, NsType::Own);
    // CRIU's log: "Collecting netns <child>" and then "Collecting netns 2".
    assert_eq!(ctx.net_namespaces().unwrap().iter().map(|n| n.id).collect::<Vec<_>>(), vec![child_net, 2]);
    assert_eq!(
        ctx.mount_namespaces().unwrap().namespaces().iter().map(|m| m.ns_id).collect::<Vec<_>>(),
        vec![child_mnt, 6],
        "the same walk for mount namespaces"
    );
}

/// A root in new pid, uts and mount namespaces with one child made by
/// `inner` (shell words run by the root).
fn nested_tree(inner: &str) -> LiveTree {
    let script = format!(
        "exec unshare --fork --pid --uts --mount --propagation private sh -c '{}; {inner} & echo ready; read x'",
        announce("root")
    );
    LiveTree::start(&script, &["root", "child"])
}

#[test]
fn nested_uts_namespace_is_refused_with_criu_reason() {
    crate::needs_root!();
    let tree = nested_tree(&format!("unshare --uts sh -c \"{}; exec sleep 1000\"", announce("child").replace('$', "\\$")));
    let mut ctx = Context::new(tree.pid("root")).unwrap();
    let e = ctx.collect_namespaces(true).unwrap_err();
    assert_eq!(e.errno(), libc::EOPNOTSUPP, "{e}");
    let child = tree.pid("child");
    assert!(e.message().starts_with(&format!("Can't dump nested uts namespace for {child}")), "{e}");
    // Inspection keeps the tree, with what a dump would refuse.
    ctx.collect_namespaces(false).unwrap();
    let refusals = ctx.namespaces().unwrap().refusals();
    assert_eq!(refusals.len(), 1);
    assert_eq!((refusals[0].pid(), refusals[0].kind()), (child, NsKind::Uts));
}

#[test]
fn nested_pid_namespace_is_refused_with_criu_reason() {
    crate::needs_root!();
    let tree =
        nested_tree(&format!("unshare --fork --pid sh -c \"{}; exec sleep 1000\"", announce("child").replace('$', "\\$")));
    let mut ctx = Context::new(tree.pid("root")).unwrap();
    let e = ctx.collect_namespaces(true).unwrap_err();
    assert_eq!(e.errno(), libc::EOPNOTSUPP, "{e}");
    assert!(e.message().starts_with(&format!("Can't dump nested pid namespace for {}", tree.pid("child"))), "{e}");
}

#[test]
fn a_root_that_is_not_init_of_its_pid_namespace_needs_the_namespace_external() {
    crate::needs_root!();
    let script = format!(
        "exec unshare --fork --pid --mount --propagation private sh -c 'sh -c \"{}; exec sleep 1000\" & echo ready; read x'",
        announce("root").replace('$', "\\$")
    );
    let tree = LiveTree::start(&script, &["root"]);
    let root = tree.pid("root");
    let mut ctx = Context::new(root).unwrap();
    let e = ctx.collect_namespaces(true).unwrap_err();
    assert_eq!(e.errno(), libc::EOPNOTSUPP, "{e}");
    assert!(e.message().starts_with("Can't dump a pid namespace without the process init"), "{e}");
    assert!(e.message().contains(&format!("pid {root} is pid 2 of")), "{e}");

    let kid = kid_of(root, "pid");
    let dir = std::env::temp_dir().join(format!("criurs-pidns-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    ctx.set_images_dir(&dir).unwrap();
    ctx.add_external(format!("pid[{kid}]:hostpid").as_bytes()).unwrap();
    ctx.collect_namespaces(true).unwrap();
    let ns_id = ctx.namespaces().unwrap().root_ns(NsKind::Pid).unwrap().id;
    let bytes = std::fs::read(dir.join(crate::ns::pidns::image_name(ns_id))).unwrap();
    let entries: Vec<crate::image::pb::PidnsEntry> =
        crate::image::decode(&bytes, crate::ns::pidns::PIDNS_MAGIC, "pidns").unwrap();
    assert_eq!(entries[0].ext_key.as_deref(), Some(&b"hostpid"[..]));
    std::fs::remove_dir_all(&dir).unwrap();
}
