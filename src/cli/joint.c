/*
 * joint.c — `parley inspect seed|reveal|select`: the jointly random
 * selection of the items to inspect (docs/treaties.md, "Inspections").
 *
 * seed   draws 32 random bytes, keeps them in DIR/seeds/ (0600) and logs
 *        their SHA-256 as a seed-commit referring to the request;
 * reveal logs the seed (the node refuses it before the peer's commitment
 *        is held, or if it does not match ours);
 * select recomputes the outcome from the logs alone (a node directory or
 *        an export), so that anyone can check it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cli.h"
#include "commit.h"
#include "replay.h"
#include "select.h"

/* ORIGIN/INDEX, the origin itself holding slashes ("a/to/b/17"). */
static int parse_request(const char *arg, char *origin, size_t cap, uint64_t *idx)
{
	const char *slash = strrchr(arg, '/');

	if (slash == NULL || slash == arg || (size_t)(slash - arg) >= cap ||
	    cli_parse_u64(slash + 1, idx) != 0 || strstr(arg, "/to/") == NULL)
		return -1;
	memcpy(origin, arg, (size_t)(slash - arg));
	origin[slash - arg] = '\0';
	return 0;
}

struct jopts {
	const char *dir, *to, *request;
	int json;
};

static int jopts_parse(int argc, char **argv, struct jopts *o, const char *usage)
{
	memset(o, 0, sizeof *o);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
			o->to = argv[++i];
		else if (strcmp(argv[i], "--request") == 0 && i + 1 < argc)
			o->request = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			o->json = 1;
		else if (o->dir == NULL && argv[i][0] != '-')
			o->dir = argv[i];
		else
			return cli_usage(usage);
	}
	return o->dir && o->request ? 0 : cli_usage(usage);
}

/* DIR/seeds/<origin with '/' as '_'>-<index>.seed */
static void seed_path(char *out, size_t cap, const char *dir, const char *origin,
		      uint64_t idx)
{
	size_t o = (size_t)snprintf(out, cap, "%s/seeds/", dir);

	for (const char *c = origin; *c && o + 1 < cap; c++)
		out[o++] = *c == '/' ? '_' : *c;
	snprintf(out + o, cap - o, "-%llu.seed", (unsigned long long)idx);
}

static int post_seed(const char *dir, const char *to, const char *origin, uint64_t idx,
		     const char *key, const char *hex)
{
	json_t *body = json_pack("{sss{sssI}ss}", "to", to, "request", "origin", origin,
				 "index", (json_int_t)idx, key, hex), *reply = NULL;
	int rc = cli_api_ok(dir, "POST", "/api/seed", body, &reply);

	if (rc == 0)
		cli_print_entries(reply);
	json_decref(reply);
	return rc;
}

