/*
 * node.c — the running node: its state and its write path (nodeint.h).
 *
 * Everything durable happens in node_flush, one SQLite transaction per turn
 * of the event loop (group commit):
 *
 *   - the sequencer appends submitted entries to the peers' outbound logs
 *     (an idempotency key already used returns the entry it made);
 *   - verified runs of a peer's log are appended to its mirror, and
 *     verified out-of-order entries are held;
 *   - receipts for what earlier flushes made durable are logged, and the
 *     peer's checkpoints cosigned;
 *   - alarms are recorded.
 *
 * Only after the commit are operators answered, peers sent ACKs and
 * cosignatures, and new entries delivered; a checkpoint is signed only for
 * a durable size.  Ed25519 signatures are deterministic, so signing the same
 * size twice gives the same bytes: two roots are never signed for one size.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sqlite3.h>

#include "b64.h"
#include "checkpoint.h"
#include "ckpt.h"
#include "pace.h"
#include "wsync.h"
#include "file.h"
#include "frame.h"
#include "node.h"
#include "nodeint.h"
#include "tls.h"

#define NODE_OUTBOX_COLS \
	"(k INTEGER PRIMARY KEY, prec INTEGER, type TEXT, time INTEGER, id TEXT," \
	" receipted INTEGER, rtime INTEGER, rcpt INTEGER, acked INTEGER)"
#define NODE_INBOX_COLS \
	"(k INTEGER PRIMARY KEY, prec INTEGER, type TEXT, time INTEGER," \
	" received INTEGER, acked INTEGER, ackidx INTEGER)"

static const char *const node_schema =
	"CREATE TABLE IF NOT EXISTS ids(peer TEXT, id TEXT, idx INTEGER NOT NULL,"
	" PRIMARY KEY(peer, id)) WITHOUT ROWID;"
	/* outbox and inbox: one row per entry that needs a receipt, keyed
	 * by entry (node_key), so that appending a run appends to the end of
	 * one B-tree, and a peer's rows are one range of it. */
	"CREATE TABLE IF NOT EXISTS outbox" NODE_OUTBOX_COLS ";"
	/* The oldest unreceipted entry of each precedence above ROUTINE, for
	 * its deadline.  ROUTINE rows, the bulk, stay out of the index: their
	 * oldest is found from the receipt mark along the primary key, and an
	 * index holding every row cost each bulk commit four more pages. */
	"CREATE INDEX IF NOT EXISTS outbox_urg ON outbox(prec, k)"
	" WHERE receipted IS NULL AND prec <> 3;"
	/* The receipts that moved a peer's cumulative mark ("below"): an
	 * outbox row under the mark is receipted by the first of them above
	 * it, found when the row is read, so that a receipt costs one row
	 * however much it covers.  A row's own receipted column is set only
	 * for entries receipted out of order ("also"). */
	"CREATE TABLE IF NOT EXISTS rcpts(peer TEXT, below INTEGER, ridx INTEGER,"
	" time INTEGER, rtime INTEGER, PRIMARY KEY(peer, below)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS inbox" NODE_INBOX_COLS ";"
	/* Likewise for the operator's acknowledgment (node_deadlines). */
	"CREATE INDEX IF NOT EXISTS inbox_urg ON inbox(prec, k)"
	" WHERE acked IS NULL AND prec <> 3;"
	/* Treaty notifications among the messages (ntreaty.c reads them in
	 * order): without it, finding the new ones scanned every row received
	 * since the last look, 10-19 ms of the loop once a second while a
	 * backlog drained (bench/node). */
	"CREATE INDEX IF NOT EXISTS inbox_notif ON inbox(k) WHERE type = 'notification';"
	"CREATE INDEX IF NOT EXISTS outbox_notif ON outbox(k) WHERE type = 'notification';"
	"CREATE TABLE IF NOT EXISTS held(origin TEXT, idx INTEGER, entry BLOB,"
	" cpnote TEXT, proof TEXT, PRIMARY KEY(origin, idx)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS ckpt(origin TEXT, size INTEGER, note TEXT,"
	" PRIMARY KEY(origin, size)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS cosigned(origin TEXT PRIMARY KEY, size INTEGER,"
	" note TEXT);"
	"CREATE TABLE IF NOT EXISTS alarms(id INTEGER PRIMARY KEY, key TEXT UNIQUE,"
	" time INTEGER, kind TEXT, peer TEXT, detail TEXT, evidence TEXT);"
	"CREATE TABLE IF NOT EXISTS pstate(peer TEXT PRIMARY KEY, rc_below INTEGER,"
	" rc_nalso INTEGER);";

/* Databases of earlier versions kept outbox and inbox as WITHOUT ROWID
 * tables keyed by (peer, idx) and (origin, idx), with every row in a
 * partial index.  Each is rebuilt keyed by entry, each in a transaction
 * of its own, the first time such a database is opened: every row of the
 * table is carried over, or the table is left as it was. */
