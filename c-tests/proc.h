/* Helpers the C tests share for writing /proc files (a child's maps,
 * sysctls). */
#ifndef CRIURS_TEST_PROC_H
#define CRIURS_TEST_PROC_H

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
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

#endif
