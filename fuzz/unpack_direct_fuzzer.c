/*
 * Unpacks hostile layers in direct mode into an empty upper directory, then finishes them against a
 * fixed pair of lower layers made once (directories, a file, a symlink to a directory, a hardlinked
 * pair, a whiteout, an opaque directory, symlinks that point out of the tree). The first byte picks
 * the resolver and the number of lowers; the rest is the tar. Aborts if anything outside the upper
 * directory changes (the lowers, a sentinel beside them), if a whiteout marker survives, or if a
 * finish that asks for the layer to be redone changed the upper directory. A layer finished against L0
 * alone is then merged into a plain copy of L0 (ccp_unpack_direct_merge), which must change nothing
 * outside it and leave no whiteout or opaque marker in it.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fuzz_mem.h"
#include "unpack/unpack.h"

#define FUZZ_MAX_INPUT (64 * 1024)


static struct {
	char base[64], upper[96];
	int lower_fds[2];        /* L1, L0: top-most first */
	uint64_t lowers_hash;    /* the lowers and the sentinel as made */
} g;


static void at(char *out, size_t n, const char *rel)
{
	snprintf(out, n, "%s/%s", g.base, rel);
}

static void mk_dir(const char *rel)
{
	char p[256];
	at(p, sizeof(p), rel);
	if (mkdir(p, 0755) < 0)
		abort();
}

static void mk_file(const char *rel)
{
	char p[256];
	int fd;
	at(p, sizeof(p), rel);
	if ((fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644)) < 0 || write(fd, rel, strlen(rel)) < 0)
		abort();
	close(fd);
}

static void mk_symlink(const char *rel, const char *target)
{
	char p[256];
	at(p, sizeof(p), rel);
	if (symlink(target, p) < 0)
		abort();
}

/* ---- tree fingerprints ---- */

static uint64_t g_hash;
static size_t g_skip; /* length of the prefix of the paths hashed */

static void mix(const void *v, size_t n)
{
	const unsigned char *p = v;
	for (size_t i = 0; i < n; i++)
		g_hash = (g_hash ^ p[i]) * 1099511628211ull;
}

static int hash_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)flag; (void)f;
	mix(p + g_skip, strlen(p + g_skip) + 1);
	mix(&st->st_ino, sizeof(st->st_ino));
	mix(&st->st_mode, sizeof(st->st_mode));
	mix(&st->st_uid, sizeof(st->st_uid));
	mix(&st->st_gid, sizeof(st->st_gid));
	mix(&st->st_nlink, sizeof(st->st_nlink));
	mix(&st->st_size, sizeof(st->st_size));
	mix(&st->st_rdev, sizeof(st->st_rdev));
	mix(&st->st_mtim, sizeof(st->st_mtim));
	mix(&st->st_ctim, sizeof(st->st_ctim)); /* moves with chmod, chown, xattrs and links */
	return 0;
}

/* Everything under dir except its times of access; of base, everything but the upper directory. */
static uint64_t tree_hash(const char *dir)
{
	g_hash = 14695981039346656037ull;
	g_skip = strlen(dir);
	nftw(dir, hash_cb, 16, FTW_PHYS);
	return g_hash;
}

static uint64_t lowers_hash(void)
{
	char p[256];
	uint64_t h;

	at(p, sizeof(p), "L0");
	h = tree_hash(p);
	at(p, sizeof(p), "L1");
	h = h * 31 + tree_hash(p);
	at(p, sizeof(p), "outside");
	return h * 31 + tree_hash(p);
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)f;
	if (flag == FTW_DP)
		chmod(p, 0700);
	return remove(p);
}

static void remove_base(void)
{
	nftw(g.base, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
}

static int marker_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag;
	if (strncmp(p + f->base, ".wh.", 4) == 0) {
		fprintf(stderr, "whiteout marker survived: %s\n", p);
		abort();
	}
	return 0;
}

/* The bottom layer's tree under top (L0; P, a plain tree to merge into). */
static void mk_bottom(const char *top)
{
	static const char *const dirs[] = { "", "/d", "/d/sub", "/o", "/gone" };
	static const char *const files[] = { "/d/sub/x", "/d/y", "/f", "/h1", "/o/hidden", "/gone/z" };
	char r[64], p[256], q[256];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(r, sizeof(r), "%s%s", top, dirs[i]);
		mk_dir(r);
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(r, sizeof(r), "%s%s", top, files[i]);
		mk_file(r);
	}
	snprintf(r, sizeof(r), "%s/ls", top);
	mk_symlink(r, "d");               /* a symlink to a directory below */
	snprintf(r, sizeof(r), "%s/h1", top);
	at(p, sizeof(p), r);
	snprintf(r, sizeof(r), "%s/d/h2", top);
	at(q, sizeof(q), r);
	if (link(p, q) < 0)
		abort();
	snprintf(r, sizeof(r), "%s/abs", top);
	mk_symlink(r, "/");
	snprintf(r, sizeof(r), "%s/rel", top);
	mk_symlink(r, "../outside");
	at(q, sizeof(q), "outside");
	snprintf(r, sizeof(r), "%s/out", top);
	mk_symlink(r, q);
}

