/*
 * faultproxy.c — a fault-injecting TCP proxy for parley's integration tests.
 *
 *   faultproxy LISTEN_HOST:PORT TARGET_HOST:PORT
 *
 * Listens on LISTEN and, for each accepted client, connects to TARGET and
 * relays bytes both ways.  The payload is TLS; the proxy never parses it, it
 * only delays, discards, truncates or corrupts it on command.  LISTEN may use
 * port 0: the line "faultproxy: listening on HOST:PORT" on stderr, printed
 * once the socket accepts, names the port actually bound.
 *
 * Control: one command per line on stdin.  Once a command has been applied
 * the proxy prints "ok <command>" on stdout (words separated by one space)
 * and flushes, so a test can wait for that line.  A line it cannot apply
 * gets "error <reason>: <line>" instead and the proxy keeps running.
 *
 *   pass            relay normally: ends cut and blackhole, and clears delay,
 *                   truncate and corrupt (everything back to the start state)
 *   cut             close every connection now; new ones are accepted and
 *                   closed at once, until restore (or pass)
 *   restore         accept and relay again (mode pass); delay, truncate and
 *                   corrupt settings are kept
 *   blackhole       keep connections open but discard every byte both ways,
 *                   new connections too.  A peer that closes meanwhile is not
 *                   reported to the other side (no FIN, no RST); such half-dead
 *                   connections are closed when the mode changes.
 *   drop            close every current connection; keep accepting
 *   delay MS        hold every chunk, both ways, MS milliseconds before
 *                   forwarding it, in order; "delay 0" ends it
 *   truncate N      on every current and new connection, forward N more
 *                   client->target bytes, then close both sides (N = 0:
 *                   at once)
 *   corrupt N       flip the low bit of the Nth byte (from 1, counted from
 *                   now) of the client->target stream, once per connection,
 *                   on every current and new connection
 *   corrupt-down N  the same for target->client
 *
 * It exits 0, closing every connection, on SIGTERM, SIGINT or end of stdin.
 * Note that a shell starts background commands with stdin from /dev/null
 * unless redirected: give the proxy a FIFO or pipe that stays open.
 *
 * Bounds: FP_MAX_CONNS connections (more are accepted and closed at once),
 * and per direction at most FP_HIGH bytes (plus one read) held between the
 * two sockets: past that the proxy stops reading the source, so a slow reader
 * pushes back on the writer through TCP instead of growing our memory.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#define FP_MAX_CONNS 64
/* Bytes one direction may hold (delay queue + destination output) before
 * the proxy stops reading its source; also the input read watermark. */
#define FP_HIGH (64 * 1024)
/* Delayed chunks one direction may hold: a peer writing one byte at a time
 * must not make us allocate a chunk per byte without limit. */
#define FP_CHUNKS_MAX 1024
#define FP_LINE_MAX 256
#define FP_DELAY_MAX 600000		/* ms: ten minutes */
#define FP_COUNT_MAX ((uint64_t)1 << 48)
/* How long a truncated connection may take to flush its last bytes. */
#define FP_GRACE_MS 2000
/* Numeric "[host%scope]:port": an IPv6 text address is at most 45 bytes. */
#define FP_HOST_MAX 64
#define FP_NAME_MAX (FP_HOST_MAX + 16)

enum fp_mode { FP_PASS, FP_CUT, FP_BLACKHOLE };

/* Direction d reads side d and writes side !d: side 0 is the client, side 1
 * the target, so direction 0 (FP_C2T) is client->target. */
enum { FP_C2T = 0, FP_T2C = 1 };

static const char *const fp_side_name[2] = { "client", "target" };

/* A run of bytes held back by "delay", due for forwarding at `due`. */
struct fp_chunk {
	struct fp_chunk *next;
	struct evbuffer *buf;
	uint64_t due;			/* CLOCK_MONOTONIC, microseconds */
};

struct fp_conn;

struct fp_side {
	struct fp_conn *conn;
	struct bufferevent *bev;	/* NULL once closed */
	int idx;
	int connected;
	int dead;			/* peer gone while blackholed: close
					 * this side only */
};

struct fp_dir {
	struct fp_conn *conn;
	int idx;
	int eof;			/* the source sent FIN */
	int shut;			/* ... and we passed it on */
	uint64_t bytes;			/* forwarded so far */
	uint64_t corrupt_at;		/* flip the corrupt_at-th next byte;
					 * 0 = nothing armed */
	struct fp_chunk *head, *tail;
	size_t pending;			/* bytes in the chunks */
	size_t nchunks;
	struct event *timer;		/* due time of head */
};

