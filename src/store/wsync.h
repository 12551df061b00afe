/*
 * wsync.h — the WAL synced off the writer's thread (pipelined group commit).
 *
 * With synchronous=FULL every COMMIT waits for fdatasync of the WAL, and the
 * node's one event loop waits with it: under load a third of its time.  The
 * node instead commits with synchronous=NORMAL (SQLite writes the WAL and
 * does not sync it) and hands each commit's number to this thread, which
 * syncs the WAL file and reports how far it got.  An fdatasync covers every
 * commit whose write finished before it began, so one sync serves all the
 * commits made while the previous one ran.  The node holds back everything
 * a commit would let it say (a reply, an ACK, a signed checkpoint, a
 * receipt sent) until this thread reports that commit synced: nothing is
 * acknowledged before it is durable, as with FULL, while the loop goes on
 * with the next batch.
 *
 * Consistency is SQLite's: a crash leaves the WAL's longest valid prefix of
 * commits, and whatever was not yet reported synced was never acknowledged.
 * Checkpoints (ckpt.h) sync the WAL themselves before copying it.
 */
#ifndef PARLEY_WSYNC_H
#define PARLEY_WSYNC_H

#include <stdint.h>

#include "err.h"

struct wsync;

/* Starts syncing the WAL of the database at dbpath ("<dbpath>-wal", which
 * must exist: the database is open in WAL mode).  After each sync a byte is
 * written to notify_fd (non-blocking; the reader drains it).  Syncs the WAL
 * and its directory once before returning, so that everything already in the
 * WAL (commits of a process that was killed) is durable. */
int wsync_start(struct wsync **w, const char *dbpath, int notify_fd,
		struct perr *e);
/* Asks for every commit up to number gen to be synced. */
void wsync_request(struct wsync *w, uint64_t gen);
/* Syncs the WAL now, on the calling thread, and counts every commit up to
 * gen (each written before this call) synced.  For an urgent commit: it
 * then waits neither for the sync the thread may have under way, begun
 * before it was written, nor for the two wakeups of a handover to the
 * thread and back, each of which can wait for a CPU on a busy machine.
 * Uses a descriptor of its own.  -1 (e says why) if the sync failed; the
 * failure then stands for wsync_done as one of the thread's would. */
int wsync_now(struct wsync *w, uint64_t gen, struct perr *e);
/* The largest commit number known synced, in *done.  -1 (e says why) once
 * a sync has failed: what it should have covered may be lost, nothing after
 * it may be acknowledged, and the node must stop. */
int wsync_done(struct wsync *w, uint64_t *done, struct perr *e);
/* Syncs what was requested, stops the thread and frees w. */
void wsync_stop(struct wsync *w);

#endif
