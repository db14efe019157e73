/*
 * OCI / Docker schema2 manifests and indexes, image configs, layer media types.
 *
 * Every document comes from the registry and is hostile: JSON goes through ccp_json_parse (size cap,
 * duplicate keys refused), every descriptor is checked (media type, strict digest, size), arrays are
 * capped, and a document whose declared type contradicts the Content-Type or its own shape is refused
 * (the "ambiguous manifest" problem, CVE-2021-41190).
 */
#include "manifest/manifest.h"
#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#define MEDIA_TYPE_MAX 255 /* RFC 6838: 127 + "/" + 127 */

#define ANN_REFERENCE_TYPE "vnd.docker.reference.type"
#define ATTESTATION_MANIFEST "attestation-manifest"

static const char *kind_name(ccp_manifest_kind k)
{
	switch (k) {
	case CCP_KIND_OCI_MANIFEST: return "OCI image manifest";
	case CCP_KIND_OCI_INDEX: return "OCI image index";
	case CCP_KIND_DOCKER_MANIFEST: return "Docker schema2 manifest";
	case CCP_KIND_DOCKER_LIST: return "Docker manifest list";
	case CCP_KIND_DOCKER_SCHEMA1: return "Docker schema1 manifest";
	default: return "unknown document";
	}
}

static int is_index_kind(ccp_manifest_kind k)
{
	return k == CCP_KIND_OCI_INDEX || k == CCP_KIND_DOCKER_LIST;
}

static int is_manifest_kind(ccp_manifest_kind k)
{
	return k == CCP_KIND_OCI_MANIFEST || k == CCP_KIND_DOCKER_MANIFEST;
}

static ccp_manifest_kind kind_of_media_type(const char *mt)
{
	if (strcmp(mt, CCP_MT_OCI_MANIFEST) == 0)
		return CCP_KIND_OCI_MANIFEST;
	if (strcmp(mt, CCP_MT_OCI_INDEX) == 0)
		return CCP_KIND_OCI_INDEX;
	if (strcmp(mt, CCP_MT_DOCKER_MANIFEST) == 0)
		return CCP_KIND_DOCKER_MANIFEST;
	if (strcmp(mt, CCP_MT_DOCKER_LIST) == 0)
		return CCP_KIND_DOCKER_LIST;
	if (strcmp(mt, CCP_MT_DOCKER_SCHEMA1) == 0 || strcmp(mt, CCP_MT_DOCKER_SCHEMA1_SIGNED) == 0)
		return CCP_KIND_DOCKER_SCHEMA1;
	return CCP_KIND_UNKNOWN;
}

static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static void lower_in_place(char *s)
{
	for (; *s; s++)
		*s = ascii_lower(*s);
}

/*
 * The media type of a Content-Type header value: parameters dropped, blanks trimmed, lowercased.
 * Returns 0 when it does not fit (such a value matches nothing we know anyway).
 */
static int content_media_type(const char *ct, char *out, size_t n)
{
	size_t start = 0, end;

	out[0] = '\0';
	if (!ct)
		return 1;
	end = strcspn(ct, ";");
	while (start < end && (ct[start] == ' ' || ct[start] == '\t'))
		start++;
	while (end > start && (ct[end - 1] == ' ' || ct[end - 1] == '\t'))
		end--;
	if (end - start >= n)
		return 0;
	for (size_t i = start; i < end; i++)
		out[i - start] = ascii_lower(ct[i]);
	out[end - start] = '\0';
	return 1;
}

static const char schema1_msg[] = "Docker schema1 manifests are not supported; re-push the image as schema2 or OCI";

