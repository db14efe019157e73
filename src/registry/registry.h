/*
 * OCI distribution client over libcurl: one handle per (registry, repository) for the whole pull.
 * Handles /v2/ ping, Basic and Bearer auth (WWW-Authenticate challenges, token caching), TLS options,
 * proxies from the environment, redirects (credentials never follow a redirect to another host),
 * size-capped bodies and streamed blobs. Every function is safe to call from several threads at once
 * on the same handle (layers are fetched in parallel); each request borrows one of the handle's
 * libcurl easy handles, whose connections the next request reuses.
 *
 * Transient failures (connection refused or reset, timeouts, truncated bodies, HTTP 408, 429, 500,
 * 502, 503, 504) are retried with exponential backoff and jitter, honouring Retry-After; the number
 * of attempts, the time spent waiting or stalled (one 90 s budget per request, a transfer's resumed
 * attempts included: a stall costs its low-speed window, and later attempts get what is left) and
 * an optional deadline bound every request. What cannot change (certificate and TLS protocol
 * errors, a plain-HTTP answer to https, unknown host names) is not retried. A streamed blob cut off mid-way resumes with a Range request, so the sink sees every
 * byte exactly once.
 */
#ifndef CCP_REGISTRY_REGISTRY_H
#define CCP_REGISTRY_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "util/buf.h"
#include "util/cancel.h"
#include "util/err.h"

typedef struct ccp_registry ccp_registry;

typedef struct ccp_registry_opts {
	int tls_verify;           /* 0: no certificate check, and plain HTTP is tried/allowed */
	int insecure;             /* registries.conf insecure=true: plain HTTP allowed, TLS unchecked */
	const char *ca_file;      /* extra CA bundle (PEM), trusted besides the system roots; NULL: none */
	const char *authfile;     /* containers-auth.json path; NULL: none */
	const ccp_buf *authfile_data; /* or its content (a kbs:// auth.json), which wins over authfile */
	const char *creds;        /* "user:password" or "user" (no password); overrides authfile */
	const char *user_agent;   /* NULL: "ccpull/VERSION" */
	long connect_timeout_s;   /* 0: 30 */
	long low_speed_time_s;    /* abort when below 1 KiB/s for this long; 0: 60 */
	unsigned int retries;     /* attempts after the first for a transient failure (at most CCP_RETRIES_MAX) */
	uint64_t deadline_ms;     /* CLOCK_MONOTONIC ms (ccp_registry_deadline) when every request stops; 0: none */
	const ccp_cancel *cancel; /* once cancelled, requests and retry waits stop (CCP_ECANCELED); NULL: never.
	                           * Must outlive the registry handle */
} ccp_registry_opts;

#define CCP_RETRIES_MAX 20

/* The deadline timeout_s seconds from now, for ccp_registry_opts.deadline_ms (0 for 0: no deadline). */
uint64_t ccp_registry_deadline(unsigned int timeout_s);

/*
 * The wait before retry number attempt (0 for the first retry): 500 ms doubling up to 10 s, of which
 * the upper half is jitter chosen by the random value jitter. Exposed for tests.
 */
uint64_t ccp_retry_backoff_ms(unsigned int attempt, uint32_t jitter);

/*
 * Parses a Retry-After value (delay-seconds or an HTTP-date, RFC 9110 10.2.3) into *ms, counted from
 * now (a date in the past is 0) and capped at 30 s. Returns 0, or -1 for an invalid value.
 */
int ccp_retry_after_parse(const char *value, time_t now, uint64_t *ms);

/*
 * How a failed libcurl request ends, from its CURLcode and libcurl's error buffer (exposed for
 * tests): CCP_FAILURE_RETRY when another attempt may succeed (refused while the network comes up,
 * resets, timeouts, cut-off bodies, a reset during the TLS handshake), CCP_FAILURE_NOT_TLS when an
 * https request met a server that does not speak TLS (a plain-HTTP registry), CCP_FAILURE_FINAL for
 * what cannot change (certificate errors, TLS alerts, unknown host names, local errors).
 */
enum { CCP_FAILURE_FINAL, CCP_FAILURE_RETRY, CCP_FAILURE_NOT_TLS };
int ccp_registry_failure_class(int curl_code, const char *errbuf);

/*
 * host: "host[:port]" to contact (after mirror/docker.io mapping). repository: "library/busybox".
 * auth_host: the host whose credentials apply (usually == host; "docker.io" for registry-1.docker.io).
 */
