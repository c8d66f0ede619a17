/*
 * imap mutf7: modified UTF-7 <-> UTF-8 and mailbox-name checks. See mutf7.h.
 *
 * Happy path: "Entw&APw-rfe" <-> "Entwürfe"; printable ASCII stands for
 * itself, "&" is "&-", everything else is UTF-16BE in base64 with ","
 * for "/", between "&" and "-".
 *
 * Failure modes: anything a canonical encoder would not produce is
 * refused, so that one name has one spelling: two spellings of a name
 * would be two directories, or a way around a check. Outputs are bounded
 * by the caller's buffer; a name that does not fit is an error.
 *
 * RFC 3501 §5.1.3, RFC 9051 §5.1.3 (modified UTF-7), RFC 2152 (UTF-7),
 * RFC 3629 §3-4 (UTF-8 validity), RFC 2781 (UTF-16 surrogates),
 * RFC 3501 §5.1 (INBOX case-insensitive).
 */
#include "protocols/imap/mutf7.h"

#include <stdint.h>
#include <string.h>

#include "node/lib/util.h"

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

/* A bounded output cursor. */
struct out {
	char *p;
	size_t len, size;
	bool full;
};

static void
out_byte(struct out *o, char c)
{
	if (o->len + 1 >= o->size) {
		o->full = true;
		return;
	}
	o->p[o->len++] = c;
}

static void
out_utf8(struct out *o, uint32_t cp)
{
	if (cp < 0x80) {
		out_byte(o, (char)cp);
	} else if (cp < 0x800) {
		out_byte(o, (char)(0xc0 | (cp >> 6)));
		out_byte(o, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		out_byte(o, (char)(0xe0 | (cp >> 12)));
		out_byte(o, (char)(0x80 | ((cp >> 6) & 0x3f)));
		out_byte(o, (char)(0x80 | (cp & 0x3f)));
	} else {
		out_byte(o, (char)(0xf0 | (cp >> 18)));
		out_byte(o, (char)(0x80 | ((cp >> 12) & 0x3f)));
		out_byte(o, (char)(0x80 | ((cp >> 6) & 0x3f)));
		out_byte(o, (char)(0x80 | (cp & 0x3f)));
	}
}

static int
out_finish(struct out *o, size_t *len_r, const char **error_r)
{
	if (o->full || o->size == 0) {
		*error_r = "Mailbox name too long";
		return -1;
	}
	o->p[o->len] = '\0';
	*len_r = o->len;
	return 0;
}

/* Decode one base64 run s[0..n) (between "&" and "-") into o. */
static int
decode_run(const unsigned char *s, size_t n, struct out *o, const char **error_r)
{
	uint32_t acc = 0, high = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64val(s[i]);
		if (v < 0) {
			*error_r = "Invalid modified UTF-7: bad base64";
			return -1;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits < 16)
			continue;
		bits -= 16;
		uint32_t u = (acc >> bits) & 0xffff;
		acc &= (1u << bits) - 1;
		if (u >= 0xd800 && u <= 0xdbff) {
			if (high) {
				*error_r = "Invalid modified UTF-7: unpaired surrogate";
				return -1;
			}
			high = u;
			continue;
		}
		if (u >= 0xdc00 && u <= 0xdfff) {
			if (!high) {
				*error_r = "Invalid modified UTF-7: unpaired surrogate";
				return -1;
			}
			out_utf8(o, 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00));
			high = 0;
			continue;
		}
		if (high || u == 0 || (u >= 0x20 && u <= 0x7e)) {
			*error_r = high ? "Invalid modified UTF-7: unpaired surrogate"
			                : "Invalid modified UTF-7: encoded ASCII";
			return -1;
		}
		out_utf8(o, u);
	}
	if (high || bits >= 6 || acc != 0 || n == 0) {
		*error_r = high ? "Invalid modified UTF-7: unpaired surrogate"
		                : "Invalid modified UTF-7: bad padding";
		return -1;
	}
	return 0;
}

int
imap_mutf7_to_utf8(const char *in, size_t len, char *out, size_t out_size, size_t *len_r,
                   const char **error_r)
{
	const unsigned char *s = (const unsigned char *)in;
	struct out o = {out, 0, out_size, false};
	bool after_run = false;
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		if (c < 0x20 || c > 0x7e) {
			*error_r = "Invalid modified UTF-7: not printable ASCII";
			return -1;
		}
		if (c != '&') {
			out_byte(&o, (char)c);
			after_run = false;
			i++;
			continue;
		}
		const unsigned char *dash = memchr(s + i + 1, '-', len - i - 1);
		if (dash == NULL) {
			*error_r = "Invalid modified UTF-7: \"&\" without \"-\"";
			return -1;
		}
		size_t n = (size_t)(dash - (s + i + 1));
		if (n == 0) {
			out_byte(&o, '&');
			after_run = false;
		} else {
			/* a canonical encoder joins adjacent runs */
			if (after_run) {
				*error_r = "Invalid modified UTF-7: adjacent encoded runs";
				return -1;
			}
			if (decode_run(s + i + 1, n, &o, error_r) != 0)
				return -1;
			after_run = true;
		}
		i += n + 2;
		if (o.full)
			break;
	}
	return out_finish(&o, len_r, error_r);
}