/* Decides the kind of a parsed document; see ccp_manifest_detect. */
static int detect_json(ccp_manifest_kind *out, const char *content_type, const json_t *root, ccp_err *e)
{
	char ct[MEDIA_TYPE_MAX + 1];
	const char *doc_mt = NULL;
	ccp_manifest_kind ct_kind = CCP_KIND_UNKNOWN, kind;
	json_t *sv;
	int r;

	*out = CCP_KIND_UNKNOWN;
	if (!json_is_object(root))
		return ccp_err_set(e, CCP_EREGISTRY, "manifest is not a JSON object");
	if (content_media_type(content_type, ct, sizeof(ct)))
		ct_kind = kind_of_media_type(ct);
	if ((r = ccp_json_get_string(root, "mediaType", 0, &doc_mt, "manifest", CCP_EREGISTRY, e)) < 0)
		return r;
	if (ct_kind == CCP_KIND_DOCKER_SCHEMA1 || (doc_mt && kind_of_media_type(doc_mt) == CCP_KIND_DOCKER_SCHEMA1))
		return ccp_err_set(e, CCP_EREGISTRY, "%s", schema1_msg);

	sv = json_object_get(root, "schemaVersion");
	if (json_is_integer(sv) && json_integer_value(sv) == 1)
		return ccp_err_set(e, CCP_EREGISTRY, "%s", schema1_msg);
	if (!sv || json_is_null(sv))
		return ccp_err_set(e, CCP_EREGISTRY, "manifest: missing required field \"schemaVersion\"");
	if (!json_is_integer(sv) || json_integer_value(sv) != 2)
		return ccp_err_set(e, CCP_EREGISTRY, "manifest: unsupported schemaVersion (only 2 is supported)");

	if (ct_kind != CCP_KIND_UNKNOWN) {
		/* A specific Content-Type: the document may omit mediaType but must not contradict it. */
		if (doc_mt && strcmp(doc_mt, ct) != 0)
			return ccp_err_set(e, CCP_EREGISTRY,
					   "manifest declares media type \"%.255s\" but the registry sent Content-Type \"%s\"",
					   doc_mt, ct);
		kind = ct_kind;
	} else if (doc_mt) {
		/* Generic or unknown Content-Type (CDNs send text/plain and worse): trust the document. */
		kind = kind_of_media_type(doc_mt);
		if (kind == CCP_KIND_UNKNOWN)
			return ccp_err_set(e, CCP_EREGISTRY, "unsupported manifest media type \"%.255s\"", doc_mt);
	} else {
		/* Neither says: sniff the shape as containers/image's GuessMIMEType does. */
		json_t *cfg = json_object_get(root, "config");
		if (json_object_get(root, "manifests")) {
			kind = CCP_KIND_OCI_INDEX;
		} else if (cfg || json_object_get(root, "layers")) {
			const char *cmt = json_string_value(json_object_get(cfg, "mediaType"));
			kind = (cmt && strcmp(cmt, CCP_MT_DOCKER_CONFIG) == 0) ? CCP_KIND_DOCKER_MANIFEST
									       : CCP_KIND_OCI_MANIFEST;
		} else {
			return ccp_err_set(e, CCP_EREGISTRY,
					   "manifest has no mediaType and is neither an image manifest nor an index");
		}
	}

	/* The shape must agree with the kind, so two parsers cannot read one document differently. */
	if (json_object_get(root, "fsLayers"))
		return ccp_err_set(e, CCP_EREGISTRY, "%s carries schema1 field \"fsLayers\"", kind_name(kind));
	if (is_manifest_kind(kind) && json_object_get(root, "manifests"))
		return ccp_err_set(e, CCP_EREGISTRY, "%s carries index field \"manifests\"", kind_name(kind));
	if (is_index_kind(kind) && (json_object_get(root, "config") || json_object_get(root, "layers")))
		return ccp_err_set(e, CCP_EREGISTRY, "%s carries image manifest fields \"config\"/\"layers\"",
				   kind_name(kind));
	*out = kind;
	return 0;
}

int ccp_manifest_detect(ccp_manifest_kind *out, const char *content_type, const void *data, size_t len, ccp_err *e)
{
	json_t *root;
	int r;

	*out = CCP_KIND_UNKNOWN;
	if ((r = ccp_json_parse(&root, data, len, CCP_MANIFEST_MAX, "manifest", CCP_EREGISTRY, e)) < 0)
		return r;
	r = detect_json(out, content_type, root, e);
	json_decref(root);
	return r;
}

