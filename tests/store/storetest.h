/*
 * storetest.h — helpers shared by the store tests.
 *
 * The store is checked against a model that knows nothing of the store: the
 * entries of a log are a deterministic stream (a seed and an index give the
 * bytes), and the model keeps their leaf hashes and, for every tile level L,
 * the level-8L hashes, built here from merkle_leaf_hash and merkle_root_of
 * only.  Roots, proofs and tiles the store returns are compared with what
 * the model computes from those.
 *
 * Every helper that can fail fails the running cmocka test, so the tests
 * read as a list of expectations.  Prefix: stt_.
 */
#ifndef PARLEY_STORETEST_H
#define PARLEY_STORETEST_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "merkle.h"
#include "store.h"

/* Scratch space: a fresh directory under /tmp (malloc'd path), a path
 * inside it (malloc'd), and removal of the directory and the files in it. */
char *stt_tmpdir(void);
char *stt_join(const char *dir, const char *name);
void stt_rmtree(const char *dir);

/* Deterministic pseudo-random numbers (splitmix64): a failing run replays
 * from its seed. */
uint64_t stt_rand(uint64_t *state);
uint64_t stt_below(uint64_t *state, uint64_t n);   /* uniform in [0, n) */

/* Entry idx of the stream named seed into buf (STT_ENTRY_CAP bytes);
 * returns its length.  One entry in sixteen is empty, one in sixteen is
 * between 500 and 3000 bytes, the others are 1..200 bytes; the first bytes
 * name the index so that a misplaced entry is recognisable. */
#define STT_ENTRY_CAP 3000
size_t stt_entry(uint64_t seed, uint64_t idx, uint8_t *buf);

#define STT_LEVELS 4   /* tile levels modelled: enough for 2^32 entries */

/* A log as it should be.  The stream's seed can change at any index
 * (segments), so a test can append different entries after a rollback. */
struct stt_model {
	uint64_t n;                     /* entries */
	uint64_t count[STT_LEVELS];     /* hashes in lv[L]: n >> 8L */
	uint64_t cap[STT_LEVELS];
	merkle_hash *lv[STT_LEVELS];    /* lv[L][j]: node (8L, j); lv[0] = leaves */
	size_t nseg;
	uint64_t seg_start[64], seg_seed[64];
};

void stt_model_init(struct stt_model *m, uint64_t seed);
void stt_model_free(struct stt_model *m);
/* Entries from index m->n on come from the stream named seed. */
void stt_model_reseed(struct stt_model *m, uint64_t seed);
/* Forgets entries [n, m->n) (what a rolled-back transaction added). */
void stt_model_truncate(struct stt_model *m, uint64_t n);
/* The bytes of entry idx (idx need not be below m->n). */
size_t stt_model_entry(const struct stt_model *m, uint64_t idx, uint8_t *buf);
/* Adds entry m->n of the stream. */
void stt_model_push(struct stt_model *m);
/* merkle_root_of over the first size leaf hashes. */
void stt_model_root(const struct stt_model *m, uint64_t size, merkle_hash out);

/* Appends the model's next count entries to l as one batch (asserting
 * success and the reported first index) and adds them to the model. */
void stt_append(struct store_log *l, struct stt_model *m, uint64_t count);
/* Builds the model's next count entries as an argument list for
 * store_append (not yet in the model); free with stt_batch_free. */
void stt_batch(const struct stt_model *m, uint64_t count, void ***entries,
	       size_t **lens);
void stt_batch_free(void **entries, size_t *lens, uint64_t count);

/* Checks against the model (which may hold more entries than the log):
 * entries [lo, hi) byte for byte (through store_entries, and one by one
 * through store_entry when one_by_one); the root at size; tile (L, N) at
 * the log's current size; an inclusion and a consistency proof, verified
 * against the model's roots. */
void stt_check_entries(struct store_log *l, const struct stt_model *m,
		       uint64_t lo, uint64_t hi, int one_by_one);
void stt_check_root(struct store_log *l, const struct stt_model *m,
		    uint64_t size);
void stt_check_tile(struct store_log *l, const struct stt_model *m,
		    unsigned level, uint64_t n);
/* Tiles at the log's current size: all of them if all_full, otherwise the
 * last tile of each level and one more picked with rng. */
void stt_check_tiles(struct store_log *l, const struct stt_model *m,
		     int all_full, uint64_t *rng);
void stt_check_inclusion(struct store_log *l, const struct stt_model *m,
			 uint64_t idx, uint64_t size, const merkle_hash root);
void stt_check_consistency(struct store_log *l, const struct stt_model *m,
			   uint64_t size1, uint64_t size2,
			   const merkle_hash root1, const merkle_hash root2);

/* Asserts that a call failed (rc < 0) with a message containing needle. */
void stt_assert_fails(int rc, const struct perr *e, const char *needle);

/* store_open + store_log_open, asserting success (create also creates the
 * log origin). */
void stt_open(struct store **s, struct store_log **l, const char *path,
	      int create, const char *vfs, const char *origin);

#endif
