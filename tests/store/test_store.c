/*
 * test_store.c — the store's contract (store.h), checked against a model.
 *
 * Every root, proof, tile and entry the store returns is compared with what
 * tests/store/storetest.c computes from the entries alone (merkle_leaf_hash
 * and merkle_root_of); proofs are checked with the verifiers of merkle.h
 * against those independent roots.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"
#include "storetest.h"
#include "vfsshim.h"

#define ORIGIN "example.com/log"

/* A scratch directory and a database path in it, per test. */
struct sts_fix {
	char *dir, *path;
};

static int sts_setup(void **state)
{
	struct sts_fix *f = calloc(1, sizeof *f);

	assert_non_null(f);
	f->dir = stt_tmpdir();
	f->path = stt_join(f->dir, "log.db");
	*state = f;
	return 0;
}

static int sts_teardown(void **state)
{
	struct sts_fix *f = *state;

	stt_rmtree(f->dir);
	free(f->dir);
	free(f->path);
	free(f);
	return 0;
}

/* Sizes at which the log stood after each batch, with their roots (the
 * model's), so that past roots and proofs can be checked cheaply. */
struct sts_history {
	uint64_t size[256];
	merkle_hash root[256];
	size_t n;
};

static void sts_history_add(struct sts_history *h, const struct stt_model *m)
{
	assert_true(h->n < 256);
	h->size[h->n] = m->n;
	stt_model_root(m, m->n, h->root[h->n]);
	h->n++;
}

/* A size in [1, m->n] with its root: a past batch boundary, or (one time
 * in six) any size, whose root the model then computes. */
static uint64_t sts_pick_size(const struct sts_history *h,
			      const struct stt_model *m, uint64_t *rng,
			      merkle_hash root)
{
	if (stt_below(rng, 6) == 0) {
		uint64_t s = 1 + stt_below(rng, m->n);
		stt_model_root(m, s, root);
		return s;
	}
	for (;;) {
		size_t i = (size_t)stt_below(rng, h->n);
		if (h->size[i] > 0) {
			memcpy(root, h->root[i], MERKLE_HASH);
			return h->size[i];
		}
	}
}

/* Everything that must hold after a batch took the log from old to m->n. */
static void sts_check_log(struct store_log *l, const struct stt_model *m,
			  const struct sts_history *h, uint64_t old,
			  uint64_t *rng)
{
	size_t i;
	int k;

	assert_int_equal(store_log_size(l), m->n);
	/* The root now and at every earlier batch boundary. */
	for (i = 0; i < h->n; i++) {
		merkle_hash got;
		struct perr e;
		if (store_root(l, h->size[i], got, &e) != 0)
			fail_msg("store_root(%llu): %s", (unsigned long long)h->size[i], e.msg);
		if (memcmp(got, h->root[i], MERKLE_HASH) != 0)
			fail_msg("root at past size %llu changed (log now %llu)",
				 (unsigned long long)h->size[i], (unsigned long long)m->n);
	}
	/* Roots at random sizes, mostly between batch boundaries. */
	for (k = 0; k < 2; k++)
		stt_check_root(l, m, stt_below(rng, m->n + 1));
	for (k = 0; k < 6; k++) {
		merkle_hash root;
		uint64_t size = sts_pick_size(h, m, rng, root);
		uint64_t idx = k == 0 ? 0 : k == 1 ? size - 1 : stt_below(rng, size);
		stt_check_inclusion(l, m, idx, size, root);
	}
	for (k = 0; k < 6; k++) {
		merkle_hash r1, r2;
		uint64_t s1 = sts_pick_size(h, m, rng, r1);
		uint64_t s2 = sts_pick_size(h, m, rng, r2);
		if (s1 > s2)
			stt_check_consistency(l, m, s2, s1, r2, r1);
		else
			stt_check_consistency(l, m, s1, s2, r1, r2);
	}
	stt_check_tiles(l, m, 0, rng);
	/* The batch itself, through both readers (one by one only if it is
	 * small), and a few older ranges. */
	stt_check_entries(l, m, old, m->n, m->n - old <= 4096);
	for (k = 0; k < 3; k++) {
		uint64_t lo = stt_below(rng, m->n);
		uint64_t span = m->n - lo < 1000 ? m->n - lo : 1000;
		stt_check_entries(l, m, lo, lo + stt_below(rng, span + 1), 0);
	}
}

/*
 * Batches of assorted sizes, chosen around the tile width (255, 256, 257,
 * 511, 1023, 1024, 1025, 4096...) and then at random, up to 30000 entries:
 * after each one the store agrees with the model on roots (now and at every
 * past boundary), proofs, tiles and entries.
 */
static void test_batches_agree_with_model(void **state)
{
	static const uint64_t fixed[] = { 1, 64, 255, 256, 257, 1000, 1, 2, 3,
		127, 129, 511, 4096, 1023, 1024, 1025, 65, 300, 7, 2048, 1 };
	struct sts_fix *f = *state;
	struct store *s;
	struct store_log *l;
	struct stt_model m;
	struct sts_history *h = calloc(1, sizeof *h);
	uint64_t rng = 0x5eed0001, old;
	size_t b;

	assert_non_null(h);
	stt_model_init(&m, 1);
	stt_open(&s, &l, f->path, 1, NULL, ORIGIN);
	assert_string_equal(store_log_origin(l), ORIGIN);
	assert_int_equal(store_log_size(l), 0);
	stt_check_root(l, &m, 0);
	sts_history_add(h, &m);
	for (b = 0; m.n < 30000; b++) {
		uint64_t n = b < sizeof fixed / sizeof fixed[0] ? fixed[b]
							       : 1 + stt_below(&rng, 1500);
		old = m.n;
		stt_append(l, &m, n);
		sts_history_add(h, &m);
		sts_check_log(l, &m, h, old, &rng);
	}
	/* At the end, every tile and every entry once more. */
	stt_check_tiles(l, &m, 1, &rng);
	stt_check_entries(l, &m, 0, m.n, 0);
	store_close(s);
	stt_model_free(&m);
	free(h);
}

