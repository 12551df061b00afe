/*
 * audit.c — `parley audit DIR` and `parley export DIR OUTDIR`: what a node
 * stores, re-verified from the bytes up, and written out in C2SP form for
 * anyone to verify offline.  Both read the database only (a running node
 * may keep serving: SQLite's WAL lets a reader see the last commit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "audit.h"
#include "b64.h"
#include "checkpoint.h"
#include "envelope.h"
#include "export.h"
#include "file.h"
#include "nodedir.h"
#include "store.h"
#include "tile.h"

struct audit_log {
	char origin[2 * CARD_NAME_MAX + 8];
	struct store_log *l;
	struct note_verifier signer;  /* the log's key under its origin */
	struct note_verifier cosigner;/* the other side's cosigning key */
	int ours;
	char peer[CARD_NAME_MAX + 1];
};

struct audit_ctx {
	struct store *s;
	sqlite3 *db;
	char me[CARD_NAME_MAX + 1];
	struct audit_log logs[128];
	size_t nlogs;
};

static int audit_open(struct audit_ctx *c, const char *dir, struct perr *e)
{
	char path[4200], *buf;
	size_t len;
	struct note_signer lk, ck;
	struct note_verifier own, owncs;
	sqlite3_stmt *st;
	struct node_conf conf;
	int rc = 0;

	memset(c, 0, sizeof *c);
	if (nodedir_load_conf(dir, &conf, e) != 0)
		return -1;
	snprintf(c->me, sizeof c->me, "%s", conf.name);
	if (nodedir_path(path, sizeof path, dir, "log.key", e) != 0 ||
	    file_read(path, 4096, 1, &buf, &len, e) != 0)
		return -1;
	rc = note_signer_parse(&lk, buf, len, e);
	free(buf);
	if (rc != 0)
		return -1;
	if (nodedir_path(path, sizeof path, dir, "cosign.key", e) != 0 ||
	    file_read(path, 4096, 1, &buf, &len, e) != 0)
		return -1;
	rc = note_signer_parse(&ck, buf, len, e);
	free(buf);
	if (rc != 0)
		return -1;
	note_signer_verifier(&ck, &owncs);
	if (nodedir_path(path, sizeof path, dir, "node.db", e) != 0 ||
	    store_open(&c->s, path, 0, NULL, e) != 0)
		return -1;
	c->db = store_sqlite(c->s);
	if (sqlite3_prepare_v2(c->db, "SELECT card FROM peers ORDER BY name", -1, &st,
			       NULL) != SQLITE_OK)
		return perr_set(e, "database: %s", sqlite3_errmsg(c->db));
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW && c->nlogs + 2 <= 128) {
		struct card card;
		struct audit_log *o = &c->logs[c->nlogs], *i = &c->logs[c->nlogs + 1];
		if (card_open(&card, sqlite3_column_blob(st, 0),
			      (size_t)sqlite3_column_bytes(st, 0), e) != 0) {
			rc = -1;
			break;
		}
		snprintf(o->origin, sizeof o->origin, "%s/to/%s", c->me, card.name);
		snprintf(i->origin, sizeof i->origin, "%s/to/%s", card.name, c->me);
		{
			struct note_signer os;
			uint8_t seed[32];
			memcpy(seed, lk.seed, 32);
			rc = note_signer_from_seed(&os, o->origin, NOTE_ALG_ED25519, seed, e);
			OPENSSL_cleanse(seed, 32);
			if (rc != 0)
				break;
			note_signer_verifier(&os, &own);
			note_signer_wipe(&os);
		}
		o->signer = own;
		card_cosign_verifier(&card, &o->cosigner);
		o->ours = 1;
		card_log_verifier(&card, i->origin, &i->signer);
		i->cosigner = owncs;
		snprintf(o->peer, sizeof o->peer, "%s", card.name);
		snprintf(i->peer, sizeof i->peer, "%s", card.name);
		/* A node that never ran has no logs yet: nothing to audit. */
		if (store_log_open(c->s, o->origin, &o->l, NULL) != 0)
			o->l = NULL;
		if (store_log_open(c->s, i->origin, &i->l, NULL) != 0)
			i->l = NULL;
		c->nlogs += 2;
	}
	sqlite3_finalize(st);
	note_signer_wipe(&lk);
	note_signer_wipe(&ck);
	return rc;
}

