/*
 * fuzzkey.h — fixed keys and shared checks of the parser fuzz targets.
 *
 * The verifier keys match tests/fuzz/keys/log.key and witness.key, which
 * signed the seed corpus (tests/fuzz/make-corpus).  With them, mutations of
 * a real note or proof get past the format checks into signature and Merkle
 * verification instead of stopping at "no known key".
 */
#ifndef PARLEY_FUZZKEY_H
#define PARLEY_FUZZKEY_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "note.h"

#define FUZZ_LOG_VKEY "fuzz.example/log+5d854990+AWdCL4o4vOLFHfaOSW5NLBkEI23Sh/GeJJDmo+CoYxVd"
#define FUZZ_WITNESS_VKEY \
	"fuzz.example/witness+2fbf724b+BH4mlS6uBOITMRFHTzMgxKPk7SCA8OUAIO6ro+m/0Qwr"

/* Stops the run with a message; libFuzzer saves the input as a crash. */
static inline void fuzz_die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz invariant violated: %s%s%s\n", what,
		detail ? ": " : "", detail ? detail : "");
	abort();
}

/* keys[0] = the log key (0x01), keys[1] = the witness key (0x04). */
static inline void fuzz_keys(struct note_verifier keys[2])
{
	struct perr e;

	if (note_verifier_parse(&keys[0], FUZZ_LOG_VKEY, strlen(FUZZ_LOG_VKEY), &e) != 0 ||
	    note_verifier_parse(&keys[1], FUZZ_WITNESS_VKEY, strlen(FUZZ_WITNESS_VKEY),
				&e) != 0)
		fuzz_die("fixed fuzz keys do not parse", e.msg);
}

/* err.h: a failure fills the message with one line, NUL-terminated within
 * the buffer, without a newline (the CLI prints it as one stderr line). */
static inline void fuzz_check_err(const char *fn, const struct perr *e)
{
	size_t n = strnlen(e->msg, sizeof e->msg);

	if (n == sizeof e->msg)
		fuzz_die(fn, "error message is not NUL-terminated");
	if (n == 0)
		fuzz_die(fn, "failed without an error message");
	if (memchr(e->msg, '\n', n) != NULL)
		fuzz_die(fn, "error message spans more than one line");
}

/* A fresh, empty error buffer, so that a failure that sets no message is
 * noticed by fuzz_check_err. */
static inline void fuzz_err_init(struct perr *e)
{
	memset(e->msg, 0, sizeof e->msg);
}

#endif
