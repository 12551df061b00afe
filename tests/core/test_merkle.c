/*
 * test_merkle.c — RFC 6962 / RFC 9162 Merkle trees: hashing, proofs and
 * their verification (src/core/merkle.h).
 *
 * Three sources of truth:
 *   - the transparency-dev/merkle vectors in $PARLEY_TESTDATA/rfc6962,
 *     used as they are;
 *   - roots.json, reference roots for sizes 0..8;
 *   - an independent construction (memtree.c) of every complete node and
 *     of the recursive PATH / SUBPROOF definitions of RFC 6962 §2.1.1 and
 *     §2.1.2, against which generated proofs are compared hash for hash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "memtree.h"
#include "merkle.h"
#include "testutil.h"

/* Large enough for any root or leaf hash in the vectors (some are
 * deliberately not 32 bytes). */
#define RAW_MAX 256
#define BIG_TREE 1000000

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */

/* Asserts the error convention: 0 on success; on failure a negative value
 * and one non-empty line in e. */
static int expect_status(int rc, const struct perr *e)
{
	if (rc != 0) {
		assert_true(rc < 0);
		assert_true(e->msg[0] != '\0');
		assert_null(strchr(e->msg, '\n'));
	}
	return rc;
}

static void clear_err(struct perr *e)
{
	e->msg[0] = '\0';
}

static unsigned bit_length(uint64_t n)
{
	return n == 0 ? 0 : 64 - (unsigned)__builtin_clzll(n);
}

static uint64_t ref_split(uint64_t n)
{
	uint64_t k = 1;

	while (k * 2 < n)
		k *= 2;
	return k;
}

/* RFC 6962 §2.1.1: PATH(m, D[lo:hi]), m absolute. */
static void ref_path(const struct memtree *t, uint64_t m, uint64_t lo,
		     uint64_t hi, merkle_hash *out, size_t *len)
{
	uint64_t k;

	if (hi - lo == 1)
		return;
	k = ref_split(hi - lo);
	if (m - lo < k) {
		ref_path(t, m, lo, lo + k, out, len);
		memtree_mth(t, lo + k, hi, out[(*len)++]);
	} else {
		ref_path(t, m, lo + k, hi, out, len);
		memtree_mth(t, lo, lo + k, out[(*len)++]);
	}
}

/* RFC 6962 §2.1.2: SUBPROOF(m, D[lo:hi], b), m relative to lo. */
static void ref_subproof(const struct memtree *t, uint64_t m, uint64_t lo,
			 uint64_t hi, int b, merkle_hash *out, size_t *len)
{
	uint64_t n = hi - lo, k;

	if (m == n) {
		if (!b)
			memtree_mth(t, lo, hi, out[(*len)++]);
		return;
	}
	k = ref_split(n);
	if (m <= k) {
		ref_subproof(t, m, lo, lo + k, b, out, len);
		memtree_mth(t, lo + k, hi, out[(*len)++]);
	} else {
		ref_subproof(t, m - k, lo + k, hi, 0, out, len);
		memtree_mth(t, lo, lo + k, out[(*len)++]);
	}
}

static void root_at(const struct memtree *t, uint64_t size, merkle_hash out)
{
	if (size == 0)
		merkle_empty_root(out);
	else
		memtree_mth(t, 0, size, out);
}

/* ---------------------------------------------------------------------- */
/* transparency-dev/merkle vectors                                         */

struct vec_count {
	size_t cases;
	size_t happy; /* cases with wantErr false */
};

/* Decodes the base64 member key of a vector as raw bytes of any length.
 * Returns the length, or -1 if it is not base64 (the case then counts as
 * one that must fail). */
static long vec_raw(const json_t *v, const char *key, uint8_t *out)
{
	return tu_b64(out, RAW_MAX, tu_json_str(v, key));
}

/* Decodes the proof array; returns the count, or -1 if a component is not
 * a 32-byte hash (the case must then fail). */
static long vec_proof(const json_t *v, merkle_hash *proof)
{
	const json_t *arr = json_object_get(v, "proof");
	size_t i;

	if (arr == NULL || json_is_null(arr))
		return 0;
	assert_true(json_is_array(arr));
	if (json_array_size(arr) > MERKLE_MAX_PROOF)
		return -1;
	for (i = 0; i < json_array_size(arr); i++) {
		const json_t *s = json_array_get(arr, i);
		assert_true(json_is_string(s));
		if (merkle_hash_from_b64(proof[i], json_string_value(s),
					 json_string_length(s), NULL) != 0)
			return -1;
	}
	return (long)i;
}

/* Reads an unsigned 64-bit member exactly from the raw text, and checks it
 * against jansson's (inexact, real) reading so that the scan cannot have
 * picked up the wrong member. */
static uint64_t vec_u64(const json_t *v, const char *text, const char *key,
			const char *path)
{
	const json_t *j = json_object_get(v, key);
	uint64_t x;

	if (tu_json_u64(text, key, &x) != 0)
		fail_msg("%s: member %s is not an unsigned 64-bit integer", path, key);
	assert_true(json_is_number(j));
	assert_true(json_number_value(j) == (double)x);
	return x;
}

static int vec_want_err(const json_t *v, const char *path)
{
	const json_t *w = json_object_get(v, "wantErr");

	if (!json_is_boolean(w))
		fail_msg("%s: wantErr is not a boolean", path);
	return json_is_true(w);
}

