/*
 * search_fold: Unicode-aware case folding of UTF-8 text and a streaming
 * substring matcher over folded text, for SEARCH's string keys (RFC 3501
 * §6.4.4: "the matching is case-insensitive"; RFC 9051 §6.4.4).
 *
 * Happy path: the needle is folded once when the program is parsed; text
 * arrives in pieces (decoded header values, mime_text_walk chunks), is
 * folded a slice at a time into a fixed buffer behind the last nlen-1
 * folded bytes of the previous piece, and searched with memmem. A match
 * across piece boundaries is found; memory is the fixed scratch buffer
 * whatever the text size.
 *
 * Folding maps each code point to one code point: its Unicode case folding
 * where that is one code point, else its lower-case mapping where that is
 * one (so ẞ folds to ß, not "ss"), and U+0130 to "i". It covers Latin
 * (Latin-1, Extended-A/B and Additional), Greek (final sigma folds to
 * sigma), Cyrillic, Armenian,
 * Georgian, Cherokee, Glagolitic, Coptic, Deseret, fullwidth forms and the
 * letterlike symbols (Kelvin, Angstrom). ASCII is folded eight bytes at a
 * time, two-byte characters through a direct table.
 * XXX RFC 5051 §2: i;unicode-casemap also decomposes (so "e" would match
 * "é"); we fold case only: precomposed and decomposed forms differ, as
 * they also do in most mail clients' own search.
 *
 * Bad input: bytes that are not valid UTF-8 (a header in an unknown 8-bit
 * charset) are copied as they are, so the text is searched byte for byte.
 */
#include "protocols/imap/search_int.h"

#include <pthread.h>
#include <string.h>

#include "node/lib/util.h"

/* Generated from Python 3.11's unicodedata (Unicode 14.0):
 *   t = c.casefold() if it is one character, else c.lower() if it is one
 *   character (U+0130: "i"); runs of code points with the same delta,
 *   consecutive (stride 1) or every other one (stride 2).
 * Every target maps to itself: folding is idempotent. */
