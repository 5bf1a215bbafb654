//! Socket rules, per socket the tree holds, in the order its fds are met
//! (cr-dump.c:dump_one_task → files → dump_socket), then the unix sockets
//! whose peer nobody in the tree holds (sk-unix.c:fix_external_unix_sockets).
//! Which process holds the other end is found as `ss -p` finds it.

use std::collections::HashSet;

use super::{cat, Finding, Holder, NetView, Object, Options, Severity, State};
use crate::net::diag::DiagRequest;
use crate::net::plan::Source;
use crate::net::record::*;
use crate::net::{FamilyState, Socket};

const SOCK_STREAM: u8 = libc::SOCK_STREAM as u8;
const SOCK_DGRAM: u8 = libc::SOCK_DGRAM as u8;
const SOCK_RAW: u8 = libc::SOCK_RAW as u8;
const SOCK_SEQPACKET: u8 = libc::SOCK_SEQPACKET as u8;
const SHUTDOWN_BOTH: u8 = 3;

/// One socket of the tree: its first holder in tree order.
struct Held<'a> {
    pid: i32,
    fd: i32,
    ino: u32,
    holder: Holder,
    net: Option<NetView<'a>>,
}

pub(super) fn check(state: &State<'_>, options: &Options, out: &mut Vec<Finding>) {
    let mut seen = HashSet::new();
    let mut held = Vec::new();
    for f in state.files {
        let Some(ino) = f.socket() else { continue };
        let Ok(ino) = u32::try_from(ino) else { continue };
        if !seen.insert(ino) {
            continue;
        }
        let holder = state.holders.get(ino as u64).iter().find(|h| h.pid == f.pid && h.fd == f.fd).cloned();
        let holder = holder.unwrap_or_else(|| Holder { pid: f.pid, fd: f.fd, comm: Box::default() });
        let net = state.socket(ino).map(|(n, _)| n);
        held.push(Held { pid: f.pid, fd: f.fd, ino, holder, net });
    }
    let in_tree: &HashSet<u32> = &seen;
    let mut external = Vec::new();
    for h in &held {
        match state.socket(h.ino) {
            Some((_, sk)) => match &sk.detail {
                Detail::Unix(u) => unix(state, options, h, sk, u, in_tree, out, &mut external),
                Detail::Inet(i) => inet(state, options, h, sk, i, out),
                Detail::Netlink(_) => netlink(state, h, out),
                Detail::Packet(_) => {}
            },
            None => not_collected(state, h, out),
        }
    }
    out.extend(external);
    missing_diag_warnings(state, out);
}

fn socket_object(h: &Held<'_>, peer_ino: u32, peer: Vec<Holder>) -> Object {
    Object::Socket { ns_id: h.net.map_or(0, |n| n.ns_id), ino: h.ino, holder: Some(h.holder.clone()), peer_ino, peer }
}

fn blocks(code: &'static str, h: &Held<'_>, msg: Vec<u8>, source: &'static str, fix: Vec<u8>) -> Finding {
    Finding { code, severity: Severity::Blocks, object: socket_object(h, 0, Vec::new()), criu_message: msg, criu_source: source, option: None, fix }
}

fn held_by(h: &Held<'_>) -> String {
    format!("pid {} fd {}", h.pid, h.fd)
}

/// "pid 12 fd 4 (comm), pid ..." for the holders of a peer, or a
/// sentence saying nobody holds it.
fn describe_holders(holders: &[Holder]) -> Vec<u8> {
    if holders.is_empty() {
        return b"no process holds it (closed, or held only by a process that could not be read)".to_vec();
    }
    let mut out = Vec::new();
    for (i, p) in holders.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(format!("pid {} fd {} (", p.pid, p.fd).as_bytes());
        out.extend_from_slice(&p.comm);
        out.push(b')');
    }
    out
}

/// `%s` of a C string that may be NULL: CRIU prints "(null)" for an
/// unbound socket, and an abstract name (leading NUL) as empty.
fn c_name(name: &[u8]) -> &[u8] {
    if name.is_empty() {
        return b"(null)";
    }
    &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())]
}

