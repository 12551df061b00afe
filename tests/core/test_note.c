/*
 * test_note.c — C2SP signed-note v1.0.0 and tlog-cosignature v1
 * (src/core/note.h): keys and their text forms, signing, opening.
 *
 * Vectors: $PARLEY_TESTDATA/note/vectors.json (from C2SP and Go's
 * sumdb/note).  Signatures and key IDs are also checked independently with
 * OpenSSL (EVP Ed25519, SHA-256), not only through note.c.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "b64.h"
#include "note.h"
#include "testutil.h"

#define EMDASH "\xe2\x80\x94"
#define LINE_MAX_ 512

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */

static void make_signer(struct note_signer *s, const char *name, uint8_t alg,
			uint8_t seedbyte)
{
	uint8_t seed[32];
	struct perr e;
	size_t i;

	for (i = 0; i < 32; i++)
		seed[i] = (uint8_t)(seedbyte * 31 + i);
	if (note_signer_from_seed(s, name, alg, seed, &e) != 0)
		fail_msg("note_signer_from_seed(%s): %s", name, e.msg);
}

static void verifier_of(const struct note_signer *s, struct note_verifier *v)
{
	note_signer_verifier(s, v);
}

/* SHA-256(name || "\n" || alg || pub)[:4], computed with EVP. */
static uint32_t independent_key_id(const char *name, uint8_t alg, const uint8_t pub[32])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint8_t h[32];
	unsigned hl = 0;

	assert_non_null(c);
	assert_int_equal(EVP_DigestInit_ex(c, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(c, name, strlen(name)), 1);
	assert_int_equal(EVP_DigestUpdate(c, "\n", 1), 1);
	assert_int_equal(EVP_DigestUpdate(c, &alg, 1), 1);
	assert_int_equal(EVP_DigestUpdate(c, pub, 32), 1);
	assert_int_equal(EVP_DigestFinal_ex(c, h, &hl), 1);
	EVP_MD_CTX_free(c);
	return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

static int independent_ed25519_verify(const uint8_t pub[32], const void *msg,
				      size_t len, const uint8_t sig[64])
{
	EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok;

	assert_non_null(pk);
	assert_non_null(c);
	ok = EVP_DigestVerifyInit(c, NULL, NULL, NULL, pk) == 1 &&
	     EVP_DigestVerify(c, sig, 64, msg, len) == 1;
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(pk);
	return ok;
}

/* Opens a heap copy of exactly len bytes (no NUL), so that ASan catches a
 * read past the note.  If want_text is set, also checks the signed text. */
static int open_note(const char *msg, size_t len, const struct note_verifier *keys,
		     size_t nkeys, int *verified, uint64_t *times,
		     const char *want_text)
{
	char *copy = tu_memdup(msg, len);
	struct note *n = malloc(sizeof *n);
	struct perr e;
	int rc;

	assert_non_null(n);
	e.msg[0] = '\0';
	rc = note_open(n, copy, len, keys, nkeys, verified, times, &e);
	if (rc != 0) {
		assert_true(rc < 0);
		assert_true(e.msg[0] != '\0');
		assert_null(strchr(e.msg, '\n'));
	} else if (want_text != NULL) {
		assert_int_equal(n->textlen, strlen(want_text));
		assert_memory_equal(n->text, want_text, n->textlen);
	}
	free(n);
	free(copy);
	return rc;
}

static int parse_note(const char *msg, size_t len)
{
	char *copy = tu_memdup(msg, len);
	struct note *n = malloc(sizeof *n);
	struct perr e;
	int rc;

	assert_non_null(n);
	rc = note_parse(n, copy, len, &e);
	free(n);
	free(copy);
	return rc;
}

/* A growable string for building notes by hand. */
struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const void *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_line(struct buf *b, const struct note_signer *s, const char *text,
		     uint64_t t)
{
	char line[LINE_MAX_];
	struct perr e;
	long n = note_sign_line(line, sizeof line, s, text, strlen(text), t, &e);

	if (n < 0)
		fail_msg("note_sign_line: %s", e.msg);
	assert_int_equal((size_t)n, strlen(line));
	buf_add(b, line, (size_t)n);
}

static char *sign_text(const char *text, const struct note_signer *const *signers,
		       size_t n, uint64_t t, size_t *outlen)
{
	char *out = NULL;
	struct perr e;

	if (note_sign(&out, outlen, text, strlen(text), signers, n, t, &e) != 0)
		fail_msg("note_sign: %s", e.msg);
	assert_int_equal(strlen(out), *outlen);
	return out;
}

/* Decodes the base64 of a signature line "— name b64\n". */
static long line_sig(const char *line, uint8_t *raw, size_t cap)
{
	const char *b = strrchr(line, ' ') + 1;
	size_t len = strlen(b);

	if (len > 0 && b[len - 1] == '\n')
		len--;
	return b64_decode(raw, cap, b, len);
}

/* ---------------------------------------------------------------------- */
/* Vectors                                                                 */

static void check_vkey_text(const char *vkey, struct note_verifier *v)
{
	char out[NOTE_KEY_TEXT_MAX];
	struct perr e;

	if (note_verifier_parse(v, vkey, strlen(vkey), &e) != 0)
		fail_msg("note_verifier_parse(%s): %s", vkey, e.msg);
	assert_int_equal(note_verifier_format(v, out, sizeof out), 0);
	assert_string_equal(out, vkey);
	assert_true(v->id == independent_key_id(v->name, v->alg, v->pub));
	assert_true(v->id == note_key_id(v->name, v->alg, v->pub));
}

static void test_note_vectors_sign_and_open_as_specified(void **state)
{
	char *path = tu_testdata_path("note/vectors.json");
	json_t *root = tu_load_json(path, NULL);
	const json_t *vecs = json_object_get(root, "vectors");
	size_t i, nsigned = 0, nvalid = 0, ninvalid = 0;

	(void)state;
	assert_true(json_is_array(vecs));
	assert_true(json_array_size(vecs) >= 4);
	for (i = 0; i < json_array_size(vecs); i++) {
		const json_t *v = json_array_get(vecs, i);
		const char *name = tu_json_str(v, "name");
		const char *signed_ = tu_json_str(v, "signed");
		const json_t *skey = json_object_get(v, "skey");
		const json_t *text = json_object_get(v, "text");
		int valid = json_is_true(json_object_get(v, "valid"));
		struct note_verifier vk;
		int verified = 0;
		int rc;

		assert_true(json_is_boolean(json_object_get(v, "valid")));
		check_vkey_text(tu_json_str(v, "vkey"), &vk);
		if (skey != NULL) {
			struct note_signer s;
			struct note_verifier sv;
			const struct note_signer *sp = &s;
			char out[NOTE_KEY_TEXT_MAX];
			struct perr e;
			if (note_signer_parse(&s, json_string_value(skey),
					      json_string_length(skey), &e) != 0)
				fail_msg("%s: skey: %s", name, e.msg);
			assert_int_equal(note_signer_format(&s, out, sizeof out), 0);
			assert_string_equal(out, json_string_value(skey));
			/* the signer's public half is the vector's verifier */
			verifier_of(&s, &sv);
			assert_int_equal(note_verifier_format(&sv, out, sizeof out), 0);
			assert_string_equal(out, tu_json_str(v, "vkey"));
			if (json_is_string(text)) {
				/* Ed25519 is deterministic: byte for byte */
				size_t len;
				char *got = sign_text(json_string_value(text), &sp, 1, 0, &len);
				assert_int_equal(len, strlen(signed_));
				assert_string_equal(got, signed_);
				free(got);
				nsigned++;
			}
			note_signer_wipe(&s);
		}
		rc = open_note(signed_, strlen(signed_), &vk, 1, &verified, NULL,
			       json_is_string(text) ? json_string_value(text) : NULL);
		if ((rc == 0) != valid)
			fail_msg("%s: note_open returned %d, vector says valid=%d", name, rc,
				 valid);
		assert_int_equal(verified, valid);
		if (valid) {
			/* and the signature verifies without note.c */
			const char *sig = strstr(signed_, "\n\n" EMDASH " ");
			uint8_t raw[80];
			assert_non_null(sig);
			assert_int_equal(line_sig(sig + 2, raw, sizeof raw), 68);
			assert_true(((uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 |
				     (uint32_t)raw[2] << 8 | raw[3]) == vk.id);
			assert_true(independent_ed25519_verify(vk.pub, signed_,
							       (size_t)(sig - signed_) + 1,
							       raw + 4));
			nvalid++;
		} else {
			ninvalid++;
		}
	}
	assert_true(nsigned >= 1);
	assert_true(nvalid >= 2);
	assert_true(ninvalid >= 2);
	json_decref(root);
	free(path);
}

static void test_bad_verifier_keys_from_vectors_are_rejected(void **state)
{
	char *path = tu_testdata_path("note/vectors.json");
	json_t *root = tu_load_json(path, NULL);
	const json_t *bad = json_object_get(root, "bad_vkeys");
	size_t i;

	(void)state;
	assert_true(json_is_array(bad));
	assert_true(json_array_size(bad) >= 3);
	for (i = 0; i < json_array_size(bad); i++) {
		const char *k = tu_json_str(json_array_get(bad, i), "vkey");
		struct note_verifier v;
		struct perr e;
		e.msg[0] = '\0';
		if (note_verifier_parse(&v, k, strlen(k), &e) == 0)
			fail_msg("accepted bad vkey %s (%s)", k,
				 tu_json_str(json_array_get(bad, i), "why"));
		assert_true(e.msg[0] != '\0');
	}
	json_decref(root);
	free(path);
}

/* ---------------------------------------------------------------------- */
/* Keys                                                                    */

static void test_generated_keys_round_trip_through_their_text_forms(void **state)
{
	static const uint8_t algs[] = { NOTE_ALG_ED25519, NOTE_ALG_COSIG };
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct note_signer s, s2;
		struct note_verifier v, v2;
		char stext[NOTE_KEY_TEXT_MAX], vtext[NOTE_KEY_TEXT_MAX], want[NOTE_KEY_TEXT_MAX];
		char b64[64];
		uint8_t raw[33], zero[sizeof s];
		struct perr e;

		assert_int_equal(note_keygen(&s, "example.com/key", algs[i], &e), 0);
		assert_string_equal(s.name, "example.com/key");
		assert_int_equal(s.alg, algs[i]);
		assert_true(s.id == independent_key_id("example.com/key", algs[i], s.pub));
		/* signer: PRIVATE+KEY+<name>+<hex8 id>+base64(type || seed) */
		assert_int_equal(note_signer_format(&s, stext, sizeof stext), 0);
		raw[0] = algs[i];
		memcpy(raw + 1, s.seed, 32);
		EVP_EncodeBlock((unsigned char *)b64, raw, 33);
		snprintf(want, sizeof want, "PRIVATE+KEY+example.com/key+%08x+%s",
			 (unsigned)s.id, b64);
		assert_string_equal(stext, want);
		assert_int_equal(note_signer_parse(&s2, stext, strlen(stext), &e), 0);
		assert_memory_equal(&s2.seed, s.seed, 32);
		assert_memory_equal(&s2.pub, s.pub, 32);
		assert_true(s2.id == s.id && s2.alg == s.alg);
		assert_string_equal(s2.name, s.name);
		/* verifier: <name>+<hex8 id>+base64(type || pub) */
		verifier_of(&s, &v);
		assert_int_equal(note_verifier_format(&v, vtext, sizeof vtext), 0);
		memcpy(raw + 1, s.pub, 32);
		EVP_EncodeBlock((unsigned char *)b64, raw, 33);
		snprintf(want, sizeof want, "example.com/key+%08x+%s", (unsigned)s.id, b64);
		assert_string_equal(vtext, want);
		assert_int_equal(note_verifier_parse(&v2, vtext, strlen(vtext), &e), 0);
		assert_memory_equal(&v2, &v, sizeof v);
		/* a key file ends in a newline */
		strcat(vtext, "\n");
		assert_int_equal(note_verifier_parse(&v2, vtext, strlen(vtext), &e), 0);
		strcat(stext, "\n");
		assert_int_equal(note_signer_parse(&s2, stext, strlen(stext), &e), 0);
		/* wiping leaves nothing behind */
		note_signer_wipe(&s);
		note_signer_wipe(&s2);
		memset(zero, 0, sizeof zero);
		assert_memory_equal(&s, zero, sizeof s);
	}
}

static void test_two_generated_keys_differ(void **state)
{
	struct note_signer a, b;
	struct perr e;

	(void)state;
	assert_int_equal(note_keygen(&a, "k", NOTE_ALG_ED25519, &e), 0);
	assert_int_equal(note_keygen(&b, "k", NOTE_ALG_ED25519, &e), 0);
	assert_memory_not_equal(a.seed, b.seed, 32);
	assert_memory_not_equal(a.pub, b.pub, 32);
	note_signer_wipe(&a);
	note_signer_wipe(&b);
}

static void test_key_id_depends_on_name_type_and_key(void **state)
{
	struct note_signer a, b, c, d;

	(void)state;
	make_signer(&a, "log.example", NOTE_ALG_ED25519, 1);
	make_signer(&b, "log.example", NOTE_ALG_COSIG, 1);   /* same seed, other type */
	make_signer(&c, "log2.example", NOTE_ALG_ED25519, 1); /* same seed, other name */
	make_signer(&d, "log.example", NOTE_ALG_ED25519, 2);  /* other seed */
	assert_memory_equal(a.pub, b.pub, 32);
	assert_true(a.id != b.id && a.id != c.id && a.id != d.id);
	assert_true(a.id == independent_key_id("log.example", 1, a.pub));
	assert_true(b.id == independent_key_id("log.example", 4, b.pub));
	assert_true(c.id == independent_key_id("log2.example", 1, c.pub));
}

static void test_key_names_are_nonempty_utf8_without_spaces_plus_or_controls(void **state)
{
	char name[300];

	(void)state;
	assert_true(note_name_valid("example.com/log", 15));
	assert_true(note_name_valid("PeterNeumann", 12));
	assert_true(note_name_valid("日本語", strlen("日本語")));
	assert_true(note_name_valid("a-b_c:d@e!", 10));
	assert_false(note_name_valid("", 0));
	assert_false(note_name_valid("a b", 3));
	assert_false(note_name_valid("a+b", 3));
	assert_false(note_name_valid("a\tb", 3));
	assert_false(note_name_valid("a\nb", 3));
	assert_false(note_name_valid("a\x7f", 2));
	assert_false(note_name_valid("a\x01", 2));
	assert_false(note_name_valid("a\0b", 3));
	assert_false(note_name_valid("a\xc2\xa0" "b", 4));     /* U+00A0 no-break space */
	assert_false(note_name_valid("a\xe2\x80\xa8" "b", 5)); /* U+2028 */
	assert_false(note_name_valid("a\xe3\x80\x80" "b", 5)); /* U+3000 */
	assert_false(note_name_valid("a\xff", 2));
	assert_false(note_name_valid("a\xc0\xaf", 3));         /* overlong */
	assert_false(note_name_valid("a\xed\xa0\x80", 4));     /* surrogate */
	assert_false(note_name_valid("a\xe2\x80", 3));         /* truncated */
	memset(name, 'n', sizeof name);
	assert_true(note_name_valid(name, NOTE_NAME_MAX));
	assert_false(note_name_valid(name, NOTE_NAME_MAX + 1));
}

static void test_signer_from_seed_refuses_bad_names_and_unknown_types(void **state)
{
	uint8_t seed[32] = { 0 };
	struct note_signer s;
	struct perr e;

	(void)state;
	assert_true(note_signer_from_seed(&s, "", 1, seed, &e) < 0);
	assert_true(note_signer_from_seed(&s, "a b", 1, seed, &e) < 0);
	assert_true(note_signer_from_seed(&s, "a+b", 1, seed, &e) < 0);
	assert_true(note_signer_from_seed(&s, "ok", 0x02, seed, &e) < 0);
	assert_true(note_signer_from_seed(&s, "ok", 0x00, seed, &e) < 0);
	assert_true(note_signer_from_seed(&s, "ok", 0xff, seed, &e) < 0);
	assert_true(note_keygen(&s, "ok", 0x02, &e) < 0);
	assert_int_equal(note_signer_from_seed(&s, "ok", 1, seed, &e), 0);
}

static void test_malformed_key_texts_are_rejected(void **state)
{
	static const char *const vbad[] = {
		"",
		"PeterNeumann",
		"PeterNeumann+c74f20a3",
		"PeterNeumann+c74f20a3+",
		"+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumann+c74f20a33+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumann+c74f20g3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq_LDE4izWy10TW",
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW ",
		" PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\n\n",
		"PeterNeumann+c74f20a3+ ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumann+c74f20a3+AA==",
		/* a signer key is not a verifier key */
		"PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
	};
	static const char *const sbad[] = {
		"",
		"PRIVATE+KEY+",
		"PRIVATE+KEY+PeterNeumann+c74f20a3+",
		"private+key+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
		"PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
		"PRIVATE+KEY+PeterNeumann+c74f20a3+ZYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
		"PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKD=",
		"PRIVATE+KEY+Peter+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
		/* a verifier key is not a signer key */
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
	};
	char longkey[NOTE_KEY_TEXT_MAX + 64];
	struct note_verifier v;
	struct note_signer s;
	struct perr e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof vbad / sizeof vbad[0]; i++)
		if (note_verifier_parse(&v, vbad[i], strlen(vbad[i]), &e) == 0)
			fail_msg("note_verifier_parse accepted \"%s\"", vbad[i]);
	for (i = 0; i < sizeof sbad / sizeof sbad[0]; i++)
		if (note_signer_parse(&s, sbad[i], strlen(sbad[i]), &e) == 0)
			fail_msg("note_signer_parse accepted \"%s\"", sbad[i]);
	/* longer than any key can be */
	memset(longkey, 'a', 300);
	memcpy(longkey + 300, "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", 55);
	assert_true(note_verifier_parse(&v, longkey, 355, &e) < 0);
	/* and the good ones, for contrast */
	assert_int_equal(note_verifier_parse(&v, vbad[12], strlen(vbad[12]) - 1, &e), 0);
	assert_int_equal(note_signer_parse(&s, vbad[16], strlen(vbad[16]), &e), 0);
}

