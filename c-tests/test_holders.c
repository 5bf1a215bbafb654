/* Who holds each socket, as a C caller sees it: a child in its own
 * network namespace holds a socketpair (one end twice), under a command
 * name of its choosing; criurs finds every (pid, fd) and the name. */
#include <criurs.h>
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "proc.h"
#include "tap.h"

static const char COMM[] = "holder-\"c\"";

/* In the child: a net namespace of its own, end A of the pair `arg` also
 * at fd 40, and the command name COMM. */
static int hold_pair(void *arg)
{
	int *sv = arg;
	return unshare(CLONE_NEWNET) == 0 && dup2(sv[0], 40) == 40 && prctl(PR_SET_NAME, COMM) == 0 ? 0 : -1;
}

int main(void)
{
	int sv[2], hold[2], held = -1;
	if (geteuid() != 0) {
		ok(0, "test_holders needs root (a new network namespace)");
		return tap_done();
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
		ok(0, "socketpair");
		return tap_done();
	}
	unsigned long a = ino_of(sv[0]), b = ino_of(sv[1]);
	pid_t child = start_held_child(hold_pair, sv, 0, &held, hold);
	ok(child > 0 && held == 0, "child holds the pair in its own net namespace");
	/* Only the child holds the pair now. */
	close(sv[0]);
	close(sv[1]);

	criurs_ctx *ctx = NULL;
	int rc = criurs_ctx_new(child, &ctx);
	ok(rc == 0, "context for the child");
	size_t n = 99;
	rc = criurs_collect_socket_holders(ctx, CRIURS_HOLDERS_TREE);
	ok(rc == -ENODATA, "scan before collect_namespaces: -ENODATA (%d)", rc);
	rc = criurs_collect_namespaces(ctx, false);
	ok(rc == 0, "collect_namespaces");
	rc = criurs_socket_holders_count(ctx, a, &n);
	ok(rc == -ENODATA, "count before a scan: -ENODATA (%d)", rc);
	rc = criurs_collect_socket_holders(ctx, 7);
	ok(rc == -EINVAL && strstr(criurs_ctx_last_error(ctx), "scope 7"), "unknown scope: -EINVAL, %s", criurs_ctx_last_error(ctx));

	rc = criurs_collect_socket_holders(ctx, CRIURS_HOLDERS_TREE);
	ok(rc == 0, "scan of the tree: %s", rc ? criurs_ctx_last_error(ctx) : "ok");
	rc = criurs_socket_holders_count(ctx, a, &n);
	ok(rc == 0 && n == 2, "end A held twice (%zu)", n);
	criurs_socket_holder h[2];
	int got = criurs_socket_holders_get(ctx, a, 0, &h[0]) == 0 && criurs_socket_holders_get(ctx, a, 1, &h[1]) == 0;
	ok(got && h[0].pid == child && h[1].pid == child && h[0].fd == sv[0] && h[1].fd == 40, "end A: fds %d and %d of the child",
	   got ? h[0].fd : -1, got ? h[1].fd : -1);
	ok(got && h[0].comm_len == strlen(COMM) && memcmp(h[0].comm, COMM, h[0].comm_len) == 0, "the child's command name, byte for byte");
	rc = criurs_socket_holders_get(ctx, a, 2, &h[0]);
	ok(rc == -ENOENT, "holder past the end: -ENOENT");
	rc = criurs_socket_holders_count(ctx, b, &n);
	ok(rc == 0 && n == 1, "end B held once");
	rc = criurs_socket_holders_count(ctx, 1, &n);
	ok(rc == 0 && n == 0, "a socket nobody scanned holds: 0");
	rc = criurs_socket_holders_unreadable(ctx, &n);
	ok(rc == 0 && n == 0, "a tree scan reads every task or fails");

	rc = criurs_collect_socket_holders(ctx, CRIURS_HOLDERS_ALL);
	ok(rc == 0, "scan of every process");
	rc = criurs_socket_holders_count(ctx, a, &n);
	ok(rc == 0 && n == 2, "end A: the same two holders in the whole system");
	rc = criurs_socket_holders_unreadable(ctx, &n);
	ok(rc == 0, "unreadable processes counted (%zu)", n);

	ok(criurs_socket_holders_count(ctx, a, NULL) == -EINVAL, "NULL out: -EINVAL");
	ok(criurs_socket_holders_get(NULL, a, 0, &h[0]) == -EINVAL, "NULL context: -EINVAL");
	ok(criurs_collect_socket_holders(NULL, CRIURS_HOLDERS_ALL) == -EINVAL, "NULL context to scan: -EINVAL");

	criurs_ctx_free(ctx);
	stop_child(hold, child);
	return tap_done();
}
