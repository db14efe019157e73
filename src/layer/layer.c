/*
 * The per-layer pipeline (layer.h). A producer thread runs the fetch (blob digest, decryption) into
 * a bounded ring; for a compressed layer a decompression thread fills the stage's slots, which a
 * diff_id thread hashes while the calling thread unpacks them (an uncompressed layer is hashed and
 * unpacked by the calling thread). Failures are ranked once every thread has ended so that the root
 * cause wins (layer_verdict): cancellation, the fetch, the blob's size and digest, the HMAC, the
 * unpacker's error, then the diff_id.
 */
#include "layer/layer.h"
#include "layer/gunzip.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define RING_SIZE (4u << 20)
#define OUT_SIZE (1u << 20)
#define DEFAULT_MAX_UNCOMPRESSED (64ULL << 30)
/* Bytes allowed after the tar's end-of-archive blocks: record padding of any real writer (GNU tar
 * pads to 10 KiB, `tar -b 2048` to 1 MiB), far less than a decompression bomb appended there. */
#define MAX_TRAILER (32ULL << 20)

typedef struct ring {
	pthread_mutex_t mu;
	pthread_cond_t can_read, can_write;
	unsigned char *buf;
	uint64_t head, tail; /* bytes written / released, ever */
	size_t held;         /* bytes handed to the reader and not yet released */
	/* What a waiting side needs before it is worth waking (0: not waiting): batching the
	 * hand-offs saves a futex wake-up and a context switch per network read. */
	size_t reader_wants, writer_wants;
	int done, code;      /* producer finished, with code */
} ring;

#define RING_BATCH (64u << 10)

/*
 * Decompressed chunks on their way from the decompressing thread to the unpacker and, beside it, the
 * thread hashing the diff_id: inflating one part of a layer overlaps hashing it and writing the files
 * of the part before it. A slot is free again once both have seen it.
 */
#define STAGE_SLOTS 4
typedef struct stage {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned char *buf[STAGE_SLOTS];
	size_t len[STAGE_SLOTS];
	uint64_t filled, taken, released, hashed; /* slots, ever */
	int done, code, stop;
	ccp_err err;
} stage;

typedef struct layer {
	const ccp_layer_job *job;
	ring r;
	stage st;

	/* producer side */
	ccp_hasher blob_h;
	uint64_t blob_bytes;
	ccp_err sink_err, fetch_err;
	int sink_code;

	/* consumer side */
	ccp_compression comp;
	const unsigned char *in;
	size_t in_len;
	unsigned char *out;  /* where the decompressor writes: out_own, or a stage slot */
	size_t out_cap;      /* room at out */
	unsigned char *out_own;
	int pending;      /* the last call filled the output: more may come without input */
	int started;      /* the decompressor saw input */
	int gz_state;     /* 0 inside a member, 1 between members, 2 trailing zero bytes */
	int zframe_open;
	int at_end;
	ccp_gunzip *gz;
	ZSTD_DCtx *zd;
	ccp_hasher diff_h;
	int hash_staged;  /* the stage's hashing thread, not account(), feeds diff_h */
	uint64_t out_bytes, max_out;
	uint64_t ratio_out;  /* the ratio cap's bytes: max(floor, ratio x blob size) */
	unsigned int ratio;
	ccp_decryptor *dec;  /* encrypted blob */
	unsigned char plain[1 << 16]; /* the producer's decryption buffer */
	ccp_unpack_read_fn source;    /* what checked_read reads through */
} layer;

/* ---- ring ---- */

static int ring_init(ring *r)
{
	memset(r, 0, sizeof(*r));
	if (!(r->buf = malloc(RING_SIZE)))
		return -1;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->can_read, NULL);
	pthread_cond_init(&r->can_write, NULL);
	return 0;
}

static void ring_free(ring *r)
{
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->can_read);
	pthread_cond_destroy(&r->can_write);
	free(r->buf);
}

