/*
 * Cancellation and the pull's deadline: ccp_cancel itself, a wait for another pull's layer lock that
 * gives up when cancelled from another thread or at its deadline, and ccp_context_cancel from another
 * thread stopping a ccp_pull stuck in registry I/O (a listener that never answers), which then
 * leaves no bundle directory behind.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "ccpull/ccpull.h"
#include "store/store.h"
#include "util/cancel.h"

#define CHAIN "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

static void *cancel_later(void *arg)
{
	sleep_ms(300);
	ccp_cancel_request(arg);
	return NULL;
}

static void *cancel_context_later(void *arg)
{
	sleep_ms(500);
	ccp_context_cancel(arg);
	return NULL;
}

/* A listening TCP socket on 127.0.0.1 that never accepts: connections hang after the handshake. */
static int deaf_listener(int *port)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

int main(void)
{
	char tmpl[] = "/tmp/ccp-cancel-XXXXXX", lockpath[4096], bundle[4200], store[4200], image[64];
	ccp_err e = CCP_ERR_INIT;
	ccp_cancel c;
	ccp_store *s = NULL;
	ccp_digest chain;
	pthread_t th;
	uint64_t t0;
	int holder, lock = -1, r, port, lfd;

	CHECK(ccp_init() == 1);
	if (!mkdtemp(tmpl))
		return 1;

	/* the token itself */
	CHECK(ccp_cancel_check(NULL, "x", &e) == 0);
	memset(&c, 0, sizeof(c));
	CHECK(ccp_cancel_check(&c, "x", &e) == 0);
	c.deadline_ms = ccp_monotonic_ms() - 1;
	CHECK(ccp_cancel_check(&c, "unpacking", &e) == CCP_ETIMEOUT);
	CHECK(strstr(e.msg, "unpacking") && strstr(e.msg, "time limit"));
	c.deadline_ms = 0;
	ccp_cancel_request(&c);
	CHECK(ccp_cancel_requested(&c));
	CHECK(ccp_cancel_check(&c, "x", &e) == CCP_ECANCELED);
	CHECK(ccp_exit_status(CCP_ETIMEOUT) == 9);
	CHECK(ccp_exit_status(CCP_ECANCELED) == 130);
	CHECK(strcmp(ccp_strerror(CCP_ECANCELED), "unknown error") != 0);

	/* a sleep ends early when another thread cancels */
	memset(&c, 0, sizeof(c));
	t0 = ccp_monotonic_ms();
	CHECK(pthread_create(&th, NULL, cancel_later, &c) == 0);
	CHECK(ccp_cancel_sleep(&c, 30000, "waiting", &e) == CCP_ECANCELED);
	pthread_join(th, NULL);
	CHECK(ccp_monotonic_ms() - t0 < 10000);

	/* a wait for a layer lock another pull holds: cancelled from another thread */
	CHECK(ccp_digest_parse(&chain, CHAIN, strlen(CHAIN), &e) == 0);
	CHECK(ccp_store_open(&s, tmpl, &e) == 0);
	snprintf(lockpath, sizeof(lockpath), "%s/layers/%s.lock", tmpl, chain.hex);
	holder = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	CHECK(holder >= 0 && flock(holder, LOCK_EX) == 0);
	memset(&c, 0, sizeof(c));
	t0 = ccp_monotonic_ms();
	CHECK(pthread_create(&th, NULL, cancel_later, &c) == 0);
	r = ccp_store_lock_layer(s, &chain, &c, &lock, &e);
	pthread_join(th, NULL);
	CHECK(r == CCP_ECANCELED);
	CHECK(strstr(e.msg, "lock") != NULL);
	CHECK(ccp_monotonic_ms() - t0 < 10000);

	/* ... and at its deadline */
	memset(&c, 0, sizeof(c));
	c.deadline_ms = ccp_monotonic_ms() + 300;
	CHECK(ccp_store_lock_layer(s, &chain, &c, &lock, &e) == CCP_ETIMEOUT);

	/* once the holder lets go, the abandoned waits let go too: the lock can be taken again */
	close(holder);
	memset(&c, 0, sizeof(c));
	c.deadline_ms = ccp_monotonic_ms() + 20000;
	CHECK(ccp_store_lock_layer(s, &chain, &c, &lock, &e) == 0);
	ccp_store_unlock(lock);
	ccp_store_close(s);

	/* ccp_context_cancel from another thread stops a pull stuck on a registry that never answers */
	lfd = deaf_listener(&port);
	CHECK(lfd >= 0);
	if (lfd >= 0) {
		ccp_pull_options o;
		ccp_context *ctx = NULL;
		ccp_pull_result *res = NULL;
		struct stat st;

		snprintf(image, sizeof(image), "127.0.0.1:%d/deaf:v1", port);
		snprintf(bundle, sizeof(bundle), "%s/bundle", tmpl);
		snprintf(store, sizeof(store), "%s/store", tmpl);
		CHECK(ccp_pull_options_init(&o, CCP_PULL_OPTIONS_VERSION) == 0);
		o.trust.insecure_policy = 1;
		o.registry.tls_verify = 0;
		o.store.dir = store;
		o.store.snapshotter = CCP_SNAPSHOTTER_COPY;
		o.registry.retries = 0;
		CHECK(ccp_context_new(&ctx) == 0);
		t0 = ccp_monotonic_ms();
		CHECK(pthread_create(&th, NULL, cancel_context_later, ctx) == 0);
		r = ccp_pull(&res, ctx, image, bundle, &o);
		pthread_join(th, NULL);
		CHECK(r == CCP_ECANCELED);
		CHECK(res == NULL);
		/* curl calls back at least once a second; the connect timeout alone would be 30 s */
		CHECK(ccp_monotonic_ms() - t0 < 10000);
		CHECK(stat(bundle, &st) != 0); /* the bundle directory it made is gone */
		/* cancellation is final: the next call on the context fails at once */
		CHECK(ccp_pull(&res, ctx, image, bundle, &o) == CCP_ECANCELED);
		CHECK(stat(bundle, &st) != 0);
		ccp_context_free(ctx);
		close(lfd);
	}

	{
		char cmd[200];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpl);
	}
	CHECK(ccp_shutdown() == 0);
	printf("%d passed, %d failed\n", test_passed, test_failed);
	return test_failed ? 1 : 0;
}
