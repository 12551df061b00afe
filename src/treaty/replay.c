/*
 * replay.c — definitions held, and a party's declarations replayed from the
 * signed logs (replay.h).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "b64.h"
#include "checkpoint.h"
#include "commit.h"
#include "envelope.h"
#include "file.h"
#include "merkle.h"
#include "nodedir.h"
#include "note.h"
#include "replay.h"
#include "select.h"
#include "store.h"
#include "tile.h"

#ifndef PARLEY_TREATIES_DIR
#define PARLEY_TREATIES_DIR "treaties"
#endif

const char *treaty_dir(void)
{
	const char *d = getenv("PARLEY_TREATIES");

	return d != NULL && d[0] != '\0' ? d : PARLEY_TREATIES_DIR;
}

/* ---------------------------------------------------------------------- */
/* Registry                                                                */

int treaty_reg_add(struct treaty_reg *r, struct treaty_def *d, struct perr *e)
{
	if (treaty_reg_find(r, d->name, d->sha256) != NULL) {
		treaty_def_free(d);
		return 0;
	}
	if (r->n == TREATY_REG_MAX) {
		treaty_def_free(d);
		return perr_set(e, "more than %d treaty definitions", TREATY_REG_MAX);
	}
	r->defs[r->n++] = d;
	return 0;
}

static int is_json_name(const char *s)
{
	size_t n = strlen(s);

	return n > 5 && strcmp(s + n - 5, ".json") == 0 && s[0] != '.';
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int treaty_reg_load_dir(struct treaty_reg *r, const char *dir, struct perr *e)
{
	DIR *dh = opendir(dir);
	struct dirent *de;
	char *names[TREATY_REG_MAX], path[4096];
	size_t n = 0, i;
	int rc = 0;

	if (dh == NULL)
		return 0;
	while ((de = readdir(dh)) != NULL && n < TREATY_REG_MAX)
		if (is_json_name(de->d_name) && (names[n] = strdup(de->d_name)) != NULL)
			n++;
	closedir(dh);
	/* a fixed order, so that messages and reports do not depend on the
	 * file system's */
	qsort(names, n, sizeof *names, cmp_str);
	for (i = 0; i < n; i++) {
		struct treaty_def *d;
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		if (rc == 0 && (treaty_def_load(&d, path, e) != 0 ||
				treaty_reg_add(r, d, e) != 0))
			rc = -1;
		free(names[i]);
	}
	return rc;
}

const struct treaty_def *treaty_reg_find(const struct treaty_reg *r,
					 const char *name, const uint8_t sha[32])
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->defs[i]->name, name) == 0 &&
		    memcmp(r->defs[i]->sha256, sha, 32) == 0)
			return r->defs[i];
	return NULL;
}

const struct treaty_def *treaty_reg_by_name(const struct treaty_reg *r,
					    const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->defs[i]->name, name) == 0)
			return r->defs[i];
	return NULL;
}

void treaty_reg_free(struct treaty_reg *r)
{
	for (size_t i = 0; i < r->n; i++)
		treaty_def_free(r->defs[i]);
	r->n = 0;
}

int treaty_resolve_load(struct treaty_def **d, const char *arg, struct perr *e)
{
	char path[4096];
	size_t n = strlen(arg);

	if (strchr(arg, '/') != NULL || (n > 5 && strcmp(arg + n - 5, ".json") == 0))
		return treaty_def_load(d, arg, e);
	if (n == 0 || n > 64)
		return perr_set(e, "treaty name \"%.64s\" is not valid", arg);
	snprintf(path, sizeof path, "%s/%s.json", treaty_dir(), arg);
	if (access(path, R_OK) != 0)
		return perr_set(e, "no treaty \"%s\" (no file %s)", arg, path);
	return treaty_def_load(d, path, e);
}

/* ---------------------------------------------------------------------- */
/* One log to replay: a node's stored log, or an exported folder.         */

typedef int (*entry_fn)(void *ctx, uint64_t idx, const uint8_t *data, size_t len);

struct rlog {
	char origin[600];
	uint64_t size;
	merkle_hash root;
	int cosigned;
	/* node */
	struct store_log *l;
	/* export */
	char dir[4096];
};

