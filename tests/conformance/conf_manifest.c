/*
 * containers/image manifest fixtures (internal/manifest/testdata): every file there must be listed
 * below with what it must give, so a new fixture cannot go unnoticed. argv[1] is the conformance dir.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest/manifest.h"
#include "util/buf.h"
#include "../unit/test.h"

#define A64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

enum expect { REJECT, MANIFEST, INDEX };

typedef struct pick {
	const char *want;     /* platform asked for */
	long idx;             /* expected entry, -1 = no match */
} pick;

typedef struct fixture {
	const char *name;
	enum expect what;
	const char *content_type;   /* the type a registry would send, or NULL */
	ccp_manifest_kind kind;     /* expected kind (also for REJECT when detect must succeed) */
	size_t count;               /* layers or index entries */
	const char *reject_msg;     /* REJECT: substring of the error */
	pick picks[6];
} fixture;

static const fixture fixtures[] = {
	{ "non-json.manifest.json", REJECT, NULL, CCP_KIND_UNKNOWN, 0, "not valid JSON", { { 0 } } },
	{ "oci1.index.everything.json", INDEX, CCP_MT_OCI_INDEX, CCP_KIND_OCI_INDEX, 1, NULL,
	  { { "b/a/e", 0 }, { "linux/amd64", -1 } } },
	{ "oci1.index.zstd-selection.json", INDEX, CCP_MT_OCI_INDEX, CCP_KIND_OCI_INDEX, 6, NULL,
	  { { "linux/amd64", 0 }, { "linux/arm64", 2 }, { "linux/s390x", 4 }, { "linux/ppc64le", -1 } } },
	{ "oci1.index.zstd-selection2.json", INDEX, CCP_MT_OCI_INDEX, CCP_KIND_OCI_INDEX, 10, NULL,
	  { { "linux/amd64", 0 }, { "linux/arm64/v8", 3 }, { "linux/arm/v7", -1 } } },
	{ "oci1index.json", INDEX, CCP_MT_OCI_INDEX, CCP_KIND_OCI_INDEX, 3, NULL,
	  { { "linux/ppc64le", 0 }, { "linux/x86_64", 1 }, { "linux/aarch64", 2 } } },
	{ "ocilist-variants.json", INDEX, CCP_MT_OCI_INDEX, CCP_KIND_OCI_INDEX, 6, NULL,
	  { { "linux/amd64", 0 }, { "linux/arm/v7", 1 }, { "linux/arm", 1 }, { "linux/arm/v6", 2 },
	    { "linux/arm/v8", 1 }, { "linux/arm/v5", -1 } } },
	/* artifacts with "layers": null (and a config digest of ""): an image manifest needs a layer list */
	{ "ociv1.artifact.json", REJECT, CCP_MT_OCI_MANIFEST, CCP_KIND_OCI_MANIFEST, 0, "\"layers\"", { { 0 } } },
	{ "ociv1.image.index.json", INDEX, CCP_MT_OCI_INDEX, CCP_KIND_OCI_INDEX, 2, NULL,
	  { { "linux/amd64", 1 }, { "linux/ppc64le", 0 }, { "linux/arm64", -1 } } },
	{ "ociv1.manifest.json", MANIFEST, CCP_MT_OCI_MANIFEST, CCP_KIND_OCI_MANIFEST, 3, NULL, { { 0 } } },
	{ "ociv1nomime.artifact.json", REJECT, NULL, CCP_KIND_OCI_MANIFEST, 0, "\"layers\"", { { 0 } } },
	{ "ociv1nomime.image.index.json", INDEX, NULL, CCP_KIND_OCI_INDEX, 2, NULL,
	  { { "linux/amd64", 1 } } },
	{ "ociv1nomime.manifest.json", MANIFEST, NULL, CCP_KIND_OCI_MANIFEST, 3, NULL, { { 0 } } },
	{ "schema2-to-schema1-by-docker.json", REJECT, NULL, CCP_KIND_UNKNOWN, 0, "schema1", { { 0 } } },
	{ "schema2list-variants.json", INDEX, CCP_MT_DOCKER_LIST, CCP_KIND_DOCKER_LIST, 4, NULL,
	  { { "linux/amd64", 0 }, { "linux/arm/v6", 1 }, { "linux/arm/v7", 3 }, { "linux/arm", 3 } } },
	{ "schema2list.json", INDEX, CCP_MT_DOCKER_LIST, CCP_KIND_DOCKER_LIST, 7, NULL,
	  { { "linux/arm64", 3 }, { "linux/arm/v7", 2 }, { "linux/arm/v5", 1 }, { "linux/386", 4 },
	    { "linux/s390x", 6 }, { "linux/riscv64", -1 } } },
	{ "unknown-version.manifest.json", REJECT, NULL, CCP_KIND_UNKNOWN, 0, "schemaVersion", { { 0 } } },
	{ "v2list.everything.json", INDEX, CCP_MT_DOCKER_LIST, CCP_KIND_DOCKER_LIST, 1, NULL,
	  { { "b/a/e", 0 } } },
	/* a list of schema1 manifests: the list parses; "armv8" is not an arm64 variant we know */
	{ "v2list.manifest.json", INDEX, CCP_MT_DOCKER_LIST, CCP_KIND_DOCKER_LIST, 5, NULL,
	  { { "linux/amd64", 1 }, { "linux/s390x", 2 }, { "linux/arm64", -1 } } },
	{ "v2s1-invalid-signatures.manifest.json", REJECT, CCP_MT_DOCKER_SCHEMA1_SIGNED, CCP_KIND_UNKNOWN, 0,
	  "schema1", { { 0 } } },
	{ "v2s1-unsigned.manifest.json", REJECT, CCP_MT_DOCKER_SCHEMA1, CCP_KIND_UNKNOWN, 0, "schema1", { { 0 } } },
	{ "v2s1.manifest.json", REJECT, NULL, CCP_KIND_UNKNOWN, 0, "schema1", { { 0 } } },
	{ "v2s2.manifest.json", MANIFEST, CCP_MT_DOCKER_MANIFEST, CCP_KIND_DOCKER_MANIFEST, 3, NULL, { { 0 } } },
	{ "v2s2nomime.manifest.json", MANIFEST, NULL, CCP_KIND_DOCKER_MANIFEST, 0, NULL, { { 0 } } },
};

