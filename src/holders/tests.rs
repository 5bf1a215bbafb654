use std::collections::{BTreeSet, HashMap};
use std::os::unix::fs::symlink;
use std::path::Path;

use super::*;

/// A fake procfs: `pid → (comm, [(fd, link target)])`.
fn fake_proc(tag: &str, procs: &[(i32, &[u8], &[(i32, &str)])]) -> ProcRoot {
    let root = crate::testing::temp_dir(tag);
    for (pid, comm, fds) in procs {
        let dir = root.join(pid.to_string());
        std::fs::create_dir_all(dir.join("fd")).unwrap();
        std::fs::write(dir.join("comm"), [comm, &b"\n"[..]].concat()).unwrap();
        for (fd, target) in fds.iter() {
            symlink(target, dir.join("fd").join(fd.to_string())).unwrap();
        }
    }
    std::fs::create_dir_all(root.join("sys")).unwrap();
    symlink("100", root.join("self")).unwrap();
    ProcRoot::new(root)
}

fn pairs(h: &[Holder]) -> BTreeSet<(i32, i32)> {
    h.iter().map(|h| (h.pid, h.fd)).collect()
}

#[test]
fn socket_links_are_grouped_by_inode_and_other_files_ignored() {
    let evil: &[u8] = b"ev\x1b[31m\"),(\"x";
    let proc = fake_proc(
        "holders-fake",
        &[
            (100, evil, &[(0, "/dev/null"), (3, "socket:[555]"), (4, "socket:[556]"), (7, "socket:[555]"), (8, "pipe:[9]")]),
            (200, b"b", &[(3, "socket:[555]"), (5, "socket:[]"), (6, "socket:[12x]"), (9, "anon_inode:[eventpoll]")]),
        ],
    );
    let m = scan_pids_in(&proc, &[100, 200]).unwrap();
    assert_eq!((m.len(), m.processes()), (2, 2));
    assert_eq!(pairs(m.get(555)), BTreeSet::from([(100, 3), (100, 7), (200, 3)]));
    assert_eq!(pairs(m.get(556)), BTreeSet::from([(100, 4)]));
    assert!(m.get(557).is_empty());
    let h = &m.get(556)[0];
    assert_eq!(&*h.comm, evil, "comm kept as the bytes it is, newline dropped");
    assert_eq!(m.iter().map(|(ino, h)| (ino, h.len())).collect::<HashMap<_, _>>(), HashMap::from([(555, 3), (556, 1)]));
    // scan_all: numeric entries only (not sys, not self), ascending.
    let all = scan_all_in(&proc).unwrap();
    assert_eq!((all.len(), all.processes(), all.unreadable().len()), (2, 2, 0));
    assert_eq!(pairs(all.get(555)), pairs(m.get(555)));
    // Only the pids asked for.
    let only = scan_pids_in(&proc, &[200]).unwrap();
    assert_eq!(pairs(only.get(555)), BTreeSet::from([(200, 3)]));
    assert!(only.get(556).is_empty());
    let _ = std::fs::remove_dir_all(proc.root());
}

#[test]
fn a_vanished_process_is_left_out_and_bad_input_is_named() {
    let proc = fake_proc("holders-gone", &[(100, b"a", &[(3, "socket:[1]")])]);
    // 300 exited before the scan: nothing of it, no error.
    let m = scan_pids_in(&proc, &[300, 100]).unwrap();
    assert_eq!((m.len(), m.processes()), (1, 1));
    // A process whose comm is there but whose fd directory went away.
    std::fs::create_dir_all(proc.root().join("400")).unwrap();
    std::fs::write(proc.root().join("400/comm"), b"x\n").unwrap();
    assert_eq!(scan_pids_in(&proc, &[400]).unwrap().processes(), 0);
    // Not a pid at all.
    let e = scan_pids_in(&proc, &[0]).unwrap_err();
    assert_eq!(e.errno(), libc::EINVAL);
    // fd that is a file, not a directory: an error naming the path.
    std::fs::create_dir_all(proc.root().join("500")).unwrap();
    std::fs::write(proc.root().join("500/comm"), b"x\n").unwrap();
    std::fs::write(proc.root().join("500/fd"), b"").unwrap();
    let e = scan_pids_in(&proc, &[500]).unwrap_err();
    assert!(e.to_string().contains("500/fd"), "{e}");
    assert_eq!(socket_inode(b"socket:[42]"), Some(42));
    for bad in [&b"socket:[]"[..], b"socket:[4 2]", b"socket:42", b"[42]", b"socket:[18446744073709551616]"] {
        assert_eq!(socket_inode(bad), None, "{bad:?}");
    }
    let _ = std::fs::remove_dir_all(proc.root());
}

