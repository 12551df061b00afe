/*
 * envelope.h — the entry envelope: what one log entry says.
 *
 * The log layer stores any bytes; the node writes every entry as one JSON
 * object, the envelope (DESIGN, "Logs, entries, receipts").  The log commits
 * to the exact bytes and nobody re-serialises, so the parser is strict: two
 * parties must never read one entry two ways.
 *
 * Text
 *   One JSON object (RFC 8259), UTF-8, at most 65,535 bytes (one tile bundle
 *   entry: u16be length).  Duplicate keys, invalid UTF-8, "\u0000" in any
 *   string, nesting deeper than 16 (the envelope object is depth 1), and
 *   anything but whitespace after the object are rejected.  Integers must
 *   be JSON integers (no fraction, no exponent); an index or count is
 *   0..2^53-1, the range every JSON implementation reads exactly.  A field
 *   not listed below is rejected ("unexpected field"), so that a field one
 *   side would ignore cannot change what the other side reads.
 *
 * Common fields (all required)
 *   "v"           1 (integer).  Any other version is refused by name.
 *   "type"        "message" | "notification" | "receipt" | "ack" | "test" |
 *                 "seed-commit" | "seed-reveal"
 *   "from", "to"  node names: 1..255 bytes of printable ASCII without
 *                 spaces (0x21..0x7e)
 *   "time"        the sender's clock, RFC 3339 UTC to the second, exactly
 *                 "YYYY-MM-DDTHH:MM:SSZ" (year 0000..9999, real calendar
 *                 dates, no leap second, no fraction, no offset)
 *   "precedence"  "FLASH" | "IMMEDIATE" | "PRIORITY" | "ROUTINE"
 *   "id"          the submitter's idempotency key: 1..128 printable ASCII
 *                 characters without spaces
 *
 * Per type ("refs" is a list of 1..64 refs; when optional it is either
 * absent or non-empty, so that "no refs" has one encoding)
 *   message       "subject" string of at most 256 bytes (may be empty),
 *                 "text" string; optional "refs" (a reply or correction)
 *   test          optional "text" (the hourly link test)
 *   notification  "treaty": {"name": 1..127 printable ASCII without spaces,
 *                 "sha256": 64 lowercase hex of the definition file in
 *                 force}, "kind": 1..64 printable ASCII without spaces,
 *                 "fields": any JSON object (checked by the treaty engine);
 *                 optional "refs"
 *   receipt       "of": the origin received (same rule as names), "below": N
 *                 (every entry of that origin with index < N is held),
 *                 "also": distinct indices >= N in increasing order, held
 *                 beyond the contiguous prefix (required, may be empty, at
 *                 most 4096)
 *   ack           "refs" (required): the entries an operator acknowledges
 *   seed-commit   "commit": 64 lowercase hex, the SHA-256 of a seed;
 *                 optional "refs"
 *   seed-reveal   "seed": 64 lowercase hex, the seed; "refs" (required)
 *
 *   A ref is {"origin": origin, "index": 0..2^53-1, "leaf": standard padded
 *   base64 of the entry's 32-byte RFC 6962 leaf hash}, nothing else.
 *
 * Canonical encoding (env_encode)
 *   Compact (no whitespace), keys in the order v, type, from, to, time,
 *   precedence, id, then per type in the order listed above (treaty: name,
 *   sha256; ref: origin, index, leaf); optional members only when present;
 *   strings as UTF-8 with JSON's mandatory escapes only ("/" is not
 *   escaped).  For example:
 *
 *   {"v":1,"type":"receipt","from":"b.example","to":"a.example",
 *    "time":"2026-03-01T12:00:00Z","precedence":"ROUTINE","id":"r-17",
 *    "of":"a.example/to/b.example","below":17,"also":[19,23]}
 *
 *   (one line).  The parser accepts any JSON spelling of a valid envelope,
 *   not only the canonical one: the bytes in the log are the record.
 *
 * Receipts, acks and tests of receipts are not themselves receipted
 * (env_needs_receipt).
 */
#ifndef PARLEY_ENVELOPE_H
#define PARLEY_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

#define ENV_VERSION 1
#define ENV_MAX_SIZE 65535    /* bytes of one entry (tlog-tiles bundles) */
#define ENV_MAX_DEPTH 16      /* nesting of arrays and objects */
#define ENV_NAME_MAX 255      /* from, to, origins */
#define ENV_ID_MAX 128
#define ENV_SUBJECT_MAX 256
#define ENV_TREATY_NAME_MAX 127
#define ENV_KIND_MAX 64
#define ENV_MAX_REFS 64
#define ENV_MAX_ALSO 4096
#define ENV_MAX_INDEX ((UINT64_C(1) << 53) - 1)
#define ENV_TIME_LEN 20       /* "YYYY-MM-DDTHH:MM:SSZ" */

