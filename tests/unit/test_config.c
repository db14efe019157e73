/* registries.conf (TOML subset) parsing, prefix matching, and auth.json lookup. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config/config.h"
#include "test.h"

static int conf(ccp_registries_conf *c, const char *s, ccp_err *e)
{
	return ccp_registries_conf_parse(c, s, strlen(s), e);
}

static void test_v2(void)
{
	ccp_registries_conf c;
	ccp_err e = CCP_ERR_INIT;
	const ccp_reg_entry *en;
	const char *s =
		"# containers-registries.conf v2\n"
		"unqualified-search-registries = [\"registry.fedoraproject.org\", 'quay.io',\n"
		"  \"docker.io\", # trailing comma and comments in arrays\n"
		"]\n"
		"short-name-mode = \"enforcing\"\n"
		"credential-helpers = [ \"containers-auth.json\" ]\n"
		"\n"
		"[[registry]]\n"
		"prefix = \"example.com/foo\"\n"
		"location = \"internal.example.com/bar/\"   # trailing slash dropped\n"
		"insecure = false\n"
		"blocked = false\n"
		"mirror-by-digest-only = true\n"
		"\n"
		"[[registry.mirror]]\n"
		"location = \"mirror-1.example.com/bar\"\n"
		"insecure = true\n"
		"pull-from-mirror = \"digest-only\"\n"
		"[[registry.mirror]]\n"
		"location = \"mirror-2.example.com\"\n"
		"\n"
		"[[registry]]\n"
		"location = \"localhost:5000\"\n"
		"insecure = true\n"
		"\n"
		"[[ registry ]]\n"
		"\"prefix\" = \"example.com\"\n"
		"blocked = true\n"
		"\n"
		"[[registry]]\n"
		"prefix = \"*.wild.example\"\n"
		"\n"
		"[aliases]\n"
		"\"fedora\" = \"registry.fedoraproject.org/fedora\"\n"
		"\"ubi8/ubi\" = \"registry.access.redhat.com/ubi8/ubi\"\n"
		"[other.table]\n"
		"n = -42\n"
		"u = \"esc \\\"\\u00e9\\U0001F600\\t\"\n"
		"nested = [[1, 2], [\"a\"], []]\n";

	CHECK(conf(&c, s, &e) == 0);
	if (e.code)
		fprintf(stderr, "%s\n", e.msg);
	CHECK(c.n_unqualified == 3);
	if (c.n_unqualified == 3) {
		CHECK_STR(c.unqualified_search[0], "registry.fedoraproject.org");
		CHECK_STR(c.unqualified_search[1], "quay.io");
		CHECK_STR(c.unqualified_search[2], "docker.io");
	}
	CHECK(c.n_entries == 4);
	if (c.n_entries == 4) {
		CHECK_STR(c.entries[0].prefix, "example.com/foo");
		CHECK_STR(c.entries[0].location, "internal.example.com/bar");
		CHECK(c.entries[0].n_mirrors == 2);
		CHECK_STR(c.entries[0].mirrors[0].location, "mirror-1.example.com/bar");
		CHECK(c.entries[0].mirrors[0].insecure == 1);
		CHECK_STR(c.entries[0].mirrors[1].location, "mirror-2.example.com");
		CHECK(c.entries[0].mirrors[1].insecure == 0);
		CHECK_STR(c.entries[1].prefix, "localhost:5000");
		CHECK(c.entries[1].insecure == 1);
		CHECK_STR(c.entries[2].location, "example.com");
		CHECK(c.entries[2].blocked == 1);
		CHECK(c.entries[3].location == NULL);
	}

	/* longest prefix at a path boundary */
	en = ccp_registries_conf_find(&c, "example.com/foo/app:1");
	CHECK(en && strcmp(en->prefix, "example.com/foo") == 0);
	en = ccp_registries_conf_find(&c, "example.com/foo");
	CHECK(en && strcmp(en->prefix, "example.com/foo") == 0);
	en = ccp_registries_conf_find(&c, "example.com/foo@sha256:00");
	CHECK(en && strcmp(en->prefix, "example.com/foo") == 0);
	en = ccp_registries_conf_find(&c, "example.com/foobar/app");
	CHECK(en && strcmp(en->prefix, "example.com") == 0);
	en = ccp_registries_conf_find(&c, "localhost:5000/x");
	CHECK(en && en->insecure);
	CHECK(ccp_registries_conf_find(&c, "localhost:50001/x") == NULL);
	CHECK(ccp_registries_conf_find(&c, "example.community/x") == NULL);
	CHECK(ccp_registries_conf_find(&c, "docker.io/library/busybox") == NULL);
	en = ccp_registries_conf_find(&c, "a.b.wild.example/x/y");
	CHECK(en && strcmp(en->prefix, "*.wild.example") == 0);
	CHECK(ccp_registries_conf_find(&c, "wild.example/x") == NULL);
	CHECK(ccp_registries_conf_find(&c, "x.wild.example.evil/x") == NULL);
	ccp_registries_conf_free(&c);

	/* empty file: no entries */
	CHECK(conf(&c, "", &e) == 0);
	CHECK(c.n_entries == 0 && c.n_unqualified == 0);
	ccp_registries_conf_free(&c);
}

