/*
 * test_commit.c — salted Merkle commitments and single-item disclosures
 * (src/treaty/commit.h; docs/treaties.md, "Inspections").
 *
 * The source of truth for roots and leaves is computed here, independently
 * of commit.c and merkle.c: canonical records written out by hand (or by
 * snprintf), leaves as OpenSSL SHA-256 of 0x00 || salt || record, and the
 * RFC 6962 tree hash MTH by its recursive definition (§2.1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/sha.h>

#include "b64.h"
#include "commit.h"
#include "../core/testutil.h"

#define SALT_SEED 0x5eed5a17ULL

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */

static void clear_err(struct perr *e)
{
	e->msg[0] = '\0';
}

static json_t *parse(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);

	if (j == NULL)
		fail_msg("test JSON does not parse: %s: %s", je.text, text);
	return j;
}

/* Deterministic salts: the splitmix64 stream of testutil from a seed; a
 * call number may be made to fail. */
struct salts {
	uint64_t state;
	int calls;
	int fail_at; /* -1: never */
};

static int salt_fn(void *ctx, uint8_t salt[COMMIT_SALT], struct perr *e)
{
	struct salts *s = ctx;

	if (s->calls++ == s->fail_at)
		return perr_set(e, "no randomness today");
	tu_rand_bytes(&s->state, salt, COMMIT_SALT);
	return 0;
}

static struct salts salts_from(uint64_t seed)
{
	struct salts s = { .state = seed, .calls = 0, .fail_at = -1 };
	return s;
}

/* Independent reference: SHA-256(0x00 || salt || record). */
static void ref_leaf(uint8_t out[32], const uint8_t salt[32], const char *record)
{
	SHA256_CTX c;
	uint8_t zero = 0;

	SHA256_Init(&c);
	SHA256_Update(&c, &zero, 1);
	SHA256_Update(&c, salt, 32);
	SHA256_Update(&c, record, strlen(record));
	SHA256_Final(out, &c);
}

/* RFC 6962 §2.1: MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])),
 * k the largest power of two smaller than n. */
static void ref_mth(uint8_t out[32], uint8_t (*leaves)[32], size_t n)
{
	uint8_t buf[65];
	size_t k = 1;

	if (n == 1) {
		memcpy(out, leaves[0], 32);
		return;
	}
	while (k * 2 < n)
		k *= 2;
	buf[0] = 0x01;
	ref_mth(buf + 1, leaves, k);
	ref_mth(buf + 33, leaves + k, n - k);
	SHA256(buf, sizeof buf, out);
}

/* n items {"status", "n", "id": "item-%04zu"} (members deliberately not in
 * sorted order), inserted in a scrambled order so that the commitment must
 * sort them. */
static json_t *make_items(size_t n)
{
	json_t *arr = json_array();
	size_t j;

	for (j = 0; j < n; j++) {
		/* 7919 is prime and n < 7919, so this permutes 0..n-1 */
		size_t i = (j * 7919) % n;
		char id[32];
		snprintf(id, sizeof id, "item-%04zu", i);
		json_array_append_new(arr, json_pack("{s:s, s:I, s:s}", "status",
						     i % 3 ? "deployed" : "non_deployed", "n",
						     (json_int_t)i, "id", id));
	}
	return arr;
}

/* The canonical record of make_items' item i, written out independently. */
static void ref_record(char *out, size_t cap, size_t i)
{
	snprintf(out, cap, "{\"id\":\"item-%04zu\",\"n\":%zu,\"status\":\"%s\"}", i, i,
		 i % 3 ? "deployed" : "non_deployed");
}

static void build(struct commit_set *s, size_t n)
{
	struct salts sa = salts_from(SALT_SEED);
	json_t *items = make_items(n);
	struct perr e;

	tu_expect_ok(commit_build(s, items, salt_fn, &sa, &e), &e);
	json_decref(items);
}

static void root_hex(char out[65], const struct commit_set *s)
{
	commit_hex(out, s->c.root, 32);
}

/* ---------------------------------------------------------------------- */
/* Canonical records                                                        */

static void check_canonical(const char *in, const char *want)
{
	char buf[COMMIT_RECORD_MAX];
	json_t *j = parse(in);
	struct perr e;
	size_t len;

	tu_expect_ok(commit_canonical(j, buf, sizeof buf, &len, &e), &e);
	if (len != strlen(want) || memcmp(buf, want, len) != 0)
		fail_msg("canonical record of %s is %.*s, expected %s", in, (int)len, buf, want);
	json_decref(j);
}

