/*
 * fuzz_tlogproof.c — libFuzzer target: C2SP tlog-proof v1.
 *
 * tlogproof_parse keeps the checkpoint note verbatim and decodes the rest
 * strictly, so whenever it accepts the input, tlogproof_format of the parsed
 * fields (extra, index, audit path, note) must give back the input exactly.
 * A failure must leave one line in the perr and nothing to free.
 *
 * Parsed proofs are then verified against the fixed keys of fuzzkey.h, with
 * no cosigner and with the witness as required cosigner.  The entry is the
 * proof's extra data (empty without it): the seed corpus puts each proof's
 * entry there, so mutations of a valid proof reach the Merkle check with
 * real hashes instead of stopping at the signature.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "fuzzkey.h"
#include "tlogproof.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_verify(const struct tlogproof *p, const struct note_verifier keys[2])
{
	const void *entry = p->has_extra ? (const void *)p->extra : "";
	size_t ncos;

	for (ncos = 0; ncos <= 1; ncos++) {
		struct checkpoint cp;
		struct perr e;

		fuzz_err_init(&e);
		if (tlogproof_verify(p, entry, p->extralen, &keys[0], &keys[1], ncos, &cp,
				     &e) != 0) {
			fuzz_check_err("tlogproof_verify", &e);
			continue;
		}
		if (p->index >= cp.size)
			fuzz_die("tlogproof_verify", "accepted an index outside the tree");
		if (strcmp(cp.origin, keys[0].name) != 0)
			fuzz_die("tlogproof_verify", "accepted a checkpoint of another origin");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct note_verifier keys[2];
	static int have_keys;
	const char *text = (const char *)data;
	struct tlogproof p;
	struct perr e;
	char *out;
	size_t outlen;

	if (!have_keys) {
		fuzz_keys(keys);
		have_keys = 1;
	}
	fuzz_err_init(&e);
	if (tlogproof_parse(&p, text, size, &e) != 0) {
		fuzz_check_err("tlogproof_parse", &e);
		if (p.extra != NULL)
			fuzz_die("tlogproof_parse", "failed but left extra data allocated");
		return 0;
	}
	if (p.prooflen > MERKLE_MAX_PROOF)
		fuzz_die("tlogproof_parse", "audit path longer than MERKLE_MAX_PROOF");
	if (p.notelen == 0 || p.note + p.notelen != text + size)
		fuzz_die("tlogproof_parse", "the note is not the rest of the input");
	if (p.has_extra ? p.extra == NULL : (p.extra != NULL || p.extralen != 0))
		fuzz_die("tlogproof_parse", "extra fields disagree with has_extra");

	if (tlogproof_format(&out, &outlen, p.has_extra ? p.extra : NULL, p.extralen,
			     p.index, p.proof, p.prooflen, p.note, p.notelen, &e) != 0)
		fuzz_die("tlogproof_format: refuses what tlogproof_parse accepted", e.msg);
	if (outlen != size || memcmp(out, text, size) != 0 || out[outlen] != '\0')
		fuzz_die("tlogproof_format", "does not reproduce the parsed proof");
	free(out);

	fuzz_verify(&p, keys);
	tlogproof_free(&p);
	return 0;
}
