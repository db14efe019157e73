/* Lookaside signature stores over file://, http:// and https:// (libcurl). */
#include "registry/lookaside.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>
#include "util/curl.h"

void ccp_sig_list_free(ccp_sig_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		ccp_buf_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *payload)
{
	ccp_buf *b = payload;
	/* Returning less than given aborts the transfer: the cap was hit or memory ran out. */
	return ccp_buf_append(b, data, size * nmemb) ? 0 : size * nmemb;
}

/* 1: fetched into b; 0: not found (end of the list); <0: error. */
static int fetch_http(CURL *c, const char *url, ccp_buf *b, ccp_err *e)
{
	CURLcode rc;
	long status = 0;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	rc = curl_easy_perform(c);
	if (rc == CURLE_WRITE_ERROR && b->len + CURL_MAX_WRITE_SIZE > b->max)
		return ccp_err_set(e, CCP_EREGISTRY, "signature %s is larger than %u bytes", url, CCP_LOOKASIDE_SIG_MAX);
	if (rc != CURLE_OK)
		return ccp_err_set(e, CCP_EREGISTRY, "cannot fetch signature %s: %s", url, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status == 404)
		return 0;
	if (status != 200)
		return ccp_err_set(e, CCP_EREGISTRY, "cannot fetch signature %s: HTTP status %ld", url, status);
	return 1;
}

static int fetch_file(const char *path, ccp_buf *b, ccp_err *e)
{
	char chunk[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int r = 1;

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return ccp_err_errno(e, CCP_EREGISTRY, errno, "cannot open signature %s", path);
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = ccp_err_errno(e, CCP_EREGISTRY, errno, "cannot read signature %s", path);
			break;
		}
		if (n == 0)
			break;
		if (ccp_buf_append(b, chunk, (size_t)n)) {
			r = ccp_err_set(e, CCP_EREGISTRY, "signature %s is larger than %u bytes", path,
					CCP_LOOKASIDE_SIG_MAX);
			break;
		}
	}
	close(fd);
	return r;
}

int ccp_lookaside_fetch(ccp_sig_list *out, const char *base, const char *repository, const ccp_digest *d,
			const ccp_lookaside_opts *o, ccp_err *e)
{
	int is_file = strncmp(base, "file://", 7) == 0;
	int is_http = strncmp(base, "http://", 7) == 0 || strncmp(base, "https://", 8) == 0;
	size_t blen = strlen(base);
	ccp_digest check;
	char dstr[CCP_DIGEST_STR_MAX];
	CURL *c = NULL;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (!is_file && !is_http)
		return ccp_err_set(e, CCP_EINVALID, "lookaside %.300s: only file://, http:// and https:// are supported",
				   base);
	if (is_file && base[7] != '/')
		return ccp_err_set(e, CCP_EINVALID, "lookaside %.300s: a file:// URL must hold an absolute path", base);
	/* The digest names a directory: it must be a well-formed digest (CVE-2024-3727). */
	ccp_digest_str(d, dstr);
	if (ccp_digest_parse(&check, dstr, strlen(dstr), e))
		return ccp_err_wrap(e, "lookaside signature lookup");
	if (strstr(repository, "..") || repository[0] == '/')
		return ccp_err_set(e, CCP_EINVALID, "lookaside: invalid repository path %.300s", repository);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	if (is_http) {
		if ((r = ccp_curl_init(e)) != 0)
			return r;
		if (!(c = curl_easy_init()))
			return ccp_err_oom(e);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
#if CURL_AT_LEAST_VERSION(7, 85, 0)
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
		curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
		curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
		if (!o->tls_verify) {
			curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
			curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
		} else if (o->ca_file) {
			/* added to the system roots, as for the registry */
			ccp_curl_add_ca_file(c, o->ca_file);
		}
	}
	for (size_t i = 1;; i++) {
		ccp_buf url = CCP_BUF_INIT(0);
		ccp_buf body = CCP_BUF_INIT(CCP_LOOKASIDE_SIG_MAX);
		ccp_buf *nv;

		if (ccp_buf_printf(&url, "%.*s/%s@%s=%s/signature-%zu", (int)blen, base, repository,
				   ccp_digest_algo_name(d->algo), d->hex, i)) {
			r = ccp_err_oom(e);
			break;
		}
		r = is_file ? fetch_file(url.data + 7, &body, e) : fetch_http(c, url.data, &body, e);
		ccp_buf_free(&url);
		if (r <= 0) {
			ccp_buf_free(&body);
			break;
		}
		if (i > CCP_LOOKASIDE_MAX_SIGS) {
			ccp_buf_free(&body);
			r = ccp_err_set(e, CCP_EREGISTRY, "lookaside %.300s offers more than %d signatures for %s", base,
					CCP_LOOKASIDE_MAX_SIGS, dstr);
			break;
		}
		if (!(nv = realloc(out->v, (out->n + 1) * sizeof(*nv)))) {
			ccp_buf_free(&body);
			r = ccp_err_oom(e);
			break;
		}
		out->v = nv;
		out->v[out->n++] = body;
	}
	if (c)
		curl_easy_cleanup(c);
	if (r < 0) {
		ccp_sig_list_free(out);
		return r;
	}
	return 0;
}
