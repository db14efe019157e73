/* Cancellation and deadline of a pull (cancel.h). */
#include "util/cancel.h"

#include <time.h>

/* How long a wait sleeps between two looks at the flag. */
#define SLICE_MS 50

uint64_t ccp_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void ccp_cancel_request(ccp_cancel *c)
{
	if (c)
		atomic_store(&c->flag, 1);
}

int ccp_cancel_requested(const ccp_cancel *c)
{
	return c && atomic_load((atomic_int *)&c->flag) != 0;
}

int ccp_cancel_check(const ccp_cancel *c, const char *what, ccp_err *e)
{
	if (!c)
		return 0;
	if (ccp_cancel_requested(c))
		return what ? ccp_err_set(e, CCP_ECANCELED, "%s: cancelled", what)
			    : ccp_err_set(e, CCP_ECANCELED, "cancelled");
	if (c->deadline_ms && ccp_monotonic_ms() >= c->deadline_ms)
		return what ? ccp_err_set(e, CCP_ETIMEOUT, "%s: the pull's time limit ran out", what)
			    : ccp_err_set(e, CCP_ETIMEOUT, "the pull's time limit ran out");
	return 0;
}

int ccp_cancel_sleep(const ccp_cancel *c, uint64_t ms, const char *what, ccp_err *e)
{
	uint64_t end = ccp_monotonic_ms() + ms;
	int r;

	for (;;) {
		uint64_t now = ccp_monotonic_ms(), slice;
		struct timespec ts;
		if ((r = ccp_cancel_check(c, what, e)) != 0)
			return r;
		if (now >= end)
			return 0;
		slice = end - now < SLICE_MS ? end - now : SLICE_MS;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)slice * 1000000L;
		nanosleep(&ts, NULL);
	}
}
