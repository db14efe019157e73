/*
 * Regular files' data written with holes (unpack_int.h): whole aligned blocks of zeros are skipped
 * with lseek instead of written, so a zero-heavy file (a sparse image, a decompression bomb of
 * zeros) costs no disk for its zeros. The content read back is the same; the layer's digests hash the
 * decompressed stream, not the file.
 */
#include "unpack/unpack_int.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static int all_zero(const unsigned char *p, size_t n)
{
	return n > 0 && p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ccp_hole_write(hole_writer *w, int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf, *data = NULL; /* data: start of the run not yet written */
	int rc;

	while (len > 0) {
		/* Up to the next block boundary of the file: a whole block of zeros is a hole. A piece of a
		 * block (where buf starts or ends) is seeked over too when it is zeros; the block is then
		 * a hole if its other pieces are zeros as well. */
		size_t n = HOLE_BLOCK - (size_t)(w->off % HOLE_BLOCK);
		if (n > len)
			n = len;
		if (all_zero(p, n)) {
			if (data) {
				if ((rc = write_all(fd, data, (size_t)(p - data))) < 0)
					return rc;
				w->pos = w->off;
				data = NULL;
			}
		} else if (!data) {
			/* The zeros since pos, from this call or earlier ones, become a gap of the file. */
			if (w->pos < w->off && lseek(fd, (off_t)(w->off - w->pos), SEEK_CUR) < 0)
				return -errno;
			w->pos = w->off;
			data = p;
		}
		p += n;
		len -= n;
		w->off += n;
	}
	if (data) {
		if ((rc = write_all(fd, data, (size_t)(p - data))) < 0)
			return rc;
		w->pos = w->off;
	}
	return 0;
}

int ccp_hole_finish(hole_writer *w, int fd)
{
	/* Zeros at the end were only counted: they are the file's size, and read back as zeros. */
	if (w->pos < w->off && ftruncate(fd, (off_t)w->off) < 0)
		return -errno;
	w->pos = w->off;
	return 0;
}