/* ---------------------------------------------------------------------- */
/* Opening notes with several keys                                         */

#define TEXT "hello, world\nline two\n"

struct keys {
	struct note_signer a, b, c, b2;
	struct note_verifier va, vb, vc, vb2;
};

static void make_keys(struct keys *k)
{
	make_signer(&k->a, "alice.example", NOTE_ALG_ED25519, 1);
	make_signer(&k->b, "bob.example", NOTE_ALG_ED25519, 2);
	make_signer(&k->c, "carol.example", NOTE_ALG_ED25519, 3);
	/* same name as b, another key, so another id */
	make_signer(&k->b2, "bob.example", NOTE_ALG_ED25519, 4);
	assert_true(k->b.id != k->b2.id);
	verifier_of(&k->a, &k->va);
	verifier_of(&k->b, &k->vb);
	verifier_of(&k->c, &k->vc);
	verifier_of(&k->b2, &k->vb2);
}

static void test_note_signed_by_two_keys_opens_with_either_or_both(void **state)
{
	struct keys k;
	const struct note_signer *ab[2];
	struct note_verifier keys[3];
	int verified[3];
	char *msg;
	size_t len;

	(void)state;
	make_keys(&k);
	ab[0] = &k.a;
	ab[1] = &k.b;
	msg = sign_text(TEXT, ab, 2, 0, &len);
	/* the note is the text, a blank line, then one line per signer */
	assert_memory_equal(msg, TEXT "\n" EMDASH " alice.example ",
			    strlen(TEXT "\n" EMDASH " alice.example "));
	assert_non_null(strstr(msg, "\n" EMDASH " bob.example "));

	keys[0] = k.va;
	assert_int_equal(open_note(msg, len, keys, 1, verified, NULL, TEXT), 0);
	assert_int_equal(verified[0], 1);
	keys[0] = k.vb;
	assert_int_equal(open_note(msg, len, keys, 1, verified, NULL, TEXT), 0);
	assert_int_equal(verified[0], 1);
	keys[0] = k.vb;
	keys[1] = k.va;
	verified[0] = verified[1] = 7;
	assert_int_equal(open_note(msg, len, keys, 2, verified, NULL, TEXT), 0);
	assert_int_equal(verified[0], 1);
	assert_int_equal(verified[1], 1);
	/* an unknown key among the known ones is reported as not verified */
	keys[0] = k.va;
	keys[1] = k.vc;
	keys[2] = k.vb;
	verified[1] = 7;
	assert_int_equal(open_note(msg, len, keys, 3, verified, NULL, TEXT), 0);
	assert_int_equal(verified[0], 1);
	assert_int_equal(verified[1], 0);
	assert_int_equal(verified[2], 1);
	/* verified may be NULL */
	assert_int_equal(open_note(msg, len, keys, 3, NULL, NULL, TEXT), 0);
	/* no known key: an error */
	keys[0] = k.vc;
	assert_true(open_note(msg, len, keys, 1, verified, NULL, NULL) < 0);
	assert_true(open_note(msg, len, keys, 0, NULL, NULL, NULL) < 0);
	free(msg);
}