static void audit_close(struct audit_ctx *c)
{
	if (c->s)
		store_close(c->s);
}

static struct audit_log *audit_find(struct audit_ctx *c, const char *origin)
{
	size_t i;
	for (i = 0; i < c->nlogs; i++)
		if (strcmp(c->logs[i].origin, origin) == 0)
			return &c->logs[i];
	return NULL;
}

/* Recomputes every leaf hash from the stored entries and compares it with
 * the stored level-0 tiles, and the root from the leaves with the stored
 * root; checks that each entry is an envelope between the right nodes. */
struct audit_walk {
	struct audit_ctx *c;
	struct audit_log *lg;
	merkle_hash tile[TILE_WIDTH];
	merkle_hash front[64];
	int nf;
	uint64_t n;
	struct perr *e;
	int malformed;
	uint64_t receipts;
};

static int audit_receipt(struct audit_walk *w, uint64_t idx,
			 const struct envelope *env)
{
	struct audit_log *of = audit_find(w->c, env->of);
	uint64_t size;

	if (of == NULL || of->ours == w->lg->ours)
		return perr_set(w->e, "%s entry %llu: receipt for \"%.100s\", which is not "
				"the log it answers", w->lg->origin,
				(unsigned long long)idx, env->of);
	size = of->l ? store_log_size(of->l) : 0;
	if (w->lg->ours) {
		/* Our receipt: we must hold what we said we hold. */
		if (env->below > size)
			return perr_set(w->e, "%s entry %llu: our receipt says we hold %s below "
					"%llu, but the mirror has %llu", w->lg->origin,
					(unsigned long long)idx, env->of,
					(unsigned long long)env->below,
					(unsigned long long)size);
	} else if (env->below > size ||
		   (env->nalso > 0 && env->also[env->nalso - 1] >= size)) {
		return perr_set(w->e, "%s entry %llu: receipt claims entries of %s we never "
				"logged", w->lg->origin, (unsigned long long)idx, env->of);
	}
	w->receipts++;
	return 0;
}

static int audit_entry(void *ctx, uint64_t idx, const uint8_t *d, size_t len)
{
	struct audit_walk *w = ctx;
	merkle_hash leaf;
	struct envelope env;
	struct perr pe;
	int rc = 0;

	merkle_leaf_hash(leaf, d, len);
	memcpy(w->tile[idx % TILE_WIDTH], leaf, 32);
	memcpy(w->front[w->nf++], leaf, 32);
	for (uint64_t s = w->n; s & 1; s >>= 1) {
		merkle_node_hash(w->front[w->nf - 2], w->front[w->nf - 2], w->front[w->nf - 1]);
		w->nf--;
	}
	w->n++;
	if (env_parse(&env, d, len, &pe) != 0) {
		if (w->lg->ours) {
			perr_set(w->e, "%s entry %llu is not a valid envelope: %s",
				 w->lg->origin, (unsigned long long)idx, pe.msg);
			return -1;
		}
		w->malformed++; /* the peer's, kept as evidence (an alarm says so) */
	} else {
		const char *from = w->lg->ours ? w->c->me : w->lg->peer;
		const char *to = w->lg->ours ? w->lg->peer : w->c->me;
		if (w->lg->ours && (strcmp(env.from, from) != 0 || strcmp(env.to, to) != 0))
			rc = perr_set(w->e, "%s entry %llu is addressed from %s to %s",
				      w->lg->origin, (unsigned long long)idx, env.from, env.to);
		if (rc == 0 && env.type == ENV_RECEIPT)
			rc = audit_receipt(w, idx, &env);
		env_free(&env);
		if (rc != 0)
			return -1;
	}
	if (idx % TILE_WIDTH == TILE_WIDTH - 1 || idx + 1 == store_log_size(w->lg->l)) {
		merkle_hash stored[TILE_WIDTH];
		unsigned width, k = (unsigned)(idx % TILE_WIDTH) + 1;
		if (store_tile(w->lg->l, 0, idx / TILE_WIDTH, stored, &width, w->e) != 0)
			return -1;
		if (width < k || memcmp(stored, w->tile, (size_t)k * 32) != 0) {
			perr_set(w->e, "%s: stored hashes of tile 0/%llu do not match the "
				 "entries", w->lg->origin, (unsigned long long)(idx / TILE_WIDTH));
			return -1;
		}
	}
	return 0;
}

