/* Policy parsing, scope lookup and signedIdentity matching (containers/image's tables). */
#include "ccpull/ccpull.h"
#include <stdlib.h>
#include <string.h>

#include "config/registries_d.h"
#include "policy/policy.h"
#include "signature/signature.h"
#include "test.h"

#define FULL_RHEL "registry.access.redhat.com/rhel7/rhel:7.2.3"
#define UNTAGGED_RHEL "registry.access.redhat.com/rhel7/rhel"
#define DS "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
/* containers/image uses uppercase hex here, which today's digest validation (and ours) refuses. */
#define DS_OTHER "@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

typedef struct pair {
	const char *a, *b;
	int result;
} pair;

/* Symmetric exact-match table (policy_reference_match_test.go prmExactMatchTestTable). */
static const pair exact_table[] = {
	{ "busybox:latest", "busybox:latest", 1 },
	{ FULL_RHEL, FULL_RHEL, 1 },
	{ "busybox" DS, "busybox" DS, 1 },
	{ "library/busybox:latest", "busybox:latest", 1 },
	{ "docker.io/library/busybox:latest", "busybox:latest", 1 },
	{ "library/busybox" DS, "busybox" DS, 1 },
	{ "busybox:latest", "busybox:notlatest", 0 },
	{ "busybox:latest", "notbusybox:latest", 0 },
	{ "busybox:latest", "hostname/library/busybox:notlatest", 0 },
	{ "hostname/library/busybox:latest", "busybox:notlatest", 0 },
	{ "busybox:latest", FULL_RHEL, 0 },
	{ "busybox" DS, "notbusybox" DS, 0 },
	{ "busybox:latest", "busybox" DS, 0 },
	{ "busybox" DS, "busybox" DS_OTHER, 0 },
	{ "busybox", "busybox:latest", 0 },
	{ "busybox", "busybox" DS, 0 },
	{ "busybox", "busybox", 0 },
	{ "busybox:latest" DS, "busybox:latest" DS, 1 },
	{ "busybox:latest" DS, "busybox:latest" DS_OTHER, 0 },
	{ "busybox:latest" DS, "busybox:notlatest" DS, 0 },
	{ "busybox:latest" DS, "busybox" DS, 0 },
	{ "busybox:latest" DS, "busybox:latest", 0 },
	{ "UPPERCASE_IS_INVALID_IN_DOCKER_REFERENCES", "busybox:latest", 0 },
	{ "", "UPPERCASE_IS_INVALID_IN_DOCKER_REFERENCES", 0 },
	{ "INVALID", "INVALID", 0 },
};

/* Symmetric repository-match table (prmRepositoryMatchTestTable). */
static const pair repo_table[] = {
	{ "busybox:latest", "busybox:latest", 1 },
	{ FULL_RHEL, FULL_RHEL, 1 },
	{ "busybox" DS, "busybox" DS, 1 },
	{ "library/busybox:latest", "busybox:latest", 1 },
	{ "docker.io/library/busybox:latest", "busybox:latest", 1 },
	{ "library/busybox" DS, "busybox" DS, 1 },
	{ "busybox:latest", "busybox:notlatest", 1 },
	{ FULL_RHEL "tagsuffix", FULL_RHEL, 1 },
	{ "library/busybox:latest", "busybox:notlatest", 1 },
	{ "busybox:latest", "library/busybox:notlatest", 1 },
	{ "docker.io/library/busybox:notlatest", "busybox:latest", 1 },
	{ "busybox:notlatest", "docker.io/library/busybox:latest", 1 },
	{ "busybox:latest", "busybox" DS, 1 },
	{ "busybox" DS, "busybox" DS_OTHER, 1 },
	{ "busybox", "busybox:notlatest", 1 },
	{ FULL_RHEL, UNTAGGED_RHEL, 1 },
	{ "busybox", "busybox" DS, 1 },
	{ "library/busybox", "busybox", 1 },
	{ "docker.io/library/busybox", "busybox", 1 },
	{ "busybox:latest", "notbusybox:latest", 0 },
	{ "hostname/library/busybox:latest", "busybox:notlatest", 0 },
	{ "busybox:latest", FULL_RHEL, 0 },
	{ "busybox" DS, "notbusybox" DS, 0 },
	{ "busybox:latest" DS, "busybox:latest" DS, 1 },
	{ "busybox:latest" DS, "busybox:latest" DS_OTHER, 1 },
	{ "busybox:latest" DS, "busybox:notlatest" DS, 1 },
	{ "busybox:latest" DS, "busybox" DS, 1 },
	{ "busybox:latest" DS, "busybox:latest", 1 },
	{ "UPPERCASE_IS_INVALID_IN_DOCKER_REFERENCES", "busybox:latest", 0 },
	{ "", "UPPERCASE_IS_INVALID_IN_DOCKER_REFERENCES", 0 },
	{ "INVALID", "INVALID", 0 },
};

