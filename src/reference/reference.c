/*
 * Docker image references. The grammar is distribution/reference's (regexp.go):
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path-component ( "/" path-component )*
 *   domain     := host [ ":" port ]
 *   host       := domain-name | "[" ipv6-hex-and-colons "]"
 *   path-comp  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
 *
 * and normalisation follows ParseNormalizedNamed (containers/image uses it): the first component
 * is a domain only if it contains '.' or ':', is "localhost", or has uppercase letters.
 * Matching is hand-written (the grammar is unambiguous), so there is no regex engine to bound.
 */
#include "reference/reference.h"

#include <stdlib.h>
#include <string.h>

#define NAME_TOTAL_MAX 255 /* distribution's NameTotalLengthMax, for "domain/path" */
#define TAG_MAX 128

#define DEFAULT_DOMAIN "docker.io"
#define LEGACY_DEFAULT_DOMAIN "index.docker.io"
#define DEFAULT_REGISTRY_HOST "registry-1.docker.io"
#define OFFICIAL_PREFIX "library/"
#define TRANSPORT_PREFIX "docker://"

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* [a-z0-9]+ ( ( [._] | "__" | "-"+ ) [a-z0-9]+ )* over s[0..n). */
static int path_component_ok(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !is_lower_alnum(s[0]))
		return 0;
	while (i < n) {
		while (i < n && is_lower_alnum(s[i]))
			i++;
		if (i == n)
			return 1;
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i++;
			if (i < n && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return 0;
		}
		/* a separator must be followed by an alphanumeric */
		if (i == n || !is_lower_alnum(s[i]))
			return 0;
	}
	return 1;
}

int ccp_ref_path_ok(const char *s, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '/') {
			if (!path_component_ok(s + start, i - start))
				return 0;
			start = i + 1;
		}
	}
	return 1;
}

/* [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static int domain_label_ok(const char *s, size_t n)
{
	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return 0;
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-')
			return 0;
	return 1;
}

int ccp_ref_domain_ok(const char *s, size_t n)
{
	size_t hostlen;

	if (n == 0)
		return 0;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close || close == s + 1)
			return 0;
		for (const char *p = s + 1; p < close; p++)
			if (!is_hex(*p) && *p != ':')
				return 0;
		hostlen = (size_t)(close - s) + 1;
	} else {
		const char *colon = memchr(s, ':', n);
		size_t start = 0;
		hostlen = colon ? (size_t)(colon - s) : n;
		for (size_t i = 0; i <= hostlen; i++) {
			if (i == hostlen || s[i] == '.') {
				if (!domain_label_ok(s + start, i - start))
					return 0;
				start = i + 1;
			}
		}
	}
	if (hostlen == n)
		return 1;
	if (s[hostlen] != ':' || hostlen + 1 == n)
		return 0;
	for (size_t i = hostlen + 1; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* [\w][\w.-]{0,127} */