static void check_inclusion_vector(const char *path, void *ctx)
{
	struct vec_count *c = ctx;
	char *text;
	json_t *v = tu_load_json(path, &text);
	uint8_t leaf[RAW_MAX], root[RAW_MAX];
	merkle_hash proof[MERKLE_MAX_PROOF];
	uint64_t index = vec_u64(v, text, "leafIdx", path);
	uint64_t size = vec_u64(v, text, "treeSize", path);
	long leaflen = vec_raw(v, "leafHash", leaf);
	long rootlen = vec_raw(v, "root", root);
	long plen = vec_proof(v, proof);
	int want_err = vec_want_err(v, path);
	struct perr e;
	int got_err;

	clear_err(&e);
	if (leaflen < 0 || rootlen < 0 || plen < 0) {
		got_err = 1;
		snprintf(e.msg, sizeof e.msg, "undecodable input");
	} else {
		got_err = expect_status(merkle_verify_inclusion(leaf, (size_t)leaflen,
								index, size, proof, (size_t)plen, root,
								(size_t)rootlen, &e), &e) != 0;
	}
	if (got_err != want_err)
		fail_msg("%s (%s): wantErr %d, got %d (%s)", path,
			 tu_json_str(v, "desc"), want_err, got_err, e.msg);
	c->cases++;
	c->happy += !want_err;
	json_decref(v);
	free(text);
}

static void check_consistency_vector(const char *path, void *ctx)
{
	struct vec_count *c = ctx;
	char *text;
	json_t *v = tu_load_json(path, &text);
	uint8_t root1[RAW_MAX], root2[RAW_MAX];
	merkle_hash proof[MERKLE_MAX_PROOF];
	uint64_t size1 = vec_u64(v, text, "size1", path);
	uint64_t size2 = vec_u64(v, text, "size2", path);
	long r1len = vec_raw(v, "root1", root1);
	long r2len = vec_raw(v, "root2", root2);
	long plen = vec_proof(v, proof);
	int want_err = vec_want_err(v, path);
	struct perr e;
	int got_err;

	clear_err(&e);
	if (r1len < 0 || r2len < 0 || plen < 0) {
		got_err = 1;
		snprintf(e.msg, sizeof e.msg, "undecodable input");
	} else {
		got_err = expect_status(merkle_verify_consistency(size1, size2, proof,
								  (size_t)plen, root1, (size_t)r1len, root2,
								  (size_t)r2len, &e), &e) != 0;
	}
	if (got_err != want_err)
		fail_msg("%s (%s): wantErr %d, got %d (%s)", path,
			 tu_json_str(v, "desc"), want_err, got_err, e.msg);
	c->cases++;
	c->happy += !want_err;
	json_decref(v);
	free(text);
}

static struct vec_count run_vectors(const char *rel,
				    void (*fn)(const char *, void *))
{
	struct vec_count c = { 0, 0 };
	char *dir = tu_testdata_path(rel);
	size_t files = tu_for_each_json(dir, fn, &c);

	assert_int_equal(files, c.cases);
	free(dir);
	return c;
}

static void test_inclusion_vectors_are_accepted_or_rejected_as_specified(void **state)
{
	struct vec_count c = run_vectors("rfc6962/inclusion", check_inclusion_vector);

	(void)state;
	/* 98 cases at the time of writing; a missing folder shows here. */
	assert_true(c.cases > 75);
	assert_true(c.happy >= 5);
}

static void test_consistency_vectors_are_accepted_or_rejected_as_specified(void **state)
{
	struct vec_count c = run_vectors("rfc6962/consistency", check_consistency_vector);

	(void)state;
	assert_true(c.cases > 75);
	assert_true(c.happy >= 5);
}

static void test_vector_corpus_has_more_than_150_cases(void **state)
{
	static const char *const dirs[] = {
		"rfc6962/inclusion/0", "rfc6962/inclusion/1", "rfc6962/inclusion/2",
		"rfc6962/inclusion/3", "rfc6962/inclusion/4",
		"rfc6962/inclusion/additional", "rfc6962/inclusion/single-entry",
		"rfc6962/consistency/0", "rfc6962/consistency/1",
		"rfc6962/consistency/2", "rfc6962/consistency/3",
		"rfc6962/consistency/4", "rfc6962/consistency/additional",
	};
	struct vec_count a = run_vectors("rfc6962/inclusion", check_inclusion_vector);
	struct vec_count b = run_vectors("rfc6962/consistency", check_consistency_vector);
	size_t i;

	(void)state;
	assert_true(a.cases + b.cases > 150);
	/* every folder of the upstream corpus contributes */
	for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		struct vec_count c = run_vectors(dirs[i], i < 7 ? check_inclusion_vector :
						 check_consistency_vector);
		if (c.cases == 0)
			fail_msg("no vectors in %s", dirs[i]);
	}
}

/* A 2^64-1 index (leafIdx-sub-@1) must be read exactly, not rounded. */
static void test_vector_sizes_are_read_as_exact_uint64(void **state)
{
	char *path = tu_testdata_path("rfc6962/inclusion/1/leafIdx-sub-@1.json");
	char *text;
	json_t *v = tu_load_json(path, &text);
	uint64_t x;

	(void)state;
	assert_int_equal(tu_json_u64(text, "leafIdx", &x), 0);
	assert_true(x == UINT64_MAX);
	assert_int_equal(tu_json_u64("{\"a\": 18446744073709551616}", "a", &x), -1);
	assert_int_equal(tu_json_u64("{\"a\": -1}", "a", &x), -1);
	assert_int_equal(tu_json_u64("{\"a\": 1.5}", "a", &x), -1);
	json_decref(v);
	free(text);
	free(path);
}

