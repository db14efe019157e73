/*
 * A large blob fetched as several Range requests at once, for registries and CDNs that cap each
 * connection's rate. The blob is cut into chunks of RANGE_CHUNK bytes; worker w of n fetches chunks
 * w, w + n, w + 2n, ... each into its own buffer, and the calling thread hands the chunks to the
 * sink strictly in order, so the sink (the blob's digest first of all) sees one stream, exactly as
 * from ccp_registry_stream_blob. Memory: n buffers of RANGE_CHUNK bytes, whatever the blob's size.
 * Each chunk is a request of its own, retried and resumed from its next byte like a whole stream.
 * A server that answers a Range request with the whole blob (200) ignores Range: the rest of the
 * blob, from the first byte the sink has not seen, then comes as one stream.
 */
#include "registry/ranges.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define RANGE_CHUNK (4u << 20)

typedef struct ranges ranges;

typedef struct chunk_slot {
	ranges *g;
	unsigned char *buf;
	size_t len;
	uint64_t index;      /* the chunk held (full) or being fetched */
	int full;            /* holds chunk index, complete */
	int rc;              /* the fetch of chunk index failed: its code and message */
	int ignored;         /* ... because the server ignores Range */
	ccp_err err;
} chunk_slot;

struct ranges {
	ccp_registry *reg;
	const char *digest;
	uint64_t size, n_chunks;
	unsigned n;
	chunk_slot *slots;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	_Atomic int stop;    /* the consumer is done: workers end as soon as they can */
};

typedef struct worker {
	ranges *g;
	unsigned w;
	pthread_t tid;
} worker;

static int chunk_sink(void *payload, const void *data, size_t len)
{
	chunk_slot *s = payload;

	if (s->g->stop)
		return -1; /* nobody waits for this range any more */
	if (len > RANGE_CHUNK - s->len)
		return -1; /* cannot happen: the registry caps the body at the range's length */
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	return 0;
}

static int stopped(ranges *g)
{
	int stop;

	pthread_mutex_lock(&g->lock);
	stop = g->stop;
	pthread_mutex_unlock(&g->lock);
	return stop;
}

static void *worker_main(void *arg)
{
	worker *wk = arg;
	ranges *g = wk->g;
	chunk_slot *s = &g->slots[wk->w];

	for (uint64_t i = wk->w; i < g->n_chunks; i += g->n) {
		uint64_t from = i * RANGE_CHUNK, len = g->size - from < RANGE_CHUNK ? g->size - from : RANGE_CHUNK;
		int ignored = 0, rc;

		/* the slot is free once the consumer took the previous chunk */
		pthread_mutex_lock(&g->lock);
		while (s->full && !g->stop)
			pthread_cond_wait(&g->cond, &g->lock);
		if (g->stop) {
			pthread_mutex_unlock(&g->lock);
			break;
		}
		s->index = i;
		s->len = 0;
		pthread_mutex_unlock(&g->lock);

		ccp_err_clear(&s->err);
		rc = ccp_registry_stream_blob_range(g->reg, g->digest, from, len, 1, chunk_sink, s, &ignored, &s->err);
		if (rc == 0 && s->len != len)
			rc = ccp_err_set(&s->err, CCP_EREGISTRY, "blob %s: a range gave %zu of %llu bytes", g->digest,
					 s->len, (unsigned long long)len);

		pthread_mutex_lock(&g->lock);
		s->rc = rc;
		s->ignored = ignored;
		s->full = 1;
		pthread_cond_broadcast(&g->cond);
		pthread_mutex_unlock(&g->lock);
		if (rc)
			break;
		if (stopped(g))
			break;
	}
	return NULL;
}

static void stop_all(ranges *g)
{
	pthread_mutex_lock(&g->lock);
	g->stop = 1;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

int ccp_ranges_stream_blob(ccp_registry *r, const char *digest, uint64_t size, const ccp_ranges_opts *o,
			   ccp_sink_fn sink, void *payload, ccp_err *e)
{
	ranges g;
	worker *wk = NULL;
	unsigned started = 0;
	uint64_t next = 0;
	int rc = 0, fallback = 0;

	if (!o || o->parts < 2 || size < o->min_size || size <= RANGE_CHUNK)
		return ccp_registry_stream_blob(r, digest, size, sink, payload, e);
	memset(&g, 0, sizeof(g));
	g.reg = r;
	g.digest = digest;
	g.size = size;
	g.n_chunks = (size + RANGE_CHUNK - 1) / RANGE_CHUNK;
	g.n = o->parts > CCP_RANGES_PARTS_MAX ? CCP_RANGES_PARTS_MAX : o->parts;
	if (g.n > g.n_chunks)
		g.n = (unsigned)g.n_chunks;
	if (!(g.slots = calloc(g.n, sizeof(*g.slots))) || !(wk = calloc(g.n, sizeof(*wk))))
		goto oom;
	for (unsigned i = 0; i < g.n; i++) {
		g.slots[i].err = (ccp_err)CCP_ERR_INIT;
		g.slots[i].g = &g;
		if (!(g.slots[i].buf = malloc(RANGE_CHUNK)))
			goto oom;
	}
	pthread_mutex_init(&g.lock, NULL);
	pthread_cond_init(&g.cond, NULL);
	for (; started < g.n; started++) {
		wk[started].g = &g;
		wk[started].w = started;
		if (pthread_create(&wk[started].tid, NULL, worker_main, &wk[started]) != 0)
			break;
	}
	if (started == 0) {
		rc = ccp_err_set(e, CCP_EINTERNAL, "blob %s: cannot start a thread for its ranges", digest);
		goto out;
	}
	/* Chunks in order; a worker that could not start leaves its chunks to the stream at the end. */
	for (; next < g.n_chunks; next++) {
		chunk_slot *s = &g.slots[next % g.n];

		if (next % g.n >= started) {
			fallback = 1;
			break;
		}
		pthread_mutex_lock(&g.lock);
		while (!(s->full && s->index == next))
			pthread_cond_wait(&g.cond, &g.lock);
		pthread_mutex_unlock(&g.lock);
		if (s->rc && s->ignored) {
			fallback = 1;
			break;
		}
		if (s->rc) {
			*e = s->err;
			rc = s->rc;
			break;
		}
		if ((rc = sink(payload, s->buf, s->len)) < 0)
			break; /* the sink keeps its own error */
		pthread_mutex_lock(&g.lock);
		s->full = 0;
		pthread_cond_broadcast(&g.cond);
		pthread_mutex_unlock(&g.lock);
	}
out:
	stop_all(&g);
	for (unsigned i = 0; i < started; i++)
		pthread_join(wk[i].tid, NULL);
	pthread_cond_destroy(&g.cond);
	pthread_mutex_destroy(&g.lock);
	if (fallback && rc == 0) {
		uint64_t from = next * RANGE_CHUNK;
		rc = ccp_registry_stream_blob_range(r, digest, from, size - from, 0, sink, payload, NULL, e);
	}
	for (unsigned i = 0; i < g.n; i++)
		free(g.slots[i].buf);
	free(g.slots);
	free(wk);
	return rc;
oom:
	if (g.slots)
		for (unsigned i = 0; i < g.n; i++)
			free(g.slots[i].buf);
	free(g.slots);
	free(wk);
	return ccp_err_oom(e);
}
