/*
 * saslprep: RFC 4013 SASLprep over the RFC 3454 tables. See saslprep.h.
 *
 * One pass over the input: decode a code point strictly (RFC 3629), map
 * it (RFC 4013 §2.1: B.1 to nothing, C.1.2 to SPACE), reject prohibited
 * output (§2.3: C.1.2, C.2.1, C.2.2, C.3, C.4, C.5, C.6, C.7, C.8, C.9),
 * and in stored mode check the character against the NFKC-stable
 * repertoire and collect what the bidi rule (§2.4, RFC 3454 §6) needs.
 *
 * U+200B is in both B.1 and C.1.2 and implementations disagree on which
 * mapping wins; a query maps it to nothing, a stored string refuses it so
 * that no password depends on the choice.
 */
#include "node/auth/saslprep.h"

#include <stdint.h>
#include <string.h>

struct range {
	uint32_t lo, hi;
};

/* RFC 3454 B.1, commonly mapped to nothing. */
static const struct range map_nothing[] = {
        {0x00AD, 0x00AD}, {0x034F, 0x034F}, {0x1806, 0x1806}, {0x180B, 0x180D},
        {0x200B, 0x200D}, {0x2060, 0x2060}, {0xFE00, 0xFE0F}, {0xFEFF, 0xFEFF},
};

/* RFC 3454 C.1.2, non-ASCII space characters. */
static const struct range map_space[] = {
        {0x00A0, 0x00A0}, {0x1680, 0x1680}, {0x2000, 0x200B},
        {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000},
};

/* RFC 3454 C.2.2, C.3, C.4 (plane 0 part), C.5, C.6, C.7, C.8, C.9,
 * merged and sorted. C.2.1 and the nFFFE/nFFFF non-characters of C.4
 * are tested arithmetically. */
static const struct range prohibited[] = {
        {0x0080, 0x009F},   {0x0340, 0x0341},   {0x06DD, 0x06DD},   {0x070F, 0x070F},
        {0x180E, 0x180E},   {0x200C, 0x200F},   {0x2028, 0x202E},   {0x2060, 0x2063},
        {0x206A, 0x206F},   {0x2FF0, 0x2FFB},   {0xD800, 0xDFFF},   {0xE000, 0xF8FF},
        {0xFDD0, 0xFDEF},   {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFF},   {0x1D173, 0x1D17A},
        {0xE0001, 0xE0001}, {0xE0020, 0xE007F}, {0xF0000, 0xFFFFD}, {0x100000, 0x10FFFD},
};

/* Stored strings: characters assigned in Unicode 3.2 whose NFKC form is
 * themselves and that never compose with a neighbour (no combining marks,
 * no conjoining jamo, no compatibility characters). */
static const struct range stored_ok[] = {
        {0x0020, 0x007E}, {0x00A1, 0x00A7}, {0x00A9, 0x00A9}, {0x00AB, 0x00AC}, {0x00AE, 0x00AE},
        {0x00B0, 0x00B1}, {0x00B6, 0x00B7}, {0x00BB, 0x00BB}, {0x00BF, 0x0131}, {0x0134, 0x013E},
        {0x0141, 0x0148}, {0x014A, 0x017E}, {0x0180, 0x01C3}, {0x01CD, 0x01F0}, {0x01F4, 0x0220},
        {0x0386, 0x0386}, {0x0388, 0x038A}, {0x038C, 0x038C}, {0x038E, 0x03A1}, {0x03A3, 0x03CE},
        {0x0400, 0x0481}, {0x048A, 0x04CE}, {0x04D0, 0x04F5}, {0x04F8, 0x04F9}, {0x05D0, 0x05EA},
        {0x0621, 0x063A}, {0x0640, 0x064A}, {0x2010, 0x2010}, {0x2013, 0x2014}, {0x2018, 0x2019},
        {0x201C, 0x201D}, {0x2020, 0x2022}, {0x2030, 0x2030}, {0x2039, 0x203A}, {0x20AC, 0x20AC},
        {0x3041, 0x3096}, {0x30A1, 0x30FA}, {0x30FC, 0x30FC}, {0x4E00, 0x9FA5}, {0xAC00, 0xD7A3},
};