static int audit_root(struct audit_walk *w, merkle_hash root)
{
	merkle_hash h;
	int i;

	if (w->nf == 0) {
		merkle_empty_root(root);
		return 0;
	}
	memcpy(h, w->front[w->nf - 1], 32);
	for (i = w->nf - 2; i >= 0; i--)
		merkle_node_hash(h, w->front[i], h);
	memcpy(root, h, 32);
	return 0;
}

/* A signed checkpoint of lg: its signature (and the cosignature, when
 * cosigned), and its root against the log's. */
static int audit_checkpoint(struct audit_ctx *c, struct audit_log *lg,
			    const char *note, int cosigned, struct perr *e)
{
	struct note nt;
	struct note_verifier keys[2] = { lg->signer, lg->cosigner };
	int ok[2] = { 0, 0 };
	struct checkpoint cp;
	merkle_hash root;

	(void)c;
	if (note_open(&nt, note, strlen(note), keys, 2, ok, NULL, e) != 0)
		return perr_wrap(e, "%s checkpoint", lg->origin);
	if (!ok[0])
		return perr_set(e, "%s checkpoint is not signed by the log's key", lg->origin);
	if (cosigned && !ok[1])
		return perr_set(e, "%s checkpoint lacks a valid cosignature", lg->origin);
	if (checkpoint_parse(&cp, nt.text, nt.textlen, e) != 0)
		return -1;
	if (strcmp(cp.origin, lg->origin) != 0)
		return perr_set(e, "%s checkpoint names origin %s", lg->origin, cp.origin);
	if (lg->l && cp.size <= store_log_size(lg->l)) {
		if (store_root(lg->l, cp.size, root, e) != 0)
			return -1;
		if (memcmp(root, cp.root, 32) != 0)
			return perr_set(e, "%s: the signed checkpoint of size %llu does not match "
					"the stored log (a fork or a damaged store)", lg->origin,
					(unsigned long long)cp.size);
	}
	return 0;
}

static int audit_held(struct audit_ctx *c, struct audit_log *lg, FILE *out,
		      struct perr *e)
{
	sqlite3_stmt *st;
	int rc = 0;
	size_t n = 0;

	if (sqlite3_prepare_v2(c->db, "SELECT idx, entry, cpnote, proof FROM held WHERE"
			       " origin = ?1 ORDER BY idx", -1, &st, NULL) != SQLITE_OK)
		return 0; /* a node that never ran has no such table */
	sqlite3_bind_text(st, 1, lg->origin, -1, SQLITE_STATIC);
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		uint64_t idx = (uint64_t)sqlite3_column_int64(st, 0);
		const char *note = (const char *)sqlite3_column_text(st, 2);
		const char *proof = (const char *)sqlite3_column_text(st, 3);
		merkle_hash p[MERKLE_MAX_PROOF], leaf;
		size_t np = 0;
		struct note nt;
		struct checkpoint cp;
		const char *s = proof;

