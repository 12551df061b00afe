/*
 * inspect.c — `parley inspect ...`: the offline half of inspections
 * (docs/treaties.md, "Inspections").
 *
 *   odds      detection odds of K random inspections (src/treaty/odds.h)
 *   commit    a salted Merkle commitment to an inventory, and the private
 *             file that opens it (src/treaty/commit.h)
 *   disclose  one item of the private file, with its inclusion proof
 *   verify    a disclosure against a commitment held from elsewhere
 *   draw      the recomputation of a joint draw from two revealed seeds
 *             (src/treaty/select.h)
 *
 * seed, reveal and select work on a node's logs and live in joint.c.
 * Every file is read whole, bounded to INSPECT_FILE_MAX, and parsed with
 * duplicate members refused (one text, one meaning).
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "commit.h"
#include "odds.h"
#include "select.h"

#define INSPECT_FILE_MAX ((size_t)64 << 20)

/* An option where an operand belongs ("-" alone is standard input). */
#define INSPECT_IS_OPT(s) ((s)[0] == '-' && (s)[1] != '\0')

static const char inspect_usage[] =
	"parley inspect odds N D K [--json]\n"
	"       parley inspect odds N D --confidence P [--json]\n"
	"       parley inspect commit ITEMS PRIVATE\n"
	"       parley inspect disclose PRIVATE ITEM_ID|--index N\n"
	"       parley inspect verify COMMITMENT DISCLOSURE\n"
	"       parley inspect draw --round R --n N --k K NAME=SEED NAME=SEED [--json]\n"
	"       parley inspect seed|reveal|select ...";

/* ---- helpers ------------------------------------------------------------- */

/* Reads and parses a JSON file.  The text is wiped before it is freed:
 * a private file holds every salt of a commitment. */
static int inspect_load(const char *path, int nofollow, json_t **out,
			struct perr *e)
{
	json_error_t je;
	char *buf;
	size_t len;

	*out = NULL;
	if (file_read(path, INSPECT_FILE_MAX, nofollow, &buf, &len, e) != 0)
		return -1;
	*out = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	OPENSSL_cleanse(buf, len);
	free(buf);
	if (*out == NULL)
		return perr_set(e, "%s: not valid JSON (line %d: %s)", path, je.line, je.text);
	return 0;
}

/* Writes j and a newline on standard output. */
static int inspect_print(const json_t *j, size_t flags)
{
	if (json_dumpf(j, stdout, flags) != 0 || putchar('\n') == EOF ||
	    fflush(stdout) != 0)
		return cli_fail("cannot write to standard output");
	return 0;
}

/* The shortest %g text, of at least min significant digits, that reads
 * back as exactly v: honest figures without 17 digits of noise (odds.h
 * promises that a P below 1 is never 1.0, so it must not print as "1"). */