/* ---------------------------------------------------------------------- */
/* roots.json                                                              */

static void test_reference_roots_for_sizes_0_to_8(void **state)
{
	char *path = tu_testdata_path("rfc6962/roots.json");
	json_t *v = tu_load_json(path, NULL);
	const json_t *inputs = json_object_get(v, "leaf_inputs_hex");
	const json_t *roots = json_object_get(v, "root_hex_by_size");
	merkle_hash leaves[8], want, got;
	struct memtree t;
	size_t i, n;

	(void)state;
	assert_true(json_is_array(inputs) && json_is_array(roots));
	n = json_array_size(inputs);
	assert_int_equal(n, 8);
	assert_int_equal(json_array_size(roots), n + 1);
	for (i = 0; i < n; i++) {
		uint8_t buf[64];
		long len = tu_hex(buf, sizeof buf, json_string_value(json_array_get(inputs, i)));
		assert_true(len >= 0);
		merkle_leaf_hash(leaves[i], buf, (size_t)len);
	}
	memtree_init(&t, leaves, n);
	for (i = 0; i <= n; i++) {
		struct perr e;
		assert_int_equal(tu_hex(want, sizeof want,
					json_string_value(json_array_get(roots, i))), 32);
		/* from the leaf hashes in memory */
		memset(got, 0, sizeof got);
		merkle_root_of(got, leaves, i);
		assert_memory_equal(got, want, 32);
		/* through a reader that only knows the first i leaves */
		t.limit = i;
		memset(got, 0, sizeof got);
		assert_int_equal(merkle_tree_hash(got, i, memtree_reader, &t, &e), 0);
		assert_memory_equal(got, want, 32);
		/* and the independent recursive construction */
		root_at(&t, i, got);
		assert_memory_equal(got, want, 32);
	}
	/* size 0 is SHA-256 of the empty string */
	merkle_empty_root(got);
	assert_int_equal(tu_hex(want, sizeof want,
				json_string_value(json_array_get(roots, 0))), 32);
	assert_memory_equal(got, want, 32);
	memtree_free(&t);
	json_decref(v);
	free(path);
}

static void test_leaf_and_node_hashes_use_domain_separation_prefixes(void **state)
{
	/* SHA-256(0x00) and SHA-256(0x01 || 0^32 || 0^32), computed by hand
	 * from RFC 6962 §2.1. */
	static const char *const leaf_empty =
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d";
	merkle_hash h, z, want, n1, n2;

	(void)state;
	merkle_leaf_hash(h, "", 0);
	assert_int_equal(tu_hex(want, sizeof want, leaf_empty), 32);
	assert_memory_equal(h, want, 32);
	/* node(l, r) != node(r, l): order matters */
	memset(z, 0, sizeof z);
	merkle_node_hash(n1, z, h);
	merkle_node_hash(n2, h, z);
	assert_memory_not_equal(n1, n2, 32);
	/* aliasing the output with an input is allowed (merkle.c does it) */
	memcpy(n2, z, 32);
	merkle_node_hash(n2, n2, h);
	assert_memory_equal(n1, n2, 32);
}

/* ---------------------------------------------------------------------- */
/* Property tests over an in-memory tree                                   */

static int group_setup(void **state)
{
	struct memtree *t = malloc(sizeof *t);

	if (t == NULL)
		return -1;
	memtree_init_synthetic(t, BIG_TREE);
	*state = t;
	return 0;
}

static int group_teardown(void **state)
{
	memtree_free(*state);
	free(*state);
	return 0;
}

/* Proves leaf index in a tree of size (served by t), checks the proof hash
 * for hash against RFC 6962 PATH, its cost in node reads, and that it
 * verifies against root. */
static void prove_and_verify_inclusion(struct memtree *t, uint64_t index,
				       uint64_t size, const merkle_hash root,
				       merkle_hash *proof, size_t *len)
{
	merkle_hash want[MERKLE_MAX_PROOF];
	size_t wantlen = 0;
	struct perr e;

	t->limit = size;
	t->reads = 0;
	clear_err(&e);
	if (expect_status(merkle_prove_inclusion(proof, len, index, size,
						 memtree_reader, t, &e), &e) != 0)
		fail_msg("prove inclusion %llu in %llu: %s", (unsigned long long)index,
			 (unsigned long long)size, e.msg);
	ref_path(t, index, 0, size, want, &wantlen);
	assert_int_equal(*len, wantlen);
	if (wantlen > 0)
		assert_memory_equal(proof, want, wantlen * MERKLE_HASH);
	/* O(log n) node reads */
	assert_true(t->reads <= 2 * (uint64_t)bit_length(size) + 2);
	if (expect_status(merkle_verify_inclusion(t->level[0][index], 32, index, size,
						  proof, *len, root, 32, &e), &e) != 0)
		fail_msg("verify inclusion %llu in %llu: %s", (unsigned long long)index,
			 (unsigned long long)size, e.msg);
}

