/*
 * Files read out of a rootfs the image made: /etc/passwd and /etc/group for the image's User. A FIFO
 * there must not block the pull, a device node must not be opened, symlinks resolve inside the
 * rootfs (through openat2 and through the fallback walk), and sizes are bounded. Also the copy
 * snapshotter's hardlink groups at a scale where a linear lookup was quadratic.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "test.h"
#include "bundle/bundle.h"
#include "unpack/unpack.h"
#include "util/buf.h"
#include "util/fs.h"

#define PASSWD "root:x:0:0:root:/root:/bin/sh\napp:x:1001:1002:App:/srv:/bin/sh\n"
#define GROUP "root:x:0:\nappgrp:x:1002:\nvideo:x:44:app,daemon\n"

static char g_base[256];

static const char *at(const char *rel)
{
	static char bufs[4][512];
	static int i;
	char *b = bufs[i++ & 3];
	snprintf(b, sizeof(bufs[0]), "%s/%s", g_base, rel);
	return b;
}

static void put(const char *rel, const char *data)
{
	int fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data)) {
		fprintf(stderr, "setup: %s: %s\n", at(rel), strerror(errno));
		exit(1);
	}
	close(fd);
}

/* Removes rootfs/etc/passwd, whatever it is. */
static void reset_passwd(void)
{
	CHECK(ccp_rm_rf_at(AT_FDCWD, at("rootfs/etc/passwd")) == 0);
}

