/* The unpacker's set of paths made by the layer and its deferred directory times. */
#include "unpack/unpack_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                   \
	do {                                                                       \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);          \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                             \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                             \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);          \
	} while (0)

/* SipHash-2-4 with the set's random key. */
uint64_t pset_hash(const path_set *s, const char *p, size_t len)
{
	uint64_t k0 = s->seed[0], k1 = s->seed[1];
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)len << 56, m;
	const unsigned char *in = (const unsigned char *)p;
	size_t i, left = len & 7;
	const unsigned char *end = in + len - left;

	for (; in != end; in += 8) {
		memcpy(&m, in, 8);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (i = 0; i < left; i++)
		b |= (uint64_t)in[i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	b = v0 ^ v1 ^ v2 ^ v3;
	return b ? b : 1;
}

int pset_init(path_set *s, size_t max, ccp_err *e)
{
	memset(s, 0, sizeof(*s));
	s->cap = 1024;
	s->max = max;
	s->slots = calloc(s->cap, sizeof(*s->slots));
	if (!s->slots)
		return ccp_err_oom(e);
	if (getrandom(s->seed, sizeof(s->seed), 0) != (ssize_t)sizeof(s->seed)) {
		/* No entropy source: fall back to address bits; collisions stay harmless. */
		s->seed[0] = (uint64_t)(uintptr_t)s ^ 0x9e3779b97f4a7c15ULL;
		s->seed[1] = (uint64_t)(uintptr_t)s->slots;
	}
	return 0;
}

void pset_free(path_set *s)
{
	size_t i;

	for (i = 0; i < s->n_dts; i++)
		free(s->dts[i].path);
	free(s->dts);
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

static path_slot *find(const path_set *s, uint64_t h)
{
	size_t mask = s->cap - 1, i = (size_t)h & mask;

	while (s->slots[i].h && s->slots[i].h != h)
		i = (i + 1) & mask;
	return &s->slots[i];
}

static int grow(path_set *s, ccp_err *e)
{
	path_slot *old = s->slots, *n;
	size_t oldcap = s->cap, i;

	if (s->used + 1 > s->max)
		return ccp_err_set(e, CCP_ELAYER, "layer makes more than %zu paths", s->max);
	if ((s->used + 1) * 2 <= s->cap)
		return 0;
	n = calloc(oldcap * 2, sizeof(*n));
	if (!n)
		return ccp_err_oom(e);
	s->slots = n;
	s->cap = oldcap * 2;
	for (i = 0; i < oldcap; i++)
		if (old[i].h)
			*find(s, old[i].h) = old[i];
	free(old);
	return 0;
}

/* Slot for path, inserted when missing. */
static int get_slot(path_set *s, const char *p, size_t len, path_slot **out, ccp_err *e)
{
	uint64_t h = pset_hash(s, p, len);
	path_slot *sl = find(s, h);
	int rc;

	if (!sl->h) {
		if ((rc = grow(s, e)) < 0)
			return rc;
		sl = find(s, h);
		sl->h = h;
		s->used++;
	}
	*out = sl;
	return 0;
}

int pset_add_upper(path_set *s, const char *path, ccp_err *e)
{
	size_t len = strlen(path);
	path_slot *sl;
	int rc;

	/* Deepest first; an ancestor already marked means all of its ancestors are too. */
	while (len > 0) {
		if ((rc = get_slot(s, path, len, &sl, e)) < 0)
			return rc;
		if (sl->flags & PS_UPPER)
			return 0;
		sl->flags |= PS_UPPER;
		while (len > 0 && path[len - 1] != '/')
			len--;
		if (len > 0)
			len--; /* drop the '/' */
	}
	return 0;
}

int pset_is_upper(const path_set *s, const char *path, size_t len)
{
	const path_slot *sl;

	if (len == 0)
		return 0;
	sl = find(s, pset_hash(s, path, len));
	return sl->h && (sl->flags & PS_UPPER);
}

int pset_has_dir_time(const path_set *s, const char *path)
{
	const path_slot *sl = find(s, pset_hash(s, path, strlen(path)));

	return sl->h && sl->dt;
}

int pset_dir_time(path_set *s, const char *path, const struct timespec ts[2], int override, ccp_err *e)
{
	path_slot *sl;
	dir_time *d;
	int rc;

	if ((rc = get_slot(s, path, strlen(path), &sl, e)) < 0)
		return rc;
	if (sl->dt) {
		if (override)
			memcpy(s->dts[sl->dt - 1].ts, ts, sizeof(s->dts[0].ts));
		return 0;
	}
	if (s->n_dts == s->cap_dts) {
		size_t ncap = s->cap_dts ? s->cap_dts * 2 : 256;
		dir_time *n = realloc(s->dts, ncap * sizeof(*n));
		if (!n)
			return ccp_err_oom(e);
		s->dts = n;
		s->cap_dts = ncap;
	}
	d = &s->dts[s->n_dts];
	if (!(d->path = strdup(path)))
		return ccp_err_oom(e);
	memcpy(d->ts, ts, sizeof(d->ts));
	s->n_dts++;
	sl->dt = (uint32_t)s->n_dts;
	return 0;
}

int pset_set_implicit(path_set *s, const char *path, int on, ccp_err *e)
{
	path_slot *sl;
	int rc, was;

	if (!on && !pset_is_implicit(s, path))
		return 0;
	if ((rc = get_slot(s, path, strlen(path), &sl, e)) < 0)
		return rc;
	was = (sl->flags & PS_IMPLICIT) != 0;
	sl->flags = on ? sl->flags | PS_IMPLICIT : sl->flags & ~PS_IMPLICIT;
	return was;
}

int pset_is_implicit(const path_set *s, const char *path)
{
	const path_slot *sl = find(s, pset_hash(s, path, strlen(path)));

	return sl->h && (sl->flags & PS_IMPLICIT);
}
