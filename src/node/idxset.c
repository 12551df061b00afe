/*
 * idxset.c — small sorted sets of log indices (nodeint.h).  They hold what
 * is out of order: held entries, a receiver's "also" list, urgent entries
 * not yet sent.  Such sets stay small (bounded by traffic above ROUTINE),
 * so a sorted array with binary search is the simple right choice.
 */
#include <stdlib.h>
#include <string.h>

#include "nodeint.h"

static size_t idxset_pos(const struct idxset *s, uint64_t v)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->v[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int idxset_has(const struct idxset *s, uint64_t v)
{
	size_t i = idxset_pos(s, v);
	return i < s->n && s->v[i] == v;
}

int idxset_add(struct idxset *s, uint64_t v)
{
	size_t i = idxset_pos(s, v);

	if (i < s->n && s->v[i] == v)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		uint64_t *nv = realloc(s->v, cap * sizeof *nv);
		if (nv == NULL)
			return -1;
		s->v = nv;
		s->cap = cap;
	}
	memmove(s->v + i + 1, s->v + i, (s->n - i) * sizeof *s->v);
	s->v[i] = v;
	s->n++;
	return 1;
}

void idxset_del_below(struct idxset *s, uint64_t v)
{
	size_t i = idxset_pos(s, v);

	if (i == 0)
		return; /* also keeps memmove away from an empty set's NULL */
	memmove(s->v, s->v + i, (s->n - i) * sizeof *s->v);
	s->n -= i;
}

void idxset_del(struct idxset *s, uint64_t v)
{
	size_t i = idxset_pos(s, v);

	if (i < s->n && s->v[i] == v) {
		memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof *s->v);
		s->n--;
	}
}

void idxset_clear(struct idxset *s)
{
	free(s->v);
	memset(s, 0, sizeof *s);
}
