//! `criurs show`: tables for people, like findmnt and ss.

use criurs::net::{self, Detail, Socket};
use criurs::{Context, NsKind, Result};
use criurs::mount::MountRecord;
use serde_json::{json, Map, Value};

use crate::json::{put_bytes, type_name};

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
        // A raw socket may be opened for ICMP: its type says raw, not ping.
        Detail::Inet(_) if sk.type_ as i32 == libc::SOCK_RAW => "raw".into(),
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
    println!("{:<7} {:<10} {:>6} {:>6}  {:<40} {:<40} {:>8}", netid(sk), state, rq, wq, local, peer, sk.ino);
}

fn propagation(m: &MountRecord) -> String {
    let mut parts = Vec::new();
    if m.shared_id != 0 {
        parts.push(format!("shared:{}", m.shared_id));
    }
    if m.master_id != 0 {
        parts.push(format!("master:{}", m.master_id));
    }
    if m.flags & libc::MS_UNBINDABLE as u32 != 0 {
        parts.push("unbindable".into());
    }
    if parts.is_empty() {
        "private".into()
    } else {
        parts.join(",")
    }
}

/// Bytes for a terminal: control characters escaped as mountinfo does.
fn shown(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                out.push_str(&format!("\\{:03o}", c as u32));
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\{b:03o}"));
        }
    }
    out
}

fn print_mounts(ctx: &Context) -> Result<()> {
    for ns in ctx.mount_namespaces()?.namespaces() {
        println!();
        println!("MOUNTS OF MOUNT NAMESPACE {} ({} mounts)", ns.ns_id, ns.len());
        println!("{:<50} {:<20} {:<10} {:<30} PROPAGATION", "TARGET", "SOURCE", "FSTYPE", "OPTIONS");
        // Depth-first from the root, children in mount order, like findmnt.
        let mut stack = vec![(ns.root_index(), String::new(), true, true)];
        while let Some((index, prefix, last, top)) = stack.pop() {
            let m = &ns.mounts()[index];
            let branch = if top { "" } else if last { "└─" } else { "├─" };
            let target = format!("{prefix}{branch}{}", shown(&m.mountpoint));
            println!(
                "{:<50} {:<20} {:<10} {:<30} {}",
                target,
                shown(&m.source),
                shown(&m.fsname),
                shown(&m.mount_options),
                propagation(m)
            );
            let child_prefix = if top { String::new() } else { format!("{prefix}{}", if last { "  " } else { "│ " }) };
            let children = ns.children(index);
            for (k, &child) in children.iter().enumerate().rev() {
                stack.push((child, child_prefix.clone(), k + 1 == children.len(), false));
            }
        }
    }
    Ok(())
}

/// MntEntry's fields under CRIU's names, per mount, in mount order.
pub fn mounts_json(ctx: &Context) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for ns in ctx.mount_namespaces()?.namespaces() {
        for m in ns.mounts() {
            let mut o = Map::new();
            o.insert("ns_id".into(), json!(ns.ns_id));
            o.insert("fstype".into(), json!(m.fstype.code()));
            o.insert("fstype_name".into(), json!(m.fstype.name()));
            o.insert("mnt_id".into(), json!(m.mnt_id));
            o.insert("root_dev".into(), json!(format!("{}:{}", m.major, m.minor)));
            o.insert("parent_mnt_id".into(), json!(m.parent_mnt_id));
            o.insert("flags".into(), json!(m.flags));
            put_bytes(&mut o, "root", &m.root);
            put_bytes(&mut o, "mountpoint", &m.mountpoint);
            put_bytes(&mut o, "source", &m.source);
            put_bytes(&mut o, "options", &m.options);
            o.insert("shared_id".into(), json!(m.shared_id));
            o.insert("master_id".into(), json!(m.master_id));
            put_bytes(&mut o, "fsname", &m.fsname);
            o.insert("deleted".into(), json!(m.deleted));
            o.insert("sb_flags".into(), json!(m.sb_flags));
            if let Some(key) = &m.ext_key {
                o.insert("ext_mount".into(), json!(true));
                put_bytes(&mut o, "ext_key", key);
            }
            o.insert("propagation".into(), json!(propagation(m)));
            out.push(Value::Object(o));
        }
    }
    Ok(out)
}
