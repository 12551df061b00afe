/*
 * link.c — the paths between nodes (docs/protocol.md, "The link").
 *
 * Each node dials every address of every peer: one outgoing path per
 * address, carrying our log to that peer.  The peer answers on the same
 * path (ACK, COSIG, PONG).  Its paths to us arrive as incoming connections
 * and carry its log.  So each direction has its own redundant paths, and
 * the side that holds the data decides what to send and when.
 *
 * Delivery by precedence (DESIGN principle 3).  Entries are in the log in
 * submission order.  Any FLASH, then IMMEDIATE, then PRIORITY entry not yet
 * sent goes at once, out of order with its proofs (OOO); in-order runs
 * (ENTRIES, small so that they pipeline) are sent only while fewer than
 * LINK_WINDOW bytes of them are unacknowledged on the one active path.  A
 * FLASH therefore waits at most for a window's worth of bytes already
 * written, never for the backlog behind it.
 *
 * Liveness.  The dialing side sends PING every LINK_PING_MS; either side
 * closes a path that has been silent for LINK_DEAD_MS, so a dead path is
 * marked down within about four seconds, and traffic continues on another
 * path from the receiver's last ACK.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/err.h>

#include "b64.h"
#include "frame.h"
#include "jsonfast.h"
#include "nodeint.h"
#include "tls.h"

static void link_connect(struct link *l);
static void link_read(struct bufferevent *bev, void *arg);
/* A read or a run larger than this is bulk traffic (link_read,
 * link_write_priority). */
#define LINK_BULK_READ (16 * 1024)
static void link_event(struct bufferevent *bev, short what, void *arg);

static int link_sockaddr(const char *addr, struct sockaddr_storage *ss,
			 int *sslen)
{
	*sslen = sizeof *ss;
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)ss, sslen) == 0)
		return 0;
	/* A host name: resolve it (at start and on reconnect only). */
	{
		char host[CARD_ADDR_MAX + 1], *colon;
		struct addrinfo hints, *res;
		snprintf(host, sizeof host, "%s", addr);
		colon = strrchr(host, ':');
		if (colon == NULL)
			return -1;
		*colon = '\0';
		memset(&hints, 0, sizeof hints);
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
			return -1;
		memcpy(ss, res->ai_addr, res->ai_addrlen);
		*sslen = (int)res->ai_addrlen;
		freeaddrinfo(res);
		return 0;
	}
}

/* A frame goes to the path's output in one piece: the TLS layer seals each
 * piece of that buffer as records of its own and writes each at once, so
 * a header apart from its body cost a record, a write and, at the other
 * end, a wakeup that finds half a frame. */
static void link_write_frame(struct link *l, const uint8_t *hdr, const void *body,
			     size_t len)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL || evbuffer_expand(b, FRAME_HDR + len) != 0 ||
	    evbuffer_add(b, hdr, FRAME_HDR) != 0 || evbuffer_add(b, body, len) != 0 ||
	    bufferevent_write_buffer(l->bev, b) != 0) {
		/* Out of memory: the frame is lost to this path, as on a cut;
		 * what it carried is sent again (nothing unreceived is ever
		 * acknowledged). */
		node_log(l->n, "path %s: cannot queue a frame of %zu bytes", l->addr, len);
	}
	if (b)
		evbuffer_free(b);
}

/* Writes on a path go at the loop's first priority while what it carries
 * is urgent or small (an entry out of order, a receipt), so that they are
 * not queued behind the bulk flush under way; at the common one while it
 * carries runs of a backlog.  A path to us takes its priority from what it
 * brings (link_read), but an urgent frame written on it lifts it: one
 * event carries the path's reads and writes, so a receipt written on the
 * path that brings the backlog would otherwise wait for the bulk flushes
 * like the runs it reads.  (As for reads: a priority cannot change
 * while the path's event is active; it is set again at the next frame.) */
static void link_write_priority(struct link *l, int urgent)
{
	if (l->bev && (l->outgoing || urgent))
		(void)bufferevent_priority_set(l->bev, urgent ? 0 : 1);
}

void link_send(struct link *l, int type, json_t *body)
{
	uint8_t hdr[FRAME_HDR];
	char *s;
	size_t len;

	if (body == NULL)
		return;
	s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (s == NULL || l->bev == NULL) {
		free(s);
		return;
	}
	len = strlen(s);
	if (len >= FRAME_MAX) {
		node_log(l->n, "internal: %s frame of %zu bytes not sent",
			 frame_type_name(type), len);
		free(s);
		return;
	}
	frame_header(hdr, type, len);
	link_write_frame(l, hdr, s, len);
	free(s);
}

static const char *link_who(const struct link *l)
{
	return l->peer ? l->peer->card.name : "unknown peer";
}

/* The sender's state for the active path starts again from the receiver's
 * last ACK: what it holds is never sent twice on purpose, and what it did
 * not acknowledge is sent again. */
void link_reset_sender(struct npeer *p)
{
	p->next_inorder = p->r_size;
	p->sent_cp = p->r_verified;
	p->inflight = 0;
	p->nfly = 0;
	p->noofly = 0;
	idxset_clear(&p->ooo_sent);
}

static void link_pick_active(struct npeer *p)
{
	size_t i;

	p->active = NULL;
	for (i = 0; i < p->npaths; i++) {
		struct link *l = p->paths[i];
		if (l->state == LINK_READY && l->up_since_ms > 0) {
			p->active = l;
			node_log(p->n, "path %s -> %s active for %s", l->addr, p->card.name,
				 p->out_origin);
			link_reset_sender(p);
			link_deliver(p);
			return;
		}
	}
}

