/*
 * The jwe key provider: ocicrypt's "jwe" scheme wraps the layer key options in a JWE (RFC 7516) for
 * each recipient public key. Decrypt side with OpenSSL only:
 *   alg RSA-OAEP (SHA-1), RSA-OAEP-256 (SHA-256), ECDH-ES+A256KW (RFC 7518 4.6: Concat KDF with
 *   SHA-256, then AES key unwrap) on P-256, P-384, P-521; enc A256GCM.
 * Compact, flattened JSON and general JSON serializations (go-jose writes flattened for one
 * recipient, general for several).
 */
#include "keyproviders/keyproviders.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "util/json.h"

#define JWE_MAX CCP_KEYPROVIDER_WRAPPED_MAX
#define KEY_FILE_MAX (1u << 20)
#define RECIPIENTS_MAX 64
#define CEK_LEN 32
#define GCM_IV_LEN 12
#define GCM_TAG_LEN 16

typedef struct recipient {
	json_t *header;     /* per-recipient unprotected header, may be NULL */
	const char *ek;     /* base64url encrypted_key */
	size_t ek_len;
} recipient;

typedef struct jwe {
	json_t *doc;        /* JSON serialization, owns the strings below */
	const char *prot_b64;
	size_t prot_len;
	json_t *prot;       /* decoded protected header, may be NULL */
	json_t *shared;     /* "unprotected", may be NULL */
	recipient rcpt[RECIPIENTS_MAX];
	size_t n_rcpt;
	const char *iv, *ct, *tag, *aad;
	size_t iv_len, ct_len, tag_len, aad_len;
} jwe;

static void jwe_free(jwe *j)
{
	json_decref(j->doc);
	json_decref(j->prot);
}

static int bad(ccp_err *e, const char *what)
{
	return ccp_err_set(e, CCP_EDECRYPT, "JWE: %s", what);
}

static int b64u(ccp_buf *out, const char *s, size_t len, const char *what, ccp_err *e)
{
	int r = ccp_b64_decode(out, s, len, 1);

	if (r == CCP_ENOMEM)
		return ccp_err_oom(e);
	return r ? ccp_err_set(e, CCP_EDECRYPT, "JWE: %s is not valid base64url", what) : 0;
}

static int member(const json_t *o, const char *key, int required, const char **s, size_t *len, ccp_err *e)
{
	json_t *v = json_object_get(o, key);

	*s = NULL;
	*len = 0;
	if (!v)
		return required ? ccp_err_set(e, CCP_EDECRYPT, "JWE: missing \"%s\"", key) : 0;
	if (!json_is_string(v))
		return ccp_err_set(e, CCP_EDECRYPT, "JWE: \"%s\" must be a string", key);
	*s = json_string_value(v);
	*len = json_string_length(v);
	return 0;
}

static int parse_protected(jwe *j, ccp_err *e)
{
	ccp_buf raw = CCP_BUF_INIT(JWE_MAX);
	int r;

	if (!j->prot_b64 || j->prot_len == 0)
		return 0;
	if ((r = b64u(&raw, j->prot_b64, j->prot_len, "protected header", e)))
		goto out;
	if ((r = ccp_json_parse(&j->prot, raw.data, raw.len, JWE_MAX, "JWE protected header", CCP_EDECRYPT, e)))
		goto out;
	if (!json_is_object(j->prot))
		r = bad(e, "protected header is not a JSON object");
out:
	ccp_buf_free(&raw);
	return r;
}

static int parse_compact(jwe *j, const char *s, size_t len, ccp_err *e)
{
	const char *part[5];
	size_t plen[5], n = 0, start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		if (n == 5)
			return bad(e, "compact serialization has more than 5 parts");
		part[n] = s + start;
		plen[n++] = i - start;
		start = i + 1;
	}
	if (n != 5)
		return bad(e, "compact serialization needs 5 parts");
	j->prot_b64 = part[0];
	j->prot_len = plen[0];
	j->rcpt[0].ek = part[1];
	j->rcpt[0].ek_len = plen[1];
	j->n_rcpt = 1;
	j->iv = part[2];
	j->iv_len = plen[2];
	j->ct = part[3];
	j->ct_len = plen[3];
	j->tag = part[4];
	j->tag_len = plen[4];
	if (!j->prot_len)
		return bad(e, "compact serialization without a protected header");
	return parse_protected(j, e);
}

