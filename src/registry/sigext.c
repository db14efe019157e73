/* The X-Registry-Supports-Signatures extension: fetching and parsing its signature list. */
#include "registry/sigext.h"

#include <stdlib.h>
#include <string.h>

#include "util/b64.h"
#include "util/json.h"

#define SCHEMA_VERSION 2
#define TYPE_ATOMIC "atomic"
/* The stored form of a simple signature (containers/image internal/signature): whatever the bytes. */
static const char SIMPLE_PREFIX[] = "\0simple-signing\n";
#define PREFIX_LEN (sizeof(SIMPLE_PREFIX) - 1)

static int list_add(ccp_sig_list *out, ccp_buf *b, ccp_err *e)
{
	ccp_buf *nv = realloc(out->v, (out->n + 1) * sizeof(*nv));

	if (!nv)
		return ccp_err_oom(e);
	out->v = nv;
	out->v[out->n++] = *b;
	memset(b, 0, sizeof(*b));
	return 0;
}

int ccp_sigext_parse(ccp_sig_list *out, const void *data, size_t len, const char *what, ccp_err *e)
{
	json_t *root = NULL, *list = NULL, *item;
	size_t i, added = 0, before = out->n;
	int r;

	if ((r = ccp_json_parse(&root, data, len, CCP_SIGEXT_LIST_MAX, what, CCP_EREGISTRY, e)))
		return r;
	if (!json_is_object(root)) {
		r = ccp_err_set(e, CCP_EREGISTRY, "%s: not a JSON object", what);
		goto out;
	}
	/* json.Unmarshal semantics: unknown keys ignored, a missing or null list is empty */
	list = json_object_get(root, "signatures");
	if (!list || json_is_null(list))
		goto out;
	if (!json_is_array(list)) {
		r = ccp_err_set(e, CCP_EREGISTRY, "%s: \"signatures\" is not an array", what);
		goto out;
	}
	json_array_foreach(list, i, item) {
		json_t *ver, *type, *content;
		ccp_buf sig = CCP_BUF_INIT(CCP_LOOKASIDE_SIG_MAX + PREFIX_LEN);

		if (!json_is_object(item)) {
			r = ccp_err_set(e, CCP_EREGISTRY, "%s: signature %zu is not an object", what, i + 1);
			goto out;
		}
		ver = json_object_get(item, "schemaVersion");
		type = json_object_get(item, "type");
		content = json_object_get(item, "content");
		if ((ver && !json_is_integer(ver) && !json_is_null(ver)) ||
		    (type && !json_is_string(type) && !json_is_null(type)) ||
		    (content && !json_is_string(content) && !json_is_null(content)) ||
		    (json_object_get(item, "name") && !json_is_string(json_object_get(item, "name")) &&
		     !json_is_null(json_object_get(item, "name")))) {
			r = ccp_err_set(e, CCP_EREGISTRY, "%s: signature %zu has a member of the wrong type", what, i + 1);
			goto out;
		}
		if (!json_is_integer(ver) || json_integer_value(ver) != SCHEMA_VERSION || !json_is_string(type) ||
		    strcmp(json_string_value(type), TYPE_ATOMIC) != 0)
			continue;
		/* An empty content can never verify; containers/image refuses it and goes on, as skipping it does. */
		if (!json_is_string(content) || json_string_length(content) == 0)
			continue;
		/*
		 * containers/image takes the content as a simple signature whatever its bytes
		 * (SimpleSigningFromBlob): stored with the prefix, it is never mistaken for another format.
		 */
		if (ccp_buf_append(&sig, SIMPLE_PREFIX, PREFIX_LEN)) {
			ccp_buf_free(&sig);
			r = ccp_err_oom(e);
			goto out;
		}
		if ((r = ccp_b64_decode_go(&sig, json_string_value(content), json_string_length(content)))) {
			ccp_buf_free(&sig);
			r = r == CCP_ENOMEM ? ccp_err_oom(e)
					    : ccp_err_set(e, CCP_EREGISTRY, "%s: signature %zu: invalid base64 content "
							  "(or larger than %u bytes)", what, i + 1, CCP_LOOKASIDE_SIG_MAX);
			goto out;
		}
		if (++added > CCP_LOOKASIDE_MAX_SIGS) {
			ccp_buf_free(&sig);
			r = ccp_err_set(e, CCP_EREGISTRY, "%s: more than %d signatures", what, CCP_LOOKASIDE_MAX_SIGS);
			goto out;
		}
		if ((r = list_add(out, &sig, e))) {
			ccp_buf_free(&sig);
			goto out;
		}
	}
out:
	json_decref(root);
	if (r) {
		/* leave out as it was: drop what this call appended */
		while (out->n > before)
			ccp_buf_free(&out->v[--out->n]);
	}
	return r;
}

int ccp_sigext_fetch(ccp_sig_list *out, ccp_registry *r, const ccp_digest *d, ccp_err *e)
{
	ccp_buf body = CCP_BUF_INIT(CCP_SIGEXT_LIST_MAX);
	char dstr[CCP_DIGEST_STR_MAX], what[CCP_DIGEST_STR_MAX + 64];
	ccp_digest check;
	int rc;

	/* The digest goes into a URL path: it must be a well-formed digest (CVE-2024-3727). */
	ccp_digest_str(d, dstr);
	if (ccp_digest_parse(&check, dstr, strlen(dstr), e))
		return ccp_err_wrap(e, "signature extension lookup");
	if ((rc = ccp_registry_get_signatures(r, dstr, CCP_SIGEXT_LIST_MAX, &body, e)))
		return rc;
	snprintf(what, sizeof(what), "signature list of %s", dstr);
	rc = ccp_sigext_parse(out, body.data, body.len, what, e);
	ccp_buf_free(&body);
	return rc;
}
