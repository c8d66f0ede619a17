/*
 * store_util: helpers shared by the apply functions: validation of names
 * that become paths, maildir paths, records in the write transaction,
 * counters, quota, and the two operations several commands share (create a
 * mailbox, expunge a message).
 *
 * Maildir++ layout: <data>/mail/<domain>/<local>/ is INBOX (cur/ new/
 * tmp/); mailbox "A.B" is the directory ".A.B" beside them. Names are
 * UTF-8 on disk. Message files are named
 * <internaldate>.M<uidvalidity>U<uid>.mailnode,S=<size>:2, from values
 * every replica shares. XXX Maildir: flags are kept in the index, not in
 * the file names, so a flag change never renames a file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/crypto.h"
#include "node/lib/util.h"
#include "node/lib/wire.h"
#include "node/store/store_internal.h"

void
store__fop(struct store *st, enum store_fop_kind kind, char *a, char *b, const uint8_t *hash)
{
	if (st->nfops == st->capfops) {
		st->capfops = st->capfops ? st->capfops * 2 : 16;
		st->fops = xrealloc(st->fops, st->capfops * sizeof(*st->fops));
	}
	struct store_fop *f = &st->fops[st->nfops++];
	f->kind = kind;
	f->a = a;
	f->b = b;
	if (hash)
		memcpy(f->hash, hash, CMD_HASH_LEN);
}

void
store__change(struct store *st, uint32_t user_id, uint32_t mailbox_id, uint32_t what,
              uint64_t modseq)
{
	for (size_t i = 0; i < st->nchanges; i++) {
		struct store_change *c = &st->changes[i];
		if (c->mailbox_id == mailbox_id && c->user_id == user_id) {
			c->what |= what;
			if (modseq > c->highestmodseq)
				c->highestmodseq = modseq;
			return;
		}
	}
	if (st->nchanges == st->capchanges) {
		st->capchanges = st->capchanges ? st->capchanges * 2 : 16;
		st->changes = xrealloc(st->changes, st->capchanges * sizeof(*st->changes));
	}
	st->changes[st->nchanges++] = (struct store_change){user_id, mailbox_id, what, modseq};
}

/* A path component: printable ASCII or UTF-8, no '/', not "." or "..",
 * not starting with '.'. */
static int
store_component_ok(const char *s, size_t n)
{
	if (n == 0 || n > 255 || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
			return 0;
	}
	return 1;
}

int
store__domain_valid(const char *s, size_t n)
{
	if (!store_component_ok(s, n) || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c >= 0x80))
			return 0;
		if (c == '.' && i + 1 < n && s[i + 1] == '.')
			return 0;
	}
	return 1;
}

int
store__address_valid(const char *s, size_t n)
{
	const char *at = memchr(s, '@', n);
	if (at == NULL || memchr(at + 1, '@', n - (size_t)(at - s) - 1) != NULL)
		return 0;
	size_t llen = (size_t)(at - s);
	if (!store_component_ok(s, llen) || s[llen - 1] == '.')
		return 0;
	for (size_t i = 0; i < llen; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == ' ' || c == '"' || c == '(' || c == ')' || c == ',' || c == ':' ||
		    c == ';' || c == '<' || c == '>' || c == '[' || c == ']' ||
		    (c >= 'A' && c <= 'Z'))
			return 0;
	}
	return store__domain_valid(at + 1, n - llen - 1);
}

int
store__script_name_valid(const char *s, size_t n)
{
	if (n == 0 || n > 255)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || c == '/')
			return 0;
	}
	return 1;
}

int
store__is_inbox(const char *s, size_t n)
{
	return n == 5 && ascii_strncasecmp(s, "INBOX", 5) == 0;
}

int
store__mailbox_name_valid(const char *s, size_t n)
{
	if (n == 0 || n > SCHEMA_NAME_MAX)
		return 0;
	/* Each '.'-separated component is a valid path component. */
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (!store_component_ok(s + start, i - start))
			return 0;
		start = i + 1;
	}
	for (size_t i = 0; i < n; i++)
		if (s[i] == '*' || s[i] == '%')
			return 0;
	return 1;
}

