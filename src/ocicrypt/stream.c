/* AES_256_CTR_HMAC_SHA256 (ocicrypt blockcipher): encrypt-then-MAC with one key, checked at the end. */
#include "ocicrypt/ocicrypt.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

struct ccp_decryptor {
	EVP_CIPHER_CTX *cipher;
	EVP_MAC_CTX *mac;
	unsigned char expected[CCP_OCICRYPT_HMAC_LEN];
	int failed;
};

void ccp_decryptor_free(ccp_decryptor *d)
{
	if (!d)
		return;
	EVP_CIPHER_CTX_free(d->cipher); /* both clean their key schedules */
	EVP_MAC_CTX_free(d->mac);
	OPENSSL_cleanse(d, sizeof(*d));
	free(d);
}

int ccp_decryptor_new(ccp_decryptor **out, const ccp_layer_crypt *c, ccp_err *e)
{
	OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
				OSSL_PARAM_construct_end() };
	ccp_decryptor *d = calloc(1, sizeof(*d));
	EVP_MAC *hmac = NULL;

	*out = NULL;
	if (!d)
		return ccp_err_oom(e);
	memcpy(d->expected, c->hmac, sizeof(d->expected));
	if (!(d->cipher = EVP_CIPHER_CTX_new()) ||
	    EVP_DecryptInit_ex(d->cipher, EVP_aes_256_ctr(), NULL, c->key, c->nonce) != 1 ||
	    !(hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) || !(d->mac = EVP_MAC_CTX_new(hmac)) ||
	    EVP_MAC_init(d->mac, c->key, CCP_OCICRYPT_KEY_LEN, params) != 1) {
		EVP_MAC_free(hmac);
		ccp_decryptor_free(d);
		return ccp_err_set(e, CCP_EINTERNAL, "cannot set up AES-256-CTR and HMAC-SHA256 (OpenSSL)");
	}
	EVP_MAC_free(hmac);
	*out = d;
	return 0;
}

int ccp_decryptor_update(ccp_decryptor *d, const void *in, void *out, size_t n, ccp_err *e)
{
	const unsigned char *p = in;
	unsigned char *q = out;

	while (n > 0) {
		int chunk = n > INT_MAX / 2 ? INT_MAX / 2 : (int)n, outl = 0;
		/* MAC the ciphertext before decrypting in place. */
		if (EVP_MAC_update(d->mac, p, (size_t)chunk) != 1 ||
		    EVP_DecryptUpdate(d->cipher, q, &outl, p, chunk) != 1 || outl != chunk) {
			d->failed = 1;
			return ccp_err_set(e, CCP_EINTERNAL, "AES-256-CTR or HMAC-SHA256 failed (OpenSSL)");
		}
		p += chunk;
		q += chunk;
		n -= (size_t)chunk;
	}
	return 0;
}

int ccp_decryptor_final(ccp_decryptor *d, ccp_err *e)
{
	unsigned char got[EVP_MAX_MD_SIZE];
	size_t len = 0;
	int ok;

	if (d->failed || EVP_MAC_final(d->mac, got, &len, sizeof(got)) != 1 || len != CCP_OCICRYPT_HMAC_LEN)
		return ccp_err_set(e, CCP_EINTERNAL, "HMAC-SHA256 failed (OpenSSL)");
	ok = CRYPTO_memcmp(got, d->expected, CCP_OCICRYPT_HMAC_LEN) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	if (!ok)
		return ccp_err_set(e, CCP_EINTEGRITY,
				   "HMAC mismatch: the encrypted layer is not what its pubopts annotation authenticates "
				   "(altered, or the unwrapped key is not its key)");
	return 0;
}
