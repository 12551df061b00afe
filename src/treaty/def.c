/*
 * def.c — reading a treaty definition (docs/treaties.md, "The file").
 *
 * The definition is checked completely when it is loaded: every name
 * resolved, every member known, every label bilingual.  Two engines that
 * accept a definition must read it the same way, so anything the format
 * does not define is refused by name rather than ignored.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "commit.h"
#include "file.h"
#include "treaty.h"

struct dctx {
	struct treaty_def *d;
	const char *label;            /* the file, for messages */
	struct perr *e;
};

static int dfail(struct dctx *c, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int dfail(struct dctx *c, const char *path, const char *fmt, ...)
{
	char msg[PERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return perr_set(c->e, "%s: %s: %s", c->label, path, msg);
}

/* Names: 1..64 of a-z 0-9 _ -, starting with a letter (docs/treaties.md). */
static int name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > TREATY_NAME_MAX || s[0] < 'a' || s[0] > 'z')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

/* Every member of obj must be one of the NULL-terminated allowed names. */
static int only(struct dctx *c, const char *path, const json_t *obj,
		const char *const *allowed)
{
	const char *k;
	json_t *v;

	if (!json_is_object(obj))
		return dfail(c, path, "must be an object");
	json_object_foreach((json_t *)obj, k, v) {
		size_t i;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(k, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL)
			return dfail(c, path, "unknown member \"%s\"", k);
	}
	return 0;
}

static int label_ok(struct dctx *c, const char *path, json_t *l)
{
	static const char *const langs[] = { "en", "ru", NULL };
	json_t *en = json_object_get(l, "en"), *ru = json_object_get(l, "ru");

	if (!json_is_object(l))
		return dfail(c, path, "a label must be {\"en\": ..., \"ru\": ...}");
	if (only(c, path, l, langs) != 0)
		return -1;
	if (!json_is_string(en) || json_string_length(en) == 0 ||
	    !json_is_string(ru) || json_string_length(ru) == 0)
		return dfail(c, path, "a label needs non-empty \"en\" and \"ru\" texts");
	return 0;
}

static int get_label(struct dctx *c, const char *path, json_t *obj,
		     json_t **out)
{
	char p[512];
	json_t *l = json_object_get(obj, "label");

	treaty_pathf(p, sizeof p, "%s.label", path);
	if (l == NULL)
		return dfail(c, path, "no label");
	if (label_ok(c, p, l) != 0)
		return -1;
	*out = l;
	return 0;
}

static int get_int(struct dctx *c, const char *path, json_t *obj,
		   const char *key, int64_t lo, int64_t hi, int64_t dflt,
		   int64_t *out)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL) {
		*out = dflt;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return dfail(c, path, "\"%s\" must be an integer in %lld..%lld", key,
			     (long long)lo, (long long)hi);
	*out = json_integer_value(v);
	return 0;
}

int treaty_status_find(const struct treaty_def *d, const char *name)
{
	for (size_t i = 0; i < d->nstatuses; i++)
		if (strcmp(d->statuses[i].name, name) == 0)
			return (int)i;
	return -1;
}

int treaty_cat_find(const struct treaty_def *d, const char *name)
{
	for (size_t i = 0; i < d->ncats; i++)
		if (strcmp(d->cats[i].name, name) == 0)
			return (int)i;
	return -1;
}

const struct treaty_kind *treaty_kind_find(const struct treaty_def *d,
					   const char *name)
{
	for (size_t i = 0; i < d->nkinds; i++)
		if (strcmp(d->kinds[i].name, name) == 0)
			return &d->kinds[i];
	return NULL;
}

static int field_find(const struct treaty_field *f, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(f[i].name, name) == 0)
			return (int)i;
	return -1;
}

static const struct {
	const char *name;
	enum treaty_ftype type;
} ftypes[] = {
	{ "string", TF_STRING },     { "text", TF_TEXT },
	{ "integer", TF_INTEGER },   { "number", TF_NUMBER },
	{ "boolean", TF_BOOLEAN },   { "date", TF_DATE },
	{ "datetime", TF_DATETIME }, { "code", TF_CODE },
	{ "category", TF_CATEGORY }, { "status", TF_STATUS },
	{ "item_id", TF_ITEM_ID },   { "item", TF_ITEM },
	{ "items", TF_ITEMS },       { "position", TF_POSITION },
	{ "area", TF_AREA },         { "commitment", TF_COMMITMENT },
	{ "totals", TF_TOTALS },
};

