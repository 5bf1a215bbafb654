//! The `criurs` command as a user runs it: JSON that parses and agrees with
//! /proc and `ss`, and one clear line with status 1 for each bad input.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const CRIURS: &str = env!("CARGO_BIN_EXE_criurs");

/// The demo's sandbox (new user, mount, net, pid, uts, ipc namespaces with
/// mounts and sockets), built from demo/sandbox.c and stopped on drop.
struct Sandbox {
    holder: Child,
    pid: i32,
    base: PathBuf,
}

impl Sandbox {
    fn start(tag: &str) -> Sandbox {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let bin = std::env::temp_dir().join(format!("criurs-cli-sandbox-{}-{tag}", std::process::id()));
        let cc = Command::new("cc")
            .args(["-std=gnu11", "-O2", "-o"])
            .arg(&bin)
            .arg(root.join("demo/sandbox.c"))
            .status()
            .expect("run cc");
        assert!(cc.success(), "build demo/sandbox.c");
        let base = std::env::temp_dir().join(format!("criurs-cli-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&base).unwrap();
        let mut holder = Command::new(&bin)
            .arg(&base)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the sandbox");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(holder.stdout.take().unwrap()), &mut line).unwrap();
        let pid = line.trim().parse().expect("sandbox prints its pid");
        let _ = std::fs::remove_file(&bin);
        Sandbox { holder, pid, base }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        drop(self.holder.stdin.take()); // EOF: the holder kills the sandbox
        let _ = self.holder.wait();
        let _ = std::fs::remove_dir(&self.base);
    }
}

/// Whether the tests run as root; `false` says why the calling test is
/// skipped (as the library's `needs_root!`; a failure under
/// `CRIURS_ROOT_TESTS=required`, which `make check` sets).
fn root_or_skip() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    let name = std::thread::current().name().unwrap_or("this test").to_string();
    if std::env::var("CRIURS_ROOT_TESTS").as_deref() == Ok("required") {
        panic!("{name} needs root (namespaces, setpriv) and CRIURS_ROOT_TESTS=required: run make check as root");
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped: {name} needs root (namespaces, setpriv); make check runs it as root");
    false
}

macro_rules! needs_root {
    () => {
        if !root_or_skip() {
            return;
        }
    };
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(CRIURS).args(args).output().expect("run criurs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_one_line_error(args: &[&str], want: &str) {
    let (code, _, err) = run(args);
    assert_eq!(code, 1, "{args:?}: status");
    assert_eq!(err.lines().count(), 1, "{args:?}: one line on stderr: {err:?}");
    assert!(err.starts_with("criurs: ") && err.contains(want), "{args:?}: {err:?}");
}

#[test]
fn show_json_agrees_with_mountinfo_and_ss() {
    needs_root!();
    let sb = Sandbox::start("json");
    let pid = sb.pid.to_string();
    let (code, out, err) = run(&["show", "-t", &pid, "--json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    let namespaces = doc["namespaces"].as_array().unwrap();
    let ns_of = |kind: &str| {
        namespaces.iter().find(|n| n["kind"] == kind && n["type"] == "root").unwrap_or_else(|| panic!("root {kind} ns"))
    };
    for kind in ["user", "mnt", "net", "pid", "uts", "ipc"] {
        let link = std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).unwrap();
        let kid = ns_of(kind)["kid"].as_u64().unwrap();
        assert_eq!(link.to_str().unwrap(), format!("{kind}:[{kid}]"));
    }
    // Mounts: one record per line of the sandbox's mountinfo.
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    let mounts = doc["mounts"].as_array().unwrap();
    assert_eq!(mounts.len(), mountinfo.lines().count());
    let mnt_id = ns_of("mnt")["id"].clone();
    assert!(mounts.iter().all(|m| m["ns_id"] == mnt_id));
    let shared: Vec<_> = mounts.iter().filter(|m| m["shared_id"].as_u64() != Some(0)).collect();
    assert_eq!(shared.len(), 2, "the sandbox's shared pair");
    // Sockets: what ss lists in the namespace, less ss's own sock_diag socket.
    let ss = Command::new("nsenter")
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .args(["ss", "-a", "-n", "-H", "-f", "netlink", "-f", "unix", "-f", "inet", "-f", "inet6", "-f", "link"])
        .output()
        .expect("run ss");
    let ss_lines = String::from_utf8_lossy(&ss.stdout).lines().count();
    let sockets = doc["sockets"].as_array().unwrap();
    assert_eq!(sockets.len(), ss_lines - 1, "ss: {}", String::from_utf8_lossy(&ss.stdout));
    let listener = sockets.iter().find(|s| s["state"] == "LISTEN").expect("TCP listener");
    assert_eq!((listener["src_port"].as_u64(), listener["src_addr"][0].as_str()), (Some(8080), Some("127.0.0.1")));
    assert_eq!(doc["userns"][0]["uid_map"][0]["lower_first"], 100000);
}

#[test]
fn show_text_has_every_section() {
    needs_root!();
    let sb = Sandbox::start("text");
    let (code, out, err) = run(&["show", "-t", &sb.pid.to_string()]);
    assert_eq!(code, 0, "{err}");
    for section in ["NAMESPACES", "USER NAMESPACE", "MOUNTS OF MOUNT NAMESPACE", "SOCKETS OF NET NAMESPACE"] {
        assert!(out.contains(section), "{section} missing:\n{out}");
    }
    // The two peers show one peer group (its number is the kernel's, global
    // to the machine: any N, the same for both).
    let group = |mnt: &str| {
        out.lines().find(|l| l.contains(mnt)).and_then(|l| l.split_whitespace().find(|w| w.starts_with("shared:"))).map(str::to_string)
    };
    assert!(group("/shared1").is_some() && group("/shared1") == group("/shared2"), "{out}");
    assert!(out.contains("127.0.0.1:8080"), "{out}");
}

#[test]
fn dump_writes_images_crit_decodes() {
    needs_root!();
    let sb = Sandbox::start("dump");
    let dir = sb.base.with_extension("images");
    std::fs::create_dir_all(&dir).unwrap();
    let (code, out, err) = run(&["dump", "-t", &sb.pid.to_string(), "-D", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let written: Vec<&str> = out.lines().collect();
    // userns, mountpoints, then dump_namespaces': the root's ids (pid 1 of
    // its pid namespace), uts, four ipc images, timens-0 (the caller's
    // clocks: the sandbox shares our time namespace) and its net
    // namespace's images (netdev, netns, nftables and the ip-save streams).
    let mut names: Vec<&str> = written.iter().map(|p| p.rsplit('/').next().unwrap()).collect();
    names.sort();
    let prefixes: Vec<String> = names.iter().map(|n| n.trim_end_matches(".img").trim_end_matches(char::is_numeric).to_string()).collect();
    assert_eq!(
        prefixes,
        [
            "ids-", "ifaddr-", "ipcns-msg-", "ipcns-sem-", "ipcns-shm-", "ipcns-var-", "mountpoints-", "netdev-", "netns-", "nftables-",
            "route-", "route6-", "rule-", "timens-", "userns-", "utsns-"
        ],
        "{out}"
    );
    assert!(names.contains(&"ids-1.img") && names.contains(&"timens-0.img"), "{out}");
    // crit decodes CRIU's protobuf images; the raw ones (ip-save streams,
    // nft's text) are read by ip and nft, not by crit.
    let raw = ["ifaddr-", "route-", "route6-", "rule-", "nftables-"];
    for path in written.iter().filter(|p| !raw.iter().any(|r| p.rsplit('/').next().unwrap().starts_with(r))) {
        let crit = Command::new("crit").args(["decode", "-i", path]).output().expect("run crit");
        assert!(crit.status.success(), "crit decode {path}: {}", String::from_utf8_lossy(&crit.stderr));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_inputs_are_one_line_and_status_1() {
    needs_root!();
    assert_one_line_error(&["show", "-t", "2147483600"], "pid 2147483600 does not exist");
    assert_one_line_error(&["show", "-t", "0"], "pid 0");
    assert_one_line_error(&["dump", "-t", "1", "-D", "/nonexistent/criurs"], "/nonexistent/criurs");
    // Not allowed to inspect pid 1 as nobody.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", CRIURS, "show", "-t", "1"])
        .output()
        .expect("run setpriv");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("pid 1") && err.contains("Permission denied"), "{err}");
    // A read-only images directory, for a tree that has images to write.
    let sb = Sandbox::start("ro");
    let dir = sb.base.with_extension("ro");
    std::fs::create_dir_all(&dir).unwrap();
    let script = format!("mount -t tmpfs -o ro none {0} && exec {CRIURS} dump -t {1} -D {0}", dir.display(), sb.pid);
    let out = Command::new("unshare").args(["--mount", "--propagation", "private", "sh", "-c", &script]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("Read-only file system"), "{err}");
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn show_json_of_this_process_agrees_with_its_mountinfo() {
    let me = std::process::id().to_string();
    let (code, out, err) = run(&["show", "-t", &me, "--json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    // Other tests' sandboxes are our children, in namespaces of their own;
    // CRIU's walk visits theirs first, then our own (the root's).
    let namespaces = doc["namespaces"].as_array().unwrap();
    let own_mnt = namespaces.iter().find(|n| n["kind"] == "mnt").unwrap().clone();
    assert_eq!(own_mnt["type"], "own");
    let mountinfo = std::fs::read_to_string(format!("/proc/{me}/mountinfo")).unwrap();
    let ids: std::collections::BTreeSet<u64> =
        mountinfo.lines().map(|l| l.split(' ').next().unwrap().parse().unwrap()).collect();
    let mounts = doc["mounts"].as_array().unwrap();
    let ours: std::collections::BTreeSet<u64> =
        mounts.iter().filter(|m| m["ns_id"] == own_mnt["id"]).map(|m| m["mnt_id"].as_u64().unwrap()).collect();
    assert_eq!(ours, ids, "one record per mountinfo line, same mount ids");
    let type_of = |id: &serde_json::Value| namespaces.iter().find(|n| &n["id"] == id).unwrap()["type"].clone();
    assert!(mounts.iter().all(|m| m["ns_id"] == own_mnt["id"] || type_of(&m["ns_id"]) == "other"));
    assert!(!doc["sockets"].as_array().unwrap().is_empty());
}
