/*
 * commit.c — salted Merkle commitments to an inventory and single-item
 * disclosures (see commit.h; docs/treaties.md, "Inspections").
 *
 * The tree and its proofs are RFC 6962's (src/core/merkle.h); this file
 * only decides what a leaf is (salt || canonical record), in which order
 * the leaves go (by id), and how the pieces are written down as JSON.
 */
#include "commit.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "b64.h"

#define COMMIT_DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)
#define COMMIT_PATH_MAX 160
#define COMMIT_B64_HASH B64_ENCLEN(MERKLE_HASH)

/* ---- hex ----------------------------------------------------------------- */

/* Roots and salts are written in lowercase hex, like the envelope's
 * seed-commit and seed-reveal, so that one value has one spelling. */
void commit_hex(char *out, const uint8_t *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Lowercase only: one value, one spelling (the same rule as the
 * envelope's seed fields). */
static int commit_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The exact length is part of the check: a 63- or 65-digit salt is an
 * error, not a truncation or a padding. */
int commit_unhex(uint8_t *out, size_t n, const char *s, size_t len)
{
	size_t i;

	if (len != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		int hi = commit_hexval(s[2 * i]), lo = commit_hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* A JSON string of exactly 64 lowercase hex digits into 32 bytes. */
static int commit_get_hex32(const json_t *v, uint8_t out[32])
{
	if (!json_is_string(v))
		return -1;
	return commit_unhex(out, 32, json_string_value(v), json_string_length(v));
}

/* ---- shapes -------------------------------------------------------------- */

/* Refuses any member of obj not in names (NULL-terminated), then any name
 * that is missing: a member one reader would ignore and another would use
 * must not exist (docs/treaties.md refuses unknown members by name). */
static int commit_members(const json_t *obj, const char *what,
			  const char *const *names, struct perr *e)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach ((json_t *)obj, key, v) {
		for (i = 0; names[i] != NULL && strcmp(names[i], key) != 0; i++)
			;
		if (names[i] == NULL)
			return perr_set(e, "%s: unexpected member \"%s\"", what, key);
	}
	for (i = 0; names[i] != NULL; i++)
		if (json_object_get(obj, names[i]) == NULL)
			return perr_set(e, "%s: no \"%s\" member", what, names[i]);
	return 0;
}

/* The commitment arrives from the other party (a data exchange, a file):
 * every member is checked and bounded before any hashing relies on it. */
int commit_root_parse(struct commit_root *c, const json_t *j, const char *what,
		      struct perr *e)
{
	static const char *const names[] = { "root", "count", NULL };
	const json_t *count;

	if (!json_is_object(j))
		return perr_set(e, "%s must be an object {\"root\": hex, \"count\": N}", what);
	if (commit_members(j, what, names, e) != 0)
		return -1;
	if (commit_get_hex32(json_object_get(j, "root"), c->root) != 0)
		return perr_set(e, "%s: root must be %d lowercase hex characters", what,
				COMMIT_HEX_LEN);
	count = json_object_get(j, "count");
	if (!json_is_integer(count) || json_integer_value(count) < 0 ||
	    json_integer_value(count) > COMMIT_MAX_COUNT)
		return perr_set(e, "%s: count must be an integer from 0 to %d", what,
				COMMIT_MAX_COUNT);
	c->count = (uint64_t)json_integer_value(count);
	return 0;
}

/* Root first, then count: the order a reader expects (jansson keeps the
 * insertion order). */
json_t *commit_root_json(const struct commit_root *c)
{
	char hex[2 * MERKLE_HASH + 1];

	commit_hex(hex, c->root, MERKLE_HASH);
	return json_pack("{s:s, s:I}", "root", hex, "count", (json_int_t)c->count);
}

/* ---- records and leaves -------------------------------------------------- */

/* Walks a value of the item: reals are refused because their text is not
 * reproducible across JSON libraries (1.0, 1e0, 0.1's 17 digits), and
 * nesting is bounded so that the walk and the dump stay shallow.  path
 * names the value in the message ("warheads", "pos.lat", "tags[2]"). */
static int commit_walk(const json_t *v, const char *path, int depth,
		       struct perr *e)
{
	char sub[COMMIT_PATH_MAX];
	const char *key;
	json_t *m;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_REAL:
		return perr_set(e, "\"%s\" is a JSON real (%.17g); committed records hold only "
				"integers, strings, booleans, null, objects and arrays",
				path, json_real_value(v));
	case JSON_OBJECT:
		if (depth > COMMIT_MAX_DEPTH)
			return perr_set(e, "\"%s\" nests deeper than %d levels", path,
					COMMIT_MAX_DEPTH);
		json_object_foreach ((json_t *)v, key, m) {
			int w = depth == 1 ? snprintf(sub, sizeof sub, "%s", key)
					   : snprintf(sub, sizeof sub, "%s.%s", path, key);
			if (w < 0 || (size_t)w >= sizeof sub)
				strcpy(sub + sizeof sub - 4, "...");
			if (commit_walk(m, sub, depth + 1, e) != 0)
				return -1;
		}
		return 0;
	case JSON_ARRAY:
		if (depth > COMMIT_MAX_DEPTH)
			return perr_set(e, "\"%s\" nests deeper than %d levels", path,
					COMMIT_MAX_DEPTH);
		json_array_foreach (v, i, m) {
			int w = snprintf(sub, sizeof sub, "%s[%zu]", path, i);
			if (w < 0 || (size_t)w >= sizeof sub)
				strcpy(sub + sizeof sub - 4, "...");
			if (commit_walk(m, sub, depth + 1, e) != 0)
				return -1;
		}
		return 0;
	default:
		return 0;
	}
}

/* The record is what the leaf commits to, so it must be one byte string
 * per item whatever tool wrote the item: jansson's compact, key-sorted
 * dump, after the walk has refused what would not reproduce (commit.h). */
int commit_canonical(const json_t *item, char *buf, size_t cap, size_t *len,
		     struct perr *e)
{
	size_t n;

	if (!json_is_object(item))
		return perr_set(e, "an item must be a JSON object");
	if (commit_walk(item, "the item", 1, e) != 0)
		return -1;
	/* json_dumpb returns the full length even when it does not fit. */
	n = json_dumpb(item, buf, cap, COMMIT_DUMP_FLAGS);
	if (n == 0)
		return perr_set(e, "the item cannot be written as JSON");
	if (n > COMMIT_RECORD_MAX)
		return perr_set(e, "its canonical record is %zu bytes, more than %d", n,
				COMMIT_RECORD_MAX);
	if (n > cap)
		return perr_set(e, "its canonical record is %zu bytes, more than the "
				"%zu-byte buffer", n, cap);
	*len = n;
	return 0;
}

/* The leaf input is salt || record in one buffer because merkle_leaf_hash
 * hashes one buffer; it is wiped, since salt and record together are what
 * the commitment hides. */
int commit_leaf(merkle_hash out, const uint8_t salt[COMMIT_SALT],
		const json_t *item, struct perr *e)
{
	char *buf = malloc(COMMIT_SALT + COMMIT_RECORD_MAX);
	size_t len;
	int rc;

	if (buf == NULL)
		return perr_set(e, "out of memory");
	memcpy(buf, salt, COMMIT_SALT);
	rc = commit_canonical(item, buf + COMMIT_SALT, COMMIT_RECORD_MAX, &len, e);
	if (rc == 0)
		merkle_leaf_hash(out, buf, COMMIT_SALT + len);
	/* Only what was written: wiping all 16 KiB per item dominated the
	 * cost of committing large inventories. */
	OPENSSL_cleanse(buf, COMMIT_SALT + (rc == 0 ? len : COMMIT_RECORD_MAX));
	free(buf);
	return rc;
}

/* The id orders the leaves with strcmp, so it must be a C string: an
 * embedded NUL would make two ids compare equal. */
int commit_item_id(const json_t *item, const char **id, struct perr *e)
{
	const json_t *v;

	if (!json_is_object(item))
		return perr_set(e, "an item must be a JSON object");
	v = json_object_get(item, "id");
	if (v == NULL)
		return perr_set(e, "no \"id\" member");
	if (!json_is_string(v))
		return perr_set(e, "\"id\" is not a string");
	if (json_string_length(v) == 0)
		return perr_set(e, "\"id\" is empty");
	if (strlen(json_string_value(v)) != json_string_length(v))
		return perr_set(e, "\"id\" contains a NUL character");
	*id = json_string_value(v);
	return 0;
}

/* ---- sets ---------------------------------------------------------------- */

/* Records start zeroed (item NULL), so commit_set_free is safe at any
 * point of filling them. */
static int commit_alloc(struct commit_set *s, size_t n, struct perr *e)
{
	memset(s, 0, sizeof *s);
	s->rec = calloc(n > 0 ? n : 1, sizeof *s->rec);
	s->leaves = malloc((n > 0 ? n : 1) * sizeof *s->leaves);
	if (s->rec == NULL || s->leaves == NULL) {
		free(s->rec);
		free(s->leaves);
		memset(s, 0, sizeof *s);
		return perr_set(e, "out of memory for %zu items", n);
	}
	s->n = n;
	return 0;
}

/* The salts are what keep undisclosed records private: they are wiped,
 * not just freed. */
void commit_set_free(struct commit_set *s)
{
	size_t i;

	if (s->rec != NULL) {
		for (i = 0; i < s->n; i++)
			json_decref(s->rec[i].item);
		OPENSSL_cleanse(s->rec, s->n * sizeof *s->rec);
	}
	free(s->rec);
	free(s->leaves);
	memset(s, 0, sizeof *s);
}

/* Leaves are in the bytewise order of the ids (strcmp compares as
 * unsigned char), the order every implementation can reproduce. */
static int commit_rec_cmp(const void *a, const void *b)
{
	return strcmp(((const struct commit_record *)a)->id,
		      ((const struct commit_record *)b)->id);
}

/* Salts are drawn in id order, after every id is checked, so that a test's
 * deterministic salt source gives salt k to the k-th item by id. */
int commit_build(struct commit_set *s, const json_t *items,
		 commit_salt_fn salt, void *ctx, struct perr *e)
{
	size_t i, n;

	memset(s, 0, sizeof *s);
	if (!json_is_array(items))
		return perr_set(e, "items must be a JSON array");
	n = json_array_size(items);
	if (n > COMMIT_MAX_COUNT)
		return perr_set(e, "%zu items, more than %d", n, COMMIT_MAX_COUNT);
	if (commit_alloc(s, n, e) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		json_t *it = json_array_get(items, i);
		if (commit_item_id(it, &s->rec[i].id, e) != 0) {
			perr_wrap(e, "items[%zu]", i);
			goto fail;
		}
		s->rec[i].item = json_incref(it);
	}
	qsort(s->rec, n, sizeof *s->rec, commit_rec_cmp);
	for (i = 1; i < n; i++)
		if (strcmp(s->rec[i - 1].id, s->rec[i].id) == 0) {
			perr_set(e, "id \"%s\" appears more than once", s->rec[i].id);
			goto fail;
		}
	for (i = 0; i < n; i++) {
		if (salt(ctx, s->rec[i].salt, e) != 0) {
			perr_wrap(e, "salt");
			goto fail;
		}
		if (commit_leaf(s->leaves[i], s->rec[i].salt, s->rec[i].item, e) != 0) {
			perr_wrap(e, "item \"%s\"", s->rec[i].id);
			goto fail;
		}
	}
	s->c.count = n;
	merkle_root_of(s->c.root, s->leaves, n);
	return 0;
fail:
	commit_set_free(s);
	return -1;
}

/* The private file is the one thing needed later to disclose: every
 * record with its index and salt, and the commitment it must add up to. */
int commit_private_json(const struct commit_set *s, json_t **out,
			struct perr *e)
{
	json_t *priv = json_object(), *recs = json_array();
	char hex[2 * COMMIT_SALT + 1];
	int bad = priv == NULL || recs == NULL;
	size_t i;

	*out = NULL;
	if (!bad)
		bad |= json_object_set_new(priv, "commitment", commit_root_json(&s->c)) != 0;
	for (i = 0; i < s->n && !bad; i++) {
		json_t *r = json_object();
		commit_hex(hex, s->rec[i].salt, COMMIT_SALT);
		bad |= r == NULL ||
		       json_object_set_new(r, "index", json_integer((json_int_t)i)) != 0 ||
		       json_object_set_new(r, "salt", json_string(hex)) != 0 ||
		       json_object_set(r, "item", s->rec[i].item) != 0;
		bad |= json_array_append_new(recs, r) != 0;
	}
	OPENSSL_cleanse(hex, sizeof hex);
	if (!bad)
		bad |= json_object_set(priv, "records", recs) != 0;
	json_decref(recs);
	if (bad) {
		json_decref(priv);
		return perr_set(e, "out of memory");
	}
	*out = priv;
	return 0;
}

/* A growing text buffer whose every copy is wiped: it holds salts. */
struct commit_text {
	char *p;
	size_t len, cap;
	int bad;
};

static void commit_text_add(struct commit_text *t, const char *s, size_t n)
{
	if (t->bad)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		char *np;
		while (cap < t->len + n + 1)
			cap *= 2;
		np = malloc(cap);
		if (np == NULL) {
			t->bad = 1;
			return;
		}
		if (t->p != NULL) {
			memcpy(np, t->p, t->len);
			OPENSSL_cleanse(t->p, t->cap);
			free(t->p);
		}
		t->p = np;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void commit_text_str(struct commit_text *t, const char *s)
{
	commit_text_add(t, s, strlen(s));
}

/* Adds the compact text of j (NULL: a failed allocation) and wipes the
 * temporary copy. */
static void commit_text_json(struct commit_text *t, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	if (s == NULL) {
		t->bad = 1;
		return;
	}
	commit_text_add(t, s, strlen(s));
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/* One record a line, because an indented dump of a large inventory is
 * three times larger than its items (and the CLI bounds what it reads). */
int commit_private_text(const struct commit_set *s, char **out, size_t *len,
			struct perr *e)
{
	struct commit_text t = { NULL, 0, 0, 0 };
	char hex[2 * COMMIT_SALT + 1];
	json_t *c = commit_root_json(&s->c);
	size_t i;

	*out = NULL;
	commit_text_str(&t, "{\n \"commitment\": ");
	commit_text_json(&t, c);
	json_decref(c);
	commit_text_str(&t, ",\n \"records\": [");
	for (i = 0; i < s->n && !t.bad; i++) {
		json_t *r;
		commit_hex(hex, s->rec[i].salt, COMMIT_SALT);
		r = json_pack("{s:I, s:s, s:O}", "index", (json_int_t)i, "salt", hex, "item",
			      s->rec[i].item);
		commit_text_str(&t, i == 0 ? "\n  " : ",\n  ");
		commit_text_json(&t, r);
		json_decref(r);
	}
	OPENSSL_cleanse(hex, sizeof hex);
	commit_text_str(&t, "\n ]\n}\n");
	if (t.bad) {
		if (t.p != NULL)
			OPENSSL_cleanse(t.p, t.cap);
		free(t.p);
		return perr_set(e, "out of memory");
	}
	*out = t.p;
	*len = t.len;
	return 0;
}

/* Everything is recomputed, not trusted: a damaged or edited private file
 * must be found by its holder, before a disclosure fails at the inspector. */
int commit_private_load(struct commit_set *s, const json_t *priv,
			struct perr *e)
{
	static const char *const top[] = { "commitment", "records", NULL };
	static const char *const rec[] = { "index", "salt", "item", NULL };
	struct commit_root c;
	const json_t *recs;
	merkle_hash root;
	char what[48];
	size_t i, n;

	memset(s, 0, sizeof *s);
	if (!json_is_object(priv))
		return perr_set(e, "a private commitment file must be a JSON object");
	if (commit_members(priv, "private commitment", top, e) != 0 ||
	    commit_root_parse(&c, json_object_get(priv, "commitment"), "commitment", e) != 0)
		return -1;
	recs = json_object_get(priv, "records");
	if (!json_is_array(recs))
		return perr_set(e, "records must be an array");
	n = json_array_size(recs);
	if (n != c.count)
		return perr_set(e, "%zu records, but its commitment counts %llu", n,
				(unsigned long long)c.count);
	if (commit_alloc(s, n, e) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		json_t *r = json_array_get(recs, i), *idx, *item;
		snprintf(what, sizeof what, "records[%zu]", i);
		if (!json_is_object(r)) {
			perr_set(e, "%s is not an object", what);
			goto fail;
		}
		if (commit_members(r, what, rec, e) != 0)
			goto fail;
		idx = json_object_get(r, "index");
		if (!json_is_integer(idx) || json_integer_value(idx) != (json_int_t)i) {
			perr_set(e, "%s: index must be %zu (records are listed in index order)",
				 what, i);
			goto fail;
		}
		if (commit_get_hex32(json_object_get(r, "salt"), s->rec[i].salt) != 0) {
			perr_set(e, "%s: salt must be %d lowercase hex characters", what,
				 COMMIT_HEX_LEN);
			goto fail;
		}
		item = json_object_get(r, "item");
		if (commit_item_id(item, &s->rec[i].id, e) != 0) {
			perr_wrap(e, "%s: item", what);
			goto fail;
		}
		s->rec[i].item = json_incref(item);
		if (i > 0 && strcmp(s->rec[i - 1].id, s->rec[i].id) >= 0) {
			perr_set(e, "%s: id \"%s\" does not come after \"%s\" (records are in "
				 "id order, ids distinct)", what, s->rec[i].id, s->rec[i - 1].id);
			goto fail;
		}
		if (commit_leaf(s->leaves[i], s->rec[i].salt, item, e) != 0) {
			perr_wrap(e, "%s: item", what);
			goto fail;
		}
	}
	merkle_root_of(root, s->leaves, n);
	if (memcmp(root, c.root, MERKLE_HASH) != 0) {
		perr_set(e, "its records do not hash to its commitment's root (the file "
			 "is damaged or was edited)");
		goto fail;
	}
	s->c = c;
	return 0;
fail:
	commit_set_free(s);
	return -1;
}

/* ---- disclosure ---------------------------------------------------------- */

/* merkle_reader over the set's leaves: a node is the root of its aligned
 * run of leaves.  One proof reads at most n leaves in all. */
static int commit_read_nodes(void *ctx, const struct merkle_node *nodes,
			     size_t n, merkle_hash *out, struct perr *e)
{
	const struct commit_set *s = ctx;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned lvl = nodes[i].level;
		if (lvl >= 63 || nodes[i].index >= ((uint64_t)s->n >> lvl))
			return perr_set(e, "node %u/%llu lies beyond the %zu committed items",
					lvl, (unsigned long long)nodes[i].index, s->n);
		merkle_root_of(out[i], s->leaves + (nodes[i].index << lvl),
			       (uint64_t)1 << lvl);
	}
	return 0;
}

/* Binary search: the records are in strcmp order of their ids. */
static int commit_find(const struct commit_set *s, const char *id, size_t *at)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->rec[mid].id, id);
		if (c == 0) {
			*at = mid;
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* A disclosure carries the commitment it belongs to, so that a checker
 * holding another one is told so before any proof is computed. */
int commit_disclose(const struct commit_set *s, const char *id, json_t **out,
		    struct perr *e)
{
	merkle_hash proof[MERKLE_MAX_PROOF];
	char hex[2 * COMMIT_SALT + 1], b64[COMMIT_B64_HASH + 1];
	json_t *d, *arr;
	size_t at, len, i;
	int bad;

	*out = NULL;
	if (commit_find(s, id, &at) != 0)
		return perr_set(e, "no item with id \"%s\" in the commitment", id);
	if (merkle_prove_inclusion(proof, &len, at, s->n, commit_read_nodes, (void *)s,
				   e) != 0)
		return perr_wrap(e, "inclusion proof of item \"%s\"", id);
	assert(len <= COMMIT_MAX_PROOF);
	d = json_object();
	arr = json_array();
	bad = d == NULL || arr == NULL;
	for (i = 0; i < len && !bad; i++) {
		b64_encode(b64, proof[i], MERKLE_HASH);
		bad |= json_array_append_new(arr, json_string(b64)) != 0;
	}
	commit_hex(hex, s->rec[at].salt, COMMIT_SALT);
	if (!bad)
		bad |= json_object_set_new(d, "commitment", commit_root_json(&s->c)) != 0 ||
		       json_object_set_new(d, "index", json_integer((json_int_t)at)) != 0 ||
		       json_object_set_new(d, "salt", json_string(hex)) != 0 ||
		       json_object_set(d, "item", s->rec[at].item) != 0 ||
		       json_object_set(d, "proof", arr) != 0;
	json_decref(arr);
	if (bad) {
		json_decref(d);
		return perr_set(e, "out of memory");
	}
	*out = d;
	return 0;
}

/* The checks run from the cheapest and most telling (is this disclosure
 * about the commitment I hold at all?) to the hash computation, so that
 * the message names the first thing that is wrong. */
int commit_verify(const struct commit_root *c, const json_t *d,
		  const char **idp, uint64_t *indexp, struct perr *e)
{
	static const char *const names[] = { "commitment", "index", "salt", "item",
					     "proof", NULL };
	struct commit_root dc;
	merkle_hash proof[COMMIT_MAX_PROOF], leaf;
	uint8_t salt[COMMIT_SALT];
	const json_t *idx, *pr, *item;
	const char *id;
	json_int_t index;
	size_t i, len;
	int rc;

	if (!json_is_object(d))
		return perr_set(e, "disclosure: not a JSON object");
	if (commit_members(d, "disclosure", names, e) != 0 ||
	    commit_root_parse(&dc, json_object_get(d, "commitment"),
			      "disclosure: commitment", e) != 0)
		return -1;
	if (dc.count != c->count || memcmp(dc.root, c->root, MERKLE_HASH) != 0) {
		char a[2 * MERKLE_HASH + 1], b[2 * MERKLE_HASH + 1];
		commit_hex(a, dc.root, MERKLE_HASH);
		commit_hex(b, c->root, MERKLE_HASH);
		return perr_set(e, "disclosure: it is for another commitment (root %.16s... "
				"count %llu, not root %.16s... count %llu)", a,
				(unsigned long long)dc.count, b,
				(unsigned long long)c->count);
	}
	idx = json_object_get(d, "index");
	if (!json_is_integer(idx) || json_integer_value(idx) < 0)
		return perr_set(e, "disclosure: index must be a non-negative integer");
	index = json_integer_value(idx);
	if ((uint64_t)index >= c->count)
		return perr_set(e, "disclosure: index %lld is not below count %llu",
				(long long)index, (unsigned long long)c->count);
	if (commit_get_hex32(json_object_get(d, "salt"), salt) != 0)
		return perr_set(e, "disclosure: salt must be %d lowercase hex characters",
				COMMIT_HEX_LEN);
	item = json_object_get(d, "item");
	if (commit_item_id(item, &id, e) != 0)
		return perr_wrap(e, "disclosure: item");
	pr = json_object_get(d, "proof");
	if (!json_is_array(pr))
		return perr_set(e, "disclosure: proof must be an array of base64 hashes");
	len = json_array_size(pr);
	if (len > COMMIT_MAX_PROOF)
		return perr_set(e, "disclosure: proof has %zu hashes, more than %d", len,
				COMMIT_MAX_PROOF);
	for (i = 0; i < len; i++) {
		const json_t *h = json_array_get(pr, i);
		if (!json_is_string(h) ||
		    merkle_hash_from_b64(proof[i], json_string_value(h),
					 json_string_length(h), NULL) != 0)
			return perr_set(e, "disclosure: proof[%zu] is not a base64 SHA-256 hash",
					i);
	}
	rc = commit_leaf(leaf, salt, item, e);
	OPENSSL_cleanse(salt, sizeof salt);
	if (rc != 0)
		return perr_wrap(e, "disclosure: item \"%s\"", id);
	if (merkle_verify_inclusion(leaf, MERKLE_HASH, (uint64_t)index, c->count,
				    (const merkle_hash *)proof, len, c->root,
				    MERKLE_HASH, e) != 0)
		return perr_wrap(e, "disclosure: item does not match the commitment "
				 "(inclusion proof fails)");
	if (idp != NULL)
		*idp = id;
	if (indexp != NULL)
		*indexp = (uint64_t)index;
	return 0;
}
