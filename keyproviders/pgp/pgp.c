/*
 * The pgp key provider: ocicrypt's "pgp" scheme wraps the layer key options in an OpenPGP message
 * encrypted to each recipient's public key. The secret key file (binary or armored, as
 * `gpg --export-secret-keys` writes it) is imported into a private GNUPGHOME made for this provider
 * (util/gpghome.h) so that neither the user's keyring nor its agent take part; gpgme decrypts,
 * with the password given in the spec (loopback pinentry, never a prompt). The home and its gpg-agent
 * are removed when the provider is freed.
 */
#include "keyproviders/keyproviders.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gpgme.h>
#include <openssl/crypto.h>

#include "util/gpghome.h"

#define KEY_FILE_MAX (1u << 20)

typedef struct pgp_provider {
	ccp_keyprovider base;
	gpgme_ctx_t ctx;
	char home[PATH_MAX];
	char *password;     /* NULL: keys without passphrase only */
	char desc[512];
} pgp_provider;

static gpgme_error_t passphrase_cb(void *hook, const char *uid_hint, const char *info, int prev_was_bad, int fd)
{
	pgp_provider *p = hook;
	size_t n;

	(void)uid_hint, (void)info;
	if (!p->password || prev_was_bad)
		return gpg_error(GPG_ERR_CANCELED);
	n = strlen(p->password);
	if (gpgme_io_writen(fd, p->password, n) != 0 || gpgme_io_writen(fd, "\n", 1) != 0)
		return gpg_error(GPG_ERR_CANCELED);
	return 0;
}

static int pgp_handles(const ccp_keyprovider *kp, const char *scheme)
{
	(void)kp;
	return strcmp(scheme, "pgp") == 0;
}

static int pgp_unwrap(ccp_keyprovider *kp, const char *scheme, const unsigned char *wrapped, size_t len,
		      const char *dc_json, unsigned char **out, size_t *out_len, char *err, size_t err_len)
{
	pgp_provider *p = (pgp_provider *)kp;
	gpgme_data_t in = NULL, plain = NULL;
	gpgme_error_t ge;
	char *text = NULL;
	size_t text_len = 0;
	int r = CCP_EDECRYPT;

	(void)scheme, (void)dc_json;
	*out = NULL;
	*out_len = 0;
	if ((ge = gpgme_data_new_from_mem(&in, (const char *)wrapped, len, 0)) || (ge = gpgme_data_new(&plain))) {
		snprintf(err, err_len, "PGP: gpgme data: %s", gpgme_strerror(ge));
		r = CCP_ENOMEM;
		goto out;
	}
	ge = gpgme_op_decrypt(p->ctx, in, plain);
	text = gpgme_data_release_and_get_mem(plain, &text_len);
	plain = NULL;
	if (ge) {
		switch (gpgme_err_code(ge)) {
		case GPG_ERR_NO_SECKEY:
			snprintf(err, err_len, "PGP: not encrypted for this secret key");
			break;
		case GPG_ERR_BAD_PASSPHRASE:
		case GPG_ERR_CANCELED:
		case GPG_ERR_NO_PASSPHRASE:
			snprintf(err, err_len, "PGP: the secret key needs %s password (pgp:PATH:pass=PASSWORD)",
				 p->password ? "another" : "a");
			break;
		default:
			snprintf(err, err_len, "PGP: %s", gpgme_strerror(ge));
		}
		goto out;
	}
	if (!text || text_len == 0 || text_len > CCP_KEYPROVIDER_OPTS_MAX) {
		snprintf(err, err_len, "PGP: decrypted key options of %zu bytes", text_len);
		goto out;
	}
	if (!(*out = malloc(text_len))) {
		snprintf(err, err_len, "out of memory");
		r = CCP_ENOMEM;
		goto out;
	}
	memcpy(*out, text, text_len);
	*out_len = text_len;
	r = 0;
out:
	if (text) {
		OPENSSL_cleanse(text, text_len);
		gpgme_free(text);
	}
	if (plain)
		gpgme_data_release(plain);
	if (in)
		gpgme_data_release(in);
	return r;
}

static void pgp_free(ccp_keyprovider *kp)
{
	pgp_provider *p = (pgp_provider *)kp;

	ccp_gpg_home_free(p->ctx, p->home, 1);
	if (p->password) {
		OPENSSL_cleanse(p->password, strlen(p->password));
		free(p->password);
	}
	free(p);
}

int ccp_pgp_provider_new(ccp_keyprovider **out, const char *path, const char *password, ccp_err *e)
{
	ccp_buf key = CCP_BUF_INIT(0);
	gpgme_data_t d = NULL;
	gpgme_import_result_t res;
	gpgme_error_t ge;
	pgp_provider *p;
	int r;

	*out = NULL;
	if (!(p = calloc(1, sizeof(*p))))
		return ccp_err_oom(e);
	ccp_keyprovider_init(&p->base, pgp_handles, pgp_unwrap, pgp_free, p->desc);
	snprintf(p->desc, sizeof(p->desc), "pgp:%.400s", path);
	if (password && !(p->password = strdup(password))) {
		r = ccp_err_oom(e);
		goto fail;
	}
	if ((r = ccp_read_file(&key, path, KEY_FILE_MAX, e))) {
		ccp_err_wrap(e, "decryption key `%s`", path);
		goto fail;
	}
	if ((r = ccp_gpg_home_new(&p->ctx, p->home, sizeof(p->home), CCP_EINVALID, e)))
		goto fail;
	gpgme_set_armor(p->ctx, 0);
	if ((ge = gpgme_set_pinentry_mode(p->ctx, GPGME_PINENTRY_MODE_LOOPBACK))) {
		r = ccp_err_set(e, CCP_EINVALID, "gpgme loopback pinentry: %s", gpgme_strerror(ge));
		goto fail;
	}
	gpgme_set_passphrase_cb(p->ctx, passphrase_cb, p);
	if ((ge = gpgme_data_new_from_mem(&d, key.data ? key.data : "", key.len, 0))) {
		r = ccp_err_set(e, CCP_EINVALID, "gpgme data: %s", gpgme_strerror(ge));
		goto fail;
	}
	ge = gpgme_op_import(p->ctx, d);
	res = ge ? NULL : gpgme_op_import_result(p->ctx);
	if (ge || !res || res->secret_read == 0) {
		r = ccp_err_set(e, CCP_EINVALID, "decryption key `%s` holds no OpenPGP secret key%s%s", path, ge ? ": " : "",
				ge ? gpgme_strerror(ge) : " (export it with gpg --export-secret-keys)");
		goto fail;
	}
	gpgme_data_release(d);
	ccp_buf_free_secure(&key);
	*out = &p->base;
	return 0;
fail:
	if (d)
		gpgme_data_release(d);
	ccp_buf_free_secure(&key);
	pgp_free(&p->base);
	return r;
}