static int parse_json(jwe *j, const char *s, size_t len, ccp_err *e)
{
	json_t *rs, *hdr;
	int r;

	if ((r = ccp_json_parse(&j->doc, s, len, JWE_MAX, "JWE", CCP_EDECRYPT, e)))
		return r;
	if (!json_is_object(j->doc))
		return bad(e, "not a JSON object");
	if ((r = member(j->doc, "protected", 0, &j->prot_b64, &j->prot_len, e)) ||
	    (r = member(j->doc, "iv", 1, &j->iv, &j->iv_len, e)) ||
	    (r = member(j->doc, "ciphertext", 1, &j->ct, &j->ct_len, e)) ||
	    (r = member(j->doc, "tag", 1, &j->tag, &j->tag_len, e)) ||
	    (r = member(j->doc, "aad", 0, &j->aad, &j->aad_len, e)))
		return r;
	j->shared = json_object_get(j->doc, "unprotected");
	if (j->shared && !json_is_object(j->shared))
		return bad(e, "\"unprotected\" is not an object");
	rs = json_object_get(j->doc, "recipients");
	if (rs) {
		if (!json_is_array(rs) || json_array_size(rs) == 0 || json_array_size(rs) > RECIPIENTS_MAX)
			return bad(e, "\"recipients\" must be an array of 1 to 64 entries");
		/* go-jose also writes the first recipient's "encrypted_key" at the top; like go-jose, the
		 * recipients list is what counts. */
		if (json_object_get(j->doc, "header"))
			return bad(e, "both \"recipients\" and a flattened recipient \"header\"");
		for (size_t i = 0; i < json_array_size(rs); i++) {
			json_t *ri = json_array_get(rs, i);
			if (!json_is_object(ri))
				return bad(e, "a recipient is not an object");
			hdr = json_object_get(ri, "header");
			if (hdr && !json_is_object(hdr))
				return bad(e, "a recipient header is not an object");
			j->rcpt[i].header = hdr;
			if ((r = member(ri, "encrypted_key", 0, &j->rcpt[i].ek, &j->rcpt[i].ek_len, e)))
				return r;
		}
		j->n_rcpt = json_array_size(rs);
	} else {
		hdr = json_object_get(j->doc, "header");
		if (hdr && !json_is_object(hdr))
			return bad(e, "\"header\" is not an object");
		j->rcpt[0].header = hdr;
		if ((r = member(j->doc, "encrypted_key", 0, &j->rcpt[0].ek, &j->rcpt[0].ek_len, e)))
			return r;
		j->n_rcpt = 1;
	}
	return parse_protected(j, e);
}

/* The JOSE header of recipient i: the union of three parts whose names must be disjoint (RFC 7516 7.2.1). */
static int check_disjoint(const jwe *j, size_t i, ccp_err *e)
{
	const json_t *parts[3] = { j->prot, j->shared, j->rcpt[i].header };
	const char *k;
	json_t *v;

	for (int a = 0; a < 3; a++) {
		if (!parts[a])
			continue;
		json_object_foreach((json_t *)parts[a], k, v) {
			for (int b = a + 1; b < 3; b++)
				if (parts[b] && json_object_get(parts[b], k))
					return ccp_err_set(e, CCP_EDECRYPT, "JWE: header parameter \"%.64s\" appears twice", k);
		}
	}
	return 0;
}

static json_t *hdr(const jwe *j, size_t i, const char *name)
{
	json_t *v = j->prot ? json_object_get(j->prot, name) : NULL;
	if (!v && j->shared)
		v = json_object_get(j->shared, name);
	if (!v && j->rcpt[i].header)
		v = json_object_get(j->rcpt[i].header, name);
	return v;
}

