/* One context shared by threads: each thread reads its own last error
 * (no other thread's call frees it: run under ASan by make test-c-san),
 * and copies it; a log callback that calls the library on its own
 * context gets -EDEADLK instead of hanging, on whichever thread it runs. */
#include <criurs.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

static criurs_ctx *shared;
static pthread_barrier_t start;
static int loops;

static int iterations(int dflt)
{
	const char *n = getenv("CRIURS_TEST_ITERATIONS");
	return n && atoi(n) > 0 ? atoi(n) : dflt;
}

struct worker {
	int base; /* pids base+0.. are asked for and do not exist */
	int wrong;
	int calls;
};

static void *fail_and_read(void *arg)
{
	struct worker *w = arg;
	pthread_barrier_wait(&start);
	for (int i = 0; i < loops; i++) {
		char want[32], copy[256];
		int pid = w->base + (i % 50);
		snprintf(want, sizeof(want), "%d", pid);
		if (criurs_dump_user_ns(shared, pid, 4242) != -ESRCH)
			w->wrong++;
		const char *text = criurs_ctx_last_error(shared);
		/* Read the whole sentence while the other thread fails too. */
		if (strlen(text) < 10 || !strstr(text, want))
			w->wrong++;
		int len = criurs_ctx_last_error_copy(shared, copy, sizeof(copy));
		if (len != (int)strlen(text) || strcmp(copy, text))
			w->wrong++;
		w->calls++;
	}
	return NULL;
}

static int deadlock_rc = 1, other_rc = 1, lines, callback_free_survived;
static criurs_ctx *other;

static void calls_back(void *user_data, uint32_t level, const char *line)
{
	criurs_ctx *ctx = user_data;
	size_t n;
	(void)level;
	(void)line;
	lines++;
	deadlock_rc = criurs_ns_count(ctx, &n);
	other_rc = criurs_ns_count(other, &n);
	criurs_ctx_free(ctx); /* ignored: the call that logs still uses it */
	callback_free_survived = 1;
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "not ok - the log callback's call on its own context hung (deadlock)\n";
	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(2);
	_exit(1);
}

int main(void)
{
	signal(SIGALRM, on_alarm);
	alarm(60);
	char dir[] = "/tmp/criurs-threads-XXXXXX";
	ok(mkdtemp(dir) && criurs_ctx_new(getpid(), &shared) == 0 && criurs_ctx_set_images_dir(shared, dir) == 0,
	   "a context shared by two threads");
	struct worker a = { 0x7ffff000, 0, 0 }, b = { 0x7ffff800, 0, 0 };
	loops = iterations(20000);
	pthread_barrier_init(&start, NULL, 2);
	pthread_t ta, tb;
	pthread_create(&ta, NULL, fail_and_read, &a);
	pthread_create(&tb, NULL, fail_and_read, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	ok(a.calls == loops && a.wrong == 0, "thread A read its own error each of %d times (%d wrong)", loops, a.wrong);
	ok(b.calls == loops && b.wrong == 0, "thread B read its own error each of %d times (%d wrong)", loops, b.wrong);
	ok(strlen(criurs_ctx_last_error(shared)) == 0, "the main thread, which failed nothing, reads an empty sentence");

	/* The copy: cut short, NUL-terminated, full length returned. */
	char small[8];
	ok(criurs_dump_user_ns(shared, 0x7ffffff0, 4242) == -ESRCH, "a failure in the main thread");
	int full = criurs_ctx_last_error_copy(shared, NULL, 0);
	ok(full == (int)strlen(criurs_ctx_last_error(shared)) && full > 8, "length without a buffer (%d)", full);
	ok(criurs_ctx_last_error_copy(shared, small, sizeof(small)) == full && strlen(small) == 7 &&
	       !strncmp(small, criurs_ctx_last_error(shared), 7),
	   "cut to the buffer, NUL-terminated: \"%s\"", small);
	ok(criurs_ctx_last_error_copy(shared, NULL, 4) == -EINVAL && criurs_ctx_last_error_copy(NULL, small, 8) == -EINVAL,
	   "NULL buffer with a length, NULL context: -EINVAL");
	criurs_ctx_free(shared);

	/* A log callback that calls the library. */
	criurs_ctx *ctx = NULL;
	ok(criurs_ctx_new(getpid(), &ctx) == 0 && criurs_ctx_new(getpid(), &other) == 0, "two contexts");
	ok(criurs_ctx_set_log(ctx, calls_back, ctx, CRIURS_LOG_DEBUG) == 0, "a callback that calls back");
	int rc = criurs_collect_namespaces(ctx, false);
	ok(rc == 0 && lines > 0, "the collection finishes (%d, %d lines)", rc, lines);
	ok(deadlock_rc == -EDEADLK, "its own context from the callback: -EDEADLK (%d)", deadlock_rc);
	ok(other_rc == -ENODATA, "another context from the callback works (%d)", other_rc);
	ok(callback_free_survived && criurs_ns_count(ctx, &(size_t){ 0 }) == 0, "criurs_ctx_free from the callback was ignored");
	ok(strstr(criurs_ctx_last_error(ctx), "log callback") != NULL, "the sentence says why: %s",
	   criurs_ctx_last_error(ctx));
	ok(!strcmp(criurs_strerror(-EDEADLK), "call from the context's own log callback"), "criurs_strerror(-EDEADLK)");
	criurs_ctx_set_log(ctx, NULL, NULL, CRIURS_LOG_INFO);
	criurs_ctx_free(ctx);
	criurs_ctx_free(other);
	alarm(0);
	rmdir(dir);
	return tap_done();
}
