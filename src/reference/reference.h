/* Docker image references: grammar (distribution/reference), normalisation (docker.io, library/, :latest). */
#ifndef CCP_REFERENCE_REFERENCE_H
#define CCP_REFERENCE_REFERENCE_H

#include <stddef.h>
#include "digest/digest.h"

#define CCP_REF_MAX 4096 /* longest reference accepted */

typedef struct ccp_ref {
	char *domain;       /* "docker.io", "localhost:5000", "[::1]:5000"; never NULL after parse */
	char *path;         /* "library/busybox"; never NULL after parse */
	char *tag;          /* NULL when the reference has none (and a digest) */
	int has_digest;
	ccp_digest digest;  /* set when has_digest */
} ccp_ref;

/*
 * Parses and normalises like containers/image's docker reference: a missing domain becomes
 * "docker.io", a single-component docker.io path gets "library/", and a reference with neither tag
 * nor digest gets the tag "latest". Uppercase repository names, bad tags and bad digests are refused
 * (CCP_EINVALID). A leading "docker://" transport prefix is accepted and dropped.
 */
int ccp_ref_parse(ccp_ref *out, const char *s, ccp_err *e);
void ccp_ref_free(ccp_ref *r);

/*
 * distribution/reference's grammar over s[0..n), anchored (1: matches, 0: not). Domain: host
 * [":" port], the host dotted labels [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])? or a bracketed IPv6
 * literal. Path: path-component ("/" path-component)*, each [a-z0-9]+ (([._] | "__" | "-"+) [a-z0-9]+)*.
 */
int ccp_ref_domain_ok(const char *s, size_t n);
int ccp_ref_path_ok(const char *s, size_t n);

/* "domain/path[:tag][@digest]", malloc'ed; NULL on OOM. */
char *ccp_ref_string(const ccp_ref *r);
/* "domain/path", malloc'ed; NULL on OOM. */
char *ccp_ref_repository(const ccp_ref *r);
/* The host to contact for a domain: "registry-1.docker.io" for docker.io, otherwise the domain. */
const char *ccp_ref_registry_host(const ccp_ref *r);

#endif
