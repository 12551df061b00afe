/*
 * test_checkpoint.c — C2SP tlog-checkpoint note text (src/core/checkpoint.h).
 *
 * Every text is parsed from an exact-size heap copy without a terminating
 * NUL, so that under AddressSanitizer a read past the text fails the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "b64.h"
#include "checkpoint.h"
#include "testutil.h"

/* A valid root: SHA-256 of the empty string. */
#define ROOT_B64 "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
#define ROOT_HEX "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static int parse_exact(struct checkpoint *c, const char *text, size_t len,
		       struct perr *e)
{
	char *copy = tu_memdup(text, len);
	int rc;

	e->msg[0] = '\0';
	rc = checkpoint_parse(c, copy, len, e);
	/* ext[] points into the text: keep the copy alive only for checks
	 * that do not touch it after this call */
	free(copy);
	if (rc != 0) {
		assert_true(rc < 0);
		assert_true(e->msg[0] != '\0');
	}
	return rc;
}

static void expect_invalid(const char *text, size_t len)
{
	struct checkpoint c;
	struct perr e;

	if (parse_exact(&c, text, len, &e) == 0)
		fail_msg("checkpoint_parse accepted \"%.*s\"", (int)len, text);
}

static void expect_invalid_str(const char *text)
{
	expect_invalid(text, strlen(text));
}

static void test_parses_origin_size_and_root(void **state)
{
	static const char text[] = "example.com/log\n12345\n" ROOT_B64 "\n";
	uint8_t want[32];
	struct checkpoint c;
	struct perr e;

	(void)state;
	assert_int_equal(parse_exact(&c, text, strlen(text), &e), 0);
	assert_string_equal(c.origin, "example.com/log");
	assert_true(c.size == 12345);
	assert_int_equal(tu_hex(want, 32, ROOT_HEX), 32);
	assert_memory_equal(c.root, want, 32);
	assert_int_equal(c.next, 0);
}

static void test_size_zero_and_max_uint64_are_valid(void **state)
{
	static const char zero[] = "o\n0\n" ROOT_B64 "\n";
	static const char max[] = "o\n18446744073709551615\n" ROOT_B64 "\n";
	struct checkpoint c;
	struct perr e;

	(void)state;
	assert_int_equal(parse_exact(&c, zero, strlen(zero), &e), 0);
	assert_true(c.size == 0);
	assert_int_equal(parse_exact(&c, max, strlen(max), &e), 0);
	assert_true(c.size == UINT64_MAX);
}

static void test_origin_may_hold_any_printable_utf8(void **state)
{
	static const char text[] = "Héllo wörld, log #1 — \xe6\x97\xa5\n1\n" ROOT_B64 "\n";
	struct checkpoint c;
	struct perr e;

	(void)state;
	assert_int_equal(parse_exact(&c, text, strlen(text), &e), 0);
	assert_string_equal(c.origin, "Héllo wörld, log #1 — \xe6\x97\xa5");
}

static void test_extension_lines_are_kept_verbatim_and_reformatted_identically(void **state)
{
	static const char text[] =
		"example.com/log\n7\n" ROOT_B64 "\n"
		"first extension\n"
		"— a line that looks like a signature AAAA\n"
		"  spaces kept  \n";
	char buf[1024];
	struct checkpoint c;
	struct perr e;
	long n;

	(void)state;
	/* ext[] points into the text, so parse the static buffer itself here */
	assert_int_equal(checkpoint_parse(&c, text, strlen(text), &e), 0);
	assert_int_equal(c.next, 3);
	assert_int_equal(c.extlen[0], strlen("first extension"));
	assert_memory_equal(c.ext[0], "first extension", c.extlen[0]);
	assert_memory_equal(c.ext[1], "— a line that looks like a signature AAAA",
			    c.extlen[1]);
	assert_int_equal(c.extlen[2], strlen("  spaces kept  "));
	assert_memory_equal(c.ext[2], "  spaces kept  ", c.extlen[2]);
	n = checkpoint_format(&c, buf, sizeof buf, &e);
	assert_int_equal(n, (long)strlen(text));
	assert_string_equal(buf, text);
}

