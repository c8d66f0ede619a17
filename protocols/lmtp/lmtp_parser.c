/*
 * lmtp_parser: verbs, MAIL FROM and RCPT TO paths and parameters, BDAT.
 *
 * Paths follow RFC 5321 §4.1.2: "<" [ A-d-l ":" ] Mailbox ">" with a
 * dot-string or quoted-string local part and a domain or address literal;
 * a source route is accepted and ignored (§4.1.1.3, appendix C); a quoted
 * local part that is a plain dot-string once unquoted is returned
 * unquoted (the two forms name the same mailbox). RCPT TO:<Postmaster>
 * without a domain is accepted (§4.5.1). UTF-8 is allowed in addresses
 * only after SMTPUTF8 (RFC 6531 §3.3); without it an 8-bit address is
 * refused with 553 5.6.7 (RFC 6531 §3.7.4.2 / RFC 6533 §3).
 *
 * Deliberate leniency: spaces after "FROM:"/"TO:" are skipped (common
 * clients send them). XXX RFC 5321 §4.1.2: no space is allowed there.
 *
 * Parameters: MAIL takes SIZE=n (RFC 1870 §5), BODY=7BIT|8BITMIME
 * (RFC 1652 §3; BINARYMIME is refused, we do not offer it: RFC 3030 §3),
 * SMTPUTF8 (RFC 6531 §3.4). Anything else is 555 5.5.4 (RFC 5321
 * §4.1.1.11); a parameter given twice is 501 5.5.4.
 */
#include "protocols/lmtp/lmtp_parser.h"

#include <string.h>

#include "node/lib/util.h"

#define R_MAIL_SYNTAX "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]"
#define R_RCPT_SYNTAX "501 5.5.4 Syntax: RCPT TO:<address>"
#define R_BAD_SENDER  "501 5.1.7 Bad sender address syntax"
#define R_BAD_RCPT    "501 5.1.3 Bad recipient address syntax"
#define R_TOO_LONG    "501 5.5.4 Path too long"
#define R_UTF8        "553 5.6.7 Non-ASCII address needs SMTPUTF8"
#define R_PARAM       "555 5.5.4 Unsupported parameter"
#define R_PARAM_DUP   "501 5.5.4 Parameter given twice"
#define R_PARAMS      "501 5.5.4 Too many parameters"
#define R_PARAM_SYN   "501 5.5.4 Bad parameter syntax"
#define R_SIZE        "501 5.5.4 Bad SIZE value"
#define R_BODY        "501 5.5.4 Bad BODY value"
#define R_BINARY      "555 5.5.4 BODY=BINARYMIME is not supported"

static const struct {
	const char *name;
	enum lmtp_verb verb;
} verbs[] = {
        {"LHLO", LMTP_V_LHLO}, {"HELO", LMTP_V_HELO},         {"EHLO", LMTP_V_EHLO},
        {"MAIL", LMTP_V_MAIL}, {"RCPT", LMTP_V_RCPT},         {"DATA", LMTP_V_DATA},
        {"BDAT", LMTP_V_BDAT}, {"RSET", LMTP_V_RSET},         {"NOOP", LMTP_V_NOOP},
        {"QUIT", LMTP_V_QUIT}, {"VRFY", LMTP_V_VRFY},         {"EXPN", LMTP_V_EXPN},
        {"HELP", LMTP_V_HELP}, {"STARTTLS", LMTP_V_STARTTLS},
};

void
lmtp_parse_verb(const char *line, size_t len, enum lmtp_verb *verb_r, const char **arg_r,
                size_t *arglen_r)
{
	size_t v = 0;
	while (v < len && line[v] != ' ')
		v++;
	*verb_r = LMTP_V_UNKNOWN;
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
		if (strlen(verbs[i].name) == v && ascii_strncasecmp(line, verbs[i].name, v) == 0) {
			*verb_r = verbs[i].verb;
			break;
		}
	}
	size_t a = v;
	while (a < len && line[a] == ' ')
		a++;
	/* Trailing spaces are not part of the argument. */
	size_t end = len;
	while (end > a && line[end - 1] == ' ')
		end--;
	*arg_r = line + a;
	*arglen_r = end - a;
}

