/*
 * mime_cte: undo a Content-Transfer-Encoding (RFC 2045 §6) a piece at a
 * time, for SEARCH text, PREVIEW, RFC 2047 "B" words and (through the
 * public mime_decoder, mime.h) FETCH BINARY.
 *
 * The whole encoded body is in memory (mmapped), so the decoder only keeps
 * a position: each call fills the caller's buffer and stops before it
 * would overflow, and memory stays fixed whatever the body size.
 *
 * Bad input: base64 skips every byte outside its alphabet, treats '=' as
 * the end of a quantum and decodes a truncated last quantum as far as it
 * goes; quoted-printable keeps a '=' that starts no valid escape and
 * drops soft line breaks with trailing blanks. Unknown encodings, and
 * 7bit, 8bit and binary, pass through.
 */
#include "node/mime/mime_int.h"

#include <string.h>

#include "node/lib/util.h"

static int
mime_b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static int
mime_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)ascii_tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

void
mime__cte_init(struct mime__cte *d, const char *encoding, const char *in, size_t len)
{
	d->kind = MIME__CTE_IDENTITY;
	if (encoding != NULL && strcmp(encoding, "base64") == 0)
		d->kind = MIME__CTE_BASE64;
	else if (encoding != NULL && strcmp(encoding, "quoted-printable") == 0)
		d->kind = MIME__CTE_QP;
	d->in = (const unsigned char *)in;
	d->len = len;
	d->pos = 0;
}

/* One base64 quantum from d->pos: up to 3 bytes into out. */
static size_t
mime_b64_quantum(struct mime__cte *d, unsigned char *out)
{
	int v[4];
	int nv = 0;
	size_t p = d->pos;
	while (nv < 4 && p < d->len) {
		unsigned char c = d->in[p++];
		int x = mime_b64_val(c);
		if (x >= 0)
			v[nv++] = x;
		else if (c == '=')
			break;
	}
	d->pos = p;
	if (nv < 2)
		return 0;
	out[0] = (unsigned char)(v[0] << 2 | v[1] >> 4);
	if (nv == 2)
		return 1;
	out[1] = (unsigned char)((v[1] & 0xf) << 4 | v[2] >> 2);
	if (nv == 3)
		return 2;
	out[2] = (unsigned char)((v[2] & 0x3) << 6 | v[3]);
	return 3;
}

/* One quoted-printable step: 0 or 1 byte into out. */
static size_t
mime_qp_step(struct mime__cte *d, unsigned char *out)
{
	const unsigned char *in = d->in;
	size_t p = d->pos;
	if (in[p] != '=') {
		*out = in[p];
		d->pos = p + 1;
		return 1;
	}
	int h, l;
	if (p + 2 < d->len && (h = mime_hexval(in[p + 1])) >= 0 &&
	    (l = mime_hexval(in[p + 2])) >= 0) {
		*out = (unsigned char)(h << 4 | l);
		d->pos = p + 3;
		return 1;
	}
	size_t q = p + 1;
	while (q < d->len && mime__is_wsp(in[q]))
		q++;
	if (q < d->len && in[q] == '\r')
		q++;
	if (q >= d->len || in[q] == '\n') {
		d->pos = q < d->len ? q + 1 : d->len; /* soft line break */
		return 0;
	}
	*out = '=';
	d->pos = p + 1;
	return 1;
}

size_t
mime__cte_next(struct mime__cte *d, unsigned char *out, size_t cap)
{
	size_t o = 0;
	switch (d->kind) {
	case MIME__CTE_IDENTITY:
		o = MIN(cap, d->len - d->pos);
		if (o > 0)
			memcpy(out, d->in + d->pos, o);
		d->pos += o;
		break;
	case MIME__CTE_BASE64:
		while (o + 3 <= cap && d->pos < d->len)
			o += mime_b64_quantum(d, out + o);
		break;
	case MIME__CTE_QP:
		while (o < cap && d->pos < d->len) {
			const unsigned char *eq = memchr(d->in + d->pos, '=', d->len - d->pos);
			size_t run = (eq ? (size_t)(eq - d->in) : d->len) - d->pos;
			if (run > 0) {
				run = MIN(run, cap - o);
				memcpy(out + o, d->in + d->pos, run);
				d->pos += run;
				o += run;
				continue;
			}
			o += mime_qp_step(d, out + o);
		}
		break;
	}
	return o;
}

size_t
mime__b64_decode(const char *in, size_t len, unsigned char *out)
{
	struct mime__cte d = {MIME__CTE_BASE64, (const unsigned char *)in, len, 0};
	size_t o = 0;
	while (d.pos < d.len)
		o += mime_b64_quantum(&d, out + o);
	return o;
}

enum mime_cte
mime_cte_of(const char *encoding)
{
	if (encoding == NULL || strcmp(encoding, "7bit") == 0 || strcmp(encoding, "8bit") == 0 ||
	    strcmp(encoding, "binary") == 0)
		return MIME_CTE_IDENTITY;
	if (strcmp(encoding, "base64") == 0)
		return MIME_CTE_BASE64;
	if (strcmp(encoding, "quoted-printable") == 0)
		return MIME_CTE_QP;
	return MIME_CTE_UNKNOWN;
}

void
mime_decoder_init(struct mime_decoder *d, enum mime_cte kind, const char *in, size_t len)
{
	d->kind = kind;
	d->in = (const unsigned char *)in;
	d->len = len;
	d->pos = 0;
}

size_t
mime_decoder_next(struct mime_decoder *d, unsigned char *out, size_t cap)
{
	struct mime__cte c = {d->kind == MIME_CTE_BASE64 ? MIME__CTE_BASE64
	                      : d->kind == MIME_CTE_QP   ? MIME__CTE_QP
	                                                 : MIME__CTE_IDENTITY,
	                      d->in, d->len, d->pos};
	size_t n = mime__cte_next(&c, out, cap);
	d->pos = c.pos;
	return n;
}
