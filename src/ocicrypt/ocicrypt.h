/*
 * ocicrypt layer encryption, decrypt side (containers/ocicrypt's format):
 * - annotations org.opencontainers.image.enc.keys.<scheme> (comma-separated base64 wrapped keys)
 *   and org.opencontainers.image.enc.pubopts (base64 PublicLayerBlockCipherOptions JSON);
 * - unwrapping through key providers (include/ccpull/sys/keyprovider.h; the providers of
 *   keyproviders/keyproviders.h, which the keyring builds) into the PrivateLayerBlockCipherOptions
 *   JSON (symmetric key and nonce);
 * - the AES_256_CTR_HMAC_SHA256 stream: AES-256-CTR with the nonce as initial counter block and
 *   HMAC-SHA256 with the same key over the ciphertext, compared at the end.
 */
#ifndef CCP_OCICRYPT_OCICRYPT_H
#define CCP_OCICRYPT_OCICRYPT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "ccpull/sys/keyprovider.h"
#include "keyproviders/keyproviders.h"
#include "util/buf.h"
#include "util/b64.h"
#include "util/err.h"

#define CCP_OCICRYPT_KEY_LEN 32
#define CCP_OCICRYPT_NONCE_LEN 16
#define CCP_OCICRYPT_HMAC_LEN 32
#define CCP_OCICRYPT_CIPHER "AES_256_CTR_HMAC_SHA256"
#define CCP_OCICRYPT_ANN_KEYS "org.opencontainers.image.enc.keys."
#define CCP_OCICRYPT_ANN_PUBOPTS "org.opencontainers.image.enc.pubopts"
#define CCP_OCICRYPT_WRAPPED_MAX 64           /* wrapped keys per scheme */
#define CCP_OCICRYPT_ANNOTATION_MAX CCP_KEYPROVIDER_WRAPPED_MAX /* bytes of one annotation value */
#define CCP_OCICRYPT_OPTS_MAX CCP_KEYPROVIDER_OPTS_MAX           /* bytes of unwrapped key options */

/* ---- annotations ---- */

typedef struct ccp_enc_scheme {
	char *scheme;          /* "jwe", "provider.kbs", "pgp", ... */
	ccp_buf *wrapped;      /* base64-decoded wrapped keys */
	size_t n_wrapped;
} ccp_enc_scheme;

typedef struct ccp_enc_info {
	ccp_enc_scheme *schemes;
	size_t n_schemes;
	unsigned char hmac[CCP_OCICRYPT_HMAC_LEN]; /* expected HMAC-SHA256 of the ciphertext */
} ccp_enc_info;

/*
 * Parses the encryption annotations of one layer descriptor (its "annotations" object, may be NULL).
 * Missing keys or pubopts, an unknown cipher, bad base64 or JSON: CCP_EDECRYPT naming the problem.
 */
int ccp_enc_info_parse(ccp_enc_info *out, const json_t *annotations, ccp_err *e);
void ccp_enc_info_free(ccp_enc_info *info);

/* The "annotations" of layers[k] of a verified image manifest (NULL when absent). */
int ccp_manifest_layer_annotations(json_t **out, const void *manifest, size_t len, size_t k, ccp_err *e);

/* ---- key options ---- */

typedef struct ccp_layer_crypt {
	unsigned char key[CCP_OCICRYPT_KEY_LEN];
	unsigned char nonce[CCP_OCICRYPT_NONCE_LEN];
	unsigned char hmac[CCP_OCICRYPT_HMAC_LEN];
} ccp_layer_crypt;

/* Parses PrivateLayerBlockCipherOptions JSON into key and nonce (CCP_EDECRYPT when malformed). */
int ccp_private_opts_parse(ccp_layer_crypt *out, const void *json, size_t len, ccp_err *e);
void ccp_layer_crypt_wipe(ccp_layer_crypt *c);

/* ---- the AES-256-CTR + HMAC-SHA256 stream ---- */

