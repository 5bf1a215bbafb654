//! Entry points for the coverage-guided fuzz targets in `fuzz/` (one
//! function a target; not part of the API). Each hands arbitrary bytes to
//! the parsers a hostile target or a corrupt image reaches, the same
//! functions a collection calls, and checks what every parser promises:
//! no panic, and an error that says what and why (an errno and a
//! sentence), never a silently partial result. A panic here is a bug the
//! fuzzer reports; the input becomes a regression test beside the parser.
//!
//! An input starts with one selector byte (which parser, or which flags),
//! then the bytes that parser reads. Netlink inputs are one datagram of
//! replies; the dump they answer takes its sequence number and port from
//! the first message, so every message of the dump reaches its parser.

use std::path::Path;

use crate::error::{Error, Result};
use crate::log::Logger;
use crate::mount::{self, fstype::AutoFs, mountinfo::ParseRules, CollectRules, MountConfig};
use crate::net::diag::DiagRequest;
use crate::net::plan::{Source, PLAN};
use crate::net::procnet::{parse_table, ProcTable};
use crate::net::table::TableBuilder;
use crate::netdev::{self, link, route, stream, Stream};
use crate::netlink::{self, message::nlmsghdr, DumpKind, Exchange, NlMsg};
use crate::ns::{NsEntry, NsKind, NsType};
use crate::userns::{Extent, IdMaps};

/// An error must name what failed and carry an errno for C.
fn checked<T>(r: Result<T>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            assert_error(&e);
            None
        }
    }
}

fn assert_error(e: &Error) {
    assert!(e.errno() > 0, "error without an errno: {e}");
    assert!(!e.message().is_empty(), "error without a message (errno {})", e.errno());
}

fn split_selector(data: &[u8]) -> Option<(u8, &[u8])> {
    data.split_first().map(|(&s, rest)| (s, rest))
}

/// A user namespace's maps, for mounts whose uid=/gid= are translated.
fn sample_maps() -> IdMaps {
    let map = vec![Extent { first: 0, lower_first: 100_000, count: 65_536 }];
    IdMaps { uid_map: map.clone(), gid_map: map }
}

/// Namespaces in one mountinfo input are separated by a line `=`.
pub const MOUNTINFO_NS_SEPARATOR: &[u8] = b"\n=\n";

/// Mountinfo text into trees (`parse_mountinfo`, the per-type rules,
/// `mnt_build_tree`), then sharing and `validate_mounts` over all of
/// them. Selector bits: 1 uid/gid maps, 2 `/` external, 4 a devpts
/// device, 8 own cgroup namespace, 16 for a dump, 32 validate.
pub fn mountinfo(data: &[u8]) {
    let Some((flags, text)) = split_selector(data) else { return };
    let log = Logger::default();
    let mut config = MountConfig::default();
    if flags & 2 != 0 {
        config.add_external_mount(b"/", b"root").expect("a valid external");
    }
    let rules = CollectRules {
        parse: ParseRules { ids: (flags & 1 != 0).then(sample_maps), auto_fs: AutoFs::default() },
        config: &config,
        devpts_dev: (flags & 4 != 0).then_some(0x1c),
        cgroup_ns: flags & 8 != 0,
        for_dump: flags & 16 != 0,
    };
    let mut namespaces = Vec::new();
    for (i, part) in split_on(text, MOUNTINFO_NS_SEPARATOR).into_iter().take(4).enumerate() {
        let ns = NsEntry {
            id: i as u32 + 1,
            kind: NsKind::Mnt,
            kid: 4_026_531_840 + i as u64,
            pid: i as i32 + 1,
            ns_type: if i == 0 { NsType::Root } else { NsType::Other },
        };
        let Some(built) = checked(mount::build_namespace(&ns, part, &rules, &log)) else { return };
        check_tree(&built);
        namespaces.push(built);
    }
    if let Some(sharing) = checked(mount::resolve(&mut namespaces, &config, Some(1), flags & 32 != 0, &log)) {
        let _ = sharing;
    }
}

