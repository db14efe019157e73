/*
 * The simple-signing payload (containers-signature(5), containers/image signature/simple.go), stored
 * signature blobs (internal/signature/signature.go) and the manifest digest they sign.
 */
#include "signature/signature.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"

#define SIG_TYPE "atomic container signature"
#define SIGSTORE_TYPE "cosign container image signature"
#define SCHEMA1_MAX (4u << 20)

void ccp_sig_payload_free(ccp_sig_payload *p)
{
	if (!p)
		return;
	free(p->docker_reference);
	free(p->manifest_digest);
	memset(p, 0, sizeof(*p));
}

/* obj must be an object holding exactly the keys in want (all present, nothing else). */
static int exact_keys(const json_t *obj, const char *what, const char *const *want, size_t n, ccp_err *e)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return ccp_err_set(e, CCP_EPOLICY, "signature payload: %s is not a JSON object", what);
	json_object_foreach((json_t *)obj, key, v) {
		size_t i;
		for (i = 0; i < n && strcmp(key, want[i]) != 0; i++)
			;
		if (i == n)
			return ccp_err_set(e, CCP_EPOLICY, "signature payload: unknown key \"%.64s\" in %s", key, what);
	}
	for (size_t i = 0; i < n; i++)
		if (!json_object_get(obj, want[i]))
			return ccp_err_set(e, CCP_EPOLICY, "signature payload: key \"%s\" missing in %s", want[i], what);
	return 0;
}

static int string_member(const json_t *obj, const char *key, const char *what, const char **out, ccp_err *e)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_string(v))
		return ccp_err_set(e, CCP_EPOLICY, "signature payload: %s.%s is not a string", what, key);
	*out = json_string_value(v);
	return 0;
}

/* cosign writes "optional": null; simple signing requires an object. */
static int parse_payload(ccp_sig_payload *out, const void *data, size_t len, const char *sig_type, int null_optional,
			 ccp_err *e)
{
	static const char *const top_keys[] = { "critical", "optional" };
	static const char *const crit_keys[] = { "type", "image", "identity" };
	static const char *const image_keys[] = { "docker-manifest-digest" };
	static const char *const ident_keys[] = { "docker-reference" };
	json_t *j = NULL, *crit, *opt, *v;
	const char *type = NULL, *dg = NULL, *ref = NULL;
	ccp_digest d;
	ccp_err derr = CCP_ERR_INIT;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = ccp_json_parse(&j, data, len, CCP_SIG_PAYLOAD_MAX, "signature payload", CCP_EPOLICY, e)))
		return r;
	if ((r = exact_keys(j, "the payload", top_keys, 2, e)))
		goto out;
	crit = json_object_get(j, "critical");
	opt = json_object_get(j, "optional");
	if ((r = exact_keys(crit, "critical", crit_keys, 3, e)) ||
	    (r = string_member(crit, "type", "critical", &type, e)))
		goto out;
	if (strcmp(type, sig_type) != 0) {
		r = ccp_err_set(e, CCP_EPOLICY, "signature payload: unrecognized signature type \"%.64s\"", type);
		goto out;
	}
	if ((r = exact_keys(json_object_get(crit, "image"), "critical.image", image_keys, 1, e)) ||
	    (r = string_member(json_object_get(crit, "image"), "docker-manifest-digest", "critical.image", &dg, e)) ||
	    (r = exact_keys(json_object_get(crit, "identity"), "critical.identity", ident_keys, 1, e)) ||
	    (r = string_member(json_object_get(crit, "identity"), "docker-reference", "critical.identity", &ref, e)))
		goto out;
	/* The digest is validated before anything uses it (CVE-2024-3727). */
	if (ccp_digest_parse(&d, dg, strlen(dg), &derr)) {
		r = ccp_err_set(e, CCP_EPOLICY, "signature payload: invalid docker-manifest-digest: %s", derr.msg);
		goto out;
	}
	if (null_optional && json_is_null(opt))
		opt = NULL;
	else if (!json_is_object(opt)) {
		r = ccp_err_set(e, CCP_EPOLICY, "signature payload: optional is not a JSON object");
		goto out;
	}
	if ((v = json_object_get(opt, "creator")) && !json_is_string(v)) {
		r = ccp_err_set(e, CCP_EPOLICY, "signature payload: field optional.creator is not a string");
		goto out;
	}
	if ((v = json_object_get(opt, "timestamp"))) {
		if (json_is_real(v)) {
			double t = json_real_value(v);
			if (!(t >= -9.2e18 && t <= 9.2e18) || (double)(int64_t)t != t) {
				r = ccp_err_set(e, CCP_EPOLICY, "signature payload: field optional.timestamp is not an integer");
				goto out;
			}
		} else if (!json_is_integer(v)) {
			r = ccp_err_set(e, CCP_EPOLICY, "signature payload: field optional.timestamp is not a number");
			goto out;
		}
	}
	out->docker_reference = strdup(ref);
	out->manifest_digest = strdup(dg);
	if (!out->docker_reference || !out->manifest_digest) {
		ccp_sig_payload_free(out);
		r = ccp_err_oom(e);
	}
