//! The message walk (`struct nlmsghdr` after `struct nlmsghdr` in one
//! datagram) and the one place that decides what a message means for
//! the dump it answers: data, an acknowledgement, the end, or an error.

use super::bytes::{I32, U16, U32};
use super::{align, DumpKind, Exchange};
use crate::error::{describe_errno, Error, Result};

/// `struct nlmsghdr`.
pub mod nlmsghdr {
    use super::{U16, U32};
    pub const LEN: usize = 16;
    /// Length of the message, header included.
    pub const NLMSG_LEN: U32 = U32(0);
    pub const NLMSG_TYPE: U16 = U16(4);
    pub const NLMSG_FLAGS: U16 = U16(6);
    pub const NLMSG_SEQ: U32 = U32(8);
    /// Port id of the sender (0: the kernel).
    pub const NLMSG_PID: U32 = U32(12);
}

/// `struct nlmsgerr`: the payload of NLMSG_ERROR (and the code of an
/// NLMSG_DONE).
pub mod nlmsgerr {
    use super::I32;
    /// 0 for an acknowledgement, else a negative errno.
    pub const ERROR: I32 = I32(0);
    pub const CODE_LEN: usize = 4;
}

pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;
pub const NLM_F_REQUEST: u16 = 0x01;
pub const NLM_F_MULTI: u16 = 0x02;
pub const NLM_F_ACK: u16 = 0x04;
/// Set by the kernel on a dump reply when the dump was interrupted by a
/// change (the reply may be inconsistent).
pub const NLM_F_DUMP_INTR: u16 = 0x10;
/// Set by the kernel on a dump reply filtered by the request's
/// attributes (strict checking).
pub const NLM_F_DUMP_FILTERED: u16 = 0x20;
pub const NLM_F_DUMP: u16 = 0x300;

/// One message of a datagram: the header's fields, its payload, and the
/// whole message as received (`nlmsg_len` bytes, header included), which
/// is what `ip ... save` streams hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NlMsg<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub port: u32,
    pub payload: &'a [u8],
    pub raw: &'a [u8],
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

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let b = self.rest;
        if b.len() < nlmsghdr::LEN {
            self.failed = true;
            return Some(Err(Error::malformed(format!(
                "netlink datagram ends with {} bytes, less than a message header",
                b.len()
            ))));
        }
        let len = nlmsghdr::NLMSG_LEN.get(b) as usize;
        if len < nlmsghdr::LEN || len > b.len() {
            self.failed = true;
            return Some(Err(Error::malformed(format!(
                "netlink message claims {len} bytes but {} remain in the datagram",
                b.len()
            ))));
        }
        let msg = NlMsg {
            kind: nlmsghdr::NLMSG_TYPE.get(b),
            flags: nlmsghdr::NLMSG_FLAGS.get(b),
            seq: nlmsghdr::NLMSG_SEQ.get(b),
            port: nlmsghdr::NLMSG_PID.get(b),
            payload: &b[nlmsghdr::LEN..len],
            raw: &b[..len],
        };
        self.rest = &b[align(len).min(b.len())..];
        Some(Ok(msg))
    }
}

/// What one message means for the dump `seq` of `port` it may answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<'a> {
    /// A reply of the dump: its payload (fixed header, then attributes).
    Data(&'a [u8]),
    /// Nothing for the dump: another request's or port's message, a
    /// NOOP, an acknowledgement.
    Skip,
    /// The dump is over: NLMSG_DONE (`Ok`), or the kernel's error
    /// (NLMSG_ERROR, a negative done code, NLMSG_OVERRUN).
    End(std::result::Result<(), Error>),
}

fn code(msg: &NlMsg, what: &str) -> Result<i32> {
    if msg.payload.len() < nlmsgerr::CODE_LEN {
        return Err(Error::malformed(format!("{what} message of {} bytes has no error code", msg.payload.len())));
    }
    Ok(nlmsgerr::ERROR.get(msg.payload))
}

/// Decides what `msg` means for dump `seq` of `kind` on `port`. The
/// outer error is a malformed message; the kernel's own errors come as
/// `Step::End(Err(..))` with its errno.
pub fn step<'a>(kind: &DumpKind, msg: &NlMsg<'a>, seq: u32, port: u32) -> Result<Step<'a>> {
    step_in(Exchange::Dump, kind, msg, seq, port)
}

