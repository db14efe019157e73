/*
 * The KBS client's protocol exchange: HTTP requests to the KBS (libcurl, bounded, cancellable), the
 * RCAR handshake or the attestation agent's token, resource requests re-attesting once on 401, the
 * offline resource files, and ccp_kbs_fetch, which puts them together over the sessions of
 * session.c.
 *
 * Every request ends by the caller's deadline (ccp_kbs_config.deadline_ms) or cancellation, and is
 * retried (ATTEMPTS) only where another attempt may help (network, 5xx). Secrets in responses are
 * wiped with them.
 */
#include "keyproviders/kbs/session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "util/curl.h"

#define ATTEMPTS 3          /* per request, as Trustee's client: resource GETs and handshakes */
#define COOKIE_MAX 4096
#define CONNECT_TIMEOUT_MS 15000L
#define REQUEST_TIMEOUT_MS 120000L
#define RETRY_PAUSE_MS 1000
#define CERT_MAX (1u << 20) /* bytes of a --kbs-cert bundle */

/* ---- time limits ---- */

/*
 * The cancellation of the ccp_kbs_fetch running on this thread (its requests, retries and waits all
 * run on the caller's thread): set for the call, NULL outside one.
 */
static _Thread_local const ccp_cancel *call_cancel;

/* libcurl's progress callback: a nonzero return aborts the transfer (CURLE_ABORTED_BY_CALLBACK). */
static int on_progress(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return ccp_cancel_requested(p);
}

/* Milliseconds a request may take: the smaller of limit and what is left before deadline_ms (0: none). */
static long time_for(uint64_t deadline_ms, long limit)
{
	uint64_t now;

	if (!deadline_ms)
		return limit;
	if ((now = ccp_kbs_now_ms()) >= deadline_ms)
		return 0;
	return deadline_ms - now < (uint64_t)limit ? (long)(deadline_ms - now) : limit;
}

/* Sleeps before another attempt; 0, or -1 when the deadline leaves no time for one. */
static int pause_before_retry(uint64_t deadline_ms)
{
	struct timespec ts = { RETRY_PAUSE_MS / 1000, (RETRY_PAUSE_MS % 1000) * 1000000L };

	if (deadline_ms && ccp_kbs_now_ms() + RETRY_PAUSE_MS >= deadline_ms)
		return -1;
	if (call_cancel) {
		ccp_err ignored = CCP_ERR_INIT;
		return ccp_cancel_sleep(call_cancel, RETRY_PAUSE_MS, NULL, &ignored) == CCP_ECANCELED ? -1 : 0;
	}
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
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
	ccp_kbs_wipe_str(&r->cookie);
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
	ccp_kbs_wipe_str(&r->cookie);
	r->cookie = strndup(p + i, end - i);
	return n;
}

/*
 * One request to the KBS of s (its identity only: safe without the lock) with cookie or bearer token
 * (NULL: none), ending by deadline_ms (0: REQUEST_TIMEOUT_MS alone bounds it).
 */