out:
	json_decref(j);
	return r;
}

int ccp_sig_payload_parse(ccp_sig_payload *out, const void *data, size_t len, ccp_err *e)
{
	return parse_payload(out, data, len, SIG_TYPE, 0, e);
}

int ccp_sigstore_payload_parse(ccp_sig_payload *out, const void *data, size_t len, ccp_err *e)
{
	return parse_payload(out, data, len, SIGSTORE_TYPE, 1, e);
}

/* base64url without padding (JWS), as libtrust decodes it. */
static int b64url_decode(ccp_buf *out, const char *s, size_t len)
{
	ccp_buf std = CCP_BUF_INIT(0);
	int r = 0;

	for (size_t i = 0; i < len && !r; i++) {
		char c = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
		if (s[i] == '+' || s[i] == '/' || s[i] == '=' || s[i] == '\r' || s[i] == '\n')
			r = CCP_EINVALID;
		else
			r = ccp_buf_append(&std, &c, 1);
	}
	while (!r && std.len % 4)
		r = ccp_buf_append(&std, "=", 1);
	if (!r)
		r = ccp_b64_decode_go(out, std.data ? std.data : "", std.len);
	ccp_buf_free(&std);
	return r;
}

/*
 * A signed schema1 manifest is hashed without its "signatures": every JWS protected header carries
 * formatLength and formatTail, and the payload is manifest[:formatLength] + formatTail.
 */
static int schema1_payload(ccp_buf *out, const json_t *m, const char *raw, size_t len, ccp_err *e)
{
	json_t *sigs = json_object_get(m, "signatures"), *sig;
	size_t i;
	int have = 0, r;

	if (!json_is_array(sigs) || json_array_size(sigs) == 0)
		return ccp_err_set(e, CCP_EPOLICY, "schema1 manifest: \"signatures\" is not a non-empty array");
	json_array_foreach(sigs, i, sig) {
		json_t *prot = json_object_get(sig, "protected"), *hdr = NULL, *fl, *ft;
		ccp_buf hb = CCP_BUF_INIT(SCHEMA1_MAX), tail = CCP_BUF_INIT(SCHEMA1_MAX);
		json_int_t flen;

		if (!json_is_string(prot) ||
		    b64url_decode(&hb, json_string_value(prot), json_string_length(prot)) ||
		    ccp_json_parse(&hdr, hb.data, hb.len, SCHEMA1_MAX, "schema1 protected header", CCP_EPOLICY, e)) {
			ccp_buf_free(&hb);
			return ccp_err_set(e, CCP_EPOLICY, "schema1 manifest: signature %zu has no valid protected header", i);
		}
		ccp_buf_free(&hb);
		fl = json_object_get(hdr, "formatLength");
		ft = json_object_get(hdr, "formatTail");
		flen = json_is_integer(fl) ? json_integer_value(fl) : -1;
		if (flen < 0 || (size_t)flen > len || !json_is_string(ft) ||
		    b64url_decode(&tail, json_string_value(ft), json_string_length(ft))) {
			json_decref(hdr);
			ccp_buf_free(&tail);
			return ccp_err_set(e, CCP_EPOLICY, "schema1 manifest: signature %zu has an invalid format header", i);
		}
		json_decref(hdr);
		if (!have) {
			out->max = SCHEMA1_MAX * 2;
			if ((r = ccp_buf_append(out, raw, (size_t)flen)) || (r = ccp_buf_append(out, tail.data, tail.len))) {
				ccp_buf_free(&tail);
				return r == CCP_ENOMEM ? ccp_err_oom(e) : ccp_err_set(e, CCP_EPOLICY, "schema1 manifest too large");
			}
			have = 1;
		} else if (out->len != (size_t)flen + tail.len || memcmp(out->data, raw, (size_t)flen) ||
			   memcmp(out->data + flen, tail.data, tail.len)) {
			ccp_buf_free(&tail);
			return ccp_err_set(e, CCP_EPOLICY, "schema1 manifest: signatures disagree on the signed payload");
		}
		ccp_buf_free(&tail);
	}
	return 0;
}

