/*
 * imap parser: lifecycle, limits and the main loop. See parser.h.
 *
 * Happy path: imap_parser_next() starts a command at its first byte
 * (resetting the per-command arena), then hands each state to its file:
 * token states to parser_token.c, literal data and resync to
 * parser_literal.c, until a command is complete, a continuation is due,
 * an error is found, or the input is used up.
 *
 * Failure modes: none of its own; limits are clamped to the hard ceilings,
 * and a caller mixing up the raw line mode with commands is a panic (our
 * own broken invariant, not bad input).
 */
#include "protocols/imap/parser_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"

void
imap_parser_limits_init(struct imap_parser_limits *l, bool authenticated)
{
	memset(l, 0, sizeof(*l));
	l->tag_max = 64;
	if (!authenticated) {
		l->line_max = 8192;
		l->depth_max = 8;
		l->argc_max = 64;
		l->literal_count_max = 4;
		l->literal_max = 8192;
		l->append_literal_max = 8192;
		l->literal_total_max = 16384;
		l->nonsync_max = 4096; /* LITERAL- (RFC 7888 §5) */
		l->literal_skip_max = 65536;
		l->inline_max = 8192;
		l->arena_max = 128 * 1024;
		return;
	}
	l->line_max = 64 * 1024;
	l->depth_max = 32;
	l->argc_max = 10000;
	l->literal_count_max = 1000;
	l->literal_max = 1024 * 1024;
	l->append_literal_max = 64 * 1024 * 1024;
	l->literal_total_max = 256 * 1024 * 1024;
	l->nonsync_max = UINT64_MAX; /* LITERAL+: the other limits decide */
	l->literal_skip_max = 1024 * 1024;
	l->inline_max = 256 * 1024;
	l->arena_max = 4 * 1024 * 1024;
}

void
imap_parser_set_limits(struct imap_parser *p, const struct imap_parser_limits *limits)
{
	p->pending = *limits;
	if (p->pending.tag_max > IMAP_TAG_HARD_MAX)
		p->pending.tag_max = IMAP_TAG_HARD_MAX;
	if (p->pending.depth_max > IMAP_DEPTH_HARD_MAX)
		p->pending.depth_max = IMAP_DEPTH_HARD_MAX;
	/* mid-command, a lower line_max would be below what was read */
	p->limits_pending = true;
	if (p->state == IMAP_PS_IDLE)
		imap__parser_apply_limits(p);
}

void
imap__parser_apply_limits(struct imap_parser *p)
{
	if (!p->limits_pending)
		return;
	p->limits = p->pending;
	p->limits_pending = false;
	p->arena.limit = p->limits.arena_max;
}

void
imap_parser_init(struct imap_parser *p, const struct imap_parser_limits *limits)
{
	struct imap_parser_limits def;
	memset(p, 0, sizeof(*p));
	if (limits == NULL) {
		imap_parser_limits_init(&def, true);
		limits = &def;
	}
	p->state = IMAP_PS_IDLE;
	imap_parser_set_limits(p, limits);
	arena_init(&p->arena, p->limits.arena_max);
	nbuf_init(&p->tok, p->limits.line_max + 2);
}

void
imap_parser_deinit(struct imap_parser *p)
{
	arena_deinit(&p->arena);
	nbuf_deinit(&p->tok);
	free(p->frames);
	p->frames = NULL;
	p->frames_cap = 0;
}

void
imap_parser_set_sink(struct imap_parser *p, imap_literal_cb *cb, void *ctx)
{
	p->sink = cb;
	p->sink_ctx = ctx;
}

void
imap_parser_reset(struct imap_parser *p)
{
	arena_reset(&p->arena);
	nbuf_deinit(&p->tok);
	memset(&p->cmd, 0, sizeof(p->cmd));
	memset(&p->err, 0, sizeof(p->err));
	p->state = IMAP_PS_IDLE;
	imap__parser_apply_limits(p);
}

const struct imap_parser_error *
imap_parser_error(const struct imap_parser *p)
{
	return &p->err;
}

bool
imap_parser_in_command(const struct imap_parser *p)
{
	return p->state != IMAP_PS_IDLE;
}

struct arena *
imap_parser_arena(struct imap_parser *p)
{
	return &p->arena;
}

int
imap__line_take(struct imap_parser *p, struct nbuf *in, size_t n)
{
	if (n > p->limits.line_max - p->line_bytes)
		return imap__parser_failf(p, IMAP_PERR_LINE_TOO_LONG,
		                          "Command line too long (max %zu bytes)",
		                          p->limits.line_max);
	p->line_bytes += n;
	nbuf_consume(in, n);
	return 0;
}

int
imap__tok_add(struct imap_parser *p, const void *data, size_t n)
{
	if (nbuf_append(&p->tok, data, n) != 0)
		return imap__parser_fail(p, IMAP_PERR_NOMEM, NULL);
	return 0;
}

/* A new command starts at this byte: forget the previous one. */
static void
cmd_begin(struct imap_parser *p)
{
	imap__parser_apply_limits(p);
	arena_reset(&p->arena);
	p->arena.limit = p->limits.arena_max;
	if (p->tok.cap > 4 * p->limits.line_max || p->tok.cap > 1024 * 1024)
		nbuf_deinit(&p->tok);
	nbuf_reset(&p->tok);
	p->tok.max = p->limits.line_max + 2;
	if (p->frames_cap < p->limits.depth_max + 1) {
		p->frames = xrealloc(p->frames, (p->limits.depth_max + 1) * sizeof(*p->frames));
		p->frames_cap = p->limits.depth_max + 1;
	}
	memset(&p->frames[0], 0, sizeof(p->frames[0]));
	memset(&p->cmd, 0, sizeof(p->cmd));
	p->cmd.tag = p->tag;
	p->tag[0] = '\0';
	p->tag_known = p->section_ok = p->is_append = false;
	p->line_bytes = p->nodes = 0;
	p->depth = p->in_section = 0;
	p->state = IMAP_PS_TAG;
}

int
imap_parser_next(struct imap_parser *p, struct nbuf *in, struct imap_cmd **cmd_r)
{
	*cmd_r = NULL;
	if (p->state == IMAP_PS_LINE)
		panic("imap_parser_next() while a raw line is being read");
	for (;;) {
		if (p->state == IMAP_PS_FATAL)
			return IMAP_PARSE_ERROR;
		if (nbuf_avail(in) == 0)
			return IMAP_PARSE_MORE;
		int rc;
		switch (p->state) {
		case IMAP_PS_IDLE:
			cmd_begin(p);
			rc = 0;
			break;
		case IMAP_PS_LIT_DATA:
			rc = imap__literal_data(p, in);
			break;
		case IMAP_PS_DISCARD:
		case IMAP_PS_DISCARD_LIT:
		case IMAP_PS_LINE_DISCARD:
			rc = imap__discard(p, in);
			break;
		default:
			rc = imap__token_step(p, in, cmd_r);
			break;
		}
		if (rc != 0)
			return rc;
	}
}
