//! Network namespaces and their sockets: CRIU's `collect_net_namespaces`
//! → `prep_ns_sockets` → `collect_sockets`, one sock_diag dump request per
//! family, without moving the caller.
//!
//! The diag sockets (and the SOCK_SEQPACKET unix socket CRIU keeps for
//! later) are made inside the target namespace by a short-lived thread
//! (in the caller's own namespace, by the calling thread) and stay bound
//! to it. The families are then dumped concurrently on
//! two sockets from the caller's namespace, two worker threads taking
//! the next request as they get free (big ones first), as the typed
//! plan in [`plan`] orders them.

pub mod diag;
mod pipe;
pub mod plan;
pub mod procnet;
pub mod record;
pub mod table;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
pub(crate) mod tests;

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Error, Result};
use crate::log::Logger;
use crate::netlink::{process_datagram, NlSocket, Protocol, UnknownAttrs};
use crate::ns::enter::{open_ns, run_in_namespace, visit_in_turn};
use crate::ns::{NsEntry, NsKind, NsTable, NsType};
use crate::pstree::ProcRoot;
use plan::{Source, When};

pub use diag::DiagRequest;
pub use procnet::ProcTable;
pub use record::*;
pub use table::{FamilyState, FamilyStatus, SocketTable, TableBuilder};

/// One network namespace of the tree, prepared for collection.
#[derive(Debug)]
pub struct NetNs {
    /// The namespace's small id in the namespace table.
    pub id: u32,
    /// Its kernel id (inode of /proc/PID/ns/net).
    pub kid: u64,
    pub ns_type: NsType,
    /// Keeps the namespace reachable even if its tasks exit.
    ns_fd: OwnedFd,
    /// CRIU's `ns->net.seqsk`: a SOCK_SEQPACKET unix socket made inside the
    /// namespace, kept for the dump stages that need one there.
    seq_socket: OwnedFd,
    sockets: Option<SocketTable>,
}

impl NetNs {
    pub fn sockets(&self) -> Option<&SocketTable> {
        self.sockets.as_ref()
    }

    /// The namespace itself (an fd of /proc/PID/ns/net), for work inside it.
    pub fn ns_fd(&self) -> &OwnedFd {
        &self.ns_fd
    }

    pub fn seq_socket(&self) -> std::os::fd::BorrowedFd<'_> {
        self.seq_socket.as_fd()
    }
}

/// What the sockets are collected for, which decides what a missing
/// diag module (ENOENT) means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Purpose {
    /// CRIU's `collect_sockets` for a dump: in a namespace being dumped a
    /// missing module fails the collection, raw_diag excepted (raw
    /// sockets then come from /proc/net/raw{,6}).
    #[default]
    Dump,
    /// A look at the sockets (`criurs show`, as `ss`): a missing module
    /// is a warning and its family is left out.
    Show,
}

/// What `collect_net_namespaces` leaves in the context.
#[derive(Debug, Default)]
pub struct NetNamespaces {
    list: Vec<NetNs>,
}

/// A collected network namespace seen by the rooms that read its
/// sockets (socket images, the check): its table id, kernel id and table.
#[derive(Debug, Clone, Copy)]
pub struct NetView<'a> {
    pub ns_id: u32,
    pub kid: u64,
    pub table: &'a SocketTable,
}

