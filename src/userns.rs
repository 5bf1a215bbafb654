//! User namespaces: the uid/gid maps of a task, CRIU's check that we can
//! act inside the namespace, and userns-N.img (CRIU's `dump_user_ns`).

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use crate::error::{Error, Result, ResultExt};
use crate::image::{self, pb, USERNS_MAGIC};
use crate::log::Logger;
use crate::ns::{enter::open_ns, NsKind, NsTable};
use crate::pstree::ProcRoot;

/// The kernel accepts at most this many lines in one id map.
pub const MAX_EXTENTS: usize = 340;

/// One line of uid_map or gid_map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// First id inside the namespace.
    pub first: u32,
    /// First id in the parent namespace.
    pub lower_first: u32,
    pub count: u32,
}

/// Which of the two maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdMapKind {
    Uid,
    Gid,
}

impl IdMapKind {
    pub fn file_name(self) -> &'static str {
        match self {
            IdMapKind::Uid => "uid_map",
            IdMapKind::Gid => "gid_map",
        }
    }
}

/// The uid and gid maps of one user namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdMaps {
    pub uid_map: Vec<Extent>,
    pub gid_map: Vec<Extent>,
}

impl IdMaps {
    pub fn map(&self, kind: IdMapKind) -> &[Extent] {
        match kind {
            IdMapKind::Uid => &self.uid_map,
            IdMapKind::Gid => &self.gid_map,
        }
    }

    fn to_entry(&self) -> pb::UsernsEntry {
        let conv = |m: &[Extent]| {
            m.iter()
                .map(|e| pb::UidGidExtent { first: e.first, lower_first: e.lower_first, count: e.count })
                .collect()
        };
        pb::UsernsEntry { uid_map: conv(&self.uid_map), gid_map: conv(&self.gid_map) }
    }

    fn from_entry(entry: &pb::UsernsEntry) -> Self {
        let conv = |m: &[pb::UidGidExtent]| {
            m.iter().map(|e| Extent { first: e.first, lower_first: e.lower_first, count: e.count }).collect()
        };
        IdMaps { uid_map: conv(&entry.uid_map), gid_map: conv(&entry.gid_map) }
    }
}

/// Maps an id of the namespace to the parent's (CRIU's `host_uid`).
pub fn to_parent(map: &[Extent], id: u32) -> Option<u32> {
    map.iter()
        .find(|e| id >= e.first && (id - e.first) < e.count)
        .map(|e| e.lower_first + (id - e.first))
}

/// Maps an id of the parent to the namespace's (CRIU's `userns_uid`,
/// which gives INVALID_ID, u32::MAX, for None).
pub fn from_parent(map: &[Extent], id: u32) -> Option<u32> {
    map.iter()
        .find(|e| id >= e.lower_first && (id - e.lower_first) < e.count)
        .map(|e| e.first + (id - e.lower_first))
}

/// Parses the text of /proc/PID/uid_map or gid_map; `what` names the file.
pub fn parse_id_map(text: &[u8], what: &str) -> Result<Vec<Extent>> {
    let mut extents = Vec::new();
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        let lineno = n + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let bad = |why: String| Error::malformed(format!("{what}: line {lineno}: {why}"));
        let fields: Vec<&[u8]> = line.split(|b| b.is_ascii_whitespace()).filter(|f| !f.is_empty()).collect();
        if fields.len() != 3 {
            return Err(bad(format!("{} fields, expected 3 (first lower_first count)", fields.len())));
        }
        let mut nums = [0u32; 3];
        for (slot, field) in nums.iter_mut().zip(&fields) {
            let text = String::from_utf8_lossy(field);
            if !field.iter().all(u8::is_ascii_digit) {
                return Err(bad(format!("{text:?} is not a number")));
            }
            *slot = text.parse().map_err(|_| bad(format!("{text} does not fit in 32 bits")))?;
        }
        let [first, lower_first, count] = nums;
        if count == 0 {
            return Err(bad("count is 0".into()));
        }
        if first.checked_add(count - 1).is_none() || lower_first.checked_add(count - 1).is_none() {
            return Err(bad(format!("range {first}+{count} or {lower_first}+{count} wraps past 2^32")));
        }
        if extents.len() == MAX_EXTENTS {
            return Err(bad(format!("more than the kernel's {MAX_EXTENTS} extents")));
        }
        extents.push(Extent { first, lower_first, count });
    }
    Ok(extents)
}

