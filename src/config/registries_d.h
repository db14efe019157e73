/*
 * registries.d (containers-registries.d(5)): where signatures of docker images are stored. YAML files
 * (*.yaml in one directory, merged) with a "default-docker" section and "docker" scopes.
 */
#ifndef CCP_CONFIG_REGISTRIES_D_H
#define CCP_CONFIG_REGISTRIES_D_H

#include <stddef.h>
#include "util/err.h"

#define CCP_REGISTRIES_D_DEFAULT "/etc/containers/registries.d"
#define CCP_LOOKASIDE_DEFAULT "file:///var/lib/containers/sigstore"

typedef struct ccp_regd_ns {
	char *scope;              /* NULL for default-docker */
	char *lookaside;          /* "lookaside", or the deprecated "sigstore" */
	char *sigstore;
	char *lookaside_staging;  /* "lookaside-staging" / "sigstore-staging": used for writing only */
	char *sigstore_staging;
	int use_sigstore_attachments; /* -1 unset, 0, 1 */
} ccp_regd_ns;

typedef struct ccp_registries_d {
	ccp_regd_ns *def;
	ccp_regd_ns *docker;
	size_t n_docker;
} ccp_registries_d;

/* Loads every *.yaml of dir (a missing dir is an empty configuration). Duplicates across files are errors. */
int ccp_registries_d_load(ccp_registries_d *out, const char *dir, ccp_err *e);
/* Parses one file's content and merges it into c. what names the file in messages. CCP_EINVALID on error. */
int ccp_registries_d_parse(ccp_registries_d *c, const char *data, size_t len, const char *what, ccp_err *e);
void ccp_registries_d_free(ccp_registries_d *c);

/*
 * The lookaside base URL for reading signatures of an image whose policy scopes (most specific first,
 * as ccp_policy_scopes gives them) are scopes[0..n): the first scope with a lookaside or sigstore URL,
 * then default-docker, else CCP_LOOKASIDE_DEFAULT. Never NULL.
 */
const char *ccp_registries_d_lookaside(const ccp_registries_d *c, char *const *scopes, size_t n);

#endif
