//! Mount rules, over the collected trees and their sharing (mount.c:
//! resolve_shared_mounts and validate_mounts, filesystems.c's dump
//! hooks, files-reg.c's overmount refusal).

use super::{cat, mount_external_option, Finding, Object, Options, Severity, State};
use crate::mount::validate::{criu_mountpoint, MountRefusal};
use crate::mount::{FsType, MountNamespace, MountRef};
use crate::ns::{NsKind, NsType};

pub(super) fn check(state: &State<'_>, _options: &Options, out: &mut Vec<Finding>) {
    let mnt = state.mnt;
    let namespaces = mnt.namespaces();
    let root_ns = state.namespaces.root_ns(NsKind::Mnt).map(|n| n.id);
    // CRIU validates only when some collected namespace is not its own.
    if mnt.needs_validation() {
        // mount.c:resolve_shared_mounts.
        for &r in mnt.unreachable() {
            let ns = &namespaces[r.ns];
            let m = &ns.mounts()[r.index];
            let in_root = Some(ns.ns_id) == root_ns;
            let mut msg = format!("Mount {} ", m.mnt_id).into_bytes();
            msg.extend_from_slice(&criu_mountpoint(m));
            msg.extend_from_slice(
                format!(" (master_id: {} shared_id: {}) has unreachable sharing. Try --enable-external-masters.", m.master_id, m.shared_id)
                    .as_bytes(),
            );
            let option = in_root.then(|| mount_external_option(&m.mountpoint()));
            let fix = if in_root {
                cat(&[
                    format!("a slave of peer group {} which is outside the tree (a bind from the host): declare it with ", m.master_id).as_bytes(),
                    option.as_deref().unwrap_or_default(),
                    b" (--enable-external-masters, CRIU's own hint, does not make it reachable)",
                ])
            } else {
                format!(
                    "a slave of peer group {} outside the tree, in a nested mount namespace where mnt[] externals do not apply: make it private (mount --make-private) before the dump",
                    m.master_id
                )
                .into_bytes()
            };
            out.push(finding(ns, m.mnt_id, &m.mountpoint(), "mount-unreachable-sharing", in_root, msg, "criu/mount.c:resolve_shared_mounts", option, fix));
        }
        // mount.c:validate_mounts.
        for refusal in mnt.refusals() {
            let r = refusal.mount();
            let ns = &namespaces[r.ns];
            let m = &ns.mounts()[r.index];
            let in_root = Some(ns.ns_id) == root_ns;
            let msg = refusal.criu_message(namespaces);
            let (code, source, option, fix): (&'static str, &'static str, Option<Vec<u8>>, Vec<u8>) = match refusal {
                MountRefusal::NoProperRoot(_) => {
                    let option = in_root.then(|| mount_external_option(&m.mountpoint()));
                    let fix = cat(&[
                        b"a bind of ",
                        &m.root(),
                        b" of a filesystem no mount of the tree shows whole (a volume from the host): ",
                        if in_root { b"declare it with " } else { b"nested mount namespace, no external applies: mount it whole in the tree" },
                        option.as_deref().unwrap_or_default(),
                    ]);
                    ("mount-no-proper-root", "criu/mount.c:validate_mounts", option, fix)
                }
                MountRefusal::Unsupported(_) => {
                    let option = in_root.then(|| mount_external_option(&m.mountpoint()));
                    let fix = cat(&[
                        b"CRIU cannot mount a ",
                        &m.fsname(),
                        format!(
                            " again: declare the mount with {} or its device with --external dev[{}/{}]:VAL (a slash, not a colon)",
                            String::from_utf8_lossy(option.as_deref().unwrap_or(b"--external mnt[PATH]:KEY")),
                            m.major,
                            m.minor
                        )
                        .as_bytes(),
                    ]);
                    ("mount-fs-unsupported", "criu/mount.c:validate_mounts", option, fix)
                }
                MountRefusal::ChildrenCollision { .. } => (
                    "mount-children-collision",
                    "criu/mount.c:validate_children_collision",
                    None,
                    b"two mounts on one mount point under the same parent (made by propagation): unmount one".to_vec(),
                ),
                MountRefusal::PropagationMismatch { .. } => (
                    "mount-propagation-mismatch",
                    "criu/mount.c:resolve_shared_mounts",
                    None,
                    b"copies propagated between shared peers differ (CRIU 4.2 aborts): make the peers private or unmount the copy".to_vec(),
                ),
            };
            let blocks = option.is_none();
            out.push(finding(ns, m.mnt_id, &m.mountpoint(), code, !blocks, msg, source, option, fix));
        }
    }
    // mount.c:dump_one_fs on the namespaces a dump writes (the root has
    // its own mount namespace): filesystems.c's per-type dump hooks.
    if state.namespaces.root_differs(NsKind::Mnt) {
        for (nsi, ns) in namespaces.iter().enumerate() {
            if ns.ns_type == NsType::Own {
                continue;
            }
            let in_root = Some(ns.ns_id) == root_ns;
            for (index, m) in ns.mounts().iter().enumerate() {
                let r = MountRef { ns: nsi, index };
                if mnt.sharing().is_external_bind(namespaces, r) || mnt.sharing().is_root_bind(namespaces, r) || !m.fsroot_mounted() {
                    continue;
                }
                let option = in_root.then(|| mount_external_option(&m.mountpoint()));
                match m.fstype {
                    // filesystems.c:always_fail.
                    FsType::Fuse => {
                        let msg = cat(&[b"failed to dump fs ", &criu_mountpoint(m), b" (fuse): always fail"]);
                        let fix = cat(&[
                            b"CRIU cannot dump a fuse filesystem: ",
                            if in_root { b"declare it with " } else { b"unmount it (nested mount namespace)" },
                            option.as_deref().unwrap_or_default(),
                            b" and have the runtime mount it again on restore",
                        ]);
                        out.push(finding(ns, m.mnt_id, &m.mountpoint(), "mount-fs-fuse", in_root, msg, "criu/filesystems.c:always_fail", option, fix));
                    }
                    // filesystems.c:dump_empty_fs.
                    FsType::Mqueue | FsType::Pstore => {
                        if is_overmounted(ns, index) {
                            continue;
                        }
                        let Some(entries) = list_mount(state, ns, m) else { continue };
                        if entries.is_empty() {
                            continue;
                        }
                        let name: &[u8] = if m.fstype == FsType::Mqueue { b"mqueue" } else { b"pstore" };
                        let msg = cat(&[name, b" isn't empty"]);
                        let mut listed = Vec::new();
                        for (i, e) in entries.iter().take(4).enumerate() {
                            if i > 0 {
                                listed.extend_from_slice(b", ");
                            }
                            listed.extend_from_slice(e);
                        }
                        let fix = cat(&[
                            format!("CRIU dumps a {} only empty; it holds {} entries (", String::from_utf8_lossy(name), entries.len()).as_bytes(),
                            &listed,
                            b"): remove them before the dump",
                            if in_root { b", or declare the mount with " } else { b"" },
                            option.as_deref().unwrap_or_default(),
                        ]);
                        out.push(finding(ns, m.mnt_id, &m.mountpoint(), "mount-fs-not-empty", in_root, msg, "criu/filesystems.c:dump_empty_fs", option, fix));
                    }
                    _ => {}
                }
            }
        }
    }
    // files-reg.c:dump_one_reg_file: a file open on a mount that another
    // mount hides.
    for file in state.files {
        let Some(mnt_id) = file.mnt_id else { continue };
        let Some(ns_id) = state.namespaces.tasks().iter().find(|t| t.pid == file.pid).and_then(|t| t.ids.get(&NsKind::Mnt)) else {
            continue;
        };
        let Some(ns) = mnt.get(*ns_id) else { continue };
        let Some(index) = ns.index_of(mnt_id) else { continue };
        if !is_overmounted(ns, index) {
            continue;
        }
        let m = &ns.mounts()[index];
        let mut msg = format!("Open files on overmounted mounts are not supported yet; mount={mnt_id} fd={} path=", file.fd).into_bytes();
        msg.extend_from_slice(file.target.strip_prefix(b"/").unwrap_or(&file.target));
        out.push(Finding {
            code: "file-on-overmounted-mount",
            severity: Severity::Blocks,
            object: Object::File { pid: file.pid, fd: file.fd, path: file.target.clone() },
            criu_message: msg,
            criu_source: "criu/files-reg.c:dump_one_reg_file",
            option: None,
            fix: cat(&[
                format!("pid {} fd {} is open on mount {mnt_id} at ", file.pid, file.fd).as_bytes(),
                &m.mountpoint(),
                b", which another mount covers: close the file or unmount what covers it",
            ]),
        });
    }
}

