/*
 * odds.c — detection odds of a treaty inspection (see odds.h).
 *
 * Method.  With Q = C(N-D, K) / C(N, K) the probability of missing every
 * falsified item, P = 1 - Q.  Computing Q as a product and subtracting it
 * from 1 loses everything when P is tiny (N = 10^6, D = 1, K = 1: Q is
 * 0.999999 and P keeps only ten significant digits).  Instead:
 *
 *   1. Symmetry.  C(N-D, K) / C(N, K) = C(N-K, D) / C(N, D), so
 *          Q = prod_{i<m} (1 - a / (N-i)),  m = min(K, D), a = max(K, D):
 *      the cost is min(K, D) factors, not K.  (Both forms are the same
 *      ratio of falling factorials with the common factors cancelled.)
 *   2. Logarithms.  ln Q = sum_{i<m} ln(1 - a/(N-i)), each term taken as
 *      log1pl(-a/(N-i)) while a/(N-i) <= 1/2 and as logl((N-i-a)/(N-i))
 *      above, so that neither form sees a cancellation: the relative
 *      condition number of either is below 1.45 on its half.  N-i and
 *      N-i-a are integers below 2^64, exact in long double.  (The logl
 *      half only matters when P is near 1; it keeps Q = 1 - P accurate
 *      there too, which P's own relative error would not need.)
 *   3. Compensated sum.  The terms all have the same sign, so Neumaier's
 *      compensated summation in long double (64-bit mantissa on x86-64)
 *      keeps the relative error of ln Q near 2^-64 for any m.  Plain
 *      summation would also do today (m stays below sqrt(40 N) while P
 *      is not ~1, so m * 2^-64 < 1e-14), but the margin is free.
 *   4. P = -expm1l(ln Q), which is exact in relative terms when ln Q is
 *      small (P tiny) and harmless when it is large (P near 1).
 *
 * The error before the final rounding to double is a few units of 2^-64,
 * so the result is the double nearest the exact P in all but rare
 * near-ties (then one ulp away): relative error about 1.1e-16, against
 * the 1e-12 required.
 *
 * Speed.  Every term is at most ln(1 - a/N) <= -a/N, and once ln Q is below
 * ODDS_LOG_CAP the double nearest P is 1 - 2^-53 whatever follows, so the
 * loop stops there: at most min(m, -ODDS_LOG_CAP * N / a) terms, which is
 * below sqrt(40 N) (6,400 for N = 10^6; 200,000 for N = 10^9).
 *
 * Known limit: on a platform where long double is plain double (MSVC,
 * some ARM ABIs) the same code loses about 11 bits; the 1e-12 bound still
 * holds with room for N up to 10^6, but the test suite would show it.
 */
#include "odds.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* exp(-40) = 4.2e-18 is below 2^-54: past this, 1 - Q rounds to 1. */
#define ODDS_LOG_CAP (-40.0L)

/* The largest double below 1, returned for a P that rounds to 1 but is
 * not certain (odds.h promises 1.0 only for certainty). */
#define ODDS_ALMOST_ONE (1.0 - DBL_EPSILON / 2)

/* Room for a quoted excerpt of user input inside one PERR_MAX line. */
#define ODDS_QUOTE_MAX 64

/*
 * Checks N and D, the part shared by odds_detect and odds_needed, so that
 * both reject bad input with the same words.
 */
static int odds_check_nd(uint64_t n, uint64_t d, struct perr *e)
{
	if (n == 0)
		return perr_set(e, "N (declared items) must be at least 1, "
				   "not 0");
	if (n > ODDS_MAX_N)
		return perr_set(e, "N (declared items) is %llu, above the "
				   "limit of %llu", (unsigned long long)n,
				ODDS_MAX_N);
	if (d > n)
		return perr_set(e, "D (falsified items) is %llu but N is only "
				   "%llu: there cannot be more falsified items "
				   "than declared ones",
				(unsigned long long)d, (unsigned long long)n);
	return 0;
}

