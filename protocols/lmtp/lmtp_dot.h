/*
 * lmtp_dot: the message body decoder, resumable at any byte, no I/O.
 *
 * DATA mode (RFC 5321 §4.5.2): lines are dot-unstuffed (a leading dot is
 * removed when other characters follow it) and "<CRLF>.<CRLF>" ends the
 * message; the CRLF before the dot belongs to the message. BDAT mode (RFC
 * 3030 §2): bytes pass through, there is no end marker. Both modes turn a
 * bare LF into CRLF, so that stored messages have canonical line ends; a
 * bare CR passes unchanged. A lone "." followed by a bare LF also ends
 * DATA (what a client with bare-LF lines sends).
 *
 * Owner: the session embeds it; it holds no memory.
 */
#ifndef MAILNODE_LMTP_DOT_H
#define MAILNODE_LMTP_DOT_H

#include <stddef.h>
#include <stdint.h>

enum lmtp_dot_mode { LMTP_DOT_DATA, LMTP_DOT_BDAT };

struct lmtp_dot {
	uint8_t mode;
	uint8_t state;
	uint8_t last_cr; /* the last byte given out was a CR */
};

/* Output never grows by more than this over what one input byte gives;
 * decode needs at least this much room to make progress. */
#define LMTP_DOT_ROOM_MIN 3

void lmtp_dot_init(struct lmtp_dot *d, enum lmtp_dot_mode mode);
/* Decode from in (n bytes) into out (room bytes, at least
 * LMTP_DOT_ROOM_MIN). Returns the input bytes consumed; *out_r the bytes
 * written; *end_r 1 when the DATA end marker was consumed (the decoder is
 * then back at the start of a line, and nothing after the marker was
 * consumed). */
size_t lmtp_dot_decode(struct lmtp_dot *d, const uint8_t *in, size_t n, uint8_t *out, size_t room,
                       size_t *out_r, int *end_r);

#endif
