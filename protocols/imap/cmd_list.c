/*
 * cmd_list: LIST (RFC 3501 §6.3.8, with LIST-EXTENDED RFC 5258 selection
 * and return options, CHILDREN RFC 3348, SPECIAL-USE RFC 6154 §2-3,
 * LIST-STATUS RFC 5819), LSUB (§6.3.9) and Gmail's legacy XLIST
 * (Outlook's folder roles).
 *
 * Happy path: one read transaction takes the user's mailboxes and
 * subscriptions (both in name order); names that exist only as parents of
 * others are added as \Noselect; \HasChildren/\HasNoChildren come from a
 * binary search for "name." among the sorted names; each candidate is
 * matched against the patterns (listmatch.h: "*" and "%", the reference
 * as a prefix) and written in modified UTF-7 with its attributes.
 *
 * Extended syntax (RFC 5258 §3: selection options, several patterns or
 * RETURN): a name that is no mailbox is \NonExistent (which implies
 * \Noselect) instead of \Noselect; SUBSCRIBED selects subscriptions,
 * RECURSIVEMATCH adds ("CHILDINFO" ("SUBSCRIBED")) to a name with a
 * subscribed descendant the patterns do not match, and returns such a
 * name even when it is not subscribed itself (§3.5); REMOTE changes
 * nothing (no remote mailboxes). After ENABLE IMAP4rev2 every LIST is
 * extended (RFC 9051 §6.3.9). RETURN (STATUS (...)) (RFC 5819) follows
 * the LIST response of each selectable mailbox with its STATUS response.
 *
 * Failure modes: an unknown option, RECURSIVEMATCH without SUBSCRIBED
 * (RFC 5258 §3.1, RFC 6154 §6), a repeated STATUS return option, an empty
 * pattern list or a malformed list -> BAD; a pattern that is not valid
 * modified UTF-7 -> BAD; the store cannot answer -> NO.
 */
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"
#include "node/net/conn.h"
#include "node/store/store.h"
#include "protocols/imap/imap_private.h"
#include "protocols/imap/listmatch.h"
#include "protocols/imap/mutf7.h"

#define LIST_PATTERNS_MAX 32

enum {
	LE_EXISTS = 1 << 0, /* a mailbox, not only a parent name */
	LE_SUBSCRIBED = 1 << 1,
	LE_CHILDREN = 1 << 2,
	LE_SUBCHILD = 1 << 3, /* a subscribed name below it */
};

struct list_entry {
	const char *name;
	uint32_t special;
	uint32_t flags;
};

struct list_ctx {
	struct imap_session *s;
	struct arena *a;
	struct list_entry *v;
	size_t n, cap;
	size_t nbase; /* the mailboxes, in name order, before subscriptions */
	/* options */
	bool lsub, xlist;
	bool extended; /* RFC 5258 syntax: \NonExistent */
	bool sel_subscribed, sel_special, sel_recursive;
	bool ret_subscribed, ret_status;
	struct imap_status_items status;
	struct store_txn *t; /* open while a STATUS may follow */
	struct imap_list_pattern pats[LIST_PATTERNS_MAX];
	size_t npats;
};

static int
entry_push(struct list_ctx *x, const char *name, size_t len, uint32_t special, uint32_t flags)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 64;
		struct list_entry *v = arena_alloc(x->a, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		if (x->n)
			memcpy(v, x->v, x->n * sizeof(*v));
		x->v = v;
		x->cap = cap;
	}
	char *copy = arena_strndup(x->a, name, len);
	if (copy == NULL)
		return -1;
	x->v[x->n++] = (struct list_entry){copy, special, flags};
	return 0;
}

static int
collect_mailbox(void *arg, const struct store_mailbox *m)
{
	struct list_ctx *x = arg;
	return entry_push(x, m->name, strlen(m->name), m->special_use, LE_EXISTS) ? -1 : 0;
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct list_entry *)a)->name, ((const struct list_entry *)b)->name);
}

