/* The key providers of one pull: the context's own (ccp_context_add_keyprovider) first, then those
 * built from --decryption-key specs and the keyprovider config, tried in order against a layer's
 * wrapped keys. */
#include "ocicrypt/ocicrypt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "util/json.h"

#define CONFIG_MAX (1u << 20)
#define PASSWORD_FILE_MAX 4096
#define PROVIDERS_MAX 64

#define STAND_IN 1 /* stands in for an in-process provider (ccp_keyring_add replaces it) */
#define BORROWED 2 /* the caller's (ccp_keyring_add_first): never freed here */

struct ccp_keyring {
	ccp_keyprovider **kp;
	char **dc;           /* the DecryptConfig JSON handed to kp[i] */
	unsigned char *flags;    /* of kp[i]: STAND_IN, BORROWED */
	size_t n;
};

/* ---- keyprovider config ---- */

void ccp_kp_config_free(ccp_kp_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		ccp_kp_entry *en = &c->entries[i];
		for (size_t j = 0; j < en->n_cmd_args; j++)
			free(en->cmd_args[j]);
		free(en->cmd_args);
		free(en->name);
		free(en->cmd_path);
		free(en->grpc);
		free(en->ttrpc);
		free(en->native);
	}
	free(c->entries);
	memset(c, 0, sizeof(*c));
}

static int parse_entry(ccp_kp_entry *en, const char *name, const json_t *v, const char *what, ccp_err *e)
{
	json_t *cmd = NULL, *args = NULL;
	const char *path = NULL, *grpc = NULL, *ttrpc = NULL, *native = NULL;
	char ctx[300];

	snprintf(ctx, sizeof(ctx), "%s: key provider \"%.200s\"", what, name);
	if (!json_is_object(v))
		return ccp_err_set(e, CCP_EINVALID, "%s is not an object", ctx);
	if (!(en->name = strdup(name)))
		return ccp_err_oom(e);
	/* gRPC over TLS (containers/ocicrypt's grpc-tls) would need client certificates ccpull does not
	 * take; a grpc entry with it must not silently become cleartext. */
	if (json_object_get(v, "grpc-tls"))
		return ccp_err_set(e, CCP_EINVALID,
				   "%s: \"grpc-tls\" (gRPC over TLS) is not supported; use a local \"grpc\", \"ttrpc\" "
				   "or \"cmd\" key provider",
				   ctx);
	if (ccp_json_get_object(v, "cmd", 0, &cmd, ctx, CCP_EINVALID, e) ||
	    ccp_json_get_string(v, "grpc", 0, &grpc, ctx, CCP_EINVALID, e) ||
	    ccp_json_get_string(v, "ttrpc", 0, &ttrpc, ctx, CCP_EINVALID, e) ||
	    ccp_json_get_string(v, "native", 0, &native, ctx, CCP_EINVALID, e))
		return e->code;
	/* empty strings are absent, as Go's omitempty and ocicrypt-rs's checks treat them */
	if (!!cmd + !!(grpc && *grpc) + !!(ttrpc && *ttrpc) + !!(native && *native) != 1)
		return ccp_err_set(e, CCP_EINVALID, "%s needs exactly one of \"cmd\", \"grpc\", \"ttrpc\" and \"native\"",
				   ctx);
	if (grpc && *grpc)
		return (en->grpc = strdup(grpc)) ? 0 : ccp_err_oom(e);
	if (ttrpc && *ttrpc) {
		char sock[4096];
		int r;
		if ((r = ccp_ttrpc_address(sock, sizeof(sock), name, ttrpc, e)))
			return ccp_err_wrap(e, "%s", what);
		return (en->ttrpc = strdup(ttrpc)) ? 0 : ccp_err_oom(e);
	}
	if (native && *native)
		return (en->native = strdup(native)) ? 0 : ccp_err_oom(e);
	if (ccp_json_get_string(cmd, "path", 1, &path, ctx, CCP_EINVALID, e) ||
	    ccp_json_get_array(cmd, "args", 0, &args, ctx, CCP_EINVALID, e))
		return e->code;
	if (path[0] != '/')
		return ccp_err_set(e, CCP_EINVALID, "%s: cmd path \"%.200s\" must be absolute", ctx, path);
	if (!(en->cmd_path = strdup(path)))
		return ccp_err_oom(e);
	if (args && json_array_size(args) > 256)
		return ccp_err_set(e, CCP_EINVALID, "%s: more than 256 args", ctx);
	if (args && json_array_size(args) && !(en->cmd_args = calloc(json_array_size(args), sizeof(char *))))
		return ccp_err_oom(e);
	for (size_t i = 0; args && i < json_array_size(args); i++) {
		json_t *a = json_array_get(args, i);
		if (!json_is_string(a))
			return ccp_err_set(e, CCP_EINVALID, "%s: args must be strings", ctx);
		if (!(en->cmd_args[en->n_cmd_args++] = strdup(json_string_value(a))))
			return ccp_err_oom(e);
	}
	return 0;
}

