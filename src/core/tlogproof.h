/*
 * tlogproof.h — C2SP tlog-proof v1: an entry's offline proof of inclusion.
 *
 *   c2sp.org/tlog-proof@v1
 *   [extra <base64>]
 *   index <N>
 *   <base64 hash>          (zero or more: the RFC 6962 audit path)
 *   <blank line>
 *   <signed checkpoint note, verbatim>
 */
#ifndef PARLEY_TLOGPROOF_H
#define PARLEY_TLOGPROOF_H

#include <stddef.h>
#include <stdint.h>

#include "checkpoint.h"
#include "err.h"
#include "merkle.h"
#include "note.h"

#define TLOGPROOF_HEADER "c2sp.org/tlog-proof@v1"
#define TLOGPROOF_EXTRA_MAX 65536
#define TLOGPROOF_MAX_SIZE (NOTE_MAX_SIZE + TLOGPROOF_EXTRA_MAX * 2)

struct tlogproof {
	int has_extra;
	uint8_t *extra; /* malloc'd; free with tlogproof_free */
	size_t extralen;
	uint64_t index;
	merkle_hash proof[MERKLE_MAX_PROOF];
	size_t prooflen;
	const char *note; /* the checkpoint note, pointer into the input */
	size_t notelen;
};

int tlogproof_parse(struct tlogproof *p, const char *text, size_t len,
		    struct perr *e);
void tlogproof_free(struct tlogproof *p);

/* Writes a proof into a malloc'd NUL-terminated buffer. extra may be NULL. */
int tlogproof_format(char **out, size_t *outlen, const uint8_t *extra,
		     size_t extralen, uint64_t index, const merkle_hash *proof,
		     size_t prooflen, const char *note, size_t notelen,
		     struct perr *e);

/*
 * Verifies that entry is in the log whose key is logkey: the checkpoint is
 * signed by logkey, its origin is the key's name, the inclusion proof leads
 * to its root, and every key in cosigners has a valid cosignature on it.
 * On success *cp holds the parsed checkpoint.
 */
int tlogproof_verify(const struct tlogproof *p, const void *entry,
		     size_t entrylen, const struct note_verifier *logkey,
		     const struct note_verifier *cosigners, size_t ncosigners,
		     struct checkpoint *cp, struct perr *e);

#endif
