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
#include "config/resource.h"
#include "keyproviders/keyproviders.h"
#include "util/buf.h"
#include "util/cancel.h"
#include "util/err.h"

#define CCP_KBS_RESOURCE_MAX (1u << 20) /* bytes of one resource (and of any KBS response) */
#define CCP_KBS_PATH_MAX CCP_RESOURCE_PATH_MAX /* "repository/type/tag" */
#define CCP_KBS_PROTOCOL_VERSION "0.4.0"

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
 * auto: aa when the attestation agent's socket (aa_socket, NULL: CCP_AA_SOCKET) exists (as CDH, which
 * never attests by itself when there is an agent); else tdx or snp when the TEE's guest device exists;
 * else sample.
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
 * bytes): sample {"svn": "1", "report_data": base64(rd)}; tdx {"cc_eventlog": ccp_tdx_eventlog,
 * "quote": base64(TD quote)}; snp see ccp_snp_evidence; tdx and snp through configfs-tsm under tsm_root (NULL:
 * CCP_KBS_TSM_ROOT). The aa kind is ccp_aa_evidence.
 */
int ccp_attester_evidence(json_t **out, ccp_attester_kind k, const char *tsm_root, const unsigned char *rd,
			  size_t rd_len, ccp_err *e);

#define CCP_KBS_CCEL_PATH "/sys/firmware/acpi/tables/data/CCEL"
#define CCP_KBS_CCEL_MAX (8u << 20) /* bytes of the CC event log table */

/*
 * Cuts a CC event log (the ACPI CCEL table's data: a TCG_PCR_EVENT, then TCG_PCR_EVENT2s) at its end,
 * the first all-ones or all-zero word where an event would start, as guest-components' trim_ccel
 * (attestation-agent/attester/src/utils.rs). Malformed or without an end: CCP_EDECRYPT.
 */
int ccp_ccel_trim(ccp_buf *log, ccp_err *e);
/*
 * The cc_eventlog of TDX evidence: base64 of the trimmed CCEL at ccel_path (NULL: CCP_KBS_CCEL_PATH)
 * followed by eight 0xff bytes, or JSON null when there is no such file.
 */
int ccp_tdx_eventlog(json_t **out, const char *ccel_path, ccp_err *e);

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

#define CCP_AA_TOKEN_MAX (64u << 10) /* bytes of the AA's GetToken answer */

/*
 * The AA's GetToken{TokenType "kbs"} answer {"token": JWT, "tee_keypair": PEM} (guest-components'
 * attestation-agent/src/token/kbs.rs): *token malloc'ed (wipe it), *exp its exp claim (0: none), *key
 * the TEE key pair (an EVP_PKEY *, EC in PKCS#8 or RSA in PKCS#1) the KBS encrypts resources to.
 * Anything else: CCP_EDECRYPT.
 */
int ccp_aa_token_parse(char **token, int64_t *exp, void **key, const void *data, size_t len, ccp_err *e);
/*
 * Asks the AA for a KBS token as CDH's cc_kbc does (kbs_protocol's AATokenProvider): the AA attests
 * to the KBS of its own configuration, with its init-data and additional evidence. *unimplemented is
 * set when the AA has no GetToken (an older agent: its evidence is then used in ccpull's handshake).
 */
int ccp_aa_token(char **token, int64_t *exp, void **key, int *unimplemented, const char *aa_socket, ccp_err *e);

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

/* ---- the client (the configuration and the provider: keyproviders/keyproviders.h) ---- */

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

#define CCP_KBS_CACHE_ENTRIES 32
#define CCP_KBS_CACHE_BYTES (4u << 20)
#define CCP_KBS_CACHE_TTL_S 300
#define CCP_KBS_SESSION_IDLE_S CCP_KBS_CACHE_TTL_S /* a session unused this long is wiped */

/*
 * offline_fs_kbc (guest-components confidential-data-hub/kms/src/plugins/kbs/offline_fs.rs): when the
 * offline resources file (ccp_kbs_config.offline) is named CCP_OFFLINE_FS_RESOURCES, as `[kbc] name =
 * "offline_fs_kbc"` makes it, ccp_kbs_fetch reads what offline_fs_kbc reads: CCP_OFFLINE_FS_KEYS in the
 * same directory (the layer KEKs named by kid), that file, and every file of the comma-separated
 * OFFLINE_FS_KBC_EXTRA_FILE_PATH, each {"repo/type/tag": "<base64>"}, a missing one empty, a later
 * one's entry winning. 1 with its directory in dir when file is such a file, else 0.
 */
#define CCP_OFFLINE_FS_RESOURCES "aa-offline_fs_kbc-resources.json"
#define CCP_OFFLINE_FS_KEYS "aa-offline_fs_kbc-keys.json"
#define CCP_OFFLINE_FS_EXTRA_ENV "OFFLINE_FS_KBC_EXTRA_FILE_PATH"
int ccp_kbs_offline_fs_dir(char *dir, size_t dir_len, const char *file);

#endif
