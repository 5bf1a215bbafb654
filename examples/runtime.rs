//! A youki-style runtime's checkpoint step on the criurs crate, used
//! directly (no C, no dlopen): given a container's init pid and an images
//! directory, collect its namespaces, show them, and dump CRIU's images.
//!
//!   cargo run --release --example runtime -- PID DIR [mnt[PATH]:KEY]...
//!
//! A runtime keeps the container's state (its init pid, its bundle); this
//! example takes the pid on the command line. The mount externals are
//! CRIU's `--external mnt[PATH]:KEY`, as a runtime passes for bind mounts
//! it recreates itself on restore (volumes, /etc/hosts).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use criurs::{Context, NsKind, NsType};

/// What the checkpoint found and wrote.
struct Checkpoint {
    namespaces: Vec<criurs::NsEntry>,
    sockets: Vec<(u32, usize)>,
    images: Vec<PathBuf>,
}

/// The runtime's side of `criu dump`'s namespace stage.
fn checkpoint(pid: i32, dir: &Path, externals: &[String]) -> criurs::Result<Checkpoint> {
    let mut ctx = Context::new(pid)?;
    ctx.set_images_dir(dir)?;
    for spec in externals {
        ctx.add_external(spec.as_bytes())?;
    }
    // The collection for a dump writes userns-N.img when the container has
    // its own user namespace (as CRIU does), then the mount trees are
    // checked the way CRIU's dump checks them.
    ctx.collect_namespaces(true)?;
    let mut images: Vec<PathBuf> = ctx.dumped_user_ns().into_iter().map(|id| dir.join(criurs::userns::image_name(id))).collect();

    let table = ctx.namespaces()?;
    let namespaces = table.entries().to_vec();
    let mnt_ids: Vec<u32> = ctx.mount_namespaces()?.namespaces().iter().map(|ns| ns.ns_id).collect();
    let net_ids: Vec<u32> = table.walk(NsKind::Net).iter().map(|ns| ns.id).collect();

    for id in mnt_ids {
        ctx.dump_mnt_ns(id)?;
        images.push(dir.join(criurs::mount::image::image_name(id)));
    }
    // Sockets are collected (not yet dumped): a runtime can refuse a
    // checkpoint that CRIU would refuse, before stopping anything.
    let mut sockets = Vec::new();
    for id in net_ids {
        ctx.collect_sockets(id)?;
        sockets.push((id, ctx.sockets(id)?.len()));
    }
    Ok(Checkpoint { namespaces, sockets, images })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(pid), Some(dir)) = (args.get(1).and_then(|p| p.parse::<i32>().ok()), args.get(2)) else {
        eprintln!("usage: runtime PID DIR [mnt[PATH]:KEY]...");
        return ExitCode::from(1);
    };
    match checkpoint(pid, Path::new(dir), &args[3..]) {
        Ok(cp) => {
            println!("container {pid}: {} namespaces", cp.namespaces.len());
            for ns in &cp.namespaces {
                let whose = match ns.ns_type {
                    NsType::Own => "the runtime's",
                    NsType::Root => "the container's",
                    NsType::Other => "a task's below the init",
                };
                println!("  {:>3} {:<6} {:>12}  {whose}", ns.id, ns.kind.name(), ns.kid);
            }
            for (id, n) in &cp.sockets {
                println!("net namespace {id}: {n} sockets");
            }
            for image in &cp.images {
                println!("wrote {}", image.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("runtime: checkpoint of {pid}: {e}");
            ExitCode::from(1)
        }
    }
}
