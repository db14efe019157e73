/*
 * OCI distribution client over libcurl: one handle per (registry, repository) for the whole pull.
 * Handles /v2/ ping, Basic and Bearer auth (WWW-Authenticate challenges, token caching), TLS options,
 * proxies from the environment, redirects (credentials never follow a redirect to another host),
 * size-capped bodies and streamed blobs. Every function is safe to call from several threads at once
 * on the same handle (layers are fetched in parallel); connections are shared through a curl share.
 */
#ifndef CCP_REGISTRY_REGISTRY_H
#define CCP_REGISTRY_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include "util/buf.h"
#include "util/err.h"

typedef struct ccp_registry ccp_registry;

typedef struct ccp_registry_opts {
	int tls_verify;           /* 0: no certificate check, and plain HTTP is tried/allowed */
	int insecure;             /* registries.conf insecure=true: plain HTTP allowed, TLS unchecked */
	const char *ca_file;      /* extra CA bundle (PEM); NULL: system roots only */
	const char *authfile;     /* containers-auth.json path; NULL: none */
	const char *creds;        /* "user:password" or "user" (no password); overrides authfile */
	const char *user_agent;   /* NULL: "ccpull/VERSION" */
	long connect_timeout_s;   /* 0: 30 */
	long low_speed_time_s;    /* abort when below 1 KiB/s for this long; 0: 60 */
} ccp_registry_opts;

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

/* GET a small blob (config) into body, at most max bytes. The caller verifies the digest. */
int ccp_registry_get_blob(ccp_registry *r, const char *digest, size_t max, ccp_buf *body, ccp_err *e);

/* Receives the body of a streamed blob. Returns 0 to continue or a negative code to abort. */
typedef int (*ccp_sink_fn)(void *payload, const void *data, size_t len);

/*
 * Streams GET /v2/<repo>/blobs/<digest> to sink. Fails with CCP_EINTEGRITY once more than max_size
 * bytes arrive; a shorter body is reported as CCP_EREGISTRY (truncated). If the sink aborts, its
 * code is returned and e is left as the sink set it (the sink keeps its own error).
 */
int ccp_registry_stream_blob(ccp_registry *r, const char *digest, uint64_t max_size, ccp_sink_fn sink,
			     void *payload, ccp_err *e);

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
