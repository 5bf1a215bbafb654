//! Rules over state built in memory: what no live tree here can show (a
//! kernel without a diag module, a caller without capabilities, a fuse
//! mount), and the pieces the rules stand on.

use std::collections::HashMap;

use super::*;
use crate::log::Logger;
use crate::mount::MountConfig;
use crate::net::plan::Source;
use crate::net::{DiagRequest, FamilyState, FamilyStatus, TableBuilder};
use crate::ns::NsType;

const ROOT: Caller = Caller { cap_eff: u64::MAX, euid: 0 };

struct NoProbe(Option<i32>);

impl Probe for NoProbe {
    fn udp_corked(&self, _: i32, _: i32) -> Option<bool> {
        None
    }
    fn has_data(&self, _: i32, _: i32) -> Option<bool> {
        None
    }
    fn domain(&self, _: i32, _: i32) -> Option<i32> {
        self.0
    }
}

/// A fake procfs with a root task 100 in its own mount namespace, the
/// mountinfo `mounts`; the state's pieces are built from it.
struct Fake {
    dir: std::path::PathBuf,
    proc: ProcRoot,
    tree: ProcessTree,
    table: NsTable,
    mnt: MountNamespaces,
}

fn fake(tag: &str, mounts: &str, config: &MountConfig) -> Fake {
    use crate::testing::{fake_ns, fake_task};
    let d = crate::testing::temp_dir(tag);
    fake_ns(&d, "thread-self", &[(NsKind::Mnt, 5), (NsKind::Net, 6)]);
    fake_task(&d, 100, 'S', &[]);
    fake_ns(&d, "100", &[(NsKind::Mnt, 15), (NsKind::Net, 6)]);
    std::fs::write(d.join("100/mountinfo"), mounts).unwrap();
    let proc = ProcRoot::new(&d);
    let log = Logger::default();
    let tree = crate::pstree::collect_tree(&proc, 100, &log).unwrap();
    let table = NsTable::build(&proc, &tree, &log).unwrap();
    let mnt = crate::mount::collect_mnt_namespaces(&proc, &table, &log, false, config, None).unwrap();
    Fake { dir: d, proc, tree, table, mnt }
}

fn run_on(f: &Fake, nets: Vec<NetView<'_>>, files: &[OpenFile], caller: Caller, probe: &dyn Probe, externals: &Externals) -> Report {
    let holders = HolderMap::default();
    let users = HashMap::new();
    let state = State {
        proc: &f.proc,
        root_pid: 100,
        tree: &f.tree,
        namespaces: &f.table,
        mnt: &f.mnt,
        nets,
        holders: &holders,
        files,
        ns_users: &users,
        externals,
        caller,
        probe,
    };
    run(&state, &Options::default())
}

const PLAIN: &str = "1 0 0:40 / / rw - tmpfs t rw\n";

#[test]
fn caller_capabilities_are_read_from_status() {
    let status = "Name:\tx\nUid:\t1000\t0\t0\t0\nCapEff:\t0000000000200000\n";
    assert_eq!(Caller::parse(status), Some(Caller { cap_eff: 1 << 21, euid: 0 }));
    assert_eq!(Caller::parse("Uid:\t0\t0\t0\t0\n"), None);
    let f = fake("caps", PLAIN, &MountConfig::default());
    let none = Caller { cap_eff: 0, euid: 1000 };
    let r = run_on(&f, vec![], &[], none, &NoProbe(None), &Externals::default());
    assert_eq!(r.findings[0].code, "caller-lacks-capability");
    assert_eq!(r.exit_code(), 2);
    assert!(r.findings[0].criu_message.starts_with(b"CRIU needs to have the CAP_SYS_ADMIN or the CAP_CHECKPOINT_RESTORE"));
    // CAP_CHECKPOINT_RESTORE (40) and ptrace as a non-root user: --unprivileged.
    let cr = Caller { cap_eff: (1 << 40) | (1 << 19), euid: 1000 };
    let r = run_on(&f, vec![], &[], cr, &NoProbe(None), &Externals::default());
    assert_eq!(r.findings.iter().map(|x| x.code).collect::<Vec<_>>(), vec!["caller-not-root"]);
    assert_eq!(r.options(), vec![&b"--unprivileged"[..]]);
    // Root with every capability: nothing.
    let r = run_on(&f, vec![], &[], ROOT, &NoProbe(None), &Externals::default());
    assert!(r.findings.is_empty(), "{r:?}");
    assert_eq!(r.exit_code(), 0);
    std::fs::remove_dir_all(&f.dir).unwrap();
}

