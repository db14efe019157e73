/* Fuzzes the registries.conf TOML parser and prefix lookup. */
#include <stddef.h>
#include <stdint.h>
#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ccp_registries_conf c;
	ccp_err e = CCP_ERR_INIT;

	if (size > 64 * 1024)
		return 0;
	if (ccp_registries_conf_parse(&c, (const char *)data, size, &e) == 0) {
		for (size_t i = 0; i < c.n_entries; i++) {
			if (!c.entries[i].prefix)
				__builtin_trap();
			/* every entry matches its own prefix unless it is a wildcard */
			if (c.entries[i].prefix[0] != '*' && !ccp_registries_conf_find(&c, c.entries[i].prefix))
				__builtin_trap();
		}
		ccp_registries_conf_find(&c, "docker.io/library/busybox:latest");
		ccp_registries_conf_find(&c, "a.example.com/x@sha256:00");
		ccp_registries_conf_free(&c);
	}
	return 0;
}