int ccp_kp_config_parse(ccp_kp_config *out, const void *data, size_t len, const char *what, ccp_err *e)
{
	json_t *j = NULL, *kps = NULL, *v;
	const char *name;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = ccp_json_parse(&j, data, len, CONFIG_MAX, what, CCP_EINVALID, e)))
		return r;
	if (!json_is_object(j)) {
		r = ccp_err_set(e, CCP_EINVALID, "%s is not a JSON object", what);
		goto out;
	}
	if ((r = ccp_json_get_object(j, "key-providers", 0, &kps, what, CCP_EINVALID, e)))
		goto out;
	if (kps && json_object_size(kps) > PROVIDERS_MAX) {
		r = ccp_err_set(e, CCP_EINVALID, "%s lists more than %d key providers", what, PROVIDERS_MAX);
		goto out;
	}
	if (kps && json_object_size(kps) && !(out->entries = calloc(json_object_size(kps), sizeof(*out->entries)))) {
		r = ccp_err_oom(e);
		goto out;
	}
	json_object_foreach(kps, name, v) {
		if (!*name || strchr(name, ',')) {
			r = ccp_err_set(e, CCP_EINVALID, "%s: bad key provider name \"%.200s\"", what, name);
			goto out;
		}
		if ((r = parse_entry(&out->entries[out->n++], name, v, what, e)))
			goto out;
	}
out:
	json_decref(j);
	if (r)
		ccp_kp_config_free(out);
	return r;
}

/* ---- keyring ---- */

void ccp_keyring_free(ccp_keyring *kr)
{
	if (!kr)
		return;
	for (size_t i = 0; i < kr->n; i++) {
		if (!(kr->flags[i] & BORROWED))
			kr->kp[i]->free(kr->kp[i]);
		free(kr->dc[i]);
	}
	free(kr->kp);
	free(kr->dc);
	free(kr->flags);
	free(kr);
}

static void release(ccp_keyprovider *kp, int flags)
{
	if (!(flags & BORROWED))
		kp->free(kp);
}

static int keyring_push(ccp_keyring *kr, ccp_keyprovider *kp, char *dc, int flags, ccp_err *e)
{
	ccp_keyprovider **nk;
	unsigned char *nf;
	char **nd;

	if (!dc || kr->n >= PROVIDERS_MAX * 2 || !(nk = realloc(kr->kp, (kr->n + 1) * sizeof(*nk)))) {
		release(kp, flags);
		free(dc);
		return dc && kr->n >= PROVIDERS_MAX * 2 ? ccp_err_set(e, CCP_EINVALID, "too many decryption keys")
							: ccp_err_oom(e);
	}
	kr->kp = nk;
	if (!(nd = realloc(kr->dc, (kr->n + 1) * sizeof(*nd)))) {
		release(kp, flags);
		free(dc);
		return ccp_err_oom(e);
	}
	kr->dc = nd;
	if (!(nf = realloc(kr->flags, kr->n + 1))) {
		release(kp, flags);
		free(dc);
		return ccp_err_oom(e);
	}
	kr->flags = nf;
	kr->kp[kr->n] = kp;
	kr->dc[kr->n] = dc;
	kr->flags[kr->n] = (unsigned char)flags;
	kr->n++;
	return 0;
}

