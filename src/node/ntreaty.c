/*
 * ntreaty.c — the treaty engine inside the node (DESIGN principle 5).
 *
 * Sender side: before a notification is logged, the node checks it
 * against its definition and against the party's own declared inventory,
 * replayed from its outbound log (treaty_check); an invalid notification
 * or an illegal change is refused with the whole list of problems and
 * nothing is logged.
 *
 * Receiver side: the peer's notifications, once durable, are applied in
 * log order to the peer's declared inventory, with the durable receipt
 * time judging deadlines.  What breaks a rule is kept (it is already
 * stored: it is the evidence), flagged, and raises one "treaty" alarm per
 * notification with every flag as evidence.  Flags live in memory and are
 * rebuilt from the log at startup (the alarms' keys make them idempotent);
 * `parley treaty replay` derives the same from the logs alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "file.h"
#include "commit.h"
#include "nodeint.h"
#include "select.h"

/* Notifications applied per peer per call of ntreaty_advance, so that a
 * long history replayed at startup never holds the loop for long. */
#define NTREATY_BUDGET 2000

int ntreaty_init(struct node *n, struct perr *e)
{
	char path[4200];

	if (treaty_reg_load_dir(&n->treaties, treaty_dir(), e) != 0)
		return -1;
	snprintf(path, sizeof path, "%s/treaties", n->dir);
	return treaty_reg_load_dir(&n->treaties, path, e);
}

static size_t reg_pos(const struct node *n, const struct treaty_def *d)
{
	size_t i;

	for (i = 0; i < n->treaties.n && n->treaties.defs[i] != d; i++)
		;
	return i;
}

void ntreaty_peer_free(struct npeer *p)
{
	for (size_t i = 0; i < TREATY_REG_MAX; i++) {
		treaty_engine_free(p->tr_out[i]);
		treaty_engine_free(p->tr_in[i]);
		p->tr_out[i] = p->tr_in[i] = NULL;
	}
	json_decref(p->tr_flags);
	json_decref(p->tr_ids);
	p->tr_flags = p->tr_ids = NULL;
}

void ntreaty_free(struct node *n)
{
	treaty_reg_free(&n->treaties);
}

/*
 * The definition an API request names: held already, or given in full
 * ("definition": the file's text, whose SHA-256 must be the one named),
 * in which case it is kept in DIR/treaties/ from then on, so that the
 * node can replay its own declarations after a restart.
 */
const struct treaty_def *ntreaty_def(struct node *n, const char *name,
				     const char *sha_hex, const char *text,
				     struct perr *e)
{
	struct treaty_def *d;
	uint8_t sha[32];
	char path[4300];

	if (name == NULL || sha_hex == NULL || strlen(sha_hex) != 64)
		return perr_set(e, "\"treaty\" needs \"name\" and \"sha256\" (64 hex)"), NULL;
	if (commit_unhex(sha, 32, sha_hex, 64) != 0)
		return perr_set(e, "treaty sha256 must be 64 lowercase hex digits"), NULL;
	for (size_t i = 0; i < n->treaties.n; i++)
		if (strcmp(n->treaties.defs[i]->name, name) == 0 &&
		    memcmp(n->treaties.defs[i]->sha256, sha, 32) == 0)
			return n->treaties.defs[i];
	if (text == NULL)
		return perr_set(e, "this node does not hold treaty %.64s with sha256 %.16s... "
				"(send the definition with the notification)", name, sha_hex), NULL;
	if (treaty_def_parse(&d, text, strlen(text), name, e) != 0)
		return NULL;
	if (memcmp(d->sha256, sha, 32) != 0 || strcmp(d->name, name) != 0) {
		treaty_def_free(d);
		return perr_set(e, "the definition sent is not %.64s with sha256 %.16s...",
				name, sha_hex), NULL;
	}
	snprintf(path, sizeof path, "%s/treaties/%s-%.16s.json", n->dir, d->name, d->sha_hex);
	if (file_mkdirs_for(path, e) != 0 ||
	    file_write(path, text, strlen(text), 0644, 0, e) != 0) {
		treaty_def_free(d);
		return NULL;
	}
	if (treaty_reg_add(&n->treaties, d, e) != 0)
		return NULL;
	node_log(n, "treaty %s (sha256 %.16s...) now held, in %s", name, sha_hex, path);
	return n->treaties.defs[n->treaties.n - 1];
}