static void test_signatures_from_unknown_keys_are_ignored(void **state)
{
	struct keys k;
	const struct note_signer *ac[2];
	int verified[1];
	char *msg;
	size_t len;

	(void)state;
	make_keys(&k);
	ac[0] = &k.c;
	ac[1] = &k.a;
	msg = sign_text(TEXT, ac, 2, 0, &len);
	assert_int_equal(open_note(msg, len, &k.va, 1, verified, NULL, TEXT), 0);
	assert_int_equal(verified[0], 1);
	free(msg);
}

static void test_a_failing_signature_from_a_known_key_rejects_the_note(void **state)
{
	struct keys k;
	struct note_verifier keys[2];
	struct buf b = { 0 };

	(void)state;
	make_keys(&k);
	/* a's line over the text, b's line over another text */
	buf_str(&b, TEXT);
	buf_str(&b, "\n");
	buf_line(&b, &k.a, TEXT, 0);
	buf_line(&b, &k.b, "something else\n", 0);
	keys[0] = k.va;
	keys[1] = k.vb;
	assert_int_equal(open_note(b.p, b.len, keys, 1, NULL, NULL, TEXT), 0);
	assert_true(open_note(b.p, b.len, keys, 2, NULL, NULL, NULL) < 0);
	assert_true(open_note(b.p, b.len, keys + 1, 1, NULL, NULL, NULL) < 0);
	free(b.p);
}

