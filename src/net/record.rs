//! One socket of a network namespace, as sock_diag (or /proc/net) tells
//! it. Field names follow CRIU's socket images (UnixSkEntry, InetSkEntry,
//! PacketSockEntry, NetlinkSkEntry) where those have the field.
//!
//! Kept small (about 100 bytes a socket): names, pending connections,
//! groups and multicast lists live behind boxes only when present.

pub const AF_UNIX: u8 = libc::AF_UNIX as u8;
pub const AF_INET: u8 = libc::AF_INET as u8;
pub const AF_INET6: u8 = libc::AF_INET6 as u8;
pub const AF_NETLINK: u8 = libc::AF_NETLINK as u8;
pub const AF_PACKET: u8 = libc::AF_PACKET as u8;

/// A socket and what its family's diag module reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket {
    /// Inode number of the socket in sockfs (0: an orphaned TCP socket
    /// that no file refers to any more).
    pub ino: u32,
    /// AF_UNIX, AF_INET, AF_INET6, AF_PACKET or AF_NETLINK.
    pub family: u8,
    /// SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW, ...
    pub type_: u8,
    /// The kernel's state number: TCP_* for inet and unix, NETLINK_* state
    /// for netlink, 0 for packet sockets.
    pub state: u8,
    pub detail: Detail,
}

/// The family-specific part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    Unix(UnixDetail),
    Inet(InetDetail),
    Packet(Box<PacketDetail>),
    Netlink(Box<NetlinkDetail>),
}

/// UNIX_DIAG_* attributes of one unix socket.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnixDetail {
    /// The bound name as the kernel reports it and CRIU's
    /// UnixSkEntry.name keeps it: a path with its trailing NUL (the
    /// kernel counts one), or an abstract name starting with a NUL byte.
    /// Empty when unbound. [`UnixDetail::shown_name`] is the name as a
    /// person reads it.
    pub name: Box<[u8]>,
    /// Device and inode of the bound file (UNIX_DIAG_VFS), 0 when none.
    pub vfs_dev: u32,
    pub vfs_ino: u32,
    /// Inode of the peer socket, 0 when not connected. For a connection
    /// never accepted (see `in_flight`), the listener's inode, as CRIU
    /// resolves it through the listener's icons.
    pub peer: u32,
    /// Inodes of connections waiting in a listener's queue.
    pub icons: Box<[u32]>,
    /// Bytes queued (connections waiting, for a listener).
    pub rqlen: u32,
    /// Bytes being sent (the backlog, for a listener).
    pub wqlen: u32,
    /// SHUTDOWN bits (1 = receive side shut, 2 = send side shut).
    pub shutdown: u8,
    /// A connecting socket whose connection waits in a listener's queue,
    /// never accepted (its kernel peer is an embryo with no inode): `peer`
    /// is that listener.
    pub in_flight: bool,
    /// Owner uid (UNIX_DIAG_UID), when the kernel reports it.
    pub uid: Option<u32>,
}

impl UnixDetail {
    /// CRIU's UnixSkEntry.backlog: the diag wqlen of every socket (a
    /// listener's backlog, else the bytes it has sent and not yet had read).
    pub fn backlog(&self) -> u32 {
        self.wqlen
    }

    /// The name as `ss` prints it: a path without the kernel's trailing
    /// NUL, an abstract name whole (with its leading NUL).
    pub fn shown_name(&self) -> &[u8] {
        match &*self.name {
            [0, ..] => &self.name,
            [path @ .., 0] => path,
            name => name,
        }
    }
}

/// Where an inet record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InetSource {
    /// A sock_diag (inet_diag, udp_diag, raw_diag) reply.
    Diag,
    /// A line of /proc/PID/net/{raw,raw6,icmp,icmp6}: no diag module of
    /// the running kernel reports these sockets (ping sockets never have
    /// one; raw ones lack it without raw_diag).
    ProcNet,
}

/// inet_diag_msg plus its attributes, for TCP, UDP, UDP-lite, RAW and
/// ICMP (ping) sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InetDetail {
    /// IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE, IPPROTO_ICMP(V6), or the
    /// protocol a raw socket was opened for.
    pub proto: u8,
    pub src_port: u16,
    pub dst_port: u16,
    /// Addresses in network byte order; an IPv4 one fills the first 4 bytes.
    pub src_addr: [u8; 16],
    pub dst_addr: [u8; 16],
    /// The device the socket is bound to (idiag_if), 0 for none.
    pub ifindex: u32,
    /// Receive queue (listener: connections waiting to be accepted).
    pub rqlen: u32,
    /// Send queue (listener: the backlog).
    pub wqlen: u32,
    pub uid: u32,
    /// sk_shutdown bits (INET_DIAG_SHUTDOWN), when reported.
    pub shutdown: u8,
    /// IPV6_V6ONLY (INET_DIAG_SKV6ONLY, sent for listening and closed
    /// IPv6 sockets), when reported.
    pub v6only: Option<bool>,
    pub timer: u8,
    pub retrans: u8,
    pub expires: u32,
    pub source: InetSource,
}

impl InetDetail {
    /// CRIU's InetSkEntry.backlog: the diag wqlen of every socket (a
    /// listener's backlog, else its send queue).
    pub fn backlog(&self) -> u32 {
        self.wqlen
    }

    /// The source address as an `IpAddr` of the socket's family.
    pub fn src_ip(&self, family: u8) -> std::net::IpAddr {
        ip(family, &self.src_addr)
    }

    pub fn dst_ip(&self, family: u8) -> std::net::IpAddr {
        ip(family, &self.dst_addr)
    }
}

