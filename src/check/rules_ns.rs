//! Namespace rules: nested namespaces (namespaces.c:generate_ns_id, as
//! the table's refusals), a root that is not its pid namespace's init
//! (namespaces.c:dump_namespaces), and the tree's namespaces that
//! processes outside it share, which a runtime declares external.

use super::{cat, Finding, Object, Severity, State};
use crate::ns::{NsKind, NsRefusal};

pub(super) fn check(state: &State<'_>, out: &mut Vec<Finding>) {
    let table = state.namespaces;
    // namespaces.c:generate_ns_id (via dump_task_ns_ids): every nested
    // namespace, where a dump stops at the first.
    for refusal in table.refusals() {
        let (kind, kid) = match *refusal {
            NsRefusal::Nested { kind, kid, .. } => (kind, kid),
            NsRefusal::NestedTimeForChildren { for_children, .. } => (NsKind::Time, for_children),
        };
        let ns_id = table.find(kind, kid).map_or(0, |n| n.id);
        let what = match refusal {
            NsRefusal::NestedTimeForChildren { .. } => "its time_for_children",
            NsRefusal::Nested { .. } => "it",
        };
        out.push(Finding {
            code: "nested-namespace",
            severity: Severity::Blocks,
            object: Object::Namespace { ns_id, kind, kid },
            criu_message: refusal.criu_message().into_bytes(),
            criu_source: "criu/namespaces.c:generate_ns_id",
            option: None,
            fix: format!(
                "pid {} has {what} in a {} namespace of its own ({}:[{kid}]); CRIU nests only mnt and net namespaces: start it in the root's {} namespace",
                refusal.pid(),
                kind.name(),
                kind.name(),
                kind.name()
            )
            .into_bytes(),
        });
    }
}

/// What CRIU checks after the tasks' files, in dump_namespaces.
pub(super) fn check_after_tasks(state: &State<'_>, out: &mut Vec<Finding>) {
    let table = state.namespaces;
    // namespaces.c:dump_namespaces: the root of a pid namespace of its own
    // must be its init, unless the namespace is external.
    if table.root_differs(NsKind::Pid) {
        if let Some(ns) = table.root_ns(NsKind::Pid) {
            if state.externals.pid_ns_key(ns.kid).is_none() {
                if let Ok(inner) = crate::pstree::pid_in_own_ns(state.proc, state.root_pid) {
                    if inner != 1 {
                        out.push(Finding {
                            code: "root-not-pid1",
                            severity: Severity::NeedsOption,
                            object: Object::Namespace { ns_id: ns.id, kind: NsKind::Pid, kid: ns.kid },
                            criu_message: b"Can't dump a pid namespace without the process init".to_vec(),
                            criu_source: "criu/namespaces.c:dump_namespaces",
                            option: Some(format!("--external pid[{}]:KEY", ns.kid).into_bytes()),
                            fix: format!(
                                "pid {} is pid {inner} of pid:[{}], whose init is outside the tree: dump from the init, or declare the namespace external with --external pid[{}]:KEY (restore then joins it)",
                                state.root_pid, ns.kid, ns.kid
                            )
                            .into_bytes(),
                        });
                    }
                }
            }
        }
    }
    // The root's net and pid namespaces, when processes outside the tree
    // live in them (or a mount pins them): a dump makes new ones on
    // restore and the sharing is lost, unless declared external as runc
    // does for a namespace it did not create (criu/net.c:dump_net_ns and
    // namespaces.c:dump_namespaces read the keys).
    for kind in [NsKind::Net, NsKind::Pid] {
        if !table.root_differs(kind) {
            continue;
        }
        let Some(ns) = table.root_ns(kind) else { continue };
        let declared = match kind {
            NsKind::Net => state.externals.net_ns_key(ns.kid).is_some(),
            _ => state.externals.pid_ns_key(ns.kid).is_some(),
        };
        let Some(users) = state.ns_users.get(&(kind, ns.kid)) else { continue };
        if declared || (users.pids.is_empty() && users.pins.is_empty()) {
            continue;
        }
        // A pid namespace whose init is outside is already root-not-pid1.
        if kind == NsKind::Pid && out.iter().any(|f| f.code == "root-not-pid1" && f.severity != Severity::Warning) {
            continue;
        }
        let mut who = Vec::new();
        if !users.pids.is_empty() {
            let pids: Vec<String> = users.pids.iter().map(|p| p.to_string()).collect();
            who.extend_from_slice(format!("processes outside the tree live in it (pid {})", pids.join(", ")).as_bytes());
        }
        for pin in &users.pins {
            if !who.is_empty() {
                who.extend_from_slice(b"; ");
            }
            who = cat(&[&who, b"it is bind-mounted at ", pin]);
        }
        let code = if kind == NsKind::Net { "netns-shared-outside-tree" } else { "pidns-shared-outside-tree" };
        out.push(Finding {
            code,
            severity: Severity::Warning,
            object: Object::Namespace { ns_id: ns.id, kind, kid: ns.kid },
            criu_message: Vec::new(),
            criu_source: if kind == NsKind::Net { "criu/net.c:dump_net_ns" } else { "criu/namespaces.c:dump_namespaces" },
            option: Some(format!("--external {}[{}]:KEY", kind.name(), ns.kid).into_bytes()),
            fix: cat(&[
                format!("the tree's {} namespace {}:[{}] is not the tree's alone: ", kind.name(), kind.name(), ns.kid).as_bytes(),
                &who,
                format!(
                    "; a dump restores a new one and the sharing is lost: declare it with --external {}[{}]:KEY (as runc does) and restore with --inherit-fd/--join-ns",
                    kind.name(),
                    ns.kid
                )
                .as_bytes(),
            ]),
        });
    }
}
