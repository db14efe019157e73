/* Fuzzes the ccpull.toml (CDH config) parser, the TOML core with multi-line strings, the kernel
 * command line readers (image keys; CDH's cdh.kbs_resources and agent.aa_kbc_params), the credential
 * path rule, and the registries.conf written back from [image.registry_config]. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "config/cdh_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ccp_cdh_config c;
	ccp_err e = CCP_ERR_INIT;

	if (size > 64 * 1024)
		return 0;
	if (ccp_cdh_config_parse(&c, (const char *)data, size, &e) == 0) {
		if (c.has_registry_config) {
			/* what ccpull writes for the pull must read back to the same registries */
			ccp_buf b = CCP_BUF_INIT(0);
			ccp_registries_conf rc;
			if (ccp_registries_conf_format(&c.registry_config, &b, &e) != 0)
				__builtin_trap();
			if (ccp_registries_conf_parse(&rc, b.data ? b.data : "", b.len, &e) != 0)
				__builtin_trap();
			if (rc.n_entries != c.registry_config.n_entries || rc.n_unqualified != c.registry_config.n_unqualified)
				__builtin_trap();
			for (size_t i = 0; i < rc.n_entries; i++)
				if (strcmp(rc.entries[i].prefix, c.registry_config.entries[i].prefix) != 0 ||
				    rc.entries[i].n_mirrors != c.registry_config.entries[i].n_mirrors ||
				    rc.entries[i].blocked != c.registry_config.entries[i].blocked ||
				    rc.entries[i].insecure != c.registry_config.entries[i].insecure)
					__builtin_trap();
			ccp_registries_conf_free(&rc);
			ccp_buf_free(&b);
		}
		for (size_t i = 0; i < c.n_credentials; i++)
			if (!c.credentials[i].path || !c.credentials[i].resource_uri)
				__builtin_trap();  /* an entry is complete or the parse fails */
		if (ccp_cdh_config_add_cmdline(&c, (const char *)data, size, 1, &e) == 0)
			for (size_t i = 0; i < c.n_credentials; i++)
				(void)ccp_cdh_credential_path_valid(c.credentials[i].path);
		ccp_cdh_config_free(&c);
	} else if (!e.msg[0] || c.work_dir || c.has_registry_config || c.n_credentials) {
		__builtin_trap();  /* a failure says why and leaves nothing */
	}
	if (ccp_cdh_config_from_cmdline(&c, (const char *)data, size, &e) == 0)
		ccp_cdh_config_free(&c);
	return 0;
}