#[allow(clippy::too_many_arguments)]
fn finding(
    ns: &MountNamespace,
    mnt_id: u32,
    path: &[u8],
    code: &'static str,
    answerable: bool,
    criu_message: Vec<u8>,
    criu_source: &'static str,
    option: Option<Vec<u8>>,
    fix: Vec<u8>,
) -> Finding {
    Finding {
        code,
        severity: if answerable && option.is_some() { Severity::NeedsOption } else { Severity::Blocks },
        object: Object::Mount { ns_id: ns.ns_id, mnt_id, path: path.to_vec() },
        criu_message,
        criu_source,
        option,
        fix,
    }
}

/// mount.c:mnt_is_overmounted: a mount hidden by a sibling mounted over
/// it or an ancestor of it, or by a child on its own mount point.
pub(crate) fn is_overmounted(ns: &MountNamespace, index: usize) -> bool {
    let mounts = ns.mounts();
    let mut at = index;
    while let Some(parent) = ns.parent_index(at) {
        let mp = &mounts[at].mountpoint();
        if ns.children(parent).iter().any(|&t| t != at && is_subpath(mp, &mounts[t].mountpoint())) {
            return true;
        }
        at = parent;
    }
    let mp = &mounts[index].mountpoint();
    ns.children(index).iter().any(|&c| &mounts[c].mountpoint() == mp)
}

/// CRIU's `issubpath`: `path` is `sub` or below it.
fn is_subpath(path: &[u8], sub: &[u8]) -> bool {
    let Some(rest) = path.strip_prefix(sub) else { return false };
    rest.is_empty() || rest[0] == b'/' || sub.ends_with(b"/")
}

/// The names in a mount's root directory, read through the namespace's
/// task's root (`/proc/PID/root`), without following a link at the end.
fn list_mount(state: &State<'_>, ns: &MountNamespace, m: &crate::mount::MountRecord) -> Option<Vec<Vec<u8>>> {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let mut path = state.proc.pid_path(ns.pid, "root").into_os_string().into_vec();
    path.extend_from_slice(&m.mountpoint());
    let path = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&path));
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.is_dir() {
        return None;
    }
    let mut names: Vec<Vec<u8>> = std::fs::read_dir(&path).ok()?.flatten().map(|e| e.file_name().into_vec()).collect();
    names.sort();
    Some(names)
}
