/*
 * A large blob as several Range requests in parallel (ranges.c): bounded (parts buffers of 4 MiB),
 * delivered to the sink in order as one stream, each range resumed on its own, one stream when the
 * server ignores Range.
 */
#ifndef CCP_REGISTRY_RANGES_H
#define CCP_REGISTRY_RANGES_H

#include <stdint.h>
#include "registry/registry.h"

#define CCP_RANGES_PARTS_MAX 16
/* One stream unless asked: the parts' buffers would take a pull past its 48 MiB of memory, and
 * against a registry that does not cap its connections they gain nothing. */
#define CCP_RANGES_PARTS_DEFAULT 1
#define CCP_RANGES_MIN_SIZE_DEFAULT (128ull << 20)

typedef struct ccp_ranges_opts {
	unsigned parts;       /* requests at once; < 2: one stream */
	uint64_t min_size;    /* blobs smaller than this come as one stream */
} ccp_ranges_opts;

/*
 * Streams the size bytes of blob digest to sink like ccp_registry_stream_blob (same errors, the sink
 * sees every byte once, in order), in opts->parts ranges at once when the blob is at least
 * opts->min_size bytes (and larger than one range).
 */
int ccp_ranges_stream_blob(ccp_registry *r, const char *digest, uint64_t size, const ccp_ranges_opts *opts,
			   ccp_sink_fn sink, void *payload, ccp_err *e);

#endif
