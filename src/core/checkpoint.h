/*
 * checkpoint.h — C2SP tlog-checkpoint v1.0.0 note text.
 *
 *   <origin>\n<size>\n<base64 root>\n[<extension line>\n]...
 *
 * Parsing is strict: the origin is a non-empty line without control
 * characters; the size is ASCII decimal with no sign and no leading zero
 * (except "0") that fits 64 bits; the root decodes to exactly 32 bytes;
 * extension lines are non-empty and kept verbatim, in order.
 */
#ifndef PARLEY_CHECKPOINT_H
#define PARLEY_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "merkle.h"

#define CHECKPOINT_ORIGIN_MAX 255
#define CHECKPOINT_MAX_EXT 16

struct checkpoint {
	char origin[CHECKPOINT_ORIGIN_MAX + 1];
	uint64_t size;
	merkle_hash root;
	size_t next;                              /* extension lines */
	const char *ext[CHECKPOINT_MAX_EXT];      /* pointers into the text */
	size_t extlen[CHECKPOINT_MAX_EXT];        /* without the newline */
};

/* Parses a checkpoint note text (the signed part, ending in "\n"). */
int checkpoint_parse(struct checkpoint *c, const char *text, size_t len,
		     struct perr *e);

/* Writes the note text for c (with its extension lines) into buf, NUL
 * terminated.  Returns the length or -1. */
long checkpoint_format(const struct checkpoint *c, char *buf, size_t cap,
		       struct perr *e);

/* Parses a decimal uint64 with no sign, no leading zeros, no overflow. */
int checkpoint_parse_u64(const char *s, size_t len, uint64_t *out);

#endif
