/* The ids, uts, time and ipc images from C: a child in new uts, ipc and
 * time namespaces (offsets written by its parent before it was born) with
 * a host name, a segment, a queue and a semaphore set; dumped with
 * criurs_dump_namespaces, decoded by crit, read through the accessors;
 * then NULLs, codes and CRIU's refusal of a nested time namespace. */
#include <criurs.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "images.h"
#include "proc.h"
#include "tap.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x80
#endif

#define SHM_LEN 4196 /* a page and a bit */

struct msg1 {
	long mtype;
	char text[8];
};

/* In the helper, after unshare: the objects of the new ipc namespace. */
static int make_objects(void)
{
	int shm = shmget(IPC_PRIVATE, SHM_LEN, IPC_CREAT | 0600);
	char *p = shm < 0 ? (char *)-1 : shmat(shm, NULL, 0);
	if (p == (char *)-1)
		return -1;
	memcpy(p, "hello", 5);
	shmdt(p);
	int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	struct msg1 m = { 7, "ping" };
	if (q < 0 || msgsnd(q, &m, 4, IPC_NOWAIT))
		return -1;
	int s = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
	unsigned short v[2] = { 5, 6 };
	return s < 0 || semctl(s, 0, SETALL, v) ? -1 : 0;
}

/* helper: new uts+ipc namespaces and a time namespace for its children
 * (monotonic +1000 s, boottime +2000 s); its child is the tree we dump.
 * Both pids come back through `report`; both end when `hold` closes. */
static pid_t start_tree(int report[2], int hold[2], pid_t *helper)
{
	if (pipe(report) || pipe(hold))
		return -1;
	pid_t h = fork();
	if (h == 0) {
		close(report[0]);
		close(hold[1]);
		if (unshare(CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWTIME) ||
		    write_file("/proc/self/timens_offsets", "monotonic 1000 0\nboottime 2000 0\n") ||
		    /* Through procfs, which valgrind also runs (it has no setdomainname). */
		    write_file("/proc/sys/kernel/hostname", "c-host") ||
		    write_file("/proc/sys/kernel/domainname", "c.domain") || make_objects())
			_exit(2);
		pid_t c = fork();
		if (c == 0) {
			char x;
			while (read(hold[0], &x, 1) > 0)
				;
			_exit(0);
		}
		/* Both pids from here, in order: the child's, then ours. */
		pid_t both[2] = { c, getpid() };
		if (c < 0 || write(report[1], both, sizeof(both)) != sizeof(both))
			_exit(3);
		waitpid(c, NULL, 0);
		_exit(0);
	}
	close(report[1]);
	close(hold[0]);
	pid_t both[2] = { -1, -1 };
	if (read(report[0], both, sizeof(both)) != sizeof(both) || both[1] != h)
		return -1;
	close(report[0]);
	*helper = h;
	return both[0];
}

static unsigned long long now_ns(clockid_t clock)
{
	struct timespec t;
	clock_gettime(clock, &t);
	return (unsigned long long)t.tv_sec * 1000000000ULL + (unsigned long long)t.tv_nsec;
}

static unsigned long long ts_ns(criurs_timespec t)
{
	return t.sec * 1000000000ULL + t.nsec;
}

