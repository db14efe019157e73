/*
 * The keyprovider "grpc" transport (containers/ocicrypt utils/keyprovider/keyprovider.proto):
 *   rpc keyprovider.KeyProviderService/UnWrapKey(keyProviderKeyWrapProtocolInput)
 *       returns (keyProviderKeyWrapProtocolOutput)
 * where each message has one field, bytes = 1, holding the same JSON as the cmd transport.
 * Unary gRPC over HTTP/2 cleartext with prior knowledge (what grpc.WithInsecure() speaks), through
 * libcurl: the request is one length-prefixed message, the answer one message followed by the
 * trailers grpc-status and grpc-message. The two one-field messages are encoded by hand: a
 * generated protobuf library would add a dependency for five lines of varint code. The answer holds
 * key material: it is wiped after use.
 */
#include "keyproviders/keyproviders.h"
#include "util/curl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#define GRPC_PATH "/keyprovider.KeyProviderService/UnWrapKey"
#define GRPC_MESSAGE_MAX (1u << 20)          /* like the cmd transport's output cap */
#define GRPC_BODY_MAX (GRPC_MESSAGE_MAX + 5)
#define CONNECT_TIMEOUT_S 15L
#define REQUEST_TIMEOUT_S 60L
#define ADDRESS_MAX 256

typedef struct grpc_provider {
	ccp_transport_provider t; /* first: the vtable and the exchange */
	char scheme[300];
	char desc[600];
	char url[ADDRESS_MAX + sizeof("http://") + sizeof(GRPC_PATH)];
	char unix_path[ADDRESS_MAX + 1];    /* unix socket, or "" for TCP */
} grpc_provider;

/* ---- framing and the one-field messages ---- */

