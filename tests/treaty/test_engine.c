/*
 * test_engine.c — the treaty engine (src/treaty/treaty.h; the rules are in
 * docs/treaties.md): definitions read as data and refused by name,
 * counting rules against limits, validation of notifications, illegal
 * changes flagged and not applied, deadlines, data exchanges in parts,
 * open records, a structurally different treaty run through the same
 * engine, and the inventory digest two nodes compare.
 *
 * Expectations are written out here by hand (totals counted from the
 * rules, messages as the contract words them), never recomputed with the
 * engine's own functions.  Tests run from the repository root
 * (tests/run-all cd's there), so definitions are named relative to it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/sha.h>

#include "treaty.h"

#define NEW_START "treaties/new-start.json"
#define BMLNA "treaties/bmlna-1988.json"
#define HOTLINE "treaties/hotline.json"
#define ALT_TREATY "tests/treaty/alt-treaty.json"
#define ALT_INVENTORY "tests/treaty/alt-inventory.json"
#define US_SAMPLE "treaties/samples/us-2020-09-01.json"
#define RU_SAMPLE "treaties/samples/ru-2020-09-01.json"

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */

static struct treaty_def *def_load(const char *path)
{
	struct treaty_def *d = NULL;
	struct perr e = { "" };

	if (treaty_def_load(&d, path, &e) != 0)
		fail_msg("%s does not load: %s", path, e.msg);
	assert_non_null(d);
	return d;
}

