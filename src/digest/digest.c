/* "algo:hex" digests (digest.h): strict parsing, formatting, and the streaming hashers (OpenSSL EVP). */
#include "digest/digest.h"

#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>

const char *ccp_digest_algo_name(ccp_digest_algo a)
{
	return a == CCP_SHA512 ? "sha512" : a == CCP_SHA256 ? "sha256" : "unknown";
}

int ccp_digest_parse(ccp_digest *out, const char *s, size_t len, ccp_err *e)
{
	const char *colon = memchr(s, ':', len);
	size_t alen, hlen, want;
	ccp_digest_algo algo;

	memset(out, 0, sizeof(*out));
	if (!colon)
		return ccp_err_set(e, CCP_EINVALID, "invalid digest \"%.*s\": missing algorithm",
				   (int)(len > 80 ? 80 : len), s);
	alen = (size_t)(colon - s);
	hlen = len - alen - 1;
	if (alen == 6 && memcmp(s, "sha256", 6) == 0) {
		algo = CCP_SHA256;
		want = 64;
	} else if (alen == 6 && memcmp(s, "sha512", 6) == 0) {
		algo = CCP_SHA512;
		want = 128;
	} else {
		return ccp_err_set(e, CCP_EINVALID, "unsupported digest algorithm \"%.*s\"",
				   (int)(alen > 32 ? 32 : alen), s);
	}
	if (hlen != want)
		return ccp_err_set(e, CCP_EINVALID, "invalid %s digest: %zu hex characters, expected %zu",
				   ccp_digest_algo_name(algo), hlen, want);
	for (size_t i = 0; i < hlen; i++) {
		char c = colon[1 + i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return ccp_err_set(e, CCP_EINVALID, "invalid %s digest: character %zu is not lowercase hex",
					   ccp_digest_algo_name(algo), i + 1);
	}
	out->algo = algo;
	memcpy(out->hex, colon + 1, hlen);
	out->hex[hlen] = '\0';
	return 0;
}

char *ccp_digest_str(const ccp_digest *d, char *out)
{
	snprintf(out, CCP_DIGEST_STR_MAX, "%s:%s", ccp_digest_algo_name(d->algo), d->hex);
	return out;
}

int ccp_digest_equal(const ccp_digest *a, const ccp_digest *b)
{
	return a->algo == b->algo && a->algo != 0 && strcmp(a->hex, b->hex) == 0;
}

int ccp_hasher_init(ccp_hasher *h, ccp_digest_algo algo, ccp_err *e)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const EVP_MD *md = algo == CCP_SHA512 ? EVP_sha512() : EVP_sha256();

	h->ctx = NULL;
	h->algo = algo;
	h->bytes = 0;
	if (!ctx)
		return ccp_err_oom(e);
	if (algo != CCP_SHA256 && algo != CCP_SHA512) {
		EVP_MD_CTX_free(ctx);
		return ccp_err_set(e, CCP_EINTERNAL, "unknown digest algorithm %d", (int)algo);
	}
	if (EVP_DigestInit_ex(ctx, md, NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return ccp_err_set(e, CCP_EINTERNAL, "cannot initialise %s", ccp_digest_algo_name(algo));
	}
	h->ctx = ctx;
	return 0;
}

void ccp_hasher_update(ccp_hasher *h, const void *data, size_t len)
{
	EVP_DigestUpdate((EVP_MD_CTX *)h->ctx, data, len);
	h->bytes += len;
}

void ccp_hasher_final(ccp_hasher *h, ccp_digest *out)
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_DigestFinal_ex((EVP_MD_CTX *)h->ctx, md, &n);
	out->algo = h->algo;
	for (unsigned int i = 0; i < n; i++) {
		out->hex[2 * i] = hexd[md[i] >> 4];
		out->hex[2 * i + 1] = hexd[md[i] & 15];
	}
	out->hex[2 * n] = '\0';
}

void ccp_hasher_free(ccp_hasher *h)
{
	EVP_MD_CTX_free((EVP_MD_CTX *)h->ctx);
	h->ctx = NULL;
}

int ccp_digest_compute(ccp_digest *out, ccp_digest_algo algo, const void *data, size_t len, ccp_err *e)
{
	ccp_hasher h;
	int r = ccp_hasher_init(&h, algo, e);
	if (r)
		return r;
	ccp_hasher_update(&h, data, len);
	ccp_hasher_final(&h, out);
	ccp_hasher_free(&h);
	return 0;
}
