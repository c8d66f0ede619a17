/*
 * store_apply_msg: apply() of message commands: APPEND, STORE (RFC 3501
 * §6.4.6 with UNCHANGEDSINCE, RFC 7162 §3.1.3), EXPUNGE (§6.4.3, UID
 * EXPUNGE of RFC 4315), COPY (§6.4.7) and MOVE (RFC 6851), and the message
 * move of RENAME INBOX.
 *
 * APPEND gives the message its thread id (store_thread.c); COPY and MOVE
 * keep it with the rest of the record.
 *
 * Every command that changes messages takes one new MODSEQ for the
 * mailbox (HIGHESTMODSEQ + 1) and gives it to every message it changes.
 * UIDs come from the mailbox's UIDNEXT. Counters (messages, unseen,
 * deleted, size) and the user's usage move with every change. Messages to
 * change are collected first and changed afterwards, so no cursor walks a
 * database that is being written.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"
#include "node/lib/wire.h"
#include "node/store/store_internal.h"

struct msg_list {
	struct store_msg *v;
	size_t n, cap;
};

static void
msg_list_push(struct msg_list *l, const struct store_msg *m)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = *m;
}

/* Messages of a mailbox within ranges (all when there are none). */
static int
collect(struct store_ctx *x, uint32_t mailbox_id, const struct cmd_ranges *ranges,
        struct msg_list *l)
{
	struct idx_cursor *cur;
	if (idx_cursor_open(x->t, IDX_DB_MESSAGES, &cur) != 0)
		return -EIO;
	uint32_t nr = ranges->n ? ranges->n : 1;
	int rc = 0;
	for (uint32_t i = 0; i < nr && rc >= 0; i++) {
		struct uid_range r = {1, UINT32_MAX};
		if (ranges->n)
			cmd_ranges_get(ranges, i, &r);
		uint8_t k[8];
		struct idx_val kv, v;
		schema_key_msg(k, mailbox_id, r.lo);
		rc = idx_cursor_seek(cur, k, 8, &kv, &v);
		while (rc == 1 && kv.len == 8 && wire_rd32(kv.p) == mailbox_id) {
			struct store_msg m;
			m.uid = wire_rd32((const uint8_t *)kv.p + 4);
			if (m.uid > r.hi)
				break;
			if (schema_msg_decode(v.p, v.len, &m) != 0) {
				rc = -1;
				break;
			}
			m.mailbox_id = mailbox_id;
			msg_list_push(l, &m);
			rc = idx_cursor_next(cur, &kv, &v);
		}
	}
	idx_cursor_close(&cur);
	return rc < 0 ? -EIO : 0;
}

static int
msg_put(struct store_ctx *x, const struct store_msg *m)
{
	uint8_t k[8], v[SCHEMA_MSG_LEN];
	schema_key_msg(k, m->mailbox_id, m->uid);
	schema_msg_encode(m, v);
	return idx_put(x->t, IDX_DB_MESSAGES, k, 8, v, sizeof(v));
}

static int
modseq_move(struct store_ctx *x, const struct store_msg *m, uint64_t old)
{
	uint8_t k[16];
	if (old) {
		schema_key_modseq(k, m->mailbox_id, old, m->uid);
		if (idx_del(x->t, IDX_DB_MODSEQ, k, 16) < 0)
			return -EIO;
	}
	schema_key_modseq(k, m->mailbox_id, m->modseq, m->uid);
	return idx_put(x->t, IDX_DB_MODSEQ, k, 16, "", 0);
}

/* Map keyword names to the mailbox's keyword bits, adding new names when
 * create is set. Returns 0 (status in *st), or -errno. */
