//! Tests of the mount room on captured bytes: CRIU 4.2's own image for a
//! known mountinfo, sharing and validation rules, malformed input.

use super::*;
use crate::image::pb::MntEntry;
use crate::testing::{fixture, NsShell};

/// A namespace from fixture text through the production step
/// (`build_namespace`), with a live collection's rules: no user or
/// cgroup namespace translation, devpts as `config` says.
fn fixture_ns(ns_id: u32, text: &[u8], config: &MountConfig, for_dump: bool) -> Result<MountNamespace> {
    let rules = CollectRules {
        parse: ParseRules { ids: None, auto_fs: config.auto_fs.clone() },
        config,
        devpts_dev: config.own_devpts_dev,
        cgroup_ns: false,
        for_dump,
    };
    let ns = crate::ns::NsEntry { id: ns_id, kind: NsKind::Mnt, kid: 0, pid: 0, ns_type: NsType::Root };
    build_namespace(&ns, text, &rules, &Logger::default())
}

/// The production resolve step, validating as a dump of another
/// namespace does.
fn resolve_validated(namespaces: &mut [MountNamespace], config: &MountConfig, root_master_id: u32, log: &Logger) -> Result<Sharing> {
    resolve(namespaces, config, root_master_id, true, log)
}

/// The fixture's machine had a second devpts (0:26) mounted over
/// /dev/pts, so CRIU took the namespace's 0:24 for a new instance.
fn fixture_config() -> MountConfig {
    MountConfig { own_devpts_dev: Some(26), ..Default::default() }
}

#[test]
fn criu_fixture_entries_are_reproduced_field_by_field_and_in_order() {
    let config = fixture_config();
    let mut nss = vec![fixture_ns(11, &fixture("mountinfo.txt"), &config, true).unwrap()];
    resolve_validated(&mut nss, &config, 0, &Logger::default()).unwrap();
    let ours: Vec<MntEntry> = nss[0].image_order().map(image::entry).collect();
    let criu: Vec<MntEntry> = image::decode(&fixture("mountpoints-11.img"), "mountpoints-11.img").unwrap();
    assert_eq!(ours.len(), 26);
    assert_eq!(ours.len(), criu.len());
    for (i, (a, b)) in ours.iter().zip(&criu).enumerate() {
        assert_eq!(a, b, "entry {i} (mnt_id {})", b.mnt_id);
    }
    // Byte for byte, framing included.
    assert_eq!(image::encode_namespace(&nss[0]), fixture("mountpoints-11.img"));
    // Spot checks of the encodings the fixture README points out.
    let by_id = |id: u32| criu.iter().find(|e| e.mnt_id == id).unwrap();
    assert_eq!((by_id(47).flags, by_id(47).shared_id), (0x300000, Some(1)));
    assert_eq!((by_id(49).flags, by_id(49).master_id), (0x280000, Some(1)));
    assert_eq!(by_id(45).flags, 0x20000a);
    assert_eq!(by_id(43).root_dev, 40);
    assert_eq!(by_id(62).root_dev, 254 << 20);
    assert_eq!(by_id(79).options, b"mode=600,ptmxmode=000,newinstance");
    assert_eq!((by_id(63).sb_flags, by_id(63).flags), (Some(1), 0x200007));
}

#[test]
fn criu_fixture_tree_and_sharing() {
    let config = fixture_config();
    let mut nss = vec![fixture_ns(11, &fixture("mountinfo.txt"), &config, true).unwrap()];
    let sharing = resolve_validated(&mut nss, &config, 0, &Logger::default()).unwrap();
    let ns = &nss[0];
    assert_eq!(ns.root().mnt_id, 62);
    let kids: Vec<u32> = ns.children(ns.root_index()).iter().map(|&i| ns.mounts()[i].mnt_id).collect();
    assert_eq!(kids, vec![63, 64, 65, 77, 43], "children in mount order");
    let i42 = ns.index_of(42).unwrap();
    assert_eq!(ns.mounts()[ns.parent_index(i42).unwrap()].mnt_id, 64, "the overmounted /proc");
    let slave = ns.index_of(49).unwrap();
    let master = ns.master_of(slave).unwrap();
    assert_eq!(ns.mounts()[master.index].mnt_id, 48, "first of peer group 1 in CRIU's (reversed) order");
    assert_eq!(sharing.peer_groups[&1].len(), 2);
    // 44 (root /) and 46 (/sub) share a superblock: one bind group.
    assert_eq!(ns.bind_group[ns.index_of(44).unwrap()], ns.bind_group[ns.index_of(46).unwrap()]);
    assert_ne!(ns.bind_group[ns.index_of(44).unwrap()], ns.bind_group[ns.index_of(45).unwrap()]);
}