/* One field definition (docs/treaties.md, "Fields"). */
static int field_parse(struct dctx *c, const char *path, const char *name,
		       json_t *v, struct treaty_field *f)
{
	static const char *const members[] = {
		"type", "label", "required", "min", "max", "max_length", "values",
		"max_items", NULL
	};
	json_t *t = json_object_get(v, "type"), *r, *mn, *mx;
	int64_t n;
	size_t i;

	memset(f, 0, sizeof *f);
	f->name = name;
	if (!name_ok(name))
		return dfail(c, path, "\"%s\" is not a valid field name "
			     "(a-z, 0-9, _ and -, starting with a letter)", name);
	if (!json_is_object(v))
		return dfail(c, path, "a field definition must be an object");
	if (only(c, path, v, members) != 0 || get_label(c, path, v, &f->label) != 0)
		return -1;
	if (!json_is_string(t))
		return dfail(c, path, "no \"type\"");
	for (i = 0; i < sizeof ftypes / sizeof ftypes[0]; i++)
		if (strcmp(json_string_value(t), ftypes[i].name) == 0)
			break;
	if (i == sizeof ftypes / sizeof ftypes[0])
		return dfail(c, path, "unknown type \"%s\"", json_string_value(t));
	f->type = ftypes[i].type;
	r = json_object_get(v, "required");
	if (r != NULL && !json_is_boolean(r))
		return dfail(c, path, "\"required\" must be true or false");
	f->required = r == NULL || json_is_true(r);
	mn = json_object_get(v, "min");
	mx = json_object_get(v, "max");
	if ((mn != NULL || mx != NULL) && f->type != TF_INTEGER &&
	    f->type != TF_NUMBER)
		return dfail(c, path, "\"min\" and \"max\" apply to integer and number fields only");
	if (f->type == TF_INTEGER) {
		if (get_int(c, path, v, "min", -(INT64_C(1) << 53),
			    (INT64_C(1) << 53) - 1, 0, &f->imin) != 0 ||
		    get_int(c, path, v, "max", -(INT64_C(1) << 53),
			    (INT64_C(1) << 53) - 1, (INT64_C(1) << 53) - 1,
			    &f->imax) != 0)
			return -1;
		if (f->imin > f->imax)
			return dfail(c, path, "\"min\" is above \"max\"");
	}
	if (f->type == TF_NUMBER) {
		f->dmin = mn == NULL ? -1e300 : json_number_value(mn);
		f->dmax = mx == NULL ? 1e300 : json_number_value(mx);
		if ((mn != NULL && !json_is_number(mn)) ||
		    (mx != NULL && !json_is_number(mx)) || f->dmin > f->dmax)
			return dfail(c, path, "\"min\" and \"max\" must be numbers, min <= max");
	}
	if (json_object_get(v, "max_length") != NULL && f->type != TF_STRING &&
	    f->type != TF_TEXT)
		return dfail(c, path, "\"max_length\" applies to string and text fields only");
	if (get_int(c, path, v, "max_length", 1, 65535,
		    f->type == TF_TEXT ? 16384 : 128, &n) != 0)
		return -1;
	f->max_length = (size_t)n;
	if (json_object_get(v, "max_items") != NULL && f->type != TF_ITEMS)
		return dfail(c, path, "\"max_items\" applies to items fields only");
	if (get_int(c, path, v, "max_items", 0, 1000000, 10000, &n) != 0)
		return -1;
	f->max_items = (size_t)n;
	f->values = json_object_get(v, "values");
	if ((f->values != NULL) != (f->type == TF_CODE))
		return dfail(c, path, f->type == TF_CODE ?
			     "a code field needs \"values\"" :
			     "\"values\" applies to code fields only");
	if (f->type == TF_CODE) {
		static const char *const vm[] = { "label", NULL };
		const char *code;
		json_t *cv;
		char p[512];

		if (!json_is_object(f->values) || json_object_size(f->values) == 0)
			return dfail(c, path, "\"values\" must be a non-empty object");
		json_object_foreach(f->values, code, cv) {
			json_t *l;
			treaty_pathf(p, sizeof p, "%s.values.%s", path, code);
			if (!name_ok(code))
				return dfail(c, p, "not a valid code name");
			if (only(c, p, cv, vm) != 0 ||
			    get_label(c, p, cv, &l) != 0)
				return -1;
		}
	}
	return 0;
}

