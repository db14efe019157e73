/*
 * The OCI distribution client. One ccp_registry per (registry host, repository); many threads may
 * use it at once. A request takes an easy handle from the registry's pool and gives it back when
 * done: each handle is used by one thread at a time and keeps its own live connections, so the next
 * request (the next layer, on whichever thread) reuses a warm connection. libcurl does not support
 * sharing a connection cache between threads; only DNS answers and TLS sessions, which it does
 * support, are shared through a CURLSH.
 *
 * Request flow (registry_request): pick the scheme once (ping /v2/, https first, http fallback for
 * insecure registries) -> send with the current Authorization -> follow redirects by hand so that
 * Authorization only goes to the registry's own origin -> on 401 parse the challenge, (re)authenticate
 * once and resend -> map the final status to an error. registry_get repeats all of that after a
 * transient failure (retry_wait: backoff, Retry-After, attempt count, wait budget, deadline); a
 * streamed blob asks for the rest with a Range request and skips what a full answer repeats.
 */
#include "registry/registry.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/random.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include "config/config.h"
#include "util/curl.h"
#include "util/json.h"

#define MAX_REDIRECTS 5
#define HEADER_BYTES_MAX (64 * 1024)     /* all header lines of one response */
#define HEADER_VALUE_MAX (16 * 1024)     /* one kept header value */
#define ERROR_BODY_MAX (64 * 1024)       /* body of a non-2xx response, kept for its error JSON */
#define ERROR_DETAIL_MAX 512             /* registry error text quoted in our messages */
#define TOKEN_BODY_MAX (1024 * 1024)
#define NAME_MAX_LEN 1024                /* host, repository, reference */
#define TOKEN_EXPIRY_SLACK 10            /* refresh a bearer token this many seconds early */
#define RETRY_BASE_MS 500                /* first backoff; doubles per retry */
#define RETRY_BACKOFF_MAX_MS 10000       /* cap of one backoff */
#define RETRY_AFTER_MAX_MS 30000         /* a longer Retry-After is cut to this */
#define RETRY_WAIT_BUDGET_MS 90000       /* all waits and stalls of one request together */
#define POOL_IDLE_MAX 8                  /* easy handles (and their connections) kept between requests */

static const char MANIFEST_ACCEPT[] =
	"Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
	"application/vnd.docker.distribution.manifest.v2+json, "
	"application/vnd.docker.distribution.manifest.list.v2+json, "
	"application/vnd.docker.distribution.manifest.v1+prettyjws, "
	"application/vnd.docker.distribution.manifest.v1+json";

enum { SCHEME_UNKNOWN, SCHEME_HTTPS, SCHEME_HTTP };
enum { AUTH_NONE, AUTH_BASIC, AUTH_BEARER };

struct ccp_registry {
	char *host;
	char *auth_host;
	char *repository;
	int tls_verify;
	int allow_http;
	char *ca_file;
	char *user_agent;
	long connect_timeout;
	long low_speed_time;
	unsigned retries;
	uint64_t deadline_ms;  /* CLOCK_MONOTONIC; 0: none */
	const ccp_cancel *cancel; /* may be NULL */
	/* credentials (secrets) */
	char *user;
	char *password;
	char *identity_token;

	CURLSH *share;         /* DNS and TLS sessions only */
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t pool_lock;
	CURL *idle[POOL_IDLE_MAX]; /* handles not in use, the most recently used last */
	unsigned n_idle;

	/* everything below is protected by lock */
	pthread_mutex_t lock;
	int scheme;
	int auth;
	unsigned auth_gen;     /* bumped whenever auth_header changes */
	char *auth_header;     /* "Authorization: ..." (secret), NULL when anonymous */
	char *realm;           /* bearer challenge, kept to refresh the token */
	char *service;
	char *chal_scope;
	time_t token_expiry;   /* CLOCK_MONOTONIC seconds */
	int supports_signatures; /* the ping answered X-Registry-Supports-Signatures: 1 */
};

