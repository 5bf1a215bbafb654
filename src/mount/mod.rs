//! Mount namespaces: mountinfo, the tree, sharing, validation, image.
//! (Filled in by the mount-namespace issue.)

use crate::error::Result;
use crate::log::Logger;
use crate::ns::NsTable;
use crate::pstree::ProcRoot;

/// What `collect_mnt_namespaces` leaves in the context.
#[derive(Debug, Default, Clone)]
pub struct MountNamespaces {}

/// CRIU's `collect_mnt_namespaces(for_dump)`.
pub fn collect_mnt_namespaces(
    _proc: &ProcRoot,
    _table: &NsTable,
    _log: &Logger,
    _for_dump: bool,
) -> Result<MountNamespaces> {
    Ok(MountNamespaces::default())
}
