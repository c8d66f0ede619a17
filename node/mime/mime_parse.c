/*
 * mime_parse: one pass over a whole message that builds the part tree
 * (RFC 2045, RFC 2046 §5.1 multipart, §5.2.1 message/rfc822, RFC 6532
 * message/global).
 *
 * Happy path: read the root header; a multipart pushes its boundary on a
 * stack, a message/rfc822 part opens its encapsulated message right away.
 * Then every line is looked at once: a line "--boundary" of any open
 * multipart (innermost first) closes the parts open inside that multipart
 * at the line break before it (RFC 2046 §5.1.1: the CRLF belongs to the
 * delimiter) and opens the next body part; "--boundary--" closes the
 * multipart's list of parts (its epilogue stays in its body). When no
 * boundary is open the rest of the message belongs to the open parts.
 * Line counts come from a running count of line feeds, so no byte is read
 * twice and the work is O(n) whatever the nesting.
 *
 * Bad mail is never an error. A multipart without a usable boundary is
 * text/plain (RFC 2045 §5.2); one that never closes ends with its parent;
 * a header cut short by a delimiter line ends there; a part deeper than
 * max_depth, or a message/rfc822 with a base64 or quoted-printable
 * encoding, is an opaque application/octet-stream leaf; past max_parts,
 * delimiters still close parts but open none. Only LF ends a line (CRLF
 * and bare LF both work): XXX a bare CR is an ordinary byte, so a CR-only
 * message is one long header line, as in Dovecot.
 */
#include "node/mime/mime_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"

struct mime_bnd {
	struct mime_part *mp;   /* the multipart */
	struct mime_part *last; /* its last child, for appending */
	const char *b;
	size_t blen;
	unsigned depth; /* of mp */
	int skipping;   /* max_parts reached: open no more children */
};

struct mime_parser {
	const char *msg;
	size_t len;
	struct mime_limits lim;
	struct mime_message *m;
	struct mime__fctx fc;
	size_t pos;    /* start of the next line to look at */
	size_t lineno; /* line feeds before pos */
	struct mime_part *cur;
	struct mime_bnd stack[MIME_DEPTH_HARD_MAX];
	unsigned nstack;
};

struct mime_limits
mime_limits_default(void)
{
	struct mime_limits l = {
	        .max_depth = 32,
	        .max_parts = 2000,
	        .max_header_fields = 1000,
	        .max_header_line = 256 * 1024,
	        .max_params = 128,
	};
	return l;
}

/* Does the line (without its LF) delimit an open multipart? Returns the
 * stack index, or -1; *close_r tells "--boundary--". */
static int
mime_bnd_match(const struct mime_parser *ps, const char *line, size_t n, int *close_r)
{
	if (n < 2 || line[0] != '-' || line[1] != '-')
		return -1;
	for (unsigned k = ps->nstack; k-- > 0;) {
		const struct mime_bnd *b = &ps->stack[k];
		if (n < 2 + b->blen || memcmp(line + 2, b->b, b->blen) != 0)
			continue;
		size_t i = 2 + b->blen;
		if (i + 1 < n && line[i] == '-' && line[i + 1] == '-') {
			*close_r = 1; /* anything may follow a close delimiter */
			return (int)k;
		}
		while (i < n && (mime__is_wsp((unsigned char)line[i]) || line[i] == '\r'))
			i++;
		if (i == n) {
			*close_r = 0;
			return (int)k;
		}
	}
	return -1;
}

static struct mime_part *
mime_part_new(struct mime_parser *ps, struct mime_part *parent, int with_envelope)
{
	struct mime_part *p = mime__zalloc(&ps->m->arena, sizeof(*p));
	p->parent = parent;
	p->header.off = ps->pos;
	if (with_envelope)
		p->envelope = mime__zalloc(&ps->m->arena, sizeof(struct mime_envelope));
	ps->m->nparts++;
	return p;
}

/* Read the header at ps->pos into p; stop after the blank line, before a
 * delimiter line, or at the end. */
