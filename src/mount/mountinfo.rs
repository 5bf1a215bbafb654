//! `/proc/PID/mountinfo` (proc(5)), parsed as CRIU's `parse_mountinfo_ent`
//! does, on bytes:
//!
//! ```text
//! 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//! (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
//! ```
//! Root, mount point and source carry octal escapes (`\040` space, `\011`
//! tab, `\012` newline, `\134` backslash, and `\043` '#' in the source),
//! decoded here: any byte but NUL may appear in a path and nothing is
//! replaced. CRIU 4.2's `cure_path` decodes only the first three and
//! the fourth, so its images keep `\012` and `\043` as four bytes each;
//! [`MountRecord::image_root`] and friends give CRIU's spelling for the
//! image, the records themselves hold the paths as the kernel named them.

use std::borrow::Cow;
use std::sync::Arc;

use super::flags::{self, MS_SHARED, MS_SLAVE, MS_UNBINDABLE};
use super::fstype::{AutoFs, FsType};
use crate::error::{Error, Result};

/// The byte-string fields of a [`MountRecord`], in the order they sit in
/// its one buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    Root,
    Mountpoint,
    MountOptions,
    Fsname,
    Source,
    SuperOptions,
    Options,
}

const TEXT_FIELDS: usize = 7;

/// One mount, with every field of its mountinfo line and the values CRIU
/// derives from them for its MntEntry.
///
/// The seven byte strings (root, mount point, the two option fields,
/// type, source, CRIU's options) live back to back in one buffer: one
/// allocation a mount instead of seven, which is most of what a
/// collection costs in user space. Read them with the accessors
/// ([`MountRecord::root`], ...), change them with the setters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MountRecord {
    /// 1-based line number in mountinfo (0 for records read from an
    /// image); with statmount, the mount's place in listmount's order,
    /// which is mountinfo's.
    pub line: usize,
    pub mnt_id: u32,
    pub parent_mnt_id: u32,
    pub major: u32,
    pub minor: u32,
    /// `major << 20 | minor`, the kernel encoding CRIU writes (MKKDEV).
    pub root_dev: u32,
    /// The root had the `//deleted` suffix the kernel's `dentry_path`
    /// gives an unlinked root. A root ending in ` (deleted)` is a live
    /// directory of that name: the kernel never writes that marker here.
    pub deleted: bool,
    /// MS_* of the per-mount options, plus MS_SHARED/MS_SLAVE/
    /// MS_UNBINDABLE from the optional fields and per-type additions.
    pub flags: u32,
    /// Peer group (`shared:N`), 0 when not shared.
    pub shared_id: u32,
    /// Master peer group (`master:N`), 0 if none: CRIU 4.2 writes it as
    /// the kernel printed it, the root mount's own master included.
    pub master_id: u32,
    /// `propagate_from:N` (CRIU skips it), 0 if absent. The statmount
    /// reader does not ask for it (it is what makes mountinfo quadratic
    /// in slaves) and leaves 0.
    pub propagate_from: u32,
    pub fstype: FsType,
    /// MS_RDONLY/MS_SYNCHRONOUS/MS_DIRSYNC/MS_MANDLOCK of the super options.
    pub sb_flags: u32,
    /// Key from the external-mount map (`--external mnt[PATH]:KEY`).
    pub ext_key: Option<Vec<u8>>,
    /// CRIU's internal_sharing (only set by autodetected externals).
    pub internal_sharing: bool,
    /// CRIU's with_plugin (never: no plugins here).
    pub with_plugin: bool,
    /// For cgroup mounts in a cgroup namespace other than the caller's:
    /// the root the kernel printed, which CRIU replaces by "/" (its
    /// `cgroup_parse`) but still compares superblocks with.
    pub cgroup_root: Option<Vec<u8>>,
    /// CRIU's spelling of root, mount point and source, where it differs
    /// from the decoded bytes (see [`CriuSpelling`]); `None` almost always.
    pub criu_spelling: Option<Box<CriuSpelling>>,
    /// The [`Text`] fields back to back (crate-visible so that records
    /// can be built with `..Default::default()`).
    pub(crate) text: TextFields,
}

/// A record's byte strings: bytes `start..ends[6]` of a slab shared with
/// the records parsed next to it; field i ends at `ends[i]`. The parser
/// fills one slab for a few thousand records, so a record costs no
/// allocation of its own and dropping a table frees a few slabs.
#[derive(Clone, Default)]
pub(crate) struct TextFields {
    /// `None` only while the parser still fills the slab (and for a
    /// record without text).
    slab: Option<Arc<Vec<u8>>>,
    start: u32,
    ends: [u32; TEXT_FIELDS],
}

impl TextFields {
    fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 { self.start } else { self.ends[i - 1] };
        match &self.slab {
            Some(slab) => slab.get(start as usize..self.ends[i] as usize).unwrap_or_default(),
            None => &[],
        }
    }
}

/// Records compare by their bytes, wherever they are stored.
impl PartialEq for TextFields {
    fn eq(&self, other: &TextFields) -> bool {
        (0..TEXT_FIELDS).all(|i| self.field(i) == other.field(i))
    }
}

impl Eq for TextFields {}

