/*
 * Hardlink entries: the link to a file of this layer or, in direct mode, to one of a lower layer,
 * whose other lower names are relinked to the copy so that they stay one inode.
 */
#include "unpack/unpack.h"
#include "unpack/unpack_int.h"

#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int missing_target(unpack *u, const char *path, const char *link, ccp_err *e)
{
	if (u->direct) {
		u->direct->needs_lowers = 1;
		return ccp_err_set(e, CCP_ELAYER, "hardlink %s: target %s is not in this layer", path, link);
	}
	return ccp_err_set(e, CCP_ELAYER, "hardlink %s: target %s does not exist", path, link);
}

typedef struct relink {
	unpack *u;
	int tfd;             /* the target's parent, in the merged tree */
	const char *tname;
	const char *tpath;   /* the target's resolved path */
	size_t layer;        /* the lower layer whose inode the target was */
	ino_t ino;
} relink;

/* Links path, another name of the lower inode, to the target's copy (if the merged tree still shows it). */
static int relink_one(void *ctx, const char *path, ccp_err *e)
{
	relink *c = ctx;
	unpack *u = c->u;
	char parent[PATHBUF], *base;
	const char *dir = "";
	struct stat st;
	size_t layer;
	int pfd, rc;

	if (strcmp(path, c->tpath) == 0 || ccp_pset_is_upper(&u->ps, path, strlen(path)))
		return 0; /* the target itself, or replaced by this layer */
	if ((rc = ccp_lower_file(u->lower_fds, u->n_lowers, path, &layer, &st, e)) <= 0)
		return rc;
	if (layer != c->layer || st.st_ino != c->ino)
		return 0; /* hidden by a layer in between */
	snprintf(parent, sizeof(parent), "%s", path);
	if ((base = strrchr(parent, '/'))) {
		*base++ = '\0';
		dir = parent;
	} else {
		base = parent;
	}
	if ((pfd = ccp_open_beneath_nofollow(&u->r, dir, O_PATH | O_DIRECTORY)) < 0)
		return 0; /* deleted by this layer */
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
		close(pfd);
		return 0;
	}
	if ((rc = ccp_unpack_snapshot_dir(u, pfd, dir, e)) == 0 &&
	    (unlinkat(pfd, base, 0) < 0 || linkat(c->tfd, c->tname, pfd, base, 0) < 0))
		rc = ccp_unpack_io_err(e, errno, "hardlinking", path);
	else if (rc == 0 && u->n_relinked)
		(*u->n_relinked)++;
	close(pfd);
	return rc;
}

/*
 * Through an overlay mount, a hardlink to a lower file copies up only the name it links to: the
 * file's other names that the merged tree shows are linked to the copy too, so they stay one file.
 * That is done once per lower inode and layer: afterwards every name the merged tree shows of it is
 * the copy, and a later hardlink to any of them (the tree still shows the lower inode in the lower
 * layer's directory) only adds a name to that copy.
 */
static int relink_lower_names(unpack *u, int tfd, const char *tname, const char *tpath, ccp_err *e)
{
	relink c = { u, tfd, tname, tpath, 0, 0 };
	struct stat st;
	int rc;

	if ((rc = ccp_lower_file(u->lower_fds, u->n_lowers, tpath, &c.layer, &st, e)) <= 0)
		return rc;
	if (!S_ISREG(st.st_mode) || st.st_nlink < 2)
		return 0;
	if (!u->links && !(u->links = calloc(u->n_lowers, sizeof(*u->links))))
		return ccp_err_oom(e);
	c.ino = st.st_ino;
	return ccp_lower_links_each(&u->links[c.layer], u->lower_fds[c.layer], c.ino, relink_one, &c, e);
}

int ccp_unpack_make_hardlink(unpack *u, int pfd, const char *name, const char *path, const char *link,
			     ccp_err *e)
{
	char *tparent, *tname;
	struct stat st;
	int tfd, via, rc, tries;

	if ((rc = ccp_clean_path(link, u->target, sizeof(u->target), "hardlink target", e)) < 0)
		return ccp_err_wrap(e, "entry %s", path);
	if (!u->target[0])
		return ccp_err_set(e, CCP_ELAYER, "hardlink %s: target %s is a directory", path, link);
	tname = strrchr(u->target, '/');
	if (tname) {
		*tname++ = '\0';
		tparent = u->target;
	} else {
		tname = u->target;
		tparent = "";
	}
	/* The target's parent is resolved in the root; its last component is never followed. */
	rc = ccp_resolve_dir(&u->r, tparent, 0, &tfd, u->target_res, &via, e);
	if (rc == -ENOENT || rc == -ENOTDIR)
		return missing_target(u, path, link, e);
	if (rc < 0)
		return ccp_err_wrap(e, "hardlink %s -> %s", path, link);
	if (fstatat(tfd, tname, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = errno == ENOENT || errno == ENOTDIR ? missing_target(u, path, link, e)
							: ccp_unpack_io_err(e, errno, "stat", link);
		goto out;
	}
	if (ccp_is_whiteout(&st)) {
		rc = missing_target(u, path, link, e);
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = ccp_err_set(e, CCP_ELAYER, "hardlink %s: target %s is a directory", path, link);
		goto out;
	}
	for (tries = 0;; tries++) {
		if (linkat(tfd, tname, pfd, name, 0) == 0)
			break;
		if (errno == ENOENT) {
			rc = missing_target(u, path, link, e);
			goto out;
		}
		if (errno != EEXIST || tries > 0) {
			rc = ccp_unpack_io_err(e, errno, "hardlinking", u->full);
			goto out;
		}
		ccp_unpack_join_path(u->whpath, u->target_res, tname);
		if (strcmp(u->whpath, u->full) == 0) {
			rc = ccp_err_set(e, CCP_ELAYER, "hardlink %s: links to itself", path);
			goto out;
		}
		if ((rc = ccp_unpack_remove_existing(u, pfd, name, u->full, e)) < 0)
			goto out;
	}
	rc = 0;
	if (u->n_lowers) {
		char tpath[FULLBUF];
		ccp_unpack_join_path(tpath, u->target_res, tname);
		if (!ccp_pset_is_upper(&u->ps, tpath, strlen(tpath)))
			rc = relink_lower_names(u, tfd, tname, tpath, e);
	}
out:
	close(tfd);
	return rc;
}
