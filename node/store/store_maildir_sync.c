/*
 * store_maildir_sync: make the maildir tree match the index after a
 * snapshot install.
 *
 * apply() keeps the tree in step entry by entry; a snapshot replaces the
 * index at once, so a node that installs one may hold files of messages,
 * mailboxes and users the snapshot no longer has, and lack files of
 * messages whose bodies it already held (a body shared with another
 * message, or pushed before). One pass fixes both, so that the tree stays
 * a complete, consistent view of the mail (what backups copy):
 *
 *   - directories of domains, users and mailboxes the index lacks are
 *     removed;
 *   - every mailbox has its maildir; every message whose body is here has
 *     its file (a hard link of the body); a body still missing is linked
 *     when it is fetched (store_body_fetched);
 *   - a file in cur/ named as mailnode names files, whose UIDVALIDITY or
 *     UID is not in the index, is removed. Files named otherwise are not
 *     mailnode's and are left alone.
 *
 * Only the loop thread runs it, after the install and before the store is
 * used again; the changes are file operations only, each idempotent, so a
 * crash midway is repaired by the next install or left as the entries
 * that follow will make it.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/lib/wire.h"
#include "node/store/store_internal.h"

struct reconcile {
	struct store *st;
	struct idx_txn *t;
	size_t removed;
	size_t linked;
};

/* Parse "<date>.M<uidvalidity>U<uid>.mailnode,S=<size>:2,". 1 when the
 * name is mailnode's, 0 otherwise. */
static int
msg_name_parse(const char *name, uint32_t *uv_r, uint32_t *uid_r)
{
	long long date;
	unsigned uv, uid;
	unsigned long long size;
	int end = 0;
	if (sscanf(name, "%lld.M%uU%u.mailnode,S=%llu:2,%n", &date, &uv, &uid, &size, &end) != 4 ||
	    end == 0)
		return 0;
	*uv_r = uv;
	*uid_r = uid;
	return 1;
}

static void
remove_tree(struct reconcile *r, const char *path)
{
	int rc = store__rmtree(path);
	if (rc != 0)
		log_error("store", "event=maildir-sync-failed path=%s error=\"%s\"", path,
		          strerror(-rc));
	else
		r->removed++;
}

/* Files in maildir/cur/ for messages the mailbox does not hold. */
static void
prune_files(struct reconcile *r, const char *maildir, const struct store_mailbox *mb)
{
	char *cur = xasprintf("%s/cur", maildir);
	DIR *d = opendir(cur);
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL) {
		uint32_t uv, uid;
		struct store_msg m;
		if (!msg_name_parse(e->d_name, &uv, &uid))
			continue;
		if (uv == mb->uidvalidity && store__msg_load(r->t, mb->id, uid, &m) == 1)
			continue;
		char *f = xasprintf("%s/%s", cur, e->d_name);
		if (unlink(f) == 0 || errno == ENOENT)
			r->removed++;
		free(f);
	}
	if (d != NULL)
		closedir(d);
	free(cur);
}

/* Every message of mb whose body is here has its file. */
static int
link_files(struct reconcile *r, const char *maildir, const struct store_mailbox *mb)
{
	struct idx_cursor *c;
	struct idx_val k, v;
	uint8_t key[8];
	if (idx_cursor_open(r->t, IDX_DB_MESSAGES, &c) != 0)
		return -EIO;
	schema_key_msg(key, mb->id, 0);
	int more = idx_cursor_seek(c, key, sizeof(key), &k, &v);
	while (more == 1 && k.len == 8 && memcmp(k.p, key, 4) == 0) {
		struct store_msg m;
		if (schema_msg_decode(v.p, v.len, &m) == 0) {
			m.uid = wire_rd32((const uint8_t *)k.p + 4);
			char *file = store__msg_file(maildir, mb, &m);
			if (access(file, F_OK) != 0) {
				char *blob = store_body_path(r->st->data_dir, m.hash);
				if (link(blob, file) == 0)
					r->linked++;
				free(blob);
			}
			free(file);
		}
		more = idx_cursor_next(c, &k, &v);
	}
	idx_cursor_close(&c);
	return more < 0 ? -EIO : 0;
}

