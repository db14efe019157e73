/* Docker reference grammar and normalisation. */
#include <stdlib.h>
#include <string.h>

#include "reference/reference.h"
#include "test.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Parses s and checks the normalised parts; tag/digest NULL mean "none". */
static void ok(const char *s, const char *domain, const char *path, const char *tag, const char *digest,
	       const char *full)
{
	ccp_ref r;
	ccp_err e = CCP_ERR_INIT;
	char dg[CCP_DIGEST_STR_MAX];
	int rc = ccp_ref_parse(&r, s, &e);

	if (rc != 0) {
		fprintf(stderr, "parse \"%s\" failed: %s\n", s, e.msg);
		CHECK(rc == 0);
		return;
	}
	CHECK_STR(r.domain, domain);
	CHECK_STR(r.path, path);
	if (tag)
		CHECK_STR(r.tag, tag);
	else
		CHECK(r.tag == NULL);
	CHECK(r.has_digest == (digest != NULL));
	if (digest)
		CHECK_STR(ccp_digest_str(&r.digest, dg), digest);
	if (full) {
		char *str = ccp_ref_string(&r);
		CHECK_STR(str, full);
		/* the normalised string parses back to itself */
		if (str) {
			ccp_ref r2;
			CHECK(ccp_ref_parse(&r2, str, &e) == 0);
			char *str2 = ccp_ref_string(&r2);
			CHECK_STR(str2, str);
			free(str2);
			ccp_ref_free(&r2);
		}
		free(str);
	}
	ccp_ref_free(&r);
}

/* Must be refused with CCP_EINVALID; when msg is given, the message must contain it. */
static void bad(const char *s, const char *msg)
{
	ccp_ref r;
	ccp_err e = CCP_ERR_INIT;
	int rc = ccp_ref_parse(&r, s, &e);

	CHECK(rc == CCP_EINVALID);
	if (rc == CCP_EINVALID) {
		CHECK(e.msg[0] != '\0');
		if (msg && !strstr(e.msg, msg))
			fprintf(stderr, "\"%s\": message \"%s\" lacks \"%s\"\n", s, e.msg, msg);
		CHECK(!msg || strstr(e.msg, msg) != NULL);
	} else {
		fprintf(stderr, "\"%.80s\" was accepted\n", s);
		ccp_ref_free(&r);
	}
}

static void test_valid(void)
{
	ok("busybox", "docker.io", "library/busybox", "latest", NULL, "docker.io/library/busybox:latest");
	ok("library/busybox", "docker.io", "library/busybox", "latest", NULL, NULL);
	ok("docker.io/busybox", "docker.io", "library/busybox", "latest", NULL, NULL);
	ok("index.docker.io/busybox:1.36", "docker.io", "library/busybox", "1.36", NULL,
	   "docker.io/library/busybox:1.36");
	ok("docker.io/library/busybox", "docker.io", "library/busybox", "latest", NULL, NULL);
	ok("user/repo", "docker.io", "user/repo", "latest", NULL, NULL);
	ok("localhost:5000/a/b:t", "localhost:5000", "a/b", "t", NULL, "localhost:5000/a/b:t");
	ok("localhost/x", "localhost", "x", "latest", NULL, NULL);
	ok("[::1]:5000/x", "[::1]:5000", "x", "latest", NULL, "[::1]:5000/x:latest");
	ok("[fe80::1]/x/y", "[fe80::1]", "x/y", "latest", NULL, NULL);
	ok("quay.io/a/b/c:v1.2-rc_3", "quay.io", "a/b/c", "v1.2-rc_3", NULL, NULL);
	ok("registry.example.com:443/team/app", "registry.example.com:443", "team/app", "latest", NULL, NULL);
	ok("Registry.Example.com/x", "Registry.Example.com", "x", "latest", NULL, NULL);
	ok("x@sha256:" HEX64, "docker.io", "library/x", NULL, "sha256:" HEX64,
	   "docker.io/library/x@sha256:" HEX64);
	ok("x:t@sha256:" HEX64, "docker.io", "library/x", "t", "sha256:" HEX64,
	   "docker.io/library/x:t@sha256:" HEX64);
	ok("docker://busybox", "docker.io", "library/busybox", "latest", NULL, NULL);
	ok("a.b-c--d/f", "a.b-c--d", "f", "latest", NULL, NULL);
	ok("a_b.c__d---e", "docker.io", "library/a_b.c__d---e", "latest", NULL, NULL);
	ok("localhost:5000", "docker.io", "library/localhost", "5000", NULL, NULL);
	ok("x:_T", "docker.io", "library/x", "_T", NULL, NULL);
}

