//! Mount flags: the per-mount options of mountinfo become MS_* bits
//! (CRIU's `parse_mnt_flags`), the super options split into sb_flags and
//! the rest (`parse_sb_opt`), and the optional fields set propagation bits.

use crate::error::{Error, Result};
use crate::userns::{Extent, IdMaps};

pub const MS_RDONLY: u32 = 1;
pub const MS_NOSUID: u32 = 2;
pub const MS_NODEV: u32 = 4;
pub const MS_NOEXEC: u32 = 8;
pub const MS_SYNCHRONOUS: u32 = 16;
pub const MS_MANDLOCK: u32 = 64;
pub const MS_DIRSYNC: u32 = 128;
pub const MS_NOATIME: u32 = 1024;
pub const MS_NODIRATIME: u32 = 2048;
pub const MS_REC: u32 = 0x4000;
pub const MS_UNBINDABLE: u32 = 1 << 17;
pub const MS_PRIVATE: u32 = 1 << 18;
pub const MS_SLAVE: u32 = 1 << 19;
pub const MS_SHARED: u32 = 1 << 20;
pub const MS_RELATIME: u32 = 1 << 21;
pub const MS_STRICTATIME: u32 = 1 << 24;

/// CRIU's table for the per-mount options; anything else is refused, as
/// CRIU refuses it ("Unknown option").
const MOUNT_OPTIONS: [(&[u8], u32); 8] = [
    (b"rw", 0),
    (b"ro", MS_RDONLY),
    (b"nosuid", MS_NOSUID),
    (b"nodev", MS_NODEV),
    (b"noexec", MS_NOEXEC),
    (b"noatime", MS_NOATIME),
    (b"nodiratime", MS_NODIRATIME),
    (b"relatime", MS_RELATIME),
];

/// CRIU's table for super options. Note "mad": CRIU spells MS_MANDLOCK's
/// option so, hence a kernel "mand" stays in the options string, exactly
/// as CRIU writes it. "lazytime" is not in CRIU's table either.
const SUPER_OPTIONS: [(&[u8], u32); 5] =
    [(b"rw", 0), (b"ro", MS_RDONLY), (b"sync", MS_SYNCHRONOUS), (b"dirsync", MS_DIRSYNC), (b"mad", MS_MANDLOCK)];

/// Per-mount options ("rw,nosuid,relatime") to MS_* flags. Without
/// relatime or noatime the kernel's default is strictatime, which CRIU
/// makes explicit.
pub fn mount_flags(opts: &[u8]) -> Result<u32> {
    let mut flags = 0;
    for opt in opts.split(|&b| b == b',') {
        match MOUNT_OPTIONS.iter().find(|(name, _)| *name == opt) {
            Some((_, bit)) => flags |= bit,
            None => {
                return Err(Error::malformed(format!(
                    "unknown per-mount option {:?} (CRIU knows rw, ro, nosuid, nodev, noexec, noatime, nodiratime, relatime)",
                    String::from_utf8_lossy(opt)
                )))
            }
        }
    }
    if flags & (MS_RELATIME | MS_NOATIME) == 0 {
        flags |= MS_STRICTATIME;
    }
    Ok(flags)
}

/// Translates a uid or gid seen from the caller into the dumped tree's
/// user namespace (CRIU's `userns_uid`/`userns_gid`): identity when the
/// tree shares the caller's user namespace (`None`), -1 when unmapped.
fn map_id(map: Option<&[Extent]>, id: i64) -> i64 {
    let Some(extents) = map else { return id };
    for e in extents {
        let (first, lower, count) = (e.first as i64, e.lower_first as i64, e.count as i64);
        if lower <= id && id < lower + count {
            // CRIU computes in int: wrap like it does.
            return (first + (id - lower)) as i32 as i64;
        }
    }
    -1
}

/// `sscanf(opt, "uid=%d")`: an optional sign and leading digits.
fn scan_id(value: &[u8]) -> Option<i64> {
    let (neg, digits) = match value.first() {
        Some(b'-') => (true, &value[1..]),
        Some(b'+') => (false, &value[1..]),
        _ => (false, value),
    };
    let n = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 {
        return None;
    }
    let mut v: i64 = 0;
    for &d in &digits[..n] {
        v = (v * 10 + (d - b'0') as i64) & 0xffff_ffff_ffff;
    }
    let v = v as i32 as i64; // %d stores an int
    Some(if neg { -v } else { v })
}

