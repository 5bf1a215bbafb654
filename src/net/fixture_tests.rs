//! The ns-sockets fixture of CRIU 4.2: the kernel's view of each socket
//! (`ss.txt`, `proc-net-packet.txt`) made into the diag replies the kernel
//! sends, through our parsers and table, against what CRIU wrote for the
//! same sockets (`files.json`, crit's decoding of files.img).

use std::collections::HashMap;

use serde_json::Value;

use super::diag::{parse_inet, parse_packet, parse_unix, IPPROTO_TCP, IPPROTO_UDP};
use super::record::*;
use super::table::TableBuilder;
use crate::netlink::UnknownAttrs;
use crate::testing::fixture_in;

fn text(name: &str) -> String {
    String::from_utf8(fixture_in("ns-sockets", name)).unwrap()
}

fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
    let mut a = ((4 + payload.len()) as u16).to_ne_bytes().to_vec();
    a.extend_from_slice(&kind.to_ne_bytes());
    a.extend_from_slice(payload);
    a.resize((a.len() + 3) & !3, 0);
    a
}

fn words(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|w| w.to_ne_bytes()).collect()
}

fn state_number(name: &str) -> u8 {
    (0..=TCP_CLOSING).find(|&s| state_name(s) == name).unwrap_or_else(|| panic!("state {name}"))
}

