/*
 * rows.c — rows inserted into one table many at a time (rows.h).
 */
#include "rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rows_init(struct rows *r, sqlite3 *db, const char *head, int ncols)
{
	memset(r, 0, sizeof *r);
	r->db = db;
	r->head = head;
	r->ncols = ncols;
}

void rows_free(struct rows *r)
{
	size_t i;

	for (i = 0; i <= ROWS_GROUP; i++)
		sqlite3_finalize(r->st[i]);
	memset(r->st, 0, sizeof r->st);
	r->n = 0;
}

struct rows_val *rows_add(struct rows *r)
{
	struct rows_val *v;

	if (r->n == ROWS_GROUP)
		return NULL;
	v = &r->v[r->n++ * r->ncols];
	memset(v, 0, (size_t)r->ncols * sizeof *v);
	return v;
}

/* "head(?,?),(?,?)..." for n rows, prepared once. */
static sqlite3_stmt *rows_stmt(struct rows *r, int n, struct perr *e)
{
	size_t cap, len;
	char *sql;
	int i, c;

	if (r->st[n] != NULL)
		return r->st[n];
	cap = strlen(r->head) + (size_t)n * ((size_t)r->ncols * 2 + 3) + 1;
	if ((sql = malloc(cap)) == NULL) {
		perr_set(e, "out of memory");
		return NULL;
	}
	len = (size_t)snprintf(sql, cap, "%s", r->head);
	for (i = 0; i < n; i++) {
		sql[len++] = i ? ',' : ' ';
		sql[len++] = '(';
		for (c = 0; c < r->ncols; c++) {
			if (c)
				sql[len++] = ',';
			sql[len++] = '?';
		}
		sql[len++] = ')';
	}
	sql[len] = '\0';
	if (sqlite3_prepare_v3(r->db, sql, (int)len + 1, SQLITE_PREPARE_PERSISTENT, &r->st[n],
			       NULL) != SQLITE_OK) {
		perr_set(e, "database: cannot prepare an insert of %d rows: %s", n,
			 sqlite3_errmsg(r->db));
		r->st[n] = NULL;
	}
	free(sql);
	return r->st[n];
}

int rows_flush(struct rows *r, struct perr *e)
{
	sqlite3_stmt *st;
	int i, rc, n = r->n;

	if (n == 0)
		return 0;
	r->n = 0;
	if ((st = rows_stmt(r, n, e)) == NULL)
		return SQLITE_ERROR;
	for (i = 0; i < n * r->ncols; i++) {
		const struct rows_val *v = &r->v[i];
		switch (v->kind) {
		case ROWS_NULL:
			sqlite3_bind_null(st, i + 1);
			break;
		case ROWS_INT:
			sqlite3_bind_int64(st, i + 1, v->i);
			break;
		case ROWS_TEXT:
			sqlite3_bind_text(st, i + 1, v->p, v->len, SQLITE_STATIC);
			break;
		case ROWS_BLOB:
			sqlite3_bind_blob(st, i + 1, v->len ? v->p : "", v->len, SQLITE_STATIC);
			break;
		}
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_DONE)
		return 0;
	perr_set(e, "database: %s", sqlite3_errmsg(r->db));
	return rc;
}
