/*
 * The KBS client's sessions (session.c), shared with the protocol exchange (client.c): a session per
 * trust identity, the attestation it holds and the credentials a request copies out of it. Internal
 * to keyproviders/kbs.
 */
#ifndef CCP_KEYPROVIDERS_KBS_SESSION_H
#define CCP_KEYPROVIDERS_KBS_SESSION_H

#include <pthread.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "keyproviders/kbs/kbs.h"

/*
 * What one attestation gave: all secret, wiped together. Either ccpull's own handshake (a session
 * cookie, the token kept for its exp) or the attestation agent's token (no cookie: the token is sent
 * as "Authorization: Bearer", as kbs_protocol's token client does, and key is the AA's TEE key).
 */
typedef struct attestation {
	EVP_PKEY *key;      /* resources are encrypted to it */
	char *cookie;       /* "kbs-session-id=...", NULL with an AA token */
	char *token;
	int64_t exp;        /* of the token (wall clock), 0 unknown */
} attestation;

typedef struct session {
	struct session *next;
	/* identity, immutable once listed (read without the lock) */
	char *url, *attester, *cert, *tsm_root, *aa_socket;
	int rsa;
	ccp_buf ca;                 /* the PEM bytes of cert (empty without one: the system's CAs) */
	unsigned char ca_md[32];    /* SHA-256 of ca */
	/* under lock */
	attestation att;
	uint64_t gen;               /* bumped whenever att changes */
	int attesting;              /* a user is attesting; the others wait on cv */
	pthread_cond_t cv;          /* CLOCK_MONOTONIC */
	unsigned users;             /* fetches using the session now */
	int listed;                 /* in the table; unlisted sessions are freed by their last user */
	uint64_t last_used_ms;
	ccp_resource_cache cache;   /* resource path -> bytes */
} session;

/* What a request of the current attestation needs, copied out of the session. */
typedef struct credentials {
	EVP_PKEY *key;
	char *cookie;       /* ccpull's handshake */
	char *bearer;       /* or the attestation agent's token */
	uint64_t gen;
} credentials;

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t ccp_kbs_now_ms(void);
/* Wipes and frees *s (may be NULL), then sets it NULL. */
void ccp_kbs_wipe_str(char **s);
/* Frees what a holds and wipes its secrets. */
void ccp_kbs_attestation_wipe(attestation *a);
/* The length of url without its trailing slashes. */
size_t ccp_kbs_url_len(const char *url);

/* "KBS URL: what: cancelled" (CCP_ECANCELED) and "...: the time limit of the pull ran out" (CCP_EDECRYPT). */
int ccp_kbs_cancelled(ccp_err *e, const char *url, const char *what);
int ccp_kbs_out_of_time(ccp_err *e, const char *url, const char *what);

/*
 * The session of c for one fetch (listed at the front of the table, or new: ca, the PEM bytes of
 * c->cert with SHA-256 ca_md, is taken over), after dropping expired ones; *hit is set when its cache
 * holds path, copied into res. On success the caller ends its use with ccp_kbs_session_close, also
 * when the cache could not be read (an error with *s set).
 */
int ccp_kbs_session_open(session **s, int *hit, ccp_buf *res, const ccp_kbs_config *c, ccp_buf *ca,
			 const unsigned char ca_md[32], const char *path, ccp_err *e);
/* The end of a fetch's use of s (may be NULL): fetched (may be NULL) is cached as path first. */
void ccp_kbs_session_close(session *s, const char *path, const ccp_buf *fetched);

/*
 * The credentials of a live attestation of s: the current one, the one another user is making
 * (waited for until deadline_ms, or until cancel), or a new one made here by ccp_kbs_handshake.
 */
int ccp_kbs_session_credentials(credentials *c, session *s, uint64_t deadline_ms, const ccp_cancel *cancel,
				ccp_err *e);
void ccp_kbs_credentials_free(credentials *c);
/* Drops the session's attestation if it is still the one of gen (the KBS no longer knows it). */
void ccp_kbs_session_invalidate(session *s, uint64_t gen);

/* client.c: one attestation of s into a (wiped first; left wiped on failure), by deadline_ms. */
int ccp_kbs_handshake(const session *s, attestation *a, uint64_t deadline_ms, ccp_err *e);

#endif