char *
store__maildir_of(struct store *st, const char *address, const char *name, size_t n)
{
	const char *at = strchr(address, '@');
	if (at == NULL)
		return NULL;
	if (store__is_inbox(name, n))
		return xasprintf("%s/%s/%.*s", st->mail_dir, at + 1, (int)(at - address), address);
	return xasprintf("%s/%s/%.*s/.%.*s", st->mail_dir, at + 1, (int)(at - address), address,
	                 (int)n, name);
}

char *
store__maildir(struct store_ctx *x, uint32_t user_id, const char *name, size_t n)
{
	uint8_t k[4];
	struct idx_val v;
	schema_key_u32(k, user_id);
	if (idx_get(x->t, IDX_DB_USER_IDS, k, 4, &v) != 1 || v.len > CMD_ADDRESS_MAX)
		return NULL;
	char addr[CMD_ADDRESS_MAX + 1];
	memcpy(addr, v.p, v.len);
	addr[v.len] = '\0';
	return store__maildir_of(x->st, addr, name, n);
}

char *
store__msg_file(const char *maildir, const struct store_mailbox *mb, const struct store_msg *m)
{
	return xasprintf("%s/cur/%lld.M%uU%u.mailnode,S=%llu:2,", maildir,
	                 (long long)m->internaldate, mb->uidvalidity, m->uid,
	                 (unsigned long long)m->size);
}

int
store__mailbox_load(struct idx_txn *t, uint32_t user_id, const char *name, size_t n,
                    struct store_mailbox *m)
{
	uint8_t k[4 + SCHEMA_NAME_MAX];
	struct idx_val v;
	if (n > SCHEMA_NAME_MAX)
		return 0;
	if (store__is_inbox(name, n))
		name = "INBOX";
	size_t kl = schema_key_u32_name(k, user_id, name, n);
	int rc = idx_get(t, IDX_DB_MAILBOXES, k, kl, &v);
	if (rc != 1)
		return rc;
	if (schema_mailbox_decode(v.p, v.len, m) != 0)
		return -1;
	m->user_id = user_id;
	memcpy(m->name, name, n);
	m->name[n] = '\0';
	return 1;
}

int
store__mailbox_load_id(struct idx_txn *t, uint32_t mailbox_id, struct store_mailbox *m)
{
	uint8_t k[4];
	struct idx_val v;
	schema_key_u32(k, mailbox_id);
	int rc = idx_get(t, IDX_DB_MBOX_IDS, k, 4, &v);
	if (rc != 1)
		return rc;
	if (v.len < 4 || v.len > 4 + SCHEMA_NAME_MAX)
		return -1;
	char name[SCHEMA_NAME_MAX + 1];
	memcpy(name, (const uint8_t *)v.p + 4, v.len - 4);
	return store__mailbox_load(t, wire_rd32(v.p), name, v.len - 4, m);
}

int
store__mailbox_save(struct store_ctx *x, const struct store_mailbox *m)
{
	uint8_t k[4 + SCHEMA_NAME_MAX];
	size_t kl = schema_key_u32_name(k, m->user_id, m->name, strlen(m->name));
	nbuf_reset(&x->scratch);
	if (schema_mailbox_encode(m, &x->scratch) != 0)
		return -E2BIG;
	int rc = idx_put(x->t, IDX_DB_MAILBOXES, k, kl, nbuf_head(&x->scratch),
	                 nbuf_avail(&x->scratch));
	if (rc != 0)
		return rc;
	uint8_t ik[4];
	schema_key_u32(ik, m->id);
	return idx_put(x->t, IDX_DB_MBOX_IDS, ik, 4, k, kl);
}