int main(void)
{
	char dir[] = "/tmp/criurs-nsimg-XXXXXX";
	char name[64];
	int report[2], hold[2];
	pid_t helper = -1;
	criurs_ctx *ctx = NULL;
	int rc;

	if (!ok(mkdtemp(dir) != NULL, "images dir %s", dir))
		return tap_done();
	pid_t c = start_tree(report, hold, &helper);
	if (!ok(c > 0, "child %d in new uts, ipc and time namespaces", c))
		return tap_done();

	/* Before anything is collected. */
	ok(criurs_ctx_new(c, &ctx) == 0, "context for the child");
	ok(criurs_read_namespaces(ctx) == -ENODATA, "read before collecting: -ENODATA");
	ok(criurs_dump_namespaces(NULL) == -EINVAL && criurs_read_namespaces(NULL) == -EINVAL, "NULL context: -EINVAL");
	rc = criurs_collect_namespaces(ctx, true);
	ok(rc == 0, "collect for dump: %d %s", rc, criurs_ctx_last_error(ctx));
	ok(criurs_dump_namespaces(ctx) == -EINVAL, "dump without an images dir: -EINVAL");
	ok(strstr(criurs_ctx_last_error(ctx), "images directory") != NULL, "sentence: %s", criurs_ctx_last_error(ctx));
	ok(criurs_ctx_set_images_dir(ctx, dir) == 0, "images dir set");

	unsigned long long m0 = now_ns(CLOCK_MONOTONIC), b0 = now_ns(CLOCK_BOOTTIME);
	rc = criurs_dump_namespaces(ctx);
	unsigned long long m1 = now_ns(CLOCK_MONOTONIC), b1 = now_ns(CLOCK_BOOTTIME);
	ok(rc == 0, "criurs_dump_namespaces: %d %s", rc, criurs_ctx_last_error(ctx));

	/* ids */
	size_t n = 99;
	criurs_task_ids ids;
	ok(criurs_task_ids_count(ctx, &n) == 0 && n == 1, "one task with ids (%zu)", n);
	ok(criurs_task_ids_get(ctx, 0, &ids) == 0 && ids.pid == c && ids.vpid == c, "ids of pid %d", c);
	ok(ids.vm_id == 2 && ids.files_id == 2 && ids.fs_id == 2 && ids.sighand_id == 2, "kcmp ids: ours are 1, the child's 2");
	ok(ids.uts_ns_id > 8 && ids.ipc_ns_id > 8 && ids.time_ns_id > 8 && ids.pid_ns_id == 1, "the child's own namespace ids");
	ids.vm_id = 4242;
	ok(criurs_task_ids_get(ctx, 1, &ids) == -ENOENT && ids.vm_id == 4242, "past the end: -ENOENT, out untouched");
	ok(criurs_task_ids_get(ctx, 0, NULL) == -EINVAL && criurs_task_ids_count(NULL, &n) == -EINVAL, "NULLs: -EINVAL");

	/* the files, as CRIU names them, and crit */
	ok(criurs_task_ids_get(ctx, 0, &ids) == 0, "ids again");
	snprintf(name, sizeof(name), "ids-%d.img", c);
	ok(crit_has(dir, name, "\"vm_id\": 2"), "crit decodes %s", name);
	snprintf(name, sizeof(name), "utsns-%u.img", ids.uts_ns_id);
	ok(crit_has(dir, name, "\"nodename\": \"c-host\""), "crit decodes %s", name);
	snprintf(name, sizeof(name), "timens-%u.img", ids.time_ns_id);
	ok(crit_has(dir, name, "\"boottime\""), "crit decodes %s", name);
	snprintf(name, sizeof(name), "ipcns-msg-%u.img", ids.ipc_ns_id);
	ok(crit_has(dir, name, "\"qnum\": 1"), "crit decodes %s", name);
	snprintf(name, sizeof(name), "ipcns-sem-%u.img", ids.ipc_ns_id);
	ok(crit_has(dir, name, "\"nsems\": 2"), "crit decodes %s", name);
	ok(crit_has(dir, "pagemap-shmem-0.img", "\"pages_id\""), "crit decodes pagemap-shmem-0.img");
	ok(count_files(dir) == 9, "ids, uts, time, four ipc, pagemap and pages: %d files", count_files(dir));

	/* uts */
	criurs_uts u;
	ok(criurs_uts_get(ctx, ids.uts_ns_id, &u) == 0 && u.nodename_len == 6 && !memcmp(u.nodename, "c-host", 6) &&
	       u.domainname_len == 8 && !memcmp(u.domainname, "c.domain", 8),
	   "uts names");
	ok(criurs_uts_get(ctx, 1, &u) == -ENOENT, "the caller's uts namespace is not dumped: -ENOENT");
	ok(criurs_uts_get(ctx, ids.uts_ns_id, NULL) == -EINVAL, "NULL out: -EINVAL");

	/* time: our clocks plus the offsets, between our two reads */
	criurs_timens t;
	ok(criurs_timens_get(ctx, ids.time_ns_id, &t) == 0, "time namespace clocks");
	ok(ts_ns(t.monotonic) >= m0 + 1000000000000ULL && ts_ns(t.monotonic) <= m1 + 1000000000000ULL,
	   "monotonic = ours + 1000 s (%llu)", ts_ns(t.monotonic));
	ok(ts_ns(t.boottime) >= b0 + 2000000000000ULL && ts_ns(t.boottime) <= b1 + 2000000000000ULL,
	   "boottime = ours + 2000 s (%llu)", ts_ns(t.boottime));
	ok(t.monotonic.nsec < 1000000000 && t.boottime.nsec < 1000000000, "nanoseconds below a second");
	ok(criurs_timens_get(ctx, 0, &t) == -ENOENT, "no timens-0: the root has its own time namespace");

	/* ipc sysctls */
	criurs_ipc_var v;
	ok(criurs_ipc_var_get(ctx, ids.ipc_ns_id, &v) == 0 && v.msg_ctlmax > 0 && v.shm_ctlmni > 0 && v.sem_ctls[0] > 0,
	   "ipc sysctls (msgmax %u)", v.msg_ctlmax);
	ok(v.mqueue && v.mq_msgsize_max > 0 && !v.has_msg_next_id, "mqueue values, no next ids set");
	ok(criurs_ipc_var_get(ctx, ids.uts_ns_id, &v) == -ENOENT, "not an ipc namespace: -ENOENT");

	/* shm */
	criurs_ipc_shm s;
	unsigned char buf[16];
	size_t copied = 99;
	ok(criurs_ipc_shm_count(ctx, ids.ipc_ns_id, &n) == 0 && n == 1, "one segment");
	ok(criurs_ipc_shm_get(ctx, ids.ipc_ns_id, 0, &s) == 0 && s.size == SHM_LEN && (s.desc.mode & 0777) == 0600 &&
	       s.desc.id == 0 && s.stored_pages == 1 && !s.has_hugetlb_flag,
	   "segment: size, mode, one page stored (the other is a hole)");
	snprintf(name, sizeof(name), "%s/pages-%u.img", dir, s.pages_id);
	ok(s.pages_id >= 2 && access(name, R_OK) == 0, "its pages in pages-%u.img", s.pages_id);
	ok(criurs_ipc_shm_read(ctx, ids.ipc_ns_id, 0, 0, buf, sizeof(buf), &copied) == 0 && copied == 16 &&
	       !memcmp(buf, "hello\0\0\0", 8),
	   "contents from byte 0");
	ok(criurs_ipc_shm_read(ctx, ids.ipc_ns_id, 0, SHM_LEN - 2, buf, sizeof(buf), &copied) == 0 && copied == 2,
	   "short read at the end");
	ok(criurs_ipc_shm_read(ctx, ids.ipc_ns_id, 0, SHM_LEN, buf, sizeof(buf), &copied) == 0 && copied == 0,
	   "nothing past the end");
	copied = 99;
	ok(criurs_ipc_shm_read(ctx, ids.ipc_ns_id, 0, 0, NULL, 5, &copied) == -EINVAL && copied == 99,
	   "NULL buf: -EINVAL, copied untouched");
	ok(criurs_ipc_shm_read(ctx, ids.ipc_ns_id, 0, 0, NULL, 0, &copied) == 0 && copied == 0, "NULL buf of length 0");
	ok(criurs_ipc_shm_read(ctx, ids.ipc_ns_id, 0, 0, buf, 1, NULL) == -EINVAL, "NULL copied: -EINVAL");
	ok(criurs_ipc_shm_get(ctx, ids.ipc_ns_id, 1, &s) == -ENOENT, "segment past the end: -ENOENT");

	/* msg */
	criurs_ipc_msq q;
	criurs_ipc_msg m;
	ok(criurs_ipc_msq_count(ctx, ids.ipc_ns_id, &n) == 0 && n == 1, "one queue");
	ok(criurs_ipc_msq_get(ctx, ids.ipc_ns_id, 0, &q) == 0 && q.qnum == 1 && q.qbytes > 0, "queue with one message");
	ok(criurs_ipc_msg_get(ctx, ids.ipc_ns_id, 0, 0, &m) == 0 && m.mtype == 7 && m.len == 4 && !memcmp(m.data, "ping", 4),
	   "the message, type 7");
	ok(criurs_ipc_msg_get(ctx, ids.ipc_ns_id, 0, 1, &m) == -ENOENT, "message past the end: -ENOENT");
	ok(strstr(criurs_ctx_last_error(ctx), "message index 1") != NULL, "sentence: %s", criurs_ctx_last_error(ctx));
	ok(criurs_ipc_msg_get(ctx, ids.ipc_ns_id, 3, 0, &m) == -ENOENT, "queue past the end: -ENOENT");

	/* sem */
	criurs_ipc_sem sem;
	ok(criurs_ipc_sem_count(ctx, ids.ipc_ns_id, &n) == 0 && n == 1, "one semaphore set");
	ok(criurs_ipc_sem_get(ctx, ids.ipc_ns_id, 0, &sem) == 0 && sem.nsems == 2 && sem.values[0] == 5 && sem.values[1] == 6,
	   "values 5 and 6");
	ok(criurs_ipc_sem_count(ctx, 12345, &n) == -ENOENT, "unknown namespace: -ENOENT");

	/* A new collection forgets what was read. */
	ok(criurs_collect_namespaces(ctx, false) == 0 && criurs_task_ids_count(ctx, &n) == 0 && n == 0,
	   "after a new collection: no ids until read again");
	ok(criurs_read_namespaces(ctx) == 0 && criurs_task_ids_count(ctx, &n) == 0 && n == 1, "read again, nothing written");
	criurs_ctx_free(ctx);

	/* criurs_dump: the whole dump as one transaction. A directory planted
	 * at the ids image (named last) fails it with nothing of it left, and
	 * the context keeps no collection. */
	ok(criurs_dump(NULL) == -EINVAL, "criurs_dump(NULL): -EINVAL");
	empty_dir(dir);
	ok(criurs_ctx_new(c, &ctx) == 0, "a new context for the child");
	ok(criurs_dump(ctx) == -EINVAL && strstr(criurs_ctx_last_error(ctx), "images directory"),
	   "criurs_dump without an images dir: %s", criurs_ctx_last_error(ctx));
	ok(criurs_ctx_set_images_dir(ctx, dir) == 0, "images dir set");
	rc = criurs_dump(ctx);
	int whole = count_files(dir);
	snprintf(name, sizeof(name), "ids-%d.img", c);
	ok(rc == 0 && whole >= 7 && crit_has(dir, name, "\"vm_id\": 2"), "criurs_dump: %d, %d images %s", rc, whole,
	   criurs_ctx_last_error(ctx));
	empty_dir(dir);
	char planted[600];
	snprintf(planted, sizeof(planted), "%s/%s", dir, name);
	ok(mkdir(planted, 0700) == 0, "a directory planted at %s", name);
	rc = criurs_dump(ctx);
	ok(rc < 0 && strstr(criurs_ctx_last_error(ctx), name) && count_files(dir) == 1, "refused, nothing left: %d %s", rc,
	   criurs_ctx_last_error(ctx));
	ok(criurs_task_ids_count(ctx, &n) == -ENODATA, "no collection kept after a failed dump");
	rmdir(planted);
	criurs_ctx_free(ctx);

	/* The helper: its children's time namespace is not its own. CRIU
	 * refuses it ("Can't dump nested time_for_children namespace"), and so
	 * do we. */
	char want[96];
	snprintf(want, sizeof(want), "Can't dump nested time_for_children namespace for %d", helper);
	empty_dir(dir);
	ok(criurs_ctx_new(helper, &ctx) == 0 && criurs_ctx_set_images_dir(ctx, dir) == 0, "context for the helper");
	rc = criurs_collect_namespaces(ctx, true);
	ok(rc == -EOPNOTSUPP && strstr(criurs_ctx_last_error(ctx), want), "collect for dump refused: %s",
	   criurs_ctx_last_error(ctx));
	ok(criurs_collect_namespaces(ctx, false) == 0, "collect for inspection is fine");
	rc = criurs_dump_namespaces(ctx);
	ok(rc == -EOPNOTSUPP && strstr(criurs_ctx_last_error(ctx), want) && count_files(dir) == 0,
	   "dump refused, nothing written: %s", criurs_ctx_last_error(ctx));
	criurs_ctx_free(ctx);

	close(hold[1]);
	int status = 0;
	waitpid(helper, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "helper and child ended");
	empty_dir(dir);
	rmdir(dir);
	return tap_done();
}