/* Reads an exported folder's checkpoint, verified by its vkey (and its
 * cosignature by cosigner.vkey when both are there). */
static int rlog_open_export(struct rlog *rl, const char *dir, struct perr *e)
{
	char path[4200], *vk = NULL, *cp = NULL, *cvk = NULL;
	size_t vlen, clen, cvlen;
	struct note_verifier keys[2];
	int verified[2] = { 0, 0 };
	struct note nt;
	struct checkpoint c;
	size_t nkeys = 1;
	int rc = -1;

	memset(rl, 0, sizeof *rl);
	snprintf(rl->dir, sizeof rl->dir, "%s", dir);
	snprintf(path, sizeof path, "%s/vkey", dir);
	if (file_read(path, 4096, 0, &vk, &vlen, e) != 0)
		return -1;
	while (vlen > 0 && (vk[vlen - 1] == '\n' || vk[vlen - 1] == '\r'))
		vk[--vlen] = '\0';
	if (note_verifier_parse(&keys[0], vk, vlen, e) != 0) {
		perr_wrap(e, "%s", path);
		goto out;
	}
	snprintf(path, sizeof path, "%s/cosigner.vkey", dir);
	if (access(path, R_OK) == 0) {
		if (file_read(path, 4096, 0, &cvk, &cvlen, e) != 0)
			goto out;
		while (cvlen > 0 && (cvk[cvlen - 1] == '\n' || cvk[cvlen - 1] == '\r'))
			cvk[--cvlen] = '\0';
		if (note_verifier_parse(&keys[1], cvk, cvlen, e) != 0) {
			perr_wrap(e, "%s", path);
			goto out;
		}
		nkeys = 2;
	}
	snprintf(path, sizeof path, "%s/checkpoint", dir);
	if (file_read(path, 1 << 16, 0, &cp, &clen, e) != 0)
		goto out;
	if (note_open(&nt, cp, clen, keys, nkeys, verified, NULL, e) != 0 || !verified[0]) {
		if (!verified[0] && e && e->msg[0] == '\0')
			perr_set(e, "not signed by the log's key");
		perr_wrap(e, "%s", path);
		goto out;
	}
	if (checkpoint_parse(&c, nt.text, nt.textlen, e) != 0) {
		perr_wrap(e, "%s", path);
		goto out;
	}
	snprintf(rl->origin, sizeof rl->origin, "%s", c.origin);
	rl->size = c.size;
	memcpy(rl->root, c.root, 32);
	rl->cosigned = nkeys == 2 && verified[1];
	rc = 0;
out:
	free(vk);
	free(cvk);
	free(cp);
	return rc;
}

/* Streams the exported entries to fn, then checks that they make the
 * checkpoint's root: a replay of entries the log does not commit to is
 * an error, whatever fn did with them. */
static int rlog_each_export(struct rlog *rl, entry_fn fn, void *ctx, struct perr *e)
{
	merkle_hash *leaves = NULL, root;
	uint64_t ntiles = tile_count(rl->size, 0), n, idx = 0;
	char rel[TILE_PATH_MAX + 1], path[4400];
	int rc = 0;

	if (rl->size > 0) {
		leaves = malloc(rl->size * sizeof *leaves);
		if (leaves == NULL)
			return perr_set(e, "out of memory for %llu leaves",
					(unsigned long long)rl->size);
	}
	for (n = 0; rc == 0 && n < ntiles; n++) {
		unsigned w = tile_width(rl->size, 0, n), k;
		uint8_t *buf;
		size_t len, off = 0;

		if (tile_entries_path(rel, sizeof rel, n, w, e) != 0) {
			rc = -1;
			break;
		}
		snprintf(path, sizeof path, "%s/%s", rl->dir, rel);
		if (file_read(path, (size_t)w * (65535 + 2), 0, (char **)&buf, &len, e) != 0) {
			rc = -1;
			break;
		}
		for (k = 0; rc == 0 && k < w; k++) {
			size_t el;
			if (len - off < 2 || len - off - 2 < (el = (size_t)buf[off] << 8 | buf[off + 1])) {
				rc = perr_set(e, "%s: entry %u is cut short", path, k);
				break;
			}
			merkle_leaf_hash(leaves[idx], buf + off + 2, el);
			rc = fn(ctx, idx, buf + off + 2, el);
			if (rc != 0 && e && e->msg[0] == '\0')
				perr_set(e, "replay stopped at entry %llu", (unsigned long long)idx);
			off += 2 + el;
			idx++;
		}
		if (rc == 0 && off != len)
			rc = perr_set(e, "%s: %zu bytes after the last entry", path, len - off);
		free(buf);
	}
	if (rc == 0) {
		merkle_root_of(root, leaves, rl->size);
		if (memcmp(root, rl->root, 32) != 0)
			rc = perr_set(e, "%s: the entries do not make the checkpoint's root",
				      rl->dir);
	}
	free(leaves);
	return rc;
}

