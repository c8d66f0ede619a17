/*
 * fetch_body: the body section items of FETCH, BODY[section]<partial>,
 * BODY.PEEK[...], RFC822, RFC822.HEADER, RFC822.TEXT (RFC 3501 §6.4.5
 * and §7.4.2; RFC 9051 §6.4.5 and §7.5.2).
 *
 * Happy path: the section's content is a sequence of pieces — ranges of
 * the message, and a few bytes of text for HEADER.FIELDS (the CRLF after
 * a last field cut off by the end of the message, and the blank line). A
 * first walk over the pieces gives their length; the partial window
 * <offset.size> is cut from it; a second walk emits what lies inside the
 * window as segments after "{n}\r\n". The message's bytes are never
 * copied: a 30 MB BODY[] is one range, and matching HEADER.FIELDS lines
 * are ranges too (adjacent ones merge into one).
 *
 * Edges (RFC 3501 §6.4.5): a window starting beyond the end is the empty
 * string; one reaching beyond is truncated; the response names the origin
 * ("BODY[]<0>") whenever a partial was asked. A section naming no part
 * (BODY[9] of a two-part message, 1.HEADER of a part that is not a
 * message) is the empty string as well. A range of the cached tree that
 * lies outside the bytes means tree and file disagree: -1.
 */
#include "protocols/imap/fetch_int.h"

#include "node/lib/util.h"

/* The partial window over a section's pieces. */
struct fetch_win {
	uint64_t start, end; /* window, in section offsets */
	uint64_t pos;        /* section offset of the next piece */
	struct imap_fetch_out *o;
	int emit; /* 0: only measure */
	int rc;
};

/* The part of [pos, pos+len) inside the window, as [*a, *b) relative to
 * the piece; 0 when empty. Advances pos. */
static int
fetch_win_cut(struct fetch_win *w, size_t len, size_t *a, size_t *b)
{
	uint64_t lo = MAX(w->pos, w->start), hi = MIN(w->pos + len, w->end);
	uint64_t pos = w->pos;
	w->pos += len;
	if (!w->emit || lo >= hi)
		return 0;
	*a = (size_t)(lo - pos);
	*b = (size_t)(hi - pos);
	return 1;
}

static void
fetch_win_range(struct fetch_win *w, size_t off, size_t len)
{
	size_t a, b;
	if (fetch_win_cut(w, len, &a, &b) && w->rc == 0)
		w->rc = imap__fetch_range(w->o, off + a, b - a);
}

static void
fetch_win_text(struct fetch_win *w, const char *s, size_t len)
{
	size_t a, b;
	if (fetch_win_cut(w, len, &a, &b) && w->rc == 0)
		w->rc = imap__fetch_text(w->o, s + a, b - a);
}

/* The fields of a header range that HEADER.FIELDS[.NOT] keeps, as
 * mime_header_fields_write() writes them. */
static void
fetch_fields_walk(const struct imap__fetch_item *it, const char *msg, const struct mime_range *r,
                  struct fetch_win *w)
{
	struct mime_header_iter hi;
	struct mime_header_field f;
	int not = it->sec == FETCH_SEC_FIELDS_NOT;
	mime_header_iter_init(&hi, msg, r);
	while (mime_header_iter_next(&hi, &f) == 1) {
		int match = 0;
		for (size_t i = 0; i < it->nfields && !match; i++)
			match = mime_header_field_is(&f, it->fields[i]);
		if (match == not )
			continue;
		fetch_win_range(w, (size_t)(f.raw - msg), f.raw_len);
		if (f.raw[f.raw_len - 1] != '\n')
			fetch_win_text(w, "\r\n", 2);
	}
	fetch_win_text(w, "\r\n", 2);
}

static void
fetch_pieces(const struct imap__fetch_item *it, const struct imap_fetch_msg *msg,
             const struct mime_range *r, struct fetch_win *w)
{
	if (it->sec == FETCH_SEC_FIELDS || it->sec == FETCH_SEC_FIELDS_NOT)
		fetch_fields_walk(it, msg->bytes, r, w);
	else
		fetch_win_range(w, r->off, r->len);
}

int
imap__fetch_section(const struct imap__fetch_item *it, const struct imap_fetch_msg *msg,
                    const struct mime_message *tree, struct imap_fetch_out *o)
{
	struct mime_range r = {0, msg->len};
	int found = 1;
	if (msg->bytes == NULL)
		return -1;
	if (it->sec != FETCH_SEC_ALL) {
		if (tree == NULL)
			return -1;
		/* the parser checked the syntax: -1 cannot happen, 0 is "no
		 * such part" */
		found = mime_section_find(tree, it->spec, it->spec_len, &r) == 1;
		if (found && (r.off > msg->len || r.len > msg->len - r.off))
			return -1;
	}
	struct fetch_win w = {.start = 0, .end = UINT64_MAX, .o = o};
	if (found)
		fetch_pieces(it, msg, &r, &w);
	uint64_t total = w.pos;
	w.start = it->partial ? MIN(it->off, total) : 0;
	w.end = it->partial ? MIN(it->off + MIN(it->size, UINT64_MAX - it->off), total) : total;
	if (imap__fetch_text(o, it->name, it->name_len) != 0)
		return -1;
	if (it->partial && imap__fetch_printf(o, "<%llu>", (unsigned long long)it->off) != 0)
		return -1;
	if (w.end == w.start)
		return imap__fetch_puts(o, " \"\"");
	if (imap__fetch_printf(o, " {%llu}\r\n", (unsigned long long)(w.end - w.start)) != 0)
		return -1;
	w.pos = 0;
	w.emit = 1;
	fetch_pieces(it, msg, &r, &w);
	return w.rc;
}
