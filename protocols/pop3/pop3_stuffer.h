/*
 * pop3_stuffer: a message body as a POP3 multi-line response (RFC 1939 §3):
 * lines end in CRLF, a line starting with "." gets another ".", and the
 * response ends with CRLF "." CRLF. For TOP (RFC 1939 §7) it stops after
 * the header, the blank line and the first n body lines.
 *
 * Pure and resumable: the body is fed in chunks of any size (the state
 * carries the beginning of line, a CR just seen and the TOP position across
 * chunk boundaries), so a large message is never held whole.
 */
#ifndef MAILNODE_POP3_STUFFER_H
#define MAILNODE_POP3_STUFFER_H

#include <stddef.h>
#include <stdint.h>

/* Bytes pop3_stuffer_finish may write: CR LF "." CR LF. */
#define POP3_STUFFER_FINISH_MAX 5

struct pop3_stuffer {
	uint8_t bol;      /* the output is at the beginning of a line */
	uint8_t cr;       /* the last input byte was a CR (already written) */
	uint8_t top;      /* TOP: stop after the header and `lines` body lines */
	uint8_t in_body;  /* TOP: the blank line after the header was seen */
	uint8_t done;     /* TOP: everything wanted was written */
	uint8_t nonempty; /* the current input line has a byte other than CR */
	uint64_t lines;   /* TOP: body lines still to write */
};

/* Start a body; top != 0 for TOP with `lines` body lines. */
void pop3_stuffer_init(struct pop3_stuffer *st, int top, uint64_t lines);
/* Encode input into out (room for outcap bytes, at least 2). Returns the
 * bytes written and sets *used_r to the input consumed: all of n, unless
 * out filled up or TOP is done (the rest is not wanted). */
size_t pop3_stuffer_encode(struct pop3_stuffer *st, const uint8_t *in, size_t n, uint8_t *out,
                           size_t outcap, size_t *used_r);
/* TOP has written all it wants: stop reading. */
static inline int
pop3_stuffer_done(const struct pop3_stuffer *st)
{
	return st->done;
}
/* End the response: a CRLF if the body did not end with one, then ".\r\n".
 * Returns the bytes written to out (at most POP3_STUFFER_FINISH_MAX). */
size_t pop3_stuffer_finish(struct pop3_stuffer *st, uint8_t out[POP3_STUFFER_FINISH_MAX]);

#endif
