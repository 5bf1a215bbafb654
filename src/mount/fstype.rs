//! CRIU's filesystem types (`enum fstype` of images/mnt.proto and the
//! table of criu/filesystems.c) and the per-type rules that change what a
//! mount looks like in the image.

/// CRIU's fstype codes. The numeric value is what the image carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u32)]
pub enum FsType {
    #[default]
    Unsupported = 0,
    Proc = 1,
    Sysfs = 2,
    Devtmpfs = 3,
    BinfmtMisc = 4,
    Tmpfs = 5,
    Devpts = 6,
    Simfs = 7,
    Pstore = 8,
    Securityfs = 9,
    Fusectl = 10,
    Debugfs = 11,
    Cgroup = 12,
    Aufs = 13,
    Mqueue = 14,
    Fuse = 15,
    /// Mounted by name ("--enable-fs" or a dev[] external); the image
    /// then carries `fsname`.
    Auto = 16,
    Overlayfs = 17,
    Autofs = 18,
    Tracefs = 19,
    Cgroup2 = 23,
}

/// Kernel type names in CRIU's table order. btrfs is listed by CRIU as
/// UNSUPPORTED with its own superblock comparison.
const TABLE: [(&[u8], FsType); 21] = [
    (b"auto_cr", FsType::Auto),
    (b"proc", FsType::Proc),
    (b"sysfs", FsType::Sysfs),
    (b"devtmpfs", FsType::Devtmpfs),
    (b"binfmt_misc", FsType::BinfmtMisc),
    (b"tmpfs", FsType::Tmpfs),
    (b"devpts", FsType::Devpts),
    (b"simfs", FsType::Simfs),
    (b"btrfs", FsType::Unsupported),
    (b"pstore", FsType::Pstore),
    (b"mqueue", FsType::Mqueue),
    (b"securityfs", FsType::Securityfs),
    (b"fusectl", FsType::Fusectl),
    (b"debugfs", FsType::Debugfs),
    (b"tracefs", FsType::Tracefs),
    (b"cgroup", FsType::Cgroup),
    (b"cgroup2", FsType::Cgroup2),
    (b"aufs", FsType::Aufs),
    (b"fuse", FsType::Fuse),
    (b"overlay", FsType::Overlayfs),
    (b"autofs", FsType::Autofs),
];

impl FsType {
    pub fn code(self) -> u32 {
        self as u32
    }

    /// CRIU's `find_fstype_by_name`: the part of the kernel type before
    /// the first '.' (the subtype is dropped), then `--enable-fs` names.
    pub fn from_kernel_name(fsname: &[u8], auto_names: &AutoFs) -> FsType {
        let base = fsname.split(|&b| b == b'.').next().unwrap_or(fsname);
        if let Some((_, t)) = TABLE.iter().find(|(n, _)| *n == base) {
            return *t;
        }
        if auto_names.matches(base) {
            FsType::Auto
        } else {
            FsType::Unsupported
        }
    }

    pub fn from_code(code: u32) -> Option<FsType> {
        TABLE.iter().map(|(_, t)| *t).chain([FsType::Unsupported]).find(|t| t.code() == code)
    }

    /// The name CRIU's table gives the type (crit shows the number).
    pub fn name(self) -> &'static str {
        match self {
            FsType::Unsupported => "unsupported",
            FsType::Auto => "auto_cr",
            FsType::Overlayfs => "overlay",
            t => TABLE
                .iter()
                .find(|(_, x)| *x == t)
                .map(|(n, _)| std::str::from_utf8(n).unwrap_or("unsupported"))
                .unwrap_or("unsupported"),
        }
    }

    /// Whether CRIU compares superblocks of this type in its own way
    /// (`sb_equal`): btrfs ignores `subvol=`; cgroups also compare the
    /// root they had before `cgroup_parse` reset it.
    pub(crate) fn is_btrfs(fsname: &[u8]) -> bool {
        fsname == b"btrfs"
    }
}

/// CRIU's `--enable-fs` list ("all" or comma-separated names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutoFs {
    all: bool,
    names: Vec<Vec<u8>>,
}

impl AutoFs {
    pub fn add(&mut self, names: &[u8]) {
        for n in names.split(|&b| b == b',').filter(|n| !n.is_empty()) {
            if n == b"all" {
                self.all = true;
            } else if !self.names.iter().any(|x| x == n) {
                self.names.push(n.to_vec());
            }
        }
    }

    pub fn matches(&self, name: &[u8]) -> bool {
        !name.is_empty() && (self.all || self.names.iter().any(|n| n == name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_criu_image_values() {
        let none = AutoFs::default();
        let cases: [(&[u8], u32); 12] = [
            (b"ext4", 0),
            (b"proc", 1),
            (b"sysfs", 2),
            (b"devtmpfs", 3),
            (b"binfmt_misc", 4),
            (b"tmpfs", 5),
            (b"devpts", 6),
            (b"cgroup", 12),
            (b"fuse.sshfs", 15),
            (b"tracefs", 19),
            (b"cgroup2", 23),
            (b"btrfs", 0),
        ];
        for (name, code) in cases {
            assert_eq!(FsType::from_kernel_name(name, &none).code(), code, "{}", String::from_utf8_lossy(name));
        }
        for (_, t) in TABLE {
            assert_eq!(FsType::from_code(t.code()), Some(t));
        }
        assert_eq!(FsType::from_code(20), None);
        assert_eq!(FsType::Tmpfs.name(), "tmpfs");
    }

    #[test]
    fn enable_fs_names_become_auto() {
        let mut auto = AutoFs::default();
        auto.add(b"nfs4,xfs");
        assert_eq!(FsType::from_kernel_name(b"xfs", &auto), FsType::Auto);
        assert_eq!(FsType::from_kernel_name(b"ext4", &auto), FsType::Unsupported);
        assert_eq!(FsType::from_kernel_name(b"tmpfs", &auto), FsType::Tmpfs);
        auto.add(b"all");
        assert_eq!(FsType::from_kernel_name(b"ext4", &auto), FsType::Auto);
    }
}