/// crit prints UnixSkEntry.name quoted-printable (`=00` is a NUL).
fn unquote(qp: &str) -> Vec<u8> {
    let b = qp.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'=' if b.get(i + 1) == Some(&b'\n') => i += 2,
            b'=' => {
                out.push(u8::from_str_radix(&qp[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// The unix_diag reply for one `ss` line (`u_str LISTEN 1 7 NAME INO * PEER ... peers: ICONS`):
/// a path's name with the NUL the kernel counts after it, as it sends it.
fn unix_reply(line: &str) -> Vec<u8> {
    let c: Vec<&str> = line.split_whitespace().collect();
    let type_ = match c[0] {
        "u_str" => libc::SOCK_STREAM,
        "u_dgr" => libc::SOCK_DGRAM,
        _ => libc::SOCK_SEQPACKET,
    } as u8;
    let (rq, wq): (u32, u32) = (c[2].parse().unwrap(), c[3].parse().unwrap());
    let ino: u32 = c[5].parse().unwrap();
    let peer: u32 = c[7].parse().unwrap();
    let mut m = vec![AF_UNIX, type_, state_number(c[1]), 0];
    m.extend_from_slice(&ino.to_ne_bytes());
    m.extend_from_slice(&[0; 8]);
    match c[4] {
        "*" => {}
        abstract_ if abstract_.starts_with('@') => m.extend(attr(0, &[b"\0", &abstract_.as_bytes()[1..]].concat())),
        path => {
            m.extend(attr(0, &[path.as_bytes(), b"\0"].concat()));
            m.extend(attr(1, &words(&[1, 2])));
        }
    }
    m.extend(attr(2, &peer.to_ne_bytes()));
    if let Some(at) = c.iter().position(|&w| w == "peers:") {
        let icons: Vec<u32> = c[at + 1..].iter().map_while(|w| w.trim_end_matches(',').parse().ok()).collect();
        m.extend(attr(3, &words(&icons)));
    }
    m.extend(attr(4, &words(&[rq, wq])));
    m.extend(attr(6, &[0]));
    m
}

/// The inet_diag reply for one `ss` tcp/udp line.
fn inet_reply(line: &str) -> (Vec<u8>, u8, u8) {
    let c: Vec<&str> = line.split_whitespace().collect();
    let (rq, wq): (u32, u32) = (c[2].parse().unwrap(), c[3].parse().unwrap());
    let ino: u32 = c.iter().find_map(|w| w.strip_prefix("ino:")).unwrap().parse().unwrap();
    let (addr, port) = c[4].rsplit_once(':').unwrap();
    let ip: std::net::IpAddr = addr.trim_start_matches('[').split([']', '%']).next().unwrap().parse().unwrap();
    let (family, src) = match ip {
        std::net::IpAddr::V4(a) => (AF_INET, [&a.octets()[..], &[0; 12]].concat()),
        std::net::IpAddr::V6(a) => (AF_INET6, a.octets().to_vec()),
    };
    let mut m = vec![family, state_number(c[1]), 0, 0];
    m.extend_from_slice(&port.parse::<u16>().unwrap().to_be_bytes());
    m.extend_from_slice(&[0; 2]);
    m.extend_from_slice(&src);
    m.extend_from_slice(&[0; 16]);
    m.extend_from_slice(&[0; 4 + 8]); // if, cookie
    for v in [0u32, rq, wq, 0, ino] {
        m.extend_from_slice(&v.to_ne_bytes());
    }
    (m, family, if c[0] == "tcp" { IPPROTO_TCP } else { IPPROTO_UDP })
}

/// The packet_diag reply for one /proc/net/packet line (`Proto` in hex, host order).
fn packet_reply(line: &str) -> Vec<u8> {
    let c: Vec<&str> = line.split_whitespace().collect();
    let mut m = vec![AF_PACKET, c[2].parse().unwrap()];
    m.extend_from_slice(&u16::from_str_radix(c[3], 16).unwrap().to_ne_bytes());
    m.extend_from_slice(&c[8].parse::<u32>().unwrap().to_ne_bytes());
    m.extend_from_slice(&[0; 8]);
    m
}

fn table_from_the_kernel_view() -> super::SocketTable {
    let mut unknown = UnknownAttrs::default();
    let mut b = TableBuilder::default();
    for line in text("ss.txt").lines() {
        let sock = match line.split_whitespace().next() {
            Some(n) if n.starts_with("u_") => parse_unix(&unix_reply(line), &mut unknown),
            Some("tcp" | "udp") => {
                let (m, family, proto) = inet_reply(line);
                let type_ = if proto == IPPROTO_TCP { libc::SOCK_STREAM } else { libc::SOCK_DGRAM } as u8;
                parse_inet(&m, family, proto, type_, &mut unknown)
            }
            _ => continue,
        };
        b.push(sock.unwrap_or_else(|e| panic!("{line}: {e}")));
    }
    for line in text("proc-net-packet.txt").lines().skip(1) {
        b.push(parse_packet(&packet_reply(line), &mut unknown).unwrap());
    }
    assert!(unknown.is_empty());
    b.finish(Vec::new())
}

/// CRIU's socket entries of files.json, by kind.
fn criu_entries(kind: &str, key: &str) -> Vec<Value> {
    let files: Value = serde_json::from_slice(&fixture_in("ns-sockets", "files.json")).unwrap();
    files["entries"].as_array().unwrap().iter().filter(|e| e["type"] == kind).map(|e| e[key].clone()).collect()
}

#[test]
fn unix_name_backlog_and_peer_are_what_criu_recorded() {
    let t = table_from_the_kernel_view();
    let mut seen = HashMap::new();
    for usk in criu_entries("UNIXSK", "usk") {
        let ino = usk["ino"].as_u64().unwrap() as u32;
        let s = t.lookup(ino).unwrap_or_else(|| panic!("ss has no unix socket {ino}"));
        let u = s.unix().unwrap();
        let name = unquote(usk["name"].as_str().unwrap());
        assert_eq!(&*u.name, &name[..], "unix {ino}: name as CRIU keeps it");
        assert_eq!(u.backlog() as u64, usk["backlog"].as_u64().unwrap(), "unix {ino}: backlog");
        assert_eq!(u.peer as u64, usk["peer"].as_u64().unwrap(), "unix {ino}: peer");
        seen.insert(ino, (name, u.backlog(), u.in_flight));
    }
    assert_eq!(seen.len(), 7);
    // What the fixture shows, by the README: the path keeps its NUL, the
    // abstract name has none at the end; the dgram end's 1280 unread
    // bytes are its backlog; the client never accepted names the listener.
    let listener = 7358146;
    assert!(seen[&listener].0.ends_with(b"/listener\0"));
    assert_eq!(seen[&7358152].0, b"\0fixture-abstract");
    assert_eq!(seen[&7358148].1, 1280);
    assert!(seen[&7358147].2 && t.lookup(7358147).unwrap().unix().unwrap().peer == listener);
    assert_eq!(seen.values().filter(|v| v.2).count(), 1, "one socket in flight");
}

#[test]
fn inet_backlog_and_packet_protocol_are_what_criu_recorded() {
    let t = table_from_the_kernel_view();
    let mut checked = 0;
    for isk in criu_entries("INETSK", "isk") {
        let ino = isk["ino"].as_u64().unwrap() as u32;
        let Some(s) = t.lookup(ino) else { continue }; // ss.txt lacks udplite
        assert_eq!(s.inet().unwrap().backlog() as u64, isk["backlog"].as_u64().unwrap(), "inet {ino}");
        checked += 1;
    }
    assert_eq!(checked, 3);
    // files.json has no packet inode: each of the two has its own type.
    let packets: Vec<&PacketDetail> = t.iter().filter_map(Socket::packet).collect();
    for psk in criu_entries("PACKETSK", "psk") {
        let ty = psk["type"].as_u64().unwrap() as u8;
        let s = t.iter().find(|s| s.family == AF_PACKET && s.type_ == ty).unwrap();
        assert_eq!(s.packet().unwrap().protocol as u64, psk["protocol"].as_u64().unwrap(), "packet type {ty}");
    }
    assert_eq!(packets.len(), 2);
    assert!(packets.iter().any(|p| p.protocol == 46472 && p.ethertype() == 0x88B5));
}