static void test_format_of_a_parsed_checkpoint_gives_back_the_same_text(void **state)
{
	static const char *const texts[] = {
		"example.com/log\n0\n" ROOT_B64 "\n",
		"a\n18446744073709551615\n" ROOT_B64 "\n",
		"go.sum database tree\n31337\n" ROOT_B64 "\nx\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		struct checkpoint c;
		struct perr e;
		char buf[512];
		assert_int_equal(checkpoint_parse(&c, texts[i], strlen(texts[i]), &e), 0);
		assert_int_equal(checkpoint_format(&c, buf, sizeof buf, &e),
				 (long)strlen(texts[i]));
		assert_string_equal(buf, texts[i]);
	}
}

static void test_format_builds_the_text_from_fields(void **state)
{
	struct checkpoint c;
	struct perr e;
	char buf[256];
	const char *want = "example.com/log\n42\n" ROOT_B64 "\next\n";

	(void)state;
	memset(&c, 0, sizeof c);
	strcpy(c.origin, "example.com/log");
	c.size = 42;
	assert_int_equal(tu_hex(c.root, 32, ROOT_HEX), 32);
	c.ext[0] = "ext";
	c.extlen[0] = 3;
	c.next = 1;
	assert_int_equal(checkpoint_format(&c, buf, sizeof buf, &e), (long)strlen(want));
	assert_string_equal(buf, want);
	/* exactly enough room, then one byte less */
	assert_int_equal(checkpoint_format(&c, buf, strlen(want) + 1, &e),
			 (long)strlen(want));
	assert_true(checkpoint_format(&c, buf, strlen(want), &e) < 0);
	assert_true(checkpoint_format(&c, buf, 10, &e) < 0);
	/* what would not parse back is refused */
	c.extlen[0] = 0;
	assert_true(checkpoint_format(&c, buf, sizeof buf, &e) < 0);
	c.ext[0] = "a\nb";
	c.extlen[0] = 3;
	assert_true(checkpoint_format(&c, buf, sizeof buf, &e) < 0);
	c.next = 0;
	c.origin[0] = '\0';
	assert_true(checkpoint_format(&c, buf, sizeof buf, &e) < 0);
}

static void test_truncated_checkpoints_are_rejected(void **state)
{
	(void)state;
	expect_invalid_str("");
	expect_invalid_str("example.com/log");
	expect_invalid_str("example.com/log\n");
	expect_invalid_str("example.com/log\n5");
	expect_invalid_str("example.com/log\n5\n");
	expect_invalid_str("example.com/log\n5\n" ROOT_B64);
	expect_invalid_str("\n");
	expect_invalid_str("\n\n\n");
}

static void test_origin_must_be_non_empty_printable_and_at_most_255_bytes(void **state)
{
	char text[600];
	struct checkpoint c;
	struct perr e;

	(void)state;
	expect_invalid_str("\n5\n" ROOT_B64 "\n");
	expect_invalid_str("exa\tmple\n5\n" ROOT_B64 "\n");
	expect_invalid_str("example\r\n5\n" ROOT_B64 "\n");
	expect_invalid_str("exa\x01mple\n5\n" ROOT_B64 "\n");
	expect_invalid_str("exa\x1fmple\n5\n" ROOT_B64 "\n");
	expect_invalid_str("exa\x7fmple\n5\n" ROOT_B64 "\n");
	expect_invalid("exa\0mple\n5\n" ROOT_B64 "\n",
		       sizeof("exa\0mple\n5\n" ROOT_B64 "\n") - 1);
	/* 255 bytes is the limit */
	memset(text, 'o', 255);
	snprintf(text + 255, sizeof text - 255, "\n5\n%s\n", ROOT_B64);
	assert_int_equal(parse_exact(&c, text, strlen(text), &e), 0);
	assert_int_equal(strlen(c.origin), 255);
	memset(text, 'o', 256);
	snprintf(text + 256, sizeof text - 256, "\n5\n%s\n", ROOT_B64);
	expect_invalid_str(text);
}

static void test_size_must_be_canonical_decimal_within_64_bits(void **state)
{
	static const char *const bad[] = {
		"", "01", "00", "007", "+1", "-1", " 1", "1 ", "1\t", "1a", "a", "0x10",
		"1e3", "1.0", "1,000", "18446744073709551616", "18446744073709551620",
		"99999999999999999999", "184467440737095516150",
		"000000000000000000001",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[256];
		uint64_t v;
		snprintf(text, sizeof text, "example.com/log\n%s\n%s\n", bad[i], ROOT_B64);
		expect_invalid_str(text);
		assert_true(checkpoint_parse_u64(bad[i], strlen(bad[i]), &v) < 0);
	}
}

