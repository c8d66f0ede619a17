/*
 * Fuzz the POP3 front end's pure parts: the command-line parser and the
 * RETR/TOP byte-stuffer.
 *
 * Input: one control byte, then the rest (R). Control byte:
 *   bits 0-2  chunk size for the stuffer: 1, 2, 3, 7, 64, 4096, R, R
 *   bit 3     TOP mode, with (control >> 4) body lines
 * R is split at LF into command lines for the parser, and fed whole to
 * the stuffer in chunks.
 * Invariants checked: parsed arguments lie inside their line and hold no
 * space; the stuffed response ends with CRLF.CRLF, every LF in it follows
 * a CR, no line before the terminator is "."; without TOP, removing the
 * stuffing gives the input back (bare LF read as CRLF, a final CRLF added
 * when missing).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/pop3/pop3_parser.h"
#include "protocols/pop3/pop3_stuffer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_parser(const uint8_t *p, size_t n)
{
	while (n > 0) {
		const uint8_t *lf = memchr(p, '\n', n);
		size_t len = lf ? (size_t)(lf - p) : n;
		size_t line = len;
		if (line > 0 && p[line - 1] == '\r')
			line--;
		struct pop3_cmd c;
		const char *err;
		if (pop3_parser_parse((const char *)p, line, &c, &err) == 0) {
			if ((unsigned)c.id >= POP3_CMD_COUNT)
				abort();
			for (uint32_t i = 0; i < c.nargs && i < POP3_ARGS_MAX; i++) {
				const uint8_t *a = (const uint8_t *)c.args[i].p;
				if (c.args[i].len == 0 || a < p || a + c.args[i].len > p + line ||
				    memchr(a, ' ', c.args[i].len))
					abort();
				uint32_t v;
				(void)pop3_parser_number(&c.args[i], UINT32_MAX, &v);
			}
			if ((const uint8_t *)c.rest.p + c.rest.len != p + line)
				abort();
		} else if (err == NULL) {
			abort();
		}
		if (lf == NULL)
			break;
		p += len + 1;
		n -= len + 1;
	}
}

/* The input as the stuffer should see it: bare LF as CRLF, a CRLF at the
 * end when missing. Caller frees. */
static uint8_t *
fuzz_expected(const uint8_t *in, size_t n, size_t *len_r)
{
	uint8_t *e = malloc(2 * n + 2);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			e[o++] = '\r';
		e[o++] = in[i];
	}
	if (o > 0 && !(o >= 2 && e[o - 2] == '\r' && e[o - 1] == '\n')) {
		if (e[o - 1] != '\r')
			e[o++] = '\r';
		e[o++] = '\n';
	}
	*len_r = o;
	return e;
}

static void
fuzz_stuffer(const uint8_t *in, size_t n, size_t chunk, int top, unsigned lines)
{
	struct pop3_stuffer st;
	uint8_t *out = malloc(2 * n + POP3_STUFFER_FINISH_MAX + 1);
	uint8_t piece[37]; /* odd size: output splits at odd places too */
	size_t o = 0;
	pop3_stuffer_init(&st, top, lines);
	for (size_t off = 0; off < n && !pop3_stuffer_done(&st);) {
		size_t k = n - off < chunk ? n - off : chunk;
		size_t left = k;
		const uint8_t *p = in + off;
		while (left > 0) {
			size_t used;
			size_t w = pop3_stuffer_encode(&st, p, left, piece, sizeof(piece), &used);
			if (w > sizeof(piece) || used > left || (w == 0 && used == 0))
				abort();
			memcpy(out + o, piece, w);
			o += w;
			p += used;
			left -= used;
		}
		off += k;
	}
	o += pop3_stuffer_finish(&st, out + o);

	if (o < 3 || memcmp(out + o - 3, ".\r\n", 3) != 0 ||
	    (o > 3 && (o < 5 || memcmp(out + o - 5, "\r\n", 2) != 0)))
		abort();
	for (size_t i = 0; i < o; i++)
		if (out[i] == '\n' && (i == 0 || out[i - 1] != '\r'))
			abort();
	/* Unstuff the lines before the terminator. */
	uint8_t *un = malloc(o + 1);
	size_t u = 0, bol = 1, body = o - 3;
	for (size_t i = 0; i < body; i++) {
		/* A dot at a line start is doubled: no "." line before the end. */
		if (bol && out[i] == '.') {
			if (i + 1 >= body || out[i + 1] != '.')
				abort();
			i++;
		}
		un[u++] = out[i];
		bol = out[i] == '\n';
	}
	if (!top) {
		size_t elen;
		uint8_t *e = fuzz_expected(in, n, &elen);
		if (elen != u || memcmp(e, un, u) != 0)
			abort();
		free(e);
	}
	free(un);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t chunks[] = {1, 2, 3, 7, 64, 4096, 0, 0};
	if (size == 0)
		return 0;
	uint8_t ctl = data[0];
	data++;
	size--;
	fuzz_parser(data, size);
	size_t chunk = chunks[ctl & 7] ? chunks[ctl & 7] : (size ? size : 1);
	fuzz_stuffer(data, size, chunk, (ctl >> 3) & 1, ctl >> 4);
	return 0;
}
