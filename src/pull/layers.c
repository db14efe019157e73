/*
 * The layers of a pull: each layer's job (blob source, key, limits), the layer tasks that make the
 * missing ones in the store in parallel and commit them in order (ccp_pull_make_layers), the unprivileged
 * path that applies every layer into the rootfs, and the copy of the store's layers into a rootfs.
 */
#include "pull/layers.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "keyproviders/keyproviders.h"
#include "layer/layer.h"
#include "registry/ranges.h"
#include "ocicrypt/ocicrypt.h"
#include "store/store.h"

#define LAYER_UNCOMPRESSED_MAX (64ULL << 30)

static int fetch_blob(void *payload, ccp_sink_fn sink, void *sink_payload, ccp_err *e)
{
	blob_source *src = payload;
	return ccp_ranges_stream_blob(src->reg, src->digest, src->size, &src->ranges, sink, sink_payload, e);
}

void ccp_pull_emit(const ccp_pull_options *o, ccp_progress_kind kind, size_t index, size_t count, const char *digest,
		 uint64_t done, uint64_t total, int reused)
{
	ccp_progress_event ev = { kind, index, count, digest, done, total, reused };
	if (o->progress)
		o->progress(&ev, o->progress_payload);
}

static void layer_progress(void *payload, uint64_t done, uint64_t total)
{
	progress_ctx *p = payload;
	ccp_pull_emit(p->o, CCP_PROGRESS_LAYER_BYTES, p->index, p->count, p->digest, done, total, 0);
}

/* chain[0] = diff_id[0]; chain[k] = sha256("chain[k-1] diff_id[k]") (OCI image spec, config.md). */
int ccp_pull_chain_ids(ccp_digest *chain, const ccp_image_config *cfg, ccp_err *e)
{
	for (size_t k = 0; k < cfg->n_diff_ids; k++) {
		char a[CCP_DIGEST_STR_MAX], b[CCP_DIGEST_STR_MAX], s[2 * CCP_DIGEST_STR_MAX + 2];
		int r;
		if (k == 0) {
			chain[0] = cfg->diff_ids[0];
			continue;
		}
		snprintf(s, sizeof(s), "%s %s", ccp_digest_str(&chain[k - 1], a), ccp_digest_str(&cfg->diff_ids[k], b));
		if ((r = ccp_digest_compute(&chain[k], CCP_SHA256, s, strlen(s), e)))
			return r;
	}
	return 0;
}

/* An encrypted layer's key, unwrapped by the configured key providers (on every pull: a layer in
 * the store is reused only by someone who could decrypt it). */
static int layer_key(ccp_layer_crypt *out, const resolved_image *rv, size_t k, const ccp_pull_options *o,
		     const char *name, ccp_err *e)
{
	ccp_enc_info info;
	ccp_keyring *kr = NULL;
	ccp_keyprovider *kbs = NULL;
	json_t *ann = NULL;
	const char **specs = NULL;
	size_t n = 0;
	int r;

	if ((r = ccp_manifest_layer_annotations(&ann, rv->man_raw.data, rv->man_raw.len, k, e)))
		return ccp_err_wrap(e, "%s", name);
	r = ccp_enc_info_parse(&info, ann, e);
	json_decref(ann);
	if (r)
		return ccp_err_wrap(e, "%s", name);
	if (o->trust.n_decryption_keys && !(specs = calloc(o->trust.n_decryption_keys, sizeof(*specs)))) {
		ccp_enc_info_free(&info);
		return ccp_err_oom(e);
	}
	/* With a KBS, the CoCo key provider "attestation-agent" is built in: no keyprovider config for it. */
	for (size_t i = 0; i < o->trust.n_decryption_keys; i++) {
		const char *s = o->trust.decryption_keys[i];
		if (!((o->kbs.url || o->kbs.resources) && s && strncmp(s, "provider:attestation-agent", 26) == 0 &&
		      (!s[26] || s[26] == ':')))
			specs[n++] = s;
	}
	if ((r = ccp_keyring_new(&kr, specs, n, o->trust.keyprovider_config, e)) == 0)
		r = ccp_keyring_add_first(kr, rv->providers, rv->n_providers, e); /* the context's, first */
	if (r == 0 && (o->kbs.url || o->kbs.resources)) {
		ccp_pull_resources res;
		if ((r = ccp_pull_resources_init(&res, o, rv->cancel, e)) == 0) {
			res.kc.deadline_ms = rv->deadline_ms; /* the pull's, not timeout_s from now */
			if ((r = ccp_kbs_provider_new(&kbs, &res.kc, e)) == 0)
				r = ccp_keyring_add(kr, kbs, e);
		}
	}
	if (r == 0)
		r = ccp_keyring_unwrap(out, kr, &info, name, e);
	ccp_keyring_free(kr);
	free(specs);
	ccp_enc_info_free(&info);
	return r;
}

