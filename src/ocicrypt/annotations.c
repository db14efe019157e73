/* The encryption annotations of a layer descriptor and the key options they lead to. */
#include "ocicrypt/ocicrypt.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "manifest/manifest.h"
#include "util/json.h"

void ccp_enc_info_free(ccp_enc_info *info)
{
	if (!info)
		return;
	for (size_t i = 0; i < info->n_schemes; i++) {
		for (size_t j = 0; j < info->schemes[i].n_wrapped; j++)
			ccp_buf_free(&info->schemes[i].wrapped[j]);
		free(info->schemes[i].wrapped);
		free(info->schemes[i].scheme);
	}
	free(info->schemes);
	memset(info, 0, sizeof(*info));
}

static int parse_wrapped(ccp_enc_scheme *s, const char *v, size_t len, ccp_err *e)
{
	size_t start = 0, n = 1;

	for (size_t i = 0; i < len; i++)
		n += v[i] == ',';
	if (n > CCP_OCICRYPT_WRAPPED_MAX)
		return ccp_err_set(e, CCP_EDECRYPT, "annotation %s%s lists %zu wrapped keys, more than the limit of %d",
				   CCP_OCICRYPT_ANN_KEYS, s->scheme, n, CCP_OCICRYPT_WRAPPED_MAX);
	if (!(s->wrapped = calloc(n, sizeof(*s->wrapped))))
		return ccp_err_oom(e);
	for (size_t i = 0; i <= len; i++) {
		if (i < len && v[i] != ',')
			continue;
		ccp_buf *b = &s->wrapped[s->n_wrapped++];
		b->max = CCP_OCICRYPT_ANNOTATION_MAX;
		int r = ccp_b64_decode(b, v + start, i - start, 0);
		if (r == CCP_ENOMEM)
			return ccp_err_oom(e);
		if (r || b->len == 0)
			return ccp_err_set(e, CCP_EDECRYPT, "annotation %s%s: wrapped key %zu is not valid base64",
					   CCP_OCICRYPT_ANN_KEYS, s->scheme, s->n_wrapped);
		start = i + 1;
	}
	return 0;
}

/* A base64 member of a cipheroptions-like object; *found tells whether it was there. */
static int opt_bytes(ccp_buf *out, const json_t *obj, const char *key, const char *what, ccp_err *e)
{
	json_t *v = json_object_get(obj, key);
	int r;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return ccp_err_set(e, CCP_EDECRYPT, "%s: \"%s\" must be a base64 string", what, key);
	if ((r = ccp_b64_decode(out, json_string_value(v), json_string_length(v), 0)) == CCP_ENOMEM)
		return ccp_err_oom(e);
	if (r)
		return ccp_err_set(e, CCP_EDECRYPT, "%s: \"%s\" is not valid base64", what, key);
	return 1;
}

