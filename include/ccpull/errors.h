/* ccpull error codes: a stable enum. Values never change meaning; new ones are appended. */
#ifndef INCLUDE_ccpull_errors_h__
#define INCLUDE_ccpull_errors_h__

#include "common.h"

CCP_BEGIN_DECL

/*
 * Every library function returns 0 on success or one of these negative codes.
 * The CLI's exit status is the negated code for -1..-8, 9 for CCP_ETIMEOUT and 130 for CCP_ECANCELED
 * (see ccpull(1)).
 */
typedef enum {
	CCP_OK = 0,
	CCP_EINTERNAL = -1,  /* a bug or an unexpected system failure */
	CCP_EINVALID = -2,   /* invalid argument, usage or configuration */
	CCP_EPOLICY = -3,    /* rejected by policy or signature */
	CCP_EREGISTRY = -4,  /* registry, network or authentication failure; unusable registry content */
	CCP_EINTEGRITY = -5, /* digest, size, diff_id or HMAC mismatch */
	CCP_EDECRYPT = -6,   /* decryption, key unavailable, KBS or attestation */
	CCP_ELAYER = -7,     /* unsafe or malformed layer content */
	CCP_ESTORAGE = -8,   /* local storage: disk full, permissions, store corruption */
	CCP_ENOMEM = -9,     /* out of memory (exit status 1) */
	/* the pull's time limit (timeout_s) ran out in a local stage: unpacking, copying, waiting for a
	 * lock (exit status 9). Out of time in a registry or KBS exchange stays CCP_EREGISTRY or CCP_EDECRYPT */
	CCP_ETIMEOUT = -10,
	CCP_ECANCELED = -11  /* cancelled by ccp_context_cancel (exit status 130, as for SIGINT) */
} ccp_error_code;

/* A static, human-readable name of a code ("integrity check failed"). Never NULL. Thread-safe. */
CCP_EXTERN(const char *) ccp_strerror(int code);

/* The CLI exit status for a code: 0 for CCP_OK, 1..9 or 130 per the table in ccpull(1). Thread-safe. */
CCP_EXTERN(int) ccp_exit_status(int code);

CCP_END_DECL
#endif
