//! Live: CRIU 4.2's ns-sockets network rebuilt with `unshare` and `ip` in
//! new namespaces, dumped, and read back by CRIU's own readers (`crit
//! decode`, `ip ... showdump`) beside CRIU's fixture; refusals, peers in
//! another namespace of the tree, external namespaces. Every tree is made
//! by a script that ends with the test (see ns::live_tests::LiveTree).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::fixture;
use crate::netdev::stream::{Stream, IFADDR_MAGIC, ROUTE_MAGIC, RULE_MAGIC};
use crate::netdev::{DeviceType, Plan};
use crate::netlink::message::nlmsghdr;
use crate::testing::{announce, kid_of, LiveTree};
use crate::ns::NsKind;
use crate::Context;

/// The network of tests/fixtures/criu-4.2/ns-sockets/state.json, made
/// inside the namespace, links brought up last. Their IPv6 link-local
/// addresses were still tentative when CRIU dumped them; a minute-long
/// neighbour retransmit time (a sysctl CRIU does not record) keeps them
/// so however slowly the test runs.
const FIXTURE_NETWORK: &str = "\
ip link set lo up && ip addr add 10.11.12.13/8 dev lo && \
ip link add vA address 02:00:00:aa:bb:01 type veth peer name vB address 02:00:00:aa:bb:02 && \
ip link set vA mtu 1400 && \
ip addr add 192.168.77.1/24 dev vA && ip addr add 192.168.77.2/24 dev vB && \
ip -6 addr add fd00:77::1/64 dev vA nodad && \
echo 1 >/proc/sys/net/ipv4/ip_forward && echo 2 >/proc/sys/net/ipv4/conf/vA/rp_filter && \
echo 1 >/proc/sys/net/ipv6/conf/all/forwarding && echo 64 >/proc/sys/net/unix/max_dgram_qlen && \
echo 60000 >/proc/sys/net/ipv6/neigh/vA/retrans_time_ms && echo 60000 >/proc/sys/net/ipv6/neigh/vB/retrans_time_ms && \
ip link set vA up && ip link set vB up && \
ip route add 10.200.0.0/16 via 192.168.77.2 dev vA && \
ip rule add from 192.168.77.0/24 lookup 100 pref 1000 && \
ip route add default via 192.168.77.2 dev vA table 100";

