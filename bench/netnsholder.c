/* Many network namespaces for bench/sockets: forks N children, each in a
 * network namespace of its own holding S unix sockets (S/2 socketpairs).
 * The children are this process's, so a collection of its tree meets
 * every namespace. Prints "PID ready" (PID: the tree root, this process)
 * once all are made; everything exits when stdin closes.
 * Usage: netnsholder N S */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "netnsholder: %s: %s\n", what, strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: netnsholder N S\n");
		return 2;
	}
	long n = atol(argv[1]), s = atol(argv[2]);
	int ready[2];
	if (pipe(ready))
		die("pipe");
	for (long i = 0; i < n; i++) {
		pid_t child = fork();
		if (child < 0)
			die("fork");
		if (child == 0) {
			close(ready[0]);
			if (unshare(CLONE_NEWNET))
				die("unshare");
			for (long k = 0; k < s / 2; k++) {
				int sv[2];
				if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
					die("socketpair");
			}
			if (write(ready[1], "x", 1) != 1)
				die("write");
			close(ready[1]);
			char c;
			while (read(0, &c, 1) > 0)
				;
			return 0;
		}
	}
	close(ready[1]);
	char c;
	long got = 0;
	while (got < n && read(ready[0], &c, 1) == 1)
		got++;
	if (got != n) {
		fprintf(stderr, "netnsholder: %ld of %ld namespaces made\n", got, n);
		return 1;
	}
	printf("%d ready\n", getpid());
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	while (wait(NULL) > 0)
		;
	return 0;
}