/* JSON written with single quotes, for legibility: ' becomes ". */
static char *dq(const char *s)
{
	char *t = strdup(s);

	assert_non_null(t);
	for (char *p = t; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	return t;
}

static json_t *js(const char *single_quoted)
{
	char *t = dq(single_quoted);
	json_error_t je;
	json_t *v = json_loads(t, 0, &je);

	if (v == NULL)
		fail_msg("test JSON does not parse: %s: %s", je.text, t);
	free(t);
	return v;
}

static size_t limit_index(const struct treaty_def *d, const char *name)
{
	for (size_t l = 0; l < d->nlimits; l++)
		if (strcmp(d->limits[l].name, name) == 0)
			return l;
	fail_msg("no limit \"%s\" in %s", name, d->name);
	return 0;
}

static int64_t total(const struct treaty_engine *g, const struct treaty_def *d,
		     const char *limit)
{
	int64_t t[TREATY_MAX_LIMITS + 1];

	treaty_totals(g, t);
	return t[limit_index(d, limit)];
}

static int64_t total_of(const struct treaty_def *d, const json_t *items,
			const char *limit)
{
	int64_t t[TREATY_MAX_LIMITS + 1];

	treaty_totals_of(d, items, t);
	return t[limit_index(d, limit)];
}

static int over(const struct treaty_engine *g, const struct treaty_def *d,
		const char *limit)
{
	return total(g, d, limit) > d->limits[limit_index(d, limit)].max;
}

/* An engine holding items (an array, or an object with "items"). */
static struct treaty_engine *engine_with(const struct treaty_def *d,
					 json_t *items /* stolen */)
{
	struct treaty_engine *g = treaty_engine_new(d);
	struct perr e = { "" };

	assert_non_null(g);
	if (items != NULL) {
		if (treaty_engine_load(g, items, &e) != 0)
			fail_msg("inventory refused: %s", e.msg);
		json_decref(items);
	}
	return g;
}

static int64_t at(const char *time)
{
	int64_t t;

	if (treaty_time_parse(time, &t) != 0)
		fail_msg("bad test time %s", time);
	return t;
}

/* Applies and releases fields; returns the flags raised. */
static size_t apply(struct treaty_engine *g, uint64_t index, const char *kind,
		    json_t *fields /* stolen */, int64_t received)
{
	size_t n;

	assert_non_null(fields);
	n = treaty_apply(g, index, kind, fields, received);
	json_decref(fields);
	return n;
}

static size_t check(struct treaty_engine *g, const char *kind,
		    json_t *fields /* stolen */, struct treaty_msgs *m)
{
	size_t n;

	assert_non_null(fields);
	n = treaty_check(g, kind, fields, m);
	json_decref(fields);
	return n;
}

static size_t validate(const struct treaty_def *d, const char *kind,
		       json_t *fields /* stolen */, struct treaty_msgs *m)
{
	const struct treaty_kind *k = treaty_kind_find(d, kind);
	size_t n;

	assert_non_null(k);
	assert_non_null(fields);
	n = treaty_validate(d, k, fields, m);
	json_decref(fields);
	return n;
}

static size_t nflags(const struct treaty_engine *g)
{
	size_t n;

	treaty_flags(g, &n);
	return n;
}

static void print_flags(const struct treaty_engine *g, size_t from)
{
	size_t n;
	const struct treaty_flag *f = treaty_flags(g, &n);

	for (size_t i = from; i < n; i++)
		print_message("  flag %llu %s: %s\n", (unsigned long long)f[i].index,
			      f[i].code, f[i].detail);
}

/* Flag i is code at index and its detail contains every needle (a
 * NULL-terminated list). */
static void expect_flag(const struct treaty_engine *g, size_t i, uint64_t index,
			const char *code, ...)
{
	size_t n;
	const struct treaty_flag *f = treaty_flags(g, &n);
	const char *needle;
	va_list ap;

	if (i >= n || strcmp(f[i].code, code) != 0 || f[i].index != index)
		print_flags(g, 0);
	if (i >= n)
		fail_msg("expected flag %zu (%s), only %zu raised", i, code, n);
	if (strcmp(f[i].code, code) != 0 || f[i].index != index)
		fail_msg("flag %zu is %s at %llu (%s), expected %s at %llu", i,
			 f[i].code, (unsigned long long)f[i].index, f[i].detail, code,
			 (unsigned long long)index);
	va_start(ap, code);
	while ((needle = va_arg(ap, const char *)) != NULL)
		if (strstr(f[i].detail, needle) == NULL) {
			va_end(ap);
			fail_msg("flag %s \"%s\" does not mention \"%s\"", code,
				 f[i].detail, needle);
		}
	va_end(ap);
}

/* Among flags from..end: how many are code and mention needle (or any). */
static size_t count_flags(const struct treaty_engine *g, size_t from,
			  const char *code, const char *needle)
{
	size_t n, c = 0;
	const struct treaty_flag *f = treaty_flags(g, &n);

	for (size_t i = from; i < n; i++)
		if (strcmp(f[i].code, code) == 0 &&
		    (needle == NULL || strstr(f[i].detail, needle) != NULL))
			c++;
	return c;
}

/* m holds exactly the given lines (any order; a NULL-terminated list). */
static void expect_lines(const struct treaty_msgs *m, ...)
{
	const char *want;
	size_t n = 0;
	va_list ap;

	va_start(ap, m);
	while ((want = va_arg(ap, const char *)) != NULL) {
		size_t i;
		for (i = 0; i < m->n; i++)
			if (strcmp(m->lines[i], want) == 0)
				break;
		if (i == m->n) {
			for (i = 0; i < m->n; i++)
				print_message("  got: %s\n", m->lines[i]);
			va_end(ap);
			fail_msg("missing line: %s", want);
		}
		n++;
	}
	va_end(ap);
	if (m->n != n) {
		for (size_t i = 0; i < m->n; i++)
			print_message("  got: %s\n", m->lines[i]);
		fail_msg("%zu lines, expected %zu", m->n, n);
	}
}

/* The one line m holds, for a single problem. */
static void expect_one_line(struct treaty_msgs *m, size_t rc, const char *line)
{
	assert_int_equal(rc, 1);
	expect_lines(m, line, NULL);
	treaty_msgs_free(m);
}

/* The state a refused notification must leave as it was. */
struct snapshot {
	uint8_t digest[32];
	int64_t tot[TREATY_MAX_LIMITS + 1];
	size_t items, applied;
};

static void snap(const struct treaty_engine *g, struct snapshot *s)
{
	memset(s, 0, sizeof *s);
	treaty_inventory_digest(g, s->digest);
	treaty_totals(g, s->tot);
	s->items = treaty_item_count(g);
	s->applied = treaty_applied(g);
}

static void expect_unchanged(const struct treaty_engine *g,
			     const struct snapshot *before)
{
	struct snapshot now;

	snap(g, &now);
	assert_memory_equal(now.digest, before->digest, 32);
	assert_memory_equal(now.tot, before->tot, sizeof now.tot);
	assert_int_equal(now.items, before->items);
	assert_int_equal(now.applied, before->applied);
}

/* The record of one item in the engine's inventory (borrowed from inv). */
static json_t *inv_item(json_t *inv, const char *id)
{
	size_t i;
	json_t *rec;

	json_array_foreach(inv, i, rec)
		if (strcmp(json_string_value(json_object_get(rec, "id")), id) == 0)
			return rec;
	return NULL;
}

/* A member of an item of the engine's inventory, as a string ("" if the
 * item or member is absent; integers in decimal). */
static void item_member(const struct treaty_engine *g, const char *id,
			const char *member, char *out, size_t cap)
{
	json_t *inv = treaty_inventory(g), *v;

	assert_non_null(inv);
	v = json_object_get(inv_item(inv, id), member);
	if (json_is_string(v))
		snprintf(out, cap, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(out, cap, "%lld", (long long)json_integer_value(v));
	else
		snprintf(out, cap, "%s", "");
	json_decref(inv);
}

/* ---------------------------------------------------------------------- */
/* New START items and notifications                                       */

/* An item; warheads < 0: no "warheads" member. */
static json_t *ns_item(const char *id, const char *cat, const char *status,
		       int warheads)
{
	json_t *it = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "category", cat,
			       "status", status, "type", "test type", "base", "Test Base");

	assert_non_null(it);
	if (warheads >= 0)
		json_object_set_new(it, "warheads", json_integer(warheads));
	return it;
}

/* n items "<prefix>-0001"... of one category and status. */
static void ns_items(json_t *arr, const char *prefix, int n, const char *cat,
		     const char *status, int warheads)
{
	char id[64];

	for (int i = 1; i <= n; i++) {
		snprintf(id, sizeof id, "%s-%04d", prefix, i);
		json_array_append_new(arr, ns_item(id, cat, status, warheads));
	}
}

/*
 * An inventory exactly at the three central limits:
 *   deployed  400 ICBMs + 240 SLBMs + 60 heavy bombers          = 700
 *   warheads  399 x 2 + 1 x (none) + 212 x 3 + 28 x 2 + 60 x 1  = 1550
 *             (bombers declare 14 warheads each, and count one)
 *   launchers 400 + 240 + 100 non-deployed SLBM launchers + 60  = 800
 * plus items of every status that counts towards nothing.
 */
static json_t *ns_at_limits(void)
{
	json_t *a = json_array();

	ns_items(a, "ICBM", 399, "icbm", "deployed", 2);
	ns_items(a, "ICBM-NOWH", 1, "icbm", "deployed", -1);
	ns_items(a, "SLBM-A", 212, "slbm", "deployed", 3);
	ns_items(a, "SLBM-B", 28, "slbm", "deployed", 2);
	ns_items(a, "HB", 60, "heavy_bomber", "deployed", 14);
	ns_items(a, "ICBM-L", 400, "icbm_launcher", "deployed", -1);
	ns_items(a, "SLBM-L", 240, "slbm_launcher", "deployed", -1);
	ns_items(a, "SLBM-LN", 100, "slbm_launcher", "non_deployed", -1);
	/* counting towards nothing */
	ns_items(a, "ICBM-ND", 5, "icbm", "non_deployed", 3);
	ns_items(a, "ICBM-T", 3, "icbm", "test", 1);
	ns_items(a, "SLBM-E", 4, "slbm", "eliminated", 4);
	ns_items(a, "HB-C", 2, "heavy_bomber", "converted", 14);
	ns_items(a, "HB-E", 1, "heavy_bomber", "eliminated", -1);
	ns_items(a, "ICBM-LE", 7, "icbm_launcher", "eliminated", -1);
	ns_items(a, "ICBM-LT", 2, "icbm_launcher", "test", -1);
	ns_items(a, "SLBM-LC", 2, "slbm_launcher", "converted", -1);
	return a;
}

static json_t *new_item(json_t *item /* stolen */, const char *date)
{
	return json_pack("{s:o, s:s}", "item", item, "event_date", date);
}

static json_t *status_change(const char *id, const char *status, const char *date)
{
	return json_pack("{s:s, s:s, s:s}", "item_id", id, "new_status", status,
			 "event_date", date);
}

static json_t *movement(const char *id, const char *base, const char *date)
{
	return json_pack("{s:s, s:s, s:s}", "item_id", id, "new_base", base,
			 "event_date", date);
}

static json_t *rv_change(const char *id, int warheads, const char *date)
{
	return json_pack("{s:s, s:i, s:s}", "item_id", id, "warheads", warheads,
			 "event_date", date);
}

static json_t *elimination(const char *id, const char *date)
{
	return json_pack("{s:s, s:s, s:s}", "item_id", id, "event_date", date,
			 "method", "cut");
}

/* One part of a New START data exchange; items and totals may be NULL. */
static json_t *exchange_part(const char *id, int part, int parts, int count,
			     json_t *items /* stolen */, json_t *totals /* stolen */)
{
	json_t *f = json_pack("{s:s, s:s, s:i, s:i, s:i}", "exchange", id,
			      "as_of", "2020-09-01", "part", part, "parts", parts,
			      "item_count", count);

	assert_non_null(f);
	if (items != NULL)
		json_object_set_new(f, "items", items);
	if (totals != NULL)
		json_object_set_new(f, "totals", totals);
	return f;
}

static json_t *ns_totals(int deployed, int warheads, int launchers)
{
	return json_pack("{s:i, s:i, s:i}", "deployed", deployed,
			 "deployed_warheads", warheads, "launchers", launchers);
}

/* Four deployed items: 4 deployed, 1 + 3 + 4 + 1 = 9 warheads, 1 launcher
 * (the bomber). */
static json_t *four_items(void)
{
	return json_pack("[o, o, o, o]", ns_item("A", "icbm", "deployed", 1),
			 ns_item("B", "icbm", "deployed", 3),
			 ns_item("C", "slbm", "deployed", 4),
			 ns_item("D", "heavy_bomber", "deployed", -1));
}

/* ---------------------------------------------------------------------- */
/* 1. Definitions                                                          */

static void test_shipped_and_test_definitions_load(void **state)
{
	static const struct {
		const char *path, *name;
		size_t statuses, cats, limits, kinds;
	} defs[] = {
		{ NEW_START, "new-start", 5, 5, 3, 9 },
		{ BMLNA, "bmlna-1988", 0, 0, 0, 3 },
		{ HOTLINE, "hotline", 0, 0, 0, 2 },
		{ ALT_TREATY, "cfe-lite", 4, 4, 4, 6 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
		struct treaty_def *d = def_load(defs[i].path);
		FILE *f = fopen(defs[i].path, "rb");
		static unsigned char buf[1 << 20];
		size_t len;
		uint8_t sha[32];

		assert_non_null(f);
		len = fread(buf, 1, sizeof buf, f);
		fclose(f);
		assert_true(len > 0 && len < sizeof buf);
		SHA256(buf, len, sha);
		assert_string_equal(d->name, defs[i].name);
		/* what an envelope names: the SHA-256 of the file's exact bytes */
		assert_memory_equal(d->sha256, sha, 32);
		assert_int_equal(strlen(d->sha_hex), 64);
		assert_int_equal(d->nstatuses, defs[i].statuses);
		assert_int_equal(d->ncats, defs[i].cats);
		assert_int_equal(d->nlimits, defs[i].limits);
		assert_int_equal(d->nkinds, defs[i].kinds);
		treaty_def_free(d);
	}
}

static void test_new_start_limits_are_700_1550_800(void **state)
{
	struct treaty_def *d = def_load(NEW_START);
	(void)state;

	assert_int_equal(d->limits[limit_index(d, "deployed")].max, 700);
	assert_int_equal(d->limits[limit_index(d, "deployed_warheads")].max, 1550);
	assert_int_equal(d->limits[limit_index(d, "launchers")].max, 800);
	assert_string_equal(treaty_label(d->label, TREATY_RU, "?"),
			    "Договор о мерах по дальнейшему сокращению и ограничению "
			    "стратегических наступательных вооружений (ДСНВ, 2010)");
	treaty_def_free(d);
}

#define L_ "{'en': 'x', 'ru': 'х'}"

/* A small valid definition that the refusal cases below break one member
 * at a time. */
static const char MINI[] =
	"{'format': 'parley-treaty/1', 'name': 'mini',"
	" 'label': {'en': 'Mini treaty', 'ru': 'Мини-договор'},"
	" 'statuses': {'active': {'label': {'en': 'Active', 'ru': 'В строю'}},"
	"              'stored': {'label': {'en': 'Stored', 'ru': 'На хранении'}},"
	"              'gone': {'label': {'en': 'Gone', 'ru': 'Нет'}}},"
	" 'categories': {'tank': {'label': " L_ ","
	"                         'statuses': ['active', 'gone'],"
	"                         'transitions': {'active': ['gone']}}},"
	" 'item_fields': {'id': {'type': 'string', 'label': " L_ "},"
	"                 'category': {'type': 'category', 'label': " L_ "},"
	"                 'status': {'type': 'status', 'label': " L_ "},"
	"                 'base': {'type': 'string', 'label': " L_ ", 'required': false},"
	"                 'crew': {'type': 'integer', 'label': " L_ ", 'required': false}},"
	" 'limits': [{'name': 'crews', 'label': " L_ ", 'max': 10,"
	"             'count': [{'categories': ['tank'], 'statuses': ['active'],"
	"                        'sum': 'crew'}]}],"
	" 'kinds': {'movement': {'label': " L_ ","
	"   'fields': {'item_id': {'type': 'item_id', 'label': " L_ "},"
	"              'new_base': {'type': 'string', 'label': " L_ "},"
	"              'event_date': {'type': 'date', 'label': " L_ "}},"
	"   'deadline': {'field': 'event_date', 'within_days': 5},"
	"   'effect': {'op': 'update', 'item': 'item_id', 'set': {'base': 'new_base'}}}}}";

/* MINI with one substring replaced (which must occur). */
static char *mini_with(const char *from, const char *to)
{
	char *base = dq(MINI), *f = dq(from), *t = dq(to), *out;
	char *p = strstr(base, f);

	if (p == NULL)
		fail_msg("test bug: \"%s\" is not in the mini definition", from);
	out = malloc(strlen(base) - strlen(f) + strlen(t) + 1);
	assert_non_null(out);
	memcpy(out, base, (size_t)(p - base));
	strcpy(out + (p - base), t);
	strcat(out, p + strlen(f));
	free(base);
	free(f);
	free(t);
	return out;
}

/* Parses the mutated MINI; 1 if refused by the error convention with a
 * message that contains needle, else 0 (with the reason printed). */
static int refused_naming(const char *from, const char *to, const char *needle)
{
	char *text = mini_with(from, to);
	struct treaty_def *d = (struct treaty_def *)1;
	struct perr e = { "" };
	int rc = treaty_def_parse(&d, text, strlen(text), "mini.json", &e), ok = 1;

	if (rc == 0) {
		print_message("accepted: %s -> %s\n", from, to);
		treaty_def_free(d);
		ok = 0;
	} else if (rc > 0 || d != NULL || strchr(e.msg, '\n') != NULL ||
		   strncmp(e.msg, "mini.json: ", 11) != 0 ||
		   strstr(e.msg, needle) == NULL) {
		print_message("%s -> %s: message \"%s\" does not name \"%s\"\n", from, to,
			      e.msg, needle);
		ok = 0;
	}
	free(text);
	return ok;
}

static void test_mini_definition_is_valid(void **state)
{
	char *text = dq(MINI);
	struct treaty_def *d = NULL;
	struct perr e = { "" };
	(void)state;

	if (treaty_def_parse(&d, text, strlen(text), "mini.json", &e) != 0)
		fail_msg("the base of the refusal cases is refused: %s", e.msg);
	assert_string_equal(d->name, "mini");
	assert_int_equal(d->nkinds, 1);
	treaty_def_free(d);
	free(text);
}

static void test_broken_definitions_are_refused_naming_the_member(void **state)
{
	int bad = 0;
	(void)state;

	bad += !refused_naming("'name': 'mini',", "'name': 'mini', 'comment': 'draft',",
			       "(top): unknown member \"comment\"");
	bad += !refused_naming("{'en': 'Gone', 'ru': 'Нет'}", "{'en': 'Gone'}",
			       "statuses.gone.label: a label needs non-empty \"en\" and \"ru\"");
	bad += !refused_naming("'crew': {'type': 'integer'", "'crew': {'type': 'int'",
			       "item_fields.crew: unknown type \"int\"");
	bad += !refused_naming("'new_base': {'type'", "'destination': {'type'",
			       "kinds.movement.effect.set.base");
	bad += !refused_naming("'transitions': {'active': ['gone']}",
			       "'transitions': {'active': ['gone', 'stored']}",
			       "categories.tank.transitions.active: \"stored\" is not one "
			       "of the category's statuses");
	bad += !refused_naming("'sum': 'crew'", "'sum': 'base'",
			       "limits.crews.count[0]: \"sum\" must name an integer item field");
	bad += !refused_naming("parley-treaty/1", "parley-treaty/2",
			       "format: must be \"parley-treaty/1\"");
	bad += !refused_naming("'name': 'mini',", "'name': 'mini', 'name': 'maxi',",
			       "duplicate object key near '\"name\"'");
	bad += !refused_naming("'field': 'event_date'", "'field': 'new_base'",
			       "kinds.movement.deadline: \"field\": field \"new_base\" has "
			       "the wrong type");
	assert_int_equal(bad, 0);
}

/* treaty.h documents this very message for this very mistake. */
static void test_set_naming_a_missing_field_names_that_field(void **state)
{
	(void)state;

	assert_true(refused_naming("'new_base': {'type'", "'destination': {'type'",
				   "kinds.movement.effect.set.base: no field \"new_base\""));
}

/* A member whose value is of the wrong JSON type is refused by name too,
 * with a message (not an empty one). */
static void test_members_of_the_wrong_json_type_are_refused_by_name(void **state)
{
	int bad = 0;
	(void)state;

	bad += !refused_naming("'active': {'label': {'en': 'Active', 'ru': 'В строю'}}",
			       "'active': 'Active'", "statuses.active");
	bad += !refused_naming("'categories': {'tank': {",
			       "'categories': {'tank': 'tanks', 'tank2': {",
			       "categories.tank");
	bad += !refused_naming("'limits': [{", "'limits': ['crews', {", "limits[0]");
	bad += !refused_naming("'count': [{", "'count': ['tank', {",
			       "limits.crews.count[0]");
	bad += !refused_naming("'kinds': {'movement': {",
			       "'kinds': {'report': 'free text', 'movement': {",
			       "kinds.report");
	bad += !refused_naming("'effect': {'op': 'update', 'item': 'item_id', "
			       "'set': {'base': 'new_base'}}",
			       "'effect': 'update'", "kinds.movement.effect");
	bad += !refused_naming("'new_base': {'type': 'string', 'label': " L_ "}",
			       "'new_base': {'type': 'string', 'label': " L_ "},"
			       " 'reason': {'type': 'code', 'label': " L_ ","
			       "            'values': {'cut': 'Cutting'}}",
			       "kinds.movement.fields.reason.values.cut");
	assert_int_equal(bad, 0);
}

/* ---------------------------------------------------------------------- */
/* 2. Counting rules (New START)                                           */

static void test_each_item_counts_by_its_category_and_status(void **state)
{
	static const struct {
		const char *cat, *status;
		int warheads;
		int64_t deployed, dwarheads, launchers;
	} rows[] = {
		{ "icbm", "deployed", 3, 1, 3, 0 },
		{ "icbm", "deployed", -1, 1, 0, 0 },      /* no warheads: 0 */
		{ "icbm", "deployed", 0, 1, 0, 0 },
		{ "slbm", "deployed", 4, 1, 4, 0 },
		{ "heavy_bomber", "deployed", 14, 1, 1, 1 }, /* one warhead each */
		{ "heavy_bomber", "deployed", -1, 1, 1, 1 },
		{ "heavy_bomber", "non_deployed", 14, 0, 0, 1 },
		{ "heavy_bomber", "test", -1, 0, 0, 0 },
		{ "heavy_bomber", "converted", 14, 0, 0, 0 },
		{ "heavy_bomber", "eliminated", -1, 0, 0, 0 },
		{ "icbm", "non_deployed", 3, 0, 0, 0 },
		{ "icbm", "test", 1, 0, 0, 0 },
		{ "icbm", "eliminated", 1, 0, 0, 0 },
		{ "slbm", "non_deployed", 4, 0, 0, 0 },
		{ "slbm", "eliminated", 4, 0, 0, 0 },
		{ "icbm_launcher", "deployed", -1, 0, 0, 1 },
		{ "icbm_launcher", "non_deployed", -1, 0, 0, 1 },
		{ "icbm_launcher", "test", -1, 0, 0, 0 },
		{ "icbm_launcher", "converted", -1, 0, 0, 0 },
		{ "slbm_launcher", "deployed", -1, 0, 0, 1 },
		{ "slbm_launcher", "converted", -1, 0, 0, 0 },
		{ "slbm_launcher", "eliminated", -1, 0, 0, 0 },
	};
	struct treaty_def *d = def_load(NEW_START);
	(void)state;

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		json_t *one = json_pack("[o]", ns_item("X", rows[i].cat, rows[i].status,
						       rows[i].warheads));
		struct treaty_engine *g;

		if (total_of(d, one, "deployed") != rows[i].deployed ||
		    total_of(d, one, "deployed_warheads") != rows[i].dwarheads ||
		    total_of(d, one, "launchers") != rows[i].launchers)
			fail_msg("%s %s (warheads %d) counts %lld/%lld/%lld, expected "
				 "%lld/%lld/%lld", rows[i].cat, rows[i].status,
				 rows[i].warheads, (long long)total_of(d, one, "deployed"),
				 (long long)total_of(d, one, "deployed_warheads"),
				 (long long)total_of(d, one, "launchers"),
				 (long long)rows[i].deployed, (long long)rows[i].dwarheads,
				 (long long)rows[i].launchers);
		g = engine_with(d, one);
		assert_int_equal(total(g, d, "deployed"), rows[i].deployed);
		assert_int_equal(total(g, d, "deployed_warheads"), rows[i].dwarheads);
		assert_int_equal(total(g, d, "launchers"), rows[i].launchers);
		treaty_engine_free(g);
	}
	treaty_def_free(d);
}

static void test_exactly_at_each_limit_is_not_over(void **state)
{
	struct treaty_def *d = def_load(NEW_START);
	struct treaty_engine *g = engine_with(d, ns_at_limits());
	(void)state;

	assert_int_equal(total(g, d, "deployed"), 700);
	assert_int_equal(total(g, d, "deployed_warheads"), 1550);
	assert_int_equal(total(g, d, "launchers"), 800);
	assert_false(over(g, d, "deployed"));
	assert_false(over(g, d, "deployed_warheads"));
	assert_false(over(g, d, "launchers"));
	assert_int_equal(treaty_item_count(g), 1466);
	assert_int_equal(nflags(g), 0);
	treaty_engine_free(g);
	treaty_def_free(d);
}

static void test_one_over_each_limit_is_over_that_limit_only(void **state)
{
	struct treaty_def *d = def_load(NEW_START);
	struct treaty_engine *g;
	json_t *a;
	(void)state;

	/* one more deployed ICBM, with no warheads: 701 / 1550 / 800 */
	a = ns_at_limits();
	json_array_append_new(a, ns_item("EXTRA", "icbm", "deployed", -1));
	g = engine_with(d, a);
	assert_int_equal(total(g, d, "deployed"), 701);
	assert_true(over(g, d, "deployed"));
	assert_false(over(g, d, "deployed_warheads"));
	assert_false(over(g, d, "launchers"));
	treaty_engine_free(g);

	/* one ICBM carries 3 instead of 2: 700 / 1551 / 800 */
	a = ns_at_limits();
	json_object_set_new(json_array_get(a, 0), "warheads", json_integer(3));
	g = engine_with(d, a);
	assert_int_equal(total(g, d, "deployed_warheads"), 1551);
	assert_false(over(g, d, "deployed"));
	assert_true(over(g, d, "deployed_warheads"));
	assert_false(over(g, d, "launchers"));
	treaty_engine_free(g);

	/* one more non-deployed launcher: 700 / 1550 / 801 */
	a = ns_at_limits();
	json_array_append_new(a, ns_item("EXTRA", "icbm_launcher", "non_deployed", -1));
	g = engine_with(d, a);
	assert_int_equal(total(g, d, "launchers"), 801);
	assert_false(over(g, d, "deployed"));
	assert_false(over(g, d, "deployed_warheads"));
	assert_true(over(g, d, "launchers"));
	treaty_engine_free(g);
	treaty_def_free(d);
}

static void expect_sample(const struct treaty_def *d, const char *path,
			  size_t items, int64_t deployed, int64_t warheads,
			  int64_t launchers)
{
	json_error_t je;
	json_t *inv = json_load_file(path, 0, &je);
	struct treaty_engine *g;

	if (inv == NULL)
		fail_msg("%s: %s", path, je.text);
	assert_int_equal(total_of(d, json_object_get(inv, "items"), "deployed"), deployed);
	g = engine_with(d, inv);
	assert_int_equal(treaty_item_count(g), items);
	assert_int_equal(total(g, d, "deployed"), deployed);
	assert_int_equal(total(g, d, "deployed_warheads"), warheads);
	assert_int_equal(total(g, d, "launchers"), launchers);
	treaty_engine_free(g);
}

static void test_sample_inventories_give_the_published_totals(void **state)
{
	struct treaty_def *d = def_load(NEW_START);
	(void)state;

	expect_sample(d, US_SAMPLE, 1622, 675, 1457, 800);
	expect_sample(d, RU_SAMPLE, 1364, 510, 1447, 764);
	treaty_def_free(d);
}

/* ---------------------------------------------------------------------- */
/* 3. Validation                                                           */

static void test_each_kind_of_invalid_field_is_reported_by_its_path(void **state)
{
	struct treaty_def *ns = def_load(NEW_START), *bm = def_load(BMLNA),
			  *hl = def_load(HOTLINE);
	struct treaty_msgs m = { 0 };
	size_t rc;
	(void)state;

	/* a valid one first */
	rc = validate(ns, "status-change", status_change("X", "deployed", "2020-09-01"), &m);
	assert_int_equal(rc, 0);
	assert_int_equal(m.n, 0);

	rc = validate(ns, "status-change",
		      json_pack("{s:s, s:s}", "item_id", "X", "new_status", "deployed"), &m);
	expect_one_line(&m, rc, "fields.event_date: missing (required)");

	rc = validate(ns, "status-change",
		      json_pack("{s:s, s:s, s:s, s:s}", "item_id", "X", "new_status",
				"deployed", "event_date", "2020-09-01", "remarks", "x"), &m);
	expect_one_line(&m, rc, "fields.remarks: not a field of this kind");

	rc = validate(ns, "new-item",
		      new_item(js("{'id': 'X', 'category': 'icbm', 'status': 'deployed',"
				  " 'type': 'T', 'base': 'B', 'warheads': '3'}"),
			       "2020-09-01"), &m);
	expect_one_line(&m, rc, "fields.item.warheads: must be an integer, not \"3\"");

	rc = validate(ns, "new-item", new_item(ns_item("X", "icbm", "deployed", 15),
					      "2020-09-01"), &m);
	expect_one_line(&m, rc, "fields.item.warheads: 15 is above the maximum 14");

	rc = validate(ns, "data-exchange", exchange_part("E", 0, 1, 0, NULL, NULL), &m);
	expect_one_line(&m, rc, "fields.part: 0 is below the minimum 1");

	rc = validate(ns, "status-change", status_change("X", "deployed", "2020-02-30"), &m);
	expect_one_line(&m, rc, "fields.event_date: must be a date YYYY-MM-DD, not "
			"\"2020-02-30\"");
	rc = validate(ns, "status-change", status_change("X", "deployed", "2020-9-1"), &m);
	expect_one_line(&m, rc, "fields.event_date: must be a date YYYY-MM-DD, not "
			"\"2020-9-1\"");

	rc = validate(ns, "inspection-request",
		      js("{'round': 'R1', 'exchange': 'E', 'n': 10, 'k': 2,"
			 " 'reveal_by': '2020-09-01T12:00:00'}"), &m);
	expect_one_line(&m, rc, "fields.reveal_by: must be a UTC time "
			"YYYY-MM-DDTHH:MM:SSZ, not \"2020-09-01T12:00:00\"");
	rc = validate(ns, "inspection-request",
		      js("{'round': 'R1', 'exchange': 'E', 'n': 10, 'k': 2,"
			 " 'reveal_by': '2020-09-01T24:00:00Z'}"), &m);
	expect_one_line(&m, rc, "fields.reveal_by: must be a UTC time "
			"YYYY-MM-DDTHH:MM:SSZ, not \"2020-09-01T24:00:00Z\"");

	rc = validate(ns, "elimination",
		      json_pack("{s:s, s:s, s:s}", "item_id", "X", "event_date",
				"2020-09-01", "method", "burning"), &m);
	expect_one_line(&m, rc, "fields.method: \"burning\" is not one of the codes "
			"(cut, explosion, destruction-in-launch, propellant-burn, other)");

	rc = validate(hl, "incident-report",
		      js("{'incident_time': '2020-09-01T10:00:00Z', 'category': 'accident',"
			 " 'description': '', 'location': {'lat': 91.5, 'lon': 30}}"), &m);
	expect_one_line(&m, rc, "fields.location.lat: must be a number of degrees in -90..90");
	rc = validate(hl, "incident-report",
		      js("{'incident_time': '2020-09-01T10:00:00Z', 'category': 'accident',"
			 " 'description': '', 'location': {'lat': 0, 'lon': -180.5}}"), &m);
	expect_one_line(&m, rc, "fields.location.lon: must be a number of degrees in "
			"-180..180");

	rc = validate(bm, "launch-notice",
		      js("{'notice_id': 'N1', 'missile_type': 'icbm',"
			 " 'launch_time': '2020-09-10T12:00:00Z',"
			 " 'launch_area': {'polygon': [{'lat': 62, 'lon': 40},"
			 "                             {'lat': 63, 'lon': 41}]},"
			 " 'impact_area': {'centre': {'lat': 65, 'lon': 170}, 'radius_km': 0}}"),
		      &m);
	assert_int_equal(rc, 2);
	expect_lines(&m, "fields.launch_area.polygon: must be an array of 3..64 positions",
		     "fields.impact_area.radius_km: must be a number above 0 and at most 20000",
		     NULL);
	treaty_msgs_free(&m);

	rc = validate(ns, "new-item", new_item(ns_item("X", "icbm", "converted", 1),
					      "2020-09-01"), &m);
	expect_one_line(&m, rc, "fields.item.status: \"converted\" is not a status of "
			"category \"icbm\"");

	rc = validate(ns, "data-exchange",
		      exchange_part("E", 1, 1, 2,
				    json_pack("[o, o]", ns_item("X", "icbm", "deployed", 1),
					      ns_item("X", "slbm", "deployed", 1)), NULL), &m);
	expect_one_line(&m, rc, "fields.items[1].id: \"X\" appears twice");

	rc = validate(ns, "data-exchange",
		      exchange_part("E", 1, 1, 0, json_array(),
				    json_pack("{s:i, s:i}", "deployed", 0, "warheads", 0)), &m);
	expect_one_line(&m, rc, "fields.totals.warheads: not a limit of new-start");

	treaty_def_free(ns);
	treaty_def_free(bm);
	treaty_def_free(hl);
}

static void test_all_problems_of_one_notification_are_reported_at_once(void **state)
{
	struct treaty_def *d = def_load(NEW_START);
	struct treaty_engine *g = engine_with(d, NULL);
	struct treaty_msgs m = { 0 };
	const char *const want[] = {
		"fields.item.status: missing (required)",
		"fields.item.warheads: 15 is above the maximum 14",
		"fields.item.colour: not a field of this item",
		"fields.event_date: must be a date YYYY-MM-DD, not \"2020-13-01\"",
		"fields.remarks: not a field of this kind",
	};
	json_t *item = ns_item("X", "icbm", "deployed", 15), *fields;
	size_t rc;
	(void)state;

	json_object_del(item, "status");
	json_object_set_new(item, "colour", json_string("green"));
	fields = new_item(item, "2020-13-01");
	json_object_set_new(fields, "remarks", json_string("late"));

	rc = treaty_validate(d, treaty_kind_find(d, "new-item"), fields, &m);
	assert_int_equal(rc, 5);
	expect_lines(&m, want[0], want[1], want[2], want[3], want[4], NULL);
	treaty_msgs_free(&m);

	/* the sender's check gives the same list in one call */
	rc = treaty_check(g, "new-item", fields, &m);
	assert_int_equal(rc, 5);
	expect_lines(&m, want[0], want[1], want[2], want[3], want[4], NULL);
	treaty_msgs_free(&m);

	/* and a logged one is flagged invalid, naming them, and not applied */
	assert_int_equal(treaty_apply(g, 7, "new-item", fields, -1), 1);
	expect_flag(g, 0, 7, "invalid", "fields.item.status: missing (required)",
		    "fields.remarks", "(not applied)", NULL);
	assert_int_equal(treaty_item_count(g), 0);
	assert_int_equal(treaty_applied(g), 0);

	/* an unknown kind */
	rc = check(g, "launch-notice", json_object(), &m);
	expect_one_line(&m, rc, "kind: \"launch-notice\" is not a notification kind of "
			"new-start");

	json_decref(fields);
	treaty_engine_free(g);
	treaty_def_free(d);
}

/* ---------------------------------------------------------------------- */
/* 4. Illegal changes                                                      */

static json_t *items_for_changes(void)
{
	return json_pack("[o, o, o, o]", ns_item("ICBM-1", "icbm", "deployed", 1),
			 ns_item("ICBM-2", "icbm", "non_deployed", -1),
			 ns_item("LNCH-1", "icbm_launcher", "eliminated", -1),
			 ns_item("LNCH-2", "icbm_launcher", "deployed", -1));
}

static void test_illegal_changes_are_refused_by_check(void **state)
{
	struct treaty_def *d = def_load(NEW_START);
	struct treaty_engine *g = engine_with(d, items_for_changes());
	struct treaty_msgs m = { 0 };
	size_t rc;
	(void)state;

	rc = check(g, "status-change", status_change("NOPE", "deployed", "2020-09-01"), &m);
	expect_one_line(&m, rc, "no item \"NOPE\" is declared");

	rc = check(g, "elimination", elimination("LNCH-1", "2020-09-01"), &m);
	expect_one_line(&m, rc, "item \"LNCH-1\" is already eliminated");

	rc = check(g, "status-change", status_change("LNCH-1", "deployed", "2020-09-01"), &m);
	expect_one_line(&m, rc, "item \"LNCH-1\" (icbm_launcher) cannot go from "
			"eliminated to deployed");

	rc = check(g, "status-change", status_change("ICBM-2", "converted", "2020-09-01"), &m);
	expect_one_line(&m, rc, "item \"ICBM-2\" (icbm) cannot have status \"converted\"");
	rc = check(g, "conversion",
		   json_pack("{s:s, s:s, s:s}", "item_id", "ICBM-2", "event_date",
			     "2020-09-01", "method", "other"), &m);
	expect_one_line(&m, rc, "item \"ICBM-2\" (icbm) cannot have status \"converted\"");

	rc = check(g, "new-item", new_item(ns_item("ICBM-1", "icbm", "non_deployed", 3),
					  "2020-09-01"), &m);
	expect_one_line(&m, rc, "item \"ICBM-1\" is already declared");

	/* and the legal ones pass */
	assert_int_equal(check(g, "status-change",
			       status_change("ICBM-2", "deployed", "2020-09-01"), &m), 0);
	assert_int_equal(check(g, "elimination", elimination("LNCH-2", "2020-09-01"), &m), 0);
	assert_int_equal(m.n, 0);
	treaty_engine_free(g);
	treaty_def_free(d);
}

static void test_illegal_changes_are_flagged_and_not_applied(void **state)
{
	struct treaty_def *d = def_load(NEW_START);
	struct treaty_engine *g = engine_with(d, items_for_changes());
	struct snapshot s;
	char v[64];
	(void)state;

	snap(g, &s);
	assert_int_equal(apply(g, 1, "status-change",
			       status_change("NOPE", "deployed", "2020-09-01"), -1), 1);
	expect_flag(g, 0, 1, "unknown-item", "status-change: no item \"NOPE\" is declared "
		    "(not applied)", NULL);
	expect_unchanged(g, &s);

	/* eliminating a deployed launcher is legal: launchers 1 -> 0 */
	assert_int_equal(total(g, d, "launchers"), 1);
	assert_int_equal(apply(g, 2, "elimination", elimination("LNCH-2", "2020-09-01"), -1), 0);
	assert_int_equal(total(g, d, "launchers"), 0);
	assert_int_equal(treaty_applied(g), 1);

	/* eliminating it twice is not */
	snap(g, &s);
	assert_int_equal(apply(g, 3, "elimination", elimination("LNCH-2", "2020-09-02"), -1), 1);
	expect_flag(g, 1, 3, "illegal-transition", "LNCH-2", "already eliminated", NULL);
	expect_unchanged(g, &s);

	/* deploying an eliminated launcher */
	assert_int_equal(apply(g, 4, "status-change",
			       status_change("LNCH-1", "deployed", "2020-09-02"), -1), 1);
	expect_flag(g, 2, 4, "illegal-transition", "LNCH-1",
		    "cannot go from eliminated to deployed", NULL);
	expect_unchanged(g, &s);
	item_member(g, "LNCH-1", "status", v, sizeof v);
	assert_string_equal(v, "eliminated");

	/* converting an ICBM: converted is not a status of the category */
	assert_int_equal(apply(g, 5, "status-change",
			       status_change("ICBM-2", "converted", "2020-09-02"), -1), 1);
	expect_flag(g, 3, 5, "illegal-transition", "ICBM-2",
		    "cannot have status \"converted\"", NULL);
	expect_unchanged(g, &s);
	item_member(g, "ICBM-2", "status", v, sizeof v);
	assert_string_equal(v, "non_deployed");

	/* declaring an id again: the first declaration stands */
	assert_int_equal(apply(g, 6, "new-item",
			       new_item(ns_item("ICBM-1", "icbm", "non_deployed", 3),
					"2020-09-02"), -1), 1);
	expect_flag(g, 4, 6, "duplicate-id", "item \"ICBM-1\" is already declared", NULL);
	expect_unchanged(g, &s);
	item_member(g, "ICBM-1", "status", v, sizeof v);
	assert_string_equal(v, "deployed");
	item_member(g, "ICBM-1", "warheads", v, sizeof v);
	assert_string_equal(v, "1");
	assert_int_equal(total(g, d, "deployed_warheads"), 1);

	assert_int_equal(nflags(g), 5);
	assert_int_equal(treaty_applied(g), 1);
	treaty_engine_free(g);
	treaty_def_free(d);
}

/* ---------------------------------------------------------------------- */
/* 5. Deadlines                                                            */

/* within_days 5 of 2020-09-01: received by the end of 2020-09-06. */
static void test_within_days_ends_with_the_nth_day(void **state)
{
	struct treaty_def *d = def_load(NEW_START);
	struct treaty_engine *g = engine_with(d, json_pack("[o]", ns_item("ICBM-1", "icbm",
									  "deployed", 1)));
	size_t on_time, at_midnight;
	char detail[1024] = "";
	(void)state;

	on_time = apply(g, 1, "movement", movement("ICBM-1", "Base B", "2020-09-01"),
			at("2020-09-06T23:59:59Z"));
	at_midnight = apply(g, 2, "movement", movement("ICBM-1", "Base C", "2020-09-01"),
			    at("2020-09-07T00:00:00Z"));
	if (nflags(g) > 0)
		snprintf(detail, sizeof detail, "%s", treaty_flags(g, &(size_t){ 0 })[0].detail);
	treaty_engine_free(g);
	treaty_def_free(d);

	assert_int_equal(on_time, 0);
	/* 00:00:00 on the 7th is no longer the 6th */
	assert_int_equal(at_midnight, 1);
	assert_non_null(strstr(detail, "movement received 2020-09-07T00:00:00Z"));
}

static void test_late_is_judged_by_receipt_time_and_still_applied(void **state)
{
	struct treaty_def *d = def_load(NEW_START);
	struct treaty_engine *g = engine_with(d, json_pack("[o]", ns_item("ICBM-1", "icbm",
									  "deployed", 1)));
	char v[64];
	(void)state;

	/* one second past the 7th's first second: late, and applied */
	assert_int_equal(apply(g, 1, "movement", movement("ICBM-1", "Base B", "2020-09-01"),
			       at("2020-09-07T00:00:01Z")), 1);
	expect_flag(g, 0, 1, "late", "movement received 2020-09-07T00:00:01Z",
		    "5 days after event_date 2020-09-01", NULL);
	item_member(g, "ICBM-1", "base", v, sizeof v);
	assert_string_equal(v, "Base B");
	assert_int_equal(treaty_applied(g), 1);

	/* no receipt time yet: not judged */
	assert_int_equal(apply(g, 2, "movement", movement("ICBM-1", "Base C", "2020-01-01"),
			       -1), 0);
	item_member(g, "ICBM-1", "base", v, sizeof v);
	assert_string_equal(v, "Base C");

	/* a refused notification is judged too: two flags */
	assert_int_equal(apply(g, 3, "status-change",
			       status_change("NOPE", "deployed", "2020-09-01"),
			       at("2020-10-01T00:00:00Z")), 2);
	expect_flag(g, 1, 3, "unknown-item", "NOPE", NULL);
	expect_flag(g, 2, 3, "late", "status-change received 2020-10-01T00:00:00Z", NULL);
	assert_int_equal(nflags(g), 3);
	treaty_engine_free(g);
	treaty_def_free(d);
}

static json_t *launch_notice(const char *id, const char *when)
{
	json_t *f = js("{'missile_type': 'icbm',"
		       " 'launch_area': {'centre': {'lat': 62.9, 'lon': 40.6}, 'radius_km': 50},"
		       " 'impact_area': {'polygon': [{'lat': 65, 'lon': 160},"
		       "  {'lat': 66, 'lon': 162}, {'lat': 64, 'lon': 163}]}}");

	json_object_set_new(f, "notice_id", json_string(id));
	json_object_set_new(f, "launch_time", json_string(when));
	return f;
}

static void test_before_hours_confirms_or_flags_late(void **state)
{
	struct treaty_def *d = def_load(BMLNA);
	struct treaty_engine *g = engine_with(d, NULL);
	const char *launch = "2020-09-10T12:00:00Z";
	(void)state;

	/* 25 hours of notice: confirmed */
	assert_int_equal(apply(g, 1, "launch-notice", launch_notice("N1", launch),
			       at("2020-09-09T11:00:00Z")), 1);
	expect_flag(g, 0, 1, "confirmed", "25.0 hours before launch_time "
		    "2020-09-10T12:00:00Z", "(24 required)", NULL);
	/* 23 hours: late */
	assert_int_equal(apply(g, 2, "launch-notice", launch_notice("N2", launch),
			       at("2020-09-09T13:00:00Z")), 1);
	expect_flag(g, 1, 2, "late", "23.0 hours before launch_time",
		    "24 hours of notice required", NULL);
	/* exactly 24 hours is at least 24 hours */
	assert_int_equal(apply(g, 3, "launch-notice", launch_notice("N3", launch),
			       at("2020-09-09T12:00:00Z")), 1);
	expect_flag(g, 2, 3, "confirmed", "24.0 hours before", NULL);
	/* not yet received: not judged */
	assert_int_equal(apply(g, 4, "launch-notice", launch_notice("N4", launch), -1), 0);
	/* a late notice is still open */
	assert_non_null(json_object_get(treaty_open_records(g), "N2"));
	assert_int_equal(json_object_size(treaty_open_records(g)), 4);
	treaty_engine_free(g);
	treaty_def_free(d);
}

/* ---------------------------------------------------------------------- */
/* 6. Data exchanges                                                       */

static void test_baseline_in_parts_then_discrepancies_by_item_and_field(void **state)
{
	struct treaty_def *d = def_load(NEW_START);
	struct treaty_engine *g = engine_with(d, NULL);
	json_t *items = four_items(), *p1, *p2;
	size_t from;
	(void)state;

	/* baseline: A, B in part 1; C, D in part 2 */
	p1 = json_array();
	p2 = json_array();
	json_array_append(p1, json_array_get(items, 0));
	json_array_append(p1, json_array_get(items, 1));
	json_array_append(p2, json_array_get(items, 2));
	json_array_append(p2, json_array_get(items, 3));
	json_decref(items);
	assert_int_equal(apply(g, 1, "data-exchange",
			       exchange_part("2020-09", 1, 2, 4, p1, ns_totals(4, 9, 1)), -1), 0);
	assert_int_equal(nflags(g), 0);
	assert_int_equal(treaty_item_count(g), 0);   /* not until complete */
	assert_int_equal(apply(g, 2, "data-exchange",
			       exchange_part("2020-09", 2, 2, 4, p2, NULL), -1), 1);
	expect_flag(g, 0, 2, "baseline", "exchange \"2020-09\": 4 items", NULL);
	assert_int_equal(treaty_item_count(g), 4);
	assert_int_equal(total(g, d, "deployed"), 4);
	assert_int_equal(total(g, d, "deployed_warheads"), 9);
	assert_int_equal(total(g, d, "launchers"), 1);

	/* notifications: A 1 -> 2 warheads, B moves, E is new */
	assert_int_equal(apply(g, 3, "rv-change", rv_change("A", 2, "2020-10-01"), -1), 0);
	assert_int_equal(apply(g, 4, "movement", movement("B", "Minot AFB", "2020-10-01"),
			       -1), 0);
	assert_int_equal(apply(g, 5, "new-item",
			       new_item(ns_item("E", "icbm", "non_deployed", -1), "2020-10-01"),
			       -1), 0);

	/* the next exchange: A says 3, C is missing, F is extra; B, D, E agree;
	 * its items count 4 deployed, 3 + 3 + 1 + 4 = 11 warheads, 1 launcher,
	 * but it declares 12 warheads */
	{
		json_t *b = ns_item("B", "icbm", "deployed", 3);
		json_object_set_new(b, "base", json_string("Minot AFB"));
		items = json_pack("[o, o, o, o, o]", ns_item("A", "icbm", "deployed", 3), b,
				  ns_item("D", "heavy_bomber", "deployed", -1),
				  ns_item("E", "icbm", "non_deployed", -1),
				  ns_item("F", "slbm", "deployed", 4));
	}
	from = nflags(g);
	assert_int_equal(apply(g, 6, "data-exchange",
			       exchange_part("2021-03", 1, 1, 5, items, ns_totals(4, 12, 1)),
			       -1), 4);
	assert_int_equal(count_flags(g, from, "discrepancy",
				     "exchange \"2021-03\": item \"A\" field warheads: "
				     "declared 3, replayed 2"), 1);
	assert_int_equal(count_flags(g, from, "discrepancy",
				     "item \"C\" is in the replayed inventory but not declared"), 1);
	assert_int_equal(count_flags(g, from, "discrepancy",
				     "item \"F\" is declared but not in the replayed inventory"), 1);
	assert_int_equal(count_flags(g, from, "discrepancy", NULL), 3);
	assert_int_equal(count_flags(g, from, "totals-mismatch",
				     "declared deployed_warheads 12, the declared items "
				     "count 11"), 1);
	assert_int_equal(count_flags(g, from, "baseline", NULL), 0);
	for (size_t i = from; i < nflags(g); i++)
		assert_int_equal(treaty_flags(g, &(size_t){ 0 })[i].index, 6);

	/* the declaration is now the inventory */
	assert_int_equal(treaty_item_count(g), 5);
	assert_int_equal(total(g, d, "deployed"), 4);
	assert_int_equal(total(g, d, "deployed_warheads"), 11);
	assert_int_equal(total(g, d, "launchers"), 1);
	treaty_engine_free(g);
	treaty_def_free(d);
}

static json_t *part_of_four(int which)
{
	json_t *all = four_items(), *p = json_array();

	json_array_append(p, json_array_get(all, which == 1 ? 0 : 2));
	json_array_append(p, json_array_get(all, which == 1 ? 1 : 3));
	json_decref(all);
	return p;
}

static void test_extra_repeated_and_inconsistent_parts_are_ignored(void **state)
{
	struct treaty_def *d = def_load(NEW_START);
	struct treaty_engine *g = engine_with(d, four_items());
	struct snapshot s;
	(void)state;

	snap(g, &s);
	assert_int_equal(apply(g, 10, "data-exchange",
			       exchange_part("2021-09", 1, 2, 4, part_of_four(1), NULL), -1), 0);
	assert_int_equal(treaty_applied(g), 1);

	assert_int_equal(apply(g, 11, "data-exchange",
			       exchange_part("2021-09", 3, 2, 4, part_of_four(2), NULL), -1), 1);
	expect_flag(g, 0, 11, "extra-part", "exchange \"2021-09\": part 3 of 2",
		    "(not applied)", NULL);

	assert_int_equal(apply(g, 12, "data-exchange",
			       exchange_part("2021-09", 1, 2, 4, part_of_four(1), NULL), -1), 1);
	expect_flag(g, 1, 12, "extra-part", "part 1 was already received", NULL);

	assert_int_equal(apply(g, 13, "data-exchange",
			       exchange_part("2021-09", 2, 3, 4, part_of_four(2), NULL), -1), 1);
	expect_flag(g, 2, 13, "inconsistent-part", "part 2 says 3 parts and 4 items, "
		    "the first part said 2 and 4", NULL);

	assert_int_equal(apply(g, 14, "data-exchange",
			       exchange_part("2021-09", 2, 2, 5, part_of_four(2), NULL), -1), 1);
	expect_flag(g, 3, 14, "inconsistent-part", "part 2 says 2 parts and 5 items", NULL);

	/* none of them was applied: the exchange is still incomplete and the
	 * inventory what it was */
	s.applied = 1;
	expect_unchanged(g, &s);

	/* the missing part completes it; it agrees with the inventory */
	assert_int_equal(apply(g, 15, "data-exchange",
			       exchange_part("2021-09", 2, 2, 4, part_of_four(2), NULL), -1), 0);
	treaty_finish(g);
	assert_int_equal(nflags(g), 4);
	s.applied = 2;
	expect_unchanged(g, &s);
	treaty_engine_free(g);
	treaty_def_free(d);
}

/* "repeats one already received": also once the exchange is complete. */
static void test_a_part_repeated_after_completion_is_extra(void **state)
{
	struct treaty_def *d = def_load(NEW_START);
	struct treaty_engine *g = engine_with(d, four_items());
	size_t rc, extra, missing;
	(void)state;

	apply(g, 1, "data-exchange",
	      exchange_part("2021-09", 1, 2, 4, part_of_four(1), NULL), -1);
	apply(g, 2, "data-exchange",
	      exchange_part("2021-09", 2, 2, 4, part_of_four(2), NULL), -1);
	assert_int_equal(nflags(g), 0);
	rc = apply(g, 3, "data-exchange",
		   exchange_part("2021-09", 2, 2, 4, part_of_four(2), NULL), -1);
	treaty_finish(g);
	extra = count_flags(g, 0, "extra-part", "part 2 was already received");
	missing = count_flags(g, 0, "missing-part", NULL);
	treaty_engine_free(g);
	treaty_def_free(d);

	assert_int_equal(rc, 1);
	assert_int_equal(extra, 1);
	assert_int_equal(missing, 0);
}

static void test_items_that_do_not_add_up_are_flagged_item_count(void **state)
{
	struct treaty_def *d = def_load(NEW_START);
	struct treaty_engine *g = engine_with(d, four_items());
	(void)state;

	assert_int_equal(apply(g, 20, "data-exchange",
			       exchange_part("2021-09", 1, 1, 5, four_items(), NULL), -1), 1);
	expect_flag(g, 0, 20, "item-count", "exchange \"2021-09\": 4 items in 1 parts, "
		    "item_count says 5", NULL);
	treaty_engine_free(g);
	treaty_def_free(d);
}

static void test_an_incomplete_exchange_is_reported_with_its_missing_parts(void **state)
{
	struct treaty_def *d = def_load(NEW_START);
	struct treaty_engine *g = engine_with(d, four_items());
	struct snapshot s;
	(void)state;

	snap(g, &s);
	assert_int_equal(apply(g, 30, "data-exchange",
			       exchange_part("2022-03", 2, 4, 4, part_of_four(1), NULL), -1), 0);
	assert_int_equal(apply(g, 31, "data-exchange",
			       exchange_part("2022-03", 4, 4, 4, part_of_four(2), NULL), -1), 0);
	assert_int_equal(nflags(g), 0);
	treaty_finish(g);
	assert_int_equal(nflags(g), 1);
	/* reported at its first part's index */
	expect_flag(g, 0, 30, "missing-part", "exchange \"2022-03\": 2 of 4 parts "
		    "received; missing 1, 3", NULL);
	s.applied = 2;
	expect_unchanged(g, &s);
	treaty_engine_free(g);
	treaty_def_free(d);
}

static json_t *commitment_only(const char *id, int count, int committed,
			       json_t *totals /* stolen */)
{
	json_t *f = exchange_part(id, 1, 1, count, NULL, totals);

	json_object_set_new(f, "commitment",
			    json_pack("{s:s, s:i}", "root",
				      "0123456789abcdef0123456789abcdef"
				      "0123456789abcdef0123456789abcdef", "count", committed));
	return f;
}

static void test_a_commitment_only_exchange_compares_totals(void **state)
{
	struct treaty_def *d = def_load(NEW_START);
	struct treaty_engine *g = engine_with(d, four_items());
	struct snapshot s;
	(void)state;

	snap(g, &s);
	/* equal to the replayed 4 / 9 / 1: nothing to report */
	assert_int_equal(apply(g, 40, "data-exchange",
			       commitment_only("c1", 4, 4, ns_totals(4, 9, 1)), -1), 0);
	/* 10 warheads declared, 9 replayed */
	assert_int_equal(apply(g, 41, "data-exchange",
			       commitment_only("c2", 4, 4, ns_totals(4, 10, 1)), -1), 1);
	expect_flag(g, 0, 41, "discrepancy", "exchange \"c2\": declared "
		    "deployed_warheads 10, replayed 9", NULL);
	/* the item details stay private: the inventory is unchanged */
	s.applied = 2;
	expect_unchanged(g, &s);

	/* a commitment that binds another number of items than declared */
	assert_int_equal(apply(g, 42, "data-exchange",
			       commitment_only("c3", 4, 5, ns_totals(4, 9, 1)), -1), 1);
	expect_flag(g, 1, 42, "item-count", "the commitment binds 5 items, item_count "
		    "says 4", "(not applied)", NULL);
	expect_unchanged(g, &s);
	treaty_finish(g);
	assert_int_equal(nflags(g), 2);
	treaty_engine_free(g);
	treaty_def_free(d);
}

/* ---------------------------------------------------------------------- */
/* 7. Over the limit                                                       */

static void test_the_notification_that_crosses_a_limit_is_flagged(void **state)
{
	struct treaty_def *d = def_load(NEW_START);
	struct treaty_engine *g = engine_with(d, ns_at_limits());
	(void)state;

	assert_int_equal(apply(g, 42, "new-item",
			       new_item(ns_item("NEW-1", "icbm", "deployed", 0), "2020-09-01"),
			       -1), 1);
	expect_flag(g, 0, 42, "over-limit", "deployed: 701, above the limit of 700", NULL);
	assert_int_equal(total(g, d, "deployed"), 701);
	assert_int_equal(total(g, d, "deployed_warheads"), 1550);

	/* still over: not flagged again */
	assert_int_equal(apply(g, 43, "new-item",
			       new_item(ns_item("NEW-2", "icbm", "deployed", 0), "2020-09-01"),
			       -1), 0);
	assert_int_equal(total(g, d, "deployed"), 702);

	/* back at the limit, then over again: the one that took it over */
	assert_int_equal(apply(g, 44, "elimination", elimination("NEW-1", "2020-09-02"), -1), 0);
	assert_int_equal(apply(g, 45, "elimination", elimination("NEW-2", "2020-09-02"), -1), 0);
	assert_int_equal(total(g, d, "deployed"), 700);
	assert_int_equal(apply(g, 46, "status-change",
			       status_change("ICBM-ND-0001", "deployed", "2020-09-03"), -1), 2);
	/* ICBM-ND-0001 carries 3 warheads: 701 and 1553 */
	expect_flag(g, 1, 46, "over-limit", "deployed: 701", NULL);
	expect_flag(g, 2, 46, "over-limit", "deployed_warheads: 1553, above the limit "
		    "of 1550", NULL);
	assert_int_equal(count_flags(g, 0, "over-limit", NULL), 3);
	treaty_engine_free(g);
	treaty_def_free(d);
}

/* ---------------------------------------------------------------------- */
/* 8. Open, amend, close (BMLNA)                                           */

static json_t *launch_change(const char *id)
{
	return json_pack("{s:s, s:s}", "notice_id", id, "launch_time",
			 "2020-09-11T12:00:00Z");
}

static json_t *launch_cancel(const char *id)
{
	return json_pack("{s:s, s:s}", "notice_id", id, "reason", "weather");
}

static void test_notices_open_amend_and_close_by_key(void **state)
{
	struct treaty_def *d = def_load(BMLNA);
	struct treaty_engine *g = engine_with(d, NULL);
	struct treaty_msgs m = { 0 };
	json_t *want;
	size_t rc;
	(void)state;

	assert_int_equal(apply(g, 1, "launch-notice",
			       launch_notice("N1", "2020-09-10T12:00:00Z"), -1), 0);
	want = json_pack("{s:I}", "N1", (json_int_t)1);
	assert_true(json_equal(treaty_open_records(g), want));
	json_decref(want);

	rc = check(g, "launch-change", launch_change("N9"), &m);
	expect_one_line(&m, rc, "no open \"N9\" to amend");
	assert_int_equal(apply(g, 2, "launch-change", launch_change("N9"), -1), 1);
	expect_flag(g, 0, 2, "unknown-key", "no open \"N9\" to amend", NULL);

	assert_int_equal(apply(g, 3, "launch-change", launch_change("N1"), -1), 0);

	rc = check(g, "launch-notice", launch_notice("N1", "2020-09-12T12:00:00Z"), &m);
	expect_one_line(&m, rc, "\"N1\" is already open");
	assert_int_equal(apply(g, 4, "launch-notice",
			       launch_notice("N1", "2020-09-12T12:00:00Z"), -1), 1);
	expect_flag(g, 1, 4, "duplicate-key", "\"N1\" is already open", NULL);

	assert_int_equal(apply(g, 5, "launch-notice",
			       launch_notice("N2", "2020-09-12T12:00:00Z"), -1), 0);
	want = json_pack("{s:I, s:I}", "N1", (json_int_t)1, "N2", (json_int_t)5);
	assert_true(json_equal(treaty_open_records(g), want));
	json_decref(want);

	assert_int_equal(apply(g, 6, "launch-cancel", launch_cancel("N1"), -1), 0);
	assert_int_equal(apply(g, 7, "launch-cancel", launch_cancel("N1"), -1), 1);
	expect_flag(g, 2, 7, "unknown-key", "no open \"N1\" to close", NULL);
	rc = check(g, "launch-cancel", launch_cancel("N1"), &m);
	expect_one_line(&m, rc, "no open \"N1\" to close");

	want = json_pack("{s:I}", "N2", (json_int_t)5);
	assert_true(json_equal(treaty_open_records(g), want));
	json_decref(want);
	assert_int_equal(nflags(g), 3);
	assert_int_equal(treaty_applied(g), 4);
	treaty_engine_free(g);
	treaty_def_free(d);
}

/* ---------------------------------------------------------------------- */
/* 9. A structurally different treaty (cfe-lite)                           */

static json_t *redeploy(const char *id, const char *status, const char *unit,
			const char *when)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "registration", id, "to_status", status,
			 "to_unit", unit, "when", when);
}

