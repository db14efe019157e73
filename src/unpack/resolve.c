/* In-root path resolution for the unpacker: lexical cleaning, openat2, the O_NOFOLLOW walk. */
#include "unpack/unpack_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

int ccp_clean_path(const char *in, char *out, size_t outsz, const char *what, ccp_err *e)
{
	size_t len = 0, depth = 0, inlen = strlen(in);
	const char *p = in;

	if (inlen > CCP_UNPACK_PATH_MAX)
		return ccp_err_set(e, CCP_ELAYER, "%s longer than %d bytes", what, CCP_UNPACK_PATH_MAX);
	while (*p) {
		const char *c;
		size_t n;

		while (*p == '/')
			p++;
		c = p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - c);
		if (n == 0 || (n == 1 && c[0] == '.'))
			continue;
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			/* ".." never climbs above the root, as in containerd and umoci. */
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
			if (depth > 0)
				depth--;
			continue;
		}
		if (++depth > CCP_UNPACK_DEPTH_MAX)
			return ccp_err_set(e, CCP_ELAYER, "%s has more than %d components: %.200s", what,
					   CCP_UNPACK_DEPTH_MAX, in);
		if (len + (len ? 1 : 0) + n >= outsz)
			return ccp_err_set(e, CCP_ELAYER, "%s too long: %.200s", what, in);
		if (len)
			out[len++] = '/';
		memcpy(out + len, c, n);
		len += n;
	}
	out[len] = '\0';
	return 0;
}

static int sys_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = flags | O_CLOEXEC;
	how.resolve = resolve;
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* openat2 is unusable here (old kernel, seccomp): use the walk from now on. */
static int openat2_unavailable(int err)
{
	return err == ENOSYS || err == EINVAL || err == EPERM;
}

