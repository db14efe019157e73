/* Shared by the unpack and decompress fuzzers: a temp root over a hostile lower layer, and the oracle. */
#ifndef CCP_FUZZ_TREE_H
#define CCP_FUZZ_TREE_H

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fuzz_tree {
	char base[64], root[96];
	struct stat st[4]; /* base/outside, .../sentinel, .../keep, base: nothing may touch them */
} fuzz_tree;

static const char *const fuzz_watched[4] = { "outside", "outside/sentinel", "outside/sentinel/keep", "." };

static int fuzz_rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	/* Whatever mode a layer set, the owner can still remove it. */
	if (flag == FTW_DP)
		chmod(p, 0700);
	return remove(p);
}

static void fuzz_path(char *out, size_t n, const char *a, const char *b)
{
	snprintf(out, n, "%s/%s", a, b);
}

/* base/root (lower layer: abs -> /, rel -> ../outside, lower/f) and base/outside/sentinel/keep. */
static void fuzz_tree_make(fuzz_tree *t)
{
	char p[256];

	snprintf(t->base, sizeof(t->base), "/tmp/ccp_fuzz_XXXXXX");
	if (!mkdtemp(t->base))
		abort();
	fuzz_path(t->root, sizeof(t->root), t->base, "root");
	fuzz_path(p, sizeof(p), t->base, "outside");
	if (mkdir(t->root, 0755) || mkdir(p, 0755))
		abort();
	fuzz_path(p, sizeof(p), t->base, "outside/sentinel");
	mkdir(p, 0755);
	fuzz_path(p, sizeof(p), t->base, "outside/sentinel/keep");
	close(open(p, O_CREAT | O_WRONLY, 0644));
	fuzz_path(p, sizeof(p), t->root, "abs");
	if (symlink("/", p))
		abort();
	fuzz_path(p, sizeof(p), t->root, "rel");
	if (symlink("../outside", p))
		abort();
	fuzz_path(p, sizeof(p), t->root, "lower");
	mkdir(p, 0755);
	fuzz_path(p, sizeof(p), t->root, "lower/f");
	close(open(p, O_CREAT | O_WRONLY, 0644));
	/* Absolute host paths of the sentinel, as a hostile lower layer would hold them. */
	{
		char tgt[256];
		fuzz_path(tgt, sizeof(tgt), t->base, "outside");
		fuzz_path(p, sizeof(p), t->root, "out");
		if (symlink(tgt, p))
			abort();
		fuzz_path(tgt, sizeof(tgt), t->base, "outside/sentinel/keep");
		fuzz_path(p, sizeof(p), t->root, "outf");
		if (symlink(tgt, p))
			abort();
	}
	for (int i = 0; i < 4; i++) {
		fuzz_path(p, sizeof(p), t->base, fuzz_watched[i]);
		if (lstat(p, &t->st[i]))
			abort();
	}
}

/* Same inode, type, mode, owner, size, links, mtime and ctime: nothing was chmod-ed, chown-ed,
 * written, linked, xattr-ed or time-stamped. base itself gains no entries (its ctime would move). */
static int fuzz_same(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_mode == b->st_mode && a->st_uid == b->st_uid &&
	       a->st_gid == b->st_gid && a->st_size == b->st_size && a->st_nlink == b->st_nlink &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static int fuzz_marker_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag;
	if (strncmp(p + f->base, ".wh.", 4) == 0) {
		fprintf(stderr, "whiteout marker survived: %s\n", p);
		abort();
	}
	return 0;
}

/* Aborts when anything outside the root changed or a whiteout marker is in the tree. */
static void fuzz_tree_check(fuzz_tree *t)
{
	char p[256];
	struct dirent *de;
	DIR *d;
	int n = 0;

	fuzz_path(p, sizeof(p), t->base, "outside/sentinel");
	if (!(d = opendir(p)))
		abort();
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n += strcmp(de->d_name, "keep") == 0 ? 1 : 100;
	closedir(d);
	if (!(d = opendir(t->base)))
		abort();
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "root") &&
		    strcmp(de->d_name, "outside"))
			n += 100;
	closedir(d);
	for (int i = 0; i < 4; i++) {
		struct stat st;
		fuzz_path(p, sizeof(p), t->base, fuzz_watched[i]);
		if (lstat(p, &st) || !fuzz_same(&st, &t->st[i]))
			n += 100;
	}
	if (n != 1) {
		fprintf(stderr, "something outside the root changed under %s\n", t->base);
		abort();
	}
	nftw(t->root, fuzz_marker_cb, 32, FTW_PHYS);
}

static void fuzz_tree_remove(fuzz_tree *t)
{
	nftw(t->base, fuzz_rm_cb, 32, FTW_DEPTH | FTW_PHYS);
}

#endif
