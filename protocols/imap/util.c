/*
 * util: the small grammar pieces the IMAP commands share: mailbox names
 * in and out (RFC 3501 §5.1, §5.1.3 modified UTF-7; names are checked by
 * mutf7.h before they reach the store), strings as quoted or literal
 * (§4.3, §9 "quoted" and "literal"), flag lists (§2.3.2, §9 "flag"),
 * special-use attributes (RFC 6154 §2, and the names of Gmail's legacy
 * XLIST) and date-time (§9 "date-time").
 *
 * Failure modes: every parse returns -1 with a text for a BAD or NO; the
 * caller answers. Nothing here aborts on input.
 */
#include <stdio.h>
#include <string.h>

#include "node/lib/util.h"
#include "node/store/store.h"
#include "protocols/imap/fetch.h"
#include "protocols/imap/imap_private.h"
#include "protocols/imap/mutf7.h"

/* --- mailbox names --------------------------------------------------- */

int
imap__mailbox_arg(struct imap_session *s, const struct imap_arg *arg, unsigned flags, char *out,
                  size_t out_size, const char **error_r)
{
	const char *str;
	size_t len, n;
	if (!imap_arg_get_astring(arg, &str, &len)) {
		*error_r = "Invalid mailbox name";
		return -1;
	}
	if (memchr(str, '\0', len) != NULL) {
		*error_r = "Invalid mailbox name";
		return -1;
	}
	return imap_mailbox_name_from_wire(str, len, (s->flags & IMAP_SF_UTF8) != 0, flags, out,
	                                   out_size, &n, error_r);
}

int
imap__mailbox_lookup(struct imap_session *s, const struct imap_arg *arg, enum imap_code missing,
                     struct store_mailbox *m)
{
	char name[SCHEMA_NAME_MAX + 1];
	const char *err;
	struct store_txn *t;
	if (imap__mailbox_arg(s, arg, 0, name, sizeof(name), &err) != 0) {
		imap__no(s, missing, "%s", err);
		return -1;
	}
	if (store_read_begin(imap__store(), &t) != 0) {
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox now");
		return -1;
	}
	int rc = store_mailbox_get(t, s->user_id, name, m);
	store_read_end(&t);
	if (rc < 0)
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox now");
	else if (rc == 0)
		imap__no(s, missing, "Mailbox does not exist");
	return rc == 1 ? 0 : -1;
}

/* A string as quoted (8-bit allowed when utf8 and the whole is valid
 * UTF-8: RFC 6855 §3, RFC 9051 §4.3), else as a literal. */
static int
string_write(const char *str, size_t len, bool utf8, struct nbuf *out)
{
	bool quotable = len < 1024 && (!utf8 || imap_utf8_is_valid(str, len));
	for (size_t i = 0; i < len && quotable; i++) {
		unsigned char c = (unsigned char)str[i];
		if (c < 0x20 || c == 0x7f || (c > 0x7f && !utf8))
			quotable = false;
	}
	if (!quotable) {
		if (nbuf_printf(out, "{%zu}\r\n", len) != 0)
			return -1;
		return nbuf_append(out, str, len);
	}
	if (nbuf_append(out, "\"", 1) != 0)
		return -1;
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		if (str[i] != '"' && str[i] != '\\')
			continue;
		if (nbuf_append(out, str + start, i - start) != 0 || nbuf_append(out, "\\", 1) != 0)
			return -1;
		start = i;
	}
	if (nbuf_append(out, str + start, len - start) != 0)
		return -1;
	return nbuf_append(out, "\"", 1);
}

int
imap__string_write(const char *str, size_t len, struct nbuf *out)
{
	return string_write(str, len, false, out);
}

int
imap__mailbox_write(struct imap_session *s, const char *name, struct nbuf *out)
{
	char wire[4 * SCHEMA_NAME_MAX + 16];
	size_t len = strlen(name), n;
	const char *err;
	if (s->flags & IMAP_SF_UTF8)
		return string_write(name, len, true, out);
	if (imap_utf8_to_mutf7(name, len, wire, sizeof(wire), &n, &err) != 0)
		return imap__string_write(name, len, out);
	return imap__string_write(wire, n, out);
}

