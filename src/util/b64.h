/* Strict base64: no whitespace; the standard alphabet needs its padding, base64url takes none; the
 * unused low bits of the last character must be zero (one encoding per value). */
#ifndef CCP_UTIL_B64_H
#define CCP_UTIL_B64_H

#include <stddef.h>
#include "util/buf.h"

/* Appends the decoded bytes to out (within out->max); CCP_EINVALID or CCP_ENOMEM leave out as it was
 * (wiped and freed if it was empty). url: base64url without padding. */
int ccp_b64_decode(ccp_buf *out, const char *s, size_t len, int url);
/* Go's base64.StdEncoding as encoding/json decodes []byte: CR and LF skipped, standard alphabet, padding
 * required (non-canonical last bits accepted, as Go does). Appends to out (within out->max). */
int ccp_b64_decode_go(ccp_buf *out, const char *s, size_t len);
/* Standard alphabet with padding; *out malloc'ed and NUL-terminated. */
int ccp_b64_encode(char **out, const void *data, size_t len);

#endif
