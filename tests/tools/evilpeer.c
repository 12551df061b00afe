/*
 * evilpeer.c — a malicious peer for parley's integration tests.
 *
 *   evilpeer EVILDIR VICTIM_ADDR VICTIM_CARDFILE SCENARIO
 *
 * EVILDIR is a node directory made by `parley init` (its keys are the ones
 * the victim pinned); its node must not be running, because evilpeer
 * speaks that node's log to the victim itself.  VICTIM_ADDR is one of the
 * victim's peer addresses (host:port), VICTIM_CARDFILE the victim's card
 * (its TLS key is pinned on our side, as a real node would).
 *
 * DESIGN, "What the link guarantees": anything malformed, unverifiable or
 * inconsistent from a peer is rejected, recorded as an alarm with the
 * evidence, and never stored as accepted; the node keeps serving.  Each
 * scenario sends one kind of such input (docs/protocol.md gives the
 * frames); the test that runs us (tests/cli/evil.sh) then asks the victim
 * what it recorded.
 *
 *   good      3 valid entries of the genuine history, correctly (control)
 *   badsig    checkpoints signed by a foreign key, with a flipped signature
 *             bit, for another origin, unsigned
 *   badroot   entries that do not hash to the signed checkpoint's root
 *   badproof  an out-of-order entry whose inclusion proof fails
 *   fork      a correctly signed checkpoint at the victim's size with
 *             another root, and one whose consistency proof fails
 *   replay    the held indices again: identically (a harmless retry) and
 *             with rewritten content
 *   oversize  frame headers announcing more than 1 MiB; a frame of exactly
 *             1 MiB (must be read, then judged on its content)
 *   garbage   random bytes, unknown type, zero length, bodies that are not
 *             JSON objects, nesting bombs, frames out of place, bad HELLOs,
 *             counts over the limits
 *   wrongkey  a TLS key the victim did not pin: no data may flow
 *   stall     half a frame, then silence: the victim must drop the path
 *   bigindex  a proven out-of-order entry at index 2^53, beyond what an
 *             envelope can reference (ENV_MAX_INDEX)
 *   urgent    runs marked urgent, in the node's own form and in another
 *             JSON spelling: stored and ACKed like any run (control)
 *
 * Every step uses a fresh TLS connection (a rejection closes the path) and
 * prints one line:
 *
 *   STEP <scenario>/<step>: <outcome> <what the victim said>
 *
 * outcome: accepted (an ACK came), rejected (an ERROR frame came), closed
 * (closed without ERROR), silent (nothing within the timeout), refused (the
 * TLS handshake or WELCOME failed).  Frames received are echoed as
 * "  < TYPE body" lines; "info ..." lines carry values the test checks
 * (for example the two roots of a split view).
 *
 * The genuine history is deterministic (entry i is the same bytes in every
 * run), so a scenario run after `good` extends exactly the tree the victim
 * holds; what the victim holds is read from its ACK after HELLO.
 *
 * Exit status: 0 when every step was performed (whatever the victim
 * answered), 1 on a usage or local error, 2 when the victim cannot be
 * reached or refuses our real key.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "b64.h"
#include "card.h"
#include "checkpoint.h"
#include "envelope.h"
#include "file.h"
#include "frame.h"
#include "merkle.h"
#include "nodedir.h"
#include "note.h"
#include "tls.h"

#define EP_TREE_MAX 64          /* explicit leaves of one tree */
#define EP_TIME0 1767225600     /* 2026-01-01T00:00:00Z: entry i is T0 + i */
#define EP_WAIT_MS 4000         /* how long to wait for the victim's answer */
#define EP_BUF (FRAME_MAX + FRAME_HDR)

/* ---- the evil node ----------------------------------------------------- */

struct ep {
	char dir[4096];
	char me[CARD_NAME_MAX + 1];
	struct card victim;
	char host[CARD_ADDR_MAX + 1], port[16];
	char origin[2 * CARD_NAME_MAX + 8]; /* "<me>/to/<victim>" */
	struct note_signer signer;          /* our log key under origin */
	const char *scenario;
	uint64_t v_size, v_verified;        /* from the victim's first ACK */
};

static void ep_die(const char *fmt, const char *arg)
{
	fprintf(stderr, "evilpeer: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(1);
}

static int64_t ep_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t ep_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *ep_b64(const uint8_t *d, size_t n)
{
	char *s = malloc(B64_ENCLEN(n) + 1);
	if (s == NULL)
		ep_die("%s", "out of memory");
	b64_encode(s, d, n);
	return s;
}

/* Entry i of our log to the victim: the genuine one, or a rewritten one
 * (same index, other content), both valid envelopes. */
static char *ep_entry(const struct ep *ep, uint64_t i, int rewritten,
		      size_t *len)
{
	struct envelope env;
	char subj[64], text[128], *out;
	struct perr e;

	memset(&env, 0, sizeof env);
	env.type = ENV_MESSAGE;
	snprintf(env.from, sizeof env.from, "%s", ep->me);
	snprintf(env.to, sizeof env.to, "%s", ep->victim.name);
	env.time = EP_TIME0 + (int64_t)(i % 100000);
	env.prec = ENV_ROUTINE;
	snprintf(env.id, sizeof env.id, "evil-%s-%llu", rewritten ? "r" : "g",
		 (unsigned long long)i);
	snprintf(subj, sizeof subj, "%s %llu", rewritten ? "rewritten" : "genuine",
		 (unsigned long long)i);
	snprintf(text, sizeof text, "entry %llu of the %s history", (unsigned long long)i,
		 rewritten ? "rewritten" : "genuine");
	env.subject = subj;
	env.text = text;
	if (env_encode(&env, &out, len, &e) != 0)
		ep_die("envelope: %s", e.msg);
	return out;
}

/* ---- trees ------------------------------------------------------------- */

/*
 * A tree of any size given by a few explicit leaves; every other leaf is
 * one filler entry.  A subtree without explicit leaves hashes like a
 * perfect tree of fillers (fill[level]), so every node is the true RFC 6962
 * hash of one definite leaf sequence, at any granularity: roots and proofs
 * read through ep_reader agree with each other even for a "log" of 2^53
 * entries.
 */
struct ep_tree {
	uint64_t size;
	size_t n;
	uint64_t idx[EP_TREE_MAX];
	merkle_hash leaf[EP_TREE_MAX];
	merkle_hash fill[64];
};

static void ep_tree_init(struct ep_tree *t, uint64_t size)
{
	int l;

	memset(t, 0, sizeof *t);
	t->size = size;
	merkle_leaf_hash(t->fill[0], "evilpeer filler", 15);
	for (l = 1; l < 64; l++)
		merkle_node_hash(t->fill[l], t->fill[l - 1], t->fill[l - 1]);
}

static void ep_tree_set(struct ep_tree *t, uint64_t idx, const char *ent,
			size_t len)
{
	size_t i;

	for (i = 0; i < t->n && t->idx[i] != idx; i++)
		;
	if (i == EP_TREE_MAX)
		ep_die("%s", "tree: too many explicit leaves");
	t->idx[i] = idx;
	merkle_leaf_hash(t->leaf[i], ent, len);
	if (i == t->n)
		t->n++;
}

/* The genuine history [0, size) (rewritten: every entry rewritten). */
static void ep_tree_history(const struct ep *ep, struct ep_tree *t,
			    uint64_t size, int rewritten)
{
	uint64_t i;

	ep_tree_init(t, size);
	for (i = 0; i < size; i++) {
		size_t len;
		char *d = ep_entry(ep, i, rewritten, &len);
		ep_tree_set(t, i, d, len);
		free(d);
	}
}

static void ep_tree_node(const struct ep_tree *t, unsigned level, uint64_t index,
			 merkle_hash out)
{
	uint64_t lo = index << level, span = (uint64_t)1 << level;
	size_t i;
	merkle_hash l, r;

	for (i = 0; i < t->n; i++)
		if (t->idx[i] >= lo && t->idx[i] - lo < span)
			break;
	if (i == t->n) {
		memcpy(out, t->fill[level], MERKLE_HASH);
		return;
	}
	if (level == 0) {
		memcpy(out, t->leaf[i], MERKLE_HASH);
		return;
	}
	ep_tree_node(t, level - 1, 2 * index, l);
	ep_tree_node(t, level - 1, 2 * index + 1, r);
	merkle_node_hash(out, l, r);
}

static int ep_reader(void *ctx, const struct merkle_node *nodes, size_t n,
		     merkle_hash *out, struct perr *e)
{
	const struct ep_tree *t = ctx;
	size_t i;

	for (i = 0; i < n; i++) {
		if (nodes[i].level >= 64)
			return perr_set(e, "node level %u", nodes[i].level);
		ep_tree_node(t, nodes[i].level, nodes[i].index, out[i]);
	}
	return 0;
}

static void ep_root(const struct ep_tree *t, merkle_hash root)
{
	struct perr e;
	if (merkle_tree_hash(root, t->size, ep_reader, (void *)t, &e) != 0)
		ep_die("root: %s", e.msg);
}

static json_t *ep_proof_json(const merkle_hash *h, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++) {
		char *s = ep_b64(h[i], MERKLE_HASH);
		json_array_append_new(a, json_string(s));
		free(s);
	}
	return a;
}

