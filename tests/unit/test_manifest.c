/* Manifests, indexes, image configs and layer media types: valid, malformed and hostile documents. */
#include <stdlib.h>
#include <string.h>

#include "manifest/manifest.h"
#include "util/buf.h"
#include "test.h"

#define HA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HB "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HC "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

#define CFG_OCI "{\"mediaType\":\"" CCP_MT_OCI_CONFIG "\",\"size\":7023,\"digest\":\"sha256:" HA "\"}"
#define CFG_DOCKER "{\"mediaType\":\"" CCP_MT_DOCKER_CONFIG "\",\"size\":7023,\"digest\":\"sha256:" HA "\"}"
#define LAYER_GZ(h, n) \
	"{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"size\":" #n ",\"digest\":\"sha256:" h "\"}"

#define OCI_MANIFEST                                                                           \
	"{\"schemaVersion\":2,\"mediaType\":\"" CCP_MT_OCI_MANIFEST "\",\"config\":" CFG_OCI \
	",\"layers\":[" LAYER_GZ(HB, 32654) "," LAYER_GZ(HC, 16724) "]}"
#define OCI_MANIFEST_NOMT \
	"{\"schemaVersion\":2,\"config\":" CFG_OCI ",\"layers\":[" LAYER_GZ(HB, 1) "]}"
#define DOCKER_MANIFEST                                                                                   \
	"{\"schemaVersion\":2,\"mediaType\":\"" CCP_MT_DOCKER_MANIFEST "\",\"config\":" CFG_DOCKER          \
	",\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":5,"     \
	"\"digest\":\"sha512:" HA HA "\"},{\"mediaType\":\"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\"," \
	"\"size\":6,\"digest\":\"sha256:" HC "\",\"urls\":[\"https://example.com/l\"]}]}"
#define ENTRY(h, plat) \
	"{\"mediaType\":\"" CCP_MT_OCI_MANIFEST "\",\"size\":527,\"digest\":\"sha256:" h "\"" plat "}"
#define OCI_INDEX                                                                                  \
	"{\"schemaVersion\":2,\"mediaType\":\"" CCP_MT_OCI_INDEX "\",\"manifests\":["                 \
	ENTRY(HA, ",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}") ","                   \
	ENTRY(HB, ",\"platform\":{\"os\":\"Linux\",\"architecture\":\"aarch64\",\"variant\":\"v8\"," \
		  "\"os.version\":\"x\",\"os.features\":[\"y\"]}") ","                                  \
	ENTRY(HC, "") "]}"

static int manifest_rc(const char *doc, const char *ct, const char *want_msg)
{
	ccp_manifest m;
	ccp_err e = CCP_ERR_INIT;
	int rc = ccp_manifest_parse(&m, doc, strlen(doc), ct, &e);

	if (rc == 0) {
		ccp_manifest_free(&m);
	} else {
		CHECK(e.msg[0] != '\0');
		if (want_msg && !strstr(e.msg, want_msg))
			fprintf(stderr, "message \"%s\" lacks \"%s\"\n", e.msg, want_msg);
		CHECK(!want_msg || strstr(e.msg, want_msg) != NULL);
	}
	return rc;
}

static int index_rc(const char *doc, const char *ct, const char *want_msg)
{
	ccp_index ix;
	ccp_err e = CCP_ERR_INIT;
	int rc = ccp_index_parse(&ix, doc, strlen(doc), ct, &e);

	if (rc == 0) {
		ccp_index_free(&ix);
	} else {
		CHECK(e.msg[0] != '\0');
		if (want_msg && !strstr(e.msg, want_msg))
			fprintf(stderr, "message \"%s\" lacks \"%s\"\n", e.msg, want_msg);
		CHECK(!want_msg || strstr(e.msg, want_msg) != NULL);
	}
	return rc;
}

static ccp_manifest_kind detect(const char *ct, const char *doc, int *rc)
{
	ccp_manifest_kind k;
	ccp_err e = CCP_ERR_INIT;
	*rc = ccp_manifest_detect(&k, ct, doc, strlen(doc), &e);
	return k;
}

