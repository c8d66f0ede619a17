/*
 * store: open/close, the apply driver and the group commit. See store.h.
 *
 * Apply of one frame: for each batch, a retry (request id already seen)
 * returns the recorded results; otherwise every command is applied in the
 * open write transaction (an atomic batch in a nested one) while the file
 * operations it implies are collected; when the batch's index work
 * succeeded its file operations run (each idempotent, so a replay after a
 * crash between them and the commit is harmless) and are recorded in the
 * same transaction until they are known to be on disk
 * (store_fileops.c), its results are recorded under its request id, and
 * they wait for the commit. The entry's index is written last.
 * store_commit() commits (visible; on disk with the next flush, see
 * store_guard.c) and then hands results and changes out.
 */
#include "node/store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/lib/crypto.h"
#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/lib/wire.h"
#include "node/store/store_internal.h"

const char *
store_data_dir(const struct store *st)
{
	return st->data_dir;
}

int
store_open(const char *data_dir, const struct store_hooks *hooks, struct store **st_r,
           const char **error_r)
{
	static char err[512];
	struct store *st = xcalloc(1, sizeof(*st));
	st->data_dir = xstrdup(data_dir);
	st->mail_dir = xasprintf("%s/mail", data_dir);
	st->blobs_dir = xasprintf("%s/blobs", data_dir);
	if (hooks)
		st->hooks = *hooks;
	const char *dirs[] = {"mail", "blobs", "blobs/staged", "blobs/tmp"};
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		char *d = xasprintf("%s/%s", data_dir, dirs[i]);
		int rc = mkdir_p(d, 0700);
		if (rc != 0) {
			snprintf(err, sizeof(err), "cannot create %s: %s", d, strerror(-rc));
			free(d);
			*error_r = err;
			goto err_after_alloc;
		}
		free(d);
	}
	st->data_fd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->data_fd < 0) {
		snprintf(err, sizeof(err), "cannot open %s: %s", data_dir, strerror(errno));
		*error_r = err;
		goto err_after_alloc;
	}
	int nosync, rebuild;
	if (store__guard_check(data_dir, &nosync, &rebuild, error_r) != 0)
		goto err_after_fd;
	char *ixdir = xasprintf("%s/index", data_dir);
	int rc = idx_open(ixdir, 0, nosync ? IDX_OPEN_NOSYNC : 0, &st->ix, error_r);
	free(ixdir);
	if (rc != 0)
		goto err_after_fd;
	if (store__guard_arm(data_dir, rebuild) != 0) {
		*error_r = "cannot mark the index open";
		goto err_after_idx;
	}
	st->rebuilding = rebuild;
	st->nosync = nosync;
	struct idx_txn *t;
	if (idx_txn_begin(st->ix, 0, &t) != 0) {
		*error_r = "cannot read the index";
		goto err_after_idx;
	}
	store__meta_u64(t, "applied_index", &st->applied_index);
	int64_t missing = idx_count(t, IDX_DB_MISSING);
	st->missing_count = missing > 0 ? (size_t)missing : 0;
	idx_txn_abort(&t);
	st->committed_index = st->applied_index;
	if (store__fileops_recover(st, error_r) != 0)
		goto err_after_idx;
	*st_r = st;
	return 0;
err_after_idx:
	idx_close(&st->ix);
err_after_fd:
	close(st->data_fd);
err_after_alloc:
	free(st->data_dir);
	free(st->mail_dir);
	free(st->blobs_dir);
	free(st);
	return -1;
}

void
store_set_hooks(struct store *st, const struct store_hooks *hooks)
{
	if (hooks)
		st->hooks = *hooks;
	else
		memset(&st->hooks, 0, sizeof(st->hooks));
}

void
store_close(struct store **pst)
{
	struct store *st = *pst;
	if (st == NULL)
		return;
	store_commit(st);
	idx_txn_abort(&st->wtxn);
	/* A clean stop leaves no file operation to re-run at the next start;
	 * without flushed commits, nothing that only the page cache holds. */
	uint64_t pending = store_fileops_pending(st);
	int flushed = (!st->nosync && !pending) || store_fileops_sync(st->data_dir) == 0;
	if (!flushed) /* the mark stays: a machine stop before a flush rebuilds */
		log_error("store", "event=close-flush-failed");
	if (pending && flushed) {
		store_fileops_synced(st, st->fileops_seq);
		if (idx_txn_begin(st->ix, 1, &st->wtxn) == 0 && store__fileops_prune(st) == 0)
			idx_txn_commit(&st->wtxn);
		idx_txn_abort(&st->wtxn);
	}
	while (st->watches) {
		struct store_watch *w = st->watches;
		st->watches = w->next;
		free(w);
	}
	for (size_t i = 0; i < st->npend; i++)
		cmd_results_free(&st->pend[i].rs);
	free(st->pend);
	free(st->changes);
	free(st->missing_new);
	store__fops_clear(st);
	free(st->fops);
	if (flushed)
		store__guard_disarm(st->data_dir, st->ix);
	idx_close(&st->ix);
	close(st->data_fd);
	free(st->data_dir);
	free(st->mail_dir);
	free(st->blobs_dir);
	free(st);
	*pst = NULL;
}

