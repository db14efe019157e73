/*
 * The keyprovider "ttrpc" transport of ocicrypt-rs (guest-components
 * ocicrypt-rs/src/keywrap/keyprovider/mod.rs, from_ttrpc):
 *   rpc keyprovider.KeyProviderService/UnWrapKey(KeyProviderKeyWrapProtocolInput)
 *       returns (KeyProviderKeyWrapProtocolOutput)
 * (protos/protos/confidential-data-hub/keyprovider.proto), each message one bytes field 1 holding the
 * JSON of the cmd transport, over ttrpc on a unix socket, with ocicrypt-rs's 50 s timeout. The
 * answer holds key material: it is wiped after use.
 *
 * Also the stand-in for a provider ccpull serves in-process (ocicrypt-rs's "native" kind, and kata's
 * "attestation-agent" entry naming the Confidential Data Hub's own socket: ccpull is that hub, so it
 * does not call itself): it is replaced in the keyring by the in-process provider of its scheme, and
 * fails with a message saying what that one needs when there is none.
 */
#include "keyproviders/keyproviders.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "ttrpc/ttrpc.h"

#define KP_SERVICE "keyprovider.KeyProviderService"
#define KP_METHOD "UnWrapKey"
#define KP_TIMEOUT_S 50                   /* ocicrypt-rs's from_ttrpc */
#define KP_MESSAGE_MAX (1u << 20)         /* like the cmd and grpc transports */
#define ADDRESS_MAX 256

typedef struct ttrpc_provider {
	ccp_transport_provider t; /* first: the vtable and the exchange */
	char scheme[300];
	char desc[600];
	char sock[ADDRESS_MAX + 1];
} ttrpc_provider;

int ccp_ttrpc_address(char *out, size_t out_len, const char *name, const char *address, ccp_err *e)
{
	const char *a = address;

	if (strncmp(a, "unix://", 7) == 0)
		a += 7;
	else if (strncmp(a, "unix:", 5) == 0)
		a += 5;
	else
		return ccp_err_set(e, CCP_EINVALID,
				   "key provider \"%.200s\": ttrpc address \"%.200s\" is not unix:///PATH (vsock and "
				   "other transports are not supported)",
				   name, address);
	if (a[0] != '/')
		return ccp_err_set(e, CCP_EINVALID, "key provider \"%.200s\": ttrpc socket \"%.200s\" is not an absolute path",
				   name, address);
	if (strlen(a) >= out_len || strlen(a) > ADDRESS_MAX)
		return ccp_err_set(e, CCP_EINVALID, "key provider \"%.200s\": ttrpc address is too long", name);
	memcpy(out, a, strlen(a) + 1);
	return 0;
}

static int ttrpc_handles(const ccp_keyprovider *kp, const char *scheme)
{
	return strcmp(scheme, ((const ttrpc_provider *)kp)->scheme) == 0;
}

static int ttrpc_exchange(ccp_keyprovider *kp, const char *request, ccp_buf *answer, ccp_err *e)
{
	ttrpc_provider *p = (ttrpc_provider *)kp;
	ccp_buf req = CCP_BUF_INIT(KP_MESSAGE_MAX + 16);
	Ttrpc__Response *resp = NULL;
	const unsigned char *field = NULL;
	size_t field_len = 0;
	char msg[512];
	int r;

	if ((r = ccp_keyprovider_pb_input(&req, request, strlen(request), KP_MESSAGE_MAX, e)))
		goto out;
	if (ccp_ttrpc_call(p->sock, KP_SERVICE, KP_METHOD, (const uint8_t *)req.data, req.len, KP_TIMEOUT_S,
		       KP_MESSAGE_MAX + 64, &resp, msg, sizeof(msg))) {
		r = ccp_err_set(e, CCP_EDECRYPT, "ttrpc %s: %s", KP_METHOD, msg);
		goto out;
	}
	if (resp->status && resp->status->code != RPC_OK) {
		r = ccp_err_set(e, CCP_EDECRYPT, "ttrpc %s: %s: %.300s", KP_METHOD, ccp_ttrpc_code_name(resp->status->code),
				resp->status->message ? resp->status->message : "");
		goto out;
	}
	if ((r = ccp_keyprovider_pb_output(&field, &field_len, resp->payload.data, resp->payload.len,
					   "keyprovider ttrpc answer", e)))
		goto out;
	if (field_len == 0) {
		r = ccp_err_set(e, CCP_EDECRYPT, "keyprovider ttrpc answer is empty");
		goto out;
	}
	if (ccp_buf_append(answer, field, field_len))
		r = ccp_err_oom(e);
out:
	ccp_buf_free(&req);
	if (resp) {
		if (resp->payload.data)
			OPENSSL_cleanse(resp->payload.data, resp->payload.len);
		ttrpc__response__free_unpacked(resp, NULL);
	}
	return r;
}

static void ttrpc_free(ccp_keyprovider *kp)
{
	free(kp);
}

int ccp_ttrpc_provider_new(ccp_keyprovider **out, const char *name, const char *address, ccp_err *e)
{
	ttrpc_provider *p = calloc(1, sizeof(*p));
	int r;

	*out = NULL;
	if (!p)
		return ccp_err_oom(e);
	if ((r = ccp_ttrpc_address(p->sock, sizeof(p->sock), name, address, e))) {
		free(p);
		return r;
	}
	ccp_keyprovider_init(&p->t.base, ttrpc_handles, ccp_keyprovider_transport_unwrap, ttrpc_free, p->desc);
	p->t.exchange = ttrpc_exchange;
	snprintf(p->scheme, sizeof(p->scheme), "provider.%.250s", name);
	snprintf(p->desc, sizeof(p->desc), "provider:%.250s (ttrpc %.250s)", name, address);
	*out = &p->t.base;
	return 0;
}

/* ---- a provider served in-process ---- */

static int inprocess_unwrap(ccp_keyprovider *kp, const char *scheme, const unsigned char *wrapped, size_t len,
			    const char *dc_json, unsigned char **out, size_t *out_len, char *err, size_t err_len)
{
	ttrpc_provider *p = (ttrpc_provider *)kp;

	(void)wrapped;
	(void)len;
	(void)dc_json;
	*out = NULL;
	*out_len = 0;
	if (strcmp(scheme, "provider.attestation-agent") == 0)
		snprintf(err, err_len,
			 "ccpull unwraps these keys in-process, with the KBS resource the key names: no KBS is "
			 "configured (--kbs URL, [kbc] url, AA_KBC_PARAMS) nor offline resources (--kbs-resources)");
	else
		snprintf(err, err_len, "only the \"attestation-agent\" key provider is served in-process, not %.200s",
			 p->scheme);
	return CCP_EDECRYPT;
}

int ccp_inprocess_provider_new(ccp_keyprovider **out, const char *name, const char *how, ccp_err *e)
{
	ttrpc_provider *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return ccp_err_oom(e);
	ccp_keyprovider_init(&p->t.base, ttrpc_handles, inprocess_unwrap, ttrpc_free, p->desc);
	snprintf(p->scheme, sizeof(p->scheme), "provider.%.250s", name);
	snprintf(p->desc, sizeof(p->desc), "provider:%.250s (%.300s, in-process)", name, how);
	*out = &p->t.base;
	return 0;
}
