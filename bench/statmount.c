/* bench/mounts' comparison of the two ways to read a mount table: enters
 * PID's mount namespace, then in turn (ROUNDS times) reads
 * /proc/self/mountinfo whole (64 KiB reads and up, as criurs does), and
 * lists the mounts with listmount(2) and asks statmount(2) for each one
 * the fields criurs needs (ids, device, propagation, root, mount point,
 * type and subtype, source, options; not propagate_from, which CRIU
 * skips). Neither side parses: this is the kernel's cost of each.
 * Prints "mounts=N mountinfo_s=S statmount_s=S ratio=R" with medians and
 * the median of per-round ratios statmount/mountinfo, or
 * "unsupported=ERRNO" where the kernel lacks the calls.
 * Usage: statmount PID [ROUNDS] */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef __NR_statmount
#define __NR_statmount 457
#endif
#ifndef __NR_listmount
#define __NR_listmount 458
#endif

/* Linux 6.18's uapi (include/uapi/linux/mount.h), defined here: the
 * installed headers may predate it. */
struct mnt_id_req {
	uint32_t size, spare;
	uint64_t mnt_id, param;
};
#define LSMT_ROOT 0xffffffffffffffffULL
#define STATMOUNT_SB_BASIC 0x1
#define STATMOUNT_MNT_BASIC 0x2
#define STATMOUNT_MNT_ROOT 0x8
#define STATMOUNT_MNT_POINT 0x10
#define STATMOUNT_FS_TYPE 0x20
#define STATMOUNT_MNT_OPTS 0x80
#define STATMOUNT_FS_SUBTYPE 0x100
#define STATMOUNT_SB_SOURCE 0x200

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static char *buf;
static size_t buf_size = 1 << 20;

static long read_mountinfo(void)
{
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	long total = 0;
	for (;;) {
		if (buf_size - total < (1 << 18)) {
			buf_size *= 2;
			buf = realloc(buf, buf_size);
		}
		ssize_t n = read(fd, buf + total, buf_size - total);
		if (n < 0) {
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		total += n;
	}
	close(fd);
	return total;
}

static uint64_t *ids;
static size_t nids;

static long list_mounts(void)
{
	size_t cap = 1024;
	ids = realloc(ids, cap * sizeof(*ids));
	nids = 0;
	struct mnt_id_req req = { .size = sizeof(req), .mnt_id = LSMT_ROOT };
	for (;;) {
		long n = syscall(__NR_listmount, &req, ids + nids, cap - nids, 0);
		if (n < 0)
			return -1;
		nids += n;
		if (nids < cap)
			return nids;
		req.param = ids[nids - 1];
		cap *= 2;
		ids = realloc(ids, cap * sizeof(*ids));
	}
}

static long stat_mounts(void)
{
	static char *sm;
	static size_t sm_size = 64 * 1024;
	if (!sm)
		sm = malloc(sm_size);
	long bytes = 0;
	if (list_mounts() < 0)
		return -1;
	for (size_t i = 0; i < nids; i++) {
		struct mnt_id_req req = { .size = sizeof(req), .mnt_id = ids[i],
			.param = STATMOUNT_SB_BASIC | STATMOUNT_MNT_BASIC | STATMOUNT_MNT_ROOT | STATMOUNT_MNT_POINT |
				 STATMOUNT_FS_TYPE | STATMOUNT_MNT_OPTS | STATMOUNT_FS_SUBTYPE | STATMOUNT_SB_SOURCE };
		for (;;) {
			if (syscall(__NR_statmount, &req, sm, sm_size, 0) == 0)
				break;
			if (errno == EOVERFLOW) {
				sm_size *= 2;
				sm = realloc(sm, sm_size);
				continue;
			}
			if (errno == ENOENT)
				break; /* unmounted meanwhile */
			return -1;
		}
		bytes += *(uint32_t *)sm;
	}
	return bytes;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: statmount PID [ROUNDS]\n");
		return 2;
	}
	int rounds = argc > 2 ? atoi(argv[2]) : 9;
	if (rounds < 1 || rounds > 1000)
		rounds = 9;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%s/ns/mnt", argv[1]);
	int ns = open(path, O_RDONLY | O_CLOEXEC);
	if (ns < 0 || setns(ns, CLONE_NEWNS)) {
		perror("setns");
		return 1;
	}
	buf = malloc(buf_size);
	if (list_mounts() < 0) {
		printf("unsupported=%d\n", errno);
		return 0;
	}
	double mi[1000], st[1000], ratio[1000];
	for (int r = 0; r < rounds; r++) {
		int st_first = r % 2;
		double a, b, c;
		if (st_first) {
			a = now();
			if (stat_mounts() < 0)
				goto fail;
			b = now();
			if (read_mountinfo() < 0)
				goto fail;
			c = now();
			st[r] = b - a;
			mi[r] = c - b;
		} else {
			a = now();
			if (read_mountinfo() < 0)
				goto fail;
			b = now();
			if (stat_mounts() < 0)
				goto fail;
			c = now();
			mi[r] = b - a;
			st[r] = c - b;
		}
		ratio[r] = st[r] / mi[r];
	}
	printf("mounts=%zu mountinfo_s=%.6f statmount_s=%.6f ratio=%.3f\n", nids, median(mi, rounds), median(st, rounds),
	       median(ratio, rounds));
	return 0;
fail:
	perror("statmount bench");
	return 1;
}
