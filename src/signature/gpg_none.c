/*
 * Simple signing in a build without OpenPGP (-DCCPULL_WITH_GPGME=OFF, for guests that verify only
 * sigstore signatures): every signedBy requirement is rejected with an error that says why, so that
 * a policy written for a build with gpgme fails closed, never open. Replaces gpg.c.
 */
#include "signature/signature.h"

#include <stddef.h>

#define NO_GPGME "this ccpull is built without OpenPGP (CCPULL_WITH_GPGME=OFF)"

int ccp_gpg_keyring_new(ccp_gpg_keyring **out, const ccp_buf *blobs, size_t n_blobs, ccp_err *e)
{
	*out = NULL;
	return ccp_err_set(e, CCP_EPOLICY,
			   "%s: a signedBy requirement (simple signing) cannot be verified; "
			   "use sigstoreSigned or a build with gpgme and the gpg program", NO_GPGME);
}

void ccp_gpg_keyring_free(ccp_gpg_keyring *k)
{
}

int ccp_gpg_verify(ccp_gpg_keyring *k, const void *sig, size_t len, ccp_buf *payload, char *signer,
		   size_t signer_len, ccp_err *e)
{
	if (signer_len > 0)
		signer[0] = '\0';
	return ccp_err_set(e, CCP_EPOLICY, "%s: simple signatures cannot be verified", NO_GPGME);
}
