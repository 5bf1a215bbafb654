//! criurs: the namespace-collection stage of CRIU's dump, in Rust.
//!
//! criurs finds the namespaces of a process tree the way CRIU's
//! `collect_namespaces()` does, reads their uid/gid maps, mount trees and
//! sockets, and writes CRIU's own image files (`userns-N.img`,
//! `mountpoints-N.img`) that `crit` decodes. This crate is the library a
//! Rust container runtime uses directly; the same API is exported to C as
//! `libcriurs.so` (`criurs.h`), and the `criurs` command is built on it.
//!
//! # The API
//!
//! A [`Context`] is made for the root pid of a process tree (a container's
//! init); everything collected for that tree lives in it. There is no
//! global mutable state: two contexts in two threads never interfere, and
//! no call moves the calling thread into another namespace.
//!
//! | step | CRIU | [`Context`] |
//! |---|---|---|
//! | make a context for a tree | (its global state) | [`Context::new`] |
//! | walk the tree, number its namespaces, collect user/mount/net | `collect_namespaces(for_dump)` | [`Context::collect_namespaces`] |
//! | the namespace table | `walk_namespaces`, `lookup_ns_by_kid` | [`Context::namespaces`] → [`NsTable::walk`], [`NsTable::find`] |
//! | uid/gid maps | `collect_user_namespaces` | [`Context::user_namespaces`], [`Context::user_maps`] |
//! | a mount tree | `parse_mountinfo`, `mnt_build_tree`, `validate_mounts` | [`Context::mount_namespace`] |
//! | external mounts | `--external mnt[PATH]:KEY` | [`Context::add_external`] |
//! | sockets of a net namespace | `collect_sockets`, `lookup_socket` | [`Context::collect_sockets`], [`Context::sockets`], [`Context::socket`] |
//! | who holds each socket (pid, fd) | (its parasite's fd list; `ss -p`) | [`Context::collect_socket_holders`], [`Context::socket_holders`] |
//! | images | `dump_user_ns`, `dump_mnt_ns` | [`Context::set_images_dir`], `collect_namespaces(true)`, [`Context::dump_mnt_ns`] |
//! | what would stop the dump | (a failed dump and its log) | [`Context::check`] → [`check::Report`] |
//!
//! Namespace ids are CRIU's (the caller's own namespaces first, then the
//! tree's new ones in walk order), so `mountpoints-N.img` names the same
//! namespace for criurs as for CRIU on the same tree. Every fallible call
//! returns [`Result`]; an [`Error`] carries the errno C callers receive
//! and a sentence naming what failed (pid, path, namespace) and why.
//! Paths and names are bytes (`Vec<u8>`, `Box<[u8]>`): `/proc` may hold
//! any byte but NUL.
//!
//! # Example
//!
//! A runtime's checkpoint of a tree's namespaces: collect, look, dump.
//! (`examples/runtime.rs` is the same as a program: `cargo run --example
//! runtime -- PID DIR`.)
//!
//! ```
//! use criurs::{Context, NsKind};
//!
//! # fn main() -> criurs::Result<()> {
//! let pid = std::process::id() as i32; // a container's init, in a runtime
//! let mut ctx = Context::new(pid)?;
//! ctx.collect_namespaces(false)?;
//!
//! for ns in ctx.namespaces()?.entries() {
//!     println!("{:>3} {:<6} {:>12} pid {} {}", ns.id, ns.kind.name(), ns.kid, ns.pid, ns.ns_type.name());
//! }
//!
//! // The root's mount namespace, as a tree.
//! let mnt = ctx.namespaces()?.root_ns(NsKind::Mnt).expect("every task has one").id;
//! let tree = ctx.mount_namespace(mnt)?;
//! println!("{} mounts, root {}", tree.len(), String::from_utf8_lossy(tree.root().mountpoint()));
//!
//! // Sockets of every network namespace the walk visits.
//! let nets: Vec<u32> = ctx.namespaces()?.walk(NsKind::Net).iter().map(|n| n.id).collect();
//! for id in nets {
//!     ctx.collect_sockets(id)?;
//!     println!("net {id}: {} sockets", ctx.sockets(id)?.len());
//! }
//!
//! // CRIU's images: the user namespace image comes with the collection
//! // (for a tree in its own user namespace), then one per mount namespace.
//! let dir = std::env::temp_dir().join(format!("criurs-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! ctx.set_images_dir(&dir)?;
//! ctx.collect_namespaces(true)?;
//! ctx.dump_mnt_ns(mnt)?;
//! assert!(dir.join(criurs::mount::image::image_name(mnt)).exists());
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok(())
//! # }
//! ```
//!
//! # Modules
//!
//! One room per job, arrows pointing down: [`pstree`] (tasks from
//! `/proc`), [`process`] (the root's pidfd, the check's children),
//! [`ns`] (the namespace table, entering a namespace on a short-lived
//! thread), [`userns`], [`mount`], [`net`] and [`netlink`]
//! (sock_diag), [`image`] (CRIU's framing, generated protobuf types),
//! [`error`] and [`log`] (leveled lines to a callback the context holds).
//! The C ABI (`ffi`, hidden here) is a thin layer over this API with no
//! logic of its own; `criurs.h` documents it.

