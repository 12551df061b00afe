/*
 * replay.h — treaty definitions held, and a party's declarations replayed
 * from signed logs.
 *
 * Registry (treaty_reg_*): the definitions a node or an auditor holds,
 * found by name and by the SHA-256 of the file, since an envelope names
 * both.  TREATY arguments are a name (a file in the treaties directory:
 * $PARLEY_TREATIES, else the one parley was built with) or a path.
 *
 * Replay (replay_run): from the logs between party P and the other side Q
 * — in a node's directory (its database) or in an export (one folder per
 * origin, docs/protocol.md) — the engine applies every notification of
 * P's log P/to/Q, in log order, judging deadlines by Q's receipts (the
 * time of the first receipt entry in Q/to/P that covers the notification).
 * Logs are read up to their cosigned checkpoint, so that two nodes that
 * replay the same cosigned checkpoints compute the same inventory, totals
 * and flags.  An exported log is verified first: its checkpoint's
 * signature by the folder's vkey and its root against the entries.
 */
#ifndef PARLEY_REPLAY_H
#define PARLEY_REPLAY_H

#include <stdint.h>

#include <jansson.h>

#include "err.h"
#include "treaty.h"

#define TREATY_REG_MAX 64

struct treaty_reg {
	struct treaty_def *defs[TREATY_REG_MAX];
	size_t n;
};

/* The directory of parley's own definitions. */
const char *treaty_dir(void);
/* Loads every *.json directly in dir (missing dir: nothing, no error). */
int treaty_reg_load_dir(struct treaty_reg *r, const char *dir, struct perr *e);
/* Adds a loaded definition (the registry owns it from then on; a
 * definition with the same SHA-256 already held is freed instead). */
int treaty_reg_add(struct treaty_reg *r, struct treaty_def *d, struct perr *e);
const struct treaty_def *treaty_reg_find(const struct treaty_reg *r,
					 const char *name, const uint8_t sha[32]);
const struct treaty_def *treaty_reg_by_name(const struct treaty_reg *r,
					    const char *name);
void treaty_reg_free(struct treaty_reg *r);

/* TREATY as on the command line: a path (contains '/' or ends in .json)
 * or a name in treaty_dir(). */
int treaty_resolve_load(struct treaty_def **d, const char *arg, struct perr *e);

/*
 * Replays party's notifications from src (a node directory or an export
 * directory).  to names the other side when party has logs to several;
 * reg are the definitions held (NULL: those of treaty_dir(), plus the
 * node directory's treaties/).  *out is a new JSON report:
 *
 *   {"party", "to", "source": "node"|"export",
 *    "log": {"origin", "size", "root", "cosigned"}, "receipts": {"origin",
 *    "size"}, "notifications", "treaties": [{"name", "sha256",
 *    "notifications", "applied", "items", "inventory_sha256", "limits":
 *    [{"name", "max", "total", "margin", "over"}], "open": {...},
 *    "flags": [{"index", "code", "detail"}]}], "flags": [...]}
 *
 * where the top-level flags are those of notifications under a definition
 * not held (unknown-treaty, treaty-version) or whose envelope is not a
 * valid envelope (envelope).
 */
int replay_run(const char *src, const char *party, const char *to,
	       struct treaty_reg *reg, json_t **out, struct perr *e);

/*
 * The joint random selection of an inspection (docs/treaties.md), from
 * the logs alone: the request is entry req_index of req_origin (a
 * notification whose fields include round, n, k and reveal_by); each
 * side's first seed-commit referring to it, and the first seed-reveal
 * referring to that commit, count.  A reveal counts if it matches its
 * commitment and the other side's receipt of it is no later than
 * reveal_by.  *out: {"request", "sides": [{"name", "log", "commit_index",
 * "reveal_index", "reveal_received", "status": revealed | rejected |
 * late | pending | refused, "error"}], "outcome": selected | pending |
 * refused, "selection": [indices] or null}.  now decides pending versus
 * refused for a side that has not revealed.
 */
int replay_selection(const char *src, const char *req_origin, uint64_t req_index,
		     int64_t now, json_t **out, struct perr *e);

#endif
