/*
 * Scopes: the docker scopes of a reference, most specific first, and the requirements the policy
 * applies to it.
 */
#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- scopes ---- */

void ccp_policy_strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int push(char ***v, size_t *n, const char *s, size_t len)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(char *));
	if (!nv)
		return -1;
	*v = nv;
	if (!(nv[*n] = strndup(s, len)))
		return -1;
	(*n)++;
	return 0;
}

int ccp_policy_scopes(const ccp_ref *ref, char ***out, size_t *n, ccp_err *e)
{
	ccp_ref id = *ref;
	char *ident, *name = NULL;
	const char *host;
	size_t len, hostlen;

	*out = NULL;
	*n = 0;
	/* The identity is name:tag or name@digest; a pinned digest wins over a tag. */
	if (id.has_digest)
		id.tag = NULL;
	if (!(ident = ccp_ref_string(&id)) || push(out, n, ident, strlen(ident)) || !(name = ccp_ref_repository(ref)))
		goto oom;
	free(ident);
	ident = NULL;
	/* The repository, then each parent namespace down to host[:port]. */
	len = strlen(name);
	for (;;) {
		if (push(out, n, name, len))
			goto oom;
		while (len > 0 && name[len - 1] != '/')
			len--;
		if (len == 0)
			break;
		len--;
	}
	/* Then *.suffix for each dot of the host without its port. */
	host = name;
	hostlen = strcspn(name, "/");
	hostlen = strcspn(name, ":") < hostlen ? strcspn(name, ":") : hostlen;
	for (const char *dot = memchr(host, '.', hostlen); dot; dot = memchr(host, '.', hostlen)) {
		char buf[300];
		hostlen -= (size_t)(dot + 1 - host);
		host = dot + 1;
		snprintf(buf, sizeof(buf), "*.%.*s", (int)hostlen, host);
		if (push(out, n, buf, strlen(buf)))
			goto oom;
	}
	free(name);
	return 0;
oom:
	free(ident);
	free(name);
	ccp_policy_strv_free(*out, *n);
	*out = NULL;
	*n = 0;
	return ccp_err_oom(e);
}

static const ccp_policy_scope *find_scope(const ccp_policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_docker; i++)
		if (strcmp(p->docker[i].name, name) == 0)
			return &p->docker[i];
	return NULL;
}

int ccp_policy_requirements_for(const ccp_policy *p, const ccp_ref *ref, const ccp_pr_list **out,
				const char **scope, ccp_err *e)
{
	char **v = NULL;
	size_t n = 0;
	const ccp_policy_scope *s = NULL;
	int r;

	if ((r = ccp_policy_scopes(ref, &v, &n, e)))
		return r;
	for (size_t i = 0; i < n && !s; i++)
		s = find_scope(p, v[i]);
	ccp_policy_strv_free(v, n);
	if (!s)
		s = find_scope(p, "");
	if (s) {
		*scope = s->name;
		*out = &s->reqs;
	} else {
		*scope = NULL;
		*out = &p->def;
	}
	return 0;
}
