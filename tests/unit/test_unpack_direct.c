/*
 * Direct mode of the unpacker (a layer applied into its own upper directory without its lowers in
 * view, then finished against them) and overlay mode (hardlinks into lower layers). Each case checks
 * the upper directory on disk, then mounts overlayfs read-only over it and its lowers and compares the
 * merged tree with the one the same layer gives when applied through an overlay mount of the lowers.
 * Needs root (chown, trusted.* xattrs, mknod, mounts): skips otherwise. Runs in a mount namespace of
 * its own, so no mount outlives it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tar_build.h"
#include "test.h"
#include "unpack/unpack.h"

#define OPQ "trusted.overlay.opaque"
#define LOWER_MTIME 1234567890

static char g_base[256];
static int g_case;
static time_t g_start; /* times from then on are "now": the two applications cannot agree on them */

/* One case: lower layers L0 (bottom) and L1, the direct upper U, the reference upper R. */
typedef struct cs {
	char dir[300], l0[320], l1[320], u[320], r[320], w[320], m[320], mr[320];
} cs;

typedef struct memsrc {
	const unsigned char *data;
	size_t len, off;
} memsrc;

static ssize_t mem_read(void *p, const void **buf, ccp_err *e)
{
	memsrc *m = p;
	size_t n = m->len - m->off;

	(void)e;
	if (n > 700)
		n = 700; /* headers straddle reads */
	*buf = m->data + m->off;
	m->off += n;
	return (ssize_t)n;
}

static const char *at(const char *root, const char *rel)
{
	static char bufs[4][1024];
	static int i;
	char *b = bufs[i++ & 3];
	snprintf(b, sizeof(bufs[0]), "%s/%s", root, rel);
	return b;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "test setup failed: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static void mkd(const char *root, const char *rel, unsigned mode)
{
	const char *p = at(root, rel);
	if (mkdir(p, mode) < 0 || chmod(p, mode) < 0)
		die("mkdir", p);
}

static void mkf(const char *root, const char *rel, const char *data)
{
	const char *p = at(root, rel);
	int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		die("write", p);
	close(fd);
}

static void mks(const char *root, const char *rel, const char *target)
{
	if (symlink(target, at(root, rel)) < 0)
		die("symlink", at(root, rel));
}

static void mkl(const char *root, const char *rel, const char *target)
{
	if (link(at(root, target), at(root, rel)) < 0)
		die("link", at(root, rel));
}

static void mkwh(const char *root, const char *rel)
{
	if (mknod(at(root, rel), S_IFCHR, makedev(0, 0)) < 0)
		die("mknod", at(root, rel));
}

/* Owner, user.x and a fixed mtime on a lower directory. */
static void dmeta(const char *root, const char *rel, uid_t uid, gid_t gid, const char *ux)
{
	const char *p = at(root, rel);
	struct timespec ts[2] = { { LOWER_MTIME, 0 }, { LOWER_MTIME, 0 } };
	if (chown(p, uid, gid) < 0 || (ux && setxattr(p, "user.x", ux, strlen(ux), 0) < 0) ||
	    utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW) < 0)
		die("metadata", p);
}

