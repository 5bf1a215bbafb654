//! The network sysctls CRIU 4.2 records, in its order, read from
//! `/proc/sys/net` by a thread inside the namespace: the files under
//! /proc/sys/net show the net namespace of the task that opens them.
//!
//! Per device and for `all`/`default`: the IPv4 and IPv6 `conf`
//! directories (CRIU's `devconfs4`/`devconfs6`). Per namespace:
//! `unix/max_dgram_qlen` and `ipv4/ping_group_range`. A file the kernel
//! lacks is recorded without a value, as CRIU does; `stable_secret`
//! answers EIO while unset, which is recorded the same way.

use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::Mode;

use crate::error::{Error, Result};

/// net.ipv4.conf.*.* in CRIU 4.2's order (`devconfs4`), all integers.
pub const DEVCONFS4: [&str; 30] = [
    "accept_local",
    "accept_redirects",
    "accept_source_route",
    "arp_accept",
    "arp_announce",
    "arp_filter",
    "arp_ignore",
    "arp_notify",
    "bootp_relay",
    "disable_policy",
    "disable_xfrm",
    "force_igmp_version",
    "forwarding",
    "igmpv2_unsolicited_report_interval",
    "igmpv3_unsolicited_report_interval",
    "log_martians",
    "medium_id",
    "promote_secondaries",
    "proxy_arp",
    "proxy_arp_pvlan",
    "route_localnet",
    "rp_filter",
    "secure_redirects",
    "send_redirects",
    "shared_media",
    "src_valid_mark",
    "tag",
    "ignore_routes_with_linkdown",
    "drop_gratuitous_arp",
    "drop_unicast_in_l2_multicast",
];

/// net.ipv6.conf.*.* in CRIU 4.2's order (`devconfs6`); all integers but
/// [`STABLE_SECRET`].
pub const DEVCONFS6: [&str; 42] = [
    "accept_dad",
    "accept_ra",
    "accept_ra_defrtr",
    "accept_ra_from_local",
    "accept_ra_min_hop_limit",
    "accept_ra_mtu",
    "accept_ra_pinfo",
    "accept_ra_rt_info_max_plen",
    "accept_ra_rtr_pref",
    "accept_redirects",
    "accept_source_route",
    "autoconf",
    "dad_transmits",
    "disable_ipv6",
    "drop_unicast_in_l2_multicast",
    "drop_unsolicited_na",
    "force_mld_version",
    "force_tllao",
    "forwarding",
    "hop_limit",
    "ignore_routes_with_linkdown",
    "keep_addr_on_down",
    "max_addresses",
    "max_desync_factor",
    "mldv1_unsolicited_report_interval",
    "mldv2_unsolicited_report_interval",
    "mtu",
    "ndisc_notify",
    "optimistic_dad",
    "proxy_ndp",
    "regen_max_retry",
    "router_probe_interval",
    "router_solicitation_delay",
    "router_solicitation_interval",
    "router_solicitations",
    "stable_secret",
    "suppress_frag_ndisc",
    "temp_prefered_lft",
    "temp_valid_lft",
    "use_oif_addrs_only",
    "use_optimistic",
    "use_tempaddr",
];

/// The one string entry of [`DEVCONFS6`].
pub const STABLE_SECRET: &str = "stable_secret";
/// The namespace's unix sysctls (`unix_conf_entries`).
pub const UNIX_CONFS: [&str; 1] = ["max_dgram_qlen"];
/// The namespace's ipv4 sysctls (`ipv4_sysctl_entries`): a string.
pub const PING_GROUP_RANGE: &str = "ping_group_range";

/// CRIU reads at most this much of a string sysctl (MAX_STR_CONF_LEN).
const MAX_STR_LEN: usize = 200;
/// ... and of an integer one (the buffer of sysctl_read_s32).
const MAX_INT_LEN: usize = 1024;

/// One recorded sysctl (CRIU's SysctlEntry): its type, and its value when
/// the file exists and could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sysctl {
    Int(Option<i32>),
    Str(Option<String>),
}

