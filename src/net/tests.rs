//! Collection in a fresh network namespace holding every kind of socket,
//! checked field by field against what the test made and against `ss`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;

use super::*;
use crate::Context;

/// A forked child in a new network namespace holding sockets; it exits
/// when dropped (its hold pipe closes).
pub(crate) struct Zoo {
    pub pid: i32,
    /// name → inode, port, ...: what the child made.
    pub facts: HashMap<String, u64>,
    pub dir: std::path::PathBuf,
    hold: Option<std::fs::File>,
}

impl Drop for Zoo {
    fn drop(&mut self) {
        self.hold.take();
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(self.pid), None);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ino_of(fd: RawFd) -> u64 {
    // SAFETY: fstat on a descriptor this child owns, into a zeroed struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::fstat(fd, &mut st) };
    st.st_ino
}

fn raw_socket(domain: i32, ty: i32, proto: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: socket(2), result checked and owned.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fresh fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn check(rc: i32, what: &str) -> std::io::Result<()> {
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        return Err(std::io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    Ok(())
}

fn set_lo_up() -> std::io::Result<()> {
    let s = raw_socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    // SAFETY: ifreq is plain data; ioctls get a valid pointer.
    unsafe {
        let mut ifr: libc::ifreq = std::mem::zeroed();
        ifr.ifr_name[0] = b'l' as libc::c_char;
        ifr.ifr_name[1] = b'o' as libc::c_char;
        check(libc::ioctl(s.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr), "SIOCGIFFLAGS")?;
        ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        check(libc::ioctl(s.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr), "SIOCSIFFLAGS")?;
    }
    Ok(())
}

fn sockaddr_in(ip: [u8; 4], port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(ip) },
        sin_zero: [0; 8],
    }
}

fn bind_in(fd: &OwnedFd, ip: [u8; 4], port: u16) -> std::io::Result<()> {
    let a = sockaddr_in(ip, port);
    // SAFETY: a valid sockaddr_in of the given size.
    check(unsafe { libc::bind(fd.as_raw_fd(), &a as *const _ as *const libc::sockaddr, std::mem::size_of_val(&a) as u32) }, "bind")
}

fn bind_in6_loopback(fd: &OwnedFd) -> std::io::Result<()> {
    // SAFETY: zeroed sockaddr_in6 is valid; fields set below.
    let mut a: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    a.sin6_family = libc::AF_INET6 as u16;
    a.sin6_addr.s6_addr[15] = 1;
    // SAFETY: valid pointer and size.
    check(unsafe { libc::bind(fd.as_raw_fd(), &a as *const _ as *const libc::sockaddr, std::mem::size_of_val(&a) as u32) }, "bind6")
}

/// Runs in the forked child: makes every kind, reports, holds.
fn zoo_child(dir: &std::path::Path, report: &mut std::fs::File) -> std::io::Result<Vec<OwnedFd>> {
    use std::net::{TcpListener, TcpStream, UdpSocket};
    use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)?;
    set_lo_up()?;
    std::fs::write("/proc/sys/net/ipv4/ping_group_range", "0 2147483647")?;
    let mut keep: Vec<OwnedFd> = Vec::new();
    let mut say = |name: &str, v: u64| writeln!(report, "{name} {v}");

