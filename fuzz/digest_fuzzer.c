/* Fuzzes digest parsing; checks one-shot and streaming hashing agree and print parseable digests. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "digest/digest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ccp_err e = CCP_ERR_INIT;
	ccp_digest d, d2;
	char str[CCP_DIGEST_STR_MAX];

	if (size > 64 * 1024)
		return 0;
	if (ccp_digest_parse(&d, (const char *)data, size, &e) == 0) {
		/* accepted digests print back to exactly the input */
		ccp_digest_str(&d, str);
		if (strlen(str) != size || memcmp(str, data, size) != 0)
			__builtin_trap();
		if (ccp_digest_parse(&d2, str, strlen(str), &e) != 0 || !ccp_digest_equal(&d, &d2))
			__builtin_trap();
	}

	for (int a = CCP_SHA256; a <= CCP_SHA512; a++) {
		ccp_hasher h;
		size_t split = size ? data[0] % (size + 1) : 0;
		if (ccp_digest_compute(&d, (ccp_digest_algo)a, data, size, &e) != 0)
			continue;
		if (ccp_hasher_init(&h, (ccp_digest_algo)a, &e) != 0)
			continue;
		ccp_hasher_update(&h, data, split);
		ccp_hasher_update(&h, data + split, size - split);
		ccp_hasher_final(&h, &d2);
		ccp_hasher_free(&h);
		if (!ccp_digest_equal(&d, &d2))
			__builtin_trap();
		ccp_digest_str(&d, str);
		if (ccp_digest_parse(&d2, str, strlen(str), &e) != 0 || !ccp_digest_equal(&d, &d2))
			__builtin_trap();
	}
	return 0;
}
