/*
 * One HTTP exchange with a registry: the response callbacks (headers, a capped body or a sink, a
 * resumed range), the pool of easy handles, ccp_reg_perform, the failure classes, and redirects followed by
 * hand so that Authorization only goes to the registry's own origin.
 */
#include "registry/registry_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "util/curl.h"

#define HEADER_BYTES_MAX (64 * 1024)     /* all header lines of one response */
#define HEADER_VALUE_MAX (16 * 1024)     /* one kept header value */

static void xfer_reset_response(xfer *x)
{
	x->status = 0;
	x->header_bytes = 0;
	free(x->content_type);
	free(x->docker_digest);
	free(x->www_auth);
	free(x->location);
	free(x->retry_after);
	free(x->content_range);
	free(x->supports_sigs);
	x->content_type = x->docker_digest = x->www_auth = x->location = x->retry_after = x->content_range = NULL;
	x->supports_sigs = NULL;
	ccp_buf_clear(&x->errbody);
	x->body_started = 0;
	x->skip = 0;
}

void ccp_reg_xfer_free(xfer *x)
{
	xfer_reset_response(x);
	ccp_buf_free(&x->errbody);
}

static char *dup_trimmed(const char *p, size_t n)
{
	while (n && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	return strndup(p, n);
}

static int keep_header(char **slot, const char *v, size_t n, xfer *x)
{
	if (*slot)
		return 0; /* the first occurrence wins */
	if (n > HEADER_VALUE_MAX || memchr(v, '\0', n)) {
		x->header_overflow = 1;
		return -1;
	}
	if (!(*slot = dup_trimmed(v, n))) {
		x->header_overflow = 1;
		return -1;
	}
	return 0;
}

static size_t header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	xfer *x = userp;
	size_t n = size * nmemb;
	const char *colon;

	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		/* a new response (after 1xx or on a new hop): forget the previous one's headers */
		const char *sp = memchr(data, ' ', n);
		long code = 0;
		xfer_reset_response(x);
		if (sp) {
			for (size_t i = (size_t)(sp - data) + 1, k = 0; i < n && k < 3; i++, k++) {
				if (data[i] < '0' || data[i] > '9')
					break;
				code = code * 10 + (data[i] - '0');
			}
		}
		x->status = code;
	}
	x->header_bytes += n;
	if (x->header_bytes > HEADER_BYTES_MAX) {
		x->header_overflow = 1;
		return 0;
	}
	colon = memchr(data, ':', n);
	if (!colon)
		return n;
	{
		size_t nlen = (size_t)(colon - data), vlen = n - nlen - 1;
		char **slot = NULL;
		if (nlen == 12 && strncasecmp(data, "content-type", 12) == 0)
			slot = &x->content_type;
		else if (nlen == 21 && strncasecmp(data, "docker-content-digest", 21) == 0)
			slot = &x->docker_digest;
		else if (nlen == 16 && strncasecmp(data, "www-authenticate", 16) == 0)
			slot = &x->www_auth;
		else if (nlen == 8 && strncasecmp(data, "location", 8) == 0)
			slot = &x->location;
		else if (nlen == 11 && strncasecmp(data, "retry-after", 11) == 0)
			slot = &x->retry_after;
		else if (nlen == 13 && strncasecmp(data, "content-range", 13) == 0)
			slot = &x->content_range;
		else if (nlen == 30 && strncasecmp(data, "x-registry-supports-signatures", 30) == 0)
			slot = &x->supports_sigs;
		if (slot && keep_header(slot, colon + 1, vlen, x) < 0)
			return 0;
	}
	return n;
}

/* First byte of "bytes FIRST-LAST/LENGTH" (RFC 9110 14.4). */
static int content_range_start(const char *v, uint64_t *start)
{
	uint64_t s = 0;
	const char *p;

	if (strncasecmp(v, "bytes", 5) != 0 || (v[5] != ' ' && v[5] != '\t'))
		return -1;
	for (p = v + 6; *p == ' '; p++)
		;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (s > (UINT64_MAX - 9) / 10)
			return -1;
		s = s * 10 + (uint64_t)(*p - '0');
	}
	if (*p != '-')
		return -1;
	*start = s;
	return 0;
}

/*
 * At the first body byte of a 2xx response to a stream: how much of it the sink already has. A 206
 * must start at or before the byte we asked for; a 200 is the whole blob again.
 */
