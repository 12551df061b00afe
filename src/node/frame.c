/*
 * frame.c — see frame.h.
 */
#include "frame.h"

#include <assert.h>

static const char *const frame_names[] = {
	[FRAME_WELCOME] = "WELCOME", [FRAME_HELLO] = "HELLO",
	[FRAME_ENTRIES] = "ENTRIES", [FRAME_OOO] = "OOO",
	[FRAME_ACK] = "ACK",         [FRAME_COSIG] = "COSIG",
	[FRAME_PING] = "PING",       [FRAME_PONG] = "PONG",
	[FRAME_ERROR] = "ERROR",
};

const char *frame_type_name(int type)
{
	if (type < FRAME_WELCOME || type > FRAME_ERROR)
		return NULL;
	return frame_names[type];
}

int frame_peek(const uint8_t *data, size_t len, int *type,
	       const uint8_t **body, size_t *bodylen, struct perr *e)
{
	if (len < FRAME_HDR)
		return 0;
	uint32_t n = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
		     (uint32_t)data[2] << 8 | data[3];
	if (n == 0)
		return perr_set(e, "frame: zero length");
	if (n > FRAME_MAX)
		return perr_set(e, "frame: length %u over the %zu-byte limit", n,
				FRAME_MAX);
	if (frame_type_name(data[4]) == NULL)
		return perr_set(e, "frame: unknown type %u", data[4]);
	if (len - 4 < n)
		return 0;
	*type = data[4];
	*body = data + FRAME_HDR;
	*bodylen = n - 1;
	return 1;
}

void frame_header(uint8_t hdr[FRAME_HDR], int type, size_t bodylen)
{
	assert(bodylen < FRAME_MAX);
	uint32_t n = (uint32_t)bodylen + 1;
	hdr[0] = (uint8_t)(n >> 24);
	hdr[1] = (uint8_t)(n >> 16);
	hdr[2] = (uint8_t)(n >> 8);
	hdr[3] = (uint8_t)n;
	hdr[4] = (uint8_t)type;
}
