//! Network namespaces and their sockets: CRIU's `collect_net_namespaces`
//! → `prep_ns_sockets` → `collect_sockets`, one sock_diag dump request per
//! family, without moving the caller.
//!
//! The diag sockets (and the SOCK_SEQPACKET unix socket CRIU keeps for
//! later) are made inside the target namespace by a short-lived thread
//! and stay bound to it. The families are then dumped concurrently on
//! two sockets from the caller's namespace, two worker threads taking
//! the next request as they get free (big ones first).

pub mod diag;
pub mod procnet;
pub mod record;
pub mod table;

#[cfg(test)]
pub(crate) mod tests;

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Error, Result};
use crate::log::Logger;
use crate::netlink::{process_datagram, NlSocket, Protocol, UnknownAttrs};
use crate::ns::enter::{open_ns, run_in_namespace};
use crate::ns::{NsEntry, NsKind, NsTable, NsType};
use crate::pstree::ProcRoot;

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
        use std::os::fd::AsFd;
        self.seq_socket.as_fd()
    }
}

/// What `collect_net_namespaces` leaves in the context.
#[derive(Debug, Default)]
pub struct NetNamespaces {
    list: Vec<NetNs>,
}

impl NetNamespaces {
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
    /// `collect_sockets(ns)`). On failure the namespace keeps no table.
    pub fn collect_sockets(&mut self, proc: &ProcRoot, ns: &NsEntry, log: &Logger) -> Result<&SocketTable> {
        let at = match self.list.iter().position(|n| n.id == ns.id) {
            Some(at) => at,
            None => {
                self.list.push(prep_ns_sockets(proc, ns)?);
                self.list.len() - 1
            }
        };
        let net = &mut self.list[at];
        net.sockets = None;
        let table = collect_sockets(net, log)?;
        Ok(net.sockets.insert(table))
    }
}

/// CRIU's `collect_net_namespaces(for_dump)`: every network namespace the
/// walk selects is prepared; with `for_dump` its sockets are collected.
pub fn collect_net_namespaces(proc: &ProcRoot, table: &NsTable, log: &Logger, for_dump: bool) -> Result<NetNamespaces> {
    let mut out = NetNamespaces::default();
    for ns in table.walk(NsKind::Net) {
        let mut net = prep_ns_sockets(proc, ns)?;
        if for_dump {
            net.sockets = Some(collect_sockets(&net, log)?);
        }
        out.list.push(net);
    }
    Ok(out)
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
    // SAFETY: plain socket(2); the result is checked and owned at once.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(Error::io(&std::io::Error::last_os_error(), "create a SOCK_SEQPACKET unix socket"));
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// What the thread inside the namespace hands back: two diag sockets
/// bound to the namespace and the /proc/net tables read from inside it.
struct Prepared {
    first_socket: NlSocket,
    second_socket: NlSocket,
    proc_tables: Vec<(ProcTable, Result<Vec<Socket>>)>,
}

/// One request's outcome: sockets or an error.
type Batch = (&'static str, Result<Vec<Socket>>);

fn dump_family(sock: &mut NlSocket, req: DiagRequest) -> Result<Vec<Socket>> {
    let mut out = Vec::new();
    let mut unknown = UnknownAttrs::default();
    sock.dump(&req.request(), &mut |payload| {
        out.push(req.parse(payload, &mut unknown)?);
        Ok(())
    })?;
    Ok(out)
}

fn read_proc_table(table: ProcTable) -> Result<Vec<Socket>> {
    // /proc/thread-self/net shows the calling thread's namespace: this
    // runs on the thread that entered it.
    let path = format!("/proc/thread-self/net/{}", table.file());
    match std::fs::read(&path) {
        Ok(text) => procnet::parse_table(table, &text, &path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::new(libc::ENOENT, format!("{path} does not exist"))),
        Err(e) => Err(Error::io(&e, format!("read {path}"))),
    }
}

/// The order the requests after unix are handed out: the big ones first
/// (TCP, whose v6 dump walks the same hash table as v4).
const SCHEDULE: [usize; 10] = [1, 4, 2, 5, 3, 6, 7, 8, 9, 10];

/// Runs every request of `DiagRequest::ALL` on two sockets at once, two
/// threads for two cores. The unix dump (the largest, and one request
/// that cannot be split) is received on the first socket while the second
/// takes the other requests in `SCHEDULE` order; then the second thread
/// parses and indexes the unix datagrams, into `unix_table`, while they
/// still arrive. Returns the unix table and the other outcomes in
/// `DiagRequest::ALL` order.
fn dump_concurrently(sockets: [&mut NlSocket; 2], mut unix_table: TableBuilder) -> Result<(Result<TableBuilder>, Vec<Batch>)> {
    let next = AtomicUsize::new(0);
    let work = |sock: &mut NlSocket, done: &mut Vec<(usize, Batch)>| loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        let Some(&i) = SCHEDULE.get(k) else { break };
        let req = DiagRequest::ALL[i];
        done.push((i, (req.name(), dump_family(sock, req))));
    };
    let [first, second] = sockets;
    let unix = DiagRequest::ALL[0];
    let port = first.port();
    let (unix_result, mut all) = std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<(u32, Vec<u8>)>();
        let receiver = std::thread::Builder::new()
            .name("criurs-sockdiag".into())
            .spawn_scoped(scope, || {
                // A parser that stopped on an error drops its end; the dump
                // is still drained so the socket can take the next request.
                let received = first.dump_datagrams(&unix.request(), &mut |seq, d| {
                    let _ = tx.send((seq, d.to_vec()));
                });
                drop(tx);
                let mut done = Vec::new();
                work(first, &mut done);
                (received, done)
            })
            .map_err(|e| Error::io(&e, "start a sock_diag worker thread"))?;
        let mut all = Vec::new();
        work(second, &mut all);
        let parsed = parse_datagrams(rx, port, unix, &mut unix_table);
        let (received, theirs) =
            receiver.join().map_err(|_| Error::new(libc::EFAULT, "sock_diag worker thread panicked"))?;
        all.extend(theirs);
        Ok::<_, Error>((received.and(parsed).map(|_| unix_table), all))
    })?;
    all.sort_by_key(|(i, _)| *i);
    Ok((unix_result, all.into_iter().map(|(_, batch)| batch).collect()))
}

