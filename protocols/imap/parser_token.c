/*
 * imap parser: the token states (tag, command name, atoms, quoted strings,
 * lists, BODY[...] sections, literal headers, end of line). See parser.h.
 *
 * Happy path: "A1 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From)])\r\n"
 * arrives in any number of pieces; every state remembers where it stopped,
 * bare tokens and quoted strings are scanned in runs and kept in p->tok
 * until complete, then copied into the arena as nodes of the argument tree.
 * Literal headers are checked by parser_literal.c.
 *
 * Failure modes: every byte of the line is counted against line_max as it
 * is consumed (a line without CRLF is refused once it passes the limit),
 * nesting against depth_max at each "(" or "[", nodes against argc_max.
 * Errors never consume the offending byte: the resync (parser_literal.c)
 * then sees every CR/LF and literal header of the rest of the line.
 *
 * RFC 3501 §9 / RFC 9051 §9: tag, atom, quoted, list, fetch-att sections.
 * XXX RFC 3501 §9: tolerated deviations, as other servers do: several SP
 * between arguments, a SP before the CRLF, a bare LF as line end, 8-bit
 * bytes inside quoted strings (RFC 9051 UTF-8). Empty lines are ignored.
 * XXX RFC 3501 §9: "[" opens a section only after BODY, BODY.PEEK, BINARY,
 * BINARY.PEEK or BINARY.SIZE inside FETCH and NOTIFY, so that mailbox names
 * such as [Gmail]/Spam stay atoms elsewhere; literals inside "[...]" are
 * refused (no client sends them).
 */
#include "protocols/imap/parser_private.h"

#include <string.h>

#include "node/lib/util.h"

/* Move a run of n token bytes from in to the token. Past line_max, the
 * bytes that fit are taken first, so that the resync starts at the same
 * byte however the input was split. */
static int
tok_run(struct imap_parser *p, struct nbuf *in, size_t n)
{
	size_t room = p->limits.line_max - p->line_bytes;
	size_t k = MIN(n, room);
	if (k > 0 && (imap__tok_add(p, nbuf_head(in), k) != 0 || imap__line_take(p, in, k) != 0))
		return IMAP_PARSE_ERROR;
	return k < n ? imap__line_take(p, in, n - k) : 0;
}

static const char *
tok_str(struct imap_parser *p, size_t *len_r)
{
	*len_r = nbuf_avail(&p->tok);
	return *len_r ? (const char *)nbuf_head(&p->tok) : "";
}

static int
st_tag(struct imap_parser *p, struct nbuf *in)
{
	const unsigned char *s = nbuf_head(in);
	size_t n = nbuf_avail(in), i = 0, have = nbuf_avail(&p->tok);
	/* tag = 1*<any ASTRING-CHAR except "+"> */
	while (i < n && imap__tok_char(s[i]) && s[i] != '+' && s[i] != '%' && s[i] != '*' &&
	       s[i] != '\\')
		i++;
	size_t k = MIN(i, p->limits.tag_max - have);
	if (k > 0 && tok_run(p, in, k) != 0)
		return IMAP_PARSE_ERROR;
	if (k < i)
		return imap__parser_failf(p, IMAP_PERR_TAG, "Tag too long (max %zu)",
		                          p->limits.tag_max);
	if (i == n)
		return 0;
	have += i;
	s = nbuf_head(in);
	if (have == 0 && (s[0] == '\r' || s[0] == '\n')) {
		/* an empty line */
		nbuf_consume(in, 1);
		p->line_bytes = 0;
		if (s[0] == '\r')
			p->state = IMAP_PS_BLANK_CR;
		return 0;
	}
	if (have == 0 || (s[0] != ' ' && s[0] != '\r' && s[0] != '\n'))
		return imap__parser_fail(p, IMAP_PERR_TAG, "Invalid tag");
	memcpy(p->tag, nbuf_head(&p->tok), have);
	p->tag[have] = '\0';
	p->tag_known = true;
	nbuf_reset(&p->tok);
	if (s[0] != ' ')
		return imap__parser_fail(p, IMAP_PERR_SYNTAX, "Missing command");
	p->state = IMAP_PS_NAME;
	return imap__line_take(p, in, 1);
}

