/*
 * The layer store: unpacked layers keyed by chain ID, each committed by one rename after every check
 * passed. Layout (version 1):
 *   STORE/layout-version          "1"
 *   STORE/layers/<chain-hex>/     a layer in overlayfs upper format (whiteouts as 0:0 devices)
 *   STORE/layers/<chain-hex>.json {chain_id, diff_id, digest, size, media_type, origin, encrypted_blobs}
 *   STORE/layers/<chain-hex>.lock held while the layer is being made
 *   STORE/images/<manifest-hex>.json {image, names, manifest_digest, config_digest, last_used, layers}
 *                                 names: every reference the image was pulled as (changed under a lock of images/)
 *   STORE/blobs/<algo>-<hex>      verified image configs
 *   STORE/staging/<id>/           work in progress, {upper,work,merged}; <id>.lock held by its owner
 *   STORE/mounts/<id>.json        an overlay bundle using layers {bundle, rootfs, image, layers}
 *   STORE/gc.lock                 shared by every user of the store, exclusive for gc
 * A layer is keyed by its chain ID, not its diff_id, because its upper directory depends on the layers
 * below it (copy-ups, whiteouts). An image record lists its layers' chain IDs; gc keeps the layers an
 * image record or a live mount record names.
 *
 * A layer's origin says who may reuse it (ccp_store_layer_state). "plain": it was made, or its
 * plaintext verified, from a plain blob; anyone may reuse it. "encrypted": it was made from encrypted
 * blobs only, listed in encrypted_blobs as {digest, key_id} (key_id: a digest of the layer key and
 * nonce bound to that blob, never the key); a pull reuses it only when its descriptor names one of
 * those blobs and the key it unwrapped itself has that key_id. Metadata without an origin (written
 * before origins were recorded) or unreadable counts as neither: every pull proves the layer once
 * (fetches its own blob and checks the diff_id), which records the origin. A pull that proves a layer
 * this way uses the committed layer and adds its own blob to the origin (ccp_store_layer_proven).
 */
#ifndef CCP_STORE_STORE_H
#define CCP_STORE_STORE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include "digest/digest.h"
#include "util/buf.h"
#include "util/cancel.h"
#include "util/err.h"

#define CCP_STORE_LAYOUT_VERSION 1
#define CCP_STORE_DEFAULT "/run/ccpull/store"

typedef struct ccp_store ccp_store;

/*
 * Opens (creating if needed) the store at dir, holding gc.lock shared until ccp_store_close; removes
 * staging leftovers nobody holds. The _exclusive form waits until no one else has the store open.
 */
int ccp_store_open(ccp_store **out, const char *dir, ccp_err *e);
/*
 * Opens the store at dir for reading only: creates nothing, removes nothing, holds gc.lock shared
 * when there is one. Returns 0 with *out NULL when dir does not exist.
 */
int ccp_store_open_readonly(ccp_store **out, const char *dir, ccp_err *e);
int ccp_store_open_exclusive(ccp_store **out, const char *dir, ccp_err *e);
void ccp_store_close(ccp_store *s);
/*
 * What commits guarantee (the public ccp_store_sync, mapped by src/pull): every commit is ordered (a
 * layer is whole before it is visible, records are replaced by rename); ON also makes them durable
 * (syncfs before a layer's rename, records fsynced). AUTO, as ccp_store_open sets it: OFF on tmpfs
 * or ramfs, else ON.
 */
enum { CCP_STORE_DURABLE_AUTO, CCP_STORE_DURABLE_OFF, CCP_STORE_DURABLE_ON };
void ccp_store_set_sync(ccp_store *s, int mode);
int ccp_store_durable(const ccp_store *s);
/* Writes a record dirfd-relative to the store (atomic; fsynced when the store is durable). */
int ccp_store_write(ccp_store *s, const char *name, const void *data, size_t len, ccp_err *e);
const char *ccp_store_dir(const ccp_store *s);
int ccp_store_fd(const ccp_store *s);

/* Absolute path of the committed layer dir for chain into out. */
int ccp_store_layer_path(const ccp_store *s, const ccp_digest *chain, char *out, size_t n, ccp_err *e);
/* 1 when the layer dir exists; whether a pull may use it is ccp_store_layer_state's answer. */
int ccp_store_has_layer(const ccp_store *s, const ccp_digest *chain);

