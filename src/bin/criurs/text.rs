//! `criurs show`: tables for people, like findmnt and ss. Every field a
//! target controls goes through `escape`, so no name or path can move the
//! cursor, forge a row or look like another.

use std::fmt::Write as _;
use std::io::Write;

use criurs::mount::MountNamespace;
use criurs::net::{Detail, Socket};
use criurs::netdev::{NetConfig, Route};
use criurs::Context;

use crate::escape::{Esc, Quoted, UnixName};
use crate::show::{self, propagation, state_name, Filter, Section, SocketKind};
use crate::Failure;

pub fn print(ctx: &Context, filter: &Filter, out: &mut impl Write) -> Result<(), Failure> {
    let mut first = true;
    for section in filter.sections() {
        match section {
            Section::Namespaces => {
                gap(out, &mut first)?;
                namespaces(ctx, filter, out)?;
            }
            Section::Userns => {
                for (&id, maps) in ctx.user_namespaces().iter().filter(|(id, _)| filter.ns(**id)) {
                    gap(out, &mut first)?;
                    writeln!(out, "USER NAMESPACE {id}")?;
                    writeln!(out, "  {:<4} {:>10} {:>12} {:>10}", "MAP", "FIRST", "LOWER-FIRST", "COUNT")?;
                    for (name, map) in [("uid", &maps.uid_map), ("gid", &maps.gid_map)] {
                        for e in map {
                            writeln!(out, "  {:<4} {:>10} {:>12} {:>10}", name, e.first, e.lower_first, e.count)?;
                        }
                    }
                }
            }
            Section::Mounts => {
                for ns in ctx.mount_namespaces()?.namespaces().iter().filter(|ns| filter.ns(ns.ns_id)) {
                    gap(out, &mut first)?;
                    mounts(ns, out)?;
                }
            }
            Section::Links | Section::Addresses | Section::Routes => {
                for id in filter.net_config_namespaces(ctx)? {
                    gap(out, &mut first)?;
                    let cfg = ctx.net_config(id)?;
                    match section {
                        Section::Links => links(cfg, out)?,
                        Section::Addresses => addresses(cfg, out)?,
                        _ => routes(cfg, out)?,
                    }
                }
            }
            Section::Sockets => {
                for id in filter.socket_namespaces(ctx)? {
                    gap(out, &mut first)?;
                    sockets(ctx, filter, id, out)?;
                }
            }
            Section::Uts => {
                for (&id, u) in ctx.namespace_images()?.uts.iter().filter(|(id, _)| filter.ns(**id)) {
                    gap(out, &mut first)?;
                    writeln!(out, "UTS NAMESPACE {id}: nodename {} domainname {}", Esc(&u.nodename), Esc(&u.domainname))?;
                }
            }
            Section::Time => {
                for (&id, c) in ctx.namespace_images()?.time.iter().filter(|(id, _)| filter.ns(**id)) {
                    gap(out, &mut first)?;
                    let whose = if id == 0 { "the caller's clocks (timens-0)".to_string() } else { format!("TIME NAMESPACE {id}") };
                    writeln!(
                        out,
                        "{whose}: monotonic {}.{:09} s, boottime {}.{:09} s",
                        c.monotonic.sec, c.monotonic.nsec, c.boottime.sec, c.boottime.nsec
                    )?;
                }
            }
            Section::Ipc => {
                for (&id, ipc) in ctx.namespace_images()?.ipc.iter().filter(|(id, _)| filter.ns(**id)) {
                    gap(out, &mut first)?;
                    ipc_namespace(id, ipc, out)?;
                }
            }
        }
    }
    Ok(())
}

