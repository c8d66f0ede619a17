/*
 * store_fileops: the file operations apply() implies (directories, hard
 * links of bodies into maildirs, unlinks, renames, removal of trees), and
 * the rule that keeps them consistent with the index across crashes.
 *
 * Every operation is idempotent (a link that exists, an unlink of what is
 * gone, a rename already done are success), so running it twice is
 * harmless. apply() runs a batch's operations at once and records them in
 * the node-local table IDX_DB_FILEOPS in the same LMDB transaction as the
 * index change. The commit therefore needs only LMDB's own fsync: the
 * directory entries reach the disk with the file system's next flush,
 * which a thread-pool job forces (store_fileops_sync) soon after; rows up
 * to the last flushed operation are then deleted. After a crash,
 * store_open re-runs every row left (in order), flushes, and deletes them.
 * An operation whose index change did not commit is not recorded: raft
 * replays its entry, and apply runs it again.
 *
 * With commits not flushed (store_nosync) nothing is recorded: a process
 * stop leaves the operations in the page cache with the index, and after
 * a machine stop the index is rebuilt and the maildirs reconciled with it
 * (store_guard.c), which the rows would not survive anyway.
 */
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

void
store__fops_clear(struct store *st)
{
	for (size_t i = 0; i < st->nfops; i++) {
		free(st->fops[i].a);
		free(st->fops[i].b);
	}
	st->nfops = 0;
}

int
store__make_maildir(const char *dir)
{
	static const char *const subs[] = {"cur", "new", "tmp"};
	int rc = mkdir_p(dir, 0700);
	for (size_t i = 0; i < ARRAY_SIZE(subs) && rc == 0; i++) {
		char *d = xasprintf("%s/%s", dir, subs[i]);
		if (mkdir(d, 0700) != 0 && errno != EEXIST)
			rc = -errno;
		free(d);
	}
	return rc;
}

static int
store_link(const char *from, const char *to)
{
	if (link(from, to) == 0 || errno == EEXIST)
		return 0;
	if (errno == ENOENT && access(from, F_OK) == 0) {
		/* The target directory went away (a replay after a later
		 * delete): recreate it, the later operation removes it again. */
		char *dir = xstrdup(to);
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		int rc = mkdir_p(dir, 0700);
		free(dir);
		if (rc == 0 && (link(from, to) == 0 || errno == EEXIST))
			return 0;
	}
	return -errno;
}

static int
store_rmtree_cb(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	int rc = (type == FTW_DP) ? rmdir(path) : unlink(path);
	return (rc != 0 && errno != ENOENT) ? -errno : 0;
}

/* Remove a tree under the data directory (names were validated on the way
 * in). Missing is done. */
int
store__rmtree(const char *path)
{
	int rc = nftw(path, store_rmtree_cb, 16, FTW_DEPTH | FTW_PHYS);
	if (rc == -1 && errno == ENOENT)
		return 0;
	return rc == 0 ? 0 : (rc < 0 && errno ? -errno : rc);
}

static void
store_mark_missing(struct store *st, const uint8_t *hash)
{
	if (st->nmissing_new == st->capmissing_new) {
		st->capmissing_new = st->capmissing_new ? st->capmissing_new * 2 : 8;
		st->missing_new =
		        xrealloc(st->missing_new, st->capmissing_new * sizeof(*st->missing_new));
	}
	memcpy(st->missing_new[st->nmissing_new++], hash, CMD_HASH_LEN);
}

void
store__missing_drop(struct store *st, const uint8_t *hash)
{
	if (st->wtxn && idx_del(st->wtxn, IDX_DB_MISSING, hash, CMD_HASH_LEN) == 1 &&
	    st->missing_count > 0)
		st->missing_count--;
}