impl std::fmt::Debug for TextFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut list = f.debug_list();
        for i in 0..TEXT_FIELDS {
            list.entry(&String::from_utf8_lossy(self.field(i)));
        }
        list.finish()
    }
}

/// Root, mount point and source as CRIU 4.2 writes them into images, each
/// kept only when it differs from the decoded field: CRIU's `cure_path`
/// turns `\040`, `\011` and `\134` back into space, tab and backslash and
/// leaves every other escape (`\012` for a newline, `\043` for a '#' in a
/// source) as its four bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CriuSpelling {
    pub root: Option<Vec<u8>>,
    pub mountpoint: Option<Vec<u8>>,
    pub source: Option<Vec<u8>>,
}

impl MountRecord {
    /// A field's bytes.
    pub fn text(&self, field: Text) -> &[u8] {
        self.text.field(field as usize)
    }

    /// Replaces one field (copies the others: not for the parser's path).
    pub fn set_text(&mut self, field: Text, value: &[u8]) {
        let at = field as usize;
        let mut text = Vec::new();
        let mut ends = [0u32; TEXT_FIELDS];
        for (i, end) in ends.iter_mut().enumerate() {
            if i == at {
                text.extend_from_slice(value);
            } else {
                text.extend_from_slice(self.text(Text::ALL[i]));
            }
            *end = text_len(&text);
        }
        self.text = TextFields { slab: Some(Arc::new(text)), start: 0, ends };
    }

    /// The record with `field` set (for building records by hand).
    pub fn with(mut self, field: Text, value: &[u8]) -> MountRecord {
        self.set_text(field, value);
        self
    }

    /// Root of the mount inside its filesystem, decoded, without the
    /// deleted marker.
    pub fn root(&self) -> &[u8] {
        self.text(Text::Root)
    }

    /// Mount point as the namespace sees it, decoded: what CRIU writes
    /// (its "./path" minus the dot).
    pub fn mountpoint(&self) -> &[u8] {
        self.text(Text::Mountpoint)
    }

    /// Field 6 as the kernel printed it ("rw,nosuid,relatime").
    pub fn mount_options(&self) -> &[u8] {
        self.text(Text::MountOptions)
    }

    /// The full kernel type with subtype ("fuse.sshfs"), as mountinfo
    /// prints it.
    pub fn fsname(&self) -> &[u8] {
        self.text(Text::Fsname)
    }

    /// Mount source, decoded; may be empty.
    pub fn source(&self) -> &[u8] {
        self.text(Text::Source)
    }

    /// Field 11 as the kernel printed it ("rw,size=16k").
    pub fn super_options(&self) -> &[u8] {
        self.text(Text::SuperOptions)
    }

    /// Super options that are not sb_flags, comma-joined (no "rw").
    pub fn options(&self) -> &[u8] {
        self.text(Text::Options)
    }

    pub fn is_ns_root(&self) -> bool {
        self.mountpoint() == b"/"
    }

    /// The root is the filesystem's root (CRIU's `fsroot_mounted`).
    pub fn fsroot_mounted(&self) -> bool {
        self.root() == b"/"
    }

    /// The root as CRIU's image carries it.
    pub fn image_root(&self) -> &[u8] {
        self.criu_spelling.as_ref().and_then(|s| s.root.as_deref()).unwrap_or(self.root())
    }

    /// The mount point as CRIU's image carries it.
    pub fn image_mountpoint(&self) -> &[u8] {
        self.criu_spelling.as_ref().and_then(|s| s.mountpoint.as_deref()).unwrap_or(self.mountpoint())
    }

    /// The source as CRIU's image carries it.
    pub fn image_source(&self) -> &[u8] {
        self.criu_spelling.as_ref().and_then(|s| s.source.as_deref()).unwrap_or(self.source())
    }

    /// Replaces the root (CRIU's spelling follows); returns the old one.
    pub fn set_root(&mut self, root: &[u8]) -> Vec<u8> {
        if let Some(s) = self.criu_spelling.as_mut() {
            s.root = None;
        }
        let old = self.root().to_vec();
        self.set_text(Text::Root, root);
        old
    }

    /// Replaces the source (CRIU's spelling follows).
    pub fn set_source(&mut self, source: &[u8]) {
        if let Some(s) = self.criu_spelling.as_mut() {
            s.source = None;
        }
        self.set_text(Text::Source, source);
    }

    /// Appends one option to CRIU's options.
    pub fn push_option(&mut self, option: &[u8]) {
        let mut options = self.options().to_vec();
        if !options.is_empty() {
            options.push(b',');
        }
        options.extend_from_slice(option);
        self.set_text(Text::Options, &options);
    }
}

impl Text {
    pub const ALL: [Text; TEXT_FIELDS] =
        [Text::Root, Text::Mountpoint, Text::MountOptions, Text::Fsname, Text::Source, Text::SuperOptions, Text::Options];
}

/// A field's end in the buffer. Records are bounded far below 4 GiB (a
/// mountinfo line is at most a few pages of paths); saturating keeps a
/// hostile length from wrapping.
fn text_len(text: &[u8]) -> u32 {
    u32::try_from(text.len()).unwrap_or(u32::MAX)
}

