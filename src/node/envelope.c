/*
 * envelope.c — strict parser and canonical encoder of entry envelopes (see
 * envelope.h for the format).
 *
 * The parser's rules are the protocol: a node must reject exactly what its
 * peer rejects, so every check here is deliberate and each one reports the
 * field it concerns.  jansson does the JSON itself (UTF-8, duplicate keys,
 * NUL, trailing data); this file bounds size and depth before jansson sees
 * the input, then walks the one object it expects.
 *
 * The encoder builds the canonical form and then runs the parser over its
 * own output: whatever a node writes into a log, the peer can read, and a
 * caller's mistake is reported with the same message the peer would give.
 */
#include "envelope.h"
#include "jsonfast.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"

static const char *const type_names[] = {
	[ENV_MESSAGE] = "message",
	[ENV_NOTIFICATION] = "notification",
	[ENV_RECEIPT] = "receipt",
	[ENV_ACK] = "ack",
	[ENV_TEST] = "test",
	[ENV_SEED_COMMIT] = "seed-commit",
	[ENV_SEED_REVEAL] = "seed-reveal",
};
#define NTYPES (sizeof type_names / sizeof type_names[0])

/* For "unexpected field "x" in a message envelope". */
static const char *const type_where[] = {
	[ENV_MESSAGE] = "a message envelope",
	[ENV_NOTIFICATION] = "a notification envelope",
	[ENV_RECEIPT] = "a receipt envelope",
	[ENV_ACK] = "an ack envelope",
	[ENV_TEST] = "a test envelope",
	[ENV_SEED_COMMIT] = "a seed-commit envelope",
	[ENV_SEED_REVEAL] = "a seed-reveal envelope",
};

static const char *const prec_names[] = {
	[ENV_FLASH] = "FLASH",
	[ENV_IMMEDIATE] = "IMMEDIATE",
	[ENV_PRIORITY] = "PRIORITY",
	[ENV_ROUTINE] = "ROUTINE",
};
#define NPRECS (sizeof prec_names / sizeof prec_names[0])

/* The members each type may carry besides the common ones, in canonical
 * order.  A member not listed for its type is an error. */
static const char *const common_keys[] = {
	"v", "type", "from", "to", "time", "precedence", "id", NULL,
};
static const char *const type_keys[][5] = {
	[ENV_MESSAGE] = { "subject", "text", "refs", NULL },
	[ENV_NOTIFICATION] = { "treaty", "kind", "fields", "refs", NULL },
	[ENV_RECEIPT] = { "of", "below", "also", NULL },
	[ENV_ACK] = { "refs", NULL },
	[ENV_TEST] = { "text", NULL },
	[ENV_SEED_COMMIT] = { "commit", "refs", NULL },
	[ENV_SEED_REVEAL] = { "seed", "refs", NULL },
};
static const char *const treaty_keys[] = { "name", "sha256", NULL };
static const char *const ref_keys[] = { "origin", "index", "leaf", NULL };

const char *env_type_name(enum env_type t)
{
	return (unsigned)t < NTYPES ? type_names[t] : NULL;
}

const char *env_prec_name(enum env_prec p)
{
	return (unsigned)p < NPRECS ? prec_names[p] : NULL;
}

int env_type_parse(const char *s, enum env_type *t)
{
	size_t i;

	for (i = 0; i < NTYPES; i++) {
		if (strcmp(s, type_names[i]) == 0) {
			*t = (enum env_type)i;
			return 0;
		}
	}
	return -1;
}

int env_prec_parse(const char *s, enum env_prec *p)
{
	size_t i;

	for (i = 0; i < NPRECS; i++) {
		if (strcmp(s, prec_names[i]) == 0) {
			*p = (enum env_prec)i;
			return 0;
		}
	}
	return -1;
}

int env_needs_receipt(enum env_type t)
{
	/* DESIGN: receipts are cumulative and never receipted; acks are
	 * covered by link acknowledgment and cosignatures like receipts. */
	return t != ENV_RECEIPT && t != ENV_ACK;
}

/* ---- time ------------------------------------------------------------ */

/*
 * Proleptic Gregorian calendar without timegm (which is neither C11 nor
 * free of the process's environment): H. Hinnant's days_from_civil and
 * civil_from_days, exact for every int64 year range used here.
 */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the four-digit years
 * RFC 3339 can write. */
#define TIME_MIN INT64_C(-62167219200)
#define TIME_MAX INT64_C(253402300799)

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(int64_t y, unsigned m)
{
	static const unsigned char days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31,
	};

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Returns 0, -1 if s is not of the form YYYY-MM-DDTHH:MM:SSZ, or -2 if it
 * is but names no real instant (2026-02-29, 24:00:00, a leap second). */
static int time_parse(const char *s, int64_t *t)
{
	static const char pattern[] = "dddd-dd-ddTdd:dd:ddZ";
	unsigned v[6], mo, d, h, mi, se;
	int64_t y;
	size_t i;

	if (strnlen(s, ENV_TIME_LEN + 1) != ENV_TIME_LEN)
		return -1;
	for (i = 0; i < ENV_TIME_LEN; i++) {
		if (pattern[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9')
				      : s[i] != pattern[i])
			return -1;
	}
	/* digits at 0-3, 5-6, 8-9, 11-12, 14-15, 17-18 */
	v[0] = (unsigned)((s[0] - '0') * 1000 + (s[1] - '0') * 100 +
			  (s[2] - '0') * 10 + (s[3] - '0'));
	for (i = 1; i < 6; i++) {
		size_t at = 2 + 3 * i;
		v[i] = (unsigned)((s[at] - '0') * 10 + (s[at + 1] - '0'));
	}
	y = v[0];
	mo = v[1], d = v[2], h = v[3], mi = v[4], se = v[5];
	if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 ||
	    mi > 59 || se > 59)
		return -2;
	*t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	return 0;
}