#[test]
fn skip_mnt_drops_only_when_dumping_and_children_then_fail_loudly() {
    let mut config = fixture_config();
    config.skip_mounts.insert(b"/tmp/criurs-acc-3jy3p0st/root/tmp_ro".to_vec());
    let ns = fixture_ns(11, &fixture("mountinfo.txt"), &config, true).unwrap();
    assert_eq!(ns.len(), 25);
    assert!(ns.by_mnt_id(45).is_none());
    assert_eq!(fixture_ns(11, &fixture("mountinfo.txt"), &config, false).unwrap().len(), 26);
    config.skip_mounts.insert(b"/sys/fs/cgroup".to_vec());
    let e = fixture_ns(11, &fixture("mountinfo.txt"), &config, true).unwrap_err();
    assert!(e.message().contains("has no parent: mount 66"), "{e}");
}

fn ns_of(ns_id: u32, text: &str) -> MountNamespace {
    fixture_ns(ns_id, text.as_bytes(), &MountConfig::default(), true).unwrap()
}

const BASE: &str = "1 0 254:0 / / rw,relatime - ext4 /dev/vda rw\n2 1 0:40 / /t rw,relatime - tmpfs t rw\n";

#[test]
fn unsupported_filesystem_roots_and_rootless_binds_are_refused_unless_external() {
    let log = Logger::default();
    let text = format!("{BASE}3 2 254:1 / /t/x rw,relatime - xfs /dev/vdb rw\n");
    let mut nss = vec![ns_of(5, &text)];
    let e = resolve_validated(&mut nss, &MountConfig::default(), 0, &log).unwrap_err();
    assert_eq!(e.errno(), libc::EOPNOTSUPP);
    assert!(e.message().contains("mount 3 at \"/t/x\" in mount namespace 5") && e.message().contains("\"xfs\""), "{e}");
    let mut config = MountConfig::default();
    config.add_external(b"mnt[/t/x]:data").unwrap();
    let mut nss = vec![ns_of(5, &text)];
    resolve_validated(&mut nss, &config, 0, &log).unwrap();
    assert_eq!(nss[0].by_mnt_id(3).unwrap().ext_key.as_deref(), Some(&b"data"[..]));
    assert_eq!(image::entry(nss[0].by_mnt_id(3).unwrap()).ext_key, Some(b"data".to_vec()));
    // dev[] externals make an unsupported filesystem an "auto" mount.
    let mut config = MountConfig::default();
    config.add_external(b"dev[254/1]:vol").unwrap();
    let mut nss = vec![ns_of(5, &text)];
    resolve_validated(&mut nss, &config, 0, &log).unwrap();
    let m = nss[0].by_mnt_id(3).unwrap();
    assert_eq!((m.fstype, m.source.as_slice()), (FsType::Auto, &b"dev[vol]"[..]));
    assert_eq!(image::entry(m).fsname, Some(b"xfs".to_vec()));
    // A bind of a subdirectory whose filesystem root is mounted nowhere.
    let text = format!("{BASE}3 2 0:41 /sub /t/b rw,relatime - tmpfs u rw\n");
    let mut nss = vec![ns_of(5, &text)];
    let e = resolve_validated(&mut nss, &MountConfig::default(), 0, &log).unwrap_err();
    assert!(e.message().contains("mount 3 at \"/t/b\"") && e.message().contains("proper root mount"), "{e}");
    // ... accepted once its filesystem root is mounted too.
    let text = format!("{BASE}3 2 0:41 /sub /t/b rw,relatime - tmpfs u rw\n4 2 0:41 / /t/c rw,relatime - tmpfs u rw\n");
    resolve_validated(&mut [ns_of(5, &text)], &MountConfig::default(), 0, &log).unwrap();
    // ... or when a wider bind of it is external.
    let text = format!("{BASE}3 2 0:41 /sub/deeper /t/b rw,relatime - tmpfs u rw\n4 2 0:41 /sub /t/c rw,relatime - tmpfs u rw\n");
    let mut config = MountConfig::default();
    config.add_external_mount(b"/t/c", b"k").unwrap();
    resolve_validated(&mut [ns_of(5, &text)], &config, 0, &log).unwrap();
}