uint64_t
store_applied_index(const struct store *st)
{
	return st->applied_index;
}

size_t
store_pending(const struct store *st)
{
	return st->pending_entries;
}

size_t
store_bodies_missing(const struct store *st)
{
	return st->missing_count;
}

/* --- request ids ---------------------------------------------------- */

static int
store_reqid_lookup(struct store_ctx *x, struct cmd_results **rs_r)
{
	struct idx_val v;
	int rc = idx_get(x->t, IDX_DB_REQIDS, x->hdr->reqid, CMD_REQID_LEN, &v);
	if (rc <= 0)
		return rc;
	if (cmd_results_decode(v.p, v.len, rs_r) != 0)
		return -1;
	return 1;
}

static int
store_reqid_record(struct store_ctx *x, const struct cmd_results *rs)
{
	struct nbuf b;
	nbuf_init(&b, CMD_FRAME_MAX);
	int rc = cmd_results_encode(rs, &b) == 0 ? 0 : -E2BIG;
	if (rc == 0)
		rc = idx_put(x->t, IDX_DB_REQIDS, x->hdr->reqid, CMD_REQID_LEN, nbuf_head(&b),
		             nbuf_avail(&b));
	nbuf_deinit(&b);
	if (rc != 0)
		return rc;
	uint8_t k[8 + CMD_REQID_LEN];
	wire_be64(k, x->index);
	memcpy(k + 8, x->hdr->reqid, CMD_REQID_LEN);
	return idx_put(x->t, IDX_DB_REQ_AGE, k, sizeof(k), "", 0);
}

/* Forget a few request ids older than the window: bounded work per entry,
 * identical on every replica. */
static int
store_reqid_prune(struct store_ctx *x)
{
	if (x->index <= STORE_REQ_WINDOW)
		return 0;
	uint64_t horizon = x->index - STORE_REQ_WINDOW;
	struct idx_cursor *c;
	if (idx_cursor_open(x->t, IDX_DB_REQ_AGE, &c) != 0)
		return -EIO;
	struct idx_val k;
	int rc = idx_cursor_seek(c, NULL, 0, &k, NULL);
	for (int i = 0; i < 8 && rc == 1; i++) {
		if (k.len != 8 + CMD_REQID_LEN || wire_rd64(k.p) >= horizon)
			break;
		uint8_t id[CMD_REQID_LEN];
		memcpy(id, (const uint8_t *)k.p + 8, CMD_REQID_LEN);
		if (idx_cursor_del(c) != 0 || idx_del(x->t, IDX_DB_REQIDS, id, sizeof(id)) < 0) {
			rc = -1;
			break;
		}
		rc = idx_cursor_seek(c, NULL, 0, &k, NULL);
	}
	idx_cursor_close(&c);
	return rc < 0 ? -EIO : 0;
}

/* --- apply ---------------------------------------------------------- */

static int
store_apply_cmd(struct store_ctx *x, const struct cmd *c, struct cmd_result *r)
{
	switch (c->type) {
	case CMD_CLUSTER_INIT:
	case CMD_DOMAIN_ADD:
	case CMD_DOMAIN_DEL:
	case CMD_USER_ADD:
	case CMD_USER_DEL:
	case CMD_USER_SET_PASSWORD:
	case CMD_USER_SET_ENABLED:
	case CMD_USER_SET_QUOTA:
	case CMD_ALIAS_ADD:
	case CMD_ALIAS_DEL:
	case CMD_CONFIG_SET:
	case CMD_CONFIG_DEL:
	case CMD_SIEVE_PUT:
	case CMD_SIEVE_DEL:
	case CMD_SIEVE_ACTIVATE:
	case CMD_URLAUTH_KEY:
		return store__apply_account(x, c, r);
	case CMD_MAILBOX_CREATE:
	case CMD_MAILBOX_DELETE:
	case CMD_MAILBOX_RENAME:
	case CMD_MAILBOX_SUBSCRIBE:
	case CMD_MAILBOX_UNSUBSCRIBE:
	case CMD_MAILBOX_SET_SPECIAL:
	case CMD_MAILBOX_CLAIM_RECENT:
		return store__apply_mailbox(x, c, r);
	case CMD_MSG_APPEND:
	case CMD_MSG_STORE:
	case CMD_MSG_EXPUNGE:
	case CMD_MSG_COPY:
	case CMD_MSG_MOVE:
		return store__apply_message(x, c, r);
	case CMD_TYPE_MAX:
		break;
	}
	r->status = CMD_EINVALID;
	return 0;
}