pub mod check;
pub mod error;
pub mod external;
pub mod files;
pub mod holders;
pub mod image;
pub mod log;
pub mod mount;
pub mod net;
pub mod netdev;
pub mod netlink;
pub mod ns;
pub mod nsimg;
pub mod process;
pub mod pstree;
pub mod userns;

#[doc(hidden)]
pub mod ffi;

/// The fuzz targets' entry points (fuzz/); not part of the API.
#[doc(hidden)]
pub mod fuzzing;

#[cfg(test)]
pub(crate) mod testing;

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

pub use error::{Error, Result, ResultExt};
pub use log::{Level, Logger, Sink};
pub use ns::{NsEntry, NsKind, NsTable, NsType};
pub use pstree::{ProcRoot, ProcessTree};

/// The library version, as in Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

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

    fn user(&self) -> &userns::UserNamespaces {
        self.collected.as_ref().map_or(&self.loose_user, |c| &c.user)
    }

    fn user_mut(&mut self) -> &mut userns::UserNamespaces {
        match &mut self.collected {
            Some(c) => &mut c.user,
            None => &mut self.loose_user,
        }
    }

    // ---- user namespaces ----

    /// CRIU's `dump_user_ns(pid, ns_id)`: reads the uid/gid maps of `pid`,
    /// checks in a child process that the namespace can be entered, and
    /// writes `userns-<ns_id>.img` into the images directory. When the
    /// namespace table is collected, `ns_id` must name a user namespace
    /// and `pid` must live in it. Nothing is written on failure.
    pub fn dump_user_ns(&mut self, pid: i32, ns_id: u32) -> Result<()> {
        let table = self.collected.as_ref().map(|c| &c.namespaces);
        let dir = self.images_dir.as_ref().map(|fd| fd.as_fd());
        let maps = userns::dump_user_ns(&self.proc, pid, ns_id, table, dir)
            .with_context(|| format!("dump user namespace {ns_id} of pid {pid}"))?;
        self.user_mut().maps.insert(ns_id, maps);
        Ok(())
    }

    /// The uid/gid maps known for user namespace `ns_id` (collected,
    /// dumped or loaded from an image).
    pub fn user_maps(&self, ns_id: u32) -> Result<&userns::IdMaps> {
        self.user()
            .maps
            .get(&ns_id)
            .ok_or_else(|| Error::new(libc::ENOENT, format!("no uid/gid maps for user namespace {ns_id} in this context")))
    }

    /// The user namespace whose image the last `collect_namespaces(true)`
    /// wrote (CRIU dumps the root's when it is not the caller's).
    pub fn dumped_user_ns(&self) -> Option<u32> {
        self.user().dumped
    }

    /// Every user namespace with maps, by id.
    pub fn user_namespaces(&self) -> &std::collections::BTreeMap<u32, userns::IdMaps> {
        &self.user().maps
    }

    /// Reads `userns-<ns_id>.img` from the images directory into the
    /// context, replacing what was known for `ns_id`.
    pub fn load_user_ns_image(&mut self, ns_id: u32) -> Result<&userns::IdMaps> {
        let maps = userns::read_image(self.images_dir()?, ns_id)?;
        let user = self.user_mut();
        user.maps.insert(ns_id, maps);
        Ok(&user.maps[&ns_id])
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

// ---- mount namespaces ----
impl Context {
    /// External mounts, skips and enabled filesystems for the next collection.
    pub fn mount_config(&self) -> &mount::MountConfig {
        &self.mount_config
    }

    /// All collected mount namespaces with their sharing.
    pub fn mount_namespaces(&self) -> Result<&mount::MountNamespaces> {
        Ok(&self.collected()?.mnt)
    }

    /// The collected mount namespace `ns_id`: records in mount order,
    /// tree access, sharing. -ENOENT when the walk did not collect it.
    pub fn mount_namespace(&self, ns_id: u32) -> Result<&mount::MountNamespace> {
        self.namespace(ns_id, NsKind::Mnt)?;
        self.collected()?.mnt.get(ns_id).ok_or_else(|| {
            Error::new(
                libc::ENOENT,
                format!("mount namespace {ns_id} was not collected (CRIU's walk skips the caller's own when the root's differs)"),
            )
        })
    }

    /// Replaces the `--external mnt[PATH]:KEY` map: mount point as the
    /// namespace sees it → key. Applies from the next collection.
    pub fn set_external_mounts<I>(&mut self, map: I) -> Result<()>
    where
        I: IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
    {
        let mut config = self.mount_config.clone();
        config.external_mounts.clear();
        for (path, key) in map {
            config.add_external_mount(&path, &key)?;
        }
        self.mount_config = config;
        Ok(())
    }

    /// Marks the mount at `path` (as the namespace sees it) external with
    /// `key`, as `--external mnt[PATH]:KEY`: in the tree root's own mount
    /// namespace only, as CRIU 4.2. Applies from the next collection.
    pub fn add_external_mount(&mut self, path: &[u8], key: &[u8]) -> Result<()> {
        self.mount_config.add_external_mount(path, key)
    }

    /// Adds one `--external` spec, as CRIU spells it: `mnt[PATH]:KEY`,
    /// `dev[MAJ/MIN]:VAL`, `pid[INO]:KEY`, `net[INO]:KEY` or `unix[INO]`.
    /// Applies from the next collection.
    pub fn add_external(&mut self, spec: &[u8]) -> Result<()> {
        match external::External::parse(spec)? {
            external::External::Mount { .. } | external::External::Device { .. } => self.mount_config.add_external(spec),
            external::External::PidNs { kid, key } => {
                self.externals.pid_ns.insert(kid, key);
                Ok(())
            }
            external::External::NetNs { kid, key } => {
                self.externals.net_ns.insert(kid, key);
                Ok(())
            }
            external::External::UnixSocket { ino } => {
                self.externals.unix_sockets.insert(ino);
                Ok(())
            }
        }
    }

    /// The namespaces and sockets declared external with `add_external`.
    pub fn externals(&self) -> &external::Externals {
        &self.externals
    }

    /// CRIU's `--skip-mnt PATH`: left out of dumps (for_dump collections).
    /// Compared as CRIU's `is_same_path` does: "/a/b/" and "/a//b" name
    /// the mount at "/a/b".
    pub fn add_skip_mount(&mut self, path: &[u8]) -> Result<()> {
        if path.first() != Some(&b'/') || path.contains(&0) {
            return Err(Error::invalid(format!("skip mount {:?} is not an absolute path", String::from_utf8_lossy(path))));
        }
        self.mount_config.skip_mounts.insert(mount::mountinfo::same_path_form(path));
        Ok(())
    }

    /// CRIU's `--enable-fs NAMES` ("all" or comma-separated types).
    pub fn enable_fs(&mut self, names: &[u8]) {
        self.mount_config.auto_fs.add(names);
    }

    /// How mount tables are read (mountinfo, statmount, or the faster
    /// where it is: [`mount::Reader::Auto`], the default).
    pub fn set_mount_reader(&mut self, reader: mount::Reader) {
        self.mount_config.reader = reader;
    }

    /// Only the mount step of `collect_namespaces`: process tree,
    /// namespace table, the user maps the mount rules need, mount
    /// namespaces (no user-namespace dump, no net). What the mount
    /// benchmark times; built with the `bench` feature only.
    #[cfg(feature = "bench")]
    pub fn collect_mount_namespaces(&mut self, for_dump: bool) -> Result<()> {
        self.collect(for_dump, Collectors::MountOnly)
    }

    /// The mount namespaces a dump writes images for, as CRIU 4.2's
    /// `dump_mnt_namespaces`: none when the tree root shares the caller's
    /// mount namespace (nested ones are collected and validated, not
    /// written), else every collected one but the caller's, in walk order.
    pub fn mount_namespaces_to_dump(&self) -> Result<Vec<u32>> {
        let table = self.namespaces()?;
        if !table.root_differs(NsKind::Mnt) {
            return Ok(Vec::new());
        }
        Ok(self.collected()?.mnt.namespaces().iter().filter(|n| n.ns_type != ns::NsType::Own).map(|n| n.ns_id).collect())
    }

    /// CRIU's `dump_mnt_ns`: writes mountpoints-<ns_id>.img into the
    /// images directory (temporary file, then rename).
    pub fn dump_mnt_ns(&mut self, ns_id: u32) -> Result<()> {
        let ns = self.mount_namespace(ns_id)?;
        let bytes = mount::image::encode_namespace(ns);
        let name = mount::image::image_name(ns_id);
        image::write_file(self.images_dir()?, &name, &bytes)?;
        self.log.info("mnt", format_args!("wrote {name}: {} mounts", ns.len()));
        Ok(())
    }

    fn stage_mnt_ns(&self, ns_id: u32, batch: &mut image::Batch) -> Result<()> {
        let ns = self.mount_namespace(ns_id)?;
        batch.add(&mount::image::image_name(ns_id), &mount::image::encode_namespace(ns))
    }

    /// The whole of what criurs writes for a dump of the tree, as one
    /// transaction, in CRIU 4.2's order: the collection (`userns-N`,
    /// `pidns-N`), each mount namespace CRIU writes
    /// ([`Context::mount_namespaces_to_dump`]), then what
    /// [`Context::dump_namespaces`] writes, then the tree's socket images
    /// ([`Context::dump_sockets`]). Every image is staged and
    /// named only when all are written: on failure no image of this call
    /// carries its final name, and the context keeps no collection (as a
    /// failed [`Context::collect_namespaces`]). Returns the names written.
    pub fn dump(&mut self) -> Result<Vec<String>> {
        self.images_dir()?;
        let written = self.stage_dump().and_then(|batch| self.commit(batch));
        if written.is_err() {
            self.collected = None;
        }
        written
    }

    fn stage_dump(&mut self) -> Result<image::Batch> {
        let mut batch = self.collect_staged(true, Collectors::All)?.expect("a dump's collection stages into the images directory");
        for ns_id in self.mount_namespaces_to_dump()? {
            self.stage_mnt_ns(ns_id, &mut batch)?;
        }
        self.stage_namespaces(&mut batch)?;
        self.stage_sockets(None, &mut batch)?;
        Ok(batch)
    }

    /// Reads mountpoints-<ns_id>.img back from the images directory.
    pub fn read_mnt_image(&self, ns_id: u32) -> Result<Vec<image::pb::MntEntry>> {
        let name = mount::image::image_name(ns_id);
        let bytes = image::read_file(self.images_dir()?, &name)?;
        mount::image::decode(&bytes, &name)
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

// ---- check: what would stop a dump ----
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
        let views: Vec<check::NetView<'_>> = c
            .net
            .iter()
            .filter_map(|n| n.sockets().map(|sockets| check::NetView { ns_id: n.id, kid: n.kid, sockets }))
            .collect();
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

// ---- network namespaces and sockets ----
impl Context {
    /// CRIU's `collect_sockets` for the network namespace `ns_id` of the
    /// table: one sock_diag dump per family, made from inside that
    /// namespace without moving the caller. Replaces any earlier table of
    /// that namespace; on failure it keeps none.
    ///
    /// As for a dump: a family whose sock_diag module the kernel lacks
    /// (raw_diag excepted) fails it, unless `ns_id` is the caller's own
    /// namespace; [`Context::collect_sockets_for`] with
    /// [`net::Purpose::Show`] leaves such a family out with a warning.
    pub fn collect_sockets(&mut self, ns_id: u32) -> Result<()> {
        self.collect_sockets_for(ns_id, net::Purpose::Dump)
    }

    /// `collect_sockets` for `purpose`: [`net::Purpose::Show`] (what
    /// `criurs show` uses, as `ss`) takes a missing diag module for a
    /// warning in every namespace.
    pub fn collect_sockets_for(&mut self, ns_id: u32, purpose: net::Purpose) -> Result<()> {
        let ns = self.namespace(ns_id, NsKind::Net)?.clone();
        let Some(collected) = self.collected.as_mut() else { return Err(not_collected()) };
        // Read through the namespace's fd, held since the collection: the
        // root need not be alive, and no other process can answer.
        collected.net.collect_sockets(&self.proc, &ns, purpose, &self.log)?;
        Ok(())
    }

    /// The sockets of network namespace `ns_id` collected by
    /// `collect_sockets` (or by `collect_namespaces(true)`).
    pub fn sockets(&self, ns_id: u32) -> Result<&net::SocketTable> {
        self.namespace(ns_id, NsKind::Net)?;
        self.collected()?.net.get(ns_id).and_then(|n| n.sockets()).ok_or_else(|| {
            Error::new(libc::ENODATA, format!("sockets of net namespace {ns_id} not collected yet: call collect_sockets first"))
        })
    }

    /// CRIU's `lookup_socket`: the socket with inode `ino` in network
    /// namespace `ns_id`; -ENOENT when there is none (inode 0 never is).
    pub fn socket(&self, ns_id: u32, ino: u32) -> Result<&net::Socket> {
        self.sockets(ns_id)?
            .lookup(ino)
            .ok_or_else(|| Error::new(libc::ENOENT, format!("no socket with inode {ino} in net namespace {ns_id}")))
    }

    /// The network namespaces prepared by the last collection.
    pub fn net_namespaces(&self) -> Result<&net::NetNamespaces> {
        Ok(&self.collected()?.net)
    }
}

// ---- who holds each socket ----
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

// ---- network namespace configuration (links, addresses, routes, sysctls) ----
impl Context {
    /// Reads the links, addresses, routes (table main, as `ip route save`
    /// keeps them) and IPv4 rules of network namespace `ns_id`, from inside
    /// it, without moving the caller; replaces what was known of it. Links
    /// CRIU cannot dump are listed with the reason (`Plan::Refuse`); this
    /// call does not fail for them.
    pub fn collect_net_config(&mut self, ns_id: u32) -> Result<&netdev::NetConfig> {
        self.read_net_config(ns_id, false)
    }

    /// CRIU's `dump_net_ns`: reads everything CRIU records for network
    /// namespace `ns_id` (links with their sysctls, namespace ids and
    /// sysctls, the `ip ... save` streams, netfilter) and writes its images
    /// into the images directory as one batch: netdev-N, ifaddr-N,
    /// route-N, route6-N, rule-N, nftables-N, netns-N (and netns-ct-N /
    /// netns-exp-N when conntrack has entries); for a namespace declared
    /// external, netns-N with its key. Returns the names written. Refused,
    /// with nothing written, where CRIU 4.2 fails (a link it cannot dump)
    /// or criurs cannot write what CRIU would (an nftables ruleset, legacy
    /// iptables tables); and for the caller's own namespace, which CRIU's
    /// `dump_namespaces` never dumps.
    pub fn dump_net_ns(&mut self, ns_id: u32) -> Result<Vec<String>> {
        let ns = self.namespace(ns_id, NsKind::Net)?;
        if ns.ns_type == NsType::Own {
            return Err(Error::invalid(format!(
                "net namespace {ns_id} is the caller's own: CRIU dumps only the tree's namespaces"
            )));
        }
        let dir = self.images_dir()?.try_clone_to_owned().map_err(|e| Error::io(&e, "duplicate the images directory fd"))?;
        let config = self.read_net_config(ns_id, true)?;
        let images = config.images()?;
        let mut batch = image::Batch::new(dir.as_fd())?;
        for (name, bytes) in &images {
            batch.add(name, bytes)?;
        }
        let names = batch.commit()?;
        self.log.info("net", format_args!("net namespace {ns_id}: wrote {}", names.join(", ")));
        Ok(names)
    }

    /// What `collect_net_config` or `dump_net_ns` read of network
    /// namespace `ns_id`.
    pub fn net_config(&self, ns_id: u32) -> Result<&netdev::NetConfig> {
        self.namespace(ns_id, NsKind::Net)?;
        self.collected()?.net_config.get(&ns_id).ok_or_else(|| {
            Error::new(libc::ENODATA, format!("net namespace {ns_id} not read yet: call collect_net_config or dump_net_ns first"))
        })
    }

    fn read_net_config(&mut self, ns_id: u32, for_dump: bool) -> Result<&netdev::NetConfig> {
        let ns = self.namespace(ns_id, NsKind::Net)?.clone();
        let collected = self.collected()?;
        let table = &collected.namespaces;
        // The tree's namespaces were opened by the collection; the
        // caller's own is opened here when the walk skipped it.
        let opened;
        let ns_fd = match collected.net.get(ns_id) {
            Some(n) => n.ns_fd(),
            None => {
                opened = ns::enter::open_ns(&self.proc, ns.pid, NsKind::Net)
                    .map_err(|e| e.context(format!("net namespace {ns_id}")))?;
                &opened
            }
        };
        let peers: Vec<(u32, std::os::fd::BorrowedFd<'_>)> = collected.net.iter().map(|n| (n.id, n.ns_fd().as_fd())).collect();
        let gid_map = if table.root_differs(NsKind::User) {
            table.root_ns(NsKind::User).and_then(|u| collected.user.maps.get(&u.id)).map(|m| m.gid_map.as_slice())
        } else {
            None
        };
        let config = netdev::collect(
            netdev::Target { ns_id, kid: ns.kid, ns_fd },
            netdev::Options { for_dump, peers: &peers, external_key: self.externals.net_ns_key(ns.kid), gid_map },
        )?;
        for w in &config.warnings {
            self.log.warn("net", format_args!("net namespace {ns_id}: {w}"));
        }
        if !config.unknown.is_empty() {
            self.log.debug("net", format_args!("net namespace {ns_id}: {}", config.unknown));
        }
        let Some(collected) = self.collected.as_mut() else { return Err(not_collected()) };
        collected.net_config.insert(ns_id, config);
        Ok(&collected.net_config[&ns_id])
    }
}

// ---- ids, uts, time and ipc namespaces ----
impl Context {
    /// Reads what CRIU's `dump_namespaces` and per-task ids write (see
    /// [`Context::dump_namespaces`]) into the context, writing nothing and
    /// refusing nothing CRIU would refuse (shared kernel objects get the
    /// same id): for `show` and the getters. Needs a collected table.
    pub fn read_namespaces(&mut self) -> Result<&nsimg::NsImages> {
        let c = self.collected()?;
        self.check_root()?;
        let read = self.gone_is_esrch(nsimg::read_namespaces(&self.proc, &c.tree, &c.namespaces, c.user.root_maps(&c.namespaces), false, &self.log))?;
        // The net arm: each net namespace as a dump reads it.
        for &ns_id in &read.net {
            self.read_net_config(ns_id, true)?;
        }
        let c = self.collected.as_mut().expect("checked above");
        c.nsimg = read;
        Ok(&c.nsimg)
    }

    /// CRIU 4.2's `dump_namespaces` with `dump_time_ns(0)` and each task's
    /// ids: writes `ids-PID.img` for every live task, `utsns-N.img`,
    /// `timens-N.img` (`timens-0.img`: the caller's clocks, when the root
    /// shares the caller's time namespace), `ipcns-var/shm/msg/sem-N.img`
    /// and each segment's `pagemap-shmem-ID.img` + `pages-K.img`, and for
    /// each of the tree's net namespaces what [`Context::dump_net_ns`]
    /// writes. Refuses
    /// what CRIU refuses, before anything is written; writes all or
    /// nothing. Returns the names written, and keeps what it read for the
    /// getters.
    pub fn dump_namespaces(&mut self) -> Result<Vec<String>> {
        let dir = self.images_dir()?.try_clone_to_owned().map_err(|e| Error::io(&e, "duplicate the images directory fd"))?;
        let mut batch = image::Batch::new(dir.as_fd())?;
        self.stage_namespaces(&mut batch)?;
        let names = self.commit(batch)?;
        self.log.info("nsimg", format_args!("wrote {} namespace and ids images", names.len()));
        Ok(names)
    }

    fn stage_namespaces(&mut self, batch: &mut image::Batch) -> Result<()> {
        let c = self.collected()?;
        self.check_root()?;
        nsimg::check_dump(&self.proc, &c.namespaces, self.root_pid, &self.externals)?;
        let read = self.gone_is_esrch(nsimg::read_namespaces(&self.proc, &c.tree, &c.namespaces, c.user.root_maps(&c.namespaces), true, &self.log))?;
        let mut images = read.images();
        // The net arm (CRIU's dump_net_ns), in the walk's order; its
        // refusals refuse the whole dump, before anything is written.
        for &ns_id in &read.net {
            let config = self.read_net_config(ns_id, true)?;
            images.extend(config.images()?.into_iter().map(|(name, bytes)| nsimg::Image { name, bytes }));
        }
        for img in &images {
            batch.add(&img.name, &img.bytes)?;
        }
        self.collected.as_mut().expect("checked above").nsimg = read;
        Ok(())
    }

    /// What the last `read_namespaces` or `dump_namespaces` read (-ENODATA
    /// before a collection; empty before either, and after a new
    /// collection).
    pub fn namespace_images(&self) -> Result<&nsimg::NsImages> {
        Ok(&self.collected()?.nsimg)
    }
}

// ---- socket images ----
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
        let dir = self.images_dir()?.try_clone_to_owned().map_err(|e| Error::io(&e, "duplicate the images directory fd"))?;
        let mut batch = image::Batch::new(dir.as_fd())?;
        self.stage_sockets(only, &mut batch)?;
        self.commit(batch)
    }

    fn stage_sockets(&mut self, only: Option<i32>, batch: &mut image::Batch) -> Result<()> {
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
        let nets: Vec<files::NetView<'_>> = c
            .net
            .iter()
            .filter_map(|n| n.sockets().map(|table| files::NetView { ns_id: n.id, kid: n.kid, table }))
            .collect();
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

#[cfg(test)]
mod tests {
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

    /// A tree on a fake procfs: root 100 in a user and a mount namespace
    /// of its own, with maps and a one-line mountinfo.
    fn fake_tree(d: &Path) {
        use crate::testing::{fake_ns, fake_task};
        fake_ns(d, "thread-self", &[(NsKind::Mnt, 5), (NsKind::User, 6)]);
        fake_task(d, 100, 'S', &[]);
        fake_ns(d, "100", &[(NsKind::Mnt, 15), (NsKind::User, 16)]);
        std::fs::write(d.join("100/uid_map"), "0 100000 65536\n").unwrap();
        std::fs::write(d.join("100/gid_map"), "0 100000 65536\n").unwrap();
        std::fs::write(d.join("100/mountinfo"), "1 0 0:40 / / rw,relatime - tmpfs t rw,uid=100005\n").unwrap();
    }

    #[test]
    fn a_failed_collection_leaves_nothing_of_the_one_before() {
        let d = crate::testing::temp_dir("stale");
        fake_tree(&d);
        let mut ctx = Context::with_proc_root(100, ProcRoot::new(&d)).unwrap();
        ctx.collect_namespaces(false).unwrap();
        let user = ctx.namespaces().unwrap().root_ns(NsKind::User).unwrap().id;
        let mnt = ctx.namespaces().unwrap().root_ns(NsKind::Mnt).unwrap().id;
        assert_eq!(ctx.user_maps(user).unwrap().uid_map[0].lower_first, 100000);
        // The mount rules translate uid= with the maps the user collector read.
        assert_eq!(ctx.mount_namespace(mnt).unwrap().root().options(), b"uid=5");
        // The root's mountinfo turns bad: the next collection gets past the
        // user step and fails in the mount step.
        std::fs::write(d.join("100/mountinfo"), "not a mountinfo line\n").unwrap();
        assert_eq!(ctx.collect_namespaces(false).unwrap_err().errno(), libc::EBADMSG);
        assert_eq!(ctx.namespaces().unwrap_err().errno(), libc::ENODATA);
        assert_eq!(ctx.tree().unwrap_err().errno(), libc::ENODATA);
        assert_eq!(ctx.user_maps(user).unwrap_err().errno(), libc::ENOENT, "no stale user maps");
        assert!(ctx.user_namespaces().is_empty() && ctx.dumped_user_ns().is_none());
        assert_eq!(ctx.mount_namespaces().unwrap_err().errno(), libc::ENODATA);
        assert_eq!(ctx.mount_namespace(mnt).unwrap_err().errno(), libc::ENODATA);
        assert_eq!(ctx.net_namespaces().unwrap_err().errno(), libc::ENODATA);
        // A good collection again brings everything back.
        std::fs::write(d.join("100/mountinfo"), "1 0 0:40 / / rw,relatime - tmpfs t rw\n").unwrap();
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
}
