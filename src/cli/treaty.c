/*
 * treaty.c — `parley treaty check|validate|show|replay` (offline, on files,
 * node directories and exports) and `parley notify` (through a running
 * node).  The rules are in the definitions (docs/treaties.md); this file
 * only reads arguments and prints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "commit.h"
#include "envelope.h"
#include "replay.h"
#include "treaty.h"

#define NOTICE_FILE_MAX (64u << 20)
/* Bytes of one part's items: the rest of the envelope (names, other fields,
 * JSON syntax) stays well under the 65,535 of an entry. */
#define PART_ITEMS_MAX 56000

static json_t *load_json(const char *path, struct perr *e)
{
	char *buf;
	size_t len;
	json_error_t je;
	json_t *j;

	if (strcmp(path, "-") == 0) {
		buf = cli_read_stream(stdin, &len);
		if (buf == NULL) {
			perr_set(e, "cannot read standard input");
			return NULL;
		}
	} else if (file_read(path, NOTICE_FILE_MAX, 0, &buf, &len, e) != 0) {
		return NULL;
	}
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	free(buf);
	if (j == NULL)
		perr_set(e, "%s: not valid JSON: %s (line %d)", path, je.text, je.line);
	return j;
}

/*
 * A notification file: {"kind": K, "fields": {...}}, or a whole envelope
 * of type notification (an entry taken from a log).  *kind and *fields
 * point into j.
 */
static int notice_parts(json_t *j, const char *path, const char **kind,
			json_t **fields, struct perr *e)
{
	const char *k;
	json_t *v;

	if (!json_is_object(j))
		return perr_set(e, "%s: a notification is a JSON object {\"kind\", \"fields\"}",
				path);
	if (json_object_get(j, "v") != NULL && json_object_get(j, "type") != NULL) {
		if (strcmp(json_string_value(json_object_get(j, "type")) ?
			   json_string_value(json_object_get(j, "type")) : "", "notification") != 0)
			return perr_set(e, "%s: an envelope of type notification is expected", path);
	} else {
		json_object_foreach(j, k, v)
			if (strcmp(k, "kind") != 0 && strcmp(k, "fields") != 0)
				return perr_set(e, "%s: unexpected member \"%s\" (a notification "
						"file has \"kind\" and \"fields\")", path, k);
	}
	*kind = json_string_value(json_object_get(j, "kind"));
	*fields = json_object_get(j, "fields");
	if (*kind == NULL)
		return perr_set(e, "%s: no \"kind\"", path);
	if (!json_is_object(*fields))
		return perr_set(e, "%s: \"fields\" must be an object", path);
	return 0;
}

/* A notification file read, split and its kind found in d; on failure the
 * error is printed and -1 returned (*j, if set, for the caller to free). */
static int load_notice(const struct treaty_def *d, const char *path, json_t **j,
		       const char **kind, json_t **fields,
		       const struct treaty_kind **k)
{
	struct perr e;

	if ((*j = load_json(path, &e)) == NULL ||
	    notice_parts(*j, path, kind, fields, &e) != 0) {
		cli_fail("%s", e.msg);
		return -1;
	}
	if ((*k = treaty_kind_find(d, *kind)) == NULL) {
		cli_fail("%s: kind \"%s\" is not a notification kind of %s", path, *kind,
			 d->name);
		return -1;
	}
	return 0;
}

static void print_msgs(const struct treaty_msgs *m)
{
	for (size_t i = 0; i < m->n; i++)
		fprintf(stderr, "  %s\n", m->lines[i]);
	if (m->dropped)
		fprintf(stderr, "  ... and %zu more\n", m->dropped);
}

/* Common options: --json, --lang. Returns the positional arguments. */
struct topts {
	const char *pos[4];
	size_t npos;
	int json;
	enum treaty_lang lang;
	const char *party, *to;
};

