/* Platform parsing, normalisation (containerd's rules) and selection from an index. */
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "manifest/manifest.h"
#include "util/buf.h"
#include "test.h"

static void parses(const char *s, const char *os, const char *arch, const char *variant)
{
	ccp_platform p;
	ccp_err e = CCP_ERR_INIT;
	int rc = ccp_platform_parse(&p, s, &e);

	CHECK(rc == 0);
	if (rc != 0) {
		fprintf(stderr, "\"%s\": %s\n", s, e.msg);
		return;
	}
	CHECK_STR(p.os, os);
	CHECK_STR(p.architecture, arch);
	CHECK_STR(p.variant, variant);
}

static void refused(const char *s)
{
	ccp_platform p;
	ccp_err e = CCP_ERR_INIT;
	int rc = ccp_platform_parse(&p, s, &e);

	CHECK(rc == CCP_EINVALID);
	if (rc == CCP_EINVALID)
		CHECK(strstr(e.msg, "invalid platform") != NULL);
	else
		fprintf(stderr, "\"%s\" was accepted\n", s ? s : "(null)");
}

static void test_parse(void)
{
	char long_name[100];

	parses("linux/amd64", "linux", "amd64", "");
	parses("linux/x86_64", "linux", "amd64", "");
	parses("linux/x86-64", "linux", "amd64", "");
	parses("linux/amd64/v1", "linux", "amd64", "");
	parses("linux/amd64/v3", "linux", "amd64", "v3");
	parses("LINUX/AMD64", "linux", "amd64", "");
	parses("linux/arm64", "linux", "arm64", "");
	parses("linux/arm64/v8", "linux", "arm64", "");
	parses("linux/arm64/8", "linux", "arm64", "");
	parses("linux/aarch64", "linux", "arm64", "");
	parses("linux/arm64/v9", "linux", "arm64", "v9");
	parses("linux/arm", "linux", "arm", "v7");
	parses("linux/arm/7", "linux", "arm", "v7");
	parses("linux/arm/v6", "linux", "arm", "v6");
	parses("linux/arm/5", "linux", "arm", "v5");
	parses("linux/armhf", "linux", "arm", "v7");
	parses("linux/armel", "linux", "arm", "v6");
	parses("linux/i386", "linux", "386", "");
	parses("linux/i686", "linux", "386", "");
	parses("linux/ppc64le", "linux", "ppc64le", "");
	parses("linux/s390x", "linux", "s390x", "");
	parses("linux/riscv64", "linux", "riscv64", "");
	parses("macos/arm64", "darwin", "arm64", "");

	refused(NULL);
	refused("");
	refused("linux");
	refused("linux/");
	refused("/amd64");
	refused("linux//amd64");
	refused("linux/amd64/");
	refused("linux/arm/v7/x");
	refused("linux/amd 64");
	refused("linux/amd64\n");
	memset(long_name, 'a', sizeof(long_name));
	memcpy(long_name, "linux/", 6);
	long_name[sizeof(long_name) - 1] = '\0';
	refused(long_name);
}

static void test_str_and_host(void)
{
	ccp_platform p, h;
	ccp_err e = CCP_ERR_INIT;
	char buf[200];
	struct utsname u;

	CHECK(ccp_platform_parse(&p, "linux/arm/v6", &e) == 0);
	CHECK_STR(ccp_platform_str(&p, buf, sizeof(buf)), "linux/arm/v6");
	CHECK(ccp_platform_parse(&p, "linux/x86_64", &e) == 0);
	CHECK_STR(ccp_platform_str(&p, buf, sizeof(buf)), "linux/amd64");

	ccp_platform_host(&h);
	CHECK_STR(h.os, "linux");
	CHECK(h.architecture[0] != '\0');
	CHECK(uname(&u) == 0);
	if (strcmp(u.machine, "x86_64") == 0)
		CHECK_STR(h.architecture, "amd64");
	else if (strcmp(u.machine, "aarch64") == 0)
		CHECK_STR(h.architecture, "arm64");

	/* uname-style machine names */
	memset(&p, 0, sizeof(p));
	snprintf(p.os, sizeof(p.os), "linux");
	snprintf(p.architecture, sizeof(p.architecture), "armv7l");
	ccp_platform_normalize(&p);
	CHECK_STR(p.architecture, "arm");
	CHECK_STR(p.variant, "v7");
	snprintf(p.architecture, sizeof(p.architecture), "armv6l");
	p.variant[0] = '\0';
	ccp_platform_normalize(&p);
	CHECK_STR(p.architecture, "arm");
	CHECK_STR(p.variant, "v6");
}