int ccp_open_beneath_nofollow(resolver *r, const char *rel, int flags)
{
	char comp[256];
	const char *p = rel;
	int cur, fd;

	if (!*rel) {
		fd = openat(r->root_fd, ".", flags | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	if (r->use_openat2) {
		fd = sys_openat2(r->root_fd, rel, (uint64_t)(flags | O_NOFOLLOW),
				 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
		if (fd >= 0)
			return fd;
		if (!openat2_unavailable(errno) && errno != EAGAIN)
			return -errno;
	}
	cur = openat(r->root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return -errno;
	for (;;) {
		const char *c = p;
		size_t n;
		int last;

		while (*p && *p != '/')
			p++;
		n = (size_t)(p - c);
		last = *p == '\0';
		if (*p)
			p++;
		if (n == 0 || n >= sizeof(comp)) {
			close(cur);
			return n ? -ENAMETOOLONG : -ENOENT;
		}
		memcpy(comp, c, n);
		comp[n] = '\0';
		fd = openat(cur, comp, (last ? flags : O_PATH | O_DIRECTORY) | O_NOFOLLOW | O_CLOEXEC);
		close(cur);
		if (fd < 0)
			return -errno;
		if (last)
			return fd;
		cur = fd;
	}
}

int ccp_is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == 0;
}

/* Tells the resolver's made_dir callback (if any) of directory comp made under res. */
static int tell_made_dir(resolver *r, const char *res, const char *comp, int implicit, ccp_err *e)
{
	char made[CCP_UNPACK_PATH_MAX + 1];

	if (!r->made_dir)
		return 0;
	if ((size_t)snprintf(made, sizeof(made), "%s%s%s", res, *res ? "/" : "", comp) >= sizeof(made))
		return ccp_err_set(e, CCP_ELAYER, "path too long: %.200s/%.200s", res, comp);
	return r->made_dir(r->made_dir_ctx, made, implicit, e);
}

/*
 * Direct mode: a path of this layer goes through a name an earlier entry whited out. Through an
 * overlay mount that name would be missing and made a directory, which overlayfs marks opaque (the
 * lower one stays deleted): do the same. Anything else that is not a directory -> -ENOTDIR.
 */
static int replace_whiteout(resolver *r, int dirfd, const char *comp, const char *res, ccp_err *e)
{
	struct stat st;
	int fd;

	if (fstatat(dirfd, comp, &st, AT_SYMLINK_NOFOLLOW) < 0 || !ccp_is_whiteout(&st))
		return -ENOTDIR;
	if (unlinkat(dirfd, comp, 0) < 0 || mkdirat(dirfd, comp, 0755) < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "creating directory %s/%s", res, comp);
	if ((fd = openat(dirfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "opening directory %s/%s", res, comp);
	if (fchmod(fd, 0755) < 0 || (r->same_owner && fchown(fd, 0, 0) < 0) ||
	    fsetxattr(fd, OVL_OPAQUE_XATTR, "y", 1, 0) < 0) {
		int err = errno;
		close(fd);
		return ccp_err_errno(e, CCP_ESTORAGE, err, "creating directory %s/%s", res, comp);
	}
	close(fd);
	r->n_created++;
	return tell_made_dir(r, res, comp, 0, e);
}

/*
 * "..": res (rlen bytes) loses its last component, never going above the root, and *cur is reopened
 * there. On failure *cur is closed (negative).
 */
static int walk_up(resolver *r, int *cur, char *res, size_t *rlen, size_t *depth, ccp_err *e)
{
	while (*rlen > 0 && res[*rlen - 1] != '/')
		(*rlen)--;
	if (*rlen > 0)
		(*rlen)--;
	res[*rlen] = '\0';
	if (*depth > 0)
		(*depth)--;
	close(*cur);
	if ((*cur = ccp_open_beneath_nofollow(r, res, O_PATH | O_DIRECTORY)) < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, -*cur, "reopening %s", *res ? res : "/");
	return 0;
}

/*
 * The symlink's target (link, ln bytes) replaces the walked part of rem: rem becomes link, '/', then
 * the rest after *p; the walk goes on from its start.
 */
static int splice_link(char *rem, size_t remsz, size_t *p, size_t *remlen, const char *link, size_t ln,
		       const char *rel, ccp_err *e)
{
	size_t rest = *remlen - *p;

	if (ln + 1 + rest + 1 > remsz)
		return ccp_err_set(e, CCP_ELAYER, "path too long resolving %.200s", rel);
	memmove(rem + ln + 1, rem + *p, rest + 1);
	memcpy(rem, link, ln);
	rem[ln] = '/';
	*remlen = ln + 1 + rest;
	*p = 0;
	return 0;
}

/* A missing directory comp under cur (path res) is made: 0755, root-owned with same_owner. */
static int make_missing(resolver *r, int cur, const char *comp, const char *res, ccp_err *e)
{
	if (mkdirat(cur, comp, 0755) == 0) {
		/* Exact mode whatever the umask; owned by root as the layer did not say. */
		if (fchmodat(cur, comp, 0755, 0) < 0 ||
		    (r->same_owner && fchownat(cur, comp, 0, 0, AT_SYMLINK_NOFOLLOW) < 0))
			return ccp_err_errno(e, CCP_ESTORAGE, errno, "creating directory %s/%s", res, comp);
		r->n_created++;
		return tell_made_dir(r, res, comp, 1, e);
	}
	if (errno == EEXIST)
		return 0;
	return ccp_err_errno(e, errno == ENAMETOOLONG ? CCP_ELAYER : CCP_ESTORAGE, errno,
			     "creating directory %s/%s", res, comp);
}

/* The walk: one component at a time from the root, O_NOFOLLOW, symlinks resolved here in-root. */
static int walk(resolver *r, const char *rel, int create, int *out, char *res, int *via_symlink, ccp_err *e)
{
	char rem[2 * CCP_UNPACK_PATH_MAX + 2], link[CCP_UNPACK_PATH_MAX + 1], comp[256];
	size_t p = 0, rlen = 0, depth = 0, remlen = strlen(rel);
	unsigned nlinks = 0;
	int cur, fd, rc = 0;

	if (remlen >= sizeof(rem))
		return ccp_err_set(e, CCP_ELAYER, "path too long: %.200s", rel);
	memcpy(rem, rel, remlen + 1);
	res[0] = '\0';
	if ((cur = openat(r->root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "opening the root directory");

	while (rem[p]) {
		size_t c = p, n;
		ssize_t ln;

		while (rem[p] && rem[p] != '/')
			p++;
		n = p - c;
		if (rem[p])
			p++;
		if (n == 0 || (n == 1 && rem[c] == '.'))
			continue;
		if (n == 2 && rem[c] == '.' && rem[c + 1] == '.') {
			if ((rc = walk_up(r, &cur, res, &rlen, &depth, e)) < 0)
				return rc;
			continue;
		}
		if (n >= sizeof(comp)) {
			rc = ccp_err_set(e, CCP_ELAYER, "path component too long in %.200s", rel);
			goto out;
		}
		memcpy(comp, rem + c, n);
		comp[n] = '\0';
	again:
		fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			if (++depth > CCP_UNPACK_DEPTH_MAX || rlen + 1 + n > CCP_UNPACK_PATH_MAX) {
				close(fd);
				rc = ccp_err_set(e, CCP_ELAYER, "resolved path too long or deep: %.200s", rel);
				goto out;
			}
			if (rlen)
				res[rlen++] = '/';
			memcpy(res + rlen, comp, n + 1);
			rlen += n;
			close(cur);
			cur = fd;
			continue;
		}
		if (errno == ENOTDIR || errno == ELOOP) {
			ln = readlinkat(cur, comp, link, sizeof(link));
			if (ln < 0 && errno == EINVAL && r->direct && create) {
				if ((rc = replace_whiteout(r, cur, comp, res, e)) == 0)
					goto again;
				goto out;
			}
			if (ln < 0) {
				rc = errno == EINVAL ? -ENOTDIR
						     : ccp_err_errno(e, CCP_ESTORAGE, errno, "reading link %s/%s", res, comp);
				goto out;
			}
			if ((size_t)ln >= sizeof(link) || ln == 0) {
				rc = ccp_err_set(e, CCP_ELAYER, "bad symlink %s/%s", res, comp);
				goto out;
			}
			if (++nlinks > UNPACK_MAX_SYMLINKS) {
				rc = ccp_err_set(e, CCP_ELAYER, "too many levels of symbolic links resolving %.200s", rel);
				goto out;
			}
			*via_symlink = 1;
			if ((rc = splice_link(rem, sizeof(rem), &p, &remlen, link, (size_t)ln, rel, e)) < 0)
				goto out;
			if (link[0] == '/') {
				/* Absolute targets restart at the root (chroot semantics). */
				close(cur);
				if ((cur = openat(r->root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
					return ccp_err_errno(e, CCP_ESTORAGE, errno, "opening the root directory");
				rlen = 0;
				depth = 0;
				res[0] = '\0';
			}
			continue;
		}
		if (errno == ENOENT && create) {
			if ((rc = make_missing(r, cur, comp, res, e)) < 0)
				goto out;
			goto again;
		}
		if (errno == ENOENT) {
			rc = -ENOENT;
			goto out;
		}
		rc = ccp_err_errno(e, errno == ENAMETOOLONG ? CCP_ELAYER : CCP_ESTORAGE, errno, "opening %s/%s", res,
				   comp);
		goto out;
	}
	*out = cur;
	return 0;
out:
	close(cur);
	return rc;
}

int ccp_resolve_dir(resolver *r, const char *rel, int create, int *fd, char *resolved, int *via_symlink, ccp_err *e)
{
	*via_symlink = 0;
	r->n_created = 0;
	if (!*rel) {
		resolved[0] = '\0';
		if ((*fd = openat(r->root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
			return ccp_err_errno(e, CCP_ESTORAGE, errno, "opening the root directory");
		return 0;
	}
	if (r->use_openat2) {
		/*
		 * The kernel resolves plain paths in one call. A path through a symlink (ELOOP here) goes
		 * through the walk, which follows it with the same chroot semantics as RESOLVE_IN_ROOT and
		 * also yields the resolved path that whiteouts need to tell this layer's paths apart.
		 */
		int nfd = sys_openat2(r->root_fd, rel, O_PATH | O_DIRECTORY,
				      RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS);
		if (nfd >= 0) {
			size_t n = strlen(rel);
			memcpy(resolved, rel, n + 1);
			*fd = nfd;
			return 0;
		}
		if (openat2_unavailable(errno))
			r->use_openat2 = 0;
		else if (errno != ELOOP && errno != ENOENT && errno != ENOTDIR && errno != EAGAIN && errno != EXDEV)
			return ccp_err_errno(e, errno == ENAMETOOLONG ? CCP_ELAYER : CCP_ESTORAGE, errno,
					     "resolving %.200s", rel);
	}
	return walk(r, rel, create, fd, resolved, via_symlink, e);
}

/*
 * Opens rel (cleaned) inside the root with flags, every symlink on the way resolved inside it, the
 * last component's too: openat2 RESOLVE_IN_ROOT, or the walk for the parent and the last component
 * followed here by hand. -ENOENT when the path is missing or goes through a non-directory.
 */
static int open_followed(resolver *r, const char *rel, int flags, int *fd, ccp_err *e)
{
	char cur[CCP_UNPACK_PATH_MAX + 1], res[CCP_UNPACK_PATH_MAX + 1], link[CCP_UNPACK_PATH_MAX + 1];
	char joined[2 * CCP_UNPACK_PATH_MAX + 2];
	unsigned hops = 0;
	int pfd, via, rc;

	if (r->use_openat2) {
		int nfd = sys_openat2(r->root_fd, rel, (uint64_t)flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
		if (nfd >= 0) {
			*fd = nfd;
			return 0;
		}
		if (errno == ENOENT || errno == ENOTDIR)
			return -ENOENT;
		if (errno == ELOOP)
			return ccp_err_set(e, CCP_ELAYER, "too many levels of symbolic links resolving /%.200s", rel);
		if (openat2_unavailable(errno))
			r->use_openat2 = 0;
		else if (errno != EAGAIN && errno != EXDEV)
			return ccp_err_errno(e, errno == ENAMETOOLONG ? CCP_ELAYER : CCP_ESTORAGE, errno,
					     "opening /%.200s", rel);
	}
	snprintf(cur, sizeof(cur), "%s", rel);
	for (;;) {
		char *name = strrchr(cur, '/');
		const char *parent = "";
		struct stat st;
		ssize_t ln;

		if (name) {
			*name++ = '\0';
			parent = cur;
		} else {
			name = cur;
		}
		rc = ccp_resolve_dir(r, parent, 0, &pfd, res, &via, e);
		if (rc == -ENOENT || rc == -ENOTDIR)
			return -ENOENT;
		if (rc < 0)
			return rc;
		if (!*name) { /* the root itself */
			*fd = openat(pfd, ".", flags | O_CLOEXEC);
			rc = *fd < 0 ? ccp_err_errno(e, CCP_ESTORAGE, errno, "opening /") : 0;
			close(pfd);
			return rc;
		}
		if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = errno == ENOENT || errno == ENOTDIR ? -ENOENT
								 : ccp_err_errno(e, CCP_ESTORAGE, errno, "stat /%s/%s", res, name);
			close(pfd);
			return rc;
		}
		if (!S_ISLNK(st.st_mode)) {
			*fd = openat(pfd, name, flags | O_NOFOLLOW | O_CLOEXEC);
			rc = *fd >= 0 ? 0
			     : errno == ENOENT ? -ENOENT
					       : ccp_err_errno(e, CCP_ESTORAGE, errno, "opening /%s%s%s", res, *res ? "/" : "",
							       name);
			close(pfd);
			return rc;
		}
		ln = readlinkat(pfd, name, link, sizeof(link));
		close(pfd);
		if (ln <= 0 || (size_t)ln >= sizeof(link))
			return ln < 0 ? ccp_err_errno(e, CCP_ESTORAGE, errno, "reading link /%s/%s", res, name)
				      : ccp_err_set(e, CCP_ELAYER, "bad symlink /%s/%s", res, name);
		link[ln] = '\0';
		if (++hops > UNPACK_MAX_SYMLINKS)
			return ccp_err_set(e, CCP_ELAYER, "too many levels of symbolic links resolving /%.200s", rel);
		/* res has no symlinks in it: ".." in the target can be taken lexically. */
		snprintf(joined, sizeof(joined), "%s/%s", link[0] == '/' ? "" : res, link);
		if ((rc = ccp_clean_path(joined, cur, sizeof(cur), "symlink target", e)) < 0)
			return ccp_err_wrap(e, "resolving /%.200s", rel);
	}
}

/* "a FIFO", "a directory"... for messages. */
static const char *kind_of(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFIFO: return "a FIFO";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	case S_IFSOCK: return "a socket";
	case S_IFLNK: return "a symlink";
	default: return "not a regular file";
	}
}

int ccp_unpack_read_in_root(int root_fd, const char *path, size_t max, int force_walk, ccp_buf *out, ccp_err *e)
{
	resolver r;
	char rel[CCP_UNPACK_PATH_MAX + 1], chunk[4096];
	struct stat st, st2;
	int fd, rc;
	ssize_t n;

	memset(&r, 0, sizeof(r));
	r.root_fd = root_fd;
	r.use_openat2 = !force_walk;
	if ((rc = ccp_clean_path(path, rel, sizeof(rel), "path", e)) < 0)
		return rc;
	/* O_PATH first: what is there is looked at before anything is opened (opening a device node
	 * is already an action of its driver, opening a FIFO can block). */
	if ((rc = open_followed(&r, rel, O_PATH, &fd, e)) < 0)
		return rc;
	if (fstat(fd, &st) < 0) {
		rc = ccp_err_errno(e, CCP_ESTORAGE, errno, "stat /%s", rel);
		close(fd);
		return rc;
	}
	close(fd);
	if (S_ISDIR(st.st_mode))
		return -ENOENT; /* no file there, and nothing that could block or act */
	if (!S_ISREG(st.st_mode))
		return ccp_err_set(e, CCP_ELAYER, "/%s in the image is %s, not a regular file", rel, kind_of(st.st_mode));
	if ((uint64_t)st.st_size > max)
		return ccp_err_set(e, CCP_ELAYER, "/%s in the image is larger than %zu bytes", rel, max);
	/* Nothing writes to the rootfs meanwhile; O_NONBLOCK and the identity check cover it anyway. */
	if ((rc = open_followed(&r, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY, &fd, e)) < 0)
		return rc == -ENOENT ? ccp_err_set(e, CCP_ELAYER, "/%s in the image changed while it was read", rel) : rc;
	if (fstat(fd, &st2) < 0 || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino || !S_ISREG(st2.st_mode)) {
		close(fd);
		return ccp_err_set(e, CCP_ELAYER, "/%s in the image changed while it was read", rel);
	}
	out->max = max;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if ((rc = ccp_buf_append(out, chunk, (size_t)n)) != 0) {
			close(fd);
			return rc == CCP_ENOMEM ? ccp_err_oom(e)
						: ccp_err_set(e, CCP_ELAYER, "/%s in the image is larger than %zu bytes", rel, max);
		}
	}
	rc = n < 0 ? ccp_err_errno(e, CCP_ESTORAGE, errno, "reading /%s", rel) : 0;
	close(fd);
	return rc;
}
