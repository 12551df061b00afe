/*
 * test_odds.c — detection odds of a treaty inspection (src/treaty/odds.h).
 *
 * The source of truth is exact arithmetic done here, independently of
 * odds.c: the miss probability Q = C(N-D, K) / C(N, K) is the ratio of two
 * falling factorials,
 *
 *     Q = [(N-D)(N-D-1)...(N-D-K+1)] / [N(N-1)...(N-K+1)],
 *
 * held as OpenSSL BIGNUMs (common factors of the two ranges cancelled, so
 * that large K stays cheap when D is small).  A computed double P = m * 2^e
 * is then compared with P_exact = (den - num) / den without any rounding:
 *
 *     rel = |m * den - (den - num) * 2^-e| / ((den - num) * 2^-e).
 *
 * The requirement is rel <= 1e-12 for N up to 10^6; the worst value seen is
 * printed at the end of the run.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>

#include "odds.h"
#include "../core/testutil.h"

#define MILLION 1000000ULL
#define MAX_REL 1e-12
/* The largest double below 1: odds.h's value for "rounds to 1, not certain". */
#define ALMOST_ONE (1.0 - 0x1p-53)

static double worst_rel;
static size_t exact_checks;

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */

static void clear_err(struct perr *e)
{
	e->msg[0] = '\0';
}

static BIGNUM *bn_new_checked(void)
{
	BIGNUM *b = BN_new();

	assert_non_null(b);
	return b;
}

/* out = lo * (lo+1) * ... * hi, or 1 when the range is empty. */
static void bn_range_product(BIGNUM *out, uint64_t lo, uint64_t hi)
{
	uint64_t j;

	assert_true(BN_one(out));
	for (j = lo; j <= hi && lo <= hi; j++)
		assert_true(BN_mul_word(out, (BN_ULONG)j));
}

/*
 * Q = num / den exactly.  The numerator's factors are the range
 * [N-D-K+1, N-D], the denominator's [N-K+1, N]; where they overlap
 * ([N-K+1, N-D], non-empty when K > D) the factors cancel.
 */
static void exact_q(uint64_t n, uint64_t d, uint64_t k, BIGNUM *num,
		    BIGNUM *den)
{
	uint64_t a_lo, a_hi, b_lo, b_hi;

	if (k > n - d) { /* a factor of the numerator is 0 */
		BN_zero(num);
		assert_true(BN_one(den));
		return;
	}
	if (k == 0) {
		assert_true(BN_one(num));
		assert_true(BN_one(den));
		return;
	}
	a_lo = n - d - k + 1;
	a_hi = n - d;
	b_lo = n - k + 1;
	b_hi = n;
	if (b_lo <= a_hi) { /* overlap [b_lo, a_hi] */
		bn_range_product(num, a_lo, b_lo - 1);
		bn_range_product(den, a_hi + 1, b_hi);
	} else {
		bn_range_product(num, a_lo, a_hi);
		bn_range_product(den, b_lo, b_hi);
	}
}

/* x ~= w * 2^s with w holding x's top 64 bits (x > 0). */
static double bn_top(const BIGNUM *x, int *s)
{
	int bits = BN_num_bits(x);
	BIGNUM *t = bn_new_checked();
	double w;

	assert_non_null(BN_copy(t, x));
	*s = bits > 64 ? bits - 64 : 0;
	assert_true(BN_rshift(t, t, *s));
	w = (double)BN_get_word(t);
	BN_free(t);
	return w;
}

/* a / b as a double, for positive bignums of any size. */
static double bn_ratio(const BIGNUM *a, const BIGNUM *b)
{
	int sa, sb;
	double wa, wb;

	if (BN_is_zero(a))
		return 0.0;
	wa = bn_top(a, &sa);
	wb = bn_top(b, &sb);
	return ldexp(wa / wb, sa - sb);
}

/*
 * For p = m * 2^-E (exact; E >= 0 since p <= 1) sets lhs = m * den and
 * rhs = (den - num) * 2^E: p compares with P_exact as lhs with rhs.
 */
