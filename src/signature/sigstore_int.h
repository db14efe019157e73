/* The parsed trust material of a sigstoreSigned requirement, shared by the legacy and bundle verifiers. */
#ifndef CCP_SIGNATURE_SIGSTORE_INT_H
#define CCP_SIGNATURE_SIGSTORE_INT_H

#include "signature/sigstore.h"

struct ccp_sigstore_trust {
	EVP_PKEY **keys;
	size_t n_keys;
	EVP_PKEY **rekor;
	size_t n_rekor;
	STACK_OF(X509) *fulcio_roots;
	const char *fulcio_issuer, *fulcio_email;
	STACK_OF(X509) *pki_roots, *pki_intermediates;
	const char *pki_email, *pki_hostname;
};

#endif
