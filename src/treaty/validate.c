/*
 * validate.c — a notification's fields against its kind (docs/treaties.md,
 * "Fields").
 *
 * Every problem is reported, not only the first: an operator fixing a
 * notification, or an arms-control officer reading a flagged one, wants
 * the whole list at once, each line naming the field by its path.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "treaty.h"

/* A path for messages ("kinds.movement.fields.item_id"); long paths are
 * cut, which only shortens a message. */
void treaty_pathf(char *p, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p, cap, fmt, ap);
	va_end(ap);
}

void *treaty_grow(void *arr, size_t *cap, size_t n, size_t elem, size_t first)
{
	size_t nc;
	void *na;

	if (n < *cap)
		return arr;
	nc = *cap ? 2 * *cap : first;
	if ((na = realloc(arr, nc * elem)) != NULL)
		*cap = nc;
	return na;
}

void treaty_msgs_add(struct treaty_msgs *m, const char *fmt, ...)
{
	char buf[1024], **nl;
	va_list ap;

	if (m->n >= TREATY_MAX_ERRORS) {
		m->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if ((nl = treaty_grow(m->lines, &m->cap, m->n, sizeof *m->lines, 8)) == NULL) {
		m->dropped++;
		return;
	}
	m->lines = nl;
	m->lines[m->n] = strdup(buf);
	if (m->lines[m->n] == NULL)
		m->dropped++;
	else
		m->n++;
}

void treaty_msgs_free(struct treaty_msgs *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->lines[i]);
	free(m->lines);
	memset(m, 0, sizeof *m);
}

int treaty_time_parse(const char *s, int64_t *t)
{
	char buf[ENV_TIME_LEN + 1];

	if (strlen(s) == 10) {
		snprintf(buf, sizeof buf, "%sT00:00:00Z", s);
		return env_time_parse(buf, t);
	}
	return env_time_parse(s, t);
}

/* Short rendering of a value for a message: strings quoted and cut. */
static const char *show(const json_t *v, char *buf, size_t cap)
{
	switch (json_typeof(v)) {
	case JSON_STRING: {
		const char *s = json_string_value(v);
		size_t i, o = 0;
		buf[o++] = '"';
		for (i = 0; s[i] != '\0' && o + 6 < cap && i < 40; i++) {
			unsigned char ch = (unsigned char)s[i];
			if (ch < 0x20 || ch == 0x7f)
				o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", ch);
			else
				buf[o++] = (char)ch;
		}
		if (s[i] != '\0')
			o += (size_t)snprintf(buf + o, cap - o, "...");
		snprintf(buf + o, cap - o, "\"");
		return buf;
	}
	case JSON_INTEGER:
		snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
		return buf;
	case JSON_REAL:
		snprintf(buf, cap, "%.17g", json_real_value(v));
		return buf;
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	case JSON_NULL:
		return "null";
	case JSON_ARRAY:
		return "an array";
	case JSON_OBJECT:
		return "an object";
	}
	return "?";
}

static int is_hex64(const json_t *v)
{
	const char *s = json_string_value(v);

	if (s == NULL || strlen(s) != 64)
		return 0;
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int has_control(const char *s, int allow_newlines)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch < 0x20 && !(allow_newlines && (ch == '\n' || ch == '\t' ||
						       ch == '\r'))) || ch == 0x7f)
			return 1;
	}
	return 0;
}

static size_t check_position(const json_t *v, const char *path,
			     struct treaty_msgs *m)
{
	const char *k;
	json_t *x, *lat = json_object_get(v, "lat"), *lon = json_object_get(v, "lon");
	size_t bad = 0;