fn split_on<'a>(mut text: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while let Some(at) = text.windows(sep.len()).position(|w| w == sep) {
        out.push(&text[..at + 1]);
        text = &text[at + sep.len()..];
    }
    out.push(text);
    out
}

/// A built tree is a tree: one root, every parent and child index in
/// range, ids unique, and its image decodes back to one entry a mount.
fn check_tree(ns: &mount::MountNamespace) {
    assert!(!ns.is_empty());
    assert!(ns.root_index() < ns.len());
    assert_eq!(ns.parent_index(ns.root_index()), None);
    for (i, m) in ns.mounts().iter().enumerate() {
        assert_eq!(ns.index_of(m.mnt_id), Some(i), "mount id {} is not unique", m.mnt_id);
        for &c in ns.children(i) {
            assert_eq!(ns.parent_index(c), Some(i));
        }
        if i != ns.root_index() {
            assert!(ns.parent_index(i).is_some(), "mount {} has no parent", m.mnt_id);
        }
    }
    let image = mount::image::encode_namespace(ns);
    let entries = mount::image::decode(&image, "fuzz").expect("our image decodes");
    assert_eq!(entries.len(), ns.image_order().count());
    for e in &entries {
        let _ = mount::image::record_from_entry(e);
    }
}

/// The image readers, by selector (modulo their number).
pub const IMAGE_READERS: [&str; 15] = [
    "userns (criurs_userns_load_image)",
    "userns",
    "mountpoints",
    "ids",
    "ipcns-var",
    "ipcns-shm",
    "ipcns-msg",
    "ipcns-sem",
    "pagemap-shmem",
    "timens",
    "utsns",
    "ifaddr",
    "route",
    "route6",
    "rule",
];

/// Every image criurs reads back, `criurs_userns_load_image` through the
/// C ABI (the image written into a scratch images directory).
pub fn image(data: &[u8]) {
    let Some((sel, bytes)) = split_selector(data) else { return };
    let what = "fuzz.img";
    match sel as usize % IMAGE_READERS.len() {
        0 => load_userns_image_c(bytes),
        1 => {
            if let Some(maps) = checked(crate::userns::decode_image(bytes, what)) {
                let again = crate::userns::decode_image(&crate::userns::encode(&maps), what).expect("our image decodes");
                assert_eq!(again, maps);
            }
        }
        2 => {
            if let Some(entries) = checked(mount::image::decode(bytes, what)) {
                for e in &entries {
                    let _ = mount::image::record_from_entry(e);
                }
            }
        }
        3 => drop(checked(crate::nsimg::ids::decode(bytes, what))),
        4 => drop(checked(crate::nsimg::ipc::decode_var(bytes, what))),
        5 => drop(checked(crate::nsimg::ipc::decode_shm(bytes, what))),
        6 => drop(checked(crate::nsimg::ipc::decode_msg(bytes, what))),
        7 => drop(checked(crate::nsimg::ipc::decode_sem(bytes, what))),
        8 => drop(checked(crate::nsimg::pages::decode_pagemap(bytes, what))),
        9 => drop(checked(crate::nsimg::time::Clocks::decode(bytes, what))),
        10 => drop(checked(crate::nsimg::uts::Uts::decode(bytes, what))),
        11 => ip_save_stream(bytes, stream::IFADDR_MAGIC, &mut |p, u| route::parse_address(p, u).map(drop)),
        12 | 13 => ip_save_stream(bytes, stream::ROUTE_MAGIC, &mut |p, u| route::parse_route(p, u).map(drop)),
        _ => ip_save_stream(bytes, stream::RULE_MAGIC, &mut |p, u| route::parse_rule(p, u).map(drop)),
    }
}

type PayloadParser<'a> = dyn FnMut(&[u8], &mut netlink::UnknownAttrs) -> Result<()> + 'a;