void link_down(struct link *l, const char *why)
{
	struct node *n = l->n;
	struct npeer *p = l->peer;

	if (l->bev) {
		bufferevent_free(l->bev);
		l->bev = NULL;
	}
	if (l->state == LINK_READY || l->state == LINK_GREETING)
		node_log(n, "path %s %s %s down: %s", l->addr, l->outgoing ? "->" : "<-",
			 link_who(l), why);
	l->state = LINK_DOWN;
	l->up_since_ms = 0;
	l->paused = 0;
	l->closing = 0;
	if (l->outgoing) {
		struct timeval tv;
		if (p && p->active == l)
			link_pick_active(p);
		tv.tv_sec = l->backoff_ms / 1000;
		tv.tv_usec = (l->backoff_ms % 1000) * 1000;
		l->backoff_ms = l->backoff_ms * 2 > 4000 ? 4000 : l->backoff_ms * 2;
		evtimer_add(l->retry, &tv);
	} else {
		/* Incoming: forget it (the flush list may still name it). */
		struct link **pp;
		for (pp = &n->incoming; *pp; pp = &(*pp)->next)
			if (*pp == l) {
				*pp = l->next;
				break;
			}
		if (l->in_flush_list || l->holds) {
			l->peer = NULL; /* freed by link_release after the flush */
			return;
		}
		free(l);
	}
}

/* Closes the path once what is queued (an ERROR frame) has been written;
 * reads nothing more meanwhile.  A peer that does not read is cut off by
 * the silence rule (link_tick). */
static void link_drained(struct bufferevent *bev, void *arg)
{
	struct link *l = arg;

	(void)bev;
	link_down(l, l->close_why);
}

static void link_close_after_write(struct link *l, const char *why)
{
	snprintf(l->close_why, sizeof l->close_why, "%s", why);
	l->closing = 1;
	l->paused = 1;
	if (l->bev == NULL) {
		link_down(l, why);
		return;
	}
	bufferevent_disable(l->bev, EV_READ);
	bufferevent_setwatermark(l->bev, EV_WRITE, 0, 0);
	bufferevent_setcb(l->bev, NULL, link_drained, link_event, l);
	if (evbuffer_get_length(bufferevent_get_output(l->bev)) == 0)
		link_down(l, why);
}

/* A peer sent something we refuse: an alarm with the evidence, an ERROR
 * frame, and the path is closed.  The node keeps serving. */
static void link_reject(struct link *l, const char *kind, const uint8_t *ev,
			size_t evlen, const char *why)
{
	char evb[B64_ENCLEN(256) + 1];
	size_t n = evlen > 256 ? 256 : evlen;

	b64_encode(evb, ev, n);
	node_alarm(l->n, kind, l->peer ? l->peer->card.name : NULL, NULL, evb,
		   "path %s: %s", l->addr, why);
	link_send(l, FRAME_ERROR, json_pack("{s:s}", "error", why));
	link_close_after_write(l, why);
}

/* ---- sending our log --------------------------------------------------- */

/* An ENTRIES body, written straight into a buffer: entries are base64 (no
 * JSON escaping needed), so only the origin and the checkpoint go through
 * the JSON encoder.  The same bytes json_dumps would give, less the work. */
struct link_run {
	struct evbuffer *buf;
	size_t bytes;
	uint64_t end;
	int n;
};

/* Adds whole entries until the run's byte budget is spent (1 stops the
 * scan). */
static int link_run_add(void *ctx, uint64_t idx, const uint8_t *d, size_t len)
{
	struct link_run *r = ctx;
	struct evbuffer_iovec v;

	if (r->bytes > 0 && r->bytes + len > LINK_RUN_BYTES)
		return 1;
	if (evbuffer_reserve_space(r->buf, (ev_ssize_t)B64_ENCLEN(len) + 3, &v, 1) < 1)
		return -1;
	char *p = v.iov_base;
	size_t k = 0;
	if (r->n > 0)
		p[k++] = ',';
	p[k++] = '"';
	k += b64_encode(p + k, d, len);
	p[k++] = '"';
	v.iov_len = k;
	evbuffer_commit_space(r->buf, &v, 1);
	r->bytes += len;
	r->end = idx + 1;
	r->n++;
	return 0;
}

static void link_json_str(struct evbuffer *b, const char *s)
{
	json_t *j = json_string(s);
	char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;

	if (t)
		evbuffer_add(b, t, strlen(t));
	free(t);
	json_decref(j);
}

/* Queues the next run on l: 1 if it carries an urgent entry, 0 if not,
 * -1 if nothing could be sent. */
static int link_send_run(struct npeer *p, struct link *l, uint64_t size)
{
	struct perr e;
	struct link_run r = { evbuffer_new(), 0, p->next_inorder, 0 };
	uint64_t end, hi = size - p->next_inorder > LINK_RUN_MAX ? p->next_inorder + LINK_RUN_MAX
							       : size;
	uint8_t hdr[FRAME_HDR];
	char *cp = NULL;
	int pr, urgent = 0;

	if (r.buf == NULL)
		return -1;
	/* One piece (link_write_frame): room for the whole frame, the header
	 * first, filled in at the end. */
	memset(hdr, 0, sizeof hdr);
	if (evbuffer_expand(r.buf, B64_ENCLEN(LINK_RUN_BYTES) + 4096) != 0 ||
	    evbuffer_add(r.buf, hdr, sizeof hdr) != 0) {
		evbuffer_free(r.buf);
		return -1;
	}
	evbuffer_add(r.buf, "{\"origin\":", 10);
	link_json_str(r.buf, p->out_origin);
	evbuffer_add_printf(r.buf, ",\"first\":%llu,\"entries\":[",
			    (unsigned long long)p->next_inorder);
	/* The run: whole entries up to the byte and count limits, read in
	 * one scan. */
	e.msg[0] = '\0';
	if (store_entries(p->out, p->next_inorder, hi, link_run_add, &r, &e) < 0)
		r.end = p->next_inorder;
	end = r.end;
	if (end == p->next_inorder || node_sign_checkpoint(p, end, &cp, &e) != 0) {
		evbuffer_free(r.buf);
		node_log(p->n, "cannot send %s from %llu: %s", p->out_origin,
			 (unsigned long long)p->next_inorder, e.msg);
		return -1;
	}
	evbuffer_add(r.buf, "],\"checkpoint\":", 15);
	link_json_str(r.buf, cp);
	/* A run that carries an urgent entry (a FLASH receipt, say, when
	 * nothing was queued before it) is committed by the receiver at once,
	 * not with its bulk work; one the receiver already got out of order
	 * does not count.  The urgent sets are small (not yet receipted). */
	for (pr = 0; pr < 3 && !urgent; pr++) {
		const struct idxset *u = &p->urgent[pr];
		for (size_t k = 0; k < u->n && !urgent; k++)
			urgent = u->v[k] >= p->next_inorder && u->v[k] < end &&
				 !idxset_has(&p->ooo_sent, u->v[k]);
	}
	evbuffer_add_printf(r.buf, "%s}", urgent ? ",\"urgent\":true" : "");
	free(cp);
	if (evbuffer_get_length(r.buf) - sizeof hdr >= FRAME_MAX) {
		evbuffer_free(r.buf);
		node_log(p->n, "internal: run of %s from %llu over the frame limit",
			 p->out_origin, (unsigned long long)p->next_inorder);
		return -1;
	}
	frame_header(hdr, FRAME_ENTRIES, evbuffer_get_length(r.buf) - sizeof hdr);
	{
		/* The header's place is in the first piece (evbuffer_expand
		 * above), so this copies nothing. */
		unsigned char *h = evbuffer_pullup(r.buf, sizeof hdr);
		if (h == NULL) {
			evbuffer_free(r.buf);
			return -1;
		}
		memcpy(h, hdr, sizeof hdr);
	}
	link_write_priority(l, urgent || r.bytes <= LINK_BULK_READ);
	bufferevent_write_buffer(l->bev, r.buf);
	evbuffer_free(r.buf);
	p->fly[p->nfly].end = end;
	p->fly[p->nfly++].bytes = r.bytes;
	p->inflight += r.bytes;
	p->next_inorder = end;
	if (end > p->sent_cp)
		p->sent_cp = end;
	return urgent;
}

