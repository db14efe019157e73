/*
 * The options of the public calls: the defaults of ccp_pull_options and of each struct nested in it
 * (registry, trust, kbs, store), and the check of their versions that every call taking them makes.
 */
#include "pull/pull_internal.h"

int ccp_registry_options_init(ccp_registry_options *opts, unsigned int version)
{
	ccp_registry_options def = CCP_REGISTRY_OPTIONS_INIT;

	if (!opts || version != CCP_REGISTRY_OPTIONS_VERSION)
		return CCP_EINVALID;
	*opts = def;
	return 0;
}

int ccp_trust_options_init(ccp_trust_options *opts, unsigned int version)
{
	ccp_trust_options def = CCP_TRUST_OPTIONS_INIT;

	if (!opts || version != CCP_TRUST_OPTIONS_VERSION)
		return CCP_EINVALID;
	*opts = def;
	return 0;
}

int ccp_kbs_options_init(ccp_kbs_options *opts, unsigned int version)
{
	ccp_kbs_options def = CCP_KBS_OPTIONS_INIT;

	if (!opts || version != CCP_KBS_OPTIONS_VERSION)
		return CCP_EINVALID;
	*opts = def;
	return 0;
}

int ccp_store_options_init(ccp_store_options *opts, unsigned int version)
{
	ccp_store_options def = CCP_STORE_OPTIONS_INIT;

	if (!opts || version != CCP_STORE_OPTIONS_VERSION)
		return CCP_EINVALID;
	*opts = def;
	return 0;
}

int ccp_pull_options_init(ccp_pull_options *opts, unsigned int version)
{
	ccp_pull_options def = CCP_PULL_OPTIONS_INIT;

	if (!opts || version != CCP_PULL_OPTIONS_VERSION)
		return CCP_EINVALID;
	*opts = def;
	return 0;
}

int ccp_check_options_version(const ccp_pull_options *o, ccp_err *e)
{
	if (o->version != CCP_PULL_OPTIONS_VERSION)
		return ccp_err_set(e, CCP_EINVALID, "unknown ccp_pull_options version %u", o->version);
	if (o->registry.version != CCP_REGISTRY_OPTIONS_VERSION)
		return ccp_err_set(e, CCP_EINVALID,
				   "unknown ccp_registry_options version %u (ccp_pull_options.registry)",
				   o->registry.version);
	if (o->trust.version != CCP_TRUST_OPTIONS_VERSION)
		return ccp_err_set(e, CCP_EINVALID, "unknown ccp_trust_options version %u (ccp_pull_options.trust)",
				   o->trust.version);
	if (o->kbs.version != CCP_KBS_OPTIONS_VERSION)
		return ccp_err_set(e, CCP_EINVALID, "unknown ccp_kbs_options version %u (ccp_pull_options.kbs)",
				   o->kbs.version);
	if (o->store.version != CCP_STORE_OPTIONS_VERSION)
		return ccp_err_set(e, CCP_EINVALID, "unknown ccp_store_options version %u (ccp_pull_options.store)",
				   o->store.version);
	return 0;
}