/* ---- key management ---- */

static int rsa_oaep(EVP_PKEY *pkey, const EVP_MD *md, const ccp_buf *ek, unsigned char *cek, ccp_err *e)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
	unsigned char *out = NULL;
	size_t outlen = 0;
	int r = CCP_EDECRYPT;

	if (!ctx || EVP_PKEY_decrypt_init(ctx) != 1 || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) != 1 || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1 ||
	    EVP_PKEY_decrypt(ctx, NULL, &outlen, (const unsigned char *)ek->data, ek->len) != 1) {
		r = ccp_err_set(e, CCP_EDECRYPT, "RSA-OAEP: cannot set up the decryption (OpenSSL)");
		goto out;
	}
	if (!(out = malloc(outlen))) {
		r = ccp_err_oom(e);
		goto out;
	}
	if (EVP_PKEY_decrypt(ctx, out, &outlen, (const unsigned char *)ek->data, ek->len) != 1) {
		r = ccp_err_set(e, CCP_EDECRYPT, "the key does not decrypt the wrapped content key");
		goto out;
	}
	if (outlen != CEK_LEN) {
		r = ccp_err_set(e, CCP_EDECRYPT, "content key is %zu bytes, not %d", outlen, CEK_LEN);
		goto out;
	}
	memcpy(cek, out, CEK_LEN);
	r = 0;
out:
	if (out) {
		OPENSSL_cleanse(out, outlen);
		free(out);
	}
	EVP_PKEY_CTX_free(ctx);
	return r;
}

static const struct curve {
	const char *crv, *group;
	size_t len;
} curves[] = { { "P-256", "prime256v1", 32 }, { "P-384", "secp384r1", 48 }, { "P-521", "secp521r1", 66 } };

/* The ephemeral public key of the header as an EVP_PKEY on the private key's curve. */
static int epk_key(EVP_PKEY **out, EVP_PKEY *pkey, const json_t *epk, ccp_err *e)
{
	char group[64] = "";
	const char *kty, *crv, *x, *y;
	size_t l;
	const struct curve *c = NULL;
	ccp_buf bx = CCP_BUF_INIT(256), by = CCP_BUF_INIT(256);
	unsigned char point[1 + 2 * 66];
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *chk = NULL;
	int r;

	*out = NULL;
	if (!json_is_object(epk))
		return bad(e, "ECDH-ES needs an \"epk\" object");
	if ((r = member(epk, "kty", 1, &kty, &l, e)) || (r = member(epk, "crv", 1, &crv, &l, e)) ||
	    (r = member(epk, "x", 1, &x, &l, e)) || (r = member(epk, "y", 1, &y, &l, e)))
		return r;
	if (strcmp(kty, "EC") != 0)
		return bad(e, "epk is not an EC key");
	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		if (strcmp(crv, curves[i].crv) == 0)
			c = &curves[i];
	if (!c)
		return ccp_err_set(e, CCP_EDECRYPT, "JWE: unsupported curve \"%.32s\"", crv);
	if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) != 1 ||
	    strcmp(group, c->group) != 0)
		return ccp_err_set(e, CCP_EDECRYPT, "the content key is wrapped for %s, the key is on another curve",
				   c->crv);
	if ((r = b64u(&bx, x, strlen(x), "epk x", e)) || (r = b64u(&by, y, strlen(y), "epk y", e)))
		goto out;
	if (bx.len != c->len || by.len != c->len) {
		r = bad(e, "epk coordinates have the wrong length");
		goto out;
	}
	point[0] = 0x04;
	memcpy(point + 1, bx.data, c->len);
	memcpy(point + 1 + c->len, by.data, c->len);
	r = CCP_EDECRYPT;
	if (!(bld = OSSL_PARAM_BLD_new()) ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, c->group, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * c->len) ||
	    !(params = OSSL_PARAM_BLD_to_param(bld)) || !(ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) ||
	    EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		r = bad(e, "epk is not a point of its curve");
		goto out;
	}
	/* A point off the curve would leak bits of the private key (invalid-curve attack). */
	if (!(chk = EVP_PKEY_CTX_new(*out, NULL)) || EVP_PKEY_public_check(chk) != 1) {
		EVP_PKEY_free(*out);
		*out = NULL;
		r = bad(e, "epk is not a valid point of its curve");
		goto out;
	}
	r = 0;
