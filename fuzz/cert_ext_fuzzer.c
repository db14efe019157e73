/*
 * Fuzzes certificate handling of sigstore signatures: the PEM certificate list parser, and Fulcio and
 * PKI verification of a fuzzed leaf and chain against a root that signed none of them.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "signature/sigstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	STACK_OF(X509) *certs = NULL, *roots = sk_X509_new_null();
	EVP_PKEY *k = NULL;
	const char *split;
	size_t cut;
	ccp_err e = CCP_ERR_INIT;

	if (size > 256 * 1024 || !roots)
		goto out;
	if (ccp_pem_certs_parse(&certs, (const char *)data, size, "fuzz", &e) == 0 &&
	    (sk_X509_num(certs) < 1 || sk_X509_num(certs) > CCP_SIGSTORE_MAX_CERTS))
		__builtin_trap();
	/* Input = leaf PEM, then the chain after a NUL; with no trusted root nothing may verify. */
	split = memchr(data, 0, size);
	cut = split ? (size_t)(split - (const char *)data) : size;
	if (ccp_fulcio_verify(roots, "https://issuer", "a@b", 1670870899, (const char *)data, cut,
			      split ? split + 1 : NULL, split ? size - cut - 1 : 0, &k, &e) == 0)
		__builtin_trap();
	if (ccp_pki_verify(roots, NULL, "a@b", "host", 1670870899, (const char *)data, cut, split ? split + 1 : NULL,
			   split ? size - cut - 1 : 0, &k, &e) == 0)
		__builtin_trap();
out:
	sk_X509_pop_free(certs, X509_free);
	sk_X509_free(roots);
	return 0;
}
