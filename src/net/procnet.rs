//! RAW and ping (ICMP, ICMPv6) sockets from `/proc/PID/net/{raw,raw6,
//! icmp,icmp6}`: no kernel has a diag module for ping sockets, and
//! raw_diag exists only in kernels built with CONFIG_INET_RAW_DIAG (and
//! its module loaded), so without these tables CRIU knows such sockets
//! only from a task's fd. The tables show the namespace of PID.
//!
//! A line (kernel's raw_sock_seq_show / ping_v4_format_sock):
//! `  sl  local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref pointer drops`
//! with addresses as native-endian hex words and ports in hex.

use crate::error::{Error, Result};

use super::diag::{IPPROTO_ICMP, IPPROTO_ICMPV6};
use super::record::*;

/// The four tables and what their lines are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProcTable {
    Raw,
    Raw6,
    Icmp,
    Icmp6,
}

impl ProcTable {
    pub const ALL: [ProcTable; 4] = [ProcTable::Raw, ProcTable::Raw6, ProcTable::Icmp, ProcTable::Icmp6];

    /// The file under /proc/PID/net/.
    pub fn file(self) -> &'static str {
        match self {
            ProcTable::Raw => "raw",
            ProcTable::Raw6 => "raw6",
            ProcTable::Icmp => "icmp",
            ProcTable::Icmp6 => "icmp6",
        }
    }

    pub fn family(self) -> u8 {
        match self {
            ProcTable::Raw | ProcTable::Icmp => AF_INET,
            ProcTable::Raw6 | ProcTable::Icmp6 => AF_INET6,
        }
    }

    fn is_raw(self) -> bool {
        matches!(self, ProcTable::Raw | ProcTable::Raw6)
    }
}

fn hex_u32(field: &[u8], what: &str) -> Result<u32> {
    if field.is_empty() || field.len() > 8 || !field.iter().all(u8::is_ascii_hexdigit) {
        return Err(Error::malformed(format!("{what} {:?} is not a hex word", String::from_utf8_lossy(field))));
    }
    let mut v = 0u32;
    for &c in field {
        v = v << 4 | (c as char).to_digit(16).unwrap_or(0);
    }
    Ok(v)
}

fn dec_u32(field: &[u8], what: &str) -> Result<u32> {
    std::str::from_utf8(field)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::malformed(format!("{what} {:?} is not a number", String::from_utf8_lossy(field))))
}

/// "HEXADDR:PORT" → (address bytes in network order, port).
fn parse_endpoint(field: &[u8], family: u8) -> Result<([u8; 16], u16)> {
    let colon = field.iter().rposition(|&c| c == b':').ok_or_else(|| {
        Error::malformed(format!("address {:?} has no port", String::from_utf8_lossy(field)))
    })?;
    let (addr, port) = (&field[..colon], &field[colon + 1..]);
    let words = if family == AF_INET6 { 4 } else { 1 };
    if addr.len() != words * 8 {
        return Err(Error::malformed(format!("address {:?} is not {} hex digits", String::from_utf8_lossy(addr), words * 8)));
    }
    let mut out = [0u8; 16];
    for (i, chunk) in addr.chunks_exact(8).enumerate() {
        // Each word was printed from memory as a native integer.
        out[i * 4..i * 4 + 4].copy_from_slice(&hex_u32(chunk, "address word")?.to_ne_bytes());
    }
    let port = hex_u32(port, "port")?;
    let port = u16::try_from(port).map_err(|_| Error::malformed(format!("port {port:#x} does not fit 16 bits")))?;
    Ok((out, port))
}