/* Decode one UTF-8 sequence at s[*i]; strict (RFC 3629 §4). */
static bool
utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp_r)
{
	unsigned char c = s[*i];
	uint32_t cp;
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c == 0)
		return false;
	if (c < 0x80) {
		*cp_r = c;
		(*i)++;
		return true;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 1;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		cp = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		cp = c & 0x07;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return false;
	}
	if (len - *i <= n)
		return false;
	for (size_t k = 1; k <= n; k++) {
		unsigned char d = s[*i + k];
		if (d < (k == 1 ? lo : 0x80) || d > (k == 1 ? hi : 0xbf))
			return false;
		cp = (cp << 6) | (d & 0x3f);
	}
	*i += n + 1;
	*cp_r = cp;
	return true;
}

bool
imap_utf8_is_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t cp;
	for (size_t i = 0; i < len;)
		if (!utf8_next(u, len, &i, &cp))
			return false;
	return true;
}

/* Base64 encoder state for one run. */
struct b64 {
	uint32_t acc;
	unsigned bits;
	bool open;
};

static void
b64_unit(struct b64 *b, struct out *o, uint32_t u)
{
	if (!b->open) {
		out_byte(o, '&');
		b->open = true;
	}
	b->acc = (b->acc << 16) | u;
	b->bits += 16;
	while (b->bits >= 6) {
		b->bits -= 6;
		out_byte(o, b64chars[(b->acc >> b->bits) & 0x3f]);
	}
	b->acc &= (1u << b->bits) - 1;
}

static void
b64_close(struct b64 *b, struct out *o)
{
	if (!b->open)
		return;
	if (b->bits > 0)
		out_byte(o, b64chars[(b->acc << (6 - b->bits)) & 0x3f]);
	out_byte(o, '-');
	b->acc = b->bits = 0;
	b->open = false;
}

int
imap_utf8_to_mutf7(const char *in, size_t len, char *out, size_t out_size, size_t *len_r,
                   const char **error_r)
{
	const unsigned char *s = (const unsigned char *)in;
	struct out o = {out, 0, out_size, false};
	struct b64 b = {0, 0, false};
	size_t i = 0;
	while (i < len && !o.full) {
		uint32_t cp;
		if (!utf8_next(s, len, &i, &cp)) {
			*error_r = "Invalid UTF-8 in mailbox name";
			return -1;
		}
		if (cp >= 0x20 && cp <= 0x7e) {
			b64_close(&b, &o);
			out_byte(&o, (char)cp);
			if (cp == '&')
				out_byte(&o, '-');
		} else if (cp < 0x10000) {
			b64_unit(&b, &o, cp);
		} else {
			cp -= 0x10000;
			b64_unit(&b, &o, 0xd800 | (cp >> 10));
			b64_unit(&b, &o, 0xdc00 | (cp & 0x3ff));
		}
	}
	b64_close(&b, &o);
	return out_finish(&o, len_r, error_r);
}

int
imap_mailbox_name_check(const char *name, size_t len, unsigned flags, const char **error_r)
{
	const unsigned char *s = (const unsigned char *)name;
	if (len == 0) {
		*error_r = "Empty mailbox name";
		return -1;
	}
	if (len > IMAP_MAILBOX_UTF8_MAX) {
		*error_r = "Mailbox name too long";
		return -1;
	}
	if (!imap_utf8_is_valid(name, len)) {
		*error_r = "Mailbox name is not valid UTF-8";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];
		/* C0, DEL, and C1 (U+0080..U+009F is 0xc2 0x80..0x9f) */
		if (c < 0x20 || c == 0x7f || (c == 0xc2 && s[i + 1] < 0xa0)) {
			*error_r = "Control characters in mailbox name";
			return -1;
		}
		if (c == '/') {
			*error_r = "\"/\" is not allowed in mailbox names (the separator is \".\")";
			return -1;
		}
		if ((c == '*' || c == '%') && (flags & IMAP_MAILBOX_CREATE)) {
			*error_r = "Wildcards are not allowed in mailbox names";
			return -1;
		}
		/* With "." as the separator a level can never be "." or "..";
		 * an empty level is what "a..b", ".a" and "a." would make. */
		if (c == IMAP_HIERARCHY_SEP &&
		    (i == 0 || i + 1 == len || s[i + 1] == IMAP_HIERARCHY_SEP)) {
			*error_r = "Empty hierarchy level in mailbox name";
			return -1;
		}
	}
	char enc[IMAP_MAILBOX_MUTF7_MAX + 1];
	size_t enc_len;
	if (imap_utf8_to_mutf7(name, len, enc, sizeof(enc), &enc_len, error_r) != 0)
		return -1;
	return 0;
}

void
imap_mailbox_name_canon_inbox(char *name, size_t len)
{
	if (len >= 5 && ascii_strncasecmp(name, "INBOX", 5) == 0 &&
	    (len == 5 || name[5] == IMAP_HIERARCHY_SEP))
		memcpy(name, "INBOX", 5);
}

int
imap_mailbox_name_from_wire(const char *wire, size_t len, bool utf8, unsigned flags, char *out,
                            size_t out_size, size_t *len_r, const char **error_r)
{
	if (utf8) {
		if (len >= out_size) {
			*error_r = "Mailbox name too long";
			return -1;
		}
		memcpy(out, wire, len);
		out[len] = '\0';
		*len_r = len;
	} else {
		if (len > IMAP_MAILBOX_MUTF7_MAX) {
			*error_r = "Mailbox name too long";
			return -1;
		}
		if (imap_mutf7_to_utf8(wire, len, out, out_size, len_r, error_r) != 0)
			return -1;
	}
	if (imap_mailbox_name_check(out, *len_r, flags, error_r) != 0)
		return -1;
	imap_mailbox_name_canon_inbox(out, *len_r);
	return 0;
}