static void test_v1(void)
{
	ccp_registries_conf c;
	ccp_err e = CCP_ERR_INIT;
	const char *s = "[registries.search]\nregistries = ['docker.io']\n"
			"[registries.insecure]\nregistries = ['localhost:5000']\n"
			"[registries.block]\nregistries = ['evil.example']\n";

	CHECK(conf(&c, s, &e) == 0);
	CHECK(c.n_unqualified == 1);
	CHECK(c.n_entries == 2);
	if (c.n_entries == 2) {
		CHECK(c.entries[0].insecure && !c.entries[0].blocked);
		CHECK(c.entries[1].blocked);
		CHECK_STR(c.entries[1].prefix, "evil.example");
	}
	ccp_registries_conf_free(&c);
	CHECK(conf(&c, "[registries.search]\nregistries = ['docker.io']\n[[registry]]\nlocation='x'\n", &e) ==
	      CCP_EINVALID);
	CHECK(strstr(e.msg, "mixes") != NULL);
}

static void bad(const char *s, const char *want)
{
	ccp_registries_conf c;
	ccp_err e = CCP_ERR_INIT;
	int r = conf(&c, s, &e);
	CHECK(r == CCP_EINVALID);
	if (r == CCP_EINVALID && !strstr(e.msg, want))
		fprintf(stderr, "message \"%s\" lacks \"%s\"\n", e.msg, want);
	CHECK(r == CCP_EINVALID && strstr(e.msg, want) != NULL);
	CHECK(c.entries == NULL && c.n_entries == 0);
}

static void test_malformed(void)
{
	char *big;
	ccp_registries_conf c;
	ccp_err e = CCP_ERR_INIT;

	bad("a = 1\nb = \n", "line 2");
	bad("\n\n[[registry]]\nlocation = \"x\nprefix='y'\n", "line 4: unterminated string");
	bad("[[registry]]\nlocation = \"x\"\nlocation = \"y\"\n", "line 3: duplicate key");
	bad("[[registry]]\nlocation = { a = 1 }\n", "line 2: inline tables");
	bad("x = 1.5\n", "line 1: unsupported value");
	bad("x = 1979-05-27\n", "line 1: unsupported value");
	bad("x = \"\"\"multi\"\"\"\n", "multi-line");
	bad("[[registry]]\ninsecure = \"yes\"\nlocation='x'\n", "line 2: \"insecure\" must be a boolean");
	bad("[[registry]]\nlocation = true\n", "\"location\" must be a string");
	bad("unqualified-search-registries = \"docker.io\"\n", "must be an array");
	bad("unqualified-search-registries = [1]\n", "must be a string");
	bad("[registry]\nlocation = 'x'\n", "array of tables");
	bad("[[registry.mirror]]\nlocation = 'x'\n", "before any [[registry]]");
	bad("[[registry]]\nblocked = true\n", "both location and prefix are unset");
	bad("[[registry]]\nlocation = 'https://x.example'\n", "URI schemes");
	bad("[[registry]]\nlocation = 'x'\n[[registry]]\nlocation = 'x/'\n", "more than once");
	bad("[[registry]]\nlocation = 'x'\n[[registry.mirror]]\ninsecure = true\n", "has no location");
	bad("[[registry]]\nprefix = '*.a.example'\nlocation = 'b'\n", "wildcard");
	bad("[[registry]]\nprefix = 'a.*.example'\n", "'*'");
	bad("[a]\n[a]\n", "line 2: table defined more than once");
	bad("[a\n", "line 1: expected ']'");
	bad("[[a]\n", "expected ']]'");
	bad("a = 1 b = 2\n", "line 1: unexpected text");
	bad("a = [1, 2\n", "unterminated array");
	bad("a = [1 2]\n", "expected ','");
	bad("a = \"\\q\"\n", "invalid escape");
	bad("a = \"\\uD800\"\n", "invalid Unicode");
	bad("a = \"\\u12\"\n", "invalid \\u escape");
	bad("a = 99999999999999999999\n", "out of range");
	bad("a = 012\n", "leading zeros");
	bad("a = 1__2\n", "invalid integer");
	bad("= 1\n", "expected a key");
	bad("a 1\n", "expected '='");
	bad("a = \"tab\tok\" \n b = \"bell\a\"\n", "line 2: control character");
	bad("a = [[[[[[[[[[[1]]]]]]]]]]]\n", "nested too deeply");
	CHECK(ccp_registries_conf_parse(&c, "a = 1\0", 6, &e) == CCP_EINVALID);

	big = malloc(1024 * 1024 + 2);
	memset(big, '#', 1024 * 1024 + 2);
	CHECK(ccp_registries_conf_parse(&c, big, 1024 * 1024 + 2, &e) == CCP_EINVALID);
	CHECK(strstr(e.msg, "larger") != NULL);
	free(big);
}

