/*
 * imapurl: parsing IMAP URLs to a message part (RFC 5092 §5, §6; RFC 4467
 * §6 URLAUTH; RFC 3339 §5.6 for ;EXPIRE). See imapurl.h.
 *
 * Happy path: the URL is split at its keywords, left to right: server
 * (imap://[user[;AUTH=...]@]host[:port]), then the mailbox up to
 * ";UIDVALIDITY=" or "/;UID=", the UID, the optional section and partial
 * range, then ";EXPIRE=" and ";URLAUTH=" with the access identifier and,
 * in a full URLAUTH URL, ":mechanism:token". Every percent escape is
 * checked; numbers are nz-number (no leading zero, below 2^32).
 *
 * Failure modes: anything else is -1 with a text; the callers answer
 * [BADURL] (CATENATE), NO (GENURLAUTH) or NIL (URLFETCH). Nothing here
 * allocates beyond the caller's arena, and input longer than IMAP_URL_MAX
 * is refused first.
 * XXX RFC 5092 §7: relative URLs other than an absolute path ("/...") are
 * refused, as are message lists (";UID=" is required) and enc-mailbox in
 * modified UTF-7: names are percent-encoded UTF-8 (RFC 5092 §3.2 bchar).
 */
#include "protocols/imap/imapurl.h"

#include <string.h>
#include <time.h>

#include "node/lib/util.h"

struct url_cur {
	const char *p, *end;
};

static int
url_fail(const char **error_r, const char *text)
{
	*error_r = text;
	return -1;
}

/* A keyword (case-insensitive) at the cursor: taken, 1; else 0. */
static int
url_kw(struct url_cur *c, const char *kw)
{
	size_t n = strlen(kw);
	if ((size_t)(c->end - c->p) < n || ascii_strncasecmp(c->p, kw, n) != 0)
		return 0;
	c->p += n;
	return 1;
}

static int
url_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)ascii_tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode [s, e) into a NUL-terminated arena string; NUL bytes
 * and broken escapes are refused. */
static const char *
url_decode(struct arena *a, const char *s, const char *e)
{
	char *out = arena_alloc(a, (size_t)(e - s) + 1), *o = out;
	if (out == NULL)
		return NULL;
	while (s < e) {
		if (*s != '%') {
			*o++ = *s++;
			continue;
		}
		int h, l;
		if (e - s < 3 || (h = url_hex(s[1])) < 0 || (l = url_hex(s[2])) < 0 ||
		    (h == 0 && l == 0))
			return NULL;
		*o++ = (char)(h << 4 | l);
		s += 3;
	}
	*o = '\0';
	return out;
}

/* nz-number at the cursor (RFC 3501 §9), below 2^32. */
static int
url_nz(struct url_cur *c, uint32_t *v_r)
{
	uint64_t v = 0;
	if (c->p == c->end || *c->p < '1' || *c->p > '9')
		return -1;
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
		v = v * 10 + (uint64_t)(*c->p++ - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*v_r = (uint32_t)v;
	return 0;
}

/* Where the next of the given stops is (or the end). */
static const char *
url_until(const struct url_cur *c, const char *const *stops, size_t nstops)
{
	for (const char *p = c->p; p < c->end; p++) {
		for (size_t i = 0; i < nstops; i++) {
			size_t n = strlen(stops[i]);
			if ((size_t)(c->end - p) >= n && ascii_strncasecmp(p, stops[i], n) == 0)
				return p;
		}
	}
	return c->end;
}

static int
url_digits(const char **p, const char *end, size_t n, int *v_r)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (*p >= end || **p < '0' || **p > '9')
			return -1;
		v = v * 10 + (*(*p)++ - '0');
	}
	*v_r = v;
	return 0;
}

