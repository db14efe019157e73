/*
 * The ttrpc server behind `ccpull serve` (service.h): the listening socket and its limits (connection
 * slots, file descriptors, paused accepts), each connection's reader thread (frames in, answers out),
 * the worker threads, the log lines, and the drain on SIGTERM. What a request does once its frame is
 * decoded is requests.c's (ccp_svc_dispatch); server_int.h holds what the two share.
 */
#include "server_int.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "util/err.h"

#define DEFAULT_MAX_CONNECTIONS 64
#define DEFAULT_MAX_REQUESTS 32
#define DEFAULT_MAX_REQUESTS_PER_CONNECTION 16
#define SEND_TIMEOUT_SEC 30  /* a client that stops reading cannot hold a reply (or the drain) forever */
#define FRAME_TIMEOUT_SEC 10 /* a frame, once begun, arrives whole within this (a unix socket) */

/*
 * Connection and request threads are joined, not detached: a detached thread can still be running
 * its thread-local destructors (OpenSSL's per-thread state among them) while the process exits.
 * A worker queues itself on srv->exited when its function returns; whoever starts the next worker,
 * and the drain at shutdown, join the queue.
 */
typedef struct svc_worker {
	struct svc_worker *next;
	svc_server *srv;
	pthread_t th;
	void *(*fn)(void *);
	void *arg;
} svc_worker;

static void *worker_main(void *arg)
{
	svc_worker *w = arg;
	svc_server *s = w->srv;

	w->fn(w->arg);
	pthread_mutex_lock(&s->lock);
	w->th = pthread_self();
	w->next = s->exited;
	s->exited = w;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Joins the workers that have finished. */
static void workers_reap(svc_server *s)
{
	svc_worker *w, *next;
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	w = s->exited;
	s->exited = NULL;
	pthread_mutex_unlock(&s->lock);
	for (; w; w = next) {
		next = w->next;
		pthread_join(w->th, NULL);
		free(w);
		n++;
	}
	if (n) {
		pthread_mutex_lock(&s->lock);
		s->n_workers -= n;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
	}
}

/* Runs fn(arg) on a new worker thread. 0, or -1 when no thread could be started. */
int ccp_svc_worker_start(svc_server *s, void *(*fn)(void *), void *arg)
{
	svc_worker *w;
	pthread_t th;

	workers_reap(s);
	if (!(w = calloc(1, sizeof(*w))))
		return -1;
	w->srv = s;
	w->fn = fn;
	w->arg = arg;
	pthread_mutex_lock(&s->lock);
	s->n_workers++;
	pthread_mutex_unlock(&s->lock);
	if (pthread_create(&th, NULL, worker_main, w) != 0) {
		pthread_mutex_lock(&s->lock);
		s->n_workers--;
		pthread_mutex_unlock(&s->lock);
		free(w);
		return -1;
	}
	return 0;
}

/*
 * One line on stderr. Lines quote what the host sent (image references, bundle paths) and what the
 * library says about a registry's answers: every byte outside printable ASCII is written as \xNN,
 * so no line can be split, forged or carry terminal escapes.
 */
static const char *log_name = "ccpull serve";

void ccp_svc_set_log_name(const char *name)
{
	log_name = name;
}

static void vlog_line(const char *fmt, va_list ap)
{
	char line[2048], out[2048];

	vsnprintf(line, sizeof(line), fmt, ap);
	ccp_err_escape(out, sizeof(out), line);
	fprintf(stderr, "%s: %s\n", log_name, out);
}

void ccp_svc_log(const svc_config *cfg, const char *fmt, ...)
{
	va_list ap;

	if (cfg->quiet)
		return;
	va_start(ap, fmt);
	vlog_line(fmt, ap);
	va_end(ap);
}

void ccp_svc_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_line(fmt, ap);
	va_end(ap);
}

/* ---- connections ---- */

