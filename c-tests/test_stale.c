/* A failed collection leaves nothing of the one before it: after a
 * collection that read a tree's uid/gid maps, one that fails later (the
 * mount step refuses the tree for a dump) leaves no maps, table or
 * mounts behind, and a good one brings them back. */
#include <criurs.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "tap.h"

static char stack[128 * 1024];
static int go_fd, go_wr_fd, ready_fd;
static char dir_a[64], dir_b[64];

/* In its own user and mount namespaces, once mapped: a bind of a tmpfs
 * subdirectory whose tmpfs is then unmounted (a tree CRIU refuses to dump:
 * no proper root mount for the bind). */
static int refused_tree(void *arg)
{
	char c, sub[80];
	(void)arg;
	close(go_wr_fd); /* so the parent's close is seen as EOF */
	if (read(go_fd, &c, 1) != 1)
		return 1;
	snprintf(sub, sizeof(sub), "%s/sub", dir_a);
	/* Become the namespace's root (host uid 100000) to own what it makes. */
	if (setresgid(0, 0, 0) || setresuid(0, 0, 0) || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL))
		return 2;
	if (mount("stale", dir_a, "tmpfs", 0, NULL))
		return 3;
	if (mkdir(sub, 0755))
		return 4;
	if (mount(sub, dir_b, "none", MS_BIND, NULL))
		return 5;
	if (umount2(dir_a, MNT_DETACH))
		return 6;
	if (write(ready_fd, "r", 1) != 1)
		return 7;
	while (read(go_fd, &c, 1) > 0)
		;
	return 0;
}

static int extent_count(criurs_ctx *ctx, uint32_t ns_id, size_t *n)
{
	*n = 99;
	return criurs_userns_extent_count(ctx, ns_id, CRIURS_UID_MAP, n);
}

int main(void)
{
	int go[2], ready[2];
	char images[] = "/tmp/criurs-stale-img-XXXXXX";
	snprintf(dir_a, sizeof(dir_a), "/tmp/criurs-stale-a-%d", getpid());
	snprintf(dir_b, sizeof(dir_b), "/tmp/criurs-stale-b-%d", getpid());
	if (pipe(go) || pipe(ready) || mkdir(dir_a, 0755) || mkdir(dir_b, 0755) || !mkdtemp(images))
		return 1;
	go_fd = go[0];
	go_wr_fd = go[1];
	ready_fd = ready[1];
	pid_t c = clone(refused_tree, stack + sizeof(stack), CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD, NULL);
	char byte;
	close(ready[1]);
	int set = c > 0 && !write_proc_file(c, "uid_map", "0 100000 65536\n") && !write_proc_file(c, "setgroups", "deny") &&
		  !write_proc_file(c, "gid_map", "0 100000 65536\n") && write(go[1], "g", 1) == 1 && read(ready[0], &byte, 1) == 1;
	if (!set) {
		int status = 0;
		close(go[1]);
		waitpid(c, &status, 0);
		ok(0, "a tree in its own user and mount namespaces that a dump refuses (status %#x)", status);
		return tap_done();
	}
	ok(set, "a tree in its own user and mount namespaces that a dump refuses (%d)", c);

	criurs_ctx *ctx = NULL;
	size_t n;
	int rc;
	ok(criurs_ctx_new(c, &ctx) == 0 && criurs_ctx_set_images_dir(ctx, images) == 0, "context");
	ok(criurs_collect_namespaces(ctx, false) == 0, "a collection for inspection succeeds");
	criurs_ns_info user = { 0 }, info;
	size_t count = 0;
	criurs_ns_count(ctx, &count);
	for (size_t i = 0; i < count; i++)
		if (criurs_ns_get(ctx, i, &info) == 0 && info.kind == CRIURS_NS_USER && info.type_ == CRIURS_NS_TYPE_ROOT)
			user = info;
	ok(user.id > 0, "the root's user namespace %u", user.id);
	rc = extent_count(ctx, user.id, &n);
	ok(rc == 0 && n == 1, "its uid map: %zu extent (%d)", n, rc);

	rc = criurs_collect_namespaces(ctx, true);
	/* Its own bind, or whatever of the host's mounts it copied, is refused. */
	ok(rc < 0 && strstr(criurs_ctx_last_error(ctx), "mount"), "the collection for a dump fails in the mount step (%d: %s)",
	   rc, criurs_ctx_last_error(ctx));
	ok(extent_count(ctx, user.id, &n) == -ENOENT && n == 99, "no stale uid map count after it");
	criurs_id_extent e = { 7, 7, 7 };
	ok(criurs_userns_extent_get(ctx, user.id, CRIURS_UID_MAP, 0, &e) == -ENOENT && e.count == 7, "no stale extent either");
	ok(criurs_ns_count(ctx, &n) == -ENODATA, "no stale namespace table");
	ok(criurs_userns_extent_count(ctx, user.id, CRIURS_GID_MAP, &n) == -ENOENT, "no stale gid map");

	ok(criurs_collect_namespaces(ctx, false) == 0 && extent_count(ctx, user.id, &n) == 0 && n == 1,
	   "a good collection brings the maps back");
	criurs_ctx_free(ctx);

	close(go[1]);
	waitpid(c, NULL, 0);
	rmdir(dir_a);
	rmdir(dir_b);
	rmdir(images);
	return tap_done();
}
