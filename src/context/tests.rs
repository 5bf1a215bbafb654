//! The context's collection: what it keeps, and what a failure leaves.

use super::*;

#[test]
fn collects_own_process_as_own_namespaces() {
    let me = std::process::id() as i32;
    let mut ctx = Context::new(me).unwrap();
    assert_eq!(ctx.namespaces().unwrap_err().errno(), libc::ENODATA);
    ctx.collect_namespaces(false).unwrap();
    let t = ctx.namespaces().unwrap();
    assert!(t.len() >= 7, "at least pid..cgroup: {t:?}");
    // Other tests run in this process and may have children in new
    // namespaces ("other"); ours are the caller's own, so none is "root".
    assert!(t.entries().iter().all(|e| e.ns_type != NsType::Root));
    for kind in NsKind::ALL {
        if let Some(ns) = t.root_ns(kind) {
            assert_eq!(ns.ns_type, NsType::Own, "{kind:?}");
        }
    }
    let mnt = t.root_ns(NsKind::Mnt).unwrap();
    assert_eq!(ctx.namespace(mnt.id, NsKind::Mnt).unwrap().kid, mnt.kid);
    assert_eq!(ctx.namespace(mnt.id, NsKind::Net).unwrap_err().errno(), libc::EINVAL);
}

/// A tree on a fake procfs: its root (returned, a pid no task has) in a
/// user and a mount namespace of its own, with maps and a one-line
/// mountinfo.
fn fake_tree(d: &Path) -> i32 {
    use crate::testing::{fake_ns, fake_pid, fake_task};
    let root = fake_pid(100);
    fake_ns(d, "thread-self", &[(NsKind::Mnt, 5), (NsKind::User, 6)]);
    fake_task(d, root, 'S', &[]);
    fake_ns(d, &root.to_string(), &[(NsKind::Mnt, 15), (NsKind::User, 16)]);
    std::fs::write(d.join(format!("{root}/uid_map")), "0 100000 65536\n").unwrap();
    std::fs::write(d.join(format!("{root}/gid_map")), "0 100000 65536\n").unwrap();
    std::fs::write(d.join(format!("{root}/mountinfo")), "1 0 0:40 / / rw,relatime - tmpfs t rw,uid=100005\n").unwrap();
    root
}

#[test]
fn a_failed_collection_leaves_nothing_of_the_one_before() {
    let d = crate::testing::temp_dir("stale");
    let root = fake_tree(&d);
    let mut ctx = Context::with_proc_root(root, ProcRoot::new(&d)).unwrap();
    ctx.collect_namespaces(false).unwrap();
    let user = ctx.namespaces().unwrap().root_ns(NsKind::User).unwrap().id;
    let mnt = ctx.namespaces().unwrap().root_ns(NsKind::Mnt).unwrap().id;
    assert_eq!(ctx.user_maps(user).unwrap().uid_map[0].lower_first, 100000);
    // The mount rules translate uid= with the maps the user collector read.
    assert_eq!(ctx.mount_namespace(mnt).unwrap().root().options(), b"uid=5");
    // The root's mountinfo turns bad: the next collection gets past the
    // user step and fails in the mount step.
    std::fs::write(d.join(format!("{root}/mountinfo")), "not a mountinfo line\n").unwrap();
    assert_eq!(ctx.collect_namespaces(false).unwrap_err().errno(), libc::EBADMSG);
    assert_eq!(ctx.namespaces().unwrap_err().errno(), libc::ENODATA);
    assert_eq!(ctx.tree().unwrap_err().errno(), libc::ENODATA);
    assert_eq!(ctx.user_maps(user).unwrap_err().errno(), libc::ENOENT, "no stale user maps");
    assert!(ctx.user_namespaces().is_empty() && ctx.dumped_user_ns().is_none());
    assert_eq!(ctx.mount_namespaces().unwrap_err().errno(), libc::ENODATA);
    assert_eq!(ctx.mount_namespace(mnt).unwrap_err().errno(), libc::ENODATA);
    assert_eq!(ctx.net_namespaces().unwrap_err().errno(), libc::ENODATA);
    // A good collection again brings everything back.
    std::fs::write(d.join(format!("{root}/mountinfo")), "1 0 0:40 / / rw,relatime - tmpfs t rw\n").unwrap();
    ctx.collect_namespaces(false).unwrap();
    assert_eq!(ctx.user_maps(user).unwrap().gid_map.len(), 1);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn bad_pids_fail_at_creation() {
    assert_eq!(Context::new(0).unwrap_err().errno(), libc::EINVAL);
    assert_eq!(Context::new(-1).unwrap_err().errno(), libc::EINVAL);
    assert_eq!(Context::new(i32::MAX).unwrap_err().errno(), libc::ESRCH);
}

#[test]
fn a_collection_for_a_dump_that_fails_leaves_no_image_of_it() {
    crate::needs_root!();
    // A root in its own user and mount namespaces (CRIU dumps the user
    // namespace while it collects), whose mounts CRIU refuses: a bind
    // of a tmpfs subdirectory whose tmpfs is mounted nowhere.
    let script = "read p r </proc/self/stat; mkdir -p /tmp/criurs-fail-a /tmp/criurs-fail-b; \
        mount -t tmpfs fail /tmp/criurs-fail-a && mkdir /tmp/criurs-fail-a/sub && \
        mount --bind /tmp/criurs-fail-a/sub /tmp/criurs-fail-b && umount -l /tmp/criurs-fail-a && \
        echo root $p && echo ready && read x";
    let tree = crate::testing::LiveTree::start(
        &format!("exec unshare --user --map-root-user --mount --propagation private sh -c '{script}'"),
        &["root"],
    );
    let d = crate::testing::temp_dir("collect-fails");
    let mut ctx = Context::new(tree.pid("root")).unwrap();
    ctx.set_images_dir(&d).unwrap();
    let e = ctx.collect_namespaces(true).unwrap_err();
    assert!(e.message().contains("proper root mount"), "{e}");
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0, "the user namespace was checked, then nothing was named");
    // Without the refusal the same collection writes the user namespace.
    ctx.collect_namespaces(false).unwrap();
    assert!(ctx.dumped_user_ns().is_none());
    std::fs::remove_dir_all(&d).unwrap();
    let _ = std::fs::remove_dir("/tmp/criurs-fail-a");
    let _ = std::fs::remove_dir("/tmp/criurs-fail-b");
}
