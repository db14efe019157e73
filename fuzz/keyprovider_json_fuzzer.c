/* Fuzzes what key providers hand back: the keyprovider protocol response (first byte 0) and the
 * keyprovider config file (first byte 1). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ocicrypt/ocicrypt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ccp_err e = CCP_ERR_INIT;

	if (size < 1 || size > 256 * 1024)
		return 0;
	if (data[0] == 0) {
		ccp_buf opts = CCP_BUF_INIT(0);
		if (ccp_keyprovider_parse_response(&opts, data + 1, size - 1, &e) == 0 &&
		    (opts.len == 0 || opts.len > CCP_OCICRYPT_OPTS_MAX))
			__builtin_trap();
		ccp_buf_free(&opts);
	} else {
		ccp_kp_config c;
		if (ccp_kp_config_parse(&c, data + 1, size - 1, "config", &e) == 0) {
			for (size_t i = 0; i < c.n; i++)
				if (!c.entries[i].name ||
				    !!c.entries[i].cmd_path + !!c.entries[i].grpc + !!c.entries[i].ttrpc + !!c.entries[i].native != 1 ||
				    (c.entries[i].ttrpc && strncmp(c.entries[i].ttrpc, "unix:", 5) != 0) ||
				    (c.entries[i].cmd_path && c.entries[i].cmd_path[0] != '/'))
					__builtin_trap();
			ccp_kp_config_free(&c);
		}
	}
	return 0;
}