/* First entry among the first n whose name is >= key. */
static size_t
entry_lower_n(const struct list_ctx *x, size_t n, const char *key, size_t klen)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strncmp(x->v[mid].name, key, klen) < 0 ||
		    (strncmp(x->v[mid].name, key, klen) == 0 && strlen(x->v[mid].name) < klen))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t
entry_lower(const struct list_ctx *x, const char *key, size_t klen)
{
	return entry_lower_n(x, x->n, key, klen);
}

/* A mailbox by name (only while the first nbase entries are sorted). */
static struct list_entry *
entry_find(struct list_ctx *x, const char *name, size_t len)
{
	size_t i = entry_lower_n(x, x->nbase, name, len);
	if (i < x->nbase && strlen(x->v[i].name) == len && memcmp(x->v[i].name, name, len) == 0)
		return &x->v[i];
	return NULL;
}

static int
collect_sub(void *arg, const char *name, size_t len)
{
	struct list_ctx *x = arg;
	struct list_entry *e = entry_find(x, name, len);
	if (e != NULL) {
		e->flags |= LE_SUBSCRIBED;
		return 0;
	}
	/* Subscribed but not (or no longer) a mailbox: kept aside, merged
	 * after the loop so that the binary search above stays valid. */
	return entry_push(x, name, len, 0, LE_SUBSCRIBED | (1u << 31)) ? -1 : 0;
}

/* Sort, add the parents that are not mailboxes, set the child flags. */
static int
list_prepare(struct list_ctx *x)
{
	size_t base = x->n;
	for (size_t i = 0; i < base; i++) {
		if (!(x->v[i].flags & LE_EXISTS))
			continue;
		const char *nm = x->v[i].name;
		for (const char *dot = strchr(nm, '.'); dot; dot = strchr(dot + 1, '.'))
			if (entry_push(x, nm, (size_t)(dot - nm), 0, 0) != 0)
				return -1;
	}
	qsort(x->v, x->n, sizeof(*x->v), entry_cmp);
	/* Merge duplicates: a parent name that is also a mailbox or a
	 * subscription keeps the union of what is known about it. */
	size_t w = 0;
	for (size_t r = 0; r < x->n; r++) {
		if (w > 0 && strcmp(x->v[w - 1].name, x->v[r].name) == 0) {
			x->v[w - 1].flags |= x->v[r].flags & ~(1u << 31);
			x->v[w - 1].special |= x->v[r].special;
			continue;
		}
		x->v[w] = x->v[r];
		x->v[w++].flags &= ~(1u << 31);
	}
	x->n = w;
	char key[SCHEMA_NAME_MAX + 2];
	for (size_t i = 0; i < x->n; i++) {
		size_t len = strlen(x->v[i].name);
		if (len + 1 >= sizeof(key))
			continue;
		memcpy(key, x->v[i].name, len);
		key[len] = '.';
		/* Children of "a" are contiguous from the first name >= "a.". */
		for (size_t k = entry_lower(x, key, len + 1); k < x->n; k++) {
			if (strncmp(x->v[k].name, key, len + 1) != 0)
				break;
			if (x->v[k].flags & LE_EXISTS)
				x->v[i].flags |= LE_CHILDREN;
			if (x->v[k].flags & LE_SUBSCRIBED)
				x->v[i].flags |= LE_SUBCHILD;
			if ((x->v[i].flags & (LE_CHILDREN | LE_SUBCHILD)) ==
			    (LE_CHILDREN | LE_SUBCHILD))
				break;
		}
	}
	return 0;
}

static unsigned
list_match(const struct list_ctx *x, const char *name)
{
	unsigned m = 0;
	for (size_t i = 0; i < x->npats; i++)
		m |= imap_list_match(&x->pats[i], name, strlen(name));
	return m;
}

/* Matched by a pattern ending in "%" (LSUB's parent rule). */
static bool
list_match_pct(const struct list_ctx *x, const char *name)
{
	for (size_t i = 0; i < x->npats; i++)
		if (x->pats[i].len > 0 && x->pats[i].pat[x->pats[i].len - 1] == '%' &&
		    (imap_list_match(&x->pats[i], name, strlen(name)) & IMAP_LIST_MATCH_YES))
			return true;
	return false;
}

