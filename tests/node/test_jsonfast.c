/*
 * test_jsonfast.c — the fast JSON path (src/node/jsonfast.h) reads what
 * it accepts exactly as jansson does, and leaves everything else to it.
 *
 * Differential: plain documents and a few hundred thousand mutations of
 * them (bytes flipped, inserted, deleted, segments repeated, with the
 * characters that matter to a JSON reader); whenever the fast path
 * returns a tree, jansson must accept the same bytes (duplicate keys
 * rejected, as the envelope reads them) and produce the same tree, key
 * order and number types included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "jsonfast.h"

static const char *const seeds[] = {
	"{\"v\":1,\"type\":\"notification\",\"from\":\"nrrc.us.example\",\"to\":"
	"\"nrrc.ru.example\",\"time\":\"2026-03-01T12:00:00Z\",\"precedence\":"
	"\"ROUTINE\",\"id\":\"n-17\",\"treaty\":{\"name\":\"new-start\",\"sha256\":"
	"\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"},"
	"\"kind\":\"rv-change\",\"fields\":{\"item_id\":\"US-SLBM-0001\",\"warheads\":4,"
	"\"event_date\":\"2020-09-01\"}}",
	"{\"v\":1,\"type\":\"receipt\",\"from\":\"b\",\"to\":\"a\",\"time\":"
	"\"2026-03-01T12:00:00Z\",\"precedence\":\"ROUTINE\",\"id\":\"r-1\",\"of\":"
	"\"a/to/b\",\"below\":17,\"also\":[19,23,-0,0]}",
	" { \"a\" : [ true , false , null , [ ] , { } , -12 , 0 ] ,\n\t\"b\\\"\\\\\\/\\b\\f\\n\\r\\t\" : \"x\" } \r\n",
	"[1,[2,[3,[4,[5,[6,[7,[8]]]]]]]]",
	"{\"text\":\"line one\\nline two / \\\"quoted\\\" \\\\ done\",\"n\":123456789012345}",
	"\"just a string\"",
	"42",
	"{\"\":\"\",\"k\":{\"\":[]}}",
};

static uint64_t rng = 88172645463325252ULL;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const char alphabet[] = "{}[]\":,\\ -+0123456789.eEtrufalsn/ubfnrt\x00\x01\x7f\x80\xc3\xa9\xff\n\t";

/* The tree as bytes, order preserved: equal trees give equal text, and an
 * integer never prints like a real. */
/* seed with 1 to 3 mutations (a byte flipped, inserted or deleted, a
 * segment repeated, with the characters that matter to a JSON reader) into
 * buf (cap bytes, cap > strlen(seed)); returns the length. */
static size_t mutate(const char *seed, char *buf, size_t cap)
{
	size_t len = strlen(seed), muts = 1 + next_rand() % 3;

	memcpy(buf, seed, len);
	for (size_t m = 0; m < muts; m++) {
		size_t at = len ? next_rand() % len : 0;
		char ch = alphabet[next_rand() % (sizeof alphabet - 1)];
		switch (next_rand() % 4) {
		case 0:        /* flip */
			if (len)
				buf[at] = ch;
			break;
		case 1:        /* insert */
			if (len + 1 < cap) {
				memmove(buf + at + 1, buf + at, len - at);
				buf[at] = ch;
				len++;
			}
			break;
		case 2:        /* delete */
			if (len) {
				memmove(buf + at, buf + at + 1, len - at - 1);
				len--;
			}
			break;
		default: {     /* repeat a segment */
			size_t n = 1 + next_rand() % 12;
			if (at + n <= len && len + n < cap) {
				memmove(buf + at + n, buf + at, len - at);
				len += n;
			}
		}
		}
	}
	return len;
}

