/* Retries of a registry request: the backoff, Retry-After, and the wait before the next attempt. */
#include "registry/registry_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#define RETRY_BASE_MS 500                /* first backoff; doubles per retry */
#define RETRY_BACKOFF_MAX_MS 10000       /* cap of one backoff */
#define RETRY_AFTER_MAX_MS 30000         /* a longer Retry-After is cut to this */

uint64_t ccp_retry_backoff_ms(unsigned int attempt, uint32_t jitter)
{
	uint64_t d = RETRY_BASE_MS;

	for (unsigned i = 0; i < attempt && d < RETRY_BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > RETRY_BACKOFF_MAX_MS)
		d = RETRY_BACKOFF_MAX_MS;
	/* the upper half is random so that parallel downloads and guests do not retry in lockstep */
	return d / 2 + jitter % (d / 2 + 1);
}

int ccp_retry_after_parse(const char *value, time_t now, uint64_t *ms)
{
	uint64_t s = 0;
	const char *p = value;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p >= '0' && *p <= '9') {
		for (; *p >= '0' && *p <= '9'; p++)
			if (s <= RETRY_AFTER_MAX_MS)
				s = s * 10 + (uint64_t)(*p - '0');
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p)
			return -1;
	} else {
		time_t t = *p ? curl_getdate(p, NULL) : -1;
		if (t == -1)
			return -1;
		s = t > now ? (uint64_t)(t - now) : 0;
	}
	*ms = s < RETRY_AFTER_MAX_MS / 1000 ? s * 1000 : RETRY_AFTER_MAX_MS;
	return 0;
}

static uint32_t jitter_value(void)
{
	uint32_t v;
	struct timespec ts;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)ts.tv_nsec ^ (uint32_t)(uintptr_t)&v;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Adds " (gave up after N attempts[: why])" to the last failure's message. */
static void err_gave_up(ccp_err *e, unsigned attempts, const char *why)
{
	size_t len = strlen(e->msg);

	if (len < sizeof(e->msg))
		snprintf(e->msg + len, sizeof(e->msg) - len, " (gave up after %u attempts%s%s)", attempts,
			 why ? ": " : "", why ? why : "");
}

/*
 * Waits before attempt number attempt + 2 of a request whose last failure is in e. Returns -1 when
 * no attempt is left: the retries, the wait budget of the request (*waited) or the deadline are used
 * up; e then says so.
 */
int ccp_reg_retry_wait(ccp_registry *r, unsigned attempt, const char *retry_after, uint64_t *waited, ccp_err *e)
{
	uint64_t delay = ccp_retry_backoff_ms(attempt, jitter_value()), ra;

	if (attempt >= r->retries) {
		if (r->retries)
			err_gave_up(e, attempt + 1, NULL);
		return -1;
	}
	if (retry_after && ccp_retry_after_parse(retry_after, time(NULL), &ra) == 0 && ra > delay)
		delay = ra;
	if (*waited + delay > RETRY_WAIT_BUDGET_MS) {
		err_gave_up(e, attempt + 1, "the registry keeps failing");
		return -1;
	}
	if (r->deadline_ms && ccp_reg_monotonic_ms() + delay >= r->deadline_ms) {
		err_gave_up(e, attempt + 1, "the pull's time limit runs out");
		return -1;
	}
	if (r->cancel) {
		ccp_err why = CCP_ERR_INIT;
		if (ccp_cancel_sleep(r->cancel, delay, NULL, &why) != 0) {
			if (why.code == CCP_ECANCELED)
				ccp_err_set(e, CCP_ECANCELED, "registry %s: cancelled", r->host);
			else
				err_gave_up(e, attempt + 1, "the pull's time limit runs out");
			return -1;
		}
	} else {
		sleep_ms(delay);
	}
	*waited += delay;
	return 0;
}
