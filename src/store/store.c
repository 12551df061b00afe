/*
 * store.c — durable Merkle logs in SQLite (see store.h).
 *
 * Schema (one database, many logs):
 *   meta(k, v)                    settings, e.g. the schema version, keys
 *   logs(id, origin, size)        one row per log; size moves with each batch
 *   entries(k, data)              k = log << 40 | index
 *   tiles(k, width, hashes)       k = log << 38 | tile << 6 | level
 *
 * A tile row holds, for the `width` level-8L hashes it spans, the Merkle
 * levels 8L..8L+7 packed level after level: width hashes, then width/2,
 * ..., then width/128.  Every complete node of the tree is therefore stored
 * exactly once.  Integer keys keep each lookup a single rowid search.
 */
#include "store.h"
#include "rows.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tile.h"

#define STORE_SCHEMA "parley-store 1"
#define STORE_LEVELS 8            /* tile levels: 2^40 leaves need 5 */
#define STORE_TILE_HASHES 510     /* 256 + 128 + ... + 2 */
#define STORE_CACHE_SLOTS 2048    /* full tiles cached, 16 KiB each */

/* Offset of sublevel s inside a full tile's packed layout. */
static const unsigned store_suboff[TILE_HEIGHT] = { 0, 256, 384, 448, 480, 496, 504, 508 };

struct store_tilemem {
	uint64_t n;        /* tile index */
	unsigned width;    /* level-8L hashes present, 0..256 */
	merkle_hash h[STORE_TILE_HASHES]; /* full-tile layout */
};

struct store_cache_slot {
	uint64_t key;      /* tile key + 1 (0 = empty) */
	merkle_hash h[STORE_TILE_HASHES];
};

struct store_log {
	struct store *s;
	struct store_log *next;
	int64_t id;
	char *origin;
	uint64_t size;
	unsigned nlevels;  /* levels with an edge tile allocated */
	struct store_tilemem edge[STORE_LEVELS];
	unsigned dirty;    /* bit L: edge tile L changed in this batch */
};

struct store {
	sqlite3 *db;
	int in_tx;
	int tx_failed;     /* an append failed inside the open transaction */
	struct store_log *logs;
	struct store_cache_slot *cache[STORE_CACHE_SLOTS];
	sqlite3_stmt *st_put_tile, *st_get_tile, *st_set_size, *st_get_entry, *st_range;
	struct rows ins_entries;
};

static int store_sqlerr(struct store *s, struct perr *e, const char *what)
{
	return perr_set(e, "%s: %s", what, sqlite3_errmsg(s->db));
}

static int store_exec(struct store *s, const char *sql, struct perr *e)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		perr_set(e, "database: %s", msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int store_prepare(struct store *s, sqlite3_stmt **st, const char *sql,
			 struct perr *e)
{
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st,
			       NULL) != SQLITE_OK)
		return store_sqlerr(s, e, "database");
	return 0;
}

static uint64_t store_entry_key(const struct store_log *l, uint64_t idx)
{
	return (uint64_t)l->id << STORE_KEY_SHIFT | idx;
}

uint64_t store_log_key(const struct store_log *l, uint64_t idx)
{
	return store_entry_key(l, idx);
}

static uint64_t store_tile_key(const struct store_log *l, unsigned level,
			       uint64_t n)
{
	return (uint64_t)l->id << 38 | n << 6 | level;
}

