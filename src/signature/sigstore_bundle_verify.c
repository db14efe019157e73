/*
 * Verification of a Sigstore bundle v0.3 with the trust material of a sigstoreSigned requirement
 * (sigstore-go pkg/verify; sigstore-js packages/verify/src/tlog/{set,dsse,merkle,checkpoint}.ts; Rekor
 * pkg/types/dsse/v0.0.1; RFC 9162 section 2.1.3.2; c2sp.org/signed-note). Trust comes only from the policy:
 * nothing the bundle brings (certificates, log ids, times) counts before a policy key has verified it.
 */
#include "signature/sigstore_bundle.h"
#include "signature/sigstore_int.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "util/json.h"

#define REASONS_MAX 2048
#define CHECKPOINT_MAX (64u * 1024)

static void hex_encode(char *out, const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int sha256(unsigned char out[32], const void *a, size_t al, const void *b, size_t bl, const void *c, size_t cl)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(ctx, a, al) == 1 &&
		 (!bl || EVP_DigestUpdate(ctx, b, bl) == 1) && (!cl || EVP_DigestUpdate(ctx, c, cl) == 1) &&
		 EVP_DigestFinal_ex(ctx, out, NULL) == 1;

	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

int ccp_merkle_verify(const unsigned char leaf[32], uint64_t index, uint64_t size, const unsigned char *hashes,
		      size_t n_hashes, const unsigned char root[32])
{
	static const unsigned char node = 0x01;
	unsigned char r[32], pre[33];
	uint64_t fn = index, sn;

	if (size == 0 || index >= size)
		return 0;
	sn = size - 1;
	memcpy(r, leaf, 32);
	for (size_t i = 0; i < n_hashes; i++) {
		const unsigned char *p = hashes + 32 * i;
		if (sn == 0)
			return 0;
		pre[0] = node;
		if ((fn & 1) || fn == sn) {
			memcpy(pre + 1, p, 32);
			if (sha256(r, pre, 33, r, 32, NULL, 0))
				return 0;
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			memcpy(pre + 1, r, 32);
			if (sha256(r, pre, 33, p, 32, NULL, 0))
				return 0;
		}
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && memcmp(r, root, 32) == 0;
}

/* Signature over data with the hash the key's type implies (sigstore-go LoadDefaultVerifier), and SHA-256. */
static int sig_ok(EVP_PKEY *key, const ccp_buf *sig, const void *data, size_t len)
{
	const EVP_MD *md = NULL;
	EVP_MD_CTX *ctx;
	int ok = 0;

	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
		int bits = EVP_PKEY_get_bits(key);
		md = bits == 384 ? EVP_sha384() : bits == 521 ? EVP_sha512() : NULL;
	}
	if (md && (ctx = EVP_MD_CTX_new())) {
		ok = EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1 &&
		     EVP_DigestVerify(ctx, (const unsigned char *)sig->data, sig->len, data, len) == 1;
		EVP_MD_CTX_free(ctx);
	}
	return ok || ccp_sigstore_sig_check(key, (const unsigned char *)sig->data, sig->len, data, len);
}

static int spki_der(ccp_buf *out, EVP_PKEY *key, ccp_err *e)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(key, &der);
	int r;

	if (n <= 0)
		return ccp_err_set(e, CCP_EINTERNAL, "cannot encode a public key");
	r = ccp_buf_append(out, der, (size_t)n) ? ccp_err_oom(e) : 0;
	OPENSSL_free(der);
	return r;
}

/* The DER of the one PEM block in text (a Rekor body's verifier), nothing but white space after it. */
static int pem_der(ccp_buf *out, const char *text, size_t len)
{
	size_t rest = 0;
	int r = ccp_pem_block_der(out, text, len, &rest);

	for (; !r && rest < len; rest++)
		if (text[rest] != '\n' && text[rest] != '\r' && text[rest] != ' ' && text[rest] != '\t')
			r = CCP_EINVALID;
	return r;
}

static int bad(ccp_err *e, const char *msg)
{
	return ccp_err_set(e, CCP_EPOLICY, "Rekor entry: %s", msg);
}

