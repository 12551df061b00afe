/*
 * err.c — formatting of parley's one-line error messages (see err.h).
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int perr_set(struct perr *e, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int perr_wrap(struct perr *e, const char *fmt, ...)
{
	char prefix[PERR_MAX], old[PERR_MAX];
	va_list ap;

	if (e == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	old[sizeof old - 1] = '\0';
	/* Truncation is acceptable: the message stays one readable line. */
	{
		size_t n = strnlen(prefix, sizeof prefix - 3);
		memcpy(e->msg, prefix, n);
		memcpy(e->msg + n, ": ", 2);
		n += 2;
		size_t m = strnlen(old, sizeof e->msg - n - 1);
		memcpy(e->msg + n, old, m);
		e->msg[n + m] = '\0';
	}
	return -1;
}
