/*
 * A registry's session: authentication (Basic, Bearer tokens from the challenge's realm, refreshed
 * before they expire) and the choice of scheme (the /v2/ ping, https first).
 */
#include "registry/registry_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#define TOKEN_BODY_MAX (1024 * 1024)
#define TOKEN_EXPIRY_SLACK 10            /* refresh a bearer token this many seconds early */

static time_t monotonic_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static int basic_header(char **out, const char *user, const char *pass, ccp_err *e)
{
	ccp_buf plain = CCP_BUF_INIT(0);
	char *hdr = NULL;
	size_t enc_len;
	int rc = 0;

	*out = NULL;
	if (ccp_buf_printf(&plain, "%s:%s", user, pass ? pass : "") != 0 || plain.len > 64 * 1024) {
		ccp_buf_free_secure(&plain);
		return ccp_err_set(e, CCP_EINVALID, "credentials are too long");
	}
	enc_len = 4 * ((plain.len + 2) / 3);
	if (!(hdr = malloc(sizeof("Authorization: Basic ") + enc_len))) {
		rc = ccp_err_oom(e);
		goto out;
	}
	memcpy(hdr, "Authorization: Basic ", sizeof("Authorization: Basic ") - 1);
	EVP_EncodeBlock((unsigned char *)hdr + sizeof("Authorization: Basic ") - 1,
			(const unsigned char *)plain.data, (int)plain.len);
	*out = hdr;
out:
	ccp_buf_free_secure(&plain);
	return rc;
}

static int append_escaped(ccp_buf *b, const char *name, const char *value)
{
	char *esc = curl_easy_escape(NULL, value, 0);
	int rc;
	if (!esc)
		return CCP_ENOMEM;
	rc = ccp_buf_printf(b, "%s%s=%s", b->len ? "&" : "", name, esc);
	OPENSSL_cleanse(esc, strlen(esc));
	curl_free(esc);
	return rc;
}

/*
 * One exchange with the token endpoint, following its redirects by hand (libcurl would re-POST the
 * body of a 307/308 to wherever it points). The Basic credentials go only to the realm's own origin:
 * a GET redirected elsewhere goes on without them. The identity-token POST is only ever re-sent to
 * the realm's origin by a 307 or 308: any other redirect of it is an error, so neither the refresh
 * token nor the credentials reach another origin. On return, *c is the transport result and x holds
 * the final response; a redirect that cannot be followed returns an error.
 */
static int token_perform(ccp_registry *r, const req *first, xfer *x, char errbuf[CURL_ERROR_SIZE], CURLcode *c,
			 ccp_err *e)
{
	req q = *first;
	char *cur = NULL, *next = NULL, where[256];
	int rc = 0;

	for (int hops = 0;; hops++) {
		*c = ccp_reg_perform(r, &q, x, errbuf);
		if (*c != CURLE_OK || !ccp_reg_is_redirect(x->status))
			break;
		if (hops >= MAX_REDIRECTS) {
			rc = ccp_err_set(e, CCP_EREGISTRY, "token server %.256s for %s: more than %d redirects",
					 r->realm, r->host, MAX_REDIRECTS);
			break;
		}
		if ((rc = ccp_reg_resolve_location(r, q.url, x->location, &next, "token request", e)) != 0)
			break;
		if (q.post && (!ccp_reg_same_origin(next, first->url) || (x->status != 307 && x->status != 308))) {
			ccp_reg_url_hostport(next, where, sizeof(where));
			rc = ccp_err_set(e, CCP_EREGISTRY,
					 "token server %.256s for %s redirected the identity-token request (HTTP %ld) "
					 "to %s; the token is only sent to the realm's own origin",
					 r->realm, r->host, x->status, where);
			break;
		}
		if (!ccp_reg_same_origin(next, first->url))
			q.basic_user = q.basic_pass = NULL;
		free(cur);
		cur = next;
		next = NULL;
		q.url = cur;
	}
	free(cur);
	free(next);
	return rc;
}

