/* Growable byte buffer with a hard maximum: appends past the cap fail instead of growing. */
#ifndef CCP_UTIL_BUF_H
#define CCP_UTIL_BUF_H

#include <stddef.h>
#include "util/err.h"

typedef struct ccp_buf {
	char *data;  /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
	size_t max;  /* maximum len; 0 means no cap (only for trusted local data) */
} ccp_buf;

#define CCP_BUF_INIT(max_) { NULL, 0, 0, (max_) }

/* Returns 0, CCP_ENOMEM, or CCP_EINVALID when the cap would be exceeded (no message set). */
int ccp_buf_append(ccp_buf *b, const void *data, size_t len);
int ccp_buf_puts(ccp_buf *b, const char *s);
int ccp_buf_printf(ccp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ccp_buf_clear(ccp_buf *b);
/* Frees and wipes the contents (for secrets). */
void ccp_buf_free_secure(ccp_buf *b);
void ccp_buf_free(ccp_buf *b);
/* Hands the data to the caller (who frees it); the buffer is left empty. */
char *ccp_buf_detach(ccp_buf *b);

/* Reads a whole local file, refusing files larger than max. */
int ccp_read_file(ccp_buf *out, const char *path, size_t max, ccp_err *e);

#endif
