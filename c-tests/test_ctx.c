/* The API conventions as a C caller sees them: NULLs, codes, sentences,
 * version, logging, the images directory, and two contexts in two
 * threads. */
#include <criurs.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"

struct log_seen {
	int lines;
	unsigned max_level;
	char last[256];
};

static void on_log(void *user_data, uint32_t level, const char *line)
{
	struct log_seen *seen = user_data;
	seen->lines++;
	if (level > seen->max_level)
		seen->max_level = level;
	snprintf(seen->last, sizeof(seen->last), "%s", line);
}

static void *collect_in_thread(void *arg)
{
	long *result = arg;
	criurs_ctx *ctx = NULL;
	size_t n = 0;
	int rc = criurs_ctx_new(getpid(), &ctx);
	for (int i = 0; rc == 0 && i < 20; i++)
		rc = criurs_collect_namespaces(ctx, false);
	if (rc == 0)
		rc = criurs_ns_count(ctx, &n);
	criurs_ctx_free(ctx);
	*result = rc == 0 ? (long)n : rc;
	return NULL;
}

int main(void)
{
	criurs_ctx *ctx = (criurs_ctx *)0x1;
	criurs_ns_info info;
	size_t n = 0;

	ok(strcmp(criurs_version(), "1.0.0") == 0, "version is %s", criurs_version());
	ok(strcmp(criurs_strerror(-ESRCH), "no such process") == 0, "strerror(-ESRCH)");
	ok(strcmp(criurs_strerror(0), "success") == 0, "strerror(0)");
	ok(strcmp(criurs_strerror(-99999), "unknown error") == 0, "strerror of an unknown code");

	ok(criurs_ctx_new(getpid(), NULL) == -EINVAL, "ctx_new with NULL out gives -EINVAL");
	ok(criurs_ctx_new(0, &ctx) == -EINVAL && ctx == (criurs_ctx *)0x1, "pid 0: -EINVAL, out untouched");
	ok(criurs_ctx_new(-7, &ctx) == -EINVAL, "negative pid: -EINVAL");
	ok(criurs_ctx_new(0x7ffffff0, &ctx) == -ESRCH, "missing pid: -ESRCH");

	criurs_ctx_free(NULL);
	ok(1, "ctx_free(NULL) is a no-op");
	ok(criurs_collect_namespaces(NULL, false) == -EINVAL, "collect on NULL: -EINVAL");
	ok(criurs_ns_count(NULL, &n) == -EINVAL, "count on NULL: -EINVAL");
	ok(strstr(criurs_ctx_last_error(NULL), "NULL") != NULL, "last_error(NULL) says NULL");

	ok(criurs_ctx_new(getpid(), &ctx) == 0 && ctx != NULL, "ctx_new(getpid())");
	ok(strcmp(criurs_ctx_last_error(ctx), "") == 0, "no error yet: empty sentence");
	ok(criurs_ns_count(ctx, &n) == -ENODATA, "count before collect: -ENODATA");
	ok(strstr(criurs_ctx_last_error(ctx), "not collected") != NULL, "sentence: %s", criurs_ctx_last_error(ctx));
	ok(criurs_ns_count(ctx, NULL) == -EINVAL, "count with NULL out: -EINVAL");

	struct log_seen seen = { 0 };
	ok(criurs_ctx_set_log(ctx, on_log, &seen, 9) == -EINVAL, "log level 9 refused");
	ok(criurs_ctx_set_log(ctx, on_log, &seen, CRIURS_LOG_INFO) == 0, "log callback set at info");
	ok(criurs_collect_namespaces(ctx, false) == 0, "collect own process");
	ok(seen.lines > 0 && seen.max_level <= CRIURS_LOG_INFO, "log lines delivered (%d), none above info", seen.lines);
	ok(strncmp(seen.last, "", 1) != 0 && strchr(seen.last, ':') != NULL, "line has a module prefix: %s", seen.last);
	ok(criurs_ctx_set_log(ctx, NULL, NULL, CRIURS_LOG_DEBUG) == 0, "log silenced");

	int rc = criurs_ns_count(ctx, &n);
	ok(rc == 0 && n >= 7, "own process has %zu namespaces", n);
	ok(criurs_ns_get(ctx, n, &info) == -ENOENT, "get past the end: -ENOENT");
	ok(strstr(criurs_ctx_last_error(ctx), "past the end") != NULL, "sentence: %s", criurs_ctx_last_error(ctx));
	ok(criurs_ns_get(ctx, 0, NULL) == -EINVAL, "get with NULL out: -EINVAL");
	ok(criurs_ns_find(ctx, 12345, 1, &info) == -EINVAL, "find with a bad kind: -EINVAL");

	ok(criurs_ctx_set_images_dir(ctx, NULL) == -EINVAL, "images dir NULL: -EINVAL");
	ok(criurs_ctx_set_images_dir(ctx, "/nonexistent/criurs") == -ENOENT, "missing images dir: -ENOENT");
	ok(strstr(criurs_ctx_last_error(ctx), "/nonexistent/criurs") != NULL, "sentence names the path: %s",
	   criurs_ctx_last_error(ctx));
	ok(criurs_ctx_set_images_dir(ctx, "/tmp") == 0, "images dir /tmp");
	int fd = open("/tmp", O_RDONLY | O_DIRECTORY);
	ok(criurs_ctx_set_images_dir_fd(ctx, fd) == 0, "images dir by fd");
	close(fd);
	ok(criurs_ctx_set_images_dir_fd(ctx, -1) == -EINVAL, "negative fd: -EINVAL");
	fd = open("/proc/self/stat", O_RDONLY);
	ok(criurs_ctx_set_images_dir_fd(ctx, fd) == -ENOTDIR, "fd of a file: -ENOTDIR");
	close(fd);
	criurs_ctx_free(ctx);

	pthread_t t1, t2;
	long r1 = 0, r2 = 0;
	pthread_create(&t1, NULL, collect_in_thread, &r1);
	pthread_create(&t2, NULL, collect_in_thread, &r2);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	ok(r1 > 0 && r1 == r2, "two contexts in two threads agree (%ld, %ld)", r1, r2);

	return tap_done();
}