fn status(req: DiagRequest, state: FamilyState) -> FamilyStatus {
    let source = Source::Diag(req);
    FamilyStatus { name: source.name(), source, state, unknown: Default::default() }
}

#[test]
fn a_missing_diag_module_warns_and_blocks_a_socket_that_needs_it() {
    let f = fake("diag", PLAIN, &MountConfig::default());
    let table = TableBuilder::default().finish(vec![
        status(DiagRequest::Unix, FamilyState::Unsupported),
        status(DiagRequest::Packet, FamilyState::Collected(0)),
    ]);
    let nets = || vec![NetView { ns_id: 2, kid: 6, table: &table }];
    // No unix socket held: a warning naming the module.
    let r = run_on(&f, nets(), &[], ROOT, &NoProbe(None), &Externals::default());
    assert_eq!(r.findings.len(), 1, "{r:?}");
    assert_eq!((r.findings[0].code, r.findings[0].severity), ("diag-module-missing", Severity::Warning));
    assert!(String::from_utf8_lossy(&r.findings[0].fix).contains("modprobe unix_diag"));
    assert_eq!(r.exit_code(), 0);
    // A held unix socket no table lists: CRIU's lookup_socket refuses it.
    let files = [OpenFile { pid: 100, fd: 3, target: b"socket:[777]".to_vec(), mnt_id: None }];
    let r = run_on(&f, nets(), &files, ROOT, &NoProbe(Some(libc::AF_UNIX)), &Externals::default());
    let b = r.findings.iter().find(|x| x.severity == Severity::Blocks).expect("blocks");
    assert_eq!(b.code, "diag-module-missing");
    assert_eq!(b.criu_message, b"Sockets (family 1 proto 0) are not collected");
    assert_eq!(b.criu_source, "criu/sockets.c:lookup_socket");
    // With the module there, the same socket is CRIU's "not found".
    let loaded = TableBuilder::default().finish(vec![status(DiagRequest::Unix, FamilyState::Collected(0))]);
    let r = run_on(&f, vec![NetView { ns_id: 2, kid: 6, table: &loaded }], &files, ROOT, &NoProbe(Some(libc::AF_UNIX)), &Externals::default());
    assert_eq!(r.findings.iter().map(|x| x.code).collect::<Vec<_>>(), vec!["unix-not-found"]);
    // A family CRIU does not know (AF_ALG).
    let r = run_on(&f, vec![NetView { ns_id: 2, kid: 6, table: &loaded }], &files, ROOT, &NoProbe(Some(libc::AF_ALG)), &Externals::default());
    assert_eq!(r.findings[0].code, "socket-family-unsupported");
    assert_eq!(r.findings[0].criu_message, b"BUG! Unknown socket collected (family 38)");
    std::fs::remove_dir_all(&f.dir).unwrap();
}

#[test]
fn fuse_mounts_fail_unless_external() {
    let mounts = "1 0 0:40 / / rw - tmpfs t rw\n2 1 0:50 / /mnt/f\\040s rw - fuse.sshfs u@h:/ rw,user_id=0\n";
    let f = fake("fuse", mounts, &MountConfig::default());
    let r = run_on(&f, vec![], &[], ROOT, &NoProbe(None), &Externals::default());
    let x = r.findings.iter().find(|x| x.code == "mount-fs-fuse").unwrap_or_else(|| panic!("{r:?}"));
    assert_eq!(x.criu_message, b"failed to dump fs ./mnt/f s (fuse): always fail");
    assert_eq!(x.severity, Severity::NeedsOption);
    assert_eq!(x.option.as_deref(), Some(&b"--external mnt[/mnt/f s]:f_s"[..]));
    assert_eq!(x.object, Object::Mount { ns_id: f.table.root_ns(NsKind::Mnt).unwrap().id, mnt_id: 2, path: b"/mnt/f s".to_vec() });
    let mut config = MountConfig::default();
    config.add_external_mount(b"/mnt/f s", b"fs").unwrap();
    let g = fake("fuse-ext", mounts, &config);
    let r = run_on(&g, vec![], &[], ROOT, &NoProbe(None), &Externals::default());
    assert!(r.findings.iter().all(|x| x.code != "mount-fs-fuse"), "{r:?}");
    std::fs::remove_dir_all(&f.dir).unwrap();
    std::fs::remove_dir_all(&g.dir).unwrap();
}

