/* Runs one command the same way for every tool bench/cli compares and
 * prints "seconds=S maxrss_kb=K": wall time from fork to exit, and the
 * peak resident set of the child (wait4's ru_maxrss).
 * Usage: runstat [--net PID] CMD ARGS...
 *   --net PID: the child enters PID's network namespace before exec (so
 *   ss sees that namespace without nsenter's extra exec).
 * The child's stdout goes to /dev/null; a failing command is an error. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int net = -1, first = 1;
	if (argc > 3 && strcmp(argv[1], "--net") == 0) {
		char p[64];
		snprintf(p, sizeof(p), "/proc/%s/ns/net", argv[2]);
		net = open(p, O_RDONLY | O_CLOEXEC);
		if (net < 0) {
			fprintf(stderr, "runstat: open %s: %s\n", p, strerror(errno));
			return 1;
		}
		first = 3;
	}
	if (argc <= first) {
		fprintf(stderr, "usage: runstat [--net PID] CMD ARGS...\n");
		return 2;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid < 0) {
		perror("runstat: fork");
		return 1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null < 0 || dup2(null, 1) < 0 || (net >= 0 && setns(net, CLONE_NEWNET) != 0)) {
			perror("runstat: child setup");
			_exit(127);
		}
		execvp(argv[first], argv + first);
		fprintf(stderr, "runstat: exec %s: %s\n", argv[first], strerror(errno));
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("runstat: wait4");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "runstat: %s failed (status %#x)\n", argv[first], status);
		return 1;
	}
	printf("seconds=%.6f maxrss_kb=%ld\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, ru.ru_maxrss);
	return 0;
}
