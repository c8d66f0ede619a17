/*
 * search_parse: SEARCH arguments to a program (RFC 3501 §6.4.4 and §9
 * search-key; RFC 9051 §6.4.4; "$" of RFC 5182 SEARCHRES; OLDER and
 * YOUNGER of RFC 5032 §3; MODSEQ of RFC 7162 §3.1.5; SAVEDBEFORE,
 * SAVEDON, SAVEDSINCE and SAVEDATESUPPORTED of RFC 8514 §4.3).
 *
 * Happy path: "CHARSET UTF-8 OR (FROM alice UNSEEN) SUBJECT x" becomes a
 * tree of nodes in the caller's arena: the top level and every
 * parenthesised list are ANDs, OR has two children, NOT one. Strings are
 * folded (search_fold.c) once, here. Each AND's children are then ordered
 * cheapest first (record, then header, then body keys) and each OR's two
 * children likewise, so that evaluation, which short-circuits, reads a
 * message's header or body only when the flags, dates, sizes and numbers
 * have not settled the answer already.
 *
 * Failure modes: BAD for syntax (unknown key, missing or malformed
 * argument, empty list), for nesting deeper than IMAP_SEARCH_DEPTH_MAX
 * (NOT, OR and lists count alike; the recursion is bounded by that depth,
 * whatever the IMAP parser let through), more than IMAP_SEARCH_KEYS_MAX
 * keys, strings longer than IMAP_SEARCH_STRING_MAX or streamed, and
 * arena exhaustion. NO [BADCHARSET (UTF-8 US-ASCII)] for another charset.
 * XXX RFC 3501 §6.4.4: US-ASCII strings with 8-bit bytes are taken as
 * UTF-8 rather than refused; KEYWORD accepts the system flags (\Seen...)
 * as the flag they name, as other servers do.
 * EMAILID and THREADID (RFC 8474 §6) take an objectid and match the
 * messages whose FETCH EMAILID or THREADID it is (an id that is not of
 * the form mailnode gives matches none). With
 * IMAP_SEARCH_REV2, NEW, OLD and RECENT are refused (RFC 9051 has no
 * \Recent); with IMAP_SEARCH_UTF8, CHARSET is (RFC 6855 §3).
 * MODSEQ's optional entry name and type ("/flags/\draft" all) are checked
 * and then ignored: the store keeps one MODSEQ per message, which RFC 7162
 * §3.1.5 allows ("MUST ignore" them then). SAVEDATESUPPORTED matches every
 * message: every mailbox keeps save dates.
 */
#include "protocols/imap/search_int.h"

#include <string.h>

#include "node/lib/util.h"

struct search_parser {
	struct arena *a;
	const char *error;
	size_t nkeys;
	unsigned needs;
	unsigned flags; /* IMAP_SEARCH_* */
};

static int
search_fail(struct search_parser *p, const char *error)
{
	if (p->error == NULL)
		p->error = error;
	return -1;
}

static struct imap__search_node *
search_node_new(struct search_parser *p, enum imap__search_op op)
{
	if (++p->nkeys > IMAP_SEARCH_KEYS_MAX) {
		search_fail(p, "Too many search keys");
		return NULL;
	}
	struct imap__search_node *n = arena_zalloc(p->a, sizeof(*n));
	if (n == NULL) {
		search_fail(p, "Search program too large");
		return NULL;
	}
	n->op = (uint8_t)op;
	n->recent = -1;
	return n;
}

static const struct imap_arg *
search_take(struct search_parser *p, const struct imap_arg *args, size_t argc, size_t *i)
{
	if (*i >= argc || args[*i].type == IMAP_ARG_EOL) {
		search_fail(p, "Missing search key argument");
		return NULL;
	}
	return &args[(*i)++];
}

static int
search_string(struct search_parser *p, const struct imap_arg *arg, const char **s_r, size_t *len_r)
{
	if (arg->type == IMAP_ARG_LITERAL && arg->str == NULL)
		return search_fail(p, "Search string too long");
	if (!imap_arg_get_astring(arg, s_r, len_r))
		return search_fail(p, "Invalid search string");
	if (*len_r > IMAP_SEARCH_STRING_MAX)
		return search_fail(p, "Search string too long");
	return 0;
}

