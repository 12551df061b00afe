/*
 * ckpt.h — WAL checkpoints off the writer's thread.
 *
 * In WAL mode SQLite copies the log back into the database (a checkpoint)
 * by default inside the commit that crosses 1,000 pages, so that commit,
 * and everything waiting behind it on the node's one event loop, takes
 * tens of milliseconds longer: a FLASH would wait.  The node turns that
 * off on its connection and runs this checkpointer: one thread with its
 * own connection to the same file, which every interval runs a PASSIVE
 * checkpoint (it never blocks the writer; the writer never waits for it).
 * Durability is unchanged: SQLite syncs the WAL before it copies it and
 * the database file within each checkpoint.
 *
 * With the WAL sync (wsync.h), one of the node's two helper threads; both
 * serve durable writes (DESIGN, "The pieces") and neither touches the
 * node's state.
 */
#ifndef PARLEY_CKPT_H
#define PARLEY_CKPT_H

#include "err.h"

struct ckpt;

/* Starts checkpointing the WAL database at path every interval_ms. */
int ckpt_start(struct ckpt **c, const char *path, int interval_ms,
	       struct perr *e);
/* Stops the thread (after its current checkpoint) and frees c. */
void ckpt_stop(struct ckpt *c);

#endif
