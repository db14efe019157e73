/* The keyprovider gRPC transport's framing and one-field messages, the keyprovider answer in both
 * optsdata forms carried over it, and the address forms of a grpc keyprovider entry. */
#include "ccpull/ccpull.h"
#include <stdlib.h>
#include <string.h>

#include "ocicrypt/ocicrypt.h"
#include "test.h"

/* A unary answer body: 5-byte prefix + message bytes. */
static ccp_buf body(const void *msg, size_t len, unsigned char flag)
{
	ccp_buf b = CCP_BUF_INIT(0);
	unsigned char h[5] = { flag, (unsigned char)(len >> 24), (unsigned char)(len >> 16), (unsigned char)(len >> 8),
			       (unsigned char)len };

	ccp_buf_append(&b, h, 5);
	ccp_buf_append(&b, msg, len);
	return b;
}

static void test_frame_request(void)
{
	ccp_buf b = CCP_BUF_INIT(0), big = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;
	char *payload = malloc(300);

	CHECK(ccp_grpc_frame_request(&b, "{}", 2, &e) == 0);
	CHECK(b.len == 9 && memcmp(b.data, "\0\0\0\0\x04\x0a\x02{}", 9) == 0);
	/* A length over 127 takes a two-byte varint. */
	memset(payload, 'x', 300);
	ccp_buf_clear(&b);
	CHECK(ccp_grpc_frame_request(&b, payload, 300, &e) == 0);
	CHECK(b.len == 5 + 3 + 300);
	CHECK(memcmp(b.data, "\0\0\0\x01\x2f\x0a\xac\x02", 8) == 0);
	/* What we frame, we parse back (our encoding is the answer's too). */
	ccp_buf_clear(&big);
	CHECK(ccp_grpc_parse_response(&big, b.data, b.len, &e) == 0);
	CHECK(big.len == 300 && memcmp(big.data, payload, 300) == 0);
	free(payload);
	ccp_buf_free(&b);
	ccp_buf_free(&big);
}

static void test_parse_response(void)
{
	ccp_err e = CCP_ERR_INIT;
	ccp_buf out = CCP_BUF_INIT(0), b;
	/* Unknown fields around field 1 (varint, fixed64, bytes, fixed32) are skipped. */
	const unsigned char skip[] = { 0x10, 0x96, 0x01, 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x22, 0x01, 'z', 0x2d, 1, 2, 3, 4,
				       0x0a, 0x02, 'h', 'i', 0x30, 0x00 };
	/* The last field 1 wins, as protobuf merges. */
	const unsigned char twice[] = { 0x0a, 0x01, 'a', 0x0a, 0x01, 'b' };
	struct {
		const void *m;
		size_t len;
		unsigned char flag;
		const char *why;
	} bad[] = {
		{ "", 0, 0, "empty" },
		{ "\x0a\x02hi", 4, 1, "compressed" },
		{ "\x0a\x05hi", 4, 0, "truncated length-delimited" },
		{ "\x08", 1, 0, "truncated varint" },
		{ "\x09\x01", 2, 0, "truncated fixed" },
		{ "\x08\x01", 2, 0, "field 1 as varint" },
		{ "\x0b", 1, 0, "group" },
		{ "\x00\x01", 2, 0, "field 0" },
		{ "\x0a\xff\xff\xff\xff\x0f", 6, 0, "huge length" },
		{ "\x12\x80\x80\x80\x80\x80\x80\x80\x80\x80\x02", 11, 0, "varint of 11 bytes" },
		{ "\x0a\x00", 2, 0, "empty field" },
	};

	b = body(skip, sizeof(skip), 0);
	CHECK(ccp_grpc_parse_response(&out, b.data, b.len, &e) == 0);
	CHECK(out.len == 2 && memcmp(out.data, "hi", 2) == 0);
	ccp_buf_free(&b);
	ccp_buf_clear(&out);
	b = body(twice, sizeof(twice), 0);
	CHECK(ccp_grpc_parse_response(&out, b.data, b.len, &e) == 0);
	CHECK(out.len == 1 && out.data[0] == 'b');
	ccp_buf_free(&b);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ccp_buf_clear(&out);
		b = body(bad[i].m, bad[i].len, bad[i].flag);
		if (ccp_grpc_parse_response(&out, b.data, b.len, &e) != CCP_EDECRYPT)
			fprintf(stderr, "accepted: %s\n", bad[i].why);
		CHECK(e.code == CCP_EDECRYPT);
		ccp_buf_free(&b);
	}
	/* Framing: short body, a length that disagrees with the body, two messages. */
	ccp_buf_clear(&out);
	CHECK(ccp_grpc_parse_response(&out, "\0\0\0", 3, &e) == CCP_EDECRYPT);
	CHECK(ccp_grpc_parse_response(&out, "\0\0\0\0\x05\x0a\x02hi", 9, &e) == CCP_EDECRYPT);
	CHECK(ccp_grpc_parse_response(&out, "\0\0\0\0\x04\x0a\x02hi\0\0\0\0\x04\x0a\x02hi", 18, &e) == CCP_EDECRYPT);
	CHECK(ccp_grpc_parse_response(&out, "\0\x7f\0\0\0", 5, &e) == CCP_EDECRYPT);
	ccp_buf_free(&out);
}

