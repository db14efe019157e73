/* Fuzzes what a KBS sends back (keyproviders/kbs). First byte: 0 the auth challenge, 1 the attest
 * response (token), 2 an RFC 7807 error, 3 a resource JWE opened with the EC P-256 key of the jwe
 * fuzzer (a tee key), 4 a resource URI, 5 the canonical JSON of any document, 6 the attestation agent's
 * GetToken answer, 7 a TDX CC event log to trim. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/decoder.h>
#include <openssl/evp.h>
#include "keyproviders/kbs/kbs.h"
#include "ocicrypt/ocicrypt.h"
#include "util/json.h"
#include "jwe_fuzzer_keys.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *ec;
	ccp_err e = CCP_ERR_INIT;
	const char *in = (const char *)data + 1;
	size_t n = size - 1;

	if (!ec)
		ec = fuzz_load_pem_key(fuzz_ec_pem);
	if (size < 1 || size > 256 * 1024)
		return 0;
	switch (data[0]) {
	case 0: {
		ccp_kbs_challenge c;
		if (ccp_kbs_parse_challenge(&c, in, n, &e) == 0) {
			if (!c.nonce || !c.hash)
				__builtin_trap();
			ccp_kbs_challenge_free(&c);
		}
		break;
	}
	case 1: {
		char *tok = NULL;
		int64_t exp = 0;
		if (ccp_kbs_parse_token(&tok, &exp, in, n, &e) == 0 && (!tok || !*tok || exp < 0))
			__builtin_trap();
		free(tok);
		break;
	}
	case 2: {
		char msg[128];
		ccp_kbs_problem(msg, sizeof(msg), in, n);
		for (size_t i = 0; msg[i]; i++)
			if (msg[i] < 0x20 || msg[i] > 0x7e)
				__builtin_trap();
		break;
	}
	case 3: {
		ccp_buf plain = CCP_BUF_INIT(0);
		int r = ccp_jwe_decrypt(ec, in, n, &plain, &e);
		if (r != 0 && ((r != CCP_EDECRYPT && r != CCP_ENOMEM) || !e.msg[0]))
			__builtin_trap();
		ccp_buf_free_secure(&plain);
		break;
	}
	case 4: {
		char uri[1024], path[CCP_KBS_PATH_MAX];
		if (n >= sizeof(uri))
			return 0;
		memcpy(uri, in, n);
		uri[n] = '\0';
		if (ccp_kbs_resource_path(path, uri, &e) == 0 && !fuzz_resource_path_ok(path))
			__builtin_trap();
		break;
	}
	case 6: {
		char *tok = NULL;
		void *key = NULL;
		int64_t exp = 0;
		int r = ccp_aa_token_parse(&tok, &exp, &key, in, n, &e);
		if (r == 0 && (!tok || !*tok || !key || exp < 0))
			__builtin_trap();
		if (r != 0 && (tok || key))
			__builtin_trap();
		free(tok);
		EVP_PKEY_free(key);
		break;
	}
	case 7: {
		ccp_buf log = CCP_BUF_INIT(0);
		if (ccp_buf_append(&log, in, n))
			return 0;
		if (ccp_ccel_trim(&log, &e) == 0 && (log.len > n || log.len < 28))
			__builtin_trap();
		ccp_buf_free(&log);
		break;
	}
	default: {
		json_t *j = NULL;
		ccp_buf canon = CCP_BUF_INIT(1u << 20);
		if (ccp_json_parse(&j, in, n, 1u << 20, "doc", CCP_EDECRYPT, &e) == 0 && ccp_jcs(&canon, j, &e) == 0) {
			/* Canonical output parses back to an equal document. */
			json_t *k = NULL;
			if (ccp_json_parse(&k, canon.data, canon.len, 1u << 20, "canon", CCP_EDECRYPT, &e) || !json_equal(j, k))
				__builtin_trap();
			json_decref(k);
		}
		json_decref(j);
		ccp_buf_free(&canon);
	}
	}
	return 0;
}
