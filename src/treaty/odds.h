/*
 * odds.h — detection odds of a treaty inspection (docs/treaties.md,
 * "Odds").
 *
 * An inspection draws K of N declared items at random, without
 * replacement; D of the N are falsified.  The probability that at least
 * one falsified item is drawn is hypergeometric:
 *
 *     P = 1 - C(N-D, K) / C(N, K) = 1 - prod_{i<K} (N-D-i) / (N-i).
 *
 * Accuracy: for N up to 10^6 (and every D, K) the result is within a
 * relative error of 1e-12 of the exact value; in practice it is the
 * double nearest to it, or one ulp away (tests/treaty/test_odds.c checks
 * it against exact fractions).  That holds when P is tiny (N = 10^6,
 * D = 1, K = 1 gives 1e-6) and when it is close to 1.
 *
 * Two promises beyond accuracy, which the CLI relies on to print honest
 * figures:
 *   - P == 1.0 exactly if and only if detection is certain (K > N - D).
 *     When the exact P is below 1 but rounds to it, the result is the
 *     largest double below 1 instead: "1" is never printed for an
 *     inspection that could miss.
 *   - P is non-decreasing in K, so "the smallest K reaching a confidence"
 *     is well defined for the computed values too.
 */
#ifndef PARLEY_ODDS_H
#define PARLEY_ODDS_H

#include <stdint.h>

#include "err.h"

#define ODDS_MAX_N 1000000000ULL /* 10^9: far beyond the 10^6 we must support */

/*
 * *p = probability that K draws out of N find at least one of D.
 * Errors (one clear line naming the value): N = 0 or N > ODDS_MAX_N,
 * D > N, K > N.  D = 0 gives 0, K = 0 gives 0, K > N - D gives exactly 1.
 * Cost: at most min(K, D) logarithms, and far fewer when both are large
 * (about sqrt(40 N) at worst); no allocation.  *p is untouched on error.
 */
int odds_detect(uint64_t n, uint64_t d, uint64_t k, double *p,
		struct perr *e);

/*
 * *k = the smallest K (0..N) with odds_detect(N, D, K) >= conf.
 * conf must be in (0, 1] (NaN is refused); D = 0 is an error (no number of
 * inspections can find a falsified item that does not exist).  Since P is
 * exactly 1 only when detection is certain, conf = 1 gives K = N - D + 1.
 * Binary search over K (P is monotonic in K): about log2(N) calls of
 * odds_detect.  *k is untouched on error.
 */
int odds_needed(uint64_t n, uint64_t d, double conf, uint64_t *k,
		struct perr *e);

/*
 * Parses a non-negative decimal count for the CLI: ASCII digits only (no
 * sign, space, exponent or suffix), at most UINT64_MAX.  Rejects "-3", "",
 * "1e6", "12x" and overflow with an error naming `what`, e.g.
 * `N must be a non-negative integer, not "-3"`.  Range limits specific to
 * the count (N <= ODDS_MAX_N, D <= N) are left to odds_detect.
 */
int odds_parse_count(const char *s, const char *what, uint64_t *v,
		     struct perr *e);

/*
 * Parses a probability in (0, 1] written as a plain decimal ("0.95", "1",
 * ".5"); no sign, exponent, hex, "nan", "inf" or "%".  Clear error
 * otherwise.  Uses strtod, so it assumes the C locale's decimal point
 * (parley never calls setlocale).
 */
int odds_parse_prob(const char *s, double *p, struct perr *e);

#endif