/* The identity point as a public key "signs" every text with R = identity,
 * S = 0: [S]B = R + [k]A holds whatever k is.  OpenSSL's check accepts it;
 * ours refuses keys and signature points of small order. */
static void test_a_small_order_key_that_signs_everything_is_refused(void **state)
{
	struct note_verifier v;
	uint8_t raw[4 + 64];
	char b64[B64_ENCLEN(sizeof raw) + 1];
	struct buf b = { 0 };

	(void)state;
	memset(&v, 0, sizeof v);
	strcpy(v.name, "identity.example");
	v.alg = NOTE_ALG_ED25519;
	v.pub[0] = 1;
	v.id = note_key_id(v.name, v.alg, v.pub);
	memset(raw, 0, sizeof raw);
	raw[0] = (uint8_t)(v.id >> 24);
	raw[1] = (uint8_t)(v.id >> 16);
	raw[2] = (uint8_t)(v.id >> 8);
	raw[3] = (uint8_t)v.id;
	raw[4] = 1; /* R: the identity point; S: 0 */
	assert_true(independent_ed25519_verify(v.pub, TEXT, strlen(TEXT), raw + 4));
	b64_encode(b64, raw, sizeof raw);
	buf_str(&b, TEXT);
	buf_str(&b, "\n\u2014 identity.example ");
	buf_str(&b, b64);
	buf_str(&b, "\n");
	assert_true(open_note(b.p, b.len, &v, 1, NULL, NULL, NULL) < 0);
	free(b.p);
}

static void test_a_known_name_with_another_key_id_is_an_unknown_key(void **state)
{
	struct keys k;
	struct note_verifier keys[2];
	int verified[2];
	struct buf b = { 0 };
	char line[LINE_MAX_];
	struct perr e;

	(void)state;
	make_keys(&k);
	/* signed by a and by b2, which is named like b */
	buf_str(&b, TEXT);
	buf_str(&b, "\n");
	buf_line(&b, &k.a, TEXT, 0);
	buf_line(&b, &k.b2, TEXT, 0);
	keys[0] = k.va;
	keys[1] = k.vb;
	assert_int_equal(open_note(b.p, b.len, keys, 2, verified, NULL, TEXT), 0);
	assert_int_equal(verified[0], 1);
	assert_int_equal(verified[1], 0);
	assert_true(open_note(b.p, b.len, keys + 1, 1, NULL, NULL, NULL) < 0);
	free(b.p);

	/* b's id and signature under another name: unknown too */
	memset(&b, 0, sizeof b);
	buf_str(&b, TEXT);
	buf_str(&b, "\n");
	assert_true(note_sign_line(line, sizeof line, &k.b, TEXT, strlen(TEXT), 0, &e) > 0);
	buf_str(&b, EMDASH " bobby.example ");
	buf_str(&b, strrchr(line, ' ') + 1);
	assert_true(open_note(b.p, b.len, &k.vb, 1, NULL, NULL, NULL) < 0);
	free(b.p);
}

static void test_a_signature_must_have_the_length_of_its_key_type(void **state)
{
	struct keys k;
	struct buf b = { 0 };
	uint8_t raw[80];
	char b64[128], line[LINE_MAX_];
	struct perr e;
	long n;

	(void)state;
	make_keys(&k);
	assert_true(note_sign_line(line, sizeof line, &k.a, TEXT, strlen(TEXT), 0, &e) > 0);
	n = line_sig(line, raw, sizeof raw);
	assert_int_equal(n, 68);
	/* a's id with a truncated signature: a known key that fails */
	b64_encode(b64, raw, 5);
	buf_str(&b, TEXT "\n" EMDASH " alice.example ");
	buf_str(&b, b64);
	buf_str(&b, "\n");
	assert_int_equal(parse_note(b.p, b.len), 0);
	assert_true(open_note(b.p, b.len, &k.va, 1, NULL, NULL, NULL) < 0);
	free(b.p);
	/* ... and with one byte too many */
	memset(&b, 0, sizeof b);
	raw[68] = 0;
	b64_encode(b64, raw, 69);
	buf_str(&b, TEXT "\n" EMDASH " alice.example ");
	buf_str(&b, b64);
	buf_str(&b, "\n");
	assert_true(open_note(b.p, b.len, &k.va, 1, NULL, NULL, NULL) < 0);
	free(b.p);
}