static int start_stream_body(xfer *x)
{
	uint64_t start = 0;

	x->body_started = 1;
	if (x->status != 206 && x->range_exact) {
		x->range_ignored = 1;
		return -1;
	}
	if (x->status == 206 && (!x->content_range || content_range_start(x->content_range, &start) != 0))
		return -1;
	if (start > x->range_base + x->received)
		return -1;
	x->skip = x->range_base + x->received - start;
	return 0;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	xfer *x = userp;
	size_t n = size * nmemb;

	if (x->status < 200 || x->status > 299) {
		/* an error or redirect body: keep the start for its error JSON, drop the rest */
		size_t room = x->errbody.len < ERROR_BODY_MAX ? ERROR_BODY_MAX - x->errbody.len : 0;
		if (room && ccp_buf_append(&x->errbody, data, n < room ? n : room) != 0)
			return 0;
		return n;
	}
	if (x->sink) {
		size_t k = 0;
		if (!x->body_started && start_stream_body(x) != 0) {
			x->range_bad = !x->range_ignored;
			return 0;
		}
		if (x->skip) {
			k = n < x->skip ? n : (size_t)x->skip;
			x->skip -= k;
			if (k == n)
				return n;
		}
		if (n - k > x->sink_max - x->received) {
			x->overflow = 1;
			return 0;
		}
		x->received += n - k;
		if ((x->sink_rc = x->sink(x->payload, data + k, n - k)) < 0)
			return 0;
		x->sink_rc = 0;
		return n;
	}
	if (x->body) {
		if (n > x->body_max - x->body->len) {
			x->overflow = 1;
			return 0;
		}
		if (ccp_buf_append(x->body, data, n) != 0) {
			x->overflow = 1;
			return 0;
		}
		x->received += n;
	}
	return n;
}

/* An easy handle for one request, with its options reset: the most recently used idle one (its
 * connection is the warmest), or a new one. NULL when out of memory. */
static CURL *handle_take(ccp_registry *r)
{
	CURL *h = NULL;

	pthread_mutex_lock(&r->pool_lock);
	if (r->n_idle)
		h = r->idle[--r->n_idle];
	pthread_mutex_unlock(&r->pool_lock);
	if (h)
		curl_easy_reset(h); /* the options go, live connections and caches stay */
	else
		h = curl_easy_init();
	return h;
}

