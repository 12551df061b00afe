/*
 * test_wsync.c — the node's pipelined group commit (wsync.h).
 *
 * The node commits with synchronous=NORMAL and says nothing of a commit
 * until the WAL has been synced after it.  What that rests on:
 *
 *   - power cuts (through the shim VFS of vfsshim.c, which models what a
 *     disk keeps): commits made with synchronous=NORMAL, the WAL synced
 *     now and then (the sync the WAL sync thread does), checkpoints and WAL
 *     restarts in between.  Every image holds every batch committed before
 *     the last WAL sync, and a whole number of the batches committed after
 *     it (a prefix), entries and roots as in the model; and some images
 *     did lose commits made after the last sync, so the test sees the
 *     difference a sync makes;
 *   - the thread: each requested commit number is reported synced, through
 *     the pipe, never more than was asked; a WAL that is missing at start
 *     and a sync that fails are errors naming the file and the call.
 *
 * PARLEY_TEST_FILTER=<test name> runs one test.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#include "wsync.h"

#define WS_MAX_PENDING 16

struct ws_cut {
	char *dir;
	uint64_t durable;           /* entries before the last WAL sync */
	uint64_t committed;         /* entries committed */
	enum svfs_keep keep;
};

struct ws_run {
	char *dir, *path;
	struct store *s;
	struct store_log *l;
	struct stt_model m;
	uint64_t rng, subset_rng;
	uint64_t durable;
	uint64_t bounds[4096];      /* sizes at which a batch ended */
	size_t nbounds;
	struct ws_cut pending[WS_MAX_PENDING];
	size_t npending;
	uint64_t images, lost_unsynced, wal_syncs, checkpoints;
};

static void ws_cut_now(struct ws_run *r, enum svfs_keep keep)
{
	struct ws_cut *c;

	if (r->npending == WS_MAX_PENDING)
		return;
	c = &r->pending[r->npending++];
	c->dir = stt_tmpdir();
	c->keep = keep;
	c->durable = r->durable;
	c->committed = r->m.n;
	if (svfs_write_image(c->dir, keep, &r->subset_rng) != 0)
		fail_msg("cannot write the power-cut image into %s", c->dir);
}

/* Before writes (at random) and before every WAL sync: a power cut now. */
static void ws_hook(void *ctx, enum svfs_kind kind, enum svfs_op op,
		    uint64_t opno)
{
	struct ws_run *r = ctx;

	(void)opno;
	if ((kind == SVFS_WAL && op == SVFS_OP_SYNC) || stt_below(&r->rng, 40) == 0) {
		ws_cut_now(r, SVFS_KEEP_SYNCED);
		ws_cut_now(r, stt_below(&r->rng, 2) ? SVFS_KEEP_SOME : SVFS_KEEP_ALL);
	}
}

static int ws_is_bound(const struct ws_run *r, uint64_t size)
{
	size_t i;

	for (i = 0; i < r->nbounds; i++)
		if (r->bounds[i] == size)
			return 1;
	return size == 0;
}

static void ws_check_image(struct ws_run *r, struct ws_cut *c)
{
	struct store *s;
	struct store_log *l;
	struct perr e;
	char *path = stt_join(c->dir, "log.db");
	uint64_t size;

	if (store_open(&s, path, 0, NULL, &e) != 0)
		fail_msg("power-cut image does not open: %s", e.msg);
	if (store_log_open(s, "one.example/log", &l, &e) != 0)
		fail_msg("power-cut image: %s", e.msg);
	size = store_log_size(l);
	if (size < c->durable)
		fail_msg("power-cut image lost synced commits: %llu entries, %llu were "
			 "committed before the last WAL sync",
			 (unsigned long long)size, (unsigned long long)c->durable);
	if (size > c->committed || !ws_is_bound(r, size))
		fail_msg("power-cut image holds %llu entries: not a whole number of the "
			 "%llu committed batches' entries", (unsigned long long)size,
			 (unsigned long long)c->committed);
	if (size < c->committed)
		r->lost_unsynced++;
	stt_check_root(l, &r->m, size);
	stt_check_entries(l, &r->m, 0, size, 0);
	store_close(s);
	r->images++;
	stt_rmtree(c->dir);
	free(c->dir);
	c->dir = NULL;
	free(path);
}

