//! Socket options as CRIU's `dump_socket_opts`, `dump_ip_opts` and
//! `dump_tcp_opts` read them, each with CRIU's rule for when a field is
//! present in the image.

use std::os::fd::BorrowedFd;

use nix::errno::Errno;

use crate::error::{Error, Result};
use crate::image::pb;

use super::sys::{getsockopt, getsockopt_bytes};

/// One fixed-size option, or an error naming it.
pub fn opt<T: Copy + Default>(fd: BorrowedFd<'_>, level: i32, name: i32, what: &str) -> Result<T> {
    getsockopt::<T>(fd, level, name).map_err(|e| match e {
        Errno::EMSGSIZE => Error::new(libc::EMSGSIZE, format!("getsockopt {what}: the kernel gave a value of another size")),
        e => Error::sys(e, format!("getsockopt {what}")),
    })
}

fn flag(fd: BorrowedFd<'_>, level: i32, name: i32, what: &str) -> Result<bool> {
    Ok(opt::<i32>(fd, level, name, what)? != 0)
}

/// Whether the kernel knows an option (CRIU's kerndat probes).
fn known(fd: BorrowedFd<'_>, level: i32, name: i32) -> bool {
    !matches!(getsockopt::<i32>(fd, level, name), Err(Errno::ENOPROTOOPT) | Err(Errno::EINVAL))
}

const SO_GET_FILTER: i32 = libc::SO_ATTACH_FILTER;
const IPV6_FREEBIND: i32 = 78;
const IP_NODEFRAG: i32 = 22;
const SOL_RAW: i32 = 255;
const ICMP_FILTER: i32 = 1;
const SOL_ICMPV6: i32 = 58;
const ICMPV6_FILTER: i32 = 1;

/// CRIU's `dump_socket_opts(sk, family)`.
pub fn socket_opts(fd: BorrowedFd<'_>, family: i32) -> Result<pb::SkOptsEntry> {
    let sol = libc::SOL_SOCKET;
    let mut o = pb::SkOptsEntry {
        so_sndbuf: opt::<u32>(fd, sol, libc::SO_SNDBUF, "SO_SNDBUF")?,
        so_rcvbuf: opt::<u32>(fd, sol, libc::SO_RCVBUF, "SO_RCVBUF")?,
        ..Default::default()
    };
    if known(fd, sol, libc::SO_BUF_LOCK) {
        o.so_buf_lock = Some(opt(fd, sol, libc::SO_BUF_LOCK, "SO_BUF_LOCK")?);
    }
    o.so_priority = Some(opt(fd, sol, libc::SO_PRIORITY, "SO_PRIORITY")?);
    o.so_rcvlowat = Some(opt(fd, sol, libc::SO_RCVLOWAT, "SO_RCVLOWAT")?);
    let mark: u32 = opt(fd, sol, libc::SO_MARK, "SO_MARK")?;
    o.so_mark = (mark != 0).then_some(mark);
    let snd: libc::timeval = opt(fd, sol, libc::SO_SNDTIMEO, "SO_SNDTIMEO")?;
    o.so_snd_tmo_sec = snd.tv_sec as u64;
    o.so_snd_tmo_usec = snd.tv_usec as u64;
    let rcv: libc::timeval = opt(fd, sol, libc::SO_RCVTIMEO, "SO_RCVTIMEO")?;
    o.so_rcv_tmo_sec = rcv.tv_sec as u64;
    o.so_rcv_tmo_usec = rcv.tv_usec as u64;
    o.reuseaddr = Some(flag(fd, sol, libc::SO_REUSEADDR, "SO_REUSEADDR")?);
    o.so_reuseport = Some(flag(fd, sol, libc::SO_REUSEPORT, "SO_REUSEPORT")?);
    if family == libc::AF_UNIX || family == libc::AF_NETLINK {
        o.so_passcred = Some(flag(fd, sol, libc::SO_PASSCRED, "SO_PASSCRED")?);
        o.so_passsec = Some(flag(fd, sol, libc::SO_PASSSEC, "SO_PASSSEC")?);
    }
    o.so_dontroute = Some(flag(fd, sol, libc::SO_DONTROUTE, "SO_DONTROUTE")?);
    o.so_no_check = Some(flag(fd, sol, libc::SO_NO_CHECK, "SO_NO_CHECK")?);
    o.so_broadcast = Some(flag(fd, sol, libc::SO_BROADCAST, "SO_BROADCAST")?);
    o.so_keepalive = Some(flag(fd, sol, libc::SO_KEEPALIVE, "SO_KEEPALIVE")?);
    o.so_oobinline = Some(flag(fd, sol, libc::SO_OOBINLINE, "SO_OOBINLINE")? as u32);
    let linger: libc::linger = opt(fd, sol, libc::SO_LINGER, "SO_LINGER")?;
    if linger.l_onoff != 0 {
        o.so_linger = Some(linger.l_linger as u32);
    }
    let mut dev = [0u8; libc::IFNAMSIZ];
    let len = getsockopt_bytes(fd, sol, libc::SO_BINDTODEVICE, &mut dev).map_err(|e| Error::sys(e, "getsockopt SO_BINDTODEVICE"))?;
    if len > 0 {
        let name = &dev[..len];
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        o.so_bound_dev = Some(name[..end].to_vec());
    }
    o.so_filter = socket_filter(fd)?;
    Ok(o)
}

