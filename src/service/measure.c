/*
 * After a pull: attestation_agent.AttestationAgentService/ExtendRuntimeMeasurement on the attestation
 * agent's ttrpc socket, with the event CDH records (guest-components confidential-data-hub hub.rs,
 * following Trustee's confidential-containers event log spec), so that the image is attested.
 */
#include "service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "attestation_agent.pb-c.h"
#include "ttrpc/ttrpc.h"

#define AA_SERVICE "attestation_agent.AttestationAgentService"
#define AA_METHOD "ExtendRuntimeMeasurement"
#define AA_TIMEOUT_SEC 10  /* CDH's EXTEND_RUNTIME_MEASUREMENT_TIMEOUT */
#define AA_RESPONSE_MAX (64 * 1024)

int ccp_svc_measure_pull(const char *aa_socket, const char *image_url, const char *digest, char *msg, size_t mlen)
{
	AttestationAgent__ExtendRuntimeMeasurementRequest req = ATTESTATION_AGENT__EXTEND_RUNTIME_MEASUREMENT_REQUEST__INIT;
	AttestationAgent__ExtendRuntimeMeasurementResponse *res = NULL;
	Ttrpc__Response *resp = NULL;
	struct stat st;
	uint8_t *payload = NULL;
	char *content = NULL;
	size_t n;
	int r = -1;

	msg[0] = '\0';
	/* as CDH: no attestation agent, nothing to record */
	if (!aa_socket || (stat(aa_socket, &st) != 0 && errno == ENOENT))
		return 1;
	/* CDH's exact text; image_url is a valid docker reference here (it was pulled), so it is valid JSON */
	n = strlen(image_url) + strlen(digest) + 32;
	if (!(content = malloc(n))) {
		snprintf(msg, mlen, "out of memory");
		return -1;
	}
	snprintf(content, n, "{\"image\":\"%s\", \"digest\":\"%s\"}", image_url, digest);
	req.domain = "github.com/confidential-containers";
	req.operation = "PullImage";
	req.content = content;
	n = attestation_agent__extend_runtime_measurement_request__get_packed_size(&req);
	if (!(payload = malloc(n ? n : 1))) {
		snprintf(msg, mlen, "out of memory");
		goto out;
	}
	attestation_agent__extend_runtime_measurement_request__pack(&req, payload);
	if (ccp_ttrpc_call(aa_socket, AA_SERVICE, AA_METHOD, payload, n, AA_TIMEOUT_SEC, AA_RESPONSE_MAX, &resp, msg, mlen) != 0)
		goto out;
	if (resp->status && resp->status->code != RPC_OK) {
		snprintf(msg, mlen, "%s: %s: %.512s", AA_METHOD, ccp_ttrpc_code_name(resp->status->code),
			 resp->status->message ? resp->status->message : "");
		goto out;
	}
	if (!(res = attestation_agent__extend_runtime_measurement_response__unpack(NULL, resp->payload.len,
										   resp->payload.data))) {
		snprintf(msg, mlen, "%s: malformed ExtendRuntimeMeasurementResponse", AA_METHOD);
		goto out;
	}
	/* as CDH: a platform without runtime measurement, or an AA with it disabled, is not an error */
	if (res->result == ATTESTATION_AGENT__RUNTIME_MEASUREMENT_RESULT__NOT_SUPPORTED)
		snprintf(msg, mlen, "this platform does not support runtime measurement: the pull is not recorded");
	else if (res->result == ATTESTATION_AGENT__RUNTIME_MEASUREMENT_RESULT__NOT_ENABLED)
		snprintf(msg, mlen, "runtime measurement is not enabled in the attestation agent: the pull is not recorded");
	r = 0;
out:
	if (res)
		attestation_agent__extend_runtime_measurement_response__free_unpacked(res, NULL);
	if (resp)
		ttrpc__response__free_unpacked(resp, NULL);
	free(payload);
	free(content);
	return r;
}