/* Builds an index from "os/arch[/variant]" entries ("-" = no platform, "att" = attestation). */
static int make_index(ccp_index *ix, const char *const *plats, size_t n)
{
	ccp_buf b = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;
	int r = ccp_buf_puts(&b, "{\"schemaVersion\":2,\"mediaType\":\"" CCP_MT_OCI_INDEX "\",\"manifests\":[");

	for (size_t i = 0; i < n && r == 0; i++) {
		char os[64] = "", arch[64] = "", variant[64] = "";
		const char *s = plats[i];
		r = ccp_buf_printf(&b, "%s{\"mediaType\":\"" CCP_MT_OCI_MANIFEST "\",\"size\":1,\"digest\":\"sha256:%064zx\"",
				   i ? "," : "", i);
		if (r || strcmp(s, "-") == 0) {
			r = r ? r : ccp_buf_puts(&b, "}");
			continue;
		}
		if (strcmp(s, "att") == 0) {
			r = ccp_buf_puts(&b, ",\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"},"
					 "\"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\"}}");
			continue;
		}
		{
			const char *a = strchr(s, '/'), *v = a ? strchr(a + 1, '/') : NULL;
			snprintf(os, sizeof(os), "%.*s", (int)(a - s), s);
			snprintf(arch, sizeof(arch), "%.*s", (int)(v ? v - a - 1 : (long)strlen(a + 1)), a + 1);
			if (v)
				snprintf(variant, sizeof(variant), "%s", v + 1);
		}
		r = ccp_buf_printf(&b, ",\"platform\":{\"os\":\"%s\",\"architecture\":\"%s\"%s%s%s}}", os, arch,
				   variant[0] ? ",\"variant\":\"" : "", variant, variant[0] ? "\"" : "");
	}
	if (r == 0)
		r = ccp_buf_puts(&b, "]}");
	if (r == 0)
		r = ccp_index_parse(ix, b.data, b.len, CCP_MT_OCI_INDEX, &e);
	if (r)
		fprintf(stderr, "make_index: %d %s\n", r, e.msg);
	ccp_buf_free(&b);
	return r;
}

