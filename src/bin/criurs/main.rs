//! `criurs`: what the library sees of a process tree, from a shell.
//!
//!   criurs show -t PID [SECTIONS] [--ns ID] [--family F] [--json]
//!   criurs dump -t PID -D DIR       CRIU-format images into DIR (namespaces, sockets)
//!   criurs check -t PID [--json]    what would stop CRIU 4.2's dump
//!
//! `show` is split in three: `show` (sections, filters, names), and the
//! two views on it, `text` (tables) and `json` (streamed records).
//! doc/criurs.1 is the manual; keep it in step with the flags here.

mod check;
mod escape;
mod json;
mod show;
mod text;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use criurs::{Context, Level, Result};

#[derive(Parser)]
#[command(
    name = "criurs",
    version,
    about = "The namespace-collection stage of CRIU's dump, from a shell",
    after_help = "Examples:\n  criurs show -t $$\n  criurs show -t 1234 --mounts --ns 13\n  criurs show -t 1234 -f tcp,udp\n  criurs show -t 1234 -f unix -p\n  criurs show -t 1234 --json -f unix | jq '.sockets | length'\n  criurs dump -t 1234 -D /tmp/images --external 'mnt[/data]:data'\n  crit decode -i /tmp/images/mountpoints-13.img\n\nThe manual: man criurs (doc/criurs.1)."
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
    #[command(after_help = "With no section flag every section is shown; with --family and no section flag, sockets only.\nEvery name and path a target controls is escaped: control bytes, spaces, backslashes and bytes that are\nnot UTF-8 print as \\xHH.")]
    Show {
        /// Root pid of the process tree.
        #[arg(short = 't', long = "tree", value_name = "PID")]
        pid: i32,
        /// One JSON document instead of tables (one record a line, CRIU's field names).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        sections: show::Sections,
        /// Only namespace ID (CRIU's id, the ID column of --namespaces); repeat or comma-separate for more.
        #[arg(long = "ns", value_name = "ID", value_delimiter = ',', help_heading = "Filters")]
        ns: Vec<u32>,
        /// Only sockets of these families or protocols, as ss -f/-A names them; repeat or comma-separate.
        #[arg(short = 'f', long = "family", value_name = "FAMILY", value_enum, value_delimiter = ',', help_heading = "Filters")]
        family: Vec<show::Family>,
        /// Show which processes hold each socket (pid, fd, command name), scanning every process's fds, as ss -p.
        #[arg(short = 'p', long = "processes")]
        processes: bool,
    },
    /// Write CRIU-format images of the tree's namespaces into a directory.
    Dump {
        /// Root pid of the process tree.
        #[arg(short = 't', long = "tree", value_name = "PID")]
        pid: i32,
        /// Images directory (must exist and be writable).
        #[arg(short = 'D', long = "images-dir", value_name = "DIR")]
        dir: PathBuf,
        /// An external object, as CRIU spells it: mnt[PATH]:KEY,
        /// dev[MAJ/MIN]:VAL, pid[INO]:KEY, net[INO]:KEY or unix[INO] (a unix
        /// socket of the tree whose peer is outside it).
        #[arg(long = "external", value_name = "mnt[PATH]:KEY")]
        external: Vec<String>,
        /// CRIU's --ext-unix-sk: a unix socket whose dgram peer is outside
        /// the tree is dumped with that peer as external.
        #[arg(long = "ext-unix-sk")]
        ext_unix_sk: bool,
        /// CRIU's --skip-in-flight: a TCP listener's connections not yet
        /// accepted are left out instead of refused.
        #[arg(long = "skip-in-flight")]
        skip_in_flight: bool,
    },
    /// What in the tree would stop CRIU 4.2's dump, every obstacle at once, with the option or change that answers it.
    #[command(after_help = "Read only: nothing is frozen, entered or written.\nExit status: 0 dumpable with the options given, 1 dumpable with the options the findings name, 2 blocked, 3 the check failed.")]
    Check {
        /// Root pid of the process tree.
        #[arg(short = 't', long = "tree", value_name = "PID")]
        pid: i32,
        /// One JSON document instead of the table.
        #[arg(long)]
        json: bool,
        /// What the dump would declare external, as CRIU spells it: mnt[PATH]:KEY, dev[MAJ/MIN]:VAL, pid[INO]:KEY, net[INO]:KEY, unix[INO].
        #[arg(long = "external", value_name = "SPEC")]
        external: Vec<String>,
        /// The dump would pass --ext-unix-sk.
        #[arg(long)]
        ext_unix_sk: bool,
        /// The dump would pass --tcp-established.
        #[arg(long)]
        tcp_established: bool,
        /// The dump would pass --skip-in-flight.
        #[arg(long)]
        skip_in_flight: bool,
        /// The dump would pass --enable-external-masters.
        #[arg(long)]
        enable_external_masters: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help, --version: what was asked for, on stdout.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("criurs: {}", usage_error(&e));
            return ExitCode::from(1);
        }
    };
    let failed = if matches!(cli.command, Command::Check { .. }) { 3 } else { 1 };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        // `criurs show | head`: the reader has what it wanted.
        Err(Failure::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("criurs: {}", escape::line(&e.to_string()));
            ExitCode::from(failed)
        }
    }
}

