/*
 * test_b64.c — strict standard base64 (src/core/b64.h): RFC 4648 §4 with
 * padding, and exactly one accepted encoding per byte string.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "b64.h"
#include "testutil.h"

/* Decodes exactly len bytes from a heap copy without a terminating NUL, so
 * that a read past the input is caught by AddressSanitizer. */
static long decode_exact(uint8_t *out, size_t cap, const char *in, size_t len)
{
	char *copy = tu_memdup(in, len);
	long n = b64_decode(out, cap, copy, len);

	free(copy);
	return n;
}

static void test_rfc4648_vectors_encode_and_decode(void **state)
{
	/* RFC 4648 §10 */
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const enc[] = {
		"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy",
	};
	size_t i;

	(void)state;
	for (i = 0; i < 7; i++) {
		char out[16];
		uint8_t dec[16];
		size_t n = strlen(plain[i]);
		memset(out, 'X', sizeof out);
		assert_int_equal(b64_encode(out, (const uint8_t *)plain[i], n), strlen(enc[i]));
		assert_string_equal(out, enc[i]);
		assert_int_equal(B64_ENCLEN(n), strlen(enc[i]));
		assert_int_equal(decode_exact(dec, n, enc[i], strlen(enc[i])), (long)n);
		assert_memory_equal(dec, plain[i], n);
	}
}

static void test_random_buffers_round_trip_and_match_openssl(void **state)
{
	uint8_t in[300], dec[300];
	char out[B64_ENCLEN(300) + 1], ref[B64_ENCLEN(300) + 1];
	uint64_t seed = 3;
	size_t n, rep;

	(void)state;
	for (n = 0; n <= sizeof in; n++) {
		for (rep = 0; rep < 4; rep++) {
			size_t len;
			tu_rand_bytes(&seed, in, n);
			len = b64_encode(out, in, n);
			assert_int_equal(len, B64_ENCLEN(n));
			assert_int_equal(strlen(out), len);
			/* OpenSSL's encoder is an independent reference */
			assert_int_equal(EVP_EncodeBlock((unsigned char *)ref, in, (int)n), (int)len);
			assert_string_equal(out, ref);
			/* decodes back into a buffer of exactly n bytes */
			assert_int_equal(decode_exact(dec, n, out, len), (long)n);
			assert_memory_equal(dec, in, n);
			/* and not into one byte less */
			if (n > 0)
				assert_int_equal(decode_exact(dec, n - 1, out, len), -1);
		}
	}
}

static void test_every_one_and_two_byte_string_round_trips(void **state)
{
	unsigned v;

	(void)state;
	for (v = 0; v < 65536 + 256; v++) {
		uint8_t in[2], dec[2];
		char out[8];
		size_t n = v < 256 ? 1 : 2;
		in[0] = (uint8_t)v;
		in[1] = (uint8_t)(v >> 8);
		assert_int_equal(b64_encode(out, in, n), 4);
		assert_int_equal(decode_exact(dec, n, out, 4), (long)n);
		assert_memory_equal(dec, in, n);
	}
}

static void expect_rejected(const char *s, size_t len)
{
	uint8_t out[64];

	if (decode_exact(out, sizeof out, s, len) != -1)
		fail_msg("b64_decode accepted \"%.*s\"", (int)len, s);
}

static void test_decoding_rejects_anything_but_the_canonical_encoding(void **state)
{
	static const char *const bad[] = {
		/* length not a multiple of 4, missing or excess padding */
		"Zg", "Zg=", "Z", "Z===", "Zg===", "Zm8", "Zm9vYg=", "Zm9vYg", "=", "==",
		"===", "====", "Zm9vY===",
		/* padding in the middle, or padding then data */
		"Zg==Zg==", "Zm8=Zm8=", "Z=g=", "=Zg=", "Zg=A", "Zm=v", "Zm9=Zm9v",
		/* whitespace and line breaks anywhere */
		" Zg=", "Zg== ", "Zm9v\n", "Zm9v\nZm9v", "Zm9v\r\n", "Zm 9", "\tZm9v",
		"Zm9vYmFy\n",
		/* characters outside the alphabet, including the URL-safe ones */
		"Zm9-", "Zm9_", "Zm-v", "Z_9v", "Zm9*", "Zm9.", "Zm9!", "Zm\x80v",
		"Zm\xffv", "Zm9v\x7f\x7f\x7f\x7f", "Z\xc3\xa9v",
		/* unused low bits not zero: only Zg==, Zm8= are canonical */
		"Zh==", "Zi==", "Zj==", "Zv==", "Zm9=", "Zm+=", "Zm/=", "AB==", "AAB=",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_rejected(bad[i], strlen(bad[i]));
	/* an embedded NUL */
	expect_rejected("Zm\0v", 4);
	expect_rejected("Zg=\0", 4);
}

/* Of the 16 strings "Z?==", exactly one decodes (to "f"); of "Zm?=",
 * exactly one for each of the 16 possible second bytes. */
static void test_exactly_one_encoding_per_value(void **state)
{
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, j;

	(void)state;
	for (i = 0; i < 64; i++) {
		uint8_t out[4];
		char s1[5] = { 'Z', alpha[i], '=', '=', 0 };
		long n = decode_exact(out, sizeof out, s1, 4);
		/* low 4 bits of the second symbol must be zero */
		assert_int_equal(n, (i & 15) == 0 ? 1 : -1);
		for (j = 0; j < 64; j++) {
			char s2[5] = { 'Z', alpha[j], alpha[i], '=', 0 };
			/* low 2 bits of the third symbol must be zero */
			n = decode_exact(out, sizeof out, s2, 4);
			assert_int_equal(n, (i & 3) == 0 ? 2 : -1);
		}
	}
}

static void test_decoding_never_writes_past_the_capacity(void **state)
{
	uint8_t *out;

	(void)state;
	/* exact-size heap buffers: ASan catches any overrun */
	out = malloc(6);
	assert_non_null(out);
	assert_int_equal(b64_decode(out, 6, "Zm9vYmFy", 8), 6);
	assert_int_equal(b64_decode(out, 5, "Zm9vYmFy", 8), -1);
	assert_int_equal(b64_decode(out, 5, "Zm9vYmE=", 8), 5);
	assert_int_equal(b64_decode(out, 4, "Zm9vYmE=", 8), -1);
	assert_int_equal(b64_decode(out, 4, "Zm9vYg==", 8), 4);
	assert_int_equal(b64_decode(out, 3, "Zm9vYg==", 8), -1);
	free(out);
	out = malloc(1);
	assert_non_null(out);
	assert_int_equal(b64_decode(out, 0, "", 0), 0);
	assert_int_equal(b64_decode(out, 0, "Zg==", 4), -1);
	assert_int_equal(b64_decode(out, 1, "Zg==", 4), 1);
	assert_int_equal(out[0], 'f');
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors_encode_and_decode),
		cmocka_unit_test(test_random_buffers_round_trip_and_match_openssl),
		cmocka_unit_test(test_every_one_and_two_byte_string_round_trips),
		cmocka_unit_test(test_decoding_rejects_anything_but_the_canonical_encoding),
		cmocka_unit_test(test_exactly_one_encoding_per_value),
		cmocka_unit_test(test_decoding_never_writes_past_the_capacity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
