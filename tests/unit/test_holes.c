/* Regular files' zeros written as holes: ccp_hole_write/ccp_hole_finish directly, and through ccp_unpack_stream. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "tar_build.h"
#include "unpack/unpack.h"
#include "unpack/unpack_int.h"

#define MIB (1u << 20)

static char g_dir[64];

/* Writes data in pieces of `chunk` bytes through the hole writer and reads the file back. */
static void check_file(const char *what, const unsigned char *data, size_t len, size_t chunk,
		       uint64_t max_alloc, uint64_t min_alloc)
{
	char path[128];
	hole_writer w = { 0, 0 };
	unsigned char *back = malloc(len + 1);
	struct stat st;
	size_t off = 0;
	ssize_t n;
	int fd, ok = 1;

	snprintf(path, sizeof(path), "%s/f", g_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0 && back);
	if (fd < 0 || !back) {
		free(back);
		return;
	}
	while (off < len && ok) {
		size_t k = len - off < chunk ? len - off : chunk;
		ok = ccp_hole_write(&w, fd, data + off, k) == 0;
		off += k;
	}
	CHECK(ok);
	CHECK(ccp_hole_finish(&w, fd) == 0);
	CHECK(fsync(fd) == 0);
	CHECK(fstat(fd, &st) == 0);
	close(fd);
	if ((uint64_t)st.st_size != len || (uint64_t)st.st_blocks * 512 > max_alloc ||
	    (uint64_t)st.st_blocks * 512 < min_alloc)
		fprintf(stderr, "  %s, chunk %zu: size %lld (want %zu), %lld bytes allocated (want %llu..%llu)\n", what,
			chunk, (long long)st.st_size, len, (long long)st.st_blocks * 512, (unsigned long long)min_alloc,
			(unsigned long long)max_alloc);
	CHECK((uint64_t)st.st_size == len);
	CHECK((uint64_t)st.st_blocks * 512 <= max_alloc);
	CHECK((uint64_t)st.st_blocks * 512 >= min_alloc);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, back, len + 1) : -1;
	if (fd >= 0)
		close(fd);
	CHECK(n == (ssize_t)len && (len == 0 || memcmp(back, data, len) == 0));
	unlink(path);
	free(back);
}

static void each_chunk(const char *what, const unsigned char *data, size_t len, uint64_t max_alloc,
		       uint64_t min_alloc)
{
	/* Pieces as libarchive hands them (tar records), odd ones, and the whole at once. */
	static const size_t chunks[] = { 10240, 65536, 4096 * 3 + 1, 1 << 20, 64 << 20 };

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		check_file(what, data, len, chunks[i], max_alloc, min_alloc);
	/* Pieces smaller than a block never make holes, but the content and size stay right. */
	check_file(what, data, len, 1000, UINT64_MAX, 0);
}

static void direct(void)
{
	size_t len = 8 * MIB + 100;
	unsigned char *d = malloc(len);

	CHECK(d != NULL);
	if (!d)
		return;
	/* At most one partly-zero block each side of a hole, plus what the filesystem rounds up. */
	memset(d, 0, len);
	memset(d + len - 100, 'z', 100);
	each_chunk("zeros at the start", d, len, 256 << 10, 0);

	memset(d, 0, len);
	memset(d, 'a', 100);
	memset(d + len - 100, 'b', 100);
	each_chunk("zeros in the middle", d, len, 256 << 10, 0);

	memset(d, 0, len);
	memset(d, 'a', 100);
	each_chunk("zeros at the end", d, len, 256 << 10, 0);
	each_chunk("zeros at the end, block-aligned", d, 8 * MIB, 256 << 10, 0);

	memset(d, 0, len);
	each_chunk("all zeros", d, 8 * MIB, 256 << 10, 0);
	each_chunk("all zeros, a partial block at the end", d, len, 256 << 10, 0);

	for (size_t i = 0; i < len; i++)
		d[i] = (unsigned char)(i * 131 % 251 + 1);
	each_chunk("no zeros", d, len, UINT64_MAX, 8 * MIB);
	/* Zero runs shorter than a block, or not aligned to one, are data. */
	for (size_t i = 0; i + 100 + 4096 <= len; i += 8192)
		memset(d + i + 100, 0, 4096);
	each_chunk("short zero runs", d, len, UINT64_MAX, 8 * MIB);

	check_file("empty", d, 0, 4096, 0, 0);
	free(d);
}

static ssize_t whole_read(void *p, const void **buf, ccp_err *e)
{
	tarb *t = p;
	size_t n = t->used - t->cap; /* cap reused as the read offset */

	(void)e;
	if (n > 10240)
		n = 10240;
	*buf = t->buf + t->cap;
	t->cap += n;
	return (ssize_t)n;
}

/* A layer's zero-heavy file is unpacked with holes: its zeros take no disk, its content is intact. */
static void through_unpack(void)
{
	char root[128], path[192];
	size_t len = 16 * MIB;
	unsigned char *d = calloc(1, len), *back = malloc(len);
	ccp_unpack_opts o = { 0 };
	ccp_err err = CCP_ERR_INIT;
	struct archive_entry *ent;
	struct stat st;
	tarb t;
	int fd, rc;

	CHECK(d && back);
	if (!d || !back) {
		free(d);
		free(back);
		return;
	}
	memcpy(d + 5 * MIB + 3, "middle", 6);
	memcpy(d + len - 3, "end", 3);
	tb_begin(&t);
	ent = tb_entry("sparse.img", AE_IFREG, 0644);
	archive_entry_set_size(ent, (la_int64_t)len);
	tb_put(&t, ent, d, len);
	tb_end(&t);
	snprintf(root, sizeof(root), "%s/root", g_dir);
	CHECK(mkdir(root, 0755) == 0);
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	t.cap = 0;
	rc = ccp_unpack_stream(fd, whole_read, &t, &o, &err);
	if (rc)
		fprintf(stderr, "  unpack: %s\n", err.msg);
	CHECK(rc == 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/sparse.img", root);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && fsync(fd) == 0 && fstat(fd, &st) == 0);
	CHECK(st.st_size == (off_t)len);
	CHECK((uint64_t)st.st_blocks * 512 <= (256u << 10));
	CHECK(fd >= 0 && read(fd, back, len) == (ssize_t)len && memcmp(back, d, len) == 0);
	if (fd >= 0)
		close(fd);
	unlink(path);
	rmdir(root);
	free(t.buf);
	free(d);
	free(back);
}

int main(void)
{
	snprintf(g_dir, sizeof(g_dir), "/tmp/ccpull-holes-XXXXXX");
	if (!mkdtemp(g_dir)) {
		perror("mkdtemp");
		return 1;
	}
	direct();
	through_unpack();
	rmdir(g_dir);
	return test_summary();
}