static void ws_check_pending(struct ws_run *r)
{
	size_t i;

	for (i = 0; i < r->npending; i++)
		ws_check_image(r, &r->pending[i]);
	r->npending = 0;
}

/* The sync the WAL sync thread does (fdatasync of the WAL file), here
 * through SQLite's own handle of the file so that the shim sees it. */
static void ws_sync_wal(struct ws_run *r)
{
	sqlite3_file *f = NULL;

	if (sqlite3_file_control(store_sqlite(r->s), "main", SQLITE_FCNTL_JOURNAL_POINTER,
				 &f) != SQLITE_OK || f == NULL || f->pMethods == NULL)
		fail_msg("no WAL file handle");
	assert_int_equal(f->pMethods->xSync(f, SQLITE_SYNC_NORMAL), SQLITE_OK);
	r->durable = r->m.n;
	r->wal_syncs++;
}

static void test_power_cuts_with_the_wal_synced_later(void **state)
{
	struct ws_run *r = calloc(1, sizeof *r);
	struct perr e;
	int i;

	(void)state;
	assert_non_null(r);
	assert_int_equal(svfs_register(), SQLITE_OK);
	svfs_reset();
	r->dir = stt_tmpdir();
	r->path = stt_join(r->dir, "log.db");
	r->rng = 2026;
	r->subset_rng = 1126;
	stt_model_init(&r->m, 7);
	if (store_open(&r->s, r->path, 1, SVFS_NAME, &e) != 0)
		fail_msg("store_open through the shim: %s", e.msg);
	assert_int_equal(store_log_create(r->s, "one.example/log", &e), 0);
	assert_int_equal(store_log_open(r->s, "one.example/log", &r->l, &e), 0);
	/* As the node runs: no sync in COMMIT, no checkpoint in COMMIT. */
	assert_int_equal(sqlite3_exec(store_sqlite(r->s), "PRAGMA synchronous=NORMAL;"
				      " PRAGMA wal_autocheckpoint=0", NULL, NULL, NULL),
			 SQLITE_OK);
	ws_sync_wal(r);
	svfs_set_hook(ws_hook, r);
	for (i = 0; i < 400; i++) {
		uint64_t k = stt_below(&r->rng, 30);
		stt_append(r->l, &r->m, k == 0 ? 300 : 1 + stt_below(&r->rng, 20));
		assert_true(r->nbounds < sizeof r->bounds / sizeof r->bounds[0]);
		r->bounds[r->nbounds++] = r->m.n;
		if (stt_below(&r->rng, 3) == 0)
			ws_sync_wal(r);
		if (stt_below(&r->rng, 25) == 0) {
			/* The checkpoint thread's PASSIVE checkpoint (it syncs the
			 * WAL itself before copying; the WAL restarts after it). */
			assert_int_equal(sqlite3_wal_checkpoint_v2(store_sqlite(r->s), NULL,
								   SQLITE_CHECKPOINT_PASSIVE,
								   NULL, NULL),
					 SQLITE_OK);
			r->checkpoints++;
		}
		ws_check_pending(r);
	}
	ws_sync_wal(r);
	ws_cut_now(r, SVFS_KEEP_SYNCED);
	ws_check_pending(r);
	svfs_set_hook(NULL, NULL);
	print_message("%llu power-cut images checked; %llu of them lost commits made after "
		      "the last WAL sync; %llu WAL syncs, %llu checkpoints, %llu entries\n",
		      (unsigned long long)r->images, (unsigned long long)r->lost_unsynced,
		      (unsigned long long)r->wal_syncs, (unsigned long long)r->checkpoints,
		      (unsigned long long)r->m.n);
	if (r->lost_unsynced == 0)
		fail_msg("no image lost an unsynced commit: the test cannot tell a "
			 "synced commit from an unsynced one");
	assert_true(r->checkpoints > 0);
	if (svfs_stats(SVFS_DB).writes == 0)
		fail_msg("no checkpoint copied anything: the test covers less than it claims");
	store_close(r->s);
	svfs_reset();
	stt_model_free(&r->m);
	stt_rmtree(r->dir);
	free(r->dir);
	free(r->path);
	free(r);
}

