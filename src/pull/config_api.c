/* The public ccpull.toml calls (ccpull/config.h): a CDH config mapped onto ccp_pull_options. */
#include "pull/pull_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ccpull/config.h"
#include "config/cdh_config.h"
#include "config/resource.h"
#include "util/fs.h"

#define CMDLINE_MAX (64 * 1024)
#define DOC_MAX (1024 * 1024)
#define CCP_OFFLINE_FS_KBC_RESOURCES "/etc/aa-offline_fs_kbc-resources.json"

struct ccp_config {
	ccp_cdh_config c;
	char *dir;  /* private directory of the documents written from inline values, or NULL */
	char *store, *policy, *registries_conf, *registries_d, *authfile, *ca_file, *kbs, *kbs_cert, *aa_socket;
	char *kbs_resources;
};

static int finish(ccp_context *ctx, int r, const ccp_err *e)
{
	if (r && ctx)
		snprintf(ctx->last_error, sizeof(ctx->last_error), "%s", e->msg[0] ? e->msg : ccp_strerror(r));
	return r;
}

void ccp_config_free(ccp_config *cfg)
{
	if (!cfg)
		return;
	if (cfg->dir) {
		ccp_rm_rf_at(AT_FDCWD, cfg->dir);
		free(cfg->dir);
	}
	ccp_cdh_config_free(&cfg->c);
	free(cfg->store);
	free(cfg->policy);
	free(cfg->registries_conf);
	free(cfg->registries_d);
	free(cfg->authfile);
	free(cfg->ca_file);
	free(cfg->kbs);
	free(cfg->kbs_cert);
	free(cfg->aa_socket);
	free(cfg->kbs_resources);
	free(cfg);
}

/*
 * A local file named by a path or a file:// URI, or a kbs:// resource (kept as the URI: the option
 * fetches it at pull time, as CDH does for every *_uri key).
 */
static int resolve_uri(char **out, const char *key, const char *uri, ccp_err *e)
{
	const char *path = uri;
	char rpath[CCP_RESOURCE_PATH_MAX];

	if (ccp_resource_is_kbs(uri)) {
		if (ccp_resource_kbs_path(rpath, uri, e))
			return ccp_err_wrap(e, "%s", key);
	} else if (strncmp(uri, "file://", 7) == 0) {
		path = uri + 7;
		if (path[0] != '/')
			return ccp_err_set(e, CCP_EINVALID, "%s = \"%.256s\": a file:// URI must hold an absolute path",
					   key, uri);
	} else if (strstr(uri, "://")) {
		return ccp_err_set(e, CCP_EINVALID, "%s = \"%.256s\": unsupported URI scheme (a path, file:// or kbs:///)",
				   key, uri);
	}
	if (!(*out = strdup(path)))
		return ccp_err_oom(e);
	return 0;
}

/* Creates cfg->dir on first use. */
static int private_dir(ccp_config *cfg, ccp_err *e)
{
	const char *base = getenv("TMPDIR");
	char tmpl[4096];

	if (cfg->dir)
		return 0;
	if (!base || base[0] != '/')
		base = geteuid() == 0 ? "/run" : "/tmp";
	if (snprintf(tmpl, sizeof(tmpl), "%s/ccpull-config.XXXXXX", base) >= (int)sizeof(tmpl))
		return ccp_err_set(e, CCP_EINVALID, "TMPDIR is too long");
	if (!mkdtemp(tmpl))
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot create a directory in %s for the configuration", base);
	if (!(cfg->dir = strdup(tmpl))) {
		rmdir(tmpl);
		return ccp_err_oom(e);
	}
	return 0;
}

/* Writes data to cfg->dir/name; name may be "sub/file", and then *path is the directory sub. */
static int write_doc(ccp_config *cfg, const char *name, const char *data, size_t len, char **path, ccp_err *e)
{
	const char *slash = strchr(name, '/');
	char dir[4096 + 64], file[4096 + 64];
	int fd, r;

	if ((r = private_dir(cfg, e)))
		return r;
	snprintf(dir, sizeof(dir), "%s%s%.*s", cfg->dir, slash ? "/" : "", slash ? (int)(slash - name) : 0, name);
	snprintf(file, sizeof(file), "%s/%s", cfg->dir, name);
	if (slash && mkdir(dir, 0700) != 0 && errno != EEXIST)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot create %s", dir);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot open %s", dir);
	r = ccp_write_file_at(fd, slash ? slash + 1 : name, data, len, 0600, e);
	close(fd);
	if (r)
		return r;
	if (!(*path = strdup(slash ? dir : file)))
		return ccp_err_oom(e);
	return 0;
}

