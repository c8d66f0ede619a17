/*
 * sort_keys: a message's SORT and THREAD keys from its header fields, and
 * sorting by them (RFC 5256 §2, §3; RFC 5957 §3).
 *
 * Happy path: the raw values the cached tree keeps (mime_tree_summary:
 * no tree is built, no file read) become the keys the program needs:
 *   DATE     the Date: field in UTC (RFC 5256 §2.2), INTERNALDATE when it
 *            is missing or cannot be parsed;
 *   SUBJECT  the base subject (RFC 5256 §2.1, mime_base_subject), and
 *            whether Re:/Fwd:/(fwd) were removed (THREAD wants that);
 *   FROM, TO, CC  the addr-mailbox of the field's first address (RFC
 *            5256 §3: the local part as ENVELOPE shows it);
 *   DISPLAYFROM, DISPLAYTO  the first address's display name, RFC 2047
 *            decoded, else "mailbox@host" (RFC 5957 §3);
 *   IDS      the first valid Message-ID and In-Reply-To, the normalised
 *            References (mime_msgid.c).
 * A field that is absent sorts as "", before everything (RFC 5256 §3).
 * Strings are upper-cased in ASCII once, here, so that comparing is
 * strcmp: that is the i;ascii-casemap collation (RFC 4790 §9.2) the RFC
 * requires, in which "[\]^_`" sort after the letters (RFC 5256 §2.3).
 *
 * Sorting is qsort over indexes with every criterion in turn, REVERSE
 * flipping one criterion only, and the sequence number last (RFC 5256
 * §3: "an implicit sort criterion of sequence number"), so the order is
 * total and stable whatever qsort does.
 *
 * Memory: keys go to the caller's arena (bounded: -1 when it is full);
 * address lists and decoding scratch to a scratch arena reset per message.
 */
#include "protocols/imap/sort.h"

#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"

/* Longest key string kept: enough to order any real subject or name. */
#define SORT_KEY_MAX 1024

void
imap_sort_fields_from_tree(const struct mime_message *m, struct imap_sort_fields *f)
{
	memset(f, 0, sizeof(*f));
	const struct mime_envelope *env = m->root->envelope;
	if (env == NULL)
		return;
	for (unsigned i = 0; i < MIME_ENV_COUNT; i++)
		if (env->field[i] != NULL)
			f->env[i] = (struct mime_tree_str){env->field[i], strlen(env->field[i])};
	if (env->references != NULL)
		f->refs = (struct mime_tree_str){env->references, strlen(env->references)};
}

void
imap_sort_keys_empty(struct imap_sort_msg *m)
{
	m->date = m->arrival;
	m->subject = m->from = m->to = m->cc = m->dfrom = m->dto = "";
	m->msgid = m->irt = m->refs = NULL;
	m->reply = 0;
}

/* An upper-cased, NUL-terminated copy of at most SORT_KEY_MAX bytes (cut
 * on a character boundary) in a; "" for nothing. */
