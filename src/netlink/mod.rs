//! Netlink sockets, dump requests and the receive loop (CRIU's
//! `libnetlink.c`: `do_rtnl_req` and `nlmsg_receive`), on netlink-sys.
//!
//! Every length is checked before it is read: a message header against
//! the bytes received, its `nlmsg_len` against what is left, each
//! attribute against its message. No reply is lost to truncation: each
//! datagram is sized with `MSG_PEEK | MSG_TRUNC` before it is read.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket, SocketAddr};

use crate::error::{Error, Result};

pub const NLMSG_HDRLEN: usize = 16;
pub const NLA_HDRLEN: usize = 4;
pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;
pub const NLM_F_REQUEST: u16 = 0x01;
pub const NLM_F_MULTI: u16 = 0x02;
pub const NLM_F_DUMP: u16 = 0x300;
/// `SOCK_DIAG_BY_FAMILY` from linux/sock_diag.h.
pub const SOCK_DIAG_BY_FAMILY: u16 = 20;

/// Netlink's 4-byte alignment (NLMSG_ALIGN / NLA_ALIGN).
pub const fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// One message of a datagram: the header's fields and its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NlMsg<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub port: u32,
    pub payload: &'a [u8],
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Walks the messages of one datagram; stops at the first malformed one
/// with an error (NLMSG_OK fails), never reads past `buf`.
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    rest: &'a [u8],
    failed: bool,
}

pub fn messages(buf: &[u8]) -> Messages<'_> {
    Messages { rest: buf, failed: false }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<NlMsg<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let b = self.rest;
        if b.len() < NLMSG_HDRLEN {
            self.failed = true;
            return Some(Err(Error::malformed(format!(
                "netlink datagram ends with {} bytes, less than a message header",
                b.len()
            ))));
        }
        let len = u32_at(b, 0) as usize;
        if len < NLMSG_HDRLEN || len > b.len() {
            self.failed = true;
            return Some(Err(Error::malformed(format!(
                "netlink message claims {len} bytes but {} remain in the datagram",
                b.len()
            ))));
        }
        let msg = NlMsg { kind: u16_at(b, 4), flags: u16_at(b, 6), seq: u32_at(b, 8), port: u32_at(b, 12), payload: &b[NLMSG_HDRLEN..len] };
        self.rest = &b[align(len).min(b.len())..];
        Some(Ok(msg))
    }
}

/// One netlink attribute: its type (without the nested/byte-order bits)
/// and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr<'a> {
    pub kind: u16,
    pub payload: &'a [u8],
}

/// Walks the attributes that follow a fixed header inside a message.
#[derive(Debug, Clone)]
pub struct Attrs<'a> {
    rest: &'a [u8],
    failed: bool,
}

pub fn attributes(buf: &[u8]) -> Attrs<'_> {
    Attrs { rest: buf, failed: false }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let b = self.rest;
        if b.len() < NLA_HDRLEN {
            self.failed = true;
            return Some(Err(Error::malformed(format!("attribute area ends with {} stray bytes", b.len()))));
        }
        let len = u16_at(b, 0) as usize;
        if len < NLA_HDRLEN || len > b.len() {
            self.failed = true;
            return Some(Err(Error::malformed(format!(
                "attribute {} claims {len} bytes but {} remain in its message",
                u16_at(b, 2) & 0x3fff,
                b.len()
            ))));
        }
        let attr = Attr { kind: u16_at(b, 2) & 0x3fff, payload: &b[NLA_HDRLEN..len] };
        self.rest = &b[align(len).min(b.len())..];
        Some(Ok(attr))
    }
}

/// Emits a request: a netlink header (`SOCK_DIAG_BY_FAMILY`, REQUEST|DUMP)
/// followed by `body`.
pub fn dump_request(seq: u32, body: &[u8]) -> Vec<u8> {
    let len = NLMSG_HDRLEN + body.len();
    let mut out = Vec::with_capacity(align(len));
    out.extend_from_slice(&(len as u32).to_ne_bytes());
    out.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    out.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.extend_from_slice(body);
    out.resize(align(len), 0);
    out
}

/// How a dump ended when it did not end with NLMSG_DONE 0.
fn reply_errno(payload: &[u8], what: &str) -> Result<i32> {
    if payload.len() < 4 {
        return Err(Error::malformed(format!("{what} message of {} bytes has no error code", payload.len())));
    }
    Ok(i32::from_ne_bytes([payload[0], payload[1], payload[2], payload[3]]))
}

/// The first receive buffer: enough for the kernel's largest dump skb
/// (32 KiB), so the kernel fills whole chunks; grown when a datagram is
/// larger (a unix listener with many pending connections).
pub const DEFAULT_BUFFER: usize = 32 * 1024;

