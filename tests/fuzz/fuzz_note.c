/*
 * fuzz_note.c — libFuzzer target: C2SP signed notes and key texts.
 *
 * The input is read, as it is (not NUL-terminated), as
 *   - a signed note: note_parse, then note_open against the fixed log key
 *     (0x01) and witness key (0x04) of fuzzkey.h;
 *   - a verifier key and a signer key text.
 * Besides "no crash, no sanitizer report" it checks what callers rely on:
 *   - a parsed note is the input: text + "\n" + its signature lines,
 *     rebuilt from the parsed fields, reproduce the input byte for byte;
 *   - note_open accepts nothing that note_parse refuses, and on success
 *     reports at least one verified key;
 *   - a parsed key formats to a text that parses to the same key;
 *   - every failure leaves one line, without a newline, in the perr.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzkey.h"
#include "note.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_EMDASH "\xe2\x80\x94"

/* Rebuilds the note from its parsed fields; it must equal the input. */
static void fuzz_note_rebuild(const struct note *n, const char *msg, size_t len)
{
	size_t off, i;

	if (n->text != msg || n->textlen == 0 || n->textlen >= len)
		fuzz_die("note_parse", "text is not a proper prefix of the input");
	if (msg[n->textlen - 1] != '\n' || msg[n->textlen] != '\n')
		fuzz_die("note_parse", "text is not followed by a blank line");
	if (n->nsigs == 0 || n->nsigs > NOTE_MAX_SIGS)
		fuzz_die("note_parse", "signature count out of range");
	off = n->textlen + 1;
	for (i = 0; i < n->nsigs; i++) {
		const struct note_sig *s = &n->sigs[i];
		if (off + 4 > len || memcmp(msg + off, FUZZ_EMDASH " ", 4) != 0)
			fuzz_die("note_parse", "signature line does not start with an em dash");
		off += 4;
		if (s->name != msg + off || !note_name_valid(s->name, s->namelen))
			fuzz_die("note_parse", "signature name is not where the line has it");
		off += s->namelen;
		if (off >= len || msg[off] != ' ' || s->b64 != msg + off + 1)
			fuzz_die("note_parse", "signature does not follow the name");
		off += 1 + s->b64len;
		if (off >= len || msg[off] != '\n')
			fuzz_die("note_parse", "signature line does not end at a newline");
		off++;
	}
	if (off != len)
		fuzz_die("note_parse", "input continues after the last signature line");
}

static void fuzz_note_keys(const char *text, size_t len)
{
	struct note_verifier v, v2;
	struct note_signer s, s2;
	char buf[NOTE_KEY_TEXT_MAX + 16];
	struct perr e;

	fuzz_err_init(&e);
	if (note_verifier_parse(&v, text, len, &e) == 0) {
		if (!note_name_valid(v.name, strlen(v.name)))
			fuzz_die("note_verifier_parse", "accepted an invalid key name");
		if (note_verifier_format(&v, buf, sizeof buf) != 0)
			fuzz_die("note_verifier_format", "a parsed key does not format");
		if (note_verifier_parse(&v2, buf, strlen(buf), &e) != 0)
			fuzz_die("note_verifier_parse", "its own output does not parse");
		if (memcmp(&v, &v2, sizeof v) != 0)
			fuzz_die("note_verifier_format", "round trip changed the key");
	} else {
		fuzz_check_err("note_verifier_parse", &e);
	}

	fuzz_err_init(&e);
	if (note_signer_parse(&s, text, len, &e) == 0) {
		if (note_signer_format(&s, buf, sizeof buf) != 0)
			fuzz_die("note_signer_format", "a parsed key does not format");
		if (note_signer_parse(&s2, buf, strlen(buf), &e) != 0)
			fuzz_die("note_signer_parse", "its own output does not parse");
		if (memcmp(&s, &s2, sizeof s) != 0)
			fuzz_die("note_signer_format", "round trip changed the key");
		note_signer_wipe(&s);
		note_signer_wipe(&s2);
	} else {
		fuzz_check_err("note_signer_parse", &e);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct note_verifier keys[2];
	static int have_keys;
	const char *msg = (const char *)data;
	struct note *n;
	struct perr e;
	int parsed, opened, verified[2];
	uint64_t times[2];

	if (!have_keys) {
		fuzz_keys(keys);
		have_keys = 1;
	}
	/* struct note is large (100 signature slots): heap, as the CLI does. */
	n = malloc(sizeof *n);
	if (n == NULL)
		return 0;

	fuzz_err_init(&e);
	parsed = note_parse(n, msg, size, &e) == 0;
	if (parsed)
		fuzz_note_rebuild(n, msg, size);
	else
		fuzz_check_err("note_parse", &e);

	fuzz_err_init(&e);
	opened = note_open(n, msg, size, keys, 2, verified, times, &e) == 0;
	if (opened) {
		if (!parsed)
			fuzz_die("note_open", "opened a note that note_parse refuses");
		if (!verified[0] && !verified[1])
			fuzz_die("note_open", "succeeded with no verified key");
	} else {
		fuzz_check_err("note_open", &e);
	}
	free(n);

	fuzz_note_keys(msg, size);
	return 0;
}