/* Appends to size target in batches of at most 5000. */
static void sts_grow(struct store_log *l, struct stt_model *m, uint64_t target,
		     uint64_t *rng)
{
	while (m->n < target) {
		uint64_t n = 1 + stt_below(rng, 5000);
		stt_append(l, m, n < target - m->n ? n : target - m->n);
	}
}

/*
 * Close and reopen at sizes where the right edge of a tile level is empty,
 * holds one hash, or is full (0, 1, 255, 256, 257, 511, 512, 513, 65535,
 * 65536, 65537): the reopened log has the same size and roots, and appending
 * continues from there (the next round's roots cover it).
 */
static void test_reopen_continues(void **state)
{
	static const uint64_t at[] = { 0, 1, 255, 256, 257, 511, 512, 513,
		65535, 65536, 65537 };
	struct sts_fix *f = *state;
	struct store *s;
	struct store_log *l;
	struct stt_model m;
	struct sts_history *h = calloc(1, sizeof *h);
	uint64_t rng = 0x5eed0002;
	size_t i;

	assert_non_null(h);
	stt_model_init(&m, 2);
	stt_open(&s, &l, f->path, 1, NULL, ORIGIN);
	for (i = 0; i < sizeof at / sizeof at[0]; i++) {
		uint64_t before = m.n;
		sts_grow(l, &m, at[i], &rng);
		sts_history_add(h, &m);
		store_close(s);
		/* Reopen, half the time naming the log, half the time as the
		 * database's only log. */
		stt_open(&s, &l, f->path, 0, NULL, i % 2 ? ORIGIN : NULL);
		assert_int_equal(store_log_size(l), at[i]);
		assert_string_equal(store_log_origin(l), ORIGIN);
		if (m.n > 0)
			sts_check_log(l, &m, h, before, &rng);
		else
			stt_check_root(l, &m, 0);
	}
	/* One more batch after the last reopen, straddling a tile edge. */
	stt_append(l, &m, 300);
	sts_history_add(h, &m);
	sts_check_log(l, &m, h, m.n - 300, &rng);
	store_close(s);
	stt_model_free(&m);
	free(h);
}

/*
 * Several logs in one database: interleaved batches of different entries
 * leave each log exactly as if it were alone, before and after a reopen.
 */
static void test_logs_are_independent(void **state)
{
	static const char *const origins[3] = { "a.example/one", "b.example/two",
						"c.example/three" };
	struct sts_fix *f = *state;
	struct store *s;
	struct store_log *l[3];
	struct stt_model m[3];
	struct sts_history *h = calloc(3, sizeof *h);
	uint64_t rng = 0x5eed0003;
	struct perr e;
	char **names;
	size_t n, i, round;

	assert_non_null(h);
	if (store_open(&s, f->path, 1, NULL, &e) != 0)
		fail_msg("store_open: %s", e.msg);
	for (i = 0; i < 3; i++) {
		stt_model_init(&m[i], 100 + i);
		assert_int_equal(store_log_create(s, origins[i], &e), 0);
		assert_int_equal(store_log_open(s, origins[i], &l[i], &e), 0);
		sts_history_add(&h[i], &m[i]);
	}
	stt_assert_fails(store_log_create(s, origins[1], &e), &e, "already exists");
	stt_assert_fails(store_log_open(s, NULL, &l[0], &e), &e, "several logs");
	assert_int_equal(store_log_open(s, origins[0], &l[0], &e), 0);
	for (round = 0; round < 12; round++) {
		i = (size_t)stt_below(&rng, 3);
		uint64_t old = m[i].n;
		stt_append(l[i], &m[i], 1 + stt_below(&rng, 700));
		sts_history_add(&h[i], &m[i]);
		for (n = 0; n < 3; n++)
			if (m[n].n > 0)
				sts_check_log(l[n], &m[n], &h[n], n == i ? old : m[n].n, &rng);
	}
	assert_int_equal(store_log_list(s, &names, &n, &e), 0);
	assert_int_equal(n, 3);
	for (i = 0; i < 3; i++)
		assert_string_equal(names[i], origins[i]);
	store_log_list_free(names, n);
	store_close(s);
	if (store_open(&s, f->path, 0, NULL, &e) != 0)
		fail_msg("store_open: %s", e.msg);
	for (i = 0; i < 3; i++) {
		assert_int_equal(store_log_open(s, origins[i], &l[i], &e), 0);
		assert_int_equal(store_log_size(l[i]), m[i].n);
	}
	for (i = 0; i < 3; i++) {
		if (m[i].n > 0)
			sts_check_log(l[i], &m[i], &h[i], 0, &rng);
		stt_append(l[i], &m[i], 257);
		stt_check_root(l[i], &m[i], m[i].n);
		stt_check_tiles(l[i], &m[i], 1, &rng);
	}
	store_close(s);
	for (i = 0; i < 3; i++)
		stt_model_free(&m[i]);
	free(h);
}

/*
 * Entries: at most STORE_ENTRY_MAX (65535) bytes.  A batch with one entry of
 * 65536 bytes in the middle is refused with an error naming the limit, and
 * none of its entries is appended; 65535 bytes and 0 bytes are accepted and
 * read back exactly.
 */
