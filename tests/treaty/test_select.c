/*
 * test_select.c — parley-select/v1, the joint random draw of the items to
 * inspect (src/treaty/select.h).
 *
 * The known answers were computed once with an independent implementation
 * (Python's hashlib, the snippet in select.h), not with select.c:
 *
 *   import hashlib, struct
 *   def draw(rnd, n, k, sides):
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
 *   A = bytes(range(32)); B = bytes(range(32, 64))
 *   draw("a.example/to/b.example/42", 1000, 10, {"a.example": A, "b.example": B})
 *   draw("a.example/to/b.example/42", 1000, 10, {"b.example": A, "a.example": B})
 *   draw("r", 7, 7, {"x": A, "y": B})
 *   draw("round-2", 10000000, 5, {"moscow": A, "washington": B})
 *   hashlib.sha256(A).hexdigest()
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "select.h"
#include "../core/testutil.h"

/* SHA-256 of the seed 00 01 02 ... 1f (hashlib, above). */
#define SEED_A_COMMIT "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd"

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */

/* A = 00 01 .. 1f, B = 20 21 .. 3f: the seeds of the known answers. */
static struct select_side side(const char *name, uint8_t first_byte)
{
	struct select_side s;
	int i;

	s.name = name;
	for (i = 0; i < SELECT_SEED; i++)
		s.seed[i] = (uint8_t)(first_byte + i);
	return s;
}

static void expect_draw(const char *round, uint64_t n, uint64_t k,
			const struct select_side *a, const struct select_side *b,
			const uint64_t *want)
{
	uint64_t *got = calloc(k > 0 ? k : 1, sizeof *got);
	struct perr e;
	uint64_t i;

	assert_non_null(got);
	tu_expect_ok(select_draw(round, n, k, a, b, got, &e), &e);
	for (i = 0; i < k; i++)
		if (got[i] != want[i])
			fail_msg("draw(%s, %llu, %llu): index %llu is %llu, expected %llu", round,
				 (unsigned long long)n, (unsigned long long)k,
				 (unsigned long long)i, (unsigned long long)got[i],
				 (unsigned long long)want[i]);
	free(got);
}

/* Asserts the shape every draw must have: k distinct indices below n in
 * increasing order. */
