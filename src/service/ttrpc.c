/* ttrpc frames and the Request/Response envelope (see ttrpc.h). */
#include "ttrpc.h"

#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 256
#define STATUS_MESSAGE_MAX 4096

void ttrpc_header_decode(ttrpc_header *h, const uint8_t b[TTRPC_HEADER_LEN])
{
	h->length = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	h->stream_id = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
	h->type = b[8];
	h->flags = b[9];
}

void ttrpc_header_encode(uint8_t b[TTRPC_HEADER_LEN], const ttrpc_header *h)
{
	b[0] = (uint8_t)(h->length >> 24);
	b[1] = (uint8_t)(h->length >> 16);
	b[2] = (uint8_t)(h->length >> 8);
	b[3] = (uint8_t)h->length;
	b[4] = (uint8_t)(h->stream_id >> 24);
	b[5] = (uint8_t)(h->stream_id >> 16);
	b[6] = (uint8_t)(h->stream_id >> 8);
	b[7] = (uint8_t)h->stream_id;
	b[8] = h->type;
	b[9] = h->flags;
}

static int valid_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > NAME_MAX_LEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

Ttrpc__Request *ttrpc_request_decode(const uint8_t *data, size_t len)
{
	Ttrpc__Request *req;

	if (len > TTRPC_DATA_MAX)
		return NULL;
	req = ttrpc__request__unpack(NULL, len, data);
	if (req && (!valid_name(req->service) || !valid_name(req->method))) {
		ttrpc__request__free_unpacked(req, NULL);
		return NULL;
	}
	return req;
}

int ttrpc_response_frame(uint8_t **out, size_t *out_len, uint32_t stream_id, int code, const char *message,
			 const uint8_t *payload, size_t payload_len)
{
	Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
	Ttrpc__Status st = TTRPC__STATUS__INIT;
	char msg[STATUS_MESSAGE_MAX + 1];
	ttrpc_header h = { 0, stream_id, TTRPC_TYPE_RESPONSE, 0 };
	size_t n;
	uint8_t *buf;

	*out = NULL;
	*out_len = 0;
	/* cut on a UTF-8 boundary: proto3 strings must stay valid UTF-8 */
	n = message ? strnlen(message, STATUS_MESSAGE_MAX) : 0;
	if (message && message[n])
		while (n && ((unsigned char)message[n] & 0xc0) == 0x80)
			n--;
	memcpy(msg, message ? message : "", n);
	msg[n] = '\0';
	st.code = code;
	st.message = msg;
	resp.status = &st;
	resp.payload.data = (uint8_t *)payload;
	resp.payload.len = payload ? payload_len : 0;
	n = ttrpc__response__get_packed_size(&resp);
	if (n > TTRPC_DATA_MAX)
		return -1;
	if (!(buf = malloc(TTRPC_HEADER_LEN + n)))
		return -1;
	h.length = (uint32_t)n;
	ttrpc_header_encode(buf, &h);
	ttrpc__response__pack(&resp, buf + TTRPC_HEADER_LEN);
	*out = buf;
	*out_len = TTRPC_HEADER_LEN + n;
	return 0;
}

int ttrpc_request_frame(uint8_t **out, size_t *out_len, uint32_t stream_id, const char *service,
			const char *method, const uint8_t *payload, size_t payload_len, int64_t timeout_nano)
{
	Ttrpc__Request req = TTRPC__REQUEST__INIT;
	ttrpc_header h = { 0, stream_id, TTRPC_TYPE_REQUEST, 0 };
	size_t n;
	uint8_t *buf;

	*out = NULL;
	*out_len = 0;
	req.service = (char *)service;
	req.method = (char *)method;
	req.payload.data = (uint8_t *)payload;
	req.payload.len = payload ? payload_len : 0;
	req.timeout_nano = timeout_nano;
	n = ttrpc__request__get_packed_size(&req);
	if (n > TTRPC_DATA_MAX || !(buf = malloc(TTRPC_HEADER_LEN + n)))
		return -1;
	h.length = (uint32_t)n;
	ttrpc_header_encode(buf, &h);
	ttrpc__request__pack(&req, buf + TTRPC_HEADER_LEN);
	*out = buf;
	*out_len = TTRPC_HEADER_LEN + n;
	return 0;
}

Ttrpc__Response *ttrpc_response_decode(const uint8_t *data, size_t len)
{
	if (len > TTRPC_DATA_MAX)
		return NULL;
	return ttrpc__response__unpack(NULL, len, data);
}

const char *ttrpc_code_name(int code)
{
	static const char *const names[] = {
		"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
		"PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
		"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"
	};

	if (code < 0 || (size_t)code >= sizeof(names) / sizeof(names[0]))
		return "UNKNOWN";
	return names[code];
}