static void test_oci_manifest(void)
{
	ccp_manifest m;
	ccp_err e = CCP_ERR_INIT;
	char dg[CCP_DIGEST_STR_MAX];

	CHECK(ccp_manifest_parse(&m, OCI_MANIFEST, strlen(OCI_MANIFEST), CCP_MT_OCI_MANIFEST, &e) == 0);
	CHECK(m.kind == CCP_KIND_OCI_MANIFEST);
	CHECK_STR(m.config.media_type, CCP_MT_OCI_CONFIG);
	CHECK_STR(ccp_digest_str(&m.config.digest, dg), "sha256:" HA);
	CHECK(m.config.size == 7023);
	CHECK(m.n_layers == 2);
	if (m.n_layers == 2) {
		CHECK_STR(ccp_digest_str(&m.layers[0].digest, dg), "sha256:" HB);
		CHECK(m.layers[0].size == 32654);
		CHECK_STR(ccp_digest_str(&m.layers[1].digest, dg), "sha256:" HC);
		CHECK(m.layers[1].size == 16724);
		CHECK(m.layers[1].has_urls == 0);
	}
	CHECK(ccp_manifest_is_image(&m) == 1);
	CHECK(ccp_manifest_check_image(&m, &e) == 0);
	ccp_manifest_free(&m);
	ccp_manifest_free(&m); /* idempotent */

	/* the Content-Type may carry parameters and any case */
	CHECK(manifest_rc(OCI_MANIFEST, "Application/VND.oci.image.manifest.v1+json ; charset=utf-8", NULL) == 0);
	/* generic Content-Types defer to the document */
	CHECK(manifest_rc(OCI_MANIFEST, NULL, NULL) == 0);
	CHECK(manifest_rc(OCI_MANIFEST, "application/json", NULL) == 0);
	CHECK(manifest_rc(OCI_MANIFEST, "text/plain", NULL) == 0);
	CHECK(manifest_rc(OCI_MANIFEST, "application/octet-stream", NULL) == 0);
	/* no mediaType in the document: the Content-Type or the shape decides */
	CHECK(manifest_rc(OCI_MANIFEST_NOMT, CCP_MT_OCI_MANIFEST, NULL) == 0);
	CHECK(manifest_rc(OCI_MANIFEST_NOMT, NULL, NULL) == 0);
}

static void test_docker_manifest(void)
{
	ccp_manifest m;
	ccp_err e = CCP_ERR_INIT;
	char dg[CCP_DIGEST_STR_MAX];

	CHECK(ccp_manifest_parse(&m, DOCKER_MANIFEST, strlen(DOCKER_MANIFEST), CCP_MT_DOCKER_MANIFEST, &e) == 0);
	CHECK(m.kind == CCP_KIND_DOCKER_MANIFEST);
	CHECK(m.n_layers == 2);
	if (m.n_layers == 2) {
		CHECK_STR(ccp_digest_str(&m.layers[0].digest, dg), "sha512:" HA HA);
		CHECK(m.layers[1].has_urls == 1);
		CHECK_STR(m.layers[1].media_type, "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip");
	}
	CHECK(ccp_manifest_is_image(&m) == 1);
	ccp_manifest_free(&m);

	/* a document without mediaType whose config is a Docker config sniffs as Docker schema2 */
	{
		const char *doc = "{\"schemaVersion\":2,\"config\":" CFG_DOCKER ",\"layers\":[]}";
		int rc;
		CHECK(detect(NULL, doc, &rc) == CCP_KIND_DOCKER_MANIFEST && rc == 0);
		CHECK(ccp_manifest_parse(&m, doc, strlen(doc), "application/json", &e) == 0);
		CHECK(m.kind == CCP_KIND_DOCKER_MANIFEST && m.n_layers == 0);
		ccp_manifest_free(&m);
	}
}

static void test_detect(void)
{
	int rc;

	CHECK(detect(CCP_MT_OCI_MANIFEST, OCI_MANIFEST, &rc) == CCP_KIND_OCI_MANIFEST && rc == 0);
	CHECK(detect(NULL, OCI_INDEX, &rc) == CCP_KIND_OCI_INDEX && rc == 0);
	CHECK(detect("text/plain", DOCKER_MANIFEST, &rc) == CCP_KIND_DOCKER_MANIFEST && rc == 0);
	/* sniffing an index without mediaType */
	CHECK(detect(NULL, "{\"schemaVersion\":2,\"manifests\":[]}", &rc) == CCP_KIND_OCI_INDEX && rc == 0);
	/* an unknown (non-generic) Content-Type also defers to the document */
	CHECK(detect("text/html", OCI_MANIFEST, &rc) == CCP_KIND_OCI_MANIFEST && rc == 0);
	/* contradiction between Content-Type and document */
	detect(CCP_MT_DOCKER_MANIFEST, OCI_MANIFEST, &rc);
	CHECK(rc == CCP_EREGISTRY);
	detect(CCP_MT_OCI_INDEX, OCI_MANIFEST, &rc);
	CHECK(rc == CCP_EREGISTRY);
	/* unknown declared media type with a generic Content-Type */
	detect(NULL, "{\"schemaVersion\":2,\"mediaType\":\"application/x-foo\",\"layers\":[]}", &rc);
	CHECK(rc == CCP_EREGISTRY);
	/* nothing to go on */
	detect(NULL, "{\"schemaVersion\":2}", &rc);
	CHECK(rc == CCP_EREGISTRY);
	detect(NULL, "[]", &rc);
	CHECK(rc == CCP_EREGISTRY);
	detect(NULL, "not json", &rc);
	CHECK(rc == CCP_EREGISTRY);
	detect(NULL, "", &rc);
	CHECK(rc == CCP_EREGISTRY);
}

