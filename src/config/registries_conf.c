/*
 * registries.conf (containers-registries.conf(5)), read with the TOML subset parser of toml.h
 * (without multi-line strings). The consumer keeps what it knows and ignores the rest ([aliases],
 * short-name-mode, credential-helpers...), as containers/image does.
 */
#include "config/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "config/toml.h"
#include "util/buf.h"

#define CONF_MAX (1024 * 1024)
#define MAX_ENTRIES 10000
#define MAX_MIRRORS 256
#define MAX_SEARCH 1024

enum { T_OTHER, T_REGISTRY, T_MIRROR, T_V1_SEARCH, T_V1_INSECURE, T_V1_BLOCK };

static int want_type(const ccp_toml_value *v, ccp_toml_type type, const char *key, int line, ccp_err *e)
{
	static const char *const names[] = { "a string", "an integer", "a boolean", "an array" };
	if (v->type != type)
		return ccp_err_set(e, CCP_EINVALID, "line %d: \"%s\" must be %s", line, key, names[type]);
	return 0;
}

static int set_string(char **slot, const ccp_toml_value *v, const char *key, int line, ccp_err *e)
{
	int r = want_type(v, CCP_TOML_STRING, key, line, e);
	if (r)
		return r;
	free(*slot);
	if (!(*slot = strdup(v->s)))
		return ccp_err_oom(e);
	return 0;
}

static int add_entry(ccp_registries_conf *c, const char *location, int insecure, int blocked, int line, ccp_err *e)
{
	ccp_reg_entry *n;
	if (c->n_entries >= MAX_ENTRIES)
		return ccp_err_set(e, CCP_EINVALID, "line %d: more than %d registries", line, MAX_ENTRIES);
	if (!(n = realloc(c->entries, (c->n_entries + 1) * sizeof(*n))))
		return ccp_err_oom(e);
	c->entries = n;
	memset(&n[c->n_entries], 0, sizeof(*n));
	n[c->n_entries].insecure = insecure;
	n[c->n_entries].blocked = blocked;
	if (location && !(n[c->n_entries].location = strdup(location)))
		return ccp_err_oom(e);
	c->n_entries++;
	return 0;
}

static int add_search(ccp_registries_conf *c, const ccp_toml_value *v, const char *key, int line, ccp_err *e)
{
	int r = want_type(v, CCP_TOML_ARRAY, key, line, e);
	if (r)
		return r;
	for (size_t i = 0; i < v->n; i++) {
		char **n;
		if ((r = want_type(&v->items[i], CCP_TOML_STRING, key, line, e)) != 0)
			return r;
		if (c->n_unqualified >= MAX_SEARCH)
			return ccp_err_set(e, CCP_EINVALID, "line %d: too many search registries", line);
		if (!(n = realloc(c->unqualified_search, (c->n_unqualified + 1) * sizeof(*n))))
			return ccp_err_oom(e);
		c->unqualified_search = n;
		if (!(n[c->n_unqualified] = strdup(v->items[i].s)))
			return ccp_err_oom(e);
		c->n_unqualified++;
	}
	return 0;
}

static int conf_table(ccp_toml_sink *s, const char *name, int is_array, int line, ccp_err *e)
{
	ccp_registries_conf_reader *cs = (ccp_registries_conf_reader *)s;
	ccp_registries_conf *c = &cs->conf;

	cs->in_registry = T_OTHER;
	if (strcmp(name, "registry") == 0) {
		if (!is_array)
			return ccp_err_set(e, CCP_EINVALID, "line %d: \"registry\" must be an array of tables ([[registry]])",
					   line);
		cs->v2 = 1;
		cs->in_registry = T_REGISTRY;
		return add_entry(c, NULL, 0, 0, line, e);
	}
	if (strcmp(name, "registry" "\x1f" "mirror") == 0) {
		ccp_reg_entry *last;
		ccp_reg_mirror *m;
		if (!is_array)
			return ccp_err_set(e, CCP_EINVALID,
					   "line %d: \"registry.mirror\" must be an array of tables ([[registry.mirror]])", line);
		if (!cs->v2 || !c->n_entries)
			return ccp_err_set(e, CCP_EINVALID, "line %d: [[registry.mirror]] before any [[registry]]", line);
		last = &c->entries[c->n_entries - 1];
		if (last->n_mirrors >= MAX_MIRRORS)
			return ccp_err_set(e, CCP_EINVALID, "line %d: more than %d mirrors", line, MAX_MIRRORS);
		if (!(m = realloc(last->mirrors, (last->n_mirrors + 1) * sizeof(*m))))
			return ccp_err_oom(e);
		last->mirrors = m;
		memset(&m[last->n_mirrors], 0, sizeof(*m));
		last->n_mirrors++;
		cs->in_registry = T_MIRROR;
		return 0;
	}
	/* the v1 format: [registries.search] / [registries.insecure] / [registries.block] */
	if (strcmp(name, "registries" "\x1f" "search") == 0)
		cs->in_registry = T_V1_SEARCH;
	else if (strcmp(name, "registries" "\x1f" "insecure") == 0)
		cs->in_registry = T_V1_INSECURE;
	else if (strcmp(name, "registries" "\x1f" "block") == 0)
		cs->in_registry = T_V1_BLOCK;
	return 0;
}

