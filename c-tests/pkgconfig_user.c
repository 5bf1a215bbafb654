/* Built by `make install-check` with `pkg-config --cflags --libs criurs`
 * against an installed copy: proves the install is usable as is. */
#include <criurs.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	criurs_ctx *ctx = NULL;
	size_t n = 0;
	int rc = criurs_ctx_new(getpid(), &ctx);
	if (rc == 0)
		rc = criurs_collect_namespaces(ctx, false);
	if (rc == 0)
		rc = criurs_ns_count(ctx, &n);
	if (rc != 0) {
		fprintf(stderr, "criurs: %s (%s)\n", criurs_strerror(rc), criurs_ctx_last_error(ctx));
		criurs_ctx_free(ctx);
		return 1;
	}
	printf("criurs %s: %zu namespaces\n", criurs_version(), n);
	criurs_ctx_free(ctx);
	return n > 0 ? 0 : 1;
}