/// The fixture's layout: PID 1 of new pid, mount, net, uts, ipc and time
/// namespaces (so the net namespace gets CRIU's id 10), running `setup`.
fn fixture_tree(setup: &str) -> LiveTree {
    let script = format!(
        "exec unshare --fork --pid --mount --net --uts --ipc --time --propagation private sh -c '{setup} && {}; echo ready; read x'",
        announce("root")
    );
    LiveTree::start(&script, &["root"])
}

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        Dir(crate::testing::temp_dir(tag))
    }
    fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = std::fs::read_dir(&self.0).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        n.sort();
        n
    }
    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.0.join(name)).unwrap()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn crit_decode(path: &Path) -> serde_json::Value {
    let out = Command::new("crit").args(["decode", "--pretty", "-i"]).arg(path).output().expect("crit is installed (criu)");
    assert!(out.status.success(), "crit decode {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn fixture_json(name: &str) -> serde_json::Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

/// `ip OBJECT showdump < file`, run in a fresh network namespace so that
/// link indexes print the same (as ifN) for every stream.
fn showdump(object: &[&str], bytes: &[u8]) -> String {
    let mut child = Command::new("unshare")
        .arg("--net")
        .arg("ip")
        .args(object)
        .arg("showdump")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare and ip are installed");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "ip {object:?} showdump: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A stream's messages with the header's sequence number and port zeroed
/// (the dumper's own: iproute2's clock and port, ours).
fn messages_without_dumper(bytes: &[u8], magic: u32) -> Vec<Vec<u8>> {
    Stream::parse(bytes, magic, "stream")
        .unwrap()
        .messages()
        .unwrap()
        .into_iter()
        .map(|m| {
            let mut m = m.to_vec();
            nlmsghdr::NLMSG_SEQ.set(&mut m, 0);
            nlmsghdr::NLMSG_PID.set(&mut m, 0);
            m
        })
        .collect()
}

fn net_id(ctx: &Context, pid: i32) -> u32 {
    ctx.namespaces().unwrap().find(NsKind::Net, kid_of(pid, "net")).unwrap().id
}

#[test]
fn the_ns_sockets_network_is_dumped_as_criu_4_2_dumps_it() {
    crate::needs_root!();
    let tree = fixture_tree(FIXTURE_NETWORK);
    let dir = Dir::new("netdev-fixture");
    let mut ctx = Context::new(tree.pid("root")).unwrap();
    ctx.set_images_dir(&dir.0).unwrap();
    ctx.collect_namespaces(false).unwrap();
    assert_eq!(net_id(&ctx, tree.pid("root")), 10, "CRIU's id for this layout");
    let written = ctx.dump_net_ns(10).unwrap();
    assert_eq!(written, ["netdev-10.img", "ifaddr-10.img", "route-10.img", "route6-10.img", "rule-10.img", "nftables-10.img", "netns-10.img"]);
    let mut expected: Vec<String> = written.clone();
    expected.sort();
    assert_eq!(dir.names(), expected, "nothing else written, no temporary file left");

    // crit reads our netdev and netns images as CRIU's, field by field.
    for name in ["netdev-10", "netns-10"] {
        let ours = crit_decode(&dir.0.join(format!("{name}.img")));
        let criu = fixture_json(&format!("{name}.json"));
        let (o, c) = (&ours["entries"], &criu["entries"]);
        assert_eq!(o.as_array().unwrap().len(), c.as_array().unwrap().len(), "{name}: entries");
        for (i, (oe, ce)) in o.as_array().unwrap().iter().zip(c.as_array().unwrap()).enumerate() {
            for (field, value) in ce.as_object().unwrap() {
                assert_eq!(&oe[field], value, "{name} entry {i} field {field}");
            }
            assert_eq!(oe.as_object().unwrap().len(), ce.as_object().unwrap().len(), "{name} entry {i}: same fields: {oe}");
        }
        assert_eq!(ours, criu, "{name}: the whole document");
    }
    // Same values, same encoding: the images are CRIU's byte for byte.
    assert_eq!(dir.read("netns-10.img"), fixture("netns-10.img"));
    assert_eq!(dir.read("netdev-10.img"), fixture("netdev-10.img"));

    // ip reads our streams as it reads CRIU's.
    assert_eq!(showdump(&["addr"], &dir.read("ifaddr-10.img")), showdump(&["addr"], &fixture("ifaddr-10.img")));
    assert_eq!(showdump(&["route"], &dir.read("route-10.img")), showdump(&["route"], &fixture("route-10.img")));
    // The kernel lists the two fe80::/64 routes in the order their links
    // got their link-local addresses, which is a race of address setup
    // (here and when CRIU's fixture was made): the same routes, in either
    // order.
    let sorted = |text: String| {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines.sort();
        lines
    };
    assert_eq!(
        sorted(showdump(&["-6", "route"], &dir.read("route6-10.img"))),
        sorted(showdump(&["-6", "route"], &fixture("route6-10.img")))
    );
    // And they hold the same messages: IPv4 routes and rules byte for byte
    // but the dumper's sequence number and port (addresses and IPv6 routes
    // carry timestamps of their own).
    assert_eq!(
        messages_without_dumper(&dir.read("route-10.img"), ROUTE_MAGIC),
        messages_without_dumper(&fixture("route-10.img"), ROUTE_MAGIC)
    );
    assert_eq!(
        messages_without_dumper(&dir.read("rule-10.img"), RULE_MAGIC),
        messages_without_dumper(&fixture("rule-10.img"), RULE_MAGIC)
    );
    let ours = messages_without_dumper(&dir.read("ifaddr-10.img"), IFADDR_MAGIC);
    let criu = messages_without_dumper(&fixture("ifaddr-10.img"), IFADDR_MAGIC);
    assert_eq!(ours.iter().map(Vec::len).collect::<Vec<_>>(), criu.iter().map(Vec::len).collect::<Vec<_>>());
    assert!(dir.read("nftables-10.img").is_empty(), "no ruleset, as CRIU's empty image");

    // The typed view of the same namespace.
    let net = ctx.net_config(10).unwrap();
    let links: Vec<(&[u8], Option<DeviceType>, Option<u32>)> =
        net.links.iter().map(|l| (l.link.name.as_deref().unwrap(), l.plan.device_type(), l.link.mtu)).collect();
    assert_eq!(
        links,
        vec![
            (&b"lo"[..], Some(DeviceType::Loopback), Some(65536)),
            (b"vB", Some(DeviceType::Veth), Some(1500)),
            (b"vA", Some(DeviceType::Veth), Some(1400)),
        ]
    );
    assert_eq!(net.addresses.len(), 8);
    assert_eq!(net.routes.len(), 6, "table main, IPv4 and IPv6");
    assert_eq!(net.rules.iter().map(|r| r.priority.unwrap_or(0)).collect::<Vec<_>>(), vec![0, 1000, 32766, 32767]);
    assert!(net.warnings.is_empty(), "{:?}", net.warnings);
    let nf = net.netfilter.as_ref().unwrap();
    assert_eq!((nf.conntrack_count, nf.expectation_count), (0, 0));
}

#[test]
fn links_criu_cannot_dump_refuse_the_dump_and_nothing_is_written() {
    crate::needs_root!();
    let tree = fixture_tree("ip link set lo up && ip link add vx0 type vxlan id 5 dstport 4789 && ip tuntap add tap0 mode tap");
    let dir = Dir::new("netdev-refuse");
    let mut ctx = Context::new(tree.pid("root")).unwrap();
    ctx.set_images_dir(&dir.0).unwrap();
    ctx.collect_namespaces(false).unwrap();
    let e = ctx.dump_net_ns(10).unwrap_err();
    assert_eq!(e.errno(), libc::EOPNOTSUPP);
    assert!(e.message().contains("link 2 (vx0): CRIU 4.2 cannot dump it: Unsupported link 2 (type 1 kind vxlan)"), "{e}");
    assert!(dir.names().is_empty(), "nothing written: {:?}", dir.names());
    // Shown, not refused: each link with what a dump would make of it.
    let net = ctx.collect_net_config(10).unwrap();
    let plans: Vec<(&[u8], &Plan)> = net.links.iter().map(|l| (l.link.name.as_deref().unwrap(), &l.plan)).collect();
    assert_eq!(plans[0], (&b"lo"[..], &Plan::Dump(DeviceType::Loopback)));
    assert!(matches!(plans[1], (b"vx0", Plan::Refuse(_))));
    assert!(matches!(plans[2], (b"tap0", Plan::Refuse(r)) if r.contains("tun files")));
    assert!(net.sysctls.is_none() && net.links.iter().all(|l| l.confs.is_none()), "show reads no sysctls");
    // The caller's own namespace is not dumped (CRIU's dump_namespaces skips it).
    let own = ctx.namespaces().unwrap().entries().iter().find(|n| n.kind == NsKind::Net && n.ns_type == crate::NsType::Own).unwrap().id;
    assert_eq!(ctx.dump_net_ns(own).unwrap_err().errno(), libc::EINVAL);
    assert_eq!(ctx.dump_net_ns(9).unwrap_err().errno(), libc::EINVAL, "9 is a pid namespace");
    assert_eq!(ctx.net_config(own).unwrap_err().errno(), libc::ENODATA);
}

#[test]
fn a_veth_to_another_namespace_of_the_tree_names_it_by_nsid_and_a_bridge_is_its_master() {
    crate::needs_root!();
    // The root in one net namespace, a child in another; a veth between
    // them, the root's end enslaved to a bridge. No pid namespace: the
    // script names the child by its pid in /proc.
    // The child's words run one shell further down: its `$` is escaped.
    let child = format!("unshare --net sh -c \"{}; exec sleep 1000\" & child=$!", announce("child").replace('$', "\\$"));
    let script = format!(
        "exec unshare --fork --mount --net --propagation private sh -c '{child}; \
         while [ $(readlink /proc/$child/ns/net) = $(readlink /proc/self/ns/net) ]; do sleep 0.01; done; \
         ip link add br0 type bridge && ip link add v0 type veth peer name v1 netns /proc/$child/ns/net && \
         ip link set v0 master br0 && {}; echo ready; read x; kill $child'",
        announce("root")
    );
    let tree = LiveTree::start(&script, &["root", "child"]);
    let dir = Dir::new("netdev-peers");
    let mut ctx = Context::new(tree.pid("root")).unwrap();
    ctx.set_images_dir(&dir.0).unwrap();
    ctx.collect_namespaces(false).unwrap();
    let (root_net, child_net) = (net_id(&ctx, tree.pid("root")), net_id(&ctx, tree.pid("child")));
    ctx.dump_net_ns(root_net).unwrap();
    ctx.dump_net_ns(child_net).unwrap();
    let root = ctx.net_config(root_net).unwrap();
    let br = root.links.iter().find(|l| l.link.name.as_deref() == Some(b"br0")).unwrap();
    let v0 = root.links.iter().find(|l| l.link.name.as_deref() == Some(b"v0")).unwrap();
    assert_eq!(br.plan, Plan::Dump(DeviceType::Bridge));
    assert_eq!(v0.link.master, Some(br.link.ifindex));
    assert_eq!(v0.peer_nsid, Some(child_net), "the peer's namespace by CRIU's id");
    let nsid = v0.link.link_netnsid.expect("the kernel names the peer's namespace");
    assert_eq!(root.nsids, vec![crate::netdev::NetnsId { target_ns_id: child_net, nsid }]);
    // crit sees the same in our images.
    let netns = crit_decode(&dir.0.join(format!("netns-{root_net}.img")));
    assert_eq!(netns["entries"][0]["nsids"], serde_json::json!([{"target_ns_id": child_net, "netnsid_value": nsid}]));
    let netdev = crit_decode(&dir.0.join(format!("netdev-{root_net}.img")));
    let v0_json = netdev["entries"].as_array().unwrap().iter().find(|e| e["name"] == "v0").unwrap();
    assert_eq!((&v0_json["type"], &v0_json["master"], &v0_json["peer_nsid"]), (&"VETH".into(), &br.link.ifindex.into(), &child_net.into()));
    let child_cfg = ctx.net_config(child_net).unwrap();
    let v1 = child_cfg.links.iter().find(|l| l.link.name.as_deref() == Some(b"v1")).unwrap();
    assert_eq!((v1.peer_ifindex, v1.peer_nsid), (v0.link.ifindex, Some(root_net)));
}

#[test]
fn an_external_namespace_gets_its_key_only() {
    crate::needs_root!();
    let tree = fixture_tree("ip link set lo up");
    let dir = Dir::new("netdev-external");
    let mut ctx = Context::new(tree.pid("root")).unwrap();
    ctx.set_images_dir(&dir.0).unwrap();
    let kid = kid_of(tree.pid("root"), "net");
    ctx.add_external(format!("net[{kid}]:outer-net").as_bytes()).unwrap();
    ctx.collect_namespaces(false).unwrap();
    assert_eq!(ctx.dump_net_ns(10).unwrap(), ["netns-10.img"]);
    let netns = crit_decode(&dir.0.join("netns-10.img"));
    assert_eq!(netns["entries"], serde_json::json!([{"ext_key": "outer-net"}]));
    assert_eq!(dir.names(), ["netns-10.img"]);
}

/// Makes an nftables table in the calling thread's namespace with a raw
/// netlink batch (begin, NFT_MSG_NEWTABLE, end), as nft would.
fn add_nft_table(name: &str) {
    use crate::netlink::message::emit;
    let mut sock = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_NETFILTER).unwrap();
    sock.bind_auto().unwrap();
    let nfgen = |family: u8, res_id: u16| {
        let mut b = vec![family, 0];
        b.extend_from_slice(&res_id.to_be_bytes());
        b
    };
    // NFNL_MSG_BATCH_BEGIN / END (0x10 / 0x11), res_id NFNL_SUBSYS_NFTABLES.
    let mut batch = emit(0x10, crate::netlink::NLM_F_REQUEST, 1, &nfgen(0, 10));
    let mut table = nfgen(libc::AF_INET as u8, 0);
    let mut n = name.as_bytes().to_vec();
    n.push(0);
    crate::netlink::attr::push(&mut table, 1, &n); // NFTA_TABLE_NAME
    // NFT_MSG_NEWTABLE, create, with an ack.
    batch.extend(emit(0x0a00, crate::netlink::NLM_F_REQUEST | crate::netlink::NLM_F_ACK | 0x400, 2, &table));
    batch.extend(emit(0x11, crate::netlink::NLM_F_REQUEST, 3, &nfgen(0, 10)));
    sock.send_to(&batch, &netlink_sys::SocketAddr::new(0, 0), 0).unwrap();
    let (reply, _) = sock.recv_from_full().unwrap();
    // The ack of message 2: NLMSG_ERROR with code 0.
    assert_eq!(nlmsghdr::NLMSG_TYPE.get(&reply), crate::netlink::NLMSG_ERROR);
    assert_eq!(crate::netlink::bytes::I32(nlmsghdr::LEN).get(&reply), 0, "nftables refused the table");
}

#[test]
fn an_nftables_ruleset_refuses_the_dump_and_its_absence_writes_criu_empty_image() {
    crate::needs_root!();
    let tree = fixture_tree("ip link set lo up");
    let dir = Dir::new("netdev-nft");
    let mut ctx = Context::new(tree.pid("root")).unwrap();
    ctx.set_images_dir(&dir.0).unwrap();
    ctx.collect_namespaces(false).unwrap();
    assert!(ctx.dump_net_ns(10).unwrap().contains(&"nftables-10.img".to_string()));
    assert!(dir.read("nftables-10.img").is_empty());
    std::fs::remove_dir_all(&dir.0).unwrap();
    std::fs::create_dir(&dir.0).unwrap();
    ctx.set_images_dir(&dir.0).unwrap();
    let ns_fd = crate::ns::enter::open_ns(&crate::ProcRoot::default(), tree.pid("root"), NsKind::Net).unwrap();
    crate::ns::enter::run_in_namespace(&ns_fd, NsKind::Net, || {
        add_nft_table("criurs_test");
        Ok(())
    })
    .unwrap();
    let e = ctx.dump_net_ns(10).unwrap_err();
    assert_eq!(e.errno(), libc::EOPNOTSUPP);
    assert!(e.message().contains("nftables ruleset (tables: ip criurs_test)"), "{e}");
    assert!(dir.names().is_empty(), "nothing written: {:?}", dir.names());
}

#[test]
fn a_veth_whose_peer_is_outside_the_tree_is_dumped_without_a_peer_namespace() {
    crate::needs_root!();
    // The peer's namespace is pinned by a bind mount in the tree's private
    // mount namespace, and no task of the tree is in it.
    // Each step on its own: the holder is killed whatever happened before.
    let script = format!(
        "exec unshare --fork --mount --net --propagation private sh -c 'mount -t tmpfs t /tmp; touch /tmp/ns; \
         unshare --net sleep 1000 & child=$!; \
         while [ $(readlink /proc/$child/ns/net) = $(readlink /proc/self/ns/net) ]; do sleep 0.01; done; \
         mount --bind /proc/$child/ns/net /tmp/ns; ip link add v0 type veth peer name v1 netns /tmp/ns; \
         kill $child; wait $child; {}; echo ready; read x'",
        announce("root")
    );
    let tree = LiveTree::start(&script, &["root"]);
    let dir = Dir::new("netdev-outside");
    let mut ctx = Context::new(tree.pid("root")).unwrap();
    ctx.set_images_dir(&dir.0).unwrap();
    ctx.collect_namespaces(false).unwrap();
    let id = net_id(&ctx, tree.pid("root"));
    ctx.dump_net_ns(id).unwrap();
    let net = ctx.net_config(id).unwrap();
    let v0 = net.links.iter().find(|l| l.link.name.as_deref() == Some(b"v0")).unwrap();
    assert!(v0.link.link_netnsid.is_some());
    assert_eq!(v0.peer_nsid, None, "no namespace of the tree has that nsid");
    assert_eq!(net.warnings, vec!["The v0 veth is in an external netns".to_string()]);
    assert!(net.nsids.is_empty());
    let netdev = crit_decode(&dir.0.join(format!("netdev-{id}.img")));
    let v0_json = netdev["entries"].as_array().unwrap().iter().find(|e| e["name"] == "v0").unwrap();
    assert!(v0_json.get("peer_nsid").is_none(), "{v0_json}");
}

#[test]
fn dump_namespaces_runs_the_net_arm_and_its_refusal_writes_nothing() {
    crate::needs_root!();
    let tree = fixture_tree("ip link set lo up && ip addr add 10.11.12.13/8 dev lo");
    let dir = Dir::new("netdev-nsimg");
    let mut ctx = Context::new(tree.pid("root")).unwrap();
    ctx.set_images_dir(&dir.0).unwrap();
    ctx.collect_namespaces(true).unwrap();
    let written = ctx.dump_namespaces().unwrap();
    for name in ["netdev-10.img", "netns-10.img", "ifaddr-10.img", "route-10.img", "route6-10.img", "rule-10.img", "nftables-10.img", "utsns-12.img"] {
        assert!(written.iter().any(|w| w == name), "{name} in {written:?}");
    }
    assert_eq!(ctx.namespace_images().unwrap().net, vec![10]);
    assert_eq!(ctx.net_config(10).unwrap().addresses.len(), 3, "127.0.0.1, 10.11.12.13, ::1");
    // Now a link CRIU cannot dump: the whole dump is refused, nothing written.
    let ns_fd = crate::ns::enter::open_ns(&crate::ProcRoot::default(), tree.pid("root"), NsKind::Net).unwrap();
    let status = crate::ns::enter::run_in_namespace(&ns_fd, NsKind::Net, || {
        Ok(Command::new("ip").args(["link", "add", "vx0", "type", "vxlan", "id", "7", "dstport", "4789"]).status().unwrap())
    })
    .unwrap();
    assert!(status.success());
    let again = Dir::new("netdev-nsimg-refused");
    ctx.set_images_dir(&again.0).unwrap();
    let e = ctx.dump_namespaces().unwrap_err();
    assert_eq!(e.errno(), libc::EOPNOTSUPP, "{e}");
    assert!(e.message().contains("kind vxlan"), "{e}");
    assert!(again.names().is_empty(), "{:?}", again.names());
}

#[test]
fn ping_group_range_is_recorded_as_the_trees_user_namespace_sees_it() {
    crate::needs_root!();
    // The root in its own user and net namespaces, gids 0.. mapped to
    // 100000.. by the script outside; inside, ping_group_range "0 10".
    // The inner words run one shell further down: quotes and `$` escaped;
    // its stdin is the script's (a background job's would be /dev/null).
    let inner = format!(
        "while [ -z \\\"\\$(cat /proc/self/gid_map)\\\" ]; do sleep 0.01; done; \
         echo 0 10 >/proc/sys/net/ipv4/ping_group_range && {}; echo ready; read x",
        announce("root").replace('$', "\\$")
    );
    let script = format!(
        "exec 3<&0; unshare --user --net sh -c \"{inner}\" <&3 & c=$!; \
         while [ $(readlink /proc/$c/ns/user) = $(readlink /proc/self/ns/user) ]; do sleep 0.01; done; \
         echo 0 100000 65536 >/proc/$c/uid_map && echo deny >/proc/$c/setgroups && echo 0 100000 65536 >/proc/$c/gid_map; wait $c"
    );
    let tree = LiveTree::start(&script, &["root"]);
    let root = tree.pid("root");
    // The caller sees the kernel's gids.
    let ns_fd = crate::ns::enter::open_ns(&crate::ProcRoot::default(), root, NsKind::Net).unwrap();
    let seen = crate::ns::enter::run_in_namespace(&ns_fd, NsKind::Net, || {
        std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").map_err(|e| crate::Error::io(&e, "read"))
    })
    .unwrap();
    assert_eq!(seen, "100000\t100010\n");
    let dir = Dir::new("netdev-userns");
    let mut ctx = Context::new(root).unwrap();
    ctx.set_images_dir(&dir.0).unwrap();
    ctx.collect_namespaces(false).unwrap();
    let id = net_id(&ctx, root);
    ctx.dump_net_ns(id).unwrap();
    // The installed crit predates netns_entry's ipv4_sysctl (field 10; it
    // drops the field of CRIU's fixture too): read it with our types.
    let name = format!("netns-{id}.img");
    let entries: Vec<crate::image::pb::NetnsEntry> = crate::image::decode(&dir.read(&name), crate::image::NETNS_MAGIC, &name).unwrap();
    let ctl_str = crate::image::pb::SysctlType::CtlStr as i32;
    assert_eq!(entries[0].ipv4_sysctl, vec![crate::image::pb::SysctlEntry { r#type: ctl_str, iarg: None, sarg: Some("0\t10\n".into()) }]);
    assert!(crit_decode(&dir.0.join(&name))["entries"][0]["all_conf4"].is_array(), "crit reads the rest");
}

/// Adds a UDP conntrack entry 10.1.1.1:1111 -> 10.1.1.2:2222 in the calling
/// thread's namespace through ctnetlink (IPCTNL_MSG_CT_NEW), as
/// `conntrack -I` would.
fn add_conntrack_entry() {
    use crate::netlink::attr::push;
    const NESTED: u16 = 0x8000;
    let tuple = |src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16| {
        let (mut ip, mut proto, mut t) = (Vec::new(), Vec::new(), Vec::new());
        push(&mut ip, 1, &src); // CTA_IP_V4_SRC
        push(&mut ip, 2, &dst); // CTA_IP_V4_DST
        push(&mut proto, 1, &[libc::IPPROTO_UDP as u8]); // CTA_PROTO_NUM
        push(&mut proto, 2, &sport.to_be_bytes()); // CTA_PROTO_SRC_PORT
        push(&mut proto, 3, &dport.to_be_bytes()); // CTA_PROTO_DST_PORT
        push(&mut t, 1 | NESTED, &ip); // CTA_TUPLE_IP
        push(&mut t, 2 | NESTED, &proto); // CTA_TUPLE_PROTO
        t
    };
    let mut body = vec![libc::AF_INET as u8, 0, 0, 0]; // nfgenmsg
    push(&mut body, 1 | NESTED, &tuple([10, 1, 1, 1], [10, 1, 1, 2], 1111, 2222)); // CTA_TUPLE_ORIG
    push(&mut body, 2 | NESTED, &tuple([10, 1, 1, 2], [10, 1, 1, 1], 2222, 1111)); // CTA_TUPLE_REPLY
    push(&mut body, 7, &600u32.to_be_bytes()); // CTA_TIMEOUT
    let flags = crate::netlink::NLM_F_REQUEST | crate::netlink::NLM_F_ACK | 0x400 | 0x200; // CREATE | EXCL
    let msg = crate::netlink::message::emit(0x0100, flags, 1, &body);
    let mut sock = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_NETFILTER).unwrap();
    sock.bind_auto().unwrap();
    sock.send_to(&msg, &netlink_sys::SocketAddr::new(0, 0), 0).unwrap();
    let (reply, _) = sock.recv_from_full().unwrap();
    assert_eq!(nlmsghdr::NLMSG_TYPE.get(&reply), crate::netlink::NLMSG_ERROR);
    assert_eq!(crate::netlink::bytes::I32(nlmsghdr::LEN).get(&reply), 0, "ctnetlink refused the entry");
}

#[test]
fn conntrack_entries_are_written_as_criu_writes_them() {
    crate::needs_root!();
    let tree = fixture_tree("ip link set lo up");
    let ns_fd = crate::ns::enter::open_ns(&crate::ProcRoot::default(), tree.pid("root"), NsKind::Net).unwrap();
    crate::ns::enter::run_in_namespace(&ns_fd, NsKind::Net, || {
        add_conntrack_entry();
        Ok(())
    })
    .unwrap();
    let dir = Dir::new("netdev-ct");
    let mut ctx = Context::new(tree.pid("root")).unwrap();
    ctx.set_images_dir(&dir.0).unwrap();
    ctx.collect_namespaces(false).unwrap();
    let written = ctx.dump_net_ns(10).unwrap();
    assert!(written.contains(&"netns-ct-10.img".to_string()), "{written:?}");
    assert!(!written.contains(&"netns-exp-10.img".to_string()), "no expectation: no image, as CRIU's lazy one");
    // The raw image: the kernel's IPCTNL_MSG_CT_NEW messages back to back.
    let ct = dir.read("netns-ct-10.img");
    assert_eq!(nlmsghdr::NLMSG_LEN.get(&ct) as usize, ct.len(), "one message");
    assert_eq!(nlmsghdr::NLMSG_TYPE.get(&ct), 0x0100);
    let ports = [1111u16.to_be_bytes(), 2222u16.to_be_bytes()].concat();
    assert!(ct.windows(4).any(|w| w == [10, 1, 1, 1]) && ct.windows(2).any(|w| w == &ports[..2]), "the entry's tuple");
    assert_eq!(ctx.net_config(10).unwrap().netfilter.as_ref().unwrap().conntrack_count, 1);
}