static json_t *link_proof_json(const merkle_hash *h, size_t n)
{
	json_t *a = json_array();
	char b[B64_ENCLEN(32) + 1];
	size_t i;

	for (i = 0; i < n; i++) {
		b64_encode(b, h[i], 32);
		json_array_append_new(a, json_string(b));
	}
	return a;
}

/* The sizes the receiver may have verified last when an urgent entry sent
 * on another path than the runs reaches it: what it acknowledged, and the
 * end of each run in flight (runs are verified in order).  One proof each
 * goes with the frame ("more"), so that it can be checked on arrival
 * rather than after the runs. */
static json_t *link_more_proofs(struct npeer *p, uint64_t size, struct perr *e)
{
	uint64_t froms[LINK_OOO_FROMS];
	size_t nf = 0, i, k;
	json_t *more = json_array();

	for (i = p->nfly + 1; i-- > 0 && nf < LINK_OOO_FROMS;) {
		uint64_t f = i == p->nfly ? p->r_verified : p->fly[i].end;
		int seen = f == 0 || f >= size || f == p->sent_cp;
		for (k = 0; k < nf && !seen; k++)
			seen = froms[k] == f;
		if (!seen)
			froms[nf++] = f;
	}
	for (k = 0; k < nf && more; k++) {
		merkle_hash cons[MERKLE_MAX_PROOF];
		size_t nc = 0;
		if (store_prove_consistency(p->out, froms[k], size, cons, &nc, e) != 0) {
			json_decref(more);
			return NULL;
		}
		json_array_append_new(more, json_pack("{s:I, s:o}", "from", (json_int_t)froms[k],
						      "consistency", link_proof_json(cons, nc)));
	}
	return more;
}

static int link_send_ooo(struct npeer *p, struct link *l, uint64_t idx,
			 uint64_t size)
{
	struct perr e;
	merkle_hash incl[MERKLE_MAX_PROOF], cons[MERKLE_MAX_PROOF];
	size_t ni = 0, nc = 0;
	uint8_t *d;
	size_t len;
	char *cp = NULL, *b;
	json_t *more = NULL;

	if (store_entry(p->out, idx, &d, &len, &e) != 0)
		return -1;
	if (node_sign_checkpoint(p, size, &cp, &e) != 0 ||
	    store_prove_inclusion(p->out, idx, size, incl, &ni, &e) != 0 ||
	    (p->sent_cp > 0 && p->sent_cp < size &&
	     store_prove_consistency(p->out, p->sent_cp, size, cons, &nc, &e) != 0) ||
	    (l != p->active && (more = link_more_proofs(p, size, &e)) == NULL)) {
		free(d);
		free(cp);
		node_log(p->n, "cannot send %s/%llu out of order: %s", p->out_origin,
			 (unsigned long long)idx, e.msg);
		return -1;
	}
	b = malloc(B64_ENCLEN(len) + 1);
	if (b == NULL) {
		free(d);
		free(cp);
		return -1;
	}
	b64_encode(b, d, len);
	free(d);
	link_send(l, FRAME_OOO,
		  json_pack("{s:s, s:I, s:s, s:s, s:o, s:I, s:o, s:o*}", "origin", p->out_origin,
			    "index", (json_int_t)idx, "entry", b, "checkpoint", cp,
			    "inclusion", link_proof_json(incl, ni), "from",
			    (json_int_t)p->sent_cp, "consistency", link_proof_json(cons, nc),
			    "more", more));
	free(b);
	free(cp);
	link_write_priority(l, 1);
	idxset_add(&p->ooo_sent, idx);
	p->oofly[p->noofly].idx = idx;
	p->oofly[p->noofly++].bytes = len;
	if (size > p->sent_cp)
		p->sent_cp = size;
	return 0;
}

/* The most urgent entry not yet sent or held, or -1. */
static int64_t link_next_urgent(struct npeer *p)
{
	int pr;
	size_t i;

	for (pr = 0; pr < 3; pr++) {
		struct idxset *u = &p->urgent[pr];
		idxset_del_below(u, p->r_size);
		for (i = 0; i < u->n && u->v[i] < p->dout_size; i++) {
			uint64_t idx = u->v[i];
			if (idxset_has(&p->r_also, idx) || idx < p->next_inorder ||
			    idxset_has(&p->ooo_sent, idx))
				continue;
			return (int64_t)idx;
		}
	}
	return -1;
}