static int topts_parse(int argc, char **argv, struct topts *o, const char *usage)
{
	memset(o, 0, sizeof *o);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			o->json = 1;
		} else if (strcmp(argv[i], "--lang") == 0 && i + 1 < argc) {
			if (treaty_lang_parse(argv[++i], &o->lang) != 0)
				return cli_fail("--lang must be en or ru, not \"%s\"", argv[i]);
		} else if (strcmp(argv[i], "--party") == 0 && i + 1 < argc) {
			o->party = argv[++i];
		} else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
			o->to = argv[++i];
		} else if (o->npos < 4 && (argv[i][0] != '-' || argv[i][1] == '\0')) {
			o->pos[o->npos++] = argv[i];
		} else {
			return cli_usage(usage);
		}
	}
	return 0;
}

/* ---- treaty check ------------------------------------------------------ */

static int treaty_cmd_check(int argc, char **argv)
{
	static const char usage[] = "parley treaty check TREATY INVENTORY [--json] [--lang en|ru]";
	struct topts o;
	struct treaty_def *d = NULL;
	struct treaty_engine *g = NULL;
	struct treaty_msgs m = { 0 };
	struct perr e;
	json_t *inv = NULL, *items;
	int64_t *tot = NULL;
	int rc, over = 0;

	if ((rc = topts_parse(argc, argv, &o, usage)) != 0)
		return rc;
	if (o.npos != 2 || o.party || o.to)
		return cli_usage(usage);
	if (treaty_resolve_load(&d, o.pos[0], &e) != 0)
		return cli_fail("%s", e.msg);
	rc = CLI_EXIT_FAIL;
	if ((inv = load_json(o.pos[1], &e)) == NULL) {
		cli_fail("%s", e.msg);
		goto out;
	}
	items = json_is_object(inv) ? json_object_get(inv, "items") : inv;
	if (!json_is_array(items)) {
		cli_fail("%s: an inventory is an array of items or an object with \"items\"",
			 o.pos[1]);
		goto out;
	}
	{
		struct treaty_field f = { .name = "items", .type = TF_ITEMS,
					  .max_items = 10000000 };
		struct treaty_kind k = { .name = "inventory", .fields = &f, .nfields = 1 };
		json_t *w = json_pack("{sO}", "items", items);
		treaty_validate(d, &k, w, &m);
		json_decref(w);
		if (m.n > 0) {
			cli_fail("%s: %zu problem%s", o.pos[1], m.n + m.dropped,
				 m.n + m.dropped == 1 ? "" : "s");
			print_msgs(&m);
			goto out;
		}
	}
	g = treaty_engine_new(d);
	tot = calloc(d->nlimits + 1, sizeof *tot);
	if (g == NULL || tot == NULL || treaty_engine_load(g, items, &e) != 0) {
		cli_fail("%s", g == NULL || tot == NULL ? "out of memory" : e.msg);
		goto out;
	}
	treaty_totals(g, tot);
	for (size_t l = 0; l < d->nlimits; l++)
		over |= tot[l] > d->limits[l].max;
	if (o.json) {
		json_t *lims = json_array(), *r;
		char *s;
		for (size_t l = 0; l < d->nlimits; l++)
			json_array_append_new(lims, json_pack("{sssssIsIsIsb}", "name",
				d->limits[l].name, "label", treaty_label(d->limits[l].label, o.lang,
				d->limits[l].name), "max", (json_int_t)d->limits[l].max,
				"total", (json_int_t)tot[l], "margin",
				(json_int_t)(d->limits[l].max - tot[l]), "over",
				tot[l] > d->limits[l].max));
		r = json_pack("{sssssIsosb}", "treaty", d->name, "sha256", d->sha_hex,
			      "items", (json_int_t)treaty_item_count(g), "limits", lims,
			      "within_limits", !over);
		s = json_dumps(r, JSON_INDENT(2));
		printf("%s\n", s);
		free(s);
		json_decref(r);
	} else {
		const char *party = json_string_value(json_object_get(inv, "party"));
		const char *asof = json_string_value(json_object_get(inv, "as_of"));
		printf("%s: %s%s%s, %zu %s\n", treaty_label(d->label, o.lang, d->name),
		       party ? party : o.pos[1], asof ? (o.lang == TREATY_RU ? " на " : " as of ") : "",
		       asof ? asof : "", treaty_item_count(g),
		       o.lang == TREATY_RU ? "ед." : "items");
		for (size_t l = 0; l < d->nlimits; l++)
			printf("  %-58s %6lld / %-6lld %s %lld\n",
			       treaty_label(d->limits[l].label, o.lang, d->limits[l].name),
			       (long long)tot[l], (long long)d->limits[l].max,
			       tot[l] > d->limits[l].max ?
			       (o.lang == TREATY_RU ? "ПРЕВЫШЕН на" : "OVER by") :
			       (o.lang == TREATY_RU ? "запас" : "margin"),
			       (long long)(tot[l] > d->limits[l].max ? tot[l] - d->limits[l].max :
					   d->limits[l].max - tot[l]));
		printf("%s\n", over ? (o.lang == TREATY_RU ? "статус: ПРЕВЫШЕНИЕ ограничений" :
				      "status: OVER a limit") :
		       (o.lang == TREATY_RU ? "статус: в пределах ограничений" :
			"status: within all limits"));
	}
	rc = 0;
out:
	treaty_msgs_free(&m);
	free(tot);
	treaty_engine_free(g);
	json_decref(inv);
	treaty_def_free(d);
	return rc;
}

