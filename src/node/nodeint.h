/*
 * nodeint.h — the running node's state, shared by its modules:
 *
 *   node.c   the state and the write path: sequencer (group commit),
 *            verification of what peers send, receipts, cosignatures,
 *            deadlines and alarms
 *   link.c   the paths: TLS connections, frames, heartbeats, delivery by
 *            precedence (docs/protocol.md, "The link")
 *   api.c    the HTTP server: operator JSON API and the C2SP log views
 *
 * One libevent loop owns all of it (DESIGN, "The pieces"): no locks.  Every
 * durable change goes through node_flush: what arrived since the last one
 * is committed in one SQLite transaction (group commit).  The WAL is synced
 * on a thread of its own (wsync.h), and what a commit lets the node say —
 * to an operator, to a peer — waits in a batch until that sync reports it
 * durable (node_durable), while the loop goes on with the next flush.
 */
#ifndef PARLEY_NODEINT_H
#define PARLEY_NODEINT_H

#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include <sqlite3.h>

#include "card.h"
#include "envelope.h"
#include "err.h"
#include "merkle.h"
#include "nodedir.h"
#include "note.h"
#include "rows.h"
#include "store.h"
#include "replay.h"
#include "treaty.h"

#define NODE_NPREC 4
#define NODE_ORIGIN_MAX (2 * CARD_NAME_MAX + 4)
#define NODE_MAX_PEERS 64

/* Delivery tuning (docs/protocol.md). */
#define LINK_WINDOW (256 * 1024)      /* in-order bytes in flight, not acked */
#define LINK_RUN_BYTES (64 * 1024)    /* entry bytes in one ENTRIES frame */
#define LINK_RUN_MAX 4096             /* entries in one ENTRIES frame (the
                                       * receiver's limit) */
#define LINK_OOO_FROMS 8               /* consistency proofs in one OOO frame
                                       * beyond the first ("more") */
#define LINK_PING_MS 1000
/* A ROUTINE or PRIORITY receipt waits up to this long to cover more
 * entries (FLASH and IMMEDIATE ones are logged at once); cosignatures are
 * at most this often.  Under load this bounds the traffic and commits
 * that receipts and cosignatures cause, whatever the rate of messages. */
#define NODE_RECEIPT_MS 50
#define NODE_COSIGN_MS 250
#define NODE_NOW_SYNC_MS 5            /* at most one urgent commit synced on the
                                         * loop (wsync_now) this often */
#define NODE_SHORT_RUN 8              /* entries: a run flushed at the first priority */
#define LINK_DEAD_MS 3000             /* silent this long: path down */

struct node;
struct npeer;
struct api_bulk;

enum link_state {
	LINK_CONNECTING, /* TCP + TLS handshake */
	LINK_GREETING,   /* client: waiting for WELCOME; server: for HELLO */
	LINK_READY,
	LINK_DOWN,       /* outgoing path between attempts */
};

/* One path: a TLS connection.  Outgoing paths (we dial one of the peer's
 * addresses) carry our log to the peer; incoming ones carry the peer's log
 * to us.  The receiver answers on the same path (ACK, COSIG, PONG). */
struct link {
	struct node *n;
	struct npeer *peer;      /* incoming: known after the handshake */
	int outgoing;
	int pathno;              /* outgoing: index into peer->addrs */
	char addr[CARD_ADDR_MAX + 1];
	enum link_state state;
	struct bufferevent *bev;
	struct event *retry;     /* outgoing: reconnect timer */
	int backoff_ms;
	int64_t up_since_ms, last_rx_ms, last_pong_ms, ping_sent_ms;
	int64_t rtt_ms;
	uint64_t ping_seq;
	int paused;              /* reading stopped until the next flush */
	int closing;             /* refused: closes once the ERROR is written */
	char close_why[PERR_MAX + 64];
	int in_flush_list;
	int holds;               /* batches that will acknowledge on it once
	                          * durable: a closed path is freed after */
	struct link *next;       /* incoming list / flush list */
	struct link *flush_next;
};

/* A verified in-order run waiting for the flush. */
struct rx_run {
	struct npeer *p;
	struct link *from;
	uint64_t first;          /* index of ents[0] (already past the mirror) */
	size_t n;
	uint8_t **ents;
	size_t *lens;
	char *cpnote;
	uint64_t cpsize;
	int urgent;              /* the sender says an entry of it is above ROUTINE */
	struct rx_run *next;
};

/* A verified out-of-order entry waiting for the flush. */
struct rx_ooo {
	struct npeer *p;
	struct link *from;
	uint64_t idx;
	uint8_t *ent;
	size_t len;
	char *cpnote;            /* the checkpoint it was proven against */
	uint64_t cpsize;
	char *proof;             /* inclusion proof, base64 lines */
	struct rx_ooo *next;
};