out:
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	ccp_buf_free(&bx);
	ccp_buf_free(&by);
	return r;
}

static void be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Concat KDF (NIST SP 800-56A, RFC 7518 4.6.2) for a 256-bit key: one SHA-256 round. */
static int concat_kdf(unsigned char kek[32], const unsigned char *z, size_t zlen, const char *alg, const ccp_buf *apu,
		      const ccp_buf *apv)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char n[4];
	unsigned int outl = 0;
	int ok;

	be32(n, 1);
	ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(md, n, 4) == 1 &&
	     EVP_DigestUpdate(md, z, zlen) == 1;
	be32(n, (uint32_t)strlen(alg));
	ok = ok && EVP_DigestUpdate(md, n, 4) == 1 && EVP_DigestUpdate(md, alg, strlen(alg)) == 1;
	be32(n, (uint32_t)apu->len);
	ok = ok && EVP_DigestUpdate(md, n, 4) == 1 && (!apu->len || EVP_DigestUpdate(md, apu->data, apu->len) == 1);
	be32(n, (uint32_t)apv->len);
	ok = ok && EVP_DigestUpdate(md, n, 4) == 1 && (!apv->len || EVP_DigestUpdate(md, apv->data, apv->len) == 1);
	be32(n, 256);
	ok = ok && EVP_DigestUpdate(md, n, 4) == 1 && EVP_DigestFinal_ex(md, kek, &outl) == 1 && outl == 32;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

static int aes_unwrap(const unsigned char kek[32], const ccp_buf *ek, unsigned char *cek, ccp_err *e)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	unsigned char out[CEK_LEN + 16];
	int outl = 0, fin = 0, r;

	if (ek->len != CEK_LEN + 8) {
		EVP_CIPHER_CTX_free(ctx);
		return ccp_err_set(e, CCP_EDECRYPT, "wrapped content key is %zu bytes, not %d", ek->len, CEK_LEN + 8);
	}
	if (!ctx)
		return ccp_err_oom(e);
	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_wrap(), NULL, kek, NULL) != 1 ||
	    EVP_DecryptUpdate(ctx, out, &outl, (const unsigned char *)ek->data, (int)ek->len) != 1 ||
	    EVP_DecryptFinal_ex(ctx, out + outl, &fin) != 1 || outl + fin != CEK_LEN) {
		r = ccp_err_set(e, CCP_EDECRYPT, "the key does not unwrap the content key");
	} else {
		memcpy(cek, out, CEK_LEN);
		r = 0;
	}
	OPENSSL_cleanse(out, sizeof(out));
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

