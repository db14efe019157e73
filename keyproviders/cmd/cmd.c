/*
 * The keyprovider "cmd" transport: runs the configured program directly (posix_spawn, no shell,
 * argv = path + args, a minimal environment), writes the protocol request to its stdin and reads
 * the answer from its stdout, with an output cap and a time limit. The answer holds key material:
 * it is wiped after use; the program's stderr is kept (bounded) only for error messages.
 */
#include "keyproviders/keyproviders.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>

#define STDOUT_MAX (1u << 20)
#define STDERR_KEEP 2048
#define TIMEOUT_MS 60000

typedef struct cmd_provider {
	ccp_transport_provider t; /* first: the vtable and the exchange */
	char *scheme;       /* "provider.<name>" */
	char **argv;        /* path, args..., NULL */
	char desc[512];
} cmd_provider;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct run {
	pid_t pid;
	int in, out, err;   /* parent ends; -1 once closed */
} run;

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int spawn(run *rn, char *const argv[], ccp_err *e)
{
	static char *const envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int sv[2] = { -1, -1 }, po[2] = { -1, -1 }, pe[2] = { -1, -1 }, rc;

	/* stdin is a socket so that a program that exits early gives EPIPE (MSG_NOSIGNAL), not SIGPIPE. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || pipe2(po, O_CLOEXEC) < 0 ||
	    pipe2(pe, O_CLOEXEC) < 0) {
		rc = errno;
		close_fd(&sv[0]), close_fd(&sv[1]), close_fd(&po[0]), close_fd(&po[1]), close_fd(&pe[0]), close_fd(&pe[1]);
		return ccp_err_errno(e, CCP_EDECRYPT, rc, "cannot create pipes for `%s`", argv[0]);
	}
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	rc = posix_spawn(&rn->pid, argv[0], &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close_fd(&sv[1]);
	close_fd(&po[1]);
	close_fd(&pe[1]);
	rn->in = sv[0];
	rn->out = po[0];
	rn->err = pe[0];
	if (rc != 0) {
		close_fd(&rn->in), close_fd(&rn->out), close_fd(&rn->err);
		return ccp_err_errno(e, CCP_EDECRYPT, rc, "cannot run `%s`", argv[0]);
	}
	fcntl(rn->in, F_SETFL, O_NONBLOCK);
	fcntl(rn->out, F_SETFL, O_NONBLOCK);
	fcntl(rn->err, F_SETFL, O_NONBLOCK);
	return 0;
}

/* Reads what is available from *fd into b (up to cap; beyond it: *over). EOF closes *fd. */
static void drain(int *fd, ccp_buf *b, size_t cap, int *over)
{
	char chunk[8192];

	for (;;) {
		ssize_t n = read(*fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break; /* EAGAIN */
		if (n == 0) {
			close_fd(fd);
			break;
		}
		if (b->len + (size_t)n > cap) {
			size_t room = cap - b->len;
			if (room)
				ccp_buf_append(b, chunk, room);
			*over = 1;
		} else if (ccp_buf_append(b, chunk, (size_t)n)) {
			*over = 1;
		}
	}
	OPENSSL_cleanse(chunk, sizeof(chunk));
}

/* Runs argv with req on stdin; *status is its wait status. CCP_EDECRYPT on timeout or oversized output. */
static int run_cmd(char *const argv[], const char *req, ccp_buf *out, ccp_buf *errtxt, int *status, ccp_err *e)
{
	size_t req_len = strlen(req), sent = 0;
	long long deadline = now_ms() + TIMEOUT_MS;
	int over = 0, err_over = 0, r = 0;
	run rn;

	if ((r = spawn(&rn, argv, e)))
		return r;
	while (rn.out >= 0 || rn.err >= 0) {
		struct pollfd p[3];
		nfds_t n = 0;
		long long left = deadline - now_ms();
		if (left <= 0) {
			r = ccp_err_set(e, CCP_EDECRYPT, "`%s` did not answer within %d s", argv[0], TIMEOUT_MS / 1000);
			break;
		}
		if (rn.out >= 0)
			p[n++] = (struct pollfd){ rn.out, POLLIN, 0 };
		if (rn.err >= 0)
			p[n++] = (struct pollfd){ rn.err, POLLIN, 0 };
		if (rn.in >= 0)
			p[n++] = (struct pollfd){ rn.in, POLLOUT, 0 };
		if (poll(p, n, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR) {
			r = ccp_err_errno(e, CCP_EINTERNAL, errno, "poll");
			break;
		}
		if (rn.in >= 0) {
			ssize_t w = send(rn.in, req + sent, req_len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0)
				sent += (size_t)w;
			/* A program that stops reading early just gets less: its answer decides. */
			if (sent == req_len || (w < 0 && errno != EAGAIN && errno != EINTR))
				close_fd(&rn.in);
		}
		if (rn.out >= 0)
			drain(&rn.out, out, STDOUT_MAX, &over);
		if (rn.err >= 0)
			drain(&rn.err, errtxt, STDERR_KEEP, &err_over);
		if (over) {
			r = ccp_err_set(e, CCP_EDECRYPT, "`%s` wrote more than %u bytes", argv[0], STDOUT_MAX);
			break;
		}
	}
	close_fd(&rn.in);
	close_fd(&rn.out);
	close_fd(&rn.err);
	if (r)
		kill(rn.pid, SIGKILL);
	/* Its output is closed: wait for the exit, still bounded by the deadline. */
	for (;;) {
		pid_t w = waitpid(rn.pid, status, r ? 0 : WNOHANG);
		if (w == rn.pid || (w < 0 && errno != EINTR))
			break;
		if (w == 0 && now_ms() >= deadline) {
			kill(rn.pid, SIGKILL);
			r = ccp_err_set(e, CCP_EDECRYPT, "`%s` did not exit within %d s", argv[0], TIMEOUT_MS / 1000);
		} else if (w == 0) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	return r;
}

/* The first line of the program's stderr, printable characters only. */
static void first_line(char *dst, size_t n, const ccp_buf *b)
{
	size_t j = 0;

	for (size_t i = 0; b->data && i < b->len && j + 1 < n; i++) {
		unsigned char c = (unsigned char)b->data[i];
		if (c == '\n' && j > 0)
			break;
		if (c >= 0x20 && c < 0x7f)
			dst[j++] = (char)c;
	}
	dst[j] = '\0';
}

static int cmd_handles(const ccp_keyprovider *kp, const char *scheme)
{
	return strcmp(scheme, ((const cmd_provider *)kp)->scheme) == 0;
}

static int cmd_exchange(ccp_keyprovider *kp, const char *request, ccp_buf *answer, ccp_err *e)
{
	cmd_provider *p = (cmd_provider *)kp;
	ccp_buf errtxt = CCP_BUF_INIT(0);
	char line[256];
	int status = 0, r;

	if ((r = run_cmd(p->argv, request, answer, &errtxt, &status, e)))
		goto out;
	first_line(line, sizeof(line), &errtxt);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFEXITED(status))
			r = ccp_err_set(e, CCP_EDECRYPT, "`%s` exited with status %d%s%s", p->argv[0], WEXITSTATUS(status),
					line[0] ? ": " : "", line);
		else
			r = ccp_err_set(e, CCP_EDECRYPT, "`%s` was killed by signal %d", p->argv[0],
					WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	}
out:
	ccp_buf_free(&errtxt);
	return r;
}

static void cmd_free(ccp_keyprovider *kp)
{
	cmd_provider *p = (cmd_provider *)kp;

	for (size_t i = 0; p->argv && p->argv[i]; i++)
		free(p->argv[i]);
	free(p->argv);
	free(p->scheme);
	free(p);
}

int ccp_cmd_provider_new(ccp_keyprovider **out, const char *name, const char *path, const char *const *args,
			 size_t n_args, ccp_err *e)
{
	cmd_provider *p = calloc(1, sizeof(*p));
	size_t i;

	*out = NULL;
	if (!p)
		return ccp_err_oom(e);
	ccp_keyprovider_init(&p->t.base, cmd_handles, ccp_keyprovider_transport_unwrap, cmd_free, p->desc);
	p->t.exchange = cmd_exchange;
	if (!(p->argv = calloc(n_args + 2, sizeof(char *))) || !(p->argv[0] = strdup(path)) ||
	    !(p->scheme = malloc(strlen(name) + sizeof("provider.")))) {
		cmd_free(&p->t.base);
		return ccp_err_oom(e);
	}
	for (i = 0; i < n_args; i++) {
		if (!(p->argv[i + 1] = strdup(args[i]))) {
			cmd_free(&p->t.base);
			return ccp_err_oom(e);
		}
	}
	snprintf(p->scheme, strlen(name) + sizeof("provider."), "provider.%s", name);
	snprintf(p->desc, sizeof(p->desc), "provider:%.200s (cmd %.250s)", name, path);
	*out = &p->t.base;
	return 0;
}
