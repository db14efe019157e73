/*
 * What the two halves of the ttrpc server of `ccpull serve` share (service.h is the service's
 * interface to the CLI and to the method handlers): server.c owns the listener, the connections
 * (frames in, answers out), the worker threads, the log and the drain; requests.c owns the requests
 * (dispatch to a method's handler or to the forward socket, the handler calls of service.h, the
 * deadline timer). A field marked "under srv->lock" is read and written with svc_server.lock held.
 */
#ifndef CCP_SERVICE_SERVER_INT_H
#define CCP_SERVICE_SERVER_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "service.h"
#include "ttrpc/ttrpc.h"

typedef struct svc_server svc_server;
typedef struct svc_conn svc_conn;

struct svc_conn {
	svc_conn *next;
	svc_server *srv;
	int fd;
	pthread_mutex_t wlock;  /* one frame at a time on the socket */
	size_t refs;            /* the reader thread and each request in flight; under srv->lock */
	size_t inflight;        /* under srv->lock */
	int in_frame;           /* a frame has begun and not yet fully arrived; under srv->lock */
	int evicted;            /* shut down to make room; under srv->lock */
	int closed;             /* its reader has ended: no answer can reach the client; under srv->lock */
	struct timespec idle_since; /* CLOCK_MONOTONIC, the end of the last frame; under srv->lock */
	unsigned long id;
};

struct svc_request {
	svc_request *next;
	svc_server *srv;
	svc_conn *conn;
	const svc_method *method;
	uint32_t stream_id;
	int has_deadline;
	struct timespec deadline;  /* CLOCK_MONOTONIC */
	int answered;              /* under srv->lock */
	char *key;                 /* held by ccp_svc_request_hold; under srv->lock */
	ccp_context *cancel_ctx;   /* cancelled when answered by the timer or the client goes; under srv->lock */
	uint8_t *payload;
	size_t payload_len;
	char *fwd_service, *fwd_method; /* a forwarded request's names */
};

struct svc_server {
	pthread_mutex_t lock;
	pthread_cond_t cond;  /* CLOCK_MONOTONIC; broadcast whenever requests, keys or connections change */
	const svc_config *cfg;
	size_t max_conns, max_reqs, max_reqs_per_conn;
	int stopping;         /* SIGTERM: no new requests */
	int timer_exit;
	size_t n_conns, n_reqs;
	size_t n_evicted;     /* connections shut down to make room whose reader has not ended yet */
	svc_conn *conns;      /* connections whose reader runs */
	svc_request *reqs;    /* requests in flight */
	unsigned long next_conn_id;
	size_t n_workers;     /* connection and request threads started and not yet joined */
	struct svc_worker *exited; /* finished workers waiting to be joined */
	/* the accepting thread's own */
	size_t nofile, fd_reserve; /* the soft RLIMIT_NOFILE; descriptors kept free for pulls */
	unsigned long refused;     /* connections refused since the last one accepted */
	unsigned long starved;     /* accepts paused (no descriptor, no memory, no slot), since then */
	long backoff_ms;           /* the current pause after such a failure; 0 after an accept */
	int paused;                /* the listening socket is not watched until resume */
	struct timespec resume;    /* CLOCK_MONOTONIC */
};

static inline int ccp_svc_timespec_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* ---- server.c ---- */

/* Runs fn(arg) on a new worker thread, joined by the server (never detached). 0, or -1 when none started. */
int ccp_svc_worker_start(svc_server *s, void *(*fn)(void *), void *arg);
/* Drops a reference to c, with s->lock held; the last one closes its socket and frees it. */
void ccp_svc_conn_unref_locked(svc_conn *c);
/*
 * Writes one response frame on c (one frame at a time on the socket; the frame is wiped after, as it
 * may carry a secret). An error response too large for a frame, or without memory, goes out as
 * RESOURCE_EXHAUSTED on the same stream; an OK one is not sent. 0, or -1 when it was not (wholly) sent.
 */
int ccp_svc_conn_respond(svc_conn *c, uint32_t stream_id, int code, const char *message, const uint8_t *payload,
			 size_t len);

/* ---- requests.c ---- */

/*
 * Starts a decoded request on a thread of its own (a method ccpull serves, else the forward socket),
 * or answers it at once: UNIMPLEMENTED (no such method, no forward socket), UNAVAILABLE while
 * stopping, RESOURCE_EXHAUSTED past the limits of requests in flight, INVALID_ARGUMENT for a stream
 * id in use. Called by c's reader thread; req stays the caller's.
 */
void ccp_svc_dispatch(svc_conn *c, uint32_t stream_id, Ttrpc__Request *req);
/* The deadline timer of ccp_svc_run (arg: the server); returns once srv->timer_exit is set. */
void *ccp_svc_timer_thread(void *arg);

#endif
