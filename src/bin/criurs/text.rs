//! `criurs show`: tables for people, like findmnt and ss.

use criurs::net::{self, Detail, Socket};
use criurs::{Context, NsKind, Result};
use serde_json::Value;

use crate::json::{family_name, type_name};

pub fn print(ctx: &Context) -> Result<()> {
    let table = ctx.namespaces()?;
    let tree = ctx.tree()?;
    println!("Process tree of pid {}: {} tasks", ctx.root_pid(), tree.tasks.len());
    println!();
    println!("NAMESPACES");
    println!("{:>4}  {:<7} {:>12}  {:>7}  TYPE", "ID", "KIND", "KERNEL-ID", "PID");
    for e in table.entries() {
        println!("{:>4}  {:<7} {:>12}  {:>7}  {}", e.id, e.kind.name(), e.kid, e.pid, e.ns_type.name());
    }
    for (id, maps) in ctx.user_namespaces() {
        println!();
        println!("USER NAMESPACE {id}");
        println!("  {:<4} {:>10} {:>12} {:>10}", "MAP", "FIRST", "LOWER-FIRST", "COUNT");
        for (name, map) in [("uid", &maps.uid_map), ("gid", &maps.gid_map)] {
            for e in map {
                println!("  {:<4} {:>10} {:>12} {:>10}", name, e.first, e.lower_first, e.count);
            }
        }
    }
    print_mounts(ctx)?;
    for ns in table.walk(NsKind::Net) {
        let sockets = ctx.sockets(ns.id)?;
        println!();
        println!("SOCKETS OF NET NAMESPACE {} ({} sockets)", ns.id, sockets.len());
        println!(
            "{:<7} {:<10} {:>6} {:>6}  {:<40} {:<40} {:>8}",
            "NETID", "STATE", "RECV-Q", "SEND-Q", "LOCAL", "PEER", "INO"
        );
        for sk in sockets.iter() {
            print_socket(sk);
        }
    }
    Ok(())
}

fn netid(sk: &Socket) -> String {
    match &sk.detail {
        Detail::Unix(_) => format!("u_{}", &type_name(sk.type_)[..3]),
        Detail::Inet(i) => match i.proto as i32 {
            libc::IPPROTO_TCP => "tcp".into(),
            libc::IPPROTO_UDP => "udp".into(),
            libc::IPPROTO_UDPLITE => "udplite".into(),
            libc::IPPROTO_ICMP | libc::IPPROTO_ICMPV6 => "ping".into(),
            _ => "raw".into(),
        },
        Detail::Packet(_) => "p_".to_string() + &type_name(sk.type_)[..3],
        Detail::Netlink(_) => "nl".into(),
    }
}

fn show_name(name: &[u8]) -> String {
    match name.split_first() {
        None => "*".into(),
        Some((0, rest)) => format!("@{}", String::from_utf8_lossy(rest)),
        Some(_) => String::from_utf8_lossy(name).into(),
    }
}

fn print_socket(sk: &Socket) {
    let (rq, wq, local, peer) = match &sk.detail {
        Detail::Unix(u) => (u.rqlen, u.wqlen, show_name(&u.name), format!("* {}", u.peer)),
        Detail::Inet(i) => {
            let addr = |ip: std::net::IpAddr, port: u16| match ip {
                std::net::IpAddr::V6(v6) => format!("[{v6}]:{port}"),
                v4 => format!("{v4}:{port}"),
            };
            (i.rqlen, i.wqlen, addr(i.src_ip(sk.family), i.src_port), addr(i.dst_ip(sk.family), i.dst_port))
        }
        Detail::Packet(p) => (0, 0, format!("proto {:#06x}", p.protocol), format!("fanout {:?}", p.fanout)),
        Detail::Netlink(n) => (0, 0, format!("{}:{}", n.protocol, n.portid), format!("{}:{}", n.dst_portid, n.dst_group)),
    };
    let state = if sk.family == net::AF_UNIX || sk.family == net::AF_INET || sk.family == net::AF_INET6 {
        net::state_name(sk.state)
    } else {
        "UNCONN"
    };
    let _ = family_name;
    println!("{:<7} {:<10} {:>6} {:>6}  {:<40} {:<40} {:>8}", netid(sk), state, rq, wq, local, peer, sk.ino);
}

fn print_mounts(_ctx: &Context) -> Result<()> {
    Ok(())
}

pub fn mounts_json(_ctx: &Context) -> Result<Vec<Value>> {
    Ok(Vec::new())
}
