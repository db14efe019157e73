/*
 * registries.conf (containers-registries.conf(5)) and the small TOML parser it needs.
 *
 * The parser covers the TOML subset these files use: comments, bare and quoted keys, dotted keys,
 * basic and literal strings (escapes, \u and \U), booleans, decimal integers, arrays (nested,
 * multi-line, trailing comma), [tables] and [[arrays.of.tables]]. Inline tables, multi-line strings,
 * floats and dates are refused with an error naming the line. It is event-based: every table header
 * and every key/value pair is handed to the registries.conf consumer, which keeps what it knows and
 * ignores the rest ([aliases], short-name-mode, credential-helpers...), as containers/image does.
 */
#include "config/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "util/buf.h"

#define CONF_MAX (1024 * 1024)
#define TOML_DEPTH_MAX 8        /* nested arrays */
#define TOML_VALUES_MAX 100000  /* values in one document */
#define TOML_KEY_MAX 1024
#define MAX_ENTRIES 10000
#define MAX_MIRRORS 256
#define MAX_SEARCH 1024
#define KEYSEP '\x1f'           /* joins dotted key parts internally (a quoted part may contain '.') */

/* ---- values ---- */

enum { TV_STR, TV_INT, TV_BOOL, TV_ARRAY };

typedef struct tval {
	int type;
	char *s;
	long long i;
	int b;
	struct tval *items;
	size_t n;
} tval;

static void tval_free(tval *v)
{
	if (!v)
		return;
	free(v->s);
	for (size_t k = 0; k < v->n; k++)
		tval_free(&v->items[k]);
	free(v->items);
	memset(v, 0, sizeof(*v));
}

/* ---- parser ---- */

typedef struct toml_sink toml_sink;
struct toml_sink {
	int (*table)(toml_sink *s, const char *name, int is_array, int line, ccp_err *e);
	int (*kv)(toml_sink *s, const char *table, const char *key, const tval *v, int line, ccp_err *e);
};

typedef struct strset {
	char **v;
	size_t n;
} strset;

static void strset_free(strset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static int strset_has(const strset *s, const char *x)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], x) == 0)
			return 1;
	return 0;
}

static int strset_add(strset *s, const char *x)
{
	char **nv;
	if (s->n >= TOML_VALUES_MAX)
		return CCP_EINVALID;
	if (!(nv = realloc(s->v, (s->n + 1) * sizeof(*nv))))
		return CCP_ENOMEM;
	s->v = nv;
	if (!(s->v[s->n] = strdup(x)))
		return CCP_ENOMEM;
	s->n++;
	return 0;
}

typedef struct tparser {
	const char *p;
	size_t len;
	size_t pos;
	int line;
	size_t values;
	ccp_err *e;
	char *table;        /* current table name (parts joined by KEYSEP), "" at top level */
	strset keys;        /* full keys defined in the current table (duplicate detection) */
	strset tables;      /* [table] headers seen (redefinition detection) */
	strset arrays;      /* [[array]] headers seen */
} tparser;

static int perr(tparser *t, const char *what)
{
	return ccp_err_set(t->e, CCP_EINVALID, "line %d: %s", t->line, what);
}

static int at_end(tparser *t)
{
	return t->pos >= t->len;
}

static char peek(tparser *t)
{
	return t->pos < t->len ? t->p[t->pos] : '\0';
}

static void skip_ws(tparser *t)
{
	while (!at_end(t) && (peek(t) == ' ' || peek(t) == '\t'))
		t->pos++;
}

static void skip_comment(tparser *t)
{
	if (peek(t) == '#')
		while (!at_end(t) && peek(t) != '\n')
			t->pos++;
}

/* Whitespace, newlines and comments (inside arrays). */
static int skip_ws_nl(tparser *t)
{
	for (;;) {
		skip_ws(t);
		skip_comment(t);
		if (peek(t) == '\r' && t->pos + 1 < t->len && t->p[t->pos + 1] == '\n')
			t->pos++;
		if (peek(t) != '\n')
			return 0;
		t->pos++;
		t->line++;
	}
}