static void test_entry_size_limit(void **state)
{
	struct sts_fix *f = *state;
	struct store *s;
	struct store_log *l;
	struct stt_model m;
	uint64_t first = 0;
	merkle_hash root_before, got, *leaves;
	struct perr e;
	uint8_t *big = malloc(STORE_ENTRY_MAX + 1), *data;
	void **ent;
	size_t *lens, len, i;
	const size_t nb = 11, mid = 5;
	uint64_t base;

	assert_non_null(big);
	for (i = 0; i <= STORE_ENTRY_MAX; i++)
		big[i] = (uint8_t)(i * 7 + 3);
	stt_model_init(&m, 4);
	stt_open(&s, &l, f->path, 1, NULL, ORIGIN);
	stt_append(l, &m, 300);
	stt_model_root(&m, m.n, root_before);

	/* 11 ordinary entries with a 65536-byte one in the middle. */
	stt_batch(&m, nb, &ent, &lens);
	free(ent[mid]);
	ent[mid] = big;
	lens[mid] = STORE_ENTRY_MAX + 1;
	stt_assert_fails(store_append(l, (const void *const *)ent, lens, nb, &first, &e),
			 &e, "65535");
	if (strstr(e.msg, "65536") == NULL)
		fail_msg("error \"%s\" does not give the entry's size", e.msg);
	ent[mid] = NULL;
	stt_batch_free(ent, lens, nb);
	assert_int_equal(store_log_size(l), 300);
	assert_int_equal(store_root(l, 300, got, &e), 0);
	assert_memory_equal(got, root_before, MERKLE_HASH);
	stt_assert_fails(store_entry(l, 300, &data, &len, &e), &e, "beyond");
	stt_check_tiles(l, &m, 1, NULL);

	/* The log goes on: a 65535-byte entry, an empty one, an ordinary
	 * one, in one batch. */
	{
		const void *three[3] = { big, "", "after" };
		size_t tl[3] = { STORE_ENTRY_MAX, 0, 5 };
		assert_int_equal(store_append(l, three, tl, 3, &first, &e), 0);
		assert_int_equal(first, 300);
		assert_int_equal(store_log_size(l), 303);
		for (i = 0; i < 3; i++) {
			assert_int_equal(store_entry(l, 300 + i, &data, &len, &e), 0);
			assert_int_equal(len, tl[i]);
			if (len > 0)
				assert_memory_equal(data, three[i], len);
			free(data);
		}
	}
	/* And an empty entry alone, passed as a NULL pointer. */
	{
		const void *none[1] = { NULL };
		size_t zl[1] = { 0 };
		assert_int_equal(store_append(l, none, zl, 1, &first, &e), 0);
		assert_int_equal(first, 303);
	}
	/* The roots cover exactly what was accepted. */
	base = m.n;
	leaves = malloc((base + 4) * sizeof *leaves);
	assert_non_null(leaves);
	memcpy(leaves, m.lv[0], base * sizeof *leaves);
	merkle_leaf_hash(leaves[base], big, STORE_ENTRY_MAX);
	merkle_leaf_hash(leaves[base + 1], "", 0);
	merkle_leaf_hash(leaves[base + 2], "after", 5);
	merkle_leaf_hash(leaves[base + 3], "", 0);
	for (i = 0; i <= 4; i++) {
		merkle_hash want;
		merkle_root_of(want, (const merkle_hash *)leaves, base + i);
		assert_int_equal(store_root(l, base + i, got, &e), 0);
		assert_memory_equal(got, want, MERKLE_HASH);
	}
	/* The refused batch is not in the database either. */
	store_close(s);
	stt_open(&s, &l, f->path, 0, NULL, ORIGIN);
	assert_int_equal(store_log_size(l), 304);
	assert_int_equal(store_root(l, 304, got, &e), 0);
	{
		merkle_hash want;
		merkle_root_of(want, (const merkle_hash *)leaves, 304);
		assert_memory_equal(got, want, MERKLE_HASH);
	}
	store_close(s);
	free(leaves);
	free(big);
	stt_model_free(&m);
}

/* Reads inside a transaction, as a server answering while it batches. */
static void sts_read_all_over(struct store_log *l, const struct stt_model *m,
			      uint64_t *rng)
{
	merkle_hash root;
	uint64_t i;

	stt_model_root(m, m->n, root);
	stt_check_root(l, m, m->n);
	for (i = 0; i < m->n; i += 1 + stt_below(rng, 97))
		stt_check_inclusion(l, m, i, m->n, root);
	stt_check_tiles(l, m, 1, rng);
}

/*
 * store_begin / store_append / store_rollback: nothing of the transaction
 * remains, in the database or in memory; the log goes on from where it was,
 * with the same entries as the rolled-back ones.
 */
static void test_rollback_leaves_nothing(void **state)
{
	struct sts_fix *f = *state;
	struct store *s;
	struct store_log *l;
	struct stt_model m;
	struct sts_history *h = calloc(1, sizeof *h);
	uint64_t rng = 0x5eed0005;
	struct perr e;
	uint8_t *data;
	size_t len;

	assert_non_null(h);
	stt_model_init(&m, 5);
	stt_open(&s, &l, f->path, 1, NULL, ORIGIN);
	stt_append(l, &m, 1000);
	sts_history_add(h, &m);

	assert_int_equal(store_begin(s, &e), 0);
	stt_assert_fails(store_begin(s, &e), &e, "already");
	stt_append(l, &m, 300);
	stt_append(l, &m, 1);
	sts_read_all_over(l, &m, &rng);
	store_rollback(s);
	stt_model_truncate(&m, 1000);

	assert_int_equal(store_log_size(l), 1000);
	stt_assert_fails(store_entry(l, 1000, &data, &len, &e), &e, "beyond");
	stt_assert_fails(store_commit(s, &e), &e, "no transaction");
	sts_check_log(l, &m, h, 0, &rng);
	/* The same entries again, outside a transaction. */
	stt_append(l, &m, 301);
	sts_history_add(h, &m);
	sts_check_log(l, &m, h, 1000, &rng);
	sts_read_all_over(l, &m, &rng);
	store_close(s);
	stt_open(&s, &l, f->path, 0, NULL, ORIGIN);
	assert_int_equal(store_log_size(l), 1301);
	sts_check_log(l, &m, h, 0, &rng);
	store_close(s);
	stt_model_free(&m);
	free(h);
}

