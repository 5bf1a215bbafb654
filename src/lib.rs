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
//! | images | `dump_user_ns`, `dump_mnt_ns` | [`Context::set_images_dir`], `collect_namespaces(true)`, [`Context::dump_mnt_ns`] |
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
//! println!("{} mounts, root {}", tree.len(), String::from_utf8_lossy(&tree.root().mountpoint));
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
//! `/proc`), [`ns`] (the namespace table, entering a namespace on a
//! short-lived thread), [`userns`], [`mount`], [`net`] and [`netlink`]
//! (sock_diag), [`image`] (CRIU's framing, generated protobuf types),
//! [`error`] and [`log`] (leveled lines to a callback the context holds).
//! The C ABI (`ffi`, hidden here) is a thin layer over this API with no
//! logic of its own; `criurs.h` documents it.

pub mod error;
pub mod image;
pub mod log;
pub mod mount;
pub mod net;
pub mod netlink;
pub mod ns;
pub mod pstree;
pub mod userns;

#[doc(hidden)]
pub mod ffi;

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
    proc: ProcRoot,
    log: Logger,
    images_dir: Option<OwnedFd>,
    tree: Option<ProcessTree>,
    namespaces: Option<NsTable>,
    user: userns::UserNamespaces,
    mnt: mount::MountNamespaces,
    net: net::NetNamespaces,
}

impl Context {
    /// A context for the tree rooted at `root_pid` on the system's /proc.
    pub fn new(root_pid: i32) -> Result<Context> {
        Self::with_proc_root(root_pid, ProcRoot::default())
    }

