/* ccp_verify: the signature policy's decision for an image, requirement by requirement, and why. */
#ifndef INCLUDE_ccpull_verify_h__
#define INCLUDE_ccpull_verify_h__

#include <stddef.h>
#include "common.h"
#include "pull.h"

CCP_BEGIN_DECL

/* ---- verify: the signature policy's decision for an image, and why ---- */

typedef enum {
	CCP_VERDICT_ACCEPTED = 1, /* the requirement allowed the image; the signature was accepted */
	CCP_VERDICT_REJECTED = 2, /* the requirement rejected the image; the signature was refused */
	CCP_VERDICT_SKIPPED = 3   /* not evaluated: an earlier requirement rejected the image, or the
				   * signature is of a kind the requirement does not check */
} ccp_verdict;

/* One requirement of the scope that applied. Strings are never NULL ("" when empty). */
typedef struct ccp_verify_requirement {
	const char *type;            /* "insecureAcceptAnything", "reject", "signedBy", "sigstoreSigned",
				      * "signedBaseLayer" */
	const char *keys;            /* the trust material, e.g. "GPGKeys keyPath /etc/pki/k.gpg" */
	const char *signed_identity; /* e.g. "matchRepoDigestOrExact", "remapIdentity prefix=A signedPrefix=B" */
	ccp_verdict verdict;
	const char *reason;          /* why it rejected, "" otherwise */
} ccp_verify_requirement;

/* One signature as one requirement checked it. Strings are never NULL ("" when not reached). */
typedef struct ccp_verify_signature {
	size_t requirement;          /* index of the requirement (ccp_verify_result_requirement) */
	size_t index;                /* 0-based position among the image's signatures */
	const char *format;          /* "simple-signing", "sigstore" or "unknown" */
	const char *source;          /* "lookaside", "registry-extension" or "sigstore-attachment" */
	ccp_verdict verdict;
	const char *signer;          /* simple signing: the primary key fingerprint (once verified) */
	const char *identity;        /* the docker reference the signature claims */
	const char *digest;          /* the manifest digest the signature claims */
	const char *reason;          /* why it was refused or skipped, "" when accepted */
} ccp_verify_signature;

typedef struct ccp_verify_result ccp_verify_result;

/*
 * Evaluates the signature policy of opts (trust.policy, trust.registries_d, the registry options,
 * platform; the store options and the decryption keys are ignored) for image exactly as ccp_pull does
 * before it fetches the config: resolves and verifies the manifest, fetches the signatures, and
 * records what was checked. Neither the config nor a layer is fetched, and nothing is written.
 * trust.insecure_policy is CCP_EINVALID: there would be nothing to verify.
 *
 * Returns 0 when the policy accepts the image and CCP_EPOLICY when it rejects it; in both cases *out
 * is set and owned by the caller (ccp_verify_result_free). Any other code means no decision (invalid
 * policy, registry failure, ...) and *out is NULL.
 */
CCP_EXTERN(int) ccp_verify(ccp_verify_result **out, ccp_context *ctx, const char *image,
			   const ccp_pull_options *opts);
CCP_EXTERN(void) ccp_verify_result_free(ccp_verify_result *res);

/* Strings below belong to res and live as long as it does. */
CCP_EXTERN(const char *) ccp_verify_result_image(const ccp_verify_result *res);           /* normalised reference */
CCP_EXTERN(const char *) ccp_verify_result_manifest_digest(const ccp_verify_result *res); /* the manifest checked */
/* 1 when the policy accepts the image, 0 when it rejects it. */
CCP_EXTERN(int) ccp_verify_result_accepted(const ccp_verify_result *res);
/* The rejection message (the one ccp_pull reports), "" when accepted. */
CCP_EXTERN(const char *) ccp_verify_result_reason(const ccp_verify_result *res);
/* The transports.docker scope that applied ("" is a scope too), or NULL when the policy's "default" did. */
CCP_EXTERN(const char *) ccp_verify_result_scope(const ccp_verify_result *res);
/* Where simple signatures were read: the lookaside base URL, or the registry's extension URL. "" when no
 * signature was needed. */
CCP_EXTERN(const char *) ccp_verify_result_signature_store(const ccp_verify_result *res);
/* Signatures the image has (0 when none was needed, see ccp_verify_result_signature_store). */
CCP_EXTERN(size_t) ccp_verify_result_signature_total(const ccp_verify_result *res);

CCP_EXTERN(size_t) ccp_verify_result_requirement_count(const ccp_verify_result *res);
/* NULL when i is out of range. */
CCP_EXTERN(const ccp_verify_requirement *) ccp_verify_result_requirement(const ccp_verify_result *res, size_t i);
/* The signatures checked, in the order they were checked. */
CCP_EXTERN(size_t) ccp_verify_result_signature_count(const ccp_verify_result *res);
CCP_EXTERN(const ccp_verify_signature *) ccp_verify_result_signature(const ccp_verify_result *res, size_t i);

/* "accepted", "rejected", "skipped". Static; "" for an unknown value. */
CCP_EXTERN(const char *) ccp_verdict_name(ccp_verdict v);

CCP_END_DECL
#endif
