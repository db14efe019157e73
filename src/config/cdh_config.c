/* ccpull.toml, the Confidential Data Hub's configuration, and CDH's kernel command line keys (cdh_config.h). */
#include "config/cdh_config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config/toml.h"

#define SEP "\x1f"
#define REGCONF "image" SEP "registry_config"
#define MAX_ROOTS 256
#define MAX_LAYER_DOWNLOADS 1024
#define MAX_RATIO 1000000 /* CCP_MAX_DECOMPRESSION_RATIO */
#define MAX_PARALLEL_RANGES 16 /* CCP_PARALLEL_RANGES_MAX */

enum { K_STR, K_STRV, K_COUNT, K_RATIO, K_BOOL, K_SYNC, K_RANGES, K_MIB };

/* The keys ccpull reads, by full dotted path (CDH's CdhConfig, image-rs' ImageConfig field names). */
static const struct {
	const char *path;
	int kind;
	size_t off;
} keys[] = {
	{ "image" SEP "work_dir", K_STR, offsetof(ccp_cdh_config, work_dir) },
	{ "image" SEP "image_security_policy_uri", K_STR, offsetof(ccp_cdh_config, policy_uri) },
	{ "image" SEP "image_security_policy", K_STR, offsetof(ccp_cdh_config, policy) },
	{ "image" SEP "sigstore_config_uri", K_STR, offsetof(ccp_cdh_config, sigstore_config_uri) },
	{ "image" SEP "sigstore_config", K_STR, offsetof(ccp_cdh_config, sigstore_config) },
	{ "image" SEP "authenticated_registry_credentials_uri", K_STR, offsetof(ccp_cdh_config, auth_uri) },
	{ "image" SEP "registry_configuration_uri", K_STR, offsetof(ccp_cdh_config, registries_uri) },
	{ "image" SEP "image_pull_proxy" SEP "https_proxy", K_STR, offsetof(ccp_cdh_config, https_proxy) },
	{ "image" SEP "image_pull_proxy" SEP "http_proxy", K_STR, offsetof(ccp_cdh_config, http_proxy) },
	{ "image" SEP "image_pull_proxy" SEP "no_proxy", K_STR, offsetof(ccp_cdh_config, no_proxy) },
	{ "image" SEP "extra_root_certificates", K_STRV, offsetof(ccp_cdh_config, extra_root_certificates) },
	{ "image" SEP "max_concurrent_layer_downloads_per_image", K_COUNT,
	  offsetof(ccp_cdh_config, max_layer_downloads) },
	{ "image" SEP "max_decompression_ratio", K_RATIO, offsetof(ccp_cdh_config, max_decompression_ratio) },
	{ "image" SEP "store_sync", K_SYNC, offsetof(ccp_cdh_config, store_sync) },
	{ "image" SEP "parallel_ranges", K_RANGES, offsetof(ccp_cdh_config, parallel_ranges) },
	{ "image" SEP "parallel_ranges_min_mib", K_MIB, offsetof(ccp_cdh_config, parallel_ranges_min_mib) },
	{ "kbc" SEP "name", K_STR, offsetof(ccp_cdh_config, kbc_name) },
	{ "kbc" SEP "url", K_STR, offsetof(ccp_cdh_config, kbs_url) },
	{ "kbc" SEP "kbs_cert", K_STR, offsetof(ccp_cdh_config, kbs_cert) },
	{ "aa" SEP "aa_socket", K_STR, offsetof(ccp_cdh_config, aa_socket) },
	{ "skip_sealed_secret_verification", K_BOOL, offsetof(ccp_cdh_config, skip_sealed_secret_verification) },
	{ "socket", K_STR, offsetof(ccp_cdh_config, socket) },
	{ "ccpull" SEP "forward_socket", K_STR, offsetof(ccp_cdh_config, forward_socket) },
};

typedef struct cdh_sink {
	ccp_toml_sink base;
	ccp_cdh_config *c;
	ccp_registries_conf_reader rd;
	unsigned int seen;  /* bit i: keys[i] was set (a key given twice, e.g. dotted and in a table, is an error) */
	int cred_line;      /* the line of the last [[credentials]] header; 0: none yet */
} cdh_sink;

/* name relative to prefix: "" when equal, the part after "prefix<SEP>", NULL when not under it. */
static const char *under(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(name, prefix, n) != 0)
		return NULL;
	if (!name[n])
		return name + n;
	return name[n] == SEP[0] ? name + n + 1 : NULL;
}