/* RFC 3454 D.1 restricted to stored_ok: RandALCat. */
static const struct range bidi_ral[] = {
        {0x05D0, 0x05EA},
        {0x0621, 0x063A},
        {0x0640, 0x064A},
};

/* The non-letters of stored_ok; every other non-ASCII character of
 * stored_ok is in RFC 3454 D.2 (LCat) or D.1. */
static const struct range bidi_not_l[] = {
        {0x0000, 0x0040}, {0x005B, 0x0060}, {0x007B, 0x00BF},
        {0x00D7, 0x00D7}, {0x00F7, 0x00F7}, {0x2010, 0x20AC},
};

static int
in_table(const struct range *t, size_t n, uint32_t c)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c < t[mid].lo)
			hi = mid;
		else if (c > t[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

#define IN(table, c) in_table(table, sizeof(table) / sizeof(table[0]), c)

int
saslprep_utf8_decode(const unsigned char *p, size_t n, unsigned *cp_r)
{
	unsigned c = p[0], lo = 0x80, hi = 0xBF;
	int len;
	if (c < 0x80) {
		*cp_r = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		c &= 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		lo = c == 0xE0 ? 0xA0 : 0x80;
		hi = c == 0xED ? 0x9F : 0xBF;
		c &= 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		lo = c == 0xF0 ? 0x90 : 0x80;
		hi = c == 0xF4 ? 0x8F : 0xBF;
		c &= 0x07;
	} else {
		return -1;
	}
	if ((size_t)len > n)
		return -1;
	for (int i = 1; i < len; i++) {
		/* Only the second byte has a narrowed range. */
		if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xBF))
			return -1;
		c = c << 6 | (p[i] & 0x3F);
	}
	*cp_r = c;
	return len;
}

static int
prohibited_cp(uint32_t c)
{
	if (c < 0x20 || c == 0x7F)
		return 1; /* C.2.1 */
	if ((c & 0xFFFE) == 0xFFFE)
		return 1; /* C.4, nFFFE and nFFFF */
	return IN(prohibited, c);
}

int
saslprep_prepare(const char *in, size_t inlen, int flags, char *out, size_t *outlen_r,
                 const char **error_r)
{
	const unsigned char *p = (const unsigned char *)in;
	int stored = (flags & SASLPREP_STORED) != 0;
	int has_ral = 0, has_l = 0, first_ral = 0, last_ral = 0, nchars = 0;
	size_t i = 0, o = 0;

	while (i < inlen) {
		unsigned c;
		int n = saslprep_utf8_decode(p + i, inlen - i, &c);
		if (n < 0) {
			*error_r = "invalid UTF-8";
			return -1;
		}
		if (stored && c == 0x200B) {
			*error_r = "ambiguous character U+200B";
			return -1;
		}
		if (IN(map_nothing, c)) {
			i += (size_t)n;
			continue;
		}
		if (IN(map_space, c)) {
			c = ' ';
			out[o++] = ' ';
		} else if (prohibited_cp(c)) {
			*error_r = "prohibited character";
			return -1;
		} else {
			memmove(out + o, p + i, (size_t)n);
			o += (size_t)n;
		}
		i += (size_t)n;
		if (!stored)
			continue;
		if (!IN(stored_ok, c)) {
			*error_r = "character not supported in a password";
			return -1;
		}
		int ral = IN(bidi_ral, c), l = !ral && !IN(bidi_not_l, c);
		has_ral |= ral;
		has_l |= l;
		if (nchars++ == 0)
			first_ral = ral;
		last_ral = ral;
	}
	/* RFC 3454 §6: a string with RandALCat has no LCat and starts and
	 * ends with RandALCat. */
	if (has_ral && (has_l || !first_ral || !last_ral)) {
		*error_r = "mixed or unbalanced right-to-left text";
		return -1;
	}
	out[o] = '\0';
	*outlen_r = o;
	return 0;
}
