/* RFC 8785 canonical JSON (the bytes a Rekor SET signs), the sigstore-json parser and the cosign payload. */
#include <stdlib.h>
#include <string.h>

#include "signature/sigstore.h"
#include "test.h"

/* Canonicalizes JSON text in; returns a static copy of the result or "(error)". */
static const char *canon(const char *in)
{
	static char out[4096];
	ccp_buf b = CCP_BUF_INIT(1 << 20);
	json_t *j = json_loads(in, JSON_DECODE_ANY, NULL);
	int r = j ? ccp_json_canonicalize(&b, j) : -1;

	snprintf(out, sizeof(out), "%s", r ? "(error)" : b.data);
	json_decref(j);
	ccp_buf_free(&b);
	return out;
}

static void canonical_json(void)
{
	CHECK_STR(canon("{\"b\": 1, \"a\": [true, false, null]}"), "{\"a\":[true,false,null],\"b\":1}");
	CHECK_STR(canon("{\"z\": {\"y\": 1, \"x\": 2}}"), "{\"z\":{\"x\":2,\"y\":1}}");
	/* RFC 8785 section 3.2.2.3 numbers (ECMAScript formatting). */
	CHECK_STR(canon("[1e21, 1e20, 1e-7, 0.000001, 4.50, -0.0, 0.002, 333333333.33333329, 1E30]"),
		  "[1e+21,100000000000000000000,1e-7,0.000001,4.5,0,0.002,333333333.3333333,1e+30]");
	CHECK_STR(canon("[9007199254740993, -42, 1670870899]"), "[9007199254740992,-42,1670870899]");
	CHECK_STR(canon("[5e-324, 1.7976931348623157e308, 1.2345678901234568e20]"),
		  "[5e-324,1.7976931348623157e+308,123456789012345680000]");
	/* Strings: the short escapes, \u00XX for other controls, everything else literal UTF-8. */
	CHECK_STR(canon("\"\\u20ac$\\u000f\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\\b\\f\\r\\t\""),
		  "\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\\b\\f\\r\\t\"");
	/* Keys sort by UTF-16 code units: a surrogate pair (U+1F600) before U+FB33 (RFC 8785 3.2.3). */
	CHECK_STR(canon("{\"\\u20ac\": \"Euro\", \"\\r\": \"CR\", \"\\ufb33\": \"Hebrew\", \"1\": \"One\", "
			"\"\\ud83d\\ude00\": \"Smiley\", \"\\u0080\": \"Control\", \"\\u00f6\": \"Latin\"}"),
		  "{\"\\r\":\"CR\",\"1\":\"One\",\"\xc2\x80\":\"Control\",\"\xc3\xb6\":\"Latin\",\"\xe2\x82\xac\":\"Euro\","
		  "\"\xf0\x9f\x98\x80\":\"Smiley\",\"\xef\xac\xb3\":\"Hebrew\"}");
}

static void sig_parse(void)
{
	ccp_sigstore_sig s;
	ccp_sig_payload p;
	ccp_err e = CCP_ERR_INIT;
	const char *ok = "{\"mimeType\":\"m\",\"payload\":\"aGk=\",\"annotations\":{\"dev.cosignproject.cosign/signature\":\"c2ln\",\"x\":\"y\"}}";

	CHECK(ccp_sigstore_sig_parse(&s, ok, strlen(ok), &e) == 0);
	CHECK_STR(s.mime_type, "m");
	CHECK(s.payload.len == 2 && memcmp(s.payload.data, "hi", 2) == 0);
	CHECK_STR(s.signature, "c2ln");
	CHECK(s.certificate == NULL && s.bundle == NULL);
	ccp_sigstore_sig_free(&s);
	/* Extra keys, bad base64, non-string annotations, duplicates. */
	CHECK(ccp_sigstore_sig_parse(&s, "{\"mimeType\":\"m\",\"payload\":\"aGk=\",\"annotations\":{},\"x\":1}", 59, &e) != 0);
	CHECK(ccp_sigstore_sig_parse(&s, "{\"mimeType\":\"m\",\"payload\":\"aGk\",\"annotations\":{}}", 49, &e) != 0);
	CHECK(ccp_sigstore_sig_parse(&s, "{\"mimeType\":\"m\",\"payload\":\"aGk==\",\"annotations\":{}}", 51, &e) != 0);
	CHECK(ccp_sigstore_sig_parse(&s, "{\"mimeType\":\"m\",\"payload\":\"\",\"annotations\":{\"a\":1}}", 51, &e) != 0);
	CHECK(ccp_sigstore_sig_parse(&s, "{\"mimeType\":\"m\",\"mimeType\":\"m\",\"payload\":\"\",\"annotations\":{}}", 63,
				     &e) != 0);

	/* cosign payloads: optional may be null; the type is cosign's. */
	{
		const char *good = "{\"critical\":{\"identity\":{\"docker-reference\":\"r/x\"},\"image\":{\"docker-manifest-digest\":"
				   "\"sha256:0000000000000000000000000000000000000000000000000000000000000000\"},\"type\":"
				   "\"cosign container image signature\"},\"optional\":null}";
		char buf[1024];
		CHECK(ccp_sigstore_payload_parse(&p, good, strlen(good), &e) == 0);
		CHECK_STR(p.docker_reference, "r/x");
		ccp_sig_payload_free(&p);
		CHECK(ccp_sig_payload_parse(&p, good, strlen(good), &e) != 0);
		snprintf(buf, sizeof(buf), "%s", good);
		memcpy(strstr(buf, "cosign container"), "atomic", 6);
		CHECK(ccp_sigstore_payload_parse(&p, buf, strlen(buf), &e) != 0);
		snprintf(buf, sizeof(buf), "%s", good);
		memcpy(strstr(buf, "null}"), "[]  ", 4);
		CHECK(ccp_sigstore_payload_parse(&p, buf, strlen(buf), &e) != 0);
		snprintf(buf, sizeof(buf), "%s", good);
		memcpy(strstr(buf, "sha256:"), "sha256:../", 10);
		CHECK(ccp_sigstore_payload_parse(&p, buf, strlen(buf), &e) != 0);
	}
}

int main(void)
{
	canonical_json();
	sig_parse();
	return test_summary();
}