/* ---- treaty validate ---------------------------------------------------- */

static int treaty_cmd_validate(int argc, char **argv)
{
	static const char usage[] = "parley treaty validate TREATY NOTIFICATION";
	struct topts o;
	struct treaty_def *d = NULL;
	struct treaty_msgs m = { 0 };
	const struct treaty_kind *k;
	struct perr e;
	const char *kind;
	json_t *j = NULL, *fields;
	int rc;

	if ((rc = topts_parse(argc, argv, &o, usage)) != 0)
		return rc;
	if (o.npos != 2 || o.party || o.to || o.json)
		return cli_usage(usage);
	if (treaty_resolve_load(&d, o.pos[0], &e) != 0)
		return cli_fail("%s", e.msg);
	rc = CLI_EXIT_FAIL;
	if (load_notice(d, o.pos[1], &j, &kind, &fields, &k) != 0)
		goto out;
	if (treaty_validate(d, k, fields, &m) != 0) {
		cli_fail("%s: %s is not valid: %zu problem%s", o.pos[1], kind,
			 m.n + m.dropped, m.n + m.dropped == 1 ? "" : "s");
		print_msgs(&m);
		goto out;
	}
	printf("valid: %s under %s (sha256 %s)\n", kind, d->name, d->sha_hex);
	rc = 0;
out:
	treaty_msgs_free(&m);
	json_decref(j);
	treaty_def_free(d);
	return rc;
}

/* ---- treaty show -------------------------------------------------------- */

/* A value as the operator reads it: codes, statuses and categories by
 * their label in the chosen language. */
static void show_value(const struct treaty_def *d, const struct treaty_field *f,
		       const json_t *v, enum treaty_lang lang, int indent)
{
	const char *s = json_string_value(v);
	char *dump;

	if (f->type == TF_CODE && s && json_object_get(f->values, s)) {
		printf("%s (%s)\n", treaty_label(json_object_get(json_object_get(f->values, s),
							      "label"), lang, s), s);
		return;
	}
	if (f->type == TF_STATUS && s && treaty_status_find(d, s) >= 0) {
		printf("%s (%s)\n", treaty_label(d->statuses[treaty_status_find(d, s)].label,
						 lang, s), s);
		return;
	}
	if (f->type == TF_CATEGORY && s && treaty_cat_find(d, s) >= 0) {
		printf("%s (%s)\n", treaty_label(d->cats[treaty_cat_find(d, s)].label, lang, s), s);
		return;
	}
	if (f->type == TF_ITEM && json_is_object(v)) {
		printf("\n");
		for (size_t i = 0; i < d->nitem_fields; i++) {
			json_t *x = json_object_get(v, d->item_fields[i].name);
			if (x == NULL)
				continue;
			printf("%*s%s: ", indent + 2, "", treaty_label(d->item_fields[i].label, lang,
							     d->item_fields[i].name));
			show_value(d, &d->item_fields[i], x, lang, indent + 2);
		}
		return;
	}
	if (f->type == TF_ITEMS && json_is_array(v)) {
		printf("%zu %s\n", json_array_size(v), lang == TREATY_RU ? "ед." : "items");
		return;
	}
	if (s != NULL) {
		printf("%s\n", s);
		return;
	}
	dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
	printf("%s\n", dump ? dump : "?");
	free(dump);
}

