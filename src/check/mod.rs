//! `check`: what in this tree would stop CRIU 4.2's dump, before anyone
//! freezes it. Each rule mirrors one refusal of CRIU 4.2 (the file and
//! function are in the rule's comment and in its finding) over what the
//! collectors already read: the namespace table, the mount trees and
//! their sharing, the socket tables, and the tree's open files.
//!
//! Read only: nothing is frozen, no namespace is entered by the calling
//! thread (sockets are listed by the net room's short-lived threads),
//! nothing is written. A dump stops at its first refusal; `check` lists
//! every one, each with the option that answers it or what to change.
//! Declared externals and options silence the findings they answer.

pub mod holders;
mod rules_caps;
mod rules_mnt;
mod rules_ns;
mod rules_sk;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod live_tests;

use crate::external::Externals;
use crate::mount::MountNamespaces;
use crate::ns::{NsKind, NsTable};
use crate::pstree::{ProcRoot, ProcessTree};

pub use crate::holders::{Holder, HolderMap};
pub use holders::{LiveProbe, NsUsers, OpenFile, Probe};
pub use rules_caps::Caller;

/// How bad one obstacle is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum Severity {
    /// A dump goes through, but something is lost or needs a look.
    Warning = 1,
    /// A dump goes through with the option named in the fix.
    NeedsOption = 2,
    /// No option of CRIU 4.2 gets past it: the tree must change.
    Blocks = 3,
}

impl Severity {
    pub fn name(self) -> &'static str {
        self.c_name().to_str().expect("ASCII")
    }

    pub fn c_name(self) -> &'static std::ffi::CStr {
        match self {
            Severity::Warning => c"warning",
            Severity::NeedsOption => c"needs-option",
            Severity::Blocks => c"blocks",
        }
    }
}

/// What a finding is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    /// The caller (criurs, standing for CRIU).
    Caller,
    /// A task of the tree.
    Task { pid: i32 },
    /// A namespace of the table.
    Namespace { ns_id: u32, kind: NsKind, kid: u64 },
    /// A mount: its id, its mount point as its namespace sees it.
    Mount { ns_id: u32, mnt_id: u32, path: Vec<u8> },
    /// A socket held by a task of the tree; `peer` is who holds the other
    /// end (as `ss -p` finds it), when it is outside the tree.
    Socket { ns_id: u32, ino: u32, holder: Option<Holder>, peer_ino: u32, peer: Vec<Holder> },
    /// An open file of a task.
    File { pid: i32, fd: i32, path: Vec<u8> },
    /// A socket family of a net namespace (a missing diag module).
    Family { ns_id: u32, name: &'static str },
}

impl Object {
    pub fn kind_name(&self) -> &'static str {
        match self {
            Object::Caller => "caller",
            Object::Task { .. } => "task",
            Object::Namespace { .. } => "namespace",
            Object::Mount { .. } => "mount",
            Object::Socket { .. } => "socket",
            Object::File { .. } => "file",
            Object::Family { .. } => "family",
        }
    }
}

/// One obstacle to a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable name of the rule (`unix-peer-outside-tree`, ...).
    pub code: &'static str,
    pub severity: Severity,
    pub object: Object,
    /// CRIU 4.2's own error line, as its dump would print it with the
    /// options given (bytes: it quotes the target's names).
    pub criu_message: Vec<u8>,
    /// Where CRIU 4.2 says it: `criu/FILE.c:function`.
    pub criu_source: &'static str,
    /// The option that answers it (exact, to paste), if one does.
    pub option: Option<Vec<u8>>,
    /// What to do, in a sentence (names the option, or what to change).
    pub fix: Vec<u8>,
}

/// CRIU's options that change what its dump accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// `--ext-unix-sk`
    pub ext_unix_sk: bool,
    /// `--tcp-established`
    pub tcp_established: bool,
    /// `--skip-in-flight`
    pub skip_in_flight: bool,
    /// `--enable-external-masters`
    pub enable_external_masters: bool,
}

/// Every finding, most serious first, then in the order CRIU meets them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Indices into `findings` in the order CRIU 4.2's dump meets them
    /// (caller, nested namespaces, mounts, each task's files, external
    /// unix sockets, dump_namespaces); the first that is not a warning is
    /// where its dump stops.
    pub criu_order: Vec<usize>,
}