	if (!json_is_object(v)) {
		treaty_msgs_add(m, "%s: must be a position {\"lat\", \"lon\"}", path);
		return 1;
	}
	json_object_foreach((json_t *)v, k, x)
		if (strcmp(k, "lat") != 0 && strcmp(k, "lon") != 0) {
			treaty_msgs_add(m, "%s.%s: not a member of a position", path, k);
			bad++;
		}
	if (!json_is_number(lat) || fabs(json_number_value(lat)) > 90) {
		treaty_msgs_add(m, "%s.lat: must be a number of degrees in -90..90", path);
		bad++;
	}
	if (!json_is_number(lon) || fabs(json_number_value(lon)) > 180) {
		treaty_msgs_add(m, "%s.lon: must be a number of degrees in -180..180", path);
		bad++;
	}
	return bad;
}

static size_t check_area(const json_t *v, const char *path, struct treaty_msgs *m)
{
	json_t *poly = json_object_get(v, "polygon"), *c = json_object_get(v, "centre"),
	       *r = json_object_get(v, "radius_km"), *x;
	char p[600];
	size_t i, bad = 0;

	if (!json_is_object(v)) {
		treaty_msgs_add(m, "%s: must be an area: {\"polygon\": [...]} or "
				"{\"centre\": ..., \"radius_km\": ...}", path);
		return 1;
	}
	if (poly != NULL) {
		if (json_object_size(v) != 1) {
			treaty_msgs_add(m, "%s: a polygon area has only \"polygon\"", path);
			bad++;
		}
		if (!json_is_array(poly) || json_array_size(poly) < 3 ||
		    json_array_size(poly) > 64) {
			treaty_msgs_add(m, "%s.polygon: must be an array of 3..64 positions", path);
			return bad + 1;
		}
		json_array_foreach(poly, i, x) {
			treaty_pathf(p, sizeof p, "%s.polygon[%zu]", path, i);
			bad += check_position(x, p, m);
		}
		return bad;
	}
	if (c == NULL || r == NULL || json_object_size(v) != 2) {
		treaty_msgs_add(m, "%s: must be {\"polygon\": [...]} or {\"centre\": "
				"position, \"radius_km\": number}", path);
		return 1;
	}
	treaty_pathf(p, sizeof p, "%s.centre", path);
	bad += check_position(c, p, m);
	if (!json_is_number(r) || !(json_number_value(r) > 0) ||
	    json_number_value(r) > 20000) {
		treaty_msgs_add(m, "%s.radius_km: must be a number above 0 and at most 20000",
				path);
		bad++;
	}
	return bad;
}

/* One value against its field definition; item is the record being
 * checked when the field is a member of an item (for its status). */
static size_t check_value(const struct treaty_def *d, const struct treaty_field *f,
			  const json_t *v, const char *path, const json_t *item,
			  struct treaty_msgs *m)
{
	char sb[160];
	const char *s = json_string_value(v);
	int64_t t;
	size_t bad = 0, i;

