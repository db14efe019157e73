/*
 * The Sigstore bundle document (protobuf-specs protos/sigstore_bundle.proto, sigstore_rekor.proto,
 * sigstore_common.proto) in its protojson form: bytes are base64 (standard or URL alphabet), int64 values
 * strings (numbers accepted too). Unknown members are ignored, as protojson readers of newer minor versions
 * do; every member read is type-checked and bounded.
 */
#include "signature/sigstore_bundle.h"

#include <stdlib.h>
#include <string.h>

#include "util/json.h"

#define W "sigstore bundle"

static void tlog_free(ccp_bundle_tlog *t)
{
	ccp_buf_free(&t->log_id);
	free(t->kind);
	free(t->version);
	ccp_buf_free(&t->set);
	ccp_buf_free(&t->body);
	ccp_buf_free(&t->root_hash);
	ccp_buf_free(&t->hashes);
	free(t->checkpoint);
}

void ccp_bundle_free(ccp_bundle *b)
{
	if (!b)
		return;
	ccp_buf_free(&b->cert_der);
	free(b->key_hint);
	free(b->payload_type);
	ccp_buf_free(&b->payload);
	ccp_buf_free(&b->sig);
	free(b->sig_b64);
	for (size_t i = 0; i < b->n_tlog; i++)
		tlog_free(&b->tlog[i]);
	free(b->tlog);
	memset(b, 0, sizeof(*b));
}

/* A protojson bytes value: standard base64 with padding, or base64url (the two encodings protojson reads). */
static int bytes(ccp_buf *out, const json_t *obj, const char *key, int required, size_t max, const char *what,
		 ccp_err *e)
{
	const json_t *v = json_object_get(obj, key);
	int r;

	if (!v && !required)
		return 0;
	if (!json_is_string(v))
		return ccp_err_set(e, CCP_EPOLICY, W ": %s: %s is %s", what, key, v ? "not a string" : "missing");
	out->max = max;
	r = ccp_b64_decode(out, json_string_value(v), json_string_length(v), 0);
	if (r == CCP_EINVALID)
		r = ccp_b64_decode(out, json_string_value(v), json_string_length(v), 1);
	if (r == CCP_ENOMEM)
		return ccp_err_oom(e);
	if (r)
		return ccp_err_set(e, CCP_EPOLICY, W ": %s: %s is not valid base64 (or longer than %zu bytes)", what, key,
				   max);
	return 0;
}

/* A protojson int64: a decimal string or a JSON integer, not negative. */
static int int64_member(int64_t *out, const json_t *obj, const char *key, int required, const char *what, ccp_err *e)
{
	const json_t *v = json_object_get(obj, key);
	const char *s;
	int64_t n = 0;

	*out = 0;
	if (!v && !required)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (int64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 19)
		return ccp_err_set(e, CCP_EPOLICY, W ": %s: %s is not an int64", what, key);
	s = json_string_value(v);
	for (size_t i = 0; i < json_string_length(v); i++) {
		if (s[i] < '0' || s[i] > '9' || n > (INT64_MAX - (s[i] - '0')) / 10)
			return ccp_err_set(e, CCP_EPOLICY, W ": %s: %s is not an int64", what, key);
		n = n * 10 + (s[i] - '0');
	}
	*out = n;
	return 0;
}

static int dup_string(char **out, const json_t *obj, const char *key, int required, const char *what, ccp_err *e)
{
	const char *s = NULL;
	int r;

	if ((r = ccp_json_get_string(obj, key, required, &s, what, CCP_EPOLICY, e)) || !s)
		return r;
	if (strlen(s) != json_string_length(json_object_get(obj, key)))
		return ccp_err_set(e, CCP_EPOLICY, W ": %s: %s holds a NUL byte", what, key);
	if (!(*out = strdup(s)))
		return ccp_err_oom(e);
	return 0;
}

