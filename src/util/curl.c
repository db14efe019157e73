/* libcurl's one process-wide initialisation and the extra CA file added to its default roots (curl.h). */
#include "util/curl.h"

#include <stdatomic.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

/* Set between ccp_curl_global_init and ccp_curl_global_cleanup (ccp_init's lock orders those two). */
static atomic_int ready;
static atomic_int backend_openssl;

int ccp_curl_global_init(ccp_err *e)
{
	const curl_version_info_data *v;
	CURLcode rc;

	if (atomic_load(&ready))
		return 0;
	if ((rc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK)
		return ccp_err_set(e, CCP_EINTERNAL, "libcurl initialisation failed: %s", curl_easy_strerror(rc));
	v = curl_version_info(CURLVERSION_NOW);
	/* the SSL_CTX of CURLOPT_SSL_CTX_FUNCTION is an OpenSSL one only with this backend */
	atomic_store(&backend_openssl, v && v->ssl_version && strncmp(v->ssl_version, "OpenSSL/", 8) == 0);
	atomic_store(&ready, 1);
	return 0;
}

void ccp_curl_global_cleanup(void)
{
	if (atomic_exchange(&ready, 0))
		curl_global_cleanup();
}

int ccp_curl_init(ccp_err *e)
{
	if (!atomic_load(&ready))
		return ccp_err_set(e, CCP_EINVALID, "ccp_init() has not been called (libcurl is not initialised)");
	return 0;
}

/* Runs when libcurl has set up a connection's SSL_CTX, its default roots loaded: adds the file. */
static CURLcode add_ca_cb(CURL *h, void *ssl_ctx, void *userp)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ssl_ctx);
	const char *file = userp;

	(void)h;
	if (!store || X509_STORE_load_file(store, file) != 1) {
		ERR_clear_error();
		return CURLE_SSL_CACERT_BADFILE;
	}
	return CURLE_OK;
}

CURLcode ccp_curl_add_ca_file(CURL *h, const char *ca_file)
{
	CURLcode c;

	if (!atomic_load(&backend_openssl))
		return curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
#if CURL_AT_LEAST_VERSION(7, 87, 0)
	/* the default roots libcurl may cache per handle must not keep the added ones */
	if ((c = curl_easy_setopt(h, CURLOPT_CA_CACHE_TIMEOUT, 0L)) != CURLE_OK)
		return c;
#endif
	if ((c = curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, add_ca_cb)) != CURLE_OK ||
	    (c = curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, (void *)ca_file)) != CURLE_OK)
		return c;
	return CURLE_OK;
}