static void prove_and_verify_consistency(struct memtree *t, uint64_t size1,
					 uint64_t size2, const merkle_hash root1,
					 const merkle_hash root2,
					 merkle_hash *proof, size_t *len)
{
	merkle_hash want[MERKLE_MAX_PROOF];
	size_t wantlen = 0;
	struct perr e;

	t->limit = size2;
	t->reads = 0;
	clear_err(&e);
	if (expect_status(merkle_prove_consistency(proof, len, size1, size2,
						   memtree_reader, t, &e), &e) != 0)
		fail_msg("prove consistency %llu -> %llu: %s", (unsigned long long)size1,
			 (unsigned long long)size2, e.msg);
	if (size1 < size2)
		ref_subproof(t, size1, 0, size2, 1, want, &wantlen);
	assert_int_equal(*len, wantlen);
	if (wantlen > 0)
		assert_memory_equal(proof, want, wantlen * MERKLE_HASH);
	assert_true(t->reads <= 2 * (uint64_t)bit_length(size2) + 2);
	if (expect_status(merkle_verify_consistency(size1, size2, proof, *len, root1,
						    32, root2, 32, &e), &e) != 0)
		fail_msg("verify consistency %llu -> %llu: %s", (unsigned long long)size1,
			 (unsigned long long)size2, e.msg);
}

static merkle_hash *roots_upto(const struct memtree *t, uint64_t max)
{
	merkle_hash *r = malloc((max + 1) * sizeof *r);
	uint64_t n;

	assert_non_null(r);
	for (n = 0; n <= max; n++) {
		merkle_root_of(r[n], t->level[0], n);
		if (n > 0) {
			merkle_hash ref;
			memtree_mth(t, 0, n, ref);
			assert_memory_equal(r[n], ref, 32);
		}
	}
	return r;
}

static void test_inclusion_proofs_match_rfc6962_path_for_every_leaf_up_to_300(void **state)
{
	struct memtree *t = *state;
	merkle_hash *roots = roots_upto(t, 300);
	merkle_hash proof[MERKLE_MAX_PROOF];
	uint64_t size, index;
	size_t len;

	for (size = 1; size <= 300; size++)
		for (index = 0; index < size; index++)
			prove_and_verify_inclusion(t, index, size, roots[size], proof, &len);
	free(roots);
}

static void test_consistency_proofs_match_rfc6962_subproof_for_every_pair_up_to_300(void **state)
{
	struct memtree *t = *state;
	merkle_hash *roots = roots_upto(t, 300);
	merkle_hash proof[MERKLE_MAX_PROOF];
	uint64_t size1, size2;
	size_t len;

	for (size2 = 1; size2 <= 300; size2++)
		for (size1 = 1; size1 <= size2; size1++)
			prove_and_verify_consistency(t, size1, size2, roots[size1],
						     roots[size2], proof, &len);
	free(roots);
}

static void test_tree_hash_through_reader_matches_root_of_leaves(void **state)
{
	struct memtree *t = *state;
	uint64_t seed = 7, i;
	merkle_hash a, b;
	struct perr e;

	/* the whole big tree, once, from the leaves in memory */
	merkle_root_of(a, t->level[0], t->n);
	memtree_mth(t, 0, t->n, b);
	assert_memory_equal(a, b, 32);
	for (i = 0; i < 500; i++) {
		uint64_t size = i < 300 ? i : 1 + tu_rand_below(&seed, t->n);
		t->limit = size;
		t->reads = 0;
		assert_int_equal(merkle_tree_hash(a, size, memtree_reader, t, &e), 0);
		assert_true(t->reads <= bit_length(size));
		root_at(t, size, b);
		assert_memory_equal(a, b, 32);
	}
}

static void test_random_proofs_in_a_million_leaf_tree_verify(void **state)
{
	struct memtree *t = *state;
	merkle_hash proof[MERKLE_MAX_PROOF], r1, r2;
	uint64_t seed = 0x5eed, i;
	size_t len;

	for (i = 0; i < 2000; i++) {
		uint64_t size = 1 + tu_rand_below(&seed, t->n);
		uint64_t index = tu_rand_below(&seed, size);
		root_at(t, size, r2);
		prove_and_verify_inclusion(t, index, size, r2, proof, &len);
	}
	for (i = 0; i < 2000; i++) {
		uint64_t size2 = 1 + tu_rand_below(&seed, t->n);
		uint64_t size1 = 1 + tu_rand_below(&seed, size2);
		root_at(t, size1, r1);
		root_at(t, size2, r2);
		prove_and_verify_consistency(t, size1, size2, r1, r2, proof, &len);
	}
	/* the edges: first and last leaf, whole tree */
	root_at(t, t->n, r2);
	prove_and_verify_inclusion(t, 0, t->n, r2, proof, &len);
	prove_and_verify_inclusion(t, t->n - 1, t->n, r2, proof, &len);
	root_at(t, 1, r1);
	prove_and_verify_consistency(t, 1, t->n, r1, r2, proof, &len);
	root_at(t, t->n - 1, r1);
	prove_and_verify_consistency(t, t->n - 1, t->n, r1, r2, proof, &len);
	prove_and_verify_consistency(t, t->n, t->n, r2, r2, proof, &len);
}