/* matchRepoDigestOrExact, asymmetric cases (image, signature). */
static const pair rdoe_table[] = {
	{ "busybox:latest", "busybox:notlatest", 0 },
	{ FULL_RHEL "tagsuffix", FULL_RHEL, 0 },
	{ "library/busybox:latest", "busybox:notlatest", 0 },
	{ "busybox:latest", "library/busybox:notlatest", 0 },
	{ "docker.io/library/busybox:notlatest", "busybox:latest", 0 },
	{ "busybox:notlatest", "docker.io/library/busybox:latest", 0 },
	{ "busybox", "busybox:latest", 0 },
	{ "busybox:latest", "busybox", 0 },
	{ "busybox", "busybox" DS, 0 },
	{ "busybox" DS, "busybox", 0 },
	{ FULL_RHEL, UNTAGGED_RHEL, 0 },
	{ "busybox", "busybox", 0 },
	{ "busybox:latest", "busybox" DS, 0 },
	{ "busybox" DS, "busybox:latest", 1 },
	{ "busybox" DS, "busybox" DS_OTHER, 1 },
	{ "busybox:latest" DS, "busybox:latest", 0 },
	{ "busybox:latest" DS, "busybox:notlatest", 0 },
	{ "busybox:latest", "busybox:latest" DS, 0 },
	{ "busybox:latest" DS, "busybox:latest" DS_OTHER, 0 },
	{ "busybox:latest" DS, "busybox:notlatest" DS_OTHER, 0 },
};

/*
 * The image side of the tables is a parsed reference: one that does not parse never reaches matching,
 * and a bare name is what the image's own reference would carry (no default tag). These go through
 * exactReference/exactRepository, which take the value as given.
 */
static int match_image(ccp_prm_type t, const char *image, const char *sig)
{
	ccp_prm m = { t, NULL, NULL };
	return ccp_prm_matches(&m, image, sig);
}

static int match_exact_value(ccp_prm_type t, const char *value, const char *sig)
{
	ccp_prm m = { t, (char *)value, NULL };
	return ccp_prm_matches(&m, "docker.io/library/unused:latest", sig);
}

