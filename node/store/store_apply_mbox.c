/*
 * store_apply_mbox: apply() of mailbox commands: CREATE (with the superior
 * names it needs, RFC 3501 §6.3.3), DELETE (§6.3.4: the mailbox only; its
 * children stay), RENAME (§6.3.5: with its children; INBOX moves its
 * messages), SUBSCRIBE/UNSUBSCRIBE, special-use (RFC 6154) and the
 * claiming of \Recent by the first session that selects the mailbox.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"
#include "node/lib/wire.h"
#include "node/store/store_internal.h"

int
store__mailbox_list(struct idx_txn *t, uint32_t user_id,
                    int (*cb)(void *arg, const struct store_mailbox *m), void *arg)
{
	struct idx_cursor *cur;
	uint8_t k[4];
	struct idx_val kv, v;
	schema_key_u32(k, user_id);
	if (idx_cursor_open(t, IDX_DB_MAILBOXES, &cur) != 0)
		return -1;
	int rc = idx_cursor_seek(cur, k, 4, &kv, &v);
	while (rc == 1) {
		if (kv.len < 4 || memcmp(kv.p, k, 4) != 0 || kv.len > 4 + SCHEMA_NAME_MAX) {
			rc = 0;
			break;
		}
		struct store_mailbox m;
		if (schema_mailbox_decode(v.p, v.len, &m) != 0) {
			rc = -1;
			break;
		}
		m.user_id = user_id;
		memcpy(m.name, (const uint8_t *)kv.p + 4, kv.len - 4);
		m.name[kv.len - 4] = '\0';
		int stop = cb(arg, &m);
		if (stop) {
			rc = stop;
			break;
		}
		rc = idx_cursor_next(cur, &kv, &v);
	}
	idx_cursor_close(&cur);
	return rc;
}

static int
delete_range(struct idx_txn *t, enum idx_db db, const uint8_t *prefix, size_t plen)
{
	struct idx_cursor *cur;
	struct idx_val kv;
	if (idx_cursor_open(t, db, &cur) != 0)
		return -EIO;
	int rc;
	while ((rc = idx_cursor_seek(cur, prefix, plen, &kv, NULL)) == 1 && kv.len >= plen &&
	       memcmp(kv.p, prefix, plen) == 0) {
		if (idx_cursor_del(cur) != 0) {
			rc = -1;
			break;
		}
	}
	idx_cursor_close(&cur);
	return rc < 0 ? -EIO : 0;
}

int
store__mailbox_destroy(struct store_ctx *x, struct store_mailbox *mb, int remove_dir)
{
	char *dir = store__maildir(x, mb->user_id, mb->name, strlen(mb->name));
	if (dir == NULL)
		return -EIO;
	struct idx_cursor *cur;
	uint8_t k[8];
	struct idx_val kv, v;
	int rc = 0;
	schema_key_msg(k, mb->id, 0);
	/* Expunge every message; the cursor is re-seeked after each delete. */
	for (;;) {
		if (idx_cursor_open(x->t, IDX_DB_MESSAGES, &cur) != 0) {
			rc = -EIO;
			break;
		}
		int found = idx_cursor_seek(cur, k, 4, &kv, &v);
		struct store_msg m;
		int more = found == 1 && kv.len == 8 && memcmp(kv.p, k, 4) == 0 &&
		           schema_msg_decode(v.p, v.len, &m) == 0;
		if (more) {
			m.mailbox_id = mb->id;
			m.uid = wire_rd32((const uint8_t *)kv.p + 4);
		}
		idx_cursor_close(&cur);
		if (found < 0)
			rc = -EIO;
		if (!more || rc != 0)
			break;
		if ((rc = store__msg_expunge(x, mb, dir, &m, mb->highestmodseq)) != 0)
			break;
	}
	if (rc == 0)
		rc = delete_range(x->t, IDX_DB_EXPUNGED, k, 4);
	if (rc == 0)
		rc = delete_range(x->t, IDX_DB_MODSEQ, k, 4);
	uint8_t nk[4 + SCHEMA_NAME_MAX], uk[8];
	size_t nkl = schema_key_u32_name(nk, mb->user_id, mb->name, strlen(mb->name));
	schema_key_msg(uk, mb->user_id, mb->id); /* its URLAUTH key */
	if (rc == 0 &&
	    (idx_del(x->t, IDX_DB_MAILBOXES, nk, nkl) < 0 ||
	     idx_del(x->t, IDX_DB_MBOX_IDS, k, 4) < 0 || idx_del(x->t, IDX_DB_KEYWORDS, k, 4) < 0 ||
	     idx_del(x->t, IDX_DB_URLAUTH, uk, sizeof(uk)) < 0))
		rc = -EIO;
	if (rc == 0) {
		store__change(x->st, mb->user_id, mb->id, STORE_CH_MAILBOX | STORE_CH_EXPUNGE,
		              mb->highestmodseq + 1);
		store__fop(x->st, FOP_RMTREE, dir, NULL, NULL);
		dir = NULL;
	}
	(void)remove_dir;
	free(dir);
	return rc;
}

