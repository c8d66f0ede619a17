/*
 * store_snapshot: the index as a raft snapshot.
 *
 * Taking one: commit what is pending, then a compact, transaction-
 * consistent copy of the LMDB environment (mdb_env_copyfd2) into a file
 * descriptor. Installing one: every replicated database is replaced by the
 * copy's contents in one write transaction (readers elsewhere keep their
 * view), and the node-local list of missing bodies is rebuilt by checking
 * every body the new index references against blobs/ (one already
 * staged here, pushed or brought back from the body journal, is linked
 * into place), reporting each missing one through hooks->body_missing so
 * that it is fetched from a peer; then the maildir tree is brought in line
 * with the new index (store_maildir_sync.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/store/store_internal.h"

int
store_snapshot_write(struct store *st, int fd, const char **error_r)
{
	int rc = store_commit(st);
	if (rc != 0) {
		*error_r = "cannot commit before the snapshot";
		return -1;
	}
	return idx_copy_to_fd(st->ix, fd, error_r);
}

static int
store_rescan_bodies(struct store *st)
{
	int rc = idx_txn_begin(st->ix, 1, &st->wtxn);
	if (rc != 0)
		return rc;
	struct idx_cursor *cur;
	struct idx_val k;
	/* Forget the old node's list; build ours. */
	if (idx_cursor_open(st->wtxn, IDX_DB_MISSING, &cur) != 0)
		return -EIO;
	while (idx_cursor_seek(cur, NULL, 0, &k, NULL) == 1)
		if (idx_cursor_del(cur) != 0)
			break;
	idx_cursor_close(&cur);
	st->missing_count = 0;
	if (idx_cursor_open(st->wtxn, IDX_DB_BODIES, &cur) != 0)
		return -EIO;
	int more = idx_cursor_seek(cur, NULL, 0, &k, NULL);
	size_t n = 0;
	uint8_t(*hashes)[CMD_HASH_LEN] = NULL;
	while (more == 1) {
		if (k.len == CMD_HASH_LEN) {
			char *path = store_body_path(st->data_dir, k.p);
			if (access(path, F_OK) != 0 &&
			    store__body_from_staged(st->data_dir, k.p, path) != 0) {
				hashes = xrealloc(hashes, (n + 1) * CMD_HASH_LEN);
				memcpy(hashes[n++], k.p, CMD_HASH_LEN);
			}
			free(path);
		}
		more = idx_cursor_next(cur, &k, NULL);
	}
	idx_cursor_close(&cur);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = idx_put(st->wtxn, IDX_DB_MISSING, hashes[i], CMD_HASH_LEN, "", 0);
	if (rc == 0)
		rc = idx_txn_commit(&st->wtxn);
	else
		idx_txn_abort(&st->wtxn);
	if (rc == 0) {
		st->missing_count = n;
		for (size_t i = 0; i < n; i++)
			if (st->hooks.body_missing)
				st->hooks.body_missing(st->hooks.arg, hashes[i]);
		log_info("store", "event=bodies-checked missing=%zu", n);
	}
	free(hashes);
	return rc;
}

/* Replace the replicated databases with the copy's, in one write
 * transaction: readers in other threads keep their consistent view
 * (MVCC), and a crash leaves either the old or the new index. */
static int
store_replace_from(struct store *st, struct idx *src)
{
	struct idx_txn *st_t, *dt;
	int rc = idx_txn_begin(src, 0, &st_t);
	if (rc != 0)
		return rc;
	if ((rc = idx_txn_begin(st->ix, 1, &dt)) != 0) {
		idx_txn_abort(&st_t);
		return rc;
	}
	for (int db = 0; db < IDX_DB_REPLICATED && rc == 0; db++) {
		struct idx_cursor *cur;
		struct idx_val k, v;
		if (idx_drop(dt, (enum idx_db)db) != 0 ||
		    idx_cursor_open(st_t, (enum idx_db)db, &cur) != 0) {
			rc = -EIO;
			break;
		}
		int more = idx_cursor_seek(cur, NULL, 0, &k, &v);
		while (more == 1 && rc == 0) {
			rc = idx_put_append(dt, (enum idx_db)db, k.p, k.len, v.p, v.len);
			more = idx_cursor_next(cur, &k, &v);
		}
		if (more < 0)
			rc = -EIO;
		idx_cursor_close(&cur);
	}
	idx_txn_abort(&st_t);
	if (rc == 0)
		rc = idx_txn_commit(&dt);
	else
		idx_txn_abort(&dt);
	return rc;
}

int
store_snapshot_applied_index(const char *copy_path, uint64_t *index_r, const char **error_r)
{
	struct idx *src;
	struct idx_txn *t;
	if (idx_open_copy(copy_path, &src, error_r) != 0)
		return -1;
	int rc = idx_txn_begin(src, 0, &t);
	if (rc == 0) {
		store__meta_u64(t, "applied_index", index_r);
		idx_txn_abort(&t);
	}
	idx_close(&src);
	if (rc != 0)
		*error_r = "cannot read the snapshot";
	return rc == 0 ? 0 : -1;
}

int
store_snapshot_restore(struct store *st, const char *copy_path, const char **error_r)
{
	static char err[512];
	/* Anything applied but not committed is superseded by the snapshot. */
	idx_txn_abort(&st->wtxn);
	for (size_t i = 0; i < st->npend; i++)
		cmd_results_free(&st->pend[i].rs);
	st->npend = 0;
	st->nchanges = 0;
	st->nmissing_new = 0;
	st->pending_entries = 0;
	struct idx *src;
	if (idx_open_copy(copy_path, &src, error_r) != 0)
		return -1;
	int rc = store_replace_from(st, src);
	idx_close(&src);
	if (rc != 0) {
		snprintf(err, sizeof(err), "cannot install the snapshot: %s", strerror(-rc));
		*error_r = err;
		return -1;
	}
	struct idx_txn *t;
	if (idx_txn_begin(st->ix, 0, &t) != 0) {
		*error_r = "cannot read the installed snapshot";
		return -1;
	}
	store__meta_u64(t, "applied_index", &st->applied_index);
	idx_txn_abort(&t);
	st->committed_index = st->applied_index;
	if (store_rescan_bodies(st) != 0) {
		*error_r = "cannot check bodies after the snapshot";
		return -1;
	}
	if (store__maildirs_reconcile(st) != 0) {
		*error_r = "cannot bring the maildirs in line with the snapshot";
		return -1;
	}
	/* Every mailbox may have changed: tell every watcher. */
	st->notifying++;
	for (struct store_watch *w = st->watches; w; w = w->next) {
		struct store_change ch = {
		        w->user_id, w->mailbox_id,
		        STORE_CH_MAILBOX | STORE_CH_EXISTS | STORE_CH_FLAGS | STORE_CH_EXPUNGE, 0};
		if (!w->dead)
			w->cb(w->arg, &ch);
	}
	st->notifying--;
	return 0;
}
