/*
 * containers-policy.json parsing (every object strict: unknown keys, wrong types and empty requirement
 * lists refused, as containers/image's ParanoidUnmarshalJSONObject does): the document and its
 * transports, where in the text a refused element is, loading. The requirements and signedIdentity
 * are in requirements.c, scope lookup in scopes.c.
 */
#include "policy/policy.h"
#include "policy/policy_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"

#define MAX_REQS 1024
#define MAX_SCOPES 65536

/* The text being parsed and its name, to say where an error is. */
typedef struct ccp_policy_text {
	const char *data;
	size_t len;
	const char *what;
} ccp_policy_text;

/* ---- small helpers ---- */

int ccp_policy_bad(ccp_err *e, const char *what, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ccp_err_set(e, CCP_EINVALID, "invalid policy %s: %s", what, msg);
}

/* Every key of obj must be one of allowed[]; with exact, all of them must be present too. */
int ccp_policy_check_keys(const json_t *obj, const char *const *allowed, size_t n, int exact, const char *what,
			  ccp_err *e)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return ccp_policy_bad(e, what, "%s", "a JSON object was expected");
	json_object_foreach((json_t *)obj, key, v) {
		size_t i;
		for (i = 0; i < n && strcmp(key, allowed[i]) != 0; i++)
			;
		if (i == n)
			return ccp_policy_bad(e, what, "Unknown key \"%.200s\"", key);
	}
	if (exact)
		for (size_t i = 0; i < n; i++)
			if (!json_object_get(obj, allowed[i]))
				return ccp_policy_bad(e, what, "Key \"%s\" missing in a JSON object", allowed[i]);
	return 0;
}

/* ---- where in the text an element is, for error messages ---- */

