/*
 * Overlay bundles: BUNDLE/rootfs is an overlay of the store's layers over BUNDLE/.ccpull/upper.
 * The upper and work dirs live in the bundle, not the store: what a container writes is charged to
 * (and removed with) its bundle, and the store holds only shared, read-only layers and a small mount
 * record naming the layers the bundle uses, so gc keeps them while the bundle is mounted.
 *   BUNDLE/.ccpull/bundle.json  {store, mount_record}: how ccpull umount finds the record
 *   BUNDLE/.ccpull/upper, work  the overlay's writable part
 */
#include "bundle/bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"

#define STATE_DIR ".ccpull"
#define STATE_FILE ".ccpull/bundle.json"

static int write_state(int bundle_fd, const char *store_dir, const char *id, ccp_err *e)
{
	json_t *j = json_pack("{s:s, s:s}", "store", store_dir, "mount_record", id);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int r;

	json_decref(j);
	if (!text)
		return ccp_err_oom(e);
	r = ccp_write_file_at(bundle_fd, STATE_FILE, text, strlen(text), 0600, e);
	free(text);
	return r;
}

int ccp_bundle_mount_overlay(ccp_store *s, int bundle_fd, const char *bundle, const char *image,
			     const ccp_digest *chain, size_t n, int *rootfs_fd, ccp_err *e)
{
	char id[33], rootfs[PATH_MAX], upper[PATH_MAX], work[PATH_MAX];
	const char **lowers = NULL;
	struct stat st;
	int r, made_rootfs = 0, mounted = 0;

	id[0] = '\0';
	*rootfs_fd = -1;
	if ((size_t)snprintf(rootfs, sizeof(rootfs), "%s/rootfs", bundle) >= sizeof(rootfs) ||
	    (size_t)snprintf(upper, sizeof(upper), "%s/" STATE_DIR "/upper", bundle) >= sizeof(upper) ||
	    (size_t)snprintf(work, sizeof(work), "%s/" STATE_DIR "/work", bundle) >= sizeof(work))
		return ccp_err_set(e, CCP_EINVALID, "bundle path `%s` is too long", bundle);
	if (mkdirat(bundle_fd, STATE_DIR, 0700) < 0 && errno != EEXIST)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot create `%s/" STATE_DIR "`", bundle);
	if (fstatat(bundle_fd, STATE_DIR "/upper", &st, AT_SYMLINK_NOFOLLOW) == 0 ||
	    fstatat(bundle_fd, STATE_DIR "/work", &st, AT_SYMLINK_NOFOLLOW) == 0)
		return ccp_err_set(e, CCP_EINVALID,
				   "bundle `%s` still has the overlay state of an earlier pull; run `ccpull umount %s`",
				   bundle, bundle);
	if (mkdirat(bundle_fd, STATE_DIR "/upper", 0755) < 0 || mkdirat(bundle_fd, STATE_DIR "/work", 0700) < 0) {
		r = ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot create the overlay state in `%s`", bundle);
		goto fail;
	}
	/* The record first: a crash after it leaves a stale record, never a mount gc cannot see. */
	if ((r = ccp_store_add_mount(s, bundle, image, chain, n, id, e)) ||
	    (r = write_state(bundle_fd, ccp_store_dir(s), id, e)) ||
	    (r = ccp_store_lowers(s, chain, n, &lowers, e)))
		goto fail;
	if (mkdirat(bundle_fd, "rootfs", 0755) < 0) {
		r = ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot create `%s`", rootfs);
		goto fail;
	}
	made_rootfs = 1;
	if ((r = ccp_overlay_mount(rootfs, lowers, n, upper, work, e)))
		goto fail;
	mounted = 1;
	if ((*rootfs_fd = openat(bundle_fd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		r = ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot open `%s`", rootfs);
		goto fail;
	}
	free(lowers);
	return 0;
fail:
	free(lowers);
	if (mounted)
		umount2(rootfs, MNT_DETACH);
	if (made_rootfs)
		unlinkat(bundle_fd, "rootfs", AT_REMOVEDIR);
	ccp_rm_rf_at(bundle_fd, STATE_DIR);
	if (id[0])
		ccp_store_remove_mount(ccp_store_dir(s), id, NULL);
	return r;
}

static int read_state(int bundle_fd, const char *bundle, json_t **out, ccp_err *e)
{
	ccp_buf b = CCP_BUF_INIT(1u << 16);
	char chunk[4096];
	ssize_t n;
	int fd = openat(bundle_fd, STATE_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), r;

	if (fd < 0) {
		if (errno == ENOENT)
			return ccp_err_set(e, CCP_EINVALID,
					   "`%s` is not an overlay bundle made by ccpull (no " STATE_FILE ")", bundle);
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot read `%s/" STATE_FILE "`", bundle);
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (ccp_buf_append(&b, chunk, (size_t)n))
			break;
	close(fd);
	r = ccp_json_parse(out, b.data, b.len, 1u << 16, STATE_FILE, CCP_ESTORAGE, e);
	ccp_buf_free(&b);
	return r;
}

int ccp_bundle_unmount_overlay(const char *bundle_path, ccp_err *e)
{
	char *bundle = realpath(bundle_path, NULL);
	char rootfs[PATH_MAX];
	const char *store = NULL, *id = NULL;
	json_t *state = NULL;
	int fd = -1, r;

	if (!bundle)
		return ccp_err_errno(e, CCP_EINVALID, errno, "bundle `%s`", bundle_path);
	if ((fd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = ccp_err_errno(e, CCP_EINVALID, errno, "cannot open bundle `%s`", bundle);
		goto out;
	}
	if ((r = read_state(fd, bundle, &state, e)) ||
	    (r = ccp_json_get_string(state, "store", 1, &store, STATE_FILE, CCP_ESTORAGE, e)) ||
	    (r = ccp_json_get_string(state, "mount_record", 1, &id, STATE_FILE, CCP_ESTORAGE, e)))
		goto out;
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", bundle);
	if (ccp_is_overlay_mount(rootfs) && umount2(rootfs, UMOUNT_NOFOLLOW) < 0) {
		/* Never detach lazily: the layers must stay until nothing uses the mount. */
		r = ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot unmount `%s`", rootfs);
		goto out;
	}
	if (unlinkat(fd, "rootfs", AT_REMOVEDIR) < 0 && errno != ENOENT) {
		r = ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot remove `%s` after unmounting it", rootfs);
		goto out;
	}
	if ((r = ccp_rm_rf_at(fd, STATE_DIR "/upper")) < 0 || (r = ccp_rm_rf_at(fd, STATE_DIR "/work")) < 0) {
		r = ccp_err_errno(e, CCP_ESTORAGE, -r, "cannot remove the overlay state of `%s`", bundle);
		goto out;
	}
	/* The store may be gone already (a guest that cleared /run): then there is no record to drop. */
	r = ccp_store_remove_mount(store, id, e);
out:
	json_decref(state);
	if (fd >= 0)
		close(fd);
	free(bundle);
	return r;
}