static void test_identity_tables(void)
{
	for (size_t i = 0; i < sizeof(exact_table) / sizeof(exact_table[0]); i++) {
		const pair *p = &exact_table[i];
		CHECK(match_exact_value(CCP_PRM_EXACT_REFERENCE, p->a, p->b) == p->result);
		CHECK(match_exact_value(CCP_PRM_EXACT_REFERENCE, p->b, p->a) == p->result);
		CHECK(match_image(CCP_PRM_MATCH_EXACT, p->a, p->b) == p->result);
		CHECK(match_image(CCP_PRM_MATCH_EXACT, p->b, p->a) == p->result);
		if (p->result) {
			CHECK(match_image(CCP_PRM_MATCH_REPO_DIGEST_OR_EXACT, p->a, p->b) == 1);
			CHECK(match_image(CCP_PRM_MATCH_REPO_DIGEST_OR_EXACT, p->b, p->a) == 1);
		}
	}
	for (size_t i = 0; i < sizeof(repo_table) / sizeof(repo_table[0]); i++) {
		const pair *p = &repo_table[i];
		CHECK(match_exact_value(CCP_PRM_EXACT_REPOSITORY, p->a, p->b) == p->result);
		CHECK(match_exact_value(CCP_PRM_EXACT_REPOSITORY, p->b, p->a) == p->result);
		CHECK(match_image(CCP_PRM_MATCH_REPOSITORY, p->a, p->b) == p->result);
		CHECK(match_image(CCP_PRM_MATCH_REPOSITORY, p->b, p->a) == p->result);
		if (!p->result) {
			CHECK(match_image(CCP_PRM_MATCH_REPO_DIGEST_OR_EXACT, p->a, p->b) == 0);
			CHECK(match_image(CCP_PRM_MATCH_REPO_DIGEST_OR_EXACT, p->b, p->a) == 0);
		}
	}
	for (size_t i = 0; i < sizeof(rdoe_table) / sizeof(rdoe_table[0]); i++) {
		const pair *p = &rdoe_table[i];
		int got = match_image(CCP_PRM_MATCH_REPO_DIGEST_OR_EXACT, p->a, p->b);
		if (got != p->result)
			fprintf(stderr, "matchRepoDigestOrExact %s vs %s: %d\n", p->a, p->b, got);
		CHECK(got == p->result);
	}
}

static void test_remap(void)
{
	ccp_prm m = { CCP_PRM_REMAP_IDENTITY, "docker.io/library", "not-docker-signed.example/ns" };

	CHECK(ccp_prm_matches(&m, "docker.io/library/busybox:latest", "not-docker-signed.example/ns/busybox:latest"));
	CHECK(!ccp_prm_matches(&m, "docker.io/library/busybox:latest", "busybox:latest"));
	/* Not under the prefix: plain matchRepoDigestOrExact. */
	CHECK(ccp_prm_matches(&m, "quay.io/ns/busybox:latest", "quay.io/ns/busybox:latest"));
	/* The prefix must end at a component boundary. */
	m.a = "docker.io/lib";
	CHECK(!ccp_prm_matches(&m, "docker.io/library/busybox:latest", "not-docker-signed.example/nsrary/busybox:latest"));
	/* The remapped name must be fully qualified: "ns/busybox" is not. */
	m.a = "docker.io/library";
	m.b = "ns";
	CHECK(!ccp_prm_matches(&m, "docker.io/library/busybox:latest", "ns/busybox:latest"));
	CHECK(!ccp_prm_matches(&m, "docker.io/library/busybox:latest", "docker.io/ns/busybox:latest"));
}

static void test_scopes(void)
{
	static const struct {
		const char *ref;
		const char *want[8];
	} cases[] = {
		{ "example.com/ns/repo:t", { "example.com/ns/repo:t", "example.com/ns/repo", "example.com/ns",
					     "example.com", "*.com" } },
		{ "localhost/ns/repo:t", { "localhost/ns/repo:t", "localhost/ns/repo", "localhost/ns", "localhost" } },
		{ "busybox", { "docker.io/library/busybox:latest", "docker.io/library/busybox", "docker.io/library",
			       "docker.io", "*.io" } },
		{ "yet.another.example.com:8443/ns/repo:t",
		  { "yet.another.example.com:8443/ns/repo:t", "yet.another.example.com:8443/ns/repo",
		    "yet.another.example.com:8443/ns", "yet.another.example.com:8443", "*.another.example.com",
		    "*.example.com", "*.com" } },
		{ "example.com/repo" DS, { "example.com/repo" DS, "example.com/repo", "example.com", "*.com" } },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ccp_ref ref;
		ccp_err e = CCP_ERR_INIT;
		char **v = NULL;
		size_t n = 0, k;
		CHECK(ccp_ref_parse(&ref, cases[i].ref, &e) == 0);
		CHECK(ccp_policy_scopes(&ref, &v, &n, &e) == 0);
		for (k = 0; k < 8 && cases[i].want[k]; k++)
			CHECK_STR(k < n ? v[k] : NULL, cases[i].want[k]);
		CHECK(n == k);
		ccp_policy_strv_free(v, n);
		ccp_ref_free(&ref);
	}
}