/* ---------------------------------------------------------------------- */
/* Bounds                                                                  */

static void test_notes_up_to_the_size_limit_are_accepted_and_larger_ones_rejected(void **state)
{
	struct keys k;
	const struct note_signer *a;
	char line[LINE_MAX_], *text, *msg;
	size_t linelen, textlen, len;
	struct perr e;
	struct buf b = { 0 };

	(void)state;
	make_keys(&k);
	a = &k.a;
	linelen = (size_t)note_sign_line(line, sizeof line, a, TEXT, strlen(TEXT), 0, &e);
	/* text + blank line + signature line = NOTE_MAX_SIZE exactly */
	textlen = NOTE_MAX_SIZE - 1 - linelen;
	text = malloc(textlen + 2);
	assert_non_null(text);
	memset(text, 'a', textlen + 1);
	text[textlen - 1] = '\n';
	text[textlen] = '\0';
	msg = sign_text(text, &a, 1, 0, &len);
	assert_int_equal(len, NOTE_MAX_SIZE);
	assert_int_equal(open_note(msg, len, &k.va, 1, NULL, NULL, NULL), 0);
	free(msg);
	/* one byte more */
	text[textlen - 1] = 'a';
	text[textlen] = '\n';
	text[textlen + 1] = '\0';
	assert_true(note_sign(&msg, &len, text, textlen + 1, &a, 1, 0, &e) < 0);
	buf_str(&b, text);
	buf_str(&b, "\n");
	buf_line(&b, a, text, 0);
	assert_int_equal(b.len, NOTE_MAX_SIZE + 1);
	assert_true(parse_note(b.p, b.len) < 0);
	assert_true(open_note(b.p, b.len, &k.va, 1, NULL, NULL, NULL) < 0);
	free(b.p);
	free(text);
}

static void test_sixteen_signatures_all_verify(void **state)
{
	struct note_signer s[16];
	struct note_verifier v[16];
	const struct note_signer *sp[16];
	int verified[16];
	char *msg;
	size_t len, i;

	(void)state;
	for (i = 0; i < 16; i++) {
		char name[32];
		snprintf(name, sizeof name, "key%zu.example", i);
		make_signer(&s[i], name, i % 2 ? NOTE_ALG_COSIG : NOTE_ALG_ED25519,
			    (uint8_t)(100 + i));
		verifier_of(&s[i], &v[i]);
		sp[i] = &s[i];
	}
	msg = sign_text(TEXT, sp, 16, 1234, &len);
	assert_int_equal(open_note(msg, len, v, 16, verified, NULL, TEXT), 0);
	for (i = 0; i < 16; i++)
		assert_int_equal(verified[i], 1);
	free(msg);
}

/* Signing keeps keys loaded in a few shared slots (note.c).  Threads that
 * sign with more keys than there are slots keep evicting each other's
 * keys: every signature must still be the right key's, checked by an
 * independent verifier, and nothing freed may be used (ASan). */
#define CACHE_THREADS 4
#define CACHE_KEYS 12
#define CACHE_ROUNDS 60

struct cache_job {
	int base;     /* first key of this thread */
	int bad;      /* signatures that failed the independent check */
};

static void *cache_signer_thread(void *arg)
{
	struct cache_job *job = arg;
	int r;

	for (r = 0; r < CACHE_ROUNDS; r++) {
		struct note_signer s;
		const struct note_signer *sp = &s;
		char *msg = NULL;
		size_t len;
		struct perr e;
		uint8_t sig[64];
		int k = (job->base + r) % CACHE_KEYS;
		make_signer(&s, "cache.example", NOTE_ALG_ED25519, (uint8_t)(200 + k));
		if (note_sign(&msg, &len, TEXT, strlen(TEXT), &sp, 1, 0, &e) != 0) {
			job->bad++;
			continue;
		}
		/* "— cache.example " then base64 of key id (4) + signature */
		{
			const char *line = strstr(msg, "\n\n") + 2;
			const char *b = strchr(strchr(line, ' ') + 1, ' ') + 1;
			uint8_t raw[68];
			if (b64_decode(raw, sizeof raw, b, strcspn(b, "\n")) != 68) {
				job->bad++;
			} else {
				memcpy(sig, raw + 4, 64);
				if (!independent_ed25519_verify(s.pub, TEXT, strlen(TEXT), sig))
					job->bad++;
			}
		}
		if (r % 7 == 0)
			note_signer_wipe(&s); /* drops its slot while others sign */
		free(msg);
	}
	return NULL;
}

static void test_signatures_stay_right_while_threads_evict_loaded_keys(void **state)
{
	pthread_t t[CACHE_THREADS];
	struct cache_job jobs[CACHE_THREADS];
	int i;

	(void)state;
	for (i = 0; i < CACHE_THREADS; i++) {
		jobs[i].base = i * 5;
		jobs[i].bad = 0;
		assert_int_equal(pthread_create(&t[i], NULL, cache_signer_thread, &jobs[i]), 0);
	}
	for (i = 0; i < CACHE_THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(jobs[i].bad, 0);
	}
}

static void test_more_than_the_maximum_number_of_signature_lines_is_rejected(void **state)
{
	struct note_signer *s = calloc(NOTE_MAX_SIGS + 1, sizeof *s);
	const struct note_signer **sp = calloc(NOTE_MAX_SIGS + 1, sizeof *sp);
	struct note_verifier v;
	char *msg, *extra;
	size_t len, i;
	struct perr e;

	(void)state;
	assert_non_null(s);
	assert_non_null(sp);
	for (i = 0; i <= NOTE_MAX_SIGS; i++) {
		char name[32];
		snprintf(name, sizeof name, "k%zu", i);
		make_signer(&s[i], name, NOTE_ALG_ED25519, (uint8_t)i);
		sp[i] = &s[i];
	}
	verifier_of(&s[0], &v);
	/* NOTE_MAX_SIGS lines: fine */
	msg = sign_text(TEXT, sp, NOTE_MAX_SIGS, 0, &len);
	assert_int_equal(open_note(msg, len, &v, 1, NULL, NULL, TEXT), 0);
	/* one more line, by hand */
	extra = malloc(len + LINE_MAX_);
	assert_non_null(extra);
	memcpy(extra, msg, len);
	len += (size_t)note_sign_line(extra + len, LINE_MAX_, &s[NOTE_MAX_SIGS], TEXT,
				      strlen(TEXT), 0, &e);
	assert_true(parse_note(extra, len) < 0);
	assert_true(open_note(extra, len, &v, 1, NULL, NULL, NULL) < 0);
	/* and note_sign refuses to write it */
	free(msg);
	msg = NULL;
	assert_true(note_sign(&msg, &len, TEXT, strlen(TEXT), sp, NOTE_MAX_SIGS + 1, 0,
			      &e) < 0);
	assert_null(msg);
	free(extra);
	free(sp);
	free(s);
}

