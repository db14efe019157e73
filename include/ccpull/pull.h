#ifndef INCLUDE_ccpull_pull_h__
#define INCLUDE_ccpull_pull_h__

#include <stddef.h>
#include <stdint.h>
#include "common.h"
#include "sys/keyprovider.h"

CCP_BEGIN_DECL

/* ---- the library ---- */

/*
 * Initialises the library: call it before anything else, and ccp_shutdown once for every ccp_init
 * that succeeded. The calls are counted (libgit2's git_libgit2_init model) and safe from several
 * threads at once: the first sets up the state the process shares (libcurl's global state; gpgme
 * initialises itself at its first use, when a policy or key needs OpenPGP); the others only count. Returns the new count (> 0), or a negative ccp_error_code with a message in
 * ccp_context_last_error(NULL).
 */
CCP_EXTERN(int) ccp_init(void);
/*
 * Undoes one ccp_init and returns the count left. The last one (0 left) wipes and frees every secret
 * the library still keeps (the KBS sessions: attestations, cookies, tokens and cached resources) and
 * tears libcurl down; no call may be running then, and no context is made until the next ccp_init.
 * CCP_EINVALID without a ccp_init to undo.
 */
CCP_EXTERN(int) ccp_shutdown(void);

/* ---- context ---- */

typedef struct ccp_context ccp_context;

/*
 * Creates a context. *out is owned by the caller (ccp_context_free), NULL on failure: CCP_EINVALID
 * when the library is not initialised (ccp_init), CCP_ENOMEM; the message is in
 * ccp_context_last_error(NULL).
 */
CCP_EXTERN(int) ccp_context_new(ccp_context **out);
/* Frees ctx and the key providers added to it (their free). NULL: no-op. */
CCP_EXTERN(void) ccp_context_free(ccp_context *ctx);
/*
 * Adds a key provider of the caller's (ccpull/sys/keyprovider.h) to ctx, which takes ownership of kp:
 * kp->free runs when ctx is freed, or at once when the add fails (CCP_EINVALID for a NULL ctx or kp,
 * a kp->version this library does not know (0 or above CCP_KEYPROVIDER_VERSION), a missing
 * description, handles, unwrap or free, or more than 64 providers; CCP_ENOMEM). Every later ccp_pull
 * on ctx tries, for each encrypted layer, the providers added here, in the order they were added, before
 * the keys of its options (decryption_keys, keyprovider_config, the KBS's), for the schemes they handle.
 * Their functions are called on the thread of the call on ctx, one at a time for that call; not while
 * another thread calls ccp_context_add_keyprovider on ctx.
 */
CCP_EXTERN(int) ccp_context_add_keyprovider(ccp_context *ctx, ccp_keyprovider *kp);
/*
 * Cancels what runs on ctx: the ccp_pull, ccp_inspect or ccp_verify in progress stops at its next
 * check (every stage checks: registry and KBS transfers and their retry waits, decompression and
 * unpacking, relinking, rootfs copies, user resolution, waits for another pull's layer lock), removes
 * what it made (staging directories, the rootfs and config.json, the bundle directory when it created
 * it) and fails with CCP_ECANCELED. Cancellation is final: later calls on ctx fail at once the same
 * way (use a new context). Safe to call from any thread while another thread uses ctx, and
 * async-signal-safe (it only sets an atomic flag), so a SIGINT handler may call it. NULL: no-op.
 */
CCP_EXTERN(void) ccp_context_cancel(ccp_context *ctx);
/*
 * Message of the last call on ctx when it failed; "" when it succeeded or none was made. Owned by ctx,
 * valid until the next call on it. NULL: the message of this thread's last failed ccp_init,
 * ccp_shutdown or ccp_context_new ("" after one succeeded), valid until its next such call.
 */
CCP_EXTERN(const char *) ccp_context_last_error(const ccp_context *ctx);
/*
 * Warnings of the last ccp_pull, ccp_inspect or ccp_verify on ctx, whether it succeeded or not: what
 * was allowed but weakens the guarantees, e.g. a KBS reached over plain HTTP (nothing authenticates
 * it, yet it releases the policy and the keys). The library never prints: show them to the user.
 * Strings owned by ctx, valid until the next call on it; NULL when i is out of range.
 */