static int inclusion_proof(ccp_bundle_tlog *t, const json_t *p, const char *what, ccp_err *e)
{
	json_t *hashes = NULL, *cp = NULL, *h;
	size_t i;
	int r;

	/* proto3 JSON leaves out zero values: a missing index is 0. */
	if ((r = int64_member(&t->proof_index, p, "logIndex", 0, what, e)) ||
	    (r = int64_member(&t->tree_size, p, "treeSize", 1, what, e)) ||
	    (r = bytes(&t->root_hash, p, "rootHash", 1, 32, what, e)) ||
	    (r = ccp_json_get_array(p, "hashes", 0, &hashes, what, CCP_EPOLICY, e)) ||
	    (r = ccp_json_get_object(p, "checkpoint", 1, &cp, what, CCP_EPOLICY, e)) ||
	    (r = dup_string(&t->checkpoint, cp, "envelope", 1, what, e)))
		return r;
	if (t->root_hash.len != 32)
		return ccp_err_set(e, CCP_EPOLICY, W ": %s: rootHash is not 32 bytes", what);
	if (json_array_size(hashes) > CCP_BUNDLE_MAX_PROOF_HASHES)
		return ccp_err_set(e, CCP_EPOLICY, W ": %s: more than %d proof hashes", what, CCP_BUNDLE_MAX_PROOF_HASHES);
	json_array_foreach(hashes, i, h) {
		size_t before = t->hashes.len;
		if (!json_is_string(h))
			return ccp_err_set(e, CCP_EPOLICY, W ": %s: proof hash %zu is not a string", what, i + 1);
		t->hashes.max = (size_t)CCP_BUNDLE_MAX_PROOF_HASHES * 32;
		r = ccp_b64_decode(&t->hashes, json_string_value(h), json_string_length(h), 0);
		if (r == CCP_ENOMEM)
			return ccp_err_oom(e);
		if (r || t->hashes.len - before != 32)
			return ccp_err_set(e, CCP_EPOLICY, W ": %s: proof hash %zu is not 32 bytes of base64", what, i + 1);
	}
	t->n_hashes = json_array_size(hashes);
	t->has_proof = 1;
	return 0;
}

static int tlog_entry(ccp_bundle_tlog *t, const json_t *j, size_t i, ccp_err *e)
{
	json_t *id = NULL, *kv = NULL, *promise = NULL, *proof = NULL;
	char what[48];
	int r;

	snprintf(what, sizeof(what), "tlog entry %zu", i + 1);
	if (!json_is_object(j))
		return ccp_err_set(e, CCP_EPOLICY, W ": %s is not an object", what);
	if ((r = int64_member(&t->log_index, j, "logIndex", 0, what, e)) ||
	    (r = ccp_json_get_object(j, "logId", 1, &id, what, CCP_EPOLICY, e)) ||
	    (r = bytes(&t->log_id, id, "keyId", 1, 64, what, e)) ||
	    (r = ccp_json_get_object(j, "kindVersion", 1, &kv, what, CCP_EPOLICY, e)) ||
	    (r = dup_string(&t->kind, kv, "kind", 1, what, e)) || (r = dup_string(&t->version, kv, "version", 1, what, e)) ||
	    (r = int64_member(&t->integrated_time, j, "integratedTime", 0, what, e)) ||
	    (r = ccp_json_get_object(j, "inclusionPromise", 0, &promise, what, CCP_EPOLICY, e)) ||
	    (promise && (r = bytes(&t->set, promise, "signedEntryTimestamp", 1, 1024, what, e))) ||
	    (r = ccp_json_get_object(j, "inclusionProof", 0, &proof, what, CCP_EPOLICY, e)) ||
	    (proof && (r = inclusion_proof(t, proof, what, e))) ||
	    (r = bytes(&t->body, j, "canonicalizedBody", 1, CCP_BUNDLE_MAX, what, e)))
		return r;
	return 0;
}

static int envelope(ccp_bundle *b, const json_t *env, ccp_err *e)
{
	json_t *sigs = NULL, *s;
	const char *sig = NULL;
	int r;

	if ((r = dup_string(&b->payload_type, env, "payloadType", 1, "dsseEnvelope", e)) ||
	    (r = bytes(&b->payload, env, "payload", 1, CCP_BUNDLE_MAX, "dsseEnvelope", e)) ||
	    (r = ccp_json_get_array(env, "signatures", 1, &sigs, "dsseEnvelope", CCP_EPOLICY, e)))
		return r;
	/* One signature exactly (protobuf-specs: "the envelope must contain exactly one signature"). */
	if (json_array_size(sigs) != 1)
		return ccp_err_set(e, CCP_EPOLICY, W ": dsseEnvelope has %zu signatures, not one", json_array_size(sigs));
	s = json_array_get(sigs, 0);
	if (!json_is_object(s))
		return ccp_err_set(e, CCP_EPOLICY, W ": dsseEnvelope signature is not an object");
	if ((r = ccp_json_get_string(s, "sig", 1, &sig, "dsseEnvelope signature", CCP_EPOLICY, e)) ||
	    (r = bytes(&b->sig, s, "sig", 1, 4096, "dsseEnvelope signature", e)))
		return r;
	if (b->sig.len == 0)
		return ccp_err_set(e, CCP_EPOLICY, W ": the dsseEnvelope signature is empty");
	if (!(b->sig_b64 = strdup(sig)))
		return ccp_err_oom(e);
	return 0;
}