static void expect_shape(const uint64_t *got, uint64_t n, uint64_t k)
{
	uint64_t i;

	for (i = 0; i < k; i++) {
		assert_true(got[i] < n);
		if (i > 0)
			assert_true(got[i - 1] < got[i]);
	}
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */

static void test_known_answers_from_an_independent_implementation(void **state)
{
	static const uint64_t v1[] = { 20, 226, 269, 592, 642, 724, 815, 855, 909, 920 };
	static const uint64_t v2[] = { 169, 192, 480, 625, 668, 768, 782, 818, 960, 996 };
	static const uint64_t v3[] = { 0, 1, 2, 3, 4, 5, 6 };
	static const uint64_t v4[] = { 4583029, 5784065, 6923561, 8741855, 9683045 };
	struct select_side a = side("a.example", 0x00), b = side("b.example", 0x20);

	(void)state;
	expect_draw("a.example/to/b.example/42", 1000, 10, &a, &b, v1);
	/* the same seeds under swapped names: another draw */
	a = side("b.example", 0x00);
	b = side("a.example", 0x20);
	expect_draw("a.example/to/b.example/42", 1000, 10, &a, &b, v2);
	a = side("x", 0x00);
	b = side("y", 0x20);
	expect_draw("r", 7, 7, &a, &b, v3);
	/* the largest N */
	a = side("moscow", 0x00);
	b = side("washington", 0x20);
	expect_draw("round-2", 10000000, 5, &a, &b, v4);
}

static void test_the_draw_is_deterministic(void **state)
{
	struct select_side a = side("a", 0x40), b = side("b", 0x60);
	uint64_t x[50], y[50];
	struct perr e;

	(void)state;
	tu_expect_ok(select_draw("r1", 5000, 50, &a, &b, x, &e), &e);
	tu_expect_ok(select_draw("r1", 5000, 50, &a, &b, y, &e), &e);
	assert_memory_equal(x, y, sizeof x);
	expect_shape(x, 5000, 50);
}

static void test_which_side_is_passed_first_does_not_matter(void **state)
{
	static const uint64_t v1[] = { 20, 226, 269, 592, 642, 724, 815, 855, 909, 920 };
	struct select_side a = side("a.example", 0x00), b = side("b.example", 0x20);

	(void)state;
	expect_draw("a.example/to/b.example/42", 1000, 10, &b, &a, v1);
}

static void test_k_zero_draws_nothing_and_k_n_draws_everything(void **state)
{
	struct select_side a = side("a", 1), b = side("b", 2);
	uint64_t all[100];
	struct perr e;
	uint64_t i;

	(void)state;
	tu_expect_ok(select_draw("r", 100, 0, &a, &b, NULL, &e), &e);
	tu_expect_ok(select_draw("r", 1, 0, &a, &b, NULL, &e), &e);
	tu_expect_ok(select_draw("r", 100, 100, &a, &b, all, &e), &e);
	for (i = 0; i < 100; i++)
		assert_int_equal(all[i], i);
	tu_expect_ok(select_draw("r", 1, 1, &a, &b, all, &e), &e);
	assert_int_equal(all[0], 0);
}

static void test_a_different_round_or_seed_gives_another_selection(void **state)
{
	struct select_side a = side("a", 1), b = side("b", 2);
	uint64_t x[20], y[20];
	struct perr e;

	(void)state;
	tu_expect_ok(select_draw("round-1", 100000, 20, &a, &b, x, &e), &e);
	tu_expect_ok(select_draw("round-2", 100000, 20, &a, &b, y, &e), &e);
	assert_memory_not_equal(x, y, sizeof x);
	/* one bit of one seed */
	b.seed[31] ^= 1;
	tu_expect_ok(select_draw("round-1", 100000, 20, &a, &b, y, &e), &e);
	assert_memory_not_equal(x, y, sizeof x);
}

/* select.h: a[0..K-1] is a prefix of the shuffle, so a smaller K draws a
 * subset of a larger K's selection (why a round is drawn only once). */
static void test_a_smaller_k_draws_a_subset(void **state)
{
	struct select_side a = side("a", 9), b = side("b", 7);
	uint64_t big[40], small[10];
	struct perr e;
	size_t i, j;

	(void)state;
	tu_expect_ok(select_draw("r", 500, 40, &a, &b, big, &e), &e);
	tu_expect_ok(select_draw("r", 500, 10, &a, &b, small, &e), &e);
	for (i = 0; i < 10; i++) {
		for (j = 0; j < 40 && big[j] != small[i]; j++)
			;
		assert_true(j < 40);
	}
}

static void test_draws_have_k_distinct_sorted_indices_below_n(void **state)
{
	uint64_t rng = 0x5e1ec7, *out = malloc(3000 * sizeof *out);
	struct perr e;
	int t;

	(void)state;
	assert_non_null(out);
	for (t = 0; t < 300; t++) {
		uint64_t n = 1 + tu_rand_below(&rng, t % 3 ? 3000 : 20);
		uint64_t k = tu_rand_below(&rng, n + 1);
		struct select_side a, b;
		char round[32];
		a.name = "alpha";
		b.name = "bravo";
		tu_rand_bytes(&rng, a.seed, SELECT_SEED);
		tu_rand_bytes(&rng, b.seed, SELECT_SEED);
		snprintf(round, sizeof round, "round-%d", t);
		tu_expect_ok(select_draw(round, n, k, &a, &b, out, &e), &e);
		expect_shape(out, n, k);
	}
	free(out);
}

/* Each of 10 indices is drawn with probability 1/10; over 20,000 rounds
 * the count of each is 2,000 +- 300 (7 standard deviations of 42), which a
 * fair draw misses with probability below 1e-10.  The rounds are fixed, so
 * the outcome is too: this is a smoke check of the mapping to indices. */
static void test_one_of_ten_is_uniform_over_20000_rounds(void **state)
{
	struct select_side a = side("a", 3), b = side("b", 5);
	unsigned count[10] = { 0 };
	struct perr e;
	int r, i;

	(void)state;
	for (r = 0; r < 20000; r++) {
		char round[32];
		uint64_t x;
		snprintf(round, sizeof round, "uniformity-%d", r);
		tu_expect_ok(select_draw(round, 10, 1, &a, &b, &x, &e), &e);
		count[x]++;
	}
	for (i = 0; i < 10; i++)
		if (count[i] < 1700 || count[i] > 2300)
			fail_msg("index %d drawn %u times of 20000, expected 1700..2300", i,
				 count[i]);
}

static void test_bad_inputs_are_refused_naming_the_value(void **state)
{
	struct select_side a = side("a", 1), b = side("b", 2), same = side("a", 3);
	struct select_side noname = side("", 4);
	char long_round[SELECT_ROUND_MAX + 2];
	uint64_t out[8];
	struct perr e;

	(void)state;
	memset(long_round, 'r', sizeof long_round - 1);
	long_round[sizeof long_round - 1] = '\0';
	tu_expect_error(select_draw(long_round, 8, 1, &a, &b, out, &e), &e,
		     "the round must be 1..128 bytes");
	long_round[SELECT_ROUND_MAX] = '\0';
	tu_expect_ok(select_draw(long_round, 8, 1, &a, &b, out, &e), &e);
	tu_expect_error(select_draw("", 8, 1, &a, &b, out, &e), &e, "the round must be 1..128 bytes");
	tu_expect_error(select_draw(NULL, 8, 1, &a, &b, out, &e), &e, "the round must be");
	tu_expect_error(select_draw("r", 0, 0, &a, &b, out, &e), &e,
		     "N = 0: the number of items must be 1..10000000");
	tu_expect_error(select_draw("r", 10000001, 1, &a, &b, out, &e), &e,
		     "N = 10000001: the number of items must be 1..10000000");
	tu_expect_error(select_draw("r", 8, 9, &a, &b, out, &e), &e,
		     "K = 9: cannot draw more than N = 8 items");
	tu_expect_error(select_draw("r", 8, 1, &a, &same, out, &e), &e,
		     "both seeds are from the side \"a\"");
	tu_expect_error(select_draw("r", 8, 1, &a, &noname, out, &e), &e,
		     "a side's name must be 1..255 bytes");
	tu_expect_error(select_draw("r", 8, 1, &a, NULL, out, &e), &e, "a side has no name");
}

static void test_a_reveal_must_match_its_commitment(void **state)
{
	struct select_side a = side("a", 0x00);
	char hex[2 * SELECT_SEED + 1];
	struct perr e;

	(void)state;
	select_seed_commit(hex, a.seed);
	assert_string_equal(hex, SEED_A_COMMIT);
	tu_expect_ok(select_check_reveal(SEED_A_COMMIT, a.seed, &e), &e);
	/* another seed */
	a.seed[0] ^= 0x80;
	tu_expect_error(select_check_reveal(SEED_A_COMMIT, a.seed, &e), &e,
		     "seed-reveal does not match its commitment");
	a.seed[0] ^= 0x80;
	/* malformed commitments */
	tu_expect_error(select_check_reveal("630DCD2966C4336691125448BBB25B4FF412A49C732DB2C8ABC1B8581BD710DD",
					 a.seed, &e), &e, "seed-commit must be 64 lowercase hex");
	tu_expect_error(select_check_reveal("630dcd", a.seed, &e), &e,
		     "seed-commit must be 64 lowercase hex");
	tu_expect_error(select_check_reveal(NULL, a.seed, &e), &e,
		     "seed-commit must be 64 lowercase hex");
}

static void test_seeds_parse_as_64_lowercase_hex(void **state)
{
	uint8_t seed[SELECT_SEED];
	struct perr e;

	(void)state;
	tu_expect_ok(select_parse_seed("000102030405060708090a0b0c0d0e0f"
				    "101112131415161718191a1b1c1d1e1f", seed, &e), &e);
	assert_int_equal(seed[31], 0x1f);
	tu_expect_error(select_parse_seed("000102030405060708090A0B0C0D0E0F"
				       "101112131415161718191a1b1c1d1e1f", seed, &e), &e,
		     "a seed must be 64 lowercase hex characters");
	tu_expect_error(select_parse_seed("00", seed, &e), &e,
		     "a seed must be 64 lowercase hex characters");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers_from_an_independent_implementation),
		cmocka_unit_test(test_the_draw_is_deterministic),
		cmocka_unit_test(test_which_side_is_passed_first_does_not_matter),
		cmocka_unit_test(test_k_zero_draws_nothing_and_k_n_draws_everything),
		cmocka_unit_test(test_a_different_round_or_seed_gives_another_selection),
		cmocka_unit_test(test_a_smaller_k_draws_a_subset),
		cmocka_unit_test(test_draws_have_k_distinct_sorted_indices_below_n),
		cmocka_unit_test(test_one_of_ten_is_uniform_over_20000_rounds),
		cmocka_unit_test(test_bad_inputs_are_refused_naming_the_value),
		cmocka_unit_test(test_a_reveal_must_match_its_commitment),
		cmocka_unit_test(test_seeds_parse_as_64_lowercase_hex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
