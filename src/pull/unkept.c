/*
 * A pull that does not keep its layers (CCP_STORE_KEEP_NONE, --keep-layers=false): the image's data
 * is written once, into the bundle. The bottom layers the store holds for this pull are copied from
 * it; the others are fetched and applied side by side, as for the store (largest first, at most
 * ccp_pull_parallel_layers at once), each into a directory of its own beside the rootfs in direct
 * mode. In layer order each is then finished against the rootfs, which holds everything below it,
 * and moved into it by renames (ccp_unpack_direct_merge); one whose direct result could differ (a
 * path through a symlink below, a hardlink to a file below) is applied again straight into the
 * rootfs. When the store holds none of them, the bottom layer is applied straight into the rootfs.
 */
#include "pull/layers.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unpack/unpack.h"
#include "util/fs.h"

typedef struct unkept_run unkept_run;

typedef struct unkept_task {
	unkept_run *ur;
	ccp_layer_job job;
	blob_source src;
	ccp_layer_crypt key;   /* a copy of an encrypted layer's key, for a second application */
	progress_ctx pc;
	char name[512];
	ccp_unpack_direct direct;
	char dir[32];          /* its directory in the bundle; "": applied straight into the rootfs */
	int dir_fd;
	int prepared, started, done, rc, background;
	pthread_t th;
	ccp_err err;
} unkept_task;

struct unkept_run {
	const resolved_image *rv;
	const ccp_pull_options *o;
	int bundle_fd, rootfs_fd;
	size_t first;              /* the first layer not taken from the store */
	unkept_task *t;            /* t[k - first] */
	pthread_mutex_t mu;        /* guards running and each task's done */
	pthread_cond_t cv;         /* a layer thread has finished */
	size_t running;
	_Atomic uint64_t image_left;
};

/*
 * Whether the store holds layer k for this pull: the same test as a pull that keeps layers makes
 * (an encrypted layer's key is unwrapped for it; a layer not yet proven for this blob is not used).
 */
static int layer_reusable(ccp_store *store, const resolved_image *rv, const ccp_digest *chain, size_t k,
			  const ccp_pull_options *o, int *reusable, ccp_err *e)
{
	_Atomic uint64_t unused = 0;
	ccp_layer_job job;
	blob_source src;
	progress_ctx pc = { o, k, rv->man.n_layers, NULL };
	ccp_layer_source ls;
	char name[512];
	int r;

	*reusable = 0;
	if (!ccp_store_has_layer(store, &chain[k]))
		return 0;
	if ((r = ccp_pull_layer_job(&job, rv, k, &src, &pc, &unused, name, sizeof(name), e)))
		return r;
	if ((r = ccp_pull_layer_source(&ls, rv, k, job.decrypt, e)) == 0)
		*reusable = ccp_store_layer_state(store, &chain[k], &ls) == CCP_LAYER_REUSABLE;
	ccp_layer_crypt_wipe(&src.crypt);
	return r;
}

static void *unkept_thread(void *arg)
{
	unkept_task *t = arg;
	unkept_run *ur = t->ur;

	if (t->background)
		ccp_pull_yield_to_largest();
	t->rc = ccp_layer_apply(&t->job, &t->err);
	pthread_mutex_lock(&ur->mu);
	t->done = 1;
	ur->running--;
	pthread_cond_signal(&ur->cv);
	pthread_mutex_unlock(&ur->mu);
	return NULL;
}