static int joint_seed(int argc, char **argv, int reveal)
{
	static const char usage_s[] = "parley inspect seed DIR --to NODE --request ORIGIN/INDEX";
	static const char usage_r[] = "parley inspect reveal DIR --to NODE --request ORIGIN/INDEX";
	struct jopts o;
	char origin[600], path[4800], hex[2 * SELECT_SEED + 2], *buf = NULL;
	uint8_t seed[SELECT_SEED];
	uint64_t idx;
	size_t len;
	struct perr e;
	int rc;

	if ((rc = jopts_parse(argc, argv, &o, reveal ? usage_r : usage_s)) != 0)
		return rc;
	if (o.to == NULL || o.json)
		return cli_usage(reveal ? usage_r : usage_s);
	if (parse_request(o.request, origin, sizeof origin, &idx) != 0)
		return cli_fail("--request must be ORIGIN/INDEX (for example "
				"a.example/to/b.example/17), not \"%s\"", o.request);
	seed_path(path, sizeof path, o.dir, origin, idx);
	if (file_read(path, 256, 1, &buf, &len, &e) == 0) {
		/* A seed already drawn for this request is the one (a commit
		 * retried after a lost reply must commit the same seed). */
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			buf[--len] = '\0';
		rc = select_parse_seed(buf, seed, &e);
		OPENSSL_cleanse(buf, len);
		free(buf);
		if (rc != 0)
			return cli_fail("%s: %s", path, e.msg);
	} else if (reveal) {
		return cli_fail("no seed drawn for this request (%s): run parley inspect seed "
				"first", path);
	} else {
		if (RAND_bytes(seed, sizeof seed) != 1)
			return cli_fail("no randomness from the system");
		commit_hex(hex, seed, SELECT_SEED);
		hex[2 * SELECT_SEED] = '\n';
		if (file_mkdirs_for(path, &e) != 0 ||
		    file_write(path, hex, 2 * SELECT_SEED + 1, 0600, 1, &e) != 0) {
			OPENSSL_cleanse(hex, sizeof hex);
			return cli_fail("%s", e.msg);
		}
	}
	if (reveal) {
		commit_hex(hex, seed, SELECT_SEED);
	} else {
		select_seed_commit(hex, seed);
	}
	hex[2 * SELECT_SEED] = '\0';
	rc = post_seed(o.dir, o.to, origin, idx, reveal ? "seed" : "commit", hex);
	OPENSSL_cleanse(seed, sizeof seed);
	OPENSSL_cleanse(hex, sizeof hex);
	return rc;
}

static int joint_select(int argc, char **argv)
{
	static const char usage[] =
		"parley inspect select DIR|EXPORTDIR --request ORIGIN/INDEX [--json]";
	struct jopts o;
	char origin[600];
	uint64_t idx;
	struct perr e;
	json_t *r, *s, *v;
	size_t i;
	int rc;

	if ((rc = jopts_parse(argc, argv, &o, usage)) != 0)
		return rc;
	if (o.to != NULL)
		return cli_usage(usage);
	if (parse_request(o.request, origin, sizeof origin, &idx) != 0)
		return cli_fail("--request must be ORIGIN/INDEX, not \"%s\"", o.request);
	if (replay_selection(o.dir, origin, idx, (int64_t)time(NULL), &r, &e) != 0)
		return cli_fail("%s", e.msg);
	if (o.json) {
		char *t = json_dumps(r, JSON_INDENT(2));
		printf("%s\n", t);
		free(t);
	} else {
		json_t *rq = json_object_get(r, "request");
		printf("inspection round %s: %lld of %lld items, reveals due by %s\n",
		       json_string_value(json_object_get(rq, "round")),
		       (long long)json_integer_value(json_object_get(rq, "k")),
		       (long long)json_integer_value(json_object_get(rq, "n")),
		       json_string_value(json_object_get(rq, "reveal_by")));
		json_array_foreach(json_object_get(r, "sides"), i, s) {
			const char *err = json_string_value(json_object_get(s, "error"));
			const char *rcv = json_string_value(json_object_get(s, "reveal_received"));
			printf("  %s: %s%s%s%s%s\n", json_string_value(json_object_get(s, "name")),
			       json_string_value(json_object_get(s, "status")),
			       rcv ? ", received " : "", rcv ? rcv : "", err ? ": " : "",
			       err ? err : "");
		}
		printf("outcome: %s\n", json_string_value(json_object_get(r, "outcome")));
		if (json_is_array(json_object_get(r, "selection"))) {
			printf("selected item indices:");
			json_array_foreach(json_object_get(r, "selection"), i, v)
				printf(" %lld", (long long)json_integer_value(v));
			printf("\n");
		}
	}
	json_decref(r);
	return 0;
}

int cmd_inspect_joint(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "seed") == 0)
		return joint_seed(argc - 1, argv + 1, 0);
	if (argc >= 2 && strcmp(argv[1], "reveal") == 0)
		return joint_seed(argc - 1, argv + 1, 1);
	if (argc >= 2 && strcmp(argv[1], "select") == 0)
		return joint_select(argc - 1, argv + 1);
	return cli_usage("parley inspect odds|commit|disclose|verify|draw|seed|reveal|select ...");
}