struct fp_conn {
	struct fp_proxy *px;
	unsigned id;
	int slot;
	struct fp_side side[2];
	struct fp_dir dir[2];
	int trunc_on;
	uint64_t trunc_left;		/* client->target bytes still allowed */
	int closing;			/* truncated: flush client->target,
					 * then close */
	int doomed;			/* close at the next settle, for why */
	char why[160];
	struct event *grace;		/* bounds the closing flush */
};

struct fp_proxy {
	struct event_base *base;
	struct evconnlistener *lsn;
	struct sockaddr_storage target;
	socklen_t target_len;
	char target_name[FP_NAME_MAX];
	enum fp_mode mode;
	unsigned delay_ms;
	int trunc_on;
	uint64_t trunc_n;
	uint64_t corrupt[2];		/* per direction, for new connections */
	struct fp_conn *conns[FP_MAX_CONNS];
	unsigned next_id;
	char line[FP_LINE_MAX + 1];
	size_t len;
	int overlong;			/* discarding up to the next newline */
	struct event *ev_stdin, *ev_term, *ev_int;
	const char *quit;		/* why the loop must end, or NULL */
};

static void fp_conn_settle(struct fp_conn *c);

/* ---------------------------------------------------------------------- */
/* Small helpers                                                           */

/* Every event goes to stderr as one line, so that a test's log shows what
 * the proxy did and when, interleaved with the daemons' own lines. */
static void fp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fp_log(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "faultproxy: %s\n", msg);
}

/* libevent's own warnings, in our format rather than "[warn] ...". */
static void fp_event_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_WARN)
		fp_log("libevent: %s", msg);
}

/* Monotonic microseconds: delays must not jump with the wall clock. */
static uint64_t fp_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static struct timeval fp_tv_us(uint64_t us)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(us / 1000000u);
	tv.tv_usec = (suseconds_t)(us % 1000000u);
	return tv;
}