int store_open(struct store **sp, const char *path, int create,
	       const char *vfs, struct perr *e)
{
	struct store *s;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;

	*sp = NULL;
	if (create) {
		/* Create the file ourselves so that it, and the -wal and -shm
		 * files SQLite derives from it, are private (0600). */
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return perr_set(e, "%s: %s", path, errno == EEXIST ?
					"already exists" : strerror(errno));
		close(fd);
	} else if (access(path, F_OK) != 0) {
		return perr_set(e, "%s: %s", path, strerror(errno));
	}
	s = calloc(1, sizeof *s);
	if (s == NULL)
		return perr_set(e, "out of memory");
	if (sqlite3_open_v2(path, &s->db, flags, vfs) != SQLITE_OK) {
		perr_set(e, "%s: %s", path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, 10000);
	if (!create) {
		/* Check what the file is before changing anything in it. */
		char *v = NULL;
		size_t vl;
		struct perr ig;
		if (store_meta_get(s, "schema", &v, &vl, &ig) != 0 ||
		    strcmp(v, STORE_SCHEMA) != 0) {
			free(v);
			perr_set(e, "%s: not a parley store", path);
			goto fail;
		}
		free(v);
	}
	/* DESIGN: WAL, synchronous=FULL: a commit is synced before it returns. */
	if (store_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", e) != 0)
		goto fail;
	/* Reads through a memory map spare a pread copy per page: proofs at
	 * 10^7 entries read one uncached tile each (bench/log: +45%).  It
	 * changes how pages are read, not how commits are synced. */
	if (store_exec(s, "PRAGMA mmap_size=2147418112;", e) != 0)
		goto fail;
	if (create) {
		if (store_exec(s,
			"BEGIN;"
			"CREATE TABLE meta(k TEXT PRIMARY KEY, v BLOB NOT NULL);"
			"CREATE TABLE logs(id INTEGER PRIMARY KEY, origin TEXT NOT NULL UNIQUE,"
			" size INTEGER NOT NULL DEFAULT 0);"
			"CREATE TABLE entries(k INTEGER PRIMARY KEY, data BLOB NOT NULL);"
			"CREATE TABLE tiles(k INTEGER PRIMARY KEY, width INTEGER NOT NULL,"
			" hashes BLOB NOT NULL);"
			"INSERT INTO meta VALUES('schema', '" STORE_SCHEMA "');"
			"COMMIT;", e) != 0)
			goto fail;
	}
	rows_init(&s->ins_entries, s->db, "INSERT INTO entries(k, data) VALUES", 2);
	if (store_prepare(s, &s->st_put_tile,
			  "INSERT OR REPLACE INTO tiles(k, width, hashes) VALUES(?, ?, ?)", e) ||
	    store_prepare(s, &s->st_get_tile, "SELECT width, hashes FROM tiles WHERE k = ?", e) ||
	    store_prepare(s, &s->st_set_size, "UPDATE logs SET size = ? WHERE id = ?", e) ||
	    store_prepare(s, &s->st_get_entry, "SELECT data FROM entries WHERE k = ?", e) ||
	    store_prepare(s, &s->st_range,
			  "SELECT k, data FROM entries WHERE k >= ? AND k < ? ORDER BY k", e))
		goto fail;
	*sp = s;
	return 0;
fail:
	store_close(s);
	if (create) {
		/* Leave nothing behind, so that the create can be retried. */
		char aux[4096];
		unlink(path);
		snprintf(aux, sizeof aux, "%s-wal", path);
		unlink(aux);
		snprintf(aux, sizeof aux, "%s-shm", path);
		unlink(aux);
	}
	return -1;
}

void store_close(struct store *s)
{
	size_t i;

	if (s == NULL)
		return;
	while (s->logs != NULL) {
		struct store_log *l = s->logs;
		s->logs = l->next;
		free(l->origin);
		free(l);
	}
	for (i = 0; i < STORE_CACHE_SLOTS; i++)
		free(s->cache[i]);
	rows_free(&s->ins_entries);
	sqlite3_finalize(s->st_put_tile);
	sqlite3_finalize(s->st_get_tile);
	sqlite3_finalize(s->st_set_size);
	sqlite3_finalize(s->st_get_entry);
	sqlite3_finalize(s->st_range);
	sqlite3_close(s->db);
	free(s);
}

struct sqlite3 *store_sqlite(struct store *s)
{
	return s->db;
}

int store_meta_set(struct store *s, const char *key, const void *val,
		   size_t len, struct perr *e)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO meta(k, v) VALUES(?, ?)",
			       -1, &st, NULL) != SQLITE_OK)
		return store_sqlerr(s, e, "database");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, val, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store_sqlerr(s, e, "database");
	return 0;
}