/// Reads one map of `pid`.
pub fn read_id_map(proc: &ProcRoot, pid: i32, kind: IdMapKind) -> Result<Vec<Extent>> {
    let path = proc.pid_path(pid, kind.file_name());
    let text = std::fs::read(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH) {
            Error::new(libc::ESRCH, format!("pid {pid} does not exist or exited ({} is gone)", path.display()))
        } else {
            Error::io(&e, format!("read {}", path.display()))
        }
    })?;
    parse_id_map(&text, &path.display().to_string())
}

/// Reads both maps of `pid`.
pub fn read_id_maps(proc: &ProcRoot, pid: i32) -> Result<IdMaps> {
    Ok(IdMaps { uid_map: read_id_map(proc, pid, IdMapKind::Uid)?, gid_map: read_id_map(proc, pid, IdMapKind::Gid)? })
}

/// The steps of the check, reported back by the child by number.
const CHECK_STEPS: [&str; 11] = [
    "prctl(PR_SET_KEEPCAPS)",
    "setresgid to the namespace's root gid",
    "setgroups(0)",
    "setresuid to the namespace's root uid",
    "capget",
    "capset (raise effective to permitted)",
    "setns into the user namespace",
    "setns into the net namespace",
    "setns into the uts namespace",
    "setns into the ipc namespace",
    "setns into the mount namespace",
];

/// CRIU's `check_user_ns`: in a child process, become the namespace's
/// root with capabilities kept, enter the user namespace, then each other
/// namespace of the root that differs from ours (which proves they belong
/// to that user namespace). The caller's credentials never change.
pub fn check_user_ns(proc: &ProcRoot, pid: i32, maps: &IdMaps, table: Option<&NsTable>) -> Result<()> {
    let uid = to_parent(&maps.uid_map, 0)
        .ok_or_else(|| Error::new(libc::EINVAL, format!("pid {pid}: uid 0 of its user namespace is not mapped")))?;
    let gid = to_parent(&maps.gid_map, 0)
        .ok_or_else(|| Error::new(libc::EINVAL, format!("pid {pid}: gid 0 of its user namespace is not mapped")))?;
    // Everything the child needs is prepared here: after fork it may make
    // only async-signal-safe calls, so no allocation there.
    let mut fds: Vec<(usize, OwnedFd, libc::c_int)> = vec![(6, open_ns(proc, pid, NsKind::User)?, libc::CLONE_NEWUSER)];
    for (step, kind) in [(7, NsKind::Net), (8, NsKind::Uts), (9, NsKind::Ipc), (10, NsKind::Mnt)] {
        if table.is_some_and(|t| t.root_differs(kind)) {
            fds.push((step, open_ns(proc, pid, kind)?, kind.clone_flag() as libc::c_int));
        }
    }
    let raw: Vec<(usize, libc::c_int, libc::c_int)> = fds.iter().map(|(s, fd, t)| (*s, fd.as_raw_fd(), *t)).collect();
    let (report_rd, report_wr) = nix::unistd::pipe().map_err(|e| Error::sys(e, "pipe for the user namespace check"))?;
    // SAFETY: the child only calls async-signal-safe functions (prctl,
    // set*id, setgroups, capget/capset, setns, write, _exit) on data
    // prepared before the clone, and never returns into Rust code. It is
    // made with exit signal 0, so a host's SIGCHLD handler cannot reap it.
    let child = unsafe {
        let report_fd = report_wr.as_raw_fd();
        let raw = &raw;
        crate::process::fork_child(move || check_in_child(uid, gid, raw, report_fd))
    }
    .context("the user namespace check")?;
    drop(report_wr);
    let mut report = [0u8; 8];
    let got = read_report(&report_rd, &mut report);
    let status = child.wait().context("the user namespace check")?;
    drop(fds);
    if got == 8 {
        let step = u32::from_le_bytes(report[..4].try_into().unwrap()) as usize;
        let errno = i32::from_le_bytes(report[4..].try_into().unwrap());
        let what = CHECK_STEPS.get(step).copied().unwrap_or("an unknown step");
        return Err(Error::new(
            errno,
            format!("user namespace of pid {pid} cannot be entered: {what} failed: {}", crate::error::describe_errno(errno)),
        ));
    }
    match status {
        crate::process::Exit::Code(0) => Ok(()),
        other => Err(Error::new(libc::ECHILD, format!("user namespace check for pid {pid} ended with {other:?}"))),
    }
}