/* Every way of damaging a valid inclusion proof makes it fail. */
static void expect_inclusion_tampering_rejected(struct memtree *t, uint64_t index,
						uint64_t size)
{
	merkle_hash proof[MERKLE_MAX_PROOF], bad[MERKLE_MAX_PROOF + 1], root, other;
	const uint8_t *leaf = t->level[0][index];
	struct perr e;
	size_t len, i;

	root_at(t, size, root);
	prove_and_verify_inclusion(t, index, size, root, proof, &len);
	/* a flipped bit anywhere in any hash */
	for (i = 0; i < len; i++) {
		memcpy(bad, proof, len * sizeof proof[0]);
		bad[i][(i * 7 + index) % 32] ^= (uint8_t)(1u << (i % 8));
		assert_int_not_equal(merkle_verify_inclusion(leaf, 32, index, size, bad, len,
							     root, 32, &e), 0);
	}
	/* last hash dropped */
	if (len > 0)
		assert_int_not_equal(merkle_verify_inclusion(leaf, 32, index, size, proof,
							     len - 1, root, 32, &e), 0);
	/* an extra hash appended (the root itself, or a leaf) */
	memcpy(bad, proof, len * sizeof proof[0]);
	memcpy(bad[len], root, 32);
	assert_int_not_equal(merkle_verify_inclusion(leaf, 32, index, size, bad,
						     len + 1, root, 32, &e), 0);
	memcpy(bad[len], leaf, 32);
	assert_int_not_equal(merkle_verify_inclusion(leaf, 32, index, size, bad,
						     len + 1, root, 32, &e), 0);
	/* an extra hash prepended */
	memcpy(bad[0], leaf, 32);
	memcpy(bad + 1, proof, len * sizeof proof[0]);
	assert_int_not_equal(merkle_verify_inclusion(leaf, 32, index, size, bad,
						     len + 1, root, 32, &e), 0);
	/* two hashes swapped */
	if (len >= 2) {
		memcpy(bad, proof, len * sizeof proof[0]);
		memcpy(bad[0], proof[1], 32);
		memcpy(bad[1], proof[0], 32);
		assert_int_not_equal(merkle_verify_inclusion(leaf, 32, index, size, bad,
							     len, root, 32, &e), 0);
	}
	/* wrong index */
	if (index + 1 < size)
		assert_int_not_equal(merkle_verify_inclusion(leaf, 32, index + 1, size, proof,
							     len, root, 32, &e), 0);
	if (index > 0)
		assert_int_not_equal(merkle_verify_inclusion(leaf, 32, index - 1, size, proof,
							     len, root, 32, &e), 0);
	assert_int_not_equal(merkle_verify_inclusion(leaf, 32, size, size, proof, len,
						     root, 32, &e), 0);
	/* wrong size, with the root of that size */
	if (size + 1 <= t->n) {
		root_at(t, size + 1, other);
		assert_int_not_equal(merkle_verify_inclusion(leaf, 32, index, size + 1,
							     proof, len, other, 32, &e), 0);
	}
	if (size - 1 > index) {
		root_at(t, size - 1, other);
		assert_int_not_equal(merkle_verify_inclusion(leaf, 32, index, size - 1,
							     proof, len, other, 32, &e), 0);
	}
	/* wrong leaf, wrong root */
	if (size > 1) {
		const uint8_t *other_leaf = t->level[0][index == 0 ? 1 : index - 1];
		assert_int_not_equal(merkle_verify_inclusion(other_leaf, 32, index, size,
							     proof, len, root, 32, &e), 0);
	}
	memcpy(other, root, 32);
	other[31] ^= 0x80;
	assert_int_not_equal(merkle_verify_inclusion(leaf, 32, index, size, proof, len,
						     other, 32, &e), 0);
	/* the right bytes at the wrong length */
	assert_int_not_equal(merkle_verify_inclusion(leaf, 31, index, size, proof, len,
						     root, 32, &e), 0);
	assert_int_not_equal(merkle_verify_inclusion(leaf, 32, index, size, proof, len,
						     root, 31, &e), 0);
}

static void test_tampered_inclusion_proofs_are_rejected(void **state)
{
	struct memtree *t = *state;
	uint64_t size, index, seed = 42, i;

	for (size = 1; size <= 70; size++)
		for (index = 0; index < size; index++)
			expect_inclusion_tampering_rejected(t, index, size);
	for (i = 0; i < 200; i++) {
		size = 1 + tu_rand_below(&seed, t->n - 1);
		expect_inclusion_tampering_rejected(t, tu_rand_below(&seed, size), size);
	}
}