/// A child of this test drops to an unprivileged uid and scans pid 1 of
/// the real /proc: refused, and the error names the pid and why.
#[test]
fn a_process_that_may_not_be_read_is_an_error_naming_it() {
    crate::needs_root!();
    let (r, w) = nix::unistd::pipe().unwrap();
    // SAFETY: the child changes its own credentials, scans, writes to a
    // pipe and _exits; glibc keeps malloc usable after fork.
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => {
            drop(r);
            let mut out = std::fs::File::from(w);
            let nobody = nix::unistd::Uid::from_raw(65534);
            let text = match nix::unistd::setresgid(65534.into(), 65534.into(), 65534.into())
                .and_then(|()| nix::unistd::setresuid(nobody, nobody, nobody))
                // A changed uid makes the process undumpable: its own /proc/PID/fd would be root's.
                .and_then(|()| nix::sys::prctl::set_dumpable(true))
            {
                Err(e) => format!("setuid failed: {e}"),
                Ok(()) => {
                    let one = scan_pids(&[1]).map(|m| m.len()).map_err(|e| (e.errno(), e.to_string()));
                    let all = scan_all().map(|m| (m.unreadable().iter().any(|(p, _)| *p == 1), m.processes() > 0));
                    format!("{one:?}\n{:?}", all.map_err(|e| e.to_string()))
                }
            };
            let _ = std::io::Write::write_all(&mut out, text.as_bytes());
            // SAFETY: leave without running the parent's destructors.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(w);
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::fs::File::from(r), &mut text).unwrap();
            nix::sys::wait::waitpid(child, None).unwrap();
            let (one, all) = text.split_once('\n').unwrap_or_else(|| panic!("child: {text}"));
            assert!(one.starts_with("Err((13,"), "EACCES for pid 1: {one}");
            assert!(one.contains("pid 1") && one.contains("ptrace"), "names the pid and why: {one}");
            assert_eq!(all, "Ok((true, true))", "scan_all lists pid 1 as unreadable and reads its own");
        }
    }
}

/// `ss -xap` / `ss -tap` users of each socket, inside `pid`'s network namespace.
fn ss_users(pid: i32, family: &str) -> Vec<(u64, BTreeSet<(i32, i32)>, Vec<String>)> {
    let out = std::process::Command::new("nsenter")
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .args(["ss", "-a", "-n", "-p", "-e", "-H", family])
        .output()
        .expect("run ss (iproute2) under nsenter");
    assert!(out.status.success(), "ss failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut rows = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let c: Vec<&str> = line.split_whitespace().collect();
        // unix: the inode is the column after the local name (its ino: is the bound file's); tcp: ino:N.
        let ino = if family == "-x" { c.get(5).copied() } else { c.iter().find_map(|w| w.strip_prefix("ino:")) };
        let Some(ino) = ino.and_then(|i| i.parse::<u64>().ok()).filter(|&i| i != 0) else { continue };
        let mut users = BTreeSet::new();
        let mut comms = Vec::new();
        if let Some(u) = line.split("users:((").nth(1).and_then(|u| u.split("))").next()) {
            for entry in u.split("),(") {
                let parts: Vec<&str> = entry.split(',').collect();
                let num = |k: &str| parts.iter().find_map(|p| p.strip_prefix(k)).and_then(|v| v.parse::<i32>().ok()).unwrap();
                users.insert((num("pid="), num("fd=")));
                comms.push(parts[0].trim_matches('"').to_string());
            }
        }
        rows.push((ino, users, comms));
    }
    rows
}

#[test]
fn holders_of_a_namespace_full_of_sockets_match_ss_p() {
    crate::needs_root!();
    let zoo = crate::net::tests::spawn_zoo();
    let mine = scan_pids(&[zoo.pid]).unwrap();
    let all = scan_all().unwrap();
    // (Some processes may refuse even root, as this machine's pid 1 does: ss -p skips them silently.)
    assert!(all.unreadable().iter().all(|(p, e)| *p != zoo.pid && e.errno() == libc::EACCES), "{:?}", all.unreadable());
    let comm = std::fs::read(format!("/proc/{}/comm", zoo.pid)).unwrap();
    let comm = String::from_utf8_lossy(comm.strip_suffix(b"\n").unwrap()).into_owned();
    let mut checked = 0;
    for family in ["-x", "-t"] {
        for (ino, users, comms) in ss_users(zoo.pid, family) {
            if comms.iter().any(|c| c == "ss") {
                continue; // ss's own socket
            }
            let theirs: BTreeSet<(i32, i32)> = users.iter().copied().filter(|(p, _)| *p == zoo.pid).collect();
            assert_eq!(pairs(mine.get(ino)), theirs, "socket {ino} ({family})");
            assert_eq!(pairs(all.get(ino)), users, "socket {ino} ({family}), every process");
            assert!(comms.iter().all(|c| *c == comm), "{comms:?} vs {comm}");
            assert!(mine.get(ino).iter().all(|h| *h.comm == *comm.as_bytes()));
            checked += !theirs.is_empty() as usize;
        }
    }
    // The zoo's unix pair, listener, clients, tcp listener and connections...
    assert!(checked >= 10, "sockets held by the zoo that ss showed: {checked}");
    let f = |k: &str| zoo.facts[k];
    for k in ["pair_a", "listener", "client1", "tcp_listen"] {
        assert_eq!(mine.get(f(k)).len(), 1, "{k}");
    }
    assert!(Path::new(&format!("/proc/{}", zoo.pid)).exists());
}
