/*
 * The Confidential Data Hub's other services on the same socket as PullImage, as CDH serves them
 * (guest-components confidential-data-hub/hub/src/bin/ttrpc_server/mod.rs):
 *   api.GetResourceService/GetResource {ResourcePath} -> {Resource}
 *   api.SealedSecretService/UnsealSecret {secret} -> {plaintext}
 *   keyprovider.KeyProviderService/UnWrapKey {KeyProviderKeyWrapProtocolInput} -> {...Output}
 * on the public calls of ccpull/cdh.h, with the KBS settings of the pull options. What they return
 * is a secret: wiped once sent, never logged.
 */
#include "service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "api.pb-c.h"
#include "keyprovider.pb-c.h"
#include "ttrpc/ttrpc.h"

static void get_resource(svc_request *rq);
static void unseal_secret(svc_request *rq);
static void unwrap_key(svc_request *rq);

const svc_method ccp_svc_get_resource_method = { "api.GetResourceService", "GetResource", get_resource };
const svc_method ccp_svc_unseal_secret_method = { "api.SealedSecretService", "UnsealSecret", unseal_secret };
const svc_method ccp_svc_unwrap_key_method = { "keyprovider.KeyProviderService", "UnWrapKey", unwrap_key };

/* google.rpc code for a library error (as PullImage gives them). */
static int rpc_code(int r)
{
	switch (r) {
	case CCP_EINVALID: return RPC_INVALID_ARGUMENT;
	case CCP_EPOLICY: return RPC_PERMISSION_DENIED;
	case CCP_EREGISTRY: return RPC_UNAVAILABLE;
	case CCP_EDECRYPT: return RPC_FAILED_PRECONDITION;
	case CCP_ENOMEM: return RPC_RESOURCE_EXHAUSTED;
	default: return RPC_INTERNAL;
	}
}

/* The pull options of the server, bounded by the request's deadline. */
static void call_options(ccp_pull_options *opts, svc_request *rq)
{
	unsigned int left = ccp_svc_request_seconds_left(rq);

	*opts = *ccp_svc_request_config(rq)->pull;
	opts->progress = NULL;
	opts->progress_payload = NULL;
	if (left && (!opts->timeout_s || left < opts->timeout_s))
		opts->timeout_s = left;
}

/* Replies with the failure of the call on ctx (r) and logs it. */
static void reply_error(svc_request *rq, ccp_context *ctx, int r, const char *method)
{
	const svc_config *cfg = ccp_svc_request_config(rq);
	char msg[1536];

	snprintf(msg, sizeof(msg), "%s (ccpull exit status %d)",
		 ccp_context_last_error(ctx)[0] ? ccp_context_last_error(ctx) : ccp_strerror(r), ccp_exit_status(r));
	ccp_svc_log(cfg, "%s failed: %s", method, msg);
	ccp_svc_reply(rq, rpc_code(r), msg, NULL, 0);
}

/* A context for the call and its options, or NULL after replying that memory ran out. */
static ccp_context *begin_call(svc_request *rq, ccp_pull_options *opts)
{
	ccp_context *ctx;

	if (ccp_context_new(&ctx) != 0) {
		ccp_svc_reply(rq, RPC_RESOURCE_EXHAUSTED, "ccpull: out of memory", NULL, 0);
		return NULL;
	}
	call_options(opts, rq);
	return ctx;
}

/*
 * After the library call (its result r): logs its warnings, on every call and also when quiet, since
 * they are about what the call could trust (under the server's log name, escaped as every log line
 * is); on failure replies with it. Returns r.
 */
static int end_call(svc_request *rq, ccp_context *ctx, int r, const char *method)
{
	for (size_t i = 0; i < ccp_context_warning_count(ctx); i++)
		ccp_svc_warn("%s: warning: %s", method, ccp_context_warning(ctx, i));
	if (r != 0)
		reply_error(rq, ctx, r, method);
	return r;
}

/* Packs a reply holding a secret, sends it and wipes both. */
static void reply_secret(svc_request *rq, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(len ? len : 1);

	if (!buf) {
		ccp_svc_reply(rq, RPC_RESOURCE_EXHAUSTED, "ccpull: out of memory", NULL, 0);
		return;
	}
	protobuf_c_message_pack(msg, buf);
	ccp_svc_reply(rq, RPC_OK, NULL, buf, len);
	OPENSSL_cleanse(buf, len);
	free(buf);
}

