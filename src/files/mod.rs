//! Socket images: CRIU's `dump_socket` for every socket fd of every task
//! of the tree (files.img entries of type UNIXSK, INETSK, PACKETSK and
//! NETLINKSK; each task's fdinfo-N.img; sk-queues.img), read from outside
//! the tasks instead of by parasite code.
//!
//! For each socket fd listed in /proc/PID/fd the socket is duplicated
//! with pidfd_getfd(2), its net namespace found with SIOCGSKNS, its
//! sock_diag record looked up in that namespace's [`SocketTable`](crate::net::SocketTable), its
//! options read with getsockopt, and the duplicate closed at once. CRIU's
//! refusals (sk-unix.c, sk-inet.c, sk-netlink.c, sk-packet.c) are applied
//! with CRIU's words, naming task, fd and socket inode. Nothing is
//! written here: [`SocketImages::images`] gives the bytes, which the
//! context writes in one batch.
//!
//! A socket has exactly one open file description (the kernel makes one
//! file per socket), so one file id per socket inode is CRIU's "one id
//! per open file description": tasks that inherited the fd share it.

pub mod fds;
pub mod opts;
pub mod sys;

mod inet;
mod other;
mod queue;
mod unix;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::error::{Error, Result};
use crate::image::{self, pb};
use crate::log::Logger;
use crate::net::Socket;
use crate::pstree::ProcRoot;
use crate::userns::IdMaps;

use fds::{FdInfo, SocketFd};
use sys::TaskHandle;

/// CRIU's FILES_MAGIC (files.img).
pub const FILES_MAGIC: u32 = 0x5630_3138;
/// CRIU's FDINFO_MAGIC (fdinfo-N.img).
pub const FDINFO_MAGIC: u32 = 0x5621_3732;
/// CRIU's SK_QUEUES_MAGIC (sk-queues.img).
pub const SK_QUEUES_MAGIC: u32 = 0x5626_4026;

pub const FILES_IMAGE: &str = "files.img";
pub const SK_QUEUES_IMAGE: &str = "sk-queues.img";

/// fdinfo-N.img, N the task's fd-table id (ids-PID.img's files_id).
pub fn fdinfo_image_name(files_id: u32) -> String {
    format!("fdinfo-{files_id}.img")
}

/// CRIU's USK_EXTERN: a unix socket outside the tree that one of ours is
/// connected to.
pub const USK_EXTERN: u32 = 1;

/// The caller's choices CRIU takes as options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketOptions {
    /// `--ext-unix-sk`: a unix socket whose dgram peer is outside the
    /// tree is dumped with that peer as external.
    pub ext_unix_sk: bool,
    /// `--skip-in-flight`: a TCP listener's connections not yet accepted
    /// are left out instead of refused.
    pub skip_in_flight: bool,
}

/// One task to dump: its pid as we see it and its fd table's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Task {
    pub pid: i32,
    pub files_id: u32,
}

pub use crate::net::NetView;

/// What the caller declared and what the tree looks like, for CRIU's rules.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// `--ext-unix-sk`.
    pub ext_unix_sk: bool,
    /// `--external unix[INO]`: sockets of the tree whose peer is outside.
    pub external_unix: &'a BTreeSet<u64>,
    /// `--skip-in-flight`.
    pub skip_in_flight: bool,
    /// The root's net namespace is not the caller's (CRIU's root_ns_mask & CLONE_NEWNET).
    pub root_net_differs: bool,
    /// The root's mount namespace is not the caller's (CLONE_NEWNS).
    pub root_mnt_differs: bool,
    /// The root's user namespace maps, when it is not the caller's.
    pub root_user: Option<&'a IdMaps>,
    /// How deep the root's pid namespace is below ours (0: the same).
    pub pid_level: usize,
}

/// One packet of sk-queues.img and its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedPacket {
    pub entry: pb::SkPacketEntry,
    pub data: Vec<u8>,
}

