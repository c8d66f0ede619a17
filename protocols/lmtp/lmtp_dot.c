/*
 * lmtp_dot: dot-unstuffing and line-end normalisation. See lmtp_dot.h.
 *
 * Inside a line the decoder copies runs up to the next LF with memchr and
 * memcpy, so a large message costs about one pass over its bytes; only
 * the first byte of each line and the line end are looked at one by one.
 *
 * States: BOL at the start of a line; TEXT inside one (last_cr says the
 * previous byte was a CR); DOT after a leading "." (not given out yet);
 * DOTCR after ".\r" at the start of a line.
 */
#include "protocols/lmtp/lmtp_dot.h"

#include <string.h>

#include "node/lib/util.h"

enum { DOT_BOL, DOT_TEXT, DOT_DOT, DOT_DOTCR };

void
lmtp_dot_init(struct lmtp_dot *d, enum lmtp_dot_mode mode)
{
	d->mode = (uint8_t)mode;
	d->state = DOT_BOL;
	d->last_cr = 0;
}

size_t
lmtp_dot_decode(struct lmtp_dot *d, const uint8_t *in, size_t n, uint8_t *out, size_t room,
                size_t *out_r, int *end_r)
{
	size_t i = 0, o = 0;
	*end_r = 0;
	while (i < n && room - o >= LMTP_DOT_ROOM_MIN) {
		uint8_t b = in[i];
		switch (d->state) {
		case DOT_BOL:
			if (d->mode == LMTP_DOT_DATA && b == '.') {
				d->state = DOT_DOT;
				i++;
			} else {
				d->state = DOT_TEXT;
				d->last_cr = 0;
			}
			break;
		case DOT_DOT:
			if (b == '\r') {
				d->state = DOT_DOTCR;
				i++;
			} else if (b == '\n') {
				d->state = DOT_BOL;
				*end_r = 1;
				*out_r = o;
				return i + 1;
			} else {
				/* The leading dot is dropped; b starts the text. */
				d->state = DOT_TEXT;
				d->last_cr = 0;
			}
			break;
		case DOT_DOTCR:
			if (b == '\n') {
				d->state = DOT_BOL;
				*end_r = 1;
				*out_r = o;
				return i + 1;
			}
			/* ".\r" then more: the dot is dropped, the CR kept. */
			out[o++] = '\r';
			d->state = DOT_TEXT;
			d->last_cr = 1;
			break;
		default: {
			size_t avail = MIN(n - i, room - o - 2);
			const uint8_t *lf = memchr(in + i, '\n', avail);
			size_t run = lf ? (size_t)(lf - (in + i)) : avail;
			if (run > 0) {
				memcpy(out + o, in + i, run);
				d->last_cr = in[i + run - 1] == '\r';
				o += run;
				i += run;
			}
			if (lf != NULL) {
				if (!d->last_cr)
					out[o++] = '\r';
				out[o++] = '\n';
				i++;
				d->state = DOT_BOL;
				d->last_cr = 0;
			}
			break;
		}
		}
	}
	*out_r = o;
	return i;
}