void ccp_svc_conn_unref_locked(svc_conn *c)
{
	if (--c->refs)
		return;
	close(c->fd);
	pthread_mutex_destroy(&c->wlock);
	free(c);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int ccp_svc_conn_respond(svc_conn *c, uint32_t stream_id, int code, const char *message, const uint8_t *payload,
			 size_t len)
{
	uint8_t *frame;
	size_t n;
	int r;

	if (ccp_ttrpc_response_frame(&frame, &n, stream_id, code, message, payload, len) != 0) {
		/* an error too large or out of memory: the client still gets an answer on this stream (an OK
		 * reply that cannot be framed is not sent: -1, and its handler undoes what it did) */
		if (code == RPC_OK || ccp_ttrpc_response_frame(&frame, &n, stream_id, RPC_RESOURCE_EXHAUSTED,
							    "ccpull: response too large or out of memory",
							    NULL, 0) != 0)
			return -1;
	}
	pthread_mutex_lock(&c->wlock);
	r = write_all(c->fd, frame, n);
	pthread_mutex_unlock(&c->wlock);
	OPENSSL_cleanse(frame, n); /* GetResource, UnsealSecret and UnWrapKey answer secrets */
	free(frame);
	return r;
}

/*
 * 0: n bytes read; 1: clean end of stream before the first byte; -1: error or a short read; -2: the
 * deadline (CLOCK_MONOTONIC; NULL: none) passed first.
 */
static int read_full(int fd, uint8_t *p, size_t n, const struct timespec *deadline)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r;
		if (deadline) {
			struct pollfd pfd = { fd, POLLIN, 0 };
			struct timespec now;
			long left;
			clock_gettime(CLOCK_MONOTONIC, &now);
			left = (long)(deadline->tv_sec - now.tv_sec) * 1000 +
			       (deadline->tv_nsec - now.tv_nsec + 999999) / 1000000;
			if (left <= 0)
				return -2;
			r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
			if (r < 0 && errno != EINTR)
				return -1;
			if (r <= 0)
				continue;
		}
		r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return got ? -1 : 1;
		got += (size_t)r;
	}
	return 0;
}

static int discard(int fd, uint32_t n, const struct timespec *deadline)
{
	uint8_t buf[16384];

	while (n) {
		size_t k = n < sizeof(buf) ? n : sizeof(buf);
		int r = read_full(fd, buf, k, deadline);
		if (r != 0)
			return r == -2 ? -2 : -1;
		n -= (uint32_t)k;
	}
	return 0;
}