static int node_migrate(struct node *n, struct perr *e)
{
#define NODE_STR_(x) #x
#define NODE_STR(x) NODE_STR_(x)
	static const struct {
		const char *table, *old_index, *cols, *copy;
	} t[2] = {
		{ "outbox", "outbox_unr", NODE_OUTBOX_COLS,
		  "INSERT INTO outbox SELECT (l.id << " NODE_STR(STORE_KEY_SHIFT) ") | o.idx,"
		  " o.prec, o.type, o.time, o.id, o.receipted, o.rtime, o.rcpt, o.acked"
		  " FROM outbox_v1 o JOIN logs l ON l.origin = ?1 || '/to/' || o.peer" },
		{ "inbox", "inbox_unacked", NODE_INBOX_COLS,
		  "INSERT INTO inbox SELECT (l.id << " NODE_STR(STORE_KEY_SHIFT) ") | i.idx,"
		  " i.prec, i.type, i.time, i.received, i.acked, i.ackidx"
		  " FROM inbox_v1 i JOIN logs l ON l.origin = i.origin" },
	};
	char sql[512];
	sqlite3_stmt *st = NULL;
	int i, old;

	for (i = 0; i < 2; i++) {
		if (sqlite3_prepare_v2(n->db, "SELECT 1 FROM sqlite_schema WHERE type = 'table'"
				       " AND name = ?1 AND sql LIKE '%WITHOUT ROWID%'", -1, &st,
				       NULL) != SQLITE_OK)
			goto fail;
		sqlite3_bind_text(st, 1, t[i].table, -1, SQLITE_STATIC);
		old = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
		st = NULL;
		if (!old)
			continue;
		snprintf(sql, sizeof sql, "BEGIN; DROP INDEX IF EXISTS %s; DROP INDEX IF EXISTS %s_urg;"
			 " ALTER TABLE %s RENAME TO %s_v1; CREATE TABLE %s%s;", t[i].old_index,
			 t[i].table, t[i].table, t[i].table, t[i].table, t[i].cols);
		if (sqlite3_exec(n->db, sql, NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(n->db, t[i].copy, -1, &st, NULL) != SQLITE_OK)
			goto fail;
		sqlite3_bind_text(st, 1, n->conf.name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto fail;
		sqlite3_finalize(st);
		st = NULL;
		snprintf(sql, sizeof sql, "SELECT (SELECT COUNT(*) FROM %s_v1) - (SELECT COUNT(*) FROM %s)",
			 t[i].table, t[i].table);
		if (sqlite3_prepare_v2(n->db, sql, -1, &st, NULL) != SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_ROW)
			goto fail;
		if (sqlite3_column_int64(st, 0) != 0) {
			perr_set(e, "database: upgrading table %s: %lld rows name no log held here;"
				 " the table was left as it was", t[i].table,
				 (long long)sqlite3_column_int64(st, 0));
			sqlite3_finalize(st);
			sqlite3_exec(n->db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		sqlite3_finalize(st);
		st = NULL;
		snprintf(sql, sizeof sql, "DROP TABLE %s_v1; COMMIT;", t[i].table);
		if (sqlite3_exec(n->db, sql, NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
	}
	return 0;
fail:
	perr_set(e, "database: upgrading table %s: %s; the table was left as it was",
		 t[i].table, sqlite3_errmsg(n->db));
	sqlite3_finalize(st);
	if (!sqlite3_get_autocommit(n->db))
		sqlite3_exec(n->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
#undef NODE_STR
#undef NODE_STR_
}

static volatile sig_atomic_t node_dummy;

/* PARLEY_CLOCK_OFFSET_MS shifts this node's clock: a node with a wrong
 * clock, for the tests of the clock-skew alarm. */
int64_t node_now_ms(void)
{
	static int64_t offset = -1;
	struct timespec ts;

	if (offset == -1) {
		const char *o = getenv("PARLEY_CLOCK_OFFSET_MS");
		offset = o ? strtoll(o, NULL, 10) : 0;
		if (offset == -1)
			offset = 0;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + offset;
}

void node_log(struct node *n, const char *fmt, ...)
{
	char line[1024], ts[ENV_TIME_LEN + 1];
	va_list ap;
	size_t i;

	(void)n;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	/* One line an event: no control characters from peers or files. */
	for (i = 0; line[i]; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	env_time_format(node_now_ms() / 1000, ts);
	fprintf(stderr, "%s %s\n", ts, line);
}

void node_kick(struct node *n)
{
	event_active(n->flush_ev, EV_TIMEOUT, 0);
}

/* Called by the loop after each piece of bulk work (a flush of bulk
 * traffic, a large read of runs, the runs sent at once), so that a thread
 * woken meanwhile onto this CPU runs now rather than at the scheduler's
 * next tick.  A thread this loop wakes (our sync thread; on a shared
 * machine, the peer's loop it writes to) is often put on the waker's CPU
 * even when another CPU is idle, and this loop, busy, kept it waiting
 * until the tick (4 ms at 250 Hz): in bench/node the sender's loop up to
 * 4 ms with a FLASH's receipt, the receiver's sync thread up to 9-12 ms
 * (BENCHMARKS.md, the tenth session).  With nothing else to run the call
 * returns at once. */
void node_bulk_yield(struct node *n)
{
	/* Urgent work queued meanwhile (an urgent run read with the bulk
	 * ones, a FLASH submitted) goes first: a yield could cost it the
	 * slice of whatever else is runnable here. */
	if (!n->urgent_kicked)
		sched_yield();
}

/* A flush for an entry above ROUTINE: at the loop's first priority, so it
 * is made before the reads and flushes of bulk traffic already waiting. */
static void node_kick_urgent(struct node *n)
{
	if (n->flush_urgent_ev) {
		event_active(n->flush_urgent_ev, EV_TIMEOUT, 0);
		n->urgent_kicked = 1;
	} else {
		node_kick(n);
	}
}

struct npeer *node_peer(struct node *n, const char *name)
{
	size_t i;
	for (i = 0; i < n->npeers; i++)
		if (strcmp(n->peers[i]->card.name, name) == 0)
			return n->peers[i];
	return NULL;
}

/* PARLEY_CRASH=<point> makes the node kill itself at that point, so tests
 * can show that a crash there loses and duplicates nothing. */
void node_crashpoint(struct node *n, int point)
{
	if (n->crashpoint == point) {
		node_log(n, "crash point %d reached: SIGKILL", point);
		kill(getpid(), SIGKILL);
	}
}

/* A small cache of prepared statements, keyed by the SQL text's address
 * (every caller passes a string literal). */
static struct {
	const char *sql;
	sqlite3_stmt *st;
} node_q[64];
static size_t node_nq;

static sqlite3_stmt *q(struct node *n, const char *sql)
{
	size_t i;
	for (i = 0; i < node_nq; i++)
		if (node_q[i].sql == sql) {
			sqlite3_reset(node_q[i].st);
			sqlite3_clear_bindings(node_q[i].st);
			return node_q[i].st;
		}
	if (node_nq == sizeof node_q / sizeof node_q[0])
		abort(); /* a programming error: more distinct queries than slots */
	if (sqlite3_prepare_v3(n->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
			       &node_q[node_nq].st, NULL) != SQLITE_OK) {
		node_log(n, "internal: cannot prepare \"%.60s\": %s", sql,
			 sqlite3_errmsg(n->db));
		abort();
	}
	node_q[node_nq].sql = sql;
	return node_q[node_nq++].st;
}

static void q_free_all(void)
{
	size_t i;
	for (i = 0; i < node_nq; i++)
		sqlite3_finalize(node_q[i].st);
	node_nq = 0;
}

/* Steps a statement that returns no rows; -1 with e on failure. */
static int q_done(struct node *n, sqlite3_stmt *st, struct perr *e)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return perr_set(e, "database: %s", sqlite3_errmsg(n->db));
	return 0;
}

/* ---- alarms ---------------------------------------------------------- */

/* A hostile peer can make us refuse frames in a loop.  So that it cannot
 * fill our disk with alarms, at most NODE_ALARM_BURST alarms of one kind
 * from one peer are stored per minute; the rest are logged, and one
 * "alarm-flood" alarm records that this happened. */
#define NODE_ALARM_BURST 60

static int node_alarm_limited(struct node *n, const char *kind,
			      const char *peer)
{
	static struct {
		char kind[32], peer[CARD_NAME_MAX + 1];
		int64_t minute;
		unsigned count;
	} rl[32];
	static size_t next;
	int64_t minute = node_now_ms() / 60000;
	size_t i;
	char key[700];

	for (i = 0; i < sizeof rl / sizeof rl[0]; i++)
		if (strcmp(rl[i].kind, kind) == 0 && strcmp(rl[i].peer, peer) == 0)
			break;
	if (i == sizeof rl / sizeof rl[0]) {
		i = next++ % (sizeof rl / sizeof rl[0]);
		snprintf(rl[i].kind, sizeof rl[i].kind, "%s", kind);
		snprintf(rl[i].peer, sizeof rl[i].peer, "%s", peer);
		rl[i].minute = minute;
		rl[i].count = 0;
	}
	if (rl[i].minute != minute) {
		rl[i].minute = minute;
		rl[i].count = 0;
	}
	if (++rl[i].count <= NODE_ALARM_BURST)
		return 0;
	if (rl[i].count == NODE_ALARM_BURST + 1) {
		snprintf(key, sizeof key, "flood/%s/%s/%lld", kind, peer, (long long)minute);
		node_alarm(n, "alarm-flood", peer[0] ? peer : NULL, key, NULL,
			   "more than %d %s alarms in a minute; the rest of this minute's "
			   "are logged only", NODE_ALARM_BURST, kind);
	}
	return 1;
}

/* An alarm with this key is stored or waiting to be: the deadline checks
 * find an overdue message again at every tick until it is dealt with, and
 * it is one event, logged and stored once. */
static int node_alarm_known(struct node *n, const char *key)
{
	const struct alarm_q *a;
	sqlite3_stmt *st;
	int rc;

	for (a = n->alarms; a; a = a->next)
		if (strcmp(a->key, key) == 0)
			return 1;
	st = q(n, "SELECT 1 FROM alarms WHERE key = ?1");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_ROW;
}

void node_alarm(struct node *n, const char *kind, const char *peer,
		const char *key, const char *evidence, const char *fmt, ...)
{
	struct alarm_q *a;
	char detail[1024];
	va_list ap;

	if (key && node_alarm_known(n, key))
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	node_log(n, "ALARM %s%s%s: %s", kind, peer ? " from " : "", peer ? peer : "",
		 detail);
	if (strcmp(kind, "alarm-flood") != 0 && node_alarm_limited(n, kind, peer ? peer : ""))
		return;
	a = calloc(1, sizeof *a);
	if (a == NULL)
		return;
	snprintf(a->kind, sizeof a->kind, "%s", kind);
	snprintf(a->peer, sizeof a->peer, "%s", peer ? peer : "");
	if (key)
		snprintf(a->key, sizeof a->key, "%s", key);
	else
		snprintf(a->key, sizeof a->key, "%s/%lld/%p", kind,
			 (long long)node_now_ms(), (void *)a);
	a->detail = strdup(detail);
	a->evidence = evidence ? strdup(evidence) : NULL;
	a->next = n->alarms;
	n->alarms = a;
	node_kick(n);
}

static void alarm_free(struct alarm_q *a)
{
	while (a) {
		struct alarm_q *nx = a->next;
		free(a->detail);
		free(a->evidence);
		free(a);
		a = nx;
	}
}

/* ---- the mirror's compact range -------------------------------------- */

/* RFC 6962: the root of [0, n) is the right fold of the perfect subtrees
 * of n's binary decomposition, largest first; appending a leaf merges the
 * equal-sized subtrees at the right end. */
static void front_push(merkle_hash *f, int *nf, uint64_t size,
		       const merkle_hash leaf)
{
	memcpy(f[(*nf)++], leaf, MERKLE_HASH);
	for (uint64_t s = size; s & 1; s >>= 1) {
		merkle_node_hash(f[*nf - 2], f[*nf - 2], f[*nf - 1]);
		(*nf)--;
	}
}

static void front_root(const merkle_hash *f, int nf, merkle_hash out)
{
	merkle_hash h;
	int i;

	if (nf == 0) {
		merkle_empty_root(out);
		return;
	}
	memcpy(h, f[nf - 1], MERKLE_HASH);
	for (i = nf - 2; i >= 0; i--)
		merkle_node_hash(h, f[i], h);
	memcpy(out, h, MERKLE_HASH);
}

static int front_load(struct npeer *p, struct perr *e)
{
	struct merkle_node nodes[64];
	size_t k;

	p->m_size = store_log_size(p->in);
	k = merkle_range_nodes(0, p->m_size, nodes);
	p->nfront = (int)k;
	if (k == 0)
		return 0;
	return store_read_nodes(p->in, nodes, k, p->front, e);
}

/* ---- checkpoints ----------------------------------------------------- */

int node_sign_checkpoint(struct npeer *p, uint64_t size, char **note,
			 struct perr *e)
{
	struct checkpoint c;
	char text[1024];
	long tl;
	size_t nl;
	const struct note_signer *s = &p->signer;

	if (p->cp_cache && p->cp_cache_size == size) {
		*note = strdup(p->cp_cache);
		return *note ? 0 : perr_set(e, "out of memory");
	}
	if (size > store_log_size(p->out))
		return perr_set(e, "%s: no checkpoint beyond the durable size",
				p->out_origin);
	memset(&c, 0, sizeof c);
	snprintf(c.origin, sizeof c.origin, "%.255s", p->out_origin);
	c.size = size;
	if (store_root(p->out, size, c.root, e) != 0)
		return -1;
	tl = checkpoint_format(&c, text, sizeof text, e);
	if (tl < 0 || note_sign(note, &nl, text, (size_t)tl, &s, 1, 0, e) != 0)
		return -1;
	free(p->cp_cache);
	p->cp_cache = strdup(*note);
	p->cp_cache_size = size;
	return 0;
}

/* Opens a peer's signed checkpoint of its log to us. */
static int node_open_cp(struct npeer *p, const char *note, size_t len,
			struct checkpoint *c, struct perr *e)
{
	struct note nt;

	if (note_open(&nt, note, len, &p->in_vkey, 1, NULL, NULL, e) != 0)
		return perr_wrap(e, "checkpoint");
	if (checkpoint_parse(c, nt.text, nt.textlen, e) != 0)
		return -1;
	/* Indices are 0..2^53-1 (envelopes, receipts and refs say them in
	 * JSON, which reads that range exactly). */
	if (c->size > ENV_MAX_INDEX)
		return perr_set(e, "checkpoint size %llu is beyond 2^53-1",
				(unsigned long long)c->size);
	if (strcmp(c->origin, p->in_origin) != 0)
		return perr_set(e, "checkpoint origin \"%.100s\" is not \"%s\"",
				c->origin, p->in_origin);
	return 0;
}

/* ---- submission ------------------------------------------------------ */

int node_submit(struct node *n, struct npeer *p, enum env_type type,
		enum env_prec prec, const char *id, char *ent, size_t len,
		struct api_req *r, struct sub **out, struct perr *e)
{
	struct sub *s = calloc(1, sizeof *s);

	if (s == NULL) {
		free(ent);
		return perr_set(e, "out of memory");
	}
	s->p = p;
	s->type = type;
	s->prec = prec;
	snprintf(s->id, sizeof s->id, "%s", id);
	s->ent = ent;
	s->len = len;
	s->req = r;
	s->inbox_ack_idx = -1;
	*n->subs_tail = s;
	n->subs_tail = &s->next;
	if (out)
		*out = s;
	if (prec < ENV_ROUTINE)
		node_kick_urgent(n);
	else
		node_kick(n);
	return 0;
}

static int node_make_entry(struct node *n, struct npeer *p,
			   struct envelope *env, char **ent, size_t *len,
			   struct perr *e)
{
	snprintf(env->from, sizeof env->from, "%s", n->conf.name);
	snprintf(env->to, sizeof env->to, "%s", p->card.name);
	env->time = node_now_ms() / 1000;
	return env_encode(env, ent, len, e);
}

/* The receipt for p's log below `below` and the entries of held at or
 * beyond it (DESIGN: cumulative; it never covers what is not durable). */
static int node_queue_receipt(struct node *n, struct npeer *p, enum env_prec prec,
			      uint64_t below, const struct idxset *held, struct perr *e)
{
	struct envelope env;
	char *ent;
	size_t len, k = 0;

	while (k < held->n && held->v[k] < below)
		k++;
	memset(&env, 0, sizeof env);
	env.type = ENV_RECEIPT;
	env.prec = prec;
	snprintf(env.of, sizeof env.of, "%.255s", p->in_origin);
	env.below = below;
	env.also = held->v + k;
	env.nalso = held->n - k > ENV_MAX_ALSO ? ENV_MAX_ALSO : held->n - k;
	snprintf(env.id, sizeof env.id, "receipt-%llu-%zu-%lld",
		 (unsigned long long)env.below, env.nalso,
		 (long long)node_now_ms());
	if (node_make_entry(n, p, &env, &ent, &len, e) != 0)
		return -1;
	p->rc_below = env.below;
	p->rc_nalso = env.nalso;
	return node_submit(n, p, ENV_RECEIPT, env.prec, env.id, ent, len, NULL,
			   NULL, e);
}

static void node_queue_test(struct node *n, struct npeer *p)
{
	struct envelope env;
	char *ent, text[300];
	size_t len;
	struct perr e;

	memset(&env, 0, sizeof env);
	env.type = ENV_TEST;
	env.prec = ENV_ROUTINE;
	snprintf(env.id, sizeof env.id, "test-%lld", (long long)node_now_ms());
	snprintf(text, sizeof text, "link test from %s", n->conf.name);
	env.text = text;
	if (node_make_entry(n, p, &env, &ent, &len, &e) != 0 ||
	    node_submit(n, p, ENV_TEST, ENV_ROUTINE, env.id, ent, len, NULL, NULL,
			&e) != 0)
		node_log(n, "test message to %s: %s", p->card.name, e.msg);
	p->last_test_tx_ms = node_now_ms();
}

/* ---- processing what a peer logged ------------------------------------ */

/* The peer's cumulative receipt mark, as stored. */
static void node_load_rcpt_lo(struct node *n, struct npeer *p)
{
	sqlite3_stmt *st = q(n, "SELECT COALESCE(MAX(below), 0) FROM rcpts WHERE peer = ?1");

	sqlite3_bind_text(st, 1, p->card.name, -1, SQLITE_STATIC);
	p->rcpt_lo = sqlite3_step(st) == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
}

static void node_apply_receipt(struct node *n, struct npeer *p,
			       const struct envelope *env, uint64_t ridx,
			       int64_t now)
{
	uint64_t size = p->dout_size; /* all the peer can have had */
	sqlite3_stmt *st;
	struct perr e;
	size_t i;

	if (strcmp(env->of, p->out_origin) != 0) {
		node_alarm(n, "bad-receipt", p->card.name, NULL, NULL,
			   "receipt %llu of %s is for \"%.100s\", not our log %s",
			   (unsigned long long)ridx, p->in_origin, env->of,
			   p->out_origin);
		return;
	}
	if (env->below > size ||
	    (env->nalso > 0 && env->also[env->nalso - 1] >= size)) {
		node_alarm(n, "bad-receipt", p->card.name, NULL, NULL,
			   "receipt %llu of %s claims entries of %s we never logged "
			   "(below %llu, our size %llu)", (unsigned long long)ridx,
			   p->in_origin, p->out_origin,
			   (unsigned long long)env->below, (unsigned long long)size);
		return;
	}
	if (env->below > p->rcpt_lo) {
		st = q(n, "INSERT OR IGNORE INTO rcpts(peer, below, ridx, time, rtime)"
			  " VALUES(?1, ?2, ?3, ?4, ?5)");
		sqlite3_bind_text(st, 1, p->card.name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)env->below);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)ridx);
		sqlite3_bind_int64(st, 4, now);
		sqlite3_bind_int64(st, 5, env->time);
		if (q_done(n, st, &e) == 0)
			p->rcpt_lo = env->below;
	}
	for (i = 0; i < env->nalso; i++) {
		if (env->also[i] < p->rcpt_lo)
			continue; /* receipted by the mark already */
		st = q(n, "UPDATE outbox SET receipted = ?1, rtime = ?2, rcpt = ?3"
			  " WHERE k = ?4 AND receipted IS NULL");
		sqlite3_bind_int64(st, 1, now);
		sqlite3_bind_int64(st, 2, env->time);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)ridx);
		sqlite3_bind_int64(st, 4, node_key(p->out, env->also[i]));
		q_done(n, st, &e);
	}
}

static void node_apply_ack(struct node *n, struct npeer *p,
			   const struct envelope *env, uint64_t aidx, int64_t now)
{
	size_t i;
	struct perr e;

	for (i = 0; i < env->nrefs; i++) {
		const struct env_ref *r = &env->refs[i];
		uint8_t *d;
		size_t len;
		merkle_hash leaf;

		if (strcmp(r->origin, p->out_origin) != 0)
			continue;
		if (r->index >= p->dout_size ||
		    store_entry(p->out, r->index, &d, &len, &e) != 0) {
			node_alarm(n, "bad-ack", p->card.name, NULL, NULL,
				   "ack %llu refers to %s index %llu, which we never logged",
				   (unsigned long long)aidx, r->origin,
				   (unsigned long long)r->index);
			continue;
		}
		merkle_leaf_hash(leaf, d, len);
		free(d);
		if (memcmp(leaf, r->leaf, 32) != 0) {
			node_alarm(n, "bad-ack", p->card.name, NULL, NULL,
				   "ack %llu refers to %s index %llu with a leaf hash "
				   "that is not our entry's", (unsigned long long)aidx,
				   r->origin, (unsigned long long)r->index);
			continue;
		}
		sqlite3_stmt *st = q(n, "UPDATE outbox SET acked = ?1 WHERE k = ?2"
					" AND acked IS NULL");
		sqlite3_bind_int64(st, 1, now);
		sqlite3_bind_int64(st, 2, node_key(p->out, r->index));
		q_done(n, st, &e);
	}
}

/* One entry of p's log that has just become held (in order or not).
 * DESIGN principle 5: it is already verified as logged by the peer, so a
 * malformed envelope is kept as evidence and flagged, never dropped.  Its
 * inbox row is held in n->rows_inbox, written by node_flush_runs; -1 only
 * if the database failed. */
static int node_process(struct node *n, struct npeer *p, uint64_t idx,
			 const uint8_t *ent, size_t len, int64_t now)
{
	struct envelope env;
	struct perr e;
	char key[700];

	if (env_parse(&env, ent, len, &e) != 0) {
		snprintf(key, sizeof key, "malformed/%s/%llu", p->in_origin,
			 (unsigned long long)idx);
		node_alarm(n, "malformed-entry", p->card.name, key, NULL,
			   "entry %llu of %s is kept as evidence but is not a valid "
			   "envelope: %s", (unsigned long long)idx, p->in_origin, e.msg);
		return 0;
	}
	if (strcmp(env.from, p->card.name) != 0 ||
	    strcmp(env.to, n->conf.name) != 0) {
		snprintf(key, sizeof key, "misaddressed/%s/%llu", p->in_origin,
			 (unsigned long long)idx);
		node_alarm(n, "misaddressed", p->card.name, key, NULL,
			   "entry %llu of %s says from \"%.64s\" to \"%.64s\"",
			   (unsigned long long)idx, p->in_origin, env.from, env.to);
	}
	switch (env.type) {
	case ENV_RECEIPT:
		node_apply_receipt(n, p, &env, idx, now);
		break;
	case ENV_ACK:
		node_apply_ack(n, p, &env, idx, now);
		break;
	case ENV_TEST:
		p->last_test_rx_ms = now;
		break;
	default: {
		struct rows_val *v = rows_add(&n->rows_inbox);
		if (v == NULL) {
			if (rows_flush(&n->rows_inbox, &e) != 0) {
				node_log(n, "cannot store inbox rows: %s", e.msg);
				env_free(&env);
				return -1;
			}
			v = rows_add(&n->rows_inbox);
		}
		rows_set_int(&v[0], node_key(p->in, idx));
		rows_set_int(&v[1], env.prec);
		rows_set_text(&v[2], env_type_name(env.type));
		rows_set_int(&v[3], env.time);
		rows_set_int(&v[4], now);
		if (env.prec == ENV_FLASH || env.prec == ENV_IMMEDIATE)
			node_log(n, "received %s %s %s/%llu", env_prec_name(env.prec),
				 env_type_name(env.type), p->in_origin,
				 (unsigned long long)idx);
	}
	}
	if (env_needs_receipt(env.type)) {
		if (!p->rc_pending || env.prec < p->rc_prec_pending)
			p->rc_prec_pending = env.prec;
		p->rc_pending = 1;
	}
	env_free(&env);
	return 0;
}

/* ---- receiving a peer's log (docs/protocol.md, "What the receiver
 * verifies") ---------------------------------------------------------- */

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int jidx(json_t *o, const char *k, uint64_t *out)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* Decodes a JSON array of base64 hashes (proof) into out. */
static int jproof(json_t *a, merkle_hash *out, size_t *n, struct perr *e)
{
	size_t i;
	json_t *v;

	if (!json_is_array(a))
		return perr_set(e, "proof is not an array");
	if (json_array_size(a) > MERKLE_MAX_PROOF)
		return perr_set(e, "proof has %zu hashes (most: %d)",
				json_array_size(a), MERKLE_MAX_PROOF);
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) ||
		    merkle_hash_from_b64(out[i], json_string_value(v),
					 json_string_length(v), e) != 0)
			return perr_set(e, "proof hash %zu is not base64 of 32 bytes", i);
	}
	*n = json_array_size(a);
	return 0;
}

