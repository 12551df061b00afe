/*
 * test_tlogproof.c — C2SP tlog-proof v1 (src/core/tlogproof.h): writing,
 * parsing and verifying an entry's offline proof of inclusion.
 *
 * The log is an in-memory tree (memtree.c); its checkpoint is signed with a
 * generated Ed25519 key whose name is the checkpoint's origin, as the
 * tlog-checkpoint spec requires.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "b64.h"
#include "checkpoint.h"
#include "memtree.h"
#include "merkle.h"
#include "note.h"
#include "testutil.h"
#include "tlogproof.h"

#define LOG_NAME "example.com/log"
#define TREE_SIZE 13

struct fixture {
	struct memtree tree;
	struct note_signer log, other, w, w2, wsame;
	struct note_verifier vlog, vother, vw, vw2, vwsame;
	char cptext[512];
	size_t cptextlen;
	char *note; /* the checkpoint signed by log */
	size_t notelen;
};

static void make_key(struct note_signer *s, struct note_verifier *v, const char *name,
		     uint8_t alg)
{
	struct perr e;

	if (note_keygen(s, name, alg, &e) != 0)
		fail_msg("note_keygen: %s", e.msg);
	note_signer_verifier(s, v);
}

/* The checkpoint text for the first size leaves of the tree. */
static size_t checkpoint_text(struct fixture *f, const char *origin, uint64_t size,
			      const char *ext, char *buf, size_t cap)
{
	struct checkpoint c;
	struct perr e;
	long n;

	memset(&c, 0, sizeof c);
	snprintf(c.origin, sizeof c.origin, "%s", origin);
	c.size = size;
	f->tree.limit = size;
	assert_int_equal(merkle_tree_hash(c.root, size, memtree_reader, &f->tree, &e), 0);
	if (ext != NULL) {
		c.ext[0] = ext;
		c.extlen[0] = strlen(ext);
		c.next = 1;
	}
	n = checkpoint_format(&c, buf, cap, &e);
	assert_true(n > 0);
	return (size_t)n;
}

static char *sign(const char *text, size_t len, const struct note_signer *s,
		  size_t *outlen)
{
	char *out = NULL;
	struct perr e;

	if (note_sign(&out, outlen, text, len, &s, 1, 0, &e) != 0)
		fail_msg("note_sign: %s", e.msg);
	return out;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	if (f == NULL)
		return -1;
	memtree_init_synthetic(&f->tree, TREE_SIZE);
	make_key(&f->log, &f->vlog, LOG_NAME, NOTE_ALG_ED25519);
	make_key(&f->other, &f->vother, "other.example/log", NOTE_ALG_ED25519);
	make_key(&f->w, &f->vw, "witness.example", NOTE_ALG_COSIG);
	make_key(&f->w2, &f->vw2, "witness2.example", NOTE_ALG_COSIG);
	/* named like w, another key */
	make_key(&f->wsame, &f->vwsame, "witness.example", NOTE_ALG_COSIG);
	f->cptextlen = checkpoint_text(f, LOG_NAME, TREE_SIZE, NULL, f->cptext,
				       sizeof f->cptext);
	f->note = sign(f->cptext, f->cptextlen, &f->log, &f->notelen);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	memtree_free(&f->tree);
	note_signer_wipe(&f->log);
	note_signer_wipe(&f->other);
	note_signer_wipe(&f->w);
	note_signer_wipe(&f->w2);
	note_signer_wipe(&f->wsame);
	free(f->note);
	free(f);
	return 0;
}

/* Writes the tlog-proof of entry index against note (for a tree of size). */
static char *make_proof(struct fixture *f, uint64_t index, uint64_t size,
			const uint8_t *extra, size_t extralen, const char *note,
			size_t notelen, size_t *outlen)
{
	merkle_hash proof[MERKLE_MAX_PROOF];
	size_t len;
	char *out = NULL;
	struct perr e;

	f->tree.limit = size;
	assert_int_equal(merkle_prove_inclusion(proof, &len, index, size, memtree_reader,
						&f->tree, &e), 0);
	if (tlogproof_format(&out, outlen, extra, extralen, index, proof, len, note,
			     notelen, &e) != 0)
		fail_msg("tlogproof_format: %s", e.msg);
	assert_int_equal(strlen(out), *outlen);
	return out;
}

