/*
 * imap parser: literals, errors and resync, raw lines. See parser.h.
 *
 * Happy path: "{n}" is checked against the limits at its "}" (before any
 * "+ Ready" is sent), the sink chooses inline or streamed at its LF, then
 * the n bytes are copied into the arena or handed to the sink in the
 * chunks they arrived in, and the command line goes on.
 *
 * Failure modes and resync: after an error the rest of the line is
 * discarded. A synchronising literal announced on it carries no data (no
 * "+" was sent, the client gets BAD instead); the data of a non-synchronising
 * one does follow and is skipped when it is at most literal_skip_max bytes,
 * otherwise the error is fatal (RFC 7888 §4: the server may reject it, and
 * then only closing the connection keeps the data from being read as
 * commands). Literal bytes are never parsed as command lines.
 *
 * RFC 3501 §4.3, §7.5 (continuation), RFC 7888 §4-5 (LITERAL+/-),
 * RFC 3516 §4 / RFC 4466 §2.1 (literal8, also "~{n+}").
 */
#include "protocols/imap/parser_private.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "node/lib/util.h"

static const char *
default_text(enum imap_parser_errcode code)
{
	switch (code) {
	case IMAP_PERR_TAG:
		return "Invalid tag";
	case IMAP_PERR_LINE_TOO_LONG:
		return "Command line too long";
	case IMAP_PERR_TOO_DEEP:
		return "Too deeply nested";
	case IMAP_PERR_TOO_MANY_ARGS:
		return "Too many arguments";
	case IMAP_PERR_TOO_MANY_LITERALS:
		return "Too many literals";
	case IMAP_PERR_LITERAL_TOO_BIG:
		return "Literal too big";
	case IMAP_PERR_NOMEM:
		return "Command too large";
	case IMAP_PERR_SINK:
		return "Literal refused";
	case IMAP_PERR_LINE_MODE:
		return "Line refused";
	default:
		return "Syntax error";
	}
}

static void
set_error(struct imap_parser *p, enum imap_parser_errcode code, const char *text)
{
	p->err.code = code;
	p->err.text = text ? text : default_text(code);
	p->err.tag = p->tag_known ? p->tag : NULL;
	p->err.fatal = false;
	switch (code) {
	case IMAP_PERR_LITERAL_TOO_BIG:
		p->err.resp_code = "TOOBIG";
		break;
	case IMAP_PERR_LINE_TOO_LONG:
	case IMAP_PERR_TOO_DEEP:
	case IMAP_PERR_TOO_MANY_ARGS:
	case IMAP_PERR_TOO_MANY_LITERALS:
	case IMAP_PERR_NOMEM:
		p->err.resp_code = "LIMIT";
		break;
	default:
		p->err.resp_code = NULL;
	}
}

static int
fatal(struct imap_parser *p, enum imap_parser_errcode code, const char *text)
{
	set_error(p, code, text);
	p->err.fatal = true;
	p->state = IMAP_PS_FATAL;
	return IMAP_PARSE_ERROR;
}

int
imap__parser_fail(struct imap_parser *p, enum imap_parser_errcode code, const char *text)
{
	set_error(p, code, text);
	/* Carry a literal header in progress over to the discard scanner, so
	 * that "{n+}" still announces data it must skip. */
	p->dlit = IMAP_DLIT_NONE;
	p->dsize = p->lit_size;
	p->dnonsync = p->lit_nonsync;
	p->doverflow = p->lit_overflow;
	switch (p->state) {
	case IMAP_PS_LIT_OPEN:
		p->dsize = 0;
		p->dnonsync = p->doverflow = false;
		p->dlit = IMAP_DLIT_OPEN;
		break;
	case IMAP_PS_LIT_SIZE:
		p->dlit = IMAP_DLIT_DIGITS;
		break;
	case IMAP_PS_LIT_PLUS:
		p->dlit = IMAP_DLIT_PLUS;
		break;
	case IMAP_PS_LIT_CR:
		p->dlit = IMAP_DLIT_CLOSED;
		break;
	case IMAP_PS_LIT_LF:
		p->dlit = IMAP_DLIT_CR;
		break;
	default:
		break;
	}
	p->state = IMAP_PS_DISCARD;
	return IMAP_PARSE_ERROR;
}

int
imap__parser_failf(struct imap_parser *p, enum imap_parser_errcode code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err_buf, sizeof(p->err_buf), fmt, ap);
	va_end(ap);
	return imap__parser_fail(p, code, p->err_buf);
}