/* The dsse 0.0.1 body (Rekor's canonical form) names this envelope's signature, signer and payload hash. */
static int check_dsse_body(const ccp_bundle_tlog *t, const ccp_bundle *b, const ccp_buf *signer_der, ccp_err *e)
{
	ccp_buf sig = CCP_BUF_INIT(4096), pem = CCP_BUF_INIT(64 * 1024), der = CCP_BUF_INIT(64 * 1024);
	json_t *j = NULL, *spec, *sigs, *s0, *ph, *v;
	unsigned char want[32];
	char want_hex[65];
	ccp_err je = CCP_ERR_INIT;
	int r;

	if (ccp_json_parse(&j, t->body.data, t->body.len, CCP_BUNDLE_MAX, "Rekor entry body", CCP_EPOLICY, &je))
		return ccp_err_set(e, CCP_EPOLICY, "%s", je.msg);
	r = CCP_EPOLICY;
	if (!json_is_string(v = json_object_get(j, "kind")) || strcmp(json_string_value(v), "dsse") != 0 ||
	    !json_is_string(v = json_object_get(j, "apiVersion")) || strcmp(json_string_value(v), "0.0.1") != 0) {
		r = bad(e, "the body is not a dsse 0.0.1 entry");
		goto out;
	}
	spec = json_object_get(j, "spec");
	sigs = json_object_get(spec, "signatures");
	if (!json_is_array(sigs) || json_array_size(sigs) != 1 || !json_is_object(s0 = json_array_get(sigs, 0))) {
		r = bad(e, "the body does not hold exactly one signature");
		goto out;
	}
	if (!json_is_string(v = json_object_get(s0, "signature")) ||
	    ccp_b64_decode(&sig, json_string_value(v), json_string_length(v), 0) || sig.len != b->sig.len ||
	    memcmp(sig.data, b->sig.data, sig.len) != 0) {
		r = bad(e, "the entry is for another signature");
		goto out;
	}
	if (!json_is_string(v = json_object_get(s0, "verifier")) ||
	    ccp_b64_decode(&pem, json_string_value(v), json_string_length(v), 0) ||
	    pem_der(&der, pem.data ? pem.data : "", pem.len) || der.len != signer_der->len ||
	    memcmp(der.data, signer_der->data, der.len) != 0) {
		r = bad(e, "the entry names another signer (key or certificate)");
		goto out;
	}
	ph = json_object_get(spec, "payloadHash");
	if (sha256(want, b->payload.data ? b->payload.data : "", b->payload.len, NULL, 0, NULL, 0)) {
		r = ccp_err_set(e, CCP_EINTERNAL, "sha256 failed");
		goto out;
	}
	hex_encode(want_hex, want, 32);
	if (!json_is_string(v = json_object_get(ph, "algorithm")) || strcmp(json_string_value(v), "sha256") != 0 ||
	    !json_is_string(v = json_object_get(ph, "value")) || strcmp(json_string_value(v), want_hex) != 0) {
		r = bad(e, "the entry's payload hash is not the envelope's");
		goto out;
	}
	r = 0;
out:
	json_decref(j);
	ccp_buf_free(&sig);
	ccp_buf_free(&pem);
	ccp_buf_free(&der);
	return r;
}

/*
 * A checkpoint (signed note): "<origin>\n<tree size>\n<base64 root hash>\n[extensions]\n\n" then signature
 * lines "— <name> <base64(4-byte key hint || signature)>". The size and root must be the proof's, and one
 * signature must verify with the log's key.
 */
static int check_checkpoint(const ccp_bundle_tlog *t, EVP_PKEY *key, ccp_err *e)
{
	const char *cp = t->checkpoint, *sep, *line, *end;
	size_t len = strlen(cp), text_len;
	ccp_buf root = CCP_BUF_INIT(64);
	char size_str[24];
	int ok = 0;

	if (len > CHECKPOINT_MAX || !(sep = strstr(cp, "\n\n")))
		return bad(e, "malformed checkpoint");
	text_len = (size_t)(sep - cp) + 1;
	/* origin line, then size, then root hash */
	if (!(line = memchr(cp, '\n', text_len)) || line == cp)
		return bad(e, "malformed checkpoint");
	line++;
	snprintf(size_str, sizeof(size_str), "%lld", (long long)t->tree_size);
	end = memchr(line, '\n', text_len - (size_t)(line - cp));
	if (!end || (size_t)(end - line) != strlen(size_str) || memcmp(line, size_str, strlen(size_str)) != 0)
		return bad(e, "the checkpoint is for another tree size");
	line = end + 1;
	end = memchr(line, '\n', text_len - (size_t)(line - cp));
	if (!end || ccp_b64_decode(&root, line, (size_t)(end - line), 0) || root.len != 32 ||
	    memcmp(root.data, t->root_hash.data, 32) != 0) {
		ccp_buf_free(&root);
		return bad(e, "the checkpoint is for another root hash");
	}
	ccp_buf_free(&root);
	for (line = sep + 2; *line && !ok; line = *end ? end + 1 : end) {
		const char *b64;
		ccp_buf raw = CCP_BUF_INIT(1024);
		ccp_buf sig = CCP_BUF_INIT(0);
		end = line + strcspn(line, "\n");
		/* U+2014 EM DASH, space, key name, space, base64 */
		if ((size_t)(end - line) < 4 || memcmp(line, "\xe2\x80\x94 ", 4) != 0)
			continue;
		b64 = memchr(line + 4, ' ', (size_t)(end - line - 4));
		if (!b64 || ccp_b64_decode(&raw, b64 + 1, (size_t)(end - b64 - 1), 0) || raw.len <= 4) {
			ccp_buf_free(&raw);
			continue;
		}
		sig.data = raw.data + 4;
		sig.len = raw.len - 4;
		ok = sig_ok(key, &sig, cp, text_len);
		ccp_buf_free(&raw);
	}
	return ok ? 0 : bad(e, "no checkpoint signature verifies with the log's key");
}