static void case_begin(cs *c)
{
	snprintf(c->dir, sizeof(c->dir), "%s/c%d", g_base, ++g_case);
	snprintf(c->l0, sizeof(c->l0), "%s/L0", c->dir);
	snprintf(c->l1, sizeof(c->l1), "%s/L1", c->dir);
	snprintf(c->u, sizeof(c->u), "%s/U", c->dir);
	snprintf(c->r, sizeof(c->r), "%s/R", c->dir);
	snprintf(c->w, sizeof(c->w), "%s/W", c->dir);
	snprintf(c->m, sizeof(c->m), "%s/M", c->dir);
	snprintf(c->mr, sizeof(c->mr), "%s/MR", c->dir);
	if (mkdir(c->dir, 0755) || mkdir(c->l0, 0755) || mkdir(c->l1, 0755) || mkdir(c->u, 0755) ||
	    mkdir(c->r, 0755) || mkdir(c->w, 0755) || mkdir(c->m, 0755) || mkdir(c->mr, 0755))
		die("mkdir", c->dir);
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

static void rm_tree(const char *p)
{
	nftw(p, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
}

static unsigned char *tar_done(tarb *t, size_t *len)
{
	tb_end(t);
	*len = t->used;
	return t->buf;
}

static int apply(int root_fd, const unsigned char *tar, size_t len, ccp_unpack_opts *o, ccp_err *e)
{
	memsrc m = { tar, len, 0 };
	int rc;

	o->same_owner = 1;
	ccp_err_clear(e);
	rc = ccp_unpack_stream(root_fd, mem_read, &m, o, e);
	if (rc)
		fprintf(stderr, "  (unpack: %d %s)\n", rc, e->msg);
	return rc;
}

/* Applies the layer in direct mode into c->u; the caller frees d. */
static int apply_direct(cs *c, const unsigned char *tar, size_t len, ccp_unpack_direct *d)
{
	ccp_unpack_opts o = { 0 };
	ccp_err e = CCP_ERR_INIT;
	int fd = open(c->u, O_RDONLY | O_DIRECTORY), rc;

	memset(d, 0, sizeof(*d));
	o.direct = d;
	rc = apply(fd, tar, len, &o, &e);
	close(fd);
	return rc;
}

/* Opens the lowers named (top-most first) into fds. */
static void open_lowers(const char *const *lowers, size_t n, int *fds)
{
	for (size_t i = 0; i < n; i++)
		if ((fds[i] = open(lowers[i], O_RDONLY | O_DIRECTORY)) < 0)
			die("open", lowers[i]);
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

static int finish(cs *c, const char *const *lowers, size_t n, ccp_unpack_direct *d, int *redo)
{
	ccp_err e = CCP_ERR_INIT;
	int fds[4], ufd = open(c->u, O_RDONLY | O_DIRECTORY), rc;

	open_lowers(lowers, n, fds);
	*redo = -1;
	rc = ccp_unpack_direct_finish(ufd, fds, n, d, redo, &e);
	if (rc)
		fprintf(stderr, "  (finish: %d %s)\n", rc, e.msg);
	close_all(fds, n);
	close(ufd);
	return rc;
}

static int mount_ovl(const char *target, const char *upper, const char *work, const char *const *lowers, size_t n)
{
	char opts[2048];
	size_t o = 0;

	o += (size_t)snprintf(opts + o, sizeof(opts) - o, "lowerdir=");
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(opts + o, sizeof(opts) - o, "%s%s", i ? ":" : "", lowers[i]);
	if (upper)
		snprintf(opts + o, sizeof(opts) - o, ",upperdir=%s,workdir=%s", upper, work);
	if (mount("overlay", target, "overlay", upper ? 0 : MS_RDONLY, opts) < 0) {
		fprintf(stderr, "mount overlay on %s (%s): %s\n", target, opts, strerror(errno));
		return -1;
	}
	return 0;
}

/* The reference: the layer applied through a read-write overlay mount of the lowers into c->r. */
static int apply_reference(cs *c, const unsigned char *tar, size_t len, const char *const *lowers, size_t n)
{
	ccp_unpack_opts o = { 0 };
	ccp_err e = CCP_ERR_INIT;
	int fds[4], fd, rc;

	if (mount_ovl(c->mr, c->r, c->w, lowers, n) < 0)
		return -1;
	open_lowers(lowers, n, fds);
	fd = open(c->mr, O_RDONLY | O_DIRECTORY);
	o.lower_fds = fds;
	o.n_lowers = n;
	rc = apply(fd, tar, len, &o, &e);
	close(fd);
	close_all(fds, n);
	if (umount2(c->mr, 0) < 0)
		die("umount", c->mr);
	return rc;
}

/* ---- comparing two merged trees ---- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names of a directory (NULL-terminated, malloc'd), or NULL. */
static char **list_dir(const char *p)
{
	DIR *d = opendir(p);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;

	if (!d)
		return NULL;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		v = realloc(v, (n + 2) * sizeof(*v));
		v[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (!v)
		v = calloc(1, sizeof(*v));
	v[n] = NULL;
	qsort(v, n, sizeof(*v), name_cmp);
	return v;
}

static void free_list(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* user.* and security.* xattrs as "name=value;" in name order. */
static void xattrs_of(const char *p, char *out, size_t cap)
{
	char names[4096], val[1024];
	char *v[64];
	ssize_t n = llistxattr(p, names, sizeof(names));
	size_t k = 0, o = 0;

	out[0] = '\0';
	for (char *s = names; n > 0 && s < names + n && k < 64; s += strlen(s) + 1)
		if (strncmp(s, "trusted.", 8))
			v[k++] = s;
	qsort(v, k, sizeof(*v), name_cmp);
	for (size_t i = 0; i < k; i++) {
		ssize_t vn = lgetxattr(p, v[i], val, sizeof(val) - 1);
		val[vn < 0 ? 0 : vn] = '\0';
		o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, "%s=%s;", v[i], val);
	}
}

static int file_eq(const char *a, const char *b)
{
	char ba[4096], bb[4096];
	int fa = open(a, O_RDONLY), fb = open(b, O_RDONLY), eq;
	ssize_t na = fa < 0 ? -1 : read(fa, ba, sizeof(ba)), nb = fb < 0 ? -1 : read(fb, bb, sizeof(bb));

	eq = na >= 0 && na == nb && memcmp(ba, bb, (size_t)na) == 0;
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	return eq;
}

/* Differences between trees a and b under rel (type, mode, owner, content, xattrs, mtimes, names). */
static int tree_diff(const char *a, const char *b, const char *rel)
{
	char pa[1024], pb[1024], xa[2048], xb[2048];
	struct stat sa, sb;
	int diffs = 0;

	snprintf(pa, sizeof(pa), "%s%s%s", a, *rel ? "/" : "", rel);
	snprintf(pb, sizeof(pb), "%s%s%s", b, *rel ? "/" : "", rel);
	if (lstat(pa, &sa) < 0 || lstat(pb, &sb) < 0) {
		fprintf(stderr, "  merged trees differ at /%s: missing on one side\n", rel);
		return 1;
	}
	if (sa.st_mode != sb.st_mode || sa.st_uid != sb.st_uid || sa.st_gid != sb.st_gid) {
		fprintf(stderr, "  merged trees differ at /%s: mode %o/%o owner %u:%u/%u:%u\n", rel, sa.st_mode,
			sb.st_mode, sa.st_uid, sa.st_gid, sb.st_uid, sb.st_gid);
		diffs++;
	}
	if (*rel && (sa.st_mtim.tv_sec < g_start || sb.st_mtim.tv_sec < g_start) &&
	    (sa.st_mtim.tv_sec != sb.st_mtim.tv_sec || sa.st_mtim.tv_nsec != sb.st_mtim.tv_nsec)) {
		fprintf(stderr, "  merged trees differ at /%s: mtime %lld/%lld\n", rel, (long long)sa.st_mtim.tv_sec,
			(long long)sb.st_mtim.tv_sec);
		diffs++;
	}
	xattrs_of(pa, xa, sizeof(xa));
	xattrs_of(pb, xb, sizeof(xb));
	if (strcmp(xa, xb)) {
		fprintf(stderr, "  merged trees differ at /%s: xattrs '%s' / '%s'\n", rel, xa, xb);
		diffs++;
	}
	if (S_ISREG(sa.st_mode) && S_ISREG(sb.st_mode) && !file_eq(pa, pb)) {
		fprintf(stderr, "  merged trees differ at /%s: content\n", rel);
		diffs++;
	}
	if (S_ISLNK(sa.st_mode) && S_ISLNK(sb.st_mode)) {
		char la[1024] = "", lb[1024] = "";
		if (readlink(pa, la, sizeof(la) - 1) < 0 || readlink(pb, lb, sizeof(lb) - 1) < 0 || strcmp(la, lb)) {
			fprintf(stderr, "  merged trees differ at /%s: link target\n", rel);
			diffs++;
		}
	}
	if (S_ISDIR(sa.st_mode) && S_ISDIR(sb.st_mode)) {
		char **na = list_dir(pa), **nb = list_dir(pb);
		size_t i = 0, j = 0;
		while (na && nb && (na[i] || nb[j])) {
			int cmp = !na[i] ? 1 : !nb[j] ? -1 : strcmp(na[i], nb[j]);
			if (cmp) {
				fprintf(stderr, "  merged trees differ at /%s: %s only in the %s one\n", rel,
					cmp < 0 ? na[i] : nb[j], cmp < 0 ? "direct" : "reference");
				diffs++;
				if (cmp < 0)
					i++;
				else
					j++;
				continue;
			}
			char sub[1024];
			snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", na[i]);
			diffs += tree_diff(a, b, sub);
			i++;
			j++;
		}
		if (!na || !nb)
			diffs++;
		free_list(na);
		free_list(nb);
	}
	return diffs;
}

/*
 * Mounts U over the lowers at M and R over them at MR (read-only); returns 0 with both mounted and
 * the merged trees equal, else the number of differences (and nothing mounted on failure).
 */
static int merged_begin(cs *c, const char *const *lowers, size_t n)
{
	const char *lu[4] = { c->u }, *lr[4] = { c->r };

	for (size_t i = 0; i < n; i++)
		lu[i + 1] = lr[i + 1] = lowers[i];
	if (mount_ovl(c->m, NULL, NULL, lu, n + 1) < 0)
		return -1;
	if (mount_ovl(c->mr, NULL, NULL, lr, n + 1) < 0) {
		umount2(c->m, 0);
		return -1;
	}
	return tree_diff(c->m, c->mr, "");
}

static void merged_end(cs *c)
{
	if (umount2(c->m, 0) < 0 || umount2(c->mr, 0) < 0)
		die("umount", c->m);
}

static int is_wh(const char *root, const char *rel)
{
	struct stat st;
	return lstat(at(root, rel), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

static int absent(const char *root, const char *rel)
{
	struct stat st;
	return lstat(at(root, rel), &st) < 0 && errno == ENOENT;
}

static int xattr_is(const char *root, const char *rel, const char *name, const char *want)
{
	char v[256];
	ssize_t n = lgetxattr(at(root, rel), name, v, sizeof(v) - 1);
	if (!want)
		return n < 0 && errno == ENODATA;
	if (n < 0)
		return 0;
	v[n] = '\0';
	return strcmp(v, want) == 0;
}

/* Directory rel: exact permission bits, owner and (if mtime) modification time. */
static int dir_is(const char *root, const char *rel, unsigned mode, uid_t uid, gid_t gid, time_t mtime)
{
	struct stat st;
	if (lstat(at(root, rel), &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "  %s/%s: not a directory\n", root, rel);
		return 0;
	}
	if ((st.st_mode & 07777) != mode || st.st_uid != uid || st.st_gid != gid ||
	    (mtime && st.st_mtim.tv_sec != mtime)) {
		fprintf(stderr, "  %s/%s: mode %o owner %u:%u mtime %lld\n", root, rel, st.st_mode & 07777, st.st_uid,
			st.st_gid, (long long)st.st_mtim.tv_sec);
		return 0;
	}
	return 1;
}

/* Names in directory rel, as "a,b,c". */
static const char *names(const char *root, const char *rel)
{
	static char out[1024];
	char **v = list_dir(at(root, rel));
	size_t o = 0;

	if (!v)
		return "(missing)";
	out[0] = '\0';
	for (size_t i = 0; v[i]; i++)
		o += (size_t)snprintf(out + o, o < sizeof(out) ? sizeof(out) - o : 0, "%s%s", i ? "," : "", v[i]);
	free_list(v);
	return out;
}

/* A serialization of the whole upper tree (names, types, modes, owners, mtimes, xattrs). */
static void snap_tree(const char *root, const char *rel, char *out, size_t cap)
{
	char p[1024], x[1024];
	struct stat st;
	char **v;
	size_t o = strlen(out);

	snprintf(p, sizeof(p), "%s%s%s", root, *rel ? "/" : "", rel);
	if (lstat(p, &st) < 0)
		return;
	xattrs_of(p, x, sizeof(x));
	snprintf(out + o, cap - o, "%s %o %u:%u %lld.%ld %s %d|", rel, st.st_mode, st.st_uid, st.st_gid,
		 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, x, xattr_is(root, rel, OPQ, "y"));
	if (!S_ISDIR(st.st_mode) || !(v = list_dir(p)))
		return;
	for (size_t i = 0; v[i]; i++) {
		char sub[1024];
		snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", v[i]);
		snap_tree(root, sub, out, cap);
	}
	free_list(v);
}

static int g_marked;

static int marked_cb(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	char v[2];
	(void)st; (void)f;
	if (flag == FTW_D && lgetxattr(path, OPQ, v, sizeof(v)) >= 0) {
		fprintf(stderr, "  opaque marker on %s\n", path);
		g_marked++;
	}
	return 0;
}

/*
 * The layer applied in direct mode into U2, finished against P, a plain copy of the merged lowers
 * (what a pull that does not keep its layers has below it), and moved into P by
 * ccp_unpack_direct_merge: P must equal the reference's merged tree and U2 hold only whiteouts and
 * directories. Returns the number of differences (-1: setup failed or a redo was asked for).
 */
static int merge_diff(cs *c, const unsigned char *tar, size_t len, const char *const *lowers, size_t n)
{
	char u2[340], p[340], cmd[1200];
	const char *lr[4] = { c->r };
	ccp_unpack_direct d;
	ccp_unpack_opts o = { 0 };
	ccp_err e = CCP_ERR_INIT;
	int ufd, pfd, redo = -1, rc, diffs;

	snprintf(u2, sizeof(u2), "%s/U2", c->dir);
	snprintf(p, sizeof(p), "%s/P", c->dir);
	if (mkdir(u2, 0755) < 0 || mkdir(p, 0755) < 0)
		die("mkdir", u2);
	/* P: the lowers (merged by overlayfs when there are two), copied as plain files */
	if (n == 1 ? mount(lowers[0], c->m, NULL, MS_BIND, NULL) < 0 : mount_ovl(c->m, NULL, NULL, lowers, n) < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "cp -a '%s/.' '%s/'", c->m, p);
	rc = system(cmd);
	umount2(c->m, 0);
	if (rc != 0)
		return -1;
	memset(&d, 0, sizeof(d));
	o.direct = &d;
	ufd = open(u2, O_RDONLY | O_DIRECTORY);
	pfd = open(p, O_RDONLY | O_DIRECTORY);
	rc = apply(ufd, tar, len, &o, &e);
	if (rc == 0 && (rc = ccp_unpack_direct_finish(ufd, &pfd, 1, &d, &redo, &e)) == 0 && redo == 0)
		rc = ccp_unpack_direct_merge(ufd, pfd, &d, NULL, &e);
	if (rc)
		fprintf(stderr, "  (merge: %d %s)\n", rc, e.msg);
	close(ufd);
	close(pfd);
	ccp_unpack_direct_free(&d);
	if (rc || redo != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		lr[i + 1] = lowers[i];
	if (mount_ovl(c->mr, NULL, NULL, lr, n + 1) < 0)
		return -1;
	diffs = tree_diff(p, c->mr, "");
	umount2(c->mr, 0);
	/* no opaque marker reached the tree */
	g_marked = 0;
	nftw(p, marked_cb, 32, FTW_PHYS);
	if (g_marked) {
		fprintf(stderr, "  %d opaque markers reached the merged tree\n", g_marked);
		diffs += g_marked;
	}
	return diffs;
}

/* Applies the layer in direct mode and finishes it; 0 and redo 0 expected. */
static void direct_ok(cs *c, const unsigned char *tar, size_t len, const char *const *lowers, size_t n)
{
	ccp_unpack_direct d;
	int redo = -1;

	CHECK(apply_direct(c, tar, len, &d) == 0);
	CHECK(d.needs_lowers == 0);
	CHECK(finish(c, lowers, n, &d, &redo) == 0);
	CHECK(redo == 0);
	ccp_unpack_direct_free(&d);
}

/* ---- cases ---- */

static void test_whiteout(void)
{
	const char *lowers[] = { NULL };
	unsigned char *tar;
	size_t len;
	tarb t;
	cs c;

	case_begin(&c);
	lowers[0] = c.l0;
	mkf(c.l0, "f", "lower f");
	mkd(c.l0, "d", 0711);
	mkf(c.l0, "d/g", "g");
	mkf(c.l0, "d/h", "h");
	dmeta(c.l0, "d", 5, 6, "dx");
	tb_begin(&t);
	tb_file(&t, ".wh.f", 0644, "");
	tb_file(&t, "d/.wh.g", 0644, "");
	tar = tar_done(&t, &len);

	direct_ok(&c, tar, len, lowers, 1);
	CHECK(is_wh(c.u, "f"));
	CHECK(is_wh(c.u, "d/g"));
	CHECK_STR(names(c.u, ""), "d,f");
	CHECK_STR(names(c.u, "d"), "g");
	/* d was made only to hold the whiteout: it has what a copy-up of the lower d would have. */
	CHECK(dir_is(c.u, "d", 0711, 5, 6, LOWER_MTIME));
	CHECK(xattr_is(c.u, "d", "user.x", "dx"));
	CHECK(xattr_is(c.u, "d", OPQ, NULL));

	CHECK(apply_reference(&c, tar, len, lowers, 1) == 0);
	CHECK(merged_begin(&c, lowers, 1) == 0);
	CHECK(absent(c.m, "f"));
	CHECK(absent(c.m, "d/g"));
	CHECK_STR(names(c.m, "d"), "h");
	merged_end(&c);
	CHECK(merge_diff(&c, tar, len, lowers, 1) == 0);
	free(tar);
}

static void test_opaque(void)
{
	const char *lowers[] = { NULL };
	unsigned char *tar;
	size_t len;
	tarb t;
	cs c;

	case_begin(&c);
	lowers[0] = c.l0;
	mkd(c.l0, "d", 0755);
	mkf(c.l0, "d/a", "a");
	mkd(c.l0, "d/sub", 0755);
	mkf(c.l0, "d/sub/s", "s");
	mkd(c.l0, "e", 0750);
	mkf(c.l0, "e/x0", "x0");
	dmeta(c.l0, "e", 7, 8, NULL);
	tb_begin(&t);
	tb_dir(&t, "d", 0755);
	tb_file(&t, "d/c", 0644, "c"); /* before the marker: stays */
	tb_file(&t, "d/.wh..wh..opq", 0644, "");
	tb_file(&t, "e/.wh..wh..opq", 0644, ""); /* e implicit */
	tb_file(&t, "e/y", 0600, "y");
	tar = tar_done(&t, &len);

	direct_ok(&c, tar, len, lowers, 1);
	CHECK(xattr_is(c.u, "d", OPQ, "y"));
	CHECK_STR(names(c.u, "d"), "c");
	CHECK(xattr_is(c.u, "e", OPQ, "y"));
	CHECK_STR(names(c.u, "e"), "y");
	CHECK(dir_is(c.u, "e", 0750, 7, 8, LOWER_MTIME));

	CHECK(apply_reference(&c, tar, len, lowers, 1) == 0);
	CHECK(merged_begin(&c, lowers, 1) == 0);
	CHECK_STR(names(c.m, "d"), "c");
	CHECK_STR(names(c.m, "e"), "y");
	merged_end(&c);
	CHECK(merge_diff(&c, tar, len, lowers, 1) == 0);
	free(tar);
}

static void test_implicit_parent(void)
{
	const char *lowers[] = { NULL };
	ccp_unpack_direct d;
	unsigned char *tar;
	size_t len;
	int redo;
	tarb t;
	cs c;

	case_begin(&c);
	lowers[0] = c.l0;
	mkd(c.l0, "p", 0750);
	mkf(c.l0, "p/old", "old");
	dmeta(c.l0, "p", 123, 456, "v");
	tb_begin(&t);
	tb_file(&t, "p/f", 0644, "f");
	tar = tar_done(&t, &len);

	CHECK(apply_direct(&c, tar, len, &d) == 0);
	CHECK(d.n_implicit == 1 && strcmp(d.implicit[0], "p") == 0);
	CHECK(dir_is(c.u, "p", 0755, 0, 0, 0)); /* until finished */
	CHECK(finish(&c, lowers, 1, &d, &redo) == 0 && redo == 0);
	ccp_unpack_direct_free(&d);
	CHECK(dir_is(c.u, "p", 0750, 123, 456, LOWER_MTIME));
	CHECK(xattr_is(c.u, "p", "user.x", "v"));
	CHECK(xattr_is(c.u, "p", OPQ, NULL));
	CHECK_STR(names(c.u, "p"), "f");

	CHECK(apply_reference(&c, tar, len, lowers, 1) == 0);
	CHECK(merged_begin(&c, lowers, 1) == 0);
	CHECK_STR(names(c.m, "p"), "f,old");
	CHECK(dir_is(c.m, "p", 0750, 123, 456, LOWER_MTIME));
	merged_end(&c);
	CHECK(merge_diff(&c, tar, len, lowers, 1) == 0);
	free(tar);
}

/* Two lowers: the top-most directory gives the metadata; a lower whiteout leaves none to take. */
static void test_implicit_parent_layers(void)
{
	const char *lowers[] = { NULL, NULL };
	unsigned char *tar;
	size_t len;
	tarb t;
	cs c;

	case_begin(&c);
	lowers[0] = c.l1;
	lowers[1] = c.l0;
	mkd(c.l0, "p", 0750);
	mkf(c.l0, "p/old", "old");
	dmeta(c.l0, "p", 123, 456, "v");
	mkd(c.l1, "p", 0700);
	dmeta(c.l1, "p", 7, 8, NULL);
	mkd(c.l0, "q", 0750); /* deleted by L1 */
	mkf(c.l0, "q/old", "old");
	dmeta(c.l0, "q", 123, 456, "v");
	mkwh(c.l1, "q");
	mkd(c.l0, "o", 0751); /* L1 makes o opaque: L0's stays hidden, L1's metadata shows */
	mkf(c.l0, "o/old", "old");
	mkd(c.l1, "o", 0753);
	dmeta(c.l1, "o", 9, 9, "o1");
	if (setxattr(at(c.l1, "o"), OPQ, "y", 1, 0) < 0)
		die("setxattr", at(c.l1, "o"));
	tb_begin(&t);
	tb_file(&t, "p/f", 0644, "f");
	tb_file(&t, "q/f", 0644, "f");
	tb_file(&t, "o/f", 0644, "f");
	tar = tar_done(&t, &len);

	direct_ok(&c, tar, len, lowers, 2);
	CHECK(dir_is(c.u, "p", 0700, 7, 8, LOWER_MTIME));
	CHECK(xattr_is(c.u, "p", "user.x", NULL));
	CHECK(dir_is(c.u, "q", 0755, 0, 0, 0));
	CHECK(xattr_is(c.u, "q", "user.x", NULL));
	CHECK(dir_is(c.u, "o", 0753, 9, 9, LOWER_MTIME));
	CHECK(xattr_is(c.u, "o", "user.x", "o1"));

	CHECK(apply_reference(&c, tar, len, lowers, 2) == 0);
	CHECK(merged_begin(&c, lowers, 2) == 0);
	CHECK_STR(names(c.m, "p"), "f,old");
	CHECK_STR(names(c.m, "q"), "f");
	CHECK_STR(names(c.m, "o"), "f");
	merged_end(&c);
	CHECK(merge_diff(&c, tar, len, lowers, 2) == 0);
	free(tar);
}

static void test_implicit_absent(void)
{
	const char *lowers[] = { NULL };
	ccp_unpack_direct d;
	unsigned char *tar;
	size_t len;
	int redo;
	tarb t;
	cs c;

	case_begin(&c);
	lowers[0] = c.l0;
	mkf(c.l0, "z", "z");
	tb_begin(&t);
	tb_file(&t, "nowhere/.wh.x", 0644, "");
	tb_file(&t, "nowhere/deeper/.wh.y", 0644, "");
	tb_file(&t, "new/sub/f", 0644, "f");
	tar = tar_done(&t, &len);

	CHECK(apply_direct(&c, tar, len, &d) == 0);
	CHECK(is_wh(c.u, "nowhere/x"));
	CHECK(finish(&c, lowers, 1, &d, &redo) == 0 && redo == 0);
	ccp_unpack_direct_free(&d);
	CHECK(absent(c.u, "nowhere"));
	CHECK_STR(names(c.u, ""), "new");
	CHECK(dir_is(c.u, "new", 0755, 0, 0, 0));
	CHECK(dir_is(c.u, "new/sub", 0755, 0, 0, 0));

	CHECK(apply_reference(&c, tar, len, lowers, 1) == 0);
	CHECK(merged_begin(&c, lowers, 1) == 0);
	CHECK_STR(names(c.m, ""), "new,z");
	merged_end(&c);
	CHECK(merge_diff(&c, tar, len, lowers, 1) == 0);
	free(tar);
}

/*
 * A whiteout of a name nothing below has, in a directory only this layer has: through an overlay
 * mount it is a no-op. overlayfs does not filter whiteouts out of a directory that exists in one
 * layer only, so one left there is listed by readdir in the merged tree (and fails lookup).
 */
static void test_whiteout_in_own_dir(void)
{
	const char *lowers[] = { NULL };
	unsigned char *tar;
	size_t len;
	tarb t;
	cs c;

	case_begin(&c);
	lowers[0] = c.l0;
	mkf(c.l0, "z", "z");
	tb_begin(&t);
	tb_file(&t, "new/f", 0644, "f");
	tb_file(&t, "new/.wh.gone", 0644, "");
	tb_dir(&t, "named", 0755);
	tb_file(&t, "named/f", 0644, "f");
	tb_file(&t, "named/.wh.gone", 0644, "");
	tar = tar_done(&t, &len);

	direct_ok(&c, tar, len, lowers, 1);
	CHECK(apply_reference(&c, tar, len, lowers, 1) == 0);
	CHECK(merged_begin(&c, lowers, 1) == 0);
	CHECK_STR(names(c.m, "new"), "f");
	CHECK_STR(names(c.m, "named"), "f");
	merged_end(&c);
	CHECK(merge_diff(&c, tar, len, lowers, 1) == 0);
	free(tar);
}

/* Assorted entries, checked against the layer applied through the lowers. */
static void test_mixed(void)
{
	const char *lowers[] = { NULL, NULL };
	unsigned char *tar;
	size_t len;
	tarb t;
	cs c;

	case_begin(&c);
	lowers[0] = c.l1;
	lowers[1] = c.l0;
	mkd(c.l0, "p", 0750);
	mkf(c.l0, "p/old", "old");
	mkd(c.l0, "p/deep", 0700);
	mkf(c.l0, "p/deep/x", "x");
	dmeta(c.l0, "p/deep", 11, 12, "deep");
	dmeta(c.l0, "p", 123, 456, "v");
	mkf(c.l0, "f", "lower f");
	mkf(c.l0, "k", "lower k");
	mkd(c.l1, "m", 0755);
	mkf(c.l1, "m/one", "1");
	dmeta(c.l1, "m", 2, 2, NULL);
	tb_begin(&t);
	tb_symlink(&t, "s", "p");
	tb_file(&t, "s/deep/f1", 0644, "f1");   /* through the layer's own symlink */
	tb_file(&t, ".wh.k", 0644, "");
	tb_file(&t, "k", 0600, "new k");         /* the same name again: a file, not a whiteout */
	tb_dir(&t, "f", 0755);                   /* a directory over a lower file */
	tb_file(&t, "f/g", 0644, "g");
	tb_file(&t, "m/.wh.one", 0644, "");
	tb_file(&t, "m/two", 0644, "2");
	tar = tar_done(&t, &len);

	direct_ok(&c, tar, len, lowers, 2);
	CHECK(dir_is(c.u, "p", 0750, 123, 456, LOWER_MTIME));
	CHECK(dir_is(c.u, "p/deep", 0700, 11, 12, LOWER_MTIME));
	CHECK(xattr_is(c.u, "p/deep", "user.x", "deep"));
	CHECK(dir_is(c.u, "m", 0755, 2, 2, LOWER_MTIME));
	CHECK(is_wh(c.u, "m/one"));
	CHECK(apply_reference(&c, tar, len, lowers, 2) == 0);
	CHECK(merged_begin(&c, lowers, 2) == 0);
	CHECK_STR(names(c.m, ""), "f,k,m,p,s");
	CHECK_STR(names(c.m, "p/deep"), "f1,x");
	CHECK_STR(names(c.m, "m"), "two");
	merged_end(&c);
	CHECK(merge_diff(&c, tar, len, lowers, 2) == 0);
	free(tar);
}

/* A directory made over a name the layer deleted is opaque, and its metadata is final. */
static void test_dir_over_deleted(void)
{
	const char *lowers[] = { NULL };
	unsigned char *tar;
	size_t len;
	tarb t;
	cs c;

	case_begin(&c);
	lowers[0] = c.l0;
	mkd(c.l0, "d", 0711);
	mkf(c.l0, "d/old", "old");
	dmeta(c.l0, "d", 5, 5, "dx");
	mkd(c.l0, "f", 0711);
	mkf(c.l0, "f/old", "old");
	tb_begin(&t);
	tb_file(&t, ".wh.d", 0644, "");
	tb_file(&t, "d/e", 0644, "e");
	tb_file(&t, "f", 0644, "file f");
	tb_dir(&t, "f", 0700);
	tb_file(&t, "f/n", 0644, "n");
	tar = tar_done(&t, &len);

	direct_ok(&c, tar, len, lowers, 1);
	CHECK(dir_is(c.u, "d", 0755, 0, 0, 0));
	CHECK(xattr_is(c.u, "d", OPQ, "y"));
	CHECK(xattr_is(c.u, "d", "user.x", NULL));
	CHECK_STR(names(c.u, "d"), "e");
	CHECK(dir_is(c.u, "f", 0700, 0, 0, 1000000));
	CHECK(xattr_is(c.u, "f", OPQ, "y"));
	CHECK_STR(names(c.u, "f"), "n");

	CHECK(apply_reference(&c, tar, len, lowers, 1) == 0);
	CHECK(merged_begin(&c, lowers, 1) == 0);
	CHECK_STR(names(c.m, "d"), "e");
	CHECK_STR(names(c.m, "f"), "n");
	merged_end(&c);
	CHECK(merge_diff(&c, tar, len, lowers, 1) == 0);
	free(tar);
}

/* A parent that is a symlink (or a file) below: the layer must be applied through the lowers. */
static void test_redo(void)
{
	const char *lowers[] = { NULL, NULL };
	static char before[16384], after[16384];
	ccp_unpack_direct d;
	unsigned char *tar;
	size_t len;
	int redo;
	tarb t;
	cs c;

	case_begin(&c);
	lowers[0] = c.l1;
	lowers[1] = c.l0;
	mkd(c.l0, "usr", 0755);
	mkd(c.l0, "usr/lib", 0755);
	mkf(c.l0, "usr/lib/libc", "libc");
	mks(c.l0, "lib", "usr/lib");
	mkd(c.l1, "etc", 0755);
	dmeta(c.l1, "etc", 3, 3, NULL);
	tb_begin(&t);
	tb_file(&t, "etc/conf", 0644, "conf"); /* would be finished, were it not for lib */
	tb_file(&t, "lib/x", 0644, "x");
	tar = tar_done(&t, &len);

	CHECK(apply_direct(&c, tar, len, &d) == 0);
	before[0] = after[0] = '\0';
	snap_tree(c.u, "", before, sizeof(before));
	CHECK(finish(&c, lowers, 2, &d, &redo) == 0);
	CHECK(redo == 1);
	snap_tree(c.u, "", after, sizeof(after));
	CHECK_STR(after, before);
	ccp_unpack_direct_free(&d);
	free(tar);

	/* A regular file below, in the middle layer. */
	case_begin(&c);
	lowers[0] = c.l1;
	lowers[1] = c.l0;
	mkd(c.l0, "q", 0755);
	mkf(c.l1, "q", "now a file");
	tb_begin(&t);
	tb_file(&t, "q/x", 0644, "x");
	tar = tar_done(&t, &len);
	CHECK(apply_direct(&c, tar, len, &d) == 0);
	CHECK(finish(&c, lowers, 2, &d, &redo) == 0);
	CHECK(redo == 1);
	ccp_unpack_direct_free(&d);
	free(tar);

	/* A directory above hides the symlink below it: no redo. */
	case_begin(&c);
	lowers[0] = c.l1;
	lowers[1] = c.l0;
	mkd(c.l0, "usr", 0755);
	mkd(c.l0, "usr/lib", 0755);
	mks(c.l0, "lib", "usr/lib");
	mkd(c.l1, "lib", 0705);
	dmeta(c.l1, "lib", 4, 4, "l1");
	tb_begin(&t);
	tb_file(&t, "lib/x", 0644, "x");
	tar = tar_done(&t, &len);
	direct_ok(&c, tar, len, lowers, 2);
	CHECK(dir_is(c.u, "lib", 0705, 4, 4, LOWER_MTIME));
	CHECK(apply_reference(&c, tar, len, lowers, 2) == 0);
	CHECK(merged_begin(&c, lowers, 2) == 0);
	CHECK_STR(names(c.m, "lib"), "x");
	merged_end(&c);
	CHECK(merge_diff(&c, tar, len, lowers, 2) == 0);
	free(tar);
}

static void expect_needs_lowers(cs *c, tarb *t)
{
	ccp_unpack_direct d;
	unsigned char *tar;
	size_t len;

	tar = tar_done(t, &len);
	CHECK(apply_direct(c, tar, len, &d) == CCP_ELAYER);
	CHECK(d.needs_lowers == 1);
	ccp_unpack_direct_free(&d);
	free(tar);
}

static void test_needs_lowers(void)
{
	ccp_unpack_direct d;
	unsigned char *tar;
	struct stat sx, sy;
	size_t len;
	tarb t;
	cs c;

	case_begin(&c);
	tb_begin(&t);
	tb_file(&t, "own", 0644, "own");
	tb_hardlink(&t, "c", "a"); /* a is only below */
	expect_needs_lowers(&c, &t);

	case_begin(&c);
	tb_begin(&t);
	tb_file(&t, "x", 0644, "x");
	tb_file(&t, ".wh..wh..opq", 0644, "");
	expect_needs_lowers(&c, &t);

	case_begin(&c);
	tb_begin(&t);
	tb_file(&t, "./.wh..wh..opq", 0644, "");
	expect_needs_lowers(&c, &t);

	case_begin(&c);
	tb_begin(&t);
	tb_file(&t, "sub/f", 0644, "f");
	tb_hardlink(&t, "c", "sub/a"); /* the parent was made by the layer, the target was not */
	expect_needs_lowers(&c, &t);

	/* Linking to the layer's own file needs nothing below. */
	case_begin(&c);
	mkf(c.l0, "x", "lower x");
	tb_begin(&t);
	tb_file(&t, "x", 0644, "x");
	tb_hardlink(&t, "y", "x");
	tb_file(&t, "sub/.wh..wh..opq", 0644, "");
	tar = tar_done(&t, &len);
	CHECK(apply_direct(&c, tar, len, &d) == 0);
	CHECK(d.needs_lowers == 0);
	ccp_unpack_direct_free(&d);
	CHECK(lstat(at(c.u, "x"), &sx) == 0 && lstat(at(c.u, "y"), &sy) == 0 && sx.st_ino == sy.st_ino &&
	      sx.st_nlink == 2);
	free(tar);
}

/* An entry naming a directory the layer made implicitly earlier (or later) keeps the entry's metadata. */
static void test_explicit_after_implicit(void)
{
	const char *lowers[] = { NULL };
	unsigned char *tar;
	size_t len;
	tarb t;
	cs c;

	case_begin(&c);
	lowers[0] = c.l0;
	mkd(c.l0, "p", 0750);
	dmeta(c.l0, "p", 123, 456, "v");
	mkd(c.l0, "r", 0750);
	mkd(c.l0, "r/s", 0750);
	dmeta(c.l0, "r/s", 123, 456, "v");
	dmeta(c.l0, "r", 123, 456, "v");
	tb_begin(&t);
	tb_file(&t, "p/f", 0644, "f");
	tb_dir(&t, "p", 0700);
	tb_dir(&t, "r/s", 0701); /* r implicit, s explicit */
	tar = tar_done(&t, &len);

	direct_ok(&c, tar, len, lowers, 1);
	CHECK(dir_is(c.u, "p", 0700, 0, 0, 1000000));
	CHECK(xattr_is(c.u, "p", "user.x", NULL));
	CHECK(dir_is(c.u, "r", 0750, 123, 456, LOWER_MTIME));
	CHECK(xattr_is(c.u, "r", "user.x", "v"));
	CHECK(dir_is(c.u, "r/s", 0701, 0, 0, 1000000));
	CHECK(xattr_is(c.u, "r/s", "user.x", NULL));

	CHECK(apply_reference(&c, tar, len, lowers, 1) == 0);
	CHECK(merged_begin(&c, lowers, 1) == 0);
	merged_end(&c);
	CHECK(merge_diff(&c, tar, len, lowers, 1) == 0);
	free(tar);
}

/* Overlay mode: a hardlink to a lower file keeps its other visible names linked to it. */
static void test_overlay_hardlink(void)
{
	const char *lowers[] = { NULL, NULL };
	ccp_unpack_opts o = { 0 };
	ccp_err e = CCP_ERR_INIT;
	struct stat sa, sb, sc;
	unsigned char *tar;
	size_t len;
	int fds[2], fd;
	tarb t;
	cs c;

	case_begin(&c);
	lowers[0] = c.l1;
	lowers[1] = c.l0;
	mkf(c.l0, "a", "shared");
	mkl(c.l0, "b", "a");
	mkd(c.l0, "dir", 0755);
	mkl(c.l0, "dir/h", "a"); /* deleted by L1: stays deleted */
	mkd(c.l1, "dir", 0755);
	mkwh(c.l1, "dir/h");
	tb_begin(&t);
	tb_hardlink(&t, "c", "a");
	tar = tar_done(&t, &len);

	if (mount_ovl(c.m, c.u, c.w, lowers, 2) < 0) {
		CHECK(0);
		free(tar);
		return;
	}
	open_lowers(lowers, 2, fds);
	fd = open(c.m, O_RDONLY | O_DIRECTORY);
	o.lower_fds = fds;
	o.n_lowers = 2;
	CHECK(apply(fd, tar, len, &o, &e) == 0);
	close(fd);
	close_all(fds, 2);
	CHECK(lstat(at(c.m, "a"), &sa) == 0 && lstat(at(c.m, "b"), &sb) == 0 && lstat(at(c.m, "c"), &sc) == 0);
	CHECK(sa.st_ino == sb.st_ino && sb.st_ino == sc.st_ino);
	CHECK(sa.st_nlink == 3 && sc.st_nlink == 3);
	CHECK(absent(c.m, "dir/h"));
	CHECK_STR(names(c.m, "dir"), "");
	CHECK(file_eq(at(c.m, "c"), at(c.l0, "a")));
	if (umount2(c.m, 0) < 0)
		die("umount", c.m);
	/* The lower file itself was not touched. */
	CHECK(lstat(at(c.l0, "a"), &sa) == 0 && sa.st_nlink == 3);

	/* The same through a fresh read-only mount of the result. */
	{
		const char *all[] = { c.u, c.l1, c.l0 };
		CHECK(mount_ovl(c.m, NULL, NULL, all, 3) == 0);
		CHECK(lstat(at(c.m, "a"), &sa) == 0 && lstat(at(c.m, "b"), &sb) == 0 &&
		      lstat(at(c.m, "c"), &sc) == 0);
		CHECK(sa.st_ino == sb.st_ino && sb.st_ino == sc.st_ino && sa.st_nlink == 3);
		CHECK(absent(c.m, "dir/h"));
		if (umount2(c.m, 0) < 0)
			die("umount", c.m);
	}
	free(tar);
}

/* overlayfs with trusted.* xattrs, as root in a private mount namespace. */
static int overlay_usable(void)
{
	char l0[300], l1[300], m[300];
	const char *lowers[] = { l1, l0 };
	int ok;

	snprintf(l0, sizeof(l0), "%s/probe0", g_base);
	snprintf(l1, sizeof(l1), "%s/probe1", g_base);
	snprintf(m, sizeof(m), "%s/probem", g_base);
	if (mkdir(l0, 0755) || mkdir(l1, 0755) || mkdir(m, 0755))
		return 0;
	if (setxattr(l1, OPQ, "y", 1, 0) < 0) {
		fprintf(stderr, "trusted xattrs unavailable in %s: %s\n", g_base, strerror(errno));
		return 0;
	}
	ok = mount_ovl(m, NULL, NULL, lowers, 2) == 0;
	if (ok)
		umount2(m, 0);
	return ok;
}

/*
 * Overlay mode at scale: a lower file with MANY_LINKS + 1 names and a layer with a hardlink to each
 * of them. The file's names are relinked to the copy once, not once per hardlink (which was
 * MANY_LINKS^2 relinks, minutes of work under the store lock).
 */
#define MANY_LINKS 3000
static void test_overlay_hardlink_many(void)
{
	const char *lowers[] = { NULL };
	ccp_unpack_opts o = { 0 };
	ccp_err e = CCP_ERR_INIT;
	uint64_t relinked = 0;
	struct stat sf, st;
	unsigned char *tar;
	char n[64], x[64];
	size_t len;
	int fds[1], fd, same = 0;
	tarb t;
	cs c;

	case_begin(&c);
	lowers[0] = c.l0;
	mkf(c.l0, "f", "shared");
	mkd(c.l0, "n", 0755);
	for (int i = 0; i < MANY_LINKS; i++) {
		snprintf(n, sizeof(n), "n/%d", i);
		mkl(c.l0, n, "f");
	}
	tb_begin(&t);
	tb_dir(&t, "x", 0755);
	tb_file(&t, "n/5", 0644, "replaced"); /* a name the layer replaces stays a file of its own */
	for (int i = 0; i < MANY_LINKS; i++) {
		snprintf(n, sizeof(n), "n/%d", (i * 7 + 3) % MANY_LINKS);
		snprintf(x, sizeof(x), "x/%d", i);
		tb_hardlink(&t, x, n);
	}
	tar = tar_done(&t, &len);

	if (mount_ovl(c.m, c.u, c.w, lowers, 1) < 0) {
		CHECK(0);
		free(tar);
		return;
	}
	open_lowers(lowers, 1, fds);
	fd = open(c.m, O_RDONLY | O_DIRECTORY);
	o.lower_fds = fds;
	o.n_lowers = 1;
	o.n_relinked = &relinked;
	CHECK(apply(fd, tar, len, &o, &e) == 0);
	close(fd);
	close_all(fds, 1);
	/* Each lower name other than the first target and the replaced one, once. */
	CHECK(relinked == MANY_LINKS - 1);
	if (relinked != MANY_LINKS - 1)
		fprintf(stderr, "  relinked %llu names\n", (unsigned long long)relinked);
	CHECK(lstat(at(c.m, "f"), &sf) == 0);
	for (int i = 0; i < MANY_LINKS; i++) {
		snprintf(n, sizeof(n), "n/%d", i);
		snprintf(x, sizeof(x), "x/%d", i);
		if (i != 5 && lstat(at(c.m, n), &st) == 0 && st.st_ino == sf.st_ino &&
		    lstat(at(c.m, x), &st) == 0 && st.st_ino == sf.st_ino)
			same++;
	}
	/* x/i links to n/5 for the one i with (7i + 3) % N == 5: that is the replaced file. */
	CHECK(same == MANY_LINKS - 2);
	CHECK(sf.st_nlink == 2 * MANY_LINKS - 1);
	CHECK(lstat(at(c.m, "n/5"), &st) == 0 && st.st_ino != sf.st_ino && st.st_nlink == 2);
	if (umount2(c.m, 0) < 0)
		die("umount", c.m);
	/* The lower file itself was not touched. */
	CHECK(lstat(at(c.l0, "f"), &sf) == 0 && sf.st_nlink == MANY_LINKS + 1);
	free(tar);
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "skip: needs root (chown, mknod, trusted xattrs, overlay mounts)\n");
		return 77;
	}
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		fprintf(stderr, "skip: no private mount namespace: %s\n", strerror(errno));
		return 77;
	}
	umask(022);
	g_start = time(NULL) - 1;
	snprintf(g_base, sizeof(g_base), "/tmp/ccp_direct_XXXXXX");
	if (!mkdtemp(g_base))
		die("mkdtemp", g_base);
	if (!overlay_usable()) {
		fprintf(stderr, "skip: overlayfs cannot be mounted here\n");
		rm_tree(g_base);
		return 77;
	}

	test_whiteout();
	test_opaque();
	test_implicit_parent();
	test_implicit_parent_layers();
	test_implicit_absent();
	test_whiteout_in_own_dir();
	test_dir_over_deleted();
	test_mixed();
	test_redo();
	test_needs_lowers();
	test_explicit_after_implicit();
	test_overlay_hardlink();
	test_overlay_hardlink_many();

	rm_tree(g_base);
	return test_summary();
}
