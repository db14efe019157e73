/* Resource URIs (path, file://, kbs:///), the offline resources file, the bounded resource cache and the
 * kbs:// keys of a policy. */
#include "ccpull/ccpull.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/resource.h"
#include "keyproviders/kbs/kbs.h"
#include "policy/policy.h"
#include "reference/reference.h"
#include "test.h"

static char tmpdir[] = "/tmp/ccpull-test-resource.XXXXXX";

static void write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(s, f);
		fclose(f);
	}
}

static int fetches;

/* A source holding one resource, default/key/one = "SECRET". */
static int fake_fetch(void *payload, const char *uri, ccp_buf *out, ccp_err *e)
{
	char path[CCP_RESOURCE_PATH_MAX];

	(void)payload;
	fetches++;
	if (ccp_resource_kbs_path(path, uri, e))
		return CCP_EINVALID;
	if (strcmp(path, "default/key/one") != 0)
		return ccp_err_set(e, CCP_EDECRYPT, "resource %s: not found", path);
	return ccp_buf_puts(out, "SECRET");
}

static void test_uri(void)
{
	ccp_resource_src src = { fake_fetch, NULL }, none = { NULL, NULL };
	ccp_buf b = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;
	char path[CCP_RESOURCE_PATH_MAX], file[300], uri[320];

	CHECK(ccp_resource_kbs_path(path, "kbs:///a/b/c", &e) == 0);
	CHECK_STR(path, "a/b/c");
	CHECK(ccp_resource_kbs_path(path, "kbs://kbs.example:8080/repo/t-1/tag_2.x", &e) == 0);
	CHECK_STR(path, "repo/t-1/tag_2.x");
	CHECK(ccp_resource_kbs_path(path, "/a/b/c", &e) == 0);
	CHECK(ccp_resource_kbs_path(path, "kbs:///a/b", &e) == CCP_EINVALID);
	CHECK(ccp_resource_kbs_path(path, "kbs:///a/b/c/d", &e) == CCP_EINVALID);
	CHECK(ccp_resource_kbs_path(path, "kbs:///a/../c", &e) == CCP_EINVALID);
	CHECK(ccp_resource_kbs_path(path, "kbs:///a/b/c?x=1", &e) == CCP_EINVALID);
	CHECK(ccp_resource_kbs_path(path, "kbs:///a//c", &e) == CCP_EINVALID);
	CHECK(ccp_resource_kbs_path(path, "kbs:a/b/c", &e) == CCP_EINVALID);

	/* kbs:// through the source; without one, the message names the option and the two ways */
	CHECK(ccp_resource_read(&b, "kbs:///default/key/one", 0, &src, "--authfile", &e) == 0);
	CHECK_STR(b.data, "SECRET");
	ccp_buf_free_secure(&b);
	CHECK(ccp_resource_read(&b, "kbs:///default/key/one", 0, &none, "--authfile", &e) == CCP_EINVALID);
	CHECK(strstr(e.msg, "--authfile") && strstr(e.msg, "--kbs URL") && strstr(e.msg, "--kbs-resources FILE"));
	CHECK(ccp_resource_read(&b, "kbs:///default/key/one", 0, NULL, "--policy", &e) == CCP_EINVALID);
	CHECK(ccp_resource_read(&b, "kbs:///default/key/two", 0, &src, "--authfile", &e) == CCP_EDECRYPT);
	CHECK(strstr(e.msg, "default/key/two") != NULL);
	CHECK(b.data == NULL);
	CHECK(ccp_resource_read(&b, "kbs:///default/key", 0, &src, "--authfile", &e) == CCP_EINVALID);
	CHECK(strstr(e.msg, "--authfile") != NULL);
	/* a resource over the cap is refused */
	CHECK(ccp_resource_read(&b, "kbs:///default/key/one", 3, &src, "keyPath", &e) != 0);
	CHECK(b.data == NULL);

	/* paths and file:// */
	snprintf(file, sizeof(file), "%s/f.txt", tmpdir);
	write_file(file, "local");
	CHECK(ccp_resource_read(&b, file, 0, &none, "--authfile", &e) == 0);
	CHECK_STR(b.data, "local");
	ccp_buf_free_secure(&b);
	snprintf(uri, sizeof(uri), "file://%s", file);
	CHECK(ccp_resource_read(&b, uri, 0, NULL, "--authfile", &e) == 0);
	CHECK_STR(b.data, "local");
	ccp_buf_free_secure(&b);
	CHECK(ccp_resource_read(&b, "file://relative", 0, NULL, "--authfile", &e) == CCP_EINVALID);
	CHECK(ccp_resource_read(&b, "https://example.com/x", 0, NULL, "--authfile", &e) == CCP_EINVALID);
	CHECK(strstr(e.msg, "unsupported URI scheme") != NULL);
	CHECK(ccp_resource_read(&b, "/nonexistent/ccpull/x", 0, NULL, "--authfile", &e) == CCP_EINVALID);
	CHECK(strstr(e.msg, "--authfile") && strstr(e.msg, "/nonexistent/ccpull/x"));
	CHECK(ccp_resource_read(&b, file, 3, NULL, "--authfile", &e) == CCP_EINVALID);
}