static int rlog_each(struct rlog *rl, entry_fn fn, void *ctx, struct perr *e)
{
	if (rl->l != NULL)
		return store_entries(rl->l, 0, rl->size, fn, ctx, e);
	return rlog_each_export(rl, fn, ctx, e);
}

/* A node's log, up to the checkpoint both sides agree on: the one the
 * other side cosigned (for our log) or we cosigned (for theirs); without
 * one yet, the whole stored log. */
static int rlog_open_store(struct rlog *rl, struct store *s, const char *origin,
			   struct perr *e)
{
	sqlite3_stmt *st;
	uint64_t size;

	memset(rl, 0, sizeof *rl);
	snprintf(rl->origin, sizeof rl->origin, "%s", origin);
	if (store_log_open(s, origin, &rl->l, e) != 0)
		return -1;
	size = store_log_size(rl->l);
	if (sqlite3_prepare_v2(store_sqlite(s), "SELECT size FROM cosigned WHERE origin = ?1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW &&
		    (uint64_t)sqlite3_column_int64(st, 0) <= size) {
			size = (uint64_t)sqlite3_column_int64(st, 0);
			rl->cosigned = 1;
		}
		sqlite3_finalize(st);
	}
	rl->size = size;
	return store_root(rl->l, size, rl->root, e);
}

/* ---------------------------------------------------------------------- */
/* Receipt times: when the other side durably held each entry.            */

struct rcpt {
	uint64_t below;   /* running maximum, so the array is sorted */
	int64_t time;
};

struct also {
	uint64_t index, seq;
	int64_t time;
};

struct rtimes {
	const char *of;   /* the receipted origin */
	struct rcpt *r;
	size_t nr, capr;
	struct also *a;
	size_t na, capa;
};

static int rtimes_entry(void *ctx, uint64_t idx, const uint8_t *data, size_t len)
{
	struct rtimes *t = ctx;
	struct envelope env;

	(void)idx;
	if (env_parse(&env, data, len, NULL) != 0)
		return 0;
	if (env.type == ENV_RECEIPT && strcmp(env.of, t->of) == 0) {
		uint64_t below = env.below;
		if (t->nr > 0 && t->r[t->nr - 1].below > below)
			below = t->r[t->nr - 1].below;
		struct rcpt *nr = treaty_grow(t->r, &t->capr, t->nr, sizeof *t->r, 256);
		if (nr == NULL) {
			env_free(&env);
			return -1;
		}
		t->r = nr;
		t->r[t->nr].below = below;
		t->r[t->nr].time = env.time;
		for (size_t i = 0; i < env.nalso; i++) {
			struct also *na = treaty_grow(t->a, &t->capa, t->na, sizeof *t->a, 256);
			if (na == NULL) {
				env_free(&env);
				return -1;
			}
			t->a = na;
			t->a[t->na].index = env.also[i];
			t->a[t->na].seq = t->nr;
			t->a[t->na++].time = env.time;
		}
		t->nr++;
	}
	env_free(&env);
	return 0;
}

static int cmp_also(const void *x, const void *y)
{
	const struct also *a = x, *b = y;

	if (a->index != b->index)
		return a->index < b->index ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* The time of the first receipt covering idx, or -1. */
static int64_t rtimes_of(const struct rtimes *t, uint64_t idx)
{
	size_t lo = 0, hi = t->nr, seq = SIZE_MAX;
	int64_t time = -1;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->r[mid].below > idx)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo < t->nr) {
		seq = lo;
		time = t->r[lo].time;
	}
	lo = 0;
	hi = t->na;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->a[mid].index >= idx)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo < t->na && t->a[lo].index == idx && t->a[lo].seq < seq)
		time = t->a[lo].time;
	return time;
}

