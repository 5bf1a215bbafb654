/* Tasks that go away under a collection: descendants that unshare
 * namespaces and exit while the collection reads them are left out (rc
 * 0); a root killed 0-3 ms into the call gives -ESRCH; a root whose pid
 * was given to another process gives -ESRCH, never the other's data. */
#include <criurs.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

static int iterations(int dflt)
{
	const char *n = getenv("CRIURS_TEST_ITERATIONS");
	return n && atoi(n) > 0 ? atoi(n) : dflt;
}

static unsigned next_rand(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 8) & 0xffffff;
}

/* The root of the first part: for each byte on `go` it forks `kids`
 * children that unshare net and mount namespaces, say so on `ready`, live
 * 0-3 ms and exit; it reaps them. */
static void spawner(int go, int ready, int kids)
{
	char c;
	unsigned seed = (unsigned)getpid();
	while (read(go, &c, 1) == 1) {
		for (int k = 0; k < kids; k++) {
			unsigned us = next_rand(&seed) % 3000;
			pid_t p = fork();
			if (p == 0) {
				if (unshare(CLONE_NEWNET | CLONE_NEWNS))
					_exit(1);
				if (write(ready, "r", 1) != 1)
					_exit(1);
				usleep(us);
				_exit(0);
			}
		}
		while (waitpid(-1, NULL, 0) > 0)
			;
	}
	_exit(0);
}

static void racing_descendants(void)
{
	int go[2], ready[2], kids = 4, n = iterations(150);
	if (pipe(go) || pipe(ready))
		exit(1);
	pid_t root = fork();
	if (root == 0) {
		close(go[1]);
		close(ready[0]);
		spawner(go[0], ready[1], kids);
	}
	close(go[0]);
	close(ready[1]);
	criurs_ctx *ctx = NULL;
	ok(criurs_ctx_new(root, &ctx) == 0, "context for the spawning root %d", root);
	int bad = 0, full = 0, first = 0;
	char why[512] = "";
	for (int i = 0; i < n; i++) {
		char c;
		if (write(go[1], "g", 1) != 1)
			break;
		for (int k = 0; k < kids; k++)
			if (read(ready[0], &c, 1) != 1)
				break;
		int rc = criurs_collect_namespaces(ctx, false);
		size_t count = 0;
		if (rc == 0 && criurs_ns_count(ctx, &count) == 0 && count > 8)
			full++;
		if (rc != 0 && !bad++) {
			first = rc;
			snprintf(why, sizeof(why), "%s", criurs_ctx_last_error(ctx));
		}
	}
	ok(bad == 0, "%d collections while children unshared and exited: %d failed (first %d: %s)", n, bad, first, why);
	diag("%d of %d collections still saw a child's own namespaces", full, n);
	criurs_ctx_free(ctx);
	close(go[1]);
	waitpid(root, NULL, 0);
	close(ready[0]);
}

struct killer {
	pid_t pid;
	unsigned us;
};

static void *kill_later(void *arg)
{
	struct killer *k = arg;
	usleep(k->us);
	kill(k->pid, SIGKILL);
	return NULL;
}

/* A root in net, mount and uts namespaces of its own, killed 0-3 ms into
 * a collection for a dump. */
