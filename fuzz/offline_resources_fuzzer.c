/*
 * Fuzzes the offline resources file ({"repository/type/tag": "<base64>"}): a parse either fails or
 * yields entries whose paths are valid resource paths, distinct, found by lookup, and whose data fit
 * the resource cap.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "config/resource.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ccp_offline_resources o;
	ccp_err e = CCP_ERR_INIT;

	if (size > 256 * 1024)
		return 0;
	if (ccp_offline_resources_parse(&o, data, size, "fuzz", &e) != 0) {
		if (o.n || o.v || !e.msg[0])
			__builtin_trap();
		return 0;
	}
	for (size_t i = 0; i < o.n; i++) {
		const ccp_offline_entry *en = &o.v[i];
		if (!fuzz_resource_path_ok(en->path) || ccp_offline_resources_find(&o, en->path) != en ||
		    en->data.len > CCP_RESOURCE_MAX || !en->data.data)
			__builtin_trap();
	}
	ccp_offline_resources_free(&o);
	return 0;
}
