//! The tasks of a process tree, read from a proc root: the root pid and
//! all its descendants, through `/proc/PID/task/TID/children`.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::log::Logger;

/// Where procfs is mounted. Tests point it at a fixture directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcRoot {
    root: PathBuf,
}

impl Default for ProcRoot {
    fn default() -> Self {
        ProcRoot { root: PathBuf::from("/proc") }
    }
}

impl ProcRoot {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ProcRoot { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `/proc/<pid>/<rel>`.
    pub fn pid_path(&self, pid: i32, rel: &str) -> PathBuf {
        self.root.join(pid.to_string()).join(rel)
    }

    /// `/proc/<rel>`, e.g. `thread-self/ns/net`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

/// What `/proc/PID/stat` says of a task's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    Alive,
    Zombie,
    Dead,
}

/// One process of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub pid: i32,
    /// Parent inside the tree; `None` for the root.
    pub parent: Option<i32>,
    pub state: TaskState,
}

/// The root and its descendants in depth-first pre-order (CRIU's pstree
/// order), so the root is always first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessTree {
    pub tasks: Vec<Task>,
}

impl ProcessTree {
    pub fn root(&self) -> &Task {
        &self.tasks[0]
    }

}

/// Checks a pid as C hands it to us before anything touches /proc.
pub fn check_pid(pid: i32) -> Result<()> {
    if pid <= 0 {
        return Err(Error::invalid(format!("pid {pid} is not a process id (must be positive)")));
    }
    Ok(())
}

/// Reads the state letter of `/proc/PID/stat` (after the last ')', since
/// the command name may itself hold ')' and spaces).
pub fn task_state(proc: &ProcRoot, pid: i32) -> Result<TaskState> {
    let path = proc.pid_path(pid, "stat");
    let stat = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH) => {
            return Err(Error::new(libc::ESRCH, format!("pid {pid} does not exist ({} is missing)", path.display())))
        }
        Err(e) => return Err(Error::io(&e, format!("read {}", path.display()))),
    };
    parse_stat_state(&stat, &path.display().to_string())
}

/// The state letter of the text of a `stat` file; `what` names the file.
pub fn parse_stat_state(stat: &[u8], what: &str) -> Result<TaskState> {
    let close = stat
        .iter()
        .rposition(|&b| b == b')')
        .ok_or_else(|| Error::malformed(format!("{what}: no ')' after the command name")))?;
    let state = stat.get(close + 2).ok_or_else(|| Error::malformed(format!("{what}: no state field")))?;
    Ok(match state {
        b'Z' => TaskState::Zombie,
        b'X' | b'x' => TaskState::Dead,
        _ => TaskState::Alive,
    })
}

/// The kernel's PF_EXITING: set as a task starts to exit, before it
/// drops its namespaces and files (its stat state may still say running).
const PF_EXITING: u64 = 0x4;

/// Whether a task is gone or on its way out: no stat, a zombie or dead
/// state, or PF_EXITING in its flags. A read of its /proc files that
/// failed then failed because it exited, not for a reason of its own.
pub fn task_gone(proc: &ProcRoot, pid: i32) -> bool {
    match task_state(proc, pid) {
        Ok(TaskState::Alive) => task_exiting(proc, pid),
        _ => true,
    }
}

/// PF_EXITING in the flags field (the 9th) of `/proc/PID/stat`; a stat
/// that cannot be read counts as exiting.
fn task_exiting(proc: &ProcRoot, pid: i32) -> bool {
    let Ok(stat) = std::fs::read(proc.pid_path(pid, "stat")) else { return true };
    let Some(close) = stat.iter().rposition(|&b| b == b')') else { return false };
    let flags = stat[close + 1..]
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .nth(6)
        .and_then(|w| std::str::from_utf8(w).ok()?.parse::<u64>().ok());
    flags.is_some_and(|f| f & PF_EXITING != 0)
}

/// The pid a task has in its own (innermost) pid namespace: the last
/// number of the `NSpid:` line of `/proc/PID/status`.
pub fn pid_in_own_ns(proc: &ProcRoot, pid: i32) -> Result<i32> {
    Ok(*ns_pids(proc, pid)?.last().expect("ns_pids is never empty"))
}

