/*
 * The layer store from outside a pull: listing its images, layers, bundles and staging leftovers,
 * removing an image, garbage collection, and undoing an overlay bundle.
 */
#ifndef INCLUDE_ccpull_store_h__
#define INCLUDE_ccpull_store_h__

#include <stddef.h>
#include <stdint.h>
#include "common.h"
#include "pull.h"

CCP_BEGIN_DECL

/*
 * The layer store (ccpull(1), STORE) and overlay bundles.
 *
 * store is the store directory; NULL means /run/ccpull/store. Every call may run while pulls use the
 * same store (in this or another process): ccp_store_gc waits until no pull holds the store, and
 * pulls wait while gc runs. Mount liveness is judged in the caller's mount namespace, so gc must run
 * in the namespace of the bundles.
 */

/* ---- listing ---- */

typedef struct ccp_store_info ccp_store_info;

typedef struct ccp_store_image {
	const char *image;            /* the reference it was last pulled as */
	const char *manifest_digest;
	const char *config_digest;
	int64_t last_used;            /* seconds since the epoch of the last pull */
	size_t layer_count;
	const char *const *names;     /* every reference it was pulled as (image among them) */
	size_t name_count;
} ccp_store_image;

typedef struct ccp_store_layer {
	const char *chain_id;         /* the layer's key in the store */
	const char *diff_id;
	const char *digest;           /* of the blob it was made from */
	uint64_t size;                /* of that blob */
	uint64_t disk_usage;          /* bytes allocated by the unpacked layer (hardlinks counted once) */
	size_t images;                /* image records that use it */
	size_t bundles;               /* mounted bundles that use it; a layer with images + bundles == 0 goes at gc */
} ccp_store_layer;

typedef struct ccp_store_bundle {
	const char *bundle;           /* absolute path of the bundle directory */
	const char *image;
	int live;                     /* BUNDLE/rootfs is still mounted; a stale record is removed at gc */
} ccp_store_bundle;

typedef struct ccp_store_staging {
	const char *name;             /* STORE/staging/<name> */
	uint64_t disk_usage;          /* bytes allocated under it */
	int live;                     /* a running pull owns it; a leftover of a pull that died (0) goes at gc */
} ccp_store_staging;

/*
 * Reads the store's records. *out is owned by the caller (ccp_store_info_free). Read-only: never
 * changes or creates the store; a store directory that does not exist lists nothing.
 */
CCP_EXTERN(int) ccp_store_info_load(ccp_store_info **out, ccp_context *ctx, const char *store);
CCP_EXTERN(void) ccp_store_info_free(ccp_store_info *info);
/* Entries are owned by info and live as long as it does; NULL when i is out of range. */
CCP_EXTERN(size_t) ccp_store_info_image_count(const ccp_store_info *info);
CCP_EXTERN(const ccp_store_image *) ccp_store_info_image(const ccp_store_info *info, size_t i);
CCP_EXTERN(size_t) ccp_store_info_layer_count(const ccp_store_info *info);
CCP_EXTERN(const ccp_store_layer *) ccp_store_info_layer(const ccp_store_info *info, size_t i);
CCP_EXTERN(size_t) ccp_store_info_bundle_count(const ccp_store_info *info);
CCP_EXTERN(const ccp_store_bundle *) ccp_store_info_bundle(const ccp_store_info *info, size_t i);
/* Staging directories: of pulls in progress, or left by pulls that were killed. */
CCP_EXTERN(size_t) ccp_store_info_staging_count(const ccp_store_info *info);
CCP_EXTERN(const ccp_store_staging *) ccp_store_info_staging(const ccp_store_info *info, size_t i);

/* ---- removal ---- */

/*
 * Forgets image: a reference (normalised as for a pull) is one of the names an image record was
 * pulled as, and the record goes with its last name; a manifest digest "sha256:<hex>" forgets that
 * record with all its names. The layers stay until ccp_store_gc. *removed (may be NULL) gets the
 * number of names forgotten; none is CCP_EINVALID.
 */
CCP_EXTERN(int) ccp_store_remove_image(ccp_context *ctx, const char *store, const char *image, size_t *removed);

typedef struct ccp_store_gc_stats {
	unsigned int version;
	size_t layers_removed;
	uint64_t bytes_freed;         /* disk usage of the layers and staging leftovers removed */
	size_t stale_removed;         /* stale mount records, lock files, staging dirs and metadata */
} ccp_store_gc_stats;

#define CCP_STORE_GC_STATS_VERSION 1
#define CCP_STORE_GC_STATS_INIT { CCP_STORE_GC_STATS_VERSION, 0, 0, 0 }

/*
 * Removes every layer that no image record and no live bundle uses, stale mount records, and
 * leftovers of crashed pulls. stats (may be NULL; initialise with CCP_STORE_GC_STATS_INIT) gets counts.
 */
CCP_EXTERN(int) ccp_store_gc(ccp_context *ctx, const char *store, ccp_store_gc_stats *stats);

/* ---- overlay bundles ---- */

/*
 * Undoes an overlay bundle made by ccp_pull: unmounts BUNDLE/rootfs, removes it and the per-bundle
 * state (BUNDLE/.ccpull/upper and work: what the container wrote) and the store's mount record.
 * BUNDLE/config.json stays. Calling it again on the same bundle succeeds. A directory that is not an
 * overlay bundle of ccpull is CCP_EINVALID.
 */
CCP_EXTERN(int) ccp_bundle_umount(ccp_context *ctx, const char *bundle);

CCP_END_DECL
#endif
