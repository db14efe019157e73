/*
 * The Trustee KBS client (kbs/docs/kbs_attestation_protocol.md): the RCAR handshake
 * (POST /kbs/v0/auth -> challenge and kbs-session-id cookie; POST /kbs/v0/attest with evidence
 * whose report data binds the hash of the runtime data {nonce, tee-pubkey} -> token), then
 * GET /kbs/v0/resource/<repository>/<type>/<tag> -> a JWE for the ephemeral key of the session.
 *
 * Also the CoCo key provider "attestation-agent": its annotation packet names a KBS resource (the
 * KEK) that unwraps the layer's key options.
 *
 * Every failure is CCP_EDECRYPT (exit 6: key unavailable, KBS or attestation) unless the
 * configuration itself is wrong (CCP_EINVALID).
 */
#ifndef CCP_KEYPROVIDERS_KBS_H
#define CCP_KEYPROVIDERS_KBS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "ccpull/sys/keyprovider.h"
#include "config/resource.h"
#include "util/buf.h"
#include "util/cancel.h"
#include "util/err.h"

#define CCP_KBS_RESOURCE_MAX (1u << 20) /* bytes of one resource (and of any KBS response) */
#define CCP_KBS_PATH_MAX CCP_RESOURCE_PATH_MAX /* "repository/type/tag" */
#define CCP_KBS_TSM_ROOT "/sys/kernel/config/tsm/report"
#define CCP_KBS_PROTOCOL_VERSION "0.4.0"
#define CCP_COCO_SCHEME "provider.attestation-agent"

/* ---- resource URIs ---- */

/*
 * The resource path "repository/type/tag" of kbs:///R/T/G, kbs://HOST[:PORT]/R/T/G (the host is not
 * used: resources come from the configured KBS) or /R/T/G (coco_keyprovider's key ids). Each part is
 * 1 to 128 of [A-Za-z0-9._-], not "." or "..". CCP_EINVALID otherwise.
 */
int ccp_kbs_resource_path(char out[CCP_KBS_PATH_MAX], const char *uri, ccp_err *e);

/* ---- protocol messages ---- */

typedef struct ccp_kbs_challenge {
	char *nonce;
	const char *hash;  /* "sha256", "sha384" (the default), "sha512" or "sm3" */
} ccp_kbs_challenge;

/* {"nonce": "...", "extra-params": {"selected-hash-algorithm": "..."}}; the name is case-insensitive. */
int ccp_kbs_parse_challenge(ccp_kbs_challenge *out, const void *data, size_t len, ccp_err *e);
void ccp_kbs_challenge_free(ccp_kbs_challenge *c);

/* {"token": "<JWT>"}: *token malloc'ed (wipe it); *exp the JWT's exp claim, 0 when absent or unreadable. */
int ccp_kbs_parse_token(char **token, int64_t *exp, const void *data, size_t len, ccp_err *e);

/* An RFC 7807 error body as "TYPE: detail" (the last path segment of type), printable and bounded. */
void ccp_kbs_problem(char *out, size_t out_len, const void *body, size_t len);

/* The hash names this build can compute, for the auth request's supported-hash-algorithms. */
json_t *ccp_kbs_supported_hashes(void);

/* The public JWK of an ephemeral EC P-256 ({alg, crv, kty, x, y}) or RSA ({alg, e, kty, n}) key. */
int ccp_kbs_jwk(json_t **out, void *pkey, ccp_err *e);

/*
 * The runtime data hashed into the evidence, as Trustee's client and KBS do: the RFC 8785 canonical
 * JSON of {"additional-evidence": additional, "nonce": nonce, "tee-pubkey": jwk}.
 */
int ccp_kbs_runtime_data(ccp_buf *canon, const char *nonce, const json_t *jwk, const char *additional, ccp_err *e);
/* RFC 8785 canonical JSON of v (strings, objects, arrays, true/false/null and integers only). */
int ccp_jcs(ccp_buf *out, const json_t *v, ccp_err *e);
/* Digest of data with the named hash; md holds at least 64 bytes. */
int ccp_kbs_hash(unsigned char *md, size_t *md_len, const char *hash, const void *data, size_t len, ccp_err *e);

