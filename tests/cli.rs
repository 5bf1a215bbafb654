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
    // namespace's images (netdev, netns, nftables and the ip-save streams),
    // then its tasks' sockets (files, fdinfo-N, sk-queues).
    let mut names: Vec<&str> = written.iter().map(|p| p.rsplit('/').next().unwrap()).collect();
    names.sort();
    let prefixes: Vec<String> = names.iter().map(|n| n.trim_end_matches(".img").trim_end_matches(char::is_numeric).to_string()).collect();
    assert_eq!(
        prefixes,
        [
            "fdinfo-", "files", "ids-", "ifaddr-", "ipcns-msg-", "ipcns-sem-", "ipcns-shm-", "ipcns-var-", "mountpoints-", "netdev-",
            "netns-", "nftables-", "route-", "route6-", "rule-", "sk-queues", "timens-", "userns-", "utsns-"
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

// ---- show's sections and filters ----

fn json_of(args: &[&str]) -> serde_json::Value {
    let (code, out, err) = run(args);
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{out}"))
}

fn keys(doc: &serde_json::Value) -> Vec<String> {
    doc.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn show_sections_and_filters() {
    let sb = Sandbox::start("filters");
    let pid = sb.pid.to_string();
    let all = json_of(&["show", "-t", &pid, "--json"]);
    assert_eq!(
        keys(&all),
        ["addresses", "ipc", "links", "mounts", "namespaces", "routes", "sockets", "time", "userns", "uts"],
        "every section by default"
    );
    let net = all["namespaces"].as_array().unwrap().iter().find(|n| n["kind"] == "net" && n["type"] == "root").unwrap();
    let net_id = net["id"].as_u64().unwrap().to_string();

    // Sections: only those named, in JSON and in text.
    let doc = json_of(&["show", "-t", &pid, "--json", "--mounts", "--userns"]);
    assert_eq!(keys(&doc), ["mounts", "userns"]);
    assert_eq!(doc["mounts"], all["mounts"]);
    let (code, out, _) = run(&["show", "-t", &pid, "--namespaces"]);
    assert_eq!(code, 0);
    assert!(out.contains("NAMESPACES") && !out.contains("MOUNTS OF") && !out.contains("SOCKETS OF"), "{out}");

    // A namespace id: each section keeps that namespace's records only.
    let doc = json_of(&["show", "-t", &pid, "--json", "--ns", &net_id]);
    let ns = doc["namespaces"].as_array().unwrap();
    assert_eq!(ns.len(), 1);
    assert_eq!(ns[0]["kind"], "net");
    assert!(doc["mounts"].as_array().unwrap().is_empty() && doc["userns"].as_array().unwrap().is_empty());
    let sockets = doc["sockets"].as_array().unwrap();
    assert!(!sockets.is_empty() && sockets.iter().all(|s| s["ns_id"].to_string() == net_id));

    // A family, as ss -t: sockets only, TCP only, in both views.
    let doc = json_of(&["show", "-t", &pid, "--json", "--family", "tcp"]);
    assert_eq!(keys(&doc), ["sockets"]);
    let tcp = doc["sockets"].as_array().unwrap();
    assert!(!tcp.is_empty() && tcp.iter().all(|s| s["proto"] == 6 && s["type"] == "stream"), "{tcp:?}");
    let (_, out, _) = run(&["show", "-t", &pid, "-f", "tcp"]);
    let rows: Vec<&str> = out.lines().skip(2).collect();
    assert_eq!(rows.len(), tcp.len(), "{out}");
    assert!(rows.iter().all(|r| r.starts_with("tcp ")), "{out}");
    let doc = json_of(&["show", "-t", &pid, "--json", "-f", "udp,tcp", "--namespaces", "--sockets"]);
    assert_eq!(keys(&doc), ["namespaces", "sockets"]);
    let udp = doc["sockets"].as_array().unwrap().iter().filter(|s| s["proto"] == 17).count();
    assert_eq!(doc["sockets"].as_array().unwrap().len(), tcp.len() + udp);
    assert!(udp > 0, "the sandbox's UDP socket");
    let doc = json_of(&["show", "-t", &pid, "--json", "-f", "unix"]);
    assert!(doc["sockets"].as_array().unwrap().iter().all(|s| s["family"] == "unix"));

    // Bad filters: one line, status 1.
    assert_one_line_error(&["show", "-t", &pid, "--ns", "999"], "--ns 999: no namespace with that id");
    assert_one_line_error(&["show", "-t", &pid, "--family", "bluetooth"], "invalid value 'bluetooth' for '--family");
    assert_one_line_error(&["show", "-t", &pid, "--ns", "x"], "invalid value 'x' for '--ns");
    assert_one_line_error(&["show"], "--tree");
    assert_one_line_error(&["frob"], "unrecognized subcommand 'frob'");
}

#[test]
fn dump_summary_counts_what_it_wrote() {
    let sb = Sandbox::start("plural");
    let dir = sb.base.with_extension("plural");
    std::fs::create_dir_all(&dir).unwrap();
    let (code, out, err) = run(&["dump", "-t", &sb.pid.to_string(), "-D", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let listed = out.lines().count();
    assert_eq!(err.trim_end(), format!("criurs: wrote {listed} images into {}", dir.display()));
    assert_eq!(listed, std::fs::read_dir(&dir).unwrap().count(), "every image listed, nothing else written");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One dump is one transaction: an image that cannot be named at the end
/// (a directory planted at `ids-1.img`, the last kind written) leaves none
/// of the images staged before it (userns-N, mountpoints-N, ...).
#[test]
fn failed_dump_leaves_no_image_of_it() {
    needs_root!();
    let sb = Sandbox::start("planted");
    let dir = sb.base.with_extension("planted");
    std::fs::create_dir_all(dir.join("ids-1.img")).unwrap();
    let (code, out, err) = run(&["dump", "-t", &sb.pid.to_string(), "-D", dir.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains("ids-1.img"), "the error names the image: {err}");
    let left: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(left, ["ids-1.img"], "only the planted directory is left");
    std::fs::remove_dir(dir.join("ids-1.img")).unwrap();
    let (code, out, err) = run(&["dump", "-t", &sb.pid.to_string(), "-D", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().any(|l| l.ends_with("/ids-1.img")) && out.lines().any(|l| l.contains("/userns-")), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- hostile names and paths ----

/// A forked child in new namespaces that has made what `setup` makes and
/// waits; killed and reaped on drop. `setup` runs between fork and exit,
/// so it may only make system calls on memory prepared before the fork.
struct Hostile {
    pid: i32,
}

impl Hostile {
    fn start(setup: impl FnOnce() -> bool) -> Hostile {
        let mut fds = [0; 2];
        // SAFETY: pipe fills the two-int array.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: the child runs only `setup` (system calls on memory made
        // before the fork), write and pause, and leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            // Other tests' pipes came along with the fork: drop them, so
            // their children see EOF when their tests end, not when we do.
            let keep = fds[1] as libc::c_uint;
            // SAFETY: close_range on fd numbers; ours is kept.
            unsafe {
                libc::syscall(libc::SYS_close_range, 3 as libc::c_uint, keep - 1, 0 as libc::c_uint);
                libc::syscall(libc::SYS_close_range, keep + 1, libc::c_uint::MAX, 0 as libc::c_uint);
            }
            let ok = setup();
            // SAFETY: raw system calls in the child; never returns.
            unsafe {
                libc::write(fds[1], if ok { b"1".as_ptr() } else { b"0".as_ptr() }.cast(), 1);
                if ok {
                    loop {
                        libc::pause();
                    }
                }
                libc::_exit(1);
            }
        }
        // SAFETY: closing our copy of the write end; reading one byte.
        let mut byte = 0u8;
        unsafe {
            libc::close(fds[1]);
            libc::read(fds[0], (&mut byte as *mut u8).cast(), 1);
            libc::close(fds[0]);
        }
        let child = Hostile { pid };
        assert_eq!(byte, b'1', "the hostile child's setup failed");
        child
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        // SAFETY: our own child: kill and reap it.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}

const FORGED: &[u8] = b"\0\x1b[31mX\nu_str LISTEN 0 0 @forged * 0 1 forged row";

#[test]
fn hostile_socket_name_cannot_forge_a_row_or_color_the_terminal() {
    // Everything the child uses is made here, before the fork.
    // SAFETY: sockaddr_un is plain data; zeroed is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (dst, &src) in addr.sun_path.iter_mut().zip(FORGED) {
        *dst = src as libc::c_char;
    }
    let len = (std::mem::size_of::<libc::sa_family_t>() + FORGED.len()) as libc::socklen_t;
    let child = Hostile::start(move || {
        // SAFETY: system calls on `addr`, copied into the child.
        unsafe {
            if libc::unshare(libc::CLONE_NEWNET) != 0 {
                return false;
            }
            let sk = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
            let nl = libc::socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE);
            sk >= 0
                && nl >= 0
                && libc::bind(sk, (&addr as *const libc::sockaddr_un).cast(), len) == 0
                && libc::listen(sk, 4) == 0
        }
    });
    let pid = child.pid.to_string();
    let doc = json_of(&["show", "-t", &pid, "--sockets", "--json"]);
    let sockets = doc["sockets"].as_array().unwrap();
    let out = Command::new(CRIURS).args(["show", "-t", &pid, "--sockets"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!out.stdout.contains(&0x1b), "an escape byte reached the terminal: {:?}", String::from_utf8_lossy(&out.stdout));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Title, header, one row per socket (the listener, ours and the
    // kernel's netlink sockets): nothing forged.
    assert_eq!(lines.len(), 2 + sockets.len(), "{text}");
    let row = lines.iter().find(|l| l.starts_with("u_str")).expect("the listener's row");
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols.len(), 8, "one token per column: {row}");
    assert_eq!(cols[4], r"@\x1b[31mX\x0au_str\x20LISTEN\x200\x200\x20@forged\x20*\x200\x201\x20forged\x20row");
    assert_eq!(lines.iter().filter(|l| l.contains("LISTEN")).count(), 1, "{text}");

    // JSON: the exact name back, and sock_diag's flags are not CRIU's `flags`.
    let listener = sockets.iter().find(|s| s["family"] == "unix").unwrap();
    assert_eq!(listener["name"].as_str().unwrap().as_bytes(), FORGED);
    let netlink = sockets.iter().find(|s| s["family"] == "netlink").expect("the netlink socket");
    assert!(netlink.get("flags").is_none() && netlink.get("diag_flags").is_some(), "{netlink}");
    assert!(sockets.iter().all(|s| s.get("flags").is_none()));
}

#[test]
fn hostile_mount_paths_print_unambiguously() {
    let base = std::env::temp_dir().join(format!("criurs-cli-{}-esc", std::process::id()));
    let names: [&[u8]; 3] = [b"lit\\134eral", b"lit\neral", b"sp ace\x1b[2J"];
    let dirs: Vec<PathBuf> = names.iter().map(|n| base.join(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(n))).collect();
    for d in &dirs {
        std::fs::create_dir_all(d).unwrap();
    }
    let cstr = |b: &[u8]| std::ffi::CString::new(b).unwrap();
    let targets: Vec<std::ffi::CString> = dirs.iter().map(|d| cstr(d.as_os_str().as_encoded_bytes())).collect();
    let (root, tmpfs, source, opts) = (cstr(b"/"), cstr(b"tmpfs"), cstr(b"\x1b[31mevil\nforged source"), cstr(b"size=16k"));
    let child = Hostile::start(|| {
        // SAFETY: system calls on C strings made before the fork.
        unsafe {
            if libc::unshare(libc::CLONE_NEWNS) != 0
                || libc::mount(std::ptr::null(), root.as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_PRIVATE, std::ptr::null()) != 0
            {
                return false;
            }
            targets.iter().all(|t| libc::mount(source.as_ptr(), t.as_ptr(), tmpfs.as_ptr(), 0, opts.as_ptr().cast()) == 0)
        }
    });
    let pid = child.pid.to_string();
    let out = Command::new(CRIURS).args(["show", "-t", &pid, "--mounts"]).output().unwrap();
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    drop(child);
    for d in &dirs {
        std::fs::remove_dir(d).unwrap();
    }
    std::fs::remove_dir(&base).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!out.stdout.contains(&0x1b), "an escape byte reached the terminal");
    let text = String::from_utf8(out.stdout).unwrap();
    // Title, header, one row per mount.
    assert_eq!(text.lines().count(), 2 + mountinfo.lines().count(), "{text}");
    assert!(text.contains(r"/lit\x5c134eral "), "{text}");
    assert!(text.contains(r"/lit\x0aeral "), "{text}");
    assert!(text.contains(r"/sp\x20ace\x1b[2J "), "{text}");
    assert_eq!(text.matches(r"\x1b[31mevil\x0aforged\x20source ").count(), 3, "{text}");
}

// ---- the manual ----

/// doc/criurs.1 as plain text: roff's escaped minus signs and font
/// switches removed, so option names read as they are typed.
fn man_text() -> String {
    let man = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("doc/criurs.1")).unwrap();
    man.replace("\\-", "-").replace("\\fI", "").replace("\\fR", "").replace("\\fB", "")
}

#[test]
fn man_page_describes_every_command_and_option_of_help() {
    let man = man_text();
    let mut checked = 0;
    for sub in [None, Some("show"), Some("dump"), Some("check")] {
        let mut args: Vec<&str> = sub.into_iter().collect();
        args.push("--help");
        let (code, help, _) = run(&args);
        assert_eq!(code, 0, "{args:?}");
        for word in help.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']') {
            let opt = word.trim_end_matches("...");
            let is_opt = opt.len() > 1 && opt.starts_with('-') && opt[1..].chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if is_opt {
                assert!(man.contains(opt), "`criurs {}` has {opt}, doc/criurs.1 does not", sub.unwrap_or(""));
                checked += 1;
            }
        }
        if sub.is_none() {
            for cmd in ["show", "dump", "check", "help"] {
                assert!(man.contains(&format!(".B {cmd}\n")), "doc/criurs.1 describes no command {cmd}");
            }
        }
    }
    assert!(checked >= 14, "the --help outputs named {checked} options");
    // Every --family value, with the name ss uses.
    let (_, help, _) = run(&["show", "--help"]);
    let values = help.split("Possible values:").nth(1).expect("--family lists its values");
    for line in values.lines().map(str::trim).filter(|l| l.starts_with("- ")) {
        let value = line[2..].split(':').next().unwrap().trim();
        assert!(man.contains(value), "--family {value} is not in doc/criurs.1");
    }
    assert!(man.contains(&format!("criurs {}", env!("CARGO_PKG_VERSION"))), "the man page's version");
}

#[test]
fn man_page_renders_without_warnings() {
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("doc/criurs.1");
    // groff comes with `make deps` (groff-base); -ww: every warning, -z: no output.
    let out = Command::new("groff").args(["-man", "-Tutf8", "-ww", "-z"]).arg(&page).output().expect("run groff (make deps installs it)");
    assert!(out.status.success() && out.stderr.is_empty(), "groff: {}", String::from_utf8_lossy(&out.stderr));
    // -P-cbu: plain text, no SGR, no overstriking.
    let out = Command::new("groff").args(["-man", "-Tutf8", "-P-cbu"]).arg(&page).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for heading in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "OUTPUT", "JSON", "EXIT STATUS", "EXAMPLES"] {
        assert!(text.lines().any(|l| l == heading), "rendered page has no {heading} section");
    }
}

// ---- network links, addresses and routes ----

/// A shell in a new network namespace that ran `setup`, then waits; killed
/// and reaped on drop.
struct NetHolder {
    child: Child,
    pid: i32,
}

impl NetHolder {
    fn start(setup: &str) -> NetHolder {
        let script = format!("{setup} && read hostpid rest </proc/self/stat && echo $hostpid && exec sleep 600");
        let mut child = Command::new("unshare")
            .args(["--net", "sh", "-c", &script])
            .stdout(Stdio::piped())
            .spawn()
            .expect("run unshare");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
        let pid = line.trim().parse().unwrap_or_else(|_| panic!("the network setup failed: {line:?}"));
        NetHolder { child, pid }
    }

    /// A command run inside the namespace; its stdout.
    fn inside(&self, args: &[&str]) -> String {
        let out = Command::new("nsenter").arg(format!("--net=/proc/{}/ns/net", self.pid)).args(args).output().expect("run nsenter");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for NetHolder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The rows of one section's table (after its title and heading lines).
fn rows<'a>(out: &'a str, title: &str, headings: usize) -> Vec<&'a str> {
    let start = out.lines().position(|l| l.starts_with(title)).unwrap_or_else(|| panic!("no {title} in {out}"));
    out.lines().skip(start + 1 + headings).take_while(|l| !l.is_empty()).collect()
}

#[test]
fn network_sections_print_what_ip_prints() {
    needs_root!();
    // The name of vE holds an escape sequence: it must not reach the terminal.
    let net = NetHolder::start(
        "ip link set lo up && ip addr add 10.11.12.13/8 dev lo && \
         ip link add vA address 02:00:00:aa:bb:01 type veth peer name vB address 02:00:00:aa:bb:02 && \
         ip link set vA mtu 1400 && ip addr add 192.168.77.1/24 dev vA && ip addr add 192.168.77.2/24 dev vB && \
         ip -6 addr add fd00:77::1/64 dev vA nodad && ip link set vA up && ip link set vB up && \
         ip route add 10.200.0.0/16 via 192.168.77.2 dev vA && ip route add 10.201.0.0/16 dev vB metric 7 && \
         ip link add vx0 type vxlan id 5 dstport 4789 && ip link add \"$(printf 'vE\\033[31m')\" type veth peer name vF",
    );
    let pid = net.pid.to_string();
    let (code, out, err) = run(&["show", "-t", &pid, "--links", "--addresses", "--routes"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains('\x1b'), "no escape byte reaches the terminal: {out:?}");
    assert!(out.contains("vE\\x1b[31m"), "{out}");
    let trimmed = |s: &str| s.lines().map(|l| l.trim_end().to_string()).collect::<Vec<_>>();
    // Routes: line for line what `ip route; ip -6 route` print.
    let mut ip_routes = trimmed(&net.inside(&["ip", "route"]));
    ip_routes.extend(trimmed(&net.inside(&["ip", "-6", "route"])));
    assert_eq!(rows(&out, "ROUTES OF NET NAMESPACE", 0), ip_routes);
    // Links and addresses, as ip -br prints them (the escaped name aside).
    let ip_links = trimmed(&net.inside(&["ip", "-br", "link"]));
    let links = rows(&out, "LINKS OF NET NAMESPACE", 1);
    assert_eq!(links.len(), ip_links.len());
    for (ours, theirs) in links.iter().zip(&ip_links).filter(|(_, t)| !t.contains('\x1b')) {
        assert!(ours.starts_with(theirs.as_str()), "{ours:?} does not start as ip's {theirs:?}");
    }
    let ip_addrs = trimmed(&net.inside(&["ip", "-br", "addr"]));
    let addrs = rows(&out, "ADDRESSES OF NET NAMESPACE", 1);
    for (ours, theirs) in addrs.iter().zip(&ip_addrs).filter(|(_, t)| !t.contains('\x1b')) {
        assert_eq!(ours, theirs);
    }
    // What a dump makes of each link.
    let vx = links.iter().find(|l| l.starts_with("vx0 ")).unwrap();
    assert!(vx.ends_with("refuse: Unsupported link 4 (type 1 kind vxlan)"), "{vx}");
    assert!(links.iter().find(|l| l.starts_with("vA@vB ")).unwrap().contains(" 1400  veth     veth"), "{links:?}");

    // JSON: CRIU's NetDeviceEntry names for links, ip -j's for the rest.
    let doc = json_of(&["show", "-t", &pid, "--json", "--links", "--addresses", "--routes"]);
    assert_eq!(keys(&doc), ["addresses", "links", "routes"]);
    let va = doc["links"].as_array().unwrap().iter().find(|l| l["name"] == "vA").unwrap();
    assert_eq!((&va["type"], &va["mtu"], &va["address"], &va["dump"]), (&"veth".into(), &1400.into(), &"02:00:00:aa:bb:01".into(), &"dump".into()));
    assert_eq!(va["peer_ifindex"], doc["links"].as_array().unwrap().iter().find(|l| l["name"] == "vB").unwrap()["ifindex"]);
    let ve = doc["links"].as_array().unwrap().iter().find(|l| l["name_hex"].is_null() && l["name"].as_str().is_some_and(|n| n.starts_with("vE"))).unwrap();
    assert_eq!(ve["name"], "vE\u{1b}[31m", "JSON keeps the exact name (UTF-8: no _hex)");
    let route = doc["routes"].as_array().unwrap().iter().find(|r| r["dst"] == "10.201.0.0/16").unwrap();
    assert_eq!((&route["dev"], &route["metric"], &route["protocol"]), (&"vB".into(), &7.into(), &"boot".into()));
    let addr = doc["addresses"].as_array().unwrap().iter().find(|a| a["local"] == "fd00:77::1").unwrap();
    assert_eq!((&addr["ifname"], &addr["prefixlen"], &addr["family"]), (&"vA".into(), &64.into(), &"inet6".into()));
}

// ---- uts, time and ipc ----

/// `unshare` running a shell as pid 1 of new pid, mount, uts, ipc and
/// time namespaces (monotonic clock 500 s ahead), which names itself
/// with `NAME PID` lines before it sleeps; killed with its tree on drop.
struct Unshared {
    child: Child,
    root: i32,
}

impl Unshared {
    fn start(script: &str) -> Unshared {
        let full = format!("{script}\nread hostpid rest </proc/self/stat; echo root $hostpid; exec sleep 1000");
        let mut child = Command::new("unshare")
            .args(["--fork", "--pid", "--mount", "--uts", "--ipc", "--time", "--monotonic", "500", "--propagation", "private"])
            .args(["--kill-child", "sh", "-c", &full])
            .stdout(Stdio::piped())
            .spawn()
            .expect("unshare is installed (util-linux)");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
        let root = line.trim().strip_prefix("root ").and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{line:?}"));
        Unshared { child, root }
    }
}

impl Drop for Unshared {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nsenter(pid: i32, flag: &str, cmd: &[&str]) -> String {
    let out = Command::new("nsenter").args(["-t", &pid.to_string(), flag]).args(cmd).output().unwrap();
    assert!(out.status.success(), "nsenter {flag} {cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn show_uts_time_and_ipc_as_the_namespaces_have_them() {
    let tree = Unshared::start(
        "hostname criurs-show-uts; domainname \"$(printf 'dom\\033[31m')\"; ipcmk -M 8192 >/dev/null; ipcmk -Q >/dev/null; ipcmk -S 3 >/dev/null",
    );
    let pid = tree.root.to_string();
    let doc = json_of(&["show", "-t", &pid, "--json", "--uts", "--time", "--ipc"]);
    let uts = doc["uts"].as_array().unwrap();
    assert_eq!(uts.len(), 1, "{doc}");
    assert_eq!(uts[0]["nodename"], nsenter(tree.root, "-u", &["hostname"]).trim());
    assert_eq!(uts[0]["domainname"], "dom\u{1b}[31m");
    // The namespace's clock runs 500 s ahead of ours (within the time
    // between the reads).
    let time = doc["time"].as_array().unwrap();
    assert_eq!(time.len(), 1, "{doc}");
    let ours = std::fs::read_to_string("/proc/uptime").unwrap();
    let mono = time[0]["monotonic"]["tv_sec"].as_u64().unwrap();
    let up: f64 = ours.split_whitespace().next().unwrap().parse().unwrap();
    assert!((mono as f64 - up - 500.0).abs() < 30.0, "monotonic {mono} s against uptime {up} s + 500");
    let ipc = &doc["ipc"].as_array().unwrap()[0];
    let shmid: Vec<String> = nsenter(tree.root, "-i", &["ipcs", "-m"]).lines().filter(|l| l.starts_with("0x")).map(str::to_string).collect();
    assert_eq!(shmid.len(), 1);
    assert_eq!(ipc["shm"][0]["size"], 8192);
    assert_eq!(ipc["shm"][0]["desc"]["id"].to_string(), shmid[0].split_whitespace().nth(1).unwrap());
    assert_eq!((ipc["msg"][0]["qnum"].as_u64(), ipc["sem"][0]["nsems"].as_u64()), (Some(0), Some(3)));

    // The text view, the target's names escaped.
    let (code, out, err) = run(&["show", "-t", &pid, "--uts", "--ipc"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("nodename criurs-show-uts domainname dom\\x1b[31m"), "{out}");
    assert!(!out.contains('\u{1b}'), "no escape byte reaches the terminal");
    assert!(out.contains("1 segment, 1 queue, 1 semaphore set"), "{out}");
    // Nothing read was consumed: the queue and segment are still there.
    assert_eq!(nsenter(tree.root, "-i", &["ipcs", "-m"]).lines().filter(|l| l.starts_with("0x")).count(), 1);
}

// ---- check ----

#[test]
fn check_names_the_obstacle_its_fix_escaped_and_the_option_clears_it() {
    if !root_or_skip() {
        return;
    }
    let base = std::env::temp_dir().join(format!("criurs-cli-{}-check", std::process::id()));
    let b = base.to_str().unwrap();
    // A bind of a tmpfs subdirectory whose tmpfs is then unmounted: CRIU's
    // "doesn't have a proper root mount"; its mount point has an escape.
    let tree = Unshared::start(&format!(
        "mkdir -p {b}/a \"{b}/v$(printf '\\033')[31m\" && mount -t tmpfs chk {b}/a && mkdir {b}/a/sub && \
         mount --bind {b}/a/sub \"{b}/v$(printf '\\033')[31m\" && umount -l {b}/a"
    ));
    let pid = tree.root.to_string();
    let out = Command::new(CRIURS).args(["check", "-t", &pid]).output().unwrap();
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(out.status.code(), Some(1), "needs an option: {text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(!out.stdout.contains(&0x1b), "an escape byte reached the terminal: {text}");
    let row = text.lines().find(|l| l.starts_with("needs-option mount-no-proper-root")).unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains(&format!("{b}/v\\x1b[31m")), "{row}");
    assert!(row.contains("--external mnt["), "the fix names the option: {row}");
    assert!(text.contains("> mount-no-proper-root") && text.contains("doesn't have a proper root mount"), "CRIU's line, marked first: {text}");
    // JSON: the exact bytes, the option to pass.
    let (code, out, err) = run(&["check", "-t", &pid, "--json"]);
    assert_eq!(code, 1, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"));
    assert_eq!(doc["verdict"], "needs-options");
    assert_eq!(doc["exit"], 1);
    let f = doc["findings"].as_array().unwrap().iter().find(|f| f["code"] == "mount-no-proper-root").expect("the finding");
    let path = format!("{b}/v\u{1b}[31m");
    assert_eq!(f["object"]["path"], path.as_str());
    assert_eq!(f["severity"], "needs-option");
    assert_eq!(f["criu_source"], "criu/mount.c:validate_mounts");
    let option = f["option"].as_str().unwrap();
    assert!(option.starts_with(&format!("--external mnt[{path}]:")), "{option}");
    // Declared, the mount is no obstacle.
    let spec = option.strip_prefix("--external ").unwrap();
    let out = Command::new(CRIURS).args(["check", "-t", &pid, "--external", spec]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("nothing stops CRIU 4.2's dump"), "{text}");
    drop(tree);
    let _ = std::fs::remove_dir(base.join("a/sub"));
    let _ = std::fs::remove_dir(base.join("a"));
    let _ = std::fs::remove_dir(Path::new(&path));
    let _ = std::fs::remove_dir(&base);
    // A check that cannot run is status 3, one line.
    let (code, _, err) = run(&["check", "-t", "2147483647"]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// 13 bytes (a command name holds 15): quotes that would close ss's and
/// open a forged entry, and a color escape.
const FORGED_COMM: &[u8] = b"a\"),(\"b\x1b[31m";

#[test]
fn holders_of_each_socket_as_ss_p_with_a_hostile_command_name() {
    needs_root!();
    let mut comm = [0u8; 16];
    comm[..FORGED_COMM.len()].copy_from_slice(FORGED_COMM);
    let child = Hostile::start(move || {
        // SAFETY: system calls on memory copied into the child.
        unsafe {
            let mut sv = [0i32; 2];
            libc::unshare(libc::CLONE_NEWNET) == 0
                && libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, sv.as_mut_ptr()) == 0
                && libc::dup2(sv[0], 40) == 40
                && libc::prctl(libc::PR_SET_NAME, comm.as_ptr()) == 0
        }
    });
    let pid = child.pid.to_string();
    // Without -p there is no scan and no holders key.
    let doc = json_of(&["show", "-t", &pid, "-f", "unix", "--json"]);
    assert!(doc["sockets"].as_array().unwrap().iter().all(|s| s.get("holders").is_none()));
    let doc = json_of(&["show", "-t", &pid, "-f", "unix", "--json", "-p"]);
    let sockets = doc["sockets"].as_array().unwrap();
    assert_eq!(sockets.len(), 2, "{doc}");
    let fds_of = |s: &serde_json::Value| {
        let h = s["holders"].as_array().unwrap();
        assert!(h.iter().all(|h| h["pid"] == child.pid && h["comm"].as_str().unwrap().as_bytes() == FORGED_COMM), "{s}");
        let mut fds: Vec<i64> = h.iter().map(|h| h["fd"].as_i64().unwrap()).collect();
        fds.sort();
        fds
    };
    // The end that was duplicated to fd 40 has two holders, the other one.
    let mut all: Vec<Vec<i64>> = sockets.iter().map(fds_of).collect();
    all.sort_by_key(|f| f.len());
    assert_eq!((all[0].len(), all[1].len(), all[1][1]), (1, 2, 40), "{all:?}");
    // The table: one entry per holder, the name escaped, nothing forged.
    let out = Command::new(CRIURS).args(["show", "-t", &pid, "-f", "unix", "-p"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!out.stdout.contains(&0x1b), "an escape byte reached the terminal");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().nth(1).unwrap().ends_with("PROCESS"), "{text}");
    let quoted = r#""a\x22),(\x22b\x1b[31m""#;
    let row = text.lines().find(|l| l.contains(",fd=40)")).expect("the row of the duplicated end");
    assert_eq!(row.matches("pid=").count(), 2, "{row}");
    assert!(row.ends_with(&format!("users:(({quoted},pid={pid},fd={}),({quoted},pid={pid},fd=40))", all[1][0])), "{row}");
    // ss -p agrees on who holds what (it prints the name raw).
    let ss = Command::new("nsenter").arg(format!("--net=/proc/{pid}/ns/net")).args(["ss", "-xapH"]).output().unwrap();
    let ss = String::from_utf8_lossy(&ss.stdout);
    assert_eq!(ss.matches(&format!("pid={pid},")).count(), 3, "{ss}");
}
