/*
 * merkle.c — RFC 6962 / RFC 9162 hashing, proofs and their verification.
 *
 * Proof generation follows the recursive definitions of RFC 6962 §2.1.1
 * (PATH) and §2.1.2 (SUBPROOF), unrolled into loops over half-open leaf
 * ranges.  Each range is turned into complete aligned nodes that the caller's
 * reader supplies, and folded right to left, which is exactly MTH() of the
 * range.  Verification is RFC 9162 §2.1.3.2 and §2.1.4.2.
 */
#include "merkle.h"

#include <string.h>

#include <openssl/sha.h>

#include "b64.h"

/* Low-level SHA-256 contexts are used on purpose: the EVP interface of
 * OpenSSL 3 looks the algorithm up in its provider on every init, which
 * costs more than hashing a small entry.  The assembly behind both is the
 * same. */
void merkle_leaf_hash(merkle_hash out, const void *entry, size_t len)
{
	static const uint8_t prefix = 0x00;
	SHA256_CTX c;

	SHA256_Init(&c);
	SHA256_Update(&c, &prefix, 1);
	SHA256_Update(&c, entry, len);
	SHA256_Final(out, &c);
}

void merkle_node_hash(merkle_hash out, const merkle_hash left,
		      const merkle_hash right)
{
	uint8_t buf[1 + 2 * MERKLE_HASH];
	SHA256_CTX c;

	buf[0] = 0x01;
	memcpy(buf + 1, left, MERKLE_HASH);
	memcpy(buf + 1 + MERKLE_HASH, right, MERKLE_HASH);
	SHA256_Init(&c);
	SHA256_Update(&c, buf, sizeof buf);
	SHA256_Final(out, &c);
}

void merkle_empty_root(merkle_hash out)
{
	SHA256_CTX c;

	SHA256_Init(&c);
	SHA256_Final(out, &c);
}

/* Largest power of two strictly less than n (n >= 2). */
static uint64_t merkle_split(uint64_t n)
{
	uint64_t k = 1;

	while (k < n - k)
		k <<= 1;
	return k;
}

void merkle_root_of(merkle_hash out, const merkle_hash *leaves, uint64_t n)
{
	/* A stack of complete subtree hashes, like a binary counter: after
	 * adding leaf i, stack[j] holds the node for bit j of i + 1. */
	merkle_hash stack[64];
	uint8_t level[64];
	size_t top = 0;
	uint64_t i;

	if (n == 0) {
		merkle_empty_root(out);
		return;
	}
	for (i = 0; i < n; i++) {
		memcpy(stack[top], leaves[i], MERKLE_HASH);
		level[top++] = 0;
		while (top >= 2 && level[top - 1] == level[top - 2]) {
			merkle_node_hash(stack[top - 2], stack[top - 2], stack[top - 1]);
			level[top - 2]++;
			top--;
		}
	}
	/* Fold the remaining (decreasing) subtrees from the right. */
	memcpy(out, stack[top - 1], MERKLE_HASH);
	while (top-- > 1)
		merkle_node_hash(out, stack[top - 1], out);
}

size_t merkle_range_nodes(uint64_t lo, uint64_t hi, struct merkle_node *out)
{
	size_t n = 0;

	while (lo < hi) {
		unsigned k = lo == 0 ? 63 : (unsigned)__builtin_ctzll(lo);
		while (k > 0 && ((uint64_t)1 << k) > hi - lo)
			k--;
		out[n].level = (uint8_t)k;
		out[n].index = lo >> k;
		n++;
		lo += (uint64_t)1 << k;
	}
	return n;
}

/*
 * A proof is a list of MTH(range) values.  The ranges are gathered first,
 * all their nodes are fetched in one reader call, then each range is folded.
 */
#define MERKLE_MAX_NODES (MERKLE_MAX_PROOF * 2 + 64)

struct merkle_plan {
	uint64_t lo[MERKLE_MAX_PROOF], hi[MERKLE_MAX_PROOF];
	size_t nranges;
};

static int merkle_plan_add(struct merkle_plan *p, uint64_t lo, uint64_t hi,
			   struct perr *e)
{
	if (p->nranges >= MERKLE_MAX_PROOF)
		return perr_set(e, "proof longer than %d hashes", MERKLE_MAX_PROOF);
	p->lo[p->nranges] = lo;
	p->hi[p->nranges] = hi;
	p->nranges++;
	return 0;
}

/* Evaluates the plan's ranges (reversed: plans are built top-down, proofs
 * list hashes bottom-up). */