static void
list_write(struct list_ctx *x, const struct list_entry *e, bool noselect, bool childinfo)
{
	struct imap_session *s = x->s;
	struct nbuf line;
	nbuf_init(&line, 16 * 1024);
	nbuf_printf(&line, "* %s (", x->lsub ? "LSUB" : x->xlist ? "XLIST" : "LIST");
	size_t mark = nbuf_avail(&line);
	if (!(e->flags & LE_EXISTS) &&
	    (x->extended || (x->sel_subscribed && (e->flags & LE_SUBSCRIBED))))
		nbuf_puts(&line, " \\NonExistent");
	else if (noselect || !(e->flags & LE_EXISTS))
		nbuf_puts(&line, " \\Noselect");
	if (!x->lsub)
		nbuf_puts(&line, (e->flags & LE_CHILDREN) ? " \\HasChildren" : " \\HasNoChildren");
	if (x->ret_subscribed && (e->flags & LE_SUBSCRIBED))
		nbuf_puts(&line, " \\Subscribed");
	if (x->xlist && strcmp(e->name, "INBOX") == 0)
		nbuf_puts(&line, " \\Inbox");
	imap__special_use_write(&line, e->special, x->xlist);
	/* Drop the leading space of the attribute list. */
	unsigned char *h = nbuf_head(&line);
	if (nbuf_avail(&line) > mark) {
		memmove(h + mark, h + mark + 1, nbuf_avail(&line) - mark - 1);
		line.len--;
	}
	nbuf_puts(&line, ") \".\" ");
	imap__mailbox_write(s, e->name, &line);
	if (childinfo)
		nbuf_puts(&line, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	nbuf_puts(&line, "\r\n");
	imap__write(s, nbuf_head(&line), nbuf_avail(&line));
	nbuf_deinit(&line);
	/* RFC 5819: the STATUS of each selectable mailbox after its LIST. */
	struct store_mailbox m;
	if (x->ret_status && (e->flags & LE_EXISTS) && !noselect && x->t != NULL &&
	    store_mailbox_get(x->t, s->user_id, e->name, &m) == 1)
		imap__status_write(s, x->t, &m, &x->status);
	if (imap__output_full(s))
		conn_flush(s->conn); /* the client reads; bounded by CONN_OUT_MAX */
}

/* RECURSIVEMATCH (RFC 5258 §3.5): a subscribed descendant of entry i that
 * no pattern matches, which only CHILDINFO can tell about. */
static bool
list_hidden_subchild(const struct list_ctx *x, size_t i)
{
	const char *nm = x->v[i].name;
	size_t len = strlen(nm);
	if (!(x->v[i].flags & LE_SUBCHILD))
		return false;
	/* A walk over every name, for names with a subscribed descendant
	 * only: a user has hundreds of mailboxes, not millions. */
	for (size_t k = 0; k < x->n; k++) {
		const struct list_entry *d = &x->v[k];
		if (strncmp(d->name, nm, len) != 0 || d->name[len] != '.')
			continue;
		if ((d->flags & LE_SUBSCRIBED) && !(list_match(x, d->name) & IMAP_LIST_MATCH_YES))
			return true;
	}
	return false;
}

static void
list_run(struct list_ctx *x)
{
	for (size_t i = 0; i < x->n; i++) {
		const struct list_entry *e = &x->v[i];
		unsigned m = list_match(x, e->name);
		if (x->lsub) {
			if (!(e->flags & LE_SUBSCRIBED)) {
				/* §6.3.9: with "%", a parent of subscribed names that
				 * is not subscribed itself shows as \Noselect. */
				if ((e->flags & LE_SUBCHILD) && list_match_pct(x, e->name))
					list_write(x, e, true, false);
				continue;
			}
			if (m & IMAP_LIST_MATCH_YES)
				list_write(x, e, false, false);
			continue;
		}
		if (!(m & IMAP_LIST_MATCH_YES))
			continue;
		if (x->sel_special && !(e->special && (e->flags & LE_EXISTS)))
			continue;
		if (x->sel_subscribed) {
			bool childinfo = x->sel_recursive && list_hidden_subchild(x, i);
			if ((e->flags & LE_SUBSCRIBED) || childinfo)
				list_write(x, e, false, childinfo);
			continue;
		}
		if (!(e->flags & LE_EXISTS) && !(e->flags & LE_CHILDREN))
			continue; /* only subscribed: not a LIST result */
		list_write(x, e, false, false);
	}
}

static int
add_pattern(struct list_ctx *x, const char *ref, size_t rlen, const struct imap_arg *arg,
            const char **error_r)
{
	const char *p;
	size_t plen, n;
	char *dec = arena_alloc(x->a, 4 * IMAP_LIST_PATTERN_MAX + 1);
	if (!imap_arg_get_astring(arg, &p, &plen) || memchr(p, 0, plen)) {
		*error_r = "Invalid mailbox pattern";
		return -1;
	}
	if (x->npats >= LIST_PATTERNS_MAX) {
		*error_r = "Too many patterns";
		return -1;
	}
	if (dec == NULL || (x->s->flags & IMAP_SF_UTF8) || plen > IMAP_LIST_PATTERN_MAX) {
		if (dec == NULL || plen > IMAP_LIST_PATTERN_MAX) {
			*error_r = "Pattern too long";
			return -1;
		}
		memcpy(dec, p, plen);
		n = plen;
	} else if (imap_mutf7_to_utf8(p, plen, dec, 4 * IMAP_LIST_PATTERN_MAX + 1, &n, error_r) !=
	           0) {
		return -1;
	}
	return imap_list_pattern_init(&x->pats[x->npats++], x->a, ref, rlen, dec, n, error_r);
}

/* Selection or return options of LIST-EXTENDED. */
static int
list_options(struct list_ctx *x, const struct imap_arg *arg, bool ret, const char **error_r)
{
	const struct imap_arg *list;
	size_t n;
	*error_r = ret ? "Unknown LIST return option" : "Unknown LIST selection option";
	if (!imap_arg_get_list(arg, &list, &n))
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *o;
		if (!imap_arg_get_atom(&list[i], &o))
			return -1;
		if (ret && ascii_strcasecmp(o, "STATUS") == 0) {
			/* RFC 5819: STATUS (items), once */
			if (x->ret_status || i + 1 == n) {
				*error_r = "Invalid STATUS return option";
				return -1;
			}
			if (imap__status_items_parse(x->s, &list[i + 1], &x->status, error_r) != 0)
				return -1;
			x->ret_status = true;
			i++;
			continue;
		}
		if (!ret && ascii_strcasecmp(o, "SUBSCRIBED") == 0)
			x->sel_subscribed = true;
		else if (!ret && ascii_strcasecmp(o, "REMOTE") == 0)
			continue;
		else if (!ret && ascii_strcasecmp(o, "RECURSIVEMATCH") == 0)
			x->sel_recursive = true;
		else if (!ret && ascii_strcasecmp(o, "SPECIAL-USE") == 0)
			x->sel_special = true;
		else if (ret && ascii_strcasecmp(o, "SUBSCRIBED") == 0)
			x->ret_subscribed = true;
		else if (ret && (ascii_strcasecmp(o, "CHILDREN") == 0 ||
		                 ascii_strcasecmp(o, "SPECIAL-USE") == 0))
			continue; /* always returned */
		else
			return -1;
	}
	return 0;
}

