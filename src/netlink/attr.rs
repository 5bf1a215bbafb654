//! The attribute walk (`struct nlattr` after a message's fixed header)
//! and the tally of attributes a parser does not know.

use super::bytes::{need, u32_array, U16, U32, U8};
use super::align;
use crate::error::{Error, Result};

/// `struct nlattr`: `nla_len` (header included), `nla_type`.
pub mod nlattr {
    use super::U16;
    pub const LEN: usize = 4;
    pub const NLA_LEN: U16 = U16(0);
    pub const NLA_TYPE: U16 = U16(2);
    /// NLA_F_NESTED | NLA_F_NET_BYTEORDER: flags, not part of the type.
    pub const TYPE_MASK: u16 = 0x3fff;
}

/// One attribute: its type (without the nested/byte-order bits) and
/// payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr<'a> {
    pub kind: u16,
    pub payload: &'a [u8],
}

impl<'a> Attr<'a> {
    /// The payload as one u8; `what` names the attribute in errors.
    #[inline]
    pub fn u8(&self, what: &str) -> Result<u8> {
        need(what, self.payload, 1)?;
        Ok(U8(0).get(self.payload))
    }

    /// The payload as one native-endian u16.
    pub fn u16(&self, what: &str) -> Result<u16> {
        need(what, self.payload, 2)?;
        Ok(U16(0).get(self.payload))
    }

    /// The payload as one native-endian u32.
    #[inline]
    pub fn u32(&self, what: &str) -> Result<u32> {
        need(what, self.payload, 4)?;
        Ok(U32(0).get(self.payload))
    }

    /// The payload as one native-endian i32 (IFLA_LINK_NETNSID,
    /// NETNSA_NSID).
    pub fn i32(&self, what: &str) -> Result<i32> {
        need(what, self.payload, 4)?;
        Ok(super::bytes::I32(0).get(self.payload))
    }

    /// A string attribute (IFLA_IFNAME, IFLA_INFO_KIND): the bytes before
    /// its terminating NUL, or all of them if the sender left it out.
    /// Bytes, not text: names are the target's choice.
    pub fn cstr(&self) -> &'a [u8] {
        self.payload.split(|&b| b == 0).next().unwrap_or(&[])
    }

    /// The attributes nested in this one (IFLA_LINKINFO, IFLA_INFO_DATA).
    pub fn nested(&self) -> Attrs<'a> {
        attributes(self.payload)
    }

    /// The payload as an array of native-endian u32.
    pub fn u32_array(&self, what: &str) -> Result<Box<[u32]>> {
        u32_array(what, self.payload)
    }

    /// The payload, checked to hold at least the `len`-byte layout `what`.
    #[inline]
    pub fn layout(&self, what: &str, len: usize) -> Result<&'a [u8]> {
        need(what, self.payload, len)?;
        Ok(self.payload)
    }
}

/// Walks the attributes that follow a fixed header inside a message;
/// stops at the first malformed one with an error, never reads past
/// its buffer.
#[derive(Debug, Clone)]
pub struct Attrs<'a> {
    rest: &'a [u8],
    failed: bool,
}

#[inline]
pub fn attributes(buf: &[u8]) -> Attrs<'_> {
    Attrs { rest: buf, failed: false }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<Attr<'a>>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let b = self.rest;
        if b.len() < nlattr::LEN {
            self.failed = true;
            return Some(Err(Error::malformed(format!("attribute area ends with {} stray bytes", b.len()))));
        }
        let len = nlattr::NLA_LEN.get(b) as usize;
        let kind = nlattr::NLA_TYPE.get(b) & nlattr::TYPE_MASK;
        if len < nlattr::LEN || len > b.len() {
            self.failed = true;
            return Some(Err(Error::malformed(format!(
                "attribute {kind} claims {len} bytes but {} remain in its message",
                b.len()
            ))));
        }
        self.rest = &b[align(len).min(b.len())..];
        Some(Ok(Attr { kind, payload: &b[nlattr::LEN..len] }))
    }
}

