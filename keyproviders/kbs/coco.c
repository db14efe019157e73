/*
 * The CoCo key provider "attestation-agent" (org.opencontainers.image.enc.keys.provider.attestation-agent):
 * each wrapped key is an annotation packet {kid, wrapped_data, iv, wrap_type} (v2 adds version,
 * provider, provider_settings, annotations) made by coco_keyprovider. The KEK is the KBS resource
 * named by kid; wrapped_data is the layer's key options encrypted under it with A256GCM or A256CTR.
 */
#include "kbs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "util/json.h"

#define PACKET_MAX CCP_KEYPROVIDER_WRAPPED_MAX
#define KEK_LEN 32
#define GCM_IV 12
#define GCM_TAG 16
#define CTR_IV 16

void ccp_coco_packet_free(ccp_coco_packet *p)
{
	ccp_buf_free_secure(&p->wrapped);
	ccp_buf_free(&p->iv);
}

static int b64_field(ccp_buf *out, const json_t *j, const char *key, ccp_err *e)
{
	const char *s = NULL;
	int r;

	if ((r = ccp_json_get_string(j, key, 1, &s, "annotation packet", CCP_EDECRYPT, e)))
		return r;
	out->max = PACKET_MAX;
	r = ccp_b64_decode(out, s, strlen(s), 0);
	if (r == CCP_ENOMEM)
		return ccp_err_oom(e);
	return r ? ccp_err_set(e, CCP_EDECRYPT, "annotation packet: \"%s\" is not valid base64", key) : 0;
}

int ccp_coco_packet_parse(ccp_coco_packet *out, const void *data, size_t len, ccp_err *e)
{
	json_t *j = NULL;
	const char *kid = NULL, *version = NULL, *provider = NULL, *wrap = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = ccp_json_parse(&j, data, len, PACKET_MAX, "annotation packet", CCP_EDECRYPT, e)))
		return r;
	if (!json_is_object(j)) {
		r = ccp_err_set(e, CCP_EDECRYPT, "annotation packet is not a JSON object");
		goto out;
	}
	if ((r = ccp_json_get_string(j, "kid", 1, &kid, "annotation packet", CCP_EDECRYPT, e)) ||
	    (r = ccp_json_get_string(j, "version", 0, &version, "annotation packet", CCP_EDECRYPT, e)) ||
	    (r = ccp_json_get_string(j, "provider", 0, &provider, "annotation packet", CCP_EDECRYPT, e)) ||
	    (r = ccp_json_get_string(j, "wrap_type", 1, &wrap, "annotation packet", CCP_EDECRYPT, e)))
		goto out;
	if (version && strcmp(version, "0.1.0") != 0) {
		r = ccp_err_set(e, CCP_EDECRYPT, "annotation packet version \"%.32s\" (only 0.1.0)", version);
		goto out;
	}
	if (provider && strcmp(provider, "kbs") != 0) {
		r = ccp_err_set(e, CCP_EDECRYPT, "annotation packet for key provider \"%.32s\" (only kbs)", provider);
		goto out;
	}
	if (strcmp(wrap, "A256GCM") == 0) {
		out->ctr = 0;
	} else if (strcmp(wrap, "A256CTR") == 0) {
		out->ctr = 1;
	} else {
		r = ccp_err_set(e, CCP_EDECRYPT, "annotation packet wrap_type \"%.32s\" (A256GCM or A256CTR)", wrap);
		goto out;
	}
	if ((r = ccp_kbs_resource_path(out->path, kid, e))) {
		e->code = r = CCP_EDECRYPT;
		ccp_err_wrap(e, "annotation packet kid");
		goto out;
	}
	if ((r = b64_field(&out->wrapped, j, "wrapped_data", e)) || (r = b64_field(&out->iv, j, "iv", e)))
		goto out;
	if (out->iv.len != (out->ctr ? CTR_IV : GCM_IV))
		r = ccp_err_set(e, CCP_EDECRYPT, "annotation packet: %s needs a %d-byte iv, not %zu", wrap,
				out->ctr ? CTR_IV : GCM_IV, out->iv.len);
	else if (!out->ctr && out->wrapped.len < GCM_TAG)
		r = ccp_err_set(e, CCP_EDECRYPT, "annotation packet: wrapped_data shorter than the A256GCM tag");
out:
	json_decref(j);
	if (r)
		ccp_coco_packet_free(out);
	return r;
}