/* ccp_unpack_read_in_root of path, both ways: the result code (the same both ways) and the data. */
static int read_both(const char *path, size_t max, char *data, size_t dsize)
{
	int fd = open(at("rootfs"), O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc[2];

	data[0] = '\0';
	for (int walk = 0; walk < 2; walk++) {
		ccp_buf b = CCP_BUF_INIT(0);
		ccp_err e = CCP_ERR_INIT;
		rc[walk] = ccp_unpack_read_in_root(fd, path, max, walk, &b, &e);
		if (rc[walk] < 0 && rc[walk] != -ENOENT && !e.msg[0])
			rc[walk] = 1000; /* an error must say what */
		if (rc[walk] == 0 && walk == 1 && strcmp(b.data ? b.data : "", data) != 0)
			rc[walk] = 1001; /* the two ways must read the same */
		if (rc[walk] == 0)
			snprintf(data, dsize, "%s", b.data ? b.data : "");
		ccp_buf_free(&b);
	}
	close(fd);
	return rc[0] == rc[1] ? rc[0] : 1002;
}

/* ccp_bundle_write_config with User user: its result, and config.json's process.user as text. */
static int config_user(const char *user, char *out, size_t outsz)
{
	json_t *cfg = json_pack("{s:{s:s}}", "config", "User", user), *spec;
	int bfd = open(g_base, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rfd = open(at("rootfs"), O_RDONLY | O_DIRECTORY);
	ccp_err e = CCP_ERR_INIT;
	char *text = NULL;
	int rc;

	out[0] = '\0';
	rc = ccp_bundle_write_config(bfd, rfd, cfg, &text, &e);
	if (rc == 0 && (spec = json_loads(text, 0, NULL))) {
		char *u = json_dumps(json_object_get(json_object_get(spec, "process"), "user"), JSON_COMPACT);
		snprintf(out, outsz, "%s", u ? u : "");
		free(u);
		json_decref(spec);
	} else if (rc) {
		snprintf(out, outsz, "%.400s", e.msg);
	}
	free(text);
	json_decref(cfg);
	close(bfd);
	close(rfd);
	return rc;
}

static void test_reads(void)
{
	char data[256], big[4096];

	CHECK(read_both("/etc/passwd", 1 << 20, data, sizeof(data)) == 0);
	CHECK_STR(data, PASSWD);
	CHECK(read_both("/etc/nothing", 1 << 20, data, sizeof(data)) == -ENOENT);
	CHECK(read_both("/etc/passwd/below", 1 << 20, data, sizeof(data)) == -ENOENT);
	/* Bounded: a file over the limit is refused, not cut. */
	CHECK(read_both("/etc/passwd", 10, data, sizeof(data)) == CCP_ELAYER);
	/* A directory is no file (as the image having none), not an error. */
	CHECK(read_both("/etc", 1 << 20, data, sizeof(data)) == -ENOENT);

	/* Symlinks resolve inside the rootfs, relative ones through symlinked directories too. */
	CHECK(mkdir(at("rootfs/usr"), 0755) == 0 && mkdir(at("rootfs/usr/share"), 0755) == 0);
	put("rootfs/usr/share/passwd.real", "via-symlinks\n");
	CHECK(symlink("usr/share", at("rootfs/share")) == 0);
	CHECK(symlink("../share/passwd.real", at("rootfs/etc/rel")) == 0);
	CHECK(symlink("/../../../../share/passwd.real", at("rootfs/etc/abs")) == 0);
	CHECK(read_both("/etc/rel", 1 << 20, data, sizeof(data)) == 0);
	CHECK_STR(data, "via-symlinks\n");
	CHECK(read_both("etc/abs", 1 << 20, data, sizeof(data)) == 0);
	CHECK_STR(data, "via-symlinks\n");
	/* A target outside: read as the same path inside, never the host's file. */
	put("outside", "host-secret\n");
	snprintf(big, sizeof(big), "../../../../../../../../..%s", at("outside"));
	CHECK(symlink(big, at("rootfs/etc/out")) == 0);
	CHECK(read_both("/etc/out", 1 << 20, data, sizeof(data)) == -ENOENT);
	CHECK(symlink(at("outside"), at("rootfs/etc/out-abs")) == 0);
	CHECK(read_both("/etc/out-abs", 1 << 20, data, sizeof(data)) == -ENOENT);
	CHECK(symlink("loop2", at("rootfs/etc/loop1")) == 0 && symlink("loop1", at("rootfs/etc/loop2")) == 0);
	CHECK(read_both("/etc/loop1", 1 << 20, data, sizeof(data)) == CCP_ELAYER);

	/* A FIFO: refused at once (never opened: opening it for reading would block). */
	CHECK(mkfifo(at("rootfs/etc/fifo"), 0644) == 0);
	CHECK(read_both("/etc/fifo", 1 << 20, data, sizeof(data)) == CCP_ELAYER);
	CHECK(symlink("fifo", at("rootfs/etc/to-fifo")) == 0);
	CHECK(read_both("/etc/to-fifo", 1 << 20, data, sizeof(data)) == CCP_ELAYER);

	/* Device nodes: refused, also through a symlink to the image's own /dev/zero. */
	if (geteuid() == 0) {
		CHECK(mkdir(at("rootfs/dev"), 0755) == 0);
		CHECK(mknod(at("rootfs/dev/zero"), S_IFCHR | 0666, makedev(1, 5)) == 0);
		CHECK(mknod(at("rootfs/etc/blk"), S_IFBLK | 0600, makedev(7, 0)) == 0);
		CHECK(symlink("/dev/zero", at("rootfs/etc/to-zero")) == 0);
		CHECK(read_both("/dev/zero", 1 << 20, data, sizeof(data)) == CCP_ELAYER);
		CHECK(read_both("/etc/to-zero", 1 << 20, data, sizeof(data)) == CCP_ELAYER);
		CHECK(read_both("/etc/blk", 1 << 20, data, sizeof(data)) == CCP_ELAYER);
	}
}

static void test_config(void)
{
	char out[1024];
	int fd;

	/* A numeric User present in /etc/passwd brings its gid and groups. */
	CHECK(config_user("1001", out, sizeof(out)) == 0);
	CHECK_STR(out, "{\"uid\":1001,\"gid\":1002,\"additionalGids\":[44]}");
	CHECK(config_user("app", out, sizeof(out)) == 0);
	CHECK_STR(out, "{\"uid\":1001,\"gid\":1002,\"additionalGids\":[44]}");

	/* /etc/passwd a FIFO: a prompt CCP_ELAYER (this blocked for ever), whatever the User. */
	reset_passwd();
	CHECK(mkfifo(at("rootfs/etc/passwd"), 0644) == 0);
	CHECK(config_user("app", out, sizeof(out)) == CCP_ELAYER);
	CHECK(strstr(out, "/etc/passwd") && strstr(out, "FIFO"));
	CHECK(config_user("", out, sizeof(out)) == CCP_ELAYER);
	CHECK(config_user("0", out, sizeof(out)) == CCP_ELAYER);

	/* /etc/group a FIFO, with a user whose groups are looked up. */
	reset_passwd();
	put("rootfs/etc/passwd", PASSWD);
	CHECK(ccp_rm_rf_at(AT_FDCWD, at("rootfs/etc/group")) == 0);
	CHECK(mkfifo(at("rootfs/etc/group"), 0644) == 0);
	CHECK(config_user("app", out, sizeof(out)) == CCP_ELAYER);
	CHECK(strstr(out, "/etc/group") != NULL);
	CHECK(ccp_rm_rf_at(AT_FDCWD, at("rootfs/etc/group")) == 0);
	put("rootfs/etc/group", GROUP);

	/* Oversized: refused, not taken as "no /etc/passwd". */
	reset_passwd();
	fd = open(at("rootfs/etc/passwd"), O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0 && ftruncate(fd, (2 << 20)) == 0);
	if (fd >= 0)
		close(fd);
	CHECK(config_user("0", out, sizeof(out)) == CCP_ELAYER);
	CHECK(strstr(out, "larger") != NULL);

	/* A character device (as root): refused without being read. */
	if (geteuid() == 0) {
		reset_passwd();
		CHECK(mknod(at("rootfs/etc/passwd"), S_IFCHR | 0666, makedev(1, 5)) == 0);
		CHECK(config_user("0", out, sizeof(out)) == CCP_ELAYER);
		reset_passwd();
		CHECK(symlink("/dev/zero", at("rootfs/etc/passwd")) == 0);
		CHECK(config_user("0", out, sizeof(out)) == CCP_ELAYER);
	}

	/* A directory there: as no /etc/passwd (a number runs with gid 0, a name is unknown). */
	reset_passwd();
	CHECK(mkdir(at("rootfs/etc/passwd"), 0755) == 0);
	CHECK(config_user("7", out, sizeof(out)) == 0);
	CHECK_STR(out, "{\"uid\":7,\"gid\":0}");
	CHECK(config_user("app", out, sizeof(out)) == CCP_EINVALID);

	/* A symlink out of the rootfs reads the rootfs' own path: here nothing, so app is unknown. */
	reset_passwd();
	put("host-passwd", "app:x:4242:4242::/:/bin/sh\n");
	CHECK(symlink(at("host-passwd"), at("rootfs/etc/passwd")) == 0);
	CHECK(config_user("app", out, sizeof(out)) == CCP_EINVALID);
	CHECK(strstr(out, "4242") == NULL);
	reset_passwd();
	put("rootfs/etc/passwd", PASSWD);
}

/* The copy snapshotter with many hardlink groups: each group stays one inode, groups stay apart. */
#define GROUPS 5000
static void test_copy_links(void)
{
	int sfd, dfd, ok = 0;
	ccp_err e = CCP_ERR_INIT;
	char a[64], b[64];
	struct stat sa, sb, prev;

	CHECK(mkdir(at("src"), 0755) == 0 && mkdir(at("src/a"), 0755) == 0 && mkdir(at("src/b"), 0755) == 0);
	CHECK(mkdir(at("dst"), 0755) == 0);
	for (int i = 0; i < GROUPS; i++) {
		snprintf(a, sizeof(a), "src/a/%d", i);
		snprintf(b, sizeof(b), "src/b/%d", i);
		put(a, "");
		CHECK(link(at(a), at(b)) == 0);
	}
	CHECK(mkfifo(at("src/fifo"), 0600) == 0);
	sfd = open(at("src"), O_RDONLY | O_DIRECTORY);
	dfd = open(at("dst"), O_RDONLY | O_DIRECTORY);
	CHECK(ccp_tree_copy(sfd, dfd, 0, NULL, &e) == 0);
	close(sfd);
	close(dfd);
	memset(&prev, 0, sizeof(prev));
	for (int i = 0; i < GROUPS; i++) {
		snprintf(a, sizeof(a), "dst/a/%d", i);
		snprintf(b, sizeof(b), "dst/b/%d", i);
		if (lstat(at(a), &sa) == 0 && lstat(at(b), &sb) == 0 && sa.st_ino == sb.st_ino && sa.st_nlink == 2 &&
		    sa.st_ino != prev.st_ino)
			ok++;
		prev = sa;
	}
	CHECK(ok == GROUPS);
	CHECK(lstat(at("dst/fifo"), &sa) == 0 && S_ISFIFO(sa.st_mode));
}

int main(void)
{
	alarm(300); /* a read that blocks fails the test instead of hanging it */
	snprintf(g_base, sizeof(g_base), "/tmp/ccpull-rootfs-reads-XXXXXX");
	if (!mkdtemp(g_base)) {
		perror("mkdtemp");
		return 1;
	}
	CHECK(mkdir(at("rootfs"), 0755) == 0 && mkdir(at("rootfs/etc"), 0755) == 0);
	put("rootfs/etc/passwd", PASSWD);
	put("rootfs/etc/group", GROUP);

	test_reads();
	test_config();
	test_copy_links();

	CHECK(ccp_rm_rf_at(AT_FDCWD, g_base) == 0);
	return test_summary();
}
