/*
 * ocicrypt's pgp scheme in a build without OpenPGP (-DCCPULL_WITH_GPGME=OFF): a pgp decryption key
 * is refused when it is configured, with an error that says why. Replaces pgp.c.
 */
#include "keyproviders/keyproviders.h"

#include <stddef.h>

int ccp_pgp_provider_new(ccp_keyprovider **out, const char *path, const char *password, ccp_err *e)
{
	*out = NULL;
	return ccp_err_set(e, CCP_EINVALID,
			   "decryption key `%.400s`: this ccpull is built without OpenPGP (CCPULL_WITH_GPGME=OFF), "
			   "so pgp keys cannot be used", path);
}