/* The text is valid JSON (jansson parsed it): these only skip, never validate. */
static size_t skip_ws(const char *d, size_t len, size_t i)
{
	while (i < len && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r'))
		i++;
	return i;
}

/* i at an opening quote; returns the index after the closing one. */
static size_t skip_string(const char *d, size_t len, size_t i)
{
	for (i++; i < len && d[i] != '"'; i++)
		if (d[i] == '\\')
			i++;
	return i < len ? i + 1 : len;
}

/* i at a value; returns the index after it. Containers are skipped by counting brackets (no recursion). */
static size_t skip_value(const char *d, size_t len, size_t i)
{
	size_t depth = 0;

	if (i < len && d[i] == '"')
		return skip_string(d, len, i);
	if (i < len && d[i] != '{' && d[i] != '[') {
		while (i < len && !strchr(",]} \t\n\r", d[i]))
			i++;
		return i;
	}
	while (i < len) {
		if (d[i] == '"') {
			i = skip_string(d, len, i);
			continue;
		}
		if (d[i] == '{' || d[i] == '[')
			depth++;
		else if ((d[i] == '}' || d[i] == ']') && --depth == 0)
			return i + 1;
		i++;
	}
	return len;
}

/* i at a value that must be an object; returns the index of member key's value, or len. */
static size_t member(const char *d, size_t len, size_t i, const char *key)
{
	size_t klen = strlen(key);

	if (i >= len || d[i] != '{')
		return len;
	for (i = skip_ws(d, len, i + 1); i < len && d[i] == '"';) {
		size_t end = skip_string(d, len, i);
		int match = end - i == klen + 2 && memcmp(d + i + 1, key, klen) == 0;
		i = skip_ws(d, len, end);
		if (i >= len || d[i] != ':')
			return len;
		i = skip_ws(d, len, i + 1);
		if (match)
			return i;
		i = skip_ws(d, len, skip_value(d, len, i));
		if (i < len && d[i] == ',')
			i = skip_ws(d, len, i + 1);
	}
	return len;
}

/* i at a value that must be an array; returns the index of element n, or len. */
static size_t element(const char *d, size_t len, size_t i, size_t n)
{
	if (i >= len || d[i] != '[')
		return len;
	i = skip_ws(d, len, i + 1);
	while (n-- > 0 && i < len) {
		i = skip_ws(d, len, skip_value(d, len, i));
		if (i >= len || d[i] != ',')
			return len;
		i = skip_ws(d, len, i + 1);
	}
	return i;
}

/*
 * "WHAT, line L column C (PATH)" for requirement n of the list at keys[0..n_keys-1], or without line
 * and column when the text is not at hand or the element is not found (a key written with escapes).
 */
static void requirement_where(char *out, size_t size, const ccp_policy_text *t, const char *const *keys,
			      size_t n_keys, size_t n)
{
	size_t i = t && t->data ? skip_ws(t->data, t->len, 0) : 0, line = 1, col = 1;
	char path[300];

	if (n_keys == 1)
		snprintf(path, sizeof(path), "%s[%zu]", keys[0], n);
	else
		snprintf(path, sizeof(path), "transports.%.60s[\"%.160s\"][%zu]", keys[1], keys[2], n);
	if (!t || !t->data) {
		snprintf(out, size, "%s (%s)", t ? t->what : "", path);
		return;
	}
	for (size_t k = 0; k < n_keys; k++)
		i = member(t->data, t->len, i, keys[k]);
	i = element(t->data, t->len, i, n);
	if (i >= t->len) {
		snprintf(out, size, "%s (%s)", t->what, path);
		return;
	}
	for (size_t k = 0; k < i; k++) {
		if (t->data[k] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	snprintf(out, size, "%s, line %zu column %zu (%s)", t->what, line, col, path);
}

static int parse_list(ccp_pr_list *l, const json_t *j, const ccp_policy_text *t, const char *const *keys,
		      size_t n_keys, const char *what, ccp_err *e)
{
	const json_t *v;
	size_t i;
	int r;

	if (!json_is_array(j))
		return ccp_policy_bad(e, what, "%s", "a list of policy requirements was expected");
	if (json_array_size(j) == 0)
		return ccp_policy_bad(e, what, "%s", "List of verification policy requirements must not be empty");
	if (json_array_size(j) > MAX_REQS)
		return ccp_policy_bad(e, what, "%s", "too many policy requirements");
	if (!(l->v = calloc(json_array_size(j), sizeof(*l->v))))
		return ccp_err_oom(e);
	json_array_foreach(j, i, v) {
		l->n = i + 1;
		if ((r = ccp_policy_parse_pr(&l->v[i], v, what, e))) {
			/* Only now (once) is the element located in the text: the same parse again says where. */
			char where[600];
			ccp_pr again = { 0 };
			requirement_where(where, sizeof(where), t, keys, n_keys, i);
			if (r == CCP_EINVALID && ccp_policy_parse_pr(&again, v, where, e) == 0)
				r = ccp_err_set(e, CCP_EINTERNAL, "policy requirement %zu parsed differently twice", i);
			ccp_policy_pr_free(&again);
			return r;
		}
	}
	return 0;
}

/* transports.dir scopes: absolute, clean, not "/" (directory_transport.go). */
static int dir_scope_ok(const char *s)
{
	size_t n = strlen(s);

	if (s[0] != '/' || n == 1 || s[n - 1] == '/' || strstr(s, "//") || strstr(s, "/./") || strstr(s, "/../"))
		return 0;
	if ((n >= 2 && strcmp(s + n - 2, "/.") == 0) || (n >= 3 && strcmp(s + n - 3, "/..") == 0))
		return 0;
	return 1;
}

static int parse_transports(ccp_policy *p, const json_t *t, const ccp_policy_text *text, const char *what,
			    ccp_err *e)
{
	const char *tname, *scope;
	json_t *scopes, *reqs;
	int r;

	if (!json_is_object(t))
		return ccp_policy_bad(e, what, "%s", "\"transports\" must be a JSON object");
	json_object_foreach((json_t *)t, tname, scopes) {
		int is_docker = strcmp(tname, "docker") == 0;
		char where[300];

		if (!json_is_object(scopes))
			return ccp_policy_bad(e, what, "transport \"%.200s\" must map scopes to requirement lists", tname);
		if (is_docker && json_object_size(scopes) > MAX_SCOPES)
			return ccp_policy_bad(e, what, "%s", "too many docker scopes");
		if (is_docker && !(p->docker = calloc(json_object_size(scopes) + 1, sizeof(*p->docker))))
			return ccp_err_oom(e);
		json_object_foreach(scopes, scope, reqs) {
			const char *keys[] = { "transports", tname, scope };
			ccp_pr_list tmp = { NULL, 0 };
			if (strcmp(tname, "dir") == 0 && *scope && !dir_scope_ok(scope))
				return ccp_policy_bad(e, what, "Unknown key \"%.200s\"", scope);
			snprintf(where, sizeof(where), "%s (transports.%.60s[\"%.160s\"])", what, tname, scope);
			if (is_docker) {
				ccp_policy_scope *s = &p->docker[p->n_docker++];
				if ((r = ccp_policy_dup_to(&s->name, scope, e)) ||
				    (r = parse_list(&s->reqs, reqs, text, keys, 3, where, e)))
					return r;
			} else {
				/* Other transports are validated like containers/image does and otherwise ignored. */
				r = parse_list(&tmp, reqs, text, keys, 3, where, e);
				ccp_policy_pr_list_free(&tmp);
				if (r)
					return r;
			}
		}
	}
	return 0;
}

int ccp_policy_parse(ccp_policy *out, const void *data, size_t len, const char *what, ccp_err *e)
{
	static const char *const keys[] = { "default", "transports" };
	static const char *const def_key[] = { "default" };
	const ccp_policy_text text = { data, len, what };
	json_error_t jerr;
	json_t *j = NULL, *d, *t;
	int r;

	memset(out, 0, sizeof(*out));
	if (len > CCP_POLICY_MAX)
		return ccp_policy_bad(e, what, "%zu bytes, more than the limit of %u", len, CCP_POLICY_MAX);
	if (!(j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr)))
		return ccp_err_set(e, CCP_EINVALID, "invalid policy %s, line %d column %d: not valid JSON: %s", what,
				   jerr.line, jerr.column, jerr.text);
	if ((r = ccp_policy_check_keys(j, keys, 2, 0, what, e)))
		goto out;
	d = json_object_get(j, "default");
	if (!d || json_is_null(d)) {
		r = ccp_policy_bad(e, what, "%s", "Default policy is missing");
		goto out;
	}
	if ((r = parse_list(&out->def, d, &text, def_key, 1, what, e)))
		goto out;
	t = json_object_get(j, "transports");
	if (t && !json_is_null(t) && (r = parse_transports(out, t, &text, what, e)))
		goto out;
out:
	json_decref(j);
	if (r)
		ccp_policy_free(out);
	return r;
}

int ccp_policy_load(ccp_policy *out, const char *uri, const ccp_resource_src *src, ccp_err *e)
{
	ccp_buf b = CCP_BUF_INIT(0);
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = ccp_resource_read(&b, uri, CCP_POLICY_MAX, src, "signature policy", e)))
		return r;
	r = ccp_policy_parse(out, b.data, b.len, uri, e);
	ccp_buf_free_secure(&b);
	return r;
}