static int
apply_create(struct store_ctx *x, const struct cmd *c, struct cmd_result *r)
{
	struct store_mailbox m;
	if (!store__mailbox_name_valid(c->name.p, c->name.len)) {
		r->status = CMD_EINVALID;
		return 0;
	}
	uint8_t k[4];
	struct idx_val v;
	schema_key_u32(k, c->user_id);
	if (idx_get(x->t, IDX_DB_USER_IDS, k, 4, &v) != 1) {
		r->status = CMD_ENOTFOUND;
		return 0;
	}
	int rc = store__mailbox_load(x->t, c->user_id, c->name.p, c->name.len, &m);
	if (rc != 0) {
		r->status = CMD_EEXISTS;
		return rc < 0 ? -EIO : 0;
	}
	/* Superior names first ("A" and "A.B" for "A.B.C"). */
	for (size_t i = 0; i < c->name.len; i++) {
		if (c->name.p[i] != '.')
			continue;
		rc = store__mailbox_create(x, c->user_id, c->name.p, i, 0, 0, &m);
		if (rc < 0)
			return rc;
	}
	rc = store__mailbox_create(x, c->user_id, c->name.p, c->name.len, c->special_use, 0, &m);
	if (rc < 0)
		return rc;
	r->id = m.id;
	r->uidvalidity = m.uidvalidity;
	return 0;
}

static int
apply_delete(struct store_ctx *x, const struct cmd *c, struct cmd_result *r)
{
	struct store_mailbox m;
	if (store__is_inbox(c->name.p, c->name.len)) {
		r->status = CMD_ENOPERM;
		return 0;
	}
	int rc = store__mailbox_load(x->t, c->user_id, c->name.p, c->name.len, &m);
	if (rc <= 0) {
		r->status = CMD_ENOTFOUND;
		return rc < 0 ? -EIO : 0;
	}
	r->id = m.id;
	return store__mailbox_destroy(x, &m, 1);
}

struct rename_list {
	const char *prefix;
	size_t plen;
	struct store_mailbox *v;
	size_t n, cap;
};

static int
rename_collect(void *arg, const struct store_mailbox *m)
{
	struct rename_list *l = arg;
	size_t len = strlen(m->name);
	if (!(len == l->plen && memcmp(m->name, l->prefix, len) == 0) &&
	    !(len > l->plen && memcmp(m->name, l->prefix, l->plen) == 0 && m->name[l->plen] == '.'))
		return 0;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = *m;
	return 0;
}

static int
apply_rename(struct store_ctx *x, const struct cmd *c, struct cmd_result *r)
{
	struct store_mailbox m;
	if (!store__mailbox_name_valid(c->name.p, c->name.len) ||
	    !store__mailbox_name_valid(c->name2.p, c->name2.len) ||
	    store__is_inbox(c->name2.p, c->name2.len)) {
		r->status = CMD_EINVALID;
		return 0;
	}
	int rc = store__mailbox_load(x->t, c->user_id, c->name.p, c->name.len, &m);
	if (rc <= 0) {
		r->status = CMD_ENOTFOUND;
		return rc < 0 ? -EIO : 0;
	}
	struct store_mailbox dst;
	if ((rc = store__mailbox_load(x->t, c->user_id, c->name2.p, c->name2.len, &dst)) != 0) {
		r->status = CMD_EEXISTS;
		return rc < 0 ? -EIO : 0;
	}
	if (c->name2.len > c->name.len && memcmp(c->name2.p, c->name.p, c->name.len) == 0 &&
	    c->name2.p[c->name.len] == '.') {
		r->status = CMD_EINVALID; /* into its own child */
		return 0;
	}
	if (store__is_inbox(c->name.p, c->name.len))
		return store__inbox_rename(x, &m, c->name2.p, c->name2.len, r);

	struct rename_list l = {.prefix = c->name.p, .plen = c->name.len};
	if (store__mailbox_list(x->t, c->user_id, rename_collect, &l) < 0) {
		free(l.v);
		return -EIO;
	}
	/* No renamed child may land on an existing name. */
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		char newname[SCHEMA_NAME_MAX + 1];
		size_t tail = strlen(l.v[i].name) - c->name.len;
		if (c->name2.len + tail > SCHEMA_NAME_MAX) {
			r->status = CMD_EINVALID;
			break;
		}
		memcpy(newname, c->name2.p, c->name2.len);
		memcpy(newname + c->name2.len, l.v[i].name + c->name.len, tail);
		rc = store__mailbox_load(x->t, c->user_id, newname, c->name2.len + tail, &dst);
		if (rc != 0)
			r->status = CMD_EEXISTS;
	}
	if (rc < 0 || r->status != CMD_OK) {
		free(l.v);
		return rc < 0 ? -EIO : 0;
	}
	/* Superior names of the new name. */
	for (size_t i = 0; i < c->name2.len; i++) {
		if (c->name2.p[i] != '.')
			continue;
		if ((rc = store__mailbox_create(x, c->user_id, c->name2.p, i, 0, 0, &dst)) < 0)
			break;
		rc = 0;
	}
	for (size_t i = 0; i < l.n && rc >= 0; i++) {
		struct store_mailbox *mb = &l.v[i];
		size_t oldlen = strlen(mb->name), tail = oldlen - c->name.len;
		uint8_t k[4 + SCHEMA_NAME_MAX];
		size_t kl = schema_key_u32_name(k, c->user_id, mb->name, oldlen);
		char *olddir = store__maildir(x, c->user_id, mb->name, oldlen);
		int subscribed = idx_get(x->t, IDX_DB_SUBS, k, kl, &(struct idx_val){0}) == 1;
		if (idx_del(x->t, IDX_DB_MAILBOXES, k, kl) < 0 ||
		    (subscribed && idx_del(x->t, IDX_DB_SUBS, k, kl) < 0)) {
			free(olddir);
			rc = -EIO;
			break;
		}
		char newname[SCHEMA_NAME_MAX + 1];
		memcpy(newname, c->name2.p, c->name2.len);
		memcpy(newname + c->name2.len, mb->name + c->name.len, tail);
		newname[c->name2.len + tail] = '\0';
		memcpy(mb->name, newname, c->name2.len + tail + 1);
		if ((rc = store__mailbox_save(x, mb)) != 0) {
			free(olddir);
			break;
		}
		if (subscribed) {
			kl = schema_key_u32_name(k, c->user_id, newname, strlen(newname));
			if ((rc = idx_put(x->t, IDX_DB_SUBS, k, kl, "", 0)) != 0) {
				free(olddir);
				break;
			}
		}
		store__fop(x->st, FOP_RENAME, olddir,
		           store__maildir(x, c->user_id, newname, strlen(newname)), NULL);
		store__change(x->st, c->user_id, mb->id, STORE_CH_MAILBOX, mb->highestmodseq);
	}
	r->id = m.id;
	free(l.v);
	return rc < 0 ? rc : 0;
}