/* Gives a handle back, with its connections, for the next request; beyond POOL_IDLE_MAX it goes. */
static void handle_give(ccp_registry *r, CURL *h)
{
	pthread_mutex_lock(&r->pool_lock);
	if (r->n_idle < POOL_IDLE_MAX) {
		r->idle[r->n_idle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&r->pool_lock);
	if (h)
		curl_easy_cleanup(h);
}

/* libcurl's progress callback: a nonzero return aborts the transfer (CURLE_ABORTED_BY_CALLBACK). */
static int on_progress(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return ccp_cancel_requested(p);
}

/* Performs one request. Returns the CURLcode; errbuf gets curl's detail. */
CURLcode ccp_reg_perform(ccp_registry *r, const req *q, xfer *x, char errbuf[CURL_ERROR_SIZE])
{
	struct curl_slist *hdrs = NULL, *t;
	CURL *h;
	CURLcode c = CURLE_OUT_OF_MEMORY;
	char range[32];
	uint64_t now = 0, start = ccp_reg_monotonic_ms();
	long low_speed = x->low_speed_s > 0 ? x->low_speed_s : r->low_speed_time;

	errbuf[0] = '\0';
	x->stalled_ms = 0;
	xfer_reset_response(x);
	if (ccp_cancel_requested(r->cancel)) {
		x->cancelled = 1;
		snprintf(errbuf, CURL_ERROR_SIZE, "cancelled");
		return CURLE_ABORTED_BY_CALLBACK;
	}
	if (r->deadline_ms && (now = ccp_reg_monotonic_ms()) >= r->deadline_ms) {
		x->deadline_hit = 1;
		snprintf(errbuf, CURL_ERROR_SIZE, "the pull's time limit ran out");
		return CURLE_OPERATION_TIMEDOUT;
	}
	if (!(h = handle_take(r)))
		return CURLE_OUT_OF_MEMORY;
	if (q->accept) {
		if (!(t = curl_slist_append(hdrs, q->accept)))
			goto out;
		hdrs = t;
	}
	if (q->auth_header) {
		if (!(t = curl_slist_append(hdrs, q->auth_header)))
			goto out;
		hdrs = t;
	}
#define SET(opt, val)                                          \
	do {                                                   \
		if ((c = curl_easy_setopt(h, opt, val)) != CURLE_OK) \
			goto out;                              \
	} while (0)
	SET(CURLOPT_URL, q->url);
	SET(CURLOPT_SHARE, r->share);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, r->allow_http ? "http,https" : "https");
	SET(CURLOPT_CONNECTTIMEOUT, r->connect_timeout);
	SET(CURLOPT_LOW_SPEED_LIMIT, 1024L);
	SET(CURLOPT_LOW_SPEED_TIME, low_speed);
	SET(CURLOPT_USERAGENT, r->user_agent);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_HEADERFUNCTION, header_cb);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_WRITEFUNCTION, write_cb);
	SET(CURLOPT_WRITEDATA, x);
	/* Large reads: a layer arrives in a few thousand callbacks rather than tens of thousands. */
	SET(CURLOPT_BUFFERSIZE, 256L << 10);
	SET(CURLOPT_SSL_VERIFYPEER, r->tls_verify ? 1L : 0L);
	SET(CURLOPT_SSL_VERIFYHOST, r->tls_verify ? 2L : 0L);
	/* an extra CA file adds to the system roots, it does not replace them */
	if (r->ca_file && r->tls_verify && (c = ccp_curl_add_ca_file(h, r->ca_file)) != CURLE_OK)
		goto out;
	if (hdrs)
		SET(CURLOPT_HTTPHEADER, hdrs);
	if (q->post)
		SET(CURLOPT_POSTFIELDS, q->post);
	if (q->basic_user) {
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SET(CURLOPT_USERNAME, q->basic_user);
		SET(CURLOPT_PASSWORD, q->basic_pass ? q->basic_pass : "");
	}
	if (q->range_exact) {
		snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)q->range_from,
			 (unsigned long long)q->range_last);
		SET(CURLOPT_RANGE, range);
	} else if (q->range_from) {
		snprintf(range, sizeof(range), "%llu-", (unsigned long long)q->range_from);
		SET(CURLOPT_RANGE, range);
	}
	/* a cancelled pull stops its transfers within a second (curl calls back at least that often) */
	if (r->cancel) {
		SET(CURLOPT_XFERINFOFUNCTION, on_progress);
		SET(CURLOPT_XFERINFODATA, (void *)r->cancel);
		SET(CURLOPT_NOPROGRESS, 0L);
	}
	/* the whole exchange, connecting and the sink's work included, ends by the deadline */
	if (r->deadline_ms)
		SET(CURLOPT_TIMEOUT_MS, (long)(r->deadline_ms - now));
#undef SET
	c = curl_easy_perform(h);
	if (c == CURLE_ABORTED_BY_CALLBACK && ccp_cancel_requested(r->cancel))
		x->cancelled = 1;
	if (c == CURLE_OPERATION_TIMEDOUT && r->deadline_ms && ccp_reg_monotonic_ms() >= r->deadline_ms) {
		x->deadline_hit = 1;
	} else if (c == CURLE_OPERATION_TIMEDOUT) {
		/* the low-speed window (or the connect timeout) that ran out: time lost to a stall */
		uint64_t lost = ccp_reg_monotonic_ms() - start;
		uint64_t window = (uint64_t)(low_speed > r->connect_timeout ? low_speed : r->connect_timeout) * 1000;
		x->stalled_ms = lost < window ? lost : window;
	}
out:
	/* nothing of this request may stay with the handle: its headers and data are freed below */
	curl_easy_reset(h);
	handle_give(r, h);
	curl_slist_free_all(hdrs);
	return c;
}