#define N_FIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

static int read_fixture(ccp_buf *b, const char *dir, const char *name)
{
	char path[4096];
	ccp_err e = CCP_ERR_INIT;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	r = ccp_read_file(b, path, CCP_MANIFEST_MAX, &e);
	if (r != 0)
		fprintf(stderr, "%s: %s\n", path, e.msg);
	return r;
}

static void check_reject(const fixture *f, const ccp_buf *b)
{
	ccp_manifest m;
	ccp_index ix;
	ccp_manifest_kind k;
	ccp_err e = CCP_ERR_INIT;
	int rc;

	rc = ccp_manifest_detect(&k, f->content_type, b->data, b->len, &e);
	if (f->kind == CCP_KIND_UNKNOWN) {
		CHECK(rc == CCP_EREGISTRY);
		CHECK(strstr(e.msg, f->reject_msg) != NULL);
	} else {
		CHECK(rc == 0 && k == f->kind);
	}
	ccp_err_clear(&e);
	rc = ccp_manifest_parse(&m, b->data, b->len, f->content_type, &e);
	CHECK(rc == CCP_EREGISTRY);
	if (rc == 0)
		ccp_manifest_free(&m);
	if (!strstr(e.msg, f->reject_msg))
		fprintf(stderr, "%s: message \"%s\" lacks \"%s\"\n", f->name, e.msg, f->reject_msg);
	CHECK(strstr(e.msg, f->reject_msg) != NULL);
	rc = ccp_index_parse(&ix, b->data, b->len, f->content_type, &e);
	CHECK(rc == CCP_EREGISTRY);
	if (rc == 0)
		ccp_index_free(&ix);
}