#[test]
fn masters_must_be_reachable_across_namespaces() {
    let log = Logger::default();
    let slave = format!("{BASE}3 2 0:41 / /t/s rw,relatime master:7 - tmpfs u rw\n");
    let mut nss = vec![ns_of(5, &slave)];
    let e = resolve_validated(&mut nss, &MountConfig::default(), 0, &log).unwrap_err();
    assert_eq!(e.errno(), libc::EXDEV);
    assert!(e.message().contains("mount 3 at \"/t/s\" in mount namespace 5 (master_id 7") && e.message().contains("unreachable"), "{e}");
    // The master peer group sits in another collected namespace.
    let peer = format!("{BASE}9 2 0:41 / /t/p rw,relatime shared:7 - tmpfs u rw\n");
    let mut nss = vec![ns_of(5, &slave), ns_of(6, &peer)];
    resolve_validated(&mut nss, &MountConfig::default(), 0, &log).unwrap();
    let m = nss[0].master_of(nss[0].index_of(3).unwrap()).unwrap();
    assert_eq!((m.ns, nss[m.ns].mounts()[m.index].mnt_id), (1, 9));
    // The root mount's own master: ignored, written as -1 like CRIU.
    let text = "1 0 254:0 / / rw,relatime master:4 - ext4 /dev/vda rw\n2 1 0:40 / /t rw,relatime master:4 - tmpfs t rw\n";
    let mut nss = vec![ns_of(5, text)];
    resolve_validated(&mut nss, &MountConfig::default(), 4, &log).unwrap();
    assert_eq!(nss[0].by_mnt_id(2).unwrap().master_id, u32::MAX);
    assert_eq!(nss[0].by_mnt_id(2).unwrap().kernel_master_id, 4);
    assert_eq!(image::entry(nss[0].by_mnt_id(2).unwrap()).master_id, Some(u32::MAX));
}

#[test]
fn two_children_on_one_mount_point_are_refused() {
    let text = format!("{BASE}3 2 0:41 / /t/a rw,relatime - tmpfs u rw\n4 2 0:42 / /t/a rw,relatime - tmpfs v rw\n");
    let e = resolve_validated(&mut [ns_of(5, &text)], &MountConfig::default(), 0, &Logger::default()).unwrap_err();
    assert!(e.message().contains("mount 2 at \"/t\"") && e.message().contains("mounts 3 and 4"), "{e}");
    // An overmount (the second mount's parent is the first) is fine.
    let text = format!("{BASE}3 2 0:41 / /t/a rw,relatime - tmpfs u rw\n4 3 0:42 / /t/a rw,relatime - tmpfs v rw\n");
    resolve_validated(&mut [ns_of(5, &text)], &MountConfig::default(), 0, &Logger::default()).unwrap();
}

