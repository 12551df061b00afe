/*
 * storetest.c — helpers shared by the store tests (see storetest.h).
 */
#include "storetest.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

char *stt_tmpdir(void)
{
	char *d = strdup("/tmp/parley-store-test-XXXXXX");

	assert_non_null(d);
	if (mkdtemp(d) == NULL)
		fail_msg("mkdtemp failed");
	return d;
}

char *stt_join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + 1 + b + 1);

	assert_non_null(p);
	memcpy(p, dir, a);
	p[a] = '/';
	memcpy(p + a + 1, name, b + 1);
	return p;
}

/* The test directories are flat: files only. */
void stt_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char *p;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		p = stt_join(dir, de->d_name);
		unlink(p);
		free(p);
	}
	closedir(d);
	rmdir(dir);
}

uint64_t stt_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t stt_below(uint64_t *state, uint64_t n)
{
	uint64_t limit = UINT64_MAX - UINT64_MAX % n, r;

	do
		r = stt_rand(state);
	while (r >= limit);
	return r % n;
}

size_t stt_entry(uint64_t seed, uint64_t idx, uint8_t *buf)
{
	uint64_t st = seed * 0x2545f4914f6cdd1dULL ^ idx, r = stt_rand(&st);
	size_t len, i;
	int head;

	switch (r % 16) {
	case 0:
		return 0;
	case 1:
		len = 500 + (size_t)(r >> 8) % (STT_ENTRY_CAP - 500 + 1);
		break;
	default:
		len = 1 + (size_t)(r >> 8) % 200;
		break;
	}
	head = snprintf((char *)buf, STT_ENTRY_CAP, "%llx:%llu:",
			(unsigned long long)seed, (unsigned long long)idx);
	for (i = head > 0 ? (size_t)head : 0; i < len; i++) {
		if (i % 8 == 0 || i == (size_t)head)
			r = stt_rand(&st);
		buf[i] = (uint8_t)(r >> (8 * (i % 8)));
	}
	return len;
}

void stt_model_init(struct stt_model *m, uint64_t seed)
{
	memset(m, 0, sizeof *m);
	m->nseg = 1;
	m->seg_start[0] = 0;
	m->seg_seed[0] = seed;
}

void stt_model_free(struct stt_model *m)
{
	unsigned L;

	for (L = 0; L < STT_LEVELS; L++)
		free(m->lv[L]);
	memset(m, 0, sizeof *m);
}

void stt_model_reseed(struct stt_model *m, uint64_t seed)
{
	assert_true(m->nseg < 64);
	m->seg_start[m->nseg] = m->n;
	m->seg_seed[m->nseg] = seed;
	m->nseg++;
}

void stt_model_truncate(struct stt_model *m, uint64_t n)
{
	unsigned L;

	assert_true(n <= m->n);
	m->n = n;
	for (L = 0; L < STT_LEVELS; L++) {
		uint64_t c = 8 * L >= 64 ? 0 : n >> (8 * L);
		if (m->count[L] > c)
			m->count[L] = c;
	}
	while (m->nseg > 1 && m->seg_start[m->nseg - 1] > n)
		m->nseg--;
}

size_t stt_model_entry(const struct stt_model *m, uint64_t idx, uint8_t *buf)
{
	size_t k = m->nseg;

	while (k > 1 && m->seg_start[k - 1] > idx)
		k--;
	return stt_entry(m->seg_seed[k - 1], idx, buf);
}

static void stt_level_add(struct stt_model *m, unsigned L, const merkle_hash h)
{
	assert_true(L < STT_LEVELS);
	if (m->count[L] == m->cap[L]) {
		m->cap[L] = m->cap[L] ? 2 * m->cap[L] : 1024;
		m->lv[L] = realloc(m->lv[L], m->cap[L] * sizeof(merkle_hash));
		assert_non_null(m->lv[L]);
	}
	memcpy(m->lv[L][m->count[L]++], h, MERKLE_HASH);
	/* A complete group of 256 hashes of level 8L is one hash of level
	 * 8(L+1): the root of the perfect subtree over them. */
	if (m->count[L] % 256 == 0) {
		merkle_hash up;
		merkle_root_of(up, m->lv[L] + m->count[L] - 256, 256);
		stt_level_add(m, L + 1, up);
	}
}

