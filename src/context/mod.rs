//! The [`Context`]: everything collected for one process tree, and the
//! collection itself (`collect_namespaces`). Each capability of the
//! context is an `impl Context` block of its own beside this file.

mod dump;
mod mounts;
mod net_config;
mod ns_images;
mod preflight;
mod socket_holders;
mod socket_images;
mod sockets;
mod users;

#[cfg(test)]
mod tests;

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use crate::{
    external, files, holders, image, mount, net, netdev, ns, nsimg, process, pstree, userns, Error, Level, Logger, NsEntry, NsKind,
    NsTable, NsType, ProcRoot, ProcessTree, Result, Sink,
};

/// Everything collected for one process tree.
#[derive(Debug)]
pub struct Context {
    root_pid: i32,
    /// The root held by a pidfd (on the system's /proc): every call that
    /// reads the live system checks it, so a root that exited, whose pid
    /// may now be another process's, gives -ESRCH.
    root: Option<process::PidHandle>,
    proc: ProcRoot,
    log: Logger,
    images_dir: Option<OwnedFd>,
    /// The caller's mount choices (externals, skips, filesystems), for
    /// the next collection.
    mount_config: mount::MountConfig,
    /// The namespaces and sockets the caller declared external (mounts
    /// and devices live in `mount_config`).
    externals: external::Externals,
    /// `--ext-unix-sk` and `--skip-in-flight`, for `dump_sockets`.
    socket_options: files::SocketOptions,
    /// The last successful collection, as one value: a collection builds
    /// a new one and swaps it in only when every step succeeded, and a
    /// failed one leaves none, so no earlier result stays visible.
    collected: Option<Collected>,
    /// User-namespace maps dumped or loaded with no collection in the
    /// context (dropped, as everything, by the next collection).
    loose_user: userns::UserNamespaces,
}

/// What one `collect_namespaces` found.
#[derive(Debug)]
struct Collected {
    tree: ProcessTree,
    namespaces: NsTable,
    user: userns::UserNamespaces,
    mnt: mount::MountNamespaces,
    net: net::NetNamespaces,
    /// Network configuration read by `collect_net_config` / `dump_net_ns`,
    /// by namespace id.
    net_config: std::collections::BTreeMap<u32, netdev::NetConfig>,
    /// What `read_namespaces` or `dump_namespaces` read since.
    nsimg: nsimg::NsImages,
    /// The last `collect_socket_holders` scan.
    holders: Option<holders::HolderMap>,
    /// What the last `dump_sockets` wrote.
    sockets: Option<files::SocketImages>,
}

impl Context {
    /// A context for the tree rooted at `root_pid` on the system's /proc,
    /// held by a pidfd: once the root has exited (its pid perhaps another
    /// process's), calls that read the live tree fail with -ESRCH.
    pub fn new(root_pid: i32) -> Result<Context> {
        Self::with_proc_root(root_pid, ProcRoot::default())
    }

    /// A context reading procfs at `proc` (fixtures in tests).
    pub fn with_proc_root(root_pid: i32, proc: ProcRoot) -> Result<Context> {
        pstree::check_pid(root_pid)?;
        let root = if proc == ProcRoot::default() { Some(process::PidHandle::open(root_pid)?) } else { None };
        pstree::task_state(&proc, root_pid)?;
        Ok(Context {
            root_pid,
            root,
            proc,
            log: Logger::default(),
            images_dir: None,
            mount_config: Default::default(),
            externals: Default::default(),
            socket_options: Default::default(),
            collected: None,
            loose_user: Default::default(),
        })
    }

    pub fn root_pid(&self) -> i32 {
        self.root_pid
    }

    pub fn proc_root(&self) -> &ProcRoot {
        &self.proc
    }

    pub fn logger(&self) -> &Logger {
        &self.log
    }

    pub fn set_log_level(&mut self, level: Level) {
        self.log.set_level(level);
    }

    /// `None` silences the context (the default).
    pub fn set_log_sink(&mut self, sink: Option<Sink>) {
        self.log.set_sink(sink);
    }

    /// Opens `path` as the directory the dump functions write into.
    pub fn set_images_dir(&mut self, path: &Path) -> Result<()> {
        self.images_dir = Some(image::open_dir(path)?);
        Ok(())
    }

    /// Uses (a duplicate of) an open directory fd for images.
    pub fn set_images_dir_fd(&mut self, fd: std::os::fd::BorrowedFd<'_>) -> Result<()> {
        self.images_dir = Some(image::dup_dir(fd)?);
        Ok(())
    }