impl Sysctl {
    pub fn int(&self) -> Option<i32> {
        match self {
            Sysctl::Int(v) => *v,
            Sysctl::Str(_) => None,
        }
    }
}

/// The IPv4 and IPv6 conf of one device or of `all`/`default`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Confs {
    pub conf4: Vec<Sysctl>,
    pub conf6: Vec<Sysctl>,
}

/// What a net namespace records besides its devices.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NsSysctls {
    pub default: Confs,
    pub all: Confs,
    /// Empty when the kernel has no net.unix sysctls.
    pub unix: Vec<Sysctl>,
    /// `ping_group_range` as CRIU keeps it: no value when it is the
    /// default ("1 0"); empty when the file is missing.
    pub ipv4: Vec<Sysctl>,
}

/// `/proc/sys/net`, opened by the calling thread (which must be inside
/// the namespace): every read below goes through it.
pub struct NetSysctlDir {
    dir: OwnedFd,
}

impl NetSysctlDir {
    /// Opens /proc/sys/net for the calling thread's net namespace.
    pub fn open() -> Result<NetSysctlDir> {
        let dir = nix::fcntl::open("/proc/sys/net", OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| Error::sys(e, "open /proc/sys/net"))?;
        Ok(NetSysctlDir { dir })
    }

    /// Whether the kernel has IPv6 (CRIU's `kdat.ipv6`: /proc/sys/net/ipv6).
    pub fn has_ipv6(&self) -> bool {
        nix::sys::stat::fstatat(&self.dir, "ipv6", nix::fcntl::AtFlags::empty()).is_ok()
    }

    /// The IPv4 and IPv6 conf of `target` (a device name, or "all" /
    /// "default"). The name must be a plain directory name.
    pub fn confs(&self, target: &[u8]) -> Result<Confs> {
        if target.is_empty() || target.contains(&b'/') || target.contains(&0) || target == b"." || target == b".." {
            return Err(Error::invalid(format!(
                "link name {:?} cannot name a sysctl directory",
                crate::netdev::escape(target)
            )));
        }
        Ok(Confs {
            conf4: self.conf_dir(b"ipv4/conf/", target, &DEVCONFS4)?,
            conf6: self.conf_dir(b"ipv6/conf/", target, &DEVCONFS6)?,
        })
    }

    fn conf_dir(&self, base: &[u8], target: &[u8], names: &[&str]) -> Result<Vec<Sysctl>> {
        let mut path = base.to_vec();
        path.extend_from_slice(target);
        let shown = || format!("/proc/sys/net/{}", crate::netdev::escape(&path));
        let dir = match openat(&self.dir, path.as_slice(), OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()) {
            Ok(fd) => Some(fd),
            // No such device here (renamed meanwhile) or no IPv6 on it:
            // every entry without a value, as CRIU records them.
            Err(nix::errno::Errno::ENOENT) => None,
            Err(e) => return Err(Error::sys(e, format!("open {}", shown()))),
        };
        names
            .iter()
            .map(|&name| {
                let string = name == STABLE_SECRET;
                let Some(dir) = &dir else {
                    return Ok(if string { Sysctl::Str(None) } else { Sysctl::Int(None) });
                };
                let what = || format!("{}/{name}", shown());
                if string {
                    read_str(dir.as_fd(), name, &what).map(Sysctl::Str)
                } else {
                    read_int(dir.as_fd(), name, &what).map(Sysctl::Int)
                }
            })
            .collect()
    }

