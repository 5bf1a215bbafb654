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