static void ring_write(ring *r, const unsigned char *p, size_t len)
{
	while (len > 0) {
		size_t off, n;

		pthread_mutex_lock(&r->mu);
		if (RING_SIZE - (r->head - r->tail) < (len < RING_BATCH ? len : RING_BATCH)) {
			r->writer_wants = len < RING_BATCH ? len : RING_BATCH;
			while (RING_SIZE - (r->head - r->tail) < r->writer_wants)
				pthread_cond_wait(&r->can_write, &r->mu);
			r->writer_wants = 0;
		}
		off = (size_t)(r->head % RING_SIZE);
		n = RING_SIZE - (size_t)(r->head - r->tail);
		if (n > RING_SIZE - off)
			n = RING_SIZE - off;
		if (n > len)
			n = len;
		pthread_mutex_unlock(&r->mu);
		/* The region [head, tail + RING_SIZE) belongs to the writer until head moves. */
		memcpy(r->buf + off, p, n);
		pthread_mutex_lock(&r->mu);
		r->head += n;
		if (r->reader_wants && r->head - r->tail >= r->reader_wants)
			pthread_cond_signal(&r->can_read);
		pthread_mutex_unlock(&r->mu);
		p += n;
		len -= n;
	}
}

static void ring_finish(ring *r, int code)
{
	pthread_mutex_lock(&r->mu);
	r->done = 1;
	r->code = code;
	pthread_cond_signal(&r->can_read);
	pthread_mutex_unlock(&r->mu);
}

/*
 * Releases what was handed out before and waits for at least min bytes (or the end); when it has to
 * wait, it waits for a batch. Returns the contiguous bytes available at *p, 0 at the end, or the
 * producer's error code (at once: a failed fetch stops the consumer promptly).
 */
static ssize_t ring_read(ring *r, const unsigned char **p, size_t min)
{
	size_t avail, off, n;

	pthread_mutex_lock(&r->mu);
	r->tail += r->held;
	r->held = 0;
	if (r->writer_wants && RING_SIZE - (r->head - r->tail) >= r->writer_wants)
		pthread_cond_signal(&r->can_write);
	if (r->head - r->tail < min && !r->done) {
		r->reader_wants = min > RING_BATCH ? min : RING_BATCH;
		while (r->head - r->tail < r->reader_wants && !r->done)
			pthread_cond_wait(&r->can_read, &r->mu);
		r->reader_wants = 0;
	}
	if (r->done && r->code < 0) {
		pthread_mutex_unlock(&r->mu);
		return r->code;
	}
	avail = (size_t)(r->head - r->tail);
	off = (size_t)(r->tail % RING_SIZE);
	n = avail < RING_SIZE - off ? avail : RING_SIZE - off;
	r->held = n;
	*p = r->buf + off;
	pthread_mutex_unlock(&r->mu);
	return (ssize_t)n;
}

/* ---- producer ---- */

static int sink(void *payload, const void *data, size_t len)
{
	layer *l = payload;
	const ccp_layer_job *job = l->job;

	if (len > job->blob_size - l->blob_bytes) {
		l->sink_code = ccp_err_set(&l->sink_err, CCP_EINTEGRITY,
					   "%s: blob is larger than its descriptor size %llu", job->name,
					   (unsigned long long)job->blob_size);
		return l->sink_code;
	}
	ccp_hasher_update(&l->blob_h, data, len);
	l->blob_bytes += len;
	if (job->progress)
		job->progress(job->progress_payload, l->blob_bytes, job->blob_size);
	if (!l->dec) {
		ring_write(&l->r, data, len);
		return 0;
	}
	/*
	 * Encrypted: decrypt and HMAC here, beside the blob digest, so the consumer's thread only
	 * decompresses. A decryption failure is kept in the decryptor and reported by
	 * ccp_decryptor_final, after the blob digest, so the root cause comes first.
	 */
	for (const unsigned char *in = data; len > 0;) {
		size_t k = len < sizeof(l->plain) ? len : sizeof(l->plain);
		ccp_err ignored = CCP_ERR_INIT;
		ccp_decryptor_update(l->dec, in, l->plain, k, &ignored);
		ring_write(&l->r, l->plain, k);
		in += k;
		len -= k;
	}
	return 0;
}

