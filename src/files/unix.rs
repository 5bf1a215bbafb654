//! UNIXSK entries: CRIU's `dump_one_unix_fd` and `unix_resolve_name`.

use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;

use crate::error::{Error, Result};
use crate::image::pb;
use crate::net::{TCP_CLOSE, TCP_ESTABLISHED, TCP_LISTEN};

use super::{opts, queue, refuse, sys, Dumper, FdCtx, Waiting};

const SHUT_BOTH: i32 = 3;

fn shutdown(bits: u8) -> Option<i32> {
    (bits & 3 != 0).then_some((bits & 3) as i32)
}

impl Dumper<'_> {
    pub(super) fn dump_unix(&mut self, cx: &FdCtx<'_>) -> Result<()> {
        let who = cx.who();
        let Some((net, sk)) = self.lookup(cx.ino).filter(|(_, s)| s.unix().is_some()) else {
            return Err(Error::new(libc::ENOENT, format!("{who}: Unix socket {} not found", cx.ino)));
        };
        let u = sk.unix().expect("filtered above");
        let type_ = sk.type_ as i32;
        if type_ != libc::SOCK_STREAM && type_ != libc::SOCK_DGRAM && type_ != libc::SOCK_SEQPACKET {
            return Err(refuse(
                &who,
                format_args!("Unsupported type ({type_}) on socket {}. Only stream/dgram/seqpacket are supported.", cx.ino),
            ));
        }
        if ![TCP_LISTEN, TCP_ESTABLISHED, TCP_CLOSE].contains(&sk.state) {
            return Err(refuse(&who, format_args!("Unknown state {} for unix socket {}", sk.state, cx.ino)));
        }
        let mut ue = pb::UnixSkEntry {
            id: cx.id,
            ino: cx.ino,
            r#type: sk.type_ as u32,
            state: sk.state as u32,
            flags: cx.info.file_flags(),
            uflags: 0,
            backlog: u.wqlen,
            peer: u.peer,
            fown: cx.fown,
            opts: pb::SkOptsEntry::default(),
            name: u.name.to_vec(),
            ns_id: Some(net.ns_id),
            ..Default::default()
        };
        if !u.name.is_empty() && u.name[0] != 0 {
            self.resolve_name(cx, &mut ue).map_err(|e| e.context(&who))?;
        }
        ue.shutdown = shutdown(u.shutdown);
        let mine = ue.shutdown.unwrap_or(0);
        if u.rqlen != 0 && sk.state != TCP_LISTEN {
            let packets = queue::dump_queue(cx.dup, cx.id, &who)?;
            self.out.queues.extend(packets);
        }
        // A client whose connection was never accepted: its kernel peer
        // is an embryo with no inode; the table names the listener whose
        // icons hold it.
        let listener = if u.in_flight { Some(u.peer) } else { self.icons.get(&cx.ino).copied() };
        let embryo = ue.state == TCP_ESTABLISHED as u32 && ue.r#type != libc::SOCK_DGRAM as u32 && (ue.peer == 0 || u.in_flight);
        let mut wait_for = None;
        if embryo {
            match listener {
                None if mine == SHUT_BOTH => self.log.info("files", format_args!("{who}: Dumping semi-closed connection")),
                None => return Err(refuse(&who, format_args!("Dangling connection {}", cx.ino))),
                Some(l) => {
                    let listening = self.lookup(l).is_some_and(|(_, s)| s.state == TCP_LISTEN);
                    if !listening {
                        return Err(refuse(&who, format_args!("In-flight connection on non-listening socket {}", cx.ino)));
                    }
                    if u.wqlen != 0 {
                        return Err(refuse(&who, format_args!("Non-empty write queue on an in-flight socket {:#x}", cx.ino)));
                    }
                    ue.peer = l;
                }
            }
        } else if ue.peer != 0 {
            let Some((_, peer)) = self.lookup(ue.peer).filter(|(_, s)| s.unix().is_some()) else {
                return Err(refuse(&who, format_args!("Unix socket {} without peer {}", cx.ino, ue.peer)));
            };
            let pu = peer.unix().expect("filtered above");
            if pu.peer != cx.ino && pu.name.is_empty() {
                return Err(refuse(&who, format_args!("Unix socket {} with unreachable peer {} ({})", cx.ino, ue.peer, pu.peer)));
            }
            if !self.unix_dumped.contains(&ue.peer) {
                wait_for = Some(ue.peer);
            }
            let theirs = shutdown(pu.shutdown).unwrap_or(0);
            let matched = match mine {
                1 => theirs == 2,
                2 => theirs == 1,
                3 => theirs == 3,
                _ => true,
            };
            if ue.r#type != libc::SOCK_DGRAM as u32 && !matched {
                self.log.warn("files", format_args!("{who}: Shutdown mismatch {}:{mine} -> {}:{theirs}", cx.ino, peer.ino));
            }
        } else if sk.state == TCP_LISTEN && u.icons.contains(&0) {
            return Err(refuse(&who, format_args!("Found a closed in-flight socket to {:#x}", cx.ino)));
        }
        ue.opts = opts::socket_opts(cx.dup, libc::AF_UNIX).map_err(|e| e.context(&who))?;
        self.unix_dumped.insert(cx.ino);
        match wait_for {
            Some(peer) => self.waiting.entry(peer).or_default().push(Waiting { entry: ue, pid: cx.pid, fd: cx.fd }),
            None => self.out.files.push(pb::FileEntry { r#type: pb::FdTypes::Unixsk as i32, id: cx.id, usk: Some(ue), ..Default::default() }),
        }
        // Those that waited for this one follow it.
        for w in self.waiting.remove(&cx.ino).unwrap_or_default() {
            self.out.files.push(pb::FileEntry { r#type: pb::FdTypes::Unixsk as i32, id: w.entry.id, usk: Some(w.entry), ..Default::default() });
        }
        Ok(())
    }

    /// The bound file of a path socket (SIOCUNIXFILE): its mode and
    /// owner, its mount, whether it was deleted, and for a relative name
    /// the directory it was bound in.
    fn resolve_name(&self, cx: &FdCtx<'_>, ue: &mut pb::UnixSkEntry) -> Result<()> {
        let file = sys::ioctl_fd(cx.dup, sys::SIOCUNIXFILE)
            .map_err(|e| Error::sys(e, "Unable to get a socket file descriptor with SIOCUNIXFILE ioctl"))?;
        let raw = std::os::fd::AsRawFd::as_raw_fd(&file);
        if self.opts.root_mnt_differs {
            let text = std::fs::read(format!("/proc/self/fdinfo/{raw}")).map_err(|e| Error::io(&e, "read the fdinfo of the socket's file"))?;
            let info = super::fds::parse_fdinfo(&text).map_err(|w| Error::malformed(format!("fdinfo of the socket's file: {w}")))?;
            ue.mnt_id = Some(info.mnt_id);
        }
        let st = nix::sys::stat::fstat(file.as_fd()).map_err(|e| Error::sys(e, "Unable to fstat socket fd"))?;
        ue.file_perms = Some(pb::FilePermsEntry { mode: st.st_mode, uid: self.tree_uid(st.st_uid, false), gid: self.tree_uid(st.st_gid, true) });
        let link = std::fs::read_link(format!("/proc/self/fd/{raw}")).map_err(|e| Error::io(&e, "readlink the socket's file"))?;
        let mut path = link.as_os_str().as_bytes().to_vec();
        if let Some(stripped) = path.strip_suffix(b" (deleted)") {
            path.truncate(stripped.len());
            ue.deleted = Some(true);
        }
        let name = &ue.name[..ue.name.iter().position(|&b| b == 0).unwrap_or(ue.name.len())];
        if name.first() != Some(&b'/') {
            // The directory is the path less "/NAME".
            let cut = path.len().checked_sub(name.len() + 1).filter(|&at| path[at] == b'/' && &path[at + 1..] == name);
            let Some(at) = cut else {
                return Err(Error::malformed(format!(
                    "Unable too cut {} from {}",
                    String::from_utf8_lossy(name),
                    String::from_utf8_lossy(&path)
                )));
            };
            path.truncate(at);
            ue.name_dir = Some(path);
        }
        Ok(())
    }
}
