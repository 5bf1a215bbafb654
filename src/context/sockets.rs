//! Network namespaces and their sockets (sock_diag).

use crate::{net, Context, Error, NsKind, Result};

use super::not_collected;

impl Context {
    /// CRIU's `collect_sockets` for the network namespace `ns_id` of the
    /// table: one sock_diag dump per family, made from inside that
    /// namespace without moving the caller. Replaces any earlier table of
    /// that namespace; on failure it keeps none.
    ///
    /// As for a dump: a family whose sock_diag module the kernel lacks
    /// (raw_diag excepted) fails it, unless `ns_id` is the caller's own
    /// namespace; [`Context::collect_sockets_for`] with
    /// [`net::Purpose::Show`] leaves such a family out with a warning.
    pub fn collect_sockets(&mut self, ns_id: u32) -> Result<()> {
        self.collect_sockets_for(ns_id, net::Purpose::Dump)
    }

    /// `collect_sockets` for `purpose`: [`net::Purpose::Show`] (what
    /// `criurs show` uses, as `ss`) takes a missing diag module for a
    /// warning in every namespace.
    pub fn collect_sockets_for(&mut self, ns_id: u32, purpose: net::Purpose) -> Result<()> {
        let ns = self.namespace(ns_id, NsKind::Net)?.clone();
        let Some(collected) = self.collected.as_mut() else { return Err(not_collected()) };
        // Read through the namespace's fd, held since the collection: the
        // root need not be alive, and no other process can answer.
        collected.net.collect_sockets(&self.proc, &ns, purpose, &self.log)?;
        Ok(())
    }

    /// The sockets of network namespace `ns_id` collected by
    /// `collect_sockets` (or by `collect_namespaces(true)`).
    pub fn sockets(&self, ns_id: u32) -> Result<&net::SocketTable> {
        self.namespace(ns_id, NsKind::Net)?;
        self.collected()?.net.get(ns_id).and_then(|n| n.sockets()).ok_or_else(|| {
            Error::new(libc::ENODATA, format!("sockets of net namespace {ns_id} not collected yet: call collect_sockets first"))
        })
    }

    /// CRIU's `lookup_socket`: the socket with inode `ino` in network
    /// namespace `ns_id`; -ENOENT when there is none (inode 0 never is).
    pub fn socket(&self, ns_id: u32, ino: u32) -> Result<&net::Socket> {
        self.sockets(ns_id)?
            .lookup(ino)
            .ok_or_else(|| Error::new(libc::ENOENT, format!("no socket with inode {ino} in net namespace {ns_id}")))
    }

    /// The network namespaces prepared by the last collection.
    pub fn net_namespaces(&self) -> Result<&net::NetNamespaces> {
        Ok(&self.collected()?.net)
    }
}
