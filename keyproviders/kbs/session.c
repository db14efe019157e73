/*
 * The KBS client's sessions: the table of attested sessions, one per trust identity, with their
 * resource caches; who may use a session and when it is wiped.
 *
 * A session belongs to everything that decides whom it trusts and what it proves: the KBS URL, the
 * --kbs-cert trust anchors (their path and the SHA-256 of the PEM bytes, which are also what libcurl
 * is given, so the trust checked is the trust keyed), the attester, the configfs-tsm root, the
 * attestation agent's socket and the key type. A pull, or `ccpull serve` between pulls, reuses the
 * session of its configuration; a configuration with other trust never sees its cookie or cached
 * resources.
 *
 * No lock is held across network I/O or attestation: one attestation per session is in flight, the
 * other users wait for it on a condition variable, each no longer than its own deadline
 * (ccp_kbs_config.deadline_ms) or cancellation. Secrets (the ephemeral private key, the session
 * cookie, the token, resources) are wiped when dropped and never logged: on expiry (the token's exp,
 * CCP_KBS_SESSION_IDLE_S without use; swept on every fetch and context change), when the last
 * context goes (ccp_kbs_release) and at the last ccp_shutdown (ccp_kbs_reset). The requests
 * themselves are client.c's.
 */
#include "keyproviders/kbs/session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>

#define SESSIONS_MAX 8      /* sessions kept (idle ones beyond it are dropped, least recently used first) */

/* Wakes a wait this often to look at the caller's cancellation. */
#define CANCEL_POLL_MS 100

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static session *sessions;       /* most recently used first */
static unsigned long holders;   /* live contexts (ccp_kbs_hold) */

