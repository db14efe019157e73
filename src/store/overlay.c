/*
 * Overlay mounts of store layers. The new mount API takes the lower layers one at a time
 * ("lowerdir+", Linux 6.8), so the one-page limit of mount options never applies; older kernels get
 * one option string, with each layer named by a short /proc/self/fd path when full paths do not fit.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "util/buf.h"

/* Options that keep every upper dir self-contained (no references into other layers). */
static const char *const fixed_opts[][2] = { { "redirect_dir", "off" }, { "index", "off" }, { "metacopy", "off" } };

/* Appends the kernel's own explanation (the fs context log) to a failed new-API mount's message. */
static void context_log(int fsfd, char *out, size_t n)
{
	char line[512];
	ssize_t len;

	out[0] = '\0';
	while ((len = read(fsfd, line, sizeof(line) - 1)) > 0) {
		line[len] = '\0';
		snprintf(out, n, " (%s)", line);
	}
}

/* 1: mounted; 0: this kernel lacks the new API or "lowerdir+" (caller falls back); <0: error. */
static int mount_new_api(const char *target, const char *const *lowers, size_t n_lowers, const char *upper,
			 const char *work, ccp_err *e)
{
	char why[600];
	int fsfd, mfd, r;

	if ((fsfd = fsopen("overlay", FSOPEN_CLOEXEC)) < 0) {
		if (errno == ENOSYS)
			return 0;
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot mount overlay on `%s`", target);
	}
	for (size_t i = 0; i < n_lowers; i++) {
		if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+", lowers[i], 0) < 0) {
			int err = errno;
			if (i == 0 && err == EINVAL) { /* before Linux 6.8: "lowerdir+" is unknown */
				close(fsfd);
				return 0;
			}
			context_log(fsfd, why, sizeof(why));
			close(fsfd);
			return ccp_err_errno(e, CCP_ESTORAGE, err, "overlay on `%s`: layer `%s`%s", target, lowers[i], why);
		}
	}
	r = 0;
	if (upper && (fsconfig(fsfd, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
		      fsconfig(fsfd, FSCONFIG_SET_STRING, "workdir", work, 0) < 0))
		r = -1;
	for (size_t i = 0; r == 0 && i < sizeof(fixed_opts) / sizeof(fixed_opts[0]); i++)
		if (fsconfig(fsfd, FSCONFIG_SET_STRING, fixed_opts[i][0], fixed_opts[i][1], 0) < 0)
			r = -1;
	if (r == 0 && fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		r = -1;
	if (r == 0 && (mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, upper ? 0 : MOUNT_ATTR_RDONLY)) >= 0) {
		if (move_mount(mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
			r = -1;
		close(mfd);
	} else {
		r = -1;
	}
	if (r < 0) {
		int err = errno;
		context_log(fsfd, why, sizeof(why));
		close(fsfd);
		return ccp_err_errno(e, CCP_ESTORAGE, err, "cannot mount overlay of %zu layers on `%s`%s", n_lowers,
				     target, why);
	}
	close(fsfd);
	return 1;
}

static int build_opts(ccp_buf *opts, const char *const *lowers, const int *fds, size_t n_lowers, const char *upper,
		      const char *work)
{
	int r = ccp_buf_puts(opts, "lowerdir=");

	for (size_t i = 0; i < n_lowers; i++) {
		if (fds)
			r |= ccp_buf_printf(opts, "%s/proc/self/fd/%d", i ? ":" : "", fds[i]);
		else
			r |= ccp_buf_printf(opts, "%s%s", i ? ":" : "", lowers[i]);
	}
	if (upper)
		r |= ccp_buf_printf(opts, ",upperdir=%s,workdir=%s", upper, work);
	for (size_t i = 0; i < sizeof(fixed_opts) / sizeof(fixed_opts[0]); i++)
		r |= ccp_buf_printf(opts, ",%s=%s", fixed_opts[i][0], fixed_opts[i][1]);
	return r;
}

int ccp_overlay_mount_legacy(const char *target, const char *const *lowers, size_t n_lowers, const char *upper,
			     const char *work, ccp_err *e)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	ccp_buf opts = CCP_BUF_INIT(0);
	int *fds = NULL, r;

	for (size_t i = 0; i < n_lowers; i++)
		if (strpbrk(lowers[i], ":,\\"))
			return ccp_err_set(e, CCP_EINVALID, "store path `%s` contains ':', ',' or '\\'", lowers[i]);
	if ((upper && strpbrk(upper, ":,\\")) || (work && strpbrk(work, ":,\\")))
		return ccp_err_set(e, CCP_EINVALID, "overlay dir `%s` contains ':', ',' or '\\'", upper);
	if (build_opts(&opts, lowers, NULL, n_lowers, upper, work)) {
		r = ccp_err_oom(e);
		goto out;
	}
	if (opts.len >= page) {
		/* Too long for the page: name each layer by an O_PATH fd of ours (the kernel follows it). */
		if (!(fds = calloc(n_lowers, sizeof(*fds)))) {
			r = ccp_err_oom(e);
			goto out;
		}
		for (size_t i = 0; i < n_lowers; i++)
			fds[i] = -1;
		for (size_t i = 0; i < n_lowers; i++) {
			if ((fds[i] = open(lowers[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
				r = ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot open layer `%s`", lowers[i]);
				goto out;
			}
		}
		ccp_buf_clear(&opts);
		if (build_opts(&opts, lowers, fds, n_lowers, upper, work)) {
			r = ccp_err_oom(e);
			goto out;
		}
		if (opts.len >= page) {
			r = ccp_err_set(e, CCP_ESTORAGE,
					"overlay of %zu layers on `%s` needs %zu bytes of mount options, more than the kernel takes",
					n_lowers, target, opts.len);
			goto out;
		}
	}
	r = 0;
	if (mount("overlay", target, "overlay", upper ? 0 : MS_RDONLY, opts.data) < 0)
		r = ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot mount overlay of %zu layers on `%s`", n_lowers, target);
out:
	for (size_t i = 0; fds && i < n_lowers; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	ccp_buf_free(&opts);
	return r;
}

int ccp_overlay_mount(const char *target, const char *const *lowers, size_t n_lowers, const char *upper,
		      const char *work, ccp_err *e)
{
	int r = mount_new_api(target, lowers, n_lowers, upper, work, e);

	if (r != 0)
		return r < 0 ? r : 0;
	return ccp_overlay_mount_legacy(target, lowers, n_lowers, upper, work, e);
}

int ccp_overlay_supported(void)
{
	char line[256];
	FILE *f;
	int fd = fsopen("overlay", FSOPEN_CLOEXEC), found = 0;

	if (fd >= 0) {
		close(fd);
		return 1;
	}
	if (errno != ENOSYS)
		return 0;
	if (!(f = fopen("/proc/filesystems", "re")))
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = strcmp(line, "nodev\toverlay\n") == 0;
	fclose(f);
	return found;
}