/* Appends an empty credential. */
static int add_credential(ccp_cdh_config *c, ccp_err *e)
{
	ccp_cdh_credential *n;

	if (c->n_credentials >= CCP_CDH_CREDENTIALS_MAX)
		return ccp_err_set(e, CCP_EINVALID, "more than %d credentials", CCP_CDH_CREDENTIALS_MAX);
	if (!(n = realloc(c->credentials, (c->n_credentials + 1) * sizeof(*n))))
		return ccp_err_oom(e);
	c->credentials = n;
	memset(&n[c->n_credentials++], 0, sizeof(*n));
	return 0;
}

/* A [[credentials]] entry is complete: both keys set (CDH's Credential has no defaults). */
static int check_credential(const cdh_sink *cs, ccp_err *e)
{
	const ccp_cdh_credential *cr;

	if (!cs->cred_line)
		return 0;
	cr = &cs->c->credentials[cs->c->n_credentials - 1];
	if (!cr->resource_uri || !cr->path)
		return ccp_err_set(e, CCP_EINVALID, "line %d: [[credentials]] needs resource_uri and path",
				   cs->cred_line);
	return 0;
}

static int credential_kv(cdh_sink *cs, const char *key, const ccp_toml_value *v, int line, ccp_err *e)
{
	ccp_cdh_credential *cr = &cs->c->credentials[cs->c->n_credentials - 1];
	char **slot = strcmp(key, "resource_uri") == 0 ? &cr->resource_uri : strcmp(key, "path") == 0 ? &cr->path
												: NULL;

	if (!slot)
		return 0;  /* unknown keys are ignored, as serde does */
	if (*slot)
		return ccp_err_set(e, CCP_EINVALID, "line %d: credentials.%s is set more than once", line, key);
	if (v->type != CCP_TOML_STRING || !v->s[0])
		return ccp_err_set(e, CCP_EINVALID, "line %d: credentials.%s must be a non-empty string", line, key);
	if (!(*slot = strdup(v->s)))
		return ccp_err_oom(e);
	return 0;
}

static int cdh_table(ccp_toml_sink *s, const char *name, int is_array, int line, ccp_err *e)
{
	cdh_sink *cs = (cdh_sink *)s;
	const char *rest = under(name, REGCONF);
	int r;

	if (under(name, "credentials")) {
		if (strcmp(name, "credentials") != 0 || !is_array)
			return ccp_err_set(e, CCP_EINVALID, "line %d: credentials must be an array of tables "
					   "([[credentials]] with resource_uri and path)", line);
		if ((r = check_credential(cs, e)) || (r = add_credential(cs->c, e)))
			return r;
		cs->cred_line = line;
		return 0;
	}
	if (under(name, "kbc"))
		cs->c->has_kbc = 1;
	if (!rest)
		return 0;
	if (!rest[0] && is_array)
		return ccp_err_set(e, CCP_EINVALID, "line %d: image.registry_config must be a table", line);
	cs->c->has_registry_config = 1;
	return cs->rd.sink.table(&cs->rd.sink, rest, is_array, line, e);
}

/* The largest value of an integer key (K_COUNT, K_RATIO, K_RANGES, K_MIB); the smallest is 1. */
static long long int_max(int kind)
{
	switch (kind) {
	case K_RATIO:
		return MAX_RATIO;
	case K_RANGES:
		return MAX_PARALLEL_RANGES;
	case K_MIB:
		return 1 << 20;
	default:
		return MAX_LAYER_DOWNLOADS;
	}
}