/// The socket images of one dump.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SocketImages {
    /// files.img, in the order CRIU writes them (a unix socket after the
    /// peer it waits for, externals last).
    pub files: Vec<pb::FileEntry>,
    /// fdinfo-N.img by fd-table id: the socket fds of the task(s) with it.
    pub fdinfo: BTreeMap<u32, Vec<pb::FdinfoEntry>>,
    pub queues: Vec<QueuedPacket>,
}

impl SocketImages {
    /// The images as (name, bytes): files.img, sk-queues.img, then each
    /// fdinfo-N.img.
    pub fn images(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = vec![(FILES_IMAGE.to_string(), image::encode(FILES_MAGIC, &self.files))];
        let mut queues = image::encode::<pb::SkPacketEntry>(SK_QUEUES_MAGIC, &[]);
        for q in &self.queues {
            let len = prost::Message::encoded_len(&q.entry);
            queues.extend_from_slice(&(len as u32).to_le_bytes());
            prost::Message::encode(&q.entry, &mut queues).expect("a Vec grows as needed");
            queues.extend_from_slice(&q.data);
        }
        out.push((SK_QUEUES_IMAGE.to_string(), queues));
        for (files_id, entries) in &self.fdinfo {
            out.push((fdinfo_image_name(*files_id), image::encode(FDINFO_MAGIC, entries)));
        }
        out
    }

    /// The file entry with id `id`.
    pub fn file(&self, id: u32) -> Option<&pb::FileEntry> {
        self.files.iter().find(|f| f.id == id)
    }

    /// The file entry of the socket with inode `ino` (packet sockets carry
    /// no inode in the image: found through the fdinfo of `ino`'s fd).
    pub fn socket_ino(entry: &pb::FileEntry) -> Option<u32> {
        entry.usk.as_ref().map(|u| u.ino).or(entry.isk.as_ref().map(|i| i.ino)).or(entry.nlsk.as_ref().map(|n| n.ino))
    }
}

/// Reads sk-queues.img back: entries with their bytes.
pub fn decode_queues(bytes: &[u8], what: &str) -> Result<Vec<QueuedPacket>> {
    let word = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap()));
    if word(0) != Some(image::IMG_COMMON_MAGIC) || word(4) != Some(SK_QUEUES_MAGIC) {
        return Err(Error::malformed(format!("{what}: not an sk-queues image")));
    }
    let mut at = 8;
    let mut out = Vec::new();
    while at < bytes.len() {
        let len = word(at).ok_or_else(|| Error::malformed(format!("{what}: truncated length at byte {at}")))? as usize;
        let body = bytes.get(at + 4..at + 4 + len).ok_or_else(|| Error::malformed(format!("{what}: truncated entry at byte {at}")))?;
        let entry: pb::SkPacketEntry =
            prost::Message::decode(body).map_err(|e| Error::malformed(format!("{what}: entry at byte {at}: {e}")))?;
        at += 4 + len;
        let data = bytes
            .get(at..at + entry.length as usize)
            .ok_or_else(|| Error::malformed(format!("{what}: packet of {} bytes at byte {at} is truncated", entry.length)))?
            .to_vec();
        at += data.len();
        out.push(QueuedPacket { entry, data });
    }
    Ok(out)
}

