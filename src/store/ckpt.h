/*
 * ckpt.h — WAL checkpoints off the writer's thread, and a WAL that restarts.
 *
 * In WAL mode SQLite copies the log back into the database (a checkpoint)
 * by default inside the commit that crosses 1,000 pages, so that commit,
 * and everything waiting behind it on the node's one event loop, takes
 * tens of milliseconds longer: a FLASH would wait.  The node turns that
 * off on its connection and runs this checkpointer: one thread with its
 * own connection to the same file, which runs PASSIVE checkpoints (they
 * never block the writer; the writer never waits for one).  Durability is
 * unchanged: SQLite syncs the WAL before it copies it and the database
 * file within each checkpoint.
 *
 * Rounds.  Every interval_ms, once the WAL holds min_frames frames, one
 * PASSIVE checkpoint copies what was committed since the last round: small
 * copies, often, not one large one that the WAL's own syncs would queue
 * behind at the disk.  A WAL shorter than min_frames is left alone, so that
 * an idle node's next commit does not restart the WAL each time (a restart
 * syncs the WAL's new header on the writer's thread).
 *
 * The WAL's length.  SQLite starts writing the WAL from its beginning again
 * (a restart) only when a write transaction begins with every frame already
 * copied back.  Under steady load a PASSIVE checkpoint never catches up with
 * a writer that commits while it copies, so the WAL only grew (bench/node:
 * 174 MB), and every commit appended to the file: each fdatasync then also
 * committed the file system's journal for the new file size, about twice
 * the time of a sync that overwrites blocks in place (BENCHMARKS.md).  So,
 * once the WAL holds restart_frames frames, the checkpointer catches up
 * and asks the writer to hold its bulk writes (ckpt_hold) for the one short
 * checkpoint that copies the last hold_lag frames or fewer; the writer's
 * next transaction then restarts the WAL, whose frames from then on
 * overwrite the file.  Urgent writes do not wait for a hold: one that
 * commits meanwhile just defers the restart to a later round.
 *
 * Pacing.  The checkpointer's connection writes the database file through
 * the paced VFS (pace.h): its copy reaches the disk 256 KiB at a time as
 * it is made, rather than all at once at the checkpoint's sync, where an
 * urgent commit's WAL sync issued meanwhile queued behind megabytes.
 *
 * With the WAL sync (wsync.h), one of the node's two helper threads; both
 * serve durable writes (DESIGN, "The pieces") and neither touches the
 * node's state.
 */
#ifndef PARLEY_CKPT_H
#define PARLEY_CKPT_H

#include <stdint.h>

#include <sqlite3.h>

#include "err.h"

struct ckpt;

struct ckpt_conf {
	int interval_ms;     /* between checkpoint rounds */
	int min_frames;      /* a WAL shorter than this is left alone */
	int restart_frames;  /* a WAL this long is restarted */
	int hold_lag;        /* frames a held checkpoint may have left to copy */
};

/* The node's settings (4 KiB pages): a round every 20 ms once the WAL
 * holds 1 MiB; a WAL of 16 MiB is restarted; a hold covers at most 2 MiB
 * of copying.  Each round's copy ends in a sync of the database file, which
 * the WAL syncs of urgent commits queue behind at the disk: with rounds of
 * about a megabyte, FLASH p99 under load in quick bench runs was 11-33 ms,
 * median 17, against 17-32, median 25, with rounds every 100 ms from 4 MiB
 * (BENCHMARKS.md, the seventh session). */
#define CKPT_CONF_DEFAULT { 20, 256, 4096, 512 }

struct ckpt_stats {
	uint64_t rounds;      /* checkpoint rounds that found work */
	uint64_t holds;       /* times the writer was asked to hold */
	uint64_t hold_us;     /* time held, in all */
	uint64_t max_hold_us;
	uint64_t restarts;    /* WAL restarts the writer's commits showed */
	uint64_t commits;     /* the writer's commits */
	uint64_t written;     /* frames (pages) the writer's commits wrote */
	int frames;           /* frames in the WAL after the writer's last commit */
};

/* Starts checkpointing the WAL database at path, which the connection wdb
 * (the one writer) writes: its WAL hook is taken to learn the WAL's length.
 * After a hold ends, a byte is written to notify_fd (non-blocking; the
 * reader drains it), so that the writer resumes what it held. */
int ckpt_start(struct ckpt **c, const char *path, sqlite3 *wdb,
	       const struct ckpt_conf *conf, int notify_fd, struct perr *e);
/* Called by the writer before a write that can wait, outside any
 * transaction: 1 if it must not begin one now, and the checkpointer then
 * knows that it holds (see above).  The writer resumes once
 * ckpt_holding is 0, when notify_fd has said so. */
int ckpt_hold(struct ckpt *c);
int ckpt_holding(struct ckpt *c);
void ckpt_stats(struct ckpt *c, struct ckpt_stats *out);
/* Stops the thread (after its current checkpoint), releases wdb's WAL hook
 * and frees c. */
void ckpt_stop(struct ckpt *c);

#endif
