/*
 * memtree.c — in-memory Merkle tree for tests (see memtree.h).
 */
#include "memtree.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

/* RFC 6962 §2.1 hashes, computed here rather than with merkle.c so that the
 * tree is an independent reference.  (Low-level contexts: the one-shot
 * SHA256() of OpenSSL 3 fetches the algorithm on every call and is several
 * times slower on 65-byte inputs.) */
static void memtree_hash2(merkle_hash out, uint8_t prefix, const void *a,
			  size_t alen, const void *b, size_t blen)
{
	SHA256_CTX c;

	SHA256_Init(&c);
	SHA256_Update(&c, &prefix, 1);
	SHA256_Update(&c, a, alen);
	SHA256_Update(&c, b, blen);
	SHA256_Final(out, &c);
}

static void memtree_node(merkle_hash out, const merkle_hash l,
			 const merkle_hash r)
{
	memtree_hash2(out, 0x01, l, MERKLE_HASH, r, MERKLE_HASH);
}

static void memtree_levels(struct memtree *t)
{
	unsigned l;

	for (l = 1; l < 64 && (t->n >> l) > 0; l++) {
		uint64_t i, c = t->n >> l;
		t->level[l] = malloc(c * sizeof(merkle_hash));
		assert_non_null(t->level[l]);
		t->count[l] = c;
		for (i = 0; i < c; i++)
			memtree_node(t->level[l][i], t->level[l - 1][2 * i],
				     t->level[l - 1][2 * i + 1]);
	}
	t->nlevels = t->n == 0 ? 0 : l;
}

void memtree_init(struct memtree *t, const merkle_hash *leaves, uint64_t n)
{
	memset(t, 0, sizeof *t);
	t->n = n;
	t->limit = n;
	t->level[0] = malloc((n ? n : 1) * sizeof(merkle_hash));
	assert_non_null(t->level[0]);
	if (n > 0)
		memcpy(t->level[0], leaves, n * sizeof(merkle_hash));
	t->count[0] = n;
	memtree_levels(t);
}

size_t memtree_entry(char *buf, uint64_t i)
{
	return (size_t)snprintf(buf, 32, "entry %llu", (unsigned long long)i);
}

void memtree_init_synthetic(struct memtree *t, uint64_t n)
{
	uint64_t i;

	memset(t, 0, sizeof *t);
	t->n = n;
	t->limit = n;
	t->level[0] = malloc((n ? n : 1) * sizeof(merkle_hash));
	assert_non_null(t->level[0]);
	for (i = 0; i < n; i++) {
		char buf[32];
		size_t len = memtree_entry(buf, i);
		memtree_hash2(t->level[0][i], 0x00, buf, len, "", 0);
	}
	t->count[0] = n;
	memtree_levels(t);
}

void memtree_free(struct memtree *t)
{
	unsigned l;

	for (l = 0; l < 64; l++)
		free(t->level[l]);
	memset(t, 0, sizeof *t);
}

int memtree_reader(void *ctx, const struct merkle_node *nodes, size_t n,
		   merkle_hash *out, struct perr *e)
{
	struct memtree *t = ctx;
	size_t i;

	t->calls++;
	for (i = 0; i < n; i++) {
		unsigned l = nodes[i].level;
		uint64_t idx = nodes[i].index;
		/* complete within the tree: (idx + 1) << l <= limit */
		if (l >= 64 || idx >= (t->limit >> l))
			return perr_set(e, "memtree: node (%u, %llu) is not complete in a "
					"tree of %llu", l, (unsigned long long)idx,
					(unsigned long long)t->limit);
		memcpy(out[i], t->level[l][idx], MERKLE_HASH);
		t->reads++;
	}
	return 0;
}

/* Largest power of two strictly below n (n >= 2). */
static uint64_t memtree_split(uint64_t n)
{
	uint64_t k = 1;

	while (k * 2 < n)
		k *= 2;
	return k;
}

void memtree_mth(const struct memtree *t, uint64_t lo, uint64_t hi,
		 merkle_hash out)
{
	uint64_t n = hi - lo;
	merkle_hash l, r;

	assert_true(lo < hi && hi <= t->n);
	/* A complete aligned subtree is stored; anything else is split. */
	if ((n & (n - 1)) == 0 && lo % n == 0) {
		unsigned lv = (unsigned)__builtin_ctzll(n);
		memcpy(out, t->level[lv][lo >> lv], MERKLE_HASH);
		return;
	}
	memtree_mth(t, lo, lo + memtree_split(n), l);
	memtree_mth(t, lo + memtree_split(n), hi, r);
	memtree_node(out, l, r);
}
