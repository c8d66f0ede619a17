/*
 * idx: LMDB wrapper. See idx.h.
 *
 * Flags: MDB_NOTLS (several read transactions on one thread, and readers
 * in the pool), MDB_NORDAHEAD (random access), and either MDB_NOSYNC
 * (IDX_OPEN_NOSYNC: a commit only writes; a system crash can leave the
 * environment inconsistent, so the store never trusts it after one and
 * rebuilds it from raft, see store_guard.c) or MDB_NOMETASYNC (one flush
 * per commit; a system crash may undo the last transaction). The map is
 * large and virtual; MDB_MAP_FULL surfaces as -ENOSPC and makes the node
 * stop, since raft must not go on applying.
 */
#include "node/store/idx.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "node/lib/log.h"
#include "node/lib/util.h"

#define IDX_MAP_DEFAULT (64ull << 30)
#define IDX_MAX_READERS 1024

static const char *const idx_names[IDX_DB_COUNT] = {
        "meta",      "domains",  "users",    "user_ids", "aliases", "config",
        "mailboxes", "mbox_ids", "keywords", "messages", "modseq",  "expunged",
        "bodies",    "subs",     "usage",    "reqids",   "req_age", "sieve",
        "body_refs", "urlauth",  "threads",  "missing",  "fileops",
};

struct idx {
	MDB_env *env;
	MDB_dbi dbi[IDX_DB_COUNT];
	uint32_t absent; /* bit db: not in this copy (idx_open_copy) */
	int read_only;
};

struct idx_txn {
	struct idx *ix;
	MDB_txn *txn;
};

struct idx_cursor {
	MDB_cursor *cur;
};

static char idx_err[512];

static int idx_errno(int rc);

const char *
idx_db_name(enum idx_db db)
{
	return idx_names[db];
}

int
idx_open(const char *dir, size_t map_size, int flags, struct idx **ix_r, const char **error_r)
{
	struct idx *ix = xcalloc(1, sizeof(*ix));
	int rc = mdb_env_create(&ix->env);
	if (rc != 0)
		goto err;
	mdb_env_set_maxdbs(ix->env, IDX_DB_COUNT + 2);
	mdb_env_set_maxreaders(ix->env, IDX_MAX_READERS);
	mdb_env_set_mapsize(ix->env, map_size ? map_size : IDX_MAP_DEFAULT);
	if (mkdir(dir, 0700) == 0)
		dir_nocow(dir);
	else if (errno != EEXIST) {
		rc = errno;
		goto err_after_env;
	}
	unsigned sync = (flags & IDX_OPEN_NOSYNC) ? MDB_NOSYNC : MDB_NOMETASYNC;
	rc = mdb_env_open(ix->env, dir, MDB_NOTLS | MDB_NORDAHEAD | sync, 0600);
	if (rc != 0)
		goto err_after_env;
	MDB_txn *txn;
	rc = mdb_txn_begin(ix->env, NULL, 0, &txn);
	if (rc != 0)
		goto err_after_env;
	for (int i = 0; i < IDX_DB_COUNT; i++) {
		rc = mdb_dbi_open(txn, idx_names[i], MDB_CREATE, &ix->dbi[i]);
		if (rc != 0) {
			mdb_txn_abort(txn);
			goto err_after_env;
		}
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0)
		goto err_after_env;
	*ix_r = ix;
	return 0;
err_after_env:
	mdb_env_close(ix->env);
err:
	snprintf(idx_err, sizeof(idx_err), "cannot open index %s: %s", dir, mdb_strerror(rc));
	*error_r = idx_err;
	free(ix);
	return -1;
}

int
idx_open_copy(const char *file, struct idx **ix_r, const char **error_r)
{
	struct idx *ix = xcalloc(1, sizeof(*ix));
	int rc = mdb_env_create(&ix->env);
	if (rc != 0)
		goto err;
	mdb_env_set_maxdbs(ix->env, IDX_DB_COUNT + 2);
	ix->read_only = 1;
	rc = mdb_env_open(ix->env, file, MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOTLS, 0600);
	if (rc != 0)
		goto err_after_env;
	MDB_txn *txn;
	if ((rc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &txn)) != 0)
		goto err_after_env;
	for (int i = 0; i < IDX_DB_COUNT; i++) {
		rc = mdb_dbi_open(txn, idx_names[i], 0, &ix->dbi[i]);
		/* node-local ones, and "urlauth" and "threads", which copies
		 * made before they existed lack: read as empty */
		if (rc == MDB_NOTFOUND &&
		    (i >= IDX_DB_REPLICATED || i == IDX_DB_URLAUTH || i == IDX_DB_THREADS)) {
			ix->dbi[i] = 0;
			ix->absent |= 1u << i;
			rc = 0;
		}
		if (rc != 0) {
			mdb_txn_abort(txn);
			goto err_after_env;
		}
	}
	mdb_txn_commit(txn);
	*ix_r = ix;
	return 0;
