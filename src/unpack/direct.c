/*
 * Direct mode's second half (see unpack.h): once the lower layers are complete, each directory a
 * layer made without naming it is looked up beneath the layer as overlayfs would look it up, and
 * gets the metadata of the directory found there, as a copy-up would have given it.
 */
#include "unpack/unpack.h"
#include "unpack/unpack_int.h"
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define SCAN_DEPTH_MAX 256
#define LOOKUPS_MAX (16u << 20)

enum below_kind { BELOW_NONE, BELOW_DIR, BELOW_OTHER };

void ccp_unpack_direct_free(ccp_unpack_direct *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_implicit; i++)
		free(d->implicit[i]);
	free(d->implicit);
	for (size_t i = 0; i < d->n_whiteouts; i++)
		free(d->whiteouts[i]);
	free(d->whiteouts);
	for (size_t i = 0; i < d->n_opaque; i++)
		free(d->opaque[i]);
	free(d->opaque);
	memset(d, 0, sizeof(*d));
}

int ccp_unpack_is_opaque(int fd)
{
	char v[2];
	return fgetxattr(fd, OVL_OPAQUE_XATTR, v, sizeof(v)) == 1 && v[0] == 'y';
}

/* Opens rel under root_fd without following any symlink: -errno on failure. */
static int open_in(int root_fd, const char *rel, int flags)
{
	resolver r = { .root_fd = root_fd, .use_openat2 = 1 };
	return ccp_open_beneath_nofollow(&r, rel, flags);
}

/*
 * The lower layers' entry at the first plen bytes of path, among the layers still visible there
 * (live[i] != 0, top-most first); narrows live to the layers that show the directory's content
 * below it: down to an opaque one, and never past a whiteout or a non-directory. The layer that
 * shows the entry goes to *top and its lstat to *top_st; for BELOW_DIR, *src (if not NULL) gets a
 * readable fd of that directory.
 */
static int lookup_level(const int *lowers, unsigned char *live, size_t n, char *path, size_t plen, int *kind,
			size_t *top, struct stat *top_st, int *src, ccp_err *e)
{
	char saved = path[plen];
	int found = 0, rc = 0;
	size_t i;

	path[plen] = '\0';
	*kind = BELOW_NONE;
	for (i = 0; i < n; i++) {
		struct stat st;
		int fd;

		if (!live[i])
			continue;
		if (found < 0) { /* stopped above */
			live[i] = 0;
			continue;
		}
		fd = open_in(lowers[i], path, O_PATH);
		if (fd == -ENOENT || fd == -ENOTDIR) {
			live[i] = 0;
			continue;
		}
		if (fd < 0) {
			rc = ccp_err_errno(e, CCP_ESTORAGE, -fd, "looking up /%s in a lower layer", path);
			break;
		}
		if (fstat(fd, &st) < 0) {
			rc = ccp_err_errno(e, CCP_ESTORAGE, errno, "looking up /%s in a lower layer", path);
			close(fd);
			break;
		}
		close(fd);
		if (ccp_is_whiteout(&st) || !S_ISDIR(st.st_mode)) {
			if (!found && !ccp_is_whiteout(&st)) {
				*kind = BELOW_OTHER;
				*top = i;
				*top_st = st;
			}
			live[i] = 0;
			found = -1;
			continue;
		}
		if ((fd = open_in(lowers[i], path, O_RDONLY | O_DIRECTORY)) < 0) {
			rc = ccp_err_errno(e, CCP_ESTORAGE, -fd, "opening /%s in a lower layer", path);
			break;
		}
		if (!found) {
			*kind = BELOW_DIR;
			*top = i;
			*top_st = st;
			if (src)
				*src = fd;
		}
		found = 1;
		if (ccp_unpack_is_opaque(fd))
			found = -1; /* nothing below this one shows */
		if (!src || *src != fd)
			close(fd);
	}
	path[plen] = saved;
	return rc;
}

/*
 * What the lower layers show at rel, as overlayfs looks it up. With upper_fd >= 0, beneath that
 * upper layer: an opaque directory of it on the way hides everything below. A non-directory below
 * on the way hides the rest (an upper directory replaces it). *src: for BELOW_DIR, if not NULL, a
 * readable fd of the directory that shows.
 */
