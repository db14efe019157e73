/* Fuzzes the image config parser (platform fields, rootfs.type, rootfs.diff_ids). */
#include <stddef.h>
#include <stdint.h>
#include "manifest/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ccp_err e = CCP_ERR_INIT;
	ccp_image_config c;

	if (size > (1u << 20))
		return 0;
	if (ccp_image_config_parse(&c, data, size, &e) == 0) {
		if (c.n_diff_ids > CCP_LAYERS_MAX)
			__builtin_trap();
		for (size_t i = 0; i < c.n_diff_ids; i++)
			if (c.diff_ids[i].algo != CCP_SHA256 && c.diff_ids[i].algo != CCP_SHA512)
				__builtin_trap();
		ccp_image_config_free(&c);
	} else if (e.code != CCP_EREGISTRY && e.code != CCP_ENOMEM) {
		__builtin_trap();
	}
	return 0;
}