/// A NETLINK_SOCK_DIAG socket bound to the network namespace it was made
/// in, with its own sequence numbers and receive buffer.
pub struct DiagSocket {
    socket: Socket,
    port: u32,
    seq: u32,
    buf: Vec<u8>,
}

impl std::fmt::Debug for DiagSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiagSocket").field("port", &self.port).field("seq", &self.seq).finish()
    }
}

impl AsFd for DiagSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

/// Retries a call interrupted by a signal.
fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

impl DiagSocket {
    /// A sock_diag socket in the calling thread's network namespace.
    pub fn new() -> Result<DiagSocket> {
        Self::with_buffer(DEFAULT_BUFFER)
    }

    /// As `new`, with a first receive buffer of `capacity` bytes (tests use
    /// a tiny one to prove replies larger than it are not lost).
    pub fn with_buffer(capacity: usize) -> Result<DiagSocket> {
        let mut socket = Socket::new(NETLINK_SOCK_DIAG).map_err(|e| Error::io(&e, "create a NETLINK_SOCK_DIAG socket"))?;
        let addr = socket.bind_auto().map_err(|e| Error::io(&e, "bind the sock_diag socket"))?;
        Ok(DiagSocket { socket, port: addr.port_number(), seq: 0, buf: Vec::with_capacity(capacity) })
    }

    /// Our netlink port id: replies to us carry it.
    pub fn port(&self) -> u32 {
        self.port
    }

    /// Sends one dump request with `body` after the netlink header and
    /// hands every reply message's payload to `on_msg`, until NLMSG_DONE.
    /// NLMSG_ERROR and a negative done code become an error carrying the
    /// kernel's errno; messages of another sequence number or port, and
    /// datagrams not from the kernel, are ignored.
    pub fn dump(&mut self, body: &[u8], on_msg: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
        let seq = self.send_request(body)?;
        loop {
            let (len, from_kernel) = self.receive()?;
            if !from_kernel {
                continue;
            }
            if process_datagram(&self.buf[..len], seq, self.port, on_msg)? {
                return Ok(());
            }
        }
    }
}

impl DiagSocket {
    fn send_request(&mut self, body: &[u8]) -> Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let request = dump_request(seq, body);
        let kernel = SocketAddr::new(0, 0);
        let sent = retry(|| self.socket.send_to(&request, &kernel, 0)).map_err(|e| Error::io(&e, "send a sock_diag request"))?;
        if sent != request.len() {
            return Err(Error::new(libc::EIO, format!("sent {sent} of {} bytes of a sock_diag request", request.len())));
        }
        Ok(seq)
    }

    /// Sends one dump request and hands each whole datagram of its reply,
    /// unparsed, to `on_datagram` with the request's sequence number,
    /// through the one that ends the dump. `process_datagram` parses them
    /// later, possibly on another thread, so parsing overlaps the kernel's
    /// work of filling the next datagram.
    pub fn dump_datagrams(&mut self, body: &[u8], on_datagram: &mut dyn FnMut(u32, &[u8])) -> Result<()> {
        let seq = self.send_request(body)?;
        loop {
            let (len, from_kernel) = self.receive()?;
            if !from_kernel {
                continue;
            }
            let datagram = &self.buf[..len];
            let last = ends_dump(datagram, seq, self.port)?;
            on_datagram(seq, datagram);
            if last {
                return Ok(());
            }
        }
    }
}

/// Whether a datagram holds the end of dump `seq` (NLMSG_DONE, an error,
/// an overrun): the headers alone are walked, every length checked.
pub fn ends_dump(datagram: &[u8], seq: u32, port: u32) -> Result<bool> {
    for msg in messages(datagram) {
        let msg = msg?;
        if msg.seq != seq || msg.port != port {
            continue;
        }
        match msg.kind {
            NLMSG_DONE | NLMSG_OVERRUN => return Ok(true),
            NLMSG_ERROR if reply_errno(msg.payload, "NLMSG_ERROR")? != 0 => return Ok(true),
            _ => {}
        }
    }
    Ok(false)
}