int env_time_parse(const char *s, int64_t *t)
{
	return time_parse(s, t) < 0 ? -1 : 0;
}

static void put_digits(char *p, unsigned v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

int env_time_format(int64_t t, char out[ENV_TIME_LEN + 1])
{
	int64_t days, secs, y;
	unsigned m, d;

	if (t < TIME_MIN || t > TIME_MAX)
		return -1;
	/* floor division, so that times before 1970 fall on the right day */
	days = t / 86400;
	secs = t % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	memcpy(out, "0000-00-00T00:00:00Z", ENV_TIME_LEN + 1);
	put_digits(out, (unsigned)y, 4);
	put_digits(out + 5, m, 2);
	put_digits(out + 8, d, 2);
	put_digits(out + 11, (unsigned)(secs / 3600), 2);
	put_digits(out + 14, (unsigned)(secs / 60 % 60), 2);
	put_digits(out + 17, (unsigned)(secs % 60), 2);
	return 0;
}

/* ---- error helpers ----------------------------------------------------- */

/*
 * Copies untrusted text into buf for an error message: printable ASCII as
 * it is, anything else as \xNN, cut with "..." so the message stays one
 * short line whatever a peer sends.  Inside double quotes (strict) '"' and
 * '\' are escaped too, so the quoted text is unambiguous.
 */
static const char *quote_text(char *buf, size_t cap, const char *s,
			      size_t len, int strict)
{
	size_t i, o = 0;

	assert(cap >= 8);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (o + 4 + 4 > cap) {
			memcpy(buf + o, "...", 4);
			return buf;
		}
		if (c >= 0x20 && c < 0x7f &&
		    !(strict && (c == '"' || c == '\\'))) {
			buf[o++] = (char)c;
		} else {
			snprintf(buf + o, 5, "\\x%02x", c);
			o += 4;
		}
	}
	buf[o] = '\0';
	return buf;
}

static const char *quote(char *buf, size_t cap, const char *s, size_t len)
{
	return quote_text(buf, cap, s, len, 1);
}

#define QUOTE_CAP 72

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

static int wrong_type(struct perr *e, const char *path, const char *want,
		      const json_t *v)
{
	return perr_set(e, "envelope: field \"%s\" must be %s, not %s", path,
			want, json_kind(v));
}

/* Translates jansson's error into one line that says what was wrong. */
static int json_failure(const json_error_t *j, struct perr *e)
{
	char q[JSON_ERROR_TEXT_LENGTH + 8];
	const char *near;

	switch (json_error_code(j)) {
	case json_error_invalid_utf8:
		return perr_set(e, "envelope: not valid UTF-8 (byte %d)",
				j->position);
	case json_error_null_character:
	case json_error_null_byte_in_key:
		return perr_set(e, "envelope: a string contains NUL (\\u0000) "
				"(byte %d)", j->position);
	case json_error_duplicate_key:
		/* jansson's text ends "near '<the key token>'" */
		near = strstr(j->text, " near '\"");
		if (near != NULL && strlen(near) >= 10) {
			near += 8;  /* past " near '\"", up to "\"'" */
			return perr_set(e, "envelope: duplicate key \"%s\" "
					"(byte %d)", quote(q, sizeof q, near,
							   strlen(near) - 2),
					j->position);
		}
		return perr_set(e, "envelope: duplicate key (byte %d)",
				j->position);
	case json_error_end_of_input_expected:
		return perr_set(e, "envelope: data after the end of the JSON "
				"object (byte %d)", j->position);
	case json_error_numeric_overflow:
		return perr_set(e, "envelope: a number is out of range "
				"(byte %d)", j->position);
	case json_error_stack_overflow:
		return perr_set(e, "envelope: nested deeper than %d levels",
				ENV_MAX_DEPTH);
	default:
		return perr_set(e, "envelope: not valid JSON: %s (byte %d)",
				quote_text(q, sizeof q, j->text, strlen(j->text),
					   0),
				j->position);
	}
}

/* ---- parsing ------------------------------------------------------------ */

/*
 * Whether the text nests arrays and objects deeper than ENV_MAX_DEPTH.
 * Exact for valid JSON (brackets inside strings do not count); invalid JSON
 * is rejected by jansson afterwards whatever this says.  Checked before
 * parsing so that a depth bomb costs one linear scan and no allocation.
 */
static int too_deep(const unsigned char *p, size_t len)
{
	long depth = 0;
	int in_string = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = p[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = 0;
			continue;
		}
		if (c == '"') {
			in_string = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > ENV_MAX_DEPTH)
				return 1;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return 0;
}

static int key_listed(const char *key, const char *const *keys)
{
	for (; *keys != NULL; keys++) {
		if (strcmp(key, *keys) == 0)
			return 1;
	}
	return 0;
}

/* Every member of obj must be in keys or extra (either may be NULL). */
static int only_keys(json_t *obj, const char *const *keys,
		     const char *const *extra, const char *where,
		     struct perr *e)
{
	void *it;
	const char *const *next = keys;

	for (it = json_object_iter(obj); it != NULL;
	     it = json_object_iter_next(obj, it)) {
		const char *key = json_object_iter_key(it);
		char q[QUOTE_CAP];
		/* A canonical envelope lists its members in the order of keys,
		 * so the next listed key is tried first: one comparison each. */
		if (next != NULL && *next != NULL && strcmp(key, *next) == 0) {
			next++;
			continue;
		}
		if ((keys != NULL && key_listed(key, keys)) ||
		    (extra != NULL && key_listed(key, extra)))
			continue;
		return perr_set(e, "envelope: unexpected field \"%s\" in %s",
				quote(q, sizeof q, key, strlen(key)), where);
	}
	return 0;
}

