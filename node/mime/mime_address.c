/*
 * mime_address: RFC 5322 §3.4 address lists (with the obsolete forms of
 * §4.4: routes, empty list elements, CFWS around dots) as IMAP ENVELOPE
 * wants them (RFC 3501 §7.4.2), plus the first-address and display-name
 * helpers of SORT (RFC 5256) and DISPLAYFROM (RFC 5957).
 *
 * Happy path: a token lexer (atoms, quoted strings, domain literals,
 * specials; comments skipped but remembered) feeds a parser that reads a
 * phrase and decides by the special after it: '<' name-addr, '@' addr-spec,
 * ':' group start, ';' group end. Local parts lose their quoting; display
 * names are words joined by one blank; an addr-spec followed by a comment
 * takes the comment as its name (as "user@host (Real Name)" means).
 *
 * Bad input: a missing local part or domain becomes "MISSING_MAILBOX" or
 * "MISSING_DOMAIN" (an empty host would read as a group marker); junk
 * between the parts of an address is skipped; an unterminated quote,
 * comment or angle address ends at the end of the value; a group without
 * ';' is closed at the end. Every step consumes a token, so the parser
 * always ends.
 */
#include "node/mime/mime_int.h"

#include <errno.h>
#include <string.h>

#include "node/lib/util.h"

enum mime_tok_kind {
	MIME_TOK_END,
	MIME_TOK_ATOM,
	MIME_TOK_QUOTED,
	MIME_TOK_DLIT,
	MIME_TOK_SPECIAL
};

struct mime_tok {
	enum mime_tok_kind kind;
	char c; /* the special */
	size_t start, end;
};

struct mime_alex {
	const char *s;
	size_t len;
	size_t i;
	struct nbuf comment; /* text of the last comment skipped */
	struct nbuf word;    /* scratch */
	struct arena *a;
	struct mime_address *head, *tail;
	int nomem;
};

static int
mime_is_special(char c)
{
	return c != '\0' && strchr("<>@,;:", c) != NULL;
}

static int
mime_is_atom_char(unsigned char c)
{
	return !mime__is_lwsp(c) && c != '\0' && strchr("()<>@,;:\"[]", c) == NULL;
}

/* The token at lx->i, without consuming it. */
static void
mime_alex_peek(struct mime_alex *lx, struct mime_tok *t)
{
	const char *s = lx->s;
	size_t i = lx->i, len = lx->len;
	for (;;) {
		while (i < len && mime__is_lwsp((unsigned char)s[i]))
			i++;
		if (i < len && s[i] == '(') {
			nbuf_reset(&lx->comment);
			i = mime__comment(s, len, i, &lx->comment);
			continue;
		}
		if (i < len && (s[i] == ')' || s[i] == ']' || s[i] == '\0')) {
			i++; /* stray closer */
			continue;
		}
		break;
	}
	t->start = i;
	if (i >= len) {
		t->kind = MIME_TOK_END;
		t->end = len;
	} else if (s[i] == '"') {
		t->kind = MIME_TOK_QUOTED;
		t->end = mime__quoted(s, len, i, NULL);
	} else if (s[i] == '[') {
		size_t j = i + 1;
		while (j < len && s[j] != ']')
			j += (s[j] == '\\' && j + 1 < len) ? 2 : 1;
		t->kind = MIME_TOK_DLIT;
		t->end = j < len ? j + 1 : len;
	} else if (mime_is_special(s[i])) {
		t->kind = MIME_TOK_SPECIAL;
		t->c = s[i];
		t->end = i + 1;
	} else {
		size_t j = i;
		while (j < len && mime_is_atom_char((unsigned char)s[j]))
			j++;
		t->kind = MIME_TOK_ATOM;
		t->end = j;
	}
}