static int treaty_cmd_show(int argc, char **argv)
{
	static const char usage[] = "parley treaty show TREATY [NOTIFICATION] [--lang en|ru]";
	struct topts o;
	struct treaty_def *d = NULL;
	const struct treaty_kind *k;
	struct perr e;
	const char *kind;
	json_t *j = NULL, *fields;
	int rc;

	if ((rc = topts_parse(argc, argv, &o, usage)) != 0)
		return rc;
	if (o.npos < 1 || o.npos > 2 || o.party || o.to || o.json)
		return cli_usage(usage);
	if (treaty_resolve_load(&d, o.pos[0], &e) != 0)
		return cli_fail("%s", e.msg);
	if (o.npos == 1) {
		printf("%s (%s, sha256 %s)\n", treaty_label(d->label, o.lang, d->name), d->name,
		       d->sha_hex);
		for (size_t i = 0; i < d->nlimits; i++)
			printf("  %s %s: %lld\n", o.lang == TREATY_RU ? "ограничение" : "limit",
			       treaty_label(d->limits[i].label, o.lang, d->limits[i].name),
			       (long long)d->limits[i].max);
		for (size_t i = 0; i < d->nkinds; i++) {
			printf("  %s — %s\n", d->kinds[i].name,
			       treaty_label(d->kinds[i].label, o.lang, d->kinds[i].name));
			for (size_t f = 0; f < d->kinds[i].nfields; f++)
				printf("      %-16s %s%s\n", d->kinds[i].fields[f].name,
				       treaty_label(d->kinds[i].fields[f].label, o.lang, ""),
				       d->kinds[i].fields[f].required ? "" :
				       (o.lang == TREATY_RU ? " (необязательно)" : " (optional)"));
		}
		treaty_def_free(d);
		return 0;
	}
	rc = CLI_EXIT_FAIL;
	if (load_notice(d, o.pos[1], &j, &kind, &fields, &k) != 0)
		goto out;
	printf("%s — %s\n", treaty_label(k->label, o.lang, k->name),
	       treaty_label(d->label, o.lang, d->name));
	for (size_t f = 0; f < k->nfields; f++) {
		json_t *v = json_object_get(fields, k->fields[f].name);
		if (v == NULL)
			continue;
		printf("  %s: ", treaty_label(k->fields[f].label, o.lang, k->fields[f].name));
		show_value(d, &k->fields[f], v, o.lang, 2);
	}
	rc = 0;
out:
	json_decref(j);
	treaty_def_free(d);
	return rc;
}

/* ---- treaty replay ------------------------------------------------------ */

