/*
 * Direct mode's merge (unpack.h, ccp_unpack_direct_merge): a finished direct-mode layer moved into
 * the plain tree below it by renames, for a pull that does not keep its layers, so that the layer's
 * data is written once. The tree below holds earlier layers (hostile names and symlinks included):
 * every lookup is one component under a directory fd, and no symlink is followed.
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
#include <sys/xattr.h>
#include <unistd.h>

typedef struct merge_ctx {
	char path[CCP_UNPACK_PATH_MAX + 1]; /* of the entry at hand, for messages */
	char *meta_buf;                     /* 2 * CCP_UNPACK_XATTR_BUF, for ccp_unpack_copy_dir_meta */
	const ccp_cancel *cancel;
	ccp_err *e;
} merge_ctx;

static int open_dir_at(int dirfd, const char *name)
{
	return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static int merge_dir(merge_ctx *m, int ufd, int rfd, size_t plen, unsigned depth);

/* One entry name of the layer's directory ufd, into the tree's directory rfd. */
static int merge_entry(merge_ctx *m, int ufd, int rfd, const char *name, size_t plen, unsigned depth)
{
	struct stat us, rs;
	int have, rc;

	if (fstatat(ufd, name, &us, AT_SYMLINK_NOFOLLOW) < 0)
		return ccp_err_errno(m->e, CCP_ESTORAGE, errno, "merging /%s", m->path);
	if (ccp_is_whiteout(&us)) {
		/* finished against this tree: it hides something there */
		if ((rc = ccp_rm_rf_at(rfd, name)) < 0)
			return ccp_err_errno(m->e, CCP_ESTORAGE, -rc, "removing /%s", m->path);
		return 0;
	}
	have = fstatat(rfd, name, &rs, AT_SYMLINK_NOFOLLOW) == 0;
	if (!have && errno != ENOENT)
		return ccp_err_errno(m->e, CCP_ESTORAGE, errno, "merging /%s", m->path);
	if (S_ISDIR(us.st_mode) && have && S_ISDIR(rs.st_mode)) {
		int usub = open_dir_at(ufd, name), rsub = -1;

		if (usub < 0)
			return ccp_err_errno(m->e, CCP_ESTORAGE, errno, "opening /%s", m->path);
		if (!ccp_unpack_is_opaque(usub)) {
			if ((rsub = open_dir_at(rfd, name)) < 0)
				rc = ccp_err_errno(m->e, CCP_ESTORAGE, errno, "opening /%s", m->path);
			else
				rc = merge_dir(m, usub, rsub, plen, depth + 1);
			close(usub);
			if (rsub >= 0)
				close(rsub);
			return rc;
		}
		close(usub); /* opaque: it replaces the tree's directory, as below */
	}
	if (have && (S_ISDIR(rs.st_mode) || S_ISDIR(us.st_mode)) && (rc = ccp_rm_rf_at(rfd, name)) < 0)
		return ccp_err_errno(m->e, CCP_ESTORAGE, -rc, "removing /%s", m->path);
	/* a non-directory replaces the tree's one atomically; a directory moves whole */
	if (renameat(ufd, name, rfd, name) < 0)
		return ccp_err_errno(m->e, CCP_ESTORAGE, errno, "moving /%s into the tree", m->path);
	return 0;
}

/* Removes from rfd the xattrs the layer's directory ufd does not have: its own replace the tree's. */
static int drop_xattrs(merge_ctx *m, int ufd, int rfd)
{
	char *names = m->meta_buf, v[1];
	ssize_t n = flistxattr(rfd, names, CCP_UNPACK_XATTR_BUF);

	if (n < 0)
		return errno == ENOTSUP || errno == EOPNOTSUPP
			       ? 0
			       : ccp_err_errno(m->e, CCP_ESTORAGE, errno, "listing xattrs of /%s", m->path);
	for (char *p = names; p < names + n; p += strlen(p) + 1) {
		if (!ccp_unpack_xattr_allowed(p) || fgetxattr(ufd, p, v, 0) >= 0 || errno != ENODATA)
			continue;
		if (fremovexattr(rfd, p) < 0 && errno != ENODATA)
			return ccp_err_errno(m->e, CCP_ESTORAGE, errno, "removing xattr %s of /%s", p, m->path);
	}
	return 0;
}

/*
 * Merges the layer's directory ufd into the tree's directory rfd (m->path, plen bytes, names it),
 * then gives rfd the layer directory's owner, mode, xattrs and times (taken before its entries were
 * moved out). A directory the layer did not name has, once finished, the tree's own metadata.
 */
static int merge_dir(merge_ctx *m, int ufd, int rfd, size_t plen, unsigned depth)
{
	struct timespec ts[2];
	struct stat st;
	struct dirent *de;
	DIR *d;
	int dup, rc;

	if (depth > CCP_UNPACK_DEPTH_MAX)
		return ccp_err_set(m->e, CCP_ELAYER, "directory tree deeper than %d at /%s", CCP_UNPACK_DEPTH_MAX,
				   m->path);
	if ((rc = ccp_cancel_check(m->cancel, "merging a layer into the rootfs", m->e)) != 0)
		return rc;
	if (fstat(ufd, &st) < 0)
		return ccp_err_errno(m->e, CCP_ESTORAGE, errno, "merging /%s", m->path);
	if ((dup = openat(ufd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return ccp_err_errno(m->e, CCP_ESTORAGE, errno, "opening /%s", m->path);
	if (!(d = fdopendir(dup))) {
		close(dup);
		return ccp_err_oom(m->e);
	}
	/* Only the entry just read leaves the directory: every other one is still read once. */
	while (rc == 0 && (de = readdir(d))) {
		size_t nlen = strlen(de->d_name);

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (plen + 1 + nlen >= sizeof(m->path)) {
			rc = ccp_err_set(m->e, CCP_ELAYER, "path too long: /%.200s/%.200s", m->path, de->d_name);
			break;
		}
		m->path[plen] = plen ? '/' : '\0';
		memcpy(m->path + plen + (plen ? 1 : 0), de->d_name, nlen + 1);
		rc = merge_entry(m, ufd, rfd, de->d_name, plen + (plen ? 1 : 0) + nlen, depth);
		m->path[plen] = '\0';
	}
	closedir(d);
	if (rc)
		return rc;
	if ((rc = ccp_unpack_copy_dir_meta(ufd, rfd, m->meta_buf, m->path, m->e)) < 0 ||
	    (rc = drop_xattrs(m, ufd, rfd)) < 0)
		return rc;
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	if (futimens(rfd, ts) < 0)
		return ccp_err_errno(m->e, CCP_ESTORAGE, errno, "setting the times of /%s", m->path);
	return 0;
}

/* Takes the opaque marker off directory rel of the tree, if it is there (a directory that moved whole). */
static int unmark_opaque(int root_fd, const char *rel, ccp_err *e)
{
	resolver r = { .root_fd = root_fd, .use_openat2 = 1 };
	int fd = ccp_open_beneath_nofollow(&r, rel, O_RDONLY | O_DIRECTORY), rc = 0;

	if (fd < 0)
		return 0; /* replaced later in the layer by what is not a directory */
	if (fremovexattr(fd, OVL_OPAQUE_XATTR) < 0 && errno != ENODATA)
		rc = ccp_err_errno(e, CCP_ESTORAGE, errno, "clearing the opaque marker of /%s", rel);
	close(fd);
	return rc;
}

int ccp_unpack_direct_merge(int upper_fd, int root_fd, const ccp_unpack_direct *d, const ccp_cancel *cancel,
			    ccp_err *e)
{
	merge_ctx *m = calloc(1, sizeof(*m));
	int rc;

	if (!m || !(m->meta_buf = malloc(2 * CCP_UNPACK_XATTR_BUF))) {
		free(m);
		return ccp_err_oom(e);
	}
	m->cancel = cancel;
	m->e = e;
	rc = merge_dir(m, upper_fd, root_fd, 0, 0);
	for (size_t i = 0; rc == 0 && i < d->n_opaque; i++)
		rc = unmark_opaque(root_fd, d->opaque[i], e);
	free(m->meta_buf);
	free(m);
	return rc;
}
