//! Network namespaces: sockets through sock_diag, per family.
//! (Filled in by the network issue.)

use crate::error::Result;
use crate::log::Logger;
use crate::ns::NsTable;
use crate::pstree::ProcRoot;

/// What `collect_net_namespaces` leaves in the context.
#[derive(Debug, Default)]
pub struct NetNamespaces {}

/// CRIU's `collect_net_namespaces(for_dump)`.
pub fn collect_net_namespaces(
    _proc: &ProcRoot,
    _table: &NsTable,
    _log: &Logger,
    _for_dump: bool,
) -> Result<NetNamespaces> {
    Ok(NetNamespaces::default())
}