impl NetNamespaces {
    /// The namespaces whose sockets were collected, in walk order.
    pub fn views(&self) -> Vec<NetView<'_>> {
        self.list.iter().filter_map(|n| n.sockets().map(|table| NetView { ns_id: n.id, kid: n.kid, table })).collect()
    }

    pub fn get(&self, ns_id: u32) -> Option<&NetNs> {
        self.list.iter().find(|n| n.id == ns_id)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, NetNs> {
        self.list.iter()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Prepares `ns` if it is not yet, then collects its sockets (CRIU's
    /// `collect_sockets(ns)`) for `purpose`. On failure the namespace
    /// keeps no table.
    pub fn collect_sockets(&mut self, proc: &ProcRoot, ns: &NsEntry, purpose: Purpose, log: &Logger) -> Result<&SocketTable> {
        let at = match self.list.iter().position(|n| n.id == ns.id) {
            Some(at) => at,
            None => {
                self.list.push(prep_ns_sockets(proc, ns)?);
                self.list.len() - 1
            }
        };
        let net = &mut self.list[at];
        net.sockets = None;
        let table = collect_sockets(net, purpose, log)?;
        Ok(net.sockets.insert(table))
    }
}

/// CRIU's `collect_net_namespaces(for_dump)`: every network namespace the
/// walk selects is prepared; with `for_dump` its sockets are collected.
/// One helper thread enters the namespaces in turn and makes what has
/// to be made inside each (CRIU's seqpacket socket, the diag sockets,
/// the /proc/net tables) while this thread collects the one before.
pub fn collect_net_namespaces(proc: &ProcRoot, table: &NsTable, log: &Logger, for_dump: bool) -> Result<NetNamespaces> {
    let walked = table.walk(NsKind::Net);
    let what = |ns: &NsEntry| format!("net namespace {} (pid {})", ns.id, ns.pid);
    let mut fds = Vec::with_capacity(walked.len());
    for ns in &walked {
        fds.push(open_ns(proc, ns.pid, NsKind::Net).map_err(|e| e.context(what(ns)))?);
    }
    let mut out = NetNamespaces::default();
    // Requests whose diag module answered in an earlier namespace: in a
    // namespace whose sockstat counts none of their sockets they are not
    // sent (a TCP dump walks the host's whole connection hash, whatever
    // the namespace holds). Never the first time: a missing module must
    // still be reported.
    let mut answered: Vec<DiagRequest> = Vec::new();
    {
        // The caller's own namespace is worked on here, without setns.
        let visit: Vec<Option<&OwnedFd>> =
            walked.iter().zip(&fds).map(|(ns, fd)| Some(fd).filter(|_| ns.ns_type != NsType::Own)).collect();
        let inside = |_: usize| make_inside(for_dump);
        visit_in_turn(&visit, NsKind::Net, inside, |i, made| {
            let ns = walked[i];
            let Inside { seq_socket, diag } = made.map_err(|e| e.context(what(ns)))?;
            let ns_fd = fds[i].try_clone().map_err(|e| Error::io(&e, format!("{}: dup its namespace fd", what(ns))))?;
            let mut net = NetNs { id: ns.id, kid: ns.kid, ns_type: ns.ns_type, ns_fd, seq_socket, sockets: None };
            if let Some(diag) = diag {
                let prepared = finish_prepare(&net, diag);
                let table = collect_prepared(&net, prepared, &answered, Purpose::Dump, log)?;
                for f in table.families() {
                    if let (Source::Diag(req), FamilyState::Collected(_)) = (f.source, &f.state) {
                        if !answered.contains(&req) {
                            answered.push(req);
                        }
                    }
                }
                net.sockets = Some(table);
            }
            out.list.push(net);
            Ok(())
        })?;
    }
    Ok(out)
}

/// What is made inside a namespace: CRIU's seqpacket socket and, to
/// collect its sockets, the two diag sockets and the /proc/net tables.
struct Inside {
    seq_socket: OwnedFd,
    diag: Option<Diag>,
}

fn make_inside(with_diag: bool) -> Result<Inside> {
    let seq_socket = seqpacket_socket()?;
    let diag = if with_diag { Some(make_diag()?) } else { None };
    Ok(Inside { seq_socket, diag })
}

/// CRIU's `prep_ns_sockets`: opens the namespace and makes the
/// SOCK_SEQPACKET socket inside it.
pub fn prep_ns_sockets(proc: &ProcRoot, ns: &NsEntry) -> Result<NetNs> {
    let what = || format!("net namespace {} (pid {})", ns.id, ns.pid);
    let ns_fd = open_ns(proc, ns.pid, NsKind::Net).map_err(|e| e.context(what()))?;
    // The caller's own namespace needs no helper thread (as CRIU, which
    // switches only into other namespaces).
    let seq_socket = if ns.ns_type == NsType::Own {
        seqpacket_socket()
    } else {
        run_in_namespace(&ns_fd, NsKind::Net, seqpacket_socket)
    }
    .map_err(|e| e.context(what()))?;
    Ok(NetNs { id: ns.id, kid: ns.kid, ns_type: ns.ns_type, ns_fd, seq_socket, sockets: None })
}

fn seqpacket_socket() -> Result<OwnedFd> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC, None)
        .map_err(|e| Error::sys(e, "create a SOCK_SEQPACKET unix socket"))
}

/// One source's outcome: its sockets and the attributes left unread.
struct Batch {
    result: Result<Vec<Socket>>,
    unknown: UnknownAttrs,
}

