/*
 * api.c — the node's HTTP server (DESIGN, "api"): the operator's JSON API
 * and each log in C2SP form.
 *
 *   POST /api/send     {"to", "messages": [{"precedence", "subject", "text",
 *                      "id"}...]} -> {"entries": [{"origin", "index",
 *                      "duplicate"}...]}, answered once durable
 *   POST /api/ack      {"origin", "index"} -> the ack entry
 *   GET  /api/inbox, /api/outbox, /api/status, /api/alarms (all under /api)
 *   GET  /logs/<origin>/checkpoint, /logs/<origin>/tile/<L>/<N>[.p/<W>]
 *        public; /logs/<origin>/tile/entries/<N>[.p/<W>] needs the auditor
 *        (or operator) token: content is confidential unless both parties
 *        agree (DESIGN, "api").
 *
 * Everything under /api/ needs "Authorization: Bearer <DIR/api.token>".  Errors are JSON
 * {"error": "..."} with a status that says whose fault it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include "b64.h"
#include "jsonfast.h"
#include "nodeint.h"
#include "tile.h"

#define API_MAX_BODY (64 << 20)
#define API_MAX_MESSAGES 100000

static void api_json(struct evhttp_request *req, int code, json_t *j)
{
	struct evbuffer *b = evbuffer_new();
	char *s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	if (s) {
		evbuffer_add(b, s, strlen(s));
		evbuffer_add(b, "\n", 1);
	}
	free(s);
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", b);
	evbuffer_free(b);
}

static void api_error(struct evhttp_request *req, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void api_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
	char msg[PERR_MAX + 128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	api_json(req, code, json_pack("{s:s}", "error", msg));
}

/* Constant-time token check against "Bearer <token>". */
static int api_token_ok(struct evhttp_request *req, const char *token)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req),
					   "Authorization");
	size_t tl = strlen(token);

	if (h == NULL || strncmp(h, "Bearer ", 7) != 0 || strlen(h + 7) != tl)
		return 0;
	return CRYPTO_memcmp(h + 7, token, tl) == 0;
}

static json_t *api_body(struct evhttp_request *req, char *err, size_t cap)
{
	struct evbuffer *b = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(b);
	json_error_t je;
	json_t *j;

	const char *text = (const char *)evbuffer_pullup(b, (ev_ssize_t)len);

	/* a bulk submission is mostly plain JSON: the fast path (jsonfast.h),
	 * else jansson, which also words the error */
	j = jfast_parse(text, len, 64);
	if (j == NULL)
		j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL || !json_is_object(j)) {
		snprintf(err, cap, "request body is not a JSON object%s%s",
			 j ? "" : ": ", j ? "" : je.text);
		json_decref(j);
		return NULL;
	}
	return j;
}

static void api_time(char out[ENV_TIME_LEN + 1], int64_t ms)
{
	env_time_format(ms / 1000, out);
}

static json_t *api_time_json(int64_t ms)
{
	char t[ENV_TIME_LEN + 1];
	api_time(t, ms);
	return json_string(t);
}

/* ---- submissions ------------------------------------------------------ */

/* JSON's escapes for a string we wrote ourselves (names are printable
 * ASCII, so only '"' and '\\' can need one). */
static void api_put_str(struct evbuffer *b, const char *s)
{
	const char *p;

	evbuffer_add(b, "\"", 1);
	while ((p = strpbrk(s, "\"\\")) != NULL) {
		evbuffer_add(b, s, (size_t)(p - s));
		evbuffer_add(b, p[0] == '"' ? "\\\"" : "\\\\", 2);
		s = p + 1;
	}
	evbuffer_add(b, s, strlen(s));
	evbuffer_add(b, "\"", 1);
}

/*
 * {"entries": [{"origin", "index", "duplicate"}...]}: written directly,
 * not through a jansson tree, since a bulk request's reply has one object
 * per message and building the tree was a twelfth of the sending node's
 * work (bench/node profile).
 */
static void api_reply_entries(struct api_req *r)
{
	struct evbuffer *b = evbuffer_new();
	char num[64];

	evbuffer_add(b, "{\"entries\":[", strlen("{\"entries\":["));
	for (size_t i = 0; i < r->nsubs; i++) {
		struct sub *s = r->subs[i];
		const char *open = i ? ",{\"origin\":" : "{\"origin\":";
		evbuffer_add(b, open, strlen(open));
		api_put_str(b, s->p->out_origin);
		snprintf(num, sizeof num, ",\"index\":%llu,\"duplicate\":%s}",
			 (unsigned long long)s->idx, s->dup ? "true" : "false");
		evbuffer_add(b, num, strlen(num));
	}
	evbuffer_add(b, "]}\n", strlen("]}\n"));
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type",
			  "application/json");
	evhttp_send_reply(r->req, 200, "OK", b);
	evbuffer_free(b);
}

void api_reply_req(struct node *n, struct api_req *r)
{
	size_t i;
	json_t *arr;

	(void)n;
	if (r->failed && r->tr_peer != NULL)
		ntreaty_stale(r->tr_peer);
	if (r->failed) {
		/* A bulk request is committed in slices: say which were stored
		 * (retrying with the same ids stores the rest, once). */
		size_t k = 0;
		arr = json_array();
		for (i = 0; i < r->nsubs; i++)
			if (r->subs[i]->committed) {
				struct sub *s = r->subs[i];
				json_array_append_new(arr, json_pack("{s:s, s:I, s:b}", "origin",
								     s->p->out_origin, "index",
								     (json_int_t)s->idx, "duplicate",
								     s->dup));
				k++;
			}
		char msg[PERR_MAX + 128];
		if (k)
			snprintf(msg, sizeof msg, "not stored: %s (the first %zu of %zu "
				 "messages were stored)", r->err, k, r->nsubs);
		else
			snprintf(msg, sizeof msg, "not stored: %s", r->err);
		api_json(r->req, 507, json_pack("{s:s, s:o}", "error", msg, "stored", arr));
	} else {
		api_reply_entries(r);
	}
	for (i = 0; i < r->nsubs; i++) {
		free(r->subs[i]->ent);
		free(r->subs[i]);
	}
	free(r->subs);
	free(r);
}

static struct api_req *api_req_new(struct node *n, struct evhttp_request *req,
				   size_t nsubs)
{
	struct api_req *r = calloc(1, sizeof *r);

	if (r == NULL)
		return NULL;
	r->subs = calloc(nsubs ? nsubs : 1, sizeof *r->subs);
	if (r->subs == NULL) {
		free(r);
		return NULL;
	}
	r->req = req;
	r->nsubs = nsubs;
	r->next = n->reqs;
	n->reqs = r;
	return r;
}

