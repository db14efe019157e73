/*
 * The names of a lower layer's hardlinked files, indexed by inode on first use. Through an overlay
 * mount, linking to a lower file copies up that one name: the unpacker then links the file's other
 * names to the copy, so the image keeps one inode (as umoci's single tree does).
 */
#include "unpack/unpack_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INDEX_BYTES_MAX (64u << 20)
#define INDEX_DEPTH_MAX (2 * CCP_UNPACK_DEPTH_MAX)

typedef struct build {
	lower_links *ll;
	char path[CCP_UNPACK_PATH_MAX + 1];
	size_t bytes;
} build;

static int add(build *b, ino_t ino, ccp_err *e)
{
	lower_links *ll = b->ll;
	size_t len = strlen(b->path);

	if (ll->n >= CCP_UNPACK_MAX_ENTRIES || b->bytes + len + 1 > INDEX_BYTES_MAX)
		return ccp_err_set(e, CCP_ELAYER, "a lower layer has too many hardlinked files to follow a hardlink into it");
	if (ll->n == ll->cap) {
		size_t ncap = ll->cap ? 2 * ll->cap : 64;
		lower_link *v = realloc(ll->v, ncap * sizeof(*v));
		if (!v)
			return ccp_err_oom(e);
		ll->v = v;
		ll->cap = ncap;
	}
	if (!(ll->v[ll->n].path = strdup(b->path)))
		return ccp_err_oom(e);
	ll->v[ll->n].visited = 0;
	ll->v[ll->n++].ino = ino;
	b->bytes += len + 1;
	return 0;
}

/* Adds every hardlinked regular file under dir fd (consumed); b->path holds its path. */
static int scan(build *b, int fd, unsigned depth, ccp_err *e)
{
	size_t plen = strlen(b->path);
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (depth > INDEX_DEPTH_MAX) {
		close(fd);
		return ccp_err_set(e, CCP_ELAYER, "a lower layer is deeper than %d directories", INDEX_DEPTH_MAX);
	}
	if (!(d = fdopendir(fd))) {
		rc = ccp_err_errno(e, CCP_ESTORAGE, errno, "reading /%s in a lower layer", b->path);
		close(fd);
		return rc;
	}
	while (rc == 0 && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (plen + 1 + n > CCP_UNPACK_PATH_MAX) {
			rc = ccp_err_set(e, CCP_ELAYER, "path too long in a lower layer: /%.200s", b->path);
			break;
		}
		if (plen)
			b->path[plen] = '/';
		memcpy(b->path + plen + (plen ? 1 : 0), de->d_name, n + 1);
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = ccp_err_errno(e, CCP_ESTORAGE, errno, "stat of /%s in a lower layer", b->path);
		} else if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
			rc = add(b, st.st_ino, e);
		} else if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			rc = sub < 0 ? ccp_err_errno(e, CCP_ESTORAGE, errno, "opening /%s in a lower layer", b->path)
				     : scan(b, sub, depth + 1, e);
		}
		b->path[plen] = '\0';
	}
	closedir(d);
	return rc;
}

static int by_ino(const void *a, const void *b)
{
	ino_t x = ((const lower_link *)a)->ino, y = ((const lower_link *)b)->ino;
	return x < y ? -1 : x > y;
}

int ccp_lower_links_each(lower_links *ll, int layer_fd, ino_t ino, int (*fn)(void *, const char *, ccp_err *),
		     void *ctx, ccp_err *e)
{
	size_t lo = 0, hi;
	int rc;

	if (!ll->built) {
		build *b = calloc(1, sizeof(*b));
		int fd = openat(layer_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (!b || fd < 0) {
			rc = b ? ccp_err_errno(e, CCP_ESTORAGE, errno, "opening a lower layer") : ccp_err_oom(e);
			if (fd >= 0)
				close(fd);
			free(b);
			return rc;
		}
		b->ll = ll;
		rc = scan(b, fd, 0, e);
		free(b);
		if (rc < 0)
			return rc;
		qsort(ll->v, ll->n, sizeof(*ll->v), by_ino);
		ll->built = 1;
	}
	hi = ll->n;
	while (lo < hi) { /* the first entry with this inode */
		size_t mid = lo + (hi - lo) / 2;
		if (ll->v[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == ll->n || ll->v[lo].ino != ino || ll->v[lo].visited)
		return 0;
	ll->v[lo].visited = 1;
	for (; lo < ll->n && ll->v[lo].ino == ino; lo++)
		if ((rc = fn(ctx, ll->v[lo].path, e)) < 0)
			return rc;
	return 0;
}

void ccp_lower_links_free(lower_links *ll)
{
	for (size_t i = 0; i < ll->n; i++)
		free(ll->v[i].path);
	free(ll->v);
	memset(ll, 0, sizeof(*ll));
}
