//! Mount namespaces: CRIU's `collect_mnt_namespaces` → `collect_mntns` →
//! `parse_mountinfo` → `mnt_build_tree`, then `resolve_external_mounts`,
//! `resolve_shared_mounts` and `validate_mounts`, and the image
//! mountpoints-N.img (`dump_mnt_ns`).
//!
//! Decisions:
//! - Collection never writes images, `for_dump` or not: each namespace's
//!   image is written by [`crate::Context::dump_mnt_ns`], so a failed
//!   collection leaves no file behind. `for_dump` keeps CRIU's other
//!   meanings: `--skip-mnt` mounts are dropped, and sharing is validated
//!   (refusals are errors) only when dumping and some collected namespace
//!   is not the caller's own, as CRIU does. Sharing links (peers, masters,
//!   bind groups) are computed in every case.
//! - binfmt_misc: CRIU's temporary binfmt_misc mount (`mount_cr_time_mount`
//!   under CONFIG_BINFMT_MISC_VIRTUALIZED) only adds an entry with mnt_id 0
//!   that `dump_one_mountpoint` skips, so it never reaches the image; on
//!   kernels that sandbox binfmt_misc per user namespace (6.7 and later)
//!   CRIU 4 reads the registrations through a detached mount in a child
//!   for a separate image (binfmt-misc.img), not part of this stage. We
//!   therefore mount nothing, ever: nothing can be left behind.
//! - Cost is linear: mounts are indexed by id, peer groups and superblock
//!   (bind) groups live in hash maps, children in a flattened table.
//! - Two readers of a table (see [`Reader`]): mountinfo, parsed as it is
//!   read, and listmount/statmount ([`statmount`]) for tables of slaves,
//!   whose mountinfo the kernel prints in quadratic time. Both give the
//!   same records.

pub mod flags;
pub mod fstype;
pub mod image;
pub mod mountinfo;
pub mod sharing;
pub mod statmount;
pub mod tree;
pub mod validate;

use std::collections::{HashMap, HashSet};

pub use fstype::{AutoFs, FsType};
pub use mountinfo::MountRecord;
pub use sharing::Sharing;
pub use tree::{MountNamespace, MountRef};

use crate::error::{Error, Result, ResultExt};
use crate::log::Logger;
use crate::ns::{NsKind, NsTable, NsType};
use crate::pstree::ProcRoot;
use crate::userns::IdMaps;
use mountinfo::ParseRules;
use tree::show;

/// DEVPTS_SUPER_MAGIC.
const DEVPTS_MAGIC: i64 = 0x1cd1;

/// Caller's choices that change what is collected (CRIU's options).
#[derive(Debug, Clone, Default)]
pub struct MountConfig {
    /// `--external mnt[PATH]:KEY`: mount point as the namespace sees it → key.
    pub external_mounts: HashMap<Vec<u8>, Vec<u8>>,
    /// `--external dev[MAJ/MIN]:VAL`.
    pub external_devices: HashMap<(u32, u32), Vec<u8>>,
    /// `--skip-mnt PATH`: mount points left out of a dump.
    pub skip_mounts: HashSet<Vec<u8>>,
    /// `--enable-fs NAMES`: filesystem types mounted by name ("auto").
    pub auto_fs: AutoFs,
    /// Device (kernel encoding) of /dev/pts in the caller's mount
    /// namespace, which decides devpts's "newinstance" (CRIU's kerndat).
    /// `None`: probed at each collection.
    pub own_devpts_dev: Option<u32>,
    /// How mount tables are read (see [`Reader`]).
    pub reader: Reader,
}

/// How a mount table is read. Both readers give the same records (but
/// `propagate_from`, which statmount's never carry).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Reader {
    /// mountinfo, left for statmount once the table has shown many slaves
    /// of one master peer group (8 in its first 4 KiB, 128 later):
    /// mountinfo prints each of them in time linear in the group, so a
    /// copy of a namespace of N peers, made slave, costs O(N²). mountinfo
    /// wherever statmount is refused.
    #[default]
    Auto,
    /// mountinfo only.
    Mountinfo,
    /// statmount only: where it is refused, the collection fails with
    /// the reason (for tests and measurements).
    Statmount,
}

