/*
 * store_apply_acct: apply() of cluster, domain, user, alias, config and
 * Sieve script commands.
 *
 * Addresses arrive lower-cased (the submitting side canonicalises); apply
 * still validates them, since they become paths. A domain record counts
 * its users and aliases so that deleting a domain in use is refused
 * without a scan. Deleting a user deletes its mail through the same steps
 * as expunging it, then its maildir tree.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"
#include "node/lib/wire.h"
#include "node/store/store_internal.h"

#define ALIAS_DEPTH_MAX 16

static const struct {
	const char *name;
	uint32_t special;
} default_mailboxes[] = {
        {"INBOX", 0},
        {"Sent", SPECIAL_SENT},
        {"Drafts", SPECIAL_DRAFTS},
        {"Trash", SPECIAL_TRASH},
        {"Junk", SPECIAL_JUNK},
        {"Archive", SPECIAL_ARCHIVE},
};

/* Domain record: users u32 | aliases u32. */
static int
domain_adjust(struct store_ctx *x, const char *domain, size_t n, int users, int aliases)
{
	struct idx_val v;
	int rc = idx_get(x->t, IDX_DB_DOMAINS, domain, n, &v);
	if (rc != 1 || v.len != 8)
		return rc < 0 ? -EIO : 0;
	uint8_t b[8];
	wire_be32(b, (uint32_t)((int64_t)wire_rd32(v.p) + users));
	wire_be32(b + 4, (uint32_t)((int64_t)wire_rd32((const uint8_t *)v.p + 4) + aliases));
	return idx_put(x->t, IDX_DB_DOMAINS, domain, n, b, 8);
}

static const char *
domain_of(const struct cmd_str *addr, size_t *n_r)
{
	const char *at = memchr(addr->p, '@', addr->len);
	if (at == NULL)
		return NULL;
	*n_r = addr->len - (size_t)(at + 1 - addr->p);
	return at + 1;
}

static int
apply_domain(struct store_ctx *x, const struct cmd *c, struct cmd_result *r)
{
	struct idx_val v;
	if (!store__domain_valid(c->name.p, c->name.len)) {
		r->status = CMD_EINVALID;
		return 0;
	}
	int rc = idx_get(x->t, IDX_DB_DOMAINS, c->name.p, c->name.len, &v);
	if (rc < 0)
		return -EIO;
	if (c->type == CMD_DOMAIN_ADD) {
		if (rc == 1) {
			r->status = CMD_EEXISTS;
			return 0;
		}
		uint8_t b[8] = {0};
		return idx_put(x->t, IDX_DB_DOMAINS, c->name.p, c->name.len, b, 8);
	}
	if (rc == 0) {
		r->status = CMD_ENOTFOUND;
		return 0;
	}
	if (v.len == 8 && (wire_rd32(v.p) || wire_rd32((const uint8_t *)v.p + 4))) {
		r->status = CMD_ENOTEMPTY;
		return 0;
	}
	return idx_del(x->t, IDX_DB_DOMAINS, c->name.p, c->name.len) < 0 ? -EIO : 0;
}

static int
user_load(struct store_ctx *x, const struct cmd_str *addr, struct store_user *u)
{
	struct idx_val v;
	int rc = idx_get(x->t, IDX_DB_USERS, addr->p, addr->len, &v);
	if (rc != 1)
		return rc;
	return schema_user_decode(v.p, v.len, u) == 0 ? 1 : -1;
}

static int
user_save(struct store_ctx *x, const struct cmd_str *addr, const struct store_user *u)
{
	nbuf_reset(&x->scratch);
	if (schema_user_encode(u, &x->scratch) != 0)
		return -E2BIG;
	return idx_put(x->t, IDX_DB_USERS, addr->p, addr->len, nbuf_head(&x->scratch),
	               nbuf_avail(&x->scratch));
}

