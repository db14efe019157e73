/* Fuzzes JWE parsing and decryption (keyproviders/jwe). First byte: 0 the RSA key, else the EC
 * P-256 key of testdata/ocicrypt (seeds from testdata/mkjwe.py open with them). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/decoder.h>
#include <openssl/evp.h>
#include "ocicrypt/ocicrypt.h"
#include "jwe_fuzzer_keys.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *rsa, *ec;
	ccp_buf plain = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;
	int r;

	if (!rsa) {
		rsa = fuzz_load_pem_key(fuzz_rsa_pem);
		ec = fuzz_load_pem_key(fuzz_ec_pem);
	}
	if (size < 1 || size > 256 * 1024)
		return 0;
	r = ccp_jwe_decrypt(data[0] ? ec : rsa, data + 1, size - 1, &plain, &e);
	if (r != 0 && (r != CCP_EDECRYPT && r != CCP_ENOMEM))
		__builtin_trap();
	if (r != 0 && !e.msg[0])
		__builtin_trap();
	ccp_buf_free(&plain);
	return 0;
}
