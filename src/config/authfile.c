/*
 * containers-auth.json (containers-auth.json(5)): {"auths": {"<key>": {"auth": "<base64 user:pass>",
 * "identitytoken": "..."}}}. Keys are "host", "host/namespace[/repo]" or legacy docker URLs.
 */
#include "config/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "util/b64.h"
#include "util/buf.h"
#include "util/json.h"

#define AUTHFILE_MAX (1024 * 1024)
#define AUTH_FIELD_MAX (64 * 1024)

void ccp_secret_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

/* docker.io has several historical names; they all share one credential. */
static const char *canonical_host(const char *h, size_t n)
{
	static const char *const aliases[] = { "docker.io", "registry-1.docker.io", "index.docker.io" };
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strlen(aliases[i]) == n && memcmp(aliases[i], h, n) == 0)
			return "docker.io";
	return NULL;
}

/*
 * "https://index.docker.io/v1/" -> "docker.io"; "http://h:5000/x" -> "h:5000";
 * "registry-1.docker.io/ns/r" -> "docker.io/ns/r"; other keys unchanged. Returns malloc'ed or NULL.
 */
static char *normalize_key(const char *key)
{
	const char *k = key, *slash, *canon;
	size_t hostlen, len;
	ccp_buf b = CCP_BUF_INIT(0);

	if (strncmp(k, "https://", 8) == 0)
		k += 8;
	else if (strncmp(k, "http://", 7) == 0)
		k += 7;
	len = strlen(k);
	/* a URL key names a host only; its path is the legacy "/v1/" API path */
	if (k != key && (slash = strchr(k, '/')))
		len = (size_t)(slash - k);
	slash = memchr(k, '/', len);
	hostlen = slash ? (size_t)(slash - k) : len;
	canon = canonical_host(k, hostlen);
	if (canon) {
		if (ccp_buf_puts(&b, canon) != 0 || ccp_buf_append(&b, k + hostlen, len - hostlen) != 0) {
			ccp_buf_free(&b);
			return NULL;
		}
	} else if (ccp_buf_append(&b, k, len) != 0) {
		ccp_buf_free(&b);
		return NULL;
	}
	return ccp_buf_detach(&b);
}

static int decode_auth(const char *key, const char *auth, char **user, char **password, ccp_err *e)
{
	ccp_buf b = CCP_BUF_INIT(AUTH_FIELD_MAX);
	const char *plain;
	size_t plen;
	char *colon;
	int r;

	r = ccp_b64_decode(&b, auth, strlen(auth), 0);
	if (r == CCP_ENOMEM)
		return ccp_err_oom(e);
	if (r < 0)
		return ccp_err_set(e, CCP_EINVALID, "auth file: \"auth\" of \"%.256s\" is not valid base64", key);
	plain = b.data;
	plen = b.len;
	colon = memchr(plain, ':', plen);
	if (memchr(plain, '\0', plen) || !colon || colon == plain) {
		r = ccp_err_set(e, CCP_EINVALID, "auth file: \"auth\" of \"%.256s\" is not \"user:password\"", key);
		goto out;
	}
	if (!(*user = strndup(plain, (size_t)(colon - plain))) || !(*password = strdup(colon + 1))) {
		ccp_secret_free(*user);
		*user = NULL;
		r = ccp_err_oom(e);
		goto out;
	}
	r = 0;
out:
	ccp_buf_free_secure(&b);
	return r;
}

/* Wipes the secret strings jansson holds before the document is freed. */
static void wipe_auths(json_t *auths)
{
	const char *k;
	json_t *v;

	json_object_foreach(auths, k, v) {
		const char *fields[] = { "auth", "identitytoken", "password" };
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			json_t *s = json_object_get(v, fields[i]);
			if (json_is_string(s))
				OPENSSL_cleanse((char *)json_string_value(s), json_string_length(s));
		}
	}
}

/* Finds the entry for one candidate key: an exact key first, then a key that normalises to it. */
static int find_entry(json_t *auths, const char *cand, json_t **entry, const char **entry_key, ccp_err *e)
{
	const char *k;
	json_t *v;

	*entry = NULL;
	if ((v = json_object_get(auths, cand))) {
		*entry = v;
		*entry_key = cand;
		return 0;
	}
	json_object_foreach(auths, k, v) {
		char *norm = normalize_key(k);
		int match;
		if (!norm)
			return ccp_err_oom(e);
		match = strcmp(norm, cand) == 0;
		free(norm);
		if (match) {
			*entry = v;
			*entry_key = k;
			return 0;
		}
	}
	return 0;
}

