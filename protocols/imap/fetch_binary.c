/*
 * fetch_binary: the BINARY items of FETCH (RFC 3516 §4.1, §4.2; RFC 9051
 * §6.4.5, §7.5.2): BINARY[section-binary]<partial>, BINARY.PEEK[...] and
 * BINARY.SIZE[...], a part's content with its Content-Transfer-Encoding
 * undone.
 *
 * Happy path: the section (part numbers only) names a part through the
 * MIME tree; its encoding decides: 7bit, 8bit, binary or none are sent as
 * they are (one range of the file, as BODY[] is); base64 and
 * quoted-printable are decoded. A first pass decodes the part into a small
 * buffer, counting: it gives BINARY.SIZE, the literal's length and whether
 * the partial window holds a NUL (then the literal is a literal8 "~{n}",
 * RFC 3516 §4.2, since a literal may not carry NUL). The response then
 * holds a decoded segment: the session decodes it again as it sends, a
 * piece at a time, so that a 30 MB base64 attachment is never one 30 MB
 * buffer; memory is the decoder's few bytes and the session's chunk. The
 * price is decoding twice on the loop (a pass over the part for the size,
 * one while sending).
 *
 * Edges: a partial window starting beyond the end is the empty string
 * ("BINARY[1]<900> \"\""), one reaching beyond is cut (as BODY's, RFC
 * 3516 §4.1); a section naming no part is the empty string and size 0.
 * XXX RFC 3516 §4.1: BINARY[] (the whole message) is sent as it is: a
 * message as a whole has no Content-Transfer-Encoding of its own (the top
 * header's applies to its body, which BINARY[1] decodes).
 *
 * Failure modes: an unknown Content-Transfer-Encoding (x-uuencode, ...)
 * is IMAP_FETCH_UNKNOWN_CTE, which the session answers NO [UNKNOWN-CTE]
 * (§4.3); bad data inside a known encoding is decoded leniently (base64
 * skips bytes outside its alphabet), never refused.
 */
#include "protocols/imap/fetch_int.h"

#include <string.h>

#include "node/lib/util.h"

#define FETCH_BINARY_CHUNK 16384

int
imap__fetch_binary_item(struct arena *a, const struct imap_arg *arg, struct imap__fetch_item *it,
                        const char **error_r)
{
	const char *base = arg->str;
	int size = ascii_strcasecmp(base, "BINARY.SIZE") == 0;
	it->kind = (uint8_t)(size ? FETCH_K_BINARY_SIZE : FETCH_K_BINARY);
	it->peek = (uint8_t)(ascii_strcasecmp(base, "BINARY.PEEK") == 0);
	const char *spec = "";
	size_t len = 0;
	/* section-binary = "[" [section-part] "]" (RFC 3516 §6) */
	if (arg->count > 1 ||
	    (arg->count == 1 && (arg->list[0].type != IMAP_ARG_ATOM || arg->list[0].section))) {
		*error_r = "Invalid binary section";
		return -1;
	}
	if (arg->count == 1) {
		spec = arg->list[0].str;
		len = arg->list[0].len;
		size_t nums = 0;
		for (size_t i = 0; i < len;) {
			if (spec[i] < '1' || spec[i] > '9') {
				*error_r = "Invalid binary section";
				return -1;
			}
			uint64_t v = 0;
			while (i < len && spec[i] >= '0' && spec[i] <= '9')
				if ((v = v * 10 + (uint64_t)(spec[i++] - '0')) > UINT32_MAX) {
					*error_r = "Invalid binary section";
					return -1;
				}
			if (++nums > IMAP_FETCH_PARTS_MAX) {
				*error_r = "Section nested too deeply";
				return -1;
			}
			if (i < len && (spec[i] != '.' || i + 1 == len)) {
				*error_r = "Invalid binary section";
				return -1;
			}
			if (i < len)
				i++;
		}
	}
	if (arg->has_partial) {
		if (size) {
			*error_r = "BINARY.SIZE takes no partial";
			return -1;
		}
		if (arg->partial_size == 0) {
			*error_r = "Partial fetch size must not be 0";
			return -1;
		}
		it->partial = 1;
		it->off = arg->partial_offset;
		it->size = arg->partial_size;
	}
	/* response name: BINARY[1.2] / BINARY.SIZE[1.2] (PEEK is not echoed) */
	struct nbuf b;
	nbuf_init(&b, 64 + len);
	int rc = nbuf_puts(&b, size ? "BINARY.SIZE[" : "BINARY[");
	size_t pre = nbuf_avail(&b);
	if (rc == 0)
		rc = nbuf_append(&b, spec, len);
	if (rc == 0)
		rc = nbuf_puts(&b, "]");
	char *name = rc == 0 ? arena_strndup(a, (const char *)nbuf_head(&b), nbuf_avail(&b)) : NULL;
	nbuf_deinit(&b);
	if (name == NULL) {
		*error_r = "Fetch items too large";
		return -1;
	}
	it->name = name;
	it->name_len = strlen(name);
	it->spec = name + pre;
	it->spec_len = len;
	return 0;
}