static void racing_root(void)
{
	int n = iterations(150), bad = 0, esrch = 0, first = 0;
	char why[512] = "";
	unsigned seed = 42;
	for (int i = 0; i < n; i++) {
		int ready[2];
		char c;
		if (pipe(ready))
			exit(1);
		pid_t root = fork();
		if (root == 0) {
			close(ready[0]);
			if (unshare(CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWUTS))
				_exit(1);
			mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL);
			if (write(ready[1], "r", 1) != 1)
				_exit(1);
			for (;;)
				pause();
		}
		close(ready[1]);
		if (read(ready[0], &c, 1) != 1)
			exit(1);
		close(ready[0]);
		criurs_ctx *ctx = NULL;
		if (criurs_ctx_new(root, &ctx)) {
			bad++;
			continue;
		}
		struct killer k = { root, next_rand(&seed) % 3000 };
		pthread_t t;
		pthread_create(&t, NULL, kill_later, &k);
		int rc = criurs_collect_namespaces(ctx, false);
		pthread_join(t, NULL);
		if (rc == -ESRCH)
			esrch++;
		else if (rc != 0 && !bad++) {
			first = rc;
			snprintf(why, sizeof(why), "%s", criurs_ctx_last_error(ctx));
		}
		/* Gone by now: every later call that reads it says so. */
		waitpid(root, NULL, 0);
		rc = criurs_collect_namespaces(ctx, false);
		if (rc != -ESRCH && !bad++) {
			first = rc;
			snprintf(why, sizeof(why), "after the kill: %s", criurs_ctx_last_error(ctx));
		}
		criurs_ctx_free(ctx);
	}
	ok(bad == 0, "root killed 0-3 ms into %d collections: only 0 or -ESRCH (%d -ESRCH; first other %d: %s)", n, esrch,
	   first, why);
}

/* In a pid namespace of its own with /proc remounted, so pids can be
 * chosen: a root at pid 100, a context for it, the root killed and
 * reaped, then another process at pid 100. Runs as the namespace's init;
 * the exit code says what failed. */
static int set_last_pid(int pid)
{
	char text[16];
	int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
	if (fd < 0)
		return -1;
	int len = snprintf(text, sizeof(text), "%d", pid);
	int rc = write(fd, text, len) == len ? 0 : -1;
	close(fd);
	return rc;
}

static pid_t spawn_sleeper_at(int pid, int in_new_uts)
{
	if (set_last_pid(pid - 1))
		return -1;
	pid_t p = fork();
	if (p == 0) {
		if (in_new_uts) {
			unshare(CLONE_NEWUTS);
			sethostname("impostor", 8);
		}
		for (;;)
			pause();
	}
	return p;
}

static int reuse_as_init(void)
{
	if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) || mount("proc", "/proc", "proc", 0, NULL))
		return 10;
	pid_t first = spawn_sleeper_at(100, 0);
	if (first != 100)
		return 11;
	criurs_ctx *ctx = NULL;
	if (criurs_ctx_new(first, &ctx) || criurs_collect_namespaces(ctx, false))
		return 12;
	kill(first, SIGKILL);
	waitpid(first, NULL, 0);
	/* Past one clock tick: where there is no pidfd_open (valgrind), the
	 * library tells processes apart by pid and start time in ticks. */
	usleep(30000);
	pid_t second = spawn_sleeper_at(100, 1);
	if (second != 100)
		return 13;
	/* Give the impostor time to be in its own uts namespace. */
	usleep(20000);
	int rc = criurs_collect_namespaces(ctx, false);
	int code = rc == -ESRCH ? 0 : 14;
	if (code)
		fprintf(stderr, "# pid reuse: collect gave %d: %s\n", rc, criurs_ctx_last_error(ctx));
	size_t count = 99;
	if (!code && criurs_ns_count(ctx, &count) != -ENODATA)
		code = 15;
	/* A new context for the number is the new process's: that is fine. */
	criurs_ctx *again = NULL;
	if (!code && (criurs_ctx_new(100, &again) || criurs_collect_namespaces(again, false)))
		code = 16;
	criurs_ctx_free(again);
	criurs_ctx_free(ctx);
	kill(second, SIGKILL);
	waitpid(second, NULL, 0);
	return code;
}

static void pid_reuse(void)
{
	pid_t outer = fork();
	if (outer == 0) {
		if (unshare(CLONE_NEWPID | CLONE_NEWNS))
			_exit(9);
		pid_t init = fork();
		if (init == 0)
			_exit(reuse_as_init());
		int status = 0;
		waitpid(init, &status, 0);
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 8);
	}
	int status = 0;
	waitpid(outer, &status, 0);
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	ok(code == 0, "a root whose pid went to another process: -ESRCH, no data (step code %d)", code);
}

int main(void)
{
	racing_descendants();
	racing_root();
	pid_reuse();
	return tap_done();
}