/* ---------------------------------------------------------------------- */
/* The replay                                                              */

struct rctx {
	struct treaty_reg *reg;
	struct treaty_engine *eng[TREATY_REG_MAX];
	size_t count[TREATY_REG_MAX];
	struct rtimes rt;
	json_t *top_flags;
	size_t notifications;
};

static void top_flag(struct rctx *c, uint64_t idx, const char *code,
		     const char *detail)
{
	json_array_append_new(c->top_flags, json_pack("{sIssss}", "index", (json_int_t)idx,
						      "code", code, "detail", detail));
}

/* One parsed entry of P's log, applied in log order. */
static int replay_apply(struct rctx *c, uint64_t idx, struct envelope *env, int ok,
			const char *err)
{
	const struct treaty_def *d;
	size_t i;

	if (!ok) {
		top_flag(c, idx, "envelope", err);
		return 0;
	}
	if (env->type != ENV_NOTIFICATION)
		return 0;
	c->notifications++;
	d = treaty_reg_find(c->reg, env->treaty_name, env->treaty_sha256);
	if (d == NULL) {
		char msg[400], hex[65];
		commit_hex(hex, env->treaty_sha256, 32);
		if (treaty_reg_by_name(c->reg, env->treaty_name) != NULL)
			snprintf(msg, sizeof msg, "%s: under %s version %.16s..., which is not "
				 "the version held", env->kind, env->treaty_name, hex);
		else
			snprintf(msg, sizeof msg, "%s: under %s (%.16s...), a definition not "
				 "held", env->kind, env->treaty_name, hex);
		top_flag(c, idx, treaty_reg_by_name(c->reg, env->treaty_name) ?
			 "treaty-version" : "unknown-treaty", msg);
		return 0;
	}
	for (i = 0; c->reg->defs[i] != d; i++)
		;
	if (c->eng[i] == NULL && (c->eng[i] = treaty_engine_new(d)) == NULL)
		return -1;
	c->count[i]++;
	treaty_apply(c->eng[i], idx, env->kind, env->fields, rtimes_of(&c->rt, idx));
	return 0;
}

static int replay_entry(void *ctx, uint64_t idx, const uint8_t *data, size_t len)
{
	struct rctx *c = ctx;
	struct envelope env;
	struct perr e;
	int ok = env_parse(&env, data, len, &e) == 0, rc;

	rc = replay_apply(c, idx, &env, ok, e.msg);
	if (ok)
		env_free(&env);
	return rc;
}

static json_t *engine_report(const struct treaty_def *d, struct treaty_engine *g,
			     size_t count)
{
	json_t *o, *lims = json_array(), *flags = json_array();
	int64_t *tot = calloc(d->nlimits + 1, sizeof *tot);
	const struct treaty_flag *f;
	uint8_t dig[32];
	char hex[65];
	size_t n, i;

	treaty_finish(g);
	treaty_totals(g, tot);
	for (i = 0; i < d->nlimits; i++)
		json_array_append_new(lims, json_pack("{sssIsIsIsb}", "name", d->limits[i].name,
			"max", (json_int_t)d->limits[i].max, "total", (json_int_t)tot[i],
			"margin", (json_int_t)(d->limits[i].max - tot[i]),
			"over", tot[i] > d->limits[i].max));
	f = treaty_flags(g, &n);
	for (i = 0; i < n; i++)
		json_array_append_new(flags, json_pack("{sIssss}", "index", (json_int_t)f[i].index,
			"code", f[i].code, "detail", f[i].detail));
	treaty_inventory_digest(g, dig);
	commit_hex(hex, dig, 32);
	o = json_pack("{sssssIsIsIsssosOso}", "name", d->name, "sha256", d->sha_hex,
		      "notifications", (json_int_t)count, "applied",
		      (json_int_t)treaty_applied(g), "items",
		      (json_int_t)treaty_item_count(g), "inventory_sha256", hex,
		      "limits", lims, "open", treaty_open_records(g), "flags", flags);
	if (treaty_commitment(g) != NULL)
		json_object_set(o, "commitment", (json_t *)treaty_commitment(g));
	free(tot);
	return o;
}