static int ecdh_es_a256kw(EVP_PKEY *pkey, const jwe *j, size_t i, const ccp_buf *ek, unsigned char *cek, ccp_err *e)
{
	ccp_buf apu = CCP_BUF_INIT(4096), apv = CCP_BUF_INIT(4096);
	json_t *v;
	EVP_PKEY *peer = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	unsigned char z[66], kek[32];
	size_t zlen = sizeof(z);
	int r;

	if ((r = epk_key(&peer, pkey, hdr(j, i, "epk"), e)))
		return r;
	if ((v = hdr(j, i, "apu")) && (!json_is_string(v) ||
				       (r = b64u(&apu, json_string_value(v), json_string_length(v), "apu", e)))) {
		r = r ? r : bad(e, "\"apu\" must be a string");
		goto out;
	}
	if ((v = hdr(j, i, "apv")) && (!json_is_string(v) ||
				       (r = b64u(&apv, json_string_value(v), json_string_length(v), "apv", e)))) {
		r = r ? r : bad(e, "\"apv\" must be a string");
		goto out;
	}
	if (!(ctx = EVP_PKEY_CTX_new(pkey, NULL)) || EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer(ctx, peer) != 1 || EVP_PKEY_derive(ctx, z, &zlen) != 1 ||
	    concat_kdf(kek, z, zlen, "ECDH-ES+A256KW", &apu, &apv) < 0) {
		r = ccp_err_set(e, CCP_EDECRYPT, "ECDH-ES key agreement failed (OpenSSL)");
		goto out;
	}
	r = aes_unwrap(kek, ek, cek, e);
out:
	OPENSSL_cleanse(z, sizeof(z));
	OPENSSL_cleanse(kek, sizeof(kek));
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	ccp_buf_free(&apu);
	ccp_buf_free(&apv);
	return r;
}

/* ---- content decryption ---- */

static int a256gcm(const jwe *j, const unsigned char *cek, ccp_buf *plain, ccp_err *e)
{
	ccp_buf iv = CCP_BUF_INIT(64), ct = CCP_BUF_INIT(JWE_MAX), tag = CCP_BUF_INIT(64), aad = CCP_BUF_INIT(0);
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *out = NULL;
	int outl = 0, fin = 0, r;

	if ((r = b64u(&iv, j->iv, j->iv_len, "iv", e)) || (r = b64u(&ct, j->ct, j->ct_len, "ciphertext", e)) ||
	    (r = b64u(&tag, j->tag, j->tag_len, "tag", e)))
		goto out;
	if (iv.len != GCM_IV_LEN || tag.len != GCM_TAG_LEN) {
		r = bad(e, "A256GCM needs a 96-bit iv and a 128-bit tag");
		goto out;
	}
	/* AAD = ASCII(BASE64URL(protected)) [ "." BASE64URL(aad) ] (RFC 7516 5.2 step 14). */
	if (ccp_buf_append(&aad, j->prot_b64 ? j->prot_b64 : "", j->prot_len) ||
	    (j->aad && (ccp_buf_append(&aad, ".", 1) || ccp_buf_append(&aad, j->aad, j->aad_len)))) {
		r = ccp_err_oom(e);
		goto out;
	}
	if (!(out = malloc(ct.len + 16))) {
		r = ccp_err_oom(e);
		goto out;
	}
	if (!(ctx = EVP_CIPHER_CTX_new()) || EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, GCM_IV_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, cek, (const unsigned char *)iv.data) != 1 ||
	    (aad.len && EVP_DecryptUpdate(ctx, NULL, &outl, (const unsigned char *)aad.data, (int)aad.len) != 1) ||
	    EVP_DecryptUpdate(ctx, out, &outl, (const unsigned char *)ct.data, (int)ct.len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN, tag.data) != 1) {
		r = bad(e, "A256GCM decryption failed (OpenSSL)");
		goto out;
	}
	if (EVP_DecryptFinal_ex(ctx, out + outl, &fin) != 1) {
		r = bad(e, "authentication tag mismatch: the content was altered or the key is wrong");
		goto out;
	}
	plain->max = 0;
	r = ccp_buf_append(plain, out, (size_t)(outl + fin)) ? ccp_err_oom(e) : 0;
out:
	if (out) {
		OPENSSL_cleanse(out, ct.len + 16);
		free(out);
	}
	EVP_CIPHER_CTX_free(ctx);
	ccp_buf_free(&iv);
	ccp_buf_free(&ct);
	ccp_buf_free(&tag);
	ccp_buf_free(&aad);
	return r;
}

