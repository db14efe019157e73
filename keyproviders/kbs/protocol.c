/* The KBS protocol's messages: resource paths, challenge, token, RFC 7807 errors, the tee-pubkey
 * JWK and the canonical runtime data whose hash binds the evidence to the session. */
#include "kbs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "config/resource.h"
#include "util/json.h"

#define TOKEN_MAX (64u << 10)
#define NONCE_MAX 4096

/* ---- resource paths ---- */

/* The one grammar of resource paths lives with the resource URIs (config/resource.h). */
int ccp_kbs_resource_path(char out[CCP_KBS_PATH_MAX], const char *uri, ccp_err *e)
{
	return ccp_resource_kbs_path(out, uri, e);
}

/* ---- hashes ---- */

static const struct hash_alg {
	const char *name, *ossl;
} hashes[] = { { "sha256", "SHA256" }, { "sha384", "SHA384" }, { "sha512", "SHA512" }, { "sm3", "SM3" } };

static int hash_available(const struct hash_alg *h)
{
	EVP_MD *md = EVP_MD_fetch(NULL, h->ossl, NULL);
	EVP_MD_free(md);
	return md != NULL;
}

json_t *ccp_kbs_supported_hashes(void)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < sizeof(hashes) / sizeof(hashes[0]); i++)
		if (hash_available(&hashes[i]) && json_array_append_new(a, json_string(hashes[i].name))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

int ccp_kbs_hash(unsigned char *md, size_t *md_len, const char *hash, const void *data, size_t len, ccp_err *e)
{
	const struct hash_alg *h = NULL;
	EVP_MD *m;
	unsigned int n = 0;
	int ok;

	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++)
		if (strcmp(hashes[i].name, hash) == 0)
			h = &hashes[i];
	if (!h || !(m = EVP_MD_fetch(NULL, h->ossl, NULL)))
		return ccp_err_set(e, CCP_EDECRYPT, "KBS: hash algorithm %.32s is not available", hash);
	ok = EVP_Digest(data, len, md, &n, m, NULL) == 1;
	EVP_MD_free(m);
	if (!ok)
		return ccp_err_set(e, CCP_EDECRYPT, "KBS: %s digest failed (OpenSSL)", h->name);
	*md_len = n;
	return 0;
}

/* ---- challenge, token, errors ---- */

void ccp_kbs_challenge_free(ccp_kbs_challenge *c)
{
	free(c->nonce);
	c->nonce = NULL;
}

int ccp_kbs_parse_challenge(ccp_kbs_challenge *out, const void *data, size_t len, ccp_err *e)
{
	json_t *j = NULL, *extra = NULL, *sel;
	const char *nonce = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	out->hash = "sha384"; /* Trustee's client when the KBS selects none */
	if ((r = ccp_json_parse(&j, data, len, CCP_KBS_RESOURCE_MAX, "KBS challenge", CCP_EDECRYPT, e)))
		return r;
	if (!json_is_object(j)) {
		r = ccp_err_set(e, CCP_EDECRYPT, "KBS challenge is not a JSON object");
		goto out;
	}
	if ((r = ccp_json_get_string(j, "nonce", 1, &nonce, "KBS challenge", CCP_EDECRYPT, e)))
		goto out;
	if (json_string_length(json_object_get(j, "nonce")) > NONCE_MAX ||
	    strlen(nonce) != json_string_length(json_object_get(j, "nonce"))) {
		r = ccp_err_set(e, CCP_EDECRYPT, "KBS challenge: nonce longer than %d bytes or with NUL", NONCE_MAX);
		goto out;
	}
	extra = json_object_get(j, "extra-params");
	if (extra && json_is_object(extra) && (sel = json_object_get(extra, "selected-hash-algorithm"))) {
		size_t i;
		if (!json_is_string(sel)) {
			r = ccp_err_set(e, CCP_EDECRYPT, "KBS challenge: selected-hash-algorithm is not a string");
			goto out;
		}
		for (i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++)
			if (strcasecmp(hashes[i].name, json_string_value(sel)) == 0)
				break;
		if (i == sizeof(hashes) / sizeof(hashes[0]) || !hash_available(&hashes[i])) {
			r = ccp_err_set(e, CCP_EDECRYPT, "KBS challenge: unsupported selected-hash-algorithm \"%.32s\"",
					json_string_value(sel));
			goto out;
		}
		out->hash = hashes[i].name;
	}
	if (!(out->nonce = strdup(nonce)))
		r = ccp_err_oom(e);
out:
	json_decref(j);
	return r;
}

/* The exp claim of a JWT, 0 when it has none. The token is the KBS's business; this only avoids
 * presenting a session we know has expired. */
