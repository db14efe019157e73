/*
 * The unpacker's memory is flat in the number of entries: a generated layer of tens of thousands of
 * empty files (directories of 1000) is unpacked twice, and the heap in use (sampled at every read of
 * the stream) may grow by at most ENTRY_BYTES_MAX bytes per extra entry between the small and the
 * large layer. What it keeps per path (the path set) is a few bytes; a string, an inode record or a
 * struct per entry would be a hundred or more.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tar_build.h"
#include "test.h"
#include "unpack/unpack.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifdef SANITIZED
/* the sanitizer runtime's own count (sanitizer/allocator_interface.h, not always installed) */
size_t __sanitizer_get_current_allocated_bytes(void);
#else
#include <malloc.h>
#endif

#define ENTRY_BYTES_MAX 40
#define SMALL 4000
#define LARGE 20000

/* Bytes of heap in use now. */
static size_t heap_in_use(void)
{
#ifdef SANITIZED
	return __sanitizer_get_current_allocated_bytes();
#elif defined(__GLIBC__)
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
#else
	return 0;
#endif
}

/* A tar stream made as it is read: m/, then m/dNNN/ and its files fNNNN (empty), n files in all. */
typedef struct gen {
	unsigned char block[512];
	unsigned n, next;  /* files in all, the next file */
	int dir_done;      /* the directory of file next was written */
	int top_done;
	size_t peak;       /* most heap in use seen at a read */
} gen;

static ssize_t gen_read(void *p, const void **buf, ccp_err *e)
{
	gen *g = p;
	char name[64];
	size_t now = heap_in_use();

	(void)e;
	if (now > g->peak)
		g->peak = now;
	if (!g->top_done) {
		g->top_done = 1;
		tb_raw_header(g->block, "m/", '5', 0, NULL);
	} else if (g->next >= g->n) {
		return 0; /* the stream may end at an entry boundary */
	} else if (g->next % 1000 == 0 && !g->dir_done) {
		g->dir_done = 1;
		snprintf(name, sizeof(name), "m/d%03u/", g->next / 1000);
		tb_raw_header(g->block, name, '5', 0, NULL);
	} else {
		snprintf(name, sizeof(name), "m/d%03u/f%04u", g->next / 1000, g->next % 1000);
		tb_raw_header(g->block, name, '0', 0, NULL);
		g->next++;
		g->dir_done = 0;
	}
	*buf = g->block;
	return sizeof(g->block);
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

/* Unpacks n files into a fresh directory under base; returns the peak heap growth, or SIZE_MAX. */
static size_t unpack_files(const char *base, unsigned n)
{
	char root[512];
	gen *g = calloc(1, sizeof(*g));
	ccp_unpack_opts o = { 0 };
	ccp_err e;
	size_t before;
	int fd, rc;

	if (!g)
		return SIZE_MAX;
	snprintf(root, sizeof(root), "%s/r%u", base, n);
	if (mkdir(root, 0755) != 0 || (fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		free(g);
		return SIZE_MAX;
	}
	g->n = n;
	ccp_err_clear(&e);
	before = heap_in_use();
	rc = ccp_unpack_stream(fd, gen_read, g, &o, &e);
	close(fd);
	if (rc)
		fprintf(stderr, "  (unpack of %u files: %d %s)\n", n, rc, e.msg);
	before = rc || g->peak < before ? SIZE_MAX : g->peak - before;
	free(g);
	nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return before;
}

int main(void)
{
	/* a tmpfs when there is one: the test is about memory, not about the disk */
	char base[64];
	struct stat st;
	size_t small, large;

	snprintf(base, sizeof(base), "%s/ccpull-unpack-memory.XXXXXX",
		 stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(base)) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	small = unpack_files(base, SMALL);
	large = unpack_files(base, LARGE);
	rmdir(base);
	CHECK(small != SIZE_MAX && large != SIZE_MAX);
	if (small != SIZE_MAX && large != SIZE_MAX) {
		double per = large > small ? (double)(large - small) / (LARGE - SMALL) : 0;
		fprintf(stderr, "peak heap growth: %zu bytes for %u files, %zu for %u: %.1f bytes per entry\n", small,
			SMALL, large, LARGE, per);
		CHECK(heap_in_use() != 0); /* the allocator can be measured here */
		CHECK(per <= ENTRY_BYTES_MAX);
	}
	return test_summary();
}