/* One HTTP exchange's results, reset at every response (redirect hops, auth retries). */
typedef struct xfer {
	/* where a 2xx body goes: a capped buffer or a sink */
	ccp_buf *body;
	size_t body_max;
	ccp_sink_fn sink;
	void *payload;
	uint64_t sink_max;

	long status;
	size_t header_bytes;
	char *content_type;
	char *docker_digest;
	char *www_auth;
	char *location;
	char *retry_after;
	char *content_range;
	char *supports_sigs;   /* X-Registry-Supports-Signatures */
	ccp_buf errbody;
	int body_started;      /* the first 2xx body byte of this response was seen */
	uint64_t skip;         /* bytes of this response the sink already has */

	/* across the responses of one request */
	uint64_t received;     /* bytes given to the sink or body */
	uint64_t range_from;   /* ask for the body from this offset (a resumed stream); 0: all */
	uint64_t range_base;   /* offset in the blob of the first byte the sink wants */
	uint64_t range_last;   /* exact: ask for bytes range_from..range_last, and refuse a 200 */
	int range_exact;
	int range_ignored;     /* exact, and the server answered 200: it ignores Range */
	int overflow;
	int header_overflow;
	int sink_rc;
	int range_bad;         /* a 206 that does not continue where we stopped */
	int deadline_hit;
	int cancelled;         /* the caller cancelled the pull (ccp_context_cancel) */
	int transient;         /* the failure may go away: worth another attempt */
	int foreign;           /* the final response came from another origin than the registry's */
	long low_speed_s;      /* this attempt's low-speed window; 0: the handle's */
	uint64_t stalled_ms;   /* what the last exchange lost before it timed out (a stall) */
	char foreign_host[256]; /* its host[:port], for messages */
} xfer;

static void free_secret(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

static time_t monotonic_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static uint64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t ccp_registry_deadline(unsigned int timeout_s)
{
	return timeout_s ? monotonic_ms() + (uint64_t)timeout_s * 1000 : 0;
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
	free_secret(r->user);
	free_secret(r->password);
	free_secret(r->identity_token);
	free_secret(r->auth_header);
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

/* ---- retries ---- */

uint64_t ccp_retry_backoff_ms(unsigned int attempt, uint32_t jitter)
{
	uint64_t d = RETRY_BASE_MS;

	for (unsigned i = 0; i < attempt && d < RETRY_BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > RETRY_BACKOFF_MAX_MS)
		d = RETRY_BACKOFF_MAX_MS;
	/* the upper half is random so that parallel downloads and guests do not retry in lockstep */
	return d / 2 + jitter % (d / 2 + 1);
}

int ccp_retry_after_parse(const char *value, time_t now, uint64_t *ms)
{
	uint64_t s = 0;
	const char *p = value;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p >= '0' && *p <= '9') {
		for (; *p >= '0' && *p <= '9'; p++)
			if (s <= RETRY_AFTER_MAX_MS)
				s = s * 10 + (uint64_t)(*p - '0');
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p)
			return -1;
	} else {
		time_t t = *p ? curl_getdate(p, NULL) : -1;
		if (t == -1)
			return -1;
		s = t > now ? (uint64_t)(t - now) : 0;
	}
	*ms = s < RETRY_AFTER_MAX_MS / 1000 ? s * 1000 : RETRY_AFTER_MAX_MS;
	return 0;
}

static uint32_t jitter_value(void)
{
	uint32_t v;
	struct timespec ts;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)ts.tv_nsec ^ (uint32_t)(uintptr_t)&v;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Adds " (gave up after N attempts[: why])" to the last failure's message. */
static void err_gave_up(ccp_err *e, unsigned attempts, const char *why)
{
	size_t len = strlen(e->msg);

	if (len < sizeof(e->msg))
		snprintf(e->msg + len, sizeof(e->msg) - len, " (gave up after %u attempts%s%s)", attempts,
			 why ? ": " : "", why ? why : "");
}

/*
 * Waits before attempt number attempt + 2 of a request whose last failure is in e. Returns -1 when
 * no attempt is left: the retries, the wait budget of the request (*waited) or the deadline are used
 * up; e then says so.
 */
static int retry_wait(ccp_registry *r, unsigned attempt, const char *retry_after, uint64_t *waited, ccp_err *e)
{
	uint64_t delay = ccp_retry_backoff_ms(attempt, jitter_value()), ra;

	if (attempt >= r->retries) {
		if (r->retries)
			err_gave_up(e, attempt + 1, NULL);
		return -1;
	}
	if (retry_after && ccp_retry_after_parse(retry_after, time(NULL), &ra) == 0 && ra > delay)
		delay = ra;
	if (*waited + delay > RETRY_WAIT_BUDGET_MS) {
		err_gave_up(e, attempt + 1, "the registry keeps failing");
		return -1;
	}
	if (r->deadline_ms && monotonic_ms() + delay >= r->deadline_ms) {
		err_gave_up(e, attempt + 1, "the pull's time limit runs out");
		return -1;
	}
	if (r->cancel) {
		ccp_err why = CCP_ERR_INIT;
		if (ccp_cancel_sleep(r->cancel, delay, NULL, &why) != 0) {
			if (why.code == CCP_ECANCELED)
				ccp_err_set(e, CCP_ECANCELED, "registry %s: cancelled", r->host);
			else
				err_gave_up(e, attempt + 1, "the pull's time limit runs out");
			return -1;
		}
	} else {
		sleep_ms(delay);
	}
	*waited += delay;
	return 0;
}