static int http(const session *s, const char *cookie, const char *bearer, uint64_t deadline_ms, const char *method,
		const char *path, const char *body, response *resp, ccp_err *e)
{
	CURL *c;
	struct curl_slist *hdrs = NULL;
	ccp_buf auth = CCP_BUF_INIT(0);
	char url[4096], errbuf[CURL_ERROR_SIZE] = "", what[CCP_KBS_PATH_MAX + 64];
	CURLcode rc;
	int http_ok = strncmp(s->url, "http://", 7) == 0, r;
	long ms;

	memset(resp, 0, sizeof(*resp));
	resp->body.max = CCP_KBS_RESOURCE_MAX;
	snprintf(what, sizeof(what), "%s %s", method, path);
	if (ccp_cancel_requested(call_cancel))
		return ccp_kbs_cancelled(e, s->url, what);
	if ((ms = time_for(deadline_ms, REQUEST_TIMEOUT_MS)) <= 0)
		return ccp_kbs_out_of_time(e, s->url, what);
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
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms < CONNECT_TIMEOUT_MS ? ms : CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (call_cancel) {
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)call_cancel);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	if (s->cert) {
		/* the bytes the session is keyed by, not the file as it may be now */
		struct curl_blob ca = { s->ca.data, s->ca.len, CURL_BLOB_NOCOPY };
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
	if (cookie)
		curl_easy_setopt(c, CURLOPT_COOKIE, cookie);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (bearer) {
		if (ccp_buf_puts(&auth, "Authorization: Bearer ") || ccp_buf_puts(&auth, bearer)) {
			ccp_buf_free_secure(&auth);
			curl_slist_free_all(hdrs);
			curl_easy_cleanup(c);
			return ccp_err_oom(e);
		}
		hdrs = curl_slist_append(hdrs, auth.data);
		ccp_buf_free_secure(&auth);
	}
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
	if (rc != CURLE_OK)
		response_free(resp);
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		return ccp_kbs_cancelled(e, s->url, what);
	if (rc == CURLE_WRITE_ERROR)
		return ccp_err_set(e, CCP_EDECRYPT, "KBS %s: %s: response larger than %u bytes", s->url, what,
				   CCP_KBS_RESOURCE_MAX);
	if (rc == CURLE_PEER_FAILED_VERIFICATION)
		return ccp_err_set(e, CCP_EDECRYPT, "KBS %s: %s: its TLS certificate is not trusted by %s (%s)", s->url,
				   what, s->cert ? s->cert : "the system's CAs (give the KBS's CA with --kbs-cert)",
				   *errbuf ? errbuf : curl_easy_strerror(rc));
	if (rc == CURLE_OPERATION_TIMEDOUT && ms < REQUEST_TIMEOUT_MS) /* cut short by the deadline */
		return ccp_kbs_out_of_time(e, s->url, what);
	if (rc != CURLE_OK)
		return ccp_err_set(e, CCP_EDECRYPT, "KBS %s: %s: %s", s->url, what,
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

/*
 * One handshake into a (wiped first; left wiped on failure). Returns 0, or an error; *retry says
 * whether another attempt may help (network, 5xx).
 */
static int handshake_once(const session *s, attestation *a, ccp_attester_kind kind, const char *tee,
			  uint64_t deadline_ms, int *retry, ccp_err *e)
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
	ccp_kbs_attestation_wipe(a);
	if ((r = json_text(&req, json_pack("{s:s, s:s, s:{s:o}}", "version", CCP_KBS_PROTOCOL_VERSION, "tee",
					   tee, "extra-params", "supported-hash-algorithms",
					   ccp_kbs_supported_hashes()),
			   e)))
		return r;
	r = http(s, NULL, NULL, deadline_ms, "POST", "/kbs/v0/auth", req, &resp, e);
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
	a->cookie = resp.cookie;
	resp.cookie = NULL;
	r = ccp_kbs_parse_challenge(&ch, resp.body.data, resp.body.len, e);
	response_free(&resp);
	if (r)
		goto out;
	/* The evidence binds hash(runtime data) as its report data: the KBS recomputes it from the
	 * nonce of this session and the public key we send, so the resources it encrypts to that key can
	 * only be opened inside the attested TEE. */
	if ((r = new_key(&a->key, s->rsa, e)) || (r = ccp_kbs_jwk(&jwk, a->key, e)) ||
	    (r = ccp_kbs_runtime_data(&canon, ch.nonce, jwk, "", e)) ||
	    (r = ccp_kbs_hash(md, &md_len, ch.hash, canon.data, canon.len, e)) ||
	    (r = kind == CCP_ATTESTER_AA ? ccp_aa_evidence(&ev, s->aa_socket, md, md_len, e)
					  : ccp_attester_evidence(&ev, kind, s->tsm_root, md, md_len, e)))
		goto out;
	att = json_pack("{s:{s:s, s:O}, s:{s:O, s:s}}", "runtime-data", "nonce", ch.nonce, "tee-pubkey", jwk,
			"tee-evidence", "primary_evidence", ev, "additional_evidence", "");
	if ((r = json_text(&req, att, e)))
		goto out;
	if ((r = http(s, a->cookie, NULL, deadline_ms, "POST", "/kbs/v0/attest", req, &resp, e))) {
		*retry = 1;
		goto out;
	}
	if (resp.status != 200) {
		status_text(st, sizeof(st), &resp);
		*retry = resp.status >= 500;
		r = ccp_err_set(e, CCP_EDECRYPT, "KBS %s refused the %s evidence (POST /kbs/v0/attest): %s", s->url,
				tee, st);
	} else if ((r = ccp_kbs_parse_token(&a->token, &a->exp, resp.body.data, resp.body.len, e)) == 0) {
		if (resp.cookie) {
			ccp_kbs_wipe_str(&a->cookie);
			a->cookie = resp.cookie;
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
		ccp_kbs_attestation_wipe(a);
	return r;
}

/* The attestation agent's KBS token and TEE key into a (wiped first; left wiped on failure). */
static int aa_token(const session *s, attestation *a, int *unimplemented, ccp_err *e)
{
	void *key = NULL;
	int r;

	ccp_kbs_attestation_wipe(a);
	if ((r = ccp_aa_token(&a->token, &a->exp, &key, unimplemented, s->aa_socket, e)) == 0)
		a->key = key;
	return r;
}

int ccp_kbs_handshake(const session *s, attestation *a, uint64_t deadline_ms, ccp_err *e)
{
	ccp_attester_kind kind;
	char tee[CCP_AA_TEE_MAX];
	int r, retry = 0, unimplemented = 0;

	if ((r = ccp_attester_parse(&kind, s->attester, e)))
		return r;
	if (kind == CCP_ATTESTER_AUTO)
		kind = ccp_attester_detect(s->tsm_root, s->aa_socket);
	/* With an agent, CDH's way: the agent attests (its init-data and device evidence included) and
	 * hands over the token and TEE key; only an agent without GetToken gets ccpull's handshake with
	 * its evidence. */
	if (kind == CCP_ATTESTER_AA && ((r = aa_token(s, a, &unimplemented, e)) == 0 || !unimplemented))
		return r;
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
		if ((r = handshake_once(s, a, kind, tee, deadline_ms, &retry, e)) == 0 || !retry || i == ATTEMPTS ||
		    pause_before_retry(deadline_ms) != 0)
			return r;
	}
}

/* ---- resources ---- */

/* Resource path from the KBS of s (a user of s, without the lock). */
static int get_resource(session *s, const char *path, uint64_t deadline_ms, ccp_buf *out, ccp_err *e)
{
	char rpath[CCP_KBS_PATH_MAX + 32], st[512];
	credentials c;
	int r, reattested = 0;

	snprintf(rpath, sizeof(rpath), "/kbs/v0/resource/%s", path);
	if ((r = ccp_kbs_session_credentials(&c, s, deadline_ms, call_cancel, e)))
		return r;
	for (int i = 1;; i++) {
		response resp;
		if ((r = http(s, c.cookie, c.bearer, deadline_ms, "GET", rpath, NULL, &resp, e))) {
			if (i == ATTEMPTS || pause_before_retry(deadline_ms) != 0)
				break;
			continue;
		}
		if (resp.status == 200) {
			r = ccp_jwe_decrypt(c.key, resp.body.data, resp.body.len, out, e);
			response_free(&resp);
			if (r)
				ccp_err_wrap(e, "KBS %s: resource %s", s->url, path);
			break;
		}
		status_text(st, sizeof(st), &resp);
		response_free(&resp);
		if (resp.status == 401 && i < ATTEMPTS && !reattested) {
			/* The session or its token expired on the KBS: attest again, once. */
			reattested = 1;
			ccp_kbs_session_invalidate(s, c.gen);
			ccp_kbs_credentials_free(&c);
			if ((r = ccp_kbs_session_credentials(&c, s, deadline_ms, call_cancel, e)))
				return ccp_err_wrap(e, "re-attesting after %s for resource %s", st, path);
			continue;
		}
		if (resp.status >= 500 && i < ATTEMPTS && pause_before_retry(deadline_ms) == 0)
			continue;
		r = ccp_err_set(e, CCP_EDECRYPT, "KBS %s: resource %s: %s%s", s->url, path,
				resp.status == 404 ? "not found, " : resp.status == 403 ? "denied by the KBS policy, " : "",
				st);
		break;
	}
	ccp_kbs_credentials_free(&c);
	return r;
}

/* The copy of path in one offline file: 1 found, 0 not listed (or, when optional, no such file), or an error. */
static int offline_get_one(ccp_buf *out, const char *file, const char *path, int optional, ccp_err *e)
{
	ccp_offline_resources o;
	const ccp_offline_entry *en;
	int r;

	if (optional && access(file, F_OK) != 0 && errno == ENOENT)
		return 0;
	if ((r = ccp_offline_resources_load(&o, file, e)))
		return r;
	if ((en = ccp_offline_resources_find(&o, path))) {
		out->max = 0;
		r = ccp_buf_append(out, en->data.data ? en->data.data : "", en->data.len) ? ccp_err_oom(e) : 1;
	}
	ccp_offline_resources_free(&o);
	return r;
}

int ccp_kbs_offline_fs_dir(char *dir, size_t dir_len, const char *file)
{
	const char *slash = strrchr(file, '/'), *base = slash ? slash + 1 : file;
	size_t n = slash ? (size_t)(slash - file) : 0;

	if (strcmp(base, CCP_OFFLINE_FS_RESOURCES) != 0)
		return 0;
	if (!slash)
		snprintf(dir, dir_len, ".");
	else if (n == 0)
		snprintf(dir, dir_len, "/");
	else if (n >= dir_len)
		return 0;
	else
		snprintf(dir, dir_len, "%.*s", (int)n, file);
	return 1;
}

/*
 * The offline copy of path: 1 found, 0 not listed, or an error. file alone, or, when it is
 * offline_fs_kbc's resources file, the set offline_fs_kbc reads (confidential-data-hub/kms/src/plugins/
 * kbs/offline_fs.rs): its keys file beside it, file, then each file of OFFLINE_FS_KBC_EXTRA_FILE_PATH
 * (comma separated), a missing one empty and a later one's entry winning, as its map is filled.
 */
static int offline_get(ccp_buf *out, const char *file, const char *path, ccp_err *e)
{
	char dir[4096], keys[4096 + sizeof(CCP_OFFLINE_FS_KEYS) + 1];
	const char *extra;
	int r = 0;

	if (!ccp_kbs_offline_fs_dir(dir, sizeof(dir), file))
		return offline_get_one(out, file, path, 0, e);
	if ((extra = getenv(CCP_OFFLINE_FS_EXTRA_ENV)) && *extra) {
		/* the last file that lists path wins: look from the end */
		size_t len = strlen(extra), end = len;
		while (r == 0) {
			size_t start = end;
			char one[4096];
			while (start > 0 && extra[start - 1] != ',')
				start--;
			if (end - start >= sizeof(one))
				return ccp_err_set(e, CCP_EINVALID, "%s: a path is too long", CCP_OFFLINE_FS_EXTRA_ENV);
			memcpy(one, extra + start, end - start);
			one[end - start] = '\0';
			if (*one && (r = offline_get_one(out, one, path, 1, e)) < 0)
				return ccp_err_wrap(e, "%s", CCP_OFFLINE_FS_EXTRA_ENV);
			if (start == 0)
				break;
			end = start - 1;
		}
		if (r)
			return r;
	}
	if ((r = offline_get_one(out, file, path, 1, e)))
		return r;
	snprintf(keys, sizeof(keys), "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", CCP_OFFLINE_FS_KEYS);
	return offline_get_one(out, keys, path, 1, e);
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
	char path[CCP_KBS_PATH_MAX];
	ccp_buf ca = CCP_BUF_INIT(0);
	unsigned char ca_md[32] = { 0 };
	ccp_attester_kind kind;
	session *s = NULL;
	int r, hit = 0;

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
	if (ccp_kbs_url_len(cfg->url) + CCP_KBS_PATH_MAX + 32 >= 4096)
		return ccp_err_set(e, CCP_EINVALID, "KBS URL too long");
	if ((r = ccp_attester_parse(&kind, cfg->attester, e)))
		return r;
	/* The trust anchors as they are now: the session of other ones (or of none) is another session. */
	if (cfg->cert) {
		if ((r = ccp_read_file(&ca, cfg->cert, CERT_MAX, e)))
			return ccp_err_wrap(e, "--kbs-cert");
		if (!EVP_Digest(ca.data ? ca.data : "", ca.len, ca_md, NULL, EVP_sha256(), NULL)) {
			ccp_buf_free(&ca);
			return ccp_err_set(e, CCP_EINTERNAL, "SHA-256 of %.256s (OpenSSL)", cfg->cert);
		}
	}

	r = ccp_kbs_session_open(&s, &hit, out, cfg, &ca, ca_md, path, e);
	ccp_buf_free(&ca);
	if (r == 0 && !hit) {
		call_cancel = cfg->cancel;
		r = get_resource(s, path, cfg->deadline_ms, out, e);
		call_cancel = NULL;
	}
	ccp_kbs_session_close(s, path, r == 0 && !hit ? out : NULL);
	return r;
}

static int source_fetch(void *payload, const char *uri, ccp_buf *out, ccp_err *e)
{
	return ccp_kbs_fetch(out, payload, uri, e);
}

void ccp_kbs_source(ccp_resource_src *out, const ccp_kbs_config *cfg)
{
	out->fetch = source_fetch;
	out->payload = (void *)cfg;
}

