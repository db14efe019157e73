/* The public API's contract: option versions, the policy gate, usage errors before any network I/O. */
#include "test.h"
#include "ccpull/ccpull.h"

static int kp_freed;

static int kp_handles(const ccp_keyprovider *kp, const char *scheme)
{
	(void)kp, (void)scheme;
	return 0;
}

static int kp_unwrap(ccp_keyprovider *kp, const char *scheme, const unsigned char *wrapped, size_t wrapped_len,
		     const char *dc_json, unsigned char **out, size_t *out_len, char *err, size_t err_len)
{
	(void)kp, (void)scheme, (void)wrapped, (void)wrapped_len, (void)dc_json, (void)out, (void)out_len;
	snprintf(err, err_len, "no");
	return CCP_EDECRYPT;
}

static void kp_free(ccp_keyprovider *kp)
{
	(void)kp;
	kp_freed++;
}

/* ccp_context_add_keyprovider takes the provider: freed with the context, or at once when refused. */
static void test_add_keyprovider(void)
{
	ccp_keyprovider good = { CCP_KEYPROVIDER_VERSION, "test", kp_handles, kp_unwrap, kp_free };
	ccp_keyprovider future = good, none = good;
	ccp_context *ctx = NULL;

	future.version = CCP_KEYPROVIDER_VERSION + 1;
	none.unwrap = NULL;
	CHECK(ccp_context_new(&ctx) == 0);
	CHECK(ccp_context_add_keyprovider(ctx, NULL) == CCP_EINVALID);
	CHECK(ccp_context_add_keyprovider(ctx, &future) == CCP_EINVALID && kp_freed == 1);
	CHECK(strstr(ccp_context_last_error(ctx), "version 2") != NULL);
	CHECK(ccp_context_add_keyprovider(ctx, &none) == CCP_EINVALID && kp_freed == 2);
	CHECK(ccp_context_add_keyprovider(NULL, &good) == CCP_EINVALID && kp_freed == 3);
	CHECK(ccp_context_add_keyprovider(ctx, &good) == 0 && kp_freed == 3);
	CHECK_STR(ccp_context_last_error(ctx), "");
	CHECK(ccp_context_add_keyprovider(ctx, &good) == 0);
	ccp_context_free(ctx);
	CHECK(kp_freed == 5);
}

int main(void)
{
	ccp_pull_options o;
	ccp_context *ctx = NULL;
	ccp_pull_result *res = NULL;
	ccp_inspect_result *ir = NULL;

	CHECK(ccp_init() == 1);
	CHECK(ccp_pull_options_init(&o, 99) == CCP_EINVALID);
	CHECK(ccp_pull_options_init(&o, CCP_PULL_OPTIONS_VERSION) == 0);
	CHECK(o.version == CCP_PULL_OPTIONS_VERSION && o.registry.tls_verify == 1 && o.trust.insecure_policy == 0);
	CHECK(ccp_context_new(&ctx) == 0);
	CHECK_STR(ccp_context_last_error(ctx), "");

	/* no policy, no pull: refused before anything is fetched or created (the default policy file may exist) */
	o.trust.policy = "/nonexistent/policy.json";
	CHECK(ccp_pull(&res, ctx, "127.0.0.1:1/nothing:here", "/nonexistent/bundle", &o) == CCP_EINVALID);
	CHECK(res == NULL);
	CHECK(strstr(ccp_context_last_error(ctx), "--insecure-policy") != NULL);
	o.trust.policy = NULL;

	/* a malformed platform or reference is a usage error, found before connecting (port 1 is closed) */
	o.trust.insecure_policy = 1;
	o.platform = "linux";
	CHECK(ccp_inspect(&ir, ctx, "127.0.0.1:1/x:y", &o) == CCP_EINVALID);
	CHECK(strstr(ccp_context_last_error(ctx), "platform") != NULL);
	o.platform = NULL;
	CHECK(ccp_inspect(&ir, ctx, "Not/A/Valid:Ref:", &o) == CCP_EINVALID);
	CHECK(ir == NULL);

	/* an unreachable registry is a registry error (exit 4) naming the host */
	o.registry.tls_verify = 0;
	CHECK(ccp_inspect(&ir, ctx, "127.0.0.1:1/x:y", &o) == CCP_EREGISTRY);
	CHECK(strstr(ccp_context_last_error(ctx), "127.0.0.1:1") != NULL);
	CHECK(ccp_exit_status(CCP_EREGISTRY) == 4);

	/* options of another version are refused */
	o.version = 2;
	CHECK(ccp_inspect(&ir, ctx, "127.0.0.1:1/x:y", &o) == CCP_EINVALID);

	/* the last error is the last call's: a call that succeeds leaves none behind (a store that does
	 * not exist lists nothing), one that fails records its message */
	{
		ccp_store_info *info = NULL;
		CHECK(ccp_store_info_load(&info, ctx, "/nonexistent/store") == 0);
		CHECK(info && ccp_store_info_image_count(info) == 0 && ccp_store_info_layer_count(info) == 0);
		CHECK(ccp_store_info_image(info, 0) == NULL);
		CHECK_STR(ccp_context_last_error(ctx), "");
		ccp_store_info_free(info);
		CHECK(ccp_store_info_load(NULL, ctx, NULL) == CCP_EINVALID);
		CHECK(strstr(ccp_context_last_error(ctx), "out is required") != NULL);
	}

	CHECK(strcmp(ccp_version(), "") != 0);
	ccp_context_free(ctx);
	test_add_keyprovider();
	CHECK(ccp_shutdown() == 0);
	return test_summary();
}