/* Drops the stand-ins of the schemes kp handles: kp is the in-process provider they stood in for. */
static void drop_stand_ins(ccp_keyring *kr, const ccp_keyprovider *kp)
{
	size_t i = 0;

	while (i < kr->n) {
		const char *scheme = kr->kp[i]->description;
		char sch[300];
		size_t len;
		/* a stand-in's description is "provider:NAME (...)": its scheme is provider.NAME */
		if (!(kr->flags[i] & STAND_IN) || strncmp(scheme, "provider:", 9) != 0 || !(len = strcspn(scheme + 9, " ")) ||
		    (size_t)snprintf(sch, sizeof(sch), "provider.%.*s", (int)len, scheme + 9) >= sizeof(sch) ||
		    !kp->handles(kp, sch)) {
			i++;
			continue;
		}
		kr->kp[i]->free(kr->kp[i]);
		free(kr->dc[i]);
		memmove(&kr->kp[i], &kr->kp[i + 1], (kr->n - i - 1) * sizeof(*kr->kp));
		memmove(&kr->dc[i], &kr->dc[i + 1], (kr->n - i - 1) * sizeof(*kr->dc));
		memmove(&kr->flags[i], &kr->flags[i + 1], kr->n - i - 1);
		kr->n--;
	}
}

int ccp_keyring_add(ccp_keyring *kr, ccp_keyprovider *kp, ccp_err *e)
{
	if (kp->version != CCP_KEYPROVIDER_VERSION || !kp->handles || !kp->unwrap || !kp->free) {
		if (kp->free)
			kp->free(kp);
		return ccp_err_set(e, CCP_EINVALID, "key provider with an unknown version or missing functions");
	}
	drop_stand_ins(kr, kp);
	return keyring_push(kr, kp, strdup("{\"Parameters\":{}}"), 0, e);
}

int ccp_keyring_add_first(ccp_keyring *kr, ccp_keyprovider *const *kps, size_t n, ccp_err *e)
{
	int r;

	for (size_t i = 0; i < n; i++) {
		ccp_keyprovider *kp;
		char *dc;
		drop_stand_ins(kr, kps[i]);
		if ((r = keyring_push(kr, kps[i], strdup("{\"Parameters\":{}}"), BORROWED, e)))
			return r;
		/* from the end to position i: before every provider of the keyring's own */
		kp = kr->kp[kr->n - 1];
		dc = kr->dc[kr->n - 1];
		memmove(&kr->kp[i + 1], &kr->kp[i], (kr->n - 1 - i) * sizeof(*kr->kp));
		memmove(&kr->dc[i + 1], &kr->dc[i], (kr->n - 1 - i) * sizeof(*kr->dc));
		memmove(&kr->flags[i + 1], &kr->flags[i], kr->n - 1 - i);
		kr->kp[i] = kp;
		kr->dc[i] = dc;
		kr->flags[i] = BORROWED;
	}
	return 0;
}

/* "pass=PW", "file=PATH" or a literal password (ocicrypt's forms; fd= is not taken). */
static int read_password(ccp_buf *pw, const char *spec, ccp_err *e)
{
	if (strncmp(spec, "file=", 5) == 0) {
		ccp_buf raw = CCP_BUF_INIT(0);
		int r = ccp_read_file(&raw, spec + 5, PASSWORD_FILE_MAX, e);
		if (r == 0 && (r = ccp_buf_append(pw, raw.data, raw.len)))
			r = ccp_err_oom(e);
		ccp_buf_free_secure(&raw);
		return r;
	}
	if (strncmp(spec, "fd=", 3) == 0)
		return ccp_err_set(e, CCP_EINVALID, "decryption key password from a file descriptor (fd=) is not supported");
	if (strncmp(spec, "pass=", 5) == 0)
		spec += 5;
	return ccp_buf_puts(pw, spec) ? ccp_err_oom(e) : 0;
}

/* "PATH[:PASSWORD]" of a key spec: path into *path, the password (if any) into pw. */
static int split_spec(ccp_buf *path, ccp_buf *pw, int *has_pw, const char *spec, const char *scheme, ccp_err *e)
{
	const char *colon = strchr(spec, ':');

	*has_pw = colon != NULL;
	if (ccp_buf_append(path, spec, colon ? (size_t)(colon - spec) : strlen(spec)))
		return ccp_err_set(e, CCP_EINVALID, "decryption key path is too long");
	if (path->len == 0)
		return ccp_err_set(e, CCP_EINVALID, "decryption key %s: needs a path (%s:PATH[:PASSWORD])", scheme, scheme);
	if (colon && read_password(pw, colon + 1, e))
		return e->code;
	if (colon && !pw->data && ccp_buf_puts(pw, ""))
		return ccp_err_oom(e);
	return 0;
}

