/* Fuzzes the keyprovider gRPC answer: the length-prefixed message and its one-field protobuf, then
 * the keyprovider JSON it carries (as the transport does). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "ocicrypt/ocicrypt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ccp_buf msg = CCP_BUF_INIT(1u << 20), opts = CCP_BUF_INIT(0), again = CCP_BUF_INIT(0), back = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;

	if (size > 256 * 1024)
		return 0;
	if (ccp_grpc_parse_response(&msg, data, size, &e) == 0) {
		if (msg.len == 0 || msg.len + 5 > size)
			__builtin_trap();
		/* Reframing what was parsed gives it back. */
		if (ccp_grpc_frame_request(&again, msg.data, msg.len, &e) ||
		    ccp_grpc_parse_response(&back, again.data, again.len, &e) || back.len != msg.len ||
		    memcmp(back.data, msg.data, msg.len) != 0)
			__builtin_trap();
		if (ccp_keyprovider_parse_response(&opts, msg.data, msg.len, &e) == 0 &&
		    (opts.len == 0 || opts.len > CCP_OCICRYPT_OPTS_MAX))
			__builtin_trap();
	} else if (e.code != CCP_EDECRYPT && e.code != CCP_ENOMEM) {
		__builtin_trap();
	}
	ccp_buf_free(&msg);
	ccp_buf_free(&opts);
	ccp_buf_free(&again);
	ccp_buf_free(&back);
	return 0;
}
