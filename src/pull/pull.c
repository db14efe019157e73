/*
 * The context, ccp_pull and its result: resolve the image, make or reuse each layer in the store
 * (layers.c), assemble the bundle (take it, build the rootfs, write config.json, undo on failure).
 */
#include "pull/layers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/bundle.h"
#include "keyproviders/keyproviders.h"
#include "store/store.h"
#include "util/fs.h"

/* ---- context ---- */

int ccp_context_new(ccp_context **out)
{
	*out = NULL;
	if (!ccp_lib_initialised()) {
		ccp_lib_error_set("ccp_init() has not been called");
		return CCP_EINVALID;
	}
	if (!(*out = calloc(1, sizeof(**out)))) {
		ccp_lib_error_set("out of memory");
		return CCP_ENOMEM;
	}
	ccp_lib_error_set("");
	ccp_kbs_hold();
	return 0;
}

void ccp_context_free(ccp_context *ctx)
{
	if (!ctx)
		return;
	/* KBS sessions and their cached secrets live no longer than the last context */
	ccp_kbs_release();
	for (size_t i = 0; i < ctx->n_providers; i++)
		ctx->providers[i]->free(ctx->providers[i]);
	free(ctx->providers);
	free(ctx);
}

int ccp_context_add_keyprovider(ccp_context *ctx, ccp_keyprovider *kp)
{
	ccp_keyprovider **np;
	ccp_err e = CCP_ERR_INIT;

	if (!kp) {
		ccp_err_set(&e, CCP_EINVALID, "ccp_context_add_keyprovider: no key provider");
	} else if (!ctx) {
		ccp_err_set(&e, CCP_EINVALID, "ccp_context_add_keyprovider: no context");
	} else if (kp->version < 1 || kp->version > CCP_KEYPROVIDER_VERSION || !kp->handles || !kp->unwrap ||
		   !kp->free || !kp->description) {
		ccp_err_set(&e, CCP_EINVALID, "key provider with version %u (this library knows 1 to %u) or without "
			    "description, handles, unwrap or free", kp->version, CCP_KEYPROVIDER_VERSION);
	} else if (ctx->n_providers >= CCP_CONTEXT_PROVIDERS_MAX) {
		ccp_err_set(&e, CCP_EINVALID, "more than %u key providers on one context", CCP_CONTEXT_PROVIDERS_MAX);
	} else if (!(np = realloc(ctx->providers, (ctx->n_providers + 1) * sizeof(*np)))) {
		ccp_err_oom(&e);
	} else {
		ctx->providers = np;
		ctx->providers[ctx->n_providers++] = kp;
		return ccp_context_finish(ctx, 0, &e);
	}
	/* ownership was given: a provider that is not added is released */
	if (kp && kp->free)
		kp->free(kp);
	return ccp_context_finish(ctx, e.code, &e);
}

void ccp_context_cancel(ccp_context *ctx)
{
	/* an atomic store and nothing else: safe from another thread and from a signal handler */
	if (ctx)
		ccp_cancel_request(&ctx->cancel);
}

const char *ccp_context_last_error(const ccp_context *ctx)
{
	return ctx ? ctx->last_error : ccp_lib_error();
}

const char *ccp_version(void)
{
	return CCPULL_VERSION;
}

static int fail(ccp_context *ctx, const ccp_err *e)
{
	return ccp_context_finish(ctx, e->code ? e->code : CCP_EINTERNAL, e);
}

void ccp_pull_result_free(ccp_pull_result *res)
{
	if (!res)
		return;
	for (size_t i = 0; i < res->n_layers; i++)
		free(res->layers[i].media_type);
	free(res->layers);
	free(res->image);
	free(res->rootfs);
	free(res->config_path);
	free(res->config_json);
	free(res);
}

