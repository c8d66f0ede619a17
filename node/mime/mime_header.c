/*
 * mime_header: reading header fields out of a header range (RFC 5322 §2.2,
 * §3.6), for SEARCH HEADER, SORT, FETCH BODY[HEADER.FIELDS (...)] and the
 * parser's own field values.
 *
 * Happy path: a field is a line "Name: value" plus the continuation lines
 * that start with a blank; its value is everything after the colon, and
 * unfolding removes the line breaks (§2.2.3) and trims the ends.
 *
 * Bad input: lines without a colon and continuation lines with no field
 * before them are skipped; blanks before the colon are allowed (obs-
 * optional, §4.5); bare LF ends a line like CRLF does; NUL bytes in values
 * come out as 0x80 so that C strings and IMAP strings stay whole.
 * HEADER.FIELDS (RFC 3501 §6.4.5) copies the matching fields byte for byte
 * and ends with the empty line, adding a CRLF to a last field cut off by
 * the end of the message.
 */
#include "node/mime/mime_int.h"

#include <errno.h>
#include <string.h>

#include "node/lib/util.h"

void
mime_header_iter_init(struct mime_header_iter *it, const char *msg, const struct mime_range *header)
{
	it->msg = msg;
	it->pos = header->off;
	it->end = header->off + header->len;
}

/* Index after the line at pos (after its LF, or end). */
static size_t
mime_line_next(const char *msg, size_t pos, size_t end)
{
	const char *nl = memchr(msg + pos, '\n', end - pos);
	return nl ? (size_t)(nl - msg) + 1 : end;
}

int
mime_header_iter_next(struct mime_header_iter *it, struct mime_header_field *f_r)
{
	const char *msg = it->msg;
	while (it->pos < it->end) {
		size_t start = it->pos, next = mime_line_next(msg, start, it->end);
		char c = msg[start];
		if (c == '\n' || (c == '\r' && start + 1 < it->end && msg[start + 1] == '\n')) {
			it->pos = it->end; /* the blank line ends the header */
			return 0;
		}
		size_t fend = next;
		while (fend < it->end && mime__is_wsp((unsigned char)msg[fend]))
			fend = mime_line_next(msg, fend, it->end);
		it->pos = fend;
		if (mime__is_wsp((unsigned char)c))
			continue;
		const char *colon = memchr(msg + start, ':', next - start);
		if (colon == NULL)
			continue;
		size_t nlen = (size_t)(colon - (msg + start));
		while (nlen > 0 && mime__is_wsp((unsigned char)msg[start + nlen - 1]))
			nlen--;
		if (nlen == 0)
			continue;
		size_t vend = fend;
		if (vend > start && msg[vend - 1] == '\n')
			vend--;
		if (vend > start && msg[vend - 1] == '\r')
			vend--;
		f_r->name = msg + start;
		f_r->name_len = nlen;
		f_r->value = colon + 1;
		f_r->value_len = vend - (size_t)(colon + 1 - msg);
		f_r->raw = msg + start;
		f_r->raw_len = fend - start;
		return 1;
	}
	return 0;
}

int
mime_header_field_is(const struct mime_header_field *f, const char *name)
{
	size_t n = strlen(name);
	return n == f->name_len && ascii_strncasecmp(f->name, name, n) == 0;
}

/* Unfold v[0..n) into out (at least n bytes); returns the length. */
static size_t
mime_unfold(const char *v, size_t n, char *out)
{
	size_t s = 0, e = n, o = 0;
	while (s < e && mime__is_lwsp((unsigned char)v[s]))
		s++;
	while (e > s && mime__is_lwsp((unsigned char)v[e - 1]))
		e--;
	for (size_t i = s; i < e; i++) {
		char c = v[i];
		if (c == '\n' || (c == '\r' && i + 1 < e && v[i + 1] == '\n'))
			continue;
		out[o++] = c ? c : (char)0x80;
	}
	return o;
}

int
mime_header_unfold(const char *v, size_t len, struct nbuf *out)
{
	char *o = (char *)nbuf_reserve(out, len ? len : 1);
	if (o == NULL)
		return -ENOBUFS;
	nbuf_commit(out, mime_unfold(v, len, o));
	return 0;
}

char *
mime__unfold_dup(struct arena *a, const char *v, size_t n)
{
	char *p = mime__zalloc(a, n + 1);
	p[mime_unfold(v, n, p)] = '\0';
	return p;
}

int
mime_header_get(const char *msg, const struct mime_range *header, const char *name, unsigned nth,
                struct nbuf *out)
{
	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, msg, header);
	while (mime_header_iter_next(&it, &f) == 1) {
		if (!mime_header_field_is(&f, name) || nth-- > 0)
			continue;
		int rc = mime_header_unfold(f.value, f.value_len, out);
		return rc < 0 ? rc : 1;
	}
	return 0;
}

int
mime_header_fields_write(const char *msg, const struct mime_range *header,
                         const char *const *fields, size_t n, int not, struct nbuf *out)
{
	struct mime_header_iter it;
	struct mime_header_field f;
	int rc;
	mime_header_iter_init(&it, msg, header);
	while (mime_header_iter_next(&it, &f) == 1) {
		int match = 0;
		for (size_t i = 0; i < n && !match; i++)
			match = mime_header_field_is(&f, fields[i]);
		if (match == !!not )
			continue;
		if ((rc = nbuf_append(out, f.raw, f.raw_len)) != 0)
			return rc;
		if (f.raw[f.raw_len - 1] != '\n' && (rc = nbuf_append(out, "\r\n", 2)) != 0)
			return rc;
	}
	return nbuf_append(out, "\r\n", 2);
}