	switch (f->type) {
	case TF_STRING:
	case TF_ITEM_ID:
	case TF_TEXT: {
		size_t max = f->type == TF_ITEM_ID ? 64 : f->max_length;
		if (s == NULL) {
			treaty_msgs_add(m, "%s: must be a string, not %s", path, show(v, sb, sizeof sb));
			return 1;
		}
		if (f->type != TF_TEXT && json_string_length(v) == 0) {
			treaty_msgs_add(m, "%s: must not be empty", path);
			return 1;
		}
		if (json_string_length(v) > max) {
			treaty_msgs_add(m, "%s: %zu bytes, more than the %zu allowed", path,
					json_string_length(v), max);
			return 1;
		}
		if (has_control(s, f->type == TF_TEXT)) {
			treaty_msgs_add(m, "%s: contains a control character", path);
			return 1;
		}
		return 0;
	}
	case TF_INTEGER:
		if (!json_is_integer(v)) {
			treaty_msgs_add(m, "%s: must be an integer, not %s", path, show(v, sb, sizeof sb));
			return 1;
		}
		if (json_integer_value(v) < f->imin) {
			treaty_msgs_add(m, "%s: %lld is below the minimum %lld", path,
					(long long)json_integer_value(v), (long long)f->imin);
			return 1;
		}
		if (json_integer_value(v) > f->imax) {
			treaty_msgs_add(m, "%s: %lld is above the maximum %lld", path,
					(long long)json_integer_value(v), (long long)f->imax);
			return 1;
		}
		return 0;
	case TF_NUMBER:
		if (!json_is_number(v) || json_number_value(v) < f->dmin ||
		    json_number_value(v) > f->dmax) {
			treaty_msgs_add(m, "%s: must be a number in %g..%g, not %s", path,
					f->dmin, f->dmax, show(v, sb, sizeof sb));
			return 1;
		}
		return 0;
	case TF_BOOLEAN:
		if (!json_is_boolean(v)) {
			treaty_msgs_add(m, "%s: must be true or false, not %s", path,
					show(v, sb, sizeof sb));
			return 1;
		}
		return 0;
	case TF_DATE:
	case TF_DATETIME:
		if (s == NULL || strlen(s) != (f->type == TF_DATE ? 10u : 20u) ||
		    treaty_time_parse(s, &t) != 0) {
			treaty_msgs_add(m, "%s: must be a %s, not %s", path,
					f->type == TF_DATE ? "date YYYY-MM-DD" :
					"UTC time YYYY-MM-DDTHH:MM:SSZ", show(v, sb, sizeof sb));
			return 1;
		}
		return 0;
	case TF_CODE:
		if (s == NULL || json_object_get(f->values, s) == NULL) {
			char list[512];
			size_t o = 0;
			const char *code;
			json_t *x;
			list[0] = '\0';
			json_object_foreach(f->values, code, x)
				if (o < sizeof list - 80)
					o += (size_t)snprintf(list + o, sizeof list - o, "%s%s",
							      o ? ", " : "", code);
			treaty_msgs_add(m, "%s: %s is not one of the codes (%s)", path,
					show(v, sb, sizeof sb), list);
			return 1;
		}
		return 0;
	case TF_CATEGORY:
		if (s == NULL || treaty_cat_find(d, s) < 0) {
			treaty_msgs_add(m, "%s: %s is not a category of %s", path,
					show(v, sb, sizeof sb), d->name);
			return 1;
		}
		return 0;
	case TF_STATUS: {
		int st = s == NULL ? -1 : treaty_status_find(d, s);
		json_t *cv = item ? json_object_get(item, "category") : NULL;
		int cat = json_is_string(cv) ? treaty_cat_find(d, json_string_value(cv)) : -1;
		if (st < 0) {
			treaty_msgs_add(m, "%s: %s is not a status of %s", path,
					show(v, sb, sizeof sb), d->name);
			return 1;
		}
		if (cat >= 0 && !(d->cats[cat].statuses & (UINT32_C(1) << st))) {
			treaty_msgs_add(m, "%s: \"%s\" is not a status of category \"%s\"",
					path, s, d->cats[cat].name);
			return 1;
		}
		return 0;
	}
	case TF_ITEM:
		return treaty_validate_item(d, v, path, m);
	case TF_ITEMS: {
		json_t *x, *seen;
		char p[600];
		if (!json_is_array(v)) {
			treaty_msgs_add(m, "%s: must be an array of items", path);
			return 1;
		}
		if (json_array_size(v) > f->max_items) {
			treaty_msgs_add(m, "%s: %zu items, more than the %zu allowed", path,
					json_array_size(v), f->max_items);
			return 1;
		}
		seen = json_object();
		json_array_foreach(v, i, x) {
			json_t *id = json_object_get(x, "id");
			treaty_pathf(p, sizeof p, "%s[%zu]", path, i);
			bad += treaty_validate_item(d, x, p, m);
			if (json_is_string(id)) {
				if (json_object_get(seen, json_string_value(id)) != NULL) {
					treaty_msgs_add(m, "%s.id: \"%s\" appears twice", p,
							json_string_value(id));
					bad++;
				}
				json_object_set_new(seen, json_string_value(id), json_true());
			}
		}
		json_decref(seen);
		return bad;
	}
	case TF_POSITION:
		return check_position(v, path, m);
	case TF_AREA:
		return check_area(v, path, m);
	case TF_COMMITMENT: {
		json_t *root = json_object_get(v, "root"), *cnt = json_object_get(v, "count");
		if (!json_is_object(v) || json_object_size(v) != 2 || !is_hex64(root) ||
		    !json_is_integer(cnt) || json_integer_value(cnt) < 0 ||
		    json_integer_value(cnt) > 10000000) {
			treaty_msgs_add(m, "%s: must be {\"root\": 64 lowercase hex, \"count\": "
					"0..10000000}", path);
			return 1;
		}
		return 0;
	}
	case TF_TOTALS: {
		const char *k;
		json_t *x;
		if (!json_is_object(v)) {
			treaty_msgs_add(m, "%s: must be an object of limit totals", path);
			return 1;
		}
		json_object_foreach((json_t *)v, k, x) {
			size_t l;
			for (l = 0; l < d->nlimits; l++)
				if (strcmp(d->limits[l].name, k) == 0)
					break;
			if (l == d->nlimits) {
				treaty_msgs_add(m, "%s.%s: not a limit of %s", path, k, d->name);
				bad++;
			} else if (!json_is_integer(x) || json_integer_value(x) < 0) {
				treaty_msgs_add(m, "%s.%s: must be a non-negative integer", path, k);
				bad++;
			}
		}
		return bad;
	}
	}
	return 0;
}