/*
 * P for 1 <= m <= a, a + m <= n (the caller has handled certainty and the
 * zero cases), following steps 1-4 of the file comment.  m == 1 is done
 * as a single division of two exact doubles so that the commonest
 * question (one item, or one falsified item) gets the correctly rounded
 * a/N: N = 10^6, D = 1, K = 3 gives exactly the double 3e-6.
 */
static double odds_p(uint64_t n, uint64_t a, uint64_t m)
{
	long double sum = 0.0L, comp = 0.0L, pl;
	double p;
	uint64_t i;

	if (m == 1)
		return (double)a / (double)n;
	for (i = 0; i < m; i++) {
		long double left = (long double)(n - i), t, s;

		/* a <= n - m < n - i, so 0 < a/(n-i) < 1 and the log is finite. */
		if (2 * a <= n - i)
			t = log1pl(-(long double)a / left);
		else
			t = logl((long double)(n - i - a) / left);
		/* Neumaier: keep the low bits that sum + t drops. */
		s = sum + t;
		if (fabsl(sum) >= fabsl(t))
			comp += (sum - s) + t;
		else
			comp += (t - s) + sum;
		sum = s;
		if (sum + comp < ODDS_LOG_CAP)
			return ODDS_ALMOST_ONE;
	}
	pl = -expm1l(sum + comp);
	p = (double)pl;
	return p < 1.0 ? p : ODDS_ALMOST_ONE;
}

/*
 * The exact cases (nothing to find, nothing drawn, certainty) are settled
 * here so that odds_p only sees 0 < P < 1 and odds.h's "1.0 only for
 * certainty" holds by construction.
 */
int odds_detect(uint64_t n, uint64_t d, uint64_t k, double *p,
		struct perr *e)
{
	if (odds_check_nd(n, d, e) != 0)
		return -1;
	if (k > n)
		return perr_set(e, "K (items inspected) is %llu but N is only "
				   "%llu: an inspection cannot draw more items "
				   "than were declared",
				(unsigned long long)k, (unsigned long long)n);
	if (d == 0 || k == 0)
		*p = 0.0;
	else if (k > n - d)
		*p = 1.0; /* fewer honest items than draws: certain */
	else
		*p = odds_p(n, d > k ? d : k, d < k ? d : k);
	return 0;
}

/*
 * Binary search for the smallest K with P(K) >= conf.  P(0) = 0 < conf and
 * P(N - D + 1) = 1 >= conf bracket it; P is non-decreasing in K (the
 * computed values too: adjacent exact values differ by at least Q/N, far
 * more than the 2^-64-relative error), so the search is exact.
 */
int odds_needed(uint64_t n, uint64_t d, double conf, uint64_t *k,
		struct perr *e)
{
	uint64_t lo, hi;

	if (!(conf > 0.0 && conf <= 1.0)) /* also refuses NaN */
		return perr_set(e, "confidence must be in (0, 1], not %g",
				conf);
	if (odds_check_nd(n, d, e) != 0)
		return -1;
	if (d == 0)
		return perr_set(e, "no falsified items (D = 0): no number of "
				   "inspections can find one");
	lo = 1;
	hi = n - d + 1;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		double p;

		if (odds_detect(n, d, mid, &p, e) != 0)
			return -1; /* cannot happen: mid <= n - d + 1 <= n */
		if (p >= conf)
			hi = mid;
		else
			lo = mid + 1;
	}
	*k = lo;
	return 0;
}

/*
 * Copies at most ODDS_QUOTE_MAX characters of user input for an error
 * message, control and non-ASCII bytes shown as '?', so the message stays
 * one printable line however hostile the argument.
 */
static void odds_quote(char *out, size_t cap, const char *s)
{
	size_t i, o = 0;

	for (i = 0; s[i] != '\0' && o + 4 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == ODDS_QUOTE_MAX) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[o] = '\0';
}

