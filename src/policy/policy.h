/*
 * containers-policy.json(5): strict parsing, scope lookup and evaluation for docker images, with the
 * semantics of containers/image (signature/policy_config.go, policy_eval*.go, policy_reference_match.go).
 */
#ifndef CCP_POLICY_POLICY_H
#define CCP_POLICY_POLICY_H

#include <stddef.h>
#include "reference/reference.h"
#include "config/resource.h"
#include "signature/sigstore.h"
#include "util/buf.h"
#include "util/err.h"

#define CCP_POLICY_MAX (4u << 20)

typedef enum {
	CCP_PRM_MATCH_EXACT = 1,
	CCP_PRM_MATCH_REPO_DIGEST_OR_EXACT,
	CCP_PRM_MATCH_REPOSITORY,
	CCP_PRM_EXACT_REFERENCE,  /* a = dockerReference */
	CCP_PRM_EXACT_REPOSITORY, /* a = dockerRepository */
	CCP_PRM_REMAP_IDENTITY    /* a = prefix, b = signedPrefix */
} ccp_prm_type;

typedef struct ccp_prm {
	ccp_prm_type type;
	char *a, *b;
} ccp_prm;

typedef enum {
	CCP_PR_INSECURE_ACCEPT_ANYTHING = 1,
	CCP_PR_REJECT,
	CCP_PR_SIGNED_BY,
	CCP_PR_SIGSTORE_SIGNED,
	CCP_PR_SIGNED_BASE_LAYER
} ccp_pr_type;

typedef struct ccp_pr {
	ccp_pr_type type;
	char *key_type;        /* signedBy */
	char **key_paths;      /* signedBy keyPath (one) or keyPaths */
	size_t n_key_paths;
	ccp_buf *key_blobs;    /* per key path: a kbs:// key fetched by ccp_policy_fetch_resources (a NULL data: none) */
	ccp_buf key_data;      /* signedBy keyData, base64-decoded */
	int has_key_data;
	ccp_prm identity;      /* signedBy/sigstoreSigned signedIdentity, signedBaseLayer baseLayerIdentity */
	ccp_sigstore_policy *sigstore; /* sigstoreSigned key sources */
} ccp_pr;

typedef struct ccp_pr_list {
	ccp_pr *v;
	size_t n;
} ccp_pr_list;

typedef struct ccp_policy_scope {
	char *name;
	ccp_pr_list reqs;
} ccp_policy_scope;

typedef struct ccp_policy {
	ccp_pr_list def;            /* "default" */
	ccp_policy_scope *docker;   /* transports.docker, "" included */
	size_t n_docker;
} ccp_policy;

/* Parses a policy; CCP_EINVALID naming the offending key or value. what names the source in messages. */
int ccp_policy_parse(ccp_policy *out, const void *data, size_t len, const char *what, ccp_err *e);
/* Loads a policy from a path, a file:// URI or (through src, which may be NULL otherwise) kbs:///. */
int ccp_policy_load(ccp_policy *out, const char *uri, const ccp_resource_src *src, ccp_err *e);
/*
 * Fetches the kbs:// keys named by the requirements that apply to ref (signedBy keyPath(s);
 * sigstoreSigned keyPath(s), rekor keys, fulcio caPath, pki caRootsPath and caIntermediatesPath)
 * through src, once: the policy keeps them for the verifiers (wiped by ccp_policy_free). Local paths
 * are still read when evaluated. A resource that cannot be fetched keeps its code (KBS: CCP_EDECRYPT)
 * with a message naming the scope, the key and the URI.
 */
int ccp_policy_fetch_resources(ccp_policy *p, const ccp_ref *ref, const ccp_resource_src *src, ccp_err *e);
void ccp_policy_free(ccp_policy *p);

/*
 * The requirements that apply to ref: the most specific transports.docker scope (identity, then
 * namespaces from the repository up to *.domain wildcards), then "", then default. *scope receives
 * the scope's name, or NULL for "default".
 */
int ccp_policy_requirements_for(const ccp_policy *p, const ccp_ref *ref, const ccp_pr_list **out,
				const char **scope, ccp_err *e);

/* The scope names tried for ref, most specific first (containers/image PolicyConfigurationNamespaces,
 * preceded by the identity). *out is malloc'ed, each string too; free with ccp_policy_strv_free. */
int ccp_policy_scopes(const ccp_ref *ref, char ***out, size_t *n, ccp_err *e);
void ccp_policy_strv_free(char **v, size_t n);