/* --- paths ----------------------------------------------------------- */

static int
is_atext(unsigned char c)
{
	if (c >= 0x80)
		return 1; /* UTF8-non-ascii (RFC 6531 §3.3); the caller checks SMTPUTF8 */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int
is_dot_string(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return 0;
		} else if (!is_atext((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

struct path_out {
	char *buf; /* LMTP_PATH_MAX + 1 */
	size_t len;
	int eightbit;
};

static int
out_put(struct path_out *o, const char *p, size_t n)
{
	if (o->len + n > LMTP_PATH_MAX)
		return -1;
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	o->buf[o->len] = '\0';
	return 0;
}

/* A quoted-string at s[*pos] (the opening quote). Appends the local part,
 * unquoted when it is a dot-string once unquoted. */
static int
parse_quoted(const char *s, size_t len, size_t *pos, struct path_out *o)
{
	char content[LMTP_PATH_MAX + 1];
	size_t n = 0, start = *pos, i = *pos + 1;
	for (;;) {
		if (i >= len || n >= LMTP_PATH_MAX)
			return -1;
		unsigned char c = (unsigned char)s[i];
		if (c == '"')
			break;
		if (c == '\\') {
			if (i + 1 >= len || (unsigned char)s[i + 1] < 32 || s[i + 1] == 127)
				return -1;
			c = (unsigned char)s[++i];
		} else if (c < 32 || c == 127) {
			return -1;
		}
		if (c >= 0x80)
			o->eightbit = 1;
		content[n++] = (char)c;
		i++;
	}
	*pos = i + 1;
	if (is_dot_string(content, n))
		return out_put(o, content, n);
	return out_put(o, s + start, *pos - start); /* keep the quoted form */
}

static int
parse_dot_string(const char *s, size_t len, size_t *pos, struct path_out *o)
{
	size_t start = *pos, i = *pos;
	while (i < len && (is_atext((unsigned char)s[i]) || s[i] == '.')) {
		if ((unsigned char)s[i] >= 0x80)
			o->eightbit = 1;
		i++;
	}
	if (!is_dot_string(s + start, i - start))
		return -1;
	*pos = i;
	return out_put(o, s + start, i - start);
}

static int
parse_domain(const char *s, size_t len, size_t *pos, struct path_out *o)
{
	size_t start = *pos, i = *pos;
	if (i < len && s[i] == '[') {
		/* Address literal (§4.1.3). XXX RFC 5321 §4.1.3: a general
		 * literal's dcontent may hold any of %d33-90 / %d94-126; we
		 * take what IPv4, "IPv6:" and tagged literals use, so that
		 * nothing like '<' reaches a header. */
		i++;
		while (i < len && s[i] != ']') {
			char c = s[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '.' || c == ':' || c == '-'))
				return -1;
			i++;
		}
		if (i >= len || i == start + 1)
			return -1;
		i++;
	} else {
		int label = 0;
		while (i < len) {
			unsigned char c = (unsigned char)s[i];
			if (c == '.') {
				if (label == 0)
					return -1;
				label = 0;
			} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			           (c >= '0' && c <= '9') || c == '-' || c >= 0x80) {
				if (c >= 0x80)
					o->eightbit = 1;
				label++;
			} else {
				break;
			}
			i++;
		}
		if (label == 0)
			return -1;
	}
	*pos = i;
	return out_put(o, s + start, i - start);
}

/* "<" [route ":"] mailbox ">" at s[*pos]. Returns 0, 1 for the null path
 * "<>", 2 for "<Postmaster>", -1 syntax, -2 too long. */
static int
parse_path(const char *s, size_t len, size_t *pos, struct path_out *o)
{
	size_t i = *pos, start = *pos;
	o->len = 0;
	o->buf[0] = '\0';
	if (i >= len || s[i] != '<')
		return -1;
	i++;
	if (i < len && s[i] == '>') {
		*pos = i + 1;
		return 1;
	}
	if (i < len && s[i] == '@') {
		/* A-d-l: ignored (RFC 5321 §4.1.1.3). */
		while (i < len && s[i] != ':' && s[i] != '>' && s[i] != ' ')
			i++;
		if (i >= len || s[i] != ':')
			return -1;
		i++;
	}
	int rc = (i < len && s[i] == '"') ? parse_quoted(s, len, &i, o)
	                                  : parse_dot_string(s, len, &i, o);
	if (rc != 0)
		return o->len >= LMTP_PATH_MAX ? -2 : -1;
	if (i < len && s[i] == '>' && ascii_strcasecmp(o->buf, "postmaster") == 0) {
		*pos = i + 1;
		return 2;
	}
	if (i >= len || s[i] != '@')
		return -1;
	if (out_put(o, "@", 1) != 0)
		return -2;
	i++;
	if (parse_domain(s, len, &i, o) != 0)
		return o->len >= LMTP_PATH_MAX ? -2 : -1;
	if (i >= len || s[i] != '>')
		return -1;
	i++;
	if (i - start > LMTP_PATH_MAX)
		return -2;
	*pos = i;
	return 0;
}

/* --- parameters ------------------------------------------------------ */

struct param {
	const char *key, *val;
	size_t klen, vlen;
};

/* The parameters after the path: (SP+ keyword ["=" value])*. Returns the
 * count, or -1 (syntax) / -2 (too many). */
static int
parse_params(const char *s, size_t len, size_t pos, struct param *pv)
{
	int n = 0;
	while (pos < len) {
		if (s[pos] != ' ')
			return -1;
		while (pos < len && s[pos] == ' ')
			pos++;
		if (pos == len)
			break;
		if (n == LMTP_PARAMS_MAX)
			return -2;
		struct param *p = &pv[n++];
		p->key = s + pos;
		while (pos < len && s[pos] != ' ' && s[pos] != '=') {
			char c = s[pos];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || (c == '-' && pos > (size_t)(p->key - s))))
				return -1;
			pos++;
		}
		p->klen = (size_t)(s + pos - p->key);
		p->val = NULL;
		p->vlen = 0;
		if (p->klen == 0)
			return -1;
		if (pos < len && s[pos] == '=') {
			p->val = s + ++pos;
			while (pos < len && s[pos] != ' ') {
				unsigned char c = (unsigned char)s[pos];
				if (c < 33 || c == '=' || c == 127)
					return -1;
				pos++;
			}
			p->vlen = (size_t)(s + pos - p->val);
			if (p->vlen == 0)
				return -1;
		}
	}
	return n;
}

