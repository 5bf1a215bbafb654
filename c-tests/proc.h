/* Helpers the C tests share for writing a child's /proc files. */
#ifndef CRIURS_TEST_PROC_H
#define CRIURS_TEST_PROC_H

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* Writes `text` to /proc/PID/NAME in one write (uid_map, setgroups, ...):
 * 0, or -1 when it could not be written whole. */
static inline int write_proc_file(pid_t pid, const char *name, const char *text)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

#endif
