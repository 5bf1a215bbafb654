//! Network namespace configuration: links, addresses, routes, sysctls,
//! netfilter, and their images.

use std::os::fd::AsFd;

use crate::{netdev, ns, Context, Error, NsKind, NsType, Result};

use super::not_collected;

impl Context {
    /// Reads the links, addresses, routes (table main, as `ip route save`
    /// keeps them) and IPv4 rules of network namespace `ns_id`, from inside
    /// it, without moving the caller; replaces what was known of it. Links
    /// CRIU cannot dump are listed with the reason (`Plan::Refuse`); this
    /// call does not fail for them.
    pub fn collect_net_config(&mut self, ns_id: u32) -> Result<&netdev::NetConfig> {
        self.read_net_config(ns_id, false)
    }

    /// CRIU's `dump_net_ns`: reads everything CRIU records for network
    /// namespace `ns_id` (links with their sysctls, namespace ids and
    /// sysctls, the `ip ... save` streams, netfilter) and writes its images
    /// into the images directory as one batch: netdev-N, ifaddr-N,
    /// route-N, route6-N, rule-N, nftables-N, netns-N (and netns-ct-N /
    /// netns-exp-N when conntrack has entries); for a namespace declared
    /// external, netns-N with its key. Returns the names written. Refused,
    /// with nothing written, where CRIU 4.2 fails (a link it cannot dump)
    /// or criurs cannot write what CRIU would (an nftables ruleset, legacy
    /// iptables tables); and for the caller's own namespace, which CRIU's
    /// `dump_namespaces` never dumps.
    pub fn dump_net_ns(&mut self, ns_id: u32) -> Result<Vec<String>> {
        let ns = self.namespace(ns_id, NsKind::Net)?;
        if ns.ns_type == NsType::Own {
            return Err(Error::invalid(format!(
                "net namespace {ns_id} is the caller's own: CRIU dumps only the tree's namespaces"
            )));
        }
        let mut batch = self.new_batch()?;
        let config = self.read_net_config(ns_id, true)?;
        let images = config.images()?;
        for (name, bytes) in &images {
            batch.add(name, bytes)?;
        }
        let names = batch.commit()?;
        self.log.info("net", format_args!("net namespace {ns_id}: wrote {}", names.join(", ")));
        Ok(names)
    }

    /// What `collect_net_config` or `dump_net_ns` read of network
    /// namespace `ns_id`.
    pub fn net_config(&self, ns_id: u32) -> Result<&netdev::NetConfig> {
        self.namespace(ns_id, NsKind::Net)?;
        self.collected()?.net_config.get(&ns_id).ok_or_else(|| {
            Error::new(libc::ENODATA, format!("net namespace {ns_id} not read yet: call collect_net_config or dump_net_ns first"))
        })
    }

    pub(super) fn read_net_config(&mut self, ns_id: u32, for_dump: bool) -> Result<&netdev::NetConfig> {
        let ns = self.namespace(ns_id, NsKind::Net)?.clone();
        let collected = self.collected()?;
        let table = &collected.namespaces;
        // The tree's namespaces were opened by the collection; the
        // caller's own is opened here when the walk skipped it.
        let opened;
        let ns_fd = match collected.net.get(ns_id) {
            Some(n) => n.ns_fd(),
            None => {
                opened = ns::enter::open_ns(&self.proc, ns.pid, NsKind::Net)
                    .map_err(|e| e.context(format!("net namespace {ns_id}")))?;
                &opened
            }
        };
        let peers: Vec<(u32, std::os::fd::BorrowedFd<'_>)> = collected.net.iter().map(|n| (n.id, n.ns_fd().as_fd())).collect();
        let gid_map = if table.root_differs(NsKind::User) {
            table.root_ns(NsKind::User).and_then(|u| collected.user.maps.get(&u.id)).map(|m| m.gid_map.as_slice())
        } else {
            None
        };
        let config = netdev::collect(
            netdev::Target { ns_id, kid: ns.kid, ns_fd },
            netdev::Options { for_dump, peers: &peers, external_key: self.externals.net_ns_key(ns.kid), gid_map },
        )?;
        for w in &config.warnings {
            self.log.warn("net", format_args!("net namespace {ns_id}: {w}"));
        }
        if !config.unknown.is_empty() {
            self.log.debug("net", format_args!("net namespace {ns_id}: {}", config.unknown));
        }
        let Some(collected) = self.collected.as_mut() else { return Err(not_collected()) };
        collected.net_config.insert(ns_id, config);
        Ok(&collected.net_config[&ns_id])
    }
}