/* After a header or a key/value: only whitespace and a comment up to the end of the line. */
static int expect_eol(tparser *t)
{
	skip_ws(t);
	skip_comment(t);
	if (at_end(t))
		return 0;
	if (peek(t) == '\r' && t->pos + 1 < t->len && t->p[t->pos + 1] == '\n')
		t->pos++;
	if (peek(t) != '\n')
		return perr(t, "unexpected text after a value");
	t->pos++;
	t->line++;
	return 0;
}

static int put_utf8(ccp_buf *b, uint32_t cp)
{
	unsigned char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xf0 | (cp >> 18));
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return ccp_buf_append(b, u, n);
}

/* A basic ("...") or literal ('...') single-line string at the cursor. */
static int parse_string(tparser *t, char **out)
{
	char q = peek(t);
	ccp_buf b = CCP_BUF_INIT(0);
	int r = 0;

	*out = NULL;
	if (t->pos + 2 < t->len && t->p[t->pos + 1] == q && t->p[t->pos + 2] == q)
		return perr(t, "multi-line strings are not supported");
	t->pos++;
	for (;;) {
		unsigned char c;
		if (at_end(t) || peek(t) == '\n') {
			r = perr(t, "unterminated string");
			goto fail;
		}
		c = (unsigned char)t->p[t->pos++];
		if (c == (unsigned char)q)
			break;
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			r = perr(t, "control character in a string");
			goto fail;
		}
		if (c == '\\' && q == '"') {
			char x = at_end(t) ? '\0' : t->p[t->pos++];
			const char *map = NULL;
			switch (x) {
			case 'b': map = "\b"; break;
			case 't': map = "\t"; break;
			case 'n': map = "\n"; break;
			case 'f': map = "\f"; break;
			case 'r': map = "\r"; break;
			case '"': map = "\""; break;
			case '\\': map = "\\"; break;
			case 'u':
			case 'U': {
				int nd = x == 'u' ? 4 : 8;
				uint32_t cp = 0;
				for (int k = 0; k < nd; k++) {
					char h = at_end(t) ? '\0' : t->p[t->pos++];
					int d = (h >= '0' && h <= '9') ? h - '0' :
						(h >= 'a' && h <= 'f') ? h - 'a' + 10 :
						(h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
					if (d < 0) {
						r = perr(t, "invalid \\u escape in a string");
						goto fail;
					}
					cp = cp * 16 + (uint32_t)d;
				}
				if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
					r = perr(t, "invalid Unicode code point in a string");
					goto fail;
				}
				if ((r = put_utf8(&b, cp)) != 0)
					goto oom;
				continue;
			}
			default:
				r = perr(t, "invalid escape sequence in a string");
				goto fail;
			}
			if ((r = ccp_buf_append(&b, map, 1)) != 0)
				goto oom;
			continue;
		}
		if ((r = ccp_buf_append(&b, &c, 1)) != 0)
			goto oom;
	}
	if (!b.data && (r = ccp_buf_append(&b, "", 0)) != 0)
		goto oom;
	if (!(*out = ccp_buf_detach(&b)))
		return ccp_err_oom(t->e);
	return 0;
oom:
	ccp_buf_free(&b);
	return ccp_err_oom(t->e);
fail:
	ccp_buf_free(&b);
	return r;
}