impl Report {
    /// The worst severity, `None` when the tree is dumpable as it is.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).filter(|s| *s != Severity::Warning).max()
    }

    /// 0: dumpable with the options given; 1: dumpable with the options
    /// the findings name; 2: blocked.
    pub fn exit_code(&self) -> u8 {
        match self.worst() {
            None => 0,
            Some(Severity::NeedsOption) | Some(Severity::Warning) => 1,
            Some(Severity::Blocks) => 2,
        }
    }

    /// The finding CRIU 4.2's dump would stop at, with the options given.
    pub fn first_refusal(&self) -> Option<&Finding> {
        self.criu_order.iter().map(|&i| &self.findings[i]).find(|f| f.severity != Severity::Warning)
    }

    /// The options the findings name, each once, in order.
    pub fn options(&self) -> Vec<&[u8]> {
        let mut out: Vec<&[u8]> = Vec::new();
        for f in &self.findings {
            if let Some(o) = &f.option {
                if f.severity == Severity::NeedsOption && !out.contains(&o.as_slice()) {
                    out.push(o);
                }
            }
        }
        out
    }
}

pub use crate::net::NetView;

/// Everything the rules read, collected beforehand.
pub struct State<'a> {
    pub proc: &'a ProcRoot,
    pub root_pid: i32,
    pub tree: &'a ProcessTree,
    pub namespaces: &'a NsTable,
    pub mnt: &'a MountNamespaces,
    pub nets: Vec<NetView<'a>>,
    /// Socket inode → who holds it, over every process (`ss -p`).
    pub holders: &'a HolderMap,
    /// The open files of the tree's tasks.
    pub files: &'a [holders::OpenFile],
    /// Processes outside the tree in (and mounts pinning) the root's net
    /// and pid namespaces.
    pub ns_users: &'a std::collections::HashMap<(NsKind, u64), holders::NsUsers>,
    pub externals: &'a Externals,
    /// The caller's effective capabilities and euid.
    pub caller: rules_caps::Caller,
    /// Questions only an fd answers (UDP_CORK, pending data), asked
    /// through a duplicate of the task's fd.
    pub probe: &'a dyn Probe,
}

impl State<'_> {
    /// CRIU's `lookup_socket`: a socket of any collected namespace.
    fn socket(&self, ino: u32) -> Option<(NetView<'_>, &crate::net::Socket)> {
        self.nets.iter().find_map(|n| n.table.lookup(ino).map(|s| (*n, s)))
    }

}

/// Runs every rule. CRIU's order within a severity: caller, namespaces
/// (collect_pstree_ids), mounts (collect_mnt_namespaces), each task's
/// files (dump_one_task), external unix sockets (fix_external_unix_sockets).
pub fn run(state: &State<'_>, options: &Options) -> Report {
    let mut findings = Vec::new();
    rules_caps::check(state, &mut findings);
    rules_ns::check(state, &mut findings);
    rules_mnt::check(state, options, &mut findings);
    rules_sk::check(state, options, &mut findings);
    rules_ns::check_after_tasks(state, &mut findings);
    // Stable: CRIU's order is kept inside each severity.
    let mut order: Vec<usize> = (0..findings.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(findings[i].severity));
    let mut criu_order = vec![0; findings.len()];
    for (at, &i) in order.iter().enumerate() {
        criu_order[i] = at;
    }
    let mut slots: Vec<Option<Finding>> = findings.into_iter().map(Some).collect();
    let findings = order.iter().map(|&i| slots[i].take().expect("each once")).collect();
    Report { findings, criu_order }
}

/// `--external mnt[PATH]:KEY` with a key made from the path's last
/// component ("root" for "/").
pub(crate) fn mount_external_option(path: &[u8]) -> Vec<u8> {
    let mut o = b"--external mnt[".to_vec();
    o.extend_from_slice(path);
    o.extend_from_slice(b"]:");
    let last = path.split(|&b| b == b'/').rfind(|c| !c.is_empty()).unwrap_or(b"root");
    o.extend(last.iter().map(|&b| if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' { b } else { b'_' }));
    o
}

/// Bytes joined: literal text and the target's bytes.
pub(crate) fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}
