/*
 * log.c — `parley log ...`: Merkle logs of arbitrary bytes on a file.
 *
 * The log's signer key is kept in the database (meta "log-key"), which is
 * created private (0600), so that `checkpoint`, `prove` and `export` can
 * sign without another argument.  The origin is the key's name.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "b64.h"
#include "checkpoint.h"
#include "export.h"
#include "store.h"
#include "tile.h"
#include "tlogproof.h"

#define LOG_LINES_BATCH 1024

struct log_ctx {
	struct store *s;
	struct store_log *l;
};

static int log_open(struct log_ctx *c, const char *db, struct perr *e)
{
	c->s = NULL;
	if (store_open(&c->s, db, 0, NULL, e) != 0)
		return -1;
	if (store_log_open(c->s, NULL, &c->l, e) != 0) {
		store_close(c->s);
		return -1;
	}
	return 0;
}

static int log_signer(struct log_ctx *c, struct note_signer *k, struct perr *e)
{
	char *text;
	size_t len;
	int rc;

	if (store_meta_get(c->s, "log-key", &text, &len, e) != 0)
		return perr_set(e, "the store holds no log key");
	rc = note_signer_parse(k, text, len, e);
	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

/* Signs the checkpoint of the log at size into a malloc'd note. */
static int log_checkpoint(struct log_ctx *c, uint64_t size, char **note,
			  size_t *notelen, struct perr *e)
{
	struct note_signer k;
	const struct note_signer *signers[1] = { &k };
	struct checkpoint cp;
	char text[CHECKPOINT_ORIGIN_MAX + 128];
	long tl;
	int rc;

	memset(&cp, 0, sizeof cp);
	if (store_root(c->l, size, cp.root, e) != 0)
		return -1;
	snprintf(cp.origin, sizeof cp.origin, "%s", store_log_origin(c->l));
	cp.size = size;
	tl = checkpoint_format(&cp, text, sizeof text, e);
	if (tl < 0)
		return -1;
	if (log_signer(c, &k, e) != 0)
		return -1;
	rc = note_sign(note, notelen, text, (size_t)tl, signers, 1, 0, e);
	note_signer_wipe(&k);
	return rc;
}

static int log_init(int argc, char **argv)
{
	static const char usage[] = "parley log init DB --key KEYFILE";
	const char *db = NULL, *keyfile = NULL;
	struct note_signer k;
	char text[NOTE_KEY_TEXT_MAX + 1];
	struct store *s;
	struct perr e;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
			keyfile = argv[++i];
		else if (argv[i][0] != '-' && db == NULL)
			db = argv[i];
		else
			return cli_usage(usage);
	}
	if (db == NULL || keyfile == NULL)
		return cli_usage(usage);
	if (cli_load_signer(keyfile, &k, &e) != 0)
		return cli_fail("%s", e.msg);
	if (k.alg != NOTE_ALG_ED25519) {
		note_signer_wipe(&k);
		return cli_fail("%s: a log key must be an Ed25519 (0x01) key, not a "
				"cosigner key", keyfile);
	}
	if (store_open(&s, db, 1, NULL, &e) != 0) {
		note_signer_wipe(&k);
		return cli_fail("%s", e.msg);
	}
	note_signer_format(&k, text, sizeof text);
	rc = store_begin(s, &e) || store_log_create(s, k.name, &e) ||
	     store_meta_set(s, "log-key", text, strlen(text), &e) || store_commit(s, &e);
	OPENSSL_cleanse(text, sizeof text);
	if (rc != 0) {
		store_close(s);
		remove(db);
		note_signer_wipe(&k);
		return cli_fail("%s", e.msg);
	}
	printf("%s\n", k.name);
	note_signer_wipe(&k);
	store_close(s);
	return 0;
}

static int log_append_batch(struct log_ctx *c, char **bufs, size_t *lens,
			    size_t n, struct perr *e)
{
	uint64_t first;
	size_t i;

	if (store_append(c->l, (const void *const *)bufs, lens, n, &first, e) != 0)
		return -1;
	for (i = 0; i < n; i++)
		printf("%llu\n", (unsigned long long)(first + i));
	fflush(stdout);
	return 0;
}