/* Our declarations to p under d, replayed from our log (built once, then
 * kept current by ntreaty_accept). */
static struct treaty_engine *own_engine(struct node *n, struct npeer *p,
					const struct treaty_def *d, struct perr *e)
{
	size_t k = reg_pos(n, d);
	sqlite3_stmt *st;
	struct treaty_engine *g;

	if (p->tr_out[k] != NULL)
		return p->tr_out[k];
	if ((g = treaty_engine_new(d)) == NULL)
		return perr_set(e, "out of memory"), NULL;
	if (sqlite3_prepare_v2(n->db, "SELECT k FROM outbox INDEXED BY outbox_notif"
			       " WHERE k >= ?1 AND k < ?2 AND type = 'notification' ORDER BY k",
			       -1, &st, NULL) != SQLITE_OK) {
		treaty_engine_free(g);
		return perr_set(e, "database: %s", sqlite3_errmsg(n->db)), NULL;
	}
	sqlite3_bind_int64(st, 1, node_key(p->out, 0));
	sqlite3_bind_int64(st, 2, node_key_end(p->out));
	while (sqlite3_step(st) == SQLITE_ROW) {
		uint64_t idx = node_key_idx(sqlite3_column_int64(st, 0));
		struct envelope env;
		uint8_t *ent;
		size_t len;
		if (store_entry(p->out, idx, &ent, &len, e) != 0)
			continue;
		if (env_parse(&env, ent, len, NULL) == 0) {
			if (strcmp(env.treaty_name, d->name) == 0 &&
			    memcmp(env.treaty_sha256, d->sha256, 32) == 0)
				treaty_apply(g, idx, env.kind, env.fields, -1);
			env_free(&env);
		}
		free(ent);
	}
	sqlite3_finalize(st);
	p->tr_out[k] = g;
	return g;
}

int ntreaty_check(struct node *n, struct npeer *p, const struct treaty_def *d,
		  const char *kind, json_t *fields, json_t **problems,
		  struct perr *e)
{
	struct treaty_engine *g = own_engine(n, p, d, e);
	struct treaty_msgs m = { 0 };

	*problems = NULL;
	if (g == NULL)
		return -1;
	if (treaty_check(g, kind, fields, &m) == 0)
		return 0;
	*problems = json_array();
	for (size_t i = 0; i < m.n; i++)
		json_array_append_new(*problems, json_string(m.lines[i]));
	if (m.dropped)
		json_array_append_new(*problems, json_sprintf("... and %zu more", m.dropped));
	treaty_msgs_free(&m);
	return 1;
}

/* A checked notification is being logged: our inventory follows at once,
 * so the next notification is checked against it.  A submission id seen
 * before is not applied twice. */
void ntreaty_accept(struct node *n, struct npeer *p, const struct treaty_def *d,
		    const char *id, const char *kind, json_t *fields)
{
	struct treaty_engine *g = p->tr_out[reg_pos(n, d)];

	if (g == NULL)
		return;
	if (p->tr_ids == NULL)
		p->tr_ids = json_object();
	if (json_object_get(p->tr_ids, id) != NULL)
		return;
	json_object_set_new(p->tr_ids, id, json_true());
	treaty_apply(g, 0, kind, fields, -1);
}

/* A submission failed to commit: our inventories are rebuilt from the log
 * when next needed. */