int ccp_sig_manifest_digest(ccp_digest *out, const void *manifest, size_t len, ccp_err *e)
{
	json_t *m = NULL, *sv;
	ccp_buf payload = CCP_BUF_INIT(0);
	json_error_t jerr;
	int r;

	/* Only a JSON object with schemaVersion 1 and "signatures" is hashed differently. */
	m = json_loadb(manifest, len, JSON_REJECT_DUPLICATES, &jerr);
	sv = m ? json_object_get(m, "schemaVersion") : NULL;
	if (json_is_integer(sv) && json_integer_value(sv) == 1 && json_object_get(m, "signatures")) {
		r = schema1_payload(&payload, m, manifest, len, e);
		if (!r)
			r = ccp_digest_compute(out, CCP_SHA256, payload.data, payload.len, e);
		ccp_buf_free(&payload);
	} else {
		r = ccp_digest_compute(out, CCP_SHA256, manifest, len, e);
	}
	json_decref(m);
	return r;
}

int ccp_sig_classify(const void *blob, size_t len, ccp_sig_kind *kind, const unsigned char **data, size_t *dlen,
		     ccp_err *e)
{
	static const char simple[] = "simple-signing\n", sigstore[] = "sigstore-json\n";
	const unsigned char *b = blob;

	if (len == 0)
		return ccp_err_set(e, CCP_EPOLICY, "empty signature");
	/* The first byte of an OpenPGP message: an old- or new-format packet tag. */
	switch (b[0]) {
	case 0xA0: case 0xA1: case 0xA2: case 0xA3: case 0xC8: case 0x90: case 0x91: case 0x92:
	case 0x3D: case 0xC4: case 0x88: case 0x89: case 0x8A: case 0x8B: case 0xC2:
		*kind = CCP_SIG_SIMPLE;
		*data = b;
		*dlen = len;
		return 0;
	case 0x00:
		if (len > sizeof(simple) && memcmp(b + 1, simple, sizeof(simple) - 1) == 0) {
			*kind = CCP_SIG_SIMPLE;
			*data = b + sizeof(simple);
			*dlen = len - sizeof(simple);
			return 0;
		}
		if (len > sizeof(sigstore) && memcmp(b + 1, sigstore, sizeof(sigstore) - 1) == 0) {
			*kind = CCP_SIG_SIGSTORE;
			*data = b + sizeof(sigstore);
			*dlen = len - sizeof(sigstore);
			return 0;
		}
		break;
	default:
		break;
	}
	return ccp_err_set(e, CCP_EPOLICY, "unrecognized signature format (first byte 0x%02x)", b[0]);
}