uint64_t ccp_kbs_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void ccp_kbs_wipe_str(char **s)
{
	if (*s) {
		OPENSSL_cleanse(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

void ccp_kbs_attestation_wipe(attestation *a)
{
	EVP_PKEY_free(a->key);
	a->key = NULL;
	ccp_kbs_wipe_str(&a->cookie);
	ccp_kbs_wipe_str(&a->token);
	a->exp = 0;
}

static int attestation_expired(const attestation *a)
{
	return a->exp && (int64_t)time(NULL) >= a->exp;
}

static void session_free(session *s)
{
	if (!s)
		return;
	ccp_kbs_attestation_wipe(&s->att);
	ccp_resource_cache_free(&s->cache);
	ccp_buf_free(&s->ca);
	pthread_cond_destroy(&s->cv);
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

size_t ccp_kbs_url_len(const char *url)
{
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	return n;
}

static int session_matches(const session *s, const ccp_kbs_config *c, const unsigned char ca_md[32])
{
	size_t n = ccp_kbs_url_len(c->url);
	return strlen(s->url) == n && strncmp(s->url, c->url, n) == 0 && same(s->attester, c->attester) &&
	       same(s->cert, c->cert) && memcmp(s->ca_md, ca_md, 32) == 0 && same(s->tsm_root, c->tsm_root) &&
	       same(s->aa_socket, c->aa_socket) && s->rsa == !!c->rsa;
}

static int dup_opt(char **out, const char *s)
{
	*out = NULL;
	return s && !(*out = strdup(s)) ? -1 : 0;
}

/* A new, unlisted session taking over ca (the PEM bytes of c->cert). */
static int session_new(session **out, const ccp_kbs_config *c, ccp_buf *ca, const unsigned char ca_md[32], ccp_err *e)
{
	session *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca_attr;
	int cv_ok = 0;

	*out = NULL;
	if (s && pthread_condattr_init(&ca_attr) == 0) {
		cv_ok = pthread_condattr_setclock(&ca_attr, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&s->cv, &ca_attr) == 0;
		pthread_condattr_destroy(&ca_attr);
	}
	if (!s || !cv_ok || !(s->url = strndup(c->url, ccp_kbs_url_len(c->url))) || dup_opt(&s->attester, c->attester) ||
	    dup_opt(&s->cert, c->cert) || dup_opt(&s->tsm_root, c->tsm_root) || dup_opt(&s->aa_socket, c->aa_socket) ||
	    ccp_resource_cache_init(&s->cache, CCP_KBS_CACHE_ENTRIES, CCP_KBS_CACHE_BYTES, CCP_KBS_CACHE_TTL_S, NULL)) {
		if (s && !cv_ok)
			free(s);
		else
			session_free(s);
		return ccp_err_oom(e);
	}
	s->rsa = !!c->rsa;
	s->ca = *ca;
	memset(ca, 0, sizeof(*ca));
	memcpy(s->ca_md, ca_md, 32);
	*out = s;
	return 0;
}

static void unlist(session *s)
{
	for (session **p = &sessions; *p; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			break;
		}
	}
	s->next = NULL;
	s->listed = 0;
}

/*
 * Under lock: drops (and wipes) idle sessions that expired or that no context can use any more, and
 * the attestation of a session whose token expired.
 */
static void sweep(uint64_t now)
{
	session **p = &sessions;

	while (*p) {
		session *s = *p;
		int idle = s->users == 0;
		if (idle && (holders == 0 || now - s->last_used_ms >= (uint64_t)CCP_KBS_SESSION_IDLE_S * 1000)) {
			*p = s->next;
			session_free(s);
			continue;
		}
		if (idle && s->att.token && attestation_expired(&s->att)) {
			ccp_kbs_attestation_wipe(&s->att);
			s->gen++;
		}
		p = &s->next;
	}
}

/* Under lock: the listed session of c, moved to the front, or a new one listed there (or, when every
 * listed session is busy and the table is full, left unlisted: freed after this fetch). */
static int session_get(session **out, const ccp_kbs_config *c, ccp_buf *ca, const unsigned char ca_md[32], ccp_err *e)
{
	session *s, *lru_idle = NULL;
	size_t n = 0;
	int r;

	for (s = sessions; s; s = s->next) {
		if (session_matches(s, c, ca_md)) {
			unlist(s);
			break;
		}
		n++;
		if (s->users == 0)
			lru_idle = s;
	}
	if (!s) {
		if ((r = session_new(&s, c, ca, ca_md, e)))
			return r;
		if (n >= SESSIONS_MAX && lru_idle) {
			unlist(lru_idle);
			session_free(lru_idle);
			n--;
		}
	}
	if (n < SESSIONS_MAX) {
		s->next = sessions;
		sessions = s;
		s->listed = 1;
	}
	s->users++;
	*out = s;
	return 0;
}

/* Under lock: the end of a fetch's use of s. */
static void session_put(session *s)
{
	s->users--;
	s->last_used_ms = ccp_kbs_now_ms();
	if (s->users == 0 && (!s->listed || holders == 0)) {
		if (s->listed)
			unlist(s);
		session_free(s);
	}
}

void ccp_kbs_credentials_free(credentials *c)
{
	EVP_PKEY_free(c->key);
	c->key = NULL;
	ccp_kbs_wipe_str(&c->cookie);
	ccp_kbs_wipe_str(&c->bearer);
}

/* Under lock: copies the session's attestation. */
static int credentials_take(credentials *c, session *s, ccp_err *e)
{
	if (s->att.cookie ? !(c->cookie = strdup(s->att.cookie)) : !(c->bearer = strdup(s->att.token)))
		return ccp_err_oom(e);
	if (EVP_PKEY_up_ref(s->att.key) != 1) {
		ccp_kbs_wipe_str(&c->cookie);
		ccp_kbs_wipe_str(&c->bearer);
		return ccp_err_oom(e);
	}
	c->key = s->att.key;
	c->gen = s->gen;
	return 0;
}

/* Takes and releases lock. */
int ccp_kbs_session_credentials(credentials *c, session *s, uint64_t deadline_ms, const ccp_cancel *cancel,
				ccp_err *e)
{
	attestation a = { 0 };
	struct timespec until;
	int r;

	memset(c, 0, sizeof(*c));
	pthread_mutex_lock(&lock);
	for (;;) {
		if (s->att.token && s->att.key && !attestation_expired(&s->att)) {
			r = credentials_take(c, s, e);
			pthread_mutex_unlock(&lock);
			return r;
		}
		if (!s->attesting)
			break;
		if (ccp_cancel_requested(cancel)) {
			pthread_mutex_unlock(&lock);
			return ccp_kbs_cancelled(e, s->url, "waiting for the attestation in progress");
		}
		if (!deadline_ms && !cancel) {
			pthread_cond_wait(&s->cv, &lock);
			continue;
		}
		{
			/* in slices when cancellable, to look at the flag */
			uint64_t wake = cancel ? ccp_kbs_now_ms() + CANCEL_POLL_MS : deadline_ms;
			if (deadline_ms && deadline_ms < wake)
				wake = deadline_ms;
			until.tv_sec = (time_t)(wake / 1000);
			until.tv_nsec = (long)(wake % 1000) * 1000000L;
		}
		if (pthread_cond_timedwait(&s->cv, &lock, &until) == ETIMEDOUT && s->attesting && deadline_ms &&
		    ccp_kbs_now_ms() >= deadline_ms) {
			pthread_mutex_unlock(&lock);
			return ccp_kbs_out_of_time(e, s->url, "waiting for the attestation in progress");
		}
	}
	s->attesting = 1;
	pthread_mutex_unlock(&lock);

	r = ccp_kbs_handshake(s, &a, deadline_ms, e);

	pthread_mutex_lock(&lock);
	s->attesting = 0;
	if (r == 0) {
		ccp_kbs_attestation_wipe(&s->att);
		s->att = a;
		s->gen++;
		r = credentials_take(c, s, e);
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&lock);
	return r;
}

void ccp_kbs_session_invalidate(session *s, uint64_t gen)
{
	pthread_mutex_lock(&lock);
	if (s->gen == gen) {
		ccp_kbs_attestation_wipe(&s->att);
		s->gen++;
	}
	pthread_mutex_unlock(&lock);
}

int ccp_kbs_cancelled(ccp_err *e, const char *url, const char *what)
{
	return ccp_err_set(e, CCP_ECANCELED, "KBS %s: %s: cancelled", url, what);
}

int ccp_kbs_out_of_time(ccp_err *e, const char *url, const char *what)
{
	return ccp_err_set(e, CCP_EDECRYPT, "KBS %s: %s: the time limit of the pull ran out", url, what);
}

int ccp_kbs_session_open(session **s, int *hit, ccp_buf *res, const ccp_kbs_config *c, ccp_buf *ca,
			 const unsigned char ca_md[32], const char *path, ccp_err *e)
{
	int r;

	*s = NULL;
	*hit = 0;
	pthread_mutex_lock(&lock);
	sweep(ccp_kbs_now_ms());
	if ((r = session_get(s, c, ca, ca_md, e)) == 0 && (*hit = ccp_resource_cache_get(&(*s)->cache, path, res)) < 0) {
		*hit = 0;
		r = ccp_err_oom(e);
	}
	pthread_mutex_unlock(&lock);
	return r;
}

void ccp_kbs_session_close(session *s, const char *path, const ccp_buf *fetched)
{
	pthread_mutex_lock(&lock);
	if (s) {
		if (fetched && s->listed)
			ccp_resource_cache_put(&s->cache, path, fetched->data, fetched->len);
		session_put(s);
	}
	pthread_mutex_unlock(&lock);
}

void ccp_kbs_reset(void)
{
	session *s, *next;

	pthread_mutex_lock(&lock);
	for (s = sessions; s; s = next) {
		next = s->next;
		s->next = NULL;
		s->listed = 0;
		/* a session in use is wiped by its last user; its cache and attestation go now */
		if (s->users == 0) {
			session_free(s);
		} else {
			ccp_kbs_attestation_wipe(&s->att);
			s->gen++;
			ccp_resource_cache_clear(&s->cache);
		}
	}
	sessions = NULL;
	pthread_mutex_unlock(&lock);
}

void ccp_kbs_hold(void)
{
	pthread_mutex_lock(&lock);
	holders++;
	sweep(ccp_kbs_now_ms());
	pthread_mutex_unlock(&lock);
}

void ccp_kbs_release(void)
{
	int last;

	pthread_mutex_lock(&lock);
	if (holders > 0)
		holders--;
	last = holders == 0;
	sweep(ccp_kbs_now_ms());
	pthread_mutex_unlock(&lock);
	if (last)
		ccp_kbs_reset();
}