int store_meta_get(struct store *s, const char *key, char **val, size_t *len,
		   struct perr *e)
{
	sqlite3_stmt *st;
	int rc;

	*val = NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT v FROM meta WHERE k = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return store_sqlerr(s, e, "database");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int n = sqlite3_column_bytes(st, 0);
		const void *v = sqlite3_column_blob(st, 0);
		*val = malloc((size_t)n + 1);
		if (*val != NULL) {
			if (n > 0)
				memcpy(*val, v, (size_t)n);
			(*val)[n] = '\0';
			*len = (size_t)n;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return perr_set(e, "no setting \"%s\" in the store", key);
	if (*val == NULL)
		return perr_set(e, "out of memory");
	return 0;
}

int store_log_create(struct store *s, const char *origin, struct perr *e)
{
	sqlite3_stmt *st;
	int rc;

	/* Log ids are packed into entry and tile keys (see the schema). */
	if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(id), 0) FROM logs", -1, &st,
			       NULL) != SQLITE_OK)
		return store_sqlerr(s, e, "database");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW &&
	    (uint64_t)sqlite3_column_int64(st, 0) + 1 >= STORE_MAX_LOGS) {
		sqlite3_finalize(st);
		return perr_set(e, "the store holds its maximum number of logs");
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(s->db, "INSERT INTO logs(origin) VALUES(?)", -1, &st,
			       NULL) != SQLITE_OK)
		return store_sqlerr(s, e, "database");
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		return perr_set(e, "a log named \"%s\" already exists", origin);
	if (rc != SQLITE_DONE)
		return store_sqlerr(s, e, "database");
	return 0;
}

/* Packs sublevels of a width-w tile from the full layout (compact=1) or
 * unpacks into it (compact=0). */
static void store_tile_pack(merkle_hash *full, uint8_t *packed, unsigned w,
			    int compact)
{
	unsigned s, off = 0;

	for (s = 0; s < TILE_HEIGHT; s++) {
		unsigned cnt = w >> s;
		if (compact)
			memcpy(packed + off * MERKLE_HASH, full[store_suboff[s]],
			       cnt * MERKLE_HASH);
		else
			memcpy(full[store_suboff[s]], packed + off * MERKLE_HASH,
			       cnt * MERKLE_HASH);
		off += cnt;
	}
}

static size_t store_tile_packed_count(unsigned w)
{
	size_t s, c = 0;

	for (s = 0; s < TILE_HEIGHT; s++)
		c += w >> s;
	return c;
}

/* Reads tile (level, n) from the database into the full layout. */
static int store_load_tile(struct store_log *l, unsigned level, uint64_t n,
			   merkle_hash *full, unsigned *width, struct perr *e)
{
	struct store *s = l->s;
	sqlite3_stmt *st = s->st_get_tile;
	int rc, ok = -1;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)store_tile_key(l, level, n));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int w = sqlite3_column_int(st, 0);
		int bytes = sqlite3_column_bytes(st, 1);
		const void *b = sqlite3_column_blob(st, 1);
		if (w < 1 || w > TILE_WIDTH ||
		    (size_t)bytes != store_tile_packed_count((unsigned)w) * MERKLE_HASH) {
			perr_set(e, "store is damaged: tile %u/%llu of %s has a bad size",
				 level, (unsigned long long)n, l->origin);
		} else {
			store_tile_pack(full, (uint8_t *)b, (unsigned)w, 0);
			*width = (unsigned)w;
			ok = 0;
		}
	} else if (rc == SQLITE_DONE) {
		perr_set(e, "store is damaged: tile %u/%llu of %s is missing", level,
			 (unsigned long long)n, l->origin);
	} else {
		store_sqlerr(s, e, "database");
	}
	sqlite3_reset(st);
	return ok;
}

