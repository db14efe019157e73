/* The runtime bundle: BUNDLE/rootfs assembled from store layers, and BUNDLE/config.json. */
#ifndef CCP_BUNDLE_BUNDLE_H
#define CCP_BUNDLE_BUNDLE_H

#include <jansson.h>
#include "util/err.h"

/*
 * Copies the tree under src_fd into the empty directory dst_fd: types, modes (incl. setuid), owners
 * (when same_owner), allow-listed xattrs, times, device nodes and hardlink groups. Never follows a
 * symlink. The attributes of src itself are applied to dst.
 */
int ccp_tree_copy(int src_fd, int dst_fd, int same_owner, ccp_err *e);

/*
 * Builds an OCI runtime config.json for an image config (the parsed image config document) and
 * writes it to bundle_fd/config.json. rootfs_fd is used (read-only, resolved in root) to map a
 * user name in the image's User to numeric ids.
 */
int ccp_bundle_write_config(int bundle_fd, int rootfs_fd, const json_t *image_config, ccp_err *e);

#endif