static int treaty_cmd_replay(int argc, char **argv)
{
	static const char usage[] =
		"parley treaty replay DIR|EXPORTDIR --party NODE [--to NODE] [--json] "
		"[--lang en|ru]";
	struct topts o;
	struct treaty_reg reg = { { 0 }, 0 };
	struct perr e;
	json_t *r, *t, *f;
	size_t i, j;
	int rc;

	if ((rc = topts_parse(argc, argv, &o, usage)) != 0)
		return rc;
	if (o.npos != 1 || o.party == NULL)
		return cli_usage(usage);
	if (replay_run(o.pos[0], o.party, o.to, NULL, &r, &e) != 0)
		return cli_fail("%s", e.msg);
	if (o.json) {
		char *s = json_dumps(r, JSON_INDENT(2));
		printf("%s\n", s);
		free(s);
		json_decref(r);
		return 0;
	}
	/* Labels for the text form come from the same definitions. */
	treaty_reg_load_dir(&reg, treaty_dir(), &e);
	printf("%s: log %s, %lld entries%s, root %s\n", o.party,
	       json_string_value(json_object_get(json_object_get(r, "log"), "origin")),
	       (long long)json_integer_value(json_object_get(json_object_get(r, "log"), "size")),
	       json_is_true(json_object_get(json_object_get(r, "log"), "cosigned")) ?
	       " (cosigned checkpoint)" : " (not yet cosigned)",
	       json_string_value(json_object_get(json_object_get(r, "log"), "root")));
	printf("receipts from %s (%lld entries); %lld notifications\n",
	       json_string_value(json_object_get(json_object_get(r, "receipts"), "origin")),
	       (long long)json_integer_value(json_object_get(json_object_get(r, "receipts"), "size")),
	       (long long)json_integer_value(json_object_get(r, "notifications")));
	json_array_foreach(json_object_get(r, "treaties"), i, t) {
		const struct treaty_def *d = treaty_reg_by_name(&reg,
				json_string_value(json_object_get(t, "name")));
		json_t *l;
		printf("\n%s (%s): %lld notifications, %lld applied, %lld items, inventory "
		       "sha256 %.16s...\n", json_string_value(json_object_get(t, "name")),
		       d ? treaty_label(d->label, o.lang, "") : "",
		       (long long)json_integer_value(json_object_get(t, "notifications")),
		       (long long)json_integer_value(json_object_get(t, "applied")),
		       (long long)json_integer_value(json_object_get(t, "items")),
		       json_string_value(json_object_get(t, "inventory_sha256")));
		json_array_foreach(json_object_get(t, "limits"), j, l) {
			const char *ln = json_string_value(json_object_get(l, "name"));
			const char *lab = ln;
			for (size_t x = 0; d && x < d->nlimits; x++)
				if (strcmp(d->limits[x].name, ln) == 0)
					lab = treaty_label(d->limits[x].label, o.lang, ln);
			printf("  %-58s %6lld / %-6lld%s\n", lab,
			       (long long)json_integer_value(json_object_get(l, "total")),
			       (long long)json_integer_value(json_object_get(l, "max")),
			       json_is_true(json_object_get(l, "over")) ? " OVER" : "");
		}
		if (json_object_size(json_object_get(t, "open")) > 0) {
			const char *key;
			json_t *v;
			printf("  open:");
			json_object_foreach(json_object_get(t, "open"), key, v)
				printf(" %s (entry %lld)", key, (long long)json_integer_value(v));
			printf("\n");
		}
		json_array_foreach(json_object_get(t, "flags"), j, f)
			printf("  [%s] entry %lld: %s\n",
			       json_string_value(json_object_get(f, "code")),
			       (long long)json_integer_value(json_object_get(f, "index")),
			       json_string_value(json_object_get(f, "detail")));
	}
	json_array_foreach(json_object_get(r, "flags"), j, f)
		printf("[%s] entry %lld: %s\n", json_string_value(json_object_get(f, "code")),
		       (long long)json_integer_value(json_object_get(f, "index")),
		       json_string_value(json_object_get(f, "detail")));
	treaty_reg_free(&reg);
	json_decref(r);
	return 0;
}

/* ---- treaty exchange ---------------------------------------------------- */

/*
 * A data-exchange notification made from an inventory file: the items,
 * item_count and the totals the items count, under the definition's
 * declare kind; with --commitment, the commitment of a private file made
 * by `parley inspect commit` from the same items; with --no-items, the
 * totals and the commitment only (the items stay private until an
 * inspection discloses them).  Printed on stdout, for `parley notify`.
 */
