/*
 * Unpacks hostile layers in direct mode into an empty upper directory, then finishes them against a
 * fixed pair of lower layers made once (directories, a file, a symlink to a directory, a hardlinked
 * pair, a whiteout, an opaque directory, symlinks that point out of the tree). The first byte picks
 * the resolver and the number of lowers; the rest is the tar. Aborts if anything outside the upper
 * directory changes (the lowers, a sentinel beside them), if a whiteout marker survives, or if a
 * finish that asks for the layer to be redone changed the upper directory.
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

/* base: L0 (bottom), L1 over it, outside/sentinel/keep beside them. */
static void setup(void)
{
	char p[256], q[256];

	snprintf(g.base, sizeof(g.base), "/tmp/ccp_fuzzd_XXXXXX");
	if (!mkdtemp(g.base))
		abort();
	snprintf(g.upper, sizeof(g.upper), "%s/U", g.base);
	atexit(remove_base);
	mk_dir("outside");
	mk_dir("outside/sentinel");
	mk_file("outside/sentinel/keep");
	mk_dir("L0");
	mk_dir("L0/d");
	mk_dir("L0/d/sub");
	mk_file("L0/d/sub/x");
	mk_file("L0/d/y");
	mk_file("L0/f");
	mk_symlink("L0/ls", "d");        /* a symlink to a directory below */
	mk_file("L0/h1");
	at(p, sizeof(p), "L0/h1");
	at(q, sizeof(q), "L0/d/h2");
	if (link(p, q) < 0)
		abort();
	mk_symlink("L0/abs", "/");
	mk_symlink("L0/rel", "../outside");
	at(q, sizeof(q), "outside");
	mk_symlink("L0/out", q);
	mk_dir("L0/o");
	mk_file("L0/o/hidden");
	mk_dir("L0/gone");
	mk_file("L0/gone/z");
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
		    !strcmp(de->d_name, "L1") || !strcmp(de->d_name, "outside") || !strcmp(de->d_name, "U"))
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
	}
	ccp_unpack_direct_free(&d);
	close(fd);
	check_outside();
	nftw(g.upper, marker_cb, 32, FTW_PHYS);
	nftw(g.upper, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
	return 0;
}