/*
 * As above, but after the rollback the log receives *different* entries at
 * the same indices.  Nothing the rolled-back transaction wrote or read may
 * survive anywhere (a tile completed inside the transaction and read there
 * must not be served afterwards).
 */
static void test_rollback_then_different_entries(void **state)
{
	struct sts_fix *f = *state;
	struct store *s;
	struct store_log *l;
	struct stt_model m;
	struct sts_history *h = calloc(1, sizeof *h);
	uint64_t rng = 0x5eed0006;

	assert_non_null(h);
	stt_model_init(&m, 6);
	stt_open(&s, &l, f->path, 1, NULL, ORIGIN);
	stt_append(l, &m, 100);
	sts_history_add(h, &m);

	assert_int_equal(store_begin(s, NULL), 0);
	stt_model_reseed(&m, 66);
	stt_append(l, &m, 700);       /* completes level-0 tiles 0 and 1 */
	sts_read_all_over(l, &m, &rng);
	store_rollback(s);
	stt_model_truncate(&m, 100);

	stt_model_reseed(&m, 67);
	stt_append(l, &m, 700);
	sts_history_add(h, &m);
	sts_read_all_over(l, &m, &rng);
	sts_check_log(l, &m, h, 100, &rng);
	store_close(s);
	stt_model_free(&m);
	free(h);
}

/* store_begin, appends to two logs, store_commit: both batches are kept,
 * also across a reopen. */
static void test_group_commit_two_logs(void **state)
{
	struct sts_fix *f = *state;
	struct store *s;
	struct store_log *a, *b;
	struct stt_model ma, mb;
	uint64_t rng = 0x5eed0007;
	struct perr e;

	stt_model_init(&ma, 7);
	stt_model_init(&mb, 8);
	stt_open(&s, &a, f->path, 1, NULL, "a");
	assert_int_equal(store_log_create(s, "b", &e), 0);
	assert_int_equal(store_log_open(s, "b", &b, &e), 0);
	stt_append(a, &ma, 10);

	assert_int_equal(store_begin(s, &e), 0);
	stt_append(a, &ma, 300);
	stt_append(b, &mb, 200);
	stt_append(a, &ma, 5);
	assert_int_equal(store_commit(s, &e), 0);
	stt_check_root(a, &ma, ma.n);
	stt_check_root(b, &mb, mb.n);
	stt_check_tiles(a, &ma, 1, &rng);
	stt_check_tiles(b, &mb, 1, &rng);

	/* A second group, then single appends again. */
	assert_int_equal(store_begin(s, &e), 0);
	stt_append(b, &mb, 56);
	stt_append(a, &ma, 1);
	assert_int_equal(store_commit(s, &e), 0);
	stt_append(b, &mb, 1);
	store_close(s);

	stt_open(&s, &a, f->path, 0, NULL, "a");
	assert_int_equal(store_log_open(s, "b", &b, &e), 0);
	assert_int_equal(store_log_size(a), 316);
	assert_int_equal(store_log_size(b), 257);
	stt_check_root(a, &ma, ma.n);
	stt_check_root(b, &mb, mb.n);
	stt_check_entries(a, &ma, 0, ma.n, 0);
	stt_check_entries(b, &mb, 0, mb.n, 0);
	stt_check_tiles(a, &ma, 1, &rng);
	stt_check_tiles(b, &mb, 1, &rng);
	store_close(s);
	stt_model_free(&ma);
	stt_model_free(&mb);
}

/*
 * An append that fails inside a transaction spoils the whole transaction:
 * later appends in it are refused, store_commit refuses and rolls back
 * (the batches before the failure are gone too), and the handle then works
 * from what is committed.  The failure is provoked with a second handle
 * that appended behind the first one's back, so the first one's idea of
 * the log's size is stale.
 */
