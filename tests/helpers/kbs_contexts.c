/*
 * kbs_contexts MODE IMAGE DIR ...: pulls IMAGE (a CoCo-encrypted image whose policy and KEK come
 * from a KBS, as kbs_setup.sh makes it) through the public API with several contexts in one process,
 * the way a long-lived caller (kata-agent's puller, `ccpull serve`) does, for test_kbs_contexts.sh.
 * Each pull goes into DIR/b-NAME with its own store DIR/store-NAME. Exit 0 when every expectation
 * holds, 1 (after a line on stderr) otherwise.
 *
 *   trust IMAGE DIR URL GOOD_CA BAD_CA
 *       context 1 (trusting GOOD_CA) pulls; while it lives, context 2 trusting BAD_CA must fail with
 *       CCP_EDECRYPT and "not trusted" (it may not be served what context 1 fetched), and context 3
 *       trusting GOOD_CA again pulls.
 *   fresh IMAGE DIR URL
 *       context 1 pulls twice and is freed; then context 2 pulls (the test counts attestations).
 *   stall IMAGE DIR STALLED_URL STALLED_LOG GOOD_URL
 *       A (10 s limit) pulls from a KBS whose attestation hangs; once it is stuck, C (3 s limit, the
 *       same KBS) must fail within 30 s saying the time limit ran out, and B (another KBS, 120 s
 *       limit) must pull within 60 s; A must fail within 60 s.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ccpull/ccpull.h"

static const char *image, *dir;

typedef struct job {
	const char *name, *kbs, *cert;
	unsigned int timeout_s;
	ccp_context *ctx;       /* NULL: a context of its own, freed after the pull */
	int rc;
	char err[1024];
	double seconds;
	int done;
} job;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run(job *j)
{
	ccp_pull_options o = CCP_PULL_OPTIONS_INIT;
	ccp_context *ctx = j->ctx;
	ccp_pull_result *res = NULL;
	char bundle[4096], store[4096];
	double t0 = now_s();

	snprintf(bundle, sizeof(bundle), "%s/b-%s", dir, j->name);
	snprintf(store, sizeof(store), "%s/store-%s", dir, j->name);
	o.registry.tls_verify = 0;
	o.store.snapshotter = CCP_SNAPSHOTTER_COPY;
	o.store.dir = store;
	o.trust.policy = "kbs:///default/security-policy/test";
	o.kbs.url = j->kbs;
	o.kbs.cert = j->cert;
	o.kbs.attester = "sample";
	o.timeout_s = j->timeout_s;
	if (!ctx && ccp_context_new(&ctx) != 0) {
		j->rc = CCP_ENOMEM;
	} else {
		j->rc = ccp_pull(&res, ctx, image, bundle, &o);
		snprintf(j->err, sizeof(j->err), "%s", ccp_context_last_error(ctx));
		ccp_pull_result_free(res);
		if (!j->ctx)
			ccp_context_free(ctx);
	}
	j->seconds = now_s() - t0;
	fprintf(stderr, "kbs_contexts: %s: %d after %.1f s%s%s\n", j->name, j->rc, j->seconds, j->rc ? ": " : "",
		j->err);
	pthread_mutex_lock(&mu);
	j->done = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void *run_thread(void *p)
{
	run(p);
	return NULL;
}

static int failed(const char *why, const char *detail)
{
	fprintf(stderr, "kbs_contexts: FAIL: %s%s%s\n", why, detail ? ": " : "", detail ? detail : "");
	return 1;
}

/* Waits at most seconds for j; 0 when it finished. */
static int wait_job(job *j, int seconds)
{
	struct timespec until;
	int r = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	pthread_mutex_lock(&mu);
	while (!j->done && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&cv, &mu, &until);
	r = j->done ? 0 : -1;
	pthread_mutex_unlock(&mu);
	return r;
}

static int is_done(job *j)
{
	int done;

	pthread_mutex_lock(&mu);
	done = j->done;
	pthread_mutex_unlock(&mu);
	return done;
}

static int file_has(const char *path, const char *line)
{
	char buf[512];
	FILE *f = fopen(path, "r");
	int found = 0;

	while (f && !found && fgets(buf, sizeof(buf), f))
		found = strncmp(buf, line, strlen(line)) == 0;
	if (f)
		fclose(f);
	return found;
}

static int mode_trust(char **argv)
{
	job one = { "trust-1", argv[0], argv[1], 0, NULL, 0, "", 0, 0 };
	job two = { "trust-2", argv[0], argv[2], 0, NULL, 0, "", 0, 0 };
	job three = { "trust-3", argv[0], argv[1], 0, NULL, 0, "", 0, 0 };
	ccp_context *ctx1 = NULL;
	int r = 0;

	if (ccp_context_new(&ctx1) != 0)
		return failed("out of memory", NULL);
	one.ctx = ctx1;
	run(&one);
	if (one.rc != 0)
		r = failed("the pull trusting the KBS's CA failed", one.err);
	run(&two); /* while context 1 and its session live */
	if (two.rc == 0)
		r = failed("a context trusting another CA was served the KBS's resources", NULL);
	else if (two.rc != CCP_EDECRYPT || !strstr(two.err, "not trusted"))
		r = failed("the untrusting context failed for another reason", two.err);
	run(&three);
	if (three.rc != 0)
		r = failed("a second context trusting the KBS's CA failed", three.err);
	ccp_context_free(ctx1);
	return r;
}

static int mode_fresh(char **argv)
{
	job a = { "fresh-1a", argv[0], NULL, 0, NULL, 0, "", 0, 0 };
	job b = { "fresh-1b", argv[0], NULL, 0, NULL, 0, "", 0, 0 };
	job c = { "fresh-2", argv[0], NULL, 0, NULL, 0, "", 0, 0 };
	ccp_context *ctx1 = NULL, *ctx2 = NULL;
	int r = 0;

	if (ccp_context_new(&ctx1) != 0)
		return failed("out of memory", NULL);
	a.ctx = b.ctx = ctx1;
	run(&a);
	run(&b);
	ccp_context_free(ctx1);
	if (ccp_context_new(&ctx2) != 0)
		return failed("out of memory", NULL);
	c.ctx = ctx2;
	run(&c);
	ccp_context_free(ctx2);
	if (a.rc || b.rc || c.rc)
		r = failed("a pull failed", NULL);
	return r;
}

static int mode_stall(char **argv)
{
	job a = { "stall-a", argv[0], NULL, 10, NULL, 0, "", 0, 0 };
	job c = { "stall-c", argv[0], NULL, 3, NULL, 0, "", 0, 0 };
	job b = { "stall-b", argv[2], NULL, 120, NULL, 0, "", 0, 0 };
	pthread_t ta, tb, tc;
	int r = 0;

	if (pthread_create(&ta, NULL, run_thread, &a) != 0)
		return failed("pthread_create", NULL);
	/* A is inside the stalled attestation once the KBS logged it */
	for (int i = 0; !file_has(argv[1], "auth stalled"); i++) {
		if (i == 600 || is_done(&a))
			return failed("the stalled KBS never saw A's attestation", NULL);
		usleep(100000);
	}
	if (pthread_create(&tc, NULL, run_thread, &c) != 0 || pthread_create(&tb, NULL, run_thread, &b) != 0)
		return failed("pthread_create", NULL);
	if (wait_job(&c, 30) != 0) {
		failed("C, waiting for A's attestation, was not stopped by its 3 s limit", NULL);
		_exit(1);
	}
	if (c.rc == 0 || !strstr(c.err, "time limit"))
		r = failed("C should fail for its time limit", c.err);
	if (wait_job(&b, 60) != 0) {
		failed("B (another KBS) is blocked behind the stalled attestation", NULL);
		_exit(1);
	}
	if (b.rc != 0)
		r = failed("B failed", b.err);
	if (wait_job(&a, 60) != 0) {
		failed("A was not stopped by its 10 s limit", NULL);
		_exit(1);
	}
	if (a.rc == 0 || !strstr(a.err, "time limit"))
		r = failed("A should fail for its time limit", a.err);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_join(tc, NULL);
	return r;
}

static int run_mode(int argc, char **argv)
{
	if (argc == 7 && strcmp(argv[1], "trust") == 0) {
		image = argv[2];
		dir = argv[3];
		return mode_trust(argv + 4);
	}
	if (argc == 5 && strcmp(argv[1], "fresh") == 0) {
		image = argv[2];
		dir = argv[3];
		return mode_fresh(argv + 4);
	}
	if (argc == 7 && strcmp(argv[1], "stall") == 0) {
		image = argv[2];
		dir = argv[3];
		return mode_stall(argv + 4);
	}
	fprintf(stderr, "usage: kbs_contexts trust IMAGE DIR URL GOOD_CA BAD_CA | fresh IMAGE DIR URL |\n"
			"       stall IMAGE DIR STALLED_URL STALLED_LOG GOOD_URL\n");
	return 2;
}

int main(int argc, char **argv)
{
	int r;

	if (ccp_init() < 0) {
		fprintf(stderr, "kbs_contexts: %s\n", ccp_context_last_error(NULL));
		return 1;
	}
	r = run_mode(argc, argv);
	ccp_shutdown();
	return r;
}
