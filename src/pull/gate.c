/* The signature-policy gate of a pull: "no policy, no pull" (DESIGN.md). */
#include "pull/pull_internal.h"

int ccp_policy_gate_prepare(ccp_policy_gate **out, const ccp_pull_options *o, ccp_err *e)
{
	*out = NULL;
	if (o->insecure_policy)
		return 0;
	return ccp_err_set(e, CCP_EINVALID,
			   "no signature policy can be evaluated by this build of ccpull (policy %s); refusing to "
			   "pull. Pass --insecure-policy to pull without verifying signatures",
			   o->policy ? o->policy : "/etc/containers/policy.json");
}

int ccp_policy_gate_check(ccp_policy_gate *gate, const resolved_image *rv, ccp_err *e)
{
	(void)rv;
	(void)e;
	return gate ? CCP_EINTERNAL : 0; /* prepare never makes a gate yet: only --insecure-policy passes */
}

void ccp_policy_gate_free(ccp_policy_gate *gate)
{
	(void)gate;
}
