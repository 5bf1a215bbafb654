//! A netlink socket of any protocol (netlink-sys underneath) and the one
//! dump loop: send a request, receive each datagram whole, hand its
//! messages to [`process_datagram`](super::process_datagram) until the
//! dump ends.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use netlink_sys::{Socket, SocketAddr};

use super::message::{ends_dump, process_messages, NlMsg};
use super::{DumpKind, Exchange, Protocol, Request};
use crate::error::{Error, Result};

/// The first receive buffer: room for the largest skb a dump without a
/// larger `min_dump_alloc` can build (32 KiB, see [`dump_datagram_bound`]),
/// so the kernel fills whole chunks; grown when a datagram is larger (a
/// unix listener with many pending connections, on a socket that sizes
/// its replies).
pub const DEFAULT_BUFFER: usize = 32 * 1024;

/// The largest dump datagram the kernel builds for a receiver whose
/// receive buffers are at least this large, when the protocol's dump
/// handlers set no larger `min_dump_alloc`: `netlink_dump` allocates
/// max(min_dump_alloc, NLMSG_GOODSIZE, the receiver's largest recvmsg
/// length capped at SKB_WITH_OVERHEAD(32 KiB)) and trims the skb to
/// that size (since Linux 4.4; NLMSG_GOODSIZE is at most 8 KiB, on
/// 64 KiB pages). So on such a socket a receive buffer of at least
/// NLMSG_GOODSIZE bounds every dump datagram by its own length.
const GOODSIZE_BOUND: usize = 8 * 1024;

/// Whether a receive buffer of `capacity` bytes holds every datagram the
/// kernel sends on a `protocol` socket for our requests, so receives need
/// no sizing. sock_diag: the unix, inet, raw, packet and netlink diag
/// dumps set no min_dump_alloc (inet_diag raises it only for the BPF
/// socket storage we never ask for), and its errors and acks echo our
/// short requests. rtnetlink: no, a link dump's min_dump_alloc is its
/// largest device's message (rtnl_calcit), which can pass 32 KiB
/// (devices with many virtual functions); nfnetlink: not audited, so no.
pub fn dump_datagram_bound(protocol: Protocol, capacity: usize) -> bool {
    protocol == Protocol::SOCK_DIAG && capacity >= GOODSIZE_BOUND
}

/// How a socket receives a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sizing {
    /// One recvmsg(MSG_TRUNC) straight into the buffer: the kernel's
    /// datagrams cannot be larger ([`dump_datagram_bound`]); one that is
    /// anyway is detected by its true length and is an error.
    Direct,
    /// recvmsg(MSG_PEEK | MSG_TRUNC) first to size each datagram, then
    /// the receive: nothing can be cut off.
    Peek,
}

/// A netlink socket bound to the network namespace it was made in, with
/// its own sequence numbers and receive buffer. Never cloned: a clone of
/// a `netlink_sys::Socket` would close the same descriptor twice.
pub struct NlSocket {
    socket: Socket,
    protocol: Protocol,
    port: u32,
    seq: u32,
    buf: Vec<u8>,
    /// The receive buffer's length for every recvmsg: never less than any
    /// passed before, since the kernel sizes a dump's datagrams by the
    /// largest (netlink_recvmsg's max_recvmsg_len only grows).
    room: usize,
    sizing: Sizing,
}

impl std::fmt::Debug for NlSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NlSocket").field("protocol", &self.protocol.name).field("port", &self.port).field("seq", &self.seq).finish()
    }
}

impl AsFd for NlSocket {
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

impl NlSocket {
    /// A socket of `protocol` in the calling thread's network namespace.
    pub fn new(protocol: Protocol) -> Result<NlSocket> {
        Self::with_buffer(protocol, DEFAULT_BUFFER)
    }

    /// As `new`, with a first receive buffer of `capacity` bytes (tests use
    /// a tiny one to prove replies larger than it are not lost). A buffer
    /// too small to bound the kernel's datagrams ([`dump_datagram_bound`])
    /// sizes each datagram before it is received.
    pub fn with_buffer(protocol: Protocol, capacity: usize) -> Result<NlSocket> {
        let sizing = if dump_datagram_bound(protocol, capacity) { Sizing::Direct } else { Sizing::Peek };
        Self::open(protocol, capacity, sizing)
    }

