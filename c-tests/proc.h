/* Helpers the C tests share for /proc: writing its files (a child's maps,
 * sysctls), and the inodes it names namespaces and sockets by. */
#ifndef CRIURS_TEST_PROC_H
#define CRIURS_TEST_PROC_H

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* Writes `text` to `path` in one write, as /proc files want: 0, or -1
 * when it could not be written whole. */
static inline int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* write_file() of /proc/PID/NAME (uid_map, setgroups, ...). */
static inline int write_proc_file(pid_t pid, const char *name, const char *text)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	return write_file(path, text);
}

/* The inode of the calling thread's network namespace (0 if unknown):
 * unchanged by a call that must not move the caller. */
static inline unsigned long net_ns_now(void)
{
	struct stat st;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/task/%ld/ns/net", (long)gettid());
	return stat(path, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

/* The inode of an open fd: for a socket, INO in /proc's socket:[INO]. */
static inline unsigned long ino_of(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

#endif