static void test_canonical_records_are_compact_sorted_utf8(void **state)
{
	(void)state;
	/* the example of the brief: members sorted, '/' not escaped */
	check_canonical("{\"warheads\": 4, \"id\": \"a/b\", \"status\": \"deployed\"}",
			"{\"id\":\"a/b\",\"status\":\"deployed\",\"warheads\":4}");
	/* byte order of names at every level: "B" < "a" < "ab" < "b" < "é" */
	check_canonical("{\"é\": [1, {\"z\": null, \"B\": true}], \"b\": \"x\", \"ab\": 2,"
			" \"a\": 1, \"B\": false}",
			"{\"B\":false,\"a\":1,\"ab\":2,\"b\":\"x\",\"\xc3\xa9\":"
			"[1,{\"B\":true,\"z\":null}]}");
	/* UTF-8 as is (no \u escapes), DEL and U+2028 as is; control
	 * characters as JSON's mandatory escapes (\t, \u001F upper-case) */
	check_canonical("{\"id\": \"\\u00e9\\u2028\\u007f\", \"t\": \"a\\tb\\u001fc\\\"\\\\\"}",
			"{\"id\":\"\xc3\xa9\xe2\x80\xa8\x7f\",\"t\":\"a\\tb\\u001Fc\\\"\\\\\"}");
	/* integers, negative and -0 (an integer zero), empty containers */
	check_canonical("{\"id\": \"x\", \"n\": -12, \"z\": -0, \"o\": {}, \"a\": []}",
			"{\"a\":[],\"id\":\"x\",\"n\":-12,\"o\":{},\"z\":0}");
}

static void test_reals_deep_nesting_and_large_records_are_refused(void **state)
{
	char buf[COMMIT_RECORD_MAX];
	struct perr e;
	size_t len;
	json_t *j;
	char *big;
	int i;

	(void)state;
	j = parse("{\"id\": \"x\", \"warheads\": 4.0}");
	tu_expect_error(commit_canonical(j, buf, sizeof buf, &len, &e), &e,
		     "\"warheads\" is a JSON real");
	json_decref(j);
	j = parse("{\"id\": \"x\", \"pos\": {\"lat\": 55, \"lon\": [37, 1e2]}}");
	tu_expect_error(commit_canonical(j, buf, sizeof buf, &len, &e), &e,
		     "\"pos.lon[1]\" is a JSON real");
	json_decref(j);
	j = parse("[1]");
	tu_expect_error(commit_canonical(j, buf, sizeof buf, &len, &e), &e,
		     "must be a JSON object");
	json_decref(j);

	/* depth: the item is 1, so 15 nested arrays are fine and 16 are not */
	for (i = 15; i <= 16; i++) {
		char text[128];
		int k, n = 0;
		n += snprintf(text + n, sizeof text - (size_t)n, "{\"id\":\"x\",\"d\":");
		for (k = 0; k < i; k++)
			text[n++] = '[';
		for (k = 0; k < i; k++)
			text[n++] = ']';
		snprintf(text + n, sizeof text - (size_t)n, "}");
		j = parse(text);
		if (i == 15)
			tu_expect_ok(commit_canonical(j, buf, sizeof buf, &len, &e), &e);
		else
			tu_expect_error(commit_canonical(j, buf, sizeof buf, &len, &e), &e,
				     "nests deeper than 16 levels");
		json_decref(j);
	}

	/* size: a record of exactly 16,384 bytes is accepted, one more not */
	big = malloc(COMMIT_RECORD_MAX + 1);
	assert_non_null(big);
	for (i = 0; i < 2; i++) {
		/* {"id":"x","t":"..."} is 17 bytes around the text */
		size_t tlen = COMMIT_RECORD_MAX - 17 + (size_t)i;
		memset(big, 'a', tlen);
		big[tlen] = '\0';
		j = json_pack("{s:s, s:s}", "id", "x", "t", big);
		if (i == 0) {
			tu_expect_ok(commit_canonical(j, buf, sizeof buf, &len, &e), &e);
			assert_int_equal(len, COMMIT_RECORD_MAX);
		} else {
			tu_expect_error(commit_canonical(j, buf, sizeof buf, &len, &e), &e,
				     "16385 bytes, more than 16384");
		}
		json_decref(j);
	}
	free(big);
	/* a buffer smaller than the record */
	j = parse("{\"id\": \"abcdef\"}");
	tu_expect_error(commit_canonical(j, buf, 8, &len, &e), &e, "8-byte buffer");
	json_decref(j);
}