static int64_t jwt_exp(const char *jwt)
{
	const char *a = strchr(jwt, '.'), *b = a ? strchr(a + 1, '.') : NULL;
	ccp_buf claims = CCP_BUF_INIT(TOKEN_MAX);
	json_t *j = NULL, *exp;
	int64_t v = 0;

	if (b && ccp_b64_decode(&claims, a + 1, (size_t)(b - a - 1), 1) == 0 &&
	    ccp_json_parse(&j, claims.data, claims.len, TOKEN_MAX, "token", CCP_EDECRYPT, NULL) == 0 &&
	    json_is_object(j) && (exp = json_object_get(j, "exp"))) {
		if (json_is_integer(exp) && json_integer_value(exp) > 0)
			v = json_integer_value(exp);
		else if (json_is_real(exp) && json_real_value(exp) > 0 && json_real_value(exp) < 9e18)
			v = (int64_t)json_real_value(exp);
	}
	json_decref(j);
	ccp_buf_free_secure(&claims);
	return v;
}

int ccp_kbs_parse_token(char **token, int64_t *exp, const void *data, size_t len, ccp_err *e)
{
	json_t *j = NULL;
	const char *t = NULL;
	int r;

	*token = NULL;
	*exp = 0;
	if ((r = ccp_json_parse(&j, data, len, TOKEN_MAX, "KBS attestation response", CCP_EDECRYPT, e)))
		return r;
	if (!json_is_object(j))
		r = ccp_err_set(e, CCP_EDECRYPT, "KBS attestation response is not a JSON object");
	else if (!(r = ccp_json_get_string(j, "token", 1, &t, "KBS attestation response", CCP_EDECRYPT, e)) &&
		 (!*t || strlen(t) != json_string_length(json_object_get(j, "token"))))
		r = ccp_err_set(e, CCP_EDECRYPT, "KBS attestation response: empty token");
	if (r == 0) {
		if ((*token = strdup(t)))
			*exp = jwt_exp(*token);
		else
			r = ccp_err_oom(e);
	}
	/* The parsed copy of the token is freed by jansson without wiping: clear it first. */
	if (t)
		OPENSSL_cleanse((char *)t, strlen(t));
	json_decref(j);
	return r;
}

static void printable(char *out, size_t out_len, const char *s)
{
	size_t n = 0;

	for (; s && *s && n + 1 < out_len; s++)
		out[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	if (out_len)
		out[n] = '\0';
}

void ccp_kbs_problem(char *out, size_t out_len, const void *body, size_t len)
{
	json_t *j = NULL, *type, *detail;
	char t[96] = "", d[256] = "";
	const char *slash;

	if (out_len == 0)
		return;
	out[0] = '\0';
	if (ccp_json_parse(&j, body, len, 64u << 10, "KBS error", CCP_EDECRYPT, NULL) || !json_is_object(j)) {
		json_decref(j);
		return;
	}
	type = json_object_get(j, "type");
	detail = json_object_get(j, "detail");
	if (json_is_string(type)) {
		slash = strrchr(json_string_value(type), '/');
		printable(t, sizeof(t), slash ? slash + 1 : json_string_value(type));
	}
	if (json_is_string(detail))
		printable(d, sizeof(d), json_string_value(detail));
	if (*t || *d)
		snprintf(out, out_len, "%s%s%s", *t ? t : "error", *d ? ": " : "", d);
	json_decref(j);
}

/* ---- JWK ---- */

static int b64url(char **out, const unsigned char *data, size_t len)
{
	char *s;
	size_t n;

	if (ccp_b64_encode(&s, data, len))
		return -1;
	for (n = 0; s[n] && s[n] != '='; n++)
		s[n] = s[n] == '+' ? '-' : s[n] == '/' ? '_' : s[n];
	s[n] = '\0';
	*out = s;
	return 0;
}

static int set_bn(json_t *o, const char *key, EVP_PKEY *pkey, const char *param, int pad)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1024];
	char *s = NULL;
	int n, r = -1;

	if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1)
		return -1;
	n = pad ? BN_bn2binpad(bn, buf, pad) : (BN_num_bytes(bn) <= (int)sizeof(buf) ? BN_bn2bin(bn, buf) : -1);
	if (n > 0 && b64url(&s, buf, (size_t)n) == 0 && json_object_set_new(o, key, json_string(s)) == 0)
		r = 0;
	free(s);
	BN_free(bn);
	return r;
}