    let (a, b) = UnixStream::pair()?;
    (&b).write_all(b"hello")?; // unread data in a's queue
    say("pair_a", ino_of(a.as_raw_fd()))?;
    say("pair_b", ino_of(b.as_raw_fd()))?;
    let path = dir.join("listener.sock");
    let listener = UnixListener::bind(&path)?;
    // SAFETY: listen(2) on our own socket, to set the backlog.
    check(unsafe { libc::listen(listener.as_raw_fd(), 5) }, "listen")?;
    let c1 = UnixStream::connect(&path)?;
    let c2 = UnixStream::connect(&path)?;
    say("listener", ino_of(listener.as_raw_fd()))?;
    say("listener_vfs_ino", std::fs::metadata(&path)?.ino())?;
    say("client1", ino_of(c1.as_raw_fd()))?;
    say("client2", ino_of(c2.as_raw_fd()))?;
    let abs = raw_socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0)?;
    {
        // SAFETY: zeroed sockaddr_un, filled with an abstract name.
        let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        sun.sun_family = libc::AF_UNIX as u16;
        let name = b"\0criurs-zoo";
        for (i, &c) in name.iter().enumerate() {
            sun.sun_path[i] = c as libc::c_char;
        }
        let len = (std::mem::size_of::<libc::sa_family_t>() + name.len()) as u32;
        // SAFETY: valid pointer, length covers family + name.
        check(unsafe { libc::bind(abs.as_raw_fd(), &sun as *const _ as *const libc::sockaddr, len) }, "bind abstract")?;
    }
    say("abstract", ino_of(abs.as_raw_fd()))?;
    let (h1, h2) = UnixStream::pair()?;
    h1.shutdown(std::net::Shutdown::Write)?;
    say("half", ino_of(h1.as_raw_fd()))?;
    let _ = UnixDatagram::unbound()?;

    let tl = TcpListener::bind("127.0.0.1:0")?;
    // SAFETY: listen(2) again on our listener to set backlog 7.
    check(unsafe { libc::listen(tl.as_raw_fd(), 7) }, "listen tcp")?;
    let port = tl.local_addr()?.port();
    let tc = TcpStream::connect(("127.0.0.1", port))?;
    let (ts, _) = tl.accept()?;
    let cw_client = TcpStream::connect(("127.0.0.1", port))?;
    let (cw_server, _) = tl.accept()?;
    drop(cw_client); // the server side goes to CLOSE_WAIT
    say("tcp_listen", ino_of(tl.as_raw_fd()))?;
    say("tcp_port", port as u64)?;
    say("tcp_client", ino_of(tc.as_raw_fd()))?;
    say("tcp_client_port", tc.local_addr()?.port() as u64)?;
    say("tcp_server", ino_of(ts.as_raw_fd()))?;
    say("tcp_close_wait", ino_of(cw_server.as_raw_fd()))?;

    let ub = UdpSocket::bind("127.0.0.1:0")?;
    let uc = UdpSocket::bind("127.0.0.1:0")?;
    uc.connect(ub.local_addr()?)?;
    say("udp_bound", ino_of(ub.as_raw_fd()))?;
    say("udp_bound_port", ub.local_addr()?.port() as u64)?;
    say("udp_connected", ino_of(uc.as_raw_fd()))?;
    match raw_socket(libc::AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_UDPLITE) {
        Ok(ul) => {
            bind_in(&ul, [127, 0, 0, 1], 0)?;
            say("udplite", ino_of(ul.as_raw_fd()))?;
            keep.push(ul);
        }
        Err(e) if e.raw_os_error() == Some(libc::EPROTONOSUPPORT) => say("udplite", 0)?,
        Err(e) => return Err(e),
    }
    let raw4 = raw_socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP)?;
    let raw6 = raw_socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_ICMPV6)?;
    say("raw4", ino_of(raw4.as_raw_fd()))?;
    say("raw6", ino_of(raw6.as_raw_fd()))?;
    let ping4 = raw_socket(libc::AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_ICMP)?;
    bind_in(&ping4, [127, 0, 0, 1], 0)?;
    let ping6 = raw_socket(libc::AF_INET6, libc::SOCK_DGRAM, libc::IPPROTO_ICMPV6)?;
    bind_in6_loopback(&ping6)?;
    say("ping4", ino_of(ping4.as_raw_fd()))?;
    say("ping6", ino_of(ping6.as_raw_fd()))?;

    let pk = raw_socket(libc::AF_PACKET, libc::SOCK_RAW, (libc::ETH_P_ALL as u16).to_be() as i32)?;
    // SAFETY: sockaddr_ll zeroed then filled; setsockopt with an int.
    unsafe {
        let mut ll: libc::sockaddr_ll = std::mem::zeroed();
        ll.sll_family = libc::AF_PACKET as u16;
        ll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        ll.sll_ifindex = 1;
        check(libc::bind(pk.as_raw_fd(), &ll as *const _ as *const libc::sockaddr, std::mem::size_of_val(&ll) as u32), "bind packet")?;
        let fanout: libc::c_int = 77 | (libc::PACKET_FANOUT_HASH as i32) << 16;
        check(
            libc::setsockopt(pk.as_raw_fd(), libc::SOL_PACKET, libc::PACKET_FANOUT, &fanout as *const _ as *const libc::c_void, 4),
            "PACKET_FANOUT",
        )?;
        let mut mr: libc::packet_mreq = std::mem::zeroed();
        mr.mr_ifindex = 1;
        mr.mr_type = libc::PACKET_MR_PROMISC as u16;
        check(
            libc::setsockopt(
                pk.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                &mr as *const _ as *const libc::c_void,
                std::mem::size_of_val(&mr) as u32,
            ),
            "PACKET_ADD_MEMBERSHIP",
        )?;
    }
    say("packet", ino_of(pk.as_raw_fd()))?;

    let nl = raw_socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE)?;
    // SAFETY: sockaddr_nl zeroed then filled; getsockname into it.
    let portid = unsafe {
        let mut sa: libc::sockaddr_nl = std::mem::zeroed();
        sa.nl_family = libc::AF_NETLINK as u16;
        sa.nl_groups = 0x11; // RTMGRP_LINK | RTMGRP_IPV4_IFADDR
        check(libc::bind(nl.as_raw_fd(), &sa as *const _ as *const libc::sockaddr, std::mem::size_of_val(&sa) as u32), "bind netlink")?;
        let mut len = std::mem::size_of_val(&sa) as u32;
        check(libc::getsockname(nl.as_raw_fd(), &mut sa as *mut _ as *mut libc::sockaddr, &mut len), "getsockname")?;
        sa.nl_pid
    };
    say("netlink", ino_of(nl.as_raw_fd()))?;
    say("netlink_portid", portid as u64)?;
    say("uid", nix::unistd::getuid().as_raw() as u64)?;
    writeln!(report, "done 0")?;
    report.flush()?;

    // Keep everything open until the parent closes the hold pipe.
    for f in [a.into(), b.into(), listener.into(), c1.into(), c2.into(), h1.into(), h2.into()] {
        keep.push(f);
    }
    keep.extend([abs, raw4, raw6, ping4, ping6, pk, nl]);
    keep.extend([tl.into(), tc.into(), ts.into(), cw_server.into(), ub.into(), uc.into()]);
    Ok(keep)
}

