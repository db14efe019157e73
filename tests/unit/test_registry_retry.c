/* Backoff between retries, Retry-After parsing and which failures are retried (registry/retry.c, transport.c). */
#include "ccpull/ccpull.h"
#include <stdint.h>
#include <time.h>
#include <curl/curl.h>
#include "registry/registry.h"
#include "test.h"

static void test_backoff(void)
{
	/* 500 ms doubling, capped at 10 s; the upper half is jitter */
	CHECK(ccp_retry_backoff_ms(0, 0) == 250);
	CHECK(ccp_retry_backoff_ms(0, 250) == 500);
	CHECK(ccp_retry_backoff_ms(0, 251) == 250);
	CHECK(ccp_retry_backoff_ms(1, 0) == 500);
	CHECK(ccp_retry_backoff_ms(1, 500) == 1000);
	CHECK(ccp_retry_backoff_ms(2, 0) == 1000);
	CHECK(ccp_retry_backoff_ms(4, 0) == 4000);
	CHECK(ccp_retry_backoff_ms(5, 0) == 5000);
	CHECK(ccp_retry_backoff_ms(5, 5000) == 10000);
	CHECK(ccp_retry_backoff_ms(20, UINT32_MAX) <= 10000);
	CHECK(ccp_retry_backoff_ms(UINT32_MAX, UINT32_MAX) <= 10000);
	CHECK(ccp_retry_backoff_ms(UINT32_MAX, 0) == 5000);
	/* every jitter value stays within [d/2, d] */
	for (unsigned a = 0; a < 40; a++) {
		for (uint32_t j = 0; j < 100000; j += 997) {
			uint64_t d = ccp_retry_backoff_ms(a, j * 2654435761u);
			uint64_t full = a >= 5 ? 10000 : 500ull << a;
			if (d < full / 2 || d > full) {
				CHECK(!"backoff out of range");
				return;
			}
		}
	}
	/* the worst case of the default 3 retries stays a few seconds */
	CHECK(ccp_retry_backoff_ms(0, UINT32_MAX) + ccp_retry_backoff_ms(1, UINT32_MAX) +
		      ccp_retry_backoff_ms(2, UINT32_MAX) <=
	      3500);
}

static void test_retry_after(void)
{
	const time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT, the example of RFC 9110 */
	uint64_t ms = 12345;

	CHECK(ccp_retry_after_parse("0", now, &ms) == 0 && ms == 0);
	CHECK(ccp_retry_after_parse("1", now, &ms) == 0 && ms == 1000);
	CHECK(ccp_retry_after_parse("  7 ", now, &ms) == 0 && ms == 7000);
	CHECK(ccp_retry_after_parse("29", now, &ms) == 0 && ms == 29000);
	/* capped at 30 s, also for absurd values that would overflow */
	CHECK(ccp_retry_after_parse("30", now, &ms) == 0 && ms == 30000);
	CHECK(ccp_retry_after_parse("120", now, &ms) == 0 && ms == 30000);
	CHECK(ccp_retry_after_parse("99999999999999999999999999999999", now, &ms) == 0 && ms == 30000);
	/* HTTP-date forms (IMF-fixdate, RFC 850, asctime) */
	CHECK(ccp_retry_after_parse("Sun, 06 Nov 1994 08:49:42 GMT", now, &ms) == 0 && ms == 5000);
	CHECK(ccp_retry_after_parse("Sunday, 06-Nov-94 08:49:47 GMT", now, &ms) == 0 && ms == 10000);
	CHECK(ccp_retry_after_parse("Sun Nov  6 08:49:38 1994", now, &ms) == 0 && ms == 1000);
	CHECK(ccp_retry_after_parse("Sun, 06 Nov 1994 09:49:37 GMT", now, &ms) == 0 && ms == 30000);
	/* a date in the past: no wait */
	CHECK(ccp_retry_after_parse("Sun, 06 Nov 1994 08:00:00 GMT", now, &ms) == 0 && ms == 0);
	/* invalid values leave ms alone */
	ms = 4242;
	CHECK(ccp_retry_after_parse("", now, &ms) == -1);
	CHECK(ccp_retry_after_parse("-1", now, &ms) == -1);
	CHECK(ccp_retry_after_parse("1.5", now, &ms) == -1);
	CHECK(ccp_retry_after_parse("5 seconds", now, &ms) == -1);
	CHECK(ccp_retry_after_parse("soon", now, &ms) == -1);
	CHECK(ms == 4242);
}

static void test_deadline(void)
{
	struct timespec ts;
	uint64_t now_ms, d;

	CHECK(ccp_registry_deadline(0) == 0);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	d = ccp_registry_deadline(10);
	CHECK(d >= now_ms + 10000 && d < now_ms + 70000);
}

