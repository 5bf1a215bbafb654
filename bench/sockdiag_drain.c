/* The floor for bench/sockets: enters PID's network namespace, sends the
 * same sock_diag dump requests criurs sends (unix, tcp/udp/udplite over
 * v4 and v6, raw v4/v6, packet, netlink) one after the other on one
 * socket, and drains the replies without parsing them (it only walks
 * message headers to find the end). Prints "seconds=S user_seconds=U
 * sys_seconds=Y bytes=B": wall time and CPU time (getrusage) from setns
 * to the last reply.
 * Usage: sockdiag_drain PID */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/netlink_diag.h>
#include <linux/packet_diag.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char buf[64 * 1024];

static long drain(int nl, const void *body, size_t len, unsigned seq)
{
	struct {
		struct nlmsghdr h;
		char body[64];
	} req;
	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = NLMSG_LENGTH(len);
	req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.h.nlmsg_seq = seq;
	memcpy(req.body, body, len);
	if (send(nl, &req, req.h.nlmsg_len, 0) < 0)
		return -1;
	long total = 0;
	for (;;) {
		ssize_t n = recv(nl, buf, sizeof(buf), 0);
		if (n < 0)
			return -1;
		total += n;
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n))
			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
				return total;
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: sockdiag_drain PID\n");
		return 2;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/%s/ns/net", argv[1]);
	int ns = open(path, O_RDONLY);
	struct timespec t0, t1;
	struct rusage r0, r1;
	getrusage(RUSAGE_SELF, &r0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (ns < 0 || setns(ns, CLONE_NEWNET)) {
		perror("setns");
		return 1;
	}
	int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0) {
		perror("socket");
		return 1;
	}
	long bytes = 0;
	unsigned seq = 1;
	struct unix_diag_req u = { .sdiag_family = AF_UNIX, .udiag_states = -1,
		.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS |
			      UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID };
	bytes += drain(nl, &u, sizeof(u), seq++);
	const unsigned tcp_states = (1 << TCP_LISTEN) | (1 << TCP_ESTABLISHED) | (1 << TCP_FIN_WAIT1) |
				    (1 << TCP_FIN_WAIT2) | (1 << TCP_CLOSE_WAIT) | (1 << TCP_LAST_ACK) |
				    (1 << TCP_CLOSING) | (1 << TCP_SYN_SENT);
	const int fams[] = { AF_INET, AF_INET6 };
	const int protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE };
	for (int f = 0; f < 2; f++)
		for (int p = 0; p < 3; p++) {
			struct inet_diag_req_v2 r = { .sdiag_family = fams[f], .sdiag_protocol = protos[p],
				.idiag_states = protos[p] == IPPROTO_TCP ? tcp_states : ~0u };
			bytes += drain(nl, &r, sizeof(r), seq++);
		}
	for (int f = 0; f < 2; f++) {
		struct inet_diag_req_raw r = { .sdiag_family = fams[f], .sdiag_protocol = IPPROTO_RAW,
			.sdiag_raw_protocol = IPPROTO_RAW, .idiag_states = ~0u };
		bytes += drain(nl, &r, sizeof(r), seq++);
	}
	struct packet_diag_req pk = { .sdiag_family = AF_PACKET,
		.pdiag_show = PACKET_SHOW_INFO | PACKET_SHOW_MCLIST | PACKET_SHOW_FANOUT | PACKET_SHOW_RING_CFG };
	bytes += drain(nl, &pk, sizeof(pk), seq++);
	struct netlink_diag_req nd = { .sdiag_family = AF_NETLINK, .sdiag_protocol = NDIAG_PROTO_ALL,
		.ndiag_show = NDIAG_SHOW_GROUPS | NDIAG_SHOW_FLAGS };
	bytes += drain(nl, &nd, sizeof(nd), seq++);
	close(nl);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	getrusage(RUSAGE_SELF, &r1);
#define SECS(a, b) ((b.tv_sec - a.tv_sec) + (b.tv_usec - a.tv_usec) / 1e6)
	printf("seconds=%.6f user_seconds=%.6f sys_seconds=%.6f bytes=%ld\n",
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, SECS(r0.ru_utime, r1.ru_utime),
	       SECS(r0.ru_stime, r1.ru_stime), bytes);
	return 0;
}
