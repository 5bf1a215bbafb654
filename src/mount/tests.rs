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
/// namespace does. `root_ns_id`: the tree root's mount namespace.
fn resolve_validated(namespaces: &mut [MountNamespace], config: &MountConfig, root_ns_id: Option<u32>, log: &Logger) -> Result<Sharing> {
    resolve(namespaces, config, root_ns_id, true, log).map(|(sharing, _)| sharing)
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
    resolve_validated(&mut nss, &config, Some(11), &Logger::default()).unwrap();
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
    let sharing = resolve_validated(&mut nss, &config, Some(11), &Logger::default()).unwrap();
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

/// Namespace 6, not the root's (CRIU's NS_OTHER).
fn other_ns_of(ns_id: u32, text: &str) -> MountNamespace {
    let mut ns = ns_of(ns_id, text);
    ns.ns_type = NsType::Other;
    ns
}

fn check(nss: &mut [MountNamespace], config: &MountConfig) -> Result<Sharing> {
    resolve_validated(nss, config, Some(nss[0].ns_id), &Logger::default())
}

fn config_with(specs: &[&str]) -> MountConfig {
    let mut config = MountConfig::default();
    for spec in specs {
        config.add_external(spec.as_bytes()).unwrap();
    }
    config
}

#[test]
fn unsupported_filesystem_roots_and_rootless_binds_are_refused_unless_external() {
    let text = format!("{BASE}3 2 254:1 / /t/x rw,relatime - xfs /dev/vdb rw\n");
    let e = check(&mut [ns_of(5, &text)], &MountConfig::default()).unwrap_err();
    assert_eq!(e.errno(), libc::EOPNOTSUPP);
    assert!(e.message().contains("mount 3 at \"/t/x\" in mount namespace 5") && e.message().contains("\"xfs\""), "{e}");
    let mut nss = vec![ns_of(5, &text)];
    check(&mut nss, &config_with(&["mnt[/t/x]:data"])).unwrap();
    assert_eq!(nss[0].by_mnt_id(3).unwrap().ext_key.as_deref(), Some(&b"data"[..]));
    assert_eq!(image::entry(nss[0].by_mnt_id(3).unwrap()).ext_key, Some(b"data".to_vec()));
    // A bind of a subdirectory whose filesystem root is mounted nowhere.
    let text = format!("{BASE}3 2 0:41 /sub /t/b rw,relatime - tmpfs u rw\n");
    let e = check(&mut [ns_of(5, &text)], &MountConfig::default()).unwrap_err();
    assert!(e.message().contains("mount 3 at \"/t/b\"") && e.message().contains("proper root mount"), "{e}");
    // ... accepted once its filesystem root is mounted too.
    let text = format!("{BASE}3 2 0:41 /sub /t/b rw,relatime - tmpfs u rw\n4 2 0:41 / /t/c rw,relatime - tmpfs u rw\n");
    check(&mut [ns_of(5, &text)], &MountConfig::default()).unwrap();
    // ... or when a wider bind of it is external; a narrower one is not enough.
    let text = format!("{BASE}3 2 0:41 /sub/deeper /t/b rw,relatime - tmpfs u rw\n4 2 0:41 /sub /t/c rw,relatime - tmpfs u rw\n");
    check(&mut [ns_of(5, &text)], &config_with(&["mnt[/t/c]:k"])).unwrap();
    let e = check(&mut [ns_of(5, &text)], &config_with(&["mnt[/t/b]:k"])).unwrap_err();
    assert!(e.message().contains("mount 4 at \"/t/c\"") && e.message().contains("proper root mount"), "{e}");
    // ... or it is bound from the root mount (a subdirectory of "/").
    let text = format!("{BASE}3 2 254:0 /srv /t/srv rw,relatime - ext4 /dev/vda rw\n");
    check(&mut [ns_of(5, &text)], &MountConfig::default()).unwrap();
}

/// CRIU 4.2 dropped the old `mnt_is_external`, which took a mount for
/// external when a peer or its master was: only a bind from a wider or
/// equal root counts now.
#[test]
fn only_binds_make_a_mount_external_not_peers_or_masters() {
    // /t/x mounts xfs's root, its peer /t/y only /sub of it.
    let text = format!(
        "{BASE}3 2 254:1 / /t/x rw,relatime shared:7 - xfs /dev/vdb rw\n4 2 254:1 /sub /t/y rw,relatime shared:7 - xfs /dev/vdb rw\n"
    );
    let e = check(&mut [ns_of(5, &text)], &config_with(&["mnt[/t/y]:k"])).unwrap_err();
    assert!(e.message().contains("mount 3 at \"/t/x\"") && e.message().contains("not supported"), "{e}");
    check(&mut [ns_of(5, &text)], &config_with(&["mnt[/t/x]:k"])).unwrap();
    // A slave of an external master on another superblock: not external.
    let text = format!(
        "{BASE}3 2 0:41 / /t/m rw,relatime shared:8 - tmpfs m rw\n4 2 254:1 / /t/s rw,relatime master:8 - xfs /dev/vdb rw\n"
    );
    let e = check(&mut [ns_of(5, &text)], &config_with(&["mnt[/t/m]:k"])).unwrap_err();
    assert!(e.message().contains("mount 4 at \"/t/s\"") && e.message().contains("not supported"), "{e}");
}

/// CRIU 4.2's `resolve_shared_mounts` asks every slave, namespace roots
/// included, for a master in the dump, or a bind (itself included) with
/// the same master that is a mnt[] external or the root mount.
#[test]
fn masters_must_be_reachable_across_namespaces() {
    let slave = format!("{BASE}3 2 0:41 / /t/s rw,relatime master:7 - tmpfs u rw\n");
    let e = check(&mut [ns_of(5, &slave)], &MountConfig::default()).unwrap_err();
    assert_eq!(e.errno(), libc::EXDEV);
    assert!(e.message().contains("mount 3 at \"/t/s\" in mount namespace 5 (master_id 7") && e.message().contains("unreachable"), "{e}");
    assert!(e.message().contains("--external mnt[PATH]:KEY") && e.message().contains("--enable-external-masters"), "{e}");
    // The master peer group sits in another collected namespace.
    let peer = format!("{BASE}9 2 0:41 / /t/p rw,relatime shared:7 - tmpfs u rw\n");
    let mut nss = vec![ns_of(5, &slave), other_ns_of(6, &peer)];
    check(&mut nss, &MountConfig::default()).unwrap();
    let m = nss[0].master_of(nss[0].index_of(3).unwrap()).unwrap();
    assert_eq!((m.ns, nss[m.ns].mounts()[m.index].mnt_id), (1, 9));
    // The slave itself external (mnt[]): its master comes with it.
    check(&mut [ns_of(5, &slave)], &config_with(&["mnt[/t/s]:k"])).unwrap();
    // A dev[] external does not carry a master.
    let xfs_slave = format!("{BASE}3 2 254:1 / /t/s rw,relatime master:7 - xfs /dev/vdb rw\n");
    let e = check(&mut [ns_of(5, &xfs_slave)], &config_with(&["dev[254/1]:vol"])).unwrap_err();
    assert!(e.message().contains("unreachable"), "{e}");
    // An external bind with another master does not either.
    let two = format!("{BASE}3 2 0:41 / /t/s rw,relatime master:7 - tmpfs u rw\n4 2 0:41 / /t/e rw,relatime master:8 - tmpfs u rw\n");
    let e = check(&mut [ns_of(5, &two)], &config_with(&["mnt[/t/e]:k"])).unwrap_err();
    assert!(e.message().contains("mount 3 at \"/t/s\""), "{e}");
    // A nested namespace's root whose master is nowhere: refused too (the
    // old rule looked at non-root mounts only).
    let nested = "1 0 0:50 / / rw,relatime master:9 - tmpfs n rw\n";
    let e = check(&mut [ns_of(5, BASE), other_ns_of(6, nested)], &MountConfig::default()).unwrap_err();
    assert!(e.message().contains("mount 1 at \"/\" in mount namespace 6 (master_id 9"), "{e}");
}

/// The runc layout: `mount --make-rslave /` in a new mount namespace. The
/// root and the binds of the root filesystem receive their master with
/// the root mount; CRIU 4.2 writes the kernel's master_id for all of them
/// (older CRIU, and criurs until now, wrote -1).
#[test]
fn an_rslave_root_keeps_its_master_id_in_the_image() {
    let text = "1 0 254:0 / / rw,relatime master:4 - ext4 /dev/vda rw\n\
                2 1 254:0 /srv /b rw,relatime master:4 - ext4 /dev/vda rw\n\
                3 1 0:40 / /t rw,relatime - tmpfs t rw\n";
    let mut nss = vec![ns_of(5, text)];
    check(&mut nss, &MountConfig::default()).unwrap();
    let ids: Vec<(u32, Option<u32>, u32)> =
        nss[0].image_order().map(image::entry).map(|e| (e.mnt_id, e.master_id, e.flags & flags::MS_SLAVE)).collect();
    assert_eq!(ids, vec![(3, Some(0), 0), (2, Some(4), flags::MS_SLAVE), (1, Some(4), flags::MS_SLAVE)]);
    // The same layout seen from a namespace that is not the root's: its
    // root is no "root mount", so its master is unreachable.
    let e = check(&mut [ns_of(5, BASE), other_ns_of(6, text)], &MountConfig::default()).unwrap_err();
    assert!(e.message().contains("in mount namespace 6 (master_id 4") && e.message().contains("unreachable"), "{e}");
    // A bind of the root filesystem with another master: not received with the root.
    let other = format!("{text}4 1 254:0 /opt /o rw,relatime master:5 - ext4 /dev/vda rw\n");
    let e = check(&mut [ns_of(5, &other)], &MountConfig::default()).unwrap_err();
    assert!(e.message().contains("mount 4 at \"/o\"") && e.message().contains("master_id 5"), "{e}");
}

#[test]
fn mnt_externals_apply_in_the_roots_mount_namespace_only() {
    let text = format!("{BASE}3 2 254:1 / /t/x rw,relatime - xfs /dev/vdb rw\n");
    let config = config_with(&["mnt[/t/x]:data"]);
    // Root (5) and another namespace (6) with another disk at the same path.
    let other = format!("{BASE}3 2 254:2 / /t/x rw,relatime - xfs /dev/vdc rw\n");
    let mut nss = vec![ns_of(5, &text), other_ns_of(6, &other)];
    let e = check(&mut nss, &config).unwrap_err();
    assert!(e.message().contains("mount 3 at \"/t/x\" in mount namespace 6") && e.message().contains("not supported"), "{e}");
    assert_eq!(nss[0].by_mnt_id(3).unwrap().ext_key.as_deref(), Some(&b"data"[..]));
    assert_eq!(nss[1].by_mnt_id(3).unwrap().ext_key, None);
    // The same disk there is a bind of the root's external: accepted as is.
    let mut nss = vec![ns_of(5, &text), other_ns_of(6, &text)];
    check(&mut nss, &config).unwrap();
    assert_eq!(nss[1].by_mnt_id(3).unwrap().ext_key, None);
    // The root sharing the caller's namespace (NS_CRIU): applied nowhere.
    let mut nss = vec![ns_of(5, &text)];
    nss[0].ns_type = NsType::Own;
    check(&mut nss, &config).unwrap_err();
    assert_eq!(nss[0].by_mnt_id(3).unwrap().ext_key, None);
    // Never to the root mount, nor to a mount over "/".
    let text = format!("{BASE}3 1 0:41 / / rw,relatime - tmpfs over rw\n");
    let mut nss = vec![ns_of(5, &text)];
    check(&mut nss, &config_with(&["mnt[/]:r"])).unwrap();
    assert!(nss[0].mounts().iter().all(|m| m.ext_key.is_none()));
}

#[test]
fn dev_externals_resolve_unsupported_filesystem_roots_and_cover_their_binds() {
    let text = format!(
        "{BASE}3 2 254:1 / /t/x rw,relatime - xfs /dev/vdb rw\n4 2 254:1 /sub /t/y rw,relatime - xfs /dev/vdb rw\n\
         5 2 0:41 / /t/z rw,relatime - tmpfs u rw\n"
    );
    let config = config_with(&["dev[254/1]:vol", "dev[0/41]:tmp"]);
    let mut nss = vec![ns_of(5, &text), other_ns_of(6, &text)];
    check(&mut nss, &config).unwrap();
    for ns in &nss {
        // The filesystem root: an "auto" mount of dev[vol], external.
        let e = image::entry(ns.by_mnt_id(3).unwrap());
        assert_eq!((e.fstype, e.fsname.as_deref(), e.source.as_slice()), (FsType::Auto.code(), Some(&b"xfs"[..]), &b"dev[vol]"[..]));
        assert_eq!(e.ext_key.as_deref(), Some(&b"CRIU:EXTERNAL_DEV"[..]), "in every namespace");
        // Its bind of /sub keeps its values: an external bind, not external.
        let e = image::entry(ns.by_mnt_id(4).unwrap());
        assert_eq!((e.fstype, e.fsname, e.source.as_slice(), e.ext_key), (0, None, &b"/dev/vdb"[..], None));
        // A supported filesystem on a listed device is left alone.
        let e = image::entry(ns.by_mnt_id(5).unwrap());
        assert_eq!((e.fstype, e.source.as_slice(), e.ext_key), (FsType::Tmpfs.code(), &b"u"[..], None));
    }
    // Only a filesystem's root is resolved: a lone bind of /sub is not.
    let text = format!("{BASE}4 2 254:1 /sub /t/y rw,relatime - xfs /dev/vdb rw\n");
    let mut nss = vec![ns_of(5, &text)];
    let e = check(&mut nss, &config).unwrap_err();
    assert!(e.message().contains("mount 4 at \"/t/y\"") && e.message().contains("proper root mount"), "{e}");
    assert_eq!(nss[0].by_mnt_id(4).unwrap().fstype, FsType::Unsupported);
}

/// CRIU 4.2 checks the children of every mount, namespace roots included,
/// and validates nested namespaces' roots like any other mount.
#[test]
fn namespace_roots_are_validated_too() {
    let text = format!("{BASE}3 1 0:41 / /t rw,relatime - tmpfs u rw\n");
    let e = check(&mut [ns_of(5, &text)], &MountConfig::default()).unwrap_err();
    assert!(e.message().contains("mount 1 at \"/\"") && e.message().contains("mounts 2 and 3"), "{e}");
    // A nested namespace rooted on an unsupported filesystem of its own.
    let nested = "1 0 254:1 / / rw,relatime - xfs /dev/vdb rw\n";
    let e = check(&mut [ns_of(5, BASE), other_ns_of(6, nested)], &MountConfig::default()).unwrap_err();
    assert!(e.message().contains("mount 1 at \"/\" in mount namespace 6") && e.message().contains("not supported"), "{e}");
    // ... fine when it is the root's filesystem (a root bind), from any root.
    let nested = "1 0 254:0 /var/lib/x / rw,relatime - ext4 /dev/vda rw\n";
    check(&mut [ns_of(5, BASE), other_ns_of(6, nested)], &MountConfig::default()).unwrap();
}

#[test]
fn two_children_on_one_mount_point_are_refused() {
    let text = format!("{BASE}3 2 0:41 / /t/a rw,relatime - tmpfs u rw\n4 2 0:42 / /t/a rw,relatime - tmpfs v rw\n");
    let e = check(&mut [ns_of(5, &text)], &MountConfig::default()).unwrap_err();
    assert!(e.message().contains("mount 2 at \"/t\"") && e.message().contains("mounts 3 and 4"), "{e}");
    // An overmount (the second mount's parent is the first) is fine.
    let text = format!("{BASE}3 2 0:41 / /t/a rw,relatime - tmpfs u rw\n4 3 0:42 / /t/a rw,relatime - tmpfs v rw\n");
    check(&mut [ns_of(5, &text)], &MountConfig::default()).unwrap();
}

/// CRIU 4.2 has no `validate_shared` (gone since 3.11): peers of one group
/// may have different children; mount-v2 restores such sharing.
#[test]
fn shared_peers_with_different_children_are_accepted() {
    let peers = format!(
        "{BASE}3 2 0:43 / /t/p1 rw,relatime shared:7 - tmpfs s rw\n4 2 0:43 / /t/p2 rw,relatime shared:7 - tmpfs s rw\n"
    );
    // A child propagated to one peer only (made before the bind).
    let mut nss = vec![ns_of(5, &format!("{peers}5 3 0:44 / /t/p1/x rw,relatime - tmpfs c rw\n"))];
    let sharing = check(&mut nss, &MountConfig::default()).unwrap();
    assert_eq!(sharing.peer_groups[&7].len(), 2);
    // The same mount at the same place of both (a propagation group).
    let text = format!("{peers}5 3 0:44 / /t/p1/x rw,relatime - tmpfs c rw\n6 4 0:44 / /t/p2/x rw,relatime - tmpfs c rw\n");
    check(&mut [ns_of(5, &text)], &MountConfig::default()).unwrap();
    // Different mounts there: CRIU 4.2 asserts they are equal and aborts;
    // refused, naming both.
    let text = format!("{peers}5 3 0:44 / /t/p1/x rw,relatime - tmpfs c rw\n6 4 0:45 / /t/p2/x rw,relatime - tmpfs d rw\n");
    let e = check(&mut [ns_of(5, &text)], &MountConfig::default()).unwrap_err();
    assert!(e.message().contains("mount 6 at \"/t/p2/x\"") && e.message().contains("mount 5 at \"/t/p1/x\"") && e.message().contains("BUG_ON"), "{e}");
    // The place is relative to each parent's root: /t/wide/sub/z and
    // /t/narrow/z (root /sub) are one place; /t/wide/z is another.
    let places = format!(
        "{BASE}3 2 0:43 / /t/wide rw,relatime shared:7 - tmpfs s rw\n4 2 0:43 /sub /t/narrow rw,relatime shared:7 - tmpfs s rw\n\
         5 3 0:46 / /t/wide/sub/z rw,relatime - tmpfs z rw\n6 4 0:47 / /t/narrow/z rw,relatime - tmpfs y rw\n"
    );
    let e = check(&mut [ns_of(5, &places)], &MountConfig::default()).unwrap_err();
    assert!(e.message().contains("mount 6 at \"/t/narrow/z\"") && e.message().contains("mount 5 at \"/t/wide/sub/z\""), "{e}");
    check(&mut [ns_of(5, &places.replace("/t/wide/sub/z", "/t/wide/z"))], &MountConfig::default()).unwrap();
    // A narrower peer with a child of its own.
    let narrow = format!(
        "{BASE}3 2 0:43 / /t/wide rw,relatime shared:7 - tmpfs s rw\n4 2 0:43 /sub /t/narrow rw,relatime shared:7 - tmpfs s rw\n\
         8 4 0:47 / /t/narrow/q rw,relatime - tmpfs q rw\n"
    );
    check(&mut [ns_of(5, &narrow)], &MountConfig::default()).unwrap();
}

#[test]
fn btrfs_binds_compare_without_subvol_and_alone_without_it() {
    let text = format!(
        "{BASE}3 2 0:50 / /t/a rw,relatime - btrfs /dev/vdc rw,ssd,subvol=/\n4 2 0:50 /sub /t/b rw,relatime - btrfs /dev/vdc rw,ssd,subvol=/sub\n"
    );
    let mut nss = vec![ns_of(5, &text)];
    check(&mut nss, &config_with(&["mnt[/t/a]:k"])).unwrap();
    assert_eq!(nss[0].bind_group[nss[0].index_of(3).unwrap()], nss[0].bind_group[nss[0].index_of(4).unwrap()]);
    // CRIU's btrfs_sb_equal finds a btrfs mount without subvol= equal to none.
    let text = format!("{BASE}3 2 0:50 / /t/a rw,relatime - btrfs /dev/vdc rw,ssd\n4 2 0:50 /sub /t/b rw,relatime - btrfs /dev/vdc rw,ssd\n");
    let mut nss = vec![ns_of(5, &text)];
    let e = check(&mut nss, &config_with(&["mnt[/t/a]:k"])).unwrap_err();
    assert!(e.message().contains("mount 4 at \"/t/b\"") && e.message().contains("proper root mount"), "{e}");
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
    assert_eq!(ns.by_mnt_id(5).unwrap().options(), b"mode=600", "our own devpts instance");
    let config = MountConfig { own_devpts_dev: Some(99), ..Default::default() };
    let ns = fixture_ns(5, text.as_bytes(), &config, false).unwrap();
    assert_eq!(ns.by_mnt_id(5).unwrap().options(), b"mode=600,newinstance");
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
        assert_eq!((r.mnt_id, &r.root(), &r.mountpoint(), r.flags, r.root_dev, r.major, r.minor), (m.mnt_id, &m.root(), &m.mountpoint(), m.flags, m.root_dev, m.major, m.minor));
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
        .filter(|m| m.mountpoint() != b"/" && !m.mountpoint().starts_with(base))
        .map(|m| (m.mountpoint().to_vec(), b"host".to_vec()))
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
        let mut fsroot = m.root().to_vec();
        if m.deleted {
            fsroot.extend_from_slice(b"//deleted");
        }
        assert_eq!(s(&row["fsroot"]), fsroot, "{id}");
        assert_eq!(s(&row["target"]), m.mountpoint(), "{id}");
        let mut bracketed = m.source().to_vec();
        bracketed.extend_from_slice(format!("[{}]", String::from_utf8_lossy(&fsroot)).as_bytes());
        let src = s(&row["source"]);
        assert!(src == m.source() || src == bracketed || m.source().is_empty(), "{id}: {:?}", String::from_utf8_lossy(&src));
        assert_eq!(s(&row["fstype"]), m.fsname(), "{id}");
        assert_eq!(s(&row["vfs-options"]), m.mount_options(), "{id}");
        let propagation = flags::MS_SHARED | flags::MS_SLAVE | flags::MS_UNBINDABLE;
        assert_eq!(m.flags & !propagation & !flags::MS_REC, flags::mount_flags(&m.mount_options()).unwrap(), "{id}");
        let fs_options = s(&row["fs-options"]);
        assert_eq!(fs_options, m.super_options(), "{id}");
        let has = |opts: &[u8], o: &[u8]| opts.split(|&b| b == b',').any(|x| x == o);
        assert_eq!(m.sb_flags & flags::MS_RDONLY != 0, has(&fs_options, b"ro"), "{id}");
        assert!(!has(&m.options(), b"rw") && !has(&m.options(), b"ro"), "{id}");
        let prop = s(&row["propagation"]);
        assert_eq!(has(&prop, b"shared"), m.flags & flags::MS_SHARED != 0, "{id}");
        assert_eq!(has(&prop, b"shared"), m.shared_id != 0, "{id}");
        assert_eq!(has(&prop, b"slave"), m.flags & flags::MS_SLAVE != 0, "{id}");
        assert_eq!(has(&prop, b"unbindable"), m.flags & flags::MS_UNBINDABLE != 0, "{id}");
        if m.mountpoint().starts_with(&base) {
            checked_in_base += 1;
            assert!(m.ext_key.is_none());
        }
    }
    assert_eq!(checked_in_base, 16);

    // The rules findmnt does not show.
    let at = |rel: &[u8]| {
        let mut p = base.clone();
        p.extend_from_slice(rel);
        ns.mounts().iter().rev().find(|m| m.mountpoint() == p).unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(&p)))
    };
    let del = at(b"/del");
    assert!(del.deleted && del.root() == b"/gone");
    assert_eq!(at(b"/bindsub").root(), b"/sub");
    assert_eq!(at(b"/t1").options(), b"size=1024k,mode=751");
    let (shared, peer, slave) = (at(b"/shared"), at(b"/peer"), at(b"/slave"));
    assert!(shared.shared_id != 0 && shared.shared_id == peer.shared_id);
    assert_eq!(slave.master_id, shared.shared_id);
    let slave_i = ns.index_of(slave.mnt_id).unwrap();
    let master = ns.master_of(slave_i).unwrap();
    assert_eq!(ns.mounts()[master.index].shared_id, shared.shared_id);
    let over_top = at(b"/over");
    let over_bottom = ns.by_mnt_id(over_top.parent_mnt_id).unwrap();
    assert_eq!(over_bottom.mountpoint(), over_top.mountpoint(), "the overmount's parent is the mount it covers");
    assert_eq!(over_bottom.flags & 0xf, flags::MS_RDONLY | flags::MS_NOSUID | flags::MS_NOEXEC);
    assert_eq!(over_bottom.sb_flags, flags::MS_RDONLY);
    assert_eq!(at(b"/proc").fstype, FsType::Proc);
    assert_eq!(at(b"/unb").flags & flags::MS_UNBINDABLE, flags::MS_UNBINDABLE);
    for odd in [&b"/sp ace"[..], b"/t\tab", b"/back\\slash", b"/new\nline"] {
        assert_eq!(at(odd).source(), b"odd");
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
        assert_eq!(s(&e["root"]), m.image_root());
        assert_eq!(s(&e["mountpoint"]), m.image_mountpoint());
        assert_eq!(s(&e["source"]), m.image_source());
        assert_eq!(s(&e["options"]), m.options());
        assert_eq!(e["shared_id"].as_u64().unwrap() as u32, m.shared_id);
        assert_eq!(e["master_id"].as_u64().unwrap() as u32, m.master_id);
        assert_eq!(e.get("deleted").and_then(|d| d.as_bool()).unwrap_or(false), m.deleted);
        assert_eq!(e.get("ext_key").map(s), m.ext_key.clone());
    }
    // CRIU's spelling: space, tab and backslash decoded, a newline left as \012.
    let image_mp = |rel: &[u8]| {
        let mut p = base.clone();
        p.extend_from_slice(rel);
        entries.iter().map(|e| s(&e["mountpoint"])).find(|mp| *mp == p).is_some()
    };
    for odd in [&b"/sp ace"[..], b"/t\tab", b"/back\\slash", b"/new\\012line"] {
        assert!(image_mp(odd), "{:?} in the image", String::from_utf8_lossy(odd));
    }
    assert!(!image_mp(b"/new\nline"));
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
    assert_eq!(own.root().mountpoint(), b"/");
    assert_eq!(ctx.mount_namespace(own.ns_id + 100).unwrap_err().errno(), libc::ENOENT);
    assert_eq!(ctx.dump_mnt_ns(own.ns_id).unwrap_err().errno(), libc::EINVAL, "no images directory");
}

