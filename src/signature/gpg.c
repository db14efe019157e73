/*
 * OpenPGP verification of simple signatures with gpgme, in a keyring that holds only the policy's keys:
 * a private GNUPGHOME made for the requirement and removed afterwards, so neither the user's keyring nor
 * its trust settings take part (containers/image signature/mechanism_gpgme.go).
 */
#include "signature/signature.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gpgme.h>

#include "util/fs.h"
#include "util/gpghome.h"

#define MAX_TRUSTED 1024
#define FPR_MAX 128

struct ccp_gpg_keyring {
	char home[PATH_MAX];
	gpgme_ctx_t ctx;
	char **trusted;  /* primary fingerprints of the imported keys */
	size_t n_trusted;
};

static int gpg_fail(ccp_err *e, int code, gpgme_error_t err, const char *what)
{
	return ccp_err_set(e, code, "%s: %s", what, gpgme_strerror(err));
}

void ccp_gpg_keyring_free(ccp_gpg_keyring *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n_trusted; i++)
		free(k->trusted[i]);
	free(k->trusted);
	ccp_gpg_home_free(k->ctx, k->home, 0); /* best effort: a leftover directory holds public keys only */
	free(k);
}

static int add_trusted(ccp_gpg_keyring *k, const char *fpr, ccp_err *e)
{
	char **n;

	for (size_t i = 0; i < k->n_trusted; i++)
		if (strcmp(k->trusted[i], fpr) == 0)
			return 0;
	if (k->n_trusted >= MAX_TRUSTED)
		return ccp_err_set(e, CCP_EPOLICY, "more than %d keys in a signedBy requirement", MAX_TRUSTED);
	if (!(n = realloc(k->trusted, (k->n_trusted + 1) * sizeof(*n))))
		return ccp_err_oom(e);
	k->trusted = n;
	if (!(k->trusted[k->n_trusted] = strdup(fpr)))
		return ccp_err_oom(e);
	k->n_trusted++;
	return 0;
}

/*
 * Public keys and signatures need no gpg-agent; without this gpg starts one for the home, and it
 * outlives the pull until it notices that its socket is gone.
 */
static int no_agent(const char *home, ccp_err *e)
{
	static const char conf[] = "no-autostart\n";
	int fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (fd < 0)
		return ccp_err_errno(e, CCP_EPOLICY, errno, "cannot open the temporary GNUPGHOME %s", home);
	r = ccp_write_file_at(fd, "gpg.conf", conf, sizeof(conf) - 1, 0600, e);
	close(fd);
	return r;
}

int ccp_gpg_keyring_new(ccp_gpg_keyring **out, const ccp_buf *blobs, size_t n_blobs, ccp_err *e)
{
	ccp_gpg_keyring *k;
	gpgme_error_t err;
	int r;

	*out = NULL;
	if (!(k = calloc(1, sizeof(*k))))
		return ccp_err_oom(e);
	if ((r = ccp_gpg_home_new(&k->ctx, k->home, sizeof(k->home), CCP_EPOLICY, e)) ||
	    (r = no_agent(k->home, e)))
		goto fail;
	gpgme_set_armor(k->ctx, 0);
	gpgme_set_textmode(k->ctx, 0);
	for (size_t i = 0; i < n_blobs; i++) {
		gpgme_data_t d;
		gpgme_import_result_t res;

		if ((err = gpgme_data_new_from_mem(&d, blobs[i].data ? blobs[i].data : "", blobs[i].len, 0))) {
			r = gpg_fail(e, CCP_EPOLICY, err, "gpgme data");
			goto fail;
		}
		err = gpgme_op_import(k->ctx, d);
		gpgme_data_release(d);
		if (err) {
			r = gpg_fail(e, CCP_EPOLICY, err, "importing policy keys");
			goto fail;
		}
		res = gpgme_op_import_result(k->ctx);
		for (gpgme_import_status_t s = res ? res->imports : NULL; s; s = s->next)
			if (s->result == GPG_ERR_NO_ERROR && s->fpr && (r = add_trusted(k, s->fpr, e)))
				goto fail;
	}
	if (k->n_trusted == 0) {
		r = ccp_err_set(e, CCP_EPOLICY, "no public keys imported");
		goto fail;
	}
	*out = k;
	return 0;
fail:
	ccp_gpg_keyring_free(k);
	return r;
}

