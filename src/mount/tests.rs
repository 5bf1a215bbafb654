//! Tests of the mount room on captured bytes: CRIU 4.2's own image for a
//! known mountinfo, sharing and validation rules, malformed input.

use super::*;
use crate::image::pb::MntEntry;

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/criu-4.2/userns-mounts").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// The fixture's machine had a second devpts (0:26) mounted over
/// /dev/pts, so CRIU took the namespace's 0:24 for a new instance.
fn fixture_config() -> MountConfig {
    MountConfig { own_devpts_dev: Some(26), ..Default::default() }
}

#[test]
fn criu_fixture_entries_are_reproduced_field_by_field_and_in_order() {
    let config = fixture_config();
    let mut nss = vec![namespace_from_mountinfo(11, &fixture("mountinfo.txt"), &config, true).unwrap()];
    resolve_and_validate(&mut nss, &config, 0, &Logger::default()).unwrap();
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
    let mut nss = vec![namespace_from_mountinfo(11, &fixture("mountinfo.txt"), &config, true).unwrap()];
    let sharing = resolve_and_validate(&mut nss, &config, 0, &Logger::default()).unwrap();
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
    let ns = namespace_from_mountinfo(11, &fixture("mountinfo.txt"), &config, true).unwrap();
    assert_eq!(ns.len(), 25);
    assert!(ns.by_mnt_id(45).is_none());
    assert_eq!(namespace_from_mountinfo(11, &fixture("mountinfo.txt"), &config, false).unwrap().len(), 26);
    config.skip_mounts.insert(b"/sys/fs/cgroup".to_vec());
    let e = namespace_from_mountinfo(11, &fixture("mountinfo.txt"), &config, true).unwrap_err();
    assert!(e.message().contains("has no parent: mount 66"), "{e}");
}

fn ns_of(ns_id: u32, text: &str) -> MountNamespace {
    namespace_from_mountinfo(ns_id, text.as_bytes(), &MountConfig::default(), true).unwrap()
}

const BASE: &str = "1 0 254:0 / / rw,relatime - ext4 /dev/vda rw\n2 1 0:40 / /t rw,relatime - tmpfs t rw\n";

#[test]
fn unsupported_filesystem_roots_and_rootless_binds_are_refused_unless_external() {
    let log = Logger::default();
    let text = format!("{BASE}3 2 254:1 / /t/x rw,relatime - xfs /dev/vdb rw\n");
    let mut nss = vec![ns_of(5, &text)];
    let e = resolve_and_validate(&mut nss, &MountConfig::default(), 0, &log).unwrap_err();
    assert_eq!(e.errno(), libc::EOPNOTSUPP);
    assert!(e.message().contains("mount 3 at \"/t/x\" in mount namespace 5") && e.message().contains("\"xfs\""), "{e}");
    let mut config = MountConfig::default();
    config.add_external(b"mnt[/t/x]:data").unwrap();
    let mut nss = vec![ns_of(5, &text)];
    resolve_and_validate(&mut nss, &config, 0, &log).unwrap();
    assert_eq!(nss[0].by_mnt_id(3).unwrap().ext_key.as_deref(), Some(&b"data"[..]));
    assert_eq!(image::entry(nss[0].by_mnt_id(3).unwrap()).ext_key, Some(b"data".to_vec()));
    // dev[] externals make an unsupported filesystem an "auto" mount.
    let mut config = MountConfig::default();
    config.add_external(b"dev[254/1]:vol").unwrap();
    let mut nss = vec![ns_of(5, &text)];
    resolve_and_validate(&mut nss, &config, 0, &log).unwrap();
    let m = nss[0].by_mnt_id(3).unwrap();
    assert_eq!((m.fstype, m.source.as_slice()), (FsType::Auto, &b"dev[vol]"[..]));
    assert_eq!(image::entry(m).fsname, Some(b"xfs".to_vec()));
    // A bind of a subdirectory whose filesystem root is mounted nowhere.
    let text = format!("{BASE}3 2 0:41 /sub /t/b rw,relatime - tmpfs u rw\n");
    let mut nss = vec![ns_of(5, &text)];
    let e = resolve_and_validate(&mut nss, &MountConfig::default(), 0, &log).unwrap_err();
    assert!(e.message().contains("mount 3 at \"/t/b\"") && e.message().contains("proper root mount"), "{e}");
    // ... accepted once its filesystem root is mounted too.
    let text = format!("{BASE}3 2 0:41 /sub /t/b rw,relatime - tmpfs u rw\n4 2 0:41 / /t/c rw,relatime - tmpfs u rw\n");
    resolve_and_validate(&mut [ns_of(5, &text)], &MountConfig::default(), 0, &log).unwrap();
    // ... or when a wider bind of it is external.
    let text = format!("{BASE}3 2 0:41 /sub/deeper /t/b rw,relatime - tmpfs u rw\n4 2 0:41 /sub /t/c rw,relatime - tmpfs u rw\n");
    let mut config = MountConfig::default();
    config.add_external_mount(b"/t/c", b"k").unwrap();
    resolve_and_validate(&mut [ns_of(5, &text)], &config, 0, &log).unwrap();
}