static json_t *ep_inclusion(const struct ep_tree *t, uint64_t idx, int corrupt)
{
	merkle_hash p[MERKLE_MAX_PROOF];
	size_t n;
	struct perr e;

	if (merkle_prove_inclusion(p, &n, idx, t->size, ep_reader, (void *)t, &e) != 0)
		ep_die("inclusion: %s", e.msg);
	if (corrupt && n > 0)
		p[n / 2][7] ^= 0x20;
	return ep_proof_json(p, n);
}

/* Consistency from the victim's verified size, as a real sender does. */
static json_t *ep_consistency(const struct ep_tree *t, uint64_t from)
{
	merkle_hash p[MERKLE_MAX_PROOF];
	size_t n = 0;
	struct perr e;

	if (from > 0 && from < t->size &&
	    merkle_prove_consistency(p, &n, from, t->size, ep_reader, (void *)t,
				     &e) != 0)
		ep_die("consistency: %s", e.msg);
	return ep_proof_json(p, n);
}

/* ---- checkpoints ------------------------------------------------------- */

/* A checkpoint note for (origin, size, root) signed by s. */
static char *ep_cp_raw(const struct note_signer *s, const char *origin,
		       uint64_t size, const merkle_hash root)
{
	struct checkpoint c;
	char text[1024], *out;
	size_t ol;
	long tl;
	struct perr e;

	memset(&c, 0, sizeof c);
	snprintf(c.origin, sizeof c.origin, "%.255s", origin);
	c.size = size;
	memcpy(c.root, root, MERKLE_HASH);
	tl = checkpoint_format(&c, text, sizeof text, &e);
	if (tl < 0 || note_sign(&out, &ol, text, (size_t)tl, &s, 1, 0, &e) != 0)
		ep_die("checkpoint: %s", e.msg);
	return out;
}

/* Our correctly signed checkpoint of tree t. */
static char *ep_cp(const struct ep *ep, const struct ep_tree *t)
{
	merkle_hash root;
	ep_root(t, root);
	return ep_cp_raw(&ep->signer, ep->origin, t->size, root);
}

static void ep_print_root(const char *what, const struct ep_tree *t)
{
	merkle_hash root;
	char b[B64_ENCLEN(32) + 1];

	ep_root(t, root);
	b64_encode(b, root, 32);
	printf("info %s %llu %s\n", what, (unsigned long long)t->size, b);
}

/* ---- one connection ---------------------------------------------------- */

struct ep_conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	uint8_t *buf;
	size_t have;
	int closed;
	char why[300];
};

static void ep_close(struct ep_conn *c)
{
	if (c->ssl) {
		if (!c->closed)
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->ctx)
		SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof *c);
	c->fd = -1;
	ERR_clear_error();
}

static void ep_ssl_why(struct ep_conn *c, int rc, const char *what)
{
	int se = SSL_get_error(c->ssl, rc);
	unsigned long oe = ERR_get_error();
	char es[256] = "";

	if (oe)
		ERR_error_string_n(oe, es, sizeof es);
	if (se == SSL_ERROR_ZERO_RETURN)
		snprintf(c->why, sizeof c->why, "%s: closed (TLS close_notify)", what);
	else if (se == SSL_ERROR_SYSCALL && oe == 0)
		snprintf(c->why, sizeof c->why, "%s: closed (%s)", what,
			 errno ? strerror(errno) : "EOF");
	else
		snprintf(c->why, sizeof c->why, "%s: %s", what, oe ? es : "TLS error");
	ERR_clear_error();
}

/* TCP + TLS with the key in keypath/certpath; the victim's key pinned.
 * Returns 0, or -1 with c->why. */
static int ep_dial(const struct ep *ep, const char *keypath,
		   const char *certpath, struct ep_conn *c)
{
	struct addrinfo hints, *res, *ai;
	struct perr e;
	struct timeval tv = { 5, 0 };
	int rc;

	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->buf = malloc(EP_BUF);
	if (c->buf == NULL)
		ep_die("%s", "out of memory");
	c->ctx = tls_ctx_new(0, keypath, certpath, &e);
	if (c->ctx == NULL)
		ep_die("TLS: %s", e.msg);
	c->ssl = tls_ssl_new(c->ctx, &ep->victim.tls_pub, 1, &e);
	if (c->ssl == NULL)
		ep_die("TLS: %s", e.msg);
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(ep->host, ep->port, &hints, &res) != 0) {
		snprintf(c->why, sizeof c->why, "cannot resolve %.200s", ep->host);
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		c->fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (c->fd < 0)
			continue;
		if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(c->fd);
		c->fd = -1;
	}
	freeaddrinfo(res);
	if (c->fd < 0) {
		snprintf(c->why, sizeof c->why, "cannot connect to %.200s:%s: %s", ep->host,
			 ep->port, strerror(errno));
		return -1;
	}
	/* A backstop: SSL_read on this blocking socket never hangs for long. */
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	SSL_set_fd(c->ssl, c->fd);
	errno = 0;
	rc = SSL_connect(c->ssl);
	if (rc != 1) {
		ep_ssl_why(c, rc, "TLS handshake");
		c->closed = 1;
		return -1;
	}
	return 0;
}

