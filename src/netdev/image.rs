//! CRIU's network images from a [`NetConfig`]: netdev-N.img and
//! netns-N.img (protobuf entries), and the raw ones (the ip-save streams,
//! nftables-N.img, the conntrack streams), which carry no framing.

use super::link::{DeviceType, SitInfo};
use super::sysctl::Sysctl;
use super::{LinkEntry, NetConfig};
use crate::error::{Error, Result};
use crate::image::pb;
use crate::image::{NETDEV_MAGIC, NETNS_MAGIC};

pub fn netdev_name(ns_id: u32) -> String {
    format!("netdev-{ns_id}.img")
}
pub fn netns_name(ns_id: u32) -> String {
    format!("netns-{ns_id}.img")
}
pub fn ifaddr_name(ns_id: u32) -> String {
    format!("ifaddr-{ns_id}.img")
}
pub fn route_name(ns_id: u32) -> String {
    format!("route-{ns_id}.img")
}
pub fn route6_name(ns_id: u32) -> String {
    format!("route6-{ns_id}.img")
}
pub fn rule_name(ns_id: u32) -> String {
    format!("rule-{ns_id}.img")
}
pub fn nftables_name(ns_id: u32) -> String {
    format!("nftables-{ns_id}.img")
}
pub fn conntrack_name(ns_id: u32) -> String {
    format!("netns-ct-{ns_id}.img")
}
pub fn expectations_name(ns_id: u32) -> String {
    format!("netns-exp-{ns_id}.img")
}