int
store__meta_u64(struct idx_txn *t, const char *key, uint64_t *v_r)
{
	struct idx_val v;
	int rc = idx_get(t, IDX_DB_META, key, strlen(key), &v);
	if (rc != 1 || v.len != 8) {
		*v_r = 0;
		return rc < 0 ? -1 : 0;
	}
	*v_r = wire_rd64(v.p);
	return 1;
}

int
store__meta_put_u64(struct idx_txn *t, const char *key, uint64_t v)
{
	uint8_t b[8];
	wire_be64(b, v);
	return idx_put(t, IDX_DB_META, key, strlen(key), b, 8);
}

int
store__usage_add(struct store_ctx *x, uint32_t user_id, int64_t bytes, int64_t msgs)
{
	uint8_t k[4], b[16];
	struct idx_val v;
	struct store_usage u = {0, 0};
	schema_key_u32(k, user_id);
	int rc = idx_get(x->t, IDX_DB_USAGE, k, 4, &v);
	if (rc < 0 || (rc == 1 && schema_usage_decode(v.p, v.len, &u) != 0))
		return -EIO;
	u.bytes = (uint64_t)((int64_t)u.bytes + bytes);
	u.messages = (uint64_t)((int64_t)u.messages + msgs);
	schema_usage_encode(&u, b);
	return idx_put(x->t, IDX_DB_USAGE, k, 4, b, sizeof(b));
}

static uint64_t
store_config_num(struct idx_txn *t, const char *key)
{
	struct idx_val v;
	char buf[32];
	uint64_t n = 0;
	if (idx_get(t, IDX_DB_CONFIG, key, strlen(key), &v) != 1 || v.len >= sizeof(buf))
		return 0;
	memcpy(buf, v.p, v.len);
	buf[v.len] = '\0';
	if (parse_u64(buf, UINT64_MAX, &n) != 0)
		return 0;
	return n;
}

int
store__quota(struct store_ctx *x, uint32_t user_id, uint64_t *bytes_r, uint64_t *msgs_r)
{
	uint8_t k[4];
	struct idx_val v;
	struct store_user u;
	*bytes_r = *msgs_r = 0;
	schema_key_u32(k, user_id);
	if (idx_get(x->t, IDX_DB_USER_IDS, k, 4, &v) != 1)
		return 0;
	char addr[CMD_ADDRESS_MAX + 1];
	if (v.len > CMD_ADDRESS_MAX)
		return -1;
	memcpy(addr, v.p, v.len);
	addr[v.len] = '\0';
	if (idx_get(x->t, IDX_DB_USERS, addr, v.len, &v) != 1 ||
	    schema_user_decode(v.p, v.len, &u) != 0)
		return -1;
	*bytes_r = u.quota_bytes ? u.quota_bytes : store_config_num(x->t, "quota.storage");
	*msgs_r = u.quota_msgs ? u.quota_msgs : store_config_num(x->t, "quota.messages");
	return 0;
}