void stt_model_push(struct stt_model *m)
{
	uint8_t buf[STT_ENTRY_CAP];
	merkle_hash h;
	size_t len = stt_model_entry(m, m->n, buf);

	merkle_leaf_hash(h, buf, len);
	stt_level_add(m, 0, h);
	m->n++;
}

void stt_model_root(const struct stt_model *m, uint64_t size, merkle_hash out)
{
	assert_true(size <= m->n);
	merkle_root_of(out, (const merkle_hash *)m->lv[0], size);
}

void stt_batch(const struct stt_model *m, uint64_t count, void ***entries,
	       size_t **lens)
{
	uint64_t i;

	*entries = calloc(count ? count : 1, sizeof **entries);
	*lens = calloc(count ? count : 1, sizeof **lens);
	assert_non_null(*entries);
	assert_non_null(*lens);
	for (i = 0; i < count; i++) {
		uint8_t buf[STT_ENTRY_CAP];
		size_t len = stt_model_entry(m, m->n + i, buf);
		(*entries)[i] = malloc(len ? len : 1);
		assert_non_null((*entries)[i]);
		memcpy((*entries)[i], buf, len);
		(*lens)[i] = len;
	}
}

void stt_batch_free(void **entries, size_t *lens, uint64_t count)
{
	uint64_t i;

	for (i = 0; i < count; i++)
		free(entries[i]);
	free(entries);
	free(lens);
}

void stt_append(struct store_log *l, struct stt_model *m, uint64_t count)
{
	void **ent;
	size_t *lens;
	uint64_t first = UINT64_MAX, i;
	struct perr e = { "" };
	int rc;

	assert_int_equal(store_log_size(l), m->n);
	stt_batch(m, count, &ent, &lens);
	rc = store_append(l, (const void *const *)ent, lens, (size_t)count, &first, &e);
	stt_batch_free(ent, lens, count);
	if (rc != 0)
		fail_msg("store_append of %llu entries at %llu failed: %s",
			 (unsigned long long)count, (unsigned long long)m->n, e.msg);
	assert_int_equal(first, m->n);
	for (i = 0; i < count; i++)
		stt_model_push(m);
	assert_int_equal(store_log_size(l), m->n);
}

struct stt_walk {
	const struct stt_model *m;
	uint64_t next;
};

static int stt_walk_entry(void *ctx, uint64_t idx, const uint8_t *data,
			  size_t len)
{
	struct stt_walk *w = ctx;
	uint8_t buf[STT_ENTRY_CAP];
	size_t want = stt_model_entry(w->m, idx, buf);

	if (idx != w->next)
		fail_msg("store_entries gave entry %llu, expected %llu",
			 (unsigned long long)idx, (unsigned long long)w->next);
	if (len != want || (len > 0 && memcmp(data, buf, len) != 0))
		fail_msg("entry %llu: store has %zu bytes, expected %zu (contents %s)",
			 (unsigned long long)idx, len, want,
			 len == want ? "differ" : "not compared");
	w->next++;
	return 0;
}

void stt_check_entries(struct store_log *l, const struct stt_model *m,
		       uint64_t lo, uint64_t hi, int one_by_one)
{
	struct stt_walk w = { m, lo };
	struct perr e = { "" };
	uint64_t i;

	if (store_entries(l, lo, hi, stt_walk_entry, &w, &e) != 0)
		fail_msg("store_entries(%llu, %llu): %s", (unsigned long long)lo,
			 (unsigned long long)hi, e.msg);
	assert_int_equal(w.next, hi);
	for (i = lo; one_by_one && i < hi; i++) {
		uint8_t buf[STT_ENTRY_CAP], *data = NULL;
		size_t want = stt_model_entry(m, i, buf), len = SIZE_MAX;
		if (store_entry(l, i, &data, &len, &e) != 0)
			fail_msg("store_entry(%llu): %s", (unsigned long long)i, e.msg);
		assert_int_equal(len, want);
		if (len > 0)
			assert_memory_equal(data, buf, len);
		free(data);
	}
}

void stt_check_root(struct store_log *l, const struct stt_model *m,
		    uint64_t size)
{
	merkle_hash want, got;
	struct perr e = { "" };

	stt_model_root(m, size, want);
	if (store_root(l, size, got, &e) != 0)
		fail_msg("store_root(%llu): %s", (unsigned long long)size, e.msg);
	if (memcmp(want, got, MERKLE_HASH) != 0)
		fail_msg("store_root(%llu) differs from the root of the leaf hashes",
			 (unsigned long long)size);
}