static int add_key(ccp_keyring *kr, const char *spec, const char *scheme, ccp_err *e)
{
	ccp_buf path = CCP_BUF_INIT(4096), pw = CCP_BUF_INIT(0);
	ccp_keyprovider *kp = NULL;
	int r, has_pw;

	if ((r = split_spec(&path, &pw, &has_pw, spec, scheme, e)) == 0) {
		r = strcmp(scheme, "jwe") == 0 ? ccp_jwe_provider_new(&kp, path.data, has_pw ? pw.data : NULL, e)
					       : ccp_pgp_provider_new(&kp, path.data, has_pw ? pw.data : NULL, e);
		if (r == 0)
			r = ccp_keyring_add(kr, kp, e);
	}
	ccp_buf_free(&path);
	ccp_buf_free_secure(&pw);
	return r;
}

/* Every pkcs7: spec together: keys and the certificates they pair with may come in separate files. */
static int add_pkcs7(ccp_keyring *kr, const char *const *specs, size_t n, ccp_err *e)
{
	ccp_buf *path = calloc(n, sizeof(*path)), *pw = calloc(n, sizeof(*pw));
	const char **paths = calloc(n, sizeof(*paths)), **pws = calloc(n, sizeof(*pws));
	ccp_keyprovider *kp = NULL;
	size_t m = 0;
	int r = 0, has_pw;

	if (!path || !pw || !paths || !pws)
		r = ccp_err_oom(e);
	for (size_t i = 0; i < n && r == 0; i++) {
		if (!specs[i] || strncmp(specs[i], "pkcs7:", 6) != 0)
			continue;
		path[m] = (ccp_buf)CCP_BUF_INIT(4096);
		pw[m] = (ccp_buf)CCP_BUF_INIT(0);
		r = split_spec(&path[m], &pw[m], &has_pw, specs[i] + 6, "pkcs7", e);
		paths[m] = path[m].data;
		pws[m] = has_pw ? pw[m].data : NULL;
		m++;
	}
	if (r == 0 && (r = ccp_pkcs7_provider_new(&kp, paths, pws, m, e)) == 0)
		r = ccp_keyring_add(kr, kp, e);
	for (size_t i = 0; i < m; i++) {
		ccp_buf_free(&path[i]);
		ccp_buf_free_secure(&pw[i]);
	}
	free(path);
	free(pw);
	free(paths);
	free(pws);
	return r;
}

/* {"Parameters": {NAME: [base64(PARAMS or "Enabled"), ...]}}: ocicrypt's DecryptWithKeyProvider. */
static int provider_dc(char **out, const char *name, const char *const *specs, size_t n, ccp_err *e)
{
	json_t *dc = json_object(), *params = json_object(), *list = json_array();
	size_t nl = strlen(name);
	int r = 0;

	*out = NULL;
	if (!dc || !params || !list || json_object_set_new(dc, "Parameters", params)) {
		json_decref(dc);
		json_decref(list);
		return ccp_err_oom(e);
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		const char *s = specs[i], *v;
		char *b64 = NULL;
		if (strncmp(s, "provider:", 9) != 0 || strncmp(s + 9, name, nl) != 0 || (s[9 + nl] && s[9 + nl] != ':'))
			continue;
		v = s[9 + nl] == ':' ? s + 10 + nl : "Enabled";
		if ((r = ccp_b64_encode(&b64, v, strlen(v))) || json_array_append_new(list, json_string(b64)))
			r = ccp_err_oom(e);
		free(b64);
	}
	if (r == 0 && json_array_size(list) && json_object_set(params, name, list))
		r = ccp_err_oom(e);
	json_decref(list);
	if (r == 0 && !(*out = json_dumps(dc, JSON_COMPACT)))
		r = ccp_err_oom(e);
	json_decref(dc);
	return r;
}

/* Whether a ttrpc entry names the Confidential Data Hub's socket, which is ccpull's own. */
static int is_own_socket(const ccp_kp_entry *en)
{
	char sock[4096];

	return en->ttrpc && ccp_ttrpc_address(sock, sizeof(sock), en->name, en->ttrpc, NULL) == 0 &&
	       strcmp(sock, CCP_CDH_SOCKET) == 0;
}

