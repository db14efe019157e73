/*
 * sigstoreSigned verification (containers/image signature/policy_eval_sigstore.go): trust material,
 * the stored signature form, and the steps of one signature's verification; also what the bundle
 * verifier shares with it (PEM encoding and reading, the configured key a log entry names).
 */
#include "signature/sigstore.h"
#include "signature/sigstore_int.h"
#include "config/resource.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/ec.h>
#include <openssl/pem.h>

#include "util/json.h"

static void src_free(ccp_sigstore_src *s)
{
	free(s->path);
	ccp_buf_free_secure(&s->data);
}

void ccp_sigstore_policy_free(ccp_sigstore_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_keys; i++)
		src_free(&p->keys[i]);
	free(p->keys);
	for (size_t i = 0; i < p->n_rekor_keys; i++)
		src_free(&p->rekor_keys[i]);
	free(p->rekor_keys);
	src_free(&p->fulcio_ca);
	free(p->fulcio_issuer);
	free(p->fulcio_email);
	src_free(&p->pki_roots);
	src_free(&p->pki_intermediates);
	free(p->pki_email);
	free(p->pki_hostname);
	memset(p, 0, sizeof(*p));
}

/* ---- the stored form ---- */

void ccp_sigstore_sig_free(ccp_sigstore_sig *s)
{
	if (!s)
		return;
	free(s->mime_type);
	ccp_buf_free(&s->payload);
	free(s->signature);
	free(s->certificate);
	free(s->chain);
	free(s->bundle);
	memset(s, 0, sizeof(*s));
}

int ccp_sigstore_sig_parse(ccp_sigstore_sig *out, const void *data, size_t len, ccp_err *e)
{
	static const char *const ann_keys[] = { CCP_COSIGN_ANN_SIGNATURE, CCP_COSIGN_ANN_CERT, CCP_COSIGN_ANN_CHAIN,
						CCP_COSIGN_ANN_BUNDLE };
	json_t *j = NULL, *mt, *pl, *ann, *v;
	char **slots[4];
	const char *key;
	int r;

	memset(out, 0, sizeof(*out));
	slots[0] = &out->signature;
	slots[1] = &out->certificate;
	slots[2] = &out->chain;
	slots[3] = &out->bundle;
	if ((r = ccp_json_parse(&j, data, len, CCP_SIGSTORE_SIG_MAX, "sigstore signature", CCP_EPOLICY, e)))
		return r;
	mt = json_object_get(j, "mimeType");
	pl = json_object_get(j, "payload");
	ann = json_object_get(j, "annotations");
	if (!json_is_object(j) || json_object_size(j) != 3 || !json_is_string(mt) || !json_is_string(pl) ||
	    !json_is_object(ann)) {
		r = ccp_err_set(e, CCP_EPOLICY, "sigstore signature: expected exactly mimeType, payload and annotations");
		goto out;
	}
	json_object_foreach(ann, key, v) {
		if (!json_is_string(v)) {
			r = ccp_err_set(e, CCP_EPOLICY, "sigstore signature: annotation \"%.100s\" is not a string", key);
			goto out;
		}
	}
	out->payload.max = CCP_SIGSTORE_SIG_MAX;
	if ((r = ccp_b64_decode_go(&out->payload, json_string_value(pl), json_string_length(pl)))) {
		r = r == CCP_ENOMEM ? ccp_err_oom(e) : ccp_err_set(e, CCP_EPOLICY, "sigstore signature: invalid base64 payload");
		goto out;
	}
	if (!(out->mime_type = strdup(json_string_value(mt)))) {
		r = ccp_err_oom(e);
		goto out;
	}
	for (size_t i = 0; i < 4; i++) {
		if (!(v = json_object_get(ann, ann_keys[i])))
			continue;
		if (!(*slots[i] = strndup(json_string_value(v), json_string_length(v)))) {
			r = ccp_err_oom(e);
			goto out;
		}
		/* An embedded NUL would make the C string differ from what was signed. */
		if (strlen(*slots[i]) != json_string_length(v)) {
			r = ccp_err_set(e, CCP_EPOLICY, "sigstore signature: annotation %s holds a NUL byte", ann_keys[i]);
			goto out;
		}
	}
out:
	json_decref(j);
	if (r)
		ccp_sigstore_sig_free(out);
	return r;
}

/* ---- trust material ---- */

