/* Filesystem helpers on directory fds (fs.h): the iterative removal walk, mkdir -p, atomic file writes, random ids. */
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/rand.h>

/* Removes name under dfd when it is not a directory or an empty one: 0 (also when missing), 1 when it
 * is a directory with entries, or -errno. */
static int rm_entry(int dfd, const char *name)
{
	int err;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	err = errno;
	if (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return 0;
	if (errno == ENOTEMPTY || errno == EEXIST)
		return 1;
	return errno == ENOTDIR ? -err : -errno;
}

static int dir_stream(int fd, DIR **d)
{
	int err;

	if (fd < 0)
		return -errno;
	if (!(*d = fdopendir(fd))) {
		err = errno;
		close(fd);
		return -err;
	}
	return 0;
}

/*
 * Empties the directory top (whose lstat is *topst) with one directory open at a time, whatever
 * its depth: a directory with entries is entered, and once it is empty the walk goes back to its
 * parent through "..", which is read again from its start (what it had before is gone) and so
 * removes the emptied directory. The inode of each directory on the way down is kept: a ".." that
 * is not the directory the walk came from (something moved meanwhile) starts the walk again from
 * top, so that it never leaves the tree. Another file system below (a mount point) is not entered.
 */
static int rm_tree(int top, const struct stat *topst)
{
	ino_t *stack = NULL, emptied = 0;
	size_t depth = 0, cap = 0;
	unsigned restarts = 0, again = 0;
	struct dirent *de;
	struct stat st;
	DIR *d = NULL;
	int fd, r;

	if ((r = dir_stream(openat(top, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), &d)) < 0)
		return r;
	for (;;) {
		errno = 0;
		if (!(de = readdir(d))) {
			if (errno) {
				r = -errno;
				break;
			}
			if (depth == 0) {
				r = 0;
				break;
			}
			/* This directory is empty now: back to its parent, which removes it when read again. */
			fd = openat(dirfd(d), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0 && fstat(dirfd(d), &st) == 0)
				emptied = st.st_ino;
			closedir(d);
			d = NULL;
			if (fd < 0 || fstat(fd, &st) < 0) {
				r = -errno;
				if (fd >= 0)
					close(fd);
				break;
			}
			depth--;
			if (st.st_dev != topst->st_dev || st.st_ino != stack[depth]) {
				close(fd);
				if (++restarts > CCP_RM_RESTARTS_MAX) {
					r = -ESTALE;
					break;
				}
				fd = openat(top, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				depth = 0;
			}
			if ((r = dir_stream(fd, &d)) < 0)
				break;
			continue;
		}
		if (de->d_name[0] == '.' && (de->d_name[1] == '\0' || (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		if ((r = rm_entry(dirfd(d), de->d_name)) < 0)
			break;
		if (r == 0)
			continue;
		/* A directory with entries: go down into it. */
		if ((fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			if (errno == ENOENT)
				continue;
			r = -errno;
			break;
		}
		if (fstat(fd, &st) < 0) {
			r = -errno;
			close(fd);
			break;
		}
		r = 0;
		if (st.st_dev != topst->st_dev)
			r = -EXDEV; /* a mount point: removing what is mounted there is not this walk's job */
		else if (depth + 1 >= CCP_RM_DEPTH_MAX)
			r = -ELOOP;
		else if (st.st_ino == emptied && ++again > 3)
			r = -ENOTEMPTY; /* refilled each time it is emptied */
		if (r == 0 && depth + 2 > cap) {
			size_t ncap = cap ? 2 * cap : 64;
			ino_t *n = realloc(stack, ncap * sizeof(*n));
			if (!n)
				r = -ENOMEM;
			else {
				stack = n;
				cap = ncap;
			}
		}
		if (r < 0) {
			close(fd);
			break;
		}
		if (st.st_ino != emptied)
			again = 0;
		if (depth == 0)
			stack[0] = topst->st_ino;
		stack[++depth] = st.st_ino;
		closedir(d);
		d = NULL;
		if ((r = dir_stream(fd, &d)) < 0)
			break;
	}
	if (d)
		closedir(d);
	free(stack);
	return r;
}

int ccp_rm_rf_at(int dirfd, const char *name)
{
	struct stat st;
	int top, r, tries;

	if ((r = rm_entry(dirfd, name)) <= 0)
		return r;
	if ((top = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(top, &st) < 0) {
		r = -errno;
		close(top);
		return r;
	}
	/* Entries made while the walk runs can leave it not empty: a few more rounds, then ENOTEMPTY. */
	for (tries = 0; tries < 3; tries++)
		if ((r = rm_tree(top, &st)) < 0 || (r = rm_entry(dirfd, name)) <= 0)
			break;
	close(top);
	return r > 0 ? -ENOTEMPTY : r;
}

int ccp_mkdirs(const char *path, unsigned mode, ccp_err *e)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return ccp_err_set(e, CCP_EINVALID, "invalid directory path `%s`", path);
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot create directory `%s`", buf);
		if (i < len)
			buf[i] = '/';
	}
	return 0;
}

int ccp_random_id(char *out, size_t nbytes, ccp_err *e)
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char raw[32];

	if (nbytes > sizeof(raw))
		nbytes = sizeof(raw);
	if (RAND_bytes(raw, (int)nbytes) != 1)
		return ccp_err_set(e, CCP_EINTERNAL, "no randomness available");
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = hexd[raw[i] >> 4];
		out[2 * i + 1] = hexd[raw[i] & 15];
	}
	out[2 * nbytes] = '\0';
	return 0;
}

int ccp_write_file_at(int dirfd, const char *name, const void *data, size_t len, unsigned mode, ccp_err *e)
{
	return ccp_write_file_at_sync(dirfd, name, data, len, mode, 1, e);
}

int ccp_write_file_at_sync(int dirfd, const char *name, const void *data, size_t len, unsigned mode, int durable,
			   ccp_err *e)
{
	char tmp[512], id[17];
	const char *p = data;
	int fd, r;

	if ((r = ccp_random_id(id, 8, e)) != 0)
		return r;
	/* the temporary file sits beside the target so the rename stays in one directory */
	const char *base = strrchr(name, '/');
	int dirlen = base ? (int)(base - name + 1) : 0;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%.*s.%s.tmp-%s", dirlen, name, base ? base + 1 : name, id) >=
	    sizeof(tmp))
		return ccp_err_set(e, CCP_EINTERNAL, "file name too long: `%s`", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot create `%s`", name);
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot write `%s`", name);
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	if (durable && fsync(fd) < 0) {
		r = ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot sync `%s`", name);
		goto fail;
	}
	close(fd);
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		r = ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot rename into `%s`", name);
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	return 0;
fail:
	close(fd);
	unlinkat(dirfd, tmp, 0);
	return r;
}