static int result_new(ccp_pull_result **out, const resolved_image *rv, ccp_err *e)
{
	ccp_pull_result *res = calloc(1, sizeof(*res));

	*out = NULL;
	if (!res || !(res->image = strdup(rv->image)) ||
	    !(res->layers = calloc(rv->man.n_layers ? rv->man.n_layers : 1, sizeof(layer_result)))) {
		ccp_pull_result_free(res);
		return ccp_err_oom(e);
	}
	res->n_layers = rv->man.n_layers;
	ccp_digest_str(&rv->man_digest, res->manifest_digest);
	ccp_digest_str(&rv->man.config.digest, res->config_digest);
	ccp_platform_str(&rv->platform, res->platform, sizeof(res->platform));
	for (size_t k = 0; k < rv->man.n_layers; k++) {
		ccp_digest_str(&rv->man.layers[k].digest, res->layers[k].digest);
		ccp_digest_str(&rv->cfg.diff_ids[k], res->layers[k].diff_id);
		res->layers[k].size = rv->man.layers[k].size;
		if (!(res->layers[k].media_type = strdup(rv->man.layers[k].media_type))) {
			ccp_pull_result_free(res);
			return ccp_err_oom(e);
		}
	}
	*out = res;
	return 0;
}

typedef struct bundle_state {
	char *bundle;     /* absolute */
	int fd;           /* the bundle directory, locked by this pull until closed */
	int created;      /* we made the bundle directory */
	int locked;       /* ours: only then is anything in it removed on failure */
	char tmp[64];     /* ".rootfs-<id>" while assembling a copy */
	int rootfs_fd;
	int mounted;      /* rootfs is an overlay bundle mount */
	int wrote_config;
} bundle_state;

/*
 * Takes the bundle before any network I/O: checks its name, creates the directory when missing, locks
 * it (one pull per bundle) and checks that it holds no earlier pull's rootfs or config.json. A bundle
 * the caller named wrongly (empty, /, not a directory, busy, not empty of those) is CCP_EINVALID; a
 * directory that cannot be created or opened is CCP_ESTORAGE.
 */
