/*
 * tls.h — the TLS layer between two nodes: TLS 1.3 only, mutual
 * authentication, pinned raw Ed25519 public keys.
 *
 * DESIGN, Identity and trust.  Each node has an Ed25519 TLS key and a
 * self-signed certificate; the certificate is only a container for the key
 * (its name, serial and dates carry no trust).  A peer is trusted because
 * its key is pinned: the raw 32-byte public key from its card, which the
 * operators compared by voice.  So:
 *
 *   - Both sides speak TLS 1.3 and nothing else (min = max = TLS1_3).
 *   - Both sides present a certificate.  The server demands one
 *     (SSL_VERIFY_FAIL_IF_NO_PEER_CERT); the client checks the server's.
 *   - OpenSSL's chain verification is replaced by one comparison: the
 *     leaf's key must be Ed25519 and equal one of the connection's pins.
 *     The check runs inside the handshake, so a wrong key aborts it with a
 *     bad_certificate alert and no application data is ever accepted from
 *     that peer.  Validity dates are not enforced: a pinned key stays good
 *     until it is unpinned, whatever a clock says in a crisis.
 *   - Session tickets and the session cache are off: every connection
 *     proves possession of the pinned key afresh (no resumption).
 *
 * The TLS 1.3 ordering rule.  In TLS 1.3 the client's handshake completes
 * (SSL_connect returns 1) as soon as it has sent its certificate and
 * Finished, before the server has judged that certificate.  A client whose
 * key the server refuses can therefore believe it is connected and write
 * application data, which the server discards with the failed handshake.
 * The protocol rule that follows: a client sends nothing until the
 * server's first frame has arrived, because only then does it know the
 * server accepted it.  This module documents the rule; the framing layer
 * enforces it.
 *
 * Use with libevent.  tls.c does not depend on libevent.  The node creates
 * one SSL per connection from a context made here, attaches the pins, and
 * hands it to bufferevent_openssl_socket_new (with BEV_OPT_CLOSE_ON_FREE,
 * bufferevent_free then frees the SSL, and with it the pins):
 *
 *   SSL *ssl = tls_ssl_new(ctx, &peer.tls_pub, 1, &e);          (client)
 *   SSL *ssl = tls_ssl_new(ctx, all_tls_pubs, npeers, &e);       (server)
 *   bev = bufferevent_openssl_socket_new(base, fd, ssl,
 *           BUFFEREVENT_SSL_CONNECTING or _ACCEPTING, ...);
 *   ... once connected: tls_peer_key(ssl, pub, &e) says who it is;
 *   ... on BEV_EVENT_ERROR: tls_pin_error(ssl, &e) says if and why the
 *       pin check refused the peer (bufferevent_get_openssl_error gives
 *       OpenSSL's side: "certificate verify failed", or the alert the
 *       peer sent).
 *
 * OpenSSL writes to the socket with write(2): the process must ignore
 * SIGPIPE, or a peer that closes first kills it.
 *
 * Errors follow err.h: 0 or negative, with one line in struct perr naming
 * the file and OpenSSL's reason.  Every function leaves the thread's
 * OpenSSL error queue empty when it returns.
 */
#ifndef PARLEY_TLS_H
#define PARLEY_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "err.h"

/* Most pins one connection may carry (an OSCE-like network has 50+). */
#define TLS_PINS_MAX 65536

/* Longest certificate subject name: a node name (card.h CARD_NAME_MAX). */
#define TLS_NAME_MAX 255

/*
 * Creates a fresh Ed25519 key and its self-signed certificate:
 *   keypath   PKCS#8 PEM ("BEGIN PRIVATE KEY"), mode 0600
 *   certpath  X.509 v3 PEM, mode 0644: subject = issuer = CN=name, random
 *             128-bit serial, notBefore now - 1 day, notAfter
 *             99991231235959Z (RFC 5280: no well-defined expiration),
 *             CA:FALSE, digitalSignature, serverAuth + clientAuth.
 * name: 1..TLS_NAME_MAX printable ASCII characters without spaces.
 * Neither file may exist (O_EXCL, O_NOFOLLOW: an existing file or symlink
 * is refused, never overwritten).  Both are fsync'ed; syncing the
 * directory is the caller's business.  On failure no file is left behind.
 */
int tls_keygen(const char *keypath, const char *certpath, const char *name,
	       struct perr *e);

/* The raw Ed25519 public key of a key file written by tls_keygen (the
 * node's card carries it as tls-key). */
int tls_key_public(const char *keypath, uint8_t pub[32], struct perr *e);

/*
 * A TLS 1.3 context for one side (is_server nonzero: accepts; zero:
 * dials), with the node's key and certificate, which must be Ed25519 and
 * match.  Every SSL made from it needs pins (tls_set_pins); one without
 * pins refuses every peer.  Free with SSL_CTX_free.  Returns NULL on error.
 */
SSL_CTX *tls_ctx_new(int is_server, const char *keypath, const char *certpath,
		     struct perr *e);

/*
 * Sets the raw Ed25519 public keys that ssl accepts from its peer (copied;
 * a second call replaces the first; npins may be 0, refusing everyone).
 * A client pins the one peer it dials; a server pins every peer it knows
 * and asks tls_peer_key afterwards which one came.  Must be called before
 * the handshake.  The pins belong to ssl and are freed by SSL_free.
 */
int tls_set_pins(SSL *ssl, const uint8_t (*pins)[32], size_t npins,
		 struct perr *e);

/* SSL_new(ctx) with tls_set_pins; NULL on error. */
SSL *tls_ssl_new(SSL_CTX *ctx, const uint8_t (*pins)[32], size_t npins,
		 struct perr *e);

/*
 * After a completed handshake: the peer's raw public key, checked again
 * against the pins (DESIGN: each side compares the peer's key with the
 * pinned one after the handshake).  Fails if the handshake is not finished
 * or the peer is not one of the pins.
 */
int tls_peer_key(SSL *ssl, uint8_t pub[32], struct perr *e);

/*
 * After a failed handshake: returns -1 and says why in e if the pin check
 * refused the peer's certificate ("peer key <hex> is not pinned", "peer
 * certificate key is EC, not Ed25519", "no pins set"), 0 if it did not
 * (the failure was elsewhere: protocol version, missing certificate, a
 * refusal by the other side, the network).
 */
int tls_pin_error(const SSL *ssl, struct perr *e);

#endif