/* The path for urgent entries: another ready path than the active one if
 * there is one (nothing of the window is queued on it, so the receiver
 * reads the entry at once), else the active one. */
static struct link *link_urgent_path(struct npeer *p)
{
	size_t i;

	for (i = 0; i < p->npaths; i++) {
		struct link *l = p->paths[i];
		if (l != p->active && l->state == LINK_READY && l->bev && !l->closing &&
		    l->up_since_ms > 0)
			return l;
	}
	return p->active;
}

void link_deliver(struct npeer *p)
{
	struct link *l = p->active;
	uint64_t size = p->dout_size; /* only what is durable leaves */
	int bulk = 0, urgent = 0, rc;

	if (l == NULL || l->state != LINK_READY || l->bev == NULL)
		return;
	/* Urgent entries do not wait for the window: they are few and small,
	 * and the window exists so that they never wait behind much. */
	for (;;) {
		int64_t u = link_next_urgent(p);
		if (u < 0 || (uint64_t)u == p->next_inorder ||
		    p->noofly == sizeof p->oofly / sizeof p->oofly[0] ||
		    link_send_ooo(p, link_urgent_path(p), (uint64_t)u, size) != 0)
			break;
		urgent = 1;
	}
	while (p->inflight < LINK_WINDOW) {
		if (p->next_inorder < size && p->nfly < sizeof p->fly / sizeof p->fly[0]) {
			if ((rc = link_send_run(p, l, size)) < 0)
				break;
			urgent |= rc;
			bulk |= !rc;
			continue;
		}
		break;
	}
	/* The frames are queued, not yet written: the loop writes them when
	 * it next turns.  Urgent ones must not wait for a yield. */
	if (bulk && !urgent)
		node_bulk_yield(p->n);
}

/* No out-of-order frame in flight: the receiver's latest verified
 * checkpoint is what it ACKed, or the end of a run still in flight (runs
 * are verified in order).  An OOO frame the receiver had to ignore thus
 * never leaves the next proofs starting elsewhere. */
static void link_sent_cp_reset(struct npeer *p)
{
	uint64_t cp = p->r_verified;
	size_t i;

	for (i = 0; i < p->nfly; i++)
		if (p->fly[i].end > cp)
			cp = p->fly[i].end;
	p->sent_cp = cp;
}

/* "resend": out-of-order entries the receiver ignored (their proof
 * started at a size it had verified past).  Those still unheld and sent
 * by us leave the frames in flight, to go again with proofs from the
 * size this ACK reports.  Returns how many, or -1 on a malformed list. */
int link_rx_resend(struct npeer *p, json_t *redo, struct perr *e)
{
	json_t *v;
	size_t i, k;
	int again = 0;

	if (redo == NULL)
		return 0;
	if (!json_is_array(redo) || json_array_size(redo) > ENV_MAX_ALSO)
		return perr_set(e, "ACK: resend is not an array of at most %d indices",
				ENV_MAX_ALSO);
	json_array_foreach(redo, i, v)
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return perr_set(e, "ACK: resend[%zu] is not an index", i);
	json_array_foreach(redo, i, v) {
		uint64_t idx = (uint64_t)json_integer_value(v);
		if (idx < p->r_size || idxset_has(&p->r_also, idx) ||
		    !idxset_has(&p->ooo_sent, idx))
			continue; /* held after all, or never sent out of order */
		idxset_del(&p->ooo_sent, idx);
		for (k = 0; k < p->noofly; k++)
			if (p->oofly[k].idx == idx) {
				p->oofly[k] = p->oofly[--p->noofly];
				break;
			}
		again++;
	}
	return again;
}

int link_rx_ack(struct link *l, json_t *body, struct perr *e)
{
	struct npeer *p = l->peer;
	json_t *also = json_object_get(body, "also"), *v;
	json_t *js = json_object_get(body, "size"), *jv = json_object_get(body, "verified");
	const char *origin = json_string_value(json_object_get(body, "origin"));
	uint64_t size, verified, out = p->dout_size, prev = 0;
	size_t i, k;
	int again;

	if (origin == NULL || !json_is_integer(js) || !json_is_integer(jv) ||
	    !json_is_array(also) || json_array_size(also) > ENV_MAX_ALSO)
		return perr_set(e, "ACK: needs origin, size, also, verified");
	if (strcmp(origin, p->out_origin) != 0)
		return perr_set(e, "ACK: origin \"%.100s\" is not our log to %s", origin,
				p->card.name);
	size = (uint64_t)json_integer_value(js);
	verified = (uint64_t)json_integer_value(jv);
	if (json_integer_value(js) < 0 || json_integer_value(jv) < 0 || size > out ||
	    verified > out)
		return perr_set(e, "ACK: size %llu / verified %llu beyond our log's %llu",
				(unsigned long long)size, (unsigned long long)verified,
				(unsigned long long)out);
	idxset_clear(&p->r_also);
	json_array_foreach(also, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    (uint64_t)json_integer_value(v) >= out ||
		    (i > 0 && (uint64_t)json_integer_value(v) <= prev))
			return perr_set(e, "ACK: also[%zu] is not an index of our log in "
					"increasing order", i);
		prev = (uint64_t)json_integer_value(v);
		idxset_add(&p->r_also, prev);
	}
	p->r_size = size;
	p->r_verified = verified;
	if ((again = link_rx_resend(p, json_object_get(body, "resend"), e)) < 0)
		return -1;
	if (l->up_since_ms == 0)
		l->up_since_ms = node_now_ms();
	if (p->active == NULL) {
		link_pick_active(p);
		return 0;
	}
	if (p->active != l) {
		/* The ACK of the path an OOO frame went by: what it asks for
		 * again goes now. */
		if (again > 0) {
			if (p->noofly == 0)
				link_sent_cp_reset(p);
			link_deliver(p);
		}
		return 0;
	}
	if (p->next_inorder < size)
		p->next_inorder = size; /* e.g. entries sent on a path now down */
	for (i = 0, k = 0; i < p->nfly; i++) {
		if (p->fly[i].end <= size)
			p->inflight -= p->fly[i].bytes;
		else
			p->fly[k++] = p->fly[i];
	}
	p->nfly = k;
	for (i = 0, k = 0; i < p->noofly; i++) {
		if (p->oofly[i].idx >= size && !idxset_has(&p->r_also, p->oofly[i].idx))
			p->oofly[k++] = p->oofly[i];
	}
	p->noofly = k;
	if (p->noofly == 0)
		link_sent_cp_reset(p);
	link_deliver(p);
	return 0;
}

