/*
 * Fuzzes sealed secrets (src/secret/sealed.c): the input is parsed with and without verification,
 * then checked against the test key of guest-components' hub/src/secret/tests/test-key.json; and
 * parsed as a JWK. A parse either fails with CCP_EINVALID and a message and leaves nothing, or
 * yields a secret whose kind has its members; a verification fails with a message or the signature
 * was made by that key (the seeds hold such secrets).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <openssl/evp.h>
#include "secret/sealed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char jwk[] = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"QT3_slJmispaOwnAo6hxebXGLRuiveFuRCLpS4j4S4k\","
			  "\"y\":\"jcDn4N4nRBQ-a7_D3qjqtb6hwOAXh_ve1wvibPSi1G0\"}";

static void check_parsed(const ccp_sealed *s, int verify)
{
	if (!s->provider || (s->type != CCP_SEALED_VAULT && s->type != CCP_SEALED_ENVELOPE) ||
	    (s->type == CCP_SEALED_VAULT && !s->name) || (s->type == CCP_SEALED_ENVELOPE && s->name))
		__builtin_trap();
	if (verify && (!s->alg || !s->kid || !s->kid[0] || strlen(s->kid) > CCP_SEALED_KID_MAX || !s->signing_input ||
		       s->sig_len > CCP_SEALED_SIG_LEN))
		__builtin_trap();
	if (!verify && (s->alg || s->kid || s->signing_input))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ccp_sealed s;
	ccp_err e = CCP_ERR_INIT;
	void *pk = NULL;
	int r;

	if (size > 256 * 1024)
		return 0;
	for (int verify = 0; verify < 2; verify++) {
		r = ccp_sealed_parse(&s, (const char *)data, size, verify, &e);
		if (r) {
			if ((r != CCP_EINVALID && r != CCP_ENOMEM) || !e.msg[0] || s.kid || s.name || s.provider || s.alg)
				__builtin_trap();
			continue;
		}
		check_parsed(&s, verify);
		if (verify) {
			r = ccp_sealed_verify(&s, jwk, strlen(jwk), &e);
			if (r && ((r != CCP_EPOLICY && r != CCP_ENOMEM) || !e.msg[0]))
				__builtin_trap();
		}
		ccp_sealed_free(&s);
	}
	r = ccp_jwk_p256_parse(&pk, data, size, &e);
	if (r == 0 && !pk)
		__builtin_trap();
	if (r && (pk || !e.msg[0]))
		__builtin_trap();
	EVP_PKEY_free(pk);
	return 0;
}
