/*
 * The layer store (store.h): opening and its layout, the store lock shared with gc, layers' metadata
 * and origin (who may reuse a layer), the per-layer locks (waits that a cancel stops), staging and
 * the commit by rename, and the blobs of verified configs. Image and mount records are records.c's.
 */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"

/* Bytes of one layer metadata file; encrypted blobs it remembers (the oldest is forgotten first). */
#define LAYER_META_MAX (64u << 10)
#define ORIGIN_BLOBS_MAX 32

struct ccp_store {
	char *dir;
	int fd;
	int gc_lock_fd;  /* STORE/gc.lock: shared by pulls, exclusive for gc */
	size_t stale_n;        /* staging leftovers removed at open (counted for gc only) */
	uint64_t stale_bytes;
	int durable;     /* commits sync the filesystem and records are fsynced (ccp_store_set_sync) */
};

/* A store on a filesystem that lives in memory cannot outlive the machine: syncing buys nothing. */
static int store_in_memory(int fd)
{
	struct statfs sf;

	return fstatfs(fd, &sf) == 0 && (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC);
}

void ccp_store_set_sync(ccp_store *s, int mode)
{
	if (mode == CCP_STORE_DURABLE_OFF)
		s->durable = 0;
	else if (mode == CCP_STORE_DURABLE_ON)
		s->durable = 1;
	else
		s->durable = !store_in_memory(s->fd);
}

int ccp_store_durable(const ccp_store *s)
{
	return s->durable;
}

int ccp_store_write(ccp_store *s, const char *name, const void *data, size_t len, ccp_err *e)
{
	return ccp_write_file_at_sync(s->fd, name, data, len, 0644, s->durable, e);
}

static int ensure_layout(ccp_store *s, ccp_err *e)
{
	char buf[32];
	int fd = openat(s->fd, "layout-version", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		if (errno != ENOENT)
			return ccp_err_errno(e, CCP_ESTORAGE, errno, "store `%s`: cannot read layout-version", s->dir);
		snprintf(buf, sizeof(buf), "%d\n", CCP_STORE_LAYOUT_VERSION);
		return ccp_write_file_at(s->fd, "layout-version", buf, strlen(buf), 0644, e);
	}
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "store `%s`: cannot read layout-version", s->dir);
	buf[n] = '\0';
	if (strtol(buf, NULL, 10) != CCP_STORE_LAYOUT_VERSION)
		return ccp_err_set(e, CCP_ESTORAGE, "store `%s` has layout version %.8s; this ccpull uses %d",
				   s->dir, buf, CCP_STORE_LAYOUT_VERSION);
	return 0;
}

/* Removes staging entries whose owner is gone (their lock file is free); count: measure them first. */
static void clean_stale_staging(ccp_store *s, int count)
{
	int sfd = openat(s->fd, "staging", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	if (sfd < 0)
		return;
	if (!(d = fdopendir(sfd))) {
		close(sfd);
		return;
	}
	while ((de = readdir(d))) {
		char lockname[300], mnt[PATH_MAX];
		int lfd;
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || (len > 5 && strcmp(de->d_name + len - 5, ".lock") == 0))
			continue;
		snprintf(lockname, sizeof(lockname), "%s.lock", de->d_name);
		lfd = openat(dirfd(d), lockname, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) < 0) {
			close(lfd);
			continue; /* a live pull owns it */
		}
		snprintf(mnt, sizeof(mnt), "%s/staging/%s/merged", s->dir, de->d_name);
		umount2(mnt, MNT_DETACH);
		if (count) {
			s->stale_n++;
			s->stale_bytes += ccp_store_disk_usage_at(dirfd(d), de->d_name);
		}
		ccp_rm_rf_at(dirfd(d), de->d_name);
		unlinkat(dirfd(d), lockname, 0);
		if (lfd >= 0)
			close(lfd);
	}
	closedir(d);
}

/*
 * Every user of the store holds STORE/gc.lock shared; gc holds it exclusively, so it never sees a
 * layer made by a pull that has not yet written the image or mount record that keeps it.
 */
