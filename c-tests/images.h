/* Helpers the C tests share for an images directory: how many entries it
 * holds, emptying it, and decoding one of its images with CRIU's crit. */
#ifndef CRIURS_TEST_IMAGES_H
#define CRIURS_TEST_IMAGES_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

/* Every entry but "." and "..": a staged image is a dot file
 * (.criurs-*.tmp), and one left behind must count. */
static inline int is_entry(const char *name)
{
	return name[0] != '.' || (name[1] && (name[1] != '.' || name[2]));
}

static inline int count_files(const char *dir)
{
	int n = 0;
	DIR *d = opendir(dir);
	for (struct dirent *e; d && (e = readdir(d));)
		n += is_entry(e->d_name);
	if (d)
		closedir(d);
	return n;
}

/* Unlinks every file in `dir` (the directory stays). */
static inline void empty_dir(const char *dir)
{
	DIR *d = opendir(dir);
	for (struct dirent *e; d && (e = readdir(d));)
		if (is_entry(e->d_name))
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
}

/* Runs `crit decode -i PATH`: its output (and errors) in `buf`, cut to
 * size - 1 bytes and NUL-terminated, and its length in *len; returns
 * pclose's status (0 when crit succeeded), -1 when it could not run. */
static inline int crit_decode(const char *path, char *buf, size_t size, size_t *len)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "crit decode -i %s 2>&1", path);
	FILE *p = popen(cmd, "r");
	*len = p ? fread(buf, 1, size - 1, p) : 0;
	buf[*len] = 0;
	return p ? pclose(p) : -1;
}

/* Whether crit decodes DIR/NAME with `want` in its output; if not, the
 * output goes to the TAP log. */
static inline int crit_has(const char *dir, const char *name, const char *want)
{
	char path[512], buf[8192];
	size_t len;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int rc = crit_decode(path, buf, sizeof(buf), &len);
	if (rc != 0 || !strstr(buf, want)) {
		diag("crit %s: %s", name, buf);
		return 0;
	}
	return 1;
}

#endif