static int fields_parse(struct dctx *c, const char *path, json_t *obj,
			struct treaty_field **out, size_t *n)
{
	const char *k;
	json_t *v;
	char p[512];

	if (!json_is_object(obj))
		return dfail(c, path, "must be an object of field definitions");
	if (json_object_size(obj) > TREATY_MAX_FIELDS)
		return dfail(c, path, "more than %d fields", TREATY_MAX_FIELDS);
	*n = 0;
	*out = calloc(json_object_size(obj) + 1, sizeof **out);
	if (*out == NULL)
		return dfail(c, path, "out of memory");
	json_object_foreach(obj, k, v) {
		treaty_pathf(p, sizeof p, "%s.%s", path, k);
		if (field_parse(c, p, k, v, &(*out)[*n]) != 0)
			return -1;
		(*n)++;
	}
	return 0;
}

static int statuses_parse(struct dctx *c, json_t *obj)
{
	static const char *const members[] = { "label", NULL };
	struct treaty_def *d = c->d;
	const char *k;
	json_t *v;
	char p[256];

	if (!json_is_object(obj))
		return dfail(c, "statuses", "must be an object");
	if (json_object_size(obj) > TREATY_MAX_STATUSES)
		return dfail(c, "statuses", "more than %d statuses", TREATY_MAX_STATUSES);
	d->statuses = calloc(json_object_size(obj) + 1, sizeof *d->statuses);
	if (d->statuses == NULL)
		return dfail(c, "statuses", "out of memory");
	json_object_foreach(obj, k, v) {
		treaty_pathf(p, sizeof p, "statuses.%s", k);
		if (!name_ok(k))
			return dfail(c, p, "not a valid name");
		if (only(c, p, v, members) != 0 ||
		    get_label(c, p, v, &d->statuses[d->nstatuses].label) != 0)
			return -1;
		d->statuses[d->nstatuses++].name = k;
	}
	return 0;
}

/* A list of status names, each one of the definition's (and, with within,
 * one of those bits), as a bit set. */
static int status_set(struct dctx *c, const char *path, json_t *arr,
		      uint32_t within, uint32_t *out)
{
	size_t i;
	json_t *v;

	*out = 0;
	if (!json_is_array(arr))
		return dfail(c, path, "must be an array of statuses");
	json_array_foreach(arr, i, v) {
		int s = json_is_string(v) ? treaty_status_find(c->d, json_string_value(v)) : -1;
		if (s < 0)
			return dfail(c, path, "%s%s%s is not a status of this treaty",
				     json_is_string(v) ? "\"" : "",
				     json_is_string(v) ? json_string_value(v) : "a non-string",
				     json_is_string(v) ? "\"" : "");
		if (within != 0 && !(within & (UINT32_C(1) << s)))
			return dfail(c, path, "\"%s\" is not one of the category's statuses",
				     json_string_value(v));
		*out |= UINT32_C(1) << s;
	}
	return 0;
}