static const struct {
	uint32_t lo, hi;
	int32_t delta;
	uint32_t stride;
} search_fold_runs[] = {
        {0x00b5, 0x00b5, 775, 1},    {0x00c0, 0x00d6, 32, 1},     {0x00d8, 0x00de, 32, 1},
        {0x0100, 0x012e, 1, 2},      {0x0130, 0x0130, -199, 1},   {0x0132, 0x0136, 1, 2},
        {0x0139, 0x0147, 1, 2},      {0x014a, 0x0176, 1, 2},      {0x0178, 0x0178, -121, 1},
        {0x0179, 0x017d, 1, 2},      {0x017f, 0x017f, -268, 1},   {0x0181, 0x0181, 210, 1},
        {0x0182, 0x0184, 1, 2},      {0x0186, 0x0186, 206, 1},    {0x0187, 0x0187, 1, 1},
        {0x0189, 0x018a, 205, 1},    {0x018b, 0x018b, 1, 1},      {0x018e, 0x018e, 79, 1},
        {0x018f, 0x018f, 202, 1},    {0x0190, 0x0190, 203, 1},    {0x0191, 0x0191, 1, 1},
        {0x0193, 0x0193, 205, 1},    {0x0194, 0x0194, 207, 1},    {0x0196, 0x0196, 211, 1},
        {0x0197, 0x0197, 209, 1},    {0x0198, 0x0198, 1, 1},      {0x019c, 0x019c, 211, 1},
        {0x019d, 0x019d, 213, 1},    {0x019f, 0x019f, 214, 1},    {0x01a0, 0x01a4, 1, 2},
        {0x01a6, 0x01a6, 218, 1},    {0x01a7, 0x01a7, 1, 1},      {0x01a9, 0x01a9, 218, 1},
        {0x01ac, 0x01ac, 1, 1},      {0x01ae, 0x01ae, 218, 1},    {0x01af, 0x01af, 1, 1},
        {0x01b1, 0x01b2, 217, 1},    {0x01b3, 0x01b5, 1, 2},      {0x01b7, 0x01b7, 219, 1},
        {0x01b8, 0x01b8, 1, 1},      {0x01bc, 0x01bc, 1, 1},      {0x01c4, 0x01c4, 2, 1},
        {0x01c5, 0x01c5, 1, 1},      {0x01c7, 0x01c7, 2, 1},      {0x01c8, 0x01c8, 1, 1},
        {0x01ca, 0x01ca, 2, 1},      {0x01cb, 0x01db, 1, 2},      {0x01de, 0x01ee, 1, 2},
        {0x01f1, 0x01f1, 2, 1},      {0x01f2, 0x01f4, 1, 2},      {0x01f6, 0x01f6, -97, 1},
        {0x01f7, 0x01f7, -56, 1},    {0x01f8, 0x021e, 1, 2},      {0x0220, 0x0220, -130, 1},
        {0x0222, 0x0232, 1, 2},      {0x023a, 0x023a, 10795, 1},  {0x023b, 0x023b, 1, 1},
        {0x023d, 0x023d, -163, 1},   {0x023e, 0x023e, 10792, 1},  {0x0241, 0x0241, 1, 1},
        {0x0243, 0x0243, -195, 1},   {0x0244, 0x0244, 69, 1},     {0x0245, 0x0245, 71, 1},
        {0x0246, 0x024e, 1, 2},      {0x0345, 0x0345, 116, 1},    {0x0370, 0x0372, 1, 2},
        {0x0376, 0x0376, 1, 1},      {0x037f, 0x037f, 116, 1},    {0x0386, 0x0386, 38, 1},
        {0x0388, 0x038a, 37, 1},     {0x038c, 0x038c, 64, 1},     {0x038e, 0x038f, 63, 1},
        {0x0391, 0x03a1, 32, 1},     {0x03a3, 0x03ab, 32, 1},     {0x03c2, 0x03c2, 1, 1},
        {0x03cf, 0x03cf, 8, 1},      {0x03d0, 0x03d0, -30, 1},    {0x03d1, 0x03d1, -25, 1},
        {0x03d5, 0x03d5, -15, 1},    {0x03d6, 0x03d6, -22, 1},    {0x03d8, 0x03ee, 1, 2},
        {0x03f0, 0x03f0, -54, 1},    {0x03f1, 0x03f1, -48, 1},    {0x03f4, 0x03f4, -60, 1},
        {0x03f5, 0x03f5, -64, 1},    {0x03f7, 0x03f7, 1, 1},      {0x03f9, 0x03f9, -7, 1},
        {0x03fa, 0x03fa, 1, 1},      {0x03fd, 0x03ff, -130, 1},   {0x0400, 0x040f, 80, 1},
        {0x0410, 0x042f, 32, 1},     {0x0460, 0x0480, 1, 2},      {0x048a, 0x04be, 1, 2},
        {0x04c0, 0x04c0, 15, 1},     {0x04c1, 0x04cd, 1, 2},      {0x04d0, 0x052e, 1, 2},
        {0x0531, 0x0556, 48, 1},     {0x10a0, 0x10c5, 7264, 1},   {0x10c7, 0x10c7, 7264, 1},
        {0x10cd, 0x10cd, 7264, 1},   {0x13f8, 0x13fd, -8, 1},     {0x1c80, 0x1c80, -6222, 1},
        {0x1c81, 0x1c81, -6221, 1},  {0x1c82, 0x1c82, -6212, 1},  {0x1c83, 0x1c84, -6210, 1},
        {0x1c85, 0x1c85, -6211, 1},  {0x1c86, 0x1c86, -6204, 1},  {0x1c87, 0x1c87, -6180, 1},
        {0x1c88, 0x1c88, 35267, 1},  {0x1c90, 0x1cba, -3008, 1},  {0x1cbd, 0x1cbf, -3008, 1},
        {0x1e00, 0x1e94, 1, 2},      {0x1e9b, 0x1e9b, -58, 1},    {0x1e9e, 0x1e9e, -7615, 1},
        {0x1ea0, 0x1efe, 1, 2},      {0x1f08, 0x1f0f, -8, 1},     {0x1f18, 0x1f1d, -8, 1},
        {0x1f28, 0x1f2f, -8, 1},     {0x1f38, 0x1f3f, -8, 1},     {0x1f48, 0x1f4d, -8, 1},
        {0x1f59, 0x1f5f, -8, 2},     {0x1f68, 0x1f6f, -8, 1},     {0x1f88, 0x1f8f, -8, 1},
        {0x1f98, 0x1f9f, -8, 1},     {0x1fa8, 0x1faf, -8, 1},     {0x1fb8, 0x1fb9, -8, 1},
        {0x1fba, 0x1fbb, -74, 1},    {0x1fbc, 0x1fbc, -9, 1},     {0x1fbe, 0x1fbe, -7173, 1},
        {0x1fc8, 0x1fcb, -86, 1},    {0x1fcc, 0x1fcc, -9, 1},     {0x1fd8, 0x1fd9, -8, 1},
        {0x1fda, 0x1fdb, -100, 1},   {0x1fe8, 0x1fe9, -8, 1},     {0x1fea, 0x1feb, -112, 1},
        {0x1fec, 0x1fec, -7, 1},     {0x1ff8, 0x1ff9, -128, 1},   {0x1ffa, 0x1ffb, -126, 1},
        {0x1ffc, 0x1ffc, -9, 1},     {0x2126, 0x2126, -7517, 1},  {0x212a, 0x212a, -8383, 1},
        {0x212b, 0x212b, -8262, 1},  {0x2132, 0x2132, 28, 1},     {0x2160, 0x216f, 16, 1},
        {0x2183, 0x2183, 1, 1},      {0x24b6, 0x24cf, 26, 1},     {0x2c00, 0x2c2f, 48, 1},
        {0x2c60, 0x2c60, 1, 1},      {0x2c62, 0x2c62, -10743, 1}, {0x2c63, 0x2c63, -3814, 1},
        {0x2c64, 0x2c64, -10727, 1}, {0x2c67, 0x2c6b, 1, 2},      {0x2c6d, 0x2c6d, -10780, 1},
        {0x2c6e, 0x2c6e, -10749, 1}, {0x2c6f, 0x2c6f, -10783, 1}, {0x2c70, 0x2c70, -10782, 1},
        {0x2c72, 0x2c72, 1, 1},      {0x2c75, 0x2c75, 1, 1},      {0x2c7e, 0x2c7f, -10815, 1},
        {0x2c80, 0x2ce2, 1, 2},      {0x2ceb, 0x2ced, 1, 2},      {0x2cf2, 0x2cf2, 1, 1},
        {0xa640, 0xa66c, 1, 2},      {0xa680, 0xa69a, 1, 2},      {0xa722, 0xa72e, 1, 2},
        {0xa732, 0xa76e, 1, 2},      {0xa779, 0xa77b, 1, 2},      {0xa77d, 0xa77d, -35332, 1},
        {0xa77e, 0xa786, 1, 2},      {0xa78b, 0xa78b, 1, 1},      {0xa78d, 0xa78d, -42280, 1},
        {0xa790, 0xa792, 1, 2},      {0xa796, 0xa7a8, 1, 2},      {0xa7aa, 0xa7aa, -42308, 1},
        {0xa7ab, 0xa7ab, -42319, 1}, {0xa7ac, 0xa7ac, -42315, 1}, {0xa7ad, 0xa7ad, -42305, 1},
        {0xa7ae, 0xa7ae, -42308, 1}, {0xa7b0, 0xa7b0, -42258, 1}, {0xa7b1, 0xa7b1, -42282, 1},
        {0xa7b2, 0xa7b2, -42261, 1}, {0xa7b3, 0xa7b3, 928, 1},    {0xa7b4, 0xa7c2, 1, 2},
        {0xa7c4, 0xa7c4, -48, 1},    {0xa7c5, 0xa7c5, -42307, 1}, {0xa7c6, 0xa7c6, -35384, 1},
        {0xa7c7, 0xa7c9, 1, 2},      {0xa7d0, 0xa7d0, 1, 1},      {0xa7d6, 0xa7d8, 1, 2},
        {0xa7f5, 0xa7f5, 1, 1},      {0xab70, 0xabbf, -38864, 1}, {0xff21, 0xff3a, 32, 1},
        {0x10400, 0x10427, 40, 1},   {0x104b0, 0x104d3, 40, 1},   {0x10570, 0x1057a, 39, 1},
        {0x1057c, 0x1058a, 39, 1},   {0x1058c, 0x10592, 39, 1},   {0x10594, 0x10595, 39, 1},
        {0x10c80, 0x10cb2, 64, 1},   {0x118a0, 0x118bf, 32, 1},   {0x16e40, 0x16e5f, 32, 1},
        {0x1e900, 0x1e921, 34, 1},
};

