#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "test.h"
#include "bundle/bundle.h"
#include "util/buf.h"
#include "util/fs.h"

static char src[64], dst[64];

static void mkfile(const char *rel, const char *content, mode_t mode)
{
	char p[256];
	int fd;
	snprintf(p, sizeof(p), "%s/%s", src, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		if (write(fd, content, strlen(content)) < 0)
			perror("write");
		fchmod(fd, mode);
		close(fd);
	}
}

static struct stat st_of(const char *root, const char *rel)
{
	char p[256];
	struct stat st;
	memset(&st, 0, sizeof(st));
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	lstat(p, &st);
	return st;
}

/* The byte at offset i of large file k: different in every file and every block. */
static unsigned char large_byte(int k, size_t i)
{
	return (unsigned char)(i * 31 + (i >> 12) * 7 + (size_t)k * 13);
}

/*
 * Files large enough for the copy's worker threads: data, sparse holes, modes, times and hardlinks
 * must come out as they went in, whichever thread copied them and in whatever order.
 */
static void copy_large_files(void)
{
	enum { N = 48, SIZE = 300 << 10 };
	static unsigned char buf[SIZE], back[SIZE];
	ccp_err e = CCP_ERR_INIT;
	char p[256], q[256];
	struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	int sfd, dfd, fd;

	snprintf(src, sizeof(src), "/tmp/ccp-bsrc-XXXXXX");
	snprintf(dst, sizeof(dst), "/tmp/ccp-bdst-XXXXXX");
	if (!mkdtemp(src) || !mkdtemp(dst))
		return;
	snprintf(p, sizeof(p), "%s/d", src);
	mkdir(p, 0755);
	for (int k = 0; k < N; k++) {
		size_t size = SIZE - (size_t)k * 1000;
		for (size_t i = 0; i < size; i++)
			buf[i] = large_byte(k, i);
		snprintf(p, sizeof(p), "%s/d/f%02d", src, k);
		fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		CHECK(fd >= 0 && write(fd, buf, size) == (ssize_t)size);
		CHECK(fchmod(fd, k % 2 ? 04755 : 0640) == 0 && futimens(fd, old) == 0);
		close(fd);
	}
	/* a sparse file: 1 MiB of hole, 4 KiB of data, then a hole to 2 MiB */
	snprintf(p, sizeof(p), "%s/d/sparse", src);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && pwrite(fd, "data", 4, 1 << 20) == 4 && ftruncate(fd, 2 << 20) == 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/d/f00", src);
	snprintf(q, sizeof(q), "%s/d/f00-link", src);
	CHECK(link(p, q) == 0);
	snprintf(p, sizeof(p), "%s/d", src);
	CHECK(utimensat(AT_FDCWD, p, old, 0) == 0);

	sfd = open(src, O_RDONLY | O_DIRECTORY);
	dfd = open(dst, O_RDONLY | O_DIRECTORY);
	CHECK(ccp_tree_copy(sfd, dfd, geteuid() == 0, NULL, &e) == 0);
	if (e.msg[0])
		fprintf(stderr, "%s\n", e.msg);
	for (int k = 0; k < N; k++) {
		size_t size = SIZE - (size_t)k * 1000, bad = 0;
		char rel[32];
		struct stat b;
		snprintf(rel, sizeof(rel), "d/f%02d", k);
		snprintf(p, sizeof(p), "%s/%s", dst, rel);
		fd = open(p, O_RDONLY);
		CHECK(fd >= 0 && read(fd, back, sizeof(back)) == (ssize_t)size);
		close(fd);
		for (size_t i = 0; i < size; i++)
			bad += back[i] != large_byte(k, i);
		CHECK(bad == 0);
		b = st_of(dst, rel);
		CHECK((b.st_mode & 07777) == (k % 2 ? 04755u : 0640u));
		CHECK(b.st_mtim.tv_sec == 1000000000);
	}
	CHECK(st_of(dst, "d/f00").st_ino == st_of(dst, "d/f00-link").st_ino);
	CHECK(st_of(dst, "d/f00").st_nlink == 2);
	CHECK(st_of(dst, "d").st_mtim.tv_sec == 1000000000);
	{
		struct stat b = st_of(dst, "d/sparse");
		char data[4] = { 0 };
		snprintf(p, sizeof(p), "%s/d/sparse", dst);
		fd = open(p, O_RDONLY);
		CHECK(fd >= 0 && pread(fd, data, 4, 1 << 20) == 4 && memcmp(data, "data", 4) == 0);
		close(fd);
		CHECK(b.st_size == 2 << 20 && b.st_blocks * 512 < (1 << 20));
	}
	close(sfd);
	close(dfd);
	ccp_rm_rf_at(AT_FDCWD, src);
	ccp_rm_rf_at(AT_FDCWD, dst);
}