static void test_schema1_and_versions(void)
{
	const char *s1 = "{\"schemaVersion\":1,\"name\":\"a\",\"tag\":\"b\",\"fsLayers\":[]}";

	CHECK(manifest_rc(s1, NULL, "schema1 manifests are not supported") == CCP_EREGISTRY);
	CHECK(manifest_rc(s1, CCP_MT_DOCKER_SCHEMA1_SIGNED, "schema1") == CCP_EREGISTRY);
	CHECK(manifest_rc(OCI_MANIFEST_NOMT, CCP_MT_DOCKER_SCHEMA1, "schema1") == CCP_EREGISTRY);
	CHECK(manifest_rc("{\"schemaVersion\":2,\"mediaType\":\"" CCP_MT_DOCKER_SCHEMA1 "\"}", NULL, "schema1") ==
	      CCP_EREGISTRY);
	CHECK(index_rc(s1, NULL, "schema1") == CCP_EREGISTRY);
	/* fsLayers smuggled into a schema2 document */
	CHECK(manifest_rc("{\"schemaVersion\":2,\"mediaType\":\"" CCP_MT_OCI_MANIFEST "\",\"config\":" CFG_OCI
			  ",\"layers\":[],\"fsLayers\":[]}", NULL, "fsLayers") == CCP_EREGISTRY);
	/* schemaVersion must be the integer 2 */
	CHECK(manifest_rc("{\"schemaVersion\":99999,\"config\":" CFG_OCI ",\"layers\":[]}", NULL, "schemaVersion") ==
	      CCP_EREGISTRY);
	CHECK(manifest_rc("{\"schemaVersion\":\"2\",\"config\":" CFG_OCI ",\"layers\":[]}", NULL, "schemaVersion") ==
	      CCP_EREGISTRY);
	CHECK(manifest_rc("{\"schemaVersion\":2.0,\"config\":" CFG_OCI ",\"layers\":[]}", NULL, "schemaVersion") ==
	      CCP_EREGISTRY);
	CHECK(manifest_rc("{\"config\":" CFG_OCI ",\"layers\":[]}", CCP_MT_OCI_MANIFEST, "schemaVersion") ==
	      CCP_EREGISTRY);
}

static void test_kind_mismatch(void)
{
	/* an index where a manifest is expected and the reverse */
	CHECK(manifest_rc(OCI_INDEX, NULL, "expected an image manifest") == CCP_EREGISTRY);
	CHECK(index_rc(OCI_MANIFEST, NULL, "expected an image index") == CCP_EREGISTRY);
	/* ambiguous documents: a manifest with "manifests", an index with "layers"/"config" */
	CHECK(manifest_rc("{\"schemaVersion\":2,\"mediaType\":\"" CCP_MT_OCI_MANIFEST "\",\"config\":" CFG_OCI
			  ",\"layers\":[],\"manifests\":[]}", NULL, "\"manifests\"") == CCP_EREGISTRY);
	CHECK(index_rc("{\"schemaVersion\":2,\"mediaType\":\"" CCP_MT_OCI_INDEX "\",\"manifests\":[],\"layers\":[]}",
		       NULL, "\"layers\"") == CCP_EREGISTRY);
	CHECK(index_rc("{\"schemaVersion\":2,\"manifests\":[],\"config\":" CFG_OCI "}", NULL, NULL) == CCP_EREGISTRY);
	/* the Content-Type says index but the body is a manifest without mediaType */
	CHECK(index_rc(OCI_MANIFEST_NOMT, CCP_MT_OCI_INDEX, NULL) == CCP_EREGISTRY);
}

#define M_WITH_LAYER(l) \
	"{\"schemaVersion\":2,\"mediaType\":\"" CCP_MT_OCI_MANIFEST "\",\"config\":" CFG_OCI ",\"layers\":[" l "]}"
#define M_WITH_CONFIG(c) "{\"schemaVersion\":2,\"mediaType\":\"" CCP_MT_OCI_MANIFEST "\",\"config\":" c ",\"layers\":[]}"

