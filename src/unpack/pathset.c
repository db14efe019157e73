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
uint64_t ccp_pset_hash(const path_set *s, const char *p, size_t len)
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

#define KEY_USED 4u
#define KEY_FLAGS (PS_UPPER | PS_IMPLICIT)
#define KEY_OF(h) (((h) & ~(uint64_t)7) | KEY_USED)

int ccp_pset_init(path_set *s, size_t max, ccp_err *e)
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

void ccp_pset_free(path_set *s)
{
	size_t i;

	for (i = 0; i < s->n_dts; i++)
		free(s->dts[i].path);
	free(s->dts);
	free(s->dt_slots);
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

/* The slot of the path whose hash is h, or the empty slot where it goes. */
static uint64_t *find(const path_set *s, uint64_t h)
{
	size_t mask = s->cap - 1, i = (size_t)(h >> 3) & mask;
	uint64_t key = KEY_OF(h);

	while (s->slots[i] && (s->slots[i] & ~(uint64_t)KEY_FLAGS) != key)
		i = (i + 1) & mask;
	return &s->slots[i];
}

static int grow(path_set *s, ccp_err *e)
{
	uint64_t *old = s->slots, *n;
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
		if (old[i])
			*find(s, old[i]) = old[i];
	free(old);
	return 0;
}

/* Slot for path, inserted when missing. */
static int get_slot(path_set *s, const char *p, size_t len, uint64_t **out, ccp_err *e)
{
	uint64_t h = ccp_pset_hash(s, p, len);
	uint64_t *sl = find(s, h);
	int rc;

	if (!*sl) {
		if ((rc = grow(s, e)) < 0)
			return rc;
		sl = find(s, h);
		*sl = KEY_OF(h);
		s->used++;
	}
	*out = sl;
	return 0;
}

int ccp_pset_add_upper(path_set *s, const char *path, ccp_err *e)
{
	size_t len = strlen(path);
	uint64_t *sl;
	int rc;

	/* Deepest first; an ancestor already marked means all of its ancestors are too. */
	while (len > 0) {
		if ((rc = get_slot(s, path, len, &sl, e)) < 0)
			return rc;
		if (*sl & PS_UPPER)
			return 0;
		*sl |= PS_UPPER;
		while (len > 0 && path[len - 1] != '/')
			len--;
		if (len > 0)
			len--; /* drop the '/' */
	}
	return 0;
}

int ccp_pset_is_upper(const path_set *s, const char *path, size_t len)
{
	if (len == 0)
		return 0;
	return (*find(s, ccp_pset_hash(s, path, len)) & PS_UPPER) != 0;
}

/* The slot of the directory-time record of the path whose hash is h, or the empty one where it goes. */
static dt_slot *dt_find(const path_set *s, uint64_t h)
{
	size_t mask = s->dt_cap - 1, i = (size_t)h & mask;

	while (s->dt_slots[i].h && s->dt_slots[i].h != h)
		i = (i + 1) & mask;
	return &s->dt_slots[i];
}

int ccp_pset_has_dir_time(const path_set *s, const char *path)
{
	return s->dt_cap && dt_find(s, ccp_pset_hash(s, path, strlen(path)))->h != 0;
}

int ccp_pset_dir_time(path_set *s, const char *path, const struct timespec ts[2], int override, ccp_err *e)
{
	uint64_t h = ccp_pset_hash(s, path, strlen(path)), *sl;
	dt_slot *ds;
	dir_time *d;
	int rc;

	/* the directory is one of the layer's paths (its slot bounds the records by s->max) */
	if ((rc = get_slot(s, path, strlen(path), &sl, e)) < 0)
		return rc;
	if (s->dt_cap && (ds = dt_find(s, h))->h) {
		if (override)
			memcpy(s->dts[ds->i].ts, ts, sizeof(s->dts[0].ts));
		return 0;
	}
	if ((s->n_dts + 1) * 2 > s->dt_cap) {
		size_t ncap = s->dt_cap ? s->dt_cap * 2 : 256, ocap = s->dt_cap;
		dt_slot *old = s->dt_slots, *n = calloc(ncap, sizeof(*n));

		if (!n)
			return ccp_err_oom(e);
		s->dt_slots = n;
		s->dt_cap = ncap;
		for (size_t i = 0; i < ocap; i++)
			if (old[i].h)
				*dt_find(s, old[i].h) = old[i];
		free(old);
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
	ds = dt_find(s, h);
	ds->h = h;
	ds->i = s->n_dts++;
	return 0;
}

int ccp_pset_set_implicit(path_set *s, const char *path, int on, ccp_err *e)
{
	uint64_t *sl;
	int rc, was;

	if (!on && !ccp_pset_is_implicit(s, path))
		return 0;
	if ((rc = get_slot(s, path, strlen(path), &sl, e)) < 0)
		return rc;
	was = (*sl & PS_IMPLICIT) != 0;
	*sl = on ? *sl | PS_IMPLICIT : *sl & ~(uint64_t)PS_IMPLICIT;
	return was;
}

int ccp_pset_is_implicit(const path_set *s, const char *path)
{
	return (*find(s, ccp_pset_hash(s, path, strlen(path))) & PS_IMPLICIT) != 0;
}
