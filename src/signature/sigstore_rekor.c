/*
 * Rekor signed entry timestamps (containers/image signature/internal/rekor_set.go): an ECDSA signature
 * by the Rekor log over the RFC 8785 canonical form of the entry, whose hashedrekord body must name the
 * signature, the key or certificate, and the payload hash being verified (cosign CVE-2022-23649).
 */
#include "signature/sigstore.h"
#include "signature/sigstore_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/pem.h>

#include "util/json.h"

#define SET_MAX (1u << 20)
#define CANON_DEPTH_MAX 64

/* ---- RFC 8785 canonical JSON ---- */

/* Next UTF-16 code unit of a UTF-8 string (jansson guarantees valid UTF-8); *pend holds a pending low surrogate. */
static unsigned next_unit(const unsigned char **p, const unsigned char *end, unsigned *pend)
{
	unsigned c;

	if (*pend) {
		c = *pend;
		*pend = 0;
		return c;
	}
	c = *(*p)++;
	if (c >= 0xf0 && *p + 3 <= end) {
		c = ((c & 0x07u) << 18) | ((unsigned)((*p)[0] & 0x3f) << 12) | ((unsigned)((*p)[1] & 0x3f) << 6) |
		    ((*p)[2] & 0x3fu);
		*p += 3;
		c -= 0x10000;
		*pend = 0xdc00 + (c & 0x3ff);
		return 0xd800 + (c >> 10);
	}
	if (c >= 0xe0 && *p + 2 <= end) {
		c = ((c & 0x0fu) << 12) | ((unsigned)((*p)[0] & 0x3f) << 6) | ((*p)[1] & 0x3fu);
		*p += 2;
	} else if (c >= 0xc0 && *p + 1 <= end) {
		c = ((c & 0x1fu) << 6) | ((*p)[0] & 0x3fu);
		*p += 1;
	}
	return c;
}

/* Keys sort by their UTF-16 code units (JCS section 3.2.3). */
static int utf16_cmp(const void *a, const void *b)
{
	const char *sa = *(const char *const *)a, *sb = *(const char *const *)b;
	const unsigned char *pa = (const unsigned char *)sa, *pb = (const unsigned char *)sb;
	const unsigned char *ea = pa + strlen(sa), *eb = pb + strlen(sb);
	unsigned qa = 0, qb = 0;

	while ((pa < ea || qa) && (pb < eb || qb)) {
		unsigned ua = next_unit(&pa, ea, &qa), ub = next_unit(&pb, eb, &qb);
		if (ua != ub)
			return ua < ub ? -1 : 1;
	}
	return (pa < ea || qa) ? 1 : (pb < eb || qb) ? -1 : 0;
}

static int put_string(ccp_buf *out, const char *s, size_t n)
{
	int r = ccp_buf_append(out, "\"", 1);

	for (size_t i = 0; i < n && !r; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char hex[8];

		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			if (c < 0x20) {
				snprintf(hex, sizeof(hex), "\\u%04x", c);
				esc = hex;
			}
		}
		r = esc ? ccp_buf_puts(out, esc) : ccp_buf_append(out, &s[i], 1);
	}
	return r ? r : ccp_buf_append(out, "\"", 1);
}

