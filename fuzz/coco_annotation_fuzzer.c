/* Fuzzes the CoCo annotation packet (provider.attestation-agent) and its unwrap with a fixed KEK. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "keyproviders/kbs/kbs.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char kek[32] = "ccpull-fuzz-kek-0123456789abcde";
	ccp_err e = CCP_ERR_INIT;
	ccp_coco_packet p;
	ccp_buf out = CCP_BUF_INIT(0);
	int r;

	if (size > 256 * 1024)
		return 0;
	if (ccp_coco_packet_parse(&p, data, size, &e) != 0)
		return e.msg[0] ? 0 : (__builtin_trap(), 0);
	if (!fuzz_resource_path_ok(p.path) || (p.ctr ? p.iv.len != 16 : p.iv.len != 12))
		__builtin_trap();
	r = ccp_coco_unwrap(&out, &p, kek, sizeof(kek), &e);
	if (r != 0 && r != CCP_EDECRYPT && r != CCP_ENOMEM)
		__builtin_trap();
	ccp_buf_free_secure(&out);
	ccp_coco_packet_free(&p);
	return 0;
}
