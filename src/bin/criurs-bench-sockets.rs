//! Measures socket collection for `bench/sockets`: collects the sockets
//! of PID's network namespace and prints one line:
//! `seconds=S user_seconds=U sys_seconds=Y sockets=N table_bytes=B
//! name_bytes=B maxrss_kb=K families=...` (U, Y: the CPU time of every
//! thread during the collection, getrusage); with
//! `--images DIR`, then dumps the tree's socket images into DIR and adds
//! `dump_seconds=S files=N`.
//! Usage: criurs-bench-sockets PID [--dump] [--images DIR]  (--dump: one line per socket)
//!
//! `criurs-bench-sockets PID --tree`: the whole collection for a dump of
//! PID's tree (`collect_namespaces(true)`: tasks, namespaces, and the
//! sockets of every network namespace in it) and prints
//! `seconds=S namespaces=N sockets=N maxrss_kb=K`.

use std::time::Instant;

use criurs::{Context, NsKind};

fn usage() -> libc::rusage {
    // SAFETY: getrusage fills the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru
}

fn max_rss_kb() -> i64 {
    usage().ru_maxrss
}

/// User and system CPU seconds of the whole process (every thread) so far.
fn cpu_seconds() -> (f64, f64) {
    let ru = usage();
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(ru.ru_utime), secs(ru.ru_stime))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(pid) = args.get(1).and_then(|a| a.parse::<i32>().ok()) else {
        eprintln!("usage: criurs-bench-sockets PID [--dump]");
        std::process::exit(2);
    };
    let tree = || -> criurs::Result<()> {
        let start = Instant::now();
        let mut ctx = Context::new(pid)?;
        ctx.collect_namespaces(true)?;
        let secs = start.elapsed().as_secs_f64();
        let nets = ctx.net_namespaces()?;
        let sockets: usize = nets.iter().filter_map(|n| n.sockets()).map(|t| t.len()).sum();
        println!("seconds={secs:.6} namespaces={} sockets={sockets} maxrss_kb={}", nets.len(), max_rss_kb());
        Ok(())
    };
    if args.iter().any(|a| a == "--tree") {
        if let Err(e) = tree() {
            eprintln!("criurs-bench-sockets: {e}");
            std::process::exit(1);
        }
        return;
    }
    let run = || -> criurs::Result<()> {
        let mut ctx = Context::new(pid)?;
        ctx.collect_namespaces(false)?;
        let ns = ctx.namespaces()?.root_ns(NsKind::Net).map(|n| n.id).ok_or_else(|| criurs::Error::invalid("no net namespace"))?;
        let (user0, sys0) = cpu_seconds();
        let start = Instant::now();
        ctx.collect_sockets(ns)?;
        let secs = start.elapsed().as_secs_f64();
        let (user1, sys1) = cpu_seconds();
        let images = args.iter().position(|a| a == "--images").and_then(|i| args.get(i + 1));
        let mut dumped = String::new();
        if let Some(dir) = images {
            ctx.set_images_dir(std::path::Path::new(dir))?;
            let start = Instant::now();
            ctx.dump_sockets(None)?;
            let dump_secs = start.elapsed().as_secs_f64();
            dumped = format!(" dump_seconds={dump_secs:.6} files={}", ctx.socket_images()?.files.len());
        }
        let table = ctx.sockets(ns)?;
        if args.iter().any(|a| a == "--dump") {
            for s in table {
                println!("{s:?}");
            }
        }
        let families: Vec<String> = table.families().iter().map(|f| format!("{}:{:?}", f.name, f.state)).collect();
        println!(
            "seconds={secs:.6} user_seconds={:.6} sys_seconds={:.6} sockets={} table_bytes={} name_bytes={} maxrss_kb={} families={}{dumped}",
            user1 - user0,
            sys1 - sys0,
            table.len(),
            table.memory_bytes(),
            table.name_bytes(),
            max_rss_kb(),
            families.join(","),
        );
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("criurs-bench-sockets: {e}");
        std::process::exit(1);
    }
}