static int add_providers(ccp_keyring *kr, const ccp_kp_config *cfg, const char *const *specs, size_t n, ccp_err *e)
{
	int r;

	/* Every provider: names in the specs must be configured ones. */
	for (size_t i = 0; i < n; i++) {
		const char *name = specs[i] + 9, *end;
		size_t len, k;
		if (strncmp(specs[i], "provider:", 9) != 0)
			continue;
		end = strchr(name, ':');
		len = end ? (size_t)(end - name) : strlen(name);
		for (k = 0; k < cfg->n; k++)
			if (strlen(cfg->entries[k].name) == len && memcmp(cfg->entries[k].name, name, len) == 0)
				break;
		if (len == 0 || k == cfg->n)
			return ccp_err_set(e, CCP_EINVALID,
					   "decryption key provider:%.*s: no such key provider in the keyprovider config%s",
					   (int)(len > 200 ? 200 : len), name,
					   cfg->n ? "" : " (none given: --keyprovider-config or $OCICRYPT_KEYPROVIDER_CONFIG)");
	}
	for (size_t k = 0; k < cfg->n; k++) {
		const ccp_kp_entry *en = &cfg->entries[k];
		ccp_keyprovider *kp = NULL;
		char *dc = NULL, how[300];
		int stand_in = 0;
		if ((r = provider_dc(&dc, en->name, specs, n, e)))
			return r;
		if (en->cmd_path) {
			r = ccp_cmd_provider_new(&kp, en->name, en->cmd_path, (const char *const *)en->cmd_args,
						 en->n_cmd_args, e);
		} else if (en->grpc) {
			r = ccp_grpc_provider_new(&kp, en->name, en->grpc, e);
		} else if (en->native || is_own_socket(en)) {
			/* ccpull is the Confidential Data Hub kata's config points "attestation-agent" at: it
			 * does not call itself but unwraps in-process (ocicrypt-rs's native kind likewise) */
			snprintf(how, sizeof(how), "%s %.200s", en->native ? "native" : "ttrpc",
				 en->native ? en->native : en->ttrpc);
			r = ccp_inprocess_provider_new(&kp, en->name, how, e);
			stand_in = 1;
		} else {
			r = ccp_ttrpc_provider_new(&kp, en->name, en->ttrpc, e);
			/* another socket: called, unless the pull has the in-process provider of the scheme */
			stand_in = strcmp(en->name, "attestation-agent") == 0;
		}
		if (r) {
			free(dc);
			return r;
		}
		if ((r = keyring_push(kr, kp, dc, stand_in ? STAND_IN : 0, e)))
			return r;
	}
	return 0;
}

int ccp_keyring_new(ccp_keyring **out, const char *const *specs, size_t n_specs, const char *config_path,
		    ccp_err *e)
{
	ccp_kp_config cfg = { 0 };
	ccp_keyring *kr;
	size_t pkcs7 = 0;
	int r = 0;

	*out = NULL;
	if (!(kr = calloc(1, sizeof(*kr))))
		return ccp_err_oom(e);
	for (size_t i = 0; i < n_specs && r == 0; i++) {
		if (!specs[i])
			r = ccp_err_set(e, CCP_EINVALID, "decryption key %zu is NULL", i);
		else if (strncmp(specs[i], "jwe:", 4) == 0)
			r = add_key(kr, specs[i] + 4, "jwe", e);
		else if (strncmp(specs[i], "pgp:", 4) == 0)
			r = add_key(kr, specs[i] + 4, "pgp", e);
		else if (strncmp(specs[i], "pkcs7:", 6) == 0)
			pkcs7++;
		else if (strncmp(specs[i], "provider:", 9) != 0)
			r = ccp_err_set(e, CCP_EINVALID,
					"decryption key \"%.200s\": expected jwe:PATH[:PASSWORD], pkcs7:PATH[:PASSWORD], "
					"pgp:PATH[:PASSWORD] or provider:NAME[:PARAMS]",
					specs[i]);
	}
	if (r == 0 && pkcs7)
		r = add_pkcs7(kr, specs, n_specs, e);
	if (r == 0 && config_path) {
		ccp_buf raw = CCP_BUF_INIT(0);
		char what[300];
		snprintf(what, sizeof(what), "keyprovider config `%.250s`", config_path);
		if ((r = ccp_read_file(&raw, config_path, CONFIG_MAX, e)) == 0)
			r = ccp_kp_config_parse(&cfg, raw.data, raw.len, what, e);
		else
			ccp_err_wrap(e, "keyprovider config");
		ccp_buf_free(&raw);
	}
	if (r == 0)
		r = add_providers(kr, &cfg, specs, n_specs, e);
	ccp_kp_config_free(&cfg);
	if (r) {
		if (r != CCP_ENOMEM) {
			r = CCP_EINVALID; /* a key or config we were given is unusable: exit 2 */
			if (e)
				e->code = r;
		}
		ccp_keyring_free(kr);
		return r;
	}
	*out = kr;
	return 0;
}