static void
mime_header_read(struct mime_parser *ps, struct mime_part *p)
{
	const char *msg = ps->msg;
	size_t pos = ps->pos, fstart = 0, fend = 0, hend = ps->len;
	unsigned nfields = 0;
	int infield = 0, close;
	struct mime_envelope *env = (struct mime_envelope *)p->envelope;
	for (;;) {
		size_t n = 0, next = ps->len;
		int blank = 0, stop = pos >= ps->len;
		if (!stop) {
			const char *nl = memchr(msg + pos, '\n', ps->len - pos);
			n = nl ? (size_t)(nl - (msg + pos)) : ps->len - pos;
			next = nl ? pos + n + 1 : ps->len;
			blank = n == 0 || (n == 1 && msg[pos] == '\r');
			stop = blank || mime_bnd_match(ps, msg + pos, n, &close) >= 0;
		}
		if (infield && (stop || !mime__is_wsp((unsigned char)msg[pos]))) {
			/* a field ends: [fstart, fend) */
			infield = 0;
			if (++nfields > ps->lim.max_header_fields) {
				ps->m->flags |= MIME_F_FIELD_LIMIT;
			} else if (fend - fstart > ps->lim.max_header_line) {
				ps->m->flags |= MIME_F_LINE_LIMIT;
			} else {
				const char *f = msg + fstart;
				const char *colon = memchr(f, ':', fend - fstart);
				size_t nlen = colon ? (size_t)(colon - f) : 0;
				while (nlen > 0 && mime__is_wsp((unsigned char)f[nlen - 1]))
					nlen--;
				if (nlen > 0)
					mime__part_field(&ps->fc, p, env, f, nlen, colon + 1,
					                 fend - (size_t)(colon + 1 - msg));
				else
					ps->m->flags |= MIME_F_BAD_HEADER;
			}
		}
		if (stop) {
			if (blank) {
				hend = next;
				ps->lineno += next > pos && msg[next - 1] == '\n';
			} else {
				hend = pos;
			}
			break;
		}
		if (!mime__is_wsp((unsigned char)msg[pos])) {
			/* a field starts; its name must be on its first line */
			infield = 1;
			fstart = pos;
			if (memchr(msg + pos, ':', n) == NULL) {
				infield = 0;
				nfields++;
				ps->m->flags |= MIME_F_BAD_HEADER;
			}
		}
		if (infield) /* the field so far, without its line break */
			fend = pos + n - (n > 0 && msg[pos + n - 1] == '\r');
		ps->lineno += next > pos && msg[next - 1] == '\n';
		pos = next;
	}
	p->header.len = hend - p->header.off;
	p->body.off = hend;
	ps->pos = hend;
}

static void
mime_part_downgrade(struct mime_part *p, unsigned *mflags, unsigned why)
{
	*mflags |= why;
	p->type = "application";
	p->subtype = "octet-stream";
}

static int
mime_encoding_is_identity(const char *e)
{
	return e == NULL || strcmp(e, "7bit") == 0 || strcmp(e, "8bit") == 0 ||
	       strcmp(e, "binary") == 0;
}

/* Read p's header and open its structure: push a multipart's boundary,
 * descend into an encapsulated message. p is at depth. */
static void
mime_part_open(struct mime_parser *ps, struct mime_part *p, unsigned depth)
{
	unsigned *mflags = &ps->m->flags;
	for (;;) {
		mime_header_read(ps, p);
		mime__part_defaults(p, p->parent);
		p->lines = ps->lineno; /* line feeds before the body, until closed */
		if (strcmp(p->type, "multipart") == 0) {
			const char *b = mime_param_get(p->params, p->nparams, "boundary");
			size_t blen = b ? strlen(b) : 0;
			if (blen == 0 || blen > MIME_BOUNDARY_MAX) {
				*mflags |= MIME_F_NO_BOUNDARY;
				p->type = "text";
				p->subtype = "plain";
				p->params = NULL;
				p->nparams = 0;
			} else if (depth >= ps->lim.max_depth) {
				mime_part_downgrade(p, mflags, MIME_F_DEPTH_LIMIT);
			} else {
				struct mime_bnd *s = &ps->stack[ps->nstack++];
				memset(s, 0, sizeof(*s));
				s->mp = p;
				s->b = b;
				s->blen = blen;
				s->depth = depth;
				p->flags |= MIME_PART_MULTIPART;
			}
		} else if (strcmp(p->type, "message") == 0 && (strcmp(p->subtype, "rfc822") == 0 ||
		                                               strcmp(p->subtype, "global") == 0)) {
			if (!mime_encoding_is_identity(p->encoding)) {
				mime_part_downgrade(p, mflags, 0);
			} else if (depth >= ps->lim.max_depth) {
				mime_part_downgrade(p, mflags, MIME_F_DEPTH_LIMIT);
			} else if (ps->m->nparts >= ps->lim.max_parts) {
				mime_part_downgrade(p, mflags, MIME_F_PART_LIMIT);
			} else {
				p->flags |= MIME_PART_MESSAGE;
				p->children = mime_part_new(ps, p, 1);
				p->nchildren = 1;
				p = p->children;
				depth++;
				continue;
			}
		}
		break;
	}
	ps->cur = p;
}

