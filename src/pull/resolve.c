/*
 * From a reference to a verified manifest (registries.conf endpoints, digests, platform), then, once the
 * policy has accepted that manifest, to its verified config.
 */
#include "pull/pull_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_REGISTRIES_CONF "/etc/containers/registries.conf"

typedef struct endpoint {
	char *host;        /* host[:port] to contact */
	char *repository;  /* path on that host */
	int insecure;
} endpoint;

static void endpoints_free(endpoint *eps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(eps[i].host);
		free(eps[i].repository);
	}
	free(eps);
}

/* Splits "host/path" (a registries.conf location plus the rest of the repository). */
static int endpoint_set(endpoint *ep, const char *location, const char *rest, int insecure, ccp_err *e)
{
	ccp_buf full = CCP_BUF_INIT(CCP_REF_MAX);
	const char *slash;

	if (ccp_buf_puts(&full, location) || ccp_buf_puts(&full, rest)) {
		ccp_buf_free(&full);
		return ccp_err_set(e, CCP_EINVALID, "registries.conf location \"%s\" is too long", location);
	}
	slash = strchr(full.data, '/');
	if (!slash || slash == full.data || !slash[1]) {
		int r = ccp_err_set(e, CCP_EINVALID, "registries.conf maps the image to \"%s\", which has no repository",
				    full.data);
		ccp_buf_free(&full);
		return r;
	}
	ep->host = strndup(full.data, (size_t)(slash - full.data));
	ep->repository = strdup(slash + 1);
	ep->insecure = insecure;
	ccp_buf_free(&full);
	if (!ep->host || !ep->repository)
		return ccp_err_oom(e);
	return 0;
}

/* registries.conf from a path, or from a kbs:// resource. */
static int load_conf(ccp_registries_conf *conf, const char *conf_path, const ccp_resource_src *src, ccp_err *e)
{
	ccp_buf b = CCP_BUF_INIT(0);
	int r;

	if (!ccp_resource_is_kbs(conf_path))
		return ccp_registries_conf_load(conf, conf_path, e);
	if ((r = ccp_resource_read(&b, conf_path, 0, src, "registries.conf", e)))
		return r;
	if ((r = ccp_registries_conf_parse(conf, b.data, b.len, e)))
		ccp_err_wrap(e, "registries.conf %.256s", conf_path);
	ccp_buf_free_secure(&b);
	return r;
}

/* The endpoints to try, mirrors first, as containers/image orders them. */
static int endpoints_for(endpoint **out, size_t *n_out, const ccp_ref *ref, const char *conf_path, int explicit_conf,
			 const ccp_resource_src *src, ccp_err *e)
{
	ccp_registries_conf conf = { 0 };
	const ccp_reg_entry *ent = NULL;
	char *repo = ccp_ref_repository(ref);
	endpoint *eps = NULL;
	size_t n = 0;
	int r = 0, have_conf = 0;

	*out = NULL;
	*n_out = 0;
	if (!repo)
		return ccp_err_oom(e);
	if (conf_path && (explicit_conf || access(conf_path, F_OK) == 0)) {
		if ((r = load_conf(&conf, conf_path, src, e)) != 0) {
			free(repo);
			return r;
		}
		have_conf = 1;
		ent = ccp_registries_conf_find(&conf, repo);
	}
	if (ent && ent->blocked) {
		r = ccp_err_set(e, CCP_EPOLICY, "registry of %s is blocked by %s", repo, conf_path);
		goto done;
	}
	eps = calloc((ent ? ent->n_mirrors : 0) + 1, sizeof(*eps));
	if (!eps) {
		r = ccp_err_oom(e);
		goto done;
	}
	if (ent && ent->prefix[0] != '*') {
		const char *rest = repo + strlen(ent->prefix);
		for (size_t i = 0; i < ent->n_mirrors && r == 0; i++)
			r = endpoint_set(&eps[n++], ent->mirrors[i].location, rest, ent->mirrors[i].insecure, e);
		if (r == 0)
			r = endpoint_set(&eps[n++], ent->location ? ent->location : ent->prefix, rest, ent->insecure, e);
	} else {
		eps[n].host = strdup(ccp_ref_registry_host(ref));
		eps[n].repository = strdup(ref->path);
		eps[n].insecure = ent ? ent->insecure : 0;
		n++;
		if (!eps[0].host || !eps[0].repository)
			r = ccp_err_oom(e);
	}
done:
	if (r) {
		endpoints_free(eps, n);
	} else {
		*out = eps;
		*n_out = n;
	}
	if (have_conf)
		ccp_registries_conf_free(&conf);
	free(repo);
	return r;
}

