/* Resource URIs (path, file://, kbs:///), the offline resources file and the in-memory resource cache. */
#include "config/resource.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>

#include "util/b64.h"
#include "util/json.h"

#define PART_MAX 128

int ccp_resource_is_kbs(const char *uri)
{
	return uri && strncmp(uri, "kbs://", 6) == 0;
}

static int part_ok(const char *s, size_t n)
{
	if (n == 0 || n > PART_MAX || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

int ccp_resource_kbs_path(char out[CCP_RESOURCE_PATH_MAX], const char *uri, ccp_err *e)
{
	const char *p = uri, *seg[3], *s;
	size_t len[3], n = 0;

	if (strncmp(p, "kbs://", 6) == 0) {
		p += 6;
		p = strchr(p, '/'); /* skip an authority: the configured source is the one asked */
		if (!p)
			goto bad;
	}
	if (*p != '/')
		goto bad;
	p++;
	for (s = p;; s++) {
		if (*s != '/' && *s)
			continue;
		if (n == 3)
			goto bad;
		seg[n] = p;
		len[n] = (size_t)(s - p);
		if (!part_ok(seg[n], len[n]))
			goto bad;
		n++;
		if (!*s)
			break;
		p = s + 1;
	}
	if (n != 3)
		goto bad;
	snprintf(out, CCP_RESOURCE_PATH_MAX, "%.*s/%.*s/%.*s", (int)len[0], seg[0], (int)len[1], seg[1], (int)len[2],
		 seg[2]);
	return 0;
bad:
	return ccp_err_set(e, CCP_EINVALID,
			   "KBS resource \"%.200s\": expected kbs:///REPOSITORY/TYPE/TAG (each part of [A-Za-z0-9._-])",
			   uri);
}

int ccp_resource_read(ccp_buf *out, const char *uri, size_t max, const ccp_resource_src *src, const char *what,
		      ccp_err *e)
{
	const char *path = uri;
	char rpath[CCP_RESOURCE_PATH_MAX];
	int r;

	if (!max)
		max = CCP_RESOURCE_MAX;
	if (ccp_resource_is_kbs(uri)) {
		if ((r = ccp_resource_kbs_path(rpath, uri, e)))
			return ccp_err_wrap(e, "%s", what);
		if (!src || !src->fetch)
			return ccp_err_set(e, CCP_EINVALID,
					   "%s %.256s: a kbs:// resource needs a KBS or an offline source "
					   "(--kbs URL or --kbs-resources FILE)", what, uri);
		out->max = max;
		if ((r = src->fetch(src->payload, uri, out, e))) {
			ccp_buf_free_secure(out);
			return ccp_err_wrap(e, "%s %.256s", what, uri);
		}
		if (!out->data && (r = ccp_buf_append(out, "", 0))) /* an empty resource is still one */
			return ccp_err_oom(e);
		if (out->len > max) {
			ccp_buf_free_secure(out);
			return ccp_err_set(e, CCP_EINVALID, "%s %.256s: the resource is larger than %zu bytes", what, uri, max);
		}
		return 0;
	}
	if (strncmp(uri, "file://", 7) == 0) {
		path = uri + 7;
		if (path[0] != '/')
			return ccp_err_set(e, CCP_EINVALID, "%s %.256s: a file:// URI must hold an absolute path", what, uri);
	} else if (strstr(uri, "://")) {
		return ccp_err_set(e, CCP_EINVALID, "%s %.256s: unsupported URI scheme (a path, file:// or kbs:///)", what,
				   uri);
	}
	if ((r = ccp_read_file(out, path, max, e))) {
		ccp_buf_free_secure(out);
		return ccp_err_wrap(e, "%s", what);
	}
	return 0;
}

/* ---- offline resources ---- */

/* The parsed document holds the base64 of secrets: wipe jansson's copies before freeing them. */
static void json_wipe_strings(json_t *j)
{
	const char *k;
	json_t *v;

	json_object_foreach(j, k, v)
		if (json_is_string(v))
			OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
	json_decref(j);
}

int ccp_offline_resources_parse(ccp_offline_resources *out, const void *data, size_t len, const char *what,
				ccp_err *e)
{
	json_t *j = NULL, *v;
	const char *k;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = ccp_json_parse(&j, data, len, CCP_OFFLINE_RESOURCES_MAX, what, CCP_EINVALID, e)))
		return r;
	if (!json_is_object(j)) {
		r = ccp_err_set(e, CCP_EINVALID, "%s: expected an object mapping \"repository/type/tag\" to base64", what);
		goto out;
	}
	if (json_object_size(j) > CCP_OFFLINE_RESOURCES_ENTRIES) {
		r = ccp_err_set(e, CCP_EINVALID, "%s: more than %u resources", what, CCP_OFFLINE_RESOURCES_ENTRIES);
		goto out;
	}
	if (json_object_size(j) && !(out->v = calloc(json_object_size(j), sizeof(*out->v)))) {
		r = ccp_err_oom(e);
		goto out;
	}
	json_object_foreach(j, k, v) {
		ccp_offline_entry *en = &out->v[out->n];
		char uri[CCP_RESOURCE_PATH_MAX + 16];

		/* keys as image-rs writes them ("repo/type/tag"), or as URIs and key ids */
		if (strlen(k) >= CCP_RESOURCE_PATH_MAX ||
		    snprintf(uri, sizeof(uri), "%s%s", ccp_resource_is_kbs(k) || k[0] == '/' ? "" : "/", k) >=
			    (int)sizeof(uri) ||
		    ccp_resource_kbs_path(en->path, uri, e)) {
			r = ccp_err_set(e, CCP_EINVALID, "%s: \"%.200s\" is not a resource path (repository/type/tag, each "
					"part of [A-Za-z0-9._-])", what, k);
			goto out;
		}
		if (ccp_offline_resources_find(out, en->path)) {
			r = ccp_err_set(e, CCP_EINVALID, "%s: resource %s is listed twice", what, en->path);
			goto out;
		}
		if (!json_is_string(v)) {
			r = ccp_err_set(e, CCP_EINVALID, "%s: resource %s: the value must be a base64 string", what, en->path);
			goto out;
		}
		en->data.max = CCP_RESOURCE_MAX;
		if ((r = ccp_b64_decode(&en->data, json_string_value(v), json_string_length(v), 0))) {
			ccp_buf_free_secure(&en->data);
			r = r == CCP_ENOMEM ? ccp_err_oom(e)
					    : ccp_err_set(e, CCP_EINVALID, "%s: resource %s is not valid base64 (or larger "
							  "than %u bytes)", what, en->path, CCP_RESOURCE_MAX);
			goto out;
		}
		out->n++;
	}
out:
	json_wipe_strings(j);
	if (r)
		ccp_offline_resources_free(out);
	return r;
}

