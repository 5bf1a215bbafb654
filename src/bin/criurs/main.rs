//! `criurs`: what the library sees of a process tree, from a shell.
//!
//!   criurs show -t PID [--json]     namespaces, id maps, mounts, sockets
//!   criurs dump -t PID -D DIR       CRIU-format images into DIR

mod json;
mod text;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use criurs::{Context, Level, NsKind, Result};

#[derive(Parser)]
#[command(
    name = "criurs",
    version,
    about = "The namespace-collection stage of CRIU's dump, from a shell",
    after_help = "Examples:\n  criurs show -t $$\n  criurs show -t 1234 --json | jq '.sockets | length'\n  criurs dump -t 1234 -D /tmp/images --external 'mnt[/data]:data'\n  crit decode -i /tmp/images/mountpoints-12.img"
)]
struct Cli {
    /// More log lines on stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the namespaces of a tree, its id maps, mount trees and sockets.
    Show {
        /// Root pid of the process tree.
        #[arg(short = 't', long = "tree", value_name = "PID")]
        pid: i32,
        /// One JSON document instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Write CRIU-format images of the tree's namespaces into a directory.
    Dump {
        /// Root pid of the process tree.
        #[arg(short = 't', long = "tree", value_name = "PID")]
        pid: i32,
        /// Images directory (must exist and be writable).
        #[arg(short = 'D', long = "images-dir", value_name = "DIR")]
        dir: PathBuf,
        /// An external mount, as CRIU's --external mnt[PATH]:KEY.
        #[arg(long = "external", value_name = "mnt[PATH]:KEY")]
        external: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("criurs: {e}");
            ExitCode::from(1)
        }
    }
}

fn new_context(pid: i32, verbose: u8) -> Result<Context> {
    let mut ctx = Context::new(pid)?;
    if verbose > 0 {
        ctx.set_log_level(if verbose > 1 { Level::Debug } else { Level::Info });
        ctx.set_log_sink(Some(Arc::new(|_level, line: &str| eprintln!("{line}"))));
    }
    Ok(ctx)
}

/// Everything `show` prints: the table, then each collector's view.
fn collect_for_show(ctx: &mut Context) -> Result<()> {
    ctx.collect_namespaces(false)?;
    let nets: Vec<u32> = ctx.namespaces()?.walk(NsKind::Net).iter().map(|n| n.id).collect();
    for id in nets {
        ctx.collect_sockets(id)?;
    }
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Show { pid, json } => {
            let mut ctx = new_context(pid, cli.verbose)?;
            collect_for_show(&mut ctx)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&json::document(&ctx)?).expect("JSON values serialize"));
            } else {
                text::print(&ctx)?;
            }
            Ok(())
        }
        Command::Dump { pid, dir, external } => {
            let mut ctx = new_context(pid, cli.verbose)?;
            ctx.set_images_dir(&dir)?;
            let written = dump(&mut ctx, &external)?;
            for name in &written {
                println!("{}", dir.join(name).display());
            }
            eprintln!("criurs: wrote {} images into {}", written.len(), dir.display());
            Ok(())
        }
    }
}

/// CRIU's order: collect (which dumps the user namespace), then each
/// mount namespace CRIU writes (not the caller's; none when the root
/// shares the caller's), then what `dump_namespaces` and the tasks' ids
/// write (uts, time, ipc, ids-PID). Returns the image names written.
fn dump(ctx: &mut Context, external: &[String]) -> Result<Vec<String>> {
    for spec in external {
        ctx.add_external(spec.as_bytes()).map_err(|e| e.context(format!("--external {spec}")))?;
    }
    ctx.collect_namespaces(true)?;
    let mut written: Vec<String> = ctx.dumped_user_ns().into_iter().map(criurs::userns::image_name).collect();
    let mnt_ids = ctx.mount_namespaces_to_dump()?;
    for id in mnt_ids {
        ctx.dump_mnt_ns(id)?;
        written.push(criurs::mount::image::image_name(id));
    }
    written.extend(ctx.dump_namespaces()?);
    Ok(written)
}