    pub(crate) fn images_dir(&self) -> Result<std::os::fd::BorrowedFd<'_>> {
        self.images_dir
            .as_ref()
            .map(|fd| fd.as_fd())
            .ok_or_else(|| Error::invalid("no images directory set on the context"))
    }

    /// An empty batch of images for the images directory (holding its own
    /// duplicate of the fd, so the context stays free to change).
    fn new_batch(&self) -> Result<image::Batch> {
        image::Batch::new(self.images_dir()?)
    }

    /// CRIU's `collect_namespaces(for_dump)`: walk the tree, build the
    /// namespace table, then run the user, mount and net collectors in
    /// that order. On failure the context keeps nothing from this call.
    pub fn collect_namespaces(&mut self, for_dump: bool) -> Result<()> {
        self.collect(for_dump, Collectors::All)
    }

    fn collect(&mut self, for_dump: bool, collectors: Collectors) -> Result<()> {
        if let Some(batch) = self.collect_staged(for_dump, collectors)? {
            self.commit(batch)?;
        }
        Ok(())
    }

    /// Names every image staged in `batch`; a failure takes all back.
    fn commit(&self, batch: image::Batch) -> Result<Vec<String>> {
        let names = batch.commit()?;
        for name in &names {
            self.log.info("image", format_args!("wrote {name}"));
        }
        Ok(names)
    }

    /// The collection. What CRIU writes while it collects (userns-N,
    /// pidns-N) comes back staged, not named: the caller commits it (or
    /// adds to it) once everything succeeded, so a failed collection
    /// leaves no image of it.
    fn collect_staged(&mut self, for_dump: bool, collectors: Collectors) -> Result<Option<image::Batch>> {
        // Nothing from before survives a collection, failed or not.
        self.collected = None;
        self.loose_user = Default::default();
        self.check_root()?;
        let mut attempt = 1;
        loop {
            match self.collect_once(for_dump, collectors) {
                Ok((collected, images)) => {
                    // Whatever was read after the root's death may be of
                    // a process that took its pid.
                    self.check_root()?;
                    self.collected = Some(collected);
                    return Ok(images);
                }
                Err((e, read_through)) => {
                    if self.root_gone() {
                        return Err(Error::new(libc::ESRCH, format!("pid {} exited during the collection ({e})", self.root_pid)));
                    }
                    // A descendant that went away mid-way made a read fail:
                    // the next walk leaves it out.
                    let Some(gone) = self.departed_task(&read_through) else { return Err(e) };
                    if attempt == MAX_COLLECTION_ATTEMPTS {
                        return Err(Error::new(
                            libc::EAGAIN,
                            format!("the tree under pid {} kept changing: {attempt} collections each lost a task ({e})", self.root_pid),
                        ));
                    }
                    self.log.info("ns", format_args!("task {gone} exited during the collection ({e}); collecting again"));
                    attempt += 1;
                }
            }
        }
    }

    /// One pass of `collect`: on failure, the error and the pids the
    /// collectors read through (the task of each namespace that is
    /// neither the caller's nor the root's).
    #[allow(clippy::type_complexity)]
    fn collect_once(&self, for_dump: bool, collectors: Collectors) -> std::result::Result<(Collected, Option<image::Batch>), (Error, Vec<i32>)> {
        // The walk and the table leave out tasks that exit under them;
        // what fails there fails for a reason of its own.
        let tree = pstree::collect_tree(&self.proc, self.root_pid, &self.log).map_err(|e| (e, Vec::new()))?;
        let namespaces = NsTable::build(&self.proc, &tree, &self.log).map_err(|e| (e, Vec::new()))?;
        match self.collect_with_table(&tree, &namespaces, for_dump, collectors) {
            Ok((user, mnt, net, images)) => {
                Ok((Collected { tree, namespaces, user, mnt, net, net_config: Default::default(), nsimg: Default::default(), holders: None, sockets: None }, images))
            }
            Err(e) => {
                let read_through = namespaces.entries().iter().filter(|n| n.ns_type == NsType::Other).map(|n| n.pid).collect();
                Err((e, read_through))
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn collect_with_table(
        &self,
        tree: &ProcessTree,
        namespaces: &NsTable,
        for_dump: bool,
        collectors: Collectors,
    ) -> Result<(userns::UserNamespaces, mount::MountNamespaces, net::NetNamespaces, Option<image::Batch>)> {
        self.log.info("ns", format_args!("{} tasks, {} namespaces under pid {}", tree.tasks.len(), namespaces.len(), self.root_pid));
        if for_dump {
            // CRIU refuses these in collect_pstree_ids and dump_namespaces;
            // criurs refuses them before anything is written.
            if let Some(refusal) = namespaces.refusals().first() {
                return Err(refusal.to_error());
            }
            ns::pidns::check_root_is_init(&self.proc, namespaces, self.root_pid, &self.externals)?;
        }
        let all = collectors == Collectors::All;
        // Without the dump (the mount-only step) the user collector only
        // reads maps: the mount rules need the root's.
        // What CRIU writes while it collects (userns-N, pidns-N) is staged
        // and named only once every collector succeeded: a failed
        // collection leaves no image of it.
        let mut images = match (&self.images_dir, for_dump && all) {
            (Some(dir), true) => Some(image::Batch::new(dir.as_fd())?),
            _ => None,
        };
        let user = userns::collect_user_namespaces(&self.proc, namespaces, &self.log, for_dump && all, images.as_mut())?;
        let mnt = mount::collect_mnt_namespaces(&self.proc, namespaces, &self.log, for_dump, &self.mount_config, user.root_maps(namespaces))?;
        let net = if all { net::collect_net_namespaces(&self.proc, namespaces, &self.log, for_dump)? } else { Default::default() };
        if let Some(batch) = images.as_mut() {
            for (ns_id, key) in ns::pidns::external_pid_namespaces(namespaces, &self.externals) {
                batch.add(&ns::pidns::image_name(ns_id), &ns::pidns::encode(key))?;
            }
        }
        Ok((user, mnt, net, images))
    }

    /// Whether the root has exited or is exiting: by its pidfd on the
    /// system's /proc, and by its stat file.
    fn root_gone(&self) -> bool {
        // The pidfd polls readable only once the exit is complete; /proc
        // shows it from its start (a read may fail before the pidfd says).
        self.root.as_ref().is_some_and(|h| h.exited()) || pstree::task_gone(&self.proc, self.root_pid)
    }

    /// -ESRCH once the root is gone (its pid may be another's by now):
    /// the first step of every call that reads the live system.
    fn check_root(&self) -> Result<()> {
        match &self.root {
            Some(handle) if handle.exited() && pstree::task_state(&self.proc, self.root_pid) == Ok(pstree::TaskState::Zombie) => {
                Err(Error::new(libc::ESRCH, format!("pid {} is a zombie: a tree root must be alive", self.root_pid)))
            }
            Some(handle) => handle.check(),
            None if self.root_gone() => Err(Error::new(libc::ESRCH, format!("pid {} exited", self.root_pid))),
            None => Ok(()),
        }
    }

    /// A failure of a call on the live tree becomes -ESRCH when the root
    /// went away meanwhile: the read failed because it exited.
    fn gone_is_esrch<T>(&self, read: Result<T>) -> Result<T> {
        read.map_err(|e| match self.root_gone() {
            true => Error::new(libc::ESRCH, format!("pid {} exited during the call ({e})", self.root_pid)),
            false => e,
        })
    }

    /// A task of `pids` that is gone or exiting by now.
    fn departed_task(&self, pids: &[i32]) -> Option<i32> {
        pids.iter().copied().find(|&pid| pstree::task_gone(&self.proc, pid))
    }

    fn collected(&self) -> Result<&Collected> {
        self.collected.as_ref().ok_or_else(not_collected)
    }

    /// The process tree of the last successful collection.
    pub fn tree(&self) -> Result<&ProcessTree> {
        Ok(&self.collected()?.tree)
    }

    /// The namespace table of the last successful collection.
    pub fn namespaces(&self) -> Result<&NsTable> {
        Ok(&self.collected()?.namespaces)
    }

    /// The namespace with small id `ns_id`, which must be of `kind`.
    pub fn namespace(&self, ns_id: u32, kind: NsKind) -> Result<&NsEntry> {
        let ns = self
            .namespaces()?
            .by_id(ns_id)
            .ok_or_else(|| Error::new(libc::ENOENT, format!("no namespace with id {ns_id} in this context")))?;
        if ns.kind != kind {
            return Err(Error::invalid(format!("namespace {ns_id} is a {} namespace, not {}", ns.kind.name(), kind.name())));
        }
        Ok(ns)
    }
}

/// How many times `collect` walks again after descendants exited mid-way.
const MAX_COLLECTION_ATTEMPTS: u32 = 16;

/// Which collectors `collect` runs after the namespace table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Collectors {
    All,
    #[cfg_attr(not(feature = "bench"), allow(dead_code))]
    MountOnly,
}

fn not_collected() -> Error {
    Error::new(libc::ENODATA, "namespaces not collected yet: call collect_namespaces first")
}