/*
 * One Rekor v1 entry for this envelope and signer: the log is one of the policy's Rekor keys (its id is the
 * key's SHA-256), the SET verifies over the canonical {body, integratedTime, logID, logIndex}, the body is
 * this signature's, and the inclusion proof (when present) leads to a checkpoint the log signed.
 */
static int check_tlog(const ccp_sigstore_trust *tr, const ccp_bundle_tlog *t, const ccp_bundle *b,
		      const ccp_buf *signer_der, int64_t *itime, ccp_err *e)
{
	ccp_buf canonical = CCP_BUF_INIT(4 * CCP_BUNDLE_MAX);
	EVP_PKEY *key = NULL;
	char *body_b64 = NULL;
	char log_hex[65];
	json_t *p = NULL;
	int r;

	if (tr->n_rekor == 0)
		return bad(e, "no Rekor public keys configured");
	if (strcmp(t->kind, "dsse") != 0 || strcmp(t->version, "0.0.1") != 0)
		return ccp_err_set(e, CCP_EPOLICY, "Rekor entry: unsupported kind %.40s %.40s (dsse 0.0.1 is verified)",
				   t->kind, t->version);
	if (t->set.len == 0)
		return bad(e, "no signed entry timestamp (inclusion promise), so no trusted time");
	if (t->log_id.len != 32)
		return bad(e, "the log id is not a SHA-256");
	for (size_t i = 0; i < tr->n_rekor && !key; i++) {
		ccp_buf der = CCP_BUF_INIT(0);
		unsigned char id[32];
		if ((r = spki_der(&der, tr->rekor[i], e)))
			return r;
		if (!sha256(id, der.data, der.len, NULL, 0, NULL, 0) && memcmp(id, t->log_id.data, 32) == 0)
			key = tr->rekor[i];
		ccp_buf_free(&der);
	}
	if (!key)
		return bad(e, "the entry is from a log whose key the policy does not name");
	hex_encode(log_hex, (const unsigned char *)t->log_id.data, 32);
	if ((r = ccp_b64_encode(&body_b64, t->body.data ? t->body.data : "", t->body.len)))
		return ccp_err_oom(e);
	if (!(p = json_pack("{s:s, s:I, s:I, s:s}", "body", body_b64, "integratedTime", (json_int_t)t->integrated_time,
			    "logIndex", (json_int_t)t->log_index, "logID", log_hex))) {
		r = ccp_err_oom(e);
		goto out;
	}
	if ((r = ccp_json_canonicalize(&canonical, p))) {
		r = r == CCP_ENOMEM ? ccp_err_oom(e) : bad(e, "the entry cannot be canonicalized");
		goto out;
	}
	if (!sig_ok(key, &t->set, canonical.data, canonical.len)) {
		r = bad(e, "the signed entry timestamp does not verify with the log's key");
		goto out;
	}
	if ((r = check_dsse_body(t, b, signer_der, e)))
		goto out;
	if (t->has_proof) {
		unsigned char leaf[32];
		static const unsigned char zero = 0;
		if (sha256(leaf, &zero, 1, t->body.data, t->body.len, NULL, 0)) {
			r = ccp_err_set(e, CCP_EINTERNAL, "sha256 failed");
			goto out;
		}
		if (!ccp_merkle_verify(leaf, (uint64_t)t->proof_index, (uint64_t)t->tree_size,
				       (const unsigned char *)t->hashes.data, t->n_hashes,
				       (const unsigned char *)t->root_hash.data)) {
			r = bad(e, "the inclusion proof does not lead to its root hash");
			goto out;
		}
		if ((r = check_checkpoint(t, key, e)))
			goto out;
	}
	*itime = t->integrated_time;
out:
	json_decref(p);
	free(body_b64);
	ccp_buf_free(&canonical);
	return r;
}