/// An `ip ... save` stream read back, and each message in it parsed.
fn ip_save_stream(bytes: &[u8], magic: u32, parse: &mut PayloadParser<'_>) {
    let Some(s) = checked(Stream::parse(bytes, magic, "fuzz stream")) else { return };
    let messages = s.messages().expect("a parsed stream splits");
    assert_eq!(messages.len(), s.len());
    let mut unknown = netlink::UnknownAttrs::default();
    for raw in messages {
        let _ = checked(parse(&raw[nlmsghdr::LEN..], &mut unknown));
    }
}

/// userns-1.img with `bytes` in a scratch directory, loaded through the
/// C ABI as a C caller would, and its maps read back. A context and a
/// directory a call: nothing outlives it.
fn load_userns_image_c(bytes: &[u8]) {
    use crate::ffi::{ctx as c, userns as u};
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!("criurs-fuzz-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
    std::fs::create_dir(&dir).expect("a scratch directory");
    std::fs::write(dir.join(crate::userns::image_name(1)), bytes).expect("write the scratch image");
    let mut ctx = std::ptr::null_mut();
    assert_eq!(c::criurs_ctx_new(std::process::id() as i32, &mut ctx), 0);
    let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).expect("no NUL in a temporary path");
    assert_eq!(c::criurs_ctx_set_images_dir(ctx, path.as_ptr()), 0);
    let rc = u::criurs_userns_load_image(ctx, 1);
    if rc != 0 {
        assert!(rc < 0, "criurs_userns_load_image returned {rc}");
        // SAFETY: ctx is live; its last error is a C string it owns.
        let message = unsafe { std::ffi::CStr::from_ptr(c::criurs_ctx_last_error(ctx)) };
        assert!(!message.to_bytes().is_empty(), "failure {rc} without a message");
    } else {
        for which in [u::CRIURS_UID_MAP, u::CRIURS_GID_MAP] {
            let mut count = 0usize;
            assert_eq!(u::criurs_userns_extent_count(ctx, 1, which, &mut count), 0);
            let mut extent = u::criurs_id_extent { first: 0, lower_first: 0, count: 0 };
            for i in 0..count {
                assert_eq!(u::criurs_userns_extent_get(ctx, 1, which, i, &mut extent), 0);
            }
            assert_eq!(u::criurs_userns_extent_get(ctx, 1, which, count, &mut extent), -libc::ENOENT);
        }
    }
    c::criurs_ctx_free(ctx);
    std::fs::remove_dir_all(&dir).expect("remove the scratch directory");
}

/// `/proc/net/{raw,raw6,icmp,icmp6}` (selector modulo 4).
pub fn procnet(data: &[u8]) {
    let Some((sel, text)) = split_selector(data) else { return };
    let table = ProcTable::ALL[sel as usize % ProcTable::ALL.len()];
    if let Some(sockets) = checked(parse_table(table, text, "fuzz")) {
        let mut b = TableBuilder::excluding(Vec::new());
        b.extend(sockets);
        let _ = b.finish(Vec::new());
    }
}

/// The per-task /proc files read by name, by selector (modulo their number).
pub const PROC_FILES: [&str; 7] =
    ["children", "stat", "status (NSpid)", "ns/KIND link target", "uid_map", "timens_offsets", "ping_group_range"];

/// The per-task /proc files: `children`, `stat`, `status`, the `ns/`
/// link targets (the kind is the selector's high bits), `uid_map`,
/// `timens_offsets`, and the one sysctl that is parsed.
pub fn proc_task(data: &[u8]) {
    let Some((sel, text)) = split_selector(data) else { return };
    let what = "fuzz";
    match sel as usize % PROC_FILES.len() {
        0 => drop(checked(crate::pstree::parse_children(text, what))),
        1 => drop(checked(crate::pstree::parse_stat_state(text, what))),
        2 => {
            if let Some(pids) = checked(crate::pstree::parse_nspid(text, what)) {
                assert!(!pids.is_empty() && pids.iter().all(|&p| p > 0));
            }
        }
        3 => {
            let kind = NsKind::ALL[(sel as usize / PROC_FILES.len()) % NsKind::ALL.len()];
            if let Some(kid) = crate::ns::parse_ns_link(kind, text) {
                assert_eq!(crate::ns::parse_ns_link(kind, format!("{}:[{kid}]", kind.name()).as_bytes()), Some(kid));
            }
        }
        4 => {
            if let Some(map) = checked(crate::userns::parse_id_map(text, what)) {
                assert!(map.iter().all(|e| e.count > 0));
            }
        }
        5 => drop(checked(crate::nsimg::time::parse_offsets(text, what))),
        _ => {
            let _ = netdev::sysctl::parse_int(text);
            if let Ok(text) = std::str::from_utf8(text) {
                let map = sample_maps().gid_map;
                drop(checked(netdev::sysctl::ping_group_range(text, None)));
                drop(checked(netdev::sysctl::ping_group_range(text, Some(&map))));
            }
        }
    }
}

