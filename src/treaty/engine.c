/*
 * engine.c — one party's declared inventory under one treaty definition,
 * driven by that party's notifications in log order (docs/treaties.md).
 *
 * Totals are kept incrementally: each item contributes to each limit
 * according to its category and status, and a change subtracts the old
 * contribution and adds the new one, so that replaying a million
 * notifications does not recount the inventory a million times.
 *
 * The rule for a notification that breaks a rule (DESIGN principle 5): it
 * is flagged with its reason and not applied; the inventory is what the
 * legal notifications make it.  Deadlines are judged either way.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "envelope.h"
#include "treaty.h"

struct titem {
	char *id;               /* NULL: empty slot */
	int cat, status;
	json_t *rec;            /* the record, one reference owned */
};

struct texch {
	char *id;
	int64_t parts, count;
	uint64_t first;         /* index of the first part received */
	unsigned char *got;     /* got[p-1]: part p received */
	int64_t ngot;
	json_t *items;          /* the parts' items, in part order */
	json_t **part_items;    /* per part, until complete */
	json_t *totals;         /* declared totals (first part that has them) */
	json_t *commitment;     /* declared commitment (first part that has it) */
	int has_items;          /* some part lists items (else: commitment only) */
	int done;
};

struct treaty_engine {
	const struct treaty_def *d;
	struct titem *slots;
	size_t cap, n;
	int64_t *tot;           /* per limit */
	int *over;              /* per limit: currently over */
	struct texch *ex;
	size_t nex, capex;
	json_t *open;           /* key -> index of the opening notification */
	struct treaty_flag *flags;
	size_t nflags, capflags;
	size_t applied;
	json_t *committed;      /* the last complete exchange's commitment */
	int declared;           /* a declaration (exchange or load) was made */
};

/* ---------------------------------------------------------------------- */
/* The item table: open addressing on the id (FNV-1a), never deleted from
 * except all at once when a data exchange replaces the declaration.       */

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static struct titem *item_slot(const struct treaty_engine *g, const char *id)
{
	size_t i;

	if (g->cap == 0)
		return NULL;
	for (i = fnv(id) & (g->cap - 1);; i = (i + 1) & (g->cap - 1))
		if (g->slots[i].id == NULL || strcmp(g->slots[i].id, id) == 0)
			return &g->slots[i];
}

static struct titem *item_get(const struct treaty_engine *g, const char *id)
{
	struct titem *t = item_slot(g, id);

	return t != NULL && t->id != NULL ? t : NULL;
}

static int item_grow(struct treaty_engine *g)
{
	size_t cap = g->cap ? 2 * g->cap : 1024, ocap = g->cap, i;
	struct titem *old = g->slots, *ns = calloc(cap, sizeof *ns);

	if (ns == NULL)
		return -1;
	g->slots = ns;
	g->cap = cap;    /* before rehashing: item_slot masks with it */
	for (i = 0; i < ocap; i++)
		if (old[i].id != NULL)
			*item_slot(g, old[i].id) = old[i];
	free(old);
	return 0;
}

/* What one item adds to limit l. */
static int64_t contribution(const struct treaty_def *d, size_t l, int cat,
			    int status, const json_t *rec)
{
	const struct treaty_limit *lim = &d->limits[l];
	int64_t v = 0;

	for (size_t t = 0; t < lim->nterms; t++) {
		const struct treaty_term *tm = &lim->terms[t];
		if (!(tm->cats & (UINT64_C(1) << cat)) || !(tm->stats & (UINT32_C(1) << status)))
			continue;
		if (tm->sum < 0) {
			v += tm->each;
		} else {
			json_t *x = json_object_get(rec, d->item_fields[tm->sum].name);
			if (json_is_integer(x))
				v += json_integer_value(x);
		}
	}
	return v;
}

static void count_item(struct treaty_engine *g, const struct titem *t, int sign)
{
	for (size_t l = 0; l < g->d->nlimits; l++)
		g->tot[l] += sign * contribution(g->d, l, t->cat, t->status, t->rec);
}