/// Writes one record's text at the end of the slab being filled, field
/// by field in [`Text`] order.
pub(crate) struct TextBuilder<'a> {
    buf: &'a mut Vec<u8>,
    start: u32,
    ends: [u32; TEXT_FIELDS],
    next: usize,
}

impl<'a> TextBuilder<'a> {
    pub(crate) fn new(buf: &'a mut Vec<u8>) -> TextBuilder<'a> {
        let start = text_len(buf);
        TextBuilder { buf, start, ends: [0; TEXT_FIELDS], next: 0 }
    }

    /// The slab, to append the current field to.
    pub(crate) fn current(&mut self) -> &mut Vec<u8> {
        self.buf
    }

    /// Where the current field started.
    pub(crate) fn start(&self) -> usize {
        if self.next == 0 { self.start as usize } else { self.ends[self.next - 1] as usize }
    }

    /// Ends the current field.
    pub(crate) fn end(&mut self) {
        self.ends[self.next] = text_len(self.buf);
        self.next += 1;
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.end();
    }

    /// The record's place in the slab (every field ended); the slab
    /// itself is attached when it is frozen ([`Slab::freeze`]).
    pub(crate) fn finish(self) -> TextFields {
        debug_assert_eq!(self.next, TEXT_FIELDS);
        TextFields { slab: None, start: self.start, ends: self.ends }
    }
}

/// The slab records are being written into.
#[derive(Default)]
pub(crate) struct Slab {
    bytes: Vec<u8>,
    /// The first record (index into the caller's list) written into it.
    first: usize,
}

impl Slab {
    /// Bytes after which a slab is frozen and a new one begun.
    const SIZE: usize = 256 * 1024;

    pub(crate) fn bytes(&mut self) -> &mut Vec<u8> {
        if self.bytes.capacity() == 0 {
            self.bytes.reserve(Self::SIZE);
        }
        &mut self.bytes
    }

    /// Whether the slab is full after the records before `next`.
    pub(crate) fn full(&self) -> bool {
        self.bytes.len() >= Self::SIZE
    }

    /// Hands the slab to the records written into it (`records[first..]`)
    /// and begins a new one at `records.len()`.
    pub(crate) fn freeze(&mut self, records: &mut [MountRecord]) {
        let slab = Arc::new(std::mem::take(&mut self.bytes));
        for r in records.get_mut(self.first..).unwrap_or_default() {
            r.text.slab = Some(slab.clone());
        }
        self.first = records.len();
    }
}

/// What turns kernel text into CRIU's values.
#[derive(Debug, Clone, Default)]
pub struct ParseRules {
    /// The maps of the tree root's user namespace, for uid=/gid= options
    /// (CRIU's `userns_uid`); `None` when it is the caller's.
    pub ids: Option<crate::userns::IdMaps>,
    pub auto_fs: AutoFs,
}

/// Decodes the kernel's octal escapes; a backslash not followed by three
/// octal digits is kept as is.
pub fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    unescape_into(field, &mut out);
    out
}