int ccp_offline_resources_load(ccp_offline_resources *out, const char *path, ccp_err *e)
{
	ccp_buf b = CCP_BUF_INIT(0);
	char what[300];
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = ccp_read_file(&b, path, CCP_OFFLINE_RESOURCES_MAX, e))) {
		ccp_buf_free_secure(&b);
		return ccp_err_wrap(e, "offline resources");
	}
	snprintf(what, sizeof(what), "offline resources %.250s", path);
	r = ccp_offline_resources_parse(out, b.data, b.len, what, e);
	ccp_buf_free_secure(&b);
	return r;
}

const ccp_offline_entry *ccp_offline_resources_find(const ccp_offline_resources *o, const char *path)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->v[i].path, path) == 0)
			return &o->v[i];
	return NULL;
}

void ccp_offline_resources_free(ccp_offline_resources *o)
{
	for (size_t i = 0; i < o->n; i++)
		ccp_buf_free_secure(&o->v[i].data);
	free(o->v);
	memset(o, 0, sizeof(*o));
}

/* ---- the cache ---- */

static int64_t monotonic_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

int ccp_resource_cache_init(ccp_resource_cache *c, size_t max_entries, size_t max_bytes, int64_t ttl,
			    int64_t (*now)(void))
{
	memset(c, 0, sizeof(*c));
	if (max_entries && !(c->slots = calloc(max_entries, sizeof(*c->slots))))
		return CCP_ENOMEM;
	c->max_entries = max_entries;
	c->max_bytes = max_bytes;
	c->ttl = ttl;
	c->now = now ? now : monotonic_s;
	return 0;
}

static void slot_drop(ccp_resource_cache *c, ccp_resource_cache_slot *s)
{
	if (!s->key)
		return;
	c->bytes -= s->data.len;
	free(s->key);
	ccp_buf_free_secure(&s->data);
	memset(s, 0, sizeof(*s));
}

static void drop_expired(ccp_resource_cache *c)
{
	int64_t now = c->now();

	for (size_t i = 0; i < c->max_entries; i++)
		if (c->slots[i].key && now - c->slots[i].at >= c->ttl)
			slot_drop(c, &c->slots[i]);
}

int ccp_resource_cache_get(ccp_resource_cache *c, const char *key, ccp_buf *out)
{
	drop_expired(c);
	for (size_t i = 0; i < c->max_entries; i++) {
		ccp_resource_cache_slot *s = &c->slots[i];
		if (s->key && strcmp(s->key, key) == 0) {
			s->used = ++c->tick;
			out->max = 0;
			return ccp_buf_append(out, s->data.data ? s->data.data : "", s->data.len) ? CCP_ENOMEM : 1;
		}
	}
	return 0;
}

void ccp_resource_cache_put(ccp_resource_cache *c, const char *key, const void *data, size_t len)
{
	ccp_resource_cache_slot *free_slot;

	if (!c->max_entries || len > c->max_bytes)
		return;
	drop_expired(c);
	for (size_t i = 0; i < c->max_entries; i++)
		if (c->slots[i].key && strcmp(c->slots[i].key, key) == 0)
			slot_drop(c, &c->slots[i]);
	for (;;) {
		ccp_resource_cache_slot *lru = NULL;

		free_slot = NULL;
		for (size_t i = 0; i < c->max_entries; i++) {
			ccp_resource_cache_slot *s = &c->slots[i];
			if (!s->key) {
				free_slot = free_slot ? free_slot : s;
				continue;
			}
			if (!lru || s->used < lru->used)
				lru = s;
		}
		if (free_slot && c->bytes + len <= c->max_bytes)
			break;
		if (!lru)
			return;
		slot_drop(c, lru);
	}
	if (!(free_slot->key = strdup(key)) || ccp_buf_append(&free_slot->data, data ? data : "", len)) {
		free(free_slot->key);
		ccp_buf_free_secure(&free_slot->data);
		memset(free_slot, 0, sizeof(*free_slot));
		return; /* the cache is an optimisation */
	}
	free_slot->at = c->now();
	free_slot->used = ++c->tick;
	c->bytes += len;
}

size_t ccp_resource_cache_count(const ccp_resource_cache *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->max_entries; i++)
		n += c->slots[i].key != NULL;
	return n;
}

void ccp_resource_cache_clear(ccp_resource_cache *c)
{
	for (size_t i = 0; i < c->max_entries; i++)
		slot_drop(c, &c->slots[i]);
}

void ccp_resource_cache_free(ccp_resource_cache *c)
{
	ccp_resource_cache_clear(c);
	free(c->slots);
	memset(c, 0, sizeof(*c));
}
