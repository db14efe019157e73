/*
 * Many entries of varied sizes and long names through the whole layer pipeline, fed in irregular
 * chunks, so that tar headers fall across the decompressor's buffer refills at every offset; every
 * file must come out with exactly its content.
 */
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include "layer/layer.h"
#include "tar_build.h"
#include "test.h"
#include "util/fs.h"

#define N_FILES 4000
/* longer than ustar's 100-byte name field: every entry gets a pax header too */
#define LONG "a-file-name-long-enough-to-need-a-pax-extended-header-in-the-tar-stream-written-by-libarchive-"

typedef struct src {
	const unsigned char *p;
	size_t n;
} src;

static int fetch(void *payload, ccp_sink_fn sink, void *sp, ccp_err *e)
{
	src *s = payload;
	size_t off = 0, chunk = 1;
	int rc;

	(void)e;
	while (off < s->n) {
		size_t k = s->n - off < chunk ? s->n - off : chunk;
		if ((rc = sink(sp, s->p + off, k)) < 0)
			return rc;
		off += k;
		chunk = (chunk * 7 + 13) % 70001 + 1;
	}
	return 0;
}

static size_t file_size(size_t i)
{
	return (i * 2654435761u) % 5000; /* 0..4999 bytes: every offset modulo 512 occurs */
}

int main(void)
{
	tarb t;
	char root[] = "/tmp/ccp-many-XXXXXX", name[256], path[320], *content = malloc(5000), *got = malloc(5000);
	unsigned char *gz;
	uLongf gzlen;
	z_stream zs;
	ccp_layer_job job;
	ccp_err e = CCP_ERR_INIT;
	src s;
	int ok = 1;

	for (size_t i = 0; i < 5000; i++)
		content[i] = (char)('A' + i % 57);
	tb_begin(&t);
	tb_dir(&t, "d", 0755);
	for (size_t i = 0; i < N_FILES; i++) {
		char data[5001];
		size_t n = file_size(i);
		memcpy(data, content + i % 7, n > 4993 ? 4993 : n);
		data[n > 4993 ? 4993 : n] = '\0';
		snprintf(name, sizeof(name), "d/%s%05zu", LONG, i);
		tb_file(&t, name, 0644, data);
	}
	tb_end(&t);

	/* gzip the tar */
	gzlen = compressBound(t.used) + 64;
	gz = malloc(gzlen);
	memset(&zs, 0, sizeof(zs));
	deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
	zs.next_in = t.buf;
	zs.avail_in = (uInt)t.used;
	zs.next_out = gz;
	zs.avail_out = (uInt)gzlen;
	CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END);
	gzlen = zs.total_out;
	deflateEnd(&zs);

	if (!mkdtemp(root))
		return 1;
	memset(&job, 0, sizeof(job));
	s.p = gz;
	s.n = gzlen;
	job.name = "layer 1/1 many";
	job.fetch = fetch;
	job.fetch_payload = &s;
	ccp_digest_compute(&job.blob_digest, CCP_SHA256, gz, gzlen, NULL);
	job.blob_size = gzlen;
	job.compression = CCP_COMP_GZIP;
	ccp_digest_compute(&job.diff_id, CCP_SHA256, t.buf, t.used, NULL);
	job.root_fd = open(root, O_RDONLY | O_DIRECTORY);
	job.unpack.same_owner = geteuid() == 0;
	CHECK(ccp_layer_apply(&job, &e) == 0);
	if (e.msg[0])
		fprintf(stderr, "%s\n", e.msg);

	for (size_t i = 0; i < N_FILES && ok; i++) {
		size_t n = file_size(i), want = n > 4993 ? 4993 : n;
		ssize_t r;
		int fd;
		snprintf(path, sizeof(path), "%s/d/%s%05zu", root, LONG, i);
		fd = open(path, O_RDONLY);
		r = fd >= 0 ? read(fd, got, 5000) : -1;
		if (fd >= 0)
			close(fd);
		if (r != (ssize_t)want || memcmp(got, content + i % 7, want) != 0) {
			fprintf(stderr, "file %zu: got %zd bytes, want %zu\n", i, r, want);
			ok = 0;
		}
	}
	CHECK(ok);
	close(job.root_fd);
	ccp_rm_rf_at(AT_FDCWD, root);
	free(t.buf);
	free(gz);
	free(content);
	free(got);
	return test_summary();
}
