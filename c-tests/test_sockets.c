/* Socket collection from C: a child in a fresh network namespace holds a
 * unix pair with unread data, a path listener with a pending connection,
 * an abstract socket, TCP listen + established on loopback, a bound UDP
 * socket, a packet socket in a fanout group, a netlink socket bound to
 * groups, a raw and a ping socket. Checks counts, lookups, field values,
 * pointers, error codes and that the caller never changes namespace. */
#include <criurs.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "proc.h"
#include "tap.h"

enum { PAIR_A, PAIR_B, LISTENER, CLIENT, ABSTRACT, TCP_LISTEN_SK, TCP_CLIENT, UDP, PACKET, NETLINK, RAW4, PING4, NL_PORTID, TCP_PORT, N_FACTS };

static char sock_path[108];

/* In the child: its sockets, their inodes (and ports) in `facts`. */
static int make_sockets(void *facts)
{
	unsigned long *f = facts;
	int sv[2], one = 1;
	if (unshare(CLONE_NEWNET))
		return -1;
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr))
		return -2;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr))
		return -3;
	close(s);
	FILE *pg = fopen("/proc/sys/net/ipv4/ping_group_range", "w");
	if (!pg || fputs("0 2147483647", pg) < 0 || fclose(pg))
		return -4;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || write(sv[1], "abc", 3) != 3)
		return -5;
	f[PAIR_A] = ino_of(sv[0]);
	f[PAIR_B] = ino_of(sv[1]);

	struct sockaddr_un un = { .sun_family = AF_UNIX };
	strcpy(un.sun_path, sock_path);
	int l = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(l, (struct sockaddr *)&un, sizeof(un)) || listen(l, 3) || connect(c, (struct sockaddr *)&un, sizeof(un)))
		return -6;
	f[LISTENER] = ino_of(l);
	f[CLIENT] = ino_of(c);

	struct sockaddr_un ab = { .sun_family = AF_UNIX };
	memcpy(ab.sun_path, "\0criurs-c", 9);
	int a = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (bind(a, (struct sockaddr *)&ab, offsetof(struct sockaddr_un, sun_path) + 9))
		return -7;
	f[ABSTRACT] = ino_of(a);

	struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(in);
	int tl = socket(AF_INET, SOCK_STREAM, 0), tc = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(tl, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(tl, (struct sockaddr *)&in, sizeof(in)) || listen(tl, 9) || getsockname(tl, (struct sockaddr *)&in, &len) ||
	    connect(tc, (struct sockaddr *)&in, sizeof(in)) || accept(tl, NULL, NULL) < 0)
		return -8;
	f[TCP_LISTEN_SK] = ino_of(tl);
	f[TCP_CLIENT] = ino_of(tc);
	f[TCP_PORT] = ntohs(in.sin_port);

	int u = socket(AF_INET, SOCK_DGRAM, 0);
	in.sin_port = 0;
	if (bind(u, (struct sockaddr *)&in, sizeof(in)))
		return -9;
	f[UDP] = ino_of(u);

	int pk = socket(AF_PACKET, SOCK_RAW, htons(0x0003));
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(0x0003), .sll_ifindex = 1 };
	int fanout = 42 | (PACKET_FANOUT_LB << 16);
	struct packet_mreq mr = { .mr_ifindex = 1, .mr_type = PACKET_MR_PROMISC };
	if (pk < 0 || bind(pk, (struct sockaddr *)&ll, sizeof(ll)) ||
	    setsockopt(pk, SOL_PACKET, PACKET_FANOUT, &fanout, sizeof(fanout)) ||
	    setsockopt(pk, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)))
		return -10;
	f[PACKET] = ino_of(pk);

	int nl = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	struct sockaddr_nl nla = { .nl_family = AF_NETLINK, .nl_groups = 0x5 };
	len = sizeof(nla);
	if (bind(nl, (struct sockaddr *)&nla, sizeof(nla)) || getsockname(nl, (struct sockaddr *)&nla, &len))
		return -11;
	f[NETLINK] = ino_of(nl);
	f[NL_PORTID] = nla.nl_pid;

	int raw = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	int ping = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
	in.sin_port = 0;
	if (raw < 0 || ping < 0 || bind(ping, (struct sockaddr *)&in, sizeof(in)))
		return -12;
	f[RAW4] = ino_of(raw);
	f[PING4] = ino_of(ping);
	return 0;
}