/* Layer k's pipeline job; image_left is the image's decompression budget, shared by its layers. */
int ccp_pull_layer_job(ccp_layer_job *job, const resolved_image *rv, size_t k, blob_source *src,
		     progress_ctx *pc, _Atomic uint64_t *image_left, char *name, size_t name_len, ccp_err *e)
{
	const ccp_descriptor *d = &rv->man.layers[k];
	const ccp_registry_options *ro = &pc->o->registry;
	int encrypted = 0, r;

	memset(job, 0, sizeof(*job));
	ccp_digest_str(&d->digest, src->digest);
	snprintf(name, name_len, "layer %zu/%zu %s of %s", k + 1, rv->man.n_layers, src->digest, rv->image);
	if ((r = ccp_layer_media_type(d->media_type, &job->compression, &encrypted, e)))
		return ccp_err_wrap(e, "%s", name);
	if (encrypted && (r = layer_key(&src->crypt, rv, k, pc->o, name, e)))
		return r;
	job->decrypt = encrypted ? &src->crypt : NULL;
	src->reg = rv->reg;
	src->size = d->size;
	src->ranges.parts = ro->parallel_ranges ? ro->parallel_ranges : CCP_RANGES_PARTS_DEFAULT;
	src->ranges.min_size = ro->parallel_ranges_min_mib ? (uint64_t)ro->parallel_ranges_min_mib << 20
							   : CCP_RANGES_MIN_SIZE_DEFAULT;
	job->name = name;
	job->fetch = fetch_blob;
	job->fetch_payload = src;
	job->blob_digest = d->digest;
	job->blob_size = d->size;
	job->diff_id = rv->cfg.diff_ids[k];
	job->max_uncompressed = LAYER_UNCOMPRESSED_MAX;
	job->max_ratio = pc->o->store.max_decompression_ratio;
	job->uncompressed = &src->uncompressed;
	job->image_left = image_left;
	job->image_max = IMAGE_UNCOMPRESSED_MAX;
	job->unpack.same_owner = geteuid() == 0;
	job->unpack.cancel = rv->cancel;
	job->progress = layer_progress;
	job->progress_payload = pc;
	pc->digest = src->digest;
	return 0;
}

/*
 * Identifies the key and nonce unwrapped for the encrypted blob, without revealing them: the store
 * records it so that only a pull holding the same key for the same blob reuses what it made.
 */
static int layer_key_id(ccp_digest *out, const ccp_layer_crypt *c, const ccp_digest *blob, ccp_err *e)
{
	static const char label[] = "ccpull layer key id v1";
	char d[CCP_DIGEST_STR_MAX];
	ccp_hasher h;
	int r;

	if ((r = ccp_hasher_init(&h, CCP_SHA256, e)))
		return r;
	ccp_digest_str(blob, d);
	ccp_hasher_update(&h, label, sizeof(label));
	ccp_hasher_update(&h, d, strlen(d) + 1);
	ccp_hasher_update(&h, c->key, sizeof(c->key));
	ccp_hasher_update(&h, c->nonce, sizeof(c->nonce));
	ccp_hasher_final(&h, out);
	ccp_hasher_free(&h);
	return 0;
}

/* What this pull holds for layer k: its descriptor, diff_id and, when encrypted, its key (crypt). */
int ccp_pull_layer_source(ccp_layer_source *ls, const resolved_image *rv, size_t k, const ccp_layer_crypt *crypt,
			ccp_err *e)
{
	const ccp_descriptor *d = &rv->man.layers[k];

	memset(ls, 0, sizeof(*ls));
	ls->blob = d->digest;
	ls->size = d->size;
	ls->media_type = d->media_type;
	ls->diff_id = rv->cfg.diff_ids[k];
	ls->encrypted = crypt != NULL;
	return crypt ? layer_key_id(&ls->key_id, crypt, &d->digest, e) : 0;
}

