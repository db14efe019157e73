#include "layer/gunzip.h"

#include <limits.h>
#include <stdlib.h>

#ifdef CCPULL_HAVE_ISAL
#include <isa-l/igzip_lib.h>

struct ccp_gunzip {
	struct inflate_state st;
};

const char *ccp_gunzip_backend(void)
{
	return "isa-l";
}

int ccp_gunzip_reset(ccp_gunzip *g, ccp_err *e)
{
	(void)e;
	isal_inflate_reset(&g->st);
	g->st.crc_flag = ISAL_GZIP; /* parse the gzip header, check CRC32 and ISIZE */
	return 0;
}

int ccp_gunzip_new(ccp_gunzip **out, ccp_err *e)
{
	ccp_gunzip *g = malloc(sizeof(*g));

	*out = NULL;
	if (!g)
		return ccp_err_oom(e);
	isal_inflate_init(&g->st);
	g->st.crc_flag = ISAL_GZIP;
	*out = g;
	return 0;
}

int ccp_gunzip_step(ccp_gunzip *g, const unsigned char **in, size_t *in_len, unsigned char *out, size_t cap,
		    size_t *produced, int *member_end, ccp_err *e)
{
	uint32_t given_in = *in_len > UINT32_MAX ? UINT32_MAX : (uint32_t)*in_len;
	uint32_t given_out = cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
	int ret;

	g->st.next_in = (uint8_t *)*in;
	g->st.avail_in = given_in;
	g->st.next_out = out;
	g->st.avail_out = given_out;
	ret = isal_inflate(&g->st);
	*in += given_in - g->st.avail_in;
	*in_len -= given_in - g->st.avail_in;
	*produced = given_out - g->st.avail_out;
	*member_end = g->st.block_state == ISAL_BLOCK_FINISH;
	switch (ret) {
	case ISAL_DECOMP_OK:
	case ISAL_END_INPUT:
		return 0;
	case ISAL_INCORRECT_CHECKSUM:
		return ccp_err_set(e, CCP_ELAYER, "gzip: CRC or length of a member does not match its data");
	case ISAL_INVALID_WRAPPER:
	case ISAL_UNSUPPORTED_METHOD:
		return ccp_err_set(e, CCP_ELAYER, "gzip: invalid header");
	default:
		return ccp_err_set(e, CCP_ELAYER, "gzip: invalid compressed data (isa-l error %d)", ret);
	}
}

void ccp_gunzip_free(ccp_gunzip *g)
{
	free(g);
}

#else
#include <zlib.h>

struct ccp_gunzip {
	z_stream z;
};

const char *ccp_gunzip_backend(void)
{
	return "zlib";
}

int ccp_gunzip_new(ccp_gunzip **out, ccp_err *e)
{
	ccp_gunzip *g = calloc(1, sizeof(*g));

	*out = NULL;
	if (!g)
		return ccp_err_oom(e);
	/* 16 + 15: gzip wrapper only, 32 KiB window. */
	if (inflateInit2(&g->z, 16 + 15) != Z_OK) {
		free(g);
		return ccp_err_oom(e);
	}
	*out = g;
	return 0;
}

int ccp_gunzip_reset(ccp_gunzip *g, ccp_err *e)
{
	if (inflateReset(&g->z) != Z_OK)
		return ccp_err_set(e, CCP_EINTERNAL, "gzip: inflateReset failed");
	return 0;
}

int ccp_gunzip_step(ccp_gunzip *g, const unsigned char **in, size_t *in_len, unsigned char *out, size_t cap,
		    size_t *produced, int *member_end, ccp_err *e)
{
	uInt given_in = *in_len > UINT_MAX ? UINT_MAX : (uInt)*in_len;
	uInt given_out = cap > UINT_MAX ? UINT_MAX : (uInt)cap;
	int ret;

	g->z.next_in = (Bytef *)*in;
	g->z.avail_in = given_in;
	g->z.next_out = out;
	g->z.avail_out = given_out;
	ret = inflate(&g->z, Z_NO_FLUSH);
	*in += given_in - g->z.avail_in;
	*in_len -= given_in - g->z.avail_in;
	*produced = given_out - g->z.avail_out;
	*member_end = ret == Z_STREAM_END;
	if (ret == Z_OK || ret == Z_STREAM_END || ret == Z_BUF_ERROR)
		return 0;
	if (ret == Z_MEM_ERROR)
		return ccp_err_oom(e);
	return ccp_err_set(e, CCP_ELAYER, "gzip: %s", g->z.msg ? g->z.msg : "invalid data");
}

void ccp_gunzip_free(ccp_gunzip *g)
{
	if (g)
		inflateEnd(&g->z);
	free(g);
}
#endif
