/*
 * testutil.h — shared helpers for the core unit tests.
 *
 * Test vectors live outside the repository, in $PARLEY_TESTDATA (default
 * "../shared/testdata", relative to the repository root the runner starts
 * from).  They are read as they are: no copies, no edits.  Every helper that
 * can fail aborts the test through cmocka (fail_msg), so tests stay linear.
 */
#ifndef PARLEY_TESTUTIL_H
#define PARLEY_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

/* The test data directory: $PARLEY_TESTDATA, else "../shared/testdata". */
const char *tu_testdata_dir(void);

/* "<testdata>/<rel>" in a malloc'd string. */
char *tu_testdata_path(const char *rel);

/* Reads a whole file into a malloc'd, NUL-terminated buffer; fails the test
 * if the file cannot be read.  *len (if non-NULL) gets the byte count. */
char *tu_read_file(const char *path, size_t *len);

/*
 * Loads a JSON file.  Integers are decoded as reals (JSON_DECODE_INT_AS_REAL)
 * so that values above INT64_MAX do not make jansson fail; read exact 64-bit
 * values with tu_json_u64 from the raw text, returned in *text if non-NULL
 * (malloc'd).  Fails the test on a parse error.
 */
json_t *tu_load_json(const char *path, char **text);

/*
 * Finds the first `"key" : <digits>` in a JSON text and parses the digits
 * exactly as a uint64.  Returns 0, or -1 if the key is absent, its value is
 * not an unsigned integer literal, or it overflows 64 bits.
 */
int tu_json_u64(const char *text, const char *key, uint64_t *out);

/* A JSON object member that must be a string; fails the test otherwise. */
const char *tu_json_str(const json_t *obj, const char *key);

/*
 * Calls fn(path, ctx) for every *.json file under dir, recursively, in
 * sorted order (so failures are reproducible).  Returns the number of files
 * visited; fails the test if dir cannot be opened.
 */
size_t tu_for_each_json(const char *dir,
			void (*fn)(const char *path, void *ctx), void *ctx);

/* A malloc'd copy of exactly len bytes, with no terminating NUL, so that
 * AddressSanitizer catches a parser reading past the end of its input. */
char *tu_memdup(const void *p, size_t len);

/* b64_decode of a NUL-terminated string; returns the length or -1. */
long tu_b64(uint8_t *out, size_t cap, const char *s);

/* Decodes lowercase or uppercase hex into out (cap bytes); returns the
 * length, or -1 on odd length, bad digit, or overflow. */
long tu_hex(uint8_t *out, size_t cap, const char *s);

/* Deterministic pseudo-random numbers (splitmix64), so that a failing
 * property test can be replayed from its seed. */
uint64_t tu_rand64(uint64_t *state);
/* Uniform in [0, n), n > 0. */
uint64_t tu_rand_below(uint64_t *state, uint64_t n);
void tu_rand_bytes(uint64_t *state, uint8_t *out, size_t n);

/* The error convention (src/core/err.h) asserted: a failure is a
 * negative status with one non-empty line, which mentions needle (unless
 * needle is NULL); a success is 0 (its message is shown if it is not). */
void tu_expect_error(int rc, const struct perr *e, const char *needle);
void tu_expect_ok(int rc, const struct perr *e);

#endif