/* ---------------------------------------------------------------------- */
/* Malformed notes                                                         */

/* msg must fail both note_parse and note_open (with the key that signed
 * the text, so that only the format can be the reason). */
static void expect_malformed(const char *what, const char *msg, size_t len,
			     const struct note_verifier *v)
{
	if (parse_note(msg, len) == 0)
		fail_msg("note_parse accepted a note with %s", what);
	if (open_note(msg, len, v, 1, NULL, NULL, NULL) == 0)
		fail_msg("note_open accepted a note with %s", what);
}

/* "<text>\n<line>" where line is built from a's real signature line by
 * replacing its prefix "— alice.example " with prefix. */
static void malformed_line(struct keys *k, const char *what, const char *prefix,
			   const char *suffix)
{
	char line[LINE_MAX_];
	struct buf b = { 0 };
	struct perr e;

	assert_true(note_sign_line(line, sizeof line, &k->a, TEXT, strlen(TEXT), 0, &e) > 0);
	buf_str(&b, TEXT "\n");
	buf_str(&b, prefix);
	buf_str(&b, suffix != NULL ? suffix : strrchr(line, ' ') + 1);
	expect_malformed(what, b.p, b.len, &k->va);
	free(b.p);
}

static void test_malformed_notes_are_rejected(void **state)
{
	struct keys k;
	const struct note_signer *a;
	char *msg, line[LINE_MAX_];
	size_t len;
	struct perr e;
	struct buf b = { 0 };

	(void)state;
	make_keys(&k);
	a = &k.a;
	msg = sign_text(TEXT, &a, 1, 0, &len);
	assert_int_equal(open_note(msg, len, &k.va, 1, NULL, NULL, TEXT), 0);
	assert_int_equal((size_t)note_sign_line(line, sizeof line, a, TEXT, strlen(TEXT),
						0, &e), len - strlen(TEXT) - 1);

	expect_malformed("no final newline", msg, len - 1, &k.va);
	expect_malformed("nothing", msg, 0, &k.va);
	/* text and signature without the blank line between */
	buf_str(&b, TEXT);
	buf_str(&b, line);
	expect_malformed("no blank line", b.p, b.len, &k.va);
	free(b.p);
	memset(&b, 0, sizeof b);
	/* no signature at all */
	expect_malformed("no signature", msg, strlen(TEXT) + 1, &k.va);
	/* a blank line after the signatures */
	buf_str(&b, msg);
	buf_str(&b, "\n");
	expect_malformed("a trailing blank line", b.p, b.len, &k.va);
	free(b.p);
	memset(&b, 0, sizeof b);
	/* a text line after the signatures */
	buf_str(&b, msg);
	buf_str(&b, "not a signature\n");
	expect_malformed("a non-signature line after the signatures", b.p, b.len, &k.va);
	free(b.p);
	memset(&b, 0, sizeof b);

	malformed_line(&k, "a hyphen for the em dash", "- alice.example ", NULL);
	malformed_line(&k, "an en dash for the em dash", "\xe2\x80\x93 alice.example ", NULL);
	malformed_line(&k, "no space after the em dash", EMDASH "alice.example ", NULL);
	malformed_line(&k, "two spaces after the em dash", EMDASH "  alice.example ", NULL);
	malformed_line(&k, "an empty key name", EMDASH "  ", NULL);
	malformed_line(&k, "'+' in the key name", EMDASH " alice+x.example ", NULL);
	malformed_line(&k, "a space in the key name", EMDASH " alice example ", NULL);
	malformed_line(&k, "no signature after the name", EMDASH " alice.example", "\n");
	malformed_line(&k, "an empty signature", EMDASH " alice.example ", "\n");
	malformed_line(&k, "a signature of 4 bytes", EMDASH " alice.example ",
		       "AAAAAA==\n");
	malformed_line(&k, "a signature of 1 byte", EMDASH " alice.example ", "AA==\n");
	malformed_line(&k, "a signature that is not base64", EMDASH " alice.example ",
		       "!!!!!!!!\n");
	malformed_line(&k, "unpadded base64", EMDASH " alice.example ", "AAAAAAA\n");
	malformed_line(&k, "URL-safe base64", EMDASH " alice.example ",
		       "-_-_-_-_\n");
	malformed_line(&k, "a tab in the signature line", EMDASH " alice.example\t", NULL);
	malformed_line(&k, "a carriage return", EMDASH " alice.example ",
		       "AAAAAAAA\r\n");
	{
		/* the real signature with its base64 damaged */
		char bad[LINE_MAX_];
		char *sig = strrchr(line, ' ') + 1;
		snprintf(bad, sizeof bad, "%s", sig);
		bad[strlen(bad) - 2] = '*';
		malformed_line(&k, "a character outside base64", EMDASH " alice.example ", bad);
		snprintf(bad, sizeof bad, "%s", sig);
		memmove(bad + 4, bad + 5, strlen(bad + 5) + 1);
		malformed_line(&k, "a base64 length not a multiple of 4",
			       EMDASH " alice.example ", bad);
	}
	free(msg);
}

static void test_texts_with_control_characters_or_bad_utf8_are_rejected(void **state)
{
	static const char *const bad[] = {
		"tab\there\n", "cr\r\n", "bell\x07\n", "nul-free esc \x1b[0m\n", "del\x7f\n",
		"bad utf8 \xff\n", "overlong \xc0\xaf\n", "surrogate \xed\xa0\x80\n",
		"truncated \xe2\x80\n", "too large \xf4\x90\x80\x80\n", "lone \x80\n",
	};
	struct keys k;
	const struct note_signer *a;
	size_t i;

	(void)state;
	make_keys(&k);
	a = &k.a;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct buf b = { 0 };
		char *msg = NULL;
		size_t len;
		struct perr e;
		/* note_sign refuses to produce it ... */
		assert_true(note_sign(&msg, &len, bad[i], strlen(bad[i]), &a, 1, 0, &e) < 0);
		assert_null(msg);
		/* ... and a correctly signed one is still refused */
		buf_str(&b, bad[i]);
		buf_str(&b, "\n");
		buf_line(&b, a, bad[i], 0);
		expect_malformed(bad[i], b.p, b.len, &k.va);
		free(b.p);
	}
	/* an embedded NUL is a control character */
	{
		static const char nul[] = "a\0b\n\n";
		assert_true(parse_note(nul, sizeof nul - 1) < 0);
	}
}