static void test_bad_descriptors(void)
{
	CHECK(manifest_rc(M_WITH_LAYER("{\"size\":1,\"digest\":\"sha256:" HA "\"}"), NULL, "mediaType") ==
	      CCP_EREGISTRY);
	CHECK(manifest_rc(M_WITH_LAYER("{\"mediaType\":7,\"size\":1,\"digest\":\"sha256:" HA "\"}"), NULL,
			  "mediaType") == CCP_EREGISTRY);
	CHECK(manifest_rc(M_WITH_LAYER("{\"mediaType\":\"\",\"size\":1,\"digest\":\"sha256:" HA "\"}"), NULL,
			  "mediaType") == CCP_EREGISTRY);
	CHECK(manifest_rc(M_WITH_LAYER("{\"mediaType\":\"x/y\",\"size\":1}"), NULL, "digest") == CCP_EREGISTRY);
	CHECK(manifest_rc(M_WITH_LAYER("{\"mediaType\":\"x/y\",\"size\":1,\"digest\":\"sha256:" "AAAA" HA "\"}"),
			  NULL, "layer 1") == CCP_EREGISTRY);
	CHECK(manifest_rc(M_WITH_LAYER("{\"mediaType\":\"x/y\",\"size\":1,\"digest\":\"sha256:ABCDEF"
				       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}"),
			  NULL, "hex") == CCP_EREGISTRY);
	CHECK(manifest_rc(M_WITH_LAYER("{\"mediaType\":\"x/y\",\"size\":1,\"digest\":\"md5:" HA "\"}"), NULL,
			  "algorithm") == CCP_EREGISTRY);
	CHECK(manifest_rc(M_WITH_LAYER("{\"mediaType\":\"x/y\",\"digest\":\"sha256:" HA "\"}"), NULL, "size") ==
	      CCP_EREGISTRY);
	CHECK(manifest_rc(M_WITH_LAYER("{\"mediaType\":\"x/y\",\"size\":-1,\"digest\":\"sha256:" HA "\"}"), NULL,
			  "size") == CCP_EREGISTRY);
	CHECK(manifest_rc(M_WITH_LAYER("{\"mediaType\":\"x/y\",\"size\":\"1\",\"digest\":\"sha256:" HA "\"}"), NULL,
			  "size") == CCP_EREGISTRY);
	CHECK(manifest_rc(M_WITH_LAYER("{\"mediaType\":\"x/y\",\"size\":1.5,\"digest\":\"sha256:" HA "\"}"), NULL,
			  "size") == CCP_EREGISTRY);
	CHECK(manifest_rc(M_WITH_LAYER("{\"mediaType\":\"x/y\",\"size\":1,\"digest\":\"sha256:" HA
				       "\",\"urls\":[1]}"), NULL, "urls") == CCP_EREGISTRY);
	CHECK(manifest_rc(M_WITH_LAYER("{\"mediaType\":\"x/y\",\"size\":1,\"digest\":\"sha256:" HA
				       "\",\"urls\":\"x\"}"), NULL, "urls") == CCP_EREGISTRY);
	CHECK(manifest_rc(M_WITH_LAYER("[]"), NULL, "not a JSON object") == CCP_EREGISTRY);
	CHECK(manifest_rc(M_WITH_LAYER("{\"mediaType\":\"x/\\u0000y\",\"size\":1,\"digest\":\"sha256:" HA "\"}"),
			  NULL, "NUL") == CCP_EREGISTRY);
	/* the whole layer list or config missing / of the wrong type */
	CHECK(manifest_rc("{\"schemaVersion\":2,\"mediaType\":\"" CCP_MT_OCI_MANIFEST "\",\"config\":" CFG_OCI "}",
			  NULL, "layers") == CCP_EREGISTRY);
	CHECK(manifest_rc("{\"schemaVersion\":2,\"mediaType\":\"" CCP_MT_OCI_MANIFEST "\",\"config\":" CFG_OCI
			  ",\"layers\":null}", NULL, "layers") == CCP_EREGISTRY);
	CHECK(manifest_rc("{\"schemaVersion\":2,\"mediaType\":\"" CCP_MT_OCI_MANIFEST "\",\"layers\":[]}", NULL,
			  "config") == CCP_EREGISTRY);
	CHECK(manifest_rc(M_WITH_CONFIG("\"x\""), NULL, "config") == CCP_EREGISTRY);
	/* a config bigger than the config cap is refused before anything fetches it */
	CHECK(manifest_rc(M_WITH_CONFIG("{\"mediaType\":\"" CCP_MT_OCI_CONFIG "\",\"size\":8388609,\"digest\":\"sha256:" HA
					"\"}"), NULL, "limit") == CCP_EREGISTRY);
	CHECK(manifest_rc(M_WITH_CONFIG("{\"mediaType\":\"" CCP_MT_OCI_CONFIG "\",\"size\":8388608,\"digest\":\"sha256:" HA
					"\"}"), NULL, NULL) == 0);
	/* sizes beyond int64 do not wrap */
	CHECK(manifest_rc(M_WITH_LAYER("{\"mediaType\":\"x/y\",\"size\":18446744073709551616,\"digest\":\"sha256:" HA
				       "\"}"), NULL, NULL) == CCP_EREGISTRY);
}