void
imap__cmd_list(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct list_ctx x = {.s = s, .a = imap__arena(s)};
	const struct imap_arg *args = cmd->args;
	size_t argc = cmd->argc, i = 0;
	const char *err = "Invalid arguments", *ref;
	size_t rlen;
	char refdec[4 * IMAP_LIST_PATTERN_MAX + 1];
	x.lsub = strcmp(cmd->name, "LSUB") == 0;
	x.xlist = strcmp(cmd->name, "XLIST") == 0;
	if (!x.lsub && !x.xlist && argc > 0 && args[0].type == IMAP_ARG_LIST) {
		if (list_options(&x, &args[0], false, &err) != 0) {
			imap__bad(s, "%s", err);
			return;
		}
		/* RFC 5258 §3.1: RECURSIVEMATCH needs another selection option
		 * it can apply to; SPECIAL-USE is not one (RFC 6154 §6). */
		if (x.sel_recursive && !x.sel_subscribed) {
			imap__bad(s, "RECURSIVEMATCH needs the SUBSCRIBED selection option");
			return;
		}
		x.ret_subscribed = x.sel_subscribed;
		x.extended = true;
		i = 1;
	}
	if (argc < i + 2) {
		imap__bad(s, "%s takes a reference and a mailbox pattern", cmd->name);
		return;
	}
	if (!imap_arg_get_astring(&args[i], &ref, &rlen) || memchr(ref, 0, rlen) ||
	    rlen > IMAP_LIST_PATTERN_MAX) {
		imap__bad(s, "Invalid reference");
		return;
	}
	if (!(s->flags & IMAP_SF_UTF8)) {
		if (imap_mutf7_to_utf8(ref, rlen, refdec, sizeof(refdec), &rlen, &err) != 0) {
			imap__bad(s, "Invalid reference: %s", err);
			return;
		}
		ref = refdec;
	}
	const struct imap_arg *plist;
	size_t np;
	if (!x.lsub && !x.xlist && imap_arg_get_list(&args[i + 1], &plist, &np)) {
		if (np == 0) {
			imap__bad(s, "Empty list of mailbox patterns");
			return;
		}
		x.extended = true;
		for (size_t k = 0; k < np; k++)
			if (add_pattern(&x, ref, rlen, &plist[k], &err) != 0) {
				imap__bad(s, "%s", err);
				return;
			}
	} else if (add_pattern(&x, ref, rlen, &args[i + 1], &err) != 0) {
		imap__bad(s, "%s", err);
		return;
	}
	i += 2;
	if (i < argc && !x.lsub && !x.xlist && imap_arg_atom_equals(&args[i], "RETURN") &&
	    i + 1 < argc) {
		if (list_options(&x, &args[i + 1], true, &err) != 0) {
			imap__bad(s, "%s", err);
			return;
		}
		x.extended = true;
		i += 2;
	}
	if (i != argc) {
		imap__bad(s, "Too many arguments");
		return;
	}
	/* RFC 9051 §6.3.9: IMAP4rev2's LIST is the extended one (a name that
	 * is no mailbox is \NonExistent). */
	if ((s->flags & IMAP_SF_REV2) && !x.lsub && !x.xlist)
		x.extended = true;
	/* RFC 3501 §6.3.8: an empty pattern asks for the delimiter. */
	if (x.npats == 1 && x.pats[0].len == 0 && !x.lsub) {
		imap__untagged(s, "%s (\\Noselect) \".\" \"\"", x.xlist ? "XLIST" : "LIST");
		imap__ok(s, IMAP_CODE_NONE, "%s completed", cmd->name);
		return;
	}
	struct store_txn *t;
	if (store_read_begin(imap__store(), &t) != 0) {
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox list now");
		return;
	}
	int rc = store_mailbox_foreach(t, s->user_id, collect_mailbox, &x);
	x.nbase = x.n;
	if (rc == 0)
		rc = store_subs_foreach(t, s->user_id, collect_sub, &x);
	if (rc != 0 || list_prepare(&x) != 0) {
		store_read_end(&t);
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox list now");
		return;
	}
	/* The STATUS responses read in the same transaction: one snapshot. */
	x.t = x.ret_status ? t : NULL;
	list_run(&x);
	store_read_end(&t);
	imap__ok(s, IMAP_CODE_NONE, "%s completed", cmd->name);
}
