//! INETSK entries: CRIU's `do_dump_one_inet_fd`, `can_dump_inet_sk` and,
//! for a socket sock_diag does not report, `gen_uncon_sk`.

use std::os::fd::BorrowedFd;

use crate::error::{Error, Result};
use crate::image::pb;
use crate::net::{self, InetDetail, TCP_CLOSE, TCP_LISTEN};

use super::opts::{self, opt};
use super::{refuse, sys, Dumper, FdCtx};

const UDP_CORK: i32 = 1;

/// What CRIU's `inet_sk_desc` holds for the dump.
struct Desc {
    type_: i32,
    state: u8,
    src_port: u16,
    dst_port: u16,
    src_addr: [u8; 16],
    dst_addr: [u8; 16],
    rqlen: u32,
    wqlen: u32,
    shutdown: u8,
    ns_id: Option<u32>,
}

impl Desc {
    fn from_diag(type_: i32, state: u8, i: &InetDetail, ns_id: u32) -> Desc {
        Desc {
            type_,
            state,
            src_port: i.src_port,
            dst_port: i.dst_port,
            src_addr: i.src_addr,
            dst_addr: i.dst_addr,
            rqlen: i.rqlen,
            wqlen: i.wqlen,
            shutdown: i.shutdown,
            ns_id: Some(ns_id),
        }
    }
}

fn words(addr: &[u8; 16], n: usize) -> Vec<u32> {
    addr.chunks(4).take(n).map(|c| u32::from_ne_bytes(c.try_into().unwrap())).collect()
}

/// A link-local source needs the device to bind again. (CRIU 4.2 means
/// node- and link-scope multicast too, but its mask for those never
/// matches; as it does, only fe80::/10 counts.)
fn needs_scope_id(a: &[u8; 16]) -> bool {
    a[0] == 0xfe && a[1] & 0xc0 == 0x80
}

