/*
 * err.h — parley's error convention.
 *
 * Every fallible function returns an int: 0 on success, a negative value on
 * failure.  The caller passes a struct perr; on failure the callee fills it
 * with one human-readable line that names what was wrong (no trailing
 * newline).  The CLI prints that line on stderr; the daemon records it.
 * Passing NULL for the struct is allowed when the caller does not care.
 */
#ifndef PARLEY_ERR_H
#define PARLEY_ERR_H

#include <stddef.h>

#define PERR_MAX 512

struct perr {
	char msg[PERR_MAX];
};

/* Formats msg into e (if non-NULL) and returns -1, so callers can write
 * `return perr_set(e, "bad size %d", n);`. */
int perr_set(struct perr *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefixes the existing message in e with "prefix: ".  Returns -1. */
int perr_wrap(struct perr *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
