/* A mount namespace for bench/mounts to read: run inside
 * `unshare --mount --propagation private`, mounts a tmpfs on BASE and
 * bind-mounts BASE/src on BASE/d0..d(N-1).
 *   private: the binds are private; this process holds them.
 *   slave:   the tmpfs is made shared first (src and its N binds are one
 *            peer group), then a child in a new mount namespace makes the
 *            copy of BASE an rslave: its N+1 mounts are slaves of a group
 *            whose members are all in another namespace (mountinfo's
 *            propagate_from search walks that group for each of them).
 * Prints "PID ready" (PID: the process whose namespace to read) and holds
 * until stdin closes. Usage: mountholder BASE N private|slave */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

int main(int argc, char **argv)
{
	if (argc != 4 || (strcmp(argv[3], "private") && strcmp(argv[3], "slave"))) {
		fprintf(stderr, "usage: mountholder BASE N private|slave\n");
		return 2;
	}
	const char *base = argv[1];
	long n = atol(argv[2]);
	int slave = !strcmp(argv[3], "slave");
	char path[4096];
	if (mount("bench", base, "tmpfs", 0, "size=64m"))
		die("mount tmpfs");
	if (slave && mount(NULL, base, NULL, MS_SHARED, NULL))
		die("make-shared");
	snprintf(path, sizeof(path), "%s/src", base);
	if (mkdir(path, 0755))
		die("mkdir src");
	char src[4096];
	snprintf(src, sizeof(src), "%s", path);
	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/d%ld", base, i);
		if (mkdir(path, 0755))
			die("mkdir");
		if (mount(src, path, NULL, MS_BIND, NULL))
			die("bind");
	}
	if (!slave) {
		printf("%d ready\n", getpid());
		fflush(stdout);
		char c;
		while (read(0, &c, 1) > 0)
			;
		return 0;
	}
	pid_t child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		if (unshare(CLONE_NEWNS))
			die("unshare");
		if (mount(NULL, base, NULL, MS_REC | MS_SLAVE, NULL))
			die("make-rslave");
		printf("%d ready\n", getpid());
		fflush(stdout);
		char c;
		while (read(0, &c, 1) > 0)
			;
		return 0;
	}
	int status;
	waitpid(child, &status, 0);
	return 0;
}