/* ---- attesters ---- */

typedef enum {
	CCP_ATTESTER_AUTO = 0,
	CCP_ATTESTER_SAMPLE,
	CCP_ATTESTER_TDX,
	CCP_ATTESTER_SNP,
	CCP_ATTESTER_AA
} ccp_attester_kind;

/* "auto", "sample", "tdx", "snp", "aa" (NULL: auto). CCP_EINVALID for anything else. */
int ccp_attester_parse(ccp_attester_kind *out, const char *name, ccp_err *e);
/*
 * auto: tdx or snp when the TEE's guest device exists; else aa when the attestation agent's socket
 * (aa_socket, NULL: CCP_AA_SOCKET) exists; else sample.
 */
ccp_attester_kind ccp_attester_detect(const char *tsm_root, const char *aa_socket);
/*
 * Whether native attester k can make evidence here, checked before a handshake starts: tdx and snp
 * need the configfs-tsm report directory tsm_root (NULL: CCP_KBS_TSM_ROOT). CCP_EDECRYPT naming the
 * attester otherwise.
 */
int ccp_attester_check(ccp_attester_kind k, const char *tsm_root, ccp_err *e);
/* Trustee's tee name of a native attester ("sample", "tdx", "snp"); the aa attester asks the AA. */
const char *ccp_attester_tee(ccp_attester_kind k);

/*
 * The primary evidence of a native kind for report data rd (the runtime data digest, at most 64
 * bytes): sample {"svn": "1", "report_data": base64(rd)}; tdx {"cc_eventlog": null, "quote":
 * base64(TD quote)}; snp see ccp_snp_evidence; tdx and snp through configfs-tsm under tsm_root (NULL:
 * CCP_KBS_TSM_ROOT). The aa kind is ccp_aa_evidence.
 */
int ccp_attester_evidence(json_t **out, ccp_attester_kind k, const char *tsm_root, const unsigned char *rd,
			  size_t rd_len, ccp_err *e);

/*
 * One configfs-tsm report in an existing report entry directory: checks its provider
 * ("tdx_guest", "sev_guest"), writes privlevel (>= 0) and inblob, reads outblob, and refuses the
 * result when another writer raced us (generation > 1).
 */
int ccp_tsm_report_at(ccp_buf *outblob, const char *entry, const char *provider, int privlevel,
		      const unsigned char *inblob, size_t len, ccp_err *e);
/* The same, also reading auxblob (absent or empty: auxblob left empty) when auxblob is not NULL. */
int ccp_tsm_report_aux_at(ccp_buf *outblob, ccp_buf *auxblob, const char *entry, const char *provider, int privlevel,
			  const unsigned char *inblob, size_t len, ccp_err *e);

/* ---- AMD SEV-SNP (snp.c) ---- */

#define CCP_SNP_REPORT_LEN 1184
#define CCP_SNP_REPORT_DATA_LEN 64
#define CCP_SNP_CERTS_MAX (256u << 10) /* bytes of the host's certificate table */

/*
 * Trustee's SNP evidence {"attestation_report": {...}, "cert_chain": [...] or null} (the serde form
 * of the sev crate's AttestationReport and CertTableEntry; see snp.c) of a binary attestation report
 * (versions 2 to 5) and the host's GUID certificate table (certs_len 0: none). The report must carry
 * rd as its REPORT_DATA. Anything malformed: CCP_EDECRYPT.
 */
int ccp_snp_evidence(json_t **out, const void *report, size_t report_len, const void *certs, size_t certs_len,
		     const unsigned char rd[CCP_SNP_REPORT_DATA_LEN], ccp_err *e);
/* ccp_snp_evidence of a configfs-tsm report (provider sev_guest, VMPL 0) in an existing entry directory. */
int ccp_snp_evidence_at(json_t **out, const char *entry, const unsigned char rd[CCP_SNP_REPORT_DATA_LEN], ccp_err *e);

/* ---- the attestation agent (aa.c) ---- */

