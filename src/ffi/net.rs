//! C entry points of the net room: socket collection and accessors.

use std::ffi::c_int;

use super::{criurs_ctx, with_ctx, with_ctx_out};
use crate::error::Error;
use crate::net::{Detail, InetSource, PacketRing, Socket};

/// Where an inet record came from (criurs_sk_info.source).
pub const CRIURS_SK_SOURCE_DIAG: u32 = 0;
/// From /proc/PID/net/{raw,raw6,icmp,icmp6}: no diag module reports it.
pub const CRIURS_SK_SOURCE_PROCNET: u32 = 1;

/// A packet socket ring (PACKET_DIAG_RX_RING / TX_RING). A plain value.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct criurs_packet_ring {
    pub block_size: u32,
    pub block_nr: u32,
    pub frame_size: u32,
    pub frame_nr: u32,
    pub retire_tmo: u32,
    pub sizeof_priv: u32,
    pub features: u32,
}

impl From<PacketRing> for criurs_packet_ring {
    fn from(r: PacketRing) -> Self {
        criurs_packet_ring {
            block_size: r.block_size,
            block_nr: r.block_nr,
            frame_size: r.frame_size,
            frame_nr: r.frame_nr,
            retire_tmo: r.retire_tmo,
            sizeof_priv: r.sizeof_priv,
            features: r.features,
        }
    }
}

/// One packet socket multicast entry (PACKET_DIAG_MCLIST). A plain value.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct criurs_packet_mclist {
    pub index: u32,
    pub count: u32,
    pub type_: u16,
    /// Bytes of addr in use (at most 32).
    pub alen: u16,
    pub addr: [u8; 32],
}

/// One socket of a network namespace: common fields, then the fields of
/// its family (those of other families are zero). Names follow CRIU's
/// socket images (UnixSkEntry, InetSkEntry, PacketSockEntry,
/// NetlinkSkEntry). Pointers in it point into the context and stay valid
/// until the next criurs_collect_sockets on the same namespace, the next
/// criurs_collect_namespaces, or criurs_ctx_free; do not free them.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct criurs_sk_info {
    /// Socket inode; 0 for an orphaned TCP socket (listed, not found by
    /// criurs_sk_lookup).
    pub ino: u32,
    /// AF_UNIX, AF_INET, AF_INET6, AF_PACKET or AF_NETLINK.
    pub family: u32,
    /// SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW.
    pub type_: u32,
    /// TCP_* state numbers (unix and inet), netlink state, 0 for packet.
    pub state: u32,
    /// inet: IPPROTO_*; packet: ethertype in network byte order, as CRIU's
    /// PacketSockEntry.protocol (htons(0x88B5) = 46472); netlink: NETLINK_*.
    pub protocol: u32,
    /// Owner uid, when has_uid.
    pub uid: u32,
    pub has_uid: bool,
    /// Receive / send queue; for a listener: waiting connections / backlog.
    pub rqlen: u32,
    pub wqlen: u32,
    /// CRIU's backlog: wqlen, for every socket (a listener's backlog).
    pub backlog: u32,
    /// sk_shutdown bits: 1 receive side, 2 send side.
    pub shutdown: u32,

    /// unix: bound name as CRIU's UnixSkEntry.name keeps it: a path with
    /// the kernel's trailing NUL (counted in name_len), or an abstract name
    /// starting with a NUL byte; NULL/0 when unbound.
    pub name: *const u8,
    pub name_len: usize,
    /// unix: device and inode of the bound file, 0 when none.
    pub vfs_dev: u32,
    pub vfs_ino: u32,
    /// unix: inode of the peer, 0 when none; for an in_flight socket the
    /// listener's.
    pub peer: u32,
    /// unix: inodes of connections waiting in a listener's queue.
    pub icons: *const u32,
    pub icons_count: usize,

    /// inet: addresses in network byte order (IPv4 in the first 4 bytes).
    pub src_addr: [u8; 16],
    pub dst_addr: [u8; 16],
    pub src_port: u16,
    pub dst_port: u16,
    /// inet: bound device; packet: interface index (PACKET_DIAG_INFO).
    pub ifindex: u32,
    /// inet: IPV6_V6ONLY: 1, 0, or -1 when the kernel did not say.
    pub v6only: i32,
    /// inet: one of CRIURS_SK_SOURCE_*.
    pub source: u32,

    /// packet: PACKET_DIAG_INFO fields, when has_info.
    pub has_info: bool,
    pub version: u32,
    pub reserve: u32,
    pub copy_thresh: u32,
    pub timestamp: u32,
    /// packet: PDI_* flags.
    pub packet_flags: u32,
    /// packet: PACKET_FANOUT value, when has_fanout.
    pub has_fanout: bool,
    pub fanout: u32,
    pub has_rx_ring: bool,
    pub rx_ring: criurs_packet_ring,
    pub has_tx_ring: bool,
    pub tx_ring: criurs_packet_ring,
    /// packet: number of multicast entries (criurs_sk_packet_mclist).
    pub mclist_count: usize,

    /// netlink: own port id, destination port and group.
    pub portid: u32,
    pub dst_portid: u32,
    pub dst_group: u32,
    /// netlink: multicast group bitmap as 32-bit words.
    pub groups: *const u32,
    pub groups_count: usize,
    /// netlink: NDIAG_FLAG_* bits, when has_nl_flags.
    pub has_nl_flags: bool,
    pub nl_flags: u32,

    /// unix: a connection never accepted (waiting in a listener's queue):
    /// peer is that listener, as CRIU resolves it.
    pub in_flight: bool,
}