/* Scheme, host and port of two absolute URLs are equal (default ports made explicit). */
int ccp_reg_same_origin(const char *a, const char *b)
{
	CURLU *ua = curl_url(), *ub = curl_url();
	char *sa = NULL, *sb = NULL, *ha = NULL, *hb = NULL, *pa = NULL, *pb = NULL;
	int same = 0;

	if (ua && ub && curl_url_set(ua, CURLUPART_URL, a, 0) == CURLUE_OK &&
	    curl_url_set(ub, CURLUPART_URL, b, 0) == CURLUE_OK &&
	    curl_url_get(ua, CURLUPART_SCHEME, &sa, 0) == CURLUE_OK &&
	    curl_url_get(ub, CURLUPART_SCHEME, &sb, 0) == CURLUE_OK &&
	    curl_url_get(ua, CURLUPART_HOST, &ha, 0) == CURLUE_OK &&
	    curl_url_get(ub, CURLUPART_HOST, &hb, 0) == CURLUE_OK &&
	    curl_url_get(ua, CURLUPART_PORT, &pa, CURLU_DEFAULT_PORT) == CURLUE_OK &&
	    curl_url_get(ub, CURLUPART_PORT, &pb, CURLU_DEFAULT_PORT) == CURLUE_OK)
		same = strcasecmp(sa, sb) == 0 && strcasecmp(ha, hb) == 0 && strcmp(pa, pb) == 0;
	curl_free(sa);
	curl_free(sb);
	curl_free(ha);
	curl_free(hb);
	curl_free(pa);
	curl_free(pb);
	curl_url_cleanup(ua);
	curl_url_cleanup(ub);
	return same;
}

/* "host[:port]" of an absolute URL into out (never its path or query: a storage URL's signature). */
void ccp_reg_url_hostport(const char *url, char *out, size_t outlen)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;

	snprintf(out, outlen, "?");
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
			snprintf(out, outlen, "%.200s:%.10s", host, port);
		else
			snprintf(out, outlen, "%.200s", host);
	}
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
}

/* The OpenSSL error code in libcurl's message ("...error:0A00010B:SSL routines::..."), or 0. */
static unsigned long openssl_error_code(const char *errbuf)
{
	for (const char *p = errbuf; (p = strstr(p, "error:")) != NULL;) {
		unsigned long v = 0;
		int i;

		p += 6;
		for (i = 0; i < 8 && isxdigit((unsigned char)p[i]); i++)
			v = v * 16 + (unsigned long)(isdigit((unsigned char)p[i]) ? p[i] - '0' :
						     tolower((unsigned char)p[i]) - 'a' + 10);
		if (i == 8 && p[8] == ':')
			return v;
	}
	return 0;
}