/* ---------------------------------------------------------------------- */
/* Roots                                                                   */

static void check_root(size_t n)
{
	struct salts sa = salts_from(SALT_SEED);
	uint8_t (*leaves)[32] = malloc(n * 32), root[32], salt[32];
	struct commit_set s;
	char rec[128];
	size_t i;

	assert_non_null(leaves);
	build(&s, n);
	assert_int_equal(s.c.count, n);
	assert_int_equal(s.n, n);
	/* salts are drawn in id order: the k-th salt goes to the k-th id */
	for (i = 0; i < n; i++) {
		tu_rand_bytes(&sa.state, salt, 32);
		ref_record(rec, sizeof rec, i);
		ref_leaf(leaves[i], salt, rec);
		assert_memory_equal(s.rec[i].salt, salt, 32);
		assert_memory_equal(s.leaves[i], leaves[i], 32);
	}
	ref_mth(root, leaves, n);
	if (memcmp(root, s.c.root, 32) != 0)
		fail_msg("root of %zu items differs from the independent MTH", n);
	/* and again through a hand-written root of the hash of one leaf */
	if (n == 1)
		assert_memory_equal(s.c.root, leaves[0], 32);
	commit_set_free(&s);
	free(leaves);
}

static void test_roots_match_an_independent_computation(void **state)
{
	(void)state;
	check_root(1);
	check_root(2);
	check_root(3);
	check_root(1000);
}

static void test_an_empty_inventory_commits_to_the_empty_root(void **state)
{
	struct salts sa = salts_from(1);
	struct commit_set s;
	json_t *items = json_array(), *j;
	struct perr e;
	char hex[65];

	(void)state;
	tu_expect_ok(commit_build(&s, items, salt_fn, &sa, &e), &e);
	assert_int_equal(s.c.count, 0);
	root_hex(hex, &s);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	tu_expect_error(commit_disclose(&s, "x", &j, &e), &e, "no item with id \"x\"");
	commit_set_free(&s);
	json_decref(items);
}

static void test_the_root_depends_on_every_salt_and_record(void **state)
{
	struct salts sa = salts_from(SALT_SEED + 1);
	struct commit_set a, b;
	json_t *items = make_items(5);
	struct perr e;

	(void)state;
	build(&a, 5);
	/* other salts, same items: another root (the salts hide the records) */
	tu_expect_ok(commit_build(&b, items, salt_fn, &sa, &e), &e);
	assert_memory_not_equal(a.c.root, b.c.root, 32);
	commit_set_free(&b);
	/* same salts, one field changed: another root */
	sa = salts_from(SALT_SEED);
	json_object_set_new(json_array_get(items, 2), "n", json_integer(99));
	tu_expect_ok(commit_build(&b, items, salt_fn, &sa, &e), &e);
	assert_memory_not_equal(a.c.root, b.c.root, 32);
	commit_set_free(&b);
	commit_set_free(&a);
	json_decref(items);
}

/* ---------------------------------------------------------------------- */
/* Refused inventories                                                     */

static void check_refused(const char *items_text, const char *needle)
{
	struct salts sa = salts_from(1);
	struct commit_set s;
	json_t *items = parse(items_text);
	struct perr e;

	clear_err(&e);
	tu_expect_error(commit_build(&s, items, salt_fn, &sa, &e), &e, needle);
	/* the set is left empty and freeing it is harmless */
	assert_int_equal(s.n, 0);
	assert_null(s.rec);
	commit_set_free(&s);
	json_decref(items);
}

static void test_items_need_distinct_string_ids_and_integer_values(void **state)
{
	(void)state;
	check_refused("[{\"id\": \"a\"}, {\"id\": \"b\"}, {\"id\": \"a\"}]",
		      "id \"a\" appears more than once");
	check_refused("[{\"id\": \"a\"}, {\"name\": \"b\"}]", "items[1]: no \"id\" member");
	check_refused("[{\"id\": 7}]", "items[0]: \"id\" is not a string");
	check_refused("[{\"id\": \"\"}]", "items[0]: \"id\" is empty");
	check_refused("[{\"id\": \"a\"}, 3]", "items[1]: an item must be a JSON object");
	check_refused("[{\"id\": \"a\", \"yield\": 0.5}]",
		      "item \"a\": \"yield\" is a JSON real (0.5)");
	check_refused("[{\"id\": \"a\", \"yield\": 1e3}]", "\"yield\" is a JSON real");
	check_refused("{\"id\": \"a\"}", "items must be a JSON array");
}