pub(crate) fn spawn_zoo() -> Zoo {
    let dir = crate::testing::temp_dir("sockzoo");
    let (report_r, report_w) = nix::unistd::pipe().unwrap();
    let (hold_r, hold_w) = nix::unistd::pipe().unwrap();
    // SAFETY: the child only makes sockets and writes to pipes, then
    // _exits; glibc keeps malloc usable after fork.
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => {
            drop(report_r);
            drop(hold_w);
            let mut report = std::fs::File::from(report_w);
            let code = match zoo_child(&dir, &mut report) {
                Ok(keep) => {
                    drop(report);
                    let mut hold = std::fs::File::from(hold_r);
                    let mut b = [0u8; 1];
                    let _ = hold.read(&mut b);
                    drop(keep);
                    0
                }
                Err(e) => {
                    let _ = writeln!(report, "error {e}");
                    1
                }
            };
            // SAFETY: leave without running the parent's destructors.
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(report_w);
            drop(hold_r);
            let mut text = String::new();
            std::fs::File::from(report_r).read_to_string(&mut text).unwrap();
            let mut facts = HashMap::new();
            for line in text.lines() {
                let (k, v) = line.split_once(' ').unwrap();
                assert_ne!(k, "error", "zoo child failed: {v}");
                facts.insert(k.to_string(), v.parse().unwrap());
            }
            assert!(facts.contains_key("done"), "zoo child report incomplete: {text}");
            Zoo { pid: child.as_raw(), facts, dir, hold: Some(std::fs::File::from(hold_w)) }
        }
    }
}

fn own_net_ns() -> std::path::PathBuf {
    std::fs::read_link("/proc/thread-self/ns/net").unwrap()
}