/*
 * Gets a bearer token from the realm of the last challenge, for pull access to our repository
 * (and the challenge's own scope when it names another one). Called with r->lock held.
 */
static int fetch_token_locked(ccp_registry *r, ccp_err *e)
{
	ccp_buf params = CCP_BUF_INIT(0), url = CCP_BUF_INIT(0), body = CCP_BUF_INIT(TOKEN_BODY_MAX);
	ccp_buf scope = CCP_BUF_INIT(0);
	xfer x = { 0 };
	char errbuf[CURL_ERROR_SIZE];
	char *token = NULL, *hdr = NULL;
	long expires_in = 0;
	uint64_t waited = 0;
	CURLcode c;
	req q = { 0 };
	int rc = 0, https = strncasecmp(r->realm, "https://", 8) == 0;

	if (!https && !(strncasecmp(r->realm, "http://", 7) == 0 && (r->allow_http || r->scheme == SCHEME_HTTP)))
		return ccp_err_set(e, CCP_EREGISTRY,
				   "token realm \"%.256s\" of %s is not an https URL", r->realm, r->host);
	if (ccp_buf_printf(&scope, "repository:%s:pull", r->repository) != 0 ||
	    (r->service && append_escaped(&params, "service", r->service) != 0) ||
	    append_escaped(&params, "scope", scope.data) != 0 ||
	    (r->chal_scope && strcmp(r->chal_scope, scope.data) != 0 &&
	     append_escaped(&params, "scope", r->chal_scope) != 0)) {
		rc = ccp_err_oom(e);
		goto out;
	}
	if (r->identity_token) {
		/* OAuth2 refresh-token grant, as containers/image and docker do for identity tokens */
		if (append_escaped(&params, "grant_type", "refresh_token") != 0 ||
		    append_escaped(&params, "client_id", "ccpull") != 0 ||
		    append_escaped(&params, "refresh_token", r->identity_token) != 0 ||
		    ccp_buf_puts(&url, r->realm) != 0) {
			rc = ccp_err_oom(e);
			goto out;
		}
		q.post = params.data;
	} else {
		if (ccp_buf_printf(&url, "%s%c%s", r->realm, strchr(r->realm, '?') ? '&' : '?', params.data) != 0) {
			rc = ccp_err_oom(e);
			goto out;
		}
		q.basic_user = r->user;
		q.basic_pass = r->password;
	}
	q.url = url.data;
	x.body = &body;
	x.body_max = TOKEN_BODY_MAX;
	/* waits with r->lock held: the other requests need this token anyway */
	for (unsigned attempt = 0;; attempt++) {
		int transient;
		ccp_buf_clear(&body);
		if ((rc = token_perform(r, &q, &x, errbuf, &c, e)) != 0)
			goto out;
		if (c != CURLE_OK) {
			transient = ccp_reg_curl_transient(c, errbuf) && !x.overflow && !x.header_overflow && !x.deadline_hit &&
				    !x.cancelled;
			if (x.cancelled)
				rc = ccp_err_set(e, CCP_ECANCELED, "token for %s: cancelled", r->host);
			else if (x.overflow)
				rc = ccp_err_set(e, CCP_EREGISTRY, "token response from %.256s is larger than %d bytes",
						 r->realm, TOKEN_BODY_MAX);
			else
				rc = ccp_err_set(e, CCP_EREGISTRY, "cannot get a token for %s from %.256s: %s", r->host,
						 r->realm, errbuf[0] ? errbuf : curl_easy_strerror(c));
		} else if (x.status == 401 || x.status == 403) {
			rc = ccp_err_set(e, CCP_EREGISTRY,
					 "authentication failed for %s: token server %.256s returned %ld", r->auth_host,
					 r->realm, x.status);
			goto out;
		} else if (x.status != 200) {
			transient = ccp_reg_status_transient(x.status);
			rc = ccp_err_set(e, CCP_EREGISTRY, "token server %.256s for %s returned HTTP status %ld",
					 r->realm, r->host, x.status);
		} else {
			break;
		}
		if (!transient || ccp_reg_retry_wait(r, attempt, x.retry_after, &waited, e) != 0)
			goto out;
		rc = 0;
	}
	if ((rc = ccp_token_response_parse(&token, &expires_in, body.data ? body.data : "", body.len, e)) != 0) {
		ccp_err_wrap(e, "token from %.256s", r->realm);
		goto out;
	}
	if (!(hdr = malloc(sizeof("Authorization: Bearer ") + strlen(token)))) {
		rc = ccp_err_oom(e);
		goto out;
	}
	memcpy(hdr, "Authorization: Bearer ", sizeof("Authorization: Bearer ") - 1);
	memcpy(hdr + sizeof("Authorization: Bearer ") - 1, token, strlen(token) + 1);
	ccp_reg_free_secret(r->auth_header);
	r->auth_header = hdr;
	r->auth = AUTH_BEARER;
	r->auth_gen++;
	r->token_expiry = monotonic_now() + expires_in - (expires_in > 2 * TOKEN_EXPIRY_SLACK ? TOKEN_EXPIRY_SLACK : 0);
out:
	ccp_reg_free_secret(token);
	ccp_buf_free_secure(&params);
	ccp_buf_free_secure(&url);
	ccp_buf_free_secure(&body);
	ccp_buf_free(&scope);
	ccp_reg_xfer_free(&x);
	return rc;
}

