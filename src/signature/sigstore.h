/*
 * Sigstore / cosign signatures (containers/image signature/policy_eval_sigstore.go, internal/rekor_set.go,
 * fulcio_cert.go, pki_cert.go): public keys, Fulcio certificates with Rekor SETs, and PKI certificates.
 * OpenSSL libcrypto only; no network I/O. Every rejection is CCP_EPOLICY with the reason.
 */
#ifndef CCP_SIGNATURE_SIGSTORE_H
#define CCP_SIGNATURE_SIGSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "signature/signature.h"
#include "util/buf.h"
#include "util/err.h"

#define CCP_SIGSTORE_MIME "application/vnd.dev.cosign.simplesigning.v1+json"
#define CCP_COSIGN_ANN_SIGNATURE "dev.cosignproject.cosign/signature"
#define CCP_COSIGN_ANN_CERT "dev.sigstore.cosign/certificate"
#define CCP_COSIGN_ANN_CHAIN "dev.sigstore.cosign/chain"
#define CCP_COSIGN_ANN_BUNDLE "dev.sigstore.cosign/bundle"

#define CCP_SIGSTORE_SIG_MAX (4u << 20)     /* one stored signature, annotations included */
#define CCP_SIGSTORE_MAX_KEYS 256           /* keys of one requirement */
#define CCP_SIGSTORE_MAX_CERTS 32           /* certificates in a chain or a CA file */
#define CCP_SIGSTORE_TRUST_FILE_MAX (1u << 20)

/* One piece of trust material from the policy: a file path, or inline (base64-decoded) data. */
typedef struct ccp_sigstore_src {
	char *path;
	ccp_buf data;
} ccp_sigstore_src;

/* The sigstoreSigned key sources of a policy requirement, as parsed (files are read on evaluation). */
typedef struct ccp_sigstore_policy {
	ccp_sigstore_src *keys;          /* keyPath, keyPaths, keyData, keyDatas */
	size_t n_keys;
	ccp_sigstore_src *rekor_keys;    /* rekorPublicKeyPath(s) / rekorPublicKeyData(s) */
	size_t n_rekor_keys;
	int has_fulcio;
	ccp_sigstore_src fulcio_ca;      /* caPath / caData */
	char *fulcio_issuer;
	char *fulcio_email;
	int has_pki;
	ccp_sigstore_src pki_roots;      /* caRootsPath / caRootsData */
	int has_pki_intermediates;
	ccp_sigstore_src pki_intermediates;
	char *pki_email;                 /* NULL when not required */
	char *pki_hostname;
} ccp_sigstore_policy;

void ccp_sigstore_policy_free(ccp_sigstore_policy *p);

/* A stored sigstore signature: the "sigstore-json" body {"mimeType", "payload", "annotations"}. */
typedef struct ccp_sigstore_sig {
	char *mime_type;
	ccp_buf payload;        /* the exact signed bytes */
	char *signature;        /* annotation values, NULL when absent */
	char *certificate;
	char *chain;
	char *bundle;
} ccp_sigstore_sig;

/* Parses the sigstore-json body strictly (exactly those three keys, annotations string-valued). */
int ccp_sigstore_sig_parse(ccp_sigstore_sig *out, const void *data, size_t len, ccp_err *e);
void ccp_sigstore_sig_free(ccp_sigstore_sig *s);

/* The trust material of one requirement, read and parsed once. */
typedef struct ccp_sigstore_trust ccp_sigstore_trust;

/* Reads and parses every key and CA; one unusable item fails the whole requirement (CCP_EPOLICY). */
int ccp_sigstore_trust_load(ccp_sigstore_trust **out, const ccp_sigstore_policy *p, ccp_err *e);
void ccp_sigstore_trust_free(ccp_sigstore_trust *t);

/*
 * Verifies one signature with mime type CCP_SIGSTORE_MIME against the trust material: the Rekor SET
 * (keys with Rekor, Fulcio), the certificate (Fulcio at the Rekor integrated time, PKI at now), the
 * cryptographic signature over the exact payload bytes, then the strict payload parse. out receives
 * the signed identity and digest, which the caller still has to check.
 */
int ccp_sigstore_verify(const ccp_sigstore_trust *t, const ccp_sigstore_sig *sig, int64_t now,
			ccp_sig_payload *out, ccp_err *e);

/* ---- building blocks, exposed for tests and fuzzers ---- */

/* RFC 8785 (JCS) canonical serialization of a JSON value. CCP_EINVALID for values JCS cannot express. */
int ccp_json_canonicalize(ccp_buf *out, const json_t *v);

/*
 * Verifies a Rekor SET (the cosign bundle annotation) with ECDSA Rekor keys: signature over the canonical
 * Payload, then the hashedrekord body against the signature, the key or certificate PEM, and the payload.
 * *integrated_time receives the log time.
 */
int ccp_rekor_set_verify(EVP_PKEY *const *rekor_keys, size_t n_keys, const char *set, size_t set_len,
			 const char *key_or_cert_pem, size_t pem_len, const char *sig_b64, const void *payload,
			 size_t payload_len, int64_t *integrated_time, ccp_err *e);

/*
 * Verifies a Fulcio leaf (one PEM certificate) with an optional chain (all but its last certificate are
 * used as intermediates) to roots at time t: code-signing EKU, OIDC issuer extension (OIDs
 * 1.3.6.1.4.1.57264.1.1 and .1.8) equal to issuer, email in the SAN emails. *key receives the leaf's key.
 */
int ccp_fulcio_verify(STACK_OF(X509) *roots, const char *issuer, const char *email, int64_t t, const char *cert_pem,
		      size_t cert_len, const char *chain_pem, size_t chain_len, EVP_PKEY **key, ccp_err *e);

/*
 * Verifies a PKI leaf at time t against roots and intermediates (configured ones plus the chain's, all but
 * its last): code-signing EKU, email in the SAN emails if given, hostname if given.
 */
int ccp_pki_verify(STACK_OF(X509) *roots, STACK_OF(X509) *intermediates, const char *email, const char *hostname,
		   int64_t t, const char *cert_pem, size_t cert_len, const char *chain_pem, size_t chain_len,
		   EVP_PKEY **key, ccp_err *e);

/* Parses every PEM certificate of data (at least one, at most CCP_SIGSTORE_MAX_CERTS, nothing else). */
int ccp_pem_certs_parse(STACK_OF(X509) **out, const char *data, size_t len, const char *what, ccp_err *e);

/* Verifies sig (ECDSA DER or raw r||s, RSA PKCS#1 v1.5, Ed25519) over data with SHA-256. 1 valid, 0 not. */
int ccp_sigstore_sig_check(EVP_PKEY *key, const unsigned char *sig, size_t sig_len, const void *data, size_t len);

#endif
