/*
 * The layer writer: libarchive parses the tar stream, everything on disk is done here through
 * directory fds (see unpack.h). Semantics follow umoci's TarExtractor (upper paths, whiteouts that
 * only reach lower layers, root entry rules) with containerd's deferred directory times.
 * This file holds the tar source, the parent cache, the entries and the layer loop; the rest of the
 * writer is in metadata.c, whiteouts.c, hardlinks.c, lowerlinks.c, holes.c, pathset.c, resolve.c
 * and, for direct mode, direct.c (unpack_int.h).
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

static const unsigned char zero_blocks[3 * TAR_BLOCK];

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

int ccp_unpack_io_err(ccp_err *e, int err, const char *what, const char *path)
{
	int code = (err == ENAMETOOLONG || err == ELOOP) ? CCP_ELAYER : CCP_ESTORAGE;
	return ccp_err_errno(e, code, err, "%s /%s", what, path);
}

void ccp_unpack_join_path(char *out, const char *dir, const char *name)
{
	if (*dir)
		snprintf(out, FULLBUF, "%s/%s", dir, name);
	else
		snprintf(out, FULLBUF, "%s", name);
}

/* Drops the cached parent when path (and, with self, path itself) is removed or replaced. */
void ccp_unpack_invalidate(unpack *u, const char *path, int self)
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

int ccp_unpack_snapshot_dir(unpack *u, int fd, const char *res, ccp_err *e)
{
	struct stat st;
	struct timespec ts[2];

	if (ccp_pset_has_dir_time(&u->ps, res))
		return 0;
	if (fstat(fd, &st) < 0)
		return ccp_unpack_io_err(e, errno, "stat", res);
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	return ccp_pset_dir_time(&u->ps, res, ts, 0, e);
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
	rc = ccp_resolve_dir(&u->r, parent, 1, &nfd, u->parent_res, &via, e);
	if (rc == -ENOTDIR || rc == -ENOENT)
		return ccp_err_set(e, CCP_ELAYER, "entry %s: a parent is not a directory", entry);
	if (rc < 0)
		return ccp_err_wrap(e, "entry %s", entry);
	if ((rc = ccp_unpack_snapshot_dir(u, nfd, u->parent_res, e)) < 0) {
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

int ccp_unpack_remove_existing(unpack *u, int pfd, const char *name, const char *full, ccp_err *e)
{
	int rc = ccp_rm_rf_at(pfd, name);

	ccp_unpack_invalidate(u, full, 1);
	if (rc < 0)
		return ccp_unpack_io_err(e, -rc, "removing", full);
	/* Direct mode: whatever is made here next is not the parent directory that was recorded. */
	if (u->direct && (rc = ccp_pset_set_implicit(&u->ps, full, 0, e)) < 0)
		return rc;
	return 0;
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
			if ((rc = ccp_hole_finish(&hw, fd)) < 0)
				return ccp_unpack_io_err(e, -rc, "writing", path);
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
		if ((rc = ccp_hole_write(&hw, fd, buf, len)) < 0)
			return ccp_unpack_io_err(e, -rc, "writing", path);
		done += len;
	}
}

static int make_reg(unpack *u, int pfd, const char *name, struct archive_entry *ent, ccp_err *e)
{
	struct stat st;
	int fd, rc, tries;

	for (tries = 0;; tries++) {
		/* Created with the entry's permission bits (less the umask); setuid, setgid and sticky
		 * bits are only applied by ccp_unpack_meta_fd, after the owner. */
		fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    archive_entry_perm(ent) & 0777);
		if (fd >= 0)
			break;
		if (errno != EEXIST || tries > 0)
			return ccp_unpack_io_err(e, errno, "creating", u->full);
		if ((rc = ccp_unpack_remove_existing(u, pfd, name, u->full, e)) < 0)
			return rc;
	}
	if ((rc = write_data(u, fd, u->full, e)) == 0) {
		if (fstat(fd, &st) < 0)
			rc = ccp_unpack_io_err(e, errno, "stat", u->full);
		else
			rc = ccp_unpack_meta_fd(u, fd, ent, u->full, 0, 1, &st, e);
	}
	if (close(fd) < 0 && rc == 0)
		rc = ccp_unpack_io_err(e, errno, "closing", u->full);
	return rc;
}

