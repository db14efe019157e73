/*
 * ccpull.toml: the Confidential Data Hub's configuration file, so that a cdh.toml written for CoCo
 * configures ccpull unchanged. ccpull reads its [image] table (image-rs' ImageConfig), [kbc] and
 * [aa]; every other table and key is ignored, as CDH ignores keys it does not know.
 *
 *   [image] work_dir                     -> store (ccpull's layer store lives in that directory)
 *   image_security_policy_uri            -> policy (a path, file:///PATH or kbs:///REPO/TYPE/TAG)
 *   image_security_policy                -> policy (inline JSON; the URI wins when both are set)
 *   sigstore_config_uri, sigstore_config -> registries_d (a registries.d YAML document, path or inline)
 *   authenticated_registry_credentials_uri -> authfile (a path or file:///PATH)
 *   registry_configuration_uri           -> registries_conf (a path or file:///PATH)
 *   [image.registry_config]              -> registries_conf (inline; wins over the URI)
 *   extra_root_certificates              -> ca_file (PEM strings, trusted besides the system roots)
 *   [image.image_pull_proxy] https_proxy, http_proxy, no_proxy -> ccp_config_proxy()
 *   max_concurrent_layer_downloads_per_image (1..1024) -> parallel_layers
 *   max_decompression_ratio (1..1000000)  -> max_decompression_ratio
 *   store_sync ("none" or "full", ccpull's own) -> store_sync
 *   parallel_ranges (1..16), parallel_ranges_min_mib (ccpull's own) -> parallel_ranges, parallel_ranges_min_mib
 *   [kbc] name = "cc_kbc", url, kbs_cert -> kbs, kbs_cert (other KBCs: no KBS)
 *   [aa] aa_socket                       -> aa_socket (the aa attester), ccp_config_aa_socket()
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
 * Sets in opts what cfg configures, for each option opts leaves unset (NULL): so options set before
 * (the command line) win over the file. The strings stay owned by cfg: keep cfg until opts is done.
 */
CCP_EXTERN(int) ccp_config_apply(const ccp_config *cfg, ccp_context *ctx, ccp_pull_options *opts);

/* [image.image_pull_proxy]: which is "https_proxy", "http_proxy" or "no_proxy"; NULL when unset.
 * libcurl reads these from the environment: a program exports them before it starts pulling. */
CCP_EXTERN(const char *) ccp_config_proxy(const ccp_config *cfg, const char *which);

/* [aa] aa_socket without a "unix://" prefix; NULL when unset. */
CCP_EXTERN(const char *) ccp_config_aa_socket(const ccp_config *cfg);

CCP_EXTERN(void) ccp_config_free(ccp_config *cfg);

CCP_END_DECL
#endif
