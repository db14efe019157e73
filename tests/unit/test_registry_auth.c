/* WWW-Authenticate challenge and token response parsing, with header shapes real registries send. */
#include "ccpull/ccpull.h"
#include <stdlib.h>
#include <string.h>
#include "registry/registry.h"
#include "test.h"

static int parse(ccp_auth_challenge *c, const char *v)
{
	ccp_err e = CCP_ERR_INIT;
	return ccp_auth_challenge_parse(c, v, strlen(v), &e);
}

static void test_real_headers(void)
{
	ccp_auth_challenge c;

	/* Docker Hub */
	CHECK(parse(&c, "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
			"scope=\"repository:library/busybox:pull\"") == 0);
	CHECK(c.scheme == 2);
	CHECK_STR(c.realm, "https://auth.docker.io/token");
	CHECK_STR(c.service, "registry.docker.io");
	CHECK_STR(c.scope, "repository:library/busybox:pull");
	ccp_auth_challenge_free(&c);

	/* distribution with htpasswd */
	CHECK(parse(&c, "Basic realm=\"Registry Realm\"") == 0);
	CHECK(c.scheme == 1);
	CHECK_STR(c.realm, "Registry Realm");
	CHECK(c.service == NULL && c.scope == NULL);
	ccp_auth_challenge_free(&c);

	/* quay.io: no scope */
	CHECK(parse(&c, "Bearer realm=\"https://quay.io/v2/auth\",service=\"quay.io\"") == 0);
	CHECK(c.scheme == 2);
	CHECK_STR(c.service, "quay.io");
	CHECK(c.scope == NULL);
	ccp_auth_challenge_free(&c);

	/* ghcr.io, with spaces after commas */
	CHECK(parse(&c, "Bearer realm=\"https://ghcr.io/token\", service=\"ghcr.io\", "
			"scope=\"repository:user/image:pull\"") == 0);
	CHECK_STR(c.realm, "https://ghcr.io/token");
	CHECK_STR(c.scope, "repository:user/image:pull");
	ccp_auth_challenge_free(&c);

	/* distribution's token auth with an error parameter, which is ignored */
	CHECK(parse(&c, "Bearer realm=\"https://auth.example.com/token\",service=\"registry\","
			"scope=\"repository:a/b:pull\",error=\"insufficient_scope\"") == 0);
	CHECK_STR(c.service, "registry");
	ccp_auth_challenge_free(&c);

	/* ECR: Basic with extra parameters */
	CHECK(parse(&c, "Basic realm=\"https://123.dkr.ecr.us-east-1.amazonaws.com/\",service=\"ecr.amazonaws.com\"") == 0);
	CHECK(c.scheme == 1);
	CHECK_STR(c.service, "ecr.amazonaws.com");
	ccp_auth_challenge_free(&c);
}

static void test_syntax(void)
{
	ccp_auth_challenge c;

	/* case-insensitive scheme and parameter names, unquoted values (including URLs) */
	CHECK(parse(&c, "BEARER Realm=https://r.example/token?x=1 ,SERVICE=svc") == 0);
	CHECK(c.scheme == 2);
	CHECK_STR(c.realm, "https://r.example/token?x=1");
	CHECK_STR(c.service, "svc");
	ccp_auth_challenge_free(&c);

	/* commas and escaped quotes inside quoted values */
	CHECK(parse(&c, "Bearer realm=\"https://a/token\",service=\"a,b\",scope=\"repository:x:pull,push\"") == 0);
	CHECK_STR(c.service, "a,b");
	CHECK_STR(c.scope, "repository:x:pull,push");
	ccp_auth_challenge_free(&c);
	CHECK(parse(&c, "basic realm=\"a \\\"quoted\\\" realm\"") == 0);
	CHECK(c.scheme == 1);
	CHECK_STR(c.realm, "a \"quoted\" realm");
	ccp_auth_challenge_free(&c);

	/* several challenges: the first one is used */
	CHECK(parse(&c, "Basic realm=\"x\", Bearer realm=\"https://y\"") == 0);
	CHECK(c.scheme == 1);
	CHECK_STR(c.realm, "x");
	ccp_auth_challenge_free(&c);

	/* an unknown scheme parses as "other"; the client reports it */
	CHECK(parse(&c, "Negotiate") == 0);
	CHECK(c.scheme == 0);
	ccp_auth_challenge_free(&c);
	CHECK(parse(&c, "Digest realm=\"x\", nonce=\"y\"") == 0);
	CHECK(c.scheme == 0 && c.realm == NULL);
	ccp_auth_challenge_free(&c);

	/* empty quoted value is a value */
	CHECK(parse(&c, "Basic realm=\"\"") == 0);
	CHECK_STR(c.realm, "");
	ccp_auth_challenge_free(&c);
}