#[test]
fn masters_must_be_reachable_across_namespaces() {
    let log = Logger::default();
    let slave = format!("{BASE}3 2 0:41 / /t/s rw,relatime master:7 - tmpfs u rw\n");
    let mut nss = vec![ns_of(5, &slave)];
    let e = resolve_and_validate(&mut nss, &MountConfig::default(), 0, &log).unwrap_err();
    assert_eq!(e.errno(), libc::EXDEV);
    assert!(e.message().contains("mount 3 at \"/t/s\" in mount namespace 5 (master_id 7") && e.message().contains("unreachable"), "{e}");
    // The master peer group sits in another collected namespace.
    let peer = format!("{BASE}9 2 0:41 / /t/p rw,relatime shared:7 - tmpfs u rw\n");
    let mut nss = vec![ns_of(5, &slave), ns_of(6, &peer)];
    resolve_and_validate(&mut nss, &MountConfig::default(), 0, &log).unwrap();
    let m = nss[0].master_of(nss[0].index_of(3).unwrap()).unwrap();
    assert_eq!((m.ns, nss[m.ns].mounts()[m.index].mnt_id), (1, 9));
    // The root mount's own master: ignored, written as -1 like CRIU.
    let text = "1 0 254:0 / / rw,relatime master:4 - ext4 /dev/vda rw\n2 1 0:40 / /t rw,relatime master:4 - tmpfs t rw\n";
    let mut nss = vec![ns_of(5, text)];
    resolve_and_validate(&mut nss, &MountConfig::default(), 4, &log).unwrap();
    assert_eq!(nss[0].by_mnt_id(2).unwrap().master_id, u32::MAX);
    assert_eq!(nss[0].by_mnt_id(2).unwrap().kernel_master_id, 4);
    assert_eq!(image::entry(nss[0].by_mnt_id(2).unwrap()).master_id, Some(u32::MAX));
}

#[test]
fn two_children_on_one_mount_point_are_refused() {
    let text = format!("{BASE}3 2 0:41 / /t/a rw,relatime - tmpfs u rw\n4 2 0:42 / /t/a rw,relatime - tmpfs v rw\n");
    let e = resolve_and_validate(&mut [ns_of(5, &text)], &MountConfig::default(), 0, &Logger::default()).unwrap_err();
    assert!(e.message().contains("mount 2 at \"/t\"") && e.message().contains("mounts 3 and 4"), "{e}");
    // An overmount (the second mount's parent is the first) is fine.
    let text = format!("{BASE}3 2 0:41 / /t/a rw,relatime - tmpfs u rw\n4 3 0:42 / /t/a rw,relatime - tmpfs v rw\n");
    resolve_and_validate(&mut [ns_of(5, &text)], &MountConfig::default(), 0, &Logger::default()).unwrap();
}

#[test]
fn per_type_rules() {
    let text = format!(
        "{BASE}3 2 0:7 / /t/d rw,relatime - debugfs debugfs rw\n4 3 0:8 / /t/d/tracing rw,relatime - tracefs tracefs rw\n5 2 0:24 / /t/pts rw,relatime - devpts devpts rw,mode=600\n"
    );
    let config = MountConfig { own_devpts_dev: Some(24), ..Default::default() };
    let ns = namespace_from_mountinfo(5, text.as_bytes(), &config, false).unwrap();
    assert_eq!(ns.by_mnt_id(3).unwrap().flags, flags::MS_RELATIME | flags::MS_REC);
    assert!(ns.by_mnt_id(4).is_none(), "tracefs is left out");
    assert_eq!(ns.by_mnt_id(5).unwrap().options, b"mode=600", "our own devpts instance");
    let config = MountConfig { own_devpts_dev: Some(99), ..Default::default() };
    let ns = namespace_from_mountinfo(5, text.as_bytes(), &config, false).unwrap();
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
    let ns = namespace_from_mountinfo(11, &fixture("mountinfo.txt"), &config, true).unwrap();
    let bytes = image::encode_namespace(&ns);
    let back = image::decode(&bytes, "m.img").unwrap();
    let recs: Vec<MountRecord> = back.iter().map(image::record_from_entry).collect();
    for (r, m) in recs.iter().zip(ns.image_order()) {
        assert_eq!((r.mnt_id, &r.root, &r.mountpoint, r.flags, r.root_dev, r.major, r.minor), (m.mnt_id, &m.root, &m.mountpoint, m.flags, m.root_dev, m.major, m.minor));
    }
    assert!(image::decode(&bytes[..bytes.len() - 3], "m.img").is_err());
}
