/* Strict base64 for ocicrypt: the annotations use the standard alphabet with padding (Go's
 * base64.StdEncoding), JWE uses base64url without padding (RFC 7515 section 2). */
#include "ocicrypt/ocicrypt.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

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

/* Appends the decoded bytes to out; on failure out is left as it was (or freed if it was empty). */
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
