/*
 * Fuzzes a stored sigstore signature as the policy sees it: the sigstore-json body parser, the cosign
 * payload parser, and full verification against a fixed key (which must never accept fuzzed input).
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
	static ccp_sigstore_trust *trust;
	ccp_sigstore_sig sig;
	ccp_sig_payload p;
	ccp_digest d;
	ccp_err e = CCP_ERR_INIT;

	if (size > 1024 * 1024)
		return 0;
	if (!trust) {
		ccp_sigstore_src src = { NULL, CCP_BUF_INIT(0) };
		ccp_sigstore_policy pol;
		memset(&pol, 0, sizeof(pol));
		ccp_buf_puts(&src.data, fixed_pub);
		pol.keys = &src;
		pol.n_keys = 1;
		if (ccp_sigstore_trust_load(&trust, &pol, &e))
			__builtin_trap();
		ccp_buf_free(&src.data);
	}
	if (ccp_sigstore_payload_parse(&p, data, size, &e) == 0) {
		if (!p.docker_reference || ccp_digest_parse(&d, p.manifest_digest, strlen(p.manifest_digest), &e))
			__builtin_trap();
		ccp_sig_payload_free(&p);
	}
	if (ccp_sigstore_sig_parse(&sig, data, size, &e) == 0) {
		if (ccp_sigstore_verify(trust, &sig, 0, &p, &e) == 0)
			__builtin_trap();
		ccp_sigstore_sig_free(&sig);
	}
	return 0;
}