/* The keyprovider JSON inside the gRPC message, with optsdata as base64 (Go) and as an array (Rust). */
static void test_optsdata_forms(void)
{
	const char *answers[] = { "{\"keyunwrapresults\":{\"optsdata\":\"eyJrIjoxfQ==\"}}",
				  "{\"keyunwrapresults\":{\"optsdata\":[123,34,107,34,58,49,125]}}" };
	ccp_err e = CCP_ERR_INIT;

	for (size_t i = 0; i < 2; i++) {
		ccp_buf framed = CCP_BUF_INIT(0), json = CCP_BUF_INIT(0), opts = CCP_BUF_INIT(0);
		CHECK(ccp_grpc_frame_request(&framed, answers[i], strlen(answers[i]), &e) == 0);
		CHECK(ccp_grpc_parse_response(&json, framed.data, framed.len, &e) == 0);
		CHECK(ccp_keyprovider_parse_response(&opts, json.data, json.len, &e) == 0);
		CHECK(opts.len == 7 && memcmp(opts.data, "{\"k\":1}", 7) == 0);
		ccp_buf_free(&framed);
		ccp_buf_free(&json);
		ccp_buf_free(&opts);
	}
}

static void test_addresses(void)
{
	const char *good[] = { "127.0.0.1:50000", "[::1]:50000", "localhost:1", "dns:///kp.example:443", "unix:/run/kp.sock",
			       "unix:///run/kp.sock" };
	const char *bad[] = { "", "127.0.0.1", "host:1/path", "user@host:1", "host:1?x", "host:1#f", "unix:", "a b:1",
			      "host%20:1" };
	ccp_err e = CCP_ERR_INIT;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ccp_keyprovider *kp = NULL;
		CHECK(ccp_grpc_provider_new(&kp, "kp", good[i], &e) == 0);
		if (kp) {
			CHECK(kp->handles(kp, "provider.kp") && !kp->handles(kp, "provider.other"));
			CHECK(strstr(kp->description, good[i]) != NULL);
			kp->free(kp);
		}
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ccp_keyprovider *kp = NULL;
		CHECK(ccp_grpc_provider_new(&kp, "kp", bad[i], &e) == CCP_EINVALID && kp == NULL);
	}
}

/* Nothing listens: the unwrap fails as "this key does not open it" so other keys are still tried. */
static void test_unreachable(void)
{
	ccp_keyprovider *kp = NULL;
	ccp_err e = CCP_ERR_INIT;
	unsigned char *out = (unsigned char *)"x";
	size_t out_len = 1;
	char err[512] = "";

	CHECK(ccp_grpc_provider_new(&kp, "kp", "unix:/nonexistent/ccpull-test.sock", &e) == 0);
	if (!kp)
		return;
	CHECK(kp->unwrap(kp, "provider.kp", (const unsigned char *)"{}", 2, "{\"Parameters\":{}}", &out, &out_len, err,
			 sizeof(err)) == CCP_EDECRYPT);
	CHECK(out == NULL && out_len == 0);
	CHECK(strstr(err, "gRPC call failed") != NULL);
	kp->free(kp);
}

int main(void)
{
	CHECK(ccp_init() == 1);
	test_frame_request();
	test_parse_response();
	test_optsdata_forms();
	test_addresses();
	test_unreachable();
	CHECK(ccp_shutdown() == 0);
	return test_summary();
}