static int lookup(int upper_fd, const int *lowers, size_t n, const char *rel, int *kind, size_t *top,
		  struct stat *top_st, int *src, ccp_err *e)
{
	char path[CCP_UNPACK_PATH_MAX + 1];
	unsigned char *live;
	size_t len = strlen(rel), p = 0;
	int rc = 0;

	*kind = BELOW_NONE;
	if (src)
		*src = -1;
	if (len >= sizeof(path) || !(live = malloc(n ? n : 1)))
		return len >= sizeof(path) ? ccp_err_set(e, CCP_ELAYER, "path too long: %.200s", rel) : ccp_err_oom(e);
	memcpy(path, rel, len + 1);
	memset(live, 1, n);
	for (;;) {
		while (p < len && path[p] != '/')
			p++;
		if (p == len) {
			rc = lookup_level(lowers, live, n, path, p, kind, top, top_st, src, e);
			break;
		}
		if (upper_fd >= 0) {
			int ufd;
			path[p] = '\0';
			ufd = open_in(upper_fd, path, O_RDONLY | O_DIRECTORY);
			path[p] = '/';
			if (ufd < 0 || ccp_unpack_is_opaque(ufd)) {
				if (ufd >= 0)
					close(ufd);
				break; /* nothing below shows here */
			}
			close(ufd);
		}
		rc = lookup_level(lowers, live, n, path, p, kind, top, top_st, NULL, e);
		if (rc < 0 || *kind != BELOW_DIR) {
			*kind = BELOW_NONE;
			break;
		}
		p++;
	}
	free(live);
	return rc;
}

static int below(int upper_fd, const int *lowers, size_t n, const char *rel, int *kind, int *src, ccp_err *e)
{
	struct stat st;
	size_t top;
	return lookup(upper_fd, lowers, n, rel, kind, &top, &st, src, e);
}

int ccp_lower_file(const int *lowers, size_t n, const char *rel, size_t *layer, struct stat *st, ccp_err *e)
{
	int kind, rc = lookup(-1, lowers, n, rel, &kind, layer, st, NULL, e);
	return rc < 0 ? rc : kind == BELOW_OTHER;
}

/* 1 when directory fd (consumed) holds nothing but whiteouts and directories of whiteouts. */
static int only_whiteouts(int fd, unsigned depth)
{
	struct dirent *de;
	DIR *d;
	int only = 1;

	if (depth > SCAN_DEPTH_MAX || !(d = fdopendir(fd))) {
		close(fd);
		return 0;
	}
	while (only && (de = readdir(d))) {
		struct stat st;
		int sub;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			only = 0;
		else if (S_ISDIR(st.st_mode))
			only = (sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0 &&
			       only_whiteouts(sub, depth + 1);
		else
			only = ccp_is_whiteout(&st);
	}
	closedir(d);
	return only;
}

int ccp_unpack_copy_dir_meta(int from, int to, char *buf, const char *path, ccp_err *e)
{
	char *names = buf, *val = buf + CCP_UNPACK_XATTR_BUF;
	struct timespec ts[2];
	struct stat st;
	ssize_t n;

	if (fstat(from, &st) < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "stat of /%s in a lower layer", path);
	if (fchown(to, st.st_uid, st.st_gid) < 0 || fchmod(to, st.st_mode & 07777) < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "setting the owner and mode of /%s", path);
	n = flistxattr(from, names, CCP_UNPACK_XATTR_BUF);
	if (n < 0 && errno != ENOTSUP && errno != EOPNOTSUPP)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "listing xattrs of /%s in a lower layer", path);
	for (char *p = names; n > 0 && p < names + n; p += strlen(p) + 1) {
		ssize_t vn;

		if (!ccp_unpack_xattr_allowed(p))
			continue;
		if ((vn = fgetxattr(from, p, val, CCP_UNPACK_XATTR_BUF)) < 0 || fsetxattr(to, p, val, (size_t)vn, 0) < 0)
			return ccp_err_errno(e, CCP_ESTORAGE, errno, "copying xattr %s of /%s", p, path);
	}
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	if (futimens(to, ts) < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "setting the times of /%s", path);
	return 0;
}

