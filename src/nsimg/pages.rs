//! How CRIU 4.2 stores the contents of a SysV shm segment: a
//! `pagemap-shmem-SHMID.img` (a head naming `pages-K.img`, then one entry
//! per run of stored pages, offsets relative to the segment) and the raw
//! pages in `pages-K.img` (no magic: CRIU's RAW_IMAGE_MAGIC), in entry
//! order. Pages the kernel reports as holes (lseek SEEK_DATA) are not
//! stored; restore leaves them zero.
//!
//! Two details make our images the same as CRIU's:
//!
//! - Runs are cut where CRIU's page pipe moves to its next pipe: in chunk
//!   mode a pipe grows until it holds `PIPE_MAX_SIZE` pages, which the
//!   kernel rounds up to a power of two (1024 pages of 4 KiB for root,
//!   who may exceed pipe-max-size), so every 1024 stored pages start a
//!   new entry.
//! - K comes from one counter CRIU keeps for the whole dump, from 1:
//!   before the ipc namespace is dumped, each live task's memory took one
//!   and each memfd or shared anonymous memory object of the tree took
//!   one. criurs dumps no task memory but counts them the same way, so
//!   its `pages-K.img` names what CRIU's would.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;

use crate::error::{Error, Result};
use crate::image::pb;
use crate::log::Logger;
use crate::pstree::{ProcRoot, ProcessTree, TaskState};

use super::{Image, ImageBuf, ImageReader};

/// CRIU's PAGEMAP_MAGIC (also SHMEM_PAGEMAP_MAGIC).
pub const PAGEMAP_MAGIC: u32 = 0x5608_4025;
/// CRIU's pagemap flag for pages stored in the pages image.
pub const PE_PRESENT: u32 = 1 << 2;

pub fn pagemap_name(shmid: i32) -> String {
    format!("pagemap-shmem-{shmid}.img")
}

pub fn pages_name(pages_id: u32) -> String {
    format!("pages-{pages_id}.img")
}

/// The system's page size.
pub fn page_size() -> usize {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE) {
        Ok(Some(n)) if n > 0 => n as usize,
        _ => 4096,
    }
}

/// How many pages one pipe of CRIU's page pipe holds at most: its
/// PIPE_MAX_SIZE (8 pages' worth of 40-byte kernel pipe buffers), as the
/// kernel rounds it up to a power of two.
pub fn pipe_pages(page: usize) -> u64 {
    ((8 * page / 40) as u64).next_power_of_two()
}

/// A run of stored pages: the first page's number in the segment and the
/// bytes, whole pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRun {
    pub first_page: u64,
    pub bytes: Vec<u8>,
}

/// CRIU's walk over a segment's pages (`do_dump_one_shmem`): a page is
/// stored unless it lies before the next data the kernel reports.
/// `seek(pfn)` is lseek(SEEK_DATA) from that page then SEEK_HOLE from the
/// data found, both in pages (rounded down, as CRIU divides), or `None`
/// when no data follows (ENXIO). Returns (first page, count) runs.
pub fn stored_pages<F>(nr_pages: u64, mut seek: F) -> Result<Vec<(u64, u64)>>
where
    F: FnMut(u64) -> Result<Option<(u64, u64)>>,
{
    let mut runs: Vec<(u64, u64)> = Vec::new();
    let (mut next_data, mut next_hole, mut pfn) = (0u64, 0u64, 0u64);
    while pfn < nr_pages {
        if pfn >= next_hole {
            (next_data, next_hole) = seek(pfn)?.unwrap_or((u64::MAX, u64::MAX));
        }
        if pfn < next_data {
            // Zero pages up to the data (and no new seek before it: the
            // hole found is past it).
            pfn = next_data.min(nr_pages);
            continue;
        }
        let end = next_hole.max(pfn + 1).min(nr_pages);
        match runs.last_mut() {
            Some((first, count)) if *first + *count == pfn => *count += end - pfn,
            _ => runs.push((pfn, end - pfn)),
        }
        pfn = end;
    }
    Ok(runs)
}

