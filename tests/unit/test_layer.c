/* Layer pipeline tests: compression formats, sniffing, integrity ranking, caps, fetch failures. */
#include <fcntl.h>
#include <ftw.h>
#include <stdatomic.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "layer/layer.h"
#include "tar_build.h"
#include "test.h"

static char g_root[256];
static ccp_err g_err;
static uint64_t g_uncompressed;

typedef struct memfetch {
	const unsigned char *data;
	size_t len;
	size_t fail_after; /* >0: fail with CCP_EREGISTRY after this many bytes */
} memfetch;

static int mem_fetch(void *payload, ccp_sink_fn sink, void *sp, ccp_err *e)
{
	memfetch *m = payload;
	size_t off = 0, chunk = 777;
	int rc;

	while (off < m->len) {
		size_t n = m->len - off < chunk ? m->len - off : chunk;
		if (m->fail_after && off >= m->fail_after)
			return ccp_err_set(e, CCP_EREGISTRY, "connection reset by the test");
		if ((rc = sink(sp, m->data + off, n)) < 0)
			return rc;
		off += n;
		chunk = chunk * 3 % 65521 + 1;
	}
	return 0;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st; (void)flag; (void)f;
	return remove(p);
}

/* Buffers: tar, compressed forms. */
typedef struct blob {
	unsigned char *p;
	size_t n;
} blob;

static blob make_tar(size_t bigsize)
{
	tarb t;
	blob b;
	char *big = malloc(bigsize + 1);
	size_t i;

	for (i = 0; i < bigsize; i++)
		big[i] = (char)('a' + (i * 7919 % 26));
	big[bigsize] = '\0';
	tb_begin(&t);
	tb_dir(&t, "d", 0755);
	tb_file(&t, "d/small", 0644, "small");
	tb_file(&t, "d/big", 0644, big);
	tb_end(&t);
	free(big);
	b.p = t.buf;
	b.n = t.used;
	return b;
}

static blob gzip_parts(const blob *in, int parts, size_t zeros)
{
	blob out;
	size_t cap = in->n + 1024 * (size_t)parts + zeros + 4096, off = 0, step = in->n / (size_t)parts + 1;
	int i;

	out.p = calloc(1, cap);
	for (i = 0; i < parts; i++) {
		z_stream z;
		size_t s = (size_t)i * step, n = s >= in->n ? 0 : (in->n - s < step ? in->n - s : step);
		memset(&z, 0, sizeof(z));
		deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
		z.next_in = in->p + s;
		z.avail_in = (uInt)n;
		z.next_out = out.p + off;
		z.avail_out = (uInt)(cap - off);
		deflate(&z, Z_FINISH);
		off = cap - z.avail_out;
		deflateEnd(&z);
	}
	out.n = off + zeros; /* calloc: the trailing bytes are zeros */
	return out;
}

static blob zstd_frames(const blob *in, int frames)
{
	blob out;
	size_t cap = ZSTD_compressBound(in->n) + 1024 * (size_t)frames, off = 0, step = in->n / (size_t)frames + 1;
	int i;

	out.p = malloc(cap);
	for (i = 0; i < frames; i++) {
		size_t s = (size_t)i * step, n = s >= in->n ? 0 : (in->n - s < step ? in->n - s : step);
		off += ZSTD_compress(out.p + off, cap - off, in->p + s, n, 3);
	}
	out.n = off;
	return out;
}

/* The image's shared decompression budget, when a test sets one. */
static _Atomic uint64_t *g_image_left;
static uint64_t g_image_max;

