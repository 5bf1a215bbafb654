//! The netdev room on recorded bytes (CRIU 4.2's ns-sockets images and
//! the kernel messages its ip-save streams hold; RTM_NEWLINK replies
//! written out byte by byte) and live (tests/live.rs in this room).

use super::link::{self, DeviceType, Plan};
use super::route::{parse_address, parse_route, parse_rule, SaveFilter};
use super::stream::{Stream, IFADDR_MAGIC, ROUTE_MAGIC, RULE_MAGIC};
use super::*;
use crate::image::{decode, encode, pb, NETDEV_MAGIC, NETNS_MAGIC};
use crate::netlink::message::nlmsghdr;
use crate::netlink::UnknownAttrs;
use std::net::IpAddr;

mod live;

/// A file of CRIU 4.2's ns-sockets fixture (the network this room dumps).
pub(crate) fn fixture(name: &str) -> Vec<u8> {
    crate::testing::fixture_in("ns-sockets", name)
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

fn payloads(stream: &Stream) -> Vec<&[u8]> {
    stream.messages().unwrap().into_iter().map(|m| &m[nlmsghdr::LEN..]).collect()
}

#[test]
fn criu_ifaddr_stream_holds_every_address_as_the_kernel_sent_it() {
    let s = Stream::parse(&fixture("ifaddr-10.img"), IFADDR_MAGIC, "ifaddr-10.img").unwrap();
    let mut unknown = UnknownAttrs::default();
    let got: Vec<(u32, Option<IpAddr>, u8, u8)> = payloads(&s)
        .iter()
        .map(|p| parse_address(p, &mut unknown).unwrap())
        .map(|a| (a.ifindex, a.ip(), a.prefixlen, a.scope))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, ip("127.0.0.1"), 8, 254),
            (1, ip("10.11.12.13"), 8, 0),
            (2, ip("192.168.77.2"), 24, 0),
            (3, ip("192.168.77.1"), 24, 0),
            (1, ip("::1"), 128, 254),
            (2, ip("fe80::ff:feaa:bb02"), 64, 253),
            (3, ip("fd00:77::1"), 64, 0),
            (3, ip("fe80::ff:feaa:bb01"), 64, 253),
        ]
    );
    // Each message is an RTM_NEWADDR of a multi-part dump, as saved.
    for m in s.messages().unwrap() {
        assert_eq!(nlmsghdr::NLMSG_TYPE.get(m), crate::netlink::route::RTM_NEWADDR);
        assert_eq!(nlmsghdr::NLMSG_FLAGS.get(m), crate::netlink::NLM_F_MULTI);
    }
    let a = parse_address(payloads(&s)[6], &mut unknown).unwrap();
    assert_eq!((a.flags, a.valid_lft, a.label), (0x82, Some(u32::MAX), None), "fd00:77::1: nodad|permanent, forever");
    assert_eq!(parse_address(payloads(&s)[0], &mut unknown).unwrap().label.as_deref(), Some(&b"lo"[..]));
    // IFA_PROTO (11) is not read: counted.
    assert_eq!(unknown.kinds().collect::<Vec<_>>(), vec![11]);
    // Our writer puts the same bytes back.
    let mut again = Stream::new(IFADDR_MAGIC);
    for m in s.messages().unwrap() {
        again.push(m);
    }
    assert_eq!(again.bytes(), s.bytes());
}

