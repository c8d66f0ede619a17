/*
 * search_text: the keys that read the message (RFC 3501 §6.4.4 BCC, CC,
 * FROM, TO, SUBJECT, HEADER, SENTBEFORE/SENTON/SENTSINCE, BODY, TEXT).
 *
 * Happy path: the header range comes from the cached tree, or from a scan
 * for the blank line (a header key needs no MIME parse); a field's value
 * is unfolded and RFC 2047 decoded to UTF-8 (mime_header_decode) and fed
 * to the folding matcher. BODY walks the decoded text of the text parts
 * (mime_text_walk: transfer encoding undone, charset converted to UTF-8);
 * TEXT first walks the decoded header lines. The matcher keeps the last
 * nlen-1 folded bytes of a chunk, so a match across chunks of one part
 * is found, never one across two parts. A tree is parsed only when a
 * body key runs and none was cached.
 *
 * Memory: one fixed scratch buffer per evaluation, mime's fixed text
 * buffers, and a header field's decoded value; nothing grows with the
 * message body. Failure: -1 when the bytes are needed but missing, or
 * shorter than the cached tree says.
 *
 * XXX RFC 3501 §6.4.4: FROM, TO, CC, BCC and SUBJECT match the decoded
 * header fields (display names and addresses as written), not the parsed
 * ENVELOPE; an empty string matches when the field exists (as HEADER's
 * does). A Date: that cannot be parsed matches no SENT* key.
 */
#include "protocols/imap/search_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"

void
imap__search_run_init(struct imap__search_run *r, const struct imap_search_msg *m)
{
	memset(r, 0, sizeof(*r));
	r->m = m;
}

void
imap__search_run_deinit(struct imap__search_run *r)
{
	mime_message_free(&r->owned);
	free(r->scratch);
	r->scratch = NULL;
}

/* The header as mime_header_iter reads it: up to and including the
 * first empty line ("\n" or "\r\n"), or the whole message. */
static struct mime_range
search_header_scan(const char *msg, size_t len)
{
	struct mime_range r = {0, len};
	size_t pos = 0;
	while (pos < len) {
		if (msg[pos] == '\n') {
			r.len = pos + 1;
			break;
		}
		if (msg[pos] == '\r' && pos + 1 < len && msg[pos + 1] == '\n') {
			r.len = pos + 2;
			break;
		}
		const char *nl = memchr(msg + pos, '\n', len - pos);
		if (nl == NULL)
			break;
		pos = (size_t)(nl - msg) + 1;
	}
	return r;
}

static int
search_load_header(struct imap__search_run *r)
{
	const struct imap_search_msg *m = r->m;
	if (r->have_header)
		return 0;
	if (m->bytes == NULL)
		return -1;
	if (m->tree != NULL) {
		if (m->tree->size > m->len)
			return -1;
		r->header = m->tree->root->header;
	} else if (r->owned != NULL) {
		r->header = r->owned->root->header;
	} else {
		r->header = search_header_scan(m->bytes, m->len);
	}
	r->have_header = 1;
	return 0;
}

static int
search_load_tree(struct imap__search_run *r)
{
	const struct imap_search_msg *m = r->m;
	if (r->tree != NULL)
		return 0;
	if (m->bytes == NULL)
		return -1;
	if (m->tree != NULL) {
		if (m->tree->size > m->len)
			return -1;
		r->tree = m->tree;
		return 0;
	}
	if (mime_parse(m->bytes, m->len, NULL, &r->owned) != 0)
		return -1;
	r->tree = r->owned;
	return 0;
}

static void
search_matcher(struct imap__search_run *r, const struct imap__search_node *n,
               struct imap__matcher *mt)
{
	if (r->scratch == NULL)
		r->scratch = xmalloc(IMAP__SEARCH_SCRATCH);
	imap__matcher_init(mt, n->needle, n->nlen, r->scratch, IMAP__SEARCH_SCRATCH);
}

int
imap__search_header(struct imap__search_run *r, const struct imap__search_node *n)
{
	struct mime_header_iter it;
	struct mime_header_field f;
	struct imap__matcher mt;
	int found = 0;
	if (search_load_header(r) != 0)
		return -1;
	mime_header_iter_init(&it, r->m->bytes, &r->header);
	while (!found && mime_header_iter_next(&it, &f) == 1) {
		if (!mime_header_field_is(&f, n->str))
			continue;
		if (n->nlen == 0)
			return 1;
		struct nbuf v;
		/* an encoded word's charset can triple a byte; 4x is room */
		nbuf_init(&v, 4 * f.value_len + 16);
		if (mime_header_decode(f.value, f.value_len, &v) == 0) {
			search_matcher(r, n, &mt);
			found = imap__matcher_feed(&mt, (const char *)nbuf_head(&v),
			                           nbuf_avail(&v));
		}
		nbuf_deinit(&v);
	}
	return found;
}

int
imap__search_sent(struct imap__search_run *r, const struct imap__search_node *n)
{
	struct nbuf v;
	time_t t;
	int tz, rc;
	if (search_load_header(r) != 0)
		return -1;
	nbuf_init(&v, 1024);
	rc = mime_header_get(r->m->bytes, &r->header, "Date", 0, &v);
	if (rc == 1)
		rc = mime_date_parse((const char *)nbuf_head(&v), nbuf_avail(&v), &t, &tz) == 0;
	else
		rc = 0; /* absent, or longer than any date */
	nbuf_deinit(&v);
	if (!rc)
		return 0;
	/* the date as the sender wrote it: their calendar day */
	int64_t day = imap__search_day_of((int64_t)t + (int64_t)tz * 60);
	return n->cmp < 0 ? day < n->day : n->cmp == 0 ? day == n->day : day >= n->day;
}

static int
search_text_cb(void *ctx, const struct mime_part *part, const char *text, size_t len)
{
	struct imap__matcher *mt = ctx;
	if (part != mt->part) {
		imap__matcher_reset(mt);
		mt->part = part;
	}
	return imap__matcher_feed(mt, text, len);
}

int
imap__search_text(struct imap__search_run *r, const struct imap__search_node *n)
{
	struct imap__matcher mt;
	int rc;
	if (search_load_tree(r) != 0)
		return -1;
	search_matcher(r, n, &mt);
	if (n->op == SEARCH_OP_TEXT) {
		rc = mime_header_text(r->m->bytes, &r->tree->root->header, search_text_cb, &mt);
		if (rc != 0)
			return rc > 0 ? 1 : -1;
		imap__matcher_reset(&mt);
		mt.part = NULL;
	}
	rc = mime_text_walk(r->tree, r->m->bytes, r->m->len, search_text_cb, &mt);
	return rc > 0 ? 1 : rc < 0 ? -1 : 0;
}
