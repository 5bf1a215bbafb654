//! mountpoints-N.img: one MntEntry per mount, with exactly the fields and
//! presence CRIU's `dump_one_mountpoint` gives them, in CRIU's order.

use super::fstype::FsType;
use super::mountinfo::{MountRecord, Text};
use super::tree::MountNamespace;
use crate::error::Result;
use crate::image::{self, pb::MntEntry, MNTS_MAGIC};

/// The image file name for namespace `ns_id`.
pub fn image_name(ns_id: u32) -> String {
    format!("mountpoints-{ns_id}.img")
}

/// CRIU's MntEntry for one mount: sb_flags, shared_id and master_id are
/// always present; fsname only for "auto" mounts; deleted, ext_key,
/// internal_sharing and with_plugin only when set. Root, mount point and
/// source are spelled as CRIU 4.2 spells them (`\012` and `\043` stay
/// escaped, see [`MountRecord::image_root`]).
pub fn entry(m: &MountRecord) -> MntEntry {
    MntEntry {
        fstype: m.fstype.code(),
        mnt_id: m.mnt_id,
        root_dev: m.root_dev,
        parent_mnt_id: m.parent_mnt_id,
        flags: m.flags,
        root: m.image_root().to_vec(),
        mountpoint: m.image_mountpoint().to_vec(),
        source: m.image_source().to_vec(),
        options: m.options().to_vec(),
        shared_id: Some(m.shared_id),
        master_id: Some(m.master_id),
        with_plugin: m.with_plugin.then_some(true),
        ext_mount: None,
        fsname: (m.fstype == FsType::Auto).then(|| m.fsname().to_vec()),
        internal_sharing: m.internal_sharing.then_some(true),
        deleted: m.deleted.then_some(true),
        sb_flags: Some(m.sb_flags),
        ext_key: m.ext_key.clone(),
    }
}

/// The whole image of one namespace.
pub fn encode_namespace(ns: &MountNamespace) -> Vec<u8> {
    let entries: Vec<MntEntry> = ns.image_order().map(entry).collect();
    image::encode(MNTS_MAGIC, &entries)
}

/// Reads an image back (magic and every length checked).
pub fn decode(bytes: &[u8], what: &str) -> Result<Vec<MntEntry>> {
    image::decode(bytes, MNTS_MAGIC, what)
}

/// A record holding what an image entry carries (line 0; the kernel's
/// text fields are not in the image).
pub fn record_from_entry(e: &MntEntry) -> MountRecord {
    MountRecord {
        line: 0,
        mnt_id: e.mnt_id,
        parent_mnt_id: e.parent_mnt_id,
        major: e.root_dev >> 20,
        minor: e.root_dev & 0xfffff,
        root_dev: e.root_dev,
        deleted: e.deleted.unwrap_or(false),
        flags: e.flags,
        shared_id: e.shared_id.unwrap_or(0),
        master_id: e.master_id.unwrap_or(0),
        fstype: FsType::from_code(e.fstype).unwrap_or(FsType::Unsupported),
        sb_flags: e.sb_flags.unwrap_or(0),
        ext_key: e.ext_key.clone(),
        internal_sharing: e.internal_sharing.unwrap_or(false),
        with_plugin: e.with_plugin.unwrap_or(false),
        ..Default::default()
    }
    .with(Text::Root, &e.root)
    .with(Text::Mountpoint, &e.mountpoint)
    .with(Text::Fsname, e.fsname.as_deref().unwrap_or_default())
    .with(Text::Source, &e.source)
    .with(Text::Options, &e.options)
}