static struct treaty_engine *alt_engine(const struct treaty_def *d)
{
	json_error_t je;
	json_t *inv = json_load_file(ALT_INVENTORY, 0, &je);

	if (inv == NULL)
		fail_msg("%s: %s", ALT_INVENTORY, je.text);
	return engine_with(d, inv);
}

static void test_cfe_lite_inventory_is_exactly_at_its_limits(void **state)
{
	struct treaty_def *d = def_load(ALT_TREATY);
	struct treaty_engine *g = alt_engine(d);
	(void)state;

	assert_int_equal(treaty_item_count(g), 299);
	/* 100 active tanks; 100 + 58 stored tanks + 70 + 22 artillery */
	assert_int_equal(total(g, d, "tanks_active"), 100);
	assert_int_equal(total(g, d, "heavy_weapons"), 250);
	/* 70 active guns' calibres; 20 active + 2 in transit aircraft x 2 + 12 */
	assert_int_equal(total(g, d, "calibre_sum"), 9945);
	assert_int_equal(total(g, d, "air_points"), 56);
	assert_false(over(g, d, "tanks_active"));
	assert_false(over(g, d, "heavy_weapons"));
	treaty_engine_free(g);
	treaty_def_free(d);
}

static void test_cfe_lite_runs_through_the_same_engine(void **state)
{
	struct treaty_def *d = def_load(ALT_TREATY);
	struct treaty_engine *g = alt_engine(d);
	struct snapshot s;
	char v[128];
	(void)state;

	/* its own transition graph: a helicopter goes to storage via transit */
	snap(g, &s);
	assert_int_equal(apply(g, 1, "redeploy",
			       redeploy("A-HEL-0001", "stored", "Central Storage Depot",
					"2024-03-01T06:00:00Z"), -1), 1);
	expect_flag(g, 0, 1, "illegal-transition", "item \"A-HEL-0001\" (helicopter) "
		    "cannot go from active to stored", NULL);
	/* aircraft are never stored */
	assert_int_equal(apply(g, 2, "redeploy",
			       redeploy("A-AC-0001", "stored", "Central Storage Depot",
					"2024-03-01T06:00:00Z"), -1), 1);
	expect_flag(g, 1, 2, "illegal-transition", "item \"A-AC-0001\" "
		    "(combat_aircraft) cannot have status \"stored\"", NULL);
	/* destroying twice */
	assert_int_equal(apply(g, 3, "destruction",
			       json_pack("{s:s, s:s, s:b}", "registration", "A-TANK-0161",
					 "date", "2024-03-01", "witnessed", 1), -1), 1);
	expect_flag(g, 2, 3, "illegal-transition", "already destroyed", NULL);
	expect_unchanged(g, &s);

	/* a tank leaves in transit (datetime deadline, within 2 days) */
	assert_int_equal(apply(g, 4, "redeploy",
			       redeploy("A-TANK-0001", "in_transit", "3rd Tank Battalion",
					"2024-03-01T18:00:00Z"),
			       at("2024-03-03T23:59:59Z")), 0);
	assert_int_equal(total(g, d, "tanks_active"), 99);
	assert_int_equal(total(g, d, "heavy_weapons"), 249);
	item_member(g, "A-TANK-0001", "unit", v, sizeof v);
	assert_string_equal(v, "3rd Tank Battalion");

	/* a new tank arrives, reported late (within 3 days of 2024-03-02) */
	assert_int_equal(apply(g, 5, "arrival",
			       js("{'item': {'id': 'A-TANK-0200', 'category': 'tank',"
				  " 'status': 'active', 'model': 'T-90M',"
				  " 'unit': '1st Tank Battalion', 'calibre_mm': 125},"
				  " 'arrival_date': '2024-03-02'}"),
			       at("2024-03-06T00:00:01Z")), 1);
	expect_flag(g, 3, 5, "late", "arrival received 2024-03-06T00:00:01Z", NULL);
	assert_int_equal(total(g, d, "tanks_active"), 100);
	assert_int_equal(total(g, d, "heavy_weapons"), 250);

	/* a stored tank activated: 101 active tanks, heavy weapons still 250 */
	assert_int_equal(apply(g, 6, "redeploy",
			       redeploy("A-TANK-0101", "active", "2nd Tank Battalion",
					"2024-03-05T06:00:00Z"), -1), 1);
	expect_flag(g, 4, 6, "over-limit", "tanks_active: 101, above the limit of 100",
		    NULL);
	assert_int_equal(total(g, d, "heavy_weapons"), 250);

	/* a gun destroyed: calibre_sum 9945 - 152 */
	assert_int_equal(apply(g, 7, "destruction",
			       json_pack("{s:s, s:s, s:b}", "registration", "A-ART-0001",
					 "date", "2024-03-06", "witnessed", 0), -1), 0);
	assert_int_equal(total(g, d, "calibre_sum"), 9793);
	assert_int_equal(total(g, d, "heavy_weapons"), 249);

	/* an exercise notified 42 hours ahead, then ended */
	assert_int_equal(apply(g, 8, "exercise-notice",
			       js("{'exercise_id': 'EX-1', 'start_time': '2024-04-01T06:00:00Z',"
				  " 'troops': 3500, 'duration_days': 2.5,"
				  " 'area': {'centre': {'lat': 52.1, 'lon': 23.7},"
				  " 'radius_km': 40}}"),
			       at("2024-03-30T12:00:00Z")), 1);
	expect_flag(g, 5, 8, "confirmed", "42.0 hours before start_time", NULL);
	assert_non_null(json_object_get(treaty_open_records(g), "EX-1"));
	assert_int_equal(apply(g, 9, "exercise-end",
			       js("{'exercise_id': 'EX-1', 'end_time': '2024-04-03T18:00:00Z'}"),
			       -1), 0);
	assert_int_equal(json_object_size(treaty_open_records(g)), 0);
	assert_int_equal(nflags(g), 6);
	treaty_engine_free(g);
	treaty_def_free(d);
}