/* ECMAScript Number.prototype.toString for a finite double (JCS section 3.2.2.3). */
static int put_number(ccp_buf *out, double v)
{
	char tmp[40], digits[20];
	int prec, exp10, k = 0, n;

	if (!isfinite(v))
		return CCP_EINVALID;
	if (v == 0)
		return ccp_buf_puts(out, "0");
	/* The shortest digit string that reads back as the same double. */
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	if (v < 0 && ccp_buf_puts(out, "-"))
		return CCP_ENOMEM;
	for (const char *p = tmp; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[k++] = *p;
	while (k > 1 && digits[k - 1] == '0')
		k--;
	digits[k] = '\0';
	exp10 = (int)strtol(strchr(tmp, 'e') + 1, NULL, 10);
	n = exp10 + 1; /* value = 0.digits * 10^n */
	if (k <= n && n <= 21) {
		int r = ccp_buf_puts(out, digits);
		for (int i = k; i < n && !r; i++)
			r = ccp_buf_puts(out, "0");
		return r;
	}
	if (0 < n && n <= 21)
		return ccp_buf_printf(out, "%.*s.%s", n, digits, digits + n);
	if (-6 < n && n <= 0) {
		int r = ccp_buf_puts(out, "0.");
		for (int i = 0; i < -n && !r; i++)
			r = ccp_buf_puts(out, "0");
		return r ? r : ccp_buf_puts(out, digits);
	}
	return ccp_buf_printf(out, "%c%s%se%c%d", digits[0], k > 1 ? "." : "", digits + 1, n - 1 < 0 ? '-' : '+',
			      abs(n - 1));
}

static int canon(ccp_buf *out, const json_t *v, int depth)
{
	int r = 0;

	if (depth > CANON_DEPTH_MAX)
		return CCP_EINVALID;
	switch (json_typeof(v)) {
	case JSON_NULL:
		return ccp_buf_puts(out, "null");
	case JSON_TRUE:
		return ccp_buf_puts(out, "true");
	case JSON_FALSE:
		return ccp_buf_puts(out, "false");
	case JSON_INTEGER: {
		json_int_t i = json_integer_value(v);
		/* Exact below 2^53; beyond, JCS numbers are IEEE doubles. */
		if (i >= -(1LL << 53) && i <= (1LL << 53))
			return ccp_buf_printf(out, "%lld", (long long)i);
		return put_number(out, (double)i);
	}
	case JSON_REAL:
		return put_number(out, json_real_value(v));
	case JSON_STRING:
		return put_string(out, json_string_value(v), json_string_length(v));
	case JSON_ARRAY: {
		size_t i;
		json_t *x;
		if ((r = ccp_buf_puts(out, "[")))
			return r;
		json_array_foreach((json_t *)v, i, x) {
			if ((i && (r = ccp_buf_puts(out, ","))) || (r = canon(out, x, depth + 1)))
				return r;
		}
		return ccp_buf_puts(out, "]");
	}
	case JSON_OBJECT: {
		size_t n = json_object_size(v), i = 0;
		const char **keys, *key;
		json_t *x;
		if (!(keys = calloc(n ? n : 1, sizeof(*keys))))
			return CCP_ENOMEM;
		json_object_foreach((json_t *)v, key, x)
			keys[i++] = key;
		qsort(keys, n, sizeof(*keys), utf16_cmp);
		r = ccp_buf_puts(out, "{");
		for (i = 0; i < n && !r; i++) {
			if ((i && (r = ccp_buf_puts(out, ","))) || (r = put_string(out, keys[i], strlen(keys[i]))) ||
			    (r = ccp_buf_puts(out, ":")))
				break;
			r = canon(out, json_object_get(v, keys[i]), depth + 1);
		}
		free(keys);
		return r ? r : ccp_buf_puts(out, "}");
	}
	}
	return CCP_EINVALID;
}

int ccp_json_canonicalize(ccp_buf *out, const json_t *v)
{
	return canon(out, v, 0);
}

/* ---- Rekor SET ---- */

static int bad(ccp_err *e, const char *msg)
{
	return ccp_err_set(e, CCP_EPOLICY, "Rekor SET: %s", msg);
}

/* The first PEM block's DER (Go pem.Decode); *trailing is set when anything follows its END line. */
static int pem_first_der(ccp_buf *der, const char *pem, size_t len, int *trailing)
{
	size_t rest = 0;
	int r;

	if (len > SET_MAX)
		return CCP_EINVALID;
	if (!(r = ccp_pem_block_der(der, pem, len, &rest)))
		*trailing = rest < len;
	return r;
}

static int hex_val(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Checks the hashedrekord body against what is being verified. */
static int check_body(const json_t *body, const char *key_or_cert_pem, size_t pem_len, const char *sig_b64,
		      const void *payload, size_t payload_len, ccp_err *e)
{
	const json_t *spec = json_object_get(body, "spec"), *sig, *pk, *hash, *v;
	ccp_buf got_sig = CCP_BUF_INIT(SET_MAX), want_sig = CCP_BUF_INIT(SET_MAX), pk_pem = CCP_BUF_INIT(SET_MAX);
	ccp_buf der_a = CCP_BUF_INIT(SET_MAX), der_b = CCP_BUF_INIT(SET_MAX);
	unsigned char want_hash[32], got_hash[32];
	const char *hv;
	int r, trailing = 0;

	if (!json_is_string(v = json_object_get(body, "apiVersion")) || strcmp(json_string_value(v), "0.0.1") != 0)
		return bad(e, "unsupported hashedrekord apiVersion");
	if (!json_is_string(v = json_object_get(body, "kind")) || strcmp(json_string_value(v), "hashedrekord") != 0)
		return bad(e, "the entry is not a hashedrekord");
	sig = json_object_get(spec, "signature");
	if (!json_is_object(sig))
		return bad(e, "missing signature");
	if (!json_is_string(v = json_object_get(sig, "content")))
		return bad(e, "missing signature content");
	if ((r = ccp_b64_decode_go(&got_sig, json_string_value(v), json_string_length(v))) ||
	    (r = ccp_b64_decode_go(&want_sig, sig_b64, strlen(sig_b64)))) {
		r = r == CCP_ENOMEM ? ccp_err_oom(e) : bad(e, "invalid base64 signature");
		goto out;
	}
	if (got_sig.len != want_sig.len || memcmp(got_sig.data, want_sig.data, got_sig.len) != 0) {
		r = bad(e, "signature in Rekor SET does not match");
		goto out;
	}
	pk = json_object_get(sig, "publicKey");
	if (!json_is_object(pk) || !json_is_string(v = json_object_get(pk, "content"))) {
		r = bad(e, "missing public key");
		goto out;
	}
	if ((r = ccp_b64_decode_go(&pk_pem, json_string_value(v), json_string_length(v)))) {
		r = r == CCP_ENOMEM ? ccp_err_oom(e) : bad(e, "invalid base64 public key");
		goto out;
	}
	if ((r = pem_first_der(&der_a, pk_pem.data ? pk_pem.data : "", pk_pem.len, &trailing))) {
		r = r == CCP_ENOMEM ? ccp_err_oom(e) : bad(e, "publicKey in Rekor SET is not in PEM format");
		goto out;
	}
	if (trailing) {
		r = bad(e, "publicKey in Rekor SET has trailing data");
		goto out;
	}
	if ((r = pem_first_der(&der_b, key_or_cert_pem, pem_len, &trailing))) {
		r = r == CCP_ENOMEM ? ccp_err_oom(e) : bad(e, "the key or certificate to match is not in PEM format");
		goto out;
	}
	if (trailing) {
		r = bad(e, "the key or certificate to match has trailing data");
		goto out;
	}
	if (der_a.len != der_b.len || memcmp(der_a.data, der_b.data, der_a.len) != 0) {
		r = bad(e, "publicKey in Rekor SET does not match");
		goto out;
	}
	hash = json_object_get(json_object_get(spec, "data"), "hash");
	if (!json_is_object(hash) || !json_is_string(v = json_object_get(hash, "algorithm"))) {
		r = bad(e, "missing payload hash");
		goto out;
	}
	if (strcmp(json_string_value(v), "sha256") != 0) {
		r = bad(e, "unexpected payload hash algorithm");
		goto out;
	}
	if (!json_is_string(v = json_object_get(hash, "value")) || json_string_length(v) != 64) {
		r = bad(e, "invalid payload hash value");
		goto out;
	}
	hv = json_string_value(v);
	for (size_t i = 0; i < 32; i++) {
		int hi = hex_val(hv[2 * i]), lo = hex_val(hv[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			r = bad(e, "invalid payload hash value");
			goto out;
		}
		got_hash[i] = (unsigned char)(hi << 4 | lo);
	}
	if (!EVP_Digest(payload, payload_len, want_hash, NULL, EVP_sha256(), NULL)) {
		r = ccp_err_set(e, CCP_EINTERNAL, "Rekor SET: sha256 failed");
		goto out;
	}
	if (memcmp(got_hash, want_hash, 32) != 0) {
		r = bad(e, "payload hash does not match");
		goto out;
	}
	r = 0;
out:
	ccp_buf_free(&got_sig);
	ccp_buf_free(&want_sig);
	ccp_buf_free(&pk_pem);
	ccp_buf_free(&der_a);
	ccp_buf_free(&der_b);
	return r;
}

/* obj must hold exactly keys[0..n) (containers/image parses the SET paranoidly). */
static int exact(const json_t *obj, const char *const *keys, size_t n)
{
	if (!json_is_object(obj) || json_object_size(obj) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!json_object_get(obj, keys[i]))
			return 0;
	return 1;
}

int ccp_rekor_set_verify(EVP_PKEY *const *rekor_keys, size_t n_keys, const char *set, size_t set_len,
			 const char *key_or_cert_pem, size_t pem_len, const char *sig_b64, const void *payload,
			 size_t payload_len, int64_t *integrated_time, ccp_err *e)
{
	static const char *const top[] = { "SignedEntryTimestamp", "Payload" };
	static const char *const pl[] = { "body", "integratedTime", "logIndex", "logID" };
	json_t *j = NULL, *p, *sv, *bv, *body = NULL;
	ccp_buf set_sig = CCP_BUF_INIT(SET_MAX), canonical = CCP_BUF_INIT(SET_MAX), body_raw = CCP_BUF_INIT(SET_MAX);
	ccp_err je = CCP_ERR_INIT;
	size_t k;
	int r;

	if (n_keys == 0)
		return bad(e, "no Rekor public keys configured");
	if ((r = ccp_json_parse(&j, set, set_len, SET_MAX, "Rekor SET", CCP_EPOLICY, e)))
		return r;
	p = json_object_get(j, "Payload");
	sv = json_object_get(j, "SignedEntryTimestamp");
	if (!exact(j, top, 2) || !exact(p, pl, 4) || !json_is_string(sv) ||
	    !json_is_string(bv = json_object_get(p, "body")) || !json_is_integer(json_object_get(p, "integratedTime")) ||
	    !json_is_integer(json_object_get(p, "logIndex")) || !json_is_string(json_object_get(p, "logID"))) {
		r = bad(e, "malformed bundle");
		goto out;
	}
	if ((r = ccp_b64_decode_go(&set_sig, json_string_value(sv), json_string_length(sv)))) {
		r = r == CCP_ENOMEM ? ccp_err_oom(e) : bad(e, "SignedEntryTimestamp is not valid base64");
		goto out;
	}
	if ((r = ccp_json_canonicalize(&canonical, p))) {
		r = r == CCP_ENOMEM ? ccp_err_oom(e) : bad(e, "the payload cannot be canonicalized");
		goto out;
	}
	for (k = 0; k < n_keys; k++)
		if (ccp_sigstore_sig_check(rekor_keys[k], (unsigned char *)set_sig.data, set_sig.len, canonical.data,
					   canonical.len) == 1)
			break;
	if (k == n_keys) {
		r = bad(e, "cryptographic signature verification of Rekor SET failed");
		goto out;
	}
	/* Only now is the entry trusted enough to be parsed further. */
	if ((r = ccp_b64_decode_go(&body_raw, json_string_value(bv), json_string_length(bv)))) {
		r = r == CCP_ENOMEM ? ccp_err_oom(e) : bad(e, "body is not valid base64");
		goto out;
	}
	if (ccp_json_parse(&body, body_raw.data, body_raw.len, SET_MAX, "Rekor SET body", CCP_EPOLICY, &je)) {
		r = ccp_err_set(e, CCP_EPOLICY, "Rekor SET: %s", je.msg);
		goto out;
	}
	if ((r = check_body(body, key_or_cert_pem, pem_len, sig_b64, payload, payload_len, e)))
		goto out;
	*integrated_time = (int64_t)json_integer_value(json_object_get(p, "integratedTime"));
out:
	json_decref(body);
	json_decref(j);
	ccp_buf_free(&set_sig);
	ccp_buf_free(&canonical);
	ccp_buf_free(&body_raw);
	return r;
}