impl Dumper<'_> {
    pub(super) fn inet_entry(&mut self, cx: &FdCtx<'_>, family: i32) -> Result<pb::InetSkEntry> {
        let who = cx.who();
        let fd = cx.dup;
        let sol = libc::SOL_SOCKET;
        let proto: i32 = opt(fd, sol, libc::SO_PROTOCOL, "SO_PROTOCOL").map_err(|e| e.context(&who))?;
        let type_: i32 = opt(fd, sol, libc::SO_TYPE, "SO_TYPE").map_err(|e| e.context(&who))?;
        let supported = [libc::IPPROTO_IP, libc::IPPROTO_TCP, libc::IPPROTO_UDP, libc::IPPROTO_UDPLITE, libc::IPPROTO_ICMP, libc::IPPROTO_ICMPV6];
        if type_ != libc::SOCK_RAW && !supported.contains(&proto) {
            let mut why = format!("Unsupported proto {proto} for socket {:x}", cx.ino);
            if proto == libc::IPPROTO_MPTCP {
                why.push_str(". For Go programs, consider using \"GODEBUG=multipathtcp=0\" to disable MPTCP");
            }
            return Err(refuse(&who, why));
        }
        let found = self.lookup(cx.ino).and_then(|(n, s)| {
            let i = s.inet()?;
            (s.family as i32 == family && (type_ == libc::SOCK_RAW || i.proto as i32 == proto)).then(|| Desc::from_diag(type_, s.state, i, n.ns_id))
        });
        let sk = match found {
            Some(d) => d,
            None => self.unconnected(cx, family, type_, proto).map_err(|e| e.context(&who))?,
        };
        if type_ != libc::SOCK_RAW && (proto == libc::IPPROTO_UDP || proto == libc::IPPROTO_UDPLITE) {
            let cork: i32 = opt(fd, libc::SOL_UDP, UDP_CORK, "UDP_CORK").map_err(|e| e.context(&who))?;
            if cork != 0 {
                return Err(refuse(&who, format_args!("Can't dump corked dgram socket {:x}", cx.ino)));
            }
        }
        self.can_dump(&who, cx.ino, &sk)?;
        let alen = if family == libc::AF_INET6 { 4 } else { 1 };
        let mut ie = pb::InetSkEntry {
            id: cx.id,
            ino: cx.ino,
            family: family as u32,
            r#type: sk.type_ as u32,
            proto: proto as u32,
            state: sk.state as u32,
            src_port: sk.src_port as u32,
            dst_port: sk.dst_port as u32,
            flags: cx.info.file_flags(),
            backlog: sk.wqlen,
            src_addr: words(&sk.src_addr, alen),
            dst_addr: words(&sk.dst_addr, alen),
            fown: cx.fown,
            ns_id: sk.ns_id,
            ..Default::default()
        };
        if family == libc::AF_INET6 {
            let v6only: i32 = opt(fd, libc::SOL_IPV6, libc::IPV6_V6ONLY, "IPV6_V6ONLY").map_err(|e| e.context(&who))?;
            ie.v6only = Some(v6only != 0);
            if sk.src_port != 0 && needs_scope_id(&sk.src_addr) {
                let mut dev = [0u8; libc::IFNAMSIZ];
                let len = sys::getsockopt_bytes(fd, sol, libc::SO_BINDTODEVICE, &mut dev)
                    .map_err(|e| Error::sys(e, format!("{who}: can't get ifname")))?;
                if len == 0 {
                    return Err(refuse(&who, format_args!("couldn't find ifname for {}, can't bind", cx.id)));
                }
                let end = dev[..len].iter().position(|&b| b == 0).unwrap_or(len);
                ie.ifname = Some(dev[..end].to_vec());
            }
        }
        let mut ip = opts::ip_opts(fd, family, type_, proto).map_err(|e| e.context(&who))?;
        if type_ != libc::SOCK_RAW {
            ip.raw = None;
        }
        ie.ip_opts = Some(ip);
        ie.opts = opts::socket_opts(fd, family).map_err(|e| e.context(&who))?;
        match proto {
            libc::IPPROTO_TCP => {
                if sk.shutdown & 3 != 0 {
                    ie.shutdown = Some((sk.shutdown & 3) as i32);
                }
                if type_ != libc::SOCK_RAW {
                    ie.tcp_opts = Some(opts::tcp_opts(fd).map_err(|e| e.context(&who))?);
                }
            }
            libc::IPPROTO_UDP | libc::IPPROTO_UDPLITE if sk.shutdown & 3 != 0 => ie.shutdown = Some((sk.shutdown & 3) as i32),
            _ => {}
        }
        Ok(ie)
    }

    /// CRIU's `can_dump_inet_sk`.
    fn can_dump(&self, who: &str, ino: u32, sk: &Desc) -> Result<()> {
        if sk.type_ == libc::SOCK_DGRAM {
            if sk.wqlen != 0 {
                self.log.warn("files", format_args!("{who}: Write queue of the {ino:x} socket isn't empty"));
            }
            if sk.rqlen != 0 {
                self.log.warn("files", format_args!("{who}: Read queue is dropped for socket {ino:x}"));
            }
            return Ok(());
        }
        if sk.type_ != libc::SOCK_STREAM && sk.type_ != libc::SOCK_RAW {
            return Err(refuse(
                who,
                format_args!("Can't dump {} inet socket {ino:x}. Only stream, dgram and raw are supported.", sk.type_),
            ));
        }
        match sk.state {
            TCP_LISTEN if sk.rqlen != 0 => {
                if self.opts.skip_in_flight {
                    self.log.info("files", format_args!("{who}: Skipping in-flight connection (l) for {ino:x}"));
                } else {
                    return Err(refuse(
                        who,
                        format_args!("In-flight connection (l) for {ino:x}. In-flight connections can be ignored with the --skip-in-flight option."),
                    ));
                }
            }
            TCP_LISTEN | TCP_CLOSE => {}
            net::TCP_ESTABLISHED | net::TCP_FIN_WAIT2 | net::TCP_FIN_WAIT1 | net::TCP_CLOSE_WAIT | net::TCP_LAST_ACK | net::TCP_CLOSING
            | net::TCP_SYN_SENT => {
                return Err(refuse(
                    who,
                    "Connected TCP socket, consider using --tcp-established option. (criurs cannot: dumping a connection \
                     needs TCP repair mode, which needs the task frozen, and criurs never stops the tree)",
                ));
            }
            other => return Err(refuse(who, format_args!("Unknown inet socket {ino:x} state {other}"))),
        }
        Ok(())
    }

    /// CRIU's `gen_uncon_sk`: a socket no diag module reports (never bound
    /// or connected), read from the socket itself.
    fn unconnected(&self, cx: &FdCtx<'_>, family: i32, type_: i32, proto: i32) -> Result<Desc> {
        let fd = cx.dup;
        let mut sk = Desc {
            type_,
            state: TCP_CLOSE,
            src_port: 0,
            dst_port: 0,
            src_addr: [0; 16],
            dst_addr: [0; 16],
            rqlen: 0,
            wqlen: 0,
            shutdown: 0,
            ns_id: if self.opts.root_net_differs { cx.net.map(|n| n.ns_id) } else { None },
        };
        if self.opts.root_net_differs && cx.net.is_none() {
            return Err(Error::new(libc::ENOENT, "the socket's net namespace is none the dump collected"));
        }
        if let Some((port, addr)) = sockaddr(fd, family, true)? {
            sk.dst_port = port;
            sk.dst_addr = addr;
        }
        if let Some((port, addr)) = sockaddr(fd, family, false)? {
            sk.src_port = port;
            sk.src_addr = addr;
        }
        if type_ != libc::SOCK_RAW && proto == libc::IPPROTO_TCP {
            let info: [u8; 8] = opt_prefix(fd)?;
            if info[0] != TCP_CLOSE {
                return Err(Error::new(libc::EAGAIN, format!("Socket state {} obtained but expected {TCP_CLOSE}", info[0])));
            }
            sk.wqlen = info[4] as u32;
            let revents = sys::poll_now(fd, libc::POLLRDHUP | libc::POLLHUP).map_err(|e| Error::sys(e, "Unable to poll the socket"))?;
            if revents & libc::POLLHUP != 0 && revents & libc::POLLRDHUP != 0 {
                sk.shutdown = 1;
            }
        }
        Ok(sk)
    }
}