/// Step 1, inside the namespace: the two diag sockets (bound to it for
/// good), the /proc/net tables of the plan (read now: /proc/thread-self
/// shows the namespace of the thread that entered it), and the inodes
/// of the sockets criurs itself keeps there.
struct Prepared {
    sockets: [NlSocket; 2],
    tables: Vec<(usize, Batch)>,
    ours: Vec<u32>,
    empty: Vec<DiagRequest>,
    /// The namespace's socket count, to reserve the table for.
    in_use: usize,
}

/// Inside the namespace: the two diag sockets and the /proc/net tables
/// of the plan (read now: /proc/thread-self shows the namespace of the
/// thread that entered it).
fn make_diag() -> Result<Diag> {
    let sockets = [NlSocket::new(Protocol::SOCK_DIAG)?, NlSocket::new(Protocol::SOCK_DIAG)?];
    let sockstat = |name: &str| std::fs::read(format!("/proc/thread-self/net/{name}")).unwrap_or_default();
    let (v4, v6) = (sockstat("sockstat"), sockstat("sockstat6"));
    let in_use = procnet::sockets_used(&v4).map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let empty = procnet::sockstat_in_use(&v4, &v6)
        .into_iter()
        .filter(|&(_, n)| n == 0)
        .map(|((family, proto), _)| if proto == diag::IPPROTO_RAW { DiagRequest::Raw { family } } else { DiagRequest::Inet { family, proto } })
        .collect();
    let tables = plan::prepared()
        .into_iter()
        .filter_map(|i| match plan::PLAN[i].source {
            Source::Proc(t) => Some((i, Batch { result: read_proc_table(t), unknown: UnknownAttrs::default() })),
            Source::Diag(_) => None,
        })
        .collect::<Vec<_>>();
    Ok(Diag { sockets, tables, empty, in_use })
}

/// What `make_diag` makes inside a namespace.
struct Diag {
    sockets: [NlSocket; 2],
    tables: Vec<(usize, Batch)>,
    /// Requests the namespace's sockstat says have no socket to show.
    empty: Vec<DiagRequest>,
    /// Its count of every socket ("sockets: used"), 0 if unknown.
    in_use: usize,
}

fn prepare(net: &NetNs) -> Result<Prepared> {
    // The caller's own namespace needs no helper thread (nor the
    // CAP_SYS_ADMIN that setns asks for), as in prep_ns_sockets.
    let diag = if net.ns_type == NsType::Own { make_diag() } else { run_in_namespace(&net.ns_fd, NsKind::Net, make_diag) }?;
    Ok(finish_prepare(net, diag))
}

fn finish_prepare(net: &NetNs, Diag { sockets, tables, empty, in_use }: Diag) -> Prepared {
    // Our own sockets in the namespace (CRIU's seqpacket socket and the
    // two diag sockets) are tools of the collection, not the tree's.
    let ours = [net.seq_socket(), sockets[0].as_fd(), sockets[1].as_fd()]
        .into_iter()
        .filter_map(|fd| nix::sys::stat::fstat(fd).ok().map(|st| st.st_ino as u32))
        .collect();
    Prepared { sockets, tables, ours, empty, in_use }
}

fn dump_family(sock: &mut NlSocket, req: DiagRequest) -> Batch {
    let mut out = Vec::new();
    let mut unknown = UnknownAttrs::default();
    let result = sock.dump(&req.request(), &mut |payload| {
        out.push(req.parse(payload, &mut unknown)?);
        Ok(())
    });
    Batch { result: result.map(|()| out), unknown }
}

fn read_proc_table(table: ProcTable) -> Result<Vec<Socket>> {
    let path = format!("/proc/thread-self/net/{}", table.file());
    match std::fs::read(&path) {
        Ok(text) => procnet::parse_table(table, &text, &path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::new(libc::ENOENT, format!("{path} does not exist"))),
        Err(e) => Err(Error::io(&e, format!("read {path}"))),
    }
}

/// What the dumps gave: the pipelined dump already in a table (or its
/// error), every other source's batch by plan position.
struct Outcomes {
    pipelined: Result<TableBuilder>,
    pipelined_unknown: UnknownAttrs,
    batches: Vec<Option<Batch>>,
}