		merkle_leaf_hash(leaf, sqlite3_column_blob(st, 1),
				 (size_t)sqlite3_column_bytes(st, 1));
		while (*s && np < MERKLE_MAX_PROOF) {
			const char *nl = strchr(s, '\n');
			size_t l = nl ? (size_t)(nl - s) : strlen(s);
			if (merkle_hash_from_b64(p[np++], s, l, e) != 0) {
				rc = -1;
				break;
			}
			s += l + (nl ? 1 : 0);
		}
		if (rc == 0 && (note_open(&nt, note, strlen(note), &lg->signer, 1, NULL, NULL, e) != 0 ||
				checkpoint_parse(&cp, nt.text, nt.textlen, e) != 0 ||
				merkle_verify_inclusion(leaf, 32, idx, cp.size, p, np, cp.root, 32, e) != 0))
			rc = perr_wrap(e, "%s held entry %llu", lg->origin, (unsigned long long)idx);
		n++;
	}
	sqlite3_finalize(st);
	if (rc == 0 && n > 0)
		fprintf(out, "  %zu entr%s held out of order, each proven by inclusion\n", n,
			n == 1 ? "y" : "ies");
	return rc;
}

int node_audit(const char *dir, FILE *out, struct perr *e)
{
	struct audit_ctx c;
	size_t i;
	int rc = 0;
	sqlite3_stmt *st;

	if (audit_open(&c, dir, e) != 0) {
		audit_close(&c);
		return -1;
	}
	for (i = 0; rc == 0 && i < c.nlogs; i++) {
		struct audit_log *lg = &c.logs[i];
		struct audit_walk w;
		merkle_hash root, stored;
		uint64_t size;

		if (lg->l == NULL)
			continue;
		memset(&w, 0, sizeof w);
		w.c = &c;
		w.lg = lg;
		w.e = e;
		size = store_log_size(lg->l);
		if (store_entries(lg->l, 0, size, audit_entry, &w, e) != 0) {
			rc = -1;
			break;
		}
		audit_root(&w, root);
		if (store_root(lg->l, size, stored, e) != 0) {
			rc = -1;
			break;
		}
		if (memcmp(root, stored, 32) != 0) {
			rc = perr_set(e, "%s: stored root does not match the entries", lg->origin);
			break;
		}
		fprintf(out, "%s: %llu entries, every hash recomputed, %llu receipt%s checked%s\n",
			lg->origin, (unsigned long long)size, (unsigned long long)w.receipts,
			w.receipts == 1 ? "" : "s",
			w.malformed ? " (malformed entries kept as evidence)" : "");
		/* Every checkpoint the peer signed that we verified. */
		if (!lg->ours &&
		    sqlite3_prepare_v2(c.db, "SELECT note FROM ckpt WHERE origin = ?1", -1, &st,
				       NULL) == SQLITE_OK) {
			size_t k = 0;
			sqlite3_bind_text(st, 1, lg->origin, -1, SQLITE_STATIC);
			while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
				rc = audit_checkpoint(&c, lg, (const char *)sqlite3_column_text(st, 0),
						      0, e);
				k++;
			}
			sqlite3_finalize(st);
			if (rc == 0)
				fprintf(out, "  %zu signed checkpoint%s verified\n", k, k == 1 ? "" : "s");
		}
		if (rc == 0 && !lg->ours)
			rc = audit_held(&c, lg, out, e);
		if (rc == 0 &&
		    sqlite3_prepare_v2(c.db, "SELECT size, note FROM cosigned WHERE origin = ?1",
				       -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_text(st, 1, lg->origin, -1, SQLITE_STATIC);
			if (sqlite3_step(st) == SQLITE_ROW) {
				rc = audit_checkpoint(&c, lg, (const char *)sqlite3_column_text(st, 1),
						      1, e);
				if (rc == 0)
					fprintf(out, "  cosigned checkpoint at size %lld verified "
						"(%s's signature and %s's cosignature)\n",
						sqlite3_column_int64(st, 0),
						lg->ours ? c.me : lg->peer, lg->ours ? lg->peer : c.me);
			}
			sqlite3_finalize(st);
		}
	}
	if (rc == 0 && sqlite3_prepare_v2(c.db, "SELECT COUNT(*) FROM alarms", -1, &st,
					  NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0)
			fprintf(out, "note: %lld alarm%s recorded (parley status DIR)\n",
				sqlite3_column_int64(st, 0),
				sqlite3_column_int64(st, 0) == 1 ? "" : "s");
		sqlite3_finalize(st);
	}
	audit_close(&c);
	return rc;
}

