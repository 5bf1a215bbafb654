//! Who holds each socket: (pid, fd) from `/proc/PID/fd`.

use crate::{holders, pstree, Context, Error, Result};

use super::not_collected;

impl Context {
    /// Finds which (pid, fd) hold each socket, from `/proc/PID/fd` links
    /// (`socket:[INO]`), as `ss -p` does: [`holders::Scope::Tree`] reads the
    /// collected tree's live tasks (a task it may not read is an error naming
    /// it), [`holders::Scope::All`] every process (those it may not read are
    /// listed in [`holders::HolderMap::unreadable`]). A process that exits
    /// meanwhile is left out. Replaces the previous scan.
    pub fn collect_socket_holders(&mut self, scope: holders::Scope) -> Result<&holders::HolderMap> {
        let Some(collected) = self.collected.as_mut() else { return Err(not_collected()) };
        let map = match scope {
            holders::Scope::Tree => {
                let pids: Vec<i32> = collected.tree.tasks.iter().filter(|t| t.state == pstree::TaskState::Alive).map(|t| t.pid).collect();
                holders::scan_pids_in(&self.proc, &pids)?
            }
            holders::Scope::All => holders::scan_all_in(&self.proc)?,
        };
        self.log.info("holders", format_args!("{} sockets held by {} processes read", map.len(), map.processes()));
        Ok(collected.holders.insert(map))
    }

    /// The last [`Context::collect_socket_holders`] scan; -ENODATA before one.
    pub fn socket_holders(&self) -> Result<&holders::HolderMap> {
        self.collected()?
            .holders
            .as_ref()
            .ok_or_else(|| Error::new(libc::ENODATA, "socket holders not collected yet: call collect_socket_holders first"))
    }
}
