//! The netlink layer on written-out bytes (message and dump decisions,
//! an rtnetlink request and a recorded RTM_NEWLINK reply) and live
//! (a reply larger than the first buffer, kernel errors, a link dump).

use super::route::{self, ifinfomsg};
use super::*;
use crate::error::Error;

/// A dump kind for tests of the message decisions: replies of type 20.
const TEST_DUMP: DumpKind =
    DumpKind { name: "test", protocol: Protocol::SOCK_DIAG, request_type: 20, reply_type: 20, header_name: "test_msg", reply_header: 4 };

/// A message: header (len, type, flags, seq, port) then payload, padded.
pub(crate) fn msg(kind: u16, seq: u32, port: u32, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&((message::nlmsghdr::LEN + payload.len()) as u32).to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&NLM_F_MULTI.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&port.to_ne_bytes());
    m.extend_from_slice(payload);
    m.resize(align(m.len()), 0);
    m
}

fn err_payload(errno: i32) -> Vec<u8> {
    // nlmsgerr: the error, then the request's header.
    let mut err = (-errno).to_ne_bytes().to_vec();
    err.extend_from_slice(&[0; 16]);
    err
}

#[test]
fn walks_messages_and_refuses_short_or_lying_ones() {
    let mut d = msg(20, 1, 7, b"abcde");
    d.extend(msg(NLMSG_DONE, 1, 7, &0i32.to_ne_bytes()));
    let got: Vec<NlMsg> = messages(&d).map(Result::unwrap).collect();
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].kind, got[0].payload), (20, &b"abcde"[..]));
    assert_eq!(got[1].kind, NLMSG_DONE);
    // 10 stray bytes: shorter than a header
    assert_eq!(messages(&d[..10]).next().unwrap().unwrap_err().errno(), libc::EBADMSG);
    // nlmsg_len larger than the datagram
    let mut lying = d.clone();
    lying[0..4].copy_from_slice(&1000u32.to_ne_bytes());
    assert!(messages(&lying).next().unwrap().unwrap_err().message().contains("claims 1000 bytes"));
    // nlmsg_len smaller than a header
    lying[0..4].copy_from_slice(&8u32.to_ne_bytes());
    assert!(messages(&lying).next().unwrap().is_err());
    // an error stops the walk
    let mut it = messages(&lying);
    assert!(it.next().unwrap().is_err());
    assert!(it.next().is_none());
}

#[test]
fn datagram_handling_skips_foreign_replies_and_maps_errors() {
    let mut seen = Vec::new();
    let mut d = msg(20, 5, 9, b"other request");
    d.extend(msg(20, 4, 8, b"other port"));
    d.extend(msg(20, 4, 9, b"ours"));
    d.extend(msg(NLMSG_NOOP, 4, 9, b""));
    let done = process_datagram(&TEST_DUMP, &d, 4, 9, &mut |p| {
        seen.push(p.to_vec());
        Ok(())
    })
    .unwrap();
    assert!(!done);
    assert_eq!(seen, vec![b"ours".to_vec()]);
    let none = &mut |_: &[u8]| Ok(());
    let done = process_datagram(&TEST_DUMP, &msg(NLMSG_DONE, 4, 9, &0i32.to_ne_bytes()), 4, 9, none).unwrap();
    assert!(done);
    // NLMSG_ERROR carries -errno and the request header.
    let e = process_datagram(&TEST_DUMP, &msg(NLMSG_ERROR, 4, 9, &err_payload(libc::ENOENT)), 4, 9, none).unwrap_err();
    assert_eq!(e.errno(), libc::ENOENT);
    assert!(e.message().contains("sock_diag test request refused"), "{e}");
    // An acknowledgement (error 0) is not an error.
    let ack = process_datagram(&TEST_DUMP, &msg(NLMSG_ERROR, 4, 9, &[0; 20]), 4, 9, none).unwrap();
    assert!(!ack);
    // A negative done code, a truncated error and an overrun are errors.
    let e = process_datagram(&TEST_DUMP, &msg(NLMSG_DONE, 4, 9, &(-libc::EINTR).to_ne_bytes()), 4, 9, none).unwrap_err();
    assert_eq!(e.errno(), libc::EINTR);
    assert_eq!(process_datagram(&TEST_DUMP, &msg(NLMSG_ERROR, 4, 9, &[1]), 4, 9, none).unwrap_err().errno(), libc::EBADMSG);
    assert_eq!(process_datagram(&TEST_DUMP, &msg(NLMSG_OVERRUN, 4, 9, b""), 4, 9, none).unwrap_err().errno(), libc::ENOBUFS);
    // A reply of another type than the dump's is malformed.
    let e = process_datagram(&TEST_DUMP, &msg(16, 4, 9, b"link"), 4, 9, none).unwrap_err();
    assert!(e.message().contains("message of type 16, not 20"), "{e}");
    // The callback's error stops the walk.
    let e = process_datagram(&TEST_DUMP, &msg(20, 4, 9, b"x"), 4, 9, &mut |_| Err(Error::malformed("bad"))).unwrap_err();
    assert_eq!(e.message(), "bad");
}

