/*
 * api.ImagePullService.PullImage{image_url, bundle_path} -> {manifest_digest}, as the Confidential
 * Data Hub answers it for kata-agent: BUNDLE/rootfs and BUNDLE/config.json are ready when it returns.
 */
#include "service.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.pb-c.h"
#include "ttrpc/ttrpc.h"

static void pull_image(svc_request *rq);

const svc_method ccp_svc_image_pull_method = { "api.ImagePullService", "PullImage", pull_image };

/* google.rpc code for a library error; the message carries the cause and ccpull(1)'s exit status. */
static int rpc_code(int r)
{
	switch (r) {
	case CCP_EINVALID: return RPC_INVALID_ARGUMENT;
	case CCP_EPOLICY: return RPC_PERMISSION_DENIED;
	case CCP_EREGISTRY: return RPC_UNAVAILABLE;
	case CCP_EINTEGRITY: return RPC_DATA_LOSS;
	case CCP_EDECRYPT: return RPC_FAILED_PRECONDITION;
	case CCP_ELAYER: return RPC_INVALID_ARGUMENT;
	case CCP_ESTORAGE: return RPC_RESOURCE_EXHAUSTED;
	case CCP_ENOMEM: return RPC_RESOURCE_EXHAUSTED;
	case CCP_ETIMEOUT: return RPC_DEADLINE_EXCEEDED;
	case CCP_ECANCELED: return RPC_CANCELLED;
	default: return RPC_INTERNAL;
	}
}

/*
 * CDH mode: the message CDH gives for a failed pull (hub/src/bin/ttrpc_server: INTERNAL,
 * "[CDH] [ERROR]: " and its Error's text; image-rs' PullImageError openings), ccpull's own
 * message after it. kata's CoCo tests look for these openings.
 */
static void cdh_message(char *out, size_t len, int r, const char *image, const char *why, int status)
{
	const char *what;

	switch (r) {
	case CCP_EPOLICY:
		what = "Image policy rejected: Denied by policy: ";
		break;
	case CCP_EDECRYPT:
		what = "Errors happened when pulling image: Failed to decrypt layer: Failed to decrypt the image layer, "
		       "please ensure that the decryption key is placed and correct: ";
		break;
	case CCP_EREGISTRY:
		snprintf(out, len, "[CDH] [ERROR]: Image Pull error: Failed to pull image %s from all mirror/mapping "
			 "locations or original location: image: %s, error: %s%s (ccpull exit status %d)", image, image,
			 strstr(why, "authentication") || strstr(why, "access denied") || strstr(why, "401") ? "Not authorized: " : "",
			 why, status);
		return;
	case CCP_EINTEGRITY:
	case CCP_ELAYER:
		what = "Errors happened when pulling image: ";
		break;
	default:
		what = "Internal error: ";
	}
	snprintf(out, len, "[CDH] [ERROR]: Image Pull error: %s%s (ccpull exit status %d)", what, why, status);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) == 0 ? 0 : -1;
}