static void get_resource(svc_request *rq)
{
	const svc_config *cfg = ccp_svc_request_config(rq);
	Api__GetResourceRequest *in;
	Api__GetResourceResponse out = API__GET_RESOURCE_RESPONSE__INIT;
	ccp_pull_options opts;
	ccp_context *ctx = NULL;
	unsigned char *data = NULL;
	const uint8_t *payload;
	size_t len, dlen = 0;
	int r;

	payload = ccp_svc_request_payload(rq, &len);
	if (!(in = api__get_resource_request__unpack(NULL, len, payload))) {
		ccp_svc_reply(rq, RPC_INVALID_ARGUMENT, "malformed GetResourceRequest", NULL, 0);
		return;
	}
	if (!(ctx = begin_call(rq, &opts)))
		goto out;
	ccp_svc_log(cfg, "GetResource %s", in->resourcepath);
	r = ccp_resource_get(&data, &dlen, ctx, in->resourcepath, &opts);
	if (end_call(rq, ctx, r, "GetResource") != 0)
		goto out;
	out.resource.data = data;
	out.resource.len = dlen;
	ccp_svc_log(cfg, "GetResource %s: %zu bytes", in->resourcepath, dlen);
	reply_secret(rq, &out.base);
out:
	ccp_cdh_free(data, dlen);
	ccp_context_free(ctx);
	api__get_resource_request__free_unpacked(in, NULL);
}

static void unseal_secret(svc_request *rq)
{
	const svc_config *cfg = ccp_svc_request_config(rq);
	const char *env_skip = getenv("SKIP_SEALED_SECRET_VERIFICATION"), *env_dir = getenv("CCPULL_SEALED_SECRET_DIR");
	Api__UnsealSecretInput *in;
	Api__UnsealSecretOutput out = API__UNSEAL_SECRET_OUTPUT__INIT;
	ccp_secret_options sopts = CCP_SECRET_OPTIONS_INIT;
	ccp_pull_options opts;
	ccp_context *ctx = NULL;
	unsigned char *data = NULL;
	const uint8_t *payload;
	size_t len, dlen = 0;
	int r;

	payload = ccp_svc_request_payload(rq, &len);
	if (!(in = api__unseal_secret_input__unpack(NULL, len, payload))) {
		ccp_svc_reply(rq, RPC_INVALID_ARGUMENT, "malformed UnsealSecretInput", NULL, 0);
		return;
	}
	if (!(ctx = begin_call(rq, &opts)))
		goto out;
	/* CDH's switch: its config key sets this variable, which its unsealing reads */
	sopts.skip_verification = cfg->skip_sealed_secret_verification || (env_skip && strcmp(env_skip, "true") == 0);
	sopts.keys_dir = cfg->sealed_secret_dir ? cfg->sealed_secret_dir : env_dir && env_dir[0] ? env_dir : NULL;
	ccp_svc_log(cfg, "UnsealSecret (%zu bytes%s)", in->secret.len,
		sopts.skip_verification ? ", signature not checked: skip_sealed_secret_verification" : "");
	r = ccp_secret_unseal(&data, &dlen, ctx, in->secret.data, in->secret.len, &sopts, &opts);
	if (end_call(rq, ctx, r, "UnsealSecret") != 0)
		goto out;
	out.plaintext.data = data;
	out.plaintext.len = dlen;
	ccp_svc_log(cfg, "UnsealSecret: %zu bytes", dlen);
	reply_secret(rq, &out.base);
out:
	ccp_cdh_free(data, dlen);
	ccp_context_free(ctx);
	api__unseal_secret_input__free_unpacked(in, NULL);
}

static void unwrap_key(svc_request *rq)
{
	const svc_config *cfg = ccp_svc_request_config(rq);
	Keyprovider__KeyProviderKeyWrapProtocolInput *in;
	Keyprovider__KeyProviderKeyWrapProtocolOutput out = KEYPROVIDER__KEY_PROVIDER_KEY_WRAP_PROTOCOL_OUTPUT__INIT;
	ccp_pull_options opts;
	ccp_context *ctx = NULL;
	unsigned char *data = NULL;
	const uint8_t *payload;
	size_t len, dlen = 0;
	int r;

	payload = ccp_svc_request_payload(rq, &len);
	if (!(in = keyprovider__key_provider_key_wrap_protocol_input__unpack(NULL, len, payload))) {
		ccp_svc_reply(rq, RPC_INVALID_ARGUMENT, "malformed KeyProviderKeyWrapProtocolInput", NULL, 0);
		return;
	}
	if (!(ctx = begin_call(rq, &opts)))
		goto out;
	ccp_svc_log(cfg, "UnWrapKey (%zu bytes)", in->keyproviderkeywrapprotocolinput.len);
	r = ccp_key_unwrap(&data, &dlen, ctx, in->keyproviderkeywrapprotocolinput.data,
			   in->keyproviderkeywrapprotocolinput.len, &opts);
	if (end_call(rq, ctx, r, "UnWrapKey") != 0)
		goto out;
	out.keyproviderkeywrapprotocoloutput.data = data;
	out.keyproviderkeywrapprotocoloutput.len = dlen;
	ccp_svc_log(cfg, "UnWrapKey: key unwrapped");
	reply_secret(rq, &out.base);
out:
	ccp_cdh_free(data, dlen);
	ccp_context_free(ctx);
	keyprovider__key_provider_key_wrap_protocol_input__free_unpacked(in, NULL);
}