/// One ipc namespace: its sysctls, then each SysV object (as `ipcs`).
fn ipc_namespace(id: u32, ipc: &criurs::nsimg::ipc::IpcNamespace, out: &mut impl Write) -> Result<(), Failure> {
    let v = &ipc.var;
    writeln!(
        out,
        "IPC NAMESPACE {id}: {}, {}, {}",
        crate::count(ipc.shm.len(), "segment"),
        crate::count(ipc.msg.len(), "queue"),
        crate::count(ipc.sem.len(), "semaphore set")
    )?;
    let [semmsl, semmns, semopm, semmni] = v.sem_ctls;
    writeln!(
        out,
        "  kernel.msgmax {} msgmnb {} msgmni {} shmmax {} shmall {} shmmni {} sem {semmsl} {semmns} {semopm} {semmni}",
        v.msg_ctlmax, v.msg_ctlmnb, v.msg_ctlmni, v.shm_ctlmax, v.shm_ctlall, v.shm_ctlmni
    )?;
    if !ipc.shm.is_empty() {
        writeln!(out, "  {:<4} {:>10} {:>10} {:>6} {:>8} {:>12}", "SHM", "KEY", "ID", "MODE", "UID", "BYTES")?;
        for s in &ipc.shm {
            writeln!(out, "  {:<4} {:#010x} {:>10} {:>6o} {:>8} {:>12}", "", s.desc.key, s.desc.id, s.desc.mode, s.desc.uid, s.size)?;
        }
    }
    if !ipc.msg.is_empty() {
        writeln!(out, "  {:<4} {:>10} {:>10} {:>6} {:>8} {:>12} {:>8}", "MSQ", "KEY", "ID", "MODE", "UID", "QBYTES", "MESSAGES")?;
        for q in &ipc.msg {
            writeln!(
                out,
                "  {:<4} {:#010x} {:>10} {:>6o} {:>8} {:>12} {:>8}",
                "", q.desc.key, q.desc.id, q.desc.mode, q.desc.uid, q.qbytes, q.messages.len()
            )?;
        }
    }
    if !ipc.sem.is_empty() {
        writeln!(out, "  {:<4} {:>10} {:>10} {:>6} {:>8}  VALUES", "SEM", "KEY", "ID", "MODE", "UID")?;
        for set in &ipc.sem {
            let values: Vec<String> = set.values.iter().map(u16::to_string).collect();
            writeln!(out, "  {:<4} {:#010x} {:>10} {:>6o} {:>8}  {}", "", set.desc.key, set.desc.id, set.desc.mode, set.desc.uid, values.join(" "))?;
        }
    }
    Ok(())
}

/// `ip -br link`, then what a dump makes of each link.
fn links(cfg: &NetConfig, out: &mut impl Write) -> Result<(), Failure> {
    writeln!(out, "LINKS OF NET NAMESPACE {} ({})", cfg.ns_id, crate::count(cfg.links.len(), "link"))?;
    writeln!(out, "{:<16} {:<14} {:<17} {:<40} {:>6}  {:<8} DUMP", "NAME", "STATE", "ADDRESS", "FLAGS", "MTU", "KIND")?;
    for l in &cfg.links {
        let address = l.link.address.as_deref().map(show::ll_addr).unwrap_or_default();
        let (plan, device, reason) = show::plan_words(l);
        let dump = match (device, reason) {
            (Some(t), _) => t.to_string(),
            (None, Some(r)) => format!("{plan}: {r}"),
            (None, None) => plan.to_string(),
        };
        writeln!(
            out,
            "{:<16} {:<14} {:<17} {:<40} {:>6}  {:<8} {}",
            Esc(&show::brief_name(cfg, l)),
            show::operstate_name(l.link.operstate),
            address,
            format!("<{}>", show::link_flags(l.link.flags)),
            l.link.mtu.map(|m| m.to_string()).unwrap_or_default(),
            Esc(l.link.kind.as_deref().unwrap_or(b"-")),
            dump
        )?;
    }
    Ok(())
}

