/*
 * tile.c — tlog-tiles arithmetic and paths (see tile.h).
 */
#include "tile.h"

#include <stdio.h>
#include <string.h>

/* size >> (8 * level) without undefined shifts past 63 bits. */
static uint64_t tile_base(uint64_t size, unsigned level)
{
	/* 8 levels of 8 bits cover every 64-bit size */
	return level >= 8 ? 0 : size >> (TILE_HEIGHT * level);
}

uint64_t tile_count(uint64_t size, unsigned level)
{
	uint64_t b = tile_base(size, level);

	/* tlog-tiles: full tiles floor(b / 256), plus a partial one if b mod 256 */
	return b / TILE_WIDTH + (b % TILE_WIDTH != 0);
}

unsigned tile_width(uint64_t size, unsigned level, uint64_t n)
{
	uint64_t b = tile_base(size, level);

	if (n < b / TILE_WIDTH)
		return TILE_WIDTH;
	if (n == b / TILE_WIDTH)
		return (unsigned)(b % TILE_WIDTH);
	return 0;
}

unsigned tile_levels(uint64_t size)
{
	unsigned l = 0;

	while (tile_base(size, l) > 0)
		l++;
	return l;
}

/* Appends N as 3-digit groups. */
static int tile_put_index(char *buf, size_t cap, size_t *off, uint64_t n)
{
	unsigned groups[8];
	int k = 0, w;

	do {
		groups[k++] = (unsigned)(n % 1000);
		n /= 1000;
	} while (n > 0);
	while (k-- > 0) {
		w = snprintf(buf + *off, cap - *off, k > 0 ? "x%03u/" : "%03u",
			     groups[k]);
		if (w < 0 || (size_t)w >= cap - *off)
			return -1;
		*off += (size_t)w;
	}
	return 0;
}

static int tile_format(char *buf, size_t cap, const char *prefix, uint64_t n,
		       unsigned width, struct perr *e)
{
	size_t off;
	int w;

	if (width < 1 || width > TILE_WIDTH)
		return perr_set(e, "tile width %u is not in 1..256", width);
	w = snprintf(buf, cap, "%s", prefix);
	if (w < 0 || (size_t)w >= cap)
		return perr_set(e, "tile path too long");
	off = (size_t)w;
	if (tile_put_index(buf, cap, &off, n) != 0)
		return perr_set(e, "tile path too long");
	if (width < TILE_WIDTH) {
		w = snprintf(buf + off, cap - off, ".p/%u", width);
		if (w < 0 || (size_t)w >= cap - off)
			return perr_set(e, "tile path too long");
	}
	return 0;
}

int tile_path(char *buf, size_t cap, unsigned level, uint64_t n,
	      unsigned width, struct perr *e)
{
	char prefix[32];

	if (level > 63)
		return perr_set(e, "tile level %u is out of range", level);
	snprintf(prefix, sizeof prefix, "tile/%u/", level);
	return tile_format(buf, cap, prefix, n, width, e);
}

int tile_entries_path(char *buf, size_t cap, uint64_t n, unsigned width,
		      struct perr *e)
{
	return tile_format(buf, cap, "tile/entries/", n, width, e);
}

/* Reads exactly `digits` decimal digits. */
static int tile_digits(const char **p, unsigned digits, unsigned *v)
{
	unsigned i;

	*v = 0;
	for (i = 0; i < digits; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		*v = *v * 10 + (unsigned)((*p)[i] - '0');
	}
	*p += digits;
	return 0;
}

int tile_parse_path(const char *path, int *level, uint64_t *n,
		    unsigned *width, struct perr *e)
{
	const char *p = path;
	unsigned v;
	uint64_t idx = 0;
	int groups = 0;

	if (strncmp(p, "tile/", 5) != 0)
		return perr_set(e, "not a tile path");
	p += 5;
	if (strncmp(p, "entries/", 8) == 0) {
		*level = -1;
		p += 8;
	} else {
		unsigned l = 0;
		int nd = 0;
		while (*p >= '0' && *p <= '9' && nd < 2) {
			l = l * 10 + (unsigned)(*p++ - '0');
			nd++;
		}
		if (nd == 0 || *p != '/' || (nd == 2 && l < 10) || l > 63)
			return perr_set(e, "bad tile level in path");
		*level = (int)l;
		p++;
	}
	while (*p == 'x') {
		p++;
		if (tile_digits(&p, 3, &v) != 0 || *p != '/')
			return perr_set(e, "bad tile index in path");
		p++;
		if (idx > (UINT64_MAX - v) / 1000 || (groups == 0 && v == 0))
			return perr_set(e, "bad tile index in path");
		idx = idx * 1000 + v;
		groups++;
	}
	if (tile_digits(&p, 3, &v) != 0)
		return perr_set(e, "bad tile index in path");
	if (idx > (UINT64_MAX - v) / 1000)
		return perr_set(e, "tile index too large");
	idx = idx * 1000 + v;
	*n = idx;
	*width = TILE_WIDTH;
	if (*p == '\0')
		return 0;
	if (strncmp(p, ".p/", 3) != 0)
		return perr_set(e, "bad tile path suffix");
	p += 3;
	v = 0;
	if (*p < '1' || *p > '9')
		return perr_set(e, "bad partial tile width");
	while (*p >= '0' && *p <= '9' && v < 1000)
		v = v * 10 + (unsigned)(*p++ - '0');
	if (*p != '\0' || v < 1 || v > 255)
		return perr_set(e, "bad partial tile width");
	*width = v;
	return 0;
}