/* One entry to sequence into an outbound log. */
struct sub {
	struct npeer *p;
	enum env_prec prec;
	enum env_type type;
	char id[ENV_ID_MAX + 1];
	char *ent;
	size_t len;
	uint64_t idx;            /* result */
	int dup;                 /* the id was already in the log */
	int committed;           /* durable (a request's may be in slices) */
	int keyed;               /* the id is the submitter's idempotency key
	                          * (ours are unique by construction and are
	                          * not looked up) */
	struct api_req *req;     /* NULL: the node's own (receipt, test) */
	int64_t inbox_ack_idx;   /* ack: the inbox row (mirror index) it acks */
	struct npeer *ack_of;
	struct sub *next;
};

/* An operator request waiting for the commit of its entries. */
struct api_req {
	struct evhttp_request *req;
	size_t nsubs, done;
	struct sub **subs;
	int failed;
	char err[PERR_MAX];
	struct npeer *tr_peer;    /* a notification: rebuild on failure */
	struct api_req *next;
};

struct alarm_q {
	char key[700];
	char kind[32];
	char peer[CARD_NAME_MAX + 1];
	char *detail;
	char *evidence;
	struct alarm_q *next;
};

/* A sorted set of indices (held out-of-order entries, "also" lists). */
struct idxset {
	uint64_t *v;
	size_t n, cap;
};

struct npeer {
	struct node *n;
	struct card card;
	char out_origin[NODE_ORIGIN_MAX + 1]; /* "<me>/to/<peer>" */
	char in_origin[NODE_ORIGIN_MAX + 1];  /* "<peer>/to/<me>" */
	struct store_log *out, *in;
	struct note_signer signer;            /* log key under out_origin */
	struct note_verifier in_vkey;         /* peer log key under in_origin */
	struct note_verifier cosig_vkey;      /* peer cosigning key */
	struct note_verifier own_vkey;        /* our log key under out_origin */

	/* Sending our log (outgoing paths). */
	struct link *paths[NODE_MAX_PATHS];
	size_t npaths;
	struct link *active;
	uint64_t r_size;          /* receiver's durable contiguous size */
	uint64_t r_verified;      /* receiver's latest verified checkpoint */
	struct idxset r_also;     /* receiver holds these beyond r_size */
	uint64_t next_inorder;    /* next in-order index to write on active */
	size_t inflight;          /* bytes written on active, not yet acked */
	struct { uint64_t end; size_t bytes; } fly[256];
	size_t nfly;
	struct idxset urgent[3];  /* FLASH..PRIORITY entries not yet sent */
	struct idxset ooo_sent;   /* sent out of order on active */
	struct { uint64_t idx; size_t bytes; } oofly[64];
	size_t noofly;
	uint64_t sent_cp;         /* largest checkpoint sent on active */
	char *cp_cache;           /* last checkpoint signed ... */
	uint64_t cp_cache_size;   /* ... and its size */
	uint64_t cosigned;        /* largest size the peer cosigned */
	char *cosig_note;         /* that checkpoint + cosignature, to store */
	uint64_t rcpt_lo;         /* outbox rows below: receipted */
	uint64_t dout_size;       /* our log's durable size: what may be
	                           * sent, signed and served */

	/* Receiving the peer's log (incoming paths). */
	uint64_t m_size;          /* mirror size incl. runs awaiting flush */
	merkle_hash front[64];    /* compact range [0, m_size) */
	int nfront;
	struct idxset held;       /* out-of-order entries held */
	struct idxset ooo_redo;   /* out-of-order entries ignored (proof from
	                           * a size we verified past): the next ACK
	                           * asks for them again ("resend") */
	uint64_t v_size;          /* latest verified checkpoint */
	merkle_hash v_root;
	char *v_note;
	uint64_t dv_size;         /* durable verified checkpoint */
	char *dv_note;
	uint64_t d_size;          /* durable mirror size */
	uint64_t ack_scan;        /* inbox ROUTINE rows below: acked */
	struct idxset d_held;     /* durable held set */
	uint64_t rc_below;        /* what our last receipt said */
	size_t rc_nalso;
	int rc_due;               /* new receipt-needing entries are durable */
	enum env_prec rc_prec;    /* most urgent of them */
	enum env_prec rc_prec_pending;
	int rc_pending;           /* seen in this flush, durable after it */
	uint64_t cs_size;         /* largest size we cosigned */
	struct link *cs_link;     /* where the cosignature goes */
	char *cs_send;            /* cosignature line to send after commit */
	uint64_t cs_send_size;
	int64_t rc_last_ms;       /* when we last logged a receipt ... */
	int64_t cs_last_ms;       /* ... and cosigned (both rate-limited) */
	int64_t last_test_rx_ms;
	int64_t last_test_tx_ms;
	int64_t skew_ms;
	int skew_known;

