/*
 * libcurl set-up shared by every module that makes HTTP requests (registry, lookaside, KBS, gRPC
 * keyprovider): the one process-wide curl_global_init (made by ccp_init), and an extra CA file that
 * adds to the roots libcurl trusts by default instead of replacing them.
 */
#ifndef CCP_UTIL_CURL_H
#define CCP_UTIL_CURL_H

#include <curl/curl.h>
#include "util/err.h"

/*
 * libcurl's curl_global_init and curl_global_cleanup, the only calls of them in ccpull: made by
 * ccp_init and the last ccp_shutdown (src/pull/lifecycle.c), under their lock, never while a
 * transfer runs. The init of an initialised libcurl does nothing.
 */
int ccp_curl_global_init(ccp_err *e);
void ccp_curl_global_cleanup(void);
/*
 * 0 when libcurl is initialised (ccp_init was called), else CCP_EINVALID saying so. Every module
 * asks before its first easy handle. Safe to call from several threads.
 */
int ccp_curl_init(ccp_err *e);

/*
 * Makes easy handle h also trust the PEM certificates of ca_file, on top of the system roots that
 * libcurl loads by default (its built-in CA bundle and CA path, whatever the distribution compiled
 * in). With libcurl's OpenSSL backend the file is added to each connection's certificate store;
 * with another backend it becomes CURLOPT_CAINFO (the built-in CA path, if any, stays). Called
 * after curl_easy_reset, before the transfer; ca_file must outlive the handle's transfers.
 */
CURLcode ccp_curl_add_ca_file(CURL *h, const char *ca_file);

#endif
