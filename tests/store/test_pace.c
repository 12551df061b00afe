/*
 * test_pace.c — the paced VFS (pace.h).
 *
 *   - a database file written through it never has more than PACE_BYTES
 *     (and the one write that crossed it) written and not yet sent to the
 *     disk; every row is there afterwards, read through another VFS;
 *   - the same, seen from the kernel: after a bulk write with no sync, the
 *     file has at most that much dirty in the page cache (cachestat, where
 *     the kernel has it: reported as skipped otherwise), against all of it
 *     without the VFS;
 *   - the checkpointer (ckpt.h) copies the WAL back through it;
 *   - opening and closing a database through it leaves the locks that the
 *     process's other connections hold on the file in place: another
 *     process still sees the SHARED lock of a WAL-mode connection.
 *
 * PARLEY_TEST_FILTER=<test name> runs one test.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "ckpt.h"
#include "pace.h"
#include "storetest.h"

#define PT_ROW 1000               /* bytes a row */
#define PT_ROWS 8000              /* about 8 MB */
#define PT_PAGE 4096

static void pt_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err ? err : "?");
}

static sqlite3 *pt_open(const char *path, const char *vfs)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			    vfs) != SQLITE_OK)
		fail_msg("open %s: %s", path, sqlite3_errmsg(db));
	return db;
}

/* PT_ROWS rows of PT_ROW bytes in one transaction, straight into the
 * database file (no journal) and never synced: what reaches the disk
 * before the close is the VFS's doing alone. */
static void pt_fill(sqlite3 *db)
{
	sqlite3_stmt *st;
	char row[PT_ROW];

	pt_exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
		    "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB NOT NULL)");
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t VALUES(?1, ?2)", -1,
					    &st, NULL), SQLITE_OK);
	pt_exec(db, "BEGIN");
	for (int i = 0; i < PT_ROWS; i++) {
		memset(row, 'a' + i % 26, sizeof row);
		sqlite3_bind_int(st, 1, i);
		sqlite3_bind_blob(st, 2, row, sizeof row, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	pt_exec(db, "COMMIT");
}

static void pt_check_rows(const char *path)
{
	sqlite3 *db = pt_open(path, NULL);
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT k, v FROM t ORDER BY k", -1,
					    &st, NULL), SQLITE_OK);
	for (int i = 0; i < PT_ROWS; i++) {
		const unsigned char *v;
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st, 0), i);
		assert_int_equal(sqlite3_column_bytes(st, 1), PT_ROW);
		v = sqlite3_column_blob(st, 1);
		assert_int_equal(v[0], 'a' + i % 26);
		assert_int_equal(v[PT_ROW - 1], 'a' + i % 26);
	}
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void test_writes_are_sent_in_bounded_steps(void **state)
{
	char *dir = stt_tmpdir(), *path = stt_join(dir, "paced.db");
	struct pace_stats before, after;
	struct perr e;
	sqlite3 *db;

	(void)state;
	if (pace_register(&e) != 0)
		fail_msg("pace_register: %s", e.msg);
	pace_stats(&before);
	db = pt_open(path, PACE_VFS);
	pt_fill(db);
	pace_stats(&after);
	/* About 8 MB written, sent 256 KiB at a time. */
	assert_true(after.bytes - before.bytes >= (uint64_t)PT_ROWS * PT_ROW);
	assert_true(after.pushes - before.pushes >=
		    (after.bytes - before.bytes) / PACE_BYTES - 1);
	assert_true(after.max_unsent >= PACE_BYTES);
	assert_true(after.max_unsent < PACE_BYTES + 2 * PT_PAGE);
	assert_int_equal(after.push_errors, before.push_errors);
	assert_int_equal(after.unpaced, before.unpaced);
	sqlite3_close(db);
	pt_check_rows(path);
	stt_rmtree(dir);
	free(path);
	free(dir);
}

/* cachestat(2) (Linux 6.5): the page-cache state of a file range. */
#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif
struct pt_cachestat_range {
	uint64_t off, len;
};
struct pt_cachestat {
	uint64_t cache, dirty, writeback, evicted, recently_evicted;
};

/* Dirty pages of the file at path; -1 if the kernel cannot say. */
static long pt_dirty_pages(const char *path)
{
	struct pt_cachestat_range r = { 0, 0 };
	struct pt_cachestat cs;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	long rc;

	assert_true(fd >= 0);
	memset(&cs, 0, sizeof cs);
	rc = syscall(SYS_cachestat, fd, &r, &cs, 0);
	/* The descriptor is closed while SQLite holds no lock on the file
	 * in this process (see pace.c on closing descriptors). */
	close(fd);
	return rc == 0 ? (long)(cs.dirty + cs.writeback) : -1;
}

