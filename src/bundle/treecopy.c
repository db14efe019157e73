/*
 * The copy snapshotter's tree copy (bundle.h, docs/internals/README.md "The copy snapshotter"): a
 * rootfs copied from the merged view, each regular file's data taken from the layer that holds it
 * where the inode matches (FICLONE, copy_file_range, pread/pwrite; holes kept), hardlinks kept,
 * metadata and allowed xattrs applied on fds, cancellable per entry and per COPY_CHUNK.
 */
#include "bundle/bundle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/fs.h>

#include "unpack/unpack.h"
#include "util/buf.h"

#define COPY_DEPTH_MAX 512
/* File data copied between two looks at the cancellation. */
#define COPY_CHUNK (8 << 20)
/* Directory fds of the store's layers held open at once while copying their merged view. */
#define LAYER_FDS_MAX 256
/* The store's opaque directory marker (src/unpack: OVL_OPAQUE_XATTR). */
#define OPAQUE_XATTR "trusted.overlay.opaque"
/*
 * Copying file data is the kernel copying pages (tmpfs and ext4 cannot share extents), bound by one
 * CPU per copy: regular files of at least COPY_ASYNC_MIN bytes are copied by up to COPY_WORKERS_MAX
 * threads (one per CPU) while the walk goes on; smaller ones on the walking thread, where a hand-off
 * would cost more than the copy. COPY_QUEUE bounds the files (each with two or three fds open) waiting.
 */
#define COPY_WORKERS_MAX 4
#define COPY_ASYNC_MIN (256 << 10)
#define COPY_QUEUE 32

/*
 * Hardlink groups: the first path copied for each (dev, ino) with more than one link, in an open
 * addressing hash table (linear probing, at most half full), so that a tree of many hardlinks is
 * copied in linear time.
 */
typedef struct link_entry {
	dev_t dev;
	ino_t ino;
	char *path; /* relative to the destination root; NULL: an empty slot */
} link_entry;

typedef struct copy_pool copy_pool;

typedef struct copy_ctx {
	int dst_root;
	int same_owner;
	link_entry *links;
	size_t n_links, cap_links; /* cap_links: 0 or a power of two */
	size_t n_layers;           /* layer dirs under the merged view, top-most first (0: src is a plain tree) */
	size_t layer_fds;          /* of them, directory fds open now (at most LAYER_FDS_MAX) */
	int no_clone;              /* FICLONE failed: this filesystem cannot share extents */
	int no_range;              /* copy_file_range failed: read and write */
	ccp_err *e;
	const ccp_cancel *cancel;
	copy_pool *pool;           /* NULL: every file is copied on the walking thread */
} copy_ctx;

/* One regular file whose data and metadata a worker copies: the fds are the job's to close. */
typedef struct copy_job {
	int sfd, dfd, rfd; /* rfd: the layer's own file, or -1 (copy from sfd) */
	struct stat st;
	char *path;
} copy_job;

struct copy_pool {
	pthread_mutex_t mu;
	pthread_cond_t more, room;
	copy_job q[COPY_QUEUE];
	size_t head, len;
	int closing;             /* no more jobs: workers leave once the queue is empty */
	int failed;              /* a job failed (err holds why): the walk stops, queued jobs are dropped */
	ccp_err err;
	int same_owner;
	const ccp_cancel *cancel;
	pthread_t threads[COPY_WORKERS_MAX];
	size_t n_threads;
};

static size_t link_slot(const link_entry *v, size_t cap, dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev * 0xc2b2ae3d27d4eb4full;
	size_t i = (size_t)(h ^ (h >> 29)) & (cap - 1);

	while (v[i].path && !(v[i].dev == dev && v[i].ino == ino))
		i = (i + 1) & (cap - 1);
	return i;
}

static const char *find_link(const copy_ctx *c, const struct stat *st)
{
	if (!c->cap_links)
		return NULL;
	return c->links[link_slot(c->links, c->cap_links, st->st_dev, st->st_ino)].path;
}

