/*
 * Resource URIs: wherever ccpull reads a file (policy, keys, registries.d, auth.json, registries.conf,
 * CA certificates) it also takes file:///PATH and kbs:///REPOSITORY/TYPE/TAG, a secret released by
 * the Trustee KBS after attestation or found in an offline resources file. The KBS part is a callback
 * supplied by the caller, so this module does not depend on the KBS client.
 *
 * Resources are secrets: they stay in memory, are wiped when dropped and are never written to disk.
 */
#ifndef CCP_CONFIG_RESOURCE_H
#define CCP_CONFIG_RESOURCE_H

#include <stddef.h>
#include <stdint.h>
#include "util/buf.h"
#include "util/err.h"

#define CCP_RESOURCE_MAX (1u << 20)          /* bytes of one resource */
#define CCP_RESOURCE_PATH_MAX 512            /* "repository/type/tag" */
#define CCP_OFFLINE_RESOURCES_MAX (16u << 20) /* bytes of an offline resources file */
#define CCP_OFFLINE_RESOURCES_ENTRIES 1024

/* Does uri name a KBS resource (kbs://...)? */
int ccp_resource_is_kbs(const char *uri);

/*
 * The resource path "repository/type/tag" of kbs:///R/T/G, kbs://HOST[:PORT]/R/T/G (the host is not
 * used: resources come from the configured source) or /R/T/G. Each part is 1 to 128 of [A-Za-z0-9._-],
 * not "." or "..". CCP_EINVALID otherwise.
 */
int ccp_resource_kbs_path(char out[CCP_RESOURCE_PATH_MAX], const char *uri, ccp_err *e);

/* Fetches the KBS resource uri into out (a secret). Failures keep their code (CCP_EDECRYPT: exit 6). */
typedef int (*ccp_resource_fetch_fn)(void *payload, const char *uri, ccp_buf *out, ccp_err *e);

typedef struct ccp_resource_src {
	ccp_resource_fetch_fn fetch;  /* NULL: neither a KBS nor an offline source is configured */
	void *payload;
} ccp_resource_src;

/*
 * Reads uri (a path, file:///PATH or kbs:///R/T/G) into out, at most max bytes (0: CCP_RESOURCE_MAX).
 * what names the option or key in messages ("--authfile"). A kbs:// URI without a source is
 * CCP_EINVALID naming the option; a missing or unreadable file keeps ccp_read_file's code.
 * Free out with ccp_buf_free_secure.
 */
int ccp_resource_read(ccp_buf *out, const char *uri, size_t max, const ccp_resource_src *src, const char *what,
		      ccp_err *e);

/* ---- the offline source: {"repo/type/tag": "<base64>", ...} (aa-offline_fs_kbc-resources.json) ---- */

typedef struct ccp_offline_entry {
	char path[CCP_RESOURCE_PATH_MAX];
	ccp_buf data;
} ccp_offline_entry;

typedef struct ccp_offline_resources {
	ccp_offline_entry *v;
	size_t n;
} ccp_offline_resources;

/*
 * Parses an offline resources document: a JSON object (duplicate keys refused) whose keys are resource
 * paths (validated as ccp_resource_kbs_path does; a leading "/" or "kbs:///" is accepted) and whose
 * values are standard base64 with padding. what names the file. CCP_EINVALID on any error.
 */
int ccp_offline_resources_parse(ccp_offline_resources *out, const void *data, size_t len, const char *what,
				ccp_err *e);
int ccp_offline_resources_load(ccp_offline_resources *out, const char *path, ccp_err *e);
/* The entry of path ("repo/type/tag"), or NULL. */
const ccp_offline_entry *ccp_offline_resources_find(const ccp_offline_resources *o, const char *path);
/* Wipes every resource. */
void ccp_offline_resources_free(ccp_offline_resources *o);

/* ---- the resource cache: in memory only, bounded in entries and bytes, with a time to live ---- */

typedef struct ccp_resource_cache_slot {
	char *key;        /* source (KBS URL) and resource path */
	ccp_buf data;
	int64_t at;       /* clock value when stored */
	uint64_t used;    /* for least-recently-used eviction */
} ccp_resource_cache_slot;

typedef struct ccp_resource_cache {
	ccp_resource_cache_slot *slots;
	size_t max_entries;
	size_t max_bytes;       /* sum of the resources held */
	int64_t ttl;            /* in clock units (seconds with the default clock) */
	int64_t (*now)(void);   /* NULL: CLOCK_MONOTONIC seconds */
	size_t bytes;
	uint64_t tick;
} ccp_resource_cache;

/* A cache of at most max_entries resources and max_bytes bytes, each kept for ttl. 0 or CCP_ENOMEM. */
int ccp_resource_cache_init(ccp_resource_cache *c, size_t max_entries, size_t max_bytes, int64_t ttl,
			    int64_t (*now)(void));
/* Copies the live entry of key into out: 1 when found, 0 when not (expired entries are wiped), CCP_ENOMEM. */
int ccp_resource_cache_get(ccp_resource_cache *c, const char *key, ccp_buf *out);
/*
 * Stores a copy of data under key, evicting (and wiping) expired entries, then the least recently used
 * ones, to stay within the bounds. A resource larger than max_bytes is not cached. Best effort.
 */
void ccp_resource_cache_put(ccp_resource_cache *c, const char *key, const void *data, size_t len);
/* Entries held (c->bytes: their bytes). */
size_t ccp_resource_cache_count(const ccp_resource_cache *c);
/* Wipes every entry; the cache stays usable. */
void ccp_resource_cache_clear(ccp_resource_cache *c);
/* Wipes every entry and frees the slots. */
void ccp_resource_cache_free(ccp_resource_cache *c);

#endif