static int
store_fop_exec(struct store *st, struct store_fop *f)
{
	int rc = 0;
	switch (f->kind) {
	case FOP_MKDIR:
		rc = store__make_maildir(f->a);
		break;
	case FOP_LINK_BODY: {
		if (access(f->a, F_OK) != 0) {
			/* Stage -> blob store, or the body is missing here. */
			if (store__body_from_staged(st->data_dir, f->hash, f->a) != 0) {
				if (st->wtxn == NULL)
					break; /* recovery: the missing list is already right */
				uint8_t k[CMD_HASH_LEN];
				struct idx_val v;
				memcpy(k, f->hash, CMD_HASH_LEN);
				int ins = idx_get(st->wtxn, IDX_DB_MISSING, k, sizeof(k), &v);
				if (ins == 0) {
					rc = idx_put(st->wtxn, IDX_DB_MISSING, k, sizeof(k), "", 0);
					st->missing_count++;
					store_mark_missing(st, k);
				}
				break;
			}
		}
		if (f->b) /* NULL: only the blob itself */
			rc = store_link(f->a, f->b);
		break;
	}
	case FOP_LINK:
		rc = store_link(f->a, f->b);
		if (rc == -ENOENT)
			rc = 0; /* the source body is missing here; fetched later */
		break;
	case FOP_UNLINK:
		if (unlink(f->a) != 0 && errno != ENOENT)
			rc = -errno;
		break;
	case FOP_UNLINK_BODY:
		if (unlink(f->a) != 0 && errno != ENOENT)
			rc = -errno;
		store__missing_drop(st, f->hash);
		break;
	case FOP_RENAME:
		if (rename(f->a, f->b) != 0) {
			if (errno == ENOENT && access(f->b, F_OK) == 0)
				break; /* done before a crash */
			if (errno != ENOENT)
				rc = -errno;
		}
		break;
	case FOP_RMTREE:
		rc = store__rmtree(f->a);
		break;
	}
	if (rc != 0)
		log_error("store", "event=file-op-failed op=%d path=%s error=\"%s\"", (int)f->kind,
		          f->a, strerror(-rc));
	return rc;
}

/* A path as recorded: relative to the data directory, so that the rows
 * still apply if the directory is moved (restored elsewhere) before they
 * are re-run. */
static const char *
store_fop_relpath(const struct store *st, const char *path)
{
	size_t n = strlen(st->data_dir);
	if (path && strncmp(path, st->data_dir, n) == 0 && path[n] == '/')
		return path + n + 1;
	return path ? path : "";
}

/* A recorded path as a path to run: relative ones under the data
 * directory (rows from before paths were recorded relative are absolute). */
static char *
store_fop_abspath(const struct store *st, const char *p, uint16_t len)
{
	if (len > 0 && p[0] == '/')
		return xstrndup(p, len);
	return xasprintf("%s/%.*s", st->data_dir, (int)len, p);
}

/* Record: kind u8 | a str | b str | hash [32]. */
static int
store_fop_record(struct store *st, const struct store_fop *f)
{
	struct nbuf b;
	struct wire_writer w;
	nbuf_init(&b, 16384);
	wire_writer_init(&w, &b);
	wire_put_u8(&w, (uint8_t)f->kind);
	const char *a = store_fop_relpath(st, f->a);
	const char *bp = store_fop_relpath(st, f->b);
	wire_put_str(&w, a, strlen(a));
	wire_put_str(&w, bp, strlen(bp));
	wire_put_raw(&w, f->hash, CMD_HASH_LEN);
	uint8_t k[8];
	wire_be64(k, ++st->fileops_seq);
	int rc = w.err ? -E2BIG
	               : idx_put(st->wtxn, IDX_DB_FILEOPS, k, 8, nbuf_head(&b), nbuf_avail(&b));
	nbuf_deinit(&b);
	return rc;
}

/* While the index is rebuilt (store_guard.c) the maildir tree is newer
 * than the entries replayed: only what keeps bodies is done (a body moves
 * from staged/ into the blob store, or is marked missing; a body losing
 * its last reference goes back to staged/, where collection finds it if
 * nothing references it again), nothing is recorded, and the tree is
 * reconciled with the index once the rebuild is over. */
static int
store_fop_rebuilding(struct store *st, struct store_fop *f)
{
	if (f->kind == FOP_LINK_BODY) {
		char *b = f->b;
		f->b = NULL;
		int rc = store_fop_exec(st, f);
		f->b = b;
		return rc;
	}
	if (f->kind == FOP_UNLINK_BODY) {
		char *staged = store_staged_path(st->data_dir, f->hash);
		int rc = rename(f->a, staged) == 0 || errno == ENOENT ? 0 : -errno;
		if (rc == 0)
			utimensat(AT_FDCWD, staged, NULL, 0); /* a full grace period */
		free(staged);
		store__missing_drop(st, f->hash);
		return rc;
	}
	return 0;
}

