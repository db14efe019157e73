/*
 * Local filesystem helpers for trusted paths (store, bundle, unpacker): ccp_rm_rf_at and
 * ccp_write_file_at work on a directory fd; ccp_rm_rf_at never follows a symlink, ccp_write_file_at
 * none at the name's last component (the parents of a name with '/' are taken as they are);
 * ccp_mkdirs works on a path and follows symlinks already on it, so it is for paths ccpull trusts
 * only. Also random ids for temporary names.
 */
#ifndef CCP_UTIL_FS_H
#define CCP_UTIL_FS_H

#include <stddef.h>
#include "util/err.h"

/* Deepest directory ccp_rm_rf_at goes into (8 bytes of memory a level), and how many times it
 * starts again from the top when a directory moved under it. */
#define CCP_RM_DEPTH_MAX (1u << 20)
#define CCP_RM_RESTARTS_MAX 16u

/*
 * Removes name under dirfd and everything below it, never following a symlink and never entering
 * another file system (-EXDEV). The walk is iterative: it holds two directory fds and a few bytes
 * per level whatever the depth, so a tree a container wrote (an overlay upper directory) cannot
 * exhaust the fds or the stack. Missing -> 0. errno-style result: 0 or -errno.
 */
int ccp_rm_rf_at(int dirfd, const char *name);
/* mkdir -p for a trusted local path (each missing component created with mode). */
int ccp_mkdirs(const char *path, unsigned mode, ccp_err *e);
/* Writes data to dirfd/name atomically (temporary file, fsync, rename). */
int ccp_write_file_at(int dirfd, const char *name, const void *data, size_t len, unsigned mode, ccp_err *e);
/* The same, without the fsync when durable is 0: still atomic for readers, not across a power loss. */
int ccp_write_file_at_sync(int dirfd, const char *name, const void *data, size_t len, unsigned mode, int durable,
			   ccp_err *e);
/* Random lowercase hex id of 2*nbytes characters into out (size >= 2*nbytes+1). */
int ccp_random_id(char *out, size_t nbytes, ccp_err *e);

#endif
