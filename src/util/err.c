#include "util/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int ccp_err_set(ccp_err *e, int code, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
		e->code = code;
	}
	return code;
}

int ccp_err_errno(ccp_err *e, int code, int errnum, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		size_t n;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
		n = strlen(e->msg);
		if (n < sizeof(e->msg))
			snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(errnum));
		e->code = code;
	}
	return code;
}

int ccp_err_wrap(ccp_err *e, const char *fmt, ...)
{
	char joined[2 * CCP_ERR_MSG_MAX + 2];
	size_t n;
	va_list ap;

	if (!e)
		return CCP_EINTERNAL;
	va_start(ap, fmt);
	vsnprintf(joined, CCP_ERR_MSG_MAX, fmt, ap);
	va_end(ap);
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
	default: return "unknown error";
	}
}

int ccp_exit_status(int code)
{
	if (code == CCP_OK)
		return 0;
	if (code <= CCP_EINTERNAL && code >= CCP_ESTORAGE)
		return -code;
	return 1;
}