static void test_an_id_with_a_nul_byte_is_refused(void **state)
{
	struct salts sa = salts_from(1);
	struct commit_set s;
	json_t *items = json_array(), *it = json_object();
	struct perr e;

	(void)state;
	json_object_set_new(it, "id", json_stringn("a\0b", 3));
	json_array_append_new(items, it);
	tu_expect_error(commit_build(&s, items, salt_fn, &sa, &e), &e,
		     "\"id\" contains a NUL character");
	json_decref(items);
}

static void test_a_failing_salt_source_fails_the_commitment(void **state)
{
	struct salts sa = salts_from(1);
	struct commit_set s;
	json_t *items = make_items(4);
	struct perr e;

	(void)state;
	sa.fail_at = 2;
	tu_expect_error(commit_build(&s, items, salt_fn, &sa, &e), &e,
		     "salt: no randomness today");
	assert_int_equal(s.n, 0);
	json_decref(items);
}

/* ---------------------------------------------------------------------- */
/* Disclosures                                                             */

/* A disclosure survives being written and read as text. */
static json_t *reparse(const json_t *j)
{
	char *text = json_dumps(j, JSON_INDENT(2));
	json_t *r;

	assert_non_null(text);
	r = parse(text);
	free(text);
	return r;
}

static void test_every_item_of_37_discloses_and_verifies(void **state)
{
	struct commit_set s;
	struct perr e;
	size_t i;

	(void)state;
	build(&s, 37);
	for (i = 0; i < 37; i++) {
		char id[32];
		const char *got_id = NULL;
		uint64_t got_index = 99;
		json_t *d, *t;
		snprintf(id, sizeof id, "item-%04zu", i);
		tu_expect_ok(commit_disclose(&s, id, &d, &e), &e);
		t = reparse(d);
		tu_expect_ok(commit_verify(&s.c, t, &got_id, &got_index, &e), &e);
		assert_string_equal(got_id, id);
		assert_int_equal(got_index, i);
		/* the disclosure carries the index and a proof of the RFC 6962
		 * length: 37 = 32 + (4 + 1), so leaves 0..31 need 5 + 1
		 * hashes, 32..35 need 2 + 1 + 1, and 36 needs 1 + 1 */
		assert_int_equal(json_integer_value(json_object_get(t, "index")), (json_int_t)i);
		assert_int_equal(json_array_size(json_object_get(t, "proof")),
				 i < 32 ? 6 : i < 36 ? 4 : 2);
		json_decref(t);
		json_decref(d);
	}
	commit_set_free(&s);
}

/* Applies one change to a copy of a good disclosure and expects the
 * verification against the set's commitment to fail mentioning needle. */
typedef void (*tamper_fn)(json_t *d);

static void check_tamper(const struct commit_set *s, const json_t *good,
			 tamper_fn fn, const char *needle)
{
	json_t *d = json_deep_copy(good);
	struct perr e;

	fn(d);
	clear_err(&e);
	tu_expect_error(commit_verify(&s->c, d, NULL, NULL, &e), &e, needle);
	json_decref(d);
}