static int is_trusted(const ccp_gpg_keyring *k, const char *fpr)
{
	for (size_t i = 0; i < k->n_trusted; i++)
		if (strcmp(k->trusted[i], fpr) == 0)
			return 1;
	return 0;
}

/* The signed payload as gpgme writes it, capped as it arrives: a compressed packet in a small
 * signature could otherwise expand without bound before its size is seen. */
typedef struct capped_payload {
	ccp_buf buf;
	int over;
} capped_payload;

static ssize_t payload_write(void *handle, const void *data, size_t size)
{
	capped_payload *c = handle;

	if (ccp_buf_append(&c->buf, data, size) < 0) {
		c->over = 1;
		errno = EFBIG;
		return -1;
	}
	return (ssize_t)size;
}

int ccp_gpg_verify(ccp_gpg_keyring *k, const void *sig, size_t len, ccp_buf *payload, char *signer,
		   size_t signer_len, ccp_err *e)
{
	struct gpgme_data_cbs cbs = { .write = payload_write };
	capped_payload text = { CCP_BUF_INIT(CCP_SIG_PAYLOAD_MAX), 0 };
	gpgme_data_t in = NULL, plain = NULL;
	gpgme_verify_result_t res;
	gpgme_signature_t s;
	gpgme_error_t err;
	char fpr[FPR_MAX];
	int r, count = 0;

	if ((err = gpgme_data_new_from_mem(&in, sig, len, 0)) || (err = gpgme_data_new_from_cbs(&plain, &cbs, &text))) {
		r = gpg_fail(e, CCP_EPOLICY, err, "gpgme data");
		goto out;
	}
	err = gpgme_op_verify(k->ctx, in, NULL, plain);
	if (text.over) {
		r = ccp_err_set(e, CCP_EPOLICY, "signed payload is more than %u bytes", CCP_SIG_PAYLOAD_MAX);
		goto out;
	}
	if (err) {
		r = gpg_fail(e, CCP_EPOLICY, err, "invalid GPG signature");
		goto out;
	}
	res = gpgme_op_verify_result(k->ctx);
	for (s = res ? res->signatures : NULL; s; s = s->next)
		count++;
	if (count != 1) {
		r = ccp_err_set(e, CCP_EPOLICY, "unexpected GPG signature count %d", count);
		goto out;
	}
	s = res->signatures;
	if (s->status != GPG_ERR_NO_ERROR || s->validity == GPGME_VALIDITY_NEVER ||
	    s->validity_reason != GPG_ERR_NO_ERROR || s->wrong_key_usage) {
		r = ccp_err_set(e, CCP_EPOLICY, "invalid GPG signature by key %s: %s",
				s->fpr ? s->fpr : "(unknown)",
				gpgme_strerror(s->status ? s->status : s->validity_reason));
		goto out;
	}
	if (!s->fpr || strlen(s->fpr) >= sizeof(fpr)) {
		r = ccp_err_set(e, CCP_EPOLICY, "GPG signature without a usable key fingerprint");
		goto out;
	}
	snprintf(fpr, sizeof(fpr), "%s", s->fpr);
	if (!is_trusted(k, fpr)) {
		/* Signed by a subkey: the policy names primary keys. */
		gpgme_key_t key = NULL;
		if (gpgme_get_key(k->ctx, fpr, &key, 0) || !key || !key->subkeys || !key->subkeys->fpr) {
			if (key)
				gpgme_key_unref(key);
			r = ccp_err_set(e, CCP_EPOLICY, "signature by key %s is not accepted", fpr);
			goto out;
		}
		if (!is_trusted(k, key->subkeys->fpr)) {
			r = ccp_err_set(e, CCP_EPOLICY, "signature by key %s of %s is not accepted", fpr,
					key->subkeys->fpr);
			gpgme_key_unref(key);
			goto out;
		}
		snprintf(fpr, sizeof(fpr), "%s", key->subkeys->fpr);
		gpgme_key_unref(key);
	}
	if ((r = ccp_buf_append(payload, text.buf.data ? text.buf.data : "", text.buf.len))) {
		r = r == CCP_ENOMEM ? ccp_err_oom(e) : ccp_err_set(e, CCP_EPOLICY, "signed payload too large");
		goto out;
	}
	snprintf(signer, signer_len, "%s", fpr);
	r = 0;
out:
	ccp_buf_free(&text.buf);
	if (plain)
		gpgme_data_release(plain);
	if (in)
		gpgme_data_release(in);
	return r;
}