static int set_key(cdh_sink *cs, size_t i, const ccp_toml_value *v, int line, ccp_err *e)
{
	char name[256];
	void *slot = (char *)cs->c + keys[i].off;

	ccp_toml_name(name, sizeof(name), keys[i].path);
	if (cs->seen & (1u << i))
		return ccp_err_set(e, CCP_EINVALID, "line %d: %s is set more than once", line, name);
	cs->seen |= 1u << i;
	switch (keys[i].kind) {
	case K_STR:
		if (v->type != CCP_TOML_STRING)
			return ccp_err_set(e, CCP_EINVALID, "line %d: %s must be a string", line, name);
		if (!v->s[0])  /* "" means unset, as CDH's examples use it (kbs_cert = "") */
			return 0;
		if (!(*(char **)slot = strdup(v->s)))
			return ccp_err_oom(e);
		return 0;
	case K_STRV:
		if (v->type != CCP_TOML_ARRAY)
			return ccp_err_set(e, CCP_EINVALID, "line %d: %s must be an array of strings", line, name);
		if (v->n > MAX_ROOTS)
			return ccp_err_set(e, CCP_EINVALID, "line %d: %s has more than %d entries", line, name, MAX_ROOTS);
		for (size_t k = 0; k < v->n; k++) {
			if (v->items[k].type != CCP_TOML_STRING)
				return ccp_err_set(e, CCP_EINVALID, "line %d: %s must be an array of strings", line, name);
			if (!strstr(v->items[k].s, "-----BEGIN "))
				return ccp_err_set(e, CCP_EINVALID, "line %d: %s entry %zu is not a PEM certificate", line,
						   name, k + 1);
		}
		if (!(cs->c->extra_root_certificates = calloc(v->n ? v->n : 1, sizeof(char *))))
			return ccp_err_oom(e);
		for (size_t k = 0; k < v->n; k++) {
			if (!(cs->c->extra_root_certificates[k] = strdup(v->items[k].s)))
				return ccp_err_oom(e);
			cs->c->n_extra_root_certificates++;
		}
		return 0;
	case K_BOOL:
		if (v->type != CCP_TOML_BOOL)
			return ccp_err_set(e, CCP_EINVALID, "line %d: %s must be true or false", line, name);
		*(int *)slot = v->b;
		return 0;
	case K_SYNC:
		if (v->type == CCP_TOML_STRING && strcmp(v->s, "none") == 0)
			*(long long *)slot = CCP_CDH_SYNC_NONE;
		else if (v->type == CCP_TOML_STRING && strcmp(v->s, "full") == 0)
			*(long long *)slot = CCP_CDH_SYNC_FULL;
		else
			return ccp_err_set(e, CCP_EINVALID, "line %d: %s must be \"none\" or \"full\"", line, name);
		return 0;
	default: {
		long long max = int_max(keys[i].kind);
		if (v->type != CCP_TOML_INT || v->i < 1 || v->i > max)
			return ccp_err_set(e, CCP_EINVALID, "line %d: %s must be a number from 1 to %lld", line, name,
					   max);
		*(long long *)slot = v->i;
		return 0;
	}
	}
}

static int cdh_kv(ccp_toml_sink *s, const char *table, const char *key, const ccp_toml_value *v, int line,
		  ccp_err *e)
{
	cdh_sink *cs = (cdh_sink *)s;
	char full[2 * 1024 + 2];
	const char *rest;

	if ((rest = under(table, REGCONF))) {
		cs->c->has_registry_config = 1;
		return cs->rd.sink.kv(&cs->rd.sink, rest, key, v, line, e);
	}
	if (strcmp(table, "credentials") == 0)
		return credential_kv(cs, key, v, line, e);
	if (snprintf(full, sizeof(full), "%s%s%s", table, table[0] ? SEP : "", key) >= (int)sizeof(full))
		return 0;  /* longer than any key ccpull knows */
	if (under(full, "credentials"))
		return ccp_err_set(e, CCP_EINVALID, "line %d: credentials must be an array of tables "
				   "([[credentials]] with resource_uri and path)", line);
	if (under(full, "kbc"))
		cs->c->has_kbc = 1;
	if ((rest = under(full, REGCONF))) {
		if (!rest[0])
			return ccp_err_set(e, CCP_EINVALID, "line %d: image.registry_config must be a table", line);
		/* a dotted key from [image] or the top level: registries.conf's own top-level keys */
		cs->c->has_registry_config = 1;
		return cs->rd.sink.kv(&cs->rd.sink, "", rest, v, line, e);
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(full, keys[i].path) == 0)
			return set_key(cs, i, v, line, e);
	return 0;
}

void ccp_cdh_config_free(ccp_cdh_config *c)
{
	if (!c)
		return;
	free(c->work_dir);
	free(c->policy_uri);
	free(c->policy);
	free(c->sigstore_config_uri);
	free(c->sigstore_config);
	free(c->auth_uri);
	free(c->registries_uri);
	ccp_registries_conf_free(&c->registry_config);
	free(c->https_proxy);
	free(c->http_proxy);
	free(c->no_proxy);
	for (size_t i = 0; i < c->n_extra_root_certificates; i++)
		free(c->extra_root_certificates[i]);
	free(c->extra_root_certificates);
	free(c->kbc_name);
	free(c->kbs_url);
	free(c->kbs_cert);
	free(c->aa_socket);
	free(c->socket);
	free(c->forward_socket);
	for (size_t i = 0; i < c->n_credentials; i++) {
		free(c->credentials[i].resource_uri);
		free(c->credentials[i].path);
	}
	free(c->credentials);
	memset(c, 0, sizeof(*c));
}

