/* Sigstore attachments: the cosign .sig tag and OCI referrers, turned into stored sigstore signatures. */
#include "registry/attachments.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "util/json.h"

#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define SIMPLESIGNING "application/vnd.dev.cosign.simplesigning.v1+json"
#define BUNDLE_PREFIX "application/vnd.dev.sigstore.bundle"
#define OCI_EMPTY "application/vnd.oci.empty.v1+json"

static int is_bundle(const char *mt)
{
	return strncmp(mt, BUNDLE_PREFIX, strlen(BUNDLE_PREFIX)) == 0;
}

typedef struct fetch_ctx {
	ccp_sig_list *out;
	ccp_registry *r;
	const ccp_digest *d;
	char dstr[CCP_DIGEST_STR_MAX];
	size_t total, count, referrers;
} fetch_ctx;

/* A descriptor's digest and size, validated before they are used in a URL (CVE-2024-3727). */
static int descriptor(const json_t *desc, ccp_digest *d, uint64_t *size, uint64_t max, const char *what, ccp_err *e)
{
	const char *ds = NULL;
	int r;

	if ((r = ccp_json_get_string(desc, "digest", 1, &ds, what, CCP_EREGISTRY, e)) ||
	    (r = ccp_json_get_uint(desc, "size", 1, size, what, CCP_EREGISTRY, e)))
		return r;
	if ((r = ccp_digest_parse(d, ds, strlen(ds), e)))
		return ccp_err_wrap(e, "%s", what);
	if (*size > max)
		return ccp_err_set(e, CCP_EREGISTRY, "%s: %s is %llu bytes, more than the limit of %llu", what, ds,
				   (unsigned long long)*size, (unsigned long long)max);
	return 0;
}

static int check_digest(const ccp_buf *b, const ccp_digest *want, uint64_t size, const char *what, ccp_err *e)
{
	ccp_digest got;
	char ws[CCP_DIGEST_STR_MAX];
	int r;

	if ((r = ccp_digest_compute(&got, want->algo, b->data, b->len, e)))
		return r;
	if (!ccp_digest_equal(&got, want) || b->len != size)
		return ccp_err_set(e, CCP_EINTEGRITY, "%s: content does not match its descriptor %s (%zu bytes)", what,
				   ccp_digest_str(want, ws), b->len);
	return 0;
}

/* Appends "\0sigstore-json\n" + {"mimeType", "payload", "annotations"} for one layer. */
static int append_sig(fetch_ctx *c, const char *mime, const ccp_buf *payload, json_t *annotations, ccp_err *e)
{
	ccp_buf blob = CCP_BUF_INIT(0);
	unsigned char *b64 = NULL;
	json_t *j = NULL;
	char *text = NULL;
	ccp_buf *nv;
	int r = 0;

	if (!(b64 = malloc(payload->len / 3 * 4 + 8)))
		return ccp_err_oom(e);
	EVP_EncodeBlock(b64, (const unsigned char *)(payload->data ? payload->data : ""), (int)payload->len);
	j = json_pack("{s:s, s:s, s:O}", "mimeType", mime, "payload", (char *)b64, "annotations", annotations);
	if (!j || !(text = json_dumps(j, JSON_COMPACT)) || ccp_buf_append(&blob, "\0sigstore-json\n", 15) ||
	    ccp_buf_puts(&blob, text) || !(nv = realloc(c->out->v, (c->out->n + 1) * sizeof(*nv)))) {
		ccp_buf_free(&blob);
		r = ccp_err_oom(e);
		goto out;
	}
	c->out->v = nv;
	c->out->v[c->out->n++] = blob;
out:
	free(text);
	json_decref(j);
	free(b64);
	return r;
}

