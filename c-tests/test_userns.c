/* User namespaces from C: a child in a new user namespace with 3-extent
 * maps written by its parent, dumped to userns-N.img, decoded by CRIU's
 * crit, read back through the library; and the failures. */
#include <criurs.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "images.h"
#include "tap.h"

/* The child's maps, and the extents criurs must read back from them. */
#define UID_MAP "0 100000 10\n10 200000 5\n100 300000 1000\n"
#define GID_MAP "0 110000 10\n10 210000 5\n100 310000 1000\n"
static const criurs_id_extent want_uid[3] = { { 0, 100000, 10 }, { 10, 200000, 5 }, { 100, 300000, 1000 } };
static const criurs_id_extent want_gid[3] = { { 0, 110000, 10 }, { 10, 210000, 5 }, { 100, 310000, 1000 } };

static int same_map(criurs_ctx *ctx, uint32_t ns_id, uint32_t which, const criurs_id_extent *want)
{
	size_t n = 0;
	if (criurs_userns_extent_count(ctx, ns_id, which, &n) || n != 3)
		return 0;
	for (size_t i = 0; i < n; i++) {
		criurs_id_extent e;
		if (criurs_userns_extent_get(ctx, ns_id, which, i, &e) || e.first != want[i].first ||
		    e.lower_first != want[i].lower_first || e.count != want[i].count)
			return 0;
	}
	return 1;
}

/* crit's JSON for the image, flattened to digits and separators, must
 * hold the three extents of each map in order. */
static int crit_shows(const char *img)
{
	char buf[8192], flat[8192];
	size_t len;
	int rc = crit_decode(img, buf, sizeof(buf), &len);
	size_t j = 0;
	for (size_t i = 0; i < len; i++)
		if (buf[i] != ' ' && buf[i] != '\n' && buf[i] != '"')
			flat[j++] = buf[i];
	flat[j] = 0;
	if (rc != 0 || !strstr(flat, "magic:USERNS")) {
		diag("crit: %s", buf);
		return 0;
	}
	return strstr(flat, "uid_map:[{first:0,lower_first:100000,count:10},{first:10,lower_first:200000,count:5},"
			    "{first:100,lower_first:300000,count:1000}]") &&
	       strstr(flat, "gid_map:[{first:0,lower_first:110000,count:10},{first:10,lower_first:210000,count:5},"
			    "{first:100,lower_first:310000,count:1000}]");
}