	/* Treaties (ntreaty.c): our declarations to the peer, per definition
	 * held (built when first needed); the peer's, applied in log order
	 * up to tr_in_next; flags per peer entry ("<index>" -> [{code,
	 * detail}]); submission ids applied to tr_out. */
	struct treaty_engine *tr_out[TREATY_REG_MAX], *tr_in[TREATY_REG_MAX];
	uint64_t tr_in_next;
	json_t *tr_flags, *tr_ids;
};

/* What one commit lets the node say, held until the WAL sync reports it
 * durable (wsync.h): the state of each peer's logs as committed, the
 * requests to answer, the paths to acknowledge on. */
struct dpeer {
	uint64_t out_size;        /* our log to the peer */
	uint64_t in_size;         /* the mirror of the peer's log */
	struct idxset held;       /* its entries held out of order */
	uint64_t v_size;          /* the latest checkpoint verified */
	char *v_note;
	int rc;                   /* receipt-needing entries were stored */
	enum env_prec rc_prec;
	char *cs_send;            /* our cosignature, to send */
	uint64_t cs_send_size;
};

struct batch {
	uint64_t gen;             /* the commit's number (wsync_request) */
	int ok, had_api, had_rx;
	struct api_req *reqs;
	struct link **links;
	size_t nlinks;
	struct dpeer *dp;         /* one per peer, if ok */
	struct batch *next;
};

struct node {
	char dir[4096];
	struct node_conf conf;
	struct event_base *base;
	struct store *st;
	struct sqlite3 *db;
	struct rows rows_ids, rows_outbox, rows_inbox; /* inserted in groups */
	struct ckpt *ckpt;        /* the WAL checkpoint thread */
	int ckpt_held;            /* a flush held bulk work for it (ckpt.h) */
	int stopping;             /* the loop has ended: flush all, hold nothing */
	struct wsync *wsync;      /* the WAL sync thread */
	int wsync_pipe[2];        /* it says "synced" here */
	struct event *wsync_ev;
	uint64_t gen;             /* commits made */
	uint64_t gen_done;        /* commits known durable */
	int64_t now_sync_ms;      /* the last urgent commit synced on the loop */
	struct batch *batches, **batches_tail; /* committed, not yet durable */
	struct note_signer logkey, cosignkey;
	char api_token[128], auditor_token[128];
	SSL_CTX *srv_ctx, *cli_ctx;
	struct npeer *peers[NODE_MAX_PEERS];
	size_t npeers;
	uint8_t (*pins)[32];
	struct link *incoming;
	struct evconnlistener *listeners[NODE_MAX_PATHS];
	size_t nlisteners;
	struct evhttp *http;
	struct event *flush_ev, *flush_urgent_ev, *tick_ev, *sigterm_ev, *sigint_ev;
	int in_urgent_ev;        /* node_flush runs from flush_urgent_ev */
	int urgent_kicked;       /* flush_urgent_ev made active, not yet run */
	struct event *later_ev;   /* a flush for rate-limited receipts, cosigs */
	int64_t later_at;         /* when it fires (node_now_ms), if pending */

	/* Work for the next flush. */
	struct sub *subs, **subs_tail;
	struct api_req *reqs;
	struct rx_run *runs, **runs_tail;
	struct rx_ooo *ooos, **ooos_tail;
	struct alarm_q *alarms;
	struct link *flush_links;
	int disk_full;            /* the last commit failed ... */
	char disk_err[PERR_MAX];  /* ... with this error */
	int64_t started_ms;
	int crashpoint;           /* PARLEY_CRASH: SIGKILL at a named point */
	int64_t slow_ms;          /* commits slower than this are logged */
	struct treaty_reg treaties;  /* definitions held (ntreaty.c) */
	struct api_bulk *bulks;      /* bulk requests being read (api.c) */
};

/* ntreaty.c */
int ntreaty_init(struct node *n, struct perr *e);
void ntreaty_free(struct node *n);
void ntreaty_peer_free(struct npeer *p);
const struct treaty_def *ntreaty_def(struct node *n, const char *name,
				     const char *sha_hex, const char *text,
				     struct perr *e);
/* 0: legal; 1: refused, *problems a JSON array of lines; -1: error. */
int ntreaty_check(struct node *n, struct npeer *p, const struct treaty_def *d,
		  const char *kind, json_t *fields, json_t **problems,
		  struct perr *e);
void ntreaty_accept(struct node *n, struct npeer *p, const struct treaty_def *d,
		    const char *id, const char *kind, json_t *fields);
