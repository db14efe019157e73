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

/*
 * Fetches every signature of the manifest digest d of repository (the path without the registry host,
 * "library/busybox") from base (file://, http:// or https://). A missing first signature gives an empty
 * list. More than CCP_LOOKASIDE_MAX_SIGS signatures, one larger than CCP_LOOKASIDE_SIG_MAX, more than
 * CCP_LOOKASIDE_TOTAL_MAX bytes together, o->deadline_ms passed (all the reads share it), an unexpected
 * HTTP status or a read error is CCP_EREGISTRY; a malformed base URL is CCP_EINVALID. An https:// base
 * follows redirects to https:// only; an http:// base may be redirected to either.
 */
int ccp_lookaside_fetch(ccp_sig_list *out, const char *base, const char *repository, const ccp_digest *d,
			const ccp_lookaside_opts *o, ccp_err *e);
void ccp_sig_list_free(ccp_sig_list *l);

#endif