static void test_failed_append_spoils_transaction(void **state)
{
	struct sts_fix *f = *state;
	struct store *s1, *s2;
	struct store_log *a1, *a2, *b2;
	struct stt_model ma, mb;
	void **ent;
	size_t *lens;
	struct perr e;
	int rc;

	stt_model_init(&ma, 11);
	stt_model_init(&mb, 12);
	stt_open(&s1, &a1, f->path, 1, NULL, "a");
	assert_int_equal(store_log_create(s1, "b", &e), 0);
	stt_open(&s2, &a2, f->path, 0, NULL, "a");
	assert_int_equal(store_log_open(s2, "b", &b2, &e), 0);
	stt_append(a1, &ma, 10);          /* a2 still believes "a" is empty */
	store_close(s1);

	assert_int_equal(store_begin(s2, &e), 0);
	stt_append(b2, &mb, 20);
	stt_batch(&ma, 5, &ent, &lens);   /* entries 10..14, to go at index 0 */
	rc = store_append(a2, (const void *const *)ent, lens, 5, NULL, &e);
	assert_true(rc < 0);
	stt_assert_fails(store_append(b2, (const void *const *)ent, lens, 5, NULL, &e),
			 &e, "roll");
	stt_assert_fails(store_commit(s2, &e), &e, "rolled back");
	stt_batch_free(ent, lens, 5);
	stt_model_truncate(&mb, 0);

	/* Nothing of the transaction remains; the handle knows the truth. */
	assert_int_equal(store_log_size(b2), 0);
	assert_int_equal(store_log_size(a2), 10);
	stt_check_root(a2, &ma, 10);
	stt_append(a2, &ma, 300);
	stt_append(b2, &mb, 3);
	store_close(s2);
	stt_open(&s2, &a2, f->path, 0, NULL, "a");
	assert_int_equal(store_log_open(s2, "b", &b2, &e), 0);
	assert_int_equal(store_log_size(a2), 310);
	assert_int_equal(store_log_size(b2), 3);
	stt_check_root(a2, &ma, 310);
	stt_check_root(b2, &mb, 3);
	stt_check_entries(a2, &ma, 0, 310, 0);
	stt_check_tiles(a2, &ma, 1, NULL);
	store_close(s2);
	stt_model_free(&ma);
	stt_model_free(&mb);
}

/* A merkle_reader around store_read_nodes that counts what is asked. */
struct sts_counter {
	struct store_log *l;
	uint64_t nodes, calls;
};

static int sts_counting_reader(void *ctx, const struct merkle_node *nodes,
			       size_t n, merkle_hash *out, struct perr *e)
{
	struct sts_counter *c = ctx;

	c->calls++;
	c->nodes += n;
	return store_read_nodes(c->l, nodes, n, out, e);
}

/* Sizes to prove at, with their roots computed once by the model: the
 * current size, sizes around powers of two and tile edges, random ones. */
struct sts_sizes {
	uint64_t size[48];
	merkle_hash root[48];
	size_t n;
};

static void sts_sizes_init(struct sts_sizes *z, const struct stt_model *m,
			   uint64_t *rng)
{
	static const uint64_t edges[] = { 1, 2, 3, 255, 256, 257, 65535, 65536, 65537 };
	size_t i;

	z->n = 0;
	z->size[z->n++] = m->n;
	for (i = 0; i < sizeof edges / sizeof edges[0]; i++)
		if (edges[i] < m->n)
			z->size[z->n++] = edges[i];
	while (z->n < 24)
		z->size[z->n++] = 1 + stt_below(rng, m->n);
	for (i = 0; i < z->n; i++)
		stt_model_root(m, z->size[i], z->root[i]);
}

/* Proves at random in a log of m->n entries through the counting reader;
 * every proof verifies, equals the store's own, and needs at most
 * 2 * 64 nodes.  Returns the most nodes one proof needed. */
static uint64_t sts_prove_counting(struct store_log *l,
				   const struct stt_model *m, uint64_t *rng,
				   int rounds)
{
	struct sts_counter c = { l, 0, 0 };
	struct sts_sizes z;
	uint64_t most = 0;
	struct perr e;
	int k;

	sts_sizes_init(&z, m, rng);
	for (k = 0; k < rounds; k++) {
		merkle_hash proof[MERKLE_MAX_PROOF], proof2[MERKLE_MAX_PROOF];
		size_t len, len2, i1 = (size_t)stt_below(rng, z.n);
		size_t i2 = (size_t)stt_below(rng, z.n);
		const uint8_t *r1, *r2;
		uint64_t s1, s2, idx;

		if (z.size[i1] > z.size[i2]) {
			size_t t = i1;
			i1 = i2;
			i2 = t;
		}
		s1 = z.size[i1];
		s2 = z.size[i2];
		r1 = z.root[i1];
		r2 = z.root[i2];
		idx = stt_below(rng, s2);

		c.nodes = c.calls = 0;
		assert_int_equal(merkle_tree_hash(proof[0], s2, sts_counting_reader,
						  &c, &e), 0);
		assert_memory_equal(proof[0], r2, MERKLE_HASH);
		assert_true(c.nodes <= 64);
		most = c.nodes > most ? c.nodes : most;

		c.nodes = c.calls = 0;
		if (merkle_prove_inclusion(proof, &len, idx, s2, sts_counting_reader,
					   &c, &e) != 0)
			fail_msg("inclusion %llu in %llu: %s", (unsigned long long)idx,
				 (unsigned long long)s2, e.msg);
		if (c.nodes > 2 * 64)
			fail_msg("inclusion proof of %llu in %llu read %llu nodes",
				 (unsigned long long)idx, (unsigned long long)s2,
				 (unsigned long long)c.nodes);
		most = c.nodes > most ? c.nodes : most;
		assert_int_equal(merkle_verify_inclusion(m->lv[0][idx], MERKLE_HASH, idx,
							 s2, (const merkle_hash *)proof,
							 len, r2, MERKLE_HASH, &e), 0);
		assert_int_equal(store_prove_inclusion(l, idx, s2, proof2, &len2, &e), 0);
		assert_int_equal(len2, len);
		assert_memory_equal(proof2, proof, len * MERKLE_HASH);

		c.nodes = c.calls = 0;
		if (merkle_prove_consistency(proof, &len, s1, s2, sts_counting_reader,
					     &c, &e) != 0)
			fail_msg("consistency %llu -> %llu: %s", (unsigned long long)s1,
				 (unsigned long long)s2, e.msg);
		if (c.nodes > 2 * 64)
			fail_msg("consistency proof %llu -> %llu read %llu nodes",
				 (unsigned long long)s1, (unsigned long long)s2,
				 (unsigned long long)c.nodes);
		most = c.nodes > most ? c.nodes : most;
		assert_int_equal(merkle_verify_consistency(s1, s2,
							   (const merkle_hash *)proof, len,
							   r1, MERKLE_HASH, r2,
							   MERKLE_HASH, &e), 0);
		assert_int_equal(store_prove_consistency(l, s1, s2, proof2, &len2, &e), 0);
		assert_int_equal(len2, len);
		assert_memory_equal(proof2, proof, len * MERKLE_HASH);
	}
	return most;
}