static int log_append(int argc, char **argv)
{
	static const char usage[] = "parley log append DB [FILE...] [--lines]";
	const char *db = NULL;
	char **files = calloc((size_t)argc, sizeof *files);
	size_t nfiles = 0, i;
	int lines = 0, rc = 0;
	struct log_ctx c;
	struct perr e;

	if (files == NULL)
		return cli_fail("out of memory");
	for (i = 1; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "--lines") == 0)
			lines = 1;
		else if (db == NULL && argv[i][0] != '-')
			db = argv[i];
		else if (db != NULL && (argv[i][0] != '-' || argv[i][1] == '\0'))
			files[nfiles++] = argv[i];
		else
			goto usage;
	}
	if (db == NULL || (lines && nfiles > 0))
		goto usage;
	if (log_open(&c, db, &e) != 0) {
		free(files);
		return cli_fail("%s", e.msg);
	}
	if (lines) {
		/* Each line of stdin is one entry; batches of LOG_LINES_BATCH,
		 * each durable before its indices are printed.  Every line is
		 * checked before anything is appended. */
		char *buf, *p, *end;
		size_t len, n = 0, cap = 0;
		char **bufs = NULL;
		size_t *lens = NULL;
		if (file_read("-", (size_t)1 << 34, 0, &buf, &len, &e) != 0) {
			rc = cli_fail("%s", e.msg);
			goto out;
		}
		for (p = buf, end = buf + len; p < end;) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
			if (ll > STORE_ENTRY_MAX) {
				rc = cli_fail("line %zu is %zu bytes, over the %d-byte limit of a "
					      "log entry; nothing was appended", n + 1, ll,
					      STORE_ENTRY_MAX);
				break;
			}
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 1024;
				char **nb = realloc(bufs, ncap * sizeof *bufs);
				size_t *nl2;
				if (nb == NULL) {
					rc = cli_fail("out of memory");
					break;
				}
				bufs = nb;
				nl2 = realloc(lens, ncap * sizeof *lens);
				if (nl2 == NULL) {
					rc = cli_fail("out of memory");
					break;
				}
				lens = nl2;
				cap = ncap;
			}
			bufs[n] = p;
			lens[n] = ll;
			n++;
			p += ll + (nl ? 1 : 0);
		}
		for (i = 0; rc == 0 && i < n; i += LOG_LINES_BATCH) {
			size_t k = n - i < LOG_LINES_BATCH ? n - i : LOG_LINES_BATCH;
			if (log_append_batch(&c, bufs + i, lens + i, k, &e) != 0)
				rc = cli_fail("%s", e.msg);
		}
		free(bufs);
		free(lens);
		free(buf);
	} else {
		size_t n = nfiles ? nfiles : 1;
		char **bufs = calloc(n, sizeof *bufs);
		size_t *lens = calloc(n, sizeof *lens);
		if (bufs == NULL || lens == NULL) {
			rc = cli_fail("out of memory");
		} else {
			for (i = 0; i < n && rc == 0; i++)
				if (file_read(nfiles ? files[i] : "-", STORE_ENTRY_MAX, 0,
						  &bufs[i], &lens[i], &e) != 0)
					rc = cli_fail("%s (a log entry is at most %d bytes); nothing "
						      "was appended", e.msg, STORE_ENTRY_MAX);
			if (rc == 0 && log_append_batch(&c, bufs, lens, n, &e) != 0)
				rc = cli_fail("%s", e.msg);
			for (i = 0; i < n; i++)
				free(bufs[i]);
		}
		free(bufs);
		free(lens);
	}
out:
	store_close(c.s);
	free(files);
	return rc;
usage:
	free(files);
	return cli_usage(usage);
}

/* Parses "--size N" style options shared by checkpoint and prove. */
static int log_size_opt(struct log_ctx *c, const char *arg, uint64_t *size)
{
	if (cli_parse_u64(arg, size) != 0)
		return cli_fail("size \"%s\" is not a decimal number", arg);
	if (*size > store_log_size(c->l))
		return cli_fail("size %s is beyond the log's size %llu", arg,
				(unsigned long long)store_log_size(c->l));
	return 0;
}

