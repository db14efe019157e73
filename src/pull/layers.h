/*
 * What the files of a pull share beyond pull_internal.h: the result of ccp_pull, which the layer
 * tasks (layers.c) fill in, and the steps of ccp_pull (pull.c) that layers.c carries out.
 */
#ifndef CCP_PULL_LAYERS_H
#define CCP_PULL_LAYERS_H

#include <stdatomic.h>

#include "layer/layer.h"
#include "pull/pull_internal.h"
#include "registry/ranges.h"

typedef struct layer_result {
	char digest[CCP_DIGEST_STR_MAX];
	char diff_id[CCP_DIGEST_STR_MAX];
	char *media_type;
	uint64_t size;
	int reused;
} layer_result;

struct ccp_pull_result {
	char *image;
	char *rootfs;
	char *config_path;
	char *config_json;
	const char *snapshotter;
	char manifest_digest[CCP_DIGEST_STR_MAX];
	char config_digest[CCP_DIGEST_STR_MAX];
	char platform[200];
	layer_result *layers;
	size_t n_layers;
};

/* Decompressed bytes one image may expand to, all its layers together (a layer alone: 64 GiB). */
#define IMAGE_UNCOMPRESSED_MAX (128ULL << 30)

/* Where a layer job's blob comes from, and what the pull learns of it. */
typedef struct blob_source {
	ccp_registry *reg;
	char digest[CCP_DIGEST_STR_MAX];
	uint64_t size;
	ccp_layer_crypt crypt;   /* an encrypted layer's key; wiped after use */
	uint64_t uncompressed;   /* bytes the layer expanded to */
	ccp_ranges_opts ranges;  /* a large blob as parallel Range requests */
} blob_source;

/* What a layer's progress events carry. */
typedef struct progress_ctx {
	const ccp_pull_options *o;
	size_t index, count;
	const char *digest;
} progress_ctx;

/*
 * Layer k's pipeline job (its blob source in src, its name in name; an encrypted layer's key is
 * unwrapped into src->crypt); image_left is the image's decompression budget, shared by its layers.
 */
int ccp_pull_layer_job(ccp_layer_job *job, const resolved_image *rv, size_t k, blob_source *src, progress_ctx *pc,
		       _Atomic uint64_t *image_left, char *name, size_t name_len, ccp_err *e);
/* What this pull holds for layer k (ccp_store_layer_state): its descriptor, diff_id and key (crypt). */
int ccp_pull_layer_source(ccp_layer_source *ls, const resolved_image *rv, size_t k, const ccp_layer_crypt *crypt,
			  ccp_err *e);
/* Layers applied at once: o's parallel_layers, else one per CPU, at most 4. */
size_t ccp_pull_parallel_layers(const ccp_pull_options *o);
/* Layer indexes, the first n_sorted by blob size, largest first (it takes longest to apply); n <= 256. */
void ccp_pull_larger_first(size_t *order, const ccp_descriptor *layers, size_t n, size_t n_sorted);
/*
 * Lowers the calling thread's priority: the largest layer is a pull's critical path, the others
 * yield to it (their pipeline threads inherit the nice value) and fill the time it leaves.
 */
void ccp_pull_yield_to_largest(void);

/* Reports one progress event to o's callback, if any. */
void ccp_pull_emit(const ccp_pull_options *o, ccp_progress_kind kind, size_t index, size_t count, const char *digest,
		   uint64_t done, uint64_t total, int reused);
/* chain[0] = diff_id[0]; chain[k] = sha256("chain[k-1] diff_id[k]") (OCI image spec, config.md). */
int ccp_pull_chain_ids(ccp_digest *chain, const ccp_image_config *cfg, ccp_err *e);
/* Without mount privileges: apply every layer in order straight into the new rootfs. */
int ccp_pull_apply_all_into(int rootfs_fd, const resolved_image *rv, const ccp_pull_options *o, layer_result *lr,
			    ccp_err *e);
/* Copies the merged view of the store layers for chain[0..n-1] into rootfs_fd. */
int ccp_pull_assemble_copy(ccp_store *store, const ccp_digest *chain, size_t n, int rootfs_fd,
			   const ccp_cancel *cancel, ccp_err *e);
/*
 * Makes the rootfs without adding to the store (CCP_STORE_KEEP_NONE, unkept.c): the bottom layers the
 * store holds for this pull are copied from it, the rest applied side by side and moved into it.
 */
int ccp_pull_copy_unkept(ccp_store *store, const resolved_image *rv, const ccp_digest *chain,
			 const ccp_pull_options *o, ccp_pull_result *res, int bundle_fd, int rootfs_fd, ccp_err *e);
/* Makes (or reuses) every layer of the image in the store, then records the image. */
int ccp_pull_make_layers(ccp_store *store, const resolved_image *rv, const ccp_digest *chain,
			 const ccp_pull_options *o, ccp_pull_result *res, ccp_err *e);

#endif