static int is_dir(const char *p)
{
	struct stat sb;

	return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The one origin "<party>/to/<x>" among names, or an error listing them. */
static int pick_origin(char **names, size_t n, const char *party, const char *to,
		       char *out, size_t cap, struct perr *e)
{
	size_t pl = strlen(party), found = 0;
	char list[400] = "";

	for (size_t i = 0; i < n; i++) {
		if (strncmp(names[i], party, pl) != 0 || strncmp(names[i] + pl, "/to/", 4) != 0)
			continue;
		if (to != NULL && strcmp(names[i] + pl + 4, to) != 0)
			continue;
		if (found++ == 0)
			snprintf(out, cap, "%s", names[i]);
		if (strlen(list) + strlen(names[i]) + 3 < sizeof list)
			snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
				 list[0] ? ", " : "", names[i] + pl + 4);
	}
	if (found == 0)
		return perr_set(e, "no log of %s%s%s here", party, to ? " to " : "",
				to ? to : "");
	if (found > 1)
		return perr_set(e, "%s has logs to several nodes (%s): name one with --to",
				party, list);
	return 0;
}

/* Origins of an export: the folders <x>/to/<y> holding a checkpoint. */
static int export_origins(const char *dir, char ***names, size_t *n)
{
	DIR *a = opendir(dir), *b;
	struct dirent *x, *y;
	char p[4400];

	*names = NULL;
	*n = 0;
	if (a == NULL)
		return -1;
	while ((x = readdir(a)) != NULL) {
		if (x->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "%s/%s/to", dir, x->d_name);
		if ((b = opendir(p)) == NULL)
			continue;
		while ((y = readdir(b)) != NULL) {
			char **nn;
			if (y->d_name[0] == '.')
				continue;
			nn = realloc(*names, (*n + 1) * sizeof *nn);
			if (nn == NULL)
				break;
			*names = nn;
			snprintf(p, sizeof p, "%s/to/%s", x->d_name, y->d_name);
			(*names)[(*n)++] = strdup(p);
		}
		closedir(b);
	}
	closedir(a);
	return 0;
}

static void b64_root(const merkle_hash root, char out[48])
{
	b64_encode(out, root, 32);
}

int replay_run(const char *src, const char *party, const char *to,
	       struct treaty_reg *reg_in, json_t **out, struct perr *e)
{
	struct treaty_reg own = { { 0 }, 0 }, *reg = reg_in;
	struct rctx c;
	struct rlog pl, ql;
	struct store *s = NULL;
	char path[4400], origin[600], back[600], rootb[48], **names = NULL;
	size_t nnames = 0, i;
	int node = 0, rc = -1;
	json_t *trs;

