/* The sandbox `make demo` inspects: a process in new user, mount, net,
 * pid, uts and ipc namespaces holding a few mounts and sockets. Prints
 * the sandbox's pid (as seen from here) on stdout, then waits: on EOF of
 * stdin or SIGTERM it kills the sandbox (its pid namespace dies with it,
 * and its mounts with its mount namespace) and removes its directory.
 *
 * Usage: sandbox DIR   (DIR: an empty directory to mount under) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *base;
static int go_pipe[2];
static char stack[256 * 1024];

static void die(const char *what)
{
	fprintf(stderr, "sandbox: %s: %s\n", what, strerror(errno));
	_exit(1);
}

static void path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", base, name);
}

static void setup_mounts(void)
{
	char a[512], b[512], s1[512], s2[512], sub[512];
	if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL))
		die("make / private");
	path(a, sizeof(a), "tmp");
	path(b, sizeof(b), "bind");
	path(s1, sizeof(s1), "shared1");
	path(s2, sizeof(s2), "shared2");
	if (mount("demo-tmp", base, "tmpfs", 0, "size=1m,mode=755"))
		die("mount tmpfs");
	if (mkdir(a, 0755) || mkdir(b, 0755) || mkdir(s1, 0755) || mkdir(s2, 0755))
		die("mkdir");
	if (mount("demo-data", a, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k"))
		die("mount data tmpfs");
	path(sub, sizeof(sub), "tmp/sub");
	if (mkdir(sub, 0755) || mount(sub, b, NULL, MS_BIND, NULL))
		die("bind mount");
	if (mount("demo-shared", s1, "tmpfs", 0, "size=16k") || mount(NULL, s1, NULL, MS_SHARED, NULL) ||
	    mount(s1, s2, NULL, MS_BIND, NULL))
		die("shared pair");
}

static void setup_sockets(void)
{
	int pair[2];
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct ifreq lo = { .ifr_name = "lo" };
	int ctl = socket(AF_INET, SOCK_DGRAM, 0);
	if (ioctl(ctl, SIOCGIFFLAGS, &lo) || (lo.ifr_flags |= IFF_UP, ioctl(ctl, SIOCSIFFLAGS, &lo)))
		die("bring lo up");
	close(ctl);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair))
		die("socketpair");
	int tcp = socket(AF_INET, SOCK_STREAM, 0);
	addr.sin_port = htons(8080);
	if (bind(tcp, (struct sockaddr *)&addr, sizeof(addr)) || listen(tcp, 16))
		die("tcp listener");
	int udp = socket(AF_INET, SOCK_DGRAM, 0);
	addr.sin_port = htons(5353);
	if (bind(udp, (struct sockaddr *)&addr, sizeof(addr)))
		die("udp socket");
}

static int sandbox(void *arg)
{
	char c;
	(void)arg;
	close(go_pipe[1]);
	/* Wait for the parent to write our id maps. */
	if (read(go_pipe[0], &c, 1) != 0)
		die("wait for maps");
	/* Become the namespace's root: our old uid is not mapped in it. */
	if (setresgid(0, 0, 0) || setresuid(0, 0, 0))
		die("become root of the user namespace");
	if (sethostname("criurs-demo", 11))
		die("sethostname");
	setup_mounts();
	setup_sockets();
	for (;;)
		pause();
	return 0;
}

static int write_proc(pid_t pid, const char *file, const char *text)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/%s", pid, file);
	int fd = open(p, O_WRONLY);
	int rc = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
	if (fd >= 0)
		close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	char c;
	if (argc != 2) {
		fprintf(stderr, "usage: sandbox DIR\n");
		return 2;
	}
	base = argv[1];
	if (pipe(go_pipe))
		die("pipe");
	int flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD;
	pid_t child = clone(sandbox, stack + sizeof(stack), flags, NULL);
	if (child < 0)
		die("clone");
	close(go_pipe[0]);
	if (write_proc(child, "uid_map", "0 100000 65536\n") || write_proc(child, "setgroups", "deny") ||
	    write_proc(child, "gid_map", "0 100000 65536\n"))
		die("write id maps");
	close(go_pipe[1]);
	/* Ready when its TCP listener exists: its mounts were made before. */
	char tcp[64];
	snprintf(tcp, sizeof(tcp), "/proc/%d/net/tcp", child);
	for (int i = 0; i < 200; i++) {
		char buf[4096] = "";
		int fd = open(tcp, O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (n > 0 && strstr(buf, ":1F90"))
			break;
		usleep(10000);
	}
	printf("%d\n", child);
	fflush(stdout);
	signal(SIGTERM, SIG_IGN);
	while (read(0, &c, 1) > 0)
		;
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return 0;
}