/// sk-unix.c:dump_one_unix_fd (can_dump_unix_sk, the peer checks, the
/// in-flight checks), then __dump_external_socket for a peer the tree
/// does not hold.
#[allow(clippy::too_many_arguments)]
fn unix(
    state: &State<'_>,
    options: &Options,
    h: &Held<'_>,
    sk: &Socket,
    u: &UnixDetail,
    in_tree: &HashSet<u32>,
    out: &mut Vec<Finding>,
    external: &mut Vec<Finding>,
) {
    // sk-unix.c:can_dump_unix_sk.
    if ![SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET].contains(&sk.type_) {
        out.push(blocks(
            "unix-type-unsupported",
            h,
            format!("Unsupported type ({}) on socket {}.", sk.type_, h.ino).into_bytes(),
            "criu/sk-unix.c:can_dump_unix_sk",
            format!("{}: only stream, dgram and seqpacket unix sockets are dumped: close it", held_by(h)).into_bytes(),
        ));
        return;
    }
    if ![TCP_LISTEN, TCP_ESTABLISHED, TCP_CLOSE].contains(&sk.state) {
        out.push(blocks(
            "unix-state-unsupported",
            h,
            format!("Unknown state {} for unix socket {}", sk.state, h.ino).into_bytes(),
            "criu/sk-unix.c:can_dump_unix_sk",
            format!("{}: a unix socket in state {} (only listening, connected and closed are dumped)", held_by(h), state_name(sk.state)).into_bytes(),
        ));
        return;
    }
    // The table resolves a connection never accepted to its listener
    // (`in_flight`); CRIU sees no peer there and looks in the icons.
    let raw_peer = if u.in_flight { 0 } else { u.peer };
    if raw_peer != 0 {
        let peer_holders = state.holders.get(u.peer as u64).to_vec();
        let Some((_, peer)) = state.socket(u.peer) else {
            // The peer is in a net namespace the dump does not collect.
            out.push(Finding {
                code: "unix-peer-in-other-netns",
                severity: Severity::Blocks,
                object: socket_object(h, u.peer, peer_holders.clone()),
                criu_message: format!("Unix socket {} without peer {}", h.ino, u.peer).into_bytes(),
                criu_source: "criu/sk-unix.c:dump_one_unix_fd",
                option: None,
                fix: cat(&[
                    format!("{}: its peer {} lives in a network namespace outside the dump, held by ", held_by(h), u.peer).as_bytes(),
                    &describe_holders(&peer_holders),
                    b"; --ext-unix-sk does not help: connect to a socket of the tree's own network namespace, or close it",
                ]),
            });
            return;
        };
        let Some(pu) = peer.unix() else { return };
        if pu.peer != h.ino && pu.name.is_empty() {
            out.push(blocks(
                "unix-peer-unreachable",
                h,
                format!("Unix socket {} with unreachable peer {} ({})", h.ino, u.peer, pu.peer).into_bytes(),
                "criu/sk-unix.c:dump_one_unix_fd",
                format!("{}: its peer has another peer and no name to reach it by: close it", held_by(h)).into_bytes(),
            ));
            return;
        }
        if !in_tree.contains(&u.peer) && !state.externals.unix_sockets.contains(&(h.ino as u64)) {
            if let Some(f) = external_peer(options, h, u, peer, pu, peer_holders) {
                external.push(f);
            }
        }
        return;
    }
    if sk.state == TCP_ESTABLISHED && sk.type_ != SOCK_DGRAM {
        // An in-flight connection: a listener's icons name it.
        let listener = if u.in_flight {
            state.socket(u.peer).map(|(_, l)| l)
        } else {
            state.nets.iter().flat_map(|n| n.table.iter()).find(|l| l.unix().is_some_and(|lu| lu.icons.contains(&h.ino)))
        };
        match listener {
            None if u.shutdown == SHUTDOWN_BOTH => {}
            None => out.push(blocks(
                "unix-dangling-connection",
                h,
                format!("Dangling connection {}", h.ino).into_bytes(),
                "criu/sk-unix.c:dump_one_unix_fd",
                format!("{}: connected, without a peer, and no listener waits for it: close it", held_by(h)).into_bytes(),
            )),
            Some(l) if l.state != TCP_LISTEN => out.push(blocks(
                "unix-inflight-not-listening",
                h,
                format!("In-flight connection on non-listening socket {}", h.ino).into_bytes(),
                "criu/sk-unix.c:dump_one_unix_fd",
                format!("{}: queued on socket {}, which no longer listens: close it", held_by(h), l.ino).into_bytes(),
            )),
            Some(l) if u.wqlen != 0 => out.push(blocks(
                "unix-inflight-write-queue",
                h,
                format!("Non-empty write queue on an in-flight socket {:#x}", h.ino).into_bytes(),
                "criu/sk-unix.c:dump_one_unix_fd",
                format!(
                    "{}: connected to listener {} that has not accepted it yet, with {} bytes sent: accept the connection (or send nothing before it is accepted) before the dump",
                    held_by(h),
                    l.ino,
                    u.wqlen
                )
                .into_bytes(),
            )),
            Some(_) => {}
        }
        return;
    }
    if sk.state == TCP_LISTEN && u.icons.contains(&0) {
        out.push(blocks(
            "unix-closed-inflight",
            h,
            format!("Found a closed in-flight socket to {:#x}", h.ino).into_bytes(),
            "criu/sk-unix.c:dump_one_unix_fd",
            format!("{}: a listener with a queued connection whose client has closed: accept and close it before the dump", held_by(h)).into_bytes(),
        ));
    }
}