static int make_dir(unpack *u, int pfd, const char *name, struct archive_entry *ent, ccp_err *e)
{
	struct timespec ts[2];
	struct stat st;
	int fd, rc, kept = 0, replaced = 0;

	if (mkdirat(pfd, name, 0700) < 0) {
		if (errno != EEXIST)
			return ccp_unpack_io_err(e, errno, "creating directory", u->full);
		if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return ccp_unpack_io_err(e, errno, "stat", u->full);
		if (S_ISDIR(st.st_mode)) {
			kept = 1; /* directory over directory: keep it, replace its attributes */
		} else {
			if ((rc = ccp_unpack_remove_existing(u, pfd, name, u->full, e)) < 0)
				return rc;
			if (mkdirat(pfd, name, 0700) < 0)
				return ccp_unpack_io_err(e, errno, "creating directory", u->full);
			replaced = 1;
		}
	}
	if ((fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return ccp_unpack_io_err(e, errno, "opening", u->full);
	rc = ccp_unpack_meta_fd(u, fd, ent, u->full, kept, 0, NULL, e);
	/* Made over a name this layer deleted: overlayfs would make it opaque. */
	if (rc == 0 && u->direct && replaced) {
		if (fsetxattr(fd, OVL_OPAQUE_XATTR, "y", 1, 0) < 0)
			rc = ccp_unpack_io_err(e, errno, "marking opaque", u->full);
		else
			rc = ccp_unpack_record_path(&u->direct->opaque, &u->direct->n_opaque, &u->direct->cap_opaque,
						    u->full, e);
	}
	/* The entry's metadata is final, not to be taken from below. */
	if (rc == 0 && u->direct && (rc = ccp_pset_set_implicit(&u->ps, u->full, 0, e)) > 0)
		rc = 0;
	close(fd);
	if (rc < 0)
		return rc;
	ccp_unpack_entry_times(ent, ts);
	return ccp_pset_dir_time(&u->ps, u->full, ts, 1, e);
}

/* Creates a node with fn, replacing whatever is there (once). */
#define CREATE_REPLACING(call)                                                        \
	do {                                                                          \
		int tries_;                                                           \
		for (tries_ = 0;; tries_++) {                                         \
			if ((call) == 0)                                              \
				break;                                                \
			if (errno != EEXIST || tries_ > 0)                            \
				return ccp_unpack_io_err(e, errno, "creating", u->full);         \
			if ((rc = ccp_unpack_remove_existing(u, pfd, name, u->full, e)) < 0)     \
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
	return ccp_unpack_meta_at(u, pfd, name, ent, u->full, 0, e);
}

static int make_node(unpack *u, int pfd, const char *name, struct archive_entry *ent, mode_t type, ccp_err *e)
{
	mode_t mode = type | (archive_entry_perm(ent) & 0777);
	dev_t dev = type == S_IFIFO ? 0 : makedev(archive_entry_rdevmajor(ent), archive_entry_rdevminor(ent));
	int rc;

	CREATE_REPLACING(mknodat(pfd, name, mode, dev));
	return ccp_unpack_meta_at(u, pfd, name, ent, u->full, 1, e);
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
		return ccp_unpack_io_err(e, errno, "opening", "");
	rc = ccp_unpack_meta_fd(u, fd, ent, "", 1, 0, NULL, e);
	close(fd);
	if (rc < 0)
		return rc;
	ccp_unpack_entry_times(ent, ts);
	return ccp_pset_dir_time(&u->ps, "", ts, 1, e);
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
	if ((rc = ccp_unpack_check_xattrs(ent, raw, e)) < 0)
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

	if ((rc = ccp_clean_path(raw, u->name, sizeof(u->name), "entry name", e)) < 0)
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
		ccp_unpack_join_path(u->full, parent, base);
		return ccp_unpack_do_whiteout(u, parent, base, u->full, e);
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
	ccp_unpack_join_path(u->full, u->parent_res, base);
	if (link)
		rc = ccp_unpack_make_hardlink(u, pfd, base, raw, link, e);
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
	return ccp_pset_add_upper(&u->ps, u->full, e);
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
				return ccp_unpack_io_err(e, errno, "setting times of", "");
			continue;
		}
		if (slash)
			*slash = '\0';
		pfd = ccp_open_beneath_nofollow(&u->r, slash ? d->path : "", O_PATH | O_DIRECTORY);
		if (slash)
			*slash = '/';
		if (pfd < 0)
			continue; /* removed or replaced later in the layer */
		if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
		    utimensat(pfd, name, d->ts, AT_SYMLINK_NOFOLLOW) < 0) {
			int err = errno;
			close(pfd);
			return ccp_unpack_io_err(e, err, "setting times of", d->path);
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
	int was = ccp_pset_set_implicit(&u->ps, path, implicit, e);

	if (was < 0)
		return was;
	if (!implicit) /* made over a whiteout: marked opaque */
		return ccp_unpack_record_path(&d->opaque, &d->n_opaque, &d->cap_opaque, path, e);
	if (was != 0)
		return 0; /* made again after a removal: already listed */
	return ccp_unpack_record_path(&d->implicit, &d->n_implicit, &d->cap_implicit, path, e);
}

/* Drops from the list the directories an entry of the layer named after they were made. */
static void keep_implicit(unpack *u)
{
	ccp_unpack_direct *d = u->direct;
	size_t i, n = 0;

	for (i = 0; i < d->n_implicit; i++) {
		if (ccp_pset_is_implicit(&u->ps, d->implicit[i]))
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
	if ((rc = ccp_pset_init(&u->ps, u->max_entries * 4 + 1024, e)) < 0)
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
	ccp_pset_free(&u->ps);
	for (size_t i = 0; u->links && i < u->n_lowers; i++)
		ccp_lower_links_free(&u->links[i]);
	free(u->links);
	free(u->xlist);
	free(u);
	return rc;
}