static int read_src(ccp_buf *out, const ccp_sigstore_src *s, const char *what, ccp_err *e)
{
	ccp_err re = CCP_ERR_INIT;

	/* inline data, or a kbs:// resource the policy fetched */
	if (!s->path || (ccp_resource_is_kbs(s->path) && s->data.data))
		return ccp_buf_append(out, s->data.data ? s->data.data : "", s->data.len) == CCP_ENOMEM ? ccp_err_oom(e) : 0;
	if (ccp_resource_is_kbs(s->path))
		return ccp_err_set(e, CCP_EPOLICY, "%s: the KBS resource %.256s was not fetched", what, s->path);
	if (ccp_read_file(out, s->path, CCP_SIGSTORE_TRUST_FILE_MAX, &re))
		return ccp_err_set(e, CCP_EPOLICY, "%s: %s", what, re.msg);
	return 0;
}

/* The first PEM public key of a source: ECDSA, RSA or Ed25519 (sigstore LoadVerifier). */
static int load_key(EVP_PKEY **out, const ccp_sigstore_src *s, int ecdsa_only, const char *what, ccp_err *e)
{
	ccp_buf b = CCP_BUF_INIT(CCP_SIGSTORE_TRUST_FILE_MAX);
	BIO *bio = NULL;
	int r, id;

	*out = NULL;
	if ((r = read_src(&b, s, what, e)))
		return r;
	if (!(bio = BIO_new_mem_buf(b.data ? b.data : "", (int)b.len))) {
		ccp_buf_free(&b);
		return ccp_err_oom(e);
	}
	*out = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ccp_buf_free(&b);
	if (!*out)
		return ccp_err_set(e, CCP_EPOLICY, "%s: not a PEM public key", what);
	id = EVP_PKEY_get_base_id(*out);
	if ((ecdsa_only && id != EVP_PKEY_EC) ||
	    (!ecdsa_only && id != EVP_PKEY_EC && id != EVP_PKEY_RSA && id != EVP_PKEY_ED25519)) {
		EVP_PKEY_free(*out);
		*out = NULL;
		return ccp_err_set(e, CCP_EPOLICY, "%s: %s", what,
				   ecdsa_only ? "the Rekor public key is not using ECDSA" : "unsupported public key type");
	}
	return 0;
}

static int load_certs(STACK_OF(X509) **out, const ccp_sigstore_src *s, const char *what, ccp_err *e)
{
	ccp_buf b = CCP_BUF_INIT(CCP_SIGSTORE_TRUST_FILE_MAX);
	int r;

	if ((r = read_src(&b, s, what, e)))
		return r;
	r = ccp_pem_certs_parse(out, b.data ? b.data : "", b.len, what, e);
	ccp_buf_free(&b);
	return r;
}

static int load_keys(EVP_PKEY ***out, size_t *n, const ccp_sigstore_src *srcs, size_t n_srcs, int ecdsa_only,
		     const char *kind, ccp_err *e)
{
	int r;

	if (n_srcs > CCP_SIGSTORE_MAX_KEYS)
		return ccp_err_set(e, CCP_EPOLICY, "more than %d %s", CCP_SIGSTORE_MAX_KEYS, kind);
	if (!(*out = calloc(n_srcs ? n_srcs : 1, sizeof(**out))))
		return ccp_err_oom(e);
	for (size_t i = 0; i < n_srcs; i++) {
		char what[400];
		if (srcs[i].path)
			snprintf(what, sizeof(what), "%s %.300s", kind, srcs[i].path);
		else
			snprintf(what, sizeof(what), "%s %zu (inline data)", kind, i + 1);
		if ((r = load_key(&(*out)[i], &srcs[i], ecdsa_only, what, e)))
			return r;
		*n = i + 1;
	}
	return 0;
}

void ccp_sigstore_trust_free(ccp_sigstore_trust *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_keys; i++)
		EVP_PKEY_free(t->keys[i]);
	free(t->keys);
	for (size_t i = 0; i < t->n_rekor; i++)
		EVP_PKEY_free(t->rekor[i]);
	free(t->rekor);
	sk_X509_pop_free(t->fulcio_roots, X509_free);
	sk_X509_pop_free(t->pki_roots, X509_free);
	sk_X509_pop_free(t->pki_intermediates, X509_free);
	free(t);
}

