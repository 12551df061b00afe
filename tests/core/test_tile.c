/*
 * test_tile.c — C2SP tlog-tiles arithmetic and paths (src/core/tile.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "tile.h"

struct tile_case {
	uint64_t size;
	unsigned level;
	uint64_t count;      /* tiles at level */
	unsigned last_width; /* width of the last one (0 if none) */
};

static void test_tile_counts_and_widths_at_edge_sizes(void **state)
{
	/* tlog-tiles: level L has floor(s / 256^(L+1)) full tiles and a partial
	 * one of width floor(s / 256^L) mod 256 when that is not zero. */
	static const struct tile_case cases[] = {
		{ 0, 0, 0, 0 },
		{ 1, 0, 1, 1 },
		{ 1, 1, 0, 0 },
		{ 255, 0, 1, 255 },
		{ 255, 1, 0, 0 },
		{ 256, 0, 1, 256 },
		{ 256, 1, 1, 1 },
		{ 256, 2, 0, 0 },
		{ 257, 0, 2, 1 },
		{ 257, 1, 1, 1 },
		{ 511, 0, 2, 255 },
		{ 512, 1, 1, 2 },
		{ 65535, 0, 256, 255 },
		{ 65535, 1, 1, 255 },
		{ 65535, 2, 0, 0 },
		{ 65536, 0, 256, 256 },
		{ 65536, 1, 1, 256 },
		{ 65536, 2, 1, 1 },
		{ 65537, 0, 257, 1 },
		{ 65537, 1, 1, 256 },
		{ 65537, 2, 1, 1 },
		{ 1ULL << 40, 0, 1ULL << 32, 256 },
		{ 1ULL << 40, 4, 1, 256 },
		{ 1ULL << 40, 5, 1, 1 },
		{ 1ULL << 40, 6, 0, 0 },
		{ (1ULL << 40) + 1, 0, (1ULL << 32) + 1, 1 },
		{ UINT64_MAX, 0, 1ULL << 56, 255 },
		{ UINT64_MAX, 6, 1ULL << 8, 255 },
		{ UINT64_MAX, 7, 1, 255 },
		{ UINT64_MAX, 8, 0, 0 },
		{ UINT64_MAX, 63, 0, 0 },
		{ UINT64_MAX, 1000, 0, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct tile_case *c = &cases[i];
		uint64_t count = tile_count(c->size, c->level);
		if (count != c->count)
			fail_msg("tile_count(%llu, %u) = %llu, want %llu",
				 (unsigned long long)c->size, c->level,
				 (unsigned long long)count, (unsigned long long)c->count);
		if (c->count > 0) {
			assert_int_equal(tile_width(c->size, c->level, c->count - 1),
					 c->last_width);
			/* all earlier tiles are full */
			assert_int_equal(tile_width(c->size, c->level, 0),
					 c->count == 1 ? c->last_width : TILE_WIDTH);
		}
		/* no tile past the last */
		assert_int_equal(tile_width(c->size, c->level, c->count), 0);
		assert_int_equal(tile_width(c->size, c->level, UINT64_MAX), 0);
	}
}

/* No level at or above tile_levels holds a tile, however large the level
 * number (8 * level must not wrap around to a low level). */
static void test_levels_above_the_tree_hold_no_tiles(void **state)
{
	static const unsigned levels[] = {
		8, 9, 63, 64, 65, 1000, 1u << 29, (1u << 29) + 1, 1u << 30, 1u << 31,
		UINT32_MAX,
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof levels / sizeof levels[0]; i++) {
		if (tile_count(UINT64_MAX, levels[i]) != 0)
			fail_msg("tile_count(2^64-1, %u) = %llu, want 0", levels[i],
				 (unsigned long long)tile_count(UINT64_MAX, levels[i]));
		if (tile_width(UINT64_MAX, levels[i], 0) != 0)
			fail_msg("tile_width(2^64-1, %u, 0) = %u, want 0", levels[i],
				 tile_width(UINT64_MAX, levels[i], 0));
	}
}

static void test_tile_levels_counts_levels_holding_a_tile(void **state)
{
	(void)state;
	assert_int_equal(tile_levels(0), 0);
	assert_int_equal(tile_levels(1), 1);
	assert_int_equal(tile_levels(255), 1);
	assert_int_equal(tile_levels(256), 2);
	assert_int_equal(tile_levels(257), 2);
	assert_int_equal(tile_levels(65535), 2);
	assert_int_equal(tile_levels(65536), 3);
	assert_int_equal(tile_levels(65537), 3);
	assert_int_equal(tile_levels(1ULL << 40), 6);
	assert_int_equal(tile_levels((1ULL << 40) - 1), 5);
	assert_int_equal(tile_levels(1ULL << 56), 8);
	assert_int_equal(tile_levels(UINT64_MAX), 8);
}

/* For any size, the widths at each level add up to the number of level-8L
 * hashes, and a level holds a tile exactly when it is below tile_levels. */
static void test_tile_widths_cover_every_hash_of_a_level(void **state)
{
	uint64_t seed = 1, i;

	(void)state;
	for (i = 0; i < 3000; i++) {
		uint64_t size = i < 1000 ? i * 67 : tu_rand64(&seed) >> (i % 64);
		unsigned level, levels = tile_levels(size);
		for (level = 0; level < 10; level++) {
			uint64_t hashes = level * 8 >= 64 ? 0 : size >> (8 * level);
			uint64_t count = tile_count(size, level), sum;
			assert_true(count == hashes / 256 + (hashes % 256 != 0));
			assert_true((count > 0) == (level < levels));
			if (count == 0)
				continue;
			/* full tiles then one last tile */
			sum = (count - 1) * TILE_WIDTH + tile_width(size, level, count - 1);
			assert_true(sum == hashes);
			assert_true(tile_width(size, level, count - 1) >= 1);
			if (count >= 2)
				assert_int_equal(tile_width(size, level, count - 2), TILE_WIDTH);
		}
	}
}

static void expect_path(int rc, const char *got, const char *want)
{
	assert_int_equal(rc, 0);
	assert_string_equal(got, want);
}

static void test_tile_paths_use_three_digit_groups_and_partial_suffix(void **state)
{
	char buf[TILE_PATH_MAX];
	struct perr e;

	(void)state;
	expect_path(tile_path(buf, sizeof buf, 0, 1234067, 256, &e), buf,
		    "tile/0/x001/x234/067");
	expect_path(tile_path(buf, sizeof buf, 0, 5, 3, &e), buf, "tile/0/005.p/3");
	expect_path(tile_path(buf, sizeof buf, 0, 0, 256, &e), buf, "tile/0/000");
	expect_path(tile_path(buf, sizeof buf, 1, 999, 255, &e), buf, "tile/1/999.p/255");
	expect_path(tile_path(buf, sizeof buf, 2, 1000, 1, &e), buf, "tile/2/x001/000.p/1");
	expect_path(tile_path(buf, sizeof buf, 3, 1000000, 256, &e), buf,
		    "tile/3/x001/x000/000");
	expect_path(tile_path(buf, sizeof buf, 12, 7, 256, &e), buf, "tile/12/007");
	expect_path(tile_path(buf, sizeof buf, 0, UINT64_MAX, 256, &e), buf,
		    "tile/0/x018/x446/x744/x073/x709/x551/615");
	expect_path(tile_entries_path(buf, sizeof buf, 1234067, 256, &e), buf,
		    "tile/entries/x001/x234/067");
	expect_path(tile_entries_path(buf, sizeof buf, 5, 3, &e), buf,
		    "tile/entries/005.p/3");
	expect_path(tile_entries_path(buf, sizeof buf, 0, 1, &e), buf,
		    "tile/entries/000.p/1");
	/* the longest path fits in TILE_PATH_MAX */
	expect_path(tile_entries_path(buf, sizeof buf, UINT64_MAX, 255, &e), buf,
		    "tile/entries/x018/x446/x744/x073/x709/x551/615.p/255");
	assert_true(strlen(buf) < TILE_PATH_MAX);
}

static void test_tile_path_rejects_width_out_of_range_and_small_buffers(void **state)
{
	char buf[TILE_PATH_MAX];
	struct perr e;

	(void)state;
	e.msg[0] = '\0';
	assert_true(tile_path(buf, sizeof buf, 0, 5, 0, &e) < 0);
	assert_true(e.msg[0] != '\0');
	assert_true(tile_path(buf, sizeof buf, 0, 5, 257, &e) < 0);
	assert_true(tile_path(buf, sizeof buf, 0, 5, UINT32_MAX, &e) < 0);
	assert_true(tile_entries_path(buf, sizeof buf, 5, 0, &e) < 0);
	assert_true(tile_entries_path(buf, sizeof buf, 5, 257, &e) < 0);
	/* "tile/0/005.p/3" is 14 bytes: it needs 15 with the NUL */
	assert_true(tile_path(buf, 14, 0, 5, 3, &e) < 0);
	assert_int_equal(tile_path(buf, 15, 0, 5, 3, &e), 0);
	assert_string_equal(buf, "tile/0/005.p/3");
	assert_true(tile_path(buf, 8, 0, 1234067, 256, &e) < 0);
	assert_true(tile_entries_path(buf, 20, 1234067, 256, &e) < 0);
	assert_true(tile_path(buf, 0, 0, 1, 256, NULL) < 0);
}

static void expect_parse(const char *path, int level, uint64_t n, unsigned width)
{
	int l = 99;
	uint64_t got_n = 99;
	unsigned w = 99;
	struct perr e;

	if (tile_parse_path(path, &l, &got_n, &w, &e) != 0)
		fail_msg("tile_parse_path(\"%s\") failed: %s", path, e.msg);
	assert_int_equal(l, level);
	assert_true(got_n == n);
	assert_int_equal(w, width);
}

static void test_tile_parse_path_reads_what_tile_path_writes(void **state)
{
	uint64_t seed = 2, i;

	(void)state;
	expect_parse("tile/0/x001/x234/067", 0, 1234067, 256);
	expect_parse("tile/0/005.p/3", 0, 5, 3);
	expect_parse("tile/0/000", 0, 0, 256);
	expect_parse("tile/63/000.p/255", 63, 0, 255);
	expect_parse("tile/10/x001/000", 10, 1000, 256);
	expect_parse("tile/entries/x001/x234/067", -1, 1234067, 256);
	expect_parse("tile/entries/000.p/1", -1, 0, 1);
	expect_parse("tile/0/x018/x446/x744/x073/x709/x551/615", 0, UINT64_MAX, 256);
	for (i = 0; i < 5000; i++) {
		char buf[TILE_PATH_MAX];
		unsigned level = (unsigned)tu_rand_below(&seed, 64);
		uint64_t n = tu_rand64(&seed) >> tu_rand_below(&seed, 64);
		unsigned width = 1 + (unsigned)tu_rand_below(&seed, 256);
		int entries = i % 5 == 0;
		struct perr e;
		if (entries)
			assert_int_equal(tile_entries_path(buf, sizeof buf, n, width, &e), 0);
		else
			assert_int_equal(tile_path(buf, sizeof buf, level, n, width, &e), 0);
		expect_parse(buf, entries ? -1 : (int)level, n, width);
	}
}

static void test_tile_parse_path_rejects_anything_tile_path_would_not_write(void **state)
{
	static const char *const bad[] = {
		"", "tile", "tile/", "tile/0", "tile/0/", "tiles/0/000", "/tile/0/000",
		"Tile/0/000", "tile//000", "tile/entries", "tile/entries/",
		/* level: leading zeros, signs, out of range, not digits */
		"tile/00/000", "tile/01/000", "tile/000/000", "tile/+1/000", "tile/-1/000",
		"tile/ 1/000", "tile/1a/000", "tile/64/000", "tile/100/000",
		"tile/99999999999/000", "tile/x/000",
		/* index: "x000" first group, missing digits, upper case, too large */
		"tile/0/x000/001", "tile/0/x000/x001/000", "tile/entries/x000/123",
		"tile/0/00", "tile/0/0", "tile/0/0000", "tile/0/x01/234", "tile/0/x1234/567",
		"tile/0/x001/23", "tile/0/x001", "tile/0/x001/", "tile/0/x001/x234",
		"tile/0/X001/234", "tile/0/x/001", "tile/0/xx001/234", "tile/0/-01",
		"tile/0/x018/x446/x744/x073/x709/x551/616",
		"tile/0/x999/x999/x999/x999/x999/x999/x999/999",
		/* width: 0, 256, leading zero, missing, too long, junk */
		"tile/0/005.p/0", "tile/0/005.p/256", "tile/0/005.p/05", "tile/0/005.p/",
		"tile/0/005.p/300", "tile/0/005.p/2555", "tile/0/005.p/1x",
		"tile/0/005.p/+3", "tile/0/005.p", "tile/0/005.q/3", "tile/0/005p/3",
		"tile/0/005.P/3", "tile/0/005.p/00003",
		/* trailing junk */
		"tile/0/005/", "tile/0/005x", "tile/0/005 ", "tile/0/005\n",
		"tile/0/005.p/3/", "tile/0/005.p/3 ", "tile/0/005.p/3.p/3",
		"tile/entries/005/", "tile/0/005.p/3\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int level;
		uint64_t n;
		unsigned width;
		struct perr e;
		e.msg[0] = '\0';
		if (tile_parse_path(bad[i], &level, &n, &width, &e) == 0)
			fail_msg("tile_parse_path accepted \"%s\" (level %d n %llu width %u)",
				 bad[i], level, (unsigned long long)n, width);
		assert_true(e.msg[0] != '\0');
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tile_counts_and_widths_at_edge_sizes),
		cmocka_unit_test(test_levels_above_the_tree_hold_no_tiles),
		cmocka_unit_test(test_tile_levels_counts_levels_holding_a_tile),
		cmocka_unit_test(test_tile_widths_cover_every_hash_of_a_level),
		cmocka_unit_test(test_tile_paths_use_three_digit_groups_and_partial_suffix),
		cmocka_unit_test(test_tile_path_rejects_width_out_of_range_and_small_buffers),
		cmocka_unit_test(test_tile_parse_path_reads_what_tile_path_writes),
		cmocka_unit_test(test_tile_parse_path_rejects_anything_tile_path_would_not_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
