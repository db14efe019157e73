/*
 * The Confidential Data Hub's GetResource, UnsealSecret and UnWrapKey as library calls
 * (ccpull/cdh.h), on the KBS client (keyproviders/kbs), the offline resources file and the
 * sealed-secret parser (src/secret). Upstream: guest-components confidential-data-hub/hub/src/hub.rs
 * (get_resource, unseal_secret, unwrap_key), hub/src/secret/mod.rs, hub/src/bin/ttrpc_server/mod.rs
 * and hub/src/bin/message/mod.rs (the keyprovider messages).
 */
#include "pull/pull_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "ccpull/cdh.h"
#include "keyproviders/keyproviders.h"
#include "ocicrypt/ocicrypt.h"
#include "secret/sealed.h"

static int finish(ccp_context *ctx, const ccp_err *e)
{
	if (ctx)
		snprintf(ctx->last_error, sizeof(ctx->last_error), "%s", e->msg[0] ? e->msg : ccp_strerror(e->code));
	return e->code ? e->code : CCP_EINTERNAL;
}

void ccp_cdh_free(void *data, size_t len)
{
	if (!data)
		return;
	OPENSSL_cleanse(data, len);
	free(data);
}

int ccp_secret_options_init(ccp_secret_options *o, unsigned int version)
{
	ccp_secret_options def = CCP_SECRET_OPTIONS_INIT;

	if (!o || version != CCP_SECRET_OPTIONS_VERSION)
		return CCP_EINVALID;
	*o = def;
	return 0;
}

/*
 * The start of a call: its options checked, its warnings recorded, its resource source set up, bound
 * by ctx's cancellation and the deadline of o (local: the caller's storage when ctx is NULL).
 */
static int begin(ccp_pull_resources *res, ccp_context *ctx, const ccp_pull_options *o, ccp_cancel *local,
		 ccp_err *e)
{
	static const ccp_pull_options none = CCP_PULL_OPTIONS_INIT;

	if (!o)
		o = &none;
	ccp_call_warnings(ctx, o);
	if (ccp_check_options_version(o, e))
		return CCP_EINVALID;
	return ccp_pull_resources_init(res, o, ccp_call_cancel(ctx, local, o), e);
}

/*
 * A resource URI as CDH takes it (resource_uri's ResourceUri, the kbs plugin's get_secret): the
 * scheme kbs, any authority (ignored), then repository/type/tag.
 */
static int fetch_resource(ccp_buf *out, const ccp_pull_resources *res, const char *uri, const char *what,
			  ccp_err *e)
{
	char path[CCP_RESOURCE_PATH_MAX];

	if (strncmp(uri, "kbs+", 4) == 0)
		return ccp_err_set(e, CCP_EINVALID, "%s %.256s: KBS plugins other than \"resource\" (kbs+NAME://) are "
				   "not supported", what, uri);
	if (!ccp_resource_is_kbs(uri))
		return ccp_err_set(e, CCP_EINVALID, "%s \"%.256s\": expected kbs:///REPOSITORY/TYPE/TAG", what, uri);
	if (strchr(uri, '?') || strchr(uri, '#'))
		return ccp_err_set(e, CCP_EINVALID, "%s %.256s: queries in resource URIs are not supported", what, uri);
	if (ccp_resource_kbs_path(path, uri, e))
		return ccp_err_wrap(e, "%s", what);
	return ccp_resource_read(out, uri, CCP_CDH_DATA_MAX, &res->src, what, e);
}

static int hand_out(unsigned char **out, size_t *out_len, ccp_buf *b, ccp_err *e)
{
	if (!b->data && ccp_buf_append(b, "", 0)) {
		ccp_buf_free_secure(b);
		return ccp_err_oom(e);
	}
	*out_len = b->len;
	*out = (unsigned char *)ccp_buf_detach(b);
	return 0;
}

int ccp_resource_get(unsigned char **out, size_t *out_len, ccp_context *ctx, const char *uri,
		     const ccp_pull_options *opts)
{
	ccp_pull_resources res;
	ccp_cancel local;
	ccp_buf b = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;

	if (!out || !out_len || !uri)
		return finish(ctx, (ccp_err_set(&e, CCP_EINVALID, "ccp_resource_get: out, out_len and uri are required"),
				    &e));
	if (begin(&res, ctx, opts, &local, &e) || fetch_resource(&b, &res, uri, "resource", &e))
		return finish(ctx, &e);
	return hand_out(out, out_len, &b, &e) ? finish(ctx, &e) : 0;
}

/* ---- UnsealSecret ---- */

static long sys_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = flags;
	how.resolve = resolve;
	return syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/*
 * The key file kid under dir, as CDH's get_kid: a path relative to the directory that stays
 * beneath it (symlinks inside it are followed as long as they stay there). openat2
 * RESOLVE_BENEATH decides; without openat2, the canonical paths.
 */