static int is_bare(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* key ( '.' key )*, parts joined by KEYSEP. */
static int parse_key(tparser *t, char **out)
{
	ccp_buf b = CCP_BUF_INIT(TOML_KEY_MAX);
	int r;

	*out = NULL;
	for (;;) {
		char *part = NULL;
		skip_ws(t);
		if (peek(t) == '"' || peek(t) == '\'') {
			if ((r = parse_string(t, &part)) != 0)
				goto fail;
			if (strchr(part, KEYSEP)) {
				free(part);
				r = perr(t, "invalid character in a key");
				goto fail;
			}
		} else {
			size_t s = t->pos;
			while (!at_end(t) && is_bare(peek(t)))
				t->pos++;
			if (t->pos == s) {
				r = perr(t, "expected a key");
				goto fail;
			}
			if (!(part = strndup(t->p + s, t->pos - s))) {
				r = ccp_err_oom(t->e);
				goto fail;
			}
		}
		r = ccp_buf_puts(&b, part);
		free(part);
		if (r) {
			r = r == CCP_ENOMEM ? ccp_err_oom(t->e) : perr(t, "key is too long");
			goto fail;
		}
		skip_ws(t);
		if (peek(t) != '.')
			break;
		t->pos++;
		if ((r = ccp_buf_append(&b, (char[]){ KEYSEP }, 1)) != 0) {
			r = r == CCP_ENOMEM ? ccp_err_oom(t->e) : perr(t, "key is too long");
			goto fail;
		}
	}
	if (!(*out = ccp_buf_detach(&b)))
		return ccp_err_oom(t->e);
	return 0;
fail:
	ccp_buf_free(&b);
	return r;
}

static int parse_value(tparser *t, tval *v, int depth);

static int parse_array(tparser *t, tval *v, int depth)
{
	int r;

	v->type = TV_ARRAY;
	t->pos++; /* '[' */
	for (;;) {
		tval *nitems;
		skip_ws_nl(t);
		if (peek(t) == ']') {
			t->pos++;
			return 0;
		}
		if (!(nitems = realloc(v->items, (v->n + 1) * sizeof(*nitems))))
			return ccp_err_oom(t->e);
		v->items = nitems;
		memset(&v->items[v->n], 0, sizeof(*nitems));
		v->n++;
		if ((r = parse_value(t, &v->items[v->n - 1], depth + 1)) != 0)
			return r;
		skip_ws_nl(t);
		if (peek(t) == ',') {
			t->pos++;
			continue;
		}
		if (peek(t) == ']') {
			t->pos++;
			return 0;
		}
		return perr(t, at_end(t) ? "unterminated array" : "expected ',' or ']' in an array");
	}
}

static int parse_value(tparser *t, tval *v, int depth)
{
	char c = peek(t);

	memset(v, 0, sizeof(*v));
	if (depth > TOML_DEPTH_MAX)
		return perr(t, "arrays nested too deeply");
	if (++t->values > TOML_VALUES_MAX)
		return perr(t, "too many values");
	if (c == '"' || c == '\'') {
		v->type = TV_STR;
		return parse_string(t, &v->s);
	}
	if (c == '[')
		return parse_array(t, v, depth);
	if (c == '{')
		return perr(t, "inline tables are not supported");
	if (t->len - t->pos >= 4 && memcmp(t->p + t->pos, "true", 4) == 0 &&
	    (t->pos + 4 == t->len || !is_bare(t->p[t->pos + 4]))) {
		t->pos += 4;
		v->type = TV_BOOL;
		v->b = 1;
		return 0;
	}
	if (t->len - t->pos >= 5 && memcmp(t->p + t->pos, "false", 5) == 0 &&
	    (t->pos + 5 == t->len || !is_bare(t->p[t->pos + 5]))) {
		t->pos += 5;
		v->type = TV_BOOL;
		return 0;
	}
	if (c == '+' || c == '-' || (c >= '0' && c <= '9')) {
		int neg = c == '-', digits = 0, prev_us = 0;
		unsigned long long acc = 0;
		if (c == '+' || c == '-')
			t->pos++;
		while (!at_end(t) && ((peek(t) >= '0' && peek(t) <= '9') || peek(t) == '_')) {
			char d = t->p[t->pos++];
			if (d == '_') {
				if (!digits || prev_us)
					return perr(t, "invalid integer");
				prev_us = 1;
				continue;
			}
			prev_us = 0;
			if (digits == 1 && acc == 0)
				return perr(t, "leading zeros are not allowed in integers");
			if (acc > ((unsigned long long)INT64_MAX + 1 - (unsigned)(d - '0')) / 10)
				return perr(t, "integer out of range");
			acc = acc * 10 + (unsigned)(d - '0');
			digits++;
		}
		if (!digits || prev_us || (!at_end(t) && (is_bare(peek(t)) || peek(t) == '.' || peek(t) == ':')))
			return perr(t, "unsupported value (only strings, integers, booleans and arrays)");
		if (!neg && acc > (unsigned long long)INT64_MAX)
			return perr(t, "integer out of range");
		v->type = TV_INT;
		v->i = neg ? (acc == (unsigned long long)INT64_MAX + 1 ? INT64_MIN : -(long long)acc) : (long long)acc;
		return 0;
	}
	return perr(t, at_end(t) || c == '\n' ? "missing value" :
		    "unsupported value (only strings, integers, booleans and arrays)");
}

static int parse_header(tparser *t, toml_sink *sink)
{
	int is_array = 0, r, line = t->line;
	char *name = NULL;

	t->pos++;
	if (peek(t) == '[') {
		is_array = 1;
		t->pos++;
	}
	if ((r = parse_key(t, &name)) != 0)
		return r;
	if (peek(t) != ']' || (is_array && (t->pos + 1 >= t->len || t->p[t->pos + 1] != ']'))) {
		free(name);
		return perr(t, is_array ? "expected ']]' after a table name" : "expected ']' after a table name");
	}
	t->pos += is_array ? 2 : 1;
	if (is_array ? strset_has(&t->tables, name) : (strset_has(&t->tables, name) || strset_has(&t->arrays, name))) {
		free(name);
		return perr(t, "table defined more than once");
	}
	r = strset_add(is_array ? &t->arrays : &t->tables, name);
	if (r) {
		free(name);
		return r == CCP_ENOMEM ? ccp_err_oom(t->e) : perr(t, "too many tables");
	}
	free(t->table);
	t->table = name;
	strset_free(&t->keys);
	if ((r = sink->table(sink, name, is_array, line, t->e)) != 0)
		return r;
	return expect_eol(t);
}

static int parse_kv(tparser *t, toml_sink *sink)
{
	char *key = NULL;
	tval v = { 0 };
	int r, line = t->line;

	if ((r = parse_key(t, &key)) != 0)
		return r;
	skip_ws(t);
	if (peek(t) != '=') {
		r = perr(t, "expected '=' after a key");
		goto out;
	}
	t->pos++;
	skip_ws(t);
	if ((r = parse_value(t, &v, 0)) != 0)
		goto out;
	if (strset_has(&t->keys, key)) {
		r = ccp_err_set(t->e, CCP_EINVALID, "line %d: duplicate key", line);
		goto out;
	}
	if ((r = strset_add(&t->keys, key)) != 0) {
		r = r == CCP_ENOMEM ? ccp_err_oom(t->e) : perr(t, "too many keys");
		goto out;
	}
	if ((r = sink->kv(sink, t->table, key, &v, line, t->e)) != 0)
		goto out;
	r = expect_eol(t);
out:
	free(key);
	tval_free(&v);
	return r;
}

static int toml_parse(const char *data, size_t len, toml_sink *sink, ccp_err *e)
{
	tparser t = { .p = data, .len = len, .line = 1, .e = e };
	int r = 0;

	if (memchr(data, '\0', len))
		return ccp_err_set(e, CCP_EINVALID, "contains a NUL byte");
	if (!(t.table = strdup("")))
		return ccp_err_oom(e);
	/* a UTF-8 byte order mark is allowed at the very start */
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		t.pos = 3;
	while (!r) {
		skip_ws_nl(&t);
		if (at_end(&t))
			break;
		if (peek(&t) == '[')
			r = parse_header(&t, sink);
		else
			r = parse_kv(&t, sink);
	}
	free(t.table);
	strset_free(&t.keys);
	strset_free(&t.tables);
	strset_free(&t.arrays);
	return r;
}

/* ---- registries.conf ---- */

typedef struct conf_sink {
	toml_sink base;
	ccp_registries_conf *c;
	int in_registry;   /* current table: 0 other, 1 [[registry]], 2 [[registry.mirror]], 3..5 v1 tables */
	int v1, v2;        /* which format versions were seen (mixing them is an error) */
} conf_sink;

enum { T_OTHER, T_REGISTRY, T_MIRROR, T_V1_SEARCH, T_V1_INSECURE, T_V1_BLOCK };

static int want_type(const tval *v, int type, const char *key, int line, ccp_err *e)
{
	static const char *const names[] = { "a string", "an integer", "a boolean", "an array" };
	if (v->type != type)
		return ccp_err_set(e, CCP_EINVALID, "line %d: \"%s\" must be %s", line, key, names[type]);
	return 0;
}

static int set_string(char **slot, const tval *v, const char *key, int line, ccp_err *e)
{
	int r = want_type(v, TV_STR, key, line, e);
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

static int add_search(ccp_registries_conf *c, const tval *v, const char *key, int line, ccp_err *e)
{
	int r = want_type(v, TV_ARRAY, key, line, e);
	if (r)
		return r;
	for (size_t i = 0; i < v->n; i++) {
		char **n;
		if ((r = want_type(&v->items[i], TV_STR, key, line, e)) != 0)
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

static int conf_table(toml_sink *s, const char *name, int is_array, int line, ccp_err *e)
{
	conf_sink *cs = (conf_sink *)s;
	ccp_registries_conf *c = cs->c;

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

static int conf_kv(toml_sink *s, const char *table, const char *key, const tval *v, int line, ccp_err *e)
{
	conf_sink *cs = (conf_sink *)s;
	ccp_registries_conf *c = cs->c;
	int r;

	if (!table[0]) {
		if (strcmp(key, "unqualified-search-registries") == 0) {
			cs->v2 = 1;
			return add_search(c, v, key, line, e);
		}
		if (strcmp(key, "registries") == 0 && v->type == TV_ARRAY)
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
			if ((r = want_type(v, TV_BOOL, key, line, e)) == 0)
				en->insecure = v->b;
			return r;
		}
		if (strcmp(key, "blocked") == 0) {
			if ((r = want_type(v, TV_BOOL, key, line, e)) == 0)
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
			if ((r = want_type(v, TV_BOOL, key, line, e)) == 0)
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
		if ((r = want_type(v, TV_ARRAY, key, line, e)) != 0)
			return r;
		for (size_t i = 0; i < v->n; i++) {
			if ((r = want_type(&v->items[i], TV_STR, key, line, e)) != 0 ||
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

int ccp_registries_conf_parse(ccp_registries_conf *out, const char *data, size_t len, ccp_err *e)
{
	ccp_registries_conf c = { 0 };
	conf_sink cs = { { conf_table, conf_kv }, &c, 0, 0, 0 };
	int r;

	memset(out, 0, sizeof(*out));
	if (len > CONF_MAX)
		return ccp_err_set(e, CCP_EINVALID, "registries.conf is larger than %d bytes", CONF_MAX);
	if ((r = toml_parse(data, len, &cs.base, e)) != 0) {
		ccp_err_wrap(e, "registries.conf");
		goto fail;
	}
	if (cs.v1 && cs.v2) {
		r = ccp_err_set(e, CCP_EINVALID, "registries.conf mixes the v1 ([registries.*]) and v2 ([[registry]]) formats");
		goto fail;
	}
	if ((r = postprocess(&c, e)) != 0) {
		ccp_err_wrap(e, "registries.conf");
		goto fail;
	}
	*out = c;
	return 0;
fail:
	ccp_registries_conf_free(&c);
	return r;
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