static int store_push(struct store_log *l, unsigned L, const merkle_hash h,
		      struct perr *e);

/* store_entries callback: re-adds one entry's leaf hash to the level-0
 * edge tile (which never fills here: at most 255 entries). */
static int store_rehash(void *ctx, uint64_t idx, const uint8_t *data, size_t len)
{
	struct store_log *l = ctx;
	merkle_hash h;

	(void)idx;
	merkle_leaf_hash(h, data, len);
	return store_push(l, 0, h, NULL) != 0 ? -1 : 0;
}

/* Loads the right-edge tiles for the log's current size. */
static int store_log_load(struct store_log *l, struct perr *e)
{
	unsigned L;

	memset(l->edge, 0, sizeof l->edge);
	l->nlevels = 0;
	l->dirty = 0;
	for (L = 0; L < STORE_LEVELS; L++) {
		uint64_t b = L * TILE_HEIGHT >= 64 ? 0 : l->size >> (L * TILE_HEIGHT);
		struct store_tilemem *t = &l->edge[L];
		if (b == 0 && L > 0)
			break;
		t->n = b / TILE_WIDTH;
		t->width = 0;
		l->nlevels = L + 1;
		if (L == 0 && b % TILE_WIDTH != 0) {
			/* The partial level-0 tile is not stored (rewriting up to
			 * 16 KiB at every commit would multiply what small batches
			 * write): rebuild it from its at most 255 entries. */
			if (store_entries(l, l->size - b % TILE_WIDTH, l->size,
					  store_rehash, l, e) != 0)
				return -1;
			l->dirty = 0;
			continue;
		}
		if (b % TILE_WIDTH != 0) {
			unsigned w;
			if (store_load_tile(l, L, t->n, t->h, &w, e) != 0)
				return -1;
			if (w != b % TILE_WIDTH)
				return perr_set(e, "store is damaged: edge tile %u of %s has "
						"width %u, expected %u", L, l->origin, w,
						(unsigned)(b % TILE_WIDTH));
			t->width = w;
		}
	}
	return 0;
}

static int store_log_read_size(struct store_log *l, struct perr *e)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(l->s->db, "SELECT size FROM logs WHERE id = ?", -1, &st,
			       NULL) != SQLITE_OK)
		return store_sqlerr(l->s, e, "database");
	sqlite3_bind_int64(st, 1, l->id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		l->size = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return perr_set(e, "log %s vanished from the store", l->origin);
	return 0;
}

int store_log_open(struct store *s, const char *origin, struct store_log **lp,
		   struct perr *e)
{
	struct store_log *l;
	sqlite3_stmt *st;
	int rc, count = 0;