static int copy_field(char *dst, size_t n, const char *src, const char *what, const char *key, int code, ccp_err *e)
{
	size_t l = strlen(src);
	if (l >= n)
		return ccp_err_set(e, code, "%s: field \"%s\" is longer than %zu bytes", what, key, n - 1);
	memcpy(dst, src, l + 1);
	return 0;
}

/* Reads os/architecture/variant members of obj into p (missing ones stay ""). */
static int get_platform_fields(ccp_platform *p, const json_t *obj, const char *what, int code, ccp_err *e)
{
	const char *os = NULL, *arch = NULL, *variant = NULL;
	int r;

	memset(p, 0, sizeof(*p));
	if ((r = ccp_json_get_string(obj, "os", 0, &os, what, code, e)) < 0 ||
	    (r = ccp_json_get_string(obj, "architecture", 0, &arch, what, code, e)) < 0 ||
	    (r = ccp_json_get_string(obj, "variant", 0, &variant, what, code, e)) < 0)
		return r;
	if ((os && (r = copy_field(p->os, sizeof(p->os), os, what, "os", code, e)) < 0) ||
	    (arch && (r = copy_field(p->architecture, sizeof(p->architecture), arch, what, "architecture", code, e)) < 0) ||
	    (variant && (r = copy_field(p->variant, sizeof(p->variant), variant, what, "variant", code, e)) < 0))
		return r;
	return 0;
}

static void descriptor_clear(ccp_descriptor *d)
{
	free(d->media_type);
	memset(d, 0, sizeof(*d));
}

/* Validates one descriptor object; what names it in messages ("layer 3"). */
static int parse_descriptor(ccp_descriptor *d, const json_t *obj, int index_entry, const char *what, ccp_err *e)
{
	const char *mt = NULL, *dg = NULL;
	json_t *urls = NULL, *plat = NULL;
	ccp_err derr = CCP_ERR_INIT;
	int r;

	memset(d, 0, sizeof(*d));
	if (!json_is_object(obj))
		return ccp_err_set(e, CCP_EREGISTRY, "%s is not a JSON object", what);
	if ((r = ccp_json_get_string(obj, "mediaType", 1, &mt, what, CCP_EREGISTRY, e)) < 0 ||
	    (r = ccp_json_get_string(obj, "digest", 1, &dg, what, CCP_EREGISTRY, e)) < 0 ||
	    (r = ccp_json_get_uint(obj, "size", 1, &d->size, what, CCP_EREGISTRY, e)) < 0 ||
	    (r = ccp_json_get_array(obj, "urls", 0, &urls, what, CCP_EREGISTRY, e)) < 0)
		return r;
	if (mt[0] == '\0' || strlen(mt) > MEDIA_TYPE_MAX)
		return ccp_err_set(e, CCP_EREGISTRY, "%s: mediaType is empty or longer than %d bytes", what,
				   MEDIA_TYPE_MAX);
	if (ccp_digest_parse(&d->digest, dg, strlen(dg), &derr) < 0)
		return ccp_err_set(e, CCP_EREGISTRY, "%s: %s", what, derr.msg);
	if (urls) {
		size_t i;
		json_t *u;
		json_array_foreach(urls, i, u) {
			if (!json_is_string(u))
				return ccp_err_set(e, CCP_EREGISTRY, "%s: \"urls\" must hold strings", what);
		}
		d->has_urls = json_array_size(urls) > 0;
	}
	if (index_entry) {
		if ((r = ccp_json_get_object(obj, "platform", 0, &plat, what, CCP_EREGISTRY, e)) < 0)
			return r;
		if (plat) {
			if ((r = get_platform_fields(&d->platform, plat, what, CCP_EREGISTRY, e)) < 0)
				return r;
			/* Both are required by the spec; an entry without them cannot be selected. */
			if (d->platform.os[0] && d->platform.architecture[0]) {
				ccp_platform_normalize(&d->platform);
				d->has_platform = 1;
			} else {
				memset(&d->platform, 0, sizeof(d->platform));
			}
		}
	}
	if (!(d->media_type = strdup(mt)))
		return ccp_err_oom(e);
	return 0;
}