impl Reader {
    pub fn name(self) -> &'static str {
        match self {
            Reader::Auto => "auto",
            Reader::Mountinfo => "mountinfo",
            Reader::Statmount => "statmount",
        }
    }
}

impl MountConfig {
    /// Parses one `--external` spec: `mnt[PATH]:KEY` or `dev[MAJ/MIN]:VAL`.
    pub fn add_external(&mut self, spec: &[u8]) -> Result<()> {
        match crate::external::External::parse(spec)? {
            crate::external::External::Mount { path, key } => self.add_external_mount(&path, &key),
            crate::external::External::Device { major, minor, value } => {
                self.external_devices.insert((major, minor), value);
                Ok(())
            }
            _ => Err(Error::invalid(format!(
                "external {:?} is neither mnt[PATH]:KEY nor dev[MAJ/MIN]:VAL",
                String::from_utf8_lossy(spec)
            ))),
        }
    }

    /// Marks the mount at `path` (as the namespace sees it) external,
    /// written with `key` as its ext_key.
    pub fn add_external_mount(&mut self, path: &[u8], key: &[u8]) -> Result<()> {
        if path.first() != Some(&b'/') || key.is_empty() || path.contains(&0) || key.contains(&0) {
            return Err(Error::invalid(format!(
                "external mount {:?}:{:?}: the path must be absolute and the key non-empty, without NUL",
                String::from_utf8_lossy(path),
                String::from_utf8_lossy(key)
            )));
        }
        self.external_mounts.insert(path.to_vec(), key.to_vec());
        Ok(())
    }
}

/// What `collect_mnt_namespaces` leaves in the context.
#[derive(Debug, Default, Clone)]
pub struct MountNamespaces {
    config: MountConfig,
    namespaces: Vec<MountNamespace>,
    sharing: Sharing,
    validated: bool,
    /// Slaves whose master CRIU cannot reach (refused when validating).
    unreachable: Vec<MountRef>,
}

impl MountNamespaces {
    /// The configuration these namespaces were collected with.
    pub fn config(&self) -> &MountConfig {
        &self.config
    }

    /// Collected namespaces, in CRIU's walk order.
    pub fn namespaces(&self) -> &[MountNamespace] {
        &self.namespaces
    }

    /// The collected namespace with small id `ns_id`.
    pub fn get(&self, ns_id: u32) -> Option<&MountNamespace> {
        self.namespaces.iter().find(|n| n.ns_id == ns_id)
    }

    pub fn sharing(&self) -> &Sharing {
        &self.sharing
    }

    /// Whether sharing and mounts were validated (CRIU does it only when
    /// dumping a namespace other than its own).
    pub fn validated(&self) -> bool {
        self.validated
    }

    /// Whether CRIU validates these namespaces when dumping: some
    /// collected namespace is not the caller's own.
    pub fn needs_validation(&self) -> bool {
        self.namespaces.iter().any(|n| n.ns_type != NsType::Own)
    }

    /// Slaves whose master is in no collected namespace and reaches them
    /// through no external or root mount (CRIU's "has unreachable
    /// sharing"), in CRIU's order.
    pub fn unreachable(&self) -> &[MountRef] {
        &self.unreachable
    }

    /// Every refusal of CRIU's `validate_mounts` over these namespaces,
    /// validated or not.
    pub fn refusals(&self) -> Vec<validate::MountRefusal> {
        validate::refusals(&self.namespaces, &self.sharing)
    }
}

/// CRIU's kerndat devpts device: /dev/pts in the caller's namespace.
fn probe_devpts(log: &Logger) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata("/dev/pts").ok()?;
    let fs = nix::sys::statfs::statfs("/dev/pts").ok()?;
    if fs.filesystem_type().0 as i64 != DEVPTS_MAGIC {
        log.warn("mnt", format_args!("/dev/pts is not a devpts here; devpts mounts are taken as not new instances"));
        return None;
    }
    let dev = meta.dev();
    Some(((libc::major(dev)) << 20) | libc::minor(dev))
}

