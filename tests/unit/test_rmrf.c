/*
 * ccp_rm_rf_at on trees a container could have written: deeper than the fd limit (which is set low
 * here), with symlinks that lead out of the tree, FIFOs and files at every level. The tree must go
 * completely, with the fds the walk holds not growing with depth, and nothing a symlink points at
 * may be touched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "util/fs.h"

#define DEEP 10000
#define FD_LIMIT 64

static char g_base[256];

/* Number of open fds of this process. */
static int open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < FD_LIMIT; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

/* A chain of DEEP directories d/d/d/... under dirfd/name, each with a file, a FIFO now and then and
 * symlinks to the outside directory (absolute and relative) and to the top. One fd at a time. */
static int make_deep(int dirfd, const char *name, const char *outside)
{
	int cur, next;

	if (mkdirat(dirfd, name, 0755) < 0 || (cur = openat(dirfd, name, O_RDONLY | O_DIRECTORY)) < 0)
		return -1;
	for (int i = 0; i < DEEP; i++) {
		int f = openat(cur, "file", O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (f < 0 || write(f, "x", 1) != 1) {
			if (f >= 0)
				close(f);
			close(cur);
			return -1;
		}
		close(f);
		if (i % 97 == 0 && (symlinkat(outside, cur, "abs") < 0 || symlinkat("../../../../../../..", cur, "up") < 0 ||
				    mkfifoat(cur, "fifo", 0600) < 0)) {
			close(cur);
			return -1;
		}
		if (mkdirat(cur, "d", 0700) < 0 || (next = openat(cur, "d", O_RDONLY | O_DIRECTORY)) < 0) {
			close(cur);
			return -1;
		}
		close(cur);
		cur = next;
	}
	close(cur);
	return 0;
}

int main(void)
{
	char outside[300], victim[400];
	struct rlimit old, low;
	struct stat st;
	int base, before;

	snprintf(g_base, sizeof(g_base), "/tmp/ccpull-rmrf-XXXXXX");
	if (!mkdtemp(g_base)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(outside, sizeof(outside), "%s/outside", g_base);
	snprintf(victim, sizeof(victim), "%s/keep", outside);
	CHECK(mkdir(outside, 0755) == 0);
	CHECK(mkdir(victim, 0755) == 0);
	base = open(g_base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(base >= 0);

	/* A missing name and a plain file. */
	CHECK(ccp_rm_rf_at(base, "missing") == 0);
	CHECK(symlinkat("outside", base, "link-to-outside") == 0);
	CHECK(ccp_rm_rf_at(base, "link-to-outside") == 0);
	CHECK(fstatat(base, "link-to-outside", &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT);
	CHECK(stat(victim, &st) == 0);

	/* A tree deeper than the fd limit. */
	CHECK(make_deep(base, "tree", outside) == 0);
	CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
	low = old;
	low.rlim_cur = FD_LIMIT;
	CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
	before = open_fds();
	CHECK(ccp_rm_rf_at(base, "tree") == 0);
	CHECK(open_fds() == before);
	CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
	CHECK(fstatat(base, "tree", &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT);
	/* The symlinks were removed, never followed. */
	CHECK(stat(victim, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK(stat(outside, &st) == 0 && S_ISDIR(st.st_mode));

	/* A wide directory with nested subdirectories: every entry goes. */
	CHECK(mkdirat(base, "wide", 0755) == 0);
	for (int i = 0; i < 300; i++) {
		char n[64];
		snprintf(n, sizeof(n), "wide/s%d", i);
		CHECK(mkdirat(base, n, 0755) == 0);
		snprintf(n, sizeof(n), "wide/s%d/t", i);
		CHECK(mkdirat(base, n, 0755) == 0);
		snprintf(n, sizeof(n), "wide/s%d/t/f", i);
		int f = openat(base, n, O_WRONLY | O_CREAT, 0600);
		CHECK(f >= 0);
		if (f >= 0)
			close(f);
		snprintf(n, sizeof(n), "wide/f%d", i);
		CHECK(symlinkat("/", base, n) == 0);
	}
	CHECK(ccp_rm_rf_at(base, "wide") == 0);
	CHECK(fstatat(base, "wide", &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT);

	CHECK(ccp_rm_rf_at(base, "outside") == 0);
	close(base);
	CHECK(rmdir(g_base) == 0);
	return test_summary();
}
