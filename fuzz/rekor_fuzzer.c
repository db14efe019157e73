/*
 * Fuzzes the Rekor SET path: the RFC 8785 canonicalizer over any JSON, and the SET verifier with a
 * fixed Rekor key (fuzzed input never carries a valid log signature, so it must never be accepted).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <openssl/pem.h>

#include "signature/sigstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fixed_pub[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEtZAsHippa8I5E1yQ0CxI5zhWKgND\n"
	"QfTqnmHYNuYvfpPwyixEdmue6O/Lto8lEeAYp55VXTeU78sjRTmxq0Ql6A==\n"
	"-----END PUBLIC KEY-----\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *key;
	json_t *j;
	int64_t t;
	ccp_err e = CCP_ERR_INIT;

	if (size > 1024 * 1024)
		return 0;
	if (!key) {
		BIO *b = BIO_new_mem_buf(fixed_pub, -1);
		key = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
		BIO_free(b);
		if (!key)
			__builtin_trap();
	}
	if ((j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL))) {
		ccp_buf a = CCP_BUF_INIT(4u << 20), b = CCP_BUF_INIT(4u << 20);
		json_t *again;
		/* Canonical output is JSON and a fixed point. */
		if (ccp_json_canonicalize(&a, j) == 0) {
			/*
			 * ES6 number formatting writes 1.2e20 as 120000000000000000000, an integer jansson
			 * refuses as too big: such output must still be JSON (read as reals), but the fixed
			 * point is only checked when jansson reads it back exactly.
			 */
			if ((again = json_loadb(a.data, a.len, 0, NULL))) {
				if (ccp_json_canonicalize(&b, again) == 0 &&
				    (a.len != b.len || memcmp(a.data, b.data, a.len)))
					__builtin_trap();
				json_decref(again);
			} else if ((again = json_loadb(a.data, a.len, JSON_DECODE_INT_AS_REAL, NULL))) {
				json_decref(again);
			} else {
				__builtin_trap();
			}
		}
		ccp_buf_free(&a);
		ccp_buf_free(&b);
		json_decref(j);
	}
	if (ccp_rekor_set_verify(&key, 1, (const char *)data, size, fixed_pub, strlen(fixed_pub), "AAAA", "", 0, &t,
				 &e) == 0)
		__builtin_trap();
	return 0;
}
