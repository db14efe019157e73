/*
 * The layer writer: libarchive parses the tar stream, everything on disk is done here through
 * directory fds (see unpack.h). Semantics follow umoci's TarExtractor (upper paths, whiteouts that
 * only reach lower layers, root entry rules) with containerd's deferred directory times.
 */
#include "unpack/unpack.h"
#include "unpack/unpack_int.h"
#include "util/fs.h"

#include <archive.h>
#include <archive_entry.h>
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

#define WH_PREFIX ".wh."
#define WH_META_PREFIX ".wh..wh."
#define WH_OPAQUE ".wh..wh..opq"
#define TAR_BLOCK 512
#define PATHBUF (CCP_UNPACK_PATH_MAX + 1)
#define FULLBUF (2 * CCP_UNPACK_PATH_MAX + 2)
#define XATTR_LIST_CAP (64 * 1024)

static const unsigned char zero_blocks[3 * TAR_BLOCK];

typedef struct unpack {
	resolver r;
	uint64_t max_entries, n_entries, max_bytes, bytes;
	int same_owner;
	ccp_unpack_direct *direct; /* NULL: the lower layers are visible under the root */
	const int *lower_fds;      /* the layers under the root's overlay mount, top-most first */
	size_t n_lowers;
	lower_links *links;        /* per lower layer, for hardlinks to their files */
	uint64_t *n_relinked;      /* opts->n_relinked */
	path_set ps;
	struct archive *a;

	/* The tar source, with enough history to read back the raw header of each entry. */
	ccp_unpack_read_fn read;
	void *payload;
	ccp_err src_err;
	int src_code;
	int src_eof, synth_done;
	uint64_t pos, data_end, next_header; /* next_header: where the next entry's headers start */
	const unsigned char *cur;
	size_t cur_len;
	uint64_t cur_start;
	unsigned char hist[TAR_BLOCK];
	size_t hist_len;

	/* The last parent directory resolved without symlinks, reused by following entries. */
	int cache_fd;
	char cache_path[PATHBUF];
	int tmp_fd; /* a parent reached through a symlink, valid for one entry */

	char name[PATHBUF], parent_res[PATHBUF], target[PATHBUF], target_res[PATHBUF];
	char full[FULLBUF], whpath[FULLBUF];
	char *xlist;
} unpack;

/* ---- the tar source ---- */

/*
 * Keeps the last TAR_BLOCK bytes seen before the current block. It must run before the source is
 * asked for more: the source may refill the very buffer the current block points into.
 */
static void retire_block(unpack *u)
{
	if (u->cur_len >= TAR_BLOCK) {
		memcpy(u->hist, u->cur + u->cur_len - TAR_BLOCK, TAR_BLOCK);
		u->hist_len = TAR_BLOCK;
	} else if (u->cur_len > 0) {
		size_t keep = u->hist_len + u->cur_len > TAR_BLOCK ? TAR_BLOCK - u->cur_len : u->hist_len;
		memmove(u->hist, u->hist + u->hist_len - keep, keep);
		memcpy(u->hist + keep, u->cur, u->cur_len);
		u->hist_len = keep + u->cur_len;
	}
	u->cur_len = 0;
}

static void push_block(unpack *u, const unsigned char *b, size_t n)
{
	u->cur = b;
	u->cur_len = n;
	u->cur_start = u->pos;
	u->pos += n;
}

static la_ssize_t src_read(struct archive *a, void *payload, const void **buf)
{
	unpack *u = payload;
	ssize_t n;
	size_t pad;

	retire_block(u);
	if (u->src_eof) {
		if (u->synth_done)
			return 0;
		/*
		 * Go's archive/tar (containerd, umoci) accepts a stream that ends right after an entry's data
		 * or at a block boundary between headers, with or without end-of-archive blocks (umoci
		 * insert writes such layers). Supply the missing padding and end blocks in exactly those
		 * cases; anything else stays a truncated stream.
		 */
		u->synth_done = 1;
		if (u->pos == u->data_end)
			pad = (TAR_BLOCK - u->pos % TAR_BLOCK) % TAR_BLOCK + 2 * TAR_BLOCK;
		else if (u->pos > u->data_end && u->pos % TAR_BLOCK == 0)
			pad = 2 * TAR_BLOCK;
		else
			return 0;
		*buf = zero_blocks;
		push_block(u, zero_blocks, pad);
		return (la_ssize_t)pad;
	}
	n = u->read(u->payload, buf, &u->src_err);
	if (n < 0) {
		u->src_code = (int)n;
		if (!u->src_err.code)
			ccp_err_set(&u->src_err, (int)n, "reading the layer stream failed");
		archive_set_error(a, EIO, "%s", u->src_err.msg);
		return -1;
	}
	if (n == 0) {
		u->src_eof = 1;
		return src_read(a, payload, buf);
	}
	push_block(u, *buf, (size_t)n);
	return n;
}

/* Copies the TAR_BLOCK bytes at stream offset off (before the current position) into out. */
static int raw_block(const unpack *u, uint64_t off, unsigned char *out)
{
	size_t i;

	if (off + TAR_BLOCK > u->pos || off + u->hist_len < u->cur_start)
		return -1;
	for (i = 0; i < TAR_BLOCK; i++) {
		uint64_t o = off + i;
		if (o >= u->cur_start)
			out[i] = u->cur[o - u->cur_start];
		else
			out[i] = u->hist[u->hist_len - (size_t)(u->cur_start - o)];
	}
	return 0;
}