static void *producer(void *arg)
{
	layer *l = arg;
	int rc = l->job->fetch(l->job->fetch_payload, sink, l, &l->fetch_err);

	if (l->sink_code < 0) {
		rc = l->sink_code;
		l->fetch_err = l->sink_err;
	} else if (rc < 0 && !l->fetch_err.code) {
		ccp_err_set(&l->fetch_err, rc, "%s: fetching the blob failed", l->job->name);
	}
	ring_finish(&l->r, rc < 0 ? rc : 0);
	return NULL;
}

/* ---- consumer ---- */

static int producer_failed(layer *l, ssize_t code, ccp_err *e)
{
	/* The producer has finished (ring_read saw its code), so its error is stable to read. */
	*e = l->fetch_err;
	return (int)code;
}

static int sniff(layer *l, ccp_err *e)
{
	const unsigned char *p;
	ssize_t n = ring_read(&l->r, &p, 4);

	if (n < 0)
		return producer_failed(l, n, e);
	l->r.held = 0; /* a peek: the bytes stay in the ring */
	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		l->comp = CCP_COMP_GZIP;
	else if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
		l->comp = CCP_COMP_ZSTD;
	else
		l->comp = CCP_COMP_NONE;
	return 0;
}

static int inflate_step(layer *l, size_t *produced, ccp_err *e)
{
	int member_end = 0, rc;

	if (l->gz_state == 2) {
		size_t i;
		for (i = 0; i < l->in_len; i++)
			if (l->in[i])
				return ccp_err_set(e, CCP_ELAYER, "gzip: data after the trailing zero bytes");
		l->in_len = 0;
		return 0;
	}
	if (l->gz_state == 1) {
		/* Another member follows, or zero padding that some writers append. */
		if (l->in[0] == 0) {
			l->gz_state = 2;
			return 0;
		}
		if (l->in[0] != 0x1f)
			return ccp_err_set(e, CCP_ELAYER, "gzip: garbage after the compressed stream");
		if ((rc = ccp_gunzip_reset(l->gz, e)) < 0)
			return rc;
		l->gz_state = 0;
	}
	if ((rc = ccp_gunzip_step(l->gz, &l->in, &l->in_len, l->out, l->out_cap, produced, &member_end, e)) < 0)
		return rc;
	l->pending = *produced == l->out_cap;
	if (member_end) {
		l->gz_state = 1;
		l->pending = 0;
	}
	return 0;
}

static int zstd_step(layer *l, size_t *produced, ccp_err *e)
{
	ZSTD_inBuffer ib = { l->in, l->in_len, 0 };
	ZSTD_outBuffer ob = { l->out, l->out_cap, 0 };
	size_t ret = ZSTD_decompressStream(l->zd, &ob, &ib);

	if (ZSTD_isError(ret))
		return ccp_err_set(e, CCP_ELAYER, "zstd: %s", ZSTD_getErrorName(ret));
	l->in += ib.pos;
	l->in_len -= ib.pos;
	*produced = ob.pos;
	l->pending = ob.pos == ob.size;
	l->zframe_open = ret != 0; /* frames follow one another until the input ends */
	return 0;
}