typedef struct ccp_decryptor ccp_decryptor;

int ccp_decryptor_new(ccp_decryptor **out, const ccp_layer_crypt *c, ccp_err *e);
/* HMACs n ciphertext bytes of in and writes their plaintext to out (in == out allowed). */
int ccp_decryptor_update(ccp_decryptor *d, const void *in, void *out, size_t n, ccp_err *e);
/* Compares the HMAC of all the ciphertext with the expected one: CCP_EINTEGRITY on mismatch. */
int ccp_decryptor_final(ccp_decryptor *d, ccp_err *e);
/* Frees and wipes. */
void ccp_decryptor_free(ccp_decryptor *d);

/* ---- keyring: the key providers of one pull ---- */

typedef struct ccp_keyring ccp_keyring;

/*
 * Builds the key providers from --decryption-key specs ("jwe:PATH[:PASSWORD]", "pgp:PATH[:PASSWORD]"
 * and "pkcs7:PATH[:PASSWORD]" with PASSWORD as pass=..., file=PATH or literal;
 * "provider:NAME[:PARAMS]") and the keyprovider config file (may be
 * NULL). Every keyprovider of the config is used; provider:NAME specs add parameters for it and must
 * name one of them. Bad specs, unreadable keys or configs: CCP_EINVALID.
 */
int ccp_keyring_new(ccp_keyring **out, const char *const *specs, size_t n_specs, const char *config_path,
		    ccp_err *e);
void ccp_keyring_free(ccp_keyring *kr);
/* Takes ownership of kp (freed on failure too). */
int ccp_keyring_add(ccp_keyring *kr, ccp_keyprovider *kp, ccp_err *e);
/*
 * Puts the n providers of kps before all the others, in their order, without taking them: the keyring
 * never frees them (a context's providers, ccp_context_add_keyprovider). They replace the stand-ins of
 * the schemes they handle, as ccp_keyring_add does.
 */
int ccp_keyring_add_first(ccp_keyring *kr, ccp_keyprovider *const *kps, size_t n, ccp_err *e);

/*
 * Finds the layer key: every provider that handles a scheme of the layer tries each wrapped key.
 * No key opens it: CCP_EDECRYPT naming layer, the schemes found and the keys tried.
 */
int ccp_keyring_unwrap(ccp_layer_crypt *out, ccp_keyring *kr, const ccp_enc_info *info, const char *layer,
		       ccp_err *e);

/* ---- keyprovider config (OCICRYPT_KEYPROVIDER_CONFIG) ---- */

typedef struct ccp_kp_entry {
	char *name;
	char *cmd_path;     /* cmd transport, or NULL */
	char **cmd_args;
	size_t n_cmd_args;
	char *grpc;         /* grpc transport, or NULL */
	char *ttrpc;        /* ttrpc transport (ocicrypt-rs), or NULL */
	char *native;       /* ocicrypt-rs's in-process provider (its value, e.g. "attestation-agent"), or NULL */
} ccp_kp_entry;

/* The Confidential Data Hub's socket (kata's ocicrypt config names it for "attestation-agent"): ccpull's own. */
#define CCP_CDH_SOCKET "/run/confidential-containers/cdh.sock"


typedef struct ccp_kp_config {
	ccp_kp_entry *entries;
	size_t n;
} ccp_kp_config;

/*
 * {"key-providers": {NAME: {"cmd": {"path": P, "args": [..]}} | {"grpc": "host:port"} | {"ttrpc": "unix:///PATH"}
 * | {"native": "attestation-agent"}}}, exactly one kind each (containers/ocicrypt's cmd and grpc, ocicrypt-rs's
 * ttrpc and native); "grpc-tls" is refused (CCP_EINVALID naming it). what names the file.
 */
int ccp_kp_config_parse(ccp_kp_config *out, const void *data, size_t len, const char *what, ccp_err *e);
void ccp_kp_config_free(ccp_kp_config *c);

#endif