fn ip(family: u8, a: &[u8; 16]) -> std::net::IpAddr {
    if family == AF_INET6 {
        std::net::IpAddr::from(*a)
    } else {
        std::net::IpAddr::from([a[0], a[1], a[2], a[3]])
    }
}

/// PACKET_DIAG_INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PacketInfo {
    pub ifindex: u32,
    /// TPACKET_V1/2/3.
    pub version: u32,
    pub reserve: u32,
    pub copy_thresh: u32,
    pub timestamp: u32,
    /// PDI_* bits: running, aux_data, origdev, vnet_hdr, loss.
    pub flags: u32,
}

/// One PACKET_DIAG_MCLIST entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketMclist {
    pub index: u32,
    pub count: u32,
    pub type_: u16,
    pub addr: Box<[u8]>,
}

/// PACKET_DIAG_RX_RING / TX_RING.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PacketRing {
    pub block_size: u32,
    pub block_nr: u32,
    pub frame_size: u32,
    pub frame_nr: u32,
    pub retire_tmo: u32,
    pub sizeof_priv: u32,
    pub features: u32,
}

/// packet_diag_msg plus its attributes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PacketDetail {
    /// The ethertype the socket was opened for, in network byte order
    /// as CRIU's PacketSockEntry.protocol keeps it (46472 for 0x88B5);
    /// [`PacketDetail::ethertype`] is the number itself.
    pub protocol: u16,
    pub info: Option<PacketInfo>,
    pub mclist: Vec<PacketMclist>,
    /// PACKET_FANOUT value: group id | (type | flags) << 16.
    pub fanout: Option<u32>,
    pub rx_ring: Option<PacketRing>,
    pub tx_ring: Option<PacketRing>,
    pub uid: Option<u32>,
}

impl PacketDetail {
    /// The ethertype as a number (0x88B5), as `ss` and /proc/net/packet show it.
    pub fn ethertype(&self) -> u16 {
        u16::from_be(self.protocol)
    }
}

/// netlink_diag_msg plus its attributes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetlinkDetail {
    /// NETLINK_ROUTE, NETLINK_AUDIT, ...
    pub protocol: u8,
    pub portid: u32,
    pub dst_portid: u32,
    pub dst_group: u32,
    /// Multicast group bitmap as 32-bit words (CRIU's NetlinkSkEntry.groups).
    pub groups: Box<[u32]>,
    /// NDIAG_FLAG_* bits, when reported.
    pub flags: Option<u32>,
}

pub const TCP_ESTABLISHED: u8 = 1;
pub const TCP_SYN_SENT: u8 = 2;
pub const TCP_SYN_RECV: u8 = 3;
pub const TCP_FIN_WAIT1: u8 = 4;
pub const TCP_FIN_WAIT2: u8 = 5;
pub const TCP_TIME_WAIT: u8 = 6;
pub const TCP_CLOSE: u8 = 7;
pub const TCP_CLOSE_WAIT: u8 = 8;
pub const TCP_LAST_ACK: u8 = 9;
pub const TCP_LISTEN: u8 = 10;
pub const TCP_CLOSING: u8 = 11;

/// The state's name as `ss` prints it.
pub fn state_name(state: u8) -> &'static str {
    match state {
        TCP_ESTABLISHED => "ESTAB",
        TCP_SYN_SENT => "SYN-SENT",
        TCP_SYN_RECV => "SYN-RECV",
        TCP_FIN_WAIT1 => "FIN-WAIT-1",
        TCP_FIN_WAIT2 => "FIN-WAIT-2",
        TCP_TIME_WAIT => "TIME-WAIT",
        TCP_CLOSE => "UNCONN",
        TCP_CLOSE_WAIT => "CLOSE-WAIT",
        TCP_LAST_ACK => "LAST-ACK",
        TCP_LISTEN => "LISTEN",
        TCP_CLOSING => "CLOSING",
        _ => "UNKNOWN",
    }
}

impl Socket {
    pub fn unix(&self) -> Option<&UnixDetail> {
        match &self.detail {
            Detail::Unix(u) => Some(u),
            _ => None,
        }
    }
    pub fn inet(&self) -> Option<&InetDetail> {
        match &self.detail {
            Detail::Inet(i) => Some(i),
            _ => None,
        }
    }
    pub fn packet(&self) -> Option<&PacketDetail> {
        match &self.detail {
            Detail::Packet(p) => Some(p),
            _ => None,
        }
    }
    pub fn netlink(&self) -> Option<&NetlinkDetail> {
        match &self.detail {
            Detail::Netlink(n) => Some(n),
            _ => None,
        }
    }

    /// The protocol number: inet proto, packet ethertype in network byte
    /// order (as CRIU's image), netlink protocol, 0 for unix.
    pub fn protocol(&self) -> u32 {
        match &self.detail {
            Detail::Unix(_) => 0,
            Detail::Inet(i) => i.proto as u32,
            Detail::Packet(p) => p.protocol as u32,
            Detail::Netlink(n) => n.protocol as u32,
        }
    }

    /// Heap bytes this record owns beyond its inline size (names excluded
    /// from the target, counted here for the benchmark).
    pub fn heap_bytes(&self) -> usize {
        match &self.detail {
            Detail::Unix(u) => u.name.len() + u.icons.len() * 4,
            Detail::Inet(_) => 0,
            Detail::Packet(p) => {
                std::mem::size_of::<PacketDetail>()
                    + p.mclist.capacity() * std::mem::size_of::<PacketMclist>()
                    + p.mclist.iter().map(|m| m.addr.len()).sum::<usize>()
            }
            Detail::Netlink(n) => std::mem::size_of::<NetlinkDetail>() + n.groups.len() * 4,
        }
    }
}