/* Parses a heap copy of exactly len bytes (ASan catches over-reads) and
 * verifies entry index against the log key and cosigners.  Returns the
 * first failing status: parse, then verify. */
static int parse_and_verify(const char *text, size_t len, uint64_t entry_index,
			    const struct note_verifier *logkey,
			    const struct note_verifier *cosigners, size_t ncosigners,
			    struct checkpoint *cp_out, struct perr *e)
{
	char *copy = tu_memdup(text, len);
	struct tlogproof *p = malloc(sizeof *p);
	struct checkpoint cp;
	char entry[32];
	size_t elen = memtree_entry(entry, entry_index);
	int rc;

	assert_non_null(p);
	e->msg[0] = '\0';
	rc = tlogproof_parse(p, copy, len, e);
	if (rc == 0) {
		rc = tlogproof_verify(p, entry, elen, logkey, cosigners, ncosigners, &cp, e);
		if (rc == 0 && cp_out != NULL)
			*cp_out = cp; /* ext[] pointers are not used after this */
		tlogproof_free(p);
	}
	if (rc != 0) {
		assert_true(rc < 0);
		assert_true(e->msg[0] != '\0');
	}
	free(p);
	free(copy);
	return rc;
}

static int parse_only(const char *text, size_t len)
{
	char *copy = tu_memdup(text, len);
	struct tlogproof *p = malloc(sizeof *p);
	struct perr e;
	int rc;

	assert_non_null(p);
	rc = tlogproof_parse(p, copy, len, &e);
	if (rc == 0)
		tlogproof_free(p);
	free(p);
	free(copy);
	return rc;
}

/* ---------------------------------------------------------------------- */

static void test_proof_for_every_entry_round_trips_and_verifies(void **state)
{
	struct fixture *f = *state;
	uint64_t i;

	for (i = 0; i < TREE_SIZE; i++) {
		struct checkpoint cp;
		struct perr e;
		merkle_hash root;
		size_t len;
		char *text = make_proof(f, i, TREE_SIZE, NULL, 0, f->note, f->notelen, &len);
		if (parse_and_verify(text, len, i, &f->vlog, NULL, 0, &cp, &e) != 0)
			fail_msg("entry %llu: %s", (unsigned long long)i, e.msg);
		assert_string_equal(cp.origin, LOG_NAME);
		assert_true(cp.size == TREE_SIZE);
		memtree_mth(&f->tree, 0, TREE_SIZE, root);
		assert_memory_equal(cp.root, root, 32);
		free(text);
	}
}

static void test_proof_text_has_the_c2sp_layout(void **state)
{
	struct fixture *f = *state;
	merkle_hash proof[MERKLE_MAX_PROOF];
	char want[4096], b64[64];
	size_t len, plen, off, i;
	struct tlogproof *p = malloc(sizeof *p);
	struct perr e;
	char *text;

	assert_non_null(p);
	f->tree.limit = TREE_SIZE;
	assert_int_equal(merkle_prove_inclusion(proof, &plen, 5, TREE_SIZE, memtree_reader,
						&f->tree, &e), 0);
	text = make_proof(f, 5, TREE_SIZE, (const uint8_t *)"hello", 5, f->note,
			  f->notelen, &len);
	off = (size_t)snprintf(want, sizeof want,
			       "c2sp.org/tlog-proof@v1\nextra aGVsbG8=\nindex 5\n");
	for (i = 0; i < plen; i++) {
		b64_encode(b64, proof[i], 32);
		off += (size_t)snprintf(want + off, sizeof want - off, "%s\n", b64);
	}
	off += (size_t)snprintf(want + off, sizeof want - off, "\n%s", f->note);
	assert_int_equal(len, off);
	assert_string_equal(text, want);
	/* and it parses back into the same fields */
	assert_int_equal(tlogproof_parse(p, text, len, &e), 0);
	assert_int_equal(p->has_extra, 1);
	assert_int_equal(p->extralen, 5);
	assert_memory_equal(p->extra, "hello", 5);
	assert_true(p->index == 5);
	assert_int_equal(p->prooflen, plen);
	assert_memory_equal(p->proof, proof, plen * 32);
	assert_int_equal(p->notelen, f->notelen);
	assert_memory_equal(p->note, f->note, f->notelen);
	tlogproof_free(p);
	free(p);
	free(text);
}