void ccp_manifest_free(ccp_manifest *m)
{
	if (!m)
		return;
	descriptor_clear(&m->config);
	for (size_t i = 0; i < m->n_layers; i++)
		descriptor_clear(&m->layers[i]);
	free(m->layers);
	memset(m, 0, sizeof(*m));
}

int ccp_manifest_parse(ccp_manifest *out, const void *data, size_t len, const char *content_type, ccp_err *e)
{
	ccp_manifest m = { 0 };
	json_t *root = NULL, *cfg = NULL, *layers = NULL;
	char what[64];
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = ccp_json_parse(&root, data, len, CCP_MANIFEST_MAX, "manifest", CCP_EREGISTRY, e)) < 0)
		return r;
	if ((r = detect_json(&m.kind, content_type, root, e)) < 0)
		goto done;
	if (!is_manifest_kind(m.kind)) {
		r = ccp_err_set(e, CCP_EREGISTRY, "expected an image manifest, got an %s", kind_name(m.kind));
		goto done;
	}
	if ((r = ccp_json_get_object(root, "config", 1, &cfg, "manifest", CCP_EREGISTRY, e)) < 0 ||
	    (r = ccp_json_get_array(root, "layers", 1, &layers, "manifest", CCP_EREGISTRY, e)) < 0)
		goto done;
	if ((r = parse_descriptor(&m.config, cfg, 0, "manifest config", e)) < 0)
		goto done;
	if (m.config.size > CCP_CONFIG_MAX) {
		r = ccp_err_set(e, CCP_EREGISTRY, "manifest config is %llu bytes, more than the limit of %u",
				(unsigned long long)m.config.size, CCP_CONFIG_MAX);
		goto done;
	}
	if (json_array_size(layers) > CCP_LAYERS_MAX) {
		r = ccp_err_set(e, CCP_EREGISTRY, "manifest has %zu layers, more than the limit of %d",
				json_array_size(layers), CCP_LAYERS_MAX);
		goto done;
	}
	m.layers = calloc(json_array_size(layers) ? json_array_size(layers) : 1, sizeof(*m.layers));
	if (!m.layers) {
		r = ccp_err_oom(e);
		goto done;
	}
	for (size_t i = 0; i < json_array_size(layers); i++) {
		snprintf(what, sizeof(what), "manifest layer %zu", i + 1);
		if ((r = parse_descriptor(&m.layers[i], json_array_get(layers, i), 0, what, e)) < 0)
			goto done;
		m.n_layers = i + 1;
	}
	*out = m;
	memset(&m, 0, sizeof(m));
	r = 0;
done:
	ccp_manifest_free(&m);
	json_decref(root);
	return r;
}

int ccp_manifest_is_image(const ccp_manifest *m)
{
	const char *mt = m->config.media_type;
	return mt && (strcmp(mt, CCP_MT_OCI_CONFIG) == 0 || strcmp(mt, CCP_MT_DOCKER_CONFIG) == 0);
}

int ccp_manifest_check_image(const ccp_manifest *m, ccp_err *e)
{
	if (ccp_manifest_is_image(m))
		return 0;
	return ccp_err_set(e, CCP_EREGISTRY,
			   "not a container image: the manifest's config has media type \"%.255s\" (an OCI artifact?)",
			   m->config.media_type ? m->config.media_type : "");
}

void ccp_index_free(ccp_index *ix)
{
	if (!ix)
		return;
	for (size_t i = 0; i < ix->n_manifests; i++)
		descriptor_clear(&ix->manifests[i]);
	free(ix->manifests);
	memset(ix, 0, sizeof(*ix));
}

static int is_attestation(const json_t *entry)
{
	json_t *ann = json_object_get(entry, "annotations");
	const char *t = json_string_value(json_object_get(ann, ANN_REFERENCE_TYPE));
	return t && strcmp(t, ATTESTATION_MANIFEST) == 0;
}