static void test_texts_with_utf8_and_blank_lines_are_fine(void **state)
{
	static const char *const ok[] = {
		"héllo wörld — 日本語 🙂\n",
		"paragraph one\n\nparagraph two\n",
		"\n",
		"ends with an empty line\n\n",
	};
	struct keys k;
	const struct note_signer *a;
	size_t i;

	(void)state;
	make_keys(&k);
	a = &k.a;
	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		size_t len;
		char *msg = sign_text(ok[i], &a, 1, 0, &len);
		if (open_note(msg, len, &k.va, 1, NULL, NULL, ok[i]) != 0)
			fail_msg("could not open a note of \"%s\"", ok[i]);
		free(msg);
	}
}

static void test_sign_refuses_texts_without_final_newline_and_zero_signers(void **state)
{
	struct keys k;
	const struct note_signer *a;
	char *msg = NULL, line[LINE_MAX_];
	size_t len;
	struct perr e;

	(void)state;
	make_keys(&k);
	a = &k.a;
	assert_true(note_sign(&msg, &len, "no newline", 10, &a, 1, 0, &e) < 0);
	assert_true(note_sign(&msg, &len, "", 0, &a, 1, 0, &e) < 0);
	assert_true(note_sign(&msg, &len, TEXT, strlen(TEXT), &a, 0, 0, &e) < 0);
	assert_null(msg);
	assert_true(note_sign_line(line, sizeof line, a, "no newline", 10, 0, &e) < 0);
	/* a buffer one byte too small for the line and its NUL */
	len = (size_t)note_sign_line(line, sizeof line, a, TEXT, strlen(TEXT), 0, &e);
	assert_true(note_sign_line(line, len, a, TEXT, strlen(TEXT), 0, &e) < 0);
	assert_int_equal(note_sign_line(line, len + 1, a, TEXT, strlen(TEXT), 0, &e),
			 (long)len);
}

/* ---------------------------------------------------------------------- */
/* Cosignatures (tlog-cosignature v1, type 0x04)                           */

#define CHECKPOINT \
	"example.com/log\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"

struct cosig_keys {
	struct note_signer log, w, w2;
	struct note_verifier vlog, vw, vw2;
};

static void make_cosig_keys(struct cosig_keys *k)
{
	make_signer(&k->log, "example.com/log", NOTE_ALG_ED25519, 10);
	make_signer(&k->w, "witness.example", NOTE_ALG_COSIG, 11);
	make_signer(&k->w2, "witness2.example", NOTE_ALG_COSIG, 12);
	verifier_of(&k->log, &k->vlog);
	verifier_of(&k->w, &k->vw);
	verifier_of(&k->w2, &k->vw2);
}

/* The checkpoint signed by the log, plus the witness's cosignature line. */
static void cosigned(struct buf *b, const struct cosig_keys *k, const char *cosig_text,
		     uint64_t t)
{
	const struct note_signer *lp = &k->log;
	size_t len;
	char *msg = sign_text(CHECKPOINT, &lp, 1, 0, &len);

	memset(b, 0, sizeof *b);
	buf_add(b, msg, len);
	free(msg);
	buf_line(b, &k->w, cosig_text, t);
}

static void test_cosignature_verifies_and_reports_its_timestamp(void **state)
{
	static const uint64_t times[] = { 1700000000, 0, 1, (uint64_t)INT64_MAX };
	struct cosig_keys k;
	struct note_verifier keys[2];
	size_t i;

	(void)state;
	make_cosig_keys(&k);
	keys[0] = k.vlog;
	keys[1] = k.vw;
	for (i = 0; i < sizeof times / sizeof times[0]; i++) {
		struct buf b;
		int verified[2] = { 0, 0 };
		uint64_t t[2] = { 99, 99 };
		cosigned(&b, &k, CHECKPOINT, times[i]);
		assert_int_equal(open_note(b.p, b.len, keys, 2, verified, t, CHECKPOINT), 0);
		assert_int_equal(verified[0], 1);
		assert_int_equal(verified[1], 1);
		assert_true(t[1] == times[i]);
		/* the witness's key alone suffices to open it */
		t[0] = 99;
		assert_int_equal(open_note(b.p, b.len, &k.vw, 1, verified, t, CHECKPOINT), 0);
		assert_true(t[0] == times[i]);
		free(b.p);
	}
}

