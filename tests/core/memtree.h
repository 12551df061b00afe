/*
 * memtree.h — an in-memory Merkle tree for tests: the leaf hashes and every
 * complete, aligned node above them, level by level, plus a merkle_reader
 * that serves those nodes for a tree of a chosen size.
 *
 * The hashes are computed here from the RFC 6962 definitions with OpenSSL's
 * SHA-256 directly, so proofs and roots from merkle.c are checked against an
 * independent construction.
 */
#ifndef PARLEY_MEMTREE_H
#define PARLEY_MEMTREE_H

#include <stddef.h>
#include <stdint.h>

#include "merkle.h"

struct memtree {
	uint64_t n;              /* leaves */
	unsigned nlevels;        /* levels with at least one complete node */
	merkle_hash *level[64];  /* level[l][i] = hash of leaves [i<<l, (i+1)<<l) */
	uint64_t count[64];      /* entries in level[l]: n >> l */
	uint64_t limit;          /* the reader serves a tree of this size */
	uint64_t reads;          /* nodes served so far (for O(log n) checks) */
	uint64_t calls;          /* reader calls so far */
};

/* Builds the tree over n leaf hashes (copied).  Fails the test on OOM. */
void memtree_init(struct memtree *t, const merkle_hash *leaves, uint64_t n);

/* As memtree_init, with leaf i = SHA-256(0x00 || memtree_entry(i)). */
void memtree_init_synthetic(struct memtree *t, uint64_t n);

/* The bytes of synthetic entry i ("entry <i>"), NUL-terminated in buf
 * (at least 32 bytes); returns the length. */
size_t memtree_entry(char *buf, uint64_t i);

void memtree_free(struct memtree *t);

/* merkle_reader over ctx = struct memtree *: serves node (level, index) only
 * if it is complete within a tree of t->limit leaves, else fails. */
int memtree_reader(void *ctx, const struct merkle_node *nodes, size_t n,
		   merkle_hash *out, struct perr *e);

/* MTH(D[lo:hi]) by the recursive definition of RFC 6962 §2.1, using the
 * stored complete nodes (O(log^2) work).  hi <= t->n. */
void memtree_mth(const struct memtree *t, uint64_t lo, uint64_t hi,
		 merkle_hash out);

#endif
