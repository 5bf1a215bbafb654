//! The check: what would stop a dump.

use crate::{check, holders, Context, NsKind, Result};

impl Context {
    /// What in this tree would stop CRIU 4.2's dump with `options` and
    /// the externals declared on the context, every obstacle at once
    /// (a dump stops at the first). Read only: collects the namespaces
    /// (for inspection, replacing the context's collection), the sockets
    /// of every net namespace the walk visits and the fds of every
    /// process; freezes nothing, writes nothing, never moves the caller.
    pub fn check(&mut self, options: &check::Options) -> Result<check::Report> {
        let caller = check::Caller::current()?;
        self.collect_namespaces(false)?;
        let nets: Vec<u32> = self.namespaces()?.walk(NsKind::Net).iter().map(|n| n.id).collect();
        for &id in &nets {
            self.collect_sockets(id)?;
        }
        let holders = holders::scan_all_in(&self.proc)?;
        for (pid, why) in holders.unreadable() {
            self.log.warn("check", format_args!("pid {pid}: its fds could not be read ({why}): a socket it holds shows as held by nobody"));
        }
        let c = self.collected()?;
        let files = check::holders::tree_files(&self.proc, &c.tree)?;
        let wanted: Vec<(NsKind, u64)> = [NsKind::Net, NsKind::Pid]
            .into_iter()
            .filter(|&k| c.namespaces.root_differs(k))
            .filter_map(|k| c.namespaces.root_ns(k).map(|n| (k, n.kid)))
            .collect();
        let ns_users = check::holders::ns_users_outside(&self.proc, &c.tree, &wanted)?;
        let views = c.net.views();
        let state = check::State {
            proc: &self.proc,
            root_pid: self.root_pid,
            tree: &c.tree,
            namespaces: &c.namespaces,
            mnt: &c.mnt,
            nets: views,
            holders: &holders,
            files: &files,
            ns_users: &ns_users,
            externals: &self.externals,
            caller,
            probe: &check::LiveProbe,
        };
        let report = check::run(&state, options);
        self.log.info("check", format_args!("{} findings for pid {}", report.findings.len(), self.root_pid));
        Ok(report)
    }
}