static void t_field(json_t *d)
{
	json_object_set_new(json_object_get(d, "item"), "status", json_string("eliminated"));
}
static void t_field_added(json_t *d)
{
	json_object_set_new(json_object_get(d, "item"), "base", json_string("Uzhur"));
}
static void t_field_removed(json_t *d)
{
	json_object_del(json_object_get(d, "item"), "status");
}
static void t_id(json_t *d)
{
	json_object_set_new(json_object_get(d, "item"), "id", json_string("item-0018"));
}
static void t_item_real(json_t *d)
{
	json_object_set_new(json_object_get(d, "item"), "n", json_real(17.0));
}
static void t_item_no_id(json_t *d)
{
	json_object_del(json_object_get(d, "item"), "id");
}
static void t_salt(json_t *d)
{
	char s[65];
	strcpy(s, json_string_value(json_object_get(d, "salt")));
	s[10] = s[10] == '0' ? '1' : '0';
	json_object_set_new(d, "salt", json_string(s));
}
static void t_salt_upper(json_t *d)
{
	char s[65];
	size_t i;
	strcpy(s, json_string_value(json_object_get(d, "salt")));
	for (i = 0; s[i]; i++)
		if (s[i] >= 'a' && s[i] <= 'f')
			s[i] = (char)(s[i] - 'a' + 'A');
	json_object_set_new(d, "salt", json_string(s));
}
static void t_salt_short(json_t *d)
{
	char s[65];
	strcpy(s, json_string_value(json_object_get(d, "salt")));
	s[62] = '\0';
	json_object_set_new(d, "salt", json_string(s));
}
static void t_index(json_t *d)
{
	json_object_set_new(d, "index", json_integer(16));
}
static void t_index_count(json_t *d)
{
	json_object_set_new(d, "index", json_integer(37));
}
static void t_index_negative(json_t *d)
{
	json_object_set_new(d, "index", json_integer(-1));
}
static void t_index_string(json_t *d)
{
	json_object_set_new(d, "index", json_string("17"));
}
static void t_proof(json_t *d)
{
	/* a well-formed hash, but the wrong one */
	json_array_set_new(json_object_get(d, "proof"), 2,
			   json_string("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="));
}
static void t_proof_swapped(json_t *d)
{
	json_t *p = json_object_get(d, "proof"), *a = json_incref(json_array_get(p, 0));
	json_array_set(p, 0, json_array_get(p, 1));
	json_array_set_new(p, 1, a);
}
static void t_proof_bad_b64(json_t *d)
{
	json_array_set_new(json_object_get(d, "proof"), 1, json_string("not base64"));
}
static void t_proof_short_hash(json_t *d)
{
	json_array_set_new(json_object_get(d, "proof"), 1, json_string("AAAA"));
}
static void t_proof_shorter(json_t *d)
{
	json_t *p = json_object_get(d, "proof");
	json_array_remove(p, json_array_size(p) - 1);
}
static void t_proof_longer(json_t *d)
{
	json_array_append_new(json_object_get(d, "proof"),
			      json_string("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="));
}
static void t_proof_65(json_t *d)
{
	json_t *p = json_object_get(d, "proof");
	while (json_array_size(p) < 65)
		json_array_append_new(p, json_string("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="));
}
static void t_proof_not_array(json_t *d)
{
	json_object_set_new(d, "proof", json_string("x"));
}
static void t_count(json_t *d)
{
	json_object_set_new(json_object_get(d, "commitment"), "count", json_integer(38));
}
static void t_root(json_t *d)
{
	char s[65];
	json_t *c = json_object_get(d, "commitment");
	strcpy(s, json_string_value(json_object_get(c, "root")));
	s[0] = s[0] == 'a' ? 'b' : 'a';
	json_object_set_new(c, "root", json_string(s));
}
static void t_extra_member(json_t *d)
{
	json_object_set_new(d, "note", json_string("trust me"));
}
static void t_no_salt(json_t *d)
{
	json_object_del(d, "salt");
}
static void t_no_commitment(json_t *d)
{
	json_object_del(d, "commitment");
}

static void test_a_tampered_disclosure_is_rejected_naming_the_fault(void **state)
{
	static const char *const fails = "item does not match the commitment "
					 "(inclusion proof fails)";
	struct commit_set s;
	struct perr e;
	json_t *good;

	(void)state;
	build(&s, 37);
	tu_expect_ok(commit_disclose(&s, "item-0017", &good, &e), &e);
	tu_expect_ok(commit_verify(&s.c, good, NULL, NULL, &e), &e);

	/* the record */
	check_tamper(&s, good, t_field, fails);
	check_tamper(&s, good, t_field_added, fails);
	check_tamper(&s, good, t_field_removed, fails);
	check_tamper(&s, good, t_id, fails);
	check_tamper(&s, good, t_item_real, "disclosure: item \"item-0017\": \"n\" is a JSON real");
	check_tamper(&s, good, t_item_no_id, "disclosure: item: no \"id\" member");
	/* the salt */
	check_tamper(&s, good, t_salt, fails);
	check_tamper(&s, good, t_salt_upper, "disclosure: salt must be 64 lowercase hex characters");
	check_tamper(&s, good, t_salt_short, "disclosure: salt must be 64 lowercase hex characters");
	check_tamper(&s, good, t_no_salt, "disclosure: no \"salt\" member");
	/* the index */
	check_tamper(&s, good, t_index, fails);
	check_tamper(&s, good, t_index_count, "disclosure: index 37 is not below count 37");
	check_tamper(&s, good, t_index_negative, "disclosure: index must be a non-negative integer");
	check_tamper(&s, good, t_index_string, "disclosure: index must be a non-negative integer");
	/* the proof */
	check_tamper(&s, good, t_proof, fails);
	check_tamper(&s, good, t_proof_swapped, fails);
	check_tamper(&s, good, t_proof_shorter, "too few");
	check_tamper(&s, good, t_proof_longer, "too many");
	check_tamper(&s, good, t_proof_bad_b64, "disclosure: proof[1] is not a base64 SHA-256 hash");
	check_tamper(&s, good, t_proof_short_hash, "disclosure: proof[1] is not a base64 SHA-256 hash");
	check_tamper(&s, good, t_proof_65, "disclosure: proof has 65 hashes, more than 64");
	check_tamper(&s, good, t_proof_not_array, "disclosure: proof must be an array");
	/* the commitment it claims */
	check_tamper(&s, good, t_count, "disclosure: it is for another commitment");
	check_tamper(&s, good, t_root, "disclosure: it is for another commitment");
	check_tamper(&s, good, t_no_commitment, "disclosure: no \"commitment\" member");
	/* members that are not part of the format */
	check_tamper(&s, good, t_extra_member, "disclosure: unexpected member \"note\"");

	json_decref(good);
	commit_set_free(&s);
}

