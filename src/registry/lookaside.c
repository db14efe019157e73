/* Lookaside signature stores over file://, http:// and https:// (libcurl). */
#include "registry/lookaside.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* CLOCK_MONOTONIC in ms, the clock of ccp_registry_deadline. */
static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

typedef struct sink {
	ccp_buf *b;
	int overflow;  /* the body went past b->max */
	int oom;
} sink;

static size_t on_body(char *data, size_t size, size_t nmemb, void *payload)
{
	sink *k = payload;
	int r = ccp_buf_append(k->b, data, size * nmemb);

	/* Returning less than given aborts the transfer: the cap was hit or memory ran out. */
	if (r == CCP_EINVALID)
		k->overflow = 1;
	else if (r)
		k->oom = 1;
	return r ? 0 : size * nmemb;
}

/* The cap that b->max stands for: one signature's, or what is left of the total. */
static int too_large(const char *what, const ccp_buf *b, ccp_err *e)
{
	if (b->max < CCP_LOOKASIDE_SIG_MAX)
		return ccp_err_set(e, CCP_EREGISTRY, "signatures up to %.300s are larger than %u bytes in total", what,
				   CCP_LOOKASIDE_TOTAL_MAX);
	return ccp_err_set(e, CCP_EREGISTRY, "signature %.300s is larger than %u bytes", what, CCP_LOOKASIDE_SIG_MAX);
}

/* 1: fetched into b; 0: not found (end of the list); <0: error. Ends by o->deadline_ms. */
static int fetch_http(CURL *c, const char *url, ccp_buf *b, const ccp_lookaside_opts *o, ccp_err *e)
{
	sink k = { b, 0, 0 };
	CURLcode rc;
	long status = 0;
	uint64_t now = monotonic_ms();

	if (o->deadline_ms && now >= o->deadline_ms)
		return ccp_err_set(e, CCP_EREGISTRY, "cannot fetch signature %.300s: the pull's time limit ran out",
				   url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &k);
	/* a declared length past the cap ends the transfer before any of the body is read */
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)b->max);
	/* the whole exchange of every signature, connecting included, ends by the pull's deadline */
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o->deadline_ms ? (long)(o->deadline_ms - now) : 0L);
	rc = curl_easy_perform(c);
	if (k.oom)
		return ccp_err_oom(e);
	if (k.overflow || rc == CURLE_FILESIZE_EXCEEDED)
		return too_large(url, b, e);
	if (rc == CURLE_OPERATION_TIMEDOUT && o->deadline_ms && monotonic_ms() >= o->deadline_ms)
		return ccp_err_set(e, CCP_EREGISTRY, "cannot fetch signature %.300s: the pull's time limit ran out",
				   url);
	if (rc != CURLE_OK)
		return ccp_err_set(e, CCP_EREGISTRY, "cannot fetch signature %.300s: %s", url, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status == 404)
		return 0;
	if (status != 200)
		return ccp_err_set(e, CCP_EREGISTRY, "cannot fetch signature %.300s: HTTP status %ld", url, status);
	return 1;
}

static int fetch_file(const char *path, ccp_buf *b, ccp_err *e)
{
	char chunk[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int a, r = 1;

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
		if ((a = ccp_buf_append(b, chunk, (size_t)n))) {
			r = a == CCP_EINVALID ? too_large(path, b, e) : ccp_err_oom(e);
			break;
		}
	}
	close(fd);
	return r;
}

struct ccp_lookaside_iter {
	char *base;            /* without trailing slashes */
	char *repository;
	ccp_digest d;
	char dstr[CCP_DIGEST_STR_MAX];
	ccp_lookaside_opts o;
	int is_file;
	CURL *c;
	size_t next;           /* the number of the next signature, from 1 */
	size_t total;          /* bytes of the signatures returned so far */
	int ended;
};

