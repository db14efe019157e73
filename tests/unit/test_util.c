#include <errno.h>

#include "test.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/json.h"

int main(void)
{
	ccp_buf b = CCP_BUF_INIT(8);
	ccp_err e = CCP_ERR_INIT;
	json_t *j = NULL;
	const char *s = NULL;
	uint64_t u = 0;

	/* capped buffer */
	CHECK(ccp_buf_append(&b, "12345678", 8) == 0);
	CHECK(ccp_buf_append(&b, "9", 1) == CCP_EINVALID);
	CHECK(b.len == 8 && strcmp(b.data, "12345678") == 0);
	ccp_buf_free(&b);

	/* error wrapping keeps the code and prefixes context */
	ccp_err_set(&e, CCP_EINTEGRITY, "digest mismatch");
	CHECK(ccp_err_wrap(&e, "layer %d", 2) == CCP_EINTEGRITY);
	CHECK_STR(e.msg, "layer 2: digest mismatch");
	/* strings from outside are escaped where messages are made: no raw control or non-ASCII byte */
	ccp_err_set(&e, CCP_EREGISTRY, "unsupported media type \"%.255s\"", "a\nccpull: forged\x1b[31m\x7f\xc3\xa9\xff");
	CHECK_STR(e.msg, "unsupported media type \"a\\x0accpull: forged\\x1b[31m\\x7f\\xc3\\xa9\\xff\"");
	ccp_err_errno(&e, CCP_ESTORAGE, ENOENT, "open %s", "x\ry");
	CHECK_STR(e.msg, "open x\\x0dy: No such file or directory");
	ccp_err_set(&e, CCP_EINTEGRITY, "inner \t");
	CHECK(ccp_err_wrap(&e, "outer %s", "\n") == CCP_EINTEGRITY);
	CHECK_STR(e.msg, "outer \\x0a: inner \\x09");
	/* idempotent: an escaped message wrapped again is unchanged */
	CHECK(ccp_err_wrap(&e, "again") == CCP_EINTEGRITY);
	CHECK_STR(e.msg, "again: outer \\x0a: inner \\x09");
	{
		/* bounded: a message of escapes fills msg and is cut before an escape, never inside one */
		char big[CCP_ERR_MSG_MAX];
		size_t n;
		memset(big, '\n', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		ccp_err_set(&e, CCP_EREGISTRY, "m%s", big);
		n = strlen(e.msg);
		CHECK(n < sizeof(e.msg) && n > sizeof(e.msg) - 5);
		CHECK((n - 1) % 4 == 0 && strcmp(e.msg + n - 4, "\\x0a") == 0);
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)e.msg[i] < 0x20 || (unsigned char)e.msg[i] >= 0x7f)
				n = 0;
		CHECK(n != 0);
		CHECK(ccp_err_escape(big, 1, "abc") == 0 && big[0] == '\0');
		CHECK(ccp_err_escape(big, 4, "\x01") == 0);
		CHECK(ccp_err_escape(big, 5, "\x01") == 4 && strcmp(big, "\\x01") == 0);
	}

	CHECK(ccp_exit_status(CCP_EINTEGRITY) == 5);
	CHECK(ccp_exit_status(CCP_ENOMEM) == 1);
	CHECK(ccp_exit_status(CCP_ESTORAGE) == 8);
	CHECK(ccp_exit_status(0) == 0);

	/* JSON: duplicate keys refused, caps enforced, typed getters */
	CHECK(ccp_json_parse(&j, "{\"a\":1,\"a\":2}", 13, 100, "doc", CCP_EREGISTRY, &e) == CCP_EREGISTRY);
	CHECK(j == NULL);
	CHECK(ccp_json_parse(&j, "{\"a\":1}", 7, 3, "doc", CCP_EREGISTRY, &e) == CCP_EREGISTRY);
	CHECK(ccp_json_parse(&j, "{\"a\":\"x\",\"n\":-1,\"u\":7}", 22, 100, "doc", CCP_EREGISTRY, &e) == 0);
	CHECK(ccp_json_get_string(j, "a", 1, &s, "doc", CCP_EREGISTRY, &e) == 0 && s && strcmp(s, "x") == 0);
	CHECK(ccp_json_get_string(j, "missing", 1, &s, "doc", CCP_EREGISTRY, &e) == CCP_EREGISTRY);
	CHECK(strstr(e.msg, "missing") != NULL);
	CHECK(ccp_json_get_uint(j, "n", 1, &u, "doc", CCP_EREGISTRY, &e) == CCP_EREGISTRY);
	CHECK(ccp_json_get_uint(j, "u", 1, &u, "doc", CCP_EREGISTRY, &e) == 0 && u == 7);
	CHECK(ccp_json_get_uint(j, "a", 1, &u, "doc", CCP_EREGISTRY, &e) == CCP_EREGISTRY);
	json_decref(j);
	/* strings with NUL bytes never reach the getters: jansson refuses \u0000 without JSON_ALLOW_NUL */
	CHECK(ccp_json_parse(&j, "{\"a\":\"x\\u0000y\"}", 16, 100, "doc", CCP_EREGISTRY, &e) == CCP_EREGISTRY);
	return test_summary();
}