/* Skip a refused {n+} literal's data, or give up on the connection. */
static int
skip_or_close(struct imap_parser *p, bool overflow, uint64_t size)
{
	if (overflow || size > p->limits.literal_skip_max)
		return fatal(p, p->err.code, p->err.text);
	p->lit_left = size;
	p->state = size ? IMAP_PS_DISCARD_LIT : IMAP_PS_DISCARD;
	p->dlit = IMAP_DLIT_NONE;
	return IMAP_PARSE_ERROR;
}

int
imap__literal_refuse(struct imap_parser *p, enum imap_parser_errcode code, const char *text)
{
	set_error(p, code, text);
	if (p->lit_nonsync)
		return skip_or_close(p, p->lit_overflow, p->lit_size);
	/* no "+" will be sent: the LF just read ended the command */
	p->state = IMAP_PS_IDLE;
	return IMAP_PARSE_ERROR;
}

/* At "}": refuse early what no sink could take. The "{n+}" data that will
 * follow is known to be unskippable already. */
static int
header_refuse(struct imap_parser *p, enum imap_parser_errcode code, const char *text)
{
	if (p->lit_nonsync && (p->lit_overflow || p->lit_size > p->limits.literal_skip_max))
		return fatal(p, code, text);
	return imap__parser_fail(p, code, text); /* resync knows the "{n}" */
}

int
imap__literal_header_done(struct imap_parser *p)
{
	const struct imap_parser_limits *l = &p->limits;
	uint64_t max = p->is_append ? l->append_literal_max : l->literal_max;
	if (p->lit_overflow || p->lit_size > max) {
		snprintf(p->err_buf, sizeof(p->err_buf), "Literal too big (max %llu bytes)",
		         (unsigned long long)max);
		return header_refuse(p, IMAP_PERR_LITERAL_TOO_BIG, p->err_buf);
	}
	if (p->lit_nonsync && p->lit_size > l->nonsync_max) {
		snprintf(p->err_buf, sizeof(p->err_buf),
		         "Non-synchronizing literal too big (max %llu bytes)",
		         (unsigned long long)l->nonsync_max);
		return header_refuse(p, IMAP_PERR_LITERAL_TOO_BIG, p->err_buf);
	}
	if (p->lit_size > l->literal_total_max - MIN(p->cmd.literal_bytes, l->literal_total_max))
		return header_refuse(p, IMAP_PERR_LITERAL_TOO_BIG,
		                     "Literals too big for one command");
	if (p->cmd.literal_count >= l->literal_count_max)
		return header_refuse(p, IMAP_PERR_TOO_MANY_LITERALS, NULL);
	if (p->nodes >= l->argc_max)
		return header_refuse(p, IMAP_PERR_TOO_MANY_ARGS, NULL);
	return 0;
}

static int
literal_end(struct imap_parser *p)
{
	struct imap_arg *a = p->lit_node;
	p->state = IMAP_PS_AFTER_ARG;
	if (!p->lit_streamed) {
		p->lit_buf[p->lit_size] = '\0';
		a->str = (const char *)p->lit_buf;
		return 0;
	}
	const char *error = NULL;
	struct imap_literal_info info = {.cmd = &p->cmd,
	                                 .args = p->frames[0].head,
	                                 .list = p->depth > 0 ? p->frames[p->depth].head : NULL,
	                                 .size = p->lit_size,
	                                 .index = p->cmd.literal_count - 1,
	                                 .depth = p->depth,
	                                 .nonsync = p->lit_nonsync,
	                                 .literal8 = p->lit_literal8,
	                                 .must_stream = true};
	if (p->sink(p->sink_ctx, IMAP_LITERAL_END, &info, NULL, 0, &error) < 0)
		return imap__parser_fail(p, IMAP_PERR_SINK, error);
	return 0;
}

int
imap__literal_begin(struct imap_parser *p)
{
	struct imap_literal_info info = {.cmd = &p->cmd,
	                                 .args = p->frames[0].head,
	                                 .list = p->depth > 0 ? p->frames[p->depth].head : NULL,
	                                 .size = p->lit_size,
	                                 .index = p->cmd.literal_count,
	                                 .depth = p->depth,
	                                 .nonsync = p->lit_nonsync,
	                                 .literal8 = p->lit_literal8,
	                                 .must_stream = p->lit_size > p->limits.inline_max};
	int mode = IMAP_LITERAL_INLINE;
	if (p->sink != NULL) {
		const char *error = NULL;
		mode = p->sink(p->sink_ctx, IMAP_LITERAL_BEGIN, &info, NULL, 0, &error);
		if (mode < 0)
			return imap__literal_refuse(p, IMAP_PERR_SINK, error);
	}
	p->lit_streamed = mode == IMAP_LITERAL_STREAM;
	p->lit_buf = NULL;
	if (!p->lit_streamed) {
		if (info.must_stream)
			return imap__literal_refuse(p, IMAP_PERR_LITERAL_TOO_BIG, NULL);
		if ((p->lit_buf = arena_alloc(&p->arena, p->lit_size + 1)) == NULL)
			return imap__literal_refuse(p, IMAP_PERR_NOMEM, NULL);
	}
	struct imap_arg *a;
	enum imap_parser_errcode code = imap__arg_new(p, IMAP_ARG_LITERAL, &a);
	if (code != IMAP_PERR_NONE)
		return imap__literal_refuse(p, code, NULL);
	a->literal8 = p->lit_literal8;
	a->nonsync = p->lit_nonsync;
	a->streamed = p->lit_streamed;
	a->len = p->lit_size;
	p->lit_node = a;
	p->cmd.literal_count++;
	p->cmd.literal_bytes += p->lit_size;
	p->lit_left = p->lit_size;
	p->state = IMAP_PS_LIT_DATA;
	int rc = p->lit_size == 0 ? literal_end(p) : 0;
	if (rc != 0)
		return rc;
	return p->lit_nonsync ? 0 : IMAP_PARSE_CONTINUE;
}