/// clap's error on one line: "invalid value 'x' for '--family <FAMILY>'
/// [possible values: ...]", without its usage block.
fn usage_error(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut parts: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        if !line.is_empty() {
            parts.push(line.strip_prefix("error: ").unwrap_or(line));
        }
    }
    escape::line(&format!("{} (see criurs --help)", parts.join(" ")))
}

/// Why a command failed: the library said no, or stdout did.
#[derive(Debug)]
pub enum Failure {
    Lib(criurs::Error),
    Io(io::Error),
}

impl From<criurs::Error> for Failure {
    fn from(e: criurs::Error) -> Failure {
        Failure::Lib(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Io(e)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Lib(e) => e.fmt(f),
            Failure::Io(e) => write!(f, "writing the output: {e}"),
        }
    }
}

/// "1 image", "2 images".
pub fn count(n: usize, what: &str) -> String {
    let plural = if what.ends_with('s') { "es" } else { "s" };
    format!("{n} {what}{}", if n == 1 { "" } else { plural })
}

fn new_context(pid: i32, verbose: u8) -> Result<Context> {
    let mut ctx = Context::new(pid)?;
    if verbose > 0 {
        ctx.set_log_level(if verbose > 1 { Level::Debug } else { Level::Info });
        ctx.set_log_sink(Some(Arc::new(|_level, line: &str| eprintln!("{}", escape::line(line)))));
    }
    Ok(ctx)
}

fn run(cli: Cli) -> std::result::Result<u8, Failure> {
    match cli.command {
        Command::Show { pid, json, sections, ns, family, processes } => {
            let filter = show::Filter::new(&sections, ns, family, processes);
            let mut ctx = new_context(pid, cli.verbose)?;
            show::collect(&mut ctx, &filter)?;
            let stdout = io::stdout();
            let mut out = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
            if json {
                json::print(&ctx, &filter, &mut out)?;
            } else {
                text::print(&ctx, &filter, &mut out)?;
            }
            out.flush()?;
            Ok(0)
        }
        Command::Dump { pid, dir, external, ext_unix_sk, skip_in_flight } => {
            let mut ctx = new_context(pid, cli.verbose)?;
            ctx.set_images_dir(&dir)?;
            ctx.set_socket_options(criurs::files::SocketOptions { ext_unix_sk, skip_in_flight });
            let written = dump(&mut ctx, &external)?;
            let mut out = io::stdout().lock();
            for name in &written {
                writeln!(out, "{}", dir.join(name).display())?;
            }
            eprintln!("criurs: wrote {} into {}", count(written.len(), "image"), dir.display());
            Ok(0)
        }
        Command::Check { pid, json, external, ext_unix_sk, tcp_established, skip_in_flight, enable_external_masters } => {
            let mut ctx = new_context(pid, cli.verbose)?;
            for spec in &external {
                ctx.add_external(spec.as_bytes()).map_err(|e| e.context(format!("--external {spec}")))?;
            }
            let options = criurs::check::Options { ext_unix_sk, tcp_established, skip_in_flight, enable_external_masters };
            let report = ctx.check(&options)?;
            let mut out = io::BufWriter::new(io::stdout().lock());
            if json {
                check::print_json(pid, &report, &mut out)?;
            } else {
                check::print_text(pid, &report, &mut out)?;
            }
            out.flush()?;
            Ok(report.exit_code())
        }
    }
}

/// Everything criurs writes for the tree, in CRIU's order, as one
/// transaction ([`Context::dump`]): a failure leaves no image of it.
fn dump(ctx: &mut Context, external: &[String]) -> Result<Vec<String>> {
    for spec in external {
        ctx.add_external(spec.as_bytes()).map_err(|e| e.context(format!("--external {spec}")))?;
    }
    ctx.dump()
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_are_singular_for_one_only() {
        assert_eq!(super::count(0, "image"), "0 images");
        assert_eq!(super::count(1, "image"), "1 image");
        assert_eq!(super::count(2, "task"), "2 tasks");
        assert_eq!(super::count(8, "address"), "8 addresses");
    }
}
