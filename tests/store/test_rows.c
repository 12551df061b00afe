/*
 * test_rows.c — rows inserted many at a time (rows.h).
 *
 *   - every number of rows from 1 to ROWS_GROUP, and runs of several
 *     groups, land exactly as given: integers, text, blobs (an empty blob
 *     is empty, not NULL) and NULLs;
 *   - a group that breaks a constraint fails as a whole: none of its rows
 *     are in the table, the rows of earlier groups are, the transaction
 *     goes on, and the error names the constraint;
 *   - rows_add refuses a row beyond ROWS_GROUP until the rows are flushed.
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

#include "rows.h"

static sqlite3 *open_db(void)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(k INTEGER PRIMARY KEY, s TEXT,"
				      " b BLOB, z)", NULL, NULL, NULL), SQLITE_OK);
	return db;
}

static sqlite3_int64 count(sqlite3 *db, const char *where)
{
	char sql[200];
	sqlite3_stmt *st;
	sqlite3_int64 n;

	snprintf(sql, sizeof sql, "SELECT count(*) FROM t WHERE %s", where);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Row k: text "row <k>", a blob of k % 5 bytes of value k, NULL in z. */
static void add_row(struct rows *r, int k, char texts[][16])
{
	static const uint8_t bytes[256] = { 0 };
	struct rows_val *v = rows_add(r);

	assert_non_null(v);
	snprintf(texts[k], 16, "row %d", k);
	rows_set_int(&v[0], k);
	rows_set_text(&v[1], texts[k]);
	rows_set_blob(&v[2], bytes, (size_t)(k % 5));
	v[3].kind = ROWS_NULL;
}

static void check_rows(sqlite3 *db, int from, int to)
{
	sqlite3_stmt *st;
	int k = from;

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT k, s, length(b), typeof(b), z IS NULL"
					    " FROM t WHERE k >= ?1 AND k < ?2 ORDER BY k", -1,
					    &st, NULL), SQLITE_OK);
	sqlite3_bind_int(st, 1, from);
	sqlite3_bind_int(st, 2, to);
	while (sqlite3_step(st) == SQLITE_ROW) {
		char want[16];
		snprintf(want, sizeof want, "row %d", k);
		assert_int_equal(sqlite3_column_int(st, 0), k);
		assert_string_equal((const char *)sqlite3_column_text(st, 1), want);
		assert_int_equal(sqlite3_column_int(st, 2), k % 5);
		assert_string_equal((const char *)sqlite3_column_text(st, 3), "blob");
		assert_int_equal(sqlite3_column_int(st, 4), 1);
		k++;
	}
	sqlite3_finalize(st);
	assert_int_equal(k, to);
}

static void test_every_group_size_lands_as_given(void **state)
{
	static char texts[2000][16];
	sqlite3 *db = open_db();
	struct rows r;
	struct perr e;
	int n, k = 0, i;

	(void)state;
	rows_init(&r, db, "INSERT INTO t(k, s, b, z) VALUES", 4);
	for (n = 1; n <= ROWS_GROUP; n++) {
		int from = k;
		for (i = 0; i < n; i++)
			add_row(&r, k++, texts);
		assert_int_equal(rows_flush(&r, &e), 0);
		assert_int_equal(r.n, 0);
		assert_int_equal(count(db, "1"), k);
		check_rows(db, from, k);
	}
	assert_int_equal(rows_flush(&r, &e), 0); /* nothing held: nothing done */
	assert_int_equal(count(db, "1"), k);
	rows_free(&r);
	sqlite3_close(db);
}

static void test_a_group_that_breaks_a_constraint_fails_whole(void **state)
{
	static char texts[200][16];
	sqlite3 *db = open_db();
	struct rows r;
	struct perr e;
	int i, rc;

	(void)state;
	assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	rows_init(&r, db, "INSERT INTO t(k, s, b, z) VALUES", 4);
	for (i = 0; i < ROWS_GROUP; i++)
		add_row(&r, i, texts);
	assert_int_equal(rows_flush(&r, &e), 0);
	/* The next group: rows 100..110, then row 5 again. */
	for (i = 100; i < 111; i++)
		add_row(&r, i, texts);
	add_row(&r, 5, texts);
	rc = rows_flush(&r, &e);
	assert_int_equal(rc & 0xff, SQLITE_CONSTRAINT);
	assert_non_null(strstr(e.msg, "UNIQUE constraint failed: t.k"));
	assert_int_equal(r.n, 0); /* forgotten */
	assert_int_equal(count(db, "k >= 100"), 0);
	assert_int_equal(count(db, "1"), ROWS_GROUP);
	/* The transaction goes on. */
	for (i = 100; i < 111; i++)
		add_row(&r, i, texts);
	assert_int_equal(rows_flush(&r, &e), 0);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(count(db, "1"), ROWS_GROUP + 11);
	check_rows(db, 100, 111);
	rows_free(&r);
	sqlite3_close(db);
}

static void test_no_row_beyond_a_group_until_flushed(void **state)
{
	static char texts[ROWS_GROUP + 1][16];
	sqlite3 *db = open_db();
	struct rows r;
	struct perr e;
	int i;

	(void)state;
	rows_init(&r, db, "INSERT INTO t(k, s, b, z) VALUES", 4);
	for (i = 0; i < ROWS_GROUP; i++)
		add_row(&r, i, texts);
	assert_null(rows_add(&r));
	assert_int_equal(r.n, ROWS_GROUP);
	assert_int_equal(rows_flush(&r, &e), 0);
	add_row(&r, ROWS_GROUP, texts);
	assert_int_equal(rows_flush(&r, &e), 0);
	assert_int_equal(count(db, "1"), ROWS_GROUP + 1);
	rows_free(&r);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_group_size_lands_as_given),
		cmocka_unit_test(test_a_group_that_breaks_a_constraint_fails_whole),
		cmocka_unit_test(test_no_row_beyond_a_group_until_flushed),
	};
	if (getenv("PARLEY_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("PARLEY_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