int
imap__literal_data(struct imap_parser *p, struct nbuf *in)
{
	const unsigned char *s = nbuf_head(in);
	size_t n = (size_t)MIN((uint64_t)nbuf_avail(in), p->lit_left);
	/* CHAR8 excludes NUL: the bytes before it are taken as usual (so that
	 * the sink sees the same whatever the split), then the literal is
	 * void and its rest skipped */
	const unsigned char *nul = p->lit_literal8 ? NULL : memchr(s, 0, n);
	if (nul != NULL)
		n = (size_t)(nul - s);
	if (n > 0 && p->lit_streamed) {
		const char *error = NULL;
		struct imap_literal_info info = {.cmd = &p->cmd,
		                                 .args = p->frames[0].head,
		                                 .list = p->depth > 0 ? p->frames[p->depth].head
		                                                      : NULL,
		                                 .size = p->lit_size,
		                                 .index = p->cmd.literal_count - 1,
		                                 .depth = p->depth,
		                                 .nonsync = p->lit_nonsync,
		                                 .literal8 = p->lit_literal8,
		                                 .must_stream = true};
		int rc = p->sink(p->sink_ctx, IMAP_LITERAL_DATA, &info, s, n, &error);
		nbuf_consume(in, n);
		p->lit_left -= n;
		if (rc < 0) {
			imap__parser_fail(p, IMAP_PERR_SINK, error);
			if (p->lit_left > 0)
				p->state = IMAP_PS_DISCARD_LIT;
			return IMAP_PARSE_ERROR;
		}
	} else if (n > 0) {
		memcpy(p->lit_buf + (p->lit_size - p->lit_left), s, n);
		nbuf_consume(in, n);
		p->lit_left -= n;
	}
	if (nul != NULL) {
		imap__parser_fail(p, IMAP_PERR_SYNTAX, "NUL in literal (use literal8)");
		p->state = IMAP_PS_DISCARD_LIT;
		return IMAP_PARSE_ERROR;
	}
	return p->lit_left == 0 ? literal_end(p) : 0;
}

/* After "{n}" or "{n+}" and its line end in discarded input. */
static int
discard_line_end(struct imap_parser *p)
{
	if (p->dlit >= IMAP_DLIT_CLOSED && p->dnonsync) {
		if (p->doverflow || p->dsize > p->limits.literal_skip_max)
			return fatal(p, IMAP_PERR_LITERAL_TOO_BIG,
			             "Refused literal too big to skip");
		p->lit_left = p->dsize;
		p->state = p->dsize ? IMAP_PS_DISCARD_LIT : IMAP_PS_DISCARD;
		p->dlit = IMAP_DLIT_NONE;
		return 0;
	}
	p->state = IMAP_PS_IDLE;
	return 0;
}

/* Feed one discarded byte to the literal header scanner. */
static void
dlit_feed(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case '{':
		p->dlit = IMAP_DLIT_OPEN;
		p->dsize = 0;
		p->dnonsync = p->doverflow = false;
		return;
	case '+':
		p->dnonsync = p->dlit == IMAP_DLIT_DIGITS;
		p->dlit = p->dnonsync ? IMAP_DLIT_PLUS : IMAP_DLIT_NONE;
		return;
	case '}':
		p->dlit = p->dlit == IMAP_DLIT_DIGITS || p->dlit == IMAP_DLIT_PLUS
		                  ? IMAP_DLIT_CLOSED
		                  : IMAP_DLIT_NONE;
		return;
	case '\r':
		p->dlit = p->dlit == IMAP_DLIT_CLOSED ? IMAP_DLIT_CR : IMAP_DLIT_NONE;
		return;
	default:
		if (c >= '0' && c <= '9' &&
		    (p->dlit == IMAP_DLIT_OPEN || p->dlit == IMAP_DLIT_DIGITS)) {
			p->dlit = IMAP_DLIT_DIGITS;
			unsigned d = (unsigned)(c - '0');
			if (p->dsize > (UINT64_MAX - d) / 10)
				p->doverflow = true;
			else
				p->dsize = p->dsize * 10 + d;
			return;
		}
		p->dlit = IMAP_DLIT_NONE;
	}
}

