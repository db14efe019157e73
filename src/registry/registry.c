/*
 * The OCI distribution client. One ccp_registry per (registry host, repository); many threads may
 * use it at once. A request takes an easy handle from the registry's pool and gives it back when
 * done: each handle is used by one thread at a time and keeps its own live connections, so the next
 * request (the next layer, on whichever thread) reuses a warm connection. libcurl does not support
 * sharing a connection cache between threads; only DNS answers and TLS sessions, which it does
 * support, are shared through a CURLSH.
 *
 * Request flow (get_once, one attempt): pick the scheme once (ping /v2/, https first, http fallback for
 * insecure registries) -> send with the current Authorization -> follow redirects by hand so that
 * Authorization only goes to the registry's own origin -> on 401 parse the challenge, (re)authenticate
 * once and resend -> map the final status to an error. registry_get repeats all of that after a
 * transient failure (ccp_reg_retry_wait: backoff, Retry-After, attempt count, wait budget, deadline); a
 * streamed blob asks for the rest with a Range request and skips what a full answer repeats.
 *
 * This file holds the names, the lifecycle, the error mapping, the request loop and the getters; the
 * other parts are in retry.c, transport.c (one HTTP exchange, the pool, redirects) and session.c
 * (authentication, scheme selection), sharing registry_int.h.
 */
#include "registry/registry_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "config/config.h"
#include "util/curl.h"
#include "util/json.h"

#define ERROR_DETAIL_MAX 512             /* registry error text quoted in our messages */
#define NAME_MAX_LEN 1024                /* host, repository, reference */

static const char MANIFEST_ACCEPT[] =
	"Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
	"application/vnd.docker.distribution.manifest.v2+json, "
	"application/vnd.docker.distribution.manifest.list.v2+json, "
	"application/vnd.docker.distribution.manifest.v1+prettyjws, "
	"application/vnd.docker.distribution.manifest.v1+json";

void ccp_reg_free_secret(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

uint64_t ccp_reg_monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t ccp_registry_deadline(unsigned int timeout_s)
{
	return timeout_s ? ccp_reg_monotonic_ms() + (uint64_t)timeout_s * 1000 : 0;
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *userp)
{
	ccp_registry *r = userp;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&r->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *userp)
{
	ccp_registry *r = userp;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&r->share_locks[data]);
}

/* ---- names ---- */

static int valid_host(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 255)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_'))
			return 0;
	}
	return 1;
}

static int valid_repository(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > NAME_MAX_LEN || s[0] == '/' || s[n - 1] == '/' || strstr(s, "//") || strstr(s, ".."))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
		      c == '/'))
			return 0;
	}
	return 1;
}

/* Tags and digests: the characters of both grammars, nothing that could change the URL path. */
static int valid_reference(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 256 || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(isalnum(c) || c == '.' || c == '_' || c == '-' || c == ':' || c == '+'))
			return 0;
	}
	return 1;
}

/* ---- lifecycle ---- */

static int dup_opt(char **out, const char *s, ccp_err *e)
{
	*out = NULL;
	if (s && !(*out = strdup(s)))
		return ccp_err_oom(e);
	return 0;
}

static int load_credentials(ccp_registry *r, const ccp_registry_opts *o, ccp_err *e)
{
	if (o->creds) {
		const char *colon = strchr(o->creds, ':');
		size_t ulen = colon ? (size_t)(colon - o->creds) : strlen(o->creds);
		if (ulen == 0)
			return ccp_err_set(e, CCP_EINVALID, "credentials for %s have an empty user name",
					   r->auth_host);
		if (!(r->user = strndup(o->creds, ulen)) || !(r->password = strdup(colon ? colon + 1 : "")))
			return ccp_err_oom(e);
		return 0;
	}
	if (o->authfile_data)
		return ccp_authfile_lookup_data(o->authfile_data->data ? o->authfile_data->data : "", o->authfile_data->len,
						r->auth_host, r->repository, &r->user, &r->password, &r->identity_token, e);
	if (o->authfile)
		return ccp_authfile_lookup(o->authfile, r->auth_host, r->repository, &r->user, &r->password,
					   &r->identity_token, e);
	return 0;
}

