/* Unpacker tests: OCI semantics and hostile layers, each through openat2 and through the fallback walk. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tar_build.h"
#include "test.h"
#include "unpack/unpack.h"

static int g_walk;
static uint64_t g_max_entries, g_max_bytes;
static char g_base[256], g_root[300];
static ccp_err g_err;

typedef struct memsrc {
	const unsigned char *data;
	size_t len, off, chunk;
	int fail_at;   /* >0: fail with fail_code once off reaches fail_at */
	int fail_code;
} memsrc;

static ssize_t mem_read(void *p, const void **buf, ccp_err *e)
{
	memsrc *m = p;
	size_t n;

	if (m->fail_at && m->off >= (size_t)m->fail_at)
		return ccp_err_set(e, m->fail_code, "upstream failure for the test");
	n = m->len - m->off;
	if (n > m->chunk)
		n = m->chunk;
	/* Vary chunk sizes so headers straddle reads. */
	m->chunk = m->chunk * 7 % 1531 + 1;
	*buf = m->data + m->off;
	m->off += n;
	return (ssize_t)n;
}

static int g_rootless; /* unpack as an unprivileged pull would, even as root */

static int unpack_buf(const void *data, size_t len)
{
	memsrc m = { data, len, 0, 97, 0, 0 };
	ccp_unpack_opts o = { 0 };
	int fd = open(g_root, O_RDONLY | O_DIRECTORY), rc;

	o.same_owner = geteuid() == 0 && !g_rootless;
	o.force_fallback_walk = g_walk;
	o.max_entries = g_max_entries;
	o.max_bytes = g_max_bytes;
	ccp_err_clear(&g_err);
	rc = ccp_unpack_stream(fd, mem_read, &m, &o, &g_err);
	close(fd);
	if (rc)
		fprintf(stderr, "  (unpack: %d %s)\n", rc, g_err.msg);
	return rc;
}

static int unpack_tb(tarb *t)
{
	int rc;
	tb_end(t);
	rc = unpack_buf(t->buf, t->used);
	free(t->buf);
	return rc;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

static void setup(void)
{
	char p[400];
	snprintf(g_base, sizeof(g_base), "/tmp/ccp_unpack_XXXXXX");
	if (!mkdtemp(g_base))
		abort();
	snprintf(g_root, sizeof(g_root), "%s/root", g_base);
	mkdir(g_root, 0755);
	snprintf(p, sizeof(p), "%s/outside", g_base);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/outside/sentinel", g_base);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/outside/sentinel/keep", g_base);
	close(open(p, O_CREAT | O_WRONLY, 0644));
}

static void teardown(void)
{
	nftw(g_base, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
}

static int lst(const char *rel, struct stat *st)
{
	char p[1200];
	snprintf(p, sizeof(p), "%s/%s", g_root, rel);
	return lstat(p, st);
}

static int exists(const char *rel)
{
	struct stat st;
	return lst(rel, &st) == 0;
}

static char *slurp(const char *rel)
{
	static char buf[4096];
	char p[1200];
	int fd;
	ssize_t n;
	snprintf(p, sizeof(p), "%s/%s", g_root, rel);
	if ((fd = open(p, O_RDONLY | O_NOFOLLOW)) < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

/* The outside/sentinel directory holds exactly "keep". */
static int outside_intact(void)
{
	char p[400];
	int n = 0;
	struct dirent *de;
	DIR *d;
	snprintf(p, sizeof(p), "%s/outside/sentinel", g_base);
	if (!(d = opendir(p)))
		return 0;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n += strcmp(de->d_name, "keep") == 0 ? 1 : 100;
	closedir(d);
	snprintf(p, sizeof(p), "%s", g_base);
	d = opendir(p);
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "root") &&
		    strcmp(de->d_name, "outside"))
			n += 100;
	if (d)
		closedir(d);
	return n == 1;
}

static int has_wh_marker(const char *rel)
{
	char p[1200];
	struct dirent *de;
	DIR *d;
	int found = 0;
	snprintf(p, sizeof(p), "%s/%s", g_root, rel);
	if (!(d = opendir(p)))
		return 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!strncmp(de->d_name, ".wh.", 4))
			found = 1;
		else if (de->d_type == DT_DIR) {
			char sub[1200];
			snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
			found |= has_wh_marker(sub);
		}
	}
	closedir(d);
	return found;
}