static void test_malformed(void)
{
	ccp_auth_challenge c;
	ccp_err e = CCP_ERR_INIT;
	char big[20000];

	CHECK(parse(&c, "") == CCP_EREGISTRY);
	CHECK(parse(&c, "   ") == CCP_EREGISTRY);
	CHECK(parse(&c, "=realm") == CCP_EREGISTRY);
	CHECK(parse(&c, "Bearer realm=\"https://unterminated") == CCP_EREGISTRY);
	CHECK(parse(&c, "Bearer realm=\"x\\") == CCP_EREGISTRY);
	CHECK(parse(&c, "Bearer") == CCP_EREGISTRY);                    /* no realm */
	CHECK(parse(&c, "Bearer service=\"s\"") == CCP_EREGISTRY);      /* no realm */
	CHECK(parse(&c, "Bearer realm=\"\"") == CCP_EREGISTRY);         /* empty realm */
	CHECK(parse(&c, "Bearer realm=") == CCP_EREGISTRY);
	CHECK(parse(&c, "Bearer realm=\"a\"x") == CCP_EREGISTRY);       /* garbage after the quote */
	CHECK(parse(&c, "Bearer realm=\"a\",realm=\"b\"") == CCP_EREGISTRY);
	CHECK(parse(&c, "Bearer realm=\"a\nb\"") == CCP_EREGISTRY);
	CHECK(parse(&c, "Bearer\" realm=x") == CCP_EREGISTRY);
	CHECK(ccp_auth_challenge_parse(&c, "Basic realm=\"a\0b\"", 16, &e) == CCP_EREGISTRY);
	CHECK(strstr(e.msg, "NUL") != NULL);

	memset(big, 'a', sizeof(big));
	memcpy(big, "Basic realm=", 12);
	CHECK(ccp_auth_challenge_parse(&c, big, sizeof(big), &e) == CCP_EREGISTRY);
	/* a value longer than the parameter cap */
	memset(big, 'a', 6000);
	memcpy(big, "Basic realm=", 12);
	CHECK(ccp_auth_challenge_parse(&c, big, 6000, &e) == CCP_EREGISTRY);
	CHECK(c.realm == NULL);
}

