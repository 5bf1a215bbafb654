//! `criurs show --json`: one document, field names as in CRIU's images so
//! that readers of `crit` output read ours.

use criurs::net::{self, Detail, Socket};
use criurs::{Context, NsKind, Result};
use serde_json::{json, Map, Value};

/// Bytes as a JSON string when they are UTF-8; otherwise the lossy string
/// plus the exact bytes in hex under `<key>_hex`.
pub fn put_bytes(obj: &mut Map<String, Value>, key: &str, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            obj.insert(key.into(), Value::String(s.into()));
        }
        Err(_) => {
            obj.insert(key.into(), Value::String(String::from_utf8_lossy(bytes).into()));
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            obj.insert(format!("{key}_hex"), Value::String(hex));
        }
    }
}

pub fn document(ctx: &Context) -> Result<Value> {
    let table = ctx.namespaces()?;
    let namespaces: Vec<Value> = table
        .entries()
        .iter()
        .map(|e| json!({"kind": e.kind.name(), "id": e.id, "kid": e.kid, "type": e.ns_type.name(), "pid": e.pid}))
        .collect();
    let userns: Vec<Value> = ctx
        .user_namespaces()
        .iter()
        .map(|(id, maps)| {
            let conv = |m: &[criurs::userns::Extent]| -> Vec<Value> {
                m.iter().map(|e| json!({"first": e.first, "lower_first": e.lower_first, "count": e.count})).collect()
            };
            json!({"ns_id": id, "uid_map": conv(&maps.uid_map), "gid_map": conv(&maps.gid_map)})
        })
        .collect();
    let mut sockets = Vec::new();
    for ns in table.walk(NsKind::Net) {
        for sk in ctx.sockets(ns.id)?.iter() {
            sockets.push(socket(ns.id, sk));
        }
    }
    Ok(json!({
        "namespaces": namespaces,
        "userns": userns,
        "mounts": crate::text::mounts_json(ctx)?,
        "sockets": sockets,
    }))
}

pub fn family_name(family: u8) -> &'static str {
    match family {
        net::AF_UNIX => "unix",
        net::AF_INET => "inet",
        net::AF_INET6 => "inet6",
        net::AF_PACKET => "packet",
        net::AF_NETLINK => "netlink",
        _ => "unknown",
    }
}

pub fn type_name(type_: u8) -> &'static str {
    match type_ as i32 {
        libc::SOCK_STREAM => "stream",
        libc::SOCK_DGRAM => "dgram",
        libc::SOCK_RAW => "raw",
        libc::SOCK_SEQPACKET => "seqpacket",
        libc::SOCK_RDM => "rdm",
        _ => "unknown",
    }
}

fn socket(ns_id: u32, sk: &Socket) -> Value {
    let mut o = Map::new();
    o.insert("ns_id".into(), json!(ns_id));
    o.insert("family".into(), json!(family_name(sk.family)));
    o.insert("ino".into(), json!(sk.ino));
    o.insert("type".into(), json!(type_name(sk.type_)));
    o.insert("proto".into(), json!(sk.protocol()));
    o.insert("state".into(), json!(net::state_name(sk.state)));
    match &sk.detail {
        Detail::Unix(u) => {
            put_bytes(&mut o, "name", &u.name);
            o.insert("peer".into(), json!(u.peer));
            o.insert("backlog".into(), json!(u.backlog(sk.state)));
            o.insert("shutdown".into(), json!(u.shutdown));
            o.insert("icons".into(), json!(u.icons.to_vec()));
            o.insert("rqlen".into(), json!(u.rqlen));
            o.insert("wqlen".into(), json!(u.wqlen));
            o.insert("vfs_dev".into(), json!(u.vfs_dev));
            o.insert("vfs_ino".into(), json!(u.vfs_ino));
            if let Some(uid) = u.uid {
                o.insert("uid".into(), json!(uid));
            }
        }
        Detail::Inet(i) => {
            o.insert("src_addr".into(), json!([i.src_ip(sk.family).to_string()]));
            o.insert("src_port".into(), json!(i.src_port));
            o.insert("dst_addr".into(), json!([i.dst_ip(sk.family).to_string()]));
            o.insert("dst_port".into(), json!(i.dst_port));
            o.insert("backlog".into(), json!(i.backlog(sk.state)));
            o.insert("shutdown".into(), json!(i.shutdown));
            o.insert("ifindex".into(), json!(i.ifindex));
            o.insert("rqlen".into(), json!(i.rqlen));
            o.insert("wqlen".into(), json!(i.wqlen));
            o.insert("uid".into(), json!(i.uid));
        }
        Detail::Packet(p) => {
            o.insert("protocol".into(), json!(p.protocol));
            if let Some(info) = &p.info {
                o.insert("ifindex".into(), json!(info.ifindex));
                o.insert("version".into(), json!(info.version));
                o.insert("reserve".into(), json!(info.reserve));
                o.insert("copy_thresh".into(), json!(info.copy_thresh));
                o.insert("timestamp".into(), json!(info.timestamp));
                o.insert("flags".into(), json!(info.flags));
            }
            let mclist: Vec<Value> = p
                .mclist
                .iter()
                .map(|m| {
                    let addr: String = m.addr.iter().map(|b| format!("{b:02x}")).collect();
                    json!({"index": m.index, "type": m.type_, "addr": addr, "count": m.count})
                })
                .collect();
            o.insert("mclist".into(), json!(mclist));
            if let Some(f) = p.fanout {
                o.insert("fanout".into(), json!(f));
            }
            let ring = |r: &criurs::net::PacketRing| {
                json!({"block_size": r.block_size, "block_nr": r.block_nr, "frame_size": r.frame_size,
                       "frame_nr": r.frame_nr, "retire_tmo": r.retire_tmo, "sizeof_priv": r.sizeof_priv,
                       "features": r.features})
            };
            if let Some(r) = &p.rx_ring {
                o.insert("rx_ring".into(), ring(r));
            }
            if let Some(r) = &p.tx_ring {
                o.insert("tx_ring".into(), ring(r));
            }
        }
        Detail::Netlink(n) => {
            o.insert("protocol".into(), json!(n.protocol));
            o.insert("portid".into(), json!(n.portid));
            o.insert("groups".into(), json!(n.groups.to_vec()));
            o.insert("dst_portid".into(), json!(n.dst_portid));
            o.insert("dst_group".into(), json!(n.dst_group));
            if let Some(f) = n.flags {
                o.insert("flags".into(), json!(f));
            }
        }
    }
    Value::Object(o)
}
