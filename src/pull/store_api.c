/* The public store and bundle calls: context handling over the store and bundle modules. */
#include "pull/pull_internal.h"

#include <stdio.h>

#include "bundle/bundle.h"
#include "ccpull/store.h"

static int finish(ccp_context *ctx, int r, const ccp_err *e)
{
	if (r && ctx)
		snprintf(ctx->last_error, sizeof(ctx->last_error), "%s", e->msg[0] ? e->msg : ccp_strerror(r));
	return r;
}

int ccp_store_info_load(ccp_store_info **out, ccp_context *ctx, const char *store)
{
	ccp_err e = CCP_ERR_INIT;

	if (!out)
		return finish(ctx, ccp_err_set(&e, CCP_EINVALID, "ccp_store_info_load: out is required"), &e);
	return finish(ctx, ccp_store_scan(out, store ? store : CCP_STORE_DEFAULT, &e), &e);
}

int ccp_store_remove_image(ccp_context *ctx, const char *store, const char *image, size_t *removed)
{
	ccp_err e = CCP_ERR_INIT;
	size_t n = 0;
	int r;

	if (!image)
		return finish(ctx, ccp_err_set(&e, CCP_EINVALID, "ccp_store_remove_image: image is required"), &e);
	r = ccp_store_rm_image(store ? store : CCP_STORE_DEFAULT, image, &n, &e);
	if (removed)
		*removed = n;
	return finish(ctx, r, &e);
}

int ccp_store_gc(ccp_context *ctx, const char *store, ccp_store_gc_stats *stats)
{
	ccp_store_gc_stats local = CCP_STORE_GC_STATS_INIT;
	ccp_err e = CCP_ERR_INIT;

	if (stats && stats->version != CCP_STORE_GC_STATS_VERSION)
		return finish(ctx, ccp_err_set(&e, CCP_EINVALID, "ccp_store_gc: unknown stats version %u", stats->version),
			      &e);
	if (stats) {
		stats->layers_removed = stats->stale_removed = 0;
		stats->bytes_freed = 0;
	}
	return finish(ctx, ccp_store_collect(store ? store : CCP_STORE_DEFAULT, stats ? stats : &local, &e), &e);
}

int ccp_bundle_umount(ccp_context *ctx, const char *bundle)
{
	ccp_err e = CCP_ERR_INIT;

	if (!bundle)
		return finish(ctx, ccp_err_set(&e, CCP_EINVALID, "ccp_bundle_umount: bundle is required"), &e);
	return finish(ctx, ccp_bundle_unmount_overlay(bundle, &e), &e);
}
