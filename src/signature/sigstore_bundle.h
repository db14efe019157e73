/*
 * Sigstore bundles v0.3 as cosign v3 attaches them to images (sigstore/protobuf-specs
 * protos/sigstore_bundle.proto, sigstore_rekor.proto; cosign pkg/cosign/verify_bundle.go): a DSSE envelope
 * over an in-toto Statement v1, the signer's certificate or a key hint, and Rekor v1 entries (signed entry
 * timestamp, inclusion proof with a signed checkpoint). Parsing is bounded and trusts nothing; verification
 * uses the trust material of a sigstoreSigned requirement only. OpenSSL and jansson; no network I/O.
 */
#ifndef CCP_SIGNATURE_SIGSTORE_BUNDLE_H
#define CCP_SIGNATURE_SIGSTORE_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "signature/sigstore.h"
#include "util/buf.h"
#include "util/err.h"

#define CCP_BUNDLE_MEDIA_V03 "application/vnd.dev.sigstore.bundle.v0.3+json"
#define CCP_BUNDLE_MEDIA_V03_ALT "application/vnd.dev.sigstore.bundle+json;version=0.3"
#define CCP_BUNDLE_MEDIA_PREFIX "application/vnd.dev.sigstore.bundle"
#define CCP_DSSE_INTOTO "application/vnd.in-toto+json"
#define CCP_INTOTO_STATEMENT_V1 "https://in-toto.io/Statement/v1"

#define CCP_BUNDLE_MAX (1u << 20)        /* one bundle document */
#define CCP_BUNDLE_MAX_TLOG 8            /* transparency log entries of one bundle */
#define CCP_BUNDLE_MAX_PROOF_HASHES 64   /* Merkle path length (a tree of 2^64 leaves) */
#define CCP_INTOTO_MAX_SUBJECTS 1024

/* One Rekor entry of a bundle (TransparencyLogEntry), as parsed; nothing in it is trusted yet. */
typedef struct ccp_bundle_tlog {
	int64_t log_index;
	ccp_buf log_id;             /* logId.keyId: sha256 of the log's public key (DER SPKI) */
	char *kind, *version;       /* kindVersion */
	int64_t integrated_time;
	ccp_buf set;                /* inclusionPromise.signedEntryTimestamp; len 0: none */
	ccp_buf body;               /* canonicalizedBody, decoded */
	int has_proof;
	int64_t proof_index, tree_size;
	ccp_buf root_hash;          /* 32 bytes */
	ccp_buf hashes;             /* n_hashes * 32 bytes, leaf to root */
	size_t n_hashes;
	char *checkpoint;           /* the signed note */
} ccp_bundle_tlog;

typedef struct ccp_bundle {
	ccp_buf cert_der;           /* verificationMaterial.certificate.rawBytes; len 0: a key bundle */
	char *key_hint;             /* verificationMaterial.publicKey.hint, NULL when absent */
	char *payload_type;         /* dsseEnvelope.payloadType */
	ccp_buf payload;            /* dsseEnvelope.payload, decoded: the exact signed statement */
	ccp_buf sig;                /* the one dsseEnvelope signature, decoded */
	char *sig_b64;              /* as it appears in the envelope */
	ccp_bundle_tlog *tlog;
	size_t n_tlog;
} ccp_bundle;

/*
 * Parses a bundle document: media type v0.3 (either spelling), a dsseEnvelope with exactly one signature,
 * a certificate or a publicKey, at most CCP_BUNDLE_MAX_TLOG entries. CCP_EPOLICY with the reason.
 */
int ccp_bundle_parse(ccp_bundle *out, const void *data, size_t len, ccp_err *e);
void ccp_bundle_free(ccp_bundle *b);

/* DSSE pre-authentication encoding: "DSSEv1" SP len(type) SP type SP len(body) SP body. */
int ccp_dsse_pae(ccp_buf *out, const char *type, const void *body, size_t len);

typedef struct ccp_intoto_subject {
	char *name;                 /* NULL when the subject has none (cosign v3) */
	unsigned char sha256[32];
	int has_sha256;
} ccp_intoto_subject;

typedef struct ccp_intoto {
	char *predicate_type;
	ccp_intoto_subject *subjects;
	size_t n_subjects;
} ccp_intoto;

/* Parses an in-toto Statement v1 (subject with digests, predicateType, predicate). CCP_EPOLICY on error. */
int ccp_intoto_parse(ccp_intoto *out, const void *data, size_t len, ccp_err *e);
void ccp_intoto_free(ccp_intoto *s);

/*
 * Verifies a bundle with the trust material of a sigstoreSigned requirement, like ccp_sigstore_verify does
 * for legacy signatures: keys (with Rekor keys, a Rekor entry of this signature by that key is required),
 * Fulcio (certificate chained to the configured CA, issuer and email, at the time of a Rekor entry whose
 * SET verifies), PKI (at now). Every Rekor entry used is checked: the SET over the canonical entry with a
 * Rekor key whose SHA-256 is the entry's log id, the dsse 0.0.1 body naming this signature, signer and
 * payload hash, and the inclusion proof with its signed checkpoint when present. Then the DSSE signature
 * over PAE(payloadType, payload), then the statement parse. out receives the statement; the caller still
 * has to match its subjects against the image.
 */
int ccp_bundle_verify(const ccp_sigstore_trust *t, const ccp_bundle *b, int64_t now, ccp_intoto *out, ccp_err *e);

/* RFC 6962 / 9162 inclusion proof: leaf at index in a tree of size, path hashes (32 bytes each) to root. */
int ccp_merkle_verify(const unsigned char leaf[32], uint64_t index, uint64_t size, const unsigned char *hashes,
		      size_t n_hashes, const unsigned char root[32]);

#endif