    /// `all`, `default`, unix and ipv4 sysctls of the namespace; the
    /// ping_group_range gids are mapped into the root's user namespace
    /// when `gid_map` (that namespace's gid map) is given.
    pub fn namespace(&self, gid_map: Option<&[crate::userns::Extent]>) -> Result<NsSysctls> {
        let default = self.confs(b"default")?;
        let all = self.confs(b"all")?;
        let unix_dir = open_optional(self.dir.as_fd(), "unix")?;
        let unix = match &unix_dir {
            None => Vec::new(),
            Some(d) => {
                let v = read_int(d.as_fd(), UNIX_CONFS[0], &|| "/proc/sys/net/unix/max_dgram_qlen".to_string())?;
                // CRIU drops the section when no entry exists.
                if v.is_some() {
                    vec![Sysctl::Int(v)]
                } else {
                    Vec::new()
                }
            }
        };
        let ipv4_dir = open_optional(self.dir.as_fd(), "ipv4")?;
        let ipv4 = match &ipv4_dir {
            None => Vec::new(),
            Some(d) => match read_str(d.as_fd(), PING_GROUP_RANGE, &|| "/proc/sys/net/ipv4/ping_group_range".to_string())? {
                None => Vec::new(),
                Some(text) => vec![Sysctl::Str(ping_group_range(&text, gid_map)?)],
            },
        };
        Ok(NsSysctls { default, all, unix, ipv4 })
    }
}

fn open_optional(dir: BorrowedFd<'_>, name: &str) -> Result<Option<OwnedFd>> {
    match openat(dir, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()) {
        Ok(fd) => Ok(Some(fd)),
        Err(nix::errno::Errno::ENOENT) => Ok(None),
        Err(e) => Err(Error::sys(e, format!("open /proc/sys/net/{name}"))),
    }
}

/// Reads at most `max` bytes of `name` in `dir`; None when it does not
/// exist (or, with `eio_means_unset`, answers EIO).
fn read_file(dir: BorrowedFd<'_>, name: &str, max: usize, eio_means_unset: bool, what: &dyn Fn() -> String) -> Result<Option<Vec<u8>>> {
    let fd = match openat(dir, name, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(Error::sys(e, format!("open {}", what()))),
    };
    let mut buf = vec![0u8; max];
    let mut file = std::fs::File::from(fd);
    // One read, as CRIU: a sysctl file answers in one go.
    loop {
        match file.read(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if eio_means_unset && e.raw_os_error() == Some(libc::EIO) => return Ok(None),
            Err(e) => return Err(Error::io(&e, format!("read {}", what()))),
        }
    }
}

fn read_int(dir: BorrowedFd<'_>, name: &str, what: &dyn Fn() -> String) -> Result<Option<i32>> {
    match read_file(dir, name, MAX_INT_LEN, false, what)? {
        None => Ok(None),
        Some(text) => parse_int(&text).map(Some).ok_or_else(|| {
            Error::malformed(format!("{}: {:?} is not a number", what(), String::from_utf8_lossy(&text)))
        }),
    }
}

fn read_str(dir: BorrowedFd<'_>, name: &str, what: &dyn Fn() -> String) -> Result<Option<String>> {
    match read_file(dir, name, MAX_STR_LEN, true, what)? {
        None => Ok(None),
        Some(text) => String::from_utf8(text).map(Some).map_err(|_| Error::malformed(format!("{}: not text", what()))),
    }
}

/// The first number of a sysctl file as CRIU reads it (`strtol` into an
/// int): leading blanks, an optional sign, decimal digits; a value past
/// the long range saturates and is then cut to 32 bits as C does. None
/// when there are no digits.
pub fn parse_int(text: &[u8]) -> Option<i32> {
    let t = text.iter().position(|b| !b.is_ascii_whitespace()).map(|i| &text[i..])?;
    let (neg, digits) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let end = digits.iter().position(|b| !b.is_ascii_digit()).unwrap_or(digits.len());
    if end == 0 {
        return None;
    }
    let mut v: i64 = 0;
    for &d in &digits[..end] {
        v = v.saturating_mul(10).saturating_add((d - b'0') as i64);
    }
    Some(if neg { v.saturating_neg() } else { v } as i32)
}