static void test_hostile_json(void)
{
	char *big;
	size_t n = CCP_MANIFEST_MAX + 1;

	/* duplicate keys could make two parsers disagree */
	CHECK(manifest_rc("{\"schemaVersion\":2,\"mediaType\":\"" CCP_MT_OCI_MANIFEST "\",\"mediaType\":\""
			  CCP_MT_OCI_MANIFEST "\",\"config\":" CFG_OCI ",\"layers\":[]}", NULL, NULL) == CCP_EREGISTRY);
	CHECK(manifest_rc(M_WITH_CONFIG("{\"mediaType\":\"" CCP_MT_OCI_CONFIG "\",\"size\":1,\"size\":2,\"digest\":\"sha256:" HA "\"}"),
			  NULL, NULL) == CCP_EREGISTRY);
	CHECK(manifest_rc(OCI_MANIFEST "x", NULL, NULL) == CCP_EREGISTRY);
	CHECK(manifest_rc("{", NULL, NULL) == CCP_EREGISTRY);
	CHECK(manifest_rc("null", NULL, NULL) == CCP_EREGISTRY);
	CHECK(manifest_rc("\"" CCP_MT_OCI_MANIFEST "\"", NULL, NULL) == CCP_EREGISTRY);

	/* a body larger than the manifest cap, even if well-formed */
	big = malloc(n + 1);
	CHECK(big != NULL);
	if (big) {
		ccp_manifest m;
		ccp_err e = CCP_ERR_INIT;
		memset(big, ' ', n);
		memcpy(big, OCI_MANIFEST, strlen(OCI_MANIFEST));
		big[n] = '\0';
		CHECK(ccp_manifest_parse(&m, big, n, NULL, &e) == CCP_EREGISTRY);
		CHECK(strstr(e.msg, "limit") != NULL);
		free(big);
	}

	/* deep nesting is refused by the JSON layer without blowing the stack */
	{
		ccp_buf b = CCP_BUF_INIT(0);
		int ok = 1;
		for (int i = 0; i < 100000 && ok; i++)
			ok = ccp_buf_puts(&b, "[") == 0;
		CHECK(ok);
		if (ok)
			CHECK(manifest_rc(b.data, NULL, NULL) == CCP_EREGISTRY);
		ccp_buf_free(&b);
	}
}

/* A manifest with n layers, or an index with n entries. */
static char *gen_doc(int index, size_t n)
{
	ccp_buf b = CCP_BUF_INIT(0);
	int r;

	if (index)
		r = ccp_buf_puts(&b, "{\"schemaVersion\":2,\"mediaType\":\"" CCP_MT_OCI_INDEX "\",\"manifests\":[");
	else
		r = ccp_buf_puts(&b, "{\"schemaVersion\":2,\"mediaType\":\"" CCP_MT_OCI_MANIFEST "\",\"config\":" CFG_OCI
				 ",\"layers\":[");
	for (size_t i = 0; i < n && r == 0; i++)
		r = ccp_buf_printf(&b, "%s{\"mediaType\":\"x/y\",\"size\":%zu,\"digest\":\"sha256:%064zx\"%s}",
				   i ? "," : "", i, i,
				   index ? ",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}" : "");
	if (r == 0)
		r = ccp_buf_puts(&b, "]}");
	if (r != 0) {
		ccp_buf_free(&b);
		return NULL;
	}
	return ccp_buf_detach(&b);
}

static void test_caps(void)
{
	char *d;
	ccp_manifest m;
	ccp_index ix;
	ccp_err e = CCP_ERR_INIT;
	char dg[CCP_DIGEST_STR_MAX];

	d = gen_doc(0, CCP_LAYERS_MAX);
	CHECK(d && ccp_manifest_parse(&m, d, strlen(d), NULL, &e) == 0);
	if (d && m.n_layers == CCP_LAYERS_MAX) {
		CHECK(m.layers[CCP_LAYERS_MAX - 1].size == CCP_LAYERS_MAX - 1);
		CHECK_STR(ccp_digest_str(&m.layers[255].digest, dg),
			  "sha256:00000000000000000000000000000000000000000000000000000000000000ff");
	}
	CHECK(m.n_layers == CCP_LAYERS_MAX);
	ccp_manifest_free(&m);
	free(d);
	d = gen_doc(0, CCP_LAYERS_MAX + 1);
	CHECK(d && manifest_rc(d, NULL, "limit") == CCP_EREGISTRY);
	free(d);

	d = gen_doc(1, CCP_INDEX_ENTRIES_MAX);
	CHECK(d && ccp_index_parse(&ix, d, strlen(d), NULL, &e) == 0);
	CHECK(ix.n_manifests == CCP_INDEX_ENTRIES_MAX);
	ccp_index_free(&ix);
	free(d);
	d = gen_doc(1, CCP_INDEX_ENTRIES_MAX + 1);
	CHECK(d && index_rc(d, NULL, "limit") == CCP_EREGISTRY);
	free(d);

	/* an index entry claiming a manifest bigger than the manifest cap */
	CHECK(index_rc("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" CCP_MT_OCI_MANIFEST
		       "\",\"size\":4194305,\"digest\":\"sha256:" HA "\"}]}", NULL, "limit") == CCP_EREGISTRY);
}

