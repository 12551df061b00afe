/*
 * fuzz_checkpoint.c — libFuzzer target: C2SP tlog-checkpoint note text.
 *
 * checkpoint_parse is strict so that one checkpoint has one text: whenever
 * it accepts the input, checkpoint_format of the parsed fields must give
 * back the input exactly (origin, size without leading zeros, canonical
 * base64 root, extension lines verbatim).  A failure must leave one line in
 * the perr.  The input is passed as it is, not NUL-terminated, so reads past
 * its end are caught by AddressSanitizer.
 *
 * The same bytes also go through checkpoint_parse_u64, whose accepted
 * inputs must be the canonical decimal form of the value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "fuzzkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_u64(const char *s, size_t len)
{
	char buf[32];
	uint64_t v;

	if (checkpoint_parse_u64(s, len, &v) != 0)
		return;
	snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
	if (strlen(buf) != len || memcmp(buf, s, len) != 0)
		fuzz_die("checkpoint_parse_u64", "accepted a non-canonical number");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct checkpoint c;
	struct perr e;
	char *buf;
	long n;

	fuzz_u64(text, size);

	fuzz_err_init(&e);
	if (checkpoint_parse(&c, text, size, &e) != 0) {
		fuzz_check_err("checkpoint_parse", &e);
		return 0;
	}
	/* The text plus its NUL is all checkpoint_format needs. */
	buf = malloc(size + 1);
	if (buf == NULL)
		return 0;
	n = checkpoint_format(&c, buf, size + 1, &e);
	if (n < 0)
		fuzz_die("checkpoint_format: refuses what checkpoint_parse accepted", e.msg);
	if ((size_t)n != size || memcmp(buf, text, size) != 0 || buf[n] != '\0')
		fuzz_die("checkpoint_format", "does not reproduce the parsed text");
	free(buf);
	return 0;
}