static int parse_pubopts(ccp_enc_info *out, const char *v, size_t len, ccp_err *e)
{
	const char *what = "encryption annotation " CCP_OCICRYPT_ANN_PUBOPTS;
	ccp_buf raw = CCP_BUF_INIT(CCP_OCICRYPT_ANNOTATION_MAX), top = CCP_BUF_INIT(64), inner = CCP_BUF_INIT(64);
	json_t *j = NULL, *copts = NULL;
	const char *cipher = NULL;
	int r, has_top, has_inner;

	if ((r = ccp_b64_decode(&raw, v, len, 0))) {
		r = r == CCP_ENOMEM ? ccp_err_oom(e) : ccp_err_set(e, CCP_EDECRYPT, "%s is not valid base64", what);
		goto out;
	}
	if ((r = ccp_json_parse(&j, raw.data, raw.len, CCP_OCICRYPT_ANNOTATION_MAX, what, CCP_EDECRYPT, e)))
		goto out;
	if (!json_is_object(j)) {
		r = ccp_err_set(e, CCP_EDECRYPT, "%s is not a JSON object", what);
		goto out;
	}
	if ((r = ccp_json_get_string(j, "cipher", 1, &cipher, what, CCP_EDECRYPT, e)) ||
	    (r = ccp_json_get_object(j, "cipheroptions", 0, &copts, what, CCP_EDECRYPT, e)))
		goto out;
	if (strcmp(cipher, CCP_OCICRYPT_CIPHER) != 0) {
		r = ccp_err_set(e, CCP_EDECRYPT, "%s: unsupported cipher \"%.64s\" (only %s)", what, cipher,
				CCP_OCICRYPT_CIPHER);
		goto out;
	}
	/* Go's ocicrypt writes the HMAC into cipheroptions.hmac, the Rust one into "hmac": take either,
	 * and refuse two that disagree. */
	if ((has_top = opt_bytes(&top, j, "hmac", what, e)) < 0 ||
	    (has_inner = copts ? opt_bytes(&inner, copts, "hmac", what, e) : 0) < 0) {
		r = has_top < 0 ? has_top : has_inner;
		goto out;
	}
	if (!has_top && !has_inner) {
		r = ccp_err_set(e, CCP_EDECRYPT, "%s has no hmac", what);
		goto out;
	}
	if (has_top && has_inner && (top.len != inner.len || memcmp(top.data, inner.data, top.len) != 0)) {
		r = ccp_err_set(e, CCP_EDECRYPT, "%s: \"hmac\" and \"cipheroptions.hmac\" differ", what);
		goto out;
	}
	{
		const ccp_buf *h = has_inner ? &inner : &top;
		if (h->len != CCP_OCICRYPT_HMAC_LEN) {
			r = ccp_err_set(e, CCP_EDECRYPT, "%s: hmac is %zu bytes, not %d", what, h->len,
					CCP_OCICRYPT_HMAC_LEN);
			goto out;
		}
		memcpy(out->hmac, h->data, CCP_OCICRYPT_HMAC_LEN);
	}
	r = 0;
out:
	json_decref(j);
	ccp_buf_free(&raw);
	ccp_buf_free(&top);
	ccp_buf_free(&inner);
	return r;
}

int ccp_enc_info_parse(ccp_enc_info *out, const json_t *annotations, ccp_err *e)
{
	size_t kl = strlen(CCP_OCICRYPT_ANN_KEYS), n = 0;
	const char *key;
	json_t *v, *pub = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if (annotations && !json_is_object(annotations))
		return ccp_err_set(e, CCP_EDECRYPT, "layer annotations are not a JSON object");
	json_object_foreach((json_t *)annotations, key, v) {
		if (strncmp(key, CCP_OCICRYPT_ANN_KEYS, kl) == 0)
			n++;
		else if (strcmp(key, CCP_OCICRYPT_ANN_PUBOPTS) == 0)
			pub = v;
	}
	if (n == 0)
		return ccp_err_set(e, CCP_EDECRYPT, "encrypted layer without wrapped keys (no %s<scheme> annotation)",
				   CCP_OCICRYPT_ANN_KEYS);
	if (!pub)
		return ccp_err_set(e, CCP_EDECRYPT, "encrypted layer without the %s annotation", CCP_OCICRYPT_ANN_PUBOPTS);
	if (!json_is_string(pub))
		return ccp_err_set(e, CCP_EDECRYPT, "annotation %s is not a string", CCP_OCICRYPT_ANN_PUBOPTS);
	if ((r = parse_pubopts(out, json_string_value(pub), json_string_length(pub), e)))
		return r;
	if (!(out->schemes = calloc(n, sizeof(*out->schemes))))
		return ccp_err_oom(e);
	json_object_foreach((json_t *)annotations, key, v) {
		ccp_enc_scheme *s;
		if (strncmp(key, CCP_OCICRYPT_ANN_KEYS, kl) != 0)
			continue;
		s = &out->schemes[out->n_schemes++];
		if (!key[kl] || strlen(key + kl) > 255) {
			r = ccp_err_set(e, CCP_EDECRYPT, "annotation \"%.300s\": bad scheme name", key);
			goto fail;
		}
		if (!(s->scheme = strdup(key + kl))) {
			r = ccp_err_oom(e);
			goto fail;
		}
		if (!json_is_string(v)) {
			r = ccp_err_set(e, CCP_EDECRYPT, "annotation %s is not a string", key);
			goto fail;
		}
		if ((r = parse_wrapped(s, json_string_value(v), json_string_length(v), e)))
			goto fail;
	}
	return 0;
fail:
	ccp_enc_info_free(out);
	return r;
}