static int
sync_mailboxes(struct reconcile *r)
{
	struct idx_cursor *c;
	struct idx_val k, v, a;
	if (idx_cursor_open(r->t, IDX_DB_MAILBOXES, &c) != 0)
		return -EIO;
	int rc = 0, more = idx_cursor_seek(c, NULL, 0, &k, &v);
	while (more == 1 && rc == 0) {
		struct store_mailbox mb;
		if (k.len > 4 && schema_mailbox_decode(v.p, v.len, &mb) == 0 &&
		    idx_get(r->t, IDX_DB_USER_IDS, k.p, 4, &a) == 1 && a.len <= CMD_ADDRESS_MAX) {
			char addr[CMD_ADDRESS_MAX + 1];
			memcpy(addr, a.p, a.len);
			addr[a.len] = '\0';
			char *dir =
			        store__maildir_of(r->st, addr, (const char *)k.p + 4, k.len - 4);
			if (dir != NULL) {
				rc = store__make_maildir(dir);
				if (rc == 0)
					rc = link_files(r, dir, &mb);
				if (rc == 0)
					prune_files(r, dir, &mb);
			}
			free(dir);
		}
		more = idx_cursor_next(c, &k, &v);
	}
	idx_cursor_close(&c);
	return rc != 0 ? rc : (more < 0 ? -EIO : 0);
}

/* Mailbox directories (".Name") of a user that the index lacks. */
static void
prune_user(struct reconcile *r, const char *path, uint32_t user_id)
{
	DIR *d = opendir(path);
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL) {
		const char *name = e->d_name + 1;
		size_t n = strlen(name);
		struct store_mailbox mb;
		if (e->d_name[0] != '.' || n == 0 || strcmp(name, ".") == 0)
			continue;
		if (store__mailbox_name_valid(name, n) &&
		    store__mailbox_load(r->t, user_id, name, n, &mb) == 1)
			continue;
		char *sub = xasprintf("%s/%s", path, e->d_name);
		remove_tree(r, sub);
		free(sub);
	}
	if (d != NULL)
		closedir(d);
}

/* Domain and user directories under mail/ that the index lacks. */
static void
prune_accounts(struct reconcile *r)
{
	DIR *dd = opendir(r->st->mail_dir);
	struct dirent *de;
	while (dd != NULL && (de = readdir(dd)) != NULL) {
		struct idx_val v;
		if (de->d_name[0] == '.')
			continue;
		char *dpath = xasprintf("%s/%s", r->st->mail_dir, de->d_name);
		if (idx_get(r->t, IDX_DB_DOMAINS, de->d_name, strlen(de->d_name), &v) != 1) {
			remove_tree(r, dpath);
			free(dpath);
			continue;
		}
		DIR *ud = opendir(dpath);
		struct dirent *ue;
		while (ud != NULL && (ue = readdir(ud)) != NULL) {
			if (ue->d_name[0] == '.')
				continue;
			char *addr = xasprintf("%s@%s", ue->d_name, de->d_name);
			char *upath = xasprintf("%s/%s", dpath, ue->d_name);
			struct store_user u;
			if (idx_get(r->t, IDX_DB_USERS, addr, strlen(addr), &v) == 1 &&
			    schema_user_decode(v.p, v.len, &u) == 0)
				prune_user(r, upath, u.id);
			else
				remove_tree(r, upath);
			free(upath);
			free(addr);
		}
		if (ud != NULL)
			closedir(ud);
		free(dpath);
	}
	if (dd != NULL)
		closedir(dd);
}

int
store__maildirs_reconcile(struct store *st)
{
	struct reconcile r = {.st = st};
	if (idx_txn_begin(st->ix, 0, &r.t) != 0)
		return -EIO;
	prune_accounts(&r);
	int rc = sync_mailboxes(&r);
	idx_txn_abort(&r.t);
	if (rc == 0)
		rc = store_fileops_sync(st->data_dir);
	/* Operations recorded before the install are on disk and superseded:
	 * a recovery must not run them again over the reconciled tree. */
	if (rc == 0) {
		store_fileops_synced(st, st->fileops_seq);
		rc = idx_txn_begin(st->ix, 1, &st->wtxn);
		if (rc == 0 && (rc = store__fileops_prune(st)) == 0)
			rc = idx_txn_commit(&st->wtxn);
		idx_txn_abort(&st->wtxn);
	}
	log_info("store", "event=maildirs-reconciled linked=%zu removed=%zu", r.linked, r.removed);
	return rc;
}
