/*
 * Sealed secrets: parsing and the ES256 signature check, as CDH's hub/src/secret/mod.rs
 * (Secret::from_signed_base64_string, validate_es256) and the `secret` tool
 * (to_signed_base64_string) define them.
 */
#include "secret/sealed.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "util/b64.h"
#include "util/json.h"

#define PREFIX "sealed."
#define COORD_LEN 32

void ccp_sealed_free(ccp_sealed *sec)
{
	if (!sec)
		return;
	free(sec->alg);
	free(sec->kid);
	free(sec->provider);
	free(sec->name);
	free(sec->key_id);
	memset(sec, 0, sizeof(*sec));
}

static int dup_member(char **out, const json_t *obj, const char *key, int required, size_t max, const char *what,
		      ccp_err *e)
{
	const char *s = NULL;
	int r;

	if ((r = ccp_json_get_string(obj, key, required, &s, what, CCP_EINVALID, e)) || !s)
		return r;
	if (strlen(s) > max)
		return ccp_err_set(e, CCP_EINVALID, "%s: \"%s\" is longer than %zu bytes", what, key, max);
	return (*out = strdup(s)) ? 0 : ccp_err_oom(e);
}

/* base64url without padding of part (n bytes) into out, at most max bytes. */
static int b64u(ccp_buf *out, const char *part, size_t n, size_t max, const char *what, ccp_err *e)
{
	int r;

	out->max = max;
	if ((r = ccp_b64_decode(out, part, n, 1)))
		return r == CCP_ENOMEM ? ccp_err_oom(e)
				       : ccp_err_set(e, CCP_EINVALID, "sealed secret: the %s is not base64url without "
						     "padding (or larger than %zu bytes)", what, max);
	if (!out->data && ccp_buf_append(out, "", 0))
		return ccp_err_oom(e);
	return 0;
}

static int parse_header(ccp_sealed *out, const char *part, size_t n, ccp_err *e)
{
	const char *what = "sealed secret header";
	ccp_buf raw = CCP_BUF_INIT(0);
	json_t *j = NULL;
	int r;

	if ((r = b64u(&raw, part, n, CCP_SEALED_HEADER_MAX, "header", e)))
		return r;
	if ((r = ccp_json_parse(&j, raw.data, raw.len, CCP_SEALED_HEADER_MAX, what, CCP_EINVALID, e)))
		goto out;
	if (!json_is_object(j)) {
		r = ccp_err_set(e, CCP_EINVALID, "%s is not a JSON object", what);
		goto out;
	}
	/* RFC 7515 4.1.11: a critical extension we do not understand refuses the JWS; RFC 7797's
	 * unencoded payload changes the signing input */
	if (json_object_get(j, "crit") || json_object_get(j, "b64")) {
		r = ccp_err_set(e, CCP_EINVALID, "%s: \"%s\" is not supported", what,
				json_object_get(j, "crit") ? "crit" : "b64");
		goto out;
	}
	if ((r = dup_member(&out->alg, j, "alg", 1, 32, what, e)) ||
	    (r = dup_member(&out->kid, j, "kid", 1, CCP_SEALED_KID_MAX, what, e)))
		goto out;
	if (!out->kid[0])
		r = ccp_err_set(e, CCP_EINVALID, "%s: \"kid\" is empty", what);
out:
	json_decref(j);
	ccp_buf_free(&raw);
	return r;
}