/* Maps the parsed configuration onto option values, writing inline documents to files. */
static int resolve(ccp_config *cfg, ccp_err *e)
{
	ccp_cdh_config *c = &cfg->c;
	ccp_buf b = CCP_BUF_INIT(DOC_MAX);
	int r = 0;

	if (c->work_dir && !(cfg->store = strdup(c->work_dir)))
		return ccp_err_oom(e);
	/* image-rs: the URI wins over the inline document */
	if (c->policy_uri)
		r = resolve_uri(&cfg->policy, "image_security_policy_uri", c->policy_uri, e);
	else if (c->policy)
		r = write_doc(cfg, "policy.json", c->policy, strlen(c->policy), &cfg->policy, e);
	if (r)
		return r;
	if (c->sigstore_config_uri && ccp_resource_is_kbs(c->sigstore_config_uri)) {
		/* one registries.d document, fetched at pull time */
		r = resolve_uri(&cfg->registries_d, "sigstore_config_uri", c->sigstore_config_uri, e);
	} else if (c->sigstore_config_uri) {
		char *path = NULL;
		if ((r = resolve_uri(&path, "sigstore_config_uri", c->sigstore_config_uri, e)))
			return r;
		r = ccp_read_file(&b, path, DOC_MAX, e);
		free(path);
		if (r)
			return ccp_err_wrap(e, "sigstore_config_uri");
		r = write_doc(cfg, "registries.d/sigstore.yaml", b.data ? b.data : "", b.len, &cfg->registries_d, e);
		ccp_buf_free(&b);
	} else if (c->sigstore_config) {
		r = write_doc(cfg, "registries.d/sigstore.yaml", c->sigstore_config, strlen(c->sigstore_config),
			      &cfg->registries_d, e);
	}
	if (r)
		return r;
	if (c->auth_uri && (r = resolve_uri(&cfg->authfile, "authenticated_registry_credentials_uri", c->auth_uri, e)))
		return r;
	if (c->has_registry_config) {
		if (!(r = ccp_registries_conf_format(&c->registry_config, &b, e)))
			r = write_doc(cfg, "registries.conf", b.data ? b.data : "", b.len, &cfg->registries_conf, e);
		ccp_buf_free(&b);
	} else if (c->registries_uri) {
		r = resolve_uri(&cfg->registries_conf, "registry_configuration_uri", c->registries_uri, e);
	}
	if (r)
		return r;
	if (c->n_extra_root_certificates) {
		for (size_t i = 0; !r && i < c->n_extra_root_certificates; i++)
			if (!(r = ccp_buf_puts(&b, c->extra_root_certificates[i])))
				r = ccp_buf_puts(&b, "\n");
		if (r) {
			ccp_buf_free(&b);
			return r == CCP_ENOMEM ? ccp_err_oom(e)
					       : ccp_err_set(e, CCP_EINVALID, "extra_root_certificates are too large");
		}
		r = write_doc(cfg, "extra-roots.pem", b.data, b.len, &cfg->ca_file, e);
		ccp_buf_free(&b);
		if (r)
			return r;
	}
	/* CDH's KBC "offline_fs_kbc" reads its resources from a fixed file; a path or file:// url names
	 * another one (for tests and initdata) */
	if (c->kbc_name && strcmp(c->kbc_name, "offline_fs_kbc") == 0) {
		if (c->kbs_url && (c->kbs_url[0] == '/' || strncmp(c->kbs_url, "file://", 7) == 0))
			r = resolve_uri(&cfg->kbs_resources, "[kbc] url", c->kbs_url, e);
		else if (!(cfg->kbs_resources = strdup(CCP_OFFLINE_FS_KBC_RESOURCES)))
			r = ccp_err_oom(e);
		if (r)
			return r;
	}
	/* CDH's KBC "cc_kbc" is the Trustee KBS; the others hold no KBS */
	if (c->kbc_name && strcmp(c->kbc_name, "cc_kbc") == 0 && c->kbs_url && strcmp(c->kbs_url, "null") != 0) {
		if (!(cfg->kbs = strdup(c->kbs_url)))
			return ccp_err_oom(e);
		if (c->kbs_cert && (r = write_doc(cfg, "kbs-cert.pem", c->kbs_cert, strlen(c->kbs_cert), &cfg->kbs_cert, e)))
			return r;
	}
	if (c->aa_socket) {
		const char *s = strncmp(c->aa_socket, "unix://", 7) == 0 ? c->aa_socket + 7 : c->aa_socket;
		if (!(cfg->aa_socket = strdup(s)))
			return ccp_err_oom(e);
	}
	return 0;
}