	*lp = NULL;
	for (l = s->logs; l != NULL; l = l->next) {
		if (origin != NULL && strcmp(l->origin, origin) == 0) {
			*lp = l;
			return 0;
		}
	}
	if (sqlite3_prepare_v2(s->db, origin ?
			       "SELECT id, origin, size FROM logs WHERE origin = ?" :
			       "SELECT id, origin, size FROM logs LIMIT 2",
			       -1, &st, NULL) != SQLITE_OK)
		return store_sqlerr(s, e, "database");
	if (origin)
		sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	l = calloc(1, sizeof *l);
	if (l == NULL) {
		sqlite3_finalize(st);
		return perr_set(e, "out of memory");
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (count++ > 0)
			break;
		l->id = sqlite3_column_int64(st, 0);
		l->origin = strdup((const char *)sqlite3_column_text(st, 1));
		l->size = (uint64_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	if (count != 1 || l->origin == NULL) {
		free(l->origin);
		free(l);
		if (count == 0)
			return origin ? perr_set(e, "no log named \"%s\" in the store", origin)
				      : perr_set(e, "the store holds no log");
		return perr_set(e, "the store holds several logs: name one");
	}
	if (origin == NULL) {
		struct store_log *o;
		for (o = s->logs; o != NULL; o = o->next) {
			if (o->id == l->id) {
				free(l->origin);
				free(l);
				*lp = o;
				return 0;
			}
		}
	}
	l->s = s;
	if (store_log_load(l, e) != 0) {
		free(l->origin);
		free(l);
		return -1;
	}
	l->next = s->logs;
	s->logs = l;
	*lp = l;
	return 0;
}

int store_log_list(struct store *s, char ***origins, size_t *n, struct perr *e)
{
	sqlite3_stmt *st;
	char **v = NULL;
	size_t cnt = 0;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT origin FROM logs ORDER BY origin", -1, &st,
			       NULL) != SQLITE_OK)
		return store_sqlerr(s, e, "database");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char **nv = realloc(v, (cnt + 1) * sizeof *v);
		if (nv == NULL)
			break;
		v = nv;
		v[cnt] = strdup((const char *)sqlite3_column_text(st, 0));
		if (v[cnt] == NULL)
			break;
		cnt++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_log_list_free(v, cnt);
		return perr_set(e, "cannot list logs");
	}
	*origins = v;
	*n = cnt;
	return 0;
}

void store_log_list_free(char **origins, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(origins[i]);
	free(origins);
}

const char *store_log_origin(const struct store_log *l)
{
	return l->origin;
}

uint64_t store_log_size(const struct store_log *l)
{
	return l->size;
}

int store_begin(struct store *s, struct perr *e)
{
	if (s->in_tx)
		return perr_set(e, "a transaction is already open");
	if (store_exec(s, "BEGIN IMMEDIATE", e) != 0)
		return -1;
	s->in_tx = 1;
	s->tx_failed = 0;
	return 0;
}

/* After a failed or abandoned transaction the in-memory edges may be ahead
 * of the database: reload every open log from what is committed. */
static void store_reload_all(struct store *s)
{
	struct store_log *l;
	struct perr ig;

	for (l = s->logs; l != NULL; l = l->next)
		if (store_log_read_size(l, &ig) != 0 || store_log_load(l, &ig) != 0)
			l->size = 0, l->nlevels = 0; /* unusable until reopened */
}

int store_commit(struct store *s, struct perr *e)
{
	if (!s->in_tx)
		return perr_set(e, "no transaction is open");
	if (s->tx_failed) {
		store_rollback(s);
		return perr_set(e, "an append failed in this transaction; it was rolled back");
	}
	if (store_exec(s, "COMMIT", e) != 0) {
		store_rollback(s);
		return -1;
	}
	s->in_tx = 0;
	return 0;
}

void store_rollback(struct store *s)
{
	struct perr ig;
	size_t i;

	if (!sqlite3_get_autocommit(s->db))
		store_exec(s, "ROLLBACK", &ig);
	s->in_tx = 0;
	s->tx_failed = 0;
	/* A full tile written and read inside the abandoned transaction may
	 * sit in the cache: forget them all. */
	for (i = 0; i < STORE_CACHE_SLOTS; i++)
		if (s->cache[i] != NULL)
			s->cache[i]->key = 0;
	store_reload_all(s);
}

static int store_write_tile(struct store_log *l, unsigned level,
			    const struct store_tilemem *t, struct perr *e)
{
	struct store *s = l->s;
	sqlite3_stmt *st = s->st_put_tile;
	uint8_t packed[STORE_TILE_HASHES * MERKLE_HASH];
	size_t cnt = store_tile_packed_count(t->width);
	int rc;

	store_tile_pack((merkle_hash *)t->h, packed, t->width, 1);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)store_tile_key(l, level, t->n));
	sqlite3_bind_int(st, 2, (int)t->width);
	sqlite3_bind_blob(st, 3, packed, (int)(cnt * MERKLE_HASH), SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_sqlerr(s, e, "writing a tile");
	return 0;
}

