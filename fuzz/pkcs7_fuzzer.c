/* Fuzzes the pkcs7 scheme's EnvelopedData walker and decryption (the wrapped key comes from the
 * registry). One RSA key and a self-signed certificate are made at the first call. */
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "ocicrypt/ocicrypt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *pkey;
static X509 *cert;

static void setup(void)
{
	X509_NAME *n;

	if (!(pkey = EVP_RSA_gen(2048)) || !(cert = X509_new()))
		__builtin_trap();
	n = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"fuzz", -1, -1, 0);
	X509_set_issuer_name(cert, n);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
	if (X509_set_pubkey(cert, pkey) != 1 || X509_sign(cert, pkey, EVP_sha256()) <= 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ccp_buf plain = CCP_BUF_INIT(CCP_OCICRYPT_OPTS_MAX);
	ccp_err e = CCP_ERR_INIT;

	if (size > 64 * 1024)
		return 0;
	if (!pkey)
		setup();
	/* Without the key's recipient in the input, nothing can open it. */
	if (ccp_pkcs7_decrypt(cert, pkey, data, size, &plain, &e) == 0 || (e.code != CCP_EDECRYPT && e.code != CCP_ENOMEM))
		__builtin_trap();
	ccp_buf_free_secure(&plain);
	return 0;
}