static int lock_store(ccp_store *s, int exclusive, ccp_err *e)
{
	s->gc_lock_fd = openat(s->fd, "gc.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (s->gc_lock_fd < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "store `%s`: cannot open gc.lock", s->dir);
	while (flock(s->gc_lock_fd, exclusive ? LOCK_EX : LOCK_SH) < 0)
		if (errno != EINTR)
			return ccp_err_errno(e, CCP_ESTORAGE, errno, "store `%s`: cannot lock gc.lock", s->dir);
	return 0;
}

static int store_open(ccp_store **out, const char *dir, int exclusive, ccp_err *e)
{
	static const char *const subdirs[] = { "layers", "images", "staging", "blobs", "mounts" };
	ccp_store *s;
	int r;

	*out = NULL;
	if (dir[0] != '/')
		return ccp_err_set(e, CCP_EINVALID, "store path `%s` must be absolute", dir);
	if ((r = ccp_mkdirs(dir, 0700, e)) != 0)
		return r;
	if (!(s = calloc(1, sizeof(*s))) || !(s->dir = strdup(dir))) {
		free(s);
		return ccp_err_oom(e);
	}
	s->gc_lock_fd = -1;
	s->fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->fd < 0) {
		r = ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot open store `%s`", dir);
		goto fail;
	}
	if ((r = ensure_layout(s, e)) != 0)
		goto fail;
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if (mkdirat(s->fd, subdirs[i], 0700) < 0 && errno != EEXIST) {
			r = ccp_err_errno(e, CCP_ESTORAGE, errno, "store `%s`: cannot create %s/", dir, subdirs[i]);
			goto fail;
		}
	}
	if ((r = lock_store(s, exclusive, e)) != 0)
		goto fail;
	ccp_store_set_sync(s, CCP_STORE_DURABLE_AUTO);
	clean_stale_staging(s, exclusive);
	*out = s;
	return 0;
fail:
	ccp_store_close(s);
	return r;
}

