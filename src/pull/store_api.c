/* The public store and bundle calls: context handling and the public records over the store and bundle modules. */
#include "pull/pull_internal.h"

#include <stdlib.h>

#include "bundle/bundle.h"
#include "ccpull/store.h"

/* The public listing: the store's records, seen through the public structs (strings borrowed from rec). */
struct ccp_store_info {
	ccp_store_records *rec;
	ccp_store_image *images;
	ccp_store_layer *layers;
	ccp_store_bundle *bundles;
	ccp_store_staging *staging;
	size_t n_images, n_layers, n_bundles, n_staging;
};

void ccp_store_info_free(ccp_store_info *info)
{
	if (!info)
		return;
	ccp_store_records_free(info->rec);
	free(info->images);
	free(info->layers);
	free(info->bundles);
	free(info->staging);
	free(info);
}

static int info_of(ccp_store_info **out, ccp_store_records *rec, ccp_err *e)
{
	ccp_store_info *info = calloc(1, sizeof(*info));

	if (!info) {
		ccp_store_records_free(rec);
		return ccp_err_oom(e);
	}
	info->rec = rec;
	info->n_images = ccp_store_records_images(rec);
	info->n_layers = ccp_store_records_layers(rec);
	info->n_bundles = ccp_store_records_bundles(rec);
	info->n_staging = ccp_store_records_stagings(rec);
	if (!(info->images = calloc(info->n_images + 1, sizeof(*info->images))) ||
	    !(info->layers = calloc(info->n_layers + 1, sizeof(*info->layers))) ||
	    !(info->bundles = calloc(info->n_bundles + 1, sizeof(*info->bundles))) ||
	    !(info->staging = calloc(info->n_staging + 1, sizeof(*info->staging)))) {
		ccp_store_info_free(info);
		return ccp_err_oom(e);
	}
	for (size_t i = 0; i < info->n_images; i++) {
		const ccp_store_image_rec *r = ccp_store_records_image(rec, i);
		info->images[i] = (ccp_store_image){ r->image, r->manifest_digest, r->config_digest, r->last_used,
						     r->layer_count, r->names, r->name_count };
	}
	for (size_t i = 0; i < info->n_layers; i++) {
		const ccp_store_layer_rec *r = ccp_store_records_layer(rec, i);
		info->layers[i] = (ccp_store_layer){ r->chain_id, r->diff_id, r->digest, r->size, r->disk_usage,
						     r->images, r->bundles };
	}
	for (size_t i = 0; i < info->n_bundles; i++) {
		const ccp_store_bundle_rec *r = ccp_store_records_bundle(rec, i);
		info->bundles[i] = (ccp_store_bundle){ r->bundle, r->image, r->live };
	}
	for (size_t i = 0; i < info->n_staging; i++) {
		const ccp_store_staging_rec *r = ccp_store_records_staging(rec, i);
		info->staging[i] = (ccp_store_staging){ r->name, r->disk_usage, r->live };
	}
	*out = info;
	return 0;
}

int ccp_store_info_load(ccp_store_info **out, ccp_context *ctx, const char *store)
{
	ccp_store_records *rec = NULL;
	ccp_err e = CCP_ERR_INIT;
	int r;

	if (!out)
		return ccp_context_finish(ctx, ccp_err_set(&e, CCP_EINVALID, "ccp_store_info_load: out is required"), &e);
	*out = NULL;
	if ((r = ccp_store_scan(&rec, store ? store : CCP_STORE_DEFAULT, &e)) == 0)
		r = info_of(out, rec, &e);
	return ccp_context_finish(ctx, r, &e);
}

size_t ccp_store_info_image_count(const ccp_store_info *info) { return info->n_images; }
size_t ccp_store_info_layer_count(const ccp_store_info *info) { return info->n_layers; }
size_t ccp_store_info_bundle_count(const ccp_store_info *info) { return info->n_bundles; }
size_t ccp_store_info_staging_count(const ccp_store_info *info) { return info->n_staging; }

const ccp_store_image *ccp_store_info_image(const ccp_store_info *info, size_t i)
{
	return i < info->n_images ? &info->images[i] : NULL;
}

const ccp_store_layer *ccp_store_info_layer(const ccp_store_info *info, size_t i)
{
	return i < info->n_layers ? &info->layers[i] : NULL;
}

const ccp_store_bundle *ccp_store_info_bundle(const ccp_store_info *info, size_t i)
{
	return i < info->n_bundles ? &info->bundles[i] : NULL;
}

const ccp_store_staging *ccp_store_info_staging(const ccp_store_info *info, size_t i)
{
	return i < info->n_staging ? &info->staging[i] : NULL;
}

int ccp_store_remove_image(ccp_context *ctx, const char *store, const char *image, size_t *removed)
{
	ccp_err e = CCP_ERR_INIT;
	size_t n = 0;
	int r;

	if (!image)
		return ccp_context_finish(ctx, ccp_err_set(&e, CCP_EINVALID, "ccp_store_remove_image: image is required"), &e);
	r = ccp_store_rm_image(store ? store : CCP_STORE_DEFAULT, image, &n, &e);
	if (removed)
		*removed = n;
	return ccp_context_finish(ctx, r, &e);
}

int ccp_store_gc(ccp_context *ctx, const char *store, ccp_store_gc_stats *stats)
{
	ccp_store_gc_counts counts = { 0, 0, 0 };
	ccp_err e = CCP_ERR_INIT;
	int r;

	if (stats && stats->version != CCP_STORE_GC_STATS_VERSION)
		return ccp_context_finish(ctx, ccp_err_set(&e, CCP_EINVALID, "ccp_store_gc: unknown stats version %u", stats->version),
			      &e);
	r = ccp_store_collect(store ? store : CCP_STORE_DEFAULT, &counts, &e);
	if (stats) {
		stats->layers_removed = counts.layers_removed;
		stats->bytes_freed = counts.bytes_freed;
		stats->stale_removed = counts.stale_removed;
	}
	return ccp_context_finish(ctx, r, &e);
}

int ccp_bundle_umount(ccp_context *ctx, const char *bundle)
{
	ccp_err e = CCP_ERR_INIT;

	if (!bundle)
		return ccp_context_finish(ctx, ccp_err_set(&e, CCP_EINVALID, "ccp_bundle_umount: bundle is required"), &e);
	return ccp_context_finish(ctx, ccp_bundle_unmount_overlay(bundle, &e), &e);
}