/* A folded needle for HEADER, BODY and TEXT. */
static int
search_needle(struct search_parser *p, const struct imap_arg *arg, struct imap__search_node *n)
{
	const char *s;
	size_t len;
	if (search_string(p, arg, &s, &len) != 0)
		return -1;
	char *f = arena_alloc(p->a, IMAP__FOLD_ROOM(len));
	if (f == NULL)
		return search_fail(p, "Search program too large");
	n->nlen = imap__search_fold(s, len, f);
	n->needle = f;
	return 0;
}

int64_t
imap__search_days(int64_t y, unsigned m, unsigned d)
{
	/* days from civil, proleptic Gregorian (H. Hinnant) */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int64_t
imap__search_day_of(int64_t t)
{
	return t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
}

/* date-text = date-day "-" date-month "-" date-year, atom or quoted. */
static int
search_date(struct search_parser *p, const struct imap_arg *arg, int64_t *day_r)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	static const unsigned char mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *s;
	size_t len, i = 0;
	if (arg->type == IMAP_ARG_LITERAL || search_string(p, arg, &s, &len) != 0)
		return search_fail(p, "Invalid search date");
	unsigned day = 0, mon = 0, year = 0;
	while (i < len && i < 2 && s[i] >= '0' && s[i] <= '9')
		day = day * 10 + (unsigned)(s[i++] - '0');
	if (i == 0 || i + 9 != len || s[i] != '-' || s[i + 4] != '-')
		return search_fail(p, "Invalid search date");
	for (; mon < 12; mon++)
		if (ascii_strncasecmp(s + i + 1, months + 3 * mon, 3) == 0)
			break;
	for (size_t k = i + 5; k < len; k++) {
		if (s[k] < '0' || s[k] > '9')
			return search_fail(p, "Invalid search date");
		year = year * 10 + (unsigned)(s[k] - '0');
	}
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	if (mon == 12 || day == 0 || day > mdays[mon] || (mon == 1 && day == 29 && !leap))
		return search_fail(p, "Invalid search date");
	*day_r = imap__search_days(year, mon + 1, day);
	return 0;
}

/* A sequence set or "$" into n->set / n->saved. */
static int
search_set(struct search_parser *p, const struct imap_arg *arg, struct imap__search_node *n)
{
	const char *s, *error;
	if (!imap_arg_get_atom(arg, &s))
		return search_fail(p, "Invalid sequence set");
	if (strcmp(s, "$") == 0) {
		n->saved = 1;
		p->needs |= SEARCH_NEED_SAVED;
		return 0;
	}
	if (imap_seqset_parse(p->a, s, arg->len, IMAP_SEQSET_RANGES_MAX, &n->set, &error) != 0)
		return search_fail(p, error);
	if (n->op == SEARCH_OP_SEQ ||
	    (n->set.count > 0 && n->set.ranges[n->set.count - 1].hi == IMAP_SEQ_STAR))
		p->needs |= SEARCH_NEED_SEQ;
	return 0;
}

static const struct {
	const char *name;
	uint32_t flag;
} search_flags[] = {
        {"\\Seen", MSG_SEEN},       {"\\Answered", MSG_ANSWERED}, {"\\Flagged", MSG_FLAGGED},
        {"\\Deleted", MSG_DELETED}, {"\\Draft", MSG_DRAFT},
};

static int
search_keyword(struct search_parser *p, const struct imap_arg *arg, int want,
               struct imap__search_node *n)
{
	const char *s;
	if (!imap_arg_get_atom(arg, &s) || arg->len > IMAP_SEARCH_STRING_MAX)
		return search_fail(p, "Invalid keyword");
	for (size_t i = 0; i < ARRAY_SIZE(search_flags); i++) {
		if (ascii_strcasecmp(s, search_flags[i].name) == 0) {
			n->op = SEARCH_OP_FLAGS;
			*(want ? &n->flags_on : &n->flags_off) = search_flags[i].flag;
			return 0;
		}
	}
	if (ascii_strcasecmp(s, "\\Recent") == 0) {
		n->op = SEARCH_OP_FLAGS;
		n->recent = (int8_t)want;
		return 0;
	}
	if (s[0] == '\\')
		return search_fail(p, "Invalid keyword");
	if ((n->str = arena_strndup(p->a, s, arg->len)) == NULL)
		return search_fail(p, "Search program too large");
	n->want = (uint8_t)want;
	return 0;
}