static int tag_ok(const char *s, size_t n)
{
	if (n == 0 || n > TAG_MAX || !(is_alnum(s[0]) || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return 0;
	return 1;
}

/* distribution refuses a bare 64-hex string: it would be confused with an image ID. */
static int is_hex_identifier(const char *s, size_t n)
{
	if (n != 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static char *dup_n(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static int has_upper(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			return 1;
	return 0;
}

void ccp_ref_free(ccp_ref *r)
{
	if (!r)
		return;
	free(r->domain);
	free(r->path);
	free(r->tag);
	memset(r, 0, sizeof(*r));
}

int ccp_ref_parse(ccp_ref *out, const char *s, ccp_err *e)
{
	ccp_ref r = { 0 };
	const char *name, *at, *slash, *colon;
	const char *dom, *rem;
	size_t len, namelen, domlen, remlen, pathlen;
	int prefix_library = 0;
	ccp_err derr = CCP_ERR_INIT;

	memset(out, 0, sizeof(*out));
	if (!s)
		return ccp_err_set(e, CCP_EINVALID, "invalid image reference: empty");
	len = strnlen(s, CCP_REF_MAX + 1);
	if (len > CCP_REF_MAX)
		return ccp_err_set(e, CCP_EINVALID, "invalid image reference \"%.64s...\": longer than %d bytes",
				   s, CCP_REF_MAX);
	if (strncmp(s, TRANSPORT_PREFIX, strlen(TRANSPORT_PREFIX)) == 0) {
		s += strlen(TRANSPORT_PREFIX);
		len -= strlen(TRANSPORT_PREFIX);
	}
	if (len == 0)
		return ccp_err_set(e, CCP_EINVALID, "invalid image reference: empty");
	if (is_hex_identifier(s, len))
		return ccp_err_set(e, CCP_EINVALID,
				   "invalid image reference \"%s\": a 64-character hexadecimal string is an image ID, "
				   "not a repository name", s);

	/* name[:tag] @ digest */
	name = s;
	at = memchr(s, '@', len);
	namelen = at ? (size_t)(at - s) : len;
	if (at) {
		if (ccp_digest_parse(&r.digest, at + 1, len - namelen - 1, &derr) < 0)
			return ccp_err_set(e, CCP_EINVALID, "invalid image reference \"%.200s\": %s", s, derr.msg);
		r.has_digest = 1;
	}
	if (namelen == 0)
		return ccp_err_set(e, CCP_EINVALID, "invalid image reference \"%.200s\": missing repository name", s);

	/* Domain detection as splitDockerDomain does it. */
	slash = memchr(name, '/', namelen);
	if (slash && (memchr(name, '.', (size_t)(slash - name)) || memchr(name, ':', (size_t)(slash - name)) ||
		      ((size_t)(slash - name) == 9 && memcmp(name, "localhost", 9) == 0) ||
		      has_upper(name, (size_t)(slash - name)))) {
		dom = name;
		domlen = (size_t)(slash - name);
		rem = slash + 1;
		remlen = namelen - domlen - 1;
	} else {
		dom = DEFAULT_DOMAIN;
		domlen = strlen(DEFAULT_DOMAIN);
		rem = name;
		remlen = namelen;
	}
	if (domlen == strlen(LEGACY_DEFAULT_DOMAIN) && memcmp(dom, LEGACY_DEFAULT_DOMAIN, domlen) == 0) {
		dom = DEFAULT_DOMAIN;
		domlen = strlen(DEFAULT_DOMAIN);
	}

	/* path[:tag]: the remainder holds no port, so its first ':' starts the tag. */
	colon = memchr(rem, ':', remlen);
	pathlen = colon ? (size_t)(colon - rem) : remlen;
	if (colon && !tag_ok(colon + 1, remlen - pathlen - 1))
		return ccp_err_set(e, CCP_EINVALID, "invalid image reference \"%.200s\": invalid tag \"%.*s\"", s,
				   (int)(remlen - pathlen - 1 > 200 ? 200 : remlen - pathlen - 1), colon + 1);
	if (has_upper(rem, pathlen))
		return ccp_err_set(e, CCP_EINVALID,
				   "invalid image reference \"%.200s\": repository name must be lowercase", s);
	if (!ccp_ref_path_ok(rem, pathlen))
		return ccp_err_set(e, CCP_EINVALID, "invalid image reference \"%.200s\": invalid repository name", s);
	if (!ccp_ref_domain_ok(dom, domlen))
		return ccp_err_set(e, CCP_EINVALID, "invalid image reference \"%.200s\": invalid registry \"%.*s\"",
				   s, (int)(domlen > 200 ? 200 : domlen), dom);

	if (domlen == strlen(DEFAULT_DOMAIN) && memcmp(dom, DEFAULT_DOMAIN, domlen) == 0 &&
	    !memchr(rem, '/', pathlen))
		prefix_library = 1;
	if (domlen + 1 + (prefix_library ? strlen(OFFICIAL_PREFIX) : 0) + pathlen > NAME_TOTAL_MAX)
		return ccp_err_set(e, CCP_EINVALID,
				   "invalid image reference \"%.200s\": repository name longer than %d characters", s,
				   NAME_TOTAL_MAX);

	if (!(r.domain = dup_n(dom, domlen)))
		goto oom;
	if (!(r.path = malloc((prefix_library ? strlen(OFFICIAL_PREFIX) : 0) + pathlen + 1)))
		goto oom;
	{
		size_t pl = prefix_library ? strlen(OFFICIAL_PREFIX) : 0;
		memcpy(r.path, OFFICIAL_PREFIX, pl);
		memcpy(r.path + pl, rem, pathlen);
		r.path[pl + pathlen] = '\0';
	}
	if (colon) {
		if (!(r.tag = dup_n(colon + 1, remlen - pathlen - 1)))
			goto oom;
	} else if (!r.has_digest) {
		if (!(r.tag = dup_n("latest", 6)))
			goto oom;
	}
	*out = r;
	return 0;
oom:
	ccp_ref_free(&r);
	return ccp_err_oom(e);
}

char *ccp_ref_repository(const ccp_ref *r)
{
	size_t dl = strlen(r->domain), pl = strlen(r->path);
	char *s = malloc(dl + 1 + pl + 1);

	if (!s)
		return NULL;
	memcpy(s, r->domain, dl);
	s[dl] = '/';
	memcpy(s + dl + 1, r->path, pl + 1);
	return s;
}

char *ccp_ref_string(const ccp_ref *r)
{
	char dg[CCP_DIGEST_STR_MAX];
	size_t dl = strlen(r->domain), pl = strlen(r->path);
	size_t tl = r->tag ? strlen(r->tag) + 1 : 0;
	size_t gl = r->has_digest ? strlen(ccp_digest_str(&r->digest, dg)) + 1 : 0;
	char *s = malloc(dl + 1 + pl + tl + gl + 1), *p;

	if (!s)
		return NULL;
	p = s;
	memcpy(p, r->domain, dl);
	p += dl;
	*p++ = '/';
	memcpy(p, r->path, pl);
	p += pl;
	if (r->tag) {
		*p++ = ':';
		memcpy(p, r->tag, tl - 1);
		p += tl - 1;
	}
	if (r->has_digest) {
		*p++ = '@';
		memcpy(p, dg, gl - 1);
		p += gl - 1;
	}
	*p = '\0';
	return s;
}

const char *ccp_ref_registry_host(const ccp_ref *r)
{
	if (strcmp(r->domain, DEFAULT_DOMAIN) == 0)
		return DEFAULT_REGISTRY_HOST;
	return r->domain;
}
