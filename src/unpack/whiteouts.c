/*
 * Whiteouts (.wh.<name> and the opaque .wh..wh..opq): removal of what lower layers made under the
 * root, or in direct mode an overlayfs whiteout device or opaque directory in the layer's upper.
 */
#include "unpack/unpack.h"
#include "unpack/unpack_int.h"
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

static int wh_remove(unpack *u, int dirfd, const char *name, size_t plen, unsigned depth, ccp_err *e);

/* Removes the children of the directory fd that lower layers made; whpath[0..plen) is its path. */
static int wh_children(unpack *u, int fd, size_t plen, unsigned depth, ccp_err *e)
{
	struct dirent *de;
	DIR *d = fdopendir(fd);
	int rc = 0;

	if (!d) {
		rc = ccp_unpack_io_err(e, errno, "reading directory", u->whpath);
		close(fd);
		return rc;
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name), np;

		if (de->d_name[0] == '.' && (n == 1 || (n == 2 && de->d_name[1] == '.')))
			continue;
		np = plen + (plen ? 1 : 0) + n;
		if (np >= FULLBUF) {
			rc = ccp_err_set(e, CCP_ELAYER, "path too long under /%s", u->whpath);
			break;
		}
		if (plen)
			u->whpath[plen] = '/';
		memcpy(u->whpath + plen + (plen ? 1 : 0), de->d_name, n + 1);
		rc = wh_remove(u, dirfd(d), de->d_name, np, depth + 1, e);
		u->whpath[plen] = '\0';
		if (rc < 0)
			break;
	}
	closedir(d);
	return rc;
}

/* Removes whpath (name under dirfd) unless this layer made it; descends into this layer's dirs. */
static int wh_remove(unpack *u, int dirfd, const char *name, size_t plen, unsigned depth, ccp_err *e)
{
	struct stat st;
	int fd, rc;

	if (depth > 2 * CCP_UNPACK_DEPTH_MAX + 8)
		return ccp_err_set(e, CCP_ELAYER, "tree too deep under /%s", u->whpath);
	if (!ccp_pset_is_upper(&u->ps, u->whpath, plen)) {
		if ((rc = ccp_rm_rf_at(dirfd, name)) < 0)
			return ccp_unpack_io_err(e, -rc, "removing", u->whpath);
		return 0;
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : ccp_unpack_io_err(e, errno, "stat", u->whpath);
	if (!S_ISDIR(st.st_mode))
		return 0;
	if ((fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return ccp_unpack_io_err(e, errno, "opening", u->whpath);
	return wh_children(u, fd, plen, depth, e);
}

/* Appends path to a direct-mode list (bounded by the layer's entries). */
int ccp_unpack_record_path(char ***v, size_t *n, size_t *cap, const char *path, ccp_err *e)
{
	if (*n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 16;
		char **nv = realloc(*v, ncap * sizeof(*nv));
		if (!nv)
			return ccp_err_oom(e);
		*v = nv;
		*cap = ncap;
	}
	if (!((*v)[*n] = strdup(path)))
		return ccp_err_oom(e);
	(*n)++;
	return 0;
}

/* Marks directory name (path) opaque and records it (direct mode). */
static int set_opaque_at(unpack *u, int dirfd, const char *name, const char *path, ccp_err *e)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return ccp_unpack_io_err(e, errno, "opening", path);
	if (fsetxattr(fd, OVL_OPAQUE_XATTR, "y", 1, 0) < 0)
		rc = ccp_unpack_io_err(e, errno, "marking opaque", path);
	close(fd);
	return rc ? rc : ccp_unpack_record_path(&u->direct->opaque, &u->direct->n_opaque, &u->direct->cap_opaque, path, e);
}

/*
 * Direct mode: records the whiteout of tname (NULL: the parent's opaque marker) for overlayfs. As
 * through an overlay mount, this layer's own paths are spared: a directory of this layer only loses
 * what lower layers have in it (it becomes opaque), a non-directory stays.
 */
static int direct_whiteout(unpack *u, int pfd, const char *tname, ccp_err *e)
{
	struct stat st;
	int rc;

	if (!tname && !u->parent_res[0]) {
		/* overlayfs ignores an opaque mark on a layer's root: only the lowers can say what goes. */
		u->direct->needs_lowers = 1;
		return ccp_err_set(e, CCP_ELAYER, "opaque marker on the root: the lower layers must be in view");
	}
	if (!tname)
		return set_opaque_at(u, pfd, ".", u->parent_res, e);
	ccp_unpack_join_path(u->whpath, u->parent_res, tname);
	if (fstatat(pfd, tname, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (ccp_pset_is_upper(&u->ps, u->whpath, strlen(u->whpath)))
			return S_ISDIR(st.st_mode) ? set_opaque_at(u, pfd, tname, u->whpath, e) : 0;
		/* A directory made only for whiteouts, or an earlier whiteout: replaced by this one. */
		if ((rc = ccp_unpack_remove_existing(u, pfd, tname, u->whpath, e)) < 0)
			return rc;
	} else if (errno != ENOENT) {
		return ccp_unpack_io_err(e, errno, "stat", u->whpath);
	}
	if (mknodat(pfd, tname, S_IFCHR, makedev(0, 0)) < 0)
		return ccp_unpack_io_err(e, errno, "creating the whiteout", u->whpath);
	return ccp_unpack_record_path(&u->direct->whiteouts, &u->direct->n_whiteouts, &u->direct->cap_whiteouts, u->whpath, e);
}

int ccp_unpack_do_whiteout(unpack *u, const char *parent, const char *base, const char *path, ccp_err *e)
{
	int pfd = -1, via, rc, opaque = strcmp(base, WH_OPAQUE) == 0;
	const char *tname = base + strlen(WH_PREFIX);
	size_t plen;

	if (!opaque && strncmp(base, WH_META_PREFIX, strlen(WH_META_PREFIX)) == 0)
		return 0; /* other AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): nothing to apply */
	if (!opaque && (!*tname || strcmp(tname, ".") == 0 || strcmp(tname, "..") == 0))
		return ccp_err_set(e, CCP_ELAYER, "entry %s: invalid whiteout", path);

	/* Direct mode: the parent may exist only below, so it is made here and completed later. */
	rc = ccp_resolve_dir(&u->r, parent, u->direct != NULL, &pfd, u->parent_res, &via, e);
	if (rc == -ENOENT || rc == -ENOTDIR)
		return 0; /* nothing below to hide */
	if (rc < 0)
		return ccp_err_wrap(e, "whiteout %s", path);
	if ((rc = ccp_unpack_snapshot_dir(u, pfd, u->parent_res, e)) < 0)
		goto out;
	if (u->direct) {
		rc = direct_whiteout(u, pfd, opaque ? NULL : tname, e);
		goto out;
	}
	memcpy(u->whpath, u->parent_res, strlen(u->parent_res) + 1);
	plen = strlen(u->whpath);
	if (opaque) {
		/* The directory stays; its lower children go, this layer's stay (order does not matter). */
		int dfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0) {
			rc = ccp_unpack_io_err(e, errno, "opening", u->whpath);
			goto out;
		}
		ccp_unpack_invalidate(u, u->whpath, 0);
		rc = wh_children(u, dfd, plen, 0, e);
	} else {
		ccp_unpack_join_path(u->whpath, u->parent_res, tname);
		ccp_unpack_invalidate(u, u->whpath, 1);
		rc = wh_remove(u, pfd, tname, strlen(u->whpath), 0, e);
	}
out:
	close(pfd);
	return rc;
}