#[test]
fn criu_route_streams_hold_table_main_and_pass_the_save_filter() {
    let v4 = Stream::parse(&fixture("route-10.img"), ROUTE_MAGIC, "route-10.img").unwrap();
    let v6 = Stream::parse(&fixture("route6-10.img"), ROUTE_MAGIC, "route6-10.img").unwrap();
    let mut unknown = UnknownAttrs::default();
    let routes: Vec<Route> = payloads(&v4).iter().chain(payloads(&v6).iter()).map(|p| parse_route(p, &mut unknown).unwrap()).collect();
    let shown: Vec<(Option<IpAddr>, u8, Option<IpAddr>, Option<u32>, u32, u8)> = routes
        .iter()
        .map(|r| (r.dst.as_deref().and_then(route::ip), r.dst_len, r.gateway.as_deref().and_then(route::ip), r.oif, r.table, r.protocol))
        .collect();
    assert_eq!(
        shown,
        vec![
            (ip("10.200.0.0"), 16, ip("192.168.77.2"), Some(3), 254, 3),
            (ip("192.168.77.0"), 24, None, Some(3), 254, 2),
            (ip("192.168.77.0"), 24, None, Some(2), 254, 2),
            (ip("fd00:77::"), 64, None, Some(3), 254, 2),
            (ip("fe80::"), 64, None, Some(2), 254, 2),
            (ip("fe80::"), 64, None, Some(3), 254, 2),
        ]
    );
    assert_eq!(routes[1].prefsrc.as_deref().and_then(route::ip), ip("192.168.77.1"));
    assert_eq!(routes[3].priority, Some(256));
    // The kernel filtered the dump by table (strict checking): flags say so.
    for m in v4.messages().unwrap().iter().chain(v6.messages().unwrap().iter()) {
        assert_eq!(nlmsghdr::NLMSG_FLAGS.get(m), crate::netlink::NLM_F_MULTI | crate::netlink::NLM_F_DUMP_FILTERED);
    }
    // ip route save's filter keeps every one of them.
    let mut f4 = SaveFilter::new(None);
    let mut f6 = SaveFilter::new(Some(libc::AF_INET6 as u8));
    assert!(routes[..3].iter().all(|r| f4.keeps(r)));
    assert!(routes[3..].iter().all(|r| f6.keeps(r)));
}

#[test]
fn the_save_filter_drops_what_ip_route_save_drops() {
    let main = Route { family: libc::AF_INET as u8, table: 254, rtype: 1, ..Default::default() };
    let mut f = SaveFilter::new(None);
    assert!(f.keeps(&main));
    assert!(!f.keeps(&Route { table: 100, ..main.clone() }), "another table (a kernel that does not filter)");
    assert!(!f.keeps(&Route { flags: route::RTM_F_CLONED, ..main.clone() }), "a cached route");
    let v6 = Route { family: libc::AF_INET6 as u8, ..main.clone() };
    let mut f6 = SaveFilter::new(Some(libc::AF_INET6 as u8));
    assert!(!f6.keeps(&main), "IPv4 in the IPv6 save");
    assert!(f6.keeps(&v6));
    assert!(!f6.keeps(&Route { rtype: route::RTN_LOCAL, ..v6.clone() }), "local routes, while one table is seen");
    assert!(!f6.keeps(&Route { table: 255, rtype: route::RTN_LOCAL, ..v6.clone() }));
    // Once another table was seen, local routes of table main are kept.
    assert!(f6.keeps(&Route { rtype: route::RTN_LOCAL, ..v6 }));
}

#[test]
fn criu_rule_stream_holds_the_ipv4_rules() {
    let s = Stream::parse(&fixture("rule-10.img"), RULE_MAGIC, "rule-10.img").unwrap();
    let mut unknown = UnknownAttrs::default();
    let rules: Vec<Rule> = payloads(&s).iter().map(|p| parse_rule(p, &mut unknown).unwrap()).collect();
    let got: Vec<(Option<u32>, u32, u8, Option<IpAddr>, u8)> =
        rules.iter().map(|r| (r.priority, r.table, r.action, r.src.as_deref().and_then(route::ip), r.src_len)).collect();
    assert_eq!(
        got,
        vec![
            (None, 255, 1, None, 0),
            (Some(1000), 100, 1, ip("192.168.77.0"), 24),
            (Some(32766), 254, 1, None, 0),
            (Some(32767), 253, 1, None, 0),
        ]
    );
    assert!(rules.iter().all(|r| r.family == libc::AF_INET as u8));
}

#[test]
fn streams_with_a_wrong_magic_or_a_lying_length_are_refused() {
    let bytes = fixture("route-10.img");
    assert!(Stream::parse(&bytes, IFADDR_MAGIC, "r").unwrap_err().message().contains("magic"));
    assert!(Stream::parse(&bytes[..2], ROUTE_MAGIC, "r").unwrap_err().message().contains("missing"));
    for cut in [5, 20, bytes.len() - 1] {
        assert_eq!(Stream::parse(&bytes[..cut], ROUTE_MAGIC, "r").unwrap_err().errno(), libc::EBADMSG, "cut at {cut}");
    }
    let mut lying = bytes.clone();
    lying[4..8].copy_from_slice(&8u32.to_ne_bytes()); // shorter than a header
    assert!(Stream::parse(&lying, ROUTE_MAGIC, "r").is_err());
    assert_eq!(Stream::parse(&bytes[..4], ROUTE_MAGIC, "r").unwrap().len(), 0, "a magic alone is an empty stream");
}