#define CCP_AA_SOCKET "/run/confidential-containers/attestation-agent/attestation-agent.sock"
#define CCP_AA_TEE_MAX 32

/*
 * attestation_agent.AttestationAgentService (guest-components'
 * protos/protos/attestation-agent/attestation-agent.proto) on the AA's ttrpc socket (NULL:
 * CCP_AA_SOCKET), as guest-components' kbs_protocol AA evidence provider calls it: GetTeeType -> the
 * tee name for the auth request (lowercase letters and digits); GetEvidence{RuntimeData: rd} -> the
 * primary evidence, a JSON document. Failures name the AA and the socket: CCP_EDECRYPT.
 */
int ccp_aa_tee(char out[CCP_AA_TEE_MAX], const char *aa_socket, ccp_err *e);
int ccp_aa_evidence(json_t **out, const char *aa_socket, const unsigned char *rd, size_t rd_len, ccp_err *e);

/* ---- the CoCo annotation packet ---- */

typedef struct ccp_coco_packet {
	char path[CCP_KBS_PATH_MAX]; /* the KEK's resource path, from kid */
	ccp_buf wrapped;             /* wrapped_data */
	ccp_buf iv;
	int ctr;                     /* wrap_type A256CTR (else A256GCM) */
} ccp_coco_packet;

/*
 * Parses a packet: v1 {kid, wrapped_data, iv, wrap_type} or v2 (version "0.1.0", provider "kbs",
 * provider_settings, annotations). Malformed, another provider or wrap type: CCP_EDECRYPT.
 */
int ccp_coco_packet_parse(ccp_coco_packet *out, const void *data, size_t len, ccp_err *e);
void ccp_coco_packet_free(ccp_coco_packet *p);
/* wrapped_data decrypted with the 32-byte KEK (A256GCM: 12-byte iv, 16-byte tag at the end; A256CTR: 16-byte iv). */
int ccp_coco_unwrap(ccp_buf *out, const ccp_coco_packet *p, const unsigned char *kek, size_t kek_len, ccp_err *e);

/* ---- the client ---- */

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

/*
 * Fetches a resource (kbs:///R/T/G or /R/T/G) into out (a secret: free it with ccp_buf_free_secure):
 * from the offline file when it lists the resource, else from the KBS (none: CCP_EDECRYPT naming the
 * resource and the file). While a context is alive (ccp_kbs_hold), one attested session is kept per
 * identity (URL, the --kbs-cert path and the SHA-256 of its bytes, attester, tsm_root, aa_socket, key
 * type) with its own in-memory resource cache (never on disk; CCP_KBS_CACHE_* bounds), so a pull
 * attests once and another trust never shares it. Waiting for another user's attestation and every
 * request end by cfg->deadline_ms, or as soon as cfg->cancel is cancelled (CCP_ECANCELED).
 */
int ccp_kbs_fetch(ccp_buf *out, const ccp_kbs_config *cfg, const char *uri, ccp_err *e);
/* Forgets every session: wipes their attestations and cached resources (sessions in use are freed by
 * their last user). */
void ccp_kbs_reset(void);
/*
 * A context begins and ends (ccp_context_new, ccp_context_free): sessions are kept only while some
 * context is alive; when the last one goes, ccp_kbs_reset. Both also drop expired sessions.
 */
void ccp_kbs_hold(void);
void ccp_kbs_release(void);

#define CCP_KBS_CACHE_ENTRIES 32
#define CCP_KBS_CACHE_BYTES (4u << 20)
#define CCP_KBS_CACHE_TTL_S 300
#define CCP_KBS_SESSION_IDLE_S CCP_KBS_CACHE_TTL_S /* a session unused this long is wiped */

/* The resource key pair type of a --kbs-key value: "ec" (NULL: ec) -> 0, "rsa" -> 1; else CCP_EINVALID. */
int ccp_kbs_key_type(int *rsa, const char *name, ccp_err *e);

/* The key provider of scheme provider.attestation-agent, backed by the KBS of cfg (strings copied). */
int ccp_kbs_provider_new(ccp_keyprovider **out, const ccp_kbs_config *cfg, ccp_err *e);

#endif