#[test]
fn files_on_overmounted_mounts_block() {
    // /a (2) is covered by a later mount on /a (3), its child on its own
    // mount point; /c (4) is seen.
    let mounts = "1 0 0:40 / / rw - tmpfs t rw\n2 1 0:41 / /a rw - tmpfs a rw\n3 2 0:42 / /a rw - tmpfs b rw\n4 1 0:43 / /c rw - tmpfs c rw\n";
    let f = fake("overmount", mounts, &MountConfig::default());
    let ns = f.mnt.namespaces().iter().find(|n| n.ns_type != NsType::Own).unwrap();
    let over: Vec<u32> = (0..ns.len()).filter(|&i| rules_mnt::is_overmounted(ns, i)).map(|i| ns.mounts()[i].mnt_id).collect();
    assert_eq!(over, vec![2]);
    let files = [
        OpenFile { pid: 100, fd: 5, target: b"/a/hidden".to_vec(), mnt_id: Some(2) },
        OpenFile { pid: 100, fd: 6, target: b"/c/seen".to_vec(), mnt_id: Some(4) },
    ];
    let r = run_on(&f, vec![], &files, ROOT, &NoProbe(None), &Externals::default());
    let codes: Vec<_> = r.findings.iter().map(|x| (x.code, x.object.clone())).collect();
    assert_eq!(codes, vec![("file-on-overmounted-mount", Object::File { pid: 100, fd: 5, path: b"/a/hidden".to_vec() })]);
    assert_eq!(r.findings[0].criu_message, b"Open files on overmounted mounts are not supported yet; mount=2 fd=5 path=a/hidden");
    std::fs::remove_dir_all(&f.dir).unwrap();
}

#[test]
fn mount_external_options_have_keys_made_from_the_path() {
    assert_eq!(mount_external_option(b"/tmp/criu-fx/vol"), b"--external mnt[/tmp/criu-fx/vol]:vol");
    assert_eq!(mount_external_option(b"/dev/pts/"), b"--external mnt[/dev/pts/]:pts");
    assert_eq!(mount_external_option(b"/"), b"--external mnt[/]:root");
}

#[test]
fn exit_codes_follow_the_worst_finding() {
    let f = |severity| Finding {
        code: "x",
        severity,
        object: Object::Caller,
        criu_message: vec![],
        criu_source: "criu/x.c:x",
        option: Some(b"--x".to_vec()),
        fix: vec![],
    };
    assert_eq!(Report::default().exit_code(), 0);
    assert_eq!(Report { findings: vec![f(Severity::Warning)], criu_order: vec![0] }.exit_code(), 0);
    assert_eq!(Report { findings: vec![f(Severity::Warning), f(Severity::NeedsOption)], criu_order: vec![0, 1] }.exit_code(), 1);
    let r = Report { findings: vec![f(Severity::NeedsOption), f(Severity::Blocks), f(Severity::NeedsOption)], criu_order: vec![1, 0, 2] };
    assert_eq!(r.exit_code(), 2);
    assert_eq!(r.options(), vec![&b"--x"[..]], "each option once");
    assert_eq!(r.first_refusal().map(|x| x.severity), Some(Severity::Blocks));
}

fn unix_sk(ino: u32, type_: u8, state: u8, d: crate::net::UnixDetail) -> crate::net::Socket {
    crate::net::Socket { ino, family: crate::net::AF_UNIX, type_, state, detail: crate::net::Detail::Unix(d) }
}