/// Applies CRIU's per-type `parse` rules; `false` drops the mount.
fn apply_type_rules(m: &mut MountRecord, devpts_dev: Option<u32>, cgroup_ns: bool) -> bool {
    match m.fstype {
        FsType::Devpts => {
            // The kernel hides "newinstance"; a devpts other than ours was
            // made with it.
            if devpts_dev.is_some_and(|d| d != m.root_dev) {
                m.push_option(b"newinstance");
            }
        }
        // tracefs is mounted automatically under debugfs: mounted MS_REC.
        FsType::Debugfs => m.flags |= flags::MS_REC,
        FsType::Tracefs => return false,
        FsType::Cgroup | FsType::Cgroup2 if cgroup_ns => {
            m.cgroup_root = Some(m.set_root(b"/"));
        }
        _ => {}
    }
    true
}

/// The first read of a mountinfo: a few lines, so that a table of slaves
/// is told (see [`Reader::Auto`]) before the kernel has printed much.
const PROBE: usize = 4096;

/// Slaves of one master peer group after which mountinfo is left for
/// statmount. Printing a slave's line searches its master's whole group
/// (~40 ns a member here, on a ~1.5 µs line), and statmount costs ~6-9 µs
/// a mount: statmount is cheaper from groups of ~150 members, and a
/// namespace holding that many slaves of one group is, as a rule, a copy
/// of a namespace where that group has as many members (bench/mounts).
const SLAVES_OF_ONE_MASTER: u32 = 128;

/// The same, in the first [`PROBE`] bytes (some 40 lines): so many slaves
/// of one group there is a copy of such a namespace, and each of its
/// lines may cost a search of thousands of peers.
const SLAVES_OF_ONE_MASTER_IN_PROBE: u32 = 8;

/// Reads one mount table with the reader `choice` asks for; returns the
/// records and the reader used. `live_pid` is the task when procfs is
/// the system's (statmount reads the live kernel, not a fixture).
fn read_table(path: &std::path::Path, live_pid: Option<i32>, rules: &ParseRules, choice: Reader, log: &Logger) -> Result<(Vec<MountRecord>, Reader)> {
    if choice == Reader::Statmount {
        let pid = live_pid.ok_or_else(|| Error::invalid(format!("{}: statmount reads only the live system's tables", path.display())))?;
        return match statmount::read(pid, rules) {
            Ok(records) => Ok((records, Reader::Statmount)),
            Err(statmount::Outcome::Refused(why)) => Err(Error::new(libc::EOPNOTSUPP, format!("statmount of pid {pid}'s mount table: {why}"))),
            Err(statmount::Outcome::Failed(e)) => Err(e),
        };
    }
    let mut statmount_pid = live_pid.filter(|_| choice == Reader::Auto);
    let mut checks = 0;
    read_mountinfo(path, rules, |parser| {
        let pid = statmount_pid?;
        checks += 1;
        let enough = if checks == 1 { SLAVES_OF_ONE_MASTER_IN_PROBE } else { SLAVES_OF_ONE_MASTER };
        if parser.most_slaves_of_one_master() < enough {
            return None;
        }
        statmount_pid = None;
        match statmount::read(pid, rules) {
            Ok(records) => Some(Ok(records)),
            Err(statmount::Outcome::Refused(why)) => {
                log.info("mnt", format_args!("pid {pid}: a table of slaves, but statmount is refused ({why}): reading mountinfo"));
                None
            }
            Err(statmount::Outcome::Failed(e)) => Some(Err(e)),
        }
    })
}

