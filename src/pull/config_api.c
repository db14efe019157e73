/* The public ccpull.toml calls (ccpull/config.h): a CDH config mapped onto ccp_pull_options. */
#include "pull/pull_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/x509.h>

#include "ccpull/config.h"
#include "config/cdh_config.h"
#include "config/resource.h"
#include "util/fs.h"

#define CMDLINE_MAX (64 * 1024)
#define DOC_MAX (1024 * 1024)
#define CCP_OFFLINE_FS_KBC_RESOURCES "/etc/aa-offline_fs_kbc-resources.json"
#define CDH_WORK_DIR "/run/kata-containers/image" /* image-rs' default work_dir */
#define CREDENTIAL_MAX (1024 * 1024)
#define SYSTEM_ROOTS_MAX (8 * 1024 * 1024)

struct ccp_config {
	ccp_cdh_config c;
	char *dir;  /* private directory of the documents written from inline values, or NULL */
	char *store, *policy, *registries_conf, *registries_d, *authfile, *ca_file, *kbs, *kbs_cert, *aa_socket;
	char *kbs_resources;
	char *socket, *forward_socket;  /* CDH mode: without "unix://" */
	int cdh;                        /* loaded by ccp_config_load_cdh */
};

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
	free(cfg->socket);
	free(cfg->forward_socket);
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
		if (c->kbs_cert && cfg->cdh) {
			/*
			 * CDH adds kbs_cert to the system's roots (kbs_protocol add_kbs_cert, reqwest
			 * add_root_certificate); the KBS client trusts one bundle: the system's roots
			 * ($SSL_CERT_FILE, else OpenSSL's default file; none readable: none), then kbs_cert
			 */
			const char *sys = getenv(X509_get_default_cert_file_env());
			ccp_err ignored = CCP_ERR_INIT;
			if (!sys || !*sys)
				sys = X509_get_default_cert_file();
			b.max = SYSTEM_ROOTS_MAX;
			if (ccp_read_file(&b, sys, SYSTEM_ROOTS_MAX, &ignored) != 0)
				ccp_buf_clear(&b);
			b.max = SYSTEM_ROOTS_MAX + DOC_MAX;
			if ((r = ccp_buf_puts(&b, "\n")) == 0 && (r = ccp_buf_puts(&b, c->kbs_cert)) == 0)
				r = write_doc(cfg, "kbs-cert.pem", b.data, b.len, &cfg->kbs_cert, e);
			else
				r = r == CCP_ENOMEM ? ccp_err_oom(e) : ccp_err_set(e, CCP_EINVALID, "kbs_cert is too large");
			ccp_buf_free(&b);
			if (r)
				return r;
		} else if (c->kbs_cert &&
			   (r = write_doc(cfg, "kbs-cert.pem", c->kbs_cert, strlen(c->kbs_cert), &cfg->kbs_cert, e))) {
			return r;
		}
	}
	if (c->aa_socket) {
		const char *s = strncmp(c->aa_socket, "unix://", 7) == 0 ? c->aa_socket + 7 : c->aa_socket;
		if (!(cfg->aa_socket = strdup(s)))
			return ccp_err_oom(e);
	}
	return 0;
}

/* "unix:///PATH" -> "/PATH" (the only form CDH's ttrpc server takes). */
static int unix_path(char **out, const char *key, const char *v, ccp_err *e)
{
	if (strncmp(v, "unix://", 7) != 0 || v[7] != '/' || strlen(v + 7) >= 108)
		return ccp_err_set(e, CCP_EINVALID, "%s = \"%.256s\": expected unix:///PATH (a path shorter than 108 bytes)",
				   key, v);
	if (!(*out = strdup(v + 7)))
		return ccp_err_oom(e);
	return 0;
}

typedef struct cdh_mode {
	const char *cmdline;   /* the kernel command line (cdh.kbs_resources, agent.aa_kbc_params) */
	size_t cmdline_len;
	const char *aa_kbc_params; /* $AA_KBC_PARAMS, or NULL */
} cdh_mode;