static void test_offline(void)
{
	ccp_offline_resources o;
	const ccp_offline_entry *en;
	ccp_err e = CCP_ERR_INIT;
	const char *doc = "{\"default/security-policy/test\": \"eyJkZWZhdWx0IjogW119\", \"/default/k/empty\": \"\","
			  " \"kbs:///other/a/b\": \"AAEC\"}";

	CHECK(ccp_offline_resources_parse(&o, doc, strlen(doc), "offline", &e) == 0);
	CHECK(o.n == 3);
	CHECK((en = ccp_offline_resources_find(&o, "default/security-policy/test")) != NULL);
	CHECK(en && en->data.len == 15 && memcmp(en->data.data, "{\"default\": []}", 15) == 0);
	CHECK((en = ccp_offline_resources_find(&o, "default/k/empty")) != NULL && en->data.len == 0);
	CHECK((en = ccp_offline_resources_find(&o, "other/a/b")) != NULL && en->data.len == 3 &&
	      memcmp(en->data.data, "\0\1\2", 3) == 0);
	CHECK(ccp_offline_resources_find(&o, "default/security-policy/none") == NULL);
	ccp_offline_resources_free(&o);
	CHECK(o.n == 0 && o.v == NULL);

#define BAD(s, what)                                                                         \
	do {                                                                                 \
		CHECK(ccp_offline_resources_parse(&o, s, strlen(s), "offline", &e) == CCP_EINVALID); \
		CHECK(strstr(e.msg, what) != NULL);                                          \
		CHECK(o.n == 0 && o.v == NULL);                                              \
	} while (0)
	BAD("[]", "expected an object");
	BAD("{\"a/b/c\": \"AA==\", \"a/b/c\": \"AA==\"}", "duplicate");
	BAD("{\"a/b/c\": \"AA==\", \"/a/b/c\": \"AA==\"}", "listed twice");
	BAD("{\"a/b\": \"AA==\"}", "not a resource path");
	BAD("{\"a/../c\": \"AA==\"}", "not a resource path");
	BAD("{\"a/b/c\": 1}", "base64 string");
	BAD("{\"a/b/c\": \"AA=\"}", "not valid base64");
	BAD("{\"a/b/c\": \"A A=\"}", "not valid base64");
	BAD("{\"a/b/c\": \"AA\\n==\"}", "not valid base64");
	BAD("{\"a/b/c\": \"AA==\",", "not valid JSON");
#undef BAD
}

static int64_t fake_now;
static int64_t fake_clock(void)
{
	return fake_now;
}

