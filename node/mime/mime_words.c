/*
 * mime_words: RFC 2047 encoded words ("=?charset?B|Q?text?=") decoded to
 * UTF-8, for SEARCH, SORT (RFC 5256 base subject) and DISPLAYFROM.
 *
 * Happy path: text outside words is kept; each word is decoded (B: base64,
 * Q: §4.2 with '_' as space) and its charset converted; blanks between two
 * adjacent words vanish (§6.2). The octets of adjacent words in the same
 * charset are joined before conversion, so a character split across words
 * (as many encoders do) survives.
 *
 * Bad input: anything that does not parse as a word is kept as text; words
 * are recognised anywhere, not only between blanks, as mail readers do;
 * text outside words is taken as UTF-8 (invalid bytes become U+FFFD). RFC
 * 2231 §5 language suffixes ("utf-8*en") are ignored.
 */
#include "node/mime/mime_int.h"

#include <errno.h>
#include <string.h>

#include "node/lib/util.h"

struct mime_word {
	const char *charset;
	size_t cslen;
	char enc;
	const char *text;
	size_t tlen;
	size_t end; /* index after "?=" */
};

/* Parse an encoded word at s[i] ("=?"). Returns 1 or 0. */
static int
mime_word_parse(const char *s, size_t len, size_t i, struct mime_word *w)
{
	size_t p = i + 2, cs = p;
	while (p < len && s[p] != '?' && !mime__is_lwsp((unsigned char)s[p]))
		p++;
	if (p >= len || s[p] != '?' || p == cs || p - cs > MIME_CHARSET_MAX)
		return 0;
	if (p + 2 >= len || s[p + 2] != '?')
		return 0;
	char enc = (char)ascii_toupper((unsigned char)s[p + 1]);
	if (enc != 'B' && enc != 'Q')
		return 0;
	size_t t = p + 3, q = t;
	while (q < len && s[q] != '?' && !mime__is_lwsp((unsigned char)s[q]))
		q++;
	if (q + 1 >= len || s[q] != '?' || s[q + 1] != '=')
		return 0;
	w->charset = s + cs;
	w->cslen = p - cs;
	w->enc = enc;
	w->text = s + t;
	w->tlen = q - t;
	w->end = q + 2;
	return 1;
}

static int
mime_hexdig(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)ascii_tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Append the octets of a word to raw. */
static int
mime_word_octets(const struct mime_word *w, struct nbuf *raw)
{
	if (w->enc == 'B') {
		unsigned char *o = nbuf_reserve(raw, w->tlen * 3 / 4 + 3);
		if (o == NULL)
			return -ENOBUFS;
		nbuf_commit(raw, mime__b64_decode(w->text, w->tlen, o));
		return 0;
	}
	for (size_t i = 0; i < w->tlen; i++) {
		unsigned char c = (unsigned char)w->text[i];
		int h, l;
		if (c == '_')
			c = ' ';
		else if (c == '=' && i + 2 < w->tlen &&
		         (h = mime_hexdig((unsigned char)w->text[i + 1])) >= 0 &&
		         (l = mime_hexdig((unsigned char)w->text[i + 2])) >= 0) {
			c = (unsigned char)(h << 4 | l);
			i += 2;
		}
		int rc = nbuf_append(raw, &c, 1);
		if (rc != 0)
			return rc;
	}
	return 0;
}

struct mime_words_state {
	struct nbuf raw; /* octets of adjacent words in one charset */
	const char *charset;
	size_t cslen;
	struct nbuf *out;
};

static int
mime_words_flush(struct mime_words_state *st)
{
	int rc = 0;
	if (st->charset != NULL)
		rc = mime__conv_nbuf(st->charset, st->cslen, mime__nbuf_str(&st->raw),
		                     nbuf_avail(&st->raw), st->out);
	nbuf_reset(&st->raw);
	st->charset = NULL;
	return rc;
}

static int
mime_words_literal(struct mime_words_state *st, const char *s, size_t n)
{
	int rc = mime_words_flush(st);
	if (rc == 0 && n > 0)
		rc = mime__conv_nbuf("utf-8", 5, s, n, st->out);
	return rc;
}

static int
mime_is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!mime__is_lwsp((unsigned char)s[i]))
			return 0;
	return 1;
}

int
mime_decode_words(const char *s, size_t len, struct nbuf *out)
{
	struct mime_words_state st = {.out = out};
	nbuf_init(&st.raw, 2 * len + 16);
	size_t i = 0, lit = 0;
	int after_word = 0, rc = 0;
	while (i + 1 < len && rc == 0) {
		struct mime_word w;
		if (s[i] != '=' || s[i + 1] != '?' || !mime_word_parse(s, len, i, &w)) {
			i++;
			continue;
		}
		if (!(after_word && mime_is_blank(s + lit, i - lit)))
			rc = mime_words_literal(&st, s + lit, i - lit);
		if (rc == 0 && st.charset != NULL &&
		    (st.cslen != w.cslen || ascii_strncasecmp(st.charset, w.charset, w.cslen) != 0))
			rc = mime_words_flush(&st);
		if (rc == 0) {
			st.charset = w.charset;
			st.cslen = w.cslen;
			rc = mime_word_octets(&w, &st.raw);
		}
		i = lit = w.end;
		after_word = 1;
	}
	if (rc == 0)
		rc = mime_words_literal(&st, s + lit, len - lit);
	nbuf_deinit(&st.raw);
	return rc;
}

int
mime_header_decode(const char *v, size_t len, struct nbuf *out)
{
	struct nbuf tmp;
	nbuf_init(&tmp, len + 1);
	int rc = mime_header_unfold(v, len, &tmp);
	if (rc == 0)
		rc = mime_decode_words(mime__nbuf_str(&tmp), nbuf_avail(&tmp), out);
	nbuf_deinit(&tmp);
	return rc;
}