static int log_cmd_checkpoint(int argc, char **argv)
{
	static const char usage[] = "parley log checkpoint DB [--size N]";
	const char *db = NULL, *sz = NULL;
	struct log_ctx c;
	struct perr e;
	uint64_t size;
	char *note;
	size_t nl;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
			sz = argv[++i];
		else if (db == NULL && argv[i][0] != '-')
			db = argv[i];
		else
			return cli_usage(usage);
	}
	if (db == NULL)
		return cli_usage(usage);
	if (log_open(&c, db, &e) != 0)
		return cli_fail("%s", e.msg);
	size = store_log_size(c.l);
	if (sz != NULL && (rc = log_size_opt(&c, sz, &size)) != 0)
		goto out;
	rc = 0;
	if (log_checkpoint(&c, size, &note, &nl, &e) != 0) {
		rc = cli_fail("%s", e.msg);
		goto out;
	}
	fwrite(note, 1, nl, stdout);
	free(note);
out:
	store_close(c.s);
	return rc;
}

static int log_cmd_prove(int argc, char **argv)
{
	static const char usage[] = "parley log prove DB INDEX [--size N]";
	const char *db = NULL, *ix = NULL, *sz = NULL;
	merkle_hash proof[MERKLE_MAX_PROOF];
	struct log_ctx c;
	struct perr e;
	uint64_t size, index;
	char *note = NULL, *out;
	size_t nl, plen, ol;
	int i, rc = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
			sz = argv[++i];
		else if (db == NULL && argv[i][0] != '-')
			db = argv[i];
		else if (ix == NULL && argv[i][0] != '-')
			ix = argv[i];
		else
			return cli_usage(usage);
	}
	if (db == NULL || ix == NULL)
		return cli_usage(usage);
	if (cli_parse_u64(ix, &index) != 0)
		return cli_fail("index \"%s\" is not a decimal number", ix);
	if (log_open(&c, db, &e) != 0)
		return cli_fail("%s", e.msg);
	size = store_log_size(c.l);
	if (sz != NULL && (rc = log_size_opt(&c, sz, &size)) != 0)
		goto out;
	if (index >= size) {
		rc = cli_fail("index %llu is not in a log of size %llu",
			      (unsigned long long)index, (unsigned long long)size);
		goto out;
	}
	if (store_prove_inclusion(c.l, index, size, proof, &plen, &e) != 0 ||
	    log_checkpoint(&c, size, &note, &nl, &e) != 0 ||
	    tlogproof_format(&out, &ol, NULL, 0, index, proof, plen, note, nl, &e) != 0) {
		rc = cli_fail("%s", e.msg);
		goto out;
	}
	fwrite(out, 1, ol, stdout);
	free(out);
out:
	free(note);
	store_close(c.s);
	return rc;
}

static int log_cmd_consistency(int argc, char **argv)
{
	static const char usage[] = "parley log consistency DB OLD [NEW]";
	merkle_hash proof[MERKLE_MAX_PROOF];
	uint64_t old, new;
	struct log_ctx c;
	struct perr e;
	size_t len, i;
	int rc = 0;

	if (argc < 3 || argc > 4)
		return cli_usage(usage);
	if (cli_parse_u64(argv[2], &old) != 0)
		return cli_fail("old size \"%s\" is not a decimal number", argv[2]);
	if (log_open(&c, argv[1], &e) != 0)
		return cli_fail("%s", e.msg);
	new = store_log_size(c.l);
	if (argc == 4 && cli_parse_u64(argv[3], &new) != 0) {
		rc = cli_fail("new size \"%s\" is not a decimal number", argv[3]);
		goto out;
	}
	if (new > store_log_size(c.l) || old > new) {
		rc = cli_fail("need OLD <= NEW <= %llu (the log's size)",
			      (unsigned long long)store_log_size(c.l));
		goto out;
	}
	/* From size 0 the proof is empty (the tlog-witness convention). */
	if (old > 0 && store_prove_consistency(c.l, old, new, proof, &len, &e) != 0) {
		rc = cli_fail("%s", e.msg);
		goto out;
	}
	if (old == 0)
		len = 0;
	for (i = 0; i < len; i++) {
		char b[B64_ENCLEN(MERKLE_HASH) + 1];
		b64_encode(b, proof[i], MERKLE_HASH);
		printf("%s\n", b);
	}
out:
	store_close(c.s);
	return rc;
}

static int log_cmd_entry(int argc, char **argv)
{
	uint64_t idx;
	struct log_ctx c;
	struct perr e;
	uint8_t *d;
	size_t len;
	int rc = 0;

	if (argc != 3)
		return cli_usage("parley log entry DB INDEX");
	if (cli_parse_u64(argv[2], &idx) != 0)
		return cli_fail("index \"%s\" is not a decimal number", argv[2]);
	if (log_open(&c, argv[1], &e) != 0)
		return cli_fail("%s", e.msg);
	if (store_entry(c.l, idx, &d, &len, &e) != 0) {
		rc = cli_fail("%s", e.msg);
	} else {
		fwrite(d, 1, len, stdout);
		free(d);
	}
	store_close(c.s);
	return rc;
}

