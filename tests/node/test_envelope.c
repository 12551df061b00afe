/*
 * test_envelope.c — the entry envelope (src/node/envelope.h): what a node
 * accepts as one log entry, what it refuses and why, and the canonical
 * bytes it writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "envelope.h"
#include "../core/testutil.h"

/* ---- fixtures ---------------------------------------------------------- */

#define LEAF_B64 "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" /* SHA-256("") */
#define LEAF2_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" /* 00..1f */
#define SHA_HEX "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SEED_HASH_HEX "19b25856e1c150ca834cffc8b59b23adbd0ec0389e58eb22b3b64768098d002b"
#define SEED_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define T0 INT64_C(1772366400) /* 2026-03-01T12:00:00Z */

#define HEAD(type, prec, id)                                              \
	"{\"v\":1,\"type\":\"" type "\",\"from\":\"nrrc.us.example\","     \
	"\"to\":\"nrrc.ru.example\",\"time\":\"2026-03-01T12:00:00Z\","    \
	"\"precedence\":\"" prec "\",\"id\":\"" id "\""
#define REF(origin, index, leaf)                                          \
	"{\"origin\":\"" origin "\",\"index\":" index ",\"leaf\":\"" leaf "\"}"
#define RU_LOG "nrrc.ru.example/to/nrrc.us.example"
#define US_LOG "nrrc.us.example/to/nrrc.ru.example"

/* One canonical envelope of each type, exactly as env_encode writes it. */
static const char MESSAGE[] =
	HEAD("message", "FLASH", "msg-0001")
	",\"subject\":\"Exercise notice\""
	",\"text\":\"Line one\\nLine two: \\\"quoted\\\" \xc3\xa9t\xc3\xa9 / [x]\""
	",\"refs\":[" REF(RU_LOG, "41", LEAF_B64) "]}";
static const char NOTIFICATION[] =
	HEAD("notification", "IMMEDIATE", "ntf-7")
	",\"treaty\":{\"name\":\"new-start\",\"sha256\":\"" SHA_HEX "\"}"
	",\"kind\":\"launch-notice\""
	",\"fields\":{\"system\":\"ICBM\",\"count\":1,"
	"\"window\":{\"from\":\"2026-03-02T00:00:00Z\",\"to\":\"2026-03-02T06:00:00Z\"}}}";
static const char RECEIPT[] =
	HEAD("receipt", "ROUTINE", "rcpt-17")
	",\"of\":\"" RU_LOG "\",\"below\":17,\"also\":[19,23]}";
static const char ACK[] =
	HEAD("ack", "PRIORITY", "ack-1")
	",\"refs\":[" REF(RU_LOG, "41", LEAF_B64) "," REF(RU_LOG, "0", LEAF2_B64) "]}";
static const char TEST[] =
	HEAD("test", "ROUTINE", "test-2026030112") ",\"text\":\"hourly test\"}";
static const char SEED_COMMIT[] =
	HEAD("seed-commit", "ROUTINE", "sc-1") ",\"commit\":\"" SEED_HASH_HEX "\"}";
static const char SEED_REVEAL[] =
	HEAD("seed-reveal", "ROUTINE", "sr-1") ",\"seed\":\"" SEED_HEX "\""
	",\"refs\":[" REF(US_LOG, "5", LEAF2_B64) "]}";

static const char *const CANONICAL[] = {
	MESSAGE, NOTIFICATION, RECEIPT, ACK, TEST, SEED_COMMIT, SEED_REVEAL,
};
#define NCANON (sizeof CANONICAL / sizeof CANONICAL[0])

/* ---- helpers ----------------------------------------------------------- */

/* Parses exactly len bytes from a heap copy with no terminating NUL, so
 * that AddressSanitizer catches a read past the input. */
static int parse_exact(struct envelope *env, const void *data, size_t len,
		       struct perr *e)
{
	char *copy = tu_memdup(data, len);
	int rc = env_parse(env, copy, len, e);

	free(copy);
	return rc;
}

static void parse_ok(struct envelope *env, const char *json)
{
	struct perr e = { "" };

	if (parse_exact(env, json, strlen(json), &e) != 0)
		fail_msg("rejected: %s\n  input: %.300s", e.msg, json);
}

static int is_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

/* Parsing len bytes fails with an error that contains want; the error is
 * one line starting "envelope: " and the envelope is left zeroed. */
static void reject_len(const void *data, size_t len, const char *want)
{
	struct envelope env;
	struct perr e = { "" };

	if (parse_exact(&env, data, len, &e) == 0) {
		env_free(&env);
		fail_msg("accepted, expected \"%s\"\n  input: %.300s", want,
			 (const char *)data);
	}
	if (strstr(e.msg, want) == NULL)
		fail_msg("error \"%s\"\n  expected it to contain \"%s\"\n  input: %.300s",
			 e.msg, want, (const char *)data);
	assert_null(strchr(e.msg, '\n'));
	assert_int_equal(strncmp(e.msg, "envelope: ", 10), 0);
	assert_true(is_zero(&env, sizeof env));
	env_free(&env); /* harmless on a failed parse */
}

static void reject(const char *json, const char *want)
{
	reject_len(json, strlen(json), want);
}

/* A message envelope with the given members after the common ones. */
static char *message_with(const char *members)
{
	const char *head = HEAD("message", "ROUTINE", "m-1");
	size_t n = strlen(head) + strlen(members) + 3;
	char *s = malloc(n);

	assert_non_null(s);
	snprintf(s, n, "%s,%s}", head, members);
	return s;
}

static void reject_message(const char *members, const char *want)
{
	char *s = message_with(members);

	reject(s, want);
	free(s);
}

static void accept_message(const char *members)
{
	struct envelope env;
	char *s = message_with(members);

	parse_ok(&env, s);
	env_free(&env);
	free(s);
}

/* json with the first occurrence of from replaced by to (malloc'd). */
static char *replace(const char *json, const char *from, const char *to)
{
	const char *at = strstr(json, from);
	size_t n;
	char *s;

	assert_non_null(at);
	n = strlen(json) - strlen(from) + strlen(to) + 1;
	s = malloc(n);
	assert_non_null(s);
	snprintf(s, n, "%.*s%s%s", (int)(at - json), json, to, at + strlen(from));
	return s;
}

static void reject_replaced(const char *json, const char *from, const char *to,
			    const char *want)
{
	char *s = replace(json, from, to);

	reject(s, want);
	free(s);
}

static void accept_replaced(const char *json, const char *from, const char *to)
{
	struct envelope env;
	char *s = replace(json, from, to);

	parse_ok(&env, s);
	env_free(&env);
	free(s);
}

static char *dump(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	assert_non_null(s);
	return s;
}

/* encode must give exactly want, and parsing that gives env back. */
static void assert_encodes_to(const struct envelope *env, const char *want)
{
	struct perr e = { "" };
	char *out = NULL;
	size_t len = 0;

	if (env_encode(env, &out, &len, &e) != 0)
		fail_msg("encode failed: %s", e.msg);
	assert_int_equal(len, strlen(out));
	assert_string_equal(out, want);
	free(out);
}

static void assert_encode_refused(const struct envelope *env, const char *want)
{
	struct perr e = { "" };
	char *out = (char *)1;
	size_t len = 1;

	if (env_encode(env, &out, &len, &e) == 0) {
		fail_msg("encoded, expected \"%s\": %s", want, out);
	}
	assert_null(out);
	assert_int_equal(len, 0);
	if (strstr(e.msg, want) == NULL)
		fail_msg("error \"%s\"\n  expected it to contain \"%s\"", e.msg, want);
}

static void assert_same_envelope(const struct envelope *a,
				 const struct envelope *b)
{
	size_t i;

	assert_int_equal(a->type, b->type);
	assert_string_equal(a->from, b->from);
	assert_string_equal(a->to, b->to);
	assert_int_equal(a->time, b->time);
	assert_int_equal(a->prec, b->prec);
	assert_string_equal(a->id, b->id);
	assert_true((a->subject == NULL) == (b->subject == NULL));
	if (a->subject != NULL)
		assert_string_equal(a->subject, b->subject);
	assert_true((a->text == NULL) == (b->text == NULL));
	if (a->text != NULL)
		assert_string_equal(a->text, b->text);
	assert_string_equal(a->treaty_name, b->treaty_name);
	assert_memory_equal(a->treaty_sha256, b->treaty_sha256, 32);
	assert_string_equal(a->kind, b->kind);
	assert_true((a->fields == NULL) == (b->fields == NULL));
	if (a->fields != NULL)
		assert_true(json_equal(a->fields, b->fields));
	assert_string_equal(a->of, b->of);
	assert_int_equal(a->below, b->below);
	assert_int_equal(a->nalso, b->nalso);
	for (i = 0; i < a->nalso; i++)
		assert_int_equal(a->also[i], b->also[i]);
	assert_int_equal(a->nrefs, b->nrefs);
	for (i = 0; i < a->nrefs; i++) {
		assert_string_equal(a->refs[i].origin, b->refs[i].origin);
		assert_int_equal(a->refs[i].index, b->refs[i].index);
		assert_memory_equal(a->refs[i].leaf, b->refs[i].leaf, 32);
	}
	assert_memory_equal(a->seed_hash, b->seed_hash, 32);
	assert_memory_equal(a->seed, b->seed, 32);
}