/* ---- the thread ---- */

/* Waits (up to 10 s) for the thread to report commit gen synced. */
static void ws_wait(struct wsync *w, int rfd, uint64_t gen)
{
	struct perr e;
	uint64_t done = 0;
	int tries;

	for (tries = 0; tries < 1000; tries++) {
		struct pollfd pfd = { rfd, POLLIN, 0 };
		char buf[64];
		if (wsync_done(w, &done, &e) != 0)
			fail_msg("sync failed: %s", e.msg);
		if (done >= gen)
			break;
		assert_true(poll(&pfd, 1, 10) >= 0);
		while (read(rfd, buf, sizeof buf) > 0)
			;
	}
	if (done < gen)
		fail_msg("commit %llu not reported synced (done %llu)",
			 (unsigned long long)gen, (unsigned long long)done);
	if (done > gen)
		fail_msg("reported %llu synced, only %llu asked for",
			 (unsigned long long)done, (unsigned long long)gen);
}

static void ws_pipe(int fds[2])
{
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
}

/* A store and its log, committing as the node does (synchronous=NORMAL),
 * with a sync thread reporting on a pipe. */
struct ws_fix {
	char *dir, *path;
	struct store *s;
	struct store_log *l;
	struct stt_model m;
	struct wsync *w;
	int fds[2];
};

static void ws_fix_open(struct ws_fix *f, uint64_t seed)
{
	struct perr e;

	f->dir = stt_tmpdir();
	f->path = stt_join(f->dir, "log.db");
	stt_model_init(&f->m, seed);
	stt_open(&f->s, &f->l, f->path, 1, NULL, "one.example/log");
	assert_int_equal(sqlite3_exec(store_sqlite(f->s), "PRAGMA synchronous=NORMAL", NULL,
				      NULL, NULL), SQLITE_OK);
	ws_pipe(f->fds);
	if (wsync_start(&f->w, f->path, f->fds[1], &e) != 0)
		fail_msg("wsync_start: %s", e.msg);
}

static void ws_fix_close(struct ws_fix *f)
{
	wsync_stop(f->w);
	close(f->fds[0]);
	close(f->fds[1]);
	store_close(f->s);
	stt_model_free(&f->m);
	stt_rmtree(f->dir);
	free(f->dir);
	free(f->path);
}

static void test_each_commit_reported_synced(void **state)
{
	struct ws_fix f;
	uint64_t gen;

	(void)state;
	ws_fix_open(&f, 3);
	for (gen = 1; gen <= 50; gen++) {
		stt_append(f.l, &f.m, 1 + gen % 7);
		wsync_request(f.w, gen);
		ws_wait(f.w, f.fds[0], gen);
	}
	/* Requests made while a sync runs are served by the next one. */
	for (; gen <= 80; gen++) {
		stt_append(f.l, &f.m, 3);
		wsync_request(f.w, gen);
	}
	ws_wait(f.w, f.fds[0], gen - 1);
	stt_check_root(f.l, &f.m, f.m.n);
	ws_fix_close(&f);
}