static void test_cache(void)
{
	ccp_resource_cache c;
	ccp_buf b = CCP_BUF_INIT(0);

	fake_now = 1000;
	CHECK(ccp_resource_cache_init(&c, 3, 10, 60, fake_clock) == 0);
	ccp_resource_cache_put(&c, "a", "1234", 4);
	ccp_resource_cache_put(&c, "b", "5678", 4);
	CHECK(ccp_resource_cache_count(&c) == 2 && c.bytes == 8);
	CHECK(ccp_resource_cache_get(&c, "a", &b) == 1);
	CHECK(b.len == 4 && memcmp(b.data, "1234", 4) == 0);
	ccp_buf_free_secure(&b);
	CHECK(ccp_resource_cache_get(&c, "z", &b) == 0 && b.data == NULL);

	/* the byte bound evicts the least recently used entry ("b": "a" was just read) */
	ccp_resource_cache_put(&c, "c", "abcd", 4);
	CHECK(ccp_resource_cache_count(&c) == 2 && c.bytes == 8);
	CHECK(ccp_resource_cache_get(&c, "b", &b) == 0);
	CHECK(ccp_resource_cache_get(&c, "a", &b) == 1);
	ccp_buf_free_secure(&b);
	/* larger than the whole cache: not kept, nothing evicted */
	ccp_resource_cache_put(&c, "big", "0123456789x", 11);
	CHECK(ccp_resource_cache_count(&c) == 2 && ccp_resource_cache_get(&c, "big", &b) == 0);
	/* the entry bound */
	ccp_resource_cache_put(&c, "d", "1", 1);
	ccp_resource_cache_put(&c, "e", "2", 1);
	CHECK(ccp_resource_cache_count(&c) == 3 && c.bytes <= 10);
	/* replacing a key keeps one entry */
	ccp_resource_cache_put(&c, "e", "22", 2);
	CHECK(ccp_resource_cache_get(&c, "e", &b) == 1 && b.len == 2);
	ccp_buf_free_secure(&b);

	/* the TTL: entries expire 60 clock units after they were stored */
	fake_now = 1059;
	CHECK(ccp_resource_cache_get(&c, "e", &b) == 1);
	ccp_buf_free_secure(&b);
	ccp_resource_cache_put(&c, "f", "3", 1);
	fake_now = 1060;
	CHECK(ccp_resource_cache_get(&c, "e", &b) == 0);
	CHECK(ccp_resource_cache_get(&c, "f", &b) == 1);
	ccp_buf_free_secure(&b);
	CHECK(ccp_resource_cache_count(&c) == 1 && c.bytes == 1);
	fake_now = 2000;
	CHECK(ccp_resource_cache_get(&c, "f", &b) == 0);
	CHECK(ccp_resource_cache_count(&c) == 0 && c.bytes == 0);

	ccp_resource_cache_put(&c, "g", "4", 1);
	ccp_resource_cache_clear(&c);
	CHECK(ccp_resource_cache_count(&c) == 0 && c.bytes == 0);
	ccp_resource_cache_free(&c);
}

