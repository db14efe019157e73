/*
 * The requests of the ttrpc server behind `ccpull serve` (service.h): a request decoded by its
 * connection's reader (server.c) is dispatched here to its method's handler, or to the forward
 * socket, on a thread of its own and within the limits of requests in flight; the calls service.h
 * gives the handlers (payload, reply, hold, cancel); and the timer thread that answers
 * DEADLINE_EXCEEDED when a request's timeout_nano passes.
 */
#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORWARD_TIMEOUT_SEC 120 /* a forwarded request without a deadline: each read and write upstream */

static const svc_method *const methods[] = {
	&ccp_svc_image_pull_method,
	&ccp_svc_get_resource_method,
	&ccp_svc_unseal_secret_method,
	&ccp_svc_unwrap_key_method,
};

const uint8_t *ccp_svc_request_payload(const svc_request *rq, size_t *len)
{
	*len = rq->payload_len;
	return rq->payload;
}

const svc_config *ccp_svc_request_config(const svc_request *rq)
{
	return rq->srv->cfg;
}

unsigned int ccp_svc_request_seconds_left(const svc_request *rq)
{
	struct timespec now;
	double left;

	if (!rq->has_deadline)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	left = (double)(rq->deadline.tv_sec - now.tv_sec) + (double)(rq->deadline.tv_nsec - now.tv_nsec) / 1e9;
	return left < 1 ? 1 : left > 604800 ? 604800 : (unsigned int)(left + 0.999);
}