static void test_proof_with_extra_data_verifies(void **state)
{
	struct fixture *f = *state;
	uint8_t extra[300];
	size_t len, i;
	struct perr e;
	char *text;

	for (i = 0; i < sizeof extra; i++)
		extra[i] = (uint8_t)(i * 7);
	text = make_proof(f, 3, TREE_SIZE, extra, sizeof extra, f->note, f->notelen, &len);
	assert_int_equal(parse_and_verify(text, len, 3, &f->vlog, NULL, 0, NULL, &e), 0);
	free(text);
	/* empty extra data is still an extra line */
	text = make_proof(f, 3, TREE_SIZE, extra, 0, f->note, f->notelen, &len);
	assert_non_null(strstr(text, "\nextra \n"));
	{
		struct tlogproof p;
		assert_int_equal(tlogproof_parse(&p, text, len, &e), 0);
		assert_int_equal(p.has_extra, 1);
		assert_int_equal(p.extralen, 0);
		tlogproof_free(&p);
	}
	assert_int_equal(parse_and_verify(text, len, 3, &f->vlog, NULL, 0, NULL, &e), 0);
	free(text);
}

static void test_single_entry_tree_has_an_empty_proof(void **state)
{
	struct fixture *f = *state;
	char cp[512], *note, *text;
	size_t cplen, notelen, len;
	struct perr e;

	cplen = checkpoint_text(f, LOG_NAME, 1, NULL, cp, sizeof cp);
	note = sign(cp, cplen, &f->log, &notelen);
	text = make_proof(f, 0, 1, NULL, 0, note, notelen, &len);
	assert_non_null(strstr(text, "index 0\n\n"));
	assert_int_equal(parse_and_verify(text, len, 0, &f->vlog, NULL, 0, NULL, &e), 0);
	free(text);
	free(note);
}

static void test_checkpoint_extension_lines_are_allowed(void **state)
{
	struct fixture *f = *state;
	char cp[512], *note, *text;
	size_t cplen, notelen, len;
	struct checkpoint out;
	struct perr e;

	cplen = checkpoint_text(f, LOG_NAME, TREE_SIZE, "some extension", cp, sizeof cp);
	note = sign(cp, cplen, &f->log, &notelen);
	text = make_proof(f, 7, TREE_SIZE, NULL, 0, note, notelen, &len);
	assert_int_equal(parse_and_verify(text, len, 7, &f->vlog, NULL, 0, &out, &e), 0);
	assert_int_equal(out.next, 1);
	free(text);
	free(note);
}

/* ---------------------------------------------------------------------- */
/* Cosigners                                                               */

/* The log's note with a cosignature line by w appended. */
static char *cosigned_note(struct fixture *f, const struct note_signer *w, size_t *len)
{
	char *n = malloc(f->notelen + 512);
	struct perr e;
	long l;

	assert_non_null(n);
	memcpy(n, f->note, f->notelen);
	l = note_sign_line(n + f->notelen, 512, w, f->cptext, f->cptextlen, 1700000000, &e);
	assert_true(l > 0);
	*len = f->notelen + (size_t)l;
	return n;
}

static void test_required_cosignature_present_verifies(void **state)
{
	struct fixture *f = *state;
	struct note_verifier both[2];
	size_t nlen, len;
	struct perr e;
	char *note = cosigned_note(f, &f->w, &nlen);
	char *text = make_proof(f, 11, TREE_SIZE, NULL, 0, note, nlen, &len);

	assert_int_equal(parse_and_verify(text, len, 11, &f->vlog, &f->vw, 1, NULL, &e), 0);
	/* a cosignature nobody asked for does no harm */
	assert_int_equal(parse_and_verify(text, len, 11, &f->vlog, NULL, 0, NULL, &e), 0);
	free(text);
	free(note);
	/* two witnesses, both required */
	{
		char *n2 = malloc(nlen + 512);
		long l;
		assert_non_null(n2);
		note = cosigned_note(f, &f->w, &nlen);
		memcpy(n2, note, nlen);
		l = note_sign_line(n2 + nlen, 512, &f->w2, f->cptext, f->cptextlen, 5, &e);
		assert_true(l > 0);
		text = make_proof(f, 2, TREE_SIZE, NULL, 0, n2, nlen + (size_t)l, &len);
		both[0] = f->vw;
		both[1] = f->vw2;
		assert_int_equal(parse_and_verify(text, len, 2, &f->vlog, both, 2, NULL, &e), 0);
		free(text);
		free(n2);
		free(note);
	}
}