#[test]
fn criu_netdev_and_netns_images_decode_into_our_types_and_back_byte_for_byte() {
    let netdev = fixture("netdev-10.img");
    let devs: Vec<pb::NetDeviceEntry> = decode(&netdev, NETDEV_MAGIC, "netdev-10.img").unwrap();
    assert_eq!(encode(NETDEV_MAGIC, &devs), netdev);
    let names: Vec<(&[u8], i32, u32, u32, Option<u32>, Option<u32>)> =
        devs.iter().map(|d| (d.name.as_slice(), d.r#type, d.ifindex, d.mtu, d.peer_ifindex, d.peer_nsid)).collect();
    assert_eq!(
        names,
        vec![
            (&b"lo"[..], DeviceType::Loopback as i32, 1, 65536, Some(1), Some(10)),
            (b"vB", DeviceType::Veth as i32, 2, 1500, Some(3), Some(10)),
            (b"vA", DeviceType::Veth as i32, 3, 1400, Some(2), Some(10)),
        ]
    );
    assert_eq!(devs[2].address.as_deref(), Some(&[2, 0, 0, 0xaa, 0xbb, 1][..]));
    assert_eq!(devs[0].address, None, "no address for loopback");
    assert_eq!((devs[0].conf4.len(), devs[0].conf6.len()), (30, 42));
    // rp_filter on vA is 2, CTL_32; stable_secret has no value.
    assert_eq!(devs[2].conf4[21].iarg, Some(2));
    assert_eq!(devs[2].conf6[35], pb::SysctlEntry { r#type: pb::SysctlType::CtlStr as i32, iarg: None, sarg: None });
    let netns = fixture("netns-10.img");
    let ns: Vec<pb::NetnsEntry> = decode(&netns, NETNS_MAGIC, "netns-10.img").unwrap();
    assert_eq!(encode(NETNS_MAGIC, &ns), netns);
    assert_eq!(ns.len(), 1);
    assert_eq!(ns[0].unix_conf[0].iarg, Some(64), "max_dgram_qlen");
    assert_eq!(ns[0].all_conf4[12].iarg, Some(1), "ip_forward");
    assert_eq!(ns[0].all_conf6[18].iarg, Some(1), "ipv6 forwarding");
    // ping_group_range at its default: a string entry without a value.
    assert_eq!(ns[0].ipv4_sysctl, vec![pb::SysctlEntry { r#type: pb::SysctlType::CtlStr as i32, iarg: None, sarg: None }]);
    assert!(ns[0].nsids.is_empty() && ns[0].ext_key.is_none());
}

// ---- RTM_NEWLINK replies, written out ----

/// A link reply's payload: ifinfomsg (family, pad, type, index, flags,
/// change), then the attributes.
struct LinkMsg(Vec<u8>);

impl LinkMsg {
    fn new(hw_type: u16, index: u32, flags: u32) -> Self {
        let mut p = vec![0u8, 0]; // ifi_family AF_UNSPEC, pad
        p.extend_from_slice(&hw_type.to_ne_bytes()); // ifi_type
        p.extend_from_slice(&index.to_ne_bytes()); // ifi_index
        p.extend_from_slice(&flags.to_ne_bytes()); // ifi_flags
        p.extend_from_slice(&0u32.to_ne_bytes()); // ifi_change
        LinkMsg(p)
    }
    fn attr(mut self, kind: u16, payload: &[u8]) -> Self {
        crate::netlink::attr::push(&mut self.0, kind, payload);
        self
    }
    /// IFLA_LINKINFO with IFLA_INFO_KIND and, if given, IFLA_INFO_DATA.
    fn info(self, kind: &[u8], data: Option<Vec<u8>>) -> Self {
        let mut nest = Vec::new();
        let mut k = kind.to_vec();
        k.push(0);
        crate::netlink::attr::push(&mut nest, link::ifla::INFO_KIND, &k);
        if let Some(d) = data {
            crate::netlink::attr::push(&mut nest, link::ifla::INFO_DATA, &d);
        }
        self.attr(link::ifla::LINKINFO, &nest)
    }
    fn named(self, name: &[u8]) -> Self {
        let mut n = name.to_vec();
        n.push(0);
        self.attr(link::ifla::IFNAME, &n).attr(link::ifla::MTU, &1500u32.to_ne_bytes())
    }
    fn parse(&self) -> Link {
        link::parse_link(&self.0, &mut UnknownAttrs::default()).unwrap()
    }
}

#[test]
fn a_veth_reply_gives_its_peer_address_and_master() {
    // vA: ether (1), index 3, UP|BROADCAST|RUNNING|MULTICAST|LOWER_UP
    let m = LinkMsg::new(1, 3, 0x11043)
        .attr(3, b"vA\0") // IFLA_IFNAME
        .attr(4, &1400u32.to_ne_bytes()) // IFLA_MTU
        .attr(5, &2u32.to_ne_bytes()) // IFLA_LINK: the peer vB
        .attr(1, &[2, 0, 0, 0xaa, 0xbb, 1]) // IFLA_ADDRESS
        .attr(2, &[0xff; 6]) // IFLA_BROADCAST
        .attr(10, &7u32.to_ne_bytes()) // IFLA_MASTER: a bridge
        .attr(16, &[6]) // IFLA_OPERSTATE: IF_OPER_UP
        .attr(13, &1000u32.to_ne_bytes()) // IFLA_TXQLEN (not read)
        .info(b"veth", None);
    let mut unknown = UnknownAttrs::default();
    let l = link::parse_link(&m.0, &mut unknown).unwrap();
    assert_eq!((l.ifindex, l.hw_type, l.flags, l.name.as_deref(), l.mtu), (3, 1, 0x11043, Some(&b"vA"[..]), Some(1400)));
    assert_eq!((l.link, l.link_netnsid, l.master, l.operstate), (Some(2), None, Some(7), Some(6)));
    assert_eq!(l.address.as_deref(), Some(&[2, 0, 0, 0xaa, 0xbb, 1][..]));
    assert_eq!(l.kind.as_deref(), Some(&b"veth"[..]));
    assert_eq!(unknown.kinds().collect::<Vec<_>>(), vec![13]);
    assert_eq!(link::plan(&l), Plan::Dump(DeviceType::Veth));
    // Cut anywhere inside its attributes, it is refused, not misread.
    for cut in [10, 18, m.0.len() - 1] {
        assert!(link::parse_link(&m.0[..cut], &mut unknown).is_err(), "cut at {cut}");
    }
}

#[test]
fn every_link_kind_gets_criu_4_2_plan() {
    let lo = LinkMsg::new(link::arphrd::LOOPBACK, 1, 0x10049).named(b"lo").parse();
    assert_eq!(link::plan(&lo), Plan::Dump(DeviceType::Loopback), "loopback needs no kind");
    let bridge = LinkMsg::new(1, 4, 0x1003).named(b"br0").info(b"bridge", None).parse();
    assert_eq!(link::plan(&bridge), Plan::Dump(DeviceType::Bridge));
    let venet = LinkMsg::new(link::arphrd::VOID, 5, 0).named(b"venet0").info(b"venet", None).parse();
    assert_eq!(link::plan(&venet), Plan::Dump(DeviceType::Venet));
    // The fallback tunnels are left out.
    let gre0 = LinkMsg::new(link::arphrd::IPGRE, 6, 0x80).named(b"gre0").info(b"gre", None).parse();
    assert!(matches!(link::plan(&gre0), Plan::Skip(_)));
    let gretap0 = LinkMsg::new(1, 7, 0).named(b"gretap0").info(b"gretap", None).parse();
    assert!(matches!(link::plan(&gretap0), Plan::Skip(_)));
    let sit0 = LinkMsg::new(link::arphrd::SIT, 8, 0x80).named(b"sit0").info(b"sit", Some(Vec::new())).parse();
    assert!(matches!(link::plan(&sit0), Plan::Skip(_)));
    // Refusals, in CRIU's words.
    let refused = |l: &Link| match link::plan(l) {
        Plan::Refuse(r) => r,
        p => panic!("{p:?}"),
    };
    let vxlan = LinkMsg::new(1, 9, 0).named(b"vx0").info(b"vxlan", None).parse();
    assert_eq!(refused(&vxlan), "Unsupported link 9 (type 1 kind vxlan)");
    let gre1 = LinkMsg::new(link::arphrd::IPGRE, 10, 0).named(b"gre1").info(b"gre", None).parse();
    assert_eq!(refused(&gre1), "Unsupported link 10 (type 778 kind gre)");
    let no_kind = LinkMsg::new(1, 11, 0).named(b"eth0").parse();
    assert_eq!(refused(&no_kind), "Unsupported link 11 (type 1 kind (null))");
    let tunl0 = LinkMsg::new(768, 12, 0).named(b"tunl0").info(b"ipip", None).parse();
    assert_eq!(refused(&tunl0), "Unsupported link 12 (type 768 kind ipip)");
    let tap = LinkMsg::new(1, 13, 0).named(b"tap0").info(b"tun", None).parse();
    assert!(refused(&tap).contains("open tun files"));
    let wrong_sit = LinkMsg::new(link::arphrd::SIT, 14, 0).named(b"s1").info(b"ip6tnl", None).parse();
    assert_eq!(refused(&wrong_sit), "SIT device with ip6tnl kind");
    let unnamed = LinkMsg::new(1, 15, 0).info(b"veth", None).parse();
    assert_eq!(refused(&unnamed), "No name for link 15");
    // macvlan: its mode is required.
    let mut data = Vec::new();
    crate::netlink::attr::push(&mut data, link::ifla::MACVLAN_FLAGS, &1u16.to_ne_bytes());
    let modeless = LinkMsg::new(1, 16, 0).named(b"mv0").info(b"macvlan", Some(data.clone())).parse();
    assert_eq!(refused(&modeless), "macvlan mode required for mv0");
    let dataless = LinkMsg::new(1, 16, 0).named(b"mv0").info(b"macvlan", None).parse();
    assert_eq!(refused(&dataless), "no data for macvlan");
    crate::netlink::attr::push(&mut data, link::ifla::MACVLAN_MODE, &4u32.to_ne_bytes()); // bridge mode
    let mv = LinkMsg::new(1, 16, 0).named(b"mv0").info(b"macvlan", Some(data)).parse();
    assert_eq!(link::plan(&mv), Plan::Dump(DeviceType::Macvlan));
    assert_eq!(mv.macvlan, Some(link::MacvlanInfo { mode: Some(4), flags: Some(1) }));
    // A hostile name is escaped in the reason.
    let hostile = LinkMsg::new(1, 17, 0).named(b"x\x1b[2J\xff").info(b"wireguard", None).parse();
    assert!(link::refusal(10, &hostile, &refused(&hostile)).message().contains("(x\\x1b[2J\\xff)"));
}

#[test]
fn a_sit_tunnel_is_recorded_as_criu_encodes_it() {
    let mut data = Vec::new();
    let push = |d: &mut Vec<u8>, k: u16, v: &[u8]| crate::netlink::attr::push(d, k, v);
    push(&mut data, link::iptun::LINK, &0u32.to_ne_bytes());
    push(&mut data, link::iptun::LOCAL, &[10, 0, 0, 1]);
    push(&mut data, link::iptun::REMOTE, &[0, 0, 0, 0]); // any: not recorded
    push(&mut data, link::iptun::TTL, &[64]);
    push(&mut data, link::iptun::TOS, &[0]);
    push(&mut data, link::iptun::PMTUDISC, &[1]);
    push(&mut data, link::iptun::FLAGS, &0u16.to_ne_bytes());
    push(&mut data, link::iptun::PROTO, &[41]);
    push(&mut data, link::iptun::RD_PREFIXLEN, &0u16.to_ne_bytes()); // no 6rd
    push(&mut data, link::iptun::RD_RELAY_PREFIXLEN, &0u16.to_ne_bytes());
    let l = LinkMsg::new(link::arphrd::SIT, 20, 0x91).named(b"sit1").info(b"sit", Some(data.clone())).parse();
    assert_eq!(link::plan(&l), Plan::Dump(DeviceType::Sit));
    let e = LinkEntry { link: l, plan: Plan::Dump(DeviceType::Sit), peer_ifindex: 20, peer_nsid: Some(10), confs: Some(Confs::default()) };
    let entry = image::net_device_entry(&e, DeviceType::Sit).unwrap();
    let sit = entry.sit.unwrap();
    assert_eq!(sit.local, vec![u32::from_ne_bytes([10, 0, 0, 1])]);
    assert!(sit.remote.is_empty());
    assert_eq!((sit.ttl, sit.pmtudisc, sit.proto, sit.rd_prefixlen), (Some(64), Some(true), Some(41), None));
    // 6rd without its prefix is refused, as CRIU does.
    push(&mut data, link::iptun::RD_PREFIXLEN, &16u16.to_ne_bytes());
    let bad = LinkMsg::new(link::arphrd::SIT, 21, 0).named(b"sit2").info(b"sit", Some(data)).parse();
    assert_eq!(link::plan(&bad), Plan::Refuse("No 6rd prefix for sit device".into()));
}

#[test]
fn names_are_escaped_for_people() {
    assert_eq!(escape(b"vA"), "vA");
    assert_eq!(escape(b"a b\\\n\xff"), "a b\\x5c\\x0a\\xff");
}

#[test]
fn a_dump_refuses_what_criu_cannot_dump_and_what_criurs_cannot_write() {
    let vx = LinkMsg::new(1, 9, 0).named(b"vx0").info(b"vxlan", None).parse();
    let mut c = NetConfig { ns_id: 10, for_dump: true, ..Default::default() };
    c.links.push(LinkEntry { plan: link::plan(&vx), link: vx, peer_ifindex: 9, peer_nsid: Some(10), confs: None });
    let e = c.images().unwrap_err();
    assert_eq!(e.errno(), libc::EOPNOTSUPP);
    assert_eq!(e.message(), "net namespace 10: link 9 (vx0): CRIU 4.2 cannot dump it: Unsupported link 9 (type 1 kind vxlan)");
    // nftables tables and legacy iptables tables.
    let mut nf = Netfilter { nft_tables: Some(vec![netfilter::NftTable { family: 1, name: b"filter".to_vec() }]), ..Default::default() };
    assert!(nf.refusal(10).unwrap().message().contains("nftables ruleset (tables: inet filter)"));
    nf.nft_tables = None;
    assert!(nf.refusal(10).is_none(), "no nf_tables: no ruleset");
    nf.legacy.ipv6 = vec![b"mangle".to_vec()];
    assert!(nf.refusal(10).unwrap().message().contains("legacy iptables tables (ip6 mangle)"));
    // A show collection is not a dump.
    let show = NetConfig { ns_id: 3, ..Default::default() };
    assert_eq!(show.images().unwrap_err().errno(), libc::EINVAL);
    // An external namespace: its key only.
    let ext = NetConfig { ns_id: 4, for_dump: true, external_key: Some(b"outer".to_vec()), netfilter: Some(Netfilter::default()), ..Default::default() };
    let images = ext.images().unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].0, "netns-4.img");
    let entries: Vec<pb::NetnsEntry> = decode(&images[0].1, NETNS_MAGIC, "netns-4.img").unwrap();
    assert_eq!(entries, vec![pb::NetnsEntry { ext_key: Some(b"outer".to_vec()), ..Default::default() }]);
}

#[test]
fn an_interrupted_dump_is_made_again_and_one_that_stays_so_is_refused() {
    let mut unknown = UnknownAttrs::default();
    let mut tries = 0;
    let got = consistent("test", &mut unknown, |u, intr| {
        tries += 1;
        u.note(40 + tries);
        *intr = tries < 3;
        Ok(tries)
    })
    .unwrap();
    assert_eq!(got, 3);
    assert_eq!(unknown.kinds().collect::<Vec<_>>(), vec![43], "only the kept dump's tally");
    let e = consistent("link", &mut unknown, |_, intr| {
        *intr = true;
        Ok(())
    })
    .unwrap_err();
    assert_eq!(e.errno(), libc::EAGAIN);
    assert_eq!(e.message(), "the link dump was interrupted by changes 5 times in a row");
    let e = consistent("x", &mut unknown, |_, _| -> Result<()> { Err(Error::malformed("bad")) }).unwrap_err();
    assert_eq!(e.message(), "bad", "an error is not retried");
}

#[test]
fn a_stream_fed_a_part_message_says_so_instead_of_splitting_it() {
    let mut s = Stream::new(ROUTE_MAGIC);
    s.push(&[20, 0, 0, 0, 24, 0]); // a header cut short
    assert_eq!(s.messages().unwrap_err().errno(), libc::EBADMSG);
}
