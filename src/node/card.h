/*
 * card.h — a node's card: who it is, how to verify it, where to reach it.
 *
 * Parties exchange cards out of band (DESIGN, Identity and trust) and pin
 * them with `parley peer add`.  A card is a signed note (signed-note 0x01)
 * by the node's log key under the node's name:
 *
 *   parley-card v1
 *   name <node name>
 *   log-key <base64 Ed25519 public key>      signs the node's logs (0x01)
 *   cosign-key <base64 Ed25519 public key>   cosigns the peer's (0x04)
 *   tls-key <base64 Ed25519 public key>      its TLS certificate's key
 *   addr <host:port>                         one line per path, 1..8
 *   fingerprint XXXX-XXXX-XXXX-XXXX
 *
 * The fingerprint is read aloud between operators: base32 of the first 10
 * bytes of SHA-256 over the name and key lines (not the addresses, which a
 * peer may replace).  A card is accepted only if its fingerprint matches
 * and its self-signature verifies; the trust itself comes from comparing
 * the fingerprint by voice.
 */
#ifndef PARLEY_CARD_H
#define PARLEY_CARD_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "note.h"

#define CARD_HEADER "parley-card v1"
#define CARD_NAME_MAX 255
#define CARD_MAX_ADDRS 8
#define CARD_ADDR_MAX 300
#define CARD_FPR_LEN 19 /* "XXXX-XXXX-XXXX-XXXX" */

struct card {
	char name[CARD_NAME_MAX + 1];
	uint8_t log_pub[32];
	uint8_t cosign_pub[32];
	uint8_t tls_pub[32];
	size_t naddrs;
	char addrs[CARD_MAX_ADDRS][CARD_ADDR_MAX + 1];
	char fingerprint[CARD_FPR_LEN + 1];
};

/* A node name: 1..255 bytes of letters, digits, '.', '-' and '_' (it
 * becomes part of log origins "<a>/to/<b>" and of key names). */
int card_name_valid(const char *name);

/* Checks "host:port" or "[v6]:port": non-empty host of allowed
 * characters, port 1..65535 without leading zeros. */
int card_addr_valid(const char *addr);

/* Computes c->fingerprint from the name and keys. */
void card_fingerprint(struct card *c);

/* Signs the card with the node's log key (whose name must be c->name) into
 * a malloc'd note. */
int card_sign(const struct card *c, const struct note_signer *logkey,
	      char **out, size_t *outlen, struct perr *e);

/* Parses and checks a card: format, fingerprint, self-signature. */
int card_open(struct card *c, const char *note, size_t len, struct perr *e);

/* The verifier of the node's log key for a given key name (a log origin,
 * or the node name for cards), and of its cosigning key. */
void card_log_verifier(const struct card *c, const char *name,
		       struct note_verifier *v);
void card_cosign_verifier(const struct card *c, struct note_verifier *v);

#endif