static void node_flush_link(struct node *n, struct link *l)
{
	if (l && !l->in_flush_list) {
		l->in_flush_list = 1;
		l->flush_next = n->flush_links;
		n->flush_links = l;
	}
	node_kick(n);
}

/* Evidence for an alarm about two checkpoints: both signed notes. */
static char *node_evidence2(const char *a, const char *b)
{
	size_t la = a ? strlen(a) : 0, lb = b ? strlen(b) : 0;
	char *s = malloc(la + lb + 64);
	if (s)
		snprintf(s, la + lb + 64, "%s\n%s", a ? a : "", b ? b : "");
	return s;
}

static void node_split_view(struct node *n, struct npeer *p, const char *held,
			    const char *got, uint64_t size)
{
	char key[700];
	char *ev = node_evidence2(held, got);

	snprintf(key, sizeof key, "split-view/%s/%llu", p->in_origin,
		 (unsigned long long)size);
	node_alarm(n, "split-view", p->card.name, key, ev,
		   "two checkpoints of %s are not consistent (at size %llu); both "
		   "kept as evidence", p->in_origin, (unsigned long long)size);
	free(ev);
}

/* A verified checkpoint of p's log becomes our latest if it is larger
 * (a run's may equal it). */
static void node_adopt_cp(struct npeer *p, const struct checkpoint *c,
			  const char *note)
{
	if (c->size < p->v_size)
		return;
	p->v_size = c->size;
	memcpy(p->v_root, c->root, 32);
	free(p->v_note);
	p->v_note = strdup(note);
}