static void put_varint(unsigned char *p, size_t *n, uint64_t v)
{
	while (v >= 0x80) {
		p[(*n)++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[(*n)++] = (unsigned char)v;
}

int ccp_keyprovider_pb_input(ccp_buf *out, const void *payload, size_t len, size_t max, ccp_err *e)
{
	unsigned char hdr[1 + 10];
	size_t n = 0;

	if (len > max)
		return ccp_err_set(e, CCP_EINVALID, "keyprovider request of %zu bytes is too large", len);
	hdr[n++] = 0x0a; /* field 1, wire type 2 (length-delimited) */
	put_varint(hdr, &n, len);
	if (ccp_buf_append(out, hdr, n) || ccp_buf_append(out, payload, len))
		return ccp_err_oom(e);
	return 0;
}

int ccp_grpc_frame_request(ccp_buf *out, const void *payload, size_t len, ccp_err *e)
{
	static const unsigned char uncompressed[5];
	size_t start = out->len, msg_len;
	unsigned char *hdr;
	int r;

	if (ccp_buf_append(out, uncompressed, sizeof(uncompressed)))
		return ccp_err_oom(e);
	if ((r = ccp_keyprovider_pb_input(out, payload, len, GRPC_MESSAGE_MAX, e))) {
		out->len = start;
		return r;
	}
	msg_len = out->len - start - sizeof(uncompressed);
	hdr = (unsigned char *)out->data + start;
	hdr[1] = (unsigned char)(msg_len >> 24);
	hdr[2] = (unsigned char)(msg_len >> 16);
	hdr[3] = (unsigned char)(msg_len >> 8);
	hdr[4] = (unsigned char)msg_len;
	return 0;
}

static int get_varint(const unsigned char *p, size_t len, size_t *off, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		unsigned char c;
		if (*off >= len)
			return -1;
		c = p[(*off)++];
		if (shift == 63 && c > 1)
			return -1;
		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return 0;
	}
	return -1;
}

int ccp_keyprovider_pb_output(const unsigned char **field, size_t *field_len, const unsigned char *p, size_t len,
			      const char *what, ccp_err *e)
{
	size_t off = 0;

	*field = NULL;
	*field_len = 0;
	while (off < len) {
		uint64_t key, v;
		unsigned wt;
		if (get_varint(p, len, &off, &key) || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
			return ccp_err_set(e, CCP_EDECRYPT, "%s: bad protobuf field key at byte %zu", what, off);
		wt = (unsigned)(key & 7);
		if ((key >> 3) == 1 && wt != 2)
			return ccp_err_set(e, CCP_EDECRYPT, "%s: field 1 is not of type bytes", what);
		switch (wt) {
		case 0:
			if (get_varint(p, len, &off, &v))
				return ccp_err_set(e, CCP_EDECRYPT, "%s: truncated varint", what);
			break;
		case 1:
		case 5:
			if (len - off < (wt == 1 ? 8u : 4u))
				return ccp_err_set(e, CCP_EDECRYPT, "%s: truncated fixed-size field", what);
			off += wt == 1 ? 8 : 4;
			break;
		case 2:
			if (get_varint(p, len, &off, &v) || v > len - off)
				return ccp_err_set(e, CCP_EDECRYPT, "%s: truncated length-delimited field", what);
			if ((key >> 3) == 1) {
				*field = p + off;
				*field_len = (size_t)v;
			}
			off += (size_t)v;
			break;
		default:
			return ccp_err_set(e, CCP_EDECRYPT, "%s: unsupported protobuf wire type %u", what, wt);
		}
	}
	return 0;
}

int ccp_grpc_parse_response(ccp_buf *out, const void *body, size_t len, ccp_err *e)
{
	const unsigned char *p = body, *field;
	size_t msg_len, field_len;
	int r;

	if (len < 5)
		return ccp_err_set(e, CCP_EDECRYPT, "keyprovider gRPC answer has no message (%zu bytes)", len);
	if (p[0] != 0)
		return ccp_err_set(e, CCP_EDECRYPT, "keyprovider gRPC answer is compressed (flag %u), which was not asked for",
				   p[0]);
	msg_len = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
	if (msg_len > GRPC_MESSAGE_MAX)
		return ccp_err_set(e, CCP_EDECRYPT, "keyprovider gRPC message of %zu bytes is too large", msg_len);
	if (msg_len != len - 5)
		return ccp_err_set(e, CCP_EDECRYPT, "keyprovider gRPC answer: message of %zu bytes in %zu bytes of body",
				   msg_len, len - 5);
	if ((r = ccp_keyprovider_pb_output(&field, &field_len, p + 5, msg_len, "keyprovider gRPC answer", e)))
		return r;
	if (field_len == 0)
		return ccp_err_set(e, CCP_EDECRYPT, "keyprovider gRPC answer is empty");
	if (ccp_buf_append(out, field, field_len))
		return ccp_err_oom(e);
	return 0;
}

/* ---- the call ---- */

typedef struct call {
	ccp_buf body;
	int status;           /* grpc-status, -1 until seen */
	char message[256];    /* grpc-message, percent-decoded, printable */
	char content_type[64];
	int over;
} call;

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	call *c = ud;

	if (ccp_buf_append(&c->body, data, size * n)) {
		c->over = 1;
		return 0;
	}
	return size * n;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Keeps a header value: printable ASCII only, percent-escapes decoded when pct (grpc-message). */
static void keep_value(char *dst, size_t n, const char *v, size_t len, int pct)
{
	size_t j = 0;

	for (size_t i = 0; i < len && j + 1 < n; i++) {
		int c = (unsigned char)v[i];
		if (pct && c == '%' && i + 2 < len && hexval(v[i + 1]) >= 0 && hexval(v[i + 2]) >= 0) {
			c = hexval(v[i + 1]) << 4 | hexval(v[i + 2]);
			i += 2;
		}
		if (c >= 0x20 && c < 0x7f)
			dst[j++] = (char)c;
	}
	dst[j] = '\0';
}

/* Headers and, for HTTP/2, the trailers: libcurl hands both to this callback. */
static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
	call *c = ud;
	size_t len = size * n, nl;
	const char *colon = memchr(data, ':', len), *v;

	if (!colon)
		return len;
	nl = (size_t)(colon - data);
	v = colon + 1;
	while (v < data + len && (*v == ' ' || *v == '\t'))
		v++;
	len = (size_t)(data + len - v);
	while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
		len--;
	if (nl == 11 && strncasecmp(data, "grpc-status", nl) == 0) {
		int s = 0;
		for (size_t i = 0; i < len && s >= 0; i++)
			s = v[i] >= '0' && v[i] <= '9' && i < 3 ? s * 10 + (v[i] - '0') : -2;
		c->status = len && s >= 0 ? s : 2; /* unparsable: UNKNOWN */
	} else if (nl == 12 && strncasecmp(data, "grpc-message", nl) == 0) {
		keep_value(c->message, sizeof(c->message), v, len, 1);
	} else if (nl == 12 && strncasecmp(data, "content-type", nl) == 0) {
		keep_value(c->content_type, sizeof(c->content_type), v, len, 0);
	}
	return size * n;
}

static int grpc_call(const grpc_provider *p, const ccp_buf *req, call *c, ccp_err *e)
{
	struct curl_slist *hdrs = NULL, *h;
	char curl_err[CURL_ERROR_SIZE] = "";
	long http = 0;
	CURLcode rc;
	CURL *curl;
	int r = 0;

	if ((r = ccp_curl_init(e)) != 0)
		return r;
	if (!(curl = curl_easy_init()))
		return ccp_err_oom(e);
	const char *const hl[] = { "Content-Type: application/grpc", "TE: trailers", "Expect:",
				   "User-Agent: ccpull/" CCPULL_VERSION };
	for (size_t i = 0; i < sizeof(hl) / sizeof(hl[0]); i++) {
		if (!(h = curl_slist_append(hdrs, hl[i]))) {
			curl_slist_free_all(hdrs);
			curl_easy_cleanup(curl);
			return ccp_err_oom(e);
		}
		hdrs = h;
	}
	curl_easy_setopt(curl, CURLOPT_URL, p->url);
	if (p->unix_path[0])
		curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, p->unix_path);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
	curl_easy_setopt(curl, CURLOPT_PROXY, ""); /* key material goes to the provider directly */
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, REQUEST_TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->data);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->len);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
	if (c->over)
		r = ccp_err_set(e, CCP_EDECRYPT, "gRPC answer larger than %u bytes", GRPC_BODY_MAX);
	else if (rc != CURLE_OK)
		r = ccp_err_set(e, CCP_EDECRYPT, "gRPC call failed: %s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
	else if (http != 200)
		r = ccp_err_set(e, CCP_EDECRYPT, "gRPC call answered HTTP %ld", http);
	else if (c->status < 0)
		r = ccp_err_set(e, CCP_EDECRYPT, "gRPC answer without grpc-status");
	else if (c->status != 0)
		r = ccp_err_set(e, CCP_EDECRYPT, "gRPC status %d%s%s", c->status, c->message[0] ? ": " : "", c->message);
	else if (strncasecmp(c->content_type, "application/grpc", 16) != 0 ||
		 (c->content_type[16] && c->content_type[16] != '+' && c->content_type[16] != ';'))
		r = ccp_err_set(e, CCP_EDECRYPT, "gRPC answer has content-type \"%s\"", c->content_type);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(curl);
	return r;
}