/// sk-unix.c:__dump_external_socket: the tree holds `h`, nobody in the
/// tree holds its peer.
fn external_peer(options: &Options, h: &Held<'_>, u: &UnixDetail, peer: &Socket, pu: &UnixDetail, holders: Vec<Holder>) -> Option<Finding> {
    let exception = format!("--external unix[{}]", h.ino).into_bytes();
    let who = describe_holders(&holders);
    let (msg, option, fix): (Vec<u8>, Vec<u8>, Vec<u8>) = if !options.ext_unix_sk {
        let msg = b"External socket is used. Consider using --ext-unix-sk option.".to_vec();
        if peer.type_ == SOCK_DGRAM && !pu.name.is_empty() {
            let fix = cat(&[
                format!("{} is a datagram socket connected to ", held_by(h)).as_bytes(),
                c_name(&pu.name),
                b", held outside the tree by ",
                &who,
                b": add --ext-unix-sk (restore reconnects it by name)",
            ]);
            (msg, b"--ext-unix-sk".to_vec(), fix)
        } else {
            (msg, exception.clone(), stream_fix(h, peer, pu, &who, &exception))
        }
    } else if peer.type_ != SOCK_DGRAM {
        let msg = cat(&[b"Can't dump half of stream unix connection. name: ", c_name(&u.name), b"; peer name: ", c_name(&pu.name)]);
        (msg, exception.clone(), stream_fix(h, peer, pu, &who, &exception))
    } else if pu.name.is_empty() {
        let msg = b"Can't dump name-less external socket.".to_vec();
        let fix = cat(&[
            format!("{} is connected to an unnamed datagram socket held outside the tree by ", held_by(h)).as_bytes(),
            &who,
            b": nothing to reconnect it to by name; declare it with ",
            &exception,
            b" and hand the restored task a socket with --inherit-fd",
        ]);
        (msg, exception, fix)
    } else {
        return None;
    };
    Some(Finding {
        code: "unix-peer-outside-tree",
        severity: Severity::NeedsOption,
        object: socket_object(h, peer.ino, holders),
        criu_message: msg,
        criu_source: "criu/sk-unix.c:__dump_external_socket",
        option: Some(option),
        fix,
    })
}

fn stream_fix(h: &Held<'_>, peer: &Socket, pu: &UnixDetail, who: &[u8], exception: &[u8]) -> Vec<u8> {
    let kind: &[u8] = if peer.type_ == SOCK_SEQPACKET { b"seqpacket" } else { b"stream" };
    cat(&[
        format!("{} is a unix ", held_by(h)).as_bytes(),
        kind,
        b" connection to ",
        c_name(&pu.name),
        format!(" (peer socket {}) held outside the tree by ", peer.ino).as_bytes(),
        who,
        b"; --ext-unix-sk does not help a stream: declare the socket with ",
        exception,
        b" and hand the restored task a new connection with --inherit-fd fd[N]:socket:[INO], or close it before the dump",
    ])
}

