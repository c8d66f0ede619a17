/*
 * mime_charset: conversion of MIME charsets (RFC 2045 §5.1, RFC 2047 §3,
 * RFC 2231 §4) to UTF-8 over glibc iconv.
 *
 * Happy path: a known charset is converted by iconv; UTF-8 and US-ASCII are
 * only validated (US-ASCII text with 8-bit bytes is nearly always UTF-8 or
 * mislabelled, and keeping valid UTF-8 serves search best).
 *
 * Bad input: a charset iconv does not know, or a name with characters no
 * charset name has (the name comes from the mail and must not reach
 * iconv_open's option syntax), is treated as UTF-8: its bytes are kept and
 * invalid sequences become U+FFFD, as is every sequence iconv rejects.
 * ISO-8859-1 is read as windows-1252 and a few other names are widened to
 * their common supersets, as mail readers do.
 */
#include "node/mime/mime_int.h"

#include <errno.h>
#include <string.h>

#include "node/lib/util.h"

static const char mime_replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

static const struct {
	const char *alias;
	const char *name; /* NULL: validate as UTF-8 */
} mime_charset_aliases[] = {
        {"utf-8", NULL},
        {"utf8", NULL},
        {"us-ascii", NULL},
        {"ascii", NULL},
        {"ansi_x3.4-1968", NULL},
        {"unknown-8bit", NULL},
        {"x-unknown", NULL},
        {"unknown", NULL},
        {"default", NULL},
        {"iso-8859-1", "WINDOWS-1252"},
        {"iso8859-1", "WINDOWS-1252"},
        {"iso_8859-1", "WINDOWS-1252"},
        {"latin1", "WINDOWS-1252"},
        {"l1", "WINDOWS-1252"},
        {"ks_c_5601-1987", "CP949"},
        {"ks_c_5601", "CP949"},
        {"euc-kr", "CP949"},
        {"gb2312", "GB18030"},
        {"gbk", "GB18030"},
        {"x-gbk", "GB18030"},
        {"shift_jis", "CP932"},
        {"x-sjis", "CP932"},
        {"windows-31j", "CP932"},
        {"tis-620", "CP874"},
        {"x-mac-roman", "MACINTOSH"},
};

void
mime__conv_open(struct mime__conv *c, const char *charset, size_t len)
{
	char name[MIME_CHARSET_MAX + 1];
	size_t n = 0;
	c->cd = (iconv_t)-1;
	/* RFC 2231 §5: "charset*language" */
	for (size_t i = 0; i < len && charset[i] != '*'; i++) {
		unsigned char ch = (unsigned char)charset[i];
		if (mime__is_lwsp(ch) || ch == '"')
			continue;
		if (n == MIME_CHARSET_MAX)
			return;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || strchr("-_.:+", ch) != NULL))
			return;
		name[n++] = (char)ascii_tolower(ch);
	}
	name[n] = '\0';
	if (n == 0)
		return;
	const char *use = name;
	for (size_t i = 0; i < ARRAY_SIZE(mime_charset_aliases); i++) {
		if (strcmp(name, mime_charset_aliases[i].alias) == 0) {
			use = mime_charset_aliases[i].name;
			if (use == NULL)
				return;
			break;
		}
	}
	c->cd = iconv_open("UTF-8", use);
}

void
mime__conv_close(struct mime__conv *c)
{
	if (c->cd != (iconv_t)-1)
		iconv_close(c->cd);
	c->cd = (iconv_t)-1;
}

int
mime__nbuf_sink(void *ctx, const char *p, size_t n)
{
	return nbuf_append(ctx, p, n);
}

/* Length of the valid UTF-8 sequence at p[0..n): > 0 valid, 0 when it is a
 * valid but incomplete prefix, -1 invalid. */