static int run(const blob *b, const blob *tar, ccp_compression comp, uint64_t size_delta, int bad_digest,
	       int bad_diff, uint64_t max_uncompressed, size_t fail_after)
{
	memfetch m = { b->p, b->n, fail_after };
	ccp_layer_job job;
	int rc;

	memset(&job, 0, sizeof(job));
	snprintf(g_root, sizeof(g_root), "/tmp/ccp_layer_XXXXXX");
	if (!mkdtemp(g_root))
		abort();
	job.name = "layer 1/1 test";
	job.fetch = mem_fetch;
	job.fetch_payload = &m;
	ccp_digest_compute(&job.blob_digest, CCP_SHA256, b->p, b->n, NULL);
	if (bad_digest)
		job.blob_digest.hex[0] = job.blob_digest.hex[0] == '0' ? '1' : '0';
	job.blob_size = b->n + size_delta;
	job.compression = comp;
	ccp_digest_compute(&job.diff_id, CCP_SHA256, tar->p, tar->n, NULL);
	if (bad_diff)
		job.diff_id.hex[5] = job.diff_id.hex[5] == '0' ? '1' : '0';
	job.root_fd = open(g_root, O_RDONLY | O_DIRECTORY);
	job.unpack.same_owner = geteuid() == 0;
	job.max_uncompressed = max_uncompressed;
	job.image_left = g_image_left;
	job.image_max = g_image_max;
	g_uncompressed = 0;
	job.uncompressed = &g_uncompressed;
	ccp_err_clear(&g_err);
	rc = ccp_layer_apply(&job, &g_err);
	if (rc)
		fprintf(stderr, "  (layer: %d %s)\n", rc, g_err.msg);
	close(job.root_fd);
	return rc;
}

static int unpacked_ok(size_t bigsize)
{
	char p[400];
	struct stat st;
	int ok;

	snprintf(p, sizeof(p), "%s/d/big", g_root);
	ok = stat(p, &st) == 0 && (size_t)st.st_size == bigsize;
	snprintf(p, sizeof(p), "%s/d/small", g_root);
	ok = ok && stat(p, &st) == 0 && st.st_size == 5;
	return ok;
}