int ccp_bundle_parse(ccp_bundle *out, const void *data, size_t len, ccp_err *e)
{
	json_t *j = NULL, *vm = NULL, *cert = NULL, *pk = NULL, *tlogs = NULL, *env = NULL, *t;
	const char *mt = NULL;
	size_t i;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = ccp_json_parse(&j, data, len, CCP_BUNDLE_MAX, W, CCP_EPOLICY, e)))
		return r;
	if (!json_is_object(j)) {
		r = ccp_err_set(e, CCP_EPOLICY, W ": not a JSON object");
		goto out;
	}
	if ((r = ccp_json_get_string(j, "mediaType", 1, &mt, W, CCP_EPOLICY, e)))
		goto out;
	/* cosign refuses bundles older than v0.3 (pkg/oci/remote/signatures.go); so does ccpull. */
	if (strcmp(mt, CCP_BUNDLE_MEDIA_V03) != 0 && strcmp(mt, CCP_BUNDLE_MEDIA_V03_ALT) != 0) {
		r = ccp_err_set(e, CCP_EPOLICY, W ": unsupported media type \"%.100s\" (v0.3 is required)", mt);
		goto out;
	}
	if ((r = ccp_json_get_object(j, "verificationMaterial", 1, &vm, W, CCP_EPOLICY, e)) ||
	    (r = ccp_json_get_object(vm, "certificate", 0, &cert, "verificationMaterial", CCP_EPOLICY, e)) ||
	    (r = ccp_json_get_object(vm, "publicKey", 0, &pk, "verificationMaterial", CCP_EPOLICY, e)) ||
	    (r = ccp_json_get_array(vm, "tlogEntries", 0, &tlogs, "verificationMaterial", CCP_EPOLICY, e)))
		goto out;
	if (json_object_get(vm, "x509CertificateChain")) {
		r = ccp_err_set(e, CCP_EPOLICY, W ": a v0.3 bundle carries its leaf in certificate, not "
				"x509CertificateChain");
		goto out;
	}
	if (!!cert == !!pk) {
		r = ccp_err_set(e, CCP_EPOLICY, W ": verificationMaterial needs exactly one of certificate and publicKey");
		goto out;
	}
	if (cert && (r = bytes(&out->cert_der, cert, "rawBytes", 1, 64 * 1024, "certificate", e)))
		goto out;
	if (cert && out->cert_der.len == 0) {
		r = ccp_err_set(e, CCP_EPOLICY, W ": the certificate is empty");
		goto out;
	}
	if (pk && (r = dup_string(&out->key_hint, pk, "hint", 0, "publicKey", e)))
		goto out;
	if (json_object_get(j, "messageSignature")) {
		r = ccp_err_set(e, CCP_EPOLICY, W ": a messageSignature bundle is not an image signature (cosign v3 "
				"signs images with a DSSE envelope)");
		goto out;
	}
	if ((r = ccp_json_get_object(j, "dsseEnvelope", 1, &env, W, CCP_EPOLICY, e)) || (r = envelope(out, env, e)))
		goto out;
	if (json_array_size(tlogs) > CCP_BUNDLE_MAX_TLOG) {
		r = ccp_err_set(e, CCP_EPOLICY, W ": more than %d tlog entries", CCP_BUNDLE_MAX_TLOG);
		goto out;
	}
	if (json_array_size(tlogs) && !(out->tlog = calloc(json_array_size(tlogs), sizeof(*out->tlog)))) {
		r = ccp_err_oom(e);
		goto out;
	}
	json_array_foreach(tlogs, i, t) {
		out->n_tlog = i + 1;
		if ((r = tlog_entry(&out->tlog[i], t, i, e)))
			goto out;
	}
out:
	json_decref(j);
	if (r)
		ccp_bundle_free(out);
	return r;
}
