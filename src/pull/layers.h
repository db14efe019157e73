/*
 * What the files of a pull share beyond pull_internal.h: the result of ccp_pull, which the layer
 * tasks (layers.c) fill in, and the steps of ccp_pull (pull.c) that layers.c carries out.
 */
#ifndef CCP_PULL_LAYERS_H
#define CCP_PULL_LAYERS_H

#include "pull/pull_internal.h"

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

/* Reports one progress event to o's callback, if any. */
void ccp_pull_emit(const ccp_pull_options *o, ccp_progress_kind kind, size_t index, size_t count, const char *digest,
		   uint64_t done, uint64_t total, int reused);
/* chain[0] = diff_id[0]; chain[k] = sha256("chain[k-1] diff_id[k]") (OCI image spec, config.md). */
int ccp_pull_chain_ids(ccp_digest *chain, const ccp_image_config *cfg, ccp_err *e);
/*
 * Applies layers from.. in order straight into the rootfs, which holds the layers below them: every
 * layer without mount privileges (no store), the layers a pull does not keep above the ones copied.
 */
int ccp_pull_apply_all_into(int rootfs_fd, const resolved_image *rv, const ccp_pull_options *o, layer_result *lr,
			    size_t from, ccp_err *e);
/* Copies the merged view of the store layers for chain[0..n-1] into rootfs_fd. */
int ccp_pull_assemble_copy(ccp_store *store, const ccp_digest *chain, size_t n, int rootfs_fd,
			   const ccp_cancel *cancel, ccp_err *e);
/*
 * Makes the rootfs without adding to the store (CCP_STORE_KEEP_NONE): the bottom layers the store
 * holds for this pull are copied from it, the rest applied straight into the rootfs.
 */
int ccp_pull_copy_unkept(ccp_store *store, const resolved_image *rv, const ccp_digest *chain,
			 const ccp_pull_options *o, ccp_pull_result *res, int rootfs_fd, ccp_err *e);
/* Makes (or reuses) every layer of the image in the store, then records the image. */
int ccp_pull_make_layers(ccp_store *store, const resolved_image *rv, const ccp_digest *chain,
			 const ccp_pull_options *o, ccp_pull_result *res, ccp_err *e);

#endif