/* ccp_kbs_fetch with an offline file and no KBS (the CoCo KEKs take this path too) */
static void test_kbs_offline(void)
{
	ccp_kbs_config kc = { 0 };
	ccp_buf b = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;
	char file[300];

	snprintf(file, sizeof(file), "%s/offline.json", tmpdir);
	write_file(file, "{\"default/key/one\": \"U0VDUkVU\"}");
	kc.offline = file;
	CHECK(ccp_kbs_fetch(&b, &kc, "kbs:///default/key/one", &e) == 0);
	CHECK(b.len == 6 && memcmp(b.data, "SECRET", 6) == 0);
	ccp_buf_free_secure(&b);
	CHECK(ccp_kbs_fetch(&b, &kc, "/default/key/one", &e) == 0);
	ccp_buf_free_secure(&b);
	CHECK(ccp_kbs_fetch(&b, &kc, "kbs:///default/key/two", &e) == CCP_EDECRYPT);
	CHECK(strstr(e.msg, "default/key/two") && strstr(e.msg, file));
	kc.offline = NULL;
	CHECK(ccp_kbs_fetch(&b, &kc, "kbs:///default/key/one", &e) == CCP_EINVALID);
	CHECK(strstr(e.msg, "--kbs-resources") != NULL);
	write_file(file, "{\"default/key/one\": \"not base64\"}");
	kc.offline = file;
	CHECK(ccp_kbs_fetch(&b, &kc, "kbs:///default/key/one", &e) == CCP_EINVALID);
	unlink(file);
	{
		int rsa = -1;
		CHECK(ccp_kbs_key_type(&rsa, NULL, &e) == 0 && rsa == 0);
		CHECK(ccp_kbs_key_type(&rsa, "rsa", &e) == 0 && rsa == 1);
		CHECK(ccp_kbs_key_type(&rsa, "ec", &e) == 0 && rsa == 0);
		CHECK(ccp_kbs_key_type(&rsa, "dsa", &e) == CCP_EINVALID);
	}
}

/* The kbs:// keys of the requirements that apply are fetched once; other scopes are left alone. */
static void test_policy_keys(void)
{
	const char *doc =
		"{\"default\": [{\"type\": \"reject\"}], \"transports\": {\"docker\": {"
		"\"example.com/app\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"kbs:///default/key/one\"},"
		" {\"type\": \"sigstoreSigned\", \"keyPath\": \"kbs:///default/key/one\","
		"  \"signedIdentity\": {\"type\": \"matchRepository\"}}],"
		"\"example.com/other\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"kbs:///default/key/missing\"}]"
		"}}}";
	ccp_resource_src src = { fake_fetch, NULL }, none = { NULL, NULL };
	ccp_policy p;
	ccp_ref ref;
	ccp_err e = CCP_ERR_INIT;
	const ccp_pr_list *l = NULL;
	const char *scope;

	CHECK(ccp_policy_parse(&p, doc, strlen(doc), "test", &e) == 0);
	CHECK(ccp_ref_parse(&ref, "example.com/app:1", &e) == 0);
	fetches = 0;
	CHECK(ccp_policy_fetch_resources(&p, &ref, &src, &e) == 0);
	CHECK(fetches == 2);
	CHECK(ccp_policy_requirements_for(&p, &ref, &l, &scope, &e) == 0 && l && l->n == 2);
	if (l && l->n == 2) {
		CHECK(l->v[0].key_blobs && l->v[0].key_blobs[0].len == 6);
		CHECK(l->v[1].sigstore && l->v[1].sigstore->keys[0].data.len == 6);
	}
	/* fetched once */
	CHECK(ccp_policy_fetch_resources(&p, &ref, &src, &e) == 0 && fetches == 2);
	ccp_ref_free(&ref);
	CHECK(ccp_ref_parse(&ref, "example.com/other:1", &e) == 0);
	CHECK(ccp_policy_fetch_resources(&p, &ref, &src, &e) == CCP_EDECRYPT);
	CHECK(strstr(e.msg, "default/key/missing") && strstr(e.msg, "example.com/other"));
	CHECK(ccp_policy_fetch_resources(&p, &ref, &none, &e) == CCP_EINVALID);
	CHECK(strstr(e.msg, "keyPath") && strstr(e.msg, "--kbs URL"));
	ccp_ref_free(&ref);
	ccp_policy_free(&p);
}

int main(void)
{
	CHECK(ccp_init() == 1);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_uri();
	test_offline();
	test_cache();
	test_kbs_offline();
	test_policy_keys();
	{
		char f[300];
		snprintf(f, sizeof(f), "%s/f.txt", tmpdir);
		unlink(f);
		rmdir(tmpdir);
	}
	CHECK(ccp_shutdown() == 0);
	return test_summary();
}