int main(void)
{
	char dir[] = "/tmp/criurs-userns-XXXXXX";
	char img[256];
	int hold[2];
	criurs_ctx *ctx = NULL;
	criurs_ns_info root_user;

	if (!ok(mkdtemp(dir) != NULL, "images dir %s", dir))
		return tap_done();
	pid_t c = start_userns_child(CLONE_NEWNET, UID_MAP, GID_MAP, hold);
	if (!ok(c > 0, "child %d in a new user namespace with 3-extent maps", c))
		return tap_done();

	ok(criurs_ctx_new(c, &ctx) == 0, "context for the child");
	ok(criurs_dump_user_ns(ctx, c, 1) == -EINVAL, "dump without an images dir: -EINVAL");
	ok(strstr(criurs_ctx_last_error(ctx), "images directory") != NULL, "sentence: %s", criurs_ctx_last_error(ctx));
	ok(criurs_ctx_set_images_dir(ctx, dir) == 0, "images dir set");
	int rc = criurs_collect_namespaces(ctx, true);
	ok(rc == 0, "collect for dump: %d %s", rc, criurs_ctx_last_error(ctx));

	/* The root's user namespace is the one the dump wrote. */
	char link[64], target[64];
	snprintf(link, sizeof(link), "/proc/%d/ns/user", c);
	ssize_t tl = readlink(link, target, sizeof(target) - 1);
	target[tl > 0 ? tl : 0] = 0;
	unsigned long long kid = strtoull(strchr(target, '[') + 1, NULL, 10);
	rc = criurs_ns_find(ctx, CRIURS_NS_USER, kid, &root_user);
	ok(rc == 0 && root_user.type_ == CRIURS_NS_TYPE_ROOT, "child's user ns is the root's (id %u)", root_user.id);
	snprintf(img, sizeof(img), "%s/userns-%u.img", dir, root_user.id);
	ok(access(img, R_OK) == 0, "%s written", img);
	ok(count_files(dir) == 1, "nothing else in the images dir");
	ok(same_map(ctx, root_user.id, CRIURS_UID_MAP, want_uid), "uid map in the context");
	ok(same_map(ctx, root_user.id, CRIURS_GID_MAP, want_gid), "gid map in the context");
	ok(crit_shows(img), "crit decode shows exactly the 3+3 extents");

	/* Read back through the library, into a fresh context. */
	criurs_ctx *back = NULL;
	ok(criurs_ctx_new(getpid(), &back) == 0 && criurs_ctx_set_images_dir(back, dir) == 0, "second context");
	ok(criurs_userns_load_image(back, root_user.id) == 0, "image loaded back");
	ok(same_map(back, root_user.id, CRIURS_UID_MAP, want_uid) && same_map(back, root_user.id, CRIURS_GID_MAP, want_gid),
	   "read back equal");
	ok(criurs_userns_load_image(back, 999) == -ENOENT, "missing image: -ENOENT");
	size_t n = 0;
	ok(criurs_userns_extent_count(back, root_user.id, 7, &n) == -EINVAL, "bad map selector: -EINVAL");
	criurs_ctx_free(back);

	/* The explicit call, by pid and id. */
	unlink(img);
	rc = criurs_dump_user_ns(ctx, c, root_user.id);
	ok(rc == 0 && access(img, R_OK) == 0, "criurs_dump_user_ns rewrites %s (%d)", img, rc);
	ok(criurs_dump_user_ns(ctx, getpid(), root_user.id) == -EINVAL, "our pid is not in that namespace: -EINVAL");
	ok(criurs_dump_user_ns(ctx, c, 1) == -EINVAL, "id 1 is not a user namespace: -EINVAL");
	ok(criurs_dump_user_ns(ctx, 0x7ffffff0, 4242) == -ESRCH, "missing pid: -ESRCH");
	ok(strstr(criurs_ctx_last_error(ctx), "2147483632") != NULL, "sentence names the pid: %s",
	   criurs_ctx_last_error(ctx));
	ok(criurs_dump_user_ns(NULL, c, 1) == -EINVAL, "NULL context: -EINVAL");

	/* A pid that is gone by the time its maps are read. */
	stop_child(hold, c);
	unlink(img);
	rc = criurs_dump_user_ns(ctx, c, 4242);
	ok(rc == -ESRCH && count_files(dir) == 0, "exited pid: -ESRCH, nothing written (%s)", criurs_ctx_last_error(ctx));

	/* A failed collection leaves nothing of the ones before it. */
	ok(same_map(ctx, root_user.id, CRIURS_UID_MAP, want_uid), "maps of the last collection before the next one");
	size_t cnt = 99;
	rc = criurs_collect_namespaces(ctx, false);
	ok(rc == -ESRCH, "collecting the exited root: -ESRCH (%d)", rc);
	ok(criurs_userns_extent_count(ctx, root_user.id, CRIURS_UID_MAP, &cnt) == -ENOENT && cnt == 99,
	   "no stale uid map after the failure");
	ok(criurs_ns_count(ctx, &cnt) == -ENODATA && cnt == 99, "no stale namespace table after the failure");
	criurs_ctx_free(ctx);

	/* A tree in our own user namespace: nothing to dump. */
	ok(criurs_ctx_new(getpid(), &ctx) == 0 && criurs_ctx_set_images_dir(ctx, dir) == 0, "context for ourselves");
	ok(criurs_collect_namespaces(ctx, true) == 0 && count_files(dir) == 0, "own user ns: 0, nothing written");
	criurs_ctx_free(ctx);

	/* A read-only images directory: an error naming it, nothing left. */
	int status = 0;
	pid_t k = fork();
	if (k == 0) {
		criurs_ctx *kc = NULL;
		int h[2];
		if (unshare(CLONE_NEWNS) || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) ||
		    mount("ro", dir, "tmpfs", MS_RDONLY, NULL))
			_exit(3);
		pid_t u = start_userns_child(CLONE_NEWNET, UID_MAP, GID_MAP, h);
		if (u < 0 || criurs_ctx_new(u, &kc) || criurs_ctx_set_images_dir(kc, dir))
			_exit(4);
		int r = criurs_collect_namespaces(kc, true);
		int good = r == -EROFS && strstr(criurs_ctx_last_error(kc), "userns-") && count_files(dir) == 0;
		if (!good)
			fprintf(stderr, "# read-only: %d %s\n", r, criurs_ctx_last_error(kc));
		criurs_ctx_free(kc);
		stop_child(h, u);
		_exit(good ? 0 : 1);
	}
	waitpid(k, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "read-only images dir: -EROFS naming the image, nothing left");

	rmdir(dir);
	return tap_done();
}
