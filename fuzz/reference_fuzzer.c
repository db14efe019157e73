/*
 * Fuzzes the image reference parser (and the other short strings a user types: --platform and
 * layer media types). A parsed reference must print back to a string that parses to itself.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "manifest/manifest.h"
#include "reference/reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const ccp_ref *r)
{
	ccp_err e = CCP_ERR_INIT;
	ccp_ref r2;
	char *s = ccp_ref_string(r), *s2, *repo;

	if (!s)
		return;
	if (ccp_ref_parse(&r2, s, &e) != 0)
		__builtin_trap();
	s2 = ccp_ref_string(&r2);
	if (s2 && strcmp(s, s2) != 0)
		__builtin_trap();
	/* normalised: a domain, a path, and a tag unless there is a digest */
	if (!r->domain[0] || !r->path[0] || (!r->tag && !r->has_digest))
		__builtin_trap();
	repo = ccp_ref_repository(r);
	if (repo && strlen(repo) > 255)
		__builtin_trap();
	if (!ccp_ref_registry_host(r)[0])
		__builtin_trap();
	free(repo);
	free(s2);
	free(s);
	ccp_ref_free(&r2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ccp_err e = CCP_ERR_INIT;
	ccp_ref r;
	ccp_platform p;
	ccp_compression c;
	int enc;
	char *s;

	if (size > CCP_REF_MAX + 64)
		return 0;
	if (!(s = malloc(size + 1)))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	if (ccp_ref_parse(&r, s, &e) == 0) {
		round_trip(&r);
		ccp_ref_free(&r);
	} else if (e.code != CCP_EINVALID && e.code != CCP_ENOMEM) {
		__builtin_trap();
	}

	if (ccp_platform_parse(&p, s, &e) == 0) {
		char buf[200];
		ccp_platform p2;
		/* normalisation is idempotent: the printed form parses to the same platform */
		if (ccp_platform_parse(&p2, ccp_platform_str(&p, buf, sizeof(buf)), &e) != 0 ||
		    strcmp(p.os, p2.os) != 0 || strcmp(p.architecture, p2.architecture) != 0 ||
		    strcmp(p.variant, p2.variant) != 0)
			__builtin_trap();
	}
	ccp_layer_media_type(s, &c, &enc, &e);
	free(s);
	return 0;
}