void ccp_registry_free(ccp_registry *r)
{
	if (!r)
		return;
	/* the handles first: they hold the share */
	for (unsigned i = 0; i < r->n_idle; i++)
		curl_easy_cleanup(r->idle[i]);
	if (r->share)
		curl_share_cleanup(r->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&r->share_locks[i]);
	pthread_mutex_destroy(&r->pool_lock);
	pthread_mutex_destroy(&r->lock);
	free(r->host);
	free(r->auth_host);
	free(r->repository);
	free(r->ca_file);
	free(r->user_agent);
	ccp_reg_free_secret(r->user);
	ccp_reg_free_secret(r->password);
	ccp_reg_free_secret(r->identity_token);
	ccp_reg_free_secret(r->auth_header);
	free(r->realm);
	free(r->service);
	free(r->chal_scope);
	free(r);
}

int ccp_registry_new(ccp_registry **out, const char *host, const char *auth_host, const char *repository,
		     const ccp_registry_opts *opts, ccp_err *e)
{
	static const ccp_registry_opts defaults = { .tls_verify = 1 };
	ccp_registry *r;
	int rc;

	*out = NULL;
	if (!opts)
		opts = &defaults;
	if (!auth_host)
		auth_host = host;
	if (!host || !valid_host(host))
		return ccp_err_set(e, CCP_EINVALID, "invalid registry host \"%.256s\"", host ? host : "");
	if (!valid_host(auth_host))
		return ccp_err_set(e, CCP_EINVALID, "invalid registry host \"%.256s\"", auth_host);
	if (!repository || !valid_repository(repository))
		return ccp_err_set(e, CCP_EINVALID, "invalid repository name \"%.256s\" for %s",
				   repository ? repository : "", host);
	if ((rc = ccp_curl_init(e)) != 0)
		return rc;

	if (!(r = calloc(1, sizeof(*r))))
		return ccp_err_oom(e);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&r->share_locks[i], NULL);
	pthread_mutex_init(&r->pool_lock, NULL);
	pthread_mutex_init(&r->lock, NULL);
	r->tls_verify = opts->tls_verify && !opts->insecure;
	r->allow_http = !r->tls_verify;
	r->connect_timeout = opts->connect_timeout_s > 0 ? opts->connect_timeout_s : 30;
	r->low_speed_time = opts->low_speed_time_s > 0 ? opts->low_speed_time_s : 60;
	r->retries = opts->retries < CCP_RETRIES_MAX ? opts->retries : CCP_RETRIES_MAX;
	r->deadline_ms = opts->deadline_ms;
	r->cancel = opts->cancel;
	if ((rc = dup_opt(&r->host, host, e)) || (rc = dup_opt(&r->auth_host, auth_host, e)) ||
	    (rc = dup_opt(&r->repository, repository, e)) || (rc = dup_opt(&r->ca_file, opts->ca_file, e)) ||
	    (rc = dup_opt(&r->user_agent, opts->user_agent ? opts->user_agent : "ccpull/" CCPULL_VERSION, e)))
		goto fail;
	if ((rc = load_credentials(r, opts, e)) != 0)
		goto fail;

	if (!(r->share = curl_share_init())) {
		rc = ccp_err_oom(e);
		goto fail;
	}
	if (curl_share_setopt(r->share, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
	    curl_share_setopt(r->share, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
	    curl_share_setopt(r->share, CURLSHOPT_USERDATA, r) != CURLSHE_OK ||
	    curl_share_setopt(r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
	    curl_share_setopt(r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
		rc = ccp_err_set(e, CCP_EINTERNAL, "cannot set up the libcurl connection share");
		goto fail;
	}
	*out = r;
	return 0;
fail:
	ccp_registry_free(r);
	return rc;
}

/* ---- errors ---- */

/* Appends "CODE: message; ..." from an OCI error body ({"errors":[{"code","message"}]}), if any. */
static void oci_error_detail(const ccp_buf *body, char *out, size_t outlen)
{
	json_t *root = NULL, *errs;
	size_t i, used = 0;
	json_t *item;

	out[0] = '\0';
	if (!body->data || !body->len || ccp_json_parse(&root, body->data, body->len, ERROR_BODY_MAX, "", 0, NULL) != 0)
		return;
	errs = json_object_get(root, "errors");
	if (json_is_array(errs)) {
		json_array_foreach(errs, i, item) {
			const char *code = json_string_value(json_object_get(item, "code"));
			const char *msg = json_string_value(json_object_get(item, "message"));
			int n;
			if (!code && !msg)
				continue;
			n = snprintf(out + used, outlen - used, "%s%s%s%s", used ? "; " : "", code ? code : "",
				     code && msg ? ": " : "", msg ? msg : "");
			if (n < 0 || (size_t)n >= outlen - used)
				break;
			used += (size_t)n;
		}
	}
	json_decref(root);
	/* registry text goes into our messages: keep it printable */
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = ' ';
}

static int status_error(ccp_registry *r, const xfer *x, const char *what, const char *url, ccp_err *e)
{
	char detail[ERROR_DETAIL_MAX];
	const char *sep;

	oci_error_detail(&x->errbody, detail, sizeof(detail));
	sep = detail[0] ? " - " : "";
	switch (x->status) {
	case 401:
		return ccp_err_set(e, CCP_EREGISTRY, "authentication failed for %s (%s)%s%s", r->host, what, sep,
				   detail);
	case 403:
		return ccp_err_set(e, CCP_EREGISTRY, "access denied to %s by %s (HTTP 403)%s%s", what, r->host,
				   sep, detail);
	case 429:
		return ccp_err_set(e, CCP_EREGISTRY, "%s: too many requests (HTTP 429) from %s%s%s", what, url,
				   sep, detail);
	default:
		return ccp_err_set(e, CCP_EREGISTRY, "%s: HTTP status %ld from %s%s%s", what, x->status, url, sep,
				   detail);
	}
}

/* ---- requests ---- */

/* One attempt of registry_get: send, authenticating on 401 once, and map the final status. */
static int get_once(ccp_registry *r, const char *url, const char *accept, const char *what,
		    const char *not_found, xfer *x, ccp_err *e)
{
	char *auth = NULL;
	unsigned gen;
	int rc, reauthed = 0;

	x->transient = 0;
	x->stalled_ms = 0;
	for (;;) {
		if ((rc = ccp_reg_current_auth(r, &auth, &gen, e)) != 0)
			return ccp_err_wrap(e, "%s", what);
		rc = ccp_reg_transfer_following(r, url, auth, accept, what, x, e);
		ccp_reg_free_secret(auth);
		auth = NULL;
		if (rc)
			return rc;
		if (x->status == 401 && x->foreign) {
			/* Only the registry's own origin may start authentication: a redirect target's
			 * challenge would choose where the registry's credentials go. */
			return ccp_err_set(e, CCP_EREGISTRY,
					   "%s: %s redirected to %s, which answered 401 (credentials for %s are "
					   "not sent to another origin)",
					   what, r->host, x->foreign_host, r->auth_host);
		}
		if (x->status != 401 || reauthed)
			break;
		reauthed = 1;
		pthread_mutex_lock(&r->lock);
		/* another thread may have re-authenticated meanwhile: then just resend */
		if (gen == r->auth_gen)
			rc = ccp_reg_authenticate_locked(r, x->www_auth, e);
		pthread_mutex_unlock(&r->lock);
		if (rc)
			return ccp_err_wrap(e, "%s", what);
	}
	if (x->status == 404) {
		char detail[ERROR_DETAIL_MAX];
		oci_error_detail(&x->errbody, detail, sizeof(detail));
		return ccp_err_set(e, CCP_EREGISTRY, "%s: %s%s%s", what, not_found, detail[0] ? " - " : "", detail);
	}
	if (x->status < 200 || x->status > 299) {
		x->transient = ccp_reg_status_transient(x->status);
		return status_error(r, x, what, url, e);
	}
	/* a body that ended early without a transport error (no Content-Length, clean close) */
	if (x->sink && x->received < x->sink_max) {
		x->transient = 1;
		return ccp_err_set(e, CCP_EREGISTRY, "%s: truncated: got %llu of %llu bytes", what,
				   (unsigned long long)x->received, (unsigned long long)x->sink_max);
	}
	return 0;
}

/*
 * GET <scheme>://host<path>, retrying transient failures (ccp_reg_retry_wait). On success (2xx) x holds the
 * response; a 404 returns CCP_EREGISTRY with not_found ("manifest unknown") in the message. A stream
 * goes on from the bytes its sink has; a buffered body starts over.
 */
static int registry_get(ccp_registry *r, const char *path, const char *accept, const char *what,
			const char *not_found, xfer *x, ccp_err *e)
{
	ccp_buf url = CCP_BUF_INIT(0);
	uint64_t waited = 0;
	int rc;

	if ((rc = ccp_reg_ensure_scheme(r, e)) != 0)
		return ccp_err_wrap(e, "%s", what);
	if (ccp_buf_printf(&url, "%s://%s%s", r->scheme == SCHEME_HTTP ? "http" : "https", r->host, path) != 0)
		return ccp_err_oom(e);
	for (unsigned attempt = 0;; attempt++) {
		/* Stalls and waits share the request's budget: a stalled attempt costs its low-speed
		 * window, and a later attempt may stall for what is left at most. */
		uint64_t left = waited < RETRY_WAIT_BUDGET_MS ? RETRY_WAIT_BUDGET_MS - waited : 0;
		x->low_speed_s = left / 1000 < (uint64_t)r->low_speed_time ? (long)(left / 1000) : r->low_speed_time;
		if (x->low_speed_s < 1)
			x->low_speed_s = 1;
		rc = get_once(r, url.data, accept, what, not_found, x, e);
		if (rc)
			waited += x->stalled_ms;
		if (!rc || !x->transient || ccp_reg_retry_wait(r, attempt, x->retry_after, &waited, e) != 0)
			break;
		if (x->sink) {
			x->range_from = x->range_base + x->received;
		} else if (x->body) {
			ccp_buf_clear(x->body);
			x->received = 0;
		}
	}
	ccp_buf_free(&url);
	return rc;
}

static char *strip_media_type(const char *ct)
{
	size_t n = strcspn(ct, ";");
	while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	return strndup(ct, n);
}

int ccp_registry_get_manifest(ccp_registry *r, const char *reference, size_t max, ccp_buf *body,
			      char **media_type, char **content_digest, ccp_err *e)
{
	char what[2 * NAME_MAX_LEN], path[2 * NAME_MAX_LEN];
	xfer x = { 0 };
	int rc;

	*media_type = NULL;
	*content_digest = NULL;
	if (!reference || !valid_reference(reference))
		return ccp_err_set(e, CCP_EINVALID, "invalid manifest reference \"%.256s\" for %s/%s",
				   reference ? reference : "", r->host, r->repository);
	snprintf(what, sizeof(what), "manifest %s/%s%c%s", r->host, r->repository,
		 strchr(reference, ':') ? '@' : ':', reference);
	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", r->repository, reference);
	ccp_buf_clear(body);
	x.body = body;
	x.body_max = max;
	if ((rc = registry_get(r, path, MANIFEST_ACCEPT, what, "manifest unknown", &x, e)) != 0)
		goto out;
	if (x.content_type && !(*media_type = strip_media_type(x.content_type))) {
		rc = ccp_err_oom(e);
		goto out;
	}
	if (x.docker_digest && !(*content_digest = strdup(x.docker_digest))) {
		free(*media_type);
		*media_type = NULL;
		rc = ccp_err_oom(e);
		goto out;
	}
	if (!body->data && ccp_buf_append(body, "", 0) != 0)
		rc = ccp_err_oom(e);
out:
	if (rc)
		ccp_buf_clear(body);
	ccp_reg_xfer_free(&x);
	return rc;
}

int ccp_registry_get_optional(ccp_registry *r, const char *kind, const char *reference, const char *accept,
			      size_t max, ccp_buf *body, char **media_type, int *found, ccp_err *e)
{
	char what[2 * NAME_MAX_LEN], path[2 * NAME_MAX_LEN], hdr[256];
	xfer x = { 0 };
	int rc;

	*media_type = NULL;
	*found = 0;
	if (snprintf(hdr, sizeof(hdr), "Accept: %s", accept) >= (int)sizeof(hdr))
		return ccp_err_set(e, CCP_EINVALID, "Accept header too long");
	if ((strcmp(kind, "manifests") != 0 && strcmp(kind, "referrers") != 0) || !reference ||
	    !valid_reference(reference))
		return ccp_err_set(e, CCP_EINVALID, "invalid %s reference \"%.256s\" for %s/%s", kind,
				   reference ? reference : "", r->host, r->repository);
	snprintf(what, sizeof(what), "%s of %s/%s %s", kind, r->host, r->repository, reference);
	snprintf(path, sizeof(path), "/v2/%s/%s/%s", r->repository, kind, reference);
	ccp_buf_clear(body);
	x.body = body;
	x.body_max = max;
	rc = registry_get(r, path, hdr, what, "not found", &x, e);
	if (rc && x.status == 404) {
		ccp_err_clear(e);
		rc = 0;
		goto out;
	}
	if (rc)
		goto out;
	*found = 1;
	if (x.content_type && !(*media_type = strip_media_type(x.content_type)))
		rc = ccp_err_oom(e);
	else if (!body->data && ccp_buf_append(body, "", 0) != 0)
		rc = ccp_err_oom(e);
out:
	if (rc || !*found)
		ccp_buf_clear(body);
	if (rc) {
		free(*media_type);
		*media_type = NULL;
		*found = 0;
	}
	ccp_reg_xfer_free(&x);
	return rc;
}

int ccp_registry_supports_signatures(ccp_registry *r, int *out, ccp_err *e)
{
	int rc;

	*out = 0;
	if ((rc = ccp_reg_ensure_scheme(r, e)) != 0)
		return rc;
	pthread_mutex_lock(&r->lock);
	*out = r->supports_signatures;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

/* GET path into body (at most max bytes; an empty body is "" not NULL); body is cleared on failure. */
static int get_into(ccp_registry *r, const char *path, const char *accept, const char *what, const char *not_found,
		    size_t max, ccp_buf *body, ccp_err *e)
{
	xfer x = { 0 };
	int rc;

	ccp_buf_clear(body);
	x.body = body;
	x.body_max = max;
	rc = registry_get(r, path, accept, what, not_found, &x, e);
	if (!rc && !body->data && ccp_buf_append(body, "", 0) != 0)
		rc = ccp_err_oom(e);
	if (rc)
		ccp_buf_clear(body);
	ccp_reg_xfer_free(&x);
	return rc;
}

int ccp_registry_get_signatures(ccp_registry *r, const char *digest, size_t max, ccp_buf *body, ccp_err *e)
{
	char what[2 * NAME_MAX_LEN], path[2 * NAME_MAX_LEN];

	if (!digest || !valid_reference(digest) || !strchr(digest, ':'))
		return ccp_err_set(e, CCP_EINVALID, "invalid manifest digest \"%.256s\" for %s/%s",
				   digest ? digest : "", r->host, r->repository);
	snprintf(what, sizeof(what), "signatures of %s/%s@%s", r->host, r->repository, digest);
	snprintf(path, sizeof(path), "/extensions/v2/%s/signatures/%s", r->repository, digest);
	return get_into(r, path, "Accept: application/json", what, "not found", max, body, e);
}

int ccp_registry_get_blob(ccp_registry *r, const char *digest, size_t max, ccp_buf *body, ccp_err *e)
{
	char what[2 * NAME_MAX_LEN], path[2 * NAME_MAX_LEN];

	if (!digest || !valid_reference(digest) || !strchr(digest, ':'))
		return ccp_err_set(e, CCP_EINVALID, "invalid blob digest \"%.256s\" for %s/%s",
				   digest ? digest : "", r->host, r->repository);
	snprintf(what, sizeof(what), "blob %s in %s/%s", digest, r->host, r->repository);
	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", r->repository, digest);
	return get_into(r, path, NULL, what, "blob unknown", max, body, e);
}

int ccp_registry_stream_blob(ccp_registry *r, const char *digest, uint64_t max_size, ccp_sink_fn sink,
			     void *payload, ccp_err *e)
{
	return ccp_registry_stream_blob_range(r, digest, 0, max_size, 0, sink, payload, NULL, e);
}

int ccp_registry_stream_blob_range(ccp_registry *r, const char *digest, uint64_t from, uint64_t len, int exact,
				   ccp_sink_fn sink, void *payload, int *ignored, ccp_err *e)
{
	char what[2 * NAME_MAX_LEN], path[2 * NAME_MAX_LEN];
	xfer x = { 0 };
	int rc;

	if (!digest || !valid_reference(digest) || !strchr(digest, ':'))
		return ccp_err_set(e, CCP_EINVALID, "invalid blob digest \"%.256s\" for %s/%s",
				   digest ? digest : "", r->host, r->repository);
	snprintf(what, sizeof(what), "blob %s in %s/%s", digest, r->host, r->repository);
	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", r->repository, digest);
	x.sink = sink;
	x.payload = payload;
	x.sink_max = len;
	x.range_base = x.range_from = from;
	x.range_exact = exact && len > 0;
	x.range_last = from + len - 1;
	rc = registry_get(r, path, NULL, what, "blob unknown", &x, e);
	if (ignored)
		*ignored = x.range_ignored;
	ccp_reg_xfer_free(&x);
	return rc;
}