int ccp_index_parse(ccp_index *out, const void *data, size_t len, const char *content_type, ccp_err *e)
{
	ccp_index ix = { 0 };
	json_t *root = NULL, *list = NULL;
	char what[64];
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = ccp_json_parse(&root, data, len, CCP_MANIFEST_MAX, "image index", CCP_EREGISTRY, e)) < 0)
		return r;
	if ((r = detect_json(&ix.kind, content_type, root, e)) < 0)
		goto done;
	if (!is_index_kind(ix.kind)) {
		r = ccp_err_set(e, CCP_EREGISTRY, "expected an image index, got a %s", kind_name(ix.kind));
		goto done;
	}
	if ((r = ccp_json_get_array(root, "manifests", 1, &list, "image index", CCP_EREGISTRY, e)) < 0)
		goto done;
	if (json_array_size(list) > CCP_INDEX_ENTRIES_MAX) {
		r = ccp_err_set(e, CCP_EREGISTRY, "image index has %zu entries, more than the limit of %d",
				json_array_size(list), CCP_INDEX_ENTRIES_MAX);
		goto done;
	}
	ix.manifests = calloc(json_array_size(list) ? json_array_size(list) : 1, sizeof(*ix.manifests));
	if (!ix.manifests) {
		r = ccp_err_oom(e);
		goto done;
	}
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *entry = json_array_get(list, i);
		ccp_descriptor *d = &ix.manifests[i];
		snprintf(what, sizeof(what), "image index entry %zu", i + 1);
		if ((r = parse_descriptor(d, entry, 1, what, e)) < 0)
			goto done;
		ix.n_manifests = i + 1;
		if (d->size > CCP_MANIFEST_MAX) {
			r = ccp_err_set(e, CCP_EREGISTRY, "%s is %llu bytes, more than the manifest limit of %u", what,
					(unsigned long long)d->size, CCP_MANIFEST_MAX);
			goto done;
		}
		/* Build attestations (buildkit) are not runnable images: make them unselectable. */
		if (is_attestation(entry)) {
			d->has_platform = 0;
			memset(&d->platform, 0, sizeof(d->platform));
		}
	}
	*out = ix;
	memset(&ix, 0, sizeof(ix));
	r = 0;
done:
	ccp_index_free(&ix);
	json_decref(root);
	return r;
}

/* ---- platforms ---- */

/* Bounded copy; callers' sources fit (uname's machine is the only one that might not). */
static void set_str(char *dst, size_t n, const char *src)
{
	size_t l = strnlen(src, n - 1);
	memmove(dst, src, l);
	dst[l] = '\0';
}

/* "vN" or "N" with N in 1..99 -> N, else -1. */
static int variant_number(const char *v)
{
	int n = 0;

	if (*v == 'v')
		v++;
	if (!*v || strlen(v) > 2)
		return -1;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return -1;
		n = n * 10 + (*v - '0');
	}
	return n > 0 ? n : -1;
}

