//! User namespaces: uid/gid maps, the check in a child, userns-N.img.
//! (Filled in by the user-namespace issue.)

use crate::error::Result;
use crate::log::Logger;
use crate::ns::NsTable;
use crate::pstree::ProcRoot;
use std::os::fd::BorrowedFd;

/// What `collect_user_namespaces` leaves in the context.
#[derive(Debug, Default, Clone)]
pub struct UserNamespaces {}

/// CRIU's `collect_user_namespaces(for_dump)`.
pub fn collect_user_namespaces(
    _proc: &ProcRoot,
    _table: &NsTable,
    _log: &Logger,
    _for_dump: bool,
    _images_dir: Option<BorrowedFd<'_>>,
) -> Result<UserNamespaces> {
    Ok(UserNamespaces::default())
}
