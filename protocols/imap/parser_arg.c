/*
 * imap parser: the argument tree and its accessors. See parser.h.
 *
 * Happy path: while a list is open its nodes are a linked list in its
 * frame; when it closes they are copied into one array with an
 * IMAP_ARG_EOL sentinel, so the command layer indexes args[i] and stops at
 * EOL. Frames are a stack bounded by depth_max: nesting never recurses on
 * the C stack.
 *
 * Failure modes: argc_max and the arena limit, reported to the caller as
 * error codes (the parser turns them into BAD [LIMIT] and resyncs).
 *
 * RFC 3501 §4 / RFC 9051 §4 (atom, number, string, list, NIL); the
 * accessors follow the ABNF names astring, nstring, string.
 */
#include "protocols/imap/parser_private.h"

#include <string.h>

#include "node/lib/util.h"

enum imap_parser_errcode
imap__arg_new(struct imap_parser *p, enum imap_arg_type type, struct imap_arg **arg_r)
{
	struct imap_parser_frame *f = &p->frames[p->depth];
	if (p->nodes >= p->limits.argc_max)
		return IMAP_PERR_TOO_MANY_ARGS;
	struct imap_arg *a = arena_zalloc(&p->arena, sizeof(*a));
	if (a == NULL)
		return IMAP_PERR_NOMEM;
	a->type = type;
	if (f->tail)
		f->tail->next = a;
	else
		f->head = a;
	f->tail = a;
	f->count++;
	p->nodes++;
	*arg_r = a;
	return IMAP_PERR_NONE;
}

int
imap__frame_push(struct imap_parser *p, struct imap_arg *owner, char close)
{
	if (p->depth >= p->limits.depth_max)
		return imap__parser_failf(p, IMAP_PERR_TOO_DEEP, "Too deeply nested (max %u)",
		                          p->limits.depth_max);
	struct imap_parser_frame *f = &p->frames[++p->depth];
	memset(f, 0, sizeof(*f));
	f->owner = owner;
	f->close = close;
	if (close == ']')
		p->in_section++;
	p->state = IMAP_PS_ARG_START;
	return 0;
}

static struct imap_arg *
frame_array(struct imap_parser *p, struct imap_parser_frame *f)
{
	struct imap_arg *arr = arena_alloc(&p->arena, (f->count + 1) * sizeof(*arr));
	if (arr == NULL)
		return NULL;
	size_t i = 0;
	for (struct imap_arg *a = f->head; a != NULL; a = a->next, i++) {
		arr[i] = *a;
		arr[i].next = NULL;
	}
	memset(&arr[i], 0, sizeof(arr[i])); /* IMAP_ARG_EOL */
	return arr;
}

int
imap__frame_pop(struct imap_parser *p)
{
	struct imap_parser_frame *f = &p->frames[p->depth];
	struct imap_arg *arr = frame_array(p, f);
	if (arr == NULL)
		return imap__parser_fail(p, IMAP_PERR_NOMEM, NULL);
	f->owner->list = arr;
	f->owner->count = f->count;
	if (f->close == ']')
		p->in_section--;
	p->depth--;
	return 0;
}

int
imap__args_finish(struct imap_parser *p)
{
	struct imap_arg *arr = frame_array(p, &p->frames[0]);
	if (arr == NULL)
		return imap__parser_fail(p, IMAP_PERR_NOMEM, NULL);
	p->cmd.args = arr;
	p->cmd.argc = p->frames[0].count;
	return 0;
}

bool
imap_arg_get_atom(const struct imap_arg *arg, const char **str_r)
{
	if ((arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_NIL) || arg->section)
		return false;
	*str_r = arg->str;
	return true;
}

bool
imap_arg_atom_equals(const struct imap_arg *arg, const char *s)
{
	const char *a;
	return imap_arg_get_atom(arg, &a) && ascii_strcasecmp(a, s) == 0;
}