/*
 * O(log n) reads, never a scan: in a log of 100,000 entries a proof or a
 * past root asks the store for at most 2 * 64 hashes, as in a log of 1,000;
 * and with a cold page cache (a freshly opened database, through the
 * counting VFS) it reads a bounded number of database pages, far fewer than
 * the entries table holds.
 */
static void test_reads_are_logarithmic(void **state)
{
	struct sts_fix *f = *state;
	struct store *s;
	struct store_log *l;
	struct stt_model m;
	struct sts_sizes z;
	uint64_t rng = 0x5eed0008, small, large, most_pages = 0;
	int k;

	stt_model_init(&m, 9);
	stt_open(&s, &l, f->path, 1, NULL, ORIGIN);
	stt_append(l, &m, 1000);
	small = sts_prove_counting(l, &m, &rng, 300);
	while (m.n < 100000)
		stt_append(l, &m, 9000);
	large = sts_prove_counting(l, &m, &rng, 300);
	print_message("most nodes per proof: %llu at 1000 entries, %llu at %llu\n",
		      (unsigned long long)small, (unsigned long long)large,
		      (unsigned long long)m.n);
	store_close(s);

	assert_int_equal(svfs_register(), SQLITE_OK);
	sts_sizes_init(&z, &m, &rng);
	for (k = 0; k < 6; k++) {
		struct svfs_stats d0, w0, d1, w1;
		merkle_hash proof[MERKLE_MAX_PROOF];
		size_t len, i1 = (size_t)stt_below(&rng, z.n), i2 = 0;
		uint64_t idx = stt_below(&rng, z.size[i2]), pages;
		struct perr e;

		if (z.size[i1] > z.size[i2])
			i1 = i2;
		svfs_reset();
		stt_open(&s, &l, f->path, 0, SVFS_NAME, ORIGIN);
		d0 = svfs_stats(SVFS_DB);
		w0 = svfs_stats(SVFS_WAL);
		assert_int_equal(store_prove_inclusion(l, idx, z.size[i2], proof, &len, &e), 0);
		assert_int_equal(merkle_verify_inclusion(m.lv[0][idx], MERKLE_HASH, idx,
							 z.size[i2], (const merkle_hash *)proof,
							 len, z.root[i2], MERKLE_HASH, &e), 0);
		assert_int_equal(store_prove_consistency(l, z.size[i1], z.size[i2], proof,
							 &len, &e), 0);
		assert_int_equal(merkle_verify_consistency(z.size[i1], z.size[i2],
							   (const merkle_hash *)proof, len,
							   z.root[i1], MERKLE_HASH, z.root[i2],
							   MERKLE_HASH, &e), 0);
		d1 = svfs_stats(SVFS_DB);
		w1 = svfs_stats(SVFS_WAL);
		pages = (d1.reads - d0.reads) + (w1.reads - w0.reads);
		most_pages = pages > most_pages ? pages : most_pages;
		/* Two proofs touch at most a few tiles per level, each a
		 * handful of 4 KiB pages; the entries alone fill thousands. */
		if (pages > 300)
			fail_msg("two proofs in a cold store of %llu entries read %llu pages",
				 (unsigned long long)m.n, (unsigned long long)pages);
		store_close(s);
	}
	svfs_reset();
	print_message("most pages read by an inclusion + consistency proof, cold: %llu\n",
		      (unsigned long long)most_pages);
	stt_model_free(&m);
}

/* Settings: stored as given (binary, with NULs), replaced, and absent
 * keys are an error; they survive a reopen. */
static void test_meta_settings(void **state)
{
	struct sts_fix *f = *state;
	struct store *s;
	struct perr e;
	static const uint8_t bin[5] = { 'k', 0, 0xff, 1, 0 };
	char *v = NULL;
	size_t len = 0;

	assert_int_equal(store_open(&s, f->path, 1, NULL, &e), 0);
	stt_assert_fails(store_meta_get(s, "signer", &v, &len, &e), &e, "signer");
	assert_null(v);
	assert_int_equal(store_meta_set(s, "signer", "first", 5, &e), 0);
	assert_int_equal(store_meta_set(s, "signer", bin, sizeof bin, &e), 0);
	assert_int_equal(store_meta_set(s, "empty", "", 0, &e), 0);
	store_close(s);
	assert_int_equal(store_open(&s, f->path, 0, NULL, &e), 0);
	assert_int_equal(store_meta_get(s, "signer", &v, &len, &e), 0);
	assert_int_equal(len, sizeof bin);
	assert_memory_equal(v, bin, sizeof bin);
	assert_int_equal(v[len], '\0');
	free(v);
	assert_int_equal(store_meta_get(s, "empty", &v, &len, &e), 0);
	assert_int_equal(len, 0);
	assert_string_equal(v, "");
	free(v);
	store_close(s);
}

static int sts_stop_at_third(void *ctx, uint64_t idx, const uint8_t *data,
			     size_t len)
{
	unsigned *calls = ctx;

	(void)idx;
	(void)data;
	(void)len;
	return ++*calls == 3 ? 42 : 0;
}

/* store_entries stops when the callback says so and passes its value on;
 * an empty range calls nothing; an empty batch appends nothing. */