/* The verified checkpoint of p's log at exactly this size, if held. */
static char *node_held_cp(struct node *n, struct npeer *p, uint64_t size)
{
	sqlite3_stmt *st = q(n, "SELECT note FROM ckpt WHERE origin = ?1 AND size = ?2");
	char *r = NULL;

	sqlite3_bind_text(st, 1, p->in_origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
	if (sqlite3_step(st) == SQLITE_ROW)
		r = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	if (r == NULL && p->v_note && p->v_size == size)
		r = strdup(p->v_note);
	return r;
}

int node_rx_entries(struct node *n, struct link *l, json_t *body,
		    const char *const *b64, const size_t *b64len, size_t nents,
		    struct perr *e)
{
	struct npeer *p = l->peer;
	const char *origin = jstr(body, "origin"), *cpn = jstr(body, "checkpoint");
	struct checkpoint c;
	uint64_t first, size, i;
	size_t cnt, k;
	merkle_hash front[64], root;
	int nf;
	struct rx_run *run = NULL;

	if (origin == NULL || cpn == NULL || b64 == NULL ||
	    jidx(body, "first", &first) != 0)
		return perr_set(e, "ENTRIES: needs origin, first, entries, checkpoint");
	if (strcmp(origin, p->in_origin) != 0)
		return perr_set(e, "ENTRIES: origin \"%.100s\" is not %s's log to us",
				origin, p->card.name);
	cnt = nents;
	if (cnt == 0 || cnt > LINK_RUN_MAX)
		return perr_set(e, "ENTRIES: %zu entries (1..%d allowed)", cnt,
				LINK_RUN_MAX);
	if (node_open_cp(p, cpn, strlen(cpn), &c, e) != 0)
		return perr_wrap(e, "ENTRIES");
	if (c.size != first + cnt)
		return perr_set(e, "ENTRIES: checkpoint size %llu is not first + count "
				"= %llu", (unsigned long long)c.size,
				(unsigned long long)(first + cnt));
	if (c.size <= p->m_size) {
		/* Already held: a resend.  Its checkpoint must still agree. */
		if (c.size <= p->d_size) {
			if (store_root(p->in, c.size, root, e) != 0)
				return -1;
			if (memcmp(root, c.root, 32) != 0) {
				char *h = node_held_cp(n, p, p->v_size);
				node_split_view(n, p, h, cpn, c.size);
				free(h);
				return perr_set(e, "ENTRIES: checkpoint at size %llu disagrees "
						"with the entries already held",
						(unsigned long long)c.size);
			}
		}
		node_flush_link(n, l);
		return 0;
	}
	if (first > p->m_size) {
		node_flush_link(n, l); /* a gap: our ACK tells where to resume */
		return 0;
	}
	run = calloc(1, sizeof *run);
	if (run == NULL)
		return perr_set(e, "out of memory");
	run->ents = calloc(cnt, sizeof *run->ents);
	run->lens = calloc(cnt, sizeof *run->lens);
	if (run->ents == NULL || run->lens == NULL)
		goto oom;
	memcpy(front, p->front, sizeof front);
	nf = p->nfront;
	size = p->m_size;
	k = 0;
	for (i = p->m_size - first; i < cnt; i++) {
		merkle_hash leaf;
		long dl;
		if (b64[i] == NULL || b64len[i] > B64_ENCLEN(STORE_ENTRY_MAX)) {
			perr_set(e, "ENTRIES: entry %llu is not base64 of at most %d bytes",
				 (unsigned long long)(first + i), STORE_ENTRY_MAX);
			goto fail;
		}
		run->ents[k] = malloc(b64len[i] / 4 * 3 + 3);
		if (run->ents[k] == NULL)
			goto oom;
		dl = b64_decode(run->ents[k], b64len[i] / 4 * 3 + 3, b64[i], b64len[i]);
		if (dl < 0 || dl > STORE_ENTRY_MAX) {
			perr_set(e, "ENTRIES: entry %llu is not base64 of at most %d bytes",
				 (unsigned long long)(first + i), STORE_ENTRY_MAX);
			k++;
			goto fail;
		}
		run->lens[k++] = (size_t)dl;
		merkle_leaf_hash(leaf, run->ents[k - 1], (size_t)dl);
		front_push(front, &nf, size, leaf);
		size++;
		if (size == p->v_size && p->v_size < c.size) {
			/* The run passes a checkpoint proven out of order. */
			front_root(front, nf, root);
			if (memcmp(root, p->v_root, 32) != 0) {
				node_split_view(n, p, p->v_note, cpn, size);
				perr_set(e, "ENTRIES: entries disagree with the verified "
					 "checkpoint of size %llu", (unsigned long long)size);
				goto fail;
			}
		}
	}
	run->n = k;
	front_root(front, nf, root);
	if (memcmp(root, c.root, 32) != 0) {
		if (c.size == p->v_size || (p->v_size > 0 && c.size < p->v_size)) {
			node_split_view(n, p, p->v_note, cpn, c.size);
		} else {
			char key[700];
			snprintf(key, sizeof key, "bad-run/%s/%llu/%lld", p->in_origin,
				 (unsigned long long)first, (long long)node_now_ms());
			node_alarm(n, "unproven-entries", p->card.name, key, cpn,
				   "entries %llu..%llu of %s do not hash to the root of "
				   "the signed checkpoint sent with them; rejected",
				   (unsigned long long)first,
				   (unsigned long long)(c.size - 1), p->in_origin);
		}
		perr_set(e, "ENTRIES: entries %llu..%llu do not match the signed "
			 "checkpoint", (unsigned long long)first,
			 (unsigned long long)(c.size - 1));
		goto fail;
	}
	/* Verified: the mirror (in memory) moves on; the flush makes it
	 * durable before anything is acknowledged. */
	memcpy(p->front, front, sizeof front);
	p->nfront = nf;
	run->p = p;
	run->from = l;
	run->first = p->m_size;
	run->cpnote = strdup(cpn);
	run->cpsize = c.size;
	run->urgent = json_is_true(json_object_get(body, "urgent"));
	p->m_size = c.size;
	node_adopt_cp(p, &c, cpn);
	*n->runs_tail = run;
	n->runs_tail = &run->next;
	node_flush_link(n, l);
	/* A short run is a peer's own traffic (a receipt, an ACK, a message
	 * or two), not a backlog draining: stored at once, it answers the
	 * sender waiting for it, and costs the flush little. */
	if (run->n <= NODE_SHORT_RUN || run->urgent)
		node_kick_urgent(n);
	return 0;
oom:
	perr_set(e, "out of memory");
fail:
	for (i = 0; i < cnt && run->ents; i++)
		free(run->ents[i]);
	free(run->ents);
	free(run->lens);
	free(run);
	return -1;
}

int node_rx_ooo(struct node *n, struct link *l, json_t *body, struct perr *e)
{
	struct npeer *p = l->peer;
	const char *origin = jstr(body, "origin"), *cpn = jstr(body, "checkpoint");
	const char *b64 = jstr(body, "entry");
	struct checkpoint c;
	uint64_t idx, from;
	merkle_hash incl[MERKLE_MAX_PROOF], cons[MERKLE_MAX_PROOF], leaf;
	size_t ni, nc, i;
	uint8_t *ent;
	long dl;
	struct rx_ooo *o;
	char key[700];

	if (origin == NULL || cpn == NULL || b64 == NULL ||
	    jidx(body, "index", &idx) != 0)
		return perr_set(e, "OOO: needs origin, index, entry, checkpoint, "
				"inclusion, consistency");
	if (strcmp(origin, p->in_origin) != 0)
		return perr_set(e, "OOO: origin \"%.100s\" is not %s's log to us",
				origin, p->card.name);
	if (node_open_cp(p, cpn, strlen(cpn), &c, e) != 0)
		return perr_wrap(e, "OOO");
	if (idx >= c.size)
		return perr_set(e, "OOO: index %llu is not in the checkpoint of size %llu",
				(unsigned long long)idx, (unsigned long long)c.size);
	if (jproof(json_object_get(body, "inclusion"), incl, &ni, e) != 0 ||
	    jproof(json_object_get(body, "consistency"), cons, &nc, e) != 0)
		return perr_wrap(e, "OOO");
	if (strlen(b64) > B64_ENCLEN(STORE_ENTRY_MAX))
		return perr_set(e, "OOO: entry over %d bytes", STORE_ENTRY_MAX);
	/* "from": the size the sender believes we verified last; its
	 * consistency proof starts there.  If we verified another since (an
	 * ACK still in flight, a path that failed over), the proof cannot be
	 * checked against our latest checkpoint: the frame is ignored (not an
	 * alarm) and our ACK tells the sender where we are. */
	if (jidx(body, "from", &from) != 0)
		return perr_set(e, "OOO: needs from");
	if (from != p->v_size && json_object_get(body, "more") != NULL) {
		/* Sent on another path than the runs in flight, the frame
		 * carries proofs from the sizes we may have verified by now:
		 * the one from ours is checked. */
		json_t *more = json_object_get(body, "more"), *m;
		size_t k;
		uint64_t f;
		if (!json_is_array(more) || json_array_size(more) > LINK_OOO_FROMS)
			return perr_set(e, "OOO: more is not an array of at most %d proofs",
					LINK_OOO_FROMS);
		json_array_foreach(more, k, m) {
			if (!json_is_object(m) || jidx(m, "from", &f) != 0)
				return perr_set(e, "OOO: more[%zu] needs from and consistency", k);
			if (f != p->v_size)
				continue;
			if (jproof(json_object_get(m, "consistency"), cons, &nc, e) != 0)
				return perr_wrap(e, "OOO: more[%zu]", k);
			from = f;
			break;
		}
	}
	if (from != p->v_size || c.size < p->v_size) {
		merkle_hash root;
		/* A checkpoint within what we hold must still agree with it. */
		if (c.size <= p->d_size && store_root(p->in, c.size, root, e) == 0 &&
		    memcmp(root, c.root, 32) != 0) {
			char *h = node_held_cp(n, p, p->v_size);
			node_split_view(n, p, h, cpn, c.size);
			free(h);
			return perr_set(e, "OOO: checkpoint at size %llu disagrees with the "
					"entries held", (unsigned long long)c.size);
		}
		/* Not held, so asked for again: the sender has no other way to
		 * tell an ignored frame from one still in flight, and the entry
		 * would otherwise wait for the runs before it. */
		if (idx >= p->m_size && !idxset_has(&p->held, idx) &&
		    p->ooo_redo.n < ENV_MAX_ALSO)
			idxset_add(&p->ooo_redo, idx);
		node_flush_link(n, l);
		return 0;
	}
	if (c.size == p->v_size) {
		if (memcmp(c.root, p->v_root, 32) != 0) {
			node_split_view(n, p, p->v_note, cpn, c.size);
			return perr_set(e, "OOO: a second checkpoint of size %llu",
					(unsigned long long)c.size);
		}
	} else if (p->v_size > 0 &&
		   merkle_verify_consistency(p->v_size, c.size, cons, nc, p->v_root,
					     32, c.root, 32, e) != 0) {
		char *ev = node_evidence2(p->v_note, cpn);
		snprintf(key, sizeof key, "inconsistent/%s/%llu/%llu", p->in_origin,
			 (unsigned long long)p->v_size, (unsigned long long)c.size);
		node_alarm(n, "split-view", p->card.name, key, ev,
			   "checkpoint of size %llu of %s is not proven consistent with "
			   "the one of size %llu we hold (%s); both kept as evidence",
			   (unsigned long long)c.size, p->in_origin,
			   (unsigned long long)p->v_size, e->msg);
		free(ev);
		return perr_set(e, "OOO: checkpoint not consistent with size %llu",
				(unsigned long long)p->v_size);
	}
	ent = malloc(strlen(b64) / 4 * 3 + 3);
	if (ent == NULL)
		return perr_set(e, "out of memory");
	dl = b64_decode(ent, strlen(b64) / 4 * 3 + 3, b64, strlen(b64));
	if (dl < 0 || dl > STORE_ENTRY_MAX) {
		free(ent);
		return perr_set(e, "OOO: entry is not base64 of at most %d bytes",
				STORE_ENTRY_MAX);
	}
	merkle_leaf_hash(leaf, ent, (size_t)dl);
	if (merkle_verify_inclusion(leaf, 32, idx, c.size, incl, ni, c.root, 32,
				    e) != 0) {
		snprintf(key, sizeof key, "unproven/%s/%llu/%lld", p->in_origin,
			 (unsigned long long)idx, (long long)node_now_ms());
		node_alarm(n, "unproven-entries", p->card.name, key, cpn,
			   "entry %llu of %s fails its inclusion proof (%s); rejected",
			   (unsigned long long)idx, p->in_origin, e->msg);
		free(ent);
		return perr_set(e, "OOO: entry %llu fails its inclusion proof",
				(unsigned long long)idx);
	}
	if (idx < p->m_size || idxset_has(&p->held, idx)) {
		/* Already held, proven again in a tree consistent with ours: the
		 * same bytes.  Its checkpoint is verified and becomes our latest,
		 * as the sender assumes for its next proof. */
		free(ent);
		if (c.size > p->v_size) {
			struct rx_ooo *cpo = calloc(1, sizeof *cpo);
			node_adopt_cp(p, &c, cpn);
			if (cpo) { /* stored with the next flush, entry-less */
				cpo->p = p;
				cpo->idx = UINT64_MAX;
				cpo->cpnote = strdup(cpn);
				cpo->cpsize = c.size;
				*n->ooos_tail = cpo;
				n->ooos_tail = &cpo->next;
			}
		}
		node_flush_link(n, l);
		return 0;
	}
	o = calloc(1, sizeof *o);
	if (o == NULL) {
		free(ent);
		return perr_set(e, "out of memory");
	}
	o->p = p;
	o->from = l;
	o->idx = idx;
	o->ent = ent;
	o->len = (size_t)dl;
	o->cpnote = strdup(cpn);
	o->cpsize = c.size;
	{
		/* The proof is kept with the entry, so an audit can re-check it. */
		size_t cap = ni * 45 + 1, off = 0;
		o->proof = malloc(cap);
		if (o->proof) {
			o->proof[0] = '\0';
			for (i = 0; i < ni; i++) {
				off += b64_encode(o->proof + off, incl[i], 32);
				o->proof[off++] = '\n';
				o->proof[off] = '\0';
			}
		}
	}
	idxset_add(&p->held, idx);
	node_adopt_cp(p, &c, cpn);
	*n->ooos_tail = o;
	n->ooos_tail = &o->next;
	node_flush_link(n, l);
	node_kick_urgent(n);
	return 0;
}

int node_rx_cosig(struct node *n, struct link *l, json_t *body,
		  struct perr *e)
{
	struct npeer *p = l->peer;
	const char *origin = jstr(body, "origin"), *line = jstr(body, "cosig");
	uint64_t size;
	char *note = NULL, *full = NULL;
	struct note nt;
	int ok = 0;
	size_t ll;

	if (origin == NULL || line == NULL || jidx(body, "size", &size) != 0)
		return perr_set(e, "COSIG: needs origin, size, cosig");
	if (strcmp(origin, p->out_origin) != 0)
		return perr_set(e, "COSIG: origin \"%.100s\" is not our log to %s",
				origin, p->card.name);
	ll = strlen(line);
	if (ll < 4 || ll > 1024 || line[ll - 1] != '\n' || strchr(line, '\n') != line + ll - 1)
		return perr_set(e, "COSIG: cosig is not one signature line");
	if (size == 0 || size > p->dout_size)
		return perr_set(e, "COSIG: size %llu is not a size of our log",
				(unsigned long long)size);
	if (node_sign_checkpoint(p, size, &note, e) != 0)
		return -1;
	full = malloc(strlen(note) + ll + 1);
	if (full == NULL) {
		free(note);
		return perr_set(e, "out of memory");
	}
	sprintf(full, "%s%s", note, line);
	if (note_open(&nt, full, strlen(full), &p->cosig_vkey, 1, &ok, NULL, e) != 0 || !ok) {
		free(note);
		free(full);
		return perr_wrap(e, "COSIG");
	}
	free(note);
	if (size < p->cosigned) {
		node_alarm(n, "cosign-rollback", p->card.name, NULL, full,
			   "%s cosigned size %llu of %s after size %llu",
			   p->card.name, (unsigned long long)size, p->out_origin,
			   (unsigned long long)p->cosigned);
		free(full);
		return 0;
	}
	p->cosigned = size;
	free(p->cosig_note);
	p->cosig_note = full;
	node_kick(n);
	return 0;
}

/* The ACK for p's log.  It takes the out-of-order entries ignored since
 * the last ACK ("resend"): asked for once, they come again with proofs
 * from the size this ACK reports verified. */
json_t *node_ack_body(struct npeer *p)
{
	json_t *also = json_array(), *redo = NULL;
	size_t i;

	for (i = 0; i < p->d_held.n && i < ENV_MAX_ALSO; i++)
		json_array_append_new(also, json_integer((json_int_t)p->d_held.v[i]));
	if (p->ooo_redo.n > 0) {
		redo = json_array();
		for (i = 0; i < p->ooo_redo.n; i++)
			json_array_append_new(redo, json_integer((json_int_t)p->ooo_redo.v[i]));
		idxset_clear(&p->ooo_redo);
	}
	return json_pack("{s:s, s:I, s:o, s:I, s:o*}", "origin", p->in_origin, "size",
			 (json_int_t)p->d_size, "also", also, "verified",
			 (json_int_t)p->dv_size, "resend", redo);
}

/* ---- the flush: one transaction per turn of the loop ----------------- */

static void run_free(struct rx_run *r)
{
	size_t i;
	for (i = 0; i < r->n; i++)
		free(r->ents[i]);
	free(r->ents);
	free(r->lens);
	free(r->cpnote);
	free(r);
}

static void ooo_free(struct rx_ooo *o)
{
	free(o->ent);
	free(o->cpnote);
	free(o->proof);
	free(o);
}

/* Keeps a verified checkpoint of p's log (the audit re-checks them). */
static int node_store_cp(struct node *n, struct npeer *p, uint64_t size,
			 const char *note, struct perr *e)
{
	sqlite3_stmt *st = q(n, "INSERT OR IGNORE INTO ckpt(origin, size, note)"
			       " VALUES(?1, ?2, ?3)");

	sqlite3_bind_text(st, 1, p->in_origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
	sqlite3_bind_text(st, 3, note, -1, SQLITE_STATIC);
	return q_done(n, st, e);
}

/* Stores what was received and verified: the runs before stop (NULL:
 * all of them).  The runs from stop on wait for the next flush; only their
 * verified checkpoints are stored now, so that what we acknowledge as
 * verified is durable. */
static int node_flush_runs(struct node *n, int64_t now, struct rx_run *stop,
			   struct perr *e)
{
	struct rx_run *r;
	struct rx_ooo *o;
	sqlite3_stmt *st;
	size_t i;

	/* Out-of-order entries first: a run in the same flush may cover them. */
	for (o = n->ooos; o; o = o->next) {
		if (o->ent == NULL) { /* a verified checkpoint alone */
			if (node_store_cp(n, o->p, o->cpsize, o->cpnote, e) != 0)
				return -1;
			continue;
		}
		st = q(n, "INSERT OR IGNORE INTO held(origin, idx, entry, cpnote, proof)"
			  " VALUES(?1, ?2, ?3, ?4, ?5)");
		sqlite3_bind_text(st, 1, o->p->in_origin, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)o->idx);
		sqlite3_bind_blob(st, 3, o->ent, (int)o->len, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, o->cpnote, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, o->proof ? o->proof : "", -1, SQLITE_STATIC);
		if (q_done(n, st, e) != 0)
			return -1;
		if (node_store_cp(n, o->p, o->cpsize, o->cpnote, e) != 0)
			return -1;
		if (node_process(n, o->p, o->idx, o->ent, o->len, now) != 0)
			return perr_set(e, "database: cannot store an inbox row");
	}
	for (r = stop; r; r = r->next) {
		if (node_store_cp(n, r->p, r->cpsize, r->cpnote, e) != 0)
			return -1;
	}
	for (r = n->runs; r != stop; r = r->next) {
		struct npeer *p = r->p;
		uint64_t first;
		if (store_log_size(p->in) != r->first)
			return perr_set(e, "internal: mirror of %s at %llu, run starts at %llu",
					p->in_origin, (unsigned long long)store_log_size(p->in),
					(unsigned long long)r->first);
		if (store_append(p->in, (const void *const *)r->ents, r->lens, r->n,
				 &first, e) != 0)
			return -1;
		for (i = 0; i < r->n; i++) {
			uint64_t idx = r->first + i;
			/* Held: processed when it arrived out of order (in this
			 * flush or a committed one). */
			if (!idxset_has(&p->held, idx) &&
			    node_process(n, p, idx, r->ents[i], r->lens[i], now) != 0)
				return perr_set(e, "database: cannot store an inbox row");
		}
		st = q(n, "DELETE FROM held WHERE origin = ?1 AND idx < ?2");
		sqlite3_bind_text(st, 1, p->in_origin, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)store_log_size(p->in));
		if (q_done(n, st, e) != 0)
			return -1;
		if (node_store_cp(n, p, r->cpsize, r->cpnote, e) != 0)
			return -1;
	}
	return rows_flush(&n->rows_inbox, e) != 0 ? -1 : 0;
}

