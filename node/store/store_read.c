/*
 * store_read: the read API for sessions. See store.h.
 *
 * A store_txn is a short LMDB read transaction; records returned point
 * into it. Iterators are cursors bounded by a mailbox id and a key range.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/lib/crypto.h"
#include "node/lib/util.h"
#include "node/lib/wire.h"
#include "node/store/store_internal.h"

struct store_txn {
	struct idx_txn *t;
};

int
store_read_begin(struct store *st, struct store_txn **t_r)
{
	struct idx_txn *t;
	if (idx_txn_begin(st->ix, 0, &t) != 0)
		return -1;
	struct store_txn *x = xmalloc(sizeof(*x));
	x->t = t;
	*t_r = x;
	return 0;
}

void
store_read_end(struct store_txn **px)
{
	if (*px == NULL)
		return;
	idx_txn_abort(&(*px)->t);
	free(*px);
	*px = NULL;
}

int
store_user_get(struct store_txn *x, const char *address, struct store_user *u_r)
{
	struct idx_val v;
	int rc = idx_get(x->t, IDX_DB_USERS, address, strlen(address), &v);
	if (rc != 1)
		return rc;
	return schema_user_decode(v.p, v.len, u_r) == 0 ? 1 : -1;
}

int
store_user_by_id(struct store_txn *x, uint32_t id, char *address_r, size_t n)
{
	uint8_t k[4];
	struct idx_val v;
	schema_key_u32(k, id);
	int rc = idx_get(x->t, IDX_DB_USER_IDS, k, 4, &v);
	if (rc != 1)
		return rc;
	if (v.len + 1 > n)
		return -1;
	memcpy(address_r, v.p, v.len);
	address_r[v.len] = '\0';
	return 1;
}

int
store_domain_exists(struct store_txn *x, const char *domain)
{
	struct idx_val v;
	return idx_get(x->t, IDX_DB_DOMAINS, domain, strlen(domain), &v);
}

int
store_alias_get(struct store_txn *x, const char *address, char *buf, size_t buflen, size_t *n_r)
{
	struct idx_val v;
	int rc = idx_get(x->t, IDX_DB_ALIASES, address, strlen(address), &v);
	if (rc != 1)
		return rc;
	struct cmd_strlist l = {.raw = v.p, .rawlen = (uint32_t)v.len};
	uint32_t pos = 0;
	size_t used = 0, n = 0;
	struct cmd_str s;
	while (cmd_strlist_next(&l, &pos, &s)) {
		if (used + s.len + 1 > buflen)
			return -1;
		memcpy(buf + used, s.p, s.len);
		buf[used + s.len] = '\0';
		used += s.len + 1;
		n++;
	}
	*n_r = n;
	return 1;
}

int
store_config_get(struct store_txn *x, const char *key, char *buf, size_t buflen)
{
	struct idx_val v;
	int rc = idx_get(x->t, IDX_DB_CONFIG, key, strlen(key), &v);
	if (rc != 1)
		return rc;
	if (v.len + 1 > buflen)
		return -1;
	memcpy(buf, v.p, v.len);
	buf[v.len] = '\0';
	return 1;
}

uint64_t
store_config_u64(struct store_txn *x, const char *key, uint64_t dflt)
{
	char buf[32];
	uint64_t v;
	if (store_config_get(x, key, buf, sizeof(buf)) != 1 || parse_u64(buf, UINT64_MAX, &v) != 0)
		return dflt;
	return v;
}

int
store_mailbox_get(struct store_txn *x, uint32_t user_id, const char *name,
                  struct store_mailbox *m_r)
{
	return store__mailbox_load(x->t, user_id, name, strlen(name), m_r);
}

int
store_mailbox_by_id(struct store_txn *x, uint32_t mailbox_id, struct store_mailbox *m_r)
{
	return store__mailbox_load_id(x->t, mailbox_id, m_r);
}

int
store_mailbox_foreach(struct store_txn *x, uint32_t user_id,
                      int (*cb)(void *arg, const struct store_mailbox *m), void *arg)
{
	return store__mailbox_list(x->t, user_id, cb, arg);
}

int
store_subscribed(struct store_txn *x, uint32_t user_id, const char *name)
{
	uint8_t k[4 + SCHEMA_NAME_MAX];
	struct idx_val v;
	size_t n = strlen(name);
	if (n > SCHEMA_NAME_MAX)
		return 0;
	if (store__is_inbox(name, n))
		name = "INBOX";
	size_t kl = schema_key_u32_name(k, user_id, name, n);
	return idx_get(x->t, IDX_DB_SUBS, k, kl, &v);
}

int
store_subs_foreach(struct store_txn *x, uint32_t user_id,
                   int (*cb)(void *arg, const char *name, size_t len), void *arg)
{
	struct idx_cursor *cur;
	uint8_t k[4];
	struct idx_val kv;
	schema_key_u32(k, user_id);
	if (idx_cursor_open(x->t, IDX_DB_SUBS, &cur) != 0)
		return -1;
	int rc = idx_cursor_seek(cur, k, 4, &kv, NULL);
	while (rc == 1 && kv.len >= 4 && memcmp(kv.p, k, 4) == 0) {
		int stop = cb(arg, (const char *)kv.p + 4, kv.len - 4);
		if (stop) {
			rc = stop;
			break;
		}
		rc = idx_cursor_next(cur, &kv, NULL);
	}
	idx_cursor_close(&cur);
	return rc < 0 ? -1 : (rc == 1 ? 0 : rc);
}

int
store_keywords_get(struct store_txn *x, uint32_t mailbox_id, struct cmd_str *names, size_t max)
{
	uint8_t k[4];
	struct idx_val v;
	schema_key_u32(k, mailbox_id);
	int rc = idx_get(x->t, IDX_DB_KEYWORDS, k, 4, &v);
	if (rc <= 0)
		return rc;
	struct cmd_strlist l = {.raw = v.p, .rawlen = (uint32_t)v.len};
	uint32_t pos = 0;
	size_t n = 0;
	struct cmd_str s;
	while (n < max && cmd_strlist_next(&l, &pos, &s))
		names[n++] = s;
	return (int)n;
}

int
store_usage_get(struct store_txn *x, uint32_t user_id, struct store_usage *u_r)
{
	uint8_t k[4];
	struct idx_val v;
	schema_key_u32(k, user_id);
	int rc = idx_get(x->t, IDX_DB_USAGE, k, 4, &v);
	if (rc != 1) {
		memset(u_r, 0, sizeof(*u_r));
		return rc;
	}
	return schema_usage_decode(v.p, v.len, u_r) == 0 ? 1 : -1;
}

int
store__msg_load(struct idx_txn *t, uint32_t mailbox_id, uint32_t uid, struct store_msg *m)
{
	uint8_t k[8];
	struct idx_val v;
	schema_key_msg(k, mailbox_id, uid);
	int rc = idx_get(t, IDX_DB_MESSAGES, k, 8, &v);
	if (rc != 1)
		return rc;
	if (schema_msg_decode(v.p, v.len, m) != 0)
		return -1;
	m->mailbox_id = mailbox_id;
	m->uid = uid;
	return 1;
}

int
store_msg_get(struct store_txn *x, uint32_t mailbox_id, uint32_t uid, struct store_msg *m_r)
{
	return store__msg_load(x->t, mailbox_id, uid, m_r);
}

struct store_msg_iter {
	struct idx_cursor *cur;
	uint32_t mailbox_id;
	uint32_t hi;
	int started;
	uint32_t lo;
};

int
store_msg_iter_open(struct store_txn *x, uint32_t mailbox_id, uint32_t lo, uint32_t hi,
                    struct store_msg_iter **it_r)
{
	struct store_msg_iter *it = xcalloc(1, sizeof(*it));
	if (idx_cursor_open(x->t, IDX_DB_MESSAGES, &it->cur) != 0) {
		free(it);
		return -1;
	}
	it->mailbox_id = mailbox_id;
	it->lo = lo;
	it->hi = hi;
	*it_r = it;
	return 0;
}

int
store_msg_iter_next(struct store_msg_iter *it, struct store_msg *m_r)
{
	struct idx_val kv, v;
	int rc;
	if (!it->started) {
		uint8_t k[8];
		schema_key_msg(k, it->mailbox_id, it->lo);
		rc = idx_cursor_seek(it->cur, k, 8, &kv, &v);
		it->started = 1;
	} else {
		rc = idx_cursor_next(it->cur, &kv, &v);
	}
	if (rc != 1)
		return rc;
	if (kv.len != 8 || wire_rd32(kv.p) != it->mailbox_id)
		return 0;
	uint32_t uid = wire_rd32((const uint8_t *)kv.p + 4);
	if (uid > it->hi)
		return 0;
	if (schema_msg_decode(v.p, v.len, m_r) != 0)
		return -1;
	m_r->mailbox_id = it->mailbox_id;
	m_r->uid = uid;
	return 1;
}

void
store_msg_iter_close(struct store_msg_iter **pit)
{
	if (*pit == NULL)
		return;
	idx_cursor_close(&(*pit)->cur);
	free(*pit);
	*pit = NULL;
}

struct store_changed_iter {
	struct idx_cursor *cur;
	uint32_t mailbox_id;
	uint64_t since;
	int started;
};

int
store_changed_iter_open(struct store_txn *x, uint32_t mailbox_id, uint64_t since, int expunged,
                        struct store_changed_iter **it_r)
{
	struct store_changed_iter *it = xcalloc(1, sizeof(*it));
	if (idx_cursor_open(x->t, expunged ? IDX_DB_EXPUNGED : IDX_DB_MODSEQ, &it->cur) != 0) {
		free(it);
		return -1;
	}
	it->mailbox_id = mailbox_id;
	it->since = since;
	*it_r = it;
	return 0;
}

int
store_changed_iter_next(struct store_changed_iter *it, uint32_t *uid_r, uint64_t *modseq_r)
{
	struct idx_val kv;
	int rc;
	if (!it->started) {
		uint8_t k[16];
		schema_key_modseq(k, it->mailbox_id, it->since + 1, 0);
		rc = idx_cursor_seek(it->cur, k, 16, &kv, NULL);
		it->started = 1;
	} else {
		rc = idx_cursor_next(it->cur, &kv, NULL);
	}
	if (rc != 1)
		return rc;
	if (kv.len != 16 || wire_rd32(kv.p) != it->mailbox_id)
		return 0;
	*modseq_r = wire_rd64((const uint8_t *)kv.p + 4);
	*uid_r = wire_rd32((const uint8_t *)kv.p + 12);
	return 1;
}

void
store_changed_iter_close(struct store_changed_iter **pit)
{
	if (*pit == NULL)
		return;
	idx_cursor_close(&(*pit)->cur);
	free(*pit);
	*pit = NULL;
}

int
store_body_get(struct store_txn *x, const uint8_t hash[CMD_HASH_LEN], struct store_body *b_r)
{
	struct idx_val v;
	int rc = idx_get(x->t, IDX_DB_BODIES, hash, CMD_HASH_LEN, &v);
	if (rc != 1)
		return rc;
	return schema_body_decode(v.p, v.len, b_r) == 0 ? 1 : -1;
}

int
store_sieve_get(struct store_txn *x, uint32_t user_id, const char *name, struct cmd_str *s_r)
{
	uint8_t k[4 + CMD_MAILBOX_NAME_MAX];
	struct idx_val v;
	size_t n = strlen(name);
	if (n > CMD_MAILBOX_NAME_MAX)
		return 0;
	size_t kl = schema_key_u32_name(k, user_id, name, n);
	int rc = idx_get(x->t, IDX_DB_SIEVE, k, kl, &v);
	if (rc != 1)
		return rc;
	s_r->p = v.p;
	s_r->len = v.len;
	return 1;
}

int
store_urlauth_key_get(struct store_txn *x, uint32_t user_id, uint32_t mailbox_id,
                      uint8_t key_r[CMD_URLAUTH_KEY_LEN])
{
	uint8_t k[8];
	struct idx_val v;
	schema_key_msg(k, user_id, mailbox_id);
	int rc = idx_get(x->t, IDX_DB_URLAUTH, k, sizeof(k), &v);
	if (rc != 1)
		return rc;
	if (v.len != CMD_URLAUTH_KEY_LEN)
		return -1;
	memcpy(key_r, v.p, CMD_URLAUTH_KEY_LEN);
	return 1;
}

int
store_table_foreach(struct store_txn *x, enum store_table table, const char *from,
                    int (*cb)(void *arg, const char *key, size_t klen, const void *val,
                              size_t vlen),
                    void *arg)
{
	static const enum idx_db dbs[] = {IDX_DB_DOMAINS, IDX_DB_USERS, IDX_DB_ALIASES,
	                                  IDX_DB_CONFIG};
	struct idx_cursor *cur;
	struct idx_val k, v;
	if (idx_cursor_open(x->t, dbs[table], &cur) != 0)
		return -1;
	int rc = idx_cursor_seek(cur, from, from ? strlen(from) : 0, &k, &v);
	while (rc == 1) {
		if (cb(arg, k.p, k.len, v.p, v.len) != 0)
			break;
		rc = idx_cursor_next(cur, &k, &v);
	}
	idx_cursor_close(&cur);
	return rc < 0 ? -1 : 0;
}

int64_t
store_count(struct store_txn *x, int db)
{
	return idx_count(x->t, (enum idx_db)db);
}

static int
dump_hex(FILE *f, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (fprintf(f, "%02x", b[i]) < 0)
			return -1;
	return 0;
}

int
store_dump(struct store *st, int fd)
{
	int dfd = dup(fd);
	FILE *f = dfd >= 0 ? fdopen(dfd, "w") : NULL;
	if (f == NULL) {
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	struct idx_txn *t;
	if (idx_txn_begin(st->ix, 0, &t) != 0) {
		fclose(f);
		return -1;
	}
	int rc = 0;
	for (int db = 0; db < IDX_DB_REPLICATED && rc == 0; db++) {
		struct idx_cursor *cur;
		struct idx_val k, v;
		fprintf(f, "[%s]\n", idx_db_name((enum idx_db)db));
		if (idx_cursor_open(t, (enum idx_db)db, &cur) != 0) {
			rc = -1;
			break;
		}
		int more = idx_cursor_seek(cur, NULL, 0, &k, &v);
		while (more == 1 && rc == 0) {
			rc = dump_hex(f, k.p, k.len);
			fputc(' ', f);
			/* URLAUTH keys are secrets: their digest tells replicas
			 * apart just as well */
			uint8_t digest[32];
			if (rc == 0 && db == IDX_DB_URLAUTH) {
				sha256(v.p, v.len, digest);
				rc = dump_hex(f, digest, sizeof(digest));
			} else if (rc == 0) {
				rc = dump_hex(f, v.p, v.len);
			}
			fputc('\n', f);
			more = idx_cursor_next(cur, &k, &v);
		}
		if (more < 0)
			rc = -1;
		idx_cursor_close(&cur);
	}
	idx_txn_abort(&t);
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}