int ccp_store_open_readonly(ccp_store **out, const char *dir, ccp_err *e)
{
	ccp_store *s;
	int r;

	*out = NULL;
	if (dir[0] != '/')
		return ccp_err_set(e, CCP_EINVALID, "store path `%s` must be absolute", dir);
	if (!(s = calloc(1, sizeof(*s))) || !(s->dir = strdup(dir))) {
		free(s);
		return ccp_err_oom(e);
	}
	s->gc_lock_fd = -1;
	if ((s->fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = errno == ENOENT ? 0 : ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot open store `%s`", dir);
		goto fail;
	}
	/* A store being made has no gc.lock yet: nothing to wait for. */
	s->gc_lock_fd = openat(s->fd, "gc.lock", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (s->gc_lock_fd < 0 && errno != ENOENT) {
		r = ccp_err_errno(e, CCP_ESTORAGE, errno, "store `%s`: cannot open gc.lock", dir);
		goto fail;
	}
	while (s->gc_lock_fd >= 0 && flock(s->gc_lock_fd, LOCK_SH) < 0)
		if (errno != EINTR) {
			r = ccp_err_errno(e, CCP_ESTORAGE, errno, "store `%s`: cannot lock gc.lock", dir);
			goto fail;
		}
	*out = s;
	return 0;
fail:
	ccp_store_close(s);
	return r;
}

int ccp_store_open(ccp_store **out, const char *dir, ccp_err *e)
{
	return store_open(out, dir, 0, e);
}

int ccp_store_open_exclusive(ccp_store **out, const char *dir, ccp_err *e)
{
	return store_open(out, dir, 1, e);
}

void ccp_store_stale_staging(const ccp_store *s, size_t *n, uint64_t *bytes)
{
	*n = s->stale_n;
	*bytes = s->stale_bytes;
}

int ccp_store_fd(const ccp_store *s)
{
	return s->fd;
}

void ccp_store_close(ccp_store *s)
{
	if (!s)
		return;
	if (s->gc_lock_fd >= 0)
		close(s->gc_lock_fd);
	if (s->fd >= 0)
		close(s->fd);
	free(s->dir);
	free(s);
}

const char *ccp_store_dir(const ccp_store *s)
{
	return s->dir;
}

int ccp_store_layer_path(const ccp_store *s, const ccp_digest *chain, char *out, size_t n, ccp_err *e)
{
	if ((size_t)snprintf(out, n, "%s/layers/%s", s->dir, chain->hex) >= n)
		return ccp_err_set(e, CCP_EINVALID, "store path `%s` is too long", s->dir);
	return 0;
}

int ccp_store_lowers(const ccp_store *s, const ccp_digest *chain, size_t n, const char ***out, ccp_err *e)
{
	size_t each = strlen(s->dir) + sizeof("/layers/") + sizeof(chain->hex);
	const char **v;
	char *p;

	*out = NULL;
	if (!(v = malloc((n ? n : 1) * (sizeof(*v) + each))))
		return ccp_err_oom(e);
	p = (char *)(v + n);
	for (size_t i = 0; i < n; i++, p += each) {
		snprintf(p, each, "%s/layers/%s", s->dir, chain[n - 1 - i].hex);
		v[i] = p;
	}
	*out = v;
	return 0;
}

int ccp_store_has_layer(const ccp_store *s, const ccp_digest *chain)
{
	char name[200];
	struct stat st;

	snprintf(name, sizeof(name), "layers/%s", chain->hex);
	return fstatat(s->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* The metadata of the committed layer for chain; NULL when missing, unreadable or not an object. */
static json_t *read_layer_meta(const ccp_store *s, const ccp_digest *chain)
{
	ccp_buf b = CCP_BUF_INIT(LAYER_META_MAX);
	char name[200], chunk[4096];
	json_t *j = NULL;
	ssize_t n;
	int fd;

	snprintf(name, sizeof(name), "layers/%s.json", chain->hex);
	if ((fd = openat(s->fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return NULL;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || ccp_buf_append(&b, chunk, (size_t)n))
			break;
	}
	close(fd);
	if (n == 0 && ccp_json_parse(&j, b.data, b.len, LAYER_META_MAX, name, CCP_ESTORAGE, NULL) == 0 &&
	    !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	ccp_buf_free(&b);
	return j;
}

/* Whether meta's encrypted_blobs lists src's blob with src's key. */
static int has_encrypted_blob(const json_t *meta, const ccp_layer_source *src)
{
	char d[CCP_DIGEST_STR_MAX], k[CCP_DIGEST_STR_MAX];
	const json_t *a = json_object_get(meta, "encrypted_blobs"), *v;
	const char *vd, *vk;
	size_t i;

	if (!src->encrypted || !json_is_array(a))
		return 0;
	ccp_digest_str(&src->blob, d);
	ccp_digest_str(&src->key_id, k);
	json_array_foreach(a, i, v) {
		vd = json_string_value(json_object_get(v, "digest"));
		vk = json_string_value(json_object_get(v, "key_id"));
		if (vd && vk && strcmp(vd, d) == 0 && strcmp(vk, k) == 0)
			return 1;
	}
	return 0;
}

/* "plain", "encrypted", or NULL: no origin this ccpull knows. */
static const char *meta_origin(const json_t *meta)
{
	const char *o = meta ? json_string_value(json_object_get(meta, "origin")) : NULL;

	return o && (strcmp(o, "plain") == 0 || strcmp(o, "encrypted") == 0) ? o : NULL;
}

int ccp_store_layer_state(const ccp_store *s, const ccp_digest *chain, const ccp_layer_source *src)
{
	json_t *meta;
	const char *origin;
	int state = CCP_LAYER_UNPROVEN;

	if (!ccp_store_has_layer(s, chain))
		return CCP_LAYER_ABSENT;
	meta = read_layer_meta(s, chain);
	origin = meta_origin(meta); /* unknown (older metadata): not public */
	if (origin && (strcmp(origin, "plain") == 0 || has_encrypted_blob(meta, src)))
		state = CCP_LAYER_REUSABLE;
	json_decref(meta);
	return state;
}

static json_t *encrypted_blob(const ccp_layer_source *src)
{
	char d[CCP_DIGEST_STR_MAX], k[CCP_DIGEST_STR_MAX];

	return json_pack("{s:s, s:s}", "digest", ccp_digest_str(&src->blob, d), "key_id",
			 ccp_digest_str(&src->key_id, k));
}

char *ccp_store_layer_meta(const ccp_digest *chain, const ccp_layer_source *src)
{
	char c[CCP_DIGEST_STR_MAX], d[CCP_DIGEST_STR_MAX], f[CCP_DIGEST_STR_MAX];
	json_t *blobs = json_array(), *j;
	char *text;

	if (!blobs || (src->encrypted && json_array_append_new(blobs, encrypted_blob(src)) != 0)) {
		json_decref(blobs);
		return NULL;
	}
	j = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:o}", "chain_id", ccp_digest_str(chain, c), "diff_id",
		      ccp_digest_str(&src->diff_id, d), "digest", ccp_digest_str(&src->blob, f), "size",
		      (json_int_t)src->size, "media_type", src->media_type ? src->media_type : "", "origin",
		      src->encrypted ? "encrypted" : "plain", "encrypted_blobs", blobs);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return text;
}

/* meta with src added to its origin, as text; NULL when out of memory. *same = 1: nothing to add. */
static char *origin_add(json_t *meta, const ccp_layer_source *src, int *same)
{
	const char *origin = meta_origin(meta);
	json_t *blobs;

	*same = 0;
	if (strcmp(origin, "plain") == 0 || has_encrypted_blob(meta, src)) {
		*same = 1;
		return NULL;
	}
	if (!src->encrypted)
		return json_object_set_new(meta, "origin", json_string("plain")) == 0 ? json_dumps(meta, JSON_COMPACT)
										     : NULL;
	blobs = json_object_get(meta, "encrypted_blobs");
	if (!json_is_array(blobs) && ((blobs = json_array()) == NULL ||
				      json_object_set_new(meta, "encrypted_blobs", blobs) != 0))
		return NULL;
	while (json_array_size(blobs) >= ORIGIN_BLOBS_MAX)
		json_array_remove(blobs, 0);
	if (json_array_append_new(blobs, encrypted_blob(src)) != 0)
		return NULL;
	return json_dumps(meta, JSON_COMPACT);
}

int ccp_store_layer_proven(ccp_store *s, const ccp_digest *chain, const ccp_layer_source *src, ccp_err *e)
{
	char name[200], *text;
	json_t *meta = read_layer_meta(s, chain);
	int same = 0, r;

	/* Without a usable record of how it was made: from now on, how this pull made it. */
	text = meta_origin(meta) ? origin_add(meta, src, &same) : ccp_store_layer_meta(chain, src);
	json_decref(meta);
	if (same)
		return 0;
	if (!text)
		return ccp_err_oom(e);
	snprintf(name, sizeof(name), "layers/%s.json", chain->hex);
	r = ccp_store_write(s, name, text, strlen(text), e);
	free(text);
	return r;
}

/*
 * A cancellable wait for a layer lock. flock() cannot be given a time limit, and only a signal
 * interrupts it (the library installs no handler): a thread of its own blocks in flock() (so the
 * wait shows in /proc/locks as any other), while the pull's thread waits for it a slice at a time,
 * checking its cancellation. A waiter that gives up leaves the thread to drop the lock once it gets
 * it (or fails); whichever of the two lets go last frees the wait.
 */
#define LOCK_POLL_MS 50

typedef struct lock_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;      /* CLOCK_MONOTONIC */
	int fd;
	int state;              /* 0 waiting, 1 locked, else the errno of a failed flock */
	int abandoned;          /* the pull gave up: the thread closes fd */
	int refs;
} lock_wait;

/* Drops one reference; called with w->mu held, releases it. */
static void lock_wait_put(lock_wait *w)
{
	int last = --w->refs == 0;

	pthread_mutex_unlock(&w->mu);
	if (last) {
		if (w->abandoned || w->state != 1)
			close(w->fd);
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w);
	}
}

static void *lock_waiter(void *arg)
{
	lock_wait *w = arg;
	int rc, err = 0;

	while ((rc = flock(w->fd, LOCK_EX)) < 0 && errno == EINTR)
		;
	if (rc < 0)
		err = errno ? errno : EIO;
	pthread_mutex_lock(&w->mu);
	w->state = rc == 0 ? 1 : err;
	pthread_cond_signal(&w->cv);
	lock_wait_put(w);
	return NULL;
}

/* Waits for LOCK_EX on fd (taking it over: closed on failure) until cancel says stop. */
static int lock_cancellable(int fd, const ccp_cancel *cancel, const char *what, ccp_err *e)
{
	pthread_condattr_t ca;
	pthread_attr_t ta;
	pthread_t th;
	lock_wait *w;
	int r = 0, started;

	if (!(w = calloc(1, sizeof(*w)))) {
		close(fd);
		return ccp_err_oom(e);
	}
	w->fd = fd;
	w->refs = 2;
	if (pthread_mutex_init(&w->mu, NULL) != 0 || pthread_condattr_init(&ca) != 0) {
		free(w);
		close(fd);
		return ccp_err_set(e, CCP_EINTERNAL, "%s: cannot set up the wait", what);
	}
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	r = pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (r != 0) {
		pthread_mutex_destroy(&w->mu);
		free(w);
		close(fd);
		return ccp_err_set(e, CCP_EINTERNAL, "%s: cannot set up the wait", what);
	}
	started = pthread_attr_init(&ta) == 0;
	if (started) {
		pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
		started = pthread_create(&th, &ta, lock_waiter, w) == 0;
		pthread_attr_destroy(&ta);
	}
	pthread_mutex_lock(&w->mu);
	if (!started) {
		w->refs--;
		w->state = EAGAIN;
	}
	while (w->state == 0) {
		struct timespec until;
		if ((r = ccp_cancel_check(cancel, what, e)) != 0) {
			w->abandoned = 1;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += LOCK_POLL_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->cv, &w->mu, &until);
	}
	if (!w->abandoned && w->state != 1)
		r = ccp_err_errno(e, CCP_ESTORAGE, w->state, "%s", what);
	lock_wait_put(w); /* on success fd stays open, locked: the caller's */
	return r;
}

int ccp_store_lock_layer(ccp_store *s, const ccp_digest *chain, const ccp_cancel *cancel, int *lock_fd, ccp_err *e)
{
	char name[200], what[160];
	int fd, r;

	snprintf(name, sizeof(name), "layers/%s.lock", chain->hex);
	fd = openat(s->fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "store: cannot create lock for layer %s", chain->hex);
	/* free: taken at once; held by another pull: waited for, as long as cancel allows */
	while (flock(fd, cancel ? LOCK_EX | LOCK_NB : LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			int err = errno;
			close(fd);
			return ccp_err_errno(e, CCP_ESTORAGE, err, "store: cannot lock layer %s", chain->hex);
		}
		snprintf(what, sizeof(what), "waiting for another pull's lock on layer %.19s", chain->hex);
		if ((r = lock_cancellable(fd, cancel, what, e)) != 0)
			return r;
		break;
	}
	*lock_fd = fd;
	return 0;
}

void ccp_store_unlock(int lock_fd)
{
	if (lock_fd >= 0)
		close(lock_fd); /* closing drops the flock */
}

int ccp_stage_begin(ccp_store *s, ccp_staging *st, ccp_err *e)
{
	char id[33], lockname[64];
	int r;

	memset(st, 0, sizeof(*st));
	st->lock_fd = -1;
	if ((r = ccp_random_id(id, 16, e)) != 0)
		return r;
	snprintf(lockname, sizeof(lockname), "staging/%s.lock", id);
	st->lock_fd = openat(s->fd, lockname, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (st->lock_fd < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "store `%s`: cannot create staging lock", s->dir);
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		r = ccp_err_errno(e, CCP_ESTORAGE, errno, "store `%s`: cannot lock staging", s->dir);
		goto fail;
	}
	if ((size_t)snprintf(st->dir, sizeof(st->dir), "%s/staging/%s", s->dir, id) >= sizeof(st->dir) ||
	    (size_t)snprintf(st->upper, sizeof(st->upper), "%s/upper", st->dir) >= sizeof(st->upper) ||
	    (size_t)snprintf(st->work, sizeof(st->work), "%s/work", st->dir) >= sizeof(st->work) ||
	    (size_t)snprintf(st->merged, sizeof(st->merged), "%s/merged", st->dir) >= sizeof(st->merged)) {
		r = ccp_err_set(e, CCP_EINVALID, "store path `%s` is too long", s->dir);
		goto fail;
	}
	if (mkdir(st->dir, 0700) < 0 || mkdir(st->upper, 0755) < 0 || mkdir(st->work, 0700) < 0 ||
	    mkdir(st->merged, 0755) < 0) {
		r = ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot create staging directory `%s`", st->dir);
		goto fail;
	}
	return 0;
fail:
	ccp_stage_abort(st);
	return r;
}

int ccp_stage_open_root(ccp_staging *st, const char *const *lowers, size_t n_lowers, int *root_fd, ccp_err *e)
{
	const char *root = st->upper;
	int r, fd;

	if (n_lowers > 0) {
		if ((r = ccp_overlay_mount(st->merged, lowers, n_lowers, st->upper, st->work, e)) != 0)
			return r;
		st->mounted = 1;
		root = st->merged;
	}
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot open `%s`", root);
	*root_fd = fd;
	return 0;
}

static void stage_unmount(ccp_staging *st)
{
	if (st->mounted) {
		if (umount2(st->merged, 0) < 0)
			umount2(st->merged, MNT_DETACH);
		st->mounted = 0;
	}
}

int ccp_stage_commit(ccp_store *s, ccp_staging *st, const ccp_digest *chain, const char *meta_json, ccp_err *e)
{
	char name[200], meta[200];
	int r;

	stage_unmount(st);
	/*
	 * Every file of the layer was written (and closed) before this point, so the rename below is
	 * ordered after them: a pull that dies leaves either no layer or a whole one. Durable stores
	 * also wait for the layer's files to reach the disk before the rename makes them visible.
	 */
	if (s->durable && syncfs(s->fd) < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "store `%s`: cannot sync", s->dir);
	/* Metadata first: a layer dir is only ever visible with its metadata beside it. */
	snprintf(meta, sizeof(meta), "layers/%s.json", chain->hex);
	if ((r = ccp_store_write(s, meta, meta_json, strlen(meta_json), e)) != 0)
		return r;
	snprintf(name, sizeof(name), "layers/%s", chain->hex);
	if (renameat(AT_FDCWD, st->upper, s->fd, name) < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "store `%s`: cannot commit layer %s", s->dir, chain->hex);
	return 0;
}

void ccp_stage_abort(ccp_staging *st)
{
	stage_unmount(st);
	if (st->dir[0]) {
		char *slash = strrchr(st->dir, '/');
		if (slash) {
			*slash = '\0';
			int pfd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			*slash = '/';
			if (pfd >= 0) {
				char lockname[300];
				ccp_rm_rf_at(pfd, slash + 1);
				snprintf(lockname, sizeof(lockname), "%s.lock", slash + 1);
				unlinkat(pfd, lockname, 0);
				close(pfd);
			}
		}
		st->dir[0] = '\0';
	}
	if (st->lock_fd >= 0) {
		close(st->lock_fd);
		st->lock_fd = -1;
	}
}

int ccp_store_lock_images(const ccp_store *s, ccp_err *e)
{
	int fd = openat(s->fd, "images", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "store `%s`: cannot open images/", s->dir), -1;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			ccp_err_errno(e, CCP_ESTORAGE, errno, "store `%s`: cannot lock images/", s->dir);
			close(fd);
			return -1;
		}
	return fd;
}

int ccp_store_put_image(ccp_store *s, const ccp_digest *manifest, const char *json, ccp_err *e)
{
	char name[200], *text = NULL;
	json_t *rec = NULL, *old = NULL, *names;
	const char *image;
	int lock, r;

	snprintf(name, sizeof(name), "images/%s.json", manifest->hex);
	if ((lock = ccp_store_lock_images(s, e)) < 0)
		return CCP_ESTORAGE;
	/* The record keeps every name the image was pulled as: a pull under a new name adds it. */
	if ((r = ccp_json_parse(&rec, json, strlen(json), CCP_STORE_RECORD_MAX, "image record", CCP_EINTERNAL, e)))
		goto out;
	image = json_string_value(json_object_get(rec, "image"));
	old = ccp_store_read_record(s->fd, name);
	if (!image || !(names = ccp_store_record_names(old))) {
		r = image ? ccp_err_oom(e) : ccp_err_set(e, CCP_EINTERNAL, "image record without a name");
		goto out;
	}
	if (!ccp_store_names_have(names, image) && json_array_append_new(names, json_string(image)) != 0) {
		json_decref(names);
		r = ccp_err_oom(e);
		goto out;
	}
	if (json_object_set_new(rec, "names", names) != 0 || !(text = json_dumps(rec, JSON_COMPACT))) {
		r = ccp_err_oom(e);
		goto out;
	}
	r = ccp_store_write(s, name, text, strlen(text), e);
out:
	free(text);
	json_decref(rec);
	json_decref(old);
	close(lock);
	return r;
}

int ccp_store_get_blob(ccp_store *s, const ccp_digest *d, size_t max, ccp_buf *out, ccp_err *e)
{
	char path[PATH_MAX];
	ccp_digest got;
	ccp_err ignored = CCP_ERR_INIT;
	struct stat st;
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/blobs/%s-%s", s->dir, ccp_digest_algo_name(d->algo), d->hex) >=
	    sizeof(path) || lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return CCP_EINVALID;
	ccp_buf_clear(out);
	if (ccp_read_file(out, path, max, &ignored) != 0)
		return CCP_EINVALID;
	if ((r = ccp_digest_compute(&got, d->algo, out->data, out->len, e)))
		return r;
	if (!ccp_digest_equal(&got, d)) {
		ccp_buf_clear(out);
		unlink(path); /* corrupted: drop it and fetch again */
		return CCP_EINVALID;
	}
	return 0;
}

int ccp_store_put_blob(ccp_store *s, const ccp_digest *d, const void *data, size_t len, ccp_err *e)
{
	char name[200];

	snprintf(name, sizeof(name), "blobs/%s-%s", ccp_digest_algo_name(d->algo), d->hex);
	return ccp_store_write(s, name, data, len, e);
}