/*
 * Layers into the store, side by side. Each missing layer is applied on its own thread into its own
 * staging directory: the first as is, every other one in direct mode (ccp_unpack_direct) without
 * its lower layers in view. Layers are then finished in order: a direct layer is completed against
 * its now complete lowers, or applied again through an overlay mount of them when the direct result
 * could differ, and committed. Locks are taken in layer order, so concurrent pulls never deadlock.
 */

/* Layers applied at once by default: one per CPU, at most this many (each holds about 10 MiB). */
#define PARALLEL_LAYERS_DEFAULT_MAX 4
/* How much nicer the layers other than the largest run (see apply_thread). */
#define BACKGROUND_NICE 5

typedef struct layers_run layers_run;

typedef struct layer_task {
	layers_run *lr;
	ccp_layer_job job;
	blob_source src;
	ccp_layer_crypt key;       /* a copy of an encrypted layer's key, for a second application */
	progress_ctx pc;
	char name[512];
	ccp_staging st;
	ccp_unpack_direct direct;
	ccp_layer_source ls;       /* what this pull holds for the layer (ccp_store_layer_state) */
	int needed;                /* not in the store for this pull: to be made */
	int prove;                 /* in the store, but not for this pull: made only to verify, not committed */
	int lock, root, staged, started, rc;
	int done;                  /* its thread has finished (under lr->mu) */
	int background;            /* not the largest layer: runs at a lower priority */
	pthread_t th;
	ccp_err err;
} layer_task;

struct layers_run {
	ccp_store *store;
	const resolved_image *rv;
	const ccp_digest *chain;
	const ccp_pull_options *o;
	ccp_pull_result *res;
	layer_task *t;
	pthread_mutex_t mu;        /* guards running and each task's done */
	pthread_cond_t cv;         /* a layer thread has finished */
	size_t running;
	_Atomic uint64_t image_left; /* what the image's layers may still decompress to */
};

void ccp_pull_yield_to_largest(void)
{
	int nice;

	errno = 0;
	nice = getpriority(PRIO_PROCESS, (id_t)gettid());
	if (errno == 0)
		setpriority(PRIO_PROCESS, (id_t)gettid(), nice + BACKGROUND_NICE);
}

static void *apply_thread(void *arg)
{
	layer_task *t = arg;
	layers_run *lr = t->lr;

	if (t->background)
		ccp_pull_yield_to_largest();
	t->rc = ccp_layer_apply(&t->job, &t->err);
	pthread_mutex_lock(&lr->mu);
	t->done = 1;
	lr->running--;
	pthread_cond_signal(&lr->cv);
	pthread_mutex_unlock(&lr->mu);
	return NULL;
}

size_t ccp_pull_parallel_layers(const ccp_pull_options *o)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (o->store.parallel_layers)
		return o->store.parallel_layers;
	if (cpus < 1)
		return 1;
	return cpus < PARALLEL_LAYERS_DEFAULT_MAX ? (size_t)cpus : PARALLEL_LAYERS_DEFAULT_MAX;
}

/* Layer k's job, and its store lock unless the store has it (locks are taken in layer order). */
static int task_prepare(layers_run *lr, size_t k, ccp_err *e)
{
	layer_task *t = &lr->t[k];
	int r;

	t->lr = lr;
	t->lock = t->root = -1;
	t->pc = (progress_ctx){ lr->o, k, lr->rv->man.n_layers, NULL };
	/*
	 * Before the store lookup: an encrypted layer's key is unwrapped by this pull, and a layer made
	 * from an encrypted blob is reused only with that blob's own key (ccp_store_layer_state). Else
	 * this pull makes the layer from its own blob; when the store has it already, that only proves
	 * the plaintext (the diff_id) and the committed layer is used.
	 */
	if ((r = ccp_pull_layer_job(&t->job, lr->rv, k, &t->src, &t->pc, &lr->image_left, t->name, sizeof(t->name), e)))
		return r;
	if ((r = ccp_pull_layer_source(&t->ls, lr->rv, k, t->job.decrypt, e)))
		return r;
	if (ccp_store_layer_state(lr->store, &lr->chain[k], &t->ls) != CCP_LAYER_REUSABLE) {
		int state;
		if ((r = ccp_store_lock_layer(lr->store, &lr->chain[k], lr->rv->cancel, &t->lock, e)))
			return ccp_err_wrap(e, "%s", t->name);
		/* another pull may have made or proven it while we waited */
		state = ccp_store_layer_state(lr->store, &lr->chain[k], &t->ls);
		t->needed = state != CCP_LAYER_REUSABLE;
		t->prove = state == CCP_LAYER_UNPROVEN;
	}
	if (!t->needed) {
		lr->res->layers[k].reused = 1;
		ccp_layer_crypt_wipe(&t->src.crypt);
	}
	return 0;
}