int
imap__discard(struct imap_parser *p, struct nbuf *in)
{
	const unsigned char *s = nbuf_head(in);
	size_t n = nbuf_avail(in);
	if (p->state == IMAP_PS_DISCARD_LIT) {
		size_t k = (size_t)MIN((uint64_t)n, p->lit_left);
		nbuf_consume(in, k);
		p->lit_left -= k;
		if (p->lit_left == 0) {
			p->state = IMAP_PS_DISCARD;
			p->dlit = IMAP_DLIT_NONE;
		}
		return 0;
	}
	const unsigned char *lf = memchr(s, '\n', n);
	size_t upto = lf ? (size_t)(lf - s) : n;
	if (p->state == IMAP_PS_LINE_DISCARD) {
		nbuf_consume(in, lf ? upto + 1 : upto);
		if (lf)
			p->state = IMAP_PS_IDLE;
		return 0;
	}
	/* Only the bytes right before the LF matter for "{n+}", but the
	 * scanner must follow every byte: a header may span reads. */
	for (size_t i = 0; i < upto; i++)
		dlit_feed(p, s[i]);
	nbuf_consume(in, lf ? upto + 1 : upto);
	return lf ? discard_line_end(p) : 0;
}

int
imap_parser_read_line(struct imap_parser *p, struct nbuf *in, const char **line_r, size_t *len_r)
{
	*line_r = NULL;
	*len_r = 0;
	for (;;) {
		switch (p->state) {
		case IMAP_PS_FATAL:
			return IMAP_PARSE_ERROR;
		case IMAP_PS_IDLE:
			imap__parser_apply_limits(p);
			p->tag_known = false;
			nbuf_reset(&p->tok);
			p->tok.max = p->limits.line_max + 2;
			p->state = IMAP_PS_LINE;
			break;
		case IMAP_PS_LINE_DISCARD:
			if (nbuf_avail(in) == 0)
				return IMAP_PARSE_MORE;
			imap__discard(p, in);
			break;
		case IMAP_PS_LINE:
			break;
		default:
			panic("imap_parser_read_line() inside a command (state %d)", (int)p->state);
		}
		if (p->state == IMAP_PS_LINE)
			break;
	}
	const unsigned char *s = nbuf_head(in);
	size_t n = nbuf_avail(in);
	const unsigned char *lf = n ? memchr(s, '\n', n) : NULL;
	size_t upto = lf ? (size_t)(lf - s) : n;
	/* room for the line and the CR before its LF; the first offending
	 * byte decides the error, however the input was split */
	size_t have = nbuf_avail(&p->tok), max = p->limits.line_max + 1;
	size_t room = max - MIN(have, max);
	bool nul = memchr(s, 0, MIN(upto, room)) != NULL;
	if (nul || upto > room) {
		set_error(p, IMAP_PERR_LINE_MODE, nul ? "NUL in line" : "Line too long");
		p->state = IMAP_PS_LINE_DISCARD;
		return IMAP_PARSE_ERROR;
	}
	if (upto > 0 && nbuf_append(&p->tok, s, upto) != 0) {
		set_error(p, IMAP_PERR_LINE_MODE, "Line too long");
		p->state = IMAP_PS_LINE_DISCARD;
		return IMAP_PARSE_ERROR;
	}
	nbuf_consume(in, lf ? upto + 1 : upto);
	if (lf == NULL)
		return IMAP_PARSE_MORE;
	size_t len = nbuf_avail(&p->tok);
	if (len > 0 && nbuf_head(&p->tok)[len - 1] == '\r')
		len--;
	else if (len > p->limits.line_max) {
		set_error(p, IMAP_PERR_LINE_MODE, "Line too long");
		p->state = IMAP_PS_IDLE; /* the LF is consumed: nothing to discard */
		return IMAP_PARSE_ERROR;
	}
	if (nbuf_append(&p->tok, "", 1) != 0) {
		set_error(p, IMAP_PERR_LINE_MODE, "Line too long");
		p->state = IMAP_PS_IDLE;
		return IMAP_PARSE_ERROR;
	}
	nbuf_head(&p->tok)[len] = '\0';
	p->state = IMAP_PS_IDLE;
	*line_r = (const char *)nbuf_head(&p->tok);
	*len_r = len;
	return IMAP_PARSE_DONE;
}