/* Checks body against the digest it must have; returns the digest computed with the same algorithm. */
static int verify_digest(const ccp_buf *body, const ccp_digest *want, ccp_digest *got, const char *what,
			 const char *image, ccp_err *e)
{
	char a[CCP_DIGEST_STR_MAX], b[CCP_DIGEST_STR_MAX];
	int r = ccp_digest_compute(got, want->algo, body->data, body->len, e);

	if (r)
		return r;
	if (!ccp_digest_equal(want, got))
		return ccp_err_set(e, CCP_EINTEGRITY, "%s of %s does not match its digest: expected %s, got %s", what,
				   image, ccp_digest_str(want, a), ccp_digest_str(got, b));
	return 0;
}

/*
 * Fetches a manifest by tag or digest and verifies it: against the reference's digest when pulling by
 * digest (or a descriptor's), and against Docker-Content-Digest when the registry sends one.
 */
static int fetch_manifest(resolved_image *rv, const char *reference, const ccp_digest *expected,
			  uint64_t expected_size, ccp_buf *body, char **media_type, ccp_digest *digest, ccp_err *e)
{
	char *header_digest = NULL;
	ccp_digest hd, got;
	int r;

	*media_type = NULL;
	if ((r = ccp_registry_get_manifest(rv->reg, reference, CCP_MANIFEST_MAX, body, media_type, &header_digest, e)))
		return r;
	if (expected_size && body->len != expected_size) {
		r = ccp_err_set(e, CCP_EINTEGRITY, "manifest %s of %s is %zu bytes; its descriptor says %llu", reference,
				rv->image, body->len, (unsigned long long)expected_size);
		goto done;
	}
	if (expected) {
		if ((r = verify_digest(body, expected, digest, "manifest", rv->image, e)))
			goto done;
	} else if ((r = ccp_digest_compute(digest, CCP_SHA256, body->data, body->len, e))) {
		goto done;
	}
	if (header_digest) {
		if (ccp_digest_parse(&hd, header_digest, strlen(header_digest), NULL) != 0) {
			r = ccp_err_set(e, CCP_EREGISTRY, "registry sent an invalid Docker-Content-Digest \"%.80s\" for %s",
					header_digest, rv->image);
			goto done;
		}
		if ((r = verify_digest(body, &hd, &got, "manifest (Docker-Content-Digest)", rv->image, e)))
			goto done;
	}
done:
	free(header_digest);
	if (r) {
		free(*media_type);
		*media_type = NULL;
	}
	return r;
}

static int want_platform(ccp_platform *want, const ccp_pull_options *o, ccp_err *e)
{
	if (o->platform && o->platform[0])
		return ccp_platform_parse(want, o->platform, e);
	ccp_platform_host(want);
	return 0;
}

static int resolve_index(resolved_image *rv, const ccp_pull_options *o, ccp_err *e)
{
	ccp_index ix = { 0 };
	ccp_platform want;
	size_t pick;
	char *mt = NULL, ref[CCP_DIGEST_STR_MAX];
	int r;

	if ((r = ccp_index_parse(&ix, rv->top_raw.data, rv->top_raw.len, rv->top_media_type, e)))
		return ccp_err_wrap(e, "index of %s", rv->image);
	if (!(rv->platforms = calloc(ix.n_manifests + 1, sizeof(char *)))) {
		r = ccp_err_oom(e);
		goto done;
	}
	for (size_t i = 0; i < ix.n_manifests; i++) {
		char p[200];
		if (!ix.manifests[i].has_platform)
			continue;
		if (!(rv->platforms[rv->n_platforms++] = strdup(ccp_platform_str(&ix.manifests[i].platform, p, sizeof(p))))) {
			r = ccp_err_oom(e);
			goto done;
		}
	}
	if ((r = want_platform(&want, o, e)))
		goto done;
	if ((r = ccp_index_select(&ix, &want, &pick, e))) {
		ccp_err_wrap(e, "%s", rv->image);
		goto done;
	}
	ccp_digest_str(&ix.manifests[pick].digest, ref);
	r = fetch_manifest(rv, ref, &ix.manifests[pick].digest, ix.manifests[pick].size, &rv->man_raw, &mt,
			   &rv->man_digest, e);
	if (r)
		goto done;
	r = ccp_manifest_parse(&rv->man, rv->man_raw.data, rv->man_raw.len, mt, e);
	if (r)
		ccp_err_wrap(e, "manifest %s of %s", ref, rv->image);
done:
	free(mt);
	ccp_index_free(&ix);
	return r;
}

