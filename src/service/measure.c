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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "attestation_agent.pb-c.h"
#include "ttrpc.h"

#define AA_SERVICE "attestation_agent.AttestationAgentService"
#define AA_METHOD "ExtendRuntimeMeasurement"
#define AA_TIMEOUT_SEC 10  /* CDH's EXTEND_RUNTIME_MEASUREMENT_TIMEOUT */
#define AA_RESPONSE_MAX (64 * 1024)

static int io_all(int fd, uint8_t *p, size_t n, int writing)
{
	while (n) {
		ssize_t k = writing ? send(fd, p, n, MSG_NOSIGNAL) : read(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Sends one request on a new connection and returns the decoded response of its stream. */
static int call(const char *sock, const uint8_t *payload, size_t plen, Ttrpc__Response **out, char *msg, size_t mlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { AA_TIMEOUT_SEC, 0 };
	uint8_t *frame = NULL, hb[TTRPC_HEADER_LEN], *data = NULL;
	ttrpc_header h;
	size_t n;
	int fd, r = -1;

	*out = NULL;
	if (strlen(sock) >= sizeof(sa.sun_path)) {
		snprintf(msg, mlen, "socket path %.200s is too long", sock);
		return -1;
	}
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(msg, mlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(msg, mlen, "connect to %.200s: %s", sock, strerror(errno));
		goto out;
	}
	if (ttrpc_request_frame(&frame, &n, 1, AA_SERVICE, AA_METHOD, payload, plen,
				(int64_t)AA_TIMEOUT_SEC * 1000000000) != 0) {
		snprintf(msg, mlen, "out of memory");
		goto out;
	}
	errno = 0;
	if (io_all(fd, frame, n, 1) != 0) {
		snprintf(msg, mlen, "send to %.200s: %s", sock, errno ? strerror(errno) : "connection closed");
		goto out;
	}
	/* the answer on stream 1; anything else on the connection is skipped */
	for (;;) {
		errno = 0;
		if (io_all(fd, hb, sizeof(hb), 0) != 0) {
			snprintf(msg, mlen, "no answer from %.200s: %s", sock,
				 errno == EAGAIN ? "timed out" : errno ? strerror(errno) : "connection closed");
			goto out;
		}
		ttrpc_header_decode(&h, hb);
		if (h.length > AA_RESPONSE_MAX) {
			snprintf(msg, mlen, "answer from %.200s is too large (%u bytes)", sock, h.length);
			goto out;
		}
		free(data);
		if (!(data = malloc(h.length ? h.length : 1))) {
			snprintf(msg, mlen, "out of memory");
			goto out;
		}
		if (io_all(fd, data, h.length, 0) != 0) {
			snprintf(msg, mlen, "answer from %.200s cut off", sock);
			goto out;
		}
		if (h.type == TTRPC_TYPE_RESPONSE && h.stream_id == 1)
			break;
	}
	if (!(*out = ttrpc_response_decode(data, h.length)))
		snprintf(msg, mlen, "malformed ttrpc response from %.200s", sock);
	else
		r = 0;
out:
	free(frame);
	free(data);
	close(fd);
	return r;
}

int svc_measure_pull(const char *aa_socket, const char *image_url, const char *digest, char *msg, size_t mlen)
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
	if (call(aa_socket, payload, n, &resp, msg, mlen) != 0)
		goto out;
	if (resp->status && resp->status->code != RPC_OK) {
		snprintf(msg, mlen, "%s: %s: %.512s", AA_METHOD, ttrpc_code_name(resp->status->code),
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