static void scaled_pair(double p, const BIGNUM *num, const BIGNUM *den,
			BIGNUM *lhs, BIGNUM *rhs)
{
	BN_CTX *ctx = BN_CTX_new();
	int ex, shift;
	double f = frexp(p, &ex); /* p = f * 2^ex, f in [0.5, 1) */
	uint64_t m = (uint64_t)ldexp(f, 53);

	assert_non_null(ctx);
	assert_true(p > 0.0 && p <= 1.0);
	shift = 53 - ex;
	assert_true(shift >= 0);
	assert_true(BN_set_word(lhs, (BN_ULONG)m));
	assert_true(BN_mul(lhs, lhs, den, ctx));
	assert_true(BN_sub(rhs, den, num));
	assert_true(BN_lshift(rhs, rhs, shift));
	BN_CTX_free(ctx);
}

/*
 * Checks odds_detect(n, d, k) against the exact fraction: the relative
 * error must be at most MAX_REL, and P must be 0 exactly when P_exact is.
 * Records the worst error seen.
 */
static void check_exact(uint64_t n, uint64_t d, uint64_t k)
{
	BIGNUM *num = bn_new_checked(), *den = bn_new_checked();
	BIGNUM *lhs = bn_new_checked(), *rhs = bn_new_checked();
	BIGNUM *diff = bn_new_checked();
	struct perr e;
	double p = -1.0, rel;

	clear_err(&e);
	if (odds_detect(n, d, k, &p, &e) != 0)
		fail_msg("odds_detect(%llu, %llu, %llu): %s",
			 (unsigned long long)n, (unsigned long long)d,
			 (unsigned long long)k, e.msg);
	exact_q(n, d, k, num, den);
	if (BN_cmp(num, den) == 0) { /* Q = 1: P_exact = 0 */
		if (p != 0.0)
			fail_msg("P(%llu, %llu, %llu) = %.17g, exact 0",
				 (unsigned long long)n, (unsigned long long)d,
				 (unsigned long long)k, p);
		goto out;
	}
	if (p <= 0.0 || p > 1.0)
		fail_msg("P(%llu, %llu, %llu) = %.17g, outside (0, 1]",
			 (unsigned long long)n, (unsigned long long)d,
			 (unsigned long long)k, p);
	scaled_pair(p, num, den, lhs, rhs);
	assert_true(BN_sub(diff, lhs, rhs));
	BN_set_negative(diff, 0);
	rel = bn_ratio(diff, rhs);
	if (rel > worst_rel)
		worst_rel = rel;
	exact_checks++;
	if (rel > MAX_REL)
		fail_msg("P(%llu, %llu, %llu) = %.17g: relative error %.3g",
			 (unsigned long long)n, (unsigned long long)d,
			 (unsigned long long)k, p, rel);
out:
	BN_free(num);
	BN_free(den);
	BN_free(lhs);
	BN_free(rhs);
	BN_free(diff);
}

/* Sign of P_exact(n, d, k) - conf, decided exactly (conf in (0, 1]). */
static int exact_cmp(uint64_t n, uint64_t d, uint64_t k, double conf)
{
	BIGNUM *num = bn_new_checked(), *den = bn_new_checked();
	BIGNUM *lhs = bn_new_checked(), *rhs = bn_new_checked();
	int c;

	exact_q(n, d, k, num, den);
	scaled_pair(conf, num, den, lhs, rhs);
	c = BN_cmp(rhs, lhs); /* P_exact vs conf */
	BN_free(num);
	BN_free(den);
	BN_free(lhs);
	BN_free(rhs);
	return c;
}

static double detect(uint64_t n, uint64_t d, uint64_t k)
{
	struct perr e;
	double p = -1.0;

	clear_err(&e);
	if (odds_detect(n, d, k, &p, &e) != 0)
		fail_msg("odds_detect(%llu, %llu, %llu): %s",
			 (unsigned long long)n, (unsigned long long)d,
			 (unsigned long long)k, e.msg);
	return p;
}

static uint64_t needed(uint64_t n, uint64_t d, double conf)
{
	struct perr e;
	uint64_t k = UINT64_MAX;

	clear_err(&e);
	if (odds_needed(n, d, conf, &k, &e) != 0)
		fail_msg("odds_needed(%llu, %llu, %g): %s",
			 (unsigned long long)n, (unsigned long long)d, conf,
			 e.msg);
	return k;
}

