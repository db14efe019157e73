/*
 * Fuzzes auth.json lookup. The first input byte picks the host/repository asked for, so lookups
 * walk the exact, namespaced and legacy-key paths.
 */
#include <stddef.h>
#include <stdint.h>
#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const hosts[] = { "docker.io", "registry-1.docker.io", "reg.example", "h", "localhost:5000" };
	static const char *const repos[] = { NULL, "library/busybox", "team/app", "a/b/c/d" };
	ccp_err e = CCP_ERR_INIT;
	char *u = NULL, *p = NULL, *t = NULL;

	if (size < 1 || size > 64 * 1024)
		return 0;
	if (ccp_authfile_lookup_data((const char *)data + 1, size - 1, hosts[data[0] % 5], repos[(data[0] / 5) % 4],
				     &u, &p, &t, &e) == 0) {
		if ((u == NULL) != (p == NULL))
			__builtin_trap();
		ccp_secret_free(u);
		ccp_secret_free(p);
		ccp_secret_free(t);
	}
	return 0;
}