/* "HOST:PORT" for logs, IPv6 in brackets, numeric so it never blocks. */
static void fp_addr_name(const struct sockaddr *sa, socklen_t len, char *out,
			 size_t size)
{
	char host[FP_HOST_MAX], serv[8];

	if (getnameinfo(sa, len, host, sizeof host, serv, sizeof serv,
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(out, size, "?");
		return;
	}
	snprintf(out, size, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
		 host, serv);
}

/*
 * Parses "HOST:PORT" (HOST may be "[v6]") into ss.  The port must be decimal
 * and at most 65535; port 0 only when passive (listening).  Returns 0, or -1
 * with a reason in err.
 */
static int fp_addr_parse(const char *spec, int passive,
			 struct sockaddr_storage *ss, socklen_t *len,
			 char *err, size_t errsize)
{
	const char *colon = strrchr(spec, ':');
	char host[NI_MAXHOST], *end;
	struct addrinfo hints, *res;
	size_t hlen;
	unsigned long port;
	int rc;

	if (colon == NULL || colon == spec || colon[1] == '\0') {
		snprintf(err, errsize, "%s: want HOST:PORT", spec);
		return -1;
	}
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || colon[1] < '0' || colon[1] > '9' || errno != 0 ||
	    port > 65535 || (port == 0 && !passive)) {
		snprintf(err, errsize, "%s: bad port", spec);
		return -1;
	}
	hlen = (size_t)(colon - spec);
	if (spec[0] == '[' && hlen >= 2 && spec[hlen - 1] == ']') {
		spec++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof host) {
		snprintf(err, errsize, "%s: bad host", spec);
		return -1;
	}
	memcpy(host, spec, hlen);
	host[hlen] = '\0';

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc != 0) {
		snprintf(err, errsize, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	assert(res->ai_addrlen <= sizeof *ss);
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = (socklen_t)res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Strict decimal in [min, max]: a typo in a test must not become 0. */
static int fp_parse_u64(const char *s, uint64_t min, uint64_t max,
			uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return -1;
	}
	if (v < min)
		return -1;
	*out = v;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Connections                                                             */

static size_t fp_outlen(const struct fp_side *sd)
{
	return sd->bev ? evbuffer_get_length(bufferevent_get_output(sd->bev))
		       : 0;
}

/*
 * Closes one side.  shutdown() first, because bufferevent_free in libevent
 * 2.1 defers the close(2) to the event loop: the peer must see the FIN
 * before we print "ok cut", not some time after.
 */
static void fp_side_close(struct fp_side *sd)
{
	evutil_socket_t fd;

	if (sd->bev == NULL)
		return;
	fd = bufferevent_getfd(sd->bev);
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
	bufferevent_free(sd->bev);
	sd->bev = NULL;
}

/* Drops the delayed chunks of direction d (not what the destination
 * bufferevent already holds). */
static void fp_dir_clear(struct fp_dir *dr)
{
	struct fp_chunk *ch;

	while ((ch = dr->head) != NULL) {
		dr->head = ch->next;
		evbuffer_free(ch->buf);
		free(ch);
	}
	dr->tail = NULL;
	dr->pending = 0;
	dr->nchunks = 0;
	if (dr->timer)
		evtimer_del(dr->timer);
}

/* Every byte of direction d has been handed to the destination's kernel. */
static int fp_dir_flushed(const struct fp_conn *c, int d)
{
	return c->dir[d].head == NULL && fp_outlen(&c->side[!d]) == 0;
}

/* The one way a connection ends: one "close" line with the byte counts. */
static void fp_conn_free(struct fp_conn *c, const char *why)
{
	struct fp_proxy *px = c->px;
	int i;

	fp_log("close #%u: %s (client->target %" PRIu64
	       " bytes, target->client %" PRIu64 " bytes)", c->id, why,
	       c->dir[FP_C2T].bytes, c->dir[FP_T2C].bytes);
	for (i = 0; i < 2; i++) {
		fp_side_close(&c->side[i]);
		fp_dir_clear(&c->dir[i]);
		if (c->dir[i].timer)
			event_free(c->dir[i].timer);
	}
	if (c->grace)
		event_free(c->grace);
	assert(px->conns[c->slot] == c);
	px->conns[c->slot] = NULL;
	free(c);
}

/* Marks c for closing at its next settle; the first reason wins. */
static void fp_conn_doom(struct fp_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fp_conn_doom(struct fp_conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->doomed)
		return;
	c->doomed = 1;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof c->why, fmt, ap);
	va_end(ap);
}

/* truncate: nothing more goes either way; what was already let through to
 * the target is flushed (for at most FP_GRACE_MS), then both sides close. */
static void fp_conn_truncate(struct fp_conn *c)
{
	struct timeval tv = fp_tv_us((uint64_t)FP_GRACE_MS * 1000u);

	if (c->closing)
		return;
	fp_log("truncate #%u after %" PRIu64 " client->target bytes", c->id,
	       c->dir[FP_C2T].bytes);
	c->closing = 1;
	fp_dir_clear(&c->dir[FP_T2C]);
	evtimer_add(c->grace, &tv);
}

static void fp_dir_arm(struct fp_dir *dr)
{
	uint64_t now = fp_now_us();
	struct timeval tv;

	assert(dr->head != NULL);
	tv = fp_tv_us(dr->head->due > now ? dr->head->due - now : 0);
	evtimer_add(dr->timer, &tv);
}

/*
 * Hands `take` bytes from the front of `in` on towards the destination:
 * straight into its output, or, while a delay is set or older chunks still
 * wait, into a new chunk due MS from now.  A chunk is never due before the
 * one ahead of it, so shortening the delay cannot reorder the stream.
 */
static void fp_dir_forward(struct fp_conn *c, int d, struct evbuffer *in,
			   size_t take)
{
	struct fp_dir *dr = &c->dir[d];
	struct fp_side *dst = &c->side[!d];
	struct fp_chunk *ch;
	uint64_t due;

	if (take == 0)
		return;
	if (c->px->delay_ms == 0 && dr->head == NULL) {
		evbuffer_remove_buffer(in, bufferevent_get_output(dst->bev),
				       take);
		return;
	}
	ch = calloc(1, sizeof *ch);
	if (ch == NULL || (ch->buf = evbuffer_new()) == NULL) {
		free(ch);
		evbuffer_drain(in, take);
		fp_conn_doom(c, "out of memory");
		return;
	}
	evbuffer_remove_buffer(in, ch->buf, take);
	due = fp_now_us() + (uint64_t)c->px->delay_ms * 1000u;
	if (dr->tail != NULL && dr->tail->due > due)
		due = dr->tail->due;
	ch->due = due;
	if (dr->tail)
		dr->tail->next = ch;
	else
		dr->head = ch;
	dr->tail = ch;
	dr->pending += take;
	dr->nchunks++;
	if (!evtimer_pending(dr->timer, NULL))
		fp_dir_arm(dr);
}

/*
 * Takes everything the source of direction d has delivered and applies the
 * faults in force: blackhole and truncation discard, corrupt flips one bit,
 * the rest is forwarded.  Corruption and truncation count forwarded bytes.
 */
static void fp_dir_read(struct fp_conn *c, int d)
{
	struct fp_dir *dr = &c->dir[d];
	struct fp_side *src = &c->side[d], *dst = &c->side[!d];
	struct evbuffer *in;
	size_t n, take;

	if (src->bev == NULL)
		return;
	in = bufferevent_get_input(src->bev);
	n = evbuffer_get_length(in);
	if (n == 0)
		return;
	if (c->closing || c->doomed || c->px->mode == FP_BLACKHOLE ||
	    dst->bev == NULL) {
		evbuffer_drain(in, n);
		return;
	}
	take = n;
	if (d == FP_C2T && c->trunc_on && take > c->trunc_left)
		take = (size_t)c->trunc_left;
	if (dr->corrupt_at != 0) {
		if (dr->corrupt_at <= take) {
			unsigned char *p = evbuffer_pullup(in,
						(ev_ssize_t)dr->corrupt_at);
			unsigned char *b = p + dr->corrupt_at - 1;

			assert(p != NULL);
			fp_log("corrupt #%u %s byte %" PRIu64
			       " (0x%02x -> 0x%02x)", c->id,
			       d == FP_C2T ? "client->target" : "target->client",
			       dr->bytes + dr->corrupt_at, *b, *b ^ 0x01);
			*b ^= 0x01;
			dr->corrupt_at = 0;
		} else {
			dr->corrupt_at -= take;
		}
	}
	fp_dir_forward(c, d, in, take);
	evbuffer_drain(in, evbuffer_get_length(in));
	dr->bytes += take;
	if (d == FP_C2T && c->trunc_on) {
		c->trunc_left -= take;
		if (c->trunc_left == 0)
			fp_conn_truncate(c);
	}
}

/* Passes a FIN on once everything before it has been written. */
static void fp_dir_shut(struct fp_conn *c, int d)
{
	struct fp_dir *dr = &c->dir[d];
	struct fp_side *dst = &c->side[!d];

	if (!dr->eof || dr->shut || !dst->connected || !fp_dir_flushed(c, d))
		return;
	shutdown(bufferevent_getfd(dst->bev), SHUT_WR);
	dr->shut = 1;
}

/*
 * Back-pressure: the source of direction d is read only while what this
 * direction holds stays under FP_HIGH bytes and FP_CHUNKS_MAX chunks.  The
 * destination's write callback (its output drained) calls us again.
 */
static void fp_dir_pump(struct fp_conn *c, int d)
{
	struct fp_dir *dr = &c->dir[d];
	struct fp_side *src = &c->side[d];
	size_t held;
	int want;

	if (src->bev == NULL)
		return;
	held = dr->pending + fp_outlen(&c->side[!d]);
	want = !dr->eof && !c->closing && !src->dead &&
	       (c->px->mode == FP_BLACKHOLE ||
		(held < FP_HIGH && dr->nchunks < FP_CHUNKS_MAX));
	if (want && !(bufferevent_get_enabled(src->bev) & EV_READ))
		bufferevent_enable(src->bev, EV_READ);
	else if (!want && (bufferevent_get_enabled(src->bev) & EV_READ))
		bufferevent_disable(src->bev, EV_READ);
}

/*
 * Brings a connection in line with its flags and the proxy's mode: closes
 * what must close, passes FINs on, and sets reading for back-pressure.
 * Every callback ends here, and nothing may touch c after: it may be freed.
 */
static void fp_conn_settle(struct fp_conn *c)
{
	enum fp_mode mode = c->px->mode;
	int i;

	if (c->doomed) {
		fp_conn_free(c, c->why);
		return;
	}
	for (i = 0; i < 2; i++)
		if (c->side[i].dead)
			fp_side_close(&c->side[i]);
	if (c->side[0].bev == NULL && c->side[1].bev == NULL) {
		fp_conn_free(c, "both sides closed while blackholed");
		return;
	}
	if (mode != FP_BLACKHOLE) {
		/* A side lost while blackholed: the path is back, so the
		 * other side learns now. */
		for (i = 0; i < 2; i++) {
			if (c->side[i].bev == NULL) {
				fp_conn_free(c, i == 0 ?
					     "client gone while blackholed" :
					     "target gone while blackholed");
				return;
			}
		}
	}
	if (c->closing) {
		if (fp_dir_flushed(c, FP_C2T)) {
			fp_conn_free(c, "truncated");
			return;
		}
	} else if (mode != FP_BLACKHOLE) {
		for (i = 0; i < 2; i++)
			fp_dir_shut(c, i);
		if (c->dir[0].shut && c->dir[1].shut) {
			fp_conn_free(c, "closed by both peers");
			return;
		}
	}
	for (i = 0; i < 2; i++)
		fp_dir_pump(c, i);
}

static void fp_read_cb(struct bufferevent *bev, void *arg)
{
	struct fp_side *sd = arg;

	(void)bev;
	fp_dir_read(sd->conn, sd->idx);
	fp_conn_settle(sd->conn);
}

/* The output of this side drained: the direction writing into it may read
 * again, or pass its FIN on. */
static void fp_write_cb(struct bufferevent *bev, void *arg)
{
	struct fp_side *sd = arg;

	(void)bev;
	fp_conn_settle(sd->conn);
}

static void fp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct fp_side *sd = arg;
	struct fp_conn *c = sd->conn;
	int blackholed = c->px->mode == FP_BLACKHOLE;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		sd->connected = 1;
		fp_log("connect #%u to %s", c->id, c->px->target_name);
	} else if (what & BEV_EVENT_ERROR) {
		const char *err =
			evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
		char why[sizeof c->why];

		if (!sd->connected)
			snprintf(why, sizeof why, "connect to %s failed: %s",
				 c->px->target_name, err);
		else
			snprintf(why, sizeof why, "%s error: %s",
				 fp_side_name[sd->idx], err);
		if (blackholed) {
			/* Silent path: the other side must not notice. */
			fp_log("#%u: %s (hidden by blackhole)", c->id, why);
			sd->dead = 1;
		} else {
			fp_conn_doom(c, "%s", why);
		}
	} else if (what & BEV_EVENT_EOF) {
		fp_dir_read(c, sd->idx);
		if (blackholed) {
			fp_log("#%u: %s closed (hidden by blackhole)", c->id,
			       fp_side_name[sd->idx]);
			sd->dead = 1;
		} else {
			c->dir[sd->idx].eof = 1;
		}
	}
	fp_conn_settle(c);
}