/* A submission's idempotency key, looked up alone: 1 if it was seen
 * before (s->idx is the entry it made), 0 if it is new (and now taken for
 * index idx), -1 on error. */
static int node_sub_key(struct node *n, struct sub *s, uint64_t idx, struct perr *e)
{
	sqlite3_stmt *st = q(n, "INSERT INTO ids(peer, id, idx) VALUES(?1, ?2, ?3)");
	int rc;

	sqlite3_bind_text(st, 1, s->p->card.name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, s->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)idx);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	if ((rc & 0xff) != SQLITE_CONSTRAINT)
		return perr_set(e, "database: %s", sqlite3_errmsg(n->db));
	st = q(n, "SELECT idx FROM ids WHERE peer = ?1 AND id = ?2");
	sqlite3_bind_text(st, 1, s->p->card.name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, s->id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		s->idx = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 1;
}

/* A new submission's rows beside its entry: its outbox row, and for an
 * operator's acknowledgment, the inbox row it acknowledges. */
static int node_sub_rows(struct node *n, struct sub *s, struct perr *e)
{
	struct npeer *p = s->p;

	if (env_needs_receipt(s->type)) {
		struct rows_val *v = rows_add(&n->rows_outbox);
		if (v == NULL) {
			if (rows_flush(&n->rows_outbox, e) != 0)
				return -1;
			v = rows_add(&n->rows_outbox);
		}
		rows_set_int(&v[0], node_key(p->out, s->idx));
		rows_set_int(&v[1], s->prec);
		rows_set_text(&v[2], env_type_name(s->type));
		rows_set_int(&v[3], node_now_ms());
		rows_set_text(&v[4], s->id);
	}
	if (s->type == ENV_ACK && s->ack_of) {
		sqlite3_stmt *st = q(n, "UPDATE inbox SET acked = ?1, ackidx = ?2 WHERE k = ?3");
		sqlite3_bind_int64(st, 1, node_now_ms());
		sqlite3_bind_int64(st, 2, (sqlite3_int64)s->idx);
		sqlite3_bind_int64(st, 3, node_key(s->ack_of->in, (uint64_t)s->inbox_ack_idx));
		if (q_done(n, st, e) != 0)
			return -1;
	}
	return 0;
}

/* Sequences the queued submissions into the outbound logs: one append per
 * peer.  An idempotency key seen before maps to the entry it made.  Keys
 * go in ROWS_GROUP at a time; a group with a key seen before (the insert
 * fails as a whole) is looked up key by key. */
static int node_flush_subs(struct node *n, struct perr *e)
{
	size_t np;
	struct sub *s;

	for (np = 0; np < n->npeers; np++) {
		struct npeer *p = n->peers[np];
		uint64_t next = store_log_size(p->out), first;
		size_t cnt = 0, k = 0;
		const void **ents;
		size_t *lens;
		int rc = 0;

		for (s = n->subs; s; s = s->next)
			if (s->p == p)
				cnt++;
		if (cnt == 0)
			continue;
		ents = malloc(cnt * sizeof *ents);
		lens = malloc(cnt * sizeof *lens);
		if (ents == NULL || lens == NULL) {
			free(ents);
			free(lens);
			return perr_set(e, "out of memory");
		}
		s = n->subs;
		while (rc == 0 && s) {
			struct sub *g[ROWS_GROUP];
			int ng = 0, one_by_one = 0, j;
			for (; s && ng < ROWS_GROUP; s = s->next) {
				if (s->p != p)
					continue;
				if (s->keyed) {
					struct rows_val *v = rows_add(&n->rows_ids);
					rows_set_text(&v[0], p->card.name);
					rows_set_text(&v[1], s->id);
					rows_set_int(&v[2], (sqlite3_int64)(next + (uint64_t)ng));
				}
				g[ng++] = s;
			}
			rc = rows_flush(&n->rows_ids, e);
			if ((rc & 0xff) == SQLITE_CONSTRAINT) {
				one_by_one = 1;
				rc = 0;
			}
			for (j = 0; rc == 0 && j < ng; j++) {
				struct sub *t = g[j];
				if (one_by_one && t->keyed) {
					int seen = node_sub_key(n, t, next, e);
					if (seen != 0) {
						rc = seen < 0 ? -1 : 0;
						t->dup = seen > 0;
						continue;
					}
				}
				t->idx = next++;
				ents[k] = t->ent;
				lens[k++] = t->len;
				rc = node_sub_rows(n, t, e);
			}
		}
		if (rc == 0)
			rc = rows_flush(&n->rows_outbox, e);
		if (rc == 0 && k)
			rc = store_append(p->out, ents, lens, k, &first, e);
		free(ents);
		free(lens);
		if (rc != 0) {
			n->rows_outbox.n = 0;
			return -1;
		}
	}
	return 0;
}

static int node_flush_misc(struct node *n, struct perr *e)
{
	struct alarm_q *a;
	sqlite3_stmt *st;
	size_t i;

	for (a = n->alarms; a; a = a->next) {
		st = q(n, "INSERT OR IGNORE INTO alarms(key, time, kind, peer, detail,"
			  " evidence) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
		sqlite3_bind_text(st, 1, a->key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, node_now_ms());
		sqlite3_bind_text(st, 3, a->kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, a->peer, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, a->detail ? a->detail : "", -1, SQLITE_STATIC);
		if (a->evidence)
			sqlite3_bind_text(st, 6, a->evidence, -1, SQLITE_STATIC);
		if (q_done(n, st, e) != 0)
			return -1;
	}
	for (i = 0; i < n->npeers; i++) {
		struct npeer *p = n->peers[i];
		if (p->cosig_note) {
			st = q(n, "INSERT OR REPLACE INTO cosigned(origin, size, note)"
				  " VALUES(?1, ?2, ?3)");
			sqlite3_bind_text(st, 1, p->out_origin, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, (sqlite3_int64)p->cosigned);
			sqlite3_bind_text(st, 3, p->cosig_note, -1, SQLITE_STATIC);
			if (q_done(n, st, e) != 0)
				return -1;
		}
	}
	return 0;
}

/* Our cosignature of p's checkpoint at the durable verified size (DESIGN:
 * the largest tree head we have verified; never an older one). */
static int node_cosign(struct node *n, struct npeer *p, struct perr *e)
{
	struct note nt;
	char line[1100];
	long ll;
	sqlite3_stmt *st;
	char *full;

	if (p->dv_note == NULL || p->dv_size <= p->cs_size)
		return 0;
	if (note_parse(&nt, p->dv_note, strlen(p->dv_note), e) != 0)
		return -1;
	ll = note_sign_line(line, sizeof line, &n->cosignkey, nt.text, nt.textlen,
			    (uint64_t)(node_now_ms() / 1000), e);
	if (ll < 0)
		return -1;
	full = malloc(strlen(p->dv_note) + (size_t)ll + 1);
	if (full == NULL)
		return perr_set(e, "out of memory");
	sprintf(full, "%s%s", p->dv_note, line);
	st = q(n, "INSERT OR REPLACE INTO cosigned(origin, size, note) VALUES(?1, ?2, ?3)");
	sqlite3_bind_text(st, 1, p->in_origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)p->dv_size);
	sqlite3_bind_text(st, 3, full, -1, SQLITE_TRANSIENT);
	free(full);
	if (q_done(n, st, e) != 0)
		return -1;
	free(p->cs_send);
	p->cs_send = strdup(line);
	p->cs_send_size = p->dv_size;
	p->cs_last_ms = node_now_ms();
	return 0;
}

static void node_flush_failed(struct node *n, const char *msg)
{
	size_t i;
	struct rx_run *r;
	struct link *l;
	struct batch *b, *last;

	node_log(n, "commit failed, nothing of this batch is stored: %s", msg);
	for (b = n->batches, last = NULL; b; b = b->next)
		if (b->ok)
			last = b;
	for (i = 0; i < n->npeers; i++) {
		struct npeer *p = n->peers[i];
		struct perr e;
		/* Back to what is committed (the last batch waiting for its
		 * sync, or else what is durable); peers resend what we did
		 * not ACK. */
		const struct idxset *held = last ? &last->dp[i].held : &p->d_held;
		const char *vn = last ? last->dp[i].v_note : p->dv_note;
		if (front_load(p, &e) != 0)
			node_log(n, "reload of %s: %s", p->in_origin, e.msg);
		idxset_clear(&p->held);
		for (size_t k = 0; k < held->n; k++)
			idxset_add(&p->held, held->v[k]);
		p->v_size = last ? last->dp[i].v_size : p->dv_size;
		free(p->v_note);
		p->v_note = vn ? strdup(vn) : NULL;
		if (p->v_note) {
			struct checkpoint c;
			if (node_open_cp(p, p->v_note, strlen(p->v_note), &c, &e) == 0)
				memcpy(p->v_root, c.root, 32);
		}
		p->rc_pending = 0;
		free(p->cs_send);
		p->cs_send = NULL;
		node_load_rcpt_lo(n, p);
	}
	/* Close the paths whose data we dropped, so their senders resend. */
	for (r = n->runs; r; r = r->next)
		if (r->from)
			r->from->paused = 2;
	for (l = n->flush_links; l; l = l->flush_next)
		if (l->paused == 2 && l->bev)
			link_down(l, "our commit failed; resend");
}

/* A flush in ms milliseconds (for rate-limited receipts and cosignatures);
 * an earlier one already armed is kept, a later one brought forward. */
static void node_later(struct node *n, int64_t ms)
{
	struct timeval tv;
	int64_t at;

	if (ms < 1)
		ms = 1;
	at = node_now_ms() + ms;
	/* One timer for both: a receipt due in 50 ms must not wait for a
	 * cosignature due in 250 (it did: the last receipt of a burst came
	 * up to 230 ms after the one before it). */
	if (evtimer_pending(n->later_ev, NULL) && n->later_at <= at)
		return;
	n->later_at = at;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(n->later_ev, &tv);
}

static void node_later_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	node_kick(arg);
}

static void node_die(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	node_crashpoint(arg, CRASH_ACK_BEFORE_RECEIPT);
}

static void node_after_commit(struct node *n, int ok, struct rx_run *stop, int urgent,
			      struct sub *rest);

/* At most this many entries are sequenced in one commit: a large bulk
 * submission is committed in slices, so that a FLASH that arrives meanwhile
 * waits for one slice, not for the whole request.  Entries above ROUTINE
 * go first (none of what is queued is durable yet, so the log order among
 * them is still free), and when there are any, the slice is those alone:
 * an urgent flush (node_flush).  250: a slice is a few milliseconds of
 * work, and commits stay large enough that throughput does not suffer
 * (bench/node: 2,000 gave 24,160 msgs/s and FLASH p99 46 ms under load,
 * 250 gave 26,008 and 34 ms; BENCHMARKS.md). */
#define NODE_SLICE 250

static struct sub *node_slice(struct node *n, int urgent)
{
	struct sub *urg = NULL, **ut = &urg, *rou = NULL, **rt = &rou, *s, *nx, *rest;
	struct sub **pp;
	size_t k = 0;

	for (s = n->subs; s; s = nx) {
		nx = s->next;
		s->next = NULL;
		if (s->prec < ENV_ROUTINE) {
			*ut = s;
			ut = &s->next;
		} else {
			*rt = s;
			rt = &s->next;
		}
	}
	*ut = rou;
	n->subs = urg;
	for (pp = &n->subs; *pp && k < NODE_SLICE && (!urgent || (*pp)->prec < ENV_ROUTINE);
	     pp = &(*pp)->next)
		k++;
	rest = *pp;
	*pp = NULL;
	n->subs_tail = pp;
	return rest;
}

/* At most this many entries of runs are stored in one flush (whole runs,
 * and always up to the last run marked urgent); the rest wait for the next
 * one.  The loop thus turns every millisecond or so while a backlog
 * drains, so that an urgent frame that arrives meanwhile is read, and an
 * urgent write leaves, without waiting for several runs' worth of work
 * (bench/node: flushes of 1,024 entries took 3-4 ms, and a FLASH waited
 * for them at each end).  256: one run of 64 KiB of 256-byte entries. */
#define NODE_RUN_SLICE 256

/* The first run that this flush leaves for the next (NULL: none); in an
 * urgent flush without urgent runs, all of them. */
static struct rx_run *node_runs_slice(struct node *n, int defer)
{
	struct rx_run *r, *last_urgent = NULL;
	size_t k = 0;
	int passed;

	if (defer)
		return n->runs;
	for (r = n->runs; r; r = r->next)
		if (r->urgent)
			last_urgent = r;
	passed = last_urgent == NULL;
	for (r = n->runs; r; r = r->next) {
		k += r->n;
		passed |= r == last_urgent;
		if (passed && k >= NODE_RUN_SLICE)
			return r->next;
	}
	return NULL;
}