static bool
name_is(const char *name, size_t len, const char *s)
{
	return strlen(s) == len && memcmp(name, s, len) == 0;
}

static int
st_name(struct imap_parser *p, struct nbuf *in)
{
	const unsigned char *s = nbuf_head(in);
	size_t n = nbuf_avail(in), i = 0, have = nbuf_avail(&p->tok);
	while (i < n && imap__tok_char(s[i]) && s[i] != '%' && s[i] != '*' && s[i] != '\\' &&
	       s[i] != ']')
		i++;
	size_t k = MIN(i, IMAP_NAME_MAX - have);
	if (k > 0 && tok_run(p, in, k) != 0)
		return IMAP_PARSE_ERROR;
	if (k < i)
		return imap__parser_fail(p, IMAP_PERR_SYNTAX, "Unknown command");
	if (i == n)
		return 0;
	have += i;
	s = nbuf_head(in);
	if (have == 0) {
		if (s[0] == ' ')
			return imap__line_take(p, in, 1);
		return imap__parser_fail(p, IMAP_PERR_SYNTAX, "Missing command");
	}
	if (s[0] != ' ' && s[0] != '\r' && s[0] != '\n')
		return imap__parser_fail(p, IMAP_PERR_SYNTAX, "Invalid characters in command name");
	char *name = arena_strndup(&p->arena, (const char *)nbuf_head(&p->tok), have);
	if (name == NULL)
		return imap__parser_fail(p, IMAP_PERR_NOMEM, NULL);
	for (char *c = name; *c; c++)
		*c = (char)ascii_toupper((unsigned char)*c);
	nbuf_reset(&p->tok);
	if (!p->cmd.uid && name_is(name, have, "UID")) {
		p->cmd.uid = true;
		return 0; /* the command follows, after this byte */
	}
	p->cmd.name = name;
	p->section_ok = name_is(name, have, "FETCH") || name_is(name, have, "NOTIFY");
	/* APPEND's and REPLACE's (RFC 8508) message literal: the sink decides. */
	p->is_append =
	        (!p->cmd.uid && name_is(name, have, "APPEND")) || name_is(name, have, "REPLACE");
	p->state = IMAP_PS_AFTER_ARG;
	return 0;
}

/* A fetch-att whose "[" opens a section (RFC 3501 §9, RFC 3516 §4). */
static bool
is_section_name(const char *s, size_t len)
{
	static const char *const names[] = {"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK",
	                                    "BINARY.SIZE"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strlen(names[i]) == len && ascii_strncasecmp(s, names[i], len) == 0)
			return true;
	return false;
}

static int
atom_finish(struct imap_parser *p)
{
	size_t len;
	const char *s = tok_str(p, &len);
	bool nil = len == 3 && ascii_strncasecmp(s, "NIL", 3) == 0;
	struct imap_arg *a;
	enum imap_parser_errcode code = imap__arg_new(p, nil ? IMAP_ARG_NIL : IMAP_ARG_ATOM, &a);
	if (code != IMAP_PERR_NONE)
		return imap__parser_fail(p, code, NULL);
	if ((a->str = arena_strndup(&p->arena, s, len)) == NULL)
		return imap__parser_fail(p, IMAP_PERR_NOMEM, NULL);
	a->len = len;
	nbuf_reset(&p->tok);
	p->state = IMAP_PS_AFTER_ARG;
	return 0;
}

static int
section_open(struct imap_parser *p, struct nbuf *in)
{
	size_t len;
	const char *s = tok_str(p, &len);
	struct imap_arg *a;
	enum imap_parser_errcode code = imap__arg_new(p, IMAP_ARG_ATOM, &a);
	if (code != IMAP_PERR_NONE)
		return imap__parser_fail(p, code, NULL);
	if ((a->str = arena_strndup(&p->arena, s, len)) == NULL)
		return imap__parser_fail(p, IMAP_PERR_NOMEM, NULL);
	a->len = len;
	a->section = true;
	nbuf_reset(&p->tok);
	if (imap__frame_push(p, a, ']') != 0 || imap__line_take(p, in, 1) != 0)
		return IMAP_PARSE_ERROR;
	p->state = IMAP_PS_ARG_START;
	return 0;
}