#[test]
fn shared_peers_must_have_the_same_visible_children() {
    let validate = |text: String| resolve_validated(&mut [ns_of(5, &text)], &MountConfig::default(), 0, &Logger::default());
    // Peers /t/p1 and /t/p2 (same root), each with the same child: fine.
    let peers = format!(
        "{BASE}3 2 0:43 / /t/p1 rw,relatime shared:7 - tmpfs s rw\n4 2 0:43 / /t/p2 rw,relatime shared:7 - tmpfs s rw\n"
    );
    let children = "5 3 0:44 / /t/p1/x rw,relatime shared:8 - tmpfs c rw\n6 4 0:44 / /t/p2/x rw,relatime shared:8 - tmpfs c rw\n";
    validate(format!("{peers}{children}")).unwrap();
    // The child propagated to one peer only (made before the bind): refused, naming both.
    let e = validate(format!("{peers}5 3 0:44 / /t/p1/x rw,relatime - tmpfs c rw\n")).unwrap_err();
    assert_eq!(e.errno(), libc::EXDEV);
    assert!(e.message().contains("mount 4 at \"/t/p2\"") && e.message().contains("mount 3 at \"/t/p1\""), "{e}");
    assert!(e.message().contains("nothing is mounted at \"/t/p2/x\""), "{e}");
    // Same place, different mount: refused.
    let e = validate(format!("{peers}5 3 0:44 / /t/p1/x rw,relatime - tmpfs c rw\n6 4 0:45 / /t/p2/x rw,relatime - tmpfs d rw\n"))
        .unwrap_err();
    assert!(e.message().contains("not the same mount"), "{e}");
    // A narrower peer (root /sub) sees only the children under /sub of the
    // wider one: a child at /y of the wide peer is invisible to it.
    let narrow = format!(
        "{BASE}3 2 0:43 / /t/wide rw,relatime shared:7 - tmpfs s rw\n4 2 0:43 /sub /t/narrow rw,relatime shared:7 - tmpfs s rw\n\
         5 3 0:44 / /t/wide/y rw,relatime - tmpfs c rw\n6 3 0:46 / /t/wide/sub/z rw,relatime - tmpfs z rw\n"
    );
    let e = validate(narrow.clone()).unwrap_err();
    assert!(e.message().contains("nothing is mounted at \"/t/narrow/z\""), "{e}");
    validate(format!("{narrow}7 4 0:46 / /t/narrow/z rw,relatime - tmpfs z rw\n")).unwrap();
    // An extra child in the narrower peer has no counterpart.
    let e = validate(format!("{narrow}7 4 0:46 / /t/narrow/z rw,relatime - tmpfs z rw\n8 4 0:47 / /t/narrow/q rw,relatime - tmpfs q rw\n"))
        .unwrap_err();
    assert!(e.message().contains("mount 8 at \"/t/narrow/q\" has no counterpart"), "{e}");
}

#[test]
fn per_type_rules() {
    let text = format!(
        "{BASE}3 2 0:7 / /t/d rw,relatime - debugfs debugfs rw\n4 3 0:8 / /t/d/tracing rw,relatime - tracefs tracefs rw\n5 2 0:24 / /t/pts rw,relatime - devpts devpts rw,mode=600\n"
    );
    let config = MountConfig { own_devpts_dev: Some(24), ..Default::default() };
    let ns = fixture_ns(5, text.as_bytes(), &config, false).unwrap();
    assert_eq!(ns.by_mnt_id(3).unwrap().flags, flags::MS_RELATIME | flags::MS_REC);
    assert!(ns.by_mnt_id(4).is_none(), "tracefs is left out");
    assert_eq!(ns.by_mnt_id(5).unwrap().options, b"mode=600", "our own devpts instance");
    let config = MountConfig { own_devpts_dev: Some(99), ..Default::default() };
    let ns = fixture_ns(5, text.as_bytes(), &config, false).unwrap();
    assert_eq!(ns.by_mnt_id(5).unwrap().options, b"mode=600,newinstance");
}