static int parse_payload(ccp_sealed *out, const char *part, size_t n, ccp_err *e)
{
	const char *what = "sealed secret", *version = NULL, *type = NULL;
	ccp_buf raw = CCP_BUF_INIT(0);
	json_t *j = NULL, *settings = NULL, *ann = NULL;
	int r;

	if ((r = b64u(&raw, part, n, CCP_SEALED_MAX, "payload", e)))
		return r;
	if ((r = ccp_json_parse(&j, raw.data, raw.len, CCP_SEALED_MAX, what, CCP_EINVALID, e)))
		goto out;
	if (!json_is_object(j)) {
		r = ccp_err_set(e, CCP_EINVALID, "%s: the payload is not a JSON object", what);
		goto out;
	}
	if ((r = ccp_json_get_string(j, "version", 1, &version, what, CCP_EINVALID, e)) ||
	    (r = ccp_json_get_string(j, "type", 1, &type, what, CCP_EINVALID, e)))
		goto out;
	if (strcmp(version, CCP_SEALED_VERSION) != 0) {
		r = ccp_err_set(e, CCP_EINVALID, "%s: version \"%.32s\" is not supported, only " CCP_SEALED_VERSION,
				what, version);
		goto out;
	}
	if ((r = dup_member(&out->provider, j, "provider", 1, CCP_SEALED_NAME_MAX, what, e)))
		goto out;
	if (strcmp(type, "vault") == 0) {
		out->type = CCP_SEALED_VAULT;
		if ((r = dup_member(&out->name, j, "name", 1, CCP_SEALED_NAME_MAX, what, e)) ||
		    (r = ccp_json_get_object(j, "provider_settings", 1, &settings, what, CCP_EINVALID, e)) ||
		    (r = ccp_json_get_object(j, "annotations", 0, &ann, what, CCP_EINVALID, e)))
			goto out;
	} else if (strcmp(type, "envelope") == 0) {
		out->type = CCP_SEALED_ENVELOPE;
		r = dup_member(&out->key_id, j, "key_id", 0, CCP_SEALED_NAME_MAX, what, e);
	} else {
		r = ccp_err_set(e, CCP_EINVALID, "%s: type \"%.32s\" (vault or envelope)", what, type);
	}
out:
	json_decref(j);
	/* an envelope carries the secret itself, encrypted; a vault secret names it: wipe both */
	ccp_buf_free_secure(&raw);
	return r;
}

int ccp_sealed_parse(ccp_sealed *out, const char *s, size_t len, int verify, ccp_err *e)
{
	const char *part[3], *p, *end = s + len;
	size_t plen[3], n = 0;
	ccp_buf sig = CCP_BUF_INIT(0);
	int r;

	memset(out, 0, sizeof(*out));
	if (len > CCP_SEALED_MAX)
		return ccp_err_set(e, CCP_EINVALID, "sealed secret: larger than %u bytes", CCP_SEALED_MAX);
	if (len < sizeof(PREFIX) - 1 || memcmp(s, PREFIX, sizeof(PREFIX) - 1) != 0)
		return ccp_err_set(e, CCP_EINVALID, "sealed secret: does not begin with \"" PREFIX "\"");
	/* exactly three dot-separated parts after the prefix */
	for (p = s + sizeof(PREFIX) - 1;; p++) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		if (n == 3)
			return ccp_err_set(e, CCP_EINVALID, "sealed secret: expected sealed.HEADER.PAYLOAD.SIGNATURE, "
					   "found more parts");
		part[n] = p;
		plen[n] = (size_t)((dot ? dot : end) - p);
		n++;
		if (!dot)
			break;
		p = dot;
	}
	if (n != 3)
		return ccp_err_set(e, CCP_EINVALID, "sealed secret: expected sealed.HEADER.PAYLOAD.SIGNATURE, found %zu "
				   "part%s", n, n == 1 ? "" : "s");
	if (verify) {
		if ((r = parse_header(out, part[0], plen[0], e)))
			goto out;
		if ((r = b64u(&sig, part[2], plen[2], CCP_SEALED_SIG_LEN, "signature", e)))
			goto out;
		memcpy(out->sig, sig.data, sig.len);
		out->sig_len = sig.len;
		out->signing_input = part[0];
		out->signing_input_len = plen[0] + 1 + plen[1];
	}
	r = parse_payload(out, part[1], plen[1], e);
out:
	ccp_buf_free(&sig);
	if (r)
		ccp_sealed_free(out);
	return r;
}

/* ---- ES256 ---- */

