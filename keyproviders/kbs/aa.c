/*
 * The aa attester: evidence from the attestation agent (guest-components) over its ttrpc socket,
 * as guest-components' kbs_protocol AA evidence provider
 * (attestation-agent/kbs_protocol/src/evidence_provider/aa_ttrpc.rs) asks for it: GetTeeType for the
 * auth request's tee, GetEvidence{RuntimeData} for the primary evidence, whose Evidence bytes are
 * the JSON document sent to the KBS as is. The AA binds the runtime data digest into its TEE's
 * report itself.
 */
#include "kbs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attestation_agent.pb-c.h"
#include "ttrpc/ttrpc.h"
#include "util/json.h"

#define AA_SERVICE "attestation_agent.AttestationAgentService"
#define AA_TIMEOUT_S 50                  /* kbs_protocol's AA_TTRPC_TIMEOUT_SECONDS */
#define AA_RESPONSE_MAX (CCP_KBS_RESOURCE_MAX + 4096)

/* One call; on 0 *resp holds an OK response (free it). */
static int aa_call(Ttrpc__Response **resp, const char *sock, const char *method, const uint8_t *req, size_t len,
		   ccp_err *e)
{
	char msg[512];

	if (ttrpc_call(sock, AA_SERVICE, method, req, len, AA_TIMEOUT_S, AA_RESPONSE_MAX, resp, msg, sizeof(msg)))
		return ccp_err_set(e, CCP_EDECRYPT, "attestation agent at %s: %s: %s", sock, method, msg);
	if ((*resp)->status && (*resp)->status->code != RPC_OK) {
		int r = ccp_err_set(e, CCP_EDECRYPT, "attestation agent at %s: %s: %s: %.300s", sock, method,
				    ttrpc_code_name((*resp)->status->code),
				    (*resp)->status->message ? (*resp)->status->message : "");
		ttrpc__response__free_unpacked(*resp, NULL);
		*resp = NULL;
		return r;
	}
	return 0;
}

int ccp_aa_tee(char out[CCP_AA_TEE_MAX], const char *aa_socket, ccp_err *e)
{
	const char *sock = aa_socket ? aa_socket : CCP_AA_SOCKET;
	AttestationAgent__GetTeeTypeRequest req = ATTESTATION_AGENT__GET_TEE_TYPE_REQUEST__INIT;
	AttestationAgent__GetTeeTypeResponse *res = NULL;
	Ttrpc__Response *resp = NULL;
	uint8_t buf[16];
	size_t n, len;
	int r = 0;

	out[0] = '\0';
	n = attestation_agent__get_tee_type_request__pack(&req, buf);
	if ((r = aa_call(&resp, sock, "GetTeeType", buf, n, e)))
		return r;
	res = attestation_agent__get_tee_type_response__unpack(NULL, resp->payload.len, resp->payload.data);
	len = res && res->tee ? strlen(res->tee) : 0;
	/* Trustee's tee names (kbs_types::Tee) are short lowercase words; the name goes into JSON and messages */
	if (len == 0 || len >= CCP_AA_TEE_MAX || strspn(res->tee, "abcdefghijklmnopqrstuvwxyz0123456789") != len)
		r = ccp_err_set(e, CCP_EDECRYPT, "attestation agent at %s: GetTeeType: %s", sock,
				res ? "not a TEE name" : "malformed GetTeeTypeResponse");
	else
		memcpy(out, res->tee, len + 1);
	if (res)
		attestation_agent__get_tee_type_response__free_unpacked(res, NULL);
	ttrpc__response__free_unpacked(resp, NULL);
	return r;
}

int ccp_aa_evidence(json_t **out, const char *aa_socket, const unsigned char *rd, size_t rd_len, ccp_err *e)
{
	const char *sock = aa_socket ? aa_socket : CCP_AA_SOCKET;
	AttestationAgent__GetEvidenceRequest req = ATTESTATION_AGENT__GET_EVIDENCE_REQUEST__INIT;
	AttestationAgent__GetEvidenceResponse *res = NULL;
	Ttrpc__Response *resp = NULL;
	uint8_t buf[128];
	size_t n;
	int r;

	*out = NULL;
	if (rd_len > 64)
		return ccp_err_set(e, CCP_EDECRYPT, "report data of %zu bytes, more than 64", rd_len);
	req.runtimedata.data = (uint8_t *)rd;
	req.runtimedata.len = rd_len;
	n = attestation_agent__get_evidence_request__pack(&req, buf);
	if ((r = aa_call(&resp, sock, "GetEvidence", buf, n, e)))
		return r;
	if (!(res = attestation_agent__get_evidence_response__unpack(NULL, resp->payload.len, resp->payload.data)))
		r = ccp_err_set(e, CCP_EDECRYPT, "attestation agent at %s: GetEvidence: malformed GetEvidenceResponse", sock);
	else if ((r = ccp_json_parse(out, res->evidence.data, res->evidence.len, CCP_KBS_RESOURCE_MAX,
				     "attestation agent evidence", CCP_EDECRYPT, e)))
		ccp_err_wrap(e, "attestation agent at %s: GetEvidence", sock);
	if (res)
		attestation_agent__get_evidence_response__free_unpacked(res, NULL);
	ttrpc__response__free_unpacked(resp, NULL);
	return r;
}
