/* Fuzzes the SNP evidence parser (keyproviders/kbs/snp.c): the first 1184 bytes are the attestation
 * report (shorter inputs are a truncated report), the rest the host's certificate table. The report
 * data asked for is the report's own, so that the parser goes past that check. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "keyproviders/kbs/kbs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int bytes_are(const json_t *a, const uint8_t *p, size_t n)
{
	if (json_array_size(a) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (json_integer_value(json_array_get(a, i)) != p[i])
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char rd[CCP_SNP_REPORT_DATA_LEN] = { 0 };
	size_t rlen = size < CCP_SNP_REPORT_LEN ? size : CCP_SNP_REPORT_LEN;
	ccp_err e = CCP_ERR_INIT;
	json_t *ev = NULL, *chain;
	char *s;

	if (size > CCP_SNP_REPORT_LEN + CCP_SNP_CERTS_MAX + 16)
		return 0;
	if (rlen >= 0x50 + sizeof(rd))
		memcpy(rd, data + 0x50, sizeof(rd));
	if (ccp_snp_evidence(&ev, data, rlen, data + rlen, size - rlen, rd, &e) != 0) {
		if (ev || !e.msg[0])
			__builtin_trap();
		return 0;
	}
	/* accepted: a whole report of a known version, our report data, certificates inside the input */
	if (rlen != CCP_SNP_REPORT_LEN ||
	    !bytes_are(json_object_get(json_object_get(ev, "attestation_report"), "report_data"), rd, sizeof(rd)))
		__builtin_trap();
	chain = json_object_get(ev, "cert_chain");
	if (!json_is_null(chain)) {
		size_t total = 0;
		for (size_t i = 0; i < json_array_size(chain); i++)
			total += json_array_size(json_object_get(json_array_get(chain, i), "data"));
		if (!json_is_array(chain) || json_array_size(chain) == 0 || total > size - rlen)
			__builtin_trap();
	}
	if (!(s = json_dumps(ev, JSON_COMPACT)))
		__builtin_trap();
	free(s);
	json_decref(ev);
	return 0;
}