err_after_env:
	mdb_env_close(ix->env);
err:
	snprintf(idx_err, sizeof(idx_err), "cannot open index copy %s: %s", file, mdb_strerror(rc));
	*error_r = idx_err;
	free(ix);
	return -1;
}

int
idx_drop(struct idx_txn *t, enum idx_db db)
{
	return mdb_drop(t->txn, t->ix->dbi[db], 0) == 0 ? 0 : -1;
}

int
idx_put_append(struct idx_txn *t, enum idx_db db, const void *k, size_t klen, const void *v,
               size_t vlen)
{
	MDB_val key = {klen, (void *)k}, val = {vlen, (void *)v};
	int rc = mdb_put(t->txn, t->ix->dbi[db], &key, &val, MDB_APPEND);
	return idx_errno(rc);
}

int
idx_sync(struct idx *ix)
{
	if (ix->read_only)
		return 0;
	int rc = mdb_env_sync(ix->env, 1);
	return rc == 0 ? 0 : -rc;
}

void
idx_close(struct idx **pix)
{
	struct idx *ix = *pix;
	if (ix == NULL)
		return;
	idx_sync(ix);
	mdb_env_close(ix->env);
	free(ix);
	*pix = NULL;
}

static int
idx_errno(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_MAP_FULL:
		return -ENOSPC;
	case MDB_TXN_FULL:
		return -E2BIG;
	case ENOMEM:
		return -ENOMEM;
	default:
		return rc > 0 ? -rc : -EIO;
	}
}

int
idx_txn_begin(struct idx *ix, int write, struct idx_txn **t_r)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(ix->env, NULL, write ? 0 : MDB_RDONLY, &txn);
	if (rc != 0) {
		log_error("store", "event=txn-begin-failed error=\"%s\"", mdb_strerror(rc));
		return idx_errno(rc);
	}
	struct idx_txn *t = xmalloc(sizeof(*t));
	t->ix = ix;
	t->txn = txn;
	*t_r = t;
	return 0;
}

int
idx_txn_begin_nested(struct idx_txn *parent, struct idx_txn **t_r)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(parent->ix->env, parent->txn, 0, &txn);
	if (rc != 0)
		return idx_errno(rc);
	struct idx_txn *t = xmalloc(sizeof(*t));
	t->ix = parent->ix;
	t->txn = txn;
	*t_r = t;
	return 0;
}

int
idx_txn_commit(struct idx_txn **pt)
{
	struct idx_txn *t = *pt;
	int rc = mdb_txn_commit(t->txn);
	free(t);
	*pt = NULL;
	if (rc != 0)
		log_error("store", "event=commit-failed error=\"%s\"", mdb_strerror(rc));
	return idx_errno(rc);
}

void
idx_txn_abort(struct idx_txn **pt)
{
	struct idx_txn *t = *pt;
	if (t == NULL)
		return;
	mdb_txn_abort(t->txn);
	free(t);
	*pt = NULL;
}

int
idx_get(struct idx_txn *t, enum idx_db db, const void *k, size_t klen, struct idx_val *v_r)
{
	MDB_val key = {klen, (void *)k}, val;
	if (t->ix->absent & (1u << db))
		return 0;
	int rc = mdb_get(t->txn, t->ix->dbi[db], &key, &val);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0) {
		log_error("store", "event=get-failed db=%s error=\"%s\"", idx_names[db],
		          mdb_strerror(rc));
		return -1;
	}
	v_r->p = val.mv_data;
	v_r->len = val.mv_size;
	return 1;
}

int
idx_put(struct idx_txn *t, enum idx_db db, const void *k, size_t klen, const void *v, size_t vlen)
{
	MDB_val key = {klen, (void *)k}, val = {vlen, (void *)v};
	int rc = mdb_put(t->txn, t->ix->dbi[db], &key, &val, 0);
	if (rc != 0)
		log_error("store", "event=put-failed db=%s error=\"%s\"", idx_names[db],
		          mdb_strerror(rc));
	return idx_errno(rc);
}