fn info(s: &Socket) -> criurs_sk_info {
    /// Every field 0, false or NULL.
    // SAFETY: criurs_sk_info holds only integers, bools, byte arrays, raw
    // pointers and criurs_packet_ring (integers): all-zero bytes are a
    // valid value of each (0, false, NULL).
    const ZEROED: criurs_sk_info = unsafe { std::mem::zeroed() };
    let mut out = criurs_sk_info {
        ino: s.ino,
        family: s.family as u32,
        type_: s.type_ as u32,
        state: s.state as u32,
        protocol: s.protocol(),
        v6only: -1,
        source: CRIURS_SK_SOURCE_DIAG,
        ..ZEROED
    };
    match &s.detail {
        Detail::Unix(u) => {
            out.uid = u.uid.unwrap_or(0);
            out.has_uid = u.uid.is_some();
            (out.rqlen, out.wqlen, out.backlog, out.shutdown) = (u.rqlen, u.wqlen, u.backlog(), u.shutdown as u32);
            if !u.name.is_empty() {
                (out.name, out.name_len) = (u.name.as_ptr(), u.name.len());
            }
            (out.vfs_dev, out.vfs_ino, out.peer, out.in_flight) = (u.vfs_dev, u.vfs_ino, u.peer, u.in_flight);
            if !u.icons.is_empty() {
                (out.icons, out.icons_count) = (u.icons.as_ptr(), u.icons.len());
            }
        }
        Detail::Inet(i) => {
            (out.uid, out.has_uid) = (i.uid, true);
            (out.rqlen, out.wqlen, out.backlog, out.shutdown) = (i.rqlen, i.wqlen, i.backlog(), i.shutdown as u32);
            (out.src_addr, out.dst_addr, out.src_port, out.dst_port, out.ifindex) = (i.src_addr, i.dst_addr, i.src_port, i.dst_port, i.ifindex);
            out.v6only = i.v6only.map_or(-1, |v| v as i32);
            out.source = if i.source == InetSource::ProcNet { CRIURS_SK_SOURCE_PROCNET } else { CRIURS_SK_SOURCE_DIAG };
        }
        Detail::Packet(p) => {
            out.uid = p.uid.unwrap_or(0);
            out.has_uid = p.uid.is_some();
            if let Some(i) = p.info {
                out.has_info = true;
                (out.ifindex, out.version, out.reserve, out.copy_thresh, out.timestamp, out.packet_flags) =
                    (i.ifindex, i.version, i.reserve, i.copy_thresh, i.timestamp, i.flags);
            }
            out.has_fanout = p.fanout.is_some();
            out.fanout = p.fanout.unwrap_or(0);
            out.has_rx_ring = p.rx_ring.is_some();
            out.rx_ring = p.rx_ring.map(Into::into).unwrap_or_default();
            out.has_tx_ring = p.tx_ring.is_some();
            out.tx_ring = p.tx_ring.map(Into::into).unwrap_or_default();
            out.mclist_count = p.mclist.len();
        }
        Detail::Netlink(n) => {
            (out.portid, out.dst_portid, out.dst_group) = (n.portid, n.dst_portid, n.dst_group);
            if !n.groups.is_empty() {
                (out.groups, out.groups_count) = (n.groups.as_ptr(), n.groups.len());
            }
            out.has_nl_flags = n.flags.is_some();
            out.nl_flags = n.flags.unwrap_or(0);
        }
    }
    out
}