/* What containerd's platforms.Normalize does, plus uname-style "armv7l" machine names. */
void ccp_platform_normalize(ccp_platform *p)
{
	char *a = p->architecture, *v = p->variant;

	lower_in_place(p->os);
	lower_in_place(a);
	lower_in_place(v);
	if (strcmp(p->os, "macos") == 0)
		set_str(p->os, sizeof(p->os), "darwin");

	if (strcmp(a, "i386") == 0 || strcmp(a, "i486") == 0 || strcmp(a, "i586") == 0 || strcmp(a, "i686") == 0) {
		set_str(a, sizeof(p->architecture), "386");
		v[0] = '\0';
	} else if (strcmp(a, "x86_64") == 0 || strcmp(a, "x86-64") == 0 || strcmp(a, "amd64") == 0) {
		set_str(a, sizeof(p->architecture), "amd64");
		if (strcmp(v, "v1") == 0)
			v[0] = '\0';
	} else if (strcmp(a, "aarch64") == 0 || strcmp(a, "arm64") == 0) {
		set_str(a, sizeof(p->architecture), "arm64");
		if (strcmp(v, "8") == 0 || strcmp(v, "v8") == 0)
			v[0] = '\0';
	} else if (strcmp(a, "armhf") == 0) {
		set_str(a, sizeof(p->architecture), "arm");
		set_str(v, sizeof(p->variant), "v7");
	} else if (strcmp(a, "armel") == 0) {
		set_str(a, sizeof(p->architecture), "arm");
		set_str(v, sizeof(p->variant), "v6");
	} else if (strncmp(a, "armv", 4) == 0 && a[4] >= '5' && a[4] <= '8') {
		/* uname machines: armv5tel, armv6l, armv7l, armv8l (32-bit on a 64-bit core) */
		char n = a[4];
		set_str(a, sizeof(p->architecture), "arm");
		snprintf(v, sizeof(p->variant), "v%c", n);
	} else if (strcmp(a, "arm") == 0) {
		if (v[0] == '\0' || strcmp(v, "7") == 0)
			set_str(v, sizeof(p->variant), "v7");
		else if (strcmp(v, "5") == 0 || strcmp(v, "6") == 0 || strcmp(v, "8") == 0) {
			char n = v[0];
			snprintf(v, sizeof(p->variant), "v%c", n);
		}
	}
}

static int platform_name_ok(const char *s, size_t n)
{
	if (n == 0 || n >= 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = ascii_lower(s[i]);
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

int ccp_platform_parse(ccp_platform *out, const char *s, ccp_err *e)
{
	ccp_platform p;
	char *fields[3] = { p.os, p.architecture, p.variant };
	size_t nf = 0, start = 0, len;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	if (!s)
		return ccp_err_set(e, CCP_EINVALID, "invalid platform: empty");
	len = strnlen(s, 256);
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '/')
			continue;
		if (nf == 3 || !platform_name_ok(s + start, i - start))
			return ccp_err_set(e, CCP_EINVALID, "invalid platform \"%.200s\": expected OS/ARCH[/VARIANT]", s);
		memcpy(fields[nf], s + start, i - start);
		fields[nf][i - start] = '\0';
		nf++;
		start = i + 1;
	}
	if (nf < 2 || s[len] != '\0')
		return ccp_err_set(e, CCP_EINVALID, "invalid platform \"%.200s\": expected OS/ARCH[/VARIANT]", s);
	ccp_platform_normalize(&p);
	*out = p;
	return 0;
}

void ccp_platform_host(ccp_platform *out)
{
	struct utsname u;

	memset(out, 0, sizeof(*out));
	set_str(out->os, sizeof(out->os), "linux");
	if (uname(&u) == 0)
		set_str(out->architecture, sizeof(out->architecture), u.machine);
	ccp_platform_normalize(out);
}

char *ccp_platform_str(const ccp_platform *p, char *out, size_t n)
{
	if (p->variant[0])
		snprintf(out, n, "%s/%s/%s", p->os, p->architecture, p->variant);
	else
		snprintf(out, n, "%s/%s", p->os, p->architecture);
	return out;
}

static int platform_equal(const ccp_platform *a, const ccp_platform *b)
{
	return strcmp(a->os, b->os) == 0 && strcmp(a->architecture, b->architecture) == 0 &&
	       strcmp(a->variant, b->variant) == 0;
}

#define CANDIDATES_MAX 16

/*
 * The platforms want can run, best first: itself, then older variants of the same architecture
 * (arm v7 runs v6 and v5; amd64 v3 runs v2 and baseline; arm64 v9 runs v8). Unlike containerd we do
 * not fall back across architectures (arm64 -> arm, amd64 -> 386): guest kernels are commonly built
 * without 32-bit compat, and a rootfs that cannot execute is worse than a clear error.
 */
