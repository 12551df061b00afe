/*
 * file.h — whole-file reads and synced writes, bounded.
 *
 * Files cross a trust boundary (an operator's entry, a peer's card, a key
 * file), so reads have a hard size limit named in the error; writes are
 * synced before they return, created with the given mode, and never follow
 * a symbolic link.
 */
#ifndef PARLEY_FILE_H
#define PARLEY_FILE_H

#include <stddef.h>

#include "err.h"

/* Reads a whole file (or standard input for "-") of at most max bytes into
 * a malloc'd NUL-terminated buffer.  With nofollow, a symbolic link is
 * refused.  A larger file is an error naming the limit. */
int file_read(const char *path, size_t max, int nofollow, char **buf,
	      size_t *len, struct perr *e);

/* Writes a file with the given mode and syncs it; exclusive refuses an
 * existing file ("already exists; refusing to overwrite"). */
int file_write(const char *path, const void *buf, size_t len, int mode,
	       int exclusive, struct perr *e);

/* Creates every directory leading to path (mkdir -p of its dirname),
 * mode 0755. */
int file_mkdirs_for(const char *path, struct perr *e);

#endif