int main(void)
{
	int hold[2], made = -1;
	unsigned long f[N_FACTS] = { 0 };
	snprintf(sock_path, sizeof(sock_path), "/tmp/criurs-c-sockets-%d.sock", (int)getpid());
	unlink(sock_path);
	pid_t child = start_held_child(make_sockets, f, sizeof(f), &made, hold);
	ok(child > 0 && made == 0, "child made its sockets (%d)", made);

	unsigned long ns_before = net_ns_now();
	criurs_ctx *ctx = NULL;
	int rc = criurs_ctx_new(child, &ctx);
	ok(rc == 0, "context for the child");
	size_t n = 0;
	rc = criurs_sk_count(ctx, 1, &n);
	ok(rc == -ENODATA, "count before collection: -ENODATA (%d)", rc);
	rc = criurs_collect_sockets(ctx, 1);
	ok(rc == -ENODATA, "collect before collect_namespaces: -ENODATA (%d)", rc);
	rc = criurs_collect_namespaces(ctx, false);
	ok(rc == 0, "collect_namespaces");

	uint32_t net_id = 0, mnt_id = 0;
	size_t nns = 0;
	criurs_ns_count(ctx, &nns);
	for (size_t i = 0; i < nns; i++) {
		criurs_ns_info ns;
		if (criurs_ns_get(ctx, i, &ns) == 0 && ns.type_ == CRIURS_NS_TYPE_ROOT) {
			if (ns.kind == CRIURS_NS_NET)
				net_id = ns.id;
			if (ns.kind == CRIURS_NS_MNT)
				mnt_id = ns.id;
		}
	}
	ok(net_id != 0, "the child's net namespace is in the table (id %u)", net_id);
	rc = criurs_collect_sockets(ctx, mnt_id ? mnt_id : 9999);
	ok(rc == -EINVAL || rc == -ENOENT, "collect on a non-net namespace fails (%d)", rc);
	ok(net_ns_now() == ns_before, "caller's namespace unchanged after a failing call");
	rc = criurs_collect_sockets(ctx, net_id);
	ok(rc == 0, "collect_sockets: %s", rc ? criurs_ctx_last_error(ctx) : "ok");
	ok(net_ns_now() == ns_before, "caller's namespace unchanged after collect_sockets");
	rc = criurs_sk_count(ctx, net_id, &n);
	ok(rc == 0 && n >= 14, "socket count %zu", n);

	criurs_sk_info s;
	rc = criurs_sk_lookup(ctx, net_id, (uint32_t)f[PAIR_A], &s);
	ok(rc == 0 && s.family == AF_UNIX && s.type_ == SOCK_STREAM && s.peer == f[PAIR_B] && s.rqlen == 3,
	   "unix pair end: peer %u, rqlen %u", s.peer, s.rqlen);
	rc = criurs_sk_lookup(ctx, net_id, (uint32_t)f[LISTENER], &s);
	ok(rc == 0 && s.state == 10 && s.backlog == 3 && s.icons_count == 1 && s.icons[0] == f[CLIENT],
	   "unix listener: backlog %u, %zu pending", s.backlog, s.icons_count);
	ok(s.name_len == strlen(sock_path) + 1 && memcmp(s.name, sock_path, s.name_len) == 0 && s.vfs_ino != 0,
	   "unix listener path name (with the kernel's NUL, as CRIU keeps it) and vfs inode");
	rc = criurs_sk_lookup(ctx, net_id, (uint32_t)f[CLIENT], &s);
	ok(rc == 0 && s.in_flight && s.peer == f[LISTENER], "client never accepted: in flight, peer %u is the listener", s.peer);
	rc = criurs_sk_lookup(ctx, net_id, (uint32_t)f[ABSTRACT], &s);
	ok(rc == 0 && s.name_len == 9 && s.name[0] == 0 && memcmp(s.name + 1, "criurs-c", 8) == 0, "abstract name keeps its NUL");
	rc = criurs_sk_lookup(ctx, net_id, (uint32_t)f[TCP_LISTEN_SK], &s);
	ok(rc == 0 && s.family == AF_INET && s.protocol == IPPROTO_TCP && s.state == 10 && s.src_port == f[TCP_PORT] &&
		   s.backlog == 9 && s.src_addr[0] == 127,
	   "tcp listener on 127.0.0.1:%u", s.src_port);
	rc = criurs_sk_lookup(ctx, net_id, (uint32_t)f[TCP_CLIENT], &s);
	ok(rc == 0 && s.state == 1 && s.dst_port == f[TCP_PORT], "tcp established to the listener");
	rc = criurs_sk_lookup(ctx, net_id, (uint32_t)f[UDP], &s);
	ok(rc == 0 && s.protocol == IPPROTO_UDP && s.type_ == SOCK_DGRAM && s.state == 7, "udp bound");
	rc = criurs_sk_lookup(ctx, net_id, (uint32_t)f[RAW4], &s);
	ok(rc == 0 && s.type_ == SOCK_RAW && s.protocol == IPPROTO_ICMP, "raw v4 socket");
	rc = criurs_sk_lookup(ctx, net_id, (uint32_t)f[PING4], &s);
	ok(rc == 0 && s.type_ == SOCK_DGRAM && s.protocol == IPPROTO_ICMP && s.source == CRIURS_SK_SOURCE_PROCNET,
	   "ping v4 socket from /proc/net/icmp");
	rc = criurs_sk_lookup(ctx, net_id, (uint32_t)f[PACKET], &s);
	ok(rc == 0 && s.family == AF_PACKET && s.protocol == htons(3) && s.has_fanout && s.fanout == (42u | (PACKET_FANOUT_LB << 16)) &&
		   s.has_info && s.ifindex == 1 && s.mclist_count == 1,
	   "packet socket with fanout %#x", s.fanout);
	criurs_packet_mclist mc;
	rc = criurs_sk_packet_mclist(ctx, net_id, (uint32_t)f[PACKET], 0, &mc);
	ok(rc == 0 && mc.index == 1 && mc.type_ == PACKET_MR_PROMISC, "packet mclist entry");
	rc = criurs_sk_packet_mclist(ctx, net_id, (uint32_t)f[PACKET], 1, &mc);
	ok(rc == -ENOENT, "packet mclist past the end: -ENOENT");
	rc = criurs_sk_packet_mclist(ctx, net_id, (uint32_t)f[UDP], 0, &mc);
	ok(rc == -EINVAL, "mclist of a non-packet socket: -EINVAL");
	rc = criurs_sk_lookup(ctx, net_id, (uint32_t)f[NETLINK], &s);
	ok(rc == 0 && s.family == AF_NETLINK && s.protocol == NETLINK_ROUTE && s.portid == f[NL_PORTID] &&
		   s.groups_count >= 1 && s.groups[0] == 0x5,
	   "netlink socket: port %u, groups %#x", s.portid, s.groups_count ? s.groups[0] : 0);

	size_t seen = 0;
	for (size_t i = 0; i < n; i++) {
		rc = criurs_sk_get(ctx, net_id, i, &s);
		if (rc == 0 && s.ino == f[PAIR_B])
			seen++;
	}
	ok(seen == 1, "iteration finds each socket once");
	rc = criurs_sk_get(ctx, net_id, n, &s);
	ok(rc == -ENOENT, "get past the end: -ENOENT");
	rc = criurs_sk_lookup(ctx, net_id, 0, &s);
	ok(rc == -ENOENT, "inode 0 is never found");
	rc = criurs_sk_lookup(ctx, net_id, 1, NULL);
	ok(rc == -EINVAL, "NULL out: -EINVAL");
	rc = criurs_sk_count(NULL, net_id, &n);
	ok(rc == -EINVAL, "NULL context: -EINVAL");
	ok(net_ns_now() == ns_before, "caller's namespace unchanged at the end");

	criurs_ctx_free(ctx);
	stop_child(hold, child);
	unlink(sock_path);
	return tap_done();
}
