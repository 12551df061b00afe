/*
 * testutil.c — shared helpers for the core unit tests (see testutil.h).
 */
#include "testutil.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "b64.h"

const char *tu_testdata_dir(void)
{
	const char *d = getenv("PARLEY_TESTDATA");

	return (d != NULL && d[0] != '\0') ? d : "../shared/testdata";
}

static char *tu_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = malloc(la + 1 + lb + 1);

	assert_non_null(p);
	memcpy(p, a, la);
	p[la] = '/';
	memcpy(p + la + 1, b, lb + 1);
	return p;
}

char *tu_testdata_path(const char *rel)
{
	return tu_join(tu_testdata_dir(), rel);
}

char *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (f == NULL)
		fail_msg("cannot open %s: %s (is PARLEY_TESTDATA right?)", path,
			 strerror(errno));
	do {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	if (ferror(f))
		fail_msg("cannot read %s", path);
	fclose(f);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

json_t *tu_load_json(const char *path, char **text)
{
	json_error_t err;
	size_t len;
	char *t = tu_read_file(path, &len);
	json_t *j = json_loadb(t, len, JSON_DECODE_INT_AS_REAL | JSON_REJECT_DUPLICATES,
			       &err);

	if (j == NULL)
		fail_msg("%s:%d: %s", path, err.line, err.text);
	if (text != NULL)
		*text = t;
	else
		free(t);
	return j;
}

int tu_json_u64(const char *text, const char *key, uint64_t *out)
{
	size_t klen = strlen(key);
	const char *p = text;
	uint64_t v = 0;
	int digits = 0;

	for (;;) {
		p = strchr(p, '"');
		if (p == NULL)
			return -1;
		if (strncmp(p + 1, key, klen) == 0 && p[1 + klen] == '"')
			break;
		p++;
	}
	p += klen + 2;
	while (isspace((unsigned char)*p))
		p++;
	if (*p++ != ':')
		return -1;
	while (isspace((unsigned char)*p))
		p++;
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	/* A JSON number that is not a plain unsigned integer. */
	if (digits == 0 || *p == '.' || *p == 'e' || *p == 'E')
		return -1;
	*out = v;
	return 0;
}

const char *tu_json_str(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_string(v))
		fail_msg("JSON member \"%s\" is not a string", key);
	return json_string_value(v);
}

static int tu_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t tu_for_each_json(const char *dir,
			void (*fn)(const char *path, void *ctx), void *ctx)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, i, count = 0;

	if (d == NULL)
		fail_msg("cannot open directory %s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			names = realloc(names, cap * sizeof *names);
			assert_non_null(names);
		}
		names[n] = strdup(de->d_name);
		assert_non_null(names[n]);
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof *names, tu_cmp_str);
	for (i = 0; i < n; i++) {
		char *path = tu_join(dir, names[i]);
		size_t l = strlen(names[i]);
		struct stat st;

		if (stat(path, &st) != 0)
			fail_msg("cannot stat %s", path);
		if (S_ISDIR(st.st_mode)) {
			count += tu_for_each_json(path, fn, ctx);
		} else if (S_ISREG(st.st_mode) && l > 5 &&
			   strcmp(names[i] + l - 5, ".json") == 0) {
			fn(path, ctx);
			count++;
		}
		free(path);
		free(names[i]);
	}
	free(names);
	return count;
}

char *tu_memdup(const void *p, size_t len)
{
	char *q = malloc(len ? len : 1);

	assert_non_null(q);
	if (len > 0)
		memcpy(q, p, len);
	return q;
}

long tu_b64(uint8_t *out, size_t cap, const char *s)
{
	return b64_decode(out, cap, s, strlen(s));
}

static int tu_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long tu_hex(uint8_t *out, size_t cap, const char *s)
{
	size_t len = strlen(s), i;

	if (len % 2 != 0 || len / 2 > cap)
		return -1;
	for (i = 0; i < len / 2; i++) {
		int hi = tu_hexval(s[2 * i]), lo = tu_hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (long)(len / 2);
}

uint64_t tu_rand64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t tu_rand_below(uint64_t *state, uint64_t n)
{
	/* Rejection sampling: no modulo bias. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n, r;

	do
		r = tu_rand64(state);
	while (r >= limit);
	return r % n;
}

void tu_rand_bytes(uint64_t *state, uint8_t *out, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i % 8 == 0) {
			uint64_t r = tu_rand64(state);
			size_t k;
			for (k = 0; k < 8 && i + k < n; k++)
				out[i + k] = (uint8_t)(r >> (8 * k));
		}
	}
}

void tu_expect_error(int rc, const struct perr *e, const char *needle)
{
	if (rc == 0)
		fail_msg("succeeded, expected an error mentioning \"%s\"",
			 needle ? needle : "anything");
	assert_true(rc < 0);
	assert_true(e->msg[0] != '\0');
	assert_null(strchr(e->msg, '\n'));
	if (needle != NULL && strstr(e->msg, needle) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", e->msg, needle);
}

void tu_expect_ok(int rc, const struct perr *e)
{
	if (rc != 0)
		fail_msg("failed: %s", e->msg);
}
