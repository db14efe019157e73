/* Content digests: "algo:hex" parsing and streaming verifiers (OpenSSL EVP). */
#ifndef CCP_DIGEST_DIGEST_H
#define CCP_DIGEST_DIGEST_H

#include <stddef.h>
#include <stdint.h>
#include "util/err.h"

typedef enum { CCP_SHA256 = 1, CCP_SHA512 = 2 } ccp_digest_algo;

#define CCP_DIGEST_STR_MAX (8 + 128 + 1) /* "unknown:" or "sha512:", 128 hex, NUL */

typedef struct ccp_digest {
	ccp_digest_algo algo; /* 0 when unset */
	char hex[129];        /* lowercase, NUL-terminated */
} ccp_digest;

/* Parses "sha256:<64 lowercase hex>" or "sha512:<128 lowercase hex>"; anything else is refused. */
int ccp_digest_parse(ccp_digest *out, const char *s, size_t len, ccp_err *e);
/* Writes "algo:hex" into out (at least CCP_DIGEST_STR_MAX bytes). Returns out. */
char *ccp_digest_str(const ccp_digest *d, char *out);
int ccp_digest_equal(const ccp_digest *a, const ccp_digest *b);
const char *ccp_digest_algo_name(ccp_digest_algo a);

typedef struct ccp_hasher {
	void *ctx; /* EVP_MD_CTX */
	ccp_digest_algo algo;
	uint64_t bytes;
} ccp_hasher;

int ccp_hasher_init(ccp_hasher *h, ccp_digest_algo algo, ccp_err *e);
void ccp_hasher_update(ccp_hasher *h, const void *data, size_t len);
/* Finishes into out; the hasher must still be freed. */
void ccp_hasher_final(ccp_hasher *h, ccp_digest *out);
void ccp_hasher_free(ccp_hasher *h);

/* One-shot digest of a buffer. */
int ccp_digest_compute(ccp_digest *out, ccp_digest_algo algo, const void *data, size_t len, ccp_err *e);

#endif
