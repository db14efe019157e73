/* Internal error object: a code from ccp_error_code plus a message that names what failed. */
#ifndef CCP_UTIL_ERR_H
#define CCP_UTIL_ERR_H

#include <stddef.h>
#include "ccpull/errors.h"

#define CCP_ERR_MSG_MAX 1024

typedef struct ccp_err {
	int code;
	char msg[CCP_ERR_MSG_MAX];
} ccp_err;

#define CCP_ERR_INIT { 0, { 0 } }

/*
 * Messages quote strings from outside (registry JSON, headers, layer paths): every function below
 * stores the formatted text with each byte outside printable ASCII (controls, DEL, any byte >= 0x80)
 * written as \xNN, so a message can neither forge log lines nor carry terminal escapes, and stays
 * within CCP_ERR_MSG_MAX (cut before an escape, never inside one).
 */

/* Copies in to out (outlen > 0) escaped as above, cut to fit; returns the length written. */
size_t ccp_err_escape(char *out, size_t outlen, const char *in);

/* Sets code and message; returns code so callers can `return ccp_err_set(...)`. e may be NULL. */
int ccp_err_set(ccp_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like ccp_err_set, appending ": strerror(errnum)". */
int ccp_err_errno(ccp_err *e, int code, int errnum, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Prefixes context to the current message ("ctx: old message"); returns the current code. */
int ccp_err_wrap(ccp_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets CCP_ENOMEM with a fixed message. */
int ccp_err_oom(ccp_err *e);
void ccp_err_clear(ccp_err *e);

#endif
