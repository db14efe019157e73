/* The TOML subset parser shared by registries.conf and ccpull.toml (toml.h). */
#include "config/toml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "util/buf.h"

#define TOML_DEPTH_MAX 8        /* nested arrays */
#define TOML_VALUES_MAX 100000  /* values in one document */
#define TOML_KEY_MAX 1024

static void value_free(ccp_toml_value *v)
{
	if (!v)
		return;
	free(v->s);
	for (size_t k = 0; k < v->n; k++)
		value_free(&v->items[k]);
	free(v->items);
	memset(v, 0, sizeof(*v));
}

/* ---- parser ---- */

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
	unsigned int flags;
	size_t values;
	ccp_err *e;
	char *table;        /* current table name (parts joined by CCP_TOML_KEYSEP), "" at top level */
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

/* After a backslash in a basic string: appends the escaped character. */
static int parse_escape(tparser *t, ccp_buf *b)
{
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
			if (d < 0)
				return perr(t, "invalid \\u escape in a string");
			cp = cp * 16 + (uint32_t)d;
		}
		if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return perr(t, "invalid Unicode code point in a string");
		return put_utf8(b, cp) ? ccp_err_oom(t->e) : 0;
	}
	default:
		return perr(t, "invalid escape sequence in a string");
	}
	return ccp_buf_append(b, map, 1) ? ccp_err_oom(t->e) : 0;
}

static int finish_string(tparser *t, ccp_buf *b, char **out)
{
	if (!b->data && ccp_buf_append(b, "", 0) != 0)
		goto oom;
	if (!(*out = ccp_buf_detach(b)))
		goto oom;
	return 0;
oom:
	ccp_buf_free(b);
	return ccp_err_oom(t->e);
}

static int is_crlf(tparser *t, size_t p)
{
	return p + 1 < t->len && t->p[p] == '\r' && t->p[p + 1] == '\n';
}

/*
 * A multi-line basic or literal string (three quotes) at the cursor: a newline right after the
 * opening quotes is dropped, CRLF becomes LF, and in a basic string a backslash at the end of a
 * line drops the line break and the whitespace and newlines after it.
 */
static int parse_ml_string(tparser *t, char **out)
{
	char q = peek(t);
	ccp_buf b = CCP_BUF_INIT(0);
	int r = 0;

	t->pos += 3;
	if (is_crlf(t, t->pos))
		t->pos++;
	if (peek(t) == '\n') {
		t->pos++;
		t->line++;
	}
	for (;;) {
		unsigned char c;
		if (at_end(t)) {
			r = perr(t, "unterminated multi-line string");
			goto fail;
		}
		c = (unsigned char)t->p[t->pos];
		if (c == (unsigned char)q && t->pos + 2 < t->len && t->p[t->pos + 1] == q && t->p[t->pos + 2] == q) {
			size_t run = 3;
			while (t->pos + run < t->len && t->p[t->pos + run] == q)
				run++;
			if (run > 5) {
				r = perr(t, "too many quotes at the end of a multi-line string");
				goto fail;
			}
			/* up to two quotes may come right before the closing ones */
			if (ccp_buf_append(&b, t->p + t->pos, run - 3) != 0)
				goto oom;
			t->pos += run;
			return finish_string(t, &b, out);
		}
		t->pos++;
		if (c == '\r' && peek(t) == '\n')
			continue;  /* the '\n' is taken next */
		if (c == '\n') {
			t->line++;
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			r = perr(t, "control character in a string");
			goto fail;
		} else if (c == '\\' && q == '"') {
			size_t p = t->pos;
			while (p < t->len && (t->p[p] == ' ' || t->p[p] == '\t'))
				p++;
			if (p < t->len && (t->p[p] == '\n' || is_crlf(t, p))) {
				/* a line ending backslash */
				t->pos = p;
				while (!at_end(t)) {
					if (peek(t) == ' ' || peek(t) == '\t' || is_crlf(t, t->pos)) {
						t->pos++;
					} else if (peek(t) == '\n') {
						t->pos++;
						t->line++;
					} else {
						break;
					}
				}
				continue;
			}
			if ((r = parse_escape(t, &b)) != 0)
				goto fail;
			continue;
		}
		if (ccp_buf_append(&b, &c, 1) != 0)
			goto oom;
	}
oom:
	ccp_buf_free(&b);
	return ccp_err_oom(t->e);
fail:
	ccp_buf_free(&b);
	return r;
}