/* ---- frames ------------------------------------------------------------ */

static int link_hello_check(struct link *l, json_t *b, struct perr *e)
{
	json_t *v = json_object_get(b, "v");
	const char *name = json_string_value(json_object_get(b, "node"));

	if (!json_is_integer(v) || json_integer_value(v) != 1)
		return perr_set(e, "protocol version is not 1");
	if (name == NULL || l->peer == NULL || strcmp(name, l->peer->card.name) != 0)
		return perr_set(e, "says it is \"%.64s\" but holds the key of %s",
				name ? name : "", link_who(l));
	return 0;
}

static void link_pong(struct link *l, json_t *b)
{
	json_t *t = json_object_get(b, "t"), *pt = json_object_get(b, "peer_time");
	int64_t now = node_now_ms();

	l->last_pong_ms = now;
	if (json_is_integer(t) && json_integer_value(t) <= now) {
		l->rtt_ms = now - json_integer_value(t);
		if (json_is_integer(pt) && l->peer) {
			l->peer->skew_ms = json_integer_value(pt) -
					   (json_integer_value(t) + l->rtt_ms / 2);
			l->peer->skew_known = 1;
		}
	}
}

/* The end of the JSON string token starting at s[0] == '"' (the index
 * after its closing quote), or 0. */
static size_t link_str_end(const char *s, size_t n)
{
	size_t i;

	for (i = 1; i < n; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return 0;
}

/* ENTRIES as this node writes them, parsed without building a JSON tree
 * for the entries (they are most of the bytes):
 *   {"origin":S,"first":N,"entries":["B64",...],"checkpoint":S}
 * or the same with ,"urgent":true before the last brace, exactly, no
 * whitespace; S decoded by jansson.  Anything else returns
 * NULL and the frame takes the general JSON path, so both accept the same
 * frames.  On success *b64 and *b64len (malloc'd) point into body. */
static json_t *link_entries_fast(const char *b, size_t n, const char ***b64,
				 size_t **b64len, size_t *cnt)
{
	static const char k1[] = "{\"origin\":", k2[] = ",\"first\":",
			  k3[] = ",\"entries\":[", k4[] = "],\"checkpoint\":",
			  k5[] = ",\"urgent\":true";
	size_t i = 0, e, cap = 0, m = 0;
	int urgent = 0;
	const char **pv = NULL;
	size_t *lv = NULL;
	json_t *origin = NULL, *cp = NULL, *o = NULL;
	uint64_t first = 0;

#define EXPECT(k) \
	do { \
		if (n - i < sizeof(k) - 1 || memcmp(b + i, k, sizeof(k) - 1) != 0) \
			goto no; \
		i += sizeof(k) - 1; \
	} while (0)
	EXPECT(k1);
	if (i >= n || b[i] != '"' || (e = link_str_end(b + i, n - i)) == 0)
		goto no;
	origin = json_loadb(b + i, e, JSON_DECODE_ANY, NULL);
	i += e;
	EXPECT(k2);
	if (i >= n || b[i] < '0' || b[i] > '9' || (b[i] == '0' && i + 1 < n && b[i + 1] >= '0' &&
						   b[i + 1] <= '9'))
		goto no;
	while (i < n && b[i] >= '0' && b[i] <= '9') {
		if (first > (UINT64_C(1) << 53))
			goto no;
		first = first * 10 + (uint64_t)(b[i++] - '0');
	}
	EXPECT(k3);
	while (i < n && b[i] == '"') {
		size_t j = i + 1;
		while (j < n && b[j] != '"') {
			char c = b[j];
			if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			      (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '='))
				goto no;
			j++;
		}
		if (j >= n || m == LINK_RUN_MAX + 1)
			goto no;
		if (m == cap) {
			cap = cap ? cap * 2 : 256;
			const char **np = realloc(pv, cap * sizeof *pv);
			size_t *nl = np ? realloc(lv, cap * sizeof *lv) : NULL;
			if (np)
				pv = np;
			if (nl == NULL)
				goto no;
			lv = nl;
		}
		pv[m] = b + i + 1;
		lv[m++] = j - i - 1;
		i = j + 1;
		if (i < n && b[i] == ',' && i + 1 < n && b[i + 1] == '"')
			i++;
	}
	EXPECT(k4);
	if (i >= n || b[i] != '"' || (e = link_str_end(b + i, n - i)) == 0)
		goto no;
	cp = json_loadb(b + i, e, JSON_DECODE_ANY, NULL);
	i += e;
	if (n - i > sizeof k5 - 1 && memcmp(b + i, k5, sizeof k5 - 1) == 0) {
		urgent = 1;
		i += sizeof k5 - 1;
	}
	if (i + 1 != n || b[i] != '}' || !json_is_string(origin) || !json_is_string(cp) || m == 0)
		goto no;
#undef EXPECT
	o = json_pack("{s:o, s:I, s:o, s:b}", "origin", origin, "first", (json_int_t)first,
		      "checkpoint", cp, "urgent", urgent);
	*b64 = pv;
	*b64len = lv;
	*cnt = m;
	return o;
no:
	json_decref(origin);
	json_decref(cp);
	free(pv);
	free(lv);
	return NULL;
}