/// The namespace's own count of hashed sockets per (family, protocol),
/// from /proc/net/sockstat and sockstat6 ("TCP: inuse 5 ...",
/// "UDP6: inuse 1"): the kernel keeps these per network namespace.
/// A protocol line that is missing or unreadable is left out (unknown).
pub fn sockstat_in_use(sockstat: &[u8], sockstat6: &[u8]) -> Vec<((u8, u8), u64)> {
    use super::diag::{IPPROTO_RAW, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE};
    const NAMES: [(&[u8], u8, u8); 8] = [
        (b"TCP", AF_INET, IPPROTO_TCP),
        (b"UDP", AF_INET, IPPROTO_UDP),
        (b"UDPLITE", AF_INET, IPPROTO_UDPLITE),
        (b"RAW", AF_INET, IPPROTO_RAW),
        (b"TCP6", AF_INET6, IPPROTO_TCP),
        (b"UDP6", AF_INET6, IPPROTO_UDP),
        (b"UDPLITE6", AF_INET6, IPPROTO_UDPLITE),
        (b"RAW6", AF_INET6, IPPROTO_RAW),
    ];
    let mut out = Vec::new();
    for line in sockstat.split(|&b| b == b'\n').chain(sockstat6.split(|&b| b == b'\n')) {
        let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
        let (Some(name), Some(b"inuse"), Some(count)) = (words.next(), words.next(), words.next()) else { continue };
        let Some(name) = name.strip_suffix(b":") else { continue };
        let Some(&(_, family, proto)) = NAMES.iter().find(|(n, _, _)| *n == name) else { continue };
        let Some(count) = std::str::from_utf8(count).ok().and_then(|c| c.parse().ok()) else { continue };
        out.push(((family, proto), count));
    }
    out
}

/// The namespace's count of every socket it holds ("sockets: used 290",
/// the first line of /proc/net/sockstat): a size to reserve a socket
/// table for, never trusted as more than that. None when missing.
pub fn sockets_used(sockstat: &[u8]) -> Option<u64> {
    let line = sockstat.split(|&b| b == b'\n').next()?;
    let count = line.strip_prefix(b"sockets: used ")?;
    std::str::from_utf8(count).ok()?.trim().parse().ok()
}

/// Parses one table; `what` names the file in errors.
pub fn parse_table(table: ProcTable, text: &[u8], what: &str) -> Result<Vec<Socket>> {
    let mut out = Vec::new();
    for (n, line) in text.split(|&c| c == b'\n').enumerate() {
        if n == 0 || line.iter().all(u8::is_ascii_whitespace) {
            continue; // the header line
        }
        out.push(parse_line(table, line).map_err(|e| e.context(format!("{what} line {}", n + 1)))?);
    }
    Ok(out)
}

fn parse_line(table: ProcTable, line: &[u8]) -> Result<Socket> {
    let f: Vec<&[u8]> = line.split(|c| c.is_ascii_whitespace()).filter(|s| !s.is_empty()).collect();
    if f.len() < 10 {
        return Err(Error::malformed(format!("{} fields where at least 10 are expected", f.len())));
    }
    let family = table.family();
    let (src_addr, src_port) = parse_endpoint(f[1], family)?;
    let (dst_addr, dst_port) = parse_endpoint(f[2], family)?;
    let state = hex_u32(f[3], "state")?;
    let state = u8::try_from(state).map_err(|_| Error::malformed(format!("state {state:#x} out of range")))?;
    let (tx, rx) = split_pair(f[4], "queues")?;
    let uid = dec_u32(f[7], "uid")?;
    let ino = dec_u32(f[9], "inode")?;
    let (type_, proto) = if table.is_raw() {
        // The raw socket's "port" is its protocol.
        (libc::SOCK_RAW as u8, src_port as u8)
    } else if family == AF_INET6 {
        (libc::SOCK_DGRAM as u8, IPPROTO_ICMPV6)
    } else {
        (libc::SOCK_DGRAM as u8, IPPROTO_ICMP)
    };
    let detail = InetDetail {
        proto,
        src_port,
        dst_port,
        src_addr,
        dst_addr,
        ifindex: 0,
        rqlen: rx,
        wqlen: tx,
        uid,
        shutdown: 0,
        v6only: None,
        timer: 0,
        retrans: 0,
        expires: 0,
        source: InetSource::ProcNet,
    };
    Ok(Socket { ino, family, type_, state, detail: Detail::Inet(detail) })
}