static int
st_atom(struct imap_parser *p, struct nbuf *in)
{
	const unsigned char *s = nbuf_head(in);
	size_t n = nbuf_avail(in), i = 0;
	bool close_sq = p->in_section > 0;
	while (i < n && imap__tok_char(s[i]) && !(s[i] == ']' && close_sq) &&
	       !(s[i] == '[' && p->section_ok))
		i++;
	if (i > 0) {
		if (tok_run(p, in, i) != 0)
			return IMAP_PARSE_ERROR;
		if (i == n)
			return 0;
		s = nbuf_head(in);
	}
	unsigned char c = s[0];
	if (c == '[') {
		size_t len;
		const char *t = tok_str(p, &len);
		if (is_section_name(t, len)) {
			if (p->in_section > 0)
				return imap__parser_fail(p, IMAP_PERR_SYNTAX, "Nested section");
			return section_open(p, in);
		}
		if (imap__tok_add(p, "[", 1) != 0)
			return IMAP_PARSE_ERROR;
		return imap__line_take(p, in, 1);
	}
	if (c == ' ' || c == ')' || c == ']' || c == '\r' || c == '\n')
		return atom_finish(p);
	return imap__parser_fail(p, IMAP_PERR_SYNTAX, "Invalid characters in atom");
}

static int
st_quoted(struct imap_parser *p, struct nbuf *in)
{
	const unsigned char *s = nbuf_head(in);
	size_t n = nbuf_avail(in), i = 0;
	while (i < n && s[i] != '"' && s[i] != '\\' && s[i] != '\r' && s[i] != '\n' && s[i] != 0)
		i++;
	if (i > 0) {
		if (tok_run(p, in, i) != 0)
			return IMAP_PARSE_ERROR;
		if (i == n)
			return 0;
		s = nbuf_head(in);
	}
	if (s[0] == '\\') {
		p->state = IMAP_PS_QUOTED_ESC;
		return imap__line_take(p, in, 1);
	}
	if (s[0] != '"')
		return imap__parser_fail(p, IMAP_PERR_SYNTAX, "CR, LF or NUL in quoted string");
	size_t len;
	const char *t = tok_str(p, &len);
	struct imap_arg *a;
	enum imap_parser_errcode code = imap__arg_new(p, IMAP_ARG_QUOTED, &a);
	if (code != IMAP_PERR_NONE)
		return imap__parser_fail(p, code, NULL);
	if ((a->str = arena_strndup(&p->arena, t, len)) == NULL)
		return imap__parser_fail(p, IMAP_PERR_NOMEM, NULL);
	a->len = len;
	nbuf_reset(&p->tok);
	p->state = IMAP_PS_AFTER_ARG;
	return imap__line_take(p, in, 1);
}

static int
st_partial(struct imap_parser *p, struct nbuf *in)
{
	unsigned char c = nbuf_head(in)[0];
	if (c != '>') {
		if ((c < '0' || c > '9') && c != '.')
			return imap__parser_fail(p, IMAP_PERR_SYNTAX, "Invalid partial range");
		if (nbuf_avail(&p->tok) >= 41)
			return imap__parser_fail(p, IMAP_PERR_SYNTAX, "Partial range too long");
		if (imap__tok_add(p, &c, 1) != 0)
			return IMAP_PARSE_ERROR;
		return imap__line_take(p, in, 1);
	}
	/* "<" number "." nz-number ">" */
	size_t len;
	const char *t = tok_str(p, &len);
	const char *dot = memchr(t, '.', len);
	struct imap_arg *a = p->frames[p->depth].tail;
	if (dot == NULL || parse_u64n(t, (size_t)(dot - t), UINT64_MAX, &a->partial_offset) != 0 ||
	    parse_u64n(dot + 1, len - (size_t)(dot - t) - 1, UINT64_MAX, &a->partial_size) != 0 ||
	    a->partial_size == 0)
		return imap__parser_fail(p, IMAP_PERR_SYNTAX, "Invalid partial range");
	a->has_partial = true;
	nbuf_reset(&p->tok);
	p->state = IMAP_PS_AFTER_ARG;
	return imap__line_take(p, in, 1);
}