/* Starts layer k on its own thread: into the rootfs itself (straight), or into a new directory. */
static int task_start(unkept_run *ur, size_t k, int straight, int background, ccp_err *e)
{
	unkept_task *t = &ur->t[k - ur->first];
	char id[17];
	int r;

	t->ur = ur;
	t->dir_fd = -1;
	t->pc = (progress_ctx){ ur->o, k, ur->rv->man.n_layers, NULL };
	t->prepared = 1;
	if ((r = ccp_pull_layer_job(&t->job, ur->rv, k, &t->src, &t->pc, &ur->image_left, t->name, sizeof(t->name),
				    e)))
		return r;
	if (straight) {
		t->job.root_fd = ur->rootfs_fd;
	} else {
		if ((r = ccp_random_id(id, 8, e)))
			return r;
		snprintf(t->dir, sizeof(t->dir), ".layer-%s", id);
		if (mkdirat(ur->bundle_fd, t->dir, 0755) < 0 ||
		    (t->dir_fd = openat(ur->bundle_fd, t->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			return ccp_err_errno(e, CCP_ESTORAGE, errno, "%s: cannot make a directory for it", t->name);
		t->job.root_fd = t->dir_fd;
		t->job.unpack.direct = &t->direct;
	}
	if (t->job.decrypt)
		t->key = t->src.crypt; /* ccp_layer_apply wipes the one it is given */
	t->background = background;
	ccp_pull_emit(ur->o, CCP_PROGRESS_LAYER_START, k, ur->rv->man.n_layers, t->src.digest, 0, t->src.size, 0);
	pthread_mutex_lock(&ur->mu);
	if (pthread_create(&t->th, NULL, unkept_thread, t) == 0) {
		t->started = 1;
		ur->running++;
	}
	pthread_mutex_unlock(&ur->mu);
	return t->started ? 0 : ccp_err_set(e, CCP_EINTERNAL, "%s: cannot start a thread", t->name);
}

/* Applies layer k again, straight into the rootfs: its direct result could differ from that. */
static int task_redo(unkept_run *ur, unkept_task *t, ccp_err *e)
{
	/* What the first application took from the budget, this one takes again. */
	atomic_fetch_add(&ur->image_left, t->src.uncompressed);
	t->src.crypt = t->key;
	t->job.unpack.direct = NULL;
	t->job.root_fd = ur->rootfs_fd;
	return ccp_layer_apply(&t->job, e);
}

/* Waits for layer k and, unless an earlier one failed (abandon), moves it into the rootfs. */
static int task_finish(unkept_run *ur, size_t k, int abandon, ccp_err *e)
{
	unkept_task *t = &ur->t[k - ur->first];
	int r = 0, redo = 0;

	if (!t->prepared)
		return 0; /* never started: a failure came first */
	if (t->started) {
		pthread_join(t->th, NULL);
		t->started = 0;
		r = t->rc;
		if (r == CCP_ELAYER && t->direct.needs_lowers) {
			r = 0; /* the layer refers to what is below it: applied again over it */
			redo = 1;
		} else if (r && !abandon) {
			*e = t->err;
		}
		if (r == 0 && !abandon && !redo && t->dir_fd >= 0 &&
		    (r = ccp_unpack_direct_finish(t->dir_fd, &ur->rootfs_fd, 1, &t->direct, &redo, e)))
			ccp_err_wrap(e, "%s", t->name);
		if (r == 0 && !abandon && redo)
			r = task_redo(ur, t, e);
		else if (r == 0 && !abandon && t->dir_fd >= 0 &&
			 (r = ccp_unpack_direct_merge(t->dir_fd, ur->rootfs_fd, &t->direct, ur->rv->cancel, e)))
			ccp_err_wrap(e, "%s", t->name);
	}
	if (t->dir_fd >= 0)
		close(t->dir_fd);
	if (t->dir[0])
		ccp_rm_rf_at(ur->bundle_fd, t->dir); /* what the merge left: whiteouts, emptied directories */
	t->dir_fd = -1;
	t->dir[0] = '\0';
	ccp_layer_crypt_wipe(&t->src.crypt);
	ccp_layer_crypt_wipe(&t->key);
	ccp_unpack_direct_free(&t->direct);
	if (r == 0 && !abandon)
		ccp_pull_emit(ur->o, CCP_PROGRESS_LAYER_DONE, k, ur->rv->man.n_layers, t->src.digest, t->src.size,
			      t->src.size, 0);
	return abandon ? 0 : r;
}

/* Layers first..n-1: side by side, largest first, each moved into the rootfs in layer order. */
static int apply_fresh(unkept_run *ur, ccp_store *store, const ccp_digest *chain, ccp_err *e)
{
	size_t n = ur->rv->man.n_layers, fresh = n - ur->first, width = ccp_pull_parallel_layers(ur->o);
	size_t launched = 0, finished = 0, *order;
	int r = 0, copied = ur->first == 0;

	if (!(order = malloc(fresh * sizeof(*order))))
		return ccp_err_oom(e);
	ccp_pull_larger_first(order, ur->rv->man.layers + ur->first, fresh, width > 1 ? fresh : 0);
	pthread_mutex_lock(&ur->mu);
	while (r == 0 && finished < fresh) {
		while (launched < fresh && ur->running < width) {
			size_t j = order[launched++];
			pthread_mutex_unlock(&ur->mu);
			/* with nothing from the store, the bottom layer goes straight into the rootfs */
			r = task_start(ur, ur->first + j, ur->first == 0 && j == 0, width > 1 && launched > 1, e);
			pthread_mutex_lock(&ur->mu);
			if (r)
				break;
		}
		if (r)
			break;
		if (!copied) {
			/* the store's layers, while the first fresh ones are fetched */
			pthread_mutex_unlock(&ur->mu);
			ccp_pull_emit(ur->o, CCP_PROGRESS_ROOTFS, n, n, NULL, 0, 0, 0);
			r = ccp_pull_assemble_copy(store, chain, ur->first, ur->rootfs_fd, ur->rv->cancel, e);
			copied = 1;
			pthread_mutex_lock(&ur->mu);
			continue;
		}
		if (ur->t[finished].prepared && ur->t[finished].done) {
			pthread_mutex_unlock(&ur->mu);
			r = task_finish(ur, ur->first + finished++, 0, e);
			pthread_mutex_lock(&ur->mu);
			continue;
		}
		pthread_cond_wait(&ur->cv, &ur->mu);
	}
	pthread_mutex_unlock(&ur->mu);
	/* After a failure the others are only waited for and their directories removed. */
	for (; finished < fresh; finished++)
		task_finish(ur, ur->first + finished, 1, e);
	free(order);
	return r;
}

int ccp_pull_copy_unkept(ccp_store *store, const resolved_image *rv, const ccp_digest *chain,
			 const ccp_pull_options *o, ccp_pull_result *res, int bundle_fd, int rootfs_fd, ccp_err *e)
{
	unkept_run ur = { rv, o, bundle_fd, rootfs_fd, 0, NULL, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
			  0, IMAGE_UNCOMPRESSED_MAX };
	size_t n = rv->man.n_layers;
	int reusable = 1, r = 0;

	/* the store's gc waits for this pull's shared hold on it: what is found here stays */
	while (ur.first < n && (r = layer_reusable(store, rv, chain, ur.first, o, &reusable, e)) == 0 && reusable) {
		const ccp_descriptor *d = &rv->man.layers[ur.first];
		char digest[CCP_DIGEST_STR_MAX];
		res->layers[ur.first].reused = 1;
		ccp_pull_emit(o, CCP_PROGRESS_LAYER_DONE, ur.first, n, ccp_digest_str(&d->digest, digest), d->size,
			      d->size, 1);
		ur.first++;
	}
	if (r)
		return r;
	if (ur.first == n) {
		if (n)
			ccp_pull_emit(o, CCP_PROGRESS_ROOTFS, n, n, NULL, 0, 0, 0);
		return n ? ccp_pull_assemble_copy(store, chain, n, rootfs_fd, rv->cancel, e) : 0;
	}
	if (!(ur.t = calloc(n - ur.first, sizeof(*ur.t))))
		return ccp_err_oom(e);
	r = apply_fresh(&ur, store, chain, e);
	free(ur.t);
	pthread_mutex_destroy(&ur.mu);
	pthread_cond_destroy(&ur.cv);
	return r;
}