static int ep_write(struct ep_conn *c, const void *d, size_t len)
{
	const uint8_t *p = d;

	while (len > 0) {
		int chunk = len > 65536 ? 65536 : (int)len;
		int w;
		errno = 0;
		w = SSL_write(c->ssl, p, chunk);
		if (w <= 0) {
			ep_ssl_why(c, w, "write");
			c->closed = 1;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int ep_send_body(struct ep_conn *c, int type, const char *body, size_t len)
{
	uint8_t hdr[FRAME_HDR];

	frame_header(hdr, type, len);
	if (ep_write(c, hdr, sizeof hdr) != 0)
		return -1;
	return ep_write(c, body, len);
}

/* Sends a frame (takes body). */
static int ep_send(struct ep_conn *c, int type, json_t *body)
{
	char *s = json_dumps(body, JSON_COMPACT);
	int rc;

	json_decref(body);
	if (s == NULL)
		ep_die("%s", "json_dumps failed");
	rc = ep_send_body(c, type, s, strlen(s));
	free(s);
	return rc;
}

/* Reads one frame within ms.  Returns 1 (*type, *body: malloc'd,
 * NUL-terminated), 0 on timeout, -1 when the connection ended (c->why). */
static int ep_read_frame(struct ep_conn *c, int ms, int *type, char **body)
{
	int64_t deadline = ep_now_ms() + ms;

	if (c->closed)
		return -1;
	for (;;) {
		if (c->have >= FRAME_HDR) {
			uint32_t n = (uint32_t)c->buf[0] << 24 | (uint32_t)c->buf[1] << 16 |
				     (uint32_t)c->buf[2] << 8 | c->buf[3];
			if (n == 0 || n > FRAME_MAX) {
				snprintf(c->why, sizeof c->why, "victim sent a bad frame header "
					 "(length %u)", n);
				c->closed = 1;
				return -1;
			}
			if (c->have >= 4 + (size_t)n) {
				*type = c->buf[4];
				*body = malloc(n);
				if (*body == NULL)
					ep_die("%s", "out of memory");
				memcpy(*body, c->buf + FRAME_HDR, n - 1);
				(*body)[n - 1] = '\0';
				memmove(c->buf, c->buf + 4 + n, c->have - 4 - n);
				c->have -= 4 + n;
				return 1;
			}
		}
		if (SSL_pending(c->ssl) == 0) {
			struct pollfd pfd = { c->fd, POLLIN, 0 };
			int64_t left = deadline - ep_now_ms();
			int r;
			if (left <= 0)
				return 0;
			r = poll(&pfd, 1, (int)left);
			if (r == 0)
				return 0;
			if (r < 0 && errno != EINTR) {
				snprintf(c->why, sizeof c->why, "poll: %s", strerror(errno));
				c->closed = 1;
				return -1;
			}
			if (r < 0)
				continue;
		}
		{
			int r;
			errno = 0;
			r = SSL_read(c->ssl, c->buf + c->have, (int)(EP_BUF - c->have));
			if (r > 0) {
				c->have += (size_t)r;
				continue;
			}
			if (SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ) {
				ERR_clear_error();
				continue;
			}
			ep_ssl_why(c, r, "read");
			c->closed = 1;
			return -1;
		}
	}
}

static const char *ep_type_name(int type)
{
	static char b[32];
	const char *s = frame_type_name(type);
	if (s)
		return s;
	snprintf(b, sizeof b, "type-%d", type);
	return b;
}

static void ep_echo(int type, const char *body)
{
	size_t n = strlen(body);
	printf("  < %s %.*s%s\n", ep_type_name(type), n > 600 ? 600 : (int)n, body,
	       n > 600 ? "..." : "");
}

enum ep_outcome { EP_ACCEPTED, EP_REJECTED, EP_CLOSED, EP_SILENT, EP_REFUSED };

static const char *const ep_outcome_names[] = { "accepted", "rejected", "closed",
						 "silent", "refused" };

struct ep_result {
	enum ep_outcome out;
	char detail[700];
	uint64_t ack_size, ack_verified;
};

/* Waits for the victim's verdict on what we just sent: its next ACK, or
 * an ERROR (then the close that follows it), or the close alone. */
static void ep_await(struct ep_conn *c, struct ep_result *r)
{
	int type;
	char *body;
	int rc;

	memset(r, 0, sizeof *r);
	for (;;) {
		rc = ep_read_frame(c, EP_WAIT_MS, &type, &body);
		if (rc == 0) {
			r->out = EP_SILENT;
			snprintf(r->detail, sizeof r->detail, "no answer in %d ms", EP_WAIT_MS);
			return;
		}
		if (rc < 0) {
			r->out = EP_CLOSED;
			snprintf(r->detail, sizeof r->detail, "%s", c->why);
			return;
		}
		ep_echo(type, body);
		if (type == FRAME_ACK) {
			json_t *j = json_loads(body, 0, NULL);
			json_t *also = json_object_get(j, "also");
			json_t *redo = json_object_get(j, "resend");
			char *as = also ? json_dumps(also, JSON_COMPACT) : NULL;
			char *rs = redo ? json_dumps(redo, JSON_COMPACT) : NULL;
			r->out = EP_ACCEPTED;
			r->ack_size = (uint64_t)json_integer_value(json_object_get(j, "size"));
			r->ack_verified =
				(uint64_t)json_integer_value(json_object_get(j, "verified"));
			snprintf(r->detail, sizeof r->detail,
				 "ACK size=%llu verified=%llu also=%s%s%s",
				 (unsigned long long)r->ack_size,
				 (unsigned long long)r->ack_verified, as ? as : "?",
				 rs ? " resend=" : "", rs ? rs : "");
			free(as);
			free(rs);
			json_decref(j);
			free(body);
			return;
		}
		if (type == FRAME_ERROR) {
			json_t *j = json_loads(body, 0, NULL);
			const char *m = json_string_value(json_object_get(j, "error"));
			char more[400] = "";
			r->out = EP_REJECTED;
			/* The victim closes the path after its ERROR. */
			for (;;) {
				int t2;
				char *b2;
				int r2 = ep_read_frame(c, 2000, &t2, &b2);
				if (r2 == 1) {
					ep_echo(t2, b2);
					free(b2);
					continue;
				}
				snprintf(more, sizeof more, r2 < 0 ? "; then %s" : "; and the path "
					 "stayed open%s", r2 < 0 ? c->why : "");
				break;
			}
			snprintf(r->detail, sizeof r->detail, "ERROR \"%.400s\"%s", m ? m : body,
				 more);
			json_decref(j);
			free(body);
			return;
		}
		free(body); /* COSIG, PONG, ...: not a verdict */
	}
}

static void ep_report(const struct ep *ep, const char *step,
		      const struct ep_result *r)
{
	printf("STEP %s/%s: %s %s\n", ep->scenario, step, ep_outcome_names[r->out],
	       r->detail);
}

static void ep_key_paths(const struct ep *ep, char *kp, char *cp, size_t cap)
{
	struct perr e;
	if (nodedir_path(kp, cap, ep->dir, "tls.key", &e) != 0 ||
	    nodedir_path(cp, cap, ep->dir, "tls.crt", &e) != 0)
		ep_die("%s", e.msg);
}

/*
 * Connects with our real key, waits for WELCOME and, if hello is set,
 * sends HELLO and reads the victim's first ACK (what it holds of our log).
 * The victim must accept us: anything else is exit 2.
 */
static void ep_connect(struct ep *ep, struct ep_conn *c, int hello)
{
	char kp[4200], cp[4200];
	int type;
	char *body;
	struct ep_result r;

	ep_key_paths(ep, kp, cp, sizeof kp);
	if (ep_dial(ep, kp, cp, c) != 0) {
		fprintf(stderr, "evilpeer: %s\n", c->why);
		exit(2);
	}
	/* TLS 1.3: nothing is sent before the server's first frame. */
	if (ep_read_frame(c, EP_WAIT_MS, &type, &body) != 1 || type != FRAME_WELCOME) {
		fprintf(stderr, "evilpeer: no WELCOME from the victim: %s\n",
			c->closed ? c->why : "timeout or other frame");
		exit(2);
	}
	free(body);
	if (!hello)
		return;
	ep_send(c, FRAME_HELLO, json_pack("{s:i, s:s, s:I}", "v", 1, "node", ep->me,
					  "time", (json_int_t)ep_wall_ms()));
	ep_await(c, &r);
	if (r.out != EP_ACCEPTED) {
		fprintf(stderr, "evilpeer: the victim refused our HELLO: %s\n", r.detail);
		exit(2);
	}
	ep->v_size = r.ack_size;
	ep->v_verified = r.ack_verified;
}

/* One step: a fresh connection, a frame, the verdict. */
static void ep_step_frame(struct ep *ep, const char *step, int type, json_t *body)
{
	struct ep_conn c;
	struct ep_result r;

	ep_connect(ep, &c, 1);
	ep_send(&c, type, body);
	ep_await(&c, &r);
	ep_report(ep, step, &r);
	ep_close(&c);
}

/* One step with raw bytes, after HELLO or (hello = 0) instead of it. */
static void ep_step_raw(struct ep *ep, const char *step, int hello,
			const void *d, size_t len)
{
	struct ep_conn c;
	struct ep_result r;

	ep_connect(ep, &c, hello);
	ep_write(&c, d, len);
	ep_await(&c, &r);
	ep_report(ep, step, &r);
	ep_close(&c);
}

/* ---- frame bodies ------------------------------------------------------ */

/* ENTRIES with entries [first, first + n) of the genuine (or rewritten)
 * history and the checkpoint cp (taken). */
static json_t *ep_entries(const struct ep *ep, uint64_t first, uint64_t n,
			  int rewritten, char *cp)
{
	json_t *arr = json_array(), *b;
	uint64_t i;

	for (i = first; i < first + n; i++) {
		size_t len;
		char *d = ep_entry(ep, i, rewritten, &len);
		char *s = ep_b64((const uint8_t *)d, len);
		json_array_append_new(arr, json_string(s));
		free(s);
		free(d);
	}
	b = json_pack("{s:s, s:I, s:o, s:s}", "origin", ep->origin, "first",
		      (json_int_t)first, "entries", arr, "checkpoint", cp);
	free(cp);
	return b;
}

/* OOO of entry idx (content ent) proven in tree t. */
static json_t *ep_ooo(const struct ep *ep, const struct ep_tree *t, uint64_t idx,
		      const char *ent, size_t len, json_t *inclusion,
		      json_t *consistency)
{
	char *cp = ep_cp(ep, t), *s = ep_b64((const uint8_t *)ent, len);
	/* Proofs start where the victim said it verified last, as a real
	 * sender's do ("from"). */
	json_t *b = json_pack("{s:s, s:I, s:s, s:s, s:o, s:I, s:o}", "origin", ep->origin,
			      "index", (json_int_t)idx, "entry", s, "checkpoint", cp,
			      "inclusion", inclusion, "from", (json_int_t)ep->v_verified,
			      "consistency", consistency);
	free(cp);
	free(s);
	return b;
}

static void ep_need_good(const struct ep *ep)
{
	if (ep->v_size < 3 || ep->v_size > EP_TREE_MAX - 8) {
		fprintf(stderr, "evilpeer: the victim holds %llu entries of our log; "
			"run the good scenario first\n", (unsigned long long)ep->v_size);
		exit(1);
	}
}

/* ---- scenarios --------------------------------------------------------- */

static void sc_good(struct ep *ep)
{
	struct ep_tree t;
	struct ep_conn c;
	struct ep_result r;

	ep_connect(ep, &c, 1);
	ep_tree_history(ep, &t, 3, 0);
	ep_print_root("genuine-root", &t);
	ep_send(&c, FRAME_ENTRIES, ep_entries(ep, 0, 3, 0, ep_cp(ep, &t)));
	ep_await(&c, &r);
	ep_report(ep, "run", &r);
	ep_close(&c);
}

/* Flips one bit of the signature bytes (after the 4-byte key ID) of the
 * first signature line of a note. */
static void ep_flip_sig(char *note)
{
	char *line = strstr(note, "\n\n\xe2\x80\x94 "), *sp, *end;
	uint8_t raw[128];
	long n;

	if (line == NULL || (sp = strchr(line + 6, ' ')) == NULL ||
	    (end = strchr(sp, '\n')) == NULL)
		ep_die("%s", "cannot find the signature line");
	sp++;
	n = b64_decode(raw, sizeof raw, sp, (size_t)(end - sp));
	if (n < 8)
		ep_die("%s", "signature line is not base64");
	raw[n - 10] ^= 0x01;
	b64_encode(sp, raw, (size_t)n); /* same length: fits in place */
	sp[B64_ENCLEN((size_t)n)] = '\n';
}

static void sc_badsig(struct ep *ep)
{
	struct ep_tree t;
	merkle_hash root;
	struct note_signer foreign, other;
	struct perr e;
	char *cp, other_origin[600];
	uint64_t s;

	ep_need_good(ep);
	s = ep->v_size;
	ep_tree_history(ep, &t, s + 1, 0);
	ep_root(&t, root);

	/* A fresh key under our origin's name: not the pinned log key. */
	if (note_keygen(&foreign, ep->origin, NOTE_ALG_ED25519, &e) != 0)
		ep_die("keygen: %s", e.msg);
	ep_step_frame(ep, "foreign-key", FRAME_ENTRIES,
		      ep_entries(ep, s, 1, 0, ep_cp_raw(&foreign, ep->origin, s + 1, root)));
	note_signer_wipe(&foreign);

	/* Our key, one bit of the signature flipped. */
	cp = ep_cp(ep, &t);
	ep_flip_sig(cp);
	ep_step_frame(ep, "flipped-signature", FRAME_ENTRIES, ep_entries(ep, s, 1, 0, cp));

	/* Our key under our origin's name, over a checkpoint of another log. */
	snprintf(other_origin, sizeof other_origin, "%s/to/someone.else.example", ep->me);
	{
		struct checkpoint c;
		char text[1024], *out;
		size_t ol;
		long tl;
		const struct note_signer *sg = &ep->signer;
		memset(&c, 0, sizeof c);
		snprintf(c.origin, sizeof c.origin, "%.255s", other_origin);
		c.size = s + 1;
		memcpy(c.root, root, 32);
		tl = checkpoint_format(&c, text, sizeof text, &e);
		if (tl < 0 || note_sign(&out, &ol, text, (size_t)tl, &sg, 1, 0, &e) != 0)
			ep_die("checkpoint: %s", e.msg);
		ep_step_frame(ep, "other-origin", FRAME_ENTRIES, ep_entries(ep, s, 1, 0, out));
	}

	/* Our seed, but the key named after another origin (another key ID). */
	if (note_signer_from_seed(&other, other_origin, NOTE_ALG_ED25519,
				  ep->signer.seed, &e) != 0)
		ep_die("key: %s", e.msg);
	ep_step_frame(ep, "key-of-other-origin", FRAME_ENTRIES,
		      ep_entries(ep, s, 1, 0, ep_cp_raw(&other, ep->origin, s + 1, root)));
	note_signer_wipe(&other);

	/* No signature at all: the bare checkpoint text. */
	{
		char text[1024], b[B64_ENCLEN(32) + 1];
		b64_encode(b, root, 32);
		snprintf(text, sizeof text, "%s\n%llu\n%s\n", ep->origin,
			 (unsigned long long)(s + 1), b);
		ep_step_frame(ep, "unsigned", FRAME_ENTRIES,
			      ep_entries(ep, s, 1, 0, strdup(text)));
	}
}

static void sc_badroot(struct ep *ep)
{
	struct ep_tree t;
	merkle_hash root;
	uint64_t s;

	ep_need_good(ep);
	s = ep->v_size;
	ep_tree_history(ep, &t, s + 2, 0);
	/* Rewritten entries under the genuine checkpoint of size s + 2. */
	ep_step_frame(ep, "entries-not-in-checkpoint", FRAME_ENTRIES,
		      ep_entries(ep, s, 2, 1, ep_cp(ep, &t)));
	/* Genuine entries under a signed checkpoint with a made-up root. */
	memset(root, 0x5a, sizeof root);
	ep_step_frame(ep, "made-up-root", FRAME_ENTRIES,
		      ep_entries(ep, s, 2, 0, ep_cp_raw(&ep->signer, ep->origin, s + 2, root)));
	/* A checkpoint whose size is not first + count. */
	ep_step_frame(ep, "size-not-first-plus-count", FRAME_ENTRIES,
		      ep_entries(ep, s, 1, 0, ep_cp(ep, &t)));
}

static void sc_badproof(struct ep *ep)
{
	struct ep_tree t;
	uint64_t s, idx;
	size_t len, rlen;
	char *ent, *rent;

	ep_need_good(ep);
	s = ep->v_size;
	/* Index s + 2 of a tree of s + 3: out of order (s, s + 1 missing),
	 * with a correct consistency proof from what the victim verified. */
	ep_tree_history(ep, &t, s + 3, 0);
	idx = s + 2;
	ent = ep_entry(ep, idx, 0, &len);
	rent = ep_entry(ep, idx, 1, &rlen);
	ep_step_frame(ep, "corrupt-inclusion", FRAME_OOO,
		      ep_ooo(ep, &t, idx, ent, len, ep_inclusion(&t, idx, 1),
			     ep_consistency(&t, ep->v_verified)));
	ep_step_frame(ep, "entry-not-in-tree", FRAME_OOO,
		      ep_ooo(ep, &t, idx, rent, rlen, ep_inclusion(&t, idx, 0),
			     ep_consistency(&t, ep->v_verified)));
	{
		json_t *incl = ep_inclusion(&t, idx, 0);
		json_array_remove(incl, json_array_size(incl) - 1);
		ep_step_frame(ep, "short-inclusion", FRAME_OOO,
			      ep_ooo(ep, &t, idx, ent, len, incl,
				     ep_consistency(&t, ep->v_verified)));
	}
	{
		json_t *incl = ep_inclusion(&t, idx, 0);
		while (json_array_size(incl) <= MERKLE_MAX_PROOF)
			json_array_append(incl, json_array_get(incl, 0));
		ep_step_frame(ep, "overlong-inclusion", FRAME_OOO,
			      ep_ooo(ep, &t, idx, ent, len, incl,
				     ep_consistency(&t, ep->v_verified)));
	}
	{
		json_t *incl = ep_inclusion(&t, idx, 0);
		json_array_set_new(incl, 0, json_string("not base64 of 32 bytes"));
		ep_step_frame(ep, "proof-not-base64", FRAME_OOO,
			      ep_ooo(ep, &t, idx, ent, len, incl,
				     ep_consistency(&t, ep->v_verified)));
	}
	/* The index outside the checkpoint. */
	ep_step_frame(ep, "index-beyond-checkpoint", FRAME_OOO,
		      ep_ooo(ep, &t, s + 3, ent, len, json_array(),
			     ep_consistency(&t, ep->v_verified)));
	free(ent);
	free(rent);
}

static void sc_fork(struct ep *ep)
{
	struct ep_tree g, f;
	uint64_t s, idx;
	size_t len;
	char *ent;

	ep_need_good(ep);
	s = ep->v_size;
	/* A second, correctly signed checkpoint at the size the victim holds:
	 * the same log, another root (one view for them, one for us). */
	ep_tree_history(ep, &g, s, 0);
	ep_tree_history(ep, &f, s, 1);
	ep_print_root("held-root", &g);
	ep_print_root("forged-root", &f);
	ep_step_frame(ep, "split-view", FRAME_ENTRIES, ep_entries(ep, 0, s, 1, ep_cp(ep, &f)));

	/* A larger checkpoint of the forked history, out of order, with the
	 * consistency proof of the fork (which cannot lead from the held
	 * root). */
	ep_tree_history(ep, &f, s + 2, 1);
	ep_print_root("forged-larger-root", &f);
	idx = s + 1;
	ent = ep_entry(ep, idx, 1, &len);
	ep_step_frame(ep, "inconsistent", FRAME_OOO,
		      ep_ooo(ep, &f, idx, ent, len, ep_inclusion(&f, idx, 0),
			     ep_consistency(&f, ep->v_verified)));
	free(ent);
}

static void sc_replay(struct ep *ep)
{
	struct ep_tree t;
	uint64_t s;
	size_t len;
	char *ent;

	ep_need_good(ep);
	s = ep->v_size;
	/* The same entries and checkpoint again: a retry, harmless. */
	ep_tree_history(ep, &t, s, 0);
	ep_step_frame(ep, "identical-resend", FRAME_ENTRIES, ep_entries(ep, 0, s, 0, ep_cp(ep, &t)));

	/* Index 1 rewritten, with a signed checkpoint of that history at 2. */
	ep_tree_history(ep, &t, 2, 0);
	ent = ep_entry(ep, 1, 1, &len);
	ep_tree_set(&t, 1, ent, len);
	free(ent);
	ep_print_root("rewritten-prefix-root", &t);
	{
		json_t *b = ep_entries(ep, 1, 1, 1, ep_cp(ep, &t));
		ep_step_frame(ep, "rewritten-prefix", FRAME_ENTRIES, b);
	}

	/* Every held index rewritten, sent under the genuine checkpoint: the
	 * entries do not hash to the checkpoint they came with. */
	ep_tree_history(ep, &t, s, 0);
	ep_step_frame(ep, "rewritten-under-genuine-checkpoint", FRAME_ENTRIES,
		      ep_entries(ep, 0, s, 1, ep_cp(ep, &t)));

	/* Index 0 rewritten, out of order, proven in a signed rewritten tree of
	 * s + 1 (with that tree's consistency proof, which fails from the
	 * held root). */
	ep_tree_history(ep, &t, s + 1, 0);
	ent = ep_entry(ep, 0, 1, &len);
	ep_tree_set(&t, 0, ent, len);
	ep_print_root("rewritten-ooo-root", &t);
	ep_step_frame(ep, "rewritten-out-of-order", FRAME_OOO,
		      ep_ooo(ep, &t, 0, ent, len, ep_inclusion(&t, 0, 0),
			     ep_consistency(&t, ep->v_verified)));
	free(ent);
}

static void sc_oversize(struct ep *ep)
{
	uint8_t hdr[FRAME_HDR + 64];
	uint32_t n;
	char *big;
	size_t i;

	memset(hdr, 'A', sizeof hdr);
	n = 2u << 20; /* 2 MiB */
	hdr[0] = (uint8_t)(n >> 24), hdr[1] = (uint8_t)(n >> 16);
	hdr[2] = (uint8_t)(n >> 8), hdr[3] = (uint8_t)n, hdr[4] = FRAME_ENTRIES;
	ep_step_raw(ep, "2MiB", 1, hdr, sizeof hdr);
	n = (uint32_t)FRAME_MAX + 1;
	hdr[0] = (uint8_t)(n >> 24), hdr[1] = (uint8_t)(n >> 16);
	hdr[2] = (uint8_t)(n >> 8), hdr[3] = (uint8_t)n;
	ep_step_raw(ep, "limit-plus-1", 1, hdr, sizeof hdr);
	n = 0xffffffffu;
	hdr[0] = hdr[1] = hdr[2] = hdr[3] = 0xff;
	ep_step_raw(ep, "4GiB", 1, hdr, sizeof hdr);
	/* Exactly FRAME_MAX (type + body): a legal frame, read whole and then
	 * judged by its content (an ENTRIES object without its fields). */
	big = malloc(FRAME_MAX + FRAME_HDR);
	if (big == NULL)
		ep_die("%s", "out of memory");
	frame_header((uint8_t *)big, FRAME_ENTRIES, FRAME_MAX - 1);
	big[FRAME_HDR] = '{';
	for (i = 1; i < FRAME_MAX - 2; i++)
		big[FRAME_HDR + i] = ' ';
	big[FRAME_HDR + FRAME_MAX - 2] = '}';
	ep_step_raw(ep, "exactly-1MiB", 1, big, FRAME_MAX + 4);
	free(big);
}

static void sc_garbage(struct ep *ep)
{
	uint8_t rnd[4096], hdr[FRAME_HDR];
	uint64_t x = 0x9e3779b97f4a7c15u;
	size_t i;
	char *s;
	struct ep_conn c;
	struct ep_result r;

	/* Random bytes (a fixed xorshift stream; the header is checked to be
	 * one the victim must refuse at once rather than wait on). */
	for (i = 0; i < sizeof rnd; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		rnd[i] = (uint8_t)(x >> 32);
	}
	if (rnd[0] == 0 && rnd[1] <= 0x10)
		rnd[0] = 0xa5;
	ep_step_raw(ep, "random-bytes", 1, rnd, sizeof rnd);

	frame_header(hdr, 42, 2);
	memcpy(rnd, hdr, FRAME_HDR);
	memcpy(rnd + FRAME_HDR, "{}", 2);
	ep_step_raw(ep, "unknown-type", 1, rnd, FRAME_HDR + 2);
	frame_header(hdr, 0, 2);
	memcpy(rnd, hdr, FRAME_HDR);
	ep_step_raw(ep, "type-zero", 1, rnd, FRAME_HDR + 2);

	memset(rnd, 0, 16);
	ep_step_raw(ep, "zero-length", 1, rnd, 16);

	{
		static const char nj[] = "this is not JSON";
		frame_header(rnd, FRAME_ENTRIES, sizeof nj - 1);
		memcpy(rnd + FRAME_HDR, nj, sizeof nj - 1);
		ep_step_raw(ep, "not-json", 1, rnd, FRAME_HDR + sizeof nj - 1);
	}
	{
		static const char arr[] = "[1,2,3]";
		frame_header(rnd, FRAME_ENTRIES, sizeof arr - 1);
		memcpy(rnd + FRAME_HDR, arr, sizeof arr - 1);
		ep_step_raw(ep, "json-array", 1, rnd, FRAME_HDR + sizeof arr - 1);
	}
	{
		static const char dup[] = "{\"origin\":\"x\",\"origin\":\"y\"}";
		frame_header(rnd, FRAME_ENTRIES, sizeof dup - 1);
		memcpy(rnd + FRAME_HDR, dup, sizeof dup - 1);
		ep_step_raw(ep, "duplicate-keys", 1, rnd, FRAME_HDR + sizeof dup - 1);
	}
	/* Nesting bomb: 500,000 '[' in one frame. */
	{
		size_t n = 500000;
		s = malloc(FRAME_HDR + n);
		if (s == NULL)
			ep_die("%s", "out of memory");
		frame_header((uint8_t *)s, FRAME_OOO, n);
		memset(s + FRAME_HDR, '[', n);
		ep_step_raw(ep, "nesting-bomb", 1, s, FRAME_HDR + n);
		free(s);
	}
	/* Invalid UTF-8 inside a string. */
	{
		static const char bad[] = "{\"origin\":\"\xff\xfe\"}";
		frame_header(rnd, FRAME_ENTRIES, sizeof bad - 1);
		memcpy(rnd + FRAME_HDR, bad, sizeof bad - 1);
		ep_step_raw(ep, "invalid-utf8", 1, rnd, FRAME_HDR + sizeof bad - 1);
	}

	/* Frames out of place. */
	ep_step_frame(ep, "ack-to-receiver", FRAME_ACK,
		      json_pack("{s:s, s:i, s:[], s:i}", "origin", ep->origin, "size", 0,
				"also", "verified", 0));
	ep_step_frame(ep, "welcome-from-client", FRAME_WELCOME,
		      json_pack("{s:i, s:s, s:I}", "v", 1, "node", ep->me, "time",
				(json_int_t)ep_wall_ms()));
	ep_step_frame(ep, "second-hello", FRAME_HELLO,
		      json_pack("{s:i, s:s, s:I}", "v", 1, "node", ep->me, "time",
				(json_int_t)ep_wall_ms()));
	ep_step_frame(ep, "cosig-to-receiver", FRAME_COSIG,
		      json_pack("{s:s, s:i, s:s}", "origin", ep->origin, "size", 1, "cosig",
				"\xe2\x80\x94 x AAAA\n"));

	/* Bad greetings: instead of HELLO, or HELLO lying about who we are. */
	ep_connect(ep, &c, 0);
	ep_send(&c, FRAME_ENTRIES, json_pack("{s:s, s:i, s:[], s:s}", "origin", ep->origin,
					      "first", 0, "entries", "checkpoint", "x"));
	ep_await(&c, &r);
	ep_report(ep, "entries-before-hello", &r);
	ep_close(&c);

	ep_connect(ep, &c, 0);
	ep_send(&c, FRAME_HELLO, json_pack("{s:i, s:s, s:I}", "v", 1, "node",
					    ep->victim.name, "time",
					    (json_int_t)ep_wall_ms()));
	ep_await(&c, &r);
	ep_report(ep, "hello-with-another-name", &r);
	ep_close(&c);

	ep_connect(ep, &c, 0);
	ep_send(&c, FRAME_HELLO, json_pack("{s:i, s:s, s:I}", "v", 2, "node", ep->me,
					    "time", (json_int_t)ep_wall_ms()));
	ep_await(&c, &r);
	ep_report(ep, "hello-version-2", &r);
	ep_close(&c);

	/* Counts and fields over the limits. */
	{
		json_t *arr = json_array();
		for (i = 0; i < 4097; i++)
			json_array_append_new(arr, json_string("AA=="));
		ep_step_frame(ep, "4097-entries", FRAME_ENTRIES,
			      json_pack("{s:s, s:i, s:o, s:s}", "origin", ep->origin,
					"first", (int)ep->v_size, "entries", arr,
					"checkpoint", "x"));
	}
	ep_step_frame(ep, "negative-first", FRAME_ENTRIES,
		      json_pack("{s:s, s:i, s:[s], s:s}", "origin", ep->origin,
				"first", -1, "entries", "AA==", "checkpoint", "x"));
	ep_step_frame(ep, "other-origin", FRAME_ENTRIES,
		      json_pack("{s:s, s:i, s:[s], s:s}", "origin",
				"nrrc.ru.example/to/nrrc.us.example", "first", 0,
				"entries", "AA==", "checkpoint", "x"));
	{
		struct ep_tree t;
		json_t *b;
		ep_tree_history(ep, &t, ep->v_size + 1, 0);
		b = ep_entries(ep, ep->v_size, 1, 0, ep_cp(ep, &t));
		json_array_set_new(json_object_get(b, "entries"), 0,
				   json_string("not base64!"));
		ep_step_frame(ep, "entry-not-base64", FRAME_ENTRIES, b);
	}
}

static void sc_wrongkey(struct ep *ep)
{
	char tmp[] = "/tmp/evilpeer.XXXXXX", kp[64], cp[64];
	struct ep_conn c;
	struct ep_result r;
	struct perr e;
	int type;
	char *body;

	if (mkdtemp(tmp) == NULL)
		ep_die("mkdtemp: %s", strerror(errno));
	snprintf(kp, sizeof kp, "%s/tls.key", tmp);
	snprintf(cp, sizeof cp, "%s/tls.crt", tmp);
	/* Same name, fresh key: only the pin tells them apart. */
	if (tls_keygen(kp, cp, ep->me, &e) != 0)
		ep_die("tls_keygen: %s", e.msg);
	memset(&r, 0, sizeof r);
	if (ep_dial(ep, kp, cp, &c) != 0) {
		r.out = EP_REFUSED;
		snprintf(r.detail, sizeof r.detail, "%s", c.why);
	} else {
		/* The client's handshake "succeeds" in TLS 1.3 before the server
		 * has judged our certificate; we wait for WELCOME as a node does.
		 * No data may come. */
		int rc = ep_read_frame(&c, EP_WAIT_MS, &type, &body);
		if (rc == 1) {
			ep_echo(type, body);
			free(body);
			r.out = EP_ACCEPTED;
			snprintf(r.detail, sizeof r.detail, "the victim sent %s to an "
				 "unpinned key", ep_type_name(type));
		} else if (rc == 0) {
			r.out = EP_SILENT;
			snprintf(r.detail, sizeof r.detail, "no WELCOME and no close");
		} else {
			r.out = EP_REFUSED;
			snprintf(r.detail, sizeof r.detail, "%s", c.why);
		}
	}
	ep_report(ep, "unpinned-tls-key", &r);
	ep_close(&c);
	unlink(kp);
	unlink(cp);
	rmdir(tmp);
}

static void sc_stall(struct ep *ep)
{
	struct ep_conn c;
	struct ep_result r;
	uint8_t part[FRAME_HDR + 10];
	int64_t t0;

	/* Half a frame, then nothing: the victim must not wait forever. */
	ep_connect(ep, &c, 1);
	frame_header(part, FRAME_ENTRIES, 1000);
	memcpy(part + FRAME_HDR, "{\"origin\":", 10);
	ep_write(&c, part, sizeof part);
	t0 = ep_now_ms();
	ep_await(&c, &r);
	if (r.out == EP_SILENT)
		ep_await(&c, &r);
	snprintf(r.detail + strlen(r.detail), sizeof r.detail - strlen(r.detail),
		 " (after %lld ms)", (long long)(ep_now_ms() - t0));
	ep_report(ep, "half-frame", &r);
	ep_close(&c);
}

static void sc_bigindex(struct ep *ep)
{
	struct ep_tree t;
	uint64_t idx[2] = { (uint64_t)1 << 53, ((uint64_t)1 << 63) - 1 };
	const char *names[2] = { "index-2^53", "index-2^63-1" };
	struct ep_conn c;
	size_t len, k;
	char *ent;

	ep_need_good(ep);
	/* The genuine history, fillers, and one message at 2^53 (then one at
	 * 2^63 - 1, the largest index JSON carries): correctly signed,
	 * consistent, proven trees of 2^53 + 1 and 2^63 entries. */
	ep_tree_history(ep, &t, ep->v_size, 0);
	for (k = 0; k < 2; k++) {
		if (k > 0) { /* what the victim verified after the first step */
			ep_connect(ep, &c, 1);
			ep_close(&c);
		}
		t.size = idx[k] + 1;
		ent = ep_entry(ep, idx[k], 0, &len);
		ep_tree_set(&t, idx[k], ent, len);
		ep_step_frame(ep, names[k], FRAME_OOO,
			      ep_ooo(ep, &t, idx[k], ent, len, ep_inclusion(&t, idx[k], 0),
				     ep_consistency(&t, ep->v_verified)));
		free(ent);
	}
}

/* stalefrom: a genuine, correctly proven out-of-order entry whose
 * consistency proof starts at a size the victim has verified past (as a
 * sender's would after an ACK still in flight).  The victim cannot check
 * it against its latest checkpoint: it must ignore the frame (an ACK, no
 * alarm, nothing held), never cry split view. */
static void sc_stalefrom(struct ep *ep)
{
	struct ep_tree t;
	size_t len;
	char *ent, *cp, *s;
	uint64_t idx = ep->v_size + 1, from = ep->v_verified - 1;
	json_t *b;

	ep_need_good(ep);
	ep_tree_history(ep, &t, idx + 1, 0);
	ent = ep_entry(ep, idx, 0, &len);
	cp = ep_cp(ep, &t);
	s = ep_b64((const uint8_t *)ent, len);
	b = json_pack("{s:s, s:I, s:s, s:s, s:o, s:I, s:o}", "origin", ep->origin, "index",
		      (json_int_t)idx, "entry", s, "checkpoint", cp, "inclusion",
		      ep_inclusion(&t, idx, 0), "from", (json_int_t)from, "consistency",
		      ep_consistency(&t, from));
	free(cp);
	free(s);
	free(ent);
	printf("OOO %s/proof-from-an-older-size: index %llu\n", ep->scenario,
	       (unsigned long long)idx);
	ep_step_frame(ep, "proof-from-an-older-size", FRAME_OOO, b);
}

/* "more": an OOO frame as sent on a path other than the runs' (protocol.md,
 * "What the sender does"): its first proof starts at a size the victim has
 * verified past, and "more" carries proofs from other sizes.
 *   1. the proof from the victim's size is right: held and ACKed;
 *   2. the proof from the victim's size is corrupt: rejected (the checkpoint
 *      is not proven consistent with the one held);
 *   3. "more" is not an array of proofs: rejected. */
static json_t *ep_ooo_more(struct ep *ep, const struct ep_tree *t, uint64_t idx,
			   uint64_t stale, uint64_t from, int corrupt, json_t *more)
{
	size_t len;
	char *ent = ep_entry(ep, idx, 0, &len), *cp = ep_cp(ep, t);
	char *s = ep_b64((const uint8_t *)ent, len);
	json_t *cons = ep_consistency(t, from), *b;

	if (corrupt && json_array_size(cons) > 0)
		json_array_set_new(cons, 0, json_string(
			"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
	if (more == NULL)
		more = json_pack("[{s:I, s:o}]", "from", (json_int_t)from, "consistency", cons);
	else
		json_decref(cons);
	b = json_pack("{s:s, s:I, s:s, s:s, s:o, s:I, s:o, s:o}", "origin", ep->origin,
		      "index", (json_int_t)idx, "entry", s, "checkpoint", cp, "inclusion",
		      ep_inclusion(t, idx, 0), "from", (json_int_t)stale, "consistency",
		      ep_consistency(t, stale), "more", more);
	free(cp);
	free(s);
	free(ent);
	return b;
}

static void sc_more(struct ep *ep)
{
	struct ep_tree t;
	uint64_t idx = ep->v_size + 1, v = ep->v_verified;

	ep_need_good(ep);
	ep_tree_history(ep, &t, idx + 1, 0);
	ep_step_frame(ep, "proof-in-more", FRAME_OOO,
		      ep_ooo_more(ep, &t, idx, v - 1, v, 0, NULL));
	/* The victim now holds the checkpoint of size idx + 1. */
	ep_tree_history(ep, &t, idx + 3, 0);
	ep_step_frame(ep, "corrupt-proof-in-more", FRAME_OOO,
		      ep_ooo_more(ep, &t, idx + 2, v - 1, idx + 1, 1, NULL));
	ep_step_frame(ep, "more-not-proofs", FRAME_OOO,
		      ep_ooo_more(ep, &t, idx + 2, v - 1, idx + 1, 0, json_string("x")));
}

/* Runs marked urgent (docs/protocol.md, ENTRIES "urgent"): in the exact
 * form a node writes (the receiver's fast path), then in another JSON
 * spelling (keys sorted, indented: the general path).  The mark only
 * schedules the receiver's commit: both are verified, stored and ACKed
 * like any run. */
static void sc_urgent(struct ep *ep)
{
	struct ep_tree t;
	uint64_t s = ep->v_size;
	json_t *b;
	char *txt;
	uint8_t *frame;
	size_t len;

	ep_need_good(ep);
	ep_tree_history(ep, &t, s + 3, 0);
	b = ep_entries(ep, s, 3, 0, ep_cp(ep, &t));
	json_object_set_new(b, "urgent", json_true());
	ep_step_frame(ep, "fast", FRAME_ENTRIES, b);
	ep_tree_history(ep, &t, s + 5, 0);
	b = ep_entries(ep, s + 3, 2, 0, ep_cp(ep, &t));
	json_object_set_new(b, "urgent", json_true());
	txt = json_dumps(b, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(b);
	if (txt == NULL)
		ep_die("%s", "json_dumps failed");
	len = strlen(txt);
	if ((frame = malloc(FRAME_HDR + len)) == NULL)
		ep_die("%s", "out of memory");
	frame_header(frame, FRAME_ENTRIES, len);
	memcpy(frame + FRAME_HDR, txt, len);
	ep_step_raw(ep, "general", 1, frame, FRAME_HDR + len);
	free(frame);
	free(txt);
}

static const struct {
	const char *name;
	void (*fn)(struct ep *);
} scenarios[] = {
	{ "good", sc_good },         { "badsig", sc_badsig },     { "badroot", sc_badroot },
	{ "badproof", sc_badproof }, { "fork", sc_fork },         { "replay", sc_replay },
	{ "oversize", sc_oversize }, { "garbage", sc_garbage },   { "wrongkey", sc_wrongkey },
	{ "stall", sc_stall },       { "bigindex", sc_bigindex }, { "stalefrom", sc_stalefrom },
	{ "more", sc_more },         { "urgent", sc_urgent },
};

int main(int argc, char **argv)
{
	struct ep ep;
	struct node_conf conf;
	struct note_signer lk;
	struct perr e;
	char path[4200], *buf, *colon;
	size_t len, i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc != 5) {
		fprintf(stderr, "usage: evilpeer EVILDIR VICTIM_ADDR VICTIM_CARDFILE SCENARIO\n"
			"scenarios:");
		for (i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
			fprintf(stderr, " %s", scenarios[i].name);
		fprintf(stderr, "\n");
		return 1;
	}
	memset(&ep, 0, sizeof ep);
	snprintf(ep.dir, sizeof ep.dir, "%s", argv[1]);
	ep.scenario = argv[4];
	if (nodedir_load_conf(ep.dir, &conf, &e) != 0)
		ep_die("%s", e.msg);
	snprintf(ep.me, sizeof ep.me, "%s", conf.name);
	if (file_read(argv[3], 65536, 0, &buf, &len, &e) != 0 ||
	    card_open(&ep.victim, buf, len, &e) != 0)
		ep_die("victim card: %s", e.msg);
	free(buf);
	snprintf(ep.host, sizeof ep.host, "%s", argv[2]);
	colon = strrchr(ep.host, ':');
	if (colon == NULL || strlen(colon + 1) >= sizeof ep.port)
		ep_die("VICTIM_ADDR %s is not host:port", argv[2]);
	*colon = '\0';
	snprintf(ep.port, sizeof ep.port, "%s", colon + 1);
	if (ep.host[0] == '[' && colon[-1] == ']') {
		colon[-1] = '\0';
		memmove(ep.host, ep.host + 1, strlen(ep.host));
	}
	snprintf(ep.origin, sizeof ep.origin, "%s/to/%s", ep.me, ep.victim.name);
	if (nodedir_path(path, sizeof path, ep.dir, "log.key", &e) != 0 ||
	    file_read(path, 4096, 1, &buf, &len, &e) != 0 ||
	    note_signer_parse(&lk, buf, len, &e) != 0 ||
	    note_signer_from_seed(&ep.signer, ep.origin, NOTE_ALG_ED25519, lk.seed, &e) != 0)
		ep_die("log key: %s", e.msg);
	note_signer_wipe(&lk);
	free(buf);
	for (i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
		if (strcmp(scenarios[i].name, ep.scenario) == 0)
			break;
	if (i == sizeof scenarios / sizeof scenarios[0])
		ep_die("unknown scenario %s", ep.scenario);
	/* Scenarios that extend the victim's copy learn its size first. */
	if (strcmp(ep.scenario, "wrongkey") != 0) {
		struct ep_conn c;
		ep_connect(&ep, &c, 1);
		printf("info victim %s holds %llu entries of %s (verified %llu)\n",
		       ep.victim.name, (unsigned long long)ep.v_size, ep.origin,
		       (unsigned long long)ep.v_verified);
		ep_close(&c);
	}
	scenarios[i].fn(&ep);
	note_signer_wipe(&ep.signer);
	return 0;
}