static void expect_consistency_tampering_rejected(struct memtree *t, uint64_t m,
						  uint64_t n)
{
	merkle_hash proof[MERKLE_MAX_PROOF], bad[MERKLE_MAX_PROOF + 1], r1, r2, other;
	struct perr e;
	size_t len, i;

	root_at(t, m, r1);
	root_at(t, n, r2);
	prove_and_verify_consistency(t, m, n, r1, r2, proof, &len);
	for (i = 0; i < len; i++) {
		memcpy(bad, proof, len * sizeof proof[0]);
		bad[i][(i * 5 + m) % 32] ^= (uint8_t)(1u << ((i + n) % 8));
		assert_int_not_equal(merkle_verify_consistency(m, n, bad, len, r1, 32, r2,
							       32, &e), 0);
	}
	if (len > 0)
		assert_int_not_equal(merkle_verify_consistency(m, n, proof, len - 1, r1, 32,
							       r2, 32, &e), 0);
	memcpy(bad, proof, len * sizeof proof[0]);
	memcpy(bad[len], r2, 32);
	assert_int_not_equal(merkle_verify_consistency(m, n, bad, len + 1, r1, 32, r2,
						       32, &e), 0);
	memcpy(bad[0], r1, 32);
	memcpy(bad + 1, proof, len * sizeof proof[0]);
	assert_int_not_equal(merkle_verify_consistency(m, n, bad, len + 1, r1, 32, r2,
						       32, &e), 0);
	/* wrong sizes, each with its own root */
	if (m + 1 <= n) {
		root_at(t, m + 1, other);
		assert_int_not_equal(merkle_verify_consistency(m + 1, n, proof, len, other,
							       32, r2, 32, &e), 0);
	}
	if (m > 1) {
		root_at(t, m - 1, other);
		assert_int_not_equal(merkle_verify_consistency(m - 1, n, proof, len, other,
							       32, r2, 32, &e), 0);
	}
	if (n + 1 <= t->n) {
		root_at(t, n + 1, other);
		assert_int_not_equal(merkle_verify_consistency(m, n + 1, proof, len, r1, 32,
							       other, 32, &e), 0);
	}
	if (n - 1 >= m) {
		root_at(t, n - 1, other);
		assert_int_not_equal(merkle_verify_consistency(m, n - 1, proof, len, r1, 32,
							       other, 32, &e), 0);
	}
	/* the right root bytes at the wrong length (one byte more or less) */
	if (len > 0) {
		uint8_t long1[33], long2[33];
		memcpy(long1, r1, 32);
		memcpy(long2, r2, 32);
		long1[32] = long2[32] = 0;
		assert_int_not_equal(merkle_verify_consistency(m, n, proof, len, long1, 33, r2,
							       32, &e), 0);
		assert_int_not_equal(merkle_verify_consistency(m, n, proof, len, r1, 32, long2,
							       33, &e), 0);
		assert_int_not_equal(merkle_verify_consistency(m, n, proof, len, r1, 31, r2,
							       32, &e), 0);
		assert_int_not_equal(merkle_verify_consistency(m, n, proof, len, r1, 32, r2,
							       31, &e), 0);
	}
	/* swapped roots, a changed root */
	if (m != n)
		assert_int_not_equal(merkle_verify_consistency(m, n, proof, len, r2, 32, r1,
							       32, &e), 0);
	memcpy(other, r1, 32);
	other[0] ^= 1;
	assert_int_not_equal(merkle_verify_consistency(m, n, proof, len, other, 32, r2,
						       32, &e), 0);
	memcpy(other, r2, 32);
	other[0] ^= 1;
	assert_int_not_equal(merkle_verify_consistency(m, n, proof, len, r1, 32, other,
						       32, &e), 0);
}

static void test_tampered_consistency_proofs_are_rejected(void **state)
{
	struct memtree *t = *state;
	uint64_t m, n, seed = 43, i;

	for (n = 1; n <= 70; n++)
		for (m = 1; m <= n; m++)
			expect_consistency_tampering_rejected(t, m, n);
	for (i = 0; i < 200; i++) {
		n = 1 + tu_rand_below(&seed, t->n - 1);
		expect_consistency_tampering_rejected(t, 1 + tu_rand_below(&seed, n), n);
	}
}

static void test_consistency_from_size_0_is_refused_except_for_witnesses(void **state)
{
	struct memtree *t = *state;
	merkle_hash proof[MERKLE_MAX_PROOF], empty, r5;
	static const uint64_t sizes[] = { 0, 1, 5, 256 };
	struct perr e;
	size_t len, i;

	merkle_empty_root(empty);
	root_at(t, 5, r5);
	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		uint64_t n = sizes[i];
		merkle_hash rn;
		root_at(t, n, rn);
		t->limit = n;
		clear_err(&e);
		assert_int_not_equal(expect_status(merkle_prove_consistency(proof, &len, 0, n,
							memtree_reader, t, &e), &e), 0);
		assert_int_not_equal(expect_status(merkle_verify_consistency(0, n, proof, 0,
							empty, 32, rn, 32, &e), &e), 0);
		/* tlog-witness: "old 0" gets, and accepts, an empty proof */
		len = 99;
		assert_int_equal(merkle_prove_consistency_witness(proof, &len, 0, n,
								  memtree_reader, t, &e), 0);
		assert_int_equal(len, 0);
		assert_int_equal(merkle_verify_consistency_witness(0, n, proof, 0, empty, 32,
								   rn, 32, &e), 0);
		/* ... but not a non-empty one */
		memcpy(proof[0], rn, 32);
		assert_int_not_equal(merkle_verify_consistency_witness(0, n, proof, 1, empty,
								       32, rn, 32, &e), 0);
	}
	/* the witness variants are the plain ones for size1 > 0 */
	t->limit = 5;
	assert_int_equal(merkle_prove_consistency_witness(proof, &len, 3, 5,
							  memtree_reader, t, &e), 0);
	{
		merkle_hash r3;
		root_at(t, 3, r3);
		assert_int_equal(merkle_verify_consistency_witness(3, 5, proof, len, r3, 32,
								   r5, 32, &e), 0);
		proof[0][0] ^= 1;
		assert_int_not_equal(merkle_verify_consistency_witness(3, 5, proof, len, r3,
								       32, r5, 32, &e), 0);
		assert_int_not_equal(merkle_verify_consistency_witness(5, 3, proof, 0, r5,
								       32, r3, 32, &e), 0);
	}
}

