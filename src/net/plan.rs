//! The socket-collection plan as one typed list: every source of
//! sockets, in the order its sockets are listed (CRIU's request order),
//! with its cost and the condition under which it is used. The schedule
//! of the dump workers and the output order both derive from [`PLAN`]:
//! a source added here is sent, listed and reported; one not here is
//! not.

use super::diag::{DiagRequest, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE};
use super::procnet::ProcTable;
use super::record::{AF_INET, AF_INET6};

/// Where one batch of sockets comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// A sock_diag dump request.
    Diag(DiagRequest),
    /// A /proc/net table, read from inside the namespace.
    Proc(ProcTable),
}

impl Source {
    /// The name collection reports it by ("unix", "tcp4", "proc-icmp6", ...).
    pub fn name(self) -> &'static str {
        match self {
            Source::Diag(req) => req.name(),
            Source::Proc(ProcTable::Raw) => "proc-raw",
            Source::Proc(ProcTable::Raw6) => "proc-raw6",
            Source::Proc(ProcTable::Icmp) => "proc-icmp",
            Source::Proc(ProcTable::Icmp6) => "proc-icmp6",
        }
    }
}

/// What a source costs, which decides who sends it and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cost {
    /// Read with the namespace's preparation (a /proc file): no socket.
    Prepared,
    Small,
    /// UDP: one hash table walk per family.
    Medium,
    /// TCP: the v6 dump walks the same hash table as the v4 one.
    Large,
    /// The largest dump, and one request the kernel serves serially
    /// (unix): received on the first socket alone while its datagrams
    /// are parsed on the second worker as they arrive.
    Pipelined,
}

/// When a source's sockets are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// Only when the kernel has no diag module for this request (raw
    /// sockets come from /proc/net/raw{,6} without raw_diag).
    Unsupported(DiagRequest),
}

/// One entry of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub source: Source,
    pub cost: Cost,
    pub when: When,
}

const fn diag(req: DiagRequest, cost: Cost) -> Step {
    Step { source: Source::Diag(req), cost, when: When::Always }
}

const fn proc(table: ProcTable, when: When) -> Step {
    Step { source: Source::Proc(table), cost: Cost::Prepared, when }
}

const fn inet(family: u8, proto: u8, cost: Cost) -> Step {
    diag(DiagRequest::Inet { family, proto }, cost)
}

const RAW4: DiagRequest = DiagRequest::Raw { family: AF_INET };
const RAW6: DiagRequest = DiagRequest::Raw { family: AF_INET6 };

/// Every source, in output order: CRIU's (unix, inet, then packet and
/// netlink), raw after the inet ones as newer CRIU adds it, and the
/// /proc tables where the raw and ping sockets they hold belong.
pub const PLAN: [Step; 15] = [
    diag(DiagRequest::Unix, Cost::Pipelined),
    inet(AF_INET, IPPROTO_TCP, Cost::Large),
    inet(AF_INET, IPPROTO_UDP, Cost::Medium),
    inet(AF_INET, IPPROTO_UDPLITE, Cost::Small),
    inet(AF_INET6, IPPROTO_TCP, Cost::Large),
    inet(AF_INET6, IPPROTO_UDP, Cost::Medium),
    inet(AF_INET6, IPPROTO_UDPLITE, Cost::Small),
    diag(RAW4, Cost::Small),
    diag(RAW6, Cost::Small),
    proc(ProcTable::Raw, When::Unsupported(RAW4)),
    proc(ProcTable::Raw6, When::Unsupported(RAW6)),
    // No kernel has a diag module for ping sockets.
    proc(ProcTable::Icmp, When::Always),
    proc(ProcTable::Icmp6, When::Always),
    diag(DiagRequest::Packet, Cost::Small),
    diag(DiagRequest::Netlink, Cost::Small),
];

/// The plan position of the pipelined dump (there is exactly one).
pub fn pipelined() -> usize {
    PLAN.iter().position(|s| s.cost == Cost::Pipelined).expect("the plan has a pipelined dump")
}

/// The other diag dumps in the order the workers take them: costliest
/// first, plan order among equals. Plan positions.
pub fn schedule() -> Vec<usize> {
    let mut order: Vec<usize> =
        (0..PLAN.len()).filter(|&i| matches!(PLAN[i].source, Source::Diag(_)) && PLAN[i].cost != Cost::Pipelined).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(PLAN[i].cost));
    order
}

/// The /proc tables the preparation reads. Plan positions.
pub fn prepared() -> Vec<usize> {
    (0..PLAN.len()).filter(|&i| PLAN[i].cost == Cost::Prepared).collect()
}

/// The plan position of a source.
pub fn position(source: Source) -> Option<usize> {
    PLAN.iter().position(|s| s.source == source)
}

/// The output order as the C header's documentation of criurs_sk_get
/// states it (checked against [`PLAN`] by a test).
pub const ORDER_DOC: &str = "unix, tcp4, udp4, udplite4, tcp6, udp6, udplite6, raw4, raw6, proc-raw, proc-raw6, proc-icmp, proc-icmp6, packet, netlink";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_and_order_derive_from_the_plan() {
        let names = |v: Vec<usize>| v.into_iter().map(|i| PLAN[i].source.name()).collect::<Vec<_>>();
        assert_eq!(PLAN[pipelined()].source, Source::Diag(DiagRequest::Unix));
        assert_eq!(PLAN.iter().filter(|s| s.cost == Cost::Pipelined).count(), 1);
        // The order CRIU 1.0 of criurs handed the requests out in.
        assert_eq!(names(schedule()), vec!["tcp4", "tcp6", "udp4", "udp6", "udplite4", "udplite6", "raw4", "raw6", "packet", "netlink"]);
        assert_eq!(names(prepared()), vec!["proc-raw", "proc-raw6", "proc-icmp", "proc-icmp6"]);
        let all: Vec<&str> = PLAN.iter().map(|s| s.source.name()).collect();
        assert_eq!(all.join(", "), ORDER_DOC);
        // Every diag request and /proc table is in the plan once, and
        // every one of them is either sent or read.
        for (i, s) in PLAN.iter().enumerate() {
            assert_eq!(position(s.source), Some(i), "{} twice", s.source.name());
            assert!(i == pipelined() || schedule().contains(&i) || prepared().contains(&i));
            if let When::Unsupported(req) = s.when {
                assert!(position(Source::Diag(req)).is_some_and(|d| d < i), "a fallback follows its request");
            }
        }
        for t in ProcTable::ALL {
            assert!(position(Source::Proc(t)).is_some());
        }
        // The header documents the same order.
        let ffi = include_str!("../ffi/net.rs").replace("///", " ").split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(ffi.contains(ORDER_DOC), "src/ffi/net.rs states the plan's order");
    }
}