/// The replies of one datagram to a dump of `kind`, each handed to
/// `on_msg`; the dump's seq and port are the first message's.
fn replies(exchange: Exchange, kind: &DumpKind, datagram: &[u8], on_msg: &mut dyn FnMut(&NlMsg) -> Result<()>) {
    let (seq, port) = if datagram.len() >= nlmsghdr::LEN {
        (nlmsghdr::NLMSG_SEQ.get(datagram), nlmsghdr::NLMSG_PID.get(datagram))
    } else {
        (0, 0)
    };
    let _ = checked(netlink::message::ends_dump(kind, datagram, seq, port));
    let _ = checked(netlink::process_messages(exchange, kind, datagram, seq, port, on_msg));
}

/// The sock_diag dumps of a collection, by selector (modulo their number).
pub fn diag_requests() -> Vec<DiagRequest> {
    PLAN.iter()
        .filter_map(|step| match step.source {
            Source::Diag(req) => Some(req),
            Source::Proc(_) => None,
        })
        .collect()
}

/// sock_diag replies (unix, inet, raw, packet, netlink) into a socket table.
pub fn sock_diag(data: &[u8]) {
    let Some((sel, datagram)) = split_selector(data) else { return };
    let requests = diag_requests();
    let req = requests[sel as usize % requests.len()];
    let mut table = TableBuilder::excluding(Vec::new());
    let mut unknown = netlink::UnknownAttrs::default();
    // As the collection lists the unix dump: indexed later, by chunks.
    replies(Exchange::Dump, &req.kind(), datagram, &mut |m| {
        table.push_deferred(req.parse(m.payload, &mut unknown)?);
        Ok(())
    });
    let _ = table.finish(Vec::new());
}

/// The rtnetlink dumps, by selector (modulo their number).
pub const ROUTE_DUMPS: [&str; 6] = ["link", "addr", "route (ip route save)", "route (ip -6 route save)", "rule", "nsid"];

/// rtnetlink replies: links (with CRIU's plan for each), addresses,
/// routes (through `ip route save`'s filter), rules, namespace ids. What
/// is kept for an `ip ... save` stream reads back as the same messages.
pub fn rtnetlink(data: &[u8]) {
    let Some((sel, datagram)) = split_selector(data) else { return };
    let mut unknown = netlink::UnknownAttrs::default();
    let mut kept = Stream::new(stream::ROUTE_MAGIC);
    match sel as usize % ROUTE_DUMPS.len() {
        0 => replies(Exchange::Dump, &netlink::route::LINKS, datagram, &mut |m| {
            let l = link::parse_link(m.payload, &mut unknown)?;
            let plan = link::plan(&l);
            let _ = (plan.device_type(), l.display_name(), l.kind_str());
            Ok(())
        }),
        1 => replies(Exchange::Dump, &netlink::route::ADDRESSES, datagram, &mut |m| {
            let a = route::parse_address(m.payload, &mut unknown)?;
            let _ = (a.ip(), a.peer());
            kept.push(m.raw);
            Ok(())
        }),
        s @ (2 | 3) => {
            let mut filter = route::SaveFilter::new((s == 3).then_some(libc::AF_INET6 as u8));
            replies(Exchange::Dump, &netlink::route::ROUTES, datagram, &mut |m| {
                let r = route::parse_route(m.payload, &mut unknown)?;
                if filter.keeps(&r) {
                    kept.push(m.raw);
                }
                Ok(())
            })
        }
        4 => replies(Exchange::Dump, &netlink::route::RULES, datagram, &mut |m| {
            route::parse_rule(m.payload, &mut unknown)?;
            kept.push(m.raw);
            Ok(())
        }),
        _ => replies(Exchange::Query, &netlink::route::NSID, datagram, &mut |m| netdev::parse_nsid(m.payload).map(drop)),
    }
    let back = Stream::parse(kept.bytes(), stream::ROUTE_MAGIC, "kept").expect("kept messages read back");
    assert_eq!(back.len(), kept.len());
    let _ = unknown.to_string();
}