static int account(layer *l, const void *p, size_t n, ccp_err *e)
{
	if (n > l->max_out - l->out_bytes)
		return ccp_err_set(e, CCP_ELAYER, "decompression bomb: layer expands past %llu bytes",
				   (unsigned long long)l->max_out);
	if (n > l->ratio_out - l->out_bytes)
		return ccp_err_set(e, CCP_ELAYER, "decompression bomb: %llu compressed bytes expand past %llu bytes, "
				   "more than %u times their size (raise with --max-decompression-ratio or "
				   "ccpull.toml [image] max_decompression_ratio)",
				   (unsigned long long)l->job->blob_size, (unsigned long long)l->ratio_out, l->ratio);
	if (l->job->image_left) {
		uint64_t left = atomic_load(l->job->image_left);
		do {
			if (n > left)
				return ccp_err_set(e, CCP_ELAYER, "decompression bomb: the image expands past %llu bytes",
						   (unsigned long long)l->job->image_max);
		} while (!atomic_compare_exchange_weak(l->job->image_left, &left, left - n));
	}
	l->out_bytes += n;
	if (!l->hash_staged)
		ccp_hasher_update(&l->diff_h, p, n);
	return 0;
}

/* The decompressed stream, for the unpacker (ccp_unpack_read_fn). */
static ssize_t tar_read(void *payload, const void **buf, ccp_err *e)
{
	layer *l = payload;
	const unsigned char *p;
	ssize_t n;
	size_t produced;
	int rc;

	if (l->at_end)
		return 0;
	if (l->comp == CCP_COMP_NONE) {
		n = ring_read(&l->r, &p, 1);
		if (n < 0)
			return producer_failed(l, n, e);
		if (n == 0) {
			l->at_end = 1;
			return 0;
		}
		if ((rc = account(l, p, (size_t)n, e)) < 0)
			return rc;
		*buf = p;
		return n;
	}
	for (;;) {
		if (l->in_len == 0 && !l->pending) {
			n = ring_read(&l->r, &l->in, 1);
			if (n < 0)
				return producer_failed(l, n, e);
			if (n == 0) {
				if (!l->started || (l->comp == CCP_COMP_GZIP ? l->gz_state == 0 : l->zframe_open))
					return ccp_err_set(e, CCP_ELAYER, "truncated %s stream",
							   l->comp == CCP_COMP_GZIP ? "gzip" : "zstd");
				l->at_end = 1;
				return 0;
			}
			l->in_len = (size_t)n;
			l->started = 1;
		}
		produced = 0;
		rc = l->comp == CCP_COMP_GZIP ? inflate_step(l, &produced, e) : zstd_step(l, &produced, e);
		if (rc < 0)
			return rc;
		if (produced > 0) {
			if ((rc = account(l, l->out, produced, e)) < 0)
				return rc;
			*buf = l->out;
			return (ssize_t)produced;
		}
	}
}

static int consumer_init(layer *l, ccp_err *e)
{
	int rc;

	if (l->comp == CCP_COMP_SNIFF && (rc = sniff(l, e)) < 0)
		return rc;
	if (l->comp == CCP_COMP_GZIP) {
		if ((rc = ccp_gunzip_new(&l->gz, e)) < 0)
			return rc;
	} else if (l->comp == CCP_COMP_ZSTD) {
		if (!(l->zd = ZSTD_createDCtx()))
			return ccp_err_oom(e);
	} else if (l->comp != CCP_COMP_NONE) {
		return ccp_err_set(e, CCP_EINVALID, "unknown compression %d", (int)l->comp);
	}
	if (l->comp != CCP_COMP_NONE && !(l->out = l->out_own = malloc(OUT_SIZE)))
		return ccp_err_oom(e);
	l->out_cap = OUT_SIZE;
	return 0;
}

static void drain_ring(layer *l)
{
	const unsigned char *p;

	while (ring_read(&l->r, &p, 1) > 0)
		;
}

/* ---- stage: a second thread decompresses while the caller unpacks ---- */

static int stage_init(stage *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	for (int i = 0; i < STAGE_SLOTS; i++)
		if (!(s->buf[i] = malloc(OUT_SIZE)))
			return -1;
	return 0;
}

static void stage_free(stage *s)
{
	for (int i = 0; i < STAGE_SLOTS; i++)
		free(s->buf[i]);
	if (s->buf[0]) {
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
	}
}