static char *dump(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* 1 if the fast path accepted s; fails the test if jansson disagrees. */
static int check_one(const char *s, size_t len)
{
	json_t *f = jfast_parse(s, len, 16), *j;
	json_error_t err;
	char *a, *b;

	if (f == NULL)
		return 0;
	j = json_loadb(s, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	if (j == NULL)
		fail_msg("fast path accepted what jansson refuses (%s): %.*s", err.text,
			 (int)len, s);
	a = dump(f);
	b = dump(j);
	if (a == NULL || b == NULL || strcmp(a, b) != 0)
		fail_msg("trees differ: fast %s, jansson %s", a ? a : "?", b ? b : "?");
	free(a);
	free(b);
	json_decref(f);
	json_decref(j);
	return 1;
}

/* jfast_strings over the message keys: 1 if it accepted s; fails the test
 * unless jansson reads s as an object of exactly those string members. */
static const char *const msg_keys[4] = { "precedence", "subject", "text", "id" };

static int check_strings(const char *s, size_t len)
{
	char out[2048];
	const char *v[4];
	json_t *j, *val;
	json_error_t err;
	const char *key;
	size_t k, n = 0;

	if (jfast_strings(s, len, msg_keys, 4, out, sizeof out, v) != 0)
		return 0;
	j = json_loadb(s, len, JSON_REJECT_DUPLICATES, &err);
	if (j == NULL || !json_is_object(j))
		fail_msg("jfast_strings accepted what jansson refuses (%s): %.*s",
			 j ? "not an object" : err.text, (int)len, s);
	json_object_foreach(j, key, val) {
		for (k = 0; k < 4 && strcmp(key, msg_keys[k]) != 0; k++)
			;
		if (k == 4 || v[k] == NULL || !json_is_string(val) ||
		    json_string_length(val) != strlen(v[k]) ||
		    memcmp(json_string_value(val), v[k], strlen(v[k])) != 0)
			fail_msg("jfast_strings and jansson differ on \"%s\": %.*s", key, (int)len, s);
		n++;
	}
	for (k = 0; k < 4; k++)
		n -= v[k] != NULL;
	if (n != 0)
		fail_msg("jfast_strings found members jansson did not: %.*s", (int)len, s);
	json_decref(j);
	return 1;
}

/* ROUNDS mutations of the seeds, each given to check (1: the fast path
 * took it, and it agreed with jansson); returns how many it took.  Not
 * vacuous only if many mutations are still in the subset (a digit for a
 * digit, a letter inside a string): the callers assert a share. */
#define ROUNDS 200000
static size_t mutation_rounds(const char *const *sd, size_t nsd,
			      int (*check)(const char *, size_t))
{
	char buf[1024];
	size_t accepted = 0;

	for (int round = 0; round < ROUNDS; round++) {
		size_t len = mutate(sd[next_rand() % nsd], buf, sizeof buf);
		accepted += (size_t)check(buf, len);
	}
	return accepted;
}

static const char *const msg_seeds[] = {
	"{\"text\":\"bulk 17\"}",
	"{\"precedence\":\"FLASH\",\"subject\":\"s\",\"text\":\"a\\n\\\"q\\\" \\/ \\\\\",\"id\":\"k-1\"}",
	" { \"id\" : \"x\" , \"text\" : \"\" }\n",
	"{}",
};

#define NOT_SHAPE(lit) assert_int_equal(check_strings(lit, strlen(lit)), 0)

static void test_message_strings_read_as_jansson_reads_them(void **state)
{
	size_t accepted;

	(void)state;
	for (size_t i = 0; i < sizeof msg_seeds / sizeof msg_seeds[0]; i++)
		assert_int_equal(check_strings(msg_seeds[i], strlen(msg_seeds[i])), 1);
	/* not the shape: another key, a key twice, a value not a string,
	 * outside the subset */
	NOT_SHAPE("{\"text\":\"x\",\"n\":\"y\"}");
	NOT_SHAPE("{\"text\":\"x\",\"text\":\"y\"}");
	NOT_SHAPE("{\"text\":1}");
	NOT_SHAPE("{\"text\":\"caf\xc3\xa9\"}");
	accepted = mutation_rounds(msg_seeds, sizeof msg_seeds / sizeof msg_seeds[0],
				   check_strings);
	assert_true(accepted > ROUNDS / 20);
	print_message("%zu of %d mutated messages read without a tree, all as jansson reads them\n",
		      accepted, ROUNDS);
}

static void test_plain_documents_take_the_fast_path(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
		assert_int_equal(check_one(seeds[i], strlen(seeds[i])), 1);
}

static void test_outside_the_subset_is_left_to_jansson(void **state)
{
	static const char *const no[] = {
		"{\"a\":1,\"a\":2}",          /* duplicate key */
		"{\"a\":\"\\u0041\"}",        /* \u escape */
		"{\"a\":\"caf\xc3\xa9\"}",    /* UTF-8 */
		"{\"a\":1.5}", "{\"a\":1e3}", "{\"a\":01}",
		"{\"a\":1234567890123456}",   /* 16 digits */
		"{\"a\":1} x", "{\"a\":1,}", "[1,]", "{\"a\" 1}", "", "   ",
		"{\"a\":\"x\ty\"}",           /* raw control character */
		"[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]", /* 17 deep */
		"tru", "nul", "-", "{\"a\":-}",
	};
	(void)state;
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		json_t *v = jfast_parse(no[i], strlen(no[i]), 16);
		if (v != NULL)
			fail_msg("fast path took %s", no[i]);
	}
}

static void test_mutations_are_read_as_jansson_reads_them(void **state)
{
	size_t accepted = mutation_rounds(seeds, sizeof seeds / sizeof seeds[0], check_one);

	(void)state;
	assert_true(accepted > ROUNDS / 20);
	print_message("%zu of %d mutations taken by the fast path, all as jansson reads them\n",
		      accepted, ROUNDS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_documents_take_the_fast_path),
		cmocka_unit_test(test_outside_the_subset_is_left_to_jansson),
		cmocka_unit_test(test_mutations_are_read_as_jansson_reads_them),
		cmocka_unit_test(test_message_strings_read_as_jansson_reads_them),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
