/* Prints the namespaces of a process tree through the C API alone.
 * Usage: show_tree PID */
#include <criurs.h>
#include <stdio.h>
#include <stdlib.h>

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
	if (rc == 0)
		rc = criurs_collect_namespaces(ctx, false);
	if (rc == 0)
		rc = criurs_ns_count(ctx, &n);
	if (rc != 0) {
		fprintf(stderr, "show_tree: %s: %s\n", criurs_strerror(rc), ctx ? criurs_ctx_last_error(ctx) : argv[1]);
		criurs_ctx_free(ctx);
		return 1;
	}
	printf("%-4s %-7s %-12s %-7s %s\n", "ID", "KIND", "KERNEL-ID", "PID", "TYPE");
	for (size_t i = 0; i < n; i++) {
		criurs_ns_info ns;
		if (criurs_ns_get(ctx, i, &ns) != 0)
			break;
		printf("%-4u %-7s %-12llu %-7d %s\n", ns.id, criurs_ns_kind_name(ns.kind), (unsigned long long)ns.kid,
		       ns.pid, criurs_ns_type_name(ns.type_));
	}
	criurs_ctx_free(ctx);
	return 0;
}