static void test_required_cosignature_missing_or_from_another_key_fails(void **state)
{
	struct fixture *f = *state;
	struct note_verifier both[2];
	size_t nlen, len;
	struct perr e;
	char *note, *text;

	/* no cosignature at all */
	text = make_proof(f, 4, TREE_SIZE, NULL, 0, f->note, f->notelen, &len);
	assert_true(parse_and_verify(text, len, 4, &f->vlog, &f->vw, 1, NULL, &e) < 0);
	free(text);
	/* cosigned by another witness */
	note = cosigned_note(f, &f->w2, &nlen);
	text = make_proof(f, 4, TREE_SIZE, NULL, 0, note, nlen, &len);
	assert_true(parse_and_verify(text, len, 4, &f->vlog, &f->vw, 1, NULL, &e) < 0);
	/* one of two required cosignatures present */
	both[0] = f->vw2;
	both[1] = f->vw;
	assert_true(parse_and_verify(text, len, 4, &f->vlog, both, 2, NULL, &e) < 0);
	free(text);
	free(note);
	/* cosigned by a key with the witness's name but another key */
	note = cosigned_note(f, &f->wsame, &nlen);
	text = make_proof(f, 4, TREE_SIZE, NULL, 0, note, nlen, &len);
	assert_true(parse_and_verify(text, len, 4, &f->vlog, &f->vw, 1, NULL, &e) < 0);
	free(text);
	free(note);
}

static void test_cosignature_over_another_checkpoint_fails(void **state)
{
	struct fixture *f = *state;
	char other[512], *note, *text;
	size_t olen, len;
	struct perr e;
	long l;

	olen = checkpoint_text(f, LOG_NAME, TREE_SIZE - 1, NULL, other, sizeof other);
	note = malloc(f->notelen + 512);
	assert_non_null(note);
	memcpy(note, f->note, f->notelen);
	l = note_sign_line(note + f->notelen, 512, &f->w, other, olen, 1, &e);
	assert_true(l > 0);
	text = make_proof(f, 4, TREE_SIZE, NULL, 0, note, f->notelen + (size_t)l, &len);
	assert_true(parse_and_verify(text, len, 4, &f->vlog, &f->vw, 1, NULL, &e) < 0);
	free(text);
	free(note);
}

static void test_verify_limits_the_number_of_cosigners_and_the_log_key_type(void **state)
{
	struct fixture *f = *state;
	struct note_verifier many[17];
	size_t len, i;
	struct perr e;
	char *text = make_proof(f, 1, TREE_SIZE, NULL, 0, f->note, f->notelen, &len);

	for (i = 0; i < 17; i++)
		many[i] = f->vw;
	assert_true(parse_and_verify(text, len, 1, &f->vlog, many, 17, NULL, &e) < 0);
	/* a cosignature (0x04) key cannot be the log key */
	assert_true(parse_and_verify(text, len, 1, &f->vw, NULL, 0, NULL, &e) < 0);
	free(text);
	/* not even one named like the log that did cosign this checkpoint */
	{
		struct note_signer ws;
		struct note_verifier wv;
		size_t nlen;
		char *note;
		make_key(&ws, &wv, LOG_NAME, NOTE_ALG_COSIG);
		note = cosigned_note(f, &ws, &nlen);
		text = make_proof(f, 1, TREE_SIZE, NULL, 0, note, nlen, &len);
		assert_int_equal(parse_and_verify(text, len, 1, &f->vlog, &wv, 1, NULL, &e), 0);
		assert_true(parse_and_verify(text, len, 1, &wv, NULL, 0, NULL, &e) < 0);
		free(text);
		free(note);
		note_signer_wipe(&ws);
	}
}

/* ---------------------------------------------------------------------- */
/* Parsing                                                                 */

static void expect_unparsable(const char *what, const char *text, size_t len)
{
	if (parse_only(text, len) == 0)
		fail_msg("tlogproof_parse accepted a proof with %s", what);
}