/* What CDH adds to its config before it starts (hub/src/bin/config/mod.rs, hub/src/config/mod.rs). */
static int cdh_prepare(ccp_config *cfg, const cdh_mode *m, int from_file, ccp_err *e)
{
	ccp_cdh_config *c = &cfg->c;
	int r;

	/* CdhConfig's kbc has no default: a file without it is refused by CDH */
	if (from_file && !c->has_kbc)
		return ccp_err_set(e, CCP_EINVALID, "[kbc] is missing (name = \"cc_kbc\" or \"offline_fs_kbc\", url), "
				   "as the Confidential Data Hub requires");
	if ((r = ccp_cdh_config_add_cmdline(c, m->cmdline, m->cmdline_len, !from_file, e)))
		return ccp_err_wrap(e, "kernel command line");
	if (m->aa_kbc_params && (r = ccp_cdh_config_set_kbc(c, m->aa_kbc_params, e)))
		return ccp_err_wrap(e, "AA_KBC_PARAMS");
	if (!c->kbc_name && !(c->kbc_name = strdup("offline_fs_kbc")))
		return ccp_err_oom(e);
	if (!c->work_dir && !(c->work_dir = strdup(CDH_WORK_DIR)))
		return ccp_err_oom(e);
	for (size_t i = 0; i < c->n_credentials; i++) {
		const ccp_cdh_credential *cr = &c->credentials[i];
		if (!ccp_cdh_credential_path_valid(cr->path))
			return ccp_err_set(e, CCP_EINVALID, "illegal path to put credential: \"%.256s\" (it must lie under "
					   CCP_CDH_KBS_DIR "/, without . or .. components)", cr->path);
		if (!ccp_resource_is_kbs(cr->resource_uri))
			return ccp_err_set(e, CCP_EINVALID, "credential \"%.256s\": resource_uri \"%.256s\" is not a "
					   "kbs:/// URI", cr->path, cr->resource_uri);
	}
	if (c->socket && (r = unix_path(&cfg->socket, "socket", c->socket, e)))
		return r;
	if (c->forward_socket && (r = unix_path(&cfg->forward_socket, "[ccpull] forward_socket", c->forward_socket, e)))
		return r;
	return 0;
}

static int load_with(ccp_config **out, ccp_context *ctx, const char *path, const char *cmdline, size_t len,
		     const cdh_mode *cdh)
{
	ccp_err e = CCP_ERR_INIT;
	ccp_config *cfg;
	int r;

	if (!out)
		return ccp_context_finish(ctx, ccp_err_set(&e, CCP_EINVALID, "invalid arguments"), &e);
	*out = NULL;
	if (!(cfg = calloc(1, sizeof(*cfg))))
		return ccp_context_finish(ctx, ccp_err_oom(&e), &e);
	if (path)
		r = ccp_cdh_config_load(&cfg->c, path, &e);
	else
		r = ccp_cdh_config_from_cmdline(&cfg->c, cmdline, len, &e);
	cfg->cdh = cdh != NULL;
	if (!r && cdh && (r = cdh_prepare(cfg, cdh, path != NULL, &e)) != 0 && path)
		ccp_err_wrap(&e, "config `%s`", path);
	else if (!r && (r = resolve(cfg, &e)) != 0)
		ccp_err_wrap(&e, path ? "config `%s`" : "kernel command line", path);
	if (r) {
		ccp_config_free(cfg);
		return ccp_context_finish(ctx, r, &e);
	}
	*out = cfg;
	return 0;
}

int ccp_config_load(ccp_config **out, ccp_context *ctx, const char *path)
{
	ccp_err e = CCP_ERR_INIT;

	if (!path)
		return ccp_context_finish(ctx, ccp_err_set(&e, CCP_EINVALID, "no config file given"), &e);
	return load_with(out, ctx, path, NULL, 0, NULL);
}

int ccp_config_load_cmdline(ccp_config **out, ccp_context *ctx, const char *path)
{
	ccp_buf b = CCP_BUF_INIT(CMDLINE_MAX);
	ccp_err ignored = CCP_ERR_INIT;
	int r;

	/* as CDH: an unreadable command line configures nothing */
	if (ccp_read_file(&b, path ? path : "/proc/cmdline", CMDLINE_MAX, &ignored) != 0)
		ccp_buf_clear(&b);
	r = load_with(out, ctx, NULL, b.data ? b.data : "", b.len, NULL);
	ccp_buf_free(&b);
	return r;
}

int ccp_config_load_cdh(ccp_config **out, ccp_context *ctx, const char *path, const char *cmdline_path,
			const char *aa_kbc_params)
{
	ccp_buf b = CCP_BUF_INIT(CMDLINE_MAX);
	ccp_err ignored = CCP_ERR_INIT;
	cdh_mode m;
	int r;

	if (ccp_read_file(&b, cmdline_path ? cmdline_path : "/proc/cmdline", CMDLINE_MAX, &ignored) != 0)
		ccp_buf_clear(&b);
	m.cmdline = b.data ? b.data : "";
	m.cmdline_len = b.len;
	m.aa_kbc_params = aa_kbc_params;
	r = load_with(out, ctx, path, m.cmdline, m.cmdline_len, &m);
	ccp_buf_free(&b);
	return r;
}

const char *ccp_config_socket(const ccp_config *cfg)
{
	return cfg ? cfg->socket : NULL;
}

const char *ccp_config_forward_socket(const ccp_config *cfg)
{
	return cfg ? cfg->forward_socket : NULL;
}

