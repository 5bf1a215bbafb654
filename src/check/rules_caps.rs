//! The caller's own rights (cr-check.c:check_caps, called by crtools.c
//! before any dump).

use super::{Finding, Object, Severity, State};
use crate::error::{Error, Result};

const CAP_SYS_ADMIN: u32 = 21;
const CAP_SYS_PTRACE: u32 = 19;
const CAP_CHECKPOINT_RESTORE: u32 = 40;

/// The caller's effective capabilities and effective uid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub cap_eff: u64,
    pub euid: u32,
}

impl Caller {
    /// The calling thread's, from `/proc/thread-self/status`.
    pub fn current() -> Result<Caller> {
        let path = "/proc/thread-self/status";
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(&e, format!("read {path}")))?;
        Caller::parse(&text).ok_or_else(|| Error::malformed(format!("{path}: no CapEff or Uid line")))
    }

    /// `CapEff:` (hex) and the effective uid (second number of `Uid:`).
    pub fn parse(status: &str) -> Option<Caller> {
        let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).map(str::trim);
        let cap_eff = u64::from_str_radix(field("CapEff:")?, 16).ok()?;
        let euid = field("Uid:")?.split_whitespace().nth(1)?.parse().ok()?;
        Some(Caller { cap_eff, euid })
    }

    fn has(&self, cap: u32) -> bool {
        self.cap_eff & (1u64 << cap) != 0
    }
}

pub(super) fn check(state: &State<'_>, out: &mut Vec<Finding>) {
    let caller = state.caller;
    // cr-check.c:check_caps: CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN, always.
    if !caller.has(CAP_SYS_ADMIN) && !caller.has(CAP_CHECKPOINT_RESTORE) {
        out.push(Finding {
            code: "caller-lacks-capability",
            severity: Severity::Blocks,
            object: Object::Caller,
            criu_message: b"CRIU needs to have the CAP_SYS_ADMIN or the CAP_CHECKPOINT_RESTORE capability: ".to_vec(),
            criu_source: "criu/cr-check.c:check_caps",
            option: None,
            fix: b"run the dump with CAP_SYS_ADMIN, or give CRIU CAP_CHECKPOINT_RESTORE (setcap cap_checkpoint_restore+eip criu) and use --unprivileged".to_vec(),
        });
    } else if caller.euid != 0 {
        // The same function: non-root needs --unprivileged.
        out.push(Finding {
            code: "caller-not-root",
            severity: Severity::NeedsOption,
            object: Object::Caller,
            criu_message: b"Running as non-root requires '--unprivileged'".to_vec(),
            criu_source: "criu/cr-check.c:check_caps",
            option: Some(b"--unprivileged".to_vec()),
            fix: b"add --unprivileged (CRIU then dumps only what CAP_CHECKPOINT_RESTORE allows), or run as root".to_vec(),
        });
    }
    // compel's seize is ptrace: another user's tasks need CAP_SYS_PTRACE.
    if !caller.has(CAP_SYS_PTRACE) {
        out.push(Finding {
            code: "caller-lacks-ptrace",
            severity: Severity::Warning,
            object: Object::Caller,
            criu_message: b"Unable to interrupt task: PID (Operation not permitted)".to_vec(),
            criu_source: "compel/src/lib/infect.c:compel_interrupt_task",
            option: None,
            fix: b"without CAP_SYS_PTRACE CRIU can seize only tasks of its own uid that are not protected by yama ptrace_scope".to_vec(),
        });
    }
}
