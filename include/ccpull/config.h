/*
 * ccpull.toml: the Confidential Data Hub's configuration file, so that a cdh.toml written for CoCo
 * configures ccpull unchanged. ccpull reads its [image] table (image-rs' ImageConfig), [kbc] and
 * [aa]; every other table and key is ignored, as CDH ignores keys it does not know.
 *
 * The keys and the ccp_pull_options fields they set:
 *   [image] work_dir                     -> store.dir (ccpull's layer store lives in that directory)
 *   image_security_policy_uri            -> trust.policy (a path, file:///PATH or kbs:///REPO/TYPE/TAG)
 *   image_security_policy                -> trust.policy (inline JSON; the URI wins when both are set)
 *   sigstore_config_uri, sigstore_config -> trust.registries_d (a registries.d YAML document, path or inline)
 *   authenticated_registry_credentials_uri -> registry.authfile (a path or file:///PATH)
 *   registry_configuration_uri           -> registry.registries_conf (a path or file:///PATH)
 *   [image.registry_config]              -> registry.registries_conf (inline; wins over the URI)
 *   extra_root_certificates              -> registry.ca_file (PEM strings, trusted besides the system roots)
 *   [image.image_pull_proxy] https_proxy, http_proxy, no_proxy -> ccp_config_proxy()
 *   max_concurrent_layer_downloads_per_image (1..1024) -> store.parallel_layers
 *   max_decompression_ratio (1..1000000)  -> store.max_decompression_ratio
 *   store_sync ("none" or "full", ccpull's own) -> store.sync
 *   parallel_ranges (1..16), parallel_ranges_min_mib (ccpull's own) -> registry.parallel_ranges,
 *                                           registry.parallel_ranges_min_mib
 *   [kbc] name = "cc_kbc", url, kbs_cert -> kbs.url, kbs.cert (other KBCs: no KBS)
 *   [aa] aa_socket                       -> kbs.aa_socket (the aa attester), ccp_config_aa_socket()
 *   skip_sealed_secret_verification      -> ccp_config_skip_sealed_secret_verification()
 *
 * A kbs:/// URI is supported where the option takes one (the policy); elsewhere loading fails with
 * CCP_EINVALID naming the key. Inline documents are written to a private directory (mode 0700 under
 * $TMPDIR, else /run for root, else /tmp) that ccp_config_free removes.
 */
#ifndef INCLUDE_ccpull_config_h__
#define INCLUDE_ccpull_config_h__

#include "common.h"
#include "pull.h"

CCP_BEGIN_DECL

typedef struct ccp_config ccp_config;

/* Reads a ccpull.toml (a CDH config). A missing or malformed file, or an unsupported value, fails
 * with CCP_EINVALID and a message naming the file, the line and the key. */
CCP_EXTERN(int) ccp_config_load(ccp_config **out, ccp_context *ctx, const char *path);

/*
 * The configuration CDH uses without a config file: the kernel command line's agent.https_proxy,
 * agent.http_proxy, agent.no_proxy, agent.image_registry_auth, and agent.image_policy_file when
 * agent.enable_signature_verification=true. path NULL: /proc/cmdline. An unreadable command line
 * gives an empty configuration, as in CDH.
 */
CCP_EXTERN(int) ccp_config_load_cmdline(ccp_config **out, ccp_context *ctx, const char *path);

/*
 * The configuration as the Confidential Data Hub reads it when kata-agent starts it (ccpull's CDH
 * mode): path (cdh.toml, which must then have [kbc]) or, when NULL, the kernel command line's image
 * keys and agent.aa_kbc_params (first occurrence); in both cases the kernel command line's first
 * cdh.kbs_resources=URI::PATH,... adds credentials, and aa_kbc_params ($AA_KBC_PARAMS,
 * "<kbc>::<url>"; NULL: unset) overrides [kbc]. Without a KBC: offline_fs_kbc. [image] work_dir
 * defaults to /run/kata-containers/image. Besides what ccp_config_load reads: the top-level
 * `socket`, `[[credentials]]` (resource_uri, path: checked here as CDH checks them) and ccpull's
 * own `[ccpull] forward_socket`. [kbc] kbs_cert is trusted besides the system's roots ($SSL_CERT_FILE,
 * else OpenSSL's default CA file), as CDH adds it, where ccp_config_load's replaces them.
 * cmdline_path NULL: /proc/cmdline (unreadable: empty).
 */
CCP_EXTERN(int) ccp_config_load_cdh(ccp_config **out, ccp_context *ctx, const char *path, const char *cmdline_path,
				    const char *aa_kbc_params);

/* CDH mode: `socket` and `[ccpull] forward_socket` without "unix://"; NULL when unset. */
CCP_EXTERN(const char *) ccp_config_socket(const ccp_config *cfg);
CCP_EXTERN(const char *) ccp_config_forward_socket(const ccp_config *cfg);
/* CDH mode: how many credentials ([[credentials]] and cdh.kbs_resources) there are to fetch. */
CCP_EXTERN(size_t) ccp_config_credential_count(const ccp_config *cfg);

/*
 * CDH mode, at start: fetches each credential's kbs:/// resource through the KBS or the offline
 * resources of opts (its kbs options, and timeout_s) and
 * writes it (mode 0600, directories made as needed) to its path under
 * /run/confidential-containers/cdh/kbs/. The first failure stops, naming the credential.
 */
CCP_EXTERN(int) ccp_config_fetch_credentials(const ccp_config *cfg, ccp_context *ctx, const ccp_pull_options *opts);

/*
 * Sets in opts what cfg configures, for each option opts leaves unset (NULL): so options set before
 * (the command line) win over the file. The strings stay owned by cfg: keep cfg until opts is done.
 */
CCP_EXTERN(int) ccp_config_apply(const ccp_config *cfg, ccp_context *ctx, ccp_pull_options *opts);

/* [image.image_pull_proxy]: which is "https_proxy", "http_proxy" or "no_proxy"; NULL when unset.
 * libcurl reads these from the environment: a program exports them before it starts pulling. */
CCP_EXTERN(const char *) ccp_config_proxy(const ccp_config *cfg, const char *which);

/* [aa] aa_socket without a "unix://" prefix; NULL when unset. */
CCP_EXTERN(const char *) ccp_config_aa_socket(const ccp_config *cfg);

/* skip_sealed_secret_verification (top level): 1 when true, else 0 (UnsealSecret, ccpull/cdh.h). */
CCP_EXTERN(int) ccp_config_skip_sealed_secret_verification(const ccp_config *cfg);

CCP_EXTERN(void) ccp_config_free(ccp_config *cfg);

CCP_END_DECL
#endif