int
store__fops_run(struct store *st)
{
	if (st->rebuilding) {
		for (size_t i = 0; i < st->nfops; i++) {
			int rc = store_fop_rebuilding(st, &st->fops[i]);
			if (rc != 0)
				return rc;
		}
		return 0;
	}
	for (size_t i = 0; i < st->nfops; i++) {
		int rc = store_fop_exec(st, &st->fops[i]);
		if (rc == 0 && !st->nosync)
			rc = store_fop_record(st, &st->fops[i]);
		if (rc != 0)
			return rc;
	}
	return 0;
}

uint64_t
store_fileops_pending(const struct store *st)
{
	return st->fileops_seq > st->fileops_durable ? st->fileops_seq : 0;
}

int
store_fileops_sync(const char *data_dir)
{
	int fd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = syncfs(fd) == 0 ? 0 : -errno;
	close(fd);
	return rc;
}

void
store_fileops_synced(struct store *st, uint64_t upto)
{
	if (upto > st->fileops_durable)
		st->fileops_durable = upto;
}

int
store__fileops_prune(struct store *st)
{
	if (st->fileops_durable <= st->fileops_pruned)
		return 0;
	struct idx_cursor *cur;
	struct idx_val k;
	if (idx_cursor_open(st->wtxn, IDX_DB_FILEOPS, &cur) != 0)
		return -EIO;
	int rc;
	while ((rc = idx_cursor_seek(cur, NULL, 0, &k, NULL)) == 1 && k.len == 8 &&
	       wire_rd64(k.p) <= st->fileops_durable)
		if (idx_cursor_del(cur) != 0) {
			rc = -1;
			break;
		}
	idx_cursor_close(&cur);
	if (rc < 0)
		return -EIO;
	st->fileops_pruned = st->fileops_durable;
	return 0;
}

int
store__fileops_recover(struct store *st, const char **error_r)
{
	struct idx_txn *t;
	if (idx_txn_begin(st->ix, 1, &t) != 0) {
		*error_r = "cannot open the index for writing";
		return -1;
	}
	struct idx_cursor *cur;
	struct idx_val k, v;
	int rc = idx_cursor_open(t, IDX_DB_FILEOPS, &cur) == 0 ? 0 : -EIO;
	size_t n = 0;
	int more = rc == 0 ? idx_cursor_seek(cur, NULL, 0, &k, &v) : -1;
	while (more == 1 && rc == 0) {
		struct wire_reader r;
		struct store_fop f = {0};
		uint16_t alen, blen;
		wire_reader_init(&r, v.p, v.len);
		f.kind = (enum store_fop_kind)wire_get_u8(&r);
		const char *a = wire_get_str(&r, 8192, &alen);
		const char *b = wire_get_str(&r, 8192, &blen);
		const uint8_t *h = wire_get_raw(&r, CMD_HASH_LEN);
		if (wire_done(&r) == 0 && f.kind <= FOP_RMTREE) {
			f.a = store_fop_abspath(st, a, alen);
			f.b = blen ? store_fop_abspath(st, b, blen) : NULL;
			memcpy(f.hash, h, CMD_HASH_LEN);
			rc = store_fop_exec(st, &f);
			free(f.a);
			free(f.b);
			n++;
		}
		more = idx_cursor_next(cur, &k, &v);
	}
	if (more < 0 && rc == 0)
		rc = -EIO;
	if (rc == 0 && n > 0)
		rc = store_fileops_sync(st->data_dir);
	if (rc == 0) {
		while (idx_cursor_seek(cur, NULL, 0, &k, NULL) == 1)
			if (idx_cursor_del(cur) != 0)
				break;
	}
	idx_cursor_close(&cur);
	if (rc == 0)
		rc = idx_txn_commit(&t);
	else
		idx_txn_abort(&t);
	if (rc != 0) {
		*error_r = "cannot re-run recorded file operations";
		return -1;
	}
	if (n > 0)
		log_info("store", "event=file-ops-recovered count=%zu", n);
	return 0;
}
