/*
 * export.c — see export.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "file.h"
#include "tile.h"

int export_file(const char *dir, const char *rel, const void *buf, size_t len,
		struct perr *e)
{
	char path[4200];

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, rel) >= sizeof path)
		return perr_set(e, "%s: path too long", dir);
	if (file_mkdirs_for(path, e) != 0)
		return -1;
	return file_write(path, buf, len, 0644, 0, e);
}

/* One entry bundle: u16be length || entry, for each entry (tlog-tiles). */
struct export_bundle {
	uint8_t *buf;
	size_t len;
};

static int export_bundle_add(void *ctx, uint64_t idx, const uint8_t *d, size_t len)
{
	struct export_bundle *b = ctx;

	(void)idx;
	b->buf[b->len++] = (uint8_t)(len >> 8);
	b->buf[b->len++] = (uint8_t)len;
	memcpy(b->buf + b->len, d, len);
	b->len += len;
	return 0;
}

int store_export_tiles(struct store_log *l, uint64_t size, const char *dir,
		       struct perr *e)
{
	unsigned L, levels = tile_levels(size);
	merkle_hash hs[TILE_WIDTH];
	struct export_bundle b = { malloc((size_t)TILE_WIDTH * (2 + STORE_ENTRY_MAX)), 0 };
	int rc = 0;

	if (b.buf == NULL)
		return perr_set(e, "out of memory");
	if (size > store_log_size(l))
		rc = perr_set(e, "%s: cannot export size %llu of a log of %llu",
			      store_log_origin(l), (unsigned long long)size,
			      (unsigned long long)store_log_size(l));
	for (L = 0; rc == 0 && L < levels; L++) {
		uint64_t n, cnt = tile_count(size, L);
		for (n = 0; rc == 0 && n < cnt; n++) {
			char rel[TILE_PATH_MAX];
			/* tlog-tiles: the width at this size; the stored tile
			 * may be wider (the log has grown), its prefix is the
			 * same hashes. */
			unsigned w = tile_width(size, L, n), have;
			rc = store_tile(l, L, n, hs, &have, e);
			if (rc == 0 && have < w)
				rc = perr_set(e, "tile %u/%llu: only %u hashes stored", L,
					      (unsigned long long)n, have);
			if (rc == 0)
				rc = tile_path(rel, sizeof rel, L, n, w, e);
			if (rc == 0)
				rc = export_file(dir, rel, hs, (size_t)w * MERKLE_HASH, e);
			if (rc == 0 && L == 0) {
				b.len = 0;
				rc = store_entries(l, n * TILE_WIDTH, n * TILE_WIDTH + w,
						   export_bundle_add, &b, e);
				if (rc == 0)
					rc = tile_entries_path(rel, sizeof rel, n, w, e);
				if (rc == 0)
					rc = export_file(dir, rel, b.buf, b.len, e);
			}
		}
	}
	free(b.buf);
	return rc;
}
