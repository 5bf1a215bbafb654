//! Test support, in one place: scratch directories, a fake procfs,
//! the CRIU fixtures, live namespace shells, and the marking of tests
//! that need root.
//!
//! Tests that make namespaces need root (CAP_SYS_ADMIN and friends):
//! they start with [`needs_root!`], which skips them with a message for
//! a normal user. `make check` sets `CRIURS_ROOT_TESTS=required`, so
//! there a skip is a failure: those tests run, or the check says why
//! not.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ns::NsKind;

/// Whether the tests run as root; `false` prints why the calling test
/// is skipped (and fails it under `CRIURS_ROOT_TESTS=required`).
pub fn root_or_skip() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    let name = std::thread::current().name().unwrap_or("this test").to_string();
    if std::env::var("CRIURS_ROOT_TESTS").as_deref() == Ok("required") {
        panic!("{name} needs root (it makes namespaces) and CRIURS_ROOT_TESTS=required: run make check as root");
    }
    // Straight to the descriptor: libtest captures eprintln! of passing tests.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped: {name} needs root (it makes namespaces); make check runs it as root");
    false
}

/// Skips the calling test, with a message, unless it runs as root.
#[macro_export]
#[doc(hidden)]
macro_rules! needs_root {
    () => {
        if !$crate::testing::root_or_skip() {
            return;
        }
    };
}

