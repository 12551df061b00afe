/*
 * store.h — durable Merkle logs in SQLite.
 *
 * One SQLite database (WAL, synchronous=FULL) holds any number of logs, each
 * named by its origin.  A log stores its entries and, in tiles, every hash
 * of every complete subtree: a tile (L, N) holds the Merkle levels 8L..8L+7
 * of the leaves it spans, so the root at any past size and any inclusion or
 * consistency proof take O(log n) tile reads, and C2SP tiles are a slice of
 * what is stored.  Full tiles never change and are cached in memory; the
 * right-edge tile of each level is kept in memory and rewritten with each
 * batch.
 *
 * Durability contract: store_append returns only after its transaction is
 * committed and synced (WAL + synchronous=FULL).  A process killed at any
 * moment reopens to exactly the last committed batch.
 *
 * One writer: a store handle is used by one thread.
 */
#ifndef PARLEY_STORE_H
#define PARLEY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "merkle.h"

#define STORE_ENTRY_MAX 65535          /* tlog-tiles: u16 length prefix */
#define STORE_MAX_LOG_SIZE ((uint64_t)1 << 40)
#define STORE_MAX_LOGS ((uint64_t)1 << 22)

struct store;
struct store_log;
struct sqlite3;

/* Opens (or with create, creates) the database at path.  vfs is an SQLite
 * VFS name or NULL for the default (tests pass a shim that watches syncs).
 * Files are created with mode 0600. */
int store_open(struct store **s, const char *path, int create,
	       const char *vfs, struct perr *e);
void store_close(struct store *s);

/* The SQLite connection, for modules that keep their own tables in the
 * same database and transactions (the node's delivery state, peers). */
struct sqlite3 *store_sqlite(struct store *s);

/* Key-value settings of the database (for example the log's signer key). */
int store_meta_set(struct store *s, const char *key, const void *val,
		   size_t len, struct perr *e);
/* Returns a malloc'd NUL-terminated copy in *val, or -1 if absent. */
int store_meta_get(struct store *s, const char *key, char **val,
		   size_t *len, struct perr *e);

/* Creates a log named origin.  Fails if it exists. */
int store_log_create(struct store *s, const char *origin, struct perr *e);
/* Opens a log by origin; origin NULL opens the database's only log. */
int store_log_open(struct store *s, const char *origin, struct store_log **l,
		   struct perr *e);
/* Lists the origins (malloc'd array of malloc'd strings). */
int store_log_list(struct store *s, char ***origins, size_t *n,
		   struct perr *e);
void store_log_list_free(char **origins, size_t n);

const char *store_log_origin(const struct store_log *l);
uint64_t store_log_size(const struct store_log *l);
/* Entry idx of l as the entries table keys it, log << 40 | idx (idx below
 * STORE_INDEX_LIMIT).  Tables keyed by entry elsewhere use the same key, so
 * that one log's rows are the range [key(l, 0), key(l, STORE_INDEX_LIMIT)). */
#define STORE_KEY_SHIFT 40
#define STORE_INDEX_LIMIT ((uint64_t)1 << STORE_KEY_SHIFT)
uint64_t store_log_key(const struct store_log *l, uint64_t idx);

/* Transactions spanning several calls (group commit).  Without one, each
 * store_append is its own durable transaction. */
int store_begin(struct store *s, struct perr *e);
int store_commit(struct store *s, struct perr *e);
void store_rollback(struct store *s);

/*
 * Appends n entries as one batch.  Each entry is at most STORE_ENTRY_MAX
 * bytes; if any is larger or the batch fails, nothing is appended.  On
 * success *first (may be NULL) is the index of the first new entry and,
 * outside an explicit transaction, the batch is durable.
 */
int store_append(struct store_log *l, const void *const *entries,
		 const size_t *lens, size_t n, uint64_t *first, struct perr *e);

/* Reads entry idx into a malloc'd buffer. */
int store_entry(struct store_log *l, uint64_t idx, uint8_t **data,
		size_t *len, struct perr *e);

/* Calls fn for each entry in [lo, hi) in order; stops early if fn returns
 * non-zero (that value is returned). */
int store_entries(struct store_log *l, uint64_t lo, uint64_t hi,
		  int (*fn)(void *ctx, uint64_t idx, const uint8_t *data,
			    size_t len),
		  void *ctx, struct perr *e);

/* The stored hashes: a merkle_reader over this log (ctx is the log). */
int store_read_nodes(void *log, const struct merkle_node *nodes, size_t n,
		     merkle_hash *out, struct perr *e);

int store_root(struct store_log *l, uint64_t size, merkle_hash root,
	       struct perr *e);
int store_prove_inclusion(struct store_log *l, uint64_t idx, uint64_t size,
			  merkle_hash *proof, size_t *len, struct perr *e);
int store_prove_consistency(struct store_log *l, uint64_t size1,
			    uint64_t size2, merkle_hash *proof, size_t *len,
			    struct perr *e);

/* The level-0 hashes of hash tile (level, n) as of the current size, i.e.
 * the C2SP tile content: *width hashes of Merkle level 8*level. */
int store_tile(struct store_log *l, unsigned level, uint64_t n,
	       merkle_hash out[256], unsigned *width, struct perr *e);

#endif