static void test_load(void)
{
	char path[] = "/tmp/ccp_test_confXXXXXX";
	int fd = mkstemp(path);
	const char *s = "[[registry]]\nlocation = \"quay.io\"\n[[registry.mirror]]\nlocation = \"m.example\"\n";
	ccp_registries_conf c;
	ccp_err e = CCP_ERR_INIT;

	CHECK(fd >= 0);
	CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
	close(fd);
	CHECK(ccp_registries_conf_load(&c, path, &e) == 0);
	CHECK(c.n_entries == 1 && c.entries[0].n_mirrors == 1);
	ccp_registries_conf_free(&c);
	unlink(path);
	CHECK(ccp_registries_conf_load(&c, path, &e) == CCP_EINVALID);
	CHECK(strstr(e.msg, path) != NULL);
}

static int lookup(const char *json, const char *host, const char *repo, char **u, char **p, char **t, ccp_err *e)
{
	return ccp_authfile_lookup_data(json, strlen(json), host, repo, u, p, t, e);
}

static void test_authfile(void)
{
	ccp_err e = CCP_ERR_INIT;
	char *u, *p, *t;
	/* dXNlcjpwYXNz = user:pass; b3RoZXI6c2VjcmV0 = other:secret; bnM6cHc6d2l0aDpjb2xvbnM= = ns:pw:with:colons */
	const char *j = "{\"auths\": {"
			"\"reg.example\": {\"auth\": \"dXNlcjpwYXNz\"},"
			"\"reg.example/team\": {\"auth\": \"b3RoZXI6c2VjcmV0\"},"
			"\"reg.example/team/app\": {\"auth\": \"bnM6cHc6d2l0aDpjb2xvbnM=\"},"
			"\"https://index.docker.io/v1/\": {\"auth\": \"b3RoZXI6c2VjcmV0\"},"
			"\"http://legacy.example:5000/v2/\": {\"auth\": \"dXNlcjpwYXNz\"},"
			"\"tok.example\": {\"auth\": \"\", \"identitytoken\": \"refresh-me\"},"
			"\"empty.example\": {}"
			"}, \"credHelpers\": {\"x\": \"y\"}}";

	CHECK(lookup(j, "reg.example", "other/app", &u, &p, &t, &e) == 0);
	CHECK_STR(u, "user");
	CHECK_STR(p, "pass");
	CHECK(t == NULL);
	ccp_secret_free(u);
	ccp_secret_free(p);

	CHECK(lookup(j, "reg.example", "team/other", &u, &p, &t, &e) == 0);
	CHECK_STR(u, "other");
	ccp_secret_free(u);
	ccp_secret_free(p);

	/* most specific wins; the password keeps its colons */
	CHECK(lookup(j, "reg.example", "team/app", &u, &p, &t, &e) == 0);
	CHECK_STR(u, "ns");
	CHECK_STR(p, "pw:with:colons");
	ccp_secret_free(u);
	ccp_secret_free(p);

	/* "team/application" must not match "team/app" */
	CHECK(lookup(j, "reg.example", "team/application", &u, &p, &t, &e) == 0);
	CHECK_STR(u, "other");
	ccp_secret_free(u);
	ccp_secret_free(p);

	/* legacy docker key serves docker.io and its aliases */
	CHECK(lookup(j, "docker.io", "library/busybox", &u, &p, &t, &e) == 0);
	CHECK_STR(u, "other");
	ccp_secret_free(u);
	ccp_secret_free(p);
	CHECK(lookup(j, "registry-1.docker.io", NULL, &u, &p, &t, &e) == 0);
	CHECK_STR(u, "other");
	ccp_secret_free(u);
	ccp_secret_free(p);

	CHECK(lookup(j, "legacy.example:5000", "a", &u, &p, &t, &e) == 0);
	CHECK_STR(u, "user");
	ccp_secret_free(u);
	ccp_secret_free(p);

	CHECK(lookup(j, "tok.example", "a", &u, &p, &t, &e) == 0);
	CHECK(u == NULL && p == NULL);
	CHECK_STR(t, "refresh-me");
	ccp_secret_free(t);

	CHECK(lookup(j, "empty.example", "a", &u, &p, &t, &e) == 0);
	CHECK(u == NULL && p == NULL && t == NULL);
	CHECK(lookup(j, "unknown.example", "a", &u, &p, &t, &e) == 0);
	CHECK(u == NULL && p == NULL && t == NULL);
	CHECK(lookup(j, "reg.example:5000", NULL, &u, &p, &t, &e) == 0);
	CHECK(u == NULL);
	CHECK(lookup("{}", "reg.example", NULL, &u, &p, &t, &e) == 0);
	CHECK(u == NULL);

	/* malformed */
	CHECK(lookup("{\"auths\":{\"h\":{\"auth\":\"dXNlcjpwYXNz=\"}}}", "h", NULL, &u, &p, &t, &e) == CCP_EINVALID);
	CHECK(strstr(e.msg, "base64") != NULL);
	CHECK(lookup("{\"auths\":{\"h\":{\"auth\":\"dXNl cjpw\"}}}", "h", NULL, &u, &p, &t, &e) == CCP_EINVALID);
	CHECK(lookup("{\"auths\":{\"h\":{\"auth\":\"d=Nl\"}}}", "h", NULL, &u, &p, &t, &e) == CCP_EINVALID);
	CHECK(lookup("{\"auths\":{\"h\":{\"auth\":\"dXNlcg==\"}}}", "h", NULL, &u, &p, &t, &e) == CCP_EINVALID);
	CHECK(strstr(e.msg, "user:password") != NULL); /* "user" without a colon */
	CHECK(lookup("{\"auths\":{\"h\":{\"auth\":\"OnBhc3M=\"}}}", "h", NULL, &u, &p, &t, &e) == CCP_EINVALID);
	CHECK(lookup("{\"auths\":{\"h\":{\"auth\":5}}}", "h", NULL, &u, &p, &t, &e) == CCP_EINVALID);
	CHECK(lookup("{\"auths\":{\"h\":\"x\"}}", "h", NULL, &u, &p, &t, &e) == CCP_EINVALID);
	CHECK(lookup("{\"auths\":[]}", "h", NULL, &u, &p, &t, &e) == CCP_EINVALID);
	CHECK(lookup("{\"auths\":{},\"auths\":{}}", "h", NULL, &u, &p, &t, &e) == CCP_EINVALID);
	CHECK(lookup("not json", "h", NULL, &u, &p, &t, &e) == CCP_EINVALID);
	CHECK(u == NULL && p == NULL && t == NULL);

	/* base64 with one padding char: "user:pa" */
	CHECK(lookup("{\"auths\":{\"h\":{\"auth\":\"dXNlcjpwYQ==\"}}}", "h", NULL, &u, &p, &t, &e) == 0);
	CHECK_STR(p, "pa");
	ccp_secret_free(u);
	ccp_secret_free(p);
	CHECK(lookup("{\"auths\":{\"h\":{\"auth\":\"dXNlcjpwYXM=\"}}}", "h", NULL, &u, &p, &t, &e) == 0);
	CHECK_STR(p, "pas");
	ccp_secret_free(u);
	ccp_secret_free(p);

	/* a missing file means no credentials */
	CHECK(ccp_authfile_lookup("/nonexistent/auth.json", "h", NULL, &u, &p, &t, &e) == 0);
	CHECK(u == NULL);
}

int main(void)
{
	test_v2();
	test_v1();
	test_malformed();
	test_load();
	test_authfile();
	return test_summary();
}