/* ENTRIES: the fast form, or any JSON spelling of it. */
static int link_rx_entries(struct link *l, const uint8_t *body, size_t len,
			   json_t *parsed, struct perr *e)
{
	const char **pv = NULL;
	size_t *lv = NULL, cnt = 0, i;
	json_t *b = parsed, *arr, *v;
	int rc;

	if (b == NULL)
		b = link_entries_fast((const char *)body, len, &pv, &lv, &cnt);
	if (b == NULL)
		return 1; /* not the fast form: parse it whole */
	if (pv == NULL) {
		arr = json_object_get(b, "entries");
		if (!json_is_array(arr))
			return perr_set(e, "ENTRIES: needs origin, first, entries, checkpoint");
		cnt = json_array_size(arr);
		pv = calloc(cnt ? cnt : 1, sizeof *pv);
		lv = calloc(cnt ? cnt : 1, sizeof *lv);
		if (pv == NULL || lv == NULL) {
			free(pv);
			free(lv);
			return perr_set(e, "out of memory");
		}
		json_array_foreach(arr, i, v) {
			pv[i] = json_string_value(v);
			lv[i] = json_string_length(v);
		}
	}
	rc = node_rx_entries(l->n, l, b, pv, lv, cnt, e);
	free(pv);
	free(lv);
	if (b != parsed)
		json_decref(b);
	return rc < 0 ? -1 : 0;
}

/* Handles one frame.  Returns 0 to go on, 1 to pause reading until the
 * next flush, -1 when the path was closed. */
static int link_frame(struct link *l, int type, const uint8_t *body,
		      size_t len)
{
	struct node *n = l->n;
	json_error_t jerr;
	json_t *b;
	struct perr e;
	int rc = 0;
	char why[PERR_MAX + 64];

	e.msg[0] = '\0';
	if (type == FRAME_ENTRIES && !l->outgoing && l->state == LINK_READY) {
		int r = link_rx_entries(l, body, len, NULL, &e);
		if (r == 0) {
			l->last_rx_ms = node_now_ms();
			return 0;
		}
		if (r < 0) {
			link_reject(l, "rejected-frame", body, len, e.msg);
			return -1;
		}
	}
	b = jfast_parse((const char *)body, len, 64);
	if (b == NULL)
		b = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (b == NULL || !json_is_object(b)) {
		snprintf(why, sizeof why, "%s frame body is not a JSON object: %s",
			 frame_type_name(type), b ? "not an object" : jerr.text);
		json_decref(b);
		link_reject(l, "bad-frame", body, len, why);
		return -1;
	}
	l->last_rx_ms = node_now_ms();
	if (l->outgoing) {
		switch (l->state == LINK_GREETING ? -type : type) {
		case -FRAME_WELCOME:
			if (link_hello_check(l, b, &e) != 0)
				break;
			link_send(l, FRAME_HELLO, json_pack("{s:i, s:s, s:I}", "v", 1, "node",
							    n->conf.name, "time",
							    (json_int_t)node_now_ms()));
			l->state = LINK_READY;
			l->backoff_ms = 250;
			node_log(n, "path %s -> %s up", l->addr, link_who(l));
			json_decref(b);
			return 0;
		case FRAME_ACK:
			rc = link_rx_ack(l, b, &e);
			break;
		case FRAME_COSIG:
			rc = node_rx_cosig(n, l, b, &e);
			break;
		case FRAME_PONG:
			link_pong(l, b);
			break;
		case FRAME_ERROR:
			snprintf(why, sizeof why, "peer says: %.200s",
				 json_string_value(json_object_get(b, "error"))
					 ? json_string_value(json_object_get(b, "error")) : "?");
			json_decref(b);
			link_down(l, why);
			return -1;
		default:
			perr_set(&e, "unexpected %s frame", frame_type_name(type));
			rc = -1;
		}
	} else {
		switch (l->state == LINK_GREETING ? -type : type) {
		case -FRAME_HELLO:
			if (link_hello_check(l, b, &e) != 0) {
				rc = -1;
				break;
			}
			l->state = LINK_READY;
			l->up_since_ms = node_now_ms();
			node_log(n, "path %s <- %s up", l->addr, link_who(l));
			link_send(l, FRAME_ACK, node_ack_body(l->peer));
			break;
		case FRAME_ENTRIES:
			rc = link_rx_entries(l, body, len, b, &e);
			break;
		case FRAME_OOO:
			rc = node_rx_ooo(n, l, b, &e);
			if (rc == 0)
				rc = 1; /* commit it before reading what follows */
			break;
		case FRAME_PING:
			link_send(l, FRAME_PONG,
				  json_pack("{s:O, s:I}", "t",
					    json_object_get(b, "t") ? json_object_get(b, "t")
								    : json_null(),
					    "peer_time", (json_int_t)node_now_ms()));
			break;
		case FRAME_ERROR:
			json_decref(b);
			link_down(l, "peer sent ERROR");
			return -1;
		default:
			perr_set(&e, "unexpected %s frame", frame_type_name(type));
			rc = -1;
		}
	}
	json_decref(b);
	if (rc < 0 || e.msg[0] != '\0') {
		if (e.msg[0] == '\0')
			snprintf(e.msg, sizeof e.msg, "%s frame refused", frame_type_name(type));
		link_reject(l, "rejected-frame", body, len, e.msg);
		return -1;
	}
	return rc;
}

/* Handles the whole frames that have arrived; returns the bytes they took,
 * or -1 when the path was closed (l may be gone). */
static long link_read_frames(struct link *l, struct bufferevent *bev)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	struct perr e;
	long took = 0;

	while (!l->paused && l->bev) {
		size_t have = evbuffer_get_length(in);
		const uint8_t *d;
		const uint8_t *body;
		size_t blen;
		int type, r;

		if (have < FRAME_HDR)
			break;
		d = evbuffer_pullup(in, FRAME_HDR);
		r = frame_peek(d, FRAME_HDR, &type, &body, &blen, &e);
		if (r < 0) {
			uint8_t ev[64];
			size_t k = evbuffer_copyout(in, ev, sizeof ev);
			link_reject(l, "bad-frame", ev, k, e.msg);
			return -1;
		}
		/* The header is sound; wait for the whole frame. */
		{
			uint32_t fl = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
				      (uint32_t)d[2] << 8 | d[3];
			if (have < 4 + (size_t)fl)
				break;
			d = evbuffer_pullup(in, 4 + (ev_ssize_t)fl);
			frame_peek(d, 4 + fl, &type, &body, &blen, &e);
		}
		r = link_frame(l, type, body, blen);
		if (r < 0)
			return -1;
		evbuffer_drain(in, FRAME_HDR + blen);
		took += (long)(FRAME_HDR + blen);
		if (r == 1) {
			l->paused = 1;
			bufferevent_disable(bev, EV_READ);
		}
	}
	return took;
}

