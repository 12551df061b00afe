/*
 * treaty.h — the treaty engine: definitions, validation, declared
 * inventories, totals against limits, deadlines, data exchanges.
 *
 * A treaty is data (docs/treaties.md): treaty_def_load reads a definition
 * file and checks it completely, so that the engine never meets a
 * definition it would read two ways.  The engine (struct treaty_engine)
 * then holds one party's declared inventory under one definition and
 * applies that party's notifications to it, in log order.
 *
 * DESIGN principle 5: the sender's own node refuses what treaty_check_
 * notification reports before anything is logged; a logged notification
 * from the other party that breaks a rule is applied with treaty_apply,
 * which flags it (treaty_flag) and leaves the inventory as the legal
 * notifications make it.
 *
 * Pure: no I/O except treaty_def_load reading its file.
 */
#ifndef PARLEY_TREATY_H
#define PARLEY_TREATY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

#define TREATY_FORMAT "parley-treaty/1"
#define TREATY_FILE_MAX (4u << 20)     /* bytes of a definition file */
#define TREATY_NAME_MAX 64             /* category, status, field, kind names */
#define TREATY_MAX_STATUSES 32
#define TREATY_MAX_CATEGORIES 64
#define TREATY_MAX_FIELDS 64           /* per kind, and item fields */
#define TREATY_MAX_KINDS 256
#define TREATY_MAX_LIMITS 64
#define TREATY_MAX_ERRORS 100          /* lines reported for one notification */

enum treaty_lang { TREATY_EN, TREATY_RU };

enum treaty_ftype {
	TF_STRING, TF_TEXT, TF_INTEGER, TF_NUMBER, TF_BOOLEAN, TF_DATE,
	TF_DATETIME, TF_CODE, TF_CATEGORY, TF_STATUS, TF_ITEM_ID, TF_ITEM,
	TF_ITEMS, TF_POSITION, TF_AREA, TF_COMMITMENT, TF_TOTALS,
};

struct treaty_field {
	const char *name;
	json_t *label;
	enum treaty_ftype type;
	int required;
	int64_t imin, imax;            /* integer */
	double dmin, dmax;             /* number */
	size_t max_length;             /* string, text */
	size_t max_items;              /* items */
	json_t *values;                /* code: object code -> {"label"} */
};

struct treaty_status {
	const char *name;
	json_t *label;
};

struct treaty_category {
	const char *name;
	json_t *label;
	uint32_t statuses;                       /* bit s: status s applies */
	uint32_t next[TREATY_MAX_STATUSES];      /* bit t of next[s]: s -> t */
};

struct treaty_term {
	uint64_t cats;                 /* bit c: category c */
	uint32_t stats;                /* bit s: status s */
	int sum;                       /* item field index, or -1: "each" */
	int64_t each;
};

struct treaty_limit {
	const char *name;
	json_t *label;
	int64_t max;
	struct treaty_term *terms;
	size_t nterms;
};

enum treaty_op {
	TOP_NONE, TOP_ADD, TOP_UPDATE, TOP_OPEN, TOP_AMEND, TOP_CLOSE,
	TOP_DECLARE,
};

enum treaty_deadline { TDL_NONE, TDL_WITHIN_DAYS, TDL_BEFORE_HOURS };

struct treaty_set {
	int attr;                      /* item field index */
	int field;                     /* kind field index, or -1: value */
	json_t *value;
};

struct treaty_kind {
	const char *name;
	json_t *label;
	struct treaty_field *fields;
	size_t nfields;
	enum treaty_deadline dl;
	int dl_field;
	int64_t dl_n;
	enum treaty_op op;
	int f_item;                    /* add: item; update: item_id */
	int f_key;                     /* open, amend, close */
	struct treaty_set *sets;
	size_t nsets;
	/* declare */
	int f_exchange, f_part, f_parts, f_items, f_count, f_commitment,
	    f_totals;
};

/*
 * A loaded definition.  Every name and label points into root, which the
 * definition owns.  name and sha256 are what an envelope's "treaty" says.
 */
struct treaty_def {
	json_t *root;
	char name[128];
	uint8_t sha256[32];
	char sha_hex[65];
	json_t *label;
	struct treaty_status *statuses;
	size_t nstatuses;
	struct treaty_category *cats;
	size_t ncats;
	struct treaty_field *item_fields;
	size_t nitem_fields;
	int if_id, if_category, if_status;
	struct treaty_limit *limits;
	size_t nlimits;
	struct treaty_kind *kinds;
	size_t nkinds;
};

/* Reads and checks a definition.  Errors name the member that is wrong:
 *   new-start.json: kinds.movement.effect.set.base: no field "new_base" */
int treaty_def_load(struct treaty_def **d, const char *path, struct perr *e);
/* The same on bytes already read (label for error messages). */
int treaty_def_parse(struct treaty_def **d, const void *buf, size_t len,
		     const char *label, struct perr *e);
void treaty_def_free(struct treaty_def *d);

const struct treaty_kind *treaty_kind_find(const struct treaty_def *d,
					   const char *name);