static const char *scope_for(const char *policy, const char *image)
{
	static char out[256];
	ccp_policy p;
	ccp_ref ref;
	const ccp_pr_list *l;
	const char *scope = NULL;
	ccp_err e = CCP_ERR_INIT;

	if (ccp_policy_parse(&p, policy, strlen(policy), "test", &e)) {
		fprintf(stderr, "%s\n", e.msg);
		return "parse error";
	}
	CHECK(ccp_ref_parse(&ref, image, &e) == 0);
	CHECK(ccp_policy_requirements_for(&p, &ref, &l, &scope, &e) == 0);
	snprintf(out, sizeof(out), "%s", scope ? scope : "default");
	ccp_ref_free(&ref);
	ccp_policy_free(&p);
	return out;
}

static void test_scope_choice(void)
{
	const char *pol = "{\"default\":[{\"type\":\"reject\"}],\"transports\":{\"docker\":{"
			  "\"example.com\":[{\"type\":\"reject\"}],"
			  "\"example.com/ns\":[{\"type\":\"reject\"}],"
			  "\"example.com/ns/repo:v1\":[{\"type\":\"reject\"}],"
			  "\"*.example.com\":[{\"type\":\"reject\"}],"
			  "\"\":[{\"type\":\"insecureAcceptAnything\"}]},"
			  "\"dir\":{\"/a/b\":[{\"type\":\"reject\"}]},"
			  "\"unknown\":{\"whatever\":[{\"type\":\"reject\"}]}}}";

	CHECK_STR(scope_for(pol, "example.com/ns/repo:v1"), "example.com/ns/repo:v1");
	CHECK_STR(scope_for(pol, "example.com/ns/repo:v2"), "example.com/ns");
	CHECK_STR(scope_for(pol, "example.com/other:v2"), "example.com");
	CHECK_STR(scope_for(pol, "a.example.com/other:v2"), "*.example.com");
	CHECK_STR(scope_for(pol, "example.org/x"), "");
	CHECK_STR(scope_for("{\"default\":[{\"type\":\"reject\"}]}", "example.org/x"), "default");
}

static int parse_fails(const char *json, const char *needle)
{
	ccp_policy p;
	ccp_err e = CCP_ERR_INIT;
	int r = ccp_policy_parse(&p, json, strlen(json), "test", &e);

	if (r == 0) {
		ccp_policy_free(&p);
		fprintf(stderr, "accepted: %s\n", json);
		return 0;
	}
	if (r != CCP_EINVALID || (needle && !strstr(e.msg, needle))) {
		fprintf(stderr, "%s -> %d %s\n", json, r, e.msg);
		return 0;
	}
	return 1;
}

static int parse_ok(const char *json)
{
	ccp_policy p;
	ccp_err e = CCP_ERR_INIT;
	int r = ccp_policy_parse(&p, json, strlen(json), "test", &e);

	if (r)
		fprintf(stderr, "%s -> %s\n", json, e.msg);
	ccp_policy_free(&p);
	return r == 0;
}

#define SB(x) "{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\"" x "}]}"