/// `ip -br addr`: a line a link, its addresses in the kernel's order.
fn addresses(cfg: &NetConfig, out: &mut impl Write) -> Result<(), Failure> {
    writeln!(out, "ADDRESSES OF NET NAMESPACE {} ({})", cfg.ns_id, crate::count(cfg.addresses.len(), "address"))?;
    writeln!(out, "{:<16} {:<14} ADDRESSES", "NAME", "STATE")?;
    let mut line = String::new();
    for l in &cfg.links {
        line.clear();
        let _ = write!(line, "{:<16} {:<14} ", Esc(&show::brief_name(cfg, l)), show::operstate_name(l.link.operstate));
        for a in cfg.addresses.iter().filter(|a| a.ifindex == l.link.ifindex) {
            let local = a.local.as_deref().or(a.address.as_deref()).map(show::ip_text).unwrap_or_default();
            let _ = match a.peer() {
                Some(peer) => write!(line, "{local} peer {peer}/{} ", a.prefixlen),
                None => write!(line, "{local}/{} ", a.prefixlen),
            };
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// `ip route; ip -6 route`: table main, as route-N and route6-N hold it.
fn routes(cfg: &NetConfig, out: &mut impl Write) -> Result<(), Failure> {
    writeln!(out, "ROUTES OF NET NAMESPACE {} ({}, table main)", cfg.ns_id, crate::count(cfg.routes.len(), "route"))?;
    let mut line = String::new();
    for r in &cfg.routes {
        line.clear();
        route(cfg, r, &mut line);
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// One route in `ip route`'s words and order.
fn route(cfg: &NetConfig, r: &Route, line: &mut String) {
    if r.rtype != criurs::netdev::route::RTN_UNICAST {
        let _ = write!(line, "{} ", show::route_type_name(r.rtype));
    }
    let _ = write!(line, "{} ", show::route_dst(r));
    if let Some(src) = &r.src {
        let _ = write!(line, "from {}/{} ", show::ip_text(src), r.src_len);
    }
    if r.tos != 0 {
        let _ = write!(line, "tos {:#x} ", r.tos);
    }
    if let Some(gw) = &r.gateway {
        let _ = write!(line, "via {} ", show::ip_text(gw));
    }
    if let Some(oif) = r.oif {
        let _ = write!(line, "dev {} ", Esc(&show::dev_name(cfg, oif)));
    }
    if r.table != 254 {
        let _ = write!(line, "table {} ", show::table_name(r.table));
    }
    if r.flags & criurs::netdev::route::RTM_F_CLONED == 0 {
        if r.protocol != 3 {
            let _ = write!(line, "proto {} ", show::route_proto_name(r.protocol));
        }
        if r.scope != 0 {
            let _ = write!(line, "scope {} ", show::scope_name(r.scope));
        }
    }
    if let Some(src) = &r.prefsrc {
        let _ = write!(line, "src {} ", show::ip_text(src));
    }
    if let Some(m) = r.priority {
        let _ = write!(line, "metric {m} ");
    }
    for w in show::route_flag_words(r.flags) {
        let _ = write!(line, "{w} ");
    }
    if let Some(iif) = r.iif {
        let _ = write!(line, "iif {} ", Esc(&show::dev_name(cfg, iif)));
    }
    if let Some(p) = r.pref {
        let _ = write!(line, "pref {} ", show::route_pref_name(p));
    }
    if r.nexthops > 0 {
        let _ = write!(line, "({} nexthops) ", r.nexthops);
    }
}

/// One blank line between tables.
fn gap(out: &mut impl Write, first: &mut bool) -> std::io::Result<()> {
    if !std::mem::take(first) {
        writeln!(out)?;
    }
    Ok(())
}

fn namespaces(ctx: &Context, filter: &Filter, out: &mut impl Write) -> Result<(), Failure> {
    let table = ctx.namespaces()?;
    writeln!(out, "Process tree of pid {}: {}", ctx.root_pid(), crate::count(ctx.tree()?.tasks.len(), "task"))?;
    writeln!(out)?;
    writeln!(out, "NAMESPACES")?;
    writeln!(out, "{:>4}  {:<7} {:>12}  {:>7}  TYPE", "ID", "KIND", "KERNEL-ID", "PID")?;
    for e in table.entries().iter().filter(|e| filter.ns(e.id)) {
        writeln!(out, "{:>4}  {:<7} {:>12}  {:>7}  {}", e.id, e.kind.name(), e.kid, e.pid, e.ns_type.name())?;
    }
    Ok(())
}

fn sockets(ctx: &Context, filter: &Filter, ns_id: u32, out: &mut impl Write) -> Result<(), Failure> {
    let table = ctx.sockets(ns_id)?;
    let shown = table.iter().filter(|sk| filter.socket(sk));
    let what = if table.iter().all(|sk| filter.socket(sk)) {
        crate::count(table.len(), "socket")
    } else {
        format!("{} of {}", shown.clone().count(), crate::count(table.len(), "socket"))
    };
    writeln!(out, "SOCKETS OF NET NAMESPACE {ns_id} ({what})")?;
    let holders = if filter.holders() { Some(ctx.socket_holders()?) } else { None };
    write!(out, "{:<7} {:<10} {:>6} {:>6}  {:<40} {:<40} {:>8}", "NETID", "STATE", "RECV-Q", "SEND-Q", "LOCAL", "PEER", "INO")?;
    writeln!(out, "{}", if holders.is_some() { "  PROCESS" } else { "" })?;
    let mut local = String::new();
    let mut peer = String::new();
    let mut users = String::new();
    for sk in shown {
        users.clear();
        if let Some(map) = holders {
            ss_users(&mut users, map.get(sk.ino as u64));
        }
        socket(sk, &mut local, &mut peer, &users, out)?;
    }
    Ok(())
}

/// `ss -p`'s column: `  users:(("comm",pid=N,fd=M),...)`, the command
/// name escaped and its quotes too; nothing when no process holds it.
fn ss_users(out: &mut String, holders: &[criurs::holders::Holder]) {
    if holders.is_empty() {
        return;
    }
    out.push_str("  users:(");
    for (i, h) in holders.iter().enumerate() {
        let sep = if i > 0 { "," } else { "" };
        let _ = write!(out, "{sep}({},pid={},fd={})", Quoted(&h.comm), h.pid, h.fd);
    }
    out.push(')');
}

fn socket(sk: &Socket, local: &mut String, peer: &mut String, users: &str, out: &mut impl Write) -> std::io::Result<()> {
    local.clear();
    peer.clear();
    let (rq, wq) = match &sk.detail {
        Detail::Unix(u) => {
            let _ = write!(local, "{}", UnixName(u.shown_name()));
            let _ = write!(peer, "* {}", u.peer);
            (u.rqlen, u.wqlen)
        }
        Detail::Inet(i) => {
            let addr = |s: &mut String, ip: std::net::IpAddr, port: u16| match ip {
                std::net::IpAddr::V6(v6) => write!(s, "[{v6}]:{port}"),
                v4 => write!(s, "{v4}:{port}"),
            };
            let _ = addr(local, i.src_ip(sk.family), i.src_port);
            let _ = addr(peer, i.dst_ip(sk.family), i.dst_port);
            (i.rqlen, i.wqlen)
        }
        Detail::Packet(p) => {
            let _ = write!(local, "proto {:#06x}", p.ethertype());
            let _ = match p.fanout {
                Some(f) => write!(peer, "fanout {f:#x}"),
                None => write!(peer, "*"),
            };
            (0, 0)
        }
        Detail::Netlink(n) => {
            let _ = write!(local, "{}:{}", n.protocol, n.portid);
            let _ = write!(peer, "{}:{}", n.dst_portid, n.dst_group);
            (0, 0)
        }
    };
    writeln!(
        out,
        "{:<7} {:<10} {:>6} {:>6}  {:<40} {:<40} {:>8}{users}",
        SocketKind::of(sk).netid(),
        state_name(sk),
        rq,
        wq,
        local,
        peer,
        sk.ino
    )
}

fn mounts(ns: &MountNamespace, out: &mut impl Write) -> Result<(), Failure> {
    writeln!(out, "MOUNTS OF MOUNT NAMESPACE {} ({})", ns.ns_id, crate::count(ns.len(), "mount"))?;
    writeln!(out, "{:<50} {:<20} {:<10} {:<30} PROPAGATION", "TARGET", "SOURCE", "FSTYPE", "OPTIONS")?;
    // Depth-first from the root, children in mount order, like findmnt.
    // Each stack entry: mount index, length of its tree prefix, last child.
    let mut prefix = String::new();
    let mut target = String::new();
    let mut stack = vec![(ns.root_index(), 0usize, true, true)];
    while let Some((index, depth_len, last, top)) = stack.pop() {
        prefix.truncate(depth_len);
        let m = &ns.mounts()[index];
        target.clear();
        target.push_str(&prefix);
        target.push_str(if top { "" } else if last { "└─" } else { "├─" });
        let _ = write!(target, "{}", Esc(&m.mountpoint()));
        writeln!(
            out,
            "{:<50} {:<20} {:<10} {:<30} {}",
            target,
            Esc(&m.source()),
            Esc(&m.fsname()),
            Esc(&m.mount_options()),
            propagation(m)
        )?;
        let children = ns.children(index);
        if children.is_empty() {
            continue;
        }
        if !top {
            prefix.push_str(if last { "  " } else { "│ " });
        }
        for (k, &child) in children.iter().enumerate().rev() {
            stack.push((child, prefix.len(), k + 1 == children.len(), false));
        }
    }
    Ok(())
}
