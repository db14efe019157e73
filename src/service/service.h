/*
 * `ccpull serve`: a ttrpc server on a unix socket that speaks the Confidential Data Hub's
 * api.ImagePullService, GetResourceService, SealedSecretService and keyprovider UnWrapKey, so that
 * kata-agent pulls through ccpull unchanged; other methods go to forward_socket, or are answered
 * UNIMPLEMENTED. It uses the public API of libccpull (include/ccpull), and of the library only the
 * ttrpc framing (src/ttrpc) and util's escaping of untrusted text (tools/layering.conf).
 *
 * Threads: the caller's thread accepts connections; each connection has a reader thread; each
 * request runs on a thread of its own (bounded per connection and in total), so requests on one
 * connection are served concurrently; a timer thread answers DEADLINE_EXCEEDED when a request's
 * timeout_nano passes. Each pull uses its own ccp_context. A frame once begun has a bounded time to
 * arrive; when every connection slot is taken the longest-idle connection makes room, or new clients
 * wait in the backlog; accepts pause (rather than spin) when file descriptors run out. server.c holds
 * the listener and the connections, requests.c the requests and the timer.
 */
#ifndef CCP_SERVICE_SERVICE_H
#define CCP_SERVICE_SERVICE_H

#include <stddef.h>
#include <stdint.h>
#include "ccpull/ccpull.h"

typedef struct svc_config {
	const ccp_pull_options *pull;        /* applied to every pull (progress is ignored) */
	size_t max_connections;              /* 0: 64 */
	size_t max_requests;                 /* requests in flight, all connections; 0: 32 */
	size_t max_requests_per_connection;  /* 0: 16 */
	int quiet;                           /* no per-request log lines */
	const char *aa_socket;               /* attestation-agent's ttrpc socket; NULL: no measurement */
	/* UnsealSecret: CDH's skip_sealed_secret_verification (also on when the environment has
	 * SKIP_SEALED_SECRET_VERIFICATION=true, the switch CDH itself reads), and the directory of
	 * verification keys (NULL: $CCPULL_SEALED_SECRET_DIR, else CCP_SEALED_SECRET_DIR) */
	int skip_sealed_secret_verification;
	const char *sealed_secret_dir;
	int cdh;                             /* CDH mode: statuses and messages as the Confidential Data Hub's */
	/*
	 * Another CDH's ttrpc socket: each request for a method ccpull does not serve (SecureMount, ...)
	 * is sent there, on a connection of its own, and its answer relayed; NULL: such requests are
	 * answered UNIMPLEMENTED, naming the method.
	 */
	const char *forward_socket;
} svc_config;

/*
 * Serves on listen_fd (a listening unix socket, closed by this call) until sig_fd (a signalfd for
 * SIGTERM and SIGINT, which the caller has blocked before any thread starts) becomes readable. Then
 * it closes listen_fd (new connections are refused), answers new requests on open connections with
 * UNAVAILABLE, waits for the requests in flight to finish, closes the connections and returns 0.
 * Returns -1 (after a message on stderr) if it cannot start or poll fails.
 */
int ccp_svc_run(int listen_fd, int sig_fd, const svc_config *cfg);

/* ---- for method handlers ---- */

typedef struct svc_request svc_request;

typedef struct svc_method {
	const char *service;   /* fully qualified: "api.ImagePullService" */
	const char *method;    /* "PullImage" */
	void (*handler)(svc_request *rq);  /* runs on the request's own thread; must call ccp_svc_reply once */
} svc_method;

extern const svc_method ccp_svc_image_pull_method;
/* cdh_services.c: api.GetResourceService/GetResource, api.SealedSecretService/UnsealSecret,
 * keyprovider.KeyProviderService/UnWrapKey */
extern const svc_method ccp_svc_get_resource_method;
extern const svc_method ccp_svc_unseal_secret_method;
extern const svc_method ccp_svc_unwrap_key_method;

/* The request's payload (the serialized method input) and its server's configuration. */
const uint8_t *ccp_svc_request_payload(const svc_request *rq, size_t *len);
const svc_config *ccp_svc_request_config(const svc_request *rq);
/* Whole seconds until the request's deadline (at least 1), or 0 when it has none. */
unsigned int ccp_svc_request_seconds_left(const svc_request *rq);

/*
 * Sends the response, unless the request was already answered (its deadline passed). Returns 1 when
 * this call delivered the response to the connection, 0 when it did not (already answered, or the
 * client is gone): then nobody will learn the result, and the handler undoes its effects.
 */
int ccp_svc_reply(svc_request *rq, int code, const char *message, const uint8_t *payload, size_t len);

/*
 * Ties ctx to the request (NULL: unties it; do so before freeing ctx): when the request's deadline
 * passes or its client goes away, ccp_context_cancel(ctx) stops the pull running on it. Called when
 * either has already happened, it cancels ctx at once.
 */
void ccp_svc_request_cancel_with(svc_request *rq, ccp_context *ctx);

/*
 * Waits until no other request in flight holds key (e.g. a bundle path), then holds it until the
 * request ends. Returns 0, or -1 when the request was answered meanwhile (its deadline passed) or
 * memory ran out; on -1 the handler replies (a no-op if already answered) and returns.
 */
int ccp_svc_request_hold(svc_request *rq, const char *key);

/*
 * Records a pull in the runtime measurement, as CDH does: the attestation agent's
 * ExtendRuntimeMeasurement on aa_socket with domain "github.com/confidential-containers", operation
 * "PullImage" and content {"image":"<image_url>", "digest":"<digest>"}. Returns 1 when aa_socket
 * does not exist (nothing recorded, msg ""), 0 when recorded or when the agent answers that
 * measurement is not supported or not enabled (then msg says so), -1 on failure (msg says why).
 */
int ccp_svc_measure_pull(const char *aa_socket, const char *image_url, const char *digest, char *msg, size_t mlen);

/*
 * Logs one line on stderr unless the configuration is quiet ("ccpull serve: " and the message, with
 * every byte outside printable ASCII written as \xNN). ccp_svc_warn logs even when quiet.
 */
void ccp_svc_log(const svc_config *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ccp_svc_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The name the log lines start with (default "ccpull serve"); set before ccp_svc_run, a static string. */
void ccp_svc_set_log_name(const char *name);

#endif