/// sk-inet.c:dump_one_inet_fd and can_dump_inet_sk.
fn inet(state: &State<'_>, options: &Options, h: &Held<'_>, sk: &Socket, i: &InetDetail, out: &mut Vec<Finding>) {
    let what = format!("{} ({} {}:{})", held_by(h), state_name(sk.state), i.src_ip(sk.family), i.src_port);
    if sk.type_ != SOCK_RAW && [IPPROTO_UDP_, IPPROTO_UDPLITE_].contains(&i.proto) && state.probe.udp_corked(h.pid, h.fd) == Some(true) {
        out.push(blocks(
            "udp-corked",
            h,
            format!("Can't dump corked dgram socket {:x}", h.ino).into_bytes(),
            "criu/sk-inet.c:dump_one_inet_fd",
            format!("{what}: UDP_CORK is set: uncork it (setsockopt UDP_CORK 0, which sends what waits) before the dump").into_bytes(),
        ));
        return;
    }
    if sk.type_ == SOCK_DGRAM {
        if i.wqlen != 0 {
            out.push(warning(h, "dgram-write-queue", format!("Write queue of the {:x} socket isn't empty", h.ino), "criu/sk-inet.c:can_dump_inet_sk", format!("{what}: {} bytes wait to be sent; they are not dumped", i.wqlen)));
        }
        if i.rqlen != 0 {
            out.push(warning(h, "dgram-read-queue-dropped", format!("Read queue is dropped for socket {:x}", h.ino), "criu/sk-inet.c:can_dump_inet_sk", format!("{what}: {} received bytes are lost on restore", i.rqlen)));
        }
        return;
    }
    if sk.type_ != SOCK_STREAM && sk.type_ != SOCK_RAW {
        out.push(blocks(
            "inet-type-unsupported",
            h,
            format!("Can't dump {} inet socket {:x}. Only stream, dgram and raw are supported.", sk.type_, h.ino).into_bytes(),
            "criu/sk-inet.c:can_dump_inet_sk",
            format!("{what}: close it").into_bytes(),
        ));
        return;
    }
    match sk.state {
        TCP_LISTEN if i.rqlen != 0 && !options.skip_in_flight => {
            out.push(Finding {
                code: "tcp-listen-in-flight",
                severity: Severity::NeedsOption,
                object: socket_object(h, 0, Vec::new()),
                criu_message: format!("In-flight connection (l) for {:x}", h.ino).into_bytes(),
                criu_source: "criu/sk-inet.c:can_dump_inet_sk",
                option: Some(b"--skip-in-flight".to_vec()),
                fix: format!("{what}: {} connections not accepted yet; add --skip-in-flight (their clients see a reset), or accept them before the dump", i.rqlen).into_bytes(),
            });
        }
        TCP_ESTABLISHED | TCP_FIN_WAIT2 | TCP_FIN_WAIT1 | TCP_CLOSE_WAIT | TCP_LAST_ACK | TCP_CLOSING | TCP_SYN_SENT
            if !options.tcp_established =>
        {
            out.push(Finding {
                code: "tcp-established",
                severity: Severity::NeedsOption,
                object: socket_object(h, 0, Vec::new()),
                criu_message: b"Connected TCP socket, consider using --tcp-established option.".to_vec(),
                criu_source: "criu/sk-inet.c:can_dump_inet_sk",
                option: Some(b"--tcp-established".to_vec()),
                fix: format!(
                    "{what} to {}:{}: add --tcp-established (TCP repair; the restore needs the same addresses)",
                    i.dst_ip(sk.family),
                    i.dst_port
                )
                .into_bytes(),
            });
        }
        TCP_LISTEN | TCP_ESTABLISHED | TCP_FIN_WAIT2 | TCP_FIN_WAIT1 | TCP_CLOSE_WAIT | TCP_LAST_ACK | TCP_CLOSING | TCP_SYN_SENT | TCP_CLOSE => {}
        other => out.push(blocks(
            "tcp-state-unsupported",
            h,
            format!("Unknown inet socket {:x} state {other}", h.ino).into_bytes(),
            "criu/sk-inet.c:can_dump_inet_sk",
            format!("{what}: wait until it leaves {} before the dump", state_name(other)).into_bytes(),
        )),
    }
}

const IPPROTO_UDP_: u8 = libc::IPPROTO_UDP as u8;
const IPPROTO_UDPLITE_: u8 = libc::IPPROTO_UDPLITE as u8;

fn warning(h: &Held<'_>, code: &'static str, msg: String, source: &'static str, fix: String) -> Finding {
    Finding { code, severity: Severity::Warning, object: socket_object(h, 0, Vec::new()), criu_message: msg.into_bytes(), criu_source: source, option: None, fix: fix.into_bytes() }
}

