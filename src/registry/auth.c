/*
 * Parsers for what a registry's auth machinery sends us: WWW-Authenticate challenges (RFC 7235 syntax)
 * and token endpoint responses (the docker token spec). Both inputs are hostile.
 */
#include "registry/registry.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "util/json.h"

#define CHALLENGE_MAX (16 * 1024)    /* a whole WWW-Authenticate value */
#define PARAM_VALUE_MAX 4096         /* one realm, service or scope */
#define TOKEN_RESPONSE_MAX (1024 * 1024)
#define TOKEN_MAX (64 * 1024)

static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 7230 tchar */
static int is_tchar(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int ci_equal(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	if (alen != blen)
		return 0;
	for (size_t i = 0; i < alen; i++) {
		char x = a[i], y = b[i];
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return 0;
	}
	return 1;
}

void ccp_auth_challenge_free(ccp_auth_challenge *c)
{
	if (!c)
		return;
	free(c->realm);
	free(c->service);
	free(c->scope);
	memset(c, 0, sizeof(*c));
}

/* Reads a token or a quoted-string starting at *pos into a malloc'ed string. */
static int read_value(char **out, const char *v, size_t len, size_t *pos, ccp_err *e)
{
	size_t i = *pos;
	ccp_buf b = CCP_BUF_INIT(PARAM_VALUE_MAX);
	int r;

	if (i < len && v[i] == '"') {
		i++;
		for (;;) {
			char c;
			if (i >= len) {
				ccp_buf_free(&b);
				return ccp_err_set(e, CCP_EREGISTRY, "WWW-Authenticate: unterminated quoted string");
			}
			c = v[i++];
			if (c == '"')
				break;
			if (c == '\\') {
				if (i >= len) {
					ccp_buf_free(&b);
					return ccp_err_set(e, CCP_EREGISTRY,
							   "WWW-Authenticate: unterminated quoted string");
				}
				c = v[i++];
			}
			/* quoted-pair and qdtext exclude control characters (and NUL) */
			if ((unsigned char)c < 0x20 && c != '\t') {
				ccp_buf_free(&b);
				return ccp_err_set(e, CCP_EREGISTRY, "WWW-Authenticate: control character in value");
			}
			if ((r = ccp_buf_append(&b, &c, 1)) != 0)
				goto append_failed;
		}
	} else {
		/* RFC 7235 says token, but registries send unquoted URLs (realm=https://...): accept any
		 * visible character up to the next separator */
		size_t start = i;
		while (i < len && (unsigned char)v[i] > 0x20 && (unsigned char)v[i] < 0x7f && v[i] != ',' &&
		       v[i] != '"')
			i++;
		if (i == start)
			return ccp_err_set(e, CCP_EREGISTRY, "WWW-Authenticate: missing parameter value");
		if ((r = ccp_buf_append(&b, v + start, i - start)) != 0)
			goto append_failed;
	}
	if (!b.data && (r = ccp_buf_append(&b, "", 0)) != 0)
		goto append_failed;
	*pos = i;
	*out = ccp_buf_detach(&b);
	return *out ? 0 : ccp_err_oom(e);

append_failed:
	ccp_buf_free(&b);
	if (r == CCP_ENOMEM)
		return ccp_err_oom(e);
	return ccp_err_set(e, CCP_EREGISTRY, "WWW-Authenticate: parameter value longer than %d bytes",
			   PARAM_VALUE_MAX);
}

int ccp_auth_challenge_parse(ccp_auth_challenge *out, const char *v, size_t len, ccp_err *e)
{
	ccp_auth_challenge c = { 0 };
	size_t i = 0, start;
	int r;

	memset(out, 0, sizeof(*out));
	if (len > CHALLENGE_MAX)
		return ccp_err_set(e, CCP_EREGISTRY, "WWW-Authenticate header longer than %d bytes", CHALLENGE_MAX);
	if (memchr(v, '\0', len))
		return ccp_err_set(e, CCP_EREGISTRY, "WWW-Authenticate header contains a NUL byte");
	while (i < len && (is_ows(v[i]) || v[i] == ','))
		i++;
	start = i;
	while (i < len && is_tchar(v[i]))
		i++;
	if (i == start)
		return ccp_err_set(e, CCP_EREGISTRY, "WWW-Authenticate header has no authentication scheme");
	if (ci_equal(v + start, i - start, "basic"))
		c.scheme = 1;
	else if (ci_equal(v + start, i - start, "bearer"))
		c.scheme = 2;
	else
		return 0; /* another scheme (Negotiate, Digest...): the caller reports it as unsupported */
	if (i < len && !is_ows(v[i]) && v[i] != ',')
		return ccp_err_set(e, CCP_EREGISTRY, "WWW-Authenticate: malformed authentication scheme");

	/* auth-param list: name = (token | quoted-string), separated by commas */
	for (;;) {
		size_t name_start, name_len;
		char *value = NULL;
		char **slot = NULL;

		while (i < len && (is_ows(v[i]) || v[i] == ','))
			i++;
		if (i >= len)
			break;
		name_start = i;
		while (i < len && is_tchar(v[i]))
			i++;
		name_len = i - name_start;
		if (name_len == 0) {
			r = ccp_err_set(e, CCP_EREGISTRY, "WWW-Authenticate: unexpected character '%c'", v[i]);
			goto fail;
		}
		while (i < len && is_ows(v[i]))
			i++;
		if (i >= len || v[i] != '=') {
			/* "Basic realm=x, Bearer realm=y": a second challenge starts; only the first is used */
			break;
		}
		i++;
		while (i < len && is_ows(v[i]))
			i++;
		if ((r = read_value(&value, v, len, &i, e)) != 0)
			goto fail;
		if (i < len && !is_ows(v[i]) && v[i] != ',') {
			free(value);
			r = ccp_err_set(e, CCP_EREGISTRY, "WWW-Authenticate: garbage after a parameter value");
			goto fail;
		}
		if (ci_equal(v + name_start, name_len, "realm"))
			slot = &c.realm;
		else if (ci_equal(v + name_start, name_len, "service"))
			slot = &c.service;
		else if (ci_equal(v + name_start, name_len, "scope"))
			slot = &c.scope;
		if (!slot) {
			free(value); /* error, error_description, charset...: not needed */
			continue;
		}
		if (*slot) {
			free(value);
			r = ccp_err_set(e, CCP_EREGISTRY, "WWW-Authenticate: duplicate parameter \"%.*s\"",
					(int)name_len, v + name_start);
			goto fail;
		}
		*slot = value;
	}
	if (c.scheme == 2 && (!c.realm || !c.realm[0])) {
		r = ccp_err_set(e, CCP_EREGISTRY, "WWW-Authenticate: Bearer challenge without a realm");
		goto fail;
	}
	*out = c;
	return 0;

fail:
	ccp_auth_challenge_free(&c);
	return r;
}

int ccp_token_response_parse(char **token, long *expires_in, const void *data, size_t len, ccp_err *e)
{
	json_t *root = NULL;
	const char *t = NULL, *at = NULL;
	json_t *exp;
	size_t tlen;
	int r;

	*token = NULL;
	*expires_in = 0;
	if ((r = ccp_json_parse(&root, data, len, TOKEN_RESPONSE_MAX, "token response", CCP_EREGISTRY, e)) != 0)
		return r;
	if (!json_is_object(root)) {
		r = ccp_err_set(e, CCP_EREGISTRY, "token response is not a JSON object");
		goto out;
	}
	if ((r = ccp_json_get_string(root, "token", 0, &t, "token response", CCP_EREGISTRY, e)) != 0 ||
	    (r = ccp_json_get_string(root, "access_token", 0, &at, "token response", CCP_EREGISTRY, e)) != 0)
		goto out;
	/* The spec lets both appear; "token" is the docker name and wins, as in containers/image. */
	if (!t || !t[0])
		t = at;
	if (!t || !t[0]) {
		r = ccp_err_set(e, CCP_EREGISTRY, "token response has no \"token\" or \"access_token\"");
		goto out;
	}
	tlen = strlen(t);
	if (tlen > TOKEN_MAX) {
		r = ccp_err_set(e, CCP_EREGISTRY, "token in token response is longer than %d bytes", TOKEN_MAX);
		goto out;
	}
	/* It goes into an HTTP header: visible ASCII only, so it cannot inject header lines. */
	for (size_t i = 0; i < tlen; i++) {
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f) {
			r = ccp_err_set(e, CCP_EREGISTRY, "token in token response contains invalid characters");
			goto out;
		}
	}
	exp = json_object_get(root, "expires_in");
	if (exp && !json_is_null(exp)) {
		json_int_t v;
		if (!json_is_integer(exp)) {
			r = ccp_err_set(e, CCP_EREGISTRY, "token response: \"expires_in\" must be an integer");
			goto out;
		}
		v = json_integer_value(exp);
		/* The token spec's minimum is 60 s; anything below (or absurd) falls back to it. */
		if (v > 0 && v <= 365L * 24 * 3600)
			*expires_in = (long)v;
	}
	if (*expires_in < 60)
		*expires_in = 60;
	if (!(*token = strdup(t)))
		r = ccp_err_oom(e);
out:
	if (root) {
		/* wipe the token copies jansson holds before freeing them */
		const char *keys[] = { "token", "access_token", "refresh_token" };
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			json_t *s = json_object_get(root, keys[k]);
			if (json_is_string(s))
				OPENSSL_cleanse((char *)json_string_value(s), json_string_length(s));
		}
		json_decref(root);
	}
	return r;
}