/// Reads and parses one mountinfo. The kernel generates the text as it
/// is read (about half the cost of a collection), so a second thread
/// reads the next chunk while this one parses the last; a table that
/// fits in one read is parsed inline. The records are allocated on the
/// calling thread, and chunk buffers are recycled: none is zeroed or
/// faulted in twice. After the first [`PROBE`] bytes and after each chunk,
/// `instead` sees the parser and may answer with another reader's table
/// (mountinfo is then left unread).
fn read_mountinfo(
    path: &std::path::Path,
    rules: &ParseRules,
    mut instead: impl FnMut(&mountinfo::Parser<'_>) -> Option<Result<Vec<MountRecord>>>,
) -> Result<(Vec<MountRecord>, Reader)> {
    use std::sync::mpsc;
    const CHUNK: usize = 128 * 1024;
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(&e, format!("read {}", path.display())))?;
    // Parse errors name the file (read errors already do).
    let named = |e: Error| e.context(path.display());
    let done = |parser: mountinfo::Parser<'_>| parser.finish().map(|r| (r, Reader::Mountinfo)).map_err(named);
    let mut parser = mountinfo::Parser::new(rules, CHUNK / 128);
    let mut first = vec![0u8; CHUNK];
    let n = read_some(&mut file, &mut first[..PROBE], path)?;
    parser.feed(&first[..n]).map_err(named)?;
    if n == 0 {
        return done(parser);
    }
    if let Some(table) = instead(&parser) {
        return table.map(|r| (r, Reader::Statmount));
    }
    let n = read_some(&mut file, &mut first, path)?;
    parser.feed(&first[..n]).map_err(named)?;
    if n == 0 {
        return done(parser);
    }
    if let Some(table) = instead(&parser) {
        return table.map(|r| (r, Reader::Statmount));
    }
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(4);
        let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
        let _ = empty_tx.send(first);
        let reader = scope.spawn(move || -> Result<()> {
            loop {
                let mut buf = empty_rx.try_recv().unwrap_or_else(|_| vec![0u8; CHUNK]);
                let n = read_some(&mut file, &mut buf, path)?;
                // A closed channel: the parser stopped at an error.
                if n == 0 || full_tx.send((buf, n)).is_err() {
                    return Ok(());
                }
            }
        });
        let mut parsed = Ok(());
        let mut other = None;
        for (buf, n) in full_rx.iter() {
            parsed = parser.feed(&buf[..n]).map_err(named);
            if parsed.is_err() {
                break;
            }
            other = instead(&parser);
            if other.is_some() {
                break;
            }
            let _ = empty_tx.send(buf);
        }
        drop(full_rx);
        let read = reader.join().unwrap_or_else(|_| Err(Error::new(libc::EIO, format!("read {}: the reader thread panicked", path.display()))));
        if let Some(table) = other {
            return table.map(|r| (r, Reader::Statmount));
        }
        read?;
        parsed?;
        done(parser)
    })
}

/// One read(2), retried on EINTR.
fn read_some(file: &mut std::fs::File, buf: &mut [u8], path: &std::path::Path) -> Result<usize> {
    use std::io::Read;
    loop {
        match file.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(&e, format!("read {}", path.display()))),
        }
    }
}

/// What turns one namespace's mountinfo into CRIU's records: the
/// parser's rules and CRIU's per-mount decisions. The same for a live
/// collection and for fixtures.
#[derive(Debug, Clone)]
pub struct CollectRules<'a> {
    pub parse: ParseRules,
    pub config: &'a MountConfig,
    /// /dev/pts of the caller's namespace (see `MountConfig::own_devpts_dev`).
    pub devpts_dev: Option<u32>,
    /// The tree root has a cgroup namespace of its own.
    pub cgroup_ns: bool,
    pub for_dump: bool,
}

/// Parses one namespace's mountinfo text and builds its tree (CRIU's
/// `collect_mntinfo` after the read): `--skip-mnt` when dumping, the
/// per-type rules, then the tree.
pub fn build_namespace(ns: &crate::ns::NsEntry, text: &[u8], rules: &CollectRules<'_>, log: &Logger) -> Result<MountNamespace> {
    build_from_records(ns, mountinfo::parse(text, &rules.parse)?, rules, log)
}