/* encode(env) parses back to env. */
static void assert_round_trips(const struct envelope *env)
{
	struct envelope back;
	struct perr e = { "" };
	char *out;
	size_t len;

	if (env_encode(env, &out, &len, &e) != 0)
		fail_msg("encode failed: %s", e.msg);
	parse_ok(&back, out);
	assert_same_envelope(env, &back);
	env_free(&back);
	free(out);
}

static void fill_common(struct envelope *env, enum env_type t)
{
	memset(env, 0, sizeof *env);
	env->type = t;
	strcpy(env->from, "a.example");
	strcpy(env->to, "b.example");
	env->time = T0;
	env->prec = ENV_ROUTINE;
	strcpy(env->id, "id-1");
}

static void set_ref(struct env_ref *r, const char *origin, uint64_t index,
		    uint8_t fill)
{
	strcpy(r->origin, origin);
	r->index = index;
	memset(r->leaf, fill, sizeof r->leaf);
}

/* ---- round trips --------------------------------------------------------- */

static void test_every_canonical_envelope_reencodes_to_the_same_bytes(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NCANON; i++) {
		struct envelope env;
		parse_ok(&env, CANONICAL[i]);
		assert_int_equal(env.type, (enum env_type)i);
		assert_encodes_to(&env, CANONICAL[i]);
		assert_round_trips(&env);
		env_free(&env);
	}
}

static void test_message_parses_into_its_fields(void **state)
{
	struct envelope env;
	uint8_t leaf[32];

	(void)state;
	parse_ok(&env, MESSAGE);
	assert_int_equal(env.type, ENV_MESSAGE);
	assert_string_equal(env.from, "nrrc.us.example");
	assert_string_equal(env.to, "nrrc.ru.example");
	assert_int_equal(env.time, T0);
	assert_int_equal(env.prec, ENV_FLASH);
	assert_string_equal(env.id, "msg-0001");
	assert_string_equal(env.subject, "Exercise notice");
	assert_string_equal(env.text, "Line one\nLine two: \"quoted\" \xc3\xa9t\xc3\xa9 / [x]");
	assert_int_equal(env.nrefs, 1);
	assert_string_equal(env.refs[0].origin, RU_LOG);
	assert_int_equal(env.refs[0].index, 41);
	assert_int_equal(tu_b64(leaf, sizeof leaf, LEAF_B64), 32);
	assert_memory_equal(env.refs[0].leaf, leaf, 32);
	assert_null(env.fields);
	assert_null(env.also);
	env_free(&env);
	assert_true(is_zero(&env, sizeof env));
	env_free(&env); /* twice is harmless */
}

static void test_notification_keeps_fields_as_json(void **state)
{
	struct envelope env;
	uint8_t sha[32];

	(void)state;
	parse_ok(&env, NOTIFICATION);
	assert_int_equal(env.type, ENV_NOTIFICATION);
	assert_int_equal(env.prec, ENV_IMMEDIATE);
	assert_string_equal(env.treaty_name, "new-start");
	assert_int_equal(tu_hex(sha, sizeof sha, SHA_HEX), 32);
	assert_memory_equal(env.treaty_sha256, sha, 32);
	assert_string_equal(env.kind, "launch-notice");
	assert_true(json_is_object(env.fields));
	assert_string_equal(json_string_value(json_object_get(env.fields, "system")), "ICBM");
	assert_int_equal(json_integer_value(json_object_get(env.fields, "count")), 1);
	assert_int_equal(env.nrefs, 0);
	assert_null(env.refs);
	env_free(&env);
}

static void test_receipt_parses_below_and_also(void **state)
{
	struct envelope env;

	(void)state;
	parse_ok(&env, RECEIPT);
	assert_int_equal(env.type, ENV_RECEIPT);
	assert_string_equal(env.of, RU_LOG);
	assert_int_equal(env.below, 17);
	assert_int_equal(env.nalso, 2);
	assert_int_equal(env.also[0], 19);
	assert_int_equal(env.also[1], 23);
	env_free(&env);
}

static void test_ack_test_and_seed_envelopes_parse_into_their_fields(void **state)
{
	struct envelope env;
	uint8_t b[32];

	(void)state;
	parse_ok(&env, ACK);
	assert_int_equal(env.prec, ENV_PRIORITY);
	assert_int_equal(env.nrefs, 2);
	assert_int_equal(env.refs[1].index, 0);
	assert_int_equal(tu_b64(b, sizeof b, LEAF2_B64), 32);
	assert_memory_equal(env.refs[1].leaf, b, 32);
	env_free(&env);

	parse_ok(&env, TEST);
	assert_int_equal(env.type, ENV_TEST);
	assert_string_equal(env.text, "hourly test");
	env_free(&env);

	parse_ok(&env, SEED_COMMIT);
	assert_int_equal(tu_hex(b, sizeof b, SEED_HASH_HEX), 32);
	assert_memory_equal(env.seed_hash, b, 32);
	env_free(&env);

	parse_ok(&env, SEED_REVEAL);
	assert_int_equal(tu_hex(b, sizeof b, SEED_HEX), 32);
	assert_memory_equal(env.seed, b, 32);
	assert_int_equal(env.nrefs, 1);
	assert_string_equal(env.refs[0].origin, US_LOG);
	env_free(&env);
}

static void test_each_type_built_in_code_round_trips(void **state)
{
	struct env_ref refs[3];
	uint64_t also[3] = { 10, 11, 1000 };
	struct envelope env;

	(void)state;
	set_ref(&refs[0], "b.example/to/a.example", 0, 0x11);
	set_ref(&refs[1], "b.example/to/a.example", ENV_MAX_INDEX, 0x22);
	set_ref(&refs[2], "c.example/to/a.example", 7, 0xff);

	fill_common(&env, ENV_MESSAGE);
	env.subject = "";             /* an empty subject is allowed */
	env.text = "text\twith\x01" "controls and \xe2\x82\xac";
	assert_round_trips(&env);
	env.refs = refs;
	env.nrefs = 3;
	assert_round_trips(&env);

	fill_common(&env, ENV_TEST);
	assert_round_trips(&env);     /* without text */
	env.text = "hourly";
	assert_round_trips(&env);

	fill_common(&env, ENV_NOTIFICATION);
	strcpy(env.treaty_name, "new-start");
	memset(env.treaty_sha256, 0xab, 32);
	strcpy(env.kind, "data-exchange");
	env.fields = json_pack("{s:i,s:[s,s],s:{}}", "n", 3, "list", "a", "b", "empty");
	assert_non_null(env.fields);
	assert_round_trips(&env);
	env.refs = refs;
	env.nrefs = 1;
	assert_round_trips(&env);
	json_decref(env.fields);

	fill_common(&env, ENV_RECEIPT);
	strcpy(env.of, "b.example/to/a.example");
	env.below = 10;
	assert_round_trips(&env);     /* empty also */
	env.also = also;
	env.nalso = 3;
	assert_round_trips(&env);

	fill_common(&env, ENV_ACK);
	env.refs = refs;
	env.nrefs = 2;
	assert_round_trips(&env);

	fill_common(&env, ENV_SEED_COMMIT);
	memset(env.seed_hash, 0x5a, 32);
	assert_round_trips(&env);
	env.refs = refs;
	env.nrefs = 1;
	assert_round_trips(&env);

	fill_common(&env, ENV_SEED_REVEAL);
	memset(env.seed, 0xa5, 32);
	env.refs = refs;
	env.nrefs = 1;
	env.prec = ENV_FLASH;
	env.time = 0;
	assert_round_trips(&env);
}

/* ---- canonical encoding -------------------------------------------------- */

static void test_encoding_is_compact_in_fixed_key_order(void **state)
{
	uint64_t also[2] = { 19, 23 };
	struct env_ref ref;
	struct envelope env;

	(void)state;
	fill_common(&env, ENV_RECEIPT);
	strcpy(env.from, "b.example");
	strcpy(env.to, "a.example");
	strcpy(env.id, "r-17");
	strcpy(env.of, "a.example/to/b.example");
	env.below = 17;
	env.also = also;
	env.nalso = 2;
	assert_encodes_to(&env,
		"{\"v\":1,\"type\":\"receipt\",\"from\":\"b.example\",\"to\":\"a.example\","
		"\"time\":\"2026-03-01T12:00:00Z\",\"precedence\":\"ROUTINE\",\"id\":\"r-17\","
		"\"of\":\"a.example/to/b.example\",\"below\":17,\"also\":[19,23]}");

	fill_common(&env, ENV_MESSAGE);
	env.prec = ENV_FLASH;
	env.time = 0;
	env.subject = "Re: test";
	env.text = "a \"b\"\n\\c/d \xc3\xa9";
	set_ref(&ref, "b.example/to/a.example", 3, 0);
	ref.leaf[31] = 1;
	env.refs = &ref;
	env.nrefs = 1;
	assert_encodes_to(&env,
		"{\"v\":1,\"type\":\"message\",\"from\":\"a.example\",\"to\":\"b.example\","
		"\"time\":\"1970-01-01T00:00:00Z\",\"precedence\":\"FLASH\",\"id\":\"id-1\","
		"\"subject\":\"Re: test\",\"text\":\"a \\\"b\\\"\\n\\\\c/d \xc3\xa9\","
		"\"refs\":[{\"origin\":\"b.example/to/a.example\",\"index\":3,"
		"\"leaf\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE=\"}]}");
}