static int categories_parse(struct dctx *c, json_t *obj)
{
	static const char *const members[] = { "label", "statuses", "transitions", NULL };
	struct treaty_def *d = c->d;
	const char *k, *from;
	json_t *v, *to;
	char p[256], q[400];

	if (!json_is_object(obj))
		return dfail(c, "categories", "must be an object");
	if (json_object_size(obj) > TREATY_MAX_CATEGORIES)
		return dfail(c, "categories", "more than %d categories",
			     TREATY_MAX_CATEGORIES);
	d->cats = calloc(json_object_size(obj) + 1, sizeof *d->cats);
	if (d->cats == NULL)
		return dfail(c, "categories", "out of memory");
	json_object_foreach(obj, k, v) {
		struct treaty_category *cat = &d->cats[d->ncats];
		json_t *tr;

		treaty_pathf(p, sizeof p, "categories.%s", k);
		if (!name_ok(k))
			return dfail(c, p, "not a valid name");
		if (only(c, p, v, members) != 0 ||
		    get_label(c, p, v, &cat->label) != 0)
			return -1;
		cat->name = k;
		treaty_pathf(q, sizeof q, "%s.statuses", p);
		if (status_set(c, q, json_object_get(v, "statuses"), 0,
			       &cat->statuses) != 0)
			return -1;
		if (cat->statuses == 0)
			return dfail(c, q, "a category needs at least one status");
		tr = json_object_get(v, "transitions");
		if (tr != NULL && !json_is_object(tr))
			return dfail(c, p, "\"transitions\" must be an object");
		json_object_foreach(tr, from, to) {
			int s = treaty_status_find(d, from);
			treaty_pathf(q, sizeof q, "%s.transitions.%s", p, from);
			if (s < 0 || !(cat->statuses & (UINT32_C(1) << s)))
				return dfail(c, q, "\"%s\" is not one of the category's statuses",
					     from);
			if (status_set(c, q, to, cat->statuses, &cat->next[s]) != 0)
				return -1;
		}
		d->ncats++;
	}
	return 0;
}

static int item_fields_parse(struct dctx *c, json_t *obj)
{
	struct treaty_def *d = c->d;

	if (fields_parse(c, "item_fields", obj, &d->item_fields,
			 &d->nitem_fields) != 0)
		return -1;
	d->if_id = field_find(d->item_fields, d->nitem_fields, "id");
	d->if_category = field_find(d->item_fields, d->nitem_fields, "category");
	d->if_status = field_find(d->item_fields, d->nitem_fields, "status");
	if (d->if_id < 0 || d->item_fields[d->if_id].type != TF_STRING ||
	    !d->item_fields[d->if_id].required)
		return dfail(c, "item_fields", "needs a required \"id\" of type string");
	if (d->if_category < 0 || d->item_fields[d->if_category].type != TF_CATEGORY ||
	    !d->item_fields[d->if_category].required)
		return dfail(c, "item_fields", "needs a required \"category\" of type category");
	if (d->if_status < 0 || d->item_fields[d->if_status].type != TF_STATUS ||
	    !d->item_fields[d->if_status].required)
		return dfail(c, "item_fields", "needs a required \"status\" of type status");
	for (size_t i = 0; i < d->nitem_fields; i++)
		if (d->item_fields[i].type == TF_ITEM || d->item_fields[i].type == TF_ITEMS)
			return dfail(c, "item_fields", "\"%s\": an item cannot hold items",
				     d->item_fields[i].name);
	return 0;
}

static int cats_mask(struct dctx *c, const char *path, json_t *arr,
		     uint64_t *out)
{
	size_t i;
	json_t *v;

	*out = 0;
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return dfail(c, path, "must be a non-empty array of categories");
	json_array_foreach(arr, i, v) {
		int k = json_is_string(v) ? treaty_cat_find(c->d, json_string_value(v)) : -1;
		if (k < 0)
			return dfail(c, path, "%s is not a category of this treaty",
				     json_is_string(v) ? json_string_value(v) : "a non-string");
		*out |= UINT64_C(1) << k;
	}
	return 0;
}