static void test_entries_and_empty_batches(void **state)
{
	struct sts_fix *f = *state;
	struct store *s;
	struct store_log *l;
	struct stt_model m;
	unsigned calls = 0;
	uint64_t first = 0;
	struct perr e;

	stt_model_init(&m, 13);
	stt_open(&s, &l, f->path, 1, NULL, ORIGIN);
	assert_int_equal(store_append(l, NULL, NULL, 0, &first, &e), 0);
	assert_int_equal(first, 0);
	assert_int_equal(store_log_size(l), 0);
	assert_int_equal(store_entries(l, 0, 0, sts_stop_at_third, &calls, &e), 0);
	assert_int_equal(calls, 0);
	stt_append(l, &m, 10);
	assert_int_equal(store_entries(l, 2, 10, sts_stop_at_third, &calls, &e), 42);
	assert_int_equal(calls, 3);
	calls = 0;
	assert_int_equal(store_entries(l, 10, 10, sts_stop_at_third, &calls, &e), 0);
	assert_int_equal(calls, 0);
	assert_int_equal(store_append(l, NULL, NULL, 0, &first, &e), 0);
	assert_int_equal(first, 10);
	assert_int_equal(store_log_size(l), 10);
	stt_check_root(l, &m, 10);
	stt_check_entries(l, &m, 0, 10, 1);
	store_close(s);
	stt_model_free(&m);
}

/* The database and the files SQLite derives from it are private (0600). */
static void test_files_are_private(void **state)
{
	struct sts_fix *f = *state;
	static const char *const suffix[] = { "", "-wal", "-shm" };
	struct store *s;
	struct store_log *l;
	struct stt_model m;
	size_t i;

	stt_model_init(&m, 14);
	stt_open(&s, &l, f->path, 1, NULL, ORIGIN);
	stt_append(l, &m, 3);
	for (i = 0; i < 3; i++) {
		char p[512];
		struct stat st;
		snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
		if (stat(p, &st) != 0)
			fail_msg("%s does not exist while the store is open", p);
		if ((st.st_mode & 0777) != 0600)
			fail_msg("%s has mode %03o, not 0600", p, (unsigned)(st.st_mode & 0777));
	}
	store_close(s);
	stt_model_free(&m);
}

/* store_open: a missing file, an existing file with create, a file that is
 * not SQLite, an SQLite database that is not a parley store. */
static void test_open_errors(void **state)
{
	struct sts_fix *f = *state;
	struct store *s = (struct store *)&s;
	struct perr e;
	char *missing = stt_join(f->dir, "missing.db");
	char *junk = stt_join(f->dir, "junk.db");
	char *other = stt_join(f->dir, "other.db");
	FILE *fp;
	sqlite3 *db;

	stt_assert_fails(store_open(&s, missing, 0, NULL, &e), &e, "missing.db");
	assert_null(s);
	assert_int_not_equal(access(missing, F_OK), 0);

	stt_open(&s, &(struct store_log *){ NULL }, f->path, 1, NULL, ORIGIN);
	store_close(s);
	stt_assert_fails(store_open(&s, f->path, 1, NULL, &e), &e, "already exists");
	assert_null(s);

	fp = fopen(junk, "w");
	assert_non_null(fp);
	fputs("this is not an SQLite database, not even close to one; it is text "
	      "long enough to fill a header and then some more, and some more.\n", fp);
	fclose(fp);
	assert_true(store_open(&s, junk, 0, NULL, &e) < 0);
	assert_null(s);
	assert_true(strlen(e.msg) > 0);

	assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES(1);",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	stt_assert_fails(store_open(&s, other, 0, NULL, &e), &e, "not a parley store");
	assert_null(s);

	free(missing);
	free(junk);
	free(other);
}

/*
 * A failed store_open must leave a file that is not a parley store as it
 * found it: an SQLite database of some other program keeps its rollback
 * journal mode (it is not switched to WAL) and its content.
 */
