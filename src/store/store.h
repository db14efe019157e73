/*
 * The layer store: unpacked layers keyed by chain ID, each committed by one rename after every check
 * passed. Layout (version 1):
 *   STORE/layout-version          "1"
 *   STORE/layers/<chain-hex>/     a layer in overlayfs upper format (whiteouts as 0:0 devices)
 *   STORE/layers/<chain-hex>.json {chain_id, diff_id, digest, size, media_type}
 *   STORE/layers/<chain-hex>.lock held while the layer is being made
 *   STORE/images/<manifest-hex>.json
 *   STORE/blobs/<algo>-<hex>      verified image configs
 *   STORE/staging/<id>/           work in progress, {upper,work,merged}; <id>.lock held by its owner
 * A layer is keyed by its chain ID, not its diff_id, because its upper directory depends on the layers
 * below it (copy-ups, whiteouts).
 */
#ifndef CCP_STORE_STORE_H
#define CCP_STORE_STORE_H

#include <limits.h>
#include <stddef.h>
#include "digest/digest.h"
#include "util/buf.h"
#include "util/err.h"

#define CCP_STORE_LAYOUT_VERSION 1

typedef struct ccp_store ccp_store;

/* Opens (creating if needed) the store at dir; removes staging leftovers nobody holds. */
int ccp_store_open(ccp_store **out, const char *dir, ccp_err *e);
void ccp_store_close(ccp_store *s);
const char *ccp_store_dir(const ccp_store *s);

/* Absolute path of the committed layer dir for chain into out. */
int ccp_store_layer_path(const ccp_store *s, const ccp_digest *chain, char *out, size_t n, ccp_err *e);
int ccp_store_has_layer(const ccp_store *s, const ccp_digest *chain);

/* Exclusive lock for making one layer; other pulls of the same layer wait, unrelated pulls don't. */
int ccp_store_lock_layer(ccp_store *s, const ccp_digest *chain, int *lock_fd, ccp_err *e);
void ccp_store_unlock(int lock_fd);

typedef struct ccp_staging {
	char dir[PATH_MAX];     /* STORE/staging/<id> */
	char upper[PATH_MAX];
	char work[PATH_MAX];
	char merged[PATH_MAX];
	int lock_fd;
	int mounted;            /* merged is an overlay mount */
} ccp_staging;

/* Creates a fresh staging directory. */
int ccp_stage_begin(ccp_store *s, ccp_staging *st, ccp_err *e);
/*
 * Mounts merged as an overlay of lowers (top-most first, absolute paths) over upper, or, with no
 * lowers, leaves merged unused (apply straight into upper). Returns the directory fd to apply into.
 */
int ccp_stage_open_root(ccp_staging *st, const char *const *lowers, size_t n_lowers, int *root_fd, ccp_err *e);
/* Unmounts (if mounted), renames upper to the layer dir for chain and writes its metadata. */
int ccp_stage_commit(ccp_store *s, ccp_staging *st, const ccp_digest *chain, const char *meta_json, ccp_err *e);
/* Unmounts and removes everything staged. Safe to call after commit. */
void ccp_stage_abort(ccp_staging *st);

/* Records image metadata (manifest digest -> JSON). */
int ccp_store_put_image(ccp_store *s, const ccp_digest *manifest, const char *json, ccp_err *e);

/*
 * Mounts target as an overlay of lowers (top-most first). Read-only when upper is NULL.
 * Options exclude metacopy/redirect_dir/index so upper dirs stay self-contained.
 */
int ccp_overlay_mount(const char *target, const char *const *lowers, size_t n_lowers, const char *upper,
		      const char *work, ccp_err *e);


/*
 * Small verified blobs (image configs) kept so that a re-pull needs no blob from the registry.
 * ccp_store_get_blob returns CCP_EINVALID (no message) when absent and re-verifies the digest of
 * what it reads, so a corrupted cache entry is never used.
 */
int ccp_store_get_blob(ccp_store *s, const ccp_digest *d, size_t max, ccp_buf *out, ccp_err *e);
int ccp_store_put_blob(ccp_store *s, const ccp_digest *d, const void *data, size_t len, ccp_err *e);

#endif