/* objectid = 1*255(ALPHA / DIGIT / "_" / "-") (RFC 8474 §7) into n->str. */
static int
search_objectid(struct search_parser *p, const struct imap_arg *arg, struct imap__search_node *n)
{
	static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
	const char *id;
	size_t len;
	if (!imap_arg_get_astring(arg, &id, &len) || len == 0 || len > 255 || strspn(id, ok) != len)
		return search_fail(p, "Invalid objectid");
	if ((n->str = arena_strndup(p->a, id, len)) == NULL)
		return search_fail(p, "Search program too large");
	return 0;
}

enum search_kind {
	K_FLAG_ON,
	K_FLAG_OFF,
	K_RECENT,
	K_OLD,
	K_NEW,
	K_ALL,
	K_KEYWORD,
	K_UNKEYWORD,
	K_ADDR,
	K_HEADER,
	K_BODY,
	K_TEXT,
	K_DATE,
	K_SENT,
	K_LARGER,
	K_SMALLER,
	K_UID,
	K_NOT,
	K_OR,
	K_WITHIN,
	K_MODSEQ,
	K_SAVED,
	K_OBJECTID, /* EMAILID, THREADID (RFC 8474 §6) */
};

static const struct {
	const char *name;
	uint8_t kind;
	int8_t cmp;
	uint32_t flag;
	const char *field;
} search_keys[] = {
        {"ALL", K_ALL, 0, 0, NULL},
        {"ANSWERED", K_FLAG_ON, 0, MSG_ANSWERED, NULL},
        {"BCC", K_ADDR, 0, 0, "Bcc"},
        {"BEFORE", K_DATE, -1, 0, NULL},
        {"BODY", K_BODY, 0, 0, NULL},
        {"CC", K_ADDR, 0, 0, "Cc"},
        {"DELETED", K_FLAG_ON, 0, MSG_DELETED, NULL},
        {"DRAFT", K_FLAG_ON, 0, MSG_DRAFT, NULL},
        {"EMAILID", K_OBJECTID, 0, 0, "E"},
        {"FLAGGED", K_FLAG_ON, 0, MSG_FLAGGED, NULL},
        {"FROM", K_ADDR, 0, 0, "From"},
        {"HEADER", K_HEADER, 0, 0, NULL},
        {"KEYWORD", K_KEYWORD, 0, 0, NULL},
        {"LARGER", K_LARGER, 1, 0, NULL},
        {"MODSEQ", K_MODSEQ, 0, 0, NULL},
        {"NEW", K_NEW, 0, 0, NULL},
        {"NOT", K_NOT, 0, 0, NULL},
        {"OLD", K_OLD, 0, 0, NULL},
        {"OLDER", K_WITHIN, -1, 0, NULL},
        {"ON", K_DATE, 0, 0, NULL},
        {"OR", K_OR, 0, 0, NULL},
        {"RECENT", K_RECENT, 0, 0, NULL},
        {"SAVEDATESUPPORTED", K_ALL, 0, 0, NULL},
        {"SAVEDBEFORE", K_SAVED, -1, 0, NULL},
        {"SAVEDON", K_SAVED, 0, 0, NULL},
        {"SAVEDSINCE", K_SAVED, 1, 0, NULL},
        {"SEEN", K_FLAG_ON, 0, MSG_SEEN, NULL},
        {"SENTBEFORE", K_SENT, -1, 0, NULL},
        {"SENTON", K_SENT, 0, 0, NULL},
        {"SENTSINCE", K_SENT, 1, 0, NULL},
        {"SINCE", K_DATE, 1, 0, NULL},
        {"SMALLER", K_SMALLER, -1, 0, NULL},
        {"SUBJECT", K_ADDR, 0, 0, "Subject"},
        {"TEXT", K_TEXT, 0, 0, NULL},
        {"THREADID", K_OBJECTID, 0, 0, "T"},
        {"TO", K_ADDR, 0, 0, "To"},
        {"UID", K_UID, 0, 0, NULL},
        {"UNANSWERED", K_FLAG_OFF, 0, MSG_ANSWERED, NULL},
        {"UNDELETED", K_FLAG_OFF, 0, MSG_DELETED, NULL},
        {"UNDRAFT", K_FLAG_OFF, 0, MSG_DRAFT, NULL},
        {"UNFLAGGED", K_FLAG_OFF, 0, MSG_FLAGGED, NULL},
        {"UNKEYWORD", K_UNKEYWORD, 0, 0, NULL},
        {"UNSEEN", K_FLAG_OFF, 0, MSG_SEEN, NULL},
        {"YOUNGER", K_WITHIN, 1, 0, NULL},
};