int ccp_registry_new(ccp_registry **out, const char *host, const char *auth_host, const char *repository,
		     const ccp_registry_opts *opts, ccp_err *e);
void ccp_registry_free(ccp_registry *r);

/*
 * GET /v2/<repo>/manifests/<reference> with an Accept header listing OCI and Docker schema2 manifest
 * and index types. body receives at most max bytes (more -> CCP_EREGISTRY). *media_type and
 * *content_digest (Docker-Content-Digest, NULL if absent) are malloc'ed. 404 -> CCP_EREGISTRY with
 * "manifest unknown" in the message.
 */
int ccp_registry_get_manifest(ccp_registry *r, const char *reference, size_t max, ccp_buf *body,
			      char **media_type, char **content_digest, ccp_err *e);

/*
 * GET /v2/<repo>/<kind>/<reference>, kind "manifests" or "referrers", with the given Accept header, for
 * content that may be absent (sigstore attachments): a 404 gives *found = 0 and no error. Otherwise like
 * ccp_registry_get_manifest; the caller verifies what it gets.
 */
int ccp_registry_get_optional(ccp_registry *r, const char *kind, const char *reference, const char *accept,
			      size_t max, ccp_buf *body, char **media_type, int *found, ccp_err *e);

/*
 * Whether the registry's /v2/ answer carried X-Registry-Supports-Signatures: 1 (pings it if not done yet):
 * then simple signatures come from its API extension instead of a lookaside store.
 */
int ccp_registry_supports_signatures(ccp_registry *r, int *out, ccp_err *e);

/*
 * GET /extensions/v2/<repo>/signatures/<digest> (the X-Registry-Supports-Signatures extension) into body,
 * at most max bytes (more -> CCP_EREGISTRY). Any status but 2xx, 404 included, is CCP_EREGISTRY, as in
 * containers/image. The caller parses and bounds the list.
 */
int ccp_registry_get_signatures(ccp_registry *r, const char *digest, size_t max, ccp_buf *body, ccp_err *e);

/* GET a small blob (config) into body, at most max bytes. The caller verifies the digest. */
int ccp_registry_get_blob(ccp_registry *r, const char *digest, size_t max, ccp_buf *body, ccp_err *e);

/* Receives the body of a streamed blob. Returns 0 to continue or a negative code to abort. */
typedef int (*ccp_sink_fn)(void *payload, const void *data, size_t len);

/*
 * Streams GET /v2/<repo>/blobs/<digest> to sink. Fails with CCP_EINTEGRITY once more than max_size
 * bytes arrive; a body that stays shorter after the retries is CCP_EREGISTRY (truncated). A transfer
 * cut off mid-way goes on from the next byte (Range; a server that answers with the whole blob has
 * the bytes already delivered skipped), so sink sees the blob's bytes once each, in order. If the sink
 * aborts, its code is returned and e is left as the sink set it (the sink keeps its own error).
 */
int ccp_registry_stream_blob(ccp_registry *r, const char *digest, uint64_t max_size, ccp_sink_fn sink,
			     void *payload, ccp_err *e);
/*
 * The same for the len bytes of the blob from byte from: exact asks for just them (Range from-last)
 * and fails with *ignored = 1 (CCP_EREGISTRY) when the server answers with the whole blob (200);
 * otherwise it asks for the rest from byte from and skips what a 200 repeats. A cut-off range goes
 * on from its next byte. ignored may be NULL. (src/registry/ranges.c fetches a blob in parts.)
 */
int ccp_registry_stream_blob_range(ccp_registry *r, const char *digest, uint64_t from, uint64_t len, int exact,
				   ccp_sink_fn sink, void *payload, int *ignored, ccp_err *e);

/* Parses one WWW-Authenticate header value (exposed for tests and fuzzing). */
typedef struct ccp_auth_challenge {
	int scheme;      /* 1 basic, 2 bearer, 0 other */
	char *realm;
	char *service;
	char *scope;
} ccp_auth_challenge;
int ccp_auth_challenge_parse(ccp_auth_challenge *out, const char *value, size_t len, ccp_err *e);
void ccp_auth_challenge_free(ccp_auth_challenge *c);

/* Parses a token endpoint response ({"token"|"access_token", "expires_in"}) capped at 1 MiB. */
int ccp_token_response_parse(char **token, long *expires_in, const void *data, size_t len, ccp_err *e);

#endif
