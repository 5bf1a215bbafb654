/* A child the C tests share: one in a new user namespace (and whatever
 * other namespaces the test asks for), mapped from the parent, that waits
 * until the parent lets it go. */
#ifndef CRIURS_TEST_USERNS_CHILD_H
#define CRIURS_TEST_USERNS_CHILD_H

#include <sched.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

/* Without CLONE_VM the child runs on its own copy of this stack, so one
 * stack serves every child a test starts. */
static char userns_child_stack[128 * 1024];

/* The child's body: it waits for EOF on the hold pipe, which comes once
 * the parent closes its write end (the child closes its own copy first). */
static inline int userns_child_wait(void *arg)
{
	int *hold = arg;
	char c;
	close(hold[1]);
	while (read(hold[0], &c, 1) > 0)
		;
	return 0;
}

/* Starts a child in a new user namespace plus the namespaces in `flags`
 * (CLONE_NEW*), writes its uid_map, setgroups "deny" and gid_map from
 * here, and returns its pid with hold[1] kept open for
 * stop_userns_child(); -1 (and no child left) on failure. */
static inline pid_t start_userns_child(int flags, const char *uid_map, const char *gid_map, int hold[2])
{
	if (pipe(hold))
		return -1;
	pid_t c = clone(userns_child_wait, userns_child_stack + sizeof(userns_child_stack), CLONE_NEWUSER | flags | SIGCHLD, hold);
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

/* Lets the child go and reaps it. */
static inline void stop_userns_child(int hold[2], pid_t c)
{
	close(hold[1]);
	waitpid(c, NULL, 0);
}

#endif