/// The pagemap entries CRIU writes for these runs: each run, cut every
/// `pipe_pages` stored pages (counted over all runs).
pub fn pagemap_runs(runs: &[(u64, u64)], pipe_pages: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut room = pipe_pages;
    for &(mut first, mut count) in runs {
        while count > 0 {
            let take = count.min(room);
            out.push((first, take));
            first += take;
            count -= take;
            room -= take;
            if room == 0 {
                room = pipe_pages;
            }
        }
    }
    out
}

/// pagemap-shmem-SHMID.img and pages-K.img for a segment's stored runs.
pub fn images(shmid: i32, pages_id: u32, data: &[DataRun], page: usize) -> [Image; 2] {
    let runs: Vec<(u64, u64)> = data.iter().map(|r| (r.first_page, (r.bytes.len() / page) as u64)).collect();
    let mut pm = ImageBuf::new(PAGEMAP_MAGIC);
    pm.entry(&pb::PagemapHead { pages_id });
    for (first, count) in pagemap_runs(&runs, pipe_pages(page)) {
        pm.entry(&pb::PagemapEntry {
            vaddr: first * page as u64,
            compat_nr_pages: 0,
            in_parent: None,
            flags: Some(PE_PRESENT),
            nr_pages: Some(count),
        });
    }
    let pages: Vec<u8> = data.iter().flat_map(|r| r.bytes.iter().copied()).collect();
    [Image { name: pagemap_name(shmid), bytes: pm.finish() }, Image { name: pages_name(pages_id), bytes: pages }]
}

/// Reads a pagemap image back: the pages id and (offset, pages) entries.
pub fn decode_pagemap(bytes: &[u8], what: &str) -> Result<(u32, Vec<(u64, u64)>)> {
    let mut r = ImageReader::new(bytes, PAGEMAP_MAGIC, what)?;
    let head: pb::PagemapHead = r.entry()?;
    let mut entries = Vec::new();
    while !r.at_end() {
        let e: pb::PagemapEntry = r.entry()?;
        if e.flags.unwrap_or(0) & PE_PRESENT == 0 {
            return Err(Error::malformed(format!("{what}: entry at {:#x} is not PE_PRESENT", e.vaddr)));
        }
        entries.push((e.vaddr, e.nr_pages.unwrap_or(e.compat_nr_pages as u64)));
    }
    Ok((head.pages_id, entries))
}