/*
 * The contract of odds_needed: K is the smallest count whose computed P
 * reaches conf.  With `exact` set, also against the exact values: P_exact(K)
 * >= conf > P_exact(K-1), up to ties within TIE.  Ties are real: for
 * N = 5, D = 2, K = 3 the exact P is 9/10, and the double 0.9 is 2e-17
 * above it; a user asking for 0.9 is answered K = 3, rightly.
 */
#define TIE 0x1p-50
static void check_needed(uint64_t n, uint64_t d, double conf, int exact)
{
	uint64_t k = needed(n, d, conf);

	assert_true(k >= 1 && k <= n - d + 1);
	if (!(detect(n, d, k) >= conf) || !(detect(n, d, k - 1) < conf))
		fail_msg("odds_needed(%llu, %llu, %g) = %llu, but P(K) = %.17g "
			 "and P(K-1) = %.17g", (unsigned long long)n,
			 (unsigned long long)d, conf, (unsigned long long)k,
			 detect(n, d, k), detect(n, d, k - 1));
	if (exact && (exact_cmp(n, d, k, conf * (1 - TIE)) < 0 ||
		      exact_cmp(n, d, k - 1, fmin(conf * (1 + TIE), 1.0)) >= 0))
		fail_msg("exact: odds_needed(%llu, %llu, %.17g) = %llu",
			 (unsigned long long)n, (unsigned long long)d, conf,
			 (unsigned long long)k);
}

/* ---------------------------------------------------------------------- */
/* odds_detect against exact fractions                                     */

static void test_small_n_exhaustively_matches_exact_fractions(void **state)
{
	uint64_t n, d, k;

	(void)state;
	for (n = 1; n <= 40; n++)
		for (d = 0; d <= n; d++)
			for (k = 0; k <= n; k++)
				check_exact(n, d, k);
}

static void test_a_million_items_match_exact_fractions(void **state)
{
	static const uint64_t ds[] = { 1, 10, 1000, 500000, 999999 };
	static const uint64_t ks[] = { 1, 2, 100, 1000, 5000 };
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof ds / sizeof ds[0]; i++)
		for (j = 0; j < sizeof ks / sizeof ks[0]; j++)
			check_exact(MILLION, ds[i], ks[j]);
}

/* Large K with small D, and large D with small K: the two orientations of
 * the product, P from tiny to within 1e-300 of 1. */
static void test_large_draws_and_large_frauds_match_exact_fractions(void **state)
{
	static const uint64_t small[] = { 1, 2, 3, 7, 100, 2000 };
	static const uint64_t large[] = { 10000, 123456, 500000, 900000,
					  999000, 999999 };
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof small / sizeof small[0]; i++)
		for (j = 0; j < sizeof large / sizeof large[0]; j++) {
			check_exact(MILLION, small[i], large[j]);
			check_exact(MILLION, large[j], small[i]);
		}
	/* Terms on both sides of the log1p / log switch (a/(N-i) = 1/2). */
	check_exact(MILLION, 499000, 3000);
	check_exact(MILLION, 499999, 2);
	check_exact(MILLION, 500001, 2);
	/* Tiny P with more than one factor, where 1 - Q loses it all. */
	check_exact(MILLION, 2, 2);
	check_exact(MILLION, 2, 3);
	check_exact(MILLION, 3, 3);
	check_exact(MILLION, 5, 7);
	check_exact(ODDS_MAX_N, 2, 2);
	check_exact(ODDS_MAX_N, 3, 5);
	check_exact(ODDS_MAX_N, 10, 10);
	/* Other sizes, including a prime and a power of two. */
	check_exact(999983, 17, 4321);
	check_exact(1048576, 1024, 1024);
	check_exact(1000, 500, 500);
	check_exact(1000, 1, 999);
	check_exact(2, 1, 1);
}

static void test_one_draw_or_one_fraud_gives_exactly_k_over_n(void **state)
{
	(void)state;
	/* P = a/N, correctly rounded: the double nearest 1e-6 etc. */
	assert_true(detect(MILLION, 1, 1) == 1e-6);
	assert_true(detect(MILLION, 1, 3) == 3e-6);
	assert_true(detect(MILLION, 3, 1) == 3e-6);
	assert_true(detect(MILLION, 7, 1) == 7e-6);
	assert_true(detect(MILLION, 1, 950000) == 0.95);
	assert_true(detect(10, 1, 1) == 0.1);
	check_exact(MILLION, 1, 1);
	check_exact(MILLION, 1, 3);
}

