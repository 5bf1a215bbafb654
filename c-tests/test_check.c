/* criurs_check from C: a child (the tree) holds a unix stream socket
 * whose accepted end the test itself (outside the tree) holds, and an
 * established TCP connection to the test's listener. The findings name
 * both, with CRIU 4.2's lines and the options; declaring the external
 * and passing CRIURS_CHECK_TCP_ESTABLISHED clears them. */
#include <criurs.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

static const criurs_finding *find(criurs_check_iter *it, const char *code, criurs_finding *f)
{
	criurs_check_rewind(it);
	while (criurs_check_next(it, f) == 0)
		if (strcmp(f->code, code) == 0)
			return f;
	return NULL;
}

int main(void)
{
	char path[108];
	snprintf(path, sizeof(path), "/tmp/criurs-check-c-%d.sock", (int)getpid());
	unlink(path);
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	int ul = socket(AF_UNIX, SOCK_STREAM, 0);
	int tl = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(in);
	if (bind(ul, (struct sockaddr *)&un, sizeof(un)) || listen(ul, 4) || bind(tl, (struct sockaddr *)&in, sizeof(in)) ||
	    listen(tl, 4) || getsockname(tl, (struct sockaddr *)&in, &len)) {
		perror("listeners");
		return 1;
	}
	int ready[2];
	if (pipe(ready))
		return 1;
	pid_t child = fork();
	if (child == 0) {
		close(ul);
		close(tl);
		close(ready[0]);
		int u = socket(AF_UNIX, SOCK_STREAM, 0);
		int t = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(u, (struct sockaddr *)&un, sizeof(un)) || connect(t, (struct sockaddr *)&in, sizeof(in)))
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		close(ready[1]);
		pause();
		_exit(0);
	}
	close(ready[1]);
	char c;
	int ua = accept(ul, NULL, NULL), ta = accept(tl, NULL, NULL);
	ok(read(ready[0], &c, 1) == 1 && ua >= 0 && ta >= 0, "the child connected both");
	close(ready[0]);

	criurs_ctx *ctx = NULL;
	criurs_check_iter *it = NULL;
	criurs_finding f;
	int rc;
	ok(criurs_ctx_new(child, &ctx) == 0, "context for the child");
	ok(criurs_check(NULL, 0, &it) == -EINVAL && it == NULL, "NULL context: -EINVAL");
	ok(criurs_check(ctx, 0, NULL) == -EINVAL, "NULL out: -EINVAL");
	rc = criurs_check(ctx, 0x100, &it);
	ok(rc == -EINVAL && it == NULL && strstr(criurs_ctx_last_error(ctx), "flags") != NULL, "unknown flag: -EINVAL, %s",
	   criurs_ctx_last_error(ctx));
	rc = criurs_check(ctx, 0, &it);
	ok(rc == 0 && it != NULL, "criurs_check: %d %s", rc, rc ? criurs_ctx_last_error(ctx) : "");
	size_t n = 0;
	rc = criurs_check_count(it, &n);
	ok(rc == 0 && n >= 2, "%zu findings", n);
	ok(criurs_check_verdict(it) == 1, "verdict: needs options (%d)", criurs_check_verdict(it));

	char spec[64] = "";
	if (find(it, "unix-peer-outside-tree", &f)) {
		ok(f.severity == CRIURS_SEVERITY_NEEDS_OPTION && f.object_kind == CRIURS_OBJECT_SOCKET, "unix: needs an option, a socket");
		ok(f.pid == child && f.fd >= 3, "held by the child (pid %d fd %d)", f.pid, f.fd);
		ok(f.peer_pid == getpid() && f.peer_fd == ua, "the other end: our accepted fd %d (pid %d fd %d)", ua, f.peer_pid, f.peer_fd);
		ok(strcmp(f.criu_message, "External socket is used. Consider using --ext-unix-sk option.") == 0 &&
			   f.criu_message_len == strlen(f.criu_message), "CRIU's line: %s", f.criu_message);
		ok(strcmp(f.criu_source, "criu/sk-unix.c:__dump_external_socket") == 0, "CRIU's function");
		ok(f.option && strncmp(f.option, "--external unix[", 16) == 0, "option: %s", f.option ? f.option : "(none)");
		ok(strstr(f.fix, path) != NULL, "the fix names the daemon's socket: %s", f.fix);
		if (f.option)
			snprintf(spec, sizeof(spec), "%s", f.option + strlen("--external "));
	} else {
		ok(0, "no unix-peer-outside-tree finding");
	}
	if (find(it, "tcp-established", &f)) {
		ok(f.severity == CRIURS_SEVERITY_NEEDS_OPTION && f.option && strcmp(f.option, "--tcp-established") == 0, "tcp: --tcp-established");
		ok(strcmp(f.criu_message, "Connected TCP socket, consider using --tcp-established option.") == 0, "CRIU's line: %s", f.criu_message);
	} else {
		ok(0, "no tcp-established finding");
	}
	criurs_check_rewind(it);
	for (size_t i = 0; i < n; i++)
		criurs_check_next(it, &f);
	ok(criurs_check_next(it, &f) == -ENOENT, "-ENOENT after the last");
	ok(criurs_check_next(NULL, &f) == -EINVAL && criurs_check_next(it, NULL) == -EINVAL, "NULLs: -EINVAL");
	criurs_check_free(it);
	criurs_check_free(NULL);

	it = NULL;
	ok(criurs_ctx_add_external(ctx, spec) == 0, "add_external %s", spec);
	rc = criurs_check(ctx, CRIURS_CHECK_TCP_ESTABLISHED, &it);
	ok(rc == 0 && criurs_check_count(it, &n) == 0, "check with both answers: %zu findings", (size_t)0);
	int only_warnings = 1;
	while (criurs_check_next(it, &f) == 0) {
		printf("# left: %s (%u) %s\n", f.code, f.severity, f.fix);
		only_warnings &= f.severity == CRIURS_SEVERITY_WARNING;
	}
	ok(only_warnings, "what is left is warnings");
	ok(!find(it, "unix-peer-outside-tree", &f) && !find(it, "tcp-established", &f), "both cleared");
	ok(criurs_check_verdict(it) == 0, "verdict: dumpable (%d)", criurs_check_verdict(it));
	criurs_check_free(it);
	criurs_ctx_free(ctx);

	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	unlink(path);
	return tap_done();
}