static void test_index(void)
{
	ccp_index ix;
	ccp_err e = CCP_ERR_INIT;
	char dg[CCP_DIGEST_STR_MAX];

	CHECK(ccp_index_parse(&ix, OCI_INDEX, strlen(OCI_INDEX), CCP_MT_OCI_INDEX, &e) == 0);
	CHECK(ix.kind == CCP_KIND_OCI_INDEX);
	CHECK(ix.n_manifests == 3);
	if (ix.n_manifests == 3) {
		CHECK(ix.manifests[0].has_platform);
		CHECK_STR(ix.manifests[0].platform.os, "linux");
		CHECK_STR(ix.manifests[0].platform.architecture, "amd64");
		CHECK_STR(ix.manifests[0].platform.variant, "");
		/* normalised: Linux -> linux, aarch64 -> arm64, v8 -> "" */
		CHECK(ix.manifests[1].has_platform);
		CHECK_STR(ix.manifests[1].platform.os, "linux");
		CHECK_STR(ix.manifests[1].platform.architecture, "arm64");
		CHECK_STR(ix.manifests[1].platform.variant, "");
		CHECK_STR(ccp_digest_str(&ix.manifests[1].digest, dg), "sha256:" HB);
		CHECK(!ix.manifests[2].has_platform);
		CHECK_STR(ix.manifests[2].media_type, CCP_MT_OCI_MANIFEST);
		CHECK(ix.manifests[2].size == 527);
	}
	ccp_index_free(&ix);
	ccp_index_free(&ix);

	/* Docker manifest list */
	{
		const char *doc = "{\"schemaVersion\":2,\"mediaType\":\"" CCP_MT_DOCKER_LIST "\",\"manifests\":["
				  "{\"mediaType\":\"" CCP_MT_DOCKER_MANIFEST "\",\"size\":1,\"digest\":\"sha256:" HA "\","
				  "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"features\":[\"f\"]}}]}";
		CHECK(ccp_index_parse(&ix, doc, strlen(doc), CCP_MT_DOCKER_LIST, &e) == 0);
		CHECK(ix.kind == CCP_KIND_DOCKER_LIST && ix.n_manifests == 1);
		if (ix.n_manifests == 1)
			CHECK_STR(ix.manifests[0].platform.variant, "v7");
		ccp_index_free(&ix);
	}

	/* attestation manifests are kept but not selectable */
	{
		const char *doc = "{\"schemaVersion\":2,\"manifests\":[" ENTRY(HA, ",\"platform\":{\"os\":\"linux\","
				  "\"architecture\":\"amd64\"},\"annotations\":{\"vnd.docker.reference.type\":"
				  "\"attestation-manifest\"}") "]}";
		CHECK(ccp_index_parse(&ix, doc, strlen(doc), NULL, &e) == 0);
		CHECK(ix.n_manifests == 1 && !ix.manifests[0].has_platform);
		ccp_index_free(&ix);
	}

	/* a platform object lacking os or architecture makes the entry unselectable */
	{
		const char *doc = "{\"schemaVersion\":2,\"manifests\":[" ENTRY(HA, ",\"platform\":{\"os\":\"linux\"}") "]}";
		CHECK(ccp_index_parse(&ix, doc, strlen(doc), NULL, &e) == 0);
		CHECK(ix.n_manifests == 1 && !ix.manifests[0].has_platform);
		ccp_index_free(&ix);
	}

	/* malformed platforms */
	CHECK(index_rc("{\"schemaVersion\":2,\"manifests\":[" ENTRY(HA, ",\"platform\":\"linux/amd64\"") "]}", NULL,
		       "platform") == CCP_EREGISTRY);
	CHECK(index_rc("{\"schemaVersion\":2,\"manifests\":[" ENTRY(HA, ",\"platform\":{\"os\":1,\"architecture\":\"a\"}")
		       "]}", NULL, "os") == CCP_EREGISTRY);
	CHECK(index_rc("{\"schemaVersion\":2,\"manifests\":[" ENTRY(HA, ",\"platform\":{\"os\":\"linux\","
		       "\"architecture\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}") "]}",
		       NULL, "longer") == CCP_EREGISTRY);
	CHECK(index_rc("{\"schemaVersion\":2,\"manifests\":{}}", NULL, "manifests") == CCP_EREGISTRY);
	CHECK(index_rc("{\"schemaVersion\":2,\"mediaType\":\"" CCP_MT_OCI_INDEX "\"}", NULL, "manifests") ==
	      CCP_EREGISTRY);
	CHECK(index_rc("{\"schemaVersion\":2,\"manifests\":[" ENTRY("xyz", "") "]}", NULL, "entry 1") == CCP_EREGISTRY);
	/* an empty index is well-formed (selection will fail) */
	CHECK(index_rc("{\"schemaVersion\":2,\"mediaType\":\"" CCP_MT_OCI_INDEX "\",\"manifests\":[]}", NULL, NULL) == 0);
}