int
store__mailbox_create(struct store_ctx *x, uint32_t user_id, const char *name, size_t n,
                      uint32_t special, int subscribe, struct store_mailbox *m_r)
{
	struct store_mailbox m;
	int rc = store__mailbox_load(x->t, user_id, name, n, &m);
	if (rc < 0)
		return -EIO;
	if (rc == 1) {
		*m_r = m;
		return 1;
	}
	uint64_t next_id, next_uv;
	store__meta_u64(x->t, "next_mailbox_id", &next_id);
	store__meta_u64(x->t, "next_uidvalidity", &next_uv);
	/* UIDVALIDITY: increasing, seeded from the cluster's clock so that a
	 * re-created cluster does not hand out the values of an old one. */
	uint64_t now_s = x->hdr->time_ms / 1000;
	if (next_uv < now_s)
		next_uv = now_s;
	if (next_uv == 0 || next_uv > UINT32_MAX)
		next_uv = 1;
	if (next_id == 0)
		next_id = 1;
	memset(&m, 0, sizeof(m));
	m.id = (uint32_t)next_id;
	m.user_id = user_id;
	m.uidvalidity = (uint32_t)next_uv;
	m.uidnext = 1;
	m.first_recent_uid = 1;
	m.highestmodseq = 1;
	m.special_use = special;
	if (store__is_inbox(name, n)) {
		name = "INBOX";
		n = 5;
	}
	memcpy(m.name, name, n);
	m.name[n] = '\0';
	if ((rc = store__mailbox_save(x, &m)) != 0 ||
	    (rc = store__meta_put_u64(x->t, "next_mailbox_id", next_id + 1)) != 0 ||
	    (rc = store__meta_put_u64(x->t, "next_uidvalidity", next_uv + 1)) != 0)
		return rc;
	if (subscribe) {
		uint8_t k[4 + SCHEMA_NAME_MAX];
		size_t kl = schema_key_u32_name(k, user_id, m.name, n);
		if ((rc = idx_put(x->t, IDX_DB_SUBS, k, kl, "", 0)) != 0)
			return rc;
	}
	char *dir = store__maildir(x, user_id, m.name, n);
	if (dir == NULL)
		return -EIO;
	store__fop(x->st, FOP_MKDIR, dir, NULL, NULL);
	store__change(x->st, user_id, m.id, STORE_CH_MAILBOX, m.highestmodseq);
	*m_r = m;
	return 0;
}

int
store__msg_expunge(struct store_ctx *x, struct store_mailbox *mb, const char *maildir,
                   const struct store_msg *m, uint64_t modseq)
{
	uint8_t k[16];
	int rc;
	size_t kl = schema_key_msg(k, mb->id, m->uid);
	if ((rc = idx_del(x->t, IDX_DB_MESSAGES, k, kl)) < 0)
		return -EIO;
	kl = schema_key_modseq(k, mb->id, m->modseq, m->uid);
	if (idx_del(x->t, IDX_DB_MODSEQ, k, kl) < 0)
		return -EIO;
	kl = schema_key_modseq(k, mb->id, modseq, m->uid);
	if ((rc = idx_put(x->t, IDX_DB_EXPUNGED, k, kl, "", 0)) != 0)
		return rc;
	mb->messages--;
	mb->size -= m->size;
	if (!(m->flags & MSG_SEEN))
		mb->unseen--;
	if (m->flags & MSG_DELETED)
		mb->deleted--;
	if ((rc = store__usage_add(x, mb->user_id, -(int64_t)m->size, -1)) != 0)
		return rc;
	/* The body: one reference fewer; the last one takes the blob. */
	uint8_t rk[CMD_HASH_LEN + 8];
	memcpy(rk, m->hash, CMD_HASH_LEN);
	schema_key_msg(rk + CMD_HASH_LEN, mb->id, m->uid);
	if (idx_del(x->t, IDX_DB_BODY_REFS, rk, sizeof(rk)) < 0)
		return -EIO;
	struct idx_val v;
	struct store_body b;
	rc = idx_get(x->t, IDX_DB_BODIES, m->hash, CMD_HASH_LEN, &v);
	if (rc < 0 || (rc == 1 && schema_body_decode(v.p, v.len, &b) != 0))
		return -EIO;
	if (rc == 1 && b.refcount > 1) {
		b.refcount--;
		nbuf_reset(&x->scratch);
		if (schema_body_encode(&b, &x->scratch) != 0)
			return -E2BIG;
		rc = idx_put(x->t, IDX_DB_BODIES, m->hash, CMD_HASH_LEN, nbuf_head(&x->scratch),
		             nbuf_avail(&x->scratch));
		if (rc != 0)
			return rc;
	} else if (rc == 1) {
		if (idx_del(x->t, IDX_DB_BODIES, m->hash, CMD_HASH_LEN) < 0)
			return -EIO;
		store__fop(x->st, FOP_UNLINK_BODY, store_body_path(x->st->data_dir, m->hash), NULL,
		           m->hash);
	}
	store__fop(x->st, FOP_UNLINK, store__msg_file(maildir, mb, m), NULL, NULL);
	return 0;
}