#[test]
fn the_end_of_a_dump_is_seen_from_headers_alone() {
    let mut d = msg(20, 4, 9, b"ours");
    d.extend(msg(NLMSG_DONE, 5, 9, &0i32.to_ne_bytes())); // another request's end
    assert!(!ends_dump(&TEST_DUMP, &d, 4, 9).unwrap());
    d.extend(msg(NLMSG_DONE, 4, 9, &0i32.to_ne_bytes()));
    assert!(ends_dump(&TEST_DUMP, &d, 4, 9).unwrap());
    assert!(ends_dump(&TEST_DUMP, &msg(NLMSG_ERROR, 4, 9, &err_payload(libc::EPERM)), 4, 9).unwrap());
    assert!(!ends_dump(&TEST_DUMP, &msg(NLMSG_ERROR, 4, 9, &[0; 20]), 4, 9).unwrap(), "an ack does not end a dump");
    assert!(ends_dump(&TEST_DUMP, &msg(NLMSG_OVERRUN, 4, 9, b""), 4, 9).unwrap());
    // A lying length is an error here too.
    let mut lying = msg(20, 4, 9, b"ours");
    lying[0] = 200;
    assert_eq!(ends_dump(&TEST_DUMP, &lying, 4, 9).unwrap_err().errno(), libc::EBADMSG);
}

#[test]
fn the_reply_header_is_checked_before_its_attributes_are_walked() {
    let mut p = vec![1, 2, 3, 4];
    p.extend_from_slice(&[6, 0, 3, 0, b'h', b'i', 0, 0]);
    let (header, attrs) = TEST_DUMP.split(&p).unwrap();
    assert_eq!(header, &[1, 2, 3, 4]);
    assert_eq!(attrs.map(Result::unwrap).collect::<Vec<_>>(), vec![Attr { kind: 3, payload: b"hi" }]);
    let e = TEST_DUMP.split(&p[..3]).unwrap_err();
    assert!(e.message().contains("test_msg of 3 bytes is shorter than its 4-byte layout"), "{e}");
}

#[test]
fn request_is_header_then_body() {
    let r = TEST_DUMP.request(vec![1, 2, 3, 4]).encode(42);
    assert_eq!(r.len(), 20);
    assert_eq!(&r[0..4], &20u32.to_ne_bytes());
    assert_eq!(&r[4..6], &20u16.to_ne_bytes());
    assert_eq!(&r[6..8], &0x301u16.to_ne_bytes());
    assert_eq!(&r[8..12], &42u32.to_ne_bytes());
    assert_eq!(&r[16..], &[1, 2, 3, 4]);
}