/// `--skip-mnt` when dumping, the per-type rules, then the tree, on
/// parsed records.
fn build_from_records(ns: &crate::ns::NsEntry, mut mounts: Vec<MountRecord>, rules: &CollectRules<'_>, log: &Logger) -> Result<MountNamespace> {
    mounts.retain_mut(|m| {
        if rules.for_dump && rules.config.skip_mounts.contains(m.mountpoint()) {
            log.info("mnt", format_args!("skip {} @ {}", show(&m.fsname()), show(&m.mountpoint())));
            return false;
        }
        let keep = apply_type_rules(m, rules.devpts_dev, rules.cgroup_ns);
        if !keep {
            log.info("mnt", format_args!("skipping fs mounted at {}", show(&m.mountpoint())));
        }
        keep
    });
    MountNamespace::build(ns.id, ns.kid, ns.pid, ns.ns_type, mounts)
}

/// CRIU's `resolve_external_mounts`, `resolve_shared_mounts` and, with
/// `validate`, `validate_mounts` over built namespaces: refusals are
/// errors when validating, logged otherwise. `root_ns_id` is the tree
/// root's mount namespace (where `mnt[PATH]:KEY` externals apply).
pub fn resolve(
    namespaces: &mut [MountNamespace],
    config: &MountConfig,
    root_ns_id: Option<u32>,
    validate: bool,
    log: &Logger,
) -> Result<(Sharing, Vec<MountRef>)> {
    let (sharing, unreachable) = sharing::resolve(namespaces, config, root_ns_id, log);
    if validate {
        if let Some(&r) = unreachable.first() {
            return Err(sharing::unreachable_error(namespaces, r));
        }
        validate::validate_mounts(namespaces, &sharing)?;
    } else {
        for &r in &unreachable {
            log.info("mnt", format_args!("{} (not validated: not dumping)", sharing::unreachable_error(namespaces, r)));
        }
    }
    Ok((sharing, unreachable))
}

/// CRIU's `collect_mnt_namespaces(for_dump)` over the namespaces
/// `table.walk(Mnt)` selects. `root_maps` are the maps of the tree
/// root's user namespace from the user collector, when it is not the
/// caller's. `config` is kept in the result.
pub fn collect_mnt_namespaces(
    proc: &ProcRoot,
    table: &NsTable,
    log: &Logger,
    for_dump: bool,
    config: &MountConfig,
    root_maps: Option<&IdMaps>,
) -> Result<MountNamespaces> {
    let rules = CollectRules {
        parse: ParseRules { ids: root_maps.cloned(), auto_fs: config.auto_fs.clone() },
        config,
        devpts_dev: config.own_devpts_dev.or_else(|| probe_devpts(log)),
        cgroup_ns: table.root_differs(NsKind::Cgroup),
        for_dump,
    };
    let walked = table.walk(NsKind::Mnt);
    let mut namespaces = Vec::with_capacity(walked.len());
    for ns in &walked {
        let path = proc.pid_path(ns.pid, "mountinfo");
        let live_pid = (*proc == ProcRoot::default()).then_some(ns.pid);
        let built = read_table(&path, live_pid, &rules.parse, config.reader, log)
            .and_then(|(mounts, reader)| {
                let mut built = build_from_records(ns, mounts, &rules, log).with_context(|| format!("{}", path.display()))?;
                built.reader = reader;
                Ok(built)
            })
            .with_context(|| format!("mount namespace {} (pid {})", ns.id, ns.pid))?;
        log.info("mnt", format_args!("mount namespace {} (pid {}): {} mounts (read with {})", ns.id, ns.pid, built.len(), built.reader.name()));
        namespaces.push(built);
    }
    let need_to_validate = for_dump && walked.iter().any(|ns| ns.ns_type != NsType::Own);
    let root_ns_id = table.root_ns(NsKind::Mnt).map(|r| r.id);
    let (sharing, unreachable) = resolve(&mut namespaces, config, root_ns_id, need_to_validate, log)?;
    Ok(MountNamespaces { config: config.clone(), namespaces, sharing, validated: need_to_validate, unreachable })
}

#[cfg(test)]
mod tests;
