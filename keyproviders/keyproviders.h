/*
 * The key providers (keyproviders/): the interface of this module to the rest of the library. Each
 * constructor returns a ccp_keyprovider (include/ccpull/sys/keyprovider.h) that ocicrypt's keyring
 * asks through the vtable; the KBS also serves kbs:/// resources through a ccp_resource_src
 * (config/resource.h). The KBS protocol and the attesters are internal to keyproviders/kbs (its tests
 * reach them through kbs.h); the JWE and PKCS#7 decryptors and the keyprovider protocol's messages
 * are declared here too, for the tests and fuzzers.
 */
#ifndef CCP_KEYPROVIDERS_KEYPROVIDERS_H
#define CCP_KEYPROVIDERS_KEYPROVIDERS_H

#include <stddef.h>
#include <stdint.h>
#include "ccpull/sys/keyprovider.h"
#include "config/resource.h"
#include "util/b64.h"
#include "util/buf.h"
#include "util/cancel.h"
#include "util/err.h"

#define CCP_KEYPROVIDER_WRAPPED_MAX (1u << 20) /* bytes of one wrapped key (an annotation value) */
#define CCP_KEYPROVIDER_OPTS_MAX (64u << 10)   /* bytes of unwrapped key options */

/* ---- what the providers share (keyproviders/common) ---- */

typedef int (*ccp_keyprovider_handles_fn)(const ccp_keyprovider *kp, const char *scheme);
typedef int (*ccp_keyprovider_unwrap_fn)(ccp_keyprovider *kp, const char *scheme, const unsigned char *wrapped,
					 size_t wrapped_len, const char *dc_json, unsigned char **out, size_t *out_len,
					 char *err, size_t err_len);
typedef void (*ccp_keyprovider_free_fn)(ccp_keyprovider *kp);

/* Fills kp's vtable at CCP_KEYPROVIDER_VERSION; description is borrowed (it lives in the provider). */
void ccp_keyprovider_init(ccp_keyprovider *kp, ccp_keyprovider_handles_fn handles, ccp_keyprovider_unwrap_fn unwrap,
			  ccp_keyprovider_free_fn free_fn, const char *description);

/*
 * Sends one keyprovider protocol request (JSON, NUL-terminated) over a transport and appends the answer's JSON to
 * answer (which is wiped after use); a failure in e.
 */
typedef int (*ccp_keyprovider_exchange_fn)(ccp_keyprovider *kp, const char *request, ccp_buf *answer, ccp_err *e);

/* A provider over a keyprovider protocol transport (cmd, grpc, ttrpc) begins with this. */
typedef struct ccp_transport_provider {
	ccp_keyprovider base;
	ccp_keyprovider_exchange_fn exchange;
} ccp_transport_provider;

/*
 * The vtable's unwrap of a ccp_transport_provider: the request for wrapped and dc_json goes through its
 * exchange, *out is the optsdata of the answer.
 */
int ccp_keyprovider_transport_unwrap(ccp_keyprovider *kp, const char *scheme, const unsigned char *wrapped,
				     size_t len, const char *dc_json, unsigned char **out, size_t *out_len, char *err,
				     size_t err_len);

/* JWE (RFC 7516) with one private key (PEM or DER, optionally encrypted with password). */
int ccp_jwe_provider_new(ccp_keyprovider **out, const char *path, const char *password, ccp_err *e);
/*
 * Decrypts a JWE (compact, flattened or general JSON serialization) with key (an EVP_PKEY *):
 * alg RSA-OAEP, RSA-OAEP-256 or ECDH-ES+A256KW (P-256, P-384, P-521), enc A256GCM.
 */
int ccp_jwe_decrypt(void *pkey, const void *jwe, size_t len, ccp_buf *plain, ccp_err *e);

/* ocicrypt keyprovider protocol over a command's stdin/stdout. args excludes argv[0]. */
int ccp_cmd_provider_new(ccp_keyprovider **out, const char *name, const char *path, const char *const *args,
			 size_t n_args, ccp_err *e);
/*
 * ocicrypt keyprovider protocol over gRPC (keyprovider.KeyProviderService/UnWrapKey, HTTP/2 cleartext);
 * address "HOST:PORT", "dns:///HOST:PORT" or "unix:PATH".
 */
int ccp_grpc_provider_new(ccp_keyprovider **out, const char *name, const char *address, ccp_err *e);
/* Appends one gRPC message (uncompressed) holding keyProviderKeyWrapProtocolInput{payload}. */
int ccp_grpc_frame_request(ccp_buf *out, const void *payload, size_t len, ccp_err *e);
/* The field of the one keyProviderKeyWrapProtocolOutput message of a unary answer body (CCP_EDECRYPT if malformed). */
int ccp_grpc_parse_response(ccp_buf *out, const void *body, size_t len, ccp_err *e);

/*
 * Appends a keyProviderKeyWrapProtocolInput message: field 1 (bytes) holding payload, at most max bytes
 * (CCP_EINVALID beyond).
 */
int ccp_keyprovider_pb_input(ccp_buf *out, const void *payload, size_t len, size_t max, ccp_err *e);
/*
 * Field 1 (bytes) of a keyProviderKeyWrapProtocolOutput message (unknown fields skipped, the last field 1
 * wins; *field points into p, NULL when absent). what names the answer in messages; malformed: CCP_EDECRYPT.
 */
int ccp_keyprovider_pb_output(const unsigned char **field, size_t *field_len, const unsigned char *p, size_t len,
			      const char *what, ccp_err *e);
