/*
 * frame.h — the link's framing: how two nodes cut a TLS stream into
 * messages (docs/protocol.md, "Frames").
 *
 *   frame = u32be length || u8 type || body
 *
 * length counts the type byte and the body: 1..FRAME_MAX.  Every body is
 * one JSON object (UTF-8).  A zero or oversized length or an unknown type
 * is a protocol error: the receiver closes the path and raises an alarm
 * with the first bytes as evidence.
 */
#ifndef PARLEY_FRAME_H
#define PARLEY_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define FRAME_MAX ((size_t)1 << 20)   /* type + body, bytes */
#define FRAME_HDR 5

enum frame_type {
	FRAME_WELCOME = 1, /* server's first frame: its verdict and name */
	FRAME_HELLO = 2,   /* client: protocol version, name, origin */
	FRAME_ENTRIES = 3, /* an in-order run of entries + signed checkpoint */
	FRAME_OOO = 4,     /* one entry out of order + proofs */
	FRAME_ACK = 5,     /* receiver: what it holds durably */
	FRAME_COSIG = 6,   /* receiver: its cosignature of a checkpoint */
	FRAME_PING = 7,
	FRAME_PONG = 8,
	FRAME_ERROR = 9,   /* why the sender of it is closing the path */
};

/* "WELCOME", ...; NULL for an unknown type. */
const char *frame_type_name(int type);

/*
 * Looks at the start of a stream.  Returns 1 when a whole frame is there
 * (*type, *body and *bodylen describe it; it spans FRAME_HDR + *bodylen
 * bytes), 0 when more bytes are needed, -1 when the bytes cannot be a
 * frame (e says why: zero length, over FRAME_MAX, unknown type).  The
 * header is judged as soon as its 5 bytes are there, so garbage is
 * refused without waiting for a megabyte that may never come.
 */
int frame_peek(const uint8_t *data, size_t len, int *type,
	       const uint8_t **body, size_t *bodylen, struct perr *e);

/* Writes the 5-byte header of a frame with bodylen bytes of body.  bodylen
 * must be < FRAME_MAX. */
void frame_header(uint8_t hdr[FRAME_HDR], int type, size_t bodylen);

#endif
