/*
 * ttrpc framing (github.com/containerd/ttrpc, PROTOCOL.md): a 10-byte header (data length u32 BE,
 * stream id u32 BE, type u8, flags u8) and at most 4 MiB of data. Request frames carry a
 * ttrpc.Request, response frames a ttrpc.Response whose status is a google.rpc.Status.
 *
 * Used by the library (the attestation agent's API for the KBS client, and the keyprovider "ttrpc"
 * transport, keyproviders/ttrpc) and by `ccpull serve` (its server, the forwarding of methods it does
 * not serve, and the AA's runtime measurement). The protobuf-c code of ttrpc.proto and
 * attestation_agent.proto is generated at build time.
 */
#ifndef CCP_TTRPC_TTRPC_H
#define CCP_TTRPC_TTRPC_H

#include <stddef.h>
#include <stdint.h>
#include "ttrpc.pb-c.h"

#define TTRPC_HEADER_LEN 10
#define TTRPC_DATA_MAX (4u << 20) /* ttrpc's messageLengthMax */

enum { TTRPC_TYPE_REQUEST = 1, TTRPC_TYPE_RESPONSE = 2, TTRPC_TYPE_DATA = 3 };

/* google.rpc.Code */
enum {
	RPC_OK = 0, RPC_CANCELLED = 1, RPC_UNKNOWN = 2, RPC_INVALID_ARGUMENT = 3, RPC_DEADLINE_EXCEEDED = 4,
	RPC_NOT_FOUND = 5, RPC_ALREADY_EXISTS = 6, RPC_PERMISSION_DENIED = 7, RPC_RESOURCE_EXHAUSTED = 8,
	RPC_FAILED_PRECONDITION = 9, RPC_ABORTED = 10, RPC_OUT_OF_RANGE = 11, RPC_UNIMPLEMENTED = 12,
	RPC_INTERNAL = 13, RPC_UNAVAILABLE = 14, RPC_DATA_LOSS = 15, RPC_UNAUTHENTICATED = 16
};

typedef struct ttrpc_header {
	uint32_t length;
	uint32_t stream_id;
	uint8_t type;
	uint8_t flags;
} ttrpc_header;

void ccp_ttrpc_header_decode(ttrpc_header *h, const uint8_t b[TTRPC_HEADER_LEN]);
void ccp_ttrpc_header_encode(uint8_t b[TTRPC_HEADER_LEN], const ttrpc_header *h);

/*
 * Decodes the data of a request frame. NULL when it is not a well-formed Request, or when its
 * service or method name is empty, too long or not printable ASCII (names are logged and echoed in
 * statuses). Free with ttrpc__request__free_unpacked(req, NULL).
 */
Ttrpc__Request *ccp_ttrpc_request_decode(const uint8_t *data, size_t len);

/*
 * Builds a whole response frame for stream_id: header + Response{status{code, message}, payload}.
 * message may be NULL; it is cut to 4 KiB (on a UTF-8 boundary). *out is malloc'ed. Returns 0, or -1
 * when out of memory or when the frame would exceed 4 MiB.
 */
int ccp_ttrpc_response_frame(uint8_t **out, size_t *out_len, uint32_t stream_id, int code, const char *message,
			 const uint8_t *payload, size_t payload_len);

/* ---- client side ---- */

/*
 * Builds a whole request frame for stream_id: header + Request{service, method, payload,
 * timeout_nano}. *out is malloc'ed. Returns 0, or -1 when out of memory or over 4 MiB.
 */
int ccp_ttrpc_request_frame(uint8_t **out, size_t *out_len, uint32_t stream_id, const char *service,
			const char *method, const uint8_t *payload, size_t payload_len, int64_t timeout_nano);

/*
 * Decodes the data of a response frame. NULL when it is not a well-formed Response. A missing status
 * means OK. Free with ttrpc__response__free_unpacked(resp, NULL).
 */
Ttrpc__Response *ccp_ttrpc_response_decode(const uint8_t *data, size_t len);

/*
 * One unary call on a new connection to the unix socket sock (stream 1): the request of service and
 * method with payload, waiting at most timeout_s for each read and write; frames of other streams
 * are skipped, a response over max_response bytes is refused. On 0, *out is the decoded response
 * (its status may still be an error; free with ttrpc__response__free_unpacked(*out, NULL)). On -1,
 * msg says what failed, naming the socket (connect, send, no answer, timeout, cut off, malformed).
 */
int ccp_ttrpc_call(const char *sock, const char *service, const char *method, const uint8_t *payload, size_t plen,
	       int timeout_s, size_t max_response, Ttrpc__Response **out, char *msg, size_t mlen);

/* "UNIMPLEMENTED" for RPC_UNIMPLEMENTED; "UNKNOWN" for a code outside google.rpc.Code. */
const char *ccp_ttrpc_code_name(int code);

#endif