static void check_manifest(const fixture *f, const ccp_buf *b)
{
	ccp_manifest m;
	ccp_index ix;
	ccp_err e = CCP_ERR_INIT;
	char dg[CCP_DIGEST_STR_MAX];
	int rc = ccp_manifest_parse(&m, b->data, b->len, f->content_type, &e);

	CHECK(rc == 0);
	if (rc != 0) {
		fprintf(stderr, "%s: %s\n", f->name, e.msg);
		return;
	}
	CHECK(m.kind == f->kind);
	CHECK(m.n_layers == f->count);
	CHECK(ccp_manifest_is_image(&m));
	/* all of these fixtures share one config and (where present) three layers */
	CHECK_STR(ccp_digest_str(&m.config.digest, dg),
		  "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7");
	CHECK(m.config.size == 7023);
	if (m.n_layers == 3) {
		static const uint64_t sizes[3] = { 32654, 16724, 73109 };
		CHECK_STR(ccp_digest_str(&m.layers[0].digest, dg),
			  "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f");
		CHECK_STR(ccp_digest_str(&m.layers[2].digest, dg),
			  "sha256:ec4b8955958665577945c89419d1af06b5f7636b4ac3da7f12184802ad867736");
		for (size_t i = 0; i < 3; i++) {
			ccp_compression c;
			int enc = 1;
			CHECK(m.layers[i].size == sizes[i]);
			CHECK(!m.layers[i].has_urls);
			CHECK(ccp_layer_media_type(m.layers[i].media_type, &c, &enc, &e) == 0);
			CHECK(c == CCP_COMP_GZIP && enc == 0);
		}
	}
	ccp_manifest_free(&m);

	/* the same bytes are not an index */
	rc = ccp_index_parse(&ix, b->data, b->len, f->content_type, &e);
	CHECK(rc == CCP_EREGISTRY);
	if (rc == 0)
		ccp_index_free(&ix);
	/* a declared mediaType contradicting the Content-Type is refused */
	if (f->content_type) {
		const char *other = f->kind == CCP_KIND_OCI_MANIFEST ? CCP_MT_DOCKER_MANIFEST : CCP_MT_OCI_MANIFEST;
		ccp_manifest_kind k;
		CHECK(ccp_manifest_detect(&k, other, b->data, b->len, &e) == CCP_EREGISTRY);
		CHECK(strstr(e.msg, "Content-Type") != NULL);
	}
}

static void check_index(const fixture *f, const ccp_buf *b)
{
	ccp_index ix;
	ccp_manifest m;
	ccp_err e = CCP_ERR_INIT;
	int rc = ccp_index_parse(&ix, b->data, b->len, f->content_type, &e);

	CHECK(rc == 0);
	if (rc != 0) {
		fprintf(stderr, "%s: %s\n", f->name, e.msg);
		return;
	}
	CHECK(ix.kind == f->kind);
	CHECK(ix.n_manifests == f->count);
	for (size_t i = 0; i < 6 && f->picks[i].want; i++) {
		ccp_platform w;
		size_t idx = 12345;
		CHECK(ccp_platform_parse(&w, f->picks[i].want, &e) == 0);
		rc = ccp_index_select(&ix, &w, &idx, &e);
		if (f->picks[i].idx < 0) {
			CHECK(rc == CCP_EREGISTRY);
		} else {
			CHECK(rc == 0 && idx == (size_t)f->picks[i].idx);
			if (rc != 0 || idx != (size_t)f->picks[i].idx)
				fprintf(stderr, "%s: %s -> rc %d idx %zu (%s)\n", f->name, f->picks[i].want, rc, idx,
					rc ? e.msg : "");
		}
	}
	ccp_index_free(&ix);

	rc = ccp_manifest_parse(&m, b->data, b->len, f->content_type, &e);
	CHECK(rc == CCP_EREGISTRY);
	if (rc == 0)
		ccp_manifest_free(&m);
	else
		CHECK(strstr(e.msg, "expected an image manifest") != NULL);
}