/// The first bytes of TCP_INFO (state, ca_state, retransmits, probes,
/// backoff, options, ...).
fn opt_prefix(fd: BorrowedFd<'_>) -> Result<[u8; 8]> {
    let mut buf = [0u8; 8];
    sys::getsockopt_bytes(fd, libc::SOL_TCP, libc::TCP_INFO, &mut buf).map_err(|e| Error::sys(e, "Failed to obtain TCP_INFO"))?;
    Ok(buf)
}

/// getpeername (`peer`) or getsockname: port in host order and address;
/// `None` when not connected.
fn sockaddr(fd: BorrowedFd<'_>, family: i32, peer: bool) -> Result<Option<(u16, [u8; 16])>> {
    use std::os::fd::AsRawFd;
    // SAFETY: an all-zero sockaddr_storage is valid.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = if family == libc::AF_INET6 {
        std::mem::size_of::<libc::sockaddr_in6>()
    } else {
        std::mem::size_of::<libc::sockaddr_in>()
    } as libc::socklen_t;
    let p = (&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr>();
    // SAFETY: `ss` is large enough for `len` bytes and outlives the call.
    let ret = unsafe {
        if peer {
            libc::getpeername(fd.as_raw_fd(), p, &mut len)
        } else {
            libc::getsockname(fd.as_raw_fd(), p, &mut len)
        }
    };
    if ret < 0 {
        let e = nix::errno::Errno::last();
        if e == nix::errno::Errno::ENOTCONN {
            return Ok(None);
        }
        return Err(Error::sys(e, "Unexpected error returned from unconnected socket"));
    }
    let mut addr = [0u8; 16];
    match ss.ss_family as i32 {
        libc::AF_INET => {
            // SAFETY: the kernel filled a sockaddr_in for an AF_INET socket.
            let sin = unsafe { &*(&ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            addr[..4].copy_from_slice(&sin.sin_addr.s_addr.to_ne_bytes());
            Ok(Some((u16::from_be(sin.sin_port), addr)))
        }
        libc::AF_INET6 => {
            // SAFETY: the kernel filled a sockaddr_in6 for an AF_INET6 socket.
            let sin6 = unsafe { &*(&ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            addr.copy_from_slice(&sin6.sin6_addr.s6_addr);
            Ok(Some((u16::from_be(sin6.sin6_port), addr)))
        }
        // An unbound socket's name has family AF_UNSPEC on some paths: no address.
        _ => Ok(None),
    }
}