/* Unwraps the content key of recipient i with pkey: 0, CCP_EDECRYPT (not for this key) or another error. */
static int recipient_cek(EVP_PKEY *pkey, const jwe *j, size_t i, unsigned char *cek, ccp_err *e)
{
	ccp_buf ek = CCP_BUF_INIT(JWE_MAX);
	json_t *alg = hdr(j, i, "alg"), *enc = hdr(j, i, "enc"), *crit = hdr(j, i, "crit"), *zip = hdr(j, i, "zip");
	const char *a;
	int r, is_rsa = EVP_PKEY_is_a(pkey, "RSA"), is_ec = EVP_PKEY_is_a(pkey, "EC");

	if ((r = check_disjoint(j, i, e)))
		return r;
	if (!json_is_string(alg) || !json_is_string(enc))
		return bad(e, "recipient without \"alg\" and \"enc\"");
	if (crit)
		return bad(e, "\"crit\" header parameters are not supported");
	if (zip)
		return bad(e, "compressed content (\"zip\") is not supported");
	if (strcmp(json_string_value(enc), "A256GCM") != 0)
		return ccp_err_set(e, CCP_EDECRYPT, "JWE: unsupported enc \"%.32s\" (only A256GCM)", json_string_value(enc));
	a = json_string_value(alg);
	if (strcmp(a, "RSA-OAEP") != 0 && strcmp(a, "RSA-OAEP-256") != 0 && strcmp(a, "ECDH-ES+A256KW") != 0)
		return ccp_err_set(e, CCP_EDECRYPT, "JWE: unsupported alg \"%.32s\"", a);
	if ((strncmp(a, "RSA", 3) == 0 && !is_rsa) || (strncmp(a, "ECDH", 4) == 0 && !is_ec))
		return ccp_err_set(e, CCP_EDECRYPT, "content key wrapped with %s, not for a key of this type", a);
	if (!j->rcpt[i].ek)
		return bad(e, "recipient without \"encrypted_key\"");
	if ((r = b64u(&ek, j->rcpt[i].ek, j->rcpt[i].ek_len, "encrypted_key", e)))
		return r;
	if (strcmp(a, "RSA-OAEP") == 0)
		r = rsa_oaep(pkey, EVP_sha1(), &ek, cek, e);
	else if (strcmp(a, "RSA-OAEP-256") == 0)
		r = rsa_oaep(pkey, EVP_sha256(), &ek, cek, e);
	else
		r = ecdh_es_a256kw(pkey, j, i, &ek, cek, e);
	ccp_buf_free(&ek);
	return r;
}

int ccp_jwe_decrypt(void *key, const void *data, size_t len, ccp_buf *plain, ccp_err *e)
{
	EVP_PKEY *pkey = key;
	const char *s = data;
	unsigned char cek[CEK_LEN];
	jwe j;
	size_t i = 0;
	int r;

	memset(&j, 0, sizeof(j));
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	if (len > JWE_MAX)
		r = bad(e, "larger than 1 MiB");
	else
		r = i < len && s[i] == '{' ? parse_json(&j, s, len, e) : parse_compact(&j, s, len, e);
	if (r) {
		jwe_free(&j);
		return r;
	}
	r = bad(e, "no recipient");
	for (i = 0; i < j.n_rcpt; i++) {
		if ((r = recipient_cek(pkey, &j, i, cek, e)) == 0) {
			/* The first content key that opens the content wins; a wrong one fails the tag. */
			r = a256gcm(&j, cek, plain, e);
			OPENSSL_cleanse(cek, sizeof(cek));
			if (r == 0 || r != CCP_EDECRYPT)
				break;
		} else if (r != CCP_EDECRYPT) {
			break;
		}
	}
	jwe_free(&j);
	return r;
}

/* ---- the provider ---- */

typedef struct jwe_provider {
	ccp_keyprovider base;
	EVP_PKEY *pkey;
	char desc[300];
} jwe_provider;

static int jwe_handles(const ccp_keyprovider *kp, const char *scheme)
{
	(void)kp;
	return strcmp(scheme, "jwe") == 0;
}

