/*
 * nodedir.h — a node's directory: its keys, configuration and database.
 *
 *   DIR/node.conf      name, listen/advertise/api addresses, settings
 *   DIR/log.key        signs the node's outbound logs and its card (0x01)
 *   DIR/cosign.key     cosigns the peers' logs (0x04); never a log key
 *   DIR/tls.key        TLS Ed25519 private key (PEM)
 *   DIR/tls.crt        its self-signed certificate
 *   DIR/api.token      the operator API token
 *   DIR/auditor.token  the token that unlocks entry bundles for auditors
 *   DIR/node.db        the SQLite store: logs, peers, delivery state
 *
 * DIR is created 0700; every private file is 0600.
 */
#ifndef PARLEY_NODEDIR_H
#define PARLEY_NODEDIR_H

#include <stddef.h>

#include "card.h"
#include "err.h"

#define NODE_MAX_PATHS CARD_MAX_ADDRS

struct node_conf {
	char name[CARD_NAME_MAX + 1];
	size_t nlisten;
	char listen[NODE_MAX_PATHS][CARD_ADDR_MAX + 1];
	size_t nadvertise; /* 0: the listen addresses */
	char advertise[NODE_MAX_PATHS][CARD_ADDR_MAX + 1];
	char api[CARD_ADDR_MAX + 1];
	unsigned test_interval; /* seconds between logged test messages */
	/* Deadlines in seconds, per precedence FLASH..ROUTINE (DESIGN: judged
	 * by the receiver's durable receipt time). */
	unsigned receipt_deadline[4];
	unsigned ack_deadline[4];
	unsigned skew_tolerance;  /* seconds of clock difference before alarm */
	unsigned long long max_db_bytes; /* storage quota; 0: the disk's size */
};

/* DIR/<file> into buf. */
int nodedir_path(char *buf, size_t cap, const char *dir, const char *file,
		 struct perr *e);

/* Creates a node: refuses an existing non-empty DIR. */
int nodedir_init(const char *dir, const struct node_conf *conf,
		 struct perr *e);

/* The defaults of every setting. */
void nodedir_conf_defaults(struct node_conf *c);

int nodedir_load_conf(const char *dir, struct node_conf *conf,
		      struct perr *e);

/* The node's own card, built from its keys and signed by its log key. */
int nodedir_card(const char *dir, struct card *c, char **note, size_t *len,
		 struct perr *e);

/* Pins a peer (its card, with addrs replacing the card's when naddrs > 0).
 * Re-adding the same card updates its addresses; a different card for a
 * pinned name is refused (keys are never silently replaced). */
int nodedir_peer_add(const char *dir, const char *cardnote, size_t len,
		     char addrs[][CARD_ADDR_MAX + 1], size_t naddrs,
		     struct card *out, struct perr *e);

#endif
