/*
 * test_ckpt.c — the checkpoint thread and the WAL's restarts (ckpt.h).
 *
 *   - under steady writes by a writer that takes up the checkpointer's
 *     holds, the WAL restarts again and again and its file stays a small
 *     multiple of restart_frames, where without restarts it would hold
 *     everything written; every row is there afterwards; each hold ends
 *     with a byte on the notify pipe;
 *   - an idle node's short WAL is left alone (no round, no restart), and
 *     once it is min_frames long it is copied back and the writer's next
 *     commit restarts it without any hold;
 *   - after ckpt_stop, the writer's commits no longer reach the freed
 *     checkpointer (its WAL hook is released).
 *
 * PARLEY_TEST_FILTER=<test name> runs one test.
 */
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "ckpt.h"
#include "storetest.h"

#define CK_ROW 3000              /* bytes a row: most of a 4 KiB page */
#define CK_PAGE_FRAME (4096 + 24) /* a WAL frame: page and frame header */

struct ck {
	char *dir, *path, *wal;
	sqlite3 *db;
	int fds[2];
	struct ckpt *c;
	uint64_t rows;
};

static void ck_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err ? err : "?");
}

static void ck_open(struct ck *k, const struct ckpt_conf *conf)
{
	struct perr e;

	memset(k, 0, sizeof *k);
	k->dir = stt_tmpdir();
	k->path = stt_join(k->dir, "node.db");
	k->wal = stt_join(k->dir, "node.db-wal");
	assert_int_equal(sqlite3_open(k->path, &k->db), SQLITE_OK);
	ck_exec(k->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
		       "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB NOT NULL)");
	assert_int_equal(pipe(k->fds), 0);
	for (int i = 0; i < 2; i++)
		fcntl(k->fds[i], F_SETFL, O_NONBLOCK);
	if (ckpt_start(&k->c, k->path, k->db, conf, k->fds[1], &e) != 0)
		fail_msg("ckpt_start: %s", e.msg);
}

static void ck_close(struct ck *k)
{
	if (k->c)
		ckpt_stop(k->c);
	sqlite3_close(k->db);
	close(k->fds[0]);
	close(k->fds[1]);
	stt_rmtree(k->dir);
	free(k->dir);
	free(k->path);
	free(k->wal);
}

/* One transaction of n rows of CK_ROW bytes. */
static void ck_commit(struct ck *k, int n)
{
	sqlite3_stmt *st;
	static uint8_t v[CK_ROW];

	ck_exec(k->db, "BEGIN");
	assert_int_equal(sqlite3_prepare_v2(k->db, "INSERT INTO t(v) VALUES(?1)", -1,
					    &st, NULL), SQLITE_OK);
	for (int i = 0; i < n; i++) {
		memset(v, (int)(k->rows & 0xff), sizeof v);
		sqlite3_bind_blob(st, 1, v, sizeof v, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
		k->rows++;
	}
	sqlite3_finalize(st);
	ck_exec(k->db, "COMMIT");
}

static int64_t ck_file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

static int64_t ck_rows(sqlite3 *db)
{
	sqlite3_stmt *st;
	int64_t n;

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void ck_sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000L };
	nanosleep(&ts, NULL);
}