/* Answers a 401 challenge: set up Basic or fetch a Bearer token. Called with r->lock held. */
int ccp_reg_authenticate_locked(ccp_registry *r, const char *www_auth, ccp_err *e)
{
	ccp_auth_challenge ch;
	int rc;

	if (!www_auth)
		return ccp_err_set(e, CCP_EREGISTRY, "%s answered 401 without a WWW-Authenticate challenge",
				   r->host);
	if ((rc = ccp_auth_challenge_parse(&ch, www_auth, strlen(www_auth), e)) != 0)
		return ccp_err_wrap(e, "authentication challenge from %s", r->host);
	switch (ch.scheme) {
	case 1: {
		char *hdr;
		if (!r->user) {
			rc = ccp_err_set(e, CCP_EREGISTRY,
					 "%s requires authentication and no credentials are configured for %s",
					 r->host, r->auth_host);
			break;
		}
		if ((rc = basic_header(&hdr, r->user, r->password, e)) != 0)
			break;
		ccp_reg_free_secret(r->auth_header);
		r->auth_header = hdr;
		r->auth = AUTH_BASIC;
		r->auth_gen++;
		break;
	}
	case 2:
		free(r->realm);
		free(r->service);
		free(r->chal_scope);
		r->realm = ch.realm;
		r->service = ch.service;
		r->chal_scope = ch.scope;
		ch.realm = ch.service = ch.scope = NULL;
		rc = fetch_token_locked(r, e);
		break;
	default:
		rc = ccp_err_set(e, CCP_EREGISTRY, "%s asks for an unsupported authentication scheme", r->host);
		break;
	}
	ccp_auth_challenge_free(&ch);
	return rc;
}