/* Nobody received the result: take the bundle back down so that nothing is left mounted or written. */
static void undo(const svc_config *cfg, ccp_context *ctx, const ccp_pull_result *res, const char *bundle)
{
	char path[PATH_MAX];
	int r = 0;

	if (strcmp(ccp_pull_result_snapshotter(res), "overlay") == 0)
		r = ccp_bundle_umount(ctx, bundle);
	else
		r = nftw(ccp_pull_result_rootfs(res), remove_entry, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	if (snprintf(path, sizeof(path), "%s/config.json", bundle) < (int)sizeof(path))
		unlink(path);
	if (r != 0)
		ccp_svc_warn("could not undo the pull into %s: %s", bundle,
			ccp_context_last_error(ctx)[0] ? ccp_context_last_error(ctx) : "cannot remove the rootfs");
	else
		ccp_svc_log(cfg, "pull into %s undone: nobody received its result", bundle);
}

/*
 * The key that one pull at a time holds for a bundle: the directory the path resolves to, not the
 * string, so that /x/b, /x/b/, /x//b and a symlink to /x/b are one bundle. The bundle directory
 * need not exist yet (kata-agent makes it, ccp_pull makes it when missing): then its parent is
 * resolved and the last name appended. The key names the parent by device and inode, so one
 * directory reached through two mounts is one key as well. When nothing resolves, the pull fails
 * anyway; the key is then the path as given.
 */
static int bundle_key(const char *path, char *key, size_t klen)
{
	char *full = realpath(path, NULL), *name, *copy = NULL;
	struct stat st;
	int n;

	if (!full && errno == ENOENT && (copy = strdup(path))) {
		/* "/x/b/" -> parent "/x", name "b" */
		size_t len = strlen(copy);
		while (len > 1 && copy[len - 1] == '/')
			copy[--len] = '\0';
		name = strrchr(copy, '/');
		*name++ = '\0';
		if (*name && strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
			char *parent = realpath(copy[0] ? copy : "/", NULL);
			size_t plen = parent ? strlen(parent) : 0;
			if (parent && (full = malloc(plen + 1 + strlen(name) + 1)))
				snprintf(full, plen + 1 + strlen(name) + 1, "%s/%s", strcmp(parent, "/") ? parent : "",
					 name);
			free(parent);
		}
	}
	free(copy);
	if (!full) {
		n = snprintf(key, klen, "path %s", path);
		return n < 0 || (size_t)n >= klen ? -1 : 0;
	}
	name = strrchr(full, '/');
	if (name == full) {
		/* "/" or "/b": the parent is the root */
		n = stat("/", &st) == 0 ? snprintf(key, klen, "dir %ju:%ju/%s (%s)", (uintmax_t)st.st_dev,
						   (uintmax_t)st.st_ino, name + 1, full)
					: snprintf(key, klen, "path %s", full);
	} else {
		*name = '\0';
		n = stat(full, &st) == 0 ? snprintf(key, klen, "dir %ju:%ju/%s (%s/%s)", (uintmax_t)st.st_dev,
						    (uintmax_t)st.st_ino, name + 1, full, name + 1)
					 : snprintf(key, klen, "path %s/%s", full, name + 1);
	}
	free(full);
	return n < 0 || (size_t)n >= klen ? -1 : 0;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void pull_image(svc_request *rq)
{
	const svc_config *cfg = ccp_svc_request_config(rq);
	ccp_pull_options opts = *cfg->pull;
	Api__ImagePullRequest *in;
	Api__ImagePullResponse out = API__IMAGE_PULL_RESPONSE__INIT;
	ccp_context *ctx = NULL;
	ccp_pull_result *res = NULL;
	struct timespec t0;
	const uint8_t *payload;
	uint8_t *buf = NULL;
	size_t len;
	char msg[1536], key[2 * PATH_MAX + 64];
	int r;

	payload = ccp_svc_request_payload(rq, &len);
	if (!(in = api__image_pull_request__unpack(NULL, len, payload))) {
		ccp_svc_reply(rq, RPC_INVALID_ARGUMENT, "malformed ImagePullRequest", NULL, 0);
		return;
	}
	if (!in->image_url[0] || in->bundle_path[0] != '/' || strlen(in->bundle_path) >= PATH_MAX - 64) {
		ccp_svc_reply(rq, RPC_INVALID_ARGUMENT, "PullImage needs an image_url and an absolute bundle_path", NULL, 0);
		goto out;
	}
	/*
	 * one pull at a time into a bundle directory, however the path spells it (a retry after a
	 * timeout waits for the abandoned pull's undo)
	 */
	if (bundle_key(in->bundle_path, key, sizeof(key)) != 0) {
		ccp_svc_reply(rq, RPC_INVALID_ARGUMENT, "PullImage: bundle_path too long", NULL, 0);
		goto out;
	}
	if (ccp_svc_request_hold(rq, key) != 0) {
		ccp_svc_reply(rq, RPC_RESOURCE_EXHAUSTED, "ccpull: out of memory", NULL, 0);
		goto out;
	}
	if (ccp_context_new(&ctx) != 0) {
		ccp_svc_reply(rq, RPC_RESOURCE_EXHAUSTED, "ccpull: out of memory", NULL, 0);
		goto out;
	}
	/* the request's deadline or its client going away cancels the pull, which then cleans up */
	ccp_svc_request_cancel_with(rq, ctx);
	opts.progress = NULL;
	opts.progress_payload = NULL;
	/* The request's deadline bounds the pull itself, so a timed-out pull stops instead of running on. */
	{
		unsigned int left = ccp_svc_request_seconds_left(rq);
		if (left && (!opts.timeout_s || left < opts.timeout_s))
			opts.timeout_s = left;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ccp_svc_log(cfg, "PullImage %s into %s", in->image_url, in->bundle_path);
	r = ccp_pull(&res, ctx, in->image_url, in->bundle_path, &opts);
	/* said on every pull, also when quiet: they are about what the pull could trust */
	for (size_t i = 0; i < ccp_context_warning_count(ctx); i++)
		ccp_svc_warn("PullImage %s: warning: %s", in->image_url, ccp_context_warning(ctx, i));
	if (r != 0) {
		const char *why = ccp_context_last_error(ctx)[0] ? ccp_context_last_error(ctx) : ccp_strerror(r);
		if (cfg->cdh)
			cdh_message(msg, sizeof(msg), r, in->image_url, why, ccp_exit_status(r));
		else
			snprintf(msg, sizeof(msg), "%s (ccpull exit status %d)", why, ccp_exit_status(r));
		ccp_svc_log(cfg, "PullImage %s failed after %.1f s: %s", in->image_url, seconds_since(&t0), msg);
		/* CDH answers every failure INTERNAL */
		ccp_svc_reply(rq, cfg->cdh ? RPC_INTERNAL : rpc_code(r), msg, NULL, 0);
		goto out;
	}
	/* as CDH: an image that cannot be recorded in the runtime measurement is not handed out */
	if (cfg->aa_socket) {
		char why[1024];
		int m = ccp_svc_measure_pull(cfg->aa_socket, in->image_url, ccp_pull_result_manifest_digest(res), why,
					 sizeof(why));
		if (m < 0) {
			snprintf(msg, sizeof(msg), "%s: pulled, but cannot record it in the runtime measurement "
				 "(attestation agent %s): %s", in->image_url, cfg->aa_socket, why);
			ccp_svc_log(cfg, "PullImage %s failed: %s", in->image_url, msg);
			undo(cfg, ctx, res, in->bundle_path);
			ccp_svc_reply(rq, RPC_INTERNAL, msg, NULL, 0);
			goto out;
		}
		if (m == 0)
			ccp_svc_log(cfg, "PullImage %s: recorded in the runtime measurement%s%s", in->image_url,
				why[0] ? ": " : "", why);
	}
	out.manifest_digest = (char *)ccp_pull_result_manifest_digest(res);
	len = api__image_pull_response__get_packed_size(&out);
	if (!(buf = malloc(len ? len : 1))) {
		undo(cfg, ctx, res, in->bundle_path);
		ccp_svc_reply(rq, RPC_RESOURCE_EXHAUSTED, "ccpull: out of memory", NULL, 0);
		goto out;
	}
	api__image_pull_response__pack(&out, buf);
	ccp_svc_log(cfg, "PullImage %s: %s in %.1f s", in->image_url, out.manifest_digest, seconds_since(&t0));
	if (!ccp_svc_reply(rq, RPC_OK, NULL, buf, len))
		undo(cfg, ctx, res, in->bundle_path);
out:
	free(buf);
	ccp_pull_result_free(res);
	if (ctx)
		ccp_svc_request_cancel_with(rq, NULL);
	ccp_context_free(ctx);
	api__image_pull_request__free_unpacked(in, NULL);
}