static void test_cfe_lite_declaration_in_parts_is_compared(void **state)
{
	struct treaty_def *d = def_load(ALT_TREATY);
	struct treaty_engine *g = alt_engine(d);
	json_t *decl, *p1, *p2, *rec, *tot;
	size_t i, n;
	char v[128];
	(void)state;

	/* declare the inventory as it is, except one gun's unit (a deep
	 * copy: see test_the_inventory_returned_is_a_copy) */
	rec = treaty_inventory(g);
	assert_non_null(rec);
	decl = json_deep_copy(rec);
	json_decref(rec);
	n = json_array_size(decl);
	assert_int_equal(n, 299);
	json_object_set_new(inv_item(decl, "A-ART-0002"), "unit",
			    json_string("2nd Artillery Battalion"));
	p1 = json_array();
	p2 = json_array();
	json_array_foreach(decl, i, rec)
		json_array_append(i < 150 ? p1 : p2, rec);
	json_decref(decl);
	tot = json_pack("{s:i, s:i, s:i, s:i}", "tanks_active", 100, "heavy_weapons", 250,
			"calibre_sum", 9945, "air_points", 56);

	assert_int_equal(apply(g, 1, "declaration",
			       json_pack("{s:s, s:i, s:i, s:i, s:o, s:o}", "declaration_id",
					 "2024-annual", "part_no", 1, "part_total", 2,
					 "equipment_count", (int)n, "equipment", p1,
					 "declared_totals", tot), -1), 0);
	assert_int_equal(apply(g, 2, "declaration",
			       json_pack("{s:s, s:i, s:i, s:i, s:o}", "declaration_id",
					 "2024-annual", "part_no", 2, "part_total", 2,
					 "equipment_count", (int)n, "equipment", p2), -1), 1);
	expect_flag(g, 0, 2, "discrepancy", "exchange \"2024-annual\": item \"A-ART-0002\" "
		    "field unit: declared \"2nd Artillery Battalion\", replayed "
		    "\"1st Artillery Battalion\"", NULL);
	item_member(g, "A-ART-0002", "unit", v, sizeof v);
	assert_string_equal(v, "2nd Artillery Battalion");

	/* a third part of two, under the alt names */
	assert_int_equal(apply(g, 3, "declaration",
			       json_pack("{s:s, s:i, s:i, s:i, s:[]}", "declaration_id",
					 "2025-annual", "part_no", 3, "part_total", 2,
					 "equipment_count", 0, "equipment"), -1), 1);
	expect_flag(g, 1, 3, "extra-part", "exchange \"2025-annual\": part 3 of 2", NULL);
	assert_int_equal(nflags(g), 2);
	treaty_engine_free(g);
	treaty_def_free(d);
}