/* LF at the end of the command (or CR LF). */
static int
end_of_line(struct imap_parser *p, struct nbuf *in, struct imap_cmd **cmd_r)
{
	if (p->depth > 0)
		return imap__parser_fail(p, IMAP_PERR_SYNTAX,
		                         p->frames[p->depth].close == ')' ? "Missing ')'"
		                                                          : "Missing ']'");
	if (imap__args_finish(p) != 0 || imap__line_take(p, in, 1) != 0)
		return IMAP_PARSE_ERROR;
	p->cmd.line_bytes = p->line_bytes;
	p->state = IMAP_PS_IDLE;
	*cmd_r = &p->cmd;
	return IMAP_PARSE_DONE;
}

/* SP, ")", "]" or end of line; at ARG_START also the start of an argument. */
static int
st_between(struct imap_parser *p, struct nbuf *in, struct imap_cmd **cmd_r)
{
	unsigned char c = nbuf_head(in)[0];
	bool start = p->state == IMAP_PS_ARG_START;
	char close = p->frames[p->depth].close;
	switch (c) {
	case ' ':
		p->state = IMAP_PS_ARG_START;
		return imap__line_take(p, in, 1);
	case '\r':
		p->state = IMAP_PS_EOL_LF;
		return imap__line_take(p, in, 1);
	case '\n':
		return end_of_line(p, in, cmd_r);
	case ')':
	case ']':
		if (c == ']' && start && p->in_section == 0)
			break; /* an astring may start with "]" */
		if (close != c)
			return imap__parser_fail(p, IMAP_PERR_SYNTAX,
			                         c == ')' ? "Unexpected ')'" : "Unexpected ']'");
		if (imap__frame_pop(p) != 0)
			return IMAP_PARSE_ERROR;
		p->state = c == ']' ? IMAP_PS_SECTION_END : IMAP_PS_AFTER_ARG;
		return imap__line_take(p, in, 1);
	default:
		break;
	}
	if (!start)
		return imap__parser_fail(p, IMAP_PERR_SYNTAX, "Missing space between arguments");
	struct imap_arg *a;
	enum imap_parser_errcode code;
	switch (c) {
	case '(':
		if ((code = imap__arg_new(p, IMAP_ARG_LIST, &a)) != IMAP_PERR_NONE)
			return imap__parser_fail(p, code, NULL);
		if (imap__frame_push(p, a, ')') != 0)
			return IMAP_PARSE_ERROR;
		return imap__line_take(p, in, 1);
	case '"':
		nbuf_reset(&p->tok);
		p->state = IMAP_PS_QUOTED;
		return imap__line_take(p, in, 1);
	case '{':
	case '~':
		if (c == '{' && p->in_section > 0)
			return imap__parser_fail(p, IMAP_PERR_SYNTAX, "Literal inside a section");
		p->lit_literal8 = p->lit_nonsync = p->lit_overflow = false;
		p->lit_size = 0;
		p->state = c == '{' ? IMAP_PS_LIT_OPEN : IMAP_PS_TILDE;
		return imap__line_take(p, in, 1);
	default:
		if (!imap__tok_char(c))
			return imap__parser_fail(p, IMAP_PERR_SYNTAX, "Invalid character");
		nbuf_reset(&p->tok);
		p->state = IMAP_PS_ATOM;
		return 0;
	}
}