/* A truncated connection whose last bytes could not be flushed in time. */
static void fp_grace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fp_conn *c = arg;

	(void)fd;
	(void)what;
	fp_conn_doom(c, "truncated (flush timed out)");
	fp_conn_settle(c);
}

/* A delayed chunk is due: forward it and every chunk due with it. */
static void fp_dir_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fp_dir *dr = arg;
	struct fp_conn *c = dr->conn;
	struct fp_side *dst = &c->side[!dr->idx];
	uint64_t now = fp_now_us();
	struct fp_chunk *ch;

	(void)fd;
	(void)what;
	while ((ch = dr->head) != NULL && ch->due <= now) {
		dr->head = ch->next;
		if (dr->head == NULL)
			dr->tail = NULL;
		dr->pending -= evbuffer_get_length(ch->buf);
		dr->nchunks--;
		if (dst->bev != NULL && !c->closing && !c->doomed &&
		    c->px->mode != FP_BLACKHOLE)
			evbuffer_add_buffer(bufferevent_get_output(dst->bev),
					    ch->buf);
		evbuffer_free(ch->buf);
		free(ch);
	}
	if (dr->head != NULL)
		fp_dir_arm(dr);
	fp_conn_settle(c);
}

static int fp_side_init(struct fp_conn *c, int i, evutil_socket_t fd)
{
	struct fp_side *sd = &c->side[i];

	sd->conn = c;
	sd->idx = i;
	sd->bev = bufferevent_socket_new(c->px->base, fd,
					 BEV_OPT_CLOSE_ON_FREE);
	if (sd->bev == NULL)
		return -1;
	bufferevent_setcb(sd->bev, fp_read_cb, fp_write_cb, fp_event_cb, sd);
	bufferevent_setwatermark(sd->bev, EV_READ, 0, FP_HIGH);
	bufferevent_setwatermark(sd->bev, EV_WRITE, 0, 0);
	return 0;
}

