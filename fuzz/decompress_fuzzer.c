/*
 * The layer pipeline's decompression (gzip multi-member, zstd multi-frame, sniffing) on hostile
 * blobs, with the output capped. First byte: 0 gzip, 1 zstd, 2 sniff. Whatever decompresses is
 * unpacked into a temp root, which is checked and removed.
 */
#include <stdint.h>

#include "fuzz_tree.h"
#include "layer/layer.h"

#define FUZZ_MAX_INPUT (256 * 1024)

typedef struct mem {
	const uint8_t *p;
	size_t n;
} mem;

static int mem_fetch(void *payload, ccp_sink_fn sink, void *sp, ccp_err *e)
{
	mem *m = payload;
	size_t off = 0;
	int rc;

	(void)e;
	while (off < m->n) {
		size_t n = m->n - off < 1000 ? m->n - off : 1000;
		if ((rc = sink(sp, m->p + off, n)) < 0)
			return rc;
		off += n;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ccp_err err = CCP_ERR_INIT;
	ccp_layer_job job;
	fuzz_tree t;
	mem m;
	int fd, rc;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	fuzz_tree_make(&t);
	if ((fd = open(t.root, O_RDONLY | O_DIRECTORY)) < 0)
		abort();
	m = (mem){ data + 1, size - 1 };
	memset(&job, 0, sizeof(job));
	job.name = "fuzz layer";
	job.fetch = mem_fetch;
	job.fetch_payload = &m;
	ccp_digest_compute(&job.blob_digest, CCP_SHA256, m.p, m.n, NULL);
	job.blob_size = m.n;
	job.compression = data[0] % 3 == 0 ? CCP_COMP_GZIP : data[0] % 3 == 1 ? CCP_COMP_ZSTD : CCP_COMP_SNIFF;
	job.diff_id = job.blob_digest;
	job.root_fd = fd;
	job.unpack.max_entries = 2000;
	job.max_uncompressed = 4u << 20; /* the output cap */
	rc = ccp_layer_apply(&job, &err);
	/* The blob digest is right by construction, so only content errors may come back. */
	if (rc != 0 && rc != CCP_ELAYER && rc != CCP_EINTEGRITY && rc != CCP_ESTORAGE)
		abort();
	close(fd);
	fuzz_tree_check(&t);
	fuzz_tree_remove(&t);
	return 0;
}