/* One step of the token states; 0 to go on, else the result to return. */
static int
st_token(struct imap_parser *p, struct nbuf *in)
{
	unsigned char c = nbuf_head(in)[0];
	switch (p->state) {
	case IMAP_PS_BLANK_CR:
		if (c != '\n')
			return imap__parser_fail(p, IMAP_PERR_TAG, "CR without LF");
		nbuf_consume(in, 1);
		p->line_bytes = 0;
		p->state = IMAP_PS_TAG;
		return 0;
	case IMAP_PS_TILDE:
		if (c == '{') {
			if (p->in_section > 0)
				return imap__parser_fail(p, IMAP_PERR_SYNTAX,
				                         "Literal inside a section");
			p->lit_literal8 = true;
			p->state = IMAP_PS_LIT_OPEN;
			return imap__line_take(p, in, 1);
		}
		nbuf_reset(&p->tok);
		p->state = IMAP_PS_ATOM;
		return imap__tok_add(p, "~", 1);
	case IMAP_PS_QUOTED_ESC:
		if (c != '"' && c != '\\')
			return imap__parser_fail(p, IMAP_PERR_SYNTAX,
			                         "Invalid escape in quoted string");
		p->state = IMAP_PS_QUOTED;
		if (imap__tok_add(p, &c, 1) != 0)
			return IMAP_PARSE_ERROR;
		return imap__line_take(p, in, 1);
	case IMAP_PS_LIT_OPEN:
	case IMAP_PS_LIT_SIZE:
		if (c >= '0' && c <= '9') {
			p->state = IMAP_PS_LIT_SIZE;
			unsigned d = (unsigned)(c - '0');
			if (p->lit_size > (UINT64_MAX - d) / 10)
				p->lit_overflow = true;
			else
				p->lit_size = p->lit_size * 10 + d;
			return imap__line_take(p, in, 1);
		}
		if (p->state == IMAP_PS_LIT_SIZE && c == '+') {
			p->lit_nonsync = true;
			p->state = IMAP_PS_LIT_PLUS;
			return imap__line_take(p, in, 1);
		}
		/* fall through */
	case IMAP_PS_LIT_PLUS:
		if (c != '}' || p->state == IMAP_PS_LIT_OPEN)
			return imap__parser_fail(p, IMAP_PERR_SYNTAX, "Invalid literal size");
		if (imap__line_take(p, in, 1) != 0)
			return IMAP_PARSE_ERROR;
		p->state = IMAP_PS_LIT_CR;
		return imap__literal_header_done(p);
	case IMAP_PS_LIT_CR:
		if (c == '\r') {
			p->state = IMAP_PS_LIT_LF;
			return imap__line_take(p, in, 1);
		}
		/* fall through */
	case IMAP_PS_LIT_LF:
		if (c != '\n')
			return imap__parser_fail(p, IMAP_PERR_SYNTAX, "Missing CRLF after literal");
		if (imap__line_take(p, in, 1) != 0)
			return IMAP_PARSE_ERROR;
		return imap__literal_begin(p);
	case IMAP_PS_SECTION_END:
		if (c != '<') {
			p->state = IMAP_PS_AFTER_ARG;
			return 0;
		}
		nbuf_reset(&p->tok);
		p->state = IMAP_PS_PARTIAL;
		return imap__line_take(p, in, 1);
	default:
		panic("imap parser: bad state %d", (int)p->state);
	}
}

int
imap__token_step(struct imap_parser *p, struct nbuf *in, struct imap_cmd **cmd_r)
{
	switch (p->state) {
	case IMAP_PS_TAG:
		return st_tag(p, in);
	case IMAP_PS_NAME:
		return st_name(p, in);
	case IMAP_PS_ARG_START:
	case IMAP_PS_AFTER_ARG:
		return st_between(p, in, cmd_r);
	case IMAP_PS_ATOM:
		return st_atom(p, in);
	case IMAP_PS_QUOTED:
		return st_quoted(p, in);
	case IMAP_PS_PARTIAL:
		return st_partial(p, in);
	case IMAP_PS_EOL_LF:
		if (nbuf_head(in)[0] != '\n')
			return imap__parser_fail(p, IMAP_PERR_SYNTAX, "CR without LF");
		return end_of_line(p, in, cmd_r);
	default:
		return st_token(p, in);
	}
}