/* Reads frames until the client goes away or sends something that is not ttrpc. */
static void *conn_thread(void *arg)
{
	svc_conn *c = arg;
	svc_server *s = c->srv;
	uint8_t hb[TTRPC_HEADER_LEN];
	const char *why = "closed by the client";

	for (;;) {
		ttrpc_header h;
		uint8_t *data;
		Ttrpc__Request *req;
		struct timespec deadline;
		int r;

		pthread_mutex_lock(&s->lock);
		if (c->in_frame) {
			c->in_frame = 0;
			clock_gettime(CLOCK_MONOTONIC, &c->idle_since);
		}
		pthread_mutex_unlock(&s->lock);
		/* between frames a connection may stay idle; a frame, once begun, has a bounded time */
		r = read_full(c->fd, hb, 1, NULL);

		if (r != 0) {
			if (r < 0)
				why = "cut off in a frame header";
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += FRAME_TIMEOUT_SEC;
		pthread_mutex_lock(&s->lock);
		c->in_frame = 1;
		pthread_mutex_unlock(&s->lock);
		if ((r = read_full(c->fd, hb + 1, sizeof(hb) - 1, &deadline)) != 0) {
			why = r == -2 ? "a frame header did not arrive in time" : "cut off in a frame header";
			break;
		}
		ccp_ttrpc_header_decode(&h, hb);
		if (h.length > TTRPC_DATA_MAX) {
			/* as ttrpc does: skip the data, refuse that stream, keep the connection */
			char msg[128];
			if ((r = discard(c->fd, h.length, &deadline)) != 0) {
				why = r == -2 ? "an oversized frame did not arrive in time" : "cut off in an oversized frame";
				break;
			}
			snprintf(msg, sizeof(msg), "message length %u exceeds the maximum message size of %u", h.length,
				 TTRPC_DATA_MAX);
			ccp_svc_log(s->cfg, "connection %lu stream %u: %s", c->id, h.stream_id, msg);
			ccp_svc_conn_respond(c, h.stream_id, RPC_RESOURCE_EXHAUSTED, msg, NULL, 0);
			continue;
		}
		if (!(data = malloc(h.length ? h.length : 1))) {
			why = "out of memory";
			break;
		}
		if ((r = read_full(c->fd, data, h.length, &deadline)) != 0) {
			free(data);
			why = r == -2 ? "a frame did not arrive in time" : "cut off in a frame";
			break;
		}

		if (h.type != TTRPC_TYPE_REQUEST) {
			/* unary only: data frames and unknown types are ignored, as ttrpc servers do */
			free(data);
			continue;
		}
		if (h.stream_id % 2 != 1) {
			free(data);
			ccp_svc_conn_respond(c, h.stream_id, RPC_INVALID_ARGUMENT,
				     "stream id must be odd for client initiated streams", NULL, 0);
			continue;
		}
		req = ccp_ttrpc_request_decode(data, h.length);
		free(data);
		if (!req) {
			/* the framing held but the peer does not speak ttrpc: answer, then end this connection */
			ccp_svc_conn_respond(c, h.stream_id, RPC_INVALID_ARGUMENT, "malformed ttrpc request", NULL, 0);
			why = "malformed request";
			break;
		}
		ccp_svc_dispatch(c, h.stream_id, req);
		ttrpc__request__free_unpacked(req, NULL);
	}
	ccp_svc_log(s->cfg, "connection %lu: %s", c->id, why);
	/* replies still to come on a closed connection fail, and their pulls are undone */
	shutdown(c->fd, SHUT_RDWR);
	pthread_mutex_lock(&s->lock);
	for (svc_conn **pp = &s->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	s->n_conns--;
	if (c->evicted)
		s->n_evicted--;
	c->closed = 1;
	for (svc_request *rq = s->reqs; rq; rq = rq->next)
		if (rq->conn == c && rq->cancel_ctx)
			ccp_context_cancel(rq->cancel_ctx);
	ccp_svc_conn_unref_locked(c);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/*
 * File descriptors. Each connection holds one; a pull holds a few of its own plus one per layer it
 * has completed, up to CCP_LAYERS_MAX. At start the soft RLIMIT_NOFILE is raised towards
 * NOFILE_WANT (within the hard limit); a connection is refused when accepting it would leave fewer
 * than fd_reserve descriptors for the pulls. When accept fails for want of descriptors or memory the
 * listening socket is left alone for a growing pause (clients wait in the backlog) instead of
 * failing again at once, and each of these episodes is logged once, not once per connection.
 */
#define NOFILE_WANT 65536
#define FD_RESERVE_MAX 1024
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000

static void nofile_setup(svc_server *s)
{
	struct rlimit rl;

	s->nofile = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < NOFILE_WANT) {
		rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > NOFILE_WANT ? NOFILE_WANT : rl.rlim_max;
		if (want > rl.rlim_cur) {
			rl.rlim_cur = want;
			if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
				getrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	s->nofile = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > NOFILE_WANT ? NOFILE_WANT : (size_t)rl.rlim_cur;
	s->fd_reserve = s->nofile / 4 < FD_RESERVE_MAX ? s->nofile / 4 : FD_RESERVE_MAX;
	if (s->nofile < NOFILE_WANT / 16)
		ccp_svc_warn("RLIMIT_NOFILE is %zu: connections are refused while fewer than %zu descriptors are free "
			 "for pulls", s->nofile, s->fd_reserve);
}

/* Logs the first refusal of an episode (which ends when a connection is accepted). */
static void refusing(svc_server *s, const char *why)
{
	if (!s->refused++)
		ccp_svc_warn("refusing new connections: %s", why);
}

/* 0: a connection was accepted or refused; -1: accept has no descriptor or memory to give, pause. */
static int accept_one(svc_server *s, int listen_fd)
{
	struct timeval tv = { SEND_TIMEOUT_SEC, 0 };
	svc_conn *c;
	size_t n_conns;
	int fd;

	/*
	 * All slots taken: the connection idle the longest (no frame begun, no request in flight) makes
	 * room; when every connection is busy, new ones wait in the backlog (a frame begun is bounded
	 * by FRAME_TIMEOUT_SEC, a request by its pull).
	 */
	pthread_mutex_lock(&s->lock);
	if (s->n_conns - s->n_evicted >= s->max_conns) {
		svc_conn *idle = NULL;
		for (svc_conn *o = s->conns; o; o = o->next)
			if (!o->in_frame && !o->inflight && !o->evicted &&
			    (!idle || ccp_svc_timespec_before(&o->idle_since, &idle->idle_since)))
				idle = o;
		if (!idle) {
			pthread_mutex_unlock(&s->lock);
			if (!s->starved++)
				ccp_svc_warn("all %zu connections are busy: new connections wait", s->max_conns);
			return -1;
		}
		unsigned long idle_id = idle->id; /* its thread may free it once the lock is dropped */

		idle->evicted = 1;
		s->n_evicted++;
		shutdown(idle->fd, SHUT_RDWR);
		pthread_mutex_unlock(&s->lock);
		ccp_svc_log(s->cfg, "connection %lu: closed, idle, to make room for a new connection", idle_id);
	} else {
		pthread_mutex_unlock(&s->lock);
	}
	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
			if (!s->starved++)
				ccp_svc_warn("accept: %s: pausing new connections until descriptors are free",
					 strerror(err));
			return -1;
		}
		if (err != EAGAIN && err != EINTR && err != ECONNABORTED)
			ccp_svc_warn("accept: %s", strerror(err));
		return 0;
	}
	pthread_mutex_lock(&s->lock);
	n_conns = s->n_conns;
	pthread_mutex_unlock(&s->lock);
	/* descriptors are handed out lowest first: fd >= N means N are in use */
	if (n_conns && (size_t)fd + s->fd_reserve >= s->nofile) {
		char why[160];
		snprintf(why, sizeof(why), "%zu of %zu file descriptors in use, %zu kept for pulls", (size_t)fd + 1,
			 s->nofile, s->fd_reserve);
		refusing(s, why);
		close(fd);
		return 0;
	}
	if (s->refused || s->starved) {
		ccp_svc_warn("accepting connections again (%lu refused, %lu paused accepts meanwhile)", s->refused,
			 s->starved);
		s->refused = s->starved = 0;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (!(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return -1;
	}
	c->srv = s;
	c->fd = fd;
	c->refs = 1;
	clock_gettime(CLOCK_MONOTONIC, &c->idle_since);
	pthread_mutex_init(&c->wlock, NULL);
	pthread_mutex_lock(&s->lock);
	c->id = ++s->next_conn_id;
	c->next = s->conns;
	s->conns = c;
	s->n_conns++;
	pthread_mutex_unlock(&s->lock);
	if (ccp_svc_worker_start(s, conn_thread, c) != 0) {
		ccp_svc_warn("cannot start a connection thread");
		pthread_mutex_lock(&s->lock);
		s->conns = c->next;
		s->n_conns--;
		ccp_svc_conn_unref_locked(c);
		pthread_mutex_unlock(&s->lock);
	}
	return 0;
}

int ccp_svc_run(int listen_fd, int sig_fd, const svc_config *cfg)
{
	svc_server s = { 0 };
	pthread_condattr_t ca;
	pthread_t timer;
	struct pollfd pfd[2] = { { sig_fd, POLLIN, 0 }, { listen_fd, POLLIN, 0 } };
	int rc = 0;

	s.cfg = cfg;
	s.max_conns = cfg->max_connections ? cfg->max_connections : DEFAULT_MAX_CONNECTIONS;
	s.max_reqs = cfg->max_requests ? cfg->max_requests : DEFAULT_MAX_REQUESTS;
	s.max_reqs_per_conn = cfg->max_requests_per_connection ? cfg->max_requests_per_connection
							       : DEFAULT_MAX_REQUESTS_PER_CONNECTION;
	pthread_mutex_init(&s.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s.cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&timer, NULL, ccp_svc_timer_thread, &s) != 0) {
		ccp_svc_warn("cannot start the timer thread");
		close(listen_fd);
		return -1;
	}

	nofile_setup(&s);
	for (;;) {
		int timeout = -1;
		nfds_t watch = 2;

		if (s.paused) {
			/* only the signal is watched until the pause ends */
			struct timespec now;
			long left;
			clock_gettime(CLOCK_MONOTONIC, &now);
			left = (long)(s.resume.tv_sec - now.tv_sec) * 1000 +
			       (s.resume.tv_nsec - now.tv_nsec + 999999) / 1000000;
			if (left > 0) {
				timeout = (int)left;
				watch = 1;
			} else {
				s.paused = 0;
			}
		}
		if (poll(pfd, watch, timeout) < 0) {
			if (errno == EINTR)
				continue;
			ccp_svc_warn("poll: %s", strerror(errno));
			close(listen_fd);
			rc = -1;
			break;
		}
		if (pfd[0].revents) {
			struct signalfd_siginfo si = { 0 };
			if (read(sig_fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
				si.ssi_signo = 0;
			close(listen_fd);
			ccp_svc_log(cfg, "signal %u: no new connections; finishing the requests in flight", si.ssi_signo);
			break;
		}
		if (watch == 2 && pfd[1].revents) {
			if (accept_one(&s, listen_fd) != 0) {
				s.paused = 1;
				s.backoff_ms = s.backoff_ms ? s.backoff_ms * 2 : BACKOFF_MIN_MS;
				if (s.backoff_ms > BACKOFF_MAX_MS)
					s.backoff_ms = BACKOFF_MAX_MS;
				clock_gettime(CLOCK_MONOTONIC, &s.resume);
				s.resume.tv_sec += s.backoff_ms / 1000;
				s.resume.tv_nsec += (long)(s.backoff_ms % 1000) * 1000000;
				if (s.resume.tv_nsec >= 1000000000) {
					s.resume.tv_sec++;
					s.resume.tv_nsec -= 1000000000;
				}
			} else {
				s.backoff_ms = 0;
			}
		}
	}

	/* drain: answer what is in flight, then close every connection */
	pthread_mutex_lock(&s.lock);
	s.stopping = 1;
	while (s.n_reqs)
		pthread_cond_wait(&s.cond, &s.lock);
	for (svc_conn *c = s.conns; c; c = c->next)
		shutdown(c->fd, SHUT_RDWR);
	while (s.n_conns || s.n_reqs)
		pthread_cond_wait(&s.cond, &s.lock);
	/* every worker has finished its work; wait until each has also exited */
	while (s.n_workers) {
		while (!s.exited)
			pthread_cond_wait(&s.cond, &s.lock);
		pthread_mutex_unlock(&s.lock);
		workers_reap(&s);
		pthread_mutex_lock(&s.lock);
	}
	s.timer_exit = 1;
	pthread_cond_broadcast(&s.cond);
	pthread_mutex_unlock(&s.lock);
	pthread_join(timer, NULL);
	pthread_cond_destroy(&s.cond);
	pthread_mutex_destroy(&s.lock);
	ccp_svc_log(cfg, "stopped");
	return rc;
}
