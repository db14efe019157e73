/* ccp_inspect: the verified manifest, platforms and config of an image, without its layers. */
#include "pull/pull_internal.h"

#include <stdlib.h>
#include <string.h>

struct ccp_inspect_result {
	resolved_image rv;
	char digest[CCP_DIGEST_STR_MAX];
	char manifest_digest[CCP_DIGEST_STR_MAX];
	char config_digest[CCP_DIGEST_STR_MAX];
};

int ccp_inspect(ccp_inspect_result **out, ccp_context *ctx, const char *image, const ccp_pull_options *opts)
{
	ccp_pull_options defaults = CCP_PULL_OPTIONS_INIT;
	const ccp_pull_options *o = opts ? opts : &defaults;
	ccp_err e = CCP_ERR_INIT;
	ccp_inspect_result *res;
	ccp_cancel local;
	int r;

	ccp_call_warnings(ctx, o);
	if (!out || !image) {
		ccp_err_set(&e, CCP_EINVALID, "ccp_inspect: out and image are required");
		goto fail;
	}
	*out = NULL;
	if (ccp_check_common_options(o, &e) != 0)
		goto fail;
	if (!(res = calloc(1, sizeof(*res)))) {
		ccp_err_oom(&e);
		goto fail;
	}
	if ((r = ccp_resolve_image(&res->rv, image, o, ccp_call_cancel(ctx, &local, o), &e)) ||
	    (r = ccp_resolve_config(&res->rv, NULL, &e))) {
		ccp_resolved_image_free(&res->rv);
		free(res);
		goto fail;
	}
	ccp_digest_str(&res->rv.top_digest, res->digest);
	ccp_digest_str(&res->rv.man_digest, res->manifest_digest);
	ccp_digest_str(&res->rv.man.config.digest, res->config_digest);
	*out = res;
	return 0;
fail:
	return ccp_context_finish(ctx, e.code ? e.code : CCP_EINTERNAL, &e);
}

void ccp_inspect_result_free(ccp_inspect_result *res)
{
	if (!res)
		return;
	ccp_resolved_image_free(&res->rv);
	free(res);
}

const char *ccp_inspect_result_image(const ccp_inspect_result *res) { return res->rv.image; }
const char *ccp_inspect_result_digest(const ccp_inspect_result *res) { return res->digest; }
const char *ccp_inspect_result_manifest_digest(const ccp_inspect_result *res) { return res->manifest_digest; }
const char *ccp_inspect_result_config_digest(const ccp_inspect_result *res) { return res->config_digest; }
size_t ccp_inspect_result_platform_count(const ccp_inspect_result *res) { return res->rv.n_platforms; }

const char *ccp_inspect_result_media_type(const ccp_inspect_result *res)
{
	return res->rv.top_media_type ? res->rv.top_media_type : "";
}

const char *ccp_inspect_result_raw(const ccp_inspect_result *res, size_t *len)
{
	if (len)
		*len = res->rv.top_raw.len;
	return res->rv.top_raw.data;
}

const char *ccp_inspect_result_platform(const ccp_inspect_result *res, size_t i)
{
	return i < res->rv.n_platforms ? res->rv.platforms[i] : NULL;
}

const char *ccp_inspect_result_config(const ccp_inspect_result *res, size_t *len)
{
	if (len)
		*len = res->rv.cfg_raw.len;
	return res->rv.cfg_raw.data;
}
