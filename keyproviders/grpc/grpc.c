/*
 * A keyprovider config entry with the "grpc" transport. This build has no gRPC client: the entry
 * is accepted (so a config shared with other ocicrypt users still loads) and every unwrap through
 * it fails with a message that says so; other providers are still tried.
 */
#include "ocicrypt/ocicrypt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct grpc_provider {
	ccp_keyprovider base;
	char scheme[300];
	char desc[600];
} grpc_provider;

static int grpc_handles(const ccp_keyprovider *kp, const char *scheme)
{
	return strcmp(scheme, ((const grpc_provider *)kp)->scheme) == 0;
}

static int grpc_unwrap(ccp_keyprovider *kp, const char *scheme, const unsigned char *wrapped, size_t len,
		       const char *dc_json, unsigned char **out, size_t *out_len, char *err, size_t err_len)
{
	(void)scheme, (void)wrapped, (void)len, (void)dc_json;
	*out = NULL;
	*out_len = 0;
	snprintf(err, err_len, "%s: the grpc keyprovider transport is not available in this build of ccpull "
		 "(use a \"cmd\" keyprovider)", kp->description);
	return CCP_EDECRYPT;
}

static void grpc_free(ccp_keyprovider *kp)
{
	free(kp);
}

int ccp_grpc_provider_new(ccp_keyprovider **out, const char *name, const char *address, ccp_err *e)
{
	grpc_provider *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return ccp_err_oom(e);
	p->base.version = CCP_KEYPROVIDER_VERSION;
	p->base.handles = grpc_handles;
	p->base.unwrap = grpc_unwrap;
	p->base.free = grpc_free;
	p->base.description = p->desc;
	snprintf(p->scheme, sizeof(p->scheme), "provider.%.250s", name);
	snprintf(p->desc, sizeof(p->desc), "provider:%.250s (grpc %.250s)", name, address);
	*out = &p->base;
	return 0;
}
