/*
 * test_durability.c — store.h's durability contract, seen from the disk.
 *
 * "store_append returns only after its transaction is committed and
 * synced."  The store is opened through the shim VFS of vfsshim.c, which
 * sees every write and sync of the database and its WAL:
 *
 *   - after every store_append (and store_commit) nothing written to either
 *     file is left unsynced, and the WAL was synced during the call;
 *   - power cuts: at random writes and syncs inside SQLite transactions, and
 *     right after calls return, the shim writes out what the disk could
 *     hold at that instant (what was synced, plus none, some or all of the
 *     writes issued since).  Each image, opened normally, holds every
 *     acknowledged batch, the batch in flight entirely or not at all, and
 *     the right roots.
 *
 * PARLEY_TEST_FILTER=<test name> runs one test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"
#include "storetest.h"
#include "vfsshim.h"

#define DUR_MAX_LOGS 2
#define DUR_MAX_PENDING 24

struct dur_run;

struct dur_fix {
	char *dir, *path;
	struct dur_run *run;   /* a power-cut run, cleaned up even if it fails */
};

static void dur_run_cleanup(struct dur_run *r);

static int dur_setup(void **state)
{
	struct dur_fix *f = calloc(1, sizeof *f);

	assert_non_null(f);
	assert_int_equal(svfs_register(), SQLITE_OK);
	svfs_reset();
	f->dir = stt_tmpdir();
	f->path = stt_join(f->dir, "log.db");
	*state = f;
	return 0;
}

static int dur_teardown(void **state)
{
	struct dur_fix *f = *state;

	svfs_set_hook(NULL, NULL);
	if (f->run != NULL)
		dur_run_cleanup(f->run);
	svfs_reset();
	stt_rmtree(f->dir);
	free(f->dir);
	free(f->path);
	free(f);
	return 0;
}

/* Asserts that nothing written to the database or its WAL since `before`
 * is unsynced, and that the WAL was written and synced since then. */
static void dur_assert_synced(const struct svfs_stats *wal_before,
			      const char *what)
{
	struct svfs_stats w = svfs_stats(SVFS_WAL), d = svfs_stats(SVFS_DB);

	if (w.dirty)
		fail_msg("%s returned with unsynced writes in the WAL", what);
	if (d.dirty)
		fail_msg("%s returned with unsynced writes in the database file", what);
	if (w.writes == wal_before->writes)
		fail_msg("%s wrote nothing to the WAL", what);
	if (w.syncs == wal_before->syncs)
		fail_msg("%s did not sync the WAL", what);
}

/*
 * Every store_append (batches of 1, 64 and 1024, enough of them for SQLite
 * to checkpoint the WAL into the database several times), every group
 * commit, store_log_create and store_meta_set: when the call returns, every
 * byte it wrote has been synced, and the WAL was synced during the call.
 */
static void test_append_syncs_what_it_writes(void **state)
{
	static const uint64_t sizes[] = { 1, 64, 1024 };
	struct dur_fix *f = *state;
	struct store *s;
	struct store_log *l, *l2;
	struct stt_model m, m2;
	struct svfs_stats before;
	struct perr e;
	int i;

	stt_model_init(&m, 21);
	stt_model_init(&m2, 22);
	if (store_open(&s, f->path, 1, SVFS_NAME, &e) != 0)
		fail_msg("store_open through the shim: %s", e.msg);
	before = svfs_stats(SVFS_WAL);
	assert_int_equal(store_log_create(s, "one", &e), 0);
	dur_assert_synced(&before, "store_log_create");
	before = svfs_stats(SVFS_WAL);
	assert_int_equal(store_meta_set(s, "key", "value", 5, &e), 0);
	dur_assert_synced(&before, "store_meta_set");
	assert_int_equal(store_log_create(s, "two", &e), 0);
	assert_int_equal(store_log_open(s, "one", &l, &e), 0);
	assert_int_equal(store_log_open(s, "two", &l2, &e), 0);

	for (i = 0; i < 36; i++) {
		char what[64];
		snprintf(what, sizeof what, "store_append of %llu entries (call %d)",
			 (unsigned long long)sizes[i % 3], i);
		before = svfs_stats(SVFS_WAL);
		stt_append(l, &m, sizes[i % 3]);
		dur_assert_synced(&before, what);
	}
	/* Group commits across two logs. */
	for (i = 0; i < 6; i++) {
		assert_int_equal(store_begin(s, &e), 0);
		before = svfs_stats(SVFS_WAL);
		stt_append(l, &m, sizes[i % 3]);
		stt_append(l2, &m2, sizes[(i + 1) % 3]);
		assert_int_equal(store_commit(s, &e), 0);
		dur_assert_synced(&before, "store_commit");
	}
	/* The WAL was checkpointed into the database file, and that was
	 * synced too (checked after every call above). */
	if (svfs_stats(SVFS_DB).writes == 0)
		fail_msg("no checkpoint happened: the test covers less than it claims");
	assert_true(svfs_stats(SVFS_DB).syncs > 0);
	print_message("WAL: %llu writes, %llu syncs; database: %llu writes, %llu syncs\n",
		      (unsigned long long)svfs_stats(SVFS_WAL).writes,
		      (unsigned long long)svfs_stats(SVFS_WAL).syncs,
		      (unsigned long long)svfs_stats(SVFS_DB).writes,
		      (unsigned long long)svfs_stats(SVFS_DB).syncs);
	stt_check_root(l, &m, m.n);
	stt_check_root(l2, &m2, m2.n);
	store_close(s);
	stt_model_free(&m);
	stt_model_free(&m2);
}