/* The decompressing thread: fills free slots through tar_read until the stream ends or fails. */
static void *decompressor(void *arg)
{
	layer *l = arg;
	stage *s = &l->st;

	for (;;) {
		ccp_err err = CCP_ERR_INIT;
		const void *p;
		unsigned slot;
		size_t len = 0;
		ssize_t n;

		pthread_mutex_lock(&s->mu);
		while (!s->stop && s->filled - (s->released < s->hashed ? s->released : s->hashed) >= STAGE_SLOTS)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->stop) {
			pthread_mutex_unlock(&s->mu);
			return NULL;
		}
		slot = (unsigned)(s->filled % STAGE_SLOTS);
		pthread_mutex_unlock(&s->mu);

		/* Fill the slot: one decompression call may yield only a few KiB, and each hand-off costs
		 * the other threads a wake-up. */
		do {
			l->out = s->buf[slot] + len;
			l->out_cap = OUT_SIZE - len;
			if ((n = tar_read(l, &p, &err)) > 0)
				len += (size_t)n;
		} while (n > 0 && len < OUT_SIZE);
		pthread_mutex_lock(&s->mu);
		if (len > 0) {
			s->len[slot] = len;
			s->filled++;
		}
		if (n <= 0) {
			s->done = 1;
			s->code = (int)n;
			if (n < 0)
				s->err = err;
		}
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		if (n <= 0)
			return NULL;
	}
}

/* The diff_id's thread: hashes every filled slot, in order, until the stream ends or the stage stops. */
static void *diff_hasher(void *arg)
{
	layer *l = arg;
	stage *s = &l->st;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->stop && s->hashed == s->filled && !s->done)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->stop || s->hashed == s->filled)
			break;
		unsigned slot = (unsigned)(s->hashed % STAGE_SLOTS);
		pthread_mutex_unlock(&s->mu);
		/* The slot stays filled until hashed moves past it. */
		ccp_hasher_update(&l->diff_h, s->buf[slot], s->len[slot]);
		pthread_mutex_lock(&s->mu);
		s->hashed++;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* The unpacker's source when a decompressing thread runs: the next filled slot. */
static ssize_t staged_read(void *payload, const void **buf, ccp_err *e)
{
	layer *l = payload;
	stage *s = &l->st;
	ssize_t n;

	pthread_mutex_lock(&s->mu);
	if (s->taken > s->released) { /* the slot handed out last time is no longer used */
		s->released = s->taken;
		pthread_cond_broadcast(&s->cv);
	}
	while (s->taken == s->filled && !s->done)
		pthread_cond_wait(&s->cv, &s->mu);
	if (s->taken < s->filled) {
		unsigned slot = (unsigned)(s->taken % STAGE_SLOTS);
		*buf = s->buf[slot];
		n = (ssize_t)s->len[slot];
		s->taken++;
	} else {
		n = s->code;
		if (n < 0)
			*e = s->err;
	}
	pthread_mutex_unlock(&s->mu);
	return n;
}

/*
 * The unpacker's source, checking the pull's cancellation and deadline between two reads (at most
 * a slot, 1 MiB, of decompressed bytes apart) before reading on through source.
 */
static ssize_t checked_read(void *payload, const void **buf, ccp_err *e)
{
	layer *l = payload;
	int r;

	if ((r = ccp_cancel_check(l->job->unpack.cancel, NULL, e)) < 0)
		return r;
	return l->source(payload, buf, e);
}

