/*
 * The ocicrypt keyprovider protocol's unwrap messages (containers/ocicrypt keywrap/keyprovider):
 *   request  {"op":"keyunwrap","keywrapparams":{"ec":null,"optsdata":null},
 *             "keyunwrapparams":{"dc":DecryptConfig,"annotation":base64(wrapped key)}}
 *   response {"keyunwrapresults":{"optsdata":base64(key options)}}
 * Go encodes []byte as base64; the Rust implementation (serde Vec<u8>) as an array of numbers:
 * both are accepted.
 */
#include "keyproviders/keyproviders.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "util/json.h"

#define RESPONSE_MAX (1u << 20)

int ccp_keyprovider_request(char **out, const char *dc_json, const unsigned char *wrapped, size_t len, ccp_err *e)
{
	json_t *dc = NULL, *req = NULL;
	char *b64 = NULL;
	int r;

	*out = NULL;
	if ((r = ccp_json_parse(&dc, dc_json, strlen(dc_json), RESPONSE_MAX, "decrypt config", CCP_EINVALID, e)))
		return r;
	if ((r = ccp_b64_encode(&b64, wrapped, len))) {
		json_decref(dc);
		return r == CCP_ENOMEM ? ccp_err_oom(e) : ccp_err_set(e, CCP_EINVALID, "wrapped key too large");
	}
	req = json_pack("{s:s, s:{s:n, s:n}, s:{s:o, s:s}}", "op", "keyunwrap", "keywrapparams", "ec", "optsdata",
			"keyunwrapparams", "dc", dc, "annotation", b64);
	free(b64);
	if (!req || !(*out = json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER)))
		r = ccp_err_oom(e);
	json_decref(req);
	return r;
}

int ccp_keyprovider_parse_response(ccp_buf *opts, const void *data, size_t len, ccp_err *e)
{
	const char *what = "keyprovider response";
	json_t *j = NULL, *res = NULL, *v;
	int r;

	if ((r = ccp_json_parse(&j, data, len, RESPONSE_MAX, what, CCP_EDECRYPT, e)))
		return r;
	if (!json_is_object(j)) {
		r = ccp_err_set(e, CCP_EDECRYPT, "%s is not a JSON object", what);
		goto out;
	}
	if ((r = ccp_json_get_object(j, "keyunwrapresults", 1, &res, what, CCP_EDECRYPT, e)))
		goto out;
	v = json_object_get(res, "optsdata");
	opts->max = CCP_KEYPROVIDER_OPTS_MAX;
	if (json_is_string(v)) {
		r = ccp_b64_decode(opts, json_string_value(v), json_string_length(v), 0);
		if (r == 0)
			OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
		else
			r = r == CCP_ENOMEM ? ccp_err_oom(e)
					    : ccp_err_set(e, CCP_EDECRYPT, "%s: optsdata is not valid base64 (or too large)", what);
	} else if (json_is_array(v)) {
		size_t i;
		json_t *b;
		json_array_foreach(v, i, b) {
			json_int_t n = json_integer_value(b);
			unsigned char c = (unsigned char)n;
			if (!json_is_integer(b) || n < 0 || n > 255) {
				r = ccp_err_set(e, CCP_EDECRYPT, "%s: optsdata must hold bytes (0..255)", what);
				break;
			}
			if ((r = ccp_buf_append(opts, &c, 1))) {
				r = r == CCP_ENOMEM ? ccp_err_oom(e) : ccp_err_set(e, CCP_EDECRYPT, "%s: optsdata too large", what);
				break;
			}
		}
	} else {
		r = ccp_err_set(e, CCP_EDECRYPT, "%s: keyunwrapresults.optsdata must be base64 or an array of bytes", what);
	}
	if (r == 0 && opts->len == 0)
		r = ccp_err_set(e, CCP_EDECRYPT, "%s: empty optsdata (the provider has no key for this layer)", what);
out:
	json_decref(j);
	return r;
}
