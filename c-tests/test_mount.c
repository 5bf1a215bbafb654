/* Mount namespaces from C: a child in a new private mount namespace
 * mounts tmpfs instances (one on a name with a space, one on a name with
 * a newline), a shared peer pair and a bind of a subdirectory; we read
 * them through criurs_mnt_*, walk the tree, dump the image, and check
 * NULLs and error codes. */
#include <criurs.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "tap.h"

static char base[] = "/tmp/criurs-ctest-mnt-XXXXXX";

static int path_is(const criurs_mnt_info *m, const char *rel)
{
	char want[512];
	size_t n = (size_t)snprintf(want, sizeof(want), "%s%s", base, rel);
	return m->mountpoint_len == n && memcmp(m->mountpoint, want, n) == 0;
}

static int bytes_is(const uint8_t *p, size_t len, const char *s)
{
	return len == strlen(s) && (len == 0 || memcmp(p, s, len) == 0);
}

static int child_setup(void *unused)
{
	(void)unused;
	char p[512];
	const char *dirs[] = { "/sp ace", "/new\nline", "/shared", "/peer", "/t", "/bindsub" };
	if (unshare(CLONE_NEWNS) || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL))
		return -1;
	if (mount("cbase", base, "tmpfs", 0, "size=1m"))
		return -1;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", base, dirs[i]);
		if (mkdir(p, 0755))
			return -1;
	}
	snprintf(p, sizeof(p), "%s/sp ace", base);
	if (mount("odd", p, "tmpfs", MS_NOSUID, "size=64k"))
		return -1;
	snprintf(p, sizeof(p), "%s/new\nline", base);
	if (mount("odd", p, "tmpfs", 0, "size=64k"))
		return -1;
	snprintf(p, sizeof(p), "%s/shared", base);
	if (mount("shr", p, "tmpfs", 0, "size=64k") || mount("none", p, "none", MS_SHARED, NULL))
		return -1;
	char q[512];
	snprintf(q, sizeof(q), "%s/peer", base);
	if (mount(p, q, "none", MS_BIND, NULL))
		return -1;
	snprintf(p, sizeof(p), "%s/t", base);
	if (mount("tsrc", p, "tmpfs", 0, "size=64k"))
		return -1;
	snprintf(p, sizeof(p), "%s/t/sub", base);
	snprintf(q, sizeof(q), "%s/bindsub", base);
	if (mkdir(p, 0755) || mount(p, q, "none", MS_BIND, NULL))
		return -1;
	return 0;
}

