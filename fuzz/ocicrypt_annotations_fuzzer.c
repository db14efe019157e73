/* Fuzzes the encryption annotations of a layer (enc.keys.<scheme>, enc.pubopts), the manifest
 * lookup of a layer's annotations and the unwrapped key options (PrivateLayerBlockCipherOptions). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ocicrypt/ocicrypt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_info(const ccp_enc_info *info)
{
	if (info->n_schemes == 0)
		__builtin_trap();
	for (size_t i = 0; i < info->n_schemes; i++) {
		if (!info->schemes[i].scheme[0] || info->schemes[i].n_wrapped == 0)
			__builtin_trap();
		for (size_t j = 0; j < info->schemes[i].n_wrapped; j++)
			if (info->schemes[i].wrapped[j].len == 0)
				__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ccp_err e = CCP_ERR_INIT;
	ccp_enc_info info;
	ccp_layer_crypt c;
	json_t *j, *ann = NULL;

	if (size > 256 * 1024)
		return 0;
	/* The input as a layer's annotations object ... */
	if ((j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL))) {
		if (ccp_enc_info_parse(&info, j, &e) == 0) {
			check_info(&info);
			ccp_enc_info_free(&info);
		}
		json_decref(j);
	}
	/* ... as an image manifest ... */
	if (ccp_manifest_layer_annotations(&ann, data, size, 0, &e) == 0) {
		if (ccp_enc_info_parse(&info, ann, &e) == 0) {
			check_info(&info);
			ccp_enc_info_free(&info);
		}
		json_decref(ann);
	}
	/* ... and as unwrapped key options. */
	ccp_private_opts_parse(&c, data, size, &e);
	ccp_layer_crypt_wipe(&c);
	return 0;
}