static int
keywords_mask(struct store_ctx *x, uint32_t mailbox_id, const struct cmd_strlist *names, int create,
              uint64_t *mask_r, enum cmd_status *st)
{
	*mask_r = 0;
	if (names->n == 0)
		return 0;
	uint8_t k[4];
	struct idx_val v;
	schema_key_u32(k, mailbox_id);
	int rc = idx_get(x->t, IDX_DB_KEYWORDS, k, 4, &v);
	if (rc < 0)
		return -EIO;
	struct nbuf table;
	nbuf_init(&table, CMD_KEYWORDS_MAX * (CMD_KEYWORD_MAX + 2));
	if (rc == 1)
		nbuf_append(&table, v.p, v.len);
	int added = 0;
	uint32_t pos = 0;
	struct cmd_str s;
	while (cmd_strlist_next(names, &pos, &s)) {
		struct cmd_strlist cur = {.raw = nbuf_head(&table),
		                          .rawlen = (uint32_t)nbuf_avail(&table)};
		uint32_t p2 = 0, bit = 0;
		struct cmd_str t;
		int found = -1;
		while (cmd_strlist_next(&cur, &p2, &t)) {
			if (t.len == s.len && ascii_strncasecmp(t.p, s.p, s.len) == 0)
				found = (int)bit;
			bit++;
		}
		if (found < 0) {
			if (!create)
				continue;
			if (bit >= CMD_KEYWORDS_MAX) {
				*st = CMD_ELIMIT;
				nbuf_deinit(&table);
				return 0;
			}
			uint8_t l2[2] = {(uint8_t)(s.len >> 8), (uint8_t)s.len};
			nbuf_append(&table, l2, 2);
			nbuf_append(&table, s.p, s.len);
			found = (int)bit;
			added = 1;
		}
		*mask_r |= (uint64_t)1 << found;
	}
	rc = added ? idx_put(x->t, IDX_DB_KEYWORDS, k, 4, nbuf_head(&table), nbuf_avail(&table))
	           : 0;
	nbuf_deinit(&table);
	return rc;
}

/* Keyword names of a mask in a mailbox, as a strlist (for COPY). */
static int
keywords_names(struct store_ctx *x, uint32_t mailbox_id, uint64_t mask, const char **names,
               char *buf, size_t buflen, uint32_t *n_r)
{
	*n_r = 0;
	if (mask == 0)
		return 0;
	uint8_t k[4];
	struct idx_val v;
	schema_key_u32(k, mailbox_id);
	int rc = idx_get(x->t, IDX_DB_KEYWORDS, k, 4, &v);
	if (rc <= 0)
		return rc < 0 ? -EIO : 0;
	struct cmd_strlist l = {.raw = v.p, .rawlen = (uint32_t)v.len};
	uint32_t pos = 0, bit = 0;
	size_t used = 0;
	struct cmd_str s;
	while (cmd_strlist_next(&l, &pos, &s) && bit < 64) {
		if ((mask >> bit) & 1 && used + s.len + 1 <= buflen) {
			memcpy(buf + used, s.p, s.len);
			buf[used + s.len] = '\0';
			names[(*n_r)++] = buf + used;
			used += s.len + 1;
		}
		bit++;
	}
	return 0;
}

static int
load_box(struct store_ctx *x, const struct cmd *c, uint32_t id, struct store_mailbox *mb,
         struct cmd_result *r)
{
	int rc = store__mailbox_load_id(x->t, id, mb);
	if (rc < 0)
		return -EIO;
	if (rc == 0 || mb->user_id != c->user_id) {
		r->status = CMD_ENOTFOUND;
		return 1;
	}
	return 0;
}

/* Add one message (a new UID) sharing body m->hash. */
static int
msg_insert(struct store_ctx *x, struct store_mailbox *mb, const char *dir, struct store_msg *m,
           uint64_t modseq, const char *link_from, const struct cmd_str *meta)
{
	int rc;
	m->mailbox_id = mb->id;
	m->uid = mb->uidnext++;
	m->modseq = modseq;
	if ((rc = msg_put(x, m)) != 0 || (rc = modseq_move(x, m, 0)) != 0)
		return rc;
	mb->messages++;
	mb->size += m->size;
	if (!(m->flags & MSG_SEEN))
		mb->unseen++;
	if (m->flags & MSG_DELETED)
		mb->deleted++;
	if ((rc = store__usage_add(x, mb->user_id, (int64_t)m->size, 1)) != 0)
		return rc;
	struct idx_val v;
	struct store_body b;
	rc = idx_get(x->t, IDX_DB_BODIES, m->hash, CMD_HASH_LEN, &v);
	if (rc < 0 || (rc == 1 && schema_body_decode(v.p, v.len, &b) != 0))
		return -EIO;
	if (rc == 1) {
		b.refcount++;
	} else {
		b.refcount = 1;
		b.size = m->size;
		b.meta = meta ? (const uint8_t *)meta->p : NULL;
		b.metalen = meta ? (uint32_t)meta->len : 0;
	}
	nbuf_reset(&x->scratch);
	if (schema_body_encode(&b, &x->scratch) != 0)
		return -E2BIG;
	if ((rc = idx_put(x->t, IDX_DB_BODIES, m->hash, CMD_HASH_LEN, nbuf_head(&x->scratch),
	                  nbuf_avail(&x->scratch))) != 0)
		return rc;
	uint8_t rk[CMD_HASH_LEN + 8];
	memcpy(rk, m->hash, CMD_HASH_LEN);
	schema_key_msg(rk + CMD_HASH_LEN, mb->id, m->uid);
	if ((rc = idx_put(x->t, IDX_DB_BODY_REFS, rk, sizeof(rk), "", 0)) != 0)
		return rc;
	char *file = store__msg_file(dir, mb, m);
	if (link_from)
		store__fop(x->st, FOP_LINK, xstrdup(link_from), file, m->hash);
	else
		store__fop(x->st, FOP_LINK_BODY, store_body_path(x->st->data_dir, m->hash), file,
		           m->hash);
	return 0;
}

