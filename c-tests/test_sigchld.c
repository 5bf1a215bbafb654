/* A host that handles SIGCHLD: the user-namespace check runs a child of
 * its own; neither a handler that reaps every child nor SIGCHLD ignored
 * (children reaped by the kernel) may take it from the library. Many
 * collections for a dump of a tree in its own user namespace, under each. */
#include <criurs.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "tap.h"

static volatile sig_atomic_t reaped;

/* What a host's event loop does: reap every child that is ready. */
static void reap_all(int sig)
{
	int saved = errno;
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		reaped++;
	errno = saved;
}

static int iterations(void)
{
	const char *n = getenv("CRIURS_TEST_ITERATIONS");
	return n && atoi(n) > 0 ? atoi(n) : 200;
}

/* Collections for a dump, each with the user-namespace check; returns the
 * number that failed, and the first failure's code in *first. */
static int collect_many(pid_t root, const char *dir, int n, int *first, char *why, size_t why_len)
{
	int failed = 0;
	criurs_ctx *ctx = NULL;
	*first = 0;
	if (criurs_ctx_new(root, &ctx) || criurs_ctx_set_images_dir(ctx, dir))
		return n;
	for (int i = 0; i < n; i++) {
		int rc = criurs_collect_namespaces(ctx, true);
		if (rc) {
			if (!failed++) {
				*first = rc;
				snprintf(why, why_len, "%s", criurs_ctx_last_error(ctx));
			}
		}
	}
	criurs_ctx_free(ctx);
	return failed;
}

int main(void)
{
	char dir[] = "/tmp/criurs-sigchld-XXXXXX";
	char why[512] = "";
	int hold[2], first;
	int n = iterations();
	if (!mkdtemp(dir))
		return 1;
	/* Its mount namespace is ours: nothing of the host's mounts is validated. */
	pid_t root = start_userns_child(CLONE_NEWNET, "0 100000 65536\n", "0 100000 65536\n", hold);
	ok(root > 0, "a root in its own user namespace (%d)", root);

	/* A reaping handler, without SA_RESTART as many event loops install it. */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = reap_all;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	int failed = collect_many(root, dir, n, &first, why, sizeof(why));
	ok(failed == 0, "reaping SIGCHLD handler: %d of %d collections for a dump failed (first %d: %s)", failed, n,
	   first, why);
	ok(reaped == 0, "the handler never reaped a child of the library (%d)", (int)reaped);

	/* A forked child of the host is still the handler's to reap. */
	pid_t mine = fork();
	if (mine == 0)
		_exit(0);
	for (int i = 0; i < 1000 && !reaped; i++)
		usleep(1000);
	ok(reaped == 1, "the host's own child still reaches its handler");

	/* SIGCHLD ignored: the kernel reaps children that would signal it. */
	signal(SIGCHLD, SIG_IGN);
	failed = collect_many(root, dir, n, &first, why, sizeof(why));
	ok(failed == 0, "SIGCHLD ignored: %d of %d collections for a dump failed (first %d: %s)", failed, n, first, why);

	/* The images of the last one are there. */
	char img[128];
	snprintf(img, sizeof(img), "%s/userns-", dir);
	int images = 0;
	for (int id = 1; id < 32; id++) {
		char p[160];
		snprintf(p, sizeof(p), "%s%d.img", img, id);
		if (access(p, R_OK) == 0) {
			images++;
			unlink(p);
		}
	}
	ok(images == 1, "one userns-N.img written (%d)", images);

	signal(SIGCHLD, SIG_DFL);
	stop_child(hold, root);
	rmdir(dir);
	return tap_done();
}