static void test_parse(void)
{
	CHECK(parse_ok("{\"default\":[{\"type\":\"insecureAcceptAnything\"}]}"));
	CHECK(parse_ok(SB(",\"keyPath\":\"/k\"")));
	CHECK(parse_ok(SB(",\"keyPaths\":[\"/k\",\"/l\"]")));
	CHECK(parse_ok(SB(",\"keyData\":\"bm9uc2Vuc2U=\"")));
	CHECK(parse_ok(SB(",\"keyPath\":\"/k\",\"signedIdentity\":{\"type\":\"remapIdentity\",\"prefix\":\"example.com\","
			  "\"signedPrefix\":\"example.com:80/ns1/repo.with.dots-dashes_underscores\"}")));
	CHECK(parse_ok("{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"X509Certificates\",\"keyPath\":\"/k\"}]}"));
	CHECK(parse_ok("{\"default\":[{\"type\":\"sigstoreSigned\",\"keyPath\":\"/k\"}]}"));
	CHECK(parse_ok("{\"default\":[{\"type\":\"signedBaseLayer\",\"baseLayerIdentity\":{\"type\":\"matchExact\"}}]}"));

	CHECK(parse_fails("{}", "Default policy is missing"));
	CHECK(parse_fails("{\"default\":null}", "Default policy is missing"));
	CHECK(parse_fails("{\"default\":[]}", "must not be empty"));
	CHECK(parse_fails("{\"default\":[{\"type\":\"reject\"}],\"other\":1}", "Unknown key \"other\""));
	CHECK(parse_fails("{\"default\":[{\"type\":\"reject\"}],\"default\":[{\"type\":\"reject\"}]}", "default"));
	CHECK(parse_fails("{\"default\":[{\"type\":\"reject\"}]} x", NULL));
	CHECK(parse_fails("{\"default\":[{\"type\":\"reject\",\"x\":1}]}", "Unknown key \"x\""));
	CHECK(parse_fails("{\"default\":[{\"type\":\"nope\"}]}", "Unknown policy requirement type"));
	CHECK(parse_fails("{\"default\":[{}]}", "Unknown policy requirement type"));
	CHECK(parse_fails("{\"default\":[{\"type\":1}]}", "type"));
	CHECK(parse_fails("{\"default\":[{\"type\":\"reject\"}],\"transports\":{\"docker\":{\"x\":[]}}}",
			  "must not be empty"));
	CHECK(parse_fails("{\"default\":[{\"type\":\"reject\"}],\"transports\":{\"dir\":{\"relative\":"
			  "[{\"type\":\"reject\"}]}}}", "Unknown key \"relative\""));
	CHECK(parse_fails(SB(""), "none of them present"));
	CHECK(parse_fails(SB(",\"keyPath\":\"/k\",\"keyData\":\"bm9uc2Vuc2U=\""), "more than one present"));
	CHECK(parse_fails(SB(",\"keyData\":\"not base64!\""), "keyData"));
	CHECK(parse_fails(SB(",\"keyPath\":\"/k\",\"signedIdentity\":null"), "Unknown policy reference match type"));
	CHECK(parse_fails(SB(",\"keyPath\":\"/k\",\"signedIdentity\":{\"type\":\"matchExact\",\"x\":1}"), "Unknown key"));
	CHECK(parse_fails(SB(",\"keyPath\":\"/k\",\"signedIdentity\":{\"type\":\"exactReference\","
			     "\"dockerReference\":\"busybox\"}"), "neither a tag nor digest"));
	CHECK(parse_fails(SB(",\"keyPath\":\"/k\",\"signedIdentity\":{\"type\":\"exactRepository\"}"), "missing"));
	CHECK(parse_fails(SB(",\"keyPath\":\"/k\",\"signedIdentity\":{\"type\":\"remapIdentity\",\"prefix\":"
			     "\"example.com/\",\"signedPrefix\":\"example.com\"}"), "not valid"));
	CHECK(parse_fails(SB(",\"keyPath\":\"/k\",\"signedIdentity\":{\"type\":\"remapIdentity\",\"prefix\":"
			     "\"example.com/UPPERCASEISINVALID\",\"signedPrefix\":\"example.com\"}"), "not valid"));
	CHECK(parse_fails(SB(",\"keyPath\":\"/k\",\"signedIdentity\":{\"type\":\"remapIdentity\",\"prefix\":"
			     "\"repo_with_underscores\",\"signedPrefix\":\"example.com\"}"), "not valid"));
	CHECK(parse_fails("{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"bad\",\"keyPath\":\"/k\"}]}",
			  "keyType"));
	CHECK(parse_fails("{\"default\":[{\"type\":\"signedBy\",\"keyPath\":\"/k\"}]}", "invalid keyType"));
	CHECK(parse_fails("{\"default\":[{\"type\":\"sigstoreSigned\"}]}", "exactly one of"));
	CHECK(parse_fails("{\"default\":[{\"type\":\"sigstoreSigned\",\"keyPaths\":[]}]}", "contains no entries"));
	CHECK(parse_fails("{\"default\":[{\"type\":\"sigstoreSigned\",\"fulcio\":{\"caPath\":\"/c\","
			  "\"oidcIssuer\":\"i\",\"subjectEmail\":\"e\"}}]}", "rekor"));
	CHECK(parse_fails("{\"default\":[{\"type\":\"signedBaseLayer\"}]}", "baseLayerIdentity"));
}