/*
 * ocicrypt-rs's keyprovider "ttrpc" transport (guest-components protos/confidential-data-hub/keyprovider.proto):
 * keyprovider.KeyProviderService/UnWrapKey on the unix socket of address "unix:///PATH" or "unix:PATH",
 * the messages those of the grpc transport.
 */
int ccp_ttrpc_provider_new(ccp_keyprovider **out, const char *name, const char *address, ccp_err *e);
/* The socket path of a ttrpc address ("unix:///PATH", "unix:PATH"); CCP_EINVALID for anything else. */
int ccp_ttrpc_address(char *out, size_t out_len, const char *name, const char *address, ccp_err *e);
/*
 * A key provider of scheme provider.NAME whose keys ccpull unwraps in-process (the "native" kind, or
 * kata's "attestation-agent" ttrpc entry pointing at the Confidential Data Hub's socket, which is
 * ccpull): it stands in until the in-process provider of that scheme is added to the keyring
 * (ccp_keyring_add replaces it) and otherwise fails naming what is missing. how describes the entry.
 */
int ccp_inprocess_provider_new(ccp_keyprovider **out, const char *name, const char *how, ccp_err *e);

/*
 * PKCS#7/CMS EnvelopedData (ocicrypt's pkcs7 scheme): RSA key transport (PKCS#1 v1.5) to a recipient named
 * by the issuer and serial of an X.509 certificate, AES-GCM content. Each file holds private keys (PEM or
 * DER, with passwords[i] when encrypted; passwords[i] may be NULL), certificates, or both; every key is
 * paired with the certificates of its public key. No key with a certificate: CCP_EINVALID.
 */
int ccp_pkcs7_provider_new(ccp_keyprovider **out, const char *const *paths, const char *const *passwords, size_t n,
			   ccp_err *e);
/* Decrypts an EnvelopedData (DER) for cert with pkey (X509 *, EVP_PKEY *); CCP_EDECRYPT if it does not open. */
int ccp_pkcs7_decrypt(void *cert, void *pkey, const void *der, size_t len, ccp_buf *plain, ccp_err *e);

/* OpenPGP (ocicrypt's pgp scheme): a secret key file (binary or armored) in a private GNUPGHOME, via gpgme. */
int ccp_pgp_provider_new(ccp_keyprovider **out, const char *path, const char *password, ccp_err *e);

/* The keyprovider protocol's messages. */
int ccp_keyprovider_request(char **out, const char *dc_json, const unsigned char *wrapped, size_t len,
			    ccp_err *e);
/* Parses {"keyunwrapresults": {"optsdata": base64 string | array of bytes}}. */
int ccp_keyprovider_parse_response(ccp_buf *opts, const void *data, size_t len, ccp_err *e);

/* ---- the KBS (keyproviders/kbs) ---- */

#define CCP_KBS_TSM_ROOT "/sys/kernel/config/tsm/report"
#define CCP_AA_SOCKET "/run/confidential-containers/attestation-agent/attestation-agent.sock"

typedef struct ccp_kbs_config {
	const char *url;       /* https://HOST[:PORT] (http:// only when written so) */
	const char *attester;  /* see ccp_attester_parse */
	const char *cert;      /* PEM CA bundle for the KBS's TLS certificate, or NULL for the system's */
	const char *tsm_root;  /* NULL: CCP_KBS_TSM_ROOT (tests point it elsewhere) */
	int rsa;               /* ephemeral key: 0 EC P-256 (Trustee's default), 1 RSA 2048 (RSA-OAEP-256) */
	const char *offline;   /* an offline resources file (ccp_offline_resources_parse), asked before the KBS;
	                        * either it or url must be set */
	const char *aa_socket; /* the attestation agent's ttrpc socket for the aa attester; NULL: CCP_AA_SOCKET */
	uint64_t deadline_ms;  /* CLOCK_MONOTONIC ms (ccp_registry_deadline) when the caller's time is up; 0: none */
	const ccp_cancel *cancel; /* the caller's cancellation (may be NULL): every wait and request stops at it */
} ccp_kbs_config;

#define CCP_COCO_SCHEME "provider.attestation-agent" /* the scheme of CoCo's key provider (kid kbs:///...) */

/* The key provider of scheme provider.attestation-agent, backed by the KBS of cfg (strings copied). */
int ccp_kbs_provider_new(ccp_keyprovider **out, const ccp_kbs_config *cfg, ccp_err *e);
/*
 * The resource source of cfg (borrowed: it must outlive out's use): kbs:/// resources from the
 * offline file when it lists them, else from the KBS, with the sessions ccp_kbs_hold keeps.
 */
void ccp_kbs_source(ccp_resource_src *out, const ccp_kbs_config *cfg);
/* The resource key pair type of a --kbs-key value: "ec" (NULL: ec) -> 0, "rsa" -> 1; else CCP_EINVALID. */
int ccp_kbs_key_type(int *rsa, const char *name, ccp_err *e);
/* Forgets every session: wipes their attestations and cached resources (sessions in use are freed by
 * their last user). The last context's end and the last ccp_shutdown call it. */
void ccp_kbs_reset(void);
/*
 * A context begins and ends (ccp_context_new, ccp_context_free): sessions are kept only while some
 * context is alive; when the last one goes, ccp_kbs_reset. Both also drop expired sessions.
 */
void ccp_kbs_hold(void);
void ccp_kbs_release(void);

#endif