/// [`unescape`], appended to `out`; whether `field` had a backslash.
pub(crate) fn unescape_into(field: &[u8], out: &mut Vec<u8>) -> bool {
    let Some(first) = memchr::memchr(b'\\', field) else {
        out.extend_from_slice(field);
        return false;
    };
    out.extend_from_slice(&field[..first]);
    let mut i = first;
    while i < field.len() {
        if field[i] == b'\\' && i + 3 < field.len() {
            let d = &field[i + 1..i + 4];
            if d.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = (d[0] - b'0') as u32 * 64 + (d[1] - b'0') as u32 * 8 + (d[2] - b'0') as u32;
                if v <= 0xff {
                    out.push(v as u8);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(field[i]);
        i += 1;
    }
    true
}

/// CRIU's `cure_path`: only `\040`, `\011` and `\134` are decoded.
pub fn criu_cure(field: &[u8]) -> Cow<'_, [u8]> {
    if !field.contains(&b'\\') {
        return Cow::Borrowed(field);
    }
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let decoded = match field.get(i..i + 4) {
            Some(br"\040") => Some(b' '),
            Some(br"\011") => Some(b'\t'),
            Some(br"\134") => Some(b'\\'),
            _ => None,
        };
        match decoded {
            Some(b) => {
                out.push(b);
                i += 4;
            }
            None => {
                out.push(field[i]);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// Whether CRIU's spelling of `field` differs from its full decoding: an
/// escape other than the three `cure_path` knows.
fn criu_spells_differently(field: &[u8]) -> bool {
    let mut rest = field;
    while let Some(at) = rest.iter().position(|&b| b == b'\\') {
        let d = &rest[at + 1..];
        if d.len() >= 3 && d[..3].iter().all(|c| (b'0'..=b'7').contains(c)) {
            if !matches!(&d[..3], b"040" | b"011" | b"134") && (d[0] - b'0') <= 3 {
                return true;
            }
            rest = &d[3..];
        } else {
            rest = d;
        }
    }
    false
}

impl CriuSpelling {
    /// CRIU's spelling of the three raw fields, `None` when it is the
    /// decoded one for all of them.
    pub(crate) fn of(root: &[u8], mountpoint: &[u8], source: &[u8]) -> Option<Box<CriuSpelling>> {
        let (r, m, s) = (criu_spells_differently(root), criu_spells_differently(mountpoint), criu_spells_differently(source));
        if !(r || m || s) {
            return None;
        }
        let root = r.then(|| {
            let mut root = criu_cure(root).into_owned();
            strip_deleted(&mut root);
            root
        });
        let mountpoint = m.then(|| criu_cure(mountpoint).into_owned());
        let source = s.then(|| criu_cure(source).into_owned());
        Some(Box::new(CriuSpelling { root, mountpoint, source }))
    }
}

/// A path as CRIU's `is_same_path` compares it: repeated slashes and "."
/// components do not count ("/a//b/./" is "/a/b"); the kernel's mount
/// points are already in this form.
pub fn same_path_form(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len() + 1);
    for part in path.split(|&b| b == b'/').filter(|p| !p.is_empty() && *p != b".") {
        out.push(b'/');
        out.extend_from_slice(part);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// Strips the kernel's deleted marker from a root. mountinfo prints a
/// root with `dentry_path`, which appends `//deleted` to an unlinked
/// dentry (a live path never has a double slash); ` (deleted)` is what
/// `d_path` appends in other files, and here only ever a live name, so
/// it is kept (CRIU's `strip_deleted` takes both for markers).
fn strip_deleted(root: &mut Vec<u8>) -> bool {
    strip_deleted_from(root, 0)
}

/// [`strip_deleted`] on the root that starts at `start` of `buf` (and
/// runs to its end).
pub(crate) fn strip_deleted_from(buf: &mut Vec<u8>, start: usize) -> bool {
    const MARKER: &[u8] = b"//deleted";
    if buf.len() - start > MARKER.len() && buf.ends_with(MARKER) {
        buf.truncate(buf.len() - MARKER.len());
        return true;
    }
    false
}

fn number(field: &[u8], what: &str) -> Result<u32> {
    // One pass: the digits are checked as they are summed.
    let value = (!field.is_empty() && field.len() <= 10)
        .then(|| field.iter().try_fold(0u64, |acc, &d| d.is_ascii_digit().then(|| acc * 10 + (d - b'0') as u64)))
        .flatten();
    let Some(v) = value else {
        return Err(Error::malformed(format!("{what} {:?} is not an unsigned decimal number", String::from_utf8_lossy(field))));
    };
    u32::try_from(v).map_err(|_| Error::malformed(format!("{what} {v} does not fit in 32 bits")))
}

fn line_context(lineno: usize, line: &[u8]) -> String {
    const SHOW: usize = 160;
    let shown = String::from_utf8_lossy(&line[..line.len().min(SHOW)]);
    let more = if line.len() > SHOW { format!("... ({} bytes)", line.len()) } else { String::new() };
    format!("line {lineno} {shown:?}{more}")
}

/// A line's space-separated fields, as `split(' ')` gives them.
struct Fields<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        match memchr::memchr(b' ', rest) {
            Some(at) => {
                self.rest = Some(&rest[at + 1..]);
                Some(&rest[..at])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// Parses one line (without its newline).
pub fn parse_line(line: &[u8], lineno: usize, rules: &ParseRules) -> Result<MountRecord> {
    let mut slab = Slab::default();
    let mut record = [parse_line_with(line, lineno, rules, slab.bytes(), &mut Memo::default())?];
    slab.freeze(&mut record);
    let [record] = record;
    Ok(record)
}

/// [`parse_line`], the text written into `slab`.
fn parse_line_with(line: &[u8], lineno: usize, rules: &ParseRules, slab: &mut Vec<u8>, memo: &mut Memo) -> Result<MountRecord> {
    parse_fields(line, lineno, rules, slab, memo).map_err(|e| Error::malformed(format!("{}: {}", line_context(lineno, line), e.message())))
}

/// What the line before made of its option and type fields: neighbours
/// mostly repeat them (binds of one filesystem), and a repeat costs a
/// comparison instead of a parse.
#[derive(Default)]
struct Memo {
    mount_options: Option<(Vec<u8>, u32)>,
    fsname: Option<(Vec<u8>, FsType)>,
    /// Super options, sb_flags, CRIU's options.
    super_options: Option<(Vec<u8>, u32, Vec<u8>)>,
}

fn remember(slot: &mut Vec<u8>, bytes: &[u8]) {
    slot.clear();
    slot.extend_from_slice(bytes);
}

/// What the line before derived from the same field bytes, or `derive`'s
/// value, remembered for the next line (in the buffer the old bytes
/// were in).
fn recall<T: Copy>(slot: &mut Option<(Vec<u8>, T)>, raw: &[u8], derive: impl FnOnce() -> Result<T>) -> Result<T> {
    if let Some((seen, value)) = slot {
        if seen.as_slice() == raw {
            return Ok(*value);
        }
    }
    let value = derive()?;
    let mut seen = slot.take().map(|(seen, _)| seen).unwrap_or_default();
    remember(&mut seen, raw);
    *slot = Some((seen, value));
    Ok(value)
}

fn parse_fields(line: &[u8], lineno: usize, rules: &ParseRules, slab: &mut Vec<u8>, memo: &mut Memo) -> Result<MountRecord> {
    let mut fields = Fields { rest: Some(line) };
    let mut next = |what: &str| -> Result<&[u8]> {
        fields.next().ok_or_else(|| Error::malformed(format!("truncated: no {what}")))
    };
    let mnt_id = number(next("mount id")?, "mount id")?;
    let parent_mnt_id = number(next("parent id")?, "parent id")?;
    let dev = next("major:minor")?;
    let colon = memchr::memchr(b':', dev)
        .ok_or_else(|| Error::malformed(format!("major:minor {:?} has no ':'", String::from_utf8_lossy(dev))))?;
    let major = number(&dev[..colon], "major")?;
    let minor = number(&dev[colon + 1..], "minor")?;
    if major >= 1 << 12 || minor >= 1 << 20 {
        return Err(Error::malformed(format!("device {major}:{minor} does not fit the kernel's 12:20-bit encoding")));
    }
    let root_field = next("root")?;
    let mountpoint_field = next("mount point")?;
    let mount_options = next("mount options")?;
    if root_field.is_empty() || mountpoint_field.is_empty() || mount_options.is_empty() {
        return Err(Error::malformed("empty root, mount point or options field"));
    }
    let mut flags = recall(&mut memo.mount_options, mount_options, || flags::mount_flags(mount_options))?;
    let (mut shared_id, mut master_id, mut propagate_from) = (0, 0, 0);
    loop {
        let tag = fields.next().ok_or_else(|| Error::malformed("no \" - \" separator before the filesystem type"))?;
        if tag == b"-" {
            break;
        } else if let Some(n) = tag.strip_prefix(b"shared:") {
            flags |= MS_SHARED;
            shared_id = number(n, "shared peer group")?;
        } else if let Some(n) = tag.strip_prefix(b"master:") {
            flags |= MS_SLAVE;
            master_id = number(n, "master peer group")?;
        } else if let Some(n) = tag.strip_prefix(b"propagate_from:") {
            propagate_from = number(n, "propagate_from peer group")?;
        } else if tag == b"unbindable" {
            flags |= MS_UNBINDABLE;
        } else {
            return Err(Error::malformed(format!("unknown optional field {:?}", String::from_utf8_lossy(tag))));
        }
    }
    let fsname = fields.next().filter(|f| !f.is_empty()).ok_or_else(|| Error::malformed("truncated: no filesystem type"))?;
    let source = fields.next().ok_or_else(|| Error::malformed("truncated: no mount source"))?;
    let super_options = fields.next().ok_or_else(|| Error::malformed("truncated: no super options"))?;
    if super_options.is_empty() {
        return Err(Error::malformed("empty super options"));
    }
    if let Some(extra) = fields.next() {
        return Err(Error::malformed(format!("unexpected field {:?} after the super options", String::from_utf8_lossy(extra))));
    }
    let mut text = TextBuilder::new(slab);
    let start = text.start();
    let mut escaped = unescape_into(root_field, text.current());
    let deleted = strip_deleted_from(text.current(), start);
    text.end();
    escaped |= unescape_into(mountpoint_field, text.current());
    text.end();
    text.push(mount_options);
    text.push(fsname);
    escaped |= unescape_into(source, text.current());
    text.end();
    text.push(super_options);
    let sb_flags = match &mut memo.super_options {
        Some((raw, sb_flags, options)) if raw.as_slice() == super_options => {
            text.current().extend_from_slice(options);
            *sb_flags
        }
        slot => {
            let at = text.current().len();
            let sb_flags = flags::super_options_into(super_options, rules.ids.as_ref(), text.current());
            let (mut raw, _, mut options) = slot.take().unwrap_or_default();
            remember(&mut raw, super_options);
            remember(&mut options, &text.current()[at..]);
            *slot = Some((raw, sb_flags, options));
            sb_flags
        }
    };
    let fstype = recall(&mut memo.fsname, fsname, || Ok(FsType::from_kernel_name(fsname, &rules.auto_fs)))?;
    text.end();
    let text = text.finish();
    Ok(MountRecord {
        line: lineno,
        mnt_id,
        parent_mnt_id,
        major,
        minor,
        root_dev: (major << 20) | minor,
        deleted,
        flags,
        shared_id,
        master_id,
        propagate_from,
        fstype,
        sb_flags,
        ext_key: None,
        internal_sharing: false,
        with_plugin: false,
        cgroup_root: None,
        criu_spelling: if escaped { CriuSpelling::of(root_field, mountpoint_field, source) } else { None },
        text,
    })
}

/// Parses a whole mountinfo file. Every line must end with a newline: a
/// missing one means the read was cut short.
pub fn parse(bytes: &[u8], rules: &ParseRules) -> Result<Vec<MountRecord>> {
    let mut parser = Parser::new(rules, bytes.len() / 100 + 1);
    parser.feed(bytes)?;
    parser.finish()
}

/// mountinfo parsed as it is read, in chunks of any size: a line may
/// span chunks (its start is kept until its newline arrives), and a line
/// of any length is parsed once whole.
pub struct Parser<'r> {
    rules: &'r ParseRules,
    partial: Vec<u8>,
    slab: Slab,
    memo: Memo,
    /// Slaves seen per master peer group, and the most of one group.
    masters: foldhash::HashMap<u32, u32>,
    most_slaves: u32,
    lineno: usize,
    records: Vec<MountRecord>,
}

impl<'r> Parser<'r> {
    pub fn new(rules: &'r ParseRules, capacity: usize) -> Parser<'r> {
        Parser { rules, partial: Vec::new(), slab: Slab::default(), memo: Memo::default(), masters: Default::default(), most_slaves: 0, lineno: 0, records: Vec::with_capacity(capacity) }
    }

    /// The largest number of slaves of one master peer group so far.
    pub fn most_slaves_of_one_master(&self) -> u32 {
        self.most_slaves
    }

    /// The records of the lines parsed so far (their text is attached
    /// only by [`Parser::finish`]).
    pub fn parsed(&self) -> &[MountRecord] {
        &self.records
    }

    /// Parses every line `chunk` completes.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        let mut rest = chunk;
        if !self.partial.is_empty() {
            let Some(end) = memchr::memchr(b'\n', rest) else {
                self.partial.extend_from_slice(rest);
                return Ok(());
            };
            self.partial.extend_from_slice(&rest[..end]);
            let line = std::mem::take(&mut self.partial);
            self.line(&line)?;
            rest = &rest[end + 1..];
        }
        while let Some(end) = memchr::memchr(b'\n', rest) {
            self.line(&rest[..end])?;
            rest = &rest[end + 1..];
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    fn line(&mut self, line: &[u8]) -> Result<()> {
        self.lineno += 1;
        let record = parse_line_with(line, self.lineno, self.rules, self.slab.bytes(), &mut self.memo)?;
        if record.master_id != 0 {
            let n = self.masters.entry(record.master_id).or_insert(0);
            *n += 1;
            self.most_slaves = self.most_slaves.max(*n);
        }
        self.records.push(record);
        if self.slab.full() {
            self.slab.freeze(&mut self.records);
        }
        Ok(())
    }

    /// The records, once the file has ended: a last line without its
    /// newline means the read was cut short.
    pub fn finish(mut self) -> Result<Vec<MountRecord>> {
        if !self.partial.is_empty() {
            return Err(Error::malformed(format!(
                "{}: not terminated by a newline (truncated read?)",
                line_context(self.lineno + 1, &self.partial)
            )));
        }
        self.slab.freeze(&mut self.records);
        Ok(self.records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> ParseRules {
        ParseRules::default()
    }

    #[test]
    fn field_split_agrees_with_the_slow_one() {
        let mut state: u64 = 7;
        for len in 0..40 {
            for _ in 0..50 {
                let hay: Vec<u8> = (0..len)
                    .map(|_| {
                        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        [b' ', b'a', b'\\', 0x80, 0xa0, 0x1f, 0x21][(state >> 33) as usize % 7]
                    })
                    .collect();
                let fields: Vec<&[u8]> = Fields { rest: Some(&hay) }.collect();
                assert_eq!(fields, hay.split(|&b| b == b' ').collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn parses_every_field_of_the_proc5_example() {
        // proc(5)'s example line, with a propagate_from added.
        let r = parse_line(
            b"36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 propagate_from:7 - ext3 /dev/root rw,errors=continue",
            1,
            &rules(),
        )
        .unwrap();
        assert_eq!((r.mnt_id, r.parent_mnt_id, r.major, r.minor), (36, 35, 98, 0));
        assert_eq!(r.root_dev, 98 << 20);
        assert_eq!((r.root(), r.mountpoint()), (&b"/mnt1"[..], &b"/mnt2"[..]));
        assert_eq!(r.flags, flags::MS_NOATIME | MS_SLAVE);
        assert_eq!((r.shared_id, r.master_id, r.propagate_from), (0, 1, 7));
        assert_eq!((r.fstype, r.fsname(), r.source()), (FsType::Unsupported, &b"ext3"[..], &b"/dev/root"[..]));
        assert_eq!((r.sb_flags, r.options()), (0, &b"errors=continue"[..]));
    }

    #[test]
    fn optional_fields_in_any_number_and_order() {
        let r = parse_line(b"5 1 0:5 / /a rw unbindable master:3 shared:9 - tmpfs x rw", 1, &rules()).unwrap();
        assert_eq!(r.flags, MS_UNBINDABLE | MS_SLAVE | MS_SHARED | flags::MS_STRICTATIME);
        assert_eq!((r.shared_id, r.master_id), (9, 3));
        let r = parse_line(b"5 1 0:5 / /a rw,relatime - tmpfs x rw", 1, &rules()).unwrap();
        assert_eq!((r.flags, r.shared_id, r.master_id), (flags::MS_RELATIME, 0, 0));
    }

    #[test]
    fn escapes_are_decoded_in_root_mountpoint_and_source_only() {
        // Space, tab, newline, backslash as the kernel mangles them.
        let line = br"7 1 0:9 /a\040b /m\011t\012n\134x rw,relatime - fuse.sshfs us\040er@h:/ rw,user_id=0";
        let r = parse_line(line, 3, &rules()).unwrap();
        assert_eq!(r.root(), b"/a b");
        assert_eq!(r.mountpoint(), b"/m\tt\nn\\x");
        assert_eq!(r.source(), b"us er@h:/");
        assert_eq!((r.fstype, r.fsname()), (FsType::Fuse, &b"fuse.sshfs"[..]));
        // Not an escape: kept byte for byte; non-UTF-8 bytes survive.
        assert_eq!(unescape(br"\9\12\1234\"), b"\\9\\12S4\\".to_vec());
        assert_eq!(unescape(b"\xff\xfe"), b"\xff\xfe".to_vec());
        assert_eq!(unescape(br"\400"), br"\400".to_vec());
    }

    /// CRIU 4.2's `cure_path` decodes only \040, \011 and \134: a newline
    /// (\012) and, in a source, a '#' (\043) stay escaped in its images.
    /// The record holds the decoded path, the image CRIU's bytes.
    #[test]
    fn criu_spelling_keeps_newlines_and_hashes_escaped() {
        // Linux 6.18 escapes space, tab, newline and backslash in all three
        // fields and '#' in the source: a bind of /d<newline>x, deleted, at
        // /tmp/b\s n<newline>l, of a tmpfs named "s#r c<newline>x\y".
        let line = br"117 95 0:46 /d\012x//deleted /tmp/b\134s\040n\012l rw,relatime - tmpfs s\043r\040c\012x\134y rw";
        let r = parse_line(line, 1, &rules()).unwrap();
        assert_eq!((r.root(), r.deleted), (&b"/d\nx"[..], true));
        assert_eq!(r.mountpoint(), b"/tmp/b\\s n\nl");
        assert_eq!(r.source(), b"s#r c\nx\\y");
        assert_eq!(r.image_root(), br"/d\012x");
        assert_eq!(r.image_mountpoint(), br"/tmp/b\s n\012l");
        assert_eq!(r.image_source(), br"s\043r c\012x\y");
        // Only the three escapes CRIU knows: the image spelling is the record's.
        let r = parse_line(br"7 1 0:9 /a\040b /m\011t\134x rw - tmpfs us\040er rw", 1, &rules()).unwrap();
        assert!(r.criu_spelling.is_none());
        assert_eq!((r.image_root(), r.image_mountpoint(), r.image_source()), (&b"/a b"[..], &b"/m\tt\\x"[..], &b"us er"[..]));
        // CRIU's decoder, byte for byte: "\134012" is a backslash then "012".
        assert_eq!(&*criu_cure(br"\134012\012\0401\400\13"), br"\012\012 1\400\13");
        assert!(!criu_spells_differently(br"\134012\400\13"));
        assert!(criu_spells_differently(br"\001"));
        // A source replaced later (a dev[] external) drops CRIU's old spelling.
        let mut r = parse_line(br"8 1 0:9 / /x rw - xfs s\043 rw", 1, &rules()).unwrap();
        r.set_source(b"dev[v]");
        assert_eq!(r.image_source(), b"dev[v]");
    }

    #[test]
    fn paths_compare_as_criu_compares_them() {
        assert_eq!(same_path_form(b"/a//b/./c/"), b"/a/b/c");
        assert_eq!(same_path_form(b"//"), b"/");
        assert_eq!(same_path_form(b"/./"), b"/");
        assert_eq!(same_path_form(b"/a/../b"), b"/a/../b", "no .. resolution, as CRIU");
        assert_eq!(same_path_form(b"/sp ace/\n"), b"/sp ace/\n");
    }

    #[test]
    fn deleted_root_is_flagged_and_stripped() {
        let r = parse_line(b"8 1 0:9 /gone//deleted /d rw,relatime - tmpfs t rw", 1, &rules()).unwrap();
        assert!(r.deleted);
        assert_eq!(r.root(), b"/gone");
        // d_path's marker is never mountinfo's: a live directory of that name.
        let r = parse_line(br"8 1 0:9 /x\040(deleted) /d rw,relatime - tmpfs t rw", 1, &rules()).unwrap();
        assert!(!r.deleted);
        assert_eq!(r.root(), b"/x (deleted)");
        assert_eq!(r.image_root(), b"/x (deleted)");
        let r = parse_line(b"8 1 0:9 //deleted /d rw,relatime - tmpfs t rw", 1, &rules()).unwrap();
        assert!(!r.deleted, "the marker alone is not stripped (CRIU needs len > marker)");
    }

    #[test]
    fn empty_source_is_kept_empty() {
        let r = parse_line(b"9 1 0:9 / /e rw,relatime - tmpfs  rw,size=4k", 1, &rules()).unwrap();
        assert_eq!(r.source(), b"");
        assert_eq!(r.options(), b"size=4k");
    }

    #[test]
    fn malformed_lines_name_the_line_and_the_reason() {
        let cases: [(&[u8], &str); 14] = [
            (b"", "mount id \"\""),
            (b"1 2", "no major:minor"),
            (b"x 1 0:1 / / rw - tmpfs t rw", "mount id \"x\""),
            (b"1 -2 0:1 / / rw - tmpfs t rw", "parent id \"-2\""),
            (b"1 2 01 / / rw - tmpfs t rw", "has no ':'"),
            (b"1 2 0:x / / rw - tmpfs t rw", "minor \"x\""),
            (b"1 2 0:1 / / rw tmpfs t rw", "unknown optional field"),
            (b"1 2 0:1 / / rw shared:1", "separator"),
            (b"1 2 0:1 / / rw shared:z - tmpfs t rw", "shared peer group"),
            (b"1 2 0:1 / / rw - tmpfs t", "no super options"),
            (b"1 2 0:1 / / rw - tmpfs", "no mount source"),
            (b"1 2 0:1 / / rw,bogus - tmpfs t rw", "bogus"),
            (b"9999999999 2 0:1 / / rw - tmpfs t rw", "32 bits"),
            (b"1 2 0:1 / / rw - tmpfs t rw extra", "unexpected field"),
        ];
        for (line, want) in cases {
            let e = parse_line(line, 42, &rules()).unwrap_err();
            assert_eq!(e.errno(), libc::EBADMSG);
            assert!(e.message().starts_with("line 42 "), "{e}");
            assert!(e.message().contains(want), "{:?}: {e}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn lines_of_any_length_are_read_and_unterminated_ones_refused() {
        // The kernel bounds no mountinfo line by PATH_MAX: a mount point
        // 262 levels of 255 escaped bytes deep is a 267 KB line.
        let level = format!("/{}", r"\040".repeat(255));
        let mut long = format!("1 2 0:1 / {} rw - tmpfs t rw", level.repeat(262)).into_bytes();
        assert!(long.len() > 267_000);
        let r = parse_line(&long, 1, &rules()).unwrap();
        assert_eq!(r.mountpoint().len(), 262 * 256);
        assert!(r.mountpoint().split(|&b| b == b'/').skip(1).all(|p| p == [b' '; 255]));
        long.truncate(long.len() - 3);
        let e = parse_line(&long, 7, &rules()).unwrap_err();
        assert!(e.message().starts_with("line 7 ") && e.message().contains("no super options"), "{}", &e.message()[..200]);
        assert!(e.message().len() < 600, "the line is not copied whole into the error");
        let text = b"1 0 0:1 / / rw - tmpfs t rw\n2 1 0:2 / /a rw - tmpfs t r";
        let e = parse(text, &rules()).unwrap_err();
        assert!(e.message().contains("line 2 ") && e.message().contains("newline"), "{e}");
    }

    #[test]
    fn chunked_feeding_parses_as_one_read() {
        let text: &[u8] = b"1 0 0:1 / / rw - tmpfs t rw\n2 1 0:2 /a\\040b /m rw,relatime shared:3 - tmpfs x rw,size=4k\n3 1 0:3 / /n ro - proc proc rw\n";
        let rules = rules();
        let whole = parse(text, &rules).unwrap();
        assert_eq!(whole.len(), 3);
        for size in 1..=text.len() {
            let mut p = Parser::new(&rules, 0);
            for chunk in text.chunks(size) {
                p.feed(chunk).unwrap();
            }
            assert_eq!(p.finish().unwrap(), whole, "chunks of {size}");
        }
        let mut p = Parser::new(&rules, 0);
        p.feed(&text[..text.len() - 1]).unwrap();
        let e = p.finish().unwrap_err();
        assert!(e.message().starts_with("line 3 ") && e.message().contains("newline"), "{e}");
        let mut p = Parser::new(&rules, 0);
        let e = p.feed(b"1 0 0:1 / / rw - tmpfs t rw\n2 x").and_then(|_| p.feed(b" 0:1 / / rw - tmpfs t rw\n")).unwrap_err();
        assert!(e.message().starts_with("line 2 ") && e.message().contains("parent id"), "{e}");
    }

    /// Deterministic mutation fuzzing: flip, insert, delete and duplicate
    /// bytes of valid lines; the parser must return (never panic), and
    /// whatever it accepts must re-parse to the same record.
    #[test]
    fn mutated_lines_never_panic() {
        let seeds: [&[u8]; 4] = [
            b"36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue",
            br"7 1 0:9 /a\040b /m\011t rw,relatime shared:4 unbindable - fuse.sshfs u rw,uid=0",
            b"8 1 0:9 /gone//deleted /d ro,nosuid - tmpfs  rw,size=4k",
            b"1 0 254:0 / / rw,relatime propagate_from:2 - ext4 /dev/vda rw,discard",
        ];
        let alphabet = b" -:/\\0123456789abcdefrwshared:master:\n\x00\xff";
        let mut state: u64 = 0x9e3779b97f4a7c15;
        let mut rand = move |n: usize| -> usize {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut accepted = 0;
        for round in 0..20_000 {
            let mut line = seeds[round % seeds.len()].to_vec();
            for _ in 0..1 + rand(4) {
                let at = rand(line.len() + 1);
                match rand(4) {
                    0 if at < line.len() => line[at] = alphabet[rand(alphabet.len())],
                    1 => line.insert(at, alphabet[rand(alphabet.len())]),
                    2 if at < line.len() => {
                        line.remove(at);
                    }
                    _ => {
                        let end = (at + rand(8)).min(line.len());
                        let chunk = line[at..end].to_vec();
                        line.splice(at..at, chunk);
                    }
                }
            }
            let mut file = line.clone();
            file.push(b'\n');
            match parse(&file, &rules()) {
                Ok(recs) => {
                    accepted += 1;
                    assert!(!recs.is_empty());
                    assert_eq!(parse(&file, &rules()).unwrap(), recs);
                }
                Err(e) => assert!(e.message().starts_with("line "), "{e}"),
            }
        }
        assert!(accepted > 100, "mutations should not all be fatal ({accepted})");
    }
}
