/*
 * What the key providers share: filling the vtable, and one unwrap over a transport of the ocicrypt
 * keyprovider protocol (cmd, grpc, ttrpc), from the request JSON to the key options of the answer.
 * The answer holds key material: it is wiped after use.
 */
#include "keyproviders/keyproviders.h"

#include <stdio.h>
#include <stdlib.h>

void ccp_keyprovider_init(ccp_keyprovider *kp, ccp_keyprovider_handles_fn handles, ccp_keyprovider_unwrap_fn unwrap,
			  ccp_keyprovider_free_fn free_fn, const char *description)
{
	kp->version = CCP_KEYPROVIDER_VERSION;
	kp->handles = handles;
	kp->unwrap = unwrap;
	kp->free = free_fn;
	kp->description = description;
}

int ccp_keyprovider_transport_unwrap(ccp_keyprovider *kp, const char *scheme, const unsigned char *wrapped,
				     size_t len, const char *dc_json, unsigned char **out, size_t *out_len, char *err,
				     size_t err_len)
{
	ccp_keyprovider_exchange_fn exchange = ((ccp_transport_provider *)kp)->exchange;
	ccp_buf answer = CCP_BUF_INIT(0), opts = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;
	char *req = NULL;
	int r;

	(void)scheme;
	*out = NULL;
	*out_len = 0;
	if (!(r = ccp_keyprovider_request(&req, dc_json, wrapped, len, &e)) && !(r = exchange(kp, req, &answer, &e)) &&
	    !(r = ccp_keyprovider_parse_response(&opts, answer.data ? answer.data : "", answer.len, &e))) {
		*out_len = opts.len;
		*out = (unsigned char *)ccp_buf_detach(&opts);
	}
	if (r)
		snprintf(err, err_len, "%s", e.msg);
	free(req);
	ccp_buf_free_secure(&answer);
	ccp_buf_free_secure(&opts);
	return r;
}