/* Selects want from the index; returns the chosen index or -1 (and checks the error). */
static long pick(const char *const *plats, size_t n, const char *want)
{
	ccp_index ix;
	ccp_platform w;
	ccp_err e = CCP_ERR_INIT;
	size_t idx = 9999;
	long out = -1;
	int rc;

	if (make_index(&ix, plats, n) != 0) {
		CHECK(0);
		return -2;
	}
	CHECK(ccp_platform_parse(&w, want, &e) == 0);
	rc = ccp_index_select(&ix, &w, &idx, &e);
	if (rc == 0) {
		CHECK(idx < n);
		out = (long)idx;
	} else {
		CHECK(rc == CCP_EREGISTRY);
		CHECK(strstr(e.msg, "no image for platform") != NULL);
	}
	ccp_index_free(&ix);
	return out;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_select(void)
{
	static const char *const multi[] = { "linux/amd64", "linux/arm/v6", "linux/arm/v7", "linux/arm64/v8",
					     "linux/386", "linux/ppc64le", "att", "-" };
	static const char *const order[] = { "linux/arm/v5", "linux/amd64", "linux/arm64", "linux/amd64" };
	static const char *const arm_plain[] = { "linux/arm/v6", "linux/arm" };
	static const char *const arm_old[] = { "linux/arm/v5", "linux/arm/v6" };
	static const char *const amd_levels[] = { "linux/amd64/v2", "linux/amd64" };
	static const char *const only_x86[] = { "linux/x86_64", "windows/amd64" };
	static const char *const only_att[] = { "att", "-", "unknown/unknown" };

	CHECK(pick(multi, N(multi), "linux/amd64") == 0);
	CHECK(pick(multi, N(multi), "linux/x86_64") == 0);
	CHECK(pick(multi, N(multi), "linux/arm/v6") == 1);
	CHECK(pick(multi, N(multi), "linux/arm/v7") == 2);
	CHECK(pick(multi, N(multi), "linux/arm") == 2);
	/* arm64 "" and v8 are the same platform, either way round */
	CHECK(pick(multi, N(multi), "linux/arm64") == 3);
	CHECK(pick(multi, N(multi), "linux/aarch64") == 3);
	CHECK(pick(order, N(order), "linux/arm64/v8") == 2);
	/* an arm64 v9 host runs v8 images */
	CHECK(pick(multi, N(multi), "linux/arm64/v9") == 3);
	CHECK(pick(multi, N(multi), "linux/386") == 4);
	CHECK(pick(multi, N(multi), "linux/s390x") == -1);
	/* the first match in index order wins */
	CHECK(pick(order, N(order), "linux/amd64") == 1);
	/* an entry "arm" without variant means v7 */
	CHECK(pick(arm_plain, N(arm_plain), "linux/arm/v7") == 1);
	/* exact before compatible: v7 prefers v6 over v5, and v8 prefers v7 */
	CHECK(pick(arm_old, N(arm_old), "linux/arm/v7") == 1);
	CHECK(pick(arm_plain, N(arm_plain), "linux/arm/v8") == 1);
	CHECK(pick(arm_old, N(arm_old), "linux/arm/v5") == 0);
	/* older variants never run newer images */
	CHECK(pick(arm_plain, N(arm_plain), "linux/arm/v5") == -1);
	CHECK(pick(amd_levels, N(amd_levels), "linux/amd64") == 1);
	CHECK(pick(amd_levels, N(amd_levels), "linux/amd64/v3") == 0);
	CHECK(pick(amd_levels, N(amd_levels), "linux/amd64/v2") == 0);
	/* no cross-architecture fallback: arm64 does not take arm, amd64 does not take 386 */
	{
		static const char *const arm32[] = { "linux/arm/v7", "linux/386" };
		CHECK(pick(arm32, N(arm32), "linux/arm64") == -1);
		CHECK(pick(arm32, N(arm32), "linux/amd64") == -1);
	}
	/* index entries are normalised too; the OS must match */
	CHECK(pick(only_x86, N(only_x86), "linux/amd64") == 0);
	CHECK(pick(only_x86, N(only_x86), "windows/amd64") == 1);
	CHECK(pick(only_x86, N(only_x86), "darwin/amd64") == -1);
	/* attestations, entries without platform and unknown/unknown are never picked */
	CHECK(pick(only_att, N(only_att), "unknown/unknown") == -1);
	CHECK(pick(only_att, N(only_att), "linux/amd64") == -1);
}

static void test_select_message(void)
{
	static const char *const plats[] = { "linux/amd64", "linux/arm/v7", "att", "linux/ppc64le" };
	ccp_index ix;
	ccp_platform w;
	ccp_err e = CCP_ERR_INIT;
	size_t idx = 42;

	CHECK(make_index(&ix, plats, N(plats)) == 0);
	CHECK(ccp_platform_parse(&w, "linux/aarch64", &e) == 0);
	CHECK(ccp_index_select(&ix, &w, &idx, &e) == CCP_EREGISTRY);
	CHECK(idx == 42);
	CHECK_STR(e.msg, "no image for platform linux/arm64 in the image index; available: linux/amd64, "
			 "linux/arm/v7, linux/ppc64le");
	ccp_index_free(&ix);

	/* an empty index says so */
	{
		const char *doc = "{\"schemaVersion\":2,\"manifests\":[]}";
		CHECK(ccp_index_parse(&ix, doc, strlen(doc), NULL, &e) == 0);
		CHECK(ccp_index_select(&ix, &w, &idx, &e) == CCP_EREGISTRY);
		CHECK(strstr(e.msg, "available: none") != NULL);
		ccp_index_free(&ix);
	}

	/* a long list of platforms keeps the message bounded */
	{
		static const char *many[200];
		char names[200][40];
		for (int i = 0; i < 200; i++) {
			snprintf(names[i], sizeof(names[i]), "linux/arch%03d/variant-x", i);
			many[i] = names[i];
		}
		CHECK(make_index(&ix, many, 200) == 0);
		CHECK(ccp_index_select(&ix, &w, &idx, &e) == CCP_EREGISTRY);
		CHECK(strstr(e.msg, "linux/arch000/variant-x") != NULL);
		CHECK(strstr(e.msg, "...") != NULL);
		CHECK(strlen(e.msg) < sizeof(e.msg) - 1);
		ccp_index_free(&ix);
	}
}

/* ccp_platform_match: what an image config's platform must be for a wanted one (single-platform pulls). */
static int match(const char *want, const char *os, const char *arch, const char *variant)
{
	ccp_platform w, h;
	ccp_err e = CCP_ERR_INIT;

	memset(&h, 0, sizeof(h));
	snprintf(h.os, sizeof(h.os), "%s", os);
	snprintf(h.architecture, sizeof(h.architecture), "%s", arch);
	snprintf(h.variant, sizeof(h.variant), "%s", variant);
	CHECK(ccp_platform_parse(&w, want, &e) == 0);
	return ccp_platform_match(&w, &h);
}

static void test_match(void)
{
	CHECK(match("linux/amd64", "linux", "amd64", ""));
	CHECK(match("linux/amd64", "linux", "x86_64", ""));   /* configs are normalised too */
	CHECK(match("linux/arm64", "linux", "arm64", "v8"));
	CHECK(match("linux/arm64", "Linux", "aarch64", ""));
	CHECK(match("linux/amd64/v3", "linux", "amd64", "v2")); /* an older variant runs */
	CHECK(match("linux/arm/v7", "linux", "arm", "v6"));
	CHECK(!match("linux/arm64", "linux", "amd64", ""));
	CHECK(!match("linux/amd64", "linux", "arm64", ""));
	CHECK(!match("linux/amd64", "linux", "amd64", "v3"));   /* a newer one does not */
	CHECK(!match("linux/arm/v6", "linux", "arm", "v7"));
	CHECK(!match("linux/amd64", "windows", "amd64", ""));
	CHECK(!match("linux/arm64", "linux", "arm", "v7"));     /* no fallback across architectures */
}

int main(void)
{
	test_parse();
	test_str_and_host();
	test_select();
	test_select_message();
	test_match();
	return test_summary();
}
