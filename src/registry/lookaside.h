/*
 * Signatures from a lookaside store (containers/image docs/signature-protocols.md):
 * <base>/<repository path>@<algo>=<hex>/signature-<n>, n = 1, 2, ... until the first missing one.
 */
#ifndef CCP_REGISTRY_LOOKASIDE_H
#define CCP_REGISTRY_LOOKASIDE_H

#include <stddef.h>
#include <stdint.h>
#include "digest/digest.h"
#include "util/buf.h"
#include "util/err.h"

#define CCP_LOOKASIDE_MAX_SIGS 128
#define CCP_LOOKASIDE_SIG_MAX (4u << 20)       /* one signature (containers/image MaxSignatureBodySize) */
#define CCP_LOOKASIDE_TOTAL_MAX (16u << 20)    /* all signatures of one manifest digest together */

typedef struct ccp_sig_list {
	ccp_buf *v;
	size_t n;
} ccp_sig_list;

typedef struct ccp_lookaside_opts {
	int tls_verify;       /* 0: no certificate check for https:// */
	const char *ca_file;  /* extra CA bundle (PEM) or NULL */
	uint64_t deadline_ms; /* CLOCK_MONOTONIC ms (ccp_registry_deadline) when every read stops; 0: none */
} ccp_lookaside_opts;

typedef struct ccp_lookaside_iter ccp_lookaside_iter;

/*
 * Opens the signatures of the manifest digest d of repository (the path without the registry host,
 * "library/busybox") in base (file://, http:// or https://) for reading one at a time, so that a caller
 * can stop as soon as it has what it needs. Nothing is read yet; a malformed base URL, digest or
 * repository is CCP_EINVALID. An https:// base follows redirects to https:// only; an http:// base may be
 * redirected to either.
 */
int ccp_lookaside_open(ccp_lookaside_iter **out, const char *base, const char *repository, const ccp_digest *d,
		       const ccp_lookaside_opts *o, ccp_err *e);

/*
 * Reads the next signature into sig (freed first: one signature is held at a time): 1 when read, 0 at the
 * end of the list (the first missing signature-<n>), <0 on error, after which it returns 0. More than
 * CCP_LOOKASIDE_MAX_SIGS signatures, one larger than CCP_LOOKASIDE_SIG_MAX, more than
 * CCP_LOOKASIDE_TOTAL_MAX bytes together, o->deadline_ms passed (all the reads share it), an unexpected
 * HTTP status or a read error is CCP_EREGISTRY.
 */
int ccp_lookaside_next(ccp_lookaside_iter *it, ccp_buf *sig, ccp_err *e);
void ccp_lookaside_close(ccp_lookaside_iter *it);

void ccp_sig_list_free(ccp_sig_list *l);

#endif