int ccp_kbs_jwk(json_t **out, void *key, ccp_err *e)
{
	EVP_PKEY *pkey = key;
	json_t *o = json_object();
	int ok;

	*out = NULL;
	if (!o)
		return ccp_err_oom(e);
	if (EVP_PKEY_is_a(pkey, "EC"))
		ok = !json_object_set_new(o, "kty", json_string("EC")) && !json_object_set_new(o, "crv", json_string("P-256")) &&
		     !json_object_set_new(o, "alg", json_string("ECDH-ES+A256KW")) &&
		     !set_bn(o, "x", pkey, OSSL_PKEY_PARAM_EC_PUB_X, 32) && !set_bn(o, "y", pkey, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
	else
		ok = !json_object_set_new(o, "kty", json_string("RSA")) &&
		     !json_object_set_new(o, "alg", json_string("RSA-OAEP-256")) &&
		     !set_bn(o, "n", pkey, OSSL_PKEY_PARAM_RSA_N, 0) && !set_bn(o, "e", pkey, OSSL_PKEY_PARAM_RSA_E, 0);
	if (!ok) {
		json_decref(o);
		return ccp_err_set(e, CCP_EDECRYPT, "KBS: cannot export the ephemeral public key (OpenSSL)");
	}
	*out = o;
	return 0;
}

/* ---- RFC 8785 canonical JSON ---- */

static int jcs_string(ccp_buf *b, const char *s, size_t n)
{
	int r = ccp_buf_append(b, "\"", 1);

	for (size_t i = 0; i < n && !r; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': r = ccp_buf_append(b, "\\\"", 2); break;
		case '\\': r = ccp_buf_append(b, "\\\\", 2); break;
		case '\b': r = ccp_buf_append(b, "\\b", 2); break;
		case '\f': r = ccp_buf_append(b, "\\f", 2); break;
		case '\n': r = ccp_buf_append(b, "\\n", 2); break;
		case '\r': r = ccp_buf_append(b, "\\r", 2); break;
		case '\t': r = ccp_buf_append(b, "\\t", 2); break;
		default:
			r = c < 0x20 ? ccp_buf_printf(b, "\\u%04x", c) : ccp_buf_append(b, &s[i], 1);
		}
	}
	return r ? r : ccp_buf_append(b, "\"", 1);
}

/*
 * Keys sort by their UTF-16 code units. Comparing UTF-8 bytes gives the same order except between
 * characters above U+FFFF and those from U+E000 to U+FFFF; fix that case up explicitly.
 */
static int utf16_class(unsigned char lead)
{
	return lead >= 0xf0 ? 1 : lead == 0xee || lead == 0xef ? 2 : 0;
}

static int key_cmp(const void *a, const void *b)
{
	const unsigned char *x = *(const unsigned char *const *)a, *y = *(const unsigned char *const *)b;

	for (; *x && *x == *y; x++, y++)
		;
	if (utf16_class(*x) + utf16_class(*y) == 3)
		return utf16_class(*x) == 1 ? -1 : 1; /* surrogates (D800-DFFF) sort before E000-FFFF */
	return (int)*x - (int)*y;
}

static int jcs_value(ccp_buf *b, const json_t *v, int depth)
{
	int r = 0;

	if (depth > 32)
		return CCP_EINVALID;
	switch (json_typeof(v)) {
	case JSON_STRING:
		return jcs_string(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return ccp_buf_printf(b, "%lld", (long long)json_integer_value(v));
	case JSON_TRUE:
		return ccp_buf_puts(b, "true");
	case JSON_FALSE:
		return ccp_buf_puts(b, "false");
	case JSON_NULL:
		return ccp_buf_puts(b, "null");
	case JSON_ARRAY:
		r = ccp_buf_append(b, "[", 1);
		for (size_t i = 0; i < json_array_size(v) && !r; i++)
			r = (i ? ccp_buf_append(b, ",", 1) : 0) || jcs_value(b, json_array_get(v, i), depth + 1);
		return r ? CCP_EINVALID : ccp_buf_append(b, "]", 1);
	case JSON_OBJECT: {
		size_t n = json_object_size(v), i = 0;
		const char **keys = n ? calloc(n, sizeof(*keys)) : NULL, *k;
		json_t *m;
		if (n && !keys)
			return CCP_ENOMEM;
		json_object_foreach((json_t *)v, k, m)
			keys[i++] = k;
		if (n)
			qsort(keys, n, sizeof(*keys), key_cmp); /* qsort must not get a NULL array */
		r = ccp_buf_append(b, "{", 1);
		for (i = 0; i < n && !r; i++)
			r = (i ? ccp_buf_append(b, ",", 1) : 0) || jcs_string(b, keys[i], strlen(keys[i])) ||
			    ccp_buf_append(b, ":", 1) || jcs_value(b, json_object_get(v, keys[i]), depth + 1);
		free(keys);
		return r ? CCP_EINVALID : ccp_buf_append(b, "}", 1);
	}
	default:
		return CCP_EINVALID; /* reals: none of the protocol's values */
	}
}

int ccp_jcs(ccp_buf *out, const json_t *v, ccp_err *e)
{
	int r = jcs_value(out, v, 0);

	if (r == CCP_ENOMEM)
		return ccp_err_oom(e);
	return r ? ccp_err_set(e, CCP_EDECRYPT, "KBS: cannot serialize the runtime data canonically") : 0;
}

int ccp_kbs_runtime_data(ccp_buf *canon, const char *nonce, const json_t *jwk, const char *additional, ccp_err *e)
{
	json_t *o = json_object();
	int r;

	if (!o || json_object_set_new(o, "additional-evidence", json_string(additional)) ||
	    json_object_set_new(o, "nonce", json_string(nonce)) || json_object_set(o, "tee-pubkey", (json_t *)jwk)) {
		json_decref(o);
		return ccp_err_oom(e);
	}
	r = ccp_jcs(canon, o, e);
	json_decref(o);
	return r;
}