static int read_key_file(ccp_buf *out, const char *dir, const char *kid, ccp_err *e)
{
	char *base = NULL, *full = NULL, *real = NULL;
	struct stat st;
	size_t n;
	int dfd = -1, fd = -1, r;

	if (kid[0] == '/')
		return ccp_err_set(e, CCP_EPOLICY, "sealed secret: key id \"%.200s\" is neither a kbs:/// resource nor a "
				   "path relative to %.200s", kid, dir);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return ccp_err_errno(e, CCP_EPOLICY, errno, "sealed secret: key id \"%.200s\": key directory %.200s",
				     kid, dir);
	fd = (int)sys_openat2(dfd, kid, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
			      RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
	if (fd < 0 && (errno == ENOSYS || errno == EINVAL || errno == EPERM)) {
		/* no openat2 (old kernel, seccomp): canonical paths, as CDH does it */
		n = strlen(dir) + 1 + strlen(kid) + 1;
		if (!(base = realpath(dir, NULL)) || !(full = malloc(n))) {
			r = base ? ccp_err_oom(e) : ccp_err_errno(e, CCP_EPOLICY, errno, "sealed secret: %.200s", dir);
			goto out;
		}
		snprintf(full, n, "%s/%s", dir, kid);
		if ((real = realpath(full, NULL))) {
			size_t bl = strlen(base);
			if (strncmp(real, base, bl) == 0 && (real[bl] == '/' || (bl == 1 && base[0] == '/')))
				fd = open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
			else
				errno = EXDEV;
		}
	}
	if (fd < 0) {
		r = errno == EXDEV || errno == ELOOP
			    ? ccp_err_set(e, CCP_EPOLICY, "sealed secret: key id \"%.200s\" leads out of %.200s", kid, dir)
			    : ccp_err_errno(e, CCP_EPOLICY, errno, "sealed secret: key id \"%.200s\" (in %.200s)", kid, dir);
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = ccp_err_set(e, CCP_EPOLICY, "sealed secret: key id \"%.200s\" (in %.200s) is not a regular file", kid,
				dir);
		goto out;
	}
	out->max = CCP_SEALED_KEY_MAX;
	for (;;) {
		char chunk[4096];
		ssize_t got = read(fd, chunk, sizeof(chunk));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = ccp_err_errno(e, CCP_EPOLICY, errno, "sealed secret: reading key %.200s", kid);
			goto out;
		}
		if (got == 0)
			break;
		if ((r = ccp_buf_append(out, chunk, (size_t)got))) {
			r = r == CCP_ENOMEM ? ccp_err_oom(e)
					    : ccp_err_set(e, CCP_EPOLICY, "sealed secret: key %.200s is larger than %u bytes",
							  kid, CCP_SEALED_KEY_MAX);
			goto out;
		}
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	free(base);
	free(full);
	free(real);
	return r;
}

int ccp_secret_unseal(unsigned char **out, size_t *out_len, ccp_context *ctx, const void *secret, size_t len,
		      const ccp_secret_options *sopts, const ccp_pull_options *opts)
{
	static const ccp_secret_options defaults = CCP_SECRET_OPTIONS_INIT;
	ccp_pull_resources res;
	ccp_cancel local;
	ccp_sealed sec;
	ccp_buf key = CCP_BUF_INIT(0), b = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;
	int verify, r;

	if (!out || !out_len || (!secret && len))
		return finish(ctx, (ccp_err_set(&e, CCP_EINVALID, "ccp_secret_unseal: out, out_len and secret are "
						"required"), &e));
	if (!sopts)
		sopts = &defaults;
	if (sopts->version != CCP_SECRET_OPTIONS_VERSION)
		return finish(ctx, (ccp_err_set(&e, CCP_EINVALID, "unknown secret options version %u", sopts->version), &e));
	if (begin(&res, ctx, opts, &local, &e))
		return finish(ctx, &e);
	verify = !sopts->skip_verification;
	if ((r = ccp_sealed_parse(&sec, secret ? secret : "", len, verify, &e)))
		return finish(ctx, &e);
	if (verify) {
		/* the key: a KBS resource when the kid is a resource URI, else a file (CDH's get_kid) */
		if (ccp_resource_is_kbs(sec.kid) || strncmp(sec.kid, "kbs+", 4) == 0)
			r = fetch_resource(&key, &res, sec.kid, "sealed secret verification key", &e);
		else
			r = read_key_file(&key, sopts->keys_dir ? sopts->keys_dir : CCP_SEALED_SECRET_DIR, sec.kid, &e);
		if (r == 0)
			r = ccp_sealed_verify(&sec, key.data, key.len, &e);
		if (r)
			goto out;
	}
	if (sec.type == CCP_SEALED_ENVELOPE) {
		r = ccp_err_set(&e, CCP_EINVALID, "sealed secret: envelope secrets (provider \"%.64s\", a KMS-wrapped key) "
				"are not supported; vault secrets of provider kbs are", sec.provider);
		goto out;
	}
	if (strcmp(sec.provider, "kbs") != 0) {
		r = ccp_err_set(&e, CCP_EINVALID, "sealed secret: vault provider \"%.64s\" is not supported (only kbs)",
				sec.provider);
		goto out;
	}
	if ((r = fetch_resource(&b, &res, sec.name, "sealed secret", &e)) == 0)
		r = hand_out(out, out_len, &b, &e);
out:
	ccp_sealed_free(&sec);
	ccp_buf_free_secure(&key);
	ccp_buf_free_secure(&b);
	return r ? finish(ctx, &e) : 0;
}

/* ---- UnWrapKey ---- */

/* {"keyunwrapresults": {"optsdata": [n, ...]}}, serde's Vec<u8> as CDH sends it. */
static int unwrap_output(ccp_buf *out, const unsigned char *opts, size_t len, ccp_err *e)
{
	static const char head[] = "{\"keyunwrapresults\":{\"optsdata\":[", tail[] = "]}}";

	out->max = CCP_CDH_DATA_MAX;
	if (ccp_buf_append(out, head, sizeof(head) - 1))
		goto bad;
	for (size_t i = 0; i < len; i++) {
		char num[8];
		int n = snprintf(num, sizeof(num), "%s%u", i ? "," : "", (unsigned)opts[i]);
		if (ccp_buf_append(out, num, (size_t)n))
			goto bad;
		OPENSSL_cleanse(num, sizeof(num));
	}
	if (ccp_buf_append(out, tail, sizeof(tail) - 1))
		goto bad;
	return 0;
bad:
	ccp_buf_free_secure(out);
	return ccp_err_set(e, CCP_EINVALID, "UnWrapKey: the key options are too large to send");
}

int ccp_key_unwrap(unsigned char **out, size_t *out_len, ccp_context *ctx, const void *input, size_t len,
		   const ccp_pull_options *opts)
{
	const char *what = "KeyProviderKeyWrapProtocolInput", *op = NULL, *ann = NULL;
	ccp_pull_resources res;
	ccp_cancel local;
	ccp_keyprovider *kp = NULL;
	ccp_buf packet = CCP_BUF_INIT(CCP_OCICRYPT_ANNOTATION_MAX), b = CCP_BUF_INIT(0);
	unsigned char *key_opts = NULL;
	size_t key_opts_len = 0;
	json_t *j = NULL, *params = NULL;
	ccp_err e = CCP_ERR_INIT;
	char err[CCP_ERR_MSG_MAX] = "";
	int r;

	if (!out || !out_len || (!input && len))
		return finish(ctx, (ccp_err_set(&e, CCP_EINVALID, "ccp_key_unwrap: out, out_len and input are required"),
				    &e));
	if (begin(&res, ctx, opts, &local, &e))
		return finish(ctx, &e);
	if ((r = ccp_json_parse(&j, input ? input : "", len, CCP_CDH_DATA_MAX, what, CCP_EINVALID, &e)))
		goto out;
	if (!json_is_object(j)) {
		r = ccp_err_set(&e, CCP_EINVALID, "%s is not a JSON object", what);
		goto out;
	}
	if ((r = ccp_json_get_string(j, "op", 0, &op, what, CCP_EINVALID, &e)) ||
	    (r = ccp_json_get_object(j, "keyunwrapparams", 1, &params, what, CCP_EINVALID, &e)) ||
	    (r = ccp_json_get_string(params, "annotation", 1, &ann, "keyunwrapparams", CCP_EINVALID, &e)))
		goto out;
	if (op && strcmp(op, "keyunwrap") != 0) {
		r = ccp_err_set(&e, CCP_EINVALID, "%s: op \"%.32s\" is not supported (only keyunwrap)", what, op);
		goto out;
	}
	if ((r = ccp_b64_decode(&packet, ann, strlen(ann), 0))) {
		r = r == CCP_ENOMEM ? ccp_err_oom(&e)
				    : ccp_err_set(&e, CCP_EINVALID, "%s: the annotation is not base64 (or larger than %u "
						  "bytes)", what, CCP_OCICRYPT_ANNOTATION_MAX);
		goto out;
	}
	/* the annotation packet names its KEK (kid), a KBS resource: the CoCo key provider that pulls use */
	if (!res.src.fetch) {
		r = ccp_err_set(&e, CCP_EINVALID, "UnWrapKey: the annotation packet's KEK is a KBS resource: needs a KBS "
				"or an offline source (--kbs URL or --kbs-resources FILE)");
		goto out;
	}
	if ((r = ccp_kbs_provider_new(&kp, &res.kc, &e)))
		goto out;
	r = kp->unwrap(kp, CCP_COCO_SCHEME, (const unsigned char *)(packet.data ? packet.data : ""), packet.len,
		       "{\"Parameters\":{}}", &key_opts, &key_opts_len, err, sizeof(err));
	if (r) {
		r = r == CCP_ENOMEM ? ccp_err_oom(&e) : ccp_err_set(&e, r, "UnWrapKey: %s", err[0] ? err : ccp_strerror(r));
		goto out;
	}
	if ((r = unwrap_output(&b, key_opts, key_opts_len, &e)) == 0)
		r = hand_out(out, out_len, &b, &e);
out:
	if (kp)
		kp->free(kp);
	ccp_cdh_free(key_opts, key_opts_len);
	ccp_buf_free_secure(&packet);
	ccp_buf_free_secure(&b);
	json_decref(j);
	return r ? finish(ctx, &e) : 0;
}