int ccp_sigstore_trust_load(ccp_sigstore_trust **out, const ccp_sigstore_policy *p, ccp_err *e)
{
	ccp_sigstore_trust *t = calloc(1, sizeof(*t));
	int r = 0;

	*out = NULL;
	if (!t)
		return ccp_err_oom(e);
	if (p->n_keys)
		r = load_keys(&t->keys, &t->n_keys, p->keys, p->n_keys, 0, "public key", e);
	if (!r && p->n_rekor_keys)
		r = load_keys(&t->rekor, &t->n_rekor, p->rekor_keys, p->n_rekor_keys, 1, "Rekor public key", e);
	if (!r && p->has_fulcio) {
		r = load_certs(&t->fulcio_roots, &p->fulcio_ca, "Fulcio CA", e);
		t->fulcio_issuer = p->fulcio_issuer;
		t->fulcio_email = p->fulcio_email;
	}
	if (!r && p->has_pki) {
		r = load_certs(&t->pki_roots, &p->pki_roots, "PKI CA roots", e);
		if (!r && p->has_pki_intermediates)
			r = load_certs(&t->pki_intermediates, &p->pki_intermediates, "PKI CA intermediates", e);
		t->pki_email = p->pki_email;
		t->pki_hostname = p->pki_hostname;
	}
	if (!r && !t->n_keys && !t->fulcio_roots && !t->pki_roots)
		r = ccp_err_set(e, CCP_EINTERNAL, "sigstoreSigned requirement without a key source");
	if (r) {
		ccp_sigstore_trust_free(t);
		return r;
	}
	*out = t;
	return 0;
}

/* ---- one signature ---- */

/* A raw r||s ECDSA signature (newer sigstore accepts it) as DER; 0 if sig is not one. */
static int raw_ecdsa_to_der(EVP_PKEY *key, const unsigned char *sig, size_t len, unsigned char **der, int *der_len)
{
	int bits = EVP_PKEY_get_bits(key);
	size_t n = (size_t)(bits + 7) / 8;
	ECDSA_SIG *es;
	BIGNUM *r, *s;

	*der = NULL;
	if (bits <= 0 || len != 2 * n)
		return 0;
	r = BN_bin2bn(sig, (int)n, NULL);
	s = BN_bin2bn(sig + n, (int)n, NULL);
	es = ECDSA_SIG_new();
	if (!r || !s || !es || !ECDSA_SIG_set0(es, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return 0;
	}
	*der_len = i2d_ECDSA_SIG(es, der);
	ECDSA_SIG_free(es);
	return *der_len > 0;
}

int ccp_sigstore_sig_check(EVP_PKEY *key, const unsigned char *sig, size_t sig_len, const void *data, size_t len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int id = EVP_PKEY_get_base_id(key), ok = 0;
	unsigned char *der = NULL;
	int der_len = 0;

	if (!ctx)
		return 0;
	if (EVP_DigestVerifyInit(ctx, NULL, id == EVP_PKEY_ED25519 ? NULL : EVP_sha256(), NULL, key) == 1) {
		if (id == EVP_PKEY_EC && raw_ecdsa_to_der(key, sig, sig_len, &der, &der_len))
			ok = EVP_DigestVerify(ctx, der, (size_t)der_len, data, len) == 1;
		else
			ok = EVP_DigestVerify(ctx, sig, sig_len, data, len) == 1;
	}
	OPENSSL_free(der);
	EVP_MD_CTX_free(ctx);
	return ok;
}

int ccp_pem_encode(ccp_buf *out, EVP_PKEY *key, X509 *cert, ccp_err *e)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int r;

	if (!bio || (key ? PEM_write_bio_PUBKEY(bio, key) : PEM_write_bio_X509(bio, cert)) != 1) {
		BIO_free(bio);
		return ccp_err_oom(e);
	}
	n = BIO_get_mem_data(bio, &p);
	r = ccp_buf_append(out, p, (size_t)n) ? ccp_err_oom(e) : 0;
	BIO_free(bio);
	return r;
}

int ccp_pem_block_der(ccp_buf *der, const char *text, size_t len, size_t *rest)
{
	BIO *bio = BIO_new_mem_buf(text, (int)len);
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen = 0;
	int r = CCP_EINVALID;

	if (!bio)
		return CCP_ENOMEM;
	if (PEM_read_bio(bio, &name, &header, &data, &dlen) == 1) {
		*rest = len - (size_t)BIO_ctrl_pending(bio);
		r = ccp_buf_append(der, data, (size_t)dlen);
	}
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(bio);
	return r;
}

int ccp_sigstore_pick_key(const ccp_sigstore_trust *t, ccp_sigstore_key_try try_key, void *ctx, const char *against,
			  size_t *picked, int64_t *itime, ccp_err *e)
{
	ccp_buf reasons = CCP_BUF_INIT(2048);
	int r = CCP_EPOLICY;

	for (size_t i = 0; i < t->n_keys; i++) {
		ccp_err ke = CCP_ERR_INIT;
		r = try_key(ctx, t->keys[i], itime, &ke);
		if (!r) {
			*picked = i;
			break;
		}
		if (r == CCP_ENOMEM || r == CCP_EINTERNAL) {
			*e = ke;
			break;
		}
		ccp_buf_printf(&reasons, "%s%s", reasons.len ? ", " : "", ke.msg);
	}
	if (r && r != CCP_ENOMEM && r != CCP_EINTERNAL)
		r = ccp_err_set(e, CCP_EPOLICY, "No public key verified against %s: %s", against,
				reasons.data ? reasons.data : "");
	ccp_buf_free(&reasons);
	return r;
}