/// Appends one attribute (header, payload, padding) to a request body,
/// padding the body to netlink alignment first.
pub fn push(body: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    body.resize(align(body.len()), 0);
    let len = nlattr::LEN + payload.len();
    let at = body.len();
    body.resize(at + nlattr::LEN, 0);
    nlattr::NLA_LEN.set(&mut body[at..], len as u16);
    nlattr::NLA_TYPE.set(&mut body[at..], kind);
    body.extend_from_slice(payload);
    body.resize(align(body.len()), 0);
}

/// Attributes a parser met but does not read (newer kernels add them):
/// not fatal, not kept per record, but counted by type so that a
/// collection can say what it left unread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnknownAttrs {
    /// How many were met.
    pub count: u64,
    /// Bit `k` set: attribute type `k` (< 128) was met.
    pub kinds: u128,
    /// Some met type was 128 or more.
    pub high_kinds: bool,
}

impl UnknownAttrs {
    /// Notes one attribute of type `kind` that was not read.
    #[inline]
    pub fn note(&mut self, kind: u16) {
        self.count += 1;
        if kind < 128 {
            self.kinds |= 1 << kind;
        } else {
            self.high_kinds = true;
        }
    }

    /// Adds another tally to this one.
    pub fn add(&mut self, other: &UnknownAttrs) {
        self.count += other.count;
        self.kinds |= other.kinds;
        self.high_kinds |= other.high_kinds;
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The types met below 128, ascending.
    pub fn kinds(&self) -> impl Iterator<Item = u16> + '_ {
        (0..128u16).filter(|k| self.kinds & (1 << k) != 0)
    }
}

impl std::fmt::Display for UnknownAttrs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<String> = self.kinds().map(|k| k.to_string()).collect();
        write!(f, "{} unread attributes of types {}", self.count, kinds.join(", "))?;
        if self.high_kinds {
            f.write_str(if kinds.is_empty() { "128 and over" } else { " and 128 or over" })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut it = attributes(&[4, 0]);
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none(), "an error ends the walk");
    }

    #[test]
    fn pushed_attributes_walk_back() {
        let mut body = vec![7u8]; // a 1-byte header (rtgenmsg), padded
        push(&mut body, 3, &5u32.to_ne_bytes());
        push(&mut body, 1, b"ab");
        assert_eq!(body.len(), 4 + 8 + 8);
        let got: Vec<Attr> = attributes(&body[4..]).map(Result::unwrap).collect();
        assert_eq!(got, vec![Attr { kind: 3, payload: &5u32.to_ne_bytes() }, Attr { kind: 1, payload: b"ab" }]);
        assert_eq!(got[0].i32("X").unwrap(), 5);
        assert_eq!(got[1].u16("X").unwrap(), u16::from_ne_bytes(*b"ab"));
        assert_eq!(Attr { kind: 3, payload: b"eth0\0\0" }.cstr(), b"eth0");
        assert_eq!(Attr { kind: 3, payload: b"no-nul" }.cstr(), b"no-nul");
        let nest = [8, 0, 1, 0, 1, 0, 0, 0];
        assert_eq!(Attr { kind: 18, payload: &nest }.nested().next().unwrap().unwrap().u32("IFLA_INFO_KIND").unwrap(), 1);
    }

    #[test]
    fn typed_payloads_are_length_checked() {
        let a = Attr { kind: 7, payload: &[1, 0, 0] };
        assert_eq!(a.u8("X").unwrap(), 1);
        assert!(a.u32("UNIX_DIAG_UID").unwrap_err().message().starts_with("UNIX_DIAG_UID of 3 bytes"));
        assert!(a.u32_array("ICONS").is_err());
        assert!(a.layout("VFS", 8).is_err());
        assert_eq!(Attr { kind: 7, payload: &[] }.u8("X").unwrap_err().errno(), libc::EBADMSG);
    }

    #[test]
    fn unknown_attributes_are_counted_by_type() {
        let mut u = UnknownAttrs::default();
        assert!(u.is_empty());
        u.note(21);
        u.note(22);
        u.note(21);
        let mut v = UnknownAttrs::default();
        v.note(300);
        u.add(&v);
        assert_eq!((u.count, u.kinds().collect::<Vec<_>>(), u.high_kinds), (4, vec![21, 22], true));
        assert_eq!(u.to_string(), "4 unread attributes of types 21, 22 and 128 or over");
    }
}