static size_t platform_candidates(const ccp_platform *want, ccp_platform *c)
{
	size_t n = 0;
	int v = variant_number(want->variant), lo = 0;

	c[n++] = *want;
	if (strcmp(want->architecture, "arm") == 0)
		lo = 5;
	else if (strcmp(want->architecture, "amd64") == 0)
		lo = 1;
	else if (strcmp(want->architecture, "arm64") == 0)
		lo = 8;
	if (!lo || v <= lo)
		return n;
	for (int k = v - 1; k >= lo && n < CANDIDATES_MAX; k--) {
		c[n] = *want;
		/* amd64 v1 and arm64 v8 are spelled "" after normalisation */
		if (k == lo && lo != 5)
			c[n].variant[0] = '\0';
		else
			snprintf(c[n].variant, sizeof(c[n].variant), "v%d", k);
		n++;
	}
	return n;
}

int ccp_platform_match(const ccp_platform *want, const ccp_platform *have)
{
	ccp_platform w = *want, h = *have, cands[CANDIDATES_MAX];
	size_t nc;

	ccp_platform_normalize(&w);
	ccp_platform_normalize(&h);
	nc = platform_candidates(&w, cands);
	for (size_t c = 0; c < nc; c++)
		if (platform_equal(&h, &cands[c]))
			return 1;
	return 0;
}

static int selectable(const ccp_descriptor *d)
{
	return d->has_platform &&
	       !(strcmp(d->platform.os, "unknown") == 0 && strcmp(d->platform.architecture, "unknown") == 0);
}

int ccp_index_select(const ccp_index *ix, const ccp_platform *want, size_t *out_idx, ccp_err *e)
{
	ccp_platform w = *want, cands[CANDIDATES_MAX];
	char wanted[200], avail[600], one[200];
	size_t nc, used = 0, shown = 0;

	ccp_platform_normalize(&w);
	nc = platform_candidates(&w, cands);
	for (size_t c = 0; c < nc; c++) {
		for (size_t i = 0; i < ix->n_manifests; i++) {
			if (selectable(&ix->manifests[i]) && platform_equal(&ix->manifests[i].platform, &cands[c])) {
				*out_idx = i;
				return 0;
			}
		}
	}

	avail[0] = '\0';
	for (size_t i = 0; i < ix->n_manifests; i++) {
		int k;
		if (!selectable(&ix->manifests[i]))
			continue;
		/* keep the message bounded, with room left to mark the list as cut */
		k = snprintf(avail + used, sizeof(avail) - used - 6, "%s%s", shown ? ", " : "",
			     ccp_platform_str(&ix->manifests[i].platform, one, sizeof(one)));
		if (k < 0 || (size_t)k >= sizeof(avail) - used - 6) {
			memcpy(avail + used, ", ...", 6);
			break;
		}
		used += (size_t)k;
		shown++;
	}
	return ccp_err_set(e, CCP_EREGISTRY, "no image for platform %s in the image index; available: %s",
			   ccp_platform_str(&w, wanted, sizeof(wanted)), shown ? avail : "none");
}

/* ---- image config ---- */

void ccp_image_config_free(ccp_image_config *c)
{
	if (!c)
		return;
	free(c->diff_ids);
	memset(c, 0, sizeof(*c));
}