/* Each layer of an attachment manifest becomes a signature; only_signatures skips other layer types. */
static int take_layers(fetch_ctx *c, const json_t *man, int only_signatures, const char *what, ccp_err *e)
{
	json_t *layers = NULL, *layer, *ann;
	size_t i;
	int r;

	if ((r = ccp_json_get_array(man, "layers", 1, &layers, what, CCP_EREGISTRY, e)))
		return r;
	json_array_foreach(layers, i, layer) {
		const char *mt = NULL, *key;
		char ds[CCP_DIGEST_STR_MAX];
		ccp_buf payload = CCP_BUF_INIT(CCP_ATTACH_PAYLOAD_MAX);
		ccp_digest d;
		uint64_t size;
		json_t *v, *copy;

		if ((r = ccp_json_get_string(layer, "mediaType", 1, &mt, what, CCP_EREGISTRY, e)))
			return r;
		/* A Sigstore bundle referrer has the bundle as its one layer (cosign pkg/oci/remote/signatures.go
		 * Bundle; @sigstore/oci); simple-signing layers are legacy signatures pushed as referrers. */
		if (only_signatures && strcmp(mt, SIMPLESIGNING) != 0 && !(is_bundle(mt) && json_array_size(layers) == 1))
			continue;
		if (c->count >= CCP_ATTACH_MAX_SIGS)
			return ccp_err_set(e, CCP_EREGISTRY, "%s: more than %d signatures", what, CCP_ATTACH_MAX_SIGS);
		if ((r = descriptor(layer, &d, &size, is_bundle(mt) ? CCP_ATTACH_BUNDLE_MAX : CCP_ATTACH_PAYLOAD_MAX, what,
				    e)))
			return r;
		if (c->total + size > CCP_ATTACH_TOTAL_MAX)
			return ccp_err_set(e, CCP_EREGISTRY, "%s: signatures larger than %u bytes in total", what,
					   CCP_ATTACH_TOTAL_MAX);
		ann = json_object_get(layer, "annotations");
		if (ann && !json_is_object(ann))
			return ccp_err_set(e, CCP_EREGISTRY, "%s: layer annotations are not an object", what);
		if (!(copy = json_object()))
			return ccp_err_oom(e);
		json_object_foreach(ann, key, v) {
			/* Annotation values are strings (OCI image spec); anything else makes the manifest invalid. */
			if (!json_is_string(v)) {
				json_decref(copy);
				return ccp_err_set(e, CCP_EREGISTRY, "%s: annotation \"%.100s\" is not a string", what, key);
			}
			if (json_object_set(copy, key, v)) {
				json_decref(copy);
				return ccp_err_oom(e);
			}
		}
		r = ccp_registry_get_blob(c->r, ccp_digest_str(&d, ds), (size_t)size, &payload, e);
		if (!r)
			r = check_digest(&payload, &d, size, what, e);
		if (!r) {
			c->total += payload.len;
			c->count++;
			r = append_sig(c, mt, &payload, copy, e);
		}
		json_decref(copy);
		ccp_buf_free(&payload);
		if (r)
			return r;
	}
	return 0;
}

/* The cosign tag sha256-<hex>.sig: an OCI manifest whose layers are the signatures. */
static int from_sig_tag(fetch_ctx *c, ccp_err *e)
{
	ccp_buf body = CCP_BUF_INIT(0);
	char tag[CCP_DIGEST_STR_MAX + 8], what[CCP_DIGEST_STR_MAX + 64];
	char *mt = NULL;
	json_t *j = NULL;
	int found, r;

	snprintf(tag, sizeof(tag), "sha256-%s.sig", c->d->hex);
	snprintf(what, sizeof(what), "sigstore attachment manifest %s", tag);
	if ((r = ccp_registry_get_optional(c->r, "manifests", tag, OCI_MANIFEST, CCP_ATTACH_MANIFEST_MAX, &body, &mt,
					   &found, e)) || !found)
		goto out;
	if (!mt || strcmp(mt, OCI_MANIFEST) != 0) {
		r = ccp_err_set(e, CCP_EREGISTRY, "%s: unexpected MIME type \"%.100s\"", what, mt ? mt : "");
		goto out;
	}
	if (!(r = ccp_json_parse(&j, body.data, body.len, CCP_ATTACH_MANIFEST_MAX, what, CCP_EREGISTRY, e)))
		r = take_layers(c, j, 0, what, e);
out:
	json_decref(j);
	free(mt);
	ccp_buf_free(&body);
	return r;
}

/* One referrer: a manifest (checked against its digest) whose subject is the image. */
static int from_referrer(fetch_ctx *c, const json_t *desc, ccp_err *e)
{
	ccp_buf body = CCP_BUF_INIT(CCP_ATTACH_MANIFEST_MAX);
	char ds[CCP_DIGEST_STR_MAX], what[2 * CCP_DIGEST_STR_MAX + 64];
	char *mt = NULL, *cd = NULL;
	const char *subject = NULL;
	json_t *j = NULL, *sub = NULL;
	ccp_digest d;
	uint64_t size;
	int r;

	snprintf(what, sizeof(what), "referrers of %s", c->dstr);
	if ((r = descriptor(desc, &d, &size, CCP_ATTACH_MANIFEST_MAX, what, e)))
		return r;
	snprintf(what, sizeof(what), "referrer %s of %s", ccp_digest_str(&d, ds), c->dstr);
	if ((r = ccp_registry_get_manifest(c->r, ds, CCP_ATTACH_MANIFEST_MAX, &body, &mt, &cd, e)) ||
	    (r = check_digest(&body, &d, size, what, e)) ||
	    (r = ccp_json_parse(&j, body.data, body.len, CCP_ATTACH_MANIFEST_MAX, what, CCP_EREGISTRY, e)) ||
	    (r = ccp_json_get_object(j, "subject", 1, &sub, what, CCP_EREGISTRY, e)) ||
	    (r = ccp_json_get_string(sub, "digest", 1, &subject, what, CCP_EREGISTRY, e)))
		goto out;
	/* The fallback tag is only an unauthenticated list: keep what really refers to this image. */
	if (strcmp(subject, c->dstr) == 0)
		r = take_layers(c, j, 1, what, e);
out:
	json_decref(j);
	free(mt);
	free(cd);
	ccp_buf_free(&body);
	return r;
}