static void test_certain_detection_is_exactly_one_and_only_then(void **state)
{
	static const uint64_t ns[] = { 1, 2, 10, 1000, MILLION, ODDS_MAX_N };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		uint64_t n = ns[i], d;

		for (d = 1; d <= n && d <= 3; d++) {
			assert_true(detect(n, d, n - d + 1) == 1.0);
			assert_true(detect(n, d, n) == 1.0);
			if (n - d >= 1)
				assert_true(detect(n, d, n - d) < 1.0);
		}
		assert_true(detect(n, n, 1) == 1.0);
	}
	/* Exact P is 1 - 1/C(10^6, 5*10^5): rounds to 1, reported below it. */
	assert_true(detect(MILLION, 500000, 500000) == ALMOST_ONE);
	assert_true(detect(MILLION, 500000, 100) == ALMOST_ONE);
	assert_true(detect(MILLION, 999999, 1) == 0.999999);
	assert_true(detect(MILLION, 999999, 2) == 1.0);
	assert_true(detect(ODDS_MAX_N, ODDS_MAX_N / 2, ODDS_MAX_N / 2) ==
		    ALMOST_ONE);
}

static void test_nothing_to_find_or_nothing_drawn_gives_zero(void **state)
{
	(void)state;
	assert_true(detect(1, 0, 1) == 0.0);
	assert_true(detect(MILLION, 0, MILLION) == 0.0);
	assert_true(detect(MILLION, 0, 0) == 0.0);
	assert_true(detect(MILLION, MILLION, 0) == 0.0);
	assert_true(detect(ODDS_MAX_N, 12345, 0) == 0.0);
	/* The smallest nonzero P is 1/N: no underflow to 0. */
	assert_true(detect(ODDS_MAX_N, 1, 1) == 1e-9);
}

static void test_p_never_decreases_as_k_grows(void **state)
{
	static const uint64_t ds[] = { 1, 3, 50, 500, 999, 1000 };
	size_t i;
	uint64_t k;
	double prev, p;

	(void)state;
	for (i = 0; i < sizeof ds / sizeof ds[0]; i++) {
		prev = 0.0;
		for (k = 0; k <= 1000; k++) {
			p = detect(1000, ds[i], k);
			assert_true(p >= prev);
			prev = p;
		}
	}
	/* Across the switch from K to D factors (K = D), then more sparsely
	 * into the region where P rounds to 1 (ln Q < -37 from K = 37,000). */
	prev = 0.0;
	for (k = 0; k <= 60000; k += k < 5000 ? 1 : 11) {
		p = detect(MILLION, 1000, k);
		assert_true(p >= prev);
		prev = p;
	}
	assert_true(prev == ALMOST_ONE);
}

static void test_huge_inputs_are_fast(void **state)
{
	(void)state;
	/* Each of these would be 5*10^8 logarithms done naively. */
	assert_true(detect(ODDS_MAX_N, 1, 500000000) == 0.5);
	assert_true(detect(ODDS_MAX_N, 500000000, 1) == 0.5);
	assert_true(detect(ODDS_MAX_N, 100000, 100000) > 0.9999);
	assert_true(detect(ODDS_MAX_N, 100000, 100000) < 1.0);
	assert_true(needed(ODDS_MAX_N, 1, 0.95) == 950000000);
	assert_true(needed(ODDS_MAX_N, 1, 1.0) == ODDS_MAX_N);
	check_needed(ODDS_MAX_N, 1000, 0.99, 0);
	check_needed(ODDS_MAX_N, 100000000, 0.999999, 0);
}

/* ---------------------------------------------------------------------- */
/* odds_needed                                                             */

static void test_needed_is_the_smallest_k_reaching_the_confidence(void **state)
{
	(void)state;
	check_needed(MILLION, 1000, 0.95, 1);
	check_needed(MILLION, 1000, 0.99, 1);
	check_needed(MILLION, 1000, 0.5, 1);
	check_needed(MILLION, 10, 0.95, 1);
	check_needed(MILLION, 500000, 0.999999, 1);
	check_needed(MILLION, 999999, 0.5, 1);
	check_needed(1000, 10, 0.9, 1);
	check_needed(40, 5, 0.5, 1);
	/* 1 - (1 - D/N)^K = 0.95 puts it near 2,994 for D = 1000. */
	assert_true(needed(MILLION, 1000, 0.95) > 2900);
	assert_true(needed(MILLION, 1000, 0.95) < 3100);
	/* With one falsified item, P = K/N. */
	assert_true(needed(MILLION, 1, 0.5) == 500000);
	assert_true(needed(MILLION, 1, 0.95) == 950000);
	assert_true(needed(MILLION, 1, 1e-6) == 1);
	assert_true(needed(MILLION, 1, 1.5e-6) == 2);
}

