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

static int rm_children(int fd)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int r = 0;

	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((r = ccp_rm_rf_at(dirfd(d), de->d_name)) < 0)
			break;
	}
	closedir(d);
	return r;
}

int ccp_rm_rf_at(int dirfd, const char *name)
{
	struct stat st;
	int fd, r;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if ((r = rm_children(fd)) < 0)
		return r;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	return 0;
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
	if (fsync(fd) < 0) {
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
