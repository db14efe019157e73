/*
 * The cancellation and the deadline of one pull (ccp_context_cancel, ccp_pull_options.timeout_s),
 * checked by every stage: registry and KBS exchanges, decompression and unpacking, relinking, tree
 * copies, user resolution, lock waits, retries. A stage that finds it set stops, and its caller
 * removes what the pull made.
 */
#ifndef CCP_UTIL_CANCEL_H
#define CCP_UTIL_CANCEL_H

#include <stdatomic.h>
#include <stdint.h>
#include "util/err.h"

typedef struct ccp_cancel {
	atomic_int flag;       /* set (never cleared) by ccp_cancel_request, from any thread or a signal handler */
	uint64_t deadline_ms;  /* CLOCK_MONOTONIC ms when the time is up; 0: none. Set before the pull starts */
} ccp_cancel;

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t ccp_monotonic_ms(void);

/* Sets the flag: an atomic store, nothing else (async-signal-safe). c may be NULL. */
void ccp_cancel_request(ccp_cancel *c);

/* Nonzero once the flag is set (c may be NULL: never). A single atomic load. */
int ccp_cancel_requested(const ccp_cancel *c);

/*
 * 0 when c (may be NULL) is neither cancelled nor past its deadline; else CCP_ECANCELED or
 * CCP_ETIMEOUT, with e saying so and naming what (e.g. "unpacking layer 2/3 ..."; may be NULL).
 */
int ccp_cancel_check(const ccp_cancel *c, const char *what, ccp_err *e);

/*
 * Sleeps ms milliseconds, in short slices, returning early once c is cancelled or past its
 * deadline: 0 after the full sleep, else what ccp_cancel_check gives.
 */
int ccp_cancel_sleep(const ccp_cancel *c, uint64_t ms, const char *what, ccp_err *e);

#endif
