/*
 * Fuzzes manifest detection and the manifest and index parsers under each Content-Type a registry
 * might send, then selection and layer media types on what parsed. Detection and parsing must agree.
 */
#include <stddef.h>
#include <stdint.h>
#include "manifest/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const content_types[] = {
	NULL,
	CCP_MT_OCI_MANIFEST,
	CCP_MT_OCI_INDEX,
	CCP_MT_DOCKER_MANIFEST,
	CCP_MT_DOCKER_LIST,
	CCP_MT_DOCKER_SCHEMA1_SIGNED,
	"application/json; charset=utf-8",
	"text/html",
};

static const char *const platforms[] = { "linux/amd64", "linux/arm64", "linux/arm/v6", "linux/amd64/v3" };

static void check_manifest(const ccp_manifest *m)
{
	ccp_err e = CCP_ERR_INIT;

	if (m->n_layers > CCP_LAYERS_MAX || !m->config.media_type || m->config.size > CCP_CONFIG_MAX)
		__builtin_trap();
	ccp_manifest_check_image(m, &e);
	for (size_t i = 0; i < m->n_layers; i++) {
		ccp_compression c;
		int enc;
		if (!m->layers[i].media_type || !m->layers[i].digest.algo)
			__builtin_trap();
		ccp_layer_media_type(m->layers[i].media_type, &c, &enc, &e);
	}
}

static void check_index(const ccp_index *ix)
{
	ccp_err e = CCP_ERR_INIT;

	if (ix->n_manifests > CCP_INDEX_ENTRIES_MAX)
		__builtin_trap();
	for (size_t p = 0; p < sizeof(platforms) / sizeof(platforms[0]); p++) {
		ccp_platform want;
		size_t idx;
		if (ccp_platform_parse(&want, platforms[p], &e) != 0)
			__builtin_trap();
		if (ccp_index_select(ix, &want, &idx, &e) == 0 &&
		    (idx >= ix->n_manifests || !ix->manifests[idx].has_platform))
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1u << 20))
		return 0;
	for (size_t t = 0; t < sizeof(content_types) / sizeof(content_types[0]); t++) {
		ccp_err e = CCP_ERR_INIT;
		ccp_manifest_kind kind;
		ccp_manifest m;
		ccp_index ix;
		int drc = ccp_manifest_detect(&kind, content_types[t], data, size, &e);
		int mrc = ccp_manifest_parse(&m, data, size, content_types[t], &e);
		int irc = ccp_index_parse(&ix, data, size, content_types[t], &e);

		/* a document is never both, and each parser agrees with detection */
		if (mrc == 0 && irc == 0)
			__builtin_trap();
		if (mrc == 0) {
			if (drc != 0 || kind != m.kind)
				__builtin_trap();
			check_manifest(&m);
			ccp_manifest_free(&m);
		}
		if (irc == 0) {
			if (drc != 0 || kind != ix.kind)
				__builtin_trap();
			check_index(&ix);
			ccp_index_free(&ix);
		}
	}
	return 0;
}