static int conf_kv(ccp_toml_sink *s, const char *table, const char *key, const ccp_toml_value *v, int line, ccp_err *e)
{
	ccp_registries_conf_reader *cs = (ccp_registries_conf_reader *)s;
	ccp_registries_conf *c = &cs->conf;
	int r;

	if (!table[0]) {
		if (strcmp(key, "unqualified-search-registries") == 0) {
			cs->v2 = 1;
			return add_search(c, v, key, line, e);
		}
		if (strcmp(key, "registries") == 0 && v->type == CCP_TOML_ARRAY)
			return ccp_err_set(e, CCP_EINVALID, "line %d: \"registries\" must be an array of tables", line);
		return 0;
	}
	switch (cs->in_registry) {
	case T_REGISTRY: {
		ccp_reg_entry *en = &c->entries[c->n_entries - 1];
		if (strcmp(key, "prefix") == 0)
			return set_string(&en->prefix, v, key, line, e);
		if (strcmp(key, "location") == 0)
			return set_string(&en->location, v, key, line, e);
		if (strcmp(key, "insecure") == 0) {
			if ((r = want_type(v, CCP_TOML_BOOL, key, line, e)) == 0)
				en->insecure = v->b;
			return r;
		}
		if (strcmp(key, "blocked") == 0) {
			if ((r = want_type(v, CCP_TOML_BOOL, key, line, e)) == 0)
				en->blocked = v->b;
			return r;
		}
		return 0;
	}
	case T_MIRROR: {
		ccp_reg_entry *en = &c->entries[c->n_entries - 1];
		ccp_reg_mirror *m = &en->mirrors[en->n_mirrors - 1];
		if (strcmp(key, "location") == 0)
			return set_string(&m->location, v, key, line, e);
		if (strcmp(key, "insecure") == 0) {
			if ((r = want_type(v, CCP_TOML_BOOL, key, line, e)) == 0)
				m->insecure = v->b;
			return r;
		}
		return 0;
	}
	case T_V1_SEARCH:
	case T_V1_INSECURE:
	case T_V1_BLOCK:
		if (strcmp(key, "registries") != 0)
			return 0;
		cs->v1 = 1;
		if (cs->in_registry == T_V1_SEARCH)
			return add_search(c, v, key, line, e);
		if ((r = want_type(v, CCP_TOML_ARRAY, key, line, e)) != 0)
			return r;
		for (size_t i = 0; i < v->n; i++) {
			if ((r = want_type(&v->items[i], CCP_TOML_STRING, key, line, e)) != 0 ||
			    (r = add_entry(c, v->items[i].s, cs->in_registry == T_V1_INSECURE,
					   cs->in_registry == T_V1_BLOCK, line, e)) != 0)
				return r;
		}
		return 0;
	default:
		return 0;
	}
}

/* containers/image parseLocation: no URL scheme, trailing slashes dropped. */
static int clean_location(char *s, const char *what, ccp_err *e)
{
	size_t n = strlen(s);
	while (n && s[n - 1] == '/')
		s[--n] = '\0';
	if (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0)
		return ccp_err_set(e, CCP_EINVALID, "invalid %s \"%.256s\": URI schemes are not supported", what, s);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] == 0x7f)
			return ccp_err_set(e, CCP_EINVALID, "invalid %s \"%.256s\": contains whitespace", what, s);
	return 0;
}

static int is_wildcard(const char *p)
{
	return strncmp(p, "*.", 2) == 0;
}

static int postprocess(ccp_registries_conf *c, ccp_err *e)
{
	int r;

	for (size_t i = 0; i < c->n_entries; i++) {
		ccp_reg_entry *en = &c->entries[i];
		if (en->location && (r = clean_location(en->location, "location", e)) != 0)
			return r;
		if (en->prefix && (r = clean_location(en->prefix, "prefix", e)) != 0)
			return r;
		if (en->prefix && !en->prefix[0]) {
			free(en->prefix);
			en->prefix = NULL;
		}
		if (en->location && !en->location[0]) {
			free(en->location);
			en->location = NULL;
		}
		if (!en->prefix) {
			if (!en->location)
				return ccp_err_set(e, CCP_EINVALID, "registry %zu: both location and prefix are unset", i + 1);
			if (!(en->prefix = strdup(en->location)))
				return ccp_err_oom(e);
		}
		if (is_wildcard(en->prefix)) {
			if (strchr(en->prefix + 2, '*') || strchr(en->prefix, '/'))
				return ccp_err_set(e, CCP_EINVALID, "invalid prefix \"%.256s\": a wildcard prefix is \"*.domain\"",
						   en->prefix);
			if (en->location)
				return ccp_err_set(e, CCP_EINVALID,
						   "registry with wildcard prefix \"%.256s\" must not set a location", en->prefix);
		} else if (strchr(en->prefix, '*')) {
			return ccp_err_set(e, CCP_EINVALID, "invalid prefix \"%.256s\": '*' only as a leading \"*.\"",
					   en->prefix);
		} else if (!en->location && !(en->location = strdup(en->prefix))) {
			return ccp_err_oom(e);
		}
		for (size_t k = 0; k < en->n_mirrors; k++) {
			if (!en->mirrors[k].location || !en->mirrors[k].location[0])
				return ccp_err_set(e, CCP_EINVALID, "a mirror of \"%.256s\" has no location", en->prefix);
			if ((r = clean_location(en->mirrors[k].location, "mirror location", e)) != 0)
				return r;
			if (!en->mirrors[k].location[0])
				return ccp_err_set(e, CCP_EINVALID, "a mirror of \"%.256s\" has no location", en->prefix);
		}
		for (size_t k = 0; k < i; k++)
			if (strcmp(c->entries[k].prefix, en->prefix) == 0)
				return ccp_err_set(e, CCP_EINVALID, "registry prefix \"%.256s\" is defined more than once",
						   en->prefix);
	}
	return 0;
}