static void test_open_foreign_database_unchanged(void **state)
{
	struct sts_fix *f = *state;
	struct store *s;
	struct perr e;
	char *other = stt_join(f->dir, "other.db");
	sqlite3 *db;
	sqlite3_stmt *st;
	char mode[16] = "";

	assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES(42);",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	stt_assert_fails(store_open(&s, other, 0, NULL, &e), &e, "not a parley store");

	assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(mode, sizeof mode, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT x FROM t", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 42);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(other);
	if (strcmp(mode, "delete") != 0)
		fail_msg("store_open of a foreign SQLite database switched its journal "
			 "mode from \"delete\" to \"%s\"", mode);
}

/* Likewise an empty file: it is not a parley store, and stays empty. */
static void test_open_empty_file_unchanged(void **state)
{
	struct sts_fix *f = *state;
	struct store *s;
	struct perr e;
	char *empty = stt_join(f->dir, "empty");
	FILE *fp = fopen(empty, "w");
	long size;

	assert_non_null(fp);
	fclose(fp);
	stt_assert_fails(store_open(&s, empty, 0, NULL, &e), &e, "not a parley store");
	fp = fopen(empty, "r");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	size = ftell(fp);
	fclose(fp);
	free(empty);
	if (size != 0)
		fail_msg("store_open of an empty file that is not a parley store wrote "
			 "%ld bytes into it", size);
}

/* A store_open with create that fails leaves no file behind: the same
 * create succeeds once the cause is gone. */
static void test_failed_create_leaves_no_file(void **state)
{
	struct sts_fix *f = *state;
	struct store *s;
	struct store_log *l;
	struct perr e;
	int left;

	stt_assert_fails(store_open(&s, f->path, 1, "no-such-vfs", &e), &e, "no-such-vfs");
	assert_null(s);
	left = access(f->path, F_OK) == 0;
	if (left)
		fail_msg("a failed store_open with create left %s behind; creating it "
			 "again now fails with \"already exists\"", f->path);
	stt_open(&s, &l, f->path, 1, NULL, ORIGIN);
	store_close(s);
}

/* store_log_open: an unknown origin; no log at all; several logs. */
static void test_log_open_errors(void **state)
{
	struct sts_fix *f = *state;
	struct store *s;
	struct store_log *l = NULL;
	struct perr e;

	assert_int_equal(store_open(&s, f->path, 1, NULL, &e), 0);
	stt_assert_fails(store_log_open(s, NULL, &l, &e), &e, "no log");
	assert_null(l);
	assert_int_equal(store_log_create(s, ORIGIN, &e), 0);
	stt_assert_fails(store_log_open(s, "unknown.example/log", &l, &e), &e,
			 "unknown.example/log");
	assert_null(l);
	assert_int_equal(store_log_open(s, NULL, &l, &e), 0);
	assert_string_equal(store_log_origin(l), ORIGIN);
	store_close(s);
}

/* Asking beyond the log's size fails with an error that says so, and the
 * log stays usable. */
static void test_beyond_size_errors(void **state)
{
	struct sts_fix *f = *state;
	struct store *s;
	struct store_log *l;
	struct stt_model m;
	merkle_hash proof[MERKLE_MAX_PROOF], root, tile[256];
	size_t len;
	unsigned width;
	uint8_t *data;
	struct perr e;

	stt_model_init(&m, 10);
	stt_open(&s, &l, f->path, 1, NULL, ORIGIN);
	stt_assert_fails(store_prove_inclusion(l, 0, 0, proof, &len, &e), &e, "0");
	stt_append(l, &m, 300);
	stt_assert_fails(store_root(l, 301, root, &e), &e, "beyond");
	stt_assert_fails(store_root(l, UINT64_MAX, root, &e), &e, "beyond");
	stt_assert_fails(store_prove_inclusion(l, 0, 301, proof, &len, &e), &e, "beyond");
	stt_assert_fails(store_prove_inclusion(l, 300, 300, proof, &len, &e), &e, "300");
	stt_assert_fails(store_prove_inclusion(l, 500, 300, proof, &len, &e), &e, "500");
	stt_assert_fails(store_prove_consistency(l, 10, 301, proof, &len, &e), &e, "beyond");
	stt_assert_fails(store_prove_consistency(l, 200, 100, proof, &len, &e), &e, "larger");
	stt_assert_fails(store_prove_consistency(l, 0, 100, proof, &len, &e), &e, "empty");
	stt_assert_fails(store_entry(l, 300, &data, &len, &e), &e, "beyond");
	stt_assert_fails(store_entries(l, 0, 301, NULL, NULL, &e), &e, "beyond");
	stt_assert_fails(store_entries(l, 20, 10, NULL, NULL, &e), &e, "beyond");
	stt_assert_fails(store_tile(l, 0, 2, tile, &width, &e), &e, "does not exist");
	stt_assert_fails(store_tile(l, 1, 1, tile, &width, &e), &e, "does not exist");
	stt_assert_fails(store_tile(l, 2, 0, tile, &width, &e), &e, "does not exist");
	{
		struct merkle_node far = { 9, 0 };   /* leaves [0, 512) */
		stt_assert_fails(store_read_nodes(l, &far, 1, proof, &e), &e, "not in");
	}
	stt_append(l, &m, 300);
	stt_check_root(l, &m, 600);
	stt_check_tiles(l, &m, 1, NULL);
	store_close(s);
	stt_model_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batches_agree_with_model, sts_setup, sts_teardown),
		cmocka_unit_test_setup_teardown(test_reopen_continues, sts_setup, sts_teardown),
		cmocka_unit_test_setup_teardown(test_logs_are_independent, sts_setup, sts_teardown),
		cmocka_unit_test_setup_teardown(test_entry_size_limit, sts_setup, sts_teardown),
		cmocka_unit_test_setup_teardown(test_rollback_leaves_nothing, sts_setup, sts_teardown),
		cmocka_unit_test_setup_teardown(test_rollback_then_different_entries, sts_setup, sts_teardown),
		cmocka_unit_test_setup_teardown(test_group_commit_two_logs, sts_setup, sts_teardown),
		cmocka_unit_test_setup_teardown(test_failed_append_spoils_transaction, sts_setup, sts_teardown),
		cmocka_unit_test_setup_teardown(test_reads_are_logarithmic, sts_setup, sts_teardown),
		cmocka_unit_test_setup_teardown(test_meta_settings, sts_setup, sts_teardown),
		cmocka_unit_test_setup_teardown(test_entries_and_empty_batches, sts_setup, sts_teardown),
		cmocka_unit_test_setup_teardown(test_files_are_private, sts_setup, sts_teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, sts_setup, sts_teardown),
		cmocka_unit_test_setup_teardown(test_open_foreign_database_unchanged, sts_setup, sts_teardown),
		cmocka_unit_test_setup_teardown(test_open_empty_file_unchanged, sts_setup, sts_teardown),
		cmocka_unit_test_setup_teardown(test_failed_create_leaves_no_file, sts_setup, sts_teardown),
		cmocka_unit_test_setup_teardown(test_log_open_errors, sts_setup, sts_teardown),
		cmocka_unit_test_setup_teardown(test_beyond_size_errors, sts_setup, sts_teardown),
	};

	/* PARLEY_TEST_FILTER=test_name runs one test (cmocka pattern). */
	if (getenv("PARLEY_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("PARLEY_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