/* The RekorSET of a stored signature, checked for one configured key. */
struct set_try {
	const ccp_sigstore_trust *t;
	const ccp_sigstore_sig *sig;
};

static int set_try_key(void *ctx, EVP_PKEY *key, int64_t *itime, ccp_err *e)
{
	const struct set_try *st = ctx;
	ccp_buf pem = CCP_BUF_INIT(0);
	int r;

	if (!(r = ccp_pem_encode(&pem, key, NULL, e)))
		r = ccp_rekor_set_verify(st->t->rekor, st->t->n_rekor, st->sig->bundle, strlen(st->sig->bundle),
					 pem.data, pem.len, st->sig->signature, st->sig->payload.data,
					 st->sig->payload.len, itime, e);
	ccp_buf_free(&pem);
	return r;
}

int ccp_sigstore_verify(const ccp_sigstore_trust *t, const ccp_sigstore_sig *sig, int64_t now,
			ccp_sig_payload *out, ccp_err *e)
{
	ccp_buf raw = CCP_BUF_INIT(CCP_SIGSTORE_SIG_MAX);
	EVP_PKEY *cert_key = NULL, *const *keys = NULL;
	size_t n_keys = 0;
	int64_t itime;
	int r;

	memset(out, 0, sizeof(*out));
	if (!sig->signature)
		return ccp_err_set(e, CCP_EPOLICY, "missing %s annotation", CCP_COSIGN_ANN_SIGNATURE);
	if (t->n_keys && t->n_rekor) {
		/* The SET names one key: find the configured key it was made for. */
		struct set_try st = { t, sig };
		size_t i;
		if (!sig->bundle)
			return ccp_err_set(e, CCP_EPOLICY, "missing %s annotation", CCP_COSIGN_ANN_BUNDLE);
		if ((r = ccp_sigstore_pick_key(t, set_try_key, &st, "the RekorSET", &i, &itime, e)))
			goto out;
		keys = &t->keys[i];
		n_keys = 1;
	} else if (t->n_keys) {
		keys = t->keys;
		n_keys = t->n_keys;
	} else if (t->fulcio_roots) {
		if (!sig->bundle)
			return ccp_err_set(e, CCP_EPOLICY, "missing %s annotation", CCP_COSIGN_ANN_BUNDLE);
		if (!sig->certificate)
			return ccp_err_set(e, CCP_EPOLICY, "missing %s annotation", CCP_COSIGN_ANN_CERT);
		/* The log time, not the current time, is when the short-lived certificate must be valid. */
		if ((r = ccp_rekor_set_verify(t->rekor, t->n_rekor, sig->bundle, strlen(sig->bundle), sig->certificate,
					      strlen(sig->certificate), sig->signature, sig->payload.data,
					      sig->payload.len, &itime, e)) ||
		    (r = ccp_fulcio_verify(t->fulcio_roots, t->fulcio_issuer, t->fulcio_email, itime, sig->certificate,
					   strlen(sig->certificate), sig->chain, sig->chain ? strlen(sig->chain) : 0,
					   &cert_key, e)))
			goto out;
		keys = &cert_key;
		n_keys = 1;
	} else {
		if (!sig->certificate)
			return ccp_err_set(e, CCP_EPOLICY, "missing %s annotation", CCP_COSIGN_ANN_CERT);
		if ((r = ccp_pki_verify(t->pki_roots, t->pki_intermediates, t->pki_email, t->pki_hostname, now,
					sig->certificate, strlen(sig->certificate), sig->chain,
					sig->chain ? strlen(sig->chain) : 0, &cert_key, e)))
			goto out;
		keys = &cert_key;
		n_keys = 1;
	}
	if ((r = ccp_b64_decode_go(&raw, sig->signature, strlen(sig->signature)))) {
		r = r == CCP_ENOMEM ? ccp_err_oom(e) : ccp_err_set(e, CCP_EPOLICY, "invalid base64 in %s",
								    CCP_COSIGN_ANN_SIGNATURE);
		goto out;
	}
	r = CCP_EPOLICY;
	for (size_t i = 0; i < n_keys && r; i++)
		if (ccp_sigstore_sig_check(keys[i], (unsigned char *)raw.data, raw.len, sig->payload.data, sig->payload.len))
			r = 0;
	if (r) {
		r = ccp_err_set(e, CCP_EPOLICY, "cryptographic signature verification failed");
		goto out;
	}
	r = ccp_sigstore_payload_parse(out, sig->payload.data, sig->payload.len, e);
out:
	EVP_PKEY_free(cert_key);
	ccp_buf_free(&raw);
	return r;
}
