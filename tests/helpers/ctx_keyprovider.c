/*
 * ctx_keyprovider MODE KEY IMAGE BUNDLE STORE: pulls IMAGE (insecure policy, plain HTTP, the copy
 * snapshotter, STORE) into BUNDLE through the public API with no decryption key in the options, for
 * test_encrypted.sh. With MODE "add", a key provider written here is added to the context first
 * (ccp_context_add_keyprovider): it handles the "jwe" scheme with the private key in KEY (PEM) and
 * counts its calls. With MODE "none" nothing is added.
 *
 * Prints "unwrapped N freed F" on stdout (the provider's successful unwraps, and 1 when its free ran
 * by the time the context was freed), and exits with ccp_exit_status of the pull after its message
 * on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ccpull/ccpull.h"
#include "ccpull/sys/keyprovider.h"
#include "keyproviders/keyproviders.h"

typedef struct test_kp {
	ccp_keyprovider base;
	EVP_PKEY *key;
} test_kp;

static int unwrapped, freed;

static int kp_handles(const ccp_keyprovider *kp, const char *scheme)
{
	(void)kp;
	return strcmp(scheme, "jwe") == 0;
}

static int kp_unwrap(ccp_keyprovider *kp, const char *scheme, const unsigned char *wrapped, size_t wrapped_len,
		     const char *dc_json, unsigned char **out, size_t *out_len, char *err, size_t err_len)
{
	test_kp *t = (test_kp *)kp;
	ccp_buf plain = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;
	int r;

	(void)scheme, (void)dc_json;
	if ((r = ccp_jwe_decrypt(t->key, wrapped, wrapped_len, &plain, &e)) != 0) {
		snprintf(err, err_len, "test provider: %s", e.msg);
		ccp_buf_free_secure(&plain);
		return r;
	}
	if (!(*out = malloc(plain.len ? plain.len : 1))) {
		ccp_buf_free_secure(&plain);
		snprintf(err, err_len, "test provider: out of memory");
		return CCP_ENOMEM;
	}
	memcpy(*out, plain.data, plain.len);
	*out_len = plain.len;
	ccp_buf_free_secure(&plain);
	unwrapped++;
	return 0;
}

static void kp_free(ccp_keyprovider *kp)
{
	test_kp *t = (test_kp *)kp;

	EVP_PKEY_free(t->key);
	free(t);
	freed++;
}

static int add_provider(ccp_context *ctx, const char *key_path)
{
	test_kp *t = calloc(1, sizeof(*t));
	FILE *f;

	if (!t || !(f = fopen(key_path, "r"))) {
		free(t);
		return CCP_EINVALID;
	}
	t->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	t->base.version = CCP_KEYPROVIDER_VERSION;
	t->base.description = "test provider (ctx_keyprovider.c)";
	t->base.handles = kp_handles;
	t->base.unwrap = kp_unwrap;
	t->base.free = kp_free;
	if (!t->key) {
		free(t);
		return CCP_EINVALID;
	}
	return ccp_context_add_keyprovider(ctx, &t->base);
}

int main(int argc, char **argv)
{
	ccp_pull_options o = CCP_PULL_OPTIONS_INIT;
	ccp_context *ctx = NULL;
	ccp_pull_result *res = NULL;
	int r;

	if (argc != 6 || (strcmp(argv[1], "add") != 0 && strcmp(argv[1], "none") != 0)) {
		fprintf(stderr, "usage: ctx_keyprovider add|none KEY IMAGE BUNDLE STORE\n");
		return 2;
	}
	if (ccp_init() < 0 || ccp_context_new(&ctx) != 0) {
		fprintf(stderr, "ctx_keyprovider: %s\n", ccp_context_last_error(NULL));
		return 1;
	}
	o.trust.insecure_policy = 1;
	o.registry.tls_verify = 0;
	o.store.snapshotter = CCP_SNAPSHOTTER_COPY;
	o.store.dir = argv[5];
	if (strcmp(argv[1], "add") == 0 && (r = add_provider(ctx, argv[2])) != 0) {
		fprintf(stderr, "ctx_keyprovider: adding the provider: %s\n", ccp_context_last_error(ctx));
	} else {
		r = ccp_pull(&res, ctx, argv[3], argv[4], &o);
		if (r)
			fprintf(stderr, "ctx_keyprovider: %s\n", ccp_context_last_error(ctx));
		ccp_pull_result_free(res);
	}
	ccp_context_free(ctx);
	ccp_shutdown();
	printf("unwrapped %d freed %d\n", unwrapped, freed);
	return ccp_exit_status(r);
}
