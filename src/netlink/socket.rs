//! A netlink socket of any protocol (netlink-sys underneath) and the one
//! dump loop: send a request, receive each datagram whole, hand its
//! messages to [`process_datagram`](super::process_datagram) until the
//! dump ends.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use netlink_sys::{Socket, SocketAddr};

use super::message::{ends_dump, process_messages, NlMsg};
use super::{Exchange, Protocol, Request};
use crate::error::{Error, Result};

/// The first receive buffer: enough for the kernel's largest dump skb
/// (32 KiB), so the kernel fills whole chunks; grown when a datagram is
/// larger (a unix listener with many pending connections).
pub const DEFAULT_BUFFER: usize = 32 * 1024;

/// A netlink socket bound to the network namespace it was made in, with
/// its own sequence numbers and receive buffer. Never cloned: a clone of
/// a `netlink_sys::Socket` would close the same descriptor twice.
pub struct NlSocket {
    socket: Socket,
    protocol: Protocol,
    port: u32,
    seq: u32,
    buf: Vec<u8>,
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
    /// a tiny one to prove replies larger than it are not lost).
    pub fn with_buffer(protocol: Protocol, capacity: usize) -> Result<NlSocket> {
        let name = protocol.name;
        let mut socket = Socket::new(protocol.number).map_err(|e| Error::io(&e, format!("create a {name} netlink socket")))?;
        let addr = socket.bind_auto().map_err(|e| Error::io(&e, format!("bind the {name} netlink socket")))?;
        Ok(NlSocket { socket, protocol, port: addr.port_number(), seq: 0, buf: Vec::with_capacity(capacity) })
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
            let (len, from_kernel) = self.receive()?;
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
        if req.exchange != Exchange::Dump {
            return Err(Error::invalid(format!("the {} query is not a dump", req.kind.name)));
        }
        let seq = self.send(req)?;
        loop {
            let (len, from_kernel) = self.receive()?;
            if !from_kernel {
                continue;
            }
            let datagram = &self.buf[..len];
            let last = ends_dump(&req.kind, datagram, seq, self.port)?;
            on_datagram(seq, datagram);
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
    /// whether the kernel sent it. Sizes it first with MSG_PEEK|MSG_TRUNC
    /// so nothing is cut off.
    fn receive(&mut self) -> Result<(usize, bool)> {
        let name = self.protocol.name;
        let mut empty: &mut [u8] = &mut [];
        let (size, _) = retry(|| self.socket.recv_from(&mut empty, libc::MSG_PEEK | libc::MSG_TRUNC))
            .map_err(|e| Error::io(&e, format!("size a {name} reply")))?;
        if size > self.buf.capacity() {
            self.buf.reserve(size);
        }
        let buf = &mut self.buf;
        let (got, from) = retry(|| {
            buf.clear();
            self.socket.recv_from(buf, 0)
        })
        .map_err(|e| Error::io(&e, format!("receive a {name} reply")))?;
        if got > self.buf.len() {
            return Err(Error::new(libc::EMSGSIZE, format!("{name} reply of {got} bytes truncated to {}", self.buf.len())));
        }
        Ok((got, from.port_number() == 0))
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
