/*
 * pace.h — an SQLite VFS that sends a database file's writes to the disk
 * a bounded amount at a time.
 *
 * Why.  A checkpoint (ckpt.h) copies the WAL back into the database file
 * through the page cache and ends with one fdatasync of that file, which
 * hands the disk everything copied at once: megabytes when the node is
 * busy.  The disk works through its queue in order, so an urgent commit's
 * small WAL sync issued meanwhile — a FLASH's — waits behind all of it:
 * in bench/node, a node's FLASH syncs of 4-6 ms (0.4 ms at the median) each
 * fell during a checkpoint sync of 7-11 MB.  Through this VFS, once a file
 * has 256 KiB of writes not yet sent, they are sent and waited for
 * (sync_file_range), so that no more than that stands in the queue ahead
 * of anyone else's sync.  Only the checkpointer's connection uses it: it is
 * a thread of its own, and waiting costs the event loop nothing.
 *
 * What it does not change: durability.  Sending pages early is not syncing
 * them; SQLite's xSync (fdatasync, and the disk's cache flush) still comes
 * where it always did, and a checkpoint counts only once that returns.
 * If sync_file_range fails, the pages simply wait for the xSync, as before.
 *
 * Registered as PACE_VFS over the default VFS; everything else is
 * forwarded.  Prefix: pace_.
 */
#ifndef PARLEY_PACE_H
#define PARLEY_PACE_H

#include <stdint.h>

#include "err.h"

#define PACE_VFS "parley-paced"
/* Bytes written to a file before they are sent to the disk. */
#define PACE_BYTES (256 * 1024)

/* Registers the VFS (idempotent, thread-safe).  0, or -1 (e says why). */
int pace_register(struct perr *e);

/* Process-wide counters, for tests and the node's log at its stop. */
struct pace_stats {
	uint64_t bytes;        /* written through paced files */
	uint64_t pushes;       /* times written pages were sent and waited for */
	uint64_t push_errors;  /* sync_file_range failures (the xSync still syncs) */
	uint64_t max_unsent;   /* most bytes written and not yet sent, seen at a push */
	uint64_t unpaced;      /* database files opened without a descriptor to pace with */
};
void pace_stats(struct pace_stats *out);

#endif