/// SO_GET_FILTER: the classic BPF program, one 8-byte instruction a word.
fn socket_filter(fd: BorrowedFd<'_>) -> Result<Vec<u64>> {
    // Asked with no room, the kernel answers the instruction count.
    let mut count: libc::socklen_t = 0;
    // SAFETY: a NULL buffer with length 0 makes the kernel write only
    // the count into `count`.
    let ret = unsafe { libc::getsockopt(std::os::fd::AsRawFd::as_raw_fd(&fd), libc::SOL_SOCKET, SO_GET_FILTER, std::ptr::null_mut(), &mut count) };
    if ret < 0 {
        return Err(Error::sys(Errno::last(), "getsockopt SO_GET_FILTER"));
    }
    if count == 0 {
        return Ok(Vec::new());
    }
    let mut prog = vec![0u64; count as usize];
    let mut n = count;
    // SAFETY: `prog` holds `count` 8-byte instructions; the kernel
    // writes at most `n` of them (its length is in instructions).
    let ret = unsafe {
        libc::getsockopt(std::os::fd::AsRawFd::as_raw_fd(&fd), libc::SOL_SOCKET, SO_GET_FILTER, prog.as_mut_ptr().cast(), &mut n)
    };
    if ret < 0 {
        return Err(Error::sys(Errno::last(), "getsockopt SO_GET_FILTER"));
    }
    prog.truncate(n as usize);
    Ok(prog)
}

/// CRIU's `dump_ip_opts` (with `dump_ip_raw_opts` for raw sockets).
pub fn ip_opts(fd: BorrowedFd<'_>, family: i32, type_: i32, proto: i32) -> Result<pb::IpOptsEntry> {
    let mut e = pb::IpOptsEntry::default();
    if type_ == libc::SOCK_RAW {
        let mut raw = pb::IpOptsRawEntry::default();
        if family == libc::AF_INET6 {
            let hdrincl = flag(fd, libc::SOL_IPV6, libc::IPV6_HDRINCL, "IPV6_HDRINCL")?;
            raw.hdrincl = hdrincl.then_some(true);
            if proto == libc::IPPROTO_ICMPV6 {
                let f: [u32; 8] = opt(fd, SOL_ICMPV6, ICMPV6_FILTER, "ICMPV6_FILTER")?;
                raw.icmpv_filter = f.to_vec();
            }
        } else {
            let hdrincl = flag(fd, libc::SOL_IP, libc::IP_HDRINCL, "IP_HDRINCL")?;
            raw.hdrincl = hdrincl.then_some(true);
            let nodefrag = flag(fd, libc::SOL_IP, IP_NODEFRAG, "IP_NODEFRAG")?;
            raw.nodefrag = nodefrag.then_some(true);
            if proto == libc::IPPROTO_ICMP {
                let f: u32 = opt(fd, SOL_RAW, ICMP_FILTER, "ICMP_FILTER")?;
                raw.icmpv_filter = vec![f];
            }
        }
        e.raw = Some(raw);
    }
    let freebind;
    let pktinfo;
    if family == libc::AF_INET6 {
        freebind = if known(fd, libc::SOL_IPV6, IPV6_FREEBIND) {
            flag(fd, libc::SOL_IPV6, IPV6_FREEBIND, "IPV6_FREEBIND")?
        } else if type_ != libc::SOCK_RAW {
            flag(fd, libc::SOL_IP, libc::IP_FREEBIND, "IP_FREEBIND")?
        } else {
            false
        };
        pktinfo = flag(fd, libc::SOL_IPV6, libc::IPV6_RECVPKTINFO, "IPV6_RECVPKTINFO")?;
    } else {
        freebind = flag(fd, libc::SOL_IP, libc::IP_FREEBIND, "IP_FREEBIND")?;
        pktinfo = flag(fd, libc::SOL_IP, libc::IP_PKTINFO, "IP_PKTINFO")?;
        let tos: u32 = opt(fd, libc::SOL_IP, libc::IP_TOS, "IP_TOS")?;
        let ttl: u32 = opt(fd, libc::SOL_IP, libc::IP_TTL, "IP_TTL")?;
        e.tos = (tos != 0).then_some(tos);
        e.ttl = (ttl != 0).then_some(ttl);
    }
    e.freebind = freebind.then_some(true);
    e.pktinfo = pktinfo.then_some(true);
    Ok(e)
}

/// CRIU's `dump_tcp_opts`: each present only when set.
pub fn tcp_opts(fd: BorrowedFd<'_>) -> Result<pb::TcpOptsEntry> {
    let t = libc::SOL_TCP;
    let nodelay = flag(fd, t, libc::TCP_NODELAY, "TCP_NODELAY")?;
    let cork = flag(fd, t, libc::TCP_CORK, "TCP_CORK")?;
    let keepcnt: u32 = opt(fd, t, libc::TCP_KEEPCNT, "TCP_KEEPCNT")?;
    let keepidle: u32 = opt(fd, t, libc::TCP_KEEPIDLE, "TCP_KEEPIDLE")?;
    let keepintvl: u32 = opt(fd, t, libc::TCP_KEEPINTVL, "TCP_KEEPINTVL")?;
    Ok(pb::TcpOptsEntry {
        nodelay: nodelay.then_some(true),
        cork: cork.then_some(true),
        keepcnt: (keepcnt != 0).then_some(keepcnt),
        keepidle: (keepidle != 0).then_some(keepidle),
        keepintvl: (keepintvl != 0).then_some(keepintvl),
    })
}