#[test]
fn rtnetlink_dumps_are_one_list_and_build_their_requests() {
    // RTM_GETLINK for AF_PACKET, as CRIU asks: nlmsghdr + a zeroed ifinfomsg.
    let r = route::request(route::LINKS, libc::AF_PACKET as u8).encode(7);
    assert_eq!(r.len(), 16 + ifinfomsg::LEN);
    assert_eq!(&r[0..4], &32u32.to_ne_bytes()); // nlmsg_len
    assert_eq!(&r[4..6], &route::RTM_GETLINK.to_ne_bytes()); // nlmsg_type 18
    assert_eq!(&r[6..8], &(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    assert_eq!(&r[8..12], &7u32.to_ne_bytes()); // nlmsg_seq
    assert_eq!(r[16], libc::AF_PACKET as u8); // ifi_family
    assert!(r[17..].iter().all(|&b| b == 0));
    let names: Vec<(&str, u16, u16, usize)> = route::ALL.iter().map(|k| (k.name, k.request_type, k.reply_type, k.reply_header)).collect();
    assert_eq!(
        names,
        vec![("link", 18, 16, 16), ("addr", 22, 20, 8), ("route", 26, 24, 12), ("rule", 34, 32, 12), ("nsid", 90, 88, 1)]
    );
    for kind in route::ALL {
        let body = route::request(kind, libc::AF_INET6 as u8).body;
        assert_eq!((body.len(), body[0], kind.protocol), (kind.reply_header, libc::AF_INET6 as u8, Protocol::ROUTE));
    }
}

/// An RTM_NEWLINK reply recorded from a fresh network namespace (its
/// loopback, down), trimmed to its first attributes, then the dump's end.
fn recorded_newlink(seq: u32, port: u32) -> Vec<u8> {
    let mut p = Vec::new();
    // ifinfomsg: family AF_UNSPEC, pad, type ARPHRD_LOOPBACK (772), index 1,
    // flags IFF_LOOPBACK (0x8), change 0
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&772u16.to_ne_bytes());
    p.extend_from_slice(&1u32.to_ne_bytes());
    p.extend_from_slice(&0x8u32.to_ne_bytes());
    p.extend_from_slice(&0u32.to_ne_bytes());
    let mut attr = |kind: u16, payload: &[u8]| {
        p.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        p.extend_from_slice(&kind.to_ne_bytes());
        p.extend_from_slice(payload);
        p.resize(align(p.len()), 0);
    };
    attr(3, b"lo\0"); // IFLA_IFNAME
    attr(13, &1000u32.to_ne_bytes()); // IFLA_TXQLEN
    attr(16, &[2]); // IFLA_OPERSTATE: IF_OPER_DOWN
    attr(17, &[0]); // IFLA_LINKMODE
    attr(4, &65536u32.to_ne_bytes()); // IFLA_MTU
    attr(27, &0u32.to_ne_bytes()); // IFLA_GROUP
    attr(1, &[0; 6]); // IFLA_ADDRESS 00:00:00:00:00:00
    attr(2, &[0; 6]); // IFLA_BROADCAST
    attr(6, b"noop\0"); // IFLA_QDISC
    let mut d = msg(route::RTM_NEWLINK, seq, port, &p);
    d.extend(msg(NLMSG_DONE, seq, port, &0i32.to_ne_bytes()));
    d
}

#[test]
fn a_recorded_newlink_reply_walks_through_the_same_layer() {
    let d = recorded_newlink(3, 77);
    let mut links = Vec::new();
    let mut unknown = UnknownAttrs::default();
    let done = process_datagram(&route::LINKS, &d, 3, 77, &mut |payload| {
        let (h, attrs) = route::LINKS.split(payload)?;
        let (mut name, mut mtu, mut addr) = (Vec::new(), 0, Vec::new());
        for a in attrs {
            let a = a?;
            match a.kind {
                3 => name = a.payload.split(|&c| c == 0).next().unwrap_or(&[]).to_vec(),
                4 => mtu = a.u32("IFLA_MTU")?,
                1 => addr = a.payload.to_vec(),
                k => unknown.note(k),
            }
        }
        links.push((ifinfomsg::IFI_INDEX.get(h), ifinfomsg::IFI_TYPE.get(h), ifinfomsg::IFI_FLAGS.get(h), name, mtu, addr));
        Ok(())
    })
    .unwrap();
    assert!(done, "the dump ends with the datagram's NLMSG_DONE");
    assert_eq!(links, vec![(1, 772, 0x8, b"lo".to_vec(), 65536, vec![0; 6])]);
    assert_eq!((unknown.count, unknown.kinds().collect::<Vec<_>>()), (6, vec![2, 6, 13, 16, 17, 27]));
    // Sock_diag's dump kind refuses the same bytes: they are not its replies.
    let diag = crate::net::DiagRequest::Unix.kind();
    assert!(process_datagram(&diag, &d, 3, 77, &mut |_| Ok(())).is_err());
}

#[test]
fn a_live_link_dump_finds_loopback() {
    let mut sock = NlSocket::new(Protocol::ROUTE).unwrap();
    let mut found = None;
    sock.dump(&route::request(route::LINKS, libc::AF_UNSPEC as u8), &mut |payload| {
        let (h, attrs) = route::LINKS.split(payload)?;
        for a in attrs {
            let a = a?;
            if a.kind == 3 && a.payload.starts_with(b"lo\0") {
                found = Some((ifinfomsg::IFI_TYPE.get(h), ifinfomsg::IFI_FLAGS.get(h) & libc::IFF_LOOPBACK as u32));
            }
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(found, Some((772, libc::IFF_LOOPBACK as u32)));
    // A request of the wrong protocol is refused before it is sent.
    let e = sock.dump(&crate::net::DiagRequest::Unix.request(), &mut |_| Ok(())).unwrap_err();
    assert_eq!(e.errno(), libc::EINVAL);
    // The socket still serves a dump after that.
    sock.dump(&route::request(route::ROUTES, libc::AF_UNSPEC as u8), &mut |_| Ok(())).unwrap();
}

fn unix_listener_dump(sock: &mut NlSocket) -> Vec<(u32, usize)> {
    let req = crate::net::DiagRequest::Unix;
    let mut out = Vec::new();
    let mut unknown = UnknownAttrs::default();
    sock.dump(&req.request(), &mut |p| {
        let s = req.parse(p, &mut unknown)?;
        out.push((s.ino, s.unix().map(|u| u.icons.len()).unwrap_or(0)));
        Ok(())
    })
    .unwrap();
    out
}

#[test]
fn replies_larger_than_the_first_buffer_are_not_lost_and_strangers_are_ignored() {
    crate::needs_root!();
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::net::{UnixListener, UnixStream};
    let dir = crate::testing::temp_dir("nlbig");
    let path = dir.join("l.sock");
    let listener = UnixListener::bind(&path).unwrap();
    nix::sys::socket::listen(&listener, nix::sys::socket::Backlog::new(300).unwrap()).unwrap();
    let clients: Vec<UnixStream> = (0..200).map(|_| UnixStream::connect(&path).unwrap()).collect();
    let ino = std::fs::metadata(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&listener))).unwrap().ino() as u32;
    // A 64-byte first buffer against an 800-byte icons attribute.
    let mut small = NlSocket::with_buffer(Protocol::SOCK_DIAG, 64).unwrap();
    // Another socket of ours sends a fake "done" to `small` first.
    let stranger = NlSocket::new(Protocol::SOCK_DIAG).unwrap();
    stranger.send_to_port(small.port(), &msg(NLMSG_DONE, 1, small.port(), &0i32.to_ne_bytes())).unwrap();
    let got = unix_listener_dump(&mut small);
    assert_eq!(got.iter().find(|(i, _)| *i == ino).map(|x| x.1), Some(200), "all 200 pending connections");
    assert!(small.buffer_capacity() > 64);
    // Again on the same socket: a new sequence number, same answer.
    let again = unix_listener_dump(&mut small);
    assert_eq!(again.iter().find(|(i, _)| *i == ino).map(|x| x.1), Some(200));
    drop(clients);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A unix listener with 200 connections waiting (an 800-byte
/// UNIX_DIAG_ICONS) and its inode; the directory is removed on drop.
struct Backlog {
    dir: std::path::PathBuf,
    _listener: std::os::unix::net::UnixListener,
    _clients: Vec<std::os::unix::net::UnixStream>,
    ino: u32,
}

impl Backlog {
    fn new(tag: &str) -> Backlog {
        use std::os::unix::fs::MetadataExt;
        use std::os::unix::net::{UnixListener, UnixStream};
        let dir = crate::testing::temp_dir(tag);
        let path = dir.join("l.sock");
        let listener = UnixListener::bind(&path).unwrap();
        nix::sys::socket::listen(&listener, nix::sys::socket::Backlog::new(300).unwrap()).unwrap();
        let clients = (0..200).map(|_| UnixStream::connect(&path).unwrap()).collect();
        let ino = std::fs::metadata(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&listener))).unwrap().ino() as u32;
        Backlog { dir, _listener: listener, _clients: clients, ino }
    }

    fn icons_in(&self, dump: &[(u32, usize)]) -> Option<usize> {
        dump.iter().find(|(i, _)| *i == self.ino).map(|x| x.1)
    }
}

impl Drop for Backlog {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn sock_diag_receives_without_sizing_and_a_stranger_larger_than_the_buffer_is_skipped() {
    crate::needs_root!();
    // The kernel bounds sock_diag dump datagrams by our buffer; rtnetlink's not.
    assert!(!NlSocket::new(Protocol::SOCK_DIAG).unwrap().sizes_each_datagram());
    assert!(NlSocket::new(Protocol::ROUTE).unwrap().sizes_each_datagram());
    assert!(NlSocket::with_buffer(Protocol::SOCK_DIAG, 8191).unwrap().sizes_each_datagram());
    let backlog = Backlog::new("nldirect");
    // The smallest buffer that bounds them: 201 sockets' replies (20 KiB) in
    // several datagrams, none cut off, each received with one call.
    let mut direct = NlSocket::with_buffer(Protocol::SOCK_DIAG, 8192).unwrap();
    assert!(!direct.sizes_each_datagram());
    // A stranger's datagram twice the buffer's size comes first: truncated, ignored.
    let stranger = NlSocket::new(Protocol::SOCK_DIAG).unwrap();
    stranger.send_to_port(direct.port(), &msg(NLMSG_DONE, 1, direct.port(), &vec![0; 16000])).unwrap();
    let got = unix_listener_dump(&mut direct);
    assert_eq!(backlog.icons_in(&got), Some(200), "all 200 pending connections");
    assert!(got.len() > 200, "{} sockets: the listener and its 200 clients", got.len());
    assert_eq!(direct.buffer_capacity(), 8192, "never grown");
    assert!(!direct.sizes_each_datagram());
}

#[test]
fn a_reply_truncated_by_a_small_direct_buffer_is_an_error_then_the_socket_sizes_replies() {
    crate::needs_root!();
    let backlog = Backlog::new("nltrunc");
    // 64 bytes, received straight into: the kernel's first datagram (at
    // least NLMSG_GOODSIZE) does not fit, and that is said, not hidden.
    let mut small = NlSocket::direct_with_buffer(Protocol::SOCK_DIAG, 64).unwrap();
    let req = crate::net::DiagRequest::Unix;
    let mut seen = 0;
    let e = small.dump(&req.request(), &mut |_| {
        seen += 1;
        Ok(())
    });
    let e = e.unwrap_err();
    assert_eq!(e.errno(), libc::EMSGSIZE, "{e}");
    assert!(e.message().contains("truncated to the 64-byte receive buffer"), "{e}");
    assert_eq!(seen, 0, "nothing of the cut datagram was handed on");
    // The same socket now sizes each datagram: the next dump is whole,
    // the first dump's leftovers (another sequence number) skipped.
    assert!(small.sizes_each_datagram());
    let got = unix_listener_dump(&mut small);
    assert_eq!(backlog.icons_in(&got), Some(200));
    // The datagrams path (the pipelined unix dump) says the same.
    let mut again = NlSocket::direct_with_buffer(Protocol::SOCK_DIAG, 64).unwrap();
    let e = again.dump_datagrams(&req.request(), &mut |_, _| panic!("a cut datagram was handed on")).unwrap_err();
    assert_eq!(e.errno(), libc::EMSGSIZE, "{e}");
}

#[test]
fn kernel_errors_come_back_as_errno() {
    let mut s = NlSocket::new(Protocol::SOCK_DIAG).unwrap();
    // Family 99 has no diag handler.
    let mut body = vec![0u8; 24];
    body[0] = 99;
    let e = s.dump(&crate::net::DiagRequest::Unix.kind().request(body), &mut |_| Ok(())).unwrap_err();
    assert!(e.errno() == libc::EINVAL || e.errno() == libc::ENOENT, "{e}");
}

#[test]
fn a_query_ends_with_its_acknowledgement_and_hands_whole_messages() {
    let none = &mut |_: &NlMsg| Ok(());
    let kind = route::NSID;
    // In a query the ack (error 0) is the end; in a dump it is nothing.
    assert!(process_messages(Exchange::Query, &kind, &msg(NLMSG_ERROR, 4, 9, &[0; 20]), 4, 9, none).unwrap());
    assert!(!process_messages(Exchange::Dump, &kind, &msg(NLMSG_ERROR, 4, 9, &[0; 20]), 4, 9, none).unwrap());
    let e = process_messages(Exchange::Query, &kind, &msg(NLMSG_ERROR, 4, 9, &err_payload(libc::EBADF)), 4, 9, none).unwrap_err();
    assert_eq!(e.errno(), libc::EBADF);
    // The reply is handed with its header and raw bytes.
    let reply = msg(route::RTM_NEWNSID, 4, 9, &[0, 0, 0, 0, 8, 0, 1, 0, 5, 0, 0, 0]);
    let mut seen = Vec::new();
    let mut d = reply.clone();
    d.extend(msg(NLMSG_ERROR, 4, 9, &[0; 20]));
    let done = process_messages(Exchange::Query, &kind, &d, 4, 9, &mut |m| {
        seen.push((m.kind, m.seq, m.raw.to_vec(), m.payload.len()));
        Ok(())
    })
    .unwrap();
    assert!(done);
    assert_eq!(seen, vec![(route::RTM_NEWNSID, 4, reply.clone(), 12)]);
    // A query's flags ask for the ack; the body is rtgenmsg, padded, then NETNSA_FD.
    let r = route::nsid_of(std::os::fd::AsFd::as_fd(&std::io::stdin())).encode(1);
    assert_eq!(&r[6..8], &(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    assert_eq!(r.len(), 16 + 4 + 8);
    assert_eq!(&r[20..24], &[8, 0, 3, 0]);
}

#[test]
fn a_live_nsid_query_of_our_own_namespace_answers_none() {
    let mut sock = NlSocket::new(Protocol::ROUTE).unwrap();
    sock.set_strict_check().unwrap();
    let own = std::fs::File::open("/proc/self/ns/net").unwrap();
    let mut ids = Vec::new();
    sock.dump(&route::nsid_of(std::os::fd::AsFd::as_fd(&own)), &mut |payload| {
        let (_, attrs) = route::NSID.split(payload)?;
        for a in attrs {
            let a = a?;
            if a.kind == route::NETNSA_NSID {
                ids.push(a.i32("NETNSA_NSID")?);
            }
        }
        Ok(())
    })
    .unwrap();
    // A namespace has no id for itself unless one was set.
    assert_eq!(ids, vec![-1]);
    // A table-filtered route dump through the same socket: main only.
    let mut tables = Vec::new();
    sock.dump(&route::routes_of_table(libc::AF_INET as u8, route::RT_TABLE_MAIN), &mut |p| {
        let (h, _) = route::ROUTES.split(p)?;
        tables.push(route::rtmsg::RTM_TABLE.get(h));
        Ok(())
    })
    .unwrap();
    assert!(tables.iter().all(|&t| t == 254), "{tables:?}");
}
