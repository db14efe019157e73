/* The capped byte buffer (buf.h): appends past the cap fail, ccp_buf_free_secure wipes, capped file reads. */
#include "util/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>

static int buf_reserve(ccp_buf *b, size_t extra)
{
	size_t need, ncap;
	char *p;

	if (extra > (size_t)-1 - b->len - 1)
		return CCP_ENOMEM;
	need = b->len + extra + 1;
	if (b->max && b->len + extra > b->max)
		return CCP_EINVALID;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap = ncap > ((size_t)-1) / 2 ? need : ncap * 2;
	p = realloc(b->data, ncap);
	if (!p)
		return CCP_ENOMEM;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int ccp_buf_append(ccp_buf *b, const void *data, size_t len)
{
	int r = buf_reserve(b, len);
	if (r)
		return r;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int ccp_buf_puts(ccp_buf *b, const char *s)
{
	return ccp_buf_append(b, s, strlen(s));
}

int ccp_buf_printf(ccp_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return CCP_EINTERNAL;
	if ((r = buf_reserve(b, (size_t)n)) != 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void ccp_buf_clear(ccp_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void ccp_buf_free(ccp_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void ccp_buf_free_secure(ccp_buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->cap);
	ccp_buf_free(b);
}

char *ccp_buf_detach(ccp_buf *b)
{
	char *p = b->data;
	if (!p) {
		p = calloc(1, 1);
	}
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

int ccp_read_file(ccp_buf *out, const char *path, size_t max, ccp_err *e)
{
	char chunk[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return ccp_err_errno(e, CCP_EINVALID, errno, "cannot open `%s`", path);
	out->max = max;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = ccp_err_errno(e, CCP_EINVALID, errno, "cannot read `%s`", path);
			break;
		}
		if (n == 0)
			break;
		if ((r = ccp_buf_append(out, chunk, (size_t)n)) != 0) {
			r = r == CCP_ENOMEM ? ccp_err_oom(e)
			                    : ccp_err_set(e, CCP_EINVALID, "`%s` is larger than %zu bytes", path, max);
			break;
		}
	}
	close(fd);
	if (!r && !out->data)
		r = ccp_buf_append(out, "", 0);
	return r;
}
