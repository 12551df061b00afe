/*
 * jsonfast.h — a fast path for the plain JSON that entries almost always
 * are.
 *
 * Every entry a node files and every notification a replay applies is
 * parsed (envelope.c), and jansson's reader spends most of that time in
 * its lexer.  jfast_parse reads the common subset itself and builds the
 * same jansson tree; on anything outside that subset it gives up and
 * returns NULL, and the caller parses with jansson, which then decides
 * (and words the error).  So the subset only has to be read exactly as
 * jansson reads it; everything unusual is jansson's.
 *
 * The subset: objects, arrays, strings of printable ASCII (0x20..0x7e)
 * with the escapes \" \\ \/ \b \f \n \r \t, integers of at most 15 digits
 * without leading zeros, true, false, null, whitespace (space, tab, CR,
 * LF), nesting up to max_depth, distinct keys in each object, nothing
 * after the value.  Not in it (so jansson's): \u escapes, bytes >= 0x80,
 * fractions and exponents, long integers, duplicate keys, deeper nesting,
 * every error.  A test (tests/node/test_jsonfast.c) checks over mutated
 * inputs that whatever jfast_parse accepts, jansson accepts as the same
 * tree, key order included.
 */
#ifndef PARLEY_JSONFAST_H
#define PARLEY_JSONFAST_H

#include <stddef.h>

#include <jansson.h>

/* The tree of s[0..len), a new reference, or NULL: not in the subset (or
 * out of memory); parse it with jansson instead. */
json_t *jfast_parse(const char *s, size_t len, int max_depth);

/* Without a tree, the common shape of a bulk message: an object whose
 * members all have keys among keys[0..nkeys) (at most 8), each once, and
 * string values in the subset.  The values are unescaped into buf (cap
 * bytes), vals[k] pointing at key k's (NULL: absent).  0, or -1: not that
 * shape or not the subset (read it with jfast_parse or jansson, which
 * decide).  The same test checks it against jansson. */
int jfast_strings(const char *s, size_t len, const char *const *keys, size_t nkeys,
		  char *buf, size_t cap, const char **vals);

#endif
