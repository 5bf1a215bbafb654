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
//! One room per job, arrows pointing down: the [`Context`] (its own
//! room, one file per capability, re-exported here), [`pstree`] (tasks from
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

mod context;

pub use context::Context;
pub use error::{Error, Result, ResultExt};
pub use log::{Level, Logger, Sink};
pub use ns::{NsEntry, NsKind, NsTable, NsType};
pub use pstree::{ProcRoot, ProcessTree};

/// The library version, as in Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