/* What one pull holds for one layer: its descriptor, diff_id and, when encrypted, the key it unwrapped. */
typedef struct ccp_layer_source {
	ccp_digest blob;          /* the descriptor's digest */
	uint64_t size;
	const char *media_type;
	ccp_digest diff_id;
	int encrypted;
	ccp_digest key_id;        /* encrypted: identifies the unwrapped key and nonce for this blob */
} ccp_layer_source;

enum {
	CCP_LAYER_ABSENT = 0,     /* not in the store: make it */
	CCP_LAYER_REUSABLE,       /* in the store and src may use it */
	CCP_LAYER_UNPROVEN,       /* in the store, but src must prove it holds the plaintext (make it, do not commit) */
};
/* Whether the committed layer for chain may be handed to a pull holding src (see the origin above). */
int ccp_store_layer_state(const ccp_store *s, const ccp_digest *chain, const ccp_layer_source *src);
/* Metadata (JSON text, free() it) of a layer made from src; NULL when out of memory. */
char *ccp_store_layer_meta(const ccp_digest *chain, const ccp_layer_source *src);
/*
 * Records in the metadata of the committed layer for chain that src has proven its plaintext (a
 * fetched blob gave its diff_id): a plain blob makes the layer plain, an encrypted one joins its
 * encrypted_blobs. Called under the layer's lock.
 */
int ccp_store_layer_proven(ccp_store *s, const ccp_digest *chain, const ccp_layer_source *src, ccp_err *e);
/*
 * The layer dirs of chain[0..n-1] as overlay lowers, top-most (chain[n-1]) first, in one allocation
 * (free() it).
 */
int ccp_store_lowers(const ccp_store *s, const ccp_digest *chain, size_t n, const char ***out, ccp_err *e);

/*
 * Exclusive lock for making one layer; other pulls of the same layer wait, unrelated pulls don't. A
 * waiter gives up when cancel (may be NULL: waits as long as it takes) is cancelled or at its
 * deadline (CCP_ECANCELED, CCP_ETIMEOUT naming the layer).
 */
int ccp_store_lock_layer(ccp_store *s, const ccp_digest *chain, const ccp_cancel *cancel, int *lock_fd, ccp_err *e);
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

/*
 * Records image metadata (manifest digest -> JSON from ccp_store_image_record). The record keeps
 * every name the image was pulled as ("names"; "image" is the latest).
 */
int ccp_store_put_image(ccp_store *s, const ccp_digest *manifest, const char *json, ccp_err *e);
/* Locks images/ exclusively (changes of image records); returns the fd to close, or -1. */
int ccp_store_lock_images(const ccp_store *s, ccp_err *e);

/*
 * Mounts target as an overlay of lowers (top-most first, absolute paths). Read-only when upper is NULL.
 * Options exclude metacopy/redirect_dir/index so upper dirs stay self-contained. Uses the new mount
 * API with one "lowerdir+" per layer; without it (before Linux 6.8), ccp_overlay_mount_legacy: one
 * mount(2) option string, naming the layers by /proc/self/fd paths when full paths exceed a page.
 */
int ccp_overlay_mount(const char *target, const char *const *lowers, size_t n_lowers, const char *upper,
		      const char *work, ccp_err *e);
int ccp_overlay_mount_legacy(const char *target, const char *const *lowers, size_t n_lowers, const char *upper,
			     const char *work, ccp_err *e);
/* 1 when this kernel can mount overlayfs. */
int ccp_overlay_supported(void);
/* 1 when path is the root of a mounted overlay (in this mount namespace). */
int ccp_is_overlay_mount(const char *path);

/* ---- records (records.c) ---- */

#define CCP_STORE_RECORD_MAX (1u << 20)

/* dirfd/name as a JSON object of at most CCP_STORE_RECORD_MAX bytes; NULL when absent or malformed. */
struct json_t;
struct json_t *ccp_store_read_record(int dirfd, const char *name);
/* A new array of the names of image record rec ("names", else "image"; none for NULL); NULL: no memory. */
struct json_t *ccp_store_record_names(const struct json_t *rec);
/* 1 when the array of strings names holds name. */
int ccp_store_names_have(const struct json_t *names, const char *name);

/* Image record: {image, manifest_digest, config_digest, last_used, layers: [chain IDs]}; ccp_store_put_image adds names. */
char *ccp_store_image_record(const char *image, const ccp_digest *manifest, const ccp_digest *config,
			     const ccp_digest *chain, size_t n);