/* Adds a validated record (its id, category and status resolved). */
static int item_add(struct treaty_engine *g, json_t *rec)
{
	const struct treaty_def *d = g->d;
	struct titem *t;
	const char *id = json_string_value(json_object_get(rec, "id"));

	if (2 * (g->n + 1) > g->cap && item_grow(g) != 0)
		return -1;
	t = item_slot(g, id);
	t->id = strdup(id);
	if (t->id == NULL)
		return -1;
	t->cat = treaty_cat_find(d, json_string_value(json_object_get(rec, "category")));
	t->status = treaty_status_find(d, json_string_value(json_object_get(rec, "status")));
	t->rec = json_deep_copy(rec);
	g->n++;
	count_item(g, t, 1);
	return 0;
}

static void items_clear(struct treaty_engine *g)
{
	for (size_t i = 0; i < g->cap; i++)
		if (g->slots[i].id != NULL) {
			free(g->slots[i].id);
			json_decref(g->slots[i].rec);
		}
	free(g->slots);
	g->slots = NULL;
	g->cap = g->n = 0;
	memset(g->tot, 0, g->d->nlimits * sizeof *g->tot);
}

/* ---------------------------------------------------------------------- */

struct treaty_engine *treaty_engine_new(const struct treaty_def *d)
{
	struct treaty_engine *g = calloc(1, sizeof *g);

	if (g == NULL)
		return NULL;
	g->d = d;
	g->tot = calloc(d->nlimits + 1, sizeof *g->tot);
	g->over = calloc(d->nlimits + 1, sizeof *g->over);
	g->open = json_object();
	if (g->tot == NULL || g->over == NULL || g->open == NULL) {
		treaty_engine_free(g);
		return NULL;
	}
	return g;
}

static void exch_free(struct texch *x)
{
	free(x->id);
	free(x->got);
	json_decref(x->items);
	json_decref(x->totals);
	json_decref(x->commitment);
	if (x->part_items != NULL)
		for (int64_t p = 0; p < x->parts; p++)
			json_decref(x->part_items[p]);
	free(x->part_items);
}

void treaty_engine_free(struct treaty_engine *g)
{
	if (g == NULL)
		return;
	items_clear(g);
	for (size_t i = 0; i < g->nex; i++)
		exch_free(&g->ex[i]);
	free(g->ex);
	for (size_t i = 0; i < g->nflags; i++)
		free(g->flags[i].detail);
	free(g->flags);
	free(g->tot);
	free(g->over);
	json_decref(g->open);
	json_decref(g->committed);
	free(g);
}