	*out = NULL;
	memset(&c, 0, sizeof c);
	memset(&pl, 0, sizeof pl);
	memset(&ql, 0, sizeof ql);
	snprintf(path, sizeof path, "%s/node.conf", src);
	node = access(path, F_OK) == 0;
	if (!node && !is_dir(src))
		return perr_set(e, "%s is neither a node directory nor an export", src);
	if (reg == NULL) {
		reg = &own;
		if (treaty_reg_load_dir(reg, treaty_dir(), e) != 0)
			goto out;
		if (node) {
			snprintf(path, sizeof path, "%s/treaties", src);
			if (treaty_reg_load_dir(reg, path, e) != 0)
				goto out;
		}
	}
	if (node) {
		snprintf(path, sizeof path, "%s/node.db", src);
		if (store_open(&s, path, 0, NULL, e) != 0 ||
		    store_log_list(s, &names, &nnames, e) != 0)
			goto out;
	} else {
		export_origins(src, &names, &nnames);
	}
	if (pick_origin(names, nnames, party, to, origin, sizeof origin, e) != 0)
		goto out;
	snprintf(back, sizeof back, "%s/to/%s", origin + strlen(party) + 4, party);
	if (node) {
		if (rlog_open_store(&pl, s, origin, e) != 0)
			goto out;
		if (rlog_open_store(&ql, s, back, e) != 0)
			ql.size = 0, ql.l = NULL;
	} else {
		snprintf(path, sizeof path, "%s/%s", src, origin);
		if (rlog_open_export(&pl, path, e) != 0)
			goto out;
		snprintf(path, sizeof path, "%s/%s", src, back);
		if (is_dir(path) && rlog_open_export(&ql, path, e) != 0)
			goto out;
	}
	c.reg = reg;
	c.rt.of = origin;
	c.top_flags = json_array();
	if (ql.size > 0 && rlog_each(&ql, rtimes_entry, &c.rt, e) != 0)
		goto out;
	if (c.rt.na > 0)
		qsort(c.rt.a, c.rt.na, sizeof *c.rt.a, cmp_also);
	if (rlog_each(&pl, replay_entry, &c, e) != 0) {
		if (e && e->msg[0] == '\0')
			perr_set(e, "replay failed (out of memory)");
		goto out;
	}
	trs = json_array();
	for (i = 0; i < reg->n; i++)
		if (c.eng[i] != NULL)
			json_array_append_new(trs, engine_report(reg->defs[i], c.eng[i],
								 c.count[i]));
	b64_root(pl.root, rootb);
	*out = json_pack("{sssssss{sssIsssb}s{sssI}sIsosO}", "party", party, "to",
			 origin + strlen(party) + 4, "source", node ? "node" : "export",
			 "log", "origin", origin, "size", (json_int_t)pl.size, "root", rootb,
			 "cosigned", pl.cosigned, "receipts", "origin", back, "size",
			 (json_int_t)ql.size, "notifications", (json_int_t)c.notifications,
			 "treaties", trs, "flags", c.top_flags);
	rc = *out != NULL ? 0 : perr_set(e, "out of memory");
out:
	for (i = 0; i < TREATY_REG_MAX; i++)
		treaty_engine_free(c.eng[i]);
	json_decref(c.top_flags);
	free(c.rt.r);
	free(c.rt.a);
	for (i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	store_close(s);
	treaty_reg_free(&own);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Joint random selection (docs/treaties.md, "Inspections")                */

/* Opens origin and its reverse from a node directory or an export. */
static int open_pair(const char *src, const char *origin, const char *back,
		     struct rlog *fw, struct rlog *bw, struct store **s,
		     struct perr *e)
{
	char path[4400];

	*s = NULL;
	snprintf(path, sizeof path, "%s/node.conf", src);
	if (access(path, F_OK) == 0) {
		snprintf(path, sizeof path, "%s/node.db", src);
		if (store_open(s, path, 0, NULL, e) != 0 ||
		    rlog_open_store(fw, *s, origin, e) != 0)
			return -1;
		if (rlog_open_store(bw, *s, back, e) != 0)
			return -1;
		return 0;
	}
	snprintf(path, sizeof path, "%s/%s", src, origin);
	if (rlog_open_export(fw, path, e) != 0)
		return -1;
	snprintf(path, sizeof path, "%s/%s", src, back);
	return rlog_open_export(bw, path, e);
}

struct side {
	char name[256];
	char origin[600];            /* its log */
	int64_t commit_idx;          /* -1: none */
	char commit[65];
	int64_t reveal_idx;
	uint8_t seed[32];
	int reveal_ok;
	char reveal_err[PERR_MAX];
	int64_t reveal_rcv;
};

struct sctx {
	const char *req_origin;
	uint64_t req_index;
	uint8_t req_leaf[32];
	int have_req;
	json_t *req_fields;
	struct side *side;           /* the side whose log is being read */
	struct rtimes *rt;           /* receipts of that side's log */
	json_t *notes;
};

static int refs_has(const struct envelope *env, const char *origin, uint64_t idx,
		    const uint8_t *leaf)
{
	for (size_t i = 0; i < env->nrefs; i++)
		if (strcmp(env->refs[i].origin, origin) == 0 && env->refs[i].index == idx &&
		    (leaf == NULL || memcmp(env->refs[i].leaf, leaf, 32) == 0))
			return 1;
	return 0;
}

static int sel_entry(void *ctx, uint64_t idx, const uint8_t *data, size_t len)
{
	struct sctx *c = ctx;
	struct side *sd = c->side;
	struct envelope env;
	struct perr e;

	if (strcmp(sd->origin, c->req_origin) == 0 && idx == c->req_index) {
		merkle_leaf_hash(c->req_leaf, data, len);
		if (env_parse(&env, data, len, NULL) == 0) {
			if (env.type == ENV_NOTIFICATION) {
				c->req_fields = json_incref(env.fields);
				c->have_req = 1;
			}
			env_free(&env);
		}
		return 0;
	}
	if (env_parse(&env, data, len, NULL) != 0)
		return 0;
	if (env.type == ENV_SEED_COMMIT && sd->commit_idx < 0 && c->have_req &&
	    refs_has(&env, c->req_origin, c->req_index, c->req_leaf)) {
		sd->commit_idx = (int64_t)idx;
		commit_hex(sd->commit, env.seed_hash, 32);
	} else if (env.type == ENV_SEED_REVEAL && sd->commit_idx >= 0 && sd->reveal_idx < 0 &&
		   refs_has(&env, sd->origin, (uint64_t)sd->commit_idx, NULL)) {
		/* the first reveal of the commitment is the one that counts */
		sd->reveal_idx = (int64_t)idx;
		memcpy(sd->seed, env.seed, 32);
		sd->reveal_ok = select_check_reveal(sd->commit, env.seed, &e) == 0;
		if (!sd->reveal_ok)
			snprintf(sd->reveal_err, sizeof sd->reveal_err, "%s", e.msg);
		sd->reveal_rcv = rtimes_of(c->rt, idx);
	}
	env_free(&env);
	return 0;
}

int replay_selection(const char *src, const char *req_origin, uint64_t req_index,
		     int64_t now, json_t **out, struct perr *e)
{
	struct rlog fw, bw;
	struct store *s = NULL;
	struct side sides[2];
	struct rtimes rts[2];
	struct sctx c;
	const char *to = strstr(req_origin, "/to/");
	char back[600], rb[ENV_TIME_LEN + 1];
	json_t *arr = NULL, *sel = json_null(), *rf;
	const char *round, *outcome;
	int64_t n, k, deadline;
	int rc = -1, i;

	*out = NULL;
	memset(&c, 0, sizeof c);
	memset(rts, 0, sizeof rts);
	memset(sides, 0, sizeof sides);
	memset(&fw, 0, sizeof fw);
	memset(&bw, 0, sizeof bw);
	if (to == NULL || to == req_origin || to[4] == '\0' || strlen(req_origin) > 520)
		return perr_set(e, "\"%.80s\" is not a log origin (FROM/to/TO)", req_origin);
	snprintf(back, sizeof back, "%s/to/%.*s", to + 4, (int)(to - req_origin), req_origin);
	if (open_pair(src, req_origin, back, &fw, &bw, &s, e) != 0)
		goto out;
	for (i = 0; i < 2; i++) {
		struct rlog *l = i == 0 ? &fw : &bw;
		memcpy(sides[i].origin, l->origin, sizeof sides[i].origin);
		snprintf(sides[i].name, sizeof sides[i].name, "%.*s",
			 (int)(strstr(l->origin, "/to/") - l->origin), l->origin);
		sides[i].commit_idx = sides[i].reveal_idx = -1;
		sides[i].reveal_rcv = -1;
		/* side i's entries are receipted in the other side's log */
		rts[i].of = sides[i].origin;
	}
	if (req_index >= fw.size) {
		perr_set(e, "%s has %llu entries: no entry %llu", req_origin,
			 (unsigned long long)fw.size, (unsigned long long)req_index);
		goto out;
	}
	if (rlog_each(&bw, rtimes_entry, &rts[0], e) != 0 ||
	    rlog_each(&fw, rtimes_entry, &rts[1], e) != 0)
		goto out;
	if (rts[0].na > 0)
		qsort(rts[0].a, rts[0].na, sizeof *rts[0].a, cmp_also);
	if (rts[1].na > 0)
		qsort(rts[1].a, rts[1].na, sizeof *rts[1].a, cmp_also);
	c.req_origin = req_origin;
	c.req_index = req_index;
	c.side = &sides[0];
	c.rt = &rts[0];
	if (rlog_each(&fw, sel_entry, &c, e) != 0)
		goto out;
	if (!c.have_req) {
		perr_set(e, "entry %llu of %s is not a notification", (unsigned long long)req_index,
			 req_origin);
		goto out;
	}
	rf = c.req_fields;
	round = json_string_value(json_object_get(rf, "round"));
	n = json_integer_value(json_object_get(rf, "n"));
	k = json_integer_value(json_object_get(rf, "k"));
	if (round == NULL || !json_is_integer(json_object_get(rf, "n")) ||
	    !json_is_integer(json_object_get(rf, "k")) ||
	    !json_is_string(json_object_get(rf, "reveal_by")) ||
	    treaty_time_parse(json_string_value(json_object_get(rf, "reveal_by")), &deadline) != 0) {
		perr_set(e, "entry %llu of %s is not an inspection request (fields round, n, k, "
			 "reveal_by)", (unsigned long long)req_index, req_origin);
		goto out;
	}
	c.side = &sides[1];
	c.rt = &rts[1];
	if (rlog_each(&bw, sel_entry, &c, e) != 0)
		goto out;
	/* Both sides must have revealed, validly, and been received by the
	 * deadline; there is no fallback (withholding must not bias). */
	outcome = "selected";
	arr = json_array();
	for (i = 0; i < 2; i++) {
		struct side *sd = &sides[i];
		const char *st;
		if (sd->reveal_idx >= 0 && !sd->reveal_ok)
			st = "rejected";
		else if (sd->reveal_idx >= 0 && sd->reveal_rcv >= 0 && sd->reveal_rcv <= deadline)
			st = "revealed";
		else if (sd->reveal_idx >= 0 && sd->reveal_rcv > deadline)
			st = "late";
		else
			st = now <= deadline ? "pending" : "refused";
		if (strcmp(st, "revealed") != 0) {
			if (strcmp(st, "pending") == 0 && strcmp(outcome, "selected") == 0)
				outcome = "pending";
			else if (strcmp(st, "pending") != 0)
				outcome = "refused";
		}
		json_t *o = json_pack("{sssssIsIss}", "name", sd->name, "log", sd->origin,
				      "commit_index", (json_int_t)sd->commit_idx,
				      "reveal_index", (json_int_t)sd->reveal_idx, "status", st);
		if (sd->reveal_rcv >= 0) {
			env_time_format(sd->reveal_rcv, rb);
			json_object_set_new(o, "reveal_received", json_string(rb));
		}
		if (sd->reveal_err[0])
			json_object_set_new(o, "error", json_string(sd->reveal_err));
		json_array_append_new(arr, o);
	}
	if (strcmp(outcome, "selected") == 0) {
		struct select_side a = { sides[0].name, { 0 } }, b = { sides[1].name, { 0 } };
		uint64_t *idx = malloc(((size_t)k + 1) * sizeof *idx);
		memcpy(a.seed, sides[0].seed, 32);
		memcpy(b.seed, sides[1].seed, 32);
		if (idx == NULL || select_draw(round, (uint64_t)n, (uint64_t)k, &a, &b, idx, e) != 0) {
			free(idx);
			goto out;
		}
		json_decref(sel);
		sel = json_array();
		for (int64_t x = 0; x < k; x++)
			json_array_append_new(sel, json_integer((json_int_t)idx[x]));
		free(idx);
	}
	*out = json_pack("{s{sssIsssIsIsO}sOsssO}", "request", "origin", req_origin, "index",
			 (json_int_t)req_index, "round", round, "n", (json_int_t)n, "k",
			 (json_int_t)k, "reveal_by", json_object_get(rf, "reveal_by"),
			 "sides", arr, "outcome", outcome, "selection", sel);
	rc = *out ? 0 : perr_set(e, "out of memory");
out:
	json_decref(arr);
	json_decref(sel);
	json_decref(c.req_fields);
	for (i = 0; i < 2; i++) {
		free(rts[i].r);
		free(rts[i].a);
	}
	store_close(s);
	return rc;
}
