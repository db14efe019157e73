/*
 * The KBS client: one attested session per configuration for the process (a pull attests once, and
 * `ccpull serve` reuses the session between pulls), re-attesting when the KBS answers 401, and a
 * small in-memory resource cache with a bound and a time limit. Secrets (the ephemeral private key,
 * the session cookie, the token, resources) are wiped when dropped and never logged.
 */
#include "kbs.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "ocicrypt/ocicrypt.h"
#include "util/curl.h"

#define ATTEMPTS 3          /* per request, as Trustee's client: resource GETs and handshakes */
#define COOKIE_MAX 4096
#define CONNECT_TIMEOUT_S 15L
#define REQUEST_TIMEOUT_S 120L

typedef struct session {
	char *url, *attester, *cert, *tsm_root, *aa_socket;
	int rsa;
	EVP_PKEY *key;      /* ephemeral, of the current attestation */
	char *cookie;       /* "kbs-session-id=..." */
	char *token;
	int64_t exp;        /* of the token, 0 unknown */
} session;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static session *cur;
static ccp_resource_cache cache;  /* KBS resources: "URL PATH" -> bytes; slots allocated on first use */

static void wipe_str(char **s)
{
	if (*s) {
		OPENSSL_cleanse(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

static void session_forget_attestation(session *s)
{
	EVP_PKEY_free(s->key);
	s->key = NULL;
	wipe_str(&s->cookie);
	wipe_str(&s->token);
	s->exp = 0;
}

static void session_free(session *s)
{
	if (!s)
		return;
	session_forget_attestation(s);
	free(s->url);
	free(s->attester);
	free(s->cert);
	free(s->tsm_root);
	free(s->aa_socket);
	free(s);
}

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int session_matches(const session *s, const ccp_kbs_config *c)
{
	return same(s->url, c->url) && same(s->attester, c->attester) && same(s->cert, c->cert) &&
	       same(s->tsm_root, c->tsm_root) && same(s->aa_socket, c->aa_socket) && s->rsa == !!c->rsa;
}

static int dup_opt(char **out, const char *s)
{
	*out = NULL;
	return s && !(*out = strdup(s)) ? -1 : 0;
}

static int session_new(session **out, const ccp_kbs_config *c, ccp_err *e)
{
	session *s = calloc(1, sizeof(*s));
	size_t n;

	*out = NULL;
	if (!s || dup_opt(&s->url, c->url) || dup_opt(&s->attester, c->attester) || dup_opt(&s->cert, c->cert) ||
	    dup_opt(&s->tsm_root, c->tsm_root) || dup_opt(&s->aa_socket, c->aa_socket)) {
		session_free(s);
		return ccp_err_oom(e);
	}
	s->rsa = !!c->rsa;
	n = strlen(s->url);
	while (n > 0 && s->url[n - 1] == '/')
		s->url[--n] = '\0';
	*out = s;
	return 0;
}

/* ---- HTTP ---- */

typedef struct response {
	long status;
	ccp_buf body;
	char *cookie;
} response;

static void response_free(response *r)
{
	ccp_buf_free_secure(&r->body);
	wipe_str(&r->cookie);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	response *r = ud;
	return ccp_buf_append(&r->body, p, n) ? 0 : n; /* over the cap: abort the transfer */
}

/* Keeps the kbs-session-id cookie of a Set-Cookie header ("kbs-session-id=VALUE; attributes"). */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	static const char name[] = "set-cookie:";
	response *r = ud;
	size_t i = sizeof(name) - 1, end;

	if (n < i || strncasecmp(p, name, i) != 0)
		return n;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (n - i < 15 || strncmp(p + i, "kbs-session-id=", 15) != 0)
		return n;
	for (end = i; end < n && p[end] != ';' && p[end] != '\r' && p[end] != '\n'; end++)
		if ((unsigned char)p[end] < 0x21 || (unsigned char)p[end] > 0x7e)
			return n;
	if (end - i > COOKIE_MAX)
		return n;
	wipe_str(&r->cookie);
	r->cookie = strndup(p + i, end - i);
	return n;
}

static int http(session *s, const char *method, const char *path, const char *body, response *resp, ccp_err *e)
{
	CURL *c;
	struct curl_slist *hdrs = NULL;
	char url[4096], errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	int http_ok = strncmp(s->url, "http://", 7) == 0, r;

	memset(resp, 0, sizeof(*resp));
	resp->body.max = CCP_KBS_RESOURCE_MAX;
	if ((r = ccp_curl_init(e)) != 0)
		return r;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", s->url, path) >= sizeof(url))
		return ccp_err_set(e, CCP_EINVALID, "KBS URL too long");
	if (!(c = curl_easy_init()))
		return ccp_err_oom(e);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* Plain HTTP only when the KBS URL says so; never follow redirects. */
#if CURL_AT_LEAST_VERSION(7, 85, 0)
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, http_ok ? "http" : "https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(http_ok ? CURLPROTO_HTTP : CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, REQUEST_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (s->cert)
		curl_easy_setopt(c, CURLOPT_CAINFO, s->cert);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
	if (s->cookie)
		curl_easy_setopt(c, CURLOPT_COOKIE, s->cookie);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (body) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	if (rc == CURLE_WRITE_ERROR)
		return ccp_err_set(e, CCP_EDECRYPT, "KBS %s: %s %s: response larger than %u bytes", s->url, method, path,
				   CCP_KBS_RESOURCE_MAX);
	if (rc == CURLE_PEER_FAILED_VERIFICATION)
		return ccp_err_set(e, CCP_EDECRYPT, "KBS %s: %s %s: its TLS certificate is not trusted by %s (%s)", s->url,
				   method, path, s->cert ? s->cert : "the system's CAs (give the KBS's CA with --kbs-cert)",
				   *errbuf ? errbuf : curl_easy_strerror(rc));
	if (rc != CURLE_OK)
		return ccp_err_set(e, CCP_EDECRYPT, "KBS %s: %s %s: %s", s->url, method, path,
				   *errbuf ? errbuf : curl_easy_strerror(rc));
	return 0;
}

/* "HTTP 401 (AttestationError: detail)" */
static void status_text(char *out, size_t len, const response *r)
{
	char problem[400];

	ccp_kbs_problem(problem, sizeof(problem), r->body.data, r->body.len);
	snprintf(out, len, "HTTP %ld%s%s%s", r->status, *problem ? " (" : "", problem, *problem ? ")" : "");
}

static void pause_before_retry(void)
{
	struct timespec ts = { 1, 0 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- the RCAR handshake ---- */

static int new_key(EVP_PKEY **out, int rsa, ccp_err *e)
{
	*out = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
	return *out ? 0 : ccp_err_set(e, CCP_EDECRYPT, "KBS: cannot generate the ephemeral key (OpenSSL)");
}

static int json_text(char **out, json_t *j, ccp_err *e)
{
	*out = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return *out ? 0 : ccp_err_oom(e);
}

/* Returns 0, or an error; *retry says whether another attempt may help (network, 5xx). */
static int handshake_once(session *s, ccp_attester_kind kind, const char *tee, int *retry, ccp_err *e)
{
	ccp_kbs_challenge ch = { 0 };
	response resp;
	json_t *jwk = NULL, *ev = NULL, *att;
	ccp_buf canon = CCP_BUF_INIT(CCP_KBS_RESOURCE_MAX);
	unsigned char md[64];
	size_t md_len = 0;
	char *req = NULL, st[512];
	int r;

	*retry = 0;
	session_forget_attestation(s);
	if ((r = json_text(&req, json_pack("{s:s, s:s, s:{s:o}}", "version", CCP_KBS_PROTOCOL_VERSION, "tee",
					   tee, "extra-params", "supported-hash-algorithms",
					   ccp_kbs_supported_hashes()),
			   e)))
		return r;
	r = http(s, "POST", "/kbs/v0/auth", req, &resp, e);
	free(req);
	req = NULL;
	if (r) {
		*retry = 1;
		return r;
	}
	if (resp.status != 200 || !resp.cookie) {
		status_text(st, sizeof(st), &resp);
		*retry = resp.status >= 500;
		r = ccp_err_set(e, CCP_EDECRYPT, "KBS %s refused the attestation request (POST /kbs/v0/auth): %s%s", s->url,
				st, resp.status == 200 ? ", without a kbs-session-id cookie" : "");
		response_free(&resp);
		return r;
	}
	s->cookie = resp.cookie;
	resp.cookie = NULL;
	r = ccp_kbs_parse_challenge(&ch, resp.body.data, resp.body.len, e);
	response_free(&resp);
	if (r)
		return r;
	/* The evidence binds hash(runtime data) as its report data: the KBS recomputes it from the
	 * nonce of this session and the public key we send, so the resources it encrypts to that key can
	 * only be opened inside the attested TEE. */
	if ((r = new_key(&s->key, s->rsa, e)) || (r = ccp_kbs_jwk(&jwk, s->key, e)) ||
	    (r = ccp_kbs_runtime_data(&canon, ch.nonce, jwk, "", e)) ||
	    (r = ccp_kbs_hash(md, &md_len, ch.hash, canon.data, canon.len, e)) ||
	    (r = kind == CCP_ATTESTER_AA ? ccp_aa_evidence(&ev, s->aa_socket, md, md_len, e)
					  : ccp_attester_evidence(&ev, kind, s->tsm_root, md, md_len, e)))
		goto out;
	att = json_pack("{s:{s:s, s:O}, s:{s:O, s:s}}", "runtime-data", "nonce", ch.nonce, "tee-pubkey", jwk,
			"tee-evidence", "primary_evidence", ev, "additional_evidence", "");
	if ((r = json_text(&req, att, e)))
		goto out;
	if ((r = http(s, "POST", "/kbs/v0/attest", req, &resp, e))) {
		*retry = 1;
		goto out;
	}
	if (resp.status != 200) {
		status_text(st, sizeof(st), &resp);
		*retry = resp.status >= 500;
		r = ccp_err_set(e, CCP_EDECRYPT, "KBS %s refused the %s evidence (POST /kbs/v0/attest): %s", s->url,
				tee, st);
	} else if ((r = ccp_kbs_parse_token(&s->token, &s->exp, resp.body.data, resp.body.len, e)) == 0) {
		if (resp.cookie) {
			wipe_str(&s->cookie);
			s->cookie = resp.cookie;
			resp.cookie = NULL;
		}
	}
	response_free(&resp);
out:
	free(req);
	json_decref(jwk);
	json_decref(ev);
	ccp_buf_free(&canon);
	ccp_kbs_challenge_free(&ch);
	OPENSSL_cleanse(md, sizeof(md));
	if (r)
		session_forget_attestation(s);
	return r;
}

static int handshake(session *s, ccp_err *e)
{
	ccp_attester_kind kind;
	char tee[CCP_AA_TEE_MAX];
	int r, retry = 0;

	if ((r = ccp_attester_parse(&kind, s->attester, e)))
		return r;
	if (kind == CCP_ATTESTER_AUTO)
		kind = ccp_attester_detect(s->tsm_root, s->aa_socket);
	/* the attestation agent knows its TEE; the native attesters are their TEE */
	if (kind == CCP_ATTESTER_AA && (r = ccp_aa_tee(tee, s->aa_socket, e)))
		return r;
	if (kind != CCP_ATTESTER_AA) {
		/* no round trip to the KBS for evidence that cannot be made here */
		if ((r = ccp_attester_check(kind, s->tsm_root, e)))
			return r;
		snprintf(tee, sizeof(tee), "%s", ccp_attester_tee(kind));
	}
	for (int i = 1;; i++) {
		if ((r = handshake_once(s, kind, tee, &retry, e)) == 0 || !retry || i == ATTEMPTS)
			return r;
		pause_before_retry();
	}
}

static int expired(const session *s)
{
	return s->exp && (int64_t)time(NULL) >= s->exp;
}

/* ---- resources ---- */

static int get_resource(session *s, const char *path, ccp_buf *out, ccp_err *e)
{
	char rpath[CCP_KBS_PATH_MAX + 32], st[512];
	int r, reattested = 0;

	snprintf(rpath, sizeof(rpath), "/kbs/v0/resource/%s", path);
	if ((!s->token || expired(s)) && (r = handshake(s, e)))
		return r;
	for (int i = 1;; i++) {
		response resp;
		if ((r = http(s, "GET", rpath, NULL, &resp, e))) {
			if (i == ATTEMPTS)
				return r;
			pause_before_retry();
			continue;
		}
		if (resp.status == 200) {
			r = ccp_jwe_decrypt(s->key, resp.body.data, resp.body.len, out, e);
			response_free(&resp);
			return r ? ccp_err_wrap(e, "KBS %s: resource %s", s->url, path) : 0;
		}
		status_text(st, sizeof(st), &resp);
		response_free(&resp);
		if (resp.status == 401 && i < ATTEMPTS && !reattested) {
			/* The session or its token expired on the KBS: attest again, once. */
			reattested = 1;
			if ((r = handshake(s, e)))
				return ccp_err_wrap(e, "re-attesting after %s for resource %s", st, path);
			continue;
		}
		if (resp.status >= 500 && i < ATTEMPTS) {
			pause_before_retry();
			continue;
		}
		return ccp_err_set(e, CCP_EDECRYPT, "KBS %s: resource %s: %s%s", s->url, path,
				   resp.status == 404 ? "not found, " : resp.status == 403 ? "denied by the KBS policy, " : "",
				   st);
	}
}

/* The offline file's copy of path: 1 found, 0 not listed, or an error. */
static int offline_get(ccp_buf *out, const char *file, const char *path, ccp_err *e)
{
	ccp_offline_resources o;
	const ccp_offline_entry *en;
	int r;

	if ((r = ccp_offline_resources_load(&o, file, e)))
		return r;
	if ((en = ccp_offline_resources_find(&o, path))) {
		out->max = 0;
		r = ccp_buf_append(out, en->data.data ? en->data.data : "", en->data.len) ? ccp_err_oom(e) : 1;
	}
	ccp_offline_resources_free(&o);
	return r;
}

int ccp_kbs_key_type(int *rsa, const char *name, ccp_err *e)
{
	if (!name || strcmp(name, "ec") == 0)
		*rsa = 0;
	else if (strcmp(name, "rsa") == 0)
		*rsa = 1;
	else
		return ccp_err_set(e, CCP_EINVALID, "KBS key type \"%.64s\": expected ec or rsa", name);
	return 0;
}

int ccp_kbs_fetch(ccp_buf *out, const ccp_kbs_config *cfg, const char *uri, ccp_err *e)
{
	char path[CCP_KBS_PATH_MAX], key[CCP_KBS_PATH_MAX + 4200];
	ccp_attester_kind kind;
	int r;

	if (!cfg || ((!cfg->url || !*cfg->url) && !cfg->offline))
		return ccp_err_set(e, CCP_EINVALID, "%.200s needs a KBS or an offline source (--kbs URL or "
				   "--kbs-resources FILE)", uri);
	if ((r = ccp_kbs_resource_path(path, uri, e)))
		return r;
	/* The offline file is read on every fetch: it is local, and not a copy to keep. */
	if (cfg->offline && (r = offline_get(out, cfg->offline, path, e)) != 0)
		return r < 0 ? r : 0;
	if (!cfg->url || !*cfg->url)
		return ccp_err_set(e, CCP_EDECRYPT, "resource %s is not in the offline resources %.256s (and no KBS is "
				   "configured)", path, cfg->offline);
	if (strncmp(cfg->url, "https://", 8) != 0 && strncmp(cfg->url, "http://", 7) != 0)
		return ccp_err_set(e, CCP_EINVALID, "KBS URL \"%.200s\" must start with https:// (or http://)", cfg->url);
	if ((r = ccp_attester_parse(&kind, cfg->attester, e)))
		return r;
	if ((size_t)snprintf(key, sizeof(key), "%s %s", cfg->url, path) >= sizeof(key))
		return ccp_err_set(e, CCP_EINVALID, "KBS URL too long");
	pthread_mutex_lock(&lock);
	if (!cache.slots &&
	    ccp_resource_cache_init(&cache, CCP_KBS_CACHE_ENTRIES, CCP_KBS_CACHE_BYTES, CCP_KBS_CACHE_TTL_S, NULL)) {
		pthread_mutex_unlock(&lock);
		return ccp_err_oom(e);
	}
	if ((r = ccp_resource_cache_get(&cache, key, out)) != 0) {
		pthread_mutex_unlock(&lock);
		return r < 0 ? ccp_err_oom(e) : 0;
	}
	if (cur && !session_matches(cur, cfg)) {
		session_free(cur);
		cur = NULL;
	}
	if (!cur && (r = session_new(&cur, cfg, e)))
		goto out;
	if ((r = get_resource(cur, path, out, e)) == 0)
		ccp_resource_cache_put(&cache, key, out->data, out->len);
out:
	pthread_mutex_unlock(&lock);
	return r;
}

void ccp_kbs_reset(void)
{
	pthread_mutex_lock(&lock);
	session_free(cur);
	cur = NULL;
	ccp_resource_cache_free(&cache);
	pthread_mutex_unlock(&lock);
}
