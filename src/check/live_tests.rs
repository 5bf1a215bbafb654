//! The CRIU 4.2 fixtures' trees, built live with their own `tree.sh`:
//! CRIU's refusal line for each (its dump.log) must be among criurs's
//! findings, and the option CRIU took must clear it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use crate::check::{Options, Report, Severity};
use crate::Context;

/// One fixture tree at a time: they are heavy (python, namespaces) and
/// some reuse ports and host paths.
static ONE_TREE: Mutex<()> = Mutex::new(());

/// A fixture case's tree, under a scratch state directory of our own
/// instead of /tmp/criu-fx (the paths CRIU's logs name are mapped).
pub(crate) struct FixtureTree {
    case: String,
    state: PathBuf,
    pub root: i32,
    _one: std::sync::MutexGuard<'static, ()>,
}

fn cases() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/criu-4.2")
}

impl FixtureTree {
    pub(crate) fn start(case: &str, step: Option<&str>) -> FixtureTree {
        let one = ONE_TREE.lock().unwrap_or_else(|e| e.into_inner());
        let state = std::env::temp_dir().join(format!("criurs-fx-{}", std::process::id()));
        let mut cmd = Command::new("bash");
        cmd.arg(cases().join(case).join("tree.sh"));
        if let Some(step) = step {
            cmd.arg(step);
        }
        let out = cmd
            .env("FX_STATE", &state)
            .env("PY", "/usr/bin/python3")
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .expect("bash runs the fixture's tree.sh");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut tree = FixtureTree { case: case.to_string(), state, root: 0, _one: one };
        tree.root = text.lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or_else(|| {
            panic!("{case} {step:?}: tree.sh printed no root pid (status {:?}): {text:?}", out.status)
        });
        tree
    }

    /// A path of CRIU's logs (under /tmp/criu-fx) as this tree has it.
    fn ours(&self, criu_path: &str) -> String {
        criu_path.replace("/tmp/criu-fx", &self.state.to_string_lossy())
    }
}

impl Drop for FixtureTree {
    fn drop(&mut self) {
        let lib = cases().join("tools/lib.sh");
        let _ = Command::new("bash")
            .arg("-c")
            .arg(format!(". '{}'; fx_kill '{}'", lib.display(), self.case))
            .env("FX_STATE", &self.state)
            .status();
        let _ = std::fs::remove_dir(&self.state);
    }
}

/// The first error of a CRIU dump.log that is the dump's refusal (not
/// the machine's harmless ones), as (file, message without the log
/// prefix).
fn criu_refusal(log: &Path) -> (String, String) {
    let text = std::fs::read_to_string(log).unwrap();
    for line in text.lines() {
        let Some(rest) = line.split_once("Error (").map(|(_, r)| r) else { continue };
        let Some((place, msg)) = rest.split_once("): ") else { continue };
        let file = place.split(':').next().unwrap().to_string();
        if ["criu/util.c", "criu/cr-dump.c"].contains(&file.as_str()) || msg.contains("RLIMIT_NOFILE") {
            continue;
        }
        let msg = ["mnt: ", "unix: ", "inet: ", "netlink: "].iter().fold(msg.to_string(), |m, p| m.strip_prefix(p).map_or(m.clone(), str::to_string));
        return (file, msg);
    }
    panic!("{}: no refusal line", log.display());
}