/* Builds "<head><body>\n<note>" with the fixture's note. */
static void expect_unparsable_head(struct fixture *f, const char *what,
				   const char *head)
{
	size_t hl = strlen(head);
	char *t = malloc(hl + f->notelen + 1);

	assert_non_null(t);
	memcpy(t, head, hl);
	memcpy(t + hl, f->note, f->notelen);
	expect_unparsable(what, t, hl + f->notelen);
	free(t);
}

#define H32 "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

static void test_malformed_proofs_are_rejected(void **state)
{
	struct fixture *f = *state;

	expect_unparsable("nothing", "", 0);
	expect_unparsable_head(f, "a wrong header",
			       "c2sp.org/tlog-proof@v2\nindex 1\n" H32 "\n\n");
	expect_unparsable_head(f, "a header with a trailing space",
			       "c2sp.org/tlog-proof@v1 \nindex 1\n" H32 "\n\n");
	expect_unparsable_head(f, "no header", "index 1\n" H32 "\n\n");
	expect_unparsable("only a header", "c2sp.org/tlog-proof@v1", 22);
	expect_unparsable("only a header line", "c2sp.org/tlog-proof@v1\n", 23);
	expect_unparsable_head(f, "no index line", "c2sp.org/tlog-proof@v1\n" H32 "\n\n");
	expect_unparsable_head(f, "no index line before the blank",
			       "c2sp.org/tlog-proof@v1\n\n");
	expect_unparsable_head(f, "index 01", "c2sp.org/tlog-proof@v1\nindex 01\n\n");
	expect_unparsable_head(f, "index -1", "c2sp.org/tlog-proof@v1\nindex -1\n\n");
	expect_unparsable_head(f, "index +1", "c2sp.org/tlog-proof@v1\nindex +1\n\n");
	expect_unparsable_head(f, "an empty index", "c2sp.org/tlog-proof@v1\nindex \n\n");
	expect_unparsable_head(f, "index without a number", "c2sp.org/tlog-proof@v1\nindex\n\n");
	expect_unparsable_head(f, "two spaces", "c2sp.org/tlog-proof@v1\nindex  1\n\n");
	expect_unparsable_head(f, "a trailing space", "c2sp.org/tlog-proof@v1\nindex 1 \n\n");
	expect_unparsable_head(f, "an index over 64 bits",
			       "c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n\n");
	expect_unparsable_head(f, "Index", "c2sp.org/tlog-proof@v1\nIndex 1\n\n");
	expect_unparsable_head(f, "a hash line that is not base64",
			       "c2sp.org/tlog-proof@v1\nindex 1\nnot base64!\n\n");
	expect_unparsable_head(f, "a hash of 31 bytes",
			       "c2sp.org/tlog-proof@v1\nindex 1\n"
			       "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuA==\n\n");
	expect_unparsable_head(f, "a hash of 33 bytes",
			       "c2sp.org/tlog-proof@v1\nindex 1\n"
			       "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFVV\n\n");
	expect_unparsable_head(f, "a hash with a trailing space",
			       "c2sp.org/tlog-proof@v1\nindex 1\n" H32 " \n\n");
	expect_unparsable_head(f, "extra after the index",
			       "c2sp.org/tlog-proof@v1\nindex 1\nextra aGVsbG8=\n\n");
	expect_unparsable_head(f, "extra that is not base64",
			       "c2sp.org/tlog-proof@v1\nextra aGVsbG8\nindex 1\n\n");
	expect_unparsable_head(f, "extra with stray bits",
			       "c2sp.org/tlog-proof@v1\nextra aGVsbG9=\nindex 1\n\n");
	expect_unparsable_head(f, "two extra lines",
			       "c2sp.org/tlog-proof@v1\nextra aGk=\nextra aGk=\nindex 1\n\n");
	expect_unparsable_head(f, "extra without its space",
			       "c2sp.org/tlog-proof@v1\nextraaGk=\nindex 1\n\n");
	/* the blank line, and a checkpoint after it, are required */
	expect_unparsable("no blank line",
			  "c2sp.org/tlog-proof@v1\nindex 1\n" H32 "\n",
			  strlen("c2sp.org/tlog-proof@v1\nindex 1\n" H32 "\n"));
	expect_unparsable("no newline after the last hash",
			  "c2sp.org/tlog-proof@v1\nindex 1\n" H32,
			  strlen("c2sp.org/tlog-proof@v1\nindex 1\n" H32));
	expect_unparsable("no checkpoint",
			  "c2sp.org/tlog-proof@v1\nindex 1\n" H32 "\n\n",
			  strlen("c2sp.org/tlog-proof@v1\nindex 1\n" H32 "\n\n"));
	expect_unparsable("no checkpoint or hash",
			  "c2sp.org/tlog-proof@v1\nindex 1\n\n",
			  strlen("c2sp.org/tlog-proof@v1\nindex 1\n\n"));
}

