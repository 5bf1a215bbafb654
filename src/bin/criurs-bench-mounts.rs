//! Helper of bench/mounts.
//!
//! `criurs-bench-mounts hold BASE N`: (run inside `unshare --mount
//! --propagation private`) mounts a tmpfs on BASE, bind-mounts BASE/src
//! on N directories, prints "ready" and waits for stdin to close; the
//! namespace and its mounts vanish with the process.
//!
//! `criurs-bench-mounts collect PID [--not-for-dump] [--reader R]`: one
//! collection of PID's mount namespace (tree, namespace table, the mount
//! table, sharing, validation, as for a dump) and prints "SECONDS
//! MAX_RSS_KIB MOUNTS READER" (READER: mountinfo or statmount, which the
//! table was read with). With `--not-for-dump` the same without
//! validation (sharing still resolved): a namespace of slaves whose
//! masters are outside it is refused by a dump, as CRIU refuses it, but
//! still read. `--reader auto|mountinfo|statmount` picks the reader
//! (default auto).

use std::io::Read;
use std::time::Instant;

fn hold(base: &str, n: usize) -> Result<(), String> {
    use nix::mount::{mount, MsFlags};
    mount(Some("bench"), base, Some("tmpfs"), MsFlags::empty(), Some("size=64m")).map_err(|e| format!("mount tmpfs on {base}: {e}"))?;
    let src = format!("{base}/src");
    std::fs::create_dir(&src).map_err(|e| format!("mkdir {src}: {e}"))?;
    for i in 0..n {
        let dst = format!("{base}/d{i}");
        std::fs::create_dir(&dst).map_err(|e| format!("mkdir {dst}: {e}"))?;
        mount(Some(src.as_str()), dst.as_str(), None::<&str>, MsFlags::MS_BIND, None::<&str>).map_err(|e| format!("bind {dst}: {e}"))?;
    }
    println!("ready");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    Ok(())
}

fn collect(pid: i32, for_dump: bool, reader: criurs::mount::Reader) -> Result<(), String> {
    let started = Instant::now();
    let mut ctx = criurs::Context::new(pid).map_err(|e| e.to_string())?;
    ctx.set_mount_reader(reader);
    ctx.collect_mount_namespaces(for_dump).map_err(|e| e.to_string())?;
    let table = ctx.namespaces().map_err(|e| e.to_string())?;
    let ns_id = table.root_ns(criurs::NsKind::Mnt).map(|n| n.id).ok_or("no mount namespace")?;
    let ns = ctx.mount_namespace(ns_id).map_err(|e| e.to_string())?;
    let (mounts, reader) = (ns.len(), ns.reader().name());
    let secs = started.elapsed().as_secs_f64();
    // Peak resident set (VmHWM), in KiB.
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .ok_or("no VmHWM in /proc/self/status")?;
    println!("{secs:.6} {hwm} {mounts} {reader}");
    Ok(())
}

const USAGE: &str = "usage: criurs-bench-mounts hold BASE N | collect PID [--not-for-dump] [--reader auto|mountinfo|statmount]";

fn collect_args(args: &[String]) -> Result<(), String> {
    use criurs::mount::Reader;
    let pid = args[0].parse().map_err(|_| "PID must be a number".to_string())?;
    let (mut for_dump, mut reader) = (true, Reader::Auto);
    let mut rest = args[1..].iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--not-for-dump" => for_dump = false,
            "--reader" => {
                reader = match rest.next().map(String::as_str) {
                    Some("auto") => Reader::Auto,
                    Some("mountinfo") => Reader::Mountinfo,
                    Some("statmount") => Reader::Statmount,
                    _ => return Err(USAGE.to_string()),
                }
            }
            _ => return Err(USAGE.to_string()),
        }
    }
    collect(pid, for_dump, reader)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("hold") if args.len() == 4 => args[3].parse().map_err(|_| "N must be a number".to_string()).and_then(|n| hold(&args[2], n)),
        Some("collect") if args.len() >= 3 => collect_args(&args[2..]),
        _ => Err(USAGE.to_string()),
    };
    if let Err(e) = result {
        eprintln!("criurs-bench-mounts: {e}");
        std::process::exit(1);
    }
}