/// CRIU's dump of the socket files of `tasks` (tree order): the images,
/// or CRIU's refusal (or why a socket could not be read) naming task, fd
/// and socket inode.
pub fn dump_sockets(proc: &ProcRoot, tasks: &[Task], nets: &[NetView<'_>], opts: Options<'_>, log: &Logger) -> Result<SocketImages> {
    let mut d = Dumper::new(proc, nets, opts, log);
    for task in tasks {
        let handle = TaskHandle::open(task.pid)?;
        // Held by the pidfd from here on; a zombie has no fds to read.
        if crate::pstree::task_state(proc, task.pid)? != crate::pstree::TaskState::Alive {
            return Err(Error::new(libc::ESRCH, format!("pid {} exited during the socket dump", task.pid)));
        }
        let listed = fds::socket_fds(proc, task.pid)?;
        d.dump_task(&handle, task.files_id, &listed)?;
    }
    d.finish()
}

/// The state of one dump: ids handed out, sockets written and the unix
/// sockets still waiting for their peer.
struct Dumper<'a> {
    proc: &'a ProcRoot,
    nets: &'a [NetView<'a>],
    opts: Options<'a>,
    log: &'a Logger,
    next_id: u32,
    /// Socket inode → (file id, type): one file per socket.
    by_ino: HashMap<u32, (u32, pb::FdTypes)>,
    out: SocketImages,
    /// Unix sockets written (CRIU's already_dumped).
    unix_dumped: HashSet<u32>,
    /// Unix entries held back until their peer is dumped, by peer inode.
    waiting: BTreeMap<u32, Vec<Waiting>>,
    /// Embryo connections: client inode → its listener's inode.
    icons: HashMap<u32, u32>,
}

/// A unix socket whose entry waits for its peer.
struct Waiting {
    entry: pb::UnixSkEntry,
    /// Who holds it, for a refusal's words.
    pid: i32,
    fd: i32,
}

/// The task, fd and socket an entry is being made for.
struct FdCtx<'a> {
    pid: i32,
    fd: i32,
    ino: u32,
    id: u32,
    info: FdInfo,
    dup: BorrowedFd<'a>,
    fown: pb::FownEntry,
    net: Option<NetView<'a>>,
}

impl FdCtx<'_> {
    fn who(&self) -> String {
        format!("pid {} fd {} (socket {})", self.pid, self.fd, self.ino)
    }
}

/// CRIU's refusal of a socket: EOPNOTSUPP with its reason.
fn refuse(who: &str, reason: impl std::fmt::Display) -> Error {
    Error::new(libc::EOPNOTSUPP, format!("{who}: {reason}"))
}