/* ---- power cuts ---- */

struct dur_log {
	const char *origin;
	struct store_log *l;
	struct stt_model m;
	uint64_t lo;        /* acknowledged size */
	uint64_t hi;        /* size once the call in flight returns */
};

/* An image of the disk at a power cut, waiting to be checked. */
struct dur_cut {
	char *dir;
	uint64_t lo[DUR_MAX_LOGS], hi[DUR_MAX_LOGS];
	uint64_t opno;
	enum svfs_keep keep;
};

struct dur_run {
	struct store *s;
	struct dur_log log[DUR_MAX_LOGS];
	size_t nlogs;
	uint64_t rng, subset_rng;
	unsigned one_in;            /* cut at an operation with odds 1/one_in */
	int db_written;             /* the database file was written since its last sync */
	struct dur_cut pending[DUR_MAX_PENDING];
	size_t npending;
	/* What the checked images showed. */
	uint64_t images, kept_flight, lost_flight, checkpoint_cuts;
};

static void dur_cut_now(struct dur_run *r, enum svfs_keep keep, uint64_t opno)
{
	struct dur_cut *c;
	size_t i;

	if (r->npending == DUR_MAX_PENDING)
		return;    /* enough images of this call already */
	c = &r->pending[r->npending++];
	c->dir = stt_tmpdir();
	c->keep = keep;
	c->opno = opno;
	for (i = 0; i < r->nlogs; i++) {
		c->lo[i] = r->log[i].lo;
		c->hi[i] = r->log[i].hi;
	}
	if (svfs_write_image(c->dir, keep, &r->subset_rng) != 0)
		fail_msg("cannot write the power-cut image into %s", c->dir);
}

/* Called by the shim before each write, truncation and sync.  Cuts at
 * random; at one WAL sync in eight (the commit point: before it, the
 * transaction is all in the disk's cache); and always around checkpoints
 * (the first write to the database file after its last sync, and the sync
 * that ends a checkpoint). */
static void dur_hook(void *ctx, enum svfs_kind kind, enum svfs_op op,
		     uint64_t opno)
{
	struct dur_run *r = ctx;
	int cut = stt_below(&r->rng, r->one_in) == 0;

	if (kind == SVFS_WAL && op == SVFS_OP_SYNC && stt_below(&r->rng, 8) == 0)
		cut = 1;
	if (kind == SVFS_DB) {
		if (op == SVFS_OP_SYNC || !r->db_written) {
			cut = 1;
			r->checkpoint_cuts++;
		}
		r->db_written = op != SVFS_OP_SYNC;
	}
	if (cut) {
		dur_cut_now(r, SVFS_KEEP_SYNCED, opno);
		dur_cut_now(r, stt_below(&r->rng, 2) ? SVFS_KEEP_SOME : SVFS_KEEP_ALL, opno);
	}
}

static const char *const dur_keep_name[] = {
	"", ", some unsynced writes kept", ", all unsynced writes kept"
};

struct dur_sum {
	const struct stt_model *m;
	uint64_t next;
};

static int dur_entry_ok(void *ctx, uint64_t idx, const uint8_t *data,
			size_t len)
{
	struct dur_sum *d = ctx;
	merkle_hash h;

	merkle_leaf_hash(h, data, len);
	if (idx != d->next || memcmp(h, d->m->lv[0][idx], MERKLE_HASH) != 0)
		fail_msg("power-cut image: entry %llu is wrong", (unsigned long long)idx);
	d->next++;
	return 0;
}