/// NETLINK_NETFILTER replies: nftables tables, conntrack entries and
/// expectations (selector modulo 3).
pub fn nfnetlink(data: &[u8]) {
    let Some((sel, datagram)) = split_selector(data) else { return };
    let kind = netlink::netfilter::ALL[sel as usize % netlink::netfilter::ALL.len()];
    // Conntrack images hold the messages back to back, unpadded, as
    // CRIU writes them (`nlmsg_len` bytes each): they must split back.
    let mut kept = Stream::new(0);
    replies(Exchange::Dump, &kind, datagram, &mut |m| {
        if kind == netlink::netfilter::NFT_TABLES {
            let t = netdev::netfilter::parse_nft_table(m.payload)?;
            let _ = (netdev::netfilter::family_name(t.family), netdev::escape(&t.name));
        }
        kept.push(m.raw);
        Ok(())
    });
    assert_eq!(Stream::parse(kept.bytes(), 0, "kept").expect("kept messages read back").len(), kept.len());
}

/// Live replies of this machine's kernel, as seeds: one file a dump
/// (selector byte, then the dump's datagrams up to its end) written into
/// `dir` for the target `target` (its fuzz/ name), from the caller's own
/// network namespace. Dumps the kernel refuses are left out.
pub fn write_live_seeds(target: &str, dir: &Path) -> Result<usize> {
    use crate::netlink::{NlSocket, Protocol, Request};
    let requests: Vec<(u8, Protocol, Request)> = match target {
        "sock_diag" => diag_requests().into_iter().enumerate().map(|(i, r)| (i as u8, Protocol::SOCK_DIAG, r.request())).collect(),
        "rtnetlink" => {
            use netlink::route::{request, routes_of_table, ADDRESSES, LINKS, RT_TABLE_MAIN, RULES};
            vec![
                (0, Protocol::ROUTE, request(LINKS, libc::AF_PACKET as u8)),
                (1, Protocol::ROUTE, request(ADDRESSES, libc::AF_UNSPEC as u8)),
                (2, Protocol::ROUTE, routes_of_table(libc::AF_INET as u8, RT_TABLE_MAIN)),
                (3, Protocol::ROUTE, routes_of_table(libc::AF_INET6 as u8, RT_TABLE_MAIN)),
                (4, Protocol::ROUTE, request(RULES, libc::AF_INET as u8)),
            ]
        }
        "nfnetlink" => netlink::netfilter::ALL
            .iter()
            .enumerate()
            .map(|(i, &k)| (i as u8, Protocol::NETFILTER, netlink::netfilter::request(k)))
            .collect(),
        _ => return Ok(0),
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(&e, format!("create {}", dir.display())))?;
    let mut written = 0;
    for (sel, protocol, req) in requests {
        // A protocol the kernel lacks (nfnetlink as a module not loaded)
        // gives no seed, as a dump it refuses.
        let Ok(mut sock) = NlSocket::new(protocol) else { continue };
        let mut seed = vec![sel];
        if sock.dump_datagrams(&req, &mut |_, d| seed.extend_from_slice(d)).is_err() {
            continue;
        }
        let path = dir.join(format!("live-{}-{sel}", req.kind.name.replace(' ', "-")));
        std::fs::write(&path, &seed).map_err(|e| Error::io(&e, format!("write {}", path.display())))?;
        written += 1;
    }
    Ok(written)
}

#[cfg(test)]
mod tests;