static int load_with(ccp_config **out, ccp_context *ctx, const char *path, const char *cmdline, size_t len)
{
	ccp_err e = CCP_ERR_INIT;
	ccp_config *cfg;
	int r;

	if (!out)
		return finish(ctx, ccp_err_set(&e, CCP_EINVALID, "invalid arguments"), &e);
	*out = NULL;
	if (!(cfg = calloc(1, sizeof(*cfg))))
		return finish(ctx, ccp_err_oom(&e), &e);
	if (path)
		r = ccp_cdh_config_load(&cfg->c, path, &e);
	else
		r = ccp_cdh_config_from_cmdline(&cfg->c, cmdline, len, &e);
	if (!r && (r = resolve(cfg, &e)) != 0)
		ccp_err_wrap(&e, path ? "config `%s`" : "kernel command line", path);
	if (r) {
		ccp_config_free(cfg);
		return finish(ctx, r, &e);
	}
	*out = cfg;
	return 0;
}

int ccp_config_load(ccp_config **out, ccp_context *ctx, const char *path)
{
	ccp_err e = CCP_ERR_INIT;

	if (!path)
		return finish(ctx, ccp_err_set(&e, CCP_EINVALID, "no config file given"), &e);
	return load_with(out, ctx, path, NULL, 0);
}

int ccp_config_load_cmdline(ccp_config **out, ccp_context *ctx, const char *path)
{
	ccp_buf b = CCP_BUF_INIT(CMDLINE_MAX);
	ccp_err ignored = CCP_ERR_INIT;
	int r;

	/* as CDH: an unreadable command line configures nothing */
	if (ccp_read_file(&b, path ? path : "/proc/cmdline", CMDLINE_MAX, &ignored) != 0)
		ccp_buf_clear(&b);
	r = load_with(out, ctx, NULL, b.data ? b.data : "", b.len);
	ccp_buf_free(&b);
	return r;
}

int ccp_config_apply(const ccp_config *cfg, ccp_context *ctx, ccp_pull_options *opts)
{
	ccp_err e = CCP_ERR_INIT;

	if (!cfg || !opts || opts->version != CCP_PULL_OPTIONS_VERSION)
		return finish(ctx, ccp_err_set(&e, CCP_EINVALID, "invalid arguments"), &e);
#define FILL(field) do { if (!opts->field && cfg->field) opts->field = cfg->field; } while (0)
	FILL(store);
	FILL(policy);
	FILL(registries_conf);
	FILL(registries_d);
	FILL(authfile);
	FILL(ca_file);
	FILL(kbs);
	FILL(kbs_cert);
	FILL(kbs_resources);
	FILL(aa_socket);
#undef FILL
	if (!opts->parallel_layers && cfg->c.max_layer_downloads > 0)
		opts->parallel_layers = (unsigned int)cfg->c.max_layer_downloads;
	if (!opts->max_decompression_ratio && cfg->c.max_decompression_ratio > 0)
		opts->max_decompression_ratio = (unsigned int)cfg->c.max_decompression_ratio;
	if (opts->store_sync == CCP_STORE_SYNC_DEFAULT && cfg->c.store_sync > 0)
		opts->store_sync = (ccp_store_sync)cfg->c.store_sync;
	if (!opts->parallel_ranges && cfg->c.parallel_ranges > 0)
		opts->parallel_ranges = (unsigned int)cfg->c.parallel_ranges;
	if (!opts->parallel_ranges_min_mib && cfg->c.parallel_ranges_min_mib > 0)
		opts->parallel_ranges_min_mib = (unsigned int)cfg->c.parallel_ranges_min_mib;
	return 0;
}

const char *ccp_config_proxy(const ccp_config *cfg, const char *which)
{
	if (!cfg || !which)
		return NULL;
	if (strcmp(which, "https_proxy") == 0)
		return cfg->c.https_proxy;
	if (strcmp(which, "http_proxy") == 0)
		return cfg->c.http_proxy;
	if (strcmp(which, "no_proxy") == 0)
		return cfg->c.no_proxy;
	return NULL;
}

const char *ccp_config_aa_socket(const ccp_config *cfg)
{
	return cfg ? cfg->aa_socket : NULL;
}