/* A basic ("...") or literal ('...') string at the cursor; a multi-line one where allowed. */
static int parse_string(tparser *t, char **out, int allow_ml)
{
	char q = peek(t);
	ccp_buf b = CCP_BUF_INIT(0);
	int r = 0;

	*out = NULL;
	if (t->pos + 2 < t->len && t->p[t->pos + 1] == q && t->p[t->pos + 2] == q) {
		if (allow_ml && (t->flags & CCP_TOML_MULTILINE_STRINGS))
			return parse_ml_string(t, out);
		return perr(t, "multi-line strings are not supported");
	}
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
			if ((r = parse_escape(t, &b)) != 0)
				goto fail;
			continue;
		}
		if (ccp_buf_append(&b, &c, 1) != 0) {
			ccp_buf_free(&b);
			return ccp_err_oom(t->e);
		}
	}
	return finish_string(t, &b, out);
fail:
	ccp_buf_free(&b);
	return r;
}

static int is_bare(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* key ( '.' key )*, parts joined by CCP_TOML_KEYSEP. */
static int parse_key(tparser *t, char **out)
{
	ccp_buf b = CCP_BUF_INIT(TOML_KEY_MAX);
	int r;

	*out = NULL;
	for (;;) {
		char *part = NULL;
		skip_ws(t);
		if (peek(t) == '"' || peek(t) == '\'') {
			if ((r = parse_string(t, &part, 0)) != 0)
				goto fail;
			if (strchr(part, CCP_TOML_KEYSEP)) {
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
		if ((r = ccp_buf_append(&b, (char[]){ CCP_TOML_KEYSEP }, 1)) != 0) {
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

static int parse_value(tparser *t, ccp_toml_value *v, int depth);

static int parse_array(tparser *t, ccp_toml_value *v, int depth)
{
	int r;

	v->type = CCP_TOML_ARRAY;
	t->pos++; /* '[' */
	for (;;) {
		ccp_toml_value *nitems;
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

static int parse_value(tparser *t, ccp_toml_value *v, int depth)
{
	char c = peek(t);

	memset(v, 0, sizeof(*v));
	if (depth > TOML_DEPTH_MAX)
		return perr(t, "arrays nested too deeply");
	if (++t->values > TOML_VALUES_MAX)
		return perr(t, "too many values");
	if (c == '"' || c == '\'') {
		v->type = CCP_TOML_STRING;
		return parse_string(t, &v->s, 1);
	}
	if (c == '[')
		return parse_array(t, v, depth);
	if (c == '{')
		return perr(t, "inline tables are not supported");
	if (t->len - t->pos >= 4 && memcmp(t->p + t->pos, "true", 4) == 0 &&
	    (t->pos + 4 == t->len || !is_bare(t->p[t->pos + 4]))) {
		t->pos += 4;
		v->type = CCP_TOML_BOOL;
		v->b = 1;
		return 0;
	}
	if (t->len - t->pos >= 5 && memcmp(t->p + t->pos, "false", 5) == 0 &&
	    (t->pos + 5 == t->len || !is_bare(t->p[t->pos + 5]))) {
		t->pos += 5;
		v->type = CCP_TOML_BOOL;
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
		v->type = CCP_TOML_INT;
		v->i = neg ? (acc == (unsigned long long)INT64_MAX + 1 ? INT64_MIN : -(long long)acc) : (long long)acc;
		return 0;
	}
	return perr(t, at_end(t) || c == '\n' ? "missing value" :
		    "unsupported value (only strings, integers, booleans and arrays)");
}

static int parse_header(tparser *t, ccp_toml_sink *sink)
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

static int parse_kv(tparser *t, ccp_toml_sink *sink)
{
	char *key = NULL;
	ccp_toml_value v = { 0 };
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
	value_free(&v);
	return r;
}

int ccp_toml_parse(const char *data, size_t len, unsigned int flags, ccp_toml_sink *sink, ccp_err *e)
{
	tparser t = { .p = data, .len = len, .line = 1, .flags = flags, .e = e };
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

void ccp_toml_name(char *out, size_t n, const char *name)
{
	size_t k = 0;

	if (!n)
		return;
	for (; name[k] && k + 1 < n; k++)
		out[k] = name[k] == CCP_TOML_KEYSEP ? '.' : name[k];
	out[k] = '\0';
}