static void test_proof_requests_outside_the_tree_are_errors(void **state)
{
	struct memtree *t = *state;
	merkle_hash proof[MERKLE_MAX_PROOF], root;
	struct perr e;
	size_t len;

	t->limit = 10;
	/* index not below size */
	clear_err(&e);
	assert_true(expect_status(merkle_prove_inclusion(proof, &len, 10, 10,
							 memtree_reader, t, &e), &e) < 0);
	assert_true(merkle_prove_inclusion(proof, &len, 0, 0, memtree_reader, t, &e) < 0);
	assert_true(merkle_verify_inclusion(t->level[0][0], 32, 0, 0, proof, 0,
					    t->level[0][0], 32, &e) < 0);
	/* size1 > size2 */
	assert_true(expect_status(merkle_prove_consistency(proof, &len, 6, 5,
							   memtree_reader, t, &e), &e) < 0);
	/* the reader's failure (nodes beyond its tree) propagates */
	clear_err(&e);
	assert_true(expect_status(merkle_prove_inclusion(proof, &len, 3, 11,
							 memtree_reader, t, &e), &e) < 0);
	clear_err(&e);
	assert_true(expect_status(merkle_prove_consistency(proof, &len, 3, 11,
							   memtree_reader, t, &e), &e) < 0);
	clear_err(&e);
	assert_true(expect_status(merkle_tree_hash(root, 11, memtree_reader, t, &e),
				  &e) < 0);
	/* equal sizes: an empty proof, valid only between equal roots */
	assert_int_equal(merkle_prove_consistency(proof, &len, 7, 7, memtree_reader,
						  t, &e), 0);
	assert_int_equal(len, 0);
	root_at(t, 7, root);
	assert_int_equal(merkle_verify_consistency(7, 7, proof, 0, root, 32, root, 32,
						   &e), 0);
	{
		merkle_hash r6;
		root_at(t, 6, r6);
		assert_int_not_equal(merkle_verify_consistency(7, 7, proof, 0, root, 32, r6,
							       32, &e), 0);
	}
	/* the error struct is optional */
	assert_true(merkle_prove_inclusion(proof, &len, 10, 10, memtree_reader, t,
					   NULL) < 0);
	assert_true(merkle_verify_inclusion(t->level[0][0], 32, 1, 1, proof, 0,
					    t->level[0][0], 32, NULL) < 0);
}

/*
 * A tree whose leaves all have the same hash has the same node hash at each
 * level, so a reader can serve a consistent tree of any 64-bit size.  This
 * exercises sizes and indices near 2^63 and 2^64 - 1.
 */
struct uniform {
	merkle_hash level[64];
	uint64_t limit;
};

static int uniform_reader(void *ctx, const struct merkle_node *nodes, size_t n,
			  merkle_hash *out, struct perr *e)
{
	struct uniform *u = ctx;
	size_t i;

	for (i = 0; i < n; i++) {
		if (nodes[i].level >= 64 || nodes[i].index >= (u->limit >> nodes[i].level))
			return perr_set(e, "uniform: node beyond the tree");
		memcpy(out[i], u->level[nodes[i].level], 32);
	}
	return 0;
}

/* RFC 6962 MTH of a uniform tree: the complete subtrees of the binary
 * decomposition of size, folded from the right. */
static void uniform_root(const struct uniform *u, uint64_t size, merkle_hash out)
{
	int b, first = 1;

	for (b = 0; b < 64; b++) {
		if (!(size >> b & 1))
			continue;
		if (first)
			memcpy(out, u->level[b], 32);
		else
			merkle_node_hash(out, u->level[b], out);
		first = 0;
	}
}

static void test_proofs_work_at_64_bit_sizes(void **state)
{
	static const uint64_t sizes[] = {
		1, 2, 3, 1000003, (1ULL << 32) + 1, (1ULL << 40) + 5, (1ULL << 63) - 1,
		1ULL << 63, (1ULL << 63) + 1, UINT64_MAX - 1, UINT64_MAX,
	};
	const size_t ns = sizeof sizes / sizeof sizes[0];
	struct uniform u;
	merkle_hash proof[MERKLE_MAX_PROOF], r1, r2, got;
	struct perr e;
	size_t i, j, k, len;

	(void)state;
	merkle_leaf_hash(u.level[0], "same", 4);
	for (i = 1; i < 64; i++)
		merkle_node_hash(u.level[i], u.level[i - 1], u.level[i - 1]);
	for (i = 0; i < ns; i++) {
		uint64_t size = sizes[i];
		const uint64_t idx[] = { 0, 1, size / 2, size - 2, size - 1 };
		u.limit = size;
		uniform_root(&u, size, r2);
		assert_int_equal(merkle_tree_hash(got, size, uniform_reader, &u, &e), 0);
		assert_memory_equal(got, r2, 32);
		for (k = 0; k < sizeof idx / sizeof idx[0]; k++) {
			if (idx[k] >= size)
				continue;
			if (merkle_prove_inclusion(proof, &len, idx[k], size, uniform_reader,
						   &u, &e) != 0)
				fail_msg("prove %llu in %llu: %s", (unsigned long long)idx[k],
					 (unsigned long long)size, e.msg);
			assert_true(len <= 64);
			if (merkle_verify_inclusion(u.level[0], 32, idx[k], size, proof, len, r2,
						    32, &e) != 0)
				fail_msg("verify %llu in %llu: %s", (unsigned long long)idx[k],
					 (unsigned long long)size, e.msg);
			if (len > 0) {
				proof[len - 1][0] ^= 1;
				assert_int_not_equal(merkle_verify_inclusion(u.level[0], 32, idx[k],
									     size, proof, len, r2,
									     32, &e), 0);
			}
		}
		for (j = 0; j <= i; j++) {
			uint64_t size1 = sizes[j];
			uniform_root(&u, size1, r1);
			if (merkle_prove_consistency(proof, &len, size1, size, uniform_reader, &u,
						     &e) != 0)
				fail_msg("prove %llu -> %llu: %s", (unsigned long long)size1,
					 (unsigned long long)size, e.msg);
			assert_true(len <= 65);
			if (merkle_verify_consistency(size1, size, proof, len, r1, 32, r2, 32,
						      &e) != 0)
				fail_msg("verify %llu -> %llu: %s", (unsigned long long)size1,
					 (unsigned long long)size, e.msg);
		}
	}
	/* an index of 2^64 - 1 is never inside a tree */
	assert_int_not_equal(merkle_verify_inclusion(u.level[0], 32, UINT64_MAX,
						     UINT64_MAX, proof, 0, r2, 32, &e), 0);
}