static int bundle_take(bundle_state *b, const char *bundle, ccp_err *e)
{
	struct stat st, now;
	const char *what;
	int r;

	memset(b, 0, sizeof(*b));
	b->fd = b->rootfs_fd = -1;
	if (!bundle[0])
		return ccp_err_set(e, CCP_EINVALID, "the bundle path is empty");
	if (!(b->bundle = realpath(bundle, NULL))) {
		if (errno != ENOENT)
			return ccp_err_errno(e, CCP_ESTORAGE, errno, "bundle `%s`", bundle);
		if (mkdir(bundle, 0700) == 0)
			b->created = 1;
		else if (errno != EEXIST) /* EEXIST: another pull made it just now; the lock decides */
			return ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot create bundle `%s`", bundle);
		if (!(b->bundle = realpath(bundle, NULL)))
			return ccp_err_errno(e, CCP_ESTORAGE, errno, "bundle `%s`", bundle);
	}
	if (strcmp(b->bundle, "/") == 0)
		return ccp_err_set(e, CCP_EINVALID, "bundle `%s` is the root directory; a bundle needs a directory of its own",
				   bundle);
	if ((b->fd = open(b->bundle, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ENOTDIR)
			return ccp_err_set(e, CCP_EINVALID, "bundle `%s` is not a directory", b->bundle);
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot open bundle `%s`", b->bundle);
	}
	if ((r = ccp_bundle_lock(b->fd, b->bundle, e)))
		return r;
	b->locked = 1;
	/* A failed pull removes the bundle directory it made: the one locked must still be the bundle. */
	if (fstat(b->fd, &st) < 0 || stat(b->bundle, &now) < 0 || st.st_dev != now.st_dev || st.st_ino != now.st_ino) {
		b->locked = 0;
		return ccp_err_set(e, CCP_EINVALID, "bundle `%s` is busy: another pull removed it while this one started",
				   b->bundle);
	}
	if (fstatat(b->fd, "rootfs", &st, AT_SYMLINK_NOFOLLOW) == 0)
		what = "a rootfs";
	else if (fstatat(b->fd, "config.json", &st, AT_SYMLINK_NOFOLLOW) == 0)
		what = "a config.json";
	else
		return 0;
	if (fstatat(b->fd, ".ccpull/bundle.json", &st, AT_SYMLINK_NOFOLLOW) == 0)
		return ccp_err_set(e, CCP_EINVALID, "bundle `%s` already holds the overlay rootfs of an earlier pull; "
				   "run `ccpull umount %s` first, or choose another bundle", b->bundle, b->bundle);
	return ccp_err_set(e, CCP_EINVALID, "bundle `%s` already holds %s; remove it or choose another bundle",
			   b->bundle, what);
}

/* With overlay, BUNDLE/rootfs appears only when mounted: no temporary directory is made. */
static int bundle_begin(bundle_state *b, int overlay, ccp_err *e)
{
	char id[17];
	int r;

	if (overlay)
		return 0;
	if ((r = ccp_random_id(id, 8, e)))
		return r;
	snprintf(b->tmp, sizeof(b->tmp), ".rootfs-%s", id);
	if (mkdirat(b->fd, b->tmp, 0755) < 0) {
		b->tmp[0] = '\0';
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot create the rootfs in `%s`", b->bundle);
	}
	if ((b->rootfs_fd = openat(b->fd, b->tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot create the rootfs in `%s`", b->bundle);
	return 0;
}

static int bundle_finish(bundle_state *b, const resolved_image *rv, ccp_pull_result *res, ccp_err *e)
{
	size_t len;
	int r;

	/* the image's User is resolved in the rootfs: not for a pull that was cancelled meanwhile */
	if ((r = ccp_cancel_check(rv->cancel, rv->image, e)))
		return r;
	if ((r = ccp_bundle_write_config(b->fd, b->rootfs_fd, rv->cfg_json, &res->config_json, e)))
		return ccp_err_wrap(e, "config.json for %s", rv->image);
	b->wrote_config = 1;
	if ((r = ccp_cancel_check(rv->cancel, rv->image, e)))
		return r;
	if (!b->mounted &&
	    (fsync(b->rootfs_fd) < 0 || renameat(b->fd, b->tmp, b->fd, "rootfs") < 0))
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot move the rootfs into place in `%s`", b->bundle);
	b->tmp[0] = '\0';
	len = strlen(b->bundle) + sizeof("/config.json");
	if (!(res->rootfs = malloc(len)) || !(res->config_path = malloc(len)))
		return ccp_err_oom(e);
	snprintf(res->rootfs, len, "%s/rootfs", b->bundle);
	snprintf(res->config_path, len, "%s/config.json", b->bundle);
	return 0;
}

/*
 * Leaves the bundle as it was before the pull (on failure), or just releases it (on success). Only
 * what this pull made is removed, and only when it held the bundle: never another pull's work.
 */
static void bundle_end(bundle_state *b, int failed)
{
	if (b->rootfs_fd >= 0)
		close(b->rootfs_fd);
	if (failed && b->locked && b->mounted) {
		ccp_err ignored = CCP_ERR_INIT;
		ccp_bundle_unmount_overlay(b->bundle, &ignored);
		unlinkat(b->fd, ".ccpull/bundle.json", 0);
		unlinkat(b->fd, ".ccpull", AT_REMOVEDIR);
	}
	if (failed && b->locked) {
		if (b->tmp[0])
			ccp_rm_rf_at(b->fd, b->tmp);
		if (b->wrote_config)
			unlinkat(b->fd, "config.json", 0);
		if (b->created)
			rmdir(b->bundle);
	}
	if (b->fd >= 0)
		close(b->fd); /* releases the lock */
	free(b->bundle);
}

/*
 * Overlay when asked for, or by default when running as root on a kernel with overlayfs and keeping
 * layers (an overlay mount is made of the store's layers).
 */
static int choose_snapshotter(const ccp_pull_options *o, int privileged, int *overlay, ccp_err *e)
{
	*overlay = 0;
	if (o->store.snapshotter == CCP_SNAPSHOTTER_COPY)
		return 0;
	if (o->store.keep == CCP_STORE_KEEP_NONE) {
		if (o->store.snapshotter == CCP_SNAPSHOTTER_OVERLAY)
			return ccp_err_set(e, CCP_EINVALID, "the overlay snapshotter mounts the store's layers: it cannot "
					   "leave them out of the store; use --snapshotter copy");
		return 0;
	}
	if (o->store.snapshotter == CCP_SNAPSHOTTER_OVERLAY) {
		if (!privileged)
			return ccp_err_set(e, CCP_EINVALID, "the overlay snapshotter needs root; use --snapshotter copy");
		if (!ccp_overlay_supported())
			return ccp_err_set(e, CCP_EINVALID, "this kernel cannot mount overlayfs; use --snapshotter copy");
		*overlay = 1;
		return 0;
	}
	*overlay = privileged && ccp_overlay_supported();
	return 0;
}

int ccp_pull(ccp_pull_result **out, ccp_context *ctx, const char *image, const char *bundle,
	     const ccp_pull_options *opts)
{
	ccp_pull_options defaults = CCP_PULL_OPTIONS_INIT;
	const ccp_pull_options *o = opts ? opts : &defaults;
	ccp_err e = CCP_ERR_INIT;
	resolved_image rv;
	bundle_state b;
	ccp_store *store = NULL;
	ccp_policy_gate *gate = NULL;
	ccp_pull_result *res = NULL;
	ccp_digest *chain = NULL;
	ccp_cancel local, *cancel;
	int r, privileged = geteuid() == 0, overlay = 0;

	ccp_call_warnings(ctx, o);
	if (!out || !image || !bundle)
		return ccp_err_set(&e, CCP_EINVALID, "ccp_pull: out, image and bundle are required"), fail(ctx, &e);
	*out = NULL;
	/* one deadline for the whole pull, and the context's cancellation, checked by every stage */
	cancel = ccp_call_cancel(ctx, &local, o);
	if ((r = ccp_cancel_check(cancel, image, &e)))
		return fail(ctx, &e);
	memset(&rv, 0, sizeof(rv));
	/*
	 * Local configuration first, then the bundle (one pull per bundle), then anything over the
	 * network: a policy the KBS releases is read only once the bundle is ours.
	 */
	if ((r = ccp_check_common_options(o, &e)) || (r = choose_snapshotter(o, privileged, &overlay, &e)) ||
	    (!ccp_policy_gate_remote(o) && (r = ccp_policy_gate_prepare(&gate, o, cancel, &e))))
		return fail(ctx, &e);
	r = bundle_take(&b, bundle, &e);
	if (r == 0 && ccp_policy_gate_remote(o))
		r = ccp_policy_gate_prepare(&gate, o, cancel, &e);
	if (r)
		goto done;
	if (privileged && (r = ccp_store_open(&store, o->store.dir ? o->store.dir : CCP_STORE_DEFAULT, &e)))
		goto done;
	if (store)
		ccp_store_set_sync(store, o->store.sync == CCP_STORE_SYNC_NONE   ? CCP_STORE_DURABLE_OFF
					  : o->store.sync == CCP_STORE_SYNC_FULL ? CCP_STORE_DURABLE_ON
										 : CCP_STORE_DURABLE_AUTO);
	/* The policy decides on the verified manifest; only an accepted image has its config fetched. */
	if ((r = ccp_resolve_image(&rv, image, o, cancel, &e)) || (r = ccp_policy_gate_check(gate, &rv, &e)) ||
	    (r = ccp_resolve_config(&rv, store, &e)) || (r = ccp_check_platform(&rv, o, &e)))
		goto done;
	if (ctx) {
		rv.providers = ctx->providers;
		rv.n_providers = ctx->n_providers;
	}
	if ((r = result_new(&res, &rv, &e)))
		goto done;
	if (rv.man.n_layers == 0)
		overlay = 0; /* overlayfs needs a lower layer; an empty image is an empty directory */
	res->snapshotter = overlay ? "overlay" : "copy";
	if ((r = bundle_begin(&b, overlay, &e)))
		goto done;

	if (!privileged) {
		/* Overlay mounts need privileges: no shared store, each pull applies its layers itself. */
		r = ccp_pull_apply_all_into(b.rootfs_fd, &rv, o, res->layers, &e);
	} else {
		size_t n = rv.man.n_layers;
		if (!(chain = calloc(n ? n : 1, sizeof(*chain)))) {
			r = ccp_err_oom(&e);
			goto done;
		}
		if ((r = ccp_pull_chain_ids(chain, &rv.cfg, &e)))
			goto done;
		if (o->store.keep == CCP_STORE_KEEP_NONE) {
			/* the image's data written once: into the bundle, not into the store first */
			r = ccp_pull_copy_unkept(store, &rv, chain, o, res, b.fd, b.rootfs_fd, &e);
		} else {
			if ((r = ccp_pull_make_layers(store, &rv, chain, o, res, &e)) ||
			    (r = ccp_cancel_check(cancel, rv.image, &e)))
				goto done;
			ccp_pull_emit(o, CCP_PROGRESS_ROOTFS, n, n, NULL, 0, 0, 0);
			if (overlay) {
				if ((r = ccp_bundle_mount_overlay(store, b.fd, b.bundle, rv.image, chain, n, &b.rootfs_fd,
								  &e)) == 0)
					b.mounted = 1;
			} else if (n) {
				r = ccp_pull_assemble_copy(store, chain, n, b.rootfs_fd, cancel, &e);
			}
		}
	}
	if (r == 0)
		r = bundle_finish(&b, &rv, res, &e);
	/* The config is kept only for a pull that succeeded; it is only a cache, a failure to keep it is not one. */
	if (r == 0 && store && !rv.cfg_in_store && o->store.keep != CCP_STORE_KEEP_NONE)
		ccp_store_put_blob(store, &rv.man.config.digest, rv.cfg_raw.data, rv.cfg_raw.len, NULL);
done:
	bundle_end(&b, r != 0);
	free(chain);
	ccp_store_close(store);
	ccp_policy_gate_free(gate);
	ccp_resolved_image_free(&rv);
	if (r) {
		ccp_pull_result_free(res);
		return fail(ctx, &e);
	}
	*out = res;
	return 0;
}

/* ---- result getters ---- */

const char *ccp_pull_result_image(const ccp_pull_result *res) { return res->image; }
const char *ccp_pull_result_manifest_digest(const ccp_pull_result *res) { return res->manifest_digest; }
const char *ccp_pull_result_config_digest(const ccp_pull_result *res) { return res->config_digest; }
const char *ccp_pull_result_platform(const ccp_pull_result *res) { return res->platform; }
const char *ccp_pull_result_rootfs(const ccp_pull_result *res) { return res->rootfs; }
const char *ccp_pull_result_config_path(const ccp_pull_result *res) { return res->config_path; }
const char *ccp_pull_result_config_json(const ccp_pull_result *res) { return res->config_json; }
const char *ccp_pull_result_snapshotter(const ccp_pull_result *res) { return res->snapshotter; }
size_t ccp_pull_result_layer_count(const ccp_pull_result *res) { return res->n_layers; }

const char *ccp_pull_result_layer_digest(const ccp_pull_result *res, size_t i)
{
	return i < res->n_layers ? res->layers[i].digest : NULL;
}

const char *ccp_pull_result_layer_diff_id(const ccp_pull_result *res, size_t i)
{
	return i < res->n_layers ? res->layers[i].diff_id : NULL;
}

const char *ccp_pull_result_layer_media_type(const ccp_pull_result *res, size_t i)
{
	return i < res->n_layers ? res->layers[i].media_type : NULL;
}

uint64_t ccp_pull_result_layer_size(const ccp_pull_result *res, size_t i)
{
	return i < res->n_layers ? res->layers[i].size : 0;
}

int ccp_pull_result_layer_reused(const ccp_pull_result *res, size_t i)
{
	return i < res->n_layers ? res->layers[i].reused : 0;
}