/*
 * checkpoint.c — strict tlog-checkpoint parsing and formatting.
 */
#include "checkpoint.h"

#include <stdio.h>
#include <string.h>

#include "b64.h"

int checkpoint_parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < len; i++) {
		unsigned d;
		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Returns the length of the line starting at p (up to, not including, the
 * newline), or -1 if no newline follows within end. */
static long checkpoint_line(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl == NULL ? -1 : (long)(nl - p);
}

int checkpoint_parse(struct checkpoint *c, const char *text, size_t len,
		     struct perr *e)
{
	const char *p = text, *end = text + len;
	long n;
	size_t i;

	memset(c, 0, sizeof *c);
	/* origin */
	n = checkpoint_line(p, end);
	if (n < 0)
		return perr_set(e, "checkpoint: missing origin line");
	if (n == 0)
		return perr_set(e, "checkpoint: empty origin");
	if (n > CHECKPOINT_ORIGIN_MAX)
		return perr_set(e, "checkpoint: origin longer than %d bytes",
				CHECKPOINT_ORIGIN_MAX);
	for (i = 0; i < (size_t)n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return perr_set(e, "checkpoint: control character in origin");
	memcpy(c->origin, p, (size_t)n);
	c->origin[n] = '\0';
	p += n + 1;
	/* size */
	n = checkpoint_line(p, end);
	if (n < 0)
		return perr_set(e, "checkpoint: missing size line");
	if (checkpoint_parse_u64(p, (size_t)n, &c->size) != 0)
		return perr_set(e, "checkpoint: size \"%.*s\" is not a decimal number "
				"without leading zeros", (int)(n < 24 ? n : 24), p);
	p += n + 1;
	/* root */
	n = checkpoint_line(p, end);
	if (n < 0)
		return perr_set(e, "checkpoint: missing root hash line");
	if (merkle_hash_from_b64(c->root, p, (size_t)n, e) != 0)
		return perr_wrap(e, "checkpoint: root hash");
	p += n + 1;
	/* extension lines */
	while (p < end) {
		n = checkpoint_line(p, end);
		if (n < 0)
			return perr_set(e, "checkpoint: text does not end in a newline");
		if (n == 0)
			return perr_set(e, "checkpoint: empty extension line");
		if (c->next >= CHECKPOINT_MAX_EXT)
			return perr_set(e, "checkpoint: more than %d extension lines",
					CHECKPOINT_MAX_EXT);
		c->ext[c->next] = p;
		c->extlen[c->next] = (size_t)n;
		c->next++;
		p += n + 1;
	}
	return 0;
}

long checkpoint_format(const struct checkpoint *c, char *buf, size_t cap,
		       struct perr *e)
{
	char root[B64_ENCLEN(MERKLE_HASH) + 1];
	size_t i, off;
	int w;

	for (i = 0; c->origin[i] != '\0'; i++)
		if ((unsigned char)c->origin[i] < 0x20 || c->origin[i] == 0x7f)
			return perr_set(e, "checkpoint: control character in origin");
	if (i == 0)
		return perr_set(e, "checkpoint: empty origin");
	b64_encode(root, c->root, MERKLE_HASH);
	w = snprintf(buf, cap, "%s\n%llu\n%s\n", c->origin,
		     (unsigned long long)c->size, root);
	if (w < 0 || (size_t)w >= cap)
		return perr_set(e, "checkpoint: buffer too small");
	off = (size_t)w;
	for (i = 0; i < c->next; i++) {
		if (c->extlen[i] == 0 || memchr(c->ext[i], '\n', c->extlen[i]) != NULL)
			return perr_set(e, "checkpoint: invalid extension line");
		if (off + c->extlen[i] + 2 > cap)
			return perr_set(e, "checkpoint: buffer too small");
		memcpy(buf + off, c->ext[i], c->extlen[i]);
		off += c->extlen[i];
		buf[off++] = '\n';
	}
	buf[off] = '\0';
	return (long)off;
}