void stt_check_tile(struct store_log *l, const struct stt_model *m,
		    unsigned level, uint64_t n)
{
	merkle_hash out[256];
	unsigned width = 999, want;
	uint64_t size = store_log_size(l), avail, i;
	struct perr e = { "" };

	assert_true(level < STT_LEVELS);
	/* tlog-tiles: level L has size >> 8L hashes; tile N holds 256 of them. */
	avail = size >> (8 * level);
	assert_true(avail <= m->count[level]);
	assert_true(n * 256 < avail);
	want = avail - n * 256 >= 256 ? 256 : (unsigned)(avail - n * 256);
	if (store_tile(l, level, n, out, &width, &e) != 0)
		fail_msg("store_tile(%u, %llu) at size %llu: %s", level,
			 (unsigned long long)n, (unsigned long long)size, e.msg);
	assert_int_equal(width, want);
	for (i = 0; i < want; i++)
		if (memcmp(out[i], m->lv[level][n * 256 + i], MERKLE_HASH) != 0)
			fail_msg("tile %u/%llu (width %u) at size %llu: hash %llu differs",
				 level, (unsigned long long)n, want,
				 (unsigned long long)size, (unsigned long long)i);
}

void stt_check_tiles(struct store_log *l, const struct stt_model *m,
		     int all_full, uint64_t *rng)
{
	uint64_t size = store_log_size(l);
	unsigned L;

	for (L = 0; L < STT_LEVELS && (size >> (8 * L)) > 0; L++) {
		uint64_t tiles = ((size >> (8 * L)) + 255) / 256, n;
		if (all_full) {
			for (n = 0; n < tiles; n++)
				stt_check_tile(l, m, L, n);
		} else {
			stt_check_tile(l, m, L, tiles - 1);
			stt_check_tile(l, m, L, stt_below(rng, tiles));
		}
	}
}

void stt_check_inclusion(struct store_log *l, const struct stt_model *m,
			 uint64_t idx, uint64_t size, const merkle_hash root)
{
	merkle_hash proof[MERKLE_MAX_PROOF];
	size_t len = 0;
	struct perr e = { "" };

	if (store_prove_inclusion(l, idx, size, proof, &len, &e) != 0)
		fail_msg("store_prove_inclusion(%llu, %llu): %s",
			 (unsigned long long)idx, (unsigned long long)size, e.msg);
	if (merkle_verify_inclusion(m->lv[0][idx], MERKLE_HASH, idx, size,
				    (const merkle_hash *)proof, len, root,
				    MERKLE_HASH, &e) != 0)
		fail_msg("inclusion proof of %llu in %llu does not verify: %s",
			 (unsigned long long)idx, (unsigned long long)size, e.msg);
}

void stt_check_consistency(struct store_log *l, const struct stt_model *m,
			   uint64_t size1, uint64_t size2,
			   const merkle_hash root1, const merkle_hash root2)
{
	merkle_hash proof[MERKLE_MAX_PROOF];
	size_t len = 0;
	struct perr e = { "" };

	(void)m;
	if (store_prove_consistency(l, size1, size2, proof, &len, &e) != 0)
		fail_msg("store_prove_consistency(%llu, %llu): %s",
			 (unsigned long long)size1, (unsigned long long)size2, e.msg);
	if (merkle_verify_consistency(size1, size2, (const merkle_hash *)proof,
				      len, root1, MERKLE_HASH, root2,
				      MERKLE_HASH, &e) != 0)
		fail_msg("consistency proof %llu -> %llu does not verify: %s",
			 (unsigned long long)size1, (unsigned long long)size2, e.msg);
}

void stt_assert_fails(int rc, const struct perr *e, const char *needle)
{
	if (rc >= 0)
		fail_msg("expected a failure mentioning \"%s\", got success", needle);
	if (strstr(e->msg, needle) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", e->msg, needle);
}

void stt_open(struct store **s, struct store_log **l, const char *path,
	      int create, const char *vfs, const char *origin)
{
	struct perr e = { "" };

	if (store_open(s, path, create, vfs, &e) != 0)
		fail_msg("store_open(%s): %s", path, e.msg);
	if (create && store_log_create(*s, origin, &e) != 0)
		fail_msg("store_log_create(%s): %s", origin, e.msg);
	if (store_log_open(*s, origin, l, &e) != 0)
		fail_msg("store_log_open(%s): %s", origin ? origin : "(only)", e.msg);
}
