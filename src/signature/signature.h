/*
 * Simple signing (containers-signature(5)): OpenPGP verification with gpgme in an ephemeral keyring,
 * the strict payload parser, and the manifest digest a signature is compared with. No network I/O.
 */
#ifndef CCP_SIGNATURE_SIGNATURE_H
#define CCP_SIGNATURE_SIGNATURE_H

#include <stddef.h>
#include "digest/digest.h"
#include "util/b64.h"
#include "util/buf.h"
#include "util/err.h"

#define CCP_SIG_PAYLOAD_MAX (4u << 20)

/* The critical part of a simple-signing payload, untrusted until its digest and identity are checked. */
typedef struct ccp_sig_payload {
	char *docker_reference;   /* critical.identity.docker-reference, as signed */
	char *manifest_digest;    /* critical.image.docker-manifest-digest, a valid digest */
} ccp_sig_payload;

/* Parses a payload exactly as containers/image does (unknown or missing keys refused). CCP_EPOLICY on error. */
int ccp_sig_payload_parse(ccp_sig_payload *out, const void *data, size_t len, ccp_err *e);
/* The same schema with type "cosign container image signature" and "optional" allowed to be null (cosign). */
int ccp_sigstore_payload_parse(ccp_sig_payload *out, const void *data, size_t len, ccp_err *e);
void ccp_sig_payload_free(ccp_sig_payload *p);

/* A private GNUPGHOME holding only the policy's keys; removed by ccp_gpg_keyring_free. */
typedef struct ccp_gpg_keyring ccp_gpg_keyring;

/*
 * Imports OpenPGP public keys (binary or armored; several per blob allowed). The trusted identities are
 * the primary fingerprints of the keys imported. No key imported -> CCP_EPOLICY.
 */
int ccp_gpg_keyring_new(ccp_gpg_keyring **out, const ccp_buf *blobs, size_t n_blobs, ccp_err *e);
void ccp_gpg_keyring_free(ccp_gpg_keyring *k);

/*
 * Verifies a binary OpenPGP signed message: exactly one good signature, by a trusted key or a subkey of
 * one, not expired or revoked. payload receives the signed bytes (capped), signer the primary fingerprint.
 * Any failure is CCP_EPOLICY with the reason.
 */
int ccp_gpg_verify(ccp_gpg_keyring *k, const void *sig, size_t len, ccp_buf *payload, char *signer,
		   size_t signer_len, ccp_err *e);

/*
 * The sha256 digest containers/image compares a signed digest with: sha256 of the bytes, or for a
 * signed Docker schema1 manifest, of its JWS payload. CCP_EPOLICY when a schema1 signature is malformed.
 */
int ccp_sig_manifest_digest(ccp_digest *out, const void *manifest, size_t len, ccp_err *e);

/* Kinds of stored signatures (containers/image internal/signature FromBlob). */
typedef enum { CCP_SIG_SIMPLE = 1, CCP_SIG_SIGSTORE = 2 } ccp_sig_kind;

/* Classifies a stored signature blob and points *data at its body. Unknown format -> CCP_EPOLICY. */
int ccp_sig_classify(const void *blob, size_t len, ccp_sig_kind *kind, const unsigned char **data, size_t *dlen,
		     ccp_err *e);

#endif
