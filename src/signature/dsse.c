/*
 * DSSE (github.com/secure-systems-lab/dsse, protocol.md: PAE) and the in-toto Statement v1
 * (github.com/in-toto/attestation spec/v1/statement.md, resource_descriptor.md) as cosign v3 signs it
 * (cosign cmd/cosign/cli/sign/sign.go signDigestBundle: one subject, digest only, no name).
 */
#include "signature/sigstore_bundle.h"

#include <stdlib.h>
#include <string.h>

#include "util/json.h"

int ccp_dsse_pae(ccp_buf *out, const char *type, const void *body, size_t len)
{
	int r;

	if ((r = ccp_buf_printf(out, "DSSEv1 %zu %s %zu ", strlen(type), type, len)))
		return r;
	return ccp_buf_append(out, body ? body : "", len);
}

void ccp_intoto_free(ccp_intoto *s)
{
	if (!s)
		return;
	free(s->predicate_type);
	for (size_t i = 0; i < s->n_subjects; i++)
		free(s->subjects[i].name);
	free(s->subjects);
	memset(s, 0, sizeof(*s));
}

static int hex_nibble(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One ResourceDescriptor of the subject list: digest is a map of algorithm to lowercase hex. */
static int subject(ccp_intoto_subject *s, const json_t *j, size_t i, ccp_err *e)
{
	const json_t *digest = json_object_get(j, "digest"), *name = json_object_get(j, "name"), *v;
	const char *alg;

	if (!json_is_object(j))
		return ccp_err_set(e, CCP_EPOLICY, "in-toto statement: subject %zu is not an object", i + 1);
	if (name && !json_is_string(name))
		return ccp_err_set(e, CCP_EPOLICY, "in-toto statement: subject %zu: name is not a string", i + 1);
	if (!json_is_object(digest) || json_object_size(digest) == 0)
		return ccp_err_set(e, CCP_EPOLICY, "in-toto statement: subject %zu has no digest", i + 1);
	json_object_foreach((json_t *)digest, alg, v) {
		if (!json_is_string(v))
			return ccp_err_set(e, CCP_EPOLICY, "in-toto statement: subject %zu: digest %.40s is not a string",
					   i + 1, alg);
		if (strcmp(alg, "sha256") != 0)
			continue;
		if (json_string_length(v) != 64)
			return ccp_err_set(e, CCP_EPOLICY, "in-toto statement: subject %zu: invalid sha256 digest", i + 1);
		for (size_t k = 0; k < 32; k++) {
			int hi = hex_nibble(json_string_value(v)[2 * k]), lo = hex_nibble(json_string_value(v)[2 * k + 1]);
			if (hi < 0 || lo < 0)
				return ccp_err_set(e, CCP_EPOLICY, "in-toto statement: subject %zu: invalid sha256 digest",
						   i + 1);
			s->sha256[k] = (unsigned char)(hi << 4 | lo);
		}
		s->has_sha256 = 1;
	}
	if (name) {
		if (json_string_length(name) == 0 || strlen(json_string_value(name)) != json_string_length(name))
			return ccp_err_set(e, CCP_EPOLICY, "in-toto statement: subject %zu: invalid name", i + 1);
		if (!(s->name = strdup(json_string_value(name))))
			return ccp_err_oom(e);
	}
	return 0;
}

int ccp_intoto_parse(ccp_intoto *out, const void *data, size_t len, ccp_err *e)
{
	json_t *j = NULL, *subjects = NULL, *sj;
	const char *type = NULL, *pt = NULL;
	size_t i;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = ccp_json_parse(&j, data, len, CCP_BUNDLE_MAX, "in-toto statement", CCP_EPOLICY, e)))
		return r;
	if (!json_is_object(j)) {
		r = ccp_err_set(e, CCP_EPOLICY, "in-toto statement: not a JSON object");
		goto out;
	}
	if ((r = ccp_json_get_string(j, "_type", 1, &type, "in-toto statement", CCP_EPOLICY, e)) ||
	    (r = ccp_json_get_string(j, "predicateType", 1, &pt, "in-toto statement", CCP_EPOLICY, e)) ||
	    (r = ccp_json_get_array(j, "subject", 1, &subjects, "in-toto statement", CCP_EPOLICY, e)))
		goto out;
	if (strcmp(type, CCP_INTOTO_STATEMENT_V1) != 0) {
		r = ccp_err_set(e, CCP_EPOLICY, "in-toto statement: unsupported _type \"%.100s\"", type);
		goto out;
	}
	if (*pt == '\0' || strlen(pt) != json_string_length(json_object_get(j, "predicateType"))) {
		r = ccp_err_set(e, CCP_EPOLICY, "in-toto statement: invalid predicateType");
		goto out;
	}
	if (json_object_get(j, "predicate") && !json_is_object(json_object_get(j, "predicate"))) {
		r = ccp_err_set(e, CCP_EPOLICY, "in-toto statement: predicate is not an object");
		goto out;
	}
	if (json_array_size(subjects) == 0 || json_array_size(subjects) > CCP_INTOTO_MAX_SUBJECTS) {
		r = ccp_err_set(e, CCP_EPOLICY, "in-toto statement: %zu subjects (1 to %d allowed)",
				json_array_size(subjects), CCP_INTOTO_MAX_SUBJECTS);
		goto out;
	}
	if (!(out->predicate_type = strdup(pt)) ||
	    !(out->subjects = calloc(json_array_size(subjects), sizeof(*out->subjects)))) {
		r = ccp_err_oom(e);
		goto out;
	}
	json_array_foreach(subjects, i, sj) {
		out->n_subjects = i + 1;
		if ((r = subject(&out->subjects[i], sj, i, e)))
			goto out;
	}
out:
	json_decref(j);
	if (r)
		ccp_intoto_free(out);
	return r;
}