/* The member key of obj, which must be present.  where (may be NULL) says
 * which type requires it. */
static json_t *required(json_t *obj, const char *key, const char *path,
			const char *where, struct perr *e)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL) {
		if (where != NULL)
			perr_set(e, "envelope: missing field \"%s\" in %s", path,
				 where);
		else
			perr_set(e, "envelope: missing field \"%s\"", path);
	}
	return v;
}

/* Identifiers (names, origins, ids, treaty names, kinds): 1..max bytes of
 * printable ASCII without spaces, so that they print, log and compare as
 * what they look like. */
static int check_token(const char *s, size_t n, size_t max, const char *path,
		       struct perr *e)
{
	size_t i;

	if (n == 0)
		return perr_set(e, "envelope: field \"%s\" is empty", path);
	if (n > max)
		return perr_set(e, "envelope: field \"%s\" is %zu bytes, over "
				"the limit of %zu", path, n, max);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x21 || c > 0x7e)
			return perr_set(e, "envelope: field \"%s\" may hold only "
					"printable ASCII without spaces (byte %zu "
					"is 0x%02x)", path, i, c);
	}
	return 0;
}

/* out must hold max + 1 bytes. */
static int get_token(const json_t *v, const char *path, size_t max,
		     char *out, struct perr *e)
{
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return wrong_type(e, path, "a string", v);
	s = json_string_value(v);
	n = json_string_length(v);
	if (check_token(s, n, max, path, e) < 0)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* A free-text string (max 0: bounded only by the envelope's size) copied
 * into a malloc'd string. */
static int get_text(const json_t *v, const char *path, size_t max,
		    char **out, struct perr *e)
{
	size_t n;

	if (!json_is_string(v))
		return wrong_type(e, path, "a string", v);
	n = json_string_length(v);
	/* jansson refuses \u0000 without JSON_ALLOW_NUL, so n is strlen */
	assert(strlen(json_string_value(v)) == n);
	if (max > 0 && n > max)
		return perr_set(e, "envelope: field \"%s\" is %zu bytes, over "
				"the limit of %zu", path, n, max);
	*out = malloc(n + 1);
	if (*out == NULL)
		return perr_set(e, "envelope: out of memory");
	memcpy(*out, json_string_value(v), n + 1);
	return 0;
}

/* An index or count: a JSON integer in 0..2^53-1. */
static int get_index(const json_t *v, const char *path, uint64_t *out,
		     struct perr *e)
{
	json_int_t i;

	if (!json_is_integer(v))
		return wrong_type(e, path, "an integer", v);
	i = json_integer_value(v);
	if (i < 0 || (uint64_t)i > ENV_MAX_INDEX)
		return perr_set(e, "envelope: field \"%s\" is %" JSON_INTEGER_FORMAT
				", outside 0..2^53-1", path, i);
	*out = (uint64_t)i;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;  /* upper case too: one value, one spelling */
}

/* 32 bytes as 64 lowercase hex digits. */
static int get_hex32(const json_t *v, const char *path, uint8_t out[32],
		     struct perr *e)
{
	const char *s;
	size_t i;

	if (!json_is_string(v))
		return wrong_type(e, path, "a string", v);
	s = json_string_value(v);
	if (json_string_length(v) != 64)
		return perr_set(e, "envelope: field \"%s\" must be 64 lowercase "
				"hex digits, not %zu characters", path,
				json_string_length(v));
	for (i = 0; i < 32; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return perr_set(e, "envelope: field \"%s\" must be 64 "
					"lowercase hex digits", path);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static void hex32(char out[65], const uint8_t in[32])
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[64] = '\0';
}

/* A leaf hash: strict standard base64 of exactly 32 bytes. */
static int get_leaf(const json_t *v, const char *path, uint8_t out[32],
		    struct perr *e)
{
	uint8_t buf[33];

	if (!json_is_string(v))
		return wrong_type(e, path, "a string", v);
	if (json_string_length(v) != B64_ENCLEN(32) ||
	    b64_decode(buf, sizeof buf, json_string_value(v),
		       json_string_length(v)) != 32)
		return perr_set(e, "envelope: field \"%s\" must be standard "
				"base64 of a 32-byte leaf hash", path);
	memcpy(out, buf, 32);
	return 0;
}

static int get_ref(json_t *v, size_t i, struct env_ref *ref, struct perr *e)
{
	char at[32], path[48];
	json_t *m;

	snprintf(at, sizeof at, "refs[%zu]", i);
	if (!json_is_object(v))
		return wrong_type(e, at, "an object", v);
	snprintf(path, sizeof path, "field \"%s\"", at);
	if (only_keys(v, ref_keys, NULL, path, e) < 0)
		return -1;
	snprintf(path, sizeof path, "%s.origin", at);
	if ((m = required(v, "origin", path, NULL, e)) == NULL ||
	    get_token(m, path, ENV_NAME_MAX, ref->origin, e) < 0)
		return -1;
	snprintf(path, sizeof path, "%s.index", at);
	if ((m = required(v, "index", path, NULL, e)) == NULL ||
	    get_index(m, path, &ref->index, e) < 0)
		return -1;
	snprintf(path, sizeof path, "%s.leaf", at);
	if ((m = required(v, "leaf", path, NULL, e)) == NULL ||
	    get_leaf(m, path, ref->leaf, e) < 0)
		return -1;
	return 0;
}

/* "refs", when present: 1..ENV_MAX_REFS refs. */
static int get_refs(json_t *v, struct envelope *env, struct perr *e)
{
	size_t i, n;

	if (!json_is_array(v))
		return wrong_type(e, "refs", "an array", v);
	n = json_array_size(v);
	if (n == 0 || n > ENV_MAX_REFS)
		return perr_set(e, "envelope: field \"refs\" must hold 1..%d "
				"refs, not %zu", ENV_MAX_REFS, n);
	env->refs = calloc(n, sizeof *env->refs);
	if (env->refs == NULL)
		return perr_set(e, "envelope: out of memory");
	env->nrefs = n;
	for (i = 0; i < n; i++) {
		if (get_ref(json_array_get(v, i), i, &env->refs[i], e) < 0)
			return -1;
	}
	return 0;
}

/* Optional refs: absent is none. */
static int opt_refs(json_t *root, struct envelope *env, struct perr *e)
{
	json_t *v = json_object_get(root, "refs");

	return v == NULL ? 0 : get_refs(v, env, e);
}

/* Receipt "also": distinct indices >= below, increasing, so that a set of
 * held indices has one spelling. */
static int get_also(json_t *v, struct envelope *env, struct perr *e)
{
	size_t i, n;
	char path[32];

	if (!json_is_array(v))
		return wrong_type(e, "also", "an array", v);
	n = json_array_size(v);
	if (n > ENV_MAX_ALSO)
		return perr_set(e, "envelope: field \"also\" holds %zu indices, "
				"over the limit of %d", n, ENV_MAX_ALSO);
	if (n == 0)
		return 0;
	env->also = calloc(n, sizeof *env->also);
	if (env->also == NULL)
		return perr_set(e, "envelope: out of memory");
	env->nalso = n;
	for (i = 0; i < n; i++) {
		uint64_t x;
		snprintf(path, sizeof path, "also[%zu]", i);
		if (get_index(json_array_get(v, i), path, &x, e) < 0)
			return -1;
		if (i == 0 && x < env->below)
			return perr_set(e, "envelope: field \"%s\" is %" PRIu64
					", below \"below\" (%" PRIu64 ")", path,
					x, env->below);
		if (i > 0 && x <= env->also[i - 1])
			return perr_set(e, "envelope: field \"%s\" is %" PRIu64
					", not above the index before it (%" PRIu64
					"): \"also\" must be distinct and increasing",
					path, x, env->also[i - 1]);
		env->also[i] = x;
	}
	return 0;
}

static int parse_common(json_t *root, struct envelope *env, struct perr *e)
{
	char q[QUOTE_CAP];
	json_t *v;
	const char *s;
	int rc;

	if ((v = required(root, "from", "from", NULL, e)) == NULL ||
	    get_token(v, "from", ENV_NAME_MAX, env->from, e) < 0)
		return -1;
	if ((v = required(root, "to", "to", NULL, e)) == NULL ||
	    get_token(v, "to", ENV_NAME_MAX, env->to, e) < 0)
		return -1;

	if ((v = required(root, "time", "time", NULL, e)) == NULL)
		return -1;
	if (!json_is_string(v))
		return wrong_type(e, "time", "a string", v);
	s = json_string_value(v);
	rc = time_parse(s, &env->time);
	if (rc == -1)
		return perr_set(e, "envelope: field \"time\" is not RFC 3339 UTC "
				"(YYYY-MM-DDTHH:MM:SSZ)");
	if (rc < 0)
		return perr_set(e, "envelope: field \"time\" is not a real date "
				"and time: \"%s\"", quote(q, sizeof q, s, strlen(s)));

	if ((v = required(root, "precedence", "precedence", NULL, e)) == NULL)
		return -1;
	if (!json_is_string(v))
		return wrong_type(e, "precedence", "a string", v);
	s = json_string_value(v);
	if (env_prec_parse(s, &env->prec) < 0)
		return perr_set(e, "envelope: field \"precedence\" must be FLASH, "
				"IMMEDIATE, PRIORITY or ROUTINE, not \"%s\"",
				quote(q, sizeof q, s, strlen(s)));

	if ((v = required(root, "id", "id", NULL, e)) == NULL ||
	    get_token(v, "id", ENV_ID_MAX, env->id, e) < 0)
		return -1;
	return 0;
}

static int parse_notification(json_t *root, struct envelope *env,
			      const char *where, struct perr *e)
{
	json_t *v, *m;

	if ((v = required(root, "treaty", "treaty", where, e)) == NULL)
		return -1;
	if (!json_is_object(v))
		return wrong_type(e, "treaty", "an object", v);
	if (only_keys(v, treaty_keys, NULL, "field \"treaty\"", e) < 0)
		return -1;
	if ((m = required(v, "name", "treaty.name", NULL, e)) == NULL ||
	    get_token(m, "treaty.name", ENV_TREATY_NAME_MAX, env->treaty_name,
		      e) < 0)
		return -1;
	if ((m = required(v, "sha256", "treaty.sha256", NULL, e)) == NULL ||
	    get_hex32(m, "treaty.sha256", env->treaty_sha256, e) < 0)
		return -1;

	if ((v = required(root, "kind", "kind", where, e)) == NULL ||
	    get_token(v, "kind", ENV_KIND_MAX, env->kind, e) < 0)
		return -1;

	if ((v = required(root, "fields", "fields", where, e)) == NULL)
		return -1;
	if (!json_is_object(v))
		return wrong_type(e, "fields", "an object", v);
	env->fields = json_incref(v);
	return opt_refs(root, env, e);
}

static int parse_body(json_t *root, struct envelope *env, struct perr *e)
{
	const char *where = type_where[env->type];
	json_t *v;

	switch (env->type) {
	case ENV_MESSAGE:
		if ((v = required(root, "subject", "subject", where, e)) == NULL ||
		    get_text(v, "subject", ENV_SUBJECT_MAX, &env->subject, e) < 0)
			return -1;
		if ((v = required(root, "text", "text", where, e)) == NULL ||
		    get_text(v, "text", 0, &env->text, e) < 0)
			return -1;
		return opt_refs(root, env, e);
	case ENV_TEST:
		v = json_object_get(root, "text");
		return v == NULL ? 0 : get_text(v, "text", 0, &env->text, e);
	case ENV_NOTIFICATION:
		return parse_notification(root, env, where, e);
	case ENV_RECEIPT:
		if ((v = required(root, "of", "of", where, e)) == NULL ||
		    get_token(v, "of", ENV_NAME_MAX, env->of, e) < 0)
			return -1;
		if ((v = required(root, "below", "below", where, e)) == NULL ||
		    get_index(v, "below", &env->below, e) < 0)
			return -1;
		if ((v = required(root, "also", "also", where, e)) == NULL)
			return -1;
		return get_also(v, env, e);
	case ENV_ACK:
		if ((v = required(root, "refs", "refs", where, e)) == NULL)
			return -1;
		return get_refs(v, env, e);
	case ENV_SEED_COMMIT:
		if ((v = required(root, "commit", "commit", where, e)) == NULL ||
		    get_hex32(v, "commit", env->seed_hash, e) < 0)
			return -1;
		return opt_refs(root, env, e);
	case ENV_SEED_REVEAL:
		if ((v = required(root, "seed", "seed", where, e)) == NULL ||
		    get_hex32(v, "seed", env->seed, e) < 0)
			return -1;
		if ((v = required(root, "refs", "refs", where, e)) == NULL)
			return -1;
		return get_refs(v, env, e);
	}
	return perr_set(e, "envelope: internal error: type %d", (int)env->type);
}

static int parse_root(json_t *root, struct envelope *env, struct perr *e)
{
	char q[QUOTE_CAP];
	json_t *v;
	const char *s;

	if (!json_is_object(root))
		return perr_set(e, "envelope: must be a JSON object, not %s",
				json_kind(root));

	/* The version first: a later version may have other fields, and its
	 * sender deserves to hear that the version is the problem. */
	if ((v = required(root, "v", "v", NULL, e)) == NULL)
		return -1;
	if (!json_is_integer(v))
		return wrong_type(e, "v", "an integer", v);
	if (json_integer_value(v) != ENV_VERSION)
		return perr_set(e, "envelope: version %" JSON_INTEGER_FORMAT
				" is not supported (this node reads version %d)",
				json_integer_value(v), ENV_VERSION);

	if ((v = required(root, "type", "type", NULL, e)) == NULL)
		return -1;
	if (!json_is_string(v))
		return wrong_type(e, "type", "a string", v);
	s = json_string_value(v);
	if (env_type_parse(s, &env->type) < 0)
		return perr_set(e, "envelope: unknown type \"%s\" (expected "
				"message, notification, receipt, ack, test, "
				"seed-commit or seed-reveal)",
				quote(q, sizeof q, s, strlen(s)));

	if (only_keys(root, common_keys, type_keys[env->type],
		      type_where[env->type], e) < 0)
		return -1;
	if (parse_common(root, env, e) < 0)
		return -1;
	return parse_body(root, env, e);
}

/* A message exactly as the encoder writes it, with no refs and text in
 * jsonfast's subset (printable ASCII and the short escapes): read without
 * a tree.  1 with env filled, or 0 when the input is anything else or any
 * check fails: the general path then reads it and words the error.  Every
 * check is the general path's (parse_common, parse_body); a test compares
 * the two over mutated envelopes. */
int env_parse_message_fast(struct envelope *env, const void *in, size_t len)
{
	const char *data = in;
	static const char head[] = "{\"v\":1,\"type\":\"message\",";
	static const char *const keys[7] = {
		"from", "to", "time", "precedence", "id", "subject", "text",
	};
	const size_t hl = sizeof head - 1;
	const char *v[7];
	size_t n[7], k;
	char *buf;

	memset(env, 0, sizeof *env);
	if (len <= hl || len > ENV_MAX_SIZE || memcmp(data, head, hl) != 0)
		return 0;
	/* The members after the head, as an object of their own. */
	if ((buf = malloc(2 * (len - hl) + 2)) == NULL)
		return 0;
	buf[0] = '{';
	memcpy(buf + 1, data + hl, len - hl);
	if (jfast_strings(buf, len - hl + 1, keys, 7, buf + len - hl + 1, len - hl + 1,
			  v) != 0)
		goto no;
	for (k = 0; k < 7; k++) {
		if (v[k] == NULL)
			goto no;
		n[k] = strlen(v[k]);
	}
	if (check_token(v[0], n[0], ENV_NAME_MAX, "from", NULL) < 0 ||
	    check_token(v[1], n[1], ENV_NAME_MAX, "to", NULL) < 0 ||
	    time_parse(v[2], &env->time) < 0 ||
	    env_prec_parse(v[3], &env->prec) < 0 ||
	    check_token(v[4], n[4], ENV_ID_MAX, "id", NULL) < 0 ||
	    n[5] > ENV_SUBJECT_MAX)
		goto no;
	memcpy(env->from, v[0], n[0] + 1);
	memcpy(env->to, v[1], n[1] + 1);
	memcpy(env->id, v[4], n[4] + 1);
	env->subject = malloc(n[5] + 1);
	env->text = malloc(n[6] + 1);
	if (env->subject == NULL || env->text == NULL)
		goto no;
	memcpy(env->subject, v[5], n[5] + 1);
	memcpy(env->text, v[6], n[6] + 1);
	env->type = ENV_MESSAGE;
	free(buf);
	return 1;
no:
	free(buf);
	env_free(env);
	return 0;
}

int env_parse(struct envelope *env, const void *data, size_t len,
	      struct perr *e)
{
	if (env_parse_message_fast(env, data, len))
		return 0;
	return env_parse_general(env, data, len, e);
}

int env_parse_general(struct envelope *env, const void *data, size_t len,
		      struct perr *e)
{
	json_error_t jerr;
	json_t *root;
	int rc;

	memset(env, 0, sizeof *env);
	if (len == 0)
		return perr_set(e, "envelope: empty, expected a JSON object");
	if (len > ENV_MAX_SIZE)
		return perr_set(e, "envelope: %zu bytes, over the limit of %d",
				len, ENV_MAX_SIZE);
	if (too_deep(data, len))
		return perr_set(e, "envelope: nested deeper than %d levels",
				ENV_MAX_DEPTH);
	/* Plain JSON (nearly every entry) is read by the fast path, which
	 * reads exactly as jansson does (jsonfast.h); anything else by
	 * jansson.  Not JSON_DISABLE_EOF_CHECK: nothing may follow the
	 * object.  Not JSON_ALLOW_NUL: no string may hold NUL.
	 * JSON_DECODE_ANY only so that a scalar gets our message rather than
	 * jansson's. */
	root = jfast_parse(data, len, ENV_MAX_DEPTH);
	if (root == NULL)
		root = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
				  &jerr);
	if (root == NULL)
		return json_failure(&jerr, e);
	rc = parse_root(root, env, e);
	json_decref(root);
	if (rc < 0)
		env_free(env);
	return rc;
}

void env_free(struct envelope *env)
{
	if (env == NULL)
		return;
	free(env->subject);
	free(env->text);
	json_decref(env->fields);
	free(env->also);
	free(env->refs);
	memset(env, 0, sizeof *env);
}

/* ---- encoding ---------------------------------------------------------- */

/* Adds a new reference v (NULL only when jansson is out of memory). */
static int add(json_t *obj, const char *key, json_t *v, struct perr *e)
{
	if (json_object_set_new(obj, key, v) < 0)
		return perr_set(e, "envelope: out of memory encoding \"%s\"", key);
	return 0;
}

/* Adds a string member; jansson refuses strings that are not UTF-8. */
static int add_str(json_t *obj, const char *key, const char *path,
		   const char *s, struct perr *e)
{
	json_t *v = json_string(s);

	if (v == NULL)
		return perr_set(e, "envelope: field \"%s\" is not valid UTF-8",
				path);
	return add(obj, key, v, e);
}

/* A fixed-size member must be terminated inside its array before it can be
 * read as a string at all. */
static int add_fixed(json_t *obj, const char *key, const char *path,
		     const char *s, size_t cap, struct perr *e)
{
	if (memchr(s, '\0', cap) == NULL)
		return perr_set(e, "envelope: field \"%s\" is not NUL-terminated "
				"within %zu bytes", path, cap);
	return add_str(obj, key, path, s, e);
}

static int add_hex32(json_t *obj, const char *key, const uint8_t in[32],
		     struct perr *e)
{
	char hex[65];

	hex32(hex, in);
	return add_str(obj, key, key, hex, e);
}

/* An index above 2^53-1 would not survive a JSON reader that uses
 * doubles; refused here, before the cast to json_int_t could wrap it. */
static int add_index(json_t *obj, const char *key, const char *path,
		     uint64_t x, struct perr *e)
{
	if (x > ENV_MAX_INDEX)
		return perr_set(e, "envelope: field \"%s\" is %" PRIu64
				", outside 0..2^53-1", path, x);
	return add(obj, key, json_integer((json_int_t)x), e);
}

static int add_refs(json_t *root, const struct envelope *env, struct perr *e)
{
	json_t *arr;
	size_t i;

	if (env->nrefs == 0)
		return 0;   /* absent; required refs are then missing */
	if (env->nrefs > ENV_MAX_REFS)
		return perr_set(e, "envelope: field \"refs\" must hold 1..%d "
				"refs, not %zu", ENV_MAX_REFS, env->nrefs);
	if (env->refs == NULL)
		return perr_set(e, "envelope: field \"refs\" has %zu refs but "
				"no array", env->nrefs);
	arr = json_array();
	if (add(root, "refs", arr, e) < 0)
		return -1;
	for (i = 0; i < env->nrefs; i++) {
		const struct env_ref *r = &env->refs[i];
		char path[48], leaf[B64_ENCLEN(32) + 1];
		json_t *o = json_object();

		if (o == NULL || json_array_append_new(arr, o) < 0)
			return perr_set(e, "envelope: out of memory");
		snprintf(path, sizeof path, "refs[%zu].origin", i);
		if (add_fixed(o, "origin", path, r->origin, sizeof r->origin,
			      e) < 0)
			return -1;
		snprintf(path, sizeof path, "refs[%zu].index", i);
		if (add_index(o, "index", path, r->index, e) < 0)
			return -1;
		b64_encode(leaf, r->leaf, 32);
		if (add_str(o, "leaf", "leaf", leaf, e) < 0)
			return -1;
	}
	return 0;
}

static int add_also(json_t *root, const struct envelope *env, struct perr *e)
{
	json_t *arr;
	size_t i;

	if (env->nalso > ENV_MAX_ALSO)
		return perr_set(e, "envelope: field \"also\" holds %zu indices, "
				"over the limit of %d", env->nalso, ENV_MAX_ALSO);
	if (env->nalso > 0 && env->also == NULL)
		return perr_set(e, "envelope: field \"also\" has %zu indices "
				"but no array", env->nalso);
	arr = json_array();
	if (add(root, "also", arr, e) < 0)
		return -1;
	for (i = 0; i < env->nalso; i++) {
		char path[32];
		if (env->also[i] > ENV_MAX_INDEX) {
			snprintf(path, sizeof path, "also[%zu]", i);
			return perr_set(e, "envelope: field \"%s\" is %" PRIu64
					", outside 0..2^53-1", path, env->also[i]);
		}
		if (json_array_append_new(arr,
					  json_integer((json_int_t)env->also[i])) < 0)
			return perr_set(e, "envelope: out of memory");
	}
	return 0;
}

static int missing(const struct envelope *env, const char *key,
		   struct perr *e)
{
	return perr_set(e, "envelope: missing field \"%s\" in %s", key,
			type_where[env->type]);
}

/* Builds the canonical object: members in the order of envelope.h.  Only
 * the members of env's type are read. */
static int build(json_t *root, const struct envelope *env, struct perr *e)
{
	char when[ENV_TIME_LEN + 1];
	json_t *t;

	if (env_type_name(env->type) == NULL)
		return perr_set(e, "envelope: type %d is not a known type",
				(int)env->type);
	if (env_prec_name(env->prec) == NULL)
		return perr_set(e, "envelope: precedence %d is not a known "
				"precedence", (int)env->prec);
	if (env_time_format(env->time, when) < 0)
		return perr_set(e, "envelope: field \"time\" (%" PRId64 ") is "
				"outside the years 0000..9999", env->time);
	if (add(root, "v", json_integer(ENV_VERSION), e) < 0 ||
	    add_str(root, "type", "type", env_type_name(env->type), e) < 0 ||
	    add_fixed(root, "from", "from", env->from, sizeof env->from, e) < 0 ||
	    add_fixed(root, "to", "to", env->to, sizeof env->to, e) < 0 ||
	    add_str(root, "time", "time", when, e) < 0 ||
	    add_str(root, "precedence", "precedence", env_prec_name(env->prec),
		    e) < 0 ||
	    add_fixed(root, "id", "id", env->id, sizeof env->id, e) < 0)
		return -1;

	switch (env->type) {
	case ENV_MESSAGE:
		if (env->subject == NULL)
			return missing(env, "subject", e);
		if (env->text == NULL)
			return missing(env, "text", e);
		if (add_str(root, "subject", "subject", env->subject, e) < 0 ||
		    add_str(root, "text", "text", env->text, e) < 0)
			return -1;
		return add_refs(root, env, e);
	case ENV_TEST:
		if (env->text == NULL)
			return 0;
		return add_str(root, "text", "text", env->text, e);
	case ENV_NOTIFICATION:
		if (env->fields == NULL)
			return missing(env, "fields", e);
		if (!json_is_object(env->fields))
			return wrong_type(e, "fields", "an object", env->fields);
		t = json_object();
		if (add(root, "treaty", t, e) < 0 ||
		    add_fixed(t, "name", "treaty.name", env->treaty_name,
			      sizeof env->treaty_name, e) < 0 ||
		    add_hex32(t, "sha256", env->treaty_sha256, e) < 0 ||
		    add_fixed(root, "kind", "kind", env->kind, sizeof env->kind,
			      e) < 0 ||
		    add(root, "fields", json_incref(env->fields), e) < 0)
			return -1;
		return add_refs(root, env, e);
	case ENV_RECEIPT:
		if (add_fixed(root, "of", "of", env->of, sizeof env->of, e) < 0 ||
		    add_index(root, "below", "below", env->below, e) < 0)
			return -1;
		return add_also(root, env, e);
	case ENV_ACK:
		return add_refs(root, env, e);
	case ENV_SEED_COMMIT:
		if (add_hex32(root, "commit", env->seed_hash, e) < 0)
			return -1;
		return add_refs(root, env, e);
	case ENV_SEED_REVEAL:
		if (add_hex32(root, "seed", env->seed, e) < 0)
			return -1;
		return add_refs(root, env, e);
	}
	return -1;  /* not reached: the type was checked above */
}

/* ---- the fast path for messages ----------------------------------------- */

/* Strict UTF-8 (RFC 3629: no overlong forms, no surrogates, at most
 * U+10FFFF), as jansson accepts it; NUL is not in a C string. */
static int utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k;
		uint32_t cp;
		if (c >= 0xc2 && c <= 0xdf)
			k = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3, cp = c & 0x07;
		else
			return 0;
		if (n - i <= k)
			return 0; /* truncated sequence */
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

/* Appends s as a JSON string exactly as jansson's compact encoder writes
 * it: '"' and '\\' escaped, \b \f \n \r \t, other control characters
 * as \u00XX (upper-case hex), everything else (UTF-8, '/', DEL) as is.
 * Returns the new length, or 0 when cap would be exceeded. */
static size_t json_put_str(char *out, size_t at, size_t cap, const char *s)
{
	static const char hx[] = "0123456789ABCDEF";

	if (at + 1 > cap)
		return 0;
	out[at++] = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		const char *esc = NULL;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		}
		if (esc) {
			if (at + 2 > cap)
				return 0;
			out[at++] = esc[0];
			out[at++] = esc[1];
		} else if (c < 0x20) {
			if (at + 6 > cap)
				return 0;
			memcpy(out + at, "\\u00", 4);
			out[at + 4] = hx[c >> 4];
			out[at + 5] = hx[c & 15];
			at += 6;
		} else {
			if (at + 1 > cap)
				return 0;
			out[at++] = (char)c;
		}
	}
	if (at + 1 > cap)
		return 0;
	out[at++] = '"';
	return at;
}