/// `ss` run inside the zoo's namespace, one line per socket.
fn ss_lines(pid: i32) -> Vec<String> {
    let out = std::process::Command::new("nsenter")
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .args(["ss", "-a", "-e", "-n", "-x", "-t", "-u", "-w", "-0", "-H"])
        .args(["-f", "netlink", "-f", "unix", "-f", "inet", "-f", "inet6", "-f", "link"])
        .output()
        .expect("run ss (iproute2) under nsenter");
    assert!(out.status.success(), "ss failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.starts_with('\t')).map(str::to_string).collect()
}

#[test]
fn every_kind_in_a_fresh_namespace_matches_what_was_made_and_ss() {
    crate::needs_root!();
    let before = own_net_ns();
    let zoo = spawn_zoo();
    let f = |k: &str| *zoo.facts.get(k).unwrap_or_else(|| panic!("no fact {k}")) as u32;
    let mut ctx = Context::new(zoo.pid).unwrap();
    ctx.collect_namespaces(false).unwrap();
    assert_eq!(own_net_ns(), before);
    let ns = ctx.namespaces().unwrap().root_ns(NsKind::Net).unwrap().clone();
    assert_eq!(ctx.sockets(ns.id).unwrap_err().errno(), libc::ENODATA);
    ctx.collect_sockets(ns.id).unwrap();
    assert_eq!(own_net_ns(), before, "the caller's thread never changes namespace");
    let t = ctx.sockets(ns.id).unwrap();
    // The seqpacket socket criurs keeps inside the namespace is ours, not
    // the tree's: ss sees it, the table leaves it out.
    let seq = ctx.net_namespaces().unwrap().get(ns.id).unwrap().seq_socket();
    let ours = nix::sys::stat::fstat(seq).unwrap().st_ino as u32;
    assert!(t.lookup(ours).is_none(), "our own seqpacket socket is not listed");
    let uid = f("uid");

    // unix: the pair, with 5 unread bytes in a's queue
    let a = t.lookup(f("pair_a")).unwrap();
    let au = a.unix().unwrap();
    assert_eq!((a.family, a.type_, a.state), (AF_UNIX, libc::SOCK_STREAM as u8, TCP_ESTABLISHED));
    assert_eq!((au.peer, au.rqlen, au.shutdown, au.uid), (f("pair_b"), 5, 0, Some(uid)));
    assert!(au.name.is_empty() && au.icons.is_empty());
    assert_eq!(t.lookup(f("pair_b")).unwrap().unix().unwrap().peer, f("pair_a"));
    // a path listener with two pending connections
    let l = t.lookup(f("listener")).unwrap();
    let lu = l.unix().unwrap();
    let path = zoo.dir.join("listener.sock");
    assert_eq!(l.state, TCP_LISTEN);
    let mut with_nul = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()).to_vec();
    with_nul.push(0);
    assert_eq!(&*lu.name, &with_nul[..], "the kernel's trailing NUL, as CRIU's UnixSkEntry.name");
    assert_eq!(lu.vfs_ino, f("listener_vfs_ino"));
    assert_ne!(lu.vfs_dev, 0);
    assert_eq!((lu.rqlen, lu.wqlen, lu.backlog()), (2, 5, 5));
    let mut icons = lu.icons.to_vec();
    icons.sort();
    // icons name the connecting clients (the queued embryos have no inode)
    let mut want: Vec<u32> = vec![f("client1"), f("client2")];
    want.sort();
    assert_eq!(icons, want);
    // an embryo peer has no inode yet: the client's peer is the listener, as CRIU resolves it
    for client in ["client1", "client2"] {
        let cu = t.lookup(f(client)).unwrap().unix().unwrap();
        assert_eq!((cu.peer, cu.in_flight), (f("listener"), true), "{client}");
    }
    assert!(!au.in_flight);
    // abstract name keeps its leading NUL, as CRIU's image
    let ab = t.lookup(f("abstract")).unwrap();
    assert_eq!((ab.type_, ab.state), (libc::SOCK_DGRAM as u8, TCP_CLOSE));
    assert_eq!(&*ab.unix().unwrap().name, b"\0criurs-zoo");
    // half shutdown: SEND_SHUTDOWN on h1
    assert_eq!(t.lookup(f("half")).unwrap().unix().unwrap().shutdown, 2 /* SEND_SHUTDOWN */);

    // TCP
    let port = f("tcp_port") as u16;
    let tl = t.lookup(f("tcp_listen")).unwrap();
    let ti = tl.inet().unwrap();
    assert_eq!((tl.family, tl.type_, tl.state, ti.proto), (AF_INET, libc::SOCK_STREAM as u8, TCP_LISTEN, diag::IPPROTO_TCP));
    assert_eq!((ti.src_port, ti.backlog(), ti.uid), (port, 7, uid));
    assert_eq!(ti.src_ip(AF_INET).to_string(), "127.0.0.1");
    let tc = t.lookup(f("tcp_client")).unwrap();
    assert_eq!((tc.state, tc.inet().unwrap().dst_port, tc.inet().unwrap().src_port), (TCP_ESTABLISHED, port, f("tcp_client_port") as u16));
    let ts = t.lookup(f("tcp_server")).unwrap();
    assert_eq!((ts.state, ts.inet().unwrap().src_port, ts.inet().unwrap().dst_port), (TCP_ESTABLISHED, port, f("tcp_client_port") as u16));
    assert_eq!(t.lookup(f("tcp_close_wait")).unwrap().state, TCP_CLOSE_WAIT);
    // the closed client lingers as an orphan (inode 0): listed, not indexed
    assert!(t.iter().any(|s| s.ino == 0 && s.state == TCP_FIN_WAIT2));
    assert!(t.lookup(0).is_none());

    // UDP and UDP-lite
    let ub = t.lookup(f("udp_bound")).unwrap();
    assert_eq!((ub.type_, ub.state, ub.inet().unwrap().proto, ub.inet().unwrap().src_port), (libc::SOCK_DGRAM as u8, TCP_CLOSE, diag::IPPROTO_UDP, f("udp_bound_port") as u16));
    let uc = t.lookup(f("udp_connected")).unwrap();
    assert_eq!((uc.state, uc.inet().unwrap().dst_port), (TCP_ESTABLISHED, f("udp_bound_port") as u16));
    if f("udplite") != 0 {
        let ul = t.lookup(f("udplite")).unwrap();
        assert_eq!((ul.type_, ul.inet().unwrap().proto), (libc::SOCK_DGRAM as u8, diag::IPPROTO_UDPLITE));
    } else {
        assert!(!t.collected("udplite4"), "no UDP-lite in this kernel: {:?}", t.families());
    }

    // RAW (raw_diag or /proc/net/raw*) and ping (/proc/net/icmp*)
    for (k, fam, ty, proto) in [
        ("raw4", AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP),
        ("raw6", AF_INET6, libc::SOCK_RAW, libc::IPPROTO_ICMPV6),
        ("ping4", AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_ICMP),
        ("ping6", AF_INET6, libc::SOCK_DGRAM, libc::IPPROTO_ICMPV6),
    ] {
        let s = t.lookup(f(k)).unwrap_or_else(|| panic!("{k} missing: {:?}", t.families()));
        assert_eq!((s.family, s.type_, s.inet().unwrap().proto, s.inet().unwrap().uid), (fam, ty as u8, proto as u8, uid), "{k}");
    }
    assert_eq!(t.lookup(f("ping4")).unwrap().inet().unwrap().src_ip(AF_INET).to_string(), "127.0.0.1");
    assert_eq!(t.lookup(f("ping6")).unwrap().inet().unwrap().src_ip(AF_INET6).to_string(), "::1");

    // packet with a fanout group and a multicast (promisc) entry
    let pk = t.lookup(f("packet")).unwrap();
    let pd = pk.packet().unwrap();
    assert_eq!((pk.family, pk.type_, pd.ethertype()), (AF_PACKET, libc::SOCK_RAW as u8, libc::ETH_P_ALL as u16));
    assert_eq!(pd.protocol, (libc::ETH_P_ALL as u16).to_be(), "network byte order, as CRIU's image");
    assert_eq!(pd.fanout, Some(77 | (libc::PACKET_FANOUT_HASH as u32) << 16));
    assert_eq!(pd.info.unwrap().ifindex, 1);
    assert_eq!(pd.mclist.len(), 1);
    assert_eq!((pd.mclist[0].index, pd.mclist[0].type_, pd.mclist[0].count), (1, libc::PACKET_MR_PROMISC as u16, 1));
    assert!(pd.rx_ring.is_none() && pd.tx_ring.is_none());

    // netlink bound to groups
    let nl = t.lookup(f("netlink")).unwrap();
    let nd = nl.netlink().unwrap();
    assert_eq!((nd.protocol, nd.portid, nd.dst_portid, nd.dst_group), (libc::NETLINK_ROUTE as u8, f("netlink_portid"), 0, 0));
    assert_eq!(nd.groups.first(), Some(&0x11));

    // ss agrees for the fields it prints
    let ss = ss_lines(zoo.pid);
    let mut checked = 0;
    for line in &ss {
        let c: Vec<&str> = line.split_whitespace().collect();
        let (netid, state, rq, wq) = (c[0], c[1], c[2].parse::<u32>().unwrap(), c[3].parse::<u32>().unwrap());
        if netid.starts_with("u_") {
            // u_str ESTAB rq wq [name] ino [peer-name] peer ...
            let rest = &c[4..];
            let (name, ino, peer) = if rest[0] == "*" { ("", rest[1], rest[3]) } else { (rest[0], rest[1], rest[3]) };
            if ino.parse::<u32>().unwrap() == ours {
                continue;
            }
            let s = t.lookup(ino.parse().unwrap()).unwrap_or_else(|| panic!("ss shows unix {ino} we lack: {line}"));
            let u = s.unix().unwrap();
            assert_eq!(state_name(s.state), state, "{line}");
            // ss shows an in-flight client's embryo peer, inode 0.
            let kernel_peer = if u.in_flight { 0 } else { u.peer };
            assert_eq!((u.rqlen, u.wqlen, kernel_peer), (rq, wq, peer.parse().unwrap()), "{line}");
            let n = u.shown_name();
            let shown = if n.first() == Some(&0) { format!("@{}", String::from_utf8_lossy(&n[1..])) } else { String::from_utf8_lossy(n).into_owned() };
            assert_eq!(shown, name, "{line}");
            checked += 1;
        } else if let Some(ino) = c.iter().find_map(|w| w.strip_prefix("ino:")) {
            let ino: u32 = ino.parse().unwrap();
            if ino == 0 {
                continue;
            }
            let s = t.lookup(ino).unwrap_or_else(|| panic!("ss shows {ino} we lack: {line}"));
            if netid == "p_raw" {
                assert!(s.packet().is_some(), "{line}");
            } else {
                let i = s.inet().unwrap();
                assert_eq!(state_name(s.state), state, "{line}");
                assert_eq!((i.rqlen, i.wqlen), (rq, wq), "{line}");
                assert_eq!(c[4], format!("{}:{}", i.src_ip(s.family), i.src_port), "{line}");
                let proto = match netid { "tcp" => diag::IPPROTO_TCP, "udp" => diag::IPPROTO_UDP, _ => i.proto };
                assert_eq!(i.proto, proto, "{line}");
            }
            checked += 1;
        } else if netid == "nl" {
            // nl UNCONN rq wq PROTO:PORTID * ... groups=0x...
            let (proto, portid) = c[4].split_once(':').unwrap();
            if proto == "4" && portid != "0" {
                continue; // ss's own sock_diag socket, made after we looked
            }
            let groups = c.iter().find_map(|w| w.strip_prefix("groups=0x")).unwrap();
            let found = t.iter().filter_map(|s| s.netlink()).any(|n| {
                n.protocol.to_string() == proto && n.portid.to_string() == portid && format!("{:08x}", n.groups.first().copied().unwrap_or(0)) == groups
            });
            assert!(found, "ss netlink line not in our table: {line}");
            checked += 1;
        } else if netid == "raw" {
            let (addr, proto) = c[4].rsplit_once(':').unwrap();
            let found = t.iter().any(|s| {
                s.type_ == libc::SOCK_RAW as u8 && s.inet().is_some_and(|i| i.proto.to_string() == proto && (addr == "*" || i.src_ip(s.family).to_string() == addr))
            });
            assert!(found, "ss raw line not in our table: {line}");
            checked += 1;
        }
    }
    assert!(checked >= 20, "ss lines checked: {checked} of {ss:?}");
    assert_eq!(own_net_ns(), before);
}

