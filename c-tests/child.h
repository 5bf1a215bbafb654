/* Children the C tests share: one forked to set itself up (namespaces,
 * sockets, mounts) and report, or one cloned into a new user namespace
 * mapped from here; either waits until the test lets it go with
 * stop_child(). */
#ifndef CRIURS_TEST_CHILD_H
#define CRIURS_TEST_CHILD_H

#include <sched.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

/* In the child: waits for EOF on the hold pipe, which comes once the
 * parent closes its write end (the child closes its own copy first). */
static inline void wait_for_release(int hold[2])
{
	char c;
	close(hold[1]);
	while (read(hold[0], &c, 1) > 0)
		;
}

/* Reads exactly `len` bytes (a pipe may hand them over in pieces). */
static inline int read_whole(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* Forks a child that runs setup(arg), sends back its result and the `len`
 * bytes at `arg` (what it set up: inodes, ...), and then waits. Returns
 * its pid, with setup's result in *setup_rc and those bytes in `arg`;
 * -1 (and no child left) when it could not start or report. */
static inline pid_t start_held_child(int (*setup)(void *arg), void *arg, size_t len, int *setup_rc, int hold[2])
{
	int report[2];
	if (pipe(hold))
		return -1;
	if (pipe(report)) {
		close(hold[0]);
		close(hold[1]);
		return -1;
	}
	pid_t c = fork();
	if (c == 0) {
		close(report[0]);
		int rc = setup(arg);
		if (write(report[1], &rc, sizeof(rc)) != sizeof(rc) || (len && write(report[1], arg, len) != (ssize_t)len))
			_exit(2);
		close(report[1]);
		wait_for_release(hold);
		_exit(0);
	}
	close(report[1]);
	close(hold[0]);
	int reported = c > 0 && read_whole(report[0], setup_rc, sizeof(*setup_rc)) == 0 && read_whole(report[0], arg, len) == 0;
	close(report[0]);
	if (!reported) {
		close(hold[1]);
		if (c > 0)
			waitpid(c, NULL, 0);
		return -1;
	}
	return c;
}

/* Without CLONE_VM the child runs on its own copy of this stack, so one
 * stack serves every child a test starts. */
static char userns_child_stack[128 * 1024];

static inline int userns_child_main(void *hold)
{
	wait_for_release(hold);
	return 0;
}

/* Starts a child in a new user namespace plus the namespaces in `flags`
 * (CLONE_NEW*), writes its uid_map, setgroups "deny" and gid_map from
 * here, and returns its pid; -1 (and no child left) on failure. */
static inline pid_t start_userns_child(int flags, const char *uid_map, const char *gid_map, int hold[2])
{
	if (pipe(hold))
		return -1;
	pid_t c = clone(userns_child_main, userns_child_stack + sizeof(userns_child_stack), CLONE_NEWUSER | flags | SIGCHLD, hold);
	close(hold[0]);
	if (c < 0) {
		close(hold[1]);
		return -1;
	}
	if (write_proc_file(c, "uid_map", uid_map) || write_proc_file(c, "setgroups", "deny") ||
	    write_proc_file(c, "gid_map", gid_map)) {
		close(hold[1]);
		waitpid(c, NULL, 0);
		return -1;
	}
	return c;
}

/* Lets the child go and reaps it: its wait status, or -1. */
static inline int stop_child(int hold[2], pid_t c)
{
	int status = 0;
	close(hold[1]);
	return waitpid(c, &status, 0) == c ? status : -1;
}

#endif