size_t ccp_config_credential_count(const ccp_config *cfg)
{
	return cfg ? cfg->c.n_credentials : 0;
}

/* Writes data to path, creating its directories; the file is replaced whole (rename). */
static int write_credential(const char *path, const ccp_buf *data, ccp_err *e)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd, r;

	if ((size_t)(slash - path) >= sizeof(dir))
		return ccp_err_set(e, CCP_EINVALID, "credential path too long");
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	if ((r = ccp_mkdirs(dir, 0755, e)))
		return r;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot open %s", dir);
	r = ccp_write_file_at(fd, slash + 1, data->data ? data->data : "", data->len, 0600, e);
	close(fd);
	return r;
}

int ccp_config_fetch_credentials(const ccp_config *cfg, ccp_context *ctx, const ccp_pull_options *opts)
{
	ccp_err e = CCP_ERR_INIT;
	ccp_pull_resources res;
	ccp_cancel local;
	int r = 0;

	if (!cfg || !opts)
		return ccp_context_finish(ctx, ccp_err_set(&e, CCP_EINVALID, "invalid arguments"), &e);
	if (ccp_check_options_version(opts, &e))
		return ccp_context_finish(ctx, CCP_EINVALID, &e);
	if (!cfg->c.n_credentials)
		return 0;
	if ((r = ccp_pull_resources_init(&res, opts, ccp_call_cancel(ctx, &local, opts), &e)))
		return ccp_context_finish(ctx, r, &e);
	for (size_t i = 0; !r && i < cfg->c.n_credentials; i++) {
		const ccp_cdh_credential *cr = &cfg->c.credentials[i];
		ccp_buf b = CCP_BUF_INIT(CREDENTIAL_MAX);
		/* checked at load; again here, where it is written */
		if (!ccp_cdh_credential_path_valid(cr->path))
			r = ccp_err_set(&e, CCP_EINVALID, "illegal path to put credential: \"%.256s\"", cr->path);
		else if (!(r = ccp_resource_read(&b, cr->resource_uri, CREDENTIAL_MAX, &res.src, "credential", &e)))
			r = write_credential(cr->path, &b, &e);
		ccp_buf_free_secure(&b);
		if (r)
			ccp_err_wrap(&e, "[[credentials]] path %s", cr->path);
	}
	return ccp_context_finish(ctx, r, &e);
}

int ccp_config_apply(const ccp_config *cfg, ccp_context *ctx, ccp_pull_options *opts)
{
	ccp_err e = CCP_ERR_INIT;

	if (!cfg || !opts)
		return ccp_context_finish(ctx, ccp_err_set(&e, CCP_EINVALID, "invalid arguments"), &e);
	if (ccp_check_options_version(opts, &e))
		return ccp_context_finish(ctx, CCP_EINVALID, &e);
#define FILL(field, from) do { if (!opts->field && cfg->from) opts->field = cfg->from; } while (0)
	FILL(store.dir, store);
	FILL(trust.policy, policy);
	FILL(trust.registries_d, registries_d);
	FILL(registry.registries_conf, registries_conf);
	FILL(registry.authfile, authfile);
	FILL(registry.ca_file, ca_file);
	FILL(kbs.url, kbs);
	FILL(kbs.cert, kbs_cert);
	FILL(kbs.resources, kbs_resources);
	FILL(kbs.aa_socket, aa_socket);
#undef FILL
	if (!opts->store.parallel_layers && cfg->c.max_layer_downloads > 0)
		opts->store.parallel_layers = (unsigned int)cfg->c.max_layer_downloads;
	if (!opts->store.max_decompression_ratio && cfg->c.max_decompression_ratio > 0)
		opts->store.max_decompression_ratio = (unsigned int)cfg->c.max_decompression_ratio;
	if (opts->store.sync == CCP_STORE_SYNC_DEFAULT && cfg->c.store_sync != CCP_CDH_SYNC_UNSET)
		opts->store.sync = cfg->c.store_sync == CCP_CDH_SYNC_NONE ? CCP_STORE_SYNC_NONE : CCP_STORE_SYNC_FULL;
	if (!opts->registry.parallel_ranges && cfg->c.parallel_ranges > 0)
		opts->registry.parallel_ranges = (unsigned int)cfg->c.parallel_ranges;
	if (!opts->registry.parallel_ranges_min_mib && cfg->c.parallel_ranges_min_mib > 0)
		opts->registry.parallel_ranges_min_mib = (unsigned int)cfg->c.parallel_ranges_min_mib;
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

int ccp_config_skip_sealed_secret_verification(const ccp_config *cfg)
{
	return cfg ? cfg->c.skip_sealed_secret_verification : 0;
}