static int
quota_allows(struct store_ctx *x, uint32_t user_id, uint64_t bytes, uint64_t msgs)
{
	uint64_t qb, qm;
	struct store_usage u = {0, 0};
	uint8_t k[4];
	struct idx_val v;
	if (store__quota(x, user_id, &qb, &qm) != 0)
		return -1;
	schema_key_u32(k, user_id);
	if (idx_get(x->t, IDX_DB_USAGE, k, 4, &v) == 1)
		schema_usage_decode(v.p, v.len, &u);
	if (qb && u.bytes + bytes > qb)
		return 0;
	if (qm && u.messages + msgs > qm)
		return 0;
	return 1;
}

static int
apply_append(struct store_ctx *x, const struct cmd *c, struct cmd_result *r)
{
	struct store_mailbox mb;
	int rc = load_box(x, c, c->mailbox_id, &mb, r);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	struct idx_val v;
	struct store_body b;
	rc = idx_get(x->t, IDX_DB_BODIES, c->hash, CMD_HASH_LEN, &v);
	if (rc == 1 && (schema_body_decode(v.p, v.len, &b) != 0 || b.size != c->size)) {
		r->status = CMD_EINVALID; /* same hash, other size: not our body */
		return 0;
	}
	if ((rc = quota_allows(x, c->user_id, c->size, 1)) <= 0) {
		r->status = CMD_EQUOTA;
		return rc < 0 ? -EIO : 0;
	}
	struct store_msg m = {0};
	enum cmd_status st = CMD_OK;
	if ((rc = keywords_mask(x, mb.id, &c->keywords, 1, &m.keywords, &st)) != 0)
		return rc;
	if (st != CMD_OK) {
		r->status = st;
		return 0;
	}
	if (mb.uidnext >= STORE_UID_MAX) {
		r->status = CMD_ELIMIT; /* the UID space is used up: a new UIDVALIDITY is needed */
		return 0;
	}
	char *dir = store__maildir(x, mb.user_id, mb.name, strlen(mb.name));
	if (dir == NULL)
		return -EIO;
	m.flags = c->flags;
	m.internaldate = c->internaldate;
	m.savedate = (int64_t)(x->hdr->time_ms / 1000);
	m.size = c->size;
	memcpy(m.hash, c->hash, CMD_HASH_LEN);
	/* the tree of a body already stored is the one its first append
	 * carried (the command's may then be empty) */
	struct cmd_str meta = c->meta;
	rc = idx_get(x->t, IDX_DB_BODIES, c->hash, CMD_HASH_LEN, &v);
	if (rc < 0 || (rc == 1 && schema_body_decode(v.p, v.len, &b) != 0)) {
		free(dir);
		return -EIO;
	}
	if (rc == 1 && b.metalen > 0)
		meta = (struct cmd_str){(const char *)b.meta, b.metalen};
	/* a new thread is named after its first message, mailbox id and UID */
	rc = store__thread_assign(x, c->user_id, meta.p, meta.len,
	                          ((uint64_t)mb.id << 32) | mb.uidnext, &m.thread_id);
	uint64_t modseq = ++mb.highestmodseq;
	if (rc == 0)
		rc = msg_insert(x, &mb, dir, &m, modseq, NULL, &c->meta);
	free(dir);
	if (rc == 0)
		rc = store__mailbox_save(x, &mb);
	if (rc != 0)
		return rc;
	store__change(x->st, mb.user_id, mb.id, STORE_CH_EXISTS, modseq);
	r->uid = m.uid;
	r->uidvalidity = mb.uidvalidity;
	r->modseq = modseq;
	r->id = mb.id;
	return 0;
}