static uint32_t
search_fold_cp(uint32_t cp)
{
	size_t lo = 0, hi = ARRAY_SIZE(search_fold_runs);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cp < search_fold_runs[mid].lo)
			hi = mid;
		else if (cp > search_fold_runs[mid].hi)
			lo = mid + 1;
		else {
			uint32_t off = cp - search_fold_runs[mid].lo;
			if (off % search_fold_runs[mid].stride != 0)
				return cp;
			return (uint32_t)((int32_t)cp + search_fold_runs[mid].delta);
		}
	}
	return cp;
}

/* The length of a valid UTF-8 sequence at s[0..n) with its code point, or
 * 0 when the bytes there are not one (overlong, surrogate, cut off). */
static size_t
search_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp_r)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp, min;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, cp = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return len;
}

static size_t
search_utf8_encode(uint32_t cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The folds of U+0080..U+07FF (two-byte UTF-8: Latin, Greek, Cyrillic,
 * Armenian, Hebrew, Arabic), looked up directly: filled once from the
 * runs, then only read, so threads share it. */
static uint16_t search_fold2[0x800 - 0x80];
static pthread_once_t search_fold2_once = PTHREAD_ONCE_INIT;

static void
search_fold2_init(void)
{
	for (uint32_t cp = 0x80; cp < 0x800; cp++)
		search_fold2[cp - 0x80] = (uint16_t)search_fold_cp(cp);
}

size_t
imap__search_fold(const char *in, size_t len, char *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, o = 0;
	pthread_once(&search_fold2_once, search_fold2_init);
	while (i < len) {
		/* eight ASCII bytes at once: 'A'..'Z' are the bytes b with
		 * b + 0x3f >= 0x80 and b + 0x25 < 0x80; no byte carries */
		uint64_t x;
		if (len - i >= 8 && (memcpy(&x, s + i, 8), (x & 0x8080808080808080ULL) == 0)) {
			uint64_t ge_a = x + 0x3f3f3f3f3f3f3f3fULL, gt_z = x + 0x2525252525252525ULL;
			x |= (ge_a & ~gt_z & 0x8080808080808080ULL) >> 2;
			memcpy(out + o, &x, 8);
			i += 8;
			o += 8;
			continue;
		}
		unsigned char c = s[i];
		if (c < 0x80) {
			out[o++] = (char)ascii_tolower(c);
			i++;
			continue;
		}
		uint32_t cp, f;
		size_t n;
		if (c >= 0xc2 && c <= 0xdf && i + 1 < len && (s[i + 1] & 0xc0) == 0x80) {
			cp = (uint32_t)(c & 0x1f) << 6 | (s[i + 1] & 0x3f);
			f = search_fold2[cp - 0x80];
			n = 2;
		} else if ((n = search_utf8_decode(s + i, len - i, &cp)) != 0) {
			f = search_fold_cp(cp);
		} else {
			out[o++] = (char)c; /* not UTF-8: the byte as it is */
			i++;
			continue;
		}
		if (f == cp) {
			memcpy(out + o, s + i, n);
			o += n;
		} else {
			o += search_utf8_encode(f, out + o);
		}
		i += n;
	}
	return o;
}

void
imap__matcher_init(struct imap__matcher *m, const char *needle, size_t nlen, char *buf, size_t cap)
{
	m->needle = needle;
	m->nlen = nlen;
	m->buf = buf;
	m->cap = cap;
	m->have = 0;
	m->part = NULL;
}

void
imap__matcher_reset(struct imap__matcher *m)
{
	m->have = 0;
}

int
imap__matcher_feed(struct imap__matcher *m, const char *text, size_t len)
{
	if (m->nlen == 0)
		return 1;
	while (len > 0) {
		/* a slice that ends before a character's first byte */
		size_t k = MIN(len, (size_t)IMAP__FOLD_SLICE);
		if (k < len) {
			size_t back = 0;
			while (back < 3 && k - back > 1 &&
			       ((unsigned char)text[k - back] & 0xc0) == 0x80)
				back++;
			if (((unsigned char)text[k - back] & 0xc0) != 0x80)
				k -= back;
		}
		size_t n = m->have + imap__search_fold(text, k, m->buf + m->have);
		if (n >= m->nlen && memmem(m->buf, n, m->needle, m->nlen) != NULL)
			return 1;
		size_t keep = MIN(n, m->nlen - 1);
		memmove(m->buf, m->buf + n - keep, keep);
		m->have = keep;
		text += k;
		len -= k;
	}
	return 0;
}