static int treaty_cmd_exchange(int argc, char **argv)
{
	static const char usage[] =
		"parley treaty exchange TREATY INVENTORY --exchange ID [--commitment PRIVATE] "
		"[--no-items]";
	const char *pos[2] = { NULL, NULL }, *xid = NULL, *priv = NULL;
	struct treaty_def *d = NULL;
	const struct treaty_kind *k = NULL;
	struct commit_set cs;
	struct perr e;
	json_t *inv = NULL, *items, *fields = NULL, *tot, *pj = NULL;
	int64_t *t = NULL;
	int i, npos = 0, noitems = 0, rc = CLI_EXIT_FAIL;
	char *out;

	memset(&cs, 0, sizeof cs);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--exchange") == 0 && i + 1 < argc)
			xid = argv[++i];
		else if (strcmp(argv[i], "--commitment") == 0 && i + 1 < argc)
			priv = argv[++i];
		else if (strcmp(argv[i], "--no-items") == 0)
			noitems = 1;
		else if (npos < 2 && argv[i][0] != '-')
			pos[npos++] = argv[i];
		else
			return cli_usage(usage);
	}
	if (npos != 2 || xid == NULL || (noitems && priv == NULL))
		return cli_usage(usage);
	if (treaty_resolve_load(&d, pos[0], &e) != 0)
		return cli_fail("%s", e.msg);
	for (size_t x = 0; x < d->nkinds && k == NULL; x++)
		if (d->kinds[x].op == TOP_DECLARE)
			k = &d->kinds[x];
	if (k == NULL) {
		cli_fail("%s defines no data exchange (no kind with a declare effect)", d->name);
		goto out;
	}
	if ((inv = load_json(pos[1], &e)) == NULL) {
		cli_fail("%s", e.msg);
		goto out;
	}
	items = json_is_object(inv) ? json_object_get(inv, "items") : inv;
	if (!json_is_array(items)) {
		cli_fail("%s: an inventory is an array of items or an object with \"items\"",
			 pos[1]);
		goto out;
	}
	t = calloc(d->nlimits + 1, sizeof *t);
	fields = json_object();
	tot = json_object();
	if (t == NULL || fields == NULL || tot == NULL) {
		json_decref(tot);
		cli_fail("out of memory");
		goto out;
	}
	treaty_totals_of(d, items, t);
	for (size_t l = 0; l < d->nlimits; l++)
		json_object_set_new(tot, d->limits[l].name, json_integer((json_int_t)t[l]));
	json_object_set_new(fields, k->fields[k->f_exchange].name, json_string(xid));
	if (json_is_string(json_object_get(inv, "as_of")))
		for (size_t f = 0; f < k->nfields; f++)
			if (strcmp(k->fields[f].name, "as_of") == 0)
				json_object_set(fields, "as_of", json_object_get(inv, "as_of"));
	json_object_set_new(fields, k->fields[k->f_count].name,
			    json_integer((json_int_t)json_array_size(items)));
	/* one part; notify cuts it into numbered parts if it is too large */
	json_object_set_new(fields, k->fields[k->f_part].name, json_integer(1));
	json_object_set_new(fields, k->fields[k->f_parts].name, json_integer(1));
	if (!noitems)
		json_object_set(fields, k->fields[k->f_items].name, items);
	if (k->f_totals >= 0)
		json_object_set_new(fields, k->fields[k->f_totals].name, tot);
	else
		json_decref(tot);
	if (priv != NULL) {
		if (k->f_commitment < 0) {
			cli_fail("%s's %s has no commitment field", d->name, k->name);
			goto out;
		}
		if ((pj = load_json(priv, &e)) == NULL || commit_private_load(&cs, pj, &e) != 0) {
			cli_fail("%s: %s", priv, e.msg);
			goto out;
		}
		if (cs.c.count != json_array_size(items)) {
			cli_fail("%s commits to %llu items, the inventory has %zu", priv,
				 (unsigned long long)cs.c.count, json_array_size(items));
			goto out;
		}
		json_object_set_new(fields, k->fields[k->f_commitment].name,
				    commit_root_json(&cs.c));
	}
	{
		json_t *n = json_pack("{sssO}", "kind", k->name, "fields", fields);
		out = json_dumps(n, JSON_COMPACT);
		json_decref(n);
	}
	if (out == NULL) {
		cli_fail("out of memory");
		goto out;
	}
	printf("%s\n", out);
	free(out);
	rc = 0;