static int merkle_plan_eval(const struct merkle_plan *p, merkle_hash *proof,
			    size_t *len, merkle_reader rd, void *ctx,
			    struct perr *e)
{
	struct merkle_node nodes[MERKLE_MAX_NODES];
	merkle_hash hashes[MERKLE_MAX_NODES];
	size_t start[MERKLE_MAX_PROOF + 1];
	size_t n = 0, r;

	for (r = 0; r < p->nranges; r++) {
		struct merkle_node tmp[64];
		size_t k = merkle_range_nodes(p->lo[r], p->hi[r], tmp);
		if (n + k > MERKLE_MAX_NODES)
			return perr_set(e, "proof needs too many nodes");
		start[r] = n;
		memcpy(nodes + n, tmp, k * sizeof tmp[0]);
		n += k;
	}
	start[p->nranges] = n;
	if (n > 0 && rd(ctx, nodes, n, hashes, e) != 0)
		return -1;
	for (r = 0; r < p->nranges; r++) {
		size_t a = start[r], b = start[r + 1];
		uint8_t *out = proof[p->nranges - 1 - r];
		memcpy(out, hashes[b - 1], MERKLE_HASH);
		while (b-- > a + 1)
			merkle_node_hash(out, hashes[b - 1], out);
	}
	*len = p->nranges;
	return 0;
}

int merkle_tree_hash(merkle_hash root, uint64_t size, merkle_reader rd,
		     void *ctx, struct perr *e)
{
	struct merkle_plan p = { .nranges = 0 };
	size_t len;

	if (size == 0) {
		merkle_empty_root(root);
		return 0;
	}
	merkle_plan_add(&p, 0, size, e);
	return merkle_plan_eval(&p, (merkle_hash *)root, &len, rd, ctx, e);
}

int merkle_prove_inclusion(merkle_hash *proof, size_t *len, uint64_t index,
			   uint64_t size, merkle_reader rd, void *ctx,
			   struct perr *e)
{
	struct merkle_plan p = { .nranges = 0 };
	uint64_t lo = 0, hi = size;

	if (index >= size)
		return perr_set(e, "index %llu is not below tree size %llu",
				(unsigned long long)index, (unsigned long long)size);
	/* PATH(m, D[lo:hi]) */
	while (hi - lo > 1) {
		uint64_t k = merkle_split(hi - lo);
		if (index - lo < k) {
			if (merkle_plan_add(&p, lo + k, hi, e) != 0)
				return -1;
			hi = lo + k;
		} else {
			if (merkle_plan_add(&p, lo, lo + k, e) != 0)
				return -1;
			lo = lo + k;
		}
	}
	return merkle_plan_eval(&p, proof, len, rd, ctx, e);
}

static int merkle_prove_consistency_any(merkle_hash *proof, size_t *len,
					uint64_t size1, uint64_t size2,
					merkle_reader rd, void *ctx,
					struct perr *e)
{
	struct merkle_plan p = { .nranges = 0 };
	uint64_t lo = 0, hi = size2, m = size1;
	int b = 1;

	if (size1 > size2)
		return perr_set(e, "old size %llu is larger than new size %llu",
				(unsigned long long)size1, (unsigned long long)size2);
	if (size1 == 0 || size1 == size2) {
		*len = 0;
		return 0;
	}
	/* SUBPROOF(m, D[lo:hi], b) */
	for (;;) {
		uint64_t n = hi - lo, k;
		if (m == n) {
			if (!b && merkle_plan_add(&p, lo, hi, e) != 0)
				return -1;
			break;
		}
		k = merkle_split(n);
		if (m <= k) {
			if (merkle_plan_add(&p, lo + k, hi, e) != 0)
				return -1;
			hi = lo + k;
		} else {
			if (merkle_plan_add(&p, lo, lo + k, e) != 0)
				return -1;
			lo += k;
			m -= k;
			b = 0;
		}
	}
	return merkle_plan_eval(&p, proof, len, rd, ctx, e);
}

int merkle_prove_consistency(merkle_hash *proof, size_t *len, uint64_t size1,
			     uint64_t size2, merkle_reader rd, void *ctx,
			     struct perr *e)
{
	if (size1 == 0)
		return perr_set(e, "no consistency proof from an empty tree");
	return merkle_prove_consistency_any(proof, len, size1, size2, rd, ctx, e);
}

int merkle_prove_consistency_witness(merkle_hash *proof, size_t *len,
				     uint64_t size1, uint64_t size2,
				     merkle_reader rd, void *ctx,
				     struct perr *e)
{
	return merkle_prove_consistency_any(proof, len, size1, size2, rd, ctx, e);
}