int ccp_lookaside_open(ccp_lookaside_iter **out, const char *base, const char *repository, const ccp_digest *d,
		       const ccp_lookaside_opts *o, ccp_err *e)
{
	int is_file = strncmp(base, "file://", 7) == 0;
	int is_https = strncmp(base, "https://", 8) == 0;
	int is_http = strncmp(base, "http://", 7) == 0 || is_https;
	size_t blen = strlen(base);
	ccp_digest check;
	ccp_lookaside_iter *it;
	CURL *c;
	int r;

	*out = NULL;
	if (!is_file && !is_http)
		return ccp_err_set(e, CCP_EINVALID, "lookaside %.300s: only file://, http:// and https:// are supported",
				   base);
	if (is_file && base[7] != '/')
		return ccp_err_set(e, CCP_EINVALID, "lookaside %.300s: a file:// URL must hold an absolute path", base);
	if (!(it = calloc(1, sizeof(*it))))
		return ccp_err_oom(e);
	/* The digest names a directory: it must be a well-formed digest (CVE-2024-3727). */
	ccp_digest_str(d, it->dstr);
	if (ccp_digest_parse(&check, it->dstr, strlen(it->dstr), e)) {
		free(it);
		return ccp_err_wrap(e, "lookaside signature lookup");
	}
	if (strstr(repository, "..") || repository[0] == '/') {
		free(it);
		return ccp_err_set(e, CCP_EINVALID, "lookaside: invalid repository path %.300s", repository);
	}
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	it->d = *d;
	it->o = *o;
	it->is_file = is_file;
	it->next = 1;
	if (!(it->base = strndup(base, blen)) || !(it->repository = strdup(repository))) {
		ccp_lookaside_close(it);
		return ccp_err_oom(e);
	}
	if (is_file) {
		*out = it;
		return 0;
	}
	if ((r = ccp_curl_init(e)) != 0) {
		ccp_lookaside_close(it);
		return r;
	}
	if (!(c = it->c = curl_easy_init())) {
		ccp_lookaside_close(it);
		return ccp_err_oom(e);
	}
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
#if CURL_AT_LEAST_VERSION(7, 85, 0)
	/* an https:// store is never redirected to plain HTTP, where anyone on the path could answer */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, is_https ? "https" : "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, is_https ? "https" : "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS,
			 is_https ? (long)CURLPROTO_HTTPS : (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS,
			 is_https ? (long)CURLPROTO_HTTPS : (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
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
	*out = it;
	return 0;
}

int ccp_lookaside_next(ccp_lookaside_iter *it, ccp_buf *sig, ccp_err *e)
{
	ccp_buf url = CCP_BUF_INIT(0);
	/* each signature may take what the ones before it left of the total (a max of 0 is no cap) */
	size_t left = CCP_LOOKASIDE_TOTAL_MAX - it->total;
	ccp_buf body = CCP_BUF_INIT(left == 0 ? 1 : left < CCP_LOOKASIDE_SIG_MAX ? left : CCP_LOOKASIDE_SIG_MAX);
	int r;

	ccp_buf_free(sig);
	if (it->ended)
		return 0;
	if (ccp_buf_printf(&url, "%s/%s@%s=%s/signature-%zu", it->base, it->repository,
			   ccp_digest_algo_name(it->d.algo), it->d.hex, it->next))
		return ccp_err_oom(e);
	r = it->is_file ? fetch_file(url.data + 7, &body, e) : fetch_http(it->c, url.data, &body, &it->o, e);
	ccp_buf_free(&url);
	if (r > 0 && body.len > left)
		r = ccp_err_set(e, CCP_EREGISTRY, "lookaside %.300s: signatures of %s are larger than %u bytes in "
				"total", it->base, it->dstr, CCP_LOOKASIDE_TOTAL_MAX);
	if (r > 0 && it->next > CCP_LOOKASIDE_MAX_SIGS)
		r = ccp_err_set(e, CCP_EREGISTRY, "lookaside %.300s offers more than %d signatures for %s", it->base,
				CCP_LOOKASIDE_MAX_SIGS, it->dstr);
	if (r <= 0) {
		/* the end of the list, or an error: nothing more is read */
		ccp_buf_free(&body);
		it->ended = 1;
		return r;
	}
	it->next++;
	it->total += body.len;
	*sig = body;
	return 1;
}

void ccp_lookaside_close(ccp_lookaside_iter *it)
{
	if (!it)
		return;
	if (it->c)
		curl_easy_cleanup(it->c);
	free(it->base);
	free(it->repository);
	free(it);
}