fn tcp_sk(ino: u32, type_: u8, state: u8, rqlen: u32, wqlen: u32) -> crate::net::Socket {
    let d = crate::net::InetDetail {
        proto: libc::IPPROTO_TCP as u8,
        src_port: 80,
        dst_port: 0,
        src_addr: [0; 16],
        dst_addr: [0; 16],
        ifindex: 0,
        rqlen,
        wqlen,
        uid: 0,
        shutdown: 0,
        v6only: None,
        timer: 0,
        retrans: 0,
        expires: 0,
        source: crate::net::InetSource::Diag,
    };
    crate::net::Socket { ino, family: crate::net::AF_INET, type_, state, detail: crate::net::Detail::Inet(d) }
}

#[test]
fn socket_kinds_and_states_criu_refuses() {
    use crate::net::{UnixDetail, TCP_CLOSE, TCP_ESTABLISHED, TCP_LISTEN, TCP_TIME_WAIT};
    let f = fake("kinds", PLAIN, &MountConfig::default());
    let stream = libc::SOCK_STREAM as u8;
    let dgram = libc::SOCK_DGRAM as u8;
    let mut b = TableBuilder::default();
    // 10: a connected stream with no peer and nobody waiting for it.
    b.push(unix_sk(10, stream, TCP_ESTABLISHED, UnixDetail::default()));
    // 11: semi-closed (shut both ways): CRIU dumps it.
    b.push(unix_sk(11, stream, TCP_ESTABLISHED, UnixDetail { shutdown: 3, ..Default::default() }));
    // 12 → 13, whose peer is 14 and who has no name: unreachable.
    b.push(unix_sk(12, stream, TCP_ESTABLISHED, UnixDetail { peer: 13, ..Default::default() }));
    b.push(unix_sk(13, stream, TCP_ESTABLISHED, UnixDetail { peer: 14, ..Default::default() }));
    // 15: a unix socket in a state CRIU does not know.
    b.push(unix_sk(15, stream, TCP_TIME_WAIT, UnixDetail::default()));
    // 20: TCP in TIME_WAIT held by an fd; 21: an inet SOCK_SEQPACKET; 22: UDP with queues.
    b.push(tcp_sk(20, stream, TCP_TIME_WAIT, 0, 0));
    b.push(tcp_sk(21, libc::SOCK_SEQPACKET as u8, TCP_CLOSE, 0, 0));
    b.push(tcp_sk(22, dgram, TCP_CLOSE, 7, 9));
    // 23: a closed TCP socket and 24 a quiet listener: nothing.
    b.push(tcp_sk(23, stream, TCP_CLOSE, 0, 0));
    b.push(tcp_sk(24, stream, TCP_LISTEN, 0, 0));
    let table = b.finish(vec![]);
    let files: Vec<OpenFile> = [10, 11, 12, 15, 20, 21, 22, 23, 24]
        .iter()
        .enumerate()
        .map(|(i, ino)| OpenFile { pid: 100, fd: 3 + i as i32, target: format!("socket:[{ino}]").into_bytes(), mnt_id: None })
        .collect();
    let r = run_on(&f, vec![NetView { ns_id: 2, kid: 6, table: &table }], &files, ROOT, &NoProbe(None), &Externals::default());
    let got: Vec<(&str, Severity, String)> =
        r.findings.iter().map(|x| (x.code, x.severity, String::from_utf8_lossy(&x.criu_message).into_owned())).collect();
    assert_eq!(
        got,
        vec![
            ("unix-dangling-connection", Severity::Blocks, "Dangling connection 10".to_string()),
            ("unix-peer-unreachable", Severity::Blocks, "Unix socket 12 with unreachable peer 13 (14)".to_string()),
            ("unix-state-unsupported", Severity::Blocks, "Unknown state 6 for unix socket 15".to_string()),
            ("tcp-state-unsupported", Severity::Blocks, "Unknown inet socket 14 state 6".to_string()),
            ("inet-type-unsupported", Severity::Blocks, "Can't dump 5 inet socket 15. Only stream, dgram and raw are supported.".to_string()),
            ("dgram-write-queue", Severity::Warning, "Write queue of the 16 socket isn't empty".to_string()),
            ("dgram-read-queue-dropped", Severity::Warning, "Read queue is dropped for socket 16".to_string()),
        ]
    );
    assert!(r.findings.iter().all(|x| matches!(x.object, Object::Socket { ns_id: 2, .. })));
    std::fs::remove_dir_all(&f.dir).unwrap();
}