static void api_random_id(char *out)
{
	uint8_t b[12];
	static const char hx[] = "0123456789abcdef";
	int i;

	RAND_bytes(b, sizeof b);
	for (i = 0; i < 12; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[24] = '\0';
}

/* Builds every envelope first, so a bad message refuses the whole request
 * before anything is queued. */
/*
 * POST /api/send.  A bulk request (up to API_MAX_MESSAGES) is read and
 * encoded API_CHUNK messages per turn of the loop, so that a FLASH, an ACK
 * or a receipt waits for at most one chunk, not for the whole request
 * (bench/node: a request of 5,000 took over 20 ms in one turn).  Nothing of
 * it is queued before every message is read and encoded: one bad message
 * refuses the whole request.  The body's outline ({"to", "messages": [...]})
 * is found by a scan that takes only plain bodies; any other body is read
 * whole by api_body (jansson words its errors).
 */
#define API_CHUNK 250

struct api_bulk {
	struct node *n;
	struct evhttp_request *req;
	struct npeer *p;
	const char *cur, *end;   /* the messages not yet read (chunked) */
	json_t *tree;            /* the whole body (not chunked) */
	size_t cnt, done;
	char **ents;
	size_t *lens;
	struct envelope *envs;
	unsigned char *keyed;
	char *buf;               /* a message's strings, unescaped */
	size_t bufcap;
	char rid[32];
	struct event *ev;
	struct api_bulk *next;   /* n's bulks being read */
};

static void api_bulk_free(struct api_bulk *b)
{
	struct api_bulk **pp;

	for (pp = &b->n->bulks; *pp; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	for (size_t i = 0; b->ents && i < b->cnt; i++)
		free(b->ents[i]);
	free(b->ents);
	free(b->lens);
	free(b->envs);
	free(b->keyed);
	free(b->buf);
	json_decref(b->tree);
	if (b->ev)
		event_free(b->ev);
	free(b);
}

/* A message's fields (NULL: absent or not a string). */
struct api_msg {
	const char *prec, *subj, *text, *id;
	int is_object;
};

/* Message i: checked and encoded into b; 0, or -1 with the error reply
 * sent. */
static int api_bulk_msg(struct api_bulk *b, const struct api_msg *m, size_t i)
{
	struct envelope *env = &b->envs[i];
	const char *prec = m->prec, *subj = m->subj, *text = m->text, *id = m->id;
	struct perr e;

	if (!m->is_object || text == NULL) {
		api_error(b->req, 400, "message %zu: needs a \"text\" string", i);
		return -1;
	}
	env->type = ENV_MESSAGE;
	env->prec = ENV_ROUTINE;
	if (prec && env_prec_parse(prec, &env->prec) != 0) {
		api_error(b->req, 400, "message %zu: precedence \"%.20s\" is not FLASH, "
			  "IMMEDIATE, PRIORITY or ROUTINE", i, prec);
		return -1;
	}
	if (id == NULL) {
		/* One random key per request, numbered per message. */
		if (b->rid[0] == '\0')
			api_random_id(b->rid);
		snprintf(env->id, sizeof env->id, "%s-%zu", b->rid, i);
	} else if (strlen(id) > ENV_ID_MAX) {
		api_error(b->req, 400, "message %zu: id longer than %d", i, ENV_ID_MAX);
		return -1;
	} else {
		snprintf(env->id, sizeof env->id, "%s", id);
	}
	b->keyed[i] = id != NULL;
	env->subject = (char *)(subj ? subj : "");
	env->text = (char *)text;
	snprintf(env->from, sizeof env->from, "%s", b->n->conf.name);
	snprintf(env->to, sizeof env->to, "%s", b->p->card.name);
	env->time = node_now_ms() / 1000;
	if (env_encode(env, &b->ents[i], &b->lens[i], &e) != 0) {
		api_error(b->req, 400, "message %zu: %s", i, e.msg);
		return -1;
	}
	env->subject = env->text = NULL; /* m's, freed with it */
	return 0;
}

static int api_bulk_msg_json(struct api_bulk *b, json_t *m, size_t i)
{
	struct api_msg f = {
		json_string_value(json_object_get(m, "precedence")),
		json_string_value(json_object_get(m, "subject")),
		json_string_value(json_object_get(m, "text")),
		json_string_value(json_object_get(m, "id")),
		json_is_object(m),
	};

	return api_bulk_msg(b, &f, i);
}

/* The common message, read without a tree (jsonfast.h); -1: read it with
 * jfast_parse or jansson. */
static int api_msg_fast(const char *s, const char *end, char *buf, size_t cap,
			struct api_msg *m)
{
	static const char *const keys[4] = { "precedence", "subject", "text", "id" };
	const char *v[4];

	if (jfast_strings(s, (size_t)(end - s), keys, 4, buf, cap, v) != 0)
		return -1;
	m->prec = v[0];
	m->subj = v[1];
	m->text = v[2];
	m->id = v[3];
	m->is_object = 1;
	return 0;
}

/* Every message read: queued as one request, answered once durable. */
static void api_bulk_submit(struct api_bulk *b)
{
	struct api_req *r = api_req_new(b->n, b->req, b->cnt);
	struct perr e;

	if (r == NULL) {
		api_error(b->req, 500, "out of memory");
		return;
	}
	for (size_t i = 0; i < b->cnt; i++) {
		node_submit(b->n, b->p, ENV_MESSAGE, b->envs[i].prec, b->envs[i].id,
			    b->ents[i], b->lens[i], r, &r->subs[i], &e);
		r->subs[i]->keyed = b->keyed[i];
		b->ents[i] = NULL;
	}
}

static int api_bulk_alloc(struct api_bulk *b)
{
	b->ents = calloc(b->cnt, sizeof *b->ents);
	b->lens = calloc(b->cnt, sizeof *b->lens);
	b->envs = calloc(b->cnt, sizeof *b->envs);
	b->keyed = calloc(b->cnt, 1);
	return b->ents && b->lens && b->envs && b->keyed ? 0 : -1;
}

/* ---- the scan of a plain body ---- */

static const char *api_ws(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t'))
		s++;
	return s;
}

/* The end of the JSON value at s, or NULL: strings (with their escapes)
 * and brackets only; what lies between is read strictly later. */
static const char *api_skip(const char *s, const char *end)
{
	int depth = 0;

	do {
		if (s >= end)
			return NULL;
		if (*s == '"') {
			/* To the next quote not escaped: one with an even number of
			 * backslashes (escapes of each other) right before it. */
			const char *open = ++s;
			for (;;) {
				const char *q = memchr(s, '"', (size_t)(end - s)), *t;
				if (q == NULL)
					return NULL;
				for (t = q; t > open && t[-1] == '\\'; t--)
					;
				s = q;
				if ((q - t) % 2 == 0)
					break;
				if (++s >= end)
					return NULL;
			}
		} else if (*s == '{' || *s == '[') {
			if (++depth > 64)
				return NULL;
		} else if (*s == '}' || *s == ']') {
			if (--depth < 0)
				return NULL;
		}
		s++;
	} while (depth > 0);
	return s;
}

/* A plain body: an object of exactly "to" (printable ASCII, no escapes) and
 * "messages" (an array), once each.  0 with the array's inside in
 * [*ms, *me) and the name in to; -1: read it whole instead. */
static int api_scan(const char *s, const char *end, char *to, size_t tocap,
		    const char **ms, const char **me)
{
	int have_to = 0, have_msgs = 0;

	s = api_ws(s, end);
	if (s >= end || *s++ != '{')
		return -1;
	for (;;) {
		const char *k, *v;
		size_t kl;
		s = api_ws(s, end);
		if (s >= end || *s != '"')
			return -1;
		k = ++s;
		while (s < end && *s != '"' && *s != '\\')
			s++;
		if (s >= end || *s != '"')
			return -1;
		kl = (size_t)(s++ - k);
		s = api_ws(s, end);
		if (s >= end || *s++ != ':')
			return -1;
		s = api_ws(s, end);
		if (kl == 2 && memcmp(k, "to", 2) == 0 && !have_to && s < end && *s == '"') {
			v = ++s;
			while (s < end && *s != '"' && *s >= 0x20 && *s <= 0x7e && *s != '\\')
				s++;
			if (s >= end || *s != '"' || (size_t)(s - v) >= tocap)
				return -1;
			memcpy(to, v, (size_t)(s - v));
			to[s - v] = '\0';
			s++;
			have_to = 1;
		} else if (kl == 8 && memcmp(k, "messages", 8) == 0 && !have_msgs && s < end &&
			   *s == '[') {
			v = api_skip(s, end);
			if (v == NULL)
				return -1;
			*ms = s + 1;
			*me = v - 1;
			s = v;
			have_msgs = 1;
		} else {
			return -1;
		}
		s = api_ws(s, end);
		if (s < end && *s == ',') {
			s++;
			continue;
		}
		if (s < end && *s == '}')
			break;
		return -1;
	}
	s = api_ws(s + 1, end);
	return s == end && have_to && have_msgs ? 0 : -1;
}

/* The array's elements, counted (their outline only). */
static long api_count(const char *s, const char *end)
{
	long n = 0;

	s = api_ws(s, end);
	if (s == end)
		return 0;
	for (;;) {
		s = api_skip(s, end);
		if (s == NULL || n++ > API_MAX_MESSAGES)
			return -1;
		s = api_ws(s, end);
		if (s == end)
			return n;
		if (*s++ != ',')
			return -1;
		s = api_ws(s, end);
	}
}

static void api_bulk_step(evutil_socket_t fd, short what, void *arg)
{
	struct api_bulk *b = arg;
	size_t stop = b->done + API_CHUNK;

	(void)fd;
	(void)what;
	for (; b->done < b->cnt && b->done < stop; b->done++) {
		const char *s = api_ws(b->cur, b->end), *v = api_skip(s, b->end);
		json_error_t je;
		json_t *m;
		struct api_msg f;
		int rc;
		if ((size_t)(v - s) + 1 > b->bufcap) {
			free(b->buf);
			b->bufcap = (size_t)(v - s) + 1;
			if ((b->buf = malloc(b->bufcap)) == NULL) {
				b->bufcap = 0;
				api_error(b->req, 500, "out of memory");
				api_bulk_free(b);
				return;
			}
		}
		if (api_msg_fast(s, v, b->buf, b->bufcap, &f) == 0) {
			rc = api_bulk_msg(b, &f, b->done);
			if (rc != 0) {
				api_bulk_free(b);
				return;
			}
			v = api_ws(v, b->end);
			b->cur = v < b->end ? v + 1 : v;
			continue;
		}
		m = jfast_parse(s, (size_t)(v - s), 64);
		if (m == NULL)
			m = json_loadb(s, (size_t)(v - s), JSON_REJECT_DUPLICATES, &je);
		if (m == NULL) {
			api_error(b->req, 400, "message %zu is not JSON: %s", b->done, je.text);
			api_bulk_free(b);
			return;
		}
		rc = api_bulk_msg_json(b, m, b->done);
		json_decref(m);
		if (rc != 0) {
			api_bulk_free(b);
			return;
		}
		v = api_ws(v, b->end);
		b->cur = v < b->end ? v + 1 : v; /* past the comma */
	}
	if (b->done < b->cnt) {
		event_active(b->ev, 0, 0);
		return;
	}
	api_bulk_submit(b);
	api_bulk_free(b);
}

static void api_send(struct node *n, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *text = (const char *)evbuffer_pullup(in, (ev_ssize_t)len), *ms = NULL;
	const char *me = NULL;
	char to[CARD_NAME_MAX + 2], err[PERR_MAX + 128];
	struct api_bulk *b = calloc(1, sizeof *b);
	json_t *msgs = NULL, *m;
	long cnt = -1;
	size_t i;

	if (b == NULL) {
		api_error(req, 500, "out of memory");
		return;
	}
	b->n = n;
	b->req = req;
	if (text != NULL && api_scan(text, text + len, to, sizeof to, &ms, &me) == 0)
		cnt = api_count(ms, me);
	if (cnt < 0) {
		/* Not plain: the whole tree, read at once. */
		if ((b->tree = api_body(req, err, sizeof err)) == NULL) {
			api_error(req, 400, "%s", err);
			api_bulk_free(b);
			return;
		}
		msgs = json_object_get(b->tree, "messages");
		snprintf(to, sizeof to, "%s",
			 json_string_value(json_object_get(b->tree, "to")) ?
				 json_string_value(json_object_get(b->tree, "to")) : "");
		cnt = json_is_array(msgs) ? (long)json_array_size(msgs) : 0;
		if (json_string_value(json_object_get(b->tree, "to")) == NULL)
			cnt = 0;
	}
	if (cnt == 0 || cnt > API_MAX_MESSAGES) {
		api_error(req, 400, "send needs \"to\" and 1..%d \"messages\"",
			  API_MAX_MESSAGES);
		api_bulk_free(b);
		return;
	}
	if ((b->p = node_peer(n, to)) == NULL) {
		api_error(req, 404, "no pinned peer named \"%.64s\"", to);
		api_bulk_free(b);
		return;
	}
	b->cnt = (size_t)cnt;
	if (api_bulk_alloc(b) != 0) {
		api_error(req, 500, "out of memory");
		api_bulk_free(b);
		return;
	}
	if (b->tree != NULL) {
		json_array_foreach(msgs, i, m)
			if (api_bulk_msg_json(b, m, i) != 0) {
				api_bulk_free(b);
				return;
			}
		api_bulk_submit(b);
		api_bulk_free(b);
		return;
	}
	b->cur = ms;
	b->end = me;
	b->ev = event_new(n->base, -1, 0, api_bulk_step, b);
	if (b->ev == NULL) {
		api_error(req, 500, "out of memory");
		api_bulk_free(b);
		return;
	}
	b->next = n->bulks;
	n->bulks = b;
	api_bulk_step(-1, 0, b);
}

/*
 * The one entry of a request (a notification, a seed, an ack): fills from,
 * to and time, encodes env and queues it, the reply waiting for its
 * commit.  On failure the error reply is sent (encode_status for an
 * envelope that does not encode) and NULL returned.
 */
static struct api_req *api_submit_one(struct node *n, struct evhttp_request *req,
				      struct npeer *p, struct envelope *env,
				      int encode_status, struct sub **sub)
{
	struct api_req *r;
	struct perr e;
	char *ent;
	size_t len;

	snprintf(env->from, sizeof env->from, "%s", n->conf.name);
	snprintf(env->to, sizeof env->to, "%s", p->card.name);
	env->time = node_now_ms() / 1000;
	if (env_encode(env, &ent, &len, &e) != 0) {
		api_error(req, encode_status, "%s", e.msg);
		return NULL;
	}
	r = api_req_new(n, req, 1);
	if (r == NULL) {
		free(ent);
		api_error(req, 500, "out of memory");
		return NULL;
	}
	node_submit(n, p, env->type, env->prec, env->id, ent, len, r, &r->subs[0], &e);
	*sub = r->subs[0];
	return r;
}

/*
 * A treaty notification (docs/treaties.md): the node checks it against
 * its definition and against our declared inventory before anything is
 * logged (DESIGN principle 5), and refuses it whole, with every problem,
 * otherwise.  Body: {"to", "treaty": {"name", "sha256"}, "definition"
 * (optional: the file's text, for a definition the node does not hold
 * yet), "kind", "fields", "precedence", "id"}.
 */
static void api_notify(struct node *n, struct evhttp_request *req)
{
	char err[PERR_MAX + 128], rid[32];
	json_t *b = api_body(req, err, sizeof err), *tr, *fields, *problems = NULL;
	const char *to, *kind, *prec, *id;
	const struct treaty_def *d;
	struct envelope env;
	struct npeer *p;
	struct api_req *r;
	struct sub *sub;
	struct perr e;
	int dup = 0, rc;

	if (b == NULL) {
		api_error(req, 400, "%s", err);
		return;
	}
	memset(&env, 0, sizeof env);
	to = json_string_value(json_object_get(b, "to"));
	tr = json_object_get(b, "treaty");
	kind = json_string_value(json_object_get(b, "kind"));
	fields = json_object_get(b, "fields");
	prec = json_string_value(json_object_get(b, "precedence"));
	id = json_string_value(json_object_get(b, "id"));
	if (to == NULL || !json_is_object(tr) || kind == NULL || !json_is_object(fields)) {
		api_error(req, 400, "notify needs \"to\", \"treaty\", \"kind\" and \"fields\"");
		goto out;
	}
	if ((p = node_peer(n, to)) == NULL) {
		api_error(req, 404, "no pinned peer named \"%.64s\"", to);
		goto out;
	}
	env.type = ENV_NOTIFICATION;
	env.prec = ENV_ROUTINE;
	if (prec && env_prec_parse(prec, &env.prec) != 0) {
		api_error(req, 400, "precedence \"%.20s\" is not FLASH, IMMEDIATE, PRIORITY "
			  "or ROUTINE", prec);
		goto out;
	}
	if (id != NULL && (strlen(id) == 0 || strlen(id) > ENV_ID_MAX)) {
		api_error(req, 400, "id must be 1..%d characters", ENV_ID_MAX);
		goto out;
	}
	d = ntreaty_def(n, json_string_value(json_object_get(tr, "name")),
			json_string_value(json_object_get(tr, "sha256")),
			json_string_value(json_object_get(b, "definition")), &e);
	if (d == NULL) {
		api_error(req, 422, "%s", e.msg);
		goto out;
	}
	if (id == NULL) {
		api_random_id(rid);
		id = rid;
	} else {
		/* a retry of a stored submission returns it, unchecked */
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(n->db, "SELECT 1 FROM ids WHERE peer = ?1 AND id = ?2",
				       -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_text(st, 1, p->card.name, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
			dup = sqlite3_step(st) == SQLITE_ROW;
			sqlite3_finalize(st);
		}
	}
	if (!dup) {
		rc = ntreaty_check(n, p, d, kind, fields, &problems, &e);
		if (rc < 0) {
			api_error(req, 500, "%s", e.msg);
			goto out;
		}
		if (rc > 0) {
			api_json(req, 422, json_pack("{s:s, s:o}", "error",
				"notification refused; nothing was logged", "problems", problems));
			goto out;
		}
	}
	snprintf(env.id, sizeof env.id, "%s", id);
	snprintf(env.treaty_name, sizeof env.treaty_name, "%s", d->name);
	memcpy(env.treaty_sha256, d->sha256, 32);
	snprintf(env.kind, sizeof env.kind, "%s", kind);
	env.fields = fields;
	r = api_submit_one(n, req, p, &env, 400, &sub);
	if (r == NULL)
		goto out;
	r->tr_peer = p;
	sub->keyed = json_object_get(b, "id") != NULL;
	if (!dup)
		ntreaty_accept(n, p, d, id, kind, fields);
out:
	json_decref(b);
}

/*
 * Our part of a joint random selection: {"to", "request": {"origin",
 * "index"}, "commit": hex} logs a seed-commit; with "seed": hex instead, a
 * seed-reveal (ntreaty_seed says what is refused).
 */
static void api_seed(struct node *n, struct evhttp_request *req)
{
	char err[PERR_MAX + 128], rid[32];
	json_t *b = api_body(req, err, sizeof err), *rq;
	const char *to, *prec, *id;
	struct envelope env;
	struct npeer *p;
	struct sub *sub;
	struct perr e;
	int status;

	if (b == NULL) {
		api_error(req, 400, "%s", err);
		return;
	}
	memset(&env, 0, sizeof env);
	to = json_string_value(json_object_get(b, "to"));
	rq = json_object_get(b, "request");
	prec = json_string_value(json_object_get(b, "precedence"));
	id = json_string_value(json_object_get(b, "id"));
	if (to == NULL || !json_is_string(json_object_get(rq, "origin")) ||
	    !json_is_integer(json_object_get(rq, "index")) ||
	    json_integer_value(json_object_get(rq, "index")) < 0 ||
	    (json_object_get(b, "commit") == NULL) == (json_object_get(b, "seed") == NULL)) {
		api_error(req, 400, "seed needs \"to\", \"request\": {\"origin\", \"index\"} "
			  "and one of \"commit\" and \"seed\"");
		goto out;
	}
	if ((p = node_peer(n, to)) == NULL) {
		api_error(req, 404, "no pinned peer named \"%.64s\"", to);
		goto out;
	}
	env.prec = ENV_PRIORITY;
	if (prec && env_prec_parse(prec, &env.prec) != 0) {
		api_error(req, 400, "precedence \"%.20s\" is not FLASH, IMMEDIATE, PRIORITY "
			  "or ROUTINE", prec);
		goto out;
	}
	if (ntreaty_seed(n, p, json_string_value(json_object_get(rq, "origin")),
			 (uint64_t)json_integer_value(json_object_get(rq, "index")),
			 json_string_value(json_object_get(b, "commit")),
			 json_string_value(json_object_get(b, "seed")), &env, &status, &e) != 0) {
		api_error(req, status, "%s", e.msg);
		goto out;
	}
	if (id == NULL || strlen(id) == 0 || strlen(id) > ENV_ID_MAX) {
		api_random_id(rid);
		id = rid;
	}
	snprintf(env.id, sizeof env.id, "%s", id);
	if (api_submit_one(n, req, p, &env, 400, &sub) != NULL)
		sub->keyed = json_object_get(b, "id") != NULL;
out:
	OPENSSL_cleanse(env.seed, sizeof env.seed);
	env_free(&env);
	json_decref(b);
}

static uint8_t *api_entry(struct node *n, struct npeer *p, uint64_t idx,
			  size_t *len)
{
	uint8_t *d = NULL;
	struct perr e;
	sqlite3_stmt *st;

	if (idx < store_log_size(p->in)) {
		if (store_entry(p->in, idx, &d, len, &e) != 0)
			return NULL;
		return d;
	}
	if (sqlite3_prepare_v2(n->db, "SELECT entry FROM held WHERE origin = ?1 AND idx = ?2",
			       -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, p->in_origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)idx);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*len = (size_t)sqlite3_column_bytes(st, 0);
		d = malloc(*len + 1);
		if (d)
			memcpy(d, sqlite3_column_blob(st, 0), *len);
	}
	sqlite3_finalize(st);
	return d;
}

/* The operator's acknowledgment: an ack entry in our log to the sender,
 * referring to the message by origin, index and leaf hash.  Acknowledging
 * twice returns the first ack. */
static void api_ack(struct node *n, struct evhttp_request *req)
{
	char err[PERR_MAX + 128];
	json_t *b = api_body(req, err, sizeof err);
	const char *origin;
	json_t *ji;
	struct npeer *p = NULL;
	sqlite3_stmt *st;
	uint64_t idx;
	int prec = -1;
	sqlite3_int64 ackidx = -1;
	size_t i, len;
	uint8_t *d;
	struct envelope env;
	struct env_ref ref;
	struct sub *s;

	if (b == NULL) {
		api_error(req, 400, "%s", err);
		return;
	}
	origin = json_string_value(json_object_get(b, "origin"));
	ji = json_object_get(b, "index");
	if (origin == NULL || !json_is_integer(ji) || json_integer_value(ji) < 0) {
		api_error(req, 400, "ack needs \"origin\" and \"index\"");
		goto out;
	}
	idx = (uint64_t)json_integer_value(ji);
	for (i = 0; i < n->npeers; i++)
		if (strcmp(n->peers[i]->in_origin, origin) == 0)
			p = n->peers[i];
	if (p == NULL) {
		api_error(req, 404, "no inbound log \"%.100s\"", origin);
		goto out;
	}
	sqlite3_prepare_v2(n->db, "SELECT prec, ackidx FROM inbox WHERE k = ?1", -1, &st, NULL);
	sqlite3_bind_int64(st, 1, node_key(p->in, idx));
	if (idx < STORE_INDEX_LIMIT && sqlite3_step(st) == SQLITE_ROW) {
		prec = sqlite3_column_int(st, 0);
		if (sqlite3_column_type(st, 1) != SQLITE_NULL)
			ackidx = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	if (prec < 0) {
		api_error(req, 404, "no message %s/%llu in the inbox", origin,
			  (unsigned long long)idx);
		goto out;
	}
	if (ackidx >= 0) {
		api_json(req, 200, json_pack("{s:{s:s, s:I, s:b}}", "ack", "origin",
					     p->out_origin, "index", (json_int_t)ackidx,
					     "duplicate", 1));
		goto out;
	}
	d = api_entry(n, p, idx, &len);
	if (d == NULL) {
		api_error(req, 500, "message %s/%llu cannot be read", origin,
			  (unsigned long long)idx);
		goto out;
	}
	memset(&ref, 0, sizeof ref);
	snprintf(ref.origin, sizeof ref.origin, "%s", origin);
	ref.index = idx;
	merkle_leaf_hash(ref.leaf, d, len);
	free(d);
	memset(&env, 0, sizeof env);
	env.type = ENV_ACK;
	env.prec = (enum env_prec)prec;
	env.refs = &ref;
	env.nrefs = 1;
	/* The same message always gets the same id: a retried ack is one. */
	{
		uint8_t h[32];
		char in[NODE_ORIGIN_MAX + 32];
		static const char hx[] = "0123456789abcdef";
		snprintf(in, sizeof in, "%s %llu", origin, (unsigned long long)idx);
		merkle_leaf_hash(h, in, strlen(in));
		memcpy(env.id, "ack-", 4);
		for (i = 0; i < 16; i++) {
			env.id[4 + 2 * i] = hx[h[i] >> 4];
			env.id[5 + 2 * i] = hx[h[i] & 15];
		}
		env.id[36] = '\0';
	}
	if (api_submit_one(n, req, p, &env, 500, &s) == NULL)
		goto out;
	s->keyed = 1; /* one ack per message, however often asked */
	s->ack_of = p;
	s->inbox_ack_idx = (int64_t)idx;
out:
	json_decref(b);
}

/* ---- views ------------------------------------------------------------ */

static const char *api_prec(int p)
{
	const char *s = env_prec_name((enum env_prec)p);
	return s ? s : "?";
}

static char *api_subject(struct node *n, struct npeer *p, uint64_t idx,
			 int inbound)
{
	uint8_t *d;
	size_t len;
	struct envelope env;
	struct perr e;
	char *s = NULL;

	if (inbound)
		d = api_entry(n, p, idx, &len);
	else if (store_entry(p->out, idx, &d, &len, &e) != 0)
		d = NULL;
	if (d == NULL)
		return NULL;
	if (env_parse(&env, d, len, &e) == 0) {
		if (env.subject) {
			s = strdup(env.subject);
		} else if (env.type == ENV_NOTIFICATION) {
			s = malloc(ENV_TREATY_NAME_MAX + ENV_KIND_MAX + 4);
			if (s)
				sprintf(s, "%s: %s", env.treaty_name, env.kind);
		}
		env_free(&env);
	}
	free(d);
	return s;
}

/* Paging of inbox and outbox, so that listing a large box never holds
 * the node's loop for long: ?limit=N[&peer=NAME&after=INDEX] answers
 * {"rows": [...], "next": {"peer", "after"} or null}; without limit, the
 * whole box as one array. */
struct api_page {
	int paged;
	long long limit;
	size_t first_peer;
	long long after;
};

static int api_page_parse(struct node *n, struct evhttp_request *req,
			  struct api_page *pg)
{
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq kv;
	const char *v;
	size_t i;

	memset(pg, 0, sizeof *pg);
	pg->after = -1;
	pg->limit = -1;
	if (q == NULL)
		return 0;
	TAILQ_INIT(&kv);
	if (evhttp_parse_query_str(q, &kv) != 0)
		return -1;
	if ((v = evhttp_find_header(&kv, "limit")) != NULL) {
		pg->paged = 1;
		pg->limit = strtoll(v, NULL, 10);
		if (pg->limit < 1 || pg->limit > 100000)
			pg->limit = 1000;
	}
	if ((v = evhttp_find_header(&kv, "after")) != NULL)
		pg->after = strtoll(v, NULL, 10);
	if ((v = evhttp_find_header(&kv, "peer")) != NULL)
		for (i = 0; i < n->npeers; i++)
			if (strcmp(n->peers[i]->card.name, v) == 0)
				pg->first_peer = i;
	evhttp_clear_headers(&kv);
	return 0;
}

/* The first key of log l to list for peer i: after pg->after on the page's
 * first peer, from the start on the next ones. */
static sqlite3_int64 api_page_from(const struct store_log *l, const struct api_page *pg,
				   size_t i)
{
	if (i != pg->first_peer || pg->after < 0)
		return node_key(l, 0);
	return node_key(l, (uint64_t)pg->after + 1);
}

static void api_page_reply(struct evhttp_request *req, const struct api_page *pg,
			   json_t *arr, const char *last_peer, long long last_idx)
{
	if (!pg->paged) {
		api_json(req, 200, arr);
		return;
	}
	api_json(req, 200, json_pack("{s:o, s:o}", "rows", arr, "next",
				     last_peer ? json_pack("{s:s, s:I}", "peer", last_peer,
							   "after", (json_int_t)last_idx)
					       : json_null()));
}

static void api_inbox(struct node *n, struct evhttp_request *req)
{
	json_t *arr = json_array();
	sqlite3_stmt *st;
	int64_t now = node_now_ms();
	size_t i;
	struct api_page pg;
	long long count = 0, last_idx = -1;
	const char *last_peer = NULL;

	api_page_parse(n, req, &pg);
	for (i = 0; i < n->npeers; i++)
		ntreaty_advance(n, n->peers[i]);
	if (sqlite3_prepare_v2(n->db, "SELECT k, prec, type, time, received, acked, ackidx"
			       " FROM inbox WHERE k >= ?1 AND k < ?2 ORDER BY k", -1, &st,
			       NULL) != SQLITE_OK) {
		json_decref(arr);
		api_error(req, 500, "database: %s", sqlite3_errmsg(n->db));
		return;
	}
	for (i = pg.first_peer; i < n->npeers && last_peer == NULL; i++) {
		struct npeer *p = n->peers[i];
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, api_page_from(p->in, &pg, i));
		sqlite3_bind_int64(st, 2, node_key_end(p->in));
		while (sqlite3_step(st) == SQLITE_ROW) {
			uint64_t idx = node_key_idx(sqlite3_column_int64(st, 0));
			int prec = sqlite3_column_int(st, 1);
			if (pg.paged && count == pg.limit) {
				last_peer = p->card.name;
				break;
			}
			count++;
			last_idx = (long long)idx;
			int acked = sqlite3_column_type(st, 5) != SQLITE_NULL;
			int64_t rcv = sqlite3_column_int64(st, 4);
			char *subj = api_subject(n, p, idx, 1);
			json_t *o = json_pack(
				"{s:s, s:s, s:I, s:s, s:s, s:o, s:o, s:s, s:b, s:s?}",
				"origin", p->in_origin, "from", p->card.name, "index",
				(json_int_t)idx, "precedence", api_prec(prec), "type",
				(const char *)sqlite3_column_text(st, 2), "time",
				api_time_json(sqlite3_column_int64(st, 3) * 1000), "received",
				api_time_json(rcv), "state", acked ? "acknowledged" : "new",
				"overdue",
				!acked && now - rcv > (int64_t)n->conf.ack_deadline[prec & 3] * 1000,
				"subject", subj);
			free(subj);
			if (ntreaty_flags_of(p, idx) != NULL)
				json_object_set(o, "flags", ntreaty_flags_of(p, idx));
			if (acked) {
				json_object_set_new(o, "acknowledged",
						    api_time_json(sqlite3_column_int64(st, 5)));
				json_object_set_new(o, "ack_index",
						    json_integer(sqlite3_column_int64(st, 6)));
			}
			json_array_append_new(arr, o);
		}
	}
	sqlite3_finalize(st);
	api_page_reply(req, &pg, arr, last_peer, last_idx);
}

static const char *api_out_state(struct npeer *p, uint64_t idx, int receipted,
				 int acked)
{
	if (acked)
		return "acknowledged";
	if (receipted)
		return "receipted";
	if (idx < p->r_size || idxset_has(&p->r_also, idx) ||
	    (p->active && (idx < p->next_inorder || idxset_has(&p->ooo_sent, idx))))
		return "sent";
	return "queued";
}

static void api_outbox(struct node *n, struct evhttp_request *req)
{
	json_t *arr = json_array();
	sqlite3_stmt *st = NULL, *mk = NULL;
	int64_t now = node_now_ms();
	size_t i;
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	int brief = q && strstr(q, "brief=1") != NULL;
	struct api_page pg;
	long long count = 0, last_idx = -1;
	const char *last_peer = NULL;

	api_page_parse(n, req, &pg);
	if (sqlite3_prepare_v2(n->db, "SELECT k, prec, type, time, id, receipted, rtime,"
			       " rcpt, acked FROM outbox WHERE k >= ?1 AND k < ?2 ORDER BY k",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(n->db, "SELECT below, time, ridx FROM rcpts WHERE peer = ?1"
			       " AND below > ?2 ORDER BY below", -1, &mk, NULL) != SQLITE_OK) {
		json_decref(arr);
		api_error(req, 500, "database: %s", sqlite3_errmsg(n->db));
		sqlite3_finalize(st);
		return;
	}
	for (i = pg.first_peer; i < n->npeers && last_peer == NULL; i++) {
		struct npeer *p = n->peers[i];
		/* The receipt marks, walked beside the rows (both in order):
		 * a row under a mark is receipted by the first mark above it. */
		int64_t below = -1, mk_time = 0, mk_idx = 0;
		int mk_more = 1;
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, api_page_from(p->out, &pg, i));
		sqlite3_bind_int64(st, 2, node_key_end(p->out));
		sqlite3_reset(mk);
		sqlite3_bind_text(mk, 1, p->card.name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(mk, 2, i == pg.first_peer ? pg.after : -1);
		while (sqlite3_step(st) == SQLITE_ROW) {
			uint64_t idx = node_key_idx(sqlite3_column_int64(st, 0));
			int prec = sqlite3_column_int(st, 1) & 3;
			int64_t rc_time = 0, rc_idx = 0;
			while (mk_more && below <= (int64_t)idx) {
				mk_more = sqlite3_step(mk) == SQLITE_ROW;
				if (mk_more) {
					below = sqlite3_column_int64(mk, 0);
					mk_time = sqlite3_column_int64(mk, 1);
					mk_idx = sqlite3_column_int64(mk, 2);
				}
			}
			if (pg.paged && count == pg.limit) {
				last_peer = p->card.name;
				break;
			}
			count++;
			last_idx = (long long)idx;
			int64_t t = sqlite3_column_int64(st, 3);
			int rc = sqlite3_column_type(st, 5) != SQLITE_NULL;
			if (rc) {
				rc_time = sqlite3_column_int64(st, 5);
				rc_idx = sqlite3_column_int64(st, 7);
			} else if (mk_more && below > (int64_t)idx) {
				rc = 1;
				rc_time = mk_time;
				rc_idx = mk_idx;
			}
			int ak = sqlite3_column_type(st, 8) != SQLITE_NULL;
			const char *type = (const char *)sqlite3_column_text(st, 2);
			int human = strcmp(type, "message") == 0 || strcmp(type, "notification") == 0;
			int overdue = (!rc && now - t > (int64_t)n->conf.receipt_deadline[prec] * 1000) ||
				      (human && !ak && now - t > (int64_t)n->conf.ack_deadline[prec] * 1000);
			char *subj = brief ? NULL : api_subject(n, p, idx, 0);
			json_t *o = json_pack(
				"{s:s, s:s, s:I, s:s, s:s, s:s, s:o, s:I, s:s, s:b, s:s?}",
				"origin", p->out_origin, "to", p->card.name, "index",
				(json_int_t)idx, "precedence", api_prec(prec), "type", type,
				"id", (const char *)sqlite3_column_text(st, 4), "time",
				api_time_json(t), "submitted_ms", (json_int_t)t, "state",
				api_out_state(p, idx, rc, ak), "overdue", overdue, "subject",
				subj);
			free(subj);
			if (rc) {
				json_object_set_new(o, "receipted", api_time_json(rc_time));
				json_object_set_new(o, "receipted_ms", json_integer(rc_time));
				json_object_set_new(o, "receipt_index", json_integer(rc_idx));
			}
			if (ak)
				json_object_set_new(o, "acknowledged", api_time_json(sqlite3_column_int64(st, 8)));
			json_array_append_new(arr, o);
		}
	}
	sqlite3_finalize(st);
	sqlite3_finalize(mk);
	api_page_reply(req, &pg, arr, last_peer, last_idx);
}

static json_t *api_alarms(struct node *n)
{
	json_t *arr = json_array();
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(n->db, "SELECT id, time, kind, peer, detail, evidence"
			       " FROM alarms ORDER BY id", -1, &st, NULL) != SQLITE_OK)
		return arr;
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(arr, json_pack(
			"{s:I, s:o, s:s, s:s, s:s, s:s?}", "id",
			(json_int_t)sqlite3_column_int64(st, 0), "time",
			api_time_json(sqlite3_column_int64(st, 1)), "kind",
			(const char *)sqlite3_column_text(st, 2), "peer",
			(const char *)sqlite3_column_text(st, 3), "detail",
			(const char *)sqlite3_column_text(st, 4), "evidence",
			(const char *)sqlite3_column_text(st, 5)));
	sqlite3_finalize(st);
	return arr;
}

static json_t *api_log_json(struct node *n, const char *origin,
			    struct store_log *l)
{
	sqlite3_stmt *st;
	json_t *o = json_pack("{s:s, s:I}", "origin", origin, "size",
			      (json_int_t)store_log_size(l));

	if (sqlite3_prepare_v2(n->db, "SELECT size, note FROM cosigned WHERE origin = ?1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			json_object_set_new(o, "cosigned_size",
					    json_integer(sqlite3_column_int64(st, 0)));
			json_object_set_new(o, "cosigned_checkpoint",
					    json_string((const char *)sqlite3_column_text(st, 1)));
		}
		sqlite3_finalize(st);
	}
	return o;
}

json_t *api_status(struct node *n)
{
	json_t *peers = json_array(), *logs = json_array();
	int64_t now = node_now_ms();
	size_t i, k;
	struct link *l;
	char t[ENV_TIME_LEN + 1];

	for (i = 0; i < n->npeers; i++) {
		struct npeer *p = n->peers[i];
		json_t *paths = json_array(), *inc = json_array();
		json_t *backlog = json_object();
		sqlite3_stmt *st;
		for (k = 0; k < p->npaths; k++) {
			l = p->paths[k];
			json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "addr", l->addr,
					      "direction", "out", "state",
					      l->state == LINK_READY ? "up" : "down",
					      "active", p->active == l);
			if (l->state == LINK_READY) {
				json_object_set_new(o, "rtt_ms", json_integer(l->rtt_ms));
				if (l->last_pong_ms > 0) {
					api_time(t, l->last_pong_ms);
					json_object_set_new(o, "last_heartbeat", json_string(t));
					json_object_set_new(o, "heartbeat_age_ms",
							    json_integer(now - l->last_pong_ms));
				}
			}
			json_array_append_new(paths, o);
		}
		for (l = n->incoming; l; l = l->next)
			if (l->peer == p)
				json_array_append_new(inc, json_pack(
					"{s:s, s:s, s:s, s:I}", "addr", l->addr, "direction", "in",
					"state", l->state == LINK_READY ? "up" : "connecting",
					"heartbeat_age_ms", (json_int_t)(now - l->last_rx_ms)));
		for (k = 0; k < NODE_NPREC; k++)
			json_object_set_new(backlog, api_prec((int)k), json_integer(0));
		if (sqlite3_prepare_v2(n->db, "SELECT prec, COUNT(*) FROM outbox WHERE k >= ?1"
				       " AND k < ?2 GROUP BY prec", -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, node_key(p->out, p->r_size));
			sqlite3_bind_int64(st, 2, node_key_end(p->out));
			while (sqlite3_step(st) == SQLITE_ROW)
				json_object_set_new(backlog, api_prec(sqlite3_column_int(st, 0)),
						    json_integer(sqlite3_column_int64(st, 1)));
			sqlite3_finalize(st);
		}
		json_int_t unrc = 0;
		if (sqlite3_prepare_v2(n->db, "SELECT COUNT(*) FROM outbox WHERE k >= ?1"
				       " AND k < ?2 AND receipted IS NULL", -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, node_key(p->out, p->rcpt_lo));
			sqlite3_bind_int64(st, 2, node_key_end(p->out));
			if (sqlite3_step(st) == SQLITE_ROW)
				unrc = sqlite3_column_int64(st, 0);
			sqlite3_finalize(st);
		}
		json_array_append_new(peers, json_pack(
			"{s:s, s:s, s:o, s:o, s:o, s:o, s:I, s:I, s:I}", "name", p->card.name,
			"fingerprint", p->card.fingerprint, "paths", paths, "incoming", inc,
			"backlog", backlog, "clock_skew_ms",
			p->skew_known ? json_integer(p->skew_ms) : json_null(),
			"delivered", (json_int_t)p->r_size, "received",
			(json_int_t)p->d_size, "unreceipted", unrc));
		/* Gaps, from the checkpoints: the peer's latest verified checkpoint
		 * says how large its log to us is; what we hold may be less. */
		json_t *po = json_array_get(peers, json_array_size(peers) - 1);
		json_object_set_new(po, "peer_log_size", json_integer((json_int_t)p->dv_size));
		/* Our log to the peer: every index below this was written to a
		 * path in order (above it, only urgent entries were sent). */
		json_object_set_new(po, "sent_in_order", json_integer(
			(json_int_t)(p->active && p->next_inorder > p->r_size ? p->next_inorder
									  : p->r_size)));
		json_object_set_new(po, "held_out_of_order", json_integer((json_int_t)p->d_held.n));
		ntreaty_advance(n, p);
		json_object_set_new(po, "treaties", ntreaty_status(n, p));
		json_object_set_new(po, "missing", json_integer(
			(json_int_t)(p->dv_size > p->d_size + p->d_held.n
				     ? p->dv_size - p->d_size - p->d_held.n : 0)));
		json_array_append_new(logs, api_log_json(n, p->out_origin, p->out));
		json_array_append_new(logs, api_log_json(n, p->in_origin, p->in));
	}
	api_time(t, now);
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:s}", "node", n->conf.name, "time", t,
			 "peers", peers, "logs", logs, "alarms", api_alarms(n), "storage",
			 n->disk_full ? n->disk_err : "ok");
}