/* A message without refs, encoded directly (the operator's bulk traffic
 * goes this way).  Returns 1 with *out set, or 0 when anything is not
 * plainly valid: the general path then encodes it or names the problem.
 * The bytes are those of the general path (a unit test compares them). */
static int encode_message_fast(const struct envelope *env, char **out, size_t *len)
{
	char when[ENV_TIME_LEN + 1];
	size_t sl, tl, cap, at;
	char *b;
	int w;

	if (env->type != ENV_MESSAGE || env->nrefs != 0 || env->subject == NULL ||
	    env->text == NULL || env_prec_name(env->prec) == NULL ||
	    env_time_format(env->time, when) < 0 ||
	    check_token(env->from, strnlen(env->from, sizeof env->from), ENV_NAME_MAX, "from", NULL) < 0 ||
	    check_token(env->to, strnlen(env->to, sizeof env->to), ENV_NAME_MAX, "to", NULL) < 0 ||
	    check_token(env->id, strnlen(env->id, sizeof env->id), ENV_ID_MAX, "id", NULL) < 0)
		return 0;
	sl = strlen(env->subject);
	tl = strlen(env->text);
	if (sl > ENV_SUBJECT_MAX || tl > ENV_MAX_SIZE ||
	    !utf8_valid((const unsigned char *)env->subject, sl) ||
	    !utf8_valid((const unsigned char *)env->text, tl))
		return 0;
	/* Room for the worst case, every byte escaped as \u00XX, up to the
	 * envelope limit.  A bulk request holds thousands of these until its
	 * commit: each gets what it may need, not the limit (64 KiB each had
	 * the node touching and returning hundreds of megabytes a second). */
	cap = 128 + 6 * (strlen(env->from) + strlen(env->to) + strlen(when) +
			 strlen(env->id) + strlen(env_prec_name(env->prec)) + sl + tl);
	if (cap > ENV_MAX_SIZE + 1)
		cap = ENV_MAX_SIZE + 1;
	b = malloc(cap + 1);
	if (b == NULL)
		return 0;
	/* Tokens are printable ASCII, which may include '"' and '\\': they go
	 * through the same escaper as the rest. */
	w = snprintf(b, cap, "{\"v\":1,\"type\":\"message\",\"from\":");
	at = (size_t)w;
	at = json_put_str(b, at, cap, env->from);
	if (at && at + 6 < cap) { memcpy(b + at, ",\"to\":", 6); at += 6; } else at = 0;
	if (at) at = json_put_str(b, at, cap, env->to);
	if (at && at + 8 < cap) { memcpy(b + at, ",\"time\":", 8); at += 8; } else at = 0;
	if (at) at = json_put_str(b, at, cap, when);
	if (at && at + 14 < cap) { memcpy(b + at, ",\"precedence\":", 14); at += 14; } else at = 0;
	if (at) at = json_put_str(b, at, cap, env_prec_name(env->prec));
	if (at && at + 6 < cap) { memcpy(b + at, ",\"id\":", 6); at += 6; } else at = 0;
	if (at) at = json_put_str(b, at, cap, env->id);
	if (at && at + 11 < cap) { memcpy(b + at, ",\"subject\":", 11); at += 11; } else at = 0;
	if (at) at = json_put_str(b, at, cap, env->subject);
	if (at && at + 8 < cap) { memcpy(b + at, ",\"text\":", 8); at += 8; } else at = 0;
	if (at) at = json_put_str(b, at, cap, env->text);
	if (at && at + 1 < cap) b[at++] = '}'; else at = 0;
	if (at == 0 || at > ENV_MAX_SIZE) {
		free(b);
		return 0;
	}
	b[at] = '\0';
	if (cap - at > 64) {
		char *fit = realloc(b, at + 1);
		if (fit != NULL)
			b = fit;
	}
	*out = b;
	*len = at;
	return 1;
}

