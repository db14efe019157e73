/*
 * Fuzzes containers-policy.json parsing and, for a policy that parses, scope lookup and evaluation
 * without signatures for a few references (no keys are read: no signature is ever offered).
 */
#include <stddef.h>
#include <stdint.h>
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const refs[] = { "busybox", "example.com/ns/repo:v1", "localhost:5000/a/b@sha256:"
					    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
					    "a.b.example.com:8443/x:y" };
	ccp_policy p;
	ccp_err e = CCP_ERR_INIT;

	if (size > 256 * 1024)
		return 0;
	if (ccp_policy_parse(&p, data, size, "fuzz", &e) != 0)
		return 0;
	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		ccp_ref ref;
		ccp_policy_image img = { 0 };
		const ccp_pr_list *l;
		const char *scope;
		int r;
		if (ccp_ref_parse(&ref, refs[i], &e))
			__builtin_trap();
		if (ccp_policy_requirements_for(&p, &ref, &l, &scope, &e) || !l || l->n == 0)
			__builtin_trap();
		img.ref = &ref;
		img.manifest = "{}";
		img.manifest_len = 2;
		r = ccp_policy_evaluate(&p, &img, &e);
		if (r != 0 && r != CCP_EPOLICY && r != CCP_ENOMEM)
			__builtin_trap();
		ccp_ref_free(&ref);
	}
	ccp_policy_free(&p);
	return 0;
}