static const char *
sort_key_dup(struct arena *a, const char *s, size_t n)
{
	if (n == 0)
		return "";
	if (n > SORT_KEY_MAX) {
		n = SORT_KEY_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	char *d = arena_alloc(a, n + 1);
	if (d == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		d[i] = (char)ascii_toupper((unsigned char)s[i]);
	d[n] = '\0';
	return d;
}

/* The first valid message ID of a field, or NULL (also when a is full:
 * an ID is small, and a missing one only loses a thread link). */
static const char *
sort_first_id(struct arena *a, const struct mime_tree_str *v)
{
	struct nbuf id;
	size_t pos = 0;
	const char *r = NULL;
	if (v->p == NULL)
		return NULL;
	nbuf_init(&id, MIME_MSGID_MAX + 1);
	if (mime_msgid_next(v->p, v->len, &pos, &id) == 1)
		r = arena_strndup(a, (const char *)nbuf_head(&id), nbuf_avail(&id));
	nbuf_deinit(&id);
	return r;
}

/* The first address of an address field: mailbox and display keys. */
static int
sort_address(struct arena *a, struct arena *scratch, const struct mime_tree_str *v,
             const char **mbox_r, const char **display_r)
{
	const struct mime_address *addr = NULL;
	if (mbox_r != NULL)
		*mbox_r = "";
	if (display_r != NULL)
		*display_r = "";
	if (v->p == NULL || mime_address_first(v->p, v->len, scratch, &addr) != 1)
		return 0;
	if (mbox_r != NULL && addr->mailbox != NULL &&
	    (*mbox_r = sort_key_dup(a, addr->mailbox, strlen(addr->mailbox))) == NULL)
		return -1;
	if (display_r != NULL) {
		struct nbuf d;
		nbuf_init(&d, 4 * SORT_KEY_MAX);
		int rc = mime_address_display(addr, &d);
		/* a display name longer than the buffer still sorts by its start */
		if (rc == 0 || nbuf_avail(&d) > 0)
			*display_r = sort_key_dup(a, (const char *)nbuf_head(&d), nbuf_avail(&d));
		nbuf_deinit(&d);
		if (*display_r == NULL)
			return -1;
	}
	return 0;
}

int
imap_sort_keys(struct arena *a, struct arena *scratch, unsigned needs,
               const struct imap_sort_fields *f, struct imap_sort_msg *m)
{
	imap_sort_keys_empty(m);
	arena_reset(scratch);
	const struct mime_tree_str *env = f->env;
	if ((needs & SORT_NEED_DATE) && env[MIME_ENV_DATE].p != NULL) {
		time_t t;
		int tz;
		if (mime_date_parse(env[MIME_ENV_DATE].p, env[MIME_ENV_DATE].len, &t, &tz) == 0)
			m->date = (int64_t)t;
	}
	if ((needs & SORT_NEED_SUBJECT) && env[MIME_ENV_SUBJECT].p != NULL) {
		struct nbuf b;
		int reply = 0;
		nbuf_init(&b, 4 * env[MIME_ENV_SUBJECT].len + 16);
		if (mime_base_subject(env[MIME_ENV_SUBJECT].p, env[MIME_ENV_SUBJECT].len, &b,
		                      &reply) == 0) {
			m->subject = sort_key_dup(a, (const char *)nbuf_head(&b), nbuf_avail(&b));
			m->reply = (uint8_t)reply;
		}
		nbuf_deinit(&b);
		if (m->subject == NULL)
			return -1;
	}
	if ((needs & (SORT_NEED_FROM | SORT_NEED_DFROM)) &&
	    sort_address(a, scratch, &env[MIME_ENV_FROM],
	                 (needs & SORT_NEED_FROM) ? &m->from : NULL,
	                 (needs & SORT_NEED_DFROM) ? &m->dfrom : NULL) != 0)
		return -1;
	if ((needs & (SORT_NEED_TO | SORT_NEED_DTO)) &&
	    sort_address(a, scratch, &env[MIME_ENV_TO], (needs & SORT_NEED_TO) ? &m->to : NULL,
	                 (needs & SORT_NEED_DTO) ? &m->dto : NULL) != 0)
		return -1;
	if ((needs & SORT_NEED_CC) &&
	    sort_address(a, scratch, &env[MIME_ENV_CC], &m->cc, NULL) != 0)
		return -1;
	if (needs & SORT_NEED_IDS) {
		m->msgid = sort_first_id(a, &env[MIME_ENV_MESSAGE_ID]);
		m->irt = sort_first_id(a, &env[MIME_ENV_IN_REPLY_TO]);
		if (f->refs.p != NULL && f->refs.len > 0 &&
		    (m->refs = arena_strndup(a, f->refs.p, f->refs.len)) == NULL)
			return -1;
	}
	return 0;
}

int
imap__sort_strcmp(const char *a, const char *b)
{
	return strcmp(a, b);
}

/* --- sorting -------------------------------------------------------- */

struct sort_ctx {
	const struct imap_sort_program *p;
	const struct imap_sort_msg *msgs;
};

static int
sort_cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int
sort_cmp_key(enum imap_sort_key k, const struct imap_sort_msg *a, const struct imap_sort_msg *b)
{
	switch (k) {
	case SORT_K_ARRIVAL:
		return sort_cmp_i64(a->arrival, b->arrival);
	case SORT_K_DATE:
		return sort_cmp_i64(a->date, b->date);
	case SORT_K_SIZE:
		return a->size < b->size ? -1 : a->size > b->size;
	case SORT_K_SUBJECT:
		return imap__sort_strcmp(a->subject, b->subject);
	case SORT_K_FROM:
		return imap__sort_strcmp(a->from, b->from);
	case SORT_K_TO:
		return imap__sort_strcmp(a->to, b->to);
	case SORT_K_CC:
		return imap__sort_strcmp(a->cc, b->cc);
	case SORT_K_DISPLAYFROM:
		return imap__sort_strcmp(a->dfrom, b->dfrom);
	case SORT_K_DISPLAYTO:
		return imap__sort_strcmp(a->dto, b->dto);
	}
	return 0;
}

static int
sort_cmp(const void *x, const void *y, void *arg)
{
	const struct sort_ctx *c = arg;
	const struct imap_sort_msg *a = &c->msgs[*(const uint32_t *)x];
	const struct imap_sort_msg *b = &c->msgs[*(const uint32_t *)y];
	for (unsigned i = 0; i < c->p->n; i++) {
		int r = sort_cmp_key((enum imap_sort_key)c->p->key[i], a, b);
		if (r != 0)
			return c->p->reverse[i] ? -r : r;
	}
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

void
imap_sort_run(const struct imap_sort_program *p, const struct imap_sort_msg *msgs, size_t n,
              uint32_t *order_r)
{
	struct sort_ctx c = {p, msgs};
	for (size_t i = 0; i < n; i++)
		order_r[i] = (uint32_t)i;
	if (n > 1)
		qsort_r(order_r, n, sizeof(*order_r), sort_cmp, &c);
}
