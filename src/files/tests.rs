use super::*;

#[test]
fn fdinfo_lines_give_position_flags_and_mount() {
    let info = fds::parse_fdinfo(b"pos:\t0\nflags:\t02000002\nmnt_id:\t10\nino:\t7358146\nscm_fds: 0\n").unwrap();
    assert_eq!(info, FdInfo { pos: 0, flags: 0o2000002, mnt_id: 10 });
    assert_eq!((info.file_flags(), info.fd_flags()), (2, 1));
    assert!(fds::parse_fdinfo(b"pos:\t0\n").is_err());
    assert!(fds::parse_fdinfo(b"pos:\tx\nflags:\t0\n").is_err());
    assert_eq!(fds::socket_inode(b"socket:[7358146]"), Some(7358146));
    assert_eq!(fds::socket_inode(b"/dev/null"), None);
    assert_eq!(fds::socket_inode(b"socket:[x]"), None);
}

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::testing::{announce, fixture_dir, LiveTree};
use crate::Context;

/// A scratch directory whose path a shell word and a unix socket name can hold.
fn plain_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("criurs-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn crit(path: &Path) -> Value {
    let out = Command::new("crit").args(["decode", "--pretty", "-i"]).arg(path).output().expect("crit is installed (tools/deps)");
    assert!(out.status.success(), "crit decode {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn read_json(path: PathBuf) -> Value {
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

const NET_SETUP: &str = "ip link set lo up && ip addr add 10.11.12.13/8 dev lo && \
    ip link add vA type veth peer name vB && ip link set vA mtu 1400 && \
    ip addr add 192.168.77.1/24 dev vA && ip addr add 192.168.77.2/24 dev vB && \
    ip -6 addr add fd00:77::1/64 dev vA nodad && ip link set vA up && ip link set vB up";

/// The ns-sockets workload, live: PID 1 of new pid, mount and net
/// namespaces holding the fixture's 14 sockets on fds 3..16.
fn ns_sockets_tree(dir: &Path) -> LiveTree {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/files/testdata/ns_sockets.py");
    LiveTree::start(
        &format!(
            "exec unshare --pid --fork --mount --propagation private --net sh -c '{NET_SETUP} && {} && exec python3 {} {}'",
            announce("root"),
            script.display(),
            dir.display()
        ),
        &["root"],
    )
}

/// fd → (file id, fdinfo entry) of one decoded fdinfo image.
fn by_fd(fdinfo: &Value) -> std::collections::BTreeMap<u64, Value> {
    fdinfo["entries"].as_array().unwrap().iter().map(|e| (e["fd"].as_u64().unwrap(), e.clone())).collect()
}

fn file_by_id(files: &Value, id: u64) -> Value {
    files["entries"].as_array().unwrap().iter().find(|e| e["id"].as_u64() == Some(id)).cloned().unwrap_or(Value::Null)
}

/// The socket part of a file entry with what differs from run to run
/// taken out: ids, inodes (peers become the peer's fd), the net namespace
/// id, mount ids, the listener's directory and the autobound name.
fn comparable(entry: &Value, ino_fd: &std::collections::BTreeMap<u64, u64>, dir: &str) -> Value {
    let key = ["usk", "isk", "psk", "nlsk"].into_iter().find(|k| entry.get(*k).is_some()).unwrap();
    let mut sk = entry[key].clone();
    let o = sk.as_object_mut().unwrap();
    for drop in ["id", "ino", "ns_id", "mnt_id"] {
        o.remove(drop);
    }
    if let Some(peer) = o.get("peer").and_then(Value::as_u64) {
        o.insert("peer".into(), Value::from(ino_fd.get(&peer).map_or("none".to_string(), |fd| format!("fd {fd}"))));
    }
    if let Some(Value::String(name)) = o.get("name").cloned() {
        let name = name.replace(dir, "DIR");
        // An autobound name is a NUL and five random hex digits.
        let auto = name.len() == 8 && name.starts_with("=00") && name[3..].bytes().all(|b| b.is_ascii_hexdigit());
        o.insert("name".into(), Value::from(if auto { "AUTOBIND".into() } else { name }));
    }
    serde_json::json!({ "type": entry["type"], key: sk })
}

#[test]
fn reproduces_criu_socket_images_of_the_ns_sockets_fixture() {
    crate::needs_root!();
    let work = plain_dir("sk-ns-sockets");
    let run = work.join("run");
    let images = work.join("images");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::create_dir_all(&images).unwrap();
    let tree = ns_sockets_tree(&run);
    let mut ctx = Context::new(tree.pid("root")).unwrap();
    ctx.set_images_dir(&images).unwrap();
    ctx.collect_namespaces(false).unwrap();
    let names = ctx.dump_sockets(None).unwrap();
    assert!(names.contains(&"files.img".to_string()) && names.contains(&"sk-queues.img".to_string()), "{names:?}");
    let fdinfo_name = names.iter().find(|n| n.starts_with("fdinfo-")).unwrap().clone();

    let fx = fixture_dir("ns-sockets");
    let (their_files, their_fdinfo, their_queues) =
        (read_json(fx.join("files.json")), read_json(fx.join("fdinfo-2.json")), read_json(fx.join("sk-queues.json")));
    let (our_files, our_fdinfo, our_queues) = (crit(&images.join("files.img")), crit(&images.join(&fdinfo_name)), crit(&images.join("sk-queues.img")));
    let (theirs, ours) = (by_fd(&their_fdinfo), by_fd(&our_fdinfo));
    let fd_of = |files: &Value, fds: &std::collections::BTreeMap<u64, Value>| -> std::collections::BTreeMap<u64, u64> {
        fds.iter()
            .filter_map(|(fd, e)| {
                let f = file_by_id(files, e["id"].as_u64().unwrap());
                let ino = ["usk", "isk", "nlsk"].iter().find_map(|k| f.get(*k).and_then(|s| s["ino"].as_u64()))?;
                Some((ino, *fd))
            })
            .collect()
    };
    let (their_ino_fd, our_ino_fd) = (fd_of(&their_files, &theirs), fd_of(&our_files, &ours));
    let our_dir = run.to_str().unwrap();
    let their_dir = "/srv/criurs-fixture/out/sock";
    for fd in 3..=16u64 {
        let (t, o) = (&theirs[&fd], ours.get(&fd).unwrap_or_else(|| panic!("no fdinfo entry for fd {fd}: {our_fdinfo}")));
        assert_eq!((&t["type"], &t["flags"]), (&o["type"], &o["flags"]), "fdinfo of fd {fd}");
        let tf = comparable(&file_by_id(&their_files, t["id"].as_u64().unwrap()), &their_ino_fd, their_dir);
        let of = comparable(&file_by_id(&our_files, o["id"].as_u64().unwrap()), &our_ino_fd, our_dir);
        assert_eq!(of, tf, "fd {fd}: ours (left) and CRIU's (right) differ");
    }
    // The 300 bytes queued on the dgram pair, for end B (fd 6).
    let (tq, oq) = (&their_queues["entries"], &our_queues["entries"]);
    assert_eq!(oq.as_array().unwrap().len(), 1, "{our_queues}");
    assert_eq!((&oq[0]["length"], &oq[0]["extra"]), (&tq[0]["length"], &tq[0]["extra"]));
    assert_eq!(oq[0]["id_for"], ours[&6]["id"]);
    // Nothing was consumed: the queue is still there for the task.
    let again = ctx.dump_sockets(None).unwrap();
    assert_eq!(again, names);
    assert_eq!(crit(&images.join("sk-queues.img"))["entries"][0]["length"], 300);
    // TcpOptsEntry (which this crit does not know) as CRIU 4.2 fills it.
    let dumped = ctx.socket_images().unwrap();
    let t4 = dumped.files.iter().filter_map(|f| f.isk.as_ref()).find(|i| i.src_port == 7001).unwrap();
    let tcp = t4.tcp_opts.unwrap();
    assert_eq!((tcp.nodelay, tcp.cork, tcp.keepcnt, tcp.keepidle, tcp.keepintvl), (Some(true), None, Some(3), Some(111), Some(22)));
    drop(tree);
    std::fs::remove_dir_all(&work).unwrap();
}

/// A tree in its own net namespace (lo up): a root running python
/// `client` (argv[1]: a scratch directory; it touches c.ready when set
/// up), and, when given, a `daemon` started first by the same shell: a
/// sibling of the root, outside the tree.
struct Case {
    tree: LiveTree,
    dir: PathBuf,
    images: PathBuf,
}

impl Case {
    fn start(tag: &str, daemon: Option<&str>, client: &str) -> Case {
        let dir = plain_dir(&format!("sk-{tag}"));
        let images = dir.join("images");
        std::fs::create_dir_all(&images).unwrap();
        let prelude = "import os, socket, subprocess, sys, time\nS = socket\nd = sys.argv[1]\n";
        let ready = "\nopen(d + '/' + sys.argv[2] + '.ready', 'w').close()\nwhile True:\n    time.sleep(1000)\n";
        std::fs::write(dir.join("c.py"), format!("{prelude}{client}{ready}")).unwrap();
        let mut script = String::from("ip link set lo up; ");
        if let Some(daemon) = daemon {
            std::fs::write(dir.join("d.py"), format!("{prelude}{daemon}{ready}")).unwrap();
            script += &format!("python3 {0}/d.py {0} d </dev/null & while [ ! -e {0}/d.ready ]; do sleep 0.02; done; ", dir.display());
        }
        script += &format!(
            "python3 {0}/c.py {0} c </dev/null & echo root $!; while [ ! -e {0}/c.ready ]; do sleep 0.02; done; echo ready; read x; kill 0",
            dir.display()
        );
        let tree = LiveTree::start(&format!("exec unshare --net sh -c '{script}'"), &["root"]);
        Case { tree, dir, images }
    }

    fn context(&self) -> Context {
        let mut ctx = Context::new(self.tree.pid("root")).unwrap();
        ctx.set_images_dir(&self.images).unwrap();
        ctx.collect_namespaces(false).unwrap();
        ctx
    }

    /// The root's socket on `fd`.
    fn ino(&self, fd: i32) -> u32 {
        let link = std::fs::read_link(format!("/proc/{}/fd/{fd}", self.tree.pid("root"))).unwrap();
        fds::socket_inode(std::os::unix::ffi::OsStrExt::as_bytes(link.as_os_str())).unwrap()
    }

    /// Dumps and expects CRIU's refusal `words` for the root's `fd`, with
    /// nothing written.
    fn refused(&self, ctx: &mut Context, fd: i32, words: &str) -> Error {
        let e = ctx.dump_sockets(None).unwrap_err();
        let who = format!("pid {} fd {fd} (socket {})", self.tree.pid("root"), self.ino(fd));
        assert!(e.message().contains(words) && e.message().contains(&who), "expected {words:?} for {who}: {e}");
        assert_eq!(std::fs::read_dir(&self.images).unwrap().count(), 0, "a refused dump writes nothing");
        e
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The fd the client's first socket gets (python opens nothing before).
const FD: i32 = 3;

#[test]
fn unix_in_flight_connection_that_sent_data_is_refused() {
    crate::needs_root!();
    let case = Case::start(
        "unix-inflight",
        None,
        "os.closerange(3, 1024)\nl = S.socket(S.AF_UNIX, S.SOCK_STREAM); l.bind(d + '/l.sock'); l.listen(4)\n\
         c = S.socket(S.AF_UNIX, S.SOCK_STREAM); c.connect(d + '/l.sock'); c.send(b'in-flight!\\n')",
    );
    let mut ctx = case.context();
    let e = case.refused(&mut ctx, FD + 1, &format!("Non-empty write queue on an in-flight socket {:#x}", case.ino(FD + 1)));
    assert_eq!(e.errno(), libc::EOPNOTSUPP);
}

#[test]
fn unix_listener_whose_in_flight_client_closed_is_refused() {
    crate::needs_root!();
    let case = Case::start(
        "unix-closed-inflight",
        None,
        "os.closerange(3, 1024)\nl = S.socket(S.AF_UNIX, S.SOCK_STREAM); l.bind(d + '/l.sock'); l.listen(4)\n\
         c = S.socket(S.AF_UNIX, S.SOCK_STREAM); c.connect(d + '/l.sock'); c.close()",
    );
    let mut ctx = case.context();
    case.refused(&mut ctx, FD, &format!("Found a closed in-flight socket to {:#x}", case.ino(FD)));
}

#[test]
fn unix_stream_whose_peer_closed_is_dumped_semi_closed_with_its_queue() {
    crate::needs_root!();
    let case = Case::start(
        "unix-peer-closed",
        None,
        "os.closerange(3, 1024)\na, b = S.socketpair(S.AF_UNIX, S.SOCK_STREAM); b.send(b'bye-bye'); b.close()",
    );
    let mut ctx = case.context();
    ctx.dump_sockets(None).unwrap();
    let files = crit(&case.images.join("files.img"));
    let usk = &files["entries"][0]["usk"];
    assert_eq!((&usk["state"], &usk["peer"], &usk["shutdown"]), (&Value::from("ESTABLISHED"), &Value::from(0), &Value::from("BOTH")));
    let queues = ctx.socket_images().unwrap().queues.clone();
    assert_eq!(queues.len(), 1);
    assert_eq!(queues[0].data, b"bye-bye");
    let decoded = decode_queues(&std::fs::read(case.images.join("sk-queues.img")).unwrap(), "sk-queues.img").unwrap();
    assert_eq!(decoded, queues);
}

const DAEMON_STREAM: &str = "import threading\nl = S.socket(S.AF_UNIX, S.SOCK_STREAM); l.bind(d + '/d.sock'); l.listen(4)\n\
    held = []\nthreading.Thread(target=lambda: held.append(l.accept()), daemon=True).start()";
const CLIENT_STREAM: &str = "os.closerange(3, 1024)\ns = S.socket(S.AF_UNIX, S.SOCK_STREAM); s.connect(d + '/d.sock'); s.send(b'hello')\ntime.sleep(0.2)";

#[test]
fn unix_stream_peer_outside_the_tree_is_refused_even_with_ext_unix_sk_but_not_when_declared() {
    crate::needs_root!();
    let case = Case::start("unix-ext-stream", Some(DAEMON_STREAM), CLIENT_STREAM);
    let mut ctx = case.context();
    case.refused(&mut ctx, FD, "External socket is used. Consider using --ext-unix-sk option.");
    ctx.set_socket_options(SocketOptions { ext_unix_sk: true, ..Default::default() });
    case.refused(&mut ctx, FD, "Can't dump half of stream unix connection. name: (null); peer name: ");
    // --external unix[INO] names the tree's socket: CRIU lets it through.
    ctx.add_external(format!("unix[{}]", case.ino(FD)).as_bytes()).unwrap();
    ctx.dump_sockets(None).unwrap();
    let files = ctx.socket_images().unwrap();
    let ext = files.files.iter().filter_map(|f| f.usk.as_ref()).find(|u| u.uflags == USK_EXTERN).expect("the outside peer's entry");
    let mine = files.files.iter().filter_map(|f| f.usk.as_ref()).find(|u| u.ino == case.ino(FD)).unwrap();
    assert_eq!((mine.peer, ext.ino, ext.peer, ext.state), (ext.ino, mine.peer, 0, crate::net::TCP_LISTEN as u32));
}

#[test]
fn unix_dgram_peer_outside_the_tree_needs_ext_unix_sk() {
    crate::needs_root!();
    let case = Case::start(
        "unix-ext-dgram",
        Some("l = S.socket(S.AF_UNIX, S.SOCK_DGRAM); l.bind(d + '/d.sock')"),
        "os.closerange(3, 1024)\ns = S.socket(S.AF_UNIX, S.SOCK_DGRAM); s.connect(d + '/d.sock'); s.send(b'hello')",
    );
    let mut ctx = case.context();
    case.refused(&mut ctx, FD, "External socket is used. Consider using --ext-unix-sk option.");
    ctx.set_socket_options(SocketOptions { ext_unix_sk: true, ..Default::default() });
    ctx.dump_sockets(None).unwrap();
    let files = crit(&case.images.join("files.img"));
    let entries = files["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{files}");
    // CRIU writes the outside socket first, then ours (fix_external_unix_sockets).
    let (ext, mine) = (&entries[0]["usk"], &entries[1]["usk"]);
    assert_eq!((&ext["uflags"], &ext["state"], &ext["type"]), (&Value::from("0x1"), &Value::from("LISTEN"), &Value::from("DGRAM")));
    assert!(ext["name"].as_str().unwrap().ends_with("/d.sock=00"), "{ext}");
    assert_eq!(mine["peer"], ext["ino"]);
    assert!(ext.get("ns_id").is_none() && mine["ns_id"].is_u64());
}

#[test]
fn tcp_listener_with_a_connection_not_accepted_is_refused_unless_skip_in_flight() {
    crate::needs_root!();
    let case = Case::start(
        "tcp-inflight",
        None,
        "os.closerange(3, 1024)\nl = S.socket(S.AF_INET, S.SOCK_STREAM); l.setsockopt(S.SOL_SOCKET, S.SO_REUSEADDR, 1)\n\
         l.bind(('127.0.0.1', 7001)); l.listen(4)\nc = S.socket(S.AF_INET, S.SOCK_STREAM); c.connect(('127.0.0.1', 7001)); c.send(b'hello')\n\
         time.sleep(0.2)",
    );
    let mut ctx = case.context();
    case.refused(&mut ctx, FD, &format!("In-flight connection (l) for {:x}. In-flight connections can be ignored with the --skip-in-flight option.", case.ino(FD)));
    // With the listener let through, the connected client is refused next.
    ctx.set_socket_options(SocketOptions { skip_in_flight: true, ..Default::default() });
    case.refused(&mut ctx, FD + 1, "Connected TCP socket, consider using --tcp-established option.");
}

#[test]
fn established_tcp_is_refused_for_tcp_repair_needs_a_frozen_task() {
    crate::needs_root!();
    let case = Case::start(
        "tcp-established",
        None,
        "os.closerange(3, 1024)\nl = S.socket(S.AF_INET, S.SOCK_STREAM); l.bind(('127.0.0.1', 7000)); l.listen(4)\n\
         c = S.socket(S.AF_INET, S.SOCK_STREAM); c.connect(('127.0.0.1', 7000)); a, _ = l.accept(); l.close()",
    );
    let mut ctx = case.context();
    let e = case.refused(&mut ctx, FD + 1, "Connected TCP socket, consider using --tcp-established option.");
    assert!(e.message().contains("frozen"), "{e}");
}

#[test]
fn corked_udp_is_refused() {
    crate::needs_root!();
    let case = Case::start(
        "udp-corked",
        None,
        "os.closerange(3, 1024)\nu = S.socket(S.AF_INET, S.SOCK_DGRAM); u.bind(('127.0.0.1', 7002)); u.connect(('127.0.0.1', 7003))\n\
         u.setsockopt(S.IPPROTO_UDP, 1, 1); u.send(b'corked-10b')",
    );
    let mut ctx = case.context();
    case.refused(&mut ctx, FD, &format!("Can't dump corked dgram socket {:x}", case.ino(FD)));
}

#[test]
fn netlink_socket_with_queued_notifications_is_refused() {
    crate::needs_root!();
    let case = Case::start(
        "netlink-queued",
        None,
        "os.closerange(3, 1024)\nn = S.socket(S.AF_NETLINK, S.SOCK_RAW, 0); n.bind((0, 1))\n\
         subprocess.run(['ip', 'link', 'add', 'fx0', 'type', 'veth', 'peer', 'name', 'fx1'], check=True)\ntime.sleep(0.1)",
    );
    let mut ctx = case.context();
    case.refused(&mut ctx, FD, "The socket has data to read");
}

#[test]
fn a_socket_closed_or_a_task_gone_mid_dump_is_a_clear_error_and_no_image() {
    crate::needs_root!();
    let case = Case::start(
        "gone",
        None,
        "os.closerange(3, 1024)\ns = S.socket(S.AF_UNIX, S.SOCK_DGRAM)\nt = S.socket(S.AF_UNIX, S.SOCK_DGRAM)\n\
         def closer():\n    sys.stdin = open(d + '/close.fifo')\n    sys.stdin.read(1)\n    t.close()\n    open(d + '/closed', 'w').close()\n\
         import threading\nos.mkfifo(d + '/close.fifo')\nthreading.Thread(target=closer, daemon=True).start()",
    );
    let pid = case.tree.pid("root");
    let mut ctx = case.context();
    let listed = fds::socket_fds(ctx.proc_root(), pid).unwrap();
    assert_eq!(listed.iter().map(|s| s.fd).collect::<Vec<_>>(), vec![3, 4]);
    // The task closes fd 4 after we listed it.
    std::fs::write(case.dir.join("close.fifo"), b"x").unwrap();
    while !case.dir.join("closed").exists() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let ns_ids: Vec<u32> = ctx.namespaces().unwrap().walk(crate::NsKind::Net).iter().map(|n| n.id).collect();
    for id in ns_ids {
        ctx.collect_sockets(id).unwrap();
    }
    {
        let nets = ctx.net_namespaces().unwrap().views();
        let externals = BTreeSet::new();
        let opts = Options {
            ext_unix_sk: false,
            external_unix: &externals,
            skip_in_flight: false,
            root_net_differs: true,
            root_mnt_differs: false,
            root_user: None,
            pid_level: 0,
        };
        let log = Logger::default();
        let mut d = Dumper::new(ctx.proc_root(), &nets, opts, &log);
        let handle = TaskHandle::open(pid).unwrap();
        let e = d.dump_task(&handle, 2, &listed).unwrap_err();
        assert_eq!(e.errno(), libc::EBADF, "{e}");
        assert!(e.message().contains(&format!("pid {pid} closed fd 4 during the socket dump")), "{e}");
    }
    // The task exits before the dump: ESRCH naming it, nothing written.
    let collected_pid = pid;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    while std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z')) {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let e = ctx.dump_sockets(None).unwrap_err();
    assert_eq!(e.errno(), libc::ESRCH, "{e}");
    assert!(e.message().contains(&collected_pid.to_string()), "{e}");
    assert_eq!(std::fs::read_dir(&case.images).unwrap().count(), 0);
}

/// The refusals the live tests expect are CRIU 4.2's own lines, as its
/// dump.log in each sk-* fixture has them.
#[test]
fn refusal_words_are_those_of_criu_4_2_dump_logs() {
    let cases = [
        ("sk-unix-inflight", "dump.log", "Non-empty write queue on an in-flight socket 0x"),
        ("sk-unix-dangling/closed-inflight", "dump.log", "Found a closed in-flight socket to 0x"),
        ("sk-unix-peer-outside/no-options", "dump.log", "External socket is used. Consider using --ext-unix-sk option."),
        ("sk-unix-peer-outside/ext-unix-sk", "dump.log", "Can't dump half of stream unix connection. name: (null); peer name: "),
        ("sk-unix-peer-outside/dgram-ext-unix-sk", "dump.log", "without peer"),
        ("sk-tcp-listen-inflight", "dump.log", "In-flight connection (l) for "),
        ("sk-tcp-listen-inflight", "dump.log", "In-flight connections can be ignored with the --skip-in-flight option."),
        ("sk-tcp-established", "dump.log", "Connected TCP socket, consider using --tcp-established option."),
        ("sk-udp-corked", "dump.log", "Can't dump corked dgram socket "),
        ("sk-netlink-queued", "dump.log", "The socket has data to read"),
    ];
    for (set, name, words) in cases {
        let log = String::from_utf8_lossy(&crate::testing::fixture_in(set, name)).into_owned();
        assert!(log.lines().any(|l| l.contains("Error (criu/sk-") && l.contains(words)), "{set}/{name} has no {words:?}");
    }
}

#[test]
fn a_zombie_is_gone_for_its_fd_listing_and_fdinfo() {
    // A zombie keeps its /proc directory but not its fds: its fd listing
    // reads as empty and its fdinfo files as missing, which must say it
    // exited, not that it holds no sockets or closed an fd.
    let mut child = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = child.id() as i32;
    child.kill().unwrap();
    let proc = ProcRoot::default();
    while crate::pstree::task_state(&proc, pid).unwrap() != crate::pstree::TaskState::Zombie {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(proc.pid_path(pid, "").exists(), "not reaped yet");
    let listed = fds::socket_fds(&proc, pid);
    let info = fds::fdinfo(&proc, pid, 0);
    child.wait().unwrap();
    let e = listed.unwrap_err();
    assert_eq!(e.errno(), libc::ESRCH, "{e}");
    assert!(e.message().contains(&format!("pid {pid} exited")), "{e}");
    let e = info.unwrap_err();
    assert_eq!(e.errno(), libc::ESRCH, "{e}");
    assert!(e.message().contains(&format!("pid {pid} exited")), "{e}");
}