static void stage_stop(stage *s)
{
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* The job's limits on the decompressed bytes: absolute, and relative to the blob's size. */
static void layer_limits(layer *l, const ccp_layer_job *job)
{
	l->job = job;
	l->comp = job->compression;
	l->max_out = job->max_uncompressed ? job->max_uncompressed : DEFAULT_MAX_UNCOMPRESSED;
	l->ratio = job->max_ratio ? job->max_ratio : CCP_LAYER_DEFAULT_RATIO;
	l->ratio_out = job->blob_size > UINT64_MAX / l->ratio ? UINT64_MAX : job->blob_size * l->ratio;
	if (l->ratio_out < CCP_LAYER_RATIO_FLOOR)
		l->ratio_out = CCP_LAYER_RATIO_FLOOR;
}

/*
 * A compressed layer: starts the diff_id and decompression threads over the stage's slots. On
 * success *staged is set and *source reads the slots; on failure no thread of the stage runs.
 */
static int start_stage(layer *l, pthread_t *hth, pthread_t *dth, int *staged, ccp_unpack_read_fn *source,
		       ccp_err *cerr)
{
	int crc = 0;

	l->hash_staged = 1; /* set before the decompressor's first account() */
	if (stage_init(&l->st) < 0) {
		crc = ccp_err_oom(cerr);
	} else if (pthread_create(hth, NULL, diff_hasher, l) != 0) {
		crc = ccp_err_set(cerr, CCP_EINTERNAL, "cannot start the diff_id thread");
	} else if (pthread_create(dth, NULL, decompressor, l) != 0) {
		stage_stop(&l->st);
		pthread_join(*hth, NULL);
		crc = ccp_err_set(cerr, CCP_EINTERNAL, "cannot start the decompression thread");
	} else {
		*staged = 1;
		*source = staged_read;
		free(l->out_own); /* the decompressor writes into the stage's slots now */
		l->out_own = NULL;
	}
	return crc;
}

static int unpack_tar(layer *l, ccp_unpack_read_fn source, ccp_err *cerr)
{
	const ccp_layer_job *job = l->job;

	/* File data can never exceed the decompressed bytes: an entry declaring more fails at once. */
	ccp_unpack_opts uo = job->unpack;
	if (!uo.max_bytes || uo.max_bytes > l->max_out)
		uo.max_bytes = l->max_out;
	l->source = source;
	return ccp_unpack_stream(job->root_fd, job->unpack.cancel ? checked_read : source, l, &uo, cerr);
}

static int read_trailer(layer *l, ccp_unpack_read_fn source, ccp_err *cerr)
{
	/* Past the tar end: the diff_id covers every decompressed byte, so read them all. */
	uint64_t trailer = 0;
	const void *p;
	ssize_t n;
	while ((n = source(l, &p, cerr)) > 0) {
		trailer += (uint64_t)n;
		if (trailer > MAX_TRAILER) {
			n = ccp_err_set(cerr, CCP_ELAYER, "more than %llu bytes after the end of the tar archive",
					(unsigned long long)MAX_TRAILER);
			break;
		}
	}
	if (n < 0)
		return (int)n;
	return 0;
}

/*
 * The outcome once every thread has ended, the root cause first: cancellation, the fetch, the blob's
 * size and digest, decryption, the unpacker (crc, cerr), then the diff_id.
 */
static int layer_verdict(layer *l, int crc, const ccp_err *cerr, ccp_err *e)
{
	const ccp_layer_job *job = l->job;
	char want[CCP_DIGEST_STR_MAX], got[CCP_DIGEST_STR_MAX];
	ccp_digest blob, diff;
	int rc;

	/* Cancelled or out of time: that is the cause, whatever became of the blob meanwhile. */
	if (crc == CCP_ECANCELED || crc == CCP_ETIMEOUT) {
		*e = *cerr;
		ccp_err_wrap(e, "%s", job->name);
		return crc;
	}
	if (l->r.code < 0) {
		*e = l->fetch_err;
		return l->r.code;
	}
	ccp_hasher_final(&l->blob_h, &blob);
	if (l->blob_bytes != job->blob_size)
		return ccp_err_set(e, CCP_EINTEGRITY, "%s: blob size mismatch: expected %llu bytes, got %llu", job->name,
				   (unsigned long long)job->blob_size, (unsigned long long)l->blob_bytes);
	if (!ccp_digest_equal(&blob, &job->blob_digest))
		return ccp_err_set(e, CCP_EINTEGRITY, "%s: blob digest mismatch: expected %s, got %s", job->name,
				   ccp_digest_str(&job->blob_digest, want), ccp_digest_str(&blob, got));
	if (l->dec && (rc = ccp_decryptor_final(l->dec, e)) < 0) {
		ccp_err_wrap(e, "%s", job->name);
		return rc;
	}
	if (crc < 0) {
		*e = *cerr;
		ccp_err_wrap(e, "%s", job->name);
		return crc;
	}
	ccp_hasher_final(&l->diff_h, &diff);
	if (!ccp_digest_equal(&diff, &job->diff_id))
		return ccp_err_set(e, CCP_EINTEGRITY, "%s: diff_id mismatch: expected %s, got %s", job->name,
				   ccp_digest_str(&job->diff_id, want), ccp_digest_str(&diff, got));
	return 0;
}

int ccp_layer_apply(const ccp_layer_job *job, ccp_err *e)
{
	ccp_err cerr = CCP_ERR_INIT;
	pthread_t th, dth, hth;
	ccp_unpack_read_fn source = tar_read;
	layer *l;
	int rc, crc, staged = 0;

	if (!job || !job->fetch || !job->name || !job->blob_digest.algo || !job->diff_id.algo)
		return ccp_err_set(e, CCP_EINVALID, "layer job without a fetch function, name or digests");
	if (!(l = calloc(1, sizeof(*l))))
		return ccp_err_oom(e);
	layer_limits(l, job);
	if (ring_init(&l->r) < 0) {
		free(l);
		return ccp_err_oom(e);
	}
	if ((rc = ccp_hasher_init(&l->blob_h, job->blob_digest.algo, e)) < 0)
		goto out_ring;
	if ((rc = ccp_hasher_init(&l->diff_h, job->diff_id.algo, e)) < 0)
		goto out_blob;
	if (job->decrypt) {
		rc = ccp_decryptor_new(&l->dec, job->decrypt, e);
		ccp_layer_crypt_wipe(job->decrypt); /* the decryptor keeps the key schedule only */
		if (rc < 0)
			goto out_diff;
	}
	if (pthread_create(&th, NULL, producer, l) != 0) {
		rc = ccp_err_set(e, CCP_EINTERNAL, "%s: cannot start the fetch thread", job->name);
		goto out_diff;
	}

	crc = consumer_init(l, &cerr);
	if (crc == 0 && l->comp != CCP_COMP_NONE)
		crc = start_stage(l, &hth, &dth, &staged, &source, &cerr);
	if (crc == 0)
		crc = unpack_tar(l, source, &cerr);
	if (crc == 0)
		crc = read_trailer(l, source, &cerr);
	if (staged) {
		/* After a clean end the hasher finishes the filled slots by itself; otherwise stop it too. */
		if (crc < 0)
			stage_stop(&l->st);
		pthread_join(hth, NULL);
		stage_stop(&l->st);
		pthread_join(dth, NULL);
	}
	if (job->uncompressed)
		*job->uncompressed = l->out_bytes;
	/* Whatever happened above, read the blob to its end so its digest can name the root cause. */
	drain_ring(l);
	pthread_join(th, NULL);

	rc = layer_verdict(l, crc, &cerr, e);
out_diff:
	ccp_hasher_free(&l->diff_h);
out_blob:
	ccp_hasher_free(&l->blob_h);
out_ring:
	ccp_decryptor_free(l->dec);
	if (job->decrypt)
		ccp_layer_crypt_wipe(job->decrypt);
	ccp_gunzip_free(l->gz);
	ZSTD_freeDCtx(l->zd);
	stage_free(&l->st);
	free(l->out_own);
	ring_free(&l->r);
	free(l);
	return rc;
}
