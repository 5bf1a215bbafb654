//! Named fields of the kernel's fixed layouts (nlmsghdr, nlattr,
//! unix_diag_msg, ifinfomsg, ...): each field is a typed offset, so a
//! layout reads as its C struct and no code indexes a message by a bare
//! number. Readers index the slice they are given: callers check the
//! layout's length once first (see [`need`]), and a short slice panics
//! rather than reading past its end.

use crate::error::{Error, Result};

/// A `u8` field at this offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct U8(pub usize);
/// A native-endian `u16` field at this offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct U16(pub usize);
/// A big-endian (network order) `u16` field at this offset: ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Be16(pub usize);
/// A native-endian `u32` field at this offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct U32(pub usize);
/// A native-endian `i32` field at this offset: error and done codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct I32(pub usize);
/// `N` bytes at this offset: addresses, cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes<const N: usize>(pub usize);

impl U8 {
    #[inline]
    pub fn get(self, b: &[u8]) -> u8 {
        b[self.0]
    }
    #[inline]
    pub fn set(self, b: &mut [u8], v: u8) {
        b[self.0] = v;
    }
}

impl U16 {
    #[inline]
    pub fn get(self, b: &[u8]) -> u16 {
        u16::from_ne_bytes([b[self.0], b[self.0 + 1]])
    }
    #[inline]
    pub fn set(self, b: &mut [u8], v: u16) {
        b[self.0..self.0 + 2].copy_from_slice(&v.to_ne_bytes());
    }
}

impl Be16 {
    #[inline]
    pub fn get(self, b: &[u8]) -> u16 {
        u16::from_be_bytes([b[self.0], b[self.0 + 1]])
    }
    #[inline]
    pub fn set(self, b: &mut [u8], v: u16) {
        b[self.0..self.0 + 2].copy_from_slice(&v.to_be_bytes());
    }
}

impl U32 {
    #[inline]
    pub fn get(self, b: &[u8]) -> u32 {
        u32::from_ne_bytes([b[self.0], b[self.0 + 1], b[self.0 + 2], b[self.0 + 3]])
    }
    #[inline]
    pub fn set(self, b: &mut [u8], v: u32) {
        b[self.0..self.0 + 4].copy_from_slice(&v.to_ne_bytes());
    }
}

impl I32 {
    #[inline]
    pub fn get(self, b: &[u8]) -> i32 {
        i32::from_ne_bytes([b[self.0], b[self.0 + 1], b[self.0 + 2], b[self.0 + 3]])
    }
    #[inline]
    pub fn set(self, b: &mut [u8], v: i32) {
        b[self.0..self.0 + 4].copy_from_slice(&v.to_ne_bytes());
    }
}

impl<const N: usize> Bytes<N> {
    #[inline]
    pub fn get(self, b: &[u8]) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&b[self.0..self.0 + N]);
        out
    }
    #[inline]
    pub fn slice(self, b: &[u8]) -> &[u8] {
        &b[self.0..self.0 + N]
    }
    #[inline]
    pub fn set(self, b: &mut [u8], v: &[u8; N]) {
        b[self.0..self.0 + N].copy_from_slice(v);
    }
}

/// Refuses `bytes` shorter than the `len`-byte layout `what`.
pub fn need(what: &str, bytes: &[u8], len: usize) -> Result<()> {
    if bytes.len() < len {
        return Err(Error::malformed(format!("{what} of {} bytes is shorter than its {len}-byte layout", bytes.len())));
    }
    Ok(())
}

/// An array of native-endian u32 (UNIX_DIAG_ICONS, NETLINK_DIAG_GROUPS);
/// a length that is not a whole number of words is refused.
pub fn u32_array(what: &str, bytes: &[u8]) -> Result<Box<[u32]>> {
    if bytes.len() % 4 != 0 {
        return Err(Error::malformed(format!("{what} of {} bytes is not a u32 array", bytes.len())));
    }
    Ok(bytes.chunks_exact(4).map(|c| U32(0).get(c)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_and_write_in_their_byte_order() {
        let mut b = [0u8; 12];
        U32(0).set(&mut b, 0x0102_0304);
        Be16(4).set(&mut b, 8080);
        U16(6).set(&mut b, 0xbeef);
        I32(8).set(&mut b, -2);
        assert_eq!(&b[0..4], &0x0102_0304u32.to_ne_bytes());
        assert_eq!(&b[4..6], &[0x1f, 0x90]);
        assert_eq!((U32(0).get(&b), Be16(4).get(&b), U16(6).get(&b), I32(8).get(&b)), (0x0102_0304, 8080, 0xbeef, -2));
        assert_eq!((U8(4).get(&b), Bytes::<2>(4).get(&b)), (0x1f, [0x1f, 0x90]));
        assert!(need("x", &b, 13).unwrap_err().message().contains("12 bytes is shorter than its 13-byte layout"));
        assert_eq!(&*u32_array("a", &b[..8]).unwrap(), &[0x0102_0304, U32(4).get(&b)]);
        assert_eq!(u32_array("a", &b[..5]).unwrap_err().errno(), libc::EBADMSG);
    }
}