static int
apply_user_add(struct store_ctx *x, const struct cmd *c, struct cmd_result *r)
{
	struct store_user u;
	struct idx_val v;
	size_t dlen = 0;
	if (!store__address_valid(c->address.p, c->address.len)) {
		r->status = CMD_EINVALID;
		return 0;
	}
	const char *dom = domain_of(&c->address, &dlen);
	int rc = idx_get(x->t, IDX_DB_DOMAINS, dom, dlen, &v);
	if (rc <= 0) {
		r->status = CMD_ENOTFOUND;
		return rc < 0 ? -EIO : 0;
	}
	if ((rc = user_load(x, &c->address, &u)) != 0 ||
	    (rc = idx_get(x->t, IDX_DB_ALIASES, c->address.p, c->address.len, &v)) != 0) {
		r->status = CMD_EEXISTS;
		return rc < 0 ? -EIO : 0;
	}
	uint64_t next;
	store__meta_u64(x->t, "next_user_id", &next);
	if (next == 0)
		next = 1;
	memset(&u, 0, sizeof(u));
	u.id = (uint32_t)next;
	u.enabled = c->enabled;
	u.quota_bytes = c->quota_bytes;
	u.quota_msgs = c->quota_msgs;
	u.cred = (const uint8_t *)c->blob.p;
	u.credlen = (uint32_t)c->blob.len;
	u.created_ms = (int64_t)x->hdr->time_ms;
	uint8_t k[4];
	schema_key_u32(k, u.id);
	if ((rc = user_save(x, &c->address, &u)) != 0 ||
	    (rc = idx_put(x->t, IDX_DB_USER_IDS, k, 4, c->address.p, c->address.len)) != 0 ||
	    (rc = store__meta_put_u64(x->t, "next_user_id", next + 1)) != 0 ||
	    (rc = store__usage_add(x, u.id, 0, 0)) != 0 ||
	    (rc = domain_adjust(x, dom, dlen, 1, 0)) != 0)
		return rc;
	for (size_t i = 0; i < ARRAY_SIZE(default_mailboxes); i++) {
		struct store_mailbox m;
		const char *name = default_mailboxes[i].name;
		rc = store__mailbox_create(x, u.id, name, strlen(name),
		                           default_mailboxes[i].special, 1, &m);
		if (rc < 0)
			return rc;
	}
	r->id = u.id;
	return 0;
}

static int
delete_mailbox_cb(void *arg, const struct store_mailbox *m)
{
	struct store_mailbox *list = arg;
	size_t n = list[0].messages; /* slot 0 counts */
	if (n >= 4096)
		return 1;
	list[n + 1] = *m;
	list[0].messages = (uint32_t)n + 1;
	return 0;
}

static int
delete_prefixed(struct store_ctx *x, enum idx_db db, uint32_t user_id)
{
	struct idx_cursor *cur;
	uint8_t k[4];
	struct idx_val kv;
	schema_key_u32(k, user_id);
	if (idx_cursor_open(x->t, db, &cur) != 0)
		return -EIO;
	int rc;
	while ((rc = idx_cursor_seek(cur, k, 4, &kv, NULL)) == 1 && kv.len >= 4 &&
	       memcmp(kv.p, k, 4) == 0) {
		if (idx_cursor_del(cur) != 0) {
			rc = -1;
			break;
		}
	}
	idx_cursor_close(&cur);
	return rc < 0 ? -EIO : 0;
}

static int
apply_user_del(struct store_ctx *x, const struct cmd *c, struct cmd_result *r)
{
	struct store_user u;
	int rc = user_load(x, &c->address, &u);
	if (rc <= 0) {
		r->status = CMD_ENOTFOUND;
		return rc < 0 ? -EIO : 0;
	}
	/* Mailboxes, in batches (a list is collected, then destroyed, since
	 * destroying edits the database the cursor walks). */
	struct store_mailbox *list = xmalloc(4097 * sizeof(*list));
	do {
		list[0].messages = 0;
		rc = store__mailbox_list(x->t, u.id, delete_mailbox_cb, list);
		if (rc < 0)
			break;
		for (uint32_t i = 0; i < list[0].messages && rc >= 0; i++)
			rc = store__mailbox_destroy(x, &list[i + 1], 0);
	} while (rc >= 0 && list[0].messages > 0);
	free(list);
	if (rc < 0)
		return rc;
	uint8_t k[4];
	size_t dlen = 0;
	const char *dom = domain_of(&c->address, &dlen);
	schema_key_u32(k, u.id);
	if ((rc = delete_prefixed(x, IDX_DB_SUBS, u.id)) != 0 ||
	    (rc = delete_prefixed(x, IDX_DB_SIEVE, u.id)) != 0 ||
	    (rc = delete_prefixed(x, IDX_DB_URLAUTH, u.id)) != 0 ||
	    (rc = delete_prefixed(x, IDX_DB_THREADS, u.id)) != 0)
		return rc;
	if (idx_del(x->t, IDX_DB_USAGE, k, 4) < 0 || idx_del(x->t, IDX_DB_USER_IDS, k, 4) < 0 ||
	    idx_del(x->t, IDX_DB_USERS, c->address.p, c->address.len) < 0)
		return -EIO;
	if ((rc = domain_adjust(x, dom, dlen, -1, 0)) != 0)
		return rc;
	char addr[CMD_ADDRESS_MAX + 1];
	memcpy(addr, c->address.p, c->address.len);
	addr[c->address.len] = '\0';
	store__fop(x->st, FOP_RMTREE, store__maildir_of(x->st, addr, "INBOX", 5), NULL, NULL);
	store__change(x->st, u.id, 0, STORE_CH_MAILBOX, 0);
	r->id = u.id;
	return 0;
}

