/*
 * note.c — C2SP signed notes, Ed25519 (0x01) and tlog-cosignature (0x04)
 * signatures, and the key text forms of golang.org/x/mod/sumdb/note.
 */
#include "note.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "b64.h"

#define NOTE_EMDASH "\xe2\x80\x94" /* U+2014, starts every signature line */
#define NOTE_ED25519_SIG 64
#define NOTE_SIG_MAX (4 + 8 + NOTE_ED25519_SIG)

/* Decodes one UTF-8 sequence at s (n bytes left); returns its length and
 * the code point, or 0 if invalid (overlong, surrogate, out of range). */
static size_t note_utf8(const uint8_t *s, size_t n, uint32_t *cp)
{
	uint32_t c;
	size_t len, i;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		c = s[0] & 0x1f;
		len = 2;
	} else if ((s[0] & 0xf0) == 0xe0) {
		c = s[0] & 0x0f;
		len = 3;
	} else if ((s[0] & 0xf8) == 0xf0) {
		c = s[0] & 0x07;
		len = 4;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) ||
	    (len == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Unicode White_Space, as Go's unicode.IsSpace. */
static int note_is_space(uint32_t c)
{
	return c == ' ' || (c >= 0x09 && c <= 0x0d) || c == 0x85 ||
	       c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
	       c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
	       c == 0x3000;
}

int note_name_valid(const char *name, size_t len)
{
	size_t i = 0, k;
	uint32_t c;

	if (len == 0 || len > NOTE_NAME_MAX)
		return 0;
	while (i < len) {
		k = note_utf8((const uint8_t *)name + i, len - i, &c);
		if (k == 0 || c < 0x20 || c == 0x7f || c == '+' || note_is_space(c))
			return 0;
		i += k;
	}
	return 1;
}

uint32_t note_key_id(const char *name, uint8_t alg, const uint8_t pub[32])
{
	uint8_t h[SHA256_DIGEST_LENGTH];
	SHA256_CTX c;
	static const uint8_t nl = '\n';

	SHA256_Init(&c);
	SHA256_Update(&c, name, strlen(name));
	SHA256_Update(&c, &nl, 1);
	SHA256_Update(&c, &alg, 1);
	SHA256_Update(&c, pub, 32);
	SHA256_Final(h, &c);
	return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

static int note_alg_known(uint8_t alg)
{
	return alg == NOTE_ALG_ED25519 || alg == NOTE_ALG_COSIG;
}

/* libsodium is set up once, by whichever thread needs it first. */
static pthread_once_t note_sodium_once = PTHREAD_ONCE_INIT;
static int note_sodium_ok;

static void note_sodium_init(void)
{
	note_sodium_ok = sodium_init() >= 0;
}

static int note_sodium(void)
{
	pthread_once(&note_sodium_once, note_sodium_init);
	return note_sodium_ok;
}

int note_signer_from_seed(struct note_signer *s, const char *name,
			  uint8_t alg, const uint8_t seed[32], struct perr *e)
{
	uint8_t sk[crypto_sign_ed25519_SECRETKEYBYTES];
	int rc;

	memset(s, 0, sizeof *s);
	if (!note_name_valid(name, strlen(name)))
		return perr_set(e, "invalid key name \"%.64s\": it must be non-empty, "
				"without spaces or '+'", name);
	if (!note_alg_known(alg))
		return perr_set(e, "unknown key type 0x%02x", alg);
	rc = note_sodium() ? crypto_sign_ed25519_seed_keypair(s->pub, sk, seed) : -1;
	sodium_memzero(sk, sizeof sk);
	if (rc != 0)
		return perr_set(e, "cannot derive the Ed25519 public key");
	strcpy(s->name, name);
	s->alg = alg;
	memcpy(s->seed, seed, 32);
	s->id = note_key_id(name, alg, s->pub);
	return 0;
}

int note_keygen(struct note_signer *s, const char *name, uint8_t alg,
		struct perr *e)
{
	uint8_t seed[32];
	int rc;

	if (RAND_priv_bytes(seed, sizeof seed) != 1)
		return perr_set(e, "random number generator failed");
	rc = note_signer_from_seed(s, name, alg, seed, e);
	OPENSSL_cleanse(seed, sizeof seed);
	return rc;
}

/* ---- loaded keys ----------------------------------------------------------
 *
 * Keys are derived and signatures made and checked with libsodium (RFC
 * 8032 Ed25519, the same bytes as OpenSSL's, which makes the seeds here
 * and runs TLS): in bench/node a node spends a sixth of its event loop signing the
 * checkpoint of every run it sends, and each FLASH waits for two checks of
 * a signed checkpoint; on this project's machines libsodium signs in 20 µs
 * and checks in 54 where OpenSSL 3.0 takes 57 and 141 (BENCHMARKS.md, the
 * eleventh session).  libsodium also refuses public keys and signature
 * points of small order, which no honest key has.
 *
 * Signing needs the expanded secret key (seed and public key), whose
 * derivation is a scalar multiplication, about as dear as a signature, and
 * a node signs for every batch it logs and every run it sends.  The keys
 * in use are therefore kept expanded: a few slots, shared by all threads
 * under a lock.  note_signer_wipe wipes the slot of the key it wipes. */

#define NOTE_SK_SLOTS 8

struct note_sk_slot {
	int used;
	uint8_t seed[32];
	uint8_t sk[crypto_sign_ed25519_SECRETKEYBYTES];
};

static pthread_mutex_t note_sk_lock = PTHREAD_MUTEX_INITIALIZER;
static struct note_sk_slot note_sk_slots[NOTE_SK_SLOTS];
static unsigned note_sk_next;
/* The expanded secret key of seed, into sk.  0, or -1. */
static int note_sk_get(const uint8_t seed[32], uint8_t sk[crypto_sign_ed25519_SECRETKEYBYTES])
{
	uint8_t pk[crypto_sign_ed25519_PUBLICKEYBYTES];
	struct note_sk_slot *sl;
	size_t i;
	int found = 0;

	if (!note_sodium())
		return -1;
	pthread_mutex_lock(&note_sk_lock);
	for (i = 0; i < NOTE_SK_SLOTS && !found; i++) {
		sl = &note_sk_slots[i];
		if (sl->used && sodium_memcmp(sl->seed, seed, 32) == 0) {
			memcpy(sk, sl->sk, crypto_sign_ed25519_SECRETKEYBYTES);
			found = 1;
		}
	}
	pthread_mutex_unlock(&note_sk_lock);
	if (found)
		return 0;
	if (crypto_sign_ed25519_seed_keypair(pk, sk, seed) != 0)
		return -1;
	pthread_mutex_lock(&note_sk_lock);
	sl = &note_sk_slots[note_sk_next++ % NOTE_SK_SLOTS];
	sodium_memzero(sl, sizeof *sl);
	sl->used = 1;
	memcpy(sl->seed, seed, 32);
	memcpy(sl->sk, sk, crypto_sign_ed25519_SECRETKEYBYTES);
	pthread_mutex_unlock(&note_sk_lock);
	return 0;
}

static void note_sk_drop(const uint8_t seed[32])
{
	size_t i;

	pthread_mutex_lock(&note_sk_lock);
	for (i = 0; i < NOTE_SK_SLOTS; i++) {
		struct note_sk_slot *sl = &note_sk_slots[i];
		if (sl->used && sodium_memcmp(sl->seed, seed, 32) == 0)
			sodium_memzero(sl, sizeof *sl);
	}
	pthread_mutex_unlock(&note_sk_lock);
}

void note_signer_wipe(struct note_signer *s)
{
	note_sk_drop(s->seed);
	OPENSSL_cleanse(s, sizeof *s);
}

void note_signer_verifier(const struct note_signer *s, struct note_verifier *v)
{
	memset(v, 0, sizeof *v);
	strcpy(v->name, s->name);
	v->alg = s->alg;
	v->id = s->id;
	memcpy(v->pub, s->pub, 32);
}

/* Splits "name+hex8+base64" (the tail of both key forms). */
static int note_key_fields(const char *text, size_t len, char *name,
			   uint32_t *id, uint8_t *alg, uint8_t key[32],
			   struct perr *e)
{
	const char *p1, *p2;
	uint8_t raw[40];
	uint32_t hv = 0;
	size_t namelen, i;
	long n;

	p1 = memchr(text, '+', len);
	if (p1 == NULL)
		return perr_set(e, "malformed key: expected name+id+key");
	namelen = (size_t)(p1 - text);
	p2 = memchr(p1 + 1, '+', len - namelen - 1);
	if (p2 == NULL || p2 - p1 - 1 != 8)
		return perr_set(e, "malformed key: the key id must be 8 hex digits");
	if (!note_name_valid(text, namelen))
		return perr_set(e, "malformed key: invalid key name");
	for (i = 0; i < 8; i++) {
		char c = p1[1 + i];
		int d = (c >= '0' && c <= '9') ? c - '0' :
			(c >= 'a' && c <= 'f') ? c - 'a' + 10 :
			(c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
		if (d < 0)
			return perr_set(e, "malformed key: the key id must be 8 hex digits");
		hv = hv << 4 | (uint32_t)d;
	}
	n = b64_decode(raw, sizeof raw, p2 + 1, len - (size_t)(p2 + 1 - text));
	if (n < 1)
		return perr_set(e, "malformed key: key material is not base64");
	if (!note_alg_known(raw[0]))
		return perr_set(e, "unknown key type 0x%02x", raw[0]);
	if (n != 33)
		return perr_set(e, "malformed key: wrong key length %ld", n - 1);
	memcpy(name, text, namelen);
	name[namelen] = '\0';
	*id = hv;
	*alg = raw[0];
	memcpy(key, raw + 1, 32);
	OPENSSL_cleanse(raw, sizeof raw);
	return 0;
}

/* Trims one trailing newline (key files) but nothing else. */
static size_t note_trim(const char *text, size_t len)
{
	if (len > 0 && text[len - 1] == '\n')
		len--;
	return len;
}

int note_verifier_parse(struct note_verifier *v, const char *text, size_t len,
			struct perr *e)
{
	memset(v, 0, sizeof *v);
	len = note_trim(text, len);
	if (len > NOTE_KEY_TEXT_MAX)
		return perr_set(e, "malformed key: too long");
	if (len >= 12 && memcmp(text, "PRIVATE+KEY+", 12) == 0)
		return perr_set(e, "this is a private signer key, not a verifier key");
	if (note_key_fields(text, len, v->name, &v->id, &v->alg, v->pub, e) != 0)
		return -1;
	if (note_key_id(v->name, v->alg, v->pub) != v->id)
		return perr_set(e, "key id does not match name and key");
	return 0;
}

int note_signer_parse(struct note_signer *s, const char *text, size_t len,
		      struct perr *e)
{
	char name[NOTE_NAME_MAX + 1];
	uint8_t seed[32], alg;
	uint32_t id;
	int rc;

	len = note_trim(text, len);
	if (len > NOTE_KEY_TEXT_MAX)
		return perr_set(e, "malformed signer key: too long");
	if (len < 12 || memcmp(text, "PRIVATE+KEY+", 12) != 0)
		return perr_set(e, "malformed signer key: must start with PRIVATE+KEY+");
	if (note_key_fields(text + 12, len - 12, name, &id, &alg, seed, e) != 0)
		return -1;
	rc = note_signer_from_seed(s, name, alg, seed, e);
	OPENSSL_cleanse(seed, sizeof seed);
	if (rc != 0)
		return -1;
	if (s->id != id) {
		note_signer_wipe(s);
		return perr_set(e, "signer key id does not match name and key");
	}
	return 0;
}

static int note_key_format(char *buf, size_t cap, const char *prefix,
			   const char *name, uint32_t id, uint8_t alg,
			   const uint8_t key[32])
{
	uint8_t raw[33];
	char b64[B64_ENCLEN(33) + 1];
	int w;

	raw[0] = alg;
	memcpy(raw + 1, key, 32);
	b64_encode(b64, raw, sizeof raw);
	w = snprintf(buf, cap, "%s%s+%08x+%s", prefix, name, id, b64);
	OPENSSL_cleanse(raw, sizeof raw);
	OPENSSL_cleanse(b64, sizeof b64);
	return (w < 0 || (size_t)w >= cap) ? -1 : 0;
}

int note_signer_format(const struct note_signer *s, char *buf, size_t cap)
{
	return note_key_format(buf, cap, "PRIVATE+KEY+", s->name, s->id, s->alg,
			       s->seed);
}

int note_verifier_format(const struct note_verifier *v, char *buf, size_t cap)
{
	return note_key_format(buf, cap, "", v->name, v->id, v->alg, v->pub);
}

int note_parse(struct note *n, const char *msg, size_t len, struct perr *e)
{
	const uint8_t *m = (const uint8_t *)msg;
	size_t i, k, split;
	uint32_t c;

	memset(n, 0, sizeof *n);
	if (len > NOTE_MAX_SIZE)
		return perr_set(e, "signed note is %zu bytes, over the %d-byte limit",
				len, NOTE_MAX_SIZE);
	if (len == 0 || msg[len - 1] != '\n')
		return perr_set(e, "malformed note: does not end in a newline");
	for (i = 0; i < len; i += k) {
		k = note_utf8(m + i, len - i, &c);
		if (k == 0)
			return perr_set(e, "malformed note: invalid UTF-8 at byte %zu", i);
		if ((c < 0x20 && c != '\n') || c == 0x7f)
			return perr_set(e, "malformed note: control character at byte %zu", i);
	}
	/* The text ends at the last blank line. */
	split = 0;
	for (i = len - 1; i > 0; i--) {
		if (msg[i] == '\n' && msg[i - 1] == '\n') {
			split = i;
			break;
		}
	}
	if (split == 0)
		return perr_set(e, "malformed note: no blank line before the signatures");
	n->text = msg;
	n->textlen = split; /* includes the text's final newline */
	i = split + 1;
	if (i >= len)
		return perr_set(e, "malformed note: no signatures");
	while (i < len) {
		const char *line = msg + i, *nl, *sp;
		struct note_sig *s;
		uint8_t raw[8];
		long dn;
		size_t linelen;

		nl = memchr(line, '\n', len - i);
		linelen = (size_t)(nl - line);
		if (linelen < 4 || memcmp(line, NOTE_EMDASH " ", 4) != 0)
			return perr_set(e, "malformed note: signature line %zu does not start "
					"with an em dash", n->nsigs + 1);
		if (n->nsigs >= NOTE_MAX_SIGS)
			return perr_set(e, "note has more than %d signatures", NOTE_MAX_SIGS);
		s = &n->sigs[n->nsigs];
		s->name = line + 4;
		sp = memchr(s->name, ' ', linelen - 4);
		if (sp == NULL)
			return perr_set(e, "malformed note: signature line %zu has no signature",
					n->nsigs + 1);
		s->namelen = (size_t)(sp - s->name);
		if (!note_name_valid(s->name, s->namelen))
			return perr_set(e, "malformed note: invalid key name on signature line %zu",
					n->nsigs + 1);
		s->b64 = sp + 1;
		s->b64len = (size_t)(nl - s->b64);
		/* id || signature, at least one signature byte (as Go's note) */
		if (s->b64len < 8 || s->b64len % 4 != 0)
			return perr_set(e, "malformed note: bad signature on line %zu",
					n->nsigs + 1);
		{
			uint8_t *tmp = malloc(s->b64len);
			if (tmp == NULL)
				return perr_set(e, "out of memory");
			dn = b64_decode(tmp, s->b64len, s->b64, s->b64len);
			if (dn >= 5)
				memcpy(raw, tmp, 4);
			free(tmp);
		}
		if (dn < 5)
			return perr_set(e, "malformed note: bad signature on line %zu",
					n->nsigs + 1);
		s->id = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 |
			(uint32_t)raw[2] << 8 | raw[3];
		n->nsigs++;
		i += linelen + 1;
	}
	return 0;
}

static int note_ed25519_verify(const uint8_t pub[32], const uint8_t *msg,
			       size_t len, const uint8_t sig[64])
{
	return note_sodium() &&
	       crypto_sign_ed25519_verify_detached(sig, msg, len, pub) == 0;
}

static int note_ed25519_sign(const uint8_t seed[32], const uint8_t *msg,
			     size_t len, uint8_t sig[64])
{
	uint8_t sk[crypto_sign_ed25519_SECRETKEYBYTES];
	int rc;

	if (note_sk_get(seed, sk) != 0)
		return -1;
	rc = crypto_sign_ed25519_detached(sig, NULL, msg, len, sk);
	sodium_memzero(sk, sizeof sk);
	return rc == 0 ? 0 : -1;
}

int note_cosig_message(uint8_t **out, size_t *outlen, const char *text,
		       size_t textlen, uint64_t t, struct perr *e)
{
	char head[64];
	int w;

	/* tlog-cosignature: "cosignature/v1\ntime <T>\n" || checkpoint body */
	if (t > (uint64_t)INT64_MAX)
		return perr_set(e, "cosignature timestamp exceeds 2^63-1");
	w = snprintf(head, sizeof head, "cosignature/v1\ntime %llu\n",
		     (unsigned long long)t);
	*out = malloc((size_t)w + textlen);
	if (*out == NULL)
		return perr_set(e, "out of memory");
	memcpy(*out, head, (size_t)w);
	memcpy(*out + w, text, textlen);
	*outlen = (size_t)w + textlen;
	return 0;
}

/* Verifies one signature line against key k.  Returns 1 ok, 0 bad. */
static int note_check_sig(const struct note *n, const struct note_sig *s,
			  const struct note_verifier *k, uint64_t *time)
{
	uint8_t raw[NOTE_SIG_MAX + 3];
	long dn;

	dn = b64_decode(raw, sizeof raw, s->b64, s->b64len);
	if (k->alg == NOTE_ALG_ED25519) {
		if (dn != 4 + NOTE_ED25519_SIG)
			return 0;
		return note_ed25519_verify(k->pub, (const uint8_t *)n->text,
					   n->textlen, raw + 4);
	}
	if (k->alg == NOTE_ALG_COSIG) {
		uint8_t *msg;
		size_t mlen;
		uint64_t t = 0;
		int i, ok;

		if (dn != 4 + 8 + NOTE_ED25519_SIG)
			return 0;
		for (i = 0; i < 8; i++)
			t = t << 8 | raw[4 + i];
		if (note_cosig_message(&msg, &mlen, n->text, n->textlen, t, NULL) != 0)
			return 0;
		ok = note_ed25519_verify(k->pub, msg, mlen, raw + 12);
		free(msg);
		if (ok && time != NULL)
			*time = t;
		return ok;
	}
	return 0;
}

int note_open(struct note *n, const char *msg, size_t len,
	      const struct note_verifier *keys, size_t nkeys, int *verified,
	      uint64_t *times, struct perr *e)
{
	size_t i, k;
	int any = 0;

	if (note_parse(n, msg, len, e) != 0)
		return -1;
	if (verified != NULL)
		memset(verified, 0, nkeys * sizeof *verified);
	for (i = 0; i < n->nsigs; i++) {
		const struct note_sig *s = &n->sigs[i];
		for (k = 0; k < nkeys; k++) {
			uint64_t t = 0;
			if (keys[k].id != s->id || strlen(keys[k].name) != s->namelen ||
			    memcmp(keys[k].name, s->name, s->namelen) != 0)
				continue;
			if (!note_check_sig(n, s, &keys[k], &t))
				return perr_set(e, "signature by %s (key %08x) does not verify",
						keys[k].name, keys[k].id);
			any = 1;
			if (verified != NULL)
				verified[k] = 1;
			if (times != NULL)
				times[k] = t;
		}
	}
	if (!any)
		return perr_set(e, "note has no signature from a known key");
	return 0;
}

long note_sign_line(char *buf, size_t cap, const struct note_signer *s,
		    const char *text, size_t textlen, uint64_t timestamp,
		    struct perr *e)
{
	uint8_t raw[NOTE_SIG_MAX];
	char b64[B64_ENCLEN(NOTE_SIG_MAX) + 1];
	size_t rawlen;
	int w, i;

	if (textlen == 0 || text[textlen - 1] != '\n')
		return perr_set(e, "note text must end in a newline");
	raw[0] = (uint8_t)(s->id >> 24);
	raw[1] = (uint8_t)(s->id >> 16);
	raw[2] = (uint8_t)(s->id >> 8);
	raw[3] = (uint8_t)s->id;
	if (s->alg == NOTE_ALG_ED25519) {
		if (note_ed25519_sign(s->seed, (const uint8_t *)text, textlen, raw + 4) != 0)
			return perr_set(e, "Ed25519 signing failed");
		rawlen = 4 + NOTE_ED25519_SIG;
	} else if (s->alg == NOTE_ALG_COSIG) {
		uint8_t *msg;
		size_t mlen;
		int rc;
		if (note_cosig_message(&msg, &mlen, text, textlen, timestamp, e) != 0)
			return -1;
		for (i = 0; i < 8; i++)
			raw[4 + i] = (uint8_t)(timestamp >> (56 - 8 * i));
		rc = note_ed25519_sign(s->seed, msg, mlen, raw + 12);
		free(msg);
		if (rc != 0)
			return perr_set(e, "Ed25519 signing failed");
		rawlen = 4 + 8 + NOTE_ED25519_SIG;
	} else {
		return perr_set(e, "unknown key type 0x%02x", s->alg);
	}
	b64_encode(b64, raw, rawlen);
	w = snprintf(buf, cap, NOTE_EMDASH " %s %s\n", s->name, b64);
	if (w < 0 || (size_t)w >= cap)
		return perr_set(e, "signature line does not fit");
	return w;
}

int note_sign(char **out, size_t *outlen, const char *text, size_t textlen,
	      const struct note_signer *const *signers, size_t nsigners,
	      uint64_t timestamp, struct perr *e)
{
	size_t cap, off, i;
	char *buf;

	if (nsigners == 0 || nsigners > NOTE_MAX_SIGS)
		return perr_set(e, "a note needs 1 to %d signers", NOTE_MAX_SIGS);
	if (textlen == 0 || text[textlen - 1] != '\n')
		return perr_set(e, "note text must end in a newline");
	cap = textlen + 1 + nsigners * (NOTE_NAME_MAX + 8 + B64_ENCLEN(NOTE_SIG_MAX)) + 1;
	buf = malloc(cap);
	if (buf == NULL)
		return perr_set(e, "out of memory");
	memcpy(buf, text, textlen);
	off = textlen;
	buf[off++] = '\n';
	for (i = 0; i < nsigners; i++) {
		long w = note_sign_line(buf + off, cap - off, signers[i], text,
					textlen, timestamp, e);
		if (w < 0) {
			free(buf);
			return -1;
		}
		off += (size_t)w;
	}
	buf[off] = '\0';
	if (off > NOTE_MAX_SIZE) {
		free(buf);
		return perr_set(e, "signed note would exceed %d bytes", NOTE_MAX_SIZE);
	}
	{
		/* Refuse to produce a note that would not parse (control
		 * characters in the text, bad UTF-8). */
		struct note *chk = malloc(sizeof *chk);
		int rc;
		if (chk == NULL) {
			free(buf);
			return perr_set(e, "out of memory");
		}
		rc = note_parse(chk, buf, off, e);
		free(chk);
		if (rc != 0) {
			free(buf);
			return -1;
		}
	}
	*out = buf;
	*outlen = off;
	return 0;
}