static int add_link(copy_ctx *c, const struct stat *st, const char *path)
{
	size_t i;

	if (2 * (c->n_links + 1) > c->cap_links) {
		size_t ncap = c->cap_links ? c->cap_links * 2 : 64;
		link_entry *n;

		if (ncap > SIZE_MAX / sizeof(*n) || !(n = calloc(ncap, sizeof(*n))))
			return ccp_err_oom(c->e);
		for (size_t j = 0; j < c->cap_links; j++)
			if (c->links[j].path)
				n[link_slot(n, ncap, c->links[j].dev, c->links[j].ino)] = c->links[j];
		free(c->links);
		c->links = n;
		c->cap_links = ncap;
	}
	i = link_slot(c->links, c->cap_links, st->st_dev, st->st_ino);
	if (c->links[i].path)
		return 0; /* already known (a caller looks it up first) */
	if (!(c->links[i].path = strdup(path)))
		return ccp_err_oom(c->e);
	c->links[i].dev = st->st_dev;
	c->links[i].ino = st->st_ino;
	c->n_links++;
	return 0;
}

static int copy_xattrs(copy_ctx *c, int sfd, int dfd, const char *path)
{
	char names[8192], value[65536];
	ssize_t n = flistxattr(sfd, names, sizeof(names));

	if (n < 0)
		return errno == ENOTSUP ? 0 : ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot list xattrs of `%s`", path);
	for (ssize_t off = 0; off < n; off += (ssize_t)strlen(names + off) + 1) {
		const char *name = names + off;
		ssize_t vlen;
		if (!ccp_unpack_xattr_allowed(name))
			continue;
		vlen = fgetxattr(sfd, name, value, sizeof(value));
		if (vlen < 0)
			return ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot read xattr %s of `%s`", name, path);
		if (fsetxattr(dfd, name, value, (size_t)vlen, 0) < 0)
			return ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot set xattr %s on `%s`", name, path);
	}
	return 0;
}

/* Owner, mode, xattrs and times on an fd of a directory or regular file (order keeps setuid bits). */
static int apply_meta_fd(copy_ctx *c, int sfd, int dfd, const struct stat *st, const char *path)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	int r;

	if (c->same_owner && fchown(dfd, st->st_uid, st->st_gid) < 0)
		return ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot chown `%s`", path);
	if (fchmod(dfd, st->st_mode & 07777) < 0)
		return ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot chmod `%s`", path);
	if ((r = copy_xattrs(c, sfd, dfd, path)) != 0)
		return r;
	if (futimens(dfd, ts) < 0)
		return ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot set times of `%s`", path);
	return 0;
}

