//! Socket images: files.img, sk-queues.img and fdinfo-N.img.

use crate::{files, image, nsimg, pstree, Context, Error, NsEntry, NsKind, Result};

impl Context {
    /// CRIU's `--ext-unix-sk` and `--skip-in-flight` for the next `dump_sockets`.
    pub fn set_socket_options(&mut self, options: files::SocketOptions) {
        self.socket_options = options;
    }

    pub fn socket_options(&self) -> files::SocketOptions {
        self.socket_options
    }

    /// CRIU's `dump_socket` for every socket fd of the tree's tasks (or of
    /// task `only`): writes files.img (UNIXSK, INETSK, PACKETSK and
    /// NETLINKSK entries), sk-queues.img and each task's fdinfo-N.img
    /// (N: its fd table's id, as in ids-PID.img) in one batch, and returns
    /// the names written. Each socket is duplicated with pidfd_getfd(2),
    /// read and closed; the tasks keep running and lose nothing (queues
    /// are peeked). Collects the sockets of the tree's net namespaces
    /// first when the collection did not. CRIU's refusals (-EOPNOTSUPP,
    /// naming task, fd and socket) and every failure leave no image.
    pub fn dump_sockets(&mut self, only: Option<i32>) -> Result<Vec<String>> {
        let mut batch = self.new_batch()?;
        self.stage_sockets(only, &mut batch)?;
        self.commit(batch)
    }

    pub(super) fn stage_sockets(&mut self, only: Option<i32>, batch: &mut image::Batch) -> Result<()> {
        let walk: Vec<NsEntry> = self.namespaces()?.walk(NsKind::Net).into_iter().cloned().collect();
        for ns in &walk {
            if self.collected()?.net.get(ns.id).and_then(|n| n.sockets()).is_none() {
                self.collect_sockets(ns.id)?;
            }
        }
        let c = self.collected()?;
        if let Some(pid) = only {
            if !c.tree.tasks.iter().any(|t| t.pid == pid) {
                return Err(Error::new(libc::ESRCH, format!("pid {pid} is not a task of the tree of {}", self.root_pid)));
            }
        }
        let kcmp = nsimg::ids::SysKcmp::new(&self.proc);
        let ids = nsimg::ids::task_ids(&self.proc, &c.tree, &c.namespaces, &kcmp, false, &self.log)?;
        // A task alive at the collection and gone now is not left out:
        // its sockets would be missing from the images.
        for t in c.tree.tasks.iter().filter(|t| t.state == pstree::TaskState::Alive && only.is_none_or(|p| p == t.pid)) {
            if !ids.iter().any(|i| i.pid == t.pid) {
                return Err(Error::new(libc::ESRCH, format!("pid {} exited since the collection: collect again", t.pid)));
            }
        }
        let tasks: Vec<files::Task> =
            ids.iter().filter(|t| only.is_none_or(|p| p == t.pid)).map(|t| files::Task { pid: t.pid, files_id: t.files_id }).collect();
        let nets = c.net.views();
        let root_level = pstree::ns_pids(&self.proc, self.root_pid)?.len();
        let own_level = pstree::ns_pids(&self.proc, std::process::id() as i32)?.len();
        let opts = files::Options {
            ext_unix_sk: self.socket_options.ext_unix_sk,
            external_unix: &self.externals.unix_sockets,
            skip_in_flight: self.socket_options.skip_in_flight,
            root_net_differs: c.namespaces.root_differs(NsKind::Net),
            root_mnt_differs: c.namespaces.root_differs(NsKind::Mnt),
            root_user: c.user.root_maps(&c.namespaces),
            pid_level: root_level.saturating_sub(own_level),
        };
        let dumped = files::dump_sockets(&self.proc, &tasks, &nets, opts, &self.log)?;
        for (name, bytes) in dumped.images() {
            batch.add(&name, &bytes)?;
        }
        self.log.info("files", format_args!("{} socket files of {} tasks staged", dumped.files.len(), tasks.len()));
        self.collected.as_mut().expect("checked above").sockets = Some(dumped);
        Ok(())
    }

    /// What the last `dump_sockets` wrote (-ENODATA before one).
    pub fn socket_images(&self) -> Result<&files::SocketImages> {
        self.collected()?.sockets.as_ref().ok_or_else(|| Error::new(libc::ENODATA, "no socket dump yet: call dump_sockets first"))
    }
}
