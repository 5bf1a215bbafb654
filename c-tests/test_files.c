/* Socket images from C: a child holds a unix dgram pair with 5 bytes
 * queued and a bound UDP socket; criurs_dump_sockets writes files.img,
 * fdinfo-2.img and sk-queues.img, crit decodes them, the queue is still
 * there for the child, and the error codes hold (NULL, bad options,
 * no collection, a connected TCP socket refused with CRIU's words). */
#include <criurs.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "images.h"
#include "tap.h"

/* The child's sockets; with `tcp`, also a connected TCP pair on lo. */
static pid_t spawn(int tcp)
{
	int ready[2];
	if (pipe(ready))
		return -1;
	pid_t c = fork();
	if (c != 0) {
		char x;
		close(ready[1]);
		ssize_t n = read(ready[0], &x, 1);
		close(ready[0]);
		return n == 1 ? c : -1;
	}
	for (int fd = 3; fd < 1024; fd++)
		if (fd != ready[1])
			close(fd);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) || write(sv[0], "hello", 5) != 5)
		_exit(1);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (u < 0 || bind(u, (struct sockaddr *)&a, sizeof(a)))
		_exit(2);
	if (tcp) {
		int l = socket(AF_INET, SOCK_STREAM, 0), t = socket(AF_INET, SOCK_STREAM, 0);
		socklen_t len = sizeof(a);
		if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) || getsockname(l, (struct sockaddr *)&a, &len) ||
		    connect(t, (struct sockaddr *)&a, sizeof(a)) || accept(l, NULL, NULL) < 0)
			_exit(3);
		close(l);
	}
	if (write(ready[1], "x", 1) != 1)
		_exit(4);
	close(ready[1]);
	for (;;)
		pause();
}

static void reap(pid_t c)
{
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
}

int main(void)
{
	char dir[] = "/tmp/criurs-c-files-XXXXXX";
	criurs_ctx *ctx = NULL;
	criurs_socket_dump info;
	int rc;

	if (!ok(mkdtemp(dir) != NULL, "images dir %s", dir))
		return tap_done();
	pid_t c = spawn(0);
	if (!ok(c > 0, "child %d with a unix pair and a UDP socket", c))
		return tap_done();
	ok(criurs_ctx_new(c, &ctx) == 0, "context for the child");
	ok(criurs_dump_sockets(NULL, 0) == -EINVAL && criurs_socket_dump_info(NULL, &info) == -EINVAL, "NULL context: -EINVAL");
	ok(criurs_ctx_set_socket_options(ctx, 4) == -EINVAL, "unknown option bits: -EINVAL");
	ok(criurs_ctx_set_socket_options(ctx, CRIURS_SK_EXT_UNIX_SK | CRIURS_SK_SKIP_IN_FLIGHT) == 0, "both options");
	ok(criurs_ctx_set_images_dir(ctx, dir) == 0, "images dir set");
	ok(criurs_dump_sockets(ctx, 0) == -ENODATA, "dump before collecting: -ENODATA");
	ok(criurs_socket_dump_info(ctx, &info) == -ENODATA, "no info before a dump: -ENODATA");
	rc = criurs_collect_namespaces(ctx, false);
	ok(rc == 0, "collect: %d %s", rc, criurs_ctx_last_error(ctx));
	ok(criurs_dump_sockets(ctx, -1) == -EINVAL, "negative pid: -EINVAL");
	rc = criurs_dump_sockets(ctx, getpid());
	ok(rc == -ESRCH, "a pid outside the tree: -ESRCH (%s)", criurs_ctx_last_error(ctx));
	rc = criurs_dump_sockets(ctx, 0);
	ok(rc == 0, "criurs_dump_sockets: %d %s", rc, criurs_ctx_last_error(ctx));
	ok(criurs_socket_dump_info(ctx, NULL) == -EINVAL, "NULL out: -EINVAL");
	memset(&info, 0, sizeof(info));
	rc = criurs_socket_dump_info(ctx, &info);
	ok(rc == 0 && info.files == 3 && info.fd_tables == 1, "3 socket files, 1 fd table (%zu, %zu)", info.files, info.fd_tables);
	ok(info.queued_packets == 1 && info.queued_bytes == 5, "one queued packet of 5 bytes (%zu, %zu)", info.queued_packets,
	   info.queued_bytes);
	ok(count_files(dir) == 3, "files, sk-queues, fdinfo: %d files", count_files(dir));
	ok(crit_has(dir, "files.img", "\"UNIXSK\"") && crit_has(dir, "files.img", "\"INETSK\""), "crit decodes files.img");
	ok(crit_has(dir, "fdinfo-2.img", "\"fd\": 5"), "crit decodes fdinfo-2.img");
	ok(crit_has(dir, "sk-queues.img", "\"length\": 5"), "crit decodes sk-queues.img");
	/* The queue was peeked, not read: the same dump again finds it. */
	empty_dir(dir);
	ok(criurs_dump_sockets(ctx, c) == 0 && criurs_socket_dump_info(ctx, &info) == 0 && info.queued_bytes == 5,
	   "the queue is still there");
	criurs_ctx_free(ctx);
	reap(c);

	/* A connected TCP socket: CRIU's refusal, nothing written. */
	empty_dir(dir);
	c = spawn(1);
	ok(c > 0 && criurs_ctx_new(c, &ctx) == 0 && criurs_ctx_set_images_dir(ctx, dir) == 0 && criurs_collect_namespaces(ctx, false) == 0,
	   "child with a TCP connection");
	rc = criurs_dump_sockets(ctx, 0);
	ok(rc == -EOPNOTSUPP && strstr(criurs_ctx_last_error(ctx), "Connected TCP socket, consider using --tcp-established option"),
	   "refused: %d %s", rc, criurs_ctx_last_error(ctx));
	ok(count_files(dir) == 0, "nothing written (%d files)", count_files(dir));
	criurs_ctx_free(ctx);
	reap(c);
	rmdir(dir);
	return tap_done();
}