/* RFC 3339 date-time: 2006-01-01T00:00:00[.frac](Z|+hh:mm|-hh:mm). */
static int
url_datetime(const char *s, const char *end, int64_t *t_r)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, oh = 0, om = 0;
	memset(&tm, 0, sizeof(tm));
	if (url_digits(&s, end, 4, &y) || s >= end || *s++ != '-' || url_digits(&s, end, 2, &mo) ||
	    s >= end || *s++ != '-' || url_digits(&s, end, 2, &d) || s >= end ||
	    (*s != 'T' && *s != 't'))
		return -1;
	s++;
	if (url_digits(&s, end, 2, &h) || s >= end || *s++ != ':' || url_digits(&s, end, 2, &mi) ||
	    s >= end || *s++ != ':' || url_digits(&s, end, 2, &sec))
		return -1;
	if (s < end && *s == '.') {
		if (++s >= end || *s < '0' || *s > '9')
			return -1;
		while (s < end && *s >= '0' && *s <= '9')
			s++;
	}
	int sign = 0;
	if (s < end && (*s == 'Z' || *s == 'z')) {
		s++;
	} else if (s < end && (*s == '+' || *s == '-')) {
		sign = *s++ == '+' ? 1 : -1;
		if (url_digits(&s, end, 2, &oh) || s >= end || *s++ != ':' ||
		    url_digits(&s, end, 2, &om) || oh > 23 || om > 59)
			return -1;
	} else {
		return -1;
	}
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (s != end || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    sec > 60)
		return -1;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -1; /* a date that does not exist, not the next day's */
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*t_r = (int64_t)timegm(&tm) - sign * (oh * 3600 + om * 60);
	return 0;
}