static int search_key(struct search_parser *p, const struct imap_arg *args, size_t argc, size_t *i,
                      unsigned depth, struct imap__search_node **n_r);

/* Keys up to EOL (or argc) as the children of a new AND node. */
static int
search_list(struct search_parser *p, const struct imap_arg *args, size_t argc, unsigned depth,
            struct imap__search_node **n_r)
{
	struct imap__search_node *and = search_node_new(p, SEARCH_OP_AND), **tail;
	if (and == NULL)
		return -1;
	tail = &and->child;
	size_t i = 0;
	while (i < argc && args[i].type != IMAP_ARG_EOL) {
		if (search_key(p, args, argc, &i, depth, tail) != 0)
			return -1;
		tail = &(*tail)->next;
	}
	if (and->child == NULL)
		return search_fail(p, "Empty search key list");
	*n_r = and;
	return 0;
}

/* MODSEQ [entry-name entry-type-req] mod-sequence-valzer (RFC 7162 §3.1.5,
 * §7): entry-name "/flags/" attr-flag, entry-type-req priv, shared or all. */
static int
search_modseq(struct search_parser *p, const struct imap_arg *args, size_t argc, size_t *i,
              struct imap__search_node *n)
{
	const struct imap_arg *arg = search_take(p, args, argc, i);
	const char *s;
	size_t len;
	if (arg == NULL)
		return -1;
	if (arg->type == IMAP_ARG_QUOTED) {
		if (!imap_arg_get_string(arg, &s, &len) || len <= 7 ||
		    ascii_strncasecmp(s, "/flags/", 7) != 0 || len > IMAP_SEARCH_STRING_MAX)
			return search_fail(p, "Invalid MODSEQ entry name");
		if ((arg = search_take(p, args, argc, i)) == NULL)
			return -1;
		if (!imap_arg_atom_equals(arg, "priv") && !imap_arg_atom_equals(arg, "shared") &&
		    !imap_arg_atom_equals(arg, "all"))
			return search_fail(p, "Invalid MODSEQ entry type");
		if ((arg = search_take(p, args, argc, i)) == NULL)
			return -1;
	}
	/* mod-sequence-valzer: 0 .. 2^63 - 1 */
	if (!imap_arg_get_number(arg, INT64_MAX, &n->num))
		return search_fail(p, "Invalid MODSEQ value");
	return 0;
}

static int
search_header_key(struct search_parser *p, const struct imap_arg *args, size_t argc, size_t *i,
                  const char *field, struct imap__search_node *n)
{
	const struct imap_arg *arg;
	n->op = SEARCH_OP_HEADER;
	if (field == NULL) {
		const char *s;
		size_t len;
		if ((arg = search_take(p, args, argc, i)) == NULL ||
		    search_string(p, arg, &s, &len))
			return -1;
		/* field-name = 1*ftext (RFC 5322 §3.6.8) */
		for (size_t k = 0; k < len; k++)
			if ((unsigned char)s[k] < 33 || (unsigned char)s[k] > 126 || s[k] == ':')
				return search_fail(p, "Invalid header field name");
		if (len == 0)
			return search_fail(p, "Invalid header field name");
		if ((field = arena_strndup(p->a, s, len)) == NULL)
			return search_fail(p, "Search program too large");
	}
	n->str = field;
	if ((arg = search_take(p, args, argc, i)) == NULL || search_needle(p, arg, n) != 0)
		return -1;
	return 0;
}