static int
apply_store(struct store_ctx *x, const struct cmd *c, struct cmd_result *r)
{
	struct store_mailbox mb;
	int rc = load_box(x, c, c->mailbox_id, &mb, r);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	if (c->uidvalidity != mb.uidvalidity) {
		r->status = CMD_ESTALE;
		return 0;
	}
	uint64_t kw;
	enum cmd_status st = CMD_OK;
	if ((rc = keywords_mask(x, mb.id, &c->keywords, c->mode != STORE_REMOVE, &kw, &st)) != 0)
		return rc;
	if (st != CMD_OK) {
		r->status = st;
		return 0;
	}
	struct msg_list l = {0};
	if ((rc = collect(x, mb.id, &c->ranges, &l)) != 0)
		goto out;
	uint64_t modseq = mb.highestmodseq + 1;
	int changed = 0;
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		struct store_msg *m = &l.v[i];
		uint32_t flags = m->flags;
		uint64_t kws = m->keywords;
		switch (c->mode) {
		case STORE_ADD:
			flags |= c->flags;
			kws |= kw;
			break;
		case STORE_REMOVE:
			flags &= ~c->flags;
			kws &= ~kw;
			break;
		default:
			flags = c->flags;
			kws = kw;
			break;
		}
		/* RFC 7162 §3.1.3: a message changed since UNCHANGEDSINCE is
		 * refused (MODIFIED), whether or not this STORE would change it. */
		if (c->modseq && m->modseq > c->modseq) {
			cmd_result_push(r, 2, m->uid);
			continue;
		}
		if (flags == m->flags && kws == m->keywords)
			continue;
		if ((m->flags ^ flags) & MSG_SEEN)
			mb.unseen += (flags & MSG_SEEN) ? (uint32_t)-1 : 1;
		if ((m->flags ^ flags) & MSG_DELETED)
			mb.deleted += (flags & MSG_DELETED) ? 1 : (uint32_t)-1;
		uint64_t old = m->modseq;
		m->flags = flags;
		m->keywords = kws;
		m->modseq = modseq;
		if ((rc = msg_put(x, m)) == 0)
			rc = modseq_move(x, m, old);
		cmd_result_push(r, 1, m->uid);
		changed = 1;
	}
	if (rc == 0 && changed) {
		mb.highestmodseq = modseq;
		rc = store__mailbox_save(x, &mb);
		store__change(x->st, mb.user_id, mb.id, STORE_CH_FLAGS, modseq);
	}
	r->modseq = mb.highestmodseq;
	r->uidvalidity = mb.uidvalidity;
out:
	free(l.v);
	return rc;
}

static int
expunge_list(struct store_ctx *x, struct store_mailbox *mb, struct msg_list *l, int only_deleted,
             struct cmd_result *r)
{
	char *dir = store__maildir(x, mb->user_id, mb->name, strlen(mb->name));
	if (dir == NULL)
		return -EIO;
	uint64_t modseq = mb->highestmodseq + 1;
	int rc = 0, any = 0;
	for (size_t i = 0; i < l->n && rc == 0; i++) {
		if (only_deleted && !(l->v[i].flags & MSG_DELETED))
			continue;
		rc = store__msg_expunge(x, mb, dir, &l->v[i], modseq);
		cmd_result_push(r, 1, l->v[i].uid);
		any = 1;
	}
	free(dir);
	if (rc == 0 && any) {
		mb->highestmodseq = modseq;
		rc = store__mailbox_save(x, mb);
		store__change(x->st, mb->user_id, mb->id, STORE_CH_EXPUNGE, modseq);
	}
	r->modseq = mb->highestmodseq;
	return rc;
}

static int
apply_expunge(struct store_ctx *x, const struct cmd *c, struct cmd_result *r)
{
	struct store_mailbox mb;
	int rc = load_box(x, c, c->mailbox_id, &mb, r);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	if (c->uidvalidity != mb.uidvalidity) {
		r->status = CMD_ESTALE;
		return 0;
	}
	struct msg_list l = {0};
	struct cmd_ranges all = {0};
	rc = collect(x, mb.id, c->mode == EXPUNGE_ALL_DELETED ? &all : &c->ranges, &l);
	if (rc == 0 && (c->mode != EXPUNGE_ALL_DELETED || mb.deleted > 0))
		rc = expunge_list(x, &mb, &l, c->mode != EXPUNGE_UIDS, r);
	r->uidvalidity = mb.uidvalidity;
	free(l.v);
	return rc;
}

