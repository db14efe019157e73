/*
 * A private GNUPGHOME: a gpgme OpenPGP context on a new directory under $TMPDIR, so that neither the
 * user's keyring nor its trust settings or agent take part. Shared by simple signing (the policy's
 * public keys, src/signature/gpg.c) and ocicrypt's pgp key provider (a secret key,
 * keyproviders/pgp/pgp.c). Not in a build without gpgme (CCPULL_WITH_GPGME=OFF), where
 * gpg_none.c and pgp_none.c replace both users.
 */
#ifndef CCP_UTIL_GPGHOME_H
#define CCP_UTIL_GPGHOME_H

#include <stddef.h>
#include "util/err.h"

struct gpgme_context;

/*
 * The context on a new private GNUPGHOME (its path into home, home_len >= PATH_MAX). Failures are
 * reported with code.
 */
int ccp_gpg_home_new(struct gpgme_context **ctx, char *home, size_t home_len, int code, ccp_err *e);
/* Releases ctx (may be NULL), stops the home's gpg-agent when agent is set, and removes home. */
void ccp_gpg_home_free(struct gpgme_context *ctx, char *home, int agent);

#endif