/* Appends entries [lo, hi) of the model to l (an image's log). */
static void dur_append_range(struct store_log *l, const struct stt_model *m,
			     uint64_t lo, uint64_t hi)
{
	uint8_t *buf = malloc((size_t)(hi - lo) * STT_ENTRY_CAP);
	const void **ent = calloc((size_t)(hi - lo), sizeof *ent);
	size_t *lens = calloc((size_t)(hi - lo), sizeof *lens);
	uint64_t i, first = 0;
	struct perr e;
	int rc;

	assert_non_null(buf);
	assert_non_null(ent);
	assert_non_null(lens);
	for (i = lo; i < hi; i++) {
		ent[i - lo] = buf + (i - lo) * STT_ENTRY_CAP;
		lens[i - lo] = stt_model_entry(m, i, buf + (i - lo) * STT_ENTRY_CAP);
	}
	rc = store_append(l, ent, lens, (size_t)(hi - lo), &first, &e);
	free(buf);
	free(ent);
	free(lens);
	if (rc != 0)
		fail_msg("appending to a power-cut image failed: %s", e.msg);
	assert_int_equal(first, lo);
}

/* Opens an image with the ordinary VFS and checks it: every log at its
 * acknowledged size, or every log with the call in flight landed
 * (transactions are all or nothing), entries and roots as in the model.
 * For one image in four, the log then takes the lost batch again, as a
 * restarted server would, and ends with the right root. */
static void dur_check_image(struct dur_run *r, struct dur_cut *c)
{
	struct store *s;
	struct perr e;
	char *path = stt_join(c->dir, "log.db");
	uint64_t size[DUR_MAX_LOGS];
	int landed = -1;
	size_t i;

	if (store_open(&s, path, 0, NULL, &e) != 0)
		fail_msg("power-cut image (op %llu%s) does not open: %s",
			 (unsigned long long)c->opno, dur_keep_name[c->keep],
			 e.msg);
	for (i = 0; i < r->nlogs; i++) {
		struct store_log *l;
		const struct stt_model *m = &r->log[i].m;
		struct dur_sum d = { m, 0 };
		int here;

		if (store_log_open(s, r->log[i].origin, &l, &e) != 0)
			fail_msg("power-cut image (op %llu): %s", (unsigned long long)c->opno, e.msg);
		size[i] = store_log_size(l);
		if (size[i] != c->lo[i] && size[i] != c->hi[i])
			fail_msg("power-cut image (op %llu%s): log %s has %llu entries; "
				 "acknowledged %llu, in flight up to %llu",
				 (unsigned long long)c->opno,
				 dur_keep_name[c->keep],
				 r->log[i].origin, (unsigned long long)size[i],
				 (unsigned long long)c->lo[i], (unsigned long long)c->hi[i]);
		if (c->lo[i] != c->hi[i]) {
			here = size[i] == c->hi[i];
			if (landed >= 0 && here != landed)
				fail_msg("power-cut image (op %llu): half a transaction landed",
					 (unsigned long long)c->opno);
			landed = here;
		}
		stt_check_root(l, m, size[i]);
		stt_check_tiles(l, m, 0, &r->rng);
		/* Every entry, by its leaf hash. */
		assert_int_equal(store_entries(l, 0, size[i], dur_entry_ok, &d, &e), 0);
		assert_int_equal(d.next, size[i]);
		if (r->images % 4 == 0 && size[i] < c->hi[i]) {
			dur_append_range(l, m, size[i], c->hi[i]);
			stt_check_root(l, m, c->hi[i]);
		}
	}
	store_close(s);
	r->images++;
	if (landed == 1)
		r->kept_flight++;
	else if (landed == 0)
		r->lost_flight++;
	stt_rmtree(c->dir);
	free(path);
	free(c->dir);
	c->dir = NULL;
}

/* The call in flight returned: its batches are acknowledged.  Checks the
 * images cut during it, and one cut now. */
static void dur_acknowledge(struct dur_run *r, int cut_after)
{
	size_t i;

	for (i = 0; i < r->nlogs; i++) {
		if (r->s != NULL)   /* (not while the store is closed) */
			assert_int_equal(store_log_size(r->log[i].l), r->log[i].hi);
		r->log[i].lo = r->log[i].hi;
	}
	if (cut_after)
		dur_cut_now(r, SVFS_KEEP_SYNCED, svfs_ops());
	for (i = 0; i < r->npending; i++)
		dur_check_image(r, &r->pending[i]);
	r->npending = 0;
}

static void dur_run_open(struct dur_run *r, const char *path, size_t nlogs,
			 uint64_t seed)
{
	static const char *const origins[DUR_MAX_LOGS] = { "one.example/log",
							   "two.example/log" };
	struct perr e;
	size_t i;

	memset(r, 0, sizeof *r);
	r->rng = seed;
	r->subset_rng = seed ^ 0xabcdef;
	r->nlogs = nlogs;
	if (store_open(&r->s, path, 1, SVFS_NAME, &e) != 0)
		fail_msg("store_open through the shim: %s", e.msg);
	for (i = 0; i < nlogs; i++) {
		r->log[i].origin = origins[i];
		stt_model_init(&r->log[i].m, seed + i);
		assert_int_equal(store_log_create(r->s, origins[i], &e), 0);
		assert_int_equal(store_log_open(r->s, origins[i], &r->log[i].l, &e), 0);
	}
}

