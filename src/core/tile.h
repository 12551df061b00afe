/*
 * tile.h — C2SP tlog-tiles arithmetic and paths.
 *
 * Tiles have height 8: a tile at level L holds up to 256 consecutive Merkle
 * hashes of level 8L.  For a tree of size s, level L has
 * floor(s / 256^(L+1)) full tiles and, when floor(s / 256^L) mod 256 is not
 * zero, one partial tile of that width.  Entry bundles follow the level-0
 * tiles.  Tile indices are written in 3-digit path elements, all but the
 * last prefixed with "x": 1234067 -> x001/x234/067.
 */
#ifndef PARLEY_TILE_H
#define PARLEY_TILE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define TILE_HEIGHT 8
#define TILE_WIDTH 256
/* Longest tile path: "tile/entries/" + 7 groups of "x000/" + ".p/255". */
#define TILE_PATH_MAX 64

/* Number of tiles (full and partial) at level for a tree of size. */
uint64_t tile_count(uint64_t size, unsigned level);

/* Width (1..256) of tile n at level for a tree of size; 0 if it does not
 * exist. */
unsigned tile_width(uint64_t size, unsigned level, uint64_t n);

/* Number of levels that hold at least one tile (0 for an empty tree). */
unsigned tile_levels(uint64_t size);

/* Writes "tile/<level>/<N>[.p/<W>]" (width 256 means a full tile) into buf.
 * Returns 0, or -1 if width is out of range or buf too small. */
int tile_path(char *buf, size_t cap, unsigned level, uint64_t n,
	      unsigned width, struct perr *e);

/* Writes "tile/entries/<N>[.p/<W>]". */
int tile_entries_path(char *buf, size_t cap, uint64_t n, unsigned width,
		      struct perr *e);

/* Parses a tile path as above.  *level is -1 for an entry bundle.  Strict:
 * exactly the form tile_path writes, nothing else. */
int tile_parse_path(const char *path, int *level, uint64_t *n,
		    unsigned *width, struct perr *e);

#endif