/* The error of a failed libarchive call: the source's own error first, else a layer error. */
static int archive_fail(unpack *u, const char *what, ccp_err *e)
{
	if (u->src_code) {
		*e = u->src_err;
		return u->src_code;
	}
	if (u->src_eof && u->cur != zero_blocks)
		return ccp_err_set(e, CCP_ELAYER, "truncated layer: %s: %s", what,
				   archive_error_string(u->a) ? archive_error_string(u->a) : "unexpected end");
	return ccp_err_set(e, CCP_ELAYER, "malformed tar: %s: %s", what,
			   archive_error_string(u->a) ? archive_error_string(u->a) : "unknown error");
}

/* ---- helpers ---- */

static int io_err(ccp_err *e, int err, const char *what, const char *path)
{
	int code = (err == ENAMETOOLONG || err == ELOOP) ? CCP_ELAYER : CCP_ESTORAGE;
	return ccp_err_errno(e, code, err, "%s /%s", what, path);
}

static void join_path(char *out, const char *dir, const char *name)
{
	if (*dir)
		snprintf(out, FULLBUF, "%s/%s", dir, name);
	else
		snprintf(out, FULLBUF, "%s", name);
}

/* Drops the cached parent when path (and, with self, path itself) is removed or replaced. */
static void invalidate(unpack *u, const char *path, int self)
{
	size_t n = strlen(path);

	if (u->cache_fd < 0)
		return;
	if ((self && strcmp(u->cache_path, path) == 0) ||
	    (n == 0 && u->cache_path[0]) ||
	    (n > 0 && strncmp(u->cache_path, path, n) == 0 && u->cache_path[n] == '/')) {
		close(u->cache_fd);
		u->cache_fd = -1;
	}
}

static int snapshot_dir(unpack *u, int fd, const char *res, ccp_err *e)
{
	struct stat st;
	struct timespec ts[2];

	if (pset_has_dir_time(&u->ps, res))
		return 0;
	if (fstat(fd, &st) < 0)
		return io_err(e, errno, "stat", res);
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	return pset_dir_time(&u->ps, res, ts, 0, e);
}

/* The parent directory of an entry, created when missing; the fd stays owned by u. */
static int get_parent(unpack *u, const char *parent, const char *entry, int *fd, ccp_err *e)
{
	int nfd, via = 0, rc;

	if (u->cache_fd >= 0 && strcmp(u->cache_path, parent) == 0) {
		*fd = u->cache_fd;
		memcpy(u->parent_res, u->cache_path, strlen(u->cache_path) + 1);
		return 0;
	}
	rc = resolve_dir(&u->r, parent, 1, &nfd, u->parent_res, &via, e);
	if (rc == -ENOTDIR || rc == -ENOENT)
		return ccp_err_set(e, CCP_ELAYER, "entry %s: a parent is not a directory", entry);
	if (rc < 0)
		return ccp_err_wrap(e, "entry %s", entry);
	if ((rc = snapshot_dir(u, nfd, u->parent_res, e)) < 0) {
		close(nfd);
		return rc;
	}
	if (via) {
		if (u->tmp_fd >= 0)
			close(u->tmp_fd);
		u->tmp_fd = nfd;
	} else {
		if (u->cache_fd >= 0)
			close(u->cache_fd);
		u->cache_fd = nfd;
		memcpy(u->cache_path, parent, strlen(parent) + 1);
	}
	*fd = nfd;
	return 0;
}

static int remove_existing(unpack *u, int pfd, const char *name, const char *full, ccp_err *e)
{
	int rc = ccp_rm_rf_at(pfd, name);

	invalidate(u, full, 1);
	if (rc < 0)
		return io_err(e, -rc, "removing", full);
	/* Direct mode: whatever is made here next is not the parent directory that was recorded. */
	if (u->direct && (rc = pset_set_implicit(&u->ps, full, 0, e)) < 0)
		return rc;
	return 0;
}

/* ---- metadata ---- */

int ccp_unpack_xattr_allowed(const char *name)
{
	if (strncmp(name, "user.", 5) == 0)
		return strncmp(name, "user.overlay.", 13) != 0;
	return strcmp(name, "security.capability") == 0;
}

static int entry_has_xattr(struct archive_entry *ent, const char *name)
{
	const char *n;
	const void *v;
	size_t sz;

	archive_entry_xattr_reset(ent);
	while (archive_entry_xattr_next(ent, &n, &v, &sz) == ARCHIVE_OK)
		if (strcmp(n, name) == 0)
			return 1;
	return 0;
}

/* Removes allow-listed xattrs that the entry does not carry (a kept directory gets the entry's set). */
static int clear_xattrs(unpack *u, int fd, struct archive_entry *ent, const char *path, ccp_err *e)
{
	ssize_t n;
	char *p;

	if (!u->xlist && !(u->xlist = malloc(XATTR_LIST_CAP)))
		return ccp_err_oom(e);
	n = flistxattr(fd, u->xlist, XATTR_LIST_CAP);
	if (n < 0)
		return (errno == ENOTSUP || errno == EOPNOTSUPP) ? 0 : io_err(e, errno, "listing xattrs of", path);
	for (p = u->xlist; p < u->xlist + n; p += strlen(p) + 1) {
		if (!ccp_unpack_xattr_allowed(p) || entry_has_xattr(ent, p))
			continue;
		if (fremovexattr(fd, p) < 0 && errno != ENODATA && errno != ENOTSUP && errno != EOPNOTSUPP &&
		    !(errno == EPERM && !u->same_owner))
			return io_err(e, errno, "removing xattr of", path);
	}
	return 0;
}

