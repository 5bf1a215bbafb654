//! PACKETSK and NETLINKSK entries: CRIU's `dump_one_packet_fd` and
//! `dump_one_netlink_fd`.

use crate::error::{Error, Result};
use crate::image::pb;
use crate::net::PacketDetail;

use super::opts::{self, opt};
use super::{refuse, sys, Dumper, FdCtx};

const PDI_AUXDATA: u32 = 0x2;
const PDI_ORIGDEV: u32 = 0x4;
const PDI_VNETHDR: u32 = 0x8;
const PDI_LOSS: u32 = 0x10;

const PACKET_MR_MULTICAST: u16 = 0;
const PACKET_MR_PROMISC: u16 = 1;
const PACKET_MR_ALLMULTI: u16 = 2;
const PACKET_MR_UNICAST: u16 = 3;

/// The ethertype as CRIU writes it: in network byte order, as the table
/// keeps it.
fn protocol_in_image(p: &PacketDetail) -> u32 {
    p.protocol as u32
}

fn ring(r: &crate::net::PacketRing) -> pb::PacketRing {
    pb::PacketRing {
        block_size: r.block_size,
        block_nr: r.block_nr,
        frame_size: r.frame_size,
        frame_nr: r.frame_nr,
        retire_tmo: r.retire_tmo,
        sizeof_priv: r.sizeof_priv,
        features: r.features,
    }
}

impl Dumper<'_> {
    pub(super) fn packet_entry(&mut self, cx: &FdCtx<'_>) -> Result<pb::PacketSockEntry> {
        let who = cx.who();
        let Some((net, sk, p)) = self.lookup(cx.ino).and_then(|(n, s)| s.packet().map(|p| (n, s, p))) else {
            return Err(Error::new(libc::ENOENT, format!("{who}: Can't find packet socket {}", cx.ino)));
        };
        let info = p.info.unwrap_or_default();
        let mut psk = pb::PacketSockEntry {
            id: cx.id,
            ns_id: Some(net.ns_id),
            r#type: sk.type_ as u32,
            flags: cx.info.file_flags(),
            fown: cx.fown,
            opts: opts::socket_opts(cx.dup, libc::AF_PACKET).map_err(|e| e.context(&who))?,
            protocol: protocol_in_image(p),
            ifindex: info.ifindex,
            version: info.version,
            reserve: info.reserve,
            timestamp: info.timestamp,
            copy_thresh: info.copy_thresh,
            aux_data: info.flags & PDI_AUXDATA != 0,
            orig_dev: info.flags & PDI_ORIGDEV != 0,
            vnet_hdr: info.flags & PDI_VNETHDR != 0,
            loss: info.flags & PDI_LOSS != 0,
            fanout: p.fanout,
            rx_ring: p.rx_ring.as_ref().map(ring),
            tx_ring: p.tx_ring.as_ref().map(ring),
            ..Default::default()
        };
        for m in &p.mclist {
            if m.count != 1 {
                return Err(refuse(&who, "Multiple MC membership not supported (but can be)"));
            }
            let addr = match m.type_ {
                PACKET_MR_MULTICAST | PACKET_MR_UNICAST => m.addr.to_vec(),
                PACKET_MR_PROMISC | PACKET_MR_ALLMULTI => Vec::new(),
                other => return Err(refuse(&who, format_args!("Unknown mc membership type {other}"))),
            };
            psk.mclist.push(pb::PacketMclist { index: m.index, r#type: m.type_ as u32, addr });
        }
        Ok(psk)
    }

    pub(super) fn netlink_entry(&mut self, cx: &FdCtx<'_>) -> Result<pb::NetlinkSkEntry> {
        let who = cx.who();
        let mut ne = pb::NetlinkSkEntry { id: cx.id, ino: cx.ino, flags: cx.info.file_flags(), fown: cx.fown, ..Default::default() };
        let queued = sys::has_data(cx.dup).map_err(|e| Error::sys(e, format!("{who}: poll")))?;
        if queued {
            return Err(refuse(&who, "The socket has data to read"));
        }
        match self.lookup(cx.ino).and_then(|(n, s)| s.netlink().map(|d| (n, s, d))) {
            Some((net, sk, n)) => {
                ne.ns_id = Some(net.ns_id);
                ne.protocol = n.protocol as u32;
                ne.portid = n.portid;
                let mut groups = n.groups.to_vec();
                // The kernel's bitmap is a whole number of longs: an empty
                // last word is not a group.
                if groups.last() == Some(&0) {
                    groups.pop();
                }
                if groups.len() > 1 {
                    return Err(refuse(&who, format_args!("The netlink socket {:#x} has more than 32 groups", cx.ino)));
                }
                if !n.groups.is_empty() && n.portid == 0 {
                    return Err(refuse(&who, format_args!("The netlink socket {:#x} is bound to groups but not to portid", cx.ino)));
                }
                ne.groups = groups;
                ne.state = sk.state as u32;
                ne.dst_portid = n.dst_portid;
                ne.dst_group = n.dst_group;
            }
            None => {
                // Never bound nor connected: no diag record.
                if self.opts.root_net_differs {
                    let net = cx.net.ok_or_else(|| Error::new(libc::ENOENT, format!("{who}: the socket's net namespace is none the dump collected")))?;
                    ne.ns_id = Some(net.ns_id);
                }
                let proto: i32 = opt(cx.dup, libc::SOL_SOCKET, libc::SO_PROTOCOL, "SO_PROTOCOL").map_err(|e| e.context(&who))?;
                ne.protocol = proto as u32;
            }
        }
        ne.opts = opts::socket_opts(cx.dup, libc::AF_NETLINK).map_err(|e| e.context(&who))?;
        Ok(ne)
    }
}