static char *
mime_alex_dup(struct mime_alex *lx, const char *p, size_t n)
{
	char *d = arena_alloc(lx->a, n + 1);
	if (d == NULL) {
		lx->nomem = 1;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		d[i] = p[i] ? p[i] : (char)0x80;
	d[n] = '\0';
	return d;
}

/* Append the text of a word token (quoting undone) to lx->word. */
static void
mime_alex_word(struct mime_alex *lx, const struct mime_tok *t)
{
	if (t->kind == MIME_TOK_QUOTED)
		(void)mime__quoted(lx->s, t->end, t->start, &lx->word);
	else
		(void)nbuf_append(&lx->word, lx->s + t->start, t->end - t->start);
}

/* Read words (atoms and quoted strings) from lx->i; the phrase (words
 * joined by blanks) goes to *phrase_r, the joined form to *joined_r. */
static void
mime_alex_words(struct mime_alex *lx, char **phrase_r, char **joined_r)
{
	struct mime_tok t;
	size_t start = lx->i;
	nbuf_reset(&lx->word);
	for (int first = 1;; first = 0) {
		mime_alex_peek(lx, &t);
		if (t.kind != MIME_TOK_ATOM && t.kind != MIME_TOK_QUOTED)
			break;
		if (!first)
			(void)nbuf_append(&lx->word, " ", 1);
		mime_alex_word(lx, &t);
		lx->i = t.end;
	}
	*phrase_r = nbuf_avail(&lx->word)
	                    ? mime_alex_dup(lx, mime__nbuf_str(&lx->word), nbuf_avail(&lx->word))
	                    : NULL;
	size_t end = lx->i;
	nbuf_reset(&lx->word);
	for (lx->i = start; lx->i < end;) {
		mime_alex_peek(lx, &t);
		if (t.kind != MIME_TOK_ATOM && t.kind != MIME_TOK_QUOTED)
			break;
		mime_alex_word(lx, &t);
		lx->i = t.end;
	}
	lx->i = end;
	*joined_r = nbuf_avail(&lx->word)
	                    ? mime_alex_dup(lx, mime__nbuf_str(&lx->word), nbuf_avail(&lx->word))
	                    : NULL;
}

/* A domain: atoms and domain literals joined through dots. */
static char *
mime_alex_domain(struct mime_alex *lx)
{
	struct mime_tok t;
	nbuf_reset(&lx->word);
	for (;;) {
		mime_alex_peek(lx, &t);
		if (t.kind != MIME_TOK_ATOM && t.kind != MIME_TOK_DLIT && t.kind != MIME_TOK_QUOTED)
			break;
		/* "a . b" is one domain (obs-domain); "a b" is two words */
		size_t have = nbuf_avail(&lx->word);
		if (have > 0 && mime__nbuf_str(&lx->word)[have - 1] != '.' && lx->s[t.start] != '.')
			break;
		mime_alex_word(lx, &t);
		lx->i = t.end;
	}
	if (nbuf_avail(&lx->word) == 0)
		return NULL;
	return mime_alex_dup(lx, mime__nbuf_str(&lx->word), nbuf_avail(&lx->word));
}

static void
mime_alex_emit(struct mime_alex *lx, const char *name, const char *route, const char *mailbox,
               const char *host)
{
	struct mime_address *ad = arena_zalloc(lx->a, sizeof(*ad));
	if (ad == NULL) {
		lx->nomem = 1;
		return;
	}
	ad->name = name;
	ad->route = route;
	ad->mailbox = mailbox;
	ad->host = host;
	if (lx->tail != NULL)
		lx->tail->next = ad;
	else
		lx->head = ad;
	lx->tail = ad;
}

static void
mime_alex_mailbox(struct mime_alex *lx, const char *name, const char *route, const char *local,
                  const char *host)
{
	mime_alex_emit(lx, name, route, local ? local : "MISSING_MAILBOX",
	               host ? host : "MISSING_DOMAIN");
}

/* After '<': [route ":"] local-part ["@" domain] ">" */
static void
mime_alex_angle(struct mime_alex *lx, const char *name)
{
	struct mime_tok t;
	char *route = NULL, *phrase, *local, *host = NULL;
	mime_alex_peek(lx, &t);
	if (t.kind == MIME_TOK_SPECIAL && t.c == '@') {
		nbuf_reset(&lx->word);
		for (;;) {
			mime_alex_peek(lx, &t);
			if (t.kind == MIME_TOK_END ||
			    (t.kind == MIME_TOK_SPECIAL && t.c != '@' && t.c != ','))
				break;
			(void)nbuf_append(&lx->word, lx->s + t.start, t.end - t.start);
			lx->i = t.end;
		}
		if (t.kind == MIME_TOK_SPECIAL && t.c == ':') {
			lx->i = t.end;
			route = mime_alex_dup(lx, mime__nbuf_str(&lx->word), nbuf_avail(&lx->word));
		}
	}
	mime_alex_words(lx, &phrase, &local);
	mime_alex_peek(lx, &t);
	if (t.kind == MIME_TOK_SPECIAL && t.c == '@') {
		lx->i = t.end;
		host = mime_alex_domain(lx);
	}
	for (;;) { /* junk up to '>' */
		mime_alex_peek(lx, &t);
		if (t.kind == MIME_TOK_END || (t.kind == MIME_TOK_SPECIAL && t.c == '>')) {
			lx->i = t.end;
			break;
		}
		if (t.kind == MIME_TOK_SPECIAL && (t.c == ',' || t.c == ';'))
			break;
		lx->i = t.end;
	}
	mime_alex_mailbox(lx, name, route, local, host);
}

static void
mime_alex_list(struct mime_alex *lx)
{
	int in_group = 0;
	struct mime_tok t;
	while (!lx->nomem) {
		mime_alex_peek(lx, &t);
		if (t.kind == MIME_TOK_END)
			break;
		if (t.kind == MIME_TOK_SPECIAL && t.c != '<' && t.c != '@' && t.c != ':') {
			lx->i = t.end;
			if (t.c == ';' && in_group) {
				mime_alex_emit(lx, NULL, NULL, NULL, NULL);
				in_group = 0;
			}
			continue; /* ',' and stray specials */
		}
		char *phrase, *joined;
		mime_alex_words(lx, &phrase, &joined);
		nbuf_reset(&lx->comment);
		mime_alex_peek(lx, &t);
		if (t.kind == MIME_TOK_SPECIAL && t.c == '<') {
			lx->i = t.end;
			mime_alex_angle(lx, phrase);
		} else if (t.kind == MIME_TOK_SPECIAL && t.c == ':') {
			lx->i = t.end;
			if (!in_group) {
				mime_alex_emit(lx, NULL, NULL, phrase ? phrase : "", NULL);
				in_group = 1;
			}
		} else if (t.kind == MIME_TOK_SPECIAL && t.c == '@') {
			lx->i = t.end;
			char *host = mime_alex_domain(lx);
			mime_alex_peek(lx, &t); /* picks up a trailing comment */
			char *name = nbuf_avail(&lx->comment)
			                     ? mime_alex_dup(lx, mime__nbuf_str(&lx->comment),
			                                     nbuf_avail(&lx->comment))
			                     : NULL;
			mime_alex_mailbox(lx, name, NULL, joined, host);
		} else if (joined != NULL) {
			mime_alex_mailbox(lx, NULL, NULL, joined, NULL);
		} else if (t.kind != MIME_TOK_END) {
			lx->i = t.end; /* a domain literal alone, say */
		}
	}
	if (in_group && !lx->nomem)
		mime_alex_emit(lx, NULL, NULL, NULL, NULL);
}

int
mime_address_parse(const char *v, size_t len, struct arena *a, struct mime_address **list_r)
{
	struct mime_alex lx = {.s = v, .len = len, .a = a};
	nbuf_init(&lx.comment, len + 1);
	nbuf_init(&lx.word, len + 1);
	mime_alex_list(&lx);
	nbuf_deinit(&lx.comment);
	nbuf_deinit(&lx.word);
	*list_r = lx.nomem ? NULL : lx.head;
	return lx.nomem ? -ENOMEM : 0;
}

int
mime_address_first(const char *v, size_t len, struct arena *a, const struct mime_address **addr_r)
{
	struct mime_address *list;
	int rc = mime_address_parse(v, len, a, &list);
	if (rc < 0)
		return rc;
	for (; list != NULL; list = list->next)
		if (list->host != NULL) {
			*addr_r = list;
			return 1;
		}
	return 0;
}

int
mime_address_display(const struct mime_address *addr, struct nbuf *out)
{
	if (addr->name != NULL && addr->name[0] != '\0')
		return mime_decode_words(addr->name, strlen(addr->name), out);
	int rc = nbuf_puts(out, addr->mailbox ? addr->mailbox : "");
	if (rc == 0 && addr->host != NULL)
		rc = nbuf_printf(out, "@%s", addr->host);
	return rc;
}