/* A copy of the current Authorization header (refreshing an expired token) and its generation. */
int ccp_reg_current_auth(ccp_registry *r, char **hdr, unsigned *gen, ccp_err *e)
{
	int rc = 0;

	*hdr = NULL;
	pthread_mutex_lock(&r->lock);
	if (r->auth == AUTH_BEARER && monotonic_now() >= r->token_expiry)
		rc = fetch_token_locked(r, e);
	if (!rc && r->auth_header && !(*hdr = strdup(r->auth_header)))
		rc = ccp_err_oom(e);
	*gen = r->auth_gen;
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* ---- scheme selection ---- */

static int ping_locked(ccp_registry *r, const char *scheme, xfer *x, char errbuf[CURL_ERROR_SIZE], CURLcode *c)
{
	ccp_buf url = CCP_BUF_INIT(0);
	req q = { 0 };

	if (ccp_buf_printf(&url, "%s://%s/v2/", scheme, r->host) != 0)
		return CCP_ENOMEM;
	q.url = url.data;
	*c = ccp_reg_perform(r, &q, x, errbuf);
	ccp_buf_free(&url);
	return 0;
}

/*
 * Decides between https and http once per handle with GET /v2/. Plain http is only tried for
 * insecure registries and only when https fails at the connection/TLS level, as containers/image
 * does. A 401 on the ping sets up authentication right away.
 */
static int ensure_scheme_once(ccp_registry *r, int *transient, ccp_err *e)
{
	char err_https[CURL_ERROR_SIZE], err_http[CURL_ERROR_SIZE];
	xfer x = { 0 };
	CURLcode c;
	int rc = 0;

	*transient = 0;
	pthread_mutex_lock(&r->lock);
	if (r->scheme != SCHEME_UNKNOWN)
		goto out;
	if (ping_locked(r, "https", &x, err_https, &c) != 0) {
		rc = ccp_err_oom(e);
		goto out;
	}
	if (c == CURLE_OK) {
		r->scheme = SCHEME_HTTPS;
	} else if (x.cancelled) {
		rc = ccp_err_set(e, CCP_ECANCELED, "registry %s: cancelled", r->host);
		goto out;
	} else if (r->allow_http) {
		CURLcode c2;
		if (ping_locked(r, "http", &x, err_http, &c2) != 0) {
			rc = ccp_err_oom(e);
			goto out;
		}
		if (c2 != CURLE_OK && x.cancelled) {
			rc = ccp_err_set(e, CCP_ECANCELED, "registry %s: cancelled", r->host);
			goto out;
		}
		if (c2 != CURLE_OK) {
			*transient = ccp_reg_curl_transient(c2, err_http) && !x.deadline_hit;
			rc = ccp_err_set(e, CCP_EREGISTRY, "cannot reach registry %s: https: %s; http: %s", r->host,
					 err_https[0] ? err_https : curl_easy_strerror(c),
					 err_http[0] ? err_http : curl_easy_strerror(c2));
			goto out;
		}
		r->scheme = SCHEME_HTTP;
	} else if (ccp_registry_failure_class((int)c, err_https) == CCP_FAILURE_NOT_TLS) {
		rc = ccp_err_set(e, CCP_EREGISTRY,
				 "cannot reach registry %s: it does not speak TLS, it answered in plain HTTP (%s); "
				 "to pull from a plain-HTTP registry, pass --tls-verify=false or set insecure = true "
				 "in its [[registry]] entry of registries.conf",
				 r->host, err_https);
		goto out;
	} else {
		*transient = ccp_reg_curl_transient(c, err_https) && !x.deadline_hit;
		rc = ccp_err_set(e, CCP_EREGISTRY, "cannot reach registry %s: %s", r->host,
				 err_https[0] ? err_https : curl_easy_strerror(c));
		goto out;
	}
	/* As containers/image detectProperties: the ping's header, whether it answered 200 or 401. */
	r->supports_signatures = x.supports_sigs && strcmp(x.supports_sigs, "1") == 0;
	if (x.status == 401 && r->auth == AUTH_NONE)
		rc = ccp_reg_authenticate_locked(r, x.www_auth, e);
out:
	pthread_mutex_unlock(&r->lock);
	ccp_reg_xfer_free(&x);
	return rc;
}

int ccp_reg_ensure_scheme(ccp_registry *r, ccp_err *e)
{
	uint64_t waited = 0;
	int rc, transient;

	for (unsigned attempt = 0;; attempt++) {
		rc = ensure_scheme_once(r, &transient, e);
		if (!rc || !transient || ccp_reg_retry_wait(r, attempt, NULL, &waited, e) != 0)
			return rc;
	}
}