/* The image config, from the store when it holds it; nothing is written to the store here. */
static int fetch_config(resolved_image *rv, ccp_store *store, ccp_err *e)
{
	const ccp_descriptor *d = &rv->man.config;
	char ds[CCP_DIGEST_STR_MAX];
	ccp_digest got;
	int r;

	ccp_digest_str(&d->digest, ds);
	if ((r = ccp_manifest_check_image(&rv->man, e)))
		return ccp_err_wrap(e, "%s", rv->image);
	if (d->size > CCP_CONFIG_MAX)
		return ccp_err_set(e, CCP_EREGISTRY, "config %s of %s is %llu bytes, more than the limit of %u", ds,
				   rv->image, (unsigned long long)d->size, CCP_CONFIG_MAX);
	rv->cfg_in_store = store && ccp_store_get_blob(store, &d->digest, CCP_CONFIG_MAX, &rv->cfg_raw, e) == 0;
	if (!rv->cfg_in_store) {
		ccp_buf_free(&rv->cfg_raw);
		rv->cfg_raw.max = CCP_CONFIG_MAX;
		if ((r = ccp_registry_get_blob(rv->reg, ds, (size_t)d->size, &rv->cfg_raw, e)))
			return ccp_err_wrap(e, "config of %s", rv->image);
		if ((r = verify_digest(&rv->cfg_raw, &d->digest, &got, "config", rv->image, e)))
			return r;
	}
	if (rv->cfg_raw.len != d->size)
		return ccp_err_set(e, CCP_EINTEGRITY, "config %s of %s is %zu bytes; the manifest says %llu", ds,
				   rv->image, rv->cfg_raw.len, (unsigned long long)d->size);
	if ((r = ccp_image_config_parse(&rv->cfg, rv->cfg_raw.data, rv->cfg_raw.len, e)))
		return ccp_err_wrap(e, "config %s of %s", ds, rv->image);
	if ((r = ccp_json_parse(&rv->cfg_json, rv->cfg_raw.data, rv->cfg_raw.len, CCP_CONFIG_MAX, "image config",
				CCP_EREGISTRY, e)))
		return r;
	if (rv->cfg.n_diff_ids != rv->man.n_layers)
		return ccp_err_set(e, CCP_EREGISTRY, "%s: the manifest has %zu layers but the config lists %zu diff_ids",
				   rv->image, rv->man.n_layers, rv->cfg.n_diff_ids);
	rv->platform = rv->cfg.platform;
	return 0;
}

int ccp_resolve_config(resolved_image *rv, ccp_store *store, ccp_err *e)
{
	return fetch_config(rv, store, e);
}

int ccp_check_platform(const resolved_image *rv, const ccp_pull_options *o, ccp_err *e)
{
	ccp_platform want;
	char a[200], b[200];
	int r;

	/* An index entry was chosen by its own platform; a config that names none cannot be checked. */
	if (rv->top_kind == CCP_KIND_OCI_INDEX || rv->top_kind == CCP_KIND_DOCKER_LIST || !rv->cfg.platform.os[0] ||
	    !rv->cfg.platform.architecture[0])
		return 0;
	if ((r = want_platform(&want, o, e)))
		return r;
	if (ccp_platform_match(&want, &rv->cfg.platform))
		return 0;
	ccp_platform_normalize(&want);
	return ccp_err_set(e, CCP_EREGISTRY, "%s is an image for %s, not for %s%s", rv->image,
			   ccp_platform_str(&rv->cfg.platform, a, sizeof(a)), ccp_platform_str(&want, b, sizeof(b)),
			   o->platform && o->platform[0] ? "" : " (this machine; pick another with --platform)");
}