/// Handles one datagram of replies to request `seq` from port `port`:
/// payloads go to `on_msg`; returns true at NLMSG_DONE. Messages of
/// another request or port are skipped.
pub fn process_datagram(datagram: &[u8], seq: u32, port: u32, on_msg: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<bool> {
    for msg in messages(datagram) {
        let msg = msg?;
        if msg.seq != seq || msg.port != port {
            continue;
        }
        match msg.kind {
            NLMSG_DONE => {
                // Old kernels sent an empty DONE: treat it as 0.
                let code = if msg.payload.is_empty() { 0 } else { reply_errno(msg.payload, "NLMSG_DONE")? };
                if code < 0 {
                    let errno = code.checked_neg().unwrap_or(libc::EIO);
                    return Err(Error::new(errno, format!("sock_diag dump failed in the kernel: {}", crate::error::describe_errno(errno))));
                }
                return Ok(true);
            }
            NLMSG_ERROR => {
                let code = reply_errno(msg.payload, "NLMSG_ERROR")?;
                if code == 0 {
                    continue; // an acknowledgement
                }
                let errno = code.checked_neg().filter(|e| *e > 0).unwrap_or(libc::EIO);
                return Err(Error::new(errno, format!("sock_diag request refused: {}", crate::error::describe_errno(errno))));
            }
            NLMSG_OVERRUN => return Err(Error::new(libc::ENOBUFS, "sock_diag reply overran the socket buffer")),
            NLMSG_NOOP => continue,
            _ => on_msg(msg.payload)?,
        }
    }
    Ok(false)
}

impl DiagSocket {
    /// Receives one whole datagram into `self.buf`; returns its length and
    /// whether the kernel sent it. Sizes it first with MSG_PEEK|MSG_TRUNC
    /// so nothing is cut off.
    fn receive(&mut self) -> Result<(usize, bool)> {
        let mut empty: &mut [u8] = &mut [];
        let (size, _) = retry(|| self.socket.recv_from(&mut empty, libc::MSG_PEEK | libc::MSG_TRUNC))
            .map_err(|e| Error::io(&e, "size a sock_diag reply"))?;
        if size > self.buf.capacity() {
            self.buf.reserve(size);
        }
        self.buf.clear();
        let buf = &mut self.buf;
        let (got, from) = retry(|| {
            buf.clear();
            self.socket.recv_from(buf, 0)
        })
        .map_err(|e| Error::io(&e, "receive a sock_diag reply"))?;
        if got > self.buf.len() {
            return Err(Error::new(libc::EMSGSIZE, format!("sock_diag reply of {got} bytes truncated to {}", self.buf.len())));
        }
        Ok((got, from.port_number() == 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message: header (len, type, flags, seq, port) then payload, padded.
    pub(crate) fn msg(kind: u16, seq: u32, port: u32, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((NLMSG_HDRLEN + payload.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&NLM_F_MULTI.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&port.to_ne_bytes());
        m.extend_from_slice(payload);
        m.resize(align(m.len()), 0);
        m
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
    fn walks_attributes_and_refuses_lying_lengths() {
        // len 6, type 3 (with the nested bit set), payload "hi", 2 pad bytes;
        // then len 4, type 1, empty.
        let a = [6, 0, 3, 0x80, b'h', b'i', 0, 0, 4, 0, 1, 0];
        let got: Vec<Attr> = attributes(&a).map(Result::unwrap).collect();
        assert_eq!(got, vec![Attr { kind: 3, payload: b"hi" }, Attr { kind: 1, payload: b"" }]);
        assert!(attributes(&[9, 0, 1, 0, 0]).next().unwrap().is_err(), "claims 9 of 5");
        assert!(attributes(&[2, 0, 1, 0]).next().unwrap().is_err(), "shorter than its header");
        assert!(attributes(&[4, 0]).next().unwrap().is_err(), "stray bytes");
    }

    #[test]
    fn datagram_handling_skips_foreign_replies_and_maps_errors() {
        let mut seen = Vec::new();
        let mut d = msg(20, 5, 9, b"other request");
        d.extend(msg(20, 4, 8, b"other port"));
        d.extend(msg(20, 4, 9, b"ours"));
        d.extend(msg(NLMSG_NOOP, 4, 9, b""));
        let done = process_datagram(&d, 4, 9, &mut |p| {
            seen.push(p.to_vec());
            Ok(())
        })
        .unwrap();
        assert!(!done);
        assert_eq!(seen, vec![b"ours".to_vec()]);
        let done = process_datagram(&msg(NLMSG_DONE, 4, 9, &0i32.to_ne_bytes()), 4, 9, &mut |_| Ok(())).unwrap();
        assert!(done);
        // NLMSG_ERROR carries -errno and the request header.
        let mut err = (-libc::ENOENT).to_ne_bytes().to_vec();
        err.extend_from_slice(&[0; 16]);
        let e = process_datagram(&msg(NLMSG_ERROR, 4, 9, &err), 4, 9, &mut |_| Ok(())).unwrap_err();
        assert_eq!(e.errno(), libc::ENOENT);
        // An acknowledgement (error 0) is not an error.
        let ack = process_datagram(&msg(NLMSG_ERROR, 4, 9, &[0; 20]), 4, 9, &mut |_| Ok(())).unwrap();
        assert!(!ack);
        // A negative done code, a truncated error and an overrun are errors.
        let e = process_datagram(&msg(NLMSG_DONE, 4, 9, &(-libc::EINTR).to_ne_bytes()), 4, 9, &mut |_| Ok(())).unwrap_err();
        assert_eq!(e.errno(), libc::EINTR);
        assert_eq!(process_datagram(&msg(NLMSG_ERROR, 4, 9, &[1]), 4, 9, &mut |_| Ok(())).unwrap_err().errno(), libc::EBADMSG);
        assert_eq!(process_datagram(&msg(NLMSG_OVERRUN, 4, 9, b""), 4, 9, &mut |_| Ok(())).unwrap_err().errno(), libc::ENOBUFS);
        // The callback's error stops the walk.
        let e = process_datagram(&msg(20, 4, 9, b"x"), 4, 9, &mut |_| Err(Error::malformed("bad"))).unwrap_err();
        assert_eq!(e.message(), "bad");
    }

    #[test]
    fn the_end_of_a_dump_is_seen_from_headers_alone() {
        let mut d = msg(20, 4, 9, b"ours");
        d.extend(msg(NLMSG_DONE, 5, 9, &0i32.to_ne_bytes())); // another request's end
        assert!(!ends_dump(&d, 4, 9).unwrap());
        d.extend(msg(NLMSG_DONE, 4, 9, &0i32.to_ne_bytes()));
        assert!(ends_dump(&d, 4, 9).unwrap());
        let mut err = (-libc::EPERM).to_ne_bytes().to_vec();
        err.extend_from_slice(&[0; 16]);
        assert!(ends_dump(&msg(NLMSG_ERROR, 4, 9, &err), 4, 9).unwrap());
        assert!(!ends_dump(&msg(NLMSG_ERROR, 4, 9, &[0; 20]), 4, 9).unwrap(), "an ack does not end a dump");
        assert!(ends_dump(&msg(NLMSG_OVERRUN, 4, 9, b""), 4, 9).unwrap());
        // A lying length is an error here too.
        let mut lying = msg(20, 4, 9, b"ours");
        lying[0] = 200;
        assert_eq!(ends_dump(&lying, 4, 9).unwrap_err().errno(), libc::EBADMSG);
    }

    #[test]
    fn request_is_header_then_body() {
        let r = dump_request(42, &[1, 2, 3, 4]);
        assert_eq!(r.len(), 20);
        assert_eq!(&r[0..4], &20u32.to_ne_bytes());
        assert_eq!(&r[4..6], &SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        assert_eq!(&r[6..8], &0x301u16.to_ne_bytes());
        assert_eq!(&r[8..12], &42u32.to_ne_bytes());
        assert_eq!(&r[16..], &[1, 2, 3, 4]);
    }

    fn unix_listener_dump(sock: &mut DiagSocket) -> Vec<(u32, usize)> {
        let body = crate::net::DiagRequest::Unix.body();
        let mut out = Vec::new();
        sock.dump(&body, &mut |p| {
            let s = crate::net::diag::parse_unix(p)?;
            out.push((s.ino, s.unix().map(|u| u.icons.len()).unwrap_or(0)));
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn replies_larger_than_the_first_buffer_are_not_lost_and_strangers_are_ignored() {
        use std::os::unix::fs::MetadataExt;
        use std::os::unix::net::{UnixListener, UnixStream};
        let dir = crate::pstree::tests::temp_dir("nlbig");
        let path = dir.join("l.sock");
        let listener = UnixListener::bind(&path).unwrap();
        // SAFETY: listen(2) on our socket to raise its backlog.
        assert_eq!(unsafe { libc::listen(std::os::fd::AsRawFd::as_raw_fd(&listener), 300) }, 0);
        let clients: Vec<UnixStream> = (0..200).map(|_| UnixStream::connect(&path).unwrap()).collect();
        let ino = std::fs::metadata(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&listener))).unwrap().ino() as u32;
        // A 64-byte first buffer against an 800-byte icons attribute.
        let mut small = DiagSocket::with_buffer(64).unwrap();
        // Another socket of ours sends a fake "done" to `small` first.
        let stranger = DiagSocket::new().unwrap();
        let fake = msg(NLMSG_DONE, 1, small.port(), &0i32.to_ne_bytes());
        stranger.socket.send_to(&fake, &SocketAddr::new(small.port(), 0), 0).unwrap();
        let got = unix_listener_dump(&mut small);
        assert_eq!(got.iter().find(|(i, _)| *i == ino).map(|x| x.1), Some(200), "all 200 pending connections");
        assert!(small.buf.capacity() > 64);
        // Again on the same socket: a new sequence number, same answer.
        let again = unix_listener_dump(&mut small);
        assert_eq!(again.iter().find(|(i, _)| *i == ino).map(|x| x.1), Some(200));
        drop(clients);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn kernel_errors_come_back_as_errno() {
        let mut s = DiagSocket::new().unwrap();
        // Family 99 has no diag handler.
        let e = s.dump(&[99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], &mut |_| Ok(())).unwrap_err();
        assert!(e.errno() == libc::EINVAL || e.errno() == libc::ENOENT, "{e}");
    }
}
