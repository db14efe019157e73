/*
 * ccpull.toml: the Confidential Data Hub's configuration file (guest-components
 * confidential-data-hub/hub/src/config/mod.rs), of which ccpull reads the [image] table (image-rs'
 * ImageConfig), [kbc] and [aa]; and, without a file, the kernel command line keys CDH reads
 * (ImageConfig::from_kernel_cmdline). Unknown keys and tables are ignored, as serde does for CDH.
 */
#ifndef CCP_CONFIG_CDH_CONFIG_H
#define CCP_CONFIG_CDH_CONFIG_H

#include <stddef.h>
#include "config/config.h"
#include "util/buf.h"
#include "util/err.h"

#define CCP_CDH_CONFIG_MAX (1024 * 1024)

enum { CCP_CDH_SYNC_UNSET, CCP_CDH_SYNC_NONE, CCP_CDH_SYNC_FULL }; /* [image] store_sync */

#define CCP_CDH_CREDENTIALS_MAX 256

/* One [[credentials]] entry (or a cdh.kbs_resources item): a kbs:/// resource and where to write it. */
typedef struct ccp_cdh_credential {
	char *resource_uri;
	char *path;
} ccp_cdh_credential;

typedef struct ccp_cdh_config {
	char *work_dir;                /* [image] work_dir */
	char *policy_uri;              /* image_security_policy_uri */
	char *policy;                  /* image_security_policy (inline JSON) */
	char *sigstore_config_uri;     /* sigstore_config_uri (a registries.d YAML document) */
	char *sigstore_config;         /* sigstore_config (inline YAML) */
	char *auth_uri;                /* authenticated_registry_credentials_uri */
	char *registries_uri;          /* registry_configuration_uri */
	int has_registry_config;       /* [image.registry_config] was given */
	ccp_registries_conf registry_config;
	char *https_proxy, *http_proxy, *no_proxy;  /* [image.image_pull_proxy] */
	char **extra_root_certificates;             /* PEM documents */
	size_t n_extra_root_certificates;
	long long max_layer_downloads;              /* max_concurrent_layer_downloads_per_image; 0 unset */
	long long max_decompression_ratio;          /* [image] max_decompression_ratio; 0 unset */
	long long store_sync;                       /* [image] store_sync (ccpull's): a CCP_CDH_SYNC_* */
	long long parallel_ranges;                  /* [image] parallel_ranges (ccpull's); 0 unset */
	long long parallel_ranges_min_mib;          /* [image] parallel_ranges_min_mib (ccpull's); 0 unset */
	char *kbc_name, *kbs_url, *kbs_cert;        /* [kbc] name, url, kbs_cert (inline PEM) */
	char *aa_socket;                            /* [aa] aa_socket */
	int skip_sealed_secret_verification;        /* top-level skip_sealed_secret_verification */
	char *socket;                               /* top-level socket ("unix:///PATH") */
	char *forward_socket;                       /* [ccpull] forward_socket ("unix:///PATH"), ccpull's own */
	ccp_cdh_credential *credentials;            /* [[credentials]], then cdh.kbs_resources */
	size_t n_credentials;
	int has_kbc;                                /* a [kbc] table or kbc.* key was given */
} ccp_cdh_config;

/* Parses a CDH config (TOML, multi-line strings allowed). Errors name the line and the key. */
int ccp_cdh_config_parse(ccp_cdh_config *out, const char *data, size_t len, ccp_err *e);
int ccp_cdh_config_load(ccp_cdh_config *out, const char *path, ccp_err *e);

/*
 * The image settings of a kernel command line, as CDH reads them without a config file:
 * agent.https_proxy, agent.http_proxy, agent.no_proxy, agent.image_registry_auth, and
 * agent.image_policy_file only with agent.enable_signature_verification=true. The KBC
 * (agent.aa_kbc_params, see ccp_cdh_config_set_kbc) is not read here.
 */
int ccp_cdh_config_from_cmdline(ccp_cdh_config *out, const char *cmdline, size_t len, ccp_err *e);

/*
 * What CDH reads from the kernel command line whatever its config (guest-components
 * confidential-data-hub/hub/src/config/mod.rs): the first cdh.kbs_resources=URI::PATH[,URI::PATH...]
 * is appended to c's credentials (items without "::" are skipped, as CDH does); with kbc and no
 * [kbc] in c, the first agent.aa_kbc_params= (attestation-agent's AaKbcParams) sets the KBC.
 */
int ccp_cdh_config_add_cmdline(ccp_cdh_config *c, const char *cmdline, size_t len, int kbc, ccp_err *e);

/*
 * Sets [kbc] name and url from "<kbc>::<url>" (AA_KBC_PARAMS, agent.aa_kbc_params): exactly one
 * "::", as attestation-agent's AaKbcParams requires. CCP_EINVALID otherwise.
 */
int ccp_cdh_config_set_kbc(ccp_cdh_config *c, const char *params, ccp_err *e);

/*
 * CDH's rule for where a credential may be written (hub/src/auth/kbs.rs is_path_valid): under
 * /run/confidential-containers/cdh/kbs, no "." or ".." component. 1 when valid.
 */
#define CCP_CDH_KBS_DIR "/run/confidential-containers/cdh/kbs"
int ccp_cdh_credential_path_valid(const char *path);

void ccp_cdh_config_free(ccp_cdh_config *c);

/* Writes c as a registries.conf (v2) that ccp_registries_conf_parse reads back to the same entries. */
int ccp_registries_conf_format(const ccp_registries_conf *c, ccp_buf *out, ccp_err *e);

#endif
