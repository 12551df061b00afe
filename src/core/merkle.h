/*
 * merkle.h — RFC 6962 / RFC 9162 Merkle trees over SHA-256.
 *
 * Leaf hash  = SHA-256(0x00 || entry)
 * Node hash  = SHA-256(0x01 || left || right)
 * Empty root = SHA-256("")
 *
 * Proof generation never sees the whole tree: it asks a caller-supplied
 * reader for the hashes of a handful of complete, aligned subtrees
 * ("nodes"), which a store keeps on disk (tiles) or in memory.  Every proof
 * and every past root therefore costs O(log n) node reads.
 *
 * Sizes and indices are unsigned 64-bit throughout.
 */
#ifndef PARLEY_MERKLE_H
#define PARLEY_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MERKLE_HASH 32
/* RFC 6962 proofs for 64-bit sizes have at most 64 (inclusion) or 65
 * (consistency) hashes. */
#define MERKLE_MAX_PROOF 72

typedef uint8_t merkle_hash[MERKLE_HASH];

/* A complete, aligned subtree: the hash of leaves
 * [index << level, (index + 1) << level). */
struct merkle_node {
	uint8_t level;
	uint64_t index;
};

/* Fills out[i] with the hash of nodes[i] for i < n.  Returns 0, or -1 with
 * e filled (for example when a node lies beyond the stored tree). */
typedef int (*merkle_reader)(void *ctx, const struct merkle_node *nodes,
			     size_t n, merkle_hash *out, struct perr *e);

void merkle_leaf_hash(merkle_hash out, const void *entry, size_t len);
void merkle_node_hash(merkle_hash out, const merkle_hash left,
		      const merkle_hash right);
void merkle_empty_root(merkle_hash out);

/* Root of n leaf hashes held in memory (n may be 0).  Uses O(log n) stack,
 * no allocation. */
void merkle_root_of(merkle_hash out, const merkle_hash *leaves, uint64_t n);

/* Root of the tree of the given size, read through rd. */
int merkle_tree_hash(merkle_hash root, uint64_t size, merkle_reader rd,
		     void *ctx, struct perr *e);

/* RFC 6962 §2.1.1 audit path for leaf index in a tree of size.  proof must
 * hold MERKLE_MAX_PROOF hashes; *len receives the count. */
int merkle_prove_inclusion(merkle_hash *proof, size_t *len, uint64_t index,
			   uint64_t size, merkle_reader rd, void *ctx,
			   struct perr *e);

/* RFC 6962 §2.1.2 consistency proof from size1 to size2.  0 < size1 <=
 * size2 (size1 == size2 gives an empty proof).  size1 == 0 is refused here;
 * the witness protocol's "old 0" uses merkle_prove_consistency_witness. */
int merkle_prove_consistency(merkle_hash *proof, size_t *len, uint64_t size1,
			     uint64_t size2, merkle_reader rd, void *ctx,
			     struct perr *e);

/* As merkle_prove_consistency, but size1 == 0 gives an empty proof
 * (c2sp.org/tlog-witness: a witness that has seen nothing asks with old 0). */
int merkle_prove_consistency_witness(merkle_hash *proof, size_t *len,
				     uint64_t size1, uint64_t size2,
				     merkle_reader rd, void *ctx,
				     struct perr *e);

/* RFC 9162 §2.1.3.2.  leaf and root are given with their lengths so that a
 * hash of the wrong length is an error, not a crash. */
int merkle_verify_inclusion(const uint8_t *leaf, size_t leaflen,
			    uint64_t index, uint64_t size,
			    const merkle_hash *proof, size_t len,
			    const uint8_t *root, size_t rootlen,
			    struct perr *e);

/* RFC 9162 §2.1.4.2, with RFC 6962's test-vector rule that a proof from
 * size1 == 0 is an error (it proves nothing). */
int merkle_verify_consistency(uint64_t size1, uint64_t size2,
			      const merkle_hash *proof, size_t len,
			      const uint8_t *root1, size_t root1len,
			      const uint8_t *root2, size_t root2len,
			      struct perr *e);

/* As merkle_verify_consistency, but size1 == 0 is accepted with an empty
 * proof (the tlog-witness rule). */
int merkle_verify_consistency_witness(uint64_t size1, uint64_t size2,
				      const merkle_hash *proof, size_t len,
				      const uint8_t *root1, size_t root1len,
				      const uint8_t *root2, size_t root2len,
				      struct perr *e);

/* Decodes one base64 hash; it must be exactly 32 bytes. */
int merkle_hash_from_b64(merkle_hash out, const char *s, size_t len,
			 struct perr *e);

/* Decomposes [lo, hi) (lo aligned as in RFC 6962 recursions) into at most 64
 * complete nodes, largest first.  Returns the count. */
size_t merkle_range_nodes(uint64_t lo, uint64_t hi, struct merkle_node *out);

#endif
