//! `timens-N.img`: the monotonic and boottime clocks of a time namespace
//! at dump time (CRIU's `dump_time_ns`, which stores clock values, not
//! offsets), and `timens-0.img` with the caller's own clocks when the
//! root shares the caller's time namespace (CRIU's `dump_time_ns(0)`).
//!
//! CRIU reads the clocks with clock_gettime(2) from a child that joined
//! the namespace. The kernel refuses setns into a time namespace to a
//! multi-threaded process, and a library may not assume its caller has a
//! single thread, so criurs computes the same values the kernel would
//! return there: a time namespace's clock is the host's plus the offsets
//! in `/proc/PID/timens_offsets`; the host's is ours less our own
//! offsets. No fork, no setns, and the values are exact (the kernel does
//! the same addition on every clock_gettime in the namespace).

use nix::time::{clock_gettime, ClockId};

use crate::error::{Error, Result};
use crate::image::pb;
use crate::ns::{parse_ns_link, read_ns_kid, NsEntry, NsKind};
use crate::pstree::ProcRoot;

use super::{Image, ImageBuf, ImageReader};

/// CRIU's TIMENS_MAGIC.
pub const TIMENS_MAGIC: u32 = 0x4311_4433;

const NSEC_PER_SEC: i128 = 1_000_000_000;

pub fn image_name(id: u32) -> String {
    format!("timens-{id}.img")
}

/// A clock value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timespec {
    pub sec: u64,
    /// Always below 1_000_000_000.
    pub nsec: u32,
}

impl Timespec {
    fn from_nanos(ns: i128, what: &str) -> Result<Timespec> {
        if ns < 0 {
            return Err(Error::new(libc::ERANGE, format!("{what} would be negative ({ns} ns)")));
        }
        let sec = u64::try_from(ns / NSEC_PER_SEC).map_err(|_| Error::new(libc::ERANGE, format!("{what} overflows")))?;
        Ok(Timespec { sec, nsec: (ns % NSEC_PER_SEC) as u32 })
    }

    pub fn as_nanos(self) -> i128 {
        self.sec as i128 * NSEC_PER_SEC + self.nsec as i128
    }

    fn to_pb(self) -> pb::Timespec {
        pb::Timespec { tv_sec: self.sec, tv_nsec: self.nsec as u64 }
    }
}

/// What timens-N.img holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clocks {
    pub monotonic: Timespec,
    pub boottime: Timespec,
}

impl Clocks {
    pub fn image(&self, id: u32) -> Image {
        let mut b = ImageBuf::new(TIMENS_MAGIC);
        b.entry(&pb::TimensEntry { monotonic: self.monotonic.to_pb(), boottime: self.boottime.to_pb() });
        Image { name: image_name(id), bytes: b.finish() }
    }

    pub fn decode(bytes: &[u8], what: &str) -> Result<Clocks> {
        let mut r = ImageReader::new(bytes, TIMENS_MAGIC, what)?;
        let e: pb::TimensEntry = r.entry()?;
        if !r.at_end() {
            return Err(Error::malformed(format!("{what}: more than one entry")));
        }
        let conv = |t: &pb::Timespec, clock: &str| -> Result<Timespec> {
            let nsec = u32::try_from(t.tv_nsec).ok().filter(|&n| (n as i128) < NSEC_PER_SEC).ok_or_else(|| {
                Error::malformed(format!("{what}: {clock} tv_nsec {} is not below one second", t.tv_nsec))
            })?;
            Ok(Timespec { sec: t.tv_sec, nsec })
        };
        Ok(Clocks { monotonic: conv(&e.monotonic, "monotonic")?, boottime: conv(&e.boottime, "boottime")? })
    }
}

/// The two offsets of `/proc/PID/timens_offsets`, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offsets {
    pub monotonic: i128,
    pub boottime: i128,
}