int ccp_manifest_layer_annotations(json_t **out, const void *manifest, size_t len, size_t k, ccp_err *e)
{
	json_t *j = NULL, *layers, *ann;
	int r;

	*out = NULL;
	if ((r = ccp_json_parse(&j, manifest, len, CCP_MANIFEST_MAX, "image manifest", CCP_EREGISTRY, e)))
		return r;
	layers = json_object_get(j, "layers");
	if (!json_is_array(layers) || k >= json_array_size(layers)) {
		json_decref(j);
		return ccp_err_set(e, CCP_EREGISTRY, "image manifest has no layer %zu", k + 1);
	}
	ann = json_object_get(json_array_get(layers, k), "annotations");
	if (ann && !json_is_null(ann))
		*out = json_incref(ann);
	json_decref(j);
	return 0;
}

void ccp_layer_crypt_wipe(ccp_layer_crypt *c)
{
	OPENSSL_cleanse(c, sizeof(*c));
}

int ccp_private_opts_parse(ccp_layer_crypt *out, const void *data, size_t len, ccp_err *e)
{
	const char *what = "unwrapped layer key options";
	ccp_buf key = CCP_BUF_INIT(256), nonce = CCP_BUF_INIT(256);
	json_t *j = NULL, *copts = NULL;
	int r;

	if ((r = ccp_json_parse(&j, data, len, CCP_OCICRYPT_OPTS_MAX, what, CCP_EDECRYPT, e)))
		goto out;
	if (!json_is_object(j)) {
		r = ccp_err_set(e, CCP_EDECRYPT, "%s are not a JSON object", what);
		goto out;
	}
	if ((r = ccp_json_get_object(j, "cipheroptions", 1, &copts, what, CCP_EDECRYPT, e)))
		goto out;
	if ((r = opt_bytes(&key, j, "symkey", what, e)) <= 0 || (r = opt_bytes(&nonce, copts, "nonce", what, e)) <= 0) {
		if (r == 0)
			r = ccp_err_set(e, CCP_EDECRYPT, "%s: missing %s", what, key.data ? "cipheroptions.nonce" : "symkey");
		goto out;
	}
	if (key.len != CCP_OCICRYPT_KEY_LEN || nonce.len != CCP_OCICRYPT_NONCE_LEN) {
		r = ccp_err_set(e, CCP_EDECRYPT, "%s: key of %zu bytes and nonce of %zu bytes (need %d and %d)", what,
				key.len, nonce.len, CCP_OCICRYPT_KEY_LEN, CCP_OCICRYPT_NONCE_LEN);
		goto out;
	}
	memcpy(out->key, key.data, CCP_OCICRYPT_KEY_LEN);
	memcpy(out->nonce, nonce.data, CCP_OCICRYPT_NONCE_LEN);
	r = 0;
out:
	if (j) {
		/* The parsed tree holds the key in its base64 strings. */
		json_t *s = json_object_get(j, "symkey");
		if (json_is_string(s))
			OPENSSL_cleanse((char *)json_string_value(s), json_string_length(s));
		json_decref(j);
	}
	ccp_buf_free_secure(&key);
	ccp_buf_free_secure(&nonce);
	return r;
}