/// The `NSpid:` line of `/proc/PID/status`: the task's pid in each pid
/// namespace from procfs's own down to the task's (never empty).
pub fn ns_pids(proc: &ProcRoot, pid: i32) -> Result<Vec<i32>> {
    let path = proc.pid_path(pid, "status");
    let status = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH) => {
            return Err(Error::new(libc::ESRCH, format!("pid {pid} does not exist ({} is missing)", path.display())))
        }
        Err(e) => return Err(Error::io(&e, format!("read {}", path.display()))),
    };
    parse_nspid(&status, &path.display().to_string())
}

/// The `NSpid:` line of the text of a `status` file (never empty);
/// `what` names the file.
pub fn parse_nspid(status: &[u8], what: &str) -> Result<Vec<i32>> {
    let line = status
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"NSpid:"))
        .ok_or_else(|| Error::malformed(format!("{what}: no NSpid line")))?;
    let pids: Option<Vec<i32>> = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .map(|w| std::str::from_utf8(w).ok().and_then(|t| t.parse::<i32>().ok()).filter(|&p| p > 0))
        .collect();
    pids.filter(|p| !p.is_empty())
        .ok_or_else(|| Error::malformed(format!("{what}: NSpid {:?} is not a list of pids", String::from_utf8_lossy(line))))
}

/// Lists the pids named in every `/proc/PID/task/TID/children` of `pid`.
/// `Ok(None)` when the task vanished while we looked.
fn children_of(proc: &ProcRoot, pid: i32) -> Result<Option<Vec<i32>>> {
    let task_dir = proc.pid_path(pid, "task");
    let entries = match std::fs::read_dir(&task_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH) => return Ok(None),
        Err(e) => return Err(Error::io(&e, format!("list {}", task_dir.display()))),
    };
    let mut tids: Vec<i32> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&e, format!("list {}", task_dir.display())))?;
        if let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) {
            tids.push(tid);
        }
    }
    tids.sort_unstable();
    let mut children = Vec::new();
    for tid in tids {
        let path = task_dir.join(tid.to_string()).join("children");
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            // A thread that exited takes no children with it: they were reparented.
            Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH) => continue,
            Err(e) => return Err(Error::io(&e, format!("read {}", path.display()))),
        };
        children.extend(parse_children(&text, &path.display().to_string())?);
    }
    Ok(Some(children))
}

/// The pids of the text of a `children` file; `what` names the file.
pub fn parse_children(text: &[u8], what: &str) -> Result<Vec<i32>> {
    text.split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .map(|word| {
            std::str::from_utf8(word)
                .ok()
                .and_then(|s| s.parse::<i32>().ok())
                .filter(|&c| c > 0)
                .ok_or_else(|| Error::malformed(format!("{what}: {:?} is not a pid", String::from_utf8_lossy(word))))
        })
        .collect()
}