/* A disclosure whose commitment was changed together with the checker's
 * copy (a forged data exchange) fails on the proof, not on bookkeeping. */
static void test_a_disclosure_fails_against_another_commitment(void **state)
{
	struct commit_set s, other;
	struct commit_root c;
	struct perr e;
	json_t *d, *t;

	(void)state;
	build(&s, 37);
	tu_expect_ok(commit_disclose(&s, "item-0005", &d, &e), &e);

	/* another root, same count, in both places */
	c = s.c;
	c.root[31] ^= 1;
	t = json_deep_copy(d);
	json_object_set_new(t, "commitment", commit_root_json(&c));
	tu_expect_error(commit_verify(&c, t, NULL, NULL, &e), &e,
		     "item does not match the commitment (inclusion proof fails)");
	json_decref(t);

	/* another count, in both places.  A proof only fixes the left/right
	 * turns of its path, and item 5's turns are the same in trees of 37
	 * and 38 leaves (it lies in the first 32 in both), so its disclosure
	 * does verify under (root, 38): the count is bound by the checker's
	 * copy of the commitment (the data exchange's item_count), not by one
	 * proof.  The last item's path differs (36 = 32 + 4 then a single
	 * leaf in 37; 32 + 4 + 2 in 38), so its disclosure fails. */
	c = s.c;
	c.count = 38;
	t = json_deep_copy(d);
	json_object_set_new(t, "commitment", commit_root_json(&c));
	tu_expect_ok(commit_verify(&c, t, NULL, NULL, &e), &e);
	json_decref(t);
	json_decref(d);
	tu_expect_ok(commit_disclose(&s, "item-0036", &d, &e), &e);
	t = json_deep_copy(d);
	json_object_set_new(t, "commitment", commit_root_json(&c));
	tu_expect_error(commit_verify(&c, t, NULL, NULL, &e), &e,
		     "item does not match the commitment (inclusion proof fails)");
	json_decref(t);

	/* the checker holds another commitment than the disclosure's */
	build(&other, 36);
	tu_expect_error(commit_verify(&other.c, d, NULL, NULL, &e), &e,
		     "disclosure: it is for another commitment");
	commit_set_free(&other);

	json_decref(d);
	commit_set_free(&s);
}

static void test_disclosing_an_unknown_id_is_an_error(void **state)
{
	struct commit_set s;
	struct perr e;
	json_t *d;

	(void)state;
	build(&s, 10);
	tu_expect_error(commit_disclose(&s, "item-0010", &d, &e), &e,
		     "no item with id \"item-0010\" in the commitment");
	assert_null(d);
	tu_expect_error(commit_disclose(&s, "", &d, &e), &e, "no item with id");
	commit_set_free(&s);
}

/* ---------------------------------------------------------------------- */
/* The private file                                                        */