static void inspect_fmt(char *buf, size_t cap, double v, int min)
{
	int prec;

	for (prec = min; prec < 17; prec++) {
		snprintf(buf, cap, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
	snprintf(buf, cap, "%.17g", v);
}

/* ---- odds ---------------------------------------------------------------- */

/* Before an inspection is agreed, both sides want to know what K buys:
 * the probability for a K, or the K for a probability (odds.h). */
static int inspect_odds(int argc, char **argv)
{
	static const char usage[] = "parley inspect odds N D K [--json]\n"
				    "       parley inspect odds N D --confidence P [--json]";
	const char *pos[3], *conf_arg = NULL;
	uint64_t n, d, k;
	double p, conf = 0;
	struct perr e;
	int i, npos = 0, json = 0;
	char ptext[40], ctext[40];

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--confidence") == 0 && i + 1 < argc && !conf_arg)
			conf_arg = argv[++i];
		else if (strncmp(argv[i], "--", 2) == 0 || npos == 3)
			return cli_usage(usage);
		else
			pos[npos++] = argv[i];
	}
	if (npos != (conf_arg ? 2 : 3))
		return cli_usage(usage);
	if (odds_parse_count(pos[0], "N", &n, &e) != 0 ||
	    odds_parse_count(pos[1], "D", &d, &e) != 0)
		return cli_fail("%s", e.msg);
	if (conf_arg) {
		if (odds_parse_prob(conf_arg, &conf, &e) != 0 ||
		    odds_needed(n, d, conf, &k, &e) != 0)
			return cli_fail("%s", e.msg);
	} else if (odds_parse_count(pos[2], "K", &k, &e) != 0) {
		return cli_fail("%s", e.msg);
	}
	if (odds_detect(n, d, k, &p, &e) != 0)
		return cli_fail("%s", e.msg);
	if (json) {
		json_t *j = json_pack("{s:I, s:I, s:I, s:f}", "n", (json_int_t)n, "d",
				      (json_int_t)d, "k", (json_int_t)k, "p", p);
		int rc;
		if (j == NULL)
			return cli_fail("out of memory");
		rc = inspect_print(j, JSON_COMPACT);
		json_decref(j);
		return rc;
	}
	if (!conf_arg) {
		inspect_fmt(ptext, sizeof ptext, p, 15);
		printf("P(detect) = %s (N=%llu D=%llu K=%llu)\n", ptext, (unsigned long long)n,
		       (unsigned long long)d, (unsigned long long)k);
		return 0;
	}
	/* Six digits are enough to read, but never so few that the figure
	 * printed falls below the one asked for. */
	inspect_fmt(ctext, sizeof ctext, conf, 1);
	for (i = 6; i <= 17; i++) {
		snprintf(ptext, sizeof ptext, "%.*g", i, p);
		if (strtod(ptext, NULL) >= conf && (p == 1.0 || strtod(ptext, NULL) < 1.0))
			break;
	}
	printf("K = %llu inspection%s give%s P(detect) = %s >= %s\n", (unsigned long long)k,
	       k == 1 ? "" : "s", k == 1 ? "s" : "", ptext, ctext);
	return 0;
}

/* ---- commit, disclose, verify -------------------------------------------- */

/* Salts must be unpredictable, or the root would reveal the records that
 * can be guessed (a status, a count of warheads). */
static int inspect_salt(void *ctx, uint8_t salt[COMMIT_SALT], struct perr *e)
{
	(void)ctx;
	if (RAND_bytes(salt, COMMIT_SALT) != 1)
		return perr_set(e, "the system's random number generator failed");
	return 0;
}

/* ITEMS is an array of items, or an inventory object holding one under
 * "items" ({"treaty", "party", "date", "items": [...]}). */
static int inspect_commit(int argc, char **argv)
{
	const char *ipath, *ppath;
	struct commit_set s;
	json_t *doc, *items, *c;
	struct perr e;
	char *text;
	size_t len;
	int rc;

	if (argc != 3 || INSPECT_IS_OPT(argv[1]) || argv[2][0] == '-')
		return cli_usage("parley inspect commit ITEMS PRIVATE");
	ipath = argv[1];
	ppath = argv[2];
	if (inspect_load(ipath, 0, &doc, &e) != 0)
		return cli_fail("%s", e.msg);
	items = json_is_object(doc) ? json_object_get(doc, "items") : doc;
	if (!json_is_array(items)) {
		json_decref(doc);
		return cli_fail("%s: neither an array of items nor an object with an "
				"\"items\" array", ipath);
	}
	rc = commit_build(&s, items, inspect_salt, NULL, &e);
	json_decref(doc);
	if (rc != 0)
		return cli_fail("%s: %s", ipath, e.msg);
	if (commit_private_text(&s, &text, &len, &e) != 0) {
		commit_set_free(&s);
		return cli_fail("%s", e.msg);
	}
	/* A private file that disclose could not read back would make the
	 * commitment impossible to open. */
	if (len > INSPECT_FILE_MAX)
		rc = perr_set(&e, "%s: the private file would be %zu bytes, more than the "
			      "%zu that disclose reads; commit fewer or smaller items",
			      ipath, len, INSPECT_FILE_MAX);
	else
		rc = file_write(ppath, text, len, 0600, 1, &e);
	OPENSSL_cleanse(text, len);
	free(text);
	if (rc != 0) {
		commit_set_free(&s);
		return cli_fail("%s", e.msg);
	}
	c = commit_root_json(&s.c);
	commit_set_free(&s);
	if (c == NULL)
		return cli_fail("out of memory");
	rc = inspect_print(c, JSON_COMPACT);
	json_decref(c);
	return rc;
}

/* The private file is read without following links (like a key file) and
 * checked whole before one item is disclosed from it. */
static int inspect_disclose(int argc, char **argv)
{
	struct commit_set s;
	json_t *priv, *d;
	struct perr e;
	int rc;

	const char *id;
	uint64_t idx = 0;
	int byindex = argc == 4 && strcmp(argv[2], "--index") == 0;

	/* by id, or by index (what a joint selection draws) */
	if ((argc != 3 && !byindex) || INSPECT_IS_OPT(argv[1]) ||
	    (!byindex && INSPECT_IS_OPT(argv[2])) ||
	    (byindex && cli_parse_u64(argv[3], &idx) != 0))
		return cli_usage("parley inspect disclose PRIVATE ITEM_ID|--index N");
	if (inspect_load(argv[1], 1, &priv, &e) != 0)
		return cli_fail("%s", e.msg);
	rc = commit_private_load(&s, priv, &e);
	json_decref(priv);
	if (rc != 0)
		return cli_fail("%s: %s", argv[1], e.msg);
	if (byindex && idx >= s.n) {
		commit_set_free(&s);
		return cli_fail("index %llu is not below the %zu items committed",
				(unsigned long long)idx, s.n);
	}
	id = byindex ? s.rec[idx].id : argv[2];
	rc = commit_disclose(&s, id, &d, &e);
	commit_set_free(&s);
	if (rc != 0)
		return cli_fail("%s", e.msg);
	rc = inspect_print(d, JSON_INDENT(2));
	json_decref(d);
	return rc;
}

/* COMMITMENT is {"root", "count"} itself, or any object with such a
 * "commitment" member (a private file, a data-exchange notification's
 * fields).  Note that a disclosure has one too: checking a disclosure
 * against itself proves nothing, the commitment must come from elsewhere. */
static int inspect_verify(int argc, char **argv)
{
	struct commit_root c;
	json_t *cj, *d, *inner;
	const char *id;
	uint64_t index;
	struct perr e;
	char *quoted;
	int rc;

	if (argc != 3 || INSPECT_IS_OPT(argv[1]) || INSPECT_IS_OPT(argv[2]))
		return cli_usage("parley inspect verify COMMITMENT DISCLOSURE");
	if (inspect_load(argv[1], 0, &cj, &e) != 0)
		return cli_fail("%s", e.msg);
	inner = json_is_object(cj) ? json_object_get(cj, "commitment") : NULL;
	rc = commit_root_parse(&c, inner ? inner : cj, argv[1], &e);
	json_decref(cj);
	if (rc != 0)
		return cli_fail("%s", e.msg);
	if (inspect_load(argv[2], 0, &d, &e) != 0)
		return cli_fail("%s", e.msg);
	if (commit_verify(&c, d, &id, &index, &e) != 0) {
		json_decref(d);
		return cli_fail("%s", e.msg);
	}
	/* The id comes from the disclosure: printed as a JSON string, so that
	 * no byte of it can forge another line of output. */
	{
		json_t *s = json_string(id);
		quoted = s ? json_dumps(s, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
		json_decref(s);
	}
	json_decref(d);
	if (quoted == NULL)
		return cli_fail("out of memory");
	printf("verified: item %s at index %llu of %llu\n", quoted, (unsigned long long)index,
	       (unsigned long long)c.count);
	free(quoted);
	return 0;
}

/* ---- draw ---------------------------------------------------------------- */

/* NAME=SEED, split at the last '=' (a seed is hex, a name may hold '='). */
static int inspect_side(const char *arg, struct select_side *s, char *name,
			size_t cap, struct perr *e)
{
	const char *eq = strrchr(arg, '=');
	size_t len;

	if (eq == NULL || eq == arg)
		return perr_set(e, "\"%s\" is not NAME=SEED", arg);
	len = (size_t)(eq - arg);
	if (len >= cap)
		return perr_set(e, "a side's name must be 1..%d bytes", SELECT_SIDE_MAX);
	memcpy(name, arg, len);
	name[len] = '\0';
	s->name = name;
	if (select_parse_seed(eq + 1, s->seed, e) != 0)
		return perr_wrap(e, "side \"%s\"", name);
	return 0;
}

/* The draw from two revealed seeds, with nothing else: anyone can run it
 * to check the selection a node reports. */
static int inspect_draw(int argc, char **argv)
{
	static const char usage[] =
		"parley inspect draw --round R --n N --k K NAME=SEED NAME=SEED [--json]";
	const char *round = NULL, *narg = NULL, *karg = NULL, *pos[2];
	char name[2][SELECT_SIDE_MAX + 1];
	struct select_side side[2];
	uint64_t n, k, i, *out;
	struct perr e;
	int a, npos = 0, json = 0, rc = 0;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--json") == 0)
			json = 1;
		else if (strcmp(argv[a], "--round") == 0 && a + 1 < argc && !round)
			round = argv[++a];
		else if (strcmp(argv[a], "--n") == 0 && a + 1 < argc && !narg)
			narg = argv[++a];
		else if (strcmp(argv[a], "--k") == 0 && a + 1 < argc && !karg)
			karg = argv[++a];
		else if (strncmp(argv[a], "--", 2) == 0 || npos == 2)
			return cli_usage(usage);
		else
			pos[npos++] = argv[a];
	}
	if (!round || !narg || !karg || npos != 2)
		return cli_usage(usage);
	if (odds_parse_count(narg, "N", &n, &e) != 0 ||
	    odds_parse_count(karg, "K", &k, &e) != 0 ||
	    inspect_side(pos[0], &side[0], name[0], sizeof name[0], &e) != 0 ||
	    inspect_side(pos[1], &side[1], name[1], sizeof name[1], &e) != 0)
		return cli_fail("%s", e.msg);
	/* select_draw refuses k > n before writing out; the allocation is
	 * bounded by the N limit it checks too. */
	out = malloc((size_t)(k > 0 && k <= SELECT_MAX_N ? k : 1) * sizeof *out);
	if (out == NULL)
		return cli_fail("out of memory");
	if (select_draw(round, n, k, &side[0], &side[1], out, &e) != 0) {
		free(out);
		return cli_fail("%s", e.msg);
	}
	if (json) {
		json_t *arr = json_array();
		for (i = 0; arr != NULL && i < k; i++)
			if (json_array_append_new(arr, json_integer((json_int_t)out[i])) != 0) {
				json_decref(arr);
				arr = NULL;
			}
		rc = arr ? inspect_print(arr, JSON_COMPACT) : cli_fail("out of memory");
		json_decref(arr);
	} else {
		for (i = 0; i < k; i++)
			printf("%llu\n", (unsigned long long)out[i]);
		if (fflush(stdout) != 0)
			rc = cli_fail("cannot write to standard output");
	}
	OPENSSL_cleanse(side, sizeof side);
	free(out);
	return rc;
}

/* ---- dispatch ------------------------------------------------------------ */

/* seed, reveal and select need a node's logs: joint.c. */
int cmd_inspect(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage(inspect_usage);
	if (strcmp(argv[1], "odds") == 0)
		return inspect_odds(argc - 1, argv + 1);
	if (strcmp(argv[1], "commit") == 0)
		return inspect_commit(argc - 1, argv + 1);
	if (strcmp(argv[1], "disclose") == 0)
		return inspect_disclose(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return inspect_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "draw") == 0)
		return inspect_draw(argc - 1, argv + 1);
	return cmd_inspect_joint(argc, argv);
}