static int
search_key(struct search_parser *p, const struct imap_arg *args, size_t argc, size_t *i,
           unsigned depth, struct imap__search_node **n_r)
{
	const struct imap_arg *arg = search_take(p, args, argc, i), *sub;
	const char *name;
	if (arg == NULL)
		return -1;
	if (depth > IMAP_SEARCH_DEPTH_MAX)
		return search_fail(p, "Search program nested too deeply");
	if (arg->type == IMAP_ARG_LIST)
		return search_list(p, arg->list, arg->count, depth + 1, n_r);
	if (!imap_arg_get_atom(arg, &name))
		return search_fail(p, "Invalid search key");
	struct imap__search_node *n;
	if ((name[0] >= '0' && name[0] <= '9') || name[0] == '*' || name[0] == '$') {
		if ((n = search_node_new(p, SEARCH_OP_SEQ)) == NULL || search_set(p, arg, n) != 0)
			return -1;
		*n_r = n;
		return 0;
	}
	size_t k = 0;
	while (k < ARRAY_SIZE(search_keys) && ascii_strcasecmp(name, search_keys[k].name) != 0)
		k++;
	if (k == ARRAY_SIZE(search_keys))
		return search_fail(p, "Unknown search key");
	if ((p->flags & IMAP_SEARCH_REV2) &&
	    (search_keys[k].kind == K_RECENT || search_keys[k].kind == K_OLD ||
	     search_keys[k].kind == K_NEW))
		return search_fail(p, "Not an IMAP4rev2 search key (no \\Recent)");
	if ((n = search_node_new(p, SEARCH_OP_FLAGS)) == NULL)
		return -1;
	*n_r = n;
	n->cmp = search_keys[k].cmp;
	switch ((enum search_kind)search_keys[k].kind) {
	case K_FLAG_ON:
		n->flags_on = search_keys[k].flag;
		return 0;
	case K_FLAG_OFF:
		n->flags_off = search_keys[k].flag;
		return 0;
	case K_RECENT:
		n->recent = 1;
		return 0;
	case K_OLD:
		n->recent = 0;
		return 0;
	case K_NEW:
		n->recent = 1;
		n->flags_off = MSG_SEEN;
		return 0;
	case K_ALL:
		n->op = SEARCH_OP_ALL;
		return 0;
	case K_KEYWORD:
	case K_UNKEYWORD:
		n->op = SEARCH_OP_KEYWORD;
		sub = search_take(p, args, argc, i);
		return sub ? search_keyword(p, sub, search_keys[k].kind == K_KEYWORD, n) : -1;
	case K_ADDR:
	case K_HEADER:
		return search_header_key(p, args, argc, i, search_keys[k].field, n);
	case K_BODY:
	case K_TEXT:
		n->op = search_keys[k].kind == K_BODY ? SEARCH_OP_BODY : SEARCH_OP_TEXT;
		if ((sub = search_take(p, args, argc, i)) == NULL || search_needle(p, sub, n) != 0)
			return -1;
		if (n->nlen == 0)
			n->op = SEARCH_OP_ALL; /* every text contains "" */
		return 0;
	case K_DATE:
	case K_SENT:
	case K_SAVED:
		n->op = search_keys[k].kind == K_DATE   ? SEARCH_OP_DATE
		        : search_keys[k].kind == K_SENT ? SEARCH_OP_SENT
		                                        : SEARCH_OP_SAVED;
		sub = search_take(p, args, argc, i);
		return sub ? search_date(p, sub, &n->day) : -1;
	case K_WITHIN:
		/* RFC 5032 §4: interval = nz-number (seconds) */
		n->op = SEARCH_OP_WITHIN;
		p->needs |= SEARCH_NEED_NOW;
		if ((sub = search_take(p, args, argc, i)) == NULL)
			return -1;
		if (!imap_arg_get_number(sub, UINT32_MAX, &n->num) || n->num == 0)
			return search_fail(p, "Invalid interval");
		return 0;
	case K_MODSEQ:
		n->op = SEARCH_OP_MODSEQ;
		p->needs |= SEARCH_NEED_MODSEQ;
		return search_modseq(p, args, argc, i, n);
	case K_LARGER:
	case K_SMALLER:
		n->op = SEARCH_OP_SIZE;
		if ((sub = search_take(p, args, argc, i)) == NULL)
			return -1;
		if (!imap_arg_get_number(sub, UINT64_MAX, &n->num))
			return search_fail(p, "Invalid size");
		return 0;
	case K_UID:
		n->op = SEARCH_OP_UID;
		sub = search_take(p, args, argc, i);
		return sub ? search_set(p, sub, n) : -1;
	case K_OBJECTID:
		n->op = search_keys[k].field[0] == 'E' ? SEARCH_OP_EMAILID : SEARCH_OP_THREADID;
		sub = search_take(p, args, argc, i);
		return sub ? search_objectid(p, sub, n) : -1;
	case K_NOT:
		n->op = SEARCH_OP_NOT;
		return search_key(p, args, argc, i, depth + 1, &n->child);
	case K_OR:
		n->op = SEARCH_OP_OR;
		if (search_key(p, args, argc, i, depth + 1, &n->child) != 0)
			return -1;
		return search_key(p, args, argc, i, depth + 1, &n->child->next);
	}
	return search_fail(p, "Unknown search key");
}

/* Costs bottom-up and cheap-first order: children sort by the cost of
 * the cheapest key that may decide them (entry), then by the dearest key
 * they may need (cost), stably; so "(SUBJECT b (FROM c LARGER 9))" tries
 * LARGER before SUBJECT. The recursion follows the tree, whose depth the
 * parser bounded. */
