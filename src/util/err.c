/* The error object (err.h): messages, errno, wrapping, escaping of untrusted text, code names, exit statuses. */
#include "util/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

size_t ccp_err_escape(char *out, size_t outlen, const char *in)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	if (!outlen)
		return 0;
	for (; *in; in++) {
		unsigned char c = (unsigned char)*in;
		if (c >= 0x20 && c < 0x7f) {
			if (n + 1 >= outlen)
				break;
			out[n++] = (char)c;
		} else {
			/* a whole escape or none: a cut "\x1" would read as something else */
			if (n + 4 >= outlen)
				break;
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 0xf];
		}
	}
	out[n] = '\0';
	return n;
}

/* Formats into a scratch buffer, then escapes into e->msg (bounded by its size). */
static void err_vformat(ccp_err *e, int errnum, const char *fmt, va_list ap)
{
	char raw[CCP_ERR_MSG_MAX];
	size_t n;

	vsnprintf(raw, sizeof(raw), fmt, ap);
	if (errnum) {
		n = strlen(raw);
		snprintf(raw + n, sizeof(raw) - n, ": %s", strerror(errnum));
	}
	ccp_err_escape(e->msg, sizeof(e->msg), raw);
}

int ccp_err_set(ccp_err *e, int code, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		err_vformat(e, 0, fmt, ap);
		va_end(ap);
		e->code = code;
	}
	return code;
}

int ccp_err_errno(ccp_err *e, int code, int errnum, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		err_vformat(e, errnum, fmt, ap);
		va_end(ap);
		e->code = code;
	}
	return code;
}

int ccp_err_wrap(ccp_err *e, const char *fmt, ...)
{
	char joined[2 * CCP_ERR_MSG_MAX + 2], raw[CCP_ERR_MSG_MAX];
	size_t n;
	va_list ap;

	if (!e)
		return CCP_EINTERNAL;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	ccp_err_escape(joined, CCP_ERR_MSG_MAX, raw);
	n = strlen(joined);
	if (e->msg[0]) {
		memcpy(joined + n, ": ", 2);
		memcpy(joined + n + 2, e->msg, strlen(e->msg) + 1);
	}
	n = strlen(joined);
	if (n >= sizeof(e->msg))
		n = sizeof(e->msg) - 1;
	memcpy(e->msg, joined, n);
	e->msg[n] = '\0';
	return e->code ? e->code : CCP_EINTERNAL;
}

int ccp_err_oom(ccp_err *e)
{
	return ccp_err_set(e, CCP_ENOMEM, "out of memory");
}

void ccp_err_clear(ccp_err *e)
{
	if (e) {
		e->code = 0;
		e->msg[0] = '\0';
	}
}

const char *ccp_strerror(int code)
{
	switch (code) {
	case CCP_OK: return "success";
	case CCP_EINTERNAL: return "internal error";
	case CCP_EINVALID: return "invalid usage or configuration";
	case CCP_EPOLICY: return "rejected by policy";
	case CCP_EREGISTRY: return "registry, network or authentication error";
	case CCP_EINTEGRITY: return "integrity check failed";
	case CCP_EDECRYPT: return "decryption or key retrieval failed";
	case CCP_ELAYER: return "unsafe or malformed layer content";
	case CCP_ESTORAGE: return "local storage error";
	case CCP_ENOMEM: return "out of memory";
	case CCP_ETIMEOUT: return "the time limit ran out";
	case CCP_ECANCELED: return "cancelled";
	default: return "unknown error";
	}
}

int ccp_exit_status(int code)
{
	if (code == CCP_OK)
		return 0;
	if (code <= CCP_EINTERNAL && code >= CCP_ESTORAGE)
		return -code;
	if (code == CCP_ETIMEOUT)
		return 9;
	if (code == CCP_ECANCELED)
		return 130;
	return 1;
}
