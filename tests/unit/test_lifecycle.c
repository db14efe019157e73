/*
 * The library's lifecycle (ccp_init, ccp_shutdown): the counts, contexts refused outside it, many
 * threads initialising and shutting down at once (also run under ThreadSanitizer, tests/run.sh), and
 * the last ccp_shutdown wiping a KBS session: a resource fetched and cached from the test KBS
 * (tests/integration/kbs_server.py, started here) is not served again after it, and a new ccp_init
 * attests again.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ccpull/ccpull.h"
#include "keyproviders/kbs/kbs.h"
#include "test.h"

#define THREADS 8
#define ROUNDS 200

static void test_counts(void)
{
	ccp_context *ctx = (ccp_context *)&ctx;

	/* not initialised: no context, and a message saying why */
	CHECK(ccp_context_new(&ctx) == CCP_EINVALID && ctx == NULL);
	CHECK(strstr(ccp_context_last_error(NULL), "ccp_init() has not been called") != NULL);
	CHECK(ccp_shutdown() == CCP_EINVALID);
	CHECK(strstr(ccp_context_last_error(NULL), "without ccp_init") != NULL);

	CHECK(ccp_init() == 1);
	CHECK_STR(ccp_context_last_error(NULL), "");
	CHECK(ccp_init() == 2);
	CHECK(ccp_shutdown() == 1);
	CHECK(ccp_context_new(&ctx) == 0 && ctx != NULL);
	CHECK_STR(ccp_context_last_error(NULL), "");
	ccp_context_free(ctx);
	CHECK(ccp_shutdown() == 0);
	ctx = NULL;
	CHECK(ccp_context_new(&ctx) == CCP_EINVALID && ctx == NULL);
	CHECK(strstr(ccp_context_last_error(NULL), "ccp_init() has not been called") != NULL);
	CHECK(ccp_shutdown() == CCP_EINVALID);

	/* initialised again after the last shutdown */
	CHECK(ccp_init() == 1);
	CHECK(ccp_context_new(&ctx) == 0);
	ccp_context_free(ctx);
	CHECK(ccp_shutdown() == 0);
}

static void *churn(void *arg)
{
	long bad = 0;

	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		ccp_context *ctx = NULL;
		if (ccp_init() < 1)
			bad++;
		if (ccp_context_new(&ctx) != 0)
			bad++;
		ccp_context_free(ctx);
		if (ccp_shutdown() < 0)
			bad++;
	}
	return (void *)bad;
}

/* Threads that init, make a context and shut down at once: the first init and the last shutdown
 * race with the others, and the count ends at zero. */
static void test_threads(void)
{
	pthread_t th[THREADS];
	int started = 0;

	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&th[i], NULL, churn, NULL) == 0)
			started++;
	CHECK(started == THREADS);
	for (int i = 0; i < started; i++) {
		void *bad = NULL;
		pthread_join(th[i], &bad);
		CHECK(bad == NULL);
	}
	CHECK(ccp_shutdown() == CCP_EINVALID); /* every init was undone */
	CHECK(ccp_init() == 1);
	CHECK(ccp_shutdown() == 0);
}

static int count_lines(const char *path, const char *prefix)
{
	char line[512];
	int n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, prefix, strlen(prefix)) == 0)
			n++;
	fclose(f);
	return n;
}

/* Starts kbs_server.py serving default/key/k1 = "lifecycle-secret" in dir; its port, or -1. */
static int start_kbs(pid_t *pid, const char *src, const char *dir, char *log, size_t log_len)
{
	char script[4096], res[4096], port_file[4096];
	FILE *f;
	int port = -1;

	snprintf(script, sizeof(script), "%s/tests/integration/kbs_server.py", src);
	snprintf(res, sizeof(res), "%s/resources.json", dir);
	snprintf(port_file, sizeof(port_file), "%s/port", dir);
	snprintf(log, log_len, "%s/kbs.log", dir);
	if (!(f = fopen(res, "w")))
		return -1;
	fputs("{\"default/key/k1\": \"bGlmZWN5Y2xlLXNlY3JldA==\"}\n", f);
	fclose(f);
	if ((*pid = fork()) < 0)
		return -1;
	if (*pid == 0) {
		execl("/usr/bin/python3", "python3", script, "--resources", res, "--port-file", port_file, "--log", log,
		      (char *)NULL);
		_exit(127);
	}
	/* up to 60 s on a busy machine; the server writes the file once it listens */
	for (int i = 0; i < 600 && port < 0; i++) {
		struct timespec ts = { 0, 100000000L };
		if ((f = fopen(port_file, "r"))) {
			if (fscanf(f, "%d", &port) != 1)
				port = -1;
			fclose(f);
		}
		if (port < 0) {
			if (waitpid(*pid, NULL, WNOHANG) == *pid)
				return -1;
			nanosleep(&ts, NULL);
		}
	}
	return port;
}

static void test_kbs_wiped(const char *src)
{
	char dir[] = "/tmp/ccp-lifecycle-XXXXXX", log[4200], url[64], rm[4200];
	ccp_kbs_config kc = { 0 };
	ccp_buf b = CCP_BUF_INIT(0);
	ccp_err e = CCP_ERR_INIT;
	pid_t pid = -1;
	int port;

	if (!mkdtemp(dir)) {
		CHECK(0);
		return;
	}
	port = start_kbs(&pid, src, dir, log, sizeof(log));
	CHECK(port > 0);
	if (port <= 0)
		goto out;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	kc.url = url;
	kc.attester = "sample";

	CHECK(ccp_init() == 1);
	/* a live context keeps the session (ccp_context_new's hold) */
	ccp_kbs_hold();
	CHECK(ccp_kbs_fetch(&b, &kc, "kbs:///default/key/k1", &e) == 0);
	CHECK(b.len == 16 && memcmp(b.data, "lifecycle-secret", 16) == 0);
	ccp_buf_free_secure(&b);
	/* the second comes from the session's cache */
	CHECK(ccp_kbs_fetch(&b, &kc, "kbs:///default/key/k1", &e) == 0 && b.len == 16);
	ccp_buf_free_secure(&b);
	CHECK(count_lines(log, "attest ok") == 1);
	CHECK(count_lines(log, "resource default/key/k1 200") == 1);

	/* the last shutdown wipes the session although it is held: nothing is served from it any more */
	CHECK(ccp_shutdown() == 0);
	CHECK(ccp_kbs_fetch(&b, &kc, "kbs:///default/key/k1", &e) == CCP_EINVALID);
	CHECK(strstr(e.msg, "ccp_init() has not been called") != NULL);
	CHECK(b.len == 0);
	ccp_buf_free_secure(&b);

	/* initialised again: a new attestation and a new request */
	CHECK(ccp_init() == 1);
	CHECK(ccp_kbs_fetch(&b, &kc, "kbs:///default/key/k1", &e) == 0 && b.len == 16);
	ccp_buf_free_secure(&b);
	CHECK(count_lines(log, "attest ok") == 2);
	CHECK(count_lines(log, "resource default/key/k1 200") == 2);
	ccp_kbs_release();
	CHECK(ccp_shutdown() == 0);
	if (test_failed)
		fprintf(stderr, "last error: %s\n", e.msg);
out:
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
	snprintf(rm, sizeof(rm), "rm -rf -- '%s'", dir);
	if (system(rm) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

int main(void)
{
	const char *src = getenv("CCPULL_SRC");

	if (!src) {
		fprintf(stderr, "CCPULL_SRC is not set\n");
		return 1;
	}
	test_counts();
	test_threads();
	test_kbs_wiped(src);
	return test_summary();
}