/* Close p at end, with lf line feeds before end. */
static void
mime_part_close(const struct mime_parser *ps, struct mime_part *p, size_t end, size_t lf)
{
	size_t lf0 = p->lines;
	if (end <= p->body.off) {
		p->body.len = 0;
		p->lines = 0;
		return;
	}
	p->body.len = end - p->body.off;
	p->lines = lf - lf0 + (ps->msg[end - 1] != '\n');
}

/* The line at ps->pos delimits stack[k]; next is the index after it. */
static void
mime_delimiter(struct mime_parser *ps, unsigned k, int close, size_t next)
{
	size_t end = ps->pos, lf = ps->lineno;
	if (end > 0 && ps->msg[end - 1] == '\n') {
		end--;
		lf--;
		if (end > 0 && ps->msg[end - 1] == '\r')
			end--;
	}
	if (end < ps->cur->body.off) {
		/* the line break ended a header (or a delimiter line just
		 * before): it stays there, so that parts nest */
		end = ps->cur->body.off;
		lf = ps->cur->lines;
	}
	struct mime_bnd *b = &ps->stack[k];
	while (ps->cur != b->mp) {
		mime_part_close(ps, ps->cur, end, lf);
		ps->cur = ps->cur->parent;
	}
	if (ps->nstack > k + 1)
		ps->m->flags |= MIME_F_UNTERMINATED;
	ps->nstack = close ? k : k + 1;
	ps->lineno += next > ps->pos && ps->msg[next - 1] == '\n';
	ps->pos = next;
	if (close || b->skipping)
		return;
	if (ps->m->nparts >= ps->lim.max_parts) {
		ps->m->flags |= MIME_F_PART_LIMIT;
		b->skipping = 1;
		return;
	}
	struct mime_part *c = mime_part_new(ps, b->mp, 0);
	if (b->last != NULL)
		b->last->next = c;
	else
		b->mp->children = c;
	b->last = c;
	b->mp->nchildren++;
	mime_part_open(ps, c, b->depth + 1);
}

static size_t
mime_count_lf(const char *p, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += p[i] == '\n';
	return c;
}

int
mime_parse(const char *msg, size_t len, const struct mime_limits *lim, struct mime_message **msg_r)
{
	if (len > MIME_MESSAGE_MAX)
		return -EFBIG;
	struct mime_parser *ps = xcalloc(1, sizeof(*ps));
	struct mime_message *m = xcalloc(1, sizeof(*m));
	arena_init(&m->arena, 0);
	m->size = len;
	ps->msg = len > 0 ? msg : "";
	ps->len = len;
	ps->lim = lim ? *lim : mime_limits_default();
	ps->lim.max_depth = MIN(ps->lim.max_depth, MIME_DEPTH_HARD_MAX);
	ps->lim.max_parts = MAX(1u, MIN(ps->lim.max_parts, MIME_PARTS_HARD_MAX));
	ps->m = m;
	ps->fc.a = &m->arena;
	ps->fc.lim = &ps->lim;
	ps->fc.flags = &m->flags;

	m->root = mime_part_new(ps, NULL, 1);
	mime_part_open(ps, m->root, 0);
	while (ps->pos < len && ps->nstack > 0) {
		const char *line = msg + ps->pos;
		const char *nl = memchr(line, '\n', len - ps->pos);
		size_t n = nl ? (size_t)(nl - line) : len - ps->pos;
		int close, k;
		if (n >= 2 && line[0] == '-' && line[1] == '-' &&
		    (k = mime_bnd_match(ps, line, n, &close)) >= 0) {
			mime_delimiter(ps, (unsigned)k, close, nl ? ps->pos + n + 1 : len);
			continue;
		}
		ps->pos = nl ? ps->pos + n + 1 : len;
		ps->lineno += nl != NULL;
	}
	if (ps->nstack > 0)
		m->flags |= MIME_F_UNTERMINATED;
	size_t lf = ps->lineno + mime_count_lf(ps->msg + ps->pos, len - ps->pos);
	for (struct mime_part *p = ps->cur; p != NULL; p = p->parent)
		mime_part_close(ps, p, len, lf);
	free(ps);
	*msg_r = m;
	return 0;
}

void
mime_message_free(struct mime_message **m)
{
	if (*m == NULL)
		return;
	arena_deinit(&(*m)->arena);
	free(*m);
	*m = NULL;
}