static int
apply_user_update(struct store_ctx *x, const struct cmd *c, struct cmd_result *r)
{
	struct store_user u;
	int rc = user_load(x, &c->address, &u);
	if (rc <= 0) {
		r->status = CMD_ENOTFOUND;
		return rc < 0 ? -EIO : 0;
	}
	/* u.cred points into the map; user_save copies it before writing. */
	uint8_t cred[CMD_CRED_MAX];
	memcpy(cred, u.cred, u.credlen);
	u.cred = cred;
	switch (c->type) {
	case CMD_USER_SET_PASSWORD:
		u.cred = (const uint8_t *)c->blob.p;
		u.credlen = (uint32_t)c->blob.len;
		break;
	case CMD_USER_SET_ENABLED:
		u.enabled = c->enabled;
		break;
	case CMD_USER_SET_QUOTA:
		u.quota_bytes = c->quota_bytes;
		u.quota_msgs = c->quota_msgs;
		break;
	default:
		break;
	}
	r->id = u.id;
	return user_save(x, &c->address, &u);
}

/* Would address -> targets create a cycle through existing aliases? */
static int
alias_loops(struct store_ctx *x, const struct cmd_str *address, const struct cmd_strlist *l,
            int depth)
{
	uint32_t pos = 0;
	struct cmd_str s;
	if (depth > ALIAS_DEPTH_MAX)
		return 1;
	while (cmd_strlist_next(l, &pos, &s)) {
		if (s.len == address->len && memcmp(s.p, address->p, s.len) == 0)
			return 1;
		struct idx_val v;
		int rc = idx_get(x->t, IDX_DB_ALIASES, s.p, s.len, &v);
		if (rc < 0)
			return -1;
		if (rc == 0)
			continue;
		struct cmd_strlist sub = {.raw = v.p, .rawlen = (uint32_t)v.len};
		rc = alias_loops(x, address, &sub, depth + 1);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Alias values are targets in the cmd_strlist raw form (u16 length + bytes
 * each), so cmd_strlist_next walks them. */
static int
apply_alias_add(struct store_ctx *x, const struct cmd *c, struct cmd_result *r)
{
	size_t dlen = 0;
	struct idx_val v;
	struct cmd_str s;
	uint32_t pos = 0;
	/* "@domain" is the domain's catch-all. */
	int catchall = c->address.len > 1 && c->address.p[0] == '@';
	const char *dom = domain_of(&c->address, &dlen);
	if (c->targets.n == 0 ||
	    !(catchall ? store__domain_valid(c->address.p + 1, c->address.len - 1)
	               : store__address_valid(c->address.p, c->address.len))) {
		r->status = CMD_EINVALID;
		return 0;
	}
	int rc = idx_get(x->t, IDX_DB_DOMAINS, dom, dlen, &v);
	if (rc <= 0) {
		r->status = CMD_ENOTFOUND;
		return rc < 0 ? -EIO : 0;
	}
	if ((rc = idx_get(x->t, IDX_DB_USERS, c->address.p, c->address.len, &v)) != 0) {
		r->status = CMD_EEXISTS;
		return rc < 0 ? -EIO : 0;
	}
	while (cmd_strlist_next(&c->targets, &pos, &s)) {
		if (!store__address_valid(s.p, s.len)) {
			r->status = CMD_EINVALID;
			return 0;
		}
		int u = idx_get(x->t, IDX_DB_USERS, s.p, s.len, &v);
		int a = idx_get(x->t, IDX_DB_ALIASES, s.p, s.len, &v);
		if (u < 0 || a < 0)
			return -EIO;
		if (u == 0 && a == 0) {
			r->status = CMD_ENOTFOUND;
			return 0;
		}
	}
	if ((rc = alias_loops(x, &c->address, &c->targets, 0)) != 0) {
		r->status = CMD_ELOOP;
		return rc < 0 ? -EIO : 0;
	}
	/* Merge with the existing targets, without duplicates. */
	struct nbuf b;
	nbuf_init(&b, CMD_VALUE_MAX);
	rc = idx_get(x->t, IDX_DB_ALIASES, c->address.p, c->address.len, &v);
	if (rc < 0) {
		nbuf_deinit(&b);
		return -EIO;
	}
	int existed = rc == 1;
	if (existed)
		nbuf_append(&b, v.p, v.len);
	pos = 0;
	uint32_t total = 0;
	while (cmd_strlist_next(&c->targets, &pos, &s)) {
		struct cmd_strlist cur = {.raw = nbuf_head(&b), .rawlen = (uint32_t)nbuf_avail(&b)};
		uint32_t p2 = 0;
		struct cmd_str t;
		int dup = 0;
		while (cmd_strlist_next(&cur, &p2, &t))
			if (t.len == s.len && memcmp(t.p, s.p, s.len) == 0)
				dup = 1;
		if (dup)
			continue;
		uint8_t len2[2] = {(uint8_t)(s.len >> 8), (uint8_t)s.len};
		if (nbuf_append(&b, len2, 2) != 0 || nbuf_append(&b, s.p, s.len) != 0) {
			nbuf_deinit(&b);
			r->status = CMD_ELIMIT;
			return 0;
		}
		total++;
	}
	rc = idx_put(x->t, IDX_DB_ALIASES, c->address.p, c->address.len, nbuf_head(&b),
	             nbuf_avail(&b));
	nbuf_deinit(&b);
	if (rc == 0 && !existed)
		rc = domain_adjust(x, dom, dlen, 0, 1);
	r->id = total;
	return rc;
}

static int
apply_alias_del(struct store_ctx *x, const struct cmd *c, struct cmd_result *r)
{
	size_t dlen = 0;
	const char *dom = domain_of(&c->address, &dlen);
	int rc = idx_del(x->t, IDX_DB_ALIASES, c->address.p, c->address.len);
	if (rc <= 0) {
		r->status = CMD_ENOTFOUND;
		return rc < 0 ? -EIO : 0;
	}
	return dom ? domain_adjust(x, dom, dlen, 0, -1) : 0;
}

static int
config_key_valid(const struct cmd_str *k)
{
	if (k->len == 0)
		return 0;
	for (size_t i = 0; i < k->len; i++) {
		char ch = k->p[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
		      ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

static int
apply_sieve(struct store_ctx *x, const struct cmd *c, struct cmd_result *r)
{
	uint8_t k[4 + CMD_MAILBOX_NAME_MAX], ak[4];
	struct idx_val v;
	schema_key_u32(ak, c->user_id);
	if (idx_get(x->t, IDX_DB_USER_IDS, ak, 4, &v) != 1) {
		r->status = CMD_ENOTFOUND;
		return 0;
	}
	if (c->type != CMD_SIEVE_ACTIVATE && !store__script_name_valid(c->name.p, c->name.len)) {
		r->status = CMD_EINVALID;
		return 0;
	}
	/* The active script's name is kept under the user id with an empty
	 * name (script names are never empty). */
	int rc = idx_get(x->t, IDX_DB_SIEVE, ak, 4, &v);
	if (rc < 0)
		return -EIO;
	int is_active = rc == 1 && v.len == c->name.len && memcmp(v.p, c->name.p, v.len) == 0;
	size_t kl = schema_key_u32_name(k, c->user_id, c->name.p, c->name.len);
	switch (c->type) {
	case CMD_SIEVE_PUT:
		return idx_put(x->t, IDX_DB_SIEVE, k, kl, c->value.p, c->value.len);
	case CMD_SIEVE_DEL:
		if (is_active) {
			r->status = CMD_ENOPERM;
			return 0;
		}
		rc = idx_del(x->t, IDX_DB_SIEVE, k, kl);
		if (rc == 0)
			r->status = CMD_ENOTFOUND;
		return rc < 0 ? -EIO : 0;
	default:
		if (c->name.len == 0)
			return idx_del(x->t, IDX_DB_SIEVE, ak, 4) < 0 ? -EIO : 0;
		rc = idx_get(x->t, IDX_DB_SIEVE, k, kl, &v);
		if (rc <= 0) {
			r->status = CMD_ENOTFOUND;
			return rc < 0 ? -EIO : 0;
		}
		return idx_put(x->t, IDX_DB_SIEVE, ak, 4, c->name.p, c->name.len);
	}
}

/* A URLAUTH mailbox access key (RFC 4467 §3). ADD keeps a key that
 * exists (CMD_EEXISTS: two sessions asked at once, the first one's key
 * stays and both read it back); RESET of a mailbox, or of every mailbox
 * of the user. The key is never logged. */
static int
apply_urlauth(struct store_ctx *x, const struct cmd *c, struct cmd_result *r)
{
	uint8_t k[8], ak[4];
	struct idx_val v;
	schema_key_u32(ak, c->user_id);
	if (idx_get(x->t, IDX_DB_USER_IDS, ak, 4, &v) != 1) {
		r->status = CMD_ENOTFOUND;
		return 0;
	}
	if (c->mode == URLAUTH_KEY_RESET && c->mailbox_id == 0)
		return delete_prefixed(x, IDX_DB_URLAUTH, c->user_id);
	schema_key_msg(k, c->user_id, c->mailbox_id);
	if (c->mode == URLAUTH_KEY_RESET) {
		int rc = idx_del(x->t, IDX_DB_URLAUTH, k, sizeof(k));
		return rc < 0 ? -EIO : 0;
	}
	struct store_mailbox m;
	int rc = store__mailbox_load_id(x->t, c->mailbox_id, &m);
	if (rc <= 0 || m.user_id != c->user_id) {
		r->status = CMD_ENOTFOUND;
		return rc < 0 ? -EIO : 0;
	}
	rc = idx_get(x->t, IDX_DB_URLAUTH, k, sizeof(k), &v);
	if (rc != 0) {
		if (rc == 1)
			r->status = CMD_EEXISTS;
		return rc < 0 ? -EIO : 0;
	}
	return idx_put(x->t, IDX_DB_URLAUTH, k, sizeof(k), c->blob.p, c->blob.len);
}

int
store__apply_account(struct store_ctx *x, const struct cmd *c, struct cmd_result *r)
{
	switch (c->type) {
	case CMD_CLUSTER_INIT: {
		uint64_t seen;
		if (store__meta_u64(x->t, "cluster_created_ms", &seen) == 1)
			return 0;
		return store__meta_put_u64(x->t, "cluster_created_ms", x->hdr->time_ms);
	}
	case CMD_DOMAIN_ADD:
	case CMD_DOMAIN_DEL:
		return apply_domain(x, c, r);
	case CMD_USER_ADD:
		return apply_user_add(x, c, r);
	case CMD_USER_DEL:
		return apply_user_del(x, c, r);
	case CMD_USER_SET_PASSWORD:
	case CMD_USER_SET_ENABLED:
	case CMD_USER_SET_QUOTA:
		return apply_user_update(x, c, r);
	case CMD_ALIAS_ADD:
		return apply_alias_add(x, c, r);
	case CMD_ALIAS_DEL:
		return apply_alias_del(x, c, r);
	case CMD_CONFIG_SET:
		if (!config_key_valid(&c->name)) {
			r->status = CMD_EINVALID;
			return 0;
		}
		return idx_put(x->t, IDX_DB_CONFIG, c->name.p, c->name.len, c->value.p,
		               c->value.len);
	case CMD_CONFIG_DEL: {
		int rc = idx_del(x->t, IDX_DB_CONFIG, c->name.p, c->name.len);
		if (rc == 0)
			r->status = CMD_ENOTFOUND;
		return rc < 0 ? -EIO : 0;
	}
	case CMD_SIEVE_PUT:
	case CMD_SIEVE_DEL:
	case CMD_SIEVE_ACTIVATE:
		return apply_sieve(x, c, r);
	case CMD_URLAUTH_KEY:
		return apply_urlauth(x, c, r);
	default:
		r->status = CMD_EINVALID;
		return 0;
	}
}
