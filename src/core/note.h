/*
 * note.h — C2SP signed-note v1.0.0: keys, signing, opening.
 *
 * Two signature types are implemented:
 *   0x01  Ed25519 over the note text (signed-note; log keys, cards).
 *   0x04  tlog-cosignature v1: Ed25519 over
 *         "cosignature/v1\ntime <T>\n" || note text, signature bytes
 *         u64be(T) || sig (witness and peer cosignatures of checkpoints).
 *
 * Key IDs are SHA-256(name || "\n" || type || pubkey)[:4].  Keys are written
 * exactly as golang.org/x/mod/sumdb/note writes them:
 *   verifier  <name>+<hex8 id>+base64(type || 32-byte public key)
 *   signer    PRIVATE+KEY+<name>+<hex8 id>+base64(type || 32-byte seed)
 *
 * Opening follows the spec: signatures from unknown keys are ignored; a
 * signature from a known key (same name and id) that fails makes the whole
 * note fail; at least one known key must verify.
 */
#ifndef PARLEY_NOTE_H
#define PARLEY_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define NOTE_ALG_ED25519 0x01
#define NOTE_ALG_COSIG 0x04

#define NOTE_NAME_MAX 255     /* bytes in a key name */
#define NOTE_MAX_SIZE 65536   /* bytes in a whole signed note */
#define NOTE_MAX_SIGS 100     /* signature lines (spec: accept at least 16) */
#define NOTE_KEY_TEXT_MAX (NOTE_NAME_MAX + 80)

struct note_verifier {
	char name[NOTE_NAME_MAX + 1];
	uint8_t alg;
	uint32_t id;
	uint8_t pub[32];
};

struct note_signer {
	char name[NOTE_NAME_MAX + 1];
	uint8_t alg;
	uint32_t id;
	uint8_t seed[32]; /* secret: wipe with note_signer_wipe */
	uint8_t pub[32];
};

/* One signature line of a parsed note; pointers into the note's buffer. */
struct note_sig {
	const char *name;
	size_t namelen;
	uint32_t id;
	const char *b64; /* base64(id || signature) */
	size_t b64len;
};

struct note {
	const char *text; /* the signed text, ending in "\n" */
	size_t textlen;
	size_t nsigs;
	struct note_sig sigs[NOTE_MAX_SIGS];
};

/* A key name is non-empty, at most NOTE_NAME_MAX bytes, valid UTF-8, and
 * holds no Unicode space, no '+' and no control character. */
int note_name_valid(const char *name, size_t len);

uint32_t note_key_id(const char *name, uint8_t alg, const uint8_t pub[32]);

/* Creates a fresh key of type alg (0x01 or 0x04) from OpenSSL's CSPRNG. */
int note_keygen(struct note_signer *s, const char *name, uint8_t alg,
		struct perr *e);
/* Derives a key from a given seed (tests, key import). */
int note_signer_from_seed(struct note_signer *s, const char *name,
			  uint8_t alg, const uint8_t seed[32],
			  struct perr *e);
void note_signer_wipe(struct note_signer *s);
void note_signer_verifier(const struct note_signer *s,
			  struct note_verifier *v);

/* Text forms.  Parsing accepts one trailing newline (key files end in
 * one) and, like golang.org/x/mod/sumdb/note, upper- or lower-case hex in
 * the key ID; formatting always writes lower case. */
int note_signer_parse(struct note_signer *s, const char *text, size_t len,
		      struct perr *e);
int note_verifier_parse(struct note_verifier *v, const char *text,
			size_t len, struct perr *e);
/* Write the text form, NUL-terminated, into buf (NOTE_KEY_TEXT_MAX). */
int note_signer_format(const struct note_signer *s, char *buf, size_t cap);
int note_verifier_format(const struct note_verifier *v, char *buf,
			 size_t cap);

/* Splits msg into text and signature lines and checks the format: size,
 * UTF-8, no control characters but newline, the blank separator line, well
 * formed signature lines, the signature count.  Verifies nothing. */
int note_parse(struct note *n, const char *msg, size_t len, struct perr *e);

/*
 * Opens msg against keys.  On success returns 0 and sets verified[i] to 1
 * for each key whose signature verified (and, for 0x04 keys, times[i] to
 * the cosignature's timestamp); either array may be NULL.  Fails if a
 * known key's signature does not verify or if no known key signed.
 */
int note_open(struct note *n, const char *msg, size_t len,
	      const struct note_verifier *keys, size_t nkeys, int *verified,
	      uint64_t *times, struct perr *e);

/* Writes one signature line "— <name> <base64>\n" by s over text, NUL
 * terminated, into buf; timestamp is used by 0x04 keys only.  Returns the
 * line length or -1. */
long note_sign_line(char *buf, size_t cap, const struct note_signer *s,
		    const char *text, size_t textlen, uint64_t timestamp,
		    struct perr *e);

/* Signs text (which must end in "\n") with each signer and returns the
 * whole note in a malloc'd NUL-terminated buffer (*out, *outlen). */
int note_sign(char **out, size_t *outlen, const char *text, size_t textlen,
	      const struct note_signer *const *signers, size_t nsigners,
	      uint64_t timestamp, struct perr *e);

/* Builds the tlog-cosignature v1 message for text at time t into a malloc'd
 * buffer. */
int note_cosig_message(uint8_t **out, size_t *outlen, const char *text,
		       size_t textlen, uint64_t t, struct perr *e);

#endif