/* Fixture-specific facts beyond counts and selection. */
static void check_details(const char *dir)
{
	ccp_buf b = CCP_BUF_INIT(CCP_MANIFEST_MAX);
	ccp_index ix;
	ccp_err e = CCP_ERR_INIT;
	char dg[CCP_DIGEST_STR_MAX];

	if (read_fixture(&b, dir, "oci1.index.everything.json") == 0 &&
	    ccp_index_parse(&ix, b.data, b.len, NULL, &e) == 0) {
		CHECK(ix.n_manifests == 1);
		if (ix.n_manifests == 1) {
			const ccp_descriptor *d = &ix.manifests[0];
			CHECK_STR(ccp_digest_str(&d->digest, dg), "sha256:" A64);
			CHECK(d->size == 1);
			CHECK(d->has_urls);
			CHECK(d->has_platform);
			/* "A"/"B"/"E" normalised to lower case; os.version and os.features ignored */
			CHECK_STR(d->platform.os, "b");
			CHECK_STR(d->platform.architecture, "a");
			CHECK_STR(d->platform.variant, "e");
		}
		ccp_index_free(&ix);
	} else {
		CHECK(0);
	}
	ccp_buf_free(&b);

	b = (ccp_buf)CCP_BUF_INIT(CCP_MANIFEST_MAX);
	if (read_fixture(&b, dir, "oci1.index.zstd-selection2.json") == 0 &&
	    ccp_index_parse(&ix, b.data, b.len, CCP_MT_OCI_INDEX, &e) == 0) {
		static const int has_plat[10] = { 1, 1, 1, 1, 0, 0, 0, 1, 1, 1 };
		for (size_t i = 0; i < ix.n_manifests && i < 10; i++)
			CHECK(ix.manifests[i].has_platform == has_plat[i]);
		CHECK_STR(ccp_digest_str(&ix.manifests[3].digest, dg),
			  "sha256:1c98002b30a71b08ab175915ce7c8fb8da9e9b502ae082d6f0c572bac9dee324");
		ccp_index_free(&ix);
	} else {
		CHECK(0);
	}
	ccp_buf_free(&b);

	b = (ccp_buf)CCP_BUF_INIT(CCP_MANIFEST_MAX);
	if (read_fixture(&b, dir, "schema2list.json") == 0 &&
	    ccp_index_parse(&ix, b.data, b.len, CCP_MT_DOCKER_LIST, &e) == 0) {
		CHECK(ix.n_manifests == 7);
		if (ix.n_manifests == 7) {
			CHECK_STR(ix.manifests[3].platform.architecture, "arm64");
			CHECK_STR(ix.manifests[3].platform.variant, "");
			CHECK_STR(ccp_digest_str(&ix.manifests[3].digest, dg),
				  "sha256:dc472a59fb006797aa2a6bfb54cc9c57959bb0a6d11fadaa608df8c16dea39cf");
			CHECK(ix.manifests[6].size == 528);
			CHECK_STR(ix.manifests[0].media_type, CCP_MT_DOCKER_MANIFEST);
		}
		ccp_index_free(&ix);
	} else {
		CHECK(0);
	}
	ccp_buf_free(&b);

	b = (ccp_buf)CCP_BUF_INIT(CCP_MANIFEST_MAX);
	if (read_fixture(&b, dir, "v2list.manifest.json") == 0 &&
	    ccp_index_parse(&ix, b.data, b.len, NULL, &e) == 0) {
		/* the entries point at schema1 manifests: fetching one will be refused, the list itself is fine */
		for (size_t i = 0; i < ix.n_manifests; i++)
			CHECK_STR(ix.manifests[i].media_type, CCP_MT_DOCKER_SCHEMA1);
		CHECK_STR(ix.manifests[4].platform.variant, "armv8");
		ccp_index_free(&ix);
	} else {
		CHECK(0);
	}
	ccp_buf_free(&b);
}

int main(int argc, char **argv)
{
	char dir[4096];
	DIR *d;
	struct dirent *de;
	size_t seen = 0;

	if (argc < 2)
		return 77;
	snprintf(dir, sizeof(dir), "%s/containers-image/internal/manifest/testdata", argv[1]);
	if (!(d = opendir(dir))) {
		fprintf(stderr, "%s absent: skipping\n", dir);
		return 77;
	}
	while ((de = readdir(d))) {
		const fixture *f = NULL;
		ccp_buf b = CCP_BUF_INIT(CCP_MANIFEST_MAX);

		if (de->d_name[0] == '.')
			continue;
		for (size_t i = 0; i < N_FIXTURES; i++)
			if (strcmp(fixtures[i].name, de->d_name) == 0)
				f = &fixtures[i];
		if (!f) {
			fprintf(stderr, "fixture %s has no expectation in this test\n", de->d_name);
			CHECK(f != NULL);
			continue;
		}
		seen++;
		if (read_fixture(&b, dir, f->name) != 0) {
			CHECK(0);
			continue;
		}
		switch (f->what) {
		case REJECT: check_reject(f, &b); break;
		case MANIFEST: check_manifest(f, &b); break;
		case INDEX: check_index(f, &b); break;
		}
		ccp_buf_free(&b);
	}
	closedir(d);
	CHECK(seen == N_FIXTURES);
	check_details(dir);
	return test_summary();
}