/* ---- export ------------------------------------------------------------ */

static char *export_note(sqlite3 *db, const char *sql, const char *origin,
			 uint64_t size)
{
	sqlite3_stmt *st;
	char *r = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
	if (sqlite3_step(st) == SQLITE_ROW)
		r = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return r;
}

int node_export(const char *dir, const char *outdir, FILE *out, struct perr *e)
{
	struct audit_ctx c;
	size_t i;
	int rc = 0;
	char path[4200], *buf;
	size_t len;
	struct note_signer lk;

	if (nodedir_path(path, sizeof path, dir, "log.key", e) != 0 ||
	    file_read(path, 4096, 1, &buf, &len, e) != 0)
		return -1;
	rc = note_signer_parse(&lk, buf, len, e);
	free(buf);
	if (rc != 0 || audit_open(&c, dir, e) != 0) {
		note_signer_wipe(&lk);
		return -1;
	}
	for (i = 0; rc == 0 && i < c.nlogs; i++) {
		struct audit_log *lg = &c.logs[i];
		char ldir[4200], vk[NOTE_KEY_TEXT_MAX + 2];
		char *note;
		uint64_t size;
		int cos = 1;

		if (lg->l == NULL)
			continue;
		size = store_log_size(lg->l);
		snprintf(ldir, sizeof ldir, "%s/%s", outdir, lg->origin);
		/* The checkpoint with the other side's cosignature when it covers
		 * this size; otherwise (ours) freshly signed, or (theirs) as signed. */
		note = export_note(c.db, "SELECT note FROM cosigned WHERE origin = ?1 AND size = ?2",
				   lg->origin, size);
		if (note == NULL) {
			cos = 0;
			if (lg->ours) {
				struct checkpoint cp;
				char text[1024];
				long tl;
				struct note_signer s;
				const struct note_signer *sp = &s;
				memset(&cp, 0, sizeof cp);
				snprintf(cp.origin, sizeof cp.origin, "%.255s", lg->origin);
				cp.size = size;
				rc = note_signer_from_seed(&s, lg->origin, NOTE_ALG_ED25519, lk.seed, e);
				if (rc == 0)
					rc = store_root(lg->l, size, cp.root, e);
				tl = rc == 0 ? checkpoint_format(&cp, text, sizeof text, e) : -1;
				if (tl < 0 || note_sign(&note, &len, text, (size_t)tl, &sp, 1, 0, e) != 0)
					rc = -1;
				note_signer_wipe(&s);
			} else {
				note = export_note(c.db, "SELECT note FROM ckpt WHERE origin = ?1 AND "
						   "size = ?2", lg->origin, size);
			}
		}
		if (rc != 0)
			break;
		if (note == NULL) {
			if (size > 0)
				fprintf(out, "%s: no signed checkpoint at size %llu; skipped\n",
					lg->origin, (unsigned long long)size);
			continue;
		}
		note_verifier_format(&lg->signer, vk, sizeof vk);
		strcat(vk, "\n");
		rc = store_export_tiles(lg->l, size, ldir, e);
		if (rc == 0)
			rc = export_file(ldir, "vkey", vk, strlen(vk), e);
		if (rc == 0)
			rc = export_file(ldir, "checkpoint", note, strlen(note), e);
		if (rc == 0 && cos) {
			note_verifier_format(&lg->cosigner, vk, sizeof vk);
			strcat(vk, "\n");
			rc = export_file(ldir, "cosigner.vkey", vk, strlen(vk), e);
		}
		free(note);
		if (rc == 0)
			fprintf(out, "exported %s: %llu entries%s, to %s\n", lg->origin,
				(unsigned long long)size, cos ? ", cosigned" : "", ldir);
	}
	note_signer_wipe(&lk);
	audit_close(&c);
	return rc;
}
