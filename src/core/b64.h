/*
 * b64.h — standard base64 (RFC 4648 §4), strict.
 *
 * The C2SP formats (signed-note, tlog-checkpoint, tlog-proof) all use the
 * padded standard alphabet.  Decoding is strict so that one value has one
 * encoding: padding must be present and exact, no whitespace or characters
 * outside the alphabet, and the unused low bits of the last symbol must be 0
 * (otherwise two strings would decode to the same bytes).
 */
#ifndef PARLEY_B64_H
#define PARLEY_B64_H

#include <stddef.h>
#include <stdint.h>

/* Length of the encoding of n bytes, without a terminating NUL. */
#define B64_ENCLEN(n) ((((n) + 2) / 3) * 4)

/* Encodes n bytes into out, which must hold B64_ENCLEN(n) + 1 bytes; the
 * result is NUL-terminated.  Returns the encoded length. */
size_t b64_encode(char *out, const uint8_t *in, size_t n);

/* Decodes the len characters at in into out (capacity cap).  Returns the
 * number of bytes decoded, or -1 if the text is not strict standard base64
 * or does not fit in cap. */
long b64_decode(uint8_t *out, size_t cap, const char *in, size_t len);

#endif