int ccp_registry_failure_class(int code, const char *errbuf)
{
	unsigned long ossl;

	switch ((CURLcode)code) {
	case CURLE_COULDNT_CONNECT:       /* refused: the network or the registry is coming up */
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:            /* resets */
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return CCP_FAILURE_RETRY;
	case CURLE_SSL_CONNECT_ERROR:
		/* A reset or an early close during the handshake may go away; an answer that is not TLS,
		 * or a TLS alert (no common protocol version or cipher), comes again on every attempt. */
		ossl = errbuf ? openssl_error_code(errbuf) : 0;
		if (!ossl)
			return CCP_FAILURE_RETRY;
		if (ERR_GET_LIB(ossl) != ERR_LIB_SSL)
			return CCP_FAILURE_FINAL;
		if (ERR_GET_REASON(ossl) == SSL_R_WRONG_VERSION_NUMBER)
			return CCP_FAILURE_NOT_TLS;
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
		if (ERR_GET_REASON(ossl) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
			return CCP_FAILURE_RETRY;
#endif
		return CCP_FAILURE_FINAL;
	default:
		/* certificate errors, unknown hosts (NXDOMAIN), malformed answers, local errors */
		return CCP_FAILURE_FINAL;
	}
}

/* Failures of the connection or the transfer itself that a later attempt may not see. */
int ccp_reg_curl_transient(CURLcode c, const char *errbuf)
{
	return ccp_registry_failure_class((int)c, errbuf) == CCP_FAILURE_RETRY;
}

int ccp_reg_status_transient(long status)
{
	return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

int ccp_reg_is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* The absolute URL a redirect points to: Location resolved against the current URL, http(s) only. */
int ccp_reg_resolve_location(ccp_registry *r, const char *cur, const char *location, char **out,
			    const char *what, ccp_err *e)
{
	CURLU *u;
	char *abs = NULL, *scheme = NULL;
	int rc = 0;

	*out = NULL;
	if (!location || !location[0])
		return ccp_err_set(e, CCP_EREGISTRY, "%s: redirect from %s without a Location", what, r->host);
	if (!(u = curl_url()))
		return ccp_err_oom(e);
	if (curl_url_set(u, CURLUPART_URL, cur, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_URL, location, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &abs, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		rc = ccp_err_set(e, CCP_EREGISTRY, "%s: %s redirected to an invalid URL", what, r->host);
		goto out;
	}
	/* never downgrade a TLS registry to plain HTTP (or anything else) */
	if (strcasecmp(scheme, "https") != 0 && !(r->allow_http && strcasecmp(scheme, "http") == 0)) {
		rc = ccp_err_set(e, CCP_EREGISTRY, "%s: %s redirected to a %s URL, which is not allowed", what,
				 r->host, scheme);
		goto out;
	}
	if (!(*out = strdup(abs)))
		rc = ccp_err_oom(e);
out:
	curl_free(abs);
	curl_free(scheme);
	curl_url_cleanup(u);
	return rc;
}

/*
 * Sends a request to url and follows redirects by hand (at most MAX_REDIRECTS). The Authorization
 * header goes only to URLs of the registry's own origin: a blob redirected to object storage is
 * fetched without it (the storage URL carries its own signature). On return x holds the final
 * response (any status); a transport failure is an error.
 */
int ccp_reg_transfer_following(ccp_registry *r, const char *url, const char *auth_header, const char *accept,
			      const char *what, xfer *x, ccp_err *e)
{
	char errbuf[CURL_ERROR_SIZE];
	char *cur = strdup(url), *next = NULL;
	int rc = 0;

	if (!cur)
		return ccp_err_oom(e);
	x->transient = 0;
	for (int hops = 0;; hops++) {
		req q = { .url = cur, .accept = accept, .range_from = x->range_from, .range_last = x->range_last,
			  .range_exact = x->range_exact };
		CURLcode c;

		x->foreign = !ccp_reg_same_origin(cur, url);
		if (x->foreign)
			ccp_reg_url_hostport(cur, x->foreign_host, sizeof(x->foreign_host));
		else if (auth_header)
			q.auth_header = auth_header;
		x->overflow = x->header_overflow = x->range_bad = x->deadline_hit = x->cancelled = 0;
		x->sink_rc = 0;
		c = ccp_reg_perform(r, &q, x, errbuf);
		if (c != CURLE_OK) {
			x->transient = ccp_reg_curl_transient(c, errbuf) && !x->sink_rc && !x->overflow && !x->header_overflow &&
				       !x->range_bad && !x->range_ignored && !x->deadline_hit && !x->cancelled;
			if (x->sink_rc < 0)
				rc = x->sink_rc; /* the sink set its own error */
			else if (x->cancelled)
				rc = ccp_err_set(e, CCP_ECANCELED, "%s: cancelled", what);
			else if (x->range_ignored)
				rc = ccp_err_set(e, CCP_EREGISTRY, "%s: %s ignores Range requests", what, r->host);
			else if (x->deadline_hit)
				rc = ccp_err_set(e, CCP_EREGISTRY, "%s: the pull's time limit ran out (%s)", what,
						 cur);
			else if (x->range_bad)
				rc = ccp_err_set(e, CCP_EREGISTRY,
						 "%s: %s answered the request for the rest from byte %llu with "
						 "content from another offset",
						 what, r->host, (unsigned long long)x->received);
			else if (x->overflow && x->sink)
				rc = ccp_err_set(e, CCP_EINTEGRITY, "%s is larger than the expected %llu bytes",
						 what, (unsigned long long)x->sink_max);
			else if (x->overflow)
				rc = ccp_err_set(e, CCP_EREGISTRY, "%s is larger than %zu bytes", what, x->body_max);
			else if (x->header_overflow)
				rc = ccp_err_set(e, CCP_EREGISTRY, "%s: response headers from %s are too large",
						 what, r->host);
			else if (c == CURLE_PARTIAL_FILE)
				rc = ccp_err_set(e, CCP_EREGISTRY, "%s: response from %s was truncated", what,
						 r->host);
			else if (c == CURLE_OUT_OF_MEMORY)
				rc = ccp_err_oom(e);
			else
				rc = ccp_err_set(e, CCP_EREGISTRY, "%s: request to %s failed: %s", what, cur,
						 errbuf[0] ? errbuf : curl_easy_strerror(c));
			break;
		}
		if (!ccp_reg_is_redirect(x->status))
			break;
		if (hops >= MAX_REDIRECTS) {
			rc = ccp_err_set(e, CCP_EREGISTRY, "%s: more than %d redirects from %s", what,
					 MAX_REDIRECTS, r->host);
			break;
		}
		if ((rc = ccp_reg_resolve_location(r, cur, x->location, &next, what, e)) != 0)
			break;
		free(cur);
		cur = next;
		next = NULL;
	}
	free(cur);
	free(next);
	return rc;
}