/* The decoded length of [r) and whether decoded bytes [lo, hi) hold NUL. */
static uint64_t
fetch_binary_measure(const char *bytes, const struct mime_range *r, enum mime_cte cte, uint64_t lo,
                     uint64_t hi, int *nul_r)
{
	*nul_r = 0;
	if (cte == MIME_CTE_IDENTITY) {
		uint64_t a = MIN(lo, (uint64_t)r->len), b = MIN(hi, (uint64_t)r->len);
		*nul_r = a < b && memchr(bytes + r->off + a, 0, (size_t)(b - a)) != NULL;
		return r->len;
	}
	unsigned char buf[FETCH_BINARY_CHUNK];
	struct mime_decoder d;
	uint64_t pos = 0;
	size_t n;
	mime_decoder_init(&d, cte, bytes + r->off, r->len);
	while ((n = mime_decoder_next(&d, buf, sizeof(buf))) > 0) {
		uint64_t a = MAX(lo, pos), b = MIN(hi, pos + n);
		if (!*nul_r && a < b && memchr(buf + (a - pos), 0, (size_t)(b - a)) != NULL)
			*nul_r = 1;
		pos += n;
	}
	return pos;
}

int
imap__fetch_binary(const struct imap__fetch_item *it, const struct imap_fetch_msg *msg,
                   const struct mime_message *tree, struct imap_fetch_out *o)
{
	struct mime_range r = {0, msg->len};
	const struct mime_part *part = NULL;
	enum mime_cte cte = MIME_CTE_IDENTITY;
	int found = 1;
	if (msg->bytes == NULL)
		return -1;
	if (it->spec_len > 0) {
		if (tree == NULL)
			return -1;
		found = mime_section_lookup(tree, it->spec, it->spec_len, &part, &r) == 1;
		if (found && (r.off > msg->len || r.len > msg->len - r.off))
			return -1;
		if (found && part != NULL)
			cte = mime_cte_of(part->encoding);
		if (cte == MIME_CTE_UNKNOWN)
			return IMAP_FETCH_UNKNOWN_CTE;
	}
	uint64_t lo = it->partial ? it->off : 0;
	uint64_t hi = it->partial ? it->off + MIN(it->size, UINT64_MAX - it->off) : UINT64_MAX;
	int nul = 0;
	uint64_t total = found ? fetch_binary_measure(msg->bytes, &r, cte, lo, hi, &nul) : 0;
	if (it->kind == FETCH_K_BINARY_SIZE)
		return imap__fetch_printf(o, "%s %llu", it->name, (unsigned long long)total);
	uint64_t start = MIN(lo, total), end = MIN(hi, total);
	if (imap__fetch_text(o, it->name, it->name_len) != 0)
		return -1;
	if (it->partial && imap__fetch_printf(o, "<%llu>", (unsigned long long)it->off) != 0)
		return -1;
	if (end == start)
		return imap__fetch_puts(o, " \"\"");
	if (imap__fetch_printf(o, " %s{%llu}\r\n", nul ? "~" : "",
	                       (unsigned long long)(end - start)) != 0)
		return -1;
	if (cte == MIME_CTE_IDENTITY)
		return imap__fetch_range(o, r.off + (size_t)start, (size_t)(end - start));
	return imap__fetch_decoded(o, r.off, r.len, cte, start, end - start);
}

void
imap_fetch_decoder_init(struct imap_fetch_decoder *dd, const struct imap_fetch_seg *g,
                        const char *bytes)
{
	mime_decoder_init(&dd->d, g->cte, bytes + g->off, g->len);
	dd->skip = g->skip;
	dd->left = g->dlen;
}

size_t
imap_fetch_decoder_next(struct imap_fetch_decoder *dd, unsigned char *out, size_t cap)
{
	while (dd->left > 0) {
		size_t n = mime_decoder_next(&dd->d, out, cap);
		if (n == 0)
			return 0; /* shorter than measured (left > 0): cannot happen */
		if (dd->skip >= n) {
			dd->skip -= n;
			continue;
		}
		size_t from = (size_t)dd->skip;
		dd->skip = 0;
		n -= from;
		if (from > 0)
			memmove(out, out + from, n);
		if (n > dd->left)
			n = (size_t)dd->left;
		dd->left -= n;
		return n;
	}
	return 0;
}