int main(void)
{
	int hold[2], built = -1;
	if (!mkdtemp(base)) {
		perror("setup");
		return 1;
	}
	pid_t pid = start_held_child(child_setup, NULL, 0, &built, hold);
	ok(pid > 0 && built == 0, "child built its mount namespace (run as root)");

	criurs_ctx *ctx = NULL;
	int rc = criurs_ctx_new(pid, &ctx);
	ok(rc == 0, "ctx for pid %d: %d", pid, rc);
	rc = criurs_ctx_add_external_mount(ctx, NULL, "k");
	ok(rc == -EINVAL, "NULL path refused: %d", rc);
	char ext[512];
	snprintf(ext, sizeof(ext), "%s/t", base);
	rc = criurs_ctx_add_external_mount(ctx, ext, "tkey");
	ok(rc == 0, "external mount added: %d", rc);
	rc = criurs_ctx_add_external(ctx, "bogus");
	ok(rc == -EINVAL, "bad external spec refused: %d (%s)", rc, criurs_ctx_last_error(ctx));
	rc = criurs_collect_namespaces(ctx, true);
	ok(rc == 0, "collect: %d %s", rc, rc ? criurs_ctx_last_error(ctx) : "");

	char nspath[64];
	struct stat st;
	snprintf(nspath, sizeof(nspath), "/proc/%d/ns/mnt", pid);
	criurs_ns_info ns;
	rc = stat(nspath, &st) == 0 ? criurs_ns_find(ctx, CRIURS_NS_MNT, (uint64_t)st.st_ino, &ns) : -1;
	ok(rc == 0, "child's mount namespace found: %d", rc);

	size_t n = 0;
	rc = criurs_mnt_count(ctx, ns.id, &n);
	ok(rc == 0 && n > 6, "count %zu", n);
	rc = criurs_mnt_count(ctx, ns.id, NULL);
	ok(rc == -EINVAL, "NULL count refused: %d", rc);

	size_t base_i = SIZE_MAX, space_i = SIZE_MAX, nl_i = SIZE_MAX, shared_i = SIZE_MAX, peer_i = SIZE_MAX, t_i = SIZE_MAX,
	       sub_i = SIZE_MAX;
	criurs_mnt_info m, other;
	for (size_t i = 0; i < n; i++) {
		if (criurs_mnt_get(ctx, ns.id, i, &m))
			break;
		if (path_is(&m, ""))
			base_i = i;
		else if (path_is(&m, "/sp ace"))
			space_i = i;
		else if (path_is(&m, "/new\nline"))
			nl_i = i;
		else if (path_is(&m, "/shared"))
			shared_i = i;
		else if (path_is(&m, "/peer"))
			peer_i = i;
		else if (path_is(&m, "/t"))
			t_i = i;
		else if (path_is(&m, "/bindsub"))
			sub_i = i;
	}
	ok(base_i != SIZE_MAX && space_i != SIZE_MAX && nl_i != SIZE_MAX && shared_i != SIZE_MAX && peer_i != SIZE_MAX &&
		   t_i != SIZE_MAX && sub_i != SIZE_MAX,
	   "all test mounts found, escapes decoded");

	criurs_mnt_get(ctx, ns.id, space_i, &m);
	ok(m.fstype == 5 && bytes_is(m.source, m.source_len, "odd") && bytes_is(m.options, m.options_len, "size=64k"),
	   "tmpfs 'odd' with options size=64k");
	ok((m.flags & MS_NOSUID) && (m.flags & MS_RELATIME) && m.sb_flags == 0, "flags %#x sb_flags %#x", m.flags, m.sb_flags);
	ok(bytes_is(m.fsname, m.fsname_len, "tmpfs") && bytes_is(m.super_options, m.super_options_len, "rw,size=64k"),
	   "fsname and raw super options");
	ok(m.root_dev == (m.major << 20 | m.minor) && bytes_is(m.root, m.root_len, "/"), "root_dev in kernel encoding");
	ok(m.parent_index == base_i, "parent is the base mount");

	criurs_mnt_get(ctx, ns.id, shared_i, &m);
	criurs_mnt_get(ctx, ns.id, peer_i, &other);
	ok(m.shared_id != 0 && m.shared_id == other.shared_id && (other.flags & MS_SHARED), "shared peers, group %u", m.shared_id);

	criurs_mnt_get(ctx, ns.id, t_i, &m);
	ok(m.external && bytes_is(m.ext_key, m.ext_key_len, "tkey"), "external mount carries its key");
	criurs_mnt_get(ctx, ns.id, sub_i, &m);
	ok(!m.external && bytes_is(m.root, m.root_len, "/sub") && m.ext_key == NULL, "bind of a subdirectory: root /sub");

	criurs_mnt_get(ctx, ns.id, base_i, &m);
	int children_ok = m.n_children == 6;
	for (size_t k = 0; k < m.n_children; k++) {
		size_t ci = SIZE_MAX;
		rc = criurs_mnt_child(ctx, ns.id, base_i, k, &ci);
		children_ok &= rc == 0 && criurs_mnt_get(ctx, ns.id, ci, &other) == 0 && other.parent_index == base_i;
	}
	ok(children_ok, "the base mount has its 6 children, each pointing back");
	size_t ci;
	rc = criurs_mnt_child(ctx, ns.id, base_i, m.n_children, &ci);
	ok(rc == -ENOENT, "child past the end: %d", rc);
	size_t found = SIZE_MAX;
	rc = criurs_mnt_find(ctx, ns.id, m.mnt_id, &found);
	ok(rc == 0 && found == base_i, "find by mount id");
	rc = criurs_mnt_find(ctx, ns.id, UINT32_MAX, &found);
	ok(rc == -ENOENT, "unknown mount id: %d", rc);

	size_t root_i = SIZE_MAX;
	rc = criurs_mnt_root(ctx, ns.id, &root_i);
	criurs_mnt_get(ctx, ns.id, root_i, &m);
	ok(rc == 0 && m.parent_index == SIZE_MAX && bytes_is(m.mountpoint, m.mountpoint_len, "/"), "root mount is / without parent");

	rc = criurs_mnt_get(ctx, ns.id, n, &m);
	ok(rc == -ENOENT, "index past the end: %d", rc);
	rc = criurs_mnt_get(ctx, ns.id, 0, NULL);
	ok(rc == -EINVAL, "NULL info refused: %d", rc);
	rc = criurs_mnt_count(ctx, 9999, &n);
	ok(rc == -ENOENT, "unknown namespace id: %d", rc);
	rc = criurs_mnt_count(NULL, ns.id, &n);
	ok(rc == -EINVAL, "NULL ctx: %d", rc);

	rc = criurs_dump_mnt_ns(ctx, ns.id);
	ok(rc == -EINVAL, "dump without an images directory: %d (%s)", rc, criurs_ctx_last_error(ctx));
	char dir[] = "/tmp/criurs-ctest-img-XXXXXX";
	char img[128];
	ok(mkdtemp(dir) != NULL && criurs_ctx_set_images_dir(ctx, dir) == 0, "images dir");
	rc = criurs_dump_mnt_ns(ctx, ns.id);
	snprintf(img, sizeof(img), "%s/mountpoints-%u.img", dir, ns.id);
	struct stat ist = { 0 };
	int img_rc = stat(img, &ist);
	ok(rc == 0 && img_rc == 0 && ist.st_size > 100, "image written: %d, %lld bytes", rc, (long long)ist.st_size);
	FILE *f = fopen(img, "rb");
	unsigned char head[8] = { 0 };
	ok(f && fread(head, 1, 8, f) == 8 && head[4] == 0x28 && head[5] == 0x39 && head[6] == 0x56 && head[7] == 0x55,
	   "MNTS magic");
	if (f)
		fclose(f);
	unlink(img);
	rmdir(dir);

	criurs_ctx_free(ctx);
	stop_child(hold, pid);
	ok(rmdir(base) == 0, "nothing left mounted on the base directory");
	return tap_done();
}