/// Parses `/proc/PID/timens_offsets`: one line per clock, "NAME SECS NSECS"
/// (names as Linux prints them, or the clock's number as early kernels
/// did); each clock exactly once.
pub fn parse_offsets(text: &[u8], what: &str) -> Result<Offsets> {
    let (mut mono, mut boot) = (None, None);
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let bad = |why: String| Error::malformed(format!("{what}: line {}: {why}", n + 1));
        let words: Vec<&str> = std::str::from_utf8(line)
            .map_err(|_| bad("not text".into()))?
            .split_ascii_whitespace()
            .collect();
        let [name, sec, nsec] = words[..] else {
            return Err(bad(format!("{} fields, expected 3 (clock seconds nanoseconds)", words.len())));
        };
        let sec: i64 = sec.parse().map_err(|_| bad(format!("{sec:?} is not a number of seconds")))?;
        let nsec: i64 = nsec.parse().ok().filter(|n| (0..NSEC_PER_SEC as i64).contains(n)).ok_or_else(|| {
            bad(format!("{nsec:?} is not a number of nanoseconds below one second"))
        })?;
        let value = sec as i128 * NSEC_PER_SEC + nsec as i128;
        let slot = match name {
            "monotonic" | "1" => &mut mono,
            "boottime" | "7" => &mut boot,
            other => return Err(bad(format!("unknown clock {other:?}"))),
        };
        if slot.replace(value).is_some() {
            return Err(bad(format!("clock {name} given twice")));
        }
    }
    match (mono, boot) {
        (Some(monotonic), Some(boottime)) => Ok(Offsets { monotonic, boottime }),
        _ => Err(Error::malformed(format!("{what}: expected a monotonic and a boottime line"))),
    }
}

/// The clocks of a namespace with offsets `theirs`, given our own clocks
/// `now` in a namespace with offsets `ours`.
pub fn ns_clocks(now: Clocks, ours: Offsets, theirs: Offsets) -> Result<Clocks> {
    Ok(Clocks {
        monotonic: Timespec::from_nanos(now.monotonic.as_nanos() - ours.monotonic + theirs.monotonic, "the monotonic clock")?,
        boottime: Timespec::from_nanos(now.boottime.as_nanos() - ours.boottime + theirs.boottime, "the boottime clock")?,
    })
}

fn read_clock(id: ClockId) -> Result<Timespec> {
    let ts = clock_gettime(id).map_err(|e| Error::sys(e, format!("clock_gettime({id})")))?;
    Timespec::from_nanos(ts.tv_sec() as i128 * NSEC_PER_SEC + ts.tv_nsec() as i128, "a clock")
}

/// Our clocks, monotonic first as CRIU reads them.
fn own_clocks() -> Result<Clocks> {
    Ok(Clocks { monotonic: read_clock(ClockId::CLOCK_MONOTONIC)?, boottime: read_clock(ClockId::CLOCK_BOOTTIME)? })
}

fn read_offsets(proc: &ProcRoot, rel: &str) -> Result<Option<Offsets>> {
    let path = proc.path(&format!("{rel}/timens_offsets"));
    match std::fs::read(&path) {
        Ok(text) => parse_offsets(&text, &path.display().to_string()).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&e, format!("read {}", path.display()))),
    }
}