static void
store_pend(struct store *st, const struct cmd_batch_hdr *hdr, struct cmd_results *rs)
{
	if (st->npend == st->cappend) {
		st->cappend = st->cappend ? st->cappend * 2 : 16;
		st->pend = xrealloc(st->pend, st->cappend * sizeof(*st->pend));
	}
	st->pend[st->npend].hdr = *hdr;
	st->pend[st->npend].rs = rs;
	st->npend++;
}

/* Apply one batch. Returns 0, or a negative errno (fatal). */
static int
store_apply_batch(struct store *st, uint64_t index, const uint8_t *b, size_t len)
{
	struct cmd_batch_iter it;
	if (cmd_batch_iter_init(&it, b, len) != 0) {
		log_error("store", "event=bad-batch index=%llu", (unsigned long long)index);
		return 0;
	}
	struct store_ctx x = {.st = st, .t = st->wtxn, .hdr = &it.hdr, .index = index};
	nbuf_init(&x.scratch, CMD_FRAME_MAX);
	struct cmd_results *rs = NULL;
	int rc = store_reqid_lookup(&x, &rs);
	if (rc < 0) {
		rc = -EIO;
		goto out;
	}
	if (rc == 1) { /* a retry: the first outcome stands */
		log_debug("store", "event=duplicate-request index=%llu", (unsigned long long)index);
		store_pend(st, &it.hdr, rs);
		rs = NULL;
		rc = 0;
		goto out;
	}
	int atomic = (it.hdr.flags & CMD_BATCH_ATOMIC) != 0;
	if (atomic && (rc = idx_txn_begin_nested(st->wtxn, &x.t)) != 0)
		goto out;
	size_t changes_mark = st->nchanges, missing_mark = st->nmissing_new;
	rs = cmd_results_new(it.hdr.ncmds);
	rs->index = index;
	struct cmd c;
	const char *err = NULL;
	uint32_t i = 0;
	int failed = 0;
	while ((rc = cmd_batch_next(&it, &c, &err)) == 1) {
		rc = store_apply_cmd(&x, &c, &rs->r[i]);
		if (rc != 0)
			break;
		if (rs->r[i].status != CMD_OK) {
			log_debug("store", "event=command-refused index=%llu cmd=%s status=\"%s\"",
			          (unsigned long long)index, cmd_type_name(c.type),
			          cmd_status_name(rs->r[i].status));
			if (atomic) {
				failed = 1;
				break;
			}
		}
		i++;
	}
	if (rc < 0 && err != NULL) {
		/* Malformed: every replica sees the same bytes and refuses the
		 * same way. Nothing of the batch takes effect. */
		log_error("store", "event=bad-command index=%llu error=\"%s\"",
		          (unsigned long long)index, err);
		failed = 1;
		rc = 0;
	}
	if (rc < 0) /* local failure: stop */
		goto out;
	if (failed && !atomic && err != NULL) {
		/* A malformed command in a non-atomic batch: earlier commands
		 * stay applied; the rest are reported as invalid. */
		for (uint32_t k = i; k < rs->n; k++)
			rs->r[k].status = CMD_EINVALID;
		failed = 0;
	}
	if (failed) {
		if (atomic)
			idx_txn_abort(&x.t);
		x.t = st->wtxn;
		st->nchanges = changes_mark;
		st->nmissing_new = missing_mark;
		store__fops_clear(st);
		for (uint32_t k = 0; k < rs->n; k++) {
			enum cmd_status s = rs->r[k].status;
			/* A command before the failed one may have listed UIDs. */
			free(rs->r[k].set1);
			free(rs->r[k].set2);
			memset(&rs->r[k], 0, sizeof(rs->r[k]));
			rs->r[k].status = (k == i && s != CMD_OK) ? s : CMD_EABORTED;
			if (err != NULL && k == i)
				rs->r[k].status = CMD_EINVALID;
		}
	} else if (atomic) {
		rc = idx_txn_commit(&x.t);
		x.t = st->wtxn;
		if (rc != 0)
			goto out;
	}
	if ((rc = store__fops_run(st)) != 0)
		goto out;
	if ((rc = store_reqid_record(&x, rs)) != 0)
		goto out;
	store_pend(st, &it.hdr, rs);
	rs = NULL;
out:
	if (x.t != st->wtxn)
		idx_txn_abort(&x.t);
	cmd_results_free(&rs);
	nbuf_deinit(&x.scratch);
	store__fops_clear(st);
	return rc;
}