/* signedIdentity: does a signature claiming signed_ref match the image pulled as image_ref? */
int ccp_prm_matches(const ccp_prm *m, const char *image_ref, const char *signed_ref);

/* An image as the policy sees it. */
typedef struct ccp_policy_image {
	const ccp_ref *ref;           /* the reference pulled */
	const void *manifest;         /* the verified image manifest (the chosen instance of an index) */
	size_t manifest_len;
	const void *index;            /* the verified index it was chosen from, or NULL: a sigstore signature */
	size_t index_len;             /* of either digest satisfies sigstoreSigned */
	/* Supplies the stored signatures (raw blobs) on first need; owned by the provider. */
	int (*get_signatures)(void *payload, const ccp_buf **sigs, size_t *n, ccp_err *e);
	/*
	 * Or, when set (get_signatures is then not used): the next signature, 1 with *sig valid until the
	 * next call, 0 at the end, <0 on error. The evaluation checks each as it arrives and stops asking
	 * once every signed requirement it is evaluating has decided.
	 */
	int (*next_signature)(void *payload, const ccp_buf **sig, ccp_err *e);
	void *payload;
} ccp_policy_image;

/*
 * Allowed (0) iff every requirement of the applicable scope allows the image. Rejection is CCP_EPOLICY
 * with a message naming the image, the scope and the reason; failures to fetch signatures keep their code.
 */
int ccp_policy_evaluate(const ccp_policy *p, const ccp_policy_image *img, ccp_err *e);

/* ---- explanation: what an evaluation looked at (ccpull verify) ---- */

/* What a requirement decided, or what it made of a signature (0: no verdict reached). */
typedef enum {
	CCP_POLICY_ACCEPTED = 1, /* the requirement allowed the image; the signature was accepted */
	CCP_POLICY_REJECTED = 2, /* the requirement rejected the image; the signature was refused */
	CCP_POLICY_SKIPPED = 3   /* not evaluated: an earlier requirement rejected the image, or the
				  * signature is of a kind the requirement does not check */
} ccp_policy_verdict;

/* One signature as one requirement saw it. Strings are malloc'ed, NULL when not reached. */
typedef struct ccp_policy_finding {
	size_t requirement;   /* index in the scope's requirement list */
	size_t signature;     /* index in the image's signature list */
	int kind;             /* ccp_sig_kind; 0: a blob of unknown format */
	ccp_policy_verdict verdict; /* accepted, rejected, or skipped (a kind this requirement does not check) */
	char *signer;         /* simple signing: the primary key fingerprint, once the OpenPGP signature verified */
	char *identity;       /* the docker reference the signature claims, once its payload parsed */
	char *digest;         /* the manifest digest it claims */
	char *reason;         /* why it was refused or skipped */
} ccp_policy_finding;

typedef struct ccp_policy_outcome {
	ccp_policy_verdict verdict; /* 0 when evaluation stopped on an error before a verdict */
	char *reason;         /* the rejection message, NULL otherwise */
} ccp_policy_outcome;

/*
 * Filled by ccp_policy_evaluate_explain; the decision is the same as without it. Requirements after a
 * rejecting one are not evaluated (verdict CCP_POLICY_SKIPPED), and a signed requirement stops at the
 * first accepted signature, as containers/image does.
 */
typedef struct ccp_policy_explain {
	int have_scope;               /* the scope lookup succeeded */
	char *scope;                  /* transports.docker scope name ("" included); NULL: "default" */
	const ccp_pr_list *reqs;      /* the requirements applied: owned by the policy */
	ccp_policy_outcome *outcomes; /* one per requirement */
	ccp_policy_finding *findings;
	size_t n_findings;
	int have_signatures;          /* signatures were fetched (a signed requirement was evaluated) */
	size_t n_signatures;          /* with next_signature: those read before the requirements decided */
} ccp_policy_explain;

/* ccp_policy_evaluate, recording into x (initialised to zeros; free with ccp_policy_explain_free). */
int ccp_policy_evaluate_explain(const ccp_policy *p, const ccp_policy_image *img, ccp_policy_explain *x,
				ccp_err *e);
void ccp_policy_explain_free(ccp_policy_explain *x);
/* "signedBy", "sigstoreSigned", ...: the policy's name of a requirement type. Static. */
const char *ccp_pr_type_name(ccp_pr_type t);

#endif