static int limits_parse(struct dctx *c, json_t *arr)
{
	static const char *const members[] = { "name", "label", "max", "count", NULL };
	static const char *const tmembers[] = { "categories", "statuses", "sum", "each", NULL };
	struct treaty_def *d = c->d;
	size_t i, j;
	json_t *v, *t;
	char p[256], q[300];

	if (!json_is_array(arr))
		return dfail(c, "limits", "must be an array");
	if (json_array_size(arr) > TREATY_MAX_LIMITS)
		return dfail(c, "limits", "more than %d limits", TREATY_MAX_LIMITS);
	d->limits = calloc(json_array_size(arr) + 1, sizeof *d->limits);
	if (d->limits == NULL)
		return dfail(c, "limits", "out of memory");
	json_array_foreach(arr, i, v) {
		struct treaty_limit *l = &d->limits[i];
		json_t *nm = json_object_get(v, "name"), *cnt = json_object_get(v, "count");

		treaty_pathf(p, sizeof p, "limits[%zu]", i);
		if (only(c, p, v, members) != 0)
			return -1;
		if (!json_is_string(nm) || !name_ok(json_string_value(nm)))
			return dfail(c, p, "needs a valid \"name\"");
		l->name = json_string_value(nm);
		for (j = 0; j < i; j++)
			if (strcmp(d->limits[j].name, l->name) == 0)
				return dfail(c, p, "two limits named \"%s\"", l->name);
		treaty_pathf(p, sizeof p, "limits.%s", l->name);
		if (get_label(c, p, v, &l->label) != 0 ||
		    get_int(c, p, v, "max", 0, (INT64_C(1) << 53) - 1, -1, &l->max) != 0)
			return -1;
		if (l->max < 0)
			return dfail(c, p, "needs \"max\"");
		if (!json_is_array(cnt) || json_array_size(cnt) == 0 ||
		    json_array_size(cnt) > 32)
			return dfail(c, p, "\"count\" must be an array of 1..32 terms");
		l->terms = calloc(json_array_size(cnt), sizeof *l->terms);
		if (l->terms == NULL)
			return dfail(c, p, "out of memory");
		d->nlimits++;   /* from here treaty_def_free releases the terms */
		json_array_foreach(cnt, j, t) {
			struct treaty_term *tm = &l->terms[j];
			json_t *sum = json_object_get(t, "sum");

			treaty_pathf(q, sizeof q, "%s.count[%zu]", p, j);
			if (only(c, q, t, tmembers) != 0)
				return -1;
			if (cats_mask(c, q, json_object_get(t, "categories"), &tm->cats) != 0 ||
			    status_set(c, q, json_object_get(t, "statuses"), 0, &tm->stats) != 0)
				return -1;
			if (tm->stats == 0)
				return dfail(c, q, "\"statuses\" must not be empty");
			tm->sum = -1;
			if (sum != NULL) {
				if (json_object_get(t, "each") != NULL)
					return dfail(c, q, "give \"sum\" or \"each\", not both");
				tm->sum = json_is_string(sum) ?
					field_find(d->item_fields, d->nitem_fields,
						   json_string_value(sum)) : -1;
				if (tm->sum < 0 || d->item_fields[tm->sum].type != TF_INTEGER)
					return dfail(c, q, "\"sum\" must name an integer item field");
			}
			if (get_int(c, q, t, "each", 0, 1000000, 1, &tm->each) != 0)
				return -1;
		}
		l->nterms = json_array_size(cnt);
	}
	return 0;
}

/* The field of kind k named by member key of effect, of one of the types
 * allowed (bit set over enum treaty_ftype); -1 with an error otherwise. */
static int effect_field(struct dctx *c, const char *path, json_t *eff,
			const char *key, const struct treaty_kind *k,
			unsigned types, int optional, int *out)
{
	json_t *v = json_object_get(eff, key);
	int f;

	if (v == NULL && optional) {
		*out = -1;
		return 0;
	}
	if (!json_is_string(v))
		return dfail(c, path, "needs \"%s\": the name of a field", key);
	f = field_find(k->fields, k->nfields, json_string_value(v));
	if (f < 0)
		return dfail(c, path, "\"%s\": no field \"%s\"", key, json_string_value(v));
	if (!(types & (1u << k->fields[f].type)))
		return dfail(c, path, "\"%s\": field \"%s\" has the wrong type", key,
			     json_string_value(v));
	*out = f;
	return 0;
}

static int sets_parse(struct dctx *c, const char *path, json_t *eff,
		      struct treaty_kind *k)
{
	struct treaty_def *d = c->d;
	json_t *set = json_object_get(eff, "set"), *sv = json_object_get(eff, "set_value");
	size_t n = json_object_size(set) + json_object_size(sv);
	const char *attr;
	json_t *v;
	char p[512];