/// Step 2: every diag dump of the plan on two sockets at once, two
/// threads for two cores. The pipelined dump (unix: the largest, and
/// one request that cannot be split) is received on the first socket
/// while the second takes the others in `plan::schedule()` order; then
/// the second thread parses and indexes the pipelined datagrams, into a
/// table that leaves out `ours`, while they still arrive.
fn run(sockets: &mut [NlSocket; 2], ours: Vec<u32>, skip: &[DiagRequest], in_use: usize) -> Result<Outcomes> {
    let schedule = plan::schedule();
    let next = AtomicUsize::new(0);
    let work = |sock: &mut NlSocket, done: &mut Vec<(usize, Batch)>| loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        let Some(&i) = schedule.get(k) else { break };
        if let Source::Diag(req) = plan::PLAN[i].source {
            if skip.contains(&req) {
                done.push((i, Batch { result: Ok(Vec::new()), unknown: UnknownAttrs::default() }));
            } else {
                done.push((i, dump_family(sock, req)));
            }
        }
    };
    let [first, second] = sockets;
    let Source::Diag(big) = plan::PLAN[plan::pipelined()].source else {
        return Err(Error::new(libc::EFAULT, "the pipelined step of the socket plan is not a diag dump"));
    };
    let port = first.port();
    let mut table = TableBuilder::with_capacity(ours, in_use);
    let mut unknown = UnknownAttrs::default();
    let pipe = pipe::Pipe::default();
    let (pipelined, done) = std::thread::scope(|scope| {
        let receiver = std::thread::Builder::new()
            .name("criurs-sockdiag".into())
            .spawn_scoped(scope, || {
                // A parser that stopped on an error abandons the pipe; the
                // dump is still drained so the socket can take the next request.
                let received = first.dump_datagram_buffers(&big.request(), &mut |seq, d| pipe.send(seq, d));
                pipe.close();
                let mut done = Vec::new();
                work(first, &mut done);
                (received, done)
            })
            .map_err(|e| Error::io(&e, "start a sock_diag worker thread"))?;
        let mut done = Vec::new();
        work(second, &mut done);
        let parsed = parse_datagrams(&pipe, port, big, &mut table, &mut unknown);
        if parsed.is_err() {
            pipe.abandon();
        }
        let (received, theirs) = receiver.join().map_err(|_| Error::new(libc::EFAULT, "sock_diag worker thread panicked"))?;
        done.extend(theirs);
        Ok::<_, Error>((received.and(parsed), done))
    })?;
    let mut batches: Vec<Option<Batch>> = (0..plan::PLAN.len()).map(|_| None).collect();
    for (i, batch) in done {
        batches[i] = Some(batch);
    }
    Ok(Outcomes { pipelined: pipelined.map(|()| table), pipelined_unknown: unknown, batches })
}

/// Parses the datagrams of one dump as the receiving thread hands them
/// over, up to its end, into `table`, giving each buffer back.
fn parse_datagrams(pipe: &pipe::Pipe, port: u32, req: DiagRequest, table: &mut TableBuilder, unknown: &mut UnknownAttrs) -> Result<()> {
    let kind = req.kind();
    let mut batch = std::collections::VecDeque::new();
    while pipe.take(&mut batch) {
        while let Some((seq, datagram)) = batch.pop_front() {
            let done = process_datagram(&kind, &datagram, seq, port, &mut |payload| {
                table.push_deferred(req.parse(payload, unknown)?);
                Ok(())
            })?;
            pipe.give_back(datagram);
            if done {
                table.flush();
                return Ok(());
            }
        }
    }
    Err(Error::new(libc::EPROTO, format!("the {} dump ended without NLMSG_DONE", req.name())))
}

/// One source as it goes into the table: how many it added, or why not.
struct Merged {
    source: Source,
    added: Result<usize>,
    unknown: UnknownAttrs,
}

