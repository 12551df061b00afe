/*
 * commit.h — commitments to a declared inventory, and disclosures of single
 * items from it (docs/treaties.md, "Inspections": Commitment, Disclosure).
 *
 * Canonical record
 *   An item is a JSON object.  Its record is jansson's
 *   json_dumps(item, JSON_COMPACT | JSON_SORT_KEYS): no whitespace, members
 *   in the byte order of their names (at every level), strings as UTF-8
 *   with only JSON's mandatory escapes (", \, and control characters as
 *   \b \f \n \r \t or \u00XX with upper-case hex; "/" and DEL are written
 *   as they are).  So that every tool reproduces the bytes, a committed
 *   item holds no JSON reals (integers, strings, booleans, null, objects
 *   and arrays only), nests at most COMMIT_MAX_DEPTH deep (the item is
 *   depth 1), and its record is at most COMMIT_RECORD_MAX bytes.
 *
 * Tree
 *   Items are ordered by their "id" member (a non-empty string without
 *   NUL bytes; distinct), bytewise (strcmp).  Leaf i is the RFC 6962 leaf
 *   hash SHA-256(0x00 || salt_i || record_i), salt_i 32 random bytes; the
 *   root is the RFC 6962 tree hash of the leaves in that order.
 *
 * Formats (JSON; hashes in proofs are standard padded base64, salts and
 * roots lowercase hex, as in the envelope's seed fields)
 *   commitment  {"root": "<64 hex>", "count": N}             0 <= N <= 10^7
 *   private     {"commitment": {...},
 *                "records": [{"index": i, "salt": "<64 hex>",
 *                             "item": {...}}, ...]}           in id order
 *   disclosure  {"commitment": {...}, "index": i, "salt": "<64 hex>",
 *                "item": {...}, "proof": ["<base64>", ...]}   <= 64 hashes
 *   Members not listed are refused by name.
 *
 * The private file is what lets its holder disclose items later: it holds
 * every salt, so whoever has it can open the whole commitment.  Keep it
 * 0600 and off the wire.
 */
#ifndef PARLEY_COMMIT_H
#define PARLEY_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"
#include "merkle.h"

#define COMMIT_SALT 32
#define COMMIT_RECORD_MAX 16384        /* bytes of one canonical record */
#define COMMIT_MAX_DEPTH 16            /* nesting of an item, itself 1 */
#define COMMIT_MAX_COUNT 10000000      /* items in one commitment */
#define COMMIT_MAX_PROOF 64            /* hashes in one inclusion proof */
#define COMMIT_HEX_LEN 64              /* a salt or a root in hex */

/* What a party publishes: the root and the number of leaves. */
struct commit_root {
	merkle_hash root;
	uint64_t count;
};

/* One committed item, in id order: record i of the private file. */
struct commit_record {
	json_t *item;                  /* a reference held by the set */
	const char *id;                /* the item's "id", inside item */
	uint8_t salt[COMMIT_SALT];
};

/* The private side of a commitment: every item with its salt and leaf.
 * The leaves are one array because the root and the proofs are computed
 * over it (merkle_root_of). */
struct commit_set {
	struct commit_root c;
	size_t n;
	struct commit_record *rec;     /* n records sorted by id */
	merkle_hash *leaves;           /* leaves[i] is the leaf of rec[i] */
};

/* Supplies one fresh salt (RAND_bytes in the CLI, a fixed sequence in
 * tests).  Returns 0, or -1 with e filled. */
typedef int (*commit_salt_fn)(void *ctx, uint8_t salt[COMMIT_SALT],
			      struct perr *e);

/* The canonical record of item into buf (cap bytes, not NUL-terminated);
 * *len receives its length.  Refuses a non-object, a real anywhere in it,
 * nesting deeper than COMMIT_MAX_DEPTH, and a record longer than
 * COMMIT_RECORD_MAX or cap. */
int commit_canonical(const json_t *item, char *buf, size_t cap, size_t *len,
		     struct perr *e);

/* Leaf hash of (salt, item): SHA-256(0x00 || salt || record). */
int commit_leaf(merkle_hash out, const uint8_t salt[COMMIT_SALT],
		const json_t *item, struct perr *e);

/* The item's "id": present, a string, 1.. bytes, no NUL. */
int commit_item_id(const json_t *item, const char **id, struct perr *e);

/* Commits to a JSON array of items: sorts them by id, checks every item
 * (ids distinct, records canonical and bounded), draws one salt per item
 * in id order, and computes the leaves and the root.  On failure s is
 * left empty (commit_set_free is still safe). */
int commit_build(struct commit_set *s, const json_t *items,
		 commit_salt_fn salt, void *ctx, struct perr *e);

/* The private file's content for s (a new reference). */
int commit_private_json(const struct commit_set *s, json_t **out,
			struct perr *e);

/* The same as text, one record a line (readable, diffable, and a third of
 * the size of an indented dump), into a malloc'd NUL-terminated buffer:
 *
 *   {
 *    "commitment": {"root":"...","count":N},
 *    "records": [
 *     {"index":0,"salt":"...","item":{...}},
 *     ...
 *    ]
 *   }
 *
 * The caller should wipe it (OPENSSL_cleanse) before freeing it. */
int commit_private_text(const struct commit_set *s, char **out, size_t *len,
			struct perr *e);

/* Reads a private file's content back: checks its shape, that records
 * are in strict id order with index == position, recomputes every leaf
 * and checks the root and count against its own commitment, so that a
 * damaged file is found here and not by the inspector. */
int commit_private_load(struct commit_set *s, const json_t *priv,
			struct perr *e);

/* Wipes the salts and releases the items. */
void commit_set_free(struct commit_set *s);

/* The disclosure of the item with the given id (a new reference). */
int commit_disclose(const struct commit_set *s, const char *id,
		    json_t **out, struct perr *e);

/* Checks a disclosure against the commitment c that the checker holds
 * from elsewhere (a data exchange, a log entry): the disclosure's own
 * commitment must be c, its index below c.count, and the leaf of its salt
 * and item must lead to c.root through its proof.  On success *id and
 * *index (each optional) receive the disclosed item's id (inside d) and
 * index.  Every failure names what is wrong, prefixed "disclosure: ". */
int commit_verify(const struct commit_root *c, const json_t *d,
		  const char **id, uint64_t *index, struct perr *e);

/* {"root": hex, "count": N}, nothing else; what names the value in
 * errors ("commitment"). */
int commit_root_parse(struct commit_root *c, const json_t *j,
		      const char *what, struct perr *e);
/* The same, as a new JSON object (root first). */
json_t *commit_root_json(const struct commit_root *c);

/* n bytes as 2n lowercase hex digits plus NUL. */
void commit_hex(char *out, const uint8_t *in, size_t n);
/* Exactly 2n lowercase hex digits (len characters) into n bytes.
 * Returns 0, or -1 on any other length or character. */
int commit_unhex(uint8_t *out, size_t n, const char *s, size_t len);

#endif