int ccp_image_config_parse(ccp_image_config *out, const void *data, size_t len, ccp_err *e)
{
	ccp_image_config c = { 0 };
	json_t *root = NULL, *rootfs = NULL, *ids = NULL;
	const char *type = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = ccp_json_parse(&root, data, len, CCP_CONFIG_MAX, "image config", CCP_EREGISTRY, e)) < 0)
		return r;
	if (!json_is_object(root)) {
		r = ccp_err_set(e, CCP_EREGISTRY, "image config is not a JSON object");
		goto done;
	}
	if ((r = get_platform_fields(&c.platform, root, "image config", CCP_EREGISTRY, e)) < 0)
		goto done;
	ccp_platform_normalize(&c.platform);
	if ((r = ccp_json_get_object(root, "rootfs", 1, &rootfs, "image config", CCP_EREGISTRY, e)) < 0 ||
	    (r = ccp_json_get_string(rootfs, "type", 1, &type, "image config rootfs", CCP_EREGISTRY, e)) < 0 ||
	    (r = ccp_json_get_array(rootfs, "diff_ids", 1, &ids, "image config rootfs", CCP_EREGISTRY, e)) < 0)
		goto done;
	if (strcmp(type, "layers") != 0) {
		r = ccp_err_set(e, CCP_EREGISTRY, "image config: rootfs type \"%.64s\" is not \"layers\"", type);
		goto done;
	}
	if (json_array_size(ids) > CCP_LAYERS_MAX) {
		r = ccp_err_set(e, CCP_EREGISTRY, "image config has %zu diff_ids, more than the limit of %d",
				json_array_size(ids), CCP_LAYERS_MAX);
		goto done;
	}
	c.diff_ids = calloc(json_array_size(ids) ? json_array_size(ids) : 1, sizeof(*c.diff_ids));
	if (!c.diff_ids) {
		r = ccp_err_oom(e);
		goto done;
	}
	for (size_t i = 0; i < json_array_size(ids); i++) {
		json_t *s = json_array_get(ids, i);
		ccp_err derr = CCP_ERR_INIT;
		if (!json_is_string(s)) {
			r = ccp_err_set(e, CCP_EREGISTRY, "image config: diff_id %zu is not a string", i + 1);
			goto done;
		}
		if (ccp_digest_parse(&c.diff_ids[i], json_string_value(s), json_string_length(s), &derr) < 0) {
			r = ccp_err_set(e, CCP_EREGISTRY, "image config: diff_id %zu: %s", i + 1, derr.msg);
			goto done;
		}
		c.n_diff_ids = i + 1;
	}
	*out = c;
	memset(&c, 0, sizeof(c));
	r = 0;
done:
	ccp_image_config_free(&c);
	json_decref(root);
	return r;
}

/* ---- layer media types ---- */

static const struct {
	const char *media_type;
	ccp_compression comp;
} layer_types[] = {
	{ "application/vnd.oci.image.layer.v1.tar", CCP_COMP_NONE },
	{ "application/vnd.oci.image.layer.v1.tar+gzip", CCP_COMP_GZIP },
	{ "application/vnd.oci.image.layer.v1.tar+zstd", CCP_COMP_ZSTD },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar", CCP_COMP_NONE },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", CCP_COMP_GZIP },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", CCP_COMP_ZSTD },
	{ "application/vnd.docker.image.rootfs.diff.tar.gzip", CCP_COMP_GZIP },
	{ "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", CCP_COMP_GZIP },
	/* Docker's ".tar" types are used for compressed blobs too: sniff the magic. */
	{ "application/vnd.docker.image.rootfs.diff.tar", CCP_COMP_SNIFF },
	{ "application/vnd.docker.image.rootfs.foreign.diff.tar", CCP_COMP_SNIFF },
	{ "application/vnd.docker.image.rootfs.diff.tar.zstd", CCP_COMP_ZSTD },
};

#define ENCRYPTED_SUFFIX "+encrypted"

int ccp_layer_media_type(const char *media_type, ccp_compression *out, int *encrypted, ccp_err *e)
{
	size_t len, sl = strlen(ENCRYPTED_SUFFIX);
	int enc = 0;

	if (!media_type)
		return ccp_err_set(e, CCP_EREGISTRY, "layer has no media type");
	len = strnlen(media_type, MEDIA_TYPE_MAX + 1);
	if (len > sl && memcmp(media_type + len - sl, ENCRYPTED_SUFFIX, sl) == 0) {
		enc = 1;
		len -= sl;
	}
	for (size_t i = 0; i < sizeof(layer_types) / sizeof(layer_types[0]); i++) {
		if (strlen(layer_types[i].media_type) == len && memcmp(layer_types[i].media_type, media_type, len) == 0) {
			*out = layer_types[i].comp;
			*encrypted = enc;
			return 0;
		}
	}
	return ccp_err_set(e, CCP_EREGISTRY, "unsupported layer media type \"%.255s\"", media_type);
}