static void test_needed_for_small_n_exhaustively(void **state)
{
	static const double confs[] = { 1e-9, 0.1, 0.5, 0.9, 0.95, 0.99,
					0.999999 };
	uint64_t n, d;
	size_t c;

	(void)state;
	for (n = 1; n <= 30; n++)
		for (d = 1; d <= n; d++)
			for (c = 0; c < sizeof confs / sizeof confs[0]; c++)
				check_needed(n, d, confs[c], 1);
}

static void test_certainty_needs_every_honest_item_plus_one(void **state)
{
	(void)state;
	assert_true(needed(MILLION, 1000, 1.0) == MILLION - 1000 + 1);
	assert_true(needed(MILLION, 500000, 1.0) == 500001);
	assert_true(needed(MILLION, MILLION, 1.0) == 1);
	assert_true(needed(10, 3, 1.0) == 8);
	assert_true(needed(1, 1, 1.0) == 1);
	/* The largest confidence below 1 is reached well before that. */
	assert_true(needed(MILLION, 500000, ALMOST_ONE) < 100);
}

/* ---------------------------------------------------------------------- */
/* Errors                                                                  */

static void test_impossible_counts_are_refused_naming_the_value(void **state)
{
	struct perr e;
	double p = 0.25;
	uint64_t k = 77;

	(void)state;
	clear_err(&e);
	tu_expect_error(odds_detect(10, 3, 11, &p, &e), &e, "11");
	tu_expect_error(odds_detect(10, 3, 11, &p, &e), &e, "K");
	tu_expect_error(odds_detect(10, 11, 3, &p, &e), &e, "11");
	tu_expect_error(odds_detect(10, 11, 3, &p, &e), &e, "D");
	tu_expect_error(odds_detect(0, 0, 0, &p, &e), &e, "N");
	tu_expect_error(odds_detect(ODDS_MAX_N + 1, 1, 1, &p, &e), &e,
		     "1000000001");
	tu_expect_error(odds_detect(UINT64_MAX, 1, 1, &p, &e), &e,
		     "18446744073709551615");
	assert_true(p == 0.25); /* untouched on error */

	tu_expect_error(odds_needed(0, 0, 0.5, &k, &e), &e, "N");
	tu_expect_error(odds_needed(10, 11, 0.5, &k, &e), &e, "11");
	tu_expect_error(odds_needed(10, 0, 0.5, &k, &e), &e,
		     "no falsified items");
	tu_expect_error(odds_needed(10, 1, 0.0, &k, &e), &e, "confidence");
	tu_expect_error(odds_needed(10, 1, 1.5, &k, &e), &e, "1.5");
	tu_expect_error(odds_needed(10, 1, -0.5, &k, &e), &e, "-0.5");
	tu_expect_error(odds_needed(10, 1, NAN, &k, &e), &e, "confidence");
	tu_expect_error(odds_needed(10, 1, INFINITY, &k, &e), &e, "confidence");
	assert_true(k == 77);

	/* A NULL perr is allowed. */
	assert_true(odds_detect(10, 3, 11, &p, NULL) < 0);
	assert_true(odds_needed(10, 0, 0.5, &k, NULL) < 0);
}