static int resolve_at(resolved_image *rv, const endpoint *ep, const ccp_pull_options *o, const ccp_buf *auth,
		      uint64_t deadline_ms, ccp_err *e)
{
	ccp_registry_opts ro = { 0 };
	char reference[CCP_DIGEST_STR_MAX + 128];
	const char *auth_host = strcmp(ep->host, "registry-1.docker.io") == 0 ? "docker.io" : ep->host;
	int r;

	ro.tls_verify = o->registry.tls_verify;
	ro.insecure = ep->insecure;
	ro.ca_file = rv->has_ca_fd ? rv->ca_path : o->registry.ca_file;
	ro.authfile = o->registry.authfile;
	ro.authfile_data = auth;
	ro.creds = o->registry.creds;
	ro.retries = o->registry.retries;
	ro.deadline_ms = deadline_ms;
	ro.cancel = rv->cancel;
	if ((r = ccp_registry_new(&rv->reg, ep->host, auth_host, ep->repository, &ro, e)))
		return r;
	if (rv->ref.has_digest)
		ccp_digest_str(&rv->ref.digest, reference);
	else
		snprintf(reference, sizeof(reference), "%s", rv->ref.tag);
	r = fetch_manifest(rv, reference, rv->ref.has_digest ? &rv->ref.digest : NULL, 0, &rv->top_raw,
			   &rv->top_media_type, &rv->top_digest, e);
	if (r)
		return r;
	if ((r = ccp_manifest_detect(&rv->top_kind, rv->top_media_type, rv->top_raw.data, rv->top_raw.len, e)))
		return ccp_err_wrap(e, "manifest of %s", rv->image);
	if (rv->top_kind == CCP_KIND_OCI_INDEX || rv->top_kind == CCP_KIND_DOCKER_LIST) {
		r = resolve_index(rv, o, e);
	} else {
		rv->man_digest = rv->top_digest;
		if (ccp_buf_append(&rv->man_raw, rv->top_raw.data, rv->top_raw.len))
			return ccp_err_oom(e);
		r = ccp_manifest_parse(&rv->man, rv->man_raw.data, rv->man_raw.len, rv->top_media_type, e);
		if (r)
			ccp_err_wrap(e, "manifest of %s", rv->image);
	}
	return r;
}

static void reset_fetched(resolved_image *rv)
{
	ccp_registry_free(rv->reg);
	rv->reg = NULL;
	ccp_buf_free(&rv->top_raw);
	ccp_buf_free(&rv->man_raw);
	ccp_buf_free(&rv->cfg_raw);
	free(rv->top_media_type);
	rv->top_media_type = NULL;
	for (size_t i = 0; i < rv->n_platforms; i++)
		free(rv->platforms[i]);
	free(rv->platforms);
	rv->platforms = NULL;
	rv->n_platforms = 0;
	ccp_manifest_free(&rv->man);
	memset(&rv->man, 0, sizeof(rv->man));
	ccp_image_config_free(&rv->cfg);
	memset(&rv->cfg, 0, sizeof(rv->cfg));
	json_decref(rv->cfg_json);
	rv->cfg_json = NULL;
	free(rv->endpoint);
	rv->endpoint = NULL;
}