/* A broken policy says where (line, column, element) and what, in one readable sentence. */
static void test_parse_error_location(void)
{
	static const char syntax[] = "{\n  \"default\": [{\"type\": \"reject\"}\n";
	static const char type[] = "{\n  \"default\": [\n    {\"type\": \"reject\"},\n    {\"type\": \"acceptAll\"}\n  ]\n}\n";
	static const char scope[] = "{\"default\": [{\"type\": \"reject\"}],\n \"transports\": {\"docker\": {\"a.io\": [\n"
				    "  {\"type\": \"reject\"}, {\"type\": \"signedBy\", \"keyType\": \"GPGKeys\"}]}}}";
	ccp_policy p;
	ccp_err e = CCP_ERR_INIT;

	CHECK(ccp_policy_parse(&p, syntax, strlen(syntax), "/etc/p.json", &e) == CCP_EINVALID);
	CHECK(strstr(e.msg, "invalid policy /etc/p.json, line 3 column 0: not valid JSON: ") == e.msg);
	ccp_err_clear(&e);
	CHECK(ccp_policy_parse(&p, type, strlen(type), "/etc/p.json", &e) == CCP_EINVALID);
	CHECK_STR(e.msg, "invalid policy /etc/p.json, line 4 column 5 (default[1]): "
			 "Unknown policy requirement type \"acceptAll\"");
	ccp_err_clear(&e);
	CHECK(ccp_policy_parse(&p, scope, strlen(scope), "p.json", &e) == CCP_EINVALID);
	CHECK(strstr(e.msg, "invalid policy p.json, line 3 column 23 (transports.docker[\"a.io\"][1]): ") == e.msg);
	ccp_err_clear(&e);
}

static void test_payload(void)
{
	static const char good[] = "{\"critical\":{\"type\":\"atomic container signature\",\"image\":{"
				   "\"docker-manifest-digest\":\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef"
				   "0123456789abcdef\"},\"identity\":{\"docker-reference\":\"busybox:latest\"}},"
				   "\"optional\":{\"creator\":\"c\",\"timestamp\":1}}";
	static const char *const bad[] = {
		"{\"critical\":{\"type\":\"atomic container signature\",\"image\":{\"docker-manifest-digest\":"
		"\"sha256:../..\"},\"identity\":{\"docker-reference\":\"busybox\"}},\"optional\":{}}",
		"{\"critical\":{\"type\":\"other\",\"image\":{\"docker-manifest-digest\":\"sha256:0123456789abcdef"
		"0123456789abcdef0123456789abcdef0123456789abcdef\"},\"identity\":{\"docker-reference\":\"b\"}},"
		"\"optional\":{}}",
		"{\"critical\":{\"type\":\"atomic container signature\",\"image\":{\"docker-manifest-digest\":"
		"\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},\"identity\":{"
		"\"docker-reference\":\"b\"}}}",
		"{\"critical\":{\"type\":\"atomic container signature\",\"image\":{\"docker-manifest-digest\":"
		"\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},\"identity\":{"
		"\"docker-reference\":\"b\"},\"x\":1},\"optional\":{}}",
		"{\"critical\":{\"type\":\"atomic container signature\",\"image\":{\"docker-manifest-digest\":"
		"\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},\"identity\":{"
		"\"docker-reference\":\"b\"}},\"optional\":{\"timestamp\":0.5}}",
		"{\"critical\":{\"type\":\"atomic container signature\",\"image\":{\"docker-manifest-digest\":"
		"\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},\"identity\":{"
		"\"docker-reference\":\"b\"}},\"optional\":{\"creator\":1}}",
		"{\"critical\":{\"type\":\"atomic container signature\",\"image\":{\"docker-manifest-digest\":"
		"\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"},\"identity\":{"
		"\"docker-reference\":\"b\"}},\"optional\":null}",
	};
	ccp_sig_payload p;
	ccp_err e = CCP_ERR_INIT;

	CHECK(ccp_sig_payload_parse(&p, good, strlen(good), &e) == 0);
	CHECK_STR(p.docker_reference, "busybox:latest");
	ccp_sig_payload_free(&p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = ccp_sig_payload_parse(&p, bad[i], strlen(bad[i]), &e);
		if (r == 0)
			fprintf(stderr, "payload %zu accepted\n", i);
		CHECK(r == CCP_EPOLICY);
		ccp_sig_payload_free(&p);
	}
}

