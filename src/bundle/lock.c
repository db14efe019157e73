/*
 * One pull per bundle: the pull holds flock(LOCK_EX) on the bundle directory itself, so two spellings
 * of one directory (/x/b, /x/b/, a symlink to it) are one bundle, and two pulls in one process (serve)
 * exclude each other as two processes do (flock belongs to the open file description). The holder's
 * pid, for the message, comes from /proc/locks.
 */
#include "bundle/bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util/buf.h"

#define PROC_LOCKS "/proc/locks"
#define PROC_LOCKS_MAX (4u << 20)

/* The next space-separated field of [*p, end), or NULL at the end of the line. */
static const char *field(const char **p, const char *end, size_t *len)
{
	const char *s = *p, *q;

	while (s < end && *s == ' ')
		s++;
	if (s >= end)
		return NULL;
	for (q = s; q < end && *q != ' '; q++)
		;
	*len = (size_t)(q - s);
	*p = q;
	return s;
}

/* Parses len hex (base 16) or decimal (base 10) digits; -1 on anything else or overflow. */
static int parse_num(const char *s, size_t len, int base, unsigned long long *out)
{
	unsigned long long v = 0;

	if (len == 0 || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned d;
		if (s[i] >= '0' && s[i] <= '9')
			d = (unsigned)(s[i] - '0');
		else if (base == 16 && s[i] >= 'a' && s[i] <= 'f')
			d = (unsigned)(s[i] - 'a' + 10);
		else
			return -1;
		if (v > (~0ULL - d) / (unsigned)base)
			return -1;
		v = v * (unsigned)base + d;
	}
	*out = v;
	return 0;
}

/*
 * The pid holding a FLOCK on (dev, ino) in /proc/locks, or 0 when none is found. Lines read
 * "N: FLOCK  ADVISORY  WRITE PID MAJ:MIN:INODE START END" (majors and minors in hex).
 */
static long holder_pid(const struct stat *st)
{
	ccp_buf b = CCP_BUF_INIT(PROC_LOCKS_MAX);
	char chunk[4096];
	const char *p, *end;
	ssize_t n;
	long pid = 0;
	int fd = open(PROC_LOCKS, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (ccp_buf_append(&b, chunk, (size_t)n))
			break;
	close(fd);
	p = b.data;
	end = b.data ? b.data + b.len : NULL;
	while (p && p < end && !pid) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *f[6], *q = p, *c1, *c2;
		size_t len[6], nf = 0;
		unsigned long long v_pid, maj, min, ino;

		if (!eol)
			eol = end;
		while (nf < 6 && (f[nf] = field(&q, eol, &len[nf])))
			nf++;
		p = eol + 1;
		/* "->" marks a waiter, not a holder: it shifts the fields by one */
		if (nf < 6 || (len[1] == 2 && memcmp(f[1], "->", 2) == 0) || len[1] != 5 || memcmp(f[1], "FLOCK", 5) != 0)
			continue;
		c1 = memchr(f[5], ':', len[5]);
		c2 = c1 ? memchr(c1 + 1, ':', (size_t)(f[5] + len[5] - c1 - 1)) : NULL;
		if (!c2 || parse_num(f[4], len[4], 10, &v_pid) || parse_num(f[5], (size_t)(c1 - f[5]), 16, &maj) ||
		    parse_num(c1 + 1, (size_t)(c2 - c1 - 1), 16, &min) ||
		    parse_num(c2 + 1, (size_t)(f[5] + len[5] - c2 - 1), 10, &ino))
			continue;
		if (maj == major(st->st_dev) && min == minor(st->st_dev) && ino == (unsigned long long)st->st_ino &&
		    v_pid > 0 && v_pid <= 0x7fffffffULL)
			pid = (long)v_pid;
	}
	ccp_buf_free(&b);
	return pid;
}

int ccp_bundle_lock(int bundle_fd, const char *bundle, ccp_err *e)
{
	struct stat st;
	long pid;

	if (flock(bundle_fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (errno != EWOULDBLOCK)
		return ccp_err_errno(e, CCP_ESTORAGE, errno, "cannot lock bundle `%s`", bundle);
	pid = fstat(bundle_fd, &st) == 0 ? holder_pid(&st) : 0;
	if (pid == (long)getpid())
		return ccp_err_set(e, CCP_EINVALID, "bundle `%s` is busy: another pull in this process (pid %ld) "
				   "is pulling into it", bundle, pid);
	if (pid > 0)
		return ccp_err_set(e, CCP_EINVALID, "bundle `%s` is busy: another pull (pid %ld) is pulling into it",
				   bundle, pid);
	return ccp_err_set(e, CCP_EINVALID, "bundle `%s` is busy: another pull is pulling into it", bundle);
}
