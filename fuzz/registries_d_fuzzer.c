/* Fuzzes registries.d YAML parsing (merged twice, so duplicate detection runs) and the lookaside lookup. */
#include <stddef.h>
#include <stdint.h>
#include "config/registries_d.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *scopes[] = { "example.com/ns/repo:v1", "example.com/ns/repo", "example.com/ns", "example.com", "*.com" };
	ccp_registries_d c = { 0 };
	ccp_err e = CCP_ERR_INIT;

	if (size > 256 * 1024)
		return 0;
	if (ccp_registries_d_parse(&c, (const char *)data, size, "fuzz", &e) == 0) {
		if (!ccp_registries_d_lookaside(&c, scopes, 5))
			__builtin_trap();
		ccp_registries_d_parse(&c, (const char *)data, size, "fuzz again", &e);
	}
	ccp_registries_d_free(&c);
	return 0;
}