/* Starts applying layer k on its own thread, into a staging directory of its own. */
static int task_launch(layers_run *lr, size_t k, ccp_err *e)
{
	layer_task *t = &lr->t[k];
	const char *upper_only[1];
	int r;

	if ((r = ccp_stage_begin(lr->store, &t->st, e)))
		return r;
	t->staged = 1;
	if ((r = ccp_stage_open_root(&t->st, upper_only, 0, &t->root, e)))
		return r;
	if (k > 0)
		t->job.unpack.direct = &t->direct;
	if (t->job.decrypt)
		t->key = t->src.crypt; /* ccp_layer_apply wipes the one it is given */
	t->job.root_fd = t->root;
	ccp_pull_emit(lr->o, CCP_PROGRESS_LAYER_START, k, lr->rv->man.n_layers, t->src.digest, 0, t->src.size, 0);
	pthread_mutex_lock(&lr->mu);
	if (pthread_create(&t->th, NULL, apply_thread, t) == 0) {
		t->started = 1;
		lr->running++;
	}
	pthread_mutex_unlock(&lr->mu);
	return t->started ? 0 : ccp_err_set(e, CCP_EINTERNAL, "%s: cannot start a thread", t->name);
}

/* Opens the k layer directories lowers (ccp_store_lowers: top-most first). */
static int open_lowers(const char *const *lowers, size_t k, int **out, ccp_err *e)
{
	int *fds, r;

	*out = NULL;
	if (!(fds = malloc((k ? k : 1) * sizeof(*fds))))
		return ccp_err_oom(e);
	for (size_t i = 0; i < k; i++) {
		if ((fds[i] = open(lowers[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			r = ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot open layer `%s`", lowers[i]);
			while (i > 0)
				close(fds[--i]);
			free(fds);
			return r;
		}
	}
	*out = fds;
	return 0;
}

static void close_lowers(int *fds, size_t k)
{
	for (size_t i = 0; fds && i < k; i++)
		close(fds[i]);
	free(fds);
}

/* Completes direct layer k against its lowers; *redo = 1 when it must be applied through them. */
static int task_complete_direct(layers_run *lr, size_t k, int *redo, ccp_err *e)
{
	layer_task *t = &lr->t[k];
	const char **lowers = NULL;
	int *fds = NULL, upper, r;

	*redo = 0;
	if (t->direct.n_implicit == 0 && t->direct.n_whiteouts == 0)
		return 0;
	if ((r = ccp_store_lowers(lr->store, lr->chain, k, &lowers, e)) == 0)
		r = open_lowers(lowers, k, &fds, e);
	free(lowers);
	if (r)
		return r;
	if ((upper = open(t->st.upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		r = ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot open `%s`", t->st.upper);
	} else {
		if ((r = ccp_unpack_direct_finish(upper, fds, k, &t->direct, redo, e)))
			ccp_err_wrap(e, "%s", t->name);
		close(upper);
	}
	close_lowers(fds, k);
	return r;
}

/* Applies layer k again, through an overlay mount of its lowers, into a fresh staging directory. */
static int task_redo(layers_run *lr, size_t k, ccp_err *e)
{
	layer_task *t = &lr->t[k];
	const char **lowers = NULL;
	int *fds = NULL, r;

	ccp_stage_abort(&t->st);
	t->staged = 0;
	if ((r = ccp_store_lowers(lr->store, lr->chain, k, &lowers, e)) || (r = open_lowers(lowers, k, &fds, e))) {
		free(lowers);
		return r;
	}
	if ((r = ccp_stage_begin(lr->store, &t->st, e)) == 0) {
		t->staged = 1;
		r = ccp_stage_open_root(&t->st, lowers, k, &t->root, e);
	}
	free(lowers);
	if (r == 0) {
		/* What the first application took from the budget, this one takes again. */
		atomic_fetch_add(&lr->image_left, t->src.uncompressed);
		t->src.crypt = t->key;
		t->job.unpack.direct = NULL;
		t->job.unpack.lower_fds = fds;
		t->job.unpack.n_lowers = k;
		t->job.root_fd = t->root;
		r = ccp_layer_apply(&t->job, e);
	}
	close_lowers(fds, k);
	return r;
}

/* Waits for layer k and, unless an earlier one failed (abandon), completes and commits it. */
static int task_finish(layers_run *lr, size_t k, int abandon, ccp_err *e)
{
	layer_task *t = &lr->t[k];
	char *meta = NULL;
	int r = 0, redo = 0;

	if (t->started) {
		pthread_join(t->th, NULL);
		t->started = 0;
		if (t->root >= 0)
			close(t->root);
		t->root = -1;
		r = t->rc;
		if (r == CCP_ELAYER && t->direct.needs_lowers) {
			r = 0; /* the layer refers to its lowers: applied again below, through them */
			redo = 1;
		} else if (r && !abandon) {
			*e = t->err;
		}
		/* A layer made only to prove its plaintext needs no completion: its upper is discarded. */
		if (r == 0 && !abandon && !redo && k > 0 && !t->prove)
			r = task_complete_direct(lr, k, &redo, e);
		if (r == 0 && !abandon && redo)
			r = task_redo(lr, k, e);
		if (r == 0 && !abandon && t->prove) {
			/* Its own blob gave the diff_id: the committed layer is this pull's too. */
			r = ccp_store_layer_proven(lr->store, &lr->chain[k], &t->ls, e);
		} else if (r == 0 && !abandon) {
			if (!(meta = ccp_store_layer_meta(&lr->chain[k], &t->ls)))
				r = ccp_err_oom(e);
			else
				r = ccp_stage_commit(lr->store, &t->st, &lr->chain[k], meta, e);
		}
	}
	if (t->root >= 0)
		close(t->root);
	if (t->staged)
		ccp_stage_abort(&t->st);
	if (t->lock >= 0)
		ccp_store_unlock(t->lock);
	t->root = t->lock = -1;
	t->staged = 0;
	ccp_layer_crypt_wipe(&t->src.crypt);
	ccp_layer_crypt_wipe(&t->key);
	ccp_unpack_direct_free(&t->direct);
	free(meta);
	if (r == 0 && !abandon)
		ccp_pull_emit(lr->o, CCP_PROGRESS_LAYER_DONE, k, lr->rv->man.n_layers, lr->res->layers[k].digest,
		     lr->res->layers[k].size, lr->res->layers[k].size, lr->res->layers[k].reused);
	return abandon ? 0 : r;
}

/* Without mount privileges: apply every layer in order straight into the new rootfs. */
int ccp_pull_apply_all_into(int rootfs_fd, const resolved_image *rv, const ccp_pull_options *o, layer_result *lr,
			    ccp_err *e)
{
	_Atomic uint64_t image_left = IMAGE_UNCOMPRESSED_MAX;

	for (size_t k = 0; k < rv->man.n_layers; k++) {
		ccp_layer_job job;
		blob_source src;
		progress_ctx pc = { o, k, rv->man.n_layers, NULL };
		char name[512];
		int r;

		if ((r = ccp_pull_layer_job(&job, rv, k, &src, &pc, &image_left, name, sizeof(name), e)))
			return r;
		ccp_pull_emit(o, CCP_PROGRESS_LAYER_START, k, rv->man.n_layers, src.digest, 0, src.size, 0);
		job.root_fd = rootfs_fd;
		r = ccp_layer_apply(&job, e);
		ccp_layer_crypt_wipe(&src.crypt);
		if (r)
			return r;
		lr[k].reused = 0;
		ccp_pull_emit(o, CCP_PROGRESS_LAYER_DONE, k, rv->man.n_layers, src.digest, src.size, src.size, 0);
	}
	return 0;
}

/* Copies the merged view of the store layers for chain[0..n-1] into rootfs_fd. */
int ccp_pull_assemble_copy(ccp_store *store, const ccp_digest *chain, size_t n, int rootfs_fd, const ccp_cancel *cancel,
			 ccp_err *e)
{
	const char **lowers = NULL;
	ccp_staging st;
	int src = -1, *layer_fds = NULL, r;

	if ((r = ccp_store_lowers(store, chain, n, &lowers, e)))
		return r;
	if (n == 1) {
		if ((src = open(lowers[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			r = ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot open layer `%s`", lowers[0]);
		else
			r = ccp_tree_copy(src, rootfs_fd, 1, cancel, e);
		if (src >= 0)
			close(src);
		free(lowers);
		return r;
	}
	if ((r = ccp_stage_begin(store, &st, e))) {
		free(lowers);
		return r;
	}
	/* the layers themselves, so that file data is copied within the store's filesystem */
	if (!(layer_fds = malloc(n * sizeof(*layer_fds))))
		r = ccp_err_oom(e);
	for (size_t i = 0; r == 0 && i < n; i++)
		layer_fds[i] = -1;
	for (size_t i = 0; r == 0 && i < n; i++)
		if ((layer_fds[i] = open(lowers[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			r = ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot open layer `%s`", lowers[i]);
	if (r == 0 && (r = ccp_overlay_mount(st.merged, lowers, n, NULL, NULL, e)) == 0) {
		st.mounted = 1;
		if ((src = open(st.merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			r = ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot open `%s`", st.merged);
		} else {
			r = ccp_tree_copy_layers(src, layer_fds, n, rootfs_fd, 1, cancel, e);
			close(src);
		}
	}
	for (size_t i = 0; layer_fds && i < n; i++)
		if (layer_fds[i] >= 0)
			close(layer_fds[i]);
	free(layer_fds);
	ccp_stage_abort(&st);
	free(lowers);
	return r;
}

/* Layer indexes, the first n_sorted by blob size, largest first (it takes longest to apply); n <= 256. */
void ccp_pull_larger_first(size_t *order, const ccp_descriptor *layers, size_t n, size_t n_sorted)
{
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = 1; i < n_sorted; i++) {
		size_t x = order[i], j = i;
		for (; j > 0 && layers[order[j - 1]].size < layers[x].size; j--)
			order[j] = order[j - 1];
		order[j] = x;
	}
}

/* Makes (or reuses) every layer of the image in the store, then records the image. */
int ccp_pull_make_layers(ccp_store *store, const resolved_image *rv, const ccp_digest *chain, const ccp_pull_options *o,
		       ccp_pull_result *res, ccp_err *e)
{
	layers_run lr = { store, rv, chain, o, res, NULL, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0,
			  IMAGE_UNCOMPRESSED_MAX };
	size_t n = rv->man.n_layers, width = ccp_pull_parallel_layers(o), prepared = 0, launched = 0, committed = 0;
	size_t *order = NULL;
	char *meta;
	int r = 0;

	if (!(lr.t = calloc(n ? n : 1, sizeof(*lr.t))) || !(order = malloc((n ? n : 1) * sizeof(*order)))) {
		free(lr.t);
		return ccp_err_oom(e);
	}
	/* One at a time they go in layer order, each committed before the next one starts. */
	ccp_pull_larger_first(order, rv->man.layers, n, width > 1 ? n : 0);

	/*
	 * Largest first, at most width at a time; committed in layer order as soon as each one and all
	 * below it are done.
	 */
	pthread_mutex_lock(&lr.mu);
	while (r == 0 && committed < n) {
		layer_task *t;
		while (launched < n && lr.running < width) {
			size_t j = order[launched++];
			pthread_mutex_unlock(&lr.mu);
			while (r == 0 && prepared <= j)
				r = task_prepare(&lr, prepared++, e);
			if (r == 0 && lr.t[j].needed) {
				lr.t[j].background = width > 1 && j != order[0];
				r = task_launch(&lr, j, e);
			}
			pthread_mutex_lock(&lr.mu);
			if (r)
				break;
		}
		if (r)
			break;
		t = &lr.t[committed];
		if (committed < prepared && (!t->needed || t->done)) {
			pthread_mutex_unlock(&lr.mu);
			r = task_finish(&lr, committed++, 0, e);
			pthread_mutex_lock(&lr.mu);
			continue;
		}
		pthread_cond_wait(&lr.cv, &lr.mu);
	}
	pthread_mutex_unlock(&lr.mu);
	/* After a failure the layers above it are only waited for and discarded. */
	for (; committed < prepared; committed++)
		task_finish(&lr, committed, 1, e);
	free(order);
	free(lr.t);
	pthread_mutex_destroy(&lr.mu);
	pthread_cond_destroy(&lr.cv);
	if (r)
		return r;
	if (!(meta = ccp_store_image_record(rv->image, &rv->man_digest, &rv->man.config.digest, chain, rv->man.n_layers)))
		return ccp_err_oom(e);
	r = ccp_store_put_image(store, &rv->man_digest, meta, e);
	free(meta);
	return r;
}