#[test]
fn failing_calls_leave_the_caller_in_its_namespace() {
    crate::needs_root!();
    let before = own_net_ns();
    let zoo = spawn_zoo();
    let mut ctx = Context::new(zoo.pid).unwrap();
    assert_eq!(ctx.collect_sockets(1).unwrap_err().errno(), libc::ENODATA, "before collect_namespaces");
    ctx.collect_namespaces(false).unwrap();
    let mnt = ctx.namespaces().unwrap().root_ns(NsKind::Mnt).unwrap().id;
    assert_eq!(ctx.collect_sockets(mnt).unwrap_err().errno(), libc::EINVAL);
    assert_eq!(ctx.collect_sockets(999).unwrap_err().errno(), libc::ENOENT);
    assert_eq!(own_net_ns(), before);
    // The namespace stays reachable through its fd after the child exits.
    let ns = ctx.namespaces().unwrap().root_ns(NsKind::Net).unwrap().id;
    let zoo_dir = zoo.dir.clone();
    drop(zoo);
    ctx.collect_sockets(ns).unwrap();
    assert_eq!(own_net_ns(), before);
    assert!(!zoo_dir.exists());
}

#[test]
fn for_dump_collects_sockets_of_every_walked_namespace() {
    crate::needs_root!();
    let zoo = spawn_zoo();
    let mut ctx = Context::new(zoo.pid).unwrap();
    ctx.collect_namespaces(true).unwrap();
    let ns = ctx.namespaces().unwrap().root_ns(NsKind::Net).unwrap().id;
    let t = ctx.sockets(ns).unwrap();
    assert!(t.lookup(zoo.facts["pair_a"] as u32).is_some());
    assert!(t.collected("unix") && t.collected("tcp4") && t.collected("netlink"));
    assert_eq!(ctx.net_namespaces().unwrap().len(), 1, "the root's net ns differs from ours: only it is walked");
}