static void node_flush(evutil_socket_t fd, short what, void *arg);

static void node_flush_urgent(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;

	n->in_urgent_ev = 1;
	n->urgent_kicked = 0;
	node_flush(fd, what, arg);
	n->in_urgent_ev = 0;
}

static void node_flush(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	struct perr e;
	int64_t now = node_now_ms();
	size_t i;
	int rc = 0, had_api = 0, any, urgent = 0, urgent_runs = 0;
	struct sub *s, *rest = NULL;
	struct rx_ooo *o;
	struct rx_run *stop;

	(void)fd;
	(void)what;
	e.msg[0] = '\0';
	/* Receipts for what the previous flushes made durable. */
	for (i = 0; i < n->npeers; i++) {
		struct npeer *p = n->peers[i];
		if (p->rc_due && n->crashpoint == CRASH_ACK_BEFORE_RECEIPT) {
			/* Let the ACK leave, then die before the receipt. */
			struct timeval tv = { 0, 300000 };
			event_base_once(n->base, -1, EV_TIMEOUT, node_die, n, &tv);
			continue;
		}
		if (p->rc_due && p->rc_prec > ENV_IMMEDIATE &&
		    now - p->rc_last_ms < NODE_RECEIPT_MS) {
			node_later(n, NODE_RECEIPT_MS - (now - p->rc_last_ms));
			continue;
		}
		if (p->rc_due) {
			p->rc_due = 0;
			p->rc_last_ms = now;
			if (node_queue_receipt(n, p, p->rc_prec, p->d_size, &p->d_held, &e) != 0)
				node_log(n, "receipt for %s: %s", p->in_origin, e.msg);
		}
	}
	any = n->subs || n->runs || n->ooos || n->alarms;
	for (i = 0; i < n->npeers; i++) {
		struct npeer *p = n->peers[i];
		any |= p->cosig_note != NULL;
		if (p->dv_size > p->cs_size) {
			if (now - p->cs_last_ms >= NODE_COSIGN_MS)
				any = 1;
			else
				node_later(n, NODE_COSIGN_MS - (now - p->cs_last_ms));
		}
	}
	if (!any && n->flush_links == NULL)
		return;
	/* An urgent flush: an entry above ROUTINE, ours or the peer's out of
	 * order, is committed without the bulk work queued with it (runs,
	 * ROUTINE submissions), which waits for the next flush.  A FLASH thus
	 * waits for at most the one flush already under way at each step.
	 * A run the sender marked urgent (it carries such an entry in order)
	 * goes in the urgent flush, with the runs before it. */
	for (o = n->ooos; o; o = o->next)
		urgent |= o->ent != NULL;
	for (s = n->subs; s; s = s->next)
		urgent |= s->prec < ENV_ROUTINE;
	for (struct rx_run *r = n->runs; r; r = r->next)
		urgent_runs |= r->urgent;
	urgent |= urgent_runs;
	/* The first priority is for urgent work alone: woken there with
	 * none (a receipt queued by the urgent flush that also commits it,
	 * say), the bulk work goes back to the common priority, behind the
	 * urgent writes and reads the loop has not seen yet.  Bulk work at
	 * the first priority ran before a FLASH's receipt left (bench/node:
	 * up to 2 ms). */
	if (n->in_urgent_ev && !urgent) {
		if (any || n->flush_links)
			node_kick(n);
		return;
	}
	/* The checkpointer is copying the WAL's last frames so that it can
	 * restart (ckpt.h): bulk work waits the few milliseconds that takes
	 * (node_wsync_cb resumes it); urgent work never does. */
	if (!urgent && !n->stopping && ckpt_hold(n->ckpt)) {
		n->ckpt_held = 1;
		return;
	}
	rest = node_slice(n, urgent);
	stop = node_runs_slice(n, urgent && !urgent_runs);
	if (rest || stop)
		node_kick(n);
	for (s = n->subs; s; s = s->next)
		had_api |= s->req != NULL;
	if (any) {
		rc = store_begin(n->st, &e);
		if (rc == 0)
			rc = node_flush_runs(n, now, stop, &e);
		/* A FLASH or IMMEDIATE entry's receipt goes in the commit that
		 * stores it: it is durable exactly when the entries it covers
		 * are, never before, and is sent after the sync like everything
		 * else; the entry's sender waits for one sync of ours, not two. */
		for (i = 0; rc == 0 && i < n->npeers; i++) {
			struct npeer *p = n->peers[i];
			if (p->rc_pending && p->rc_prec_pending <= ENV_IMMEDIATE) {
				rc = node_queue_receipt(n, p, p->rc_prec_pending,
							store_log_size(p->in), &p->held, &e);
				p->rc_pending = 0;
				p->rc_last_ms = now;
			}
		}
		if (rc == 0)
			rc = node_flush_subs(n, &e);
		if (rc == 0)
			rc = node_flush_misc(n, &e);
		/* Cosign what earlier flushes made durable: its receipt, if it
		 * needed one, is in this transaction or an earlier one. */
		for (i = 0; rc == 0 && i < n->npeers; i++)
			if (now - n->peers[i]->cs_last_ms >= NODE_COSIGN_MS)
				rc = node_cosign(n, n->peers[i], &e);
		if (rc == 0 && had_api)
			node_crashpoint(n, CRASH_SEQ_BEFORE_COMMIT);
		if (rc == 0) {
			int64_t t0 = node_now_ms();
			rc = store_commit(n->st, &e);
			if (node_now_ms() - t0 > n->slow_ms)
				node_log(n, "slow commit: %lld ms", (long long)(node_now_ms() - t0));
		} else {
			store_rollback(n->st);
		}
	}
	if (rc != 0) {
		/* Rows gathered for the rolled-back transaction go with it. */
		n->rows_ids.n = n->rows_outbox.n = n->rows_inbox.n = 0;
		n->disk_full = 1;
		snprintf(n->disk_err, sizeof n->disk_err, "%s", e.msg);
		node_flush_failed(n, e.msg);
	} else if (any) {
		n->disk_full = 0;
	}
	node_after_commit(n, rc == 0, rc == 0 ? stop : NULL, urgent && any, rest);
	if (any && !urgent)
		node_bulk_yield(n);
}

static struct link *node_rx_link(struct node *n, struct npeer *p)
{
	struct link *l;
	for (l = n->incoming; l; l = l->next)
		if (l->peer == p && l->state == LINK_READY && l->bev)
			return l;
	return NULL;
}

static void batch_free(struct node *n, struct batch *b)
{
	size_t i;

	for (i = 0; b->dp && i < n->npeers; i++) {
		idxset_clear(&b->dp[i].held);
		free(b->dp[i].v_note);
		free(b->dp[i].cs_send);
	}
	free(b->dp);
	free(b->links);
	free(b);
}

/*
 * A commit is durable: now the node may say so.  Answer the requests,
 * acknowledge on the paths the entries came by, move the durable state of
 * each peer's logs on (receipts and cosignatures are made of it), send
 * the cosignature, and deliver what our logs gained.  Batches are taken in
 * commit order.
 */
static void node_durable(struct node *n, struct batch *b)
{
	struct api_req *r, *rnx;
	struct link *l;
	size_t i;

	for (i = 0; b->ok && i < n->npeers; i++) {
		struct npeer *p = n->peers[i];
		struct dpeer *d = &b->dp[i];
		struct idxset t = p->d_held;
		p->d_size = d->in_size;
		p->d_held = d->held;
		d->held = t;
		if (d->v_size > p->dv_size) {
			p->dv_size = d->v_size;
			free(p->dv_note);
			p->dv_note = d->v_note;
			d->v_note = NULL;
		}
		if (d->rc) {
			if (!p->rc_due || d->rc_prec < p->rc_prec)
				p->rc_prec = d->rc_prec;
			p->rc_due = 1;
		}
	}
	if (b->ok && b->had_api)
		node_crashpoint(n, CRASH_COMMIT_BEFORE_SEND);
	if (b->ok && b->had_rx)
		node_crashpoint(n, CRASH_STORED_BEFORE_ACK);
	for (r = b->reqs; r; r = rnx) {
		rnx = r->next;
		api_reply_req(n, r);
	}
	/* Stored, now acknowledged on the link (DESIGN, "What the link
	 * guarantees"). */
	for (i = 0; i < b->nlinks; i++) {
		l = b->links[i];
		l->holds--;
		if (b->ok && l->bev && l->state == LINK_READY && l->peer && !l->closing)
			link_send(l, FRAME_ACK, node_ack_body(l->peer));
		link_release(l);
	}
	for (i = 0; b->ok && i < n->npeers; i++) {
		struct npeer *p = n->peers[i];
		struct dpeer *d = &b->dp[i];
		if (d->cs_send) {
			if ((l = node_rx_link(n, p)) != NULL)
				link_send(l, FRAME_COSIG,
					  json_pack("{s:s, s:I, s:s}", "origin", p->in_origin,
						    "size", (json_int_t)d->cs_send_size,
						    "cosig", d->cs_send));
			p->cs_size = d->cs_send_size;
		}
		if (d->out_size > p->dout_size) {
			p->dout_size = d->out_size;
			link_deliver(p);
		}
		if (p->rc_due || p->dv_size > p->cs_size)
			node_kick(n);
	}
	batch_free(n, b);
}

/* Takes the batches the WAL sync has reached. */
static void node_durable_upto(struct node *n)
{
	struct perr e;
	uint64_t done;

	if (wsync_done(n->wsync, &done, &e) != 0) {
		/* What the failed sync covered may be lost: nothing of it may
		 * be acknowledged, now or after a restart that finds it. */
		node_log(n, "the WAL could not be synced, stopping at once: %s", e.msg);
		fflush(stderr);
		_exit(3);
	}
	n->gen_done = done;
	while (n->batches && n->batches->gen <= n->gen_done) {
		struct batch *b = n->batches;
		n->batches = b->next;
		if (n->batches == NULL)
			n->batches_tail = &n->batches;
		node_durable(n, b);
	}
}

static void node_wsync_cb(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	char buf[64];

	(void)what;
	while (read(fd, buf, sizeof buf) > 0)
		;
	node_durable_upto(n);
	/* The checkpointer's hold ended: what the flush held back goes now. */
	if (n->ckpt_held && !ckpt_holding(n->ckpt)) {
		n->ckpt_held = 0;
		node_kick(n);
	}
}

/*
 * After the commit (not yet durable): take everything it covered off the
 * node, into a batch that waits for the WAL sync (node_durable), and read
 * on.  Resuming a paused path reads more frames, which queue new work
 * (runs, alarms, links to ACK) for the next flush while this one syncs.
 * The runs from stop on (all of them in an urgent flush, the rest of a
 * slice in a bulk one) stay queued for the next flush.
 */
static void node_after_commit(struct node *n, int ok, struct rx_run *stop, int urgent,
			      struct sub *rest)
{
	int synced = 0;
	struct sub *subs = n->subs, *s, *snx;
	struct api_req *reqs = n->reqs, *r, *rnx;
	struct rx_run *runs = n->runs == stop ? NULL : n->runs, *run, *runx;
	struct rx_ooo *ooos = n->ooos, *o, *onx;
	struct alarm_q *alarms = n->alarms;
	struct link *links = n->flush_links, *l, *lnx;
	struct batch *b = calloc(1, sizeof *b);
	size_t i, nl = 0;

	for (l = links; l; l = l->flush_next)
		nl++;
	if (b == NULL || (ok && (b->dp = calloc(n->npeers ? n->npeers : 1,
						sizeof *b->dp)) == NULL) ||
	    (b->links = calloc(nl ? nl : 1, sizeof *b->links)) == NULL) {
		node_log(n, "out of memory after a commit, stopping");
		fflush(stderr);
		_exit(3); /* nothing of it was acknowledged */
	}
	b->ok = ok;
	b->had_rx = ok && (runs != NULL || ooos != NULL);
	n->subs = NULL;
	n->subs_tail = &n->subs;
	n->reqs = NULL;
	if (runs != NULL) { /* the runs stored: those before stop */
		struct rx_run **pp = &n->runs;
		while (*pp != stop)
			pp = &(*pp)->next;
		*pp = NULL;
		n->runs = stop;
		if (stop == NULL)
			n->runs_tail = &n->runs;
	}
	n->ooos = NULL;
	n->ooos_tail = &n->ooos;
	n->alarms = NULL;
	n->flush_links = NULL;
	for (l = links; l; l = l->flush_next) {
		l->in_flush_list = 0;
		l->holds++;
		b->links[b->nlinks++] = l;
	}