/// [`step`] for either exchange: in a [`Exchange::Query`] (a request sent
/// with NLM_F_ACK) the acknowledgement is the end; in a dump it is
/// nothing, and NLMSG_DONE is the end.
pub fn step_in<'a>(exchange: Exchange, kind: &DumpKind, msg: &NlMsg<'a>, seq: u32, port: u32) -> Result<Step<'a>> {
    if msg.seq != seq || msg.port != port {
        return Ok(Step::Skip);
    }
    let proto = kind.protocol.name;
    Ok(match msg.kind {
        NLMSG_NOOP => Step::Skip,
        NLMSG_DONE => {
            // Old kernels sent an empty DONE: treat it as 0.
            let done = if msg.payload.is_empty() { 0 } else { code(msg, "NLMSG_DONE")? };
            if done < 0 {
                let errno = done.checked_neg().unwrap_or(libc::EIO);
                Step::End(Err(Error::new(errno, format!("{proto} {} dump failed in the kernel: {}", kind.name, describe_errno(errno)))))
            } else {
                Step::End(Ok(()))
            }
        }
        NLMSG_ERROR => match code(msg, "NLMSG_ERROR")? {
            // An acknowledgement: the end of a query, nothing in a dump.
            0 if exchange == Exchange::Query => Step::End(Ok(())),
            0 => Step::Skip,
            err => {
                let errno = err.checked_neg().filter(|e| *e > 0).unwrap_or(libc::EIO);
                Step::End(Err(Error::new(errno, format!("{proto} {} request refused: {}", kind.name, describe_errno(errno)))))
            }
        },
        NLMSG_OVERRUN => Step::End(Err(Error::new(libc::ENOBUFS, format!("{proto} {} reply overran the socket buffer", kind.name)))),
        t if t == kind.reply_type => Step::Data(msg.payload),
        t => {
            return Err(Error::malformed(format!(
                "{proto} {} dump got a message of type {t}, not {}",
                kind.name, kind.reply_type
            )))
        }
    })
}

/// The common case, decided before [`step_in`]: a data reply of this
/// dump (what `step_in` would call `Step::Data`).
#[inline]
fn is_reply(kind: &DumpKind, msg: &NlMsg, seq: u32, port: u32) -> bool {
    msg.kind == kind.reply_type && msg.seq == seq && msg.port == port && kind.reply_type > NLMSG_OVERRUN
}

/// Handles one datagram of replies to dump `seq` of `kind` on `port`:
/// payloads go to `on_msg`; returns true at the end of the dump.
pub fn process_datagram(
    kind: &DumpKind,
    datagram: &[u8],
    seq: u32,
    port: u32,
    on_msg: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<bool> {
    process_messages(Exchange::Dump, kind, datagram, seq, port, &mut |msg| on_msg(msg.payload))
}

/// As [`process_datagram`], for either exchange, handing each reply
/// whole (header fields and raw bytes too) to `on_msg`.
pub fn process_messages(
    exchange: Exchange,
    kind: &DumpKind,
    datagram: &[u8],
    seq: u32,
    port: u32,
    on_msg: &mut dyn FnMut(&NlMsg) -> Result<()>,
) -> Result<bool> {
    for msg in messages(datagram) {
        let msg = msg?;
        if is_reply(kind, &msg, seq, port) {
            on_msg(&msg)?;
            continue;
        }
        match step_in(exchange, kind, &msg, seq, port)? {
            Step::Data(_) => on_msg(&msg)?,
            Step::Skip => {}
            Step::End(result) => return result.map(|()| true),
        }
    }
    Ok(false)
}

/// Whether a datagram holds the end of dump `seq` (done, error or
/// overrun), from its headers alone: a receiver can stop without
/// parsing the replies. Every length is checked.
pub fn ends_dump(kind: &DumpKind, datagram: &[u8], seq: u32, port: u32) -> Result<bool> {
    for msg in messages(datagram) {
        let msg = msg?;
        if is_reply(kind, &msg, seq, port) {
            continue;
        }
        if let Step::End(_) = step(kind, &msg, seq, port)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Emits one message: header (`len`, `kind`, `flags`, `seq`, port 0:
/// the kernel fills in ours) then `body`, padded to netlink alignment.
pub fn emit(kind: u16, flags: u16, seq: u32, body: &[u8]) -> Vec<u8> {
    let len = nlmsghdr::LEN + body.len();
    let mut out = vec![0u8; nlmsghdr::LEN];
    nlmsghdr::NLMSG_LEN.set(&mut out, len as u32);
    nlmsghdr::NLMSG_TYPE.set(&mut out, kind);
    nlmsghdr::NLMSG_FLAGS.set(&mut out, flags);
    nlmsghdr::NLMSG_SEQ.set(&mut out, seq);
    out.extend_from_slice(body);
    out.resize(align(len), 0);
    out
}
