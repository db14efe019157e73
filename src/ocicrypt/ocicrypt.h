/*
 * ocicrypt layer encryption, decrypt side (containers/ocicrypt's format):
 * - annotations org.opencontainers.image.enc.keys.<scheme> (comma-separated base64 wrapped keys)
 *   and org.opencontainers.image.enc.pubopts (base64 PublicLayerBlockCipherOptions JSON);
 * - unwrapping through key providers (include/ccpull/sys/keyprovider.h) into the
 *   PrivateLayerBlockCipherOptions JSON (symmetric key and nonce);
 * - the AES_256_CTR_HMAC_SHA256 stream: AES-256-CTR with the nonce as initial counter block and
 *   HMAC-SHA256 with the same key over the ciphertext, compared at the end.
 */
#ifndef CCP_OCICRYPT_OCICRYPT_H
#define CCP_OCICRYPT_OCICRYPT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "ccpull/sys/keyprovider.h"
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
#define CCP_OCICRYPT_ANNOTATION_MAX (1u << 20) /* bytes of one annotation value */
#define CCP_OCICRYPT_OPTS_MAX (64u << 10)      /* bytes of unwrapped key options */

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
 * Builds the key providers from --decryption-key specs ("jwe:PATH[:PASSWORD]" with PASSWORD as
 * pass=..., file=PATH or literal; "provider:NAME[:PARAMS]") and the keyprovider config file (may be
 * NULL). Every keyprovider of the config is used; provider:NAME specs add parameters for it and must
 * name one of them. Bad specs, unreadable keys or configs: CCP_EINVALID.
 */
int ccp_keyring_new(ccp_keyring **out, const char *const *specs, size_t n_specs, const char *config_path,
		    ccp_err *e);
void ccp_keyring_free(ccp_keyring *kr);
/* Takes ownership of kp (freed on failure too). */
int ccp_keyring_add(ccp_keyring *kr, ccp_keyprovider *kp, ccp_err *e);

/*
 * Finds the layer key: every provider that handles a scheme of the layer tries each wrapped key.
 * No key opens it: CCP_EDECRYPT naming layer, the schemes found and the keys tried.
 */
int ccp_keyring_unwrap(ccp_layer_crypt *out, ccp_keyring *kr, const ccp_enc_info *info, const char *layer,
		       ccp_err *e);

/* ---- key providers (keyproviders/) ---- */

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
