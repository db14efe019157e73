/*
 * The aa attester: evidence from the attestation agent (guest-components) over its ttrpc socket,
 * as guest-components' kbs_protocol AA evidence provider
 * (attestation-agent/kbs_protocol/src/evidence_provider/aa_ttrpc.rs) asks for it: GetTeeType for the
 * auth request's tee, GetEvidence{RuntimeData} for the primary evidence, whose Evidence bytes are
 * the JSON document sent to the KBS as is. The AA binds the runtime data digest into its TEE's
 * report itself.
 *
 * And the token path, as CDH's cc_kbc reaches the KBS (confidential-data-hub/kms/src/plugins/kbs/cc_kbc.rs
 * through attestation-agent/kbs_protocol/src/token_provider/aa/mod.rs): GetToken{TokenType "kbs"}
 * makes the AA attest to the KBS itself (with its init-data and additional device evidence) and
 * answer {"token": JWT, "tee_keypair": PEM} (attestation-agent/attestation-agent/src/token/kbs.rs);
 * the token then authorizes resource requests and the key opens their JWEs.
 */
#include "kbs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "attestation_agent.pb-c.h"
#include "ttrpc/ttrpc.h"
#include "util/json.h"

#define AA_SERVICE "attestation_agent.AttestationAgentService"
#define AA_TIMEOUT_S 50                  /* kbs_protocol's AA_TTRPC_TIMEOUT_SECONDS */
#define AA_RESPONSE_MAX (CCP_KBS_RESOURCE_MAX + 4096)

/* One call; on 0 *resp holds an OK response (free it); code (may be NULL) gets a non-OK status's code. */
static int aa_call(Ttrpc__Response **resp, const char *sock, const char *method, const uint8_t *req, size_t len,
		   int *code, ccp_err *e)
{
	char msg[512];

	if (code)
		*code = RPC_OK;
	if (ccp_ttrpc_call(sock, AA_SERVICE, method, req, len, AA_TIMEOUT_S, AA_RESPONSE_MAX, resp, msg, sizeof(msg)))
		return ccp_err_set(e, CCP_EDECRYPT, "attestation agent at %s: %s: %s", sock, method, msg);
	if ((*resp)->status && (*resp)->status->code != RPC_OK) {
		int r;
		if (code)
			*code = (*resp)->status->code;
		r = ccp_err_set(e, CCP_EDECRYPT, "attestation agent at %s: %s: %s: %.300s", sock, method,
				    ccp_ttrpc_code_name((*resp)->status->code),
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
	if ((r = aa_call(&resp, sock, "GetTeeType", buf, n, NULL, e)))
		return r;
	res = attestation_agent__get_tee_type_response__unpack(NULL, resp->payload.len, resp->payload.data);
	len = res && res->tee ? strlen(res->tee) : 0;
	/* Trustee's tee names (kbs_types::Tee, serde kebab-case: "tdx", "az-snp-vtpm") are short lowercase
	 * words joined by '-'; the name goes into JSON and messages */
	if (len == 0 || len >= CCP_AA_TEE_MAX || strspn(res->tee, "abcdefghijklmnopqrstuvwxyz0123456789-") != len ||
	    res->tee[0] == '-' || res->tee[len - 1] == '-')
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
	if ((r = aa_call(&resp, sock, "GetEvidence", buf, n, NULL, e)))
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

int ccp_aa_token_parse(char **token, int64_t *exp, void **key, const void *data, size_t len, ccp_err *e)
{
	static const char what[] = "attestation agent token";
	json_t *j = NULL;
	const char *pem = NULL;
	BIO *bio = NULL;
	EVP_PKEY *pk = NULL;
	int r;

	*token = NULL;
	*exp = 0;
	*key = NULL;
	/* the token alone is checked as a KBS attest answer's is ({"token": non-empty string}) */
	if ((r = ccp_kbs_parse_token(token, exp, data, len, e)))
		return ccp_err_wrap(e, "%s", what);
	if ((r = ccp_json_parse(&j, data, len, CCP_AA_TOKEN_MAX, what, CCP_EDECRYPT, e)))
		goto out;
	if ((r = ccp_json_get_string(j, "tee_keypair", 1, &pem, what, CCP_EDECRYPT, e)))
		goto out;
	if (!*pem || strlen(pem) != json_string_length(json_object_get(j, "tee_keypair"))) {
		r = ccp_err_set(e, CCP_EDECRYPT, "%s: empty tee_keypair", what);
		goto out;
	}
	/* PKCS#8 (EC, kbs_protocol's default) or PKCS#1 (RSA) PEM, as TeeKeyPair::to_pem writes them */
	if (!(bio = BIO_new_mem_buf(pem, (int)strlen(pem)))) {
		r = ccp_err_oom(e);
		goto out;
	}
	pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (!pk || (EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC && EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA)) {
		r = ccp_err_set(e, CCP_EDECRYPT, "%s: tee_keypair is not an EC or RSA private key in PEM", what);
		goto out;
	}
	*key = pk;
	pk = NULL;
out:
	BIO_free(bio);
	EVP_PKEY_free(pk);
	/* jansson frees its copies without wiping */
	if (pem)
		OPENSSL_cleanse((char *)pem, strlen(pem));
	if (j && json_is_string(json_object_get(j, "token")))
		OPENSSL_cleanse((char *)json_string_value(json_object_get(j, "token")),
				json_string_length(json_object_get(j, "token")));
	json_decref(j);
	if (r && *token) {
		OPENSSL_cleanse(*token, strlen(*token));
		free(*token);
		*token = NULL;
		*exp = 0;
	}
	return r;
}

int ccp_aa_token(char **token, int64_t *exp, void **key, int *unimplemented, const char *aa_socket, ccp_err *e)
{
	const char *sock = aa_socket ? aa_socket : CCP_AA_SOCKET;
	AttestationAgent__GetTokenRequest req = ATTESTATION_AGENT__GET_TOKEN_REQUEST__INIT;
	AttestationAgent__GetTokenResponse *res = NULL;
	Ttrpc__Response *resp = NULL;
	uint8_t buf[16];
	size_t n;
	int r, code;

	*token = NULL;
	*exp = 0;
	*key = NULL;
	*unimplemented = 0;
	req.tokentype = "kbs";
	n = attestation_agent__get_token_request__pack(&req, buf);
	if ((r = aa_call(&resp, sock, "GetToken", buf, n, &code, e))) {
		*unimplemented = code == RPC_UNIMPLEMENTED;
		return r;
	}
	if (!(res = attestation_agent__get_token_response__unpack(NULL, resp->payload.len, resp->payload.data)))
		r = ccp_err_set(e, CCP_EDECRYPT, "attestation agent at %s: GetToken: malformed GetTokenResponse", sock);
	else if ((r = ccp_aa_token_parse(token, exp, key, res->token.data, res->token.len, e)))
		ccp_err_wrap(e, "attestation agent at %s: GetToken", sock);
	/* the answer holds the TEE's private key: wipe every copy */
	if (res) {
		if (res->token.data)
			OPENSSL_cleanse(res->token.data, res->token.len);
		attestation_agent__get_token_response__free_unpacked(res, NULL);
	}
	if (resp->payload.data)
		OPENSSL_cleanse(resp->payload.data, resp->payload.len);
	ttrpc__response__free_unpacked(resp, NULL);
	return r;
}