/// sk-netlink.c:can_dump_netlink_sk.
fn netlink(state: &State<'_>, h: &Held<'_>, out: &mut Vec<Finding>) {
    if state.probe.has_data(h.pid, h.fd) == Some(true) {
        out.push(blocks(
            "netlink-unread-data",
            h,
            b"The socket has data to read".to_vec(),
            "criu/sk-netlink.c:can_dump_netlink_sk",
            format!("{}: a netlink socket with messages not read yet: read them (or drop its group subscriptions) before the dump", held_by(h)).into_bytes(),
        ));
    }
}

/// The diag request that lists sockets of `family`.
fn family_source(family: i32) -> Option<&'static str> {
    match family {
        libc::AF_UNIX => Some("unix"),
        libc::AF_PACKET => Some("packet"),
        libc::AF_NETLINK => Some("netlink"),
        _ => None,
    }
}

fn unsupported(status: &crate::net::FamilyStatus) -> bool {
    matches!(status.state, FamilyState::Unsupported)
}

/// A socket the tree holds that no table lists: its family's diag module
/// is missing (sockets.c:lookup_socket), or CRIU knows no such family
/// (sockets.c:dump_socket).
fn not_collected(state: &State<'_>, h: &Held<'_>, out: &mut Vec<Finding>) {
    let Some(family) = state.probe.domain(h.pid, h.fd) else { return };
    if let Some(name) = family_source(family) {
        let missing = state.nets.iter().any(|n| n.table.families().iter().any(|s| s.name == name && unsupported(s)));
        if missing {
            out.push(blocks(
                "diag-module-missing",
                h,
                format!("Sockets (family {family} proto 0) are not collected").into_bytes(),
                "criu/sockets.c:lookup_socket",
                format!("{}: a {name} socket, and this kernel has no {name}_diag: modprobe {name}_diag", held_by(h)).into_bytes(),
            ));
        } else if family == libc::AF_UNIX {
            out.push(blocks(
                "unix-not-found",
                h,
                format!("Unix socket {} not found", h.ino).into_bytes(),
                "criu/sk-unix.c:dump_one_unix_fd",
                format!("{}: unix_diag does not list it (it changed while read?): check again", held_by(h)).into_bytes(),
            ));
        }
        return;
    }
    if family == libc::AF_INET || family == libc::AF_INET6 {
        // sk-inet.c:dump_one_inet_fd makes an unconnected one (gen_uncon_sk).
        return;
    }
    out.push(blocks(
        "socket-family-unsupported",
        h,
        format!("BUG! Unknown socket collected (family {family})").into_bytes(),
        "criu/sockets.c:dump_socket",
        format!("{}: CRIU dumps unix, inet, inet6, packet and netlink sockets only; this one is of family {family}: close it", held_by(h)).into_bytes(),
    ));
}

/// Diag modules the kernel lacks in a collected namespace (sockets.c:
/// collect_sockets goes on without them; a socket that needs one fails).
fn missing_diag_warnings(state: &State<'_>, out: &mut Vec<Finding>) {
    for n in &state.nets {
        for s in n.table.families() {
            if !unsupported(s) || matches!(s.source, Source::Diag(DiagRequest::Raw { .. })) || !matches!(s.source, Source::Diag(_)) {
                continue;
            }
            if out.iter().any(|f| f.code == "diag-module-missing" && matches!(f.object, Object::Family { name, .. } if name == s.name)) {
                continue;
            }
            let module = match s.source {
                Source::Diag(DiagRequest::Inet { proto, .. }) if proto == IPPROTO_UDP_ || proto == IPPROTO_UDPLITE_ => "udp_diag",
                Source::Diag(DiagRequest::Inet { .. }) => "tcp_diag",
                Source::Diag(DiagRequest::Packet) => "packet_diag",
                Source::Diag(DiagRequest::Netlink) => "netlink_diag",
                _ => "unix_diag",
            };
            out.push(Finding {
                code: "diag-module-missing",
                severity: Severity::Warning,
                object: Object::Family { ns_id: n.ns_id, name: s.name },
                criu_message: b"Diag module missing".to_vec(),
                criu_source: "criu/sockets.c:collect_sockets",
                option: None,
                fix: format!("this kernel lists no {} sockets (no {module}); a dump fails on any socket of the family: modprobe {module}", s.name).into_bytes(),
            });
        }
    }
}
