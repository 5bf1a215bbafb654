//! Pid namespaces: CRIU's `collect_pid_namespaces` (a `pidns-N.img` for
//! each one declared external) and the rule of `dump_namespaces` that a
//! tree in its own pid namespace is dumped from that namespace's init.

use crate::error::{Error, Result};
use crate::external::Externals;
use crate::image::{self, pb};
use crate::ns::{NsKind, NsTable};
use crate::pstree::{self, ProcRoot};

/// CRIU's PIDNS_MAGIC.
pub const PIDNS_MAGIC: u32 = 0x6115_7326;

pub fn image_name(ns_id: u32) -> String {
    format!("pidns-{ns_id}.img")
}

/// The pid namespaces CRIU's walk visits that the caller declared
/// external (`pid[INO]:KEY`), with their keys: one `pidns-N.img` each.
pub fn external_pid_namespaces<'a>(table: &NsTable, externals: &'a Externals) -> Vec<(u32, &'a [u8])> {
    table.walk(NsKind::Pid).iter().filter_map(|ns| externals.pid_ns_key(ns.kid).map(|key| (ns.id, key))).collect()
}

/// CRIU's refusal in `dump_namespaces`: a root in a pid namespace of its
/// own must be that namespace's init (pid 1), unless the namespace is
/// declared external.
pub fn check_root_is_init(proc: &ProcRoot, table: &NsTable, root_pid: i32, externals: &Externals) -> Result<()> {
    if !table.root_differs(NsKind::Pid) {
        return Ok(());
    }
    let Some(ns) = table.root_ns(NsKind::Pid) else { return Ok(()) };
    if externals.pid_ns_key(ns.kid).is_some() {
        return Ok(());
    }
    let inner = pstree::pid_in_own_ns(proc, root_pid)?;
    if inner == 1 {
        return Ok(());
    }
    Err(Error::new(
        libc::EOPNOTSUPP,
        format!(
            "Can't dump a pid namespace without the process init: pid {root_pid} is pid {inner} of pid:[{}], not 1 \
             (dump from its init, or declare the namespace external with --external pid[{}]:KEY)",
            ns.kid, ns.kid
        ),
    ))
}

/// The bytes of a `pidns-N.img` with the external's key.
pub fn encode(key: &[u8]) -> Vec<u8> {
    image::encode(PIDNS_MAGIC, &[pb::PidnsEntry { ext_key: Some(key.to_vec()) }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_is_criu_framing_with_the_key() {
        let bytes = encode(b"host");
        // IMG_COMMON_MAGIC, PIDNS_MAGIC, length 6, field 1 (bytes) "host".
        assert_eq!(
            bytes,
            [0x19, 0x43, 0x56, 0x54, 0x26, 0x73, 0x15, 0x61, 6, 0, 0, 0, 0x0a, 4, b'h', b'o', b's', b't']
        );
    }
}
