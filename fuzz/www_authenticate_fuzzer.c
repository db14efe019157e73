/* Fuzzes the WWW-Authenticate challenge parser with hostile header values. */
#include <stddef.h>
#include <stdint.h>
#include "registry/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ccp_auth_challenge c;
	ccp_err e = CCP_ERR_INIT;

	if (size > 64 * 1024)
		return 0;
	if (ccp_auth_challenge_parse(&c, (const char *)data, size, &e) == 0) {
		/* a Bearer result always has a usable realm */
		if (c.scheme == 2 && (!c.realm || !c.realm[0]))
			__builtin_trap();
		ccp_auth_challenge_free(&c);
	}
	return 0;
}