static void flag(struct treaty_engine *g, uint64_t index, const char *code,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void flag(struct treaty_engine *g, uint64_t index, const char *code,
		 const char *fmt, ...)
{
	struct treaty_flag *nf = treaty_grow(g->flags, &g->capflags, g->nflags,
					     sizeof *g->flags, 16);
	char buf[1024];
	va_list ap;

	if (nf == NULL)
		return;
	g->flags = nf;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	g->flags[g->nflags].index = index;
	g->flags[g->nflags].code = code;
	g->flags[g->nflags].detail = strdup(buf);
	if (g->flags[g->nflags].detail != NULL)
		g->nflags++;
}

const struct treaty_flag *treaty_flags(const struct treaty_engine *g, size_t *n)
{
	*n = g->nflags;
	return g->flags;
}

void treaty_totals(const struct treaty_engine *g, int64_t *totals)
{
	memcpy(totals, g->tot, g->d->nlimits * sizeof *totals);
}

void treaty_totals_of(const struct treaty_def *d, const json_t *items,
		      int64_t *totals)
{
	size_t i;
	json_t *rec;

	memset(totals, 0, d->nlimits * sizeof *totals);
	json_array_foreach(items, i, rec) {
		int cat = treaty_cat_find(d, json_string_value(json_object_get(rec, "category")));
		int st = treaty_status_find(d, json_string_value(json_object_get(rec, "status")));
		if (cat < 0 || st < 0)
			continue;
		for (size_t l = 0; l < d->nlimits; l++)
			totals[l] += contribution(d, l, cat, st, rec);
	}
}

size_t treaty_item_count(const struct treaty_engine *g)
{
	return g->n;
}

size_t treaty_applied(const struct treaty_engine *g)
{
	return g->applied;
}

const json_t *treaty_commitment(const struct treaty_engine *g)
{
	return g->committed;
}

const json_t *treaty_open_records(const struct treaty_engine *g)
{
	return g->open;
}

static int cmp_id(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;

	return strcmp(json_string_value(json_object_get(x, "id")),
		      json_string_value(json_object_get(y, "id")));
}

json_t *treaty_inventory(const struct treaty_engine *g)
{
	json_t **v = malloc((g->n + 1) * sizeof *v), *arr = json_array();
	size_t i, k = 0;

	if (v == NULL || arr == NULL) {
		free(v);
		json_decref(arr);
		return NULL;
	}
	for (i = 0; i < g->cap; i++)
		if (g->slots[i].id != NULL)
			v[k++] = g->slots[i].rec;
	qsort(v, k, sizeof *v, cmp_id);
	for (i = 0; i < k; i++)
		json_array_append_new(arr, json_deep_copy(v[i]));
	free(v);
	return arr;
}

void treaty_inventory_digest(const struct treaty_engine *g, uint8_t out[32])
{
	json_t *inv = treaty_inventory(g);
	char *s = inv ? json_dumps(inv, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	SHA256((const unsigned char *)(s ? s : ""), s ? strlen(s) : 0, out);
	free(s);
	json_decref(inv);
}

/* Checks that the records are valid items with distinct ids. */
static size_t check_items(const struct treaty_def *d, const json_t *items,
			  struct treaty_msgs *m)
{
	struct treaty_field f = { .name = "items", .type = TF_ITEMS,
				  .max_items = 10000000 };
	struct treaty_kind k = { .name = "inventory", .fields = &f, .nfields = 1 };
	json_t *wrap = json_object();
	size_t bad;

	json_object_set(wrap, "items", (json_t *)items);
	bad = treaty_validate(d, &k, wrap, m);
	json_decref(wrap);
	return bad;
}

int treaty_engine_load(struct treaty_engine *g, const json_t *items,
		       struct perr *e)
{
	struct treaty_msgs m = { 0 };
	size_t i;
	json_t *rec;

	if (json_is_object(items))
		items = json_object_get(items, "items");
	if (!json_is_array(items))
		return perr_set(e, "an inventory is an array of items, or an object "
				"with \"items\"");
	if (check_items(g->d, items, &m) != 0) {
		perr_set(e, "inventory: %s%s", m.lines[0],
			 m.n + m.dropped > 1 ? " (and more)" : "");
		treaty_msgs_free(&m);
		return -1;
	}
	items_clear(g);
	json_array_foreach(items, i, rec)
		if (item_add(g, rec) != 0)
			return perr_set(e, "out of memory");
	g->declared = 1;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Deadlines (docs/treaties.md, "Kinds"): judged by the receiver's durable
 * receipt time.                                                           */

static void judge_deadline(struct treaty_engine *g, const struct treaty_kind *k,
			   const json_t *fields, uint64_t index, int64_t received)
{
	const char *fname = k->fields[k->dl_field].name;
	const char *s = json_string_value(json_object_get(fields, fname));
	char rt[ENV_TIME_LEN + 1], dt[ENV_TIME_LEN + 1];
	int64_t t, due;

	if (k->dl == TDL_NONE || received < 0 || s == NULL || treaty_time_parse(s, &t) != 0)
		return;
	env_time_format(received, rt);
	if (k->dl == TDL_WITHIN_DAYS) {
		int64_t day = t >= 0 ? t / 86400 : (t - 86399) / 86400;
		due = (day + k->dl_n + 1) * 86400;   /* 24:00 of the N-th day */
		if (received >= due) {
			env_time_format(due - 1, dt);
			flag(g, index, "late", "%s received %s, due by %s (%lld days after %s %s)",
			     k->name, rt, dt, (long long)k->dl_n, fname, s);
		}
		return;
	}
	due = t - k->dl_n * 3600;
	if (received > due) {
		env_time_format(due, dt);
		flag(g, index, "late", "%s received %s, %.1f hours before %s %s; "
		     "%lld hours of notice required (due by %s)", k->name, rt,
		     (double)(t - received) / 3600.0, fname, s, (long long)k->dl_n, dt);
	} else {
		flag(g, index, "confirmed", "%s received %s, %.1f hours before %s %s "
		     "(%lld required)", k->name, rt, (double)(t - received) / 3600.0,
		     fname, s, (long long)k->dl_n);
	}
}

/* ---------------------------------------------------------------------- */
/* Effects.  effect_check reports what would make the effect illegal;
 * effect_do applies a legal one.                                          */

static const char *fstr(const struct treaty_kind *k, int f, const json_t *fields)
{
	return f < 0 ? NULL : json_string_value(json_object_get(fields, k->fields[f].name));
}

static struct texch *exch_find(struct treaty_engine *g, const char *id)
{
	/* a completed exchange stays: a part sent again is an extra part,
	 * never the start of a new exchange under the same id */
	for (size_t i = 0; i < g->nex; i++)
		if (strcmp(g->ex[i].id, id) == 0)
			return &g->ex[i];
	return NULL;
}

/* The key of an open/amend/close as a string (integers in decimal). */
static const char *key_of(const struct treaty_kind *k, const json_t *fields,
			  char *buf, size_t cap)
{
	json_t *v = json_object_get(fields, k->fields[k->f_key].name);

	if (json_is_integer(v)) {
		snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	return json_string_value(v);
}

static size_t effect_check(struct treaty_engine *g, const struct treaty_kind *k,
			   const json_t *fields, struct treaty_msgs *m,
			   const char **code)
{
	const struct treaty_def *d = g->d;
	char kb[32];
	const char *id, *key;
	struct titem *t;
	struct texch *x;

	switch (k->op) {
	case TOP_NONE:
		return 0;
	case TOP_ADD:
		id = json_string_value(json_object_get(json_object_get(fields,
				k->fields[k->f_item].name), "id"));
		if (id != NULL && item_get(g, id) != NULL) {
			*code = "duplicate-id";
			treaty_msgs_add(m, "item \"%s\" is already declared", id);
			return 1;
		}
		return 0;
	case TOP_UPDATE:
		id = fstr(k, k->f_item, fields);
		t = id ? item_get(g, id) : NULL;
		if (t == NULL) {
			*code = "unknown-item";
			treaty_msgs_add(m, "no item \"%s\" is declared", id ? id : "");
			return 1;
		}
		for (size_t i = 0; i < k->nsets; i++) {
			const struct treaty_set *s = &k->sets[i];
			const json_t *v = s->field < 0 ? s->value :
				json_object_get(fields, k->fields[s->field].name);
			int to;
			if (s->attr != d->if_status || v == NULL)
				continue;
			to = treaty_status_find(d, json_string_value(v));
			if (to < 0 || !(d->cats[t->cat].statuses & (UINT32_C(1) << to))) {
				*code = "illegal-transition";
				treaty_msgs_add(m, "item \"%s\" (%s) cannot have status \"%s\"", id,
						d->cats[t->cat].name, json_string_value(v));
				return 1;
			}
			if (to == t->status) {
				*code = "illegal-transition";
				treaty_msgs_add(m, "item \"%s\" is already %s", id,
						d->statuses[to].name);
				return 1;
			}
			if (!(d->cats[t->cat].next[t->status] & (UINT32_C(1) << to))) {
				*code = "illegal-transition";
				treaty_msgs_add(m, "item \"%s\" (%s) cannot go from %s to %s", id,
						d->cats[t->cat].name, d->statuses[t->status].name,
						d->statuses[to].name);
				return 1;
			}
		}
		return 0;
	case TOP_OPEN:
	case TOP_AMEND:
	case TOP_CLOSE:
		key = key_of(k, fields, kb, sizeof kb);
		if (key == NULL)
			return 0;
		if (k->op == TOP_OPEN && json_object_get(g->open, key) != NULL) {
			*code = "duplicate-key";
			treaty_msgs_add(m, "\"%s\" is already open", key);
			return 1;
		}
		if (k->op != TOP_OPEN && json_object_get(g->open, key) == NULL) {
			*code = "unknown-key";
			treaty_msgs_add(m, "no open \"%s\" to %s", key,
					k->op == TOP_AMEND ? "amend" : "close");
			return 1;
		}
		return 0;
	case TOP_DECLARE: {
		int64_t part = json_integer_value(json_object_get(fields, k->fields[k->f_part].name));
		int64_t parts = json_integer_value(json_object_get(fields, k->fields[k->f_parts].name));
		int64_t count = json_integer_value(json_object_get(fields, k->fields[k->f_count].name));
		json_t *cm = k->f_commitment < 0 ? NULL :
			json_object_get(fields, k->fields[k->f_commitment].name);

		id = fstr(k, k->f_exchange, fields);
		if (id == NULL)
			return 0;
		if (part > parts) {
			*code = "extra-part";
			treaty_msgs_add(m, "exchange \"%s\": part %lld of %lld", id,
					(long long)part, (long long)parts);
			return 1;
		}
		if (cm != NULL && json_integer_value(json_object_get(cm, "count")) != count) {
			*code = "item-count";
			treaty_msgs_add(m, "exchange \"%s\": the commitment binds %lld items, "
					"item_count says %lld", id,
					(long long)json_integer_value(json_object_get(cm, "count")),
					(long long)count);
			return 1;
		}
		x = exch_find(g, id);
		if (x == NULL)
			return 0;
		if (x->parts != parts || x->count != count) {
			*code = "inconsistent-part";
			treaty_msgs_add(m, "exchange \"%s\": part %lld says %lld parts and %lld "
					"items, the first part said %lld and %lld", id,
					(long long)part, (long long)parts, (long long)count,
					(long long)x->parts, (long long)x->count);
			return 1;
		}
		if (x->got[part - 1]) {
			*code = "extra-part";
			treaty_msgs_add(m, "exchange \"%s\": part %lld was already received", id,
					(long long)part);
			return 1;
		}
		return 0;
	}
	}
	return 0;
}

static void update_limits(struct treaty_engine *g, uint64_t index)
{
	for (size_t l = 0; l < g->d->nlimits; l++) {
		int over = g->tot[l] > g->d->limits[l].max;
		if (over && !g->over[l])
			flag(g, index, "over-limit", "%s: %lld, above the limit of %lld",
			     g->d->limits[l].name, (long long)g->tot[l],
			     (long long)g->d->limits[l].max);
		g->over[l] = over;
	}
}

/* A complete exchange: compare, then the declaration becomes the
 * inventory (docs/treaties.md, "Data exchanges"). */
static void exch_complete(struct treaty_engine *g, struct texch *x, uint64_t index)
{
	const struct treaty_def *d = g->d;
	json_t *seen = json_object(), *rec;
	size_t i, ndisc = 0;
	int64_t *tot = calloc(d->nlimits + 1, sizeof *tot);
	int baseline = !g->declared && g->n == 0;
	const char *k;
	json_t *v;

	for (int64_t p = 0; p < x->parts; p++) {
		if (x->part_items[p] != NULL)
			json_array_extend(x->items, x->part_items[p]);
		json_decref(x->part_items[p]);
		x->part_items[p] = NULL;
	}
	x->done = 1;
	if (x->commitment != NULL) {
		json_decref(g->committed);
		g->committed = json_pack("{sssOsO}", "exchange", x->id, "root",
					 json_object_get(x->commitment, "root"), "count",
					 json_object_get(x->commitment, "count"));
	}
	if (!x->has_items) {
		/* A committed declaration without its items: the item details
		 * stay private (inspections disclose them), so what can be
		 * compared is the declared totals with the replayed ones. */
		json_object_foreach(x->totals, k, v)
			for (size_t l = 0; l < d->nlimits; l++)
				if (strcmp(d->limits[l].name, k) == 0 &&
				    json_integer_value(v) != g->tot[l])
					flag(g, index, "discrepancy", "exchange \"%s\": declared "
					     "%s %lld, replayed %lld", x->id, k,
					     (long long)json_integer_value(v), (long long)g->tot[l]);
		json_decref(seen);
		free(tot);
		return;
	}
	if ((int64_t)json_array_size(x->items) != x->count)
		flag(g, index, "item-count", "exchange \"%s\": %zu items in %lld parts, "
		     "item_count says %lld", x->id, json_array_size(x->items),
		     (long long)x->parts, (long long)x->count);
	json_array_foreach(x->items, i, rec) {
		const char *id = json_string_value(json_object_get(rec, "id"));
		struct titem *t = item_get(g, id);
		if (json_object_get(seen, id) != NULL) {
			flag(g, index, "duplicate-id", "exchange \"%s\": item \"%s\" "
			     "declared twice", x->id, id);
			continue;
		}
		json_object_set_new(seen, id, json_true());
		if (baseline)
			continue;
		if (t == NULL) {
			if (ndisc++ < 1000)
				flag(g, index, "discrepancy", "exchange \"%s\": item \"%s\" is "
				     "declared but not in the replayed inventory", x->id, id);
			continue;
		}
		/* field by field, both ways */
		json_object_foreach(rec, k, v) {
			json_t *w = json_object_get(t->rec, k);
			if (w == NULL || !json_equal(v, w)) {
				char *a = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
				char *b = w ? json_dumps(w, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
				if (ndisc++ < 1000)
					flag(g, index, "discrepancy", "exchange \"%s\": item \"%s\" "
					     "field %s: declared %s, replayed %s", x->id, id, k,
					     a ? a : "?", b ? b : "(absent)");
				free(a);
				free(b);
			}
		}
		json_object_foreach(t->rec, k, v)
			if (json_object_get(rec, k) == NULL) {
				char *b = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
				if (ndisc++ < 1000)
					flag(g, index, "discrepancy", "exchange \"%s\": item \"%s\" "
					     "field %s: declared (absent), replayed %s", x->id, id,
					     k, b ? b : "?");
				free(b);
			}
	}
	if (!baseline)
		for (i = 0; i < g->cap; i++)
			if (g->slots[i].id != NULL &&
			    json_object_get(seen, g->slots[i].id) == NULL && ndisc++ < 1000)
				flag(g, index, "discrepancy", "exchange \"%s\": item \"%s\" is in "
				     "the replayed inventory but not declared", x->id,
				     g->slots[i].id);
	if (ndisc > 1000)
		flag(g, index, "discrepancy", "exchange \"%s\": %zu more discrepancies "
		     "not listed", x->id, ndisc - 1000);
	if (baseline)
		flag(g, index, "baseline", "exchange \"%s\": %zu items, the baseline "
		     "declaration", x->id, json_array_size(x->items));
	if (x->totals != NULL && tot != NULL) {
		treaty_totals_of(d, x->items, tot);
		json_object_foreach(x->totals, k, v)
			for (size_t l = 0; l < d->nlimits; l++)
				if (strcmp(d->limits[l].name, k) == 0 &&
				    json_integer_value(v) != tot[l])
					flag(g, index, "totals-mismatch", "exchange \"%s\": "
					     "declared %s %lld, the declared items count %lld",
					     x->id, k, (long long)json_integer_value(v),
					     (long long)tot[l]);
	}
	free(tot);
	/* the declaration becomes the inventory (duplicates: first wins) */
	items_clear(g);
	json_array_foreach(x->items, i, rec) {
		const char *id = json_string_value(json_object_get(rec, "id"));
		if (item_get(g, id) == NULL)
			item_add(g, rec);
	}
	json_decref(seen);
	g->declared = 1;
	update_limits(g, index);
}

static void effect_do(struct treaty_engine *g, const struct treaty_kind *k,
		      const json_t *fields, uint64_t index)
{
	const struct treaty_def *d = g->d;
	char kb[32];
	struct titem *t;
	struct texch *x;

	switch (k->op) {
	case TOP_NONE:
		return;
	case TOP_ADD:
		item_add(g, json_object_get(fields, k->fields[k->f_item].name));
		break;
	case TOP_UPDATE:
		t = item_get(g, fstr(k, k->f_item, fields));
		count_item(g, t, -1);
		for (size_t i = 0; i < k->nsets; i++) {
			const struct treaty_set *s = &k->sets[i];
			json_t *v = s->field < 0 ? s->value :
				json_object_get(fields, k->fields[s->field].name);
			if (v == NULL)
				continue;
			json_object_set(t->rec, d->item_fields[s->attr].name, v);
			if (s->attr == d->if_status)
				t->status = treaty_status_find(d, json_string_value(v));
		}
		count_item(g, t, 1);
		break;
	case TOP_OPEN:
		json_object_set_new(g->open, key_of(k, fields, kb, sizeof kb),
				    json_integer((json_int_t)index));
		return;
	case TOP_AMEND:
		return;
	case TOP_CLOSE:
		json_object_del(g->open, key_of(k, fields, kb, sizeof kb));
		return;
	case TOP_DECLARE: {
		const char *id = fstr(k, k->f_exchange, fields);
		int64_t part = json_integer_value(json_object_get(fields, k->fields[k->f_part].name));
		json_t *items = json_object_get(fields, k->fields[k->f_items].name);
		json_t *tot = k->f_totals < 0 ? NULL :
			json_object_get(fields, k->fields[k->f_totals].name);

		x = exch_find(g, id);
		if (x == NULL) {
			struct texch *nx = treaty_grow(g->ex, &g->capex, g->nex,
						       sizeof *g->ex, 4);
			if (nx == NULL)
				return;
			g->ex = nx;
			x = &g->ex[g->nex];
			memset(x, 0, sizeof *x);
			x->id = strdup(id);
			x->parts = json_integer_value(json_object_get(fields,
					k->fields[k->f_parts].name));
			x->count = json_integer_value(json_object_get(fields,
					k->fields[k->f_count].name));
			x->first = index;
			x->got = calloc((size_t)x->parts, 1);
			x->part_items = calloc((size_t)x->parts, sizeof *x->part_items);
			x->items = json_array();
			if (x->id == NULL || x->got == NULL || x->part_items == NULL) {
				exch_free(x);
				return;
			}
			g->nex++;
		}
		x->got[part - 1] = 1;
		x->ngot++;
		x->part_items[part - 1] = items != NULL ? json_incref(items) : NULL;
		x->has_items |= items != NULL;
		if (tot != NULL && x->totals == NULL)
			x->totals = json_incref(tot);
		if (k->f_commitment >= 0 && x->commitment == NULL &&
		    json_object_get(fields, k->fields[k->f_commitment].name) != NULL)
			x->commitment = json_incref(json_object_get(fields,
						k->fields[k->f_commitment].name));
		if (x->ngot == x->parts)
			exch_complete(g, x, index);
		return;
	}
	}
	update_limits(g, index);
}

size_t treaty_check(struct treaty_engine *g, const char *kind,
		    const json_t *fields, struct treaty_msgs *m)
{
	const struct treaty_kind *k = treaty_kind_find(g->d, kind);
	const char *code = NULL;
	size_t bad;

	if (k == NULL) {
		treaty_msgs_add(m, "kind: \"%s\" is not a notification kind of %s", kind,
				g->d->name);
		return 1;
	}
	bad = treaty_validate(g->d, k, fields, m);
	if (bad != 0)
		return bad;
	return effect_check(g, k, fields, m, &code);
}

size_t treaty_apply(struct treaty_engine *g, uint64_t index, const char *kind,
		    const json_t *fields, int64_t received)
{
	const struct treaty_kind *k = treaty_kind_find(g->d, kind);
	struct treaty_msgs m = { 0 };
	const char *code = "invalid";
	size_t before = g->nflags;

	if (k == NULL) {
		flag(g, index, "invalid", "kind \"%s\" is not defined by %s", kind, g->d->name);
		return g->nflags - before;
	}
	if (treaty_validate(g->d, k, fields, &m) != 0 ||
	    effect_check(g, k, fields, &m, &code) != 0) {
		char buf[900];
		size_t o = 0;
		for (size_t i = 0; i < m.n && o < sizeof buf - 4; i++)
			o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", i ? "; " : "",
					      m.lines[i]);
		flag(g, index, code, "%s: %s%s (not applied)", kind, buf,
		     m.n + m.dropped > 1 && o >= sizeof buf - 4 ? " ..." : "");
		treaty_msgs_free(&m);
		if (k->dl != TDL_NONE)
			judge_deadline(g, k, fields, index, received);
		return g->nflags - before;
	}
	treaty_msgs_free(&m);
	effect_do(g, k, fields, index);
	g->applied++;
	if (k->dl != TDL_NONE)
		judge_deadline(g, k, fields, index, received);
	return g->nflags - before;
}

void treaty_finish(struct treaty_engine *g)
{
	for (size_t i = 0; i < g->nex; i++) {
		struct texch *x = &g->ex[i];
		char list[256];
		size_t o = 0;
		if (x->done)
			continue;
		list[0] = '\0';
		for (int64_t p = 0; p < x->parts && o < sizeof list - 16; p++)
			if (!x->got[p])
				o += (size_t)snprintf(list + o, sizeof list - o, "%s%lld",
						      o ? ", " : "", (long long)p + 1);
		flag(g, x->first, "missing-part", "exchange \"%s\": %lld of %lld parts "
		     "received; missing %s", x->id, (long long)x->ngot,
		     (long long)x->parts, list);
	}
}