    fn open(protocol: Protocol, capacity: usize, sizing: Sizing) -> Result<NlSocket> {
        let name = protocol.name;
        let mut socket = Socket::new(protocol.number).map_err(|e| Error::io(&e, format!("create a {name} netlink socket")))?;
        let addr = socket.bind_auto().map_err(|e| Error::io(&e, format!("bind the {name} netlink socket")))?;
        Ok(NlSocket { socket, protocol, port: addr.port_number(), seq: 0, buf: Vec::with_capacity(capacity), room: capacity, sizing })
    }

    /// A socket that receives straight into a `capacity`-byte buffer
    /// whatever the kernel may send (tests: a truncation is detected).
    #[cfg(test)]
    pub(crate) fn direct_with_buffer(protocol: Protocol, capacity: usize) -> Result<NlSocket> {
        Self::open(protocol, capacity, Sizing::Direct)
    }

    /// Whether each datagram is sized before it is received.
    pub fn sizes_each_datagram(&self) -> bool {
        self.sizing == Sizing::Peek
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Our netlink port id: replies to us carry it.
    pub fn port(&self) -> u32 {
        self.port
    }

    /// Asks the kernel to check dump requests strictly
    /// (NETLINK_GET_STRICT_CHK, as iproute2 does): a dump filtered by its
    /// request's attributes (a route table) is filtered by the kernel,
    /// whose replies then carry NLM_F_DUMP_FILTERED. False when the
    /// kernel is too old to know the option (before 4.20).
    pub fn set_strict_check(&mut self) -> Result<bool> {
        match self.socket.set_netlink_get_strict_chk(true) {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => Ok(false),
            Err(e) => Err(Error::io(&e, format!("set NETLINK_GET_STRICT_CHK on the {} socket", self.protocol.name))),
        }
    }

    /// Sends `req` and hands every reply's payload (fixed header, then
    /// attributes) to `on_msg`, until the dump ends. NLMSG_ERROR, a
    /// negative done code and an overrun are errors with the kernel's
    /// errno; messages of another sequence number or port, and datagrams
    /// not from the kernel, are ignored. A query ([`Exchange::Query`])
    /// ends with the kernel's acknowledgement instead.
    pub fn dump(&mut self, req: &Request, on_msg: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
        self.dump_messages(req, &mut |msg| on_msg(msg.payload))
    }

    /// As [`dump`](Self::dump), handing each reply whole: header fields,
    /// payload and the raw message (what `ip ... save` writes).
    pub fn dump_messages(&mut self, req: &Request, on_msg: &mut dyn FnMut(&NlMsg) -> Result<()>) -> Result<()> {
        let seq = self.send(req)?;
        loop {
            let (len, from_kernel) = self.receive_for(&req.kind, seq)?;
            if from_kernel && process_messages(req.exchange, &req.kind, &self.buf[..len], seq, self.port, on_msg)? {
                return Ok(());
            }
        }
    }

    /// Sends `req` and hands each whole datagram of its reply, unparsed,
    /// to `on_datagram` with the request's sequence number, through the
    /// one that ends the dump. [`process_datagram`](super::process_datagram) parses them later,
    /// possibly on another thread, so parsing overlaps the kernel's work
    /// of filling the next datagram.
    pub fn dump_datagrams(&mut self, req: &Request, on_datagram: &mut dyn FnMut(u32, &[u8])) -> Result<()> {
        self.dump_datagram_buffers(req, &mut |seq, datagram| {
            on_datagram(seq, &datagram);
            Some(datagram)
        })
    }

    /// As [`dump_datagrams`](Self::dump_datagrams), handing each datagram
    /// over in the buffer it was received in (its length is the
    /// datagram's), so that another thread can parse it without a copy.
    /// `on_datagram` gives back a buffer to receive the next one into (an
    /// emptied one it is done with), or none for a new one.
    pub fn dump_datagram_buffers(&mut self, req: &Request, on_datagram: &mut dyn FnMut(u32, Vec<u8>) -> Option<Vec<u8>>) -> Result<()> {
        if req.exchange != Exchange::Dump {
            return Err(Error::invalid(format!("the {} query is not a dump", req.kind.name)));
        }
        let seq = self.send(req)?;
        loop {
            let (len, from_kernel) = self.receive_for(&req.kind, seq)?;
            if !from_kernel {
                continue;
            }
            let last = ends_dump(&req.kind, &self.buf[..len], seq, self.port)?;
            let full = std::mem::take(&mut self.buf);
            self.buf = on_datagram(seq, full).unwrap_or_default();
            if last {
                return Ok(());
            }
        }
    }

    fn send(&mut self, req: &Request) -> Result<u32> {
        let name = self.protocol.name;
        if req.kind.protocol != self.protocol {
            return Err(Error::invalid(format!("a {} {} request sent on a {name} socket", req.kind.protocol.name, req.kind.name)));
        }
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let bytes = req.encode(seq);
        let kernel = SocketAddr::new(0, 0);
        let sent = retry(|| self.socket.send_to(&bytes, &kernel, 0)).map_err(|e| Error::io(&e, format!("send a {name} {} request", req.kind.name)))?;
        if sent != bytes.len() {
            return Err(Error::new(libc::EIO, format!("sent {sent} of {} bytes of a {name} request", bytes.len())));
        }
        Ok(seq)
    }

    /// Receives one whole datagram into `self.buf`; returns its length and
    /// whether the kernel sent it. A socket whose buffer bounds the
    /// kernel's datagrams receives straight into it (one system call);
    /// another sizes each datagram first with MSG_PEEK|MSG_TRUNC. Either
    /// way MSG_TRUNC makes the kernel report a datagram's true length, so
    /// a datagram cut off is never taken for a whole one: a stranger's is
    /// ignored as any stranger's is; the kernel's is an error naming it,
    /// after which the socket grows its buffer and sizes every datagram,
    /// so the next request is received whole.
    fn receive(&mut self) -> Result<(usize, bool)> {
        self.receive_with(0)
    }

    /// [`receive`](Self::receive) with more recvmsg flags (MSG_DONTWAIT).
    fn receive_with(&mut self, flags: libc::c_int) -> Result<(usize, bool)> {
        let name = self.protocol.name;
        if self.sizing == Sizing::Peek {
            let mut empty: &mut [u8] = &mut [];
            let (size, _) = retry(|| self.socket.recv_from(&mut empty, flags | libc::MSG_PEEK | libc::MSG_TRUNC))
                .map_err(|e| Error::io(&e, format!("size a {name} reply")))?;
            self.room = self.room.max(size);
        }
        self.buf.clear();
        self.buf.reserve(self.room);
        // recvmsg is given the whole capacity, which may be more.
        self.room = self.buf.capacity();
        let buf = &mut self.buf;
        let (got, from) = retry(|| {
            buf.clear();
            self.socket.recv_from(buf, flags | libc::MSG_TRUNC)
        })
        .map_err(|e| Error::io(&e, format!("receive a {name} reply")))?;
        let from_kernel = from.port_number() == 0;
        let kept = self.buf.len();
        if got > kept {
            if !from_kernel {
                return Ok((0, false));
            }
            self.sizing = Sizing::Peek;
            self.room = self.room.max(got);
            return Err(Error::new(
                libc::EMSGSIZE,
                format!("{name} reply of {got} bytes truncated to the {kept}-byte receive buffer: the rest of that reply is lost"),
            ));
        }
        Ok((got, from_kernel))
    }

    /// A receive for dump `seq` of `kind`: a datagram cut off is an error,
    /// and the rest of its dump is drained first, so that the socket can
    /// take its next request (the kernel refuses a dump on a socket whose
    /// last one still runs, EBUSY).
    fn receive_for(&mut self, kind: &DumpKind, seq: u32) -> Result<(usize, bool)> {
        match self.receive() {
            Err(e) if e.errno() == libc::EMSGSIZE => {
                self.drain(kind, seq);
                Err(e)
            }
            other => other,
        }
    }

    /// Receives and drops what is left of dump `seq`, without waiting:
    /// the kernel builds a running dump's next datagram inside the
    /// recvmsg that dequeues the one before (netlink_recvmsg calls
    /// netlink_dump), so an empty queue (EAGAIN) means the dump is over,
    /// its end having been in the datagram that was cut off.
    fn drain(&mut self, kind: &DumpKind, seq: u32) {
        loop {
            match self.receive_with(libc::MSG_DONTWAIT) {
                Ok((len, true)) => {
                    if ends_dump(kind, &self.buf[..len], seq, self.port).unwrap_or(true) {
                        return;
                    }
                }
                Ok((_, false)) => {}
                Err(_) => return,
            }
        }
    }

    /// Sends raw bytes to another netlink port (tests: a stranger's fake
    /// reply).
    #[cfg(test)]
    pub(crate) fn send_to_port(&self, port: u32, bytes: &[u8]) -> Result<()> {
        self.socket.send_to(bytes, &SocketAddr::new(port, 0), 0).map_err(|e| Error::io(&e, "send to a netlink port"))?;
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }
}