/* Adds one hash at level 8L (the next position of edge tile L), computes
 * the tile's inner nodes, and carries a completed tile's top hash to level
 * L + 1. */
static int store_push(struct store_log *l, unsigned L, const merkle_hash h,
		      struct perr *e)
{
	struct store_tilemem *t;
	merkle_hash top;
	unsigned pos, s;

	if (L >= STORE_LEVELS)
		return perr_set(e, "log too large");
	if (L >= l->nlevels) {
		memset(&l->edge[L], 0, sizeof l->edge[L]);
		l->nlevels = L + 1;
	}
	t = &l->edge[L];
	pos = t->width;
	memcpy(t->h[pos], h, MERKLE_HASH);
	t->width++;
	l->dirty |= 1u << L;
	/* A node at sublevel s completes when pos + 1 is a multiple of 2^s. */
	for (s = 1; s < TILE_HEIGHT && ((pos + 1) & ((1u << s) - 1)) == 0; s++) {
		unsigned i = (pos + 1) >> s; /* nodes now complete at sublevel s */
		merkle_node_hash(t->h[store_suboff[s] + i - 1],
				 t->h[store_suboff[s - 1] + 2 * (i - 1)],
				 t->h[store_suboff[s - 1] + 2 * (i - 1) + 1]);
	}
	if (t->width < TILE_WIDTH)
		return 0;
	/* The tile is full: store it for good, start the next one, and hand
	 * its root (a level 8L+8 node) to the level above. */
	if (store_write_tile(l, L, t, e) != 0)
		return -1;
	merkle_node_hash(top, t->h[store_suboff[7]], t->h[store_suboff[7] + 1]);
	t->n++;
	t->width = 0;
	return store_push(l, L + 1, top, e);
}

int store_append(struct store_log *l, const void *const *entries,
		 const size_t *lens, size_t n, uint64_t *first, struct perr *e)
{
	struct store *s = l->s;
	uint64_t idx = l->size;
	size_t i;
	unsigned L;
	int own = !s->in_tx;

	if (s->tx_failed)
		return perr_set(e, "an earlier append failed in this transaction; roll it back");
	for (i = 0; i < n; i++)
		if (lens[i] > STORE_ENTRY_MAX)
			return perr_set(e, "entry %zu of the batch is %zu bytes, over the "
					"%d-byte limit of a log entry; nothing was appended",
					i + 1, lens[i], STORE_ENTRY_MAX);
	if (n > STORE_MAX_LOG_SIZE - l->size)
		return perr_set(e, "log %s is full", l->origin);
	if (n == 0) {
		if (first)
			*first = l->size;
		return 0;
	}
	if (own && store_exec(s, "BEGIN IMMEDIATE", e) != 0)
		return -1;
	l->dirty = 0;
	for (i = 0; i < n; i++) {
		merkle_hash h;
		struct rows_val *v = rows_add(&s->ins_entries);
		if (v == NULL) {
			if (rows_flush(&s->ins_entries, e) != 0)
				goto fail;
			v = rows_add(&s->ins_entries);
		}
		merkle_leaf_hash(h, entries[i], lens[i]);
		rows_set_int(&v[0], (sqlite3_int64)store_entry_key(l, idx + i));
		rows_set_blob(&v[1], entries[i], lens[i]);
		if (store_push(l, 0, h, e) != 0)
			goto fail;
	}
	if (rows_flush(&s->ins_entries, e) != 0)
		goto fail;
	/* Partial tiles above level 0 change once per 256 entries; the
	 * partial level-0 tile is rebuilt from the entries at open. */
	for (L = 1; L < l->nlevels; L++)
		if ((l->dirty & (1u << L)) && l->edge[L].width > 0 &&
		    store_write_tile(l, L, &l->edge[L], e) != 0)
			goto fail;
	sqlite3_bind_int64(s->st_set_size, 1, (sqlite3_int64)(idx + n));
	sqlite3_bind_int64(s->st_set_size, 2, l->id);
	i = (size_t)sqlite3_step(s->st_set_size);
	sqlite3_reset(s->st_set_size);
	if ((int)i != SQLITE_DONE) {
		store_sqlerr(s, e, "updating the log size");
		goto fail;
	}
	l->size = idx + n;
	if (own && store_exec(s, "COMMIT", e) != 0)
		goto fail;
	if (first)
		*first = idx;
	return 0;
fail:
	s->ins_entries.n = 0; /* rows not written are forgotten */
	if (own) {
		store_rollback(s);
	} else {
		/* The caller's transaction is now unusable: store_commit will
		 * refuse it and roll back. */
		s->tx_failed = 1;
	}
	return -1;
}