static void test_the_kernel_holds_little_unsent(void **state)
{
	char *dir = stt_tmpdir(), *paced = stt_join(dir, "paced.db"),
	     *plain = stt_join(dir, "plain.db");
	struct perr e;
	sqlite3 *db;
	long dp, dn;

	(void)state;
	if (pace_register(&e) != 0)
		fail_msg("pace_register: %s", e.msg);
	db = pt_open(plain, NULL);
	pt_fill(db);
	sqlite3_close(db);
	db = pt_open(paced, PACE_VFS);
	pt_fill(db);
	sqlite3_close(db);
	dn = pt_dirty_pages(plain);
	dp = pt_dirty_pages(paced);
	if (dn < 0) {
		stt_rmtree(dir);
		free(plain);
		free(paced);
		free(dir);
		print_message("cachestat(2) unavailable (%s): dirty pages not checked\n",
			      strerror(errno));
		skip();
	}
	/* Without pacing the kernel would send it in its own time (30 s);
	 * with it, at most the last PACE_BYTES wait. */
	assert_true(dn >= (long)PT_ROWS * PT_ROW / PT_PAGE / 2);
	assert_true(dp <= PACE_BYTES / PT_PAGE + 2);
	stt_rmtree(dir);
	free(plain);
	free(paced);
	free(dir);
}

static void test_the_checkpointer_copies_through_it(void **state)
{
	static const struct ckpt_conf conf = { 5, 16, 1 << 20, 64 };
	char *dir = stt_tmpdir(), *path = stt_join(dir, "node.db");
	struct pace_stats before, after;
	struct ckpt *c = NULL;
	struct perr e;
	sqlite3 *db = pt_open(path, NULL);
	sqlite3_stmt *st;
	char row[PT_ROW];
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	pt_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
		    "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB NOT NULL)");
	pace_stats(&before);
	if (ckpt_start(&c, path, db, &conf, fds[1], &e) != 0)
		fail_msg("ckpt_start: %s", e.msg);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t VALUES(?1, ?2)", -1,
					    &st, NULL), SQLITE_OK);
	memset(row, 'x', sizeof row);
	for (int i = 0; i < 4000; i++) {
		sqlite3_bind_int(st, 1, i);
		sqlite3_bind_blob(st, 2, row, sizeof row, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	/* Each insert its own commit: rounds every 5 ms copy them back. */
	for (int k = 0; k < 400; k++) {
		pace_stats(&after);
		if (after.pushes - before.pushes >= 4)
			break;
		struct timespec ts = { 0, 5000000 };
		nanosleep(&ts, NULL);
	}
	ckpt_stop(c);
	pace_stats(&after);
	assert_true(after.bytes - before.bytes >= 1000000);
	assert_true(after.pushes - before.pushes >= 4);
	assert_int_equal(after.push_errors, before.push_errors);
	sqlite3_close(db);
	close(fds[0]);
	close(fds[1]);
	stt_rmtree(dir);
	free(path);
	free(dir);
}

/* Whether another process could take a write lock on the bytes where
 * SQLite's connections hold their SHARED locks on the database file (the
 * unix VFS's layout: 510 bytes from 1 GiB + 2). */
static int pt_shared_lock_seen(const char *path)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct flock fl;
		int fd = open(path, O_RDWR);
		memset(&fl, 0, sizeof fl);
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		fl.l_start = 0x40000000 + 2;
		fl.l_len = 510;
		if (fd < 0 || fcntl(fd, F_GETLK, &fl) != 0)
			_exit(2);
		_exit(fl.l_type == F_UNLCK ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 2);
	return WEXITSTATUS(status) == 1;
}

static void test_closing_keeps_other_connections_locks(void **state)
{
	char *dir = stt_tmpdir(), *path = stt_join(dir, "node.db");
	struct perr e;
	sqlite3 *writer = pt_open(path, NULL), *paced;

	(void)state;
	if (pace_register(&e) != 0)
		fail_msg("pace_register: %s", e.msg);
	pt_exec(writer, "PRAGMA journal_mode=WAL; CREATE TABLE t(k INTEGER PRIMARY KEY);"
			"INSERT INTO t VALUES(1)");
	assert_true(pt_shared_lock_seen(path));
	for (int i = 0; i < 3; i++) {
		paced = pt_open(path, PACE_VFS);
		pt_exec(paced, "INSERT INTO t VALUES(NULL)");
		pt_exec(paced, "PRAGMA wal_checkpoint(PASSIVE)");
		sqlite3_close(paced);
		assert_true(pt_shared_lock_seen(path));
	}
	pt_exec(writer, "INSERT INTO t VALUES(NULL)");
	sqlite3_close(writer);
	stt_rmtree(dir);
	free(path);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_writes_are_sent_in_bounded_steps),
		cmocka_unit_test(test_the_kernel_holds_little_unsent),
		cmocka_unit_test(test_the_checkpointer_copies_through_it),
		cmocka_unit_test(test_closing_keeps_other_connections_locks),
	};

	if (getenv("PARLEY_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("PARLEY_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
