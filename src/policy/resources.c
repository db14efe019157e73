/* kbs:// keys named by a policy, fetched once before evaluation and handed to the verifiers as data. */
#include "policy/policy.h"

#include <stdlib.h>
#include <string.h>

#define KEY_RESOURCE_MAX (4u << 20)

static int fetch_src(ccp_sigstore_src *s, const char *key, const ccp_resource_src *src, ccp_err *e)
{
	if (!s->path || !ccp_resource_is_kbs(s->path) || s->data.data)
		return 0;
	return ccp_resource_read(&s->data, s->path, KEY_RESOURCE_MAX, src, key, e);
}

static int fetch_pr(ccp_pr *pr, const ccp_resource_src *src, ccp_err *e)
{
	ccp_sigstore_policy *sp = pr->sigstore;
	int r = 0;

	for (size_t i = 0; i < pr->n_key_paths && !r; i++) {
		if (!ccp_resource_is_kbs(pr->key_paths[i]))
			continue;
		if (!pr->key_blobs && !(pr->key_blobs = calloc(pr->n_key_paths, sizeof(*pr->key_blobs))))
			return ccp_err_oom(e);
		if (!pr->key_blobs[i].data)
			r = ccp_resource_read(&pr->key_blobs[i], pr->key_paths[i], KEY_RESOURCE_MAX, src,
					      pr->n_key_paths > 1 ? "signedBy keyPaths" : "signedBy keyPath", e);
	}
	if (r || !sp)
		return r;
	for (size_t i = 0; i < sp->n_keys && !r; i++)
		r = fetch_src(&sp->keys[i], "sigstoreSigned keyPath", src, e);
	for (size_t i = 0; i < sp->n_rekor_keys && !r; i++)
		r = fetch_src(&sp->rekor_keys[i], "sigstoreSigned rekorPublicKeyPath", src, e);
	if (!r && sp->has_fulcio)
		r = fetch_src(&sp->fulcio_ca, "sigstoreSigned fulcio.caPath", src, e);
	if (!r && sp->has_pki)
		r = fetch_src(&sp->pki_roots, "sigstoreSigned pki.caRootsPath", src, e);
	if (!r && sp->has_pki_intermediates)
		r = fetch_src(&sp->pki_intermediates, "sigstoreSigned pki.caIntermediatesPath", src, e);
	return r;
}

int ccp_policy_fetch_resources(ccp_policy *p, const ccp_ref *ref, const ccp_resource_src *src, ccp_err *e)
{
	const ccp_pr_list *l;
	const char *scope = NULL;
	int r;

	if ((r = ccp_policy_requirements_for(p, ref, &l, &scope, e)))
		return r;
	/* the list is the policy's own: it keeps what was fetched */
	for (size_t i = 0; i < l->n; i++)
		if ((r = fetch_pr((ccp_pr *)&l->v[i], src, e)))
			return ccp_err_wrap(e, "policy scope %s%.200s%s", scope ? "\"" : "", scope ? scope : "default",
					    scope ? "\"" : "");
	return 0;
}