static void test_encoding_refuses_what_would_not_parse(void **state)
{
	uint64_t unsorted[2] = { 12, 11 };
	struct envelope env;
	char big[ENV_MAX_SIZE];

	(void)state;
	fill_common(&env, ENV_MESSAGE);
	env.text = "t";
	assert_encode_refused(&env, "missing field \"subject\" in a message envelope");
	env.subject = "s";
	env.text = NULL;
	assert_encode_refused(&env, "missing field \"text\" in a message envelope");
	env.text = "t";

	strcpy(env.from, "a b");
	assert_encode_refused(&env, "field \"from\" may hold only printable ASCII");
	memset(env.from, 'x', sizeof env.from); /* no NUL inside */
	assert_encode_refused(&env, "field \"from\" is not NUL-terminated");
	strcpy(env.from, "a.example");
	env.id[0] = '\0';
	assert_encode_refused(&env, "field \"id\" is empty");
	strcpy(env.id, "id-1");

	env.subject = "bad \xff utf-8";
	assert_encode_refused(&env, "field \"subject\" is not valid UTF-8");
	env.subject = "s";

	env.time = INT64_C(253402300800); /* 10000-01-01 */
	assert_encode_refused(&env, "field \"time\"");
	env.time = T0;
	env.type = (enum env_type)99;
	assert_encode_refused(&env, "type 99 is not a known type");
	env.type = ENV_MESSAGE;
	env.prec = (enum env_prec)-1;
	assert_encode_refused(&env, "not a known precedence");
	env.prec = ENV_ROUTINE;

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	env.text = big;
	assert_encode_refused(&env, "over the limit of 65535");

	fill_common(&env, ENV_ACK);
	assert_encode_refused(&env, "missing field \"refs\" in an ack envelope");
	fill_common(&env, ENV_SEED_REVEAL);
	assert_encode_refused(&env, "missing field \"refs\" in a seed-reveal envelope");

	fill_common(&env, ENV_RECEIPT);
	strcpy(env.of, "x/to/y");
	env.below = 12;
	env.also = unsorted;
	env.nalso = 2;
	assert_encode_refused(&env, "field \"also[1]\" is 11");
	env.below = ENV_MAX_INDEX + 1;
	env.nalso = 0;
	assert_encode_refused(&env, "field \"below\" is 9007199254740992, outside 0..2^53-1");

	fill_common(&env, ENV_NOTIFICATION);
	strcpy(env.treaty_name, "t");
	strcpy(env.kind, "k");
	assert_encode_refused(&env, "missing field \"fields\" in a notification envelope");
	env.fields = json_array();
	assert_encode_refused(&env, "field \"fields\" must be an object, not an array");
	json_decref(env.fields);
}

/* ---- strict JSON ----------------------------------------------------------- */

static void test_duplicate_keys_are_rejected_at_any_depth(void **state)
{
	(void)state;
	reject_message("\"subject\":\"a\",\"text\":\"b\",\"subject\":\"c\"",
		       "envelope: duplicate key \"subject\"");
	reject_replaced(NOTIFICATION, "\"count\":1", "\"count\":1,\"count\":2",
			"duplicate key \"count\"");
	reject_replaced(MESSAGE, "\"index\":41", "\"index\":41,\"index\":41",
			"duplicate key \"index\"");
}

static void test_only_one_json_object_and_nothing_after_it(void **state)
{
	char *s;
	size_t n;

	(void)state;
	reject("[]", "envelope: must be a JSON object, not an array");
	reject("\"message\"", "must be a JSON object, not a string");
	reject("1", "must be a JSON object, not an integer");
	reject("null", "must be a JSON object, not null");
	reject("", "envelope: empty");
	reject("{", "not valid JSON");
	reject("{\"v\":1,}", "not valid JSON");

	n = strlen(MESSAGE);
	s = malloc(n + 16);
	assert_non_null(s);
	snprintf(s, n + 16, "%s x", MESSAGE);
	reject(s, "envelope: data after the end of the JSON object");
	snprintf(s, n + 16, "%s{}", MESSAGE);
	reject(s, "data after the end of the JSON object");
	/* a NUL byte after the object is data too */
	memcpy(s, MESSAGE, n);
	s[n] = '\0';
	reject_len(s, n + 1, "data after the end of the JSON object");
	/* insignificant whitespace around the object is JSON */
	snprintf(s, n + 16, " %s\n", MESSAGE);
	{
		struct envelope env;
		parse_ok(&env, s);
		env_free(&env);
	}
	free(s);
}

static void test_input_over_65535_bytes_is_rejected(void **state)
{
	const char *head = HEAD("message", "ROUTINE", "m-1") ",\"subject\":\"\",\"text\":\"";
	size_t hl = strlen(head);
	char *s = malloc(ENV_MAX_SIZE + 2);
	struct envelope env;
	struct perr e;

	(void)state;
	assert_non_null(s);
	/* exactly 65,535 bytes: accepted */
	memcpy(s, head, hl);
	memset(s + hl, 'x', ENV_MAX_SIZE - hl - 2);
	memcpy(s + ENV_MAX_SIZE - 2, "\"}", 2);
	assert_int_equal(parse_exact(&env, s, ENV_MAX_SIZE, &e), 0);
	assert_int_equal(strlen(env.text), ENV_MAX_SIZE - hl - 2);
	env_free(&env);
	/* one byte more: refused before any parsing */
	s[ENV_MAX_SIZE - 2] = 'x';
	memcpy(s + ENV_MAX_SIZE - 1, "\"}", 2);
	reject_len(s, ENV_MAX_SIZE + 1, "envelope: 65536 bytes, over the limit of 65535");
	free(s);
}

static void test_nesting_deeper_than_16_is_rejected(void **state)
{
	char fields[256], *s;
	size_t bomb = 60000, i;
	int depth;

	(void)state;
	/* the envelope is depth 1 and "fields" depth 2; depth - 1 more levels
	 * inside it make depth + 1 in all: 16 fits, 17 does not */
	for (depth = 15; depth <= 16; depth++) {
		char members[400];
		size_t o = 0;
		int k;
		for (k = 2; k <= depth; k++)
			o += (size_t)snprintf(fields + o, sizeof fields - o, "{\"a\":");
		o += (size_t)snprintf(fields + o, sizeof fields - o, "1");
		for (k = 2; k <= depth; k++)
			o += (size_t)snprintf(fields + o, sizeof fields - o, "}");
		snprintf(members, sizeof members,
			 "\"treaty\":{\"name\":\"t\",\"sha256\":\"" SHA_HEX "\"},"
			 "\"kind\":\"k\",\"fields\":{\"a\":%s}", fields);
		{
			const char *head = HEAD("notification", "ROUTINE", "n-1");
			size_t n = strlen(head) + strlen(members) + 3;
			char *doc = malloc(n);
			assert_non_null(doc);
			snprintf(doc, n, "%s,%s}", head, members);
			if (depth == 15) {
				struct envelope env;
				parse_ok(&env, doc); /* deepest level: 16 */
				env_free(&env);
			} else {
				reject(doc, "envelope: nested deeper than 16 levels");
			}
			free(doc);
		}
	}
	/* brackets inside strings are text, not nesting */
	accept_message("\"subject\":\"[[[[[[[[[[[[[[[[[[[[\",\"text\":\"{{{{{{{{{{{{{{{{{{{{\\\"[[[[\"");

	/* a bomb far past jansson's own limit costs one scan */
	s = malloc(bomb);
	assert_non_null(s);
	for (i = 0; i < bomb; i++)
		s[i] = i % 2 ? '[' : '{';
	reject_len(s, bomb, "nested deeper than 16 levels");
	free(s);
}

static void test_invalid_utf8_is_rejected(void **state)
{
	(void)state;
	reject_message("\"subject\":\"\xff\",\"text\":\"\"", "envelope: not valid UTF-8");
	/* overlong "/" */
	reject_message("\"subject\":\"\xc0\xaf\",\"text\":\"\"", "not valid UTF-8");
	/* a UTF-16 surrogate encoded in UTF-8 */
	reject_message("\"subject\":\"\xed\xa0\x80\",\"text\":\"\"", "not valid UTF-8");
	/* truncated sequence */
	reject_message("\"subject\":\"\xe2\x82\",\"text\":\"\"", "not valid UTF-8");
	/* in a key */
	reject_message("\"subject\":\"\",\"text\":\"\",\"\xfe\":1", "not valid UTF-8");
	/* a lone surrogate escape is no character either */
	reject_message("\"subject\":\"\\ud800\",\"text\":\"\"", "not valid JSON");
	/* and a valid pair is */
	accept_message("\"subject\":\"\\ud83d\\ude00\",\"text\":\"\"");
}