static void test_proof_line_count_is_bounded(void **state)
{
	struct fixture *f = *state;
	size_t cap = 64 + (MERKLE_MAX_PROOF + 1) * 45 + f->notelen, off, i;
	char *t = malloc(cap);
	struct tlogproof p;
	struct perr e;

	assert_non_null(t);
	off = (size_t)snprintf(t, cap, "c2sp.org/tlog-proof@v1\nindex 1\n");
	for (i = 0; i < MERKLE_MAX_PROOF; i++)
		off += (size_t)snprintf(t + off, cap - off, "%s\n", H32);
	/* MERKLE_MAX_PROOF hashes parse (and then fail to verify) */
	{
		size_t keep = off;
		t[off++] = '\n';
		memcpy(t + off, f->note, f->notelen);
		assert_int_equal(tlogproof_parse(&p, t, off + f->notelen, &e), 0);
		assert_int_equal(p.prooflen, MERKLE_MAX_PROOF);
		tlogproof_free(&p);
		assert_true(parse_and_verify(t, off + f->notelen, 1, &f->vlog, NULL, 0, NULL,
					     &e) < 0);
		off = keep;
	}
	/* one more does not parse */
	off += (size_t)snprintf(t + off, cap - off, "%s\n\n", H32);
	memcpy(t + off, f->note, f->notelen);
	expect_unparsable("too many proof lines", t, off + f->notelen);
	free(t);
}

static void test_oversized_inputs_are_rejected(void **state)
{
	struct fixture *f = *state;
	size_t len = TLOGPROOF_MAX_SIZE + 1, off;
	char *t = malloc(len);
	uint8_t *extra;
	char *text = NULL;
	struct perr e;

	(void)f;
	assert_non_null(t);
	/* a valid start, then a checkpoint "note" of filler */
	off = (size_t)snprintf(t, len, "c2sp.org/tlog-proof@v1\nindex 1\n\n");
	memset(t + off, 'a', len - off);
	t[len - 1] = '\n';
	expect_unparsable("more than TLOGPROOF_MAX_SIZE bytes", t, len);
	/* the same at exactly the limit parses (the note is checked later) */
	assert_int_equal(parse_only(t, len - 1), 0);
	free(t);
	/* extra data over its limit is refused when writing */
	extra = calloc(1, TLOGPROOF_EXTRA_MAX + 1);
	assert_non_null(extra);
	assert_true(tlogproof_format(&text, &len, extra, TLOGPROOF_EXTRA_MAX + 1, 1, NULL, 0,
				     f->note, f->notelen, &e) < 0);
	assert_null(text);
	/* exactly TLOGPROOF_EXTRA_MAX bytes round-trip */
	text = make_proof(f, 1, TREE_SIZE, extra, TLOGPROOF_EXTRA_MAX, f->note, f->notelen,
			  &len);
	assert_int_equal(parse_and_verify(text, len, 1, &f->vlog, NULL, 0, NULL, &e), 0);
	free(text);
	free(extra);
}

/* Reading enforces the same limit on extra data as writing: TLOGPROOF_EXTRA
 * decoded bytes, not merely that many bytes' worth of base64 characters. */
static void test_parse_rejects_extra_data_over_the_limit(void **state)
{
	struct fixture *f = *state;
	static const size_t over[] = { 3, 2, 1 };
	int accepted[3];
	uint8_t *extra = calloc(1, TLOGPROOF_EXTRA_MAX + 3);
	size_t k;

	assert_non_null(extra);
	for (k = 0; k < 3; k++) {
		size_t n = TLOGPROOF_EXTRA_MAX + over[k];
		size_t cap = 64 + B64_ENCLEN(n) + f->notelen, off;
		char *t = malloc(cap);
		assert_non_null(t);
		off = (size_t)snprintf(t, cap, "c2sp.org/tlog-proof@v1\nextra ");
		off += b64_encode(t + off, extra, n);
		off += (size_t)snprintf(t + off, cap - off, "\nindex 1\n\n");
		memcpy(t + off, f->note, f->notelen);
		accepted[k] = parse_only(t, off + f->notelen) == 0;
		free(t);
	}
	free(extra);
	for (k = 0; k < 3; k++)
		if (accepted[k])
			fail_msg("tlogproof_parse accepted %zu bytes of extra data "
				 "(TLOGPROOF_EXTRA_MAX is %d)", TLOGPROOF_EXTRA_MAX + over[k],
				 TLOGPROOF_EXTRA_MAX);
}

