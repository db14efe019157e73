/* The runtime bundle: BUNDLE/rootfs assembled from store layers, and BUNDLE/config.json. */
#ifndef CCP_BUNDLE_BUNDLE_H
#define CCP_BUNDLE_BUNDLE_H

#include <jansson.h>
#include "store/store.h"
#include "util/cancel.h"
#include "util/err.h"

/*
 * Copies the tree under src_fd into the empty directory dst_fd: types, modes (incl. setuid), owners
 * (when same_owner), allow-listed xattrs, times, device nodes and hardlink groups. Never follows a
 * symlink. The attributes of src itself are applied to dst. cancel (may be NULL) is checked before
 * every entry and every 8 MiB of file data (CCP_ECANCELED, CCP_ETIMEOUT); the caller removes the copy.
 */
int ccp_tree_copy(int src_fd, int dst_fd, int same_owner, const ccp_cancel *cancel, ccp_err *e);
/*
 * The same for src_fd the merged (overlay) view of the layer dirs layers[0..n_layers-1], top-most
 * first: each regular file's data is copied from the layer's own file, found beside the walk and
 * checked against the inode the merged view shows, so that copy_file_range and FICLONE work on the
 * store's filesystem (they do not cross from overlayfs); otherwise, from the merged view. Data is
 * copied by FICLONE, else copy_file_range, else read/write; the holes of sparse files stay holes.
 * Files of 256 KiB and more are copied by worker threads (one per CPU, at most 4) while the walk
 * goes on; the call returns once every one of them is done.
 */
int ccp_tree_copy_layers(int src_fd, const int *layers, size_t n_layers, int dst_fd, int same_owner,
			 const ccp_cancel *cancel, ccp_err *e);

/*
 * Builds an OCI runtime config.json for an image config (the parsed image config document) and
 * writes it to bundle_fd/config.json. rootfs_fd is used (read-only, resolved in root) to map the
 * image's User to uid, gid and additional gids; a user or group name the image does not define is
 * CCP_EINVALID; an /etc/passwd or /etc/group that is not a regular file of at most 1 MiB (a FIFO, a
 * device node, a symlink loop) is CCP_ELAYER, and is never opened for reading. *text_out (if
 * text_out) receives the JSON written (free() it).
 */
int ccp_bundle_write_config(int bundle_fd, int rootfs_fd, const json_t *image_config, char **text_out, ccp_err *e);

/*
 * Makes BUNDLE/rootfs (bundle: absolute path, bundle_fd: its fd) an overlay of the store layers
 * chain[0..n-1] over BUNDLE/.ccpull/{upper,work}, recorded in the store as used by this bundle.
 * *rootfs_fd is the mounted rootfs (close it before unmounting). On failure nothing is left.
 */
int ccp_bundle_mount_overlay(ccp_store *s, int bundle_fd, const char *bundle, const char *image,
			     const ccp_digest *chain, size_t n, int *rootfs_fd, ccp_err *e);
/*
 * Unmounts an overlay bundle, removes BUNDLE/rootfs, the upper and work dirs and the store's mount
 * record. Idempotent; CCP_EINVALID when bundle has no BUNDLE/.ccpull/bundle.json.
 */
int ccp_bundle_unmount_overlay(const char *bundle, ccp_err *e);

/*
 * Takes the bundle for one pull: flock(LOCK_EX | LOCK_NB) on bundle_fd, the bundle directory (held
 * until that fd is closed). Another pull holding it is CCP_EINVALID naming its pid when /proc/locks
 * shows it.
 */
int ccp_bundle_lock(int bundle_fd, const char *bundle, ccp_err *e);

#endif
