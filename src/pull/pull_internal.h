/* Internal state of one pull: the resolved image (manifests, config) and its registry connection. */
#ifndef CCP_PULL_INTERNAL_H
#define CCP_PULL_INTERNAL_H

#include "ccpull/pull.h"
#include "config/config.h"
#include "config/resource.h"
#include "keyproviders/keyproviders.h"
#include "manifest/manifest.h"
#include "policy/policy.h"
#include "reference/reference.h"
#include "registry/registry.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/cancel.h"
#include "util/json.h"

#define CCP_MEMFILE_PATH_MAX 32

#define CCP_WARNINGS_MAX 8
#define CCP_WARNING_LEN 512

#define CCP_CONTEXT_PROVIDERS_MAX 64u /* ccp_context_add_keyprovider's per context */

struct ccp_context {
	char last_error[CCP_ERR_MSG_MAX];
	char warnings[CCP_WARNINGS_MAX][CCP_WARNING_LEN]; /* of the last pull, inspect or verify */
	size_t n_warnings;
	ccp_cancel cancel;         /* ccp_context_cancel's flag (final) and the running call's deadline */
	ccp_keyprovider **providers; /* ccp_context_add_keyprovider's, owned; tried first for every layer */
	size_t n_providers;
};

typedef struct resolved_image {
	ccp_ref ref;
	char *image;                 /* normalised reference string */
	char *endpoint;              /* host[/path] the image came from (after registries.conf) */
	ccp_registry *reg;
	ccp_buf top_raw;             /* verified top-level manifest */
	char *top_media_type;
	ccp_digest top_digest;
	ccp_manifest_kind top_kind;
	char **platforms;            /* listed by an index */
	size_t n_platforms;
	ccp_buf man_raw;             /* verified image manifest (== top_raw without an index) */
	ccp_digest man_digest;
	ccp_manifest man;
	ccp_buf cfg_raw;             /* verified image config */
	int cfg_in_store;            /* cfg_raw was read from the store */
	json_t *cfg_json;
	ccp_image_config cfg;
	ccp_platform platform;       /* of the chosen image */
	uint64_t deadline_ms;        /* when the pull's time is up (ccp_registry_deadline), 0: never */
	const ccp_cancel *cancel;    /* the call's cancellation and deadline (may be NULL) */
	ccp_keyprovider *const *providers; /* the context's key providers (borrowed), before the options' keys */
	size_t n_providers;
	int has_ca_fd;               /* a kbs:// ca_file, in the memfd ca_fd (named ca_path) while reg uses it */
	int ca_fd;
	char ca_path[CCP_MEMFILE_PATH_MAX];
} resolved_image;

/*
 * Fetches and verifies the manifest(s) of image for opts (platform, registry settings); not the config,
 * which is fetched only once the policy has accepted the manifest (ccp_resolve_config).
 */
int ccp_resolve_image(resolved_image *rv, const char *image, const ccp_pull_options *opts, const ccp_cancel *cancel,
		      ccp_err *e);
/*
 * Fetches, verifies and parses the config of a resolved image: from the store when it holds it
 * (cfg_in_store), else from the registry. Nothing is written to the store: a pull keeps the config
 * only once it has succeeded.
 */
int ccp_resolve_config(resolved_image *rv, ccp_store *store, ccp_err *e);
/*
 * A single-platform image whose config names os and architecture must suit the wanted platform
 * (--platform, else this machine), as containerd checks: CCP_EREGISTRY naming both. An image chosen
 * from an index by its platform, and a config that names no platform, pass.
 */
int ccp_check_platform(const resolved_image *rv, const ccp_pull_options *o, ccp_err *e);
void ccp_resolved_image_free(resolved_image *rv);

/*
 * The signature policy: prepare loads it before any network access (a missing or invalid policy is
 * CCP_EINVALID; with insecure_policy *out stays NULL and every image passes); check evaluates it for
 * a resolved image before any layer is fetched, on every pull (store hits included).
 */
