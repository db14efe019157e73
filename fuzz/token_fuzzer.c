/* Fuzzes the token endpoint response parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "registry/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ccp_err e = CCP_ERR_INIT;
	char *token = NULL;
	long expires = 0;

	if (size > 64 * 1024)
		return 0;
	if (ccp_token_response_parse(&token, &expires, data, size, &e) == 0) {
		/* what reaches an HTTP header: non-empty, visible ASCII, sane expiry */
		if (!token[0] || expires < 60)
			__builtin_trap();
		for (const char *p = token; *p; p++)
			if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
				__builtin_trap();
		free(token);
	}
	return 0;
}