static void test_token(void)
{
	ccp_err e = CCP_ERR_INIT;
	char *tok = NULL;
	long exp = 0;
	const char *s;
	char *big;

	s = "{\"token\":\"abc.def\",\"expires_in\":300,\"issued_at\":\"2024-01-01T00:00:00Z\"}";
	CHECK(ccp_token_response_parse(&tok, &exp, s, strlen(s), &e) == 0);
	CHECK_STR(tok, "abc.def");
	CHECK(exp == 300);
	free(tok);

	/* OAuth2 shape; no expires_in -> the spec's 60 s */
	s = "{\"access_token\":\"xyz\"}";
	CHECK(ccp_token_response_parse(&tok, &exp, s, strlen(s), &e) == 0);
	CHECK_STR(tok, "xyz");
	CHECK(exp == 60);
	free(tok);

	/* both: "token" wins; short expiry raised to 60 */
	s = "{\"token\":\"t1\",\"access_token\":\"t2\",\"expires_in\":5}";
	CHECK(ccp_token_response_parse(&tok, &exp, s, strlen(s), &e) == 0);
	CHECK_STR(tok, "t1");
	CHECK(exp == 60);
	free(tok);

	/* empty "token" falls back to access_token */
	s = "{\"token\":\"\",\"access_token\":\"t2\"}";
	CHECK(ccp_token_response_parse(&tok, &exp, s, strlen(s), &e) == 0);
	CHECK_STR(tok, "t2");
	free(tok);

	tok = (char *)1;
	s = "{\"token\":\"\"}";
	CHECK(ccp_token_response_parse(&tok, &exp, s, strlen(s), &e) == CCP_EREGISTRY);
	CHECK(tok == NULL);
	s = "{}";
	CHECK(ccp_token_response_parse(&tok, &exp, s, strlen(s), &e) == CCP_EREGISTRY);
	s = "[\"token\"]";
	CHECK(ccp_token_response_parse(&tok, &exp, s, strlen(s), &e) == CCP_EREGISTRY);
	s = "{\"token\":\"a\"";
	CHECK(ccp_token_response_parse(&tok, &exp, s, strlen(s), &e) == CCP_EREGISTRY);
	s = "{\"token\":42}";
	CHECK(ccp_token_response_parse(&tok, &exp, s, strlen(s), &e) == CCP_EREGISTRY);
	s = "{\"token\":\"a\",\"token\":\"b\"}";
	CHECK(ccp_token_response_parse(&tok, &exp, s, strlen(s), &e) == CCP_EREGISTRY);
	s = "{\"token\":\"a\\r\\nX-Evil: 1\"}"; /* header injection */
	CHECK(ccp_token_response_parse(&tok, &exp, s, strlen(s), &e) == CCP_EREGISTRY);
	s = "{\"token\":\"a b\"}";
	CHECK(ccp_token_response_parse(&tok, &exp, s, strlen(s), &e) == CCP_EREGISTRY);
	s = "{\"token\":\"a\",\"expires_in\":\"300\"}";
	CHECK(ccp_token_response_parse(&tok, &exp, s, strlen(s), &e) == CCP_EREGISTRY);
	CHECK(tok == NULL);

	/* token longer than 64 KiB */
	big = malloc(70000);
	memcpy(big, "{\"token\":\"", 10);
	memset(big + 10, 'a', 70000 - 12);
	memcpy(big + 70000 - 2, "\"}", 2);
	CHECK(ccp_token_response_parse(&tok, &exp, big, 70000, &e) == CCP_EREGISTRY);
	CHECK(strstr(e.msg, "longer") != NULL);
	free(big);
	/* response larger than 1 MiB */
	big = calloc(1, 1024 * 1024 + 10);
	memset(big, ' ', 1024 * 1024 + 10);
	big[0] = '{';
	big[1024 * 1024 + 9] = '}';
	CHECK(ccp_token_response_parse(&tok, &exp, big, 1024 * 1024 + 10, &e) == CCP_EREGISTRY);
	free(big);
}

static void test_new(void)
{
	ccp_registry *r = NULL;
	ccp_err e = CCP_ERR_INIT;
	ccp_registry_opts o = { .tls_verify = 1 };

	CHECK(ccp_registry_new(&r, "bad host", NULL, "x/y", &o, &e) == CCP_EINVALID);
	CHECK(ccp_registry_new(&r, "h.example", NULL, "X/Y", &o, &e) == CCP_EINVALID);
	CHECK(ccp_registry_new(&r, "h.example", NULL, "a/../b", &o, &e) == CCP_EINVALID);
	CHECK(ccp_registry_new(&r, "h.example/x", NULL, "a", &o, &e) == CCP_EINVALID);
	CHECK(r == NULL);
	o.creds = ":nouser";
	CHECK(ccp_registry_new(&r, "h.example", NULL, "a", &o, &e) == CCP_EINVALID);
	o.creds = "user:pass";
	CHECK(ccp_registry_new(&r, "h.example:5000", NULL, "library/busybox", &o, &e) == 0);
	CHECK(r != NULL);
	/* references that could change the URL path are refused before any I/O */
	if (r) {
		ccp_buf b = CCP_BUF_INIT(0);
		char *mt = NULL, *dg = NULL;
		CHECK(ccp_registry_get_manifest(r, "../../x", 1024, &b, &mt, &dg, &e) == CCP_EINVALID);
		CHECK(ccp_registry_get_manifest(r, "a/b", 1024, &b, &mt, &dg, &e) == CCP_EINVALID);
		CHECK(ccp_registry_get_blob(r, "sha256:ab?x", 1024, &b, &e) == CCP_EINVALID);
		CHECK(ccp_registry_get_blob(r, "latest", 1024, &b, &e) == CCP_EINVALID);
		ccp_buf_free(&b);
	}
	ccp_registry_free(r);
}

int main(void)
{
	CHECK(ccp_init() == 1);
	test_real_headers();
	test_syntax();
	test_malformed();
	test_token();
	test_new();
	CHECK(ccp_shutdown() == 0);
	return test_summary();
}
