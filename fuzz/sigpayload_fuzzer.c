/*
 * Fuzzes what a signature store hands over: the blob classifier, the simple-signing payload parser
 * and the manifest digest (schema1 JWS included). No GPG: the payload is parsed as if verified.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "signature/signature.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ccp_sig_payload p;
	ccp_digest d;
	ccp_sig_kind kind;
	const unsigned char *body;
	size_t blen;
	ccp_err e = CCP_ERR_INIT;

	if (size > 1024 * 1024)
		return 0;
	if (ccp_sig_classify(data, size, &kind, &body, &blen, &e) == 0 && blen > size)
		__builtin_trap();
	if (ccp_sig_payload_parse(&p, data, size, &e) == 0) {
		if (!p.docker_reference || !p.manifest_digest ||
		    ccp_digest_parse(&d, p.manifest_digest, strlen(p.manifest_digest), &e))
			__builtin_trap();
		ccp_sig_payload_free(&p);
	}
	ccp_sig_manifest_digest(&d, data, size, &e);
	return 0;
}