/// Numbers (decimal and hex, inodes and pids differ run to run) folded
/// to '#'.
fn shape(text: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().any(|c| c.is_ascii_digit()) {
            out.push('#');
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_hexdigit() || c == 'x' {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// CRIU's refusal in `log` is one of the report's findings (same file of
/// CRIU's, same message but for numbers and our state directory).
fn assert_criu_line_found(tree: &FixtureTree, log: &Path, report: &Report) {
    let (file, msg) = criu_refusal(log);
    let want = shape(&tree.ours(&msg));
    let found = report.findings.iter().any(|f| {
        f.criu_source.starts_with(&format!("{file}:")) && shape(&String::from_utf8_lossy(&f.criu_message)) == want
    });
    assert!(found, "CRIU's line {file}: {msg:?} (as {want:?}) is not among the findings:\n{}", dump(report));
}

/// As [`assert_criu_line_found`], and it is the finding CRIU's dump
/// would stop at.
fn assert_criu_stops_at(tree: &FixtureTree, log: &Path, report: &Report) {
    assert_criu_line_found(tree, log, report);
    let (_, msg) = criu_refusal(log);
    let first = report.first_refusal().expect("a refusal");
    assert_eq!(shape(&String::from_utf8_lossy(&first.criu_message)), shape(&tree.ours(&msg)), "CRIU stops first at {msg:?}:\n{}", dump(report));
}

fn dump(report: &Report) -> String {
    report
        .findings
        .iter()
        .map(|f| format!("  {} {} {}: {} [{}]\n", f.severity.name(), f.code, f.criu_source, String::from_utf8_lossy(&f.criu_message), String::from_utf8_lossy(&f.fix)))
        .collect()
}

fn log_of(case: &str, step: Option<&str>, name: &str) -> PathBuf {
    let mut p = cases().join(case);
    if let Some(s) = step {
        p = p.join(s);
    }
    p.join(name)
}

fn check(tree: &FixtureTree, externals: &[String], options: Options) -> Report {
    let mut ctx = Context::new(tree.root).unwrap();
    for e in externals {
        ctx.add_external(e.as_bytes()).unwrap();
    }
    ctx.check(&options).unwrap()
}

fn codes(report: &Report) -> Vec<&'static str> {
    report.findings.iter().map(|f| f.code).collect()
}

#[test]
fn multi_obstacle_lists_every_obstacle_and_each_step_s_criu_refusal() {
    crate::needs_root!();
    for step in ["all", "no-uts", "no-uts-no-tcp"] {
        let tree = FixtureTree::start("multi-obstacle", Some(step));
        let report = check(&tree, &[], Options::default());
        assert_criu_stops_at(&tree, &log_of("multi-obstacle", Some(step), "dump.log"), &report);
        let c = codes(&report);
        assert!(c.contains(&"unix-peer-outside-tree"), "{step}: {c:?}");
        assert_eq!(c.contains(&"nested-namespace"), step == "all", "{step}: {c:?}");
        assert_eq!(c.contains(&"tcp-established"), step != "no-uts-no-tcp", "{step}: {c:?}");
        // The other end is named as ss -p names it: the daemon's pid and fd.
        let f = report.findings.iter().find(|f| f.code == "unix-peer-outside-tree").unwrap();
        let crate::check::Object::Socket { peer, .. } = &f.object else { panic!("{f:?}") };
        assert!(peer.iter().any(|h| h.comm.starts_with(b"python3")), "{f:?}");
        assert_eq!(report.exit_code(), if step == "all" { 2 } else { 1 }, "{}", dump(&report));
        if step == "all" {
            // CRIU stops at the first; all three are there, blocking first.
            assert_eq!(report.findings[0].code, "nested-namespace");
        }
    }
}

#[test]
fn tcp_established_needs_the_option_and_the_option_clears_it() {
    crate::needs_root!();
    let tree = FixtureTree::start("sk-tcp-established", None);
    let report = check(&tree, &[], Options::default());
    assert_criu_line_found(&tree, &log_of("sk-tcp-established", None, "dump.log"), &report);
    let f = report.findings.iter().find(|f| f.code == "tcp-established").unwrap();
    assert_eq!((f.severity, f.option.as_deref()), (Severity::NeedsOption, Some(&b"--tcp-established"[..])));
    assert_eq!(report.exit_code(), 1);
    let report = check(&tree, &[], Options { tcp_established: true, ..Default::default() });
    assert!(!codes(&report).contains(&"tcp-established"), "{}", dump(&report));
}

#[test]
fn tcp_listener_with_connections_not_accepted_needs_skip_in_flight() {
    crate::needs_root!();
    let tree = FixtureTree::start("sk-tcp-listen-inflight", None);
    let report = check(&tree, &[], Options::default());
    assert_criu_line_found(&tree, &log_of("sk-tcp-listen-inflight", None, "dump.log"), &report);
    let report = check(&tree, &[], Options { skip_in_flight: true, tcp_established: true, ..Default::default() });
    assert!(!codes(&report).contains(&"tcp-listen-in-flight"), "{}", dump(&report));
}

#[test]
fn corked_udp_blocks() {
    crate::needs_root!();
    let tree = FixtureTree::start("sk-udp-corked", None);
    let report = check(&tree, &[], Options::default());
    assert_criu_line_found(&tree, &log_of("sk-udp-corked", None, "dump.log"), &report);
    assert_eq!(report.exit_code(), 2);
}

#[test]
fn netlink_socket_with_unread_messages_blocks() {
    crate::needs_root!();
    let tree = FixtureTree::start("sk-netlink-queued", None);
    let report = check(&tree, &[], Options::default());
    assert_criu_line_found(&tree, &log_of("sk-netlink-queued", None, "dump.log"), &report);
}

#[test]
fn unix_in_flight_with_data_and_closed_in_flight_block() {
    crate::needs_root!();
    let tree = FixtureTree::start("sk-unix-inflight", None);
    let report = check(&tree, &[], Options::default());
    assert_criu_line_found(&tree, &log_of("sk-unix-inflight", None, "dump.log"), &report);
    drop(tree);
    let tree = FixtureTree::start("sk-unix-dangling", Some("closed-inflight"));
    let report = check(&tree, &[], Options::default());
    assert_criu_line_found(&tree, &log_of("sk-unix-dangling", Some("closed-inflight"), "dump.log"), &report);
    drop(tree);
    // The semi-closed pair CRIU dumps is no finding.
    let tree = FixtureTree::start("sk-unix-dangling", Some("peer-closed"));
    let report = check(&tree, &[], Options::default());
    assert!(report.findings.iter().all(|f| !f.code.starts_with("unix-")), "{}", dump(&report));
}

#[test]
fn unix_peer_outside_the_tree_each_way_criu_refuses_it() {
    crate::needs_root!();
    let case = "sk-unix-peer-outside";
    // Stream: "External socket", and with --ext-unix-sk "half of stream".
    let tree = FixtureTree::start(case, Some("no-options"));
    let report = check(&tree, &[], Options::default());
    assert_criu_line_found(&tree, &log_of(case, Some("no-options"), "dump.log"), &report);
    let with = check(&tree, &[], Options { ext_unix_sk: true, ..Default::default() });
    assert_criu_line_found(&tree, &log_of(case, Some("ext-unix-sk"), "dump.log"), &with);
    // The exception CRIU reads before --ext-unix-sk clears it.
    let f = with.findings.iter().find(|f| f.code == "unix-peer-outside-tree").unwrap();
    let option = String::from_utf8(f.option.clone().unwrap()).unwrap();
    assert!(option.starts_with("--external unix["), "{option}");
    let spec = option.strip_prefix("--external ").unwrap().to_string();
    let cleared = check(&tree, &[spec], Options { ext_unix_sk: true, ..Default::default() });
    assert!(!codes(&cleared).contains(&"unix-peer-outside-tree"), "{}", dump(&cleared));
    drop(tree);
    // Dgram from the tree's own net namespace: the peer is not collected.
    let tree = FixtureTree::start(case, Some("dgram-ext-unix-sk"));
    let report = check(&tree, &[], Options { ext_unix_sk: true, ..Default::default() });
    assert_criu_line_found(&tree, &log_of(case, Some("dgram-ext-unix-sk"), "dump.log"), &report);
    drop(tree);
    // Dgram in the host's net namespace: --ext-unix-sk answers it.
    let tree = FixtureTree::start(case, Some("dgram-hostnet-no-options"));
    let report = check(&tree, &[], Options::default());
    assert_criu_line_found(&tree, &log_of(case, Some("dgram-hostnet-no-options"), "dump.log"), &report);
    let f = report.findings.iter().find(|f| f.code == "unix-peer-outside-tree").unwrap();
    assert_eq!(f.option.as_deref(), Some(&b"--ext-unix-sk"[..]));
    let report = check(&tree, &[], Options { ext_unix_sk: true, ..Default::default() });
    assert!(!codes(&report).contains(&"unix-peer-outside-tree"), "{}", dump(&report));
}

#[test]
fn nested_namespaces_of_every_refused_kind() {
    crate::needs_root!();
    for (case, step) in [("nested-uts", None), ("nested-pid", None), ("nested-ipc", None), ("nested-time", Some("nested")), ("nested-time", Some("for-children"))] {
        let tree = FixtureTree::start(case, step);
        let report = check(&tree, &[], Options::default());
        assert_criu_line_found(&tree, &log_of(case, step, "dump.log"), &report);
        assert_eq!(report.exit_code(), 2, "{case}");
    }
}

#[test]
fn root_not_pid1_needs_its_pid_namespace_external() {
    crate::needs_root!();
    let tree = FixtureTree::start("root-not-pid1", None);
    let report = check(&tree, &[], Options::default());
    assert_criu_line_found(&tree, &log_of("root-not-pid1", Some("plain"), "dump.log"), &report);
    let kid = crate::testing::kid_of(tree.root, "pid");
    let report = check(&tree, &[format!("pid[{kid}]:fxpid")], Options::default());
    assert!(!codes(&report).contains(&"root-not-pid1"), "{}", dump(&report));
}

#[test]
fn rslave_root_wants_each_slave_mount_external_and_not_the_root() {
    crate::needs_root!();
    let tree = FixtureTree::start("rslave-root", None);
    let report = check(&tree, &[], Options::default());
    assert_criu_line_found(&tree, &log_of("rslave-root", None, "dump-no-options.log"), &report);
    let report = check(&tree, &[], Options { enable_external_masters: true, ..Default::default() });
    assert_criu_line_found(&tree, &log_of("rslave-root", None, "dump-external-masters.log"), &report);
    // The fix names every slave mount but "/", as the dump that passed did.
    let mountinfo = std::fs::read_to_string(format!("/proc/{}/mountinfo", tree.root)).unwrap();
    let mut specs = Vec::new();
    for line in mountinfo.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if f[6].starts_with("master:") && f[4] != "/" {
            specs.push(format!("mnt[{}]:x{}", f[4], f[4].replace('/', "_")));
        }
    }
    let report = check(&tree, &specs, Options::default());
    assert!(report.findings.iter().all(|f| !f.code.starts_with("mount-")), "{}", dump(&report));
}

#[test]
fn bind_volumes_from_outside_and_unsupported_filesystems_want_externals() {
    crate::needs_root!();
    let tree = FixtureTree::start("mnt-externals", Some("tmpfs-no-options"));
    let report = check(&tree, &[], Options::default());
    assert_criu_line_found(&tree, &log_of("mnt-externals", Some("tmpfs-no-options"), "dump.log"), &report);
    let f = report.findings.iter().find(|f| f.code == "mount-no-proper-root").unwrap();
    assert_eq!(f.severity, Severity::NeedsOption);
    let vol = tree.ours("/tmp/criu-fx/mnt-externals/vol");
    let report = check(&tree, &[format!("mnt[{vol}]:vol")], Options::default());
    assert!(!codes(&report).contains(&"mount-no-proper-root"), "{}", dump(&report));
    drop(tree);
    let tree = FixtureTree::start("mnt-externals", Some("dev-no-options"));
    let report = check(&tree, &[], Options::default());
    assert_criu_line_found(&tree, &log_of("mnt-externals", Some("dev-no-options"), "dump.log"), &report);
    let mountinfo = std::fs::read_to_string(format!("/proc/{}/mountinfo", tree.root)).unwrap();
    let blk = tree.ours("/tmp/criu-fx/mnt-externals/blk");
    let dev = mountinfo.lines().map(|l| l.split(' ').collect::<Vec<_>>()).find(|f| f[4] == blk).unwrap()[2].replace(':', "/");
    let report = check(&tree, &[format!("dev[{dev}]:blk")], Options::default());
    assert!(!codes(&report).contains(&"mount-fs-unsupported"), "{}", dump(&report));
}

#[test]
fn runc_shaped_tree_gets_every_step_s_refusal_in_one_report() {
    crate::needs_root!();
    let tree = FixtureTree::start("runc-shaped", Some("step0"));
    let report = check(&tree, &[], Options::default());
    assert_criu_stops_at(&tree, &cases().join("runc-shaped/dump-step0.log"), &report);
    assert_criu_line_found(&tree, &cases().join("runc-shaped/dump-step2.log"), &report);
    let vol = format!("mnt[{}]:vol", tree.ours("/tmp/criu-fx/runc-shaped/vol"));
    let report = check(&tree, &[vol.clone()], Options { ext_unix_sk: true, enable_external_masters: true, ..Default::default() });
    assert_criu_stops_at(&tree, &log_of("runc-shaped", Some("step3"), "dump.log"), &report);
    assert!(!codes(&report).iter().any(|c| c.starts_with("mount-")), "{}", dump(&report));
    drop(tree);
    let tree = FixtureTree::start("runc-shaped", Some("no-daemon"));
    let report = check(&tree, &[vol], Options::default());
    assert_eq!(report.exit_code(), 0, "CRIU dumped it:\n{}", dump(&report));
}

#[test]
fn a_queue_left_in_an_mqueue_mount_blocks_until_removed_or_declared() {
    crate::needs_root!();
    let dir = std::env::temp_dir().join(format!("criurs-chk-mq-{}", std::process::id()));
    let d = dir.display();
    let script = format!(
        "exec unshare --fork --pid --mount --ipc --propagation private sh -c 'mkdir -p {d} && mount -t mqueue none {d} && touch {d}/q1 && {}; echo ready; read x'",
        crate::testing::announce("root")
    );
    let tree = crate::testing::LiveTree::start(&script, &["root"]);
    let mut ctx = Context::new(tree.pid("root")).unwrap();
    let report = ctx.check(&Options::default()).unwrap();
    let f = report.findings.iter().find(|f| f.code == "mount-fs-not-empty").unwrap_or_else(|| panic!("{}", dump(&report)));
    assert_eq!(f.criu_message, b"mqueue isn't empty");
    assert_eq!(f.criu_source, "criu/filesystems.c:dump_empty_fs");
    assert!(String::from_utf8_lossy(&f.fix).contains("q1"), "{}", dump(&report));
    // Declared external, CRIU leaves it to the runtime.
    ctx.add_external(format!("mnt[{d}]:mq").as_bytes()).unwrap();
    let report = ctx.check(&Options::default()).unwrap();
    assert!(!codes(&report).contains(&"mount-fs-not-empty"), "{}", dump(&report));
    // Emptied (through the tree's root), it is no obstacle.
    let mut ctx = Context::new(tree.pid("root")).unwrap();
    std::fs::remove_file(format!("/proc/{}/root{d}/q1", tree.pid("root"))).unwrap();
    let report = ctx.check(&Options::default()).unwrap();
    assert!(!codes(&report).contains(&"mount-fs-not-empty"), "{}", dump(&report));
    drop(tree);
    let _ = std::fs::remove_dir(&dir);
}

#[test]
fn a_net_namespace_pinned_outside_the_tree_wants_it_declared_external() {
    crate::needs_root!();
    let name = format!("criurs-chk-{}", std::process::id());
    let _ = Command::new("ip").args(["netns", "del", &name]).status();
    assert!(Command::new("ip").args(["netns", "add", &name]).status().unwrap().success());
    let script = format!("exec ip netns exec {name} sh -c '{}; echo ready; read x'", crate::testing::announce("root"));
    let tree = crate::testing::LiveTree::start(&script, &["root"]);
    let mut ctx = Context::new(tree.pid("root")).unwrap();
    let report = ctx.check(&Options::default()).unwrap();
    let kid = crate::testing::kid_of(tree.pid("root"), "net");
    let f = report.findings.iter().find(|f| f.code == "netns-shared-outside-tree").unwrap_or_else(|| panic!("{}", dump(&report)));
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.option.as_deref(), Some(format!("--external net[{kid}]:KEY").as_bytes()));
    assert!(String::from_utf8_lossy(&f.fix).contains(&format!("/run/netns/{name}")), "{}", dump(&report));
    ctx.add_external(format!("net[{kid}]:hostnet").as_bytes()).unwrap();
    let report = ctx.check(&Options::default()).unwrap();
    assert!(!codes(&report).contains(&"netns-shared-outside-tree"), "{}", dump(&report));
    drop(tree);
    let _ = Command::new("ip").args(["netns", "del", &name]).status();
}
