/*
 * pop3_stuffer: byte-stuffing of message bodies for RETR and TOP. See
 * pop3_stuffer.h.
 *
 * RFC 1939 §3: "each line is terminated by a CRLF pair"; a line beginning
 * with the termination octet is stuffed with another one. Bodies are
 * stored as received (CRLF from LMTP and IMAP); a bare LF is written as
 * CRLF so that the response stays well formed, and a bare CR inside a line
 * is passed on (it does not end a line, so it cannot end the response).
 * XXX RFC 1939 §5 LIST: the octet count we announce is the stored size, so
 * a body stored with bare LFs is a little longer on the wire than LIST
 * says, as RFC 1939 §11 allows for ("may be an approximation").
 *
 * TOP n (RFC 1939 §7): the header, the blank line after it, then n lines
 * of the body; a message without a blank line is all header.
 */
#include "protocols/pop3/pop3_stuffer.h"

#include <string.h>

#include "node/lib/util.h"

void
pop3_stuffer_init(struct pop3_stuffer *st, int top, uint64_t lines)
{
	memset(st, 0, sizeof(*st));
	st->bol = 1;
	st->top = top != 0;
	st->lines = lines;
}

/* A line ended (its LF was just written). */
static void
pop3_stuffer_eol(struct pop3_stuffer *st)
{
	st->bol = 1;
	st->cr = 0;
	if (st->top) {
		if (!st->in_body) {
			if (!st->nonempty) {
				st->in_body = 1;
				if (st->lines == 0)
					st->done = 1;
			}
		} else if (--st->lines == 0) {
			st->done = 1;
		}
	}
	st->nonempty = 0;
}

size_t
pop3_stuffer_encode(struct pop3_stuffer *st, const uint8_t *in, size_t n, uint8_t *out,
                    size_t outcap, size_t *used_r)
{
	size_t i = 0, o = 0;
	/* Every step writes at most two bytes more than it consumes... */
	while (i < n && !st->done && outcap - o >= 2) {
		uint8_t ch = in[i];
		if (ch == '\n') {
			if (!st->cr)
				out[o++] = '\r';
			out[o++] = '\n';
			i++;
			pop3_stuffer_eol(st);
			continue;
		}
		if (ch == '.' && st->bol) {
			out[o++] = '.';
			out[o++] = '.';
			i++;
			st->bol = st->cr = 0;
			st->nonempty = 1;
			continue;
		}
		/* ...and the rest of a line up to its LF is copied as it is. */
		size_t lim = MIN(n - i, outcap - o);
		const uint8_t *lf = memchr(in + i, '\n', lim);
		size_t span = lf ? (size_t)(lf - (in + i)) : lim;
		memcpy(out + o, in + i, span);
		for (size_t k = 0; k < span && !st->nonempty; k++)
			st->nonempty = in[i + k] != '\r';
		st->cr = in[i + span - 1] == '\r';
		st->bol = 0;
		o += span;
		i += span;
	}
	*used_r = st->done ? n : i;
	return o;
}

size_t
pop3_stuffer_finish(struct pop3_stuffer *st, uint8_t out[POP3_STUFFER_FINISH_MAX])
{
	size_t o = 0;
	if (!st->bol) {
		if (!st->cr)
			out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	st->bol = 1;
	st->cr = 0;
	return o + 3;
}
