/*
 * mime_text: decoded UTF-8 text of a message for SEARCH TEXT, BODY,
 * HEADER (RFC 3501 §6.4.4) and for PREVIEW.
 *
 * Happy path: for each text part, the Content-Transfer-Encoding decoder
 * (mime_cte) fills a 64 KiB buffer from the mmapped body, the charset
 * converter (mime_charset) turns it into UTF-8, and the output is handed
 * to the caller in chunks of at most MIME_TEXT_CHUNK bytes that end on
 * character boundaries. Two fixed buffers are all the memory used, so a
 * 100 MB part costs what a 1 KB one does. A character cut by the decode
 * buffer's end is carried to the next round.
 *
 * Bad input: decoding and conversion never fail (see mime_cte and
 * mime_charset); a tree that does not match the buffer (len shorter than
 * the tree's size) is -EINVAL. The callback's non-zero return stops the
 * walk and is returned as is.
 */
#include "node/mime/mime_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"

/* Bytes of an unfinished character carried between decode rounds. */
#define MIME_TEXT_CARRY 16

struct mime_text_out {
	char *buf;
	size_t n;
	mime_text_cb cb;
	void *ctx;
	const struct mime_part *part;
	int stop; /* the callback's non-zero return */
};

static int
mime_text_flush(struct mime_text_out *o)
{
	if (o->n == 0)
		return 0;
	int rc = o->cb(o->ctx, o->part, o->buf, o->n);
	o->n = 0;
	if (rc != 0) {
		o->stop = rc;
		return -1;
	}
	return 0;
}

/* mime__sink_fn: pieces of at most 4 KiB ending on character boundaries. */
static int
mime_text_sink(void *ctx, const char *p, size_t n)
{
	struct mime_text_out *o = ctx;
	if (o->n + n > MIME_TEXT_CHUNK && mime_text_flush(o) < 0)
		return -1;
	memcpy(o->buf + o->n, p, n);
	o->n += n;
	return 0;
}

/* Feed bytes that are UTF-8 already, cut at character starts. */
static int
mime_text_emit(struct mime_text_out *o, const char *p, size_t n)
{
	while (n > 0) {
		size_t k = MIN(n, (size_t)4096);
		if (k < n) {
			while (k > 1 && ((unsigned char)p[k] & 0xc0) == 0x80)
				k--;
		}
		if (mime_text_sink(o, p, k) < 0)
			return -1;
		p += k;
		n -= k;
	}
	return 0;
}

static int
mime_text_result(struct mime_text_out *o, long rc)
{
	if (rc >= 0 && mime_text_flush(o) == 0)
		return 0;
	return o->stop ? o->stop : (int)rc;
}

int
mime_part_text(const struct mime_part *p, const char *msg, size_t len, mime_text_cb cb, void *ctx)
{
	if (p->body.off > len || p->body.len > len - p->body.off || (msg == NULL && len > 0))
		return -EINVAL;
	struct mime_text_out o = {.cb = cb, .ctx = ctx, .part = p};
	struct mime__cte d;
	struct mime__conv conv;
	const char *cs = mime_part_charset(p);
	unsigned char *dbuf = xmalloc(MIME_TEXT_CHUNK + MIME_TEXT_CARRY);
	o.buf = xmalloc(MIME_TEXT_CHUNK);
	mime__cte_init(&d, p->encoding, (msg ? msg : "") + p->body.off, p->body.len);
	mime__conv_open(&conv, cs ? cs : "", cs ? strlen(cs) : 0);
	size_t keep = 0;
	long rc = 0;
	for (;;) {
		size_t n = mime__cte_next(&d, dbuf + keep, MIME_TEXT_CHUNK);
		int final = n == 0;
		size_t total = keep + n;
		rc = mime__conv_run(&conv, (const char *)dbuf, total, final, mime_text_sink, &o);
		if (rc < 0 || final)
			break;
		keep = total - (size_t)rc;
		if (keep > MIME_TEXT_CARRY) {
			/* no charset has such a character: let it be replaced */
			rc = mime__conv_run(&conv, (const char *)dbuf + rc, keep, 1, mime_text_sink,
			                    &o);
			if (rc < 0)
				break;
			keep = 0;
		}
		memmove(dbuf, dbuf + total - keep, keep);
	}
	mime__conv_close(&conv);
	int ret = mime_text_result(&o, rc);
	free(o.buf);
	free(dbuf);
	return ret;
}

int
mime_text_walk(const struct mime_message *m, const char *msg, size_t len, mime_text_cb cb,
               void *ctx)
{
	if (len < m->size)
		return -EINVAL;
	const struct mime_part *p = m->root;
	while (p != NULL) {
		if (p->children == NULL && strcmp(p->type, "text") == 0) {
			int rc = mime_part_text(p, msg, len, cb, ctx);
			if (rc != 0)
				return rc;
		}
		if (p->children != NULL) {
			p = p->children;
			continue;
		}
		while (p != NULL && p->next == NULL)
			p = p->parent;
		if (p != NULL)
			p = p->next;
	}
	return 0;
}

int
mime_header_text(const char *msg, const struct mime_range *header, mime_text_cb cb, void *ctx)
{
	struct mime_header_iter it;
	struct mime_header_field f;
	struct mime_text_out o = {.cb = cb, .ctx = ctx};
	struct nbuf line;
	long rc = 0;
	o.buf = xmalloc(MIME_TEXT_CHUNK);
	mime_header_iter_init(&it, msg, header);
	while (rc == 0 && mime_header_iter_next(&it, &f) == 1) {
		nbuf_init(&line, 3 * f.name_len + 4 * f.value_len + 16);
		if ((rc = mime__conv_nbuf("utf-8", 5, f.name, f.name_len, &line)) == 0 &&
		    (rc = nbuf_append(&line, ": ", 2)) == 0 &&
		    (rc = mime_header_decode(f.value, f.value_len, &line)) == 0 &&
		    (rc = nbuf_append(&line, "\n", 1)) == 0)
			rc = mime_text_emit(&o, mime__nbuf_str(&line), nbuf_avail(&line));
		nbuf_deinit(&line);
	}
	int ret = mime_text_result(&o, rc);
	free(o.buf);
	return ret;
}