static void test_invalid(void)
{
	char buf[CCP_REF_MAX + 16];

	bad("", "empty");
	bad("docker://", "empty");
	bad("BusyBox", "must be lowercase");
	bad("docker.io/Library/busybox", "must be lowercase");
	bad("a//b", NULL);
	bad("a/", NULL);
	bad("/a", NULL);
	bad("busybox:", "tag");
	bad("busybox:-x", "tag");
	bad("busybox:.x", "tag");
	bad("-a", NULL);
	bad("a-", NULL);
	bad("a..b", NULL);
	bad("a___b", NULL);
	bad("a@sha256:abc", "digest");
	bad("a@md5:" HEX64, "algorithm");
	bad("a@sha256:" HEX64 "00", "digest");
	bad("a@sha256:" "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "digest");
	bad("a@", NULL);
	bad("@sha256:" HEX64, NULL);
	bad(HEX64, "image ID");
	bad("a b", NULL);
	bad("localhost:x/a", "registry");
	bad("local_host.com/a", "registry");
	bad("-bad.com/a", "registry");
	bad("[::g]:5000/a", "registry");
	bad("[]:5000/a", "registry");
	bad("host:/a", "registry");
	bad("a:t:u", "tag");

	/* tags: 128 characters is the maximum */
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "x:", 2);
	buf[2 + 128] = '\0';
	ok(buf, "docker.io", "library/x", buf + 2, NULL, NULL);
	buf[2 + 128] = 'a';
	buf[2 + 129] = '\0';
	bad(buf, "tag");

	/* name (domain/path after normalisation) is capped at 255 characters */
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "example.com/", 12);
	buf[255] = '\0';
	ok(buf, "example.com", buf + 12, "latest", NULL, NULL);
	buf[255] = 'a';
	buf[256] = '\0';
	bad(buf, "longer than 255");
	/* docker.io/library/ counts too */
	memset(buf, 'a', sizeof(buf));
	buf[255 - 18 + 1] = '\0';
	bad(buf, "longer than 255");

	/* the whole string is capped at CCP_REF_MAX */
	memset(buf, 'a', sizeof(buf));
	buf[CCP_REF_MAX + 1] = '\0';
	bad(buf, "longer than");
}

static void test_registry_host(void)
{
	ccp_ref r;
	ccp_err e = CCP_ERR_INIT;
	char *repo;

	CHECK(ccp_ref_parse(&r, "busybox", &e) == 0);
	CHECK_STR(ccp_ref_registry_host(&r), "registry-1.docker.io");
	repo = ccp_ref_repository(&r);
	CHECK_STR(repo, "docker.io/library/busybox");
	free(repo);
	ccp_ref_free(&r);

	CHECK(ccp_ref_parse(&r, "localhost:5000/a/b@sha256:" HEX64, &e) == 0);
	CHECK_STR(ccp_ref_registry_host(&r), "localhost:5000");
	repo = ccp_ref_repository(&r);
	CHECK_STR(repo, "localhost:5000/a/b");
	free(repo);
	ccp_ref_free(&r);

	/* free on a zeroed/freed ref is harmless */
	ccp_ref_free(&r);
	ccp_ref_free(NULL);
}

/* The grammar pieces the policy's remapIdentity prefixes are checked with (one grammar for both). */
static void test_grammar(void)
{
	static const char *domains_ok[] = { "docker.io", "localhost:5000", "a", "a-b.c9", "[::1]:5000", "[fe80::1]",
					    "EXAMPLE.com" };
	static const char *domains_bad[] = { "", "-a.com", "a-.com", "a..b", "a.com:", "a.com:5x", "[]", "[::1",
					     "[g::1]", "a_b.com", "a.com/" };
	static const char *paths_ok[] = { "a", "a/b", "a.b", "a_b", "a__b", "a---b", "x9/y0/z" };
	static const char *paths_bad[] = { "", "A", "a/", "/a", "a//b", "a___b", "a.", "_a", "a.-b", "a:b" };

	for (size_t i = 0; i < sizeof(domains_ok) / sizeof(*domains_ok); i++)
		CHECK(ccp_ref_domain_ok(domains_ok[i], strlen(domains_ok[i])) == 1);
	for (size_t i = 0; i < sizeof(domains_bad) / sizeof(*domains_bad); i++)
		CHECK(ccp_ref_domain_ok(domains_bad[i], strlen(domains_bad[i])) == 0);
	for (size_t i = 0; i < sizeof(paths_ok) / sizeof(*paths_ok); i++)
		CHECK(ccp_ref_path_ok(paths_ok[i], strlen(paths_ok[i])) == 1);
	for (size_t i = 0; i < sizeof(paths_bad) / sizeof(*paths_bad); i++)
		CHECK(ccp_ref_path_ok(paths_bad[i], strlen(paths_bad[i])) == 0);
	/* n bounds the match: the prefix "a.com" of "a.com/x" is a domain */
	CHECK(ccp_ref_domain_ok("a.com/x", 5) == 1);
}

int main(void)
{
	test_valid();
	test_invalid();
	test_registry_host();
	test_grammar();
	return test_summary();
}