static void test_registries_d(void)
{
	static const char y1[] = "default-docker:\n  sigstore: file:///default\n"
				 "docker:\n  example.com:\n    lookaside: https://ex/sigs\n"
				 "  example.com/ns/repo:\n    lookaside-staging: file:///staging\n"
				 "  other.com:\n    unknown-key: 1\n    sigstore: http://o\n";
	static const char y2[] = "docker:\n  example.com:\n    lookaside: https://dup\n";
	ccp_registries_d c = { 0 };
	ccp_err e = CCP_ERR_INIT;
	char *s1[] = { "example.com/ns/repo:v1", "example.com/ns/repo", "example.com/ns", "example.com", "*.com" };
	char *s2[] = { "other.com/x:1", "other.com/x", "other.com", "*.com" };
	char *s3[] = { "nowhere.org/x:1" };

	CHECK(ccp_registries_d_parse(&c, y1, strlen(y1), "y1", &e) == 0);
	/* The most specific scope has only a staging URL: reading falls through to example.com. */
	CHECK_STR(ccp_registries_d_lookaside(&c, s1, 5), "https://ex/sigs");
	CHECK_STR(ccp_registries_d_lookaside(&c, s2, 4), "http://o");
	CHECK_STR(ccp_registries_d_lookaside(&c, s3, 1), "file:///default");
	CHECK(ccp_registries_d_parse(&c, y2, strlen(y2), "y2", &e) == CCP_EINVALID);
	ccp_registries_d_free(&c);
	CHECK(ccp_registries_d_parse(&c, "a: [", 4, "bad", &e) == CCP_EINVALID);
	ccp_registries_d_free(&c);
	CHECK(ccp_registries_d_parse(&c, "docker:\n  a:\n    lookaside: x\n  a:\n    lookaside: y\n", 46, "dup", &e)
	      == CCP_EINVALID);
	ccp_registries_d_free(&c);
	CHECK(ccp_registries_d_parse(&c, "", 0, "empty", &e) == 0);
	CHECK_STR(ccp_registries_d_lookaside(&c, s3, 1), CCP_LOOKASIDE_DEFAULT);
	ccp_registries_d_free(&c);
}

static void test_classify(void)
{
	const unsigned char *d;
	size_t n;
	ccp_sig_kind k;
	ccp_err e = CCP_ERR_INIT;

	CHECK(ccp_sig_classify("\xa3\x01", 2, &k, &d, &n, &e) == 0 && k == CCP_SIG_SIMPLE && n == 2);
	CHECK(ccp_sig_classify("\0simple-signing\nX", 17, &k, &d, &n, &e) == 0 && k == CCP_SIG_SIMPLE && n == 1);
	CHECK(ccp_sig_classify("\0sigstore-json\n{}", 17, &k, &d, &n, &e) == 0 && k == CCP_SIG_SIGSTORE && n == 2);
	CHECK(ccp_sig_classify("{}", 2, &k, &d, &n, &e) == CCP_EPOLICY);
	CHECK(ccp_sig_classify("", 0, &k, &d, &n, &e) == CCP_EPOLICY);
}

int main(void)
{
	CHECK(ccp_init() == 1);
	test_identity_tables();
	test_remap();
	test_scopes();
	test_scope_choice();
	test_parse();
	test_parse_error_location();
	test_payload();
	test_registries_d();
	test_classify();
	CHECK(ccp_shutdown() == 0);
	return test_summary();
}
