/* A network namespace from C: a child in a fresh network namespace with
 * an address on lo, a veth pair (MTU, MAC, addresses), a route and a
 * rule. Checks the links, addresses, routes and rules the library reads,
 * the images criurs_dump_net_ns writes, its refusal of a link CRIU cannot
 * dump (with nothing written), NULLs, error codes, and that the caller
 * never changes namespace. */
#include <criurs.h>
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "images.h"
#include "proc.h"
#include "tap.h"

static int setup(void *unused)
{
	(void)unused;
	if (unshare(CLONE_NEWNET))
		return -1;
	return system("ip link set lo up && ip addr add 10.11.12.13/8 dev lo && "
		      "ip link add vA address 02:00:00:aa:bb:01 type veth peer name vB && ip link set vA mtu 1400 && "
		      "ip addr add 192.168.77.1/24 dev vA && ip link set vA up && ip link set vB up && "
		      "ip route add 10.200.0.0/16 via 192.168.77.2 dev vA && "
		      "ip rule add from 192.168.77.0/24 lookup 100 pref 1000");
}

static int bytes_are(const uint8_t *p, size_t len, const char *s)
{
	return len == strlen(s) && p && memcmp(p, s, len) == 0;
}

int main(void)
{
	int hold[2], made = -1;
	pid_t child = start_held_child(setup, NULL, 0, &made, hold);
	ok(child > 0 && made == 0, "child made its network (%d)", made);

	unsigned long ns_before = net_ns_now();
	criurs_ctx *ctx = NULL;
	ok(criurs_ctx_new(child, &ctx) == 0, "context for the child");
	size_t n = 0;
	ok(criurs_collect_net_config(NULL, 1) == -EINVAL, "NULL context: -EINVAL");
	ok(criurs_dump_net_ns(NULL, 1) == -EINVAL, "dump on a NULL context: -EINVAL");
	ok(criurs_net_link_count(NULL, 1, &n) == -EINVAL, "count on a NULL context: -EINVAL");
	int rc = criurs_collect_net_config(ctx, 1);
	ok(rc == -ENODATA, "before collect_namespaces: -ENODATA (%d)", rc);
	ok(criurs_collect_namespaces(ctx, false) == 0, "collect_namespaces");

	uint32_t net_id = 0, mnt_id = 0;
	size_t nns = 0;
	criurs_ns_count(ctx, &nns);
	for (size_t i = 0; i < nns; i++) {
		criurs_ns_info ns;
		if (criurs_ns_get(ctx, i, &ns) == 0 && ns.kind == CRIURS_NS_NET && ns.type_ == CRIURS_NS_TYPE_ROOT)
			net_id = ns.id;
		if (criurs_ns_get(ctx, i, &ns) == 0 && ns.kind == CRIURS_NS_MNT)
			mnt_id = ns.id;
	}
	ok(net_id != 0, "the child's net namespace is in the table (id %u)", net_id);
	rc = criurs_net_link_count(ctx, net_id, &n);
	ok(rc == -ENODATA, "links before collect_net_config: -ENODATA (%d)", rc);
	ok(criurs_collect_net_config(ctx, mnt_id) == -EINVAL, "a mount namespace is not a net namespace: -EINVAL");
	ok(criurs_collect_net_config(ctx, 9999) == -ENOENT, "no namespace 9999: -ENOENT");
	rc = criurs_collect_net_config(ctx, net_id);
	ok(rc == 0, "collect_net_config: %s", rc ? criurs_ctx_last_error(ctx) : "ok");
	ok(net_ns_now() == ns_before, "caller's namespace unchanged");
	ok(criurs_net_link_count(ctx, net_id, NULL) == -EINVAL, "NULL out: -EINVAL");

	rc = criurs_net_link_count(ctx, net_id, &n);
	ok(rc == 0 && n == 3, "three links (%zu)", n);
	int seen = 0;
	for (size_t i = 0; i < n; i++) {
		criurs_net_link l;
		if (criurs_net_link_get(ctx, net_id, i, &l))
			continue;
		if (bytes_are(l.name, l.name_len, "lo"))
			seen += ok(l.plan == CRIURS_NET_PLAN_DUMP && l.device_type == CRIURS_ND_LOOPBACK && l.hw_type == 772 &&
				   l.mtu == 65536 && l.peer_ifindex == l.ifindex && l.has_peer_nsid && l.peer_nsid == net_id,
				   "lo: loopback, mtu 65536, its own peer");
		if (bytes_are(l.name, l.name_len, "vA"))
			seen += ok(l.device_type == CRIURS_ND_VETH && l.mtu == 1400 && l.address_len == 6 && l.address[5] == 1 &&
				   bytes_are(l.kind, l.kind_len, "veth") && l.has_link && l.reason == NULL,
				   "vA: veth, mtu 1400, MAC 02:00:00:aa:bb:01");
	}
	ok(seen == 2, "lo and vA found");
	criurs_net_link l;
	ok(criurs_net_link_get(ctx, net_id, n, &l) == -ENOENT, "link past the end: -ENOENT");

	rc = criurs_net_addr_count(ctx, net_id, &n);
	ok(rc == 0 && n >= 3, "addresses (%zu)", n);
	int found = 0;
	for (size_t i = 0; i < n; i++) {
		criurs_net_addr a;
		uint8_t want[4] = { 10, 11, 12, 13 };
		if (criurs_net_addr_get(ctx, net_id, i, &a) == 0 && a.family == AF_INET && a.local_len == 4 &&
		    memcmp(a.local, want, 4) == 0)
			found = a.prefixlen == 8 && a.ifindex == 1 && bytes_are(a.label, a.label_len, "lo");
	}
	ok(found, "10.11.12.13/8 on lo, labelled lo");

	rc = criurs_net_route_count(ctx, net_id, &n);
	ok(rc == 0 && n >= 2, "routes of table main (%zu)", n);
	found = 0;
	for (size_t i = 0; i < n; i++) {
		criurs_net_route r;
		uint8_t gw[4] = { 192, 168, 77, 2 };
		if (criurs_net_route_get(ctx, net_id, i, &r) == 0 && r.gateway_len == 4 && memcmp(r.gateway, gw, 4) == 0)
			found = r.dst_len == 16 && r.table == 254 && r.has_oif && r.type_ == 1;
	}
	ok(found, "10.200.0.0/16 via 192.168.77.2 in table main");
	rc = criurs_net_rule_count(ctx, net_id, &n);
	ok(rc == 0 && n == 4, "four rules (%zu)", n);
	criurs_net_rule ru;
	ok(criurs_net_rule_get(ctx, net_id, 1, &ru) == 0 && ru.has_priority && ru.priority == 1000 && ru.table == 100 &&
		   ru.src_len == 24,
	   "rule 1000: from 192.168.77.0/24 lookup 100");
	ok(criurs_net_rule_get(ctx, net_id, 4, &ru) == -ENOENT, "rule past the end: -ENOENT");

	/* The dump. */
	rc = criurs_dump_net_ns(ctx, net_id);
	ok(rc == -EINVAL, "dump without an images directory: -EINVAL (%d)", rc);
	char dir[] = "/tmp/criurs-c-netdev-XXXXXX";
	ok(mkdtemp(dir) != NULL, "images directory");
	ok(criurs_ctx_set_images_dir(ctx, dir) == 0, "set images dir");
	rc = criurs_dump_net_ns(ctx, net_id);
	ok(rc == 0, "dump_net_ns: %s", rc ? criurs_ctx_last_error(ctx) : "ok");
	ok(net_ns_now() == ns_before, "caller's namespace unchanged after the dump");
	const char *names[] = { "netdev", "netns", "ifaddr", "route", "route6", "rule", "nftables" };
	int all = 1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[128];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s-%u.img", dir, names[i], net_id);
		all &= stat(path, &st) == 0;
	}
	int files = count_files(dir);
	ok(all && files == 7, "the seven images of the namespace (%d files)", files);

	/* A link CRIU cannot dump: refused, with its reason, nothing written. */
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "nsenter --net=/proc/%d/ns/net ip link add vx0 type vxlan id 5 dstport 4789", (int)child);
	ok(system(cmd) == 0, "a vxlan link in the child's namespace");
	char dir2[] = "/tmp/criurs-c-netdev2-XXXXXX";
	ok(mkdtemp(dir2) != NULL && criurs_ctx_set_images_dir(ctx, dir2) == 0, "a second images directory");
	rc = criurs_dump_net_ns(ctx, net_id);
	ok(rc == -EOPNOTSUPP && strstr(criurs_ctx_last_error(ctx), "Unsupported link") &&
		   strstr(criurs_ctx_last_error(ctx), "kind vxlan"),
	   "vxlan refused: %s", criurs_ctx_last_error(ctx));
	ok(count_files(dir2) == 0, "nothing written for a refused dump");
	ok(criurs_collect_net_config(ctx, net_id) == 0 && criurs_net_link_count(ctx, net_id, &n) == 0 && n == 4,
	   "still shown: four links");
	for (size_t i = 0; i < n; i++)
		if (criurs_net_link_get(ctx, net_id, i, &l) == 0 && bytes_are(l.name, l.name_len, "vx0"))
			ok(l.plan == CRIURS_NET_PLAN_REFUSE && l.device_type == 0 && l.reason_len > 0 &&
				   memmem(l.reason, l.reason_len, "vxlan", 5) != NULL,
			   "vx0: plan refuse, reason given");

	criurs_ctx_free(ctx);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir, dir2);
	ok(system(cmd) == 0, "images directories removed");
	ok(stop_child(hold, child) != -1, "child ended");
	return tap_done();
}