/* ---------------------------------------------------------------------- */
/* Verification failures                                                   */

static void test_wrong_entry_or_index_fails(void **state)
{
	struct fixture *f = *state;
	size_t len;
	struct perr e;
	char *text = make_proof(f, 6, TREE_SIZE, NULL, 0, f->note, f->notelen, &len);
	struct tlogproof *p = malloc(sizeof *p);
	char entry[32];
	size_t elen;
	struct checkpoint cp;

	assert_non_null(p);
	assert_int_equal(parse_and_verify(text, len, 6, &f->vlog, NULL, 0, NULL, &e), 0);
	/* another entry's bytes */
	assert_true(parse_and_verify(text, len, 5, &f->vlog, NULL, 0, NULL, &e) < 0);
	assert_true(parse_and_verify(text, len, 7, &f->vlog, NULL, 0, NULL, &e) < 0);
	/* the right entry under another index */
	assert_int_equal(tlogproof_parse(p, text, len, &e), 0);
	elen = memtree_entry(entry, 6);
	p->index = 7;
	assert_true(tlogproof_verify(p, entry, elen, &f->vlog, NULL, 0, &cp, &e) < 0);
	p->index = 4;
	assert_true(tlogproof_verify(p, entry, elen, &f->vlog, NULL, 0, &cp, &e) < 0);
	p->index = TREE_SIZE;
	assert_true(tlogproof_verify(p, entry, elen, &f->vlog, NULL, 0, &cp, &e) < 0);
	p->index = UINT64_MAX;
	assert_true(tlogproof_verify(p, entry, elen, &f->vlog, NULL, 0, &cp, &e) < 0);
	/* a proof hash tampered with, dropped, or added */
	p->index = 6;
	assert_int_equal(tlogproof_verify(p, entry, elen, &f->vlog, NULL, 0, &cp, &e), 0);
	p->proof[0][3] ^= 0x10;
	assert_true(tlogproof_verify(p, entry, elen, &f->vlog, NULL, 0, &cp, &e) < 0);
	p->proof[0][3] ^= 0x10;
	p->prooflen--;
	assert_true(tlogproof_verify(p, entry, elen, &f->vlog, NULL, 0, &cp, &e) < 0);
	p->prooflen += 2;
	assert_true(tlogproof_verify(p, entry, elen, &f->vlog, NULL, 0, &cp, &e) < 0);
	tlogproof_free(p);
	free(p);
	free(text);
}

static void test_tampered_proof_text_fails(void **state)
{
	struct fixture *f = *state;
	size_t len;
	struct perr e;
	char *text = make_proof(f, 9, TREE_SIZE, NULL, 0, f->note, f->notelen, &len);
	char *hash = strstr(text, "index 9\n") + strlen("index 9\n");
	char *note;

	/* change the first base64 symbol of the first hash (still canonical) */
	hash[0] = hash[0] == 'A' ? 'B' : 'A';
	assert_true(parse_and_verify(text, len, 9, &f->vlog, NULL, 0, NULL, &e) < 0);
	free(text);
	/* a changed checkpoint size or root breaks the log's signature */
	text = make_proof(f, 9, TREE_SIZE, NULL, 0, f->note, f->notelen, &len);
	note = strstr(text, "\n\n") + 2;
	note[strlen(LOG_NAME) + 1] = '4'; /* "13" -> "43" */
	assert_true(parse_and_verify(text, len, 9, &f->vlog, NULL, 0, NULL, &e) < 0);
	free(text);
}