static void test_missing_wal_and_failed_sync(void **state)
{
	char *dir = stt_tmpdir(), *path = stt_join(dir, "node.db");
	char *wal = stt_join(dir, "node.db-wal");
	struct wsync *w;
	struct perr e;
	int fds[2], fd, tries;
	uint64_t done = 0;

	(void)state;
	ws_pipe(fds);
	stt_assert_fails(wsync_start(&w, path, fds[1], &e), &e, "node.db-wal");
	fd = open(wal, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "wal", 3), 3);
	close(fd);
	if (wsync_start(&w, path, fds[1], &e) != 0)
		fail_msg("wsync_start: %s", e.msg);
	wsync_request(w, 1);
	ws_wait(w, fds[0], 1);
	/* The file replaced by one that cannot be synced (a FIFO): the
	 * thread reopens it, the sync fails, and it stays failed. */
	assert_int_equal(unlink(wal), 0);
	assert_int_equal(mkfifo(wal, 0600), 0);
	wsync_request(w, 2);
	/* Up to 10 s.  The pipe is drained each time: a byte left in it
	 * would make every poll return at once, and the loop end before the
	 * thread has tried (a fresh-clone run failed so on a loaded machine). */
	for (tries = 0; tries < 1000; tries++) {
		struct pollfd pfd = { fds[0], POLLIN, 0 };
		char buf[64];
		if (wsync_done(w, &done, &e) != 0)
			break;
		poll(&pfd, 1, 10);
		while (read(fds[0], buf, sizeof buf) > 0)
			;
	}
	stt_assert_fails(wsync_done(w, &done, &e), &e, "fdatasync");
	assert_non_null(strstr(e.msg, "node.db-wal"));
	assert_int_equal(done, 1);
	wsync_request(w, 3);
	stt_assert_fails(wsync_done(w, &done, &e), &e, "fdatasync");
	assert_int_equal(done, 1);
	wsync_stop(w);
	close(fds[0]);
	close(fds[1]);
	stt_rmtree(dir);
	free(dir);
	free(path);
	free(wal);
}

/* wsync_now: the commit counts synced when it returns, on the caller's
 * thread, without the thread's report; the thread, finishing a sync it
 * began earlier, never takes the count back; a failed sync stands. */
static void test_sync_now_counts_at_once_and_never_goes_back(void **state)
{
	struct ws_fix f;
	struct perr e;
	char *wal;
	int nows = 0;
	uint64_t gen, done = 0, seen = 0;

	(void)state;
	ws_fix_open(&f, 5);
	wal = stt_join(f.dir, "log.db-wal");
	for (gen = 1; gen <= 300; gen++) {
		stt_append(f.l, &f.m, 1 + gen % 5);
		wsync_request(f.w, gen);
		if (gen % 3 == 0) {
			/* The thread is likely syncing an earlier commit now. */
			if (wsync_now(f.w, gen, &e) != 0)
				fail_msg("wsync_now: %s", e.msg);
			nows++;
			assert_int_equal(wsync_done(f.w, &done, &e), 0);
			if (done < gen)
				fail_msg("commit %llu synced by wsync_now, reported %llu",
					 (unsigned long long)gen, (unsigned long long)done);
		} else {
			assert_int_equal(wsync_done(f.w, &done, &e), 0);
		}
		if (done < seen)
			fail_msg("the synced count went back from %llu to %llu",
				 (unsigned long long)seen, (unsigned long long)done);
		seen = done;
	}
	ws_wait(f.w, f.fds[0], gen - 1);
	assert_int_equal(nows, 100);
	/* A WAL that cannot be synced: wsync_now fails naming the call, and
	 * the failure stands for wsync_done, the count where it was. */
	assert_int_equal(unlink(wal), 0);
	assert_int_equal(mkfifo(wal, 0600), 0);
	stt_assert_fails(wsync_now(f.w, gen, &e), &e, "log.db-wal");
	stt_assert_fails(wsync_done(f.w, &done, &e), &e, "log.db-wal");
	assert_int_equal(done, gen - 1);
	ws_fix_close(&f);
	free(wal);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_power_cuts_with_the_wal_synced_later),
		cmocka_unit_test(test_each_commit_reported_synced),
		cmocka_unit_test(test_missing_wal_and_failed_sync),
		cmocka_unit_test(test_sync_now_counts_at_once_and_never_goes_back),
	};
	if (getenv("PARLEY_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("PARLEY_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