/// The pages id CRIU 4.2 gives the first shm segment of the tree's ipc
/// namespace: 1, plus one per live task (its memory), plus one per memfd
/// or shared anonymous memory object the tree maps or holds open (their
/// contents), each object counted once.
pub fn first_pages_id(proc: &ProcRoot, tree: &ProcessTree, log: &Logger) -> Result<u32> {
    let mut tasks = 0u32;
    let mut objects: HashSet<(u64, u64)> = HashSet::new();
    for task in tree.tasks.iter().filter(|t| t.state == TaskState::Alive) {
        match shmem_objects(proc, task.pid, &mut objects) {
            Ok(()) => tasks += 1,
            Err(e) if e.errno() == libc::ESRCH => {
                log.info("nsimg", format_args!("task {} exited while its memory objects were counted; left out", task.pid))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(1 + tasks + objects.len() as u32)
}

/// CRIU's `check_sysvipc_map_dump`, for a root in the caller's ipc
/// namespace: no task of the tree may map a SysV shm segment.
pub fn check_sysv_maps(proc: &ProcRoot, tree: &ProcessTree) -> Result<()> {
    for task in tree.tasks.iter().filter(|t| t.state == TaskState::Alive) {
        let maps = match std::fs::read(proc.pid_path(task.pid, "maps")) {
            Ok(m) => m,
            Err(e) => match gone(e, task.pid, "read maps") {
                e if e.errno() == libc::ESRCH => continue,
                e => return Err(e),
            },
        };
        for line in maps.split(|&b| b == b'\n') {
            if let Some((range, true, path)) = parse_maps_line(line) {
                if path.starts_with(b"/SYSV") {
                    let start = String::from_utf8_lossy(range.split(|&b| b == b'-').next().unwrap_or_default()).into_owned();
                    return Err(Error::new(
                        libc::EOPNOTSUPP,
                        format!(
                            "Task {} with SysVIPC shmem map @{start} doesn't live in IPC ns (the segment is the caller's \
                             ipc namespace's, which CRIU does not dump)",
                            task.pid
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Whether a `/proc/PID/maps` pathname is memory CRIU 4.2 dumps as a
/// shared memory object of its own (memfd, shared anonymous, shared
/// anonymous huge pages); SysV segments are the ipc namespace's.
fn is_shmem_path(path: &[u8], shared: bool) -> bool {
    path.starts_with(b"/memfd:") || (shared && (path == b"/dev/zero (deleted)" || path == b"/anon_hugepage (deleted)"))
}

/// One line of /proc/PID/maps: the range, whether shared, the pathname.
fn parse_maps_line(line: &[u8]) -> Option<(&[u8], bool, &[u8])> {
    let mut rest = line;
    let mut fields = [&b""[..]; 5];
    for f in fields.iter_mut() {
        let start = rest.iter().position(|&b| b != b' ')?;
        rest = &rest[start..];
        let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        *f = &rest[..end];
        rest = &rest[end..];
    }
    let path = rest.iter().position(|&b| b != b' ').map_or(&b""[..], |s| &rest[s..]);
    Some((fields[0], fields[1].get(3) == Some(&b's'), path))
}

fn gone(e: std::io::Error, pid: i32, what: &str) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH) {
        Error::new(libc::ESRCH, format!("pid {pid} exited"))
    } else {
        Error::io(&e, format!("{what} of pid {pid}"))
    }
}

/// Adds the (dev, inode) of every memfd or shared anonymous object `pid`
/// maps or holds open with contents (CRIU skips an empty memfd).
fn shmem_objects(proc: &ProcRoot, pid: i32, objects: &mut HashSet<(u64, u64)>) -> Result<()> {
    let maps = std::fs::read(proc.pid_path(pid, "maps")).map_err(|e| gone(e, pid, "read maps"))?;
    for line in maps.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let (range, shared, path) = parse_maps_line(line)
            .ok_or_else(|| Error::malformed(format!("/proc/{pid}/maps: line {:?} is not a mapping", String::from_utf8_lossy(line))))?;
        if is_shmem_path(path, shared) {
            let range = std::str::from_utf8(range).map_err(|_| Error::malformed(format!("/proc/{pid}/maps: bad range")))?;
            match std::fs::metadata(proc.pid_path(pid, &format!("map_files/{range}"))) {
                Ok(st) if st.size() > 0 => {
                    objects.insert((st.dev(), st.ino()));
                }
                Ok(_) => {}
                // Unmapped since maps was read.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(gone(e, pid, &format!("stat map_files/{range}"))),
            }
        }
    }
    let fd_dir = proc.pid_path(pid, "fd");
    for entry in std::fs::read_dir(&fd_dir).map_err(|e| gone(e, pid, "list fd"))? {
        let entry = entry.map_err(|e| gone(e, pid, "list fd"))?;
        let Ok(target) = std::fs::read_link(entry.path()) else { continue }; // closed meanwhile
        use std::os::unix::ffi::OsStrExt;
        if !target.as_os_str().as_bytes().starts_with(b"/memfd:") {
            continue;
        }
        if let Ok(st) = std::fs::metadata(entry.path()) {
            if st.size() > 0 {
                objects.insert((st.dev(), st.ino()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_pagemap_shmem_0_img_byte_for_byte() {
        let fixture = super::super::fixture("pagemap-shmem-0.img");
        assert_eq!(decode_pagemap(&fixture, "pagemap-shmem-0.img").unwrap(), (2, vec![(0, 2)]));
        // The fixture's 8 KiB segment: bytes 0..255 repeated, both pages stored.
        let pattern: Vec<u8> = (0..8192).map(|i| i as u8).collect();
        let [pm, pages] = images(0, 2, &[DataRun { first_page: 0, bytes: pattern.clone() }], 4096);
        assert_eq!((pm.name.as_str(), pm.bytes), ("pagemap-shmem-0.img", fixture));
        assert_eq!((pages.name.as_str(), pages.bytes), ("pages-2.img", pattern));
    }

    #[test]
    fn holes_are_skipped_as_criu_walks_them() {
        // Data in pages 2..4 and 7, a 10-page segment.
        let extents = [(2u64, 4u64), (7, 8)];
        let seek = |pfn: u64| -> Result<Option<(u64, u64)>> {
            Ok(extents.iter().find(|&&(_, hole)| hole > pfn).map(|&(data, hole)| (data.max(pfn), hole)))
        };
        assert_eq!(stored_pages(10, seek).unwrap(), vec![(2, 2), (7, 1)]);
        // No data at all, and all data.
        assert_eq!(stored_pages(4, |_| Ok(None)).unwrap(), vec![]);
        assert_eq!(stored_pages(4, |p| Ok(Some((p, 4)))).unwrap(), vec![(0, 4)]);
        // A last partial page: the hole at i_size rounds down to the page
        // itself, and CRIU still stores it.
        assert_eq!(stored_pages(2, |p| Ok(Some((p, 1)))).unwrap(), vec![(0, 2)]);
        let e = stored_pages(2, |_| Err(Error::new(libc::EIO, "lseek"))).unwrap_err();
        assert_eq!(e.errno(), libc::EIO);
    }

    #[test]
    fn entries_are_cut_where_criu_changes_pipes() {
        assert_eq!(pipe_pages(4096), 1024);
        assert_eq!(pagemap_runs(&[(0, 2)], 1024), vec![(0, 2)]);
        assert_eq!(pagemap_runs(&[(0, 3000)], 1024), vec![(0, 1024), (1024, 1024), (2048, 952)]);
        assert_eq!(pagemap_runs(&[(0, 1000), (2000, 100)], 1024), vec![(0, 1000), (2000, 24), (2024, 76)]);
    }

    #[test]
    fn maps_lines_and_shared_memory_paths() {
        let l = b"7f00-7f10 rw-s 00000000 00:01 1234                       /dev/zero (deleted)";
        assert_eq!(parse_maps_line(l), Some((&b"7f00-7f10"[..], true, &b"/dev/zero (deleted)"[..])));
        let l = b"5600-5700 r--p 00000000 08:01 99  /usr/bin/a b";
        assert_eq!(parse_maps_line(l), Some((&b"5600-5700"[..], false, &b"/usr/bin/a b"[..])));
        assert_eq!(parse_maps_line(b"7fff-8000 rw-p 00000000 00:00 0 ").unwrap().2, b"");
        assert!(parse_maps_line(b"garbage").is_none());
        assert!(is_shmem_path(b"/memfd:x (deleted)", false));
        assert!(is_shmem_path(b"/dev/zero (deleted)", true));
        assert!(!is_shmem_path(b"/dev/zero (deleted)", false));
        assert!(!is_shmem_path(b"/SYSV00000000 (deleted)", true), "the ipc namespace's own");
    }

    #[test]
    fn counts_this_process_and_its_shared_anonymous_memory() {
        use crate::pstree::Task;
        let me = std::process::id() as i32;
        let tree = ProcessTree { tasks: vec![Task { pid: me, parent: None, state: TaskState::Alive }] };
        let proc = ProcRoot::default();
        let before = first_pages_id(&proc, &tree, &Logger::default()).unwrap();
        assert!(before >= 2);
        // One more object: a shared anonymous mapping of two pages.
        let len = std::num::NonZeroUsize::new(2 * page_size()).unwrap();
        // SAFETY: a fresh anonymous mapping, unmapped below; no Rust
        // reference points into it.
        let addr = unsafe {
            nix::sys::mman::mmap_anonymous(
                None,
                len,
                nix::sys::mman::ProtFlags::PROT_READ,
                nix::sys::mman::MapFlags::MAP_SHARED,
            )
        }
        .unwrap();
        let with = first_pages_id(&proc, &tree, &Logger::default());
        // SAFETY: the mapping made above, unmapped once.
        unsafe { nix::sys::mman::munmap(addr, len.get()) }.unwrap();
        assert_eq!(with.unwrap(), before + 1, "the shared anonymous mapping is one more object");
    }
}