static void test_nul_inside_a_string_is_rejected(void **state)
{
	static const char raw[] = "{\"v\":1,\"type\":\"test\",\"text\":\"a\0b\"}";

	(void)state;
	reject_message("\"subject\":\"\",\"text\":\"a\\u0000b\"",
		       "envelope: a string contains NUL (\\u0000)");
	reject_message("\"subject\":\"\",\"text\":\"\",\"x\\u0000\":1",
		       "a string contains NUL");
	/* a raw NUL byte is a control character, invalid in a JSON string */
	reject_len(raw, sizeof raw - 1, "not valid JSON");
}

static void test_integers_must_be_json_integers_in_range(void **state)
{
	(void)state;
	reject_replaced(RECEIPT, "\"below\":17", "\"below\":17.0",
			"envelope: field \"below\" must be an integer, not a real number");
	reject_replaced(RECEIPT, "\"below\":17", "\"below\":1.7e1",
			"field \"below\" must be an integer, not a real number");
	reject_replaced(RECEIPT, "\"below\":17", "\"below\":-1",
			"field \"below\" is -1, outside 0..2^53-1");
	reject_replaced(RECEIPT, "\"below\":17", "\"below\":9007199254740992",
			"field \"below\" is 9007199254740992, outside 0..2^53-1");
	accept_replaced(RECEIPT, "\"below\":17,\"also\":[19,23]",
			"\"below\":9007199254740991,\"also\":[]");
	reject_replaced(RECEIPT, "\"below\":17", "\"below\":99999999999999999999",
			"envelope: a number is out of range");
	reject_replaced(MESSAGE, "\"index\":41", "\"index\":-41",
			"field \"refs[0].index\" is -41, outside 0..2^53-1");
}

/* ---- version, type, unknown fields ------------------------------------ */

static void test_only_version_1_is_read(void **state)
{
	(void)state;
	reject_replaced(MESSAGE, "\"v\":1", "\"v\":2",
			"envelope: version 2 is not supported (this node reads version 1)");
	reject_replaced(MESSAGE, "\"v\":1", "\"v\":0", "version 0 is not supported");
	reject_replaced(MESSAGE, "\"v\":1", "\"v\":1.0",
			"field \"v\" must be an integer, not a real number");
	reject_replaced(MESSAGE, "\"v\":1", "\"v\":\"1\"",
			"field \"v\" must be an integer, not a string");
	/* the version is judged before anything else, so a v2 envelope with
	 * new fields is told about its version */
	reject_replaced(MESSAGE, "\"v\":1", "\"v\":2,\"new\":true", "version 2");
}

static void test_unknown_types_are_rejected_by_name(void **state)
{
	(void)state;
	reject_replaced(MESSAGE, "\"type\":\"message\"", "\"type\":\"telegram\"",
			"envelope: unknown type \"telegram\" (expected message, "
			"notification, receipt, ack, test, seed-commit or seed-reveal)");
	reject_replaced(MESSAGE, "\"type\":\"message\"", "\"type\":\"Message\"",
			"unknown type \"Message\"");
	reject_replaced(MESSAGE, "\"type\":\"message\"", "\"type\":\"\\n\\\"\"",
			"unknown type \"\\x0a\\x22\"");
}

static void test_unexpected_fields_are_rejected_by_name(void **state)
{
	(void)state;
	reject_message("\"subject\":\"\",\"text\":\"\",\"x\":1",
		       "envelope: unexpected field \"x\" in a message envelope");
	reject_replaced(RECEIPT, "\"below\"", "\"subject\":\"s\",\"below\"",
			"unexpected field \"subject\" in a receipt envelope");
	reject_replaced(TEST, "\"text\"", "\"refs\":[" REF(RU_LOG, "1", LEAF_B64) "],\"text\"",
			"unexpected field \"refs\" in a test envelope");
	reject_replaced(ACK, "\"refs\"", "\"text\":\"\",\"refs\"",
			"unexpected field \"text\" in an ack envelope");
	reject_replaced(NOTIFICATION, "\"name\"", "\"version\":2,\"name\"",
			"unexpected field \"version\" in field \"treaty\"");
	reject_replaced(MESSAGE, "\"index\"", "\"size\":42,\"index\"",
			"unexpected field \"size\" in field \"refs[0]\"");
	/* keys are compared exactly */
	reject_replaced(MESSAGE, "\"from\"", "\"From\":\"x\",\"from\"",
			"unexpected field \"From\"");
}

/*
 * The members of one object of a canonical envelope, probed one at a time on
 * a fresh copy: where 0 is the envelope itself, 1 its "treaty", 2 its first
 * ref.
 */
static json_t *locate(json_t *root, int where)
{
	switch (where) {
	case 0:
		return root;
	case 1:
		return json_object_get(root, "treaty");
	default:
		return json_array_get(json_object_get(root, "refs"), 0);
	}
}

static const char *const where_prefix[] = { "", "treaty.", "refs[0]." };

/* Copies root, deletes member key of the object at where (replacement
 * NULL) or sets it to replacement (a new reference), and returns the
 * copy's text. */
static char *probe(const json_t *root, int where, const char *key,
		   json_t *replacement)
{
	json_t *copy = json_deep_copy(root), *obj;
	char *s;

	assert_non_null(copy);
	obj = locate(copy, where);
	assert_non_null(obj);
	if (replacement == NULL)
		assert_int_equal(json_object_del(obj, key), 0);
	else
		assert_int_equal(json_object_set_new(obj, key, replacement), 0);
	s = dump(copy);
	json_decref(copy);
	return s;
}

static size_t member_names(const json_t *obj, char names[][32], size_t cap)
{
	const char *key;
	json_t *value;
	size_t n = 0;

	json_object_foreach((json_t *)obj, key, value) {
		assert_true(n < cap && json_is_object(obj) && value != NULL);
		snprintf(names[n++], 32, "%s", key);
	}
	return n;
}

/* Each required member, removed in turn, is reported by name; the optional
 * ones may be left out. */
static void remove_each_member(const json_t *root, int where,
			       const char *const *optional)
{
	char names[16][32];
	size_t n = member_names(locate((json_t *)root, where), names, 16), i;

	for (i = 0; i < n; i++) {
		char want[128], *s = probe(root, where, names[i], NULL);
		int opt = 0;
		const char *const *o;

		for (o = optional; *o != NULL; o++)
			opt |= strcmp(*o, names[i]) == 0;
		if (opt) {
			struct envelope env;
			parse_ok(&env, s);
			env_free(&env);
		} else {
			snprintf(want, sizeof want, "missing field \"%s%s\"",
				 where_prefix[where], names[i]);
			reject(s, want);
		}
		free(s);
	}
}

static void test_a_missing_required_field_is_named(void **state)
{
	static const char *const optional[][3] = {
		[ENV_MESSAGE] = { "refs", NULL },
		[ENV_NOTIFICATION] = { "refs", NULL },
		[ENV_RECEIPT] = { NULL },
		[ENV_ACK] = { NULL },
		[ENV_TEST] = { "text", NULL },
		[ENV_SEED_COMMIT] = { "refs", NULL },
		[ENV_SEED_REVEAL] = { NULL },
	};
	static const char *const none[] = { NULL };
	size_t i;
	int where;

	(void)state;
	for (i = 0; i < NCANON; i++) {
		json_error_t err;
		json_t *root = json_loads(CANONICAL[i], 0, &err);
		assert_non_null(root);
		for (where = 0; where < 3; where++) {
			if (locate(root, where) != NULL)
				remove_each_member(root, where,
						   where == 0 ? optional[i] : none);
		}
		json_decref(root);
	}
	/* type-specific members say which type needs them */
	reject_message("\"text\":\"\"", "missing field \"subject\" in a message envelope");
	reject(HEAD("ack", "ROUTINE", "a") "}", "missing field \"refs\" in an ack envelope");
	reject("{}", "envelope: missing field \"v\"");
}

#define NKINDS 7
static const char *const kind_names[NKINDS] = {
	"a string", "an integer", "a real number", "a boolean", "null",
	"an array", "an object",
};

/* A value of each JSON type: string, integer, real, boolean, null, array,
 * object. */
static json_t *value_of_kind(int kind)
{
	switch (kind) {
	case 0: return json_string("s");
	case 1: return json_integer(7);
	case 2: return json_real(7.5);
	case 3: return json_true();
	case 4: return json_null();
	case 5: return json_array();
	default: return json_object();
	}
}

static int kind_of(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING: return 0;
	case JSON_INTEGER: return 1;
	case JSON_REAL: return 2;
	case JSON_TRUE:
	case JSON_FALSE: return 3;
	case JSON_NULL: return 4;
	case JSON_ARRAY: return 5;
	default: return 6;
	}
}

/* Each member (and the first element of each array member), given a value
 * of every other JSON type in turn, is reported by name. */