#[test]
fn external_specs_are_parsed_strictly() {
    let mut c = MountConfig::default();
    c.add_external(b"mnt[/a b]:key:with:colons").unwrap();
    assert_eq!(c.external_mounts[&b"/a b".to_vec()], b"key:with:colons");
    c.add_external(b"dev[8/1]:disk").unwrap();
    assert_eq!(c.external_devices[&(8, 1)], b"disk");
    for bad in [&b"mnt[/a]"[..], b"mnt[/a]:", b"net[x]:y", b"dev[8]:x", b"mnt[rel]:k", b"dev[a/b]:x"] {
        assert_eq!(c.add_external(bad).unwrap_err().errno(), libc::EINVAL, "{}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn image_round_trips_and_refuses_damage() {
    let config = fixture_config();
    let ns = fixture_ns(11, &fixture("mountinfo.txt"), &config, true).unwrap();
    let bytes = image::encode_namespace(&ns);
    let back = image::decode(&bytes, "m.img").unwrap();
    let recs: Vec<MountRecord> = back.iter().map(image::record_from_entry).collect();
    for (r, m) in recs.iter().zip(ns.image_order()) {
        assert_eq!((r.mnt_id, &r.root, &r.mountpoint, r.flags, r.root_dev, r.major, r.minor), (m.mnt_id, &m.root, &m.mountpoint, m.flags, m.root_dev, m.major, m.minor));
    }
    assert!(image::decode(&bytes[..bytes.len() - 3], "m.img").is_err());
}

/// The mounts the live test builds under $B (the shell's base).
const LIVE_SCRIPT: &str = r#"
mount -t tmpfs -o size=4m base "$B"
mkdir "$B/t1" "$B/bind1" "$B/bindsub" "$B/shared" "$B/peer" "$B/slave" "$B/unb" "$B/over" "$B/del" "$B/proc"
mkdir "$B/sp ace" "$(printf '%s/t\tab' "$B")" "$B/back\\slash" "$(printf '%s/new\nline' "$B")"
mount -t tmpfs -o size=1m,mode=751 t1src "$B/t1"
mkdir "$B/t1/sub" "$B/t1/gone"
mount --bind "$B/t1" "$B/bind1"
mount --bind "$B/t1/sub" "$B/bindsub"
mount -t tmpfs -o size=1m shr "$B/shared"
mount --make-shared "$B/shared"
mount --bind "$B/shared" "$B/peer"
mount --bind "$B/shared" "$B/slave"
mount --make-slave "$B/slave"
mount -t tmpfs -o size=1m ub "$B/unb"
mount --make-unbindable "$B/unb"
mount -t tmpfs -o size=1m,nosuid,noexec,ro ov1 "$B/over"
mount -t tmpfs -o size=1m ov2 "$B/over"
mount --bind "$B/t1/gone" "$B/del"
rmdir "$B/t1/gone"
mount -t proc proc "$B/proc"
for d in "$B/sp ace" "$(printf '%s/t\tab' "$B")" "$B/back\\slash" "$(printf '%s/new\nline' "$B")"; do mount -t tmpfs -o size=64k odd "$d"; done
"#;

/// Mount points outside `base` other than "/" marked external, as a
/// caller would with --external: the host's mounts copied into the
/// namespace are not what the test is about, and may be of any type.
fn host_mounts_as_external(pid: i32, base: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let text = std::fs::read(format!("/proc/{pid}/mountinfo")).unwrap();
    let recs = mountinfo::parse(&text, &mountinfo::ParseRules::default()).unwrap();
    recs.into_iter()
        .filter(|m| m.mountpoint != b"/" && !m.mountpoint.starts_with(base))
        .map(|m| (m.mountpoint, b"host".to_vec()))
        .collect()
}

fn findmnt_flat(v: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
    for fs in v.as_array().into_iter().flatten() {
        out.push(fs.clone());
        if let Some(c) = fs.get("children") {
            findmnt_flat(c, out);
        }
    }
}

#[test]
fn live_namespace_records_match_findmnt_and_the_image_matches_crit() {
    use crate::Context;
    use std::os::unix::ffi::OsStrExt;
    crate::needs_root!();
    let sh = NsShell::start("live", LIVE_SCRIPT);
    let base = sh.base.as_os_str().as_bytes().to_vec();
    let mut ctx = Context::new(sh.pid()).unwrap();
    ctx.set_external_mounts(host_mounts_as_external(sh.pid(), &base)).unwrap();
    ctx.collect_namespaces(true).unwrap();
    let ns_id = ctx.namespaces().unwrap().root_ns(NsKind::Mnt).unwrap().id;
    let ns = ctx.mount_namespace(ns_id).unwrap();
    assert!(ctx.mount_namespaces().unwrap().validated(), "another namespace, for dump: validated");

    let out = std::process::Command::new("findmnt")
        .args(["-J", "-o", "ID,PARENT,MAJ:MIN,FSROOT,TARGET,SOURCE,FSTYPE,VFS-OPTIONS,FS-OPTIONS,PROPAGATION", "-N"])
        .arg(sh.pid().to_string())
        .output()
        .unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut rows = Vec::new();
    findmnt_flat(&json["filesystems"], &mut rows);
    assert_eq!(rows.len(), ns.len(), "findmnt and we see the same mounts");
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("").as_bytes().to_vec();
    let mut checked_in_base = 0;
    for row in &rows {
        let id = row["id"].as_u64().unwrap() as u32;
        let m = ns.by_mnt_id(id).unwrap_or_else(|| panic!("mount {id} missing"));
        let i = ns.index_of(id).unwrap();
        assert_eq!(row["parent"].as_u64().unwrap() as u32, m.parent_mnt_id, "{id}");
        if let Some(p) = ns.parent_index(i) {
            assert_eq!(ns.mounts()[p].mnt_id, m.parent_mnt_id);
            assert!(ns.children(p).contains(&i));
        }
        assert_eq!(s(&row["maj:min"]), format!("{}:{}", m.major, m.minor).into_bytes(), "{id}");
        assert_eq!(m.root_dev, m.major << 20 | m.minor);
        let mut fsroot = m.root.clone();
        if m.deleted {
            fsroot.extend_from_slice(b"//deleted");
        }
        assert_eq!(s(&row["fsroot"]), fsroot, "{id}");
        assert_eq!(s(&row["target"]), m.mountpoint, "{id}");
        let mut bracketed = m.source.clone();
        bracketed.extend_from_slice(format!("[{}]", String::from_utf8_lossy(&fsroot)).as_bytes());
        let src = s(&row["source"]);
        assert!(src == m.source || src == bracketed || m.source.is_empty(), "{id}: {:?}", String::from_utf8_lossy(&src));
        assert_eq!(s(&row["fstype"]), m.fsname, "{id}");
        assert_eq!(s(&row["vfs-options"]), m.mount_options, "{id}");
        let propagation = flags::MS_SHARED | flags::MS_SLAVE | flags::MS_UNBINDABLE;
        assert_eq!(m.flags & !propagation & !flags::MS_REC, flags::mount_flags(&m.mount_options).unwrap(), "{id}");
        let fs_options = s(&row["fs-options"]);
        assert_eq!(fs_options, m.super_options, "{id}");
        let has = |opts: &[u8], o: &[u8]| opts.split(|&b| b == b',').any(|x| x == o);
        assert_eq!(m.sb_flags & flags::MS_RDONLY != 0, has(&fs_options, b"ro"), "{id}");
        assert!(!has(&m.options, b"rw") && !has(&m.options, b"ro"), "{id}");
        let prop = s(&row["propagation"]);
        assert_eq!(has(&prop, b"shared"), m.flags & flags::MS_SHARED != 0, "{id}");
        assert_eq!(has(&prop, b"shared"), m.shared_id != 0, "{id}");
        assert_eq!(has(&prop, b"slave"), m.flags & flags::MS_SLAVE != 0, "{id}");
        assert_eq!(has(&prop, b"unbindable"), m.flags & flags::MS_UNBINDABLE != 0, "{id}");
        if m.mountpoint.starts_with(&base) {
            checked_in_base += 1;
            assert!(m.ext_key.is_none());
        }
    }
    assert_eq!(checked_in_base, 16);

    // The rules findmnt does not show.
    let at = |rel: &[u8]| {
        let mut p = base.clone();
        p.extend_from_slice(rel);
        ns.mounts().iter().rev().find(|m| m.mountpoint == p).unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(&p)))
    };
    let del = at(b"/del");
    assert!(del.deleted && del.root == b"/gone");
    assert_eq!(at(b"/bindsub").root, b"/sub");
    assert_eq!(at(b"/t1").options, b"size=1024k,mode=751");
    let (shared, peer, slave) = (at(b"/shared"), at(b"/peer"), at(b"/slave"));
    assert!(shared.shared_id != 0 && shared.shared_id == peer.shared_id);
    assert_eq!(slave.master_id, shared.shared_id);
    let slave_i = ns.index_of(slave.mnt_id).unwrap();
    let master = ns.master_of(slave_i).unwrap();
    assert_eq!(ns.mounts()[master.index].shared_id, shared.shared_id);
    let over_top = at(b"/over");
    let over_bottom = ns.by_mnt_id(over_top.parent_mnt_id).unwrap();
    assert_eq!(over_bottom.mountpoint, over_top.mountpoint, "the overmount's parent is the mount it covers");
    assert_eq!(over_bottom.flags & 0xf, flags::MS_RDONLY | flags::MS_NOSUID | flags::MS_NOEXEC);
    assert_eq!(over_bottom.sb_flags, flags::MS_RDONLY);
    assert_eq!(at(b"/proc").fstype, FsType::Proc);
    assert_eq!(at(b"/unb").flags & flags::MS_UNBINDABLE, flags::MS_UNBINDABLE);
    for odd in [&b"/sp ace"[..], b"/t\tab", b"/back\\slash", b"/new\nline"] {
        assert_eq!(at(odd).source, b"odd");
    }

    // The image, decoded by CRIU's crit.
    let dir = crate::testing::temp_dir("mntimg");
    ctx.set_images_dir(&dir).unwrap();
    ctx.dump_mnt_ns(ns_id).unwrap();
    let back = ctx.read_mnt_image(ns_id).unwrap();
    let ns = ctx.mount_namespace(ns_id).unwrap();
    assert_eq!(back, ns.image_order().map(image::entry).collect::<Vec<_>>());
    let file = dir.join(format!("mountpoints-{ns_id}.img"));
    let crit = std::process::Command::new("crit").args(["decode", "-i"]).arg(&file).output().expect("crit is installed");
    assert!(crit.status.success(), "crit: {}", String::from_utf8_lossy(&crit.stderr));
    let img: serde_json::Value = serde_json::from_slice(&crit.stdout).unwrap();
    assert_eq!(img["magic"], "MNTS");
    let entries = img["entries"].as_array().unwrap();
    assert_eq!(entries.len(), ns.len());
    for (e, m) in entries.iter().zip(ns.image_order()) {
        assert_eq!(e["mnt_id"].as_u64().unwrap() as u32, m.mnt_id);
        assert_eq!(e["parent_mnt_id"].as_u64().unwrap() as u32, m.parent_mnt_id);
        assert_eq!(e["fstype"].as_u64().unwrap() as u32, m.fstype.code());
        // Without --pretty crit prints numbers as numbers.
        assert_eq!(e["root_dev"].as_u64().unwrap() as u32, m.root_dev);
        assert_eq!(e["flags"].as_u64().unwrap() as u32, m.flags);
        assert_eq!(e["sb_flags"].as_u64().unwrap() as u32, m.sb_flags);
        assert_eq!(s(&e["root"]), m.root);
        assert_eq!(s(&e["mountpoint"]), m.mountpoint);
        assert_eq!(s(&e["source"]), m.source);
        assert_eq!(s(&e["options"]), m.options);
        assert_eq!(e["shared_id"].as_u64().unwrap() as u32, m.shared_id);
        assert_eq!(e["master_id"].as_u64().unwrap() as u32, m.master_id);
        assert_eq!(e.get("deleted").and_then(|d| d.as_bool()).unwrap_or(false), m.deleted);
        assert_eq!(e.get("ext_key").map(s), m.ext_key.clone());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn own_namespace_is_collected_without_validation() {
    crate::needs_root!();
    let me = std::process::id() as i32;
    let mut ctx = crate::Context::new(me).unwrap();
    ctx.collect_namespaces(true).unwrap();
    let nss = ctx.mount_namespaces().unwrap();
    assert_eq!(nss.namespaces().len(), 1);
    assert!(!nss.validated(), "CRIU validates only namespaces other than its own");
    let own = &nss.namespaces()[0];
    assert_eq!(own.ns_type, NsType::Own);
    assert_eq!(own.root().mountpoint, b"/");
    assert_eq!(ctx.mount_namespace(own.ns_id + 100).unwrap_err().errno(), libc::ENOENT);
    assert_eq!(ctx.dump_mnt_ns(own.ns_id).unwrap_err().errno(), libc::EINVAL, "no images directory");
}