static int jwe_unwrap(ccp_keyprovider *kp, const char *scheme, const unsigned char *wrapped, size_t len,
		      const char *dc_json, unsigned char **out, size_t *out_len, char *err, size_t err_len)
{
	jwe_provider *p = (jwe_provider *)kp;
	ccp_buf plain = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;
	int r;

	(void)scheme;
	(void)dc_json;
	*out = NULL;
	*out_len = 0;
	if ((r = ccp_jwe_decrypt(p->pkey, wrapped, len, &plain, &e)) == 0) {
		*out_len = plain.len;
		*out = (unsigned char *)ccp_buf_detach(&plain);
		return 0;
	}
	ccp_buf_free_secure(&plain);
	snprintf(err, err_len, "%s", e.msg);
	return r;
}

static void jwe_free_provider(ccp_keyprovider *kp)
{
	jwe_provider *p = (jwe_provider *)kp;
	EVP_PKEY_free(p->pkey); /* wipes the private key */
	free(p);
}

/* Reads a key file into one exact allocation (a growing buffer would leave copies behind). */
static int read_key_file(unsigned char **out, size_t *len, const char *path, ccp_err *e)
{
	struct stat st;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	*out = NULL;
	if (fd < 0)
		return ccp_err_errno(e, CCP_EINVALID, errno, "decryption key `%s`", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > KEY_FILE_MAX) {
		close(fd);
		return ccp_err_set(e, CCP_EINVALID, "decryption key `%s` is not a regular file of at most 1 MiB", path);
	}
	if (!(*out = malloc((size_t)st.st_size))) {
		close(fd);
		return ccp_err_oom(e);
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, *out + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = ccp_err_errno(e, CCP_EINVALID, n < 0 ? errno : EIO, "cannot read decryption key `%s`", path);
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	if (r) {
		OPENSSL_cleanse(*out, (size_t)st.st_size);
		free(*out);
		*out = NULL;
		return r;
	}
	*len = got;
	return 0;
}

int ccp_jwe_provider_new(ccp_keyprovider **out, const char *path, const char *password, ccp_err *e)
{
	jwe_provider *p;
	unsigned char *data = NULL;
	const unsigned char *cur;
	size_t len = 0, left;
	OSSL_DECODER_CTX *dctx = NULL;
	EVP_PKEY *pkey = NULL;
	int r;

	*out = NULL;
	if ((r = read_key_file(&data, &len, path, e)))
		return r;
	/* PEM or DER, PKCS#8 or traditional, encrypted or not. */
	dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, NULL, NULL, NULL, EVP_PKEY_KEYPAIR, NULL, NULL);
	if (dctx && password)
		OSSL_DECODER_CTX_set_passphrase(dctx, (const unsigned char *)password, strlen(password));
	cur = data;
	left = len;
	if (!dctx || OSSL_DECODER_from_data(dctx, &cur, &left) != 1 || !pkey) {
		r = ccp_err_set(e, CCP_EINVALID, "decryption key `%s` is not a private key%s", path,
				password ? " (or the password is wrong)" : " (password-protected? use jwe:PATH:pass=PASSWORD)");
		goto out;
	}
	if (!EVP_PKEY_is_a(pkey, "RSA") && !EVP_PKEY_is_a(pkey, "EC")) {
		r = ccp_err_set(e, CCP_EINVALID, "decryption key `%s` is neither an RSA nor an EC key", path);
		goto out;
	}
	if (!(p = calloc(1, sizeof(*p)))) {
		r = ccp_err_oom(e);
		goto out;
	}
	snprintf(p->desc, sizeof(p->desc), "jwe:%s", path);
	ccp_keyprovider_init(&p->base, jwe_handles, jwe_unwrap, jwe_free_provider, p->desc);
	p->pkey = pkey;
	pkey = NULL;
	*out = &p->base;
	r = 0;
out:
	EVP_PKEY_free(pkey);
	OSSL_DECODER_CTX_free(dctx);
	OPENSSL_cleanse(data, len);
	free(data);
	return r;
}