	if ((set != NULL && !json_is_object(set)) || (sv != NULL && !json_is_object(sv)))
		return dfail(c, path, "\"set\" and \"set_value\" must be objects");
	if (n == 0)
		return dfail(c, path, "an update needs \"set\" or \"set_value\"");
	k->sets = calloc(n, sizeof *k->sets);
	if (k->sets == NULL)
		return dfail(c, path, "out of memory");
	for (int pass = 0; pass < 2; pass++) {
		json_object_foreach(pass == 0 ? set : sv, attr, v) {
			struct treaty_set *s = &k->sets[k->nsets];

			treaty_pathf(p, sizeof p, "%s.%s.%s", path, pass == 0 ? "set" : "set_value", attr);
			s->attr = field_find(d->item_fields, d->nitem_fields, attr);
			if (s->attr < 0)
				return dfail(c, p, "no item field \"%s\"", attr);
			if (s->attr == d->if_id || s->attr == d->if_category)
				return dfail(c, p, "an item's id and category never change");
			s->field = -1;
			if (pass == 0) {
				if (!json_is_string(v))
					return dfail(c, p, "must name a field of the kind");
				if ((s->field = field_find(k->fields, k->nfields,
							   json_string_value(v))) < 0)
					return dfail(c, p, "no field \"%s\"", json_string_value(v));
				if (k->fields[s->field].type != d->item_fields[s->attr].type)
					return dfail(c, p, "field \"%s\" is not of the item field's type",
						     json_string_value(v));
			} else {
				/* A constant: a status must be one of the treaty's;
				 * anything else a plain JSON scalar. */
				s->value = v;
				if (d->item_fields[s->attr].type == TF_STATUS &&
				    (!json_is_string(v) ||
				     treaty_status_find(d, json_string_value(v)) < 0))
					return dfail(c, p, "not a status of this treaty");
				if (!json_is_string(v) && !json_is_integer(v) &&
				    !json_is_boolean(v))
					return dfail(c, p, "must be a string, integer or boolean");
			}
			k->nsets++;
		}
	}
	return 0;
}

#define T(x) (1u << (x))

static int effect_parse(struct dctx *c, const char *path, json_t *eff,
			struct treaty_kind *k)
{
	static const char *const members[] = {
		"op", "item", "set", "set_value", "key", "exchange", "part", "parts",
		"items", "item_count", "commitment", "totals", NULL
	};
	static const struct {
		const char *name;
		enum treaty_op op;
	} ops[] = {
		{ "none", TOP_NONE },   { "add", TOP_ADD },     { "update", TOP_UPDATE },
		{ "open", TOP_OPEN },   { "amend", TOP_AMEND }, { "close", TOP_CLOSE },
		{ "declare", TOP_DECLARE },
	};
	const unsigned keyt = T(TF_STRING) | T(TF_ITEM_ID) | T(TF_INTEGER) | T(TF_CODE);
	json_t *op = json_object_get(eff, "op");
	size_t i;

