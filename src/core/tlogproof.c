/*
 * tlogproof.c — parse, write and verify C2SP tlog-proof v1.
 */
#include "tlogproof.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"

void tlogproof_free(struct tlogproof *p)
{
	free(p->extra);
	p->extra = NULL;
	p->extralen = 0;
}

static long tlogproof_line(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl == NULL ? -1 : (long)(nl - p);
}

int tlogproof_parse(struct tlogproof *p, const char *text, size_t len,
		    struct perr *e)
{
	const char *s = text, *end = text + len;
	long n;

	memset(p, 0, sizeof *p);
	if (len > TLOGPROOF_MAX_SIZE)
		return perr_set(e, "tlog-proof: %zu bytes, over the %d-byte limit", len,
				TLOGPROOF_MAX_SIZE);
	n = tlogproof_line(s, end);
	if (n != (long)strlen(TLOGPROOF_HEADER) ||
	    memcmp(s, TLOGPROOF_HEADER, (size_t)n) != 0)
		return perr_set(e, "tlog-proof: first line is not %s", TLOGPROOF_HEADER);
	s += n + 1;
	n = tlogproof_line(s, end);
	if (n < 0)
		return perr_set(e, "tlog-proof: missing index line");
	if (n >= 6 && memcmp(s, "extra ", 6) == 0) {
		size_t b = (size_t)n - 6;
		long dn;
		if (b > B64_ENCLEN(TLOGPROOF_EXTRA_MAX))
			return perr_set(e, "tlog-proof: extra data over %d bytes",
					TLOGPROOF_EXTRA_MAX);
		p->extra = malloc(b + 1);
		if (p->extra == NULL)
			return perr_set(e, "out of memory");
		dn = b64_decode(p->extra, b + 1, s + 6, b);
		if (dn > TLOGPROOF_EXTRA_MAX) {
			tlogproof_free(p);
			return perr_set(e, "tlog-proof: extra data over %d bytes",
					TLOGPROOF_EXTRA_MAX);
		}
		if (dn < 0) {
			tlogproof_free(p);
			return perr_set(e, "tlog-proof: extra data is not valid base64");
		}
		p->extralen = (size_t)dn;
		p->has_extra = 1;
		s += n + 1;
		n = tlogproof_line(s, end);
	}
	if (n < 6 || memcmp(s, "index ", 6) != 0 ||
	    checkpoint_parse_u64(s + 6, (size_t)n - 6, &p->index) != 0) {
		tlogproof_free(p);
		return perr_set(e, "tlog-proof: expected \"index N\" with N a decimal "
				"number without leading zeros");
	}
	s += n + 1;
	for (;;) {
		n = tlogproof_line(s, end);
		if (n < 0) {
			tlogproof_free(p);
			return perr_set(e, "tlog-proof: missing blank line before the checkpoint");
		}
		if (n == 0)
			break;
		if (p->prooflen >= MERKLE_MAX_PROOF) {
			tlogproof_free(p);
			return perr_set(e, "tlog-proof: more than %d proof hashes",
					MERKLE_MAX_PROOF);
		}
		if (merkle_hash_from_b64(p->proof[p->prooflen], s, (size_t)n, e) != 0) {
			tlogproof_free(p);
			return perr_wrap(e, "tlog-proof: proof line %zu", p->prooflen + 1);
		}
		p->prooflen++;
		s += n + 1;
	}
	s++;
	if (s >= end) {
		tlogproof_free(p);
		return perr_set(e, "tlog-proof: missing checkpoint");
	}
	p->note = s;
	p->notelen = (size_t)(end - s);
	return 0;
}

int tlogproof_format(char **out, size_t *outlen, const uint8_t *extra,
		     size_t extralen, uint64_t index, const merkle_hash *proof,
		     size_t prooflen, const char *note, size_t notelen,
		     struct perr *e)
{
	size_t cap, off = 0, i;
	char *buf;
	int w;

	if (extra != NULL && extralen > TLOGPROOF_EXTRA_MAX)
		return perr_set(e, "tlog-proof: extra data over %d bytes",
				TLOGPROOF_EXTRA_MAX);
	if (prooflen > MERKLE_MAX_PROOF)
		return perr_set(e, "tlog-proof: proof too long");
	cap = 64 + (extra ? B64_ENCLEN(extralen) + 8 : 0) +
	      prooflen * (B64_ENCLEN(MERKLE_HASH) + 1) + notelen + 1;
	buf = malloc(cap);
	if (buf == NULL)
		return perr_set(e, "out of memory");
	off += (size_t)snprintf(buf, cap, "%s\n", TLOGPROOF_HEADER);
	if (extra != NULL) {
		memcpy(buf + off, "extra ", 6);
		off += 6;
		off += b64_encode(buf + off, extra, extralen);
		buf[off++] = '\n';
	}
	w = snprintf(buf + off, cap - off, "index %llu\n", (unsigned long long)index);
	off += (size_t)w;
	for (i = 0; i < prooflen; i++) {
		off += b64_encode(buf + off, proof[i], MERKLE_HASH);
		buf[off++] = '\n';
	}
	buf[off++] = '\n';
	memcpy(buf + off, note, notelen);
	off += notelen;
	buf[off] = '\0';
	*out = buf;
	*outlen = off;
	return 0;
}

int tlogproof_verify(const struct tlogproof *p, const void *entry,
		     size_t entrylen, const struct note_verifier *logkey,
		     const struct note_verifier *cosigners, size_t ncosigners,
		     struct checkpoint *cp, struct perr *e)
{
	struct note_verifier keys[1 + 16];
	int verified[1 + 16];
	struct note *n;
	merkle_hash leaf;
	size_t i;
	int rc = -1;

	if (ncosigners > 16)
		return perr_set(e, "at most 16 cosigners can be required");
	if (logkey->alg != NOTE_ALG_ED25519)
		return perr_set(e, "the log key must be an Ed25519 (0x01) key");
	keys[0] = *logkey;
	for (i = 0; i < ncosigners; i++)
		keys[1 + i] = cosigners[i];
	n = malloc(sizeof *n);
	if (n == NULL)
		return perr_set(e, "out of memory");
	if (note_open(n, p->note, p->notelen, keys, 1 + ncosigners, verified, NULL,
		      e) != 0) {
		perr_wrap(e, "checkpoint");
		goto out;
	}
	if (!verified[0]) {
		perr_set(e, "checkpoint is not signed by the log key %s", logkey->name);
		goto out;
	}
	for (i = 0; i < ncosigners; i++) {
		if (!verified[1 + i]) {
			perr_set(e, "checkpoint has no cosignature from %s",
				 cosigners[i].name);
			goto out;
		}
	}
	if (checkpoint_parse(cp, n->text, n->textlen, e) != 0)
		goto out;
	if (strcmp(cp->origin, logkey->name) != 0) {
		perr_set(e, "checkpoint origin \"%s\" is not the log key's name \"%s\"",
			 cp->origin, logkey->name);
		goto out;
	}
	merkle_leaf_hash(leaf, entry, entrylen);
	if (merkle_verify_inclusion(leaf, MERKLE_HASH, p->index, cp->size, p->proof,
				    p->prooflen, cp->root, MERKLE_HASH, e) != 0) {
		perr_wrap(e, "entry %llu", (unsigned long long)p->index);
		goto out;
	}
	rc = 0;
out:
	free(n);
	return rc;
}
