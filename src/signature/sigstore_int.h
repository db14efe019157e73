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

/*
 * Tries one configured key against what the transparency log holds; *itime is the log time when it verifies.
 * CCP_ENOMEM and CCP_EINTERNAL stop the search, any other error is that key's reason.
 */
typedef int (*ccp_sigstore_key_try)(void *ctx, EVP_PKEY *key, int64_t *itime, ccp_err *e);

/*
 * The configured key a log entry names (t->n_keys > 0): the first key try_key accepts, its index in *picked.
 * When none does, a policy error "No public key verified against <against>: <reasons>".
 */
int ccp_sigstore_pick_key(const ccp_sigstore_trust *t, ccp_sigstore_key_try try_key, void *ctx, const char *against,
			  size_t *picked, int64_t *itime, ccp_err *e);

/* Appends the PEM text of key (a public key) or, when key is NULL, of cert. */
int ccp_pem_encode(ccp_buf *out, EVP_PKEY *key, X509 *cert, ccp_err *e);

/* The DER of the first PEM block in text (Go pem.Decode); *rest is the offset of what follows its END line. */
int ccp_pem_block_der(ccp_buf *der, const char *text, size_t len, size_t *rest);

#endif
