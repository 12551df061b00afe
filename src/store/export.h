/*
 * export.h — a stored log written out in C2SP tlog-tiles form.
 *
 * store_export_tiles writes, under dir, every hash tile
 * (tile/<L>/<N>[.p/<W>]) and entry bundle (tile/entries/<N>[.p/<W>]) of the
 * log as of size (any size up to the current one: the widths are those of
 * that size), creating directories as needed; each file is synced.  The
 * caller writes the checkpoint last, so that a reader that sees it finds
 * every tile it needs.
 *
 * export_file writes dir/rel (mode 0644, synced), creating directories.
 */
#ifndef PARLEY_EXPORT_H
#define PARLEY_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "store.h"

int store_export_tiles(struct store_log *l, uint64_t size, const char *dir,
		       struct perr *e);
int export_file(const char *dir, const char *rel, const void *buf,
		size_t len, struct perr *e);

#endif