static int
apply_copy(struct store_ctx *x, const struct cmd *c, struct cmd_result *r)
{
	struct store_mailbox src, dst;
	int rc = load_box(x, c, c->mailbox_id, &src, r);
	if (rc == 0)
		rc = load_box(x, c, c->mailbox_id2, &dst, r);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	if (c->uidvalidity != src.uidvalidity) {
		r->status = CMD_ESTALE;
		return 0;
	}
	int move = c->type == CMD_MSG_MOVE;
	struct msg_list l = {0};
	if ((rc = collect(x, src.id, &c->ranges, &l)) != 0)
		goto out;
	uint64_t bytes = 0;
	for (size_t i = 0; i < l.n; i++)
		bytes += l.v[i].size;
	if (!move && (rc = quota_allows(x, c->user_id, bytes, l.n)) <= 0) {
		r->status = CMD_EQUOTA;
		rc = rc < 0 ? -EIO : 0;
		goto out;
	}
	rc = 0;
	if ((uint64_t)dst.uidnext + l.n > STORE_UID_MAX) {
		r->status = CMD_ELIMIT;
		goto out;
	}
	if (src.id == dst.id && move) {
		r->uidvalidity = dst.uidvalidity; /* MOVE onto itself: nothing */
		goto out;
	}
	char *sdir = store__maildir(x, src.user_id, src.name, strlen(src.name));
	char *ddir = store__maildir(x, dst.user_id, dst.name, strlen(dst.name));
	uint64_t modseq = ++dst.highestmodseq;
	if (src.id == dst.id)
		src.highestmodseq = dst.highestmodseq;
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		struct store_msg m = l.v[i];
		char *from = store__msg_file(sdir, &src, &m);
		const char *names[CMD_KEYWORDS_MAX];
		char namebuf[CMD_KEYWORDS_MAX * (CMD_KEYWORD_MAX + 1)];
		uint32_t nn;
		rc = keywords_names(x, src.id, m.keywords, names, namebuf, sizeof(namebuf), &nn);
		if (rc == 0) {
			struct cmd_strlist kl = {.n = nn, .v = names};
			enum cmd_status st = CMD_OK;
			rc = keywords_mask(x, dst.id, &kl, 1, &m.keywords, &st);
			if (st != CMD_OK)
				m.keywords = 0; /* the target's table is full: drop them */
		}
		m.savedate = (int64_t)(x->hdr->time_ms / 1000);
		if (rc == 0)
			rc = msg_insert(x, &dst, ddir, &m, modseq, from, NULL);
		free(from);
		cmd_result_push(r, 1, l.v[i].uid);
		cmd_result_push(r, 2, m.uid);
		if (src.id == dst.id) {
			src.uidnext = dst.uidnext;
			src.messages = dst.messages;
			src.size = dst.size;
			src.unseen = dst.unseen;
			src.deleted = dst.deleted;
		}
	}
	if (rc == 0)
		rc = store__mailbox_save(x, &dst);
	free(sdir);
	free(ddir);
	if (rc == 0 && l.n > 0)
		store__change(x->st, dst.user_id, dst.id, STORE_CH_EXISTS, modseq);
	if (rc == 0 && move && l.n > 0) {
		struct cmd_result scratch = {0};
		rc = expunge_list(x, &src, &l, 0, &scratch);
		free(scratch.set1);
		free(scratch.set2);
	}
	r->uidvalidity = dst.uidvalidity;
	r->modseq = dst.highestmodseq;
	r->id = dst.id;
out:
	free(l.v);
	return rc;
}

int
store__inbox_rename(struct store_ctx *x, struct store_mailbox *inbox, const char *name, size_t n,
                    struct cmd_result *r)
{
	struct store_mailbox dst;
	for (size_t i = 0; i < n; i++) {
		if (name[i] != '.')
			continue;
		int rc = store__mailbox_create(x, inbox->user_id, name, i, 0, 0, &dst);
		if (rc < 0)
			return rc;
	}
	int rc = store__mailbox_create(x, inbox->user_id, name, n, 0, 0, &dst);
	if (rc < 0)
		return rc;
	struct cmd c = {.type = CMD_MSG_MOVE,
	                .user_id = inbox->user_id,
	                .mailbox_id = inbox->id,
	                .mailbox_id2 = dst.id,
	                .uidvalidity = inbox->uidvalidity};
	/* apply_copy reads both mailboxes back, and the new one only exists
	 * in this transaction: that is fine, it is the same transaction. */
	rc = apply_copy(x, &c, r);
	r->id = dst.id;
	return rc;
}

int
store__apply_message(struct store_ctx *x, const struct cmd *c, struct cmd_result *r)
{
	switch (c->type) {
	case CMD_MSG_APPEND:
		return apply_append(x, c, r);
	case CMD_MSG_STORE:
		return apply_store(x, c, r);
	case CMD_MSG_EXPUNGE:
		return apply_expunge(x, c, r);
	case CMD_MSG_COPY:
	case CMD_MSG_MOVE:
		return apply_copy(x, c, r);
	default:
		r->status = CMD_EINVALID;
		return 0;
	}
}
