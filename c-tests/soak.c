/* Soak: 1,000 cycles of new context / collect everything / dump / free
 * in one process, on a tree in its own user, net, uts and ipc
 * namespaces. Open fds and RSS must stay flat: the fd count after each
 * cycle equals the count after the first, and RSS grows by less than
 * 1 MiB from cycle 100 to the last. Run by `make test-soak` (make check). */
#include <criurs.h>
#include <dirent.h>
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
#include "images.h"
#include "tap.h"

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n - 1; /* the directory's own fd */
}

static long rss_kib(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* One cycle; returns 0 or the failing call's code, naming it in *what. */
static int cycle(pid_t root, const char *dir, const char **what, char *why, size_t why_len)
{
	criurs_ctx *ctx = NULL;
	int rc;
	size_t n = 0;
	if ((rc = criurs_ctx_new(root, &ctx))) {
		*what = "criurs_ctx_new";
		return rc;
	}
#define STEP(call)                                                      \
	do {                                                            \
		if ((rc = (call))) {                                    \
			*what = #call;                                  \
			snprintf(why, why_len, "%s", criurs_ctx_last_error(ctx)); \
			goto out;                                       \
		}                                                       \
	} while (0)
	STEP(criurs_ctx_set_images_dir(ctx, dir));
	STEP(criurs_collect_namespaces(ctx, true));
	STEP(criurs_ns_count(ctx, &n));
	for (size_t i = 0; i < n; i++) {
		criurs_ns_info ns;
		STEP(criurs_ns_get(ctx, i, &ns));
		if (ns.kind == CRIURS_NS_NET && ns.type_ != CRIURS_NS_TYPE_OWN) {
			size_t sockets;
			STEP(criurs_collect_sockets(ctx, ns.id));
			STEP(criurs_sk_count(ctx, ns.id, &sockets));
			STEP(criurs_collect_net_config(ctx, ns.id));
		}
		if (ns.kind == CRIURS_NS_MNT) {
			size_t mounts;
			STEP(criurs_mnt_count(ctx, ns.id, &mounts));
		}
	}
	STEP(criurs_dump_namespaces(ctx));
out:
	criurs_ctx_free(ctx);
	empty_dir(dir);
	return rc;
}

int main(void)
{
	const char *env = getenv("CRIURS_SOAK_CYCLES");
	int cycles = env && atoi(env) > 0 ? atoi(env) : 1000;
	char dir[] = "/tmp/criurs-soak-XXXXXX";
	int hold[2];
	if (!mkdtemp(dir))
		return 1;
	pid_t root = start_userns_child(CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC, "0 100000 65536\n", "0 100000 65536\n", hold);
	ok(root > 0, "a root in its own user, net, uts and ipc namespaces (%d)", root);

	int fds_first = -1, fds_bad = 0, failed = 0, first_rc = 0;
	long rss_warm = 0, rss_max = 0;
	const char *what = "";
	char why[512] = "";
	for (int i = 1; i <= cycles; i++) {
		const char *step = "";
		int rc = cycle(root, dir, &step, why, sizeof(why));
		if (rc && !failed++) {
			first_rc = rc;
			what = step;
		}
		int fds = count_fds();
		if (i == 1)
			fds_first = fds;
		else if (fds != fds_first)
			fds_bad++;
		long rss = rss_kib();
		if (i == 100 || (cycles < 100 && i == 1))
			rss_warm = rss;
		if (rss > rss_max)
			rss_max = rss;
		if (i % 250 == 0)
			diag("cycle %d: %d fds, RSS %ld KiB", i, fds, rss);
	}
	ok(failed == 0, "%d cycles: %d failed (first %d in %s: %s)", cycles, failed, first_rc, what, why);
	ok(fds_bad == 0, "open fds flat at %d (%d cycles differed)", fds_first, fds_bad);
	ok(rss_max - rss_warm < 1024, "RSS flat: %ld KiB at cycle 100, at most %ld KiB after", rss_warm, rss_max);

	stop_child(hold, root);
	rmdir(dir);
	return tap_done();
}
