/*
 * The signature-policy gate of a pull: "no policy, no pull" (DESIGN.md). The policy and registries.d
 * are loaded before any network access; the policy is evaluated on the verified image manifest (the
 * chosen instance of an index, as containers/image does) before any layer is fetched.
 */
#include "pull/pull_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/registries_d.h"
#include "policy/policy.h"
#include "registry/lookaside.h"

#define DEFAULT_POLICY "/etc/containers/policy.json"

struct ccp_policy_gate {
	ccp_policy policy;
	ccp_registries_d regd;
	ccp_lookaside_opts lookaside;
};

typedef struct sig_source {
	ccp_policy_gate *gate;
	const resolved_image *rv;
	ccp_sig_list sigs;
} sig_source;

int ccp_policy_gate_prepare(ccp_policy_gate **out, const ccp_pull_options *o, ccp_err *e)
{
	ccp_policy_gate *g;
	const char *path = o->policy ? o->policy : DEFAULT_POLICY;
	const char *regd = o->registries_d ? o->registries_d : CCP_REGISTRIES_D_DEFAULT;
	int r;

	*out = NULL;
	if (o->insecure_policy)
		return 0;
	if (!(g = calloc(1, sizeof(*g))))
		return ccp_err_oom(e);
	if ((r = ccp_policy_load(&g->policy, path, e))) {
		ccp_policy_gate_free(g);
		/* Without a policy there is no decision: refuse rather than guess (exit 2). */
		if (r == CCP_EINVALID)
			ccp_err_wrap(e, "no usable signature policy (pass --insecure-policy to pull without one)");
		return r;
	}
	if (o->registries_d && access(o->registries_d, F_OK) != 0) {
		ccp_policy_gate_free(g);
		return ccp_err_errno(e, CCP_EINVALID, errno, "registries.d directory %s", o->registries_d);
	}
	if ((r = ccp_registries_d_load(&g->regd, regd, e))) {
		ccp_policy_gate_free(g);
		return r;
	}
	g->lookaside.tls_verify = o->tls_verify;
	g->lookaside.ca_file = o->ca_file;
	*out = g;
	return 0;
}

static int get_signatures(void *payload, const ccp_buf **sigs, size_t *n, ccp_err *e)
{
	sig_source *s = payload;
	const resolved_image *rv = s->rv;
	ccp_digest d = rv->man_digest;
	char **scopes = NULL;
	size_t n_scopes = 0;
	const char *base;
	int r;

	/* Signatures are stored under the sha256 digest of the manifest. */
	if (d.algo != CCP_SHA256 &&
	    (r = ccp_digest_compute(&d, CCP_SHA256, rv->man_raw.data, rv->man_raw.len, e)))
		return r;
	if ((r = ccp_policy_scopes(&rv->ref, &scopes, &n_scopes, e)))
		return r;
	base = ccp_registries_d_lookaside(&s->gate->regd, scopes, n_scopes);
	r = ccp_lookaside_fetch(&s->sigs, base, rv->ref.path, &d, &s->gate->lookaside, e);
	ccp_policy_strv_free(scopes, n_scopes);
	if (r)
		return ccp_err_wrap(e, "signatures of %s", rv->image);
	*sigs = s->sigs.v;
	*n = s->sigs.n;
	return 0;
}

int ccp_policy_gate_check(ccp_policy_gate *gate, const resolved_image *rv, ccp_err *e)
{
	sig_source src;
	ccp_policy_image img;
	int r;

	if (!gate)
		return 0;
	memset(&src, 0, sizeof(src));
	src.gate = gate;
	src.rv = rv;
	memset(&img, 0, sizeof(img));
	img.ref = &rv->ref;
	img.manifest = rv->man_raw.data;
	img.manifest_len = rv->man_raw.len;
	img.get_signatures = get_signatures;
	img.payload = &src;
	r = ccp_policy_evaluate(&gate->policy, &img, e);
	ccp_sig_list_free(&src.sigs);
	return r;
}

void ccp_policy_gate_free(ccp_policy_gate *gate)
{
	if (!gate)
		return;
	ccp_policy_free(&gate->policy);
	ccp_registries_d_free(&gate->regd);
	free(gate);
}
