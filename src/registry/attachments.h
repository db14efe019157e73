/*
 * Sigstore attachments of a manifest in its own repository (containers/image docker/docker_image_src.go
 * appendSigstoreSignatures; OCI distribution-spec 1.1 referrers): the cosign manifest tagged
 * sha256-<hex>.sig, and manifests whose subject is the image, found through GET /v2/<name>/referrers/<digest>
 * or its sha256-<hex> tag fallback (the Referrers Tag Schema): simple-signing layers, and Sigstore bundles
 * (cosign v3), each the one layer of its referrer. Each layer becomes one stored signature in the form containers/image
 * keeps: "\0sigstore-json\n" + {"mimeType", "payload" (base64), "annotations"}.
 */
#ifndef CCP_REGISTRY_ATTACHMENTS_H
#define CCP_REGISTRY_ATTACHMENTS_H

#include "digest/digest.h"
#include "registry/lookaside.h"
#include "registry/registry.h"
#include "util/err.h"

#define CCP_ATTACH_MAX_SIGS 128               /* attachments taken from all sources together */
#define CCP_ATTACH_MAX_REFERRERS 64           /* referrer manifests opened (signatures and bundles) */
#define CCP_ATTACH_MAX_LISTED 1024            /* descriptors in a referrers index (any artifact type) */
#define CCP_ATTACH_BUNDLE_MAX (1u << 20)      /* one Sigstore bundle (signature/sigstore_bundle.h) */
#define CCP_ATTACH_MANIFEST_MAX (4u << 20)
#define CCP_ATTACH_PAYLOAD_MAX (4u << 20)     /* one attachment (containers/image MaxSignatureBodySize) */
#define CCP_ATTACH_TOTAL_MAX (64u << 20)      /* all attachments of one image */

/*
 * Appends the attachments of manifest digest d (sha256) in r's repository to out. Absent attachments are
 * not an error. Every blob and manifest is checked against its digest and size; a mismatch is
 * CCP_EINTEGRITY, a malformed or oversized attachment or a registry failure CCP_EREGISTRY.
 */
int ccp_attachments_fetch(ccp_sig_list *out, ccp_registry *r, const ccp_digest *d, ccp_err *e);

#endif