static void test_parse_u64_reads_canonical_decimals(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(checkpoint_parse_u64("0", 1, &v), 0);
	assert_true(v == 0);
	assert_int_equal(checkpoint_parse_u64("10", 2, &v), 0);
	assert_true(v == 10);
	assert_int_equal(checkpoint_parse_u64("18446744073709551615", 20, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(checkpoint_parse_u64("18446744073709551614", 20, &v), 0);
	assert_true(v == UINT64_MAX - 1);
	/* only len bytes are read */
	assert_int_equal(checkpoint_parse_u64("123junk", 3, &v), 0);
	assert_true(v == 123);
	assert_true(checkpoint_parse_u64("", 0, &v) < 0);
}

static void test_root_must_be_strict_base64_of_32_bytes(void **state)
{
	(void)state;
	/* 31 and 33 bytes */
	expect_invalid_str("o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuA==\n");
	expect_invalid_str("o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFVV\n");
	expect_invalid_str("o\n5\n\n");
	/* not base64, not padded, URL-safe, stray bits, spaces */
	expect_invalid_str("o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n");
	expect_invalid_str("o\n5\n47DEQpj8HBSa-_TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
	expect_invalid_str("o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=\n");
	expect_invalid_str("o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU= \n");
	expect_invalid_str("o\n5\n 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
	expect_invalid_str("o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\r\n");
	expect_invalid_str("o\n5\n!7DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
}

static void test_extension_lines_must_be_non_empty_and_newline_terminated(void **state)
{
	char text[2048];
	size_t off, i;
	struct checkpoint c;
	struct perr e;

	(void)state;
	expect_invalid_str("o\n5\n" ROOT_B64 "\n\n");
	expect_invalid_str("o\n5\n" ROOT_B64 "\next\n\n");
	expect_invalid_str("o\n5\n" ROOT_B64 "\n\next\n");
	expect_invalid_str("o\n5\n" ROOT_B64 "\next");
	expect_invalid_str("o\n5\n" ROOT_B64 "\na\nb");
	/* CHECKPOINT_MAX_EXT lines are fine, one more is not */
	off = (size_t)snprintf(text, sizeof text, "o\n5\n%s\n", ROOT_B64);
	for (i = 0; i < CHECKPOINT_MAX_EXT; i++)
		off += (size_t)snprintf(text + off, sizeof text - off, "ext %zu\n", i);
	assert_int_equal(checkpoint_parse(&c, text, off, &e), 0);
	assert_int_equal(c.next, CHECKPOINT_MAX_EXT);
	assert_memory_equal(c.ext[CHECKPOINT_MAX_EXT - 1], "ext 15", 6);
	snprintf(text + off, sizeof text - off, "one too many\n");
	expect_invalid_str(text);
}

/* The parser reports the bad size in its error message; that must not read
 * beyond the text it was given (the text need not be NUL-terminated). */
static void test_errors_do_not_read_past_the_end_of_the_text(void **state)
{
	static const char *const texts[] = {
		"o\nx\n", "o\n01\n", "o\n-\n", "o\n1 \n",
		"o\n5\nAAAA\n", "o\n5\n!\n", "o\n\x01\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof texts / sizeof texts[0]; i++)
		expect_invalid_str(texts[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parses_origin_size_and_root),
		cmocka_unit_test(test_size_zero_and_max_uint64_are_valid),
		cmocka_unit_test(test_origin_may_hold_any_printable_utf8),
		cmocka_unit_test(test_extension_lines_are_kept_verbatim_and_reformatted_identically),
		cmocka_unit_test(test_format_of_a_parsed_checkpoint_gives_back_the_same_text),
		cmocka_unit_test(test_format_builds_the_text_from_fields),
		cmocka_unit_test(test_truncated_checkpoints_are_rejected),
		cmocka_unit_test(test_origin_must_be_non_empty_printable_and_at_most_255_bytes),
		cmocka_unit_test(test_size_must_be_canonical_decimal_within_64_bits),
		cmocka_unit_test(test_parse_u64_reads_canonical_decimals),
		cmocka_unit_test(test_root_must_be_strict_base64_of_32_bytes),
		cmocka_unit_test(test_extension_lines_must_be_non_empty_and_newline_terminated),
		cmocka_unit_test(test_errors_do_not_read_past_the_end_of_the_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