/// The unix datagrams parsed on the second worker: a dump whose receiver
/// stopped before NLMSG_DONE is an error, not a short table, and a
/// malformed reply stops the parse with the parser's error.
#[test]
fn pipelined_unix_parse_refuses_an_unfinished_or_malformed_dump() {
    use super::{parse_datagrams, pipe::Pipe, DiagRequest, TableBuilder};
    let unix = DiagRequest::Unix;
    let pipe = Pipe::default();
    pipe.close();
    let mut table = TableBuilder::default();
    let e = parse_datagrams(&pipe, 9, unix, &mut table, &mut Default::default()).unwrap_err();
    assert_eq!(e.errno(), libc::EPROTO);
    assert!(e.message().contains("unix dump ended without NLMSG_DONE"), "{e}");
    // A reply too short for unix_diag_msg.
    let pipe = Pipe::default();
    let mut short = Vec::new();
    short.extend_from_slice(&(16u32 + 3).to_ne_bytes());
    short.extend_from_slice(&20u16.to_ne_bytes());
    short.extend_from_slice(&2u16.to_ne_bytes());
    short.extend_from_slice(&4u32.to_ne_bytes());
    short.extend_from_slice(&9u32.to_ne_bytes());
    short.extend_from_slice(&[1, 2, 3, 0]);
    pipe.send(4, short);
    pipe.close();
    let e = parse_datagrams(&pipe, 9, unix, &mut table, &mut Default::default()).unwrap_err();
    assert_eq!(e.errno(), libc::EBADMSG, "{e}");
    assert!(table.is_empty());
}