static int
store_begin_write(struct store *st)
{
	if (st->wtxn)
		return 0;
	return idx_txn_begin(st->ix, 1, &st->wtxn);
}

int
store_apply_noop(struct store *st, uint64_t index)
{
	if (index <= st->applied_index)
		return 0;
	int rc = store_begin_write(st);
	if (rc == 0)
		rc = store__meta_put_u64(st->wtxn, "applied_index", index);
	if (rc == 0) {
		st->applied_index = index;
		st->pending_entries++;
	}
	return rc;
}

int
store_apply(struct store *st, uint64_t index, const void *frame, size_t len)
{
	if (index <= st->applied_index)
		return 0;
	int rc = store_begin_write(st);
	if (rc != 0)
		return rc;
	struct cmd_frame_iter fi;
	if (cmd_frame_iter_init(&fi, frame, len) != 0) {
		log_error("store", "event=bad-frame index=%llu len=%zu", (unsigned long long)index,
		          len);
	} else {
		const uint8_t *b;
		size_t blen;
		int more;
		while ((more = cmd_frame_next(&fi, &b, &blen)) == 1) {
			if ((rc = store_apply_batch(st, index, b, blen)) != 0)
				return rc;
		}
		if (more < 0)
			log_error("store", "event=bad-frame index=%llu", (unsigned long long)index);
	}
	struct store_ctx x = {.st = st, .t = st->wtxn, .index = index};
	if ((rc = store_reqid_prune(&x)) != 0)
		return rc;
	if ((rc = store__meta_put_u64(st->wtxn, "applied_index", index)) != 0)
		return rc;
	st->applied_index = index;
	st->pending_entries++;
	return 0;
}

/* --- commit and notification --------------------------------------- */

static void
store_notify(struct store *st, const struct store_change *chs, size_t n)
{
	st->notifying++;
	for (size_t i = 0; i < n; i++) {
		for (struct store_watch *w = st->watches; w != NULL; w = w->next) {
			if (w->dead || w->user_id != chs[i].user_id)
				continue;
			if (w->mailbox_id != 0 && w->mailbox_id != chs[i].mailbox_id)
				continue;
			w->cb(w->arg, &chs[i]);
		}
	}
	st->notifying--;
	if (st->notifying == 0) {
		struct store_watch **pp = &st->watches;
		while (*pp) {
			struct store_watch *w = *pp;
			if (w->dead) {
				*pp = w->next;
				free(w);
			} else {
				pp = &w->next;
			}
		}
	}
}

int
store_commit(struct store *st)
{
	if (st->wtxn == NULL)
		return 0;
	int rc = store__fileops_prune(st);
	if (rc == 0)
		rc = idx_txn_commit(&st->wtxn);
	else
		idx_txn_abort(&st->wtxn);
	if (rc != 0)
		return rc;
	st->committed_index = st->applied_index;
	st->pending_entries = 0;

	/* Hand out results and changes; callbacks may submit more work, so
	 * work on a detached copy. */
	struct store_pending *pend = st->pend;
	size_t npend = st->npend;
	st->pend = NULL;
	st->npend = st->cappend = 0;
	struct store_change *chs = st->changes;
	size_t nch = st->nchanges;
	st->changes = NULL;
	st->nchanges = st->capchanges = 0;
	uint8_t(*missing)[CMD_HASH_LEN] = st->missing_new;
	size_t nmissing = st->nmissing_new;
	st->missing_new = NULL;
	st->nmissing_new = st->capmissing_new = 0;

	for (size_t i = 0; i < nmissing; i++)
		if (st->hooks.body_missing)
			st->hooks.body_missing(st->hooks.arg, missing[i]);
	store_notify(st, chs, nch);
	for (size_t i = 0; i < npend; i++) {
		if (st->hooks.applied)
			st->hooks.applied(st->hooks.arg, &pend[i].hdr, pend[i].rs);
		else
			cmd_results_free(&pend[i].rs);
	}
	free(pend);
	free(chs);
	free(missing);
	return 0;
}

struct store_watch *
store_watch_add(struct store *st, uint32_t user_id, uint32_t mailbox_id, store_watch_cb cb,
                void *arg)
{
	struct store_watch *w = xcalloc(1, sizeof(*w));
	w->user_id = user_id;
	w->mailbox_id = mailbox_id;
	w->cb = cb;
	w->arg = arg;
	w->next = st->watches;
	st->watches = w;
	return w;
}

void
store_watch_del(struct store *st, struct store_watch **pw)
{
	struct store_watch *w = *pw;
	if (w == NULL)
		return;
	*pw = NULL;
	if (st->notifying) {
		w->dead = 1;
		return;
	}
	for (struct store_watch **pp = &st->watches; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			free(w);
			return;
		}
	}
}