int
idx_del(struct idx_txn *t, enum idx_db db, const void *k, size_t klen)
{
	MDB_val key = {klen, (void *)k};
	int rc = mdb_del(t->txn, t->ix->dbi[db], &key, NULL);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0) {
		log_error("store", "event=del-failed db=%s error=\"%s\"", idx_names[db],
		          mdb_strerror(rc));
		return -1;
	}
	return 1;
}

int
idx_cursor_open(struct idx_txn *t, enum idx_db db, struct idx_cursor **c_r)
{
	MDB_cursor *cur = NULL;
	if (!(t->ix->absent & (1u << db))) {
		int rc = mdb_cursor_open(t->txn, t->ix->dbi[db], &cur);
		if (rc != 0)
			return idx_errno(rc);
	}
	struct idx_cursor *c = xmalloc(sizeof(*c));
	c->cur = cur;
	*c_r = c;
	return 0;
}

void
idx_cursor_close(struct idx_cursor **pc)
{
	if (*pc == NULL)
		return;
	if ((*pc)->cur != NULL)
		mdb_cursor_close((*pc)->cur);
	free(*pc);
	*pc = NULL;
}

static int
idx_cursor_op(struct idx_cursor *c, MDB_val *key, struct idx_val *k_r, struct idx_val *v_r,
              MDB_cursor_op op)
{
	MDB_val val;
	if (c->cur == NULL) /* a database the copy lacks: empty */
		return 0;
	int rc = mdb_cursor_get(c->cur, key, &val, op);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return -1;
	if (k_r) {
		k_r->p = key->mv_data;
		k_r->len = key->mv_size;
	}
	if (v_r) {
		v_r->p = val.mv_data;
		v_r->len = val.mv_size;
	}
	return 1;
}

int
idx_cursor_seek(struct idx_cursor *c, const void *k, size_t klen, struct idx_val *k_r,
                struct idx_val *v_r)
{
	MDB_val key = {klen, (void *)k};
	return idx_cursor_op(c, &key, k_r, v_r, k ? MDB_SET_RANGE : MDB_FIRST);
}

int
idx_cursor_next(struct idx_cursor *c, struct idx_val *k_r, struct idx_val *v_r)
{
	MDB_val key = {0, NULL};
	return idx_cursor_op(c, &key, k_r, v_r, MDB_NEXT);
}

int
idx_cursor_prev(struct idx_cursor *c, struct idx_val *k_r, struct idx_val *v_r)
{
	MDB_val key = {0, NULL};
	return idx_cursor_op(c, &key, k_r, v_r, MDB_PREV);
}

int
idx_cursor_seek_before(struct idx_cursor *c, const void *k, size_t klen, struct idx_val *k_r,
                       struct idx_val *v_r)
{
	MDB_val key = {klen, (void *)k};
	if (k == NULL)
		return idx_cursor_op(c, &key, k_r, v_r, MDB_LAST);
	int rc = idx_cursor_op(c, &key, k_r, v_r, MDB_SET_RANGE);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		MDB_val k2 = {0, NULL};
		return idx_cursor_op(c, &k2, k_r, v_r, MDB_LAST);
	}
	return idx_cursor_prev(c, k_r, v_r);
}

int
idx_cursor_del(struct idx_cursor *c)
{
	return mdb_cursor_del(c->cur, 0) == 0 ? 0 : -1;
}

int64_t
idx_count(struct idx_txn *t, enum idx_db db)
{
	MDB_stat st;
	if (t->ix->absent & (1u << db))
		return 0;
	if (mdb_stat(t->txn, t->ix->dbi[db], &st) != 0)
		return -1;
	return (int64_t)st.ms_entries;
}

int
idx_copy_to_fd(struct idx *ix, int fd, const char **error_r)
{
	int rc = mdb_env_copyfd2(ix->env, fd, MDB_CP_COMPACT);
	if (rc != 0) {
		snprintf(idx_err, sizeof(idx_err), "cannot copy index: %s", mdb_strerror(rc));
		*error_r = idx_err;
		return -1;
	}
	return 0;
}

uint64_t
idx_used_bytes(struct idx *ix)
{
	MDB_envinfo info;
	MDB_stat st;
	if (mdb_env_info(ix->env, &info) != 0 || mdb_env_stat(ix->env, &st) != 0)
		return 0;
	return (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
}