/* A path to us is read at the loop's first priority while what it brings
 * is small (urgent entries out of order, a few receipts), and at the
 * common one while it carries runs: an urgent entry on a quiet path is
 * then read before the runs already waiting on the busy one.  (A priority
 * cannot change while the path's event is pending in the loop; it is
 * tried again after the next read.) */
static void link_read(struct bufferevent *bev, void *arg)
{
	struct link *l = arg;
	long took = link_read_frames(l, bev);

	if (took > 0 && l->bev == bev && !l->outgoing)
		bufferevent_priority_set(bev, took > LINK_BULK_READ ? 1 : 0);
	if (took > LINK_BULK_READ)
		node_bulk_yield(l->n);
}

int link_release(struct link *l)
{
	if (l->peer != NULL || l->outgoing)
		return 0;
	if (l->holds == 0 && !l->in_flush_list) {
		if (l->bev)
			bufferevent_free(l->bev);
		free(l); /* closed while a flush or a batch named it */
	}
	return 1;
}

void link_resume(struct link *l)
{
	if (link_release(l))
		return;
	if (l->paused && l->bev && !l->closing) {
		l->paused = 0;
		bufferevent_enable(l->bev, EV_READ);
		link_read(l->bev, l);
	}
}

static void link_event(struct bufferevent *bev, short what, void *arg)
{
	struct link *l = arg;
	struct node *n = l->n;
	struct perr e;
	char why[PERR_MAX + 64];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		l->last_rx_ms = node_now_ms();
		if (l->outgoing) {
			l->state = LINK_GREETING; /* nothing sent before WELCOME */
			return;
		}
		SSL *ssl = bufferevent_openssl_get_ssl(l->bev);
		uint8_t pub[32];
		size_t i;
		if (tls_peer_key(ssl, pub, &e) == 0)
			for (i = 0; i < n->npeers; i++)
				if (memcmp(n->peers[i]->card.tls_pub, pub, 32) == 0)
					l->peer = n->peers[i];
		if (l->peer == NULL) {
			link_down(l, "peer key is not pinned");
			return;
		}
		l->state = LINK_GREETING;
		link_send(l, FRAME_WELCOME, json_pack("{s:i, s:s, s:I}", "v", 1, "node",
						      n->conf.name, "time",
						      (json_int_t)node_now_ms()));
		return;
	}
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
		SSL *ssl = bufferevent_openssl_get_ssl(l->bev);
		unsigned long oe = bufferevent_get_openssl_error(l->bev);
		if (ssl && tls_pin_error(ssl, &e) != 0) {
			snprintf(why, sizeof why, "TLS refused: %s", e.msg);
			node_alarm(n, "wrong-key", l->peer ? l->peer->card.name : NULL, NULL,
				   NULL, "path %s: %s", l->addr, why);
		} else if (l->state == LINK_CONNECTING && l->outgoing &&
			   (oe == 0 || ERR_GET_LIB(oe) == ERR_LIB_SYS || ERR_GET_LIB(oe) == 0)) {
			snprintf(why, sizeof why, "cannot connect: %s",
				 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		} else if (oe) {
			char es[256];
			ERR_error_string_n(oe, es, sizeof es);
			snprintf(why, sizeof why, "TLS: %s", es);
			if (l->state == LINK_CONNECTING)
				node_log(n, "path %s %s %s: handshake failed: %s", l->addr,
					 l->outgoing ? "->" : "<-", link_who(l), why);
		} else if (what & BEV_EVENT_EOF) {
			snprintf(why, sizeof why, "closed by the peer");
		} else {
			snprintf(why, sizeof why, "%s", evutil_socket_error_to_string(
							       EVUTIL_SOCKET_ERROR()));
		}
		while ((oe = bufferevent_get_openssl_error(l->bev)) != 0)
			;
		ERR_clear_error();
		link_down(l, why);
	}
}

/* Frames are written as soon as they are ready (a FLASH must not wait for
 * Nagle's algorithm to meet a delayed ACK). */
static void link_nodelay(evutil_socket_t fd)
{
	int one = 1;

	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void link_setup_bev(struct link *l)
{
	bufferevent_openssl_set_allow_dirty_shutdown(l->bev, 1);
	bufferevent_setcb(l->bev, link_read, NULL, link_event, l);
	bufferevent_setwatermark(l->bev, EV_READ, 0, 4 * FRAME_MAX);
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);
}

static void link_connect(struct link *l)
{
	struct node *n = l->n;
	struct sockaddr_storage ss;
	int sslen;
	struct perr e;
	SSL *ssl;

	if (link_sockaddr(l->addr, &ss, &sslen) != 0) {
		link_down(l, "cannot resolve the address");
		return;
	}
	ssl = tls_ssl_new(n->cli_ctx, &l->peer->card.tls_pub, 1, &e);
	if (ssl == NULL) {
		node_log(n, "path %s: %s", l->addr, e.msg);
		link_down(l, "TLS setup failed");
		return;
	}
	l->bev = bufferevent_openssl_socket_new(n->base, -1, ssl,
						BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (l->bev == NULL) {
		SSL_free(ssl);
		link_down(l, "out of memory");
		return;
	}
	link_setup_bev(l);
	l->state = LINK_CONNECTING;
	l->last_rx_ms = node_now_ms();
	l->last_pong_ms = 0;
	l->up_since_ms = 0;
	if (bufferevent_socket_connect(l->bev, (struct sockaddr *)&ss, sslen) != 0)
		link_down(l, "connect failed");
	else
		link_nodelay(bufferevent_getfd(l->bev));
}

static void link_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	link_connect(arg);
}