enum env_type {
	ENV_MESSAGE,
	ENV_NOTIFICATION,
	ENV_RECEIPT,
	ENV_ACK,
	ENV_TEST,
	ENV_SEED_COMMIT,
	ENV_SEED_REVEAL,
};

/* In this order: a lower value is more urgent (DESIGN, principle 3). */
enum env_prec {
	ENV_FLASH,
	ENV_IMMEDIATE,
	ENV_PRIORITY,
	ENV_ROUTINE,
};

/* A reference to one entry of a log: enough to fetch it and prove it. */
struct env_ref {
	char origin[ENV_NAME_MAX + 1];
	uint64_t index;
	uint8_t leaf[32];
};

/*
 * A parsed envelope.  Only the members of its type are meaningful; the
 * others are zero / NULL.  Pointers are owned by the envelope and released
 * by env_free.
 */
struct envelope {
	enum env_type type;
	char from[ENV_NAME_MAX + 1], to[ENV_NAME_MAX + 1];
	int64_t time;                     /* unix seconds, UTC */
	enum env_prec prec;
	char id[ENV_ID_MAX + 1];

	/* message (both required), test (text optional): malloc'd UTF-8,
	 * NUL-terminated; NUL inside is impossible (rejected by the parser). */
	char *subject, *text;

	/* notification */
	char treaty_name[ENV_TREATY_NAME_MAX + 1];
	uint8_t treaty_sha256[32];
	char kind[ENV_KIND_MAX + 1];
	json_t *fields;                   /* a JSON object, one reference owned */

	/* receipt */
	char of[ENV_NAME_MAX + 1];
	uint64_t below;
	uint64_t *also;                   /* malloc'd, nalso entries */
	size_t nalso;

	/* message, notification, seed-commit (optional); ack, seed-reveal
	 * (required) */
	struct env_ref *refs;             /* malloc'd, nrefs entries */
	size_t nrefs;

	uint8_t seed_hash[32];            /* seed-commit: SHA-256 of the seed */
	uint8_t seed[32];                 /* seed-reveal */
};

/*
 * Parses and validates len bytes (no terminating NUL needed) as an
 * envelope.  On success fills env, which the caller releases with env_free.
 * On failure returns -1, leaves env zeroed (env_free on it is harmless) and
 * fills e with the first problem found, naming the field:
 *   envelope: field "time" is not RFC 3339 UTC (YYYY-MM-DDTHH:MM:SSZ)
 */
int env_parse(struct envelope *env, const void *data, size_t len,
	      struct perr *e);
/* env_parse's two paths, for the test that compares them: the fast one
 * reads a message exactly as env_encode writes it (no refs, text in
 * jsonfast's subset) and returns 1 with env filled, or 0 (env zeroed) for
 * anything else, which the general one then reads and judges. */
int env_parse_message_fast(struct envelope *env, const void *data, size_t len);
int env_parse_general(struct envelope *env, const void *data, size_t len,
		      struct perr *e);

/*
 * Encodes env canonically (see above) into a malloc'd, NUL-terminated
 * string *out of *len bytes.  Refuses, with the parser's error, an envelope
 * that env_parse would not accept, and one over ENV_MAX_SIZE bytes, so
 * env_parse(env_encode(x)) always succeeds and gives back x.  *out is NULL
 * on failure.
 */
int env_encode(const struct envelope *env, char **out, size_t *len,
	       struct perr *e);

/* Releases what env owns and zeroes it.  NULL and repeated calls are
 * harmless. */
void env_free(struct envelope *env);

/* "message", ... / "FLASH", ...; NULL for a value outside the enum. */
const char *env_type_name(enum env_type t);
const char *env_prec_name(enum env_prec p);

/* Exact names as on the wire (the CLI uses the same upper-case precedence
 * names).  Return 0, or -1 for an unknown name. */
int env_type_parse(const char *s, enum env_type *t);
int env_prec_parse(const char *s, enum env_prec *p);

/* Unix seconds <-> "YYYY-MM-DDTHH:MM:SSZ" (20 characters + NUL).  Both
 * return 0, or -1 for a time outside years 0000..9999 or a string that is
 * not exactly that form with a real calendar date. */
int env_time_format(int64_t t, char out[ENV_TIME_LEN + 1]);
int env_time_parse(const char *s, int64_t *t);

/* Whether entries of this type are covered by receipts: receipts and acks
 * are not (link acknowledgment and cosignatures cover them, and receipting
 * a receipt would never end); everything else is. */
int env_needs_receipt(enum env_type t);

#endif
