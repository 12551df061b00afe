/*
 * vfsshim.h — an SQLite VFS for tests that watches what reaches the disk.
 *
 * The shim, registered as SVFS_NAME, forwards everything to the default
 * "unix" VFS.  For the main database file and its WAL it also keeps:
 *
 *   - counters of reads, writes, syncs and truncations, and a "dirty" flag
 *     set by a write or truncation and cleared by xSync, so a test can ask
 *     "was every byte written before this call returned also synced?";
 *   - a model of a power cut: the file's content as of its last xSync plus
 *     the list of writes and truncations since then.  svfs_write_image
 *     writes what a power cut at this instant could leave on the disk:
 *     the synced content, plus none, some or all of the unsynced
 *     operations (a disk may have written any of its cached writes).
 *
 * A hook, called before each write, truncation or sync of a watched file,
 * lets a test cut the power in the middle of an SQLite transaction.
 *
 * The shim watches one database at a time (the last main file opened
 * through it).  Single-threaded, like the store.  Prefix: svfs_.
 */
#ifndef PARLEY_VFSSHIM_H
#define PARLEY_VFSSHIM_H

#include <stdint.h>

#define SVFS_NAME "parley-test-shim"

enum svfs_kind { SVFS_DB = 0, SVFS_WAL = 1, SVFS_NKINDS = 2 };
enum svfs_op { SVFS_OP_WRITE, SVFS_OP_TRUNCATE, SVFS_OP_SYNC };

struct svfs_stats {
	uint64_t reads, writes, truncates, syncs;
	uint64_t bytes_written;
	int dirty;          /* written or truncated since the last xSync */
};

/* Registers the shim (idempotent).  Returns 0 or an SQLite error code. */
int svfs_register(void);

/* Forgets every watched file and zeroes the counters.  Call when no file
 * is open through the shim (between tests). */
void svfs_reset(void);

/* Current counters of the database file or of its WAL. */
struct svfs_stats svfs_stats(enum svfs_kind kind);

/* Total writes, truncations and syncs of watched files so far. */
uint64_t svfs_ops(void);

/* Called before each write, truncation or sync of a watched file; NULL
 * removes the hook. */
void svfs_set_hook(void (*fn)(void *ctx, enum svfs_kind kind,
			      enum svfs_op op, uint64_t opno),
		   void *ctx);

/* What a power cut keeps of the writes issued since a file's last sync:
 * none, each one with probability 1/2 (in order, as a disk that reorders
 * and drops cached writes), or all of them. */
enum svfs_keep { SVFS_KEEP_SYNCED, SVFS_KEEP_SOME, SVFS_KEEP_ALL };

/* Writes the files a power cut now could leave into dir, under their
 * original base names: each watched file's synced content plus the
 * unsynced operations that keep selects (rng drives SVFS_KEEP_SOME).
 * Files that do not exist are not written.  Returns 0, or -1 on an I/O
 * error. */
int svfs_write_image(const char *dir, enum svfs_keep keep, uint64_t *rng);

#endif