/* Sets up a connection for accepted socket fd and starts connecting to the
 * target.  Returns NULL (fd closed) when out of memory. */
static struct fp_conn *fp_conn_new(struct fp_proxy *px, int slot,
				   evutil_socket_t fd)
{
	struct fp_conn *c = calloc(1, sizeof *c);
	int i;

	if (c == NULL) {
		evutil_closesocket(fd);
		return NULL;
	}
	c->px = px;
	c->id = ++px->next_id;
	c->slot = slot;
	px->conns[slot] = c;
	for (i = 0; i < 2; i++) {
		c->dir[i].conn = c;
		c->dir[i].idx = i;
		c->dir[i].corrupt_at = px->corrupt[i];
		c->dir[i].timer = evtimer_new(px->base, fp_dir_timer_cb,
					      &c->dir[i]);
	}
	c->grace = evtimer_new(px->base, fp_grace_cb, c);
	c->trunc_on = px->trunc_on;
	c->trunc_left = px->trunc_n;
	if (fp_side_init(c, 0, fd) < 0) {
		evutil_closesocket(fd);
		fp_conn_doom(c, "out of memory");
	} else if (fp_side_init(c, 1, -1) < 0) {
		fp_conn_doom(c, "out of memory");
	}
	if (!c->dir[0].timer || !c->dir[1].timer || !c->grace)
		fp_conn_doom(c, "out of memory");
	c->side[0].connected = 1;
	return c;
}