/// The time namespace `ns` as its tasks see it now; `None`: the caller's
/// own clocks, for timens-0.img.
pub fn read(proc: &ProcRoot, ns: Option<&NsEntry>) -> Result<Clocks> {
    let Some(ns) = ns else { return own_clocks() };
    let rel = ns.pid.to_string();
    // timens_offsets shows the namespace of the task's future children;
    // the table refused tasks whose children's differs from their own.
    // Checked before and after, so the offsets are this namespace's.
    let check = || -> Result<()> {
        let own = read_ns_kid(proc, &rel, NsKind::Time)?;
        let link = proc.path(&format!("{rel}/ns/time_for_children"));
        let children = std::fs::read_link(&link).ok().and_then(|t| {
            use std::os::unix::ffi::OsStrExt;
            parse_ns_link(NsKind::Time, t.as_os_str().as_bytes())
        });
        if own == Some(ns.kid) && children == Some(ns.kid) {
            Ok(())
        } else {
            Err(Error::new(
                libc::ESRCH,
                format!("pid {} is no longer in time namespace {} (time:[{}]) with its children: collect again", ns.pid, ns.id, ns.kid),
            ))
        }
    };
    check()?;
    let theirs = read_offsets(proc, &rel)?
        .ok_or_else(|| Error::new(libc::ESRCH, format!("pid {} of time namespace {} exited", ns.pid, ns.id)))?;
    check()?;
    let ours = read_offsets(proc, "thread-self")?.unwrap_or_default();
    ns_clocks(own_clocks()?, ours, theirs).map_err(|e| e.context(format!("time namespace {}", ns.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE_OFFSETS: &[u8] = b"monotonic       86400         0\nboottime         3600         0\n";

    #[test]
    fn encodes_timens_13_img_byte_for_byte() {
        let fixture = super::super::fixture("timens-13.img");
        let c = Clocks::decode(&fixture, "timens-13.img").unwrap();
        assert_eq!(c.monotonic, Timespec { sec: 95273, nsec: 34704760 });
        assert_eq!(c.boottime, Timespec { sec: 12473, nsec: 34704849 });
        assert_eq!(c.image(13).bytes, fixture);
        assert_eq!(c.image(13).name, "timens-13.img");
    }

    #[test]
    fn parses_the_fixtures_offsets_and_refuses_garbage() {
        let o = parse_offsets(FIXTURE_OFFSETS, "t").unwrap();
        assert_eq!(o, Offsets { monotonic: 86400 * NSEC_PER_SEC, boottime: 3600 * NSEC_PER_SEC });
        let neg = parse_offsets(b"monotonic -5 250\nboottime 0 0\n", "t").unwrap();
        assert_eq!(neg.monotonic, -5 * NSEC_PER_SEC + 250);
        for (bad, why) in [
            (&b"monotonic 1 0\n"[..], "expected a monotonic and a boottime"),
            (b"monotonic 1 0\nmonotonic 1 0\nboottime 0 0\n", "twice"),
            (b"monotonic 1\nboottime 0 0\n", "2 fields"),
            (b"monotonic x 0\nboottime 0 0\n", "seconds"),
            (b"monotonic 1 1000000000\nboottime 0 0\n", "nanoseconds"),
            (b"realtime 1 0\nboottime 0 0\n", "unknown clock"),
            (b"monotonic 99999999999999999999 0\nboottime 0 0\n", "seconds"),
        ] {
            let e = parse_offsets(bad, "/proc/9/timens_offsets").unwrap_err();
            assert_eq!(e.errno(), libc::EBADMSG);
            assert!(e.message().contains(why) && e.message().starts_with("/proc/9/timens_offsets"), "{e}");
        }
    }

    #[test]
    fn a_namespace_clock_is_ours_less_our_offset_plus_theirs() {
        let now = Clocks { monotonic: Timespec { sec: 100, nsec: 900_000_000 }, boottime: Timespec { sec: 200, nsec: 5 } };
        let ours = Offsets { monotonic: 10 * NSEC_PER_SEC, boottime: 0 };
        let theirs = Offsets { monotonic: 86400 * NSEC_PER_SEC + 200_000_000, boottime: -100 * NSEC_PER_SEC };
        let c = ns_clocks(now, ours, theirs).unwrap();
        assert_eq!(c.monotonic, Timespec { sec: 86491, nsec: 100_000_000 });
        assert_eq!(c.boottime, Timespec { sec: 100, nsec: 5 });
        let e = ns_clocks(now, ours, Offsets { monotonic: 0, boottime: -300 * NSEC_PER_SEC }).unwrap_err();
        assert_eq!(e.errno(), libc::ERANGE);
    }

    #[test]
    fn our_own_clocks_are_between_two_reads() {
        let before = own_clocks().unwrap();
        let c = read(&ProcRoot::default(), None).unwrap();
        let after = own_clocks().unwrap();
        assert!(before.monotonic <= c.monotonic && c.monotonic <= after.monotonic);
        assert!(before.boottime <= c.boottime && c.boottime <= after.boottime);
    }

    #[test]
    fn a_stale_entry_is_refused() {
        let proc = ProcRoot::default();
        let me = std::process::id() as i32;
        let kid = read_ns_kid(&proc, "self", NsKind::Time).unwrap().unwrap();
        let ns = NsEntry { id: 5, kind: NsKind::Time, kid: kid + 1, pid: me, ns_type: crate::ns::NsType::Own };
        let e = read(&proc, Some(&ns)).unwrap_err();
        assert_eq!(e.errno(), libc::ESRCH);
        assert!(e.message().contains("time namespace 5"), "{e}");
        // Our own namespace through the offsets gives our own clocks.
        let ns = NsEntry { kid, ..ns };
        let before = own_clocks().unwrap();
        let c = read(&proc, Some(&ns)).unwrap();
        assert!(before.monotonic <= c.monotonic && c.monotonic <= own_clocks().unwrap().monotonic);
    }
}
