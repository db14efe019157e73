/* Helpers shared by fuzz harnesses: loading their fixed keys, and the oracle for KBS resource paths. */
#ifndef CCP_FUZZ_COMMON_H
#define CCP_FUZZ_COMMON_H

#include <string.h>
#include <openssl/decoder.h>
#include <openssl/evp.h>

/* A PEM key pair compiled into the harness; a harness that cannot load its own key is broken. */
static inline EVP_PKEY *fuzz_load_pem_key(const char *pem)
{
	EVP_PKEY *k = NULL;
	const unsigned char *p = (const unsigned char *)pem;
	size_t len = strlen(pem);
	OSSL_DECODER_CTX *d = OSSL_DECODER_CTX_new_for_pkey(&k, "PEM", NULL, NULL, EVP_PKEY_KEYPAIR, NULL, NULL);

	if (!d || OSSL_DECODER_from_data(d, &p, &len) != 1)
		__builtin_trap();
	OSSL_DECODER_CTX_free(d);
	return k;
}

/* A resource path has three parts, none empty, "." or "..", and nothing of a query. */
static inline int fuzz_resource_path_ok(const char *s)
{
	size_t parts = 1;

	if (strchr(s, '?') || strchr(s, '#'))
		return 0;
	for (const char *p = s;; p++) {
		const char *q = strchr(p, '/');
		size_t n = q ? (size_t)(q - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (!q)
			break;
		parts++;
		p = q;
	}
	return parts == 3;
}

#endif