static void test_the_private_file_reads_back_to_the_same_commitment(void **state)
{
	struct commit_set s, back;
	struct perr e;
	json_t *priv, *t, *r0;
	char a[65], b[65];
	size_t i;

	(void)state;
	build(&s, 37);
	tu_expect_ok(commit_private_json(&s, &priv, &e), &e);
	t = reparse(priv);
	/* shape: {"commitment": {root, count}, "records": [{index, salt, item}]} */
	r0 = json_array_get(json_object_get(t, "records"), 0);
	assert_int_equal(json_integer_value(json_object_get(r0, "index")), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(r0, "item"), "id")),
			    "item-0000");
	assert_int_equal(json_string_length(json_object_get(r0, "salt")), 64);
	tu_expect_ok(commit_private_load(&back, t, &e), &e);
	root_hex(a, &s);
	root_hex(b, &back);
	assert_string_equal(a, b);
	assert_int_equal(back.c.count, 37);
	/* and it discloses exactly what the original set does */
	for (i = 0; i < 37; i += 6) {
		char id[32];
		json_t *d1, *d2;
		snprintf(id, sizeof id, "item-%04zu", i);
		tu_expect_ok(commit_disclose(&s, id, &d1, &e), &e);
		tu_expect_ok(commit_disclose(&back, id, &d2, &e), &e);
		assert_true(json_equal(d1, d2));
		json_decref(d1);
		json_decref(d2);
	}
	commit_set_free(&back);
	json_decref(t);
	json_decref(priv);

	/* the text form: the same content, one record a line */
	{
		char *text, *line;
		size_t len, lines = 0;
		tu_expect_ok(commit_private_text(&s, &text, &len, &e), &e);
		assert_int_equal(len, strlen(text));
		for (line = text; (line = strstr(line, "\n  {\"index\":")) != NULL; line++)
			lines++;
		assert_int_equal(lines, 37);
		t = parse(text);
		tu_expect_ok(commit_private_load(&back, t, &e), &e);
		assert_memory_equal(back.c.root, s.c.root, 32);
		commit_set_free(&back);
		json_decref(t);
		free(text);
	}
	commit_set_free(&s);
}

static void test_the_private_text_of_no_items_is_valid_json(void **state)
{
	struct salts sa = salts_from(1);
	struct commit_set s, back;
	json_t *items = json_array(), *t;
	struct perr e;
	char *text;
	size_t len;

	(void)state;
	tu_expect_ok(commit_build(&s, items, salt_fn, &sa, &e), &e);
	tu_expect_ok(commit_private_text(&s, &text, &len, &e), &e);
	t = parse(text);
	tu_expect_ok(commit_private_load(&back, t, &e), &e);
	assert_int_equal(back.c.count, 0);
	commit_set_free(&back);
	json_decref(t);
	free(text);
	commit_set_free(&s);
	json_decref(items);
}

static void check_private_refused(const json_t *good, void (*fn)(json_t *),
				  const char *needle)
{
	struct commit_set s;
	json_t *p = json_deep_copy(good);
	struct perr e;

	fn(p);
	tu_expect_error(commit_private_load(&s, p, &e), &e, needle);
	assert_int_equal(s.n, 0);
	commit_set_free(&s);
	json_decref(p);
}

static json_t *rec_of(json_t *p, size_t i)
{
	return json_array_get(json_object_get(p, "records"), i);
}
static void p_salt(json_t *p)
{
	json_object_set_new(rec_of(p, 3), "salt",
			    json_string("00000000000000000000000000000000"
					"00000000000000000000000000000000"));
}
static void p_field(json_t *p)
{
	json_object_set_new(json_object_get(rec_of(p, 3), "item"), "n", json_integer(4));
}
static void p_swap(json_t *p)
{
	json_t *r = json_object_get(p, "records"), *a = json_incref(json_array_get(r, 1));
	json_array_set(r, 1, json_array_get(r, 2));
	json_array_set_new(r, 2, a);
	json_object_set_new(json_array_get(r, 1), "index", json_integer(1));
	json_object_set_new(json_array_get(r, 2), "index", json_integer(2));
}
static void p_index(json_t *p)
{
	json_object_set_new(rec_of(p, 4), "index", json_integer(5));
}
static void p_drop(json_t *p)
{
	json_array_remove(json_object_get(p, "records"), 6);
}
static void p_extra(json_t *p)
{
	json_object_set_new(p, "comment", json_string("x"));
}
static void p_rec_extra(json_t *p)
{
	json_object_set_new(rec_of(p, 0), "leaf", json_string("x"));
}
static void p_count(json_t *p)
{
	json_object_set_new(json_object_get(p, "commitment"), "count", json_integer(-1));
}

static void test_a_damaged_private_file_is_refused(void **state)
{
	struct commit_set s;
	struct perr e;
	json_t *priv;

	(void)state;
	build(&s, 10);
	tu_expect_ok(commit_private_json(&s, &priv, &e), &e);
	check_private_refused(priv, p_salt, "do not hash to its commitment's root");
	check_private_refused(priv, p_field, "do not hash to its commitment's root");
	check_private_refused(priv, p_swap, "records[2]: id \"item-0001\" does not come after "
					    "\"item-0002\"");
	check_private_refused(priv, p_index, "records[4]: index must be 4");
	check_private_refused(priv, p_drop, "9 records, but its commitment counts 10");
	check_private_refused(priv, p_extra, "unexpected member \"comment\"");
	check_private_refused(priv, p_rec_extra, "records[0]: unexpected member \"leaf\"");
	check_private_refused(priv, p_count, "commitment: count must be an integer from 0 to 10000000");
	json_decref(priv);
	commit_set_free(&s);
}