int ccp_authfile_lookup_data(const char *data, size_t len, const char *host, const char *repository,
			     char **user, char **password, char **identity_token, ccp_err *e)
{
	json_t *root = NULL, *auths = NULL;
	char *cand = NULL;
	int r;

	*user = *password = *identity_token = NULL;
	if (!host || !host[0])
		return ccp_err_set(e, CCP_EINVALID, "auth file lookup without a registry host");
	if ((r = ccp_json_parse(&root, data, len, AUTHFILE_MAX, "auth file", CCP_EINVALID, e)) != 0)
		return r;
	if (!json_is_object(root)) {
		r = ccp_err_set(e, CCP_EINVALID, "auth file is not a JSON object");
		goto out;
	}
	if ((r = ccp_json_get_object(root, "auths", 0, &auths, "auth file", CCP_EINVALID, e)) != 0 || !auths)
		goto out;
	{
		const char *k;
		json_t *v;
		json_object_foreach(auths, k, v) {
			if (!json_is_object(v)) {
				r = ccp_err_set(e, CCP_EINVALID, "auth file: entry \"%.256s\" is not an object", k);
				goto out;
			}
		}
	}

	/* candidates from the most specific: host/a/b/c, host/a/b, host/a, host */
	{
		char *norm_host = normalize_key(host);
		ccp_buf b = CCP_BUF_INIT(0);
		if (!norm_host) {
			r = ccp_err_oom(e);
			goto out;
		}
		r = ccp_buf_puts(&b, norm_host);
		free(norm_host);
		if (!r && repository && repository[0])
			r = ccp_buf_printf(&b, "/%s", repository);
		if (r) {
			ccp_buf_free(&b);
			r = ccp_err_oom(e);
			goto out;
		}
		cand = ccp_buf_detach(&b);
		if (!cand) {
			r = ccp_err_oom(e);
			goto out;
		}
	}
	for (;;) {
		json_t *entry = NULL;
		const char *entry_key = NULL, *auth = NULL, *idt = NULL;
		char *slash;

		if ((r = find_entry(auths, cand, &entry, &entry_key, e)) != 0)
			goto out;
		if (entry) {
			if ((r = ccp_json_get_string(entry, "auth", 0, &auth, "auth file entry", CCP_EINVALID, e)) ||
			    (r = ccp_json_get_string(entry, "identitytoken", 0, &idt, "auth file entry", CCP_EINVALID,
						     e)))
				goto out;
			if (auth && strlen(auth) > AUTH_FIELD_MAX) {
				r = ccp_err_set(e, CCP_EINVALID, "auth file: \"auth\" of \"%.256s\" is too long", entry_key);
				goto out;
			}
			if (idt && strlen(idt) > AUTH_FIELD_MAX) {
				r = ccp_err_set(e, CCP_EINVALID, "auth file: \"identitytoken\" of \"%.256s\" is too long",
						entry_key);
				goto out;
			}
			/* an entry with neither (e.g. only credHelpers elsewhere) does not stop the search */
			if ((auth && auth[0]) || (idt && idt[0])) {
				if (auth && auth[0] && (r = decode_auth(entry_key, auth, user, password, e)) != 0)
					goto out;
				if (idt && idt[0] && !(*identity_token = strdup(idt))) {
					r = ccp_err_oom(e);
					goto out;
				}
				break;
			}
		}
		if (!(slash = strrchr(cand, '/')))
			break;
		*slash = '\0';
	}
out:
	if (r) {
		ccp_secret_free(*user);
		ccp_secret_free(*password);
		ccp_secret_free(*identity_token);
		*user = *password = *identity_token = NULL;
	}
	free(cand);
	if (auths)
		wipe_auths(auths);
	json_decref(root);
	return r;
}

int ccp_authfile_lookup(const char *path, const char *host, const char *repository, char **user,
			char **password, char **identity_token, ccp_err *e)
{
	ccp_buf b = CCP_BUF_INIT(AUTHFILE_MAX);
	int r;

	*user = *password = *identity_token = NULL;
	if (access(path, F_OK) != 0 && errno == ENOENT)
		return 0;
	if ((r = ccp_read_file(&b, path, AUTHFILE_MAX, e)) != 0) {
		ccp_buf_free_secure(&b);
		return r;
	}
	r = ccp_authfile_lookup_data(b.data, b.len, host, repository, user, password, identity_token, e);
	if (r)
		ccp_err_wrap(e, "auth file `%s`", path);
	ccp_buf_free_secure(&b);
	return r;
}
