/* Strict base64 (util/b64.h): ocicrypt annotations, auth.json and offline resources use the
 * standard alphabet with padding (Go's base64.StdEncoding), JWE base64url without (RFC 7515). */
#include "util/b64.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "util/err.h"

static int b64_value(unsigned char c, int url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

static int b64_decode_append(ccp_buf *out, const char *s, size_t len, int url)
{
	unsigned char quad[4], tri[3];
	size_t i, data_len = len, n = 0;
	int r;

	if (!url) {
		if (len % 4)
			return CCP_EINVALID;
		if (len && s[len - 1] == '=')
			data_len--;
		if (len > 1 && s[len - 2] == '=')
			data_len--;
	} else if (len % 4 == 1) {
		return CCP_EINVALID;
	}
	for (i = 0; i < data_len; i++) {
		int v = b64_value((unsigned char)s[i], url);
		if (v < 0)
			return CCP_EINVALID;
		quad[n++] = (unsigned char)v;
		if (n == 4) {
			tri[0] = (unsigned char)(quad[0] << 2 | quad[1] >> 4);
			tri[1] = (unsigned char)(quad[1] << 4 | quad[2] >> 2);
			tri[2] = (unsigned char)(quad[2] << 6 | quad[3]);
			if ((r = ccp_buf_append(out, tri, 3)))
				return r;
			n = 0;
		}
	}
	if (n == 1)
		return CCP_EINVALID;
	if (n >= 2) {
		/* The unused low bits of the last character must be zero (canonical encoding). */
		if ((n == 2 && (quad[1] & 0x0f)) || (n == 3 && (quad[2] & 0x03)))
			return CCP_EINVALID;
		tri[0] = (unsigned char)(quad[0] << 2 | quad[1] >> 4);
		tri[1] = (unsigned char)(quad[1] << 4 | quad[2] >> 2);
		if ((r = ccp_buf_append(out, tri, n - 1)))
			return r;
	}
	OPENSSL_cleanse(tri, sizeof(tri));
	OPENSSL_cleanse(quad, sizeof(quad));
	if (!out->data)
		return ccp_buf_append(out, "", 0);
	return 0;
}

int ccp_b64_encode(char **out, const void *data, size_t len)
{
	size_t n;

	*out = NULL;
	if (len > (size_t)1 << 30)
		return CCP_EINVALID;
	n = (len + 2) / 3 * 4;
	if (!(*out = malloc(n + 1)))
		return CCP_ENOMEM;
	EVP_EncodeBlock((unsigned char *)*out, data, (int)len);
	(*out)[n] = '\0';
	return 0;
}

int ccp_b64_decode(ccp_buf *out, const char *s, size_t len, int url)
{
	size_t start = out->len;
	int r = b64_decode_append(out, s, len, url);

	if (r) {
		if (start == 0) {
			ccp_buf_free_secure(out);
		} else {
			out->len = start;
			out->data[start] = '\0';
		}
	}
	return r;
}

int ccp_b64_decode_go(ccp_buf *out, const char *s, size_t len)
{
	ccp_buf clean = CCP_BUF_INIT(0);
	unsigned char *dec = NULL;
	size_t pad = 0;
	int n, r = CCP_EINVALID;

	/* Go's decoder skips CR and LF; everything else must be the standard alphabet with padding. */
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '\r' || c == '\n')
			continue;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
		      c == '/' || c == '='))
			goto out;
		if ((r = ccp_buf_append(&clean, &c, 1)))
			goto out;
		r = CCP_EINVALID;
	}
	if (clean.len % 4 || clean.len > (size_t)1 << 30)
		goto out;
	for (size_t i = 0; i < clean.len; i++)
		if (clean.data[i] == '=' && (i < clean.len - 2 || (i == clean.len - 2 && clean.data[i + 1] != '=')))
			goto out;
	if (clean.len) {
		pad = (clean.data[clean.len - 1] == '=') + (clean.data[clean.len - 2] == '=');
		if (!(dec = malloc(clean.len / 4 * 3 + 1))) {
			r = CCP_ENOMEM;
			goto out;
		}
		n = EVP_DecodeBlock(dec, (const unsigned char *)clean.data, (int)clean.len);
		if (n < 0 || (size_t)n < pad)
			goto out;
		r = ccp_buf_append(out, dec, (size_t)n - pad);
	} else {
		r = ccp_buf_append(out, "", 0);
	}
out:
	if (dec)
		OPENSSL_cleanse(dec, clean.len / 4 * 3 + 1);
	free(dec);
	ccp_buf_free_secure(&clean);
	return r;
}