static int env_encode_general(const struct envelope *env, char **out,
			      size_t *len, struct perr *e);

int env_encode(const struct envelope *env, char **out, size_t *len,
	       struct perr *e)
{
	if (encode_message_fast(env, out, len))
		return 0;
	return env_encode_general(env, out, len, e);
}

static int env_encode_general(const struct envelope *env, char **out,
			      size_t *len, struct perr *e)
{
	struct envelope check;
	json_t *root;
	char *buf;
	size_t n;

	*out = NULL;
	*len = 0;
	root = json_object();
	if (root == NULL)
		return perr_set(e, "envelope: out of memory");
	if (build(root, env, e) < 0) {
		json_decref(root);
		return -1;
	}
	/* What this node writes, its peer must be able to read: the peer's
	 * checks (names, ids, hex, order of "also"...) run over the tree we
	 * built, once.  A notification's "fields" come from outside, so its
	 * text is parsed back whole (that also refuses a NUL in a string). */
	if (env->type != ENV_NOTIFICATION) {
		memset(&check, 0, sizeof check);
		if (parse_root(root, &check, e) < 0) {
			env_free(&check);
			json_decref(root);
			return -1;
		}
		env_free(&check);
	}
	/* Compact separators; jansson keeps insertion order (since 2.8), which
	 * is the canonical order built above. */
	buf = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (buf == NULL)
		return perr_set(e, "envelope: cannot encode as JSON");
	n = strlen(buf);
	if (n > ENV_MAX_SIZE) {
		free(buf);
		return perr_set(e, "envelope: encoding is %zu bytes, over the "
				"limit of %d", n, ENV_MAX_SIZE);
	}
	if (env->type == ENV_NOTIFICATION) {
		if (env_parse(&check, buf, n, e) < 0) {
			free(buf);
			return -1;
		}
		env_free(&check);
	}
	*out = buf;
	*len = n;
	return 0;
}