static void test_basic(void)
{
	tarb t;
	struct stat st;
	struct archive_entry *e;

	tb_begin(&t);
	tb_dir(&t, "etc", 0751);
	tb_file(&t, "etc/passwd", 0640, "root:x:0:0\n");
	tb_symlink(&t, "etc/link", "passwd");
	tb_symlink(&t, "etc/abs", "/usr/lib/nowhere");
	tb_hardlink(&t, "etc/hl", "etc/passwd");
	tb_hardlink(&t, "etc/hl2", "/etc/passwd");
	tb_file(&t, "bin/su", 04755, "#!su\n");
	tb_node(&t, "run/fifo", AE_IFIFO, 0, 0);
	tb_node(&t, "dev/null", AE_IFCHR, 1, 3);
	e = tb_entry("usr/x", AE_IFREG, 0600);
	archive_entry_set_mtime(e, 123456789, 500);
	archive_entry_set_size(e, 0);
	tb_put(&t, e, NULL, 0);
	CHECK(unpack_tb(&t) == 0);

	CHECK(lst("etc", &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0751);
	CHECK(st.st_mtime == 1000000);
	CHECK_STR(slurp("etc/passwd"), "root:x:0:0\n");
	CHECK(lst("etc/passwd", &st) == 0 && (st.st_mode & 07777) == 0640 && st.st_nlink == 3);
	CHECK(st.st_mtime == 1000000);
	{
		char buf[64] = { 0 }, p[600];
		snprintf(p, sizeof(p), "%s/etc/abs", g_root);
		CHECK(readlink(p, buf, sizeof(buf)) == 16 && !strcmp(buf, "/usr/lib/nowhere"));
	}
	CHECK(lst("etc/link", &st) == 0 && S_ISLNK(st.st_mode));
	CHECK(lst("bin/su", &st) == 0 && (st.st_mode & 07777) == 04755);
	CHECK(lst("bin", &st) == 0 && (st.st_mode & 07777) == 0755);
	CHECK(lst("run/fifo", &st) == 0 && S_ISFIFO(st.st_mode) && (st.st_mode & 0777) == 0644);
	if (geteuid() == 0)
		CHECK(lst("dev/null", &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3));
	else
		CHECK(!exists("dev/null"));
	CHECK(lst("usr/x", &st) == 0 && st.st_mtim.tv_sec == 123456789 && st.st_mtim.tv_nsec == 500);
}

static void layer_lower(void)
{
	tarb t;
	tb_begin(&t);
	tb_dir(&t, "a", 0755);
	tb_file(&t, "a/f", 0644, "lower");
	tb_file(&t, "a/g", 0644, "lower");
	tb_dir(&t, "d", 0755);
	tb_file(&t, "d/x", 0644, "x");
	tb_file(&t, "d/y/z", 0644, "z");
	tb_dir(&t, "o", 0755);
	tb_file(&t, "o/old1", 0644, "1");
	tb_file(&t, "o/sub/old2", 0644, "2");
	tb_dir(&t, "p", 0755);
	tb_file(&t, "p/old", 0644, "1");
	tb_dir(&t, "x", 0755);
	tb_file(&t, "x/child", 0644, "c");
	tb_file(&t, "y", 0644, "file");
	CHECK(unpack_tb(&t) == 0);
}

static void test_whiteouts(void)
{
	tarb t;
	struct stat st;

	layer_lower();
	tb_begin(&t);
	tb_file(&t, "a/.wh.f", 0644, "");
	tb_file(&t, ".wh.d", 0644, "");
	tb_file(&t, "o/new", 0644, "new");           /* before the opaque marker */
	tb_file(&t, "o/.wh..wh..opq", 0644, "");
	tb_file(&t, "p/.wh..wh..opq", 0644, "");     /* before the new child */
	tb_file(&t, "p/new", 0644, "new");
	tb_file(&t, ".wh.missing", 0644, "");
	tb_file(&t, "nodir/.wh.missing", 0644, "");
	tb_file(&t, "a/.wh..wh.plnk", 0644, "");     /* AUFS metadata: ignored */
	tb_file(&t, "x", 0644, "now a file");
	tb_dir(&t, "y", 0700);
	tb_file(&t, "y/c", 0644, "c");
	tb_file(&t, "dup", 0644, "one");
	tb_file(&t, "dup", 0644, "two");
	tb_file(&t, "mine", 0644, "this layer");
	tb_file(&t, ".wh.mine", 0644, "");          /* same-layer whiteout: does not hide it */
	CHECK(unpack_tb(&t) == 0);

	CHECK(!exists("a/f"));
	CHECK(exists("a/g"));
	CHECK(!exists("d"));
	CHECK(exists("o") && exists("o/new") && !exists("o/old1") && !exists("o/sub"));
	CHECK(exists("p") && exists("p/new") && !exists("p/old"));
	CHECK(lst("x", &st) == 0 && S_ISREG(st.st_mode));
	CHECK(lst("y", &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
	CHECK_STR(slurp("y/c"), "c");
	CHECK_STR(slurp("dup"), "two");
	CHECK_STR(slurp("mine"), "this layer");
	CHECK(!exists("nodir"));
	CHECK(!has_wh_marker(""));
}

static void test_opaque_keeps_layer_children(void)
{
	tarb t;

	layer_lower();
	tb_begin(&t);
	tb_dir(&t, "o", 0755);
	tb_file(&t, "o/sub/mine", 0644, "m");
	tb_file(&t, "o/.wh..wh..opq", 0644, "");
	tb_file(&t, ".wh.d", 0644, "");
	tb_file(&t, "d/keep", 0644, "k");           /* recreated after the whiteout */
	CHECK(unpack_tb(&t) == 0);
	CHECK(exists("o/sub/mine") && !exists("o/sub/old2") && !exists("o/old1"));
	CHECK(exists("d/keep") && !exists("d/x"));
	CHECK(!has_wh_marker(""));

	/* A whiteout of a directory this layer touched keeps this layer's children only. */
	tb_begin(&t);
	tb_file(&t, "a/new", 0644, "n");
	tb_file(&t, ".wh.a", 0644, "");
	CHECK(unpack_tb(&t) == 0);
	CHECK(exists("a/new") && !exists("a/g"));
}

static void test_hostile(void)
{
	tarb t;
	struct stat st;

	tb_begin(&t);
	tb_file(&t, "../x", 0644, "dotdot");
	tb_file(&t, "/abs/x", 0644, "abs");
	tb_file(&t, "./a/../../../b", 0644, "b");
	tb_symlink(&t, "s1", "/");
	tb_file(&t, "s1/inside1", 0644, "1");
	tb_symlink(&t, "s2", "../../outside");
	tb_file(&t, "s2/sentinel/pwn", 0644, "2");
	tb_symlink(&t, "s3", "/../../../outside/sentinel");
	tb_file(&t, "s3/pwn3", 0644, "3");
	tb_symlink(&t, "s4", "s2/sentinel");
	tb_dir(&t, "s4/pwndir", 0755);
	CHECK(unpack_tb(&t) == 0);
	CHECK_STR(slurp("x"), "dotdot");
	CHECK_STR(slurp("abs/x"), "abs");
	CHECK_STR(slurp("b"), "b");
	CHECK_STR(slurp("inside1"), "1");
	CHECK_STR(slurp("outside/sentinel/pwn"), "2");
	CHECK_STR(slurp("outside/sentinel/pwn3"), "3");
	CHECK(lst("outside/sentinel/pwndir", &st) == 0 && S_ISDIR(st.st_mode));
	CHECK(lst("s1", &st) == 0 && S_ISLNK(st.st_mode));
	CHECK(outside_intact());

	/* A symlink in the last component is replaced, never written through. */
	tb_begin(&t);
	tb_symlink(&t, "lnk", "../outside/sentinel/keep");
	tb_file(&t, "lnk", 0644, "replaced");
	CHECK(unpack_tb(&t) == 0);
	CHECK(lst("lnk", &st) == 0 && S_ISREG(st.st_mode));
	CHECK(outside_intact());

	tb_begin(&t);
	tb_symlink(&t, "l1", "l2");
	tb_symlink(&t, "l2", "l1");
	tb_file(&t, "l1/x", 0644, "loop");
	CHECK(unpack_tb(&t) == CCP_ELAYER);

	tb_begin(&t);
	tb_hardlink(&t, "h", "../../outside/sentinel/keep");
	CHECK(unpack_tb(&t) == CCP_ELAYER);
	CHECK(outside_intact());

	tb_begin(&t);
	tb_symlink(&t, "up", "/../..");
	tb_hardlink(&t, "h2", "up/outside/sentinel/keep");
	CHECK(unpack_tb(&t) == CCP_ELAYER);

	tb_begin(&t);
	tb_dir(&t, "somedir", 0755);
	tb_hardlink(&t, "h3", "somedir");
	CHECK(unpack_tb(&t) == CCP_ELAYER);
	CHECK(strstr(g_err.msg, "h3") && strstr(g_err.msg, "somedir"));

	tb_begin(&t);
	tb_symlink(&t, "./", "/");
	CHECK(unpack_tb(&t) == CCP_ELAYER);
	CHECK(lst("", &st) == 0 && S_ISDIR(st.st_mode));

	tb_begin(&t);
	tb_file(&t, "a/.wh.", 0644, "");
	CHECK(unpack_tb(&t) == CCP_ELAYER);
	tb_begin(&t);
	tb_file(&t, "a/.wh..", 0644, "");
	CHECK(unpack_tb(&t) == CCP_ELAYER);
	tb_begin(&t);
	tb_file(&t, ".wh...", 0644, "");
	CHECK(unpack_tb(&t) == CCP_ELAYER);
	CHECK(outside_intact());
	CHECK(exists("x"));
}

static void test_root_entry(void)
{
	tarb t;
	struct stat st;

	tb_begin(&t);
	tb_dir(&t, "./", 0700);
	tb_file(&t, "f", 0644, "f");
	CHECK(unpack_tb(&t) == 0);
	CHECK(lst("", &st) == 0 && (st.st_mode & 07777) == 0700 && st.st_mtime == 1000000);
}

static void test_malformed(void)
{
	unsigned char buf[8192];
	tarb t;
	size_t n;

	/* Directory with a size. */
	memset(buf, 0, sizeof(buf));
	tb_raw_header(buf, "d/", '5', 10, NULL);
	CHECK(unpack_buf(buf, 512 + 512 + 1024) == CCP_ELAYER);

	/* Typeflags that Go hands through as unknown. */
	tb_raw_header(buf, "v", 'A', 0, NULL);
	CHECK(unpack_buf(buf, 512 + 1024) == CCP_ELAYER);
	tb_raw_header(buf, "c", '7', 0, NULL);
	CHECK(unpack_buf(buf, 512 + 1024) == CCP_ELAYER);
	CHECK(!exists("c"));

	/* Hardlink with a size. */
	tb_raw_header(buf, "h", '1', 5, "x");
	CHECK(unpack_buf(buf, 1536) == CCP_ELAYER);

	/* No end blocks and no final padding (umoci insert): accepted. */
	memset(buf, 0, sizeof(buf));
	tb_raw_header(buf, "noend", '0', 5, NULL);
	memcpy(buf + 512, "hello", 5);
	CHECK(unpack_buf(buf, 517) == 0);
	CHECK_STR(slurp("noend"), "hello");
	/* Padding but no end blocks, and a single end block: accepted. */
	tb_raw_header(buf, "noend2", '0', 5, NULL);
	CHECK(unpack_buf(buf, 1024) == 0);
	CHECK(exists("noend2"));
	tb_raw_header(buf, "noend3", '0', 5, NULL);
	CHECK(unpack_buf(buf, 1536) == 0);
	CHECK(exists("noend3"));
	/* Cut inside the data, or inside the padding: truncated. */
	tb_raw_header(buf, "cut", '0', 600, NULL);
	CHECK(unpack_buf(buf, 512 + 300) == CCP_ELAYER);
	CHECK(strstr(g_err.msg, "truncated") != NULL);
	tb_raw_header(buf, "cut2", '0', 5, NULL);
	CHECK(unpack_buf(buf, 512 + 100) == CCP_ELAYER);
	/* Empty stream: an empty layer, as Go reads it. */
	CHECK(unpack_buf(buf, 0) == 0);

	/* A truncated pax archive from libarchive. */
	tb_begin(&t);
	{
		char big[3000];
		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		tb_file(&t, "big", 0644, big);
	}
	tb_end(&t);
	n = t.used;
	CHECK(unpack_buf(t.buf, n - 2048 - 1000) == CCP_ELAYER);
	CHECK(unpack_buf(t.buf, n) == 0);
	free(t.buf);
}

static void test_upstream_error(void)
{
	tarb t;
	memsrc m;
	ccp_unpack_opts o = { 0 };
	int fd, rc;

	tb_begin(&t);
	tb_file(&t, "a", 0644, "aaaa");
	tb_file(&t, "b", 0644, "bbbb");
	tb_end(&t);
	m = (memsrc){ t.buf, t.used, 0, 100, 1200, CCP_EINTEGRITY };
	o.force_fallback_walk = g_walk;
	fd = open(g_root, O_RDONLY | O_DIRECTORY);
	ccp_err_clear(&g_err);
	rc = ccp_unpack_stream(fd, mem_read, &m, &o, &g_err);
	close(fd);
	CHECK(rc == CCP_EINTEGRITY);
	CHECK(strstr(g_err.msg, "upstream failure") != NULL);
	free(t.buf);
}

static void test_xattrs(void)
{
	tarb t;
	struct archive_entry *e;
	char p[600], v[32];
	ssize_t n;

	snprintf(p, sizeof(p), "%s/probe", g_root);
	close(open(p, O_CREAT | O_WRONLY, 0644));
	if (setxattr(p, "user.probe", "1", 1, 0) < 0) {
		unlink(p);
		return; /* no user xattrs on this filesystem */
	}
	unlink(p);
	tb_begin(&t);
	e = tb_entry("xf", AE_IFREG, 0644);
	archive_entry_set_size(e, 0);
	archive_entry_xattr_add_entry(e, "user.ok", "yes", 3);
	archive_entry_xattr_add_entry(e, "user.overlay.opaque", "y", 1);
	archive_entry_xattr_add_entry(e, "trusted.overlay.opaque", "y", 1);
	archive_entry_xattr_add_entry(e, "user.empty", "", 0);
	tb_put(&t, e, NULL, 0);
	CHECK(unpack_tb(&t) == 0);
	snprintf(p, sizeof(p), "%s/xf", g_root);
	n = getxattr(p, "user.ok", v, sizeof(v));
	CHECK(n == 3 && !memcmp(v, "yes", 3));
	CHECK(getxattr(p, "user.empty", v, sizeof(v)) == 0);
	CHECK(getxattr(p, "user.overlay.opaque", v, sizeof(v)) < 0);
	CHECK(getxattr(p, "trusted.overlay.opaque", v, sizeof(v)) < 0);
}

/* The one list of xattrs a layer may set, which the copy snapshotter keeps too. */
static void test_xattr_allowed(void)
{
	CHECK(ccp_unpack_xattr_allowed("user.ok") == 1);
	CHECK(ccp_unpack_xattr_allowed("security.capability") == 1);
	CHECK(ccp_unpack_xattr_allowed("user.overlay.opaque") == 0);
	CHECK(ccp_unpack_xattr_allowed("trusted.overlay.opaque") == 0);
	CHECK(ccp_unpack_xattr_allowed("security.selinux") == 0);
	CHECK(ccp_unpack_xattr_allowed("system.posix_acl_access") == 0);
}

static void test_limits(void)
{
	tarb t;
	char name[5000];
	int i;

	tb_begin(&t);
	for (i = 0; i < 300; i++)
		memcpy(name + 2 * i, "d/", 2);
	strcpy(name + 600, "f");
	tb_file(&t, name, 0644, "deep");
	CHECK(unpack_tb(&t) == CCP_ELAYER);
}

/* The limits of the issue: each fails with a layer error that names it, before writing. */
static void test_more_limits(void)
{
	struct archive_entry *e;
	char big[200];
	char *huge;
	tarb t;
	int i;

	g_max_entries = 5;
	tb_begin(&t);
	for (i = 0; i < 10; i++) {
		snprintf(big, sizeof(big), "f%d", i);
		tb_file(&t, big, 0644, "x");
	}
	CHECK(unpack_tb(&t) == CCP_ELAYER && strstr(g_err.msg, "entries"));
	g_max_entries = 0;

	g_max_bytes = 100;
	memset(big, 'b', 150);
	big[150] = '\0';
	tb_begin(&t);
	tb_file(&t, "small", 0644, "ok");
	tb_file(&t, "bomb", 0644, big);
	CHECK(unpack_tb(&t) == CCP_ELAYER && strstr(g_err.msg, "declares") && !exists("bomb"));
	g_max_bytes = 0;

	tb_begin(&t);
	e = tb_entry("xf", AE_IFREG, 0644);
	archive_entry_set_size(e, 0);
	for (i = 0; i < CCP_UNPACK_XATTR_MAX + 1; i++) {
		snprintf(big, sizeof(big), "user.x%d", i);
		archive_entry_xattr_add_entry(e, big, "v", 1);
	}
	tb_put(&t, e, NULL, 0);
	CHECK(unpack_tb(&t) == CCP_ELAYER && strstr(g_err.msg, "xattrs") && !exists("xf"));

	huge = calloc(1, 2u << 20);
	memset(huge, 'v', (2u << 20) - 1);
	tb_begin(&t);
	e = tb_entry("xv", AE_IFREG, 0644);
	archive_entry_set_size(e, 0);
	archive_entry_xattr_add_entry(e, "user.big", huge, CCP_UNPACK_XATTR_VALUE_MAX + 1);
	tb_put(&t, e, NULL, 0);
	CHECK(unpack_tb(&t) == CCP_ELAYER && strstr(g_err.msg, "value") && !exists("xv"));
	tb_begin(&t);
	e = tb_entry("xh", AE_IFREG, 0644);
	archive_entry_set_size(e, 0);
	archive_entry_xattr_add_entry(e, "user.huge", huge, (2u << 20) - 1);
	tb_put(&t, e, NULL, 0);
	/* libarchive refuses one special header over 1 MiB; the unpacker, a run of them. */
	CHECK(unpack_tb(&t) == CCP_ELAYER && !exists("xh"));
	free(huge);

	tb_begin(&t);
	tb_file(&t, "a/.wh.b/c", 0644, "x");
	CHECK(unpack_tb(&t) == CCP_ELAYER && strstr(g_err.msg, "whiteout name") && !exists("a/.wh.b"));

	/* Device numbers are checked with and without the privilege to make them. */
	tb_begin(&t);
	tb_node(&t, "dev/bad", AE_IFCHR, 4096, 1);
	CHECK(unpack_tb(&t) == CCP_ELAYER && strstr(g_err.msg, "out of range"));
	tb_begin(&t);
	tb_node(&t, "dev/bad", AE_IFBLK, 8, 0x100000);
	CHECK(unpack_tb(&t) == CCP_ELAYER && strstr(g_err.msg, "out of range"));
	tb_begin(&t);
	tb_node(&t, "wh", AE_IFCHR, 0, 0);
	CHECK(unpack_tb(&t) == CCP_ELAYER && strstr(g_err.msg, "0:0") && !exists("wh"));
	CHECK(outside_intact());
}

/* Without privileges, owners are recorded in user.rootlesscontainers as umoci does. */
static void test_rootless_owner(void)
{
	tarb t;
	struct archive_entry *en;
	char path[400];
	unsigned char v[32];
	ssize_t n;

	tb_begin(&t);
	en = tb_entry("owned", AE_IFREG, 0644);
	archive_entry_set_uid(en, 1000);
	archive_entry_set_gid(en, 1001);
	archive_entry_set_size(en, 1);
	tb_put(&t, en, "x", 1);
	en = tb_entry("gidonly", AE_IFDIR, 0755);
	archive_entry_set_gid(en, 5);
	tb_put(&t, en, NULL, 0);
	tb_file(&t, "rootfile", 0644, "y");
	g_rootless = 1;
	CHECK(unpack_tb(&t) == 0);
	g_rootless = 0;
	snprintf(path, sizeof(path), "%s/owned", g_root);
	n = getxattr(path, "user.rootlesscontainers", v, sizeof(v));
	/* uid 1000 = field 1 varint e8 07, gid 1001 = field 2 varint e9 07 */
	CHECK(n == 6 && memcmp(v, "\x08\xe8\x07\x10\xe9\x07", 6) == 0);
	snprintf(path, sizeof(path), "%s/gidonly", g_root);
	n = getxattr(path, "user.rootlesscontainers", v, sizeof(v));
	CHECK(n == 2 && v[0] == 0x10 && v[1] == 5);
	snprintf(path, sizeof(path), "%s/rootfile", g_root);
	CHECK(getxattr(path, "user.rootlesscontainers", v, sizeof(v)) < 0 && errno == ENODATA);
}

/* A new file is created with its permission bits and gets an owner or mode only when it lacks
 * them: a setgid parent's group, the umask and special bits must still end up as the tar says. */
static void test_fresh_file_meta(void)
{
	tarb t;
	struct archive_entry *en;
	struct stat st;

	tb_begin(&t);
	en = tb_entry("sg", AE_IFDIR, 02775);
	archive_entry_set_gid(en, 5);
	tb_put(&t, en, NULL, 0);
	tb_file(&t, "sg/root0", 0644, "a");
	en = tb_entry("sg/g5", AE_IFREG, 0644);
	archive_entry_set_gid(en, 5);
	archive_entry_set_size(en, 1);
	tb_put(&t, en, "b", 1);
	en = tb_entry("u7", AE_IFREG, 0640);
	archive_entry_set_uid(en, 7);
	archive_entry_set_gid(en, 7);
	archive_entry_set_size(en, 1);
	tb_put(&t, en, "c", 1);
	tb_file(&t, "wide", 0777, "d");
	tb_file(&t, "ro", 0444, "e");
	tb_file(&t, "none", 0, "f");
	tb_file(&t, "sgid", 02755, "g");
	CHECK(unpack_tb(&t) == 0);

	CHECK(lst("wide", &st) == 0 && (st.st_mode & 07777) == 0777); /* despite umask 022 */
	CHECK(lst("ro", &st) == 0 && (st.st_mode & 07777) == 0444 && st.st_size == 1);
	CHECK(lst("none", &st) == 0 && (st.st_mode & 07777) == 0 && st.st_size == 1);
	CHECK(lst("sgid", &st) == 0 && (st.st_mode & 07777) == 02755);
	if (geteuid() != 0)
		return;
	CHECK(lst("sg", &st) == 0 && st.st_gid == 5 && (st.st_mode & 07777) == 02775);
	CHECK(lst("sg/root0", &st) == 0 && st.st_uid == 0 && st.st_gid == 0); /* not the setgid parent's 5 */
	CHECK(lst("sg/g5", &st) == 0 && st.st_gid == 5);
	CHECK(lst("u7", &st) == 0 && st.st_uid == 7 && st.st_gid == 7 && (st.st_mode & 07777) == 0640);
	CHECK_STR(slurp("none"), "f");
}

int main(void)
{
	void (*tests[])(void) = { test_rootless_owner, test_basic, test_whiteouts, test_opaque_keeps_layer_children, test_hostile,
				  test_root_entry, test_malformed, test_upstream_error, test_xattrs, test_limits,
				  test_more_limits, test_fresh_file_meta, test_xattr_allowed };
	size_t i;

	umask(022);
	for (g_walk = 0; g_walk < 2; g_walk++) {
		for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
			setup();
			tests[i]();
			teardown();
		}
	}
	return test_summary();
}