static int
mime_utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char b = p[0];
	int len;
	unsigned char lo = 0x80, hi = 0xbf;
	if (b < 0x80)
		return 1;
	if (b >= 0xc2 && b <= 0xdf)
		len = 2;
	else if (b >= 0xe0 && b <= 0xef) {
		len = 3;
		if (b == 0xe0)
			lo = 0xa0;
		else if (b == 0xed)
			hi = 0x9f;
	} else if (b >= 0xf0 && b <= 0xf4) {
		len = 4;
		if (b == 0xf0)
			lo = 0x90;
		else if (b == 0xf4)
			hi = 0x8f;
	} else
		return -1;
	for (int k = 1; k < len; k++) {
		if ((size_t)k >= n)
			return 0;
		unsigned char c = p[k];
		if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xbf))
			return -1;
	}
	return len;
}

/* Hand a valid run to the sink in pieces of at most 4 KiB that end on
 * character boundaries. */
static int
mime_sink_run(const char *p, size_t n, mime__sink_fn sink, void *ctx)
{
	while (n > 0) {
		size_t k = n;
		if (k > 4096) {
			k = 4096;
			while (k > 0 && ((unsigned char)p[k] & 0xc0) == 0x80)
				k--;
		}
		int rc = sink(ctx, p, k);
		if (rc != 0)
			return rc;
		p += k;
		n -= k;
	}
	return 0;
}

static long
mime_conv_utf8(const char *in, size_t len, int final, mime__sink_fn sink, void *ctx)
{
	size_t i = 0, start = 0;
	int rc;
	while (i < len) {
		if ((unsigned char)in[i] < 0x80) {
			i++;
			continue;
		}
		int k = mime_utf8_seq((const unsigned char *)in + i, len - i);
		if (k > 0) {
			i += (size_t)k;
			continue;
		}
		if ((rc = mime_sink_run(in + start, i - start, sink, ctx)) != 0)
			return rc;
		if (k == 0 && !final)
			return (long)i;
		if ((rc = sink(ctx, mime_replacement, 3)) != 0)
			return rc;
		start = ++i;
	}
	if ((rc = mime_sink_run(in + start, len - start, sink, ctx)) != 0)
		return rc;
	return (long)len;
}

long
mime__conv_run(struct mime__conv *c, const char *in, size_t len, int final, mime__sink_fn sink,
               void *ctx)
{
	if (c->cd == (iconv_t)-1)
		return mime_conv_utf8(in, len, final, sink, ctx);
	char obuf[4096];
	char *inp = (char *)in;
	size_t inleft = len;
	int rc;
	for (;;) {
		char *outp = obuf;
		size_t outleft = sizeof(obuf);
		size_t r = iconv(c->cd, &inp, &inleft, &outp, &outleft);
		int err = errno;
		if (outp > obuf && (rc = sink(ctx, obuf, (size_t)(outp - obuf))) != 0)
			return rc;
		if (r != (size_t)-1 || inleft == 0)
			break;
		if (err == E2BIG)
			continue;
		if (err == EINVAL && !final)
			break;
		/* EILSEQ, or an incomplete sequence at the very end */
		if ((rc = sink(ctx, mime_replacement, 3)) != 0)
			return rc;
		inp++;
		inleft--;
	}
	if (final) {
		char *outp = obuf;
		size_t outleft = sizeof(obuf);
		iconv(c->cd, NULL, NULL, &outp, &outleft);
		if (outp > obuf && (rc = sink(ctx, obuf, (size_t)(outp - obuf))) != 0)
			return rc;
		iconv(c->cd, NULL, NULL, NULL, NULL);
	}
	return (long)(len - inleft);
}

int
mime__conv_nbuf(const char *charset, size_t cslen, const char *in, size_t len, struct nbuf *out)
{
	struct mime__conv c;
	mime__conv_open(&c, charset, cslen);
	long rc = mime__conv_run(&c, in, len, 1, mime__nbuf_sink, out);
	mime__conv_close(&c);
	return rc < 0 ? (int)rc : 0;
}
