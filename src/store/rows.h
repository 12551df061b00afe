/*
 * rows.h — rows inserted into one table many at a time.
 *
 * A node inserts several rows for every message it logs or receives (the
 * entry, its outbox or inbox row, its idempotency key).  One INSERT
 * statement of ROWS_GROUP rows costs about half as much per row as
 * ROWS_GROUP single-row ones (a one-off program: 2.3 against 1.2 us a row),
 * so rows are gathered here and written in groups, each one statement
 * (prepared once for each number of rows).
 *
 * A failed group leaves the table as it was before that group (SQLite
 * undoes the whole statement), so that a caller can write the group's rows
 * one by one to find the row at fault.
 */
#ifndef PARLEY_ROWS_H
#define PARLEY_ROWS_H

#include <stdint.h>

#include <sqlite3.h>

#include "err.h"

#define ROWS_GROUP 32
#define ROWS_COLS_MAX 8

enum rows_kind { ROWS_NULL, ROWS_INT, ROWS_TEXT, ROWS_BLOB };

/* One value; text and blobs are not copied and must outlive the flush. */
struct rows_val {
	enum rows_kind kind;
	sqlite3_int64 i;
	const void *p;
	int len; /* blob bytes; text: -1 for NUL-terminated */
};

struct rows {
	sqlite3 *db;
	const char *head;   /* "INSERT INTO t(a, b) VALUES" (or OR IGNORE) */
	int ncols;
	sqlite3_stmt *st[ROWS_GROUP + 1]; /* by number of rows */
	int n;              /* rows held */
	struct rows_val v[ROWS_GROUP * ROWS_COLS_MAX];
};

static inline void rows_set_int(struct rows_val *v, sqlite3_int64 x)
{
	v->kind = ROWS_INT;
	v->i = x;
}

static inline void rows_set_text(struct rows_val *v, const char *s)
{
	v->kind = ROWS_TEXT;
	v->p = s;
	v->len = -1;
}

static inline void rows_set_blob(struct rows_val *v, const void *p, size_t len)
{
	v->kind = ROWS_BLOB;
	v->p = p;
	v->len = (int)len;
}

/* head must outlive r; ncols at most ROWS_COLS_MAX. */
void rows_init(struct rows *r, sqlite3 *db, const char *head, int ncols);
void rows_free(struct rows *r);

/* The next row's ncols values, to fill in; NULL when ROWS_GROUP rows are
 * held (flush first). */
struct rows_val *rows_add(struct rows *r);

/* Writes the rows held, in one statement.  0 (none are held then), or the
 * SQLite result code of the failure, with nothing of them written, the rows
 * forgotten and e set. */
int rows_flush(struct rows *r, struct perr *e);

#endif
