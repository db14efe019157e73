/*
 * One gzip member at a time, through isa-l's igzip when ccpull is built with it (about twice zlib's
 * inflate speed) and zlib otherwise. The caller handles multi-member streams: after a member ends it
 * looks at what follows and calls ccp_gunzip_reset for the next member.
 */
#ifndef CCP_LAYER_GUNZIP_H
#define CCP_LAYER_GUNZIP_H

#include <stddef.h>
#include "util/err.h"

typedef struct ccp_gunzip ccp_gunzip;

int ccp_gunzip_new(ccp_gunzip **out, ccp_err *e);
void ccp_gunzip_free(ccp_gunzip *g);
/* Prepares for the next member. */
int ccp_gunzip_reset(ccp_gunzip *g, ccp_err *e);
/*
 * Inflates from *in (advanced past what was used) into out. *member_end is set once the member's
 * trailer (CRC and length) has been read and checked. Corrupt data -> CCP_ELAYER.
 */
int ccp_gunzip_step(ccp_gunzip *g, const unsigned char **in, size_t *in_len, unsigned char *out, size_t cap,
		    size_t *produced, int *member_end, ccp_err *e);
/* "isa-l" or "zlib". */
const char *ccp_gunzip_backend(void);

#endif
