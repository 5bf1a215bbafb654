//! Netlink: one layer under every protocol criurs speaks (sock_diag for
//! sockets, rtnetlink for devices, addresses, routes and rules), as
//! CRIU's `libnetlink.c` (`do_rtnl_req`, `nlmsg_receive`) is under its
//! dumps, on netlink-sys.
//!
//! - [`bytes`]: named fields of fixed layouts (the one set of readers).
//! - [`message`]: the message walk and [`message::step`], the one place
//!   that decides data / skip / end / error for a message.
//! - [`attr`]: the attribute walk and the tally of unread attributes.
//! - [`socket`]: [`NlSocket`], one socket type for every protocol, and
//!   the dump loop.
//! - [`route`]: the rtnetlink dumps (links, addresses, routes, rules,
//!   namespace ids) as one list.
//! - [`netfilter`]: the NETLINK_NETFILTER dumps (nftables tables,
//!   conntrack entries and expectations) as one list.
//!
//! A dump is a [`Request`]: a [`DumpKind`] (protocol, message types,
//! reply header) and its body. Every length is checked before it is
//! read: a message header against the bytes received, its `nlmsg_len`
//! against what is left, each attribute against its message. No reply
//! is lost to truncation unnoticed: a sock_diag socket receives each
//! datagram straight into a buffer the kernel's dump datagrams cannot
//! outgrow (the bound is in [`socket::dump_datagram_bound`]), other
//! protocols size each one with `MSG_PEEK | MSG_TRUNC` first, and
//! every receive asks for the true length (`MSG_TRUNC`), so a datagram
//! cut off anyway is an error, never a short reply.

pub mod attr;
pub mod bytes;
pub mod message;
pub mod netfilter;
pub mod route;
pub mod socket;

pub use attr::{attributes, Attr, Attrs, UnknownAttrs};
pub use message::{
    ends_dump, messages, process_datagram, process_messages, step, step_in, Messages, NlMsg, Step, NLMSG_DONE, NLMSG_ERROR,
    NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_FILTERED, NLM_F_DUMP_INTR, NLM_F_MULTI, NLM_F_REQUEST,
};
pub use socket::{dump_datagram_bound, NlSocket, DEFAULT_BUFFER};

use crate::error::Result;

/// Netlink's 4-byte alignment (NLMSG_ALIGN / NLA_ALIGN).
pub const fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// A netlink protocol: the number `socket(AF_NETLINK, _, number)` takes
/// and a name for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocol {
    pub number: isize,
    pub name: &'static str,
}

impl Protocol {
    pub const SOCK_DIAG: Protocol = Protocol { number: netlink_sys::protocols::NETLINK_SOCK_DIAG, name: "sock_diag" };
    pub const ROUTE: Protocol = Protocol { number: netlink_sys::protocols::NETLINK_ROUTE, name: "rtnetlink" };
    pub const NETFILTER: Protocol = Protocol { number: netlink_sys::protocols::NETLINK_NETFILTER, name: "nfnetlink" };
}

/// One kind of dump: what is sent and what comes back. The entries of
/// the protocol rooms' lists (`net::DiagRequest::kind`,
/// [`route::ALL`]) are values of this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DumpKind {
    /// For messages: "unix", "tcp4", "link", ...
    pub name: &'static str,
    pub protocol: Protocol,
    /// `nlmsg_type` of the request (SOCK_DIAG_BY_FAMILY, RTM_GETLINK, ...).
    pub request_type: u16,
    /// `nlmsg_type` of each reply (SOCK_DIAG_BY_FAMILY, RTM_NEWLINK, ...).
    pub reply_type: u16,
    /// The fixed header that begins each reply's payload, by its C name
    /// ("unix_diag_msg", "ifinfomsg", ...), and its size; attributes
    /// follow it, aligned.
    pub header_name: &'static str,
    pub reply_header: usize,
}

impl DumpKind {
    /// A dump request of this kind with `body` (the request's fixed
    /// header, and attributes if any) after the netlink header.
    pub fn request(self, body: Vec<u8>) -> Request {
        Request { kind: self, body, exchange: Exchange::Dump }
    }

    /// A one-reply request of this kind (RTM_GETNSID, ...), sent with
    /// NLM_F_ACK: its replies end with the kernel's acknowledgement.
    pub fn query(self, body: Vec<u8>) -> Request {
        Request { kind: self, body, exchange: Exchange::Query }
    }

    /// The one message walk: splits a reply's payload into its fixed
    /// header (checked to be `reply_header` bytes) and its attributes.
    #[inline]
    pub fn split<'a>(&self, payload: &'a [u8]) -> Result<(&'a [u8], Attrs<'a>)> {
        bytes::need(self.header_name, payload, self.reply_header)?;
        let (header, rest) = payload.split_at(self.reply_header);
        Ok((header, attributes(rest.get(align(self.reply_header) - self.reply_header..).unwrap_or(&[]))))
    }
}

/// How a request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// NLM_F_REQUEST | NLM_F_DUMP: replies until NLMSG_DONE.
    Dump,
    /// NLM_F_REQUEST | NLM_F_ACK: replies until the acknowledgement.
    Query,
}

/// One request: its kind, body and exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub kind: DumpKind,
    pub body: Vec<u8>,
    pub exchange: Exchange,
}

impl Request {
    /// The bytes sent for sequence number `seq`.
    pub fn encode(&self, seq: u32) -> Vec<u8> {
        let flags = match self.exchange {
            Exchange::Dump => NLM_F_REQUEST | NLM_F_DUMP,
            Exchange::Query => NLM_F_REQUEST | NLM_F_ACK,
        };
        message::emit(self.kind.request_type, flags, seq, &self.body)
    }
}

#[cfg(test)]
mod tests;