/// Step 3: the batches into one table, in plan order; a source whose
/// condition does not hold (a /proc raw table while raw_diag answered)
/// is left out.
fn merge(outcomes: Outcomes, tables: Vec<(usize, Batch)>, ours: Vec<u32>) -> (TableBuilder, Vec<Merged>) {
    let Outcomes { pipelined, pipelined_unknown, mut batches } = outcomes;
    for (i, batch) in tables {
        batches[i] = Some(batch);
    }
    let unsupported = |req: DiagRequest, batches: &[Option<Batch>]| {
        plan::position(Source::Diag(req))
            .and_then(|i| batches[i].as_ref())
            .is_some_and(|b| matches!(&b.result, Err(e) if e.errno() == libc::ENOENT))
    };
    let wanted: Vec<bool> = plan::PLAN
        .iter()
        .map(|step| match step.when {
            When::Always => true,
            When::Unsupported(req) => unsupported(req, &batches),
        })
        .collect();
    let first = plan::pipelined();
    let (mut table, first_added) = match pipelined {
        Ok(t) => {
            let n = t.len();
            (t, Ok(n))
        }
        Err(e) => (TableBuilder::excluding(ours), Err(e)),
    };
    let mut merged = Vec::with_capacity(plan::PLAN.len());
    for (i, step) in plan::PLAN.iter().enumerate() {
        if i == first {
            merged.push(Merged { source: step.source, added: first_added.clone(), unknown: pipelined_unknown });
            continue;
        }
        let Some(batch) = batches[i].take() else { continue };
        if !wanted[i] {
            continue;
        }
        let added = batch.result.map(|sockets| table.extend(sockets));
        merged.push(Merged { source: step.source, added, unknown: batch.unknown });
    }
    (table, merged)
}

/// Step 4, CRIU's rules (`collect_err`, `collect_sockets`) for what a
/// source gave. A missing diag module (ENOENT) of raw_diag is a warning
/// (the /proc tables stand in); of another family it is a failure like
/// any other. A failure stops the collection of a namespace being
/// dumped; in the caller's own namespace, which CRIU does not dump, it is
/// logged and the sockets that need it fail later. For [`Purpose::Show`]
/// every missing module is a warning; so is a missing /proc table.
fn policy(ns_type: NsType, purpose: Purpose, merged: Vec<Merged>, what: &str, log: &Logger) -> Result<Vec<FamilyStatus>> {
    let mut families = Vec::with_capacity(merged.len());
    for Merged { source, added, unknown } in merged {
        let name = source.name();
        if !unknown.is_empty() {
            log.debug("sockets", format_args!("{what}: {name}: {unknown}"));
        }
        // CRIU reads no /proc table: one missing (no IPv6) is ours to forgive.
        let optional = purpose == Purpose::Show || matches!(source, Source::Diag(DiagRequest::Raw { .. }) | Source::Proc(_));
        let state = match added {
            Ok(n) => FamilyState::Collected(n),
            Err(e) if e.errno() == libc::ENOENT && optional => {
                log.warn("sockets", format_args!("{what}: the kernel does not support {name} sockets diag: {e}"));
                FamilyState::Unsupported
            }
            Err(e) => {
                let e = if e.errno() == libc::ENOENT {
                    e.context(format!("{what}: collect {name} sockets: the kernel has no sock_diag module for them"))
                } else {
                    e.context(format!("{what}: collect {name} sockets"))
                };
                if ns_type != NsType::Own {
                    return Err(e);
                }
                log.error("sockets", format_args!("{e}; uncollected sockets will probably fail later"));
                FamilyState::Failed(e)
            }
        };
        families.push(FamilyStatus { name, source, state, unknown });
    }
    Ok(families)
}

/// CRIU's `collect_sockets(ns)`: prepare, run, merge, policy.
pub fn collect_sockets(net: &NetNs, purpose: Purpose, log: &Logger) -> Result<SocketTable> {
    let prepared = prepare(net).map_err(|e| e.context(format!("net namespace {}", net.id)))?;
    collect_prepared(net, prepared, &[], purpose, log)
}

/// `collect_sockets` once the namespace is prepared. Requests in both
/// `answered` and the namespace's empty list are taken as the empty
/// dumps they would be.
fn collect_prepared(net: &NetNs, prepared: Prepared, answered: &[DiagRequest], purpose: Purpose, log: &Logger) -> Result<SocketTable> {
    let what = format!("net namespace {}", net.id);
    let Prepared { mut sockets, tables, ours, empty, in_use } = prepared;
    let skip: Vec<DiagRequest> = empty.into_iter().filter(|r| answered.contains(r)).collect();
    if !skip.is_empty() {
        let names: Vec<&str> = skip.iter().map(|r| r.name()).collect();
        log.debug("sockets", format_args!("{what}: sockstat counts no {} socket: not dumped", names.join(", ")));
    }
    let outcomes = run(&mut sockets, ours.clone(), &skip, in_use)?;
    let (table, merged) = merge(outcomes, tables, ours);
    let families = policy(net.ns_type, purpose, merged, &what, log)?;
    let table = table.finish(families);
    if table.duplicates() > 0 {
        log.debug("sockets", format_args!("{what}: {} sockets reported twice, listed once", table.duplicates()));
    }
    log.info("sockets", format_args!("{what}: collected {} sockets", table.len()));
    Ok(table)
}