void ntreaty_stale(struct npeer *p)
{
	for (size_t i = 0; i < TREATY_REG_MAX; i++) {
		treaty_engine_free(p->tr_out[i]);
		p->tr_out[i] = NULL;
	}
	json_decref(p->tr_ids);
	p->tr_ids = NULL;
}

static void add_flag(struct npeer *p, uint64_t idx, const char *code,
		     const char *detail)
{
	char key[32];
	json_t *a;

	if (p->tr_flags == NULL)
		p->tr_flags = json_object();
	snprintf(key, sizeof key, "%llu", (unsigned long long)idx);
	a = json_object_get(p->tr_flags, key);
	if (a == NULL) {
		a = json_array();
		json_object_set_new(p->tr_flags, key, a);
	}
	json_array_append_new(a, json_pack("{ssss}", "code", code, "detail", detail));
}

/* One alarm per flagged notification, with every flag as evidence. */
static void flag_alarm(struct node *n, struct npeer *p, uint64_t idx,
		       const char *kind)
{
	char key[32], akey[700];
	json_t *a, *f;
	size_t i, faults = 0;
	const char *first = NULL;
	char *ev;

	snprintf(key, sizeof key, "%llu", (unsigned long long)idx);
	a = json_object_get(p->tr_flags, key);
	json_array_foreach(a, i, f) {
		const char *c = json_string_value(json_object_get(f, "code"));
		if (strcmp(c, "confirmed") != 0 && strcmp(c, "baseline") != 0) {
			faults++;
			if (first == NULL)
				first = json_string_value(json_object_get(f, "detail"));
		}
	}
	if (faults == 0)
		return;
	snprintf(akey, sizeof akey, "treaty/%s/%llu", p->in_origin, (unsigned long long)idx);
	ev = json_dumps(a, JSON_COMPACT);
	node_alarm(n, "treaty", p->card.name, akey, ev,
		   "%s entry %llu (%s): %zu flag%s; %s", p->in_origin,
		   (unsigned long long)idx, kind, faults, faults == 1 ? "" : "s", first);
	free(ev);
}