int store_entry(struct store_log *l, uint64_t idx, uint8_t **data, size_t *len,
		struct perr *e)
{
	sqlite3_stmt *st = l->s->st_get_entry;
	int rc;

	*data = NULL;
	if (idx >= l->size)
		return perr_set(e, "entry %llu is beyond the log's size %llu",
				(unsigned long long)idx, (unsigned long long)l->size);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)store_entry_key(l, idx));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int n = sqlite3_column_bytes(st, 0);
		*data = malloc((size_t)n + 1);
		if (*data != NULL) {
			if (n > 0)
				memcpy(*data, sqlite3_column_blob(st, 0), (size_t)n);
			*len = (size_t)n;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return perr_set(e, "store is damaged: entry %llu of %s is missing",
				(unsigned long long)idx, l->origin);
	if (*data == NULL)
		return perr_set(e, "out of memory");
	return 0;
}

int store_entries(struct store_log *l, uint64_t lo, uint64_t hi,
		  int (*fn)(void *ctx, uint64_t idx, const uint8_t *data,
			    size_t len),
		  void *ctx, struct perr *e)
{
	sqlite3_stmt *st = l->s->st_range;
	uint64_t expect = lo;
	int rc, r = 0;

	if (hi > l->size || lo > hi)
		return perr_set(e, "entries %llu..%llu are beyond the log's size %llu",
				(unsigned long long)lo, (unsigned long long)hi,
				(unsigned long long)l->size);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)store_entry_key(l, lo));
	sqlite3_bind_int64(st, 2, (sqlite3_int64)store_entry_key(l, hi));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t idx = (uint64_t)sqlite3_column_int64(st, 0) & (((uint64_t)1 << 40) - 1);
		const void *d = sqlite3_column_blob(st, 1);
		if (idx != expect) {
			rc = SQLITE_CORRUPT;
			break;
		}
		r = fn(ctx, idx, d ? d : "", (size_t)sqlite3_column_bytes(st, 1));
		expect++;
		if (r != 0)
			break;
	}
	sqlite3_reset(st);
	if (r != 0)
		return r;
	if (rc == SQLITE_CORRUPT || (rc == SQLITE_DONE && expect != hi))
		return perr_set(e, "store is damaged: entry %llu of %s is missing",
				(unsigned long long)expect, l->origin);
	if (rc != SQLITE_DONE)
		return store_sqlerr(l->s, e, "reading entries");
	return 0;
}