static int log_cmd_export(int argc, char **argv)
{
	struct log_ctx c;
	struct perr e;
	uint64_t size;
	char *note = NULL;
	size_t nl;
	int rc = 0;

	if (argc != 3)
		return cli_usage("parley log export DB DIR");
	if (log_open(&c, argv[1], &e) != 0)
		return cli_fail("%s", e.msg);
	size = store_log_size(c.l);
	/* Tiles first, the checkpoint last: a reader that sees the
	 * checkpoint finds every tile it needs. */
	if (store_export_tiles(c.l, size, argv[2], &e) != 0 ||
	    log_checkpoint(&c, size, &note, &nl, &e) != 0 ||
	    export_file(argv[2], "checkpoint", note, nl, &e) != 0) {
		rc = cli_fail("%s", e.msg);
		goto out;
	}
	printf("exported %s: %llu entries, %u tile level%s, to %s\n",
	       store_log_origin(c.l), (unsigned long long)size, tile_levels(size),
	       tile_levels(size) == 1 ? "" : "s", argv[2]);
out:
	free(note);
	store_close(c.s);
	return rc;
}

static int log_cmd_verify(int argc, char **argv)
{
	static const char usage[] =
		"parley log verify VKEY ENTRYFILE PROOFFILE [--cosigner VKEY]...";
	const char *pos[3];
	struct note_verifier logkey, cos[16];
	size_t ncos = 0, npos = 0, elen, plen;
	char *entry = NULL, *ptext = NULL;
	struct tlogproof p;
	struct checkpoint cp;
	struct perr e;
	int i, rc = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--cosigner") == 0 && i + 1 < argc) {
			if (ncos == 16)
				return cli_fail("at most 16 --cosigner keys");
			if (cli_load_verifier(argv[++i], &cos[ncos], &e) != 0)
				return cli_fail("cosigner %s", e.msg);
			if (cos[ncos].alg != NOTE_ALG_COSIG)
				return cli_fail("cosigner key %s is not a cosignature (0x04) key",
						cos[ncos].name);
			ncos++;
		} else if (npos < 3 && (argv[i][0] != '-' || argv[i][1] == '\0')) {
			pos[npos++] = argv[i];
		} else {
			return cli_usage(usage);
		}
	}
	if (npos != 3)
		return cli_usage(usage);
	if (cli_load_verifier(pos[0], &logkey, &e) != 0)
		return cli_fail("log %s", e.msg);
	if (file_read(pos[1], STORE_ENTRY_MAX, 0, &entry, &elen, &e) != 0)
		return cli_fail("%s", e.msg);
	if (file_read(pos[2], TLOGPROOF_MAX_SIZE, 0, &ptext, &plen, &e) != 0) {
		free(entry);
		return cli_fail("%s", e.msg);
	}
	if (tlogproof_parse(&p, ptext, plen, &e) != 0) {
		rc = cli_fail("%s: %s", pos[2], e.msg);
	} else {
		if (tlogproof_verify(&p, entry, elen, &logkey, cos, ncos, &cp, &e) != 0)
			rc = cli_fail("proof does not verify: %s", e.msg);
		else
			printf("verified: entry %llu of %s (tree size %llu), %zu cosignature%s\n",
			       (unsigned long long)p.index, cp.origin,
			       (unsigned long long)cp.size, ncos, ncos == 1 ? "" : "s");
		tlogproof_free(&p);
	}
	free(entry);
	free(ptext);
	return rc;
}

/*
 * parley log cosign KEYFILE LOGVKEY FILE: the cosigner verifies the log's
 * signature on a checkpoint (or on the checkpoint inside a tlog-proof) and
 * adds its tlog-cosignature.  It prints the input with the new signature
 * line.  It does not keep state: refusing to cosign an older checkpoint
 * than one already cosigned is the job of the cosigner that keeps history
 * (the node).
 */
