/*
 * fetch_out: a FETCH response as segments (see fetch.h): text the engine
 * wrote, and ranges of the message file the session sends as they are.
 *
 * Happy path: writers append to out->text; a range first closes the text
 * written since the previous segment into a text segment, and extends the
 * previous range when it continues it (adjacent HEADER.FIELDS lines become
 * one range). While the message is built, a text segment holds its offset
 * in out->text (the buffer may move as it grows); imap__fetch_finish()
 * turns offsets into pointers once nothing more is written.
 *
 * Failure modes: out->text is bounded (IMAP_FETCH_TEXT_MAX) and the
 * segment array lives in the caller's arena, which may have a limit:
 * either refusal is -1, and the message cannot be answered.
 *
 * Strings (RFC 3501 §4.3, RFC 9051 §4.3): quoted when short and made of
 * TEXT-CHARs (8-bit too once UTF8=ACCEPT is enabled, RFC 6855 §3), else
 * a literal "{n}\r\n" followed by the bytes.
 */
#include "protocols/imap/fetch_int.h"

#include <stdarg.h>
#include <string.h>

#include "node/lib/util.h"

/* Marks a text segment while it still holds an offset. */
static const char fetch_pending[1];

void
imap_fetch_out_init(struct imap_fetch_out *o, struct arena *a)
{
	o->segs = NULL;
	o->nsegs = o->cap = 0;
	nbuf_init(&o->text, IMAP_FETCH_TEXT_MAX);
	o->a = a;
}

void
imap_fetch_out_reset(struct imap_fetch_out *o)
{
	o->nsegs = 0;
	nbuf_reset(&o->text);
}

void
imap_fetch_out_deinit(struct imap_fetch_out *o)
{
	nbuf_deinit(&o->text);
	o->segs = NULL;
	o->nsegs = o->cap = 0;
}

static struct imap_fetch_seg *
fetch_seg_push(struct imap_fetch_out *o)
{
	if (o->nsegs == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 16;
		struct imap_fetch_seg *s = arena_alloc(o->a, cap * sizeof(*s));
		if (s == NULL)
			return NULL;
		if (o->nsegs > 0)
			memcpy(s, o->segs, o->nsegs * sizeof(*s));
		o->segs = s;
		o->cap = cap;
	}
	struct imap_fetch_seg *g = &o->segs[o->nsegs++];
	memset(g, 0, sizeof(*g));
	return g;
}

/* Close the text written since the last text segment into one. */
static int
fetch_flush_text(struct imap_fetch_out *o)
{
	size_t start = 0, end = nbuf_avail(&o->text);
	for (size_t i = o->nsegs; i-- > 0;) {
		if (o->segs[i].text != NULL) {
			start = o->segs[i].off + o->segs[i].len;
			break;
		}
	}
	if (end == start)
		return 0;
	if (o->nsegs > 0 && o->segs[o->nsegs - 1].text != NULL) {
		o->segs[o->nsegs - 1].len += end - start;
		return 0;
	}
	struct imap_fetch_seg *s = fetch_seg_push(o);
	if (s == NULL)
		return -1;
	s->text = fetch_pending;
	s->off = start;
	s->len = end - start;
	return 0;
}

int
imap__fetch_text(struct imap_fetch_out *o, const char *s, size_t n)
{
	return nbuf_append(&o->text, s, n) == 0 ? 0 : -1;
}

int
imap__fetch_puts(struct imap_fetch_out *o, const char *s)
{
	return imap__fetch_text(o, s, strlen(s));
}

int
imap__fetch_printf(struct imap_fetch_out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = nbuf_vprintf(&o->text, fmt, ap);
	va_end(ap);
	return rc == 0 ? 0 : -1;
}

int
imap__fetch_range(struct imap_fetch_out *o, size_t off, size_t len)
{
	if (len == 0)
		return 0;
	if (fetch_flush_text(o) != 0)
		return -1;
	if (o->nsegs > 0) {
		struct imap_fetch_seg *last = &o->segs[o->nsegs - 1];
		if (last->text == NULL && last->cte == MIME_CTE_IDENTITY &&
		    last->off + last->len == off) {
			last->len += len;
			return 0;
		}
	}
	struct imap_fetch_seg *s = fetch_seg_push(o);
	if (s == NULL)
		return -1;
	s->text = NULL;
	s->off = off;
	s->len = len;
	return 0;
}

int
imap__fetch_decoded(struct imap_fetch_out *o, size_t off, size_t len, enum mime_cte cte,
                    uint64_t skip, uint64_t dlen)
{
	if (dlen == 0)
		return 0;
	if (fetch_flush_text(o) != 0)
		return -1;
	struct imap_fetch_seg *s = fetch_seg_push(o);
	if (s == NULL)
		return -1;
	s->off = off;
	s->len = len;
	s->cte = cte;
	s->skip = skip;
	s->dlen = dlen;
	return 0;
}

int
imap__fetch_finish(struct imap_fetch_out *o)
{
	if (fetch_flush_text(o) != 0)
		return -1;
	const char *base = (const char *)nbuf_head(&o->text);
	for (size_t i = 0; i < o->nsegs; i++) {
		if (o->segs[i].text != NULL) {
			o->segs[i].text = base + o->segs[i].off;
			o->segs[i].off = 0;
		}
	}
	return 0;
}

static int
fetch_quotable(const char *s, size_t n, int utf8)
{
	if (n > IMAP_FETCH_QUOTED_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0 || c == '\r' || c == '\n' || (c >= 0x80 && !utf8))
			return 0;
	}
	return 1;
}

int
imap__fetch_string(struct imap_fetch_out *o, const char *s, size_t n, int utf8)
{
	if (!fetch_quotable(s, n, utf8)) {
		if (imap__fetch_printf(o, "{%zu}\r\n", n) != 0)
			return -1;
		return imap__fetch_text(o, s, n);
	}
	if (imap__fetch_text(o, "\"", 1) != 0)
		return -1;
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '"' && s[i] != '\\')
			continue;
		if (imap__fetch_text(o, s + run, i - run) != 0 || imap__fetch_text(o, "\\", 1) != 0)
			return -1;
		run = i;
	}
	if (imap__fetch_text(o, s + run, n - run) != 0)
		return -1;
	return imap__fetch_text(o, "\"", 1);
}