static void
search_order(struct imap__search_node *n, unsigned *needs)
{
	switch ((enum imap__search_op)n->op) {
	case SEARCH_OP_HEADER:
	case SEARCH_OP_SENT:
		n->cost = n->entry = SEARCH_COST_HEADER;
		*needs |= SEARCH_NEED_HEADER;
		return;
	case SEARCH_OP_BODY:
	case SEARCH_OP_TEXT:
		n->cost = n->entry = SEARCH_COST_BODY;
		*needs |= SEARCH_NEED_BODY;
		return;
	case SEARCH_OP_AND:
	case SEARCH_OP_OR:
	case SEARCH_OP_NOT:
		break;
	default:
		n->cost = n->entry = SEARCH_COST_RECORD;
		return;
	}
	struct imap__search_node *bucket[9] = {NULL}, **tail[9];
	for (int k = 0; k < 9; k++)
		tail[k] = &bucket[k];
	n->cost = SEARCH_COST_RECORD;
	n->entry = SEARCH_COST_BODY;
	for (struct imap__search_node *c = n->child, *next; c != NULL; c = next) {
		next = c->next;
		search_order(c, needs);
		n->cost = MAX(n->cost, c->cost);
		n->entry = MIN(n->entry, c->entry);
		c->next = NULL;
		int k = 3 * c->entry + c->cost;
		*tail[k] = c;
		tail[k] = &c->next;
	}
	/* an OR's two children may swap as an AND's may: both commute */
	struct imap__search_node *head = NULL, **t = &head;
	for (int k = 0; k < 9; k++) {
		if (bucket[k] != NULL) {
			*t = bucket[k];
			t = tail[k];
		}
	}
	*t = NULL;
	n->child = head;
}

int
imap_search_charset(const struct imap_arg *arg, const char **error_r, const char **code_r)
{
	const char *cs;
	size_t len;
	*code_r = NULL;
	if (arg->type == IMAP_ARG_LIST || arg->type == IMAP_ARG_EOL ||
	    !imap_arg_get_astring(arg, &cs, &len) || len == 0) {
		*error_r = "Missing charset";
		return -1;
	}
	if (strlen(cs) != len ||
	    (ascii_strcasecmp(cs, "UTF-8") != 0 && ascii_strcasecmp(cs, "US-ASCII") != 0)) {
		*error_r = "Unsupported charset";
		*code_r = "BADCHARSET (UTF-8 US-ASCII)";
		return -1;
	}
	return 0;
}

int
imap_search_parse(struct arena *a, const struct imap_arg *args, size_t argc,
                  struct imap_search **s_r, const char **error_r, const char **code_r)
{
	return imap_search_parse_flags(a, args, argc, 0, s_r, error_r, code_r);
}

int
imap_search_parse_flags(struct arena *a, const struct imap_arg *args, size_t argc, unsigned flags,
                        struct imap_search **s_r, const char **error_r, const char **code_r)
{
	struct search_parser p = {.a = a, .flags = flags};
	size_t i = 0;
	*code_r = NULL;
	if (argc > 0 && imap_arg_atom_equals(&args[0], "CHARSET") && (flags & IMAP_SEARCH_UTF8)) {
		/* RFC 6855 §3: the charset labels conflict */
		*error_r = "No CHARSET once UTF8=ACCEPT is enabled";
		return -1;
	}
	if (argc > 0 && imap_arg_atom_equals(&args[0], "CHARSET")) {
		if (argc < 2 || args[1].type == IMAP_ARG_EOL) {
			*error_r = "Missing charset";
			return -1;
		}
		if (imap_search_charset(&args[1], error_r, code_r) != 0)
			return -1;
		i = 2;
	}
	struct imap_search *s = arena_zalloc(a, sizeof(*s));
	if (s == NULL) {
		*error_r = "Search program too large";
		return -1;
	}
	if (i >= argc || args[i].type == IMAP_ARG_EOL) {
		*error_r = "Missing search keys";
		return -1;
	}
	if (search_list(&p, args + i, argc - i, 0, &s->root) != 0) {
		*error_r = p.error;
		return -1;
	}
	search_order(s->root, &p.needs);
	s->needs = p.needs;
	s->nkeys = p.nkeys;
	*s_r = s;
	return 0;
}

unsigned
imap_search_needs(const struct imap_search *s)
{
	return s->needs;
}
