//! Measures a network namespace's dump for `bench/netns`: CRIU's
//! dump_net_ns of PID's network namespace (links with their sysctls,
//! nsids, the ip-save streams, netns sysctls, netfilter, images written
//! into DIR) and prints one line:
//! `seconds=S read_seconds=R links=N routes=N addresses=N image_bytes=B maxrss_kb=K`
//! (`read_seconds`: the same reading without sysctls, netfilter or images).
//! Usage: criurs-bench-netns PID DIR

use std::time::Instant;

use criurs::{Context, NsKind};

fn max_rss_kb() -> i64 {
    // SAFETY: getrusage fills the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru.ru_maxrss
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(pid), Some(dir)) = (args.get(1).and_then(|a| a.parse::<i32>().ok()), args.get(2)) else {
        eprintln!("usage: criurs-bench-netns PID DIR");
        std::process::exit(2);
    };
    let run = || -> criurs::Result<()> {
        let mut ctx = Context::new(pid)?;
        ctx.set_images_dir(std::path::Path::new(dir))?;
        ctx.collect_namespaces(false)?;
        let ns = ctx.namespaces()?.root_ns(NsKind::Net).map(|n| n.id).ok_or_else(|| criurs::Error::invalid("no net namespace"))?;
        let start = Instant::now();
        ctx.collect_net_config(ns)?;
        let read = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let names = ctx.dump_net_ns(ns)?;
        let secs = start.elapsed().as_secs_f64();
        let bytes: u64 = names.iter().filter_map(|n| std::fs::metadata(std::path::Path::new(dir).join(n)).ok()).map(|m| m.len()).sum();
        let c = ctx.net_config(ns)?;
        println!(
            "seconds={secs:.6} read_seconds={read:.6} links={} routes={} addresses={} image_bytes={bytes} maxrss_kb={}",
            c.links.len(),
            c.routes.len(),
            c.addresses.len(),
            max_rss_kb()
        );
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("criurs-bench-netns: {e}");
        std::process::exit(1);
    }
}