static int
key_is(const struct param *p, const char *name)
{
	return p->klen == strlen(name) && ascii_strncasecmp(p->key, name, p->klen) == 0;
}

static int
val_is(const struct param *p, const char *v)
{
	return p->val && p->vlen == strlen(v) && ascii_strncasecmp(p->val, v, p->vlen) == 0;
}

static int
mail_param(struct lmtp_mail *m, const struct param *p, unsigned *seen, const char **reply_r)
{
	unsigned bit;
	if (key_is(p, "SIZE"))
		bit = 1;
	else if (key_is(p, "BODY"))
		bit = 2;
	else if (key_is(p, "SMTPUTF8"))
		bit = 4;
	else
		return *reply_r = R_PARAM, -1;
	if (*seen & bit)
		return *reply_r = R_PARAM_DUP, -1;
	*seen |= bit;
	switch (bit) {
	case 1:
		/* RFC 1870 §5: size-value is 1*20DIGIT. */
		if (p->val == NULL || p->vlen > 20 ||
		    parse_u64n(p->val, p->vlen, UINT64_MAX, &m->size) != 0)
			return *reply_r = R_SIZE, -1;
		m->has_size = 1;
		return 0;
	case 2:
		if (val_is(p, "7BIT"))
			m->body = LMTP_BODY_7BIT;
		else if (val_is(p, "8BITMIME"))
			m->body = LMTP_BODY_8BITMIME;
		else if (val_is(p, "BINARYMIME"))
			return *reply_r = R_BINARY, -1;
		else
			return *reply_r = R_BODY, -1;
		return 0;
	default:
		if (p->val != NULL)
			return *reply_r = R_PARAM_SYN, -1;
		m->smtputf8 = 1;
		return 0;
	}
}

