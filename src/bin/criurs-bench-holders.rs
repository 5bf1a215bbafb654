//! Measures the holder scan for `bench/holders`: `holders::scan_all()`
//! (every process's /proc/PID/fd, as `ss -p`), or `holders::scan_pids`
//! of the pids given, timed inside the process, and prints one line:
//! `seconds=S sockets=N holders=H processes=P maxrss_kb=K`.
//! Usage: criurs-bench-holders [PID...]

use std::time::Instant;

fn max_rss_kb() -> i64 {
    // SAFETY: getrusage fills the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru.ru_maxrss
}

fn main() {
    let pids: Vec<i32> = std::env::args().skip(1).map(|a| a.parse().unwrap_or(0)).collect();
    let start = Instant::now();
    let scan = if pids.is_empty() { criurs::holders::scan_all() } else { criurs::holders::scan_pids(&pids) };
    match scan {
        Ok(map) => {
            let secs = start.elapsed().as_secs_f64();
            let holders: usize = map.iter().map(|(_, h)| h.len()).sum();
            println!(
                "seconds={secs:.6} sockets={} holders={holders} processes={} maxrss_kb={}",
                map.len(),
                map.processes(),
                max_rss_kb()
            );
        }
        Err(e) => {
            eprintln!("criurs-bench-holders: {e}");
            std::process::exit(1);
        }
    }
}