static void retype_each_member(const json_t *root, int where)
{
	const json_t *obj = locate((json_t *)root, where);
	char names[16][32];
	size_t n = member_names(obj, names, 16), i;

	for (i = 0; i < n; i++) {
		const json_t *value = json_object_get(obj, names[i]);
		char want[160];
		int kind;

		for (kind = 0; kind < NKINDS; kind++) {
			char *s;
			if (kind == kind_of(value))
				continue;
			s = probe(root, where, names[i], value_of_kind(kind));
			snprintf(want, sizeof want, "field \"%s%s\" must be %s, not %s",
				 where_prefix[where], names[i],
				 kind_names[kind_of(value)], kind_names[kind]);
			reject(s, want);
			free(s);
		}
		if (!json_is_array(value) || json_array_size(value) == 0)
			continue;
		for (kind = 0; kind < NKINDS; kind++) {
			json_t *arr;
			char *s;
			if (kind == kind_of(json_array_get(value, 0)))
				continue;
			arr = json_deep_copy(value);
			assert_non_null(arr);
			assert_int_equal(json_array_set_new(arr, 0, value_of_kind(kind)), 0);
			s = probe(root, where, names[i], arr);
			snprintf(want, sizeof want, "field \"%s%s[0]\" must be %s, not %s",
				 where_prefix[where], names[i],
				 kind_names[kind_of(json_array_get(value, 0))],
				 kind_names[kind]);
			reject(s, want);
			free(s);
		}
	}
}

static void test_a_field_of_the_wrong_json_type_is_named(void **state)
{
	size_t i;
	int where;

	(void)state;
	for (i = 0; i < NCANON; i++) {
		json_error_t err;
		json_t *root = json_loads(CANONICAL[i], 0, &err);
		assert_non_null(root);
		for (where = 0; where < 3; where++) {
			if (locate(root, where) != NULL)
				retype_each_member(root, where);
		}
		json_decref(root);
	}
	reject_replaced(MESSAGE, "\"from\":\"nrrc.us.example\"", "\"from\":[\"x\"]",
			"envelope: field \"from\" must be a string, not an array");
	reject_replaced(RECEIPT, "\"below\":17", "\"below\":true",
			"envelope: field \"below\" must be an integer, not a boolean");
	reject_message("\"subject\":\"\",\"text\":null",
		       "field \"text\" must be a string, not null");
}

/* ---- common fields ----------------------------------------------------- */

static void test_precedence_is_one_of_four_upper_case_names(void **state)
{
	static const char *const ok[] = { "FLASH", "IMMEDIATE", "PRIORITY", "ROUTINE" };
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		char to[32];
		snprintf(to, sizeof to, "\"precedence\":\"%s\"", ok[i]);
		accept_replaced(MESSAGE, "\"precedence\":\"FLASH\"", to);
	}
	reject_replaced(MESSAGE, "\"precedence\":\"FLASH\"", "\"precedence\":\"flash\"",
			"envelope: field \"precedence\" must be FLASH, IMMEDIATE, "
			"PRIORITY or ROUTINE, not \"flash\"");
	reject_replaced(MESSAGE, "\"precedence\":\"FLASH\"", "\"precedence\":\"URGENT\"",
			"not \"URGENT\"");
	reject_replaced(MESSAGE, "\"precedence\":\"FLASH\"", "\"precedence\":\"\"",
			"not \"\"");
	reject_replaced(MESSAGE, "\"precedence\":\"FLASH\"", "\"precedence\":0",
			"field \"precedence\" must be a string, not an integer");
}

static void accept_time(const char *t, int64_t want)
{
	char to[64], *s;
	struct envelope env;

	snprintf(to, sizeof to, "\"time\":\"%s\"", t);
	s = replace(MESSAGE, "\"time\":\"2026-03-01T12:00:00Z\"", to);
	parse_ok(&env, s);
	assert_int_equal(env.time, want);
	env_free(&env);
	free(s);
}

static void reject_time(const char *t, const char *want)
{
	char to[64];

	snprintf(to, sizeof to, "\"time\":\"%s\"", t);
	reject_replaced(MESSAGE, "\"time\":\"2026-03-01T12:00:00Z\"", to, want);
}