/// Reads the child's 8-byte report (none when it succeeded), across
/// interruptions by the host's signal handlers.
fn read_report(fd: &OwnedFd, report: &mut [u8; 8]) -> usize {
    let mut got = 0;
    while got < report.len() {
        match nix::unistd::read(fd, &mut report[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    got
}

/// The body of the check's child. Never returns.
///
/// # Safety
/// Only to be called in a freshly forked child; uses raw syscalls only.
unsafe fn check_in_child(uid: u32, gid: u32, fds: &[(usize, libc::c_int, libc::c_int)], report: libc::c_int) -> ! {
    let fail = |step: usize| -> ! {
        // SAFETY: errno location and write/_exit are async-signal-safe.
        unsafe {
            let errno = *libc::__errno_location();
            let mut msg = [0u8; 8];
            msg[..4].copy_from_slice(&(step as u32).to_le_bytes());
            msg[4..].copy_from_slice(&errno.to_le_bytes());
            libc::write(report, msg.as_ptr().cast(), msg.len());
            libc::_exit(1)
        }
    };
    // SAFETY: plain syscalls on values and fds prepared before the fork.
    unsafe {
        if libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 {
            fail(0);
        }
        if libc::setresgid(gid, gid, gid) != 0 {
            fail(1);
        }
        if libc::setgroups(0, std::ptr::null()) != 0 {
            fail(2);
        }
        if libc::setresuid(uid, uid, uid) != 0 {
            fail(3);
        }
        // _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set.
        let mut header: [u32; 2] = [0x2008_0522, 0];
        let mut data = [[0u32; 3]; 2];
        if libc::syscall(libc::SYS_capget, header.as_mut_ptr(), data.as_mut_ptr()) != 0 {
            fail(4);
        }
        data[0][0] = data[0][1]; // effective = permitted
        data[1][0] = data[1][1];
        if libc::syscall(libc::SYS_capset, header.as_mut_ptr(), data.as_mut_ptr()) != 0 {
            fail(5);
        }
        for &(step, fd, nstype) in fds {
            if libc::setns(fd, nstype) != 0 {
                fail(step);
            }
        }
        libc::_exit(0)
    }
}

/// Checks a `dump_user_ns` target before anything is read: `ns_id` is
/// a namespace id, and when the namespace table is collected it names a
/// user namespace that `pid` lives in.
pub fn check_target(proc: &ProcRoot, pid: i32, ns_id: u32, table: Option<&NsTable>) -> Result<()> {
    crate::pstree::check_pid(pid)?;
    if ns_id == 0 {
        return Err(Error::invalid("namespace id 0 does not exist (ids start at 1)"));
    }
    let Some(ns) = table.and_then(|t| t.by_id(ns_id)) else { return Ok(()) };
    if ns.kind != NsKind::User {
        return Err(Error::invalid(format!("namespace {ns_id} is a {} namespace, not user", ns.kind.name())));
    }
    let kid = crate::ns::read_ns_kid(proc, &pid.to_string(), NsKind::User)?
        .ok_or_else(|| Error::new(libc::ESRCH, format!("pid {pid} does not exist or exited")))?;
    if kid != ns.kid {
        return Err(Error::invalid(format!("pid {pid} is not in user namespace {ns_id}")));
    }
    Ok(())
}

/// CRIU's `dump_user_ns`: checks the target ([`check_target`]), then
/// that there is an images directory, reads the maps of `pid`, checks
/// them, and writes `userns-<ns_id>.img` into `dir`. Nothing is written
/// on failure.
pub fn dump_user_ns(proc: &ProcRoot, pid: i32, ns_id: u32, table: Option<&NsTable>, dir: Option<BorrowedFd<'_>>) -> Result<IdMaps> {
    check_target(proc, pid, ns_id, table)?;
    let dir = dir.ok_or_else(|| Error::invalid("no images directory set on the context"))?;
    let maps = read_id_maps(proc, pid)?;
    check_user_ns(proc, pid, &maps, table)?;
    write_image(dir, ns_id, &maps)?;
    Ok(maps)
}

pub fn image_name(ns_id: u32) -> String {
    format!("userns-{ns_id}.img")
}

/// The bytes of `userns-N.img` for `maps`.
pub fn encode(maps: &IdMaps) -> Vec<u8> {
    image::encode(USERNS_MAGIC, &[maps.to_entry()])
}

pub fn write_image(dir: BorrowedFd<'_>, ns_id: u32, maps: &IdMaps) -> Result<()> {
    image::write_file(dir, &image_name(ns_id), &encode(maps))
}

/// Reads `userns-<ns_id>.img` back.
pub fn read_image(dir: BorrowedFd<'_>, ns_id: u32) -> Result<IdMaps> {
    let name = image_name(ns_id);
    decode_image(&image::read_file(dir, &name)?, &name)
}

/// The maps in the bytes of a `userns-N.img`; `name` names the file.
pub fn decode_image(bytes: &[u8], name: &str) -> Result<IdMaps> {
    let entries: Vec<pb::UsernsEntry> = image::decode(bytes, USERNS_MAGIC, name)?;
    match entries.as_slice() {
        [one] => Ok(IdMaps::from_entry(one)),
        other => Err(Error::malformed(format!("{name}: {} entries, expected exactly one", other.len()))),
    }
}

/// The maps of the tree's user namespaces, by namespace id.
#[derive(Debug, Default, Clone)]
pub struct UserNamespaces {
    pub maps: BTreeMap<u32, IdMaps>,
    /// The namespace whose userns-N.img this collection wrote, if any.
    pub dumped: Option<u32>,
}

impl UserNamespaces {
    /// The maps of the tree root's user namespace when it is not the
    /// caller's (`None` when it is): what the mount rules translate
    /// uid= and gid= options with.
    pub fn root_maps(&self, table: &NsTable) -> Option<&IdMaps> {
        if !table.root_differs(NsKind::User) {
            return None;
        }
        table.root_ns(NsKind::User).and_then(|root| self.maps.get(&root.id))
    }
}

/// CRIU's `collect_user_namespaces(for_dump)`. The maps of each user
/// namespace the walk visits are read (for inspection); with `for_dump`
/// and a root in a user namespace other than ours, the root's namespace
/// is checked and dumped, as CRIU does. CRIU supports no nested user
/// namespaces; others are reported, not dumped.
pub fn collect_user_namespaces(
    proc: &ProcRoot,
    table: &NsTable,
    log: &Logger,
    for_dump: bool,
    images: Option<&mut image::Batch>,
) -> Result<UserNamespaces> {
    let mut out = UserNamespaces::default();
    for ns in table.walk(NsKind::User) {
        let maps = read_id_maps(proc, ns.pid).map_err(|e| e.context(format!("user namespace {}", ns.id)))?;
        out.maps.insert(ns.id, maps);
    }
    if !for_dump || !table.root_differs(NsKind::User) {
        return Ok(out);
    }
    let root = table.root_ns(NsKind::User).ok_or_else(|| Error::new(libc::ESRCH, "the tree root has no user namespace"))?;
    let batch = images.ok_or_else(|| Error::invalid("dumping a user namespace needs an images directory"))?;
    let maps = &out.maps[&root.id];
    check_user_ns(proc, root.pid, maps, Some(table))?;
    batch.add(&image_name(root.id), &encode(maps))?;
    out.dumped = Some(root.id);
    log.info("userns", format_args!("dumped user namespace {} of pid {}", root.id, root.pid));
    for other in table.walk(NsKind::User).iter().filter(|n| n.id != root.id) {
        log.warn("userns", format_args!("nested user namespace {} (pid {}) is not dumped", other.id, other.pid));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(first: u32, lower_first: u32, count: u32) -> Extent {
        Extent { first, lower_first, count }
    }

    #[test]
    fn parses_the_criu_fixture_maps() {
        let dir = crate::testing::fixture_dir("userns-mounts");
        let uid = parse_id_map(&std::fs::read(dir.join("uid_map.txt")).unwrap(), "uid_map.txt").unwrap();
        let gid = parse_id_map(&std::fs::read(dir.join("gid_map.txt")).unwrap(), "gid_map.txt").unwrap();
        assert_eq!(uid, vec![ext(0, 0, 1), ext(1, 500000, 65535)]);
        assert_eq!(gid, vec![ext(0, 0, 1), ext(1, 600000, 1000)]);
        // Our image of those maps is byte-for-byte CRIU's.
        let maps = IdMaps { uid_map: uid, gid_map: gid };
        assert_eq!(image::encode(USERNS_MAGIC, &[maps.to_entry()]), std::fs::read(dir.join("userns-12.img")).unwrap());
        assert_eq!(to_parent(&maps.uid_map, 0), Some(0));
        assert_eq!(to_parent(&maps.uid_map, 70), Some(500069));
        assert_eq!(to_parent(&maps.gid_map, 1001), None);
    }

    #[test]
    fn malformed_lines_are_named() {
        let cases: [(&[u8], &str); 7] = [
            (b"0 0 1\n1 2\n", "line 2: 2 fields"),
            (b"0 0 1 4\n", "line 1: 4 fields"),
            (b"0 x 1\n", "\"x\" is not a number"),
            (b"0 -1 1\n", "\"-1\" is not a number"),
            (b"0 0 4294967296\n", "does not fit in 32 bits"),
            (b"4294967295 0 2\n", "wraps"),
            (b"0 0 0\n", "count is 0"),
        ];
        for (text, want) in cases {
            let e = parse_id_map(text, "/proc/7/uid_map").unwrap_err();
            assert!(e.message().starts_with("/proc/7/uid_map: line") && e.message().contains(want), "{e}");
            assert_eq!(e.errno(), libc::EBADMSG);
        }
        let many: String = (0..341).map(|i| format!("{} {} 1\n", i, i + 1000)).collect();
        assert!(parse_id_map(many.as_bytes(), "m").unwrap_err().message().contains("340"));
        let full: String = (0..340).map(|i| format!("{} {} 1\n", i, i + 1000)).collect();
        assert_eq!(parse_id_map(full.as_bytes(), "m").unwrap().len(), 340);
        assert_eq!(parse_id_map(b"", "m").unwrap(), vec![]);
        assert_eq!(parse_id_map(b"         0          0 4294967295\n", "m").unwrap(), vec![ext(0, 0, u32::MAX)]);
    }

    #[test]
    fn own_maps_read_and_check_passes_for_own_namespace() {
        crate::needs_root!();
        let proc = ProcRoot::default();
        let me = std::process::id() as i32;
        let maps = read_id_maps(&proc, me).unwrap();
        assert!(!maps.uid_map.is_empty());
        // Entering our own user namespace is refused by the kernel (EINVAL),
        // and the sentence says which step failed.
        let e = check_user_ns(&proc, me, &maps, None).unwrap_err();
        assert!(e.message().contains("setns into the user namespace"), "{e}");
        let e = read_id_maps(&proc, i32::MAX).unwrap_err();
        assert_eq!(e.errno(), libc::ESRCH);
    }

    #[test]
    fn dump_and_read_back_a_real_user_namespace() {
        crate::needs_root!();
        use std::io::{BufRead, BufReader, Write};
        use std::process::{Command, Stdio};
        // A child in new user + net namespaces with 3-extent maps written by
        // us from outside.
        let mut child = Command::new("unshare")
            .args(["--user", "--net", "sh", "-c", "read x; exec sleep 30"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run unshare");
        let pid = child.id() as i32;
        // Wait until unshare has exec'd sh inside the new namespace.
        let own = std::fs::read_link("/proc/self/ns/user").unwrap();
        for _ in 0..200 {
            if std::fs::read_link(format!("/proc/{pid}/ns/user")).map(|l| l != own).unwrap_or(false) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        std::fs::write(format!("/proc/{pid}/uid_map"), "0 100000 10\n10 200000 5\n100 300000 1000\n").unwrap();
        std::fs::write(format!("/proc/{pid}/setgroups"), "deny").unwrap();
        std::fs::write(format!("/proc/{pid}/gid_map"), "0 110000 10\n10 210000 5\n100 310000 1000\n").unwrap();
        let d = crate::testing::temp_dir("userns-dump");
        let dir = image::open_dir(&d).unwrap();
        let proc = ProcRoot::default();
        let tree = crate::pstree::collect_tree(&proc, pid, &Logger::default()).unwrap();
        let table = NsTable::build(&proc, &tree, &Logger::default()).unwrap();
        let mut batch = image::Batch::new(std::os::fd::AsFd::as_fd(&dir)).unwrap();
        let user = collect_user_namespaces(&proc, &table, &Logger::default(), true, Some(&mut batch)).unwrap();
        assert_eq!(batch.commit().unwrap(), [image_name(table.root_ns(NsKind::User).unwrap().id)]);
        let root = table.root_ns(NsKind::User).unwrap();
        let want = vec![ext(0, 100000, 10), ext(10, 200000, 5), ext(100, 300000, 1000)];
        assert_eq!(user.maps[&root.id].uid_map, want);
        let back = read_image(std::os::fd::AsFd::as_fd(&dir), root.id).unwrap();
        assert_eq!(back, user.maps[&root.id]);
        assert_eq!(back.gid_map[2], ext(100, 310000, 1000));
        assert_eq!(user.dumped, Some(root.id));
        child.stdin.take().unwrap().write_all(b"\n").unwrap();
        let _ = child.kill();
        let _ = child.wait();
        let _ = BufReader::new(child.stdout.take().unwrap()).lines().count();
        std::fs::remove_dir_all(&d).unwrap();
    }
}
