/*
 * Fuzzes the in-toto Statement v1 parser and DSSE PAE of Sigstore bundles. Oracle: a parsed statement has
 * 1 to CCP_INTOTO_MAX_SUBJECTS subjects, a predicate type, names that are non-empty C strings, and the PAE
 * of the input is exactly "DSSEv1 <len> <type> <len> " followed by the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "signature/sigstore_bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ccp_buf pae = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;
	ccp_intoto st;
	char head[64];
	int n;

	if (size > CCP_BUNDLE_MAX)
		return 0;
	if (ccp_intoto_parse(&st, data, size, &e) == 0) {
		if (st.n_subjects == 0 || st.n_subjects > CCP_INTOTO_MAX_SUBJECTS || !st.predicate_type ||
		    !*st.predicate_type)
			__builtin_trap();
		for (size_t i = 0; i < st.n_subjects; i++)
			if (st.subjects[i].name && !*st.subjects[i].name)
				__builtin_trap();
		ccp_intoto_free(&st);
	}
	if (ccp_dsse_pae(&pae, CCP_DSSE_INTOTO, data, size) != 0)
		__builtin_trap();
	n = snprintf(head, sizeof(head), "DSSEv1 %zu %s %zu ", strlen(CCP_DSSE_INTOTO), CCP_DSSE_INTOTO, size);
	if (pae.len != (size_t)n + size || memcmp(pae.data, head, (size_t)n) != 0 ||
	    (size && memcmp(pae.data + n, data, size) != 0))
		__builtin_trap();
	ccp_buf_free(&pae);
	return 0;
}