CCP_EXTERN(size_t) ccp_context_warning_count(const ccp_context *ctx);
CCP_EXTERN(const char *) ccp_context_warning(const ccp_context *ctx, size_t i);
/* "X.Y.Z" of the library. Static. */
CCP_EXTERN(const char *) ccp_version(void);

/* ---- options ---- */

typedef enum {
	CCP_SNAPSHOTTER_DEFAULT = 0, /* overlay when running as root and the kernel has overlayfs, else copy */
	CCP_SNAPSHOTTER_COPY = 1,    /* BUNDLE/rootfs is a plain directory tree */
	CCP_SNAPSHOTTER_OVERLAY = 2  /* BUNDLE/rootfs is an overlay mount of the store's layers (ccp_bundle_umount) */
} ccp_snapshotter;

/*
 * What committing a layer to the store guarantees. Every mode orders a commit: the layer's files and
 * its metadata are complete before one rename makes the layer visible, so a pull that dies at any
 * point (killed, out of memory) never leaves a record pointing at a half-written layer. FULL adds
 * durability against a crash of the whole machine: the store's filesystem is synced (syncfs) before
 * the rename and every record is fsynced. A store that cannot outlive its VM (tmpfs, or trusted
 * storage formatted at every boot, as kata's is) gains nothing from that and pays for every dirty
 * page of the layer reaching the disk.
 */
typedef enum {
	CCP_STORE_SYNC_DEFAULT = 0, /* NONE when the store is on tmpfs or ramfs, else FULL */
	CCP_STORE_SYNC_NONE = 1,    /* ordering only: data stays in the page cache */
	CCP_STORE_SYNC_FULL = 2     /* ordering and durability: syncfs before each layer's rename */
} ccp_store_sync;

/*
 * Whether a pull keeps the layers it makes. The copy snapshotter writes the image's data twice when
 * it keeps them (into the store, then the copy into the bundle): tmpfs and ext4 cannot share the
 * data between the two. NONE writes it once: the bottom layers the store holds for this pull are
 * copied from it, the others are applied in order straight into BUNDLE/rootfs and not kept, so a
 * later pull fetches them again.
 */
typedef enum {
	CCP_STORE_KEEP_DEFAULT = 0, /* every layer the pull makes is committed to the store */
	CCP_STORE_KEEP_NONE = 1     /* the store is only read (copy snapshotter only) */
} ccp_store_keep;

typedef enum {
	CCP_PROGRESS_LAYER_START = 1, /* a layer begins downloading */
	CCP_PROGRESS_LAYER_BYTES = 2, /* more bytes of a layer arrived */
	CCP_PROGRESS_LAYER_DONE = 3,  /* a layer is verified and committed (or reused) */
	CCP_PROGRESS_ROOTFS = 4       /* all layers done; the rootfs is being assembled */
} ccp_progress_kind;

typedef struct ccp_progress_event {
	ccp_progress_kind kind;
	size_t layer_index;    /* 0-based */
	size_t layer_count;
	const char *digest;    /* "sha256:..." of the layer blob */
	uint64_t done;         /* bytes received */
	uint64_t total;        /* blob size */
	int reused;            /* the layer came from the store */
} ccp_progress_event;

/*
 * Called from the pulling thread and from the download threads of the layers fetched at once: it may
 * run on several threads at the same time, so guard what it shares. It must not call back into the
 * library (ccp_context_cancel excepted) and should return quickly.
 */
typedef void (*ccp_progress_cb)(const ccp_progress_event *ev, void *payload);

/*
 * The options of a pull, inspect or verify (and of the CDH calls of ccpull/cdh.h) are one
 * ccp_pull_options holding a nested struct per concern: registry (how images are fetched), trust
 * (what an image must satisfy and the keys that open it), kbs (where kbs:/// resources come from) and
 * store (where layers go and how the bundle is made). Each struct carries its own version, the
 * layout the caller was compiled against, which every call taking the options checks before acting
 * on them: a struct of a version this library does not know fails with CCP_EINVALID naming it rather
 * than being misread. Set each with its _INIT macro or ccp_*_options_init; ccp_pull_options_init
 * (and CCP_PULL_OPTIONS_INIT) initialise the nested ones as well. The macros are designated
 * initialisers naming every field in declaration order (C99, and C++20); before C++20, call the init
 * functions.
 */