    /// A context reading procfs at `proc` (fixtures in tests).
    pub fn with_proc_root(root_pid: i32, proc: ProcRoot) -> Result<Context> {
        pstree::check_pid(root_pid)?;
        pstree::task_state(&proc, root_pid)?;
        Ok(Context {
            root_pid,
            proc,
            log: Logger::default(),
            images_dir: None,
            tree: None,
            namespaces: None,
            user: Default::default(),
            mnt: Default::default(),
            net: Default::default(),
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
        self.tree = None;
        self.namespaces = None;
        let tree = pstree::collect_tree(&self.proc, self.root_pid, &self.log)?;
        let table = NsTable::build(&self.proc, &tree, &self.log)?;
        self.log.info("ns", format_args!("{} tasks, {} namespaces under pid {}", tree.tasks.len(), table.len(), self.root_pid));
        let all = collectors == Collectors::All;
        let images = if for_dump { self.images_dir.as_ref().map(|fd| fd.as_fd()) } else { None };
        let user = if all {
            userns::collect_user_namespaces(&self.proc, &table, &self.log, for_dump, images)?
        } else {
            Default::default()
        };
        let mnt = mount::collect_mnt_namespaces(&self.proc, &table, &self.log, for_dump, self.mnt.config())?;
        let net = if all { net::collect_net_namespaces(&self.proc, &table, &self.log, for_dump)? } else { Default::default() };
        self.tree = Some(tree);
        self.namespaces = Some(table);
        self.user = user;
        self.mnt = mnt;
        self.net = net;
        Ok(())
    }

    // ---- user namespaces ----

    /// CRIU's `dump_user_ns(pid, ns_id)`: reads the uid/gid maps of `pid`,
    /// checks in a child process that the namespace can be entered, and
    /// writes `userns-<ns_id>.img` into the images directory. When the
    /// namespace table is collected, `ns_id` must name a user namespace
    /// and `pid` must live in it. Nothing is written on failure.
    pub fn dump_user_ns(&mut self, pid: i32, ns_id: u32) -> Result<()> {
        pstree::check_pid(pid)?;
        if ns_id == 0 {
            return Err(Error::invalid("namespace id 0 does not exist (ids start at 1)"));
        }
        if let Some(table) = &self.namespaces {
            if let Some(ns) = table.by_id(ns_id) {
                if ns.kind != NsKind::User {
                    return Err(Error::invalid(format!("namespace {ns_id} is a {} namespace, not user", ns.kind.name())));
                }
                let kid = ns::read_ns_kid(&self.proc, &pid.to_string(), NsKind::User)?
                    .ok_or_else(|| Error::new(libc::ESRCH, format!("pid {pid} does not exist or exited")))?;
                if kid != ns.kid {
                    return Err(Error::invalid(format!("pid {pid} is not in user namespace {ns_id}")));
                }
            }
        }
        let dir = self.images_dir()?;
        let maps = userns::dump_user_ns(&self.proc, pid, ns_id, self.namespaces.as_ref(), dir)
            .with_context(|| format!("dump user namespace {ns_id} of pid {pid}"))?;
        self.user.maps.insert(ns_id, maps);
        Ok(())
    }

    /// The uid/gid maps known for user namespace `ns_id` (collected,
    /// dumped or loaded from an image).
    pub fn user_maps(&self, ns_id: u32) -> Result<&userns::IdMaps> {
        self.user
            .maps
            .get(&ns_id)
            .ok_or_else(|| Error::new(libc::ENOENT, format!("no uid/gid maps for user namespace {ns_id} in this context")))
    }

    /// The user namespace whose image the last `collect_namespaces(true)`
    /// wrote (CRIU dumps the root's when it is not the caller's).
    pub fn dumped_user_ns(&self) -> Option<u32> {
        self.user.dumped
    }

    /// Every user namespace with maps, by id.
    pub fn user_namespaces(&self) -> &std::collections::BTreeMap<u32, userns::IdMaps> {
        &self.user.maps
    }

    /// Reads `userns-<ns_id>.img` from the images directory into the
    /// context, replacing what was known for `ns_id`.
    pub fn load_user_ns_image(&mut self, ns_id: u32) -> Result<&userns::IdMaps> {
        let maps = userns::read_image(self.images_dir()?, ns_id)?;
        self.user.maps.insert(ns_id, maps);
        Ok(&self.user.maps[&ns_id])
    }

    /// The process tree of the last successful collection.
    pub fn tree(&self) -> Result<&ProcessTree> {
        self.tree.as_ref().ok_or_else(not_collected)
    }

    /// The namespace table of the last successful collection.
    pub fn namespaces(&self) -> Result<&NsTable> {
        self.namespaces.as_ref().ok_or_else(not_collected)
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
        self.mnt.config()
    }

    /// All collected mount namespaces with their sharing.
    pub fn mount_namespaces(&self) -> Result<&mount::MountNamespaces> {
        self.namespaces()?;
        Ok(&self.mnt)
    }

    /// The collected mount namespace `ns_id`: records in mount order,
    /// tree access, sharing. -ENOENT when the walk did not collect it.
    pub fn mount_namespace(&self, ns_id: u32) -> Result<&mount::MountNamespace> {
        self.namespace(ns_id, NsKind::Mnt)?;
        self.mnt.get(ns_id).ok_or_else(|| {
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
        let mut config = self.mnt.config().clone();
        config.external_mounts.clear();
        for (path, key) in map {
            config.add_external_mount(&path, &key)?;
        }
        *self.mnt.config_mut() = config;
        Ok(())
    }

    /// Marks the mount at `path` (as the namespace sees it) external with
    /// `key`, as `--external mnt[PATH]:KEY`. Applies from the next collection.
    pub fn add_external_mount(&mut self, path: &[u8], key: &[u8]) -> Result<()> {
        self.mnt.config_mut().add_external_mount(path, key)
    }

    /// Adds one `--external` spec: `mnt[PATH]:KEY` or `dev[MAJ/MIN]:VAL`.
    pub fn add_external(&mut self, spec: &[u8]) -> Result<()> {
        self.mnt.config_mut().add_external(spec)
    }

    /// CRIU's `--skip-mnt PATH`: left out of dumps (for_dump collections).
    pub fn add_skip_mount(&mut self, path: &[u8]) -> Result<()> {
        if path.first() != Some(&b'/') || path.contains(&0) {
            return Err(Error::invalid(format!("skip mount {:?} is not an absolute path", String::from_utf8_lossy(path))));
        }
        self.mnt.config_mut().skip_mounts.insert(path.to_vec());
        Ok(())
    }

    /// CRIU's `--enable-fs NAMES` ("all" or comma-separated types).
    pub fn enable_fs(&mut self, names: &[u8]) {
        self.mnt.config_mut().auto_fs.add(names);
    }

    /// Only the mount step of `collect_namespaces`: process tree,
    /// namespace table, mount namespaces (user and net are left empty).
    /// What the mount benchmark times.
    pub fn collect_mount_namespaces(&mut self, for_dump: bool) -> Result<()> {
        self.collect(for_dump, Collectors::MountOnly)
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

    /// Reads mountpoints-<ns_id>.img back from the images directory.
    pub fn read_mnt_image(&self, ns_id: u32) -> Result<Vec<image::pb::MntEntry>> {
        let name = mount::image::image_name(ns_id);
        let bytes = image::read_file(self.images_dir()?, &name)?;
        mount::image::decode(&bytes, &name)
    }
}

/// Which collectors `collect` runs after the namespace table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Collectors {
    All,
    MountOnly,
}

fn not_collected() -> Error {
    Error::new(libc::ENODATA, "namespaces not collected yet: call collect_namespaces first")
}

// ---- network namespaces and sockets ----
impl Context {
    /// CRIU's `collect_sockets` for the network namespace `ns_id` of the
    /// table: one sock_diag dump per family, made from inside that
    /// namespace without moving the caller. Replaces any earlier table of
    /// that namespace; on failure it keeps none.
    pub fn collect_sockets(&mut self, ns_id: u32) -> Result<()> {
        let ns = self.namespace(ns_id, NsKind::Net)?.clone();
        self.net.collect_sockets(&self.proc, &ns, &self.log)?;
        Ok(())
    }

    /// The sockets of network namespace `ns_id` collected by
    /// `collect_sockets` (or by `collect_namespaces(true)`).
    pub fn sockets(&self, ns_id: u32) -> Result<&net::SocketTable> {
        self.namespace(ns_id, NsKind::Net)?;
        self.net.get(ns_id).and_then(|n| n.sockets()).ok_or_else(|| {
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
    pub fn net_namespaces(&self) -> &net::NetNamespaces {
        &self.net
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

    #[test]
    fn bad_pids_fail_at_creation() {
        assert_eq!(Context::new(0).unwrap_err().errno(), libc::EINVAL);
        assert_eq!(Context::new(-1).unwrap_err().errno(), libc::EINVAL);
        assert_eq!(Context::new(i32::MAX).unwrap_err().errno(), libc::ESRCH);
    }
}
