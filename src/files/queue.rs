//! CRIU's `dump_sk_queue`: the packets queued on a unix socket, peeked
//! (never consumed) one by one with SO_PEEK_OFF moving the peek offset,
//! which is put back as it was afterwards.

use std::os::fd::BorrowedFd;

use crate::error::{Error, Result};
use crate::image::pb;

use super::opts::opt;
use super::sys::{peek, setsockopt_int};
use super::QueuedPacket;

pub fn dump_queue(fd: BorrowedFd<'_>, id: u32, who: &str) -> Result<Vec<QueuedPacket>> {
    let sol = libc::SOL_SOCKET;
    let original: i32 = opt(fd, sol, libc::SO_PEEK_OFF, "SO_PEEK_OFF").map_err(|e| e.context(who))?;
    // The largest datagram the socket can hold, less the kernel's header,
    // as CRIU sizes its buffer.
    let sndbuf: i32 = opt(fd, sol, libc::SO_SNDBUF, "SO_SNDBUF").map_err(|e| e.context(who))?;
    let mut buf = vec![0u8; (sndbuf - 32).max(1) as usize];
    setsockopt_int(fd, sol, libc::SO_PEEK_OFF, 0).map_err(|e| Error::sys(e, format!("{who}: setsockopt SO_PEEK_OFF")))?;
    let read = read_all(fd, id, &mut buf, who);
    let restored = setsockopt_int(fd, sol, libc::SO_PEEK_OFF, original);
    let packets = read?;
    restored.map_err(|e| Error::sys(e, format!("{who}: put SO_PEEK_OFF back to {original}")))?;
    Ok(packets)
}

fn read_all(fd: BorrowedFd<'_>, id: u32, buf: &mut [u8], who: &str) -> Result<Vec<QueuedPacket>> {
    let mut out = Vec::new();
    loop {
        let Some(p) = peek(fd, buf).map_err(|e| Error::sys(e, format!("{who}: recvmsg(MSG_PEEK) of its queue")))? else {
            return Ok(out);
        };
        if p.truncated {
            return Err(Error::new(libc::E2BIG, format!("{who}: sys_recvmsg failed: truncated (a queued packet is larger than the socket's send buffer)")));
        }
        if p.rights > 1 {
            return Err(Error::new(libc::EOPNOTSUPP, format!("{who}: Unexpected 2nd SCM_RIGHTS from the kernel")));
        }
        if p.other_control > 0 {
            return Err(Error::new(libc::EOPNOTSUPP, format!("{who}: Control messages in queue, not supported")));
        }
        if p.rights > 0 {
            // CRIU dumps the passed files with the queue; criurs dumps
            // sockets only and would write a queue whose files it lost.
            return Err(Error::new(
                libc::EOPNOTSUPP,
                format!("{who}: its queue carries file descriptors in flight (SCM_RIGHTS), which criurs cannot dump"),
            ));
        }
        out.push(QueuedPacket { entry: pb::SkPacketEntry { id_for: id, length: p.len as u32, scm: Vec::new() }, data: buf[..p.len].to_vec() });
    }
}