/* ---- the key provider ---- */

static int grpc_handles(const ccp_keyprovider *kp, const char *scheme)
{
	return strcmp(scheme, ((const grpc_provider *)kp)->scheme) == 0;
}

static int grpc_exchange(ccp_keyprovider *kp, const char *request, ccp_buf *answer, ccp_err *e)
{
	ccp_buf req = CCP_BUF_INIT(0);
	call c = { CCP_BUF_INIT(GRPC_BODY_MAX), -1, "", "", 0 };
	int r;

	answer->max = GRPC_MESSAGE_MAX;
	if (!(r = ccp_grpc_frame_request(&req, request, strlen(request), e)) &&
	    !(r = grpc_call((grpc_provider *)kp, &req, &c, e)))
		r = ccp_grpc_parse_response(answer, c.body.data ? c.body.data : "", c.body.len, e);
	ccp_buf_free(&req);
	ccp_buf_free_secure(&c.body);
	return r;
}

static void grpc_free(ccp_keyprovider *kp)
{
	free(kp);
}

/*
 * The address as grpc-go's Dial takes it: "host:port", "[v6]:port", "dns:///host:port", or a unix
 * socket "unix:PATH" / "unix:///ABSPATH". Anything that could change the URL's meaning is refused.
 */
static int parse_address(grpc_provider *p, const char *name, const char *address, ccp_err *e)
{
	const char *a = address;

	if (strlen(address) > ADDRESS_MAX)
		return ccp_err_set(e, CCP_EINVALID, "key provider \"%.200s\": grpc address is too long", name);
	if (strncmp(a, "unix://", 7) == 0 || strncmp(a, "unix:", 5) == 0) {
		a += strncmp(a, "unix://", 7) == 0 ? 7 : 5;
		if (!*a)
			return ccp_err_set(e, CCP_EINVALID, "key provider \"%.200s\": empty unix socket path", name);
		snprintf(p->unix_path, sizeof(p->unix_path), "%s", a);
		snprintf(p->url, sizeof(p->url), "http://localhost%s", GRPC_PATH);
		return 0;
	}
	if (strncmp(a, "dns:///", 7) == 0)
		a += 7;
	else if (strncmp(a, "passthrough:///", 15) == 0)
		a += 15;
	if (!*a || strcspn(a, "/?#@\\ \t\r\n%") != strlen(a) || !strchr(a, ':'))
		return ccp_err_set(e, CCP_EINVALID, "key provider \"%.200s\": grpc address \"%.200s\" is not HOST:PORT",
				   name, address);
	snprintf(p->url, sizeof(p->url), "http://%s%s", a, GRPC_PATH);
	return 0;
}

int ccp_grpc_provider_new(ccp_keyprovider **out, const char *name, const char *address, ccp_err *e)
{
	grpc_provider *p = calloc(1, sizeof(*p));
	int r;

	*out = NULL;
	if (!p)
		return ccp_err_oom(e);
	ccp_keyprovider_init(&p->t.base, grpc_handles, ccp_keyprovider_transport_unwrap, grpc_free, p->desc);
	p->t.exchange = grpc_exchange;
	if ((r = parse_address(p, name, address, e))) {
		free(p);
		return r;
	}
	snprintf(p->scheme, sizeof(p->scheme), "provider.%.250s", name);
	snprintf(p->desc, sizeof(p->desc), "provider:%.250s (grpc %.250s)", name, address);
	*out = &p->t.base;
	return 0;
}