int ccp_resolve_image(resolved_image *rv, const char *image, const ccp_pull_options *o, const ccp_cancel *cancel,
		      ccp_err *e)
{
	endpoint *eps = NULL;
	size_t n_eps = 0;
	const char *conf = o->registry.registries_conf ? o->registry.registries_conf : DEFAULT_REGISTRIES_CONF;
	ccp_pull_resources res;
	ccp_buf auth = CCP_BUF_INIT(0);
	/* one time limit for the whole pull, mirrors included; layers use the same handle */
	uint64_t deadline_ms = cancel ? cancel->deadline_ms : ccp_registry_deadline(o->timeout_s);
	int r;

	memset(rv, 0, sizeof(*rv));
	rv->top_raw.max = rv->man_raw.max = CCP_MANIFEST_MAX;
	rv->cfg_raw.max = CCP_CONFIG_MAX;
	if ((r = ccp_ref_parse(&rv->ref, image, e)))
		return r;
	rv->deadline_ms = deadline_ms;
	rv->cancel = cancel;
	if ((r = ccp_pull_resources_init(&res, o, cancel, e)))
		return r;
	res.kc.deadline_ms = deadline_ms;
	/* A missing default auth file means no credentials; a named one must exist (as in skopeo). */
	if (ccp_resource_is_kbs(o->registry.authfile)) {
		if ((r = ccp_resource_read(&auth, o->registry.authfile, 0, &res.src, "auth file", e)))
			return r;
	} else if (o->registry.authfile && access(o->registry.authfile, R_OK) != 0) {
		return ccp_err_errno(e, CCP_EINVALID, errno, "cannot read auth file `%s`", o->registry.authfile);
	}
	if (ccp_resource_is_kbs(o->registry.ca_file)) {
		if ((r = ccp_pull_memfile(&rv->ca_fd, rv->ca_path, o->registry.ca_file, &res.src, "CA file", e)))
			goto out;
		rv->has_ca_fd = 1;
	}
	if (!(rv->image = ccp_ref_string(&rv->ref))) {
		r = ccp_err_oom(e);
		goto out;
	}
	if ((r = endpoints_for(&eps, &n_eps, &rv->ref, conf, o->registry.registries_conf != NULL, &res.src, e)))
		goto out;
	for (size_t i = 0; i < n_eps; i++) {
		ccp_err attempt = CCP_ERR_INIT;
		r = resolve_at(rv, &eps[i], o, auth.data ? &auth : NULL, deadline_ms, &attempt);
		if (r == 0) {
			size_t len = strlen(eps[i].host) + strlen(eps[i].repository) + 2;
			if ((rv->endpoint = malloc(len)))
				snprintf(rv->endpoint, len, "%s/%s", eps[i].host, eps[i].repository);
			break;
		}
		*e = attempt;
		/* A lie about content is final; an unreachable mirror is not. */
		if (r != CCP_EREGISTRY || i + 1 == n_eps)
			break;
		reset_fetched(rv);
		rv->top_raw.max = rv->man_raw.max = CCP_MANIFEST_MAX;
		rv->cfg_raw.max = CCP_CONFIG_MAX;
	}
	endpoints_free(eps, n_eps);
out:
	ccp_buf_free_secure(&auth);
	return r;
}

void ccp_resolved_image_free(resolved_image *rv)
{
	reset_fetched(rv);
	ccp_ref_free(&rv->ref);
	free(rv->image);
	rv->image = NULL;
	if (rv->has_ca_fd)
		close(rv->ca_fd);
	rv->has_ca_fd = 0;
}

int ccp_check_common_options(const ccp_pull_options *o, ccp_err *e)
{
	ccp_platform p;

	if (ccp_check_options_version(o, e))
		return CCP_EINVALID;
	if (o->platform && ccp_platform_parse(&p, o->platform, e) != 0)
		return ccp_err_set(e, CCP_EINVALID, "invalid platform \"%s\": expected OS/ARCH[/VARIANT]", o->platform);
	if (o->store.sync != CCP_STORE_SYNC_DEFAULT && o->store.sync != CCP_STORE_SYNC_NONE &&
	    o->store.sync != CCP_STORE_SYNC_FULL)
		return ccp_err_set(e, CCP_EINVALID, "invalid store_sync %d", (int)o->store.sync);
	if (o->store.keep != CCP_STORE_KEEP_DEFAULT && o->store.keep != CCP_STORE_KEEP_NONE)
		return ccp_err_set(e, CCP_EINVALID, "invalid store keep %d", (int)o->store.keep);
	if (o->registry.parallel_ranges > CCP_PARALLEL_RANGES_MAX)
		return ccp_err_set(e, CCP_EINVALID, "parallel_ranges %u is more than %u", o->registry.parallel_ranges,
				   CCP_PARALLEL_RANGES_MAX);
	return 0;
}
