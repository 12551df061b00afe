/*
 * jsonfast.c — the fast path for plain JSON (jsonfast.h): a recursive
 * descent over the subset, building the jansson tree directly.  Any doubt
 * returns NULL, never an error: jansson reads what this does not.
 */
#include <string.h>

#include "jsonfast.h"

#define JF_MAX_INT_DIGITS 15   /* below 2^53: every reader agrees */

struct jf {
	const char *p, *end;
	int depth, max_depth;
	char buf[4096];        /* a string being unescaped */
};

static json_t *jf_value(struct jf *j);

static void jf_ws(struct jf *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' ||
				 *j->p == '\t'))
		j->p++;
}

/* A string into out (cap bytes, NUL-terminated, *len bytes); -1: not in
 * the subset.  Printable ASCII only, so no NUL and no UTF-8 to validate. */
static int jf_string_to(struct jf *j, char *out, size_t cap, size_t *len)
{
	size_t o = 0;

	if (cap == 0 || j->p >= j->end || *j->p != '"')
		return -1;
	j->p++;
	while (j->p < j->end) {
		unsigned char ch = (unsigned char)*j->p++;
		if (ch == '"') {
			out[o] = '\0';
			*len = o;
			return 0;
		}
		if (ch < 0x20 || ch > 0x7e || o + 1 >= cap)
			return -1;
		if (ch == '\\') {
			if (j->p >= j->end)
				return -1;
			switch (*j->p++) {
			case '"': ch = '"'; break;
			case '\\': ch = '\\'; break;
			case '/': ch = '/'; break;
			case 'b': ch = '\b'; break;
			case 'f': ch = '\f'; break;
			case 'n': ch = '\n'; break;
			case 'r': ch = '\r'; break;
			case 't': ch = '\t'; break;
			default: return -1;       /* \u and anything else: jansson */
			}
		}
		out[o++] = (char)ch;
	}
	return -1;
}

static int jf_string(struct jf *j, size_t *len)
{
	return jf_string_to(j, j->buf, sizeof j->buf, len);
}

static json_t *jf_number(struct jf *j)
{
	const char *s = j->p;
	int neg = 0, n = 0;
	json_int_t v = 0;

	if (j->p < j->end && *j->p == '-') {
		neg = 1;
		j->p++;
	}
	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return NULL;
	if (*j->p == '0' && j->p + 1 < j->end && j->p[1] >= '0' && j->p[1] <= '9')
		return NULL;                      /* leading zero: jansson's error */
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
		if (++n > JF_MAX_INT_DIGITS)
			return NULL;
		v = v * 10 + (*j->p++ - '0');
	}
	if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E'))
		return NULL;                      /* a real: jansson's */
	(void)s;
	return json_integer(neg ? -v : v);
}

static json_t *jf_object(struct jf *j)
{
	json_t *o = json_object(), *v;
	size_t len;

	if (o == NULL)
		return NULL;
	j->p++;                                   /* '{' */
	jf_ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return o;
	}
	for (;;) {
		jf_ws(j);
		if (jf_string(j, &len) != 0 || json_object_get(o, j->buf) != NULL)
			break;                    /* duplicate key: jansson's error */
		{
			/* the key outlives j->buf, which the value reuses */
			char key[sizeof j->buf];
			memcpy(key, j->buf, len + 1);
			jf_ws(j);
			if (j->p >= j->end || *j->p != ':')
				break;
			j->p++;
			jf_ws(j);
			v = jf_value(j);
			if (v == NULL || json_object_set_new_nocheck(o, key, v) != 0)
				break;
		}
		jf_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			return o;
		}
		break;
	}
	json_decref(o);
	return NULL;
}

static json_t *jf_array(struct jf *j)
{
	json_t *a = json_array(), *v;

	if (a == NULL)
		return NULL;
	j->p++;                                   /* '[' */
	jf_ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return a;
	}
	for (;;) {
		jf_ws(j);
		v = jf_value(j);
		if (v == NULL || json_array_append_new(a, v) != 0)
			break;
		jf_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			return a;
		}
		break;
	}
	json_decref(a);
	return NULL;
}

static int jf_word(struct jf *j, const char *w, size_t n)
{
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return -1;
	j->p += n;
	return 0;
}

static json_t *jf_value(struct jf *j)
{
	size_t len;
	json_t *v;

	if (j->p >= j->end)
		return NULL;
	switch (*j->p) {
	case '{':
	case '[':
		if (++j->depth > j->max_depth)
			return NULL;
		v = *j->p == '{' ? jf_object(j) : jf_array(j);
		j->depth--;
		return v;
	case '"':
		return jf_string(j, &len) == 0 ? json_stringn_nocheck(j->buf, len) : NULL;
	case 't':
		return jf_word(j, "true", 4) == 0 ? json_true() : NULL;
	case 'f':
		return jf_word(j, "false", 5) == 0 ? json_false() : NULL;
	case 'n':
		return jf_word(j, "null", 4) == 0 ? json_null() : NULL;
	default:
		return jf_number(j);
	}
}

json_t *jfast_parse(const char *s, size_t len, int max_depth)
{
	struct jf j;
	json_t *v;

	j.p = s;
	j.end = s + len;
	j.depth = 0;
	j.max_depth = max_depth;
	jf_ws(&j);
	v = jf_value(&j);
	if (v == NULL)
		return NULL;
	jf_ws(&j);
	if (j.p != j.end) {                        /* trailing bytes: jansson's */
		json_decref(v);
		return NULL;
	}
	return v;
}

int jfast_strings(const char *s, size_t len, const char *const *keys, size_t nkeys,
		  char *buf, size_t cap, const char **vals)
{
	struct jf j;
	size_t k, kl, vl, o = 0;
	char key[64];

	if (nkeys > 8)
		return -1;
	for (k = 0; k < nkeys; k++)
		vals[k] = NULL;
	j.p = s;
	j.end = s + len;
	jf_ws(&j);
	if (j.p >= j.end || *j.p++ != '{')
		return -1;
	jf_ws(&j);
	if (j.p < j.end && *j.p == '}')
		goto close;
	for (;;) {
		jf_ws(&j);
		if (jf_string_to(&j, key, sizeof key, &kl) != 0)
			return -1;
		for (k = 0; k < nkeys && strcmp(keys[k], key) != 0; k++)
			;
		if (k == nkeys || vals[k] != NULL)
			return -1;            /* another key, or one twice */
		jf_ws(&j);
		if (j.p >= j.end || *j.p++ != ':')
			return -1;
		jf_ws(&j);
		if (jf_string_to(&j, buf + o, cap - o, &vl) != 0)
			return -1;
		vals[k] = buf + o;
		o += vl + 1;
		jf_ws(&j);
		if (j.p < j.end && *j.p == ',') {
			j.p++;
			continue;
		}
		if (j.p < j.end && *j.p == '}')
			break;
		return -1;
	}
close:
	j.p++;
	jf_ws(&j);
	return j.p == j.end ? 0 : -1;
}