typedef struct ccp_policy_gate ccp_policy_gate;
int ccp_policy_gate_prepare(ccp_policy_gate **out, const ccp_pull_options *o, const ccp_cancel *cancel, ccp_err *e);
/* 1 when preparing the gate reads kbs:// resources (network I/O), 0 when it reads local files only. */
int ccp_policy_gate_remote(const ccp_pull_options *o);
int ccp_policy_gate_check(ccp_policy_gate *gate, const resolved_image *rv, ccp_err *e);

/* What one evaluation checked (ccp_verify): the policy's explanation and where each signature came from. */
typedef struct ccp_gate_report {
	ccp_policy_explain explain;
	char *signature_store;  /* lookaside base URL, or HOST/extensions/v2/REPO/signatures/DIGEST; NULL: none read */
	const char **sources;   /* per signature: "lookaside", "registry-extension", "sigstore-attachment" */
	size_t n_sources;
} ccp_gate_report;

/* ccp_policy_gate_check, recording into rep (zeroed by the caller; free with ccp_gate_report_free). */
int ccp_policy_gate_explain(ccp_policy_gate *gate, const resolved_image *rv, ccp_gate_report *rep, ccp_err *e);
void ccp_gate_report_free(ccp_gate_report *rep);
void ccp_policy_gate_free(ccp_policy_gate *gate);

/* Where kbs:/// resources of a pull come from: the KBS and the offline file of the options. */
typedef struct ccp_pull_resources {
	ccp_kbs_config kc;      /* strings borrowed from the options */
	ccp_resource_src src;   /* fetch NULL without --kbs and --kbs-resources */
} ccp_pull_resources;

/*
 * Fills res from o (CCP_EINVALID for a bad kbs_key); KBS requests stop when cancel (may be NULL) is
 * cancelled or at its deadline. res must not move while src is used.
 */
int ccp_pull_resources_init(ccp_pull_resources *res, const ccp_pull_options *o, const ccp_cancel *cancel,
			    ccp_err *e);

/*
 * The start of a pull, inspect or verify on ctx: the cancellation to check (ctx's, or local when ctx
 * is NULL), its deadline set o->timeout_s from now. A cancelled context stays cancelled.
 */
ccp_cancel *ccp_call_cancel(ccp_context *ctx, ccp_cancel *local, const ccp_pull_options *o);

/* lifecycle.c: whether ccp_init holds (a count above 0); the thread's message of the last failed
 * ccp_init, ccp_shutdown or ccp_context_new (ccp_context_last_error(NULL)), set ("" clears it). */
int ccp_lib_initialised(void);
const char *ccp_lib_error(void);
void ccp_lib_error_set(const char *msg);

/*
 * The end of a public call on ctx (NULL: nothing recorded): returns r, and makes ctx's last error
 * e's message (the name of r when e has none) when r is a failure, "" when the call succeeded.
 */
int ccp_context_finish(ccp_context *ctx, int r, const ccp_err *e);

/*
 * The start of a pull, inspect or verify on ctx (NULL: nothing): forgets the error and the warnings
 * of the last call and records the warnings the options call for (a KBS reached over plain HTTP).
 */
void ccp_call_warnings(ccp_context *ctx, const ccp_pull_options *o);

/*
 * The resource uri in a memfd, for a library that takes a path (libcurl's CA bundle): *fd (close it
 * when done) and path "/proc/self/fd/N". Never on disk.
 */
int ccp_pull_memfile(int *fd, char path[CCP_MEMFILE_PATH_MAX], const char *uri, const ccp_resource_src *src,
		     const char *what, ccp_err *e);

/*
 * CCP_EINVALID naming the struct when o or one of the structs nested in it has a version this library
 * does not know (options.c). Every public call taking a ccp_pull_options checks it before acting on it.
 */
int ccp_check_options_version(const ccp_pull_options *o, ccp_err *e);

/* Checks what pull and inspect share before any network access: versions, platform syntax. */
int ccp_check_common_options(const ccp_pull_options *o, ccp_err *e);

#endif