	k->f_item = k->f_key = -1;
	k->f_exchange = k->f_part = k->f_parts = k->f_items = k->f_count = -1;
	k->f_commitment = k->f_totals = -1;
	if (eff == NULL)
		return dfail(c, path, "no effect");
	if (only(c, path, eff, members) != 0)
		return -1;
	for (i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (json_is_string(op) && strcmp(json_string_value(op), ops[i].name) == 0)
			break;
	if (i == sizeof ops / sizeof ops[0])
		return dfail(c, path, "\"op\" must be none, add, update, open, amend, "
			     "close or declare");
	k->op = ops[i].op;
	switch (k->op) {
	case TOP_NONE:
		return 0;
	case TOP_ADD:
		return effect_field(c, path, eff, "item", k, T(TF_ITEM), 0, &k->f_item);
	case TOP_UPDATE:
		if (effect_field(c, path, eff, "item", k, T(TF_ITEM_ID), 0, &k->f_item) != 0)
			return -1;
		return sets_parse(c, path, eff, k);
	case TOP_OPEN:
	case TOP_AMEND:
	case TOP_CLOSE:
		return effect_field(c, path, eff, "key", k, keyt, 0, &k->f_key);
	case TOP_DECLARE:
		if (effect_field(c, path, eff, "exchange", k, T(TF_STRING), 0, &k->f_exchange) ||
		    effect_field(c, path, eff, "part", k, T(TF_INTEGER), 0, &k->f_part) ||
		    effect_field(c, path, eff, "parts", k, T(TF_INTEGER), 0, &k->f_parts) ||
		    effect_field(c, path, eff, "items", k, T(TF_ITEMS), 0, &k->f_items) ||
		    effect_field(c, path, eff, "item_count", k, T(TF_INTEGER), 0, &k->f_count) ||
		    effect_field(c, path, eff, "commitment", k, T(TF_COMMITMENT), 1,
				 &k->f_commitment) ||
		    effect_field(c, path, eff, "totals", k, T(TF_TOTALS), 1, &k->f_totals))
			return -1;
		if (!k->fields[k->f_exchange].required || !k->fields[k->f_part].required ||
		    !k->fields[k->f_parts].required || !k->fields[k->f_count].required)
			return dfail(c, path, "exchange, part, parts and item_count must be required fields");
		if (k->fields[k->f_part].imin < 1 || k->fields[k->f_parts].imin < 1 ||
		    k->fields[k->f_parts].imax > 100000)
			return dfail(c, path, "part and parts must be bounded to 1..100000");
		return 0;
	}
	return 0;
}

static int deadline_parse(struct dctx *c, const char *path, json_t *dl,
			  struct treaty_kind *k)
{
	static const char *const members[] = { "field", "within_days", "before_hours", NULL };
	json_t *wd = json_object_get(dl, "within_days"), *bh = json_object_get(dl, "before_hours");