static void fp_accept_cb(struct evconnlistener *lsn, evutil_socket_t fd,
			 struct sockaddr *sa, int salen, void *arg)
{
	struct fp_proxy *px = arg;
	char name[FP_NAME_MAX];
	struct fp_conn *c;
	int slot;

	(void)lsn;
	fp_addr_name(sa, (socklen_t)salen, name, sizeof name);
	if (px->mode == FP_CUT) {
		fp_log("refuse %s: cut", name);
		evutil_closesocket(fd);
		return;
	}
	for (slot = 0; slot < FP_MAX_CONNS && px->conns[slot]; slot++)
		;
	if (slot == FP_MAX_CONNS) {
		fp_log("refuse %s: %d connections open", name, FP_MAX_CONNS);
		evutil_closesocket(fd);
		return;
	}
	c = fp_conn_new(px, slot, fd);
	if (c == NULL) {
		fp_log("refuse %s: out of memory", name);
		return;
	}
	fp_log("accept #%u from %s%s", c->id, name,
	       px->mode == FP_BLACKHOLE ? " (blackholed)" : "");
	if (!c->doomed &&
	    bufferevent_socket_connect(c->side[1].bev,
				       (struct sockaddr *)&px->target,
				       (int)px->target_len) < 0) {
		const char *err =
			evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());

		if (px->mode == FP_BLACKHOLE) {
			fp_log("#%u: connect to %s failed: %s (hidden by "
			       "blackhole)", c->id, px->target_name, err);
			c->side[1].dead = 1;
		} else {
			fp_conn_doom(c, "connect to %s failed: %s",
				     px->target_name, err);
		}
	}
	if (c->trunc_on && c->trunc_left == 0)
		fp_conn_truncate(c);
	fp_conn_settle(c);
}

