/* ttrpc frames, the Request/Response envelope and a unary client call (see ttrpc.h). */
#include "ttrpc/ttrpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define NAME_MAX_LEN 256
#define STATUS_MESSAGE_MAX 4096

void ccp_ttrpc_header_decode(ttrpc_header *h, const uint8_t b[TTRPC_HEADER_LEN])
{
	h->length = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	h->stream_id = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
	h->type = b[8];
	h->flags = b[9];
}

void ccp_ttrpc_header_encode(uint8_t b[TTRPC_HEADER_LEN], const ttrpc_header *h)
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

Ttrpc__Request *ccp_ttrpc_request_decode(const uint8_t *data, size_t len)
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

int ccp_ttrpc_response_frame(uint8_t **out, size_t *out_len, uint32_t stream_id, int code, const char *message,
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
	ccp_ttrpc_header_encode(buf, &h);
	ttrpc__response__pack(&resp, buf + TTRPC_HEADER_LEN);
	*out = buf;
	*out_len = TTRPC_HEADER_LEN + n;
	return 0;
}

int ccp_ttrpc_request_frame(uint8_t **out, size_t *out_len, uint32_t stream_id, const char *service,
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
	ccp_ttrpc_header_encode(buf, &h);
	ttrpc__request__pack(&req, buf + TTRPC_HEADER_LEN);
	*out = buf;
	*out_len = TTRPC_HEADER_LEN + n;
	return 0;
}

Ttrpc__Response *ccp_ttrpc_response_decode(const uint8_t *data, size_t len)
{
	if (len > TTRPC_DATA_MAX)
		return NULL;
	return ttrpc__response__unpack(NULL, len, data);
}

const char *ccp_ttrpc_code_name(int code)
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

int ccp_ttrpc_call(const char *sock, const char *service, const char *method, const uint8_t *payload, size_t plen,
	       int timeout_s, size_t max_response, Ttrpc__Response **out, char *msg, size_t mlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { timeout_s, 0 };
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
	if (ccp_ttrpc_request_frame(&frame, &n, 1, service, method, payload, plen, (int64_t)timeout_s * 1000000000) != 0) {
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
		ccp_ttrpc_header_decode(&h, hb);
		if (h.length > max_response || h.length > TTRPC_DATA_MAX) {
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
	if (!(*out = ccp_ttrpc_response_decode(data, h.length)))
		snprintf(msg, mlen, "malformed ttrpc response from %.200s", sock);
	else
		r = 0;
out:
	free(frame);
	free(data);
	close(fd);
	return r;
}
