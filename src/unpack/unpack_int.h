/* Internals of the unpacker shared by its files: state, path set, in-root resolution. */
#ifndef CCP_UNPACK_INT_H
#define CCP_UNPACK_INT_H

#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include "unpack/unpack.h"

#define UNPACK_MAX_SYMLINKS 40

/* Directory times applied at the end (children change them while the layer is applied). */
typedef struct dir_time {
	char *path;              /* resolved, relative to the root; "" is the root */
	struct timespec ts[2];   /* atime, mtime */
} dir_time;

/*
 * Paths this layer made (and their ancestors), plus the directories whose times are restored at the
 * end. Keys are keyed 64-bit hashes of resolved paths: a random per-run seed keeps collisions
 * (which could only make a whiteout spare a lower file) out of an attacker's reach. A path takes one
 * 8-byte slot (the hash's top 61 bits, a used bit and the two flags) at most half full: 16-32 bytes a
 * path, nothing in proportion to its length. Directory times sit in a table of their own.
 */
#define PS_UPPER 1u    /* made by this layer or an ancestor of such a path */
#define PS_IMPLICIT 2u /* direct mode: a directory made only as a parent, its metadata still to come */

typedef struct dt_slot {
	uint64_t h;     /* the path's hash; 0: empty */
	size_t i;       /* index into dts */
} dt_slot;

typedef struct path_set {
	uint64_t *slots; /* 0: empty; else hash & ~7 | 4 | flags */
	size_t cap;      /* power of two */
	size_t used;
	size_t max;      /* refuse to grow past this many paths */
	uint64_t seed[2];
	dir_time *dts;
	size_t n_dts, cap_dts;
	dt_slot *dt_slots; /* index of dts by path hash, at most half full */
	size_t dt_cap;     /* power of two, or 0 */
} path_set;

int ccp_pset_init(path_set *s, size_t max, ccp_err *e);
void ccp_pset_free(path_set *s);
uint64_t ccp_pset_hash(const path_set *s, const char *p, size_t len);
/* Marks path (and every ancestor) as made by this layer. */
int ccp_pset_add_upper(path_set *s, const char *path, ccp_err *e);
int ccp_pset_is_upper(const path_set *s, const char *path, size_t len);
/* Records times for dir path: override=1 replaces an existing record (an entry for the dir),
 * override=0 only snapshots the first time (a directory this layer modifies). */
int ccp_pset_dir_time(path_set *s, const char *path, const struct timespec ts[2], int override, ccp_err *e);
/* Returns 1 when path already has a time record. */
int ccp_pset_has_dir_time(const path_set *s, const char *path);
/* Sets or clears PS_IMPLICIT on path; returns the previous state (0/1) or a negative error. */
int ccp_pset_set_implicit(path_set *s, const char *path, int on, ccp_err *e);
int ccp_pset_is_implicit(const path_set *s, const char *path);

typedef struct resolver {
	int root_fd;       /* O_PATH directory */
	int use_openat2;
	int same_owner;
	int direct;        /* direct mode: an overlay whiteout on the way is replaced by an opaque directory */
	unsigned n_created; /* missing parents made by the last ccp_resolve_dir */
	/* Told of each parent made (its resolved path): implicit = 1 when it was missing, 0 when it
	 * replaced a whiteout (direct mode). May be NULL. */
	int (*made_dir)(void *ctx, const char *path, int implicit, ccp_err *e);
	void *made_dir_ctx;
} resolver;

#define OVL_OPAQUE_XATTR "trusted.overlay.opaque"

/*
 * The non-directory the lower layers (top-most first) show at rel, as overlayfs looks it up: 1 with
 * *layer (its index) and *st (its lstat), 0 when they show none.
 */
int ccp_lower_file(const int *lowers, size_t n, const char *rel, size_t *layer, struct stat *st, ccp_err *e);

/* One lower layer's hardlinked regular files by inode (built on first use). */
typedef struct lower_link {
	ino_t ino;
	int visited; /* on the first entry of an inode: ccp_lower_links_each went through its names */
	char *path;
} lower_link;

typedef struct lower_links {
	int built;
	lower_link *v;
	size_t n, cap;
} lower_links;

/*
 * Calls fn with each path of layer_fd's regular files whose inode is ino, the first time it is asked
 * for ino: later calls for the same inode return 0 at once (the names were relinked already), so a
 * layer with M hardlinks to the N names of one lower file costs N + M, not N * M.
 */
int ccp_lower_links_each(lower_links *ll, int layer_fd, ino_t ino, int (*fn)(void *, const char *, ccp_err *),
		     void *ctx, ccp_err *e);
void ccp_lower_links_free(lower_links *ll);

/*
 * Owner, mode, allowed xattrs and times of directory from onto directory to, as a copy-up; buf holds
 * 2 * CCP_UNPACK_XATTR_BUF bytes (direct.c).
 */
#define CCP_UNPACK_XATTR_BUF (64 * 1024)
int ccp_unpack_copy_dir_meta(int from, int to, char *buf, const char *path, ccp_err *e);