static int
apply_subscribe(struct store_ctx *x, const struct cmd *c, struct cmd_result *r)
{
	if (!store__mailbox_name_valid(c->name.p, c->name.len)) {
		r->status = CMD_EINVALID;
		return 0;
	}
	const char *name = store__is_inbox(c->name.p, c->name.len) ? "INBOX" : c->name.p;
	uint8_t k[4 + SCHEMA_NAME_MAX];
	size_t kl = schema_key_u32_name(k, c->user_id, name, c->name.len);
	if (c->type == CMD_MAILBOX_SUBSCRIBE) {
		/* RFC 3501 §6.3.6: a server MAY refuse names that do not
		 * exist; mailnode accepts only existing mailboxes. */
		struct store_mailbox m;
		int rc = store__mailbox_load(x->t, c->user_id, c->name.p, c->name.len, &m);
		if (rc <= 0) {
			r->status = CMD_ENOTFOUND;
			return rc < 0 ? -EIO : 0;
		}
		return idx_put(x->t, IDX_DB_SUBS, k, kl, "", 0);
	}
	int rc = idx_del(x->t, IDX_DB_SUBS, k, kl);
	if (rc == 0)
		r->status = CMD_ENOTFOUND;
	return rc < 0 ? -EIO : 0;
}

int
store__apply_mailbox(struct store_ctx *x, const struct cmd *c, struct cmd_result *r)
{
	struct store_mailbox m;
	int rc;
	switch (c->type) {
	case CMD_MAILBOX_CREATE:
		return apply_create(x, c, r);
	case CMD_MAILBOX_DELETE:
		return apply_delete(x, c, r);
	case CMD_MAILBOX_RENAME:
		return apply_rename(x, c, r);
	case CMD_MAILBOX_SUBSCRIBE:
	case CMD_MAILBOX_UNSUBSCRIBE:
		return apply_subscribe(x, c, r);
	case CMD_MAILBOX_SET_SPECIAL:
		rc = store__mailbox_load(x->t, c->user_id, c->name.p, c->name.len, &m);
		if (rc <= 0) {
			r->status = CMD_ENOTFOUND;
			return rc < 0 ? -EIO : 0;
		}
		m.special_use = c->special_use;
		store__change(x->st, c->user_id, m.id, STORE_CH_MAILBOX, m.highestmodseq);
		return store__mailbox_save(x, &m);
	case CMD_MAILBOX_CLAIM_RECENT:
		rc = store__mailbox_load_id(x->t, c->mailbox_id, &m);
		if (rc <= 0 || m.user_id != c->user_id) {
			r->status = CMD_ENOTFOUND;
			return rc < 0 ? -EIO : 0;
		}
		r->uid = m.first_recent_uid;
		r->uidvalidity = m.uidvalidity;
		uint32_t upto = MIN(c->uid, m.uidnext);
		if (upto <= m.first_recent_uid)
			return 0;
		m.first_recent_uid = upto;
		return store__mailbox_save(x, &m);
	default:
		r->status = CMD_EINVALID;
		return 0;
	}
}
