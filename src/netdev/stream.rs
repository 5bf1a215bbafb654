//! The `ip ... save` streams CRIU keeps as ifaddr-N.img, route-N.img,
//! route6-N.img and rule-N.img: iproute2's 4-byte magic (native byte
//! order), then the kernel's replies, each exactly `nlmsg_len` bytes,
//! header included, as they came from the dump. `ip ... restore` and
//! `ip ... showdump` read them; CRIU's image has no framing of its own
//! (RAW_IMAGE_MAGIC).

use crate::error::{Error, Result};
use crate::netlink::message::nlmsghdr;

/// `ip addr save`.
pub const IFADDR_MAGIC: u32 = 0x4736_1222;
/// `ip route save` and `ip -6 route save`.
pub const ROUTE_MAGIC: u32 = 0x4531_1224;
/// `ip rule save`.
pub const RULE_MAGIC: u32 = 0x7170_6986;

/// One stream being written, or read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    bytes: Vec<u8>,
    count: usize,
}

impl Stream {
    pub fn new(magic: u32) -> Stream {
        Stream { bytes: magic.to_ne_bytes().to_vec(), count: 0 }
    }

    /// Appends one message as received (`nlmsg_len` bytes).
    pub fn push(&mut self, raw: &[u8]) {
        self.bytes.extend_from_slice(raw);
        self.count += 1;
    }

    pub fn magic(&self) -> u32 {
        u32::from_ne_bytes([self.bytes[0], self.bytes[1], self.bytes[2], self.bytes[3]])
    }

    /// The whole stream: magic, then the messages.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// How many messages it holds.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Reads a stream back (CRIU's image, or ours), checking the magic and
    /// every message length; `what` names it in errors.
    pub fn parse(bytes: &[u8], magic: u32, what: &str) -> Result<Stream> {
        let got = bytes.get(..4).map(|m| u32::from_ne_bytes([m[0], m[1], m[2], m[3]]));
        if got != Some(magic) {
            return Err(Error::malformed(format!(
                "{what}: magic {}, expected {magic:#010x}",
                got.map(|g| format!("{g:#010x}")).unwrap_or_else(|| format!("missing ({} bytes)", bytes.len()))
            )));
        }
        let count = split(&bytes[4..], what)?.len();
        Ok(Stream { bytes: bytes.to_vec(), count })
    }

    /// The messages, each `nlmsg_len` bytes, header included; an error if
    /// something pushed was not a whole message.
    pub fn messages(&self) -> Result<Vec<&[u8]>> {
        split(&self.bytes[4..], "stream")
    }
}

/// Splits back-to-back messages as `ip ... restore` reads them: a header,
/// then `nlmsg_len` bytes in all.
fn split<'a>(mut rest: &'a [u8], what: &str) -> Result<Vec<&'a [u8]>> {
    let mut out = Vec::new();
    while !rest.is_empty() {
        if rest.len() < nlmsghdr::LEN {
            return Err(Error::malformed(format!("{what}: message {} is cut off after {} bytes", out.len(), rest.len())));
        }
        let len = nlmsghdr::NLMSG_LEN.get(rest) as usize;
        if len < nlmsghdr::LEN || len > rest.len() {
            return Err(Error::malformed(format!(
                "{what}: message {} claims {len} bytes but {} remain",
                out.len(),
                rest.len()
            )));
        }
        out.push(&rest[..len]);
        rest = &rest[len..];
    }
    Ok(out)
}