/* 1 when directory fd carries the overlayfs opaque marker (direct.c). */
int ccp_unpack_is_opaque(int fd);

/* 1 when st is an overlayfs whiteout (character device 0:0). */
int ccp_is_whiteout(const struct stat *st);

/*
 * Lexically cleans a tar name under "/": drops "", "." and leading "/", resolves ".." without ever
 * going above the root. out gets "a/b/c" ("" for the root). Too long or too deep -> CCP_ELAYER.
 */
int ccp_clean_path(const char *in, char *out, size_t outsz, const char *what, ccp_err *e);

/*
 * Opens directory rel (a cleaned path) inside the root with chroot semantics for symlinks on the way.
 * create: make missing directories (0755, root-owned with same_owner). *fd gets an O_PATH fd; resolved
 * (CCP_UNPACK_PATH_MAX + 1 bytes) gets the path it resolved to. *via_symlink is set when a symlink was
 * followed. A missing component without create -> -ENOENT (no message); a non-directory -> -ENOTDIR.
 */
int ccp_resolve_dir(resolver *r, const char *rel, int create, int *fd, char *resolved, int *via_symlink,
		ccp_err *e);

/* Opens rel (cleaned, relative to root) without following any symlink; flags as for openat. -errno. */
int ccp_open_beneath_nofollow(resolver *r, const char *rel, int flags);

/* Regular file data with holes (holes.c): blocks of HOLE_BLOCK zeros (aligned in the file) are seeked
 * over, not written. Start with { 0, 0 } at offset 0 of a new file. */
#define HOLE_BLOCK 4096u
typedef struct hole_writer {
	uint64_t off;      /* bytes of the file so far */
	uint64_t pos;      /* fd's offset: bytes written or seeked over; [pos, off) are zeros held back */
} hole_writer;

/* Appends len bytes at the file offset (fd's offset, from 0). Returns 0 or -errno. */
int ccp_hole_write(hole_writer *w, int fd, const void *buf, size_t len);
/* After the last ccp_hole_write: gives the file its full size. Returns 0 or -errno. */
int ccp_hole_finish(hole_writer *w, int fd);

/* ---- the layer writer (unpack.c and the files it is split into) ---- */

#define WH_PREFIX ".wh."
#define WH_META_PREFIX ".wh..wh."
#define WH_OPAQUE ".wh..wh..opq"
#define TAR_BLOCK 512
#define PATHBUF (CCP_UNPACK_PATH_MAX + 1)
#define FULLBUF (2 * CCP_UNPACK_PATH_MAX + 2)
#define XATTR_LIST_CAP (64 * 1024)

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

struct archive_entry;

/* unpack.c: the error of a failed call on path (ENAMETOOLONG and ELOOP are the layer's fault). */
int ccp_unpack_io_err(ccp_err *e, int err, const char *what, const char *path);
/* out (FULLBUF bytes) gets dir/name, or name when dir is the root (""). */
void ccp_unpack_join_path(char *out, const char *dir, const char *name);
/* Drops the cached parent when path (and, with self, path itself) is removed or replaced. */
void ccp_unpack_invalidate(unpack *u, const char *path, int self);
/* Records the times of directory fd (resolved path res) before this layer changes it. */
int ccp_unpack_snapshot_dir(unpack *u, int fd, const char *res, ccp_err *e);
/* Removes what is at name (full: its resolved path) under pfd so that an entry can take its place. */
int ccp_unpack_remove_existing(unpack *u, int pfd, const char *name, const char *full, ccp_err *e);

/* metadata.c: limits on the xattrs an entry carries, checked before anything is made. */
int ccp_unpack_check_xattrs(struct archive_entry *ent, const char *path, ccp_err *e);
void ccp_unpack_entry_times(struct archive_entry *ent, struct timespec ts[2]);
/* Owner, mode, xattrs and (files only) times of the entry, set on fd (see metadata.c). */
int ccp_unpack_meta_fd(unpack *u, int fd, struct archive_entry *ent, const char *path, int kept, int is_reg,
		       const struct stat *fresh, ccp_err *e);
/* Metadata of a node that must not be opened (symlink, fifo, device), by name on its parent fd. */
int ccp_unpack_meta_at(unpack *u, int pfd, const char *name, struct archive_entry *ent, const char *path,
		       int chmod_it, ccp_err *e);

/* whiteouts.c: appends path to a direct-mode list (bounded by the layer's entries). */
int ccp_unpack_record_path(char ***v, size_t *n, size_t *cap, const char *path, ccp_err *e);
/* Applies the whiteout entry base (a .wh. name, path its full name) in directory parent. */
int ccp_unpack_do_whiteout(unpack *u, const char *parent, const char *base, const char *path, ccp_err *e);

/* hardlinks.c: the hardlink entry name under pfd (path) to link, a path of this or a lower layer. */
int ccp_unpack_make_hardlink(unpack *u, int pfd, const char *name, const char *path, const char *link,
			     ccp_err *e);

#endif
