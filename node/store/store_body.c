/*
 * store_body: message bodies on disk.
 *
 *   blobs/tmp/<random>      a body being received
 *   blobs/staged/<sha256>   durable, waiting for its append to commit
 *   blobs/<hh>/<sha256>     referenced by committed messages (hard-linked
 *                           into each maildir that holds the message)
 *
 * Recovery rule: a body is never counted (quota, index) until its append
 * commits, and an append commits only after its body is durable in
 * staged/. A crash before the commit leaves at most a staged or tmp file,
 * which no index entry references and the garbage collector removes after
 * a grace period; a crash after the commit replays the append (raft),
 * whose links are idempotent.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node/lib/crypto.h"
#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/lib/wire.h"
#include "node/store/store_internal.h"

char *
store_body_path(const char *data_dir, const uint8_t hash[CMD_HASH_LEN])
{
	char hex[SHA256_HEX_LEN + 1];
	hex_encode(hash, CMD_HASH_LEN, hex);
	return xasprintf("%s/blobs/%.2s/%s", data_dir, hex, hex);
}

char *
store_staged_path(const char *data_dir, const uint8_t hash[CMD_HASH_LEN])
{
	char hex[SHA256_HEX_LEN + 1];
	hex_encode(hash, CMD_HASH_LEN, hex);
	return xasprintf("%s/blobs/staged/%s", data_dir, hex);
}

int
store__body_from_staged(const char *data_dir, const uint8_t hash[CMD_HASH_LEN], const char *blob)
{
	char *staged = store_staged_path(data_dir, hash);
	char *dir = xstrdup(blob);
	*strrchr(dir, '/') = '\0';
	(void)mkdir(dir, 0700);
	int rc = link(staged, blob) == 0 || errno == EEXIST ? 0 : -errno;
	free(dir);
	free(staged);
	return rc;
}

int
store_body_tmp(struct store *st, char **path_r)
{
	uint8_t rnd[12];
	char hex[25];
	if (random_bytes(rnd, sizeof(rnd)) != 0)
		return -EIO;
	hex_encode(rnd, sizeof(rnd), hex);
	char *path = xasprintf("%s/tmp/%s", st->blobs_dir, hex);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;
		free(path);
		return -e;
	}
	*path_r = path;
	return fd;
}

int
store_body_stage(const char *data_dir, const char *tmp_path, const uint8_t hash[CMD_HASH_LEN])
{
	int fd = open(tmp_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fdatasync(fd) == 0 ? 0 : -errno;
	close(fd);
	if (rc != 0)
		return rc;
	char *staged = store_staged_path(data_dir, hash);
	if (rename(tmp_path, staged) != 0)
		rc = -errno;
	free(staged);
	if (rc == 0) {
		char *dir = xasprintf("%s/blobs/staged", data_dir);
		rc = fsync_dir(dir);
		free(dir);
	}
	return rc;
}

int
store_body_open(struct store *st, const uint8_t hash[CMD_HASH_LEN])
{
	char *path = store_body_path(st->data_dir, hash);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int e = errno;
	free(path);
	return fd >= 0 ? fd : -e;
}

/* Link a body into every maildir that references it, as recorded file
 * operations (store_fileops.c), in the open write transaction. */
