/*
 * Unpacks hostile layers over a hostile lower layer. The first byte selects the path: 0 the unpacker
 * on the raw bytes, 1/2/3 the whole layer pipeline with none/gzip/zstd. Aborts if anything outside
 * the root changes or a whiteout marker survives.
 */
#include <stdint.h>

#include "fuzz_tree.h"
#include "layer/layer.h"
#include "fuzz_mem.h"
#include "unpack/unpack.h"

#define FUZZ_MAX_INPUT (64 * 1024)



static int mem_fetch(void *payload, ccp_sink_fn sink, void *sp, ccp_err *e)
{
	fuzz_mem *m = payload;
	(void)e;
	return m->n ? sink(sp, m->p, m->n) : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ccp_unpack_opts o = { 0 };
	ccp_err err = CCP_ERR_INIT;
	fuzz_tree t;
	fuzz_mem m;
	int fd;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	fuzz_tree_make(&t);
	if ((fd = open(t.root, O_RDONLY | O_DIRECTORY)) < 0)
		abort();
	o.same_owner = geteuid() == 0;
	o.force_fallback_walk = data[0] & 0x80;
	o.max_entries = 2000;
	m = (fuzz_mem){ data + 1, size - 1, 0 };
	if ((data[0] & 3) == 0) {
		ccp_unpack_stream(fd, fuzz_mem_read, &m, &o, &err);
	} else {
		ccp_layer_job job;
		memset(&job, 0, sizeof(job));
		job.name = "fuzz layer";
		job.fetch = mem_fetch;
		job.fetch_payload = &m;
		ccp_digest_compute(&job.blob_digest, CCP_SHA256, m.p, m.n, NULL);
		job.blob_size = m.n;
		job.compression = (data[0] & 3) == 1 ? CCP_COMP_NONE : (data[0] & 3) == 2 ? CCP_COMP_GZIP : CCP_COMP_ZSTD;
		job.diff_id = job.blob_digest; /* a mismatch is reported after the unpack ran */
		job.root_fd = fd;
		job.unpack = o;
		job.max_uncompressed = 8u << 20;
		ccp_layer_apply(&job, &err);
	}
	close(fd);
	fuzz_tree_check(&t);
	fuzz_tree_remove(&t);
	return 0;
}