/* The first of the bundle's Rekor entries that verifies for signer; the reasons of the others in e. */
static int find_tlog(const ccp_sigstore_trust *tr, const ccp_bundle *b, const ccp_buf *signer_der, int64_t *itime,
		     ccp_err *e)
{
	ccp_buf reasons = CCP_BUF_INIT(REASONS_MAX);
	int r;

	if (b->n_tlog == 0)
		return ccp_err_set(e, CCP_EPOLICY, "the bundle has no Rekor entry, and the policy requires one");
	for (size_t i = 0; i < b->n_tlog; i++) {
		ccp_err te = CCP_ERR_INIT;
		r = check_tlog(tr, &b->tlog[i], b, signer_der, itime, &te);
		if (!r || r == CCP_ENOMEM || r == CCP_EINTERNAL) {
			ccp_buf_free(&reasons);
			if (r)
				*e = te;
			return r;
		}
		ccp_buf_printf(&reasons, "%s%s", reasons.len ? "; " : "", te.msg);
	}
	r = ccp_err_set(e, CCP_EPOLICY, "%s", reasons.data ? reasons.data : "no Rekor entry verified");
	ccp_buf_free(&reasons);
	return r;
}

/* The bundle's Rekor entries, checked for one configured key. */
struct tlog_try {
	const ccp_sigstore_trust *t;
	const ccp_bundle *b;
};

static int tlog_try_key(void *ctx, EVP_PKEY *key, int64_t *itime, ccp_err *e)
{
	const struct tlog_try *tt = ctx;
	ccp_buf der = CCP_BUF_INIT(0);
	int r;

	if (!(r = spki_der(&der, key, e)))
		r = find_tlog(tt->t, tt->b, &der, itime, e);
	ccp_buf_free(&der);
	return r;
}

int ccp_bundle_verify(const ccp_sigstore_trust *t, const ccp_bundle *b, int64_t now, ccp_intoto *out, ccp_err *e)
{
	ccp_buf pae = CCP_BUF_INIT(2 * CCP_BUNDLE_MAX), pem = CCP_BUF_INIT(0);
	EVP_PKEY *cert_key = NULL, *const *keys = NULL;
	size_t n_keys = 0;
	X509 *leaf = NULL;
	int64_t itime = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (strcmp(b->payload_type, CCP_DSSE_INTOTO) != 0)
		return ccp_err_set(e, CCP_EPOLICY, "sigstore bundle: unexpected DSSE payload type \"%.100s\"",
				   b->payload_type);
	if (b->cert_der.len) {
		const unsigned char *p = (const unsigned char *)b->cert_der.data;
		if (!(leaf = d2i_X509(NULL, &p, (long)b->cert_der.len)) ||
		    p != (const unsigned char *)b->cert_der.data + b->cert_der.len) {
			r = ccp_err_set(e, CCP_EPOLICY, "sigstore bundle: invalid certificate");
			goto out;
		}
		if ((r = ccp_pem_encode(&pem, NULL, leaf, e)))
			goto out;
	}
	if (ccp_dsse_pae(&pae, b->payload_type, b->payload.data, b->payload.len)) {
		r = ccp_err_oom(e);
		goto out;
	}
	if (t->n_keys && t->n_rekor) {
		/* A Rekor entry names one key: find the configured key it was made for. */
		struct tlog_try tt = { t, b };
		size_t i;
		if ((r = ccp_sigstore_pick_key(t, tlog_try_key, &tt, "a Rekor entry", &i, &itime, e)))
			goto out;
		keys = &t->keys[i];
		n_keys = 1;
	} else if (t->n_keys) {
		keys = t->keys;
		n_keys = t->n_keys;
	} else if (t->fulcio_roots) {
		if (!leaf) {
			r = ccp_err_set(e, CCP_EPOLICY, "sigstore bundle: no certificate, and the policy requires a Fulcio "
					"certificate");
			goto out;
		}
		/* The log time, not the current time, is when the short-lived certificate must be valid. */
		if ((r = find_tlog(t, b, &b->cert_der, &itime, e)) ||
		    (r = ccp_fulcio_verify(t->fulcio_roots, t->fulcio_issuer, t->fulcio_email, itime, pem.data, pem.len,
					   NULL, 0, &cert_key, e)))
			goto out;
		keys = &cert_key;
		n_keys = 1;
	} else {
		if (!leaf) {
			r = ccp_err_set(e, CCP_EPOLICY, "sigstore bundle: no certificate, and the policy requires one");
			goto out;
		}
		if ((r = ccp_pki_verify(t->pki_roots, t->pki_intermediates, t->pki_email, t->pki_hostname, now, pem.data,
					pem.len, NULL, 0, &cert_key, e)))
			goto out;
		keys = &cert_key;
		n_keys = 1;
	}
	r = CCP_EPOLICY;
	for (size_t i = 0; i < n_keys && r; i++)
		if (sig_ok(keys[i], &b->sig, pae.data, pae.len))
			r = 0;
	if (r) {
		r = ccp_err_set(e, CCP_EPOLICY, "cryptographic signature verification failed (DSSE envelope)");
		goto out;
	}
	r = ccp_intoto_parse(out, b->payload.data ? b->payload.data : "", b->payload.len, e);
out:
	X509_free(leaf);
	EVP_PKEY_free(cert_key);
	ccp_buf_free(&pae);
	ccp_buf_free(&pem);
	return r;
}