/* ---- unwrapping ---- */

static void list_schemes(ccp_buf *b, const ccp_enc_info *info)
{
	for (size_t i = 0; i < info->n_schemes; i++)
		ccp_buf_printf(b, "%s%.100s (%zu wrapped key%s)", i ? ", " : "", info->schemes[i].scheme,
			       info->schemes[i].n_wrapped, info->schemes[i].n_wrapped == 1 ? "" : "s");
}

int ccp_keyring_unwrap(ccp_layer_crypt *out, ccp_keyring *kr, const ccp_enc_info *info, const char *layer,
		       ccp_err *e)
{
	ccp_buf msg = CCP_BUF_INIT(CCP_ERR_MSG_MAX * 2);
	size_t tried = 0;
	int r;

	for (size_t p = 0; kr && p < kr->n; p++) {
		ccp_keyprovider *kp = kr->kp[p];
		int used = 0;
		for (size_t s = 0; s < info->n_schemes; s++) {
			const ccp_enc_scheme *sc = &info->schemes[s];
			if (!kp->handles(kp, sc->scheme))
				continue;
			if (!used++)
				ccp_buf_printf(&msg, "%s%.200s", tried++ ? "; " : "", kp->description);
			for (size_t w = 0; w < sc->n_wrapped; w++) {
				char err[512] = "";
				unsigned char *opts = NULL;
				size_t len = 0;
				r = kp->unwrap(kp, sc->scheme, (const unsigned char *)sc->wrapped[w].data, sc->wrapped[w].len,
					       kr->dc[p], &opts, &len, err, sizeof(err));
				if (r == 0) {
					r = opts ? ccp_private_opts_parse(out, opts, len, e)
						 : ccp_err_set(e, CCP_EDECRYPT, "%s returned no key", kp->description);
					if (opts) {
						OPENSSL_cleanse(opts, len);
						free(opts);
					}
					if (r == 0)
						memcpy(out->hmac, info->hmac, sizeof(out->hmac));
					else
						ccp_err_wrap(e, "%s: %s", layer, kp->description);
					ccp_buf_free(&msg);
					return r;
				}
				if (r != CCP_EDECRYPT) {
					r = ccp_err_set(e, r, "%s: %s: %s", layer, kp->description, err);
					ccp_buf_free(&msg);
					return r;
				}
				if (w == 0 || sc->n_wrapped == 1)
					ccp_buf_printf(&msg, ": %.300s", err);
			}
		}
	}
	if (tried == 0) {
		ccp_buf_clear(&msg);
		list_schemes(&msg, info);
		r = ccp_err_set(e, CCP_EDECRYPT,
				"%s is encrypted for %s and no decryption key given handles these schemes "
				"(--decryption-key jwe:PATH, pkcs7:PATH, pgp:PATH, or provider:NAME with --keyprovider-config)",
				layer, msg.data ? msg.data : "");
	} else {
		ccp_buf schemes = CCP_BUF_INIT(CCP_ERR_MSG_MAX);
		list_schemes(&schemes, info);
		r = ccp_err_set(e, CCP_EDECRYPT, "%s: no decryption key opens it (encrypted for %s; tried %s)", layer,
				schemes.data ? schemes.data : "", msg.data ? msg.data : "");
		ccp_buf_free(&schemes);
	}
	ccp_buf_free(&msg);
	return r;
}
