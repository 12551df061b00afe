/*
 * select.h — the joint random selection of items to inspect
 * (docs/treaties.md, "Inspections": Joint selection).
 *
 * Each side commits to a 32-byte seed (seed-commit: SHA-256(seed) in
 * lowercase hex), reveals it once it holds the other side's commitment
 * (seed-reveal), and the K items out of N are drawn from both seeds.  No
 * side chooses them, and anyone holding the two reveals can recompute the
 * draw.  This is the whole algorithm, version parley-select/v1:
 *
 *   Inputs    round  the round's name, 1..128 bytes (no NUL), e.g. the
 *                    inspection request's origin/index
 *             N      the number of committed items, 1..10^7
 *             K      how many to inspect, 0..N
 *             two seeds of 32 bytes, each with the name of its side; the
 *             seeds are ordered by side name (bytewise strcmp, smaller
 *             first): seed_first, seed_second.  The names must differ.
 *
 *   key       SHA-256("parley-select/v1" || 0x00 || round || 0x00 ||
 *                     seed_first || seed_second)
 *             (the tag and round without terminating NULs; the 0x00 bytes
 *             are the separators shown)
 *
 *   stream    block j = SHA-256(key || u64be(j)) for j = 0, 1, 2, ...;
 *             each block gives four values, its bytes 0..7, 8..15, 16..23,
 *             24..31 read as big-endian unsigned 64-bit integers.  The
 *             stream is those values in order: block 0's four, then
 *             block 1's, ...
 *
 *   uniform(m), m >= 1
 *             take the next value x; while x >= 2^64 - (2^64 mod m), take
 *             the next value instead (when 2^64 mod m is 0 nothing is
 *             rejected); return x mod m.  Every call, even uniform(1),
 *             takes at least one value.
 *
 *   draw      a = [0, 1, ..., N-1]
 *             for i = 0 .. K-1:  r = i + uniform(N - i); swap a[i], a[r]
 *             (a partial Fisher-Yates shuffle)
 *
 *   result    a[0..K-1] sorted ascending: indices into the committed,
 *             id-sorted item list (src/treaty/commit.h).
 *
 * For example (python3):
 *
 *   import hashlib, struct
 *   def draw(rnd, n, k, sides):          # sides: {name: seed bytes}
 *       s = [sides[x] for x in sorted(sides, key=lambda x: x.encode())]
 *       key = hashlib.sha256(b"parley-select/v1\0" + rnd.encode() + b"\0"
 *                            + s[0] + s[1]).digest()
 *       def values():
 *           j = 0
 *           while True:
 *               b = hashlib.sha256(key + struct.pack(">Q", j)).digest()
 *               yield from struct.unpack(">4Q", b)
 *               j += 1
 *       v = values()
 *       def uniform(m):
 *           x = next(v)
 *           while x >= 2**64 - 2**64 % m:
 *               x = next(v)
 *           return x % m
 *       a = list(range(n))
 *       for i in range(k):
 *           r = i + uniform(n - i)
 *           a[i], a[r] = a[r], a[i]
 *       return sorted(a[:k])
 *
 * The rejection makes every index exactly equally likely; the order of
 * the seeds by name makes the draw independent of which side computes it.
 * N and K are not hashed: a smaller K with the same round and seeds draws
 * a subset of a larger K's selection (a[0..K-1] is a prefix), so a round
 * must be drawn once, with the K of its request.
 *
 * Memory: the draw holds a as N 32-bit integers (40 MB at N = 10^7).
 */
#ifndef PARLEY_SELECT_H
#define PARLEY_SELECT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SELECT_TAG "parley-select/v1"
#define SELECT_SEED 32
#define SELECT_ROUND_MAX 128
#define SELECT_SIDE_MAX 255            /* bytes of a side's name */
#define SELECT_MAX_N 10000000

/* One side's contribution: its name and its revealed seed. */
struct select_side {
	const char *name;
	uint8_t seed[SELECT_SEED];
};

/* Draws K of N (the algorithm above) into out[0..k-1], ascending.  The two
 * sides may be given in either order.  Returns 0, or -1 with e naming the
 * bad input. */
int select_draw(const char *round, uint64_t n, uint64_t k,
		const struct select_side *a, const struct select_side *b,
		uint64_t *out, struct perr *e);

/* The seed-commit of a seed: SHA-256(seed) as 64 lowercase hex + NUL. */
void select_seed_commit(char hex[2 * SELECT_SEED + 1],
			const uint8_t seed[SELECT_SEED]);

/* 0 if SHA-256(seed) is the seed-commit commit_hex (64 lowercase hex),
 * else -1: "seed-reveal does not match its commitment", or a message
 * naming a malformed commit. */
int select_check_reveal(const char *commit_hex,
			const uint8_t seed[SELECT_SEED], struct perr *e);

/* A seed written as 64 lowercase hex. */
int select_parse_seed(const char *hex, uint8_t seed[SELECT_SEED],
		      struct perr *e);

#endif