/// Super options to (sb_flags, options): known flags become bits, the
/// rest is kept in order, comma-joined, with uid=/gid= translated by
/// the maps of the tree root's user namespace (`None`: the caller's).
pub fn super_options(opts: &[u8], ids: Option<&IdMaps>) -> (u32, Vec<u8>) {
    let mut rest = Vec::new();
    let flags = super_options_into(opts, ids, &mut rest);
    (flags, rest)
}

/// [`super_options`], the options appended to `out`; returns sb_flags.
pub fn super_options_into(opts: &[u8], ids: Option<&IdMaps>, out: &mut Vec<u8>) -> u32 {
    let mut flags = 0;
    let start = out.len();
    for opt in opts.split(|&b| b == b',') {
        if let Some((_, bit)) = SUPER_OPTIONS.iter().find(|(name, _)| *name == opt) {
            flags |= bit;
            continue;
        }
        if out.len() > start {
            out.push(b',');
        }
        let translated = match opt.first() {
            Some(b'u') | Some(b'g') => {
                let maps = [(&b"uid="[..], ids.map(|m| &m.uid_map[..])), (&b"gid="[..], ids.map(|m| &m.gid_map[..]))];
                maps.into_iter().find_map(|(key, map)| {
                    let v = scan_id(opt.strip_prefix(key)?)?;
                    Some((key, map_id(map, v)))
                })
            }
            _ => None,
        };
        match translated {
            Some((key, id)) => {
                out.extend_from_slice(key);
                out.extend_from_slice(id.to_string().as_bytes());
            }
            None => out.extend_from_slice(opt),
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_mount_options_match_criu_values() {
        // Values CRIU 4.2 wrote in the fixture image.
        assert_eq!(mount_flags(b"rw,relatime").unwrap(), 0x200000);
        assert_eq!(mount_flags(b"rw,nosuid,noexec,relatime").unwrap(), 0x20000a);
        assert_eq!(mount_flags(b"ro,nosuid,nodev,relatime").unwrap(), 0x200007);
        assert_eq!(mount_flags(b"rw,nosuid,nodev,noexec,relatime").unwrap(), 0x20000e);
        assert_eq!(mount_flags(b"rw").unwrap(), MS_STRICTATIME);
        assert_eq!(mount_flags(b"rw,noatime").unwrap(), MS_NOATIME);
        let e = mount_flags(b"rw,nosymfollow").unwrap_err();
        assert!(e.message().contains("nosymfollow"), "{e}");
        assert!(mount_flags(b"").is_err());
    }

    #[test]
    fn super_options_split_like_criu() {
        let none = None;
        assert_eq!(super_options(b"rw,size=16k", none), (0, b"size=16k".to_vec()));
        assert_eq!(super_options(b"ro,size=4k,mode=755", none), (1, b"size=4k,mode=755".to_vec()));
        assert_eq!(super_options(b"rw", none), (0, b"".to_vec()));
        assert_eq!(super_options(b"rw,sync,dirsync,mand,lazytime", none), (16 | 128, b"mand,lazytime".to_vec()));
        assert_eq!(super_options(b"ro,mad", none), (1 | 64, b"".to_vec()));
        // resuid= is not uid=: kept as is.
        assert_eq!(super_options(b"rw,resuid=65534", none).1, b"resuid=65534".to_vec());
    }

    #[test]
    fn uid_and_gid_options_are_translated_into_the_tree_user_namespace() {
        let ext = |first, lower_first, count| Extent { first, lower_first, count };
        let ids = IdMaps { uid_map: vec![ext(0, 100000, 65536)], gid_map: vec![ext(0, 200000, 10)] };
        assert_eq!(super_options(b"rw,uid=100005,gid=200001,mode=700", Some(&ids)).1, b"uid=5,gid=1,mode=700".to_vec());
        assert_eq!(super_options(b"uid=7,gid=300000", Some(&ids)).1, b"uid=-1,gid=-1".to_vec());
        assert_eq!(super_options(b"uid=12x,gid=abc", None).1, b"uid=12,gid=abc".to_vec());
    }
}