static int set_xattrs(unpack *u, int fd, struct archive_entry *ent, const char *path, ccp_err *e)
{
	const char *name;
	const void *val;
	size_t sz;

	archive_entry_xattr_reset(ent);
	while (archive_entry_xattr_next(ent, &name, &val, &sz) == ARCHIVE_OK) {
		/* Only user.* (not overlayfs' own) and file capabilities; never trusted.*, selinux, ACLs. */
		if (!ccp_unpack_xattr_allowed(name))
			continue;
		if (fsetxattr(fd, name, val ? val : "", sz, 0) == 0)
			continue;
		if (errno == ENOTSUP || errno == EOPNOTSUPP || (errno == EPERM && !u->same_owner))
			continue;
		if (errno == ERANGE || errno == E2BIG || errno == EINVAL)
			return ccp_err_errno(e, CCP_ELAYER, errno, "entry %s: xattr %s", path, name);
		return io_err(e, errno, "setting xattr on", path);
	}
	return 0;
}

/* Limits on the xattrs an entry carries, checked before anything is made. */
static int check_xattrs(struct archive_entry *ent, const char *path, ccp_err *e)
{
	const char *name;
	const void *val;
	size_t sz, n = 0, total = 0, nlen;

	archive_entry_xattr_reset(ent);
	while (archive_entry_xattr_next(ent, &name, &val, &sz) == ARCHIVE_OK) {
		nlen = name ? strlen(name) : 0;
		if (++n > CCP_UNPACK_XATTR_MAX)
			return ccp_err_set(e, CCP_ELAYER, "entry %.200s: more than %d xattrs", path,
					   CCP_UNPACK_XATTR_MAX);
		if (nlen == 0 || nlen > 255)
			return ccp_err_set(e, CCP_ELAYER, "entry %.200s: xattr name empty or longer than 255 bytes", path);
		if (sz > CCP_UNPACK_XATTR_VALUE_MAX)
			return ccp_err_set(e, CCP_ELAYER, "entry %.200s: xattr %s value of %zu bytes, more than %d", path,
					   name, sz, CCP_UNPACK_XATTR_VALUE_MAX);
		total += nlen + sz;
		if (total > CCP_UNPACK_XATTR_TOTAL_MAX)
			return ccp_err_set(e, CCP_ELAYER, "entry %.200s: xattrs larger than %d bytes", path,
					   CCP_UNPACK_XATTR_TOTAL_MAX);
	}
	return 0;
}

static void entry_times(struct archive_entry *ent, struct timespec ts[2])
{
	long mns = archive_entry_mtime_nsec(ent), ans;

	ts[1].tv_sec = (time_t)archive_entry_mtime(ent);
	ts[1].tv_nsec = (mns >= 0 && mns < 1000000000L) ? mns : 0;
	if (archive_entry_atime_is_set(ent)) {
		ans = archive_entry_atime_nsec(ent);
		ts[0].tv_sec = (time_t)archive_entry_atime(ent);
		ts[0].tv_nsec = (ans >= 0 && ans < 1000000000L) ? ans : 0;
	} else {
		ts[0] = ts[1];
	}
}

static int entry_owner(struct archive_entry *ent, const char *path, uid_t *uid, gid_t *gid, ccp_err *e)
{
	la_int64_t u = archive_entry_uid(ent), g = archive_entry_gid(ent);

	if (u < 0 || u >= 0xffffffffLL || g < 0 || g >= 0xffffffffLL)
		return ccp_err_set(e, CCP_ELAYER, "entry %s: uid/gid out of range", path);
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return 0;
}

/*
 * Without privileges an entry's owner cannot be applied; it is recorded as umoci's rootless mode
 * does, in a user.rootlesscontainers xattr holding the protobuf message {uint32 uid = 1; uint32 gid = 2}
 * (none for 0:0). The kernel keeps user.* xattrs on regular files and directories only, so other
 * entries (symlinks, fifos) keep the unpacking user's ownership, as with umoci.
 */