int merkle_verify_inclusion(const uint8_t *leaf, size_t leaflen,
			    uint64_t index, uint64_t size,
			    const merkle_hash *proof, size_t len,
			    const uint8_t *root, size_t rootlen,
			    struct perr *e)
{
	merkle_hash r;
	uint64_t fn = index, sn;
	size_t i;

	if (leaflen != MERKLE_HASH)
		return perr_set(e, "leaf hash is %zu bytes, not 32", leaflen);
	if (rootlen != MERKLE_HASH)
		return perr_set(e, "root hash is %zu bytes, not 32", rootlen);
	if (index >= size)
		return perr_set(e, "index %llu is not below tree size %llu",
				(unsigned long long)index, (unsigned long long)size);
	sn = size - 1;
	memcpy(r, leaf, MERKLE_HASH);
	for (i = 0; i < len; i++) {
		if (sn == 0)
			return perr_set(e, "inclusion proof has %zu hashes, too many", len);
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(r, proof[i], r);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			merkle_node_hash(r, r, proof[i]);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return perr_set(e, "inclusion proof has %zu hashes, too few", len);
	if (memcmp(r, root, MERKLE_HASH) != 0)
		return perr_set(e, "inclusion proof does not lead to the root");
	return 0;
}

static int merkle_verify_consistency_any(uint64_t size1, uint64_t size2,
					 const merkle_hash *proof, size_t len,
					 const uint8_t *root1, size_t root1len,
					 const uint8_t *root2, size_t root2len,
					 int witness, struct perr *e)
{
	merkle_hash fr, sr;
	const uint8_t *seed;
	uint64_t fn, sn;
	size_t i, start;

	if (size2 < size1)
		return perr_set(e, "old size %llu is larger than new size %llu",
				(unsigned long long)size1, (unsigned long long)size2);
	if (size1 == 0 && !witness)
		return perr_set(e, "a consistency proof from size 0 proves nothing");
	if (size1 == size2 || size1 == 0) {
		if (len != 0)
			return perr_set(e, "consistency proof should be empty, has %zu hashes", len);
		if (size1 == size2 &&
		    (root1len != root2len || memcmp(root1, root2, root1len) != 0))
			return perr_set(e, "same size but different roots");
		return 0;
	}
	if (root1len != MERKLE_HASH || root2len != MERKLE_HASH)
		return perr_set(e, "root hash is not 32 bytes");
	if (len == 0)
		return perr_set(e, "consistency proof is empty");
	/* If size1 is a power of two, the old root is the first node of the
	 * path and is not repeated in the proof. */
	if ((size1 & (size1 - 1)) == 0) {
		seed = root1;
		start = 0;
	} else {
		seed = proof[0];
		start = 1;
	}
	fn = size1 - 1;
	sn = size2 - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	memcpy(fr, seed, MERKLE_HASH);
	memcpy(sr, seed, MERKLE_HASH);
	for (i = start; i < len; i++) {
		if (sn == 0)
			return perr_set(e, "consistency proof has %zu hashes, too many", len);
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(fr, proof[i], fr);
			merkle_node_hash(sr, proof[i], sr);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			merkle_node_hash(sr, sr, proof[i]);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return perr_set(e, "consistency proof has %zu hashes, too few", len);
	if (memcmp(fr, root1, MERKLE_HASH) != 0)
		return perr_set(e, "consistency proof does not lead to the old root");
	if (memcmp(sr, root2, MERKLE_HASH) != 0)
		return perr_set(e, "consistency proof does not lead to the new root");
	return 0;
}

int merkle_verify_consistency(uint64_t size1, uint64_t size2,
			      const merkle_hash *proof, size_t len,
			      const uint8_t *root1, size_t root1len,
			      const uint8_t *root2, size_t root2len,
			      struct perr *e)
{
	return merkle_verify_consistency_any(size1, size2, proof, len, root1,
					     root1len, root2, root2len, 0, e);
}

int merkle_verify_consistency_witness(uint64_t size1, uint64_t size2,
				      const merkle_hash *proof, size_t len,
				      const uint8_t *root1, size_t root1len,
				      const uint8_t *root2, size_t root2len,
				      struct perr *e)
{
	return merkle_verify_consistency_any(size1, size2, proof, len, root1,
					     root1len, root2, root2len, 1, e);
}

int merkle_hash_from_b64(merkle_hash out, const char *s, size_t len,
			 struct perr *e)
{
	uint8_t buf[MERKLE_HASH + 3];
	long n = b64_decode(buf, sizeof buf, s, len);

	if (n < 0)
		return perr_set(e, "hash is not valid base64");
	if (n != MERKLE_HASH)
		return perr_set(e, "hash is %ld bytes, not 32", n);
	memcpy(out, buf, MERKLE_HASH);
	return 0;
}