/* ;EXPIRE=...;URLAUTH=access[:mech:token] at the cursor (RFC 4467 §6). */
static int
url_auth(struct arena *a, const char *start, struct url_cur *c, struct imap_url *u,
         const char **error_r)
{
	if (url_kw(c, ";EXPIRE=")) {
		static const char *const stops[] = {";URLAUTH="};
		const char *e = url_until(c, stops, 1);
		if (url_datetime(c->p, e, &u->expire) != 0)
			return url_fail(error_r, "Invalid EXPIRE");
		u->has_expire = true;
		c->p = e;
	}
	if (c->p == c->end) {
		if (u->has_expire)
			return url_fail(error_r, "EXPIRE without URLAUTH");
		return 0;
	}
	if (!url_kw(c, ";URLAUTH="))
		return url_fail(error_r, "Unexpected text in URL");
	const char *colon = memchr(c->p, ':', (size_t)(c->end - c->p));
	const char *e = colon ? colon : c->end;
	/* access = ("submit+" / "user+") enc-user / "authuser" / "anonymous" */
	if ((u->access = url_decode(a, c->p, e)) == NULL || u->access[0] == '\0')
		return url_fail(error_r, "Invalid URLAUTH access");
	int ok = ascii_strcasecmp(u->access, "authuser") == 0 ||
	         ascii_strcasecmp(u->access, "anonymous") == 0 ||
	         (ascii_strncasecmp(u->access, "submit+", 7) == 0 && u->access[7] != '\0') ||
	         (ascii_strncasecmp(u->access, "user+", 5) == 0 && u->access[5] != '\0');
	if (!ok)
		return url_fail(error_r, "Invalid URLAUTH access");
	u->rump_len = (size_t)(e - start);
	c->p = e;
	if (c->p == c->end)
		return 0;
	/* ":" uauth-mechanism ":" enc-urlauth (32 or more hex digits) */
	const char *m = ++c->p, *m2 = memchr(m, ':', (size_t)(c->end - m));
	if (m2 == NULL || m2 == m)
		return url_fail(error_r, "Invalid URLAUTH mechanism");
	for (const char *q = m; q < m2; q++)
		if (!((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') ||
		      (*q >= '0' && *q <= '9') || *q == '-' || *q == '.'))
			return url_fail(error_r, "Invalid URLAUTH mechanism");
	if (c->end - (m2 + 1) < 32)
		return url_fail(error_r, "Invalid URLAUTH token");
	for (const char *q = m2 + 1; q < c->end; q++)
		if (url_hex(*q) < 0)
			return url_fail(error_r, "Invalid URLAUTH token");
	if ((u->mechanism = arena_strndup(a, m, (size_t)(m2 - m))) == NULL ||
	    (u->token = arena_strndup(a, m2 + 1, (size_t)(c->end - m2 - 1))) == NULL)
		return url_fail(error_r, "URL too long");
	c->p = c->end;
	return 0;
}

static int
url_server(struct arena *a, struct url_cur *c, struct imap_url *u, const char **error_r)
{
	const char *slash = memchr(c->p, '/', (size_t)(c->end - c->p));
	if (slash == NULL)
		return url_fail(error_r, "URL names no message");
	const char *at = NULL;
	for (const char *q = c->p; q < slash; q++)
		if (*q == '@')
			at = q;
	const char *hs = c->p;
	if (at != NULL) {
		static const char *const stops[] = {";AUTH="};
		struct url_cur uc = {c->p, at};
		const char *ue = url_until(&uc, stops, 1);
		if (ue == c->p || (u->user = url_decode(a, c->p, ue)) == NULL || u->user[0] == '\0')
			return url_fail(error_r, "Invalid user in URL");
		hs = at + 1;
	}
	if (hs == slash)
		return url_fail(error_r, "URL names no server");
	for (const char *q = hs; q < slash; q++)
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
			return url_fail(error_r, "Invalid server in URL");
	if ((u->host = arena_strndup(a, hs, (size_t)(slash - hs))) == NULL)
		return url_fail(error_r, "URL too long");
	c->p = slash;
	return 0;
}

int
imap_url_parse(struct arena *a, const char *s, size_t len, struct imap_url *u, const char **error_r)
{
	struct url_cur c = {s, s + len};
	memset(u, 0, sizeof(*u));
	if (len == 0 || len > IMAP_URL_MAX || memchr(s, '\0', len) != NULL)
		return url_fail(error_r, "Invalid URL");
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] == 0x7f)
			return url_fail(error_r, "Invalid character in URL");
	if (url_kw(&c, "imap://")) {
		u->absolute = true;
		if (url_server(a, &c, u, error_r) != 0)
			return -1;
	}
	if (c.p == c.end || *c.p != '/')
		return url_fail(error_r, "Not an IMAP URL to a message");
	c.p++;
	static const char *const mstops[] = {";UIDVALIDITY=", "/;UID="};
	const char *me = url_until(&c, mstops, 2);
	if (me == c.p || (u->mailbox = url_decode(a, c.p, me)) == NULL || u->mailbox[0] == '\0')
		return url_fail(error_r, "Invalid mailbox in URL");
	c.p = me;
	if (url_kw(&c, ";UIDVALIDITY=") && url_nz(&c, &u->uidvalidity) != 0)
		return url_fail(error_r, "Invalid UIDVALIDITY in URL");
	if (!url_kw(&c, "/;UID=") || url_nz(&c, &u->uid) != 0)
		return url_fail(error_r, "URL names no message UID");
	if (url_kw(&c, "/;SECTION=")) {
		static const char *const sstops[] = {"/;PARTIAL=", ";EXPIRE=", ";URLAUTH="};
		const char *se = url_until(&c, sstops, 3);
		if (se == c.p || (u->section = url_decode(a, c.p, se)) == NULL)
			return url_fail(error_r, "Invalid SECTION in URL");
		c.p = se;
	}
	if (url_kw(&c, "/;PARTIAL=")) {
		uint64_t off = 0;
		uint32_t l = 0;
		if (c.p == c.end || *c.p < '0' || *c.p > '9')
			return url_fail(error_r, "Invalid PARTIAL in URL");
		while (c.p < c.end && *c.p >= '0' && *c.p <= '9') {
			off = off * 10 + (uint64_t)(*c.p++ - '0');
			if (off > UINT32_MAX)
				return url_fail(error_r, "Invalid PARTIAL in URL");
		}
		if (c.p < c.end && *c.p == '.') {
			c.p++;
			if (url_nz(&c, &l) != 0)
				return url_fail(error_r, "Invalid PARTIAL in URL");
		}
		u->has_partial = true;
		u->partial_off = off;
		u->partial_len = l;
	}
	return url_auth(a, s, &c, u, error_r);
}