out:
	commit_set_free(&cs);
	json_decref(pj);
	free(t);
	json_decref(fields);
	json_decref(inv);
	treaty_def_free(d);
	return rc;
}

int cmd_treaty(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return treaty_cmd_check(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "validate") == 0)
		return treaty_cmd_validate(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "show") == 0)
		return treaty_cmd_show(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "replay") == 0)
		return treaty_cmd_replay(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "exchange") == 0)
		return treaty_cmd_exchange(argc - 1, argv + 1);
	return cli_usage("parley treaty check|validate|show|replay|exchange ...");
}

/* ---- notify ------------------------------------------------------------- */

/* One notification to the node: POST /api/notify. */
static int notify_one(const char *dir, const char *to, const struct treaty_def *d,
		      const char *deftext, const char *kind, json_t *fields,
		      const char *prec, const char *id)
{
	json_t *body, *reply = NULL;
	int rc;

	body = json_pack("{sss{ssss}sssssOss}", "to", to, "treaty", "name", d->name,
			 "sha256", d->sha_hex, "definition", deftext, "kind", kind,
			 "fields", fields, "precedence", prec);
	if (id != NULL)
		json_object_set_new(body, "id", json_string(id));
	rc = cli_api_ok(dir, "POST", "/api/notify", body, &reply);
	if (rc == 0)
		cli_print_entries(reply);
	json_decref(reply);
	return rc;
}

/*
 * A data exchange too large for one entry goes in numbered parts
 * (docs/treaties.md, "Data exchanges"): items are cut into runs of at
 * most PART_ITEMS_MAX bytes; each part repeats the other fields, with
 * part, parts and item_count set.
 */
static int notify_parts(const char *dir, const char *to, const struct treaty_def *d,
			const char *deftext, const struct treaty_kind *k, json_t *fields,
			const char *prec, const char *id)
{
	const char *fi = k->fields[k->f_items].name;
	json_t *items = json_object_get(fields, fi), *it;
	size_t n = json_array_size(items), i, start = 0, size = 0, nparts = 0;
	size_t *cuts = calloc(n + 2, sizeof *cuts);
	int rc = 0;

	if (cuts == NULL)
		return cli_fail("out of memory");
	json_array_foreach(items, i, it) {
		char *s = json_dumps(it, JSON_COMPACT);
		size_t l = s ? strlen(s) + 1 : 0;
		free(s);
		if (size > 0 && size + l > PART_ITEMS_MAX) {
			cuts[nparts++] = start;
			start = i;
			size = 0;
		}
		size += l;
	}
	cuts[nparts++] = start;
	cuts[nparts] = n;
	for (size_t p = 0; rc == 0 && p < nparts; p++) {
		json_t *f = json_deep_copy(fields), *slice = json_array();
		char pid[ENV_ID_MAX + 1];
		for (i = cuts[p]; i < cuts[p + 1]; i++)
			json_array_append(slice, json_array_get(items, i));
		json_object_set_new(f, fi, slice);
		json_object_set_new(f, k->fields[k->f_part].name, json_integer((json_int_t)p + 1));
		json_object_set_new(f, k->fields[k->f_parts].name, json_integer((json_int_t)nparts));
		if (id != NULL)
			snprintf(pid, sizeof pid, "%.100s-part-%zu", id, p + 1);
		fprintf(stderr, "part %zu of %zu: %zu items\n", p + 1, nparts,
			cuts[p + 1] - cuts[p]);
		rc = notify_one(dir, to, d, deftext, k->name, f, prec, id ? pid : NULL);
		json_decref(f);
	}
	free(cuts);
	return rc;
}