/* base: L0 (bottom), L1 over it, outside/sentinel/keep beside them. */
static void setup(void)
{
	char p[256];

	snprintf(g.base, sizeof(g.base), "/tmp/ccp_fuzzd_XXXXXX");
	if (!mkdtemp(g.base))
		abort();
	snprintf(g.upper, sizeof(g.upper), "%s/U", g.base);
	atexit(remove_base);
	mk_dir("outside");
	mk_dir("outside/sentinel");
	mk_file("outside/sentinel/keep");
	mk_bottom("L0");
	mk_dir("L1");
	mk_dir("L1/d");
	mk_file("L1/d/l1");
	mk_dir("L1/o");                   /* opaque: L0/o/hidden does not show */
	at(p, sizeof(p), "L1/o");
	setxattr(p, "trusted.overlay.opaque", "y", 1, 0); /* needs root; without it o is merged */
	at(p, sizeof(p), "L1/gone");      /* a whiteout (needs root) */
	mknod(p, S_IFCHR, makedev(0, 0));
	mk_dir("L1/ls");                  /* hides L0's symlink */
	at(p, sizeof(p), "L1");
	if ((g.lower_fds[0] = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		abort();
	at(p, sizeof(p), "L0");
	if ((g.lower_fds[1] = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		abort();
	g.lowers_hash = lowers_hash();
}

/* base holds L0, L1, outside and U only; the lowers and the sentinel are as made. */
static void check_outside(void)
{
	struct dirent *de;
	DIR *d = opendir(g.base);

	if (!d)
		abort();
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, "L0") ||
		    !strcmp(de->d_name, "L1") || !strcmp(de->d_name, "outside") || !strcmp(de->d_name, "U") ||
		    !strcmp(de->d_name, "P"))
			continue;
		fprintf(stderr, "%s/%s appeared outside the upper directory\n", g.base, de->d_name);
		abort();
	}
	closedir(d);
	if (lowers_hash() != g.lowers_hash) {
		fprintf(stderr, "a lower layer or the sentinel under %s changed\n", g.base);
		abort();
	}
}

static int opaque_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	char v[2];
	(void)f;
	if (S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0)) {
		fprintf(stderr, "a whiteout reached the merged tree: %s\n", p);
		abort();
	}
	if (flag == FTW_D && lgetxattr(p, "trusted.overlay.opaque", v, sizeof(v)) >= 0) {
		fprintf(stderr, "an opaque marker reached the merged tree: %s\n", p);
		abort();
	}
	return 0;
}

/*
 * A layer finished against L0 alone, moved into P, a plain copy of L0 (what a pull that does not
 * keep its layers does): whatever it does, nothing outside P and U changes (check_outside), and no
 * whiteout or opaque marker reaches P.
 */
static void merge_into_plain(int upper_fd, const ccp_unpack_direct *d)
{
	char p[256];
	ccp_err err = CCP_ERR_INIT;
	int pfd;

	mk_bottom("P");
	at(p, sizeof(p), "P");
	if ((pfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		abort();
	if (ccp_unpack_direct_merge(upper_fd, pfd, d, NULL, &err) == 0)
		nftw(p, opaque_cb, 32, FTW_PHYS);
	close(pfd);
	check_outside();
	nftw(p, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ccp_unpack_opts o = { 0 };
	ccp_unpack_direct d = { 0 };
	ccp_err err = CCP_ERR_INIT;
	size_t n_lowers;
	fuzz_mem m;
	int fd;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	if (!g.base[0])
		setup();
	if (mkdir(g.upper, 0755) < 0 || (fd = open(g.upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		abort();
	n_lowers = data[0] & 1 ? 1 : 2; /* L0 alone, or L1 over L0 */
	o.same_owner = geteuid() == 0;
	o.force_fallback_walk = data[0] & 0x80;
	o.max_entries = 2000;
	o.direct = &d;
	m = (fuzz_mem){ data + 1, size - 1, 0 };
	if (ccp_unpack_stream(fd, fuzz_mem_read, &m, &o, &err) == 0) {
		uint64_t before = tree_hash(g.upper);
		int redo = -1;

		if (d.needs_lowers)
			abort(); /* set only with a failure */
		ccp_err_clear(&err);
		if (ccp_unpack_direct_finish(fd, g.lower_fds + (2 - n_lowers), n_lowers, &d, &redo, &err) == 0 &&
		    redo != 0 && redo != 1)
			abort();
		if (redo == 1 && tree_hash(g.upper) != before) {
			fprintf(stderr, "finish changed %s and asked for a redo\n", g.upper);
			abort();
		}
		if (redo == 0 && n_lowers == 1)
			merge_into_plain(fd, &d);
	}
	ccp_unpack_direct_free(&d);
	close(fd);
	check_outside();
	nftw(g.upper, marker_cb, 32, FTW_PHYS);
	nftw(g.upper, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
	return 0;
}