static void test_artifact(void)
{
	const char *doc = M_WITH_CONFIG("{\"mediaType\":\"application/vnd.oci.custom.artifact.config.v1+json\","
					"\"size\":2,\"digest\":\"sha256:" HA "\"}");
	ccp_manifest m;
	ccp_err e = CCP_ERR_INIT;

	CHECK(ccp_manifest_parse(&m, doc, strlen(doc), NULL, &e) == 0);
	CHECK(ccp_manifest_is_image(&m) == 0);
	CHECK(ccp_manifest_check_image(&m, &e) == CCP_EREGISTRY);
	CHECK(strstr(e.msg, "application/vnd.oci.custom.artifact.config.v1+json") != NULL);
	ccp_manifest_free(&m);
}

#define CONFIG(rootfs) \
	"{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"A=b\"]},\"rootfs\":" rootfs "}"

static int config_rc(const char *doc, const char *want_msg)
{
	ccp_image_config c;
	ccp_err e = CCP_ERR_INIT;
	int rc = ccp_image_config_parse(&c, doc, strlen(doc), &e);

	if (rc == 0) {
		ccp_image_config_free(&c);
	} else {
		if (want_msg && !strstr(e.msg, want_msg))
			fprintf(stderr, "message \"%s\" lacks \"%s\"\n", e.msg, want_msg);
		CHECK(!want_msg || strstr(e.msg, want_msg) != NULL);
	}
	return rc;
}

static void test_config(void)
{
	const char *doc = "{\"architecture\":\"aarch64\",\"os\":\"Linux\",\"variant\":\"v8\",\"rootfs\":{\"type\":"
			  "\"layers\",\"diff_ids\":[\"sha256:" HA "\",\"sha256:" HB "\",\"sha256:" HA "\"]}}";
	ccp_image_config c;
	ccp_err e = CCP_ERR_INIT;
	char dg[CCP_DIGEST_STR_MAX];

	CHECK(ccp_image_config_parse(&c, doc, strlen(doc), &e) == 0);
	CHECK_STR(c.platform.os, "linux");
	CHECK_STR(c.platform.architecture, "arm64");
	CHECK_STR(c.platform.variant, "");
	CHECK(c.n_diff_ids == 3);
	if (c.n_diff_ids == 3) {
		CHECK_STR(ccp_digest_str(&c.diff_ids[1], dg), "sha256:" HB);
		CHECK(ccp_digest_equal(&c.diff_ids[0], &c.diff_ids[2]));
	}
	ccp_image_config_free(&c);
	ccp_image_config_free(&c);

	CHECK(config_rc(CONFIG("{\"type\":\"layers\",\"diff_ids\":[]}"), NULL) == 0);
	/* platform fields are optional */
	CHECK(config_rc("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", NULL) == 0);
	CHECK(config_rc(CONFIG("{\"type\":\"layered\",\"diff_ids\":[]}"), "layers") == CCP_EREGISTRY);
	CHECK(config_rc(CONFIG("{\"diff_ids\":[]}"), "type") == CCP_EREGISTRY);
	CHECK(config_rc(CONFIG("{\"type\":\"layers\"}"), "diff_ids") == CCP_EREGISTRY);
	CHECK(config_rc(CONFIG("{\"type\":\"layers\",\"diff_ids\":{}}"), "diff_ids") == CCP_EREGISTRY);
	CHECK(config_rc(CONFIG("{\"type\":\"layers\",\"diff_ids\":[1]}"), "diff_id 1") == CCP_EREGISTRY);
	CHECK(config_rc(CONFIG("{\"type\":\"layers\",\"diff_ids\":[\"sha256:" HA "\",\"sha256:x\"]}"), "diff_id 2") ==
	      CCP_EREGISTRY);
	CHECK(config_rc(CONFIG("[]"), "rootfs") == CCP_EREGISTRY);
	CHECK(config_rc("{\"os\":\"linux\"}", "rootfs") == CCP_EREGISTRY);
	CHECK(config_rc("{\"os\":7,\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", "os") == CCP_EREGISTRY);
	CHECK(config_rc("[1]", NULL) == CCP_EREGISTRY);
	CHECK(config_rc("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
			NULL) == CCP_EREGISTRY);

	/* diff_ids are capped like layers */
	{
		ccp_buf b = CCP_BUF_INIT(0);
		int r = ccp_buf_puts(&b, "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[");
		for (int i = 0; i <= CCP_LAYERS_MAX && r == 0; i++)
			r = ccp_buf_printf(&b, "%s\"sha256:" HA "\"", i ? "," : "");
		if (r == 0)
			r = ccp_buf_puts(&b, "]}}");
		CHECK(r == 0);
		if (r == 0)
			CHECK(config_rc(b.data, "limit") == CCP_EREGISTRY);
		ccp_buf_free(&b);
	}
}