int ccp_cdh_config_parse(ccp_cdh_config *out, const char *data, size_t len, ccp_err *e)
{
	cdh_sink cs = { .base = { cdh_table, cdh_kv }, .c = out };
	int r;

	memset(out, 0, sizeof(*out));
	if (len > CCP_CDH_CONFIG_MAX)
		return ccp_err_set(e, CCP_EINVALID, "larger than %d bytes", CCP_CDH_CONFIG_MAX);
	ccp_registries_conf_reader_init(&cs.rd);
	if (!(r = ccp_toml_parse(data, len, CCP_TOML_MULTILINE_STRINGS, &cs.base, e)))
		r = check_credential(&cs, e);
	if (r) {
		ccp_registries_conf_free(&cs.rd.conf);
	} else if (out->has_registry_config &&
		   (r = ccp_registries_conf_reader_finish(&cs.rd, &out->registry_config, e)) != 0) {
		ccp_err_wrap(e, "image.registry_config");
	} else if (!out->has_registry_config) {
		ccp_registries_conf_free(&cs.rd.conf);
	}
	if (r)
		ccp_cdh_config_free(out);
	return r;
}

int ccp_cdh_config_load(ccp_cdh_config *out, const char *path, ccp_err *e)
{
	ccp_buf b = CCP_BUF_INIT(CCP_CDH_CONFIG_MAX);
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = ccp_read_file(&b, path, CCP_CDH_CONFIG_MAX, e)) == 0 &&
	    (r = ccp_cdh_config_parse(out, b.data ? b.data : "", b.len, e)) != 0)
		ccp_err_wrap(e, "config `%s`", path);
	/* it may carry a KBS certificate or a policy: wipe it */
	ccp_buf_free_secure(&b);
	return r;
}

/*
 * The value of the last "name=value" word of cmdline (image-rs collects them into a map), or with
 * first the first one (CDH's and attestation-agent's own keys: `find`), or NULL.
 */
static int cmdline_find(const char *cmdline, size_t len, const char *name, int first, char **out, ccp_err *e)
{
	size_t nl = strlen(name), i = 0;
	const char *val = NULL;
	size_t vlen = 0;

	*out = NULL;
	while (i < len) {
		size_t s;
		while (i < len && (cmdline[i] == ' ' || cmdline[i] == '\t' || cmdline[i] == '\n' || cmdline[i] == '\r' ||
				   cmdline[i] == '\f'))
			i++;
		s = i;
		while (i < len && !(cmdline[i] == ' ' || cmdline[i] == '\t' || cmdline[i] == '\n' || cmdline[i] == '\r' ||
				    cmdline[i] == '\f'))
			i++;
		if (i - s > nl && memcmp(cmdline + s, name, nl) == 0 && cmdline[s + nl] == '=' && !(first && val)) {
			val = cmdline + s + nl + 1;
			vlen = i - s - nl - 1;
		}
	}
	if (val && vlen && !(*out = strndup(val, vlen)))
		return ccp_err_oom(e);
	return 0;
}

static int cmdline_get(const char *cmdline, size_t len, const char *name, char **out, ccp_err *e)
{
	return cmdline_find(cmdline, len, name, 0, out, e);
}

int ccp_cdh_config_set_kbc(ccp_cdh_config *c, const char *params, ccp_err *e)
{
	const char *sep = strstr(params, "::");
	char *name, *url;

	/* AaKbcParams: value.split("::") must give exactly two segments */
	if (!sep || strstr(sep + 2, "::"))
		return ccp_err_set(e, CCP_EINVALID, "illegal aa_kbc_params format: \"%.256s\" (expected <kbc>::<url>)",
				   params);
	if (!(name = strndup(params, (size_t)(sep - params))) || !(url = strdup(sep + 2))) {
		free(name);
		return ccp_err_oom(e);
	}
	free(c->kbc_name);
	free(c->kbs_url);
	c->kbc_name = name;
	c->kbs_url = url;
	c->has_kbc = 1;
	return 0;
}