bool
imap_arg_get_string(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (arg->type != IMAP_ARG_QUOTED && (arg->type != IMAP_ARG_LITERAL || arg->streamed))
		return false;
	*str_r = arg->str;
	*len_r = arg->len;
	return true;
}

bool
imap_arg_get_astring(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (imap_arg_get_atom(arg, str_r)) {
		*len_r = arg->len;
		return true;
	}
	return imap_arg_get_string(arg, str_r, len_r);
}

bool
imap_arg_get_nstring(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	if (arg->type == IMAP_ARG_NIL) {
		*str_r = NULL;
		*len_r = 0;
		return true;
	}
	return imap_arg_get_string(arg, str_r, len_r);
}

bool
imap_arg_get_list(const struct imap_arg *arg, const struct imap_arg **list_r, size_t *count_r)
{
	if (arg->type != IMAP_ARG_LIST)
		return false;
	*list_r = arg->list;
	*count_r = arg->count;
	return true;
}

bool
imap_arg_get_number(const struct imap_arg *arg, uint64_t max, uint64_t *v_r)
{
	const char *s;
	if (!imap_arg_get_atom(arg, &s))
		return false;
	for (size_t i = 0; i < arg->len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return parse_u64n(s, arg->len, max, v_r) == 0;
}

static int
format_quoted(const char *s, size_t len, struct nbuf *out)
{
	int rc = nbuf_append(out, "\"", 1);
	for (size_t i = 0; rc == 0 && i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			rc = nbuf_append(out, "\\", 1);
		if (rc == 0)
			rc = nbuf_append(out, &s[i], 1);
	}
	return rc ? rc : nbuf_append(out, "\"", 1);
}

static int format_args(const struct imap_arg *args, unsigned flags, struct nbuf *out,
                       unsigned depth);

static int
format_one(const struct imap_arg *a, unsigned flags, struct nbuf *out, unsigned depth)
{
	int rc = 0;
	switch (a->type) {
	case IMAP_ARG_NIL:
	case IMAP_ARG_ATOM:
		rc = nbuf_append(out, a->str, a->len);
		if (rc == 0 && a->section) {
			rc = nbuf_append(out, "[", 1);
			if (rc == 0)
				rc = format_args(a->list, flags, out, depth + 1);
			if (rc == 0)
				rc = nbuf_append(out, "]", 1);
			if (rc == 0 && a->has_partial)
				rc = nbuf_printf(out, "<%llu.%llu>",
				                 (unsigned long long)a->partial_offset,
				                 (unsigned long long)a->partial_size);
		}
		return rc;
	case IMAP_ARG_QUOTED:
		return format_quoted(a->str, a->len, out);
	case IMAP_ARG_LITERAL:
		rc = nbuf_printf(out, "%s{%zu%s}", a->literal8 ? "~" : "", a->len,
		                 a->nonsync ? "+" : "");
		if (rc == 0 && (flags & IMAP_ARGS_FORMAT_LITERALS) && !a->streamed)
			rc = nbuf_append(out, a->str, a->len);
		return rc;
	case IMAP_ARG_LIST:
		rc = nbuf_append(out, "(", 1);
		if (rc == 0)
			rc = format_args(a->list, flags, out, depth + 1);
		return rc ? rc : nbuf_append(out, ")", 1);
	default:
		return 0;
	}
}

/* Recursion is bounded: parsed trees are at most IMAP_DEPTH_HARD_MAX deep,
 * and a deeper hand-made one is cut off rather than followed. */
static int
format_args(const struct imap_arg *args, unsigned flags, struct nbuf *out, unsigned depth)
{
	if (depth > IMAP_DEPTH_HARD_MAX)
		return nbuf_append(out, "...", 3);
	for (size_t i = 0; args[i].type != IMAP_ARG_EOL; i++) {
		int rc = i ? nbuf_append(out, " ", 1) : 0;
		if (rc == 0)
			rc = format_one(&args[i], flags, out, depth);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int
imap_args_format(const struct imap_arg *args, unsigned flags, struct nbuf *out)
{
	return format_args(args, flags, out, 0);
}