static void done(void)
{
	nftw(g_root, rm_cb, 32, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const size_t big = 9u << 20; /* larger than the ring, so it wraps */
	blob tar = make_tar(big), gz = gzip_parts(&tar, 3, 0), gz0 = gzip_parts(&tar, 1, 700);
	blob zs = zstd_frames(&tar, 3), garbage, gzbad;

	CHECK(run(&tar, &tar, CCP_COMP_NONE, 0, 0, 0, 0, 0) == 0 && unpacked_ok(big));
	CHECK(g_uncompressed == tar.n);
	done();
	CHECK(run(&gz, &tar, CCP_COMP_GZIP, 0, 0, 0, 0, 0) == 0 && unpacked_ok(big));
	done();
	CHECK(run(&gz0, &tar, CCP_COMP_GZIP, 0, 0, 0, 0, 0) == 0 && unpacked_ok(big));
	done();
	CHECK(run(&zs, &tar, CCP_COMP_ZSTD, 0, 0, 0, 0, 0) == 0 && unpacked_ok(big));
	done();
	CHECK(run(&gz, &tar, CCP_COMP_SNIFF, 0, 0, 0, 0, 0) == 0 && unpacked_ok(big));
	done();
	CHECK(run(&zs, &tar, CCP_COMP_SNIFF, 0, 0, 0, 0, 0) == 0 && unpacked_ok(big));
	done();
	CHECK(run(&tar, &tar, CCP_COMP_SNIFF, 0, 0, 0, 0, 0) == 0 && unpacked_ok(big));
	done();

	/* Wrong compression: gzip data declared zstd is malformed content. */
	CHECK(run(&gz, &tar, CCP_COMP_ZSTD, 0, 0, 0, 0, 0) == CCP_ELAYER);
	done();
	/* ... but if the blob digest is wrong too, that is the root cause. */
	CHECK(run(&gz, &tar, CCP_COMP_ZSTD, 0, 1, 0, 0, 0) == CCP_EINTEGRITY);
	CHECK(strstr(g_err.msg, "blob digest mismatch") != NULL);
	done();
	garbage.n = 100000;
	garbage.p = malloc(garbage.n);
	memset(garbage.p, 0x5a, garbage.n);
	CHECK(run(&garbage, &tar, CCP_COMP_NONE, 0, 1, 0, 0, 0) == CCP_EINTEGRITY);
	done();
	CHECK(run(&garbage, &tar, CCP_COMP_NONE, 0, 0, 0, 0, 0) == CCP_ELAYER);
	done();
	/* Trailing garbage after the gzip stream. */
	gzbad = gzip_parts(&tar, 1, 0);
	gzbad.p[gzbad.n++] = 'X';
	CHECK(run(&gzbad, &tar, CCP_COMP_GZIP, 0, 0, 0, 0, 0) == CCP_ELAYER);
	done();
	/* Truncated gzip. */
	gzbad.n = gz0.n / 2;
	memcpy(gzbad.p, gz0.p, gzbad.n);
	CHECK(run(&gzbad, &tar, CCP_COMP_GZIP, 0, 0, 0, 0, 0) == CCP_ELAYER);
	done();

	CHECK(run(&gz, &tar, CCP_COMP_GZIP, 0, 0, 1, 0, 0) == CCP_EINTEGRITY);
	CHECK(strstr(g_err.msg, "diff_id mismatch") != NULL);
	done();
	/* The descriptor says fewer bytes than arrive: size overrun. */
	CHECK(run(&gz, &tar, CCP_COMP_GZIP, (uint64_t)-100, 0, 0, 0, 0) == CCP_EINTEGRITY);
	done();
	/* ... or more. */
	CHECK(run(&gz, &tar, CCP_COMP_GZIP, 100, 0, 0, 0, 0) == CCP_EINTEGRITY);
	done();
	/* An entry declaring more than the cap fails at its header, before any data is written. */
	CHECK(run(&gz, &tar, CCP_COMP_GZIP, 0, 0, 0, 1u << 20, 0) == CCP_ELAYER);
	CHECK(strstr(g_err.msg, "declares") != NULL);
	CHECK(g_uncompressed <= (1u << 20));
	done();
	/* Each entry fits, the stream does not. */
	CHECK(run(&gz, &tar, CCP_COMP_GZIP, 0, 0, 0, big + 100, 0) == CCP_ELAYER);
	CHECK(strstr(g_err.msg, "decompression bomb") != NULL);
	done();
	/* Layers of one image share its budget: two fit in two and a half layers' worth, a third does not. */
	{
		_Atomic uint64_t left = 2 * (uint64_t)tar.n + tar.n / 2;
		g_image_left = &left;
		g_image_max = 2 * (uint64_t)tar.n + tar.n / 2;
		CHECK(run(&gz, &tar, CCP_COMP_GZIP, 0, 0, 0, 0, 0) == 0);
		done();
		CHECK(run(&gz, &tar, CCP_COMP_GZIP, 0, 0, 0, 0, 0) == 0);
		done();
		CHECK(atomic_load(&left) == tar.n / 2);
		CHECK(run(&gz, &tar, CCP_COMP_GZIP, 0, 0, 0, 0, 0) == CCP_ELAYER);
		CHECK(strstr(g_err.msg, "the image expands past") != NULL);
		done();
		g_image_left = NULL;
	}
	/* Zeros after the end of the archive: a little is padding, a lot is a bomb. */
	{
		const size_t extra = 40u << 20;
		blob padded;
		padded.n = tar.n + extra;
		padded.p = calloc(1, padded.n);
		memcpy(padded.p, tar.p, tar.n);
		CHECK(run(&padded, &padded, CCP_COMP_NONE, 0, 0, 0, 0, 0) == CCP_ELAYER);
		CHECK(strstr(g_err.msg, "after the end of the tar") != NULL);
		done();
		padded.n = tar.n + (1u << 20);
		CHECK(run(&padded, &padded, CCP_COMP_NONE, 0, 0, 0, 0, 0) == 0 && unpacked_ok(big));
		done();
		free(padded.p);
	}
	CHECK(run(&gz, &tar, CCP_COMP_GZIP, 0, 0, 0, 0, 3000) == CCP_EREGISTRY);
	CHECK(strstr(g_err.msg, "connection reset") != NULL);
	done();
	CHECK(run(&tar, &tar, CCP_COMP_NONE, 0, 0, 0, 0, 5000000) == CCP_EREGISTRY);
	done();

	free(tar.p);
	free(gz.p);
	free(gz0.p);
	free(zs.p);
	free(garbage.p);
	free(gzbad.p);
	return test_summary();
}