/* Returns a full tile's hashes, from the cache or the database. */
static const merkle_hash *store_full_tile(struct store_log *l, unsigned level,
					  uint64_t n, struct perr *e)
{
	struct store *s = l->s;
	uint64_t key = store_tile_key(l, level, n);
	size_t slot = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 53) % STORE_CACHE_SLOTS;
	struct store_cache_slot *c = s->cache[slot];
	unsigned w;

	if (c != NULL && c->key == key + 1)
		return (const merkle_hash *)c->h;
	if (c == NULL) {
		c = malloc(sizeof *c);
		if (c == NULL) {
			perr_set(e, "out of memory");
			return NULL;
		}
		s->cache[slot] = c;
	}
	c->key = 0;
	if (store_load_tile(l, level, n, c->h, &w, e) != 0)
		return NULL;
	if (w != TILE_WIDTH) {
		perr_set(e, "store is damaged: tile %u/%llu of %s should be full", level,
			 (unsigned long long)n, l->origin);
		return NULL;
	}
	c->key = key + 1;
	return (const merkle_hash *)c->h;
}

int store_read_nodes(void *log, const struct merkle_node *nodes, size_t n,
		     merkle_hash *out, struct perr *e)
{
	struct store_log *l = log;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned k = nodes[i].level, L = k / TILE_HEIGHT, s = k % TILE_HEIGHT;
		uint64_t idx = nodes[i].index, tn, pos;
		const merkle_hash *h;

		/* complete within the stored tree: (idx + 1) << k <= size */
		if (k > 40 || idx >= (l->size >> k))
			return perr_set(e, "node %u/%llu is not in the stored tree", k,
					(unsigned long long)idx);
		tn = idx >> (TILE_HEIGHT - s);
		pos = idx & ((TILE_WIDTH >> s) - 1);
		if (L < l->nlevels && tn == l->edge[L].n) {
			if (pos >= (l->edge[L].width >> s))
				return perr_set(e, "node %u/%llu is not in the stored tree", k,
						(unsigned long long)idx);
			h = (const merkle_hash *)l->edge[L].h;
		} else {
			h = store_full_tile(l, L, tn, e);
			if (h == NULL)
				return -1;
		}
		memcpy(out[i], h[store_suboff[s] + pos], MERKLE_HASH);
	}
	return 0;
}

int store_root(struct store_log *l, uint64_t size, merkle_hash root,
	       struct perr *e)
{
	if (size > l->size)
		return perr_set(e, "size %llu is beyond the log's size %llu",
				(unsigned long long)size, (unsigned long long)l->size);
	return merkle_tree_hash(root, size, store_read_nodes, l, e);
}

int store_prove_inclusion(struct store_log *l, uint64_t idx, uint64_t size,
			  merkle_hash *proof, size_t *len, struct perr *e)
{
	if (size > l->size)
		return perr_set(e, "size %llu is beyond the log's size %llu",
				(unsigned long long)size, (unsigned long long)l->size);
	return merkle_prove_inclusion(proof, len, idx, size, store_read_nodes, l, e);
}

int store_prove_consistency(struct store_log *l, uint64_t size1,
			    uint64_t size2, merkle_hash *proof, size_t *len,
			    struct perr *e)
{
	if (size2 > l->size)
		return perr_set(e, "size %llu is beyond the log's size %llu",
				(unsigned long long)size2, (unsigned long long)l->size);
	return merkle_prove_consistency(proof, len, size1, size2, store_read_nodes,
					l, e);
}

int store_tile(struct store_log *l, unsigned level, uint64_t n,
	       merkle_hash out[256], unsigned *width, struct perr *e)
{
	unsigned w = tile_width(l->size, level, n);
	const merkle_hash *h;

	if (w == 0)
		return perr_set(e, "tile %u/%llu does not exist at size %llu", level,
				(unsigned long long)n, (unsigned long long)l->size);
	if (w < TILE_WIDTH) {
		if (level >= l->nlevels || l->edge[level].n != n ||
		    l->edge[level].width != w)
			return perr_set(e, "store is damaged: edge tile %u of %s", level,
					l->origin);
		h = (const merkle_hash *)l->edge[level].h;
	} else {
		h = store_full_tile(l, level, n, e);
		if (h == NULL)
			return -1;
	}
	memcpy(out, h, w * MERKLE_HASH);
	*width = w;
	return 0;
}