int cmd_notify(int argc, char **argv)
{
	static const char usage[] =
		"parley notify DIR --to NODE --treaty TREATY [--precedence P] [--id KEY] [FILE|-]";
	const char *dir = NULL, *to = NULL, *tr = NULL, *prec = "ROUTINE", *id = NULL,
		   *file = "-";
	struct treaty_def *d = NULL;
	struct treaty_msgs m = { 0 };
	const struct treaty_kind *k;
	enum env_prec pv;
	struct perr e;
	const char *kind;
	json_t *j = NULL, *fields;
	char *deftext = NULL;
	size_t deflen;
	int i, npos = 0, rc = CLI_EXIT_FAIL;
	char path[4200];

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
			to = argv[++i];
		else if (strcmp(argv[i], "--treaty") == 0 && i + 1 < argc)
			tr = argv[++i];
		else if (strcmp(argv[i], "--precedence") == 0 && i + 1 < argc)
			prec = argv[++i];
		else if (strcmp(argv[i], "--id") == 0 && i + 1 < argc)
			id = argv[++i];
		else if (npos == 0 && argv[i][0] != '-')
			dir = argv[i], npos++;
		else if (npos == 1 && (argv[i][0] != '-' || argv[i][1] == '\0'))
			file = argv[i], npos++;
		else
			return cli_usage(usage);
	}
	if (dir == NULL || to == NULL || tr == NULL)
		return cli_usage(usage);
	if (env_prec_parse(prec, &pv) != 0)
		return cli_fail("precedence \"%s\" is not FLASH, IMMEDIATE, PRIORITY or ROUTINE",
				prec);
	if (id != NULL && strlen(id) > 100)
		return cli_fail("--id is longer than 100 characters");
	if (treaty_resolve_load(&d, tr, &e) != 0)
		return cli_fail("%s", e.msg);
	/* The node checks the definition's SHA-256 against these bytes. */
	if (strchr(tr, '/') != NULL || strstr(tr, ".json") != NULL)
		snprintf(path, sizeof path, "%s", tr);
	else
		snprintf(path, sizeof path, "%s/%s.json", treaty_dir(), tr);
	if (file_read(path, TREATY_FILE_MAX, 0, &deftext, &deflen, &e) != 0) {
		cli_fail("%s", e.msg);
		goto out;
	}
	if (load_notice(d, file, &j, &kind, &fields, &k) != 0)
		goto out;
	if (k->op == TOP_DECLARE) {
		/* parts are numbered here when the operator gave the whole list */
		json_t *items = json_object_get(fields, k->fields[k->f_items].name);
		if (json_object_get(fields, k->fields[k->f_part].name) == NULL)
			json_object_set_new(fields, k->fields[k->f_part].name, json_integer(1));
		if (json_object_get(fields, k->fields[k->f_parts].name) == NULL)
			json_object_set_new(fields, k->fields[k->f_parts].name, json_integer(1));
		if (json_object_get(fields, k->fields[k->f_count].name) == NULL)
			json_object_set_new(fields, k->fields[k->f_count].name,
					    json_integer((json_int_t)json_array_size(items)));
	}
	/* Validated here for a quick, complete answer; the node checks again
	 * (with the inventory) before it logs anything. */
	if (treaty_validate(d, k, fields, &m) != 0) {
		cli_fail("%s: %s is not valid: %zu problem%s; nothing was sent", file, kind,
			 m.n + m.dropped, m.n + m.dropped == 1 ? "" : "s");
		print_msgs(&m);
		goto out;
	}
	if (k->op == TOP_DECLARE && json_integer_value(json_object_get(fields,
			k->fields[k->f_parts].name)) == 1) {
		char *s = json_dumps(fields, JSON_COMPACT);
		size_t l = s ? strlen(s) : 0;
		free(s);
		if (l > PART_ITEMS_MAX) {
			rc = notify_parts(dir, to, d, deftext, k, fields, prec, id);
			goto out;
		}
	}
	rc = notify_one(dir, to, d, deftext, kind, fields, prec, id);
out:
	treaty_msgs_free(&m);
	free(deftext);
	json_decref(j);
	treaty_def_free(d);
	return rc;
}
