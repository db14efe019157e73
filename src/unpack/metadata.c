/*
 * Metadata of unpacked entries: the allow-listed xattrs, owner (or its record without same_owner),
 * mode and times, set on an fd or, for nodes that must not be opened, by name on the parent fd.
 */
#include "unpack/unpack.h"
#include "unpack/unpack_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

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
		return (errno == ENOTSUP || errno == EOPNOTSUPP) ? 0 : ccp_unpack_io_err(e, errno, "listing xattrs of", path);
	for (p = u->xlist; p < u->xlist + n; p += strlen(p) + 1) {
		if (!ccp_unpack_xattr_allowed(p) || entry_has_xattr(ent, p))
			continue;
		if (fremovexattr(fd, p) < 0 && errno != ENODATA && errno != ENOTSUP && errno != EOPNOTSUPP &&
		    !(errno == EPERM && !u->same_owner))
			return ccp_unpack_io_err(e, errno, "removing xattr of", path);
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
		return ccp_unpack_io_err(e, errno, "setting xattr on", path);
	}
	return 0;
}

/* Limits on the xattrs an entry carries, checked before anything is made. */
int ccp_unpack_check_xattrs(struct archive_entry *ent, const char *path, ccp_err *e)
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

void ccp_unpack_entry_times(struct archive_entry *ent, struct timespec ts[2])
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
			return ccp_unpack_io_err(e, errno, "clearing the recorded owner of", path);
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
int ccp_unpack_meta_fd(unpack *u, int fd, struct archive_entry *ent, const char *path, int kept, int is_reg,
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
			return ccp_unpack_io_err(e, errno, "chown", path);
		chowned = 1;
	}
	if ((!fresh || chowned || (fresh->st_mode & 07777) != perm) && fchmod(fd, perm) < 0)
		return ccp_unpack_io_err(e, errno, "chmod", path);
	if (kept && (rc = clear_xattrs(u, fd, ent, path, e)) < 0)
		return rc;
	if ((rc = set_xattrs(u, fd, ent, path, e)) < 0)
		return rc;
	if (!u->same_owner && (rc = record_owner(fd, uid, gid, path, e)) < 0)
		return rc;
	if (is_reg) {
		struct timespec ts[2];
		ccp_unpack_entry_times(ent, ts);
		if (futimens(fd, ts) < 0)
			return ccp_unpack_io_err(e, errno, "setting times of", path);
	}
	return 0;
}

/* Metadata of a node that must not be opened (symlink, fifo, device), by name on its parent fd. */
int ccp_unpack_meta_at(unpack *u, int pfd, const char *name, struct archive_entry *ent, const char *path,
		       int chmod_it, ccp_err *e)
{
	struct timespec ts[2];
	uid_t uid = 0;
	gid_t gid = 0;
	int rc;

	if ((rc = entry_owner(ent, path, &uid, &gid, e)) < 0)
		return rc;
	if (u->same_owner && fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return ccp_unpack_io_err(e, errno, "chown", path);
	if (chmod_it && fchmodat(pfd, name, archive_entry_perm(ent) & 07777, AT_SYMLINK_NOFOLLOW) < 0) {
		struct stat st;
		/* Without fchmodat2, chmod the node we just made (we are the only writer of the tree). */
		if ((errno != ENOTSUP && errno != EOPNOTSUPP) || fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    S_ISLNK(st.st_mode) || fchmodat(pfd, name, archive_entry_perm(ent) & 07777, 0) < 0)
			return ccp_unpack_io_err(e, errno, "chmod", path);
	}
	ccp_unpack_entry_times(ent, ts);
	if (utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return ccp_unpack_io_err(e, errno, "setting times of", path);
	return 0;
}