int ccp_svc_reply(svc_request *rq, int code, const char *message, const uint8_t *payload, size_t len)
{
	svc_server *s = rq->srv;

	pthread_mutex_lock(&s->lock);
	if (rq->answered) {
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	rq->answered = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return ccp_svc_conn_respond(rq->conn, rq->stream_id, code, message, payload, len) == 0;
}

void ccp_svc_request_cancel_with(svc_request *rq, ccp_context *ctx)
{
	svc_server *s = rq->srv;

	pthread_mutex_lock(&s->lock);
	rq->cancel_ctx = ctx;
	if (ctx && ((rq->answered && rq->has_deadline) || rq->conn->closed))
		ccp_context_cancel(ctx);
	pthread_mutex_unlock(&s->lock);
}

int ccp_svc_request_hold(svc_request *rq, const char *key)
{
	svc_server *s = rq->srv;
	char *k = strdup(key);
	int held, waited = 0;

	if (!k)
		return -1;
	pthread_mutex_lock(&s->lock);
	do {
		held = 0;
		for (svc_request *o = s->reqs; o; o = o->next)
			if (o != rq && o->key && strcmp(o->key, k) == 0)
				held = 1;
		if (held && !rq->answered) {
			if (!waited++) {
				unsigned long id = rq->conn->id;
				pthread_mutex_unlock(&s->lock);
				ccp_svc_log(s->cfg, "connection %lu stream %u waits: another request holds %s", id,
					rq->stream_id, k);
				pthread_mutex_lock(&s->lock);
				continue;
			}
			pthread_cond_wait(&s->cond, &s->lock);
		}
	} while (held && !rq->answered);
	if (rq->answered) {
		pthread_mutex_unlock(&s->lock);
		free(k);
		return -1;
	}
	rq->key = k;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static void request_end(svc_request *rq)
{
	svc_server *s = rq->srv;
	svc_conn *c = rq->conn;

	pthread_mutex_lock(&s->lock);
	for (svc_request **pp = &s->reqs; *pp; pp = &(*pp)->next) {
		if (*pp == rq) {
			*pp = rq->next;
			break;
		}
	}
	s->n_reqs--;
	c->inflight--;
	ccp_svc_conn_unref_locked(c);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	free(rq->key);
	free(rq->payload);
	free(rq->fwd_service);
	free(rq->fwd_method);
	free(rq);
}

/*
 * A method ccpull does not serve, sent to cfg->forward_socket: the same service, method and payload
 * on a connection of its own, bounded by the request's deadline; the answer's status and payload
 * (at most one ttrpc frame) are relayed unchanged.
 */
static void forward(svc_request *rq)
{
	const svc_config *cfg = rq->srv->cfg;
	unsigned int left = ccp_svc_request_seconds_left(rq);
	Ttrpc__Response *resp = NULL;
	char why[512], msg[1024];
	int code;

	ccp_svc_log(cfg, "%s/%s: forwarded to %s", rq->fwd_service, rq->fwd_method, cfg->forward_socket);
	if (ccp_ttrpc_call(cfg->forward_socket, rq->fwd_service, rq->fwd_method, rq->payload, rq->payload_len,
		       left ? (int)left : FORWARD_TIMEOUT_SEC, TTRPC_DATA_MAX, &resp, why, sizeof(why)) != 0) {
		snprintf(msg, sizeof(msg), "ccpull: %s/%s is forwarded to %s, which did not answer: %s", rq->fwd_service,
			 rq->fwd_method, cfg->forward_socket, why);
		ccp_svc_log(cfg, "%s", msg);
		ccp_svc_reply(rq, RPC_UNAVAILABLE, msg, NULL, 0);
		return;
	}
	code = resp->status ? resp->status->code : RPC_OK;
	ccp_svc_log(cfg, "%s/%s: %s from %s", rq->fwd_service, rq->fwd_method, ccp_ttrpc_code_name(code), cfg->forward_socket);
	ccp_svc_reply(rq, code, resp->status ? resp->status->message : NULL, resp->payload.data, resp->payload.len);
	ttrpc__response__free_unpacked(resp, NULL);
}

static const svc_method forward_method = { NULL, NULL, forward };

static void *request_thread(void *arg)
{
	svc_request *rq = arg;

	rq->method->handler(rq);
	request_end(rq);
	return NULL;
}

/* Answers DEADLINE_EXCEEDED for every request whose timeout passed; the pull itself goes on and is undone. */
void *ccp_svc_timer_thread(void *arg)
{
	svc_server *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->timer_exit) {
		struct timespec now, until;
		svc_request *next = NULL;

		clock_gettime(CLOCK_MONOTONIC, &now);
		for (svc_request *rq = s->reqs; rq; rq = rq->next)
			if (rq->has_deadline && !rq->answered && (!next || ccp_svc_timespec_before(&rq->deadline, &next->deadline)))
				next = rq;
		if (next && !ccp_svc_timespec_before(&now, &next->deadline)) {
			svc_conn *c = next->conn;
			uint32_t id = next->stream_id;
			next->answered = 1;
			if (next->cancel_ctx)
				ccp_context_cancel(next->cancel_ctx); /* its pull stops and cleans up */
			c->refs++;
			pthread_cond_broadcast(&s->cond);
			pthread_mutex_unlock(&s->lock);
			ccp_svc_log(s->cfg, "connection %lu stream %u: deadline exceeded", c->id, id);
			ccp_svc_conn_respond(c, id, RPC_DEADLINE_EXCEEDED, "ccpull: the request's timeout passed", NULL, 0);
			pthread_mutex_lock(&s->lock);
			ccp_svc_conn_unref_locked(c);
			continue;
		}
		if (next) {
			/*
			 * A copy: the wait reads its deadline after releasing the lock, when request_end
			 * may already have freed next.
			 */
			until = next->deadline;
			pthread_cond_timedwait(&s->cond, &s->lock, &until);
		} else
			pthread_cond_wait(&s->cond, &s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static const svc_method *find_method(const char *service, const char *method, int *service_known)
{
	*service_known = 0;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (strcmp(methods[i]->service, service) != 0)
			continue;
		*service_known = 1;
		if (strcmp(methods[i]->method, method) == 0)
			return methods[i];
	}
	return NULL;
}

static void set_deadline(svc_request *rq, int64_t timeout_nano)
{
	struct timespec now;
	int64_t sec = timeout_nano / 1000000000, nsec = timeout_nano % 1000000000;

	if (timeout_nano <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	rq->has_deadline = 1;
	rq->deadline.tv_sec = now.tv_sec + (time_t)sec;
	rq->deadline.tv_nsec = now.tv_nsec + (long)nsec;
	if (rq->deadline.tv_nsec >= 1000000000) {
		rq->deadline.tv_sec++;
		rq->deadline.tv_nsec -= 1000000000;
	}
}

/* Starts a request on its own thread, or answers it at once. */
void ccp_svc_dispatch(svc_conn *c, uint32_t stream_id, Ttrpc__Request *req)
{
	svc_server *s = c->srv;
	const svc_method *m;
	svc_request *rq;
	char msg[512];
	int known, code = RPC_OK;

	if (!(m = find_method(req->service, req->method, &known)) && !s->cfg->forward_socket) {
		snprintf(msg, sizeof(msg), "%s %s: ccpull does not serve %s/%s (no [ccpull] forward_socket names "
			 "a Confidential Data Hub to forward it to)", known ? "method" : "service",
			 known ? req->method : req->service, req->service, req->method);
		ccp_svc_log(s->cfg, "connection %lu stream %u: unimplemented %s.%s", c->id, stream_id, req->service,
			req->method);
		ccp_svc_conn_respond(c, stream_id, RPC_UNIMPLEMENTED, msg, NULL, 0);
		return;
	}
	if (!(rq = calloc(1, sizeof(*rq))) ||
	    (req->payload.len && !(rq->payload = malloc(req->payload.len))) ||
	    (!m && (!(rq->fwd_service = strdup(req->service)) || !(rq->fwd_method = strdup(req->method))))) {
		if (rq) {
			free(rq->payload);
			free(rq->fwd_service);
			free(rq->fwd_method);
		}
		free(rq);
		ccp_svc_conn_respond(c, stream_id, RPC_RESOURCE_EXHAUSTED, "ccpull: out of memory", NULL, 0);
		return;
	}
	if (req->payload.len)
		memcpy(rq->payload, req->payload.data, req->payload.len);
	rq->payload_len = req->payload.len;
	rq->srv = s;
	rq->conn = c;
	rq->method = m ? m : &forward_method;
	rq->stream_id = stream_id;
	set_deadline(rq, req->timeout_nano);

	pthread_mutex_lock(&s->lock);
	if (s->stopping) {
		code = RPC_UNAVAILABLE;
		snprintf(msg, sizeof(msg), "ccpull serve is shutting down");
	} else if (c->inflight >= s->max_reqs_per_conn || s->n_reqs >= s->max_reqs) {
		code = RPC_RESOURCE_EXHAUSTED;
		snprintf(msg, sizeof(msg), "too many requests in flight (at most %zu per connection, %zu in all)",
			 s->max_reqs_per_conn, s->max_reqs);
	} else {
		for (svc_request *o = s->reqs; o; o = o->next) {
			if (o->conn == c && o->stream_id == stream_id) {
				code = RPC_INVALID_ARGUMENT;
				snprintf(msg, sizeof(msg), "stream %u is already in use", stream_id);
			}
		}
	}
	if (code == RPC_OK) {
		rq->next = s->reqs;
		s->reqs = rq;
		s->n_reqs++;
		c->inflight++;
		c->refs++;
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	if (code != RPC_OK) {
		ccp_svc_log(s->cfg, "connection %lu stream %u: %s", c->id, stream_id, msg);
		free(rq->payload);
		free(rq->fwd_service);
		free(rq->fwd_method);
		free(rq);
		ccp_svc_conn_respond(c, stream_id, code, msg, NULL, 0);
		return;
	}
	if (ccp_svc_worker_start(s, request_thread, rq) != 0) {
		ccp_svc_reply(rq, RPC_RESOURCE_EXHAUSTED, "ccpull: cannot start a thread", NULL, 0);
		request_end(rq);
	}
}