/* "path.name" (or "name" at the top), cut to fit: done for every field of
 * every notification a replay applies, so without printf. */
static void path_join(char *out, size_t cap, const char *path, const char *name)
{
	size_t a = strlen(path), b = strlen(name), o = 0;

	if (a > cap - 2)
		a = cap - 2;
	memcpy(out, path, a);
	o = a;
	if (a > 0)
		out[o++] = '.';
	if (b > cap - 1 - o)
		b = cap - 1 - o;
	memcpy(out + o, name, b);
	out[o + b] = '\0';
}

/* Fields of an object against a list of definitions: missing, extra,
 * each value. */
static size_t check_object(const struct treaty_def *d, const struct treaty_field *fs,
			   size_t n, const json_t *obj, const char *path,
			   const json_t *item, struct treaty_msgs *m)
{
	char p[600];
	const char *k;
	json_t *v;
	size_t bad = 0, i, present = 0;

	if (!json_is_object(obj)) {
		treaty_msgs_add(m, "%s: must be an object", path[0] ? path : "fields");
		return 1;
	}
	for (i = 0; i < n; i++) {
		v = json_object_get(obj, fs[i].name);
		if (v != NULL)
			present++;
		else if (!fs[i].required)
			continue;
		path_join(p, sizeof p, path, fs[i].name);
		if (v == NULL) {
			if (fs[i].required) {
				treaty_msgs_add(m, "%s: missing (required)", p);
				bad++;
			}
			continue;
		}
		bad += check_value(d, &fs[i], v, p, item, m);
	}
	/* every member is a defined field when they are as many */
	if (json_object_size(obj) == present)
		return bad;
	json_object_foreach((json_t *)obj, k, v) {
		for (i = 0; i < n; i++)
			if (strcmp(fs[i].name, k) == 0)
				break;
		if (i == n) {
			path_join(p, sizeof p, path, k);
			treaty_msgs_add(m, "%s: not a field of this %s", p,
					item ? "item" : "kind");
			bad++;
		}
	}
	return bad;
}

size_t treaty_validate_item(const struct treaty_def *d, const json_t *item,
			    const char *path, struct treaty_msgs *m)
{
	return check_object(d, d->item_fields, d->nitem_fields, item, path,
			    json_is_object(item) ? item : NULL, m);
}

size_t treaty_validate(const struct treaty_def *d, const struct treaty_kind *k,
		       const json_t *fields, struct treaty_msgs *m)
{
	return check_object(d, k->fields, k->nfields, fields, "fields", NULL, m);
}