/// CRIU's handling of ping_group_range: the default ("1 0": nobody may
/// open ICMP echo sockets) is recorded without a value; otherwise, when
/// the tree has its own user namespace, both gids are mapped into it
/// (-1 when unmapped) and written "%d\t%d\n"; else the text is kept as read.
pub fn ping_group_range(text: &str, gid_map: Option<&[crate::userns::Extent]>) -> Result<Option<String>> {
    let mut words = text.split_ascii_whitespace().map(|w| parse_int(w.as_bytes()));
    let (Some(Some(start)), Some(Some(end))) = (words.next(), words.next()) else {
        return Err(Error::malformed(format!("Failed to parse ping_group_range: {text:?}")));
    };
    if start == 1 && end == 0 {
        return Ok(None);
    }
    let Some(map) = gid_map else { return Ok(Some(text.to_string())) };
    // CRIU prints its INVALID_ID as an int: -1.
    let inside = |gid: i32| crate::userns::from_parent(map, gid as u32).map_or(-1, |g| g as i32);
    Ok(Some(format!("{}\t{}\n", inside(start), inside(end))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::userns::Extent;

    #[test]
    fn integers_are_read_as_criu_reads_them() {
        assert_eq!(parse_int(b"1\n"), Some(1));
        assert_eq!(parse_int(b"-1\n"), Some(-1));
        assert_eq!(parse_int(b"  604800\n"), Some(604800));
        assert_eq!(parse_int(b"4294967295\n"), Some(-1), "cut to 32 bits as C does");
        assert_eq!(parse_int(b"1\t0\n"), Some(1), "the first number");
        assert_eq!(parse_int(b""), None);
        assert_eq!(parse_int(b"x1"), None);
        assert_eq!(parse_int(b"-"), None);
    }

    #[test]
    fn ping_group_range_follows_criu() {
        assert_eq!(ping_group_range("1\t0\n", None).unwrap(), None, "the default has no value");
        assert_eq!(ping_group_range("0\t2147483647\n", None).unwrap().as_deref(), Some("0\t2147483647\n"));
        let map = [Extent { first: 0, lower_first: 100000, count: 65536 }];
        assert_eq!(ping_group_range("100000\t100010\n", Some(&map)).unwrap().as_deref(), Some("0\t10\n"));
        assert_eq!(ping_group_range("5\t100010\n", Some(&map)).unwrap().as_deref(), Some("-1\t10\n"));
        assert_eq!(ping_group_range("junk", None).unwrap_err().errno(), libc::EBADMSG);
    }

    #[test]
    fn criu_lists_have_criu_lengths_and_one_string() {
        assert_eq!((DEVCONFS4.len(), DEVCONFS6.len()), (30, 42));
        assert_eq!(DEVCONFS6.iter().position(|n| *n == STABLE_SECRET), Some(35));
        assert_eq!(DEVCONFS4.iter().position(|n| *n == "rp_filter"), Some(21));
        assert_eq!(DEVCONFS4.iter().position(|n| *n == "forwarding"), Some(12));
        assert_eq!(DEVCONFS6.iter().position(|n| *n == "mtu"), Some(26));
    }

    #[test]
    fn own_namespace_confs_are_read_and_bad_names_refused() {
        let dir = NetSysctlDir::open().unwrap();
        let lo = dir.confs(b"lo").unwrap();
        assert_eq!((lo.conf4.len(), lo.conf6.len()), (30, 42));
        assert!(lo.conf4.iter().all(|s| matches!(s, Sysctl::Int(_))));
        assert!(matches!(lo.conf6[35], Sysctl::Str(_)));
        let forwarding = std::fs::read("/proc/sys/net/ipv4/conf/lo/forwarding").unwrap();
        assert_eq!(lo.conf4[12], Sysctl::Int(parse_int(&forwarding)));
        let missing = dir.confs(b"criurs-none0").unwrap();
        assert!(missing.conf4.iter().chain(&missing.conf6).all(|s| s.int().is_none()));
        for bad in [&b"../x"[..], b"..", b".", b"", b"a\0b"] {
            assert_eq!(dir.confs(bad).unwrap_err().errno(), libc::EINVAL, "{bad:?}");
        }
        let ns = dir.namespace(None).unwrap();
        assert_eq!(ns.unix.len(), 1);
        assert_eq!((ns.all.conf4.len(), ns.default.conf6.len()), (30, 42));
    }
}