/* ---- one HTTP exchange ---- */

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

static void xfer_free(xfer *x)
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

typedef struct req {
	const char *url;
	const char *auth_header;   /* NULL: none */
	const char *accept;        /* "Accept: ..." or NULL */
	const char *post;          /* form body; NULL: GET */
	const char *basic_user;    /* CURLOPT_USERNAME (token endpoint only) */
	const char *basic_pass;
	uint64_t range_from;       /* > 0: ask for the body from this byte on */
	uint64_t range_last;       /* with range_exact: up to this byte */
	int range_exact;
} req;

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
static CURLcode perform(ccp_registry *r, const req *q, xfer *x, char errbuf[CURL_ERROR_SIZE])
{
	struct curl_slist *hdrs = NULL, *t;
	CURL *h;
	CURLcode c = CURLE_OUT_OF_MEMORY;
	char range[32];
	uint64_t now = 0, start = monotonic_ms();
	long low_speed = x->low_speed_s > 0 ? x->low_speed_s : r->low_speed_time;

	errbuf[0] = '\0';
	x->stalled_ms = 0;
	xfer_reset_response(x);
	if (ccp_cancel_requested(r->cancel)) {
		x->cancelled = 1;
		snprintf(errbuf, CURL_ERROR_SIZE, "cancelled");
		return CURLE_ABORTED_BY_CALLBACK;
	}
	if (r->deadline_ms && (now = monotonic_ms()) >= r->deadline_ms) {
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
	if (c == CURLE_OPERATION_TIMEDOUT && r->deadline_ms && monotonic_ms() >= r->deadline_ms) {
		x->deadline_hit = 1;
	} else if (c == CURLE_OPERATION_TIMEDOUT) {
		/* the low-speed window (or the connect timeout) that ran out: time lost to a stall */
		uint64_t lost = monotonic_ms() - start;
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
static int same_origin(const char *a, const char *b)
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
static void url_hostport(const char *url, char *out, size_t outlen)
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
static int curl_transient(CURLcode c, const char *errbuf)
{
	return ccp_registry_failure_class((int)c, errbuf) == CCP_FAILURE_RETRY;
}

static int status_transient(long status)
{
	return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

static int is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* The absolute URL a redirect points to: Location resolved against the current URL, http(s) only. */
static int resolve_location(ccp_registry *r, const char *cur, const char *location, char **out,
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
static int transfer_following(ccp_registry *r, const char *url, const char *auth_header, const char *accept,
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

		x->foreign = !same_origin(cur, url);
		if (x->foreign)
			url_hostport(cur, x->foreign_host, sizeof(x->foreign_host));
		else if (auth_header)
			q.auth_header = auth_header;
		x->overflow = x->header_overflow = x->range_bad = x->deadline_hit = x->cancelled = 0;
		x->sink_rc = 0;
		c = perform(r, &q, x, errbuf);
		if (c != CURLE_OK) {
			x->transient = curl_transient(c, errbuf) && !x->sink_rc && !x->overflow && !x->header_overflow &&
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
		if (!is_redirect(x->status))
			break;
		if (hops >= MAX_REDIRECTS) {
			rc = ccp_err_set(e, CCP_EREGISTRY, "%s: more than %d redirects from %s", what,
					 MAX_REDIRECTS, r->host);
			break;
		}
		if ((rc = resolve_location(r, cur, x->location, &next, what, e)) != 0)
			break;
		free(cur);
		cur = next;
		next = NULL;
	}
	free(cur);
	free(next);
	return rc;
}

/* ---- authentication ---- */

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
		*c = perform(r, &q, x, errbuf);
		if (*c != CURLE_OK || !is_redirect(x->status))
			break;
		if (hops >= MAX_REDIRECTS) {
			rc = ccp_err_set(e, CCP_EREGISTRY, "token server %.256s for %s: more than %d redirects",
					 r->realm, r->host, MAX_REDIRECTS);
			break;
		}
		if ((rc = resolve_location(r, q.url, x->location, &next, "token request", e)) != 0)
			break;
		if (q.post && (!same_origin(next, first->url) || (x->status != 307 && x->status != 308))) {
			url_hostport(next, where, sizeof(where));
			rc = ccp_err_set(e, CCP_EREGISTRY,
					 "token server %.256s for %s redirected the identity-token request (HTTP %ld) "
					 "to %s; the token is only sent to the realm's own origin",
					 r->realm, r->host, x->status, where);
			break;
		}
		if (!same_origin(next, first->url))
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
			transient = curl_transient(c, errbuf) && !x.overflow && !x.header_overflow && !x.deadline_hit &&
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
			transient = status_transient(x.status);
			rc = ccp_err_set(e, CCP_EREGISTRY, "token server %.256s for %s returned HTTP status %ld",
					 r->realm, r->host, x.status);
		} else {
			break;
		}
		if (!transient || retry_wait(r, attempt, x.retry_after, &waited, e) != 0)
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
	free_secret(r->auth_header);
	r->auth_header = hdr;
	r->auth = AUTH_BEARER;
	r->auth_gen++;
	r->token_expiry = monotonic_now() + expires_in - (expires_in > 2 * TOKEN_EXPIRY_SLACK ? TOKEN_EXPIRY_SLACK : 0);
out:
	free_secret(token);
	ccp_buf_free_secure(&params);
	ccp_buf_free_secure(&url);
	ccp_buf_free_secure(&body);
	ccp_buf_free(&scope);
	xfer_free(&x);
	return rc;
}

/* Answers a 401 challenge: set up Basic or fetch a Bearer token. Called with r->lock held. */
static int authenticate_locked(ccp_registry *r, const char *www_auth, ccp_err *e)
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
		free_secret(r->auth_header);
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
static int current_auth(ccp_registry *r, char **hdr, unsigned *gen, ccp_err *e)
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
	*c = perform(r, &q, x, errbuf);
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
			*transient = curl_transient(c2, err_http) && !x.deadline_hit;
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
		*transient = curl_transient(c, err_https) && !x.deadline_hit;
		rc = ccp_err_set(e, CCP_EREGISTRY, "cannot reach registry %s: %s", r->host,
				 err_https[0] ? err_https : curl_easy_strerror(c));
		goto out;
	}
	/* As containers/image detectProperties: the ping's header, whether it answered 200 or 401. */
	r->supports_signatures = x.supports_sigs && strcmp(x.supports_sigs, "1") == 0;
	if (x.status == 401 && r->auth == AUTH_NONE)
		rc = authenticate_locked(r, x.www_auth, e);
out:
	pthread_mutex_unlock(&r->lock);
	xfer_free(&x);
	return rc;
}

static int ensure_scheme(ccp_registry *r, ccp_err *e)
{
	uint64_t waited = 0;
	int rc, transient;

	for (unsigned attempt = 0;; attempt++) {
		rc = ensure_scheme_once(r, &transient, e);
		if (!rc || !transient || retry_wait(r, attempt, NULL, &waited, e) != 0)
			return rc;
	}
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
		if ((rc = current_auth(r, &auth, &gen, e)) != 0)
			return ccp_err_wrap(e, "%s", what);
		rc = transfer_following(r, url, auth, accept, what, x, e);
		free_secret(auth);
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
			rc = authenticate_locked(r, x->www_auth, e);
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
		x->transient = status_transient(x->status);
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
 * GET <scheme>://host<path>, retrying transient failures (retry_wait). On success (2xx) x holds the
 * response; a 404 returns CCP_EREGISTRY with not_found ("manifest unknown") in the message. A stream
 * goes on from the bytes its sink has; a buffered body starts over.
 */
static int registry_get(ccp_registry *r, const char *path, const char *accept, const char *what,
			const char *not_found, xfer *x, ccp_err *e)
{
	ccp_buf url = CCP_BUF_INIT(0);
	uint64_t waited = 0;
	int rc;

	if ((rc = ensure_scheme(r, e)) != 0)
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
		if (!rc || !x->transient || retry_wait(r, attempt, x->retry_after, &waited, e) != 0)
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
	xfer_free(&x);
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
	xfer_free(&x);
	return rc;
}

int ccp_registry_supports_signatures(ccp_registry *r, int *out, ccp_err *e)
{
	int rc;

	*out = 0;
	if ((rc = ensure_scheme(r, e)) != 0)
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
	xfer_free(&x);
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
	xfer_free(&x);
	return rc;
}