/* The messages are libcurl 7.88's with OpenSSL 3.0, as ccpull printed them. */
static void test_failure_class(void)
{
	/* what may go away: refused while the network comes up, resets, timeouts, cut-off bodies */
	CHECK(ccp_registry_failure_class(CURLE_COULDNT_CONNECT, "Failed to connect to 127.0.0.1 port 1 after 0 ms: "
				    "Couldn't connect to server") == CCP_FAILURE_RETRY);
	CHECK(ccp_registry_failure_class(CURLE_RECV_ERROR, "Recv failure: Connection reset by peer") ==
	      CCP_FAILURE_RETRY);
	CHECK(ccp_registry_failure_class(CURLE_SEND_ERROR, "") == CCP_FAILURE_RETRY);
	CHECK(ccp_registry_failure_class(CURLE_OPERATION_TIMEDOUT, "") == CCP_FAILURE_RETRY);
	CHECK(ccp_registry_failure_class(CURLE_PARTIAL_FILE, "") == CCP_FAILURE_RETRY);
	CHECK(ccp_registry_failure_class(CURLE_GOT_NOTHING, NULL) == CCP_FAILURE_RETRY);
	/* a reset or an early close during the TLS handshake */
	CHECK(ccp_registry_failure_class(CURLE_SSL_CONNECT_ERROR, "OpenSSL SSL_connect: Connection reset by peer "
				    "in connection to 127.0.0.1:5000 ") == CCP_FAILURE_RETRY);
	CHECK(ccp_registry_failure_class(CURLE_SSL_CONNECT_ERROR, "OpenSSL SSL_connect: SSL_ERROR_SYSCALL in "
				    "connection to registry.example:443 ") == CCP_FAILURE_RETRY);
	CHECK(ccp_registry_failure_class(CURLE_SSL_CONNECT_ERROR, "OpenSSL/3.0.22: error:0A000126:SSL "
				    "routines::unexpected eof while reading") == CCP_FAILURE_RETRY);
	CHECK(ccp_registry_failure_class(CURLE_SSL_CONNECT_ERROR, NULL) == CCP_FAILURE_RETRY);

	/* https to a plain-HTTP server */
	CHECK(ccp_registry_failure_class(CURLE_SSL_CONNECT_ERROR, "OpenSSL/3.0.22: error:0A00010B:SSL "
				    "routines::wrong version number") == CCP_FAILURE_NOT_TLS);
	CHECK(ccp_registry_failure_class(CURLE_SSL_CONNECT_ERROR, "error:0a00010b:SSL routines::wrong version "
				    "number") == CCP_FAILURE_NOT_TLS);

	/* what cannot change: TLS alerts, certificates, unknown names, local errors */
	CHECK(ccp_registry_failure_class(CURLE_SSL_CONNECT_ERROR, "OpenSSL/3.0.22: error:0A000410:SSL "
				    "routines::sslv3 alert handshake failure") == CCP_FAILURE_FINAL);
	CHECK(ccp_registry_failure_class(CURLE_SSL_CONNECT_ERROR, "OpenSSL/3.0.22: error:0A00042E:SSL "
				    "routines::tlsv1 alert protocol version") == CCP_FAILURE_FINAL);
	CHECK(ccp_registry_failure_class(CURLE_PEER_FAILED_VERIFICATION, "SSL certificate problem: self-signed "
				    "certificate") == CCP_FAILURE_FINAL);
	CHECK(ccp_registry_failure_class(CURLE_SSL_CACERT_BADFILE, "") == CCP_FAILURE_FINAL);
	CHECK(ccp_registry_failure_class(CURLE_COULDNT_RESOLVE_HOST, "Could not resolve host: nothing.invalid") ==
	      CCP_FAILURE_FINAL);
	CHECK(ccp_registry_failure_class(CURLE_WRITE_ERROR, "") == CCP_FAILURE_FINAL);
	CHECK(ccp_registry_failure_class(CURLE_OUT_OF_MEMORY, "") == CCP_FAILURE_FINAL);
	/* only a whole "error:XXXXXXXX:" is an OpenSSL code */
	CHECK(ccp_registry_failure_class(CURLE_SSL_CONNECT_ERROR, "error:0A00010:x") == CCP_FAILURE_RETRY);
	CHECK(ccp_registry_failure_class(CURLE_SSL_CONNECT_ERROR, "error:") == CCP_FAILURE_RETRY);
}

int main(void)
{
	CHECK(ccp_init() == 1);
	test_failure_class();
	test_backoff();
	test_retry_after();
	test_deadline();
	CHECK(ccp_shutdown() == 0);
	return test_summary();
}
