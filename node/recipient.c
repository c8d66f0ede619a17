/*
 * recipient: address → users. See recipient.h for the order of lookups.
 *
 * Aliases are expanded breadth-first from a queue rather than by
 * recursion, so a deep or wide alias tree costs bounded heap, never stack:
 * every queued target costs a lookup, and lookups are capped at
 * RECIPIENT_LOOKUPS_MAX; depth is carried with each queued target and
 * capped at RECIPIENT_DEPTH_MAX. A user reached twice (two aliases naming
 * the same user) is delivered to once. A target that no longer exists (a
 * user deleted after the alias was made) is skipped.
 *
 * Subaddresses follow RFC 5233 (the "+detail" convention): the detail is
 * everything after the first separator in the local part.
 */
#include "node/recipient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/accounts.h"
#include "node/lib/util.h"
#include "node/store/store.h"

struct resolve_queued {
	char *address;
	unsigned depth;
};

struct resolve_ctx {
	struct store_txn *t;
	struct recipient *r;
	size_t lookups;
	char *aliasbuf; /* CMD_VALUE_MAX bytes, allocated at the first alias */
	struct resolve_queued *q;
	size_t qhead, qlen, qcap;
};

static int
user_add(struct resolve_ctx *x, uint32_t id, const char *address)
{
	struct recipient *r = x->r;
	for (size_t i = 0; i < r->nusers; i++)
		if (r->users[i].id == id)
			return 1;
	if (r->nusers >= RECIPIENT_USERS_MAX)
		return RECIPIENT_ETOOMANY;
	r->users = xrealloc(r->users, (r->nusers + 1) * sizeof(*r->users));
	struct recipient_user *u = &r->users[r->nusers++];
	u->id = id;
	snprintf(u->address, sizeof(u->address), "%s", address);
	return 1;
}

static int
queue_push(struct resolve_ctx *x, const char *address, unsigned depth)
{
	if (x->lookups + (x->qlen - x->qhead) >= RECIPIENT_LOOKUPS_MAX)
		return RECIPIENT_ETOOMANY;
	if (x->qlen == x->qcap) {
		x->qcap = x->qcap ? x->qcap * 2 : 16;
		x->q = xrealloc(x->q, x->qcap * sizeof(*x->q));
	}
	x->q[x->qlen].address = xstrdup(address);
	x->q[x->qlen].depth = depth;
	x->qlen++;
	return 0;
}

static void
queue_clear(struct resolve_ctx *x)
{
	for (size_t i = x->qhead; i < x->qlen; i++)
		free(x->q[i].address);
	x->qhead = x->qlen = 0;
}

/* One address: a user (added when enabled) or an alias (its targets
 * queued). Returns 1 the address exists, 0 it does not, or RECIPIENT_E*. */
static int
resolve_one(struct resolve_ctx *x, const char *address, unsigned depth, int *is_alias_r)
{
	if (++x->lookups > RECIPIENT_LOOKUPS_MAX)
		return RECIPIENT_ETOOMANY;
	struct store_user u;
	int rc = store_user_get(x->t, address, &u);
	if (rc < 0)
		return RECIPIENT_EIO;
	if (rc == 1)
		return u.enabled ? user_add(x, u.id, address) : 1;
	if (x->aliasbuf == NULL)
		x->aliasbuf = xmalloc(CMD_VALUE_MAX);
	size_t n = 0;
	rc = store_alias_get(x->t, address, x->aliasbuf, CMD_VALUE_MAX, &n);
	if (rc < 0)
		return RECIPIENT_EIO;
	if (rc == 0)
		return 0;
	if (is_alias_r)
		*is_alias_r = 1;
	if (depth >= RECIPIENT_DEPTH_MAX)
		return RECIPIENT_ELOOP;
	const char *p = x->aliasbuf;
	for (size_t i = 0; i < n; i++) {
		if ((rc = queue_push(x, p, depth + 1)) != 0)
			return rc;
		p += strlen(p) + 1;
	}
	return 1;
}

/* An address and everything it expands to. */
static int
resolve_tree(struct resolve_ctx *x, const char *address, int *is_alias_r)
{
	int rc = resolve_one(x, address, 0, is_alias_r);
	while (rc == 1 && x->qhead < x->qlen) {
		struct resolve_queued e = x->q[x->qhead++];
		int r2 = resolve_one(x, e.address, e.depth, NULL);
		free(e.address);
		if (r2 < 0)
			rc = r2;
	}
	queue_clear(x);
	return rc;
}

int
recipient_resolve(struct store_txn *t, const char *address, size_t len, struct recipient *r_r)
{
	memset(r_r, 0, sizeof(*r_r));
	r_r->via = "user";
	char in[CMD_ADDRESS_MAX + 1];
	const char *err;
	if (len == 0 || len > CMD_ADDRESS_MAX || memchr(address, '\0', len) != NULL)
		return 0;
	memcpy(in, address, len);
	in[len] = '\0';
	if (accounts_address_normalize(in, r_r->address, 0, &err) != 0)
		return 0; /* not an address we could hold: unknown */

	struct resolve_ctx x = {.t = t, .r = r_r};
	int alias = 0;
	int rc = resolve_tree(&x, r_r->address, &alias);
	if (alias)
		r_r->via = "alias";

	char *at = strrchr(r_r->address, '@');
	char *sep = memchr(r_r->address, RECIPIENT_SEPARATOR, (size_t)(at - r_r->address));
	if (rc == 0 && sep != NULL && sep > r_r->address) {
		char base[CMD_ADDRESS_MAX + 1];
		size_t dlen = (size_t)(at - sep - 1);
		if (dlen <= RECIPIENT_DETAIL_MAX) {
			snprintf(base, sizeof(base), "%.*s%s", (int)(sep - r_r->address),
			         r_r->address, at);
			rc = resolve_tree(&x, base, NULL);
			if (rc != 0) {
				memcpy(r_r->detail, sep + 1, dlen);
				r_r->detail[dlen] = '\0';
				r_r->via = "subaddress";
			}
		}
	}
	if (rc == 0) {
		rc = resolve_tree(&x, at, NULL); /* "@domain": the catch-all */
		if (rc != 0)
			r_r->via = "catchall";
	}
	free(x.aliasbuf);
	free(x.q);
	if (rc == 1 && r_r->nusers == 0)
		rc = 0; /* exists, but reaches no enabled user */
	return rc;
}

void
recipient_deinit(struct recipient *r)
{
	free(r->users);
	r->users = NULL;
	r->nusers = 0;
}
