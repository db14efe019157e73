/* Overlay mounts of many layers with both mount paths: the new API and the one-page mount(2) fallback. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "store/store.h"
#include "util/fs.h"

#define N 128

static char base[256];
static char *paths[N];

static int read_small(const char *path, char *out, size_t n)
{
	int fd = open(path, O_RDONLY);
	ssize_t len;

	if (fd < 0)
		return -1;
	len = read(fd, out, n - 1);
	close(fd);
	if (len < 0)
		return -1;
	out[len] = '\0';
	return 0;
}

/* Mounts with fn, checks the merged view and the upper, unmounts. */
static void check_mount(int (*fn)(const char *, const char *const *, size_t, const char *, const char *, ccp_err *),
			const char *what)
{
	char target[512], upper[512], work[512], p[600], got[64];
	ccp_err e = CCP_ERR_INIT;

	snprintf(target, sizeof(target), "%s/%s-merged", base, what);
	snprintf(upper, sizeof(upper), "%s/%s-upper", base, what);
	snprintf(work, sizeof(work), "%s/%s-work", base, what);
	CHECK(mkdir(target, 0755) == 0 && mkdir(upper, 0755) == 0 && mkdir(work, 0700) == 0);
	CHECK(fn(target, (const char *const *)paths, N, upper, work, &e) == 0);
	if (e.msg[0])
		fprintf(stderr, "%s: %s\n", what, e.msg);
	CHECK(ccp_is_overlay_mount(target));
	/* lowers are top-most first: paths[0] is layer N-1 and wins for "shared" */
	snprintf(p, sizeof(p), "%s/shared", target);
	CHECK(read_small(p, got, sizeof(got)) == 0);
	CHECK_STR(got, "layer 127");
	snprintf(p, sizeof(p), "%s/only-0", target);
	CHECK(read_small(p, got, sizeof(got)) == 0);
	CHECK_STR(got, "layer 0");
	snprintf(p, sizeof(p), "%s/written", target);
	CHECK(ccp_write_file_at(AT_FDCWD, p, "w", 1, 0644, &e) == 0);
	CHECK(umount2(target, 0) == 0);
	CHECK(!ccp_is_overlay_mount(target));
	snprintf(p, sizeof(p), "%s/written", upper);
	CHECK(access(p, F_OK) == 0);
}

int main(void)
{
	char name[600], content[32];
	ccp_err e = CCP_ERR_INIT;
	size_t optlen = 0;

	if (geteuid() != 0 || !ccp_overlay_supported()) {
		fprintf(stderr, "SKIP: needs root and overlayfs\n");
		return 77;
	}
	snprintf(base, sizeof(base), "/tmp/ccp-overlay-XXXXXX");
	if (!mkdtemp(base))
		return 1;
	for (int i = 0; i < N; i++) {
		/* Long names: the full paths need far more than a page of mount options. */
		snprintf(name, sizeof(name), "%s/layer-%03d-%s", base, N - 1 - i,
			 "padding-padding-padding-padding-padding-padding-padding-padding");
		paths[i] = strdup(name);
		CHECK(paths[i] && mkdir(paths[i], 0755) == 0);
		optlen += strlen(paths[i]) + 1;
		snprintf(name, sizeof(name), "%s/shared", paths[i]);
		snprintf(content, sizeof(content), "layer %d", N - 1 - i);
		CHECK(ccp_write_file_at(AT_FDCWD, name, content, strlen(content), 0644, &e) == 0);
	}
	snprintf(name, sizeof(name), "%s/only-0", paths[N - 1]);
	CHECK(ccp_write_file_at(AT_FDCWD, name, "layer 0", 7, 0644, &e) == 0);
	CHECK(optlen > 4096 * 2);

	check_mount(ccp_overlay_mount, "newapi");
	check_mount(ccp_overlay_mount_legacy, "legacy");

	/* a path the option string cannot carry is refused, not mangled */
	{
		const char *bad[] = { "/tmp/with:colon" };
		CHECK(ccp_overlay_mount_legacy(base, bad, 1, NULL, NULL, &e) == CCP_EINVALID);
	}
	for (int i = 0; i < N; i++)
		free(paths[i]);
	ccp_rm_rf_at(AT_FDCWD, base);
	return test_summary();
}
