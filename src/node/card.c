/*
 * card.c — node cards (see card.h).
 */
#include "card.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "b64.h"

int card_name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > CARD_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

int card_addr_valid(const char *addr)
{
	const char *colon, *p;
	size_t n = strlen(addr);
	unsigned long port = 0;

	if (n == 0 || n > CARD_ADDR_MAX)
		return 0;
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		if (close == NULL || close == addr + 1 || close[1] != ':')
			return 0;
		for (p = addr + 1; p < close; p++)
			if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
			      (*p >= 'A' && *p <= 'F') || *p == ':' || *p == '.'))
				return 0;
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL || colon == addr)
			return 0;
		for (p = addr; p < colon; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
				return 0;
	}
	p = colon + 1;
	if (*p < '1' || *p > '9')
		return 0;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		port = port * 10 + (unsigned long)(*p - '0');
		if (port > 65535)
			return 0;
	}
	return 1;
}

/* The name and key lines, the part the fingerprint and signature cover
 * in common. */
static int card_key_lines(const struct card *c, char *buf, size_t cap)
{
	char l[B64_ENCLEN(32) + 1], k[B64_ENCLEN(32) + 1], t[B64_ENCLEN(32) + 1];
	int w;

	b64_encode(l, c->log_pub, 32);
	b64_encode(k, c->cosign_pub, 32);
	b64_encode(t, c->tls_pub, 32);
	w = snprintf(buf, cap, CARD_HEADER "\nname %s\nlog-key %s\ncosign-key %s\n"
		     "tls-key %s\n", c->name, l, k, t);
	return (w < 0 || (size_t)w >= cap) ? -1 : w;
}

