//! CRIU's `--external` declarations, parsed once: which objects of the
//! tree the caller restores itself, each with the key CRIU writes for it.

use crate::error::{Error, Result};

/// One `--external` spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum External {
    /// `mnt[PATH]:KEY`: the mount at PATH of the root's mount namespace.
    Mount { path: Vec<u8>, key: Vec<u8> },
    /// `dev[MAJ/MIN]:VAL`: mounts of that device are the caller's.
    Device { major: u32, minor: u32, value: Vec<u8> },
    /// `pid[INO]:KEY`: the pid namespace with inode INO.
    PidNs { kid: u64, key: Vec<u8> },
    /// `net[INO]:KEY`: the net namespace with inode INO.
    NetNs { kid: u64, key: Vec<u8> },
    /// `unix[INO]`: the unix socket with inode INO has its peer outside.
    UnixSocket { ino: u64 },
}

impl External {
    /// Parses CRIU's spelling of one external.
    pub fn parse(spec: &[u8]) -> Result<External> {
        let bad = || {
            Error::invalid(format!(
                "external {:?} is none of mnt[PATH]:KEY, dev[MAJ/MIN]:VAL, pid[INO]:KEY, net[INO]:KEY, unix[INO]",
                String::from_utf8_lossy(spec)
            ))
        };
        if spec.contains(&0) {
            return Err(bad());
        }
        let open = spec.iter().position(|&b| b == b'[').ok_or_else(bad)?;
        let close = spec.iter().rposition(|&b| b == b']').filter(|&c| c > open).ok_or_else(bad)?;
        let (kind, inside, tail) = (&spec[..open], &spec[open + 1..close], &spec[close + 1..]);
        let value = || tail.strip_prefix(b":").filter(|v| !v.is_empty()).map(<[u8]>::to_vec).ok_or_else(bad);
        match kind {
            b"mnt" => {
                if inside.is_empty() {
                    return Err(Error::invalid(format!(
                        "external {:?}: CRIU's external-mount autodetection (mnt[], mnt[]:m, mnt[]:s) is not supported; name each external mount with mnt[PATH]:KEY",
                        String::from_utf8_lossy(spec)
                    )));
                }
                if inside.first() != Some(&b'/') {
                    return Err(Error::invalid(format!(
                        "external mount {:?}: the path must be absolute",
                        String::from_utf8_lossy(inside)
                    )));
                }
                Ok(External::Mount { path: inside.to_vec(), key: value()? })
            }
            b"dev" => {
                let slash = inside.iter().position(|&b| b == b'/').ok_or_else(bad)?;
                let major = number(&inside[..slash]).ok_or_else(bad)?;
                let minor = number(&inside[slash + 1..]).ok_or_else(bad)?;
                Ok(External::Device { major, minor, value: value()? })
            }
            b"pid" => Ok(External::PidNs { kid: number(inside).ok_or_else(bad)?, key: value()? }),
            b"net" => Ok(External::NetNs { kid: number(inside).ok_or_else(bad)?, key: value()? }),
            b"unix" if tail.is_empty() => Ok(External::UnixSocket { ino: number(inside).ok_or_else(bad)? }),
            _ => Err(bad()),
        }
    }
}

/// The externals that are not mounts: namespaces and sockets the caller
/// declared its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Externals {
    pub pid_ns: std::collections::BTreeMap<u64, Vec<u8>>,
    pub net_ns: std::collections::BTreeMap<u64, Vec<u8>>,
    pub unix_sockets: std::collections::BTreeSet<u64>,
}

impl Externals {
    /// CRIU's `external_lookup_by_key("pid[INO]")`.
    pub fn pid_ns_key(&self, kid: u64) -> Option<&[u8]> {
        self.pid_ns.get(&kid).map(Vec::as_slice)
    }

    /// CRIU's `external_lookup_by_key("net[INO]")`.
    pub fn net_ns_key(&self, kid: u64) -> Option<&[u8]> {
        self.net_ns.get(&kid).map(Vec::as_slice)
    }
}

/// A decimal number of digits only (no sign, no spaces), as CRIU's keys
/// carry inode and device numbers.
fn number<T: std::str::FromStr>(text: &[u8]) -> Option<T> {
    std::str::from_utf8(text).ok().filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_criu_spells() {
        assert_eq!(
            External::parse(b"mnt[/data]:vol").unwrap(),
            External::Mount { path: b"/data".to_vec(), key: b"vol".to_vec() }
        );
        assert_eq!(
            External::parse(b"mnt[/a]b]:k").unwrap(),
            External::Mount { path: b"/a]b".to_vec(), key: b"k".to_vec() },
            "the last ']' closes the path"
        );
        assert_eq!(
            External::parse(b"dev[8/1]:disk").unwrap(),
            External::Device { major: 8, minor: 1, value: b"disk".to_vec() }
        );
        assert_eq!(
            External::parse(b"pid[4026531836]:host").unwrap(),
            External::PidNs { kid: 4026531836, key: b"host".to_vec() }
        );
        assert_eq!(External::parse(b"net[4026531840]:extnet").unwrap(), External::NetNs { kid: 4026531840, key: b"extnet".to_vec() });
        assert_eq!(External::parse(b"unix[12345]").unwrap(), External::UnixSocket { ino: 12345 });
    }

    #[test]
    fn refuses_what_criu_would_not_understand() {
        for bad in [
            &b"mnt[rel]:k"[..],
            b"mnt[/a]",
            b"mnt[/a]:",
            b"dev[8:1]:v",
            b"dev[8/x]:v",
            b"pid[-1]:k",
            b"pid[12]",
            b"net[abc]:k",
            b"unix[1]:k",
            b"tty[1]:k",
            b"nothing",
            b"mnt[/a\0]:k",
        ] {
            let e = External::parse(bad).unwrap_err();
            assert_eq!(e.errno(), libc::EINVAL, "{:?}", String::from_utf8_lossy(bad));
        }
        // CRIU's autodetection spellings are refused by name.
        for auto in [&b"mnt[]"[..], b"mnt[]:m", b"mnt[]:ms"] {
            let e = External::parse(auto).unwrap_err();
            assert!(e.message().contains("autodetection") && e.message().contains("mnt[PATH]:KEY"), "{e}");
        }
    }
}