// ---- CRIU 4.2's own dumps of the issue's layouts (tests/fixtures/criu-4.2/<case>/) ----

fn case_file(case: &str, name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/criu-4.2").join(case).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// A case's mountinfo as CRIU saw it: the root's own mount namespace (10),
/// the host's /dev/pts (0:26) as CRIU's devpts.
fn case_ns(case: &str, mountinfo: &str) -> MountNamespace {
    fixture_ns(10, &case_file(case, mountinfo), &fixture_config(), true).unwrap()
}

/// Resolves and validates the case with `specs`, then compares our image
/// with CRIU's, entry by entry and byte for byte.
fn assert_case_image(case: &str, mountinfo: &str, image_name: &str, specs: &[String]) -> MountNamespace {
    let mut config = fixture_config();
    for spec in specs {
        config.add_external(spec.as_bytes()).unwrap();
    }
    let mut nss = vec![case_ns(case, mountinfo)];
    resolve_validated(&mut nss, &config, Some(10), &Logger::default()).unwrap_or_else(|e| panic!("{case}: {e}"));
    let criu_bytes = case_file(case, image_name);
    let criu = image::decode(&criu_bytes, image_name).unwrap();
    let ours: Vec<MntEntry> = nss[0].image_order().map(image::entry).collect();
    assert_eq!(ours.len(), criu.len(), "{case}");
    for (a, b) in ours.iter().zip(&criu) {
        assert_eq!(a, b, "{case}: mnt_id {}", b.mnt_id);
    }
    assert_eq!(image::encode_namespace(&nss[0]), criu_bytes, "{case}: byte for byte");
    nss.remove(0)
}

fn refusal(case: &str, mountinfo: &str, specs: &[&str]) -> crate::error::Error {
    let mut config = fixture_config();
    for spec in specs {
        config.add_external(spec.as_bytes()).unwrap();
    }
    let mut nss = vec![case_ns(case, mountinfo)];
    resolve_validated(&mut nss, &config, Some(10), &Logger::default()).map(|_| ()).unwrap_err()
}

/// rslave-root: the runc layout. Without externals CRIU 4.2 refuses mount
/// 86 (the /dev/pts overmount, master 20), and so do we, naming the
/// option that works; with every slave mount but "/" external, the image
/// is CRIU's: the root keeps master_id 1 and needs nothing.
#[test]
fn criu_rslave_root_fixture() {
    let e = refusal("rslave-root", "mountinfo-5806.txt", &[]);
    assert_eq!(e.errno(), libc::EXDEV);
    assert!(e.message().starts_with("mount 86 at \"/dev/pts\" in mount namespace 10 (master_id 20, shared_id 0) has unreachable sharing"), "{e}");
    assert!(e.message().contains("mnt[/dev/pts]:KEY") && e.message().contains("--enable-external-masters"), "{e}");
    let log = String::from_utf8(case_file("rslave-root", "dump-no-options.log")).unwrap();
    assert!(log.contains("Mount 86 ./dev/pts (master_id: 20 shared_id: 0) has unreachable sharing. Try --enable-external-masters."));
    // dump.sh's externals: every slave mount point but "/", key x + the path with '_' for '/'.
    let text = String::from_utf8(case_file("rslave-root", "mountinfo-5806.txt")).unwrap();
    let mut specs: Vec<String> = text
        .lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .filter(|f| f[6].starts_with("master:") && f[4] != "/")
        .map(|f| format!("mnt[{}]:x{}", f[4], f[4].replace('/', "_")))
        .collect();
    specs.sort();
    specs.dedup();
    assert_eq!(specs.len(), 17);
    let ns = assert_case_image("rslave-root", "mountinfo-5806.txt", "mountpoints-10.img", &specs);
    let root = image::entry(ns.root());
    assert_eq!((root.mnt_id, root.master_id, root.flags, root.ext_key), (67, Some(1), 0x280000, None));
    // Two mounts on one path share the key, as in CRIU.
    assert_eq!(ns.by_mnt_id(87).unwrap().ext_key.as_deref(), Some(&b"x_proc"[..]));
}

/// escaped-paths: CRIU's spelling in the image (`a\012b` for a newline,
/// the other three decoded); our records hold the real path.
#[test]
fn criu_escaped_paths_fixture() {
    let ns = assert_case_image("escaped-paths/newline-proc", "mountinfo-8311.txt", "mountpoints-10.img", &[]);
    let m = ns.by_mnt_id(67).unwrap();
    assert_eq!(m.mountpoint(), b"/tmp/criu-fx/escaped-paths/x/a\nb");
    assert_eq!(image::entry(m).mountpoint, br"/tmp/criu-fx/escaped-paths/x/a\012b");
    assert_case_image("escaped-paths/no-newline", "mountinfo-8052.txt", "mountpoints-10.img", &[]);
    // all/: CRIU stopped at the tmpfs on the newline path (it could not
    // open "a\012b" to archive the tmpfs) after writing four entries. The
    // collection stage accepts it: the same four entries lead our image.
    let mut nss = vec![case_ns("escaped-paths/all", "mountinfo-7779.txt")];
    resolve_validated(&mut nss, &fixture_config(), Some(10), &Logger::default()).unwrap();
    let partial = image::decode(&case_file("escaped-paths/all", "mountpoints-10.img"), "all").unwrap();
    let ours: Vec<MntEntry> = nss[0].image_order().map(image::entry).collect();
    assert_eq!(partial.len(), 4);
    assert_eq!(&ours[..4], &partial[..]);
    assert_eq!(ours[4].mountpoint, br"/tmp/criu-fx/escaped-paths/x/a\012b");
}

/// mnt-externals: what CRIU 4.2 accepts, refuses and writes for volumes
/// and devices.
#[test]
fn criu_mnt_externals_fixture() {
    let vol = ["mnt[/tmp/criu-fx/mnt-externals/vol]:vol".to_string()];
    // A bind of a root-filesystem directory is a root bind: no option needed.
    let ns = assert_case_image("mnt-externals/rootfs-no-options", "mountinfo-9909.txt", "mountpoints-10.img", &[]);
    assert!(ns.mounts().iter().all(|m| m.ext_key.is_none()));
    assert_case_image("mnt-externals/rootfs-external", "mountinfo-10270.txt", "mountpoints-10.img", &vol);
    // A bind of a tmpfs whose root is not mounted in the namespace.
    let e = refusal("mnt-externals/tmpfs-no-options", "mountinfo-10693.txt", &[]);
    assert!(e.message().starts_with("mount 69 at \"/tmp/criu-fx/mnt-externals/vol\"") && e.message().contains("proper root mount"), "{e}");
    assert_case_image("mnt-externals/tmpfs-external", "mountinfo-10888.txt", "mountpoints-10.img", &vol);
    // An ext4 on a loop device, and a bind of its /sub.
    let e = refusal("mnt-externals/dev-no-options", "mountinfo-12096.txt", &[]);
    assert!(e.message().starts_with("mount 67 at \"/tmp/criu-fx/mnt-externals/blk\"") && e.message().contains("not supported"), "{e}");
    // CRIU takes dev[7:0] for some other key and refuses later; we refuse the spelling.
    let e = MountConfig::default().add_external(b"dev[7:0]:blk").unwrap_err();
    assert!(e.message().contains("dev[MAJ/MIN]:VAL"), "{e}");
    let ns = assert_case_image("mnt-externals/dev-external", "mountinfo-12978.txt", "mountpoints-10.img", &["dev[7/0]:blk".to_string()]);
    assert_eq!(ns.by_mnt_id(67).unwrap().ext_key.as_deref(), Some(sharing::EXTERNAL_DEV_KEY));
    assert_eq!(ns.by_mnt_id(68).unwrap().ext_key, None);
}

/// The runc layout, live: a parent mount namespace outside the tree makes
/// every mount shared (the host's stay private); the root, pid 1 of new
/// pid and mount namespaces copied from it, runs `mount --make-rslave /`,
/// then mounts a proc, a tmpfs and a bind of a root-filesystem directory
/// (a slave of the root's master). As rslave-root/ records CRIU 4.2:
/// refused while the inherited slaves are not external, naming the first
/// one; with them external, the image has the kernel's master ids, the
/// root and the bind need nothing, and the entries equal CRIU's own.
#[test]
fn live_rslave_root_is_dumped_as_criu_does() {
    use crate::Context;
    use std::os::unix::ffi::OsStrExt;
    crate::needs_root!();
    let script = r#"
set -e
B="$1"
mkdir -p "$B.src/d" "$B.bind"
exec 3<&0
unshare --pid --fork --mount --propagation unchanged sh -c '
    set -e
    mount --make-rslave /
    mount -t proc proc /proc
    mount -t tmpfs -o size=64k fx-inside "$1"
    mount --bind "$1.src/d" "$1.bind"
    touch "$1.ready"
    read x || true
' sh "$B" <&3 &
U=$!
while [ ! -e "$B.ready" ]; do sleep 0.02; done
P=$(cat /proc/$U/task/*/children)
echo "$P ready"
wait
"#;
    let sh = NsShell::spawn("rslave", &["--mount", "--propagation", "shared"], script);
    let base = sh.base.as_os_str().as_bytes().to_vec();
    let at = |suffix: &[u8]| [base.as_slice(), suffix].concat();
    let text = std::fs::read(format!("/proc/{}/mountinfo", sh.pid())).unwrap();
    let kernel = mountinfo::parse(&text, &mountinfo::ParseRules::default()).unwrap();
    let root_master = kernel.iter().find(|m| m.mountpoint() == b"/").unwrap().master_id;
    assert_ne!(root_master, 0, "the root is a slave: {}", String::from_utf8_lossy(&text));
    let bind = kernel.iter().find(|m| m.mountpoint() == at(b".bind")).unwrap();
    assert_eq!(bind.master_id, root_master, "a bind of a slave is a slave of the same master");

    // Without externals: refused like CRIU, at the newest slave that
    // neither the root nor an external brings its master to.
    let mut ctx = Context::new(sh.pid()).unwrap();
    let e = ctx.collect_namespaces(true).unwrap_err();
    let first = kernel.iter().rev().find(|m| m.master_id != 0 && m.master_id != root_master).unwrap();
    assert_eq!(e.errno(), libc::EXDEV, "{e}");
    let want = format!("mount {} at {:?}", first.mnt_id, String::from_utf8_lossy(&first.mountpoint()));
    assert!(e.message().contains(&want) && e.message().contains("unreachable sharing") && e.message().contains("--external mnt[PATH]:KEY"), "{e}");

    // rslave-root/dump.sh's externals: each slave mount point but "/" (and
    // but our bind, which receives its master with the root).
    let mut specs: Vec<Vec<u8>> = kernel
        .iter()
        .filter(|m| m.master_id != 0 && m.mountpoint() != b"/" && m.mountpoint() != at(b".bind"))
        .map(|m| {
            let key: Vec<u8> = m.mountpoint().iter().map(|&b| if b == b'/' { b'_' } else { b }).collect();
            [&b"mnt["[..], &m.mountpoint(), b"]:x", &key].concat()
        })
        .collect();
    specs.sort();
    specs.dedup();
    for spec in &specs {
        ctx.add_external(spec).unwrap();
    }
    ctx.collect_namespaces(true).unwrap();
    assert!(ctx.mount_namespaces().unwrap().validated());
    let ns_id = ctx.namespaces().unwrap().root_ns(NsKind::Mnt).unwrap().id;
    assert_eq!(ctx.mount_namespaces_to_dump().unwrap(), vec![ns_id]);
    let dir = crate::testing::temp_dir("rslave-img");
    ctx.set_images_dir(&dir).unwrap();
    ctx.dump_mnt_ns(ns_id).unwrap();
    let file = dir.join(image::image_name(ns_id));
    let crit = std::process::Command::new("crit").args(["decode", "--pretty", "-i"]).arg(&file).output().expect("crit is installed");
    assert!(crit.status.success(), "crit: {}", String::from_utf8_lossy(&crit.stderr));
    let ours: serde_json::Value = serde_json::from_slice(&crit.stdout).unwrap();
    let ours = ours["entries"].as_array().unwrap().clone();
    std::fs::remove_dir_all(&dir).unwrap();
    let find = |mp: &[u8]| ours.iter().rev().find(|e| e["mountpoint"].as_str().unwrap().as_bytes() == mp).unwrap().clone();

    // The kernel's master ids, the root's included; CRIU's flags for a slave.
    // The parent namespace is the outer shell's (unshare, our parent, has
    // already moved to the root's).
    let ppid = |pid: i32| -> i32 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        stat.rsplit(')').next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let outer_sh = ppid(ppid(sh.pid()));
    let outer = mountinfo::parse(&std::fs::read(format!("/proc/{outer_sh}/mountinfo")).unwrap(), &Default::default()).unwrap();
    for e in &ours {
        let id = e["mnt_id"].as_u64().unwrap() as u32;
        let k = kernel.iter().find(|m| m.mnt_id == id).unwrap();
        assert_eq!(e["master_id"].as_u64().unwrap() as u32, k.master_id, "{e}");
        if k.master_id != 0 {
            assert!(outer.iter().any(|o| o.shared_id == k.master_id), "master {} is a peer group of the parent namespace", k.master_id);
        }
    }
    let root = find(b"/");
    assert_eq!((root["master_id"].as_u64().unwrap() as u32, root["flags"].as_str()), (root_master, Some("0x280000")));
    assert!(root.get("ext_key").is_none());
    let b = find(&at(b".bind"));
    assert_eq!((b["master_id"].as_u64().unwrap() as u32, b["flags"].as_str()), (root_master, Some("0x280000")));
    assert!(b.get("ext_key").is_none() && b["root"].as_str().unwrap().ends_with(".src/d"));
    let inside = find(&base);
    assert_eq!((inside["flags"].as_str(), inside["master_id"].as_u64(), inside["options"].as_str()), (Some("0x200000"), Some(0), Some("size=64k")));

    // Entry by entry against CRIU's image of the same layout on this host
    // (rslave-root/mountpoints-10.json), ids and devices aside.
    let criu: serde_json::Value = serde_json::from_slice(&case_file("rslave-root", "mountpoints-10.json")).unwrap();
    let same = |a: &serde_json::Value, b: &serde_json::Value| {
        ["fstype", "root", "mountpoint", "source", "options", "flags", "sb_flags", "shared_id", "ext_key", "fsname"]
            .iter()
            .all(|k| a.get(*k) == b.get(*k))
            && (a["master_id"] == 0) == (b["master_id"] == 0)
    };
    let inherited: Vec<&serde_json::Value> =
        criu["entries"].as_array().unwrap().iter().filter(|e| !e["mountpoint"].as_str().unwrap().contains("criu-fx")).collect();
    let matched = inherited.iter().filter(|c| ours.iter().any(|o| same(o, c))).count();
    assert!(matched == inherited.len() || matched >= 15, "{matched} of CRIU's {} inherited entries have an equal entry here", inherited.len());
    let criu_root = inherited.iter().find(|e| e["mountpoint"] == "/").unwrap();
    assert!(same(&root, criu_root), "root: ours {root}, CRIU's {criu_root}");
}

/// walk-netns-mntns/: a root that shares the caller's mount namespace
/// (pid 1 of its own pid namespace) with a child in a mount namespace of
/// its own. CRIU 4.2 collects and validates both namespaces, and writes no
/// mountpoints image at all (`dump_mnt_namespaces` needs the root's mount
/// namespace to be new).
#[test]
fn live_nested_mount_namespace_under_a_root_in_ours_is_collected_not_dumped() {
    use crate::Context;
    crate::needs_root!();
    let script = r#"
set -e
B="$1"
exec 3<&0
unshare --pid --fork sh -c '
    exec 4<&0
    unshare --mount --propagation private sh -c "mount -t tmpfs -o size=64k fx-child \"\$1\"; touch \"\$1.ready\"; read x || true" sh "$1" <&4 &
    wait
' sh "$B" <&3 &
U=$!
while [ ! -e "$B.ready" ]; do sleep 0.02; done
P=$(cat /proc/$U/task/*/children)
echo "$P ready"
wait
"#;
    let sh = NsShell::spawn("nested", &["--fork"], script);
    let mut ctx = Context::new(sh.pid()).unwrap();
    ctx.collect_namespaces(true).unwrap();
    let nss = ctx.mount_namespaces().unwrap();
    let kinds: Vec<NsType> = nss.namespaces().iter().map(|n| n.ns_type).collect();
    assert_eq!(kinds, vec![NsType::Other, NsType::Own], "the child's, then ours (CRIU's walk)");
    assert!(nss.validated());
    assert!(nss.namespaces()[0].mounts().iter().any(|m| m.source() == b"fx-child"));
    assert_eq!(ctx.mount_namespaces_to_dump().unwrap(), Vec::<u32>::new());
}

/// CRIU's `should_skip_mount` compares with `is_same_path`: a --skip-mnt
/// path with a trailing or doubled slash still names the mount.
#[test]
fn skip_mnt_paths_compare_as_criu_compares_them() {
    let mut ctx = crate::Context::new(std::process::id() as i32).unwrap();
    ctx.add_skip_mount(b"/t//x/./").unwrap();
    let text = format!("{BASE}3 2 0:41 / /t/x rw,relatime - tmpfs u rw\n");
    let ns = fixture_ns(5, text.as_bytes(), ctx.mount_config(), true).unwrap();
    assert!(ns.by_mnt_id(3).is_none(), "skipped");
    assert_eq!(ctx.add_skip_mount(b"t/x").unwrap_err().errno(), libc::EINVAL);
}

/// `mnt[PATH]` finds a mount at a path with a newline by the real path or
/// by CRIU's spelling of it (`\012`, as CRIU's own lookup needs).
#[test]
fn mnt_externals_match_the_real_path_or_crius_spelling() {
    let text = format!("{BASE}3 2 254:1 / /t/a\\012b rw,relatime - xfs /dev/vdb rw\n");
    for spec in [&b"mnt[/t/a\nb]:k"[..], br"mnt[/t/a\012b]:k"] {
        let mut config = MountConfig::default();
        config.add_external(spec).unwrap();
        let mut nss = vec![ns_of(5, &text)];
        check(&mut nss, &config).unwrap();
        let m = nss[0].by_mnt_id(3).unwrap();
        assert_eq!((m.mountpoint(), m.ext_key.as_deref()), (&b"/t/a\nb"[..], Some(&b"k"[..])));
        assert_eq!(image::entry(m).mountpoint, br"/t/a\012b");
    }
}

/// Issue 16 item 6: the kernel bounds no mountinfo line by PATH_MAX. A
/// mount 262 directories of 255 spaces deep (each space escaped to four
/// bytes) is a 267 KB line, collected like any other.
#[test]
fn live_mount_with_a_line_longer_than_256_kib_is_collected() {
    use crate::Context;
    use std::os::unix::ffi::OsStrExt;
    crate::needs_root!();
    // mount -c: util-linux would canonicalize the too-long target; the
    // kernel resolves "." from the working directory.
    let script = r#"
mount -t tmpfs -o size=16m fx-deep "$B"
cd "$B"
N=$(printf ' %.0s' $(seq 255))
for i in $(seq 262); do mkdir "$N"; cd -P "$N"; done
mount -c -t tmpfs -o size=64k fx-deepest .
cd /
"#;
    let sh = NsShell::start("deep", script);
    let text = std::fs::read(format!("/proc/{}/mountinfo", sh.pid())).unwrap();
    let longest = text.split(|&b| b == b'\n').map(<[u8]>::len).max().unwrap();
    assert!(longest > 262_144, "the kernel's line is {longest} bytes");
    let mut ctx = Context::new(sh.pid()).unwrap();
    ctx.collect_namespaces(false).unwrap();
    let nss = ctx.mount_namespaces().unwrap();
    let ns = &nss.namespaces()[0];
    let deep = ns.mounts().iter().find(|m| m.source() == b"fx-deepest").expect("the deep mount is collected");
    let mut want = sh.base.as_os_str().as_bytes().to_vec();
    for _ in 0..262 {
        want.push(b'/');
        want.extend_from_slice(&[b' '; 255]);
    }
    assert_eq!(deep.mountpoint(), want);
    let parent = ns.by_mnt_id(deep.parent_mnt_id).unwrap();
    assert_eq!(parent.source(), b"fx-deep");
}

/// Issue 16 item 10: mountinfo prints a root with `dentry_path`, which
/// marks an unlinked root `//deleted`; a live directory named
/// `x (deleted)` is printed as its name. Stat through each mount says
/// which is which (an unlinked directory has no links), and the records
/// agree.
#[test]
fn live_deleted_roots_are_told_from_directories_named_deleted() {
    use crate::Context;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    crate::needs_root!();
    let script = r#"
mount -t tmpfs -o size=64k fx-del "$B"
mkdir "$B/x (deleted)" "$B/gone" "$B/m-live" "$B/m-gone"
mount --bind "$B/x (deleted)" "$B/m-live"
mount --bind "$B/gone" "$B/m-gone"
rmdir "$B/gone"
"#;
    let sh = NsShell::start("deleted", script);
    let text = std::fs::read(format!("/proc/{}/mountinfo", sh.pid())).unwrap();
    let shown = String::from_utf8_lossy(&text).into_owned();
    assert!(shown.contains(r" /x\040(deleted) ") && shown.contains(" /gone//deleted "), "{shown}");
    let base = sh.base.as_os_str().as_bytes().to_vec();
    let at = |suffix: &[u8]| [base.as_slice(), suffix].concat();
    let through = |suffix: &str| std::fs::metadata(format!("/proc/{}/root{}{suffix}", sh.pid(), sh.base.display())).unwrap();
    assert!(through("/m-live").nlink() >= 2, "a live directory");
    assert_eq!(through("/m-gone").nlink(), 0, "an unlinked directory");

    let mut ctx = Context::new(sh.pid()).unwrap();
    ctx.collect_namespaces(false).unwrap();
    let ns = &ctx.mount_namespaces().unwrap().namespaces()[0];
    let live = ns.mounts().iter().find(|m| m.mountpoint() == at(b"/m-live")).unwrap();
    assert_eq!((live.root(), live.deleted), (&b"/x (deleted)"[..], false));
    assert_eq!((live.image_root(), image::entry(live).deleted), (&b"/x (deleted)"[..], None));
    let gone = ns.mounts().iter().find(|m| m.mountpoint() == at(b"/m-gone")).unwrap();
    assert_eq!((gone.root(), gone.deleted), (&b"/gone"[..], true));
    let entry = image::entry(gone);
    assert_eq!(entry.deleted, Some(true));
}