#[cfg(test)]
mod policy_tests {
    use super::*;
    use crate::log::{Level, Sink};
    use std::sync::{Arc, Mutex};

    fn merged(source: Source, errno: Option<i32>) -> Merged {
        let added = match errno {
            None => Ok(1),
            Some(e) => Err(Error::new(e, "the kernel said no")),
        };
        Merged { source, added, unknown: UnknownAttrs::default() }
    }

    fn tcp6() -> Source {
        Source::Diag(DiagRequest::Inet { family: AF_INET6, proto: diag::IPPROTO_TCP })
    }

    fn run(ns_type: NsType, purpose: Purpose, batch: Vec<Merged>) -> (Result<Vec<FamilyStatus>>, Vec<(Level, String)>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = lines.clone();
        let sink: Sink = Arc::new(move |l, t: &str| seen.lock().unwrap().push((l, t.to_string())));
        let log = Logger::new(Level::Debug, Some(sink));
        let r = policy(ns_type, purpose, batch, "net namespace 7", &log);
        let lines = lines.lock().unwrap().clone();
        (r, lines)
    }

    #[test]
    fn a_missing_diag_module_fails_a_dump_of_the_namespace_as_in_criu() {
        // tcp6 without its module, in a namespace being dumped: the collection fails.
        let (r, _) = run(NsType::Other, Purpose::Dump, vec![merged(Source::Diag(DiagRequest::Unix), None), merged(tcp6(), Some(libc::ENOENT))]);
        let e = r.unwrap_err();
        assert_eq!(e.errno(), libc::ENOENT);
        assert!(e.to_string().contains("net namespace 7: collect tcp6 sockets: the kernel has no sock_diag module"), "{e}");
        for source in [Source::Diag(DiagRequest::Packet), Source::Diag(DiagRequest::Netlink), Source::Diag(DiagRequest::Unix)] {
            assert!(run(NsType::Root, Purpose::Dump, vec![merged(source, Some(libc::ENOENT))]).0.is_err(), "{}", source.name());
        }
        // raw_diag is optional in CRIU (its /proc fallback here), and so are our /proc tables.
        let raw = Source::Diag(DiagRequest::Raw { family: AF_INET });
        let icmp6 = Source::Proc(ProcTable::Icmp6);
        let (r, lines) = run(NsType::Other, Purpose::Dump, vec![merged(raw, Some(libc::ENOENT)), merged(icmp6, Some(libc::ENOENT))]);
        let states: Vec<FamilyState> = r.unwrap().into_iter().map(|f| f.state).collect();
        assert_eq!(states, vec![FamilyState::Unsupported, FamilyState::Unsupported]);
        assert!(lines.iter().all(|(l, _)| *l == Level::Warn), "{lines:?}");
        // The caller's own namespace, which CRIU does not dump: logged, kept as failed.
        let (r, lines) = run(NsType::Own, Purpose::Dump, vec![merged(tcp6(), Some(libc::ENOENT))]);
        assert!(matches!(r.unwrap()[0].state, FamilyState::Failed(ref e) if e.errno() == libc::ENOENT));
        assert!(lines.iter().any(|(l, t)| *l == Level::Error && t.contains("will probably fail later")), "{lines:?}");
    }

    #[test]
    fn showing_sockets_takes_a_missing_module_for_a_warning() {
        let (r, lines) = run(NsType::Other, Purpose::Show, vec![merged(tcp6(), Some(libc::ENOENT)), merged(Source::Diag(DiagRequest::Unix), None)]);
        let fams = r.unwrap();
        assert_eq!((fams[0].state.clone(), fams[1].state.clone()), (FamilyState::Unsupported, FamilyState::Collected(1)));
        assert!(lines.iter().any(|(l, t)| *l == Level::Warn && t.contains("tcp6")), "{lines:?}");
        // Another failure still fails, as it does for a dump.
        assert_eq!(run(NsType::Other, Purpose::Show, vec![merged(tcp6(), Some(libc::EPERM))]).0.unwrap_err().errno(), libc::EPERM);
    }
}
