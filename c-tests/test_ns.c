/* Namespace discovery from C: a tree whose child lives in new user, mount,
 * net, pid, uts and ipc namespaces; zombies, exiting children and tasks
 * we may not inspect. */
#include <criurs.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

static const struct {
	uint32_t kind;
	const char *name;
} kinds[] = {
	{ CRIURS_NS_USER, "user" }, { CRIURS_NS_MNT, "mnt" }, { CRIURS_NS_NET, "net" },
	{ CRIURS_NS_PID, "pid" },   { CRIURS_NS_UTS, "uts" }, { CRIURS_NS_IPC, "ipc" },
};

static uint64_t ns_inode(pid_t pid, const char *name)
{
	char path[64];
	struct stat st;
	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, name);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/%s", name);
	return stat(path, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

static char child_stack[256 * 1024];
static int hold_fd;

static int sleeper(void *arg)
{
	char c;
	(void)arg;
	/* Blocks until the test closes its end of the pipe. */
	while (read(hold_fd, &c, 1) > 0)
		;
	return 0;
}

/* Forks P (in our namespaces) which clones C in new namespaces. Returns
 * P's pid and C's (as seen from here) through *child. */
static pid_t start_tree(int hold[2], pid_t *child)
{
	int report[2];
	if (pipe(hold) || pipe(report))
		return -1;
	pid_t p = fork();
	if (p == 0) {
		close(hold[1]);
		close(report[0]);
		hold_fd = hold[0];
		int flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD;
		pid_t c = clone(sleeper, child_stack + sizeof(child_stack), flags, NULL);
		if (write(report[1], &c, sizeof(c)) != sizeof(c))
			_exit(2);
		close(report[1]);
		if (c > 0)
			waitpid(c, NULL, 0);
		_exit(0);
	}
	close(hold[0]);
	close(report[1]);
	if (read(report[0], child, sizeof(*child)) != sizeof(*child))
		*child = -1;
	close(report[0]);
	return p;
}

static void stop_tree(int hold[2], pid_t p)
{
	close(hold[1]);
	waitpid(p, NULL, 0);
}

static void test_tree_in_new_namespaces(void)
{
	int hold[2];
	pid_t c = -1, p = start_tree(hold, &c);
	criurs_ctx *ctx = NULL;
	criurs_ns_info info;
	size_t n = 0;

	if (!ok(p > 0 && c > 0, "started P=%d with child C=%d in new namespaces", p, c))
		return;
	ok(criurs_ctx_new(p, &ctx) == 0, "context for P");
	int rc = criurs_collect_namespaces(ctx, false);
	ok(rc == 0, "collect: %d %s", rc, criurs_ctx_last_error(ctx));
	rc = criurs_ns_count(ctx, &n);
	ok(rc == 0 && n >= 14, "table holds own + child's namespaces (%zu)", n);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		uint64_t kid = ns_inode(c, kinds[i].name);
		rc = criurs_ns_find(ctx, kinds[i].kind, kid, &info);
		ok(rc == 0 && info.type_ == CRIURS_NS_TYPE_OTHER && info.pid == c && info.kind == kinds[i].kind &&
			   info.kid == kid,
		   "C's %s ns %llu is 'other', reached through C (rc %d type %s pid %d)", kinds[i].name,
		   (unsigned long long)kid, rc, criurs_ns_type_name(info.type_), info.pid);
		uint64_t own = ns_inode(0, kinds[i].name);
		rc = criurs_ns_find(ctx, kinds[i].kind, own, &info);
		ok(rc == 0 && info.type_ == CRIURS_NS_TYPE_OWN && info.kid == own, "own %s ns is 'own' (%s)",
		   kinds[i].name, criurs_ns_type_name(info.type_));
	}
	/* Ids are sequential from 1, in table order. */
	int sequential = 1;
	for (size_t i = 0; i < n; i++)
		if (criurs_ns_get(ctx, i, &info) != 0 || info.id != i + 1)
			sequential = 0;
	ok(sequential, "ids run 1..%zu in table order", n);
	ok(strcmp(criurs_ns_kind_name(CRIURS_NS_NET), "net") == 0 && strcmp(criurs_ns_kind_name(7), "unknown") == 0,
	   "kind names");
	criurs_ctx_free(ctx);

	/* Rooted at C itself: its namespaces become the root's. */
	ok(criurs_ctx_new(c, &ctx) == 0 && criurs_collect_namespaces(ctx, false) == 0, "context rooted at C");
	rc = criurs_ns_find(ctx, CRIURS_NS_NET, ns_inode(c, "net"), &info);
	ok(rc == 0 && info.type_ == CRIURS_NS_TYPE_ROOT, "C's net ns is 'root' when C is the root");
	criurs_ctx_free(ctx);
	stop_tree(hold, p);
}

