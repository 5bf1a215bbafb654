//! `utsns-N.img`: the host and domain name of a uts namespace (CRIU's
//! `dump_uts_ns`), read with uname(2) by a short-lived thread that joined
//! the namespace.

use std::os::unix::ffi::OsStrExt;

use crate::error::{Error, Result};
use crate::image::pb;
use crate::ns::{enter::run_in_namespace, NsEntry, NsKind};
use crate::pstree::ProcRoot;

use super::{Image, ImageBuf, ImageReader};

/// CRIU's UTSNS_MAGIC.
pub const UTSNS_MAGIC: u32 = 0x5447_3203;

pub fn image_name(ns_id: u32) -> String {
    format!("utsns-{ns_id}.img")
}

/// What uname(2) says inside the namespace. Bytes: the kernel takes any
/// byte but NUL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Uts {
    pub nodename: Vec<u8>,
    pub domainname: Vec<u8>,
}

impl Uts {
    pub fn image(&self, ns_id: u32) -> Image {
        let mut b = ImageBuf::new(UTSNS_MAGIC);
        b.entry(&pb::UtsnsEntry { nodename: self.nodename.clone(), domainname: self.domainname.clone() });
        Image { name: image_name(ns_id), bytes: b.finish() }
    }

    pub fn decode(bytes: &[u8], what: &str) -> Result<Uts> {
        let mut r = ImageReader::new(bytes, UTSNS_MAGIC, what)?;
        let e: pb::UtsnsEntry = r.entry()?;
        if !r.at_end() {
            return Err(Error::malformed(format!("{what}: more than one entry")));
        }
        Ok(Uts { nodename: e.nodename, domainname: e.domainname })
    }
}

/// Reads the uts namespace `ns` from inside it.
pub fn read(proc: &ProcRoot, ns: &NsEntry) -> Result<Uts> {
    let fd = super::open_ns_checked(proc, ns)?;
    run_in_namespace(&fd, NsKind::Uts, || {
        let u = nix::sys::utsname::uname().map_err(|e| Error::sys(e, "uname"))?;
        Ok(Uts { nodename: u.nodename().as_bytes().to_vec(), domainname: u.domainname().as_bytes().to_vec() })
    })
    .map_err(|e| e.context(format!("uts namespace {}", ns.id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ns::NsType;

    #[test]
    fn encodes_utsns_12_img_byte_for_byte() {
        let fixture = super::super::fixture("utsns-12.img");
        let uts = Uts::decode(&fixture, "utsns-12.img").unwrap();
        assert_eq!(uts, Uts { nodename: b"fixture-host".to_vec(), domainname: b"fixture.domain".to_vec() });
        let img = uts.image(12);
        assert_eq!((img.name.as_str(), img.bytes), ("utsns-12.img", fixture));
    }

    #[test]
    fn reads_our_own_namespace_like_uname_and_refuses_a_stale_entry() {
        let proc = ProcRoot::default();
        let me = std::process::id() as i32;
        let kid = crate::ns::read_ns_kid(&proc, "self", NsKind::Uts).unwrap().unwrap();
        let ns = NsEntry { id: 4, kind: NsKind::Uts, kid, pid: me, ns_type: NsType::Own };
        let u = read(&proc, &ns).unwrap();
        let want = nix::sys::utsname::uname().unwrap();
        assert_eq!(u.nodename, want.nodename().as_bytes());
        let stale = NsEntry { kid: kid + 1, ..ns.clone() };
        let e = read(&proc, &stale).unwrap_err();
        assert_eq!(e.errno(), libc::ESRCH);
        assert!(e.message().contains("no longer in uts namespace 4"), "{e}");
        let gone = NsEntry { pid: i32::MAX, ..ns };
        assert_eq!(read(&proc, &gone).unwrap_err().errno(), libc::ESRCH);
    }
}