/// Parses the datagrams of one dump as the receiving thread hands them
/// over, up to NLMSG_DONE, into `table`.
fn parse_datagrams(
    datagrams: std::sync::mpsc::Receiver<(u32, Vec<u8>)>,
    port: u32,
    req: DiagRequest,
    table: &mut TableBuilder,
) -> Result<()> {
    for (seq, datagram) in datagrams {
        let mut unknown = UnknownAttrs::default();
        let done = process_datagram(&req.kind(), &datagram, seq, port, &mut |payload| {
            table.push(req.parse(payload, &mut unknown)?);
            Ok(())
        })?;
        if done {
            return Ok(());
        }
    }
    Err(Error::new(libc::EPROTO, format!("the {} dump ended without NLMSG_DONE", req.name())))
}

/// CRIU's `collect_sockets(ns)`.
pub fn collect_sockets(net: &NetNs, log: &Logger) -> Result<SocketTable> {
    let what = format!("net namespace {}", net.id);
    let prepared = run_in_namespace(&net.ns_fd, NsKind::Net, || {
        Ok(Prepared {
            first_socket: NlSocket::new(Protocol::SOCK_DIAG)?,
            second_socket: NlSocket::new(Protocol::SOCK_DIAG)?,
            proc_tables: ProcTable::ALL.iter().map(|&t| (t, read_proc_table(t))).collect(),
        })
    })
    .map_err(|e| e.context(&what))?;
    let Prepared { mut first_socket, mut second_socket, proc_tables } = prepared;

    // Our own sockets in the namespace (CRIU's seqpacket socket and the
    // two diag sockets) are tools of the collection, not the tree's.
    let ours: Vec<u32> = [net.seq_socket(), first_socket.as_fd(), second_socket.as_fd()]
        .into_iter()
        .filter_map(|fd| nix::sys::stat::fstat(fd).ok().map(|st| st.st_ino as u32))
        .collect();
    let (unix, mut others) =
        dump_concurrently([&mut first_socket, &mut second_socket], TableBuilder::excluding(ours.clone()))?;

    // Raw sockets come from /proc when the kernel has no raw_diag; ping
    // sockets always do.
    let raw_missing = |name: &str| others.iter().any(|(n, r)| *n == name && matches!(r, Err(e) if e.errno() == libc::ENOENT));
    let (raw4_missing, raw6_missing) = (raw_missing("raw4"), raw_missing("raw6"));
    let mut from_proc: Vec<Batch> = Vec::new();
    for (table, result) in proc_tables {
        let name = match table {
            ProcTable::Raw if raw4_missing => "proc-raw",
            ProcTable::Raw6 if raw6_missing => "proc-raw6",
            ProcTable::Icmp => "proc-icmp",
            ProcTable::Icmp6 => "proc-icmp6",
            _ => continue,
        };
        from_proc.push((name, result));
    }
    // Keep CRIU's order: unix, inet (and raw), then /proc tables, packet, netlink.
    let tail = others.split_off(others.len() - 2);
    let (mut table, unix) = match unix {
        Ok(table) => {
            let n = table.len();
            (table, Ok(n))
        }
        Err(e) => (TableBuilder::excluding(ours), Err(e)),
    };
    let mut outcomes = vec![("unix", unix)];
    for (name, result) in others.into_iter().chain(from_proc).chain(tail) {
        outcomes.push((name, result.map(|batch| table.extend(batch))));
    }
    let mut families = Vec::new();
    for (name, result) in outcomes {
        match result {
            Ok(added) => families.push(FamilyStatus { name, state: FamilyState::Collected(added) }),
            Err(e) if e.errno() == libc::ENOENT => {
                log.warn("sockets", format_args!("{what}: the kernel does not support {name} sockets diag: {e}"));
                families.push(FamilyStatus { name, state: FamilyState::Unsupported });
            }
            Err(e) => {
                let e = e.context(format!("{what}: collect {name} sockets"));
                if net.ns_type != NsType::Own {
                    return Err(e);
                }
                // As CRIU: the caller's own namespace is not dumped, so a
                // socket that needs the missing data fails later instead.
                log.error("sockets", format_args!("{e}; uncollected sockets will probably fail later"));
                families.push(FamilyStatus { name, state: FamilyState::Failed(e) });
            }
        }
    }
    let table = table.finish(families);
    if table.duplicates() > 0 {
        log.debug("sockets", format_args!("{what}: {} sockets reported twice, listed once", table.duplicates()));
    }
    log.info("sockets", format_args!("{what}: collected {} sockets", table.len()));
    Ok(table)
}