/* Copies [off, end) of sfd to the same offsets of dfd: copy_file_range, else read and write. */
static int copy_range(copy_ctx *c, int sfd, int dfd, off_t off, off_t end, const char *path)
{
	static __thread char buf[1 << 16];

	while (off < end && !c->no_range) {
		loff_t in = off, out = off;
		ssize_t n;
		int r;
		if ((r = ccp_cancel_check(c->cancel, "copying the rootfs", c->e)) != 0)
			return r;
		n = copy_file_range(sfd, &in, dfd, &out, end - off < COPY_CHUNK ? (size_t)(end - off) : COPY_CHUNK, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EXDEV)
			break; /* this file is on another filesystem (the merged view's) */
		if (n < 0 && (errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
			c->no_range = 1; /* the filesystem cannot: the same for every other file */
			break;
		}
		if (n < 0)
			return ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot copy `%s`", path);
		if (n == 0)
			return ccp_err_set(c->e, CCP_ESTORAGE, "`%s` shrank while copying", path);
		off += n;
	}
	for (off_t since = 0; off < end;) {
		size_t want = (size_t)(end - off) < sizeof(buf) ? (size_t)(end - off) : sizeof(buf);
		ssize_t n, w = 0;
		int r;
		if (since >= COPY_CHUNK) {
			if ((r = ccp_cancel_check(c->cancel, "copying the rootfs", c->e)) != 0)
				return r;
			since = 0;
		}
		n = pread(sfd, buf, want, off);
		if (n > 0)
			since += n;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return ccp_err_errno(c->e, CCP_ESTORAGE, n < 0 ? errno : EIO, "cannot read `%s`", path);
		while (w < n) {
			ssize_t k = pwrite(dfd, buf + w, (size_t)(n - w), off + w);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot write `%s`", path);
			w += k;
		}
		off += n;
	}
	return 0;
}

/*
 * Copies size bytes of sfd into the new, empty dfd: shares the extents (FICLONE) where the
 * filesystem can, else copies in the kernel (copy_file_range), else reads and writes; only the data
 * of a sparse file (SEEK_DATA/SEEK_HOLE), so its holes stay holes.
 */
static int copy_data(copy_ctx *c, int sfd, int dfd, const struct stat *st, const char *path)
{
	off_t size = st->st_size, off = 0;
	int r;

	if (size == 0)
		return 0;
	if (!c->no_clone) {
		if (ioctl(dfd, FICLONE, sfd) == 0)
			return 0;
		if (errno != EOPNOTSUPP && errno != ENOTTY && errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
		    errno != EPERM)
			return ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot copy `%s`", path);
		if (errno != EXDEV)
			c->no_clone = 1; /* the filesystem cannot share extents at all */
	}
	if ((off_t)st->st_blocks * 512 >= size) /* no holes */
		return copy_range(c, sfd, dfd, 0, size, path);
	while (off < size) {
		off_t data = lseek(sfd, off, SEEK_DATA), hole = size;
		if ((data < 0 && errno == ENXIO) || data >= size)
			break; /* nothing but a hole to the end */
		if (data >= 0)
			hole = lseek(sfd, data, SEEK_HOLE);
		if (data < 0 || hole < 0) {
			/* no SEEK_DATA here: the rest is data */
			if (errno != EINVAL && errno != EOPNOTSUPP)
				return ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot read `%s`", path);
			data = off;
			hole = size;
		}
		if (hole > size)
			hole = size;
		if ((r = copy_range(c, sfd, dfd, data, hole, path)) != 0)
			return r;
		off = hole;
	}
	if (ftruncate(dfd, size) < 0) /* a hole at the end */
		return ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot write `%s`", path);
	return 0;
}

static int is_opaque(int fd)
{
	char v[2];
	return fgetxattr(fd, OPAQUE_XATTR, v, sizeof(v)) == 1 && v[0] == 'y';
}

static void close_layers(copy_ctx *c, int *lfd)
{
	for (size_t i = 0; lfd && i < c->n_layers; i++)
		if (lfd[i] >= 0) {
			close(lfd[i]);
			c->layer_fds--;
			lfd[i] = -1;
		}
}

/*
 * The layer dirs that show the content of directory name (below the dirs lfd, top-most first) in
 * the merged view, as overlayfs merges them: down to an opaque one, never past a non-directory (a
 * whiteout or a file hides what is below). Past the budget of open fds: none (-1 everywhere), and
 * that subtree is read through the merged view only.
 */
static int open_layers(copy_ctx *c, const int *lfd, const char *name, int **out)
{
	int *v;
	struct stat st;

	*out = NULL;
	if (!lfd)
		return 0;
	if (!(v = malloc(c->n_layers * sizeof(*v))))
		return ccp_err_oom(c->e);
	for (size_t i = 0; i < c->n_layers; i++)
		v[i] = -1;
	for (size_t i = 0; i < c->n_layers; i++) {
		if (lfd[i] < 0)
			continue;
		if (fstatat(lfd[i], name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (!S_ISDIR(st.st_mode) || c->layer_fds >= LAYER_FDS_MAX)
			break;
		if ((v[i] = openat(lfd[i], name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			break;
		c->layer_fds++;
		if (is_opaque(v[i]))
			break;
	}
	*out = v;
	return 0;
}

/*
 * The file of a layer that the merged view shows as regular file name of st (overlayfs reports
 * a lower file's own inode number when all layers share a filesystem): an fd of it to copy from
 * with copy_file_range (which does not cross from overlayfs to another filesystem), or -1 when it
 * cannot be found for sure (then the merged view's file is copied).
 */
static int layer_file(const copy_ctx *c, const int *lfd, const char *name, const struct stat *st)
{
	struct stat ls, fs;
	int fd;

	for (size_t i = 0; lfd && i < c->n_layers; i++) {
		if (lfd[i] < 0 || fstatat(lfd[i], name, &ls, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		/* the top-most entry is the one shown */
		if (!S_ISREG(ls.st_mode) || ls.st_ino != st->st_ino || ls.st_size != st->st_size)
			return -1;
		fd = openat(lfd[i], name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0 && (fstat(fd, &fs) < 0 || fs.st_dev != ls.st_dev || fs.st_ino != ls.st_ino ||
				fs.st_size != st->st_size)) {
			close(fd);
			fd = -1;
		}
		return fd;
	}
	return -1;
}

static void job_close(copy_job *j)
{
	close(j->sfd);
	close(j->dfd);
	if (j->rfd >= 0)
		close(j->rfd);
	free(j->path);
}

/* Copies a file's data, then its metadata (writing data would change its times). */
static int copy_file(copy_ctx *c, int sfd, int dfd, int rfd, const struct stat *st, const char *path)
{
	int r = copy_data(c, rfd >= 0 ? rfd : sfd, dfd, st, path);
	return r ? r : apply_meta_fd(c, sfd, dfd, st, path);
}

static void *copy_worker(void *arg)
{
	copy_pool *p = arg;
	ccp_err err;
	/* a context of the worker's own: its error and what it learns of the filesystem */
	copy_ctx c = { -1, p->same_owner, NULL, 0, 0, 0, 0, 0, 0, &err, p->cancel, NULL };

	ccp_err_clear(&err);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		copy_job j;
		int r;
		while (p->len == 0 && !p->closing)
			pthread_cond_wait(&p->more, &p->mu);
		if (p->len == 0)
			break;
		j = p->q[p->head];
		p->head = (p->head + 1) % COPY_QUEUE;
		p->len--;
		pthread_cond_signal(&p->room);
		if (p->failed) {
			job_close(&j); /* dropped: a file failed, the walk is stopping */
			continue;
		}
		pthread_mutex_unlock(&p->mu);
		r = copy_file(&c, j.sfd, j.dfd, j.rfd, &j.st, j.path);
		job_close(&j);
		pthread_mutex_lock(&p->mu);
		if (r && !p->failed) {
			p->failed = 1;
			p->err = err;
			pthread_cond_broadcast(&p->room);
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static size_t copy_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 2 ? 0 : n > COPY_WORKERS_MAX ? COPY_WORKERS_MAX : (size_t)n;
}

/* Starts the workers; without any (one CPU, or threads unavailable) the walk copies every file itself. */
static void pool_start(copy_ctx *c, copy_pool *p)
{
	size_t want = copy_workers();

	*p = (copy_pool){ .mu = PTHREAD_MUTEX_INITIALIZER, .more = PTHREAD_COND_INITIALIZER,
			  .room = PTHREAD_COND_INITIALIZER, .same_owner = c->same_owner, .cancel = c->cancel };
	while (p->n_threads < want && pthread_create(&p->threads[p->n_threads], NULL, copy_worker, p) == 0)
		p->n_threads++;
	if (p->n_threads)
		c->pool = p;
}

/* Waits for every queued file; returns r, or the first failure of a worker when r is 0. */
static int pool_finish(copy_ctx *c, int r)
{
	copy_pool *p = c->pool;

	if (!p)
		return r;
	pthread_mutex_lock(&p->mu);
	p->closing = 1;
	if (r)
		p->failed = 1; /* the walk failed: drop what is queued */
	pthread_cond_broadcast(&p->more);
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	if (r == 0 && p->failed) {
		*c->e = p->err;
		r = p->err.code;
	}
	pthread_cond_destroy(&p->room);
	pthread_cond_destroy(&p->more);
	pthread_mutex_destroy(&p->mu);
	c->pool = NULL;
	return r;
}

/* Hands a file to the workers (they own its fds from here, whatever the outcome). */
static int pool_submit(copy_ctx *c, int sfd, int dfd, int rfd, const struct stat *st, const char *path)
{
	copy_pool *p = c->pool;
	copy_job j = { sfd, dfd, rfd, *st, strdup(path) };
	int r = 0;

	pthread_mutex_lock(&p->mu);
	while (p->len == COPY_QUEUE && !p->failed)
		pthread_cond_wait(&p->room, &p->mu);
	if (p->failed) {
		*c->e = p->err;
		r = p->err.code;
	} else if (!j.path) {
		r = ccp_err_oom(c->e);
	} else {
		p->q[(p->head + p->len) % COPY_QUEUE] = j;
		p->len++;
		pthread_cond_signal(&p->more);
	}
	pthread_mutex_unlock(&p->mu);
	if (r)
		job_close(&j);
	return r;
}

static int copy_dir(copy_ctx *c, int sfd, int dfd, const int *lfd, ccp_buf *path, int depth);

static int copy_entry(copy_ctx *c, int sdir, int ddir, const int *lfd, const char *name, ccp_buf *path,
		      int depth)
{
	struct stat st, st2;
	const char *first;
	int sfd = -1, dfd = -1, rfd = -1, *sub = NULL, r = 0;

	if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot stat `%s`", path->data);

	switch (st.st_mode & S_IFMT) {
	case S_IFDIR:
		if (mkdirat(ddir, name, 0700) < 0)
			return ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot create `%s`", path->data);
		sfd = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		dfd = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0 || dfd < 0) {
			r = ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot open `%s`", path->data);
			break;
		}
		if ((r = open_layers(c, lfd, name, &sub)) != 0)
			break;
		/* Children first: creating them changes the directory's times. */
		if ((r = copy_dir(c, sfd, dfd, sub, path, depth + 1)) == 0)
			r = apply_meta_fd(c, sfd, dfd, &st, path->data);
		close_layers(c, sub);
		free(sub);
		break;
	case S_IFREG:
		if (st.st_nlink > 1 && (first = find_link(c, &st)) != NULL) {
			if (linkat(c->dst_root, first, ddir, name, 0) < 0)
				r = ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot link `%s` to `%s`", path->data, first);
			break;
		}
		/* Read only what is the regular file just looked at (never a FIFO or device swapped in). */
		sfd = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (sfd < 0) {
			r = ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot open `%s`", path->data);
			break;
		}
		if (fstat(sfd, &st2) < 0 || !S_ISREG(st2.st_mode) || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino) {
			r = ccp_err_set(c->e, CCP_ESTORAGE, "`%s` changed while it was copied", path->data);
			break;
		}
		dfd = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (dfd < 0) {
			r = ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot create `%s`", path->data);
			break;
		}
		rfd = layer_file(c, lfd, name, &st);
		if (c->pool && st.st_size >= COPY_ASYNC_MIN) {
			r = pool_submit(c, sfd, dfd, rfd, &st, path->data);
			sfd = dfd = -1; /* the pool's now */
		} else {
			r = copy_file(c, sfd, dfd, rfd, &st, path->data);
			if (rfd >= 0)
				close(rfd);
		}
		/* a link to it may be made before its data is in: the link is to the same inode */
		if (r == 0 && st.st_nlink > 1)
			r = add_link(c, &st, path->data);
		break;
	case S_IFLNK: {
		char target[4097];
		struct timespec ts[2] = { st.st_atim, st.st_mtim };
		ssize_t n = readlinkat(sdir, name, target, sizeof(target) - 1);
		if (n < 0)
			return ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot read link `%s`", path->data);
		target[n] = '\0';
		if (symlinkat(target, ddir, name) < 0)
			return ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot create symlink `%s`", path->data);
		if (c->same_owner && fchownat(ddir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
			return ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot chown `%s`", path->data);
		if (utimensat(ddir, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
			return ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot set times of `%s`", path->data);
		return 0;
	}
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
		if (!S_ISFIFO(st.st_mode) && !c->same_owner)
			return 0; /* device nodes need root; an unprivileged copy leaves them out */
		if (st.st_nlink > 1 && (first = find_link(c, &st)) != NULL) {
			if (linkat(c->dst_root, first, ddir, name, 0) < 0)
				r = ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot link `%s`", path->data);
			break;
		}
		if (mknodat(ddir, name, (st.st_mode & S_IFMT) | 0600, st.st_rdev) < 0)
			return ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot create node `%s`", path->data);
		/* O_PATH fds cannot be fchmod'ed: apply metadata through the parent without following. */
		if (c->same_owner && fchownat(ddir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
			return ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot chown `%s`", path->data);
		if (fchmodat(ddir, name, st.st_mode & 07777, 0) < 0)
			return ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot chmod `%s`", path->data);
		{
			struct timespec ts[2] = { st.st_atim, st.st_mtim };
			if (utimensat(ddir, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
				return ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot set times of `%s`", path->data);
		}
		if (st.st_nlink > 1)
			r = add_link(c, &st, path->data);
		break;
	default:
		return 0; /* sockets are not part of images */
	}
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	return r;
}

static int copy_dir(copy_ctx *c, int sfd, int dfd, const int *lfd, ccp_buf *path, int depth)
{
	int dupfd, r = 0;
	DIR *d;
	struct dirent *de;
	size_t base = path->len;

	if (depth > COPY_DEPTH_MAX)
		return ccp_err_set(c->e, CCP_ELAYER, "directory tree deeper than %d at `%s`", COPY_DEPTH_MAX, path->data);
	if ((dupfd = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return ccp_err_errno(c->e, CCP_ESTORAGE, errno, "cannot open `%s`", path->data);
	if (!(d = fdopendir(dupfd))) {
		close(dupfd);
		return ccp_err_oom(c->e);
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((r = ccp_cancel_check(c->cancel, "copying the rootfs", c->e)) != 0)
			break;
		path->len = base;
		if ((base && ccp_buf_append(path, "/", 1)) || ccp_buf_puts(path, de->d_name)) {
			r = ccp_err_oom(c->e);
			break;
		}
		if ((r = copy_entry(c, sfd, dfd, lfd, de->d_name, path, depth)) != 0)
			break;
	}
	closedir(d);
	path->len = base;
	if (path->data)
		path->data[base] = '\0';
	return r;
}

int ccp_tree_copy_layers(int src_fd, const int *layers, size_t n_layers, int dst_fd, int same_owner,
			 const ccp_cancel *cancel, ccp_err *e)
{
	copy_ctx c = { dst_fd, same_owner, NULL, 0, 0, n_layers, 0, 0, 0, e, cancel, NULL };
	copy_pool pool;
	ccp_buf path = CCP_BUF_INIT(0);
	struct stat st;
	int *top = NULL, r;

	if (ccp_buf_append(&path, "", 0))
		return ccp_err_oom(e);
	if (n_layers > 0) {
		/* the layer roots (owned by the caller), down to an opaque one */
		if (!(top = malloc(n_layers * sizeof(*top)))) {
			ccp_buf_free(&path);
			return ccp_err_oom(e);
		}
		for (size_t i = 0; i < n_layers; i++)
			top[i] = i == 0 || (top[i - 1] >= 0 && !is_opaque(top[i - 1])) ? layers[i] : -1;
	}
	pool_start(&c, &pool);
	r = pool_finish(&c, copy_dir(&c, src_fd, dst_fd, top, &path, 0));
	if (r == 0) {
		if (fstat(src_fd, &st) < 0)
			r = ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot stat the layer root");
		else
			r = apply_meta_fd(&c, src_fd, dst_fd, &st, "/");
	}
	for (size_t i = 0; i < c.cap_links; i++)
		free(c.links[i].path);
	free(c.links);
	free(top);
	ccp_buf_free(&path);
	return r;
}

int ccp_tree_copy(int src_fd, int dst_fd, int same_owner, const ccp_cancel *cancel, ccp_err *e)
{
	return ccp_tree_copy_layers(src_fd, NULL, 0, dst_fd, same_owner, cancel, e);
}