/* ---------------------------------------------------------------------- */
/* 10. The inventory digest                                                */

static json_t *two_items(const char *icbm_status, const char *icbm_base)
{
	json_t *a = ns_item("US-ICBM-1", "icbm", icbm_status, 1),
	       *b = ns_item("US-SLBM-1", "slbm", "non_deployed", 4);

	json_object_set_new(a, "base", json_string(icbm_base));
	json_object_set_new(a, "type", json_string("LGM-30G"));
	json_object_set_new(b, "base", json_string("Kings Bay"));
	json_object_set_new(b, "type", json_string("UGM-133A"));
	return json_pack("[o, o]", a, b);
}

static void test_digest_is_of_the_inventory_not_of_its_history(void **state)
{
	static const char canonical[] =
		"[{\"base\":\"Malmstrom AFB\",\"category\":\"icbm\",\"id\":\"US-ICBM-1\","
		"\"status\":\"deployed\",\"type\":\"LGM-30G\",\"warheads\":1},"
		"{\"base\":\"Kings Bay\",\"category\":\"slbm\",\"id\":\"US-SLBM-1\","
		"\"status\":\"non_deployed\",\"type\":\"UGM-133A\",\"warheads\":4}]";
	struct treaty_def *d = def_load(NEW_START);
	struct treaty_engine *loaded = engine_with(d, two_items("deployed", "Malmstrom AFB"));
	struct treaty_engine *replayed, *exchanged;
	uint8_t a[32], b[32], c[32], want[32];
	json_t *start, *slbm, *rev;
	(void)state;

	treaty_inventory_digest(loaded, a);
	SHA256((const unsigned char *)canonical, strlen(canonical), want);
	assert_memory_equal(a, want, 32);

	/* the same state reached by notifications */
	start = two_items("non_deployed", "Minot AFB");
	slbm = json_incref(json_array_get(start, 1));
	json_array_remove(start, 1);
	replayed = engine_with(d, start);
	assert_int_equal(apply(replayed, 1, "status-change",
			       status_change("US-ICBM-1", "deployed", "2020-09-01"), -1), 0);
	assert_int_equal(apply(replayed, 2, "movement",
			       movement("US-ICBM-1", "Malmstrom AFB", "2020-09-01"), -1), 0);
	assert_int_equal(apply(replayed, 3, "new-item", new_item(slbm, "2020-09-01"), -1), 0);
	treaty_inventory_digest(replayed, b);
	assert_memory_equal(a, b, 32);

	/* and by a baseline exchange listing them in the other order */
	exchanged = engine_with(d, NULL);
	rev = two_items("deployed", "Malmstrom AFB");
	json_array_append(rev, json_array_get(rev, 0));
	json_array_remove(rev, 0);
	assert_int_equal(apply(exchanged, 1, "data-exchange",
			       exchange_part("2020-09", 1, 1, 2, rev, NULL), -1), 1);
	treaty_inventory_digest(exchanged, c);
	assert_memory_equal(a, c, 32);

	/* one change makes it differ; undoing it makes it equal again */
	assert_int_equal(apply(replayed, 4, "rv-change", rv_change("US-ICBM-1", 2, "2020-09-02"),
			       -1), 0);
	treaty_inventory_digest(replayed, b);
	assert_memory_not_equal(a, b, 32);
	assert_int_equal(apply(replayed, 5, "rv-change", rv_change("US-ICBM-1", 1, "2020-09-03"),
			       -1), 0);
	treaty_inventory_digest(replayed, b);
	assert_memory_equal(a, b, 32);

	treaty_engine_free(exchanged);
	treaty_engine_free(replayed);
	treaty_engine_free(loaded);
	treaty_def_free(d);
}

