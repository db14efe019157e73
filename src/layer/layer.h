/*
 * The per-layer pipeline, one pass and bounded memory:
 *   blob bytes -> size cap + blob digest -> [AES-256-CTR + HMAC] -> gzip | zstd | none -> diff_id digest
 *   -> tar reader -> unpack
 * The blob is produced by a fetch function on its own thread (the download overlaps decompression
 * and unpacking) into a bounded ring. On any failure the rest of the blob is still read (bounded by
 * the descriptor size) so that a blob digest mismatch is reported as the root cause (CCP_EINTEGRITY)
 * rather than the malformed content it produced (CCP_ELAYER). An encrypted layer's HMAC ranks
 * right after the blob digest; its plaintext reaches only the caller's staging root, which the
 * caller discards on failure.
 */
#ifndef CCP_LAYER_LAYER_H
#define CCP_LAYER_LAYER_H

#include <stdint.h>
#include "digest/digest.h"
#include "manifest/manifest.h"
#include "ocicrypt/ocicrypt.h"
#include "registry/registry.h"
#include "unpack/unpack.h"
#include "util/err.h"

/* Produces the blob by calling sink with successive chunks; runs on the layer's producer thread. */
typedef int (*ccp_layer_fetch_fn)(void *payload, ccp_sink_fn sink, void *sink_payload, ccp_err *e);

/* Progress: bytes of the blob received so far. Called from the producer thread. */
typedef void (*ccp_layer_progress_fn)(void *payload, uint64_t done, uint64_t total);

#define CCP_LAYER_DEFAULT_RATIO 100u
#define CCP_LAYER_RATIO_FLOOR (512ULL << 20)

typedef struct ccp_layer_job {
	const char *name;             /* for messages: "layer 2/3 sha256:abcd..." */
	ccp_layer_fetch_fn fetch;
	void *fetch_payload;
	ccp_digest blob_digest;
	uint64_t blob_size;           /* exact size from the descriptor */
	ccp_compression compression;  /* CCP_COMP_SNIFF: decide from the first bytes */
	ccp_digest diff_id;           /* expected digest of the decompressed stream */
	int root_fd;                  /* directory to apply the layer's changeset to */
	ccp_unpack_opts unpack;
	uint64_t max_uncompressed;    /* cap on the layer's decompressed bytes (also caps file data); 0: 64 GiB */
	/* Cap on decompressed bytes per blob byte, applied past CCP_LAYER_RATIO_FLOOR decompressed bytes:
	 * real layers compress 2-10x, a bomb of zeros 1000x. 0: CCP_LAYER_DEFAULT_RATIO. */
	unsigned int max_ratio;
	uint64_t *uncompressed;       /* out, may be NULL: decompressed bytes read, also on failure */
	/* May be NULL: what the whole image may still decompress to, shared by the layers applied at
	 * once; each byte is taken from it as it is decompressed. image_max: its start, for messages. */
	_Atomic uint64_t *image_left;
	uint64_t image_max;
	ccp_layer_progress_fn progress;
	void *progress_payload;
	ccp_layer_crypt *decrypt;     /* ocicrypt-encrypted blob: key, nonce, expected HMAC (wiped by
	                               * ccp_layer_apply); NULL for a plain blob */
} ccp_layer_job;

/* Runs the pipeline. On failure the caller discards whatever was written under root_fd. */
int ccp_layer_apply(const ccp_layer_job *job, ccp_err *e);

#endif