	for (s = subs; s; s = s->next) {
		s->committed = ok;
		if (s->req) {
			b->had_api = 1;
			s->req->done++;
			if (!ok) {
				s->req->failed = 1;
				snprintf(s->req->err, sizeof s->req->err, "%s", n->disk_err);
			}
		}
		/* Sent out of order once durable (link_deliver checks). */
		if (ok && !s->dup && s->prec < ENV_ROUTINE)
			idxset_add(&s->p->urgent[s->prec], s->idx);
	}
	/* The rest of a sliced submission: on to the next commit, or, if this
	 * one failed, failed with it (a request is stored whole or not). */
	for (s = rest; s; s = snx) {
		snx = s->next;
		if (ok) {
			s->next = NULL;
			*n->subs_tail = s;
			n->subs_tail = &s->next;
			continue;
		}
		free(s->ent);
		s->ent = NULL;
		if (s->req) {
			s->req->done++;
			s->req->failed = 1;
			snprintf(s->req->err, sizeof s->req->err, "%s", n->disk_err);
		} else {
			free(s);
		}
	}
	for (s = subs; s; s = snx) {
		snx = s->next;
		free(s->ent);
		s->ent = NULL;
		if (s->req == NULL)
			free(s); /* the request's are freed with its answer */
	}
	/* The requests whose entries are all committed (or failed) are
	 * answered with this batch. */
	for (r = reqs; r; r = rnx) {
		rnx = r->next;
		if (r->done == r->nsubs) {
			r->next = b->reqs;
			b->reqs = r;
		} else {
			r->next = n->reqs;
			n->reqs = r;
		}
	}
	for (i = 0; ok && i < n->npeers; i++) {
		struct npeer *p = n->peers[i];
		struct dpeer *d = &b->dp[i];
		d->out_size = store_log_size(p->out);
		d->in_size = store_log_size(p->in);
		idxset_del_below(&p->held, d->in_size);
		for (size_t k = 0; k < p->held.n; k++)
			idxset_add(&d->held, p->held.v[k]);
		d->v_size = p->v_size;
		d->v_note = p->v_note ? strdup(p->v_note) : NULL;
		d->rc = p->rc_pending;
		d->rc_prec = p->rc_prec_pending;
		p->rc_pending = 0;
		d->cs_send = p->cs_send;
		d->cs_send_size = p->cs_send_size;
		p->cs_send = NULL;
		free(p->cosig_note);
		p->cosig_note = NULL;
	}
	if (ok) {
		if (b->had_api || b->had_rx)
			node_crashpoint(n, CRASH_COMMIT_BEFORE_SYNC);
		b->gen = ++n->gen;
		/* An urgent commit is synced here and now (wsync_now), at most
		 * once every NODE_NOW_SYNC_MS so that a flood of urgent traffic
		 * keeps the pipelined syncs of the thread; a failure is found
		 * by node_durable_upto below, which stops the node.  The
		 * thread is not woken for it: on a busy machine the wakeup
		 * could cost this thread its CPU just before the sync. */
		int64_t now = node_now_ms();
		if (urgent && now - n->now_sync_ms >= NODE_NOW_SYNC_MS) {
			struct perr e;
			n->now_sync_ms = now;
			(void)wsync_now(n->wsync, b->gen, &e);
			synced = 1;
		} else {
			wsync_request(n->wsync, b->gen);
		}
	} else {
		b->gen = n->gen; /* after what came before it */
	}
	*n->batches_tail = b;
	n->batches_tail = &b->next;
	for (run = runs; run; run = runx) {
		runx = run->next;
		run_free(run);
	}
	for (o = ooos; o; o = onx) {
		onx = o->next;
		ooo_free(o);
	}
	alarm_free(alarms);
	/* The paths paused for this flush read on.  A path whose runs were
	 * deferred stays on the flush list, to be acknowledged again once
	 * they are stored; the runs of a closed one no longer name it. */
	for (l = links; l; l = lnx) {
		int keep = 0;
		lnx = l->flush_next;
		l->flush_next = NULL;
		for (run = n->runs; run; run = run->next)
			if (run->from == l) {
				if (l->peer == NULL && !l->outgoing)
					run->from = NULL;
				else
					keep = 1;
			}
		if (keep)
			node_flush_link(n, l);
		link_resume(l);
	}
	if (synced || b->gen <= n->gen_done)
		node_durable_upto(n);
}

/* ---- once a second: deadlines, tests, liveness ----------------------- */

static void node_deadlines(struct node *n, struct npeer *p, int64_t now)
{
	sqlite3_stmt *st;
	int pr, rc;
	char key[700];

	_Static_assert(ENV_ROUTINE == 3 && NODE_NPREC == 4,
		      "outbox_urg and inbox_urg hold every precedence but 3, ROUTINE");
	for (pr = 0; pr < NODE_NPREC; pr++) {
		int64_t dl = (int64_t)n->conf.receipt_deadline[pr] * 1000;
		int routine = pr == ENV_ROUTINE;

		/* Above ROUTINE, the partial index (INDEXED BY: left to itself,
		 * SQLite may walk the primary key through every receipted row).
		 * ROUTINE, the primary key from the receipt mark: the rows above
		 * it are unreceipted but for a few receipted out of order. */
		st = q(n, routine ?
		       "SELECT k, time FROM outbox WHERE prec = ?1 AND k >= ?2 AND k < ?3"
		       " AND receipted IS NULL ORDER BY k LIMIT 1" :
		       "SELECT k, time FROM outbox INDEXED BY outbox_urg WHERE prec = ?1"
		       " AND prec <> 3 AND k >= ?2 AND k < ?3 AND receipted IS NULL"
		       " ORDER BY k LIMIT 1");
		sqlite3_bind_int(st, 1, pr);
		sqlite3_bind_int64(st, 2, node_key(p->out, p->rcpt_lo));
		sqlite3_bind_int64(st, 3, node_key_end(p->out));
		if (sqlite3_step(st) == SQLITE_ROW &&
		    now - sqlite3_column_int64(st, 1) > dl) {
			uint64_t idx = node_key_idx(sqlite3_column_int64(st, 0));
			snprintf(key, sizeof key, "receipt-overdue/%s/%llu", p->out_origin,
				 (unsigned long long)idx);
			node_alarm(n, "receipt-overdue", p->card.name, key, NULL,
				   "no receipt from %s for %s entry %s/%llu within %u s",
				   p->card.name, env_prec_name((enum env_prec)pr),
				   p->out_origin, (unsigned long long)idx,
				   n->conf.receipt_deadline[pr]);
		}
		sqlite3_reset(st);
		dl = (int64_t)n->conf.ack_deadline[pr] * 1000;
		/* ROUTINE from ack_scan: below it, every ROUTINE row is acked. */
		st = q(n, routine ?
		       "SELECT k, received FROM inbox WHERE prec = ?1 AND k >= ?2 AND k < ?3"
		       " AND acked IS NULL ORDER BY k LIMIT 1" :
		       "SELECT k, received FROM inbox INDEXED BY inbox_urg WHERE prec = ?1"
		       " AND prec <> 3 AND k >= ?2 AND k < ?3 AND acked IS NULL"
		       " ORDER BY k LIMIT 1");
		sqlite3_bind_int(st, 1, pr);
		sqlite3_bind_int64(st, 2, node_key(p->in, routine ? p->ack_scan : 0));
		sqlite3_bind_int64(st, 3, node_key_end(p->in));
		rc = sqlite3_step(st);
		if (routine)
			/* Rows come in order below the durable mirror size, and
			 * an ack is never undone: the next scan starts at the
			 * row found, or at that size when none was. */
			p->ack_scan = rc == SQLITE_ROW ? node_key_idx(sqlite3_column_int64(st, 0)) :
				      p->ack_scan > p->d_size ? p->ack_scan : p->d_size;
		if (rc == SQLITE_ROW && now - sqlite3_column_int64(st, 1) > dl) {
			uint64_t idx = node_key_idx(sqlite3_column_int64(st, 0));
			snprintf(key, sizeof key, "ack-overdue/%s/%llu", p->in_origin,
				 (unsigned long long)idx);
			node_alarm(n, "ack-overdue", p->card.name, key, NULL,
				   "%s message %s/%llu not acknowledged by an operator "
				   "within %u s", env_prec_name((enum env_prec)pr),
				   p->in_origin, (unsigned long long)idx,
				   n->conf.ack_deadline[pr]);
		}
		sqlite3_reset(st);
	}
	/* The periodic test: ours is due, and the peer's must arrive. */
	if (now - p->last_test_tx_ms >= (int64_t)n->conf.test_interval * 1000)
		node_queue_test(n, p);
	if (now - p->last_test_rx_ms > (int64_t)n->conf.test_interval * 2000 + 2000) {
		snprintf(key, sizeof key, "test-missed/%s/%lld", p->in_origin,
			 (long long)(p->last_test_rx_ms / 1000));
		node_alarm(n, "test-missed", p->card.name, key, NULL,
			   "no test message from %s since %lld s (interval %u s)",
			   p->card.name, (long long)((now - p->last_test_rx_ms) / 1000),
			   n->conf.test_interval);
	}
	if (p->skew_known &&
	    (p->skew_ms > (int64_t)n->conf.skew_tolerance * 1000 ||
	     -p->skew_ms > (int64_t)n->conf.skew_tolerance * 1000)) {
		snprintf(key, sizeof key, "clock-skew/%s/%lld", p->card.name,
			 (long long)(now / 3600000));
		node_alarm(n, "clock-skew", p->card.name, key, NULL,
			   "%s's clock differs from ours by %lld ms (tolerance %u s)",
			   p->card.name, (long long)p->skew_ms, n->conf.skew_tolerance);
	}
}

static void node_tick(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	int64_t now = node_now_ms();
	size_t i;

	(void)fd;
	(void)what;
	for (i = 0; i < n->npeers; i++) {
		node_deadlines(n, n->peers[i], now);
		ntreaty_advance(n, n->peers[i]);
	}
	link_tick(n);
}