int ccp_coco_unwrap(ccp_buf *out, const ccp_coco_packet *p, const unsigned char *kek, size_t kek_len, ccp_err *e)
{
	size_t n = p->ctr ? p->wrapped.len : p->wrapped.len - GCM_TAG;
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *plain;
	int outl = 0, fin = 0, r = 0;

	if (kek_len != KEK_LEN)
		return ccp_err_set(e, CCP_EDECRYPT, "the KEK is %zu bytes, not %d", kek_len, KEK_LEN);
	if (!(plain = malloc(n + 16)))
		return ccp_err_oom(e);
	if (!(ctx = EVP_CIPHER_CTX_new()) ||
	    EVP_DecryptInit_ex(ctx, p->ctr ? EVP_aes_256_ctr() : EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    (!p->ctr && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, GCM_IV, NULL) != 1) ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, kek, (const unsigned char *)p->iv.data) != 1 ||
	    EVP_DecryptUpdate(ctx, plain, &outl, (const unsigned char *)p->wrapped.data, (int)n) != 1 ||
	    (!p->ctr && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG, p->wrapped.data + n) != 1)) {
		r = ccp_err_set(e, CCP_EDECRYPT, "cannot set up the key unwrap (OpenSSL)");
	} else if (EVP_DecryptFinal_ex(ctx, plain + outl, &fin) != 1) {
		r = ccp_err_set(e, CCP_EDECRYPT, "the KEK does not open wrapped_data (A256GCM tag mismatch)");
	} else {
		out->max = 0;
		if (ccp_buf_append(out, plain, (size_t)(outl + fin)))
			r = ccp_err_oom(e);
	}
	OPENSSL_cleanse(plain, n + 16);
	free(plain);
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

/* ---- the provider ---- */

typedef struct coco_provider {
	ccp_keyprovider base;
	char *url, *attester, *cert, *offline, *aa_socket;
	ccp_kbs_config cfg;
	char desc[320];
} coco_provider;

static int coco_handles(const ccp_keyprovider *kp, const char *scheme)
{
	(void)kp;
	return strcmp(scheme, CCP_COCO_SCHEME) == 0;
}

static int coco_unwrap(ccp_keyprovider *kp, const char *scheme, const unsigned char *wrapped, size_t len,
		       const char *dc_json, unsigned char **out, size_t *out_len, char *err, size_t err_len)
{
	coco_provider *p = (coco_provider *)kp;
	ccp_coco_packet pk;
	ccp_buf kek = CCP_BUF_INIT(0), opts = CCP_BUF_INIT(0);
	char uri[CCP_KBS_PATH_MAX + 8];
	ccp_err e = CCP_ERR_INIT;
	int r;

	(void)scheme;
	(void)dc_json;
	*out = NULL;
	*out_len = 0;
	if ((r = ccp_coco_packet_parse(&pk, wrapped, len, &e)) == 0) {
		snprintf(uri, sizeof(uri), "kbs:///%s", pk.path);
		if ((r = ccp_kbs_fetch(&kek, &p->cfg, uri, &e)) == 0 &&
		    (r = ccp_coco_unwrap(&opts, &pk, (const unsigned char *)kek.data, kek.len, &e)) != 0)
			ccp_err_wrap(&e, "KEK %s", uri);
		ccp_buf_free_secure(&kek);
		ccp_coco_packet_free(&pk);
	}
	if (r == 0) {
		*out_len = opts.len;
		*out = (unsigned char *)ccp_buf_detach(&opts);
		return 0;
	}
	ccp_buf_free_secure(&opts);
	snprintf(err, err_len, "%s", e.msg);
	/* Every failure means "this provider cannot open it": the keyring then tries the others and
	 * reports each cause. */
	return r == CCP_ENOMEM ? r : CCP_EDECRYPT;
}

static void coco_free(ccp_keyprovider *kp)
{
	coco_provider *p = (coco_provider *)kp;

	free(p->url);
	free(p->attester);
	free(p->cert);
	free(p->offline);
	free(p->aa_socket);
	free(p);
}

int ccp_kbs_provider_new(ccp_keyprovider **out, const ccp_kbs_config *cfg, ccp_err *e)
{
	coco_provider *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p || (cfg->url && !(p->url = strdup(cfg->url))) || (cfg->attester && !(p->attester = strdup(cfg->attester))) ||
	    (cfg->cert && !(p->cert = strdup(cfg->cert))) || (cfg->offline && !(p->offline = strdup(cfg->offline))) ||
	    (cfg->aa_socket && !(p->aa_socket = strdup(cfg->aa_socket)))) {
		if (p)
			coco_free(&p->base);
		return ccp_err_oom(e);
	}
	p->cfg = *cfg;
	p->cfg.url = p->url;
	p->cfg.attester = p->attester;
	p->cfg.cert = p->cert;
	p->cfg.offline = p->offline;
	p->cfg.aa_socket = p->aa_socket;
	if (cfg->url)
		snprintf(p->desc, sizeof(p->desc), "provider:attestation-agent (KBS %.280s)", cfg->url);
	else
		snprintf(p->desc, sizeof(p->desc), "provider:attestation-agent (offline resources %.260s)",
			 cfg->offline ? cfg->offline : "");
	ccp_keyprovider_init(&p->base, coco_handles, coco_unwrap, coco_free, p->desc);
	*out = &p->base;
	return 0;
}