static void dur_run_close(struct dur_run *r)
{
	size_t i;

	svfs_set_hook(NULL, NULL);
	store_close(r->s);
	for (i = 0; i < r->nlogs; i++)
		stt_model_free(&r->log[i].m);
	r->npending = 0;
	print_message("%llu power-cut images checked: in-flight batch kept in %llu, "
		      "lost in %llu; %llu cuts inside checkpoints\n",
		      (unsigned long long)r->images, (unsigned long long)r->kept_flight,
		      (unsigned long long)r->lost_flight,
		      (unsigned long long)r->checkpoint_cuts);
}

/* Removes the images a failed run left unchecked, and frees the run. */
static void dur_run_cleanup(struct dur_run *r)
{
	size_t i;

	for (i = 0; i < r->npending; i++) {
		if (r->pending[i].dir != NULL) {
			stt_rmtree(r->pending[i].dir);
			free(r->pending[i].dir);
		}
	}
	free(r);
}

/* Batch sizes for the power-cut runs: mostly small (many commits, hence
 * many WAL restarts and checkpoints), some 64 and 1024. */
static uint64_t dur_batch_size(uint64_t *rng)
{
	uint64_t k = stt_below(rng, 40);

	return k == 0 ? 1024 : k < 5 ? 64 : 1 + stt_below(rng, 30);
}

/* Closes and reopens the store through the shim, power cuts still armed:
 * closing checkpoints the WAL into the database and deletes it. */
static void dur_reopen(struct dur_run *r, const char *path)
{
	struct perr e;
	size_t i;

	store_close(r->s);
	r->s = NULL;
	dur_acknowledge(r, 1);
	if (store_open(&r->s, path, 0, SVFS_NAME, &e) != 0)
		fail_msg("store_open through the shim: %s", e.msg);
	for (i = 0; i < r->nlogs; i++)
		if (store_log_open(r->s, r->log[i].origin, &r->log[i].l, &e) != 0)
			fail_msg("store_log_open: %s", e.msg);
	dur_acknowledge(r, 0);
}

/*
 * Power cuts during and between single appends, and while the store closes
 * and reopens: every image holds the acknowledged entries, the batch in
 * flight wholly or not at all, and the root of exactly that.
 */
static void test_power_cut_single_appends(void **state)
{
	struct dur_fix *f = *state;
	struct dur_run *r = calloc(1, sizeof *r);
	int i;

	assert_non_null(r);
	f->run = r;
	dur_run_open(r, f->path, 1, 0xd0a1);
	r->one_in = 150;
	svfs_set_hook(dur_hook, r);
	for (i = 1; i <= 160; i++) {
		struct dur_log *g = &r->log[0];
		uint64_t n = dur_batch_size(&r->rng);
		g->hi = g->lo + n;
		stt_append(g->l, &g->m, n);
		dur_acknowledge(r, i % 8 == 0);
		if (i % 40 == 0)
			dur_reopen(r, f->path);
	}
	assert_true(r->lost_flight > 0);
	assert_true(r->kept_flight > 0);
	assert_true(r->checkpoint_cuts > 0);
	dur_run_close(r);
}

/*
 * Power cuts during group commits (store_begin, appends to two logs,
 * store_commit): both logs' batches land together or not at all.
 */
static void test_power_cut_group_commit(void **state)
{
	struct dur_fix *f = *state;
	struct dur_run *r = calloc(1, sizeof *r);
	struct perr e;
	int i;
	size_t k;

	assert_non_null(r);
	f->run = r;
	dur_run_open(r, f->path, 2, 0xd0a2);
	r->one_in = 100;
	svfs_set_hook(dur_hook, r);
	for (i = 0; i < 60; i++) {
		uint64_t n[2];
		/* Both batches are in flight from the start: a cut during the
		 * first append must show neither. */
		for (k = 0; k < 2; k++) {
			n[k] = dur_batch_size(&r->rng);
			r->log[k].hi += n[k];
		}
		assert_int_equal(store_begin(r->s, &e), 0);
		for (k = 0; k < 2; k++)
			stt_append(r->log[k].l, &r->log[k].m, n[k]);
		if (store_commit(r->s, &e) != 0)
			fail_msg("store_commit: %s", e.msg);
		dur_acknowledge(r, i % 8 == 0);
		if (i % 20 == 19)
			dur_reopen(r, f->path);
	}
	assert_true(r->lost_flight > 0);
	dur_run_close(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_syncs_what_it_writes, dur_setup, dur_teardown),
		cmocka_unit_test_setup_teardown(test_power_cut_single_appends, dur_setup, dur_teardown),
		cmocka_unit_test_setup_teardown(test_power_cut_group_commit, dur_setup, dur_teardown),
	};

	if (getenv("PARLEY_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("PARLEY_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