fn split_pair(field: &[u8], what: &str) -> Result<(u32, u32)> {
    let colon = field
        .iter()
        .position(|&c| c == b':')
        .ok_or_else(|| Error::malformed(format!("{what} {:?} is not A:B", String::from_utf8_lossy(field))))?;
    Ok((hex_u32(&field[..colon], what)?, hex_u32(&field[colon + 1..], what)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockstat_counts_per_family_and_protocol() {
        use super::super::diag::{IPPROTO_RAW, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE};
        let v4 = b"sockets: used 290\nTCP: inuse 5 orphan 0 tw 2 alloc 7 mem 1\nUDP: inuse 3 mem 2\nUDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n";
        let v6 = b"TCP6: inuse 2\nUDP6: inuse x\nUDPLITE6: inuse 0\nRAW6: inuse 1\nFRAG6: inuse 0 memory 0\n";
        let got = sockstat_in_use(v4, v6);
        assert_eq!(
            got,
            vec![
                ((AF_INET, IPPROTO_TCP), 5),
                ((AF_INET, IPPROTO_UDP), 3),
                ((AF_INET, IPPROTO_UDPLITE), 0),
                ((AF_INET, IPPROTO_RAW), 0),
                ((AF_INET6, IPPROTO_TCP), 2),
                ((AF_INET6, IPPROTO_UDPLITE), 0),
                ((AF_INET6, IPPROTO_RAW), 1),
            ],
            "UDP6's unreadable count is unknown, FRAG is no socket family"
        );
        assert!(sockstat_in_use(b"", b"").is_empty());
        assert_eq!(sockets_used(v4), Some(290));
        for bad in [&b""[..], b"sockets: used\n", b"sockets: used -3\n", b"TCP: inuse 5\n", b"sockets: used 99999999999999999999999\n"] {
            assert_eq!(sockets_used(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    // Captured from a namespace holding `socket(AF_INET, SOCK_RAW,
    // IPPROTO_ICMP)` bound to 127.0.0.1 (0x0100007F printed from memory on
    // a little-endian machine), with 0x200 bytes queued for reading.
    const RAW: &[u8] = b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
  1: 0100007F:0001 00000000:0000 07 00000000:00000200 00:00000000 00000000  1000        0 43210 2 0000000000000000 0\n";

    // A ping6 socket connected to ::1 (word 3 = 0x01000000), ident 0x1234.
    const ICMP6: &[u8] = b"  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
   0: 00000000000000000000000000000000:1234 00000000000000000000000001000000:0000 01 00000000:00000000 00:00000000 00000000     0        0 5555 2 0000000000000000 0\n";

    #[test]
    fn raw_v4_line_gives_protocol_address_queue_uid() {
        let s = parse_table(ProcTable::Raw, RAW, "raw").unwrap();
        assert_eq!(s.len(), 1);
        let i = s[0].inet().unwrap();
        assert_eq!((s[0].ino, s[0].family, s[0].type_, s[0].state), (43210, AF_INET, libc::SOCK_RAW as u8, 7));
        assert_eq!(i.proto, 1);
        assert_eq!(i.src_ip(AF_INET), std::net::Ipv4Addr::LOCALHOST);
        assert_eq!((i.rqlen, i.wqlen, i.uid), (0x200, 0, 1000));
        assert_eq!(i.source, InetSource::ProcNet);
    }

    #[test]
    fn ping_v6_line_gives_peer_and_ident() {
        let s = parse_table(ProcTable::Icmp6, ICMP6, "icmp6").unwrap();
        let i = s[0].inet().unwrap();
        assert_eq!((s[0].ino, s[0].type_, i.proto, i.src_port), (5555, libc::SOCK_DGRAM as u8, IPPROTO_ICMPV6, 0x1234));
        assert_eq!(i.dst_ip(AF_INET6), std::net::Ipv6Addr::LOCALHOST);
        assert_eq!(s[0].state, 1);
    }

    #[test]
    fn header_only_table_is_empty_and_bad_lines_are_named() {
        let header = &RAW[..RAW.iter().position(|&c| c == b'\n').unwrap() + 1];
        assert!(parse_table(ProcTable::Raw, header, "raw").unwrap().is_empty());
        for bad in [
            &b"x\n  1: 0100007F:0001 00000000:0000 07\n"[..],
            b"x\n  1: 0100007G:0001 00000000:0000 07 0:0 0:0 0 0 0 1 2\n",
            b"x\n  1: 0100007F 00000000:0000 07 0:0 0:0 0 0 0 1 2\n",
            b"x\n  1: 0100007F:10000 00000000:0000 07 0:0 0:0 0 0 0 1 2\n",
            b"x\n  1: 0100007F:0001 00000000:0000 07 00 0:0 0 0 0 1 2\n",
            b"x\n  1: 0100007F:0001 00000000:0000 07 0:0 0:0 0 -1 0 1 2\n",
        ] {
            let e = parse_table(ProcTable::Raw, bad, "raw").unwrap_err();
            assert_eq!(e.errno(), libc::EBADMSG);
            assert!(e.message().starts_with("raw line 2"), "{e}");
        }
    }
}
