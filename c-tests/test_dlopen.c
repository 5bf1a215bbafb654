/* A runc-style tool loading the library at run time: dlopen + dlsym,
 * nothing linked. CRIURS_LIB names the library to load. */
#include <criurs.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

int main(void)
{
	const char *path = getenv("CRIURS_LIB") ? getenv("CRIURS_LIB") : "libcriurs.so.1";
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!ok(lib != NULL, "dlopen %s", path)) {
		diag("%s", dlerror());
		return tap_done();
	}
	typeof(criurs_ctx_new) *ctx_new = NULL;
	*(void **)(&ctx_new) = dlsym(lib, "criurs_ctx_new"); /* POSIX idiom */
	typeof(criurs_ctx_free) *ctx_free = NULL;
	*(void **)(&ctx_free) = dlsym(lib, "criurs_ctx_free"); /* POSIX idiom */
	typeof(criurs_collect_namespaces) *collect = NULL;
	*(void **)(&collect) = dlsym(lib, "criurs_collect_namespaces"); /* POSIX idiom */
	typeof(criurs_ns_count) *count = NULL;
	*(void **)(&count) = dlsym(lib, "criurs_ns_count"); /* POSIX idiom */
	typeof(criurs_version) *version = NULL;
	*(void **)(&version) = dlsym(lib, "criurs_version"); /* POSIX idiom */
	ok(ctx_new && ctx_free && collect && count && version, "criurs_* symbols resolve");
	ok(dlsym(lib, "rust_begin_unwind") == NULL && dlsym(lib, "main") == NULL, "no Rust internals exported");
	if (ctx_new && ctx_free && collect && count && version) {
		criurs_ctx *ctx = NULL;
		size_t n = 0;
		int rc = ctx_new(getpid(), &ctx);
		if (rc == 0)
			rc = collect(ctx, false);
		if (rc == 0)
			rc = count(ctx, &n);
		ok(rc == 0 && n > 0, "collect through dlsym'd functions: %zu namespaces", n);
		ctx_free(ctx);
		ok(strlen(version()) > 0, "version %s", version());
	}
	ok(dlclose(lib) == 0, "dlclose");
	return tap_done();
}