static void test_counts_parse_as_plain_decimals_only(void **state)
{
	static const char *bad[] = { "-1", "-3", "", "1e3", "1e6", "12x",
				     " 1", "1 ", "+1", "0x10", "1.0", "1,000" };
	struct perr e;
	uint64_t v;
	size_t i;

	(void)state;
	assert_int_equal(odds_parse_count("0", "N", &v, &e), 0);
	assert_true(v == 0);
	assert_int_equal(odds_parse_count("1000000", "N", &v, &e), 0);
	assert_true(v == MILLION);
	assert_int_equal(odds_parse_count("007", "K", &v, &e), 0);
	assert_true(v == 7);
	assert_int_equal(odds_parse_count("18446744073709551615", "D", &v,
					  &e), 0);
	assert_true(v == UINT64_MAX);

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char want[64];

		v = 42;
		clear_err(&e);
		snprintf(want, sizeof want, "not \"%s\"", bad[i]);
		tu_expect_error(odds_parse_count(bad[i], "N", &v, &e), &e, want);
		tu_expect_error(odds_parse_count(bad[i], "N", &v, &e), &e,
			     "N must be a non-negative integer");
		assert_true(v == 42);
	}
	clear_err(&e);
	tu_expect_error(odds_parse_count("-3", "N", &v, &e), &e,
		     "N must be a non-negative integer, not \"-3\"");
	tu_expect_error(odds_parse_count("18446744073709551616", "D", &v, &e),
		     &e, "D is too large: \"18446744073709551616\"");
	tu_expect_error(odds_parse_count("99999999999999999999999", "K", &v, &e),
		     &e, "K is too large");
	/* Hostile input stays one printable line. */
	tu_expect_error(odds_parse_count("1\n2", "N", &v, &e), &e, "\"1?2\"");
	tu_expect_error(odds_parse_count(NULL, "N", &v, &e), &e, "N");
	assert_true(v == 42);
}

static void test_probabilities_parse_in_zero_to_one(void **state)
{
	static const char *bad[] = { "0", "0.0", "1.5", "abc", "", "-0.5",
				     "nan", "inf", "9e-1", " 0.9", "0.9 ",
				     "95%", ".", "0..5", "0.5.", "+0.5",
				     "0x0.8", "1.0000000000000000000001" };
	struct perr e;
	double p;
	size_t i;

	(void)state;
	assert_int_equal(odds_parse_prob("0.95", &p, &e), 0);
	assert_true(p == 0.95);
	assert_int_equal(odds_parse_prob("1", &p, &e), 0);
	assert_true(p == 1.0);
	assert_int_equal(odds_parse_prob("1.000", &p, &e), 0);
	assert_true(p == 1.0);
	assert_int_equal(odds_parse_prob(".5", &p, &e), 0);
	assert_true(p == 0.5);
	assert_int_equal(odds_parse_prob("0.000001", &p, &e), 0);
	assert_true(p == 1e-6);

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char want[64];

		p = 0.25;
		clear_err(&e);
		snprintf(want, sizeof want, "not \"%s\"", bad[i]);
		tu_expect_error(odds_parse_prob(bad[i], &p, &e), &e, want);
		tu_expect_error(odds_parse_prob(bad[i], &p, &e), &e, "(0, 1]");
		assert_true(p == 0.25);
	}
	/* Rounds to 1.0 but is not 1: refused rather than read as certainty. */
	tu_expect_error(odds_parse_prob("0.99999999999999999999", &p, &e), &e,
		     "write 1");
	tu_expect_error(odds_parse_prob(NULL, &p, &e), &e, "confidence");
	assert_true(p == 0.25);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_n_exhaustively_matches_exact_fractions),
		cmocka_unit_test(test_a_million_items_match_exact_fractions),
		cmocka_unit_test(test_large_draws_and_large_frauds_match_exact_fractions),
		cmocka_unit_test(test_one_draw_or_one_fraud_gives_exactly_k_over_n),
		cmocka_unit_test(test_certain_detection_is_exactly_one_and_only_then),
		cmocka_unit_test(test_nothing_to_find_or_nothing_drawn_gives_zero),
		cmocka_unit_test(test_p_never_decreases_as_k_grows),
		cmocka_unit_test(test_huge_inputs_are_fast),
		cmocka_unit_test(test_needed_is_the_smallest_k_reaching_the_confidence),
		cmocka_unit_test(test_needed_for_small_n_exhaustively),
		cmocka_unit_test(test_certainty_needs_every_honest_item_plus_one),
		cmocka_unit_test(test_impossible_counts_are_refused_naming_the_value),
		cmocka_unit_test(test_counts_parse_as_plain_decimals_only),
		cmocka_unit_test(test_probabilities_parse_in_zero_to_one),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	printf("odds: %zu exact comparisons, worst relative error %.3g "
	       "(limit %.0e)\n", exact_checks, worst_rel, MAX_REL);
	return rc;
}