/* How images are fetched from registries. */
typedef struct ccp_registry_options {
	unsigned int version;
	int tls_verify;               /* 1 (default): verify TLS, HTTPS only; 0: no verification, plain HTTP allowed */
	const char *registries_conf;  /* registries.conf path; NULL: /etc/containers/registries.conf if present */
	const char *authfile;         /* containers-auth.json; NULL: none */
	const char *creds;            /* "USER:PASSWORD" for the registry; overrides authfile */
	const char *ca_file;          /* extra CA certificates (PEM) for registry TLS */
	unsigned int retries;         /* further attempts of a registry request after a transient failure
	                               * (connection, reset, cut-off, HTTP 408/429/5xx); default 3, at most 20 */
	/* A blob of at least parallel_ranges_min_mib MiB (0: 128) is fetched as this many Range requests
	 * at once (4 MiB each, delivered and verified in order as one stream; one stream when the
	 * registry ignores Range); 0 (default) and 1: one stream; at most CCP_PARALLEL_RANGES_MAX.
	 * Each part holds a 4 MiB buffer: worth it where the registry or CDN caps each connection. */
	unsigned int parallel_ranges;
	unsigned int parallel_ranges_min_mib;
} ccp_registry_options;

#define CCP_PARALLEL_RANGES_MAX 16u

#define CCP_REGISTRY_OPTIONS_VERSION 1
#define CCP_REGISTRY_OPTIONS_INIT { .version = CCP_REGISTRY_OPTIONS_VERSION, .tls_verify = 1, \
				    .registries_conf = NULL, .authfile = NULL, .creds = NULL, .ca_file = NULL, \
				    .retries = 3, .parallel_ranges = 0, .parallel_ranges_min_mib = 0 }

/* What an image must satisfy to be used, and the keys that open its encrypted layers. */
typedef struct ccp_trust_options {
	unsigned int version;
	int insecure_policy;          /* accept any image without evaluating a signature policy */
	const char *policy;           /* containers-policy.json path or URI; NULL: /etc/containers/policy.json */
	const char *registries_d;     /* registries.d directory (where signatures are looked up); NULL: the
	                               * containers default */
	/* Keys for encrypted layers, each tried per layer: "jwe:PATH[:PASSWORD]" (a PEM or DER private key;
	 * PASSWORD as pass=SECRET, file=PATH or literal) or "provider:NAME[:PARAMS]" (a keyprovider of
	 * keyprovider_config, PARAMS handed to it in the ocicrypt DecryptConfig). */
	const char *const *decryption_keys;
	size_t n_decryption_keys;
	const char *keyprovider_config; /* ocicrypt keyprovider config (JSON); NULL: none. Every provider in it
	                                 * is tried for layers wrapped for it */
} ccp_trust_options;

#define CCP_TRUST_OPTIONS_VERSION 1
#define CCP_TRUST_OPTIONS_INIT { .version = CCP_TRUST_OPTIONS_VERSION, .insecure_policy = 0, .policy = NULL, \
				 .registries_d = NULL, .decryption_keys = NULL, .n_decryption_keys = 0, \
				 .keyprovider_config = NULL }

/*
 * Where kbs:/// resources (policy, keys, registries.d, authfile, registries_conf, ca_file) and the KEKs
 * of the CoCo keyprovider "attestation-agent" come from: the offline resources file, asked first,
 * then the Trustee KBS after attestation. Neither set (the default): no source, and a kbs:/// resource
 * fails.
 */
typedef struct ccp_kbs_options {
	unsigned int version;
	const char *url;              /* the KBS: https://HOST[:PORT]; http:// only when written so */
	const char *attester;         /* evidence: "auto" (NULL: tdx or snp when present, else sample),
	                               * "sample", "tdx", "snp", "aa" */
	const char *cert;             /* CA certificates (PEM) for the KBS's TLS; NULL: the system's */
	const char *key_type;         /* the KBS session's ephemeral key: "ec" (NULL: P-256) or "rsa" (2048) */
	const char *aa_socket;        /* the attestation agent's ttrpc socket, for the "aa" attester (and "auto"
	                               * without a TEE device); NULL: /run/confidential-containers/
	                               * attestation-agent/attestation-agent.sock (ccp_config_apply sets
	                               * ccpull.toml's [aa] aa_socket here) */
	/* An offline source of kbs:/// resources (and CoCo KEKs), asked before the KBS and usable without
	 * one: a JSON object {"REPOSITORY/TYPE/TAG": "<base64>"} (aa-offline_fs_kbc-resources.json). */
	const char *resources;
} ccp_kbs_options;