/*
 * Digit by digit rather than strtoull, which accepts leading space, a sign
 * (wrapping "-3" to 2^64 - 3) and silently saturates: a count typed on the
 * command line must mean exactly what it says.
 */
int odds_parse_count(const char *s, const char *what, uint64_t *v,
		     struct perr *e)
{
	char q[ODDS_QUOTE_MAX + 8];
	uint64_t x = 0;
	size_t i;

	if (what == NULL)
		what = "count";
	if (s == NULL)
		return perr_set(e, "%s is missing", what);
	odds_quote(q, sizeof q, s);
	if (s[0] == '\0')
		return perr_set(e, "%s must be a non-negative integer, not "
				   "\"\"", what);
	for (i = 0; s[i] != '\0'; i++) {
		unsigned digit;

		if (s[i] < '0' || s[i] > '9')
			return perr_set(e, "%s must be a non-negative integer, "
					   "not \"%s\"", what, q);
		digit = (unsigned)(s[i] - '0');
		if (x > (UINT64_MAX - digit) / 10)
			return perr_set(e, "%s is too large: \"%s\" (at most "
					   "%llu)", what, q,
					(unsigned long long)UINT64_MAX);
		x = x * 10 + digit;
	}
	*v = x;
	return 0;
}

/*
 * Compares the decimal s (already known to be digits with at most one '.')
 * with one: -1, 0 or 1.  Needed because strtod rounds both
 * "0.99999999999999999999" and "1.00000000000000000001" to 1.0: the first
 * must not silently turn a request for near-certainty into one for
 * certainty, the second is simply out of range.
 */
static int odds_cmp_one(const char *s)
{
	while (*s == '0')
		s++;
	if (*s == '.' || *s == '\0')
		return -1; /* integer part 0 */
	if (*s != '1' || (s[1] != '.' && s[1] != '\0'))
		return 1; /* integer part 2..9 or several digits */
	for (s++; *s != '\0'; s++)
		if (*s >= '1' && *s <= '9')
			return 1;
	return 0;
}

/*
 * The syntax is checked first and strtod only converts, because strtod's
 * own grammar (space, sign, exponent, hex, nan, inf) is far wider than what
 * a confidence level should look like.
 */
int odds_parse_prob(const char *s, double *p, struct perr *e)
{
	char q[ODDS_QUOTE_MAX + 8], *end;
	size_t i, digits = 0, dots = 0;
	double x;

	if (s == NULL)
		return perr_set(e, "confidence is missing");
	odds_quote(q, sizeof q, s);
	/* Plain decimals only: strtod alone would take " 0.9", "9e-1",
	 * "0x1p-1", "nan" and "inf". */
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			digits++;
		else if (s[i] == '.')
			dots++;
		else
			break;
	}
	if (s[i] != '\0' || digits == 0 || dots > 1)
		return perr_set(e, "confidence must be a number in (0, 1] such "
				   "as 0.95, not \"%s\"", q);
	errno = 0;
	x = strtod(s, &end);
	if (*end == '\0' && errno == ERANGE && x < DBL_MIN)
		return perr_set(e, "confidence \"%s\" is too small to "
				   "represent", q);
	if (*end != '\0' || errno != 0 || !(x > 0.0 && x <= 1.0))
		return perr_set(e, "confidence must be a number in (0, 1] such "
				   "as 0.95, not \"%s\"", q);
	if (x == 1.0 && odds_cmp_one(s) > 0)
		return perr_set(e, "confidence must be a number in (0, 1] such "
				   "as 0.95, not \"%s\"", q);
	if (x == 1.0 && odds_cmp_one(s) < 0)
		return perr_set(e, "confidence \"%s\" cannot be told apart from "
				   "1 in double precision; write 1 to ask for "
				   "certainty", q);
	*p = x;
	return 0;
}