static void test_range_nodes_decompose_into_complete_aligned_subtrees(void **state)
{
	struct merkle_node nodes[64];
	uint64_t seed = 99, i;

	(void)state;
	for (i = 0; i < 2000; i++) {
		/* [lo, hi) as in the RFC recursion: lo a multiple of a power of two
		 * that is at least hi - lo */
		unsigned k = (unsigned)tu_rand_below(&seed, 64);
		uint64_t span = k == 0 ? 1 : (uint64_t)1 << k;
		uint64_t lo = i % 3 == 0 ? 0 : tu_rand_below(&seed, UINT64_MAX >> k) << k;
		uint64_t len = 1 + tu_rand_below(&seed, span);
		uint64_t hi, at;
		size_t n, j;

		if (i < 100) {
			lo = 0;
			len = i + 1;
		}
		if (lo > UINT64_MAX - len)
			continue;
		hi = lo + len;
		n = merkle_range_nodes(lo, hi, nodes);
		assert_true(n >= 1 && n <= 64);
		assert_int_equal(n, __builtin_popcountll(len));
		at = lo;
		for (j = 0; j < n; j++) {
			uint64_t w = (uint64_t)1 << nodes[j].level;
			/* largest first, aligned, contiguous */
			if (j > 0)
				assert_true(nodes[j].level < nodes[j - 1].level);
			assert_true(nodes[j].index == at >> nodes[j].level);
			assert_true((at & (w - 1)) == 0);
			at += w;
		}
		assert_true(at == hi);
	}
	assert_int_equal(merkle_range_nodes(5, 5, nodes), 0);
	/* the whole 64-bit range minus one */
	assert_int_equal(merkle_range_nodes(0, UINT64_MAX, nodes), 64);
}

static void test_hash_from_b64_requires_exactly_32_bytes(void **state)
{
	merkle_hash h;
	struct perr e;
	const char *ok = "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=";
	uint8_t want[32];

	(void)state;
	assert_int_equal(merkle_hash_from_b64(h, ok, strlen(ok), &e), 0);
	assert_int_equal(tu_hex(want, 32,
				"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
			 32);
	assert_memory_equal(h, want, 32);
	/* 31 and 33 bytes */
	assert_true(merkle_hash_from_b64(h, "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoA==",
					 44, &e) < 0);
	assert_true(merkle_hash_from_b64(h, "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0A",
					 44, &e) < 0);
	assert_true(merkle_hash_from_b64(h, "", 0, &e) < 0);
	/* not base64, or not strict base64 */
	assert_true(merkle_hash_from_b64(h, "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0",
					 43, &e) < 0);
	assert_true(merkle_hash_from_b64(h, "bjQLnP-zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=",
					 44, &e) < 0);
	assert_true(merkle_hash_from_b64(h, "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB1=",
					 44, &e) < 0);
	/* a long string does not overflow */
	{
		char big[400];
		memset(big, 'A', sizeof big);
		assert_true(merkle_hash_from_b64(h, big, sizeof big, &e) < 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inclusion_vectors_are_accepted_or_rejected_as_specified),
		cmocka_unit_test(test_consistency_vectors_are_accepted_or_rejected_as_specified),
		cmocka_unit_test(test_vector_corpus_has_more_than_150_cases),
		cmocka_unit_test(test_vector_sizes_are_read_as_exact_uint64),
		cmocka_unit_test(test_reference_roots_for_sizes_0_to_8),
		cmocka_unit_test(test_leaf_and_node_hashes_use_domain_separation_prefixes),
		cmocka_unit_test(test_inclusion_proofs_match_rfc6962_path_for_every_leaf_up_to_300),
		cmocka_unit_test(test_consistency_proofs_match_rfc6962_subproof_for_every_pair_up_to_300),
		cmocka_unit_test(test_tree_hash_through_reader_matches_root_of_leaves),
		cmocka_unit_test(test_random_proofs_in_a_million_leaf_tree_verify),
		cmocka_unit_test(test_tampered_inclusion_proofs_are_rejected),
		cmocka_unit_test(test_tampered_consistency_proofs_are_rejected),
		cmocka_unit_test(test_consistency_from_size_0_is_refused_except_for_witnesses),
		cmocka_unit_test(test_proof_requests_outside_the_tree_are_errors),
		cmocka_unit_test(test_proofs_work_at_64_bit_sizes),
		cmocka_unit_test(test_range_nodes_decompose_into_complete_aligned_subtrees),
		cmocka_unit_test(test_hash_from_b64_requires_exactly_32_bytes),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
