/*
 * select.c — parley-select/v1, the joint random draw of items to inspect.
 * The algorithm, and a Python rendering of it, are in select.h; this file
 * is that text in C and nothing more.
 */
#include "select.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "commit.h"

/* The value stream: block j = SHA-256(key || u64be(j)), four u64be values
 * per block. */
struct select_stream {
	uint8_t key[SHA256_DIGEST_LENGTH];
	uint8_t block[SHA256_DIGEST_LENGTH];
	uint64_t j;                    /* the next block to compute */
	unsigned pos;                  /* values of block already taken, 0..4 */
};

/* The key binds the round and both seeds; the tag and the separators keep
 * one (round, seeds) from being read as another. */
static void select_stream_init(struct select_stream *st, const char *round,
			       const uint8_t first[SELECT_SEED],
			       const uint8_t second[SELECT_SEED])
{
	static const uint8_t zero = 0x00;
	SHA256_CTX c;

	/* key = SHA-256(tag || 0x00 || round || 0x00 || first || second) */
	SHA256_Init(&c);
	SHA256_Update(&c, SELECT_TAG, strlen(SELECT_TAG));
	SHA256_Update(&c, &zero, 1);
	SHA256_Update(&c, round, strlen(round));
	SHA256_Update(&c, &zero, 1);
	SHA256_Update(&c, first, SELECT_SEED);
	SHA256_Update(&c, second, SELECT_SEED);
	SHA256_Final(st->key, &c);
	OPENSSL_cleanse(&c, sizeof c);
	st->j = 0;
	st->pos = 4;
}

/* Values are taken in order, four per block, so that another
 * implementation consumes exactly the same stream (select.h). */
static uint64_t select_next(struct select_stream *st)
{
	const uint8_t *p;
	uint64_t x = 0;
	int i;

	if (st->pos == 4) {
		uint8_t in[SHA256_DIGEST_LENGTH + 8];
		memcpy(in, st->key, SHA256_DIGEST_LENGTH);
		for (i = 0; i < 8; i++)
			in[SHA256_DIGEST_LENGTH + i] = (uint8_t)(st->j >> (56 - 8 * i));
		SHA256(in, sizeof in, st->block);
		st->j++;
		st->pos = 0;
	}
	p = st->block + 8 * st->pos++;
	for (i = 0; i < 8; i++)
		x = x << 8 | p[i];
	return x;
}

/* uniform(m): reject x >= 2^64 - (2^64 mod m), so that x mod m is exactly
 * uniform.  In 64-bit arithmetic 2^64 mod m is (0 - m) mod m, and
 * 2^64 - r is (0 - r) for r > 0. */
static uint64_t select_uniform(struct select_stream *st, uint64_t m)
{
	uint64_t r = (UINT64_C(0) - m) % m, x;

	assert(m >= 1);
	x = select_next(st);
	if (r != 0)
		while (x >= UINT64_C(0) - r)
			x = select_next(st);
	return x % m;
}

/* The result is published sorted: the set drawn, not the shuffle order. */
static int select_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Side names only order the seeds, but an empty or unbounded name is a
 * caller's bug worth reporting. */
static int select_side_ok(const struct select_side *s, struct perr *e)
{
	size_t len;

	if (s == NULL || s->name == NULL)
		return perr_set(e, "a side has no name");
	len = strlen(s->name);
	if (len == 0 || len > SELECT_SIDE_MAX)
		return perr_set(e, "a side's name must be 1..%d bytes", SELECT_SIDE_MAX);
	return 0;
}

/* Bounds first, so that the allocation of a is at most 40 MB and out is
 * never written when the request is refused. */
int select_draw(const char *round, uint64_t n, uint64_t k,
		const struct select_side *a, const struct select_side *b,
		uint64_t *out, struct perr *e)
{
	const struct select_side *first, *second;
	struct select_stream st;
	uint32_t *arr;
	size_t rlen = round == NULL ? 0 : strlen(round);
	uint64_t i;
	int c;

	if (rlen == 0 || rlen > SELECT_ROUND_MAX)
		return perr_set(e, "the round must be 1..%d bytes", SELECT_ROUND_MAX);
	if (n < 1 || n > SELECT_MAX_N)
		return perr_set(e, "N = %llu: the number of items must be 1..%d",
				(unsigned long long)n, SELECT_MAX_N);
	if (k > n)
		return perr_set(e, "K = %llu: cannot draw more than N = %llu items",
				(unsigned long long)k, (unsigned long long)n);
	if (select_side_ok(a, e) != 0 || select_side_ok(b, e) != 0)
		return -1;
	c = strcmp(a->name, b->name);
	if (c == 0)
		return perr_set(e, "both seeds are from the side \"%s\"; the draw needs two "
				"sides", a->name);
	first = c < 0 ? a : b;
	second = c < 0 ? b : a;
	arr = malloc((size_t)n * sizeof *arr);
	if (arr == NULL)
		return perr_set(e, "out of memory for N = %llu", (unsigned long long)n);
	for (i = 0; i < n; i++)
		arr[i] = (uint32_t)i;
	select_stream_init(&st, round, first->seed, second->seed);
	for (i = 0; i < k; i++) {
		uint64_t r = i + select_uniform(&st, n - i);
		uint32_t t = arr[i];
		arr[i] = arr[r];
		arr[r] = t;
	}
	OPENSSL_cleanse(&st, sizeof st);
	for (i = 0; i < k; i++)
		out[i] = arr[i];
	free(arr);
	if (k > 0) /* out may be NULL when nothing is drawn */
		qsort(out, (size_t)k, sizeof *out, select_cmp_u64);
	return 0;
}

/* The commitment a side logs before it may see the other side's. */
void select_seed_commit(char hex[2 * SELECT_SEED + 1],
			const uint8_t seed[SELECT_SEED])
{
	uint8_t h[SHA256_DIGEST_LENGTH];

	SHA256(seed, SELECT_SEED, h);
	commit_hex(hex, h, sizeof h);
}

/* A reveal is only worth anything if it opens the commitment logged
 * before: otherwise the last side to reveal could choose its seed. */
int select_check_reveal(const char *commit_hex, const uint8_t seed[SELECT_SEED],
			struct perr *e)
{
	uint8_t want[SHA256_DIGEST_LENGTH], got[SHA256_DIGEST_LENGTH];

	if (commit_hex == NULL ||
	    commit_unhex(want, sizeof want, commit_hex, strlen(commit_hex)) != 0)
		return perr_set(e, "seed-commit must be 64 lowercase hex characters");
	SHA256(seed, SELECT_SEED, got);
	if (CRYPTO_memcmp(want, got, sizeof got) != 0)
		return perr_set(e, "seed-reveal does not match its commitment");
	return 0;
}

/* Seeds are given as the envelope writes them: 64 lowercase hex. */
int select_parse_seed(const char *hex, uint8_t seed[SELECT_SEED],
		      struct perr *e)
{
	if (commit_unhex(seed, SELECT_SEED, hex, strlen(hex)) != 0)
		return perr_set(e, "a seed must be %d lowercase hex characters",
				2 * SELECT_SEED);
	return 0;
}