static int
store_body_link_refs(struct store *st, const uint8_t hash[CMD_HASH_LEN], const char *blob)
{
	struct idx_txn *t = st->wtxn;
	struct idx_cursor *cur;
	struct idx_val kv;
	if (idx_cursor_open(t, IDX_DB_BODY_REFS, &cur) != 0)
		return -EIO;
	int rc = idx_cursor_seek(cur, hash, CMD_HASH_LEN, &kv, NULL);
	while (rc == 1 && kv.len == CMD_HASH_LEN + 8 && memcmp(kv.p, hash, CMD_HASH_LEN) == 0) {
		const uint8_t *k = kv.p;
		uint32_t mailbox_id = wire_rd32(k + CMD_HASH_LEN);
		struct store_mailbox mb;
		struct store_msg m;
		if (store__mailbox_load_id(t, mailbox_id, &mb) == 1 &&
		    store__msg_load(t, mailbox_id, wire_rd32(k + CMD_HASH_LEN + 4), &m) == 1) {
			struct store_ctx x = {.st = st, .t = t};
			char *dir = store__maildir(&x, mb.user_id, mb.name, strlen(mb.name));
			if (dir) {
				store__fop(st, FOP_MKDIR, xstrdup(dir), NULL, NULL);
				store__fop(st, FOP_LINK_BODY, xstrdup(blob),
				           store__msg_file(dir, &mb, &m), hash);
				free(dir);
			}
		}
		rc = idx_cursor_next(cur, &kv, NULL);
	}
	idx_cursor_close(&cur);
	if (rc < 0)
		return -EIO;
	rc = store__fops_run(st);
	store__fops_clear(st);
	return rc;
}

int
store_body_arrived(struct store *st, const uint8_t hash[CMD_HASH_LEN])
{
	char *blob = store_body_path(st->data_dir, hash);
	int rc = 0;
	if (st->wtxn == NULL && (rc = idx_txn_begin(st->ix, 1, &st->wtxn)) != 0)
		goto out;
	/* The first link makes blobs/<hh>/<hash> from the staged copy. */
	store__fop(st, FOP_LINK_BODY, xstrdup(blob), NULL, hash);
	rc = store_body_link_refs(st, hash, blob);
	if (rc == 0)
		store__missing_drop(st, hash);
	if (rc == 0)
		rc = store_commit(st);
out:
	free(blob);
	return rc;
}

static void
store_gc_dir(const char *path, time_t cutoff)
{
	DIR *d = opendir(path);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		struct stat sb;
		if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(sb.st_mode) && sb.st_mtime < cutoff)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

void
store_body_gc(struct store *st, uint64_t grace_s)
{
	/* A staged body older than the grace period is either linked into
	 * blobs/ already (its append committed) or abandoned; either way the
	 * staged name is no longer needed. */
	if (st->rebuilding)
		return; /* bodies the replay moved back may be referenced again */
	time_t cutoff = time(NULL) - (time_t)grace_s;
	char *staged = xasprintf("%s/staged", st->blobs_dir);
	char *tmp = xasprintf("%s/tmp", st->blobs_dir);
	store_gc_dir(staged, cutoff);
	store_gc_dir(tmp, cutoff);
	free(staged);
	free(tmp);
}

int
store_body_wanted(struct store *st, const uint8_t hash[CMD_HASH_LEN])
{
	struct idx_txn *t;
	struct idx_val v;
	if (idx_txn_begin(st->ix, 0, &t) != 0)
		return 1;
	int rc = idx_get(t, IDX_DB_MISSING, hash, CMD_HASH_LEN, &v);
	idx_txn_abort(&t);
	return rc != 0;
}

void
store_bodies_missing_report(struct store *st)
{
	struct idx_txn *t;
	struct idx_cursor *cur;
	struct idx_val k;
	if (st->hooks.body_missing == NULL || idx_txn_begin(st->ix, 0, &t) != 0)
		return;
	uint8_t(*hashes)[CMD_HASH_LEN] = NULL;
	size_t n = 0;
	if (idx_cursor_open(t, IDX_DB_MISSING, &cur) == 0) {
		for (int more = idx_cursor_seek(cur, NULL, 0, &k, NULL); more == 1;
		     more = idx_cursor_next(cur, &k, NULL)) {
			if (k.len != CMD_HASH_LEN)
				continue;
			hashes = xrealloc(hashes, (n + 1) * CMD_HASH_LEN);
			memcpy(hashes[n++], k.p, CMD_HASH_LEN);
		}
		idx_cursor_close(&cur);
	}
	idx_txn_abort(&t);
	for (size_t i = 0; i < n; i++)
		st->hooks.body_missing(st->hooks.arg, hashes[i]);
	free(hashes);
}