int main(void)
{
	ccp_err e = CCP_ERR_INIT;
	char p[256], q[256], target[64];
	struct stat a, b;
	int sfd, dfd;
	ssize_t n;

	snprintf(src, sizeof(src), "/tmp/ccp-bsrc-XXXXXX");
	snprintf(dst, sizeof(dst), "/tmp/ccp-bdst-XXXXXX");
	if (!mkdtemp(src) || !mkdtemp(dst))
		return 1;
	snprintf(p, sizeof(p), "%s/dir", src);
	mkdir(p, 0750);
	mkfile("dir/setuid", "#!/bin/sh\n", 04755);
	mkfile("file", "hello", 0644);
	snprintf(p, sizeof(p), "%s/file", src);
	snprintf(q, sizeof(q), "%s/dir/hardlink", src);
	CHECK(link(p, q) == 0);
	snprintf(p, sizeof(p), "%s/abs-link", src);
	CHECK(symlink("/etc/passwd", p) == 0);
	snprintf(p, sizeof(p), "%s/fifo", src);
	CHECK(mkfifo(p, 0640) == 0);
	snprintf(p, sizeof(p), "%s/file", src);
	setxattr(p, "user.ccpull-test", "v", 1, 0); /* may be unsupported; checked below only if set */
	chmod(src, 0711);

	sfd = open(src, O_RDONLY | O_DIRECTORY);
	dfd = open(dst, O_RDONLY | O_DIRECTORY);
	CHECK(ccp_tree_copy(sfd, dfd, geteuid() == 0, NULL, &e) == 0);
	if (e.msg[0])
		fprintf(stderr, "%s\n", e.msg);

	a = st_of(src, "dir/setuid");
	b = st_of(dst, "dir/setuid");
	CHECK((b.st_mode & 07777) == 04755 && a.st_size == b.st_size);
	CHECK((st_of(dst, "dir").st_mode & 07777) == 0750);
	CHECK((st_of(dst, "").st_mode & 07777) == 0711);
	a = st_of(dst, "file");
	b = st_of(dst, "dir/hardlink");
	CHECK(a.st_ino == b.st_ino && a.st_nlink == 2);
	CHECK(S_ISFIFO(st_of(dst, "fifo").st_mode));
	snprintf(p, sizeof(p), "%s/abs-link", dst);
	n = readlink(p, target, sizeof(target) - 1);
	CHECK(n == 11 && memcmp(target, "/etc/passwd", 11) == 0);
	CHECK(st_of(dst, "abs-link").st_mtim.tv_sec == st_of(src, "abs-link").st_mtim.tv_sec);
	CHECK(st_of(dst, "dir").st_mtim.tv_sec == st_of(src, "dir").st_mtim.tv_sec);
	snprintf(p, sizeof(p), "%s/file", src);
	if (getxattr(p, "user.ccpull-test", target, sizeof(target)) == 1) {
		snprintf(q, sizeof(q), "%s/file", dst);
		CHECK(getxattr(q, "user.ccpull-test", target, sizeof(target)) == 1 && target[0] == 'v');
	}

	/* config.json: args from Entrypoint+Cmd, default PATH, a named user resolved in the rootfs */
	{
		json_t *cfg = json_pack("{s:{s:[s], s:[s], s:s, s:s, s:[s]}}", "config", "Entrypoint", "/bin/app",
					"Cmd", "--flag", "WorkingDir", "/srv", "User", "app", "Env", "A=1");
		ccp_buf out = CCP_BUF_INIT(1 << 20);
		json_t *spec;
		snprintf(p, sizeof(p), "%s/etc", dst);
		mkdir(p, 0755);
		snprintf(p, sizeof(p), "%s/etc/passwd", dst);
		{
			int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			const char *pw = "root:x:0:0:root:/root:/bin/sh\napp:x:1001:1002::/srv:/bin/sh\n";
			CHECK(fd >= 0 && write(fd, pw, strlen(pw)) == (ssize_t)strlen(pw));
			close(fd);
		}
		CHECK(ccp_bundle_write_config(sfd, dfd, cfg, NULL, &e) == 0);
		snprintf(p, sizeof(p), "%s/config.json", src);
		CHECK(ccp_read_file(&out, p, 1 << 20, &e) == 0);
		spec = json_loadb(out.data, out.len, 0, NULL);
		CHECK(spec != NULL);
		CHECK_STR(json_string_value(json_object_get(json_object_get(spec, "root"), "path")), "rootfs");
		CHECK_STR(json_string_value(json_array_get(json_object_get(json_object_get(spec, "process"), "args"), 1)),
			  "--flag");
		CHECK(json_integer_value(json_object_get(json_object_get(json_object_get(spec, "process"), "user"),
							 "uid")) == 1001);
		CHECK(json_integer_value(json_object_get(json_object_get(json_object_get(spec, "process"), "user"),
							 "gid")) == 1002);
		CHECK(strncmp(json_string_value(json_array_get(json_object_get(json_object_get(spec, "process"), "env"),
							       0)), "PATH=", 5) == 0);
		json_decref(spec);
		json_decref(cfg);
		ccp_buf_free(&out);
		/* an unknown user is a clear error */
		cfg = json_pack("{s:{s:s}}", "config", "User", "nobody-here");
		CHECK(ccp_bundle_write_config(sfd, dfd, cfg, NULL, &e) == CCP_EINVALID);
		CHECK(strstr(e.msg, "nobody-here") != NULL);
		json_decref(cfg);
	}
	close(sfd);
	close(dfd);
	{
		/* One pull per bundle: another open of the same directory cannot take it, in this process too. */
		int l1 = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC), l2;
		char pid[32];
		snprintf(p, sizeof(p), "%s/", dst);
		l2 = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		CHECK(l1 >= 0 && l2 >= 0);
		CHECK(ccp_bundle_lock(l1, dst, &e) == 0);
		CHECK(ccp_bundle_lock(l2, p, &e) == CCP_EINVALID);
		snprintf(pid, sizeof(pid), "(pid %ld)", (long)getpid());
		CHECK(strstr(e.msg, "is busy") != NULL && strstr(e.msg, "this process") != NULL);
		CHECK(strstr(e.msg, pid) != NULL);
		close(l1);
		CHECK(ccp_bundle_lock(l2, p, &e) == 0);
		close(l2);
	}
	ccp_rm_rf_at(AT_FDCWD, src);
	ccp_rm_rf_at(AT_FDCWD, dst);
	copy_large_files();
	return test_summary();
}