static void link_accept(struct evconnlistener *lis, evutil_socket_t fd,
			struct sockaddr *sa, int salen, void *arg)
{
	struct node *n = arg;
	struct link *l = calloc(1, sizeof *l);
	struct perr e;
	SSL *ssl;
	char host[128] = "?";

	(void)lis;
	(void)salen;
	if (sa->sa_family == AF_INET)
		evutil_inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, host, sizeof host);
	else if (sa->sa_family == AF_INET6)
		evutil_inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, host,
				 sizeof host);
	ssl = l ? tls_ssl_new(n->srv_ctx, (const uint8_t(*)[32])n->pins, n->npeers, &e) : NULL;
	if (ssl == NULL) {
		free(l);
		evutil_closesocket(fd);
		return;
	}
	l->n = n;
	snprintf(l->addr, sizeof l->addr, "%s:%u", host,
		 sa->sa_family == AF_INET ? ntohs(((struct sockaddr_in *)sa)->sin_port)
		 : sa->sa_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)sa)->sin6_port) : 0);
	l->bev = bufferevent_openssl_socket_new(n->base, fd, ssl,
						BUFFEREVENT_SSL_ACCEPTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (l->bev == NULL) {
		SSL_free(ssl);
		evutil_closesocket(fd);
		free(l);
		return;
	}
	l->state = LINK_CONNECTING;
	l->last_rx_ms = node_now_ms();
	link_nodelay(fd);
	l->next = n->incoming;
	n->incoming = l;
	link_setup_bev(l);
}

void link_tick(struct node *n)
{
	int64_t now = node_now_ms();
	size_t i, k;
	struct link *l, *nx;

	for (i = 0; i < n->npeers; i++) {
		struct npeer *p = n->peers[i];
		for (k = 0; k < p->npaths; k++) {
			l = p->paths[k];
			if (l->state == LINK_DOWN)
				continue;
			if (now - l->last_rx_ms > LINK_DEAD_MS) {
				link_down(l, l->state == LINK_READY ? "silent: no heartbeat"
								    : "no answer");
				continue;
			}
			if (l->state == LINK_READY) {
				link_send(l, FRAME_PING, json_pack("{s:I, s:I}", "seq",
								   (json_int_t)++l->ping_seq,
								   "t", (json_int_t)now));
				l->ping_sent_ms = now;
			}
		}
		if (p->active == NULL)
			link_pick_active(p);
	}
	for (l = n->incoming; l; l = nx) {
		nx = l->next;
		if (now - l->last_rx_ms > LINK_DEAD_MS)
			link_down(l, "silent: no heartbeat");
	}
}

int link_start(struct node *n, struct perr *e)
{
	char kp[4200], cp[4200];
	size_t i, k;

	if (nodedir_path(kp, sizeof kp, n->dir, "tls.key", e) != 0 ||
	    nodedir_path(cp, sizeof cp, n->dir, "tls.crt", e) != 0)
		return -1;
	n->srv_ctx = tls_ctx_new(1, kp, cp, e);
	n->cli_ctx = n->srv_ctx ? tls_ctx_new(0, kp, cp, e) : NULL;
	if (n->cli_ctx == NULL)
		return -1;
	n->pins = calloc(n->npeers ? n->npeers : 1, 32);
	if (n->pins == NULL)
		return perr_set(e, "out of memory");
	for (i = 0; i < n->npeers; i++)
		memcpy(n->pins[i], n->peers[i]->card.tls_pub, 32);
	for (i = 0; i < n->conf.nlisten; i++) {
		struct sockaddr_storage ss;
		int sslen;
		if (link_sockaddr(n->conf.listen[i], &ss, &sslen) != 0)
			return perr_set(e, "listen address %s cannot be resolved",
					n->conf.listen[i]);
		n->listeners[i] = evconnlistener_new_bind(
			n->base, link_accept, n, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
			64, (struct sockaddr *)&ss, sslen);
		if (n->listeners[i] == NULL)
			return perr_set(e, "cannot listen on %s: %s", n->conf.listen[i],
					strerror(errno));
		n->nlisteners++;
		node_log(n, "listening for peers on %s", n->conf.listen[i]);
	}
	for (i = 0; i < n->npeers; i++) {
		struct npeer *p = n->peers[i];
		for (k = 0; k < p->card.naddrs && k < NODE_MAX_PATHS; k++) {
			struct link *l = calloc(1, sizeof *l);
			if (l == NULL)
				return perr_set(e, "out of memory");
			l->n = n;
			l->peer = p;
			l->outgoing = 1;
			l->pathno = (int)k;
			l->backoff_ms = 250;
			l->state = LINK_DOWN;
			snprintf(l->addr, sizeof l->addr, "%s", p->card.addrs[k]);
			l->retry = evtimer_new(n->base, link_retry, l);
			p->paths[p->npaths++] = l;
			link_connect(l);
		}
	}
	return 0;
}

void link_stop(struct node *n)
{
	size_t i, k;
	struct link *l, *nx;

	for (i = 0; i < n->nlisteners; i++)
		evconnlistener_free(n->listeners[i]);
	n->nlisteners = 0;
	for (i = 0; i < n->npeers; i++) {
		struct npeer *p = n->peers[i];
		for (k = 0; k < p->npaths; k++) {
			l = p->paths[k];
			if (l->bev)
				bufferevent_free(l->bev);
			if (l->retry)
				event_free(l->retry);
			free(l);
		}
		p->npaths = 0;
		p->active = NULL;
	}
	for (l = n->incoming; l; l = nx) {
		nx = l->next;
		if (l->bev)
			bufferevent_free(l->bev);
		free(l);
	}
	n->incoming = NULL;
	free(n->pins);
	n->pins = NULL;
	if (n->srv_ctx)
		SSL_CTX_free(n->srv_ctx);
	if (n->cli_ctx)
		SSL_CTX_free(n->cli_ctx);
	n->srv_ctx = n->cli_ctx = NULL;
}