/*
 * Records that the overlay bundle at bundle (absolute) uses the layers chain[0..n-1]; written before
 * the mount, so a crash leaves a stale record (removed at gc), never a mount gc does not know.
 * id (33 bytes) receives the record's name.
 */
int ccp_store_add_mount(ccp_store *s, const char *bundle, const char *image, const ccp_digest *chain, size_t n,
			char *id, ccp_err *e);
/* Removes mount record id of the store at dir (if present). */
int ccp_store_remove_mount(const char *dir, const char *id, ccp_err *e);

/* ---- the records of a store (the public ccp_store_info and ccp_store_gc are made of these in src/pull) ---- */

typedef struct ccp_store_image_rec {
	const char *image;            /* the reference it was last pulled as */
	const char *manifest_digest;
	const char *config_digest;
	int64_t last_used;            /* seconds since the epoch of the last pull */
	size_t layer_count;
	const char *const *names;     /* every reference it was pulled as (image among them) */
	size_t name_count;
} ccp_store_image_rec;

typedef struct ccp_store_layer_rec {
	const char *chain_id;
	const char *diff_id;
	const char *digest;           /* of the blob it was made from */
	uint64_t size;                /* of that blob */
	uint64_t disk_usage;          /* bytes allocated by the unpacked layer (hardlinks counted once) */
	size_t images;                /* image records that use it */
	size_t bundles;               /* live bundles that use it */
} ccp_store_layer_rec;

typedef struct ccp_store_bundle_rec {
	const char *bundle;           /* absolute path of the bundle directory */
	const char *image;
	int live;                     /* BUNDLE/rootfs is still mounted */
} ccp_store_bundle_rec;

typedef struct ccp_store_staging_rec {
	const char *name;             /* STORE/staging/<name> */
	uint64_t disk_usage;          /* bytes allocated under it */
	int live;                     /* a running pull owns it; a leftover of a pull that died (0) goes at gc */
} ccp_store_staging_rec;

typedef struct ccp_store_records ccp_store_records;

/* Reads the records of the store at dir, read-only (a missing store lists nothing). */
int ccp_store_scan(ccp_store_records **out, const char *dir, ccp_err *e);
void ccp_store_records_free(ccp_store_records *r);
/* Entries live as long as r; NULL when i is out of range. */
size_t ccp_store_records_images(const ccp_store_records *r);
const ccp_store_image_rec *ccp_store_records_image(const ccp_store_records *r, size_t i);
size_t ccp_store_records_layers(const ccp_store_records *r);
const ccp_store_layer_rec *ccp_store_records_layer(const ccp_store_records *r, size_t i);
size_t ccp_store_records_bundles(const ccp_store_records *r);
const ccp_store_bundle_rec *ccp_store_records_bundle(const ccp_store_records *r, size_t i);
size_t ccp_store_records_stagings(const ccp_store_records *r);
const ccp_store_staging_rec *ccp_store_records_staging(const ccp_store_records *r, size_t i);

int ccp_store_rm_image(const char *dir, const char *image, size_t *removed, ccp_err *e);

/* What a collection removed (added to what the counts hold). */
typedef struct ccp_store_gc_counts {
	size_t layers_removed;
	uint64_t bytes_freed;         /* disk usage of the layers removed */
	size_t stale_removed;         /* stale mount records, lock files, staging dirs and metadata */
} ccp_store_gc_counts;

int ccp_store_collect(const char *dir, ccp_store_gc_counts *stats, ccp_err *e);

/* Bytes allocated by name under dirfd and everything below it (hardlinks counted once per link set). */
uint64_t ccp_store_disk_usage_at(int dirfd, const char *name);
/*
 * What opening s removed of the staging directories of crashed pulls (their lock free): how many and
 * the bytes they held. Counted only by ccp_store_open_exclusive (gc); 0 otherwise.
 */
void ccp_store_stale_staging(const ccp_store *s, size_t *n, uint64_t *bytes);


/*
 * Small verified blobs (image configs) kept so that a re-pull needs no blob from the registry.
 * ccp_store_get_blob returns CCP_EINVALID (no message) when absent and re-verifies the digest of
 * what it reads, so a corrupted cache entry is never used.
 */
int ccp_store_get_blob(ccp_store *s, const ccp_digest *d, size_t max, ccp_buf *out, ccp_err *e);
int ccp_store_put_blob(ccp_store *s, const ccp_digest *d, const void *data, size_t len, ccp_err *e);

#endif