static int log_cmd_cosign(int argc, char **argv)
{
	static const char usage[] =
		"parley log cosign KEYFILE LOGVKEY FILE [--time UNIXSECONDS]";
	const char *pos[3];
	size_t npos = 0, len, notelen;
	struct note_signer k;
	struct note_verifier logkey;
	struct checkpoint cp;
	struct note *n = NULL;
	struct tlogproof p;
	uint64_t t = (uint64_t)time(NULL);
	const char *note;
	char *text = NULL, line[1024];
	struct perr e;
	long w;
	int i, rc = 0, isproof;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--time") == 0 && i + 1 < argc) {
			if (cli_parse_u64(argv[++i], &t) != 0 || t > (uint64_t)INT64_MAX)
				return cli_fail("time \"%s\" is not a POSIX timestamp", argv[i]);
		} else if (npos < 3 && (argv[i][0] != '-' || argv[i][1] == '\0')) {
			pos[npos++] = argv[i];
		} else {
			return cli_usage(usage);
		}
	}
	if (npos != 3)
		return cli_usage(usage);
	if (cli_load_signer(pos[0], &k, &e) != 0)
		return cli_fail("%s", e.msg);
	if (k.alg != NOTE_ALG_COSIG) {
		note_signer_wipe(&k);
		return cli_fail("%s is not a cosigner key (make one with keygen --cosigner)",
				pos[0]);
	}
	if (cli_load_verifier(pos[1], &logkey, &e) != 0) {
		note_signer_wipe(&k);
		return cli_fail("log %s", e.msg);
	}
	if (file_read(pos[2], TLOGPROOF_MAX_SIZE, 0, &text, &len, &e) != 0) {
		note_signer_wipe(&k);
		return cli_fail("%s", e.msg);
	}
	isproof = len >= strlen(TLOGPROOF_HEADER) &&
		  memcmp(text, TLOGPROOF_HEADER, strlen(TLOGPROOF_HEADER)) == 0;
	memset(&p, 0, sizeof p);
	if (isproof) {
		if (tlogproof_parse(&p, text, len, &e) != 0) {
			rc = cli_fail("%s: %s", pos[2], e.msg);
			goto out;
		}
		note = p.note;
		notelen = p.notelen;
	} else {
		note = text;
		notelen = len;
	}
	n = malloc(sizeof *n);
	if (n == NULL) {
		rc = cli_fail("out of memory");
		goto out;
	}
	if (note_open(n, note, notelen, &logkey, 1, NULL, NULL, &e) != 0) {
		rc = cli_fail("refusing to cosign: %s", e.msg);
		goto out;
	}
	if (checkpoint_parse(&cp, n->text, n->textlen, &e) != 0) {
		rc = cli_fail("refusing to cosign: %s", e.msg);
		goto out;
	}
	if (strcmp(cp.origin, logkey.name) != 0) {
		rc = cli_fail("refusing to cosign: origin \"%s\" is not the log key's name",
			      cp.origin);
		goto out;
	}
	w = note_sign_line(line, sizeof line, &k, n->text, n->textlen, t, &e);
	if (w < 0) {
		rc = cli_fail("%s", e.msg);
		goto out;
	}
	fwrite(text, 1, len, stdout);
	fwrite(line, 1, (size_t)w, stdout);
out:
	note_signer_wipe(&k);
	tlogproof_free(&p);
	free(n);
	free(text);
	return rc;
}

int cmd_log(int argc, char **argv)
{
	static const char usage[] =
		"parley log init|append|checkpoint|prove|consistency|entry|export|verify|cosign ...";

	if (argc < 2)
		return cli_usage(usage);
	if (strcmp(argv[1], "init") == 0)
		return log_init(argc - 1, argv + 1);
	if (strcmp(argv[1], "append") == 0)
		return log_append(argc - 1, argv + 1);
	if (strcmp(argv[1], "checkpoint") == 0)
		return log_cmd_checkpoint(argc - 1, argv + 1);
	if (strcmp(argv[1], "prove") == 0)
		return log_cmd_prove(argc - 1, argv + 1);
	if (strcmp(argv[1], "consistency") == 0)
		return log_cmd_consistency(argc - 1, argv + 1);
	if (strcmp(argv[1], "entry") == 0)
		return log_cmd_entry(argc - 1, argv + 1);
	if (strcmp(argv[1], "export") == 0)
		return log_cmd_export(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return log_cmd_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "cosign") == 0)
		return log_cmd_cosign(argc - 1, argv + 1);
	return cli_usage(usage);
}
