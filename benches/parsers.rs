//! Micro-benchmarks of the parsers on recorded inputs: mountinfo (a
//! 10,000-line file in the shape of the CRIU fixture, with escapes) and
//! the sock_diag replies (unix and TCP replies recorded at start-up from a
//! live dump of sockets this process makes on loopback).

use std::hint::black_box;
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use netlink_packet_core::Parseable;
use criurs::mount::mountinfo::{self, ParseRules};
use criurs::net::DiagRequest;
use criurs::netlink::{NlSocket, Protocol, UnknownAttrs};

fn mountinfo_10k() -> Vec<u8> {
    let mut text = Vec::new();
    text.extend_from_slice(b"62 60 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n");
    for i in 0..10_000u32 {
        let line = match i % 4 {
            0 => format!("{} 62 0:41 /sub /tmp/root/bind_{i} rw,relatime - tmpfs fx-a rw,size=128k,mode=751\n", 100 + i),
            1 => format!("{} 62 0:43 / /tmp/root/peer\\040{i} rw,relatime shared:1 - tmpfs fx-peer rw,size=16k\n", 100 + i),
            2 => format!("{} 62 0:43 / /tmp/root/slave\\011{i} rw,nosuid,noexec,relatime master:1 - tmpfs fx-peer rw\n", 100 + i),
            _ => format!("{} 62 0:44 / /tmp/root/fuse{i} rw,relatime - fuse.sshfs host:/x rw,user_id=0\n", 100 + i),
        };
        text.extend_from_slice(line.as_bytes());
    }
    text
}

/// Records the replies of one dump request (payloads after the netlink
/// header), as the receive loop hands them to the parser.
fn record(req: DiagRequest) -> Vec<Vec<u8>> {
    let mut sock = NlSocket::new(Protocol::SOCK_DIAG).expect("sock_diag socket (run as root)");
    let mut replies = Vec::new();
    sock.dump(&req.request(), &mut |payload| {
        replies.push(payload.to_vec());
        Ok(())
    })
    .expect("dump");
    replies
}

fn parsers(c: &mut Criterion) {
    let text = mountinfo_10k();
    let rules = ParseRules::default();
    let mut g = c.benchmark_group("mountinfo");
    g.throughput(Throughput::Elements(10_001));
    g.bench_function("parse 10,001 lines", |b| b.iter(|| mountinfo::parse(black_box(&text), &rules).unwrap()));
    g.finish();

    // Sockets to record: 2,000 unix (socketpairs) and 400 TCP on loopback.
    let pairs: Vec<_> = (0..1000).map(|_| UnixStream::pair().unwrap()).collect();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Accept as we connect: the listen backlog is smaller than 200.
    let (clients, servers): (Vec<_>, Vec<_>) =
        (0..200).map(|_| (TcpStream::connect(addr).unwrap(), listener.accept().unwrap().0)).unzip();
    for (name, req) in [("unix", DiagRequest::Unix), ("tcp4", DiagRequest::Inet { family: libc::AF_INET as u8, proto: libc::IPPROTO_TCP as u8 })] {
        let replies = record(req);
        let mut g = c.benchmark_group("sock_diag");
        g.throughput(Throughput::Elements(replies.len() as u64));
        g.bench_function(format!("parse {} {name} replies", replies.len()), |b| {
            b.iter(|| {
                let mut unknown = UnknownAttrs::default();
                for p in &replies {
                    black_box(req.parse(black_box(p), &mut unknown).unwrap());
                }
            })
        });
        // The crate's whole-message parser on the same bytes, the
        // alternative to ours (src/net/diag.rs says why it is not used).
        g.bench_function(format!("netlink-packet-sock-diag parse {} {name} replies", replies.len()), |b| {
            b.iter(|| {
                for p in &replies {
                    if name == "unix" {
                        black_box(netlink_packet_sock_diag::unix::UnixResponse::parse(black_box(&p[..])).unwrap());
                    } else {
                        black_box(netlink_packet_sock_diag::inet::InetResponse::parse(black_box(&p[..])).unwrap());
                    }
                }
            })
        });
        // The fixed header alone: the crate's view against our named
        // fields (src/net/diag.rs records the figures of the choice).
        g.bench_function(format!("netlink-packet-sock-diag header view {} {name} replies", replies.len()), |b| {
            b.iter(|| {
                for p in &replies {
                    if name == "unix" {
                        black_box(netlink_packet_sock_diag::unix::UnixResponseHeader::parse(black_box(&p[..16])).unwrap());
                    } else {
                        black_box(netlink_packet_sock_diag::inet::InetResponseHeader::parse(black_box(&p[..72])).unwrap());
                    }
                }
            })
        });
        g.bench_function(format!("named-field header {} {name} replies", replies.len()), |b| {
            b.iter(|| {
                for p in &replies {
                    let p = black_box(&p[..]);
                    if name == "unix" {
                        use criurs::net::diag::unix_diag_msg::*;
                        black_box((UDIAG_FAMILY.get(p), UDIAG_TYPE.get(p), UDIAG_STATE.get(p), UDIAG_INO.get(p)));
                    } else {
                        use criurs::net::diag::inet_diag_msg::*;
                        black_box((IDIAG_FAMILY.get(p), IDIAG_STATE.get(p), IDIAG_TIMER.get(p), IDIAG_RETRANS.get(p)));
                        black_box((ID_SPORT.get(p), ID_DPORT.get(p), ID_SRC.get(p), ID_DST.get(p), ID_IF.get(p)));
                        black_box((IDIAG_EXPIRES.get(p), IDIAG_RQUEUE.get(p), IDIAG_WQUEUE.get(p), IDIAG_UID.get(p), IDIAG_INODE.get(p)));
                    }
                }
            })
        });
        g.finish();
    }
    drop((pairs, clients, servers));
}

criterion_group!(benches, parsers);
criterion_main!(benches);