#define CCP_KBS_OPTIONS_VERSION 1
#define CCP_KBS_OPTIONS_INIT { .version = CCP_KBS_OPTIONS_VERSION, .url = NULL, .attester = NULL, .cert = NULL, \
			       .key_type = NULL, .aa_socket = NULL, .resources = NULL }

/* Where layers are kept, how they are applied and how the bundle's rootfs is made. */
typedef struct ccp_store_options {
	unsigned int version;
	const char *dir;              /* layer store directory; NULL: /run/ccpull/store */
	ccp_snapshotter snapshotter;
	ccp_store_sync sync;          /* what a layer's commit to the store guarantees (above) */
	unsigned int parallel_layers; /* layers fetched and applied at once; 0 (default): one per CPU, at most 4 */
	/* A layer may decompress to at most this many times its blob size once past 512 MiB (a
	 * decompression bomb fails with CCP_ELAYER); 0 (default): 100. Raise it for sparse-file images. */
	unsigned int max_decompression_ratio;
	ccp_store_keep keep;          /* whether the layers the pull makes go into the store (above) */
} ccp_store_options;

#define CCP_MAX_DECOMPRESSION_RATIO 1000000u /* the largest max_decompression_ratio */

#define CCP_STORE_OPTIONS_VERSION 1
#define CCP_STORE_OPTIONS_INIT { .version = CCP_STORE_OPTIONS_VERSION, .dir = NULL, \
				 .snapshotter = CCP_SNAPSHOTTER_DEFAULT, .sync = CCP_STORE_SYNC_DEFAULT, \
				 .parallel_layers = 0, .max_decompression_ratio = 0, \
				 .keep = CCP_STORE_KEEP_DEFAULT }

typedef struct ccp_pull_options {
	unsigned int version;
	ccp_registry_options registry;
	ccp_trust_options trust;
	ccp_kbs_options kbs;
	ccp_store_options store;
	const char *platform;         /* "os/arch[/variant]"; NULL: the running platform */
	ccp_progress_cb progress;
	void *progress_payload;
	unsigned int timeout_s;       /* time limit in seconds of the whole pull, inspect or verify (or call of
	                               * ccpull/cdh.h, or ccp_config_fetch_credentials), every stage included;
	                               * 0 (default): none. Out of time in a registry exchange is
	                               * CCP_EREGISTRY, in a KBS one CCP_EDECRYPT, elsewhere CCP_ETIMEOUT */
} ccp_pull_options;

#define CCP_PULL_OPTIONS_VERSION 1
#define CCP_PULL_OPTIONS_INIT { .version = CCP_PULL_OPTIONS_VERSION, .registry = CCP_REGISTRY_OPTIONS_INIT, \
				.trust = CCP_TRUST_OPTIONS_INIT, .kbs = CCP_KBS_OPTIONS_INIT, \
				.store = CCP_STORE_OPTIONS_INIT, .platform = NULL, .progress = NULL, \
				.progress_payload = NULL, .timeout_s = 0 }

/*
 * Each initialises its struct to the defaults of the given version; CCP_EINVALID for an unknown
 * version (or a NULL struct). ccp_pull_options_init initialises the nested structs to their current
 * versions too.
 */
CCP_EXTERN(int) ccp_pull_options_init(ccp_pull_options *opts, unsigned int version);
CCP_EXTERN(int) ccp_registry_options_init(ccp_registry_options *opts, unsigned int version);
CCP_EXTERN(int) ccp_trust_options_init(ccp_trust_options *opts, unsigned int version);
CCP_EXTERN(int) ccp_kbs_options_init(ccp_kbs_options *opts, unsigned int version);
CCP_EXTERN(int) ccp_store_options_init(ccp_store_options *opts, unsigned int version);

/* ---- pull ---- */

typedef struct ccp_pull_result ccp_pull_result;