/// CRIU's collect_sockets for the network namespace `ns_id` (a net
/// namespace of the table, see criurs_ns_get): one sock_diag dump per
/// family, made from inside that namespace by a short-lived thread; the
/// calling thread never changes namespace. Replaces that namespace's
/// earlier sockets (pointers from earlier criurs_sk_get calls on it
/// become invalid). Returns 0 or -errno: -ENODATA before
/// criurs_collect_namespaces, -ENOENT no such namespace, -EINVAL not a
/// net namespace, or the kernel's errno for a failed request.
#[no_mangle]
pub extern "C" fn criurs_collect_sockets(ctx: *mut criurs_ctx, ns_id: u32) -> c_int {
    with_ctx(ctx, |ctx| ctx.collect_sockets(ns_id))
}

/// Writes the number of sockets collected in `ns_id` to `*out`.
/// -ENODATA when they were not collected.
#[no_mangle]
pub extern "C" fn criurs_sk_count(ctx: *const criurs_ctx, ns_id: u32, out: *mut usize) -> c_int {
    with_ctx_out(ctx, out, |ctx| Ok(ctx.sockets(ns_id)?.len()))
}

/// Copies socket number `index` (0 <= index < count) to `*out`. The
/// order is stable: by source, in the order collection sends its
/// requests (unix, tcp4, udp4, udplite4, tcp6, udp6, udplite6, raw4,
/// raw6, proc-raw, proc-raw6, proc-icmp, proc-icmp6, packet, netlink:
/// raw sockets from /proc/net/raw{,6} when the kernel has no raw_diag,
/// ping sockets from /proc/net/icmp{,6}), and within one source the
/// kernel's order. -ENOENT past the end.
#[no_mangle]
pub extern "C" fn criurs_sk_get(ctx: *const criurs_ctx, ns_id: u32, index: usize, out: *mut criurs_sk_info) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let t = ctx.sockets(ns_id)?;
        let s = t
            .get(index)
            .ok_or_else(|| Error::new(libc::ENOENT, format!("socket index {index} is past the end ({})", t.len())))?;
        Ok(info(s))
    })
}

/// Finds the socket with inode `ino` in `ns_id` (CRIU's lookup_socket).
/// -ENOENT when there is none (inode 0 is never found).
#[no_mangle]
pub extern "C" fn criurs_sk_lookup(ctx: *const criurs_ctx, ns_id: u32, ino: u32, out: *mut criurs_sk_info) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let s = ctx.socket(ns_id, ino)?;
        Ok(info(s))
    })
}

/// Copies multicast entry `index` (< mclist_count) of the packet socket
/// `ino` to `*out`. -ENOENT: no such socket or entry; -EINVAL: not a
/// packet socket.
#[no_mangle]
pub extern "C" fn criurs_sk_packet_mclist(
    ctx: *const criurs_ctx,
    ns_id: u32,
    ino: u32,
    index: usize,
    out: *mut criurs_packet_mclist,
) -> c_int {
    with_ctx_out(ctx, out, |ctx| {
        let s = ctx.socket(ns_id, ino)?;
        let p = s.packet().ok_or_else(|| Error::invalid(format!("socket {ino} is not a packet socket")))?;
        let m = p
            .mclist
            .get(index)
            .ok_or_else(|| Error::new(libc::ENOENT, format!("packet socket {ino} has {} multicast entries, not {}", p.mclist.len(), index + 1)))?;
        let mut addr = [0u8; 32];
        let alen = m.addr.len().min(32);
        addr[..alen].copy_from_slice(&m.addr[..alen]);
        let v = criurs_packet_mclist { index: m.index, count: m.count, type_: m.type_, alen: alen as u16, addr };
        Ok(v)
    })
}
