/*
 * Internals of the OCI distribution client shared by its files (not part of registry.h): the
 * registry handle, one HTTP exchange's state, and the functions one file calls in another.
 *
 *   registry.c   names, lifecycle, error mapping, the request loop (registry_get) and the getters
 *   retry.c      backoff, Retry-After, the wait between attempts (ccp_reg_retry_wait)
 *   transport.c  one HTTP exchange: curl callbacks, the handle pool, perform, redirects, failure classes
 *   session.c    authentication (Basic, Bearer tokens) and scheme selection (the /v2/ ping)
 */
#ifndef CCP_REGISTRY_INT_H
#define CCP_REGISTRY_INT_H

#include "registry/registry.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <curl/curl.h>

#define MAX_REDIRECTS 5
#define ERROR_BODY_MAX (64 * 1024)       /* body of a non-2xx response, kept for its error JSON */
#define RETRY_WAIT_BUDGET_MS 90000       /* all waits and stalls of one request together */
#define POOL_IDLE_MAX 8                  /* easy handles (and their connections) kept between requests */

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

/* registry.c */
void ccp_reg_free_secret(char *s);
uint64_t ccp_reg_monotonic_ms(void);

/* retry.c */
/* Waits before the next attempt of a request whose last failure is in e; -1 (e says why) when none is left. */
int ccp_reg_retry_wait(ccp_registry *r, unsigned attempt, const char *retry_after, uint64_t *waited, ccp_err *e);

/* transport.c */
void ccp_reg_xfer_free(xfer *x);
CURLcode ccp_reg_perform(ccp_registry *r, const req *q, xfer *x, char errbuf[CURL_ERROR_SIZE]);
int ccp_reg_same_origin(const char *a, const char *b);
void ccp_reg_url_hostport(const char *url, char *out, size_t outlen);
int ccp_reg_curl_transient(CURLcode c, const char *errbuf);
int ccp_reg_status_transient(long status);
int ccp_reg_is_redirect(long status);
int ccp_reg_resolve_location(ccp_registry *r, const char *cur, const char *location, char **out,
			     const char *what, ccp_err *e);
int ccp_reg_transfer_following(ccp_registry *r, const char *url, const char *auth_header, const char *accept,
			       const char *what, xfer *x, ccp_err *e);

/* session.c */
int ccp_reg_authenticate_locked(ccp_registry *r, const char *www_auth, ccp_err *e);
int ccp_reg_current_auth(ccp_registry *r, char **hdr, unsigned *gen, ccp_err *e);
int ccp_reg_ensure_scheme(ccp_registry *r, ccp_err *e);

#endif