void ccp_registries_conf_free(ccp_registries_conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_entries; i++) {
		ccp_reg_entry *en = &c->entries[i];
		free(en->prefix);
		free(en->location);
		for (size_t k = 0; k < en->n_mirrors; k++)
			free(en->mirrors[k].location);
		free(en->mirrors);
	}
	free(c->entries);
	for (size_t i = 0; i < c->n_unqualified; i++)
		free(c->unqualified_search[i]);
	free(c->unqualified_search);
	memset(c, 0, sizeof(*c));
}

void ccp_registries_conf_reader_init(ccp_registries_conf_reader *rd)
{
	memset(rd, 0, sizeof(*rd));
	rd->sink.table = conf_table;
	rd->sink.kv = conf_kv;
}

int ccp_registries_conf_reader_finish(ccp_registries_conf_reader *rd, ccp_registries_conf *out, ccp_err *e)
{
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (rd->v1 && rd->v2)
		r = ccp_err_set(e, CCP_EINVALID, "registries.conf mixes the v1 ([registries.*]) and v2 ([[registry]]) formats");
	else if ((r = postprocess(&rd->conf, e)) != 0)
		ccp_err_wrap(e, "registries.conf");
	if (r)
		ccp_registries_conf_free(&rd->conf);
	else
		*out = rd->conf;
	memset(&rd->conf, 0, sizeof(rd->conf));
	return r;
}

int ccp_registries_conf_parse(ccp_registries_conf *out, const char *data, size_t len, ccp_err *e)
{
	ccp_registries_conf_reader rd;
	int r;

	memset(out, 0, sizeof(*out));
	if (len > CONF_MAX)
		return ccp_err_set(e, CCP_EINVALID, "registries.conf is larger than %d bytes", CONF_MAX);
	ccp_registries_conf_reader_init(&rd);
	if ((r = ccp_toml_parse(data, len, 0, &rd.sink, e)) != 0) {
		ccp_err_wrap(e, "registries.conf");
		ccp_registries_conf_free(&rd.conf);
		return r;
	}
	return ccp_registries_conf_reader_finish(&rd, out, e);
}

int ccp_registries_conf_load(ccp_registries_conf *out, const char *path, ccp_err *e)
{
	ccp_buf b = CCP_BUF_INIT(CONF_MAX);
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = ccp_read_file(&b, path, CONF_MAX, e)) == 0) {
		if ((r = ccp_registries_conf_parse(out, b.data, b.len, e)) != 0)
			ccp_err_wrap(e, "`%s`", path);
	}
	ccp_buf_free(&b);
	return r;
}

/*
 * containers/image refMatchingPrefix: prefix matches the whole reference or is followed by '/', ':'
 * or '@' (so "example.com/foo" does not match "example.com/foobar"); "*.example.com" matches any
 * subdomain of example.com. Returns the match length or -1.
 */
static long prefix_match(const char *ref, const char *prefix)
{
	size_t rl = strlen(ref), pl = strlen(prefix);

	if (is_wildcard(prefix)) {
		size_t dl = strcspn(ref, "/");
		size_t sl = pl - 1; /* ".example.com" */
		if (dl > sl && memcmp(ref + dl - sl, prefix + 1, sl) == 0)
			return (long)pl;
		return -1;
	}
	if (rl < pl || memcmp(ref, prefix, pl) != 0)
		return -1;
	if (rl == pl || ref[pl] == '/' || ref[pl] == ':' || ref[pl] == '@')
		return (long)pl;
	return -1;
}

const ccp_reg_entry *ccp_registries_conf_find(const ccp_registries_conf *c, const char *repository)
{
	const ccp_reg_entry *best = NULL;
	long best_len = -1;

	if (!c || !repository)
		return NULL;
	for (size_t i = 0; i < c->n_entries; i++) {
		long l = prefix_match(repository, c->entries[i].prefix);
		if (l > best_len) {
			best_len = l;
			best = &c->entries[i];
		}
	}
	return best;
}