static void ck_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static void test_wal_restarts_under_steady_writes(void **state)
{
	const struct ckpt_conf conf = { 5, 64, 256, 64 };
	struct ck k;
	struct ckpt_stats cs;
	int64_t max_wal = 0, waits = 0, wakeups = 0;
	const int commits = 2000, per = 4;

	(void)state;
	ck_open(&k, &conf);
	for (int i = 0; i < commits; i++) {
		/* The node's flush: bulk work waits while the checkpointer
		 * holds it, and resumes when the pipe says the hold ended. */
		int64_t t = 0;
		while (ckpt_hold(k.c)) {
			struct pollfd pfd = { k.fds[0], POLLIN, 0 };
			char buf[64];
			if (poll(&pfd, 1, 10) > 0 && read(k.fds[0], buf, sizeof buf) > 0)
				wakeups++;
			if (++t > 300)
				fail_msg("a hold lasted more than 3 s");
			waits++;
		}
		ck_commit(&k, per);
		/* About 5 frames a commit, one commit every 250 us: some 100
		 * frames a round.  Unpaced, commits that are not synced come as
		 * fast as the host writes the page cache: on a faster host, 300
		 * frames a round, so that rounds lagged a whole restart behind
		 * and the WAL passed the bound below whatever the checkpointer
		 * did (16 runs in 20). */
		ck_sleep_us(250);
		if (i % 50 == 0 && ck_file_size(k.wal) > max_wal)
			max_wal = ck_file_size(k.wal);
	}
	ckpt_stats(k.c, &cs);
	/* 2,000 commits of 4 rows: some 10,000 frames, 40 MB, in a WAL that
	 * never restarted.  Restarts at 256 frames keep it a few MB. */
	if (cs.restarts < 3)
		fail_msg("the WAL restarted %llu times under steady writes (holds %llu)",
			 (unsigned long long)cs.restarts, (unsigned long long)cs.holds);
	assert_true(cs.holds >= 1);
	assert_true(cs.commits == (uint64_t)commits);
	if (max_wal > 8 * 256 * CK_PAGE_FRAME)
		fail_msg("the WAL grew to %lld bytes; restarts at 256 frames should keep "
			 "it near %d", (long long)max_wal, 256 * CK_PAGE_FRAME);
	assert_true(waits > 0);
	assert_true(wakeups > 0);
	assert_int_equal(ck_rows(k.db), (int64_t)commits * per);
	ck_close(&k);
}

static void test_idle_wal_left_alone_until_min_frames(void **state)
{
	const struct ckpt_conf conf = { 5, 64, 256, 64 };
	struct ck k;
	struct ckpt_stats cs;

	(void)state;
	ck_open(&k, &conf);
	/* Twenty one-row commits, each after several rounds' time: 20-40
	 * frames, below min_frames. */
	for (int i = 0; i < 20; i++) {
		ck_commit(&k, 1);
		ck_sleep_ms(15);
	}
	ckpt_stats(k.c, &cs);
	assert_int_equal(cs.rounds, 0);
	assert_int_equal(cs.restarts, 0);
	assert_true(cs.frames >= 20 && cs.frames < 64);
	/* Past min_frames (not restart_frames): copied back in a round, and
	 * the next commit, finding nothing left to copy, restarts the WAL. */
	ck_commit(&k, 80);
	ck_sleep_ms(100);
	ck_commit(&k, 1);
	ckpt_stats(k.c, &cs);
	assert_true(cs.rounds >= 1);
	assert_int_equal(cs.restarts, 1);
	assert_int_equal(cs.holds, 0);
	assert_true(cs.frames < 8);
	assert_int_equal(ck_rows(k.db), 20 + 80 + 1);
	ck_close(&k);
}

static void test_stop_releases_the_wal_hook(void **state)
{
	const struct ckpt_conf conf = { 5, 64, 256, 64 };
	struct ck k;

	(void)state;
	ck_open(&k, &conf);
	ck_commit(&k, 10);
	ckpt_stop(k.c);
	k.c = NULL;
	/* Under AddressSanitizer a hook left behind would be a use after
	 * free here. */
	ck_commit(&k, 10);
	assert_int_equal(ckpt_hold(NULL), 0); /* no checkpointer: nothing held */
	assert_int_equal(ck_rows(k.db), 20);
	ck_close(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wal_restarts_under_steady_writes),
		cmocka_unit_test(test_idle_wal_left_alone_until_min_frames),
		cmocka_unit_test(test_stop_releases_the_wal_hook),
	};
	if (getenv("PARLEY_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("PARLEY_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