void card_fingerprint(struct card *c)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	char buf[CARD_NAME_MAX + 256];
	uint8_t h[SHA256_DIGEST_LENGTH];
	int n = card_key_lines(c, buf, sizeof buf), i, o = 0;
	uint32_t acc = 0;
	int bits = 0;

	SHA256((const uint8_t *)buf, n < 0 ? 0 : (size_t)n, h);
	/* base32 of 10 bytes = 16 symbols, in groups of 4 */
	for (i = 0; i < 10; i++) {
		acc = acc << 8 | h[i];
		bits += 8;
		while (bits >= 5) {
			if (o == 4 || o == 9 || o == 14)
				c->fingerprint[o++] = '-';
			c->fingerprint[o++] = alpha[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	c->fingerprint[o] = '\0';
}

static int card_text(const struct card *c, char *buf, size_t cap, struct perr *e)
{
	struct card tmp = *c;
	size_t i, off;
	int w;

	if (!card_name_valid(c->name))
		return perr_set(e, "card: invalid node name");
	if (c->naddrs == 0 || c->naddrs > CARD_MAX_ADDRS)
		return perr_set(e, "card: a card needs 1 to %d addresses", CARD_MAX_ADDRS);
	w = card_key_lines(c, buf, cap);
	if (w < 0)
		return perr_set(e, "card: too long");
	off = (size_t)w;
	for (i = 0; i < c->naddrs; i++) {
		if (!card_addr_valid(c->addrs[i]))
			return perr_set(e, "card: invalid address \"%.64s\"", c->addrs[i]);
		w = snprintf(buf + off, cap - off, "addr %s\n", c->addrs[i]);
		if (w < 0 || (size_t)w >= cap - off)
			return perr_set(e, "card: too long");
		off += (size_t)w;
	}
	card_fingerprint(&tmp);
	w = snprintf(buf + off, cap - off, "fingerprint %s\n", tmp.fingerprint);
	if (w < 0 || (size_t)w >= cap - off)
		return perr_set(e, "card: too long");
	return (int)(off + (size_t)w);
}

int card_sign(const struct card *c, const struct note_signer *logkey,
	      char **out, size_t *outlen, struct perr *e)
{
	char buf[4096];
	const struct note_signer *signers[1] = { logkey };
	int n;

	if (logkey->alg != NOTE_ALG_ED25519 || strcmp(logkey->name, c->name) != 0 ||
	    memcmp(logkey->pub, c->log_pub, 32) != 0)
		return perr_set(e, "card: must be signed by the node's own log key");
	n = card_text(c, buf, sizeof buf, e);
	if (n < 0)
		return -1;
	return note_sign(out, outlen, buf, (size_t)n, signers, 1, 0, e);
}

void card_log_verifier(const struct card *c, const char *name,
		       struct note_verifier *v)
{
	memset(v, 0, sizeof *v);
	snprintf(v->name, sizeof v->name, "%s", name);
	v->alg = NOTE_ALG_ED25519;
	memcpy(v->pub, c->log_pub, 32);
	v->id = note_key_id(v->name, v->alg, v->pub);
}

void card_cosign_verifier(const struct card *c, struct note_verifier *v)
{
	memset(v, 0, sizeof *v);
	snprintf(v->name, sizeof v->name, "%s", c->name);
	v->alg = NOTE_ALG_COSIG;
	memcpy(v->pub, c->cosign_pub, 32);
	v->id = note_key_id(v->name, v->alg, v->pub);
}

/* Reads "<key> <value>\n" at *p; value must be non-empty. */
static int card_field(const char **p, const char *end, const char *key,
		      char *val, size_t cap)
{
	size_t kl = strlen(key);
	const char *nl;
	size_t vl;

	if ((size_t)(end - *p) < kl + 2 || memcmp(*p, key, kl) != 0 || (*p)[kl] != ' ')
		return -1;
	nl = memchr(*p + kl + 1, '\n', (size_t)(end - *p - (ptrdiff_t)kl - 1));
	if (nl == NULL)
		return -1;
	vl = (size_t)(nl - (*p + kl + 1));
	if (vl == 0 || vl >= cap)
		return -1;
	memcpy(val, *p + kl + 1, vl);
	val[vl] = '\0';
	*p = nl + 1;
	return 0;
}

static int card_key_field(const char **p, const char *end, const char *key,
			  uint8_t out[32], struct perr *e)
{
	char v[64];
	uint8_t raw[35];

	if (card_field(p, end, key, v, sizeof v) != 0)
		return perr_set(e, "card: missing or malformed \"%s\" line", key);
	if (b64_decode(raw, sizeof raw, v, strlen(v)) != 32)
		return perr_set(e, "card: \"%s\" is not a base64 32-byte key", key);
	memcpy(out, raw, 32);
	return 0;
}

int card_open(struct card *c, const char *msg, size_t len, struct perr *e)
{
	struct note *n;
	struct note_verifier v;
	char expect[4096], fpr[CARD_FPR_LEN + 8];
	const char *p, *end;
	int tl, rc = -1;

	memset(c, 0, sizeof *c);
	n = malloc(sizeof *n);
	if (n == NULL)
		return perr_set(e, "out of memory");
	if (note_parse(n, msg, len, e) != 0) {
		perr_wrap(e, "card");
		goto out;
	}
	p = n->text;
	end = n->text + n->textlen;
	if ((size_t)(end - p) < strlen(CARD_HEADER) + 1 ||
	    memcmp(p, CARD_HEADER "\n", strlen(CARD_HEADER) + 1) != 0) {
		perr_set(e, "card: first line is not \"%s\"", CARD_HEADER);
		goto out;
	}
	p += strlen(CARD_HEADER) + 1;
	if (card_field(&p, end, "name", c->name, sizeof c->name) != 0 ||
	    !card_name_valid(c->name)) {
		perr_set(e, "card: missing or invalid \"name\" line");
		goto out;
	}
	if (card_key_field(&p, end, "log-key", c->log_pub, e) != 0 ||
	    card_key_field(&p, end, "cosign-key", c->cosign_pub, e) != 0 ||
	    card_key_field(&p, end, "tls-key", c->tls_pub, e) != 0)
		goto out;
	while (c->naddrs < CARD_MAX_ADDRS &&
	       card_field(&p, end, "addr", c->addrs[c->naddrs], CARD_ADDR_MAX + 1) == 0) {
		if (!card_addr_valid(c->addrs[c->naddrs])) {
			perr_set(e, "card: invalid address \"%.64s\"", c->addrs[c->naddrs]);
			goto out;
		}
		c->naddrs++;
	}
	if (c->naddrs == 0) {
		perr_set(e, "card: no \"addr\" line");
		goto out;
	}
	if (card_field(&p, end, "fingerprint", fpr, sizeof fpr) != 0 || p != end) {
		perr_set(e, "card: expected a final \"fingerprint\" line");
		goto out;
	}
	card_fingerprint(c);
	if (strcmp(fpr, c->fingerprint) != 0) {
		perr_set(e, "card: fingerprint %s does not match its keys (%s)", fpr,
			 c->fingerprint);
		goto out;
	}
	/* The text must be exactly what card_sign writes (one form only). */
	tl = card_text(c, expect, sizeof expect, e);
	if (tl < 0 || (size_t)tl != n->textlen || memcmp(expect, n->text, n->textlen) != 0) {
		perr_set(e, "card: not in canonical form");
		goto out;
	}
	card_log_verifier(c, c->name, &v);
	if (note_open(n, msg, len, &v, 1, NULL, NULL, e) != 0) {
		perr_wrap(e, "card of %s", c->name);
		goto out;
	}
	rc = 0;
out:
	free(n);
	return rc;
}
