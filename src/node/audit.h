/*
 * audit.h — re-verification and export of everything a node stores.
 *
 * node_audit re-verifies the node in DIR from its stored bytes: every
 * entry's leaf hash against the stored tiles, every log's root, every
 * envelope of our logs, every receipt (ours: we hold what we said; the
 * peer's: it names only what we logged), every signed checkpoint of the
 * peer we verified, every held out-of-order entry's inclusion proof, and
 * the latest cosigned checkpoint of each log (both signatures, and its root
 * against the stored log).  Prints what it checked on out; returns -1 with
 * the first failure in e.
 *
 * node_export writes every log the node holds to OUTDIR/<origin>/ in C2SP
 * form: checkpoint (with the other side's cosignature when it covers the
 * exported size), tile/..., tile/entries/..., vkey (the log's verifier
 * key), and cosigner.vkey when cosigned.
 */
#ifndef PARLEY_AUDIT_H
#define PARLEY_AUDIT_H

#include <stdio.h>

#include "err.h"

int node_audit(const char *dir, FILE *out, struct perr *e);
int node_export(const char *dir, const char *outdir, FILE *out, struct perr *e);

#endif
