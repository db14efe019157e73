/* A tar stream from the fuzzer's input, handed out in 4 KiB pieces (entries straddle the pieces). */
#ifndef CCP_FUZZ_MEM_H
#define CCP_FUZZ_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "util/err.h"

typedef struct fuzz_mem {
	const uint8_t *p;
	size_t n, off;
} fuzz_mem;

static inline ssize_t fuzz_mem_read(void *payload, const void **buf, ccp_err *e)
{
	fuzz_mem *m = payload;
	size_t n = m->n - m->off;

	(void)e;
	if (n > 4096)
		n = 4096;
	*buf = m->p + m->off;
	m->off += n;
	return (ssize_t)n;
}

#endif