/// A fresh scratch directory, unique to this process and thread.
pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("criurs-test-{tag}-{}-{:?}", std::process::id(), std::thread::current().id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// The kernel's PID_MAX_LIMIT (2^22 on 64-bit): `kernel.pid_max` can be
/// set no higher, and every pid is below pid_max.
const PID_MAX_LIMIT: i32 = 1 << 22;

/// A pid for a fake procfs that no task can have (the test process's
/// own included): `n` above PID_MAX_LIMIT. Code that also asks the live
/// system about its own pid then never mistakes a fake task for itself.
pub fn fake_pid(n: i32) -> i32 {
    assert!((0..1 << 20).contains(&n), "fake pid offset {n} out of range");
    PID_MAX_LIMIT + n
}

#[test]
fn fake_pids_are_above_this_kernels_pid_max() {
    let pid_max: i32 = fs::read_to_string("/proc/sys/kernel/pid_max").unwrap().trim().parse().unwrap();
    assert!(fake_pid(0) >= pid_max, "pid_max {pid_max}");
    assert!(!Path::new(&format!("/proc/{}", fake_pid(0))).exists());
}

/// Makes a fake `/proc/PID` with `stat` and one thread's children file.
pub fn fake_task(root: &Path, pid: i32, state: char, children: &[i32]) {
    let dir = root.join(pid.to_string());
    fs::create_dir_all(dir.join("task").join(pid.to_string())).unwrap();
    fs::write(dir.join("stat"), format!("{pid} (a b) c) {state} 1 1 1\n")).unwrap();
    let kids: Vec<String> = children.iter().map(|c| c.to_string()).collect();
    fs::write(dir.join("task").join(pid.to_string()).join("children"), kids.join(" ") + " ").unwrap();
}

/// Makes fake `/proc/WHO/ns/KIND` links (`who`: a pid or "thread-self").
pub fn fake_ns(root: &Path, who: &str, kinds: &[(NsKind, u64)]) {
    let dir = root.join(who).join("ns");
    fs::create_dir_all(&dir).unwrap();
    for (kind, kid) in kinds {
        std::os::unix::fs::symlink(format!("{}:[{kid}]", kind.name()), dir.join(kind.name())).unwrap();
    }
}

/// A file of CRIU 4.2's userns-mounts fixture (a tree in its own user
/// and mount namespaces: maps, mountinfo, CRIU's images).
pub fn fixture(name: &str) -> Vec<u8> {
    fixture_in("userns-mounts", name)
}

/// A file of one CRIU 4.2 fixture: `set` is "userns-mounts" or
/// "ns-sockets" (tests/fixtures/criu-4.2/SET/NAME).
pub fn fixture_in(set: &str, name: &str) -> Vec<u8> {
    let path = fixture_dir(set).join(name);
    fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

pub fn fixture_dir(set: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/criu-4.2").join(set)
}

/// Live namespaces: a shell in a new private mount namespace builds the
/// mounts of a script, then waits on stdin; dropping the guard ends it
/// (and with it the namespace and every mount in it) and removes the
/// base directory. Needs root.
///
/// The shell is started through an intermediate that exits at once, so
/// it is not our descendant: other tests that collect this process's
/// own tree never see its namespace.
pub struct NsShell {
    pid: i32,
    ctl: Option<std::process::ChildStdin>,
    dir: std::path::PathBuf,
    pub base: std::path::PathBuf,
}

impl NsShell {
    pub fn start(tag: &str, script: &str) -> NsShell {
        let full = format!("set -e\nB=\"$1\"\n{script}\necho \"$$ ready\"\nread x || true\n");
        Self::spawn(tag, &["--mount", "--propagation", "private"], &full)
    }

    /// `script` runs under `unshare ARGS` with the base directory as $1;
    /// it prints "PID ready" (PID: the tree root) and ends when stdin
    /// does.
    pub fn spawn(tag: &str, unshare_args: &[&str], script: &str) -> NsShell {
        use std::process::Stdio;
        let dir = std::env::temp_dir().join(format!("criurs-mnt-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let base = dir.join("base");
        std::fs::create_dir_all(&base).unwrap();
        // setsid -f forks and returns: the shell is reparented away.
        let mut setsid = Command::new("setsid")
            .args(["-f", "unshare"])
            .args(unshare_args)
            .args(["sh", "-c", script, "sh"])
            .arg(&base)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("setsid and unshare are installed (util-linux)");
        let ctl = setsid.stdin.take();
        let out = setsid.stdout.take().unwrap();
        let _ = setsid.wait();
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line).unwrap();
        let pid = line.split_whitespace().next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let shell = NsShell { pid, ctl, dir, base };
        assert!(line.trim().ends_with("ready") && pid > 0, "the namespace script failed (run as root): {line:?}");
        shell
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }
}

impl Drop for NsShell {
    fn drop(&mut self) {
        drop(self.ctl.take()); // EOF: the script's `read` returns and it exits
        if self.pid <= 0 {
            return;
        }
        for _ in 0..500 {
            match std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) {
                Ok(stat) if !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z') => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                _ => break,
            }
        }
        let _ = std::fs::remove_dir(&self.base);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Live process trees in new namespaces, for the rooms that need a
/// whole tree (namespace ids, network namespaces). Needs root.
/// A tree built by a shell script that is not our descendant (started
/// through `setsid -f`), so other tests collecting this process never
/// meet it. The script prints `NAME PID` lines and `ready`, then waits
/// for stdin to close; the processes it made end with it.
pub struct LiveTree {
    ctl: Option<std::process::ChildStdin>,
    pids: std::collections::BTreeMap<String, i32>,
}

/// Shell words that print `NAME HOSTPID` from the shell running them: the
/// shell's own read of /proc/self names it by its pid in our namespace.
pub fn announce(name: &str) -> String {
    format!("read hostpid rest </proc/self/stat; echo {name} $hostpid")
}

impl LiveTree {
    pub fn start(script: &str, names: &[&str]) -> LiveTree {
        let mut setsid = Command::new("setsid")
            .args(["-f", "sh", "-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("setsid and unshare are installed (util-linux)");
        let ctl = setsid.stdin.take();
        let out = BufReader::new(setsid.stdout.take().unwrap());
        let _ = setsid.wait();
        let mut tree = LiveTree { ctl, pids: std::collections::BTreeMap::new() };
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

    pub fn pid(&self, name: &str) -> i32 {
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

pub fn kid_of(pid: i32, link: &str) -> u64 {
    let target = std::fs::read_link(format!("/proc/{pid}/ns/{link}")).unwrap();
    let text = target.to_string_lossy().into_owned();
    text.split(['[', ']']).nth(1).unwrap().parse().unwrap()
}