int ccp_jwk_p256_parse(void **out, const void *jwk, size_t len, ccp_err *e)
{
	const char *what = "verification key (JWK)", *kty = NULL, *crv = NULL, *x = NULL, *y = NULL;
	ccp_buf bx = CCP_BUF_INIT(0), by = CCP_BUF_INIT(0);
	unsigned char point[1 + 2 * COORD_LEN];
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *chk = NULL;
	EVP_PKEY *pkey = NULL;
	json_t *j = NULL;
	int r;

	*out = NULL;
	if ((r = ccp_json_parse(&j, jwk, len, CCP_SEALED_KEY_MAX, what, CCP_EPOLICY, e)))
		return r;
	if (!json_is_object(j)) {
		r = ccp_err_set(e, CCP_EPOLICY, "%s is not a JSON object", what);
		goto out;
	}
	if ((r = ccp_json_get_string(j, "kty", 1, &kty, what, CCP_EPOLICY, e)) ||
	    (r = ccp_json_get_string(j, "crv", 0, &crv, what, CCP_EPOLICY, e)))
		goto out;
	if (strcmp(kty, "EC") != 0 || !crv || strcmp(crv, "P-256") != 0) {
		r = ccp_err_set(e, CCP_EPOLICY, "%s: the key must be EC P-256 (ES256), not %.16s%s%.16s", what, kty,
				crv ? " " : "", crv ? crv : "");
		goto out;
	}
	if ((r = ccp_json_get_string(j, "x", 1, &x, what, CCP_EPOLICY, e)) ||
	    (r = ccp_json_get_string(j, "y", 1, &y, what, CCP_EPOLICY, e)))
		goto out;
	bx.max = by.max = COORD_LEN;
	if (ccp_b64_decode(&bx, x, strlen(x), 1) || ccp_b64_decode(&by, y, strlen(y), 1) || bx.len != COORD_LEN ||
	    by.len != COORD_LEN) {
		r = ccp_err_set(e, CCP_EPOLICY, "%s: x and y must be 32-byte base64url coordinates", what);
		goto out;
	}
	point[0] = 0x04;
	memcpy(point + 1, bx.data, COORD_LEN);
	memcpy(point + 1 + COORD_LEN, by.data, COORD_LEN);
	if (!(bld = OSSL_PARAM_BLD_new()) ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) ||
	    !(params = OSSL_PARAM_BLD_to_param(bld)) || !(ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) ||
	    EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1 ||
	    !(chk = EVP_PKEY_CTX_new(pkey, NULL)) || EVP_PKEY_public_check(chk) != 1) {
		r = ccp_err_set(e, CCP_EPOLICY, "%s: (x, y) is not a point of P-256", what);
		goto out;
	}
	*out = pkey;
	pkey = NULL;
out:
	if (r)
		ERR_clear_error(); /* nothing of a refused key stays on this thread's OpenSSL queue */
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	ccp_buf_free(&bx);
	ccp_buf_free(&by);
	json_decref(j);
	return r;
}

int ccp_sealed_verify(const ccp_sealed *sec, const void *jwk, size_t jwk_len, ccp_err *e)
{
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *md = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	unsigned char *der = NULL;
	int der_len, r;

	if (!sec->alg || !sec->signing_input)
		return ccp_err_set(e, CCP_EINVALID, "sealed secret: parsed without its signature");
	if (strcmp(sec->alg, "ES256") != 0)
		return ccp_err_set(e, CCP_EPOLICY, "sealed secret: JWS algorithm \"%.32s\" (must be ES256)", sec->alg);
	if (sec->sig_len != CCP_SEALED_SIG_LEN)
		return ccp_err_set(e, CCP_EPOLICY, "sealed secret: an ES256 signature is %d bytes, not %zu",
				   CCP_SEALED_SIG_LEN, sec->sig_len);
	if ((r = ccp_jwk_p256_parse((void **)&pkey, jwk, jwk_len, e)))
		return r;
	r = CCP_EPOLICY;
	if (!(br = BN_bin2bn(sec->sig, COORD_LEN, NULL)) || !(bs = BN_bin2bn(sec->sig + COORD_LEN, COORD_LEN, NULL)) ||
	    !(es = ECDSA_SIG_new())) {
		BN_free(br);
		BN_free(bs);
		r = ccp_err_oom(e);
		goto out;
	}
	if (!ECDSA_SIG_set0(es, br, bs)) {
		BN_free(br);
		BN_free(bs);
		r = ccp_err_oom(e);
		goto out;
	}
	if ((der_len = i2d_ECDSA_SIG(es, &der)) <= 0 || !(md = EVP_MD_CTX_new())) {
		r = ccp_err_oom(e);
		goto out;
	}
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) != 1 ||
	    EVP_DigestVerify(md, der, (size_t)der_len, (const unsigned char *)sec->signing_input,
			     sec->signing_input_len) != 1) {
		r = ccp_err_set(e, CCP_EPOLICY, "sealed secret: the ES256 signature does not verify with key \"%.200s\"",
				sec->kid);
		goto out;
	}
	r = 0;
out:
	if (r)
		ERR_clear_error();
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	return r;
}