/* treaty_inventory is a new reference: what the caller does with it is
 * the caller's business, not the engine's state. */
static void test_the_inventory_returned_is_a_copy(void **state)
{
	struct treaty_def *d = def_load(NEW_START);
	struct treaty_engine *g = engine_with(d, two_items("deployed", "Malmstrom AFB"));
	uint8_t before[32], after[32];
	json_t *inv = treaty_inventory(g);
	int64_t warheads, counted;
	char base[64];
	(void)state;

	treaty_inventory_digest(g, before);
	json_object_set_new(inv_item(inv, "US-ICBM-1"), "base", json_string("Elsewhere"));
	json_object_set_new(inv_item(inv, "US-ICBM-1"), "warheads", json_integer(14));
	json_decref(inv);

	treaty_inventory_digest(g, after);
	item_member(g, "US-ICBM-1", "base", base, sizeof base);
	warheads = total(g, d, "deployed_warheads");
	inv = treaty_inventory(g);
	counted = total_of(d, inv, "deployed_warheads");
	json_decref(inv);
	treaty_engine_free(g);
	treaty_def_free(d);

	assert_string_equal(base, "Malmstrom AFB");
	assert_memory_equal(before, after, 32);
	/* the running total still agrees with the items */
	assert_int_equal(warheads, 1);
	assert_int_equal(counted, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* 1. definitions */
		cmocka_unit_test(test_shipped_and_test_definitions_load),
		cmocka_unit_test(test_new_start_limits_are_700_1550_800),
		cmocka_unit_test(test_mini_definition_is_valid),
		cmocka_unit_test(test_broken_definitions_are_refused_naming_the_member),
		cmocka_unit_test(test_set_naming_a_missing_field_names_that_field),
		cmocka_unit_test(test_members_of_the_wrong_json_type_are_refused_by_name),
		/* 2. counting rules */
		cmocka_unit_test(test_each_item_counts_by_its_category_and_status),
		cmocka_unit_test(test_exactly_at_each_limit_is_not_over),
		cmocka_unit_test(test_one_over_each_limit_is_over_that_limit_only),
		cmocka_unit_test(test_sample_inventories_give_the_published_totals),
		/* 3. validation */
		cmocka_unit_test(test_each_kind_of_invalid_field_is_reported_by_its_path),
		cmocka_unit_test(test_all_problems_of_one_notification_are_reported_at_once),
		/* 4. illegal changes */
		cmocka_unit_test(test_illegal_changes_are_refused_by_check),
		cmocka_unit_test(test_illegal_changes_are_flagged_and_not_applied),
		/* 5. deadlines */
		cmocka_unit_test(test_within_days_ends_with_the_nth_day),
		cmocka_unit_test(test_late_is_judged_by_receipt_time_and_still_applied),
		cmocka_unit_test(test_before_hours_confirms_or_flags_late),
		/* 6. data exchanges */
		cmocka_unit_test(test_baseline_in_parts_then_discrepancies_by_item_and_field),
		cmocka_unit_test(test_extra_repeated_and_inconsistent_parts_are_ignored),
		cmocka_unit_test(test_a_part_repeated_after_completion_is_extra),
		cmocka_unit_test(test_items_that_do_not_add_up_are_flagged_item_count),
		cmocka_unit_test(test_an_incomplete_exchange_is_reported_with_its_missing_parts),
		cmocka_unit_test(test_a_commitment_only_exchange_compares_totals),
		/* 7. over the limit */
		cmocka_unit_test(test_the_notification_that_crosses_a_limit_is_flagged),
		/* 8. open records */
		cmocka_unit_test(test_notices_open_amend_and_close_by_key),
		/* 9. a structurally different treaty */
		cmocka_unit_test(test_cfe_lite_inventory_is_exactly_at_its_limits),
		cmocka_unit_test(test_cfe_lite_runs_through_the_same_engine),
		cmocka_unit_test(test_cfe_lite_declaration_in_parts_is_compared),
		/* 10. the digest */
		cmocka_unit_test(test_digest_is_of_the_inventory_not_of_its_history),
		cmocka_unit_test(test_the_inventory_returned_is_a_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