/* OCI 1.1 referrers API, else its tag fallback sha256-<hex>: an index of manifests naming the image. */
static int from_referrers(fetch_ctx *c, ccp_err *e)
{
	ccp_buf body = CCP_BUF_INIT(0);
	char tag[CCP_DIGEST_STR_MAX + 8], what[CCP_DIGEST_STR_MAX + 64];
	char *mt = NULL;
	json_t *j = NULL, *mans = NULL, *desc;
	size_t i;
	int found, r;

	snprintf(what, sizeof(what), "referrers of %s", c->dstr);
	if ((r = ccp_registry_get_optional(c->r, "referrers", c->dstr, OCI_INDEX, CCP_ATTACH_MANIFEST_MAX, &body, &mt,
					   &found, e)))
		goto out;
	/* An answer that is not an OCI index is a registry without the API (go-containerregistry does the same). */
	if (found && (!mt || strcmp(mt, OCI_INDEX) != 0)) {
		found = 0;
		free(mt);
		mt = NULL;
	}
	if (!found) {
		snprintf(tag, sizeof(tag), "sha256-%s", c->d->hex);
		if ((r = ccp_registry_get_optional(c->r, "manifests", tag, OCI_INDEX, CCP_ATTACH_MANIFEST_MAX, &body,
						   &mt, &found, e)) || !found)
			goto out;
	}
	if ((r = ccp_json_parse(&j, body.data, body.len, CCP_ATTACH_MANIFEST_MAX, what, CCP_EREGISTRY, e)) ||
	    (r = ccp_json_get_array(j, "manifests", 1, &mans, what, CCP_EREGISTRY, e)))
		goto out;
	if (json_array_size(mans) > CCP_ATTACH_MAX_LISTED) {
		r = ccp_err_set(e, CCP_EREGISTRY, "%s: more than %d referrers", what, CCP_ATTACH_MAX_LISTED);
		goto out;
	}
	json_array_foreach(mans, i, desc) {
		const char *dmt = NULL, *at = NULL;
		if ((r = ccp_json_get_string(desc, "mediaType", 1, &dmt, what, CCP_EREGISTRY, e)) ||
		    (r = ccp_json_get_string(desc, "artifactType", 0, &at, what, CCP_EREGISTRY, e)))
			goto out;
		if (strcmp(dmt, OCI_MANIFEST) != 0)
			continue;
		/*
		 * The artifactType filter: SBOMs, provenance in other formats and the like are not opened. The
		 * listed type is only a hint (old writers put the empty type there), so those are opened too, and
		 * what counts is the manifest's own layer.
		 */
		if (at && !is_bundle(at) && strcmp(at, SIMPLESIGNING) != 0 && strcmp(at, OCI_EMPTY) != 0)
			continue;
		if (++c->referrers > CCP_ATTACH_MAX_REFERRERS) {
			r = ccp_err_set(e, CCP_EREGISTRY, "%s: more than %d signature referrers", what,
					CCP_ATTACH_MAX_REFERRERS);
			goto out;
		}
		if ((r = from_referrer(c, desc, e)))
			goto out;
	}
out:
	json_decref(j);
	free(mt);
	ccp_buf_free(&body);
	return r;
}

int ccp_attachments_fetch(ccp_sig_list *out, ccp_registry *r, const ccp_digest *d, ccp_err *e)
{
	fetch_ctx c = { out, r, d, { 0 }, 0, 0, 0 };
	int rc;

	if (d->algo != CCP_SHA256)
		return ccp_err_set(e, CCP_EINVALID, "sigstore attachments are looked up by sha256 digest");
	ccp_digest_str(d, c.dstr);
	if ((rc = from_sig_tag(&c, e)) || (rc = from_referrers(&c, e)))
		return ccp_err_wrap(e, "sigstore attachments of %s", c.dstr);
	return 0;
}
