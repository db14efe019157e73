/* OCI and Docker schema2 manifests, indexes and image configs; media types; platform selection. */
#ifndef CCP_MANIFEST_MANIFEST_H
#define CCP_MANIFEST_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include "digest/digest.h"
#include "util/err.h"

#define CCP_MANIFEST_MAX (4u << 20)  /* bytes of a manifest or index */
#define CCP_CONFIG_MAX (8u << 20)    /* bytes of an image config */
#define CCP_LAYERS_MAX 256           /* layers in one manifest */
#define CCP_INDEX_ENTRIES_MAX 1024   /* manifests in one index */

#define CCP_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define CCP_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define CCP_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define CCP_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define CCP_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define CCP_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define CCP_MT_DOCKER_SCHEMA1 "application/vnd.docker.distribution.manifest.v1+json"
#define CCP_MT_DOCKER_SCHEMA1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"

typedef enum {
	CCP_KIND_UNKNOWN = 0,
	CCP_KIND_OCI_MANIFEST,
	CCP_KIND_OCI_INDEX,
	CCP_KIND_DOCKER_MANIFEST,
	CCP_KIND_DOCKER_LIST,
	CCP_KIND_DOCKER_SCHEMA1
} ccp_manifest_kind;

typedef enum { CCP_COMP_NONE = 0, CCP_COMP_GZIP, CCP_COMP_ZSTD, CCP_COMP_SNIFF } ccp_compression;

typedef struct ccp_platform {
	char os[64];
	char architecture[64];
	char variant[64]; /* "" when none */
} ccp_platform;

typedef struct ccp_descriptor {
	char *media_type;
	ccp_digest digest;
	uint64_t size;
	int has_platform;
	ccp_platform platform;  /* index entries only */
	int has_urls;           /* descriptor carried "urls" (foreign layers) */
} ccp_descriptor;

typedef struct ccp_manifest {
	ccp_manifest_kind kind;
	ccp_descriptor config;
	ccp_descriptor *layers;
	size_t n_layers;
} ccp_manifest;

typedef struct ccp_index {
	ccp_manifest_kind kind;
	ccp_descriptor *manifests;
	size_t n_manifests;
} ccp_index;

typedef struct ccp_image_config {
	ccp_platform platform;  /* os, architecture, variant of the config */
	ccp_digest *diff_ids;
	size_t n_diff_ids;
} ccp_image_config;

/*
 * Decides what a manifest document is from the Content-Type the registry sent (may be NULL or
 * a generic type) and the document's own "mediaType"/"schemaVersion"/"manifests"/"layers" fields.
 * A declared mediaType that contradicts the Content-Type is refused (CCP_EREGISTRY).
 */
int ccp_manifest_detect(ccp_manifest_kind *out, const char *content_type, const void *data, size_t len, ccp_err *e);

/* Parses an image manifest (OCI or Docker schema2). Schema1 -> CCP_EREGISTRY ("... are not supported"). */
int ccp_manifest_parse(ccp_manifest *out, const void *data, size_t len, const char *content_type, ccp_err *e);
void ccp_manifest_free(ccp_manifest *m);

/*
 * 1 when the manifest describes a container image (config media type is an OCI or Docker image
 * config), 0 for artifacts (helm charts, signatures, ...). ccp_manifest_check_image turns a 0 into
 * CCP_EREGISTRY naming the config media type, for callers about to pull.
 */
int ccp_manifest_is_image(const ccp_manifest *m);
int ccp_manifest_check_image(const ccp_manifest *m, ccp_err *e);

/* Parses an OCI index or Docker manifest list. */
int ccp_index_parse(ccp_index *out, const void *data, size_t len, const char *content_type, ccp_err *e);
void ccp_index_free(ccp_index *ix);

/*
 * Picks the entry for want (os/architecture/variant, normalised as containerd does: amd64<-x86_64,
 * arm64 variant v8 by default, arm variant v7 by default, ...). Entries without a platform are
 * ignored. No match -> CCP_EREGISTRY naming the wanted and the available platforms.
 */
int ccp_index_select(const ccp_index *ix, const ccp_platform *want, size_t *out_idx, ccp_err *e);

/* 1 when an image for have runs on want: the same platform or an older variant ccp_index_select takes. */
int ccp_platform_match(const ccp_platform *want, const ccp_platform *have);

/* Parses "os/arch[/variant]" and normalises it. */
int ccp_platform_parse(ccp_platform *out, const char *s, ccp_err *e);
/* The platform ccpull runs on (linux + uname machine, normalised). */
void ccp_platform_host(ccp_platform *out);
void ccp_platform_normalize(ccp_platform *p);
/* "os/arch[/variant]" into out (at least 200 bytes). */
char *ccp_platform_str(const ccp_platform *p, char *out, size_t n);

/* Parses an image config: platform fields, rootfs.type must be "layers", rootfs.diff_ids. */
int ccp_image_config_parse(ccp_image_config *out, const void *data, size_t len, ccp_err *e);
void ccp_image_config_free(ccp_image_config *c);

/*
 * Layer media type -> compression. Knows OCI tar/tar+gzip/tar+zstd (and nondistributable), Docker
 * rootfs.diff.tar.gzip, foreign, and Docker plain ".tar" (-> CCP_COMP_SNIFF: compression unknown, sniff
 * the magic). *encrypted set for "+encrypted" types. Unknown -> CCP_EREGISTRY naming the type.
 */
int ccp_layer_media_type(const char *media_type, ccp_compression *out, int *encrypted, ccp_err *e);

#endif