void ntreaty_stale(struct npeer *p);
void ntreaty_advance(struct node *n, struct npeer *p);
json_t *ntreaty_flags_of(struct npeer *p, uint64_t idx);
json_t *ntreaty_status(struct node *n, struct npeer *p);
int ntreaty_seed(struct node *n, struct npeer *p, const char *req_origin,
		 uint64_t req_index, const char *commit_in, const char *seed_hex,
		 struct envelope *env, int *status, struct perr *e);

/* node.c */
int64_t node_now_ms(void);
void node_log(struct node *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void node_kick(struct node *n);
void node_bulk_yield(struct node *n);
void node_alarm(struct node *n, const char *kind, const char *peer,
		const char *key, const char *evidence, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
struct npeer *node_peer(struct node *n, const char *name);
int node_sign_checkpoint(struct npeer *p, uint64_t size, char **note,
			 struct perr *e);
/* Queues a new entry (takes ent); the request, if any, is answered after
 * the commit. */
int node_submit(struct node *n, struct npeer *p, enum env_type type,
		enum env_prec prec, const char *id, char *ent, size_t len,
		struct api_req *r, struct sub **out, struct perr *e);
/* Receiver side: one ENTRIES / OOO frame (docs/protocol.md).  0: accepted
 * or harmlessly ignored; -1: rejected (e says why; an alarm is raised). */
int node_rx_entries(struct node *n, struct link *l, json_t *body,
		    const char *const *b64, const size_t *b64len, size_t nents,
		    struct perr *e);
int node_rx_ooo(struct node *n, struct link *l, json_t *body,
		struct perr *e);
/* Sender side: the receiver's COSIG. */
int node_rx_cosig(struct node *n, struct link *l, json_t *body,
		  struct perr *e);
void node_crashpoint(struct node *n, int point);
enum {
	CRASH_NONE,
	CRASH_SEQ_BEFORE_COMMIT,   /* sequenced, transaction not committed */
	CRASH_COMMIT_BEFORE_SYNC,  /* committed, the WAL not yet synced */
	CRASH_COMMIT_BEFORE_SEND,  /* durable, nothing sent yet */
	CRASH_STORED_BEFORE_ACK,   /* receiver: mirror durable, no ACK yet */
	CRASH_ACK_BEFORE_RECEIPT,  /* receiver: ACK sent, receipt not logged */
};

/* outbox and inbox rows are keyed by entry: the key of entry idx of log l
 * in the store (store_log_key), so that a run's rows are appended to one
 * B-tree and a log's rows are the range [node_key(l, 0), node_key_end(l)). */
static inline sqlite3_int64 node_key_end(const struct store_log *l)
{
	return (sqlite3_int64)(store_log_key(l, 0) + STORE_INDEX_LIMIT);
}

/* (An index beyond the limit is the end of the range.) */
static inline sqlite3_int64 node_key(const struct store_log *l, uint64_t idx)
{
	return idx < STORE_INDEX_LIMIT ? (sqlite3_int64)store_log_key(l, idx) : node_key_end(l);
}

static inline uint64_t node_key_idx(sqlite3_int64 k)
{
	return (uint64_t)k & (STORE_INDEX_LIMIT - 1);
}

/* idxset */
int idxset_has(const struct idxset *s, uint64_t v);
int idxset_add(struct idxset *s, uint64_t v);
void idxset_del_below(struct idxset *s, uint64_t v);
void idxset_del(struct idxset *s, uint64_t v);
void idxset_clear(struct idxset *s);

/* link.c */
int link_start(struct node *n, struct perr *e);
void link_stop(struct node *n);
void link_send(struct link *l, int type, json_t *body);
void link_deliver(struct npeer *p);
void link_resume(struct link *l);
/* A closed incoming path no flush or batch names any more is freed: 1 if
 * l is closed (freed or not), 0 if it is open. */
int link_release(struct link *l);
/* Closes a path (an outgoing one is dialed again later). */
void link_down(struct link *l, const char *why);
void link_tick(struct node *n);
void link_reset_sender(struct npeer *p);
/* Sender side: the receiver's ACK. */
int link_rx_ack(struct link *l, json_t *body, struct perr *e);
/* An ACK's "resend" list (optional, may be NULL): the OOO frames in flight
 * for those entries are taken back, to go again; how many, -1 if the list
 * is malformed.  Before calling: p->r_size and p->r_also from the ACK. */
int link_rx_resend(struct npeer *p, json_t *redo, struct perr *e);
/* The receiver's state for p's log, as an ACK frame body. */
json_t *node_ack_body(struct npeer *p);

/* api.c */
int api_start(struct node *n, struct perr *e);
void api_stop(struct node *n);
void api_reply_req(struct node *n, struct api_req *r);
json_t *api_status(struct node *n);

#endif