/// One grandchild of `namespaces_visited_in_turn_keep_every_socket...`:
/// a network namespace of its own, with a TCP listener unless `empty`.
fn listener_child(empty: bool, report: RawFd) -> std::io::Result<Option<OwnedFd>> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)?;
    let line = |text: String| {
        // SAFETY: write(2) of a live buffer to a pipe this child holds.
        unsafe { libc::write(report, text.as_ptr().cast(), text.len()) };
    };
    if empty {
        line("empty 0\n".to_string());
        return Ok(None);
    }
    let l = raw_socket(libc::AF_INET, libc::SOCK_STREAM, 0)?;
    bind_in(&l, [0, 0, 0, 0], 0)?;
    // SAFETY: listen(2) on a socket this child owns.
    check(unsafe { libc::listen(l.as_raw_fd(), 4) }, "listen")?;
    line(format!("listener {}\n", ino_of(l.as_raw_fd())));
    Ok(Some(l))
}

/// Issue 17: a tree over several network namespaces is collected by one
/// helper thread visiting them in turn; where a namespace's sockstat
/// counts no TCP socket, the TCP dumps are taken as empty (tcp4 answered
/// in the root's namespace first), and every listener elsewhere is
/// still found, in its own namespace's table.
#[test]
fn namespaces_visited_in_turn_keep_every_socket_and_skip_only_empty_dumps() {
    use std::io::BufRead;
    crate::needs_root!();
    let (report_r, report_w) = nix::unistd::pipe().unwrap();
    let (hold_r, hold_w) = nix::unistd::pipe().unwrap();
    let hold = |fd: &OwnedFd| {
        let mut b = [0u8; 1];
        // SAFETY: read(2) into a live one-byte buffer; returns at EOF.
        unsafe { libc::read(fd.as_raw_fd(), b.as_mut_ptr().cast(), 1) };
    };
    // SAFETY: the children only make sockets and use pipes, then _exit;
    // glibc keeps malloc usable after fork.
    let root = match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => {
            drop(report_r);
            drop(hold_w);
            for k in 0..3 {
                // SAFETY: as above.
                if let Ok(nix::unistd::ForkResult::Child) = unsafe { nix::unistd::fork() } {
                    let code = match listener_child(k == 1, report_w.as_raw_fd()) {
                        Ok(keep) => {
                            drop(report_w);
                            hold(&hold_r);
                            drop(keep);
                            0
                        }
                        Err(_) => 1,
                    };
                    // SAFETY: leave without running the parent's destructors.
                    unsafe { libc::_exit(code) }
                }
            }
            drop(report_w);
            hold(&hold_r);
            // SAFETY: as above.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => child.as_raw(),
    };
    drop(report_w);
    drop(hold_r);
    let lines: Vec<String> = std::io::BufReader::new(std::fs::File::from(report_r)).lines().map(|l| l.unwrap()).collect();
    let listeners: Vec<u32> = lines.iter().filter_map(|l| l.strip_prefix("listener ")).map(|i| i.parse().unwrap()).collect();
    assert_eq!((listeners.len(), lines.len()), (2, 3), "{lines:?}");

    let mut ctx = Context::new(root).unwrap();
    let logged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = logged.clone();
    ctx.set_log_level(crate::log::Level::Debug);
    ctx.set_log_sink(Some(std::sync::Arc::new(move |_, line: &str| sink.lock().unwrap().push(line.to_string()))));
    ctx.collect_namespaces(true).unwrap();
    let skipped = logged.lock().unwrap().iter().filter(|l| l.contains("sockstat counts no") && l.contains("tcp4")).count();
    assert_eq!(skipped, 1, "the empty namespace's tcp4 dump, and only it, is not sent: {:?}", logged.lock().unwrap());
    let nets = ctx.net_namespaces().unwrap();
    let foreign: Vec<&NetNs> = nets.iter().filter(|n| n.ns_type != NsType::Own).collect();
    assert_eq!(foreign.len(), 3);
    let tcp4 = |t: &SocketTable| {
        t.families()
            .iter()
            .find(|f| f.name == "tcp4")
            .map(|f| match f.state {
                FamilyState::Collected(n) => n,
                _ => panic!("tcp4 not collected: {:?}", f.state),
            })
            .unwrap()
    };
    let mut counts: Vec<usize> = foreign.iter().map(|n| tcp4(n.sockets().unwrap())).collect();
    counts.sort();
    assert_eq!(counts, vec![0, 1, 1], "the empty namespace's tcp4 is an empty dump, the others have their listener");
    for ino in listeners {
        let owners: Vec<u32> = foreign.iter().filter(|n| n.sockets().unwrap().lookup(ino).is_some()).map(|n| n.id).collect();
        assert_eq!(owners.len(), 1, "listener {ino} is in exactly one namespace's table");
    }
    drop(hold_w);
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(root), None);
}