static void fp_accept_error_cb(struct evconnlistener *lsn, void *arg)
{
	(void)lsn;
	(void)arg;
	/* EMFILE and the like: keep listening, the next accept may work. */
	fp_log("accept failed: %s",
	       evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

/* ---------------------------------------------------------------------- */
/* Commands                                                                */

static int fp_close_all(struct fp_proxy *px, const char *why)
{
	int i, n = 0;

	for (i = 0; i < FP_MAX_CONNS; i++) {
		if (px->conns[i]) {
			fp_conn_free(px->conns[i], why);
			n++;
		}
	}
	return n;
}

static void fp_settle_all(struct fp_proxy *px)
{
	int i;

	for (i = 0; i < FP_MAX_CONNS; i++)
		if (px->conns[i])
			fp_conn_settle(px->conns[i]);
}

static void fp_set_mode(struct fp_proxy *px, enum fp_mode mode)
{
	int i, d;

	px->mode = mode;
	if (mode != FP_BLACKHOLE)
		return;
	/* Bytes in flight are lost with the path. */
	for (i = 0; i < FP_MAX_CONNS; i++) {
		struct fp_conn *c = px->conns[i];

		if (c == NULL)
			continue;
		for (d = 0; d < 2; d++) {
			struct fp_side *dst = &c->side[!d];

			fp_dir_clear(&c->dir[d]);
			if (dst->bev)
				evbuffer_drain(bufferevent_get_output(dst->bev),
					       fp_outlen(dst));
		}
	}
}

static void fp_set_truncate(struct fp_proxy *px, int on, uint64_t n)
{
	int i;

	px->trunc_on = on;
	px->trunc_n = n;
	for (i = 0; i < FP_MAX_CONNS; i++) {
		struct fp_conn *c = px->conns[i];

		if (c == NULL || c->closing)
			continue;
		c->trunc_on = on;
		c->trunc_left = n;
		if (on && n == 0)
			fp_conn_truncate(c);
	}
}

static void fp_set_corrupt(struct fp_proxy *px, int d, uint64_t n)
{
	int i;

	px->corrupt[d] = n;
	for (i = 0; i < FP_MAX_CONNS; i++)
		if (px->conns[i])
			px->conns[i]->dir[d].corrupt_at = n;
}

static int fp_count(const struct fp_proxy *px)
{
	int i, n = 0;

	for (i = 0; i < FP_MAX_CONNS; i++)
		n += px->conns[i] != NULL;
	return n;
}

/*
 * Applies one command line and answers on stdout.  The answer comes after
 * the effect (connections closed, settings in force), so a test that has
 * read "ok cut" knows its peers have been cut.
 */
static void fp_command(struct fp_proxy *px, char *line)
{
	char *word[3], *p, norm[FP_LINE_MAX + 1], orig[FP_LINE_MAX + 1];
	const char *cmd, *arg;
	uint64_t n = 0;
	size_t len;
	int nw = 0, closed;

	/* The line as written, minus surrounding blanks, for error replies. */
	for (p = line; *p == ' ' || *p == '\t'; p++)
		;
	snprintf(orig, sizeof orig, "%s", p);
	len = strlen(orig);
	while (len > 0 && (orig[len - 1] == ' ' || orig[len - 1] == '\t' ||
			   orig[len - 1] == '\r'))
		orig[--len] = '\0';

	p = line;
	while (nw < 3) {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			*p++ = '\0';
		if (*p == '\0')
			break;
		word[nw++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r')
			p++;
	}
	if (nw == 0)
		return;		/* blank line */
	cmd = word[0];
	arg = nw > 1 ? word[1] : NULL;
	snprintf(norm, sizeof norm, "%s%s%s", cmd, arg ? " " : "",
		 arg ? arg : "");

	if (strcmp(cmd, "pass") == 0 || strcmp(cmd, "restore") == 0 ||
	    strcmp(cmd, "cut") == 0 || strcmp(cmd, "blackhole") == 0 ||
	    strcmp(cmd, "drop") == 0) {
		if (nw != 1)
			goto bad_arg;
	} else if (strcmp(cmd, "delay") == 0 || strcmp(cmd, "truncate") == 0 ||
		   strcmp(cmd, "corrupt") == 0 ||
		   strcmp(cmd, "corrupt-down") == 0) {
		uint64_t min = strncmp(cmd, "corrupt", 7) == 0 ? 1 : 0;
		uint64_t max = cmd[0] == 'd' ? FP_DELAY_MAX : FP_COUNT_MAX;

		if (nw != 2 || fp_parse_u64(arg, min, max, &n) < 0)
			goto bad_arg;
	} else {
		printf("error unknown command: %s\n", orig);
		fflush(stdout);
		fp_log("unknown command: %s", orig);
		return;
	}

	if (strcmp(cmd, "pass") == 0) {
		fp_set_mode(px, FP_PASS);
		px->delay_ms = 0;
		fp_set_truncate(px, 0, 0);
		fp_set_corrupt(px, FP_C2T, 0);
		fp_set_corrupt(px, FP_T2C, 0);
		fp_log("mode pass (all faults cleared)");
	} else if (strcmp(cmd, "restore") == 0) {
		fp_set_mode(px, FP_PASS);
		fp_log("mode pass");
	} else if (strcmp(cmd, "cut") == 0) {
		fp_set_mode(px, FP_CUT);
		closed = fp_close_all(px, "cut");
		fp_log("mode cut (%d connections closed)", closed);
	} else if (strcmp(cmd, "blackhole") == 0) {
		fp_set_mode(px, FP_BLACKHOLE);
		fp_log("mode blackhole (%d connections held)", fp_count(px));
	} else if (strcmp(cmd, "drop") == 0) {
		closed = fp_close_all(px, "drop");
		fp_log("drop (%d connections closed)", closed);
	} else if (strcmp(cmd, "delay") == 0) {
		px->delay_ms = (unsigned)n;
		fp_log("delay %u ms", px->delay_ms);
	} else if (strcmp(cmd, "truncate") == 0) {
		fp_set_truncate(px, 1, n);
		fp_log("truncate after %" PRIu64 " client->target bytes", n);
	} else {
		int d = strcmp(cmd, "corrupt") == 0 ? FP_C2T : FP_T2C;

		fp_set_corrupt(px, d, n);
		fp_log("corrupt %s byte %" PRIu64, d == FP_C2T ?
		       "client->target" : "target->client", n);
	}
	fp_settle_all(px);
	printf("ok %s\n", norm);
	fflush(stdout);
	return;

bad_arg:
	printf("error bad argument: %s\n", orig);
	fflush(stdout);
	fp_log("bad argument: %s", orig);
}

static void fp_quit(struct fp_proxy *px, const char *why)
{
	if (px->quit == NULL)
		px->quit = why;
	event_base_loopbreak(px->base);
}

/* Runs every complete line in the buffer; keeps a partial last line. */
static void fp_stdin_lines(struct fp_proxy *px)
{
	char *nl;

	while ((nl = memchr(px->line, '\n', px->len)) != NULL) {
		size_t used = (size_t)(nl - px->line) + 1;

		*nl = '\0';
		if (px->overlong) {
			printf("error line too long\n");
			fflush(stdout);
			px->overlong = 0;
		} else {
			fp_command(px, px->line);
		}
		memmove(px->line, px->line + used, px->len - used);
		px->len -= used;
	}
	if (px->len == FP_LINE_MAX) {
		/* No command is this long: skip to the next newline. */
		px->overlong = 1;
		px->len = 0;
	}
}

/* One read per wake-up: stdin may be blocking (a FIFO shared with a shell),
 * and a readable descriptor gives at least one byte or EOF without
 * blocking. */
static void fp_stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fp_proxy *px = arg;
	ssize_t n;

	(void)what;
	assert(px->len < FP_LINE_MAX);
	n = read(fd, px->line + px->len, FP_LINE_MAX - px->len);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		fp_log("stdin: %s", strerror(errno));
		fp_quit(px, "stdin error");
		return;
	}
	if (n == 0) {
		if (px->len > 0 && !px->overlong) {
			px->line[px->len] = '\0';
			fp_command(px, px->line);
		}
		px->len = 0;
		fp_quit(px, "end of stdin");
		return;
	}
	px->len += (size_t)n;
	fp_stdin_lines(px);
}

static void fp_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	fp_quit(arg, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* ---------------------------------------------------------------------- */

static int fp_run(struct fp_proxy *px, const char *listen_spec,
		  const char *target_spec)
{
	struct sockaddr_storage ls;
	socklen_t llen;
	char err[NI_MAXHOST + 128], name[FP_NAME_MAX];

	struct stat st;

	if (fp_addr_parse(listen_spec, 1, &ls, &llen, err, sizeof err) < 0) {
		fp_log("listen address %s", err);
		return 1;
	}
	if (fp_addr_parse(target_spec, 0, &px->target, &px->target_len, err,
			  sizeof err) < 0) {
		fp_log("target address %s", err);
		return 1;
	}
	fp_addr_name((struct sockaddr *)&px->target, px->target_len,
		     px->target_name, sizeof px->target_name);

	px->base = event_base_new();
	if (px->base == NULL) {
		fp_log("event_base_new failed");
		return 1;
	}
	px->lsn = evconnlistener_new_bind(px->base, fp_accept_cb, px,
					  LEV_OPT_CLOSE_ON_FREE |
					  LEV_OPT_REUSEABLE, 64,
					  (struct sockaddr *)&ls, (int)llen);
	if (px->lsn == NULL) {
		fp_log("listen on %s: %s", listen_spec,
		       evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		return 1;
	}
	evconnlistener_set_error_cb(px->lsn, fp_accept_error_cb);
	px->ev_term = evsignal_new(px->base, SIGTERM, fp_signal_cb, px);
	px->ev_int = evsignal_new(px->base, SIGINT, fp_signal_cb, px);
	px->ev_stdin = event_new(px->base, STDIN_FILENO, EV_READ | EV_PERSIST,
				 fp_stdin_cb, px);
	if (!px->ev_term || !px->ev_int || !px->ev_stdin ||
	    evsignal_add(px->ev_term, NULL) < 0 ||
	    evsignal_add(px->ev_int, NULL) < 0) {
		fp_log("cannot set up events");
		return 1;
	}

	llen = sizeof ls;
	if (getsockname(evconnlistener_get_fd(px->lsn), (struct sockaddr *)&ls,
			&llen) < 0) {
		fp_log("getsockname: %s", strerror(errno));
		return 1;
	}
	fp_addr_name((struct sockaddr *)&ls, llen, name, sizeof name);
	fp_log("listening on %s", name);

	/* epoll refuses regular files and /dev/null: read those to the end
	 * now, which is where such a stdin ends anyway. */
	if (fstat(STDIN_FILENO, &st) < 0 || S_ISREG(st.st_mode) ||
	    (S_ISCHR(st.st_mode) && !isatty(STDIN_FILENO)) ||
	    event_add(px->ev_stdin, NULL) < 0) {
		while (px->quit == NULL)
			fp_stdin_cb(STDIN_FILENO, EV_READ, px);
	}
	if (px->quit == NULL)
		event_base_dispatch(px->base);
	fp_log("exiting on %s", px->quit ? px->quit : "empty event loop");
	return 0;
}

static void fp_cleanup(struct fp_proxy *px)
{
	fp_close_all(px, "exit");
	if (px->ev_stdin)
		event_free(px->ev_stdin);
	if (px->ev_term)
		event_free(px->ev_term);
	if (px->ev_int)
		event_free(px->ev_int);
	if (px->lsn)
		evconnlistener_free(px->lsn);
	if (px->base)
		event_base_free(px->base);
}

int main(int argc, char **argv)
{
	static struct fp_proxy px;
	int rc;

	if (argc != 3) {
		fprintf(stderr,
			"usage: faultproxy LISTEN_HOST:PORT TARGET_HOST:PORT\n");
		return 2;
	}
	/* A peer that vanishes mid-write must be an error event, not the end
	 * of the proxy. */
	signal(SIGPIPE, SIG_IGN);
	event_set_log_callback(fp_event_log);
	rc = fp_run(&px, argv[1], argv[2]);
	fp_cleanup(&px);
	return rc;
}