/* ---------------------------------------------------------------------- */
/* The commitment object                                                   */

static void test_commitments_parse_strictly(void **state)
{
	static const char *const zero =
		"0000000000000000000000000000000000000000000000000000000000000000";
	struct commit_root c;
	struct perr e;
	char text[256];
	json_t *j;

	(void)state;
	snprintf(text, sizeof text, "{\"root\": \"%s\", \"count\": 10000000}", zero);
	j = parse(text);
	tu_expect_ok(commit_root_parse(&c, j, "commitment", &e), &e);
	assert_int_equal(c.count, 10000000);
	json_decref(j);

	snprintf(text, sizeof text, "{\"root\": \"%s\", \"count\": 10000001}", zero);
	j = parse(text);
	tu_expect_error(commit_root_parse(&c, j, "commitment", &e), &e,
		     "commitment: count must be an integer from 0 to 10000000");
	json_decref(j);

	j = parse("{\"root\": \"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\","
		  " \"count\": 1}");
	tu_expect_error(commit_root_parse(&c, j, "commitment", &e), &e,
		     "commitment: root must be 64 lowercase hex characters");
	json_decref(j);

	snprintf(text, sizeof text, "{\"root\": \"%s\", \"count\": 1, \"alg\": \"sha256\"}", zero);
	j = parse(text);
	tu_expect_error(commit_root_parse(&c, j, "commitment", &e), &e,
		     "commitment: unexpected member \"alg\"");
	json_decref(j);

	j = parse("{\"count\": 1}");
	tu_expect_error(commit_root_parse(&c, j, "commitment", &e), &e,
		     "commitment: no \"root\" member");
	json_decref(j);

	snprintf(text, sizeof text, "{\"root\": \"%s\", \"count\": 1.0}", zero);
	j = parse(text);
	tu_expect_error(commit_root_parse(&c, j, "commitment", &e), &e, "count must be an integer");
	json_decref(j);

	/* written root first, then count */
	c.count = 3;
	memset(c.root, 0xab, 32);
	j = commit_root_json(&c);
	{
		char *s = json_dumps(j, JSON_COMPACT);
		assert_string_equal(s, "{\"root\":\"abababababababababababababababababababababababab"
				       "abababababababab\",\"count\":3}");
		free(s);
	}
	json_decref(j);
}

static void test_hex_is_lowercase_and_exact(void **state)
{
	uint8_t b[2];
	char out[5];

	(void)state;
	assert_int_equal(commit_unhex(b, 2, "0aff", 4), 0);
	assert_int_equal(b[0], 0x0a);
	assert_int_equal(b[1], 0xff);
	commit_hex(out, b, 2);
	assert_string_equal(out, "0aff");
	assert_int_equal(commit_unhex(b, 2, "0aFF", 4), -1);
	assert_int_equal(commit_unhex(b, 2, "0af", 3), -1);
	assert_int_equal(commit_unhex(b, 2, "0aff0", 5), -1);
	assert_int_equal(commit_unhex(b, 2, "0ag0", 4), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_records_are_compact_sorted_utf8),
		cmocka_unit_test(test_reals_deep_nesting_and_large_records_are_refused),
		cmocka_unit_test(test_roots_match_an_independent_computation),
		cmocka_unit_test(test_an_empty_inventory_commits_to_the_empty_root),
		cmocka_unit_test(test_the_root_depends_on_every_salt_and_record),
		cmocka_unit_test(test_items_need_distinct_string_ids_and_integer_values),
		cmocka_unit_test(test_an_id_with_a_nul_byte_is_refused),
		cmocka_unit_test(test_a_failing_salt_source_fails_the_commitment),
		cmocka_unit_test(test_every_item_of_37_discloses_and_verifies),
		cmocka_unit_test(test_a_tampered_disclosure_is_rejected_naming_the_fault),
		cmocka_unit_test(test_a_disclosure_fails_against_another_commitment),
		cmocka_unit_test(test_disclosing_an_unknown_id_is_an_error),
		cmocka_unit_test(test_the_private_file_reads_back_to_the_same_commitment),
		cmocka_unit_test(test_the_private_text_of_no_items_is_valid_json),
		cmocka_unit_test(test_a_damaged_private_file_is_refused),
		cmocka_unit_test(test_commitments_parse_strictly),
		cmocka_unit_test(test_hex_is_lowercase_and_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