static void test_checkpoint_signed_by_another_key_fails(void **state)
{
	struct fixture *f = *state;
	char cp[512], *note, *text;
	size_t cplen, notelen, len;
	struct perr e;

	/* same text, signed by another log's key */
	note = sign(f->cptext, f->cptextlen, &f->other, &notelen);
	text = make_proof(f, 2, TREE_SIZE, NULL, 0, note, notelen, &len);
	assert_true(parse_and_verify(text, len, 2, &f->vlog, NULL, 0, NULL, &e) < 0);
	free(text);
	free(note);
	/* signed by a cosigner only */
	note = sign(f->cptext, f->cptextlen, &f->w, &notelen);
	text = make_proof(f, 2, TREE_SIZE, NULL, 0, note, notelen, &len);
	assert_true(parse_and_verify(text, len, 2, &f->vlog, &f->vw, 1, NULL, &e) < 0);
	free(text);
	free(note);
	/* the other log's own checkpoint, verified against our key */
	cplen = checkpoint_text(f, "other.example/log", TREE_SIZE, NULL, cp, sizeof cp);
	note = sign(cp, cplen, &f->other, &notelen);
	text = make_proof(f, 2, TREE_SIZE, NULL, 0, note, notelen, &len);
	assert_true(parse_and_verify(text, len, 2, &f->vlog, NULL, 0, NULL, &e) < 0);
	/* ... and it does verify against its own key */
	assert_int_equal(parse_and_verify(text, len, 2, &f->vother, NULL, 0, NULL, &e), 0);
	free(text);
	free(note);
}

static void test_checkpoint_origin_must_be_the_log_key_name(void **state)
{
	struct fixture *f = *state;
	char cp[512], *note, *text;
	size_t cplen, notelen, len;
	struct perr e;

	/* signed by the log key, but the origin names another log */
	cplen = checkpoint_text(f, "other.example/log", TREE_SIZE, NULL, cp, sizeof cp);
	note = sign(cp, cplen, &f->log, &notelen);
	text = make_proof(f, 2, TREE_SIZE, NULL, 0, note, notelen, &len);
	assert_true(parse_and_verify(text, len, 2, &f->vlog, NULL, 0, NULL, &e) < 0);
	free(text);
	free(note);
	/* a prefix of the name is not the name */
	cplen = checkpoint_text(f, "example.com/lo", TREE_SIZE, NULL, cp, sizeof cp);
	note = sign(cp, cplen, &f->log, &notelen);
	text = make_proof(f, 2, TREE_SIZE, NULL, 0, note, notelen, &len);
	assert_true(parse_and_verify(text, len, 2, &f->vlog, NULL, 0, NULL, &e) < 0);
	free(text);
	free(note);
}

static void test_signed_note_that_is_not_a_checkpoint_fails(void **state)
{
	struct fixture *f = *state;
	static const char body[] = LOG_NAME "\nnot a size\n";
	char *note, *text;
	size_t notelen, len;
	struct perr e;

	note = sign(body, strlen(body), &f->log, &notelen);
	text = make_proof(f, 2, TREE_SIZE, NULL, 0, note, notelen, &len);
	assert_true(parse_and_verify(text, len, 2, &f->vlog, NULL, 0, NULL, &e) < 0);
	free(text);
	free(note);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proof_for_every_entry_round_trips_and_verifies),
		cmocka_unit_test(test_proof_text_has_the_c2sp_layout),
		cmocka_unit_test(test_proof_with_extra_data_verifies),
		cmocka_unit_test(test_single_entry_tree_has_an_empty_proof),
		cmocka_unit_test(test_checkpoint_extension_lines_are_allowed),
		cmocka_unit_test(test_required_cosignature_present_verifies),
		cmocka_unit_test(test_required_cosignature_missing_or_from_another_key_fails),
		cmocka_unit_test(test_cosignature_over_another_checkpoint_fails),
		cmocka_unit_test(test_verify_limits_the_number_of_cosigners_and_the_log_key_type),
		cmocka_unit_test(test_malformed_proofs_are_rejected),
		cmocka_unit_test(test_proof_line_count_is_bounded),
		cmocka_unit_test(test_oversized_inputs_are_rejected),
		cmocka_unit_test(test_parse_rejects_extra_data_over_the_limit),
		cmocka_unit_test(test_wrong_entry_or_index_fails),
		cmocka_unit_test(test_tampered_proof_text_fails),
		cmocka_unit_test(test_checkpoint_signed_by_another_key_fails),
		cmocka_unit_test(test_checkpoint_origin_must_be_the_log_key_name),
		cmocka_unit_test(test_signed_note_that_is_not_a_checkpoint_fails),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