unsigned
imap__fetch_enabled(const struct imap_session *s)
{
	return ((s->flags & IMAP_SF_CONDSTORE) ? IMAP_FETCH_CONDSTORE : 0) |
	       ((s->flags & IMAP_SF_QRESYNC) ? IMAP_FETCH_QRESYNC : 0) |
	       ((s->flags & IMAP_SF_UTF8) ? IMAP_FETCH_UTF8 : 0) |
	       ((s->flags & IMAP_SF_REV2) ? IMAP_FETCH_REV2 : 0);
}

/* --- flags ----------------------------------------------------------- */

static const struct {
	uint32_t bit;
	const char *name;
} system_flags[] = {
        {MSG_ANSWERED, "\\Answered"}, {MSG_FLAGGED, "\\Flagged"}, {MSG_DELETED, "\\Deleted"},
        {MSG_SEEN, "\\Seen"},         {MSG_DRAFT, "\\Draft"},
};

static bool
keyword_ok(const char *k, size_t len)
{
	if (len == 0 || len > CMD_KEYWORD_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)k[i];
		/* atom-char minus "]" (resp-specials) */
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

static int
flag_add(struct imap_session *s, const char *f, uint32_t *flags_r, const char **names,
         uint32_t *n_r, const char **error_r)
{
	if (f[0] == '\\') {
		for (size_t i = 0; i < ARRAY_SIZE(system_flags); i++) {
			if (ascii_strcasecmp(f, system_flags[i].name) == 0) {
				*flags_r |= system_flags[i].bit;
				return 0;
			}
		}
		*error_r = ascii_strcasecmp(f, "\\Recent") == 0 ? "\\Recent cannot be set"
		                                                : "Invalid system flag";
		return -1;
	}
	if (!keyword_ok(f, strlen(f))) {
		*error_r = "Invalid keyword";
		return -1;
	}
	for (uint32_t i = 0; i < *n_r; i++)
		if (ascii_strcasecmp(names[i], f) == 0)
			return 0;
	if (*n_r >= CMD_KEYWORDS_MAX) {
		*error_r = "Too many keywords";
		return -1;
	}
	names[(*n_r)++] = f;
	return 0;
}

int
imap__flags_parse(struct imap_session *s, const struct imap_arg *arg, uint32_t *flags_r,
                  const char ***names_r, uint32_t *nnames_r, const char **error_r)
{
	const struct imap_arg *list;
	size_t count;
	const char *f;
	const char **names = arena_alloc(imap__arena(s), CMD_KEYWORDS_MAX * sizeof(*names));
	*flags_r = 0;
	*nnames_r = 0;
	*names_r = names;
	if (names == NULL) {
		*error_r = "Out of memory";
		return -1;
	}
	if (imap_arg_get_atom(arg, &f))
		return flag_add(s, f, flags_r, names, nnames_r, error_r);
	if (!imap_arg_get_list(arg, &list, &count)) {
		*error_r = "Invalid flag list";
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		if (!imap_arg_get_atom(&list[i], &f)) {
			*error_r = "Invalid flag";
			return -1;
		}
		if (flag_add(s, f, flags_r, names, nnames_r, error_r) != 0)
			return -1;
	}
	return 0;
}

int
imap__flags_write(struct nbuf *out, uint32_t flags, uint64_t keywords, const struct cmd_str *names,
                  size_t nnames, int recent)
{
	int first = 1;
	nbuf_puts(out, "(");
	for (size_t i = 0; i < ARRAY_SIZE(system_flags); i++) {
		if (!(flags & system_flags[i].bit))
			continue;
		nbuf_printf(out, "%s%s", first ? "" : " ", system_flags[i].name);
		first = 0;
	}
	if (recent) {
		nbuf_printf(out, "%s\\Recent", first ? "" : " ");
		first = 0;
	}
	for (size_t i = 0; i < nnames && i < 64; i++) {
		if (!((keywords >> i) & 1))
			continue;
		if (!first)
			nbuf_puts(out, " ");
		nbuf_append(out, names[i].p, names[i].len);
		first = 0;
	}
	return nbuf_puts(out, ")");
}

void
imap__flags_announce(struct imap_session *s, const struct cmd_str *names, size_t n, bool readonly)
{
	struct nbuf line;
	nbuf_init(&line, 64 * 1024);
	nbuf_puts(&line, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (size_t i = 0; i < n; i++) {
		nbuf_puts(&line, " ");
		nbuf_append(&line, names[i].p, names[i].len);
	}
	nbuf_puts(&line, ")\r\n");
	if (readonly) {
		nbuf_puts(&line, "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
	} else {
		nbuf_puts(&line,
		          "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
		for (size_t i = 0; i < n; i++) {
			nbuf_puts(&line, " ");
			nbuf_append(&line, names[i].p, names[i].len);
		}
		/* New keywords may be created while the mailbox has room. */
		nbuf_puts(&line, n < CMD_KEYWORDS_MAX ? " \\*)] Flags permitted\r\n"
		                                      : ")] Flags permitted\r\n");
	}
	imap__write(s, nbuf_head(&line), nbuf_avail(&line));
	nbuf_deinit(&line);
}

/* --- special use ----------------------------------------------------- */

static const struct {
	uint32_t bit;
	const char *name;
	const char *xlist;
} special_uses[] = {
        {SPECIAL_ALL, "\\All", "\\AllMail"},      {SPECIAL_ARCHIVE, "\\Archive", "\\Archive"},
        {SPECIAL_DRAFTS, "\\Drafts", "\\Drafts"}, {SPECIAL_FLAGGED, "\\Flagged", "\\Starred"},
        {SPECIAL_JUNK, "\\Junk", "\\Spam"},       {SPECIAL_SENT, "\\Sent", "\\Sent"},
        {SPECIAL_TRASH, "\\Trash", "\\Trash"},    {SPECIAL_IMPORTANT, "\\Important", "\\Important"},
};

uint32_t
imap__special_use_bit(const char *attr)
{
	for (size_t i = 0; i < ARRAY_SIZE(special_uses); i++)
		if (ascii_strcasecmp(attr, special_uses[i].name) == 0)
			return special_uses[i].bit;
	return 0;
}

void
imap__special_use_write(struct nbuf *out, uint32_t bits, bool xlist)
{
	for (size_t i = 0; i < ARRAY_SIZE(special_uses); i++)
		if (bits & special_uses[i].bit)
			nbuf_printf(out, " %s",
			            xlist ? special_uses[i].xlist : special_uses[i].name);
}

/* --- date-time ------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int
digits(const char *s, size_t n, unsigned *v_r)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*v_r = v;
	return 0;
}

int
imap__datetime_parse(const char *s, size_t len, int64_t *t_r)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	unsigned day, mon = 0, year, hh, mm, ss, zh, zm;
	/* date-day-fixed: " 7" or "07"; a lone "7" is accepted too. */
	if (len > 0 && s[0] == ' ') {
		s++;
		len--;
	}
	size_t dl = len > 1 && s[1] == '-' ? 1 : 2;
	if (len != dl + 24 || digits(s, dl, &day) != 0)
		return -1;
	const char *p = s + dl;
	if (p[0] != '-' || p[4] != '-' || p[9] != ' ' || p[12] != ':' || p[15] != ':' ||
	    p[18] != ' ' || (p[19] != '+' && p[19] != '-'))
		return -1;
	for (unsigned i = 0; i < 12; i++)
		if (ascii_strncasecmp(p + 1, months + 3 * i, 3) == 0)
			mon = i + 1;
	if (mon == 0 || digits(p + 5, 4, &year) != 0 || digits(p + 10, 2, &hh) != 0 ||
	    digits(p + 13, 2, &mm) != 0 || digits(p + 16, 2, &ss) != 0 ||
	    digits(p + 20, 2, &zh) != 0 || digits(p + 22, 2, &zm) != 0)
		return -1;
	if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || zm > 59 || year < 1900)
		return -1;
	int64_t t = days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss;
	int64_t zone = (int64_t)(zh * 3600 + zm * 60);
	*t_r = p[19] == '+' ? t - zone : t + zone;
	return 0;
}