static void node_signal(evutil_socket_t sig, short what, void *arg)
{
	struct node *n = arg;
	(void)what;
	node_log(n, "%s: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	event_base_loopexit(n->base, NULL);
}

/* ---- start and stop -------------------------------------------------- */

static int node_read_token(struct node *n, const char *file, char *out,
			   size_t cap, struct perr *e)
{
	char path[4200], *buf;
	size_t len;

	if (nodedir_path(path, sizeof path, n->dir, file, e) != 0 ||
	    file_read(path, cap - 1, 1, &buf, &len, e) != 0)
		return -1;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	memcpy(out, buf, len);
	out[len] = '\0';
	OPENSSL_cleanse(buf, len);
	free(buf);
	return len > 0 ? 0 : perr_set(e, "%s/%s is empty", n->dir, file);
}

static int node_read_key(struct node *n, const char *file,
			 struct note_signer *k, struct perr *e)
{
	char path[4200], *buf;
	size_t len;
	int rc;

	if (nodedir_path(path, sizeof path, n->dir, file, e) != 0 ||
	    file_read(path, 4096, 1, &buf, &len, e) != 0)
		return -1;
	rc = note_signer_parse(k, buf, len, e);
	OPENSSL_cleanse(buf, len);
	free(buf);
	return rc != 0 ? perr_wrap(e, "%s/%s", n->dir, file) : 0;
}

static int node_open_log(struct node *n, const char *origin,
			 struct store_log **l, struct perr *e)
{
	if (store_log_open(n->st, origin, l, e) == 0)
		return 0;
	if (store_log_create(n->st, origin, e) != 0)
		return -1;
	return store_log_open(n->st, origin, l, e);
}

static int node_load_peer(struct node *n, const char *cardnote, size_t len,
			  const char *addrs, struct perr *e)
{
	struct npeer *p;
	sqlite3_stmt *st;
	const char *a;

	if (n->npeers == NODE_MAX_PEERS)
		return perr_set(e, "more than %d peers", NODE_MAX_PEERS);
	p = calloc(1, sizeof *p);
	if (p == NULL)
		return perr_set(e, "out of memory");
	n->peers[n->npeers++] = p;
	p->n = n;
	if (card_open(&p->card, cardnote, len, e) != 0)
		return -1;
	p->card.naddrs = 0;
	for (a = addrs; *a && p->card.naddrs < CARD_MAX_ADDRS;) {
		const char *nl = strchr(a, '\n');
		size_t al = nl ? (size_t)(nl - a) : strlen(a);
		if (al > 0 && al <= CARD_ADDR_MAX) {
			memcpy(p->card.addrs[p->card.naddrs], a, al);
			p->card.addrs[p->card.naddrs++][al] = '\0';
		}
		a += al + (nl ? 1 : 0);
	}
	snprintf(p->out_origin, sizeof p->out_origin, "%s/to/%s", n->conf.name,
		 p->card.name);
	snprintf(p->in_origin, sizeof p->in_origin, "%s/to/%s", p->card.name,
		 n->conf.name);
	/* An origin is named in envelopes ("of", refs): at most 255 bytes. */
	if (strlen(p->out_origin) > ENV_NAME_MAX || strlen(p->in_origin) > ENV_NAME_MAX)
		return perr_set(e, "log origin %s is longer than %d bytes; use shorter "
				"node names", p->out_origin, ENV_NAME_MAX);
	if (note_signer_from_seed(&p->signer, p->out_origin, NOTE_ALG_ED25519,
				  n->logkey.seed, e) != 0)
		return -1;
	note_signer_verifier(&p->signer, &p->own_vkey);
	card_log_verifier(&p->card, p->in_origin, &p->in_vkey);
	card_cosign_verifier(&p->card, &p->cosig_vkey);
	if (node_open_log(n, p->out_origin, &p->out, e) != 0 ||
	    node_open_log(n, p->in_origin, &p->in, e) != 0 || front_load(p, e) != 0)
		return -1;
	p->d_size = p->m_size;
	/* Held out-of-order entries, the latest verified checkpoint. */
	st = q(n, "SELECT idx FROM held WHERE origin = ?1 ORDER BY idx");
	sqlite3_bind_text(st, 1, p->in_origin, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		idxset_add(&p->held, (uint64_t)sqlite3_column_int64(st, 0));
		idxset_add(&p->d_held, (uint64_t)sqlite3_column_int64(st, 0));
	}
	sqlite3_reset(st);
	st = q(n, "SELECT size, note FROM ckpt WHERE origin = ?1 ORDER BY size DESC LIMIT 1");
	sqlite3_bind_text(st, 1, p->in_origin, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		struct checkpoint c;
		const char *note = (const char *)sqlite3_column_text(st, 1);
		if (node_open_cp(p, note, strlen(note), &c, e) != 0) {
			sqlite3_reset(st);
			return perr_wrap(e, "stored checkpoint of %s", p->in_origin);
		}
		p->v_size = p->dv_size = c.size;
		memcpy(p->v_root, c.root, 32);
		p->v_note = strdup(note);
		p->dv_note = strdup(note);
	}
	sqlite3_reset(st);
	st = q(n, "SELECT size FROM cosigned WHERE origin = ?1");
	sqlite3_bind_text(st, 1, p->in_origin, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		p->cs_size = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, p->out_origin, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		p->cosigned = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	node_load_rcpt_lo(n, p);
	/* Synced at start (wsync_start): all of it is durable. */
	p->dout_size = store_log_size(p->out);
	/* A crash between the link ACK and the receipt: receipt again at start
	 * (a repeated receipt is harmless; a missing one is not). */
	p->rc_due = p->d_size > 0 || p->d_held.n > 0;
	p->rc_prec = ENV_ROUTINE;
	p->last_test_rx_ms = n->started_ms;
	p->last_test_tx_ms = 0;
	return 0;
}

static int node_open(struct node *n, const char *dir, struct perr *e)
{
	static const struct ckpt_conf ckpt_conf = CKPT_CONF_DEFAULT;
	char path[4200];
	sqlite3_stmt *st;
	const char *env;
	int rc = 0;

	snprintf(n->dir, sizeof n->dir, "%s", dir);
	n->started_ms = node_now_ms();
	n->subs_tail = &n->subs;
	n->runs_tail = &n->runs;
	n->ooos_tail = &n->ooos;
	n->batches_tail = &n->batches;
	n->wsync_pipe[0] = n->wsync_pipe[1] = -1;
	/* A commit slower than this is logged (default 200 ms). */
	env = getenv("PARLEY_SLOW_COMMIT_MS");
	n->slow_ms = env ? strtoll(env, NULL, 10) : 200;
	env = getenv("PARLEY_CRASH");
	if (env && *env) {
		static const char *const names[] = { "", "seq-before-commit",
			"commit-before-sync", "commit-before-send", "stored-before-ack",
			"ack-before-receipt" };
		for (int i = 1; i < 6; i++)
			if (strcmp(env, names[i]) == 0)
				n->crashpoint = i;
		if (n->crashpoint == 0)
			return perr_set(e, "PARLEY_CRASH=\"%.40s\" is not a crash point", env);
	}
	if (nodedir_load_conf(dir, &n->conf, e) != 0 ||
	    node_read_key(n, "log.key", &n->logkey, e) != 0 ||
	    node_read_key(n, "cosign.key", &n->cosignkey, e) != 0 ||
	    node_read_token(n, "api.token", n->api_token, sizeof n->api_token, e) != 0 ||
	    node_read_token(n, "auditor.token", n->auditor_token,
			    sizeof n->auditor_token, e) != 0)
		return -1;
	if (nodedir_path(path, sizeof path, dir, "node.db", e) != 0 ||
	    store_open(&n->st, path, 0, NULL, e) != 0)
		return -1;
	n->db = store_sqlite(n->st);
	rows_init(&n->rows_ids, n->db, "INSERT INTO ids(peer, id, idx) VALUES", 3);
	rows_init(&n->rows_outbox, n->db, "INSERT INTO outbox(k, prec, type, time, id) VALUES", 5);
	rows_init(&n->rows_inbox, n->db,
		  "INSERT OR IGNORE INTO inbox(k, prec, type, time, received) VALUES", 5);
	if (node_migrate(n, e) != 0)
		return -1;
	if (sqlite3_exec(n->db, node_schema, NULL, NULL, NULL) != SQLITE_OK)
		return perr_set(e, "database: %s", sqlite3_errmsg(n->db));
	if (ntreaty_init(n, e) != 0)
		return -1;
	/* The WAL synced on its own thread (wsync.h); it first syncs what a
	 * killed process left in it, so that all we find below is durable. */
	if (pipe(n->wsync_pipe) != 0)
		return perr_set(e, "pipe: %s", strerror(errno));
	for (int k = 0; k < 2; k++) {
		fcntl(n->wsync_pipe[k], F_SETFD, FD_CLOEXEC);
		fcntl(n->wsync_pipe[k], F_SETFL, O_NONBLOCK);
	}
	if (wsync_start(&n->wsync, path, n->wsync_pipe[1], e) != 0)
		return -1;
	/* Checkpoints on their own thread (ckpt.h), not inside our commits;
	 * it tells us on the same pipe when a hold of ours ends. */
	if (ckpt_start(&n->ckpt, path, n->db, &ckpt_conf, n->wsync_pipe[1], e) != 0)
		return -1;
	if (n->conf.max_db_bytes) {
		/* The storage quota: SQLite then fails a commit that would grow
		 * the file beyond it exactly as it fails on a full disk. */
		char sql[128];
		sqlite3_int64 pages = 0;
		if (sqlite3_prepare_v2(n->db, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			pages = (sqlite3_int64)(n->conf.max_db_bytes /
						(unsigned long long)sqlite3_column_int64(st, 0));
		sqlite3_finalize(st);
		snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)pages);
		sqlite3_exec(n->db, sql, NULL, NULL, NULL);
	}
	if (sqlite3_prepare_v2(n->db, "SELECT card, addrs FROM peers ORDER BY name", -1,
			       &st, NULL) != SQLITE_OK)
		return perr_set(e, "database: %s", sqlite3_errmsg(n->db));
	if (store_begin(n->st, e) != 0) {
		sqlite3_finalize(st);
		return -1;
	}
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW)
		rc = node_load_peer(n, (const char *)sqlite3_column_blob(st, 0),
				    (size_t)sqlite3_column_bytes(st, 0),
				    (const char *)sqlite3_column_text(st, 1), e);
	sqlite3_finalize(st);
	if (rc != 0) {
		store_rollback(n->st);
		return -1;
	}
	if (store_commit(n->st, e) != 0)
		return -1;
	/* From here on a commit is durable when wsync says so. */
	if (sqlite3_exec(n->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK)
		return perr_set(e, "database: %s", sqlite3_errmsg(n->db));
	return 0;
}

static void node_close(struct node *n)
{
	size_t i;
	struct sub *s, *snx;

	for (i = 0; i < n->npeers; i++) {
		struct npeer *p = n->peers[i];
		note_signer_wipe(&p->signer);
		idxset_clear(&p->r_also);
		for (int k = 0; k < 3; k++)
			idxset_clear(&p->urgent[k]);
		idxset_clear(&p->ooo_sent);
		idxset_clear(&p->held);
		idxset_clear(&p->ooo_redo);
		idxset_clear(&p->d_held);
		free(p->cp_cache);
		free(p->cosig_note);
		free(p->v_note);
		free(p->dv_note);
		free(p->cs_send);
		ntreaty_peer_free(p);
		free(p);
	}
	ntreaty_free(n);
	for (s = n->subs; s; s = snx) {
		snx = s->next;
		free(s->ent);
		free(s);
	}
	alarm_free(n->alarms);
	note_signer_wipe(&n->logkey);
	note_signer_wipe(&n->cosignkey);
	OPENSSL_cleanse(n->api_token, sizeof n->api_token);
	OPENSSL_cleanse(n->auditor_token, sizeof n->auditor_token);
	q_free_all();
	rows_free(&n->rows_ids);
	rows_free(&n->rows_outbox);
	rows_free(&n->rows_inbox);
	/* Both helper threads stop before the pipe they write to closes. */
	ckpt_stop(n->ckpt);
	wsync_stop(n->wsync);
	while (n->batches) { /* none after a clean stop (node_serve) */
		struct batch *b = n->batches;
		n->batches = b->next;
		batch_free(n, b);
	}
	for (int k = 0; k < 2; k++)
		if (n->wsync_pipe[k] >= 0)
			close(n->wsync_pipe[k]);
	if (n->st)
		store_close(n->st);
}

int node_serve(const char *dir, struct perr *e)
{
	struct node *n = calloc(1, sizeof *n);
	struct timeval sec = { 1, 0 };
	struct event_config *cfg;
	int rc = -1;

	if (n == NULL)
		return perr_set(e, "out of memory");
	signal(SIGPIPE, SIG_IGN);
	(void)node_dummy;
	/* The allocator, for a loop that builds and frees thousands of small
	 * objects per bulk request beside page-sized ones: no fast bins (a
	 * page-sized malloc would consolidate them all, each time: up to half
	 * of the node's CPU under load, bench/node), and freed memory kept
	 * rather than returned and faulted in again for the next request. */
	mallopt(M_MXFAST, 0);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_MMAP_THRESHOLD, 16 << 20);
	/* After each callback the loop looks for new events: a flush that
	 * schedules the next slice of a bulk request thus lets sockets (a
	 * FLASH, an ACK) and the WAL sync's news in between. */
	cfg = event_config_new();
	if (cfg == NULL || event_config_set_max_dispatch_interval(cfg, NULL, 1, 1) != 0) {
		event_config_free(cfg);
		perr_set(e, "cannot start the event loop");
		goto out;
	}
	n->base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (n->base == NULL || event_base_priority_init(n->base, 2) != 0) {
		perr_set(e, "cannot start the event loop");
		goto out;
	}
	if (node_open(n, dir, e) != 0)
		goto out;
	n->flush_ev = event_new(n->base, -1, 0, node_flush, n);
	n->flush_urgent_ev = event_new(n->base, -1, 0, node_flush_urgent, n);
	n->tick_ev = event_new(n->base, -1, EV_PERSIST, node_tick, n);
	n->later_ev = evtimer_new(n->base, node_later_cb, n);
	n->wsync_ev = event_new(n->base, n->wsync_pipe[0], EV_READ | EV_PERSIST,
				node_wsync_cb, n);
	/* What became durable is said before anything else is done. */
	event_priority_set(n->wsync_ev, 0);
	event_add(n->wsync_ev, NULL);
	n->sigterm_ev = evsignal_new(n->base, SIGTERM, node_signal, n);
	n->sigint_ev = evsignal_new(n->base, SIGINT, node_signal, n);
	/* Sockets first, the flush after them: everything that arrived in one
	 * turn of the loop is committed together. */
	event_priority_set(n->flush_ev, 1);
	event_priority_set(n->flush_urgent_ev, 0);
	event_add(n->tick_ev, &sec);
	event_add(n->sigterm_ev, NULL);
	event_add(n->sigint_ev, NULL);
	if (link_start(n, e) != 0 || api_start(n, e) != 0)
		goto out;
	node_log(n, "node %s serving: %zu peer%s, API on %s", n->conf.name,
		 n->npeers, n->npeers == 1 ? "" : "s", n->conf.api);
	node_kick(n);
	event_base_dispatch(n->base);
	n->stopping = 1;
	/* Whatever is queued is committed, synced and answered before we go. */
	for (int k = 0; k < 10000 && (n->subs || n->reqs || n->runs || n->ooos); k++)
		node_flush(-1, 0, n);
	while (n->batches && n->gen_done < n->gen) {
		struct pollfd pfd = { n->wsync_pipe[0], POLLIN, 0 };
		poll(&pfd, 1, 1000);
		node_wsync_cb(n->wsync_pipe[0], 0, n);
	}
	rc = 0;
	if (n->ckpt) {
		struct ckpt_stats cs;
		struct pace_stats ps;
		ckpt_stats(n->ckpt, &cs);
		node_log(n, "WAL: %llu commits, %.1f pages each; restarted %llu times; "
			 "bulk writes held %llu times for the checkpoint, %.1f ms in all, "
			 "%.1f ms at most", (unsigned long long)cs.commits,
			 cs.commits ? (double)cs.written / (double)cs.commits : 0.0,
			 (unsigned long long)cs.restarts, (unsigned long long)cs.holds,
			 (double)cs.hold_us / 1e3, (double)cs.max_hold_us / 1e3);
		pace_stats(&ps);
		node_log(n, "checkpoints: %.1f MB copied back, sent to the disk in %llu steps"
			 " (%llu failed, left to the sync)", (double)ps.bytes / 1e6,
			 (unsigned long long)ps.pushes, (unsigned long long)ps.push_errors);
	}
	node_log(n, "node %s stopped", n->conf.name);
out:
	api_stop(n);
	link_stop(n);
	if (n->flush_ev)
		event_free(n->flush_ev);
	if (n->flush_urgent_ev)
		event_free(n->flush_urgent_ev);
	if (n->tick_ev)
		event_free(n->tick_ev);
	if (n->later_ev)
		event_free(n->later_ev);
	if (n->wsync_ev)
		event_free(n->wsync_ev);
	if (n->sigterm_ev)
		event_free(n->sigterm_ev);
	if (n->sigint_ev)
		event_free(n->sigint_ev);
	node_close(n);
	if (n->base)
		event_base_free(n->base);
	free(n);
	return rc;
}
