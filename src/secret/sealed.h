/*
 * Sealed secrets of the Confidential Data Hub (guest-components confidential-data-hub/docs/SEALED_SECRET.md,
 * hub/src/secret/mod.rs): "sealed." followed by a JWS compact serialization
 * BASE64URL(protected header) "." BASE64URL(payload) "." BASE64URL(signature), base64url without
 * padding. The header names the algorithm (ES256, the only one CDH accepts) and the verification
 * key ("kid": a kbs:/// resource, or a file under the sealed-secret directory); the signature is the
 * raw 64-byte r||s of ECDSA P-256 with SHA-256 over "header.payload" as sent; the payload is the
 * secret's JSON: {"version": "0.1.0", "type": "vault"|"envelope", "provider": ..., ...}.
 *
 * This module parses and verifies; fetching keys and resources is the caller's (src/pull/cdh_api.c).
 */
#ifndef CCP_SECRET_SEALED_H
#define CCP_SECRET_SEALED_H

#include <stddef.h>
#include "util/buf.h"
#include "util/err.h"

#define CCP_SEALED_MAX (1u << 20)      /* bytes of a sealed secret */
#define CCP_SEALED_HEADER_MAX 4096u    /* bytes of the decoded protected header */
#define CCP_SEALED_KID_MAX 512u        /* bytes of the kid */
#define CCP_SEALED_NAME_MAX 1024u      /* bytes of a vault secret's name, a provider's name */
#define CCP_SEALED_KEY_MAX (64u << 10) /* bytes of a verification key (a JWK) */
#define CCP_SEALED_VERSION "0.1.0"
#define CCP_SEALED_SIG_LEN 64          /* ES256: r || s, 32 bytes each */

typedef enum { CCP_SEALED_VAULT = 1, CCP_SEALED_ENVELOPE = 2 } ccp_sealed_type;

typedef struct ccp_sealed {
	/* the JWS (NULL/empty when parsed without verification: its header is not read) */
	char *alg;                    /* the header's "alg" */
	char *kid;                    /* the header's "kid" */
	const char *signing_input;    /* "header.payload" as sent, inside the caller's input */
	size_t signing_input_len;
	unsigned char sig[CCP_SEALED_SIG_LEN];
	size_t sig_len;
	/* the payload */
	ccp_sealed_type type;
	char *provider;
	char *name;                   /* vault: the secret's name (a resource URI for provider kbs) */
	char *key_id;                 /* envelope: the sealing key's id */
} ccp_sealed;

/*
 * Parses s (len bytes, not NUL-terminated): the "sealed." prefix, the three base64url parts, the
 * payload's JSON. With verify, the header is parsed too and must be a JSON object with a string
 * "alg" and a string "kid" (no "crit", no "b64"), and the signature must decode; without it, as CDH
 * does when skip_sealed_secret_verification is set, only the payload is read. The version must be
 * 0.1.0 and type vault (with string name and provider, object provider_settings, and annotations an
 * object when present) or envelope (string provider; key_id a string when present: an envelope is
 * only named, never opened). The algorithm is not checked here (ccp_sealed_verify). Anything malformed:
 * CCP_EINVALID naming the part. out keeps pointers into s: s must outlive it.
 */
int ccp_sealed_parse(ccp_sealed *out, const char *s, size_t len, int verify, ccp_err *e);
void ccp_sealed_free(ccp_sealed *sec);

/*
 * The EC P-256 public key of a JWK ({"kty": "EC", "crv": "P-256", "x": ..., "y": ...}; other
 * members such as "d", "kid", "use" are ignored) as an EVP_PKEY * (*out; EVP_PKEY_free). Another
 * key type or curve, bad coordinates, a point off the curve: CCP_EPOLICY naming the problem.
 */
int ccp_jwk_p256_parse(void **out, const void *jwk, size_t len, ccp_err *e);

/*
 * Checks the signature of a parsed (with verify) secret with the JWK key: alg must be ES256 and the
 * signature valid over the signing input. CCP_EPOLICY otherwise.
 */
int ccp_sealed_verify(const ccp_sealed *sec, const void *jwk, size_t jwk_len, ccp_err *e);

#endif
