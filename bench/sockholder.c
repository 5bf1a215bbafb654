/* Holds sockets open for bench/sockets: UNIX socket pairs and loopback
 * TCP connections in the caller's network namespace.
 * Usage: sockholder UNIX_SOCKETS TCP_SOCKETS PORT
 * Makes UNIX_SOCKETS/2 socketpairs, and a listener on 127.0.0.1:PORT
 * with (TCP_SOCKETS-1)/2 accepted connections. Prints "ready" and waits
 * until stdin closes, then exits (the kernel closes everything). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "sockholder: %s: %s\n", what, strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: sockholder UNIX_SOCKETS TCP_SOCKETS PORT\n");
		return 2;
	}
	long nunix = atol(argv[1]), ntcp = atol(argv[2]);
	int port = atoi(argv[3]);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (long i = 0; i < nunix / 2; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
			die("socketpair");
	}
	if (ntcp > 0) {
		int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4096))
			die("listen");
		for (long i = 0; i < (ntcp - 1) / 2; i++) {
			int c = socket(AF_INET, SOCK_STREAM, 0);
			if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)))
				die("connect");
			if (accept(l, NULL, NULL) < 0)
				die("accept");
		}
	}
	printf("ready\n");
	fflush(stdout);
	char buf[64];
	while (read(0, buf, sizeof(buf)) > 0)
		;
	return 0;
}
