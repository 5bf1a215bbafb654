//! The ns-sockets fixture made again, live: a root in new pid, mount, net,
//! uts, ipc and time namespaces (`unshare --time --monotonic 86400
//! --boottime 3600`) with the fixture's host and domain names, three ipc
//! sysctls, an 8 KiB shm segment, a queue of two messages and a set of
//! three semaphores. Dumped by criurs, decoded by CRIU's `crit`, compared
//! field by field with CRIU 4.2's own images; then the queue, the segment
//! and the set are read back, unchanged.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ns::enter::{open_ns, run_in_namespace};
use crate::testing::{announce, LiveTree};
use crate::ns::NsKind;
use crate::pstree::ProcRoot;
use crate::Context;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/criu-4.2/ns-sockets")
}

fn images_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("criurs-nsimg-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `crit decode --pretty` of an image, parsed.
fn crit(path: &Path) -> serde_json::Value {
    let out = Command::new("crit").args(["decode", "--pretty", "-i"]).arg(path).output().expect("run crit");
    assert!(out.status.success(), "crit decode {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("crit's JSON for {}: {e}", path.display()))
}

fn fixture_json(name: &str) -> serde_json::Value {
    let path = fixture_dir().join(name.replace(".img", ".json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// The monotonic and boottime clocks inside `pid`'s time namespace, read
/// by a process that entered it (nsenter, single-threaded, then python).
fn clocks_in(pid: i32) -> (u128, u128) {
    let out = Command::new("nsenter")
        .args(["--target", &pid.to_string(), "--time", "python3", "-c"])
        .arg("import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC), time.clock_gettime_ns(time.CLOCK_BOOTTIME))")
        .output()
        .expect("run nsenter and python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut w = text.split_whitespace().map(|n| n.parse::<u128>().unwrap());
    (w.next().unwrap(), w.next().unwrap())
}

fn ns_of(v: &serde_json::Value, clock: &str) -> u128 {
    let t = &v["entries"][0][clock];
    t["tv_sec"].as_u64().unwrap() as u128 * 1_000_000_000 + t["tv_nsec"].as_u64().unwrap() as u128
}

// ---- SysV objects made and read from a thread inside the namespace ----

/// Runs `f` on a thread inside `pid`'s ipc namespace.
fn in_ipc<R: Send>(pid: i32, f: impl FnOnce() -> crate::Result<R> + Send) -> R {
    let fd = open_ns(&ProcRoot::default(), pid, NsKind::Ipc).unwrap();
    run_in_namespace(&fd, NsKind::Ipc, f).unwrap()
}

fn last_errno(what: &str) -> crate::Error {
    crate::Error::sys(nix::errno::Errno::last(), what)
}

/// A new segment of `len` bytes holding `write` at each offset given.
fn make_shm(len: usize, mode: i32, writes: &[(usize, &[u8])]) -> crate::Result<i32> {
    // SAFETY: plain syscall on values.
    let id = unsafe { libc::shmget(libc::IPC_PRIVATE, len, libc::IPC_CREAT | mode) };
    if id < 0 {
        return Err(last_errno("shmget"));
    }
    // SAFETY: attach read-write at a kernel-chosen address.
    let addr = unsafe { libc::shmat(id, std::ptr::null(), 0) };
    if addr as isize == -1 {
        return Err(last_errno("shmat"));
    }
    for (off, bytes) in writes {
        assert!(off + bytes.len() <= len);
        // SAFETY: the attach spans `len` bytes; the range is inside it.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), (addr as *mut u8).add(*off), bytes.len()) };
    }
    // SAFETY: detaching the attach made above.
    unsafe { libc::shmdt(addr) };
    Ok(id)
}

/// The whole of segment `id` (`len` bytes), read through a read-only attach.
fn read_shm(id: i32, len: usize) -> crate::Result<Vec<u8>> {
    // SAFETY: read-only attach at a kernel-chosen address.
    let addr = unsafe { libc::shmat(id, std::ptr::null(), libc::SHM_RDONLY) };
    if addr as isize == -1 {
        return Err(last_errno("shmat"));
    }
    let mut out = vec![0u8; len];
    // SAFETY: the attach spans at least `len` bytes.
    unsafe { std::ptr::copy_nonoverlapping(addr as *const u8, out.as_mut_ptr(), len) };
    // SAFETY: detaching the attach made above.
    unsafe { libc::shmdt(addr) };
    Ok(out)
}

fn make_queue(messages: &[(i64, &[u8])]) -> crate::Result<i32> {
    // SAFETY: plain syscall on values.
    let id = unsafe { libc::msgget(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o600) };
    if id < 0 {
        return Err(last_errno("msgget"));
    }
    for (mtype, text) in messages {
        let mut buf = vec![0u64; 1 + text.len().div_ceil(8)];
        buf[0] = *mtype as u64;
        let bytes: Vec<u8> = text.to_vec();
        // SAFETY: `buf` has room for the long mtype and the text after it.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.as_mut_ptr().add(1).cast::<u8>(), bytes.len()) };
        // SAFETY: msgsnd reads the mtype and `len` bytes of `buf`.
        if unsafe { libc::msgsnd(id, buf.as_ptr().cast(), text.len(), libc::IPC_NOWAIT) } != 0 {
            return Err(last_errno("msgsnd"));
        }
    }
    Ok(id)
}

/// A queue's state that any receive would change: (qnum, cbytes, stime, rtime, lrpid).
fn queue_state(id: i32) -> crate::Result<(u64, u64, i64, i64, i32)> {
    // SAFETY: an all-zero msqid_ds is valid; IPC_STAT writes one.
    let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::msgctl(id, libc::IPC_STAT, &mut ds) } != 0 {
        return Err(last_errno("msgctl IPC_STAT"));
    }
    Ok((ds.msg_qnum, ds.__msg_cbytes, ds.msg_stime, ds.msg_rtime, ds.msg_lrpid))
}

/// The messages of queue `id`, copied in order (MSG_COPY), without taking them.
fn copy_messages(id: i32, n: u64) -> crate::Result<Vec<(i64, Vec<u8>)>> {
    let proc = ProcRoot::default();
    let sys = super::ipc_sys::LiveIpc::new(&proc);
    (0..n)
        .map(|i| {
            let m = super::ipc::IpcSys::msg_copy(&sys, id, i, 8192)?;
            Ok((m.mtype, m.data))
        })
        .collect()
}

fn make_sem(values: &[u16]) -> crate::Result<i32> {
    // SAFETY: plain syscall on values.
    let id = unsafe { libc::semget(libc::IPC_PRIVATE, values.len() as i32, libc::IPC_CREAT | 0o600) };
    if id < 0 {
        return Err(last_errno("semget"));
    }
    let mut v = values.to_vec();
    // SAFETY: SETALL reads one unsigned short per semaphore from the array.
    if unsafe { libc::semctl(id, 0, libc::SETALL, v.as_mut_ptr()) } != 0 {
        return Err(last_errno("semctl SETALL"));
    }
    Ok(id)
}

fn sem_values(id: i32, n: usize) -> crate::Result<Vec<u16>> {
    let proc = ProcRoot::default();
    let sys = super::ipc_sys::LiveIpc::new(&proc);
    super::ipc::IpcSys::sem_values(&sys, id, n)
}

const MESSAGES: [(i64, &[u8]); 2] = [(1, b"first message"), (2, b"second, longer message")];

fn pattern() -> Vec<u8> {
    (0..8192).map(|i| i as u8).collect()
}

#[test]
fn the_ns_sockets_fixture_is_reproduced_live_and_left_as_it_was() {
    let script = format!(
        "exec unshare --fork --pid --mount --net --uts --ipc --time --monotonic 86400 --boottime 3600 \
         --propagation private sh -c 'hostname fixture-host && domainname fixture.domain && \
         echo 4096 >/proc/sys/kernel/msgmax && echo 16777216 >/proc/sys/kernel/shmmax && \
         echo 250 32000 32 64 >/proc/sys/kernel/sem && {}; echo ready; read x'",
        announce("root")
    );
    let tree = LiveTree::start(&script, &["root"]);
    let root = tree.pid("root");
    let ids = in_ipc(root, || Ok((make_shm(8192, 0o640, &[(0, &pattern())])?, make_queue(&MESSAGES)?, make_sem(&[1, 2, 3])?)));
    assert_eq!(ids, (0, 0, 0), "the fixture's ids: first objects of a new namespace");
    let before = in_ipc(root, || Ok((queue_state(0)?, sem_values(0, 3)?)));

    let dir = images_dir("fixture");
    let mut ctx = Context::new(root).unwrap();
    ctx.set_images_dir(&dir).unwrap();
    ctx.collect_namespaces(true).unwrap();
    let t0 = clocks_in(root);
    let written = ctx.dump_namespaces().unwrap();
    let t1 = clocks_in(root);

    let mut names = written.clone();
    names.sort();
    assert_eq!(
        names,
        [
            "ids-1.img",
            "ifaddr-10.img",
            "ipcns-msg-11.img",
            "ipcns-sem-11.img",
            "ipcns-shm-11.img",
            "ipcns-var-11.img",
            "netdev-10.img",
            "netns-10.img",
            "nftables-10.img",
            "pagemap-shmem-0.img",
            "pages-2.img",
            "route-10.img",
            "route6-10.img",
            "rule-10.img",
            "timens-13.img",
            "utsns-12.img"
        ],
        "CRIU's file names for this tree (the net arm: netdev::tests::live reproduces its network)"
    );
    // Field by field what CRIU 4.2 wrote for the same workload.
    for name in ["ids-1.img", "utsns-12.img", "ipcns-var-11.img", "ipcns-shm-11.img", "ipcns-msg-11.img", "ipcns-sem-11.img", "pagemap-shmem-0.img"]
    {
        assert_eq!(crit(&dir.join(name)), fixture_json(name), "{name}");
    }
    assert_eq!(std::fs::read(dir.join("pages-2.img")).unwrap(), pattern(), "the segment's two pages");
    let timens = crit(&dir.join("timens-13.img"));
    assert_eq!(timens["magic"], "TIMENS");
    let (mono, boot) = (ns_of(&timens, "monotonic"), ns_of(&timens, "boottime"));
    assert!(t0.0 <= mono && mono <= t1.0, "monotonic {mono} not within [{}, {}]", t0.0, t1.0);
    assert!(t0.1 <= boot && boot <= t1.1, "boottime {boot} not within [{}, {}]", t0.1, t1.1);

    // The getters give what was written.
    let read = ctx.namespace_images().unwrap();
    assert_eq!(read.uts(12).unwrap().nodename, b"fixture-host");
    assert_eq!(read.time(13).unwrap().monotonic.as_nanos() as u128, mono);
    let ipc = read.ipc(11).unwrap();
    assert_eq!(ipc.msg[0].messages[1].data, MESSAGES[1].1);
    assert_eq!(ipc.shm[0].contents(ipc.page_size), pattern());
    assert_eq!(read.task(root).unwrap().vpid, 1);

    // Nothing was consumed or changed.
    let after = in_ipc(root, || {
        Ok((queue_state(0)?, sem_values(0, 3)?, copy_messages(0, 2)?, read_shm(0, 8192)?))
    });
    assert_eq!((after.0, after.1.clone()), before, "queue state (count, bytes, send/receive times) and semaphores");
    assert_eq!(after.0 .3, 0, "never received from");
    let want: Vec<(i64, Vec<u8>)> = MESSAGES.iter().map(|(t, m)| (*t, m.to_vec())).collect();
    assert_eq!(after.2, want, "both messages, in order");
    assert_eq!(after.3, pattern());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn holes_and_long_runs_are_stored_as_criu_stores_them() {
    let script = format!("exec unshare --ipc sh -c '{}; echo ready; read x'", announce("root"));
    let tree = LiveTree::start(&script, &["root"]);
    let root = tree.pid("root");
    let page = super::pages::page_size();
    // 1100 pages: data in 0..1050 and 1060..1100, a hole between.
    let a = vec![0xa5u8; 1050 * page];
    let b = vec![0x5au8; 40 * page];
    let id = in_ipc(root, || make_shm(1100 * page, 0o600, &[(0, &a), (1060 * page, &b)]));
    let dir = images_dir("holes");
    let mut ctx = Context::new(root).unwrap();
    ctx.set_images_dir(&dir).unwrap();
    ctx.collect_namespaces(true).unwrap();
    let written = ctx.dump_namespaces().unwrap();
    let pm = super::pages::pagemap_name(id);
    assert!(written.contains(&pm), "{written:?}");
    let (pages_id, entries) = super::pages::decode_pagemap(&std::fs::read(dir.join(&pm)).unwrap(), &pm).unwrap();
    let p = page as u64;
    assert_eq!(entries, vec![(0, 1024), (1024 * p, 26), (1060 * p, 40)], "cut at 1024 stored pages, hole left out");
    let pages = std::fs::read(dir.join(super::pages::pages_name(pages_id))).unwrap();
    assert_eq!(pages.len(), 1090 * page);
    assert!(pages[..1050 * page].iter().all(|&x| x == 0xa5) && pages[1050 * page..].iter().all(|&x| x == 0x5a));
    assert!(crit(&dir.join(&pm))["entries"].as_array().unwrap().len() == 4, "crit reads the head and three entries");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_root_in_the_callers_time_namespace_gets_timens_0_with_our_clocks() {
    let script = format!("exec unshare --uts sh -c 'hostname only-uts && {}; echo ready; read x'", announce("root"));
    let tree = LiveTree::start(&script, &["root"]);
    let root = tree.pid("root");
    let dir = images_dir("timens0");
    let mut ctx = Context::new(root).unwrap();
    ctx.set_images_dir(&dir).unwrap();
    ctx.collect_namespaces(true).unwrap();
    let uts_id = ctx.namespaces().unwrap().root_ns(NsKind::Uts).unwrap().id;
    let t0 = super::time::read(&ProcRoot::default(), None).unwrap();
    let mut written = ctx.dump_namespaces().unwrap();
    let t1 = super::time::read(&ProcRoot::default(), None).unwrap();
    written.sort();
    assert_eq!(written, [format!("ids-{root}.img"), "timens-0.img".into(), format!("utsns-{uts_id}.img")]);
    let c = super::time::Clocks::decode(&std::fs::read(dir.join("timens-0.img")).unwrap(), "timens-0.img").unwrap();
    assert!(t0.monotonic <= c.monotonic && c.monotonic <= t1.monotonic);
    assert!(t0.boottime <= c.boottime && c.boottime <= t1.boottime);
    assert_eq!(crit(&dir.join(format!("utsns-{uts_id}.img")))["entries"][0]["nodename"], "only-uts");
    let ids = crit(&dir.join(format!("ids-{root}.img")));
    assert_eq!(ids["entries"][0]["uts_ns_id"], uts_id);
    assert_eq!(ids["entries"][0]["vm_id"], 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn criu_refusals_come_before_anything_is_written() {
    // A task whose children would be born in a new time namespace: it
    // unshared one and did not exec (exec would move it in).
    let script = "exec python3 -c 'import ctypes, os, sys\n\
        assert ctypes.CDLL(None).unshare(0x80) == 0\n\
        print(\"root\", os.getpid()); print(\"ready\", flush=True); sys.stdin.read()'";
    let tree = LiveTree::start(script, &["root"]);
    let root = tree.pid("root");
    let dir = images_dir("refuse");
    let mut ctx = Context::new(root).unwrap();
    ctx.set_images_dir(&dir).unwrap();
    ctx.collect_namespaces(false).unwrap();
    let e = ctx.dump_namespaces().unwrap_err();
    assert_eq!(e.errno(), libc::EOPNOTSUPP, "{e}");
    assert!(e.message().starts_with(&format!("Can't dump nested time_for_children namespace for {root}")), "{e}");
    drop(tree);

    // A task mapping a SysV segment of the caller's ipc namespace.
    let script = "exec python3 -c 'import ctypes, os, sys\n\
        l = ctypes.CDLL(None); l.shmat.restype = ctypes.c_void_p\n\
        i = l.shmget(0, 4096, 0o1600); assert l.shmat(i, None, 0) != 2**64 - 1; l.shmctl(i, 0, None)\n\
        print(\"root\", os.getpid()); print(\"ready\", flush=True); sys.stdin.read()'";
    let tree = LiveTree::start(script, &["root"]);
    let root = tree.pid("root");
    let mut ctx = Context::new(root).unwrap();
    ctx.set_images_dir(&dir).unwrap();
    ctx.collect_namespaces(true).unwrap();
    let e = ctx.dump_namespaces().unwrap_err();
    assert_eq!(e.errno(), libc::EOPNOTSUPP, "{e}");
    assert!(e.message().starts_with(&format!("Task {root} with SysVIPC shmem map @")), "{e}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "nothing written");

    // No images directory.
    let mut ctx = Context::new(root).unwrap();
    ctx.collect_namespaces(false).unwrap();
    assert_eq!(ctx.dump_namespaces().unwrap_err().errno(), libc::EINVAL);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn our_own_process_can_be_read_but_not_dumped() {
    let me = std::process::id() as i32;
    let mut ctx = Context::new(me).unwrap();
    ctx.collect_namespaces(false).unwrap();
    let read = ctx.read_namespaces().unwrap();
    let ours = read.task(me).unwrap();
    assert_eq!((ours.vm_id, ours.files_id, ours.fs_id, ours.sighand_id), (1, 1, 1, 1), "the caller's own objects");
    assert_eq!(ours.ns_id(NsKind::Pid), Some(1));
    assert!(read.time(0).is_ok() && read.uts.is_empty() && read.ipc.is_empty(), "nothing of our own but our clocks");
    let dir = images_dir("own");
    ctx.set_images_dir(&dir).unwrap();
    let e = ctx.dump_namespaces().unwrap_err();
    assert_eq!(e.errno(), libc::EOPNOTSUPP, "{e}");
    assert!(e.message().starts_with(&format!("Can't make VM id for {me}")), "CRIU cannot dump itself either: {e}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_child_takes_the_next_kcmp_ids_as_in_criu_walk_netns() {
    let script = format!(
        "exec unshare --fork --pid --mount --propagation private sh -c 'sleep 1000 & {}; echo ready; read x; kill $!'",
        announce("root")
    );
    let tree = LiveTree::start(&script, &["root"]);
    let dir = images_dir("child");
    let mut ctx = Context::new(tree.pid("root")).unwrap();
    ctx.set_images_dir(&dir).unwrap();
    ctx.collect_namespaces(true).unwrap();
    let mut written = ctx.dump_namespaces().unwrap();
    written.sort();
    assert_eq!(written, ["ids-1.img", "ids-2.img", "timens-0.img"], "pid 1 and 2 of the new pid namespace");
    // CRIU 4.2's walk-netns fixture: root 2, its child 3, for each kind.
    for (name, want) in [("ids-1.img", 2), ("ids-2.img", 3)] {
        let ours = crit(&dir.join(name));
        let criu = serde_json::from_slice::<serde_json::Value>(
            &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/criu-4.2/walk-netns").join(name.replace(".img", ".json")))
                .unwrap(),
        )
        .unwrap();
        for field in ["vm_id", "files_id", "fs_id", "sighand_id", "pid_ns_id"] {
            assert_eq!(ours["entries"][0][field], criu["entries"][0][field], "{name} {field}");
        }
        assert_eq!(ours["entries"][0]["vm_id"], want);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