/*
 * Pulls image (a docker reference: "busybox", "registry:5000/app@sha256:...") into bundle:
 * creates BUNDLE/rootfs and BUNDLE/config.json. BUNDLE is created if missing (its parent must exist)
 * and must not already hold a rootfs. On failure nothing is left in BUNDLE and the store holds only
 * fully verified layers. *out is owned by the caller (ccp_pull_result_free).
 */
CCP_EXTERN(int) ccp_pull(ccp_pull_result **out, ccp_context *ctx, const char *image, const char *bundle,
			 const ccp_pull_options *opts);
CCP_EXTERN(void) ccp_pull_result_free(ccp_pull_result *res);

CCP_EXTERN(const char *) ccp_pull_result_image(const ccp_pull_result *res);           /* normalised reference */
CCP_EXTERN(const char *) ccp_pull_result_manifest_digest(const ccp_pull_result *res); /* of the image manifest */
CCP_EXTERN(const char *) ccp_pull_result_config_digest(const ccp_pull_result *res);
CCP_EXTERN(const char *) ccp_pull_result_platform(const ccp_pull_result *res);        /* "linux/amd64" */
CCP_EXTERN(const char *) ccp_pull_result_rootfs(const ccp_pull_result *res);          /* absolute path */
CCP_EXTERN(const char *) ccp_pull_result_config_path(const ccp_pull_result *res);     /* BUNDLE/config.json */
/* The OCI runtime config written to BUNDLE/config.json (JSON text). */
CCP_EXTERN(const char *) ccp_pull_result_config_json(const ccp_pull_result *res);
/* "overlay" or "copy": how BUNDLE/rootfs was made. */
CCP_EXTERN(const char *) ccp_pull_result_snapshotter(const ccp_pull_result *res);
CCP_EXTERN(size_t) ccp_pull_result_layer_count(const ccp_pull_result *res);
CCP_EXTERN(const char *) ccp_pull_result_layer_digest(const ccp_pull_result *res, size_t i);
CCP_EXTERN(const char *) ccp_pull_result_layer_diff_id(const ccp_pull_result *res, size_t i);
CCP_EXTERN(const char *) ccp_pull_result_layer_media_type(const ccp_pull_result *res, size_t i);
CCP_EXTERN(uint64_t) ccp_pull_result_layer_size(const ccp_pull_result *res, size_t i);
CCP_EXTERN(int) ccp_pull_result_layer_reused(const ccp_pull_result *res, size_t i);

/* ---- inspect ---- */

typedef struct ccp_inspect_result ccp_inspect_result;

/*
 * Fetches and verifies an image's manifest (and, for an index, lists its platforms) and the config of
 * the image for opts->platform, without downloading layers. *out is owned by the caller.
 */
CCP_EXTERN(int) ccp_inspect(ccp_inspect_result **out, ccp_context *ctx, const char *image,
			    const ccp_pull_options *opts);
CCP_EXTERN(void) ccp_inspect_result_free(ccp_inspect_result *res);
CCP_EXTERN(const char *) ccp_inspect_result_image(const ccp_inspect_result *res);
/* Digest and media type of the top-level manifest (the index for a multi-platform image). */
CCP_EXTERN(const char *) ccp_inspect_result_digest(const ccp_inspect_result *res);
CCP_EXTERN(const char *) ccp_inspect_result_media_type(const ccp_inspect_result *res);
/* The verified bytes of the top-level manifest. */
CCP_EXTERN(const char *) ccp_inspect_result_raw(const ccp_inspect_result *res, size_t *len);
/* Platforms listed by an index (0 for a single-platform image). */
CCP_EXTERN(size_t) ccp_inspect_result_platform_count(const ccp_inspect_result *res);
CCP_EXTERN(const char *) ccp_inspect_result_platform(const ccp_inspect_result *res, size_t i);
/* Digest of the platform manifest chosen, and its verified image config (JSON text). */
CCP_EXTERN(const char *) ccp_inspect_result_manifest_digest(const ccp_inspect_result *res);
CCP_EXTERN(const char *) ccp_inspect_result_config(const ccp_inspect_result *res, size_t *len);
CCP_EXTERN(const char *) ccp_inspect_result_config_digest(const ccp_inspect_result *res);

CCP_END_DECL
#endif
