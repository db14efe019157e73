/*
 * The Confidential Data Hub's other services, as library calls: KBS resources (GetResource),
 * sealed secrets (UnsealSecret) and the ocicrypt keyprovider's key unwrapping (UnWrapKey), with the
 * semantics of guest-components' confidential-data-hub (hub/src/hub.rs, hub/src/secret/,
 * hub/src/bin/ttrpc_server/).
 *
 * Where resources come from is the kbs part of ccp_pull_options: url (the Trustee KBS, after
 * attestation with attester, cert, key_type, aa_socket) and resources (an offline resources file,
 * asked first); timeout_s bounds each call. NULL options: no KBS, so every resource fails.
 *
 * Everything these calls return is a secret: free it with ccp_cdh_free, which wipes it.
 * ccp_context_last_error(ctx) says why a call failed (never with secret bytes in it), and
 * ccp_context_warning* what it allowed that weakens the guarantees (a KBS over plain HTTP).
 */
#ifndef INCLUDE_ccpull_cdh_h__
#define INCLUDE_ccpull_cdh_h__

#include <stddef.h>
#include "common.h"
#include "pull.h"

CCP_BEGIN_DECL

/* CDH's directory of sealed-secret verification keys (hub/src/secret/mod.rs SIGNING_CREDENTIALS_PATH). */
#define CCP_SEALED_SECRET_DIR "/run/confidential-containers/cdh/sealed-secret"
/* The largest resource, secret, key unwrap input or output these calls take or give, in bytes. */
#define CCP_CDH_DATA_MAX (1u << 20)

/* Wipes and frees what ccp_resource_get, ccp_secret_unseal or ccp_key_unwrap returned. NULL: no-op. */
CCP_EXTERN(void) ccp_cdh_free(void *data, size_t len);

/*
 * GetResource: the resource uri, "kbs:///REPOSITORY/TYPE/TAG" (the authority of kbs://HOST/R/T/G is
 * ignored, as CDH ignores it: the configured source answers), from the offline resources file when
 * it lists it, else from the KBS. Each part is 1 to 128 of [A-Za-z0-9._-]; other plugins
 * (kbs+NAME://), other path lengths and queries: CCP_EINVALID. No source configured: CCP_EINVALID.
 * The KBS refusing or failing, or the resource missing: CCP_EDECRYPT. *out (a secret, may hold
 * zero bytes but is never NULL on success) and *out_len are set only on success.
 */
CCP_EXTERN(int) ccp_resource_get(unsigned char **out, size_t *out_len, ccp_context *ctx, const char *uri,
				 const ccp_pull_options *opts);

typedef struct ccp_secret_options {
	unsigned int version;
	/* CDH's skip_sealed_secret_verification: the header and signature are not read at all */
	int skip_verification;
	/* where a kid that is not a kbs:/// resource names a file; NULL: CCP_SEALED_SECRET_DIR */
	const char *keys_dir;
} ccp_secret_options;

#define CCP_SECRET_OPTIONS_VERSION 1
#define CCP_SECRET_OPTIONS_INIT { CCP_SECRET_OPTIONS_VERSION, 0, NULL }

/* Initialises o to the defaults of the given version. CCP_EINVALID for an unknown version. */
CCP_EXTERN(int) ccp_secret_options_init(ccp_secret_options *o, unsigned int version);

/*
 * UnsealSecret: secret ("sealed.HEADER.PAYLOAD.SIGNATURE", len bytes) -> its plaintext.
 * Unless sopts->skip_verification, the JWS must be signed with ES256 (ECDSA P-256, SHA-256) by the
 * key its "kid" names: a kbs:/// resource (fetched as ccp_resource_get does), else a file under
 * keys_dir (a relative path that stays beneath it); the key is a JWK ({"kty": "EC", "crv": "P-256",
 * "x", "y"}), as CDH's `secret` tool makes them. A bad signature, a wrong or unusable key:
 * CCP_EPOLICY. Then the payload: a "vault" secret of provider "kbs" gives the resource its "name"
 * names; other vault providers and "envelope" secrets (KMS-wrapped keys): CCP_EINVALID naming what
 * is not supported. Malformed: CCP_EINVALID. *out and *out_len are set only on success.
 */
CCP_EXTERN(int) ccp_secret_unseal(unsigned char **out, size_t *out_len, ccp_context *ctx, const void *secret,
				  size_t len, const ccp_secret_options *sopts, const ccp_pull_options *opts);

/*
 * UnWrapKey of the ocicrypt keyprovider protocol, as CDH answers it for image-rs (and as the
 * "attestation-agent" keyprovider of kata's ocicrypt config expects): input is a
 * KeyProviderKeyWrapProtocolInput JSON document {"op": "keyunwrap", "keyunwrapparams": {"dc": ...,
 * "annotation": base64(annotation packet)}}; the packet (coco_keyprovider's {kid, wrapped_data, iv,
 * wrap_type}, v1 or v2) names the KEK, a KBS resource fetched as ccp_resource_get does, that opens
 * wrapped_data. *out is the KeyProviderKeyWrapProtocolOutput JSON {"keyunwrapresults":
 * {"optsdata": [bytes...]}} (the key options as an array of numbers, as CDH's serde gives them;
 * ocicrypt's Go and Rust clients both read it). Malformed JSON, bad base64 or another op:
 * CCP_EINVALID; a malformed packet, the KEK missing or not opening it, a KBS failure: CCP_EDECRYPT.
 */
CCP_EXTERN(int) ccp_key_unwrap(unsigned char **out, size_t *out_len, ccp_context *ctx, const void *input,
			       size_t len, const ccp_pull_options *opts);

CCP_END_DECL
#endif