int ccp_cdh_credential_path_valid(const char *path)
{
	size_t n = strlen(CCP_CDH_KBS_DIR);
	const char *p;

	/* stricter than CDH's string prefix: the directory itself, then a name */
	if (strncmp(path, CCP_CDH_KBS_DIR, n) != 0 || path[n] != '/' || !path[n + 1])
		return 0;
	for (p = path; *p;) {
		size_t k;
		while (*p == '/')
			p++;
		k = strcspn(p, "/");
		if ((k == 1 && p[0] == '.') || (k == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += k;
	}
	return path[strlen(path) - 1] != '/';
}

int ccp_cdh_config_add_cmdline(ccp_cdh_config *c, const char *cmdline, size_t len, int kbc, ccp_err *e)
{
	char *list = NULL, *params = NULL, *item, *save = NULL;
	int r = 0;

	if (memchr(cmdline, '\0', len))
		len = strlen(cmdline);
	if ((r = cmdline_find(cmdline, len, "cdh.kbs_resources", 1, &list, e)) ||
	    (kbc && !c->has_kbc && (r = cmdline_find(cmdline, len, "agent.aa_kbc_params", 1, &params, e))))
		goto out;
	if (params && (r = ccp_cdh_config_set_kbc(c, params, e)))
		goto out;
	for (item = list ? strtok_r(list, ",", &save) : NULL; item; item = strtok_r(NULL, ",", &save)) {
		char *sep = strstr(item, "::");
		ccp_cdh_credential *cr;
		if (!sep)
			continue;
		*sep = '\0';
		if ((r = add_credential(c, e)))
			goto out;
		cr = &c->credentials[c->n_credentials - 1];
		if (!(cr->resource_uri = strdup(item)) || !(cr->path = strdup(sep + 2))) {
			r = ccp_err_oom(e);
			goto out;
		}
	}
out:
	free(list);
	free(params);
	return r;
}

int ccp_cdh_config_from_cmdline(ccp_cdh_config *out, const char *cmdline, size_t len, ccp_err *e)
{
	char *verify = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if (memchr(cmdline, '\0', len))
		len = strlen(cmdline);
	if ((r = cmdline_get(cmdline, len, "agent.https_proxy", &out->https_proxy, e)) ||
	    (r = cmdline_get(cmdline, len, "agent.http_proxy", &out->http_proxy, e)) ||
	    (r = cmdline_get(cmdline, len, "agent.no_proxy", &out->no_proxy, e)) ||
	    (r = cmdline_get(cmdline, len, "agent.image_registry_auth", &out->auth_uri, e)) ||
	    (r = cmdline_get(cmdline, len, "agent.enable_signature_verification", &verify, e)))
		goto fail;
	/* as image-rs: the policy file counts only when verification is enabled ("true", Rust's bool parse) */
	if (verify && strcmp(verify, "true") == 0 &&
	    (r = cmdline_get(cmdline, len, "agent.image_policy_file", &out->policy_uri, e)))
		goto fail;
	free(verify);
	return 0;
fail:
	free(verify);
	ccp_cdh_config_free(out);
	return r;
}

/* A TOML basic string. */
static int put_toml_string(ccp_buf *b, const char *s)
{
	int r = ccp_buf_puts(b, "\"");

	for (; !r && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			r = ccp_buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			r = ccp_buf_printf(b, "\\u%04x", c);
		else
			r = ccp_buf_append(b, s, 1);
	}
	return r ? r : ccp_buf_puts(b, "\"");
}

int ccp_registries_conf_format(const ccp_registries_conf *c, ccp_buf *out, ccp_err *e)
{
	int r = 0;

	if (c->n_unqualified) {
		r = ccp_buf_puts(out, "unqualified-search-registries = [");
		for (size_t i = 0; !r && i < c->n_unqualified; i++)
			if (!(r = i ? ccp_buf_puts(out, ", ") : 0))
				r = put_toml_string(out, c->unqualified_search[i]);
		if (!r)
			r = ccp_buf_puts(out, "]\n");
	}
	for (size_t i = 0; !r && i < c->n_entries; i++) {
		const ccp_reg_entry *en = &c->entries[i];
		if (!(r = ccp_buf_puts(out, "\n[[registry]]\nprefix = ")) && !(r = put_toml_string(out, en->prefix)) &&
		    en->location && !(r = ccp_buf_puts(out, "\nlocation = ")))
			r = put_toml_string(out, en->location);
		if (!r)
			r = ccp_buf_printf(out, "\ninsecure = %s\nblocked = %s\n", en->insecure ? "true" : "false",
					   en->blocked ? "true" : "false");
		for (size_t k = 0; !r && k < en->n_mirrors; k++) {
			if (!(r = ccp_buf_puts(out, "[[registry.mirror]]\nlocation = ")) &&
			    !(r = put_toml_string(out, en->mirrors[k].location)))
				r = ccp_buf_printf(out, "\ninsecure = %s\n", en->mirrors[k].insecure ? "true" : "false");
		}
	}
	if (r == CCP_ENOMEM)
		return ccp_err_oom(e);
	if (r)
		return ccp_err_set(e, CCP_EINVALID, "registries.conf would be too large");
	return 0;
}
