/*
 * Simple signatures from the registry itself: the X-Registry-Supports-Signatures API extension
 * (OpenShift's integrated registry; containers/image docker_image_src.go appendSignaturesFromAPIExtension).
 * A registry whose /v2/ answer carries "X-Registry-Supports-Signatures: 1" serves
 * GET /extensions/v2/<name>/signatures/<digest> ->
 * {"signatures": [{"schemaVersion": 2, "name": "...", "type": "atomic", "content": base64}, ...]}
 * and containers/image then reads signatures there instead of from a lookaside store.
 */
#ifndef CCP_REGISTRY_SIGEXT_H
#define CCP_REGISTRY_SIGEXT_H

#include <stddef.h>
#include "digest/digest.h"
#include "registry/lookaside.h"
#include "registry/registry.h"
#include "util/err.h"

#define CCP_SIGEXT_LIST_MAX (4u << 20) /* the whole list (containers/image MaxSignatureListBodySize) */

/*
 * Parses an extension signature list and appends the content of every entry with schemaVersion 2 and
 * type "atomic" to out as a simple signature ("\0simple-signing\n" + content, the stored form that
 * ccp_sig_classify reads); other entries and empty contents are skipped. A malformed list, a wrong
 * type or invalid base64 is CCP_EREGISTRY; more than CCP_LOOKASIDE_MAX_SIGS signatures too.
 */
int ccp_sigext_parse(ccp_sig_list *out, const void *data, size_t len, const char *what, ccp_err *e);

/* Fetches (ccp_registry_get_signatures) and parses the signatures of manifest digest d (sha256). */
int ccp_sigext_fetch(ccp_sig_list *out, ccp_registry *r, const ccp_digest *d, ccp_err *e);

#endif
