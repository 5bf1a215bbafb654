/* Prints the namespaces of a process tree, the mounts of its mount
 * namespaces and the sockets of its net namespaces, through the C API
 * alone. Usage: show_tree PID */
#include <arpa/inet.h>
#include <criurs.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

static int fail(criurs_ctx *ctx, int rc, const char *what)
{
	fprintf(stderr, "show_tree: %s: %s: %s\n", what, criurs_strerror(rc), criurs_ctx_last_error(ctx));
	criurs_ctx_free(ctx);
	return 1;
}

static void print_mounts(criurs_ctx *ctx, uint32_t ns_id)
{
	size_t n = 0;
	if (criurs_mnt_count(ctx, ns_id, &n) != 0)
		return;
	printf("\nmount namespace %u: %zu mounts\n", ns_id, n);
	for (size_t i = 0; i < n; i++) {
		criurs_mnt_info m;
		if (criurs_mnt_get(ctx, ns_id, i, &m) == 0)
			printf("  %5u <- %-5u %.*s (%.*s, flags %#x, shared %u, master %u)\n", m.mnt_id, m.parent_mnt_id,
			       (int)m.mountpoint_len, (const char *)m.mountpoint, (int)m.fsname_len,
			       (const char *)m.fsname, m.flags, m.shared_id, m.kernel_master_id);
	}
}

static void print_sockets(criurs_ctx *ctx, uint32_t ns_id)
{
	size_t n = 0;
	/* Fails for a namespace CRIU's walk leaves out: nothing to print. */
	int rc = criurs_collect_sockets(ctx, ns_id);
	if (rc == 0)
		rc = criurs_sk_count(ctx, ns_id, &n);
	if (rc != 0) {
		fprintf(stderr, "sockets of net namespace %u: %s\n", ns_id, criurs_ctx_last_error(ctx));
		return;
	}
	printf("\nnet namespace %u: %zu sockets\n", ns_id, n);
	for (size_t i = 0; i < n; i++) {
		criurs_sk_info s;
		char addr[INET6_ADDRSTRLEN] = "";
		if (criurs_sk_get(ctx, ns_id, i, &s) != 0)
			continue;
		if (s.family == AF_INET || s.family == AF_INET6)
			inet_ntop((int)s.family, s.src_addr, addr, sizeof(addr));
		printf("  ino %-8u family %-2u type %u state %-2u", s.ino, s.family, s.type_, s.state);
		if (s.family == AF_UNIX)
			printf(" peer %u name %.*s", s.peer, (int)s.name_len, s.name_len ? (const char *)s.name : "");
		else if (addr[0])
			printf(" %s port %u", addr, s.src_port);
		printf("\n");
	}
}

int main(int argc, char **argv)
{
	criurs_ctx *ctx = NULL;
	size_t n = 0;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PID\n", argv[0]);
		return 2;
	}
	rc = criurs_ctx_new(atoi(argv[1]), &ctx);
	if (rc != 0) {
		fprintf(stderr, "show_tree: %s: %s\n", argv[1], criurs_strerror(rc));
		return 1;
	}
	if ((rc = criurs_collect_namespaces(ctx, false)) != 0 || (rc = criurs_ns_count(ctx, &n)) != 0)
		return fail(ctx, rc, "collect");
	printf("%-4s %-7s %-12s %-7s %s\n", "ID", "KIND", "KERNEL-ID", "PID", "TYPE");
	for (size_t i = 0; i < n; i++) {
		criurs_ns_info ns;
		if (criurs_ns_get(ctx, i, &ns) == 0)
			printf("%-4u %-7s %-12llu %-7d %s\n", ns.id, criurs_ns_kind_name(ns.kind),
			       (unsigned long long)ns.kid, ns.pid, criurs_ns_type_name(ns.type_));
	}
	/* Mount namespaces were collected by CRIU's walk (the root's; our own
	 * only when the root shares it); sockets are collected on demand. */
	for (size_t i = 0; i < n; i++) {
		criurs_ns_info ns;
		if (criurs_ns_get(ctx, i, &ns) != 0)
			continue;
		if (ns.kind == CRIURS_NS_MNT)
			print_mounts(ctx, ns.id);
		else if (ns.kind == CRIURS_NS_NET)
			print_sockets(ctx, ns.id);
	}
	criurs_ctx_free(ctx);
	return 0;
}