/* "FROM:" / "TO:" and the spaces we tolerate after it. */
static int
skip_prefix(const char *arg, size_t len, const char *prefix, size_t *pos_r)
{
	size_t n = strlen(prefix);
	if (len < n || ascii_strncasecmp(arg, prefix, n) != 0)
		return -1;
	while (n < len && arg[n] == ' ')
		n++;
	*pos_r = n;
	return 0;
}

int
lmtp_parse_mail(const char *arg, size_t len, struct lmtp_mail *m_r, const char **reply_r)
{
	memset(m_r, 0, sizeof(*m_r));
	size_t pos;
	if (skip_prefix(arg, len, "FROM:", &pos) != 0)
		return *reply_r = R_MAIL_SYNTAX, -1;
	struct path_out o = {.buf = m_r->address};
	int rc = parse_path(arg, len, &pos, &o);
	if (rc == -2)
		return *reply_r = R_TOO_LONG, -1;
	if (rc < 0 || rc == 2)
		return *reply_r = R_BAD_SENDER, -1;
	if (rc == 1)
		m_r->address[0] = '\0';
	struct param pv[LMTP_PARAMS_MAX];
	int n = parse_params(arg, len, pos, pv);
	if (n == -2)
		return *reply_r = R_PARAMS, -1;
	if (n < 0)
		return *reply_r = R_MAIL_SYNTAX, -1;
	unsigned seen = 0;
	for (int i = 0; i < n; i++)
		if (mail_param(m_r, &pv[i], &seen, reply_r) != 0)
			return -1;
	if (o.eightbit && !m_r->smtputf8)
		return *reply_r = R_UTF8, -1;
	return 0;
}

int
lmtp_parse_rcpt(const char *arg, size_t len, int smtputf8, struct lmtp_rcpt *r_r,
                const char **reply_r)
{
	memset(r_r, 0, sizeof(*r_r));
	size_t pos;
	if (skip_prefix(arg, len, "TO:", &pos) != 0)
		return *reply_r = R_RCPT_SYNTAX, -1;
	struct path_out o = {.buf = r_r->address};
	int rc = parse_path(arg, len, &pos, &o);
	if (rc == -2)
		return *reply_r = R_TOO_LONG, -1;
	if (rc < 0 || rc == 1)
		return *reply_r = R_BAD_RCPT, -1;
	struct param pv[LMTP_PARAMS_MAX];
	int n = parse_params(arg, len, pos, pv);
	if (n == -2)
		return *reply_r = R_PARAMS, -1;
	if (n < 0)
		return *reply_r = R_RCPT_SYNTAX, -1;
	if (n > 0) /* no RCPT parameter is offered (no DSN) */
		return *reply_r = R_PARAM, -1;
	if (o.eightbit && !smtputf8)
		return *reply_r = R_UTF8, -1;
	return 0;
}

int
lmtp_parse_bdat(const char *arg, size_t len, uint64_t *size_r, int *last_r)
{
	size_t d = 0;
	while (d < len && arg[d] >= '0' && arg[d] <= '9')
		d++;
	if (d == 0 || d > 19 || parse_u64n(arg, d, LMTP_BDAT_SIZE_MAX, size_r) != 0)
		return -1;
	*last_r = 0;
	if (d == len)
		return 0;
	size_t k = d;
	while (k < len && arg[k] == ' ')
		k++;
	if (k == d || len - k != 4 || ascii_strncasecmp(arg + k, "LAST", 4) != 0)
		return -1;
	*last_r = 1;
	return 0;
}