static void test_time_is_rfc3339_utc_to_the_second(void **state)
{
	static const char *const malformed[] = {
		"2026-03-01T12:00:00",       /* no Z */
		"2026-03-01T12:00:00z",      /* lower-case z */
		"2026-03-01t12:00:00Z",      /* lower-case t */
		"2026-03-01 12:00:00Z",      /* space for T */
		"2026-03-01T12:00:00.5Z",    /* fractional seconds */
		"2026-03-01T12:00:00.000Z",
		"2026-03-01T12:00:00+01:00", /* offset */
		"2026-03-01T12:00:00+00:00",
		"2026-03-01T12:00Z",         /* no seconds */
		"2026-3-01T12:00:00Z",
		"26-03-01T12:00:00Z",
		"+2026-03-01T12:00:00Z",
		"2026-03-01T12:00:00Z ",
		"2026-03-01",
		"",
	};
	static const char *const impossible[] = {
		"2026-02-29T00:00:00Z", /* 2026 is not a leap year */
		"1900-02-29T00:00:00Z", /* centuries are not, unless /400 */
		"2026-04-31T00:00:00Z",
		"2026-13-01T00:00:00Z",
		"2026-00-10T00:00:00Z",
		"2026-01-00T00:00:00Z",
		"2026-01-32T00:00:00Z",
		"2026-03-01T24:00:00Z",
		"2026-03-01T23:60:00Z",
		"2026-12-31T23:59:60Z", /* leap seconds are not written */
	};
	size_t i;

	(void)state;
	accept_time("2024-02-29T23:59:59Z", INT64_C(1709251199));
	accept_time("2000-02-29T00:00:00Z", INT64_C(951782400));
	accept_time("1970-01-01T00:00:00Z", 0);
	accept_time("1969-12-31T23:59:59Z", -1);
	accept_time("9999-12-31T23:59:59Z", INT64_C(253402300799));
	accept_time("0000-01-01T00:00:00Z", INT64_C(-62167219200));
	for (i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
		reject_time(malformed[i], "envelope: field \"time\" is not RFC 3339 UTC "
			    "(YYYY-MM-DDTHH:MM:SSZ)");
	for (i = 0; i < sizeof impossible / sizeof impossible[0]; i++) {
		char want[80];
		snprintf(want, sizeof want, "field \"time\" is not a real date and time: \"%s\"",
			 impossible[i]);
		reject_time(impossible[i], want);
	}
	reject_replaced(MESSAGE, "\"time\":\"2026-03-01T12:00:00Z\"", "\"time\":1772366400",
			"field \"time\" must be a string, not an integer");
}

static void test_time_conversion_matches_gmtime_across_the_range(void **state)
{
	uint64_t seed = 20260301;
	char out[ENV_TIME_LEN + 1];
	int64_t t, back;
	int i;

	(void)state;
	assert_int_equal(env_time_format(0, out), 0);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	assert_int_equal(env_time_format(T0, out), 0);
	assert_string_equal(out, "2026-03-01T12:00:00Z");
	assert_int_equal(env_time_format(-1, out), 0);
	assert_string_equal(out, "1969-12-31T23:59:59Z");
	assert_int_equal(env_time_format(INT64_C(-62167219200), out), 0);
	assert_string_equal(out, "0000-01-01T00:00:00Z");
	assert_int_equal(env_time_format(INT64_C(253402300799), out), 0);
	assert_string_equal(out, "9999-12-31T23:59:59Z");
	assert_int_equal(env_time_format(INT64_C(-62167219201), out), -1);
	assert_int_equal(env_time_format(INT64_C(253402300800), out), -1);
	assert_int_equal(env_time_format(INT64_MIN, out), -1);
	assert_int_equal(env_time_format(INT64_MAX, out), -1);
	assert_int_equal(env_time_parse("2026-03-01T12:00:00Z", &t), 0);
	assert_int_equal(t, T0);
	assert_int_equal(env_time_parse("2026-02-29T12:00:00Z", &t), -1);
	assert_int_equal(env_time_parse("2026-03-01T12:00:00+00:00", &t), -1);

	/* glibc's gmtime_r is an independent reference for years 0..9999 */
	for (i = 0; i < 200000; i++) {
		struct tm tm;
		time_t tt;
		char ref[64];
		t = INT64_C(-62167219200) +
		    (int64_t)tu_rand_below(&seed, UINT64_C(253402300799) + UINT64_C(62167219200) + 1);
		assert_int_equal(env_time_format(t, out), 0);
		tt = (time_t)t;
		assert_non_null(gmtime_r(&tt, &tm));
		snprintf(ref, sizeof ref, "%04d-%02d-%02dT%02d:%02d:%02dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec);
		assert_string_equal(out, ref);
		assert_int_equal(env_time_parse(out, &back), 0);
		assert_int_equal(back, t);
	}
}

static void test_names_are_printable_ascii_without_spaces_up_to_255_bytes(void **state)
{
	char name[300], to[320];

	(void)state;
	memset(name, 'n', 255);
	name[255] = '\0';
	snprintf(to, sizeof to, "\"from\":\"%s\"", name);
	accept_replaced(MESSAGE, "\"from\":\"nrrc.us.example\"", to);
	snprintf(to, sizeof to, "\"from\":\"%sn\"", name);
	reject_replaced(MESSAGE, "\"from\":\"nrrc.us.example\"", to,
			"envelope: field \"from\" is 256 bytes, over the limit of 255");
	snprintf(to, sizeof to, "\"to\":\"%sn\"", name);
	reject_replaced(MESSAGE, "\"to\":\"nrrc.ru.example\"", to,
			"field \"to\" is 256 bytes, over the limit of 255");
	reject_replaced(MESSAGE, "\"from\":\"nrrc.us.example\"", "\"from\":\"\"",
			"envelope: field \"from\" is empty");
	reject_replaced(MESSAGE, "\"to\":\"nrrc.ru.example\"", "\"to\":\"nrrc ru\"",
			"envelope: field \"to\" may hold only printable ASCII without "
			"spaces (byte 4 is 0x20)");
	reject_replaced(MESSAGE, "\"to\":\"nrrc.ru.example\"", "\"to\":\"r\xc3\xa9\"",
			"field \"to\" may hold only printable ASCII without spaces (byte 1 is 0xc3)");
	reject_replaced(MESSAGE, "\"to\":\"nrrc.ru.example\"", "\"to\":\"a\\tb\"",
			"(byte 1 is 0x09)");
	reject_replaced(MESSAGE, "\"to\":\"nrrc.ru.example\"", "\"to\":\"a\x7f\"",
			"(byte 1 is 0x7f)");
	accept_replaced(MESSAGE, "\"to\":\"nrrc.ru.example\"", "\"to\":\"!~\"");
}

static void test_id_is_1_to_128_printable_characters_without_spaces(void **state)
{
	char id[200], to[220];

	(void)state;
	memset(id, 'i', 128);
	id[128] = '\0';
	snprintf(to, sizeof to, "\"id\":\"%s\"", id);
	accept_replaced(MESSAGE, "\"id\":\"msg-0001\"", to);
	snprintf(to, sizeof to, "\"id\":\"%si\"", id);
	reject_replaced(MESSAGE, "\"id\":\"msg-0001\"", to,
			"envelope: field \"id\" is 129 bytes, over the limit of 128");
	reject_replaced(MESSAGE, "\"id\":\"msg-0001\"", "\"id\":\"msg 0001\"",
			"envelope: field \"id\" may hold only printable ASCII without spaces");
	reject_replaced(MESSAGE, "\"id\":\"msg-0001\"", "\"id\":\"\"",
			"field \"id\" is empty");
	reject_replaced(MESSAGE, "\"id\":\"msg-0001\"", "\"id\":\"a\\u0001\"",
			"field \"id\" may hold only printable ASCII");
}

/* ---- per type ------------------------------------------------------------ */

static void test_message_subject_is_at_most_256_bytes(void **state)
{
	char members[400];
	char subject[300];

	(void)state;
	memset(subject, 's', 256);
	subject[256] = '\0';
	snprintf(members, sizeof members, "\"subject\":\"%s\",\"text\":\"\"", subject);
	accept_message(members);
	snprintf(members, sizeof members, "\"subject\":\"%ss\",\"text\":\"\"", subject);
	reject_message(members, "envelope: field \"subject\" is 257 bytes, over the limit of 256");
	/* bytes, not characters: 128 two-byte characters are 256 bytes */
	{
		char u[300] = "";
		int i;
		for (i = 0; i < 128; i++)
			strcat(u, "\xc3\xa9");
		snprintf(members, sizeof members, "\"subject\":\"%s\",\"text\":\"\"", u);
		accept_message(members);
		snprintf(members, sizeof members, "\"subject\":\"%s!\",\"text\":\"\"", u);
		reject_message(members, "field \"subject\" is 257 bytes");
	}
}

static void test_refs_hold_1_to_64_well_formed_refs(void **state)
{
	char *members, *p;
	const char *ref = REF(RU_LOG, "9007199254740991", LEAF_B64);
	size_t cap = 70 * (strlen(ref) + 1) + 64;
	int i;

	(void)state;
	reject_message("\"subject\":\"\",\"text\":\"\",\"refs\":[]",
		       "envelope: field \"refs\" must hold 1..64 refs, not 0");
	reject(HEAD("ack", "ROUTINE", "a") ",\"refs\":[]}",
	       "field \"refs\" must hold 1..64 refs, not 0");
	members = malloc(cap);
	assert_non_null(members);
	for (i = 64; i <= 65; i++) {
		int k;
		p = members;
		p += sprintf(p, "\"subject\":\"\",\"text\":\"\",\"refs\":[");
		for (k = 0; k < i; k++)
			p += sprintf(p, "%s%s", k ? "," : "", ref);
		strcpy(p, "]");
		if (i == 64)
			accept_message(members);
		else
			reject_message(members, "field \"refs\" must hold 1..64 refs, not 65");
	}
	free(members);

	reject_replaced(MESSAGE, "\"origin\":\"" RU_LOG "\"", "\"origin\":\"\"",
			"envelope: field \"refs[0].origin\" is empty");
	reject_replaced(MESSAGE, "\"origin\":\"" RU_LOG "\"", "\"origin\":\"a b\"",
			"field \"refs[0].origin\" may hold only printable ASCII");
	reject_replaced(ACK, REF(RU_LOG, "0", LEAF2_B64), "[]",
			"envelope: field \"refs[1]\" must be an object, not an array");
}

static void test_leaf_is_strict_base64_of_32_bytes(void **state)
{
	static const char *const bad[] = {
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",   /* 31 bytes */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",   /* 33 bytes */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",    /* no padding */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=",   /* non-zero spare bits */
		"47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=",   /* URL alphabet */
		"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\\n",
		"",
		SHA_HEX,
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char to[128];
		snprintf(to, sizeof to, "\"leaf\":\"%s\"", bad[i]);
		reject_replaced(MESSAGE, "\"leaf\":\"" LEAF_B64 "\"", to,
				"envelope: field \"refs[0].leaf\" must be standard base64 "
				"of a 32-byte leaf hash");
	}
}

static void test_hashes_and_seeds_are_64_lowercase_hex_digits(void **state)
{
	(void)state;
	reject_replaced(NOTIFICATION, SHA_HEX, SHA_HEX "0",
			"envelope: field \"treaty.sha256\" must be 64 lowercase hex "
			"digits, not 65 characters");
	reject_replaced(NOTIFICATION, SHA_HEX, "e3b0",
			"field \"treaty.sha256\" must be 64 lowercase hex digits, not 4 characters");
	reject_replaced(NOTIFICATION, SHA_HEX,
			"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
			"field \"treaty.sha256\" must be 64 lowercase hex digits");
	reject_replaced(SEED_COMMIT, "\"commit\":\"1", "\"commit\":\"g",
			"envelope: field \"commit\" must be 64 lowercase hex digits");
	reject_replaced(SEED_COMMIT, "\"commit\":\"1", "\"commit\":\"",
			"field \"commit\" must be 64 lowercase hex digits, not 63 characters");
	reject_replaced(SEED_REVEAL, "\"seed\":\"00", "\"seed\":\"0A",
			"envelope: field \"seed\" must be 64 lowercase hex digits");
}

static void test_notification_needs_treaty_kind_and_an_object_of_fields(void **state)
{
	char to[200], name[140];

	(void)state;
	memset(name, 't', 127);
	name[127] = '\0';
	snprintf(to, sizeof to, "\"name\":\"%s\"", name);
	accept_replaced(NOTIFICATION, "\"name\":\"new-start\"", to);
	snprintf(to, sizeof to, "\"name\":\"%st\"", name);
	reject_replaced(NOTIFICATION, "\"name\":\"new-start\"", to,
			"envelope: field \"treaty.name\" is 128 bytes, over the limit of 127");
	reject_replaced(NOTIFICATION, "\"kind\":\"launch-notice\"", "\"kind\":\"\"",
			"envelope: field \"kind\" is empty");
	memset(name, 'k', 65);
	name[65] = '\0';
	snprintf(to, sizeof to, "\"kind\":\"%s\"", name);
	reject_replaced(NOTIFICATION, "\"kind\":\"launch-notice\"", to,
			"field \"kind\" is 65 bytes, over the limit of 64");
	reject_replaced(NOTIFICATION, "\"fields\":{\"system\":\"ICBM\",\"count\":1,"
			"\"window\":{\"from\":\"2026-03-02T00:00:00Z\",\"to\":\"2026-03-02T06:00:00Z\"}}",
			"\"fields\":[]", "envelope: field \"fields\" must be an object, not an array");
	accept_replaced(NOTIFICATION, "\"fields\":{\"system\":\"ICBM\",\"count\":1,"
			"\"window\":{\"from\":\"2026-03-02T00:00:00Z\",\"to\":\"2026-03-02T06:00:00Z\"}}",
			"\"fields\":{}");
	/* what is inside fields is the treaty engine's business */
	accept_replaced(NOTIFICATION, "\"count\":1", "\"count\":1.5,\"any\":[null,true,{}]");
}

static void test_receipt_also_is_distinct_increasing_and_not_below_n(void **state)
{
	char *members, *p;
	int i;

	(void)state;
	accept_replaced(RECEIPT, "\"also\":[19,23]", "\"also\":[]");
	accept_replaced(RECEIPT, "\"also\":[19,23]", "\"also\":[17]"); /* >= N */
	accept_replaced(RECEIPT, "\"below\":17,\"also\":[19,23]", "\"below\":0,\"also\":[0,5]");
	reject_replaced(RECEIPT, "\"also\":[19,23]", "\"also\":[23,19]",
			"envelope: field \"also[1]\" is 19, not above the index before it "
			"(23): \"also\" must be distinct and increasing");
	reject_replaced(RECEIPT, "\"also\":[19,23]", "\"also\":[19,19]",
			"field \"also[1]\" is 19, not above the index before it (19)");
	reject_replaced(RECEIPT, "\"also\":[19,23]", "\"also\":[16,23]",
			"envelope: field \"also[0]\" is 16, below \"below\" (17)");
	reject_replaced(RECEIPT, "\"also\":[19,23]", "\"also\":[19,23.0]",
			"field \"also[1]\" must be an integer, not a real number");
	reject_replaced(RECEIPT, "\"also\":[19,23]", "\"also\":[19,-1]",
			"field \"also[1]\" is -1, outside 0..2^53-1");
	reject_replaced(RECEIPT, "\"of\":\"" RU_LOG "\"", "\"of\":\"\"",
			"envelope: field \"of\" is empty");

	/* at most 4096 indices */
	members = malloc(4097 * 8 + 64);
	assert_non_null(members);
	p = members + sprintf(members, "\"also\":[");
	for (i = 0; i < 4097; i++)
		p += sprintf(p, "%s%d", i ? "," : "", 100 + i);
	strcpy(p, "]");
	reject_replaced(RECEIPT, "\"also\":[19,23]", members,
			"envelope: field \"also\" holds 4097 indices, over the limit of 4096");
	/* and 4096 fit */
	strcpy(strrchr(members, ','), "]");
	accept_replaced(RECEIPT, "\"also\":[19,23]", members);
	free(members);
}

/* ---- names and helpers ------------------------------------------------- */

static void test_type_and_precedence_names_round_trip(void **state)
{
	enum env_type t;
	enum env_prec p;
	int i;

	(void)state;
	for (i = ENV_MESSAGE; i <= ENV_SEED_REVEAL; i++) {
		assert_int_equal(env_type_parse(env_type_name((enum env_type)i), &t), 0);
		assert_int_equal(t, i);
	}
	for (i = ENV_FLASH; i <= ENV_ROUTINE; i++) {
		assert_int_equal(env_prec_parse(env_prec_name((enum env_prec)i), &p), 0);
		assert_int_equal(p, i);
	}
	assert_string_equal(env_type_name(ENV_SEED_COMMIT), "seed-commit");
	assert_string_equal(env_prec_name(ENV_IMMEDIATE), "IMMEDIATE");
	assert_null(env_type_name((enum env_type)7));
	assert_null(env_prec_name((enum env_prec)4));
	assert_int_equal(env_prec_parse("flash", &p), -1);
	assert_int_equal(env_prec_parse("", &p), -1);
	assert_int_equal(env_type_parse("seed", &t), -1);
	/* lower is more urgent */
	assert_true(ENV_FLASH < ENV_IMMEDIATE && ENV_IMMEDIATE < ENV_PRIORITY &&
		    ENV_PRIORITY < ENV_ROUTINE);
}

static void test_receipts_and_acks_are_not_receipted(void **state)
{
	(void)state;
	assert_true(env_needs_receipt(ENV_MESSAGE));
	assert_true(env_needs_receipt(ENV_NOTIFICATION));
	assert_true(env_needs_receipt(ENV_TEST));
	assert_true(env_needs_receipt(ENV_SEED_COMMIT));
	assert_true(env_needs_receipt(ENV_SEED_REVEAL));
	assert_false(env_needs_receipt(ENV_RECEIPT));
	assert_false(env_needs_receipt(ENV_ACK));
}

static void test_errors_quote_hostile_text_safely(void **state)
{
	char key[400], members[500];
	struct envelope env;
	struct perr e;

	(void)state;
	memset(key, 'k', 300);
	key[300] = '\0';
	snprintf(members, sizeof members, "\"subject\":\"\",\"text\":\"\",\"%s\\n\":1", key);
	{
		char *s = message_with(members);
		assert_int_equal(parse_exact(&env, s, strlen(s), &e), -1);
		assert_non_null(strstr(e.msg, "unexpected field \"kkkk"));
		assert_non_null(strstr(e.msg, "...\" in a message envelope"));
		assert_true(strlen(e.msg) < 160);
		free(s);
	}
	/* NULL error buffer is allowed */
	assert_int_equal(env_parse(&env, "[]", 2, NULL), -1);
}


/* Messages are encoded by a direct writer (the bulk path); its bytes must
 * be exactly jansson's compact encoding of the canonical object, for any
 * text: quotes, backslashes, every control character, DEL, multi-byte
 * UTF-8.  And what is not valid UTF-8 is still refused. */
static void rnd_str(char *out, size_t n, unsigned *seed, int token)
{
	static const char *const pieces[] = { "\"", "\\", "\x01", "\x1f", "\n", "\t",
		"\x7f", "/", "\xc3\xa9", "\xe2\x80\xa8", "\xf0\x9f\x98\x80", "a", "Z", " " };
	size_t k = 0;

	while (k + 5 < n) {
		const char *p;
		if (token) {
			out[k++] = (char)(0x21 + rand_r(seed) % 94);
			if (rand_r(seed) % 8 == 0)
				break;
			continue;
		}
		p = pieces[rand_r(seed) % (sizeof pieces / sizeof pieces[0])];
		memcpy(out + k, p, strlen(p));
		k += strlen(p);
		if (rand_r(seed) % 16 == 0)
			break;
	}
	if (token && k == 0)
		out[k++] = 'x';
	out[k] = '\0';
}

/* Text for the parse test: half the time rnd_str's (control characters,
 * UTF-8: mostly the general path's), half printable ASCII with the short
 * escapes' characters (mostly the fast path's). */
static void rnd_text(char *out, size_t n, unsigned *seed)
{
	static const char extra[] = "\"\\\n\t/";
	size_t k = 0, len;

	if (rand_r(seed) % 2) {
		rnd_str(out, n, seed, 0);
		return;
	}
	len = (size_t)rand_r(seed) % (n - 1);
	while (k < len)
		out[k++] = rand_r(seed) % 10 ? (char)(0x20 + rand_r(seed) % 95)
					     : extra[rand_r(seed) % (sizeof extra - 1)];
	out[k] = '\0';
}

/* A random message envelope, its strings in b.  Text and subject from
 * rnd_text when mixed, else from rnd_str. */
struct rnd_msg {
	char from[40], to[40], id[40], subject[200], text[600];
};

static void rnd_message(struct envelope *env, struct rnd_msg *b, unsigned *seed, int mixed)
{
	rnd_str(b->from, sizeof b->from, seed, 1);
	rnd_str(b->to, sizeof b->to, seed, 1);
	rnd_str(b->id, sizeof b->id, seed, 1);
	if (mixed) {
		rnd_text(b->subject, sizeof b->subject, seed);
		rnd_text(b->text, sizeof b->text, seed);
	} else {
		rnd_str(b->subject, sizeof b->subject, seed, 0);
		rnd_str(b->text, sizeof b->text, seed, 0);
	}
	memset(env, 0, sizeof *env);
	env->type = ENV_MESSAGE;
	env->prec = (enum env_prec)(rand_r(seed) % 4);
	env->time = (int64_t)(rand_r(seed) % 2000000000);
	snprintf(env->from, sizeof env->from, "%s", b->from);
	snprintf(env->to, sizeof env->to, "%s", b->to);
	snprintf(env->id, sizeof env->id, "%s", b->id);
	env->subject = b->subject;
	env->text = b->text;
}

static void expect_same_envelope(const struct envelope *a, const struct envelope *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->prec, b->prec);
	assert_int_equal(a->time, b->time);
	assert_string_equal(a->from, b->from);
	assert_string_equal(a->to, b->to);
	assert_string_equal(a->id, b->id);
	assert_string_equal(a->subject, b->subject);
	assert_string_equal(a->text, b->text);
	assert_int_equal(a->nrefs, b->nrefs);
	assert_int_equal(b->nrefs, 0);
	assert_null(b->fields);
}

/* Messages as env_encode writes them, then mutated (a byte replaced by one
 * that matters to JSON or to a field's rules, deleted, or doubled): what
 * the fast path accepts, the general path accepts with the same fields,
 * and env_parse says what the general path says.  More than one input in
 * ten must take the fast path, mutated ones among them, or the test proves
 * little. */
static void test_message_fast_parse_reads_as_general(void **state)
{
	static const char bytes[] = "\"\\,:{} 09ZT-anu\x7f\x80\n\x01";
	unsigned seed = 20261127;
	size_t fast = 0, total = 0;
	int i, m, k;

	(void)state;
	for (i = 0; i < 2000; i++) {
		struct envelope env;
		struct rnd_msg b;
		char *out, buf[2048];
		size_t len, blen;
		struct perr e;

		rnd_message(&env, &b, &seed, 1);
		if (env_encode(&env, &out, &len, &e) != 0)
			continue;           /* a subject over its limit */
		assert_true(len + 2 < sizeof buf);
		for (m = 0; m < 12; m++) {
			struct envelope f, g, p;
			int fr, gr, pr;

			memcpy(buf, out, len);
			blen = len;
			for (k = 0; m > 0 && k < 1 + rand_r(&seed) % 3; k++) {
				size_t at = (size_t)rand_r(&seed) % blen;
				switch (rand_r(&seed) % 3) {
				case 0:
					buf[at] = bytes[rand_r(&seed) % (sizeof bytes - 1)];
					break;
				case 1:
					memmove(buf + at, buf + at + 1, blen - at - 1);
					blen--;
					break;
				default:
					memmove(buf + at + 1, buf + at, blen - at);
					blen++;
				}
			}
			fr = env_parse_message_fast(&f, buf, blen);
			gr = env_parse_general(&g, buf, blen, &e);
			pr = env_parse(&p, buf, blen, &e);
			assert_int_equal(pr, gr);
			if (fr) {
				assert_int_equal(gr, 0);
				expect_same_envelope(&f, &g);
				fast++;
			}
			if (gr == 0)
				expect_same_envelope(&p, &g);
			total++;
			env_free(&f);
			env_free(&g);
			env_free(&p);
		}
		free(out);
	}
	assert_true(fast * 10 > total);     /* 3,130 of 24,000 when written */

	/* One rule broken at a time in an otherwise canonical message: the
	 * fast path declines, the general path refuses. */
	{
		static const char *const bad[][2] = {
			{ "from", "\"a b\"" }, { "to", "\"\"" }, { "id", "\"x\\ty\"" },
			{ "time", "\"2026-02-30T00:00:00Z\"" }, { "time", "\"2026-11-26 10:00:00\"" },
			{ "precedence", "\"URGENT\"" }, { "subject", NULL }, { "id", NULL },
			{ "(none: the control, which both accept)", "" },
		};
		char msg[1024], longs[300];
		struct envelope f, g;
		struct perr e;
		size_t b;

		for (b = 0; b < sizeof bad / sizeof bad[0]; b++) {
			const char *fl[7][2] = {
				{ "from", "\"a\"" }, { "to", "\"b\"" }, { "time", "\"2026-11-26T10:00:00Z\"" },
				{ "precedence", "\"FLASH\"" }, { "id", "\"k\"" }, { "subject", "\"s\"" },
				{ "text", "\"t\"" },
			};
			size_t at, j;

			for (j = 0; j < 7; j++)
				if (strcmp(fl[j][0], bad[b][0]) == 0) {
					if (bad[b][1] == NULL) {
						/* over the limit: subject 257 bytes, id 129 */
						size_t n = strcmp(bad[b][0], "subject") == 0
							   ? ENV_SUBJECT_MAX + 1 : ENV_ID_MAX + 1;
						longs[0] = '"';
						memset(longs + 1, 'x', n);
						longs[n + 1] = '"';
						longs[n + 2] = '\0';
						fl[j][1] = longs;
					} else {
						fl[j][1] = bad[b][1];
					}
				}
			at = (size_t)snprintf(msg, sizeof msg, "{\"v\":1,\"type\":\"message\"");
			for (j = 0; j < 7; j++)
				at += (size_t)snprintf(msg + at, sizeof msg - at, ",\"%s\":%s",
						       fl[j][0], fl[j][1]);
			at += (size_t)snprintf(msg + at, sizeof msg - at, "}");
			if (bad[b][0][0] == '(') {
				assert_int_equal(env_parse_message_fast(&f, msg, at), 1);
				assert_int_equal(env_parse_general(&g, msg, at, &e), 0);
				expect_same_envelope(&f, &g);
				env_free(&f);
				env_free(&g);
				continue;
			}
			assert_int_equal(env_parse_message_fast(&f, msg, at), 0);
			assert_int_equal(env_parse_general(&g, msg, at, &e), -1);
			assert_non_null(strstr(e.msg, bad[b][0]));
		}
	}
}

static void test_message_fast_path_writes_jansson_bytes(void **state)
{
	unsigned seed = 20261126;
	int i;

	(void)state;
	for (i = 0; i < 3000; i++) {
		struct envelope env, back;
		struct rnd_msg b;
		const char *from = b.from, *to = b.to, *id = b.id, *subject = b.subject,
			   *text = b.text;
		char when[ENV_TIME_LEN + 1], *out, *ref;
		size_t len;
		struct perr e;
		json_t *o;

		rnd_message(&env, &b, &seed, 0);
		assert_int_equal(env_encode(&env, &out, &len, &e), 0);
		env_time_format(env.time, when);
		o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "v", 1, "type",
			      "message", "from", from, "to", to, "time", when, "precedence",
			      env_prec_name(env.prec), "id", id, "subject", subject, "text", text);
		assert_non_null(o);
		ref = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		assert_non_null(ref);
		assert_int_equal(len, strlen(ref));
		assert_memory_equal(out, ref, len);
		assert_int_equal(env_parse(&back, out, len, &e), 0);
		assert_string_equal(back.text, text);
		assert_string_equal(back.subject, subject);
		env_free(&back);
		free(ref);
		free(out);
		json_decref(o);
	}
	{
		/* Not UTF-8: refused by the general path's error, not encoded. */
		struct envelope env;
		char *out;
		size_t len;
		struct perr e;
		static const char *const bad[] = { "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
			"\xe2\x82", "\x80", "\xff" };
		for (i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
			memset(&env, 0, sizeof env);
			env.type = ENV_MESSAGE;
			snprintf(env.from, sizeof env.from, "a.example");
			snprintf(env.to, sizeof env.to, "b.example");
			snprintf(env.id, sizeof env.id, "x");
			env.subject = "";
			env.text = (char *)bad[i];
			assert_int_equal(env_encode(&env, &out, &len, &e), -1);
			assert_non_null(strstr(e.msg, "UTF-8"));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_canonical_envelope_reencodes_to_the_same_bytes),
		cmocka_unit_test(test_message_parses_into_its_fields),
		cmocka_unit_test(test_notification_keeps_fields_as_json),
		cmocka_unit_test(test_receipt_parses_below_and_also),
		cmocka_unit_test(test_ack_test_and_seed_envelopes_parse_into_their_fields),
		cmocka_unit_test(test_each_type_built_in_code_round_trips),
		cmocka_unit_test(test_encoding_is_compact_in_fixed_key_order),
		cmocka_unit_test(test_encoding_refuses_what_would_not_parse),
		cmocka_unit_test(test_duplicate_keys_are_rejected_at_any_depth),
		cmocka_unit_test(test_only_one_json_object_and_nothing_after_it),
		cmocka_unit_test(test_input_over_65535_bytes_is_rejected),
		cmocka_unit_test(test_nesting_deeper_than_16_is_rejected),
		cmocka_unit_test(test_invalid_utf8_is_rejected),
		cmocka_unit_test(test_nul_inside_a_string_is_rejected),
		cmocka_unit_test(test_integers_must_be_json_integers_in_range),
		cmocka_unit_test(test_only_version_1_is_read),
		cmocka_unit_test(test_unknown_types_are_rejected_by_name),
		cmocka_unit_test(test_unexpected_fields_are_rejected_by_name),
		cmocka_unit_test(test_a_missing_required_field_is_named),
		cmocka_unit_test(test_a_field_of_the_wrong_json_type_is_named),
		cmocka_unit_test(test_precedence_is_one_of_four_upper_case_names),
		cmocka_unit_test(test_time_is_rfc3339_utc_to_the_second),
		cmocka_unit_test(test_time_conversion_matches_gmtime_across_the_range),
		cmocka_unit_test(test_names_are_printable_ascii_without_spaces_up_to_255_bytes),
		cmocka_unit_test(test_id_is_1_to_128_printable_characters_without_spaces),
		cmocka_unit_test(test_message_subject_is_at_most_256_bytes),
		cmocka_unit_test(test_refs_hold_1_to_64_well_formed_refs),
		cmocka_unit_test(test_leaf_is_strict_base64_of_32_bytes),
		cmocka_unit_test(test_hashes_and_seeds_are_64_lowercase_hex_digits),
		cmocka_unit_test(test_notification_needs_treaty_kind_and_an_object_of_fields),
		cmocka_unit_test(test_receipt_also_is_distinct_increasing_and_not_below_n),
		cmocka_unit_test(test_type_and_precedence_names_round_trip),
		cmocka_unit_test(test_receipts_and_acks_are_not_receipted),
		cmocka_unit_test(test_errors_quote_hostile_text_safely),
		cmocka_unit_test(test_message_fast_path_writes_jansson_bytes),
		cmocka_unit_test(test_message_fast_parse_reads_as_general),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