void ntreaty_advance(struct node *n, struct npeer *p)
{
	sqlite3_stmt *st;
	size_t done = 0;
	uint64_t hi = p->d_size;

	if (p->tr_in_next >= hi)
		return;
	if (sqlite3_prepare_v2(n->db, "SELECT k, received FROM inbox INDEXED BY inbox_notif"
			       " WHERE k >= ?1 AND k < ?2 AND type = 'notification'"
			       " ORDER BY k LIMIT ?3", -1, &st,
			       NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(st, 1, node_key(p->in, p->tr_in_next));
	sqlite3_bind_int64(st, 2, node_key(p->in, hi));
	sqlite3_bind_int(st, 3, NTREATY_BUDGET);
	while (sqlite3_step(st) == SQLITE_ROW) {
		uint64_t idx = node_key_idx(sqlite3_column_int64(st, 0));
		int64_t rcv = sqlite3_column_int64(st, 1) / 1000;
		struct envelope env;
		struct perr e;
		uint8_t *ent;
		size_t len;

		done++;
		p->tr_in_next = idx + 1;
		if (store_entry(p->in, idx, &ent, &len, &e) != 0)
			continue;
		if (env_parse(&env, ent, len, NULL) == 0) {
			const struct treaty_def *d = treaty_reg_find(&n->treaties, env.treaty_name,
								     env.treaty_sha256);
			if (d == NULL) {
				int known = treaty_reg_by_name(&n->treaties, env.treaty_name) != NULL;
				char msg[300];
				snprintf(msg, sizeof msg, "%s: under %s, %s", env.kind,
					 env.treaty_name, known ? "a version of the definition "
					 "this node does not hold" : "a definition this node does "
					 "not hold");
				add_flag(p, idx, known ? "treaty-version" : "unknown-treaty", msg);
			} else {
				size_t k = reg_pos(n, d), nf0 = 0, nf;
				const struct treaty_flag *fl;
				if (p->tr_in[k] == NULL)
					p->tr_in[k] = treaty_engine_new(d);
				if (p->tr_in[k] != NULL) {
					treaty_flags(p->tr_in[k], &nf0);
					treaty_apply(p->tr_in[k], idx, env.kind, env.fields, rcv);
					fl = treaty_flags(p->tr_in[k], &nf);
					for (size_t i = nf0; i < nf; i++)
						add_flag(p, fl[i].index, fl[i].code, fl[i].detail);
				}
			}
			flag_alarm(n, p, idx, env.kind);
			env_free(&env);
		}
		free(ent);
	}
	sqlite3_finalize(st);
	if (done < NTREATY_BUDGET)
		p->tr_in_next = hi;
}

json_t *ntreaty_flags_of(struct npeer *p, uint64_t idx)
{
	char key[32];

	snprintf(key, sizeof key, "%llu", (unsigned long long)idx);
	return p->tr_flags ? json_object_get(p->tr_flags, key) : NULL;
}

/* The peer's declared totals under each definition, for status. */
json_t *ntreaty_status(struct node *n, struct npeer *p)
{
	json_t *arr = json_array();

	for (size_t k = 0; k < n->treaties.n; k++) {
		const struct treaty_def *d = n->treaties.defs[k];
		json_t *lims;
		int64_t tot[TREATY_MAX_LIMITS];
		if (p->tr_in[k] == NULL || d->nlimits == 0)
			continue;
		treaty_totals(p->tr_in[k], tot);
		lims = json_object();
		for (size_t l = 0; l < d->nlimits; l++)
			json_object_set_new(lims, d->limits[l].name, json_pack("{sIsI}", "total",
				(json_int_t)tot[l], "max", (json_int_t)d->limits[l].max));
		json_array_append_new(arr, json_pack("{sssssIso}", "treaty", d->name, "party",
						     p->card.name, "items",
						     (json_int_t)treaty_item_count(p->tr_in[k]),
						     "limits", lims));
	}
	return arr;
}

/* ---- joint random selection (docs/treaties.md, "Inspections") -------- */

/* Entry idx of origin (ours or the peer's log) into a ref, with its leaf
 * hash; only durable entries can be referred to. */
static int make_ref(struct node *n, struct npeer *p, const char *origin, uint64_t idx,
		    struct env_ref *r, struct perr *e)
{
	struct store_log *l = strcmp(origin, p->out_origin) == 0 ? p->out :
			      strcmp(origin, p->in_origin) == 0 ? p->in : NULL;
	uint8_t *ent;
	size_t len;

	(void)n;
	if (l == NULL)
		return perr_set(e, "%.200s is not a log between this node and %s", origin,
				p->card.name);
	if (idx >= store_log_size(l))
		return perr_set(e, "%.200s has no entry %llu", origin, (unsigned long long)idx);
	if (store_entry(l, idx, &ent, &len, e) != 0)
		return -1;
	merkle_leaf_hash(r->leaf, ent, len);
	free(ent);
	snprintf(r->origin, sizeof r->origin, "%s", origin);
	r->index = idx;
	return 0;
}

/* The first entry of type t in log l (listed in box, ours or theirs)
 * whose refs include ref; its parsed envelope in *env.  1 found, 0 not. */
static int find_ref(struct node *n, struct npeer *p, int ours, enum env_type t,
		    const struct env_ref *ref, uint64_t *at, struct envelope *env)
{
	sqlite3_stmt *st;
	int found = 0;

	if (sqlite3_prepare_v2(n->db, ours ?
			       "SELECT k FROM outbox WHERE k >= ?1 AND k < ?2 AND type = ?3 ORDER BY k" :
			       "SELECT k FROM inbox WHERE k >= ?1 AND k < ?2 AND type = ?3 ORDER BY k",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(st, 1, node_key(ours ? p->out : p->in, 0));
	sqlite3_bind_int64(st, 2, node_key_end(ours ? p->out : p->in));
	sqlite3_bind_text(st, 3, env_type_name(t), -1, SQLITE_STATIC);
	while (!found && sqlite3_step(st) == SQLITE_ROW) {
		uint64_t idx = node_key_idx(sqlite3_column_int64(st, 0));
		uint8_t *ent;
		size_t len;
		if (store_entry(ours ? p->out : p->in, idx, &ent, &len, NULL) != 0)
			continue;
		if (env_parse(env, ent, len, NULL) == 0) {
			for (size_t i = 0; i < env->nrefs && !found; i++)
				found = strcmp(env->refs[i].origin, ref->origin) == 0 &&
					env->refs[i].index == ref->index &&
					memcmp(env->refs[i].leaf, ref->leaf, 32) == 0;
			if (found)
				*at = idx;
			else
				env_free(env);
		}
		free(ent);
	}
	sqlite3_finalize(st);
	return found;
}

/*
 * Builds our seed-commit (commit_in given) or seed-reveal (seed given)
 * for the inspection request at req_origin/req_index into env (type,
 * refs, commit or seed; the caller fills the common fields).  Refuses,
 * with an HTTP status in *status: a second commitment; a reveal without
 * our commitment, or that does not match it, or before the peer's
 * commitment is held (revealing first would let the peer choose its seed
 * after seeing ours), or a second reveal.
 */
int ntreaty_seed(struct node *n, struct npeer *p, const char *req_origin,
		 uint64_t req_index, const char *commit_in, const char *seed_hex,
		 struct envelope *env, int *status, struct perr *e)
{
	struct env_ref req, mine;
	struct envelope got;
	uint64_t at;
	uint8_t seed[32];

	*status = 422;
	if (make_ref(n, p, req_origin, req_index, &req, e) != 0)
		return -1;
	env->refs = calloc(1, sizeof *env->refs);
	if (env->refs == NULL)
		return perr_set(e, "out of memory");
	env->nrefs = 1;
	if (commit_in != NULL) {
		if (find_ref(n, p, 1, ENV_SEED_COMMIT, &req, &at, &got)) {
			env_free(&got);
			*status = 409;
			return perr_set(e, "we already committed a seed for this request "
					"(entry %llu)", (unsigned long long)at);
		}
		if (select_parse_seed(commit_in, env->seed_hash, e) != 0)
			return perr_wrap(e, "commit");
		env->type = ENV_SEED_COMMIT;
		env->refs[0] = req;
		return 0;
	}
	if (select_parse_seed(seed_hex, seed, e) != 0)
		return perr_wrap(e, "seed");
	if (!find_ref(n, p, 1, ENV_SEED_COMMIT, &req, &at, &got))
		return perr_set(e, "no seed-commit of ours refers to %s/%llu: commit first",
				req_origin, (unsigned long long)req_index);
	{
		char hex[65];
		commit_hex(hex, got.seed_hash, 32);
		env_free(&got);
		if (select_check_reveal(hex, seed, e) != 0)
			return perr_wrap(e, "our seed-commit is entry %llu",
					 (unsigned long long)at);
	}
	if (make_ref(n, p, p->out_origin, at, &mine, e) != 0)
		return -1;
	if (!find_ref(n, p, 0, ENV_SEED_COMMIT, &req, &at, &got)) {
		*status = 409;
		return perr_set(e, "%s has not committed its seed yet: revealing ours first "
				"would let it choose its seed after seeing ours", p->card.name);
	}
	env_free(&got);
	if (find_ref(n, p, 1, ENV_SEED_REVEAL, &mine, &at, &got)) {
		env_free(&got);
		*status = 409;
		return perr_set(e, "our seed is already revealed (entry %llu)",
				(unsigned long long)at);
	}
	env->type = ENV_SEED_REVEAL;
	memcpy(env->seed, seed, 32);
	env->refs[0] = mine;
	OPENSSL_cleanse(seed, sizeof seed);
	return 0;
}