pub(crate) fn sysctl_entry(s: &Sysctl) -> pb::SysctlEntry {
    match s {
        Sysctl::Int(v) => pb::SysctlEntry { r#type: pb::SysctlType::Ctl32 as i32, iarg: *v, sarg: None },
        Sysctl::Str(v) => pb::SysctlEntry { r#type: pb::SysctlType::CtlStr as i32, iarg: None, sarg: v.clone() },
    }
}

fn entries(list: &[Sysctl]) -> Vec<pb::SysctlEntry> {
    list.iter().map(sysctl_entry).collect()
}

fn sit_entry(s: &SitInfo) -> pb::SitEntry {
    let rd = s.rd_prefixlen.filter(|&l| l != 0);
    let relay = rd.and(s.relay_prefixlen).filter(|&l| l != 0);
    pb::SitEntry {
        link: s.link,
        local: s.local.filter(|&a| a != 0).into_iter().collect(),
        remote: s.remote.filter(|&a| a != 0).into_iter().collect(),
        ttl: s.ttl.map(u32::from),
        tos: s.tos.map(u32::from),
        // CRIU records pmtudisc only when it is on.
        pmtudisc: s.pmtudisc.filter(|&v| v != 0).map(|_| true),
        proto: s.proto.map(u32::from),
        flags: s.flags.map(u32::from),
        encap_type: s.encap_type.map(u32::from),
        encap_flags: s.encap_flags.map(u32::from),
        encap_sport: s.encap_sport.map(u32::from),
        encap_dport: s.encap_dport.map(u32::from),
        rd_prefixlen: rd.map(u32::from),
        rd_prefix: rd.and(s.rd_prefix).map(|p| p.to_vec()).unwrap_or_default(),
        relay_prefixlen: relay.map(u32::from),
        relay_prefix: relay.and(s.relay_prefix).into_iter().collect(),
    }
}

/// The NetDeviceEntry CRIU's `dump_one_netdev` writes for a dumped link.
pub fn net_device_entry(e: &LinkEntry, t: DeviceType) -> Result<pb::NetDeviceEntry> {
    let l = &e.link;
    let confs = e.confs.as_ref().ok_or_else(|| Error::invalid(format!("link {} was collected without its sysctls", l.ifindex)))?;
    Ok(pb::NetDeviceEntry {
        r#type: t as i32,
        ifindex: l.ifindex,
        mtu: l.mtu.unwrap_or_default(),
        flags: l.flags,
        name: l.name.clone().unwrap_or_default(),
        tun: None,
        address: if t == DeviceType::Loopback { None } else { l.address.clone() },
        conf: Vec::new(),
        conf4: entries(&confs.conf4),
        conf6: entries(&confs.conf6),
        macvlan: match (t, l.macvlan) {
            (DeviceType::Macvlan, Some(m)) => Some(pb::MacvlanLinkEntry { mode: m.mode.unwrap_or_default(), flags: m.flags.map(u32::from) }),
            _ => None,
        },
        peer_ifindex: Some(e.peer_ifindex),
        peer_nsid: e.peer_nsid,
        master: l.master,
        sit: match (t, &l.sit) {
            (DeviceType::Sit, Some(s)) => Some(sit_entry(s)),
            _ => None,
        },
    })
}

/// The NetnsEntry of `dump_netns_conf` (or, for an external namespace,
/// of its key alone).
pub fn netns_entry(c: &NetConfig) -> Result<pb::NetnsEntry> {
    if let Some(key) = &c.external_key {
        return Ok(pb::NetnsEntry { ext_key: Some(key.clone()), ..Default::default() });
    }
    let s = c.sysctls.as_ref().ok_or_else(|| Error::invalid(format!("net namespace {} was collected without its sysctls", c.ns_id)))?;
    Ok(pb::NetnsEntry {
        def_conf: Vec::new(),
        all_conf: Vec::new(),
        def_conf4: entries(&s.default.conf4),
        all_conf4: entries(&s.all.conf4),
        def_conf6: entries(&s.default.conf6),
        all_conf6: entries(&s.all.conf6),
        nsids: c.nsids.iter().map(|n| pb::NetnsId { target_ns_id: n.target_ns_id, netnsid_value: n.nsid }).collect(),
        ext_key: None,
        unix_conf: entries(&s.unix),
        ipv4_sysctl: entries(&s.ipv4),
    })
}

impl NetConfig {
    /// Every image of this namespace, name and bytes, in the order CRIU
    /// writes them; refused (nothing returned) when CRIU would fail or
    /// criurs cannot write what CRIU would.
    pub fn images(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let id = self.ns_id;
        if !self.for_dump {
            return Err(Error::invalid(format!("net namespace {id} was collected for show, not for a dump")));
        }
        if let Some(e) = self.refusal() {
            return Err(e);
        }
        let mut out = Vec::new();
        if self.external_key.is_some() {
            out.push((netns_name(id), crate::image::encode(NETNS_MAGIC, &[netns_entry(self)?])));
        } else {
            let nf = self.netfilter.as_ref().ok_or_else(|| Error::invalid(format!("net namespace {id} was collected without netfilter")))?;
            if let Some(e) = nf.refusal(id) {
                return Err(e);
            }
            let mut devices = Vec::new();
            for e in &self.links {
                if let Some(t) = e.plan.device_type() {
                    devices.push(net_device_entry(e, t)?);
                }
            }
            out.push((netdev_name(id), crate::image::encode(NETDEV_MAGIC, &devices)));
            let missing = |what: &str| Error::invalid(format!("net namespace {id}: no {what} stream collected"));
            out.push((ifaddr_name(id), self.ifaddr.as_ref().ok_or_else(|| missing("address"))?.bytes().to_vec()));
            out.push((route_name(id), self.route4.as_ref().ok_or_else(|| missing("route"))?.bytes().to_vec()));
            if let Some(r6) = &self.route6 {
                out.push((route6_name(id), r6.bytes().to_vec()));
            }
            if let Some(rule) = &self.rule {
                out.push((rule_name(id), rule.bytes().to_vec()));
            }
            // No ruleset: what `nft list ruleset` prints for none.
            out.push((nftables_name(id), Vec::new()));
            out.push((netns_name(id), crate::image::encode(NETNS_MAGIC, &[netns_entry(self)?])));
        }
        if let Some(nf) = &self.netfilter {
            if nf.conntrack_count > 0 {
                out.push((conntrack_name(id), nf.conntrack.clone()));
            }
            if nf.expectation_count > 0 {
                out.push((expectations_name(id), nf.expectations.clone()));
            }
        }
        Ok(out)
    }
}