int treaty_cat_find(const struct treaty_def *d, const char *name);
int treaty_status_find(const struct treaty_def *d, const char *name);
/* A label in the language; falls back to English, then to fallback. */
const char *treaty_label(const json_t *label, enum treaty_lang lang,
			 const char *fallback);
int treaty_lang_parse(const char *s, enum treaty_lang *lang);

/*
 * A list of problems, one line each (validation errors, flags' details).
 * treaty_msgs_add keeps at most TREATY_MAX_ERRORS lines and counts the
 * rest.
 */
struct treaty_msgs {
	char **lines;
	size_t n, cap, dropped;
};
void treaty_msgs_add(struct treaty_msgs *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void treaty_msgs_free(struct treaty_msgs *m);

/* Room for one more element in arr (n used of *cap, elem bytes each),
 * doubling from first: arr itself, or its new place, or NULL when out of
 * memory (arr is then unchanged and still the caller's). */
void *treaty_grow(void *arr, size_t *cap, size_t n, size_t elem, size_t first);

/* snprintf for the paths that name a member in messages (cut if long). */
void treaty_pathf(char *p, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Checks the fields of a notification of this kind: every missing, extra,
 * mistyped or out-of-range field is one line in m, named by its path
 * ("fields.item.warheads: 15 is above the maximum 14").  Returns the
 * number of problems (0: valid).
 */
size_t treaty_validate(const struct treaty_def *d, const struct treaty_kind *k,
		       const json_t *fields, struct treaty_msgs *m);
/* The same for one item record (path prefixes the lines). */
size_t treaty_validate_item(const struct treaty_def *d, const json_t *item,
			    const char *path, struct treaty_msgs *m);

/* "YYYY-MM-DD" (its 00:00 UTC) or "YYYY-MM-DDTHH:MM:SSZ" -> unix seconds. */
int treaty_time_parse(const char *s, int64_t *t);

/* ---------------------------------------------------------------------- */
/* The engine: one party's declarations under one definition.              */

struct treaty_engine;

/* What the engine reports about one notification.  code is one of
 * late, confirmed, invalid, duplicate-id, unknown-item,
 * illegal-transition, immutable, duplicate-key, unknown-key,
 * extra-part, inconsistent-part, item-count, discrepancy,
 * totals-mismatch, over-limit, baseline; index is the log index of the
 * notification (for over-limit: the one that took a total over).
 * confirmed and baseline are information, not faults. */
struct treaty_flag {
	uint64_t index;
	const char *code;
	char *detail;
};

struct treaty_engine *treaty_engine_new(const struct treaty_def *d);
void treaty_engine_free(struct treaty_engine *g);

/* Loads an inventory (the "items" of an inventory file, or an array) as
 * the declared state, as a data exchange would.  Errors name the item. */
int treaty_engine_load(struct treaty_engine *g, const json_t *items,
		       struct perr *e);

/*
 * Whether applying this notification would be legal, without applying it:
 * the fields are valid for the kind and the effect is allowed by the
 * inventory (no unknown item, no illegal transition, ...).  Problems go to
 * m; returns their number.  The sender's node calls this before logging.
 */
size_t treaty_check(struct treaty_engine *g, const char *kind,
		    const json_t *fields, struct treaty_msgs *m);

/*
 * Applies a logged notification: index is its log index, received the
 * receiver's durable receipt time (unix seconds, or -1 if not yet known:
 * deadlines are then not judged).  A notification that breaks a rule is
 * not applied and is flagged; deadlines are judged in either case.
 * Returns the number of flags this notification raised (including
 * "confirmed").
 */
size_t treaty_apply(struct treaty_engine *g, uint64_t index, const char *kind,
		    const json_t *fields, int64_t received);

/* Flags raised so far, in order. */
const struct treaty_flag *treaty_flags(const struct treaty_engine *g,
				       size_t *n);

/* Totals of each limit (d->nlimits values) over the current inventory. */
void treaty_totals(const struct treaty_engine *g, int64_t *totals);
/* Totals over an array of item records (a declaration), for comparison. */
void treaty_totals_of(const struct treaty_def *d, const json_t *items,
		      int64_t *totals);

/* End of a replay: data exchanges still missing parts are flagged
 * (missing-part) with the index of their first part. */
void treaty_finish(struct treaty_engine *g);

/* The inventory as an array of item records sorted by id (new
 * reference), and SHA-256 of its canonical JSON: what two nodes compare
 * to agree on a party's declaration. */
json_t *treaty_inventory(const struct treaty_engine *g);
void treaty_inventory_digest(const struct treaty_engine *g, uint8_t out[32]);
size_t treaty_item_count(const struct treaty_engine *g);
/* Records opened and not closed (launch notices): object key -> index. */
const json_t *treaty_open_records(const struct treaty_engine *g);
size_t treaty_applied(const struct treaty_engine *g);
/* The commitment of the last complete data exchange that carried one:
 * {"exchange", "root", "count"}, or NULL. */
const json_t *treaty_commitment(const struct treaty_engine *g);

#endif