/* Removes path (a whiteout, or a directory of whiteouts only) and puts its parent's times back. */
static int remove_unused(int upper_fd, char *path, ccp_err *e)
{
	char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	struct stat st;
	struct timespec ts[2];
	int pfd, rc = 0;

	if (slash)
		*slash = '\0';
	pfd = open_in(upper_fd, slash ? path : "", O_RDONLY | O_DIRECTORY);
	if (slash)
		*slash = '/';
	if (pfd < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, -pfd, "opening the parent of /%s", path);
	if (fstat(pfd, &st) < 0 || (rc = ccp_rm_rf_at(pfd, name)) < 0) {
		rc = ccp_err_errno(e, CCP_ESTORAGE, rc < 0 ? -rc : errno, "removing /%s", path);
	} else {
		ts[0] = st.st_atim;
		ts[1] = st.st_mtim;
		if (futimens(pfd, ts) < 0)
			rc = ccp_err_errno(e, CCP_ESTORAGE, errno, "setting the times of the parent of /%s", path);
	}
	close(pfd);
	return rc;
}

static int deeper_first(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);
	return la < lb ? 1 : la > lb ? -1 : 0;
}

int ccp_unpack_direct_finish(int upper_fd, const int *lower_fds, size_t n_lowers, ccp_unpack_direct *d,
			     int *redo, ccp_err *e)
{
	char *buf = NULL;
	int *kinds = NULL, rc = 0;
	size_t i;

	*redo = 0;
	if (d->n_implicit == 0 && d->n_whiteouts == 0)
		return 0;
	/* Each whiteout is looked up through every lower layer: past this, the overlay mount is cheaper. */
	if ((uint64_t)d->n_whiteouts * (n_lowers + 1) > LOOKUPS_MAX) {
		*redo = 1;
		return 0;
	}
	/* Deepest first: a directory's parent is finished after it (its times stay put). */
	if (d->n_implicit > 1)
		qsort(d->implicit, d->n_implicit, sizeof(*d->implicit), deeper_first);
	if (!(kinds = calloc(d->n_implicit + 1, sizeof(*kinds))) || !(buf = malloc(2 * CCP_UNPACK_XATTR_BUF))) {
		rc = ccp_err_oom(e);
		goto out;
	}
	/* First decide, changing nothing: a path through a lower non-directory means the layer is redone. */
	for (i = 0; i < d->n_implicit; i++) {
		int fd = open_in(upper_fd, d->implicit[i], O_PATH | O_DIRECTORY);

		kinds[i] = -1; /* replaced later in the layer: nothing to finish */
		if (fd < 0)
			continue;
		close(fd);
		if ((rc = below(upper_fd, lower_fds, n_lowers, d->implicit[i], &kinds[i], NULL, e)) < 0)
			goto out;
		if (kinds[i] == BELOW_OTHER) {
			*redo = 1;
			goto out;
		}
	}
	/* A whiteout of what nothing below has: in a directory only this layer has, overlayfs lists it. */
	for (i = 0; i < d->n_whiteouts; i++) {
		struct stat st;
		int kind, fd = open_in(upper_fd, d->whiteouts[i], O_PATH);

		if (fd < 0)
			continue;
		if (fstat(fd, &st) < 0 || !ccp_is_whiteout(&st)) { /* replaced later in the layer */
			close(fd);
			continue;
		}
		close(fd);
		if ((rc = below(upper_fd, lower_fds, n_lowers, d->whiteouts[i], &kind, NULL, e)) < 0)
			goto out;
		if (kind == BELOW_NONE && (rc = remove_unused(upper_fd, d->whiteouts[i], e)) < 0)
			goto out;
	}
	for (i = 0; i < d->n_implicit; i++) {
		char *path = d->implicit[i];
		int src = -1, kind, to;

		if (kinds[i] == BELOW_NONE) {
			/* Made only to hold whiteouts of what never existed: the merged tree has no such directory. */
			int fd = open_in(upper_fd, path, O_RDONLY | O_DIRECTORY);
			if (fd >= 0 && only_whiteouts(fd, 0) && (rc = remove_unused(upper_fd, path, e)) < 0)
				goto out;
			continue;
		}
		if (kinds[i] != BELOW_DIR)
			continue;
		if ((rc = below(upper_fd, lower_fds, n_lowers, path, &kind, &src, e)) < 0)
			goto out;
		if (kind != BELOW_DIR || src < 0)
			continue;
		if ((to = open_in(upper_fd, path, O_RDONLY | O_DIRECTORY)) < 0) {
			close(src);
			continue;
		}
		rc = ccp_unpack_copy_dir_meta(src, to, buf, path, e);
		close(src);
		close(to);
		if (rc < 0)
			goto out;
	}
out:
	free(kinds);
	free(buf);
	return rc;
}