static void test_zombie_root(void)
{
	criurs_ctx *ctx = NULL;
	pid_t z = fork();
	if (z == 0)
		_exit(0);
	/* Wait until it is a zombie, without reaping it. */
	siginfo_t si;
	waitid(P_PID, z, &si, WEXITED | WNOWAIT);
	ok(criurs_ctx_new(z, &ctx) == 0, "context for a zombie");
	int rc = criurs_collect_namespaces(ctx, false);
	ok(rc == -ESRCH && strstr(criurs_ctx_last_error(ctx), "zombie"), "zombie root: %d %s", rc,
	   criurs_ctx_last_error(ctx));
	criurs_ctx_free(ctx);
	waitpid(z, NULL, 0);
	ok(criurs_ctx_new(z, &ctx) == -ESRCH, "reaped pid: -ESRCH");
}

static void test_children_exiting_during_walk(void)
{
	pid_t r = fork();
	if (r == 0) {
		/* Spawns short-lived children for a few seconds. */
		time_t end = time(NULL) + 3;
		while (time(NULL) < end) {
			pid_t k = fork();
			if (k == 0) {
				usleep(200);
				_exit(0);
			}
			if (k > 0)
				waitpid(k, NULL, 0);
		}
		_exit(0);
	}
	int ok_runs = 0, gone_runs = 0, bad = 0;
	for (int i = 0; i < 300; i++) {
		criurs_ctx *ctx = NULL;
		if (criurs_ctx_new(r, &ctx) != 0)
			break;
		int rc = criurs_collect_namespaces(ctx, false);
		size_t n = 0;
		if (rc == 0 && criurs_ns_count(ctx, &n) == 0 && n >= 7)
			ok_runs++;
		else if (rc == -ESRCH && strlen(criurs_ctx_last_error(ctx)) > 0)
			gone_runs++;
		else
			bad++;
		criurs_ctx_free(ctx);
	}
	waitpid(r, NULL, 0);
	ok(bad == 0 && ok_runs > 0, "children exiting mid-walk: %d complete tables, %d clear errors, %d bad", ok_runs,
	   gone_runs, bad);
}

static void test_without_permission(void)
{
	int status = 0;
	pid_t k = fork();
	if (k == 0) {
		criurs_ctx *ctx = NULL;
		if (setgid(65534) || setuid(65534))
			_exit(3);
		if (criurs_ctx_new(1, &ctx) != 0)
			_exit(4);
		int rc = criurs_collect_namespaces(ctx, false);
		const char *msg = criurs_ctx_last_error(ctx);
		int good = (rc == -EACCES || rc == -EPERM) && strstr(msg, "pid 1") && strstr(msg, "ns/");
		if (!good)
			fprintf(stderr, "# unprivileged: %d %s\n", rc, msg);
		criurs_ctx_free(ctx);
		_exit(good ? 0 : 1);
	}
	waitpid(k, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "nobody inspecting pid 1: -EACCES naming pid and path");
}

int main(void)
{
	test_tree_in_new_namespaces();
	test_zombie_root();
	test_children_exiting_during_walk();
	test_without_permission();
	return tap_done();
}