static void test_cosignature_signs_the_cosignature_v1_message(void **state)
{
	const uint64_t T = 1700000000;
	struct cosig_keys k;
	char line[LINE_MAX_], want[512];
	uint8_t raw[100], *msg;
	size_t mlen, wlen;
	uint64_t t = 0;
	struct perr e;
	long n;
	int i;

	(void)state;
	make_cosig_keys(&k);
	/* the message: "cosignature/v1\ntime <T>\n" || checkpoint text */
	wlen = (size_t)snprintf(want, sizeof want, "cosignature/v1\ntime %llu\n%s",
				(unsigned long long)T, CHECKPOINT);
	assert_int_equal(note_cosig_message(&msg, &mlen, CHECKPOINT, strlen(CHECKPOINT), T,
					    &e), 0);
	assert_int_equal(mlen, wlen);
	assert_memory_equal(msg, want, wlen);
	free(msg);
	assert_int_equal(note_cosig_message(&msg, &mlen, CHECKPOINT, strlen(CHECKPOINT), 0,
					    &e), 0);
	assert_memory_equal(msg, "cosignature/v1\ntime 0\nexample.com/log\n", 37);
	free(msg);

	/* the line: "— <name> " base64(id || u64be(T) || Ed25519 signature) */
	assert_true(note_sign_line(line, sizeof line, &k.w, CHECKPOINT, strlen(CHECKPOINT),
				   T, &e) > 0);
	assert_memory_equal(line, EMDASH " witness.example ", strlen(EMDASH " witness.example "));
	n = line_sig(line, raw, sizeof raw);
	assert_int_equal(n, 4 + 8 + 64);
	assert_true(((uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 |
		     (uint32_t)raw[2] << 8 | raw[3]) == k.w.id);
	for (i = 0; i < 8; i++)
		t = t << 8 | raw[4 + i];
	assert_true(t == T);
	/* verified by OpenSSL over the message built here */
	assert_true(independent_ed25519_verify(k.w.pub, want, wlen, raw + 12));
	/* it is not a plain signature of the text */
	assert_false(independent_ed25519_verify(k.w.pub, CHECKPOINT, strlen(CHECKPOINT),
						raw + 12));
}

static void test_cosignature_over_other_text_or_time_fails(void **state)
{
	struct cosig_keys k;
	struct note_verifier keys[2];
	struct buf b;
	char *line, b64[200];
	uint8_t raw[100];
	long n;

	(void)state;
	make_cosig_keys(&k);
	keys[0] = k.vlog;
	keys[1] = k.vw;
	/* cosigned a different checkpoint */
	cosigned(&b, &k, "example.com/log\n6\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
		 1700000000);
	assert_true(open_note(b.p, b.len, keys, 2, NULL, NULL, NULL) < 0);
	/* without the witness's key the line is just unknown */
	assert_int_equal(open_note(b.p, b.len, keys, 1, NULL, NULL, CHECKPOINT), 0);
	free(b.p);

	/* the right text, but the timestamp changed after signing */
	cosigned(&b, &k, CHECKPOINT, 1700000000);
	assert_int_equal(open_note(b.p, b.len, keys, 2, NULL, NULL, CHECKPOINT), 0);
	line = strstr(b.p, EMDASH " witness.example ");
	assert_non_null(line);
	n = line_sig(line, raw, sizeof raw);
	assert_int_equal(n, 76);
	raw[11] ^= 1;
	b64_encode(b64, raw, 76);
	assert_int_equal(strlen(b64), strlen(line) - strlen(EMDASH " witness.example ") - 1);
	memcpy(line + strlen(EMDASH " witness.example "), b64, strlen(b64));
	assert_true(open_note(b.p, b.len, keys, 2, NULL, NULL, NULL) < 0);
	free(b.p);
}

static void test_signature_type_is_bound_to_the_key(void **state)
{
	struct cosig_keys k;
	struct note_signer fake;
	struct buf b = { 0 };

	(void)state;
	make_cosig_keys(&k);
	/* the witness's name and id on a plain Ed25519 signature of the text */
	fake = k.w;
	fake.alg = NOTE_ALG_ED25519;
	buf_str(&b, CHECKPOINT "\n");
	buf_line(&b, &fake, CHECKPOINT, 0);
	assert_true(open_note(b.p, b.len, &k.vw, 1, NULL, NULL, NULL) < 0);
	free(b.p);
	/* the log's name and id on a cosignature */
	memset(&b, 0, sizeof b);
	fake = k.log;
	fake.alg = NOTE_ALG_COSIG;
	buf_str(&b, CHECKPOINT "\n");
	buf_line(&b, &fake, CHECKPOINT, 5);
	assert_true(open_note(b.p, b.len, &k.vlog, 1, NULL, NULL, NULL) < 0);
	free(b.p);
}

static void test_cosignature_timestamps_above_int64_max_are_refused(void **state)
{
	struct cosig_keys k;
	char line[LINE_MAX_];
	uint8_t *msg = NULL;
	size_t mlen;
	struct perr e;

	(void)state;
	make_cosig_keys(&k);
	assert_true(note_sign_line(line, sizeof line, &k.w, CHECKPOINT, strlen(CHECKPOINT),
				   (uint64_t)INT64_MAX + 1, &e) < 0);
	assert_true(note_cosig_message(&msg, &mlen, CHECKPOINT, strlen(CHECKPOINT),
				       UINT64_MAX, &e) < 0);
	/* Ed25519 (0x01) keys ignore the timestamp */
	assert_true(note_sign_line(line, sizeof line, &k.log, CHECKPOINT, strlen(CHECKPOINT),
				   UINT64_MAX, &e) > 0);
}

static void test_note_sign_with_log_and_witness_keys_together(void **state)
{
	struct cosig_keys k;
	const struct note_signer *both[3];
	struct note_verifier keys[3];
	int verified[3];
	uint64_t t[3];
	char *msg;
	size_t len;

	(void)state;
	make_cosig_keys(&k);
	both[0] = &k.log;
	both[1] = &k.w;
	both[2] = &k.w2;
	msg = sign_text(CHECKPOINT, both, 3, 42, &len);
	keys[0] = k.vw2;
	keys[1] = k.vlog;
	keys[2] = k.vw;
	assert_int_equal(open_note(msg, len, keys, 3, verified, t, CHECKPOINT), 0);
	assert_int_equal(verified[0] + verified[1] + verified[2], 3);
	assert_true(t[0] == 42 && t[2] == 42);
	free(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_note_vectors_sign_and_open_as_specified),
		cmocka_unit_test(test_bad_verifier_keys_from_vectors_are_rejected),
		cmocka_unit_test(test_generated_keys_round_trip_through_their_text_forms),
		cmocka_unit_test(test_two_generated_keys_differ),
		cmocka_unit_test(test_key_id_depends_on_name_type_and_key),
		cmocka_unit_test(test_key_names_are_nonempty_utf8_without_spaces_plus_or_controls),
		cmocka_unit_test(test_signer_from_seed_refuses_bad_names_and_unknown_types),
		cmocka_unit_test(test_malformed_key_texts_are_rejected),
		cmocka_unit_test(test_note_signed_by_two_keys_opens_with_either_or_both),
		cmocka_unit_test(test_signatures_from_unknown_keys_are_ignored),
		cmocka_unit_test(test_a_failing_signature_from_a_known_key_rejects_the_note),
		cmocka_unit_test(test_a_known_name_with_another_key_id_is_an_unknown_key),
		cmocka_unit_test(test_a_signature_must_have_the_length_of_its_key_type),
		cmocka_unit_test(test_notes_up_to_the_size_limit_are_accepted_and_larger_ones_rejected),
		cmocka_unit_test(test_sixteen_signatures_all_verify),
		cmocka_unit_test(test_signatures_stay_right_while_threads_evict_loaded_keys),
		cmocka_unit_test(test_more_than_the_maximum_number_of_signature_lines_is_rejected),
		cmocka_unit_test(test_malformed_notes_are_rejected),
		cmocka_unit_test(test_texts_with_control_characters_or_bad_utf8_are_rejected),
		cmocka_unit_test(test_texts_with_utf8_and_blank_lines_are_fine),
		cmocka_unit_test(test_sign_refuses_texts_without_final_newline_and_zero_signers),
		cmocka_unit_test(test_cosignature_verifies_and_reports_its_timestamp),
		cmocka_unit_test(test_cosignature_signs_the_cosignature_v1_message),
		cmocka_unit_test(test_cosignature_over_other_text_or_time_fails),
		cmocka_unit_test(test_signature_type_is_bound_to_the_key),
		cmocka_unit_test(test_cosignature_timestamps_above_int64_max_are_refused),
		cmocka_unit_test(test_note_sign_with_log_and_witness_keys_together),
		cmocka_unit_test(test_a_small_order_key_that_signs_everything_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
