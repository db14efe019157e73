/*
 * The library's lifecycle: ccp_init and ccp_shutdown count initialisations under one lock, as
 * libgit2's git_libgit2_init and git_libgit2_shutdown do. The first ccp_init sets up the state the
 * whole process shares (libcurl's global state; gpgme initialises itself once at its first use, as
 * it runs gpgconf and gpg to find its engine and has nothing to tear down); the last
 * ccp_shutdown wipes the KBS client's sessions (attestations, cookies, tokens, cached resources) and
 * calls curl_global_cleanup. Contexts are made only in between (ccp_context_new).
 */
#include "pull/pull_internal.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "util/curl.h"

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int init_count; /* written under init_lock, read anywhere */

/* The message of the last failed ccp_init, ccp_shutdown or ccp_context_new of this thread. */
static _Thread_local char lib_error[CCP_ERR_MSG_MAX];

void ccp_lib_error_set(const char *msg)
{
	snprintf(lib_error, sizeof(lib_error), "%s", msg ? msg : "");
}

const char *ccp_lib_error(void)
{
	return lib_error;
}

int ccp_lib_initialised(void)
{
	return atomic_load(&init_count) > 0;
}

int ccp_init(void)
{
	ccp_err e = CCP_ERR_INIT;
	int n, r;

	pthread_mutex_lock(&init_lock);
	n = atomic_load(&init_count);
	if (n == INT_MAX) {
		r = ccp_err_set(&e, CCP_EINVALID, "ccp_init() was called %d times without ccp_shutdown()", n);
	} else if (n == 0 && (r = ccp_curl_global_init(&e)) != 0) {
		/* nothing set up: the next ccp_init tries again */
	} else {
		r = n + 1;
		atomic_store(&init_count, r);
	}
	pthread_mutex_unlock(&init_lock);
	ccp_lib_error_set(r < 0 ? e.msg : "");
	return r;
}

int ccp_shutdown(void)
{
	int n;

	pthread_mutex_lock(&init_lock);
	n = atomic_load(&init_count);
	if (n > 0)
		atomic_store(&init_count, n - 1);
	if (n == 1) {
		/* the last one: no secret outlives the library, and libcurl is torn down */
		ccp_kbs_reset();
		ccp_curl_global_cleanup();
	}
	pthread_mutex_unlock(&init_lock);
	if (n == 0) {
		ccp_lib_error_set("ccp_shutdown() without ccp_init()");
		return CCP_EINVALID;
	}
	ccp_lib_error_set("");
	return n - 1;
}