/* ---- /logs/<origin>/... ----------------------------------------------- */

static void api_logs(struct node *n, struct evhttp_request *req, const char *path)
{
	const char *rest;
	struct npeer *p = NULL;
	struct store_log *l = NULL;
	int inbound = 0, level;
	uint64_t idx, dsize;
	unsigned width;
	size_t i, ol;
	struct evbuffer *b;
	struct perr e;

	for (i = 0; i < n->npeers && l == NULL; i++) {
		struct npeer *c = n->peers[i];
		const char *o[2] = { c->out_origin, c->in_origin };
		for (int k = 0; k < 2; k++) {
			ol = strlen(o[k]);
			if (strncmp(path, o[k], ol) == 0 && path[ol] == '/') {
				p = c;
				inbound = k;
				l = k ? c->in : c->out;
				rest = path + ol + 1;
				break;
			}
		}
	}
	if (l == NULL) {
		api_error(req, 404, "no such log");
		return;
	}
	/* Only what is durable is served (wsync.h). */
	dsize = inbound ? p->d_size : p->dout_size;
	b = evbuffer_new();
	if (strcmp(rest, "checkpoint") == 0) {
		sqlite3_stmt *st;
		char *note = NULL;
		if (sqlite3_prepare_v2(n->db, "SELECT note FROM cosigned WHERE origin = ?1",
				       -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_text(st, 1, inbound ? p->in_origin : p->out_origin, -1,
					  SQLITE_STATIC);
			if (sqlite3_step(st) == SQLITE_ROW)
				note = strdup((const char *)sqlite3_column_text(st, 0));
			sqlite3_finalize(st);
		}
		if (note == NULL && !inbound && p->dout_size > 0 &&
		    node_sign_checkpoint(p, p->dout_size, &note, &e) != 0)
			note = NULL;
		if (note == NULL) {
			evbuffer_free(b);
			api_error(req, 404, "no checkpoint yet");
			return;
		}
		evbuffer_add(b, note, strlen(note));
		free(note);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  "text/plain; charset=utf-8");
		evhttp_send_reply(req, 200, "OK", b);
		evbuffer_free(b);
		return;
	}
	if (strncmp(rest, "tile/", 5) != 0 ||
	    tile_parse_path(rest, &level, &idx, &width, &e) != 0) {
		evbuffer_free(b);
		api_error(req, 404, "not a tile path");
		return;
	}
	if (level == -1) {
		/* Entry bundles: confidential. */
		if (!api_token_ok(req, n->auditor_token) && !api_token_ok(req, n->api_token)) {
			evbuffer_free(b);
			api_error(req, 401, "entry bundles need the auditor token");
			return;
		}
		uint64_t lo = idx * TILE_WIDTH, hi = lo + width;
		if (hi > dsize) {
			evbuffer_free(b);
			api_error(req, 404, "no such tile");
			return;
		}
		for (uint64_t k = lo; k < hi; k++) {
			uint8_t *d, h[2];
			size_t len;
			if (store_entry(l, k, &d, &len, &e) != 0)
				break;
			h[0] = (uint8_t)(len >> 8);
			h[1] = (uint8_t)len;
			evbuffer_add(b, h, 2);
			evbuffer_add(b, d, len);
			free(d);
		}
	} else {
		merkle_hash hs[TILE_WIDTH];
		unsigned w;
		uint64_t need = idx * TILE_WIDTH + width; /* hashes at this level */
		for (int k = 0; k < level && need <= dsize; k++)
			need *= TILE_WIDTH;
		if (need > dsize ||
		    store_tile(l, (unsigned)level, idx, hs, &w, &e) != 0 || w < width) {
			evbuffer_free(b);
			api_error(req, 404, "no such tile");
			return;
		}
		evbuffer_add(b, hs, (size_t)width * MERKLE_HASH);
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/octet-stream");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* Replies go out without Nagle's delay.  A reply is written in pieces (the
 * connection writes at most 16 KiB at a time), and with Nagle on, each
 * piece after the first waited for the client's delayed ACK: about 40 ms
 * a request, whatever its size (bench/node, requests of 1,024 messages:
 * 17,000 messages/s).  libevent creates the connection's socket itself, so
 * it is set here, at each request. */
static void api_nodelay(struct evhttp_request *req)
{
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	struct bufferevent *bev = c ? evhttp_connection_get_bufferevent(c) : NULL;
	evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
	int one = 1;

	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void api_handle(struct evhttp_request *req, void *arg)
{
	struct node *n = arg;
	const char *uri = evhttp_request_get_uri(req);
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	(void)uri;
	api_nodelay(req);
	if (path == NULL) {
		api_error(req, 400, "bad request path");
		return;
	}
	if (strncmp(path, "/logs/", 6) == 0 && cmd == EVHTTP_REQ_GET) {
		api_logs(n, req, path + 6);
		return;
	}
	if (strncmp(path, "/api/", 5) != 0) {
		api_error(req, 404, "no such resource");
		return;
	}
	if (!api_token_ok(req, n->api_token)) {
		api_error(req, 401, "missing or wrong API token (DIR/api.token)");
		return;
	}
	if (cmd == EVHTTP_REQ_POST && strcmp(path, "/api/send") == 0)
		api_send(n, req);
	else if (cmd == EVHTTP_REQ_POST && strcmp(path, "/api/notify") == 0)
		api_notify(n, req);
	else if (cmd == EVHTTP_REQ_POST && strcmp(path, "/api/seed") == 0)
		api_seed(n, req);
	else if (cmd == EVHTTP_REQ_POST && strcmp(path, "/api/ack") == 0)
		api_ack(n, req);
	else if (cmd == EVHTTP_REQ_GET && strcmp(path, "/api/inbox") == 0)
		api_inbox(n, req);
	else if (cmd == EVHTTP_REQ_GET && strcmp(path, "/api/outbox") == 0)
		api_outbox(n, req);
	else if (cmd == EVHTTP_REQ_GET && strcmp(path, "/api/status") == 0)
		api_json(req, 200, api_status(n));
	else if (cmd == EVHTTP_REQ_GET && strcmp(path, "/api/alarms") == 0)
		api_json(req, 200, api_alarms(n));
	else
		api_error(req, 404, "no such API call");
}

int api_start(struct node *n, struct perr *e)
{
	char host[CARD_ADDR_MAX + 1], *colon;
	long port;

	snprintf(host, sizeof host, "%s", n->conf.api);
	colon = strrchr(host, ':');
	if (colon == NULL)
		return perr_set(e, "API address %s is not HOST:PORT", n->conf.api);
	*colon = '\0';
	port = strtol(colon + 1, NULL, 10);
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	n->http = evhttp_new(n->base);
	if (n->http == NULL)
		return perr_set(e, "cannot start the HTTP server");
	evhttp_set_max_body_size(n->http, API_MAX_BODY);
	evhttp_set_allowed_methods(n->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_gencb(n->http, api_handle, n);
	if (evhttp_bind_socket(n->http, host, (ev_uint16_t)port) != 0)
		return perr_set(e, "cannot listen for the API on %s", n->conf.api);
	node_log(n, "API listening on %s", n->conf.api);
	return 0;
}

void api_stop(struct node *n)
{
	while (n->bulks) /* requests being read when the node stopped */
		api_bulk_free(n->bulks);
	if (n->http)
		evhttp_free(n->http);
	n->http = NULL;
}
