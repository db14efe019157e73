/*
 * Fuzzes the signature list of the X-Registry-Supports-Signatures extension (a registry's answer):
 * every entry kept must be a simple signature within the caps.
 */
#include <stddef.h>
#include <stdint.h>
#include "registry/sigext.h"
#include "signature/signature.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ccp_sig_list l = { NULL, 0 };
	ccp_err e = CCP_ERR_INIT;

	if (size > CCP_SIGEXT_LIST_MAX)
		return 0;
	if (ccp_sigext_parse(&l, data, size, "fuzz", &e) == 0) {
		if (l.n > CCP_LOOKASIDE_MAX_SIGS)
			__builtin_trap();
		for (size_t i = 0; i < l.n; i++) {
			const unsigned char *body;
			size_t len;
			ccp_sig_kind kind;
			if (ccp_sig_classify(l.v[i].data, l.v[i].len, &kind, &body, &len, NULL) != 0 ||
			    kind != CCP_SIG_SIMPLE || len == 0 || len > CCP_LOOKASIDE_SIG_MAX)
				__builtin_trap();
		}
	} else if (l.n != 0) {
		__builtin_trap();
	}
	ccp_sig_list_free(&l);
	return 0;
}
