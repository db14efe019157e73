/*
 * Applies a tar changeset (OCI layer semantics) under a root directory fd, resolving every path
 * inside the root (openat2 RESOLVE_IN_ROOT, or an O_NOFOLLOW component walk where openat2 is missing)
 * and applying metadata on fds only. Whiteouts remove from the tree below (only what lower layers
 * made); whiteout markers never appear in the result.
 */
#ifndef CCP_UNPACK_UNPACK_H
#define CCP_UNPACK_UNPACK_H

#include <stdint.h>
#include <sys/types.h>
#include "util/buf.h"
#include "util/cancel.h"
#include "util/err.h"

#define CCP_UNPACK_MAX_ENTRIES 1000000u
#define CCP_UNPACK_PATH_MAX 4096   /* bytes of an entry name, a link target, a resolved path */
#define CCP_UNPACK_DEPTH_MAX 256   /* components of a path */
#define CCP_UNPACK_XATTR_MAX 128   /* xattrs of an entry (all of them, also those never applied) */
#define CCP_UNPACK_XATTR_VALUE_MAX 65536  /* bytes of one value (the kernel's XATTR_SIZE_MAX) */
#define CCP_UNPACK_XATTR_TOTAL_MAX (256 * 1024) /* bytes of names and values of an entry */
#define CCP_UNPACK_HEADER_MAX (1024 * 1024)     /* bytes of the headers of one entry (PAX, GNU long names) */

/*
 * Direct mode: a layer above others is applied into an upper directory of its own while its lower
 * layers are not visible (they may still be in the making), for overlayfs to merge later. A whiteout
 * becomes an overlayfs whiteout (character device 0:0), an opaque marker the trusted.overlay.opaque
 * xattr, a directory made over a deleted name is opaque. A directory made only because an entry is
 * under it is recorded: once the lower layers are complete, ccp_unpack_direct_finish gives it their
 * metadata, as an overlayfs copy-up would, or asks for the layer to be applied again through an
 * overlay mount when the merged result could differ (that path is not a directory below, e.g. a
 * lower `lib -> usr/lib`). A whiteout of a name nothing below has is removed then: in a directory
 * that only this layer has, overlayfs would list it. A hardlink to a file that is only below, or an
 * opaque marker on the root, fails with needs_lowers set.
 */
typedef struct ccp_unpack_direct {
	char **implicit;      /* resolved paths of the directories the layer made without naming them */
	size_t n_implicit, cap_implicit;
	char **whiteouts;     /* resolved paths of the whiteouts it made (those with nothing below go) */
	size_t n_whiteouts, cap_whiteouts;
	char **opaque;        /* resolved paths of the directories it marked opaque (for ccp_unpack_direct_merge) */
	size_t n_opaque, cap_opaque;
	int needs_lowers;     /* the layer failed because it refers to a file of a lower layer */
} ccp_unpack_direct;

void ccp_unpack_direct_free(ccp_unpack_direct *d);

/*
 * Completes a direct-mode layer in upper_fd against its lower layers (directory fds, top-most first,
 * complete). *redo = 1: the layer must be applied again through an overlay mount (upper_fd is left
 * as it was); 0: done.
 */
int ccp_unpack_direct_finish(int upper_fd, const int *lower_fds, size_t n_lowers, ccp_unpack_direct *d,
			     int *redo, ccp_err *e);

/*
 * Moves a direct-mode layer into the plain tree below it, root_fd (the layer finished against that
 * tree as its one lower), by renaming, with the result of applying the layer over the tree: each
 * whiteout removes what it hides; a directory the tree has as a directory (and the layer does not
 * mark opaque) is merged into it and gives it its metadata; anything else replaces the tree's entry,
 * a directory moving whole. Opaque markers do not reach the tree. Never follows a symlink of either
 * tree. What is left in upper_fd (whiteouts, emptied directories) is the caller's to remove; after a
 * failure the tree holds part of the layer. cancel (may be NULL) is checked per directory.
 */
int ccp_unpack_direct_merge(int upper_fd, int root_fd, const ccp_unpack_direct *d, const ccp_cancel *cancel,
			    ccp_err *e);

typedef struct ccp_unpack_opts {
	int same_owner;          /* chown to the entry's uid/gid and create device nodes (needs root) */
	int force_fallback_walk; /* tests: use the O_NOFOLLOW walk even where openat2 works */
	uint64_t max_entries;    /* 0: 1,000,000 */
	uint64_t max_bytes;      /* total file bytes; 0: no cap. An entry declaring more fails before any write */
	ccp_unpack_direct *direct; /* direct mode (see above); NULL: the tree below is visible under root */
	/* Without direct: when root_fd is an overlay mount, the lower layers' directories (top-most
	 * first), so that a hardlink to a lower file keeps that file's other names linked to it. */
	const int *lower_fds;
	size_t n_lowers;
	uint64_t *n_relinked;    /* tests: when set, counts the lower names linked to a copied-up file */
	const ccp_cancel *cancel; /* checked before every entry (CCP_ECANCELED, CCP_ETIMEOUT); NULL: none */
} ccp_unpack_opts;

/*
 * Supplies the tar stream: points *buf at the next bytes and returns their count (the bytes stay
 * valid until the next call), 0 at the end, or a negative ccp_error_code with e filled (a digest or
 * decompression failure upstream, a network error).
 */
typedef ssize_t (*ccp_unpack_read_fn)(void *payload, const void **buf, ccp_err *e);

/*
 * Reads a tar stream (ustar, pax, GNU; no compression) from read and applies every entry under
 * root_fd. The stream may end at an entry boundary without the end-of-archive blocks, as Go's
 * archive/tar allows; a stream cut inside an entry is refused. Does not read past the end of the
 * archive: the caller drains the rest of its stream.
 * Errors: an error of read comes back unchanged (its code and message); malformed or unsafe entries
 * -> CCP_ELAYER naming the entry; I/O failures -> CCP_ESTORAGE naming the path.
 */
int ccp_unpack_stream(int root_fd, ccp_unpack_read_fn read, void *payload, const ccp_unpack_opts *opts,
		      ccp_err *e);

/*
 * Reads a file of a rootfs the image made (path taken inside root_fd, "/etc/passwd") into out, at
 * most max bytes. Every symlink on the way, the last component's too, resolves inside the root, as
 * for a chroot (openat2 RESOLVE_IN_ROOT, or the unpacker's O_NOFOLLOW walk where openat2 is
 * unavailable or force_walk is set). Only a regular file is ever opened for reading: a FIFO, socket
 * or device node there is CCP_ELAYER and is not opened, and so is a file larger than max or too many
 * levels of symlinks. -ENOENT without a message when there is no file: the path does not exist, goes
 * through a non-directory or is a directory.
 */
int ccp_unpack_read_in_root(int root_fd, const char *path, size_t max, int force_walk, ccp_buf *out, ccp_err *e);

/*
 * 1 when a layer may set the xattr name: user.* (but not overlayfs' user.overlay.*) and
 * security.capability. The copy snapshotter keeps the same ones when it copies a rootfs.
 */
int ccp_unpack_xattr_allowed(const char *name);

#endif
