/* Configuration files from inside the trust boundary: registries.conf (TOML subset) and auth.json. */
#ifndef CCP_CONFIG_CONFIG_H
#define CCP_CONFIG_CONFIG_H

#include <stddef.h>
#include "config/toml.h"
#include "util/err.h"

/* One [[registry]] of registries.conf (containers-registries.conf(5)), v2 format. */
typedef struct ccp_reg_mirror {
	char *location;
	int insecure;
} ccp_reg_mirror;

typedef struct ccp_reg_entry {
	char *prefix;      /* defaults to location; "*.example.com" wildcards allowed */
	char *location;    /* defaults to prefix; NULL for a wildcard prefix (no rewrite) */
	int insecure;
	int blocked;
	ccp_reg_mirror *mirrors;
	size_t n_mirrors;
} ccp_reg_entry;

typedef struct ccp_registries_conf {
	ccp_reg_entry *entries;
	size_t n_entries;
	char **unqualified_search;  /* unqualified-search-registries */
	size_t n_unqualified;
} ccp_registries_conf;

/* Parses a registries.conf file (TOML). Unknown keys are ignored as containers/image does. */
int ccp_registries_conf_load(ccp_registries_conf *out, const char *path, ccp_err *e);
int ccp_registries_conf_parse(ccp_registries_conf *out, const char *data, size_t len, ccp_err *e);
void ccp_registries_conf_free(ccp_registries_conf *c);

/*
 * registries.conf carried inside a larger TOML document (the CDH config's [image.registry_config]):
 * feed the sink the events of that part with names relative to it ("registry", "registry" KEYSEP
 * "mirror", top-level keys under ""), then finish, which validates as ccp_registries_conf_parse does
 * and hands the result to *out (or frees it on error).
 */
typedef struct ccp_registries_conf_reader {
	ccp_toml_sink sink;
	ccp_registries_conf conf;
	int in_registry;   /* current table: 0 other, 1 [[registry]], 2 [[registry.mirror]], 3..5 v1 tables */
	int v1, v2;        /* which format versions were seen (mixing them is an error) */
} ccp_registries_conf_reader;

void ccp_registries_conf_reader_init(ccp_registries_conf_reader *rd);
int ccp_registries_conf_reader_finish(ccp_registries_conf_reader *rd, ccp_registries_conf *out, ccp_err *e);
/* The entry whose prefix matches "domain/path" best (longest prefix, containers/image rules), or NULL. */
const ccp_reg_entry *ccp_registries_conf_find(const ccp_registries_conf *c, const char *repository);

/*
 * Looks up credentials for a registry host in a containers-auth.json. repository is the path within
 * that host ("library/busybox", or NULL) and selects namespaced keys ("host/ns/repo"; the most specific
 * key wins). Keys may also be legacy URLs ("https://index.docker.io/v1/"), which are normalised.
 * Sets *user and *password (from "auth": base64 of user:password) and *identity_token, each malloc'ed
 * or NULL when absent; free them with ccp_secret_free. No matching entry, or no file at path:
 * returns 0 with all three NULL. A malformed file is CCP_EINVALID.
 */
int ccp_authfile_lookup(const char *path, const char *host, const char *repository, char **user,
			char **password, char **identity_token, ccp_err *e);
int ccp_authfile_lookup_data(const char *data, size_t len, const char *host, const char *repository,
			     char **user, char **password, char **identity_token, ccp_err *e);

/* Wipes and frees a secret string (NULL is fine). */
void ccp_secret_free(char *s);

#endif