static void media(const char *mt, int want_rc, ccp_compression want_comp, int want_enc)
{
	ccp_compression c = (ccp_compression)99;
	int enc = 99;
	ccp_err e = CCP_ERR_INIT;
	int rc = ccp_layer_media_type(mt, &c, &enc, &e);

	CHECK(rc == want_rc);
	if (rc == 0) {
		CHECK(c == want_comp);
		CHECK(enc == want_enc);
	} else {
		CHECK(strstr(e.msg, mt ? "unsupported layer media type" : "no media type") != NULL);
	}
	if (rc != want_rc)
		fprintf(stderr, "media type %s: rc %d\n", mt, rc);
}

static void test_layer_media_types(void)
{
	media("application/vnd.oci.image.layer.v1.tar", 0, CCP_COMP_NONE, 0);
	media("application/vnd.oci.image.layer.v1.tar+gzip", 0, CCP_COMP_GZIP, 0);
	media("application/vnd.oci.image.layer.v1.tar+zstd", 0, CCP_COMP_ZSTD, 0);
	media("application/vnd.oci.image.layer.nondistributable.v1.tar", 0, CCP_COMP_NONE, 0);
	media("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", 0, CCP_COMP_GZIP, 0);
	media("application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", 0, CCP_COMP_ZSTD, 0);
	media("application/vnd.docker.image.rootfs.diff.tar.gzip", 0, CCP_COMP_GZIP, 0);
	media("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", 0, CCP_COMP_GZIP, 0);
	media("application/vnd.docker.image.rootfs.diff.tar", 0, CCP_COMP_SNIFF, 0);
	media("application/vnd.docker.image.rootfs.foreign.diff.tar", 0, CCP_COMP_SNIFF, 0);
	media("application/vnd.docker.image.rootfs.diff.tar.zstd", 0, CCP_COMP_ZSTD, 0);
	media("application/vnd.oci.image.layer.v1.tar+gzip+encrypted", 0, CCP_COMP_GZIP, 1);
	media("application/vnd.oci.image.layer.v1.tar+zstd+encrypted", 0, CCP_COMP_ZSTD, 1);
	media("application/vnd.oci.image.layer.v1.tar+encrypted", 0, CCP_COMP_NONE, 1);
	media("application/vnd.docker.image.rootfs.diff.tar.gzip+encrypted", 0, CCP_COMP_GZIP, 1);

	media("application/vnd.oci.image.layer.v1.tar+bzip2", CCP_EREGISTRY, 0, 0);
	media("application/vnd.oci.image.layer.v1.tar+gzip+encrypted+encrypted", CCP_EREGISTRY, 0, 0);
	media("+encrypted", CCP_EREGISTRY, 0, 0);
	media("", CCP_EREGISTRY, 0, 0);
	media("APPLICATION/VND.OCI.IMAGE.LAYER.V1.TAR", CCP_EREGISTRY, 0, 0);
	media("application/vnd.oci.image.layer.v1.tar+gzip ", CCP_EREGISTRY, 0, 0);
	media("application/vnd.cncf.helm.chart.content.v1.tar+gzip", CCP_EREGISTRY, 0, 0);
	media(NULL, CCP_EREGISTRY, 0, 0);
}

int main(void)
{
	test_oci_manifest();
	test_docker_manifest();
	test_detect();
	test_schema1_and_versions();
	test_kind_mismatch();
	test_bad_descriptors();
	test_hostile_json();
	test_caps();
	test_index();
	test_artifact();
	test_config();
	test_layer_media_types();
	return test_summary();
}
