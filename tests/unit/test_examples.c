/* The files in examples/ are what users copy: each must parse with the code that reads it. */
#include <stdio.h>
#include <stdlib.h>

#include "test.h"
#include "ccpull/ccpull.h"
#include "config/config.h"
#include "config/registries_d.h"
#include "policy/policy.h"

int main(void)
{
	const char *src = getenv("CCPULL_SRC");
	const char *policies[] = { "gpg.json", "cosign-key.json", "keyless.json" };
	char path[4096];
	ccp_err e = CCP_ERR_INIT;
	ccp_context *ctx = NULL;
	ccp_config *cfg = NULL;
	ccp_registries_conf rc = { 0 };
	ccp_registries_d rd;

	CHECK(ccp_init() == 1);
	if (!src) {
		fprintf(stderr, "CCPULL_SRC is not set\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		ccp_policy p;
		snprintf(path, sizeof(path), "%s/examples/policy/%s", src, policies[i]);
		CHECK(ccp_policy_load(&p, path, NULL, &e) == 0);
		if (e.msg[0])
			fprintf(stderr, "%s: %s\n", path, e.msg);
		ccp_policy_free(&p);
		ccp_err_clear(&e);
	}
	snprintf(path, sizeof(path), "%s/examples/registries.conf", src);
	CHECK(ccp_registries_conf_load(&rc, path, &e) == 0);
	CHECK(rc.n_entries == 2);
	ccp_registries_conf_free(&rc);
	snprintf(path, sizeof(path), "%s/examples/registries.d", src);
	memset(&rd, 0, sizeof(rd));
	CHECK(ccp_registries_d_load(&rd, path, &e) == 0);
	ccp_registries_d_free(&rd);
	snprintf(path, sizeof(path), "%s/examples/ccpull.toml", src);
	CHECK(ccp_context_new(&ctx) == 0);
	CHECK(ccp_config_load(&cfg, ctx, path) == 0);
	if (!cfg)
		fprintf(stderr, "%s: %s\n", path, ccp_context_last_error(ctx));
	ccp_config_free(cfg);
	ccp_context_free(ctx);
	CHECK(ccp_shutdown() == 0);
	return test_summary();
}