impl<'a> Dumper<'a> {
    fn new(proc: &'a ProcRoot, nets: &'a [NetView<'a>], opts: Options<'a>, log: &'a Logger) -> Self {
        let mut icons = HashMap::new();
        for net in nets {
            for sk in net.table.iter() {
                if let Some(u) = sk.unix() {
                    for &client in u.icons.iter() {
                        if client != 0 {
                            icons.insert(client, sk.ino);
                        }
                    }
                }
            }
        }
        Dumper {
            proc,
            nets,
            opts,
            log,
            next_id: 1,
            by_ino: HashMap::new(),
            out: SocketImages::default(),
            unix_dumped: HashSet::new(),
            waiting: BTreeMap::new(),
            icons,
        }
    }

    fn new_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The sock_diag record of `ino` in any collected namespace, with it.
    fn lookup(&self, ino: u32) -> Option<(NetView<'a>, &'a Socket)> {
        self.nets.iter().find_map(|n| n.table.lookup(ino).map(|s| (*n, s)))
    }

    fn dump_task(&mut self, task: &TaskHandle, files_id: u32, listed: &[SocketFd]) -> Result<()> {
        let mut fdinfo = Vec::new();
        for sfd in listed {
            let info = fds::fdinfo(self.proc, task.pid, sfd.fd)?;
            let (id, type_) = match self.by_ino.get(&sfd.ino) {
                Some(&known) => known,
                None => {
                    let dup = task.get_fd(sfd.fd)?;
                    self.check_same(task.pid, sfd, dup.as_fd())?;
                    let made = self.dump_one(task.pid, sfd, info, dup)?;
                    self.by_ino.insert(sfd.ino, made);
                    made
                }
            };
            fdinfo.push(pb::FdinfoEntry { id, flags: info.fd_flags(), r#type: type_ as i32, fd: sfd.fd as u32, xattr_security_selinux: None });
        }
        // Tasks sharing an fd table have one fdinfo image.
        self.out.fdinfo.entry(files_id).or_insert(fdinfo);
        Ok(())
    }

    /// The duplicate must be the socket /proc listed: the fd may have been
    /// closed and reused between the listing and pidfd_getfd.
    fn check_same(&self, pid: i32, sfd: &SocketFd, dup: BorrowedFd<'_>) -> Result<()> {
        let st = nix::sys::stat::fstat(dup).map_err(|e| Error::sys(e, format!("fstat the duplicate of pid {pid} fd {}", sfd.fd)))?;
        if st.st_ino != sfd.ino as u64 || st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
            return Err(Error::new(
                libc::EBADF,
                format!("pid {pid} fd {} changed during the socket dump: it was socket {}, it is now inode {}", sfd.fd, sfd.ino, st.st_ino),
            ));
        }
        Ok(())
    }

    fn dump_one(&mut self, pid: i32, sfd: &SocketFd, info: FdInfo, dup: OwnedFd) -> Result<(u32, pb::FdTypes)> {
        let who = format!("pid {pid} fd {} (socket {})", sfd.fd, sfd.ino);
        let family: i32 = opts::opt(dup.as_fd(), libc::SOL_SOCKET, libc::SO_DOMAIN, "SO_DOMAIN").map_err(|e| e.context(&who))?;
        let net = self.socket_ns(dup.as_fd()).map_err(|e| e.context(&who))?;
        let fown = self.fown(dup.as_fd(), info).map_err(|e| e.context(&who))?;
        let id = self.new_id();
        let cx = FdCtx { pid, fd: sfd.fd, ino: sfd.ino, id, info, dup: dup.as_fd(), fown, net };
        let type_ = match family {
            libc::AF_UNIX => {
                self.dump_unix(&cx)?;
                pb::FdTypes::Unixsk
            }
            libc::AF_INET | libc::AF_INET6 => {
                let isk = self.inet_entry(&cx, family)?;
                self.out.files.push(pb::FileEntry { r#type: pb::FdTypes::Inetsk as i32, id, isk: Some(isk), ..Default::default() });
                pb::FdTypes::Inetsk
            }
            libc::AF_PACKET => {
                let psk = self.packet_entry(&cx)?;
                self.out.files.push(pb::FileEntry { r#type: pb::FdTypes::Packetsk as i32, id, psk: Some(psk), ..Default::default() });
                pb::FdTypes::Packetsk
            }
            libc::AF_NETLINK => {
                let nlsk = self.netlink_entry(&cx)?;
                self.out.files.push(pb::FileEntry { r#type: pb::FdTypes::Netlinksk as i32, id, nlsk: Some(nlsk), ..Default::default() });
                pb::FdTypes::Netlinksk
            }
            other => return Err(refuse(&who, format_args!("BUG! Unknown socket collected (family {other})"))),
        };
        self.log.debug("files", format_args!("{who}: file id {id}"));
        Ok((id, type_))
    }

    /// The socket's net namespace (SIOCGSKNS), as one of the collected ones.
    fn socket_ns(&self, dup: BorrowedFd<'_>) -> Result<Option<NetView<'a>>> {
        let ns = sys::ioctl_fd(dup, sys::SIOCGSKNS).map_err(|e| Error::sys(e, "SIOCGSKNS (the socket's net namespace)"))?;
        let st = nix::sys::stat::fstat(ns.as_fd()).map_err(|e| Error::sys(e, "fstat the socket's net namespace"))?;
        Ok(self.nets.iter().find(|n| n.kid == st.st_ino as u64).copied())
    }

    /// CRIU's fown: F_GETSIG, and with an owner F_GETOWN_EX and
    /// F_GETOWNER_UIDS, as the tree sees them.
    fn fown(&self, dup: BorrowedFd<'_>, info: FdInfo) -> Result<pb::FownEntry> {
        let mut fown = pb::FownEntry::default();
        if info.flags & libc::O_PATH as u32 != 0 {
            return Ok(fown);
        }
        fown.signum = sys::fcntl_int(dup, sys::F_GETSIG).map_err(|e| Error::sys(e, "fcntl F_GETSIG"))? as u32;
        let (kind, pid) = sys::owner(dup).map_err(|e| Error::sys(e, "fcntl F_GETOWN_EX"))?;
        if pid == 0 {
            return Ok(fown);
        }
        let [uid, euid] = sys::owner_uids(dup).map_err(|e| Error::sys(e, "fcntl F_GETOWNER_UIDS"))?;
        let map = |id: u32| match self.opts.root_user {
            Some(m) => crate::userns::from_parent(&m.uid_map, id).unwrap_or(u32::MAX),
            None => id,
        };
        fown.uid = map(uid);
        fown.euid = map(euid);
        fown.pid_type = kind as u32;
        // The owner as the tree's pid namespace numbers it (0 when it is
        // not in it, as the kernel tells a task of the tree).
        fown.pid = match crate::pstree::ns_pids(self.proc, pid) {
            Ok(pids) => pids.get(self.opts.pid_level).copied().unwrap_or(0) as u32,
            Err(_) => 0,
        };
        Ok(fown)
    }

    /// CRIU's userns_uid / userns_gid for a file's owner.
    fn tree_uid(&self, id: u32, gid: bool) -> u32 {
        match self.opts.root_user {
            Some(m) => crate::userns::from_parent(if gid { &m.gid_map } else { &m.uid_map }, id).unwrap_or(u32::MAX),
            None => id,
        }
    }

    /// After every task: the unix sockets whose peer no task holds
    /// (CRIU's `fix_external_unix_sockets`).
    fn finish(mut self) -> Result<SocketImages> {
        let waiting = std::mem::take(&mut self.waiting);
        for (peer_ino, list) in waiting {
            let Some((_, peer)) = self.lookup(peer_ino) else { continue };
            let pu = peer.unix().cloned().unwrap_or_default();
            let id = self.new_id();
            let ext = pb::UnixSkEntry {
                id,
                ino: peer_ino,
                r#type: libc::SOCK_DGRAM as u32,
                state: crate::net::TCP_LISTEN as u32,
                name: pu.name.to_vec(),
                uflags: USK_EXTERN,
                peer: 0,
                fown: pb::FownEntry::default(),
                opts: pb::SkOptsEntry::default(),
                ..Default::default()
            };
            self.out.files.push(pb::FileEntry { r#type: pb::FdTypes::Unixsk as i32, id, usk: Some(ext), ..Default::default() });
            for w in list {
                let who = format!("pid {} fd {} (socket {})", w.pid, w.fd, w.entry.ino);
                if !self.opts.external_unix.contains(&(w.entry.ino as u64)) {
                    if !self.opts.ext_unix_sk {
                        return Err(refuse(
                            &who,
                            format_args!("External socket is used. Consider using --ext-unix-sk option. (its peer {peer_ino} belongs to no task of the tree)"),
                        ));
                    }
                    if peer.type_ != libc::SOCK_DGRAM as u8 {
                        return Err(refuse(
                            &who,
                            format_args!(
                                "Can't dump half of stream unix connection. name: {}; peer name: {}",
                                c_name(&w.entry.name),
                                c_name(&pu.name)
                            ),
                        ));
                    }
                    if pu.name.is_empty() {
                        return Err(refuse(&who, "Can't dump name-less external socket."));
                    }
                }
                self.out.files.push(pb::FileEntry { r#type: pb::FdTypes::Unixsk as i32, id: w.entry.id, usk: Some(w.entry), ..Default::default() });
            }
        }
        Ok(self.out)
    }
}

/// A unix name as CRIU's `%s` prints it: up to the first NUL, "(null)"
/// when unbound.
fn c_name(name: &[u8]) -> String {
    if name.is_empty() {
        return "(null)".into();
    }
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    String::from_utf8_lossy(&name[..end]).into_owned()
}