	k->dl = TDL_NONE;
	k->dl_field = -1;
	if (dl == NULL)
		return 0;
	if (only(c, path, dl, members) != 0)
		return -1;
	if (effect_field(c, path, dl, "field", k, T(TF_DATE) | T(TF_DATETIME), 0,
			 &k->dl_field) != 0)
		return -1;
	if (!k->fields[k->dl_field].required)
		return dfail(c, path, "the deadline's field must be required");
	if ((wd == NULL) == (bh == NULL))
		return dfail(c, path, "give one of \"within_days\" and \"before_hours\"");
	k->dl = wd != NULL ? TDL_WITHIN_DAYS : TDL_BEFORE_HOURS;
	return get_int(c, path, dl, wd != NULL ? "within_days" : "before_hours", 0,
		       100000, 0, &k->dl_n);
}

static int kinds_parse(struct dctx *c, json_t *obj)
{
	static const char *const members[] = { "label", "fields", "deadline", "effect", NULL };
	struct treaty_def *d = c->d;
	const char *name;
	json_t *v;
	char p[256], q[300];

	if (!json_is_object(obj) || json_object_size(obj) == 0)
		return dfail(c, "kinds", "must be a non-empty object");
	if (json_object_size(obj) > TREATY_MAX_KINDS)
		return dfail(c, "kinds", "more than %d kinds", TREATY_MAX_KINDS);
	d->kinds = calloc(json_object_size(obj), sizeof *d->kinds);
	if (d->kinds == NULL)
		return dfail(c, "kinds", "out of memory");
	json_object_foreach(obj, name, v) {
		struct treaty_kind *k = &d->kinds[d->nkinds];

		treaty_pathf(p, sizeof p, "kinds.%s", name);
		if (!name_ok(name))
			return dfail(c, p, "not a valid kind name");
		if (only(c, p, v, members) != 0 ||
		    get_label(c, p, v, &k->label) != 0)
			return -1;
		k->name = name;
		d->nkinds++;
		treaty_pathf(q, sizeof q, "%s.fields", p);
		if (fields_parse(c, q, json_object_get(v, "fields"), &k->fields,
				 &k->nfields) != 0)
			return -1;
		for (size_t i = 0; i < k->nfields; i++)
			if ((k->fields[i].type == TF_CATEGORY || k->fields[i].type == TF_STATUS ||
			     k->fields[i].type == TF_ITEM || k->fields[i].type == TF_ITEMS) &&
			    d->ncats == 0)
				return dfail(c, q, "\"%s\": this treaty has no categories",
					     k->fields[i].name);
		treaty_pathf(q, sizeof q, "%s.deadline", p);
		if (deadline_parse(c, q, json_object_get(v, "deadline"), k) != 0)
			return -1;
		treaty_pathf(q, sizeof q, "%s.effect", p);
		if (effect_parse(c, q, json_object_get(v, "effect"), k) != 0)
			return -1;
	}
	return 0;
}

int treaty_def_parse(struct treaty_def **out, const void *buf, size_t len,
		     const char *label, struct perr *e)
{
	static const char *const members[] = {
		"format", "name", "label", "statuses", "categories", "item_fields",
		"limits", "kinds", NULL
	};
	struct treaty_def *d;
	struct dctx c = { NULL, label, e };
	json_error_t je;
	json_t *fmt, *nm;

	*out = NULL;
	d = calloc(1, sizeof *d);
	if (d == NULL)
		return perr_set(e, "out of memory");
	c.d = d;
	SHA256(buf, len, d->sha256);
	commit_hex(d->sha_hex, d->sha256, 32);
	d->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (d->root == NULL) {
		perr_set(e, "%s: not valid JSON: %s (line %d)", label, je.text, je.line);
		goto fail;
	}
	if (!json_is_object(d->root)) {
		dfail(&c, "(top)", "must be a JSON object");
		goto fail;
	}
	if (only(&c, "(top)", d->root, members) != 0)
		goto fail;
	fmt = json_object_get(d->root, "format");
	if (!json_is_string(fmt) || strcmp(json_string_value(fmt), TREATY_FORMAT) != 0) {
		dfail(&c, "format", "must be \"%s\"", TREATY_FORMAT);
		goto fail;
	}
	nm = json_object_get(d->root, "name");
	if (!json_is_string(nm) || !name_ok(json_string_value(nm))) {
		dfail(&c, "name", "must be a valid name (a-z, 0-9, _ and -)");
		goto fail;
	}
	snprintf(d->name, sizeof d->name, "%s", json_string_value(nm));
	if (get_label(&c, "(top)", d->root, &d->label) != 0 ||
	    statuses_parse(&c, json_object_get(d->root, "statuses")) != 0 ||
	    categories_parse(&c, json_object_get(d->root, "categories")) != 0 ||
	    item_fields_parse(&c, json_object_get(d->root, "item_fields")) != 0 ||
	    limits_parse(&c, json_object_get(d->root, "limits")) != 0 ||
	    kinds_parse(&c, json_object_get(d->root, "kinds")) != 0)
		goto fail;
	*out = d;
	return 0;
fail:
	treaty_def_free(d);
	return -1;
}

int treaty_def_load(struct treaty_def **d, const char *path, struct perr *e)
{
	char *buf;
	size_t len;
	const char *base = strrchr(path, '/');
	int rc;

	*d = NULL;
	if (file_read(path, TREATY_FILE_MAX, 0, &buf, &len, e) != 0)
		return -1;
	rc = treaty_def_parse(d, buf, len, base != NULL ? base + 1 : path, e);
	free(buf);
	return rc;
}

void treaty_def_free(struct treaty_def *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->nkinds; i++) {
		free(d->kinds[i].fields);
		free(d->kinds[i].sets);
	}
	for (size_t i = 0; i < d->nlimits; i++)
		free(d->limits[i].terms);
	free(d->kinds);
	free(d->limits);
	free(d->item_fields);
	free(d->cats);
	free(d->statuses);
	json_decref(d->root);
	free(d);
}

const char *treaty_label(const json_t *label, enum treaty_lang lang,
			 const char *fallback)
{
	json_t *v = json_object_get(label, lang == TREATY_RU ? "ru" : "en");

	if (!json_is_string(v))
		v = json_object_get(label, "en");
	return json_is_string(v) ? json_string_value(v) : fallback;
}

int treaty_lang_parse(const char *s, enum treaty_lang *lang)
{
	if (strcmp(s, "en") == 0)
		*lang = TREATY_EN;
	else if (strcmp(s, "ru") == 0)
		*lang = TREATY_RU;
	else
		return -1;
	return 0;
}
