/*
 * store_snapshot: the index as a raft snapshot.
 *
 * Taking one: commit what is pending, then a compact, transaction-
 * consistent copy of the LMDB environment (mdb_env_copyfd2) into a file
 * descriptor. Installing one: the node has ended every read transaction;
 * the environment is closed, the copy renamed over data.mdb, reopened, and
 * the node-local list of missing bodies rebuilt by checking every body the
 * new index references against blobs/, reporting each missing one through
 * hooks->body_missing so that it is fetched from a peer.
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
			if (access(path, F_OK) != 0) {
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
	idx_close(&st->ix);
	char *ixdir = xasprintf("%s/index", st->data_dir);
	char *dst = xasprintf("%s/data.mdb", ixdir);
	char *lock = xasprintf("%s/lock.mdb", ixdir);
	int rc = rename(copy_path, dst) == 0 ? 0 : -errno;
	unlink(lock);
	if (rc == 0)
		rc = fsync_dir(ixdir);
	free(dst);
	free(lock);
	if (rc != 0) {
		snprintf(err, sizeof(err), "cannot install the snapshot: %s", strerror(-rc));
		*error_r = err;
		/* Reopen what is there, so the node can at least stop cleanly. */
		idx_open(ixdir, 0, &st->ix, error_r);
		free(ixdir);
		return -1;
	}
	rc = idx_open(ixdir, 0, &st->ix, error_r);
	free(ixdir);
	if (rc != 0)
		return -1;
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
	/* Every mailbox may have changed: tell every watcher. */
	for (struct store_watch *w = st->watches; w; w = w->next) {
		struct store_change ch = {w->user_id, w->mailbox_id,
					  STORE_CH_MAILBOX | STORE_CH_EXISTS | STORE_CH_FLAGS |
						  STORE_CH_EXPUNGE,
					  0};
		if (!w->dead)
			w->cb(w->arg, &ch);
	}
	return 0;
}
