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