static size_t put_varint(unsigned char *p, uint32_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

static int record_owner(int fd, uid_t uid, gid_t gid, const char *path, ccp_err *e)
{
	unsigned char msg[2 + 2 * 5];
	size_t n = 0;

	if (uid == 0 && gid == 0) {
		if (fremovexattr(fd, "user.rootlesscontainers") < 0 && errno != ENODATA && errno != ENOTSUP)
			return io_err(e, errno, "clearing the recorded owner of", path);
		return 0;
	}
	if (uid) {
		msg[n++] = 0x08; /* field 1, varint */
		n += put_varint(msg + n, (uint32_t)uid);
	}
	if (gid) {
		msg[n++] = 0x10; /* field 2, varint */
		n += put_varint(msg + n, (uint32_t)gid);
	}
	if (fsetxattr(fd, "user.rootlesscontainers", msg, n, 0) < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, errno,
				     "%s: cannot record its owner %lu:%lu (an unprivileged pull needs user xattrs)", path,
				     (unsigned long)uid, (unsigned long)gid);
	return 0;
}

/*
 * Owner, then mode (chown clears setuid), xattrs and (files only) times, all on fd. fresh, when not
 * NULL, is the fstat of a file this unpack just created: an owner and mode it already has are not
 * set again (most files of an image are root's, and each setattr is costly through overlayfs).
 */
static int meta_fd(unpack *u, int fd, struct archive_entry *ent, const char *path, int kept, int is_reg,
		   const struct stat *fresh, ccp_err *e)
{
	mode_t perm = archive_entry_perm(ent) & 07777;
	uid_t uid = 0;
	gid_t gid = 0;
	int rc, chowned = 0;

	if ((rc = entry_owner(ent, path, &uid, &gid, e)) < 0)
		return rc;
	if (u->same_owner && !(fresh && fresh->st_uid == uid && fresh->st_gid == gid)) {
		if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return io_err(e, errno, "chown", path);
		chowned = 1;
	}
	if ((!fresh || chowned || (fresh->st_mode & 07777) != perm) && fchmod(fd, perm) < 0)
		return io_err(e, errno, "chmod", path);
	if (kept && (rc = clear_xattrs(u, fd, ent, path, e)) < 0)
		return rc;
	if ((rc = set_xattrs(u, fd, ent, path, e)) < 0)
		return rc;
	if (!u->same_owner && (rc = record_owner(fd, uid, gid, path, e)) < 0)
		return rc;
	if (is_reg) {
		struct timespec ts[2];
		entry_times(ent, ts);
		if (futimens(fd, ts) < 0)
			return io_err(e, errno, "setting times of", path);
	}
	return 0;
}

/* Metadata of a node that must not be opened (symlink, fifo, device), by name on its parent fd. */
static int meta_at(unpack *u, int pfd, const char *name, struct archive_entry *ent, const char *path,
		   int chmod_it, ccp_err *e)
{
	struct timespec ts[2];
	uid_t uid = 0;
	gid_t gid = 0;
	int rc;

	if ((rc = entry_owner(ent, path, &uid, &gid, e)) < 0)
		return rc;
	if (u->same_owner && fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return io_err(e, errno, "chown", path);
	if (chmod_it && fchmodat(pfd, name, archive_entry_perm(ent) & 07777, AT_SYMLINK_NOFOLLOW) < 0) {
		struct stat st;
		/* Without fchmodat2, chmod the node we just made (we are the only writer of the tree). */
		if ((errno != ENOTSUP && errno != EOPNOTSUPP) || fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    S_ISLNK(st.st_mode) || fchmodat(pfd, name, archive_entry_perm(ent) & 07777, 0) < 0)
			return io_err(e, errno, "chmod", path);
	}
	entry_times(ent, ts);
	if (utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return io_err(e, errno, "setting times of", path);
	return 0;
}

/* ---- whiteouts ---- */

static int wh_remove(unpack *u, int dirfd, const char *name, size_t plen, unsigned depth, ccp_err *e);

/* Removes the children of the directory fd that lower layers made; whpath[0..plen) is its path. */
static int wh_children(unpack *u, int fd, size_t plen, unsigned depth, ccp_err *e)
{
	struct dirent *de;
	DIR *d = fdopendir(fd);
	int rc = 0;

	if (!d) {
		rc = io_err(e, errno, "reading directory", u->whpath);
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
	if (!pset_is_upper(&u->ps, u->whpath, plen)) {
		if ((rc = ccp_rm_rf_at(dirfd, name)) < 0)
			return io_err(e, -rc, "removing", u->whpath);
		return 0;
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : io_err(e, errno, "stat", u->whpath);
	if (!S_ISDIR(st.st_mode))
		return 0;
	if ((fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return io_err(e, errno, "opening", u->whpath);
	return wh_children(u, fd, plen, depth, e);
}

/* Appends path to a direct-mode list (bounded by the layer's entries). */
static int record_path(char ***v, size_t *n, size_t *cap, const char *path, ccp_err *e)
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

static int set_opaque_at(int dirfd, const char *name, const char *path, ccp_err *e)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return io_err(e, errno, "opening", path);
	if (fsetxattr(fd, OVL_OPAQUE_XATTR, "y", 1, 0) < 0)
		rc = io_err(e, errno, "marking opaque", path);
	close(fd);
	return rc;
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
		return set_opaque_at(pfd, ".", u->parent_res, e);
	join_path(u->whpath, u->parent_res, tname);
	if (fstatat(pfd, tname, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (pset_is_upper(&u->ps, u->whpath, strlen(u->whpath)))
			return S_ISDIR(st.st_mode) ? set_opaque_at(pfd, tname, u->whpath, e) : 0;
		/* A directory made only for whiteouts, or an earlier whiteout: replaced by this one. */
		if ((rc = remove_existing(u, pfd, tname, u->whpath, e)) < 0)
			return rc;
	} else if (errno != ENOENT) {
		return io_err(e, errno, "stat", u->whpath);
	}
	if (mknodat(pfd, tname, S_IFCHR, makedev(0, 0)) < 0)
		return io_err(e, errno, "creating the whiteout", u->whpath);
	return record_path(&u->direct->whiteouts, &u->direct->n_whiteouts, &u->direct->cap_whiteouts, u->whpath, e);
}

static int do_whiteout(unpack *u, const char *parent, const char *base, const char *path, ccp_err *e)
{
	int pfd = -1, via, rc, opaque = strcmp(base, WH_OPAQUE) == 0;
	const char *tname = base + strlen(WH_PREFIX);
	size_t plen;

	if (!opaque && strncmp(base, WH_META_PREFIX, strlen(WH_META_PREFIX)) == 0)
		return 0; /* other AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): nothing to apply */
	if (!opaque && (!*tname || strcmp(tname, ".") == 0 || strcmp(tname, "..") == 0))
		return ccp_err_set(e, CCP_ELAYER, "entry %s: invalid whiteout", path);

	/* Direct mode: the parent may exist only below, so it is made here and completed later. */
	rc = resolve_dir(&u->r, parent, u->direct != NULL, &pfd, u->parent_res, &via, e);
	if (rc == -ENOENT || rc == -ENOTDIR)
		return 0; /* nothing below to hide */
	if (rc < 0)
		return ccp_err_wrap(e, "whiteout %s", path);
	if ((rc = snapshot_dir(u, pfd, u->parent_res, e)) < 0)
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
			rc = io_err(e, errno, "opening", u->whpath);
			goto out;
		}
		invalidate(u, u->whpath, 0);
		rc = wh_children(u, dfd, plen, 0, e);
	} else {
		join_path(u->whpath, u->parent_res, tname);
		invalidate(u, u->whpath, 1);
		rc = wh_remove(u, pfd, tname, strlen(u->whpath), 0, e);
	}
out:
	close(pfd);
	return rc;
}

/* ---- entries ---- */

static int write_data(unpack *u, int fd, const char *path, ccp_err *e)
{
	const void *buf;
	size_t len;
	la_int64_t off;
	uint64_t done = 0;
	hole_writer hw = { 0, 0 };
	int r, rc;

	for (;;) {
		r = archive_read_data_block(u->a, &buf, &len, &off);
		if (r == ARCHIVE_EOF) {
			if ((rc = hole_finish(&hw, fd)) < 0)
				return io_err(e, -rc, "writing", path);
			return 0;
		}
		if (r < ARCHIVE_WARN)
			return archive_fail(u, path, e);
		if (off < 0 || (uint64_t)off != done)
			return ccp_err_set(e, CCP_ELAYER, "entry %s: sparse data", path);
		u->bytes += len;
		if (u->max_bytes && u->bytes > u->max_bytes)
			return ccp_err_set(e, CCP_ELAYER, "layer has more than %llu bytes of file data",
					   (unsigned long long)u->max_bytes);
		if ((rc = hole_write(&hw, fd, buf, len)) < 0)
			return io_err(e, -rc, "writing", path);
		done += len;
	}
}

static int make_reg(unpack *u, int pfd, const char *name, struct archive_entry *ent, ccp_err *e)
{
	struct stat st;
	int fd, rc, tries;

	for (tries = 0;; tries++) {
		/* Created with the entry's permission bits (less the umask); setuid, setgid and sticky
		 * bits are only applied by meta_fd, after the owner. */
		fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    archive_entry_perm(ent) & 0777);
		if (fd >= 0)
			break;
		if (errno != EEXIST || tries > 0)
			return io_err(e, errno, "creating", u->full);
		if ((rc = remove_existing(u, pfd, name, u->full, e)) < 0)
			return rc;
	}
	if ((rc = write_data(u, fd, u->full, e)) == 0) {
		if (fstat(fd, &st) < 0)
			rc = io_err(e, errno, "stat", u->full);
		else
			rc = meta_fd(u, fd, ent, u->full, 0, 1, &st, e);
	}
	if (close(fd) < 0 && rc == 0)
		rc = io_err(e, errno, "closing", u->full);
	return rc;
}

static int make_dir(unpack *u, int pfd, const char *name, struct archive_entry *ent, ccp_err *e)
{
	struct timespec ts[2];
	struct stat st;
	int fd, rc, kept = 0, replaced = 0;

	if (mkdirat(pfd, name, 0700) < 0) {
		if (errno != EEXIST)
			return io_err(e, errno, "creating directory", u->full);
		if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return io_err(e, errno, "stat", u->full);
		if (S_ISDIR(st.st_mode)) {
			kept = 1; /* directory over directory: keep it, replace its attributes */
		} else {
			if ((rc = remove_existing(u, pfd, name, u->full, e)) < 0)
				return rc;
			if (mkdirat(pfd, name, 0700) < 0)
				return io_err(e, errno, "creating directory", u->full);
			replaced = 1;
		}
	}
	if ((fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return io_err(e, errno, "opening", u->full);
	rc = meta_fd(u, fd, ent, u->full, kept, 0, NULL, e);
	/* Made over a name this layer deleted: overlayfs would make it opaque. */
	if (rc == 0 && u->direct && replaced && fsetxattr(fd, OVL_OPAQUE_XATTR, "y", 1, 0) < 0)
		rc = io_err(e, errno, "marking opaque", u->full);
	/* The entry's metadata is final, not to be taken from below. */
	if (rc == 0 && u->direct && (rc = pset_set_implicit(&u->ps, u->full, 0, e)) > 0)
		rc = 0;
	close(fd);
	if (rc < 0)
		return rc;
	entry_times(ent, ts);
	return pset_dir_time(&u->ps, u->full, ts, 1, e);
}

/* Creates a node with fn, replacing whatever is there (once). */
#define CREATE_REPLACING(call)                                                        \
	do {                                                                          \
		int tries_;                                                           \
		for (tries_ = 0;; tries_++) {                                         \
			if ((call) == 0)                                              \
				break;                                                \
			if (errno != EEXIST || tries_ > 0)                            \
				return io_err(e, errno, "creating", u->full);         \
			if ((rc = remove_existing(u, pfd, name, u->full, e)) < 0)     \
				return rc;                                            \
		}                                                                     \
	} while (0)

static int make_symlink(unpack *u, int pfd, const char *name, struct archive_entry *ent, ccp_err *e)
{
	const char *target = archive_entry_symlink(ent);
	int rc;

	if (!target || !*target)
		return ccp_err_set(e, CCP_ELAYER, "entry %s: empty symlink target", u->full);
	if (strlen(target) > CCP_UNPACK_PATH_MAX)
		return ccp_err_set(e, CCP_ELAYER, "entry %s: symlink target longer than %d bytes", u->full,
				   CCP_UNPACK_PATH_MAX);
	/* Targets are kept verbatim: containment applies when a path is resolved, not here. */
	CREATE_REPLACING(symlinkat(target, pfd, name));
	return meta_at(u, pfd, name, ent, u->full, 0, e);
}

static int make_node(unpack *u, int pfd, const char *name, struct archive_entry *ent, mode_t type, ccp_err *e)
{
	mode_t mode = type | (archive_entry_perm(ent) & 0777);
	dev_t dev = type == S_IFIFO ? 0 : makedev(archive_entry_rdevmajor(ent), archive_entry_rdevminor(ent));
	int rc;

	CREATE_REPLACING(mknodat(pfd, name, mode, dev));
	return meta_at(u, pfd, name, ent, u->full, 1, e);
}

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

	if (strcmp(path, c->tpath) == 0 || pset_is_upper(&u->ps, path, strlen(path)))
		return 0; /* the target itself, or replaced by this layer */
	if ((rc = lower_file(u->lower_fds, u->n_lowers, path, &layer, &st, e)) <= 0)
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
	if ((pfd = open_beneath_nofollow(&u->r, dir, O_PATH | O_DIRECTORY)) < 0)
		return 0; /* deleted by this layer */
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
		close(pfd);
		return 0;
	}
	if ((rc = snapshot_dir(u, pfd, dir, e)) == 0 &&
	    (unlinkat(pfd, base, 0) < 0 || linkat(c->tfd, c->tname, pfd, base, 0) < 0))
		rc = io_err(e, errno, "hardlinking", path);
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

	if ((rc = lower_file(u->lower_fds, u->n_lowers, tpath, &c.layer, &st, e)) <= 0)
		return rc;
	if (!S_ISREG(st.st_mode) || st.st_nlink < 2)
		return 0;
	if (!u->links && !(u->links = calloc(u->n_lowers, sizeof(*u->links))))
		return ccp_err_oom(e);
	c.ino = st.st_ino;
	return lower_links_each(&u->links[c.layer], u->lower_fds[c.layer], c.ino, relink_one, &c, e);
}

static int make_hardlink(unpack *u, int pfd, const char *name, const char *path, const char *link,
			 ccp_err *e)
{
	char *tparent, *tname;
	struct stat st;
	int tfd, via, rc, tries;

	if ((rc = clean_path(link, u->target, sizeof(u->target), "hardlink target", e)) < 0)
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
	rc = resolve_dir(&u->r, tparent, 0, &tfd, u->target_res, &via, e);
	if (rc == -ENOENT || rc == -ENOTDIR)
		return missing_target(u, path, link, e);
	if (rc < 0)
		return ccp_err_wrap(e, "hardlink %s -> %s", path, link);
	if (fstatat(tfd, tname, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = errno == ENOENT || errno == ENOTDIR ? missing_target(u, path, link, e)
							: io_err(e, errno, "stat", link);
		goto out;
	}
	if (is_whiteout(&st)) {
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
			rc = io_err(e, errno, "hardlinking", u->full);
			goto out;
		}
		join_path(u->whpath, u->target_res, tname);
		if (strcmp(u->whpath, u->full) == 0) {
			rc = ccp_err_set(e, CCP_ELAYER, "hardlink %s: links to itself", path);
			goto out;
		}
		if ((rc = remove_existing(u, pfd, name, u->full, e)) < 0)
			goto out;
	}
	rc = 0;
	if (u->n_lowers) {
		char tpath[FULLBUF];
		join_path(tpath, u->target_res, tname);
		if (!pset_is_upper(&u->ps, tpath, strlen(tpath)))
			rc = relink_lower_names(u, tfd, tname, tpath, e);
	}
out:
	close(tfd);
	return rc;
}

/* Typeflags Go's archive/tar hands to containerd/umoci as something they can unpack. */
static int typeflag_ok(unsigned char t)
{
	return t == '0' || t == '\0' || (t >= '1' && t <= '6');
}

static int header_size_field_zero(const unsigned char *hdr)
{
	int i;

	for (i = 124; i < 136; i++)
		if (hdr[i] != '0' && hdr[i] != ' ' && hdr[i] != '\0')
			return 0;
	return 1;
}

static int apply_root(unpack *u, struct archive_entry *ent, ccp_err *e)
{
	struct timespec ts[2];
	int fd, rc;

	if (archive_entry_filetype(ent) != AE_IFDIR || archive_entry_hardlink(ent))
		return ccp_err_set(e, CCP_ELAYER, "refusing to change the type of the root directory");
	/* As umoci: a directory entry for the root applies its metadata to the root. */
	if ((fd = openat(u->r.root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return io_err(e, errno, "opening", "");
	rc = meta_fd(u, fd, ent, "", 1, 0, NULL, e);
	close(fd);
	if (rc < 0)
		return rc;
	entry_times(ent, ts);
	return pset_dir_time(&u->ps, "", ts, 1, e);
}

static int apply_entry(unpack *u, struct archive_entry *ent, ccp_err *e)
{
	const char *raw = archive_entry_pathname(ent), *link = archive_entry_hardlink(ent);
	unsigned char hdr[TAR_BLOCK];
	uint64_t data_start = (uint64_t)archive_filter_bytes(u->a, 0);
	la_int64_t size = archive_entry_size(ent);
	mode_t type = archive_entry_filetype(ent);
	char *base, *parent;
	int pfd = -1, rc;

	if (++u->n_entries > u->max_entries)
		return ccp_err_set(e, CCP_ELAYER, "layer has more than %llu entries",
				   (unsigned long long)u->max_entries);
	if (!raw)
		return ccp_err_set(e, CCP_ELAYER, "tar entry without a name");
	if (size < 0)
		return ccp_err_set(e, CCP_ELAYER, "entry %.200s: negative size", raw);
	u->data_end = data_start + (type == AE_IFREG && !link ? (uint64_t)size : 0);
	if (raw_block(u, data_start - TAR_BLOCK, hdr) < 0)
		return ccp_err_set(e, CCP_ELAYER, "entry %.200s: cannot locate its tar header", raw);
	if (!typeflag_ok(hdr[156]))
		return ccp_err_set(e, CCP_ELAYER, "entry %.200s: unsupported tar typeflag 0x%02x", raw, hdr[156]);
	if (archive_entry_sparse_count(ent) > 0)
		return ccp_err_set(e, CCP_ELAYER, "entry %.200s: sparse files are not supported", raw);
	if ((type != AE_IFREG || link) && (size > 0 || !header_size_field_zero(hdr)))
		return ccp_err_set(e, CCP_ELAYER, "entry %.200s: non-regular entry with a data size", raw);
	/* PAX and GNU long-name headers before this one (libarchive buffers them whole). */
	if (data_start - TAR_BLOCK - u->next_header > CCP_UNPACK_HEADER_MAX)
		return ccp_err_set(e, CCP_ELAYER, "entry %.200s: extended headers larger than %d bytes", raw,
				   CCP_UNPACK_HEADER_MAX);
	u->next_header = u->data_end + (TAR_BLOCK - u->data_end % TAR_BLOCK) % TAR_BLOCK;
	/* A bomb declares its size up front: refuse it before writing a byte. */
	if (u->max_bytes && (uint64_t)size > u->max_bytes - u->bytes)
		return ccp_err_set(e, CCP_ELAYER, "entry %.200s declares %lld bytes, more than the %llu bytes left for the layer",
				   raw, (long long)size, (unsigned long long)(u->max_bytes - u->bytes));
	if ((rc = check_xattrs(ent, raw, e)) < 0)
		return rc;
	if (type == AE_IFCHR || type == AE_IFBLK) {
		/* Linux device numbers: 12-bit major, 20-bit minor; anything else aliases another device. */
		unsigned long ma = (unsigned long)archive_entry_rdevmajor(ent), mi = (unsigned long)archive_entry_rdevminor(ent);
		if (ma > 0xfff || mi > 0xfffff)
			return ccp_err_set(e, CCP_ELAYER, "entry %.200s: device number %lu:%lu out of range", raw, ma, mi);
		/* 0:0 is overlayfs' whiteout: it cannot be stored in a layer applied through overlayfs. */
		if (type == AE_IFCHR && ma == 0 && mi == 0)
			return ccp_err_set(e, CCP_ELAYER, "entry %.200s: character device 0:0 (an overlay whiteout)", raw);
	}

	if ((rc = clean_path(raw, u->name, sizeof(u->name), "entry name", e)) < 0)
		return rc;
	if (!u->name[0])
		return apply_root(u, ent, e);

	base = strrchr(u->name, '/');
	if (base) {
		*base++ = '\0';
		parent = u->name;
	} else {
		base = u->name;
		parent = "";
	}
	/* Whiteout names are files: as a directory they would reach the tree as markers. */
	if (strncmp(parent, WH_PREFIX, strlen(WH_PREFIX)) == 0 || strstr(parent, "/" WH_PREFIX))
		return ccp_err_set(e, CCP_ELAYER, "entry %.200s: whiteout name used as a directory", raw);
	if (strncmp(base, WH_PREFIX, strlen(WH_PREFIX)) == 0) {
		join_path(u->full, parent, base);
		return do_whiteout(u, parent, base, u->full, e);
	}
	if (link) {
		/* A hardlink carries no type of its own (libarchive leaves it unset or regular). */
	} else if (type == AE_IFCHR || type == AE_IFBLK) {
		/* Device nodes need root; without same_owner they are skipped, as containerd does in a userns. */
		if (!u->same_owner)
			return 0;
	} else if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFIFO) {
		return ccp_err_set(e, CCP_ELAYER, "entry %.200s: unsupported file type", raw);
	}

	if ((rc = get_parent(u, parent, raw, &pfd, e)) < 0)
		return rc;
	join_path(u->full, u->parent_res, base);
	if (link)
		rc = make_hardlink(u, pfd, base, raw, link, e);
	else if (type == AE_IFREG)
		rc = make_reg(u, pfd, base, ent, e);
	else if (type == AE_IFDIR)
		rc = make_dir(u, pfd, base, ent, e);
	else if (type == AE_IFLNK)
		rc = make_symlink(u, pfd, base, ent, e);
	else
		rc = make_node(u, pfd, base, ent, type == AE_IFIFO ? S_IFIFO : type == AE_IFCHR ? S_IFCHR : S_IFBLK, e);
	if (rc < 0)
		return rc;
	return pset_add_upper(&u->ps, u->full, e);
}

/* Directory times last, re-resolved in the root without following any symlink. */
static int apply_dir_times(unpack *u, ccp_err *e)
{
	size_t i;

	for (i = 0; i < u->ps.n_dts; i++) {
		dir_time *d = &u->ps.dts[i];
		char *slash = strrchr(d->path, '/');
		const char *name = slash ? slash + 1 : d->path;
		struct stat st;
		int pfd = -1;

		if (!d->path[0]) {
			if (utimensat(u->r.root_fd, ".", d->ts, 0) < 0)
				return io_err(e, errno, "setting times of", "");
			continue;
		}
		if (slash)
			*slash = '\0';
		pfd = open_beneath_nofollow(&u->r, slash ? d->path : "", O_PATH | O_DIRECTORY);
		if (slash)
			*slash = '/';
		if (pfd < 0)
			continue; /* removed or replaced later in the layer */
		if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
		    utimensat(pfd, name, d->ts, AT_SYMLINK_NOFOLLOW) < 0) {
			int err = errno;
			close(pfd);
			return io_err(e, err, "setting times of", d->path);
		}
		close(pfd);
	}
	return 0;
}

/* Direct mode: a parent the layer made without naming it (implicit), or over a whiteout (not). */
static int record_made_dir(void *ctx, const char *path, int implicit, ccp_err *e)
{
	unpack *u = ctx;
	ccp_unpack_direct *d = u->direct;
	int was = pset_set_implicit(&u->ps, path, implicit, e);

	if (!implicit || was != 0)
		return was < 0 ? was : 0; /* made again after a removal: already listed */
	return record_path(&d->implicit, &d->n_implicit, &d->cap_implicit, path, e);
}

/* Drops from the list the directories an entry of the layer named after they were made. */
static void keep_implicit(unpack *u)
{
	ccp_unpack_direct *d = u->direct;
	size_t i, n = 0;

	for (i = 0; i < d->n_implicit; i++) {
		if (pset_is_implicit(&u->ps, d->implicit[i]))
			d->implicit[n++] = d->implicit[i];
		else
			free(d->implicit[i]);
	}
	d->n_implicit = n;
}

int ccp_unpack_stream(int root_fd, ccp_unpack_read_fn read, void *payload, const ccp_unpack_opts *opts,
		      ccp_err *e)
{
	static const ccp_unpack_opts defaults;
	struct archive_entry *ent;
	unpack *u;
	int rc, r;

	if (!opts)
		opts = &defaults;
	if (!(u = calloc(1, sizeof(*u))))
		return ccp_err_oom(e);
	u->cache_fd = u->tmp_fd = -1;
	u->read = read;
	u->payload = payload;
	u->same_owner = opts->same_owner;
	u->max_entries = opts->max_entries ? opts->max_entries : CCP_UNPACK_MAX_ENTRIES;
	u->max_bytes = opts->max_bytes;
	u->r.use_openat2 = !opts->force_fallback_walk;
	u->r.same_owner = opts->same_owner;
	u->lower_fds = opts->lower_fds;
	u->n_lowers = opts->lower_fds ? opts->n_lowers : 0;
	u->n_relinked = opts->n_relinked;
	if ((u->direct = opts->direct)) {
		u->r.direct = 1;
		u->r.made_dir = record_made_dir;
		u->r.made_dir_ctx = u;
	}
	if ((u->r.root_fd = openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = ccp_err_errno(e, CCP_ESTORAGE, errno, "opening the unpack root");
		free(u);
		return rc;
	}
	if ((rc = pset_init(&u->ps, u->max_entries * 4 + 1024, e)) < 0)
		goto out;
	if (!(u->a = archive_read_new())) {
		rc = ccp_err_oom(e);
		goto out;
	}
	/* Tar formats only (ustar, pax, GNU) and no filters: decompression happened upstream. */
	if (archive_read_support_format_tar(u->a) != ARCHIVE_OK ||
	    archive_read_open(u->a, u, NULL, src_read, NULL) != ARCHIVE_OK) {
		rc = archive_fail(u, "opening the tar stream", e);
		goto out;
	}
	for (;;) {
		if ((rc = ccp_cancel_check(opts->cancel, "unpacking", e)) < 0)
			goto out;
		r = archive_read_next_header(u->a, &ent);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			rc = archive_fail(u, "reading the next header", e);
			goto out;
		}
		if ((rc = apply_entry(u, ent, e)) < 0)
			goto out;
		if (u->tmp_fd >= 0) {
			close(u->tmp_fd);
			u->tmp_fd = -1;
		}
	}
	if ((rc = apply_dir_times(u, e)) == 0 && u->direct)
		keep_implicit(u);
out:
	if (u->a)
		archive_read_free(u->a);
	if (u->cache_fd >= 0)
		close(u->cache_fd);
	if (u->tmp_fd >= 0)
		close(u->tmp_fd);
	close(u->r.root_fd);
	pset_free(&u->ps);
	for (size_t i = 0; u->links && i < u->n_lowers; i++)
		lower_links_free(&u->links[i]);
	free(u->links);
	free(u->xlist);
	free(u);
	return rc;
}