/// Walks the tree under `root_pid`. The root must be alive. A descendant
/// that exits while we walk is no longer part of the tree and is left out
/// (logged); zombies are kept, marked, as CRIU keeps them.
pub fn collect_tree(proc: &ProcRoot, root_pid: i32, log: &Logger) -> Result<ProcessTree> {
    check_pid(root_pid)?;
    match task_state(proc, root_pid)? {
        TaskState::Alive => {}
        TaskState::Zombie => {
            return Err(Error::new(libc::ESRCH, format!("pid {root_pid} is a zombie: a tree root must be alive")))
        }
        TaskState::Dead => return Err(Error::new(libc::ESRCH, format!("pid {root_pid} is exiting"))),
    }
    let mut tasks = Vec::new();
    let mut seen = HashSet::new();
    // (pid, parent); a stack gives depth-first pre-order.
    let mut stack = vec![(root_pid, None)];
    while let Some((pid, parent)) = stack.pop() {
        if !seen.insert(pid) {
            continue; // pid reuse could otherwise loop forever
        }
        let state = if pid == root_pid {
            TaskState::Alive
        } else {
            match task_state(proc, pid) {
                Ok(s) => s,
                Err(e) if e.errno() == libc::ESRCH => {
                    log.info("pstree", format_args!("task {pid} exited during the walk; left out"));
                    continue;
                }
                Err(e) => return Err(e),
            }
        };
        let children = match children_of(proc, pid)? {
            Some(c) => c,
            None if pid == root_pid => {
                return Err(Error::new(libc::ESRCH, format!("pid {pid} exited during the walk")))
            }
            None => {
                log.info("pstree", format_args!("task {pid} exited during the walk; left out"));
                continue;
            }
        };
        tasks.push(Task { pid, parent, state });
        for &child in children.iter().rev() {
            stack.push((child, Some(pid)));
        }
    }
    Ok(ProcessTree { tasks })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fake_task, temp_dir};
    use std::fs;

    #[test]
    fn walks_depth_first_with_zombies_and_skips_vanished() {
        let d = temp_dir("pstree");
        fake_task(&d, 10, 'S', &[11, 14]);
        fake_task(&d, 11, 'S', &[12, 13]);
        fake_task(&d, 12, 'Z', &[]);
        fake_task(&d, 13, 'R', &[]);
        // 14 is listed but gone.
        let tree = collect_tree(&ProcRoot::new(&d), 10, &Logger::default()).unwrap();
        let order: Vec<(i32, Option<i32>, TaskState)> = tree.tasks.iter().map(|t| (t.pid, t.parent, t.state)).collect();
        assert_eq!(
            order,
            vec![
                (10, None, TaskState::Alive),
                (11, Some(10), TaskState::Alive),
                (12, Some(11), TaskState::Zombie),
                (13, Some(11), TaskState::Alive),
            ]
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn bad_roots_are_named() {
        let d = temp_dir("pstree-bad");
        fake_task(&d, 20, 'Z', &[]);
        let proc = ProcRoot::new(&d);
        let log = Logger::default();
        assert_eq!(collect_tree(&proc, 0, &log).unwrap_err().errno(), libc::EINVAL);
        assert_eq!(collect_tree(&proc, -5, &log).unwrap_err().errno(), libc::EINVAL);
        let e = collect_tree(&proc, 99, &log).unwrap_err();
        assert_eq!(e.errno(), libc::ESRCH);
        assert!(e.message().contains("pid 99 does not exist"), "{e}");
        let e = collect_tree(&proc, 20, &log).unwrap_err();
        assert!(e.message().contains("zombie"), "{e}");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn garbage_in_children_file_is_an_error_naming_the_file() {
        let d = temp_dir("pstree-garbage");
        fake_task(&d, 30, 'S', &[]);
        fs::write(d.join("30/task/30/children"), "31 x2 ").unwrap();
        let e = collect_tree(&ProcRoot::new(&d), 30, &Logger::default()).unwrap_err();
        assert!(e.message().contains("children") && e.message().contains("x2"), "{e}");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn reads_the_innermost_pid_and_refuses_garbage() {
        let d = temp_dir("pstree-nspid");
        fake_task(&d, 40, 'S', &[]);
        fs::write(d.join("40/status"), "Name:\tx\nNSpid:\t40\t7\t1\nNSsid:\t1\n").unwrap();
        assert_eq!(pid_in_own_ns(&ProcRoot::new(&d), 40).unwrap(), 1);
        assert_eq!(ns_pids(&ProcRoot::new(&d), 40).unwrap(), vec![40, 7, 1]);
        fs::write(d.join("40/status"), "Name:\tx\nNSpid:\t40\tx\n").unwrap();
        let e = pid_in_own_ns(&ProcRoot::new(&d), 40).unwrap_err();
        assert!(e.message().contains("NSpid"), "{e}");
        fs::write(d.join("40/status"), "Name:\tx\n").unwrap();
        assert_eq!(pid_in_own_ns(&ProcRoot::new(&d), 40).unwrap_err().errno(), libc::EBADMSG);
        assert_eq!(pid_in_own_ns(&ProcRoot::new(&d), 41).unwrap_err().errno(), libc::ESRCH);
        let me = std::process::id() as i32;
        assert!(pid_in_own_ns(&ProcRoot::default(), me).unwrap() > 0);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn walks_the_real_current_process() {
        let tree = collect_tree(&ProcRoot::default(), std::process::id() as i32, &Logger::default()).unwrap();
        assert_eq!(tree.root().pid, std::process::id() as i32);
    }
}
