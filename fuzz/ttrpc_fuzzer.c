/*
 * Fuzzes what `ccpull serve` reads from a client: a stream of ttrpc frames, the Request envelope
 * and the ImagePullRequest inside it. Each accepted request is answered with a response frame that
 * must decode back to the same status.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ttrpc/ttrpc.h"
#include "api.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_response(uint32_t stream_id, const char *message, const uint8_t *payload, size_t len)
{
	uint8_t *frame;
	size_t n;
	ttrpc_header h;
	Ttrpc__Response *resp;

	if (ccp_ttrpc_response_frame(&frame, &n, stream_id, RPC_UNIMPLEMENTED, message, payload, len) != 0)
		return;
	ccp_ttrpc_header_decode(&h, frame);
	if (h.stream_id != stream_id || h.type != TTRPC_TYPE_RESPONSE || h.length != n - TTRPC_HEADER_LEN)
		__builtin_trap();
	resp = ttrpc__response__unpack(NULL, n - TTRPC_HEADER_LEN, frame + TTRPC_HEADER_LEN);
	if (!resp || !resp->status || resp->status->code != RPC_UNIMPLEMENTED ||
	    strncmp(resp->status->message, message, strlen(resp->status->message)) != 0 ||
	    resp->payload.len != len || (len && memcmp(resp->payload.data, payload, len) != 0))
		__builtin_trap();
	ttrpc__response__free_unpacked(resp, NULL);
	free(frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos = 0;

	if (size > 1024 * 1024)
		return 0;
	while (size - pos >= TTRPC_HEADER_LEN) {
		ttrpc_header h;
		Ttrpc__Request *req;

		ccp_ttrpc_header_decode(&h, data + pos);
		pos += TTRPC_HEADER_LEN;
		if (h.length > TTRPC_DATA_MAX || h.length > size - pos)
			break;
		if (h.type == TTRPC_TYPE_REQUEST && (req = ccp_ttrpc_request_decode(data + pos, h.length))) {
			Api__ImagePullRequest *in = api__image_pull_request__unpack(NULL, req->payload.len,
										   req->payload.data);
			if (in)
				api__image_pull_request__free_unpacked(in, NULL);
			check_response(h.stream_id, req->method, req->payload.data, req->payload.len);
			ttrpc__request__free_unpacked(req, NULL);
		}
		pos += h.length;
	}
	return 0;
}
